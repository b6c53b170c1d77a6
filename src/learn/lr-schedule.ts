/*
 * Learning-rate schedules. ASEM trains at a constant rate for 100k+ GPU steps; a CPU run of a few hundred
 * steps ends where a constant rate still makes the weights jump from one checkpoint to the next, and a
 * cosine decay to 0 settles them. The rate is a pure function of the step, so a resumed run continues on
 * the same curve.
 */

export type LrSchedule = "constant" | "cosine";

/** The learning rate of (1-based) `step` of `steps`. */
export function learningRateAt(schedule: LrSchedule, base: number, step: number, steps: number): number {
  if (schedule === "constant" || steps <= 1) return base;
  const t = Math.min(1, Math.max(0, (step - 1) / (steps - 1)));
  return base * 0.5 * (1 + Math.cos(Math.PI * t));
}
