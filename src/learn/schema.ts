import { invalidArgument } from "../core/errors.ts";

/*
 * A tiny validator for configuration files: every value is checked against a schema, unknown keys are
 * rejected naming the key, its section and the closest valid key, and every type error names the full
 * path ("training.steps: expected a whole number >= 1, got 'many'"). Defaults are filled in, so the
 * result is the complete configuration as it will be used (and recorded in the run directory).
 */

export type Schema =
  | { readonly type: "number"; readonly min?: number; readonly max?: number; readonly integer?: boolean }
  | { readonly type: "string"; readonly choices?: readonly string[] }
  | { readonly type: "boolean" }
  /** A number (all three axes) or [z, y, x]. */
  | { readonly type: "coord"; readonly positive?: boolean; readonly integer?: boolean }
  /** [lo, hi] with lo <= hi. */
  | { readonly type: "interval"; readonly min?: number; readonly max?: number }
  | { readonly type: "list"; readonly of: Schema; readonly minItems?: number }
  | { readonly type: "object"; readonly fields: Readonly<Record<string, Field>>; readonly open?: boolean }
  /** The first alternative whose `when` accepts the value validates it. */
  | {
      readonly type: "oneOf";
      readonly alternatives: readonly { readonly when: (v: unknown) => boolean; readonly schema: Schema }[];
      readonly expected: string;
    }
  /** Anything (validated elsewhere, e.g. a model spec). */
  | { readonly type: "any" };

export interface Field {
  readonly schema: Schema;
  readonly required?: boolean;
  /** Filled in when the key is absent (a function for values that depend on nothing but are fresh). */
  readonly default?: unknown;
  readonly doc?: string;
}

export function describeValue(v: unknown): string {
  if (typeof v === "string") return `'${v}'`;
  if (v === null) return "null";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === "object") return "an object";
  return String(v);
}

/** Validates `value` against `schema`; `where` is the path used in messages ("" for the root). */
export function validate(value: unknown, schema: Schema, where: string, file: string): unknown {
  const fail = (m: string) => invalidArgument(`${file}: ${where || "top level"}: ${m}`);
  switch (schema.type) {
    case "any":
      return value;
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw fail(`expected ${schema.integer ? "a whole number" : "a number"}, got ${describeValue(value)}`);
      }
      if (schema.integer && !Number.isInteger(value)) throw fail(`expected a whole number, got ${value}`);
      if (schema.min !== undefined && value < schema.min)
        throw fail(`must be >= ${schema.min}, got ${value}`);
      if (schema.max !== undefined && value > schema.max)
        throw fail(`must be <= ${schema.max}, got ${value}`);
      return value;
    }
    case "string": {
      if (typeof value !== "string") throw fail(`expected text, got ${describeValue(value)}`);
      if (schema.choices && !schema.choices.includes(value)) {
        const near = closest(value, schema.choices);
        throw fail(
          `'${value}' is not one of ${schema.choices.join(", ")}${near ? `; did you mean '${near}'?` : ""}`,
        );
      }
      return value;
    }
    case "boolean":
      if (typeof value !== "boolean") throw fail(`expected true or false, got ${describeValue(value)}`);
      return value;
    case "coord": {
      const arr = typeof value === "number" ? [value, value, value] : value;
      if (
        !Array.isArray(arr) ||
        arr.length !== 3 ||
        !arr.every((n) => typeof n === "number" && Number.isFinite(n))
      ) {
        throw fail(`expected a number or [z, y, x], got ${describeValue(value)}`);
      }
      for (const n of arr as number[]) {
        if (schema.positive && !(n > 0)) throw fail(`values must be > 0, got ${JSON.stringify(value)}`);
        if (schema.integer && !Number.isInteger(n))
          throw fail(`values must be whole numbers, got ${JSON.stringify(value)}`);
      }
      return [...(arr as number[])];
    }
    case "interval": {
      if (
        !Array.isArray(value) ||
        value.length !== 2 ||
        !value.every((n) => typeof n === "number" && Number.isFinite(n)) ||
        value[0] > value[1]
      ) {
        throw fail(`expected [low, high] with low <= high, got ${JSON.stringify(value)}`);
      }
      if (schema.min !== undefined && value[0] < schema.min) throw fail(`low must be >= ${schema.min}`);
      if (schema.max !== undefined && value[1] > schema.max) throw fail(`high must be <= ${schema.max}`);
      return [value[0], value[1]];
    }
    case "list": {
      if (!Array.isArray(value)) throw fail(`expected a list, got ${describeValue(value)}`);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        throw fail(`needs at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}`);
      }
      return value.map((v, i) => validate(v, schema.of, `${where}[${i}]`, file));
    }
    case "object": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw fail(`expected a mapping of keys, got ${describeValue(value)}`);
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(schema.fields);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(obj)) {
        if (!(k in schema.fields)) {
          if (schema.open) {
            out[k] = obj[k];
            continue;
          }
          const near = closest(k, keys);
          throw invalidArgument(
            `${file}: unknown key '${k}' in ${where || "the top level"}${near ? `; did you mean '${near}'?` : `; valid keys: ${keys.join(", ")}`}`,
          );
        }
      }
      for (const k of keys) {
        const f = schema.fields[k]!;
        const path = where ? `${where}.${k}` : k;
        if (obj[k] === undefined || obj[k] === null) {
          if (f.required) throw invalidArgument(`${file}: ${path} is missing${f.doc ? ` (${f.doc})` : ""}`);
          if (f.default !== undefined) {
            out[k] = validate(structuredClone(f.default), f.schema, path, file);
          } else if (f.schema.type === "object" && !f.required && obj[k] === undefined) {
            out[k] = validate({}, f.schema, path, file);
          }
          continue;
        }
        out[k] = validate(obj[k], f.schema, path, file);
      }
      return out;
    }
    case "oneOf": {
      for (const a of schema.alternatives) if (a.when(value)) return validate(value, a.schema, where, file);
      throw fail(`expected ${schema.expected}, got ${describeValue(value)}`);
    }
  }
}

/** Edit distance counting insertions, deletions, substitutions and swaps of neighbours (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) =>
    Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[m]![n]!;
}

/** The candidate closest to `word` when it is plausibly a typo of it (distance at most half its length, at least 2). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replaceAll("-", "_");
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(norm(word), norm(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.ceil(word.length / 2));
  return bestD <= limit ? best : undefined;
}
