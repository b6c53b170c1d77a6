import { invalidArgument } from "../core/errors.ts";

/*
 * Normality tests for the size distributions of ASEM's analyses (nuclear pore diameters): Shapiro–Wilk
 * (Royston's algorithm AS R94, the one scipy.stats.shapiro and R's shapiro.test call) and the one-sample
 * two-sided Kolmogorov–Smirnov test against a normal distribution with the exact distribution of the
 * statistic (Simard & L'Ecuyer's choice between Durbin/Marsaglia–Tsang–Wang, Pomeranz, Pelz–Good and the
 * Smirnov tail, as scipy.stats.kstwo). Checked against scipy.stats on committed fixtures (stats.test.ts).
 */

export interface TestResult {
  readonly statistic: number;
  readonly pValue: number;
}

/** Standard normal CDF (Cody-grade erfc, about 1e-15 relative). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Complementary error function (W. J. Cody's rational approximations, as in many C libraries). */
export function erfc(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 0.5) {
    const t = x * x;
    const num =
      (((0.18577770618460315 * t + 3.1611237438705655) * t + 113.86415415105016) * t + 377.485237685302) * t +
      3209.3775891384694;
    const den =
      (((t + 23.601290952344122) * t + 244.02463793444417) * t + 1282.6165260773723) * t + 2844.236833439171;
    return 1 - (x * num) / den;
  }
  if (ax < 4) {
    const num =
      (((((((2.1531153547440383e-8 * ax + 0.5641884969886701) * ax + 8.883149794388377) * ax +
        66.11919063714163) *
        ax +
        298.6351381974001) *
        ax +
        881.952221241769) *
        ax +
        1712.0476126340707) *
        ax +
        2051.0783778260716) *
        ax +
      1230.3393547979972;
    const den =
      (((((((ax + 15.744926110709835) * ax + 117.6939508913125) * ax + 537.1811018620099) * ax +
        1621.3895745666903) *
        ax +
        3290.7992357334597) *
        ax +
        4362.619090143247) *
        ax +
        3439.3676741437216) *
        ax +
      1230.3393548037495;
    r = (num / den) * expSquared(ax);
  } else {
    const z = 1 / (ax * ax);
    const num =
      ((((0.016315387137302097 * z + 0.30532663496123236) * z + 0.36034489994980445) * z +
        0.12578172611122926) *
        z +
        0.016083785148742275) *
        z +
      0.0006587491615298378;
    const den =
      ((((z + 2.568520192289822) * z + 1.8729528499234673) * z + 0.5279051029514285) * z +
        0.06051834131244132) *
        z +
      0.0023352049762686918;
    r = ((1 / Math.sqrt(Math.PI) - (z * num) / den) / ax) * expSquared(ax);
  }
  return x < 0 ? 2 - r : r;
}

/** exp(-x^2) without the cancellation of squaring a large x directly. */
function expSquared(x: number): number {
  const xs = Math.trunc(x * 16) / 16;
  const del = (x - xs) * (x + xs);
  return Math.exp(-xs * xs) * Math.exp(-del);
}

// ---------------------------------------------------------------------------------------------------
// Shapiro–Wilk (AS R94)

const SW = {
  c1: [0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056],
  c2: [0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633],
  c3: [0.544, -0.39978, 0.025054, -0.0006714],
  c4: [1.3822, -0.77857, 0.062767, -0.0020322],
  c5: [-1.5861, -0.31082, -0.083751, 0.0038915],
  c6: [-0.4803, -0.082676, 0.0030302],
  g: [-2.273, 0.459],
} as const;

function poly(c: readonly number[], x: number): number {
  let r = c[c.length - 1]!;
  for (let i = c.length - 2; i >= 0; i--) r = r * x + c[i]!;
  return r;
}

