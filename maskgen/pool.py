"""Raw mask pools: one mask per frame pair, each video wholly in the training or the testing split.

On disk (under OUT/raw/SPLIT/):

    VIDEO/FIRST_SECOND.png   a raw mask, 8-bit, white = valid (the paper's M)
    VIDEO/skipped.json       its frame pairs, those skipped as not one view (`shots`), its shots'
                             camera motion and flow method
    VIDEO/index.csv          written last: the video's kept masks (its presence marks it done)
    pool.csv                 the masks of the pool, in order: the first COUNT of all videos
    skipped.csv              per video: frame pairs, and those skipped by reason
"""

import contextlib
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pconvkit.errors import UserError
from pconvkit.files import (
    check_settings_file,
    csv_text,
    read_csv_rows,
    source_identity,
    write_png_atomic,
    write_text_atomic,
)
from pconvkit.images import mask_to_png, read_mask
from pconvkit.maskgen.bins import hole_ratio
from pconvkit.maskgen.flowcompute import (
    FlowSettings,
    camera_motion,
    compute_flow,
    flow_method_for,
    frame_pairs,
    list_flow_pairs,
    read_frames,
)
from pconvkit.maskgen.flowio import read_flow
from pconvkit.maskgen.occlusion import CLOSE_SIZE, MIN_AREA, OPEN_SIZE, ConsistencyThresholds, raw_mask_from_flows
from pconvkit.maskgen.shots import SKIP_REASONS, ShotSettings, screen_pairs, shot_spans, transition_kinds
from pconvkit.workers import process_pool

PAPER_TRAIN_COUNT = 55_116
PAPER_TEST_COUNT = 24_866
INDEX_FIELDS = ("raw_id", "video", "first", "second", "hole_ratio", "height", "width")
SKIPPED_FIELDS = ("video", "pairs", *SKIP_REASONS, "too_short", "shots", "camera_motion", "flow_method")


@dataclass(frozen=True)
class RawMaskSettings:
    """How frame pairs become raw masks, and which raw masks are kept."""

    thresholds: ConsistencyThresholds = ConsistencyThresholds()
    # Clean-up sized to the frame (maskgen.occlusion's defaults): hole components under
    # min_component_area pixels per 512 x 512 px of frame are dropped (10 at 512 x 512, 17 at 768 x 576)
    min_component_area: int = MIN_AREA
    close_size: int = CLOSE_SIZE
    open_size: int = OPEN_SIZE
    min_hole_ratio: float = 0.005  # near-empty masks are dropped
    max_hole_ratio: float = 0.9  # near-full ones too (scene cuts, failed flow)
    duplicate_iou: float = 0.9  # a mask this close to the last kept one of its video is dropped
    flow: FlowSettings = FlowSettings()
    shots: ShotSettings = ShotSettings()  # pairs across cuts, in fades, blank or frozen are skipped


@dataclass
class Video:
    """A source of frame pairs: a video file, a folder of frames, or a flow sub-folder."""

    name: str
    path: Path
    kind: str  # 'video', 'frames' or 'flows'
    pairs: list = field(default_factory=list)  # FramePair list for kind 'flows'


def videos_from_inputs(videos=(), frames=(), flow_dir=None) -> list[Video]:
    found = []
    for path in videos:
        found.append(Video(Path(path).stem, Path(path), "video"))
    for path in frames:
        found.append(Video(Path(path).name, Path(path), "frames"))
    if flow_dir is not None:
        for name, pairs in list_flow_pairs(flow_dir).items():
            found.append(Video(name, Path(flow_dir) / name, "flows", pairs))
    names = [v.name for v in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"two inputs share the video name {duplicates[0]!r}: rename one")
    return sorted(found, key=lambda v: v.name)


def assign_splits(names, test_videos=None, test_fraction=PAPER_TEST_COUNT / (PAPER_TRAIN_COUNT + PAPER_TEST_COUNT)):
    """{video name: 'train' | 'test'}. Each video goes wholly to one split, so no scene is in both.

    Named `test_videos` go to test and the rest to train; otherwise the videos are ordered by a
    hash of their name and the first round(n * test_fraction) (at least one of two or more) are test.
    """
    names = sorted(names)
    if test_videos:
        unknown = sorted(set(test_videos) - set(names))
        if unknown:
            raise UserError(f"--test-videos names {unknown[0]!r}, which is not an input video ({', '.join(names)})")
        return {n: "test" if n in test_videos else "train" for n in names}
    ranked = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
    test_count = max(1 if len(names) > 1 else 0, round(len(names) * test_fraction))
    return {n: "test" if n in ranked[:test_count] else "train" for n in names}


