/**
 * One dataset: metadata, arrays by group with data URLs, download instructions, Neuroglancer link,
 * result tables and saved views.
 */
import { useEffect, useState } from "react";
import { type ArrayInfo, api, type DatasetDetail } from "../api.ts";
import { bytes, vec } from "../format.ts";

const GROUPS: [string, string[]][] = [
  ["EM", ["em"]],
  ["Predictions", ["predictions"]],
  ["Segmentations", ["segmentations"]],
  ["Labels and masks", ["labels", "masks"]],
  ["Analysis", ["analysis"]],
];

function absolute(url: string): string {
  return new URL(url, location.href).href;
}

function CopyButton({ text, label = "copy data URL" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setDone(true));
      }}
    >
      {done ? "copied" : label}
    </button>
  );
}

export function DatasetPage({ id }: { id: string }) {
  const [d, setD] = useState<DatasetDetail | null>(null);
  const [error, setError] = useState("");
  const [ngError, setNgError] = useState("");
  useEffect(() => {
    const c = new AbortController();
    api.dataset(id, c.signal).then(setD, (e: Error) => c.signal.aborted || setError(e.message));
    return () => c.abort();
  }, [id]);
  if (error) return <p className="error">{error}</p>;
  if (!d) return <p>Loading…</p>;
  const viewer = `#/d/${encodeURIComponent(d.id)}/view`;
  const dataUrl = absolute(d.dataUrl);
  const first = d.arrays[0]?.path ?? "raw";
  const openNeuroglancer = async () => {
    try {
      const { url } = await api.neuroglancer(d.id);
      window.open(url, "_blank", "noopener");
    } catch (e) {
      setNgError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="dataset">
      <div className="dataset-head">
        <img src={d.thumbnail} alt="" className="thumb" />
        <div>
          <h1 data-testid="dataset-title">{d.title || d.name}</h1>
          <div className="muted">{d.id}</div>
          <div className="row">
            <a className="button primary" href={viewer} data-testid="open-viewer">
              open viewer
            </a>
            <a
              className="button"
              href={`#/d/${encodeURIComponent(d.id)}/annotate`}
              data-testid="open-annotator"
            >
              annotate
            </a>
            <button type="button" onClick={openNeuroglancer} data-testid="open-neuroglancer">
              open in Neuroglancer
            </button>
            <CopyButton text={dataUrl} />
          </div>
          {ngError && <p className="error">{ngError}</p>}
        </div>
      </div>
      <section>
        <h2>Metadata</h2>
        <table className="kv">
          <tbody>
            <tr>
              <td>dimensions</td>
              <td>{vec(d.shape)} voxels (z × y × x)</td>
            </tr>
            <tr>
              <td>voxel size</td>
              <td>{vec(d.voxelSize, "nm")}</td>
            </tr>
            <tr>
              <td>size on disk</td>
              <td>{bytes(d.sizeBytes)}</td>
            </tr>
            {d.cellType && (
              <tr>
                <td>cell type</td>
                <td>{d.cellType}</td>
              </tr>
            )}
            {Object.entries(d.meta).map(([k, v]) => (
              <tr key={k}>
                <td>{k}</td>
                <td>
                  <MetaValue value={v} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h2>Arrays</h2>
        {GROUPS.map(([title, groups]) => {
          const arrays = d.arrays.filter((a) => groups.includes(a.group));
          if (!arrays.length) return null;
          return (
            <div key={title}>
              <h3>{title}</h3>
              <table className="arrays">
                <thead>
                  <tr>
                    <th>array</th>
                    <th>kind</th>
                    <th>dtype</th>
                    <th>shape</th>
                    <th>voxel size</th>
                    <th>levels</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {arrays.map((a: ArrayInfo) => (
                    <tr key={a.path} data-testid="array-row">
                      <td>{a.path}</td>
                      <td>{a.kind}</td>
                      <td>{a.dtype}</td>
                      <td>{vec(a.shape)}</td>
                      <td>{vec(a.voxelSize, "nm")}</td>
                      <td>{a.scales.length}</td>
                      <td>
                        <CopyButton text={absolute(a.url)} label="copy URL" />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        })}
      </section>
      <section>
        <h2>Download</h2>
        <p>
          Every chunk is its own URL under <code>{dataUrl}</code>, so any Zarr client can read the data
          directly:
        </p>
        <pre>{`# Python (zarr)
import zarr
raw = zarr.open(zarr.storage.FSStore("${dataUrl}"), mode="r")["${first}/s0"]

# JavaScript (zarrita)
import * as zarr from "zarrita";
const arr = await zarr.open(new zarr.FetchStore("${dataUrl}/${first}/s0"), { kind: "array" });

# one file with curl
curl -O ${dataUrl}/${first}/s0/.zarray`}</pre>
      </section>
      {d.tables.length > 0 && (
        <section>
          <h2>Tables</h2>
          <ul>
            {d.tables.map((t) => (
              <li key={t.name}>
                <a href={`#/results?dataset=${encodeURIComponent(d.id)}&table=${encodeURIComponent(t.name)}`}>
                  {t.name}
                </a>{" "}
                <span className="muted">({t.rows} rows)</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section>
        <h2>Saved views</h2>
        {d.views.length === 0 && (
          <p className="muted">none yet: save one from the viewer (needs the token)</p>
        )}
        <ul>
          {d.views.map((v) => (
            <li key={v.name}>
              <a href={`${viewer}?view=${encodeURIComponent(v.name)}`}>{v.name}</a>{" "}
              <span className="muted">
                {v.orientation ?? "xy"} at {v.position.map(Math.round).join(", ")} nm
              </span>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

function MetaValue({ value }: { value: unknown }) {
  if (value === null || value === undefined) return null;
  if (typeof value === "object") return <code>{JSON.stringify(value)}</code>;
  return <>{String(value)}</>;
}
