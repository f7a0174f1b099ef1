"""A run's folder, and the only module that knows its layout:

    OUT/results.csv                  one row per method and mask (or, for shard I of N,
                                     OUT/results-shard-I-of-N.csv, joined by `shards.merge_shards`)
    OUT/results-shard-I-of-N.json    what shard I of N is of: its run's pairing, methods, rows
    OUT/results.csv.lock             held while a run or a scoring appends rows
    OUT/pairing.csv                  which image each mask was paired with
    OUT/run.json                     the run's settings a table cannot see in its rows
    OUT/KIND/METHOD/MASK.npy         a network's vector of each output, KIND one of VECTOR_KINDS
                                     (the ground truth's under METHOD 'gt')

Everyone else reads and writes these through the functions here.

results.csv: method, method_id, mask, mask_hash, image, image_hash, category, bin, the per-image
metrics of `metrics.PER_IMAGE`, seconds, device. A row is identified by what produced it: the
method and its fingerprint (version, options, weights' hash), and the content hashes of the mask
(file bytes and polarity) and of the image (pixels at the evaluation size). Rows are appended and
flushed one at a time while the run holds an exclusive lock on OUT/results.csv.lock; a torn last
line (an interrupted write) is dropped when the file is opened again.

pairing.csv: mask, image, category, bin, path (relative to OUT, so that the run's pictures can be
drawn from any directory), hole_white (the polarity of the mask file), threshold (the user's
binarisation of non-binary mask files, empty for none).
"""

import contextlib
import csv
import io
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from pconvkit.benchmark.data import MaskEntry
from pconvkit.benchmark.metrics import PER_IMAGE
from pconvkit.errors import UserError
from pconvkit.files import atomic_path, csv_text, exclusive_lock, file_hash, read_csv_rows, write_text_atomic

RESULTS_FILE = "results.csv"
PAIRING_FILE = "pairing.csv"
SETTINGS_FILE = "run.json"
SHARD_NAME = re.compile(r"^results-shard-(\d+)-of-(\d+)\.csv$")
# The vectors set metrics are computed from: Inception-v3 class probabilities (IS) and the
# TF-Inception port's pool features (FID, KID).
INCEPTION_VECTORS, FEATURE_VECTORS = "inception", "fid"  # the IS and the FID/KID networks' vectors
TF_LOGITS = "fid_logits"  # the FID network's unbiased logits: the published-style Inception score
VECTOR_KINDS = (INCEPTION_VECTORS, FEATURE_VECTORS, TF_LOGITS)
TRUTH = "gt"  # the method name under which the ground truth's vectors are kept

RESULT_FIELDS = ("method", "method_id", "mask", "mask_hash", "image", "image_hash", "category", "bin",
                 "hole_ratio", *(m.name for m in PER_IMAGE), "seconds", "device")  # fmt: skip
# Every header results.csv has had, by format version (the version is recorded in run.json, and a
# file without one is known by its header). Version 0 rows carry no hashes and cannot be resumed or
# trusted; versions 1 and 2 lack metric columns added since, read as not computed (NaN). Rule: a
# change of the columns is a new version here, with a line in CHANGELOG.md.
_IDENTIFIED = ("method", "method_id", "mask", "mask_hash", "image", "image_hash", "category", "bin")
RESULT_FORMATS = {
    0: ("method", "mask", "image", "category", "bin", "l1", "psnr", "ssim", "seconds", "device"),
    1: (*_IDENTIFIED, "l1", "psnr", "ssim", "seconds", "device"),
    2: (*_IDENTIFIED, "l1", "psnr", "ssim", "l1_hole", "seconds", "device"),
    3: (*_IDENTIFIED, "l1", "psnr", "ssim", "l1_hole", "lpips", "seconds", "device"),
    4: RESULT_FIELDS,
}
RESULTS_FORMAT = max(RESULT_FORMATS)
PAIRING_FIELDS = ("mask", "image", "category", "bin", "path", "hole_white", "threshold")


def results_path(results) -> Path:
    """The results file of a results folder (or the file itself)."""
    results = Path(results)
    return results / RESULTS_FILE if results.is_dir() or not results.suffix else results


def run_folder(results) -> Path:
    """The folder of a run, given the folder or its results file."""
    return results_path(results).parent


