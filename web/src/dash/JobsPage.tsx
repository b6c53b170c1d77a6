/** Start predict/evaluate/refine/measure (and mesh/threshold) jobs on the server and watch their progress. */
import { useEffect, useRef, useState } from "react";
import { api, type Job, type JobVerb, seg, subscribe } from "../api.ts";

const VERBS: { verb: JobVerb; hint: string }[] = [
  { verb: "measure", hint: "cells/cell.zarr segmentations/mito" },
  { verb: "predict", hint: "cells/cell.zarr --model models/mito --output predictions/mito" },
  { verb: "evaluate", hint: "cells/cell.zarr segmentations/mito labels/mito" },
  { verb: "refine", hint: "cells/cell.zarr --input predictions/mito --organelle mito" },
  { verb: "mesh", hint: "cells/cell.zarr segmentations/mito" },
  { verb: "threshold", hint: "cells/cell.zarr predictions/mito" },
];

/** Splits a command line into arguments, honouring simple double or single quotes. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3] ?? "");
  return out;
}

export function JobsPage() {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [verb, setVerb] = useState<JobVerb>("measure");
  const [args, setArgs] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    api.jobs().then(setJobs, (e: Error) => setError(e.message));
  }, []);
  const upsert = (j: Job) =>
    setJobs((js) => (js.some((x) => x.id === j.id) ? js.map((x) => (x.id === j.id ? j : x)) : [j, ...js]));
  const start = async () => {
    setError("");
    try {
      upsert(await api.startJob(verb, splitArgs(args)));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="dash">
      <h1>Jobs</h1>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <select value={verb} onChange={(e) => setVerb(e.target.value as JobVerb)} data-testid="job-verb">
          {VERBS.map((v) => (
            <option key={v.verb}>{v.verb}</option>
          ))}
        </select>
        <input
          className="wide"
          placeholder={VERBS.find((v) => v.verb === verb)?.hint}
          value={args}
          onChange={(e) => setArgs(e.target.value)}
          data-testid="job-args"
        />
        <button type="submit" className="primary" data-testid="job-start">
          start
        </button>
      </form>
      <p className="muted">
        Arguments as on the command line (dataset paths relative to the served directory). Needs the token.
      </p>
      {error && (
        <p className="error" data-testid="job-error">
          {error}
        </p>
      )}
      {jobs.map((j) => (
        <JobCard key={j.id} job={j} onUpdate={upsert} />
      ))}
    </div>
  );
}

function JobCard({ job, onUpdate }: { job: Job; onUpdate: (j: Job) => void }) {
  const live = job.state === "queued" || job.state === "running";
  const update = useRef(onUpdate);
  update.current = onUpdate;
  useEffect(() => {
    if (!live) return;
    return subscribe<Job>(`/api/jobs/${seg(job.id)}/events`, (j) => update.current(j));
  }, [live, job.id]);
  const p = job.progress;
  const pct = p && p.total > 0 ? Math.round((100 * p.done) / p.total) : job.state === "done" ? 100 : 0;
  return (
    <div className={`job ${job.state}`} data-testid="job" data-state={job.state}>
      <div>
        <b>{job.verb}</b> {job.args.join(" ")} — <span data-testid="job-state">{job.state}</span>
        {job.exitCode !== null && job.exitCode !== 0 && <> (exit {job.exitCode})</>}
      </div>
      <div className="progress">
        <span style={{ width: `${pct}%` }} />
      </div>
      <div className="muted">
        {p ? `${p.done} / ${p.total}` : ""}
        {p?.etaSeconds !== undefined && live ? ` · ETA ${Math.round(p.etaSeconds)} s` : ""}
      </div>
      {job.log && <pre className="log">{job.log.split("\n").slice(-12).join("\n")}</pre>}
    </div>
  );
}
