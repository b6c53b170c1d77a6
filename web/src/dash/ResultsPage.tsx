/**
 * Evaluation and analysis tables: pick a dataset and table, sort by any column, filter rows, plot a
 * histogram of a column; total organelle volumes per table (volume fractions); a second dataset side by side.
 */
import { useEffect, useMemo, useState } from "react";
import { api, type Cell, type DatasetSummary, type ResultTable, type ResultTableSummary } from "../api.ts";
import { num } from "../format.ts";
import { BarChart, Histogram } from "./charts.tsx";

const COLORS = ["#3a8ee6", "#e6553a", "#4cc46a", "#e6c23a", "#b05be6", "#3ad6d6"];

function numericColumns(t: ResultTable): string[] {
  return t.columns.filter((_, i) => t.rows.some((r) => typeof r[i] === "number"));
}

function columnValues(t: ResultTable, column: string): number[] {
  const i = t.columns.indexOf(column);
  return i < 0 ? [] : t.rows.map((r) => r[i]).filter((v): v is number => typeof v === "number");
}

function useTable(dataset: string, table: string): ResultTable | null {
  const [t, setT] = useState<ResultTable | null>(null);
  useEffect(() => {
    setT(null);
    if (!dataset || !table) return;
    let live = true;
    api.result(dataset, table).then(
      (r) => live && setT(r),
      () => live && setT({ columns: [], rows: [] }),
    );
    return () => {
      live = false;
    };
  }, [dataset, table]);
  return t;
}

export function ResultsPage({ params }: { params: URLSearchParams }) {
  const [datasets, setDatasets] = useState<DatasetSummary[]>([]);
  const [dataset, setDataset] = useState(params.get("dataset") ?? "");
  const [tables, setTables] = useState<ResultTableSummary[]>([]);
  const [table, setTable] = useState(params.get("table") ?? "");
  const [other, setOther] = useState("");
  useEffect(() => {
    api.datasets().then(
      (ds) => {
        setDatasets(ds);
        setDataset((cur) => cur || ds[0]?.id || "");
      },
      () => {},
    );
  }, []);
  useEffect(() => {
    if (!dataset) return;
    api.results(dataset).then(
      (ts) => {
        setTables(ts);
        setTable((cur) => (ts.some((t) => t.name === cur) ? cur : (ts[0]?.name ?? "")));
      },
      () => setTables([]),
    );
  }, [dataset]);
  const t = useTable(dataset, table);
  const o = useTable(other, table);
  return (
    <div className="dash">
      <h1>Results</h1>
      <div className="toolbar">
        <label>
          dataset{" "}
          <select value={dataset} onChange={(e) => setDataset(e.target.value)} data-testid="results-dataset">
            {datasets.map((d) => (
              <option key={d.id}>{d.id}</option>
            ))}
          </select>
        </label>
        <label>
          table{" "}
          <select value={table} onChange={(e) => setTable(e.target.value)} data-testid="results-table">
            {tables.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name} ({x.rows})
              </option>
            ))}
          </select>
        </label>
        <label>
          compare with{" "}
          <select value={other} onChange={(e) => setOther(e.target.value)}>
            <option value="">—</option>
            {datasets
              .filter((d) => d.id !== dataset)
              .map((d) => (
                <option key={d.id}>{d.id}</option>
              ))}
          </select>
        </label>
      </div>
      {tables.length === 0 && (
        <p className="muted">no tables for this dataset (run organelle measure or evaluate)</p>
      )}
      <VolumeSummary dataset={dataset} tables={tables} />
      {t && (
        <div className={other ? "side-by-side" : ""}>
          <TableView
            title={dataset}
            table={t}
            compare={other && o ? { title: other, table: o } : undefined}
          />
          {other && o && <TableView title={other} table={o} />}
        </div>
      )}
    </div>
  );
}

/** Total volume per organelle table: each table's share of the segmented volume. */
function VolumeSummary({ dataset, tables }: { dataset: string; tables: ResultTableSummary[] }) {
  const [bars, setBars] = useState<{ name: string; value: number; color: string }[]>([]);
  useEffect(() => {
    let live = true;
    const organelles = tables.filter(
      (t) => t.columns.some((c) => /^volume/i.test(c)) && !/contact/i.test(t.name),
    );
    Promise.all(organelles.map((t) => api.result(dataset, t.name).then((r) => ({ t, r })))).then(
      (all) => {
        if (!live) return;
        setBars(
          all.map(({ t, r }, i) => {
            const col = r.columns.find((c) => /^volume/i.test(c)) ?? "";
            return {
              name: t.name,
              value: columnValues(r, col).reduce((s, v) => s + v, 0),
              color: COLORS[i % COLORS.length]!,
            };
          }),
        );
      },
      () => {},
    );
    return () => {
      live = false;
    };
  }, [dataset, tables]);
  if (bars.length === 0) return null;
  const total = bars.reduce((s, b) => s + b.value, 0);
  return (
    <section>
      <h3>Volume by table (fraction of all segmented volume)</h3>
      <BarChart bars={bars.map((b) => ({ ...b, value: b.value / total }))} label="volume fractions" />
    </section>
  );
}

function TableView({
  title,
  table,
  compare,
}: {
  title: string;
  table: ResultTable;
  compare?: { title: string; table: ResultTable } | undefined;
}) {
  const [sort, setSort] = useState<{ col: number; desc: boolean } | null>(null);
  const [filter, setFilter] = useState("");
  const numeric = useMemo(() => numericColumns(table), [table]);
  const [histColumn, setHistColumn] = useState("");
  const column = numeric.includes(histColumn)
    ? histColumn
    : (numeric.find((c) => /volume/i.test(c)) ?? numeric[0] ?? "");
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    let out = f
      ? table.rows.filter((r) =>
          r.some((c) =>
            String(c ?? "")
              .toLowerCase()
              .includes(f),
          ),
        )
      : table.rows;
    if (sort) {
      const k = sort.col;
      const cmp = (a: Cell, b: Cell) =>
        typeof a === "number" && typeof b === "number"
          ? a - b
          : String(a ?? "").localeCompare(String(b ?? ""));
      out = [...out].sort((a, b) => (sort.desc ? -1 : 1) * cmp(a[k] ?? null, b[k] ?? null));
    }
    return out;
  }, [table, filter, sort]);
  const shown = rows.slice(0, 500);
  return (
    <section data-testid="result-table">
      <h3>{title}</h3>
      <div className="toolbar">
        <input placeholder="filter rows" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <span className="muted">
          {rows.length} of {table.rows.length} rows
        </span>
        <label>
          histogram of{" "}
          <select value={column} onChange={(e) => setHistColumn(e.target.value)}>
            {numeric.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      </div>
      {column && (
        <Histogram
          xLabel={column}
          sets={[
            {
              name: title,
              color: COLORS[0]!,
              values: columnValues({ columns: table.columns, rows }, column),
            },
            ...(compare
              ? [{ name: compare.title, color: COLORS[1]!, values: columnValues(compare.table, column) }]
              : []),
          ]}
        />
      )}
      <div className="table-scroll">
        <table className="data">
          <thead>
            <tr>
              {table.columns.map((c, i) => (
                <th key={c} onClick={() => setSort({ col: i, desc: sort?.col === i ? !sort.desc : false })}>
                  {c}
                  {sort?.col === i ? (sort.desc ? " ▼" : " ▲") : ""}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((r, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity beyond their position
              <tr key={i}>
                {r.map((c, k) => (
                  <td key={table.columns[k]}>{num(c)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
