"""The raw pools and the binned test set, on synthetic raw masks and synthetic flow folders."""

import hashlib
import json
import shutil
from dataclasses import replace

import cv2
import numpy as np
import pytest

from pconvkit.errors import UserError
from pconvkit.files import write_png_atomic
from pconvkit.images import mask_to_png, read_mask
from pconvkit.maskgen.bins import BINS, bin_index, bin_label, border_category, border_distance, hole_ratio
from pconvkit.maskgen.build import (
    NO_DILATION_LAW,
    BenchmarkSettings,
    _unfillable_advice,
    build_test_set,
    check_test_set_memory,
    check_test_settings,
    draw_ratio,
    ratio_candidates,
    reach,
    regenerate,
    sample_cell_mask,
    source_groups,
)
from pconvkit.maskgen.manifest import read_manifest
from pconvkit.maskgen.pool import load_raw_mask
from pconvkit.maskgen.survey import NVIDIA_MEAN_RATIO

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


def drawn_ratio(rng, low, high):
    """The ratio the sampler draws first for a mask of the bin (low, high] with the default draw."""
    return draw_ratio(rng, low, high, NVIDIA_MEAN_RATIO[f"{low:g}-{high:g}"])


def one_source_pool(out_dir, valid):
    """A raw test pool of one mask, `valid`: its pool rows."""
    write_png_atomic(out_dir / "raw" / "test" / "v" / "a.png", mask_to_png(valid))
    height, width = valid.shape
    return [dict(raw_id="v/a", video="v", first=0, second=1, hole_ratio=0.0, height=height, width=width)]


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
    valid[50:52, 90:92] = 0  # one tiny hole: even dilated by 47 px (at any angle) under 0.1 of the mask
    rows = one_source_pool(tmp_path, valid)
    with pytest.raises(UserError, match=r"cannot fill bin N 0.1-0.2") as error:
        build_test_set(tmp_path, rows, small_settings(per_bin=1, max_tries=50))
    assert "larger occlusions" in str(error.value) and "sparser" not in str(error.value)
    assert "dilation-law" not in str(error.value)  # no law was set
    for law, named in (((47.0, 1.0), False), ((30.0, 0.0), True)):  # one caps nothing, one caps at 30 px
        shutil.rmtree(tmp_path / "test")  # the settings file of the try before
        with pytest.raises(UserError, match=r"cannot fill bin N 0.1-0.2") as error:
            build_test_set(tmp_path, rows, small_settings(per_bin=1, max_tries=50, dilation_law=law))
        assert str(error.value).endswith(", or loosen --dilation-law") == named, law


def test_explicit_options_override_a_preset():
    from pconvkit.maskgen.build import PRESETS, preset_values

    sample = preset_values("sample", {"per_bin": 3, "frame_stride": None})
    assert sample["per_bin"] == 3 and sample["frame_stride"] == PRESETS["sample"]["frame_stride"]
    assert sample["test_videos"] == ("Megamind",)
    paper = preset_values("paper", {})
    assert paper["train_count"] == 55_116 and paper["per_bin"] == 1000
    assert paper["frame_gaps"] == (1,) and paper["frame_stride"] == 1  # every consecutive pair, as in the paper


def test_test_masks_spread_over_their_bins(tmp_path):
    valid = np.ones((300, 300), np.uint8)
    valid[10:300:40, 10:300:40] = 0  # a lattice of hole pixels: dilation reaches any ratio
    rows = one_source_pool(tmp_path, valid)
    build_test_set(tmp_path, rows, small_settings(per_bin=12))
    ratios = [float(r["hole_ratio"]) for r in read_manifest(tmp_path / "test") if r["bin"] == "0.01-0.1"]
    # drawn uniformly in (0.01, 0.1]: both halves of the bin get masks, not only the end dilation favours
    assert min(ratios) < 0.055 < max(ratios) and abs(np.mean(ratios) - 0.055) < 0.02


def test_a_preset_takes_what_the_user_typed_and_ignores_other_options():
    from pconvkit.maskgen.build import PRESETS, preset_values

    values = preset_values("sample", {"frame_gaps": "1,4", "test_videos": "a, b", "per_bin": 3, "workers": 2})
    assert values == {**PRESETS["sample"], "frame_gaps": (1, 4), "test_videos": ("a", "b"), "per_bin": 3}
    assert preset_values("paper", {"per_bin": None}) == PRESETS["paper"]  # not given: the preset's value


def test_the_defaults_are_the_papers():
    """Section 4.1: 1,000 masks per cell, 512x512, no hole within 50 px of the border in N."""
    defaults = BenchmarkSettings()
    assert (defaults.per_bin, defaults.size, defaults.margin) == (1000, 512, 50)
    assert defaults.seed == 0  # the seed `make demo` builds the README's masks with (it gives none)


