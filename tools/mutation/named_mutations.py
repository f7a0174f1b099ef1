"""The plausible bugs that once passed every test, put back one at a time into a scratch copy of
the library; each must now fail the tests named with it.

    python tools/mutation/named_mutations.py          # from the repository root, in its venv

The copy is laid out as the installed package (pconvkit/, pconvkit/maskgen ...) and put first on
PYTHONPATH, so the working tree is never touched. Prints one line per mutation and exits non-zero
when one survives.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
PARTS = {
    "pconvkit": "pconvkit",
    "maskgen": "pconvkit/maskgen",
    "models": "pconvkit/models",
    "benchmark": "pconvkit/benchmark",
}

# (what the bug is, file, the text, its mutation, the tests that must catch it)
MUTATIONS = [
    (
        "the bootstrap's means summed over the wrong axis",
        "benchmark/confidence.py",
        "means = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)",
        "means = sums[draws].sum(axis=0) / sizes[draws].sum(axis=0)",
        ["tests/benchmark/test_confidence.py"],
    ),
    (
        "the Bonferroni correction dropped",
        "benchmark/confidence.py",
        "return 1 - (1 - level) / comparisons",
        "return level",
        ["tests/benchmark/test_confidence.py", "tests/benchmark/test_tables.py"],
    ),
    (
        "telea running OpenCV's Navier-Stokes flag",
        "benchmark/methods.py",
        "_opencv_inpaint(image, mask, radius, cv2.INPAINT_TELEA)",
        "_opencv_inpaint(image, mask, radius, cv2.INPAINT_NS)",
        ["tests/benchmark/test_methods.py"],
    ),
    (
        "a method's output scored without compositing the known pixels",
        "benchmark/methods.py",
        "return composite(method(blank_holes(image, valid_mask), valid_mask), image, valid_mask)",
        "return method(blank_holes(image, valid_mask), valid_mask)",
        ["tests/benchmark/test_run.py"],
    ),
    (
        "the Inception network fed un-normalised input",
        "benchmark/metrics.py",
        "self.network((x - mean) / std)",
        "self.network(x)",
        ["tests/benchmark/test_metrics.py"],
    ),
    (
        "phase 1's learning rate 10x the paper's (the table)",
        "models/train.py",
        "PHASE_LR = {1: 2e-4, 2: 5e-5}",
        "PHASE_LR = {1: 2e-3, 2: 5e-5}",
        ["tests/models/test_config.py", "tests/models/test_train.py"],
    ),
    (
        "phase 1's learning rate 10x the paper's (where the optimizer is made)",
        "models/train.py",
        "lr=config.lr or PHASE_LR[phase])",
        "lr=config.lr or PHASE_LR[phase] * (10 if phase == 1 else 1))",
        ["tests/models/test_train.py"],
    ),
    (
        "the study's two-way bootstrap resampling participants only",
        "benchmark/study.py",
        "* np.bincount(rng.integers(0, photo.max() + 1,",
        "* 1 + 0 * np.bincount(rng.integers(0, photo.max() + 1,",
        ["tests/benchmark/test_study.py"],
    ),
]


def scratch_copy(folder: Path) -> Path:
    for source, target in PARTS.items():
        shutil.copytree(REPOSITORY / source, folder / target, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _run_tests(root: Path, tests) -> subprocess.CompletedProcess:
    # run from the copy: `python -m pytest` puts its folder first on sys.path, and the repository's
    # own pconvkit/ folder would win there
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPOSITORY)]
    command += ["-c", str(REPOSITORY / "setup.cfg"), *[str(REPOSITORY / t) for t in tests]]
    environment = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True)


def main() -> int:
    every_test = sorted({t for *_, tests in MUTATIONS for t in tests})
    with tempfile.TemporaryDirectory() as scratch:  # the unmutated copy passes: a failure below is the bug's
        result = _run_tests(scratch_copy(Path(scratch)), every_test)
        if result.returncode != 0:
            print("the tests fail on the unmutated copy:", result.stdout[-2000:], result.stderr[-2000:])
            return 2
    survivors = 0
    for what, file, text, mutation, tests in MUTATIONS:
        with tempfile.TemporaryDirectory() as scratch:
            root = scratch_copy(Path(scratch))
            path = root / PARTS[file.split("/")[0]] / file.split("/", 1)[1]
            source = path.read_text()
            if source.count(text) != 1:
                print(f"STALE    {what}: the text to mutate is not in {file} once")
                survivors += 1
                continue
            path.write_text(source.replace(text, mutation))
            result = _run_tests(root, tests)
            if result.returncode not in (0, 1):  # not a test failure: the run itself broke
                print(result.stdout[-2000:], result.stderr[-2000:])
            killed = result.returncode == 1
            survivors += not killed
            print(f"{'killed  ' if killed else 'SURVIVED'} {what} ({', '.join(tests)})")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
