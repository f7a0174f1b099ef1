"""The super-resolution benchmark of Section 5.2: a network trained with `pconv train --task sr`
against bicubic and Lanczos interpolation (and any `module:function` of the form
upscale(low, factor) -> high), on the held-out photos.

Each photo (its central square at the evaluation size, cropped to a multiple of K) gives two
low-resolution inputs: 'lattice', the photo sampled on the paper's lattice (pixel
(K x + floor(K/2), K y + floor(K/2)) becomes (x, y); every method interpolates from those same
positions), and 'area', the usual K x K block means of SR benchmarks (where the network's lattice
assumption no longer holds exactly). PSNR and SSIM are measured on the Y channel (ITU-R BT.601) and
on RGB, excluding a K-pixel border, as SR papers do.
"""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pconvkit.benchmark.confidence import cluster_bootstrap
from pconvkit.benchmark.methods import import_callable
from pconvkit.benchmark.metrics import SSIM_TAPS, SUPER_RESOLUTION, psnr, ssim
from pconvkit.benchmark.render import Number, Table, to_csv, to_markdown
from pconvkit.errors import UserError
from pconvkit.files import encode_image, write_bytes_atomic, write_text_atomic
from pconvkit.images import to_uint8
from pconvkit.models.superres import area_downscale, interpolate, load_sr_model, luma, sample_lattice, upscale

INPUTS = ("lattice", "area")


def make_upscaler(name: str, factor: int, checkpoint=None, device: str = "auto"):
    """upscale(low) -> high for 'pconv' (a `pconv train --task sr` checkpoint, default the bundled
    x4 model), 'bicubic', 'lanczos' or a 'module:function' taking (low, factor)."""
    if name in ("bicubic", "lanczos"):
        return lambda low: interpolate(low, factor, name)
    if name == "pconv":
        model = load_sr_model(checkpoint, factor, device)
        return lambda low: upscale(model, low, factor)
    if ":" in name:
        function = import_callable(name)
        return lambda low: function(low, factor)
    raise UserError(f"unknown super-resolution method {name!r}: pconv, bicubic, lanczos or module:function")


def measure(result: np.ndarray, truth: np.ndarray, factor: int) -> dict:
    """PSNR and SSIM on Y and on RGB, a `factor`-pixel border excluded."""
    if result.shape != truth.shape:
        raise UserError(
            f"an upscaled image is {result.shape[1]}x{result.shape[0]}, its truth {truth.shape[1]}x{truth.shape[0]}"
        )
    inner = (slice(factor, -factor), slice(factor, -factor))
    result, truth = np.clip(result[inner], 0, 1), truth[inner]
    y, y_truth = luma(result), luma(truth)
    values = (psnr(y, y_truth), ssim(y, y_truth), psnr(result, truth), ssim(result, truth))
    return {metric.name: value for metric, value in zip(SUPER_RESOLUTION, values)}


def run_sr_benchmark(methods, images: dict, factor: int, out_dir, checkpoint=None, log=print) -> Path:
    """Every method on every photo and input kind; OUT/sr_results.csv, sr_table.md (and .csv) and sr_grid.png."""
    out_dir = Path(out_dir)
    side = min(min(photo.shape[:2]) for photo in images.values())
    smallest = factor * (2 + -(-SSIM_TAPS // factor))  # the measured interior must hold SSIM's window
    if side < smallest:
        raise UserError(
            f"images of {side} px are too small for x{factor}: the measured interior (a {factor}-px border "
            f"excluded) must hold SSIM's {SSIM_TAPS}-px window; give --size {smallest} or more"
        )
    upscalers = {name: make_upscaler(name, factor, checkpoint) for name in methods}
    rows, pictures = [], []
    for image_name, photo in images.items():
        side = (min(photo.shape[:2]) // factor) * factor
        truth = photo[:side, :side]
        for kind in INPUTS:
            low = sample_lattice(truth, factor) if kind == "lattice" else area_downscale(truth, factor)
            outputs = {}
            for name, function in upscalers.items():
                outputs[name] = np.asarray(function(low), np.float32)
                rows.append(dict(method=name, image=image_name, input=kind, **measure(outputs[name], truth, factor)))
            if kind == "lattice" and len(pictures) < 2:
                pictures.append((image_name, low, outputs, truth))
        log(f"sr: {image_name}")
    frame = pd.DataFrame(rows)
    write_text_atomic(out_dir / "sr_results.csv", frame.to_csv(index=False))
    table = sr_table(frame, factor)
    write_text_atomic(out_dir / "sr_table.md", to_markdown(table))
    write_text_atomic(out_dir / "sr_table.csv", to_csv(table))
    _comparison(pictures, factor, out_dir / "sr_grid.png")
    return out_dir / "sr_table.md"


def sr_table(frame: pd.DataFrame, factor: int) -> Table:
    """Rows input kind x method, the four measures as mean [95 % interval over photos]."""
    table = Table(
        ["input", "method"],
        [metric.label for metric in SUPER_RESOLUTION],
        caption=f"Super-resolution x{factor}: mean [95 % bootstrap interval over {frame['image'].nunique()} photos]; "
        f"Y is ITU-R BT.601 luma; a {factor}-pixel border excluded.",
    )
    for kind in INPUTS:
        part = frame[frame["input"] == kind]
        for method, group in part.groupby("method", sort=False):
            table.rows.append([kind, method, *(_estimate(group, metric) for metric in SUPER_RESOLUTION)])
    return table


def _estimate(group, metric) -> Number:
    mean, low, high = cluster_bootstrap(group[metric.name], group["image"])
    return Number(mean, metric.decimals, low, high)


def _comparison(pictures, factor, path, crop: int = 96):
    """Like the paper's Fig. 12-13: the low-resolution input (nearest-neighbour), each method, the
    truth, on a central crop of two photos."""
    rows = []
    for _, low, outputs, truth in pictures:
        centre = truth.shape[0] // 2 - crop // 2
        window = (slice(centre, centre + crop), slice(centre, centre + crop))
        nearest = cv2.resize(low, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        tiles = [nearest[window]] + [o[window] for o in outputs.values()] + [truth[window]]
        tiles = [cv2.resize(to_uint8(t), (crop * 2, crop * 2), interpolation=cv2.INTER_NEAREST) for t in tiles]
        for tile, label in zip(tiles, ["input", *outputs, "truth"]):
            cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.hstack(tiles))
    if rows:
        write_bytes_atomic(path, encode_image(path, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)))
