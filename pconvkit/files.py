"""Writing outputs so that nothing is ever half-written, and reading images and masks by one rule.

Images are float32 arrays of shape (H, W, 3), RGB, values in [0, 1]. Masks are uint8 arrays of
shape (H, W) with the paper's convention M: 1 = valid pixel, 0 = hole.

Reading a mask file (`read_mask`): a mask is binary in its own range. Its grey values must be two
at most, 0 and the top of one range: 1, 255 or (16-bit files) 65535, or 0.0 and 1.0 for float
files; the top value is white. White is valid unless `hole_white` (NVIDIA's files) says it is the
hole. A file of one value is all white or all black by that rule (1 is white: the range 0/1). A
colour mask must have equal channels. An alpha channel must be opaque everywhere (it is then
ignored): a mask whose holes are drawn in its alpha channel is refused, not guessed. Anything
else (a grey gradient, JPEG noise) is refused with what was found, unless a `threshold` in [0, 1]
is given: then values >= threshold x the file type's maximum are white.

Reading an image (`read_image`): 8-bit files are divided by 255, 16-bit by 65535; float files
(TIFF, EXR) are taken as they are and must lie in [0, 1]. Grey is replicated to RGB; an alpha
channel is dropped (the colour is used as stored, not blended).
"""

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The file gets the permissions a plain open() would give (0666 less the umask), not mkstemp's
    private 0600, so that a research group can read what the toolkit writes.
    """
    path = _not_a_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
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


# Largest value of each integer pixel type OpenCV reads; float files are in [0, 1].
_TYPE_MAX = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def _read_unchanged(path, what: str) -> np.ndarray:
    if not Path(path).is_file():  # before OpenCV, which would also print a warning of its own
        raise UserError(f"{what} not found: {path}")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise UserError(f"cannot read {what} {path}")
    if raw.ndim == 3 and raw.shape[2] not in (3, 4):
        raise UserError(f"{what} {path} has {raw.shape[2]} channels: grey, RGB or RGBA expected")
    return raw


def read_image(path, min_size: int = 16) -> np.ndarray:
    """Read an image file as RGB float32 in [0, 1], shape (H, W, 3) (the rule of the module docstring).

    Images smaller than `min_size` on a side are rejected.
    """
    raw = _read_unchanged(path, "image")
    if raw.ndim == 2:
        raw = cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
    elif raw.shape[2] == 4:
        raw = cv2.cvtColor(raw, cv2.COLOR_BGRA2BGR)
    if min(raw.shape[:2]) < min_size:
        raise UserError(f"image {path} is {raw.shape[1]}x{raw.shape[0]}, smaller than {min_size} px")
    if raw.dtype in _TYPE_MAX:
        image = raw.astype(np.float32) / _TYPE_MAX[raw.dtype]
    elif raw.dtype in (np.float32, np.float64):
        image = raw.astype(np.float32)
        low, high = (float(image.min()), float(image.max())) if np.isfinite(image).all() else (np.nan, np.nan)
        if not (0.0 <= low and high <= 1.0):
            raise UserError(f"image {path} holds floats in [{low:g}, {high:g}]; float images must lie in [0, 1]")
    else:
        raise UserError(f"image {path} has pixel type {raw.dtype}: 8-bit, 16-bit or float expected")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_size(path) -> tuple[int, int]:
    """(width, height) of an image file, from a PNG's header without decoding it."""
    with open(path, "rb") as handle:
        header = handle.read(24)
    if header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR":
        return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UserError(f"cannot read image {path}")
    return image.shape[1], image.shape[0]


def read_mask(path, hole_white: bool = False, threshold: float | None = None) -> np.ndarray:
    """Read a mask file as uint8 (H, W) in the paper's convention: 1 = valid, 0 = hole.

    The rule is the module docstring's: binary in the file's own range (0/1, 0/255, 0/65535,
    0.0/1.0), or values >= `threshold` x the type's maximum are white when a threshold is given.
    White is valid, or the hole with `hole_white`.
    """
    raw = _read_unchanged(path, "mask")
    if raw.ndim == 3:
        if raw.shape[2] == 4:
            alpha = raw[..., 3]
            if alpha.min() != _TYPE_MAX.get(raw.dtype, 1):
                raise UserError(
                    f"mask {path} has a transparent alpha channel: pconvkit reads a mask from its "
                    "grey values only; draw the holes in the colour channels and save without alpha"
                )
            raw = raw[..., :3]
        if not (np.array_equal(raw[..., 0], raw[..., 1]) and np.array_equal(raw[..., 0], raw[..., 2])):
            raise UserError(f"mask {path} is in colour: a mask must be grey (equal channels)")
        raw = raw[..., 0]
    white = _white(raw, path, threshold)
    return (~white if hole_white else white).astype(np.uint8)


def _white(raw: np.ndarray, path, threshold: float | None) -> np.ndarray:
    """The white pixels of a grey mask, by the binary rule or by an explicit threshold."""
    top = _TYPE_MAX.get(raw.dtype)
    if top is None and raw.dtype not in (np.float32, np.float64):
        raise UserError(f"mask {path} has pixel type {raw.dtype}: 8-bit, 16-bit or float expected")
    if threshold is not None:
        return raw >= threshold * (top or 1.0)
    values = np.flatnonzero(np.bincount(raw.ravel())) if raw.dtype == np.uint8 else np.unique(raw)
    nonzero = values[values != 0]
    allowed = (1.0,) if top is None else (1, 255, top)
    if len(nonzero) > 1 or (len(nonzero) == 1 and nonzero[0] not in allowed):
        found = ", ".join(f"{v:g}" for v in values[:4]) + (", ..." if len(values) > 4 else "")
        raise UserError(
            f"mask {path} is not binary: {len(values)} grey values ({found}); a mask holds 0 and one of "
            f"{'/'.join(f'{v:g}' for v in dict.fromkeys(allowed))}; give --mask-threshold to binarise it"
        )
    return raw != 0


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


def content_hash(*parts) -> str:
    """A short sha256 (16 hex digits) of bytes, arrays and strings, in order."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(
            part.tobytes() if isinstance(part, np.ndarray) else part if isinstance(part, bytes) else str(part).encode()
        )
    return digest.hexdigest()[:16]


def file_hash(path) -> str:
    """content_hash of a file's bytes."""
    return content_hash(Path(path).read_bytes())


def check_settings_file(path, settings: dict, what: str, outputs: str = "**/*.png"):
    """Record the settings a stage's outputs were made with (JSON) on its first run; on a later run
    into the same folder, refuse other settings instead of mixing or silently reusing old outputs.
    A record beside no output yet (files matching `outputs`: a first run that stopped early) is
    replaced."""
    path = Path(path)
    wanted = json.loads(json.dumps(settings))  # as JSON has them: tuples become lists
    if not path.exists() or not any(path.parent.glob(outputs)):
        write_text_atomic(path, json.dumps(wanted, indent=1, sort_keys=True) + "\n")
        return
    recorded, wanted = _flatten(json.loads(path.read_text())), _flatten(wanted)
    changed = sorted(k for k in set(recorded) | set(wanted) if recorded.get(k) != wanted.get(k))
    if changed:
        raise UserError(
            f"{path.parent} holds {what} made with other settings or inputs ({', '.join(changed)}): "
            "use another --out, or delete it to start again"
        )


def _flatten(settings: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}, so that a refusal can name the very setting that changed."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def source_identity(path) -> dict:
    """What a rerun compares of an input file or folder: its byte count (and, for a folder, the
    number of files in it)."""
    path = Path(path)
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
    return {"bytes": path.stat().st_size if path.exists() else None}


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
