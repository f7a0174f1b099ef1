"""The commands end to end on small inputs, and a one-line error for each kind of bad input."""

import csv

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import write_square_flows

from pconvkit.cli import benchmark, maskgen, pconv
from pconvkit.files import write_png_atomic
from pconvkit.images import mask_to_png
from pconvkit.maskgen.flowio import write_flow

runner = CliRunner()


def one_line_error(result, text):
    """Non-zero exit, the message on the last line, no traceback (progress bars may come before)."""
    assert result.exit_code != 0, result.output
    last = result.output.strip().splitlines()[-1].split("\r")[-1]
    assert last.startswith("Error: ") and text in last, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def mask_folder(tmp_path_factory):
    """A plain folder of 64x64 masks, white = valid, one per bin and category where possible."""
    folder = tmp_path_factory.mktemp("masks")
    for i, side in enumerate([10, 20, 28, 34]):
        valid = np.ones((64, 64), np.uint8)
        valid[2 : 2 + side, 30 - side // 2 : 30 + side - side // 2] = 0  # touches the 16-px frame: B
        write_png_atomic(folder / f"{i}.png", mask_to_png(valid))
    return folder


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(3):
        write_png_atomic(folder / f"p{i}.png", (rng.random((80, 100, 3)) * 255).astype(np.uint8))
    return folder


def test_maskgen_build_from_a_flow_folder(tmp_path):
    flows = tmp_path / "flows"
    write_square_flows(flows, "alpha", [(0, 1), (10, 11)], shape=(64, 80))
    write_square_flows(flows, "beta", [(0, 1), (12, 13)], shape=(64, 80))
    arguments = [
        "build",
        "--flow-dir",
        str(flows),
        "--out",
        str(tmp_path / "out"),
        "--train-count",
        "0",
        "--test-count",
        "0",
        "--test-videos",
        "beta",
        "--per-bin",
        "1",
        "--size",
        "64",
        "--border-margin",
        "8",
        "--max-tries",
        "300",
    ]
    result = runner.invoke(maskgen, arguments)
    # the 8x20 strips of the moving square dilated by at least 5 px already cover over 10 % of a
    # 64x64 crop, so the first bin cannot be filled: the message names it, and asks for sparser videos
    one_line_error(result, "cannot fill bin N 0.01-0.1")
    assert "sparser occlusions" in result.output and "larger occlusions" not in result.output
    assert not (tmp_path / "out" / "test" / "manifest.csv").exists()
    result = runner.invoke(
        maskgen,
        arguments[:-6]
        + ["--size", "256", "--border-margin", "8", "--max-tries", "300", "--out", str(tmp_path / "big")],
    )
    assert result.exit_code in (0, 1)


def test_classify_prints_measured_bins(mask_folder):
    result = runner.invoke(maskgen, ["classify", str(mask_folder), "--border-margin", "16"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "path,category,bin,hole_ratio,border_distance"
    assert lines[1].startswith("0.png,B,0.01-0.1,") and lines[1].endswith(",2")


def run_args(methods, masks, images, out):
    """`benchmark run` of METHODS on IMAGES x MASKS at 64 px into OUT."""
    return [
        "run",
        "--methods",
        methods,
        "--masks",
        str(masks),
        "--images",
        str(images),
        "--size",
        "64",
        "--out",
        str(out),
    ]


def test_benchmark_run_table_and_resume(tmp_path, mask_folder, image_folder):
    arguments = run_args("telea,mean", str(mask_folder), image_folder, str(tmp_path))
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


def test_maskgen_bad_inputs(tmp_path):
    one_line_error(
        runner.invoke(maskgen, ["build", "--flow-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o")]),
        "flow folder not found",
    )
    (tmp_path / "video.avi").write_bytes(b"garbage")
    one_line_error(
        runner.invoke(maskgen, ["build", "--video", str(tmp_path / "video.avi"), "--out", str(tmp_path / "o")]),
        "cannot read two frames",
    )
    flows = tmp_path / "flows" / "v"
    write_flow(flows / "forward_0_1.flo", np.zeros((8, 8, 2), np.float32))
    (flows / "backward_1_0.flo").write_bytes((flows / "forward_0_1.flo").read_bytes()[:40])
    one_line_error(
        runner.invoke(maskgen, ["build", "--flow-dir", str(tmp_path / "flows"), "--out", str(tmp_path / "o")]),
        "truncated",
    )
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    one_line_error(
        runner.invoke(maskgen, ["build", "--flow-dir", str(tmp_path / "flows"), "--out", str(blocker / "o")]),
        "cannot write to",
    )
    one_line_error(
        runner.invoke(
            maskgen, ["build", "--flow-dir", str(tmp_path / "flows"), "--out", str(tmp_path / "p"), "--per-bin", "0"]
        ),
        "",
    )


@pytest.mark.slow
def test_pconv_inpaint_any_image(tmp_path):
    import torch

    from pconvkit.models.checkpoint import save_checkpoint
    from pconvkit.models.unet import PConvUNet, UNetConfig

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "m.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
    gray = (np.random.default_rng(0).random((30, 41)) * 255).astype(np.uint8)
    write_png_atomic(tmp_path / "gray.png", gray)
    valid = np.ones((30, 41), np.uint8)
    valid[5:15, 5:20] = 0
    write_png_atomic(tmp_path / "hole_white.png", mask_to_png(valid, hole_white=True))
    result = runner.invoke(
        pconv,
        [
            "inpaint",
            str(tmp_path / "gray.png"),
            str(tmp_path / "hole_white.png"),
            "--hole-white",
            "-o",
            str(tmp_path / "out.png"),
            "--checkpoint",
            str(tmp_path / "m.pt"),
        ],
    )
    assert result.exit_code == 0, result.output
    import cv2

    out = cv2.imread(str(tmp_path / "out.png"))
    assert out.shape == (30, 41, 3) and (out[valid == 1][:, 0] == gray[valid == 1]).all()
    write_png_atomic(tmp_path / "small.png", np.ones((10, 10), np.uint8) * 255)
    one_line_error(
        runner.invoke(
            pconv,
            [
                "inpaint",
                str(tmp_path / "gray.png"),
                str(tmp_path / "small.png"),
                "-o",
                str(tmp_path / "o.png"),
                "--checkpoint",
                str(tmp_path / "m.pt"),
            ],
        ),
        "mask is 10x10",
    )


def test_pconv_inpaint_rejects_tiny_and_missing_inputs(tmp_path):
    write_png_atomic(tmp_path / "tiny.png", np.zeros((8, 8, 3), np.uint8))
    write_png_atomic(tmp_path / "mask.png", np.full((8, 8), 255, np.uint8))
    one_line_error(
        runner.invoke(
            pconv, ["inpaint", str(tmp_path / "tiny.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.png")]
        ),
        "smaller than 16 px",
    )
    one_line_error(
        runner.invoke(
            pconv, ["inpaint", str(tmp_path / "none.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.png")]
        ),
        "image not found",
    )
    write_png_atomic(tmp_path / "image.png", np.zeros((32, 32, 3), np.uint8))
    one_line_error(
        runner.invoke(
            pconv, ["inpaint", str(tmp_path / "image.png"), str(tmp_path / "none.png"), "-o", str(tmp_path / "o.png")]
        ),
        "mask not found",
    )


def test_maskgen_flow_writes_a_folder_that_flow_dir_reads_back(tmp_path):
    from helpers import textured

    from pconvkit.maskgen.flowcompute import list_flow_pairs
    from pconvkit.maskgen.flowio import read_flow

    background = (textured((64, 96), seed=1) * 255).astype(np.uint8)
    for t in range(3):
        frame = background.copy()
        frame[20:40, 10 + 5 * t : 30 + 5 * t] = 255 - background[20:40, 10:30]
        write_png_atomic(tmp_path / "clip" / f"{t}.png", frame)
    result = runner.invoke(
        maskgen, ["flow", "--frames", str(tmp_path / "clip"), "--out", str(tmp_path / "flows"), "--frame-gaps", "1,2"]
    )
    assert result.exit_code == 0, result.output
    pairs = list_flow_pairs(tmp_path / "flows")["clip"]
    assert [(p.first, p.second) for p in pairs] == [(0, 1), (0, 2), (1, 2)]
    forward, valid = read_flow(pairs[0].forward)
    assert forward.shape == (64, 96, 2) and valid.all()
    assert abs(np.median(forward[25:35, 15:25, 0]) - 5) < 1.5  # the patch moved 5 px right


def test_resumed_run_refuses_another_pairing(tmp_path, mask_folder, image_folder):
    arguments = run_args("mean", str(mask_folder), image_folder, str(tmp_path))
    assert runner.invoke(benchmark, arguments).exit_code == 0
    before = (tmp_path / "results.csv").read_bytes()
    one_line_error(runner.invoke(benchmark, arguments + ["--seed", "5"]), "another mask-image pairing")
    assert (tmp_path / "results.csv").read_bytes() == before


def _cases(group, arguments, pairs: str):
    """(group, arguments, option, value) for each 'OPTION VALUE' of `pairs`, separated by ';'."""
    return [(group, arguments, *pair.split()) for pair in pairs.split(";")]


BAD_NUMBERS = (
    _cases(
        maskgen,
        ["build", "--flow-dir", "f", "--out", "o"],
        "--frame-stride 0; --max-side 0; --min-area -1; --occlusion-relative -0.5; --occlusion-relative nan; "
        "--occlusion-absolute inf; --boundary-absolute -1; --boundary-relative nan; --train-count -1; --per-bin 0; "
        "--size 0; --border-margin -1; --seed -1; --max-tries 0; --workers 0; --frame-gaps 0; --frame-gaps 1,x; "
        "--frame-gaps 4,-1",
    )
    + _cases(maskgen, ["flow", "--frames", "f", "--out", "o"], "--frame-gaps abc")
    + _cases(maskgen, ["classify", "f"], "--border-margin -3")
    + _cases(benchmark, ["sweep", "--masks", "m"], "--size 0; --count 0; --mask-threshold 2")
    + _cases(
        benchmark,
        ["run", "--masks", "m", "--out", "o"],
        "--workers 0; --batch-size 0; --limit 0; --size 0; --seed -1; --mask-threshold nan; --mask-threshold 0",
    )
    + _cases(
        pconv,
        ["train", "--images", "i", "--masks", "m", "--out", "o"],
        "--batch-size 0; --steps 0; --lr 0; --lr -1; --lr nan; --layers 1; --layers 9; --width 0; --width inf; "
        "--checkpoint-every 0; --sample-every 0; --size 0; --seed -1; --scale-jitter nan; --color-jitter nan; "
        "--max-minutes nan",
    )
)


@pytest.mark.parametrize(
    "group, arguments, option, value", BAD_NUMBERS, ids=[f"{a[0]} {o} {v}" for _, a, o, v in BAD_NUMBERS]
)
def test_numbers_out_of_range_are_refused_when_the_command_line_is_read(
    tmp_path, monkeypatch, group, arguments, option, value
):
    # The paths do not exist: the range check must come first, before any file is looked at or made.
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(group, arguments + [option, value])
    one_line_error(result, f"Invalid value for '{option}'")
    assert result.exit_code == 2 and not any(tmp_path.iterdir())


def test_an_output_image_name_that_opencv_cannot_write_is_refused_before_inpainting(tmp_path):
    image = (np.random.default_rng(1).random((32, 32, 3)) * 255).astype(np.uint8)
    write_png_atomic(tmp_path / "image.png", image)
    write_png_atomic(tmp_path / "mask.png", np.full((32, 32), 255, np.uint8))
    inputs = [str(tmp_path / "image.png"), str(tmp_path / "mask.png"), "--checkpoint", str(tmp_path / "none.pt")]
    # the missing checkpoint would be the error if the name were checked only after the network ran
    one_line_error(
        runner.invoke(pconv, ["inpaint"] + inputs + ["-o", str(tmp_path / "out.jpgx")]), "its name must end in .png"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.png", "mask.png"]
    (tmp_path / "folder").mkdir()
    one_line_error(runner.invoke(pconv, ["inpaint"] + inputs + ["-o", str(tmp_path / "folder")]), "it is a folder")


def inpaint_args(tmp_path, *extra):
    """`pconv inpaint` of TMP/image.png with TMP/mask.png into TMP/o.png."""
    return ["inpaint", str(tmp_path / "image.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.png"), *extra]


def test_a_checkpoint_that_torch_did_not_write_gets_a_readable_error(tmp_path):
    (tmp_path / "notes.pt").write_text("hello")
    write_png_atomic(tmp_path / "image.png", np.zeros((32, 32, 3), np.uint8))
    write_png_atomic(tmp_path / "mask.png", np.full((32, 32), 255, np.uint8))
    one_line_error(
        runner.invoke(
            pconv,
            inpaint_args(tmp_path, "--checkpoint", str(tmp_path / "notes.pt")),
        ),
        "notes.pt: not a file written by torch.save",
    )


def test_benchmark_run_checks_method_names_before_reading_anything(tmp_path, mask_folder, image_folder):
    result = runner.invoke(
        benchmark,
        run_args("telea,nosuch", str(mask_folder), image_folder, str(tmp_path / "r")),
    )
    one_line_error(result, "unknown method 'nosuch'")
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_classify_writes_csv_and_nothing_before_an_error(tmp_path, mask_folder):
    import shutil

    named = tmp_path / "named"
    named.mkdir()
    shutil.copy(mask_folder / "0.png", named / "a, b.png")
    result = runner.invoke(maskgen, ["classify", str(named), "--border-margin", "16"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    assert [r["path"] for r in rows] == ["a, b.png"] and rows[0]["category"] == "B"
    (tmp_path / "empty").mkdir()
    result = runner.invoke(maskgen, ["classify", str(tmp_path / "empty")])
    one_line_error(result, "no images in")
    assert result.output.strip().startswith("Error: ")


def test_file_system_refusals_are_one_line_errors(tmp_path, mask_folder, image_folder):
    (tmp_path / "a_file").write_text("")
    (tmp_path / "a_folder").mkdir()
    one_line_error(runner.invoke(maskgen, ["sheet", str(mask_folder), "--out", str(tmp_path / "a_file")]), "a_file")
    one_line_error(runner.invoke(benchmark, ["timing", str(tmp_path / "a_folder")]), "no results in")
    arguments = run_args("mean", str(mask_folder), image_folder, str(tmp_path / "r"))
    assert runner.invoke(benchmark, arguments).exit_code == 0
    one_line_error(
        runner.invoke(benchmark, ["table", str(tmp_path / "r"), "--out", str(tmp_path / "a_folder")]), "it is a folder"
    )
    assert list((tmp_path / "a_folder").iterdir()) == []


def test_a_run_can_be_drawn_from_another_directory(tmp_path, mask_folder, image_folder, monkeypatch):
    from pconvkit.benchmark.grid import grid_pairs

    monkeypatch.chdir(mask_folder.parent)  # masks given relative to where the run starts
    arguments = run_args("mean", mask_folder.name, image_folder, str(tmp_path / "r"))
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


def test_each_entry_point_loads_only_its_own_group():
    import subprocess
    import sys

    for group, others in (("pconv", ("benchmark", "maskgen")), ("maskgen", ("benchmark", "pconv"))):
        code = f"import sys; from pconvkit.cli import {group}; print(sorted(sys.modules))"
        loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for other in others:
            assert f"pconvkit.cli.{other}_commands" not in loaded


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


def test_a_device_name_torch_does_not_know_is_a_one_line_error(tmp_path):
    write_png_atomic(tmp_path / "image.png", np.zeros((32, 32, 3), np.uint8))
    write_png_atomic(tmp_path / "mask.png", np.full((32, 32), 255, np.uint8))
    one_line_error(
        runner.invoke(
            pconv,
            inpaint_args(tmp_path, "--engine", "torch", "--device", "gpu0"),
        ),
        "--device gpu0: not a device name",
    )