def shard_files(folder) -> list[Path]:
    """The shard results files of a folder, by name."""
    return sorted(p for p in Path(folder).glob("results-shard-*-of-*.csv") if SHARD_NAME.match(p.name))


def shard_record_path(results_file: Path) -> Path:
    """The record beside a shard's results file (results-shard-I-of-N.json)."""
    return Path(results_file).with_suffix(".json")


def pairing_hash(folder) -> str:
    """The hash of a run's pairing file, as the tables and exports print it ('unknown' without one)."""
    path = Path(folder) / PAIRING_FILE
    return file_hash(path) if path.exists() else "unknown"


def vector_folder(folder, kind: str, method: str) -> Path:
    """Where a run keeps the `kind` vectors (VECTOR_KINDS) of a method's outputs (or of the truth, TRUTH)."""
    return Path(folder) / kind / method


def has_vectors(folder, kind: str) -> bool:
    """Whether a run saved the ground truth's `kind` vectors (it did where that metric's weights were given)."""
    return vector_folder(folder, kind, TRUTH).is_dir()


def saved_vectors(folder, kind: str, method: str, masks, minimum: int):
    """(outputs, ground truths): a method's saved `kind` vectors for `masks` and the truth's, or
    None where fewer than `minimum` masks or any file is missing."""
    paths = [vector_folder(folder, kind, method) / f"{m}.npy" for m in masks]
    truths = [vector_folder(folder, kind, TRUTH) / f"{m}.npy" for m in masks]
    if len(paths) < minimum or not all(p.exists() for p in paths + truths):
        return None

    def stack(files):  # arrays only: a pickled .npy beside a run runs no code
        try:
            return np.stack([np.load(p, allow_pickle=False) for p in files])
        except (ValueError, EOFError, OSError) as err:  # a pickle, a damaged or empty file, two lengths
            raise UserError(
                f"{vector_folder(folder, kind, method).parent}: a saved vector is not an array of this run's "
                f"({str(err).splitlines()[0][:80]}): run the same `benchmark run` again"
            ) from None

    return stack(paths), stack(truths)


def save_vectors(function, folder, kind: str, method: str, items, batch: int = 16):
    """Save function(images) row by row as the `kind` vectors of `method` (float32), one file per
    mask, skipping those already saved; `items` are (MaskEntry, image)."""
    target = vector_folder(folder, kind, method)
    target.mkdir(parents=True, exist_ok=True)
    todo = [(m, im) for m, im in items if not (target / f"{m.mask_id}.npy").exists()]
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        vectors = function(np.stack([im for _, im in chunk]))
        for (mask, _), vector in zip(chunk, vectors):
            with atomic_path(target / f"{mask.mask_id}.npy") as tmp, open(tmp, "wb") as handle:
                np.save(handle, np.asarray(vector, np.float32))


