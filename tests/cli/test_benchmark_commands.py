"""`benchmark`'s commands end to end on small inputs, and a one-line error for each kind of bad input."""

import csv

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import one_line_error, run_command

from pconvkit.cli import benchmark, maskgen

runner = CliRunner()


def test_benchmark_run_table_and_resume(tmp_path, mask_folder, image_folder):
    arguments = run_command("telea,mean", str(mask_folder), image_folder, str(tmp_path))
    result = runner.invoke(benchmark, arguments)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    first = (tmp_path / "results.csv").read_bytes()
    assert len(rows) == 2 * len({r["mask"] for r in rows}) and rows
    result = runner.invoke(benchmark, arguments)  # resumed: nothing new, same file
    assert "already in results.csv" in result.output
    result = runner.invoke(benchmark, arguments[:2] + ["telea,mean,ns"] + arguments[3:])
    assert (tmp_path / "results.csv").read_bytes().startswith(first)
    result = runner.invoke(benchmark, ["table", str(tmp_path), "--format", "latex"])
    assert result.exit_code == 0 and r"\begin{tabular}" in result.output


def test_benchmark_bad_inputs(tmp_path, mask_folder, image_folder):
    base = ["run", "--masks", str(mask_folder), "--images", str(image_folder), "--size", "64", "--out", str(tmp_path)]
    one_line_error(runner.invoke(benchmark, base + ["--methods", "nosuch"]), "unknown method")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(
        runner.invoke(
            benchmark,
            ["run", "--masks", str(mask_folder), "--images", str(empty), "--size", "64", "--out", str(tmp_path)],
        ),
        "no images in",
    )
    one_line_error(
        runner.invoke(benchmark, base[:5] + ["--size", "32", "--out", str(tmp_path), "--methods", "telea"]),
        "images are 32x32",
    )
    one_line_error(
        runner.invoke(benchmark, base + ["--methods", "pconv", "--checkpoint", str(tmp_path / "no.pt")]),
        "checkpoint not found",
    )
    one_line_error(
        runner.invoke(benchmark, base + ["--methods", "telea", "--inception-weights", str(tmp_path / "i.pth")]),
        "Inception-v3 weights not found",
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"not a png")
    one_line_error(
        runner.invoke(
            benchmark,
            ["run", "--masks", str(mask_folder), "--images", str(broken), "--size", "64", "--out", str(tmp_path)],
        ),
        "cannot read image",
    )
    assert not (tmp_path / "results.csv").exists()


def test_benchmark_run_checks_method_names_before_reading_anything(tmp_path, mask_folder, image_folder):
    result = runner.invoke(
        benchmark,
        run_command("telea,nosuch", str(mask_folder), image_folder, str(tmp_path / "r")),
    )
    one_line_error(result, "unknown method 'nosuch'")
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_file_system_refusals_are_one_line_errors(tmp_path, mask_folder, image_folder):
    (tmp_path / "a_file").write_text("")
    (tmp_path / "a_folder").mkdir()
    one_line_error(runner.invoke(maskgen, ["sheet", str(mask_folder), "--out", str(tmp_path / "a_file")]), "a_file")
    one_line_error(runner.invoke(benchmark, ["timing", str(tmp_path / "a_folder")]), "no results in")
    arguments = run_command("mean", str(mask_folder), image_folder, str(tmp_path / "r"))
    assert runner.invoke(benchmark, arguments).exit_code == 0
    one_line_error(
        runner.invoke(benchmark, ["table", str(tmp_path / "r"), "--out", str(tmp_path / "a_folder")]), "it is a folder"
    )
    assert list((tmp_path / "a_folder").iterdir()) == []


def test_a_run_can_be_drawn_from_another_directory(tmp_path, mask_folder, image_folder, monkeypatch):
    from pconvkit.benchmark.grid import grid_pairs

    monkeypatch.chdir(mask_folder.parent)  # masks given relative to where the run starts
    arguments = run_command("mean", mask_folder.name, image_folder, str(tmp_path / "r"))
    assert runner.invoke(benchmark, arguments).exit_code == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    pairs = grid_pairs(tmp_path / "r", ["0", "1"])
    assert len(pairs) == 2 and all(mask.path.is_file() for mask, _ in pairs)
    result = runner.invoke(
        benchmark,
        [
            "grid",
            str(tmp_path / "r"),
            "--methods",
            "mean",
            "--mask-ids",
            "0",
            "--images",
            str(image_folder),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "grid.png").is_file()


def test_grid_names_its_mask_ids_option_when_given_the_old_spelling(tmp_path):
    one_line_error(runner.invoke(benchmark, ["grid", str(tmp_path), "--masks", "0"]), "as --mask-ids")


def test_the_sweep_reads_masks_with_the_same_options_as_a_run():
    from pconvkit.cli.benchmark_commands import benchmark_run, benchmark_sweep

    def mask_options(command):
        return {p.name for p in command.params if p.name in ("masks", "hole_white", "mask_threshold", "mostly_hole")}

    wanted = {"masks", "hole_white", "mask_threshold", "mostly_hole"}
    assert mask_options(benchmark_sweep) == mask_options(benchmark_run) == wanted


class _StubClassifier:
    """Stands in for Inception-v3 (its weights cannot be downloaded): class probabilities from the
    mean colour; can be told to fail on its n-th call, as an interruption would."""

    calls, fail_on = 0, None

    def __init__(self, weights_path, device="cpu"):
        pass

    def probabilities(self, images):
        type(self).calls += 1
        if type(self).calls == type(self).fail_on:
            raise KeyboardInterrupt
        logits = np.asarray(images).mean(axis=(1, 2)) * 4
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_every_result_row_has_its_inception_probabilities_even_after_an_interruption(
    tmp_path, mask_folder, image_folder, monkeypatch
):
    import pconvkit.benchmark.run
    from pconvkit.benchmark.data import load_images, load_masks
    from pconvkit.benchmark.results import read_results
    from pconvkit.benchmark.run import MetricWeights, run_benchmark

    monkeypatch.setattr(pconvkit.benchmark.run, "InceptionClassifier", _StubClassifier)
    images, masks = load_images(image_folder, 64), load_masks(mask_folder)
    _StubClassifier.calls, _StubClassifier.fail_on = 0, 3  # 1: ground truths; 2, 3: the first two outputs
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(
            ["mean"], images, masks, tmp_path, metric_weights=MetricWeights(inception="stub"), log=lambda *_: None
        )
    _StubClassifier.fail_on = None
    run_benchmark(
        ["mean"], images, masks, tmp_path, metric_weights=MetricWeights(inception="stub"), log=lambda *_: None
    )
    rows = read_results(tmp_path / "results.csv")
    assert sorted(r["mask"] for r in rows) == sorted(m.mask_id for m in masks)  # each pair once
    for row in rows:
        for folder in ("mean", "gt"):
            probabilities = np.load(tmp_path / "inception" / folder / f"{row['mask']}.npy")
            assert probabilities.shape == (3,) and probabilities.sum() == pytest.approx(1, abs=1e-5)
