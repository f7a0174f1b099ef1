"""Hostile input: every mistake ends in one `Error:` line and a non-zero exit, or gives the right
result; nothing half-written is left behind; a dead worker ends the run instead of hanging it."""

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import run_arguments

from pconvkit.cli import benchmark, pconv
from pconvkit.errors import UserError
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png, read_image, read_mask

runner = CliRunner()
HOLE = (slice(8, 24), slice(8, 40))


def valid_mask(shape=(64, 64)):
    valid = np.ones(shape, np.uint8)
    valid[HOLE] = 0
    return valid


def run_args(tmp_path, methods="mean", out="out"):
    """`benchmark run` on TMP/images x TMP/masks at 64 px into TMP/OUT."""
    return run_arguments(tmp_path, methods, out)


def inpaint_args(image, mask, out, *extra):
    return ["inpaint", str(image), str(mask), "-o", str(out), *extra]


def one_error_line(result):
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


# 1. one rule for reading a mask ------------------------------------------------------------------


@pytest.mark.parametrize(
    "values,dtype",
    [((0, 1), np.uint8), ((0, 255), np.uint8), ((0, 1), np.uint16), ((0, 255), np.uint16), ((0, 65535), np.uint16)],
)
def test_binary_masks_in_their_own_range_are_read_as_they_mean(tmp_path, values, dtype):
    valid = valid_mask()
    cv2.imwrite(str(tmp_path / "m.png"), np.where(valid == 1, values[1], values[0]).astype(dtype))
    assert np.array_equal(read_mask(tmp_path / "m.png"), valid)
    assert np.array_equal(read_mask(tmp_path / "m.png", hole_white=True), 1 - valid)


def test_float_mask_and_single_value_masks(tmp_path):
    valid = valid_mask()
    cv2.imwrite(str(tmp_path / "m.tiff"), valid.astype(np.float32))
    assert np.array_equal(read_mask(tmp_path / "m.tiff"), valid)
    for value, expected in ((0, 0), (1, 1), (255, 1)):
        cv2.imwrite(str(tmp_path / "flat.png"), np.full((8, 8), value, np.uint8))
        assert (read_mask(tmp_path / "flat.png") == expected).all()


@pytest.mark.parametrize("kind", ["gradient", "two_greys", "jpeg_noise", "colour", "alpha_holes"])
def test_masks_that_are_not_binary_are_refused_with_what_was_found(tmp_path, kind):
    valid = valid_mask()
    path = tmp_path / "m.png"
    if kind == "gradient":
        cv2.imwrite(str(path), np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)))
    elif kind == "two_greys":
        cv2.imwrite(str(path), np.where(valid == 1, 200, 100).astype(np.uint8))
    elif kind == "jpeg_noise":
        path = tmp_path / "m.jpg"
        disc = cv2.circle(np.full((64, 64), 255, np.uint8), (30, 30), 13, 0, -1)  # curved edges ring in JPEG
        cv2.imwrite(str(path), disc, [cv2.IMWRITE_JPEG_QUALITY, 60])
    elif kind == "colour":
        colour = np.dstack([mask_to_png(valid)] * 3)
        colour[..., 0] = 0
        cv2.imwrite(str(path), colour)
    else:  # white everywhere, the holes only in the alpha channel
        cv2.imwrite(str(path), np.dstack([np.full((64, 64), 255, np.uint8)] * 3 + [mask_to_png(valid)]))
    with pytest.raises(UserError, match="not binary|colour|alpha"):
        read_mask(path)


def test_an_explicit_threshold_binarises(tmp_path):
    cv2.imwrite(str(tmp_path / "m.png"), np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)))
    white = read_mask(tmp_path / "m.png", threshold=0.5)
    assert white[0, 31] == 0 and white[0, 32] == 1  # 128 / 255 >= 0.5


