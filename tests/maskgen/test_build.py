"""The raw pools and the binned test set, on synthetic raw masks and synthetic flow folders."""

import shutil

import cv2
import numpy as np
import pytest

from pconvkit.errors import UserError
from pconvkit.files import write_png_atomic
from pconvkit.images import mask_to_png, read_mask
from pconvkit.maskgen.bins import BINS, bin_index, border_category, border_distance, hole_ratio
from pconvkit.maskgen.build import BenchmarkSettings, build_test_set, regenerate
from pconvkit.maskgen.manifest import read_manifest

SIZE = 160  # small test masks keep the suite fast; the rules do not depend on the size
MARGIN = 16


def synthetic_pool(out_dir, count=30, seed=0):
    """Raw test masks of random blobs (some large), written as a maskgen raw pool."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        valid = np.ones((120, 200), np.uint8)
        for _ in range(rng.integers(3, 30)):
            centre = (int(rng.integers(0, 200)), int(rng.integers(0, 120)))
            cv2.circle(valid, centre, int(rng.integers(3, 25)), 0, -1)
        raw_id = f"synthetic/{i:06d}_{i + 1:06d}"
        write_png_atomic(out_dir / "raw" / "test" / f"{raw_id}.png", mask_to_png(valid))
        rows.append(
            dict(
                raw_id=raw_id,
                video="synthetic",
                first=i,
                second=i + 1,
                hole_ratio=hole_ratio(valid),
                height=120,
                width=200,
            )
        )
    return rows


def small_settings(**changes):
    return BenchmarkSettings(**{**dict(per_bin=4, size=SIZE, margin=MARGIN, seed=3, chunk=3), **changes})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    rows = synthetic_pool(out)
    manifest = build_test_set(out, rows, small_settings())
    return out, rows, manifest


def test_every_mask_lies_in_its_cell_and_counts_are_exact(built):
    out, _, manifest = built
    rows = read_manifest(manifest)
    assert len(rows) == 12 * 4
    cells = {}
    for row in rows:
        valid = read_mask(out / "test" / row["path"])
        index = bin_index(hole_ratio(valid))
        assert index is not None and f"{BINS[index][0]:g}-{BINS[index][1]:g}" == row["bin"]
        assert border_category(valid, MARGIN) == row["category"]
        if row["category"] == "N":
            assert border_distance(valid) >= MARGIN
        cells[(row["category"], row["bin"])] = cells.get((row["category"], row["bin"]), 0) + 1
    assert set(cells.values()) == {4} and len(cells) == 12


def test_ids_follow_nvidia_order(built):
    rows = read_manifest(built[2])
    ids = [int(r["id"]) for r in rows]
    assert ids == list(range(48))
    assert [r["category"] for r in rows[:8]] == ["N"] * 4 + ["B"] * 4


def test_rows_regenerate_from_their_parameters(built):
    out, _, manifest = built
    for row in read_manifest(manifest)[::5]:
        assert np.array_equal(regenerate(row, out), read_mask(out / "test" / row["path"]))


def test_same_seed_same_bytes_whatever_workers_and_after_resume(built, tmp_path):
    out, rows, manifest = built
    other = tmp_path / "other"
    shutil.copytree(out / "raw", other / "raw")
    build_test_set(other, rows, small_settings(), workers=2)
    assert (other / "test" / "manifest.csv").read_bytes() == manifest.read_bytes()
    # an interrupted build: drop a chunk's record and one of its masks, then resume
    part = sorted((other / "test" / ".parts").iterdir())[5]
    part.unlink()
    build_test_set(other, rows, small_settings())
    assert (other / "test" / "manifest.csv").read_bytes() == manifest.read_bytes()
    for row in read_manifest(manifest):
        assert (other / "test" / row["path"]).read_bytes() == (out / "test" / row["path"]).read_bytes()


def test_other_settings_in_the_same_folder_are_refused(built):
    out, rows, _ = built
    with pytest.raises(UserError, match="other settings"):
        build_test_set(out, rows, small_settings(seed=4))


def test_impossible_bin_names_the_cell(tmp_path):
    valid = np.ones((120, 200), np.uint8)
    valid[50:54, 90:94] = 0  # one tiny hole, even dilated by 47 px, cannot reach 0.2
    write_png_atomic(tmp_path / "raw" / "test" / "v" / "a.png", mask_to_png(valid))
    rows = [dict(raw_id="v/a", video="v", first=0, second=1, hole_ratio=0.0, height=120, width=200)]
    with pytest.raises(UserError, match=r"cannot fill bin N 0.2-0.3") as error:
        build_test_set(tmp_path, rows, small_settings(per_bin=1, max_tries=50))
    assert "larger occlusions" in str(error.value) and "sparser" not in str(error.value)


def test_explicit_options_override_a_preset():
    from pconvkit.maskgen.build import PRESETS, preset_values

    sample = preset_values("sample", {"per_bin": 3, "frame_stride": None})
    assert sample["per_bin"] == 3 and sample["frame_stride"] == PRESETS["sample"]["frame_stride"]
    assert sample["test_videos"] == ("Megamind",)
    assert preset_values("paper", {})["train_count"] == 55_116 and preset_values("paper", {})["per_bin"] == 1000


def test_test_masks_spread_over_their_bins(tmp_path):
    valid = np.ones((300, 300), np.uint8)
    valid[10:300:40, 10:300:40] = 0  # a lattice of hole pixels: dilation reaches any ratio
    write_png_atomic(tmp_path / "raw" / "test" / "v" / "a.png", mask_to_png(valid))
    rows = [dict(raw_id="v/a", video="v", first=0, second=1, hole_ratio=0.0, height=300, width=300)]
    build_test_set(tmp_path, rows, small_settings(per_bin=12))
    ratios = [float(r["hole_ratio"]) for r in read_manifest(tmp_path / "test") if r["bin"] == "0.01-0.1"]
    # drawn uniformly in (0.01, 0.1]: both halves of the bin get masks, not only the end dilation favours
    assert min(ratios) < 0.055 < max(ratios) and abs(np.mean(ratios) - 0.055) < 0.02


def test_a_preset_takes_what_the_user_typed_and_ignores_other_options():
    from pconvkit.maskgen.build import PRESETS, preset_values

    values = preset_values("sample", {"frame_gaps": "1,4", "test_videos": "a, b", "per_bin": 3, "workers": 2})
    assert values == {**PRESETS["sample"], "frame_gaps": (1, 4), "test_videos": ("a", "b"), "per_bin": 3}
    assert preset_values("paper", {"per_bin": None}) == PRESETS["paper"]  # not given: the preset's value
