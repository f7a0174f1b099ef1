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
from pconvkit.images import image_size, list_images, read_image, read_mask, to_uint8
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
OUTSIDE = "outside"  # the bin of a mask outside the paper's six (0.01, 0.6]


@dataclass(frozen=True)
class MaskEntry:
    mask_id: str
    path: Path
    category: str
    bin: str
    hole_white: bool = False
    threshold: float | None = None  # the user's explicit binarisation of non-binary mask files


def load_images(folder, size: int = 512) -> dict[str, np.ndarray]:
    """{name: image (size, size, 3) float32}: the central square of each image, resized (INTER_AREA
    down, INTER_CUBIC up) and rounded to 8 bits. Images with a side under 64 px are rejected.

    The rounding makes the ground truth of a run the very pixels `export-pairs` writes and any other
    evaluator reads back (k / 255): scored here or there, the same outputs give the same numbers."""
    images = {}
    for path in list_images(folder, unique_names="images"):
        image = read_image(path, min_size=MIN_IMAGE_SIDE)
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[top : top + side, left : left + side]
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        resized = cv2.resize(square, (size, size), interpolation=interpolation)
        images[path.stem] = to_uint8(resized).astype(np.float32) / np.float32(255)
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
        outside += [test_dir / r["path"] for r in rows if r["bin"] == OUTSIDE]
        return [
            MaskEntry(
                f"{int(r['id']):05d}" if r["id"].isdigit() else r["id"],
                test_dir / r["path"],
                r["category"],
                r["bin"],
                white,
            )
            for r in rows
            if r["bin"] != OUTSIDE
        ]
    rows = classify_folder(folder, hole_white, margin, threshold, unique_names="masks")
    if not mostly_hole:
        check_polarity(folder, [r["hole_ratio"] for r in rows], hole_white)
    outside += [folder / r["path"] for r in rows if r["bin"] == OUTSIDE]
    return [
        MaskEntry(Path(r["path"]).stem, folder / r["path"], r["category"], r["bin"], hole_white, threshold)
        for r in rows
        if r["bin"] != OUTSIDE
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


def _pair_rows(source: Path, masks_dir):
    """(rows of image, mask[, id], the folder mask paths are relative to) of a pairs source."""
    if source.is_dir():  # LaMa: NAME_mask*.png's image is its name up to the last "_mask", + .png
        rows = [
            dict(image=str(mask.with_name(mask.name.rsplit("_mask", 1)[0] + ".png")), mask=str(mask), id=mask.stem)
            for mask in sorted(source.rglob("*mask*.png"))
        ]
        return rows, source
    if not source.is_file():
        raise UserError(f"pairs not found: {source} (a CSV of image,mask[,id], an mmagic .txt or a LaMa-style folder)")
    if source.suffix.lower() == ".txt":  # mmagic: a line's first word names the file in images/ and masks/
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise UserError(f"{source} is not UTF-8 text: an mmagic annotation file lists one file per line") from None
        words = [line.split(" ")[0] for line in lines if line.strip()]
        return [dict(image=w, mask=w) for w in words], Path(masks_dir) if masks_dir else source.parent / "masks"
    rows = read_csv_rows(source)
    if rows and not set(PAIRS_FIELDS) <= set(rows[0]):
        raise UserError(f"{source} is not a pairs file: it needs the columns image and mask (and optionally id)")
    return rows, Path(masks_dir) if masks_dir else source.parent


def read_pairs(source, images: dict, masks_dir=None, hole_white=False, threshold=None, margin=BORDER_MARGIN, log=print):
    """A published pairing, every pair in its order: (MaskEntry, image name) pairs from a CSV of
    image, mask and an optional id (the image by its file name or stem in the images folder; the mask
    path relative to `masks_dir`, else to the CSV's folder), from an mmagic annotation file (.txt: a
    line's first word is a file of the images folder and of `masks_dir`, default the file's folder's
    masks/), or from a LaMa-style paired folder (NAME.png beside NAME_mask*.png, paired by LaMa's
    rule: a mask's image is its name up to the last "_mask").

    Each mask is classified by its pixels; masks outside the paper's bins are kept with the bin
    OUTSIDE (the paper's table leaves them out and counts them, `table --bins lama` shows them)."""
    source = Path(source)
    rows, base = _pair_rows(source, masks_dir)
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
        label = bin_label(index) if index is not None else OUTSIDE
        pairs.append((MaskEntry(mask_id, path, category, label, hole_white, threshold), image))
    check_polarity(source, ratios, hole_white)
    outside = sum(mask.bin == OUTSIDE for mask, _ in pairs)
    if outside:
        log(
            f"{outside} of {len(pairs)} pairs have masks outside the paper's bins (0.01, 0.6]: scored, in the "
            "tables of --bins lama or your own edges, left out (and counted) in the paper's"
        )
    return pairs
