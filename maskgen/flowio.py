"""Optical-flow files: Middlebury .flo, KITTI 16-bit PNG, PFM and NumPy .npy.

Every reader returns (flow, valid): flow float32 (H, W, 2) holding (u, v) in pixels, valid bool
(H, W), False where the file marks the flow unknown. NaN or infinite values are an error.
"""

from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import atomic_path, encode_png, write_bytes_atomic
from pconvkit.images import decode_file

FLO_TAG = 202021.25  # b"PIEH" read as a little-endian float32
FLO_UNKNOWN = 1e9  # Middlebury: |u| or |v| above this means "unknown"
FLOW_SUFFIXES = (".flo", ".png", ".pfm", ".npy")
MAX_SIDE = 100_000  # a larger side in a header is damage, not a frame


def read_flow(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a flow file of any supported format, chosen by its suffix."""
    path = Path(path)
    readers = {".flo": read_flo, ".png": read_kitti_png, ".pfm": read_pfm, ".npy": read_npy}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"unknown flow format {path.suffix!r}: {path} (use {', '.join(FLOW_SUFFIXES)})")
    flow, valid = reader(path)
    if flow.ndim != 3 or flow.shape[2] != 2 or min(flow.shape[:2]) < 2:
        raise UserError(f"{path}: a flow field must be at least 2x2 with two components, not of shape {flow.shape}")
    if not np.isfinite(flow[valid]).all():
        raise UserError(f"flow file {path} holds NaN or infinite values")
    return flow, valid


def write_flow(path, flow: np.ndarray, valid: np.ndarray | None = None):
    path = Path(path)
    writers = {".flo": write_flo, ".png": write_kitti_png, ".pfm": write_pfm, ".npy": write_npy}
    if path.suffix.lower() not in writers:
        raise UserError(f"unknown flow format {path.suffix!r}: {path}")
    writers[path.suffix.lower()](path, flow, valid)


def read_flo(path):
    """Middlebury .flo: float32 tag 202021.25, int32 width, int32 height, then u, v interleaved."""
    data = Path(path).read_bytes()
    if len(data) < 12 or np.frombuffer(data[:4], "<f4")[0] != FLO_TAG:
        raise UserError(f"{path} is not a .flo file (wrong magic number)")
    width, height = (int(v) for v in np.frombuffer(data[4:12], "<i4"))
    if not (0 < width < 100_000 and 0 < height < 100_000):
        raise UserError(f"{path}: implausible size {width}x{height}")
    expected = 12 + width * height * 8
    if len(data) != expected:
        raise UserError(f"{path} is truncated or padded: {len(data)} bytes, {expected} expected for {width}x{height}")
    flow = np.frombuffer(data[12:], "<f4").reshape(height, width, 2).astype(np.float32)
    with np.errstate(invalid="ignore"):
        unknown = (np.abs(flow) > FLO_UNKNOWN).any(axis=2)
    flow = flow.copy()
    flow[unknown] = 0.0
    return flow, ~unknown


def write_flo(path, flow, valid=None):
    flow = _checked(flow, valid)
    height, width = flow.shape[:2]
    if valid is not None:
        flow[~valid] = 1e10
    header = np.array([FLO_TAG], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    write_bytes_atomic(path, header + flow.astype("<f4").tobytes())


def read_kitti_png(path):
    """KITTI flow PNG: 16-bit, R = u, G = v as (value - 2^15) / 64, B = valid. OpenCV reads BGR."""
    raw = decode_file(path, cv2.IMREAD_UNCHANGED, "KITTI flow PNG")
    if raw.dtype != np.uint16 or raw.ndim != 3 or raw.shape[2] != 3:
        raise UserError(f"{path} is not a KITTI flow PNG (needs 16-bit, 3 channels)")
    raw = raw.astype(np.float32)
    flow = (raw[:, :, [2, 1]] - 2.0**15) / 64.0
    valid = raw[:, :, 0] > 0
    flow[~valid] = 0.0
    return flow, valid


def write_kitti_png(path, flow, valid=None):
    flow = _checked(flow, valid)
    valid = np.ones(flow.shape[:2], bool) if valid is None else valid
    raw = np.rint(flow * 64.0 + 2.0**15)
    # KITTI's 16 bits hold -512..512 px; a vector beyond that cannot be stored, so it is marked
    # invalid (unknown) rather than clipped into a wrong vector
    valid = valid & ((raw >= 0) & (raw <= 65535)).all(axis=-1)
    encoded = np.clip(raw, 0, 65535).astype(np.uint16)
    bgr = np.dstack([valid.astype(np.uint16), encoded[:, :, 1], encoded[:, :, 0]])
    write_bytes_atomic(path, encode_png(bgr))


def read_pfm(path):
    """PFM: 'PF' (3 channels) or 'Pf' (1), width height, scale (< 0: little-endian), rows bottom-up."""
    data = Path(path).read_bytes()
    parts = data.split(maxsplit=4) if data[:2] in (b"PF", b"Pf") else None
    if not parts or len(parts) < 4:
        raise UserError(f"{path} is not a PFM file (wrong magic number)")
    try:
        width, height, scale = int(parts[1]), int(parts[2]), float(parts[3])
    except ValueError:
        raise UserError(f"{path}: bad PFM header") from None
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise UserError(f"{path}: implausible PFM size {width}x{height}")
    channels = 3 if parts[0] == b"PF" else 1
    header_len = _pfm_header_length(data)
    count = width * height * channels
    body = data[header_len:]
    if len(body) < count * 4:
        raise UserError(f"{path} is truncated: {len(body)} data bytes, {count * 4} expected")
    dtype = "<f4" if scale < 0 else ">f4"
    image = np.frombuffer(body[: count * 4], dtype).reshape(height, width, channels)[::-1]
    if channels < 2:
        raise UserError(f"{path} has one channel; a flow PFM needs u and v")
    flow = image[:, :, :2].astype(np.float32)
    return flow, np.ones((height, width), bool)


def _pfm_header_length(data: bytes) -> int:
    """The PFM header is three whitespace-terminated lines; the data starts after the third newline."""
    position = 0
    for _ in range(3):
        position = data.index(b"\n", position) + 1
    return position


def write_pfm(path, flow, valid=None):
    flow = _checked(flow, valid)
    height, width = flow.shape[:2]
    image = np.dstack([flow, np.zeros((height, width), np.float32)])[::-1]
    header = f"PF\n{width} {height}\n-1.0\n".encode()
    write_bytes_atomic(path, header + np.ascontiguousarray(image, "<f4").tobytes())


def read_npy(path):
    try:
        flow = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise UserError(f"cannot read {path} as .npy: {err}") from None
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise UserError(f"{path}: a flow .npy must have shape (H, W, 2), not {flow.shape}")
    if flow.dtype.kind not in "fiu":
        raise UserError(f"{path}: a flow .npy must hold numbers, not {flow.dtype}")
    flow = flow.astype(np.float32)
    valid = np.isfinite(flow).all(axis=2)
    if not valid.all():
        raise UserError(f"flow file {path} holds NaN or infinite values")
    return flow, valid


def write_npy(path, flow, valid=None):
    flow = _checked(flow, valid)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, flow)


def _checked(flow, valid):
    flow = np.array(flow, np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2), not {flow.shape}")
    if valid is not None and valid.shape != flow.shape[:2]:
        raise ValueError("valid must have the flow's height and width")
    return flow