def test_every_row_regenerates_its_mask(built):
    out, _, manifest = built
    for row in read_manifest(manifest):
        assert np.array_equal(regenerate(row, out), read_mask(out / "test" / row["path"]))


def _allowed(mask, bounds, category):
    """Whether a mask's hole ratio lies in (low, high] and, for B, a hole lies in the border frame."""
    touches = border_distance(mask) is not None and border_distance(mask) < MARGIN
    return bounds[0] < hole_ratio(mask) <= bounds[1] and (category == "N" or touches)


def test_each_mask_takes_the_thinnest_dilation_that_reaches_its_drawn_ratio(built):
    """The ratio is drawn first from the mask's own generator (the module's contract). Where some
    source's reach covers it, the mask has the thinnest dilation that lands within the tolerance:
    the kernel one thinner misses the ratio or, for B, leaves the border frame without a hole. Where
    none does, any ratio of the bin is taken, the nearest to the drawn one: neither neighbouring
    kernel that stays in the bin comes nearer."""
    out, pool, manifest = built
    reaches = [reach(load_raw_mask(out, "test", row["raw_id"]), "square") for row in pool]
    tolerance = BenchmarkSettings().ratio_tolerance
    rules = {"thinnest": 0, "nearest": 0}
    for row in read_manifest(manifest):
        low, high = BINS[[f"{a:g}-{b:g}" for a, b in BINS].index(row["bin"])]
        target = drawn_ratio(np.random.default_rng([int(s) for s in row["seed"].split("-")]), low, high)
        near = (max(low, target - tolerance), min(high, target + tolerance))
        kernel, ratio = int(row["kernel"]), hole_ratio(read_mask(out / "test" / row["path"]))
        category = row["category"]
        if ratio_candidates(reaches, *near).size:
            rules["thinnest"] += 1
            assert near[0] < ratio <= near[1]
            assert kernel == 5 or not _allowed(regenerate(dict(row, kernel=kernel - 1), out), near, category)
        else:
            rules["nearest"] += 1
            for other in {max(kernel - 1, 5), min(kernel + 1, 47)} - {kernel}:
                mask = regenerate(dict(row, kernel=other), out)
                nearer = abs(hole_ratio(mask) - target) < abs(ratio - target)
                assert not (_allowed(mask, (low, high), category) and nearer)
    assert min(rules.values()) > 0, rules  # both rules were exercised


def test_the_reach_of_one_hole_block_with_the_disk_footprint_by_hand():
    """The disk's reach reads OpenCV's DIST_L2 with a 3x3 mask, whose documented steps are 0.955
    along an axis and 1.3693 diagonally: a block (dx, dy) from the hole block, dx >= dy, is
    1.3693 dy + 0.955 (dx - dy) away. The widest dilation (47 px) reaches 46 / 8 = 5.75 blocks."""
    valid = np.ones((400, 400), np.uint8)
    valid[200:204, 200:204] = 0
    offsets = np.abs(np.mgrid[-8:9, -8:9])
    far, near = offsets.max(0), offsets.min(0)
    within = (1.3693 * near + 0.955 * (far - near) <= 46 / 8).sum()  # 6 blocks along the axes (5.73)
    square = "".join(["squ", "are"])  # as a command line gives it: not the interned literal
    assert reach(valid, "disk") == pytest.approx((1 / 100**2, within / 100**2))
    assert reach(valid, square) == reach(valid, "square") != reach(valid, "disk")


def test_the_reach_of_one_hole_block_by_hand():
    """At a quarter of the resolution a 4x4 hole is one block; the square footprint's thinnest
    dilation (5 px) keeps it alone, its widest (47 px) reaches 5 blocks each way: 11 x 11 blocks."""
    valid = np.ones((400, 400), np.uint8)
    valid[200:204, 200:204] = 0
    smallest, largest = reach(valid, "square")
    assert smallest == pytest.approx(1 / 100**2) and largest == pytest.approx(11**2 / 100**2)


def test_sources_are_chosen_by_whether_their_reach_overlaps_the_ratios():
    """A source is a candidate for (low, high] when its widest dilation reaches 0.6 low and its
    thinnest stays under 1.5 high, both bounds included (exact binary fractions here)."""
    low, high = 0.125, 0.25
    reaches = [(0.001, 0.004), (0.02, 0.3), (0.5, 0.9), (1.5 * high, 0.7), (0.01, 0.6 * low)]
    assert ratio_candidates(reaches, low, high).tolist() == [1, 3, 4]


