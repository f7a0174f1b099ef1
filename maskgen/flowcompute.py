"""Dense optical flow from videos or frame folders, and the flow-folder layout.

A flow folder holds one sub-folder per video; each frame pair (i, j), j > i, is stored as

    VIDEO/forward_I_J.EXT    flow from frame i to frame j
    VIDEO/backward_J_I.EXT   flow from frame j to frame i

with I and J the frame numbers (any zero padding) and EXT one of .flo, .png (KITTI), .pfm, .npy.
This is the naming of common public flow tools; `maskgen flow` writes it, `--flow-dir` reads it.
A folder of flow files with no sub-folders is read as one video named after the folder.
"""

import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from pconvkit.errors import UserError
from pconvkit.files import check_settings_file, ensure_writable_dir, source_identity
from pconvkit.images import IMAGE_SUFFIXES, checked_name, decode_file
from pconvkit.maskgen.flowio import FLOW_SUFFIXES, write_flow

FORWARD_NAME = re.compile(r"^forward_(\d+)_(\d+)$")
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
FLOW_METHODS = ("dis", "farneback", "auto")
# Farneback's pyr_scale, levels, winsize, iterations, poly_n and poly_sigma: OpenCV's sample values
# (no cheaper ones give the same masks: benchmarks/bench_maskgen.py --farneback)
FARNEBACK_PARAMETERS = (0.5, 3, 15, 3, 5, 1.2)
# `auto` chooses per shot from its camera's motion (`camera_motion`): Farneback where the camera
# moves, DIS where it stands still. The threshold lies between the shots measured (see the README):
# static and near-static cameras at most 0.0035 of the shorter side per frame, moving ones at least 0.0050.
MOVING_CAMERA = 0.004
CAMERA_SAMPLES = 12


@dataclass(frozen=True)
class FlowSettings:
    """Which frame pairs of a video get a flow, and how it is computed."""

    frame_gaps: tuple = (1,)  # pairs (i, i + gap) for each gap: more gaps, more distinct masks
    frame_stride: int = 1  # step between the first frames of pairs
    max_side: int | None = None  # frames scaled down to this longer side first
    # frames scaled down to this shorter side first: the test set's 512-px crops then take a raw mask
    # as its flow drew it, neither scaled up (thicker, merged outlines) nor down (HD clips' thin lines
    # shrunk); see the README's calibration
    short_side: int | None = 512
    method: str = "auto"  # OpenCV's DIS flow, 'farneback', or 'auto' (per shot, by its camera's motion)
    dis_preset: str = "medium"


@dataclass(frozen=True)
class FramePair:
    """One frame pair of a video in a flow folder: where its forward and backward flows are."""

    video: str
    first: int
    second: int
    forward: Path
    backward: Path