def read_results(path) -> list[dict]:
    """Rows of a results file. A last line without its line end (a write under way or interrupted)
    is left out; a damaged row elsewhere (a field that is not a number, a NUL byte) is a one-line error."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise UserError(f"{path}, line {line}: a NUL byte: the file is damaged")
    text = data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    version = results_format(path, reader.fieldnames)
    if version == 0:
        raise UserError(
            f"{path} is in results format 0 (pconvkit before 0.2.0), without the hashes that identify its "
            "rows: it cannot be upgraded; run into a new --out"
        )
    missing = [field for field in RESULT_FIELDS if field not in reader.fieldnames]  # read as not computed
    rows = []
    for row in reader:
        if None in row.values() or None in row:
            raise UserError(f"{path}, line {reader.line_num}: {len(row)} fields where {len(reader.fieldnames)} belong")
        row = {field: row.get(field, "nan") for field in RESULT_FIELDS} if missing else row
        for field in ["hole_ratio", *(m.name for m in PER_IMAGE), "seconds"]:
            try:
                float(row[field])
            except ValueError:
                raise UserError(
                    f"{path}, line {reader.line_num}: {field} is {row[field]!r}, not a number: the file is damaged"
                ) from None
        rows.append(row)
    return rows


def results_format(path, fieldnames) -> int:
    """The format version of a results file, from its header; a one-line error for a file this
    toolkit did not write (or that a newer one did)."""
    for version, fields in RESULT_FORMATS.items():
        if fieldnames is not None and tuple(fieldnames) == fields:
            return version
    if fieldnames and {"method", "mask", "image"} <= set(fieldnames):
        raise UserError(
            f"{path} has columns of no results format this pconvkit knows (1 to {RESULTS_FORMAT}): "
            "written by a newer pconvkit? upgrade pconvkit to read it"
        )
    raise UserError(f"{path} is not a benchmark results file")


def _file_format(path: Path) -> int:
    """The format version of a results file, from its header line alone."""
    with open(path, newline="") as handle:
        return results_format(path, next(csv.reader(handle), None))


def upgrade_results(path) -> int:
    """Rewrite a results file of an earlier format in the current one (columns added since are NaN,
    not computed); returns the version it had. The rows keep their identity, so a run resumes on them."""
    path = Path(path)
    with results_lock(path):
        version = _file_format(path)
        if version != RESULTS_FORMAT:
            write_text_atomic(path, csv_text(read_results(path), RESULT_FIELDS))
    return version


def open_results(path: Path):
    """An append-mode handle and a csv.DictWriter; writes the header when new, repairs a torn last
    line first. A file of an earlier format is refused with the command that upgrades it."""
    if path.exists() and path.stat().st_size:
        version = _file_format(path)
        if version != RESULTS_FORMAT:
            raise UserError(
                f"{path} is in results format {version} (this pconvkit writes {RESULTS_FORMAT}): "
                f"`benchmark upgrade {path.parent}` rewrites it, then run again"
            )
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])
        handle = open(path, "a", newline="")
    else:
        handle = open(path, "w", newline="")
        handle.write(",".join(RESULT_FIELDS) + "\n")
        handle.flush()
    return handle, csv.DictWriter(handle, fieldnames=RESULT_FIELDS, lineterminator="\n")


IDENTITY_FIELDS = ("method_id", "mask_hash", "image_hash")


def done_pairs(rows, expected: dict) -> set:
    """The (method, mask) pairs of `rows` that need no new computation.

    `expected` maps (method, mask id) to the identity (IDENTITY_FIELDS) a row must have. A row of
    the same method and mask made from other inputs or by another version of the method is refused:
    one results file never mixes the two.
    """
    done = set()
    for row in rows:
        key = (row["method"], row["mask"])
        identity = expected.get(key)
        if identity is None:
            continue
        found = {field: row[field] for field in IDENTITY_FIELDS}
        if found != identity:
            changed = [f.replace("_", " ") for f in IDENTITY_FIELDS if found[f] != identity[f]]
            raise UserError(
                f"the results file holds a row of {key[0]} on mask {key[1]} whose {' and '.join(changed)} differ "
                "from this run's (other mask files, images or method version): run into a new --out"
            )
        done.add(key)
    return done


def shard_file_name(index: int, count: int) -> str:
    """results.csv, or results-shard-I-of-N.csv for shard I of N."""
    return RESULTS_FILE if count == 1 else f"results-shard-{index}-of-{count}.csv"


class AppendSession:
    """Rows appended to one results file: `done` holds the (method, mask) pairs already there (each
    checked against the identity this run expects), `write` appends and flushes one row."""

    def __init__(self, handle, writer, done: set):
        self._handle, self._writer, self.done = handle, writer, done

    def write(self, row: dict):
        self._writer.writerow(row)
        self._handle.flush()


@contextlib.contextmanager
def appending(path, expected: dict, prepare=None):
    """Hold the results file's lock, call `prepare()` (what must be written under the same lock, as
    the pairing), repair a torn last row, count the rows done (`done_pairs` with `expected`) and
    yield an AppendSession; the file is closed and the lock released on leaving."""
    path = Path(path)
    with results_lock(path):
        if prepare is not None:
            prepare()
        handle, writer = open_results(path)  # repairs a torn last row before the done rows are counted
        with handle:
            yield AppendSession(handle, writer, done_pairs(read_results(path), expected))


@contextlib.contextmanager
def results_lock(path):
    """Hold the exclusive lock of one results file (PATH.lock); a second run gets a one-line error.
    Shards write files of their own, so they can share a folder."""
    busy = f"{path} is in use by another benchmark run: wait for it to finish, or give this one another --out"
    with exclusive_lock(f"{path}.lock", busy):
        yield


def result_row(
    method: str,
    identity: dict,
    mask: MaskEntry,
    image_name: str,
    metrics: dict,
    seconds: float,
    device: str,
    hole_ratio: float,
) -> dict:
    """A results row; `identity` holds method_id, mask_hash and image_hash; `hole_ratio` is the
    mask's share of hole pixels at the run's size (what `benchmark table --bins` groups by). Metrics
    keep 10 significant digits, so that a table reproduces another evaluator's mean to 1e-6."""
    return dict(
        method=method,
        mask=mask.mask_id,
        image=image_name,
        **identity,
        category=mask.category,
        bin=mask.bin,
        hole_ratio=repr(float(hole_ratio)),
        **{m.name: f"{metrics.get(m.name, math.nan):.10g}" for m in PER_IMAGE},  # nan: not computed
        seconds=f"{seconds:.6f}",
        device=device,
    )


