/** Small dependency-free SVG charts for the dashboards. */

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

const W = 520;
const H = 220;
const M = { l: 48, r: 12, t: 12, b: 28 };

function extent(values: number[]): [number, number] {
  if (!values.length) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}

const tick = (v: number) =>
  Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : +v.toPrecision(3);

function Axes({ x, y, xLabel }: { x: [number, number]; y: [number, number]; xLabel: string }) {
  return (
    <g className="axes">
      <line x1={M.l} y1={H - M.b} x2={W - M.r} y2={H - M.b} />
      <line x1={M.l} y1={M.t} x2={M.l} y2={H - M.b} />
      <text x={M.l} y={H - 8}>
        {tick(x[0])}
      </text>
      <text x={W - M.r} y={H - 8} textAnchor="end">
        {tick(x[1])}
      </text>
      <text x={(W + M.l) / 2} y={H - 8} textAnchor="middle">
        {xLabel}
      </text>
      <text x={M.l - 4} y={H - M.b} textAnchor="end">
        {tick(y[0])}
      </text>
      <text x={M.l - 4} y={M.t + 10} textAnchor="end">
        {tick(y[1])}
      </text>
    </g>
  );
}

export function LineChart({ series, xLabel }: { series: Series[]; xLabel: string }) {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x = extent(xs);
  const y = extent(ys);
  const sx = (v: number) => M.l + ((v - x[0]) / (x[1] - x[0])) * (W - M.l - M.r);
  const sy = (v: number) => H - M.b - ((v - y[0]) / (y[1] - y[0])) * (H - M.t - M.b);
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="chart"
      role="img"
      aria-label={series.map((s) => s.name).join(", ")}
    >
      <Axes x={x} y={y} xLabel={xLabel} />
      {series.map((s) => (
        <polyline
          key={s.name}
          fill="none"
          stroke={s.color}
          strokeWidth={1.5}
          points={s.points.map((p) => `${sx(p[0])},${sy(p[1])}`).join(" ")}
        />
      ))}
      {series.map((s, i) => (
        <text key={s.name} x={W - M.r} y={M.t + 12 * (i + 1)} textAnchor="end" fill={s.color}>
          {s.name}
        </text>
      ))}
    </svg>
  );
}

export interface Bars {
  name: string;
  color: string;
  values: number[];
}

/** Histograms of one or more value sets over shared bins (side-by-side comparisons overlay them). */
export function Histogram({ sets, bins = 24, xLabel }: { sets: Bars[]; bins?: number; xLabel: string }) {
  const all = sets.flatMap((s) => s.values).filter(Number.isFinite);
  const x = extent(all);
  const width = (x[1] - x[0]) / bins;
  const counts = sets.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.values) {
      if (!Number.isFinite(v)) continue;
      c[Math.min(bins - 1, Math.floor((v - x[0]) / width))]!++;
    }
    return c;
  });
  const y: [number, number] = [0, Math.max(1, ...counts.flat())];
  const bw = (W - M.l - M.r) / bins;
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="chart" role="img" aria-label={`histogram of ${xLabel}`}>
      <Axes x={x} y={y} xLabel={xLabel} />
      {counts.map((c, k) =>
        c.map((n, i) => {
          const h = (n / y[1]) * (H - M.t - M.b);
          return (
            <rect
              // biome-ignore lint/suspicious/noArrayIndexKey: bins are positional
              key={`${k}-${i}`}
              x={M.l + i * bw + (k * bw) / sets.length}
              y={H - M.b - h}
              width={bw / sets.length - 1}
              height={h}
              fill={sets[k]!.color}
            />
          );
        }),
      )}
      {sets.map((s, i) => (
        <text key={s.name} x={W - M.r} y={M.t + 12 * (i + 1)} textAnchor="end" fill={s.color}>
          {s.name}
        </text>
      ))}
    </svg>
  );
}

export function BarChart({
  bars,
  label,
}: {
  bars: { name: string; value: number; color: string }[];
  label: string;
}) {
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  return (
    <div className="barchart" role="img" aria-label={label}>
      {bars.map((b) => (
        <div key={b.name} className="bar-row">
          <span className="bar-name">{b.name}</span>
          <span className="bar" style={{ width: `${(100 * b.value) / max}%`, background: b.color }} />
          <span className="bar-value">{tick(b.value)}</span>
        </div>
      ))}
    </div>
  );
}
