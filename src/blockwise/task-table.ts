import { invalidArgument } from "../core/errors.ts";
import type { BlockFn, TaskTable } from "./types.ts";

/** The table's function for `fn`, or an error naming the task and listing what the table holds. */
export function lookupTask(table: TaskTable, fn: string, taskName: string): BlockFn {
  const f = table.get(fn);
  if (f) return f;
  const known = [...table.keys()].sort().join(", ");
  throw invalidArgument(
    `task '${taskName}': no block function '${fn}' in the task table (known: ${known || "none"})`,
  );
}

/**
 * Builds a task table from `{ "area.name": fn }`; each function keeps its own parameter type. The
 * result is a fresh read-only map: tables are constants assembled at import time, never registries
 * that code mutates later.
 */
// biome-ignore lint/suspicious/noExplicitAny: each entry has its own parameter type
export function defineTaskTable(entries: Readonly<Record<string, BlockFn<any>>>): TaskTable {
  return new Map(Object.entries(entries));
}
