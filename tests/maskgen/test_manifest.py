"""The test set's files: manifest rows in NVIDIA's id order, written whole by one module for builds
and imports alike, read back as written, and the PNG polarity taken from settings.json."""

import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pconvkit.images import read_mask
from pconvkit.maskgen.build import BenchmarkSettings
from pconvkit.maskgen.manifest import (
    MANIFEST_FIELDS,
    find_test_dir,
    manifest_polarity,
    read_manifest,
    read_settings,
    write_cell_mask,
    write_import_settings,
    write_imported_mask,
    write_manifest,
)


def _valid(side=64, hole=(slice(20, 30), slice(20, 44))):
    valid = np.ones((side, side), np.uint8)
    valid[hole] = 0
    return valid


def test_a_cell_mask_gets_nvidias_id_its_cell_folder_and_the_hash_of_its_bytes(tmp_path):
    settings = BenchmarkSettings(per_bin=3, size=64, margin=8)
    row = write_cell_mask(tmp_path, _valid(), category_index=1, bin_index=2, index=1, settings=settings, seed=(0, 7))
    assert row["id"] == (2 * 2 + 1) * 3 + 1  # bin by bin, N before B, per_bin each
    assert row["path"] == "B/0.2-0.3/00016.png" and row["category"] == "B" and row["seed"] == "0-7"
    written = (tmp_path / row["path"]).read_bytes()
    assert row["sha256"] == hashlib.sha256(written).hexdigest()
    assert np.array_equal(read_mask(tmp_path / row["path"]), _valid())
    assert row["hole_ratio"] == f"{10 * 24 / 64**2:.6f}"


def test_an_imported_mask_lands_in_the_cell_its_pixels_measure_or_outside(tmp_path):
    small = write_imported_mask(tmp_path, _valid(), "a_mask000", margin=8, source="nvidia")
    assert (small["category"], small["bin"]) == ("N", "0.01-0.1")
    mostly_hole = np.zeros((64, 64), np.uint8)
    mostly_hole[:8] = 1
    outside = write_imported_mask(tmp_path, mostly_hole, "b", margin=8, source="nvidia", hole_white=True)
    assert outside["bin"] == "outside" and outside["path"] == "B/outside/b.png"
    assert np.array_equal(read_mask(tmp_path / outside["path"], hole_white=True), mostly_hole)


def test_manifest_rows_read_back_with_every_column_and_the_polarity_from_settings(tmp_path):
    rows = [write_imported_mask(tmp_path, _valid(), str(i), margin=8, source="nvidia") for i in range(3)]
    write_manifest(tmp_path, rows)
    back = read_manifest(tmp_path)
    assert [tuple(r) for r in back] == [MANIFEST_FIELDS] * 3
    assert [r["id"] for r in back] == ["0", "1", "2"] and back[0]["source_video"] == "nvidia"
    assert read_manifest(tmp_path / "manifest.csv") == back
    assert manifest_polarity(tmp_path) is False  # no settings.json: white = valid
    write_import_settings(tmp_path, "nvidia", source_hole_white=False, hole_white=True, margin=8)
    assert manifest_polarity(tmp_path) is True and read_settings(tmp_path)["imported_from"] == "nvidia"


def test_the_test_folder_is_found_from_the_build_folder_or_itself(tmp_path):
    (tmp_path / "test").mkdir()
    assert find_test_dir(tmp_path) is None
    write_manifest(tmp_path / "test", [])
    assert find_test_dir(tmp_path) == tmp_path / "test" == find_test_dir(tmp_path / "test")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="ab09 ,'\"-_éü漢", min_size=1, max_size=12), min_size=1, max_size=5, unique=True))
def test_manifest_rows_of_any_ids_round_trip(tmp_path_factory, ids):
    folder = tmp_path_factory.mktemp("set")
    rows = [write_imported_mask(folder, _valid(), mask_id, margin=8, source="a, b") for mask_id in ids]
    write_manifest(folder, rows)
    back = read_manifest(folder)
    assert back == [{field: str(row.get(field, "")) for field in MANIFEST_FIELDS} for row in rows]
    assert all(hashlib.sha256((folder / r["path"]).read_bytes()).hexdigest() == r["sha256"] for r in back)
