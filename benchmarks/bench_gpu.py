"""GPU speed of the partial convolution and of the whole Table-2 network (part (c) of the speed issue).

Side by side in one run on one GPU:
  layer    PartialConv2d against the NVIDIA-style reference (reference_partial_conv) on Table-2 shapes
           at 512x512 input, batch 1 and the paper's 6: forward and forward+backward time, and the peak memory the
           forward pass allocates.
  network  PConvUNet (Table 2, 32.9 M parameters) against the same U-Net with plain convolutions:
           ms per 512x512 image for inference at batch 1 and batched, in fp32 (PyTorch's default,
           which runs convolutions in TF32 on Ampere and later), mixed precision (fp16 autocast),
           mixed precision with channels_last, and that plus torch.compile; one training step at
           the paper's batch 6 in fp32 and mixed precision. The paper reports 0.029 s per 512x512
           image on a V100.

    python benchmarks/bench_gpu.py [--batch 16] [--repeats 20] [--no-compile] [--json results.json]

Times are means over `repeats` runs after warm-up, between CUDA synchronisations.
"""

import argparse
import json
import time

import torch
from bench_partialconv import layer_cases  # the same layer cases as the CPU benchmark

from pconvkit.models.unet import PConvUNet, UNetConfig

PAPER_V100_SECONDS = 0.029


def timed(function, repeats, device):
    """Mean seconds per call after two warm-up calls."""
    for _ in range(2):
        function()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_forward_bytes(function, device):
    """Bytes the forward pass allocates beyond what was allocated before it (CUDA only)."""
    if device.type != "cuda":
        return float("nan")
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    output = function()
    synchronize(device)
    del output
    return torch.cuda.max_memory_allocated(device) - before


def bench_layers(device, repeats, results, batch=1):
    print(f"layer vs reference, batch {batch}, fp32")
    print(
        f"{'layer':8} {'fwd ms':>7} {'ref':>7} {'x':>5} {'f+b ms':>7} {'ref':>7} {'x':>5} "
        f"{'peak MB':>8} {'ref':>8} {'ratio':>6}"
    )
    for case in layer_cases(device, batch):
        name, mask, full_mask, ours, reference = case.name, case.mask, case.full_mask, case.ours, case.reference
        with torch.no_grad():
            forward, forward_ref = timed(ours, repeats, device), timed(reference, repeats, device)
        both = timed(lambda: ours().sum().backward(), repeats, device)
        both_ref = timed(lambda: reference().sum().backward(), repeats, device)
        peak = peak_forward_bytes(ours, device) + mask.nbytes
        peak_ref = peak_forward_bytes(reference, device) + full_mask.nbytes
        row = dict(
            layer=name,
            batch=batch,
            forward_ms=forward * 1e3,
            forward_ref_ms=forward_ref * 1e3,
            forward_backward_ms=both * 1e3,
            forward_backward_ref_ms=both_ref * 1e3,
            peak_mb=peak / 2**20,
            peak_ref_mb=peak_ref / 2**20,
        )
        results["layers"].append(row)
        print(
            f"{name:8} {row['forward_ms']:7.3f} {row['forward_ref_ms']:7.3f} {forward_ref / forward:5.2f}"
            f" {row['forward_backward_ms']:7.3f} {row['forward_backward_ref_ms']:7.3f} {both_ref / both:5.2f}"
            f" {row['peak_mb']:8.1f} {row['peak_ref_mb']:8.1f} {peak / peak_ref:6.2f}"
        )


def bench_network(device, batch, repeats, use_compile, results, size=512):
    print(f"\nnetwork at {size}x{size} (Table 2), ms per image; paper: {PAPER_V100_SECONDS * 1e3:.0f} ms on a V100")
    print(f"{'mode':34} {'batch':>5} {'pconv':>8} {'plain':>8} {'overhead':>9}")
    modes = [
        ("fp32", False, False, False),
        ("amp fp16", True, False, False),
        ("amp fp16 + channels_last", True, True, False),
    ]
    if device.type != "cuda":  # fp16 autocast on a CPU measures nothing useful
        modes = modes[:1]
    if use_compile:
        modes.append(("amp fp16 + channels_last + compile", True, True, True))
    for mode, amp, channels_last, compiled in modes:
        for size_of_batch in (1, batch):
            seconds = {}
            for partial in (True, False):
                torch.manual_seed(0)
                model = PConvUNet(UNetConfig(partial=partial)).to(device).eval()
                image = torch.rand(size_of_batch, 3, size, size, device=device)
                mask = (torch.rand(size_of_batch, 1, size, size, device=device) > 0.3).float()
                if channels_last:
                    model = model.to(memory_format=torch.channels_last)
                    image, mask = (t.contiguous(memory_format=torch.channels_last) for t in (image, mask))
                run = torch.compile(model) if compiled else model

                def infer():
                    with torch.no_grad(), torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                        return run(image, mask)

                seconds[partial] = timed(infer, repeats, device) / size_of_batch
            row = dict(mode=mode, batch=size_of_batch, pconv_ms=seconds[True] * 1e3, plain_ms=seconds[False] * 1e3)
            results["network_inference"].append(row)
            print(
                f"{mode:34} {size_of_batch:5} {row['pconv_ms']:8.3f} {row['plain_ms']:8.3f}"
                f" {seconds[True] / seconds[False] - 1:8.1%}"
            )
    print(f"\none training step at {size}x{size}, batch 6 (forward, L1, backward, Adam), ms per step")
    for mode, amp in (("fp32", False), ("amp fp16", True))[: 2 if device.type == "cuda" else 1]:
        seconds = {}
        for partial in (True, False):
            torch.manual_seed(0)
            model = PConvUNet(UNetConfig(partial=partial)).to(device).train()
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
            scaler = torch.amp.GradScaler(device.type, enabled=amp)
            image = torch.rand(6, 3, size, size, device=device)
            mask = (torch.rand(6, 1, size, size, device=device) > 0.3).float()

            def step():
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                    output = model(image, mask)
                scaler.scale((output.float() - image).abs().mean()).backward()
                scaler.step(optimizer)
                scaler.update()

            seconds[partial] = timed(step, max(3, repeats // 2), device)
        row = dict(mode=mode, pconv_ms=seconds[True] * 1e3, plain_ms=seconds[False] * 1e3)
        results["network_training"].append(row)
        print(f"{mode:34} {row['pconv_ms']:8.1f} {row['plain_ms']:8.1f} {seconds[True] / seconds[False] - 1:8.1%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=16, help="The batched inference size.")
    parser.add_argument("--layer-batches", default="1,6", help="Batch sizes of the layer comparison.")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--size", type=int, default=512, help="Network input side (the paper's: 512).")
    parser.add_argument("--skip-layers", action="store_true")
    parser.add_argument("--json", default=None, help="Also write the numbers here.")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, {name}")
    results = dict(device=name, torch=torch.__version__, layers=[], network_inference=[], network_training=[])
    try:
        if not args.skip_layers:
            for batch in map(int, args.layer_batches.split(",")):
                bench_layers(device, args.repeats, results, batch)
        bench_network(device, args.batch, args.repeats, not args.no_compile, results, args.size)
    finally:
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
