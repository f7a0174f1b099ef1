"""Exports read by each peer tool's own file rule, reproduced here from its source, and `score`
that cannot take the wrong files: mask ids of every shape, outputs named as each tool names them,
and folders of masks, truths or inputs refused.

The rules:
- LaMa, saicinpainting/evaluation/data.py (InpaintingDataset): masks are
  glob(DIR/**/*mask*.png, recursive), sorted; a mask's image is its name up to the last "_mask",
  plus ".png"; predict.py writes each output under the mask file's name.
- mmagic, mmagic/datasets/basic_image_dataset.py (BasicImageDataset._get_path_list_from_ann and
  load_data_list): a line's first space-separated word is the file; its stem and extension are
  joined onto each data prefix (images/, masks/).
- IOPaint, iopaint/batch_processing.py (batch_inpaint): a mask folder's mask is
  MASKS/{image stem}.png; the output is written under the image's name.
"""

import os

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import gradient_photos, iopaint_entries, lama_entries, mmagic_entries, one_error_line

from pconvkit.benchmark.methods import make_method
from pconvkit.benchmark.results import read_results
from pconvkit.cli import benchmark
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png, read_image, read_mask

# mask ids of every shape: LaMa's own generated names, dots, spaces, letters outside ASCII
MASK_IDS = ["img_mask000", "mask", "a.b.c", "with space", "ünïcode", "x_mask_y", "plain"]


@pytest.fixture
def run(tmp_path):
    gradient_photos(tmp_path / "images", count=3)
    for i, mask_id in enumerate(MASK_IDS):
        valid = np.ones((64, 64), np.uint8)
        valid[6 + i : 20 + 2 * i, 10:40] = 0
        write_png_atomic(tmp_path / "masks" / f"{mask_id}.png", mask_to_png(valid))
    arguments = ["run", "--methods", "telea", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks")]
    result = CliRunner().invoke(benchmark, [*arguments, "--size", "64", "--out", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    return tmp_path


def export(run, layout):
    arguments = ["export-pairs", str(run / "results"), "--layout", layout, "--images", str(run / "images")]
    result = CliRunner().invoke(benchmark, [*arguments, "--out", str(run / layout)])
    assert result.exit_code == 0, result.output
    return run / layout


def fill_as_the_tool_would(entries, out, name_of):
    telea = make_method("telea")
    for image_path, mask_path in entries:
        image, valid = read_image(image_path), read_mask(mask_path, hole_white=True)
        write_image(out / name_of(image_path, mask_path), telea(image, valid))


@pytest.mark.parametrize(
    "layout, entries, name_of",
    [
        ("lama", lama_entries, lambda image, mask: os.path.basename(mask)),
        ("mmagic", mmagic_entries, lambda image, mask: os.path.basename(image)),
        ("mmagic", iopaint_entries, lambda image, mask: os.path.basename(image)),
    ],
    ids=["lama", "mmagic", "iopaint"],
)
def test_each_tool_reads_every_pair_and_score_finds_each_output_once(run, layout, entries, name_of):
    folder = export(run, layout)
    pairs = entries(folder)
    assert len(pairs) == len(MASK_IDS)  # no image read as a mask, none left out
    assert all(os.path.isfile(image) and os.path.isfile(mask) for image, mask in pairs)
    assert len({image for image, _ in pairs}) == len(pairs)
    fill_as_the_tool_would(pairs, run / "outputs", name_of)
    score = ["score", str(run / "results"), "--method", "telea-tool", "--outputs", str(run / "outputs")]
    result = CliRunner().invoke(benchmark, [*score, "--images", str(run / "images")])
    assert result.exit_code == 0, result.output
    assert f"{len(MASK_IDS)} of {len(MASK_IDS)} outputs scored" in result.output
    rows = read_results(run / "results" / "results.csv")
    builtin = {r["mask"]: float(r["psnr"]) for r in rows if r["method"] == "telea"}
    scored = {r["mask"]: float(r["psnr"]) for r in rows if r["method"] == "telea-tool"}
    assert scored.keys() == set(MASK_IDS)
    assert all(abs(scored[m] - builtin[m]) < 1.0 for m in MASK_IDS)  # each output scored against its own pair


def _score(run, outputs):
    score = ["score", str(run / "results"), "--method", "wrong", "--outputs", str(outputs)]
    return CliRunner().invoke(benchmark, [*score, "--images", str(run / "images")])


def test_the_export_folder_its_masks_or_the_truths_are_refused_as_outputs(run):
    lama, plain = export(run, "lama"), export(run, "plain")
    assert "two outputs for pair" in one_error_line(_score(run, lama))  # NAME.png and NAME_mask001.png
    assert "exported inputs" in one_error_line(_score(run, plain / "images"))
    (run / "masks_named").mkdir()
    for path in (plain / "masks").iterdir():
        (run / "masks_named" / path.name).write_bytes(path.read_bytes())
    assert "mask files" in one_error_line(_score(run, run / "masks_named"))
    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.results import read_pairing

    photos = load_images(run / "images", 64)
    for index, (_, image) in enumerate(read_pairing(run / "results")):
        write_image(run / "truths" / f"p{index + 1:05d}.png", photos[image])
    assert "ground truths" in one_error_line(_score(run, run / "truths"))
    rows = read_results(run / "results" / "results.csv")
    assert {r["method"] for r in rows} == {"telea"}  # nothing written by any refused score


def test_two_candidates_for_one_pair_are_named(run):
    export(run, "plain")
    for index in range(len(MASK_IDS)):
        write_image(run / "outputs" / f"p{index + 1:05d}.png", np.full((64, 64, 3), 0.3))
    write_image(run / "outputs" / "sub" / "p00003.jpg", np.full((64, 64, 3), 0.3))
    line = one_error_line(_score(run, run / "outputs"))
    assert "two outputs for pair p00003" in line and "p00003.jpg" in line
