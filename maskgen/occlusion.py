"""Occlusions and disocclusions from forward-backward flow consistency.

Sundaram, Brox and Keutzer, "Dense point trajectories by GPU-accelerated large displacement optical
flow", ECCV 2010 (reference [31] of the paper): a pixel whose forward flow is not undone by the
backward flow at its target is occluded, and so is a pixel on a motion boundary.
"""

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ConsistencyThresholds:
    """The constants of Sundaram et al. (2010), Section 4.1."""

    relative: float = 0.01  # |w + w^|^2 > relative (|w|^2 + |w^|^2) + absolute
    absolute: float = 0.5
    boundary_relative: float = 0.01  # |grad u|^2 + |grad v|^2 > boundary_relative |w|^2 + boundary_absolute
    boundary_absolute: float = 0.002
    motion_boundaries: bool = True
    out_of_frame_is_hole: bool = False  # pixels whose flow leaves the frame: valid by default
    # The boundary test's absolute term is at least this times the frame's median flow-gradient
    # energy: Sundaram et al.'s 0.002 suits the smooth flow of their variational method, while on
    # compressed video a fast flow's gradient noise alone passes it everywhere. 0 = their constant.
    boundary_noise: float = 30.0


def warp_backward_flow(forward: np.ndarray, backward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample `backward` bilinearly at x + forward(x).

    Returns (w_hat, inside): float32 (H, W, 2) and bool (H, W), inside False where x + w leaves the
    frame (there w_hat is 0 and carries no information).
    """
    u, v = _planes(forward)
    return _warp(u, v, np.asarray(backward, np.float32))


def _planes(flow: np.ndarray) -> np.ndarray:
    """The u and v planes of a flow (H, W, 2), each contiguous float32 (one transposing copy: several
    times faster than cv2.split for two channels)."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(flow, np.float32), 2, 0))


def _warp(u: np.ndarray, v: np.ndarray, backward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height, width = u.shape
    grid_x, grid_y = _pixel_grid(height, width)
    map_x, map_y = cv2.add(grid_x, u), cv2.add(grid_y, v)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    w_hat = cv2.remap(backward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return w_hat, inside


@functools.lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every pixel, float32 (H, W) each; read-only, shared by the frames of a video."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


def _squared_norm(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """u^2 + v^2 in float32, in OpenCV (two temporaries instead of NumPy's (H, W, 2) ones)."""
    return cv2.add(cv2.multiply(u, u), cv2.multiply(v, v))


def _central_gradient(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d/dy, d/dx) as np.gradient computes them (central differences inside, one-sided at the
    edges), with OpenCV's filters: the same float32 values, several times faster."""
    kernel = np.array([[-0.5, 0.0, 0.5]], np.float32)
    d_dx = cv2.filter2D(channel, cv2.CV_32F, kernel, borderType=cv2.BORDER_REPLICATE)
    d_dy = cv2.filter2D(channel, cv2.CV_32F, kernel.T, borderType=cv2.BORDER_REPLICATE)
    d_dx[:, 0], d_dx[:, -1] = channel[:, 1] - channel[:, 0], channel[:, -1] - channel[:, -2]
    d_dy[0], d_dy[-1] = channel[1] - channel[0], channel[-1] - channel[-2]
    return d_dy, d_dx


def occluded_pixels(
    forward: np.ndarray, backward: np.ndarray, thresholds: ConsistencyThresholds = ConsistencyThresholds()
) -> np.ndarray:
    """Pixels of the first frame that the forward-backward check rejects, bool (H, W).

    forward: flow from frame 1 to frame 2, backward: from frame 2 to frame 1, float32 (H, W, 2).
    Computed in float32 with OpenCV's element-wise operations (benchmarks/bench_maskgen.py).
    """
    u, v = _planes(forward)  # planar: OpenCV copies strided channel views on every call
    w_hat, inside = _warp(u, v, np.asarray(backward, np.float32))
    u_hat, v_hat = _planes(w_hat)
    forward_norm = _squared_norm(u, v)
    round_trip = _squared_norm(cv2.add(u, u_hat), cv2.add(v, v_hat))
    bound = cv2.add(forward_norm, _squared_norm(u_hat, v_hat))
    # round_trip > relative bound + absolute, as round_trip - relative bound > absolute: one OpenCV pass
    inconsistent = cv2.scaleAdd(bound, -thresholds.relative, round_trip) > thresholds.absolute
    if thresholds.motion_boundaries:
        du_dy, du_dx = _central_gradient(u)
        dv_dy, dv_dx = _central_gradient(v)
        gradient = cv2.add(
            cv2.add(cv2.add(cv2.multiply(du_dx, du_dx), cv2.multiply(du_dy, du_dy)), cv2.multiply(dv_dx, dv_dx)),
            cv2.multiply(dv_dy, dv_dy),
        )
        absolute = thresholds.boundary_absolute
        if thresholds.boundary_noise:  # the median of every 4th pixel each way: the noise floor, cheaply
            absolute = max(absolute, thresholds.boundary_noise * float(np.median(gradient[::4, ::4])))
        inconsistent |= cv2.scaleAdd(forward_norm, -thresholds.boundary_relative, gradient) > absolute
    if thresholds.out_of_frame_is_hole:
        return inconsistent | ~inside
    return inconsistent & inside


# The clean-up's defaults (maskgen.pool's RawMaskSettings scales MIN_AREA with the frame's area): a
# 3-px closing joins outlines broken by a pixel; no opening, which would cut them; hole components
# under MIN_AREA pixels (at 512 x 512) are flow noise on compressed video, not occlusions.
CLOSE_SIZE, OPEN_SIZE, MIN_AREA = 3, 0, 10


def clean_holes(
    holes: np.ndarray, close_size: int = CLOSE_SIZE, open_size: int = OPEN_SIZE, min_area: int = MIN_AREA
) -> np.ndarray:
    """Morphological clean-up: close small gaps, open away speckle (off by default: it also cuts the
    thin occlusion outlines NVIDIA's masks are made of), drop components under min_area pixels."""
    holes = holes.view(np.uint8) if holes.dtype == bool else holes.astype(np.uint8)
    if close_size > 1:
        holes = cv2.morphologyEx(
            holes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_size,) * 2)
        )
    if open_size > 1:
        holes = cv2.morphologyEx(holes, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_size,) * 2))
    # 16-bit labels where they suffice (never more labels than hole pixels): half the memory traffic
    label_type = cv2.CV_16U if cv2.countNonZero(holes) < 2**16 else cv2.CV_32S
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=8, ltype=label_type)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


