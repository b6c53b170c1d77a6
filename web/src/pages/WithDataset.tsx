import { type ReactNode, useEffect, useState } from "react";
import { api, type DatasetDetail } from "../api.ts";

/** Fetches dataset `id` and renders `children` with it: an error line or "Loading…" until it is there. */
export function WithDataset({
  id,
  children,
}: {
  id: string;
  children: (dataset: DatasetDetail) => ReactNode;
}) {
  const [dataset, setDataset] = useState<DatasetDetail | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const c = new AbortController();
    api.dataset(id, c.signal).then(setDataset, (e: Error) => c.signal.aborted || setError(e.message));
    return () => c.abort();
  }, [id]);
  if (error) return <p className="error">{error}</p>;
  if (!dataset) return <p>Loading…</p>;
  return <>{children(dataset)}</>;
}
