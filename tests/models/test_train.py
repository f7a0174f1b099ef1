import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from pconvkit.cli import pconv
from pconvkit.files import write_png_atomic
from pconvkit.images import mask_to_png
from pconvkit.models.checkpoint import read_checkpoint
from pconvkit.models.train import TrainConfig, train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    for i in range(3):
        image = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
        image[:, :24] = image[:, :24] // 4 + 120  # some structure to learn
        write_png_atomic(root / "images" / f"{i}.png", image)
        valid = np.ones((40, 48), np.uint8)
        valid[10 + i : 20 + i, 10:30] = 0
        write_png_atomic(root / "masks" / f"{i}.png", mask_to_png(valid))
    return root


def config(data, out, steps, **changes):
    values = dict(
        images=str(data / "images"),
        masks=str(data / "masks"),
        out=str(out),
        size=32,
        batch_size=2,
        steps=steps,
        lr=2e-3,
        checkpoint_every=3,
        sample_every=100,
        unet=dict(layers=3, width=0.125, partial=True, hole_value="imagenet_mean"),
    )
    return TrainConfig(**{**values, **changes})


def test_training_reduces_the_loss(data, tmp_path):
    train(config(data, tmp_path, 40), log=lambda *_: None)
    log = pd.read_csv(tmp_path / "loss_log.csv")
    assert len(log) == 40
    assert log["total"].iloc[-8:].mean() < log["total"].iloc[:8].mean()
    state = read_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 40 and state["phase"] == 1 and state["metadata"]["uses_vgg"] is False


def test_loss_log_gets_every_step_once_when_fetched_in_groups(data, tmp_path, monkeypatch):
    import pconvkit.models.train

    monkeypatch.setattr(pconvkit.models.train, "LOG_EVERY", 4)
    train(config(data, tmp_path, 10, checkpoint_every=100), log=lambda *_: None)
    log = pd.read_csv(tmp_path / "loss_log.csv")
    assert list(log["step"]) == list(range(1, 11)) and log["total"].notna().all()
    assert read_checkpoint(tmp_path / "last.pt")["metadata"]["final_losses"]["total"] == pytest.approx(
        log["total"].iloc[-1], rel=1e-5
    )


def test_resume_reproduces_the_uninterrupted_run(data, tmp_path):
    train(config(data, tmp_path / "straight", 6), log=lambda *_: None)
    train(config(data, tmp_path / "split", 3), log=lambda *_: None)
    train(config(data, tmp_path / "split", 6), resume=str(tmp_path / "split" / "last.pt"), log=lambda *_: None)
    a = read_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = read_checkpoint(tmp_path / "split" / "last.pt")["model"]
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    assert (tmp_path / "straight" / "loss_log.csv").read_text() == (tmp_path / "split" / "loss_log.csv").read_text()


def test_the_phases_run_at_section_4_2s_learning_rates(data, tmp_path):
    """Phase 1 at 2e-4, the fine-tuning phase at 5e-5, as the paper states them (not PHASE_LR's)."""
    train(config(data, tmp_path, 1, lr=None), log=lambda *_: None)
    assert read_checkpoint(tmp_path / "last.pt")["optimizer"]["param_groups"][0]["lr"] == 2e-4
    train(config(data, tmp_path, 2, finetune=True, lr=None), resume=str(tmp_path / "last.pt"), log=lambda *_: None)
    assert read_checkpoint(tmp_path / "last.pt")["optimizer"]["param_groups"][0]["lr"] == 5e-5
    train(config(data, tmp_path / "own", 1, lr=3e-3), log=lambda *_: None)  # --lr overrides the phase's
    assert read_checkpoint(tmp_path / "own" / "last.pt")["optimizer"]["param_groups"][0]["lr"] == 3e-3


def test_finetune_freezes_encoder_batchnorm(data, tmp_path):
    train(config(data, tmp_path, 3), log=lambda *_: None)
    before = read_checkpoint(tmp_path / "last.pt")["model"]
    train(config(data, tmp_path, 6, finetune=True, lr=None), resume=str(tmp_path / "last.pt"), log=lambda *_: None)
    after = read_checkpoint(tmp_path / "last.pt")
    assert after["phase"] == 2 and after["config"]["finetune"]
    assert after["optimizer"]["param_groups"][0]["lr"] == 5e-5
    for key in before:
        if key.startswith("encoder.") and ".batchnorm." in key:
            assert torch.equal(before[key], after["model"][key]), key
    moved = [k for k in before if k.startswith("decoder.0.batchnorm.running_mean")]
    assert moved and not torch.equal(before[moved[0]], after["model"][moved[0]])


def train_args(data, out, *extra):
    """`pconv train` on DATA/images and DATA/masks into OUT."""
    return ["train", "--images", str(data / "images"), "--masks", str(data / "masks"), "--out", str(out), *extra]


