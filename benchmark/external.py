"""Methods that run elsewhere: a run's exact inputs exported in another tool's layout, and that
tool's outputs scored back into the run's results, with the same compositing, metrics and rows as
a built-in method.

Layouts of `export_pairs` (NAME is `export_name`, p00001 ... in pairing order: a name with no
"mask" in it, no dot, space or letter outside ASCII, so that every tool's own file rule reads it as
meant, whatever the mask ids are; pairs.csv maps each NAME to its mask id):

    lama    NAME.png and NAME_mask001.png, white = hole (LaMa's evaluation reader globs
            **/*mask*.png and takes the image as the mask name's part before its last "_mask"; it
            writes NAME_mask001.png into its output folder)
    mmagic  images/NAME.png and masks/NAME.png, white = hole (mmagic's inpainting masks), and
            pairs.txt with one NAME.png per line (BasicImageDataset's annotation file: a line's
            first word is the file, with its extension); IOPaint's batch mode reads this layout as
            it is (`iopaint run --image DIR/images --mask DIR/masks`: a mask by its image's stem)
    plain   images/NAME.png and masks/NAME.png, white = valid (the paper's M)

Each image is the method's input: the photo with its holes blanked (`images.blank_holes`), as the
harness hands it to a built-in method. With `truth`, each image is the ground truth instead, the
very 8-bit pixels `run` and `score` score against (`data.load_images`): the folder another
evaluator reads (LaMa's evaluate_predicts.py takes NAME.png as the truth; LaMa and mmagic blank the
holes themselves before they fill them). Every layout also gets pairs.csv (name, mask, image,
category, bin) and protocol.txt (the pairing's hashes, as the tables print them).
"""

import math
from pathlib import Path

import numpy as np

from pconvkit.benchmark.data import image_identity, mask_identity, read_pair
from pconvkit.benchmark.methods import check_scored_name
from pconvkit.benchmark.results import appending, pairing_hash, read_pairing, result_row, results_path
from pconvkit.benchmark.run import MetricWeights, Scorers, checked_composite
from pconvkit.errors import UserError
from pconvkit.files import content_hash, csv_text, file_hash, write_image, write_png_atomic, write_text_atomic
from pconvkit.images import HOLE_FILL, IMAGE_SUFFIXES, blank_holes, image_size, mask_to_png, read_image
from pconvkit.maskgen.bins import hole_ratio

LAYOUTS = ("lama", "mmagic", "plain")
OUTPUT_SUFFIXES = ("", "_mask001", "_mask")  # LaMa names its outputs after the mask file


def export_pairs(results_dir, images: dict, layout: str, out_dir, truth: bool = False) -> Path:
    """Write the exact inputs of a run's pairs (512x512 image and mask files) in `layout`, or with
    `truth` the ground truths in place of the inputs."""
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r}: {', '.join(LAYOUTS)}")
    out_dir = Path(out_dir)
    pairs = read_pairing(results_dir)
    contents = "ground truths" if truth else "inputs"
    protocol = f"{len(pairs)} pairs; pairing {pairing_hash(results_dir)}; layout {layout}; {contents}\n"
    # another export's files left in the folder would be read as pairs of this one by the other tool
    if out_dir.is_dir() and any(out_dir.iterdir()):
        held = (out_dir / "protocol.txt").read_text() if (out_dir / "protocol.txt").is_file() else None
        if held != protocol:
            raise UserError(
                f"{out_dir} is not empty and holds no export of these pairs, layout and contents: give another --out"
            )
    rows = []
    for index, (mask, image_name) in enumerate(pairs):
        image = _image_of(images, image_name)
        valid = read_pair(mask, image)
        name = export_name(index, len(pairs))
        if layout == "lama":
            image_path, mask_path, hole_white = out_dir / f"{name}.png", out_dir / f"{name}_mask001.png", True
        else:
            image_path, mask_path = out_dir / "images" / f"{name}.png", out_dir / "masks" / f"{name}.png"
            hole_white = layout == "mmagic"
        write_image(image_path, image if truth else blank_holes(image, valid))
        write_png_atomic(mask_path, mask_to_png(valid, hole_white))
        rows.append(dict(name=name, mask=mask.mask_id, image=image_name, category=mask.category, bin=mask.bin))
    if layout == "mmagic":
        write_text_atomic(out_dir / "pairs.txt", "".join(f"{row['name']}.png\n" for row in rows))
    write_text_atomic(out_dir / "pairs.csv", csv_text(rows, ("name", "mask", "image", "category", "bin")))
    write_text_atomic(out_dir / "protocol.txt", protocol)
    return out_dir


def export_name(index: int, count: int) -> str:
    """The file name (without suffix) of the index-th pair (0-based) of `count` in every layout."""
    return f"p{index + 1:0{max(5, len(str(count)))}d}"


