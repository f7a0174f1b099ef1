"""Inputs tests make on the fly: small smooth photos, box masks, flows of a moving square, textures,
and `benchmark run` arguments."""

import glob
import os
import shutil
import threading

import cv2
import numpy as np
import pytest

from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png
from pconvkit.maskgen.flowio import write_flow


def gradient_photos(folder, count: int = 3, side: int = 64, seed: int = 0):
    """`count` smooth photos p0.png ...: an x ramp, a y ramp and a random flat channel (smooth, so
    that interpolation and 8-bit files keep them)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / (side - 1)
    for i in range(count):
        write_image(folder / f"p{i}.png", np.dstack([x, y, np.full_like(x, rng.random())]))


def box_masks(folder, boxes, side: int = 64):
    """One mask per box (top, bottom, left, right) of hole, m00.png ..., white = valid."""
    for i, (top, bottom, left, right) in enumerate(boxes):
        valid = np.ones((side, side), np.uint8)
        valid[top:bottom, left:right] = 0
        write_png_atomic(folder / f"m{i:02d}.png", mask_to_png(valid))


def run_arguments(folder, methods: str = "mean", out: str = "out") -> list[str]:
    """`benchmark run` of METHODS on FOLDER/images x FOLDER/masks at 64 px into FOLDER/OUT."""
    return [
        "run",
        "--methods",
        methods,
        "--images",
        str(folder / "images"),
        "--masks",
        str(folder / "masks"),
        "--size",
        "64",
        "--out",
        str(folder / out),
    ]


SHIFT = 8  # px the square of `write_square_flows` moves right between its frames


def write_square_flows(folder, video, pairs, shape=(64, 80)):
    for first, second in pairs:
        forward = np.zeros(shape + (2,), np.float32)
        backward = np.zeros(shape + (2,), np.float32)
        forward[20:40, 20 + first : 40 + first, 0] = SHIFT
        backward[20:40, 20 + first + SHIFT : 40 + first + SHIFT, 0] = -SHIFT
        write_flow(folder / video / f"forward_{first}_{second}.flo", forward)
        write_flow(folder / video / f"backward_{second}_{first}.flo", backward)


def textured(shape, seed=0):
    """A smooth random texture in [0, 1] (flow can track it)."""
    rng = np.random.default_rng(seed)
    noise = rng.random(shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def browser():
    """A headless Chromium, or a failure under CI (where .ci/run installs it), or a skip elsewhere."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test needs {', '.join(missing)} (.ci/run installs them)")
        pytest.skip(f"no {', '.join(missing)} here (Debian's chromium and chromium-driver, and selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def run_command(methods, masks, images, out) -> list[str]:
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


def inpaint_arguments(image, mask, out, *extra) -> list[str]:
    """`pconv inpaint IMAGE MASK -o OUT ...`."""
    return ["inpaint", str(image), str(mask), "-o", str(out), *extra]


def inpaint_in(folder, *extra) -> list[str]:
    """`pconv inpaint` of FOLDER/image.png with FOLDER/mask.png into FOLDER/o.png."""
    return inpaint_arguments(folder / "image.png", folder / "mask.png", folder / "o.png", *extra)


HOLE = (slice(8, 24), slice(8, 40))


def valid_mask(shape=(64, 64)):
    """A valid mask (1 = valid) with one rectangular hole, HOLE."""
    valid = np.ones(shape, np.uint8)
    valid[HOLE] = 0
    return valid


def write_clip(folder, frames=4):
    """FRAMES PNG frames of a textured background with a patch moving right by 5 px a frame."""
    background = (textured((64, 96), seed=1) * 255).astype(np.uint8)
    for t in range(frames):
        frame = background.copy()
        frame[20:40, 10 + 5 * t : 30 + 5 * t] = 255 - background[20:40, 10:30]
        write_png_atomic(folder / f"{t}.png", frame)


def one_error_line(result) -> str:
    """The one `Error:` line of a failed command (non-zero exit, no traceback)."""
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def inpaint_errors(image, mask, folder, *extra) -> dict:
    """{engine: (its one Error: line, the output path it must not have written)} of `pconv inpaint`
    with each engine."""
    from click.testing import CliRunner

    from pconvkit.cli import pconv

    errors = {}
    for engine in ("torch", "onnx"):
        out = folder / f"{engine}.png"
        result = CliRunner().invoke(pconv, inpaint_arguments(image, mask, out, *extra, "--engine", engine))
        errors[engine] = one_error_line(result), out
    return errors


def one_line_error(result, text):
    """Non-zero exit, the message on the last line, no traceback (progress bars may come before)."""
    assert result.exit_code != 0, result.output
    last = result.output.strip().splitlines()[-1].split("\r")[-1]
    assert last.startswith("Error: ") and text in last, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


STUDY_METHODS = ("telea", "ns", "mean")


def make_study(run, out, design="unlimited", per_method=20, times=(250, 1000, 4000)):
    """A study drawn from the `run` fixture's results."""
    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.study import create_study

    return create_study(
        run / "results", load_images(run / "images", 64), design, STUDY_METHODS, out, per_method, repeats=2, times=times
    )


class Server:
    """A study's application on a loopback port, in a thread, stopped by the test."""

    def __init__(self, study, **options):
        from werkzeug.serving import make_server

        from pconvkit.benchmark.study_server import create_app

        app = create_app(study, **options)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.admin = f"{self.url}/admin?key={app.admin_key}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)


# ------------------------------------------------ the peer tools' file rules, from their sources


def lama_entries(folder):
    """(image, mask) as LaMa's evaluation reader pairs them (saicinpainting/evaluation/data.py)."""
    masks = sorted(glob.glob(os.path.join(folder, "**", "*mask*.png"), recursive=True))
    return [(mask.rsplit("_mask", 1)[0] + ".png", mask) for mask in masks]


def mmagic_entries(folder, annotation="pairs.txt"):
    """(image, mask) as mmagic's BasicImageDataset reads an annotation file with data prefixes images/
    and masks/ (mmagic/datasets/basic_image_dataset.py, _get_path_list_from_ann and load_data_list)."""
    entries = []
    for line in (folder / annotation).read_text().splitlines():
        if line.isspace() or not line:
            continue
        basename, ext = os.path.splitext(line.split(" ")[0])
        entries.append((str(folder / "images" / f"{basename}{ext}"), str(folder / "masks" / f"{basename}{ext}")))
    return entries


def iopaint_entries(folder):
    """(image, mask) as IOPaint's batch mode pairs a mask folder with an image folder
    (iopaint/batch_processing.py)."""
    images = sorted(p for p in (folder / "images").iterdir() if p.suffix == ".png")
    return [(str(p), str(folder / "masks" / f"{p.stem}.png")) for p in images]


def lama_ssim(output, truth, dtype="float32") -> float:
    """SSIM as LaMa's evaluator computes it (saicinpainting/evaluation/losses/ssim.py, SSIM(window_size=11,
    size_average=False)), written again here in torch: 11 normalised Gaussian taps of sigma 1.5, their
    outer product as a window per channel, conv2d with zero padding of 5, the map's mean over channels
    and every pixel. Images (H, W, 3) in [0, 1]. In float32, as LaMa runs it, its E[x^2] - mu^2 loses
    up to 1e-5 on photos; "float64" gives the formula's exact value."""
    import torch
    import torch.nn.functional as F

    kind = getattr(torch, dtype)

    def tensor(image):
        return torch.from_numpy(np.ascontiguousarray(image, np.float64)).permute(2, 0, 1)[None].to(kind)

    img1, img2 = tensor(output), tensor(truth)
    taps = torch.tensor([np.exp(-((x - 5) ** 2) / float(2 * 1.5**2)) for x in range(11)], dtype=kind)
    taps = (taps / taps.sum()).unsqueeze(1)
    window = taps.mm(taps.t()).unsqueeze(0).unsqueeze(0).expand(3, 1, 11, 11).contiguous()
    conv = lambda t: F.conv2d(t, window, padding=5, groups=3)
    mu1, mu2 = conv(img1), conv(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    sigma1_sq, sigma2_sq = conv(img1 * img1) - mu1_sq, conv(img2 * img2) - mu2_sq
    sigma12 = conv(img1 * img2) - mu1_mu2
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(ssim_map.mean(1).mean(1).mean(1)[0])
