import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from pconvkit.cli import maskgen
from pconvkit.files import write_png_atomic
from pconvkit.images import mask_to_png, read_mask
from pconvkit.maskgen.survey import import_nvidia, mask_statistics


def test_mask_statistics_by_hand():
    valid = np.ones((100, 100), np.uint8)
    valid[10:20, 10:20] = 0
    valid[50:70, 50:60] = 0
    stats = mask_statistics(valid)
    assert stats["hole_ratio"] == 300 / 10_000 and stats["components"] == 2
    # contour lengths of 10x10 and 20x10 pixel squares traced through pixel centres: 36 and 56
    assert stats["boundary_per_sqrt_area"] == np.float64(92 / np.sqrt(300))


def test_import_nvidia_remeasures_instead_of_trusting_the_order(tmp_path):
    source = tmp_path / "nvidia"
    holes = np.zeros((512, 512), np.uint8)  # white = hole, NVIDIA's convention
    holes[100:300, 100:300] = 255  # 0.153 of the image, 100 px from the border: N, 0.1-0.2
    write_png_atomic(source / "00000.png", holes)  # file order claims bin 0.01-0.1 N
    border = np.zeros((512, 512), np.uint8)
    border[0:150, 0:512] = 255  # 0.293, touching the border: B, 0.2-0.3
    write_png_atomic(source / "00001.png", border)
    manifest = import_nvidia(source, tmp_path / "out")
    rows = list(csv.DictReader(open(manifest)))
    assert [(r["category"], r["bin"]) for r in rows] == [("N", "0.1-0.2"), ("B", "0.2-0.3")]
    valid = read_mask(tmp_path / "out" / "test" / rows[0]["path"])
    assert valid[200, 200] == 0 and valid[0, 0] == 1  # stored in our convention, white = valid
    settings = json.loads((tmp_path / "out" / "test" / "settings.json").read_text())
    assert settings["source_hole_white"] is True and settings["hole_white"] is False  # both polarities recorded
    from pconvkit.maskgen.manifest import MANIFEST_FIELDS

    assert tuple(rows[0]) == MANIFEST_FIELDS  # the manifest module's rows, every column


