"""Benchmark inputs: images at the evaluation size, classified masks, and their pairing.

The paper evaluates 512x512 images and assigns masks to images at random without replacement. With
fewer images than masks, the images are dealt in successive random permutations, so every image is
used floor(M / I) or ceil(M / I) times and no image twice before all were used once.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import content_hash, read_csv_rows
from pconvkit.images import image_size, list_images, read_image, read_mask
from pconvkit.maskgen.bins import (
    BIN_LABELS,
    BORDER_MARGIN,
    bin_label,
    check_polarity,
    classify,
    hole_ratio,
)
from pconvkit.maskgen.manifest import find_test_dir, manifest_polarity, read_manifest
from pconvkit.maskgen.survey import classify_folder

MIN_IMAGE_SIDE = 64


@dataclass(frozen=True)
class MaskEntry:
    mask_id: str
    path: Path
    category: str
    bin: str
    hole_white: bool = False
    threshold: float | None = None  # the user's explicit binarisation of non-binary mask files


def load_images(folder, size: int = 512) -> dict[str, np.ndarray]:
    """{name: image (size, size, 3)}: the central square of each image, resized (INTER_AREA down,
    INTER_CUBIC up). Images with a side under 64 px are rejected."""
    images = {}
    for path in list_images(folder, unique_names="images"):
        image = read_image(path, min_size=MIN_IMAGE_SIDE)
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[top : top + side, left : left + side]
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        images[path.stem] = np.clip(cv2.resize(square, (size, size), interpolation=interpolation), 0, 1)
    return images


def load_masks(
    folder,
    hole_white: bool = False,
    margin: int = BORDER_MARGIN,
    threshold: float | None = None,
    mostly_hole: bool = False,
    outside: list | None = None,
) -> list[MaskEntry]:
    """Masks of a maskgen test set (its manifest) or of any folder (classified by maskgen's rules).

    The polarity is checked with all the evidence there is (see `check_polarity`); `mostly_hole`
    accepts a plain folder whose masks really are mostly hole. Masks outside every bin are not
    returned; `outside`, a list, receives their paths (so that a caller can say how many).
    """
    outside = [] if outside is None else outside
    folder = Path(folder)
    test_dir = find_test_dir(folder)
    if test_dir is not None:
        white = manifest_polarity(test_dir)
        rows = read_manifest(test_dir)
        check_manifest_masks(test_dir, rows, white)
        outside += [test_dir / r["path"] for r in rows if r["bin"] == "outside"]
        return [
            MaskEntry(
                f"{int(r['id']):05d}" if r["id"].isdigit() else r["id"],
                test_dir / r["path"],
                r["category"],
                r["bin"],
                white,
            )
            for r in rows
            if r["bin"] != "outside"
        ]
    rows = classify_folder(folder, hole_white, margin, threshold, unique_names="masks")
    if not mostly_hole:
        check_polarity(folder, [r["hole_ratio"] for r in rows], hole_white)
    outside += [folder / r["path"] for r in rows if r["bin"] == "outside"]
    return [
        MaskEntry(Path(r["path"]).stem, folder / r["path"], r["category"], r["bin"], hole_white, threshold)
        for r in rows
        if r["bin"] != "outside"
    ]


def check_manifest_masks(test_dir, rows, hole_white: bool, per_cell: int = 1):
    """The first mask of each cell must have the hole ratio its manifest records: an inverted or
    edited test folder is stopped before it is benchmarked."""
    seen = {}
    for row in rows:
        cell = (row["category"], row["bin"])
        if seen.get(cell, 0) >= per_cell or not row.get("hole_ratio"):
            continue
        seen[cell] = seen.get(cell, 0) + 1
        measured, recorded = hole_ratio(read_mask(Path(test_dir) / row["path"], hole_white)), float(row["hole_ratio"])
        if abs(measured - recorded) <= 1e-5:
            continue
        if abs(1 - measured - recorded) <= 1e-5:
            raise UserError(
                f"{test_dir}: mask {row['path']} is the inverse of what its manifest records "
                f"(hole ratio {measured:.4f}, recorded {recorded:.4f}): its polarity does not match "
                "settings.json's hole_white; rebuild it or fix settings.json"
            )
        raise UserError(
            f"{test_dir}: mask {row['path']} has hole ratio {measured:.4f}, its manifest records "
            f"{recorded:.4f}: the folder was changed after it was built"
        )


def select_masks(masks, split: str = "all", bins=None, limit: int | None = None) -> list[MaskEntry]:
    """Masks of category `split` ('N', 'B' or 'all'), of the chosen bins, at most `limit` per cell."""
    if split not in ("N", "B", "all"):
        raise UserError(f"--split must be N, B or all, not {split!r}")
    labels = BIN_LABELS
    wanted_bins = set(labels if not bins else bins)
    unknown = wanted_bins - set(labels)
    if unknown:
        raise UserError(f"unknown bin {sorted(unknown)[0]!r}: bins are {', '.join(labels)}")
    chosen, per_cell = [], {}
    for mask in masks:
        if (split != "all" and mask.category != split) or mask.bin not in wanted_bins:
            continue
        cell = (mask.category, mask.bin)
        if limit is not None and per_cell.get(cell, 0) >= limit:
            continue
        per_cell[cell] = per_cell.get(cell, 0) + 1
        chosen.append(mask)
    if not chosen:
        raise UserError("no mask matches the chosen --split and --bins")
    return chosen


def pair_masks(masks, image_names, seed: int = 0) -> list[tuple[MaskEntry, str]]:
    """Assign an image to every mask, at random without replacement (see the module docstring)."""
    rng = np.random.default_rng(seed)
    names = sorted(image_names)
    dealt = []
    while len(dealt) < len(masks):
        dealt += [names[i] for i in rng.permutation(len(names))]
    return list(zip(masks, dealt[: len(masks)]))


def mask_identity(mask: MaskEntry) -> str:
    """What a mask's results rows depend on: its file's bytes and how they are read."""
    return content_hash(Path(mask.path).read_bytes(), mask.hole_white, mask.threshold)


def image_identity(image: np.ndarray) -> str:
    """What an image's results rows depend on: its pixels at the evaluation size."""
    return content_hash(np.ascontiguousarray(image, np.float32), image.shape)


def read_pair(mask: MaskEntry, image: np.ndarray) -> np.ndarray:
    valid = read_mask(mask.path, mask.hole_white, mask.threshold)
    if valid.shape != image.shape[:2]:
        raise UserError(
            f"mask {mask.path} is {valid.shape[1]}x{valid.shape[0]}, images are {image.shape[1]}x{image.shape[0]}"
        )
    return valid


def check_mask_sizes(masks, size: int):
    """Fail before anything runs if a mask does not have the images' size (PNG headers only)."""
    for mask in masks:
        width, height = image_size(mask.path)
        if (width, height) != (size, size):
            raise UserError(f"mask {mask.path} is {width}x{height}, images are {size}x{size}")


PAIRS_FIELDS = ("image", "mask")  # and an optional "id"


def read_pairs(source, images: dict, masks_dir=None, hole_white=False, threshold=None, margin=BORDER_MARGIN, log=print):
    """A published pairing, in its order: (MaskEntry, image name) pairs from a CSV of image, mask and
    an optional id (the image by its file name or stem in the images folder; the mask path relative
    to `masks_dir`, else to the CSV's folder), or from a LaMa-style paired folder (NAME.png beside
    NAME_mask*.png, paired by LaMa's rule: a mask's image is its name up to the last "_mask").
    Each mask is classified by its pixels; masks outside every bin are counted and left out."""
    source = Path(source)
    if source.is_dir():
        rows = [
            dict(image=str(mask.with_name(mask.name.rsplit("_mask", 1)[0] + ".png")), mask=str(mask), id=mask.stem)
            for mask in sorted(source.rglob("*mask*.png"))
        ]
        base = source
    elif source.is_file():
        rows, base = read_csv_rows(source), Path(masks_dir) if masks_dir else source.parent
        if not rows or not set(PAIRS_FIELDS) <= set(rows[0]):
            raise UserError(f"{source} is not a pairs file: it needs the columns image and mask (and optionally id)")
    else:
        raise UserError(f"pairs not found: {source} (a CSV of image,mask[,id] or a LaMa-style folder)")
    if not rows:
        raise UserError(f"no pairs in {source}")
    by_stem = {name: name for name in images}
    pairs, ratios, ids = [], [], set()
    for line, row in enumerate(rows, 2):
        image = Path(row["image"]).stem
        if image not in by_stem:
            raise UserError(f"{source}, pair {line - 1}: the image {row['image']!r} is not among the given --images")
        path = base / row["mask"]
        mask_id = (row.get("id") or "").strip() or Path(row["mask"]).stem
        if mask_id in ids:
            raise UserError(f"{source}: the id {mask_id!r} is there twice: ids name pairs in the results")
        ids.add(mask_id)
        valid = read_mask(path, hole_white, threshold)
        if valid.shape != images[image].shape[:2]:
            raise UserError(f"mask {path} is {valid.shape[1]}x{valid.shape[0]}, images are {images[image].shape[1]}px")
        category, index, ratio = classify(valid, margin)
        ratios.append(ratio)
        if index is not None:
            pairs.append((MaskEntry(mask_id, path, category, bin_label(index), hole_white, threshold), image))
    check_polarity(source, ratios, hole_white)
    if not pairs:
        raise UserError(f"no pair of {source} has a mask inside the bins (0.01, 0.6]: check the polarity")
    if len(pairs) < len(rows):
        log(f"{len(rows) - len(pairs)} of {len(rows)} pairs have masks outside every bin (0.01, 0.6]: not scored")
    return pairs
