"""Benchmark inputs: masks of the wrong polarity stopped before anything runs, a resumed run kept to
its own pairing."""

import numpy as np
from click.testing import CliRunner
from helpers import one_error_line, one_line_error, run_arguments, run_command

from pconvkit.cli import benchmark
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

runner = CliRunner()


def test_an_inverted_mask_folder_is_stopped_before_anything_runs(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(6):
        valid = np.ones((64, 64), np.uint8)
        valid[10 : 20 + 4 * i, 10:40] = 0
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid, hole_white=True))
    write_image(tmp_path / "images" / "a.png", rng.random((64, 64, 3)))
    args = run_arguments(tmp_path, "mean", "out")
    assert "--hole-white" in one_error_line(runner.invoke(benchmark, args))
    assert not (tmp_path / "out" / "results.csv").exists()
    result = runner.invoke(benchmark, args + ["--hole-white"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(benchmark, args[:-2] + ["--out", str(tmp_path / "out2"), "--mostly-hole"])
    assert "no mask matches" in one_error_line(result)  # accepted as mostly hole, but then no mask is in a bin


def test_resumed_run_refuses_another_pairing(tmp_path, mask_folder, image_folder):
    arguments = run_command("mean", str(mask_folder), image_folder, str(tmp_path))
    assert runner.invoke(benchmark, arguments).exit_code == 0
    before = (tmp_path / "results.csv").read_bytes()
    one_line_error(runner.invoke(benchmark, arguments + ["--seed", "5"]), "another mask-image pairing")
    assert (tmp_path / "results.csv").read_bytes() == before
