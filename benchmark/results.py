"""A run's files: OUT/results.csv (one row per method and mask) and OUT/pairing.csv (which image
each mask was paired with). This module is the only reader and writer of both.

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
import shutil
from pathlib import Path

from filelock import FileLock, Timeout

from pconvkit.benchmark.data import MaskEntry
from pconvkit.benchmark.metrics import PER_IMAGE
from pconvkit.errors import UserError
from pconvkit.files import csv_text, read_csv_rows, write_text_atomic

RESULT_FIELDS = ("method", "method_id", "mask", "mask_hash", "image", "image_hash", "category", "bin",
                 *(m.name for m in PER_IMAGE), "seconds", "device")  # fmt: skip
PAIRING_FIELDS = ("mask", "image", "category", "bin", "path", "hole_white", "threshold")


def results_path(results) -> Path:
    """The results file of a results folder (or the file itself)."""
    results = Path(results)
    return results / "results.csv" if results.is_dir() or not results.suffix else results


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
    if reader.fieldnames is None or tuple(reader.fieldnames) != RESULT_FIELDS:
        if reader.fieldnames and "method_id" not in reader.fieldnames and "l1" in reader.fieldnames:
            raise UserError(
                f"{path} was written by an older pconvkit, without the hashes that identify its "
                "rows: run into a new --out"
            )
        raise UserError(f"{path} is not a benchmark results file")
    rows = []
    for row in reader:
        if None in row.values() or None in row:
            raise UserError(f"{path}, line {reader.line_num}: {len(row)} fields where {len(RESULT_FIELDS)} belong")
        for field in [m.name for m in PER_IMAGE] + ["seconds"]:
            try:
                float(row[field])
            except ValueError:
                raise UserError(
                    f"{path}, line {reader.line_num}: {field} is {row[field]!r}, not a number: the file is damaged"
                ) from None
        rows.append(row)
    return rows


def open_results(path: Path):
    """An append-mode handle and a csv.DictWriter; writes the header when new, repairs a torn last line first."""
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


def shard_file_name(index: int = 1, count: int = 1) -> str:
    """results.csv, or results-shard-I-of-N.csv for shard I of N."""
    return "results.csv" if count == 1 else f"results-shard-{index}-of-{count}.csv"


@contextlib.contextmanager
def results_lock(path):
    """Hold the exclusive lock of one results file (PATH.lock); a second run gets a one-line error.
    Shards write files of their own, so they can share a folder."""
    lock = FileLock(f"{path}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UserError(
            f"{path} is in use by another benchmark run: wait for it to finish, or give this one another --out"
        ) from None
    try:
        yield
    finally:
        lock.release()


def result_row(
    method: str, identity: dict, mask: MaskEntry, image_name: str, metrics: dict, seconds: float, device: str
) -> dict:
    """A results row; `identity` holds method_id, mask_hash and image_hash."""
    return dict(
        method=method,
        mask=mask.mask_id,
        image=image_name,
        **identity,
        category=mask.category,
        bin=mask.bin,
        **{m.name: f"{metrics.get(m.name, math.nan):.6f}" for m in PER_IMAGE},  # nan: not computed
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
    write_text_atomic(out_dir / "pairing.csv", text)


def _check_same_pairing(out_dir: Path, pairs):
    """Results of one folder must come from one pairing: a resumed run may not change the images,
    masks or seed under the rows already there (a subset of the same pairing is fine)."""
    if not (out_dir / "pairing.csv").exists() or not (out_dir / "results.csv").exists():
        return
    old_images = {row["mask"]: row["image"] for row in read_csv_rows(out_dir / "pairing.csv")}
    clash = [m.mask_id for m, image in pairs if m.mask_id in old_images and old_images[m.mask_id] != image]
    if clash:
        raise UserError(
            f"{out_dir} holds results of another mask-image pairing (mask {clash[0]}): "
            "use another --out, or the same --images, --masks and --seed"
        )


def write_run_settings(out_dir, **settings):
    """OUT/run.json: the run's settings a table cannot see in its rows (the pairing's seed, the size)."""
    write_text_atomic(Path(out_dir) / "run.json", json.dumps(settings, indent=1, sort_keys=True) + "\n")


def read_run_settings(out_dir) -> dict:
    """OUT/run.json ({} for a run written before it existed)."""
    path = Path(out_dir) / "run.json"
    return json.loads(path.read_text()) if path.exists() else {}


def read_pairing(out_dir) -> list[tuple[MaskEntry, str]]:
    """Every (mask, image name) pair of a run."""
    out_dir = Path(out_dir)
    path = out_dir / "pairing.csv"
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


SHARD_NAME = re.compile(r"^results-shard-(\d+)-of-(\d+)\.csv$")


def merge_shards(folders, out_dir) -> Path:
    """Join the shard files of one run, from one folder or several, into OUT/results.csv: the rows
    one unsharded run would have written, in its order (method by method, pairs in pairing order).
    A missing, duplicated or foreign shard (another shard count or pairing) is refused."""
    shards, pairings = {}, {}
    for folder in map(Path, folders):
        if not (folder / "pairing.csv").exists():
            raise UserError(f"no pairing.csv in {folder}: not a benchmark results folder")
        pairings[folder] = (folder / "pairing.csv").read_text()
        for path in sorted(folder.glob("results-shard-*-of-*.csv")):
            index, count = map(int, SHARD_NAME.match(path.name).groups())
            if index in shards:
                raise UserError(f"shard {index} is there twice: {shards[index][1]} and {path}")
            shards[index] = (count, path)
    if not shards:
        raise UserError(f"no results-shard-I-of-N.csv files in {', '.join(map(str, folders))}")
    counts = {count for count, _ in shards.values()}
    if len(counts) > 1:
        raise UserError(f"the shard files belong to runs of different shard counts ({sorted(counts)})")
    (count,) = counts
    missing = sorted(set(range(1, count + 1)) - set(shards))
    if missing:
        raise UserError(f"shard {missing[0]} of {count} is missing ({len(missing)} missing in all)")
    if len(set(pairings.values())) > 1:
        raise UserError("the shard folders hold different pairings (other images, masks or seed): not one run")
    order = {row["mask"]: i for i, row in enumerate(read_csv_rows(next(iter(pairings)) / "pairing.csv"))}
    rows, seen, methods = [], set(), {}
    for index in sorted(shards):
        for row in read_results(shards[index][1]):
            key = (row["method"], row["mask"])
            if key in seen:
                raise UserError(f"{row['method']} on mask {row['mask']} is in two shards: not one run's shards")
            seen.add(key)
            methods.setdefault(row["method"], len(methods))
            rows.append(row)
    rows.sort(key=lambda row: (methods[row["method"]], order[row["mask"]]))
    out_dir = Path(out_dir)
    if (out_dir / "results.csv").exists():
        raise UserError(f"{out_dir} already has a results.csv: merge into another --out")
    write_text_atomic(out_dir / "pairing.csv", next(iter(pairings.values())))
    for folder in pairings:  # the Inception probabilities of each output, where the shards saved them
        if (folder / "inception").is_dir() and folder.resolve() != out_dir.resolve():
            shutil.copytree(folder / "inception", out_dir / "inception", dirs_exist_ok=True)
    write_text_atomic(out_dir / "results.csv", csv_text(rows, RESULT_FIELDS))
    return out_dir / "results.csv"
