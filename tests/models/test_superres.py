"""Super-resolution (Section 5.2): the network's input built on the paper's lattice, checked against
hand-built cases; baselines interpolating from the same positions; the training task, the upscale
command and the benchmark."""

import numpy as np
import pytest
from click.testing import CliRunner

from pconvkit.cli import benchmark, pconv
from pconvkit.files import write_image
from pconvkit.images import read_image
from pconvkit.models.superres import interpolate, lattice_mask, sample_lattice, sr_input

LOW = np.arange(1, 10, dtype=np.float32).reshape(3, 3) / 10  # a 3x3 image, values 0.1 ... 0.9

# Where pixel (x, y) of the 3x3 image lands in I', written out by hand: (K x + floor(K/2), K y + floor(K/2)).
LANDING = {
    2: {0: 1, 1: 3, 2: 5},
    3: {0: 1, 1: 4, 2: 7},
    4: {0: 2, 1: 6, 2: 10},
}


def test_the_input_of_factor_2_by_hand():
    image, valid = sr_input(np.dstack([LOW] * 3), 2)
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0],
            [0, 0.1, 0, 0.2, 0, 0.3],
            [0, 0, 0, 0, 0, 0],
            [0, 0.4, 0, 0.5, 0, 0.6],
            [0, 0, 0, 0, 0, 0],
            [0, 0.7, 0, 0.8, 0, 0.9],
        ],
        np.float32,
    )
    assert np.allclose(image[..., 1], expected) and np.array_equal(valid, (expected > 0).astype(np.uint8))


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_each_low_resolution_pixel_lands_where_the_paper_puts_it(factor):
    image, valid = sr_input(np.dstack([LOW] * 3), factor)
    assert image.shape == (3 * factor, 3 * factor, 3) and valid.sum() == 9
    for y in range(3):
        for x in range(3):
            row, column = LANDING[factor][y], LANDING[factor][x]
            assert valid[row, column] == 1 and image[row, column, 0] == LOW[y, x]
    assert np.array_equal(sample_lattice(image, factor)[..., 0], LOW)  # the lattice read back gives I
    assert np.array_equal(valid, lattice_mask(3 * factor, 3 * factor, factor))


@pytest.mark.parametrize("method", ["bicubic", "lanczos"])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_baselines_interpolate_from_the_same_positions(method, factor):
    ramp = np.dstack([np.tile(np.linspace(0.1, 0.9, 12, dtype=np.float32), (12, 1))] * 3)
    high = interpolate(ramp, factor, method)
    assert np.allclose(sample_lattice(high, factor), ramp, atol=1e-5)  # the known pixels are where I' has them
    inner = high[0, 3 * factor : 8 * factor, 0]
    positions = (np.arange(3 * factor, 8 * factor) - factor // 2) / factor  # no half-pixel shift
    # a ramp stays a ramp (OpenCV interpolates on a 1/32-pixel grid); a half-pixel shift would be 9e-3 off
    assert np.allclose(inner, 0.1 + positions * 0.8 / 11, atol=5e-3)


def test_sr_training_upscale_and_benchmark(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        y, x = np.mgrid[0:96, 0:96] / 95.0
        write_image(tmp_path / "photos" / f"p{i}.png", np.dstack([x, y, 0.5 + 0.4 * np.sin(6 * x + i)]).clip(0, 1))
    runner = CliRunner()
    result = runner.invoke(
        pconv,
        [
            "train",
            "--task",
            "sr",
            "--factor",
            "4",
            "--images",
            str(tmp_path / "photos"),
            "--out",
            str(tmp_path / "run"),
            "--size",
            "64",
            "--batch-size",
            "2",
            "--steps",
            "2",
            "--layers",
            "3",
            "--width",
            "0.125",
            "--checkpoint-every",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    low = rng.random((16, 20, 3)).astype(np.float32)
    write_image(tmp_path / "low.png", low)
    result = runner.invoke(
        pconv,
        [
            "upscale",
            str(tmp_path / "low.png"),
            "--factor",
            "4",
            "-o",
            str(tmp_path / "h.png"),
            "--checkpoint",
            str(tmp_path / "run" / "last.pt"),
        ],
    )
    assert result.exit_code == 0, result.output
    high = read_image(tmp_path / "h.png")
    assert high.shape == (64, 80, 3)
    assert np.abs(sample_lattice(high, 4) - read_image(tmp_path / "low.png")).max() <= 0.5 / 255  # kept as given
    result = runner.invoke(
        pconv,
        [
            "upscale",
            str(tmp_path / "low.png"),
            "--factor",
            "2",
            "-o",
            str(tmp_path / "x.png"),
            "--checkpoint",
            str(tmp_path / "run" / "last.pt"),
        ],
    )
    assert result.exit_code != 0 and "not a super-resolution model for --factor 2" in result.output
    result = runner.invoke(
        benchmark,
        [
            "sr",
            "--methods",
            "pconv,bicubic,lanczos",
            "--images",
            str(tmp_path / "photos"),
            "--size",
            "64",
            "--checkpoint",
            str(tmp_path / "run" / "last.pt"),
            "--out",
            str(tmp_path / "sr"),
        ],
    )
    assert result.exit_code == 0, result.output
    table = (tmp_path / "sr" / "sr_table.md").read_text()
    assert (
        "| area | bicubic |" in table
        and "| lattice | pconv |" in table
        and (tmp_path / "sr" / "sr_grid.png").stat().st_size
    )