def test_an_unfillable_bin_says_whether_the_pool_is_too_dense_too_sparse_or_neither():
    assert "half the test pool's raw masks hold 0.40" in _unfillable_advice([(0.4, 0.9)] * 3, 0.1, 0.2)
    assert "larger occlusions" in _unfillable_advice([(0.001, 0.05)] * 3, 0.1, 0.2)
    assert "lower --per-bin" in _unfillable_advice([(0.05, 0.5)] * 3, 0.1, 0.2)
    # on the edges: half the pool at exactly the bin's top is not too dense, a widest dilation at
    # exactly its bottom not too sparse (binary fractions, exact)
    assert "lower --per-bin" in _unfillable_advice([(0.25, 0.5)] * 3, 0.125, 0.25)
    assert "lower --per-bin" in _unfillable_advice([(0.001, 0.125)] * 3, 0.125, 0.25)


@pytest.mark.parametrize("workers, holding, size", [(0, 1, 512), (1, 1, 512), (3, 3, 512), (1, 1, 240)])
def test_the_memory_check_is_the_documented_estimate(monkeypatch, workers, holding, size):
    """Each worker holds (size + 2 x 24)^2 window pixels x 16 bytes (BYTES_PER_WINDOW_PIXEL's arrays);
    the check refuses more than 80 % of what is free: a build that needs exactly that fits, one byte
    less free does not."""
    needed = holding * (size + 2 * 24) ** 2 * 16
    monkeypatch.setattr("pconvkit.memory.available_bytes", lambda: needed / 0.8 + 2)
    check_test_set_memory(BenchmarkSettings(size=size), workers=workers)
    monkeypatch.setattr("pconvkit.memory.available_bytes", lambda: needed / 0.8 - 2)
    with pytest.raises(UserError, match=f"test masks of {size} px needs about"):
        check_test_set_memory(BenchmarkSettings(size=size), workers=workers)


def test_disk_footprint_masks_lie_in_their_cells_and_regenerate(tmp_path):
    rows = synthetic_pool(tmp_path)
    manifest = build_test_set(tmp_path, rows, small_settings(per_bin=2, footprint="disk"))
    kernels = set()
    for row in read_manifest(manifest):
        valid = read_mask(tmp_path / "test" / row["path"])
        assert bin_index(hole_ratio(valid)) == [f"{a:g}-{b:g}" for a, b in BINS].index(row["bin"])
        assert border_category(valid, MARGIN) == row["category"] and row["footprint"] == "disk"
        assert np.array_equal(regenerate(row, tmp_path), valid)
        kernels.add(int(row["kernel"]) % 2)
    assert kernels == {0, 1}  # a disk grows by half pixels: even kernels differ from odd ones


def test_a_resumed_build_counts_what_was_done(tmp_path, capsys):
    valid = np.ones((300, 300), np.uint8)
    valid[10:300:40, 10:300:40] = 0
    rows = one_source_pool(tmp_path, valid)
    build_test_set(tmp_path, rows, small_settings(per_bin=5, chunk=3))  # masks 0-2 and 3-4 of each cell
    for part in sorted((tmp_path / "test" / ".parts").iterdir())[::2]:  # each cell's first chunk
        part.unlink()
    capsys.readouterr()
    build_test_set(tmp_path, rows, small_settings(per_bin=5, chunk=3))
    bar = capsys.readouterr().err.split("\r")
    assert any("24/60" in state for state in bar) and "60/60" in bar[-1]  # 12 cells' masks 3-4 were kept


def _blob_pool(folder):
    """One blob in a large frame: most crops hold it away from the border, and the large bins need
    the widest dilations."""
    valid = np.ones((400, 400), np.uint8)
    cv2.circle(valid, (200, 200), 10, 0, -1)
    one_source_pool(folder, valid)
    load = lambda _: load_raw_mask(folder, "test", "v/a")  # noqa: E731
    return load, [reach(load(0))]


def test_a_b_mask_reaches_the_border_with_the_thinnest_dilation_that_does(tmp_path):
    """A B mask's dilation is often set by reaching the border frame rather than by the ratio here.
    The mask reaches it; the kernel one thinner, where it lands within the tolerance of the drawn
    ratio, does not."""
    load, reaches = _blob_pool(tmp_path)
    settings, (low, high) = small_settings(), BINS[0]
    set_by_the_border = 0
    for index in range(30):
        seed = [0, 1, 0, index]
        mask, _, params = sample_cell_mask(load, reaches, "B", 0, np.random.default_rng(seed), settings)
        assert border_distance(mask) < MARGIN
        target = drawn_ratio(np.random.default_rng(seed), low, high)
        near = (max(low, target - settings.ratio_tolerance), min(high, target + settings.ratio_tolerance))
        if params.kernel == 5 or not ratio_candidates(reaches, *near).size:  # the nearest ratio's rule
            continue
        assert near[0] < hole_ratio(mask) <= near[1]
        row = dict(
            raw_id="v/a", size=SIZE, margin=MARGIN, category="B", kernel=params.kernel - 1, footprint=params.footprint
        )
        thinner = regenerate(dict(row, angle=params.angle, crop_x=params.crop_x, crop_y=params.crop_y), tmp_path)
        if near[0] < hole_ratio(thinner) <= near[1]:
            assert border_distance(thinner) is None or border_distance(thinner) >= MARGIN
            set_by_the_border += 1
    assert set_by_the_border > 0