def pairing_text(pairs, out_dir) -> str:
    """pairing.csv of (mask, image name) pairs, mask paths relative to `out_dir`."""
    folder = Path(out_dir).resolve()
    return csv_text(
        [
            dict(
                mask=m.mask_id,
                image=i,
                category=m.category,
                bin=m.bin,
                path=os.path.relpath(m.path.resolve(), folder),
                hole_white=int(m.hole_white),
                threshold="" if m.threshold is None else repr(m.threshold),
            )
            for m, i in pairs
        ],
        PAIRING_FIELDS,
    )


def write_pairing(out_dir, pairs):
    """Record the pairing of a run; refuses one that contradicts the results already in `out_dir`."""
    out_dir = Path(out_dir)
    text = pairing_text(pairs, out_dir)
    _check_same_pairing(out_dir, pairs)
    write_text_atomic(out_dir / PAIRING_FILE, text)


def _check_same_pairing(out_dir: Path, pairs):
    """Results of one folder must come from one pairing: a resumed run may not change the images,
    masks or seed under the rows already there (a subset of the same pairing is fine)."""
    if not (out_dir / PAIRING_FILE).exists() or not (out_dir / RESULTS_FILE).exists():
        return
    old_images = {row["mask"]: row["image"] for row in read_csv_rows(out_dir / PAIRING_FILE)}
    clash = [m.mask_id for m, image in pairs if m.mask_id in old_images and old_images[m.mask_id] != image]
    if clash:
        raise UserError(
            f"{out_dir} holds results of another mask-image pairing (mask {clash[0]}): "
            "use another --out, or the same --images, --masks and --seed"
        )


def write_run_settings(out_dir, **settings):
    """OUT/run.json: the run's settings a table cannot see in its rows (the pairing's seed, the size),
    and the format version of its results files."""
    record = dict(settings, results_format=RESULTS_FORMAT)
    write_text_atomic(Path(out_dir) / SETTINGS_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")


def read_run_settings(out_dir) -> dict:
    """OUT/run.json ({} for a run written before it existed); a damaged one ends in one line."""
    path = Path(out_dir) / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(
            f"{path} is damaged ({str(err).splitlines()[0][:80]}): run the same `benchmark run` again"
        ) from None
    if not isinstance(record, dict):
        raise UserError(f"{path} is damaged (not a JSON object): run the same `benchmark run` again")
    return record


def read_pairing(out_dir) -> list[tuple[MaskEntry, str]]:
    """Every (mask, image name) pair of a run."""
    out_dir = Path(out_dir)
    path = out_dir / PAIRING_FILE
    if not path.exists():
        raise UserError(f"no pairing.csv in {out_dir}: run `benchmark run --out {out_dir}` first")
    rows = read_csv_rows(path)
    if rows and "threshold" not in rows[0]:
        raise UserError(
            f"{path} was written by an older pconvkit: run the same `benchmark run` again "
            "(it computes nothing twice and rewrites the pairing)"
        )
    return [
        (
            MaskEntry(
                r["mask"],
                out_dir / r["path"],
                r["category"],
                r["bin"],
                r["hole_white"] == "1",
                float(r["threshold"]) if r["threshold"] else None,
            ),
            r["image"],
        )
        for r in rows
    ]
