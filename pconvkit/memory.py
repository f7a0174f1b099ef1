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