def test_n_masks_keep_their_frame_at_every_dilation_up_to_the_widest(tmp_path):
    load, reaches = _blob_pool(tmp_path)
    kernels = set()
    for index in range(30):
        rng = np.random.default_rng([0, 0, 0, index])
        mask, _, params = sample_cell_mask(load, reaches, "N", 0, rng, small_settings())
        assert border_distance(mask) >= MARGIN
        kernels.add(params.kernel)
    assert max(kernels) == 47  # the widest dilation (NVIDIA's 47 px) is drawn here, and none wider


def test_the_cheap_bound_only_skips_crops_that_no_dilation_brings_into_the_bin(tmp_path, monkeypatch):
    """The same masks with the bound as without it (every draw is made before the bound is read)."""
    load, reaches = _blob_pool(tmp_path)
    cells = [(category, bin_index, index) for category in "NB" for bin_index in (0, 1) for index in range(6)]

    def masks():
        drawn = []
        for category, cell_bin, index in cells:
            rng = np.random.default_rng([0, "NB".index(category), cell_bin, index])
            drawn.append(sample_cell_mask(load, reaches, category, cell_bin, rng, small_settings(max_tries=3000))[2])
        return drawn

    bounded = masks()
    monkeypatch.setattr("pconvkit.maskgen.build.largest_ratio_bound", lambda *_: 1.0)
    assert masks() == bounded


def _two_video_pool(folder):
    """Ten raw masks, each one blob in a large frame: one from video 'short', nine from 'long'."""
    valid = np.ones((400, 400), np.uint8)
    cv2.circle(valid, (200, 200), 10, 0, -1)
    rows = []
    for i in range(10):
        video = "short" if i == 0 else "long"
        raw_id = f"{video}/{i:06d}_{i + 1:06d}"
        write_png_atomic(folder / "raw" / "test" / f"{raw_id}.png", mask_to_png(valid))
        rows.append(dict(raw_id=raw_id, video=video, first=i, second=i + 1, hole_ratio=hole_ratio(valid)))
    return rows


@pytest.mark.parametrize("weight, share_of_the_short_video", [("video", 0.5), ("mask", 0.1)])
def test_a_video_weight_draws_each_video_equally_whatever_its_length(tmp_path, weight, share_of_the_short_video):
    """Ten equally good sources, one from a short video: each video draws half the masks when videos
    weigh the same, and the short one a tenth when each raw mask does."""
    rows = _two_video_pool(tmp_path)
    raw = load_raw_mask(tmp_path, "test", rows[0]["raw_id"])
    reaches, videos = [reach(raw)] * len(rows), [row["video"] for row in rows]
    settings = small_settings(source_weight=weight)
    sources = [
        sample_cell_mask(lambda _: raw, reaches, "N", 0, np.random.default_rng([0, 0, 0, i]), settings, videos)[1]
        for i in range(1000)
    ]
    # 1,000 draws: a standard error of 0.016 at a share of 0.5, 0.009 at 0.1
    assert np.mean(np.array(sources) == 0) == pytest.approx(share_of_the_short_video, abs=0.05)


def test_source_groups_split_candidates_by_video_in_name_order_or_keep_them_whole():
    videos = ["b", "a", "b", "c", "a"]
    candidates = np.array([0, 1, 2, 4])
    assert [g.tolist() for g in source_groups(candidates, videos, "video")] == [[1, 4], [0, 2]]
    assert [g.tolist() for g in source_groups(candidates, videos, "mask")] == [[0, 1, 2, 4]]
    assert [g.tolist() for g in source_groups(candidates, None, "video")] == [[0, 1, 2, 4]]


def test_the_default_source_weight_draws_the_same_masks_as_one_video_pool(tmp_path):
    """Per raw mask is the default, and one video weighted per video draws exactly as per raw mask:
    builds made before the option keep their bytes."""
    assert BenchmarkSettings().source_weight == "mask"
    rows = _two_video_pool(tmp_path)
    raw = load_raw_mask(tmp_path, "test", rows[0]["raw_id"])
    reaches = [reach(raw)] * len(rows)
    one_video = ["long"] * len(rows)
    for i in range(20):
        drawn = [
            sample_cell_mask(lambda _: raw, reaches, "B", 1, np.random.default_rng([1, 1, 1, i]), settings, videos)
            for settings, videos in ((small_settings(), None), (small_settings(source_weight="video"), one_video))
        ]
        assert drawn[0][1:] == drawn[1][1:] and np.array_equal(drawn[0][0], drawn[1][0])


