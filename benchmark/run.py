"""Running methods over image/mask pairs, one results row per pair as it is computed.

A run writes OUT/pairing.csv and appends to OUT/results.csv (their format: `results`); a run that is
interrupted or extended with another method skips the pairs already there.
OUT/inception/METHOD/MASK.npy holds the Inception-v3 class probabilities of each output when
--inception-weights is given (the ground truth under 'gt').
"""

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pconvkit.benchmark.data import image_identity, mask_identity, pair_masks, read_pair
from pconvkit.benchmark.methods import METHODS, check_method_name, make_method, method_fingerprint
from pconvkit.benchmark.metrics import LPIPS, LPIPS_BOX, InceptionClassifier, hole_box, image_metrics
from pconvkit.benchmark.perceptual import InceptionFeatures, Lpips
from pconvkit.benchmark.provenance import run_inputs_record
from pconvkit.benchmark.results import (
    FEATURE_VECTORS,
    INCEPTION_VECTORS,
    TF_LOGITS,
    TRUTH,
    appending,
    result_row,
    save_vectors,
    shard_file_name,
    write_pairing,
    write_run_settings,
)
from pconvkit.benchmark.shards import run_identity, write_shard_record
from pconvkit.errors import UserError
from pconvkit.images import blank_holes, composite
from pconvkit.maskgen.bins import hole_ratio
from pconvkit.workers import process_pool, worker_state


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
        try:
            output = self.method(blank_holes(image, valid), valid)
        except Exception as err:  # a plug-in's own failure: name the method and the pair, keep the rows so far
            raise UserError(
                f"method {self.method_name} failed on mask {mask.mask_id} with image {image_name}: "
                f"{type(err).__name__}: {err}"
            ) from None
        seconds = time.perf_counter() - started
        composited = checked_composite(self.method_name, output, image, valid, mask, image_name)
        return mask, image_name, valid, composited, seconds, "cpu"


def checked_composite(method: str, output, image, valid, mask, image_name) -> np.ndarray:
    """A method's output composited with the known pixels, after checking it is an image of the
    input's shape with finite values in the holes."""
    output = np.asarray(output)
    if output.shape != image.shape or output.dtype.kind != "f":
        raise UserError(
            f"method {method} returned an array of shape {output.shape} and type {output.dtype} for mask "
            f"{mask.mask_id} with image {image_name}: a method returns the image's shape {image.shape}, in [0, 1]"
        )
    filled = output[valid == 0]
    if not np.isfinite(filled).all():
        raise UserError(f"method {method} filled holes with NaN or infinity on mask {mask.mask_id}, image {image_name}")
    if filled.size and (filled.min() < -1 or filled.max() > 2):  # beyond what clipping to [0, 1] should mend
        raise UserError(
            f"method {method} returned values in [{filled.min():g}, {filled.max():g}] on mask {mask.mask_id}, image "
            f"{image_name}: a method returns floats in [0, 1] (not 0-255)"
        )
    return composite(output, image, valid)


@dataclass(frozen=True)
class MetricWeights:
    """Weight files of the metrics that need a network; None leaves the metric out."""

    inception: str | None = None  # torchvision inception_v3 (Inception score)
    fid: str | None = None  # the TF-Inception port (FID and KID)
    lpips: str | None = None  # an AlexNet or VGG16 backbone (LPIPS)
    device: str = "cpu"  # where those networks run (the run's --device)


class Scorers:
    """The metrics of a run: per image, and the networks' vectors that set metrics (IS, FID, KID) are
    computed from later, saved as OUT/inception/METHOD/MASK.npy and OUT/fid/METHOD/MASK.npy."""

    def __init__(self, weights: MetricWeights, out_dir: Path):
        self.vectors = {}
        if weights.inception:
            self.vectors[INCEPTION_VECTORS] = InceptionClassifier(weights.inception, weights.device).probabilities
        if weights.fid:
            network = InceptionFeatures(weights.fid, weights.device)
            self.vectors[FEATURE_VECTORS], self.vectors[TF_LOGITS] = network.features, network.logits
        self.lpips = Lpips(weights.lpips, weights.device) if weights.lpips else None
        self.out_dir = out_dir

    def save_truths(self, items):
        for kind, function in self.vectors.items():
            save_vectors(function, self.out_dir, kind, TRUTH, items)

    def score(self, method, mask, composited, image, valid) -> dict:
        """The per-image metrics; the vectors are saved first (a resumed run skips pairs with a row)."""
        for kind, function in self.vectors.items():
            save_vectors(function, self.out_dir, kind, method, [(mask, composited)])
        metrics = image_metrics(composited, image, valid)
        metrics[LPIPS.name] = metrics[LPIPS_BOX.name] = math.nan
        if self.lpips:
            metrics[LPIPS.name] = float(self.lpips.distance(composited[None], image[None])[0])
            box = hole_box(valid)
            if box is not None:
                rows, cols = box
                crop = lambda a: a[None, rows, cols]
                metrics[LPIPS_BOX.name] = float(self.lpips.distance(crop(composited), crop(image))[0])
        return metrics


