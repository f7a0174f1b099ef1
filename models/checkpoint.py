"""Checkpoint files: model, optimizer, step, phase and the full configuration in one torch file."""

import io

import torch

from pconvkit.errors import UserError
from pconvkit.files import load_torch_file, write_bytes_atomic
from pconvkit.models import BUNDLED_WEIGHTS
from pconvkit.models.unet import PConvUNet, UNetConfig

FORMAT = "pconvkit-checkpoint-v1"


def save_checkpoint(path, model, optimizer=None, step=0, phase=1, config=None, metadata=None, half=False):
    """Write atomically. `half` stores floating-point weights as fp16 (for the bundled model)."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "unet": model.config.as_dict(),
        "model": state,
        "step": step,
        "phase": phase,
        "config": config or {},
        "metadata": metadata or {},
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def read_checkpoint(path) -> dict:
    payload = load_torch_file(path, "checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a pconvkit checkpoint (for the naoto0804 port use `pconv convert`)")
    return payload


def load_model(path=None, device="cpu") -> tuple[PConvUNet, dict]:
    """The network of a checkpoint (default: the bundled model) in eval mode, and the checkpoint."""
    if path is None:
        if not BUNDLED_WEIGHTS.exists():
            raise UserError("no bundled PConv weights in this installation: pass --checkpoint FILE")
        path = BUNDLED_WEIGHTS
    payload = read_checkpoint(path)
    model = PConvUNet(UNetConfig(**payload["unet"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()})
    return model.to(device).eval(), payload