def test_a_test_set_begun_before_the_source_weight_and_ratio_draw_were_recorded_resumes_as_it_drew(tmp_path):
    """Such a set drew per raw mask, uniformly in the bin, with no dilation law: it resumes with those
    settings and refuses the new default ratio draw, naming it."""
    rows = synthetic_pool(tmp_path)
    earlier = small_settings(per_bin=2, ratio_draw="uniform")
    build_test_set(tmp_path, rows, earlier)
    record = tmp_path / "test" / "settings.json"
    older = json.loads(record.read_text())
    for added in ("source_weight", "ratio_draw", "dilation_law"):
        del older[added]
    record.write_text(json.dumps(older))
    (tmp_path / "test" / "manifest.csv").unlink()  # an interrupted build
    build_test_set(tmp_path, rows, earlier)
    assert (tmp_path / "test" / "manifest.csv").exists()
    for other, named in (("source_weight", "video"), ("ratio_draw", "nvidia"), ("dilation_law", (20.0, 60.0))):
        with pytest.raises(UserError, match=rf"other settings or inputs \({other}\)"):
            build_test_set(tmp_path, rows, small_settings(**{"per_bin": 2, "ratio_draw": "uniform", other: named}))


def _two_video_synthetic_pool(out_dir):
    return [dict(row, video="ab"[i % 2]) for i, row in enumerate(synthetic_pool(out_dir))]


def _draws(manifest) -> list[tuple]:
    """What a test set drew for each mask: its source and augmentation (pixels follow from them)."""
    return [
        tuple(r[k] for k in ("id", "raw_id", "kernel", "angle", "crop_x", "crop_y")) for r in read_manifest(manifest)
    ]


def _digest(manifest) -> str:
    return hashlib.sha256("\n".join(",".join(row) for row in _draws(manifest)).encode()).hexdigest()


def test_a_two_video_build_with_the_uniform_ratio_draw_draws_what_earlier_releases_drew(tmp_path):
    """`--ratio-draw uniform` remakes a test set of an earlier release exactly (and so the Table 1
    made on it). The digest is of the same build by pconvkit 0.3.0 before --source-weight came (its
    sources, dilations, angles and crops, from NumPy's PCG64: the same on every machine)."""
    manifest = build_test_set(tmp_path, _two_video_synthetic_pool(tmp_path), small_settings(ratio_draw="uniform"))
    assert _digest(manifest) == "2723185aba3a975269d72fd1da4d023248da43d0a5655e795849f9d515282531"


def test_a_two_video_build_draws_what_this_release_drew(tmp_path):
    """The default's draws, pinned when the ratio draw became NVIDIA's in-bin mean: a change of them
    is a change of every user's test set and must replace this digest with a CHANGELOG line."""
    manifest = build_test_set(tmp_path, _two_video_synthetic_pool(tmp_path), small_settings())
    assert _digest(manifest) == "5eea0306c81f45483729af3be664f1013c42464400ef60b7ee133cdc1ef94795"


def test_the_settings_a_test_set_records_rebuild_it(tmp_path):
    """BenchmarkSettings made from a test set's settings.json (strings read from JSON) draw the same
    masks, with either source weight."""
    rows = _two_video_synthetic_pool(tmp_path)
    for weight in ("mask", "video"):
        for name in (weight, f"{weight}-again"):  # each build folder reads the same raw pool
            shutil.copytree(tmp_path / "raw", tmp_path / name / "raw")
        first = build_test_set(tmp_path / weight, rows, small_settings(source_weight=weight))
        record = json.loads((first.parent / "settings.json").read_text())
        record.pop("settings_format")
        assert record["dilation_law"] == [47.0, 0.0]  # the default: any kernel up to 47 px at every ratio
        again = build_test_set(tmp_path / f"{weight}-again", rows, BenchmarkSettings(**record))
        assert _draws(again) == _draws(first)


def test_an_unknown_source_weight_is_refused_before_anything_is_written(tmp_path):
    rows = synthetic_pool(tmp_path, count=2)
    with pytest.raises(UserError, match="--source-weight must be one of video, mask, not 'frames'"):
        build_test_set(tmp_path, rows, small_settings(source_weight="frames"))
    assert not (tmp_path / "test").exists()


def test_too_few_masks_per_bin_are_refused(tmp_path):
    with pytest.raises(UserError, match="--per-bin must be at least 1"):
        build_test_set(tmp_path, [dict(raw_id="v/a")], small_settings(per_bin=0))


def test_a_tuple_from_a_python_caller_is_taken_as_it_is():
    from pconvkit.maskgen.build import preset_values

    assert preset_values("sample", {"frame_gaps": (1, 4)})["frame_gaps"] == (1, 4)


