"""Training (Section 4.2): Adam, phase 1 at lr 2e-4 with BatchNorm, then a fine-tuning phase at
lr 5e-5 with the encoder's BatchNorm frozen.

Batch k is a pure function of (seed, k, rank): random crops (and flips) of the training images and
masks drawn from the maskgen raw training pool with maskgen's augmentation. With the model and
optimizer restored, a resumed run therefore repeats the uninterrupted one exactly.
"""

import csv
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from pconvkit.errors import UserError
from pconvkit.files import write_png_atomic
from pconvkit.images import list_images, read_image, read_mask, to_uint8
from pconvkit.maskgen.augment import AugmentedMasks
from pconvkit.maskgen.bins import check_polarity
from pconvkit.maskgen.pool import load_pool, load_raw_mask
from pconvkit.models.checkpoint import read_checkpoint, save_checkpoint
from pconvkit.models.config import TrainConfig, UNetConfig
from pconvkit.models.crops import draw_crop, jitter_colours
from pconvkit.models.devices import pick_device
from pconvkit.models.loss import InpaintingLoss, LossWeights, load_vgg
from pconvkit.models.superres import lattice_mask
from pconvkit.models.unet import PConvUNet, composite

PHASE_LR = {1: 2e-4, 2: 5e-5}
LOG_EVERY = 50  # steps whose loss values are fetched from the device together


class _Batches(torch.utils.data.Dataset):
    """Batches first_step, first_step + 1, ... for a DataLoader's worker processes."""

    def __init__(self, data, config, first_step, rank, world):
        self.data, self.config, self.first_step, self.rank, self.world = data, config, first_step, rank, world

    def __len__(self):
        return max(0, self.config.steps - self.first_step)

    def __getitem__(self, index):
        return self.data.batch(self.config.seed, self.first_step + index, self.config.batch_size, self.rank, self.world)


class _Fixed:
    """The same mask for every item (super-resolution's lattice)."""

    def __init__(self, mask):
        self.mask = mask

    def __getitem__(self, index):
        return self.mask


class TrainingData:
    """Images in memory and the raw training masks, giving batch k deterministically."""

    def __init__(self, config: TrainConfig):
        self.size = config.size
        self.scale_jitter = config.scale_jitter
        self.color_jitter = config.color_jitter
        self.images = [read_image(p) for p in list_images(config.images)]
        self.raw_masks = None  # the raw pool, for the device pipeline
        if config.task == "sr":
            if config.size % config.factor:
                raise UserError(f"--size {config.size} is not a multiple of --factor {config.factor}")
            self.masks = _Fixed(lattice_mask(config.size, config.size, config.factor))
            return
        masks = Path(config.masks)
        if (masks / "raw" / "train" / "pool.csv").exists():
            rows = load_pool(masks, "train")
            raw_masks = [load_raw_mask(masks, "train", r["raw_id"]) for r in rows]
        else:
            paths = list_images(masks)
            raw_masks = [read_mask(p, config.hole_white) for p in paths]
            _check_training_masks(masks, paths, raw_masks, config)
        if not raw_masks:
            raise UserError(f"no training masks in {masks}")
        self.raw_masks = raw_masks
        self.masks = AugmentedMasks(raw_masks, config.size, config.seed, kernel_range=tuple(config.kernel_range))

    def batch(self, seed: int, step: int, batch_size: int, rank: int = 0, world: int = 1):
        """(images (B, 3, S, S), masks (B, 1, S, S)) as float tensors for step `step`."""
        rng = np.random.default_rng([seed, step, rank])
        images = [self._random_crop(self.images[rng.integers(len(self.images))], rng) for _ in range(batch_size)]
        first = (step * world + rank) * batch_size
        masks = [self.masks[first + j] for j in range(batch_size)]
        images = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        masks = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
        return images, masks

    def _random_crop(self, image, rng):
        draw = draw_crop(rng, image.shape[:2], self.size, self.scale_jitter, self.color_jitter)
        crop = image[draw.y : draw.y + draw.side, draw.x : draw.x + draw.side]
        if draw.side != self.size:
            interpolation = cv2.INTER_CUBIC if draw.side < self.size else cv2.INTER_AREA
            crop = cv2.resize(crop, (self.size, self.size), interpolation=interpolation).clip(0, 1)
        crop = np.ascontiguousarray(crop[:, ::-1] if draw.flip else crop)
        return jitter_colours(crop, draw) if self.color_jitter > 0 else crop


