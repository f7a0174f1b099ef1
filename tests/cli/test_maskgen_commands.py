"""`maskgen`'s commands end to end on small inputs, and a one-line error for each kind of bad input."""

import csv

import numpy as np
from click.testing import CliRunner
from helpers import one_line_error, write_square_flows

from pconvkit.cli import maskgen
from pconvkit.maskgen.flowio import write_flow

runner = CliRunner()


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


def test_maskgen_bad_inputs(tmp_path):
    one_line_error(
        runner.invoke(maskgen, ["build", "--flow-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o")]),
        "flow folder not found",
    )
    (tmp_path / "video.avi").write_bytes(b"garbage")
    one_line_error(
        runner.invoke(maskgen, ["build", "--video", str(tmp_path / "video.avi"), "--out", str(tmp_path / "o")]),
        "cannot read a frame",
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


def _test_settings_given(tmp_path, monkeypatch) -> tuple[list, list]:
    """`maskgen build`'s command line and the list that each run's BenchmarkSettings is appended to,
    the build stopped right after the settings are made."""
    from pconvkit.errors import UserError
    from pconvkit.maskgen import build

    given = []

    def stop_after_the_settings(*arguments):
        given.append(arguments[7])  # build_mask_set's test_settings
        raise UserError("stopped")

    monkeypatch.setattr(build, "build_mask_set", stop_after_the_settings)
    return ["build", "--flow-dir", str(tmp_path), "--out", str(tmp_path / "out")], given


def test_build_hands_the_source_weight_to_the_test_set(tmp_path, monkeypatch):
    base, given = _test_settings_given(tmp_path, monkeypatch)
    for extra in ([], ["--source-weight", "video"], ["--source-weight", "mask"]):
        one_line_error(runner.invoke(maskgen, base + extra), "stopped")
    assert [settings.source_weight for settings in given] == ["mask", "video", "mask"]
    one_line_error(runner.invoke(maskgen, base + ["--source-weight", "frames"]), "--source-weight")


def test_build_hands_the_ratio_draw_and_dilation_law_to_the_test_set(tmp_path, monkeypatch):
    from pconvkit.maskgen import build

    base, given = _test_settings_given(tmp_path, monkeypatch)
    one_line_error(runner.invoke(maskgen, base), "stopped")
    one_line_error(runner.invoke(maskgen, base + ["--ratio-draw", "nvidia", "--dilation-law", "20", "60"]), "stopped")
    assert build.BenchmarkSettings().dilation_law == (47.0, 0.0)  # the README's default: any kernel of 5-47 px
    assert [(s.ratio_draw, s.dilation_law) for s in given] == [
        (build.BenchmarkSettings().ratio_draw, build.BenchmarkSettings().dilation_law),
        ("nvidia", (20.0, 60.0)),
    ]
    for wrong, named in (
        (["--ratio-draw", "normal"], "--ratio-draw"),
        (["--dilation-law", "20"], "--dilation-law"),
        (["--dilation-law", "20", "nan"], "--dilation-law"),
    ):
        result = runner.invoke(maskgen, base + wrong)
        assert result.exit_code == 2
        one_line_error(result, named)


def test_build_refuses_a_dilation_law_that_allows_no_kernel_in_one_line(tmp_path):
    base = ["build", "--flow-dir", str(tmp_path), "--out", str(tmp_path / "out")]
    result = runner.invoke(maskgen, base + ["--dilation-law", "4", "0"])
    assert result.exit_code == 1
    one_line_error(
        result, "--dilation-law 4 0 allows no dilation of 5 px or more at hole ratio 0.01 (4 + 0 x 0.01 = 4 px)"
    )
    result = runner.invoke(maskgen, base + ["--dilation-law", "47", "-80"])
    one_line_error(
        result, "--dilation-law 47 -80 allows no dilation of 5 px or more at hole ratio 0.6 (47 + -80 x 0.6 = -1 px)"
    )
