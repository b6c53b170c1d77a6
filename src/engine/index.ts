export * from "./engine.ts";
export { enginePython, locateEngineDir } from "./locate.ts";
export { encodeUint8, OnnxEngine, type OnnxEngineOptions, type OnnxTensorInfo } from "./onnx-engine.ts";
export { PROTOCOL_VERSION } from "./protocol.ts";
export * from "./tensor.ts";
export { type Reply, TorchEngine, type TorchEngineOptions } from "./torch-engine.ts";
