export * from "./coordinate.ts";
export * from "./errors.ts";
export * from "./roi.ts";
export * from "./voxel-size.ts";
