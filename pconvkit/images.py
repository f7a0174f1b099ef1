"""Images and masks: the one rule by which their files are read, compositing (I_comp) and the
tile that shows a hole. NumPy and OpenCV only, so that the harness needs no network code for them.

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

Every file (image or mask) is read as bytes and decoded by OpenCV from memory, and turned upright
by its EXIF orientation tag where it has one (a phone's JPEG is stored sideways; the viewer, and the
person who drew the mask on it, saw it upright). A file name that is not UTF-8 text is refused with
its bytes named: it could not be written into a results file, and OpenCV's own path handling
crashes on it.
"""

import io
import os
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)


# Largest value of each integer pixel type OpenCV reads; float files are in [0, 1].
_TYPE_MAX = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def checked_name(path) -> Path:
    """The path, if its name is UTF-8 text; else a one-line error that shows its bytes."""
    path = Path(path)
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"the file name {os.fsencode(path)!r} is not UTF-8 text: rename the file") from None
    return path


def decode_file(path, flags: int, what: str) -> np.ndarray:
    """A file decoded by OpenCV from its bytes (`cv2.imdecode`), or a one-line error."""
    path = checked_name(path)
    if not path.is_file():  # before OpenCV, which would also print a warning of its own
        raise UserError(f"{what} not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"cannot read {what} {path}: {err.strerror}") from None
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None
    if raw is None:
        raise UserError(f"cannot read {what} {path}")
    return _upright(raw, data) if flags == cv2.IMREAD_UNCHANGED else raw


# EXIF orientation (tag 0x0112) -> the array operation that makes the picture upright, as Pillow's
# ImageOps.exif_transpose does; 1 is upright already.
_ORIENTATIONS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def _upright(raw: np.ndarray, data: bytes) -> np.ndarray:
    """`raw` (decoded without EXIF orientation, as IMREAD_UNCHANGED does) turned by the file's EXIF
    orientation. The tag is read by Pillow (a dependency of scikit-image and torchvision) from the
    header only, and only where the bytes hold an EXIF block at all."""
    if not any(marker in data for marker in (b"Exif", b"eXIf", b"EXIF")):  # JPEG, PNG, WebP
        return raw
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:
            orientation = picture.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return raw  # OpenCV decoded what Pillow cannot parse: no orientation to apply
    turn = _ORIENTATIONS.get(orientation)
    return raw if turn is None else np.ascontiguousarray(turn(raw))


def _read_unchanged(path, what: str) -> np.ndarray:
    raw = decode_file(path, cv2.IMREAD_UNCHANGED, what)
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
    """(width, height) of an image file, upright, from a PNG's header without decoding it."""
    with open(checked_name(path), "rb") as handle:
        header = handle.read(24)
    if header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR":
        return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    image = _read_unchanged(path, "image")
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


def list_images(folder, unique_names: str | None = None) -> list[Path]:
    """The image files under `folder` (sub-folders too, hidden files not), sorted; every name UTF-8.
    `unique_names` (what the names identify, such as "masks"): two files with one stem, in two
    sub-folders or with two suffixes, are refused, since their rows would be one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    files = sorted(
        checked_name(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise UserError(f"no images in {folder}")
    if unique_names:
        seen = {}
        for path in files:
            if path.stem in seen:
                raise UserError(
                    f"{seen[path.stem]} and {path} have one name, {path.stem!r}: names identify "
                    f"{unique_names} in the results; rename one"
                )
            seen[path.stem] = path
    return files


def composite(output: np.ndarray, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """I_comp of Section 3.3: known pixels from `image`, holes from `output` clipped to [0, 1].
    Images (..., H, W, 3) float, masks (..., H, W) with 1 = valid; float32 out."""
    return np.where(valid_mask[..., None].astype(bool), image, np.clip(output, 0, 1)).astype(np.float32)


# What a method sees in a hole: zero, as in the paper's I * M (Eq. 1 reads only the known pixels).
HOLE_FILL = 0.0


def blank_holes(image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """The image as every method receives it: hole pixels set to HOLE_FILL, known pixels unchanged.
    Images (..., H, W, 3), masks (..., H, W) with 1 = valid; float32 out."""
    return np.where(valid_mask[..., None].astype(bool), image, np.float32(HOLE_FILL)).astype(np.float32)


def show_holes(image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """The input as a picture shows it: the image with its holes drawn white."""
    return np.where(valid_mask[..., None] == 1, image, 1.0)
