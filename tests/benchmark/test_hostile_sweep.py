"""`benchmark sweep` tried as a careless user would: a folder of another sweep is refused before one
of its masks is rewritten, two sweeps cannot write one folder at once, and dilations that would cost
hours or turn the image all hole are refused before any work."""

import threading

import pytest
from click.testing import CliRunner
from helpers import box_masks, gradient_photos, one_error_line

from pconvkit.cli import benchmark


@pytest.fixture
def inputs(tmp_path):
    gradient_photos(tmp_path / "images")
    box_masks(tmp_path / "masks", [(20 + i, 26 + i, 20, 28) for i in range(3)])
    box_masks(tmp_path / "other", [(10 + i, 20 + i, 30, 40) for i in range(3)])
    return tmp_path


def sweep(inputs, masks="masks", dilations="0,2", *extra):
    arguments = ["sweep", "--dilations", dilations, "--masks", str(inputs / masks), "--images", str(inputs / "images")]
    return CliRunner().invoke(
        benchmark, [*arguments, "--methods", "mean", "--size", "64", "--out", str(inputs / "s"), *extra]
    )


@pytest.mark.parametrize("dilations", ["3000", "0,33", "1e9"])
def test_dilations_beyond_half_the_image_are_refused_before_any_work(inputs, dilations):
    line = one_error_line(sweep(inputs, dilations=dilations))
    assert "--dilations" in line
    assert not (inputs / "s" / "results.csv").exists() and not list((inputs / "s").rglob("*.png"))


def test_another_seed_or_count_in_the_same_folder_rewrites_nothing(inputs):
    assert sweep(inputs).exit_code == 0
    before = {p: p.read_bytes() for p in (inputs / "s").rglob("*") if p.is_file()}
    for extra in (["--seed", "3"], ["--count", "1"]):
        result = sweep(inputs, "other", "0,2", *extra)
        assert "holds a sweep of other masks" in one_error_line(result)
        assert {p: p.read_bytes() for p in (inputs / "s").rglob("*") if p.is_file()} == before


def test_two_sweeps_at_once_do_not_mix_their_masks(inputs, monkeypatch):
    """The second sweep comes while the first checks and writes its masks: it is refused."""
    import pconvkit.benchmark.sweep as module

    inside, leave = threading.Event(), threading.Event()
    real = module.write_bytes_atomic

    def slow_write(path, data):  # the first sweep pauses inside its lock
        inside.set()
        leave.wait(10)
        real(path, data)

    monkeypatch.setattr(module, "write_bytes_atomic", slow_write)
    first = threading.Thread(target=lambda: sweep(inputs))
    first.start()
    assert inside.wait(10)
    monkeypatch.setattr(module, "write_bytes_atomic", real)
    second = sweep(inputs, "other")
    leave.set()
    first.join()
    assert "in use by another sweep" in one_error_line(second)
    assert sweep(inputs).exit_code == 0  # the first sweep's folder, whole: the same command completes it
