"""Real sample data, not written by us: Debian's opencv-doc examples and scikit-image's photos.

The cache folder is $PCONVKIT_CACHE, or ~/.cache/pconvkit. After `fetch()` it holds

    opencv-doc/data/         OpenCV's examples/data: videos, frame pairs, photos
    photos/train/*.png       the training photos (TRAIN_PHOTOS), RGB
    photos/test/*.png        the held-out photos (TEST_PHOTOS), never used for training
    photos/validation/*.png  VALIDATION_PHOTOS, in neither split (written by models/weights/validate.py)

The split is fixed here, by name, so that results are comparable between runs and machines.
Photos of one scene (stereo pairs, two views of one building) stay in one split.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import ensure_writable_dir, write_png_atomic, write_text_atomic

SAMPLE_VIDEOS = ("vtest.avi", "Megamind.avi", "tree.avi")
FRAME_PAIRS = (("rubberwhale1.png", "rubberwhale2.png"), ("basketball1.png", "basketball2.png"))

# Held-out photos: the benchmark's default images. Never used for training.
TEST_PHOTOS = (
    "opencv:baboon.jpg",
    "opencv:fruits.jpg",
    "opencv:apple.jpg",
    "opencv:orange.jpg",
    "opencv:messi5.jpg",
    "opencv:butterfly.jpg",
    "opencv:home.jpg",
    "opencv:squirrel_cls.jpg",
    "opencv:starry_night.jpg",
    "skimage:coffee",
    "skimage:chelsea",
    "skimage:rocket",
)
TRAIN_PHOTOS = (
    "opencv:Blender_Suzanne1.jpg",
    "opencv:Blender_Suzanne2.jpg",
    "opencv:aero1.jpg",
    "opencv:aero3.jpg",
    "opencv:board.jpg",
    "opencv:building.jpg",
    "opencv:ela_original.jpg",
    "opencv:graf1.png",
    "opencv:graf3.png",
    "opencv:leuvenA.jpg",
    "opencv:leuvenB.jpg",
    "opencv:left.jpg",
    "opencv:right.jpg",
    "opencv:pca_test1.jpg",
    "opencv:stuff.jpg",
    "opencv:smarties.png",
    "opencv:licenseplate_motion.jpg",
    "opencv:HappyFish.jpg",
    "opencv:box_in_scene.png",
    "opencv:sudoku.png",
    "skimage:astronaut",
    "skimage:camera",
    "skimage:coins",
    "skimage:hubble_deep_field",
    "skimage:immunohistochemistry",
    "skimage:moon",
)
# In neither split: trained checkpoints are compared on these, so that choosing one does not look at
# the held-out photos (models/weights/validate.py).
VALIDATION_PHOTOS = ("opencv:aloeL.jpg", "opencv:chicky_512.png", "opencv:rubberwhale1.png", "opencv:basketball1.png")
_COMPLETE_MARKER = ".complete-v1"


def cache_dir() -> Path:
    return Path(os.environ.get("PCONVKIT_CACHE") or Path.home() / ".cache" / "pconvkit")


def opencv_data_dir() -> Path:
    return cache_dir() / "opencv-doc" / "data"


def photos_dir(split: str) -> Path:
    if split not in ("train", "test", "validation"):
        raise ValueError(split)
    return cache_dir() / "photos" / split


def sample_videos() -> list[Path]:
    require_sample_data()
    return [opencv_data_dir() / name for name in SAMPLE_VIDEOS]


def is_fetched() -> bool:
    return (cache_dir() / _COMPLETE_MARKER).exists()


def require_sample_data():
    if not is_fetched():
        raise UserError(
            f"the sample data is not in {cache_dir()}: run `benchmark data fetch` first, or name your own inputs"
        )


def fetch(log=print) -> bool:
    """Put the sample data into the cache. Returns False (and does nothing) when it is already there."""
    root = cache_dir()
    if is_fetched():
        log(f"sample data already in {root}: nothing to do")
        return False
    ensure_writable_dir(root)
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise UserError(
            "apt-get/dpkg not found: the sample data comes from Debian's opencv-doc package; "
            "point the tools at your own data instead (maskgen build --video FILE, "
            "benchmark run --images DIR)"
        )
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        tmp = Path(tmp)
        log("downloading Debian's opencv-doc package (about 95 MB) ...")
        try:
            _run(["apt-get", "download", "opencv-doc"], cwd=tmp)
        except UserError:
            # a fresh machine has no package lists yet: read them once, then try again
            log("apt-get download failed; running `apt-get update` and trying again ...")
            _run(["apt-get", "update", "-q"])
            _run(["apt-get", "download", "opencv-doc"], cwd=tmp)
        debs = sorted(tmp.glob("opencv-doc_*.deb"))
        if not debs:
            raise UserError("apt-get download opencv-doc produced no .deb (try `apt-get update` first)")
        _run(["dpkg", "-x", str(debs[0]), str(tmp / "x")])
        found = sorted((tmp / "x").glob("usr/share/doc/opencv-doc/examples/data"))
        if not found:
            raise UserError(f"{debs[0].name} has no examples/data folder")
        data = opencv_data_dir()
        if data.exists():
            shutil.rmtree(data)
        data.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(found[0]), str(data))
    _decompress_gz(opencv_data_dir())
    for split, names in (("train", TRAIN_PHOTOS), ("test", TEST_PHOTOS)):
        write_photos(split, names, log)
    write_text_atomic(root / _COMPLETE_MARKER, "opencv-doc examples/data and scikit-image photos\n")
    log(f"sample data in {root}")
    return True


def _run(command, cwd=None):
    try:
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        last = (err.stderr or err.stdout or "").strip().splitlines()
        raise UserError(f"`{' '.join(command)}` failed: {last[-1] if last else err.returncode}") from None


def _decompress_gz(folder: Path):
    """Debian compresses some documentation files; the tools need them plain."""
    import gzip

    for gz in folder.rglob("*.gz"):
        target = gz.with_suffix("")
        if not target.exists():
            target.write_bytes(gzip.decompress(gz.read_bytes()))


def write_photos(split: str, names, log=print) -> Path:
    """Write the named photos ('opencv:FILE' or 'skimage:NAME') as PNGs into photos_dir(split)."""
    folder = photos_dir(split)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        image = _load_photo(name)
        if image is None:
            log(f"skipping {name}: it does not load without a download")
            continue
        write_png_atomic(folder / (name.split(":", 1)[1].rsplit(".", 1)[0] + ".png"), image)
    return folder


def _load_photo(name: str):
    """BGR uint8 array of a named photo ('opencv:FILE' or 'skimage:NAME'), None if unavailable."""
    source, key = name.split(":", 1)
    if source == "opencv":
        image = cv2.imread(str(opencv_data_dir() / key), cv2.IMREAD_COLOR)
        return image
    import skimage.data

    try:
        image = getattr(skimage.data, key)()
    except Exception:  # a photo that needs a download (pooch) is simply not available here
        return None
    image = np.asarray(image)
    if image.ndim == 2:
        return cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[..., :3].astype(np.uint8), cv2.COLOR_RGB2BGR)
