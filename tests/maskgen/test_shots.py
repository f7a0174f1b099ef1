"""Frame pairs that are not one view: a cut between the pans of two unrelated photos found at its
frame, fades, blank and frozen frames skipped and counted, a clip shorter than one pair skipped with
a line, and the build's record of it all."""

import json

import cv2
import numpy as np
import pytest
from skimage import data

from pconvkit.files import write_png_atomic
from pconvkit.maskgen.flowcompute import FlowSettings, frame_pairs
from pconvkit.maskgen.pool import RawMaskSettings, build_raw_pools, videos_from_inputs
from pconvkit.maskgen.shots import ShotSettings, screen_pairs, transition_kinds

CUT_AT = 9  # the last frame of the first shot


def pan(photo: np.ndarray, frames: int, step: int = 4, size=(120, 160)) -> list[np.ndarray]:
    """A camera panning right over a photo: grey frames of `size`, `step` px apart."""
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    return [grey[40 : 40 + size[0], 20 + step * t : 20 + step * t + size[1]].copy() for t in range(frames)]


@pytest.fixture(scope="module")
def two_shots():
    """A pan over the astronaut, cut to a pan over the coffee cup after frame CUT_AT."""
    return pan(data.astronaut(), CUT_AT + 1) + pan(data.coffee(), 10)


def test_the_cut_between_two_photos_pans_is_found_at_its_frame(two_shots):
    blank, kinds = transition_kinds(two_shots)
    assert not any(blank)
    assert [i for i, kind in enumerate(kinds) if kind] == [CUT_AT] and kinds[CUT_AT] == "cut"
    for gaps in ((1,), (1, 3), (5,)):
        pairs = frame_pairs(len(two_shots), gaps)
        kept, skipped = screen_pairs(two_shots, pairs)
        across = [(i, j) for i, j in pairs if i <= CUT_AT < j]  # every pair that spans the cut, none else
        assert skipped == {"cut": len(across)} and kept == [p for p in pairs if p not in across]


def test_a_fade_to_black_is_skipped_and_its_black_frame_called_blank(two_shots):
    shot = two_shots[: CUT_AT + 1]
    fading = [np.clip(shot[-1] * gain, 0, 255).astype(np.uint8) for gain in (0.75, 0.5, 0.3, 0.15, 0.0)]
    frames = shot + fading
    blank, kinds = transition_kinds(frames)
    assert blank == [False] * (len(frames) - 1) + [True]
    assert kinds[:CUT_AT] == [""] * CUT_AT and set(kinds[CUT_AT:-1]) == {"fade"}
    kept, skipped = screen_pairs(frames, frame_pairs(len(frames)))
    assert kept == frame_pairs(CUT_AT + 1) and skipped == {"fade": 4, "blank": 1}


def test_a_repeated_frame_is_frozen_and_the_thresholds_turn_off(two_shots):
    frames = two_shots[:4] + [two_shots[3].copy()] + two_shots[4:8]
    kept, skipped = screen_pairs(frames, frame_pairs(len(frames)))
    assert skipped == {"frozen": 1} and (3, 4) not in kept
    off = ShotSettings(cut_correlation=0, fade_contrast=0, blank_std=0, frozen_difference=0)
    assert screen_pairs(two_shots, frame_pairs(len(two_shots)), off) == (frame_pairs(len(two_shots)), {})


def test_the_build_skips_and_counts_them_and_a_one_frame_clip_is_named(tmp_path, two_shots):
    for index, frame in enumerate(two_shots):
        write_png_atomic(tmp_path / "frames" / "cutclip" / f"{index:03d}.png", frame)
    write_png_atomic(tmp_path / "frames" / "still" / "000.png", two_shots[0])
    videos = videos_from_inputs(frames=[tmp_path / "frames" / "cutclip", tmp_path / "frames" / "still"])
    settings = RawMaskSettings(min_hole_ratio=0.0, duplicate_iou=1.0, flow=FlowSettings(frame_gaps=(1, 2)))
    lines = []
    pools = build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["still"], settings=settings, log=lines.append)
    assert "cutclip: 3 of 37 frame pairs skipped (3 across a cut)" in lines
    assert "still: too short for one frame pair at these --frame-gaps: no mask from it" in lines
    spans = {(int(r["first"]), int(r["second"])) for r in pools["train"]}
    # (8, 10), (9, 10) and (9, 11) skipped, every other pair a mask
    assert not any(first <= CUT_AT < second for first, second in spans) and len(spans) == 34
    record = json.loads((tmp_path / "out" / "raw" / "train" / "cutclip" / "skipped.json").read_text())
    counts = dict(video="cutclip", pairs=37, cut=3, fade=0, blank=0, frozen=0, too_short=0)
    counts["flow_method"] = "farneback;farneback"  # two pans: a moving camera in both shots
    motions = [float(m) for m in record.pop("camera_motion").split(";")]
    assert record == counts | dict(shots=2) and motions == pytest.approx([4 / 120] * 2, rel=0.01)  # 4 px a frame
    table = (tmp_path / "out" / "raw" / "test" / "skipped.csv").read_text().splitlines()
    assert table == [
        "video,pairs,cut,fade,blank,frozen,too_short,shots,camera_motion,flow_method",
        "still,0,0,0,0,0,1,1,0.00000,dis",
    ]
    assert pools["test"] == []
    resumed = build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["still"], settings=settings, log=print)
    assert [r["raw_id"] for r in resumed["train"]] == [r["raw_id"] for r in pools["train"]]


def test_auto_chooses_the_flow_shot_by_shot(tmp_path, two_shots):
    """A standing camera on the astronaut, then a cut to a pan over the coffee cup: DIS for the first
    shot, Farneback for the second, each pair computed with its own shot's method."""
    standing = [two_shots[0].copy() for _ in range(CUT_AT + 1)]
    for t, frame in enumerate(standing):  # something moves in front of the standing camera
        frame[30:60, 10 + 5 * t : 40 + 5 * t] = 255 - frame[30:60, 10 + 5 * t : 40 + 5 * t]
    for index, frame in enumerate(standing + two_shots[CUT_AT + 1 :]):
        write_png_atomic(tmp_path / "frames" / "clip" / f"{index:03d}.png", frame)
    videos = videos_from_inputs(frames=[tmp_path / "frames" / "clip"])
    settings = RawMaskSettings(min_hole_ratio=0.0, duplicate_iou=1.0, flow=FlowSettings(method="auto"))
    lines = []
    build_raw_pools(videos, tmp_path / "out", 0, 0, settings=settings, log=lines.append)
    record = json.loads((tmp_path / "out" / "raw" / "train" / "clip" / "skipped.json").read_text())
    assert record["shots"] == 2 and record["flow_method"] == "dis;farneback" and record["cut"] == 1
    assert "clip: the camera moves in 1 of 2 shots: Farneback flow there" in lines
