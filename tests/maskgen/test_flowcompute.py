"""Flow computed from a video or frames: a folder `--flow-dir` reads back, other settings never mixed
in, a damaged video named with what it gave."""

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import one_error_line, write_clip

from pconvkit.cli import maskgen
from pconvkit.files import write_png_atomic

runner = CliRunner()


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


def test_frames_are_scaled_down_to_the_shorter_or_longer_side_and_never_up(tmp_path):
    from pconvkit.maskgen.flowcompute import read_frames

    for index in range(2):
        write_png_atomic(tmp_path / "clip" / f"{index}.png", np.full((360, 640), 50 + index, np.uint8))
    assert read_frames(tmp_path / "clip")[0].shape == (360, 640)
    assert read_frames(tmp_path / "clip", short_side=180)[0].shape == (180, 320)
    assert read_frames(tmp_path / "clip", short_side=512)[0].shape == (360, 640)  # never up
    assert read_frames(tmp_path / "clip", max_side=320, short_side=300)[0].shape == (180, 320)  # the smaller scale
    assert read_frames(tmp_path / "clip", max_side=600, short_side=90)[0].shape == (90, 160)


def test_auto_takes_farneback_for_a_panning_camera_and_dis_for_a_standing_one():
    from skimage import data

    from pconvkit.maskgen.flowcompute import MOVING_CAMERA, camera_motion, flow_method_for

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    panning = [photo[100:340, 20 + 3 * t : 340 + 3 * t].copy() for t in range(30)]  # 3 px a frame, 240 px high
    standing = []
    for t in range(30):  # the same view, a patch of another photo moving across it
        frame = photo[100:340, 20:340].copy()
        frame[40:90, 10 + 6 * t : 60 + 6 * t] = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY)[100:150, 100:150]
        standing.append(frame)
    assert camera_motion(panning) == pytest.approx(3 / 240, rel=0.2)  # the pan's speed, per shorter side
    assert camera_motion(standing) < MOVING_CAMERA / 10
    assert flow_method_for("auto", camera_motion(panning)) == "farneback"
    assert flow_method_for("auto", camera_motion(standing)) == "dis"
    assert flow_method_for("dis", 1.0) == "dis" and camera_motion(panning[:1]) == 0.0
