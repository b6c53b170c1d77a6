import type { GreyVolume } from "./slic.ts";

/**
 * ASEM's optional post-processing of a graph cut: a 2-component Gaussian mixture fitted (EM, 1D) to the
 * grey values of the foreground; foreground voxels more likely under the component that does not explain
 * the foreground seeds are dropped (seed voxels always stay). EM runs on a histogram of the values (exact
 * for integer grey levels: 1 bin per level; floats get 4,096 bins), so its cost does not grow with the mask.
 */

export interface Mixture1d {
  readonly weight: [number, number];
  readonly mean: [number, number];
  readonly variance: [number, number];
}

/** Fits a 2-component Gaussian mixture to values `centre[k]` with counts `count[k]`. */
export function fitMixture2(centre: Float64Array, count: Float64Array, maxIterations = 200): Mixture1d {
  let total = 0;
  let sum = 0;
  for (let k = 0; k < count.length; k++) {
    total += count[k]!;
    sum += count[k]! * centre[k]!;
  }
  const mean = sum / total;
  let ss = 0;
  for (let k = 0; k < count.length; k++) ss += count[k]! * (centre[k]! - mean) ** 2;
  const floor = Math.max((ss / total) * 1e-6, 1e-6);
  const variance: [number, number] = [Math.max(ss / total, floor), Math.max(ss / total, floor)];
  // start at the 25th and 75th percentiles
  const mu: [number, number] = [quantile(centre, count, total, 0.25), quantile(centre, count, total, 0.75)];
  const weight: [number, number] = [0.5, 0.5];
  let previous = -Infinity;
  for (let it = 0; it < maxIterations; it++) {
    let n0 = 0;
    let s0 = 0;
    let q0 = 0;
    let n1 = 0;
    let s1 = 0;
    let q1 = 0;
    let logLik = 0;
    for (let k = 0; k < count.length; k++) {
      const c = count[k]!;
      if (c === 0) continue;
      const x = centre[k]!;
      const p0 = weight[0] * gauss(x, mu[0], variance[0]);
      const p1 = weight[1] * gauss(x, mu[1], variance[1]);
      const p = p0 + p1 || Number.MIN_VALUE;
      logLik += c * Math.log(p);
      const r0 = (c * p0) / p;
      const r1 = c - r0;
      n0 += r0;
      s0 += r0 * x;
      q0 += r0 * x * x;
      n1 += r1;
      s1 += r1 * x;
      q1 += r1 * x * x;
    }
    if (n0 === 0 || n1 === 0) break;
    weight[0] = n0 / total;
    weight[1] = n1 / total;
    mu[0] = s0 / n0;
    mu[1] = s1 / n1;
    variance[0] = Math.max(q0 / n0 - mu[0] * mu[0], floor);
    variance[1] = Math.max(q1 / n1 - mu[1] * mu[1], floor);
    if (logLik - previous < 1e-9 * Math.abs(logLik)) break;
    previous = logLik;
  }
  return { weight, mean: mu, variance };
}

function gauss(x: number, mu: number, v: number): number {
  return Math.exp(-((x - mu) ** 2) / (2 * v)) / Math.sqrt(2 * Math.PI * v);
}

function quantile(centre: Float64Array, count: Float64Array, total: number, q: number): number {
  let acc = 0;
  for (let k = 0; k < count.length; k++) {
    acc += count[k]!;
    if (acc >= q * total) return centre[k]!;
  }
  return centre[centre.length - 1]!;
}

/** Removes outlier voxels from `mask` in place; returns how many were removed. */
export function cleanUpWithMixture(image: GreyVolume, mask: Uint8Array, seeds: Uint8Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const v = image[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return 0;
  const integer = image instanceof Uint8Array || image instanceof Uint16Array;
  const bins = integer ? hi - lo + 1 : 4096;
  const width = integer ? 1 : (hi - lo) / (bins - 1);
  const count = new Float64Array(bins);
  const centre = new Float64Array(bins);
  for (let k = 0; k < bins; k++) centre[k] = lo + k * width;
  const binOf = (v: number) => Math.round((v - lo) / width);
  for (let i = 0; i < mask.length; i++) if (mask[i]) count[binOf(image[i]!)]!++;
  const mix = fitMixture2(centre, count);
  // per bin: 1 if component 0 is more likely
  const prefers0 = new Uint8Array(bins);
  for (let k = 0; k < bins; k++) {
    const x = centre[k]!;
    prefers0[k] =
      mix.weight[0] * gauss(x, mix.mean[0], mix.variance[0]) >=
      mix.weight[1] * gauss(x, mix.mean[1], mix.variance[1])
        ? 1
        : 0;
  }
  // keep the component that most foreground seed voxels (inside the mask's grey range) fall in
  let votes0 = 0;
  let votes1 = 0;
  for (let i = 0; i < mask.length; i++) {
    if (seeds[i] !== 1) continue;
    const v = image[i]!;
    if (v < lo || v > hi) continue;
    if (prefers0[binOf(v)]) votes0++;
    else votes1++;
  }
  const keep0 = votes0 >= votes1;
  let removed = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i] || seeds[i] === 1) continue;
    if ((prefers0[binOf(image[i]!)] === 1) !== keep0) {
      mask[i] = 0;
      removed++;
    }
  }
  return removed;
}