def test_the_sample_preset_is_what_the_readme_says():
    """README: consecutive frames, every 2nd frame of the short sample clips, every raw mask kept,
    300 test masks, 25 per cell."""
    from pathlib import Path

    from pconvkit.maskgen.build import PRESETS

    sample = PRESETS["sample"]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert sample["frame_gaps"] == (1,) and sample["frame_stride"] == 2 and "every 2nd frame" in readme
    assert sample["train_count"] == sample["test_count"] == 0  # 0: every raw mask is kept
    assert f"{12 * sample['per_bin']} masks ({sample['per_bin']} per cell)" in " ".join(readme.split())


def _ratios_by_kernel(raw, params, category, settings):
    """{kernel: hole ratio} of every kernel 5-47 on a mask's own rotation and crop, those that
    the cell allows (in the bin; a hole in the border frame for B, none for N is the frame set valid)."""
    from pconvkit.maskgen.augment import AugmentParams, augment
    from pconvkit.maskgen.bins import border_frame

    frame = border_frame((settings.size,) * 2, settings.margin)
    ratios = {}
    for kernel in range(5, 48):
        mask = augment(raw, AugmentParams(kernel, params.angle, params.crop_x, params.crop_y), settings.size)
        if category == "N":
            mask[frame] = 1
        if category == "B" and not (mask[frame] == 0).any():
            continue
        ratios[kernel] = hole_ratio(mask)
    return ratios


@pytest.mark.parametrize("category", ["N", "B"])
def test_without_a_source_that_reaches_the_drawn_ratio_the_mask_nearest_to_it_in_the_bin_is_taken(category):
    """Reaches that rule every source out send the sampler straight to the fallback: of the kernels
    whose mask lands in the bin, the one whose ratio is nearest the drawn ratio, not the thinnest."""
    raw = np.ones((400, 400), np.uint8)
    for y in range(20, 140, 16):  # holes in one corner only: many crops miss them, and the next draw is taken
        raw[y : y + 3, 20:140:16] = 0
    settings = small_settings()
    low, high = BINS[1]
    nearest_is_not_thinnest = 0
    for seed in range(12):
        target = drawn_ratio(np.random.default_rng(seed), low, high)
        valid, source, params = sample_cell_mask(
            lambda _: raw, [(0.0, 0.0)], category, 1, np.random.default_rng(seed), settings
        )
        allowed = {k: r for k, r in _ratios_by_kernel(raw, params, category, settings).items() if low < r <= high}
        nearest = min(allowed, key=lambda k: abs(allowed[k] - target))
        assert params.kernel == nearest and hole_ratio(valid) == allowed[nearest], seed
        nearest_is_not_thinnest += nearest != min(allowed)
    assert nearest_is_not_thinnest >= 3


def test_a_drawn_ratio_out_of_reach_widens_to_the_bin_after_near_tries(monkeypatch):
    """A source said to reach every ratio, whose one small hole cannot reach the drawn one: after
    NEAR_TRIES draws (here 300, an int that Python does not cache) the sampler takes any ratio of
    the bin, well within max_tries."""
    import pconvkit.maskgen.build as build

    monkeypatch.setattr(build, "NEAR_TRIES", 300)
    raw = np.ones((160, 160), np.uint8)
    cv2.circle(raw, (80, 80), 15, 0, -1)  # a disk at any angle: at most 47^2 + 4 47 15.5 + pi 15.5^2 px, 0.23
    rng = np.random.default_rng(0)
    assert drawn_ratio(rng, *BINS[2]) - 0.01 > 0.23  # the drawn ratio, out of reach
    settings = small_settings(max_tries=400)
    valid, _, _ = sample_cell_mask(lambda _: raw, [(0.0, 1.0)], "N", 2, np.random.default_rng(0), settings)
    assert BINS[2][0] < hole_ratio(valid) <= 0.23


def test_a_mask_tries_500_draws_for_its_ratio_then_its_bin_up_to_20000_in_all(monkeypatch):
    """The README's try budget: the draw for the bin begins after 500 draws for the drawn ratio, and
    a cell no draw can fill is refused after 20,000 draws."""
    import pconvkit.maskgen.build as build

    draws, widened_after = [], []
    candidates = build.ratio_candidates
    monkeypatch.setattr(build, "ratio_candidates", lambda *a: widened_after.append(len(draws)) or candidates(*a))
    no_hole = np.ones((64, 64), np.uint8)  # no dilation brings it into any bin
    settings = BenchmarkSettings(size=64, margin=8)

    def load(_):
        draws.append(1)
        return no_hole

    with pytest.raises(UserError, match="after 20000 tries"):
        sample_cell_mask(load, [(0.0, 1.0)], "N", 0, np.random.default_rng(0), settings)
    assert widened_after == [0, 500] and len(draws) == 20_000


