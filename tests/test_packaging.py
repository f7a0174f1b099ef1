"""The wheel installs one import name, pconvkit, and works beside other people's code.

Research checkouts often have top-level `models/` or `benchmark/` packages on PYTHONPATH (LaMa's
README asks for it); the toolkit's commands must not import them.
"""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

REPOSITORY = Path(__file__).resolve().parents[1]
DECOYS = ("models", "benchmark", "maskgen", "cli")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy: pip builds in the source tree, which would leave build/ in the checkout
    ignored = shutil.ignore_patterns(".git", ".venv", "demo", "build", "*.egg-info", "__pycache__", ".pytest_cache")
    shutil.copytree(REPOSITORY, source, ignore=ignored)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out)]
    subprocess.run([*pip_wheel, str(source)], check=True, capture_output=True)
    (path,) = out.glob("pconvkit-*.whl")
    return path


@pytest.mark.slow
def test_the_wheel_has_one_top_level_name_and_carries_the_bundled_models(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(top_level).decode().split() == ["pconvkit"]
    roots = {name.split("/")[0] for name in names}
    assert {r for r in roots if not r.endswith(".dist-info")} == {"pconvkit"}
    for part in (
        "pconvkit/maskgen/build.py",
        "pconvkit/models/unet.py",
        "pconvkit/benchmark/run.py",
        "pconvkit/cli/__init__.py",
        "pconvkit/cli/benchmark_commands.py",
        "pconvkit/benchmark/paper_table1.csv",
        "pconvkit/models/weights/pconv.pt",
        "pconvkit/models/weights/sr4.pt",
        "pconvkit/models/weights/MODEL_CARD.md",
    ):
        assert part in names
    assert not any(name.startswith(("tools/", "tests/", "benchmarks/")) or "/tools/" in name for name in names)


@pytest.mark.slow
def test_installed_commands_ignore_decoy_packages_on_pythonpath(wheel, tmp_path):
    # A fresh virtualenv with the wheel alone; its dependencies come from this interpreter's
    # site-packages through a path line (which does not run the editable install's finder).
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    site = next((fresh / "lib").glob("python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(fresh / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    decoys = tmp_path / "decoys"
    for name in DECOYS:
        marker = tmp_path / f"imported_{name}"
        code = f"open({str(marker)!r}, 'w').close()\nBUNDLED_WEIGHTS = None\n"
        if name == "cli":
            (decoys / "cli.py").parent.mkdir(parents=True, exist_ok=True)
            (decoys / "cli.py").write_text(code)
        else:
            (decoys / name).mkdir(parents=True)
            (decoys / name / "__init__.py").write_text(code)
    work = tmp_path / "work"
    rng = np.random.default_rng(0)
    write_image(work / "images" / "photo.png", rng.random((160, 200, 3)).astype(np.float32))
    valid = np.ones((160, 200), np.uint8)
    valid[40:80, 30:90] = 0
    write_png_atomic(work / "hole.png", mask_to_png(valid))
    write_png_atomic(work / "masks" / "hole.png", mask_to_png(valid[:128, :128]))
    env = {"PATH": f"{fresh / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(decoys), "PCONVKIT_CACHE": str(tmp_path / "c")}

    def command(*args):
        done = subprocess.run(
            [str(fresh / "bin" / args[0]), *args[1:]], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done

    command("pconv", "inpaint", "images/photo.png", "hole.png", "-o", "filled.png", "--engine", "torch")
    assert (work / "filled.png").is_file()
    command(
        "benchmark",
        "run",
        "--methods",
        "pconv,telea",
        "--images",
        "images",
        "--masks",
        "masks",
        "--size",
        "128",
        "--out",
        "results",
    )
    assert len((work / "results" / "results.csv").read_text().splitlines()) == 3  # header and two rows
    where = subprocess.run(
        [str(fresh / "bin" / "python"), "-c", "import pconvkit; print(pconvkit.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(site))
    assert not [name for name in DECOYS if (tmp_path / f"imported_{name}").exists()]
