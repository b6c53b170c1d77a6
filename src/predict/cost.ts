import type { Coordinate } from "../core/coordinate.ts";
import { levelFmaps, type UNetSpec } from "../learn/unet-spec.ts";

/*
 * What one forward pass of a valid-padding U-Net costs, from its spec and input shape alone (the same
 * walk as the shape arithmetic in src/learn/shapes.ts): multiply-adds of every convolution (FLOPs = 2 x
 * MACs), and a bound on the activation memory, to choose inference tiles and to compare measured
 * throughput with the machine's FLOP rate.
 */

interface Walk {
  /** Multiply-adds of the whole pass. */
  macs: number;
  /** Largest sum of live feature-map voxels x channels at any convolution (skips held included). */
  peakValues: number;
}

function walk(spec: UNetSpec, input: Coordinate): Walk {
  const L = spec.downsample.length;
  let size = [input[0], input[1], input[2]];
  const vol = (s: readonly number[]) => s[0]! * s[1]! * s[2]!;
  let macs = 0;
  let peak = 0;
  let held = 0; // values of the skip connections kept for the way up
  let cin = spec.inChannels;
  const conv = (k: Coordinate, cout: number) => {
    const before = vol(size);
    size = size.map((s, d) => s - (k[d]! - 1));
    const after = vol(size);
    macs += after * cin * cout * k[0] * k[1] * k[2];
    peak = Math.max(peak, held + before * cin + after * cout);
    cin = cout;
  };
  const skips: number[][] = [];
  for (let i = 0; i < L; i++) {
    for (const k of spec.kernels[i]!) conv(k, levelFmaps(spec, i));
    skips.push(size);
    held += vol(size) * cin;
    const f = spec.downsample[i]!;
    size = size.map((s, d) => Math.floor(s / f[d]!));
  }
  for (const k of spec.kernels[L]!) conv(k, levelFmaps(spec, L));
  for (let i = L - 1; i >= 0; i--) {
    const f = spec.downsample[i]!;
    const below = cin;
    if (spec.upsampling === "transposed") macs += vol(size) * below * below * f[0] * f[1] * f[2];
    size = size.map((s, d) => s * f[d]!);
    const skip = skips[i]!;
    held -= vol(skip) * levelFmaps(spec, i);
    cin = below + levelFmaps(spec, i);
    peak = Math.max(peak, held + vol(skip) * levelFmaps(spec, i) + vol(size) * (below + cin));
    for (const k of spec.kernels[i]!) conv(k, levelFmaps(spec, i));
  }
  conv(spec.headKernel, spec.outChannels);
  return { macs, peakValues: peak };
}

/** Floating-point operations (2 per multiply-add) of one forward pass at `input` (a valid input shape). */
export function forwardFlops(spec: UNetSpec, input: Coordinate): number {
  return 2 * walk(spec, input).macs;
}

/**
 * Bytes of float32 activations a forward pass at `input` needs at its peak (the inputs and outputs of
 * the largest convolution plus the skip connections held for the way up), times 1.5 for the runtime's
 * scratch space (im2col buffers, allocator slack). An estimate to bound tile sizes, not a guarantee.
 */
export function activationBytes(spec: UNetSpec, input: Coordinate): number {
  return 4 * 1.5 * walk(spec, input).peakValues;
}
