"""Checkpoint files: model, optimizer, step, phase and the full configuration in one torch file."""

import io

import torch

from pconvkit.errors import UserError
from pconvkit.files import read_torch_file, write_bytes_atomic
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
    write_payload(path, payload)


def write_payload(path, payload: dict):
    """Write a checkpoint's payload (save_checkpoint's, or one read and changed) atomically."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())


FILE_HASH = "file_hash"  # set by read_checkpoint, never stored: the file_hash of the bytes it read


def read_checkpoint(path, data: bytes | None = None) -> dict:
    """The checkpoint's payload, and under FILE_HASH the hash of the very bytes it came from (the
    weights' identity in a run's rows: hashing the file again could hash another file). `data`:
    the file's bytes, where the caller has read them."""
    payload, digest = read_torch_file(path, "checkpoint", data)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a pconvkit checkpoint (for the naoto0804 port use `pconv convert`)")
    return payload | {FILE_HASH: digest}


def load_model(path=None, device="cpu", data: bytes | None = None) -> tuple[PConvUNet, dict]:
    """The network of a checkpoint (default: the bundled model) in eval mode, and the checkpoint
    (`read_checkpoint`; `data`: the file's bytes, where the caller has read them)."""
    if path is None:
        if not BUNDLED_WEIGHTS.exists():
            raise UserError("no bundled PConv weights in this installation: pass --checkpoint FILE")
        path = BUNDLED_WEIGHTS
    payload = read_checkpoint(path, data)
    try:
        model = PConvUNet(UNetConfig(**payload["unet"]))
    except (TypeError, ValueError, KeyError) as err:
        raise UserError(f"{path}: its network configuration is not valid ({err})") from None
    state = payload.get("model")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: its 'model' entry is not a state dict of tensors")
    _check_weights(path, model, state)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.to(device).eval(), payload


def _check_weights(path, model, state: dict):
    """Every parameter present, none extra, each of the configured network's shape, all finite."""
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        parts = ([f"{len(missing)} missing (first {missing[0]})"] if missing else []) + (
            [f"{len(extra)} unexpected (first {extra[0]})"] if extra else []
        )
        raise UserError(f"{path}: its weights do not fit its network configuration: {', '.join(parts)}")
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise UserError(
                f"{path}: {key} has shape {tuple(value.shape)} but the configured network needs "
                f"{tuple(expected[key].shape)}: the configuration disagrees with the weights"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise UserError(f"{path}: {key} holds NaN or infinite values: the checkpoint is damaged")
