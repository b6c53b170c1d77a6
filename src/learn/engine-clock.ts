import * as fs from "node:fs";
import type { Engine } from "../engine/engine.ts";

/*
 * How busy the engine is, measured from TypeScript. Requests are answered one at a time in the order
 * they were sent, so request i occupies the engine from max(its send time, the previous answer) to its
 * own answer (pipe transfer included). The rest of the wall time the engine sat idle: waiting for data.
 */

export class EngineClock {
  private lastAnswer = 0;
  private busyMs = 0;
  private readonly pending: { sent: number; done: number | null }[] = [];

  /** Wraps a request: call right when sending it. */
  track<T>(request: Promise<T>): Promise<T> {
    const entry = { sent: performance.now(), done: null as number | null };
    this.pending.push(entry);
    const settle = () => {
      entry.done = performance.now();
      // Answers arrive in order; account every finished request at the head of the queue.
      while (this.pending.length > 0 && this.pending[0]!.done !== null) {
        const e = this.pending.shift()!;
        const begin = Math.max(e.sent, this.lastAnswer);
        this.busyMs += Math.max(0, e.done! - begin);
        this.lastAnswer = Math.max(this.lastAnswer, e.done!);
      }
    };
    request.then(settle, settle);
    return request;
  }

  /** Milliseconds the engine spent on requests so far. */
  get busy(): number {
    return this.busyMs;
  }
}

/** The engine with every request timed by `clock`. */
export function timedEngine(engine: Engine, clock: EngineClock): Engine {
  return new Proxy(engine, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || prop === "close") return v;
      return (...args: unknown[]) =>
        clock.track((v as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}

/** Linux reports process CPU times in clock ticks of 1/100 s (USER_HZ) in /proc/<pid>/stat. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds used so far by this process and the engine process (`enginePid`; Linux /proc), for
 * comparing runs on a shared machine, where wall time depends on the other load. Null where /proc is
 * not available.
 */
export function cpuSeconds(enginePid: number | undefined): number | null {
  const own = process.cpuUsage();
  let engine = 0;
  if (enginePid !== undefined) {
    try {
      const stat = fs.readFileSync(`/proc/${enginePid}/stat`, "utf8");
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      engine = (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
    } catch {
      return null;
    }
  }
  return (own.user + own.system) / 1e6 + engine;
}
