/** The dataset catalogue: cards with thumbnail and key facts, free-text search and tag filters. */
import { useEffect, useMemo, useState } from "react";
import { api, type DatasetSummary } from "../api.ts";
import { bytes, vec } from "../format.ts";

export function CataloguePage() {
  const [datasets, setDatasets] = useState<DatasetSummary[] | null>(null);
  const [error, setError] = useState("");
  const [query, setQuery] = useState("");
  const [tag, setTag] = useState("");
  useEffect(() => {
    const c = new AbortController();
    api.datasets(c.signal).then(setDatasets, (e: Error) => c.signal.aborted || setError(e.message));
    return () => c.abort();
  }, []);
  const tags = useMemo(() => [...new Set((datasets ?? []).flatMap((d) => d.tags))].sort(), [datasets]);
  const shown = (datasets ?? []).filter((d) => {
    const q = query.trim().toLowerCase();
    const text = `${d.name} ${d.title} ${d.id} ${d.cellType ?? ""} ${d.tags.join(" ")}`.toLowerCase();
    return (!q || text.includes(q)) && (!tag || d.tags.includes(tag));
  });
  if (error) return <p className="error">{error}</p>;
  if (!datasets) return <p>Loading…</p>;
  return (
    <div>
      <div className="toolbar">
        <input
          type="search"
          placeholder="search datasets"
          value={query}
          data-testid="search"
          onChange={(e) => setQuery(e.target.value)}
        />
        <select value={tag} onChange={(e) => setTag(e.target.value)} data-testid="tag-filter">
          <option value="">all tags</option>
          {tags.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        <span className="muted">
          {shown.length} of {datasets.length} datasets
        </span>
      </div>
      <div className="cards">
        {shown.map((d) => (
          <a className="card" key={d.id} href={`#/d/${encodeURIComponent(d.id)}`} data-testid="dataset-card">
            <img src={d.thumbnail} alt={`middle slice of ${d.name}`} loading="lazy" />
            <div className="card-body">
              <h3>{d.title || d.name}</h3>
              <div className="muted">{d.id}</div>
              <div>
                {vec(d.shape)} voxels · {vec(d.voxelSize, "nm")}
              </div>
              <div>
                {bytes(d.sizeBytes)} · {d.arrayCount} arrays
              </div>
              <div className="tags">
                {d.cellType && <span className="tag cell">{d.cellType}</span>}
                {d.tags.map((t) => (
                  <span className="tag" key={t}>
                    {t}
                  </span>
                ))}
              </div>
            </div>
          </a>
        ))}
      </div>
    </div>
  );
}
