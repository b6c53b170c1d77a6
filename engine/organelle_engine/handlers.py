"""The messages of protocol version 1 (docs/engine.md): one function per message type, each taking the
request header and its buffers (as tensors) and returning (result fields, result tensors)."""

from __future__ import annotations

import copy
import hashlib
import os
import platform
import sys
import traceback
import warnings
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch.nn import functional as F

from . import ENGINE_VERSION, PROTOCOL_VERSION
from .augment import AugmentError, warp
from .unet import SpecError, UNet, activate, parameter_count, validate_spec


class Tensors(dict):
    """Request buffers as tensors by name; `wire` keeps each buffer's protocol dtype (see TORCH_DTYPE)."""

    def __init__(self, tensors: Dict[str, torch.Tensor], wire: Dict[str, str]):
        super().__init__(tensors)
        self.wire = wire


Result = Tuple[Dict[str, Any], List[Tuple[str, str, torch.Tensor]]]

CHECKPOINT_FORMAT = "organelle-checkpoint"

# torch has no unsigned 16/32-bit types: such buffers travel as the signed type of the same width, which
# keeps every bit through copies and nearest-neighbour sampling; the name goes back with the result.
TORCH_DTYPE = {
    "uint8": torch.uint8,
    "int8": torch.int8,
    "bool": torch.bool,
    "uint16": torch.int16,
    "int16": torch.int16,
    "float16": torch.float16,
    "uint32": torch.int32,
    "int32": torch.int32,
    "float32": torch.float32,
    "int64": torch.int64,
    "float64": torch.float64,
}
WIRE_DTYPE = {v: k for k, v in TORCH_DTYPE.items() if k not in ("uint16", "uint32")}


class RequestError(ValueError):
    """The request is wrong (a missing field, a shape that does not fit): reported as InvalidArgument."""


def to_tensor(dtype: str, shape: List[int], data: bytearray) -> torch.Tensor:
    if len(data) == 0:
        return torch.empty(shape, dtype=TORCH_DTYPE[dtype])
    return torch.frombuffer(data, dtype=TORCH_DTYPE[dtype]).reshape(shape)


