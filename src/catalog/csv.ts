import { invalidData } from "../core/errors.ts";
import type { Cell } from "./catalog.ts";

/*
 * RFC 4180 CSV as the analysis verbs write it: a header line, comma-separated, fields quoted when they
 * hold a comma, quote or newline. Numeric fields become numbers, empty fields null, the rest strings.
 */

export interface ParsedCsv {
  readonly columns: string[];
  readonly rows: Cell[][];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function cell(text: string, quoted: boolean): Cell {
  if (quoted) return text;
  const t = text.trim();
  if (t === "") return null;
  if (NUMBER.test(t)) return Number(t);
  if (t === "NaN" || t === "nan") return null;
  return text;
}

/** Parses CSV text; `where` names the file in errors. Rows shorter than the header are padded with null. */
export function parseCsv(text: string, where: string): ParsedCsv {
  const records: { values: string[]; quoted: boolean[] }[] = [];
  let values: string[] = [];
  let quoted: boolean[] = [];
  let field = "";
  let isQuoted = false;
  let inQuotes = false;
  let i = 0;
  const n = text.length;
  const endField = () => {
    values.push(field);
    quoted.push(isQuoted);
    field = "";
    isQuoted = false;
  };
  const endRecord = () => {
    endField();
    if (!(values.length === 1 && values[0] === "" && !quoted[0])) records.push({ values, quoted });
    values = [];
    quoted = [];
  };
  while (i < n) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === "") {
      inQuotes = true;
      isQuoted = true;
    } else if (c === ",") endField();
    else if (c === "\n") endRecord();
    else if (c !== "\r") field += c;
    i++;
  }
  if (inQuotes) throw invalidData(`${where}: a quoted field is not closed`);
  if (field !== "" || values.length) endRecord();
  const header = records.shift();
  if (!header) return { columns: [], rows: [] };
  const columns = header.values;
  const rows = records.map((r, k) => {
    if (r.values.length > columns.length) {
      throw invalidData(
        `${where}: line ${k + 2} has ${r.values.length} fields for ${columns.length} columns`,
      );
    }
    const row: Cell[] = r.values.map((v, j) => cell(v, r.quoted[j]!));
    while (row.length < columns.length) row.push(null);
    return row;
  });
  return { columns, rows };
}