def test_cli_errors_are_one_line(data, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        pconv,
        train_args(
            data, tmp_path, "--vgg-weights", str(tmp_path / "nope.pth"), "--steps", "1", "--size", "32", "--layers", "3"
        ),
    )
    assert result.exit_code != 0 and "VGG weights not found" in result.output and result.output.count("\n") == 1
    result = runner.invoke(
        pconv,
        train_args(data, tmp_path, "--size", "40"),
    )
    assert result.exit_code != 0 and "not divisible" in result.output
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    result = runner.invoke(
        pconv,
        [
            "inpaint",
            str(data / "images" / "0.png"),
            str(data / "masks" / "0.png"),
            "-o",
            str(tmp_path / "o.png"),
            "--checkpoint",
            str(tmp_path / "bad.pt"),
        ],
    )
    assert result.exit_code != 0 and "cannot read checkpoint" in result.output and result.output.count("\n") == 1


def test_worker_processes_give_the_same_run(data, tmp_path):
    train(config(data, tmp_path / "inline", 4), log=lambda *_: None)
    train(config(data, tmp_path / "workers", 4, workers=2), log=lambda *_: None)
    a = read_checkpoint(tmp_path / "inline" / "last.pt")["model"]
    b = read_checkpoint(tmp_path / "workers" / "last.pt")["model"]
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_time_limit_stops_with_a_checkpoint_that_resumes(data, tmp_path):
    messages = []
    train(config(data, tmp_path, 1000, max_seconds=0.0), log=messages.append)
    state = read_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 1 and any("time limit" in m for m in messages)
    train(config(data, tmp_path, 3), resume=str(tmp_path / "last.pt"), log=lambda *_: None)
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 3
    assert list(pd.read_csv(tmp_path / "loss_log.csv")["step"]) == [1, 2, 3]


def test_scale_jitter_crops_resized_images(data):
    from pconvkit.models.train import TrainingData

    native = TrainingData(config(data, "unused", 1))
    jittered = TrainingData(config(data, "unused", 1, scale_jitter=2.0))
    for step in range(4):
        images, masks = jittered.batch(0, step, 2)
        assert images.shape == (2, 3, 32, 32) and masks.shape == (2, 1, 32, 32)
    # the 40x48 training images scaled to a short side of 32-64 px are smoother than native crops
    roughness = lambda d: np.mean([d.batch(0, s, 2)[0].diff(dim=-1).abs().mean() for s in range(8)])
    assert roughness(jittered) < roughness(native)


def test_color_jitter_changes_hues_but_keeps_crops_valid(data):
    from pconvkit.models.train import TrainingData

    plain = TrainingData(config(data, "unused", 1))
    jittered = TrainingData(config(data, "unused", 1, color_jitter=1.0))
    plain_images, plain_masks = plain.batch(0, 0, 1)  # one crop: the same draws up to the jitter
    images, masks = jittered.batch(0, 0, 1)
    assert images.shape == plain_images.shape and torch.equal(masks, plain_masks)
    assert 0 <= images.min() and images.max() <= 1
    assert not torch.allclose(images, plain_images, atol=0.05)
    # hue and saturation change, brightness (HSV value = max over channels) does not
    assert torch.allclose(images.amax(dim=1), plain_images.amax(dim=1), atol=1e-4)


def test_ctrl_c_saves_the_step_and_the_same_command_continues_the_run(data, tmp_path, monkeypatch):
    import os
    import signal

    from pconvkit.models.train import TrainingData

    handler_before = signal.getsignal(signal.SIGINT)  # Python's, or SIG_IGN in a background job
    train(config(data, tmp_path / "straight", 6, checkpoint_every=100), log=lambda *_: None)
    batch = TrainingData.batch

    def interrupted_while_fetching_step_3(self, seed, step, *args, **kwargs):
        if step == 2:  # batches are numbered from 0: this one makes step 3
            os.kill(os.getpid(), signal.SIGINT)
        return batch(self, seed, step, *args, **kwargs)

    monkeypatch.setattr(TrainingData, "batch", interrupted_while_fetching_step_3)
    messages = []
    with pytest.raises(KeyboardInterrupt):
        train(config(data, tmp_path / "split", 6, checkpoint_every=100), log=messages.append)
    assert read_checkpoint(tmp_path / "split" / "last.pt")["step"] == 3  # the step under way was finished and saved
    assert any("interrupted at step 3" in m for m in messages)
    monkeypatch.undo()
    messages.clear()
    train(config(data, tmp_path / "split", 6, checkpoint_every=100), log=messages.append)  # the same command again
    assert any("continuing the run" in m and "from step 3" in m for m in messages)
    a = read_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = read_checkpoint(tmp_path / "split" / "last.pt")["model"]
    assert all(torch.allclose(a[key].float(), b[key].float(), atol=1e-6) for key in a)
    assert (tmp_path / "straight" / "loss_log.csv").read_text() == (tmp_path / "split" / "loss_log.csv").read_text()
    assert signal.getsignal(signal.SIGINT) == handler_before  # Ctrl-C is given back