/** Normal quantile, AS 111 (Beasley & Springer): the one AS R94 was published with. */
function ppnd(p: number): number {
  const q = p - 0.5;
  if (Math.abs(q) <= 0.42) {
    const r = q * q;
    return (
      (q * (((-25.44106049637 * r + 41.39119773534) * r - 18.61500062529) * r + 2.50662823884)) /
      ((((3.13082909833 * r - 21.06224101826) * r + 23.08336743743) * r - 8.4735109309) * r + 1)
    );
  }
  let r = q > 0 ? 1 - p : p;
  r = Math.sqrt(-Math.log(r));
  const v =
    (((2.32121276858 * r + 4.85014127135) * r - 2.29796479134) * r - 2.78718931138) /
    ((1.63706781897 * r + 3.54388924762) * r + 1);
  return q < 0 ? -v : v;
}

/**
 * Shapiro–Wilk W and its p-value for 3 <= n <= 5000 values (scipy.stats.shapiro). scipy runs the
 * algorithm in single precision; this runs it in double, so W agrees to about 1e-6.
 */
export function shapiroWilk(values: readonly number[]): TestResult {
  const n = values.length;
  if (n < 3) throw invalidArgument(`Shapiro–Wilk needs at least 3 values, got ${n}`);
  if (!values.every(Number.isFinite))
    throw invalidArgument("Shapiro–Wilk: every value must be a finite number");
  const x = [...values].sort((a, b) => a - b);
  const range = x[n - 1]! - x[0]!;
  if (!(range > 0)) return { statistic: 1, pValue: 1 };
  const nn2 = Math.floor(n / 2);
  const a = new Float64Array(nn2 + 1); // 1-based, as in the published algorithm
  if (n === 3) {
    a[1] = Math.SQRT1_2;
  } else {
    const an25 = n + 0.25;
    const m = new Float64Array(nn2 + 1);
    let summ2 = 0;
    for (let i = 1; i <= nn2; i++) {
      m[i] = ppnd((i - 0.375) / an25);
      summ2 += m[i]! * m[i]!;
    }
    summ2 *= 2;
    const ssumm2 = Math.sqrt(summ2);
    const rsn = 1 / Math.sqrt(n);
    const a1 = poly(SW.c1, rsn) - m[1]! / ssumm2;
    let i1: number;
    let fac: number;
    if (n > 5) {
      i1 = 3;
      const a2 = -m[2]! / ssumm2 + poly(SW.c2, rsn);
      fac = Math.sqrt((summ2 - 2 * m[1]! ** 2 - 2 * m[2]! ** 2) / (1 - 2 * a1 ** 2 - 2 * a2 ** 2));
      a[2] = a2;
    } else {
      i1 = 2;
      fac = Math.sqrt((summ2 - 2 * m[1]! ** 2) / (1 - 2 * a1 ** 2));
    }
    a[1] = a1;
    for (let i = i1; i <= nn2; i++) a[i] = -m[i]! / fac;
  }
  // W as the squared correlation between the ordered data and the coefficients.
  const coef = (i: number, j: number) => (i === j ? 0 : Math.sign(i - j) * a[Math.min(i, j)]!);
  let sa = 0;
  let sx = 0;
  for (let i = 1, j = n; i <= n; i++, j--) {
    sa += coef(i, j);
    sx += x[i - 1]! / range;
  }
  sa /= n;
  sx /= n;
  let ssa = 0;
  let ssx = 0;
  let sax = 0;
  for (let i = 1, j = n; i <= n; i++, j--) {
    const asa = coef(i, j) - sa;
    const xsx = x[i - 1]! / range - sx;
    ssa += asa * asa;
    ssx += xsx * xsx;
    sax += asa * xsx;
  }
  const ssassx = Math.sqrt(ssa * ssx);
  const w1 = ((ssassx - sax) * (ssassx + sax)) / (ssa * ssx);
  const w = 1 - w1;
  if (n === 3) {
    const pw = 1.909859 * (Math.asin(Math.sqrt(w)) - 1.047198);
    return { statistic: w, pValue: Math.min(1, Math.max(0, pw)) };
  }
  let y = Math.log(w1);
  const lxx = Math.log(n);
  let mean: number;
  let sd: number;
  if (n <= 11) {
    const gamma = poly(SW.g, n);
    if (y >= gamma) return { statistic: w, pValue: 1e-19 };
    y = -Math.log(gamma - y);
    mean = poly(SW.c3, n);
    sd = Math.exp(poly(SW.c4, n));
  } else {
    mean = poly(SW.c5, lxx);
    sd = Math.exp(poly(SW.c6, lxx));
  }
  return { statistic: w, pValue: 1 - normalCdf((y - mean) / sd) };
}

