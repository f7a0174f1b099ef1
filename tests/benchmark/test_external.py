"""Outputs made elsewhere: a run's pairs exported in another tool's layout, outputs made from those
files and scored back give the built-in method's rows (within 8-bit rounding); an incomplete or
wrongly sized set of outputs is refused."""

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import box_masks, gradient_photos, run_arguments

from pconvkit.benchmark.methods import make_method
from pconvkit.benchmark.results import read_results
from pconvkit.cli import benchmark
from pconvkit.files import write_image
from pconvkit.images import read_image, read_mask

runner = CliRunner()


@pytest.fixture
def run(tmp_path):
    gradient_photos(tmp_path / "images")
    box_masks(tmp_path / "masks", [(8, 20 + 3 * i, 10, 40) for i in range(6)])
    args = run_arguments(tmp_path, "telea,mean", "results")
    assert runner.invoke(benchmark, args).exit_code == 0
    return tmp_path


@pytest.mark.parametrize("layout", ["lama", "mmagic", "plain"])
def test_outputs_made_from_exported_files_score_as_the_builtin_method(run, layout):
    export = run / layout
    images = ["--images", str(run / "images")]
    result = runner.invoke(
        benchmark, ["export-pairs", str(run / "results"), "--layout", layout, "--out", str(export)] + images
    )
    assert result.exit_code == 0, result.output
    telea = make_method("telea")
    names = [line.split(",")[0] for line in (export / "pairs.csv").read_text().splitlines()[1:]]
    assert len(names) == 6
    for name in names:
        if layout == "lama":
            image, valid = (
                read_image(export / f"{name}.png"),
                read_mask(export / f"{name}_mask001.png", hole_white=True),
            )
            out = run / f"out_{layout}" / f"{name}_mask001.png"  # LaMa's own output names
        else:
            image = read_image(export / "images" / f"{name}.png")
            valid = read_mask(export / "masks" / f"{name}.png", hole_white=layout == "mmagic")
            out = run / f"out_{layout}" / f"{name}.png"
        assert 0 < (valid == 0).mean() < 0.6  # the polarity each tool reads
        write_image(out, telea(image, valid))  # an 8-bit PNG, as any tool would save it
    result = runner.invoke(
        benchmark,
        ["score", str(run / "results"), "--method", "telea_files", "--outputs", str(run / f"out_{layout}")] + images,
    )
    assert result.exit_code == 0, result.output
    rows = read_results(run / "results" / "results.csv")
    builtin = {r["mask"]: r for r in rows if r["method"] == "telea"}
    scored = {r["mask"]: r for r in rows if r["method"] == "telea_files"}
    assert scored.keys() == builtin.keys()
    for mask, row in scored.items():
        assert abs(float(row["l1"]) - float(builtin[mask]["l1"])) <= 0.5 / 255 * 100  # 8-bit rounding at most
        assert abs(float(row["ssim"]) - float(builtin[mask]["ssim"])) < 0.01 and row["device"] == "external"
    table = runner.invoke(benchmark, ["table", str(run / "results")]).output
    assert "| telea_files |" in table


def test_incomplete_or_wrongly_sized_outputs_are_refused(run):
    images = ["--images", str(run / "images")]
    assert (
        runner.invoke(benchmark, ["export-pairs", str(run / "results"), "--out", str(run / "x")] + images).exit_code
        == 0
    )
    names = [line.split(",")[0] for line in (run / "x" / "pairs.csv").read_text().splitlines()[1:]]
    for name in names[:-1]:
        write_image(run / "outs" / f"{name}.png", np.full((64, 64, 3), 0.3))
    result = runner.invoke(
        benchmark, ["score", str(run / "results"), "--method", "GL", "--outputs", str(run / "outs")] + images
    )
    assert result.exit_code != 0 and "1 of 6 pairs have no output" in result.output
    write_image(run / "outs" / f"{names[-1]}.png", np.full((32, 32, 3), 0.3))
    result = runner.invoke(
        benchmark, ["score", str(run / "results"), "--method", "GL", "--outputs", str(run / "outs")] + images
    )
    assert result.exit_code != 0 and "is 32x32" in result.output
    write_image(run / "outs" / f"{names[-1]}.png", np.full((64, 64, 3), 0.3))
    result = runner.invoke(
        benchmark, ["score", str(run / "results"), "--method", "GL", "--outputs", str(run / "outs")] + images
    )
    assert result.exit_code == 0, result.output
    table = runner.invoke(benchmark, ["table", str(run / "results")]).output
    assert "| GL |" in table and "GL (not run)" not in table and "GntIpt (not run)" in table


def test_an_export_into_a_folder_of_other_files_is_refused_and_the_same_export_repeats(run):
    from helpers import one_error_line

    export = ["export-pairs", str(run / "results"), "--images", str(run / "images"), "--out", str(run / "pairs")]
    assert CliRunner().invoke(benchmark, [*export, "--layout", "lama"]).exit_code == 0
    assert CliRunner().invoke(benchmark, [*export, "--layout", "lama"]).exit_code == 0  # the same, again
    line = one_error_line(CliRunner().invoke(benchmark, [*export, "--layout", "plain"]))
    assert "is not empty" in line and not (run / "pairs" / "images").exists()
    (run / "other").mkdir()
    (run / "other" / "old.png").write_bytes(b"")
    other = ["export-pairs", str(run / "results"), "--images", str(run / "images"), "--out", str(run / "other")]
    assert "is not empty" in one_error_line(CliRunner().invoke(benchmark, other))
