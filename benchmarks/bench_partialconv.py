"""Speed and memory of the partial convolution, side by side in one run, reported as ratios.

(a) PartialConv2d against the straightforward reference of Eq. 1-2 (a full mask convolution with a
    (C_out, C_in, k, k) ones kernel and one ratio per output channel, as NVIDIA's layer computes it)
    on shapes of Table 2 at 512x512 input: forward time and forward+backward time, beside the bare
    convolution's (F.conv2d, no mask work: reference / bare is the most that any way of doing the
    mask work could gain with PyTorch's convolution), and the memory the
    forward adds for the backward pass: bytes of the tensors autograd saves, not counting the input
    features and the parameters (in the network the previous layer keeps its output anyway), plus
    the mask each layer is given (one channel for ours, C_in channels for the reference); and the
    forward's peak memory (a''): the most resident memory the forward (with autograd) adds, measured
    with Linux's peak-RSS counter in a separate process, plus the mask each layer is given (Linux,
    CPU only), beside the same for the bare convolution (no mask: the floor that the convolution
    library's own copies set).
(a') the layer with X * M built in bands of rows (its CPU default) against built whole, alternating.
(b) the whole PConvUNet against the same U-Net with plain convolutions: inference and one training
    step (forward, L1 loss, backward) at 256 and 512.

    python benchmarks/bench_partialconv.py [--repeats 5] [--sizes 256,512] [--device cpu]
"""

import argparse
import ctypes
import gc
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from pconvkit.models.partialconv import PartialConv2d, reference_partial_conv
from pconvkit.models.unet import PConvUNet, UNetConfig

# (name, C_in, C_out, kernel, stride, input side at 512x512)
TABLE2_SHAPES = [
    ("PConv2", 64, 128, 5, 2, 256),
    ("PConv3", 128, 256, 5, 2, 128),
    ("PConv5", 512, 512, 3, 2, 32),
    ("PConv13", 768, 256, 3, 1, 128),
    ("PConv15", 192, 64, 3, 1, 512),
]


def layer_cases(device, batch=1):
    """One case per Table-2 shape, the same on every device: the layer, its input x, a random
    one-channel mask, the C_in-channel mask the reference is given, and the two forward calls."""
    for name, c_in, c_out, k, stride, side in TABLE2_SHAPES:
        torch.manual_seed(0)
        conv = PartialConv2d(c_in, c_out, k, stride, k // 2).to(device)
        x = torch.rand(batch, c_in, side, side, device=device, requires_grad=True)
        mask = (torch.rand(batch, 1, side, side, device=device) > 0.3).float()
        full_mask = mask.expand(-1, c_in, -1, -1).contiguous()
        yield SimpleNamespace(
            name=name,
            shape=(c_in, c_out, k, stride, side),
            conv=conv,
            x=x,
            mask=mask,
            full_mask=full_mask,
            ours=_first_output(conv, x, mask),
            reference=_first_output(reference_partial_conv, conv, x, full_mask),
            bare=_bare_convolution(conv, x),
        )


def _bare_convolution(conv, x):
    """The layer's convolution on x with no mask work at all (F.conv2d, PyTorch's default choice)."""
    return lambda: F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding)


def _first_output(function, *args):
    """A call of function(*args) that returns only the output features (not the updated mask)."""
    return lambda: function(*args)[0]


def alternating_medians(jobs: dict, repeats: int) -> dict:
    """Median seconds per job over `repeats` rounds in which every job runs once, in turn, after a
    warm-up round, so that drifts in machine load hit all of them alike."""
    samples = {name: [] for name in jobs}
    for round_ in range(repeats + 1):
        for name, job in jobs.items():
            seconds = _seconds(job)
            if round_:
                samples[name].append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def saved_bytes(function, parameters=()):
    """Bytes of the distinct activation tensors autograd keeps for backward during `function()`
    (parameters, which exist anyway, are not counted)."""
    storages = {}
    skip = {p.untyped_storage().data_ptr() for p in parameters}

    def pack(tensor):
        pointer = tensor.untyped_storage().data_ptr()
        if pointer not in skip:
            storages[pointer] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output = function()
    return sum(storages.values()), output


