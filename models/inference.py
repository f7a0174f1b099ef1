"""Inpainting images of any size with a trained network, with PyTorch or with ONNX Runtime.

Importing torch takes about 3 s on a 2-core machine, ten times what the bundled network needs for a
512x512 image, so the one-image command (`pconv inpaint`) runs the network as an ONNX graph with
ONNX Runtime where it is installed. The graph is exported from the checkpoint once, with torch,
and cached by the checkpoint's hash (remembered per file path, size and modification time, so that
a call does not read the whole checkpoint to find its graph). This module imports torch only where a
function needs it.
"""
import hashlib
import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np

from pconvkit.models import BUNDLED_WEIGHTS
from pconvkit.errors import UserError
from pconvkit.files import atomic_path, write_text_atomic

ONNX_EXPORT_VERSION = 1  # part of the cache key: bump when the exported graph changes
ONNX_OPSET = 17


def pick_device(name: str = "auto"):
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: not a device name (auto, cpu, cuda, cuda:1 ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def check_pair(image: np.ndarray, valid_mask: np.ndarray):
    if image.shape[:2] != valid_mask.shape[:2]:
        raise UserError(f"mask is {valid_mask.shape[1]}x{valid_mask.shape[0]} but image is {image.shape[1]}x{image.shape[0]}")
    if not np.isin(np.unique(valid_mask), (0, 1)).all():
        raise UserError("mask is not binary")


def pad_to_stride(images: np.ndarray, valid_masks: np.ndarray, stride: int):
    """(B, H, W, 3) images and (B, H, W) masks padded at the bottom and right to multiples of
    `stride`: images by reflection (replication when the pad exceeds the side), masks with hole,
    so padding is never read as content. Returns float32 NCHW arrays (images, masks)."""
    _, height, width = valid_masks.shape
    pad_h, pad_w = -height % stride, -width % stride
    mode = "reflect" if pad_h < height and pad_w < width else "edge"
    images = np.pad(np.asarray(images, np.float32), ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode=mode)
    masks = np.pad(np.asarray(valid_masks, np.float32), ((0, 0), (0, pad_h), (0, pad_w)))
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), masks[:, None]


