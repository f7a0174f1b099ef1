"""The test set's files: OUT/test/manifest.csv (one row per mask) and OUT/test/settings.json.

This module is the only reader and writer of both. A manifest row explains and can regenerate its
mask: id, split, category (N/B), bin, hole ratio, border distance, source video and frame pair, raw
mask id, augmentation parameters (dilation kernel, angle, crop), size, margin, seed, the sha256 of
the PNG, and its path relative to the test folder. settings.json records the build's
BenchmarkSettings, among them `hole_white`, the polarity of the PNGs.
"""

import hashlib
import json
from pathlib import Path

from pconvkit.files import (
    SETTINGS_FORMAT,
    SETTINGS_FORMAT_KEY,
    csv_text,
    encode_png,
    read_csv_rows,
    read_settings_record,
    write_bytes_atomic,
    write_text_atomic,
)
from pconvkit.images import mask_to_png

MANIFEST_FIELDS = (
    "id",
    "split",
    "category",
    "bin",
    "hole_ratio",
    "border_distance",
    "source_video",
    "frame_first",
    "frame_second",
    "raw_id",
    "kernel",
    "angle",
    "crop_x",
    "crop_y",
    "footprint",
    "size",
    "margin",
    "seed",
    "sha256",
    "path",
)
MANIFEST_NAME = "manifest.csv"
SETTINGS_NAME = "settings.json"


def write_cell_mask(test_dir, valid, category_index: int, bin_index: int, index: int, settings, seed) -> dict:
    """Write mask `index` of a cell as TEST/CATEGORY/BIN/ID.png (IDs in NVIDIA's order: bin by bin, N
    before B, `settings.per_bin` each) and return the manifest fields every mask set shares."""
    from pconvkit.maskgen.bins import CATEGORIES, bin_label, border_distance, hole_ratio

    category = CATEGORIES[category_index]
    mask_id = (2 * bin_index + category_index) * settings.per_bin + index
    relative = f"{category}/{bin_label(bin_index)}/{mask_id:05d}.png"
    png = encode_png(mask_to_png(valid, settings.hole_white))
    write_bytes_atomic(Path(test_dir) / relative, png)
    return dict(
        id=mask_id,
        split="test",
        category=category,
        bin=bin_label(bin_index),
        hole_ratio=f"{hole_ratio(valid):.6f}",
        border_distance=border_distance(valid),
        size=settings.size,
        margin=settings.margin,
        seed="-".join(map(str, seed)),
        sha256=hashlib.sha256(png).hexdigest(),
        path=relative,
    )


def write_imported_mask(test_dir, valid, mask_id: str, margin: int, source: str, hole_white: bool = False) -> dict:
    """Write a mask imported from another set (NVIDIA's) as TEST/CATEGORY/BIN/ID.png, in the cell its
    pixels measure ('outside' for a ratio outside (0.01, 0.6]), and return its manifest row."""
    from pconvkit.maskgen.bins import bin_label, border_distance, classify

    category, index, ratio = classify(valid, margin)
    label = bin_label(index) if index is not None else "outside"
    relative = f"{category}/{label}/{mask_id}.png"
    png = encode_png(mask_to_png(valid, hole_white))
    write_bytes_atomic(Path(test_dir) / relative, png)
    return dict(
        id=mask_id,
        split="test",
        category=category,
        bin=label,
        hole_ratio=f"{ratio:.6f}",
        border_distance=border_distance(valid),
        source_video=source,
        size=valid.shape[0],
        margin=margin,
        sha256=hashlib.sha256(png).hexdigest(),
        path=relative,
    )


def write_import_settings(test_dir, source: str, source_hole_white: bool, hole_white: bool, margin: int) -> Path:
    """settings.json of an imported set: where it came from, the source files' polarity, and the
    polarity of the PNGs written (what `manifest_polarity` reads)."""
    record = dict(imported_from=source, source_hole_white=source_hole_white, hole_white=hole_white, margin=margin)
    record[SETTINGS_FORMAT_KEY] = SETTINGS_FORMAT
    path = Path(test_dir) / SETTINGS_NAME
    write_text_atomic(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def find_test_dir(folder) -> Path | None:
    """The test folder of a maskgen output (FOLDER/test) or FOLDER itself, where a manifest is; else None."""
    folder = Path(folder)
    for candidate in (folder / "test", folder):
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    return None


def manifest_text(rows) -> str:
    """CSV text of manifest rows (dicts with MANIFEST_FIELDS, missing ones left empty)."""
    return csv_text([{field: row.get(field, "") for field in MANIFEST_FIELDS} for row in rows], MANIFEST_FIELDS)


def write_manifest(test_dir, rows) -> Path:
    path = Path(test_dir) / MANIFEST_NAME
    write_text_atomic(path, manifest_text(rows))
    return path


def read_manifest(test_dir) -> list[dict]:
    """The rows of a test folder's manifest (a manifest.csv path is accepted too)."""
    path = Path(test_dir)
    return read_csv_rows(path if path.suffix == ".csv" else path / MANIFEST_NAME)


def read_settings(test_dir) -> dict | None:
    """A test folder's settings.json (migrated to the current format), None where it has none."""
    path = Path(test_dir) / SETTINGS_NAME
    return read_settings_record(path) if path.exists() else None


def manifest_polarity(test_dir) -> bool:
    """hole_white of a test folder's PNGs, from its settings.json (False, white = valid, when it has none)."""
    return bool((read_settings(test_dir) or {}).get("hole_white", False))
