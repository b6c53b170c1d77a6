import * as fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Server-sent events: the stream's headers, a keep-alive comment, and one `data:` message per value. */

export function openEventStream(
  req: IncomingMessage,
  res: ServerResponse,
): (value: unknown, id?: number) => void {
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  res.write(": organelle\n\n");
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15000);
  req.on("close", () => clearInterval(keepAlive));
  return (value, id) => {
    res.write(`${id !== undefined ? `id: ${id}\n` : ""}data: ${JSON.stringify(value)}\n\n`);
  };
}

/**
 * Follows a JSON-lines file that only grows (metrics.jsonl): calls `onRecord(record, index)` for each
 * complete line from record `from` on (default: the current end), polling every `intervalMs`.
 * A file that shrinks (a resumed run rewrites it) is read again from the start. Returns a stop function.
 */
export function followJsonLines(
  file: string,
  onRecord: (record: unknown, index: number) => void,
  opts: { from?: number; intervalMs?: number } = {},
): () => void {
  let offset = 0;
  let index = 0;
  let from = opts.from ?? 0;
  // Without `from`, the first read only finds the current end.
  let emit = opts.from !== undefined;
  let partial = "";
  const read = () => {
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return;
    }
    if (size < offset) {
      offset = 0;
      index = 0;
      partial = "";
      from = 0;
    }
    if (size === offset) return;
    const fd = fs.openSync(file, "r");
    let text: string;
    try {
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      text = partial + buf.toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) {
      if (!l.trim()) continue;
      let rec: unknown;
      try {
        rec = JSON.parse(l);
      } catch {
        continue;
      }
      if (emit && index >= from) onRecord(rec, index);
      index++;
    }
  };
  read();
  emit = true;
  const timer = setInterval(read, opts.intervalMs ?? 500);
  return () => clearInterval(timer);
}