def composite_numpy(output: np.ndarray, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """I_comp: known pixels from `image`, holes from `output` clipped to [0, 1]. Images (..., H, W, 3)
    float, masks (..., H, W) with 1 = valid; float32 out."""
    return np.where(valid_mask[..., None].astype(bool), image, np.clip(output, 0, 1)).astype(np.float32)


def _to_images(output: np.ndarray, height: int, width: int) -> np.ndarray:
    """Network output (B, 3, H', W') of padded inputs -> (B, H, W, 3)."""
    return output[:, :, :height, :width].transpose(0, 2, 3, 1)


def inpaint_batch(model, images: np.ndarray, valid_masks: np.ndarray) -> np.ndarray:
    """images (B, H, W, 3) float in [0, 1], masks (B, H, W) with 1 = valid -> composited (B, H, W, 3)."""
    import torch
    device = next(model.parameters()).device
    padded, masks = pad_to_stride(images, valid_masks, model.stride)
    with torch.no_grad():
        output = model(torch.from_numpy(padded).to(device), torch.from_numpy(masks).to(device)).float().cpu().numpy()
    return composite_numpy(_to_images(output, *valid_masks.shape[1:]), images, valid_masks)


def inpaint(model, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """One image (H, W, 3) in [0, 1] and its mask (H, W), 1 = valid -> composited (H, W, 3)."""
    check_pair(image, valid_mask)
    return inpaint_batch(model, image[None], valid_mask[None])[0]


def make_inpainter(checkpoint=None, device: str = "auto", engine: str = "auto"):
    """A callable (image (H, W, 3), mask (H, W)) -> composited image for one checkpoint (default: the
    bundled model). engine 'onnx': ONNX Runtime on the CPU; 'torch': PyTorch on `device`; 'auto':
    onnx where it is installed and `device` is not a GPU, else torch."""
    on_cpu = device in ("auto", "cpu")
    if engine == "auto":
        engine = "onnx" if onnx_runtime_available() and on_cpu else "torch"
    if engine == "onnx":
        if not on_cpu:
            raise UserError(f"--engine onnx runs on the CPU, not on --device {device}")
        if not onnx_runtime_available():
            raise UserError("--engine onnx needs the onnxruntime and onnx packages: pip install onnxruntime onnx")
        return OnnxInpainter(checkpoint)
    if engine != "torch":
        raise UserError(f"unknown engine {engine!r}: auto, onnx or torch")
    from pconvkit.models.checkpoint import load_model
    model, _ = load_model(checkpoint, pick_device(device))
    return lambda image, valid_mask: inpaint(model, image, valid_mask)


def onnx_runtime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


class OnnxInpainter:
    """A checkpoint's network run by ONNX Runtime on the CPU; exported once, cached."""

    def __init__(self, checkpoint=None, cache=None, threads: int | None = None):
        import onnxruntime
        graph = cached_onnx_graph(checkpoint, cache)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.stride = int(self.session.get_modelmeta().custom_metadata_map["stride"])

    def __call__(self, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
        check_pair(image, valid_mask)
        padded, masks = pad_to_stride(image[None], valid_mask[None], self.stride)
        output = self.session.run(["output"], {"image": padded, "mask": masks})[0]
        return composite_numpy(_to_images(output, *valid_mask.shape)[0], image, valid_mask)


def cached_onnx_graph(checkpoint=None, cache=None) -> Path:
    """The ONNX file of a checkpoint (default: the bundled model), exported on first use."""
    from pconvkit.sampledata import cache_dir
    checkpoint = Path(checkpoint or BUNDLED_WEIGHTS)
    if not checkpoint.is_file():
        raise UserError(f"no checkpoint at {checkpoint}")
    cache = Path(cache or cache_dir() / "onnx")
    graph = cache / f"{_checkpoint_digest(checkpoint, cache)[:20]}-v{ONNX_EXPORT_VERSION}.onnx"
    if not graph.exists():
        try:
            export_onnx(checkpoint, graph)
        except OSError as err:
            raise UserError(f"cannot write the ONNX graph to {graph.parent} ({err.strerror}): "
                            "set PCONVKIT_CACHE to a writable folder, or use --engine torch") from None
        _prune_onnx_cache(cache)
    return graph


def _checkpoint_digest(checkpoint: Path, cache: Path) -> str:
    """sha256 of the checkpoint's bytes, remembered in `cache` with the file's size and modification
    time: reading and hashing the bundled 13 MB takes about 60 ms of a 0.8 s command. One memo per
    checkpoint path (its first line: size, modification time, digest; its second: the path),
    overwritten when the file changes."""
    path = checkpoint.resolve()
    memo = cache / f"{hashlib.sha256(str(path).encode()).hexdigest()[:20]}.sha256"
    digest = _memo_digest(memo)
    if digest is None:
        stamp = _stamp(path)  # taken before reading: a file rewritten meanwhile gets hashed again next time
        digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
        try:
            write_text_atomic(memo, f"{stamp} {digest}\n{path}")
        except OSError:
            pass  # an unwritable cache is reported when the graph is written
    return digest


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns}"


def _memo_digest(memo: Path) -> str | None:
    """The digest a memo records, if its checkpoint is still there, unchanged since; else None."""
    try:
        first, path = memo.read_text().split("\n")
        recorded, _, digest = first.rpartition(" ")
        if recorded == _stamp(Path(path)) and len(digest) == 64:
            return digest
    except (OSError, ValueError):
        pass
    return None


def _prune_onnx_cache(cache: Path):
    """Delete the memos of checkpoints that were removed or rewritten, and the graphs no memo leads
    to, so that retrained or temporary checkpoints do not leave 13-26 MB graphs behind. Runs after an
    export only; files that another process is writing have hidden temporary names and are left alone."""
    live = set()
    for memo in cache.glob("[!.]*.sha256"):
        digest = _memo_digest(memo)
        if digest is None:
            memo.unlink(missing_ok=True)
        else:
            live.add(digest[:20])
    for graph in cache.glob("[!.]*-v*.onnx"):
        if graph.name.partition("-")[0] not in live:
            graph.unlink(missing_ok=True)


def export_onnx(checkpoint, out):
    """Write the checkpoint's network (default: the bundled model; fp32, eval mode) as an ONNX graph
    with free batch size and sides."""
    import onnx
    import torch
    from pconvkit.models.checkpoint import load_model
    model, _ = load_model(checkpoint, "cpu")
    sample = (torch.rand(1, 3, model.stride, model.stride), torch.ones(1, 1, model.stride, model.stride))
    free = {0: "batch", 2: "height", 3: "width"}
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape checks that the graph does not need
        torch.onnx.export(model, sample, str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["image", "mask"], output_names=["output"],
                          dynamic_axes={"image": free, "mask": free, "output": free})
        graph = onnx.load(str(tmp))
        onnx.helper.set_model_props(graph, {"stride": str(model.stride), "unet": json.dumps(model.config.as_dict())})
        onnx.save(graph, str(tmp))
    return Path(out)
