"""The dilation sweep (Fig. 10): dilated masks grow by a disk, keep an N mask's frame, share their
photo across dilations, and the table and pictures come out of one command."""

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import box_masks, gradient_photos

from pconvkit.benchmark.data import MaskEntry
from pconvkit.benchmark.metrics import L1
from pconvkit.benchmark.sweep import choose_masks, dilate_holes
from pconvkit.cli import benchmark
from pconvkit.files import write_png_atomic
from pconvkit.images import mask_to_png

pytest.importorskip("matplotlib")


def test_dilation_grows_holes_by_a_disk_and_keeps_an_n_masks_frame():
    valid = np.ones((200, 200), np.uint8)
    valid[100, 100] = 0
    grown = dilate_holes(valid, 10)
    within = sum(1 for dy in range(-10, 11) for dx in range(-10, 11) if dx * dx + dy * dy <= 100)
    assert (grown == 0).sum() == within == 317 and grown[100, 110] == 0 and grown[100, 111] == 1
    assert grown[107, 107] == 0 and grown[108, 108] == 1  # round: 7^2 + 7^2 <= 100 < 8^2 + 8^2
    valid[60, 60] = 0
    near_frame = dilate_holes(valid, 20, category="N", margin=50)
    assert near_frame[:50].all() and near_frame[:, :50].all() and near_frame[55, 55] == 0
    assert dilate_holes(valid, 20, category="B")[48, 48] == 0  # a B mask grows into the frame
    assert np.array_equal(dilate_holes(valid, 0), valid)


def test_masks_are_chosen_from_the_smallest_bins_fewest_holes_first(tmp_path):
    entries = []
    for name, holes, bin_ in (("a", 3, "0.01-0.1"), ("b", 1, "0.1-0.2"), ("c", 1, "0.3-0.4"), ("d", 2, "0.01-0.1")):
        valid = np.ones((64, 64), np.uint8)
        for k in range(holes):
            valid[5 + 15 * k : 10 + 15 * k, 5:15] = 0
        write_png_atomic(tmp_path / f"{name}.png", mask_to_png(valid))
        entries.append(MaskEntry(name, tmp_path / f"{name}.png", "N", bin_))
    assert [m.mask_id for m in choose_masks(entries, 3)] == ["b", "d", "a"]


def test_one_command_gives_the_sweep_table_plots_and_picture(tmp_path):
    gradient_photos(tmp_path / "images")
    box_masks(tmp_path / "masks", [(20 + i, 26 + i, 20, 28) for i in range(4)])  # small holes: bin 0.01-0.1
    arguments = [
        "sweep",
        "--dilations",
        "0,2,4,8",
        "--masks",
        str(tmp_path / "masks"),
        "--images",
        str(tmp_path / "images"),
        "--methods",
        "telea,mean",
        "--count",
        "3",
        "--size",
        "64",
        "--out",
        str(tmp_path / "sweep"),
    ]
    result = CliRunner().invoke(benchmark, arguments)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "sweep" / "sweep.csv")
    assert set(table["dilation"]) == {0, 2, 4, 8} and set(table["method"]) == {"telea", "mean"}
    l1 = table[(table["metric"] == L1.label) & (table["method"] == "mean")].sort_values("dilation")["value"]
    assert l1.is_monotonic_increasing  # larger holes, larger error
    rows = pd.read_csv(tmp_path / "sweep" / "results.csv")
    photos = rows.assign(source=rows["mask"].str.rsplit("_d", n=1).str[0]).groupby("source")["image"].nunique()
    assert (photos == 1).all()  # every dilation of a mask is paired with the same photo
    for name in ("figure10.png", "sweep_l1.png", "sweep_psnr.png", "sweep_ssim.png", "sweep.md"):
        assert (tmp_path / "sweep" / name).stat().st_size > 0
    picture = cv2.imread(str(tmp_path / "sweep" / "figure10.png"))
    assert picture.shape[:2] == (3 * 192, 4 * 192)  # input row and a row per method, a column per dilation
    again = CliRunner().invoke(benchmark, arguments)  # resumed: nothing new to compute
    assert again.exit_code == 0 and "already in results.csv" in again.output


def test_a_sweep_refuses_bad_dilations_and_other_masks_in_its_folder(tmp_path):
    gradient_photos(tmp_path / "images")
    box_masks(tmp_path / "masks", [(20 + i, 26 + i, 20, 28) for i in range(3)])
    box_masks(tmp_path / "other", [(10 + i, 20 + i, 30, 40) for i in range(3)])
    common = ["--images", str(tmp_path / "images"), "--methods", "mean", "--size", "64", "--out", str(tmp_path / "s")]
    for bad in ("5,x", "-5", ","):
        result = CliRunner().invoke(
            benchmark, ["sweep", "--dilations", bad, "--masks", str(tmp_path / "masks"), *common]
        )
        assert result.exit_code != 0 and result.output.startswith("Error: --dilations")
    assert not (tmp_path / "s").exists()
    ok = CliRunner().invoke(benchmark, ["sweep", "--dilations", "0,2", "--masks", str(tmp_path / "masks"), *common])
    assert ok.exit_code == 0, ok.output
    before = {p: p.read_bytes() for p in (tmp_path / "s" / "masks").rglob("*.png")}
    other = CliRunner().invoke(benchmark, ["sweep", "--dilations", "0,2", "--masks", str(tmp_path / "other"), *common])
    assert other.exit_code != 0 and "holds a sweep of other masks" in other.output  # not the old rows under the ids
    assert {p: p.read_bytes() for p in (tmp_path / "s" / "masks").rglob("*.png")} == before  # nothing rewritten
