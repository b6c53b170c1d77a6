import { decode } from "fast-png";
import { describe, expect, it } from "vitest";
import { niceTicks, plotPng } from "./plot.ts";

describe("line plots", () => {
  it("chooses round tick values", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 2000, 4)).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it("draws the series in their colours inside the plot area", () => {
    const png = plotPng(
      [
        {
          name: "train",
          color: [200, 0, 0],
          points: [
            [0, 1],
            [50, 0.5],
            [100, 0.2],
          ],
        },
        {
          name: "val",
          color: [0, 0, 200],
          points: [
            [0, 0.9],
            [100, 0.3],
          ],
        },
      ],
      { title: "Loss", width: 320, height: 200, xLabel: "step" },
    );
    const img = decode(png);
    expect([img.width, img.height, img.channels]).toEqual([320, 200, 3]);
    const px = img.data as Uint8Array;
    let red = 0;
    let blue = 0;
    for (let i = 0; i < px.length; i += 3) {
      if (px[i] === 200 && px[i + 1] === 0 && px[i + 2] === 0) red++;
      if (px[i] === 0 && px[i + 1] === 0 && px[i + 2] === 200) blue++;
    }
    expect(red).toBeGreaterThan(200);
    expect(blue).toBeGreaterThan(200);
    // the top-left corner stays background
    expect([px[0], px[1], px[2]]).toEqual([255, 255, 255]);
  });
});
