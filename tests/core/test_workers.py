"""Worker processes: a killed worker ends the command in one line instead of a hang, and each worker
starts with one OpenCV thread."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import valid_mask

from pconvkit.errors import UserError
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png


def test_a_killed_benchmark_worker_ends_the_run_with_an_error(tmp_path):
    (tmp_path / "killer.py").write_text(
        "import multiprocessing, os, signal\n"
        "def inpaint(image, mask):\n"
        "    if multiprocessing.parent_process() is not None:  # in a worker: die as the OOM killer does\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return image\n"
    )
    rng = np.random.default_rng(3)
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    command = [
        str(Path(sys.executable).with_name("benchmark")),
        "run",
        "--methods",
        "killer:inpaint",
        "--workers",
        "2",
        "--images",
        "images",
        "--masks",
        "masks",
        "--size",
        "64",
        "--out",
        "results",
    ]
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "worker process of method killer:inpaint died" in done.stderr.splitlines()[-1]


def test_a_killed_mask_builder_ends_the_build_with_an_error(tmp_path, monkeypatch):
    import multiprocessing

    import pconvkit.maskgen.build as build

    def die_in_worker(*args, **kwargs):
        if multiprocessing.parent_process() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("the parent must not run cell jobs")

    monkeypatch.setattr(build, "sample_cell_mask", die_in_worker)
    valid = np.ones((300, 300), np.uint8)
    valid[100:130, 100:160] = 0
    write_png_atomic(tmp_path / "raw" / "test" / "v" / "000000_000001.png", mask_to_png(valid))
    rows = [dict(raw_id="v/000000_000001", video="v", first="0", second="1")]
    signal.alarm(120)  # a hang fails the test instead of the suite
    try:
        with pytest.raises(UserError, match="worker process of maskgen build died"):
            build.build_test_set(
                tmp_path, rows, build.BenchmarkSettings(per_bin=2, size=256, margin=25, chunk=1), workers=2
            )
    finally:
        signal.alarm(0)


def _opencv_threads_and_set_one(_):
    inherited = cv2.getNumThreads()
    cv2.setNumThreads(1)  # maskgen's flow workers did this first; it waited forever in a child forked
    return inherited  # while the parent's OpenCV pool had threads


def test_workers_start_with_one_opencv_thread_and_the_parent_keeps_its_own():
    from pconvkit.workers import process_pool

    cv2.setNumThreads(2)
    cv2.GaussianBlur(np.ones((1500, 1500), np.float32), (15, 15), 3)  # the parent's pool now has threads
    signal.alarm(120)
    try:
        with process_pool(2, "a test") as pool:
            inherited = list(pool.map(_opencv_threads_and_set_one, range(4)))
    finally:
        signal.alarm(0)
    assert inherited == [1, 1, 1, 1]  # the children have no thread count to change, so none to wait for
    assert cv2.getNumThreads() == 2


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    """A `kill -9` of the command leaves no worker running (they would wait on the queue forever)."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "from pconvkit.workers import process_pool\n"
        "def pid(_):\n"
        "    time.sleep(0.2)\n"
        "    return os.getpid()\n"
        "with process_pool(2, 'test') as pool:\n"
        "    print(' '.join(map(str, set(pool.map(pid, range(8))))), flush=True)\n"
        "    list(pool.map(time.sleep, [60, 60]))\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert workers
    time.sleep(0.5)  # the workers are asleep in their 60 s tasks
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in workers if _running(p)]
    assert not alive


def _running(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie has exited; its parent (init) reaps it
        return handle.read().split(")")[-1].split()[0] != "Z"