def list_flow_pairs(flow_dir) -> dict[str, list[FramePair]]:
    """All frame pairs of a flow folder, by video name, in frame order."""
    flow_dir = Path(flow_dir)
    if not flow_dir.is_dir():
        raise UserError(f"flow folder not found: {flow_dir}")
    folders = sorted(p for p in flow_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    videos = {}
    for folder in folders or [flow_dir]:
        pairs = _pairs_in(folder)
        if pairs:
            videos[folder.name] = pairs
    if not videos:
        raise UserError(f"no forward_I_J / backward_J_I flow files in {flow_dir} (see `maskgen build --help`)")
    return videos


def _pairs_in(folder: Path) -> list[FramePair]:
    pairs = []
    for path in sorted(folder.iterdir()):
        match = FORWARD_NAME.match(path.stem)
        if not match or path.suffix.lower() not in FLOW_SUFFIXES:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        candidates = [
            p
            for p in folder.glob(f"backward_*_*{path.suffix}")
            if re.fullmatch(rf"backward_0*{second}_0*{first}", p.stem)
        ]
        if not candidates:
            raise UserError(f"{path} has no backward flow backward_{second}_{first}{path.suffix}")
        pairs.append(FramePair(folder.name, first, second, path, candidates[0]))
    return sorted(pairs, key=lambda p: (p.first, p.second))


def frame_pairs(frame_count: int, frame_gaps=(1,), stride: int = 1) -> list[tuple[int, int]]:
    """Frame index pairs (i, i + gap) for each gap, with i stepping by `stride`."""
    return [(i, i + gap) for gap in frame_gaps for i in range(0, frame_count - gap, stride)]


def read_frames(
    source, max_side: int | None = None, minimum: int = 2, short_side: int | None = None
) -> list[np.ndarray]:
    """All frames of a video file or a folder of images, as grayscale uint8 arrays; fewer than
    `minimum` is a one-line error (none at all always is: unreadable).

    With max_side (short_side), frames are scaled down (INTER_AREA) so that their longer (shorter)
    side is at most that; never up.
    """
    source = Path(source)
    if source.is_dir():
        files = sorted(checked_name(p) for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        frames = [decode_file(p, cv2.IMREAD_GRAYSCALE, "frame") for p in files]
    else:
        if not checked_name(source).is_file():
            raise UserError(f"video not found: {source}")
        capture = cv2.VideoCapture(str(source))
        announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        capture.release()
        if announced and len(frames) < announced:
            # The stream ended early (a truncated or damaged file): the last frame decoded may be
            # the damaged one, half grey blocks, so it is not used either.
            frames = frames[:-1]
            tqdm.write(
                f"{source}: decoded {len(frames) + 1} of the {announced} frames the file announces; the stream ends "
                f"early (damaged or truncated), so the last decoded frame is dropped too: using {len(frames)}",
                file=sys.stderr,
            )
    if len(frames) < max(minimum, 1):
        raise UserError(
            f"cannot read {'two frames' if minimum > 1 else 'a frame'} from {source} (unreadable or not a video)"
        )
    if len({f.shape for f in frames}) != 1:
        raise UserError(f"frames of {source} differ in size")
    scale = min(
        max_side / max(frames[0].shape) if max_side else 1.0, short_side / min(frames[0].shape) if short_side else 1.0
    )
    if scale < 1:
        size = (round(frames[0].shape[1] * scale), round(frames[0].shape[0] * scale))
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def compute_flow(first: np.ndarray, second: np.ndarray, method: str = "dis", preset: str = "medium") -> np.ndarray:
    """Dense flow from `first` to `second` (grayscale uint8), float32 (H, W, 2) in pixels.

    method 'dis' is OpenCV's DIS optical flow (Kroeger et al. 2016) with the given preset;
    'farneback' is cv2.calcOpticalFlowFarneback with OpenCV's sample parameters.
    """
    if method == "dis":
        solver = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
        return solver.calc(first, second, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(first, second, None, *FARNEBACK_PARAMETERS, 0)
    raise UserError(f"unknown flow method {method!r} (dis or farneback)")


def camera_motion(frames, samples: int = CAMERA_SAMPLES) -> float:
    """How much the camera itself moves, as a share of the frame's shorter side per frame: over up to
    `samples` evenly spaced steps (i, i + 1), the median of each step's median flow magnitude (DIS,
    ultrafast). Where the camera stands still, the background's flow is zero and the median with it
    (what moves seldom covers half the frame); where it pans or walks, every pixel moves."""
    if len(frames) < 2:
        return 0.0
    steps = np.unique(np.linspace(0, len(frames) - 2, min(samples, len(frames) - 1)).astype(int))
    medians = [
        np.median(np.hypot(*compute_flow(frames[i], frames[i + 1], "dis", "ultrafast").transpose(2, 0, 1)))
        for i in steps
    ]
    return float(np.median(medians) / min(frames[0].shape))


def flow_method_for(method: str, motion: float) -> str:
    """The flow method for a clip: `method` itself, or for 'auto' the one its camera's motion
    (`camera_motion`) calls for."""
    if method != "auto":
        return method
    return "farneback" if motion > MOVING_CAMERA else "dis"


def source_name(source) -> str:
    """The video name of an input: a video file's stem or a frame folder's name."""
    return Path(source).stem if Path(source).is_file() else Path(source).name


def write_flow_folder(sources, out, suffix: str = "flo", settings: FlowSettings = FlowSettings()) -> Path:
    """Compute forward and backward flows of videos or frame folders into a flow folder (the layout
    of the module docstring) that `--flow-dir` reads. Pairs already written are kept (resumable)."""
    if not sources:
        raise UserError("give --video FILE or --frames DIR")
    names = [source_name(s) for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"two inputs share the video name {twice[0]!r}: their flows would be mixed in one folder")
    ensure_writable_dir(out)
    record = {
        "flow_settings": asdict(settings),
        "format": suffix,
        "inputs": {name: source_identity(source) for source, name in zip(sources, names)},
    }
    check_settings_file(Path(out) / "flow_settings.json", record, "flows", outputs="*/*ward_*")
    for source, name in zip(sources, names):
        images = read_frames(source, settings.max_side, short_side=settings.short_side)
        method = flow_method_for(settings.method, camera_motion(images) if settings.method == "auto" else 0.0)
        folder = Path(out) / name
        for i, j in tqdm(frame_pairs(len(images), settings.frame_gaps, settings.frame_stride), desc=name, unit="pair"):
            if not (folder / f"backward_{j:06d}_{i:06d}.{suffix}").exists():
                write_flow(
                    folder / f"forward_{i:06d}_{j:06d}.{suffix}",
                    compute_flow(images[i], images[j], method, settings.dis_preset),
                )
                write_flow(
                    folder / f"backward_{j:06d}_{i:06d}.{suffix}",
                    compute_flow(images[j], images[i], method, settings.dis_preset),
                )
    return Path(out)
