"""Worker processes whose death is an error, not a hang.

multiprocessing.Pool waits forever for the results of a worker that was killed (the out-of-memory
killer's SIGKILL); concurrent.futures notices and raises BrokenProcessPool, which becomes a one-line
error here. Results already written stay, and the same command resumes.

The workers are forked with OpenCV set to one thread. A child forked while the parent's OpenCV
thread pool exists inherits the pool's bookkeeping but not its threads, and changing the thread
count there waits forever for threads that are not there (`maskgen build --workers 2` hung so, now
and then, at the start of its second video). One thread per worker is what the workers want
anyway; the parent's setting comes back when the pool closes.

A worker whose parent dies (a `kill -9` of the command, a closed terminal) exits within a second:
forked workers share the task queue's pipe with each other, so they would never see it close.
"""

import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import cv2

from pconvkit.errors import UserError

_STATE = {}


PARENT_POLL_SECONDS = 0.5


def _start_worker(parent: int, state: dict):
    """A worker's start: its state installed, and a watch on its parent."""
    _STATE.update(state)

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)  # orphaned: the command that wanted the results is gone

    threading.Thread(target=watch, daemon=True).start()


def worker_state(name):
    """What `process_pool(..., state=...)` gave each worker process under `name`."""
    return _STATE[name]


@contextlib.contextmanager
def process_pool(workers: int, what: str, state: dict | None = None):
    """A forked ProcessPoolExecutor; `state` (name -> object) is handed to each worker once, at its
    start, instead of with every task."""
    initializer, initargs = _start_worker, (os.getpid(), dict(state or {}))
    parent_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # before any fork: the children inherit a pool without threads to wait for
    try:
        with ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=initializer, initargs=initargs
        ) as pool:
            try:
                yield pool
            except BrokenProcessPool:
                raise UserError(
                    f"a worker process of {what} died (killed by the system, perhaps for lack of memory): what "
                    "was written so far is kept; run the same command again to resume"
                ) from None
    finally:
        cv2.setNumThreads(parent_threads)