@pytest.fixture
def recorded_build(monkeypatch, tmp_path):
    """build_mask_set with its stages replaced by recorders: what it hands each stage (the last call's)."""
    import pconvkit.maskgen.build as build
    import pconvkit.sampledata as sampledata

    calls = {}
    monkeypatch.setattr(sampledata, "sample_videos", lambda: [tmp_path / "vtest.avi", tmp_path / "Megamind.avi"])

    def inputs(*given):
        calls["inputs"] = given
        return ["v"]

    def raw_pools(videos, out_dir, train_count, test_count, test_videos, raw_settings, workers):
        calls["pools"] = dict(train=train_count, test=test_count, test_videos=test_videos, flow=raw_settings.flow)
        return {"test": [{"raw_id": "x"}]}

    def test_set(out_dir, rows, settings, workers):
        calls["test"] = settings

    monkeypatch.setattr(build, "videos_from_inputs", inputs)
    monkeypatch.setattr(build, "build_raw_pools", raw_pools)
    monkeypatch.setattr(build, "build_test_set", test_set)
    return calls


def test_a_build_without_inputs_takes_the_sample_videos_and_the_sample_preset(recorded_build, tmp_path):
    from pconvkit.maskgen.build import PRESETS, build_mask_set

    build_mask_set(tmp_path / "out")
    sample = PRESETS["sample"]
    assert recorded_build["inputs"] == ([str(tmp_path / "vtest.avi"), str(tmp_path / "Megamind.avi")], (), None)
    assert recorded_build["pools"]["test_videos"] == sample["test_videos"] == ("Megamind",)
    assert recorded_build["pools"]["flow"].frame_stride == sample["frame_stride"] == 2
    assert recorded_build["test"] == BenchmarkSettings(per_bin=sample["per_bin"])


@pytest.mark.parametrize("inputs", [dict(flow_dir="flows"), dict(videos=("a.mp4",)), dict(frames=("f",))])
def test_a_build_of_ones_own_inputs_takes_the_paper_preset_and_the_options_given(recorded_build, tmp_path, inputs):
    from pconvkit.maskgen.build import PAPER_TEST_COUNT, build_mask_set

    explicit = {"workers": 3, "per_bin": None, "test_videos": "b, c", "frame_gaps": "1,3"}
    build_mask_set(tmp_path / "out", **inputs, explicit=explicit, test_settings=small_settings())
    given = (inputs.get("videos", ()), inputs.get("frames", ()), inputs.get("flow_dir"))
    assert recorded_build["inputs"] == given
    assert recorded_build["pools"]["test"] == PAPER_TEST_COUNT and recorded_build["pools"]["test_videos"] == ("b", "c")
    assert recorded_build["pools"]["flow"].frame_gaps == (1, 3)
    assert recorded_build["test"] == small_settings(per_bin=1000)  # the paper's, per_bin not given
    build_mask_set(tmp_path / "out2", **inputs, preset="sample", explicit={"per_bin": 7})
    assert recorded_build["test"] == BenchmarkSettings(per_bin=7)
    assert recorded_build["pools"]["test_videos"] == ("Megamind",) and recorded_build["pools"]["train"] == 0


def test_a_build_without_test_videos_hands_none_to_the_pools(recorded_build, tmp_path):
    from pconvkit.maskgen.build import build_mask_set

    build_mask_set(tmp_path / "out", flow_dir="flows")
    assert recorded_build["pools"]["test_videos"] is None


@pytest.mark.parametrize("bin_number", range(len(BINS)))
def test_the_nvidia_ratio_draw_has_nvidia_s_in_bin_mean_and_stays_in_the_bin(bin_number):
    """The linear density on the bin whose mean is NVIDIA's: 20,000 draws have that mean, none leaves
    the bin, and the share below the bin's centre is the density's, 1/2 - slope/8 (slope = 12 (mean -
    centre) / width; 0.725 for 0.4-0.5, whose mean 0.435 lies 0.015 below the centre)."""
    low, high = BINS[bin_number]
    mean = NVIDIA_MEAN_RATIO[bin_label(bin_number)]
    rng = np.random.default_rng(bin_number)
    drawn = np.array([draw_ratio(rng, low, high, mean) for _ in range(20_000)])
    assert ((drawn > low) & (drawn <= high)).all()
    assert drawn.mean() == pytest.approx(mean, abs=0.001)  # standard error 0.0002
    slope = 12 * (mean - (low + high) / 2) / (high - low)
    assert np.mean(drawn < (low + high) / 2) == pytest.approx(0.5 - slope / 8, abs=0.01)


def test_the_uniform_ratio_draw_is_numpy_s_uniform_draw_on_the_bin():
    """The default draws what every release drew: rng.uniform(low, high), the same stream."""
    first, second = np.random.default_rng(7), np.random.default_rng(7)
    for low, high in BINS:
        assert draw_ratio(first, low, high, None) == second.uniform(low, high)
    assert NVIDIA_MEAN_RATIO[bin_label(3)] == 0.339  # the ratio draw's means are NVIDIA's published ones