def _mask_from_frames(job):
    first, second, settings = job  # in a worker process OpenCV has one thread (pconvkit.workers)
    forward = compute_flow(first, second, settings.flow.method, settings.flow.dis_preset)
    backward = compute_flow(second, first, settings.flow.method, settings.flow.dis_preset)
    return _raw_mask(forward, backward, settings)


def _raw_mask(forward, backward, settings: RawMaskSettings):
    height, width = forward.shape[:2]
    min_area = round(settings.min_component_area * height * width / 512**2)
    return raw_mask_from_flows(
        forward, backward, settings.thresholds, min_area, settings.close_size, settings.open_size
    )


def _mask_from_flow_files(job):
    pair, settings = job
    forward, forward_valid = read_flow(pair.forward)
    backward, backward_valid = read_flow(pair.backward)
    if forward.shape != backward.shape:
        raise UserError(
            f"{pair.forward.name} is {forward.shape[1]}x{forward.shape[0]} but "
            f"{pair.backward.name} is {backward.shape[1]}x{backward.shape[0]}"
        )
    mask = _raw_mask(forward, backward, settings)
    mask[~(forward_valid & backward_valid)] = 1  # unknown flow says nothing about occlusion
    return mask


def _video_pairs(video: Video, settings: RawMaskSettings) -> tuple[list, object, dict, list]:
    """(the frame pairs to make masks of, the frames (None for flow files), the video's record: its
    pairs, those skipped by reason, its shots with their camera's motion and flow method; each
    pair's flow method, `auto` resolved shot by shot). A clip too short for one pair gives no pair
    and says so."""
    record = dict(video=video.name, pairs=0, **dict.fromkeys(SKIP_REASONS, 0), too_short=0)
    record |= dict(shots="", camera_motion="", flow_method="")
    if video.kind == "flows":  # no frames to screen: only the hole-ratio ceiling guards against cuts
        pairs = [(p.first, p.second) for p in video.pairs]
        return pairs, None, record | dict(pairs=len(pairs)), [settings.flow.method] * len(pairs)
    frames = read_frames(video.path, settings.flow.max_side, minimum=1, short_side=settings.flow.short_side)
    transitions = transition_kinds(frames, settings.shots)  # once: for the shots and for the screening
    spans = shot_spans(transitions[1])
    motions = [camera_motion(frames[first:stop]) for first, stop in spans]
    methods = [flow_method_for(settings.flow.method, motion) for motion in motions]
    record |= dict(shots=len(spans), camera_motion=";".join(f"{m:.5f}" for m in motions), flow_method=";".join(methods))
    pairs = frame_pairs(len(frames), settings.flow.frame_gaps, settings.flow.frame_stride)
    if not pairs:
        return [], frames, record | dict(too_short=1), []
    kept, skipped = screen_pairs(frames, pairs, settings.shots, transitions)
    shot_of = np.searchsorted([first for first, _ in spans], [i for i, _ in kept], side="right") - 1
    return kept, frames, record | dict(pairs=len(pairs), **skipped), [methods[k] for k in shot_of]


def _raw_masks(video: Video, pairs, frames, methods, settings: RawMaskSettings, pool):
    """Yield ((first, second), mask) for the given frame pairs of a video, in order, each pair's flow
    computed with its method."""
    if video.kind == "flows":
        by_frames = {(p.first, p.second): p for p in video.pairs}
        results = pool.map(_mask_from_flow_files, [(by_frames[pair], settings) for pair in pairs], chunksize=4)
    else:
        per_method = {m: replace(settings, flow=replace(settings.flow, method=m)) for m in set(methods)}
        jobs = [(frames[i], frames[j], per_method[m]) for (i, j), m in zip(pairs, methods)]
        results = pool.map(_mask_from_frames, jobs, chunksize=4)
    with tqdm(total=len(pairs), desc=f"raw masks {video.name}", unit="pair", leave=False) as bar:
        for pair, mask in zip(pairs, results):
            bar.update()
            yield pair, mask


def build_video_pool(video: Video, split_dir: Path, settings: RawMaskSettings, pool) -> tuple[list[dict], dict]:
    """Compute, filter and write the raw masks of one video; returns its index rows and its skip
    record (resumable: a video with an index is read back)."""
    folder = split_dir / video.name
    index_path, skipped_path = folder / "index.csv", folder / "skipped.json"
    if index_path.exists() and skipped_path.exists():
        return read_csv_rows(index_path), json.loads(skipped_path.read_text())
    pairs, frames, record, methods = _video_pairs(video, settings)
    masks = _raw_masks(video, pairs, frames, methods, settings, pool)
    with contextlib.closing(masks):  # closes the progress bar before an error is printed
        rows = _keep_distinct(masks, video, split_dir, settings)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(skipped_path, json.dumps(record, indent=1) + "\n")
    write_text_atomic(index_path, csv_text(rows, INDEX_FIELDS))
    return rows, record