def test_pconv_inpaint_refuses_a_grey_mask_in_one_line(tmp_path):
    write_image(tmp_path / "photo.png", np.random.default_rng(0).random((64, 64, 3)))
    cv2.imwrite(str(tmp_path / "m.png"), np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)))
    out = tmp_path / "out.png"
    line = one_error_line(
        runner.invoke(
            pconv,
            inpaint_args(str(tmp_path / "photo.png"), str(tmp_path / "m.png"), str(out), "--engine", "torch"),
        )
    )
    assert "--mask-threshold" in line and not out.exists()


# 2. polarity ----------------------------------------------------------------------------------------


def test_an_inverted_single_mask_names_hole_white(tmp_path):
    write_image(tmp_path / "photo.png", np.random.default_rng(0).random((64, 64, 3)))
    write_png_atomic(tmp_path / "m.png", mask_to_png(valid_mask(), hole_white=True))  # white = hole
    args = ["inpaint", str(tmp_path / "photo.png"), str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png")]
    assert "--hole-white" in one_error_line(runner.invoke(pconv, args + ["--engine", "torch"]))
    assert not (tmp_path / "o.png").exists()


def test_an_inverted_mask_folder_is_stopped_before_anything_runs(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(6):
        valid = np.ones((64, 64), np.uint8)
        valid[10 : 20 + 4 * i, 10:40] = 0
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid, hole_white=True))
    write_image(tmp_path / "images" / "a.png", rng.random((64, 64, 3)))
    args = run_args(tmp_path, "mean", "out")
    assert "--hole-white" in one_error_line(runner.invoke(benchmark, args))
    assert not (tmp_path / "out" / "results.csv").exists()
    result = runner.invoke(benchmark, args + ["--hole-white"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(benchmark, args[:-2] + ["--out", str(tmp_path / "out2"), "--mostly-hole"])
    assert "no mask matches" in one_error_line(result)  # accepted as mostly hole, but then no mask is in a bin


# 3. images --------------------------------------------------------------------------------------------


def test_float_16_bit_and_grey_images_are_read_in_zero_one(tmp_path):
    rgb = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    cv2.imwrite(str(tmp_path / "f.tiff"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert np.allclose(read_image(tmp_path / "f.tiff"), rgb)
    cv2.imwrite(str(tmp_path / "w.png"), (cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) * 65535).astype(np.uint16))
    assert np.allclose(read_image(tmp_path / "w.png"), rgb, atol=1e-4)
    cv2.imwrite(str(tmp_path / "big.tiff"), rgb * 255)
    with pytest.raises(UserError, match=r"must lie in \[0, 1\]"):
        read_image(tmp_path / "big.tiff")


# 4. results.csv ----------------------------------------------------------------------------------------


def test_a_method_named_twice_runs_once(tmp_path):
    rng = np.random.default_rng(2)
    write_image(tmp_path / "images" / "a.png", rng.random((64, 64, 3)))
    write_png_atomic(tmp_path / "masks" / "m.png", mask_to_png(valid_mask()))
    result = runner.invoke(benchmark, run_args(tmp_path, "telea,telea", "r"))
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "r" / "results.csv").read_text().splitlines()) == 2


# 9. options ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", [["--bins", ","], ["--bins", "0.3-0.35"], ["--split", "X"]])
def test_names_are_checked_before_any_folder_is_read(tmp_path, option):
    result = runner.invoke(benchmark, ["run", "--methods", "mean", "--masks", str(tmp_path / "missing")] + option)
    line = one_error_line(result)
    assert "--bins" in line or "--split" in line


# 11. permissions ------------------------------------------------------------------------------------------


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_png_atomic(tmp_path / "m.png", mask_to_png(valid_mask()))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.png").stat().st_mode) == 0o644


# 12. training masks ----------------------------------------------------------------------------------------


def test_training_masks_from_small_sparse_holes_are_never_all_hole():
    from pconvkit.maskgen.augment import AugmentedMasks

    raw = np.ones((1500, 2000), np.uint8)
    raw[20:26, 30:36] = 0
    raw[1400:1404, 1900:1904] = 0
    masks = AugmentedMasks([raw], 512, seed=0)
    ratios = [float((masks[i] == 0).mean()) for i in range(40)]
    assert max(ratios) < 0.05 and min(ratios) == 0.0  # crops far from both holes hold no hole at all


# 5. a dead worker --------------------------------------------------------------------------------------------


def test_a_killed_benchmark_worker_ends_the_run_with_an_error(tmp_path):
    (tmp_path / "killer.py").write_text(
        "import multiprocessing, os, signal\n"
        "def inpaint(image, mask):\n"
        "    if multiprocessing.parent_process() is not None:  # in a worker: die as the OOM killer does\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return image\n"
    )
    rng = np.random.default_rng(3)
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    command = [
        str(Path(sys.executable).with_name("benchmark")),
        "run",
        "--methods",
        "killer:inpaint",
        "--workers",
        "2",
        "--images",
        "images",
        "--masks",
        "masks",
        "--size",
        "64",
        "--out",
        "results",
    ]
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "worker process of method killer:inpaint died" in done.stderr.splitlines()[-1]


def test_a_killed_mask_builder_ends_the_build_with_an_error(tmp_path, monkeypatch):
    import multiprocessing

    import pconvkit.maskgen.build as build

    def die_in_worker(*args, **kwargs):
        if multiprocessing.parent_process() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("the parent must not run cell jobs")

    monkeypatch.setattr(build, "sample_cell_mask", die_in_worker)
    valid = np.ones((300, 300), np.uint8)
    valid[100:130, 100:160] = 0
    write_png_atomic(tmp_path / "raw" / "test" / "v" / "000000_000001.png", mask_to_png(valid))
    rows = [dict(raw_id="v/000000_000001", video="v", first="0", second="1")]
    signal.alarm(120)  # a hang fails the test instead of the suite
    try:
        with pytest.raises(UserError, match="worker process of maskgen build died"):
            build.build_test_set(tmp_path, rows, build.BenchmarkSettings(per_bin=2, size=256, chunk=1), workers=2)
    finally:
        signal.alarm(0)


def _opencv_threads_and_set_one(_):
    inherited = cv2.getNumThreads()
    cv2.setNumThreads(1)  # maskgen's flow workers did this first; it waited forever in a child forked
    return inherited  # while the parent's OpenCV pool had threads


def test_workers_start_with_one_opencv_thread_and_the_parent_keeps_its_own():
    from pconvkit.workers import process_pool

    cv2.setNumThreads(2)
    cv2.GaussianBlur(np.ones((1500, 1500), np.float32), (15, 15), 3)  # the parent's pool now has threads
    signal.alarm(120)
    try:
        with process_pool(2, "a test") as pool:
            inherited = list(pool.map(_opencv_threads_and_set_one, range(4)))
    finally:
        signal.alarm(0)
    assert inherited == [1, 1, 1, 1]  # the children have no thread count to change, so none to wait for
    assert cv2.getNumThreads() == 2


def test_a_row_torn_inside_its_last_field_is_computed_again_not_lost(tmp_path):
    rng = np.random.default_rng(4)
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    args = run_args(tmp_path, "mean", "r")
    assert runner.invoke(benchmark, args).exit_code == 0
    results = tmp_path / "r" / "results.csv"
    whole = results.read_bytes()
    results.write_bytes(whole[:-3])  # 'cpu\n' torn to 'c': the row looks complete but for its last field
    assert runner.invoke(benchmark, args).exit_code == 0

    def without_seconds(text):
        header = text.splitlines()[0].split(",")
        return [[v for k, v in zip(header, line.split(",")) if k != "seconds"] for line in text.splitlines()]

    # the torn row was dropped and computed again, once (its time differs, nothing else)
    assert without_seconds(results.read_text()) == without_seconds(whole.decode())


def test_rows_of_other_masks_under_the_same_ids_are_refused_not_reused(tmp_path):
    rng = np.random.default_rng(5)
    write_image(tmp_path / "images" / "a.png", rng.random((64, 64, 3)))
    for i in range(3):
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    assert runner.invoke(benchmark, run_args(tmp_path)).exit_code == 0
    before = (tmp_path / "out" / "results.csv").read_bytes()
    other = valid_mask()
    other[30:50, 30:50] = 0  # the same file name, other holes (a rebuild with another seed)
    write_png_atomic(tmp_path / "masks" / "1.png", mask_to_png(other))
    line = one_error_line(runner.invoke(benchmark, run_args(tmp_path)))
    assert "mask hash" in line and "new --out" in line
    assert (tmp_path / "out" / "results.csv").read_bytes() == before
    from pconvkit.benchmark.data import MaskEntry, mask_identity

    read_as = [MaskEntry("1", tmp_path / "masks" / "1.png", "N", "0.1-0.2", white) for white in (False, True)]
    assert mask_identity(read_as[0]) != mask_identity(read_as[1])  # the same file read with the other polarity


@pytest.mark.slow
def test_a_second_run_on_the_same_results_folder_is_refused_while_the_first_runs(tmp_path):
    (tmp_path / "slow.py").write_text("import time\ndef inpaint(image, mask):\n    time.sleep(0.5)\n    return image\n")
    rng = np.random.default_rng(6)
    for i in range(4):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    command = [str(Path(sys.executable).with_name("benchmark")), *run_args(tmp_path, "slow:inpaint")]
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "out" / "results.csv.lock"
    for _ in range(200):  # until the first run holds the lock
        if (tmp_path / "out" / "results.csv").exists():
            break
        subprocess.run(["sleep", "0.05"])
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode != 0
    assert "in use by another benchmark run" in second.stderr.splitlines()[-1] and lock.exists()
    lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(lines) == 5 and len(set(lines)) == 5  # the header and each pair once, no fragments
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr  # free again afterwards (and nothing left to do)


def test_a_results_file_of_an_older_version_is_named_as_such(tmp_path):
    (tmp_path / "results.csv").write_text("method,mask,image,category,bin,l1,psnr,ssim,seconds,device\n")
    line = one_error_line(runner.invoke(benchmark, ["table", str(tmp_path)]))
    assert "results format 0 (pconvkit before 0.2.0)" in line


# 6. stale outputs ----------------------------------------------------------------------------------------------


def write_clip(folder, frames=4):
    from helpers import textured

    background = (textured((64, 96), seed=1) * 255).astype(np.uint8)
    for t in range(frames):
        frame = background.copy()
        frame[20:40, 10 + 5 * t : 30 + 5 * t] = 255 - background[20:40, 10:30]
        write_png_atomic(folder / f"{t}.png", frame)


def test_flows_of_other_settings_or_inputs_are_not_mixed_into_a_flow_folder(tmp_path):
    from pconvkit.cli import maskgen

    write_clip(tmp_path / "a" / "clip")
    write_clip(tmp_path / "b" / "clip", frames=3)
    flow = ["flow", "--frames", str(tmp_path / "a" / "clip"), "--out", str(tmp_path / "flows")]
    assert runner.invoke(maskgen, flow).exit_code == 0
    written = sorted(p.name for p in (tmp_path / "flows" / "clip").iterdir())
    assert "max_side" in one_error_line(runner.invoke(maskgen, flow + ["--max-side", "48"]))
    line = one_error_line(
        runner.invoke(maskgen, ["flow", "--frames", str(tmp_path / "b" / "clip"), "--out", str(tmp_path / "flows")])
    )
    assert "inputs" in line
    assert sorted(p.name for p in (tmp_path / "flows" / "clip").iterdir()) == written
    both = ["flow", "--frames", str(tmp_path / "a" / "clip"), "--frames", str(tmp_path / "b" / "clip")]
    assert "share the video name 'clip'" in one_error_line(
        runner.invoke(maskgen, both + ["--out", str(tmp_path / "x")])
    )
    assert runner.invoke(maskgen, flow).exit_code == 0  # the same command again: resumed, nothing new


def test_raw_pools_of_other_settings_are_not_reused(tmp_path):
    from helpers import write_square_flows

    from pconvkit.maskgen.pool import RawMaskSettings, build_raw_pools, videos_from_inputs

    write_square_flows(tmp_path / "flows", "alpha", [(0, 1), (10, 11)])
    write_square_flows(tmp_path / "flows", "beta", [(0, 1), (12, 13)])
    videos = videos_from_inputs(flow_dir=tmp_path / "flows")
    settings = RawMaskSettings(min_component_area=8, duplicate_iou=0.99)
    build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["beta"], settings=settings)
    with pytest.raises(UserError, match="raw_mask_settings"):
        build_raw_pools(
            videos,
            tmp_path / "out",
            0,
            0,
            test_videos=["beta"],
            settings=RawMaskSettings(min_component_area=16, duplicate_iou=0.99),
        )
    with pytest.raises(UserError, match="splits"):
        build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["alpha"], settings=settings)
    assert build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["beta"], settings=settings)["test"]