class Engine:
    def __init__(self) -> None:
        self.device = torch.device("cpu")
        self.configured = False
        self.deterministic = False
        self.autocast: Optional[torch.dtype] = None
        self.model: Optional[UNet] = None
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.optimizer_config: Optional[Dict[str, Any]] = None
        self.step = 0
        self.handlers: Dict[str, Callable[[Dict[str, Any], Tensors], Result]] = {
            "hello": self.hello,
            "create_model": self.create_model,
            "configure_optimizer": self.configure_optimizer,
            "train_step": self.train_step,
            "forward": self.forward,
            "augment": self.augment,
            "save_checkpoint": self.save_checkpoint,
            "load_checkpoint": self.load_checkpoint,
            "export_onnx": self.export_onnx,
            "export_torchscript": self.export_torchscript,
        }

    # -- configuration -------------------------------------------------------------------------------

    def configure(self, options: Dict[str, Any]) -> None:
        want = options.get("device", "auto")
        if want == "auto":
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            try:
                device = torch.device(want)
            except RuntimeError:
                raise RequestError(f"device {want!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
            if device.type == "cuda" and not torch.cuda.is_available():
                raise RequestError(f"device {want!r}: this PyTorch ({torch.__version__}) sees no CUDA device")
            if device.type not in ("cpu", "cuda"):
                raise RequestError(f"device {want!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        if self.model is not None and device != self.device:
            raise RequestError("cannot change the device while a model is loaded")
        self.device = device
        threads = options.get("threads")
        if threads is None:
            threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if not isinstance(threads, int) or threads < 1:
            raise RequestError(f"threads must be a whole number >= 1, got {threads!r}")
        torch.set_num_threads(threads)
        self.deterministic = bool(options.get("deterministic", False))
        torch.use_deterministic_algorithms(self.deterministic)
        if device.type == "cuda":
            torch.cuda.set_device(device)
            torch.backends.cudnn.benchmark = not self.deterministic
            torch.backends.cudnn.deterministic = self.deterministic
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        autocast = options.get("autocast", "bf16" if device.type == "cuda" else "off")
        if autocast not in ("bf16", "fp16", "off"):
            raise RequestError(f"autocast {autocast!r}: choose bf16, fp16 or off")
        if autocast == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            autocast = "fp16"
        if autocast != "off" and device.type == "cpu":
            raise RequestError("autocast is for CUDA devices; on the CPU use autocast 'off'")
        self.autocast = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[autocast]
        self.configured = True

    def ensure_configured(self) -> None:
        if not self.configured:
            self.configure({})

    def autocast_context(self):
        if self.autocast is None:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.autocast)

    def input(self, t: torch.Tensor) -> torch.Tensor:
        x = t.to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return x

    def require_model(self) -> UNet:
        if self.model is None:
            raise RequestError("no model: send create_model or load_checkpoint first")
        return self.model

    def build(self, spec: Dict[str, Any], seed: Optional[int]) -> UNet:
        if seed is not None:
            torch.manual_seed(int(seed))
        model = UNet(spec).to(self.device)
        if self.device.type == "cuda":
            model = model.to(memory_format=torch.channels_last_3d)
        self.model = model
        self.optimizer = None
        self.optimizer_config = None
        self.step = 0
        return model

    # -- messages ------------------------------------------------------------------------------------

    def hello(self, req: Dict[str, Any], _: Tensors) -> Result:
        wanted = req.get("protocol", PROTOCOL_VERSION)
        if wanted != PROTOCOL_VERSION:
            raise RequestError(f"protocol version {wanted} requested; this engine speaks {PROTOCOL_VERSION}")
        self.configure(req.get("options") or {})
        cuda = []
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                cuda.append({"index": i, "name": p.name, "memoryBytes": p.total_memory})
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        return {
            "protocol": PROTOCOL_VERSION,
            "engine": ENGINE_VERSION,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "executable": sys.executable,
            "device": self.device.type,
            "deviceName": (
                torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else (platform.processor() or platform.machine())
            ),
            "threads": torch.get_num_threads(),
            "cudnn": cudnn,
            "cuda": torch.version.cuda,
            "cudaDevices": cuda,
            "mkldnn": torch.backends.mkldnn.is_available(),
            "deterministic": self.deterministic,
            "autocast": {torch.bfloat16: "bf16", torch.float16: "fp16", None: "off"}[self.autocast],
        }, []

    def create_model(self, req: Dict[str, Any], _: Tensors) -> Result:
        self.ensure_configured()
        shape = _shape3(req.get("inputShape"), "inputShape")
        model = self.build(req.get("spec"), req.get("seed"))
        x = self.input(torch.zeros((1, model.spec["inChannels"], *shape)))
        model.eval()
        with torch.no_grad(), self.autocast_context():
            try:
                y = model(x)
            except SpecError:
                self.model = None
                raise
        return {
            "parameters": parameter_count(model),
            "spec": model.spec,
            "inputShape": shape,
            "outputShape": list(y.shape[-3:]),
            "outChannels": int(y.shape[1]),
        }, []

    def configure_optimizer(self, req: Dict[str, Any], _: Tensors) -> Result:
        model = self.require_model()
        config = {
            "lr": float(req.get("lr", 3e-5)),
            "weightDecay": float(req.get("weightDecay", 3e-5)),
            "betas": [float(b) for b in req.get("betas", [0.9, 0.999])],
            "eps": float(req.get("eps", 1e-8)),
        }
        self.optimizer = _adam(model, config)
        self.optimizer_config = config
        return dict(config), []

    def train_step(self, req: Dict[str, Any], buffers: Tensors) -> Result:
        model = self.require_model()
        if self.optimizer is None:
            raise RequestError("no optimizer: send configure_optimizer first")
        raw = self.input(_raw(buffers, model))
        head = model.spec["head"]
        if req.get("lr") is not None:
            # The caller's learning-rate schedule: this step's rate, kept for the following steps.
            if not _is_number(req["lr"]) or not req["lr"] >= 0:
                raise RequestError(f"train_step: lr must be a number >= 0, got {req['lr']!r}")
            for group in self.optimizer.param_groups:
                group["lr"] = float(req["lr"])
            self.optimizer_config["lr"] = float(req["lr"])
        model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast_context():
            logits = model(raw)
        logits = logits.float()
        target, weights = _targets(head, buffers, logits, self.device)
        per_channel = None
        if head == "softmax2":
            loss = (F.cross_entropy(logits, target, reduction="none") * weights).mean()
        elif head == "sigmoid":
            loss = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weights).mean()
        else:
            sq = (torch.tanh(logits) - target) ** 2 * weights
            per_channel = sq.mean(dim=(0, 2, 3, 4))
            loss = per_channel.sum()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        out: Dict[str, Any] = {"loss": float(loss.item()), "step": self.step}
        if per_channel is not None:
            out["channelLosses"] = [float(v) for v in per_channel.tolist()]
        tensors = []
        if req.get("prediction"):
            tensors.append(_prediction(head, logits.detach(), req["prediction"], req.get("channels")))
        return out, tensors

    def forward(self, req: Dict[str, Any], buffers: Tensors) -> Result:
        model = self.require_model()
        raw = self.input(_raw(buffers, model))
        model.eval()
        with torch.inference_mode(), self.autocast_context():
            logits = model(raw)
        with torch.inference_mode():
            pred = _prediction(model.spec["head"], logits.float(), req.get("output", "float32"), req.get("channels"))
        return {}, [pred]

    def augment(self, req: Dict[str, Any], buffers: Tensors) -> Result:
        self.ensure_configured()
        out_shape = _shape3(req.get("outputShape"), "outputShape")
        matrix = req.get("matrix") or [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        if (
            not isinstance(matrix, list)
            or len(matrix) != 3
            or not all(isinstance(r, list) and len(r) == 3 and all(_is_number(v) for v in r) for r in matrix)
        ):
            raise RequestError("augment: matrix must be 3 rows of 3 numbers (z,y,x)")
        translation = req.get("translation") or [0, 0, 0]
        if not isinstance(translation, list) or len(translation) != 3 or not all(_is_number(v) for v in translation):
            raise RequestError("augment: translation must be 3 numbers (z,y,x)")
        sampling = req.get("sampling") or {}
        displacement = buffers.pop("displacement", None)
        if displacement is not None:
            if displacement.dim() != 4 or displacement.shape[0] != 3 or min(displacement.shape[1:]) < 2:
                raise RequestError(
                    f"augment: displacement must be float32 [3, gz, gy, gx] with at least 2 control points per axis, got {list(displacement.shape)}"
                )
        arrays: Dict[str, torch.Tensor] = {}
        modes: Dict[str, Tuple[str, float]] = {}
        wire: Dict[str, str] = {}
        for name, t in buffers.items():
            if t.dim() < 3:
                raise RequestError(f"augment: array '{name}' needs at least 3 dimensions (z,y,x last)")
            s = sampling.get(name) or {}
            mode = s.get("mode", "linear" if t.is_floating_point() else "nearest")
            if mode not in ("linear", "nearest"):
                raise RequestError(f"augment: sampling mode {mode!r} of '{name}': choose linear or nearest")
            if mode == "linear" and t.dtype != torch.float32:
                raise RequestError(f"augment: array '{name}' is {WIRE_DTYPE.get(t.dtype, t.dtype)}; linear sampling needs float32")
            fill = s.get("fill", 0)
            if not _is_number(fill):
                raise RequestError(f"augment: fill of '{name}' must be a number")
            arrays[name] = t.to(self.device)
            modes[name] = (mode, float(fill) if t.is_floating_point() else int(fill))
            wire[name] = buffers.wire.get(name, WIRE_DTYPE[t.dtype])
        try:
            warped = warp(arrays, modes, out_shape, matrix, translation, displacement)
        except AugmentError as e:
            raise RequestError(f"augment: {e}") from None
        # Intensities are the floating-point arrays (raw), whichever way they were resampled; labels and
        # masks are integers.
        for name in [name for name, t in arrays.items() if t.is_floating_point()]:
            warped[name] = _intensity(warped[name], req.get("intensity"), req.get("rescale"))
        return {}, [(name, wire[name], t) for name, t in warped.items()]

    def save_checkpoint(self, req: Dict[str, Any], _: Tensors) -> Result:
        model = self.require_model()
        path = _path(req)
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            "engine": ENGINE_VERSION,
            "torch": torch.__version__,
            "spec": model.spec,
            "model": model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "optimizerConfig": self.optimizer_config,
            "step": self.step,
            "meta": req.get("meta"),
        }
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return {"path": path, "step": self.step, "bytes": os.path.getsize(path), "digest": _digest(model)}, []

    def load_checkpoint(self, req: Dict[str, Any], _: Tensors) -> Result:
        self.ensure_configured()
        path = _path(req)
        if not os.path.isfile(path):
            raise RequestError(f"{path}: no such checkpoint file")
        state = torch.load(path, map_location=self.device)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise RequestError(f"{path}: not an organelle checkpoint")
        model = self.build(validate_spec(state["spec"]), None)
        model.load_state_dict(state["model"])
        if state.get("optimizer") is not None and req.get("optimizer", True):
            self.optimizer_config = state["optimizerConfig"]
            self.optimizer = _adam(model, self.optimizer_config)
            self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state.get("step", 0))
        return {
            "path": path,
            "spec": model.spec,
            "step": self.step,
            "meta": state.get("meta"),
            "parameters": parameter_count(model),
            "optimizer": self.optimizer_config,
            "digest": _digest(model),
        }, []

    def _export_module(self, req: Dict[str, Any]) -> Tuple[torch.nn.Module, torch.Tensor]:
        model = self.require_model()
        shape = _shape3(req.get("inputShape"), "inputShape")
        batch = req.get("batch", 1)
        if not isinstance(batch, int) or batch < 1:
            raise RequestError(f"batch must be a whole number >= 1, got {batch!r}")
        net = copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).float().eval()
        wrapped = _WithHead(net, model.spec["head"], _channels(req.get("channels"), model.spec["outChannels"]))
        return wrapped, torch.zeros((batch, model.spec["inChannels"], *shape))

    def export_onnx(self, req: Dict[str, Any], _: Tensors) -> Result:
        path = _path(req)
        opset = req.get("opset", 13)
        if not isinstance(opset, int) or opset < 13:
            raise RequestError(f"opset must be a whole number >= 13, got {opset!r}")
        module, x = self._export_module(req)
        with torch.no_grad():
            y = module(x)
        axes = {"raw": {0: "batch"}, "prediction": {0: "batch"}} if req.get("dynamicBatch", True) else None
        tmp = f"{path}.tmp-{os.getpid()}"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            with warnings.catch_warnings():
                # tracing warns about every shape-derived crop offset; the exported shapes are fixed
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module, x, tmp, opset_version=opset, input_names=["raw"], output_names=["prediction"], dynamic_axes=axes
                )
            checked = _onnx_check(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return {
            "path": path,
            "opset": opset,
            "inputShape": list(x.shape),
            "outputShape": list(y.shape),
            "inputName": "raw",
            "outputName": "prediction",
            "checked": checked,
            "bytes": os.path.getsize(path),
        }, []

    def export_torchscript(self, req: Dict[str, Any], _: Tensors) -> Result:
        path = _path(req)
        module, x = self._export_module(req)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, x)
            y = traced(x)
        tmp = f"{path}.tmp-{os.getpid()}"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            traced.save(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return {"path": path, "inputShape": list(x.shape), "outputShape": list(y.shape), "bytes": os.path.getsize(path)}, []


class _WithHead(torch.nn.Module):
    """The network plus its activation (and a channel choice): what inference consumers want."""

    def __init__(self, net: UNet, head: str, channels: Optional[List[int]]):
        super().__init__()
        self.net = net
        self.head = head
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = activate(self.head, self.net(x))
        if self.channels is not None:
            y = y[:, self.channels]
        return y


def _pair(v: Any, what: str) -> List[float]:
    if not isinstance(v, list) or len(v) != 2 or not all(_is_number(x) for x in v):
        raise RequestError(f"augment: {what} must be [low, high]")
    return [float(v[0]), float(v[1])]


def _intensity(x: torch.Tensor, intensity: Any, rescale: Any) -> torch.Tensor:
    """gunpowder's IntensityAugment (a' = mean + (a - mean) * scale + shift over the whole array, then an
    optional clip), then a final affine map such as [0, 1] -> [-1, 1] (rescale {scale: 2, shift: -1})."""
    if intensity is not None:
        if not isinstance(intensity, dict):
            raise RequestError("augment: intensity must be {scale, shift, clip?}")
        scale, shift = intensity.get("scale", 1.0), intensity.get("shift", 0.0)
        if not _is_number(scale) or not _is_number(shift):
            raise RequestError("augment: intensity scale and shift must be numbers")
        mean = x.mean()
        x = (x - mean) * float(scale) + (mean + float(shift))
        if intensity.get("clip") is not None:
            lo, hi = _pair(intensity["clip"], "intensity.clip")
            x = x.clamp(lo, hi)
    if rescale is not None:
        if not isinstance(rescale, dict) or not _is_number(rescale.get("scale", 1)) or not _is_number(rescale.get("shift", 0)):
            raise RequestError("augment: rescale must be {scale, shift} numbers")
        x = x * float(rescale.get("scale", 1)) + float(rescale.get("shift", 0))
    return x


def _adam(model: UNet, config: Dict[str, Any]) -> torch.optim.Adam:
    return torch.optim.Adam(
        model.parameters(),
        lr=config["lr"],
        weight_decay=config["weightDecay"],
        betas=tuple(config["betas"]),
        eps=config["eps"],
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shape3(v: Any, what: str) -> List[int]:
    if not isinstance(v, list) or len(v) != 3 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in v):
        raise RequestError(f"{what} must be [z, y, x] whole numbers >= 1, got {v!r}")
    return list(v)


def _path(req: Dict[str, Any]) -> str:
    p = req.get("path")
    if not isinstance(p, str) or not p:
        raise RequestError("path must be a non-empty string")
    return p


def _channels(v: Any, out_channels: int) -> Optional[List[int]]:
    if v is None:
        return None
    if not isinstance(v, list) or not v or not all(isinstance(c, int) and 0 <= c < out_channels for c in v):
        raise RequestError(f"channels must be a non-empty list of output channel indices 0..{out_channels - 1}, got {v!r}")
    return v


def _raw(buffers: Tensors, model: UNet) -> torch.Tensor:
    raw = buffers.get("raw")
    if raw is None:
        raise RequestError("buffer 'raw' (float32 [batch, channels, z, y, x]) is missing")
    cin = model.spec["inChannels"]
    if raw.dtype != torch.float32 or raw.dim() != 5 or raw.shape[1] != cin:
        raise RequestError(
            f"buffer 'raw' must be float32 [batch, {cin}, z, y, x], got {WIRE_DTYPE.get(raw.dtype, raw.dtype)} {list(raw.shape)}"
        )
    return raw


def _targets(head: str, buffers: Tensors, logits: torch.Tensor, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Labels and weights in the layout the head's loss needs; weights default to 1."""
    labels = buffers.get("labels")
    if labels is None:
        raise RequestError("buffer 'labels' is missing")
    b, c = logits.shape[:2]
    spatial = list(logits.shape[2:])

    def fit(t: torch.Tensor, name: str, channels: List[int]) -> torch.Tensor:
        # [B, z, y, x] is accepted for one channel; the loss broadcasts a single weight channel
        if t.dim() == 4:
            t = t.unsqueeze(1)
        if t.dim() != 5 or t.shape[0] != b or t.shape[1] not in channels or list(t.shape[2:]) != spatial:
            want = " or ".join(f"[{b}, {n}, {', '.join(map(str, spatial))}]" for n in channels)
            raise RequestError(f"buffer '{name}' {list(t.shape)} does not fit the network output: expected {want}")
        return t.to(device, non_blocking=True)

    if head == "softmax2":
        target = fit(labels, "labels", [1])[:, 0].long()
        if not bool(((target == 0) | (target == 1)).all()):
            raise RequestError("buffer 'labels': head softmax2 needs class labels 0 and 1")
    elif head == "sigmoid":
        target = fit(labels, "labels", [1]).float()
    else:
        target = fit(labels, "labels", [c]).float()
    w = buffers.get("weights")
    if w is None:
        weights = torch.ones_like(target, dtype=torch.float32)
    else:
        weights = fit(w, "weights", sorted({1, c}) if head == "tanh-distance" else [1]).float()
        if head == "softmax2":
            weights = weights[:, 0]
    return target, weights


def _prediction(head: str, logits: torch.Tensor, output: Any, channels: Any) -> Tuple[str, str, torch.Tensor]:
    if output not in ("float32", "uint8"):
        raise RequestError(f"prediction output {output!r}: choose float32 or uint8")
    sel = _channels(channels, logits.shape[1])
    y = activate(head, logits)
    if sel is not None:
        y = y[:, sel]
    if output == "uint8":
        # probabilities 0..1 and distances -1..1 both map onto 0..255 (distance threshold 0 -> 127.5)
        y = (y + 1) * 127.5 if head == "tanh-distance" else y * 255
        return ("prediction", "uint8", y.round_().clamp_(0, 255).to(torch.uint8))
    return ("prediction", "float32", y.float())


def _digest(model: UNet) -> str:
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(_tensor_bytes(t))
    return h.hexdigest()


def _tensor_bytes(t: torch.Tensor) -> bytes:
    import ctypes

    c = t.detach().cpu().contiguous()
    return ctypes.string_at(c.data_ptr(), c.numel() * c.element_size())


def _onnx_check(path: str) -> Optional[str]:
    """The ONNX checker's verdict when python3-onnx is installed (None when it is not)."""
    try:
        import onnx
    except ImportError:
        return None
    onnx.checker.check_model(path, full_check=True)
    return f"onnx {onnx.__version__} checker"


def error_fields(e: BaseException) -> Dict[str, Any]:
    invalid = (RequestError, SpecError, AugmentError)
    kind = "InvalidArgument" if isinstance(e, invalid) else type(e).__name__
    return {"type": kind, "message": str(e) or type(e).__name__, "traceback": traceback.format_exc()}