def run_benchmark(
    methods,
    images: dict,
    masks,
    out_dir,
    seed: int = 0,
    workers: int = 1,
    batch_size: int = 8,
    method_options: dict | None = None,
    metric_weights: MetricWeights = MetricWeights(),
    log=print,
    shard: tuple[int, int] = (1, 1),
    pairs: list | None = None,
    images_dir=None,
    outside_masks: int = 0,
) -> Path:
    """Run every method on every (mask, paired image); returns the results file.

    `shard` (i, n) runs the i-th of n deterministic slices of the pairs (every n-th pair from the
    i-th) into a results file of its own, OUT/results-shard-I-of-N.csv; `shards.merge_shards` joins
    the n files into the results.csv that one unsharded run would have written. `pairs`, a list of
    (MaskEntry, image name), replaces the seeded pairing of `masks` (the dilation sweep pairs every
    dilation of a mask with the same photo). `images_dir`, the folder `images` came from, is recorded
    in run.json with the networks' checkpoints, for the commands that read the run (`provenance`),
    and `outside_masks`, how many masks of the set were outside every bin, for the table's caption.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    methods = list(dict.fromkeys(methods))
    for name in methods:  # fail on unknown methods before anything runs
        check_method_name(name)
    results_path = out_dir / shard_file_name(*shard)
    all_pairs = pairs if pairs is not None else pair_masks(masks, images.keys(), seed)
    index, count = shard
    pairs = all_pairs[index - 1 :: count]
    method_options = method_options or {}
    # networks are loaded before anything is written, so that a bad checkpoint leaves no file behind
    instances = {
        name: make_method(name, **method_options.get(name, {}))
        for name in methods
        if getattr(METHODS.get(name), "neural", False)
    }
    identity = _identities(methods, pairs, images, method_options, instances)

    def record_the_pairing():  # the whole pairing, the same in every shard, under the rows' lock
        if count > 1:
            method_ids = {name: identity[name, pairs[0][0].mask_id]["method_id"] for name in methods} if pairs else {}
            write_shard_record(results_path, shard, run_identity(all_pairs, images), len(pairs), method_ids)
        write_pairing(out_dir, all_pairs)
        size = next(iter(images.values())).shape[0]
        inputs = run_inputs_record(out_dir, images_dir, instances)
        write_run_settings(out_dir, seed=seed, size=size, pairs=len(all_pairs), outside_masks=outside_masks, **inputs)

    scorers = Scorers(metric_weights, out_dir)
    with appending(results_path, identity, record_the_pairing) as session:
        scorers.save_truths([(m, images[i]) for m, i in pairs])
        for name in methods:
            todo = [(m, i) for m, i in pairs if (name, m.mask_id) not in session.done]
            if not todo:
                log(f"{name}: all {len(pairs)} pairs already in {results_path.name}")
                continue
            outputs = _outputs(name, instances.get(name), todo, images, workers, batch_size, method_options)
            with tqdm(total=len(pairs), initial=len(pairs) - len(todo), desc=name, unit="img") as bar:
                for mask, image_name, valid, composited, seconds, device in outputs:
                    metrics = scorers.score(name, mask, composited, images[image_name], valid)
                    session.write(
                        result_row(
                            name,
                            identity[name, mask.mask_id],
                            *(mask, image_name, metrics, seconds, device, hole_ratio(valid)),
                        )
                    )
                    bar.update()
    return results_path


def _identities(methods, pairs, images, method_options, instances) -> dict:
    """{(method, mask id): the identity its row must carry} (see `results.done_pairs`); a loaded
    network's identity is the hash of the bytes it was loaded from."""
    method_ids = {
        name: method_fingerprint(
            name, getattr(instances.get(name), "weights_hash", None), **method_options.get(name, {})
        )
        for name in methods
    }
    mask_hashes = {m.mask_id: mask_identity(m) for m, _ in pairs}
    image_hashes = {name: image_identity(image) for name, image in images.items()}
    return {
        (name, m.mask_id): dict(
            method_id=method_ids[name], mask_hash=mask_hashes[m.mask_id], image_hash=image_hashes[i]
        )
        for name in methods
        for m, i in pairs
    }


def _run_pair(pair):
    return worker_state("pair_worker")(pair)


def _outputs(name, instance, todo, images, workers, batch_size, method_options):
    """Yield (mask, image name, valid mask, composited, seconds per image, device) for each pending pair."""
    if instance is not None:
        device = str(instance.device)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            batch = np.stack([images[i] for _, i in chunk])
            valids = np.stack([read_pair(m, images[i]) for m, i in chunk])
            started = time.perf_counter()
            outputs = instance.inpaint_batch(blank_holes(batch, valids), valids)
            seconds = (time.perf_counter() - started) / len(chunk)
            for (mask, image_name), output, image, valid in zip(chunk, outputs, batch, valids):
                yield (
                    mask,
                    image_name,
                    valid,
                    checked_composite(name, output, image, valid, mask, image_name),
                    seconds,
                    device,
                )
        return
    worker = _Worker(name, (method_options or {}).get(name, {}), images)
    if workers > 1:
        with process_pool(workers, f"method {name}", {"pair_worker": worker}) as pool:
            yield from pool.map(_run_pair, todo, chunksize=2)
    else:
        yield from map(worker, todo)
