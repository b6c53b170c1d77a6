import { Option } from "commander";
import { invalidArgument } from "../core/errors.ts";

/**
 * A commander argument parser for a number option: rejects empty, non-numeric, fractional (when
 * `integer`) and out-of-range values with one line naming the option.
 */
export function numberArg(what: string, opts: { integer?: boolean; min?: number; max?: number } = {}) {
  const kind = opts.integer ? "a whole number" : "a number";
  const range =
    opts.min !== undefined && opts.max !== undefined
      ? ` in ${opts.min}..${opts.max}`
      : opts.min !== undefined
        ? ` >= ${opts.min}`
        : opts.max !== undefined
          ? ` <= ${opts.max}`
          : "";
  return (v: string): number => {
    const n = Number(v);
    const bad =
      v.trim() === "" ||
      !Number.isFinite(n) ||
      (opts.integer && !Number.isInteger(n)) ||
      (opts.min !== undefined && n < opts.min) ||
      (opts.max !== undefined && n > opts.max);
    if (bad) throw invalidArgument(`${what}: expected ${kind}${range}, got '${v}'`);
    return n;
  };
}

/** A whole number >= 1 (counts: workers, levels, steps). */
export const positiveInt = (what: string) => numberArg(what, { integer: true, min: 1 });

/** A probability in [0, 1] (thresholds). */
export function probability(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
      throw invalidArgument(`${what}: expected a probability between 0 and 1, got '${v}'`);
    }
    return n;
  };
}

/** `--workers N`, shared by every block-wise verb. */
export function workersOption(help = "worker threads (default: one per core)"): Option {
  return new Option("--workers <n>", help).argParser(positiveInt("--workers"));
}
