/** Training runs: the list, and per run live loss/F1 curves (server-sent events), checkpoints and best step. */
import { useEffect, useState } from "react";
import { api, type MetricRecord, type RunDetail, type RunSummary, seg, subscribe } from "../api.ts";
import { num } from "../format.ts";
import { LineChart, type Series } from "./charts.tsx";

export function RunsPage({ id }: { id?: string }) {
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api.runs().then(setRuns, (e: Error) => setError(e.message));
  }, []);
  return (
    <div className="dash">
      <h1>Training runs</h1>
      {error && <p className="error">{error}</p>}
      {runs && runs.length === 0 && <p className="muted">no runs in the served directory</p>}
      {runs && runs.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th>run</th>
              <th>organelle</th>
              <th>state</th>
              <th>last step</th>
              <th>best step</th>
              <th>best F1</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} className={r.id === id ? "selected" : ""}>
                <td>
                  <a href={`#/runs/${encodeURIComponent(r.id)}`}>{r.name || r.id}</a>
                </td>
                <td>{r.organelle}</td>
                <td>{r.state}</td>
                <td>{r.lastStep}</td>
                <td>{r.bestStep ?? ""}</td>
                <td>{num(r.bestF1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {id && <RunDetailView id={id} />}
    </div>
  );
}

const COLORS = ["#e6553a", "#3a8ee6", "#4cc46a", "#e6c23a", "#b05be6", "#3ad6d6"];

/** Every numeric field of the metric records becomes a curve over `step`; losses and scores plot apart. */
function curves(records: MetricRecord[], match: (k: string) => boolean): Series[] {
  const keys = new Set<string>();
  for (const r of records)
    for (const [k, v] of Object.entries(r))
      if (typeof v === "number" && k !== "step" && match(k)) keys.add(k);
  return [...keys].map((k, i) => ({
    name: k,
    color: COLORS[i % COLORS.length]!,
    points: records
      .filter((r) => typeof r[k] === "number" && typeof r.step === "number")
      .map((r) => [r.step as number, r[k] as number] as [number, number]),
  }));
}

function RunDetailView({ id }: { id: string }) {
  const [run, setRun] = useState<RunDetail | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let closed = false;
    let unsubscribe = () => {};
    api.run(id).then(
      (r) => {
        if (closed) return;
        setRun(r);
        unsubscribe = subscribe<MetricRecord>(`/api/runs/${seg(id)}/events`, (rec) =>
          setRun((cur) => (cur ? { ...cur, metrics: [...cur.metrics, rec] } : cur)),
        );
      },
      (e: Error) => setError(e.message),
    );
    return () => {
      closed = true;
      unsubscribe();
    };
  }, [id]);
  if (error) return <p className="error">{error}</p>;
  if (!run) return <p>Loading run…</p>;
  const loss = curves(run.metrics, (k) => /loss/i.test(k));
  const score = curves(run.metrics, (k) => /f1|dice|iou|precision|recall|accuracy/i.test(k));
  return (
    <div data-testid="run-detail">
      <h2>{id}</h2>
      <div className="charts">
        <div>
          <h3>loss</h3>
          {loss.length ? (
            <LineChart series={loss} xLabel="step" />
          ) : (
            <p className="muted">no loss records yet</p>
          )}
        </div>
        <div>
          <h3>validation</h3>
          {score.length ? (
            <LineChart series={score} xLabel="step" />
          ) : (
            <p className="muted">no validation yet</p>
          )}
        </div>
      </div>
      <p>
        checkpoints: {run.checkpoints.join(", ") || "none"} · best: <code>{JSON.stringify(run.best)}</code>
      </p>
      <details>
        <summary>config</summary>
        <pre>{JSON.stringify(run.config, null, 2)}</pre>
      </details>
    </div>
  );
}
