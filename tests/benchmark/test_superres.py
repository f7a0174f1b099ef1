"""The super-resolution benchmark (Section 5.2): every method measured on the same lattice and area
inputs, PSNR and SSIM with the factor's border excluded, its table and picture written."""

import sys
import types

import numpy as np
import pandas as pd
import pytest
from helpers import textured

from pconvkit.benchmark.metrics import SUPER_RESOLUTION
from pconvkit.benchmark.superres import measure, run_sr_benchmark
from pconvkit.errors import UserError

pytest.importorskip("matplotlib")


def test_the_measures_exclude_the_factors_border():
    truth = textured((32, 32, 3), seed=0)
    spoiled = truth.copy()
    spoiled[:4] = 0  # only the excluded border differs
    measured = measure(spoiled, truth, 4)
    assert set(measured) == {m.name for m in SUPER_RESOLUTION}
    assert measured["psnr_rgb"] > 100 and measured["ssim_y"] == pytest.approx(1.0)  # inf: nothing differs inside
    assert measure(spoiled[::-1].copy(), truth, 4)["psnr_rgb"] < 40  # and a real difference shows
    with pytest.raises(UserError, match="upscaled image is 16x16, its truth 32x32"):
        measure(truth[:16, :16], truth, 4)


def test_every_method_meets_the_same_inputs_and_the_table_says_so(tmp_path, monkeypatch):
    plugin = types.ModuleType("sr_plugin")
    plugin.nearest = lambda low, factor: np.repeat(np.repeat(low, factor, axis=0), factor, axis=1)
    monkeypatch.setitem(sys.modules, "sr_plugin", plugin)
    images = {f"p{i}": textured((48, 48, 3), seed=i) for i in range(3)}
    run_sr_benchmark(["bicubic", "sr_plugin:nearest"], images, 4, tmp_path, log=lambda *_: None)
    rows = pd.read_csv(tmp_path / "sr_results.csv")
    assert len(rows) == 3 * 2 * 2  # photos x inputs x methods
    assert set(rows["input"]) == {"lattice", "area"}
    by_method = rows.groupby("method")["psnr_rgb"].mean()
    assert by_method["bicubic"] > by_method["sr_plugin:nearest"]  # smooth photos: interpolation wins
    table = (tmp_path / "sr_table.md").read_text()
    assert "| lattice | bicubic |" in table and "| area | sr_plugin:nearest |" in table
    long = pd.read_csv(tmp_path / "sr_table.csv")
    assert len(long) == 2 * 2 * len(SUPER_RESOLUTION) and (long["ci_low"] <= long["value"]).all()
    assert (tmp_path / "sr_grid.png").stat().st_size > 0


@pytest.mark.parametrize("side, factor", [(8, 4), (19, 4), (24, 8)])
def test_images_too_small_for_ssims_window_are_refused_before_any_upscaling(tmp_path, side, factor):
    images = {"a": textured((side, side, 3))}
    with pytest.raises(UserError, match="SSIM's 11-px window"):
        run_sr_benchmark(["bicubic"], images, factor, tmp_path)
    assert not list(tmp_path.iterdir())
    run_sr_benchmark(["bicubic"], {"a": textured((5 * factor, 5 * factor, 3))}, factor, tmp_path / "ok")
