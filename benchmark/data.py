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
from pconvkit.files import content_hash
from pconvkit.images import image_size, list_images, read_image, read_mask
from pconvkit.maskgen.bins import (
    BIN_LABELS,
    BORDER_MARGIN,
    check_polarity,
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
) -> list[MaskEntry]:
    """Masks of a maskgen test set (its manifest) or of any folder (classified by maskgen's rules).

    The polarity is checked with all the evidence there is (see `check_polarity`); `mostly_hole`
    accepts a plain folder whose masks really are mostly hole.
    """
    folder = Path(folder)
    test_dir = find_test_dir(folder)
    if test_dir is not None:
        white = manifest_polarity(test_dir)
        rows = read_manifest(test_dir)
        check_manifest_masks(test_dir, rows, white)
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
