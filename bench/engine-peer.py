"""Peer for bench/engine.ts: the same U-Net trained and run by PyTorch directly, in-process, without the
protocol, so the table shows what the engine's framing and pipe cost. Also counts the convolution FLOPs
of one forward pass (2 x multiply-adds) to relate the speed to the arithmetic.

    python3 bench/engine-peer.py SPEC_JSON Z Y X STEPS FORWARDS   (prints one JSON line)
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine"))
from organelle_engine.__main__ import _configure_threads  # noqa: E402

_configure_threads()
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from organelle_engine.unet import UNet, activate  # noqa: E402


def main() -> None:
    spec = json.loads(sys.argv[1])
    shape = [int(v) for v in sys.argv[2:5]]
    steps, forwards = int(sys.argv[5]), int(sys.argv[6])
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    torch.manual_seed(0)
    model = UNet(spec)
    flops = [0]

    def count(module, _inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1] * module.kernel_size[2]
        if isinstance(module, torch.nn.ConvTranspose3d):
            flops[0] += 2 * module.in_channels * module.out_channels * k * _inputs[0][0, 0].numel()
        else:
            flops[0] += 2 * module.in_channels * module.out_channels * k * output[0, 0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d))]
    x = torch.rand(1, spec.get("inChannels", 1), *shape) * 2 - 1
    with torch.inference_mode():
        out = model(x)
    for h in hooks:
        h.remove()
    labels = (torch.rand(out.shape[0], *out.shape[2:]) > 0.5).long()
    opt = torch.optim.Adam(model.parameters(), lr=3e-5, weight_decay=3e-5)
    model.train()
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        loss.item()
    train = (time.perf_counter() - t) / steps
    model.eval()
    t = time.perf_counter()
    with torch.inference_mode():
        for _ in range(forwards):
            activate(spec.get("head", "softmax2"), model(x)).float()
    forward = (time.perf_counter() - t) / forwards
    print(json.dumps({"train_s": train, "forward_s": forward, "flops": flops[0], "output": list(out.shape[2:])}))


if __name__ == "__main__":
    main()
