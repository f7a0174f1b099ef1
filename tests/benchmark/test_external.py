"""Outputs made elsewhere: a run's pairs exported in another tool's layout, outputs made from those
files and scored back give the built-in method's rows (within 8-bit rounding); an incomplete or
wrongly sized set of outputs is refused."""

from pathlib import Path

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


def test_a_peers_scores_of_the_exported_truths_reproduce_the_table_to_1e_6(tmp_path):
    """One ground truth: `export-pairs --truth` writes the very pixels the run scores against, so
    outputs made and scored by LaMa's rules (its pairing, its SSIM, its [a, b) bins) and by
    scikit-image's PSNR give `table`'s cells to 1e-6."""
    import cv2
    from helpers import lama_entries, lama_ssim
    from skimage.metrics import peak_signal_noise_ratio

    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.tables import binning, summarise

    rng = np.random.default_rng(4)
    for i in range(3):  # textured photos, so that SSIM's border matters
        write_image(tmp_path / "images" / f"t{i}.png", cv2.GaussianBlur(rng.random((80, 96, 3)), (0, 0), 1.5))
    box_masks(tmp_path / "masks", [(8, 8 + rows, 10, 50) for rows in (6, 14, 22, 30, 40, 50, 56)])
    assert runner.invoke(benchmark, run_arguments(tmp_path, "telea", "results")).exit_code == 0
    images, export = ["--images", str(tmp_path / "images")], tmp_path / "lama"
    command = ["export-pairs", str(tmp_path / "results"), "--layout", "lama", "--truth", "--out", str(export)]
    assert runner.invoke(benchmark, command + images).exit_code == 0
    photos = load_images(tmp_path / "images", 64)
    by_name = {line.split(",")[0]: line.split(",")[2] for line in (export / "pairs.csv").read_text().splitlines()[1:]}
    peer = {}  # LaMa's bin name: [(its SSIM, scikit-image's PSNR)]
    for image_path, mask_path in lama_entries(export):
        truth, holes = read_image(image_path), read_mask(mask_path, hole_white=True) == 0
        assert np.array_equal(truth, photos[by_name[Path(image_path).stem]])  # the run's own truth, bit for bit
        blanked = (truth * ~holes[..., None] * 255).round().astype(np.uint8)  # LaMa blanks the holes itself
        output = cv2.inpaint(blanked, holes.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        write_image(tmp_path / "outputs" / Path(mask_path).name, output / 255.0)  # LaMa names it after the mask
        output = read_image(tmp_path / "outputs" / Path(mask_path).name)
        edges = np.linspace(0, 1, 11)  # LaMa's evaluator: searchsorted(edges, area, side="right") - 1
        index = min(int(np.searchsorted(edges, holes.mean(), side="right")) - 1, 9)
        name = f"{edges[index] * 100:.0f}-{edges[index + 1] * 100:.0f}%"
        psnr = peak_signal_noise_ratio(truth, output, data_range=1)
        peer.setdefault(name, []).append((lama_ssim(output, truth, "float64"), psnr))
    score = ["score", str(tmp_path / "results"), "--method", "peer", "--outputs", str(tmp_path / "outputs")]
    assert runner.invoke(benchmark, score + images).exit_code == 0
    cells = summarise(tmp_path / "results", bins=binning("lama"), ssim_border="include").cells
    cells = cells[cells["method"] == "peer"].set_index(["metric", "column"])["value"]
    assert len(peer) >= 4
    for name, values in peer.items():
        assert cells["ssim", f"{name} N+B"] == pytest.approx(np.mean([s for s, _ in values]), abs=1e-6)
        assert cells["psnr", f"{name} N+B"] == pytest.approx(np.mean([p for _, p in values]), abs=1e-6)
