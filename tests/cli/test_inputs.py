"""What the commands read from their options: method names checked before any folder is read, a method
named twice run once."""

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import one_error_line, run_arguments, valid_mask

from pconvkit.cli import benchmark
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

runner = CliRunner()


def test_a_method_named_twice_runs_once(tmp_path):
    rng = np.random.default_rng(2)
    write_image(tmp_path / "images" / "a.png", rng.random((64, 64, 3)))
    write_png_atomic(tmp_path / "masks" / "m.png", mask_to_png(valid_mask()))
    result = runner.invoke(benchmark, run_arguments(tmp_path, "telea,telea", "r"))
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "r" / "results.csv").read_text().splitlines()) == 2


@pytest.mark.parametrize("option", [["--bins", ","], ["--bins", "0.3-0.35"], ["--split", "X"]])
def test_names_are_checked_before_any_folder_is_read(tmp_path, option):
    result = runner.invoke(benchmark, ["run", "--methods", "mean", "--masks", str(tmp_path / "missing")] + option)
    line = one_error_line(result)
    assert "--bins" in line or "--split" in line