// ---------------------------------------------------------------------------------------------------
// Kolmogorov–Smirnov

/**
 * One-sample two-sided KS test of `values` against N(mean, sd): D = sup |F_n - F| and its exact p-value
 * (scipy.stats.kstest(values, "norm", args=(mean, sd)), method "exact").
 */
export function ksTestNormal(values: readonly number[], mean: number, sd: number): TestResult {
  const n = values.length;
  if (n < 1) throw invalidArgument("Kolmogorov–Smirnov needs at least one value");
  if (!(sd > 0) || !Number.isFinite(mean)) {
    throw invalidArgument(
      `Kolmogorov–Smirnov: normal reference needs a finite mean and sd > 0 (got ${mean}, ${sd})`,
    );
  }
  const x = [...values].sort((a, b) => a - b);
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = normalCdf((x[i]! - mean) / sd);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return { statistic: d, pValue: kolmogorovSf(n, d) };
}

/** P(D_n >= d) of the two-sided one-sample statistic (scipy.stats.kstwo.sf). */
export function kolmogorovSf(n: number, x: number): number {
  if (!(Number.isInteger(n) && n > 0)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const clip = (p: number) => Math.min(1, Math.max(0, p));
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= (i / n) * (2 * t - 1);
    } else {
      prob = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    }
    return clip(1 - prob);
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n);
  if (x >= 0.5) return clip(2 * smirnovSf(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693) return clip(1 - durbinMtw(n, x));
    if (nx2 <= 4) return clip(1 - pomeranz(n, x));
    return clip(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnovSf(n, x));
  if (nx2 >= 18) return 0;
  const cdf = n <= 100000 && n * x ** 1.5 <= 1.4 ? durbinMtw(n, x) : pelzGood(n, x);
  return clip(1 - cdf);
}

/** log(n! / n^n) by Stirling's series with the n log n removed up front. */
function logFactorialOverPower(n: number): number {
  const c = [
    -0.029550653594771242, 0.00641025641025641, -0.0019175269175269176, 0.0008417508417508417,
    -0.0005952380952380953, 0.0007936507936507937, -0.002777777777777778, 0.08333333333333333,
  ];
  const rn = 1 / n;
  let p = 0;
  for (const k of c) p = p * (rn / n) + k;
  return Math.log(n) / 2 - n + Math.log(2 * Math.PI) / 2 + rn * p;
}

const EP128 = 2 ** 128;
const EM128 = 2 ** -128;

/** P(D_n <= d), Durbin's matrix in Marsaglia, Tsang & Wang's form (scaled powers of H). */
function durbinMtw(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H: Float64Array = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - i + 1]!;
  for (let r = 0; r < m; r++) H[r * m] = v[r]!;
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c]!;
  let P: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) P[i * m + i] = 1;
  let nn = n;
  let expnt = 0;
  let hexp = 0;
  while (nn > 0) {
    if (nn % 2) {
      P = matmul(P, H, m);
      expnt += hexp;
    }
    H = matmul(H, H, m);
    hexp *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]!) > EP128) {
      for (let i = 0; i < H.length; i++) H[i]! /= EP128;
      hexp += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = P[(k - 1) * m + (k - 1)]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= EP128;
      expnt -= 128;
    }
  }
  return Math.min(1, Math.max(0, p * 2 ** expnt));
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k]!;
      if (aik === 0) continue;
      const bo = k * m;
      const oo = i * m;
      for (let j = 0; j < m; j++) out[oo + j]! += aik * b[bo + j]!;
    }
  }
  return out;
}

