"""Writing outputs so that nothing is ever half-written, and reading images in one convention.

Images are float32 arrays of shape (H, W, 3), RGB, values in [0, 1]. Masks are float32 or uint8
arrays of shape (H, W) with the paper's convention M: 1 = valid pixel, 0 = hole.
"""

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = _not_a_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _not_a_folder(path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    return path


def write_bytes_atomic(path, data: bytes):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text: str):
    write_bytes_atomic(path, text.encode("utf-8"))


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8/uint16 array (H, W) or (H, W, 3) in OpenCV's BGR order."""
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def write_png_atomic(path, array: np.ndarray):
    write_bytes_atomic(path, encode_png(array))


def image_format(path) -> str:
    """The file format an output image gets from its name's suffix (PNG without one); a one-line
    error for a suffix OpenCV cannot write or a folder, so that a command can check its --out
    before working."""
    suffix = _not_a_folder(path).suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise UserError(f"cannot write an image named {path}: its name must end in {', '.join(IMAGE_SUFFIXES)}")
    return suffix


def encode_image(path, bgr: np.ndarray) -> bytes:
    """The bytes of a uint8 BGR (or grey) image in the format that `path`'s suffix names."""
    suffix = image_format(path)
    ok, buf = cv2.imencode(suffix, bgr)
    if not ok:
        raise UserError(f"cannot encode an image as {suffix}: {path}")
    return buf.tobytes()


def write_image(path, image: np.ndarray):
    """Write an RGB float image in [0, 1] as an 8-bit file (format from the suffix), atomically."""
    write_bytes_atomic(path, encode_image(path, cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2BGR)))


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)


def read_image(path, min_size: int = 16) -> np.ndarray:
    """Read any image file as RGB float32 in [0, 1], shape (H, W, 3).

    Grayscale is replicated to three channels, an alpha channel is dropped, and 16-bit files
    are scaled by 1/65535. Images smaller than `min_size` on a side are rejected.
    """
    if not Path(path).is_file():  # before OpenCV, which would also print a warning of its own
        raise UserError(f"image not found: {path}")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise UserError(f"cannot read image {path}")
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0
    if raw.ndim == 2:
        raw = cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
    elif raw.shape[2] == 4:
        raw = cv2.cvtColor(raw, cv2.COLOR_BGRA2BGR)
    if min(raw.shape[:2]) < min_size:
        raise UserError(f"image {path} is {raw.shape[1]}x{raw.shape[0]}, smaller than {min_size} px")
    return cv2.cvtColor(raw, cv2.COLOR_BGR2RGB).astype(np.float32) / scale


def read_mask(path, hole_white: bool = False) -> np.ndarray:
    """Read a mask PNG as uint8 (H, W) in the paper's convention: 1 = valid, 0 = hole.

    Pixels >= 128 are white. With hole_white (NVIDIA's files), white means hole.
    """
    if not Path(path).is_file():
        raise UserError(f"mask not found: {path}")
    raw = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if raw is None:
        raise UserError(f"cannot read mask {path}")
    white = raw >= 128
    return (~white if hole_white else white).astype(np.uint8)


def mask_to_png(valid_mask: np.ndarray, hole_white: bool = False) -> np.ndarray:
    """The 8-bit image of a mask: white = valid (default) or white = hole (NVIDIA's convention)."""
    valid = np.asarray(valid_mask).astype(bool)
    return np.where(valid != hole_white, 255, 0).astype(np.uint8)


def list_images(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise UserError(f"no images in {folder}")
    return files


def ensure_writable_dir(folder) -> Path:
    """Create `folder` if needed and check that files can be written there."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(f"cannot write to {folder}: {err.strerror or err}") from None
    return folder


def read_csv_rows(path) -> list[dict]:
    """The rows of a CSV file with a header line, as dicts of strings."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def csv_text(rows, fields) -> str:
    """CSV text of dict rows with a header, '\\n' line ends."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def load_torch_file(path, description: str):
    """torch.load of a weights file (tensors only, on the CPU), with a one-line error for the user."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{description} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        with open(path, "rb") as handle:
            magic = handle.read(4)
        # torch.save writes a zip archive (PK..) or, before torch 1.6, a pickle (0x80, protocol);
        # for anything else the unpickler's own error is a bare key such as "105"
        if magic != b"PK\x03\x04" and magic[:1] != b"\x80":
            raise UserError(f"cannot read {description} {path}: not a file written by torch.save") from None
        raise UserError(f"cannot read {description} {path}: {str(err).splitlines()[0][:200]}") from None
