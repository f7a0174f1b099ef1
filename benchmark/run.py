"""Running methods over image/mask pairs, one results row per pair as it is computed.

OUT/results.csv gets a row per (method, mask): image, category, bin, l1, psnr, ssim, seconds,
device. Rows are appended and flushed one at a time; a run that is interrupted or extended with
another method skips the pairs already there (a torn last line is dropped). OUT/pairing.csv records
which image each mask was paired with (mask paths relative to OUT); OUT/inception/METHOD/MASK.npy
the Inception-v3 class probabilities of each output when --inception-weights is given (the ground
truth under 'gt').
"""
import csv
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pconvkit.benchmark.data import pair_masks, read_pair
from pconvkit.benchmark.methods import METHODS, check_method_name, make_method
from pconvkit.benchmark.metrics import InceptionClassifier, image_metrics
from pconvkit.models.inference import composite_numpy
from pconvkit.errors import UserError
from pconvkit.files import atomic_path, csv_text, write_text_atomic

RESULT_FIELDS = ("method", "mask", "image", "category", "bin", "l1", "psnr", "ssim", "seconds", "device")


def read_results(path) -> list[dict]:
    """Rows of a results file; a torn or malformed line (an interrupted write) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or tuple(reader.fieldnames) != RESULT_FIELDS:
            raise UserError(f"{path} is not a benchmark results file")
        return [row for row in reader if None not in row.values() and None not in row and row["device"]]


def _results_writer(path: Path):
    """An append-mode handle with a header when new; repairs a torn last line first."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])
        handle = open(path, "a", newline="")
    else:
        handle = open(path, "w", newline="")
        handle.write(",".join(RESULT_FIELDS) + "\n")
    return handle


class _Worker:
    """Runs one CPU method on one pair in a worker process."""

    def __init__(self, method_name, options, images):
        self.method_name, self.options, self.images = method_name, options, images
        self.method = None

    def __call__(self, pair):
        if self.method is None:
            self.method = make_method(self.method_name, **self.options)
        mask, image_name = pair
        image = self.images[image_name]
        valid = read_pair(mask, image)
        started = time.perf_counter()
        output = self.method(image, valid)
        seconds = time.perf_counter() - started
        composited = composite_numpy(output, image, valid)
        return mask, image_name, composited, seconds, "cpu"


def run_benchmark(methods, images: dict, masks, out_dir, seed: int = 0, workers: int = 1, batch_size: int = 8,
                  method_options: dict | None = None, inception_weights=None, log=print) -> Path:
    """Run every method on every (mask, paired image); returns the results file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = pair_masks(masks, images.keys(), seed)
    # mask paths relative to the results folder, so that `benchmark grid` finds them from any directory
    results_folder = out_dir.resolve()
    pairing = csv_text([dict(mask=m.mask_id, image=i, category=m.category, bin=m.bin,
                             path=os.path.relpath(m.path.resolve(), results_folder)) for m, i in pairs],
                       ("mask", "image", "category", "bin", "path"))
    _check_same_pairing(out_dir, pairing)
    write_text_atomic(out_dir / "pairing.csv", pairing)
    for name in methods:  # fail on unknown methods before anything runs
        check_method_name(name)
    instances = {name: make_method(name, **(method_options or {}).get(name, {}))
                 for name in methods if getattr(METHODS.get(name), "neural", False)}
    classifier = InceptionClassifier(inception_weights) if inception_weights else None
    results_path = out_dir / "results.csv"
    done = {(r["method"], r["mask"]) for r in read_results(results_path)}
    if classifier is not None:
        _save_probabilities(classifier, out_dir / "inception" / "gt",
                            [(m, images[i]) for m, i in pairs])
    with _results_writer(results_path) as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_FIELDS, lineterminator="\n")
        for name in methods:
            todo = [(m, i) for m, i in pairs if (name, m.mask_id) not in done]
            if not todo:
                log(f"{name}: all {len(pairs)} pairs already in {results_path.name}")
                continue
            outputs = _outputs(name, instances.get(name), todo, images, workers, batch_size, method_options)
            with tqdm(total=len(pairs), initial=len(pairs) - len(todo), desc=name, unit="img") as bar:
                for mask, image_name, composited, seconds, device in outputs:
                    metrics = image_metrics(composited, images[image_name])
                    if classifier is not None:  # before the row: a resumed run skips pairs that have a row
                        _save_probabilities(classifier, out_dir / "inception" / name, [(mask, composited)])
                    writer.writerow(dict(method=name, mask=mask.mask_id, image=image_name, category=mask.category,
                                         bin=mask.bin, **{k: f"{v:.6f}" for k, v in metrics.items()},
                                         seconds=f"{seconds:.6f}", device=device))
                    handle.flush()
                    bar.update()
    return results_path


def _check_same_pairing(out_dir: Path, pairing: str):
    """Results of one folder must come from one pairing: a resumed run may not change the images,
    masks or seed under the rows already there (a subset of the same pairing is fine)."""
    path = out_dir / "pairing.csv"
    if not path.exists() or not (out_dir / "results.csv").exists():
        return
    old = {tuple(r[:2]) for r in csv.reader(path.read_text().splitlines()[1:])}
    new = {tuple(r[:2]) for r in csv.reader(pairing.splitlines()[1:])}
    old_images = dict(old)
    clash = [m for m, image in new if m in old_images and old_images[m] != image]
    if clash:
        raise UserError(f"{out_dir} holds results of another mask-image pairing (mask {clash[0]}): "
                        "use another --out, or the same --images, --masks and --seed")


def _outputs(name, instance, todo, images, workers, batch_size, method_options):
    """Yield (mask, image name, composited, seconds per image, device) for each pending pair."""
    if instance is not None:
        device = str(instance.device)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            batch = np.stack([images[i] for _, i in chunk])
            valids = np.stack([read_pair(m, images[i]) for m, i in chunk])
            started = time.perf_counter()
            outputs = instance.inpaint_batch(batch, valids)
            seconds = (time.perf_counter() - started) / len(chunk)
            for (mask, image_name), output, image, valid in zip(chunk, outputs, batch, valids):
                yield mask, image_name, composite_numpy(output, image, valid), seconds, device
        return
    worker = _Worker(name, (method_options or {}).get(name, {}), images)
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(worker, todo, chunksize=2)
    else:
        yield from map(worker, todo)


def _save_probabilities(classifier, folder: Path, items, batch: int = 16):
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(m, im) for m, im in items if not (folder / f"{m.mask_id}.npy").exists()]
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        probabilities = classifier.probabilities(np.stack([im for _, im in chunk]))
        for (mask, _), p in zip(chunk, probabilities):
            with atomic_path(folder / f"{mask.mask_id}.npy") as tmp, open(tmp, "wb") as handle:
                np.save(handle, p.astype(np.float32))
