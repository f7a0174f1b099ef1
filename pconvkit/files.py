"""Writing outputs so that nothing is ever half-written (a temporary name, then a rename), content
hashes, settings files and CSV text. How image and mask files are read is `pconvkit.images`.
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
from pconvkit.images import IMAGE_SUFFIXES, to_uint8


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, private: bool = False):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The file gets the permissions a plain open() would give (0666 less the umask), not mkstemp's
    private 0600, so that a research group can read what the toolkit writes; a `private` file (a
    secret) keeps 0600.
    """
    path = _not_a_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o600 if private else 0o666 & ~_umask())
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


def write_bytes_atomic(path, data: bytes, private: bool = False):
    with atomic_path(path, private) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text: str, private: bool = False):
    write_bytes_atomic(path, text.encode("utf-8"), private)


def save_figure(figure, path, dpi: int) -> Path:
    """A matplotlib figure as a PNG under `path`, whole or not at all (atomic_path); closes the figure."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(figure)
    return Path(path)


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


# The format of every settings record a stage writes (settings.json of a mask set or raw pools,
# flow_settings.json); CHANGELOG.md lists them. Format 0 (pconvkit 0.2.0) had no `settings_format`
# key and the same keys otherwise: it is read as format 1.
SETTINGS_FORMAT = 1
SETTINGS_FORMAT_KEY = "settings_format"


def read_settings_record(path) -> dict:
    """A settings record, migrated in memory to the current format; a damaged one or one written by
    a newer pconvkit is refused in one line."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is not a settings record pconvkit wrote ({error}): delete it to start again") from None
    if not isinstance(record, dict):
        raise UserError(f"{path} is not a settings record pconvkit wrote (not a JSON object)")
    version = record.get(SETTINGS_FORMAT_KEY, 0)
    if not isinstance(version, int) or version > SETTINGS_FORMAT:
        raise UserError(
            f"{path} has settings format {version!r}, written by a newer pconvkit than this one (which reads up "
            f"to {SETTINGS_FORMAT}): upgrade pconvkit (pip install -U pconvkit)"
        )
    return record | {SETTINGS_FORMAT_KEY: SETTINGS_FORMAT}  # format 0 -> 1: only the key is new


def check_settings_file(path, settings: dict, what: str, outputs: str = "**/*.png", unrecorded: dict | None = None):
    """Record the settings a stage's outputs were made with (JSON, with its format version) on its
    first run; on a later run into the same folder, refuse other settings instead of mixing or
    silently reusing old outputs. A record beside no output yet (files matching `outputs`: a first
    run that stopped early) is replaced. `unrecorded`: settings added since, with the value that
    earlier releases used, which a record without them was made with."""
    path = Path(path)
    wanted = json.loads(json.dumps(settings | {SETTINGS_FORMAT_KEY: SETTINGS_FORMAT}))  # tuples become lists
    if not path.exists() or not any(path.parent.glob(outputs)):
        write_text_atomic(path, json.dumps(wanted, indent=1, sort_keys=True) + "\n")
        return
    recorded, wanted = _flatten((unrecorded or {}) | read_settings_record(path)), _flatten(wanted)
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
    """The rows of a CSV file with a header line, as dicts of strings; a file that is not UTF-8 CSV
    ends in one line."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"{path} is not a UTF-8 CSV file ({str(err).splitlines()[0][:80]})") from None


def csv_text(rows, fields) -> str:
    """CSV text of dict rows with a header, '\\n' line ends."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def load_torch_file(path, description: str):
    """torch.load of a weights file (tensors only, on the CPU), with a one-line error for the user."""
    return read_torch_file(path, description)[0]


def read_torch_file(path, description: str, data: bytes | None = None) -> tuple:
    """(what load_torch_file returns, the file_hash of the bytes it came from). The file is read
    once, into memory, and unpickled from those bytes: what is checked, hashed and used is one
    content, even if the file is replaced meanwhile. `data`: the file's bytes, already read."""
    import torch

    path = Path(path)
    if data is None:
        if not path.is_file():
            raise UserError(f"{description} not found: {path}")
        try:
            data = path.read_bytes()
        except OSError as err:
            raise UserError(f"cannot read {description} {path}: {err.strerror}") from None
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True), content_hash(data)
    except Exception as err:
        # torch.save writes a zip archive (PK..) or, before torch 1.6, a pickle (0x80, protocol);
        # for anything else the unpickler's own error is a bare key such as "105"
        if data[:4] != b"PK\x03\x04" and data[:1] != b"\x80":
            raise UserError(f"cannot read {description} {path}: not a file written by torch.save") from None
        raise UserError(f"cannot read {description} {path}: {str(err).splitlines()[0][:200]}") from None


@contextlib.contextmanager
def exclusive_lock(lock_path, busy: str):
    """Hold the exclusive lock file `lock_path` (the filelock package) while the block runs; another
    process holding it gets `busy` as a one-line error, at once rather than after a wait."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UserError(busy) from None
    try:
        yield
    finally:
        lock.release()