def test_a_dilation_law_caps_each_kernel_at_a_plus_b_times_the_drawn_ratio_and_changes_nothing_else(tmp_path):
    """Under a + b r (r: the ratio a mask drew first, recomputed from its seed) every kernel is at most
    a + b r; a mask whose draw without the law stayed under its cap is drawn exactly as without it
    (the cap only removes kernels), and one whose draw went over it is drawn again."""
    rows = synthetic_pool(tmp_path)
    law = (9.0, 40.0)  # 9.4 px at 0.01 up to 33 at 0.6
    drawn = {}
    for name, settings in (("free", small_settings()), ("law", small_settings(dilation_law=law))):
        shutil.copytree(tmp_path / "raw", tmp_path / name / "raw")
        drawn[name] = {r["id"]: r for r in read_manifest(build_test_set(tmp_path / name, rows, settings))}
    kept = redrawn = 0
    for mask_id, free in drawn["free"].items():
        capped = drawn["law"][mask_id]
        low, high = BINS[[bin_label(i) for i in range(len(BINS))].index(free["bin"])]
        cap = law[0] + law[1] * drawn_ratio(np.random.default_rng([int(v) for v in free["seed"].split("-")]), low, high)
        assert int(capped["kernel"]) <= cap, capped
        if int(free["kernel"]) <= cap:
            assert capped == free
            kept += 1
        else:
            assert capped["sha256"] != free["sha256"]
            redrawn += 1
    assert kept and redrawn, (kept, redrawn)


@pytest.mark.parametrize(
    "law, message",
    [
        ((4.0, 0.0), "at hole ratio 0.01 (4 + 0 x 0.01 = 4 px)"),
        ((47.0, -80.0), "at hole ratio 0.6 (47 + -80 x 0.6 = -1 px)"),
        ((3.0, 50.0), "at hole ratio 0.01 (3 + 50 x 0.01 = 3.5 px)"),
        ((float("nan"), 0.0), "at hole ratio 0.01 (nan + 0 x 0.01 = nan px)"),
    ],
)
def test_a_dilation_law_that_allows_no_kernel_is_refused_before_anything_is_written(tmp_path, law, message):
    rows = synthetic_pool(tmp_path, count=2)
    with pytest.raises(UserError) as refusal:
        build_test_set(tmp_path, rows, small_settings(dilation_law=law))
    assert str(refusal.value) == f"--dilation-law {law[0]:g} {law[1]:g} allows no dilation of 5 px or more {message}"
    assert not (tmp_path / "test").exists()


@pytest.mark.parametrize("law", [(5.0, 0.0), (47.0, -70.0), (4.0, 100.0)])
def test_a_dilation_law_that_allows_just_5_px_somewhere_is_taken(law):
    """Exactly 5 px, the thinnest kernel, at 0.6 (47 - 70 x 0.6) or at 0.01 (5 + 0 r; 4 + 100 x 0.01)."""
    check_test_settings(small_settings(dilation_law=law))


def test_an_unknown_ratio_draw_is_refused_before_anything_is_written(tmp_path):
    rows = synthetic_pool(tmp_path, count=2)
    with pytest.raises(UserError, match="--ratio-draw must be one of uniform, nvidia, not 'normal'"):
        build_test_set(tmp_path, rows, small_settings(ratio_draw="normal"))
    assert not (tmp_path / "test").exists()


def test_a_cell_a_dilation_law_leaves_unfillable_says_to_loosen_it(tmp_path):
    """One small hole in the middle reaches 0.01-0.1 with a wide dilation, never with 5-6 px: under the
    law 5 + 1 r the N cell is refused and the message names the law; without a law (the default) it
    fills."""
    valid = np.ones((SIZE, SIZE), np.uint8)
    valid[70:76, 70:76] = 0  # 36 px: 0.0014 of the mask; 0.05 needs about a 35-px square
    one_source_pool(tmp_path, valid)
    raw, reaches = load_raw_mask(tmp_path, "test", "v/a"), [reach(valid)]
    assert BenchmarkSettings().dilation_law == NO_DILATION_LAW
    settings = small_settings(max_tries=60)
    mask, _, params = sample_cell_mask(lambda _: raw, reaches, "N", 0, np.random.default_rng(0), settings)
    assert params.kernel > 6 and BINS[0][0] < hole_ratio(mask) <= BINS[0][1]
    with pytest.raises(UserError, match="cannot fill bin N 0.01-0.1.*, or loosen --dilation-law$"):
        sample_cell_mask(
            lambda _: raw, reaches, "N", 0, np.random.default_rng(0), replace(settings, dilation_law=(5.0, 1.0))
        )
