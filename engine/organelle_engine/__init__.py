"""organelle's PyTorch engine: a subprocess that owns tensors (models, train steps, inference,
augmentation on the device) and speaks the framed protocol in docs/engine.md on stdin/stdout.
It never reads the dataset store and never owns a loop: the TypeScript side drives it."""

PROTOCOL_VERSION = 1
ENGINE_VERSION = "0.1.0"
