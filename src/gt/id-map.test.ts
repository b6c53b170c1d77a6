import { describe, expect, it } from "vitest";
import { applyMapping, buildMapping, parseIds, parseMap } from "./id-map.ts";

describe("id mapping for gt import", () => {
  const src = Uint16Array.from([0, 3, 5, 7, 3, 0, 5, 9]);

  it("binary by default, by --ids, by --map and instances", () => {
    expect([...applyMapping(src, buildMapping({}), "s")]).toEqual([0, 1, 1, 1, 1, 0, 1, 1]);
    const ids = buildMapping({ ids: parseIds("5, 3") });
    expect(ids.dtype).toBe("uint8");
    expect([...applyMapping(src, ids, "s")]).toEqual([0, 1, 1, 0, 1, 0, 1, 0]);
    const map = buildMapping({ map: parseMap("3:1,5:2") });
    expect(map.dtype).toBe("uint32");
    expect([...applyMapping(src, map, "s")]).toEqual([0, 1, 2, 0, 1, 0, 2, 0]);
    expect(buildMapping({ map: parseMap("3:1,5:1") }).dtype).toBe("uint8");
    const inst = buildMapping({ instances: true });
    expect([...applyMapping(src, inst, "s")]).toEqual([...src]);
    expect([...applyMapping(src, buildMapping({ ids: [3, 9], instances: true }), "s")]).toEqual([
      0, 3, 0, 0, 3, 0, 0, 9,
    ]);
  });

  it("reads uint64 ids and refuses ids that do not fit", () => {
    const big = BigUint64Array.from([0n, 5n, 2n ** 40n]);
    expect([...applyMapping(big, buildMapping({ map: [[2 ** 40, 4]] }), "s")]).toEqual([0, 0, 4]);
    expect(() => applyMapping(big, buildMapping({ instances: true }), "seg.n5")).toThrow(
      /seg\.n5: id 1099511627776 does not fit a uint32 label; give --map/,
    );
    expect(() => applyMapping(Float32Array.from([1]), buildMapping({}), "f")).toThrow(/floating-point/);
  });

  it("rejects malformed lists", () => {
    expect(() => parseIds("3,x")).toThrow(/--ids: 'x' is not an id/);
    expect(() => parseIds("0")).toThrow(/is not an id/);
    expect(() => parseMap("3-1")).toThrow(/SOURCE:TARGET/);
    expect(() => parseMap("3:1,3:2")).toThrow(/mapped twice/);
    expect(() => buildMapping({ ids: [1], map: [[1, 2]] })).toThrow(/either --ids or --map/);
    expect(() => buildMapping({ map: [[1, 2]], instances: true })).toThrow(/drop --instances/);
  });
});