def forward_peak_bytes(function):
    """The most resident memory `function()` adds while it runs (CPU; Linux's VmHWM, reset first).
    Meaningful after allocate_large_blocks_from_the_system()."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets the peak (VmHWM) to the current resident size
    before = _status_bytes("VmRSS")
    output = function()
    peak = _status_bytes("VmHWM")
    del output
    return peak - before


def _status_bytes(field):
    with open("/proc/self/status") as handle:
        return int(re.search(rf"{field}:\s+(\d+) kB", handle.read()).group(1)) * 1024


def allocate_large_blocks_from_the_system():
    """Blocks of 1 MiB or more are mapped from the system and given back when freed, so the resident
    size follows what is allocated. glibc's default keeps freed blocks for reuse, where a peak can
    hide; it is also faster, so timings are taken without this (in another process)."""
    ctypes.CDLL(None).mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD; a fixed value also stops glibc raising it


def bench_layer(repeats, device):
    print("(a) layer vs reference (NVIDIA-style: ones-kernel mask conv over all channels, ratio per output channel),")
    print("    and the bare convolution (no mask work): ref/conv is the most any mask implementation could gain")
    print(
        "    with this convolution; ours/conv is what our mask work costs on top of it. "
        "The three alternate run by run; medians"
    )
    print(
        f"{'layer':8} {'shape':>24} {'fwd ms':>8} {'ref':>8} {'conv':>8} {'x':>5} {'ref/conv':>8} {'ours/conv':>9}"
        f" {'f+b ms':>8} {'ref':>8} {'conv':>8} {'x':>5} {'ref/conv':>8} {'ours/conv':>9}"
    )
    kept_rows = []
    for case in layer_cases(device):
        conv, x, mask, full_mask = case.conv, case.x, case.mask, case.full_mask
        calls = {"ours": case.ours, "ref": case.reference, "conv": case.bare}
        with torch.no_grad():
            forward = alternating_medians(calls, repeats)
        both = alternating_medians({name: _forward_backward(call) for name, call in calls.items()}, repeats)
        cells = ""
        for ms in (forward, both):
            cells += (
                f" {ms['ours'] * 1e3:8.1f} {ms['ref'] * 1e3:8.1f} {ms['conv'] * 1e3:8.1f} {ms['ref'] / ms['ours']:5.2f}"
                f" {ms['ref'] / ms['conv']:8.2f} {ms['ours'] / ms['conv']:9.2f}"
            )
        print(f"{case.name:8} {str(case.shape):>24}{cells}")
        kept, _ = saved_bytes(case.ours, [x, *conv.parameters()])
        kept_ref, _ = saved_bytes(case.reference, [x, *conv.parameters()])
        kept += mask.nbytes  # our layer's mask input
        kept_ref += full_mask.nbytes  # the reference's multi-channel mask
        kept_rows.append((case.name, kept, kept_ref))
    print("\n(a) memory kept for the backward pass (saved tensors beyond input and parameters, plus the mask given)")
    print(f"{'layer':8} {'kept MB':>8} {'ref':>8} {'ratio':>6}")
    for name, kept, kept_ref in kept_rows:
        print(f"{name:8} {kept / 2**20:8.1f} {kept_ref / 2**20:8.1f} {kept / kept_ref:6.2f}")


def _forward_backward(call):
    return lambda: call().sum().backward()


def bench_layer_peak_memory():
    """The forward's peak memory (with autograd), ours and the reference's, each plus the mask it is
    given, and the bare convolution's (no mask work: the floor the convolution library sets)."""
    allocate_large_blocks_from_the_system()
    print("\n(a'') forward peak memory, CPU (Linux peak resident size; blocks of 1 MiB or more from the system)")
    print(f"{'layer':8} {'peak MB':>8} {'ref':>8} {'ratio':>6} {'bare conv':>9}")
    for case in layer_cases("cpu"):
        case.ours(), case.reference()  # warm-up: the convolution library's one-off allocations
        peak = forward_peak_bytes(case.ours) + case.mask.nbytes
        peak_ref = forward_peak_bytes(case.reference) + case.full_mask.nbytes
        peak_bare = forward_peak_bytes(case.bare)
        print(
            f"{case.name:8} {peak / 2**20:8.1f} {peak_ref / 2**20:8.1f} {peak / peak_ref:6.2f} {peak_bare / 2**20:9.1f}"
        )


