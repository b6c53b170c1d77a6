/*
 * Loop closure: after a block is saved, train a new network on the dataset's annotated ROIs, or fine-tune
 * an existing run with them (ASEM's workflow). The server writes the configuration, checks it as a dry run
 * and queues `organelle train` / `finetune` as a job (POST /api/annotate/train); the job's progress is on
 * the Jobs page and the run's live curves on the Runs page.
 */
import { useEffect, useState } from "react";
import { ApiError, api, type DatasetDetail, type Job, type RunSummary } from "../api.ts";
import { getToken } from "../token.ts";
import type { SaveReply } from "./session-api.ts";

const MODELS = ["small", "tiny", "asem"] as const;

interface TrainReply {
  job: Job;
  /** Configuration and run directory, relative to the served directory (the run's id). */
  config: string;
  run: string;
}

export function TrainPanel({
  dataset,
  organelle,
  saved,
}: {
  dataset: DatasetDetail;
  organelle: string;
  saved: SaveReply;
}) {
  const [model, setModel] = useState<string>("small");
  const [steps, setSteps] = useState(2000);
  const [finetune, setFinetune] = useState("");
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [result, setResult] = useState<TrainReply | null>(null);
  const [error, setError] = useState("");
  const [sending, setSending] = useState(false);
  useEffect(() => {
    api.runs().then(
      (rs) => setRuns(rs.filter((r) => !r.organelle || r.organelle === organelle)),
      () => {},
    );
  }, [organelle]);
  const rois = dataset.rois.filter((r) => r.array === `labels/${organelle}`);
  const training = rois.filter((r) => r.kind === "training").length;
  const validation = rois.filter((r) => r.kind === "validation").length;
  const hasTraining = training > 0 || saved.roi.kind === "training";

  const start = async () => {
    setError("");
    setResult(null);
    setSending(true);
    try {
      const res = await fetch("/api/annotate/train", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${getToken()}` },
        body: JSON.stringify({
          dataset: dataset.id,
          organelle,
          steps,
          ...(finetune ? { finetune } : { model }),
        }),
      });
      const body = (await res.json().catch(() => ({}))) as TrainReply & { error?: string };
      if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
      setResult(body);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSending(false);
    }
  };

  return (
    <div data-testid="train-panel">
      <h3>4 · Train with these blocks</h3>
      <p className="muted">
        labels/{organelle}: {training} training, {validation} validation ROIs (validation blocks score the
        checkpoints)
      </p>
      <label className="field">
        start{" "}
        <select value={finetune} data-testid="train-from" onChange={(e) => setFinetune(e.target.value)}>
          <option value="">a new network</option>
          {runs.map((r) => (
            <option key={r.id} value={r.id}>
              fine-tune {r.name || r.id}
            </option>
          ))}
        </select>
      </label>
      <div className="row">
        {!finetune && (
          <select value={model} data-testid="train-model" onChange={(e) => setModel(e.target.value)}>
            {MODELS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        )}
        <input
          type="number"
          min={1}
          value={steps}
          data-testid="train-steps"
          style={{ width: 80 }}
          onChange={(e) => setSteps(Math.max(1, Math.round(Number(e.target.value)) || 1))}
        />{" "}
        steps
        <button type="button" data-testid="train" disabled={!hasTraining || sending} onClick={start}>
          {finetune ? "fine-tune with this block" : "train with this block"}
        </button>
      </div>
      {!hasTraining && <p className="muted">save a training block first</p>}
      {result && (
        <p data-testid="train-started" data-run={result.run}>
          queued {result.job.verb} job {result.job.id} ({result.config}) — progress in{" "}
          <a href="#/jobs">Jobs</a>, curves in <a href={`#/runs/${encodeURIComponent(result.run)}`}>Runs</a>
        </p>
      )}
      {error && (
        <p className="error" data-testid="train-error">
          {error}
        </p>
      )}
    </div>
  );
}