def _check_training_masks(folder, paths, masks, config: TrainConfig):
    """A plain mask folder must be read the right way round (the evidence `benchmark run` uses), and
    every mask must hold both hole and valid pixels: from one without either nothing is learnt."""
    ratios = [1 - float(m.mean()) for m in masks]
    if not config.mostly_hole:
        check_polarity(folder, ratios, config.hole_white)
    for path, ratio in zip(paths, ratios):
        if ratio in (0.0, 1.0):
            raise UserError(
                f"training mask {path} is all {'hole' if ratio else 'valid'}: nothing is learnt from it; "
                "remove it, or check the polarity (--hole-white)"
            )


@dataclass
class _Session:
    """What a training run holds between its setup and its loop."""

    out: Path
    device: torch.device
    rank: int
    world: int
    phase: int
    step: int
    model: PConvUNet
    network: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    criterion: InpaintingLoss
    scaler: torch.amp.GradScaler
    use_amp: bool
    metadata: dict


def train(config: TrainConfig, resume: str | None = None, log=print) -> Path:
    """Train until config.steps; returns the path of the last checkpoint."""
    session = _set_up(config, resume, log)
    stopping, interrupted = _loop(session, config)
    if session.world > 1:
        torch.distributed.destroy_process_group()
    last = session.out / "last.pt"
    if session.rank == 0 and interrupted:
        log(f"\ninterrupted at step {session.step}: {last} written; the same command continues from there")
    elif session.rank == 0 and stopping:
        log(f"\nstopped at step {session.step}: the time limit was reached")
    if interrupted:
        raise KeyboardInterrupt
    return last