def test_sheet_and_stats_commands(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        valid = np.ones((128, 128), np.uint8)
        valid[rng.integers(0, 60) :, rng.integers(0, 60) :][:40, :40] = 0
        write_png_atomic(tmp_path / "masks" / f"{i}.png", valid * 255)
    result = CliRunner().invoke(maskgen, ["sheet", str(tmp_path / "masks"), "--out", str(tmp_path / "sheets")])
    assert result.exit_code == 0 and (tmp_path / "sheets" / "sheet_B.png").exists()
    result = CliRunner().invoke(maskgen, ["stats", str(tmp_path / "masks")])
    assert result.exit_code == 0 and "mean_hole_ratio" in result.output


def test_statistics_of_masks_known_by_construction():
    import cv2

    disk = np.ones((200, 200), np.uint8)
    cv2.circle(disk, (100, 100), 40, 0, -1)
    stats = mask_statistics(disk)
    area = int((disk == 0).sum())
    assert stats["components"] == 1 and stats["largest_share"] == 1.0 and stats["median_component_area"] == area
    assert abs(stats["boundary_per_sqrt_area"] - 2 * np.pi * 40 / np.sqrt(np.pi * 40**2)) < 0.2  # 2 sqrt(pi)
    squares = np.ones((100, 100), np.uint8)
    squares[10:20, 10:20] = 0
    squares[50:80, 50:80] = 0
    stats = mask_statistics(squares)
    assert stats["components"] == 2 and stats["largest_share"] == 900 / 1000
    assert stats["median_component_area"] == 500 and stats["hole_ratio"] == 0.1
    ring = np.ones((100, 100), np.uint8)
    cv2.circle(ring, (50, 50), 30, 0, 6)  # a ring: one component, two contours, far from compact
    ring_stats = mask_statistics(ring)
    assert ring_stats["components"] == 1 and ring_stats["boundary_per_sqrt_area"] > 3 * 2 * np.sqrt(np.pi)


def test_band_width_and_centre_line_of_bands_known_by_construction():
    import cv2

    band = np.ones((300, 400), np.uint8)
    band[100:121, 50:350] = 0  # 21 px across, 300 px long
    stats = mask_statistics(band)
    assert stats["band_width"] == 21.0
    assert 300 - 21 <= stats["centre_line"] <= 300  # the skeleton stops short of the ends by about half the width
    diagonal = np.ones((500, 500), np.uint8)
    cv2.line(diagonal, (50, 50), (450, 450), 0, 11)
    stats = mask_statistics(diagonal)
    assert abs(stats["centre_line"] - 400 * np.sqrt(2)) < 0.03 * 400 * np.sqrt(2)  # diagonal steps count sqrt(2)
    assert abs(stats["band_width"] - 11) <= 1.5
    ring = np.ones((400, 400), np.uint8)
    cv2.circle(ring, (200, 200), 150, 0, 15)
    stats = mask_statistics(ring)
    assert abs(stats["centre_line"] - 2 * np.pi * 150) < 0.08 * 2 * np.pi * 150
    assert abs(stats["band_width"] - 15) <= 1.5
    # one hole ratio, two characters: one thick band against three thin ones of the same area
    thick, thin = np.ones((300, 300), np.uint8), np.ones((300, 300), np.uint8)
    thick[90:123, 30:270] = 0
    for y in (60, 140, 220):
        thin[y : y + 11, 30:270] = 0
    strip = mask_statistics(np.zeros((21, 200), np.uint8))  # all hole: the image's edges bound the band
    assert strip["band_width"] == 21.0
    a, b = mask_statistics(thick), mask_statistics(thin)
    assert a["hole_ratio"] == b["hole_ratio"]
    assert a["band_width"] == 3 * b["band_width"] == 33 and b["centre_line"] > 2.5 * a["centre_line"]


@pytest.mark.slow
def test_compare_two_mask_sets_either_polarity(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        valid = np.ones((128, 128), np.uint8)
        for _ in range(1 + i % 3):  # 1 to 3 holes
            y, x = rng.integers(60, 100, 2)
            valid[y - 5 : y + 5, x - 8 : x + 8] = 0
        write_png_atomic(tmp_path / "ours" / f"{i}.png", valid * 255)
        write_png_atomic(tmp_path / "theirs" / f"{i}.png", (1 - valid) * 255)  # the same masks, white = hole
    result = CliRunner().invoke(
        maskgen,
        [
            "compare",
            str(tmp_path / "ours"),
            str(tmp_path / "theirs"),
            "--second-hole-white",
            "--out",
            str(tmp_path / "cmp"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "(+0%)" in result.output and "(-" not in result.output  # the same masks: no difference anywhere
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 0 and (tmp_path / "cmp" / "compare.csv").exists()


def test_stats_by_video_gives_each_source_videos_figures_against_nvidias(tmp_path):
    """Two videos of different character (a few large blobs, many specks) in one test set: each one's
    figures are the means over its own masks, and its ratios to NVIDIA's come cell by cell."""
    import cv2
    from click.testing import CliRunner
    from helpers import one_error_line

    from pconvkit.cli import maskgen
    from pconvkit.files import write_text_atomic
    from pconvkit.maskgen.build import BenchmarkSettings, build_test_set
    from pconvkit.maskgen.manifest import read_manifest
    from pconvkit.maskgen.survey import NVIDIA_FIGURES, mask_statistics, video_statistics

    rng, rows = np.random.default_rng(5), []
    for video, circles, radius in (("blobs", 4, (12, 30)), ("specks", 40, (2, 6))):
        for i in range(12):
            valid = np.ones((120, 200), np.uint8)
            for _ in range(circles):
                centre = (int(rng.integers(0, 200)), int(rng.integers(0, 120)))
                cv2.circle(valid, centre, int(rng.integers(*radius)), 0, -1)
            raw_id = f"{video}/{i:06d}_{i + 1:06d}"
            write_png_atomic(tmp_path / "raw" / "test" / f"{raw_id}.png", mask_to_png(valid))
            rows.append(dict(raw_id=raw_id, video=video, first=i, second=i + 1))
    build_test_set(tmp_path, rows, BenchmarkSettings(per_bin=3, size=160, margin=16, seed=1))
    write_text_atomic(tmp_path / "raw" / "test" / "skipped.csv", "video,pairs,cut,fade,blank,frozen,too_short\n"
                      "blobs,30,2,1,0,0,0\nspecks,12,0,0,0,0,0\n")  # fmt: skip
    table = video_statistics(tmp_path).set_index("video")
    manifest = read_manifest(tmp_path / "test")
    assert table["masks"].sum() == len(manifest) == 36
    for video in ("blobs", "specks"):
        mine = [r for r in manifest if r["source_video"] == video]
        figures = [mask_statistics(read_mask(tmp_path / "test" / r["path"])) for r in mine]
        assert table.loc[video, "masks"] == len(mine)
        assert table.loc[video, "components"] == pytest.approx(np.mean([f["components"] for f in figures]))
        by_cell = {}
        for row, figure in zip(mine, figures):
            by_cell.setdefault((row["bin"], row["category"]), []).append(figure["components"])
        ratios = [np.mean(values) / NVIDIA_FIGURES[cell][0] for cell, values in by_cell.items()]
        assert table.loc[video, "components_vs_nvidia"] == pytest.approx(np.exp(np.mean(np.log(ratios))))
        assert table.loc[video, "figures_like_nvidia"].endswith(f" of {2 * len(by_cell)}")
    assert table.loc["specks", "components"] > 3 * table.loc["blobs", "components"]
    assert table.loc["blobs", ["pairs", "cut_skipped", "fade_skipped"]].tolist() == [30, 2, 1]
    line = one_error_line(CliRunner().invoke(maskgen, ["stats", str(tmp_path / "raw"), "--by-video"]))
    assert "holds no maskgen test set" in line