def _keep_distinct(masks, video, split_dir, settings):
    """Drop near-empty, near-full and near-duplicate masks; write the others."""
    rows, last_holes = [], None
    for (first, second), mask in masks:
        ratio = hole_ratio(mask)
        if not settings.min_hole_ratio <= ratio <= settings.max_hole_ratio:
            continue
        holes = mask == 0
        if last_holes is not None and _iou(holes, last_holes) > settings.duplicate_iou:
            continue
        last_holes = holes
        raw_id = f"{video.name}/{first:06d}_{second:06d}"
        write_png_atomic(split_dir / f"{raw_id}.png", mask_to_png(mask))
        rows.append(
            dict(
                raw_id=raw_id,
                video=video.name,
                first=first,
                second=second,
                hole_ratio=f"{ratio:.6f}",
                height=mask.shape[0],
                width=mask.shape[1],
            )
        )
    return rows


def _iou(a, b):
    if a.shape != b.shape:
        return 0.0
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def build_raw_pools(
    videos: list[Video],
    out_dir,
    train_count=PAPER_TRAIN_COUNT,
    test_count=PAPER_TEST_COUNT,
    test_videos=None,
    settings: RawMaskSettings = RawMaskSettings(),
    workers: int = 1,
    log=lambda line: tqdm.write(line, file=sys.stderr),
) -> dict:
    """Build both raw pools under OUT/raw/. A count of 0 keeps every mask the inputs give; the frame
    pairs skipped as not one view are logged per video and written to OUT/raw/SPLIT/skipped.csv.

    Returns {'train': rows, 'test': rows}. Raises UserError when the inputs give fewer masks than asked.
    """
    if not videos:
        raise UserError("no input videos: give --flow-dir, --video or --frames (or fetch the sample data)")
    splits = assign_splits([v.name for v in videos], test_videos)
    record = {
        "raw_mask_settings": asdict(settings),
        "inputs": {v.name: source_identity(v.path) for v in videos},
        "splits": splits,
    }
    check_settings_file(Path(out_dir) / "raw" / "settings.json", record, "raw mask pools")
    counts = {"train": train_count, "test": test_count}
    raw_dir = Path(out_dir) / "raw"
    pools = {}
    with _worker_pool(workers) as pool:
        for split in ("train", "test"):
            rows, records = [], []
            for video in videos:
                if splits[video.name] == split:
                    video_rows, record = build_video_pool(video, raw_dir / split, settings, pool)
                    rows += video_rows
                    records.append(record)
                    _log_skipped(record, log)
            write_text_atomic(raw_dir / split / "skipped.csv", csv_text(records, SKIPPED_FIELDS))
            wanted = counts[split]
            if wanted and len(rows) < wanted:
                raise UserError(
                    f"the inputs give {len(rows)} {split} raw masks, {wanted} asked: add videos, more "
                    f"--frame-gaps or a smaller --frame-stride, or lower --{split}-count (0 = all)"
                )
            pools[split] = rows[:wanted] if wanted else rows
            write_text_atomic(raw_dir / split / "pool.csv", csv_text(pools[split], INDEX_FIELDS))
    return pools


def _log_skipped(record: dict, log):
    if record["too_short"]:
        log(f"{record['video']}: too short for one frame pair at these --frame-gaps: no mask from it")
        return
    methods = record["flow_method"].split(";") if record["flow_method"] else []
    if "farneback" in methods and "dis" in methods:
        log(
            f"{record['video']}: the camera moves in {methods.count('farneback')} of {len(methods)} shots: "
            "Farneback flow there"
        )
    reasons = {"cut": "across a cut", "fade": "in a fade", "blank": "with a blank frame", "frozen": "frozen"}
    parts = [f"{record[reason]} {words}" for reason, words in reasons.items() if record[reason]]
    if parts:
        skipped = sum(record[reason] for reason in reasons)
        log(f"{record['video']}: {skipped} of {record['pairs']} frame pairs skipped ({', '.join(parts)})")


class _InProcess:
    """The `map` of a process pool, run in this process (for --workers 1)."""

    def map(self, function, jobs, chunksize=1):
        return map(function, jobs)


@contextlib.contextmanager
def _worker_pool(workers: int):
    if workers > 1:
        with process_pool(workers, "maskgen build (raw masks)") as pool:
            yield pool
    else:
        yield _InProcess()


def load_pool(out_dir, split: str) -> list[dict]:
    path = Path(out_dir) / "raw" / split / "pool.csv"
    if not path.exists():
        raise UserError(f"no {split} raw pool in {out_dir} (run `maskgen build` first)")
    return read_csv_rows(path)


def load_raw_mask(out_dir, split: str, raw_id: str) -> np.ndarray:
    return read_mask(Path(out_dir) / "raw" / split / f"{raw_id}.png")