def bench_bands(repeats, device):
    """The layer with X * M built in bands (the CPU default) against built whole, alternating."""
    print("\n(a') banded X * M (PartialConv2d.BAND_BYTES) against whole, alternating runs, medians")
    print(f"{'layer':8} {'fwd ms':>8} {'whole':>8} {'ratio':>6} {'f+b ms':>8} {'whole':>8} {'ratio':>6}")
    for case in layer_cases(device):
        banded_bytes = case.conv.band_bytes

        def with_bands(banded, call):
            def job():
                case.conv.band_bytes = banded_bytes if banded else None
                call()

            return job

        with torch.no_grad():
            forward = alternating_medians({banded: with_bands(banded, case.ours) for banded in (True, False)}, repeats)
        both = alternating_medians(
            {banded: with_bands(banded, _forward_backward(case.ours)) for banded in (True, False)}, repeats
        )
        print(
            f"{case.name:8} {forward[True] * 1e3:8.1f} {forward[False] * 1e3:8.1f} "
            f"{forward[True] / forward[False]:6.2f}"
            f" {both[True] * 1e3:8.1f} {both[False] * 1e3:8.1f} {both[True] / both[False]:6.2f}"
        )
        case.conv.band_bytes = banded_bytes


def _seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def bench_network(sizes, repeats, device):
    print(
        "\n(b) PConvUNet vs the same U-Net with plain convolutions (Table 2, 32.9 M parameters), batch 2;"
        " the two alternate run by run, medians"
    )
    print(
        f"{'size':>5} {'infer pconv s':>14} {'plain s':>8} {'overhead':>9} "
        f"{'train pconv s':>14} {'plain s':>8} {'overhead':>9}"
    )
    for size in sizes:
        jobs = {}
        for partial in (True, False):
            torch.manual_seed(0)
            model = PConvUNet(UNetConfig(partial=partial)).to(device)
            image = torch.rand(2, 3, size, size, device=device)  # batch 2: BatchNorm needs >1 value at 1x1
            mask = (torch.rand(2, 1, size, size, device=device) > 0.3).float()
            jobs[partial] = (_inference(model, image, mask), _training_step(model, image, mask))
        inference = alternating_medians({partial: jobs[partial][0] for partial in (True, False)}, repeats)
        training = alternating_medians({partial: jobs[partial][1] for partial in (True, False)}, repeats)
        pi, ci, pt, ct = inference[True], inference[False], training[True], training[False]
        print(f"{size:5} {pi:14.3f} {ci:8.3f} {pi / ci - 1:8.1%} {pt:14.3f} {ct:8.3f} {pt / ct - 1:8.1%}")


def _inference(model, image, mask):
    def run():
        model.eval()
        with torch.no_grad():
            model(image, mask)

    return run


def _training_step(model, image, mask):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run():
        model.train()
        optimizer.zero_grad()
        (model(image, mask) - image).abs().mean().backward()
        optimizer.step()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-layers", action="store_true")
    parser.add_argument("--skip-network", action="store_true")
    parser.add_argument("--peak-memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory_only:
        return bench_layer_peak_memory()
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    if not args.skip_layers:
        bench_layer(args.repeats, args.device)
        if torch.device(args.device).type in PartialConv2d.BAND_BYTES:
            bench_bands(args.repeats, args.device)
        if torch.device(args.device).type == "cpu" and Path("/proc/self/clear_refs").exists():
            # in a fresh process, whose allocator policy would slow the timings above
            subprocess.run([sys.executable, __file__, "--peak-memory-only"], check=True)
    if not args.skip_network:
        bench_network([int(s) for s in args.sizes.split(",")], args.repeats, args.device)


if __name__ == "__main__":
    main()
