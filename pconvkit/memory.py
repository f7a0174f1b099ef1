"""Checking, before allocating, that a job fits in memory: a one-line error instead of the
out-of-memory killer or a MemoryError traceback."""

from pathlib import Path

from pconvkit.errors import UserError

GIB = 2**30


def available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (Linux); None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def require_memory(needed: float, what: str, share: float = 0.8):
    """Refuse `what` when its estimated need exceeds `share` of the memory available now."""
    available = available_bytes()
    if available is not None and needed > share * available:
        raise UserError(
            f"{what} needs about {needed / GIB:.1f} GiB of memory, and {available / GIB:.1f} GiB are available"
        )


def reuse_freed_memory():
    """Keep freed memory in the process for the next array instead of returning it to the system.

    glibc hands arrays over 128 KB to the system when they are freed, so every NumPy or OpenCV
    temporary of a 512x512 image is faulted in page by page again: half of the time of SSIM and of
    the occlusion check went to that. Raising glibc's mmap and trim thresholds (mallopt) lets freed
    blocks be reused; a command's memory then stays at its peak until it ends. The command-line
    tools call this at start; elsewhere (not glibc) it does nothing.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(-3, 256 * 2**20)  # M_MMAP_THRESHOLD: blocks under 256 MB come from the reusable heap
    mallopt(-1, 1024 * 2**20)  # M_TRIM_THRESHOLD: keep up to 1 GB of freed heap
