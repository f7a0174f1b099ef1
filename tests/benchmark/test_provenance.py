"""A run's pictures, study, exports and scores use the run's own photos and networks: the folder and
the checkpoints it records, checked by the hashes of its rows and of the weights it loaded."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import box_masks, gradient_photos, one_error_line

from pconvkit.cli import benchmark
from pconvkit.files import content_hash, write_image
from pconvkit.models.checkpoint import save_checkpoint
from pconvkit.models.unet import PConvUNet, UNetConfig


def _checkpoint(path, seed):
    torch.manual_seed(seed)
    save_checkpoint(path, PConvUNet(UNetConfig(layers=3, width=0.125)))
    return path


@pytest.fixture
def run(tmp_path):
    """`benchmark run` of pconv (a small checkpoint of its own) and telea, the images by --images."""
    gradient_photos(tmp_path / "images", count=3)
    box_masks(tmp_path / "masks", [(10, 30, 10, 30), (20, 40, 5, 50), (2, 12, 40, 60)])
    checkpoint = _checkpoint(tmp_path / "mine.pt", 0)
    arguments = ["run", "--methods", "pconv,telea", "--images", str(tmp_path / "images")]
    arguments += ["--masks", str(tmp_path / "masks"), "--size", "64", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(benchmark, [*arguments, "--checkpoint", str(checkpoint)])
    assert result.exit_code == 0, result.output
    return tmp_path


def test_the_run_records_its_images_folder_and_the_hash_of_the_weights_it_loaded(run):
    record = json.loads((run / "out" / "run.json").read_text())
    assert record["images_dir"] == str((run / "images").resolve())
    network = record["networks"]["pconv"]
    assert network["checkpoint"] == str((run / "mine.pt").resolve())
    assert network["weights_hash"] == content_hash((run / "mine.pt").read_bytes())


def test_a_picture_of_the_run_needs_no_images_and_uses_the_runs_checkpoint(run):
    grid = ["grid", str(run / "out"), "--methods", "pconv,telea", "--out", str(run / "g.png")]
    result = CliRunner().invoke(benchmark, grid)  # neither --images nor --checkpoint
    assert result.exit_code == 0, result.output
    other = _checkpoint(run / "other.pt", 1)
    line = one_error_line(CliRunner().invoke(benchmark, [*grid, "--checkpoint", str(other)]))
    assert "not the network the run used" in line


def test_a_checkpoint_changed_since_the_run_is_refused(run):
    _checkpoint(run / "mine.pt", 2)  # retrained in place
    grid = ["grid", str(run / "out"), "--methods", "pconv", "--out", str(run / "g.png")]
    assert "not the network the run used" in one_error_line(CliRunner().invoke(benchmark, grid))
    assert not (run / "g.png").exists()


def test_another_images_folder_is_refused_by_the_pixels_the_rows_scored(run):
    gradient_photos(run / "others", count=3, seed=5)  # the same names, other photos
    for command in (
        ["grid", str(run / "out"), "--methods", "telea", "--out", str(run / "g.png")],
        ["export-pairs", str(run / "out"), "--out", str(run / "pairs")],
        ["report", str(run / "out"), "--out", str(run / "report")],
    ):
        line = one_error_line(CliRunner().invoke(benchmark, [*command, "--images", str(run / "others")]))
        assert "not the one the run scored" in line, command


def test_a_folder_missing_some_of_the_runs_photos_is_one_line(run):
    (run / "some").mkdir()
    image = np.zeros((64, 64, 3))
    write_image(run / "some" / "p0.png", image)
    line = one_error_line(
        CliRunner().invoke(
            benchmark, ["report", str(run / "out"), "--out", str(run / "report"), "--images", str(run / "some")]
        )
    )
    assert "are not in" in line and not (run / "report" / "index.html").exists()


def test_study_create_takes_the_runs_photos_and_networks(run):
    pytest.importorskip("flask")
    study = ["study", "create", str(run / "out"), "--methods", "pconv,telea", "--per-method", "2"]
    result = CliRunner().invoke(benchmark, [*study, "--out", str(run / "study")])  # no --images: no KeyError
    assert result.exit_code == 0, result.output
    other = _checkpoint(run / "other.pt", 1)
    result = CliRunner().invoke(benchmark, [*study, "--out", str(run / "study2"), "--checkpoint", str(other)])
    assert "not the network the run used" in one_error_line(result) and not (run / "study2").exists()


def test_a_moved_images_folder_is_named_with_the_way_out(run):
    (run / "images").rename(run / "moved")
    line = one_error_line(CliRunner().invoke(benchmark, ["grid", str(run / "out"), "--methods", "telea"]))
    assert "is not a folder" in line and "--images" in line


@pytest.mark.parametrize("text", ["{cut", "[1, 2]", "\xff\xfe"])
def test_a_damaged_run_record_is_one_line_for_every_command_that_reads_it(run, text):
    (run / "out" / "run.json").write_bytes(text.encode("latin-1"))
    for command in (
        ["grid", str(run / "out"), "--methods", "telea", "--out", str(run / "g.png")],
        ["table", str(run / "out")],
    ):
        assert "run.json is damaged" in one_error_line(CliRunner().invoke(benchmark, command)), command