def find_outputs(pairs, outputs_dir) -> dict:
    """{mask id: output file} for every pair, each found exactly once under its export name (as
    NAME, NAME_mask001 or NAME_mask, any image suffix); a one-line error when any pair has none or
    two candidates."""
    outputs_dir = Path(outputs_dir)
    if not outputs_dir.is_dir():
        raise UserError(f"not a folder: {outputs_dir}")
    files = {}
    for path in outputs_dir.rglob("*"):
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
            files.setdefault(path.stem, []).append(path)
    found, missing = {}, []
    for index, (mask, _) in enumerate(pairs):
        name = export_name(index, len(pairs))
        candidates = [p for suffix in OUTPUT_SUFFIXES for p in files.get(name + suffix, [])]
        if len(candidates) > 1:
            raise UserError(
                f"two outputs for pair {name} (mask {mask.mask_id}): {candidates[0]} and {candidates[1]}; "
                "keep one per pair"
            )
        if candidates:
            found[mask.mask_id] = candidates[0]
        else:
            missing.append(name)
    if missing:
        named_by_id = sum(mask.mask_id in files for mask, _ in pairs)
        hint = " (they are named by mask id: export the pairs again, outputs are named by pairs.csv's names)"
        raise UserError(
            f"{len(missing)} of {len(pairs)} pairs have no output in {outputs_dir} (first: "
            f"{missing[0]}.png or {missing[0]}_mask001.png): score a complete set of outputs"
            + (hint if named_by_id else "")
        )
    return found


def _check_outputs_are_outputs(pairs, outputs: dict, images: dict):
    """Stop before any row where the folder holds something else than a method's outputs: the mask
    files (binary, one grey channel), the ground truths (the truth's pixels in every hole) or the
    exported inputs themselves (every hole still blank)."""
    looks = dict(mask=0, truth=0, blank=0)
    for done, (mask, image_name) in enumerate(pairs):
        if max(looks.values()) < done:  # every kind has failed on some pair: they are outputs
            return
        image = _image_of(images, image_name)
        output, holes = read_image(outputs[mask.mask_id]), read_pair(mask, image) == 0
        grey = np.array_equal(output[..., 0], output[..., 1]) and np.array_equal(output[..., 0], output[..., 2])
        looks["mask"] += grey and np.isin(output, (0.0, 1.0)).all()
        looks["truth"] += bool(np.abs(output[holes] - image[holes]).max(initial=0) <= 0.5 / 255)
        looks["blank"] += bool((output[holes] == HOLE_FILL).all())
    what = {
        "mask": "mask files (binary, grey)",
        "truth": "the ground truths (the truth's pixels in every hole)",
        "blank": "the exported inputs (every hole still blank)",
    }
    for kind, count in looks.items():
        if count == len(pairs):
            raise UserError(f"the outputs in this folder are {what[kind]}, not a method's outputs: give its --outputs")


def score_outputs(
    results_dir, images: dict, method: str, outputs_dir, log=print, metric_weights: MetricWeights = MetricWeights()
) -> Path:
    """Score a folder of outputs made by any tool on a run's pairs, as rows of `method` in the run's
    results.csv. An output must have its pair's size; the holes are composited into the known pixels
    and measured exactly as for a built-in method. The method's fingerprint is the hash of its output
    files, so outputs that change later are refused, not mixed. `metric_weights` adds LPIPS and the
    network vectors of IS, FID and KID, as for a run."""
    check_scored_name(method)
    results_dir = Path(results_dir)
    pairs = read_pairing(results_dir)
    outputs = find_outputs(pairs, outputs_dir)
    method_id = content_hash("external", method, *(f"{k}:{file_hash(v)}" for k, v in sorted(outputs.items())))
    identity = {
        (method, mask.mask_id): dict(
            method_id=method_id, mask_hash=mask_identity(mask), image_hash=image_identity(_image_of(images, image_name))
        )
        for mask, image_name in pairs
    }
    for mask, image_name in pairs:  # every output's size before any row is written
        height, width = _image_of(images, image_name).shape[:2]
        if image_size(outputs[mask.mask_id]) != (width, height):
            found = "x".join(map(str, image_size(outputs[mask.mask_id])))
            raise UserError(f"{outputs[mask.mask_id]} is {found}; its pair is {width}x{height}")
    _check_outputs_are_outputs(pairs, outputs, images)
    path = results_path(results_dir)
    scorers = Scorers(metric_weights, results_dir)
    with appending(path, identity) as session:
        scorers.save_truths([(m, _image_of(images, i)) for m, i in pairs])
        for mask, image_name in pairs:
            if (method, mask.mask_id) in session.done:
                continue
            image = _image_of(images, image_name)
            output = read_image(outputs[mask.mask_id])
            valid = read_pair(mask, image)
            composited = checked_composite(method, output, image, valid, mask, image_name)
            metrics = scorers.score(method, mask, composited, image, valid)
            ratio = hole_ratio(valid)
            row = result_row(
                method, identity[method, mask.mask_id], mask, image_name, metrics, math.nan, "external", ratio
            )
            session.write(row)
    done = len(session.done)
    log(f"{method}: {len(pairs) - done} of {len(pairs)} outputs scored, none missing, {done} already in {path.name}")
    return path


def _image_of(images: dict, name: str):
    if name not in images:
        raise UserError(f"the run's image {name!r} is not among the given images: give the run's --images")
    return images[name]
