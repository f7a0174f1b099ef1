"""The test set's files: OUT/test/manifest.csv (one row per mask) and OUT/test/settings.json.

This module is the only reader and writer of both. A manifest row explains and can regenerate its
mask: id, split, category (N/B), bin, hole ratio, border distance, source video and frame pair, raw
mask id, augmentation parameters (dilation kernel, angle, crop), size, margin, seed, the sha256 of
the PNG, and its path relative to the test folder. settings.json records the build's
BenchmarkSettings, among them `hole_white`, the polarity of the PNGs.
"""

import json
from pathlib import Path

from pconvkit.files import csv_text, read_csv_rows, write_text_atomic

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
    "size",
    "margin",
    "seed",
    "sha256",
    "path",
)
MANIFEST_NAME = "manifest.csv"
SETTINGS_NAME = "settings.json"


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
    path = Path(test_dir) / SETTINGS_NAME
    return json.loads(path.read_text()) if path.exists() else None


def manifest_polarity(test_dir) -> bool:
    """hole_white of a test folder's PNGs, from its settings.json (False, white = valid, when it has none)."""
    return bool((read_settings(test_dir) or {}).get("hole_white", False))
