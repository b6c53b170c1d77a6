import { describe, expect, it } from "vitest";
import { numberArg, positiveInt, workersOption } from "./args.ts";

describe("CLI number arguments", () => {
  it("accepts numbers in range and rejects everything else with one line naming the option", () => {
    expect(numberArg("--sigma")("12.5")).toBe(12.5);
    expect(numberArg("--clip", { min: 0 })("0")).toBe(0);
    expect(positiveInt("--workers")("2")).toBe(2);
    expect(() => positiveInt("--workers")("0")).toThrow("--workers: expected a whole number >= 1, got '0'");
    expect(() => positiveInt("--workers")("1.5")).toThrow(
      "--workers: expected a whole number >= 1, got '1.5'",
    );
    expect(() => numberArg("--sigma")("")).toThrow("--sigma: expected a number, got ''");
    expect(() => numberArg("--sigma")("abc")).toThrow(/--sigma: expected a number/);
    expect(() => numberArg("--p", { min: 0, max: 1 })("2")).toThrow(
      "--p: expected a number in 0..1, got '2'",
    );
  });

  it("builds the shared --workers option", () => {
    const o = workersOption();
    expect(o.flags).toBe("--workers <n>");
    expect(o.parseArg?.("3", undefined)).toBe(3);
  });
});