function pomeranzBounds(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = half - 1 - ll - roundf - 1;
        j2 = half + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** P(D_n <= x) by Pomeranz's recursion. */
function pomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gp = new Float64Array(npwrs);
  const g2p = new Float64Array(npwrs);
  const g12p = new Float64Array(npwrs);
  gp[0] = g2p[0] = g12p[0] = 1;
  for (let m = 1; m < npwrs; m++) {
    gp[m] = (gp[m - 1]! * (g / n)) / m;
    g2p[m] = (g2p[m - 1]! * ((2 * g) / n)) / m;
    g12p[m] = (g12p[m - 1]! * ((1 - 2 * g) / n)) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let expnt = 0;
  let [j1, j2] = pomeranzBounds(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    [j1, j2] = pomeranzBounds(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gp : i % 2 ? g2p : g12p;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      const start = j1 - k1;
      const len = j2 - j1 + 1;
      // Entries start..start+len-1 of the full convolution of V0[k1-V0s ..][:ln2] with pwrs[:ln2].
      for (let o = 0; o < len; o++) {
        const c = start + o;
        let s = 0;
        for (let a = Math.max(0, c - ln2 + 1); a <= Math.min(c, ln2 - 1); a++) {
          s += V0[k1 - V0s + a]! * pwrs[c - a]!;
        }
        V1[o] = s;
      }
      let mx = 0;
      for (let o = 0; o < npwrs; o++) mx = Math.max(mx, V1[o]!);
      if (mx > 0 && mx < EM128) {
        for (let o = 0; o < npwrs; o++) V1[o]! *= EP128;
        expnt -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s]!;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > EP128) {
      ans *= EM128;
      expnt += 128;
    }
    ans *= m;
  }
  return Math.min(1, Math.max(0, ans * 2 ** expnt));
}

/** Pelz–Good asymptotic P(D_n <= x) for large n and small x. */
function pelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const pi2 = Math.PI ** 2;
  const pi4 = pi2 * pi2;
  const pi6 = pi4 * pi2;
  const qlog = -pi2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = pi2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * pi2) / 4;
  const k2c = (pi4 * (1 - 2 * z2)) / 16;
  const k3d = (pi6 * (5 - 30 * z2)) / 64;
  const k3c = (pi4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (pi2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qp = q ** (8 * k);
    const c = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qp + c[i]!;
  }
  const sqrt2pi = Math.sqrt(2 * Math.PI);
  const div = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * sqrt2pi) / div[i]!;
  q = Math.exp(-pi2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const sqrt3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qk = q ** k2;
    k2extra += k2 * qk;
    const kpi = Math.PI * k;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qk;
  }
  K[2]! += (k2extra * pi2 * sqrt2pi) / (-36 * z3);
  K[3]! += (k3extra * pi2 * sqrt2pi) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i]! / n ** (i / 2);
  return sum;
}

/**
 * One-sided P(D_n^+ >= d), the exact Birnbaum–Tingey sum with every term in logs (all terms are
 * positive, so the sum loses nothing to cancellation).
 */
export function smirnovSf(n: number, d: number): number {
  if (d <= 0) return 1;
  if (d >= 1) return 0;
  const jmax = Math.floor(n * (1 - d));
  const lgn = logGamma(n + 1);
  let sum = 0;
  for (let j = 0; j <= jmax; j++) {
    const a = 1 - d - j / n;
    const b = d + j / n;
    const logTerm =
      lgn -
      logGamma(j + 1) -
      logGamma(n - j + 1) +
      (n - j) * (a > 0 ? Math.log(a) : Number.NEGATIVE_INFINITY) +
      (j - 1) * Math.log(b);
    sum += Math.exp(logTerm);
  }
  return Math.min(1, d * sum);
}

/** log Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms: about 1e-15 relative). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
    12.507343278686905, -0.13857109526572012, 0.000009984369578019572, 1.5056327351493116e-7,
  ];
  const xx = x - 1;
  let a = c[0]!;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Median of values (mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
