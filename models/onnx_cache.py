"""The cache of exported ONNX graphs, one per checkpoint, in $PCONVKIT_CACHE/onnx/.

A graph is named by the checkpoint's sha256, remembered per file path with the file's size,
modification time, inode and change time (a memo beside the graphs), so that a call does not read the
whole checkpoint to find its graph (reading and hashing the bundled 13 MB takes about 60 ms of a
0.8 s command), and a graph is never served for weights other than the file's.
"""

import contextlib
import functools
import hashlib
import platform
from pathlib import Path

from pconvkit.errors import UserError
from pconvkit.files import write_text_atomic
from pconvkit.models import BUNDLED_WEIGHTS
from pconvkit.models.onnx_export import ONNX_EXPORT_VERSION, export_onnx
from pconvkit.sampledata import cache_dir


def cached_onnx_graph(checkpoint=None, cache=None) -> Path:
    """The ONNX file of a checkpoint (default: the bundled model), exported on first use."""
    checkpoint = Path(checkpoint or BUNDLED_WEIGHTS)
    if not checkpoint.is_file():
        raise UserError(f"no checkpoint at {checkpoint}")
    cache = Path(cache or cache_dir() / "onnx")
    path = checkpoint.resolve()
    memo = cache / f"{hashlib.sha256(str(path).encode()).hexdigest()[:20]}.sha256"
    digest = _memo_digest(memo)
    if digest is not None and _graph(cache, digest).exists():
        return _graph(cache, digest)
    # one read: the graph is exported from the bytes that name it, even if the file is replaced meanwhile
    stamp = _stamp(path)  # taken before reading: a file rewritten meanwhile gets hashed again next time
    data = checkpoint.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    graph = _graph(cache, digest)
    with contextlib.suppress(OSError):  # an unwritable cache is reported when the graph is written
        write_text_atomic(memo, f"{stamp} {digest}\n{path}")
    if not graph.exists():
        try:
            export_onnx(checkpoint, graph, data)
        except OSError as err:
            raise UserError(
                f"cannot write the ONNX graph to {graph.parent} ({err.strerror}): "
                "set PCONVKIT_CACHE to a writable folder, or use --engine torch"
            ) from None
        _prune_onnx_cache(cache)
    return graph


def optimized_graph_path(graph: Path) -> Path:
    """Where ONNX Runtime's optimised copy of a cached graph is kept: beside it, named by the ONNX
    Runtime version and this CPU (its optimised layouts depend on the instruction set), so that a
    cache shared by machines never serves one machine's layout to another."""
    import onnxruntime

    return graph.with_name(f"{graph.stem}.ort{onnxruntime.__version__}-{_cpu_identity()}.onnx")


@functools.cache
def _cpu_identity() -> str:
    """A short hash of the CPU's model and feature flags (Linux's /proc/cpuinfo), else of platform's
    description of the processor."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        described = "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags", "Features"))}))
    except OSError:
        described = ""
    described = described or f"{platform.machine()} {platform.processor()}"
    return hashlib.sha256(described.encode()).hexdigest()[:12]


def _graph(cache: Path, digest: str) -> Path:
    return cache / f"{digest[:20]}-v{ONNX_EXPORT_VERSION}.onnx"


def _stamp(path: Path) -> str:
    """The file's size, modification time, inode and change time: a copy, a rewrite or `touch -d`
    can set the modification time, but every write or rename gives a new change time (or inode)."""
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ino} {stat.st_ctime_ns}"


def _memo_digest(memo: Path) -> str | None:
    """The digest a memo records, if its checkpoint is still there, unchanged since; else None."""
    try:
        first, path = memo.read_text().split("\n")
        recorded, _, digest = first.rpartition(" ")
        if recorded == _stamp(Path(path)) and len(digest) == 64:
            return digest
    except (OSError, ValueError):
        pass
    return None


def _prune_onnx_cache(cache: Path):
    """Delete the memos of checkpoints that were removed or rewritten, and the graphs no memo leads
    to, so that retrained or temporary checkpoints do not leave 13-26 MB graphs behind. Runs after an
    export only; files that another process is writing have hidden temporary names and are left alone."""
    live = set()
    for memo in cache.glob("[!.]*.sha256"):
        digest = _memo_digest(memo)
        if digest is None:
            memo.unlink(missing_ok=True)
        else:
            live.add(digest[:20])
    for graph in cache.glob("[!.]*-v*.onnx"):  # the graphs and their optimised copies
        if graph.name.partition("-")[0] not in live:
            graph.unlink(missing_ok=True)