@functools.cache
def _helper_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="occlusion")


def occlusions_and_disocclusions(forward, backward, thresholds: ConsistencyThresholds = ConsistencyThresholds()):
    """Pixels hidden in the second frame or revealed in it, bool (H, W). Where OpenCV may use more
    than one thread, the two checks run side by side (OpenCV and NumPy release the GIL in their large
    operations); maskgen's worker processes use one thread each and run them in turn."""
    if cv2.getNumThreads() > 1:
        disoccluded = _helper_thread().submit(occluded_pixels, backward, forward, thresholds)
        return occluded_pixels(forward, backward, thresholds) | disoccluded.result()
    return occluded_pixels(forward, backward, thresholds) | occluded_pixels(backward, forward, thresholds)


def raw_mask_from_flows(
    forward: np.ndarray,
    backward: np.ndarray,
    thresholds: ConsistencyThresholds = ConsistencyThresholds(),
    min_area: int = MIN_AREA,
    close_size: int = CLOSE_SIZE,
    open_size: int = OPEN_SIZE,
) -> np.ndarray:
    """One frame pair's raw mask, uint8 (H, W), 1 = valid, 0 = hole.

    The check runs in both directions: pixels of frame 1 hidden in frame 2 (occlusions) and pixels
    of frame 2 not seen in frame 1 (disocclusions) both become holes.
    """
    if forward.shape != backward.shape:
        raise ValueError(f"forward flow {forward.shape[:2]} and backward flow {backward.shape[:2]} differ in size")
    holes = clean_holes(occlusions_and_disocclusions(forward, backward, thresholds), close_size, open_size, min_area)
    return (~holes).astype(np.uint8)
