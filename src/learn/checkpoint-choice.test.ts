import { describe, expect, it } from "vitest";
import { chooseCheckpoints } from "./checkpoint-choice.ts";

const cp = (step: number, loss: number, f1: number) => ({ step, loss, f1 });

describe("checkpoint choice", () => {
  it("picks the best F1 and the middle of the longest flat stretch of validation loss", () => {
    const list = [
      cp(1000, 0.9, 0.5),
      cp(2000, 0.5, 0.7),
      cp(3000, 0.31, 0.82),
      cp(4000, 0.3, 0.86),
      cp(5000, 0.305, 0.85),
      cp(6000, 0.312, 0.87),
      cp(7000, 0.4, 0.8),
      cp(8000, 0.31, 0.84),
    ];
    const c = chooseCheckpoints(list, 0.05);
    expect(c.best!.step).toBe(6000);
    // limit 0.315: 3000..6000 (4 checkpoints) beats 8000 alone; the lower middle is 4000
    expect(c.plateau).toMatchObject({ from: 3000, to: 6000, count: 4, chosen: 4000, minLoss: 0.3 });
  });

  it("breaks ties towards the run holding the minimum; one checkpoint is a plateau of one", () => {
    const c = chooseCheckpoints([cp(1, 0.5, 0.1), cp(2, 0.9, 0.2), cp(3, 0.49, 0.3), cp(4, 0.9, 0.3)], 0.01);
    expect(c.plateau).toMatchObject({ from: 3, to: 3, chosen: 3, count: 1 });
    expect(c.best!.step).toBe(3); // tie in F1 -> the earlier
    expect(chooseCheckpoints([cp(5, 0.2, 0.9)], 0.05).plateau).toMatchObject({ from: 5, to: 5, chosen: 5 });
    expect(chooseCheckpoints([], 0.05)).toEqual({ best: null, plateau: null });
  });
});