def _set_up(config: TrainConfig, resume: str | None, log) -> _Session:
    """The device (and process group), the network at its starting point, the optimizer of the
    phase (Section 4.2), the loss of Eq. 7 and the checkpoint's metadata."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    device = pick_device(config.device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.manual_seed(config.seed)  # the initial weights depend on the seed alone
    model = PConvUNet(UNetConfig(**config.unet)).to(device)
    step, phase = 0, 2 if config.finetune else 1
    state = _starting_point(config, resume, phase, log if rank == 0 else lambda *_: None)
    if state is not None:
        model.load_state_dict(state["model"])
        step = state["step"]
    if phase == 2:
        if state is None:
            raise UserError("--finetune continues a phase-1 model: pass --resume CHECKPOINT")
        model.freeze_encoder_batchnorm()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=config.lr or PHASE_LR[phase])
    if state is not None and state.get("phase") == phase and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    vgg = load_vgg(config.vgg_weights).to(device) if config.vgg_weights else None
    if vgg is None and rank == 0:
        log(
            "warning: no --vgg-weights: training without the perceptual and style terms "
            "(VGG ImageNet weights cannot be downloaded; pass a torchvision vgg16 or vgg19 state-dict file)"
        )
    use_amp = config.amp and device.type == "cuda"
    metadata = {
        "uses_vgg": vgg is not None,
        "vgg": vgg.arch if vgg is not None else None,  # which network the perceptual and style terms used
        "vgg_feature_scale": vgg.feature_scale if vgg is not None else None,  # 1, or pixel-level weights' factor
        "loss_terms": "valid, hole, tv"
        + (", perceptual, style" if vgg is not None else " (perceptual and style off: no VGG weights)"),
        "device": str(device),
        "world_size": world,
    }
    return _Session(
        out=out,
        device=device,
        rank=rank,
        world=world,
        phase=phase,
        step=step,
        model=model,
        network=torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model,
        optimizer=optimizer,
        criterion=InpaintingLoss(vgg, LossWeights(**config.loss_weights)),
        scaler=torch.amp.GradScaler("cuda", enabled=use_amp),
        use_amp=use_amp,
        metadata=metadata,
    )


def _loop(session: _Session, config: TrainConfig) -> tuple[bool, bool]:
    """Steps until config.steps, the time limit or an interruption, with the log, sample grids and
    checkpoints on rank 0; returns (stopped by the time limit, interrupted)."""
    s = session
    data = TrainingData(config)  # its errors (no images, no masks) come before the log is touched
    log_path = s.out / "loss_log.csv"
    if s.rank == 0:
        _truncate_log(log_path, s.step)  # rows after the checkpoint we resume from would repeat
    started, last, pending = time.time(), None, []
    batches = _batch_source(data, config, s.step, s.rank, s.world, s.device)
    s.metadata["data_pipeline"] = "device" if isinstance(batches, _DeviceSource) else "workers"
    bar = tqdm(total=config.steps, initial=s.step, desc=f"train phase {s.phase}", unit="step", disable=s.rank != 0)
    s.model.train()
    stopping = False
    with _Interruption() as interruption:
        for images, masks in batches:
            images, masks = images.to(s.device, non_blocking=True), masks.to(s.device, non_blocking=True)
            output, terms = training_step(s.network, s.criterion, s.optimizer, s.scaler, images, masks, s.use_amp)
            s.step += 1
            late = config.max_seconds is not None and time.time() - started > config.max_seconds
            stopping = _decided_by_rank_0(late or interruption.requested, s.device, s.world)
            if s.rank == 0:  # the log, samples and checkpoints
                pending.append((s.step, {k: v.detach() for k, v in terms.items()}))
                bar.update()
                sampling = s.step % config.sample_every == 0 or s.step == config.steps
                checkpointing = s.step % config.checkpoint_every == 0 or s.step == config.steps or stopping
                if len(pending) >= LOG_EVERY or checkpointing:
                    last = _flush_log(log_path, s.phase, pending)
                    rate = config.batch_size * s.world * (bar.n - bar.initial) / (time.time() - started)
                    bar.set_postfix(loss=f"{last['total']:.4f}", samples_s=f"{rate:.1f}")
                if sampling:
                    _write_samples(s.out / f"samples_{s.step:07d}.png", images, masks, output.detach().float())
                if checkpointing:
                    s.metadata.update(final_losses=last, wall_seconds=round(time.time() - started, 1))
                    save_checkpoint(
                        s.out / "last.pt", s.model, s.optimizer, s.step, s.phase, asdict(config), s.metadata
                    )
            if stopping:
                break
        interrupted = _decided_by_rank_0(interruption.requested, s.device, s.world)
    bar.close()
    return stopping, interrupted


def training_step(network, criterion, optimizer, scaler, images, masks, use_amp: bool):
    """One optimisation step (mixed precision where use_amp); returns (output, loss terms)."""
    with torch.autocast(images.device.type, dtype=torch.float16, enabled=use_amp):
        output = network(images, masks)
    terms = criterion(output.float(), images, masks)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms["total"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return output, terms


class _DeviceSource:
    """Batches step, step + 1, ... made on the device (models/device_data.py)."""

    def __init__(self, data, config, first_step, rank, world, device):
        from pconvkit.models.device_data import DeviceBatches

        self.config, self.first_step, self.rank, self.world = config, first_step, rank, world
        self.batches = DeviceBatches(
            data.images,
            data.raw_masks,
            config.size,
            device,
            config.scale_jitter,
            config.color_jitter,
            tuple(config.kernel_range),
        )

    def __iter__(self):
        c = self.config
        for step in range(self.first_step, c.steps):
            yield self.batches.batch(c.seed, step, c.batch_size, self.rank, self.world)


def _batch_source(data, config, step, rank, world, device):
    """The device pipeline or the worker processes, as config.data_pipeline says."""
    pipeline = config.data_pipeline
    if pipeline == "auto":
        pipeline = "device" if device.type == "cuda" and data.raw_masks is not None else "workers"
    if pipeline == "device":
        if data.raw_masks is None:
            raise UserError("--data-pipeline device makes inpainting batches; --task sr uses --data-pipeline workers")
        return _DeviceSource(data, config, step, rank, world, device)
    return torch.utils.data.DataLoader(
        _Batches(data, config, step, rank, world),
        batch_size=None,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if config.workers else None,
    )


def _decided_by_rank_0(flag: bool, device, world) -> bool:
    """Rank 0's flag (its clock, its Ctrl-C) for all ranks, so that all stop at the same step."""
    if world == 1:
        return flag
    shared = torch.tensor([float(flag)], device=device)
    torch.distributed.broadcast(shared, 0)
    return bool(shared.item())