# 8. no traceback for a user's mistake ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,message",
    [
        ("raise ValueError('no GPU here')", "failed on mask .* ValueError: no GPU here"),
        ("return image[:10]", "returned an array of shape"),
        ("return (image * 255).astype('uint8')", "returned an array of shape .* type uint8"),
        ("return image * 0 + 128.0", "not 0-255"),  # a grey fill in 0-255 units
        ("return image * float('nan')", "NaN"),
    ],
)
def test_a_plugin_that_fails_is_named_with_its_pair_and_the_rows_before_are_kept(tmp_path, body, message, monkeypatch):
    module = f"plugin_{len(body)}_{body.count('*')}"  # one module per case: imports are cached
    (tmp_path / f"{module}.py").write_text(
        f"calls = []\ndef inpaint(image, mask):\n    calls.append(1)\n    if len(calls) < 3:\n        return image\n"
        f"    {body}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(7)
    for i in range(4):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    line = one_error_line(runner.invoke(benchmark, run_args(tmp_path, f"{module}:inpaint")))
    assert re.search(message, line) and f"{module}:inpaint" in line
    assert len((tmp_path / "out" / "results.csv").read_text().splitlines()) == 3  # header and the two rows before


@pytest.mark.parametrize(
    "name,content",
    [
        ("forward_0_1.npy", "strings"),
        ("forward_0_1.npy", "empty"),
        ("forward_0_1.pfm", b"PF\n-4 3\n-1.0\n" + b"\0" * 48),
        ("forward_0_1.pfm", b"PF\n4 3\n-1.0\n"),
        ("forward_0_1.flo", b"PIEH" + b"\0" * 4),
    ],
)
def test_malformed_flow_files_end_in_one_line(tmp_path, name, content):
    from pconvkit.cli import maskgen

    folder = tmp_path / "flows" / "v"
    folder.mkdir(parents=True)
    if content == "strings":
        np.save(folder / name, np.full((4, 4, 2), "x"))
    elif content == "empty":
        np.save(folder / name, np.zeros((0, 0, 2), np.float32))
    else:
        (folder / name).write_bytes(content)
    backward = folder / name.replace("forward_0_1", "backward_1_0")
    backward.write_bytes((folder / name).read_bytes())
    one_error_line(
        runner.invoke(maskgen, ["build", "--flow-dir", str(tmp_path / "flows"), "--out", str(tmp_path / "o")])
    )


@pytest.mark.parametrize("damage", ["letters", "nul", "short"])
def test_a_damaged_results_file_is_named_with_its_line(tmp_path, damage):
    rng = np.random.default_rng(8)
    for i in range(2):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    assert runner.invoke(benchmark, run_args(tmp_path)).exit_code == 0
    results = tmp_path / "out" / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    fields = lines[1].split(",")
    if damage == "letters":
        fields[8] = "abc"
    elif damage == "nul":
        fields[8] = "1\0"
    else:
        fields = fields[:5]
    lines[1] = ",".join(fields) + ("" if fields[-1].endswith("\n") else "\n")
    results.write_text("".join(lines))
    for command in (["table", str(tmp_path / "out")], ["timing", str(tmp_path / "out")]):
        assert "line 2" in one_error_line(runner.invoke(benchmark, command))


@pytest.mark.slow
def test_jobs_that_cannot_fit_in_memory_are_refused_before_they_start(tmp_path, monkeypatch):
    import pconvkit.memory
    from pconvkit.cli import maskgen

    monkeypatch.setattr(pconvkit.memory, "available_bytes", lambda: 2**30)  # 1 GiB free
    write_clip(tmp_path / "clip")
    line = one_error_line(
        runner.invoke(
            maskgen,
            [
                "build",
                "--frames",
                str(tmp_path / "clip"),
                "--size",
                "100000",
                "--border-margin",
                "10",
                "--out",
                str(tmp_path / "o"),
            ],
        )
    )
    assert "GiB" in line and not (tmp_path / "o" / "raw").exists()
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((1600, 1600, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "big_mask.png"), cv2.circle(np.full((1600, 1600), 255, np.uint8), (800, 800), 90, 0, -1))
    for engine in ("onnx", "torch"):
        out = tmp_path / f"{engine}.png"
        line = one_error_line(
            runner.invoke(
                pconv,
                inpaint_args(str(tmp_path / "big.png"), str(tmp_path / "big_mask.png"), str(out), "--engine", engine),
            )
        )
        assert "1600x1600" in line and "GiB" in line and not out.exists()


# 10. damaged videos ---------------------------------------------------------------------------------------------


def test_a_truncated_video_says_how_many_frames_it_gave_and_drops_the_damaged_one(tmp_path, capsys):
    from pconvkit.maskgen.flowcompute import read_frames

    writer = cv2.VideoWriter(str(tmp_path / "v.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    rng = np.random.default_rng(0)
    for _ in range(30):
        writer.write((rng.random((64, 96, 3)) * 255).astype(np.uint8))
    writer.release()
    assert len(read_frames(tmp_path / "v.avi")) == 30
    data = (tmp_path / "v.avi").read_bytes()
    (tmp_path / "t.avi").write_bytes(data[: int(len(data) * 0.55)])
    frames = read_frames(tmp_path / "t.avi")
    message = capsys.readouterr().err
    assert "of the 30 frames" in message and f"using {len(frames)}" in message and 2 <= len(frames) < 29


# 7. checkpoints ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_damaged_checkpoints_and_partial_conversions_end_in_one_line(tmp_path):
    import torch

    from pconvkit.models.checkpoint import save_checkpoint
    from pconvkit.models.unet import PConvUNet, UNetConfig

    save_checkpoint(tmp_path / "good.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
    payload = torch.load(tmp_path / "good.pt", weights_only=True)
    payload["model"] = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in payload["model"].items()
    }
    torch.save(payload, tmp_path / "nan.pt")
    write_image(tmp_path / "photo.png", np.random.default_rng(0).random((64, 64, 3)))
    write_png_atomic(tmp_path / "m.png", mask_to_png(valid_mask()))
    for engine in ("torch", "onnx"):
        out = tmp_path / f"{engine}.png"
        line = one_error_line(
            runner.invoke(
                pconv,
                inpaint_args(
                    str(tmp_path / "photo.png"),
                    str(tmp_path / "m.png"),
                    str(out),
                    "--checkpoint",
                    str(tmp_path / "nan.pt"),
                    "--engine",
                    engine,
                ),
            )
        )
        assert "NaN" in line and not out.exists()
    torch.save({"model": {"enc_1.conv.input_conv.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "naoto.pth")
    line = one_error_line(runner.invoke(pconv, ["convert", str(tmp_path / "naoto.pth"), str(tmp_path / "c.pt")]))
    assert "--allow-partial" in line and not (tmp_path / "c.pt").exists()
    result = runner.invoke(pconv, ["convert", str(tmp_path / "naoto.pth"), str(tmp_path / "c.pt"), "--allow-partial"])
    assert result.exit_code == 0 and (tmp_path / "c.pt").exists()


@pytest.fixture(autouse=True)
def nothing_half_written(tmp_path):
    """After every test of this module: no temporary file of an interrupted or refused write is left."""
    yield
    leftovers = [p for p in tmp_path.rglob(".*.part*")]
    assert not leftovers, leftovers