def test_a_phase_2_command_run_again_continues_phase_2_instead_of_restarting_it(data, tmp_path):
    import shutil

    train(config(data, tmp_path, 3), log=lambda *_: None)
    shutil.copy(tmp_path / "last.pt", tmp_path / "phase1.pt")
    train(config(data, tmp_path, 5, finetune=True, lr=None), resume=str(tmp_path / "phase1.pt"), log=lambda *_: None)
    messages = []  # as if stopped at step 5 of 7: the recipe's command, again, with a new target
    train(config(data, tmp_path, 7, finetune=True, lr=None), resume=str(tmp_path / "phase1.pt"), log=messages.append)
    assert any("from step 5" in m for m in messages)
    assert list(pd.read_csv(tmp_path / "loss_log.csv")["step"]) == list(range(1, 8))


def test_a_phase_1_command_does_not_overwrite_a_phase_2_run(data, tmp_path):
    from pconvkit.errors import UserError

    train(config(data, tmp_path, 3), log=lambda *_: None)
    train(config(data, tmp_path, 5, finetune=True, lr=None), resume=str(tmp_path / "last.pt"), log=lambda *_: None)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(UserError, match="holds a phase-2 run at step 5"):
        train(config(data, tmp_path, 9), log=lambda *_: None)
    with pytest.raises(UserError, match="another network"):
        train(
            config(
                data,
                tmp_path,
                9,
                finetune=True,
                lr=None,
                unet=dict(layers=2, width=0.125, partial=True, hole_value="imagenet_mean"),
            ),
            resume=None,
            log=lambda *_: None,
        )
    assert (tmp_path / "last.pt").read_bytes() == before


@pytest.mark.slow
def test_device_pipeline_trains_and_resumes_exactly(data, tmp_path):
    """The batched torch pipeline (here on the CPU) trains, and its batches are a function of the step."""
    quiet = dict(log=lambda *_: None)
    train(config(data, tmp_path / "straight", 30, data_pipeline="device", scale_jitter=1.5, color_jitter=0.3), **quiet)
    log = pd.read_csv(tmp_path / "straight" / "loss_log.csv")
    assert log["total"].iloc[-6:].mean() < log["total"].iloc[:6].mean()
    assert read_checkpoint(tmp_path / "straight" / "last.pt")["metadata"]["data_pipeline"] == "device"
    train(config(data, tmp_path / "split", 15, data_pipeline="device", scale_jitter=1.5, color_jitter=0.3), **quiet)
    resume = str(tmp_path / "split" / "last.pt")
    train(
        config(data, tmp_path / "split", 30, data_pipeline="device", scale_jitter=1.5, color_jitter=0.3),
        resume,
        **quiet,
    )
    assert (tmp_path / "straight" / "loss_log.csv").read_text() == (tmp_path / "split" / "loss_log.csv").read_text()


def test_device_pipeline_refuses_super_resolution_in_one_line(data, tmp_path):
    from pconvkit.errors import UserError

    with pytest.raises(UserError, match="--task sr uses --data-pipeline workers"):
        train(config(data, tmp_path, 2, task="sr", masks=None, data_pipeline="device"), log=lambda *_: None)


def test_a_resume_can_add_the_fills_and_a_later_one_keeps_them(data, tmp_path):
    runner = CliRunner()
    small = ("--steps", "1", "--size", "32", "--layers", "3", "--width", "0.125", "--batch-size", "2")
    first = runner.invoke(pconv, train_args(data, tmp_path / "first", *small, "--kernel-range", "1,3"))
    assert first.exit_code == 0, first.output
    state = read_checkpoint(tmp_path / "first" / "last.pt")
    assert state["unet"]["skip_fill"] == state["unet"]["input_fill"] == 0
    assert tuple(state["config"]["kernel_range"]) == (1, 3)
    fills = ("--skip-fill", "3", "--input-fill", "2")
    resumed = train_args(data, tmp_path / "second", *small[2:], "--steps", "2", *fills)
    result = runner.invoke(pconv, [*resumed, "--resume", str(tmp_path / "first" / "last.pt")])
    assert result.exit_code == 0, result.output
    second = read_checkpoint(tmp_path / "second" / "last.pt")
    assert second["unet"] == {**state["unet"], "skip_fill": 3, "input_fill": 2} and second["step"] == 2
    again = train_args(data, tmp_path / "third", *small[2:], "--steps", "3")
    result = runner.invoke(pconv, [*again, "--resume", str(tmp_path / "second" / "last.pt")])
    assert result.exit_code == 0, result.output
    assert read_checkpoint(tmp_path / "third" / "last.pt")["unet"] == second["unet"]
    wrong = runner.invoke(pconv, train_args(data, tmp_path / "wrong", *small, "--kernel-range", "0,47"))
    assert wrong.exit_code != 0 and "not within 1-47" in wrong.output