def _starting_point(config, resume, phase: int, log) -> dict | None:
    """The checkpoint to start from: --resume, or the run that OUT/last.pt holds when it is of the
    same phase and further on. Running an interrupted command again therefore continues it instead
    of starting over and overwriting it (a phase-2 command resuming phase1.pt, too)."""
    state = read_checkpoint(resume) if resume else None
    if state is not None and state["step"] >= config.steps:
        raise UserError(
            f"{resume} is at step {state['step']} already: --steps {config.steps} trains nothing "
            f"(--steps counts the total across phases: give more than {state['step']})"
        )
    last = Path(config.out) / "last.pt"
    if not last.exists() or (resume and last.resolve() == Path(resume).resolve()):
        return state
    held = read_checkpoint(last)
    if held["phase"] == phase and (state is None or held["step"] > state["step"]):
        if UNetConfig(**held["unet"]) != UNetConfig(**config.unet):
            raise UserError(f"{config.out} holds a run of another network ({held['unet']}): give another --out")
        log(f"continuing the run in {config.out} from step {held['step']} ({last}); give another --out to start afresh")
        return held
    if state is None:
        raise UserError(
            f"{config.out} holds a phase-{held['phase']} run at step {held['step']}: pass --resume {last} "
            "to continue it, or give another --out"
        )
    return state


class _Interruption:
    """Ctrl-C during training: the step under way finishes and is saved before the run stops
    (raising KeyboardInterrupt); a second Ctrl-C stops at once. DataLoader workers, forked inside,
    inherit the handler and so keep their batches coming until the loop lets them go."""

    def __enter__(self):
        self.requested = False
        try:
            self.previous = signal.signal(signal.SIGINT, self._request)
        except ValueError:  # not the main thread: Ctrl-C keeps its usual effect
            self.previous = None
        return self

    def _request(self, *_):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *_):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _flush_log(path: Path, phase: int, pending: list) -> dict:
    """Write the pending (step, loss terms) rows, all converted with one wait on the device;
    returns the last step's terms and empties `pending`."""
    names = list(pending[0][1])
    values = torch.stack([torch.stack([terms[n].float() for n in names]) for _, terms in pending]).tolist()
    fields = ["step", "phase", "total", "valid", "hole", "perceptual", "style_out", "style_comp", "tv"]
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        for (step, _), row in zip(pending, values):
            writer.writerow({"step": step, "phase": phase, **{n: f"{v:.6g}" for n, v in zip(names, row)}})
    pending.clear()
    return dict(zip(names, values[-1]))


def _truncate_log(path: Path, step: int):
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [
        line for line in lines[1:] if line.split(",", 1)[0].isdigit() and int(line.split(",", 1)[0]) <= step
    ]
    path.write_text("".join(kept))


def _write_samples(path, images, masks, output, count=4):
    """Rows of (input with hole, output, composited, ground truth)."""
    rows = []
    for i in range(min(count, images.shape[0])):
        image, mask, out = images[i : i + 1], masks[i : i + 1], output[i : i + 1].clamp(0, 1)
        tiles = [image * mask + (1 - mask), out, composite(out, image, mask), image]
        rows.append(np.hstack([t[0].permute(1, 2, 0).cpu().numpy() for t in tiles]))
    write_png_atomic(path, cv2.cvtColor(to_uint8(np.vstack(rows)), cv2.COLOR_RGB2BGR))
