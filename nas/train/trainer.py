"""The one training loop: search trials and final training both call `train_candidate` with a model builder.

Speed comes from keeping the host out of the step. The data sits on the device as uint8; a step gathers its batch
by index, augments it with tensor ops, runs forward/backward in bf16 autocast with channels_last, and updates the
weights with an SGD whose learning rate is a device tensor. None of that needs the host, so on a GPU the whole step
is captured once in a CUDA graph and replayed; the host only writes the batch indices, the LR and the drop-path
rate into fixed buffers. The loss is summed on the device and read once per epoch, which is also when NaN/inf is
caught. On the CPU (tests, CI) the same step runs eagerly in fp32.

Failures of the candidate (NaN loss, CUDA out of memory, any exception while building or training) come back as a
result with status "failed" and a one-line error; exceptions raised by the caller's `on_epoch` propagate.
"""

from __future__ import annotations

import gc
import logging
import math
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from nas.errors import UserError
from nas.train import augment
from nas.train.data import Splits
from nas.train.device import describe_device, resolve_device
from nas.train.evaluation import CHANNELS_LAST_ON_CPU, _norm, _passes
from nas.train.flip_rule import resolve_flip
from nas.train.optim import NesterovSGD, lr_at  # noqa: F401 - lr_at is part of this module's API
from nas.train.presets import Preset, TrainConfig
from search_spaces.ops import set_drop_path_rate
from search_spaces.stats import model_stats

log = logging.getLogger(__name__)

# What a run's curves hold, per finished epoch. The training loss and accuracy are means over the epoch's
# augmented batches while the weights changed; the validation ones are measured after the epoch in eval mode,
# with the same (label-smoothed) loss. lr: the learning rate of the epoch's last step. val_* are None without
# validation data (final training).
CURVE_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")

WARMUP_STEPS_BEFORE_CAPTURE = 3  # eager steps on a side stream first: cuDNN autotuning and lazy allocations
# must happen before capture, and every op must have run once outside it


@dataclass(frozen=True)
class CandidateResult:
    status: str  # completed | failed | stopped (time limit reached)
    val_curve: tuple[float, ...]  # validation accuracy after each finished epoch, in [0, 1]
    val_accuracy: float | None  # the last entry of val_curve; None when failed or trained without validation
    loss: float | None  # mean training loss of the last finished epoch
    params: int | None
    flops: int | None
    wall_s: float  # everything: build, data to device, training, validation
    images_per_s: float | None  # training images per second of training-step time (validation excluded)
    error: str | None  # one line; None unless failed
    epochs: int = 0  # epochs finished
    device: str = "cpu"
    batch_size: int | None = None  # the batch actually used (the preset's, capped at the training set size)
    cuda_graph: bool = False  # whether the training step ran as a captured CUDA graph
    state_dict: Mapping[str, torch.Tensor] | None = field(default=None, repr=False, compare=False)
    # the trained weights on the CPU (None when failed): load them into `build_model()` for the final evaluation
    # Per finished epoch (lists of equal length, CURVE_KEYS): what TensorBoard and `nas plot --curves` draw.
    curves: Mapping[str, list] = field(default_factory=dict, compare=False)
    flip: bool | None = None  # whether random horizontal flips were on (the recipe's flip, "auto" resolved)

    def record(self) -> dict[str, Any]:
        """The result without the weights, as plain JSON-able values (one trials row)."""
        return {
            "status": self.status,
            "val_curve": list(self.val_curve),
            "val_accuracy": self.val_accuracy,
            "loss": self.loss,
            "params": self.params,
            "flops": self.flops,
            "wall_s": self.wall_s,
            "images_per_s": self.images_per_s,
            "error": self.error,
            "epochs": self.epochs,
            "device": self.device,
            "batch_size": self.batch_size,
            "cuda_graph": self.cuda_graph,
            "curves": {k: list(v) for k, v in self.curves.items()},
            "flip": self.flip,
        }


class TrainingFailed(Exception):
    """The candidate cannot be trained as configured (diverged, unusable data); the message is one line."""


class _CallerError(Exception):
    """Carries an exception raised by the caller's on_epoch past the failure handler."""


def train_candidate(
    build_model: Callable[[], nn.Module],
    preset: Preset,
    data: Splits,
    *,
    device: str | torch.device | None = None,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
    time_limit_s: float | None = None,
) -> CandidateResult:
    """Train `build_model()` with `preset.train` on `data.train_*`, validating on `data.val_*` after every epoch.

    `on_epoch(epoch, val_accuracy)` is called after each epoch (epoch counts from 1) when there is validation data.
    With `time_limit_s`, training stops after the first epoch that ends past the limit (status "stopped").
    Seeds torch's generators with `seed` inside a forked RNG state, so the caller's RNG is left as it was.
    """
    start = time.perf_counter()
    try:
        dev = resolve_device(device)
    except UserError as e:
        return CandidateResult(
            "failed",
            (),
            None,
            None,
            None,
            None,
            time.perf_counter() - start,
            None,
            _first_line(e),
            device=str(device),
        )
    run = _Run(dev)
    error: str | None = None
    try:
        fork_devices = (
            [dev.index if dev.index is not None else torch.cuda.current_device()]
            if dev.type == "cuda"
            else []
        )
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            _train(run, build_model, preset, data, on_epoch, start, time_limit_s)
    except _CallerError as e:
        raise e.__cause__ from None
    except torch.cuda.OutOfMemoryError as e:
        error = f"CUDA out of memory at batch size {preset.train.batch_size} ({_first_line(e)}); use a smaller batch"
    except TrainingFailed as e:
        error = str(e)
    except Exception as e:  # any failure of the candidate is its result, never the caller's crash
        error = f"{type(e).__name__}: {_first_line(e)}"
    finally:
        _release(dev)
    status = "failed" if error is not None else run.status
    if error is not None:
        log.warning("candidate failed after %d epochs: %s", run.epochs, error)
    return CandidateResult(
        status=status,
        val_curve=tuple(run.val_curve),
        val_accuracy=run.val_curve[-1] if run.val_curve and error is None else None,
        loss=run.loss,
        params=run.params,
        flops=run.flops,
        wall_s=time.perf_counter() - start,
        images_per_s=run.images / run.train_s if run.train_s > 0 else None,
        error=error,
        epochs=run.epochs,
        device=describe_device(dev),
        batch_size=run.batch_size,
        cuda_graph=run.cuda_graph,
        state_dict=run.state_dict if error is None else None,
        curves=run.curves,
        flip=run.flip,
    )


def evaluate(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 1024,
    tta: bool = False,
    mean: tuple[float, ...] = augment.CIFAR10_MEAN,
    std: tuple[float, ...] = augment.CIFAR10_STD,
) -> float:
    """Top-1 accuracy of `model` on uint8 (N, H, W, 3) `images` normalised with `mean`/`std` (the training
    data's); with `tta`, softmax averaged with the mirrored image's. Moves the model to `device`."""
    dev = resolve_device(device)
    model.to(dev)
    if dev.type == "cuda" or CHANNELS_LAST_ON_CPU:
        model.to(memory_format=torch.channels_last)
    x, y = _to_device(images, labels, dev)
    return _evaluate(model, x, y, batch_size=batch_size, tta=tta, mean=mean, std=std)


def predict(
    model: nn.Module,
    images: np.ndarray,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 1024,
    mean: tuple[float, ...] = augment.CIFAR10_MEAN,
    std: tuple[float, ...] = augment.CIFAR10_STD,
) -> np.ndarray:
    """The predicted class of each uint8 (N, H, W, 3) image (what `evaluate` scores, without TTA)."""
    dev = resolve_device(device)
    model.to(dev)
    if dev.type == "cuda" or CHANNELS_LAST_ON_CPU:
        model.to(memory_format=torch.channels_last)
    x, y = _to_device(images, np.zeros(len(images), dtype=np.int64), dev)
    return _passes(model, x, y, batch_size=batch_size, mean=mean, std=std).predictions.cpu().numpy()


# ---- internals ---------------------------------------------------------------------------------------------


class _Run:
    """What a candidate has achieved so far; a failure result reports it as far as it got."""

    def __init__(self, dev: torch.device):
        self.dev = dev
        self.status = "completed"
        self.val_curve: list[float] = []
        self.loss: float | None = None
        self.params: int | None = None
        self.flops: int | None = None
        self.epochs = 0
        self.images = 0
        self.train_s = 0.0
        self.batch_size: int | None = None
        self.cuda_graph = False
        self.state_dict: dict[str, torch.Tensor] | None = None
        self.curves: dict[str, list] = {key: [] for key in CURVE_KEYS}
        self.flip: bool | None = None


def _train(
    run: _Run,
    build_model: Callable[[], nn.Module],
    preset: Preset,
    data: Splits,
    on_epoch: Callable[[int, float], None] | None,
    start: float,
    time_limit_s: float | None,
) -> None:
    """Check the data, build the model, put the data on the device, then train epoch by epoch."""
    cfg: TrainConfig = preset.train
    _check_data(data, preset)
    model = _build(run, build_model, preset)
    train_x, train_y = _to_device(data.train_images, data.train_labels, run.dev, cache_key=(data, "train"))
    val_x, val_y = _to_device(data.val_images, data.val_labels, run.dev, cache_key=(data, "val"))
    schedule = _Schedule.of(cfg, len(data.train_labels))
    run.batch_size = schedule.batch
    run.flip = resolve_flip(cfg.flip, data.train_images, data.train_labels)
    mean, std = _norm(data.mean, run.dev), _norm(data.std, run.dev)
    step = _Step(model, cfg, train_x, train_y, mean, std, schedule, flip=run.flip)
    stepper = _Stepper(step, want_graph=run.dev.type == "cuda" and cfg.cuda_graph)
    for epoch in range(schedule.epochs):
        if preset.model.drop_path > 0:
            set_drop_path_rate(model, preset.model.drop_path * epoch / schedule.epochs)  # DARTS: linear
        epoch_loss, epoch_s = stepper.run_epoch(len(data.train_labels))
        run.cuda_graph = stepper.graph is not None
        run.train_s += epoch_s
        run.images += schedule.steps_per_epoch * schedule.batch
        if not math.isfinite(epoch_loss):
            raise TrainingFailed(
                f"training loss became {epoch_loss} in epoch {epoch + 1} (peak lr {schedule.peak_lr:g} at batch "
                f"{schedule.batch}); the candidate diverged"
            )
        run.loss, run.epochs = epoch_loss, epoch + 1
        accuracy = val_loss = None
        if len(val_y):
            passes = _passes(
                model,
                val_x,
                val_y,
                batch_size=cfg.eval_batch_size,
                mean=data.mean,
                std=data.std,
                criterion=step.criterion,
            )
            accuracy, val_loss = passes.accuracy, passes.loss
        _add_point(run.curves, epoch + 1, epoch_loss, stepper.train_accuracy, val_loss, accuracy, stepper.lr)
        log.info(
            "epoch %d/%d loss %.4f%s %.0f img/s%s",
            epoch + 1,
            schedule.epochs,
            epoch_loss,
            f" val {accuracy:.4f}" if accuracy is not None else "",
            schedule.steps_per_epoch * schedule.batch / epoch_s,
            " (CUDA graph)" if stepper.graph is not None else "",
        )
        if accuracy is not None:
            _report(run, on_epoch, epoch + 1, accuracy)
        if (
            time_limit_s is not None
            and time.perf_counter() - start > time_limit_s
            and epoch + 1 < schedule.epochs
        ):
            log.info(
                "time limit of %.0f s reached after %d of %d epochs", time_limit_s, epoch + 1, schedule.epochs
            )
            run.status = "stopped"
            break
    run.state_dict = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    stepper.graph = None


def _check_data(data: Splits, preset: Preset) -> None:
    """Refuse data the model cannot train on, before anything is built."""
    if len(data.train_labels) == 0:
        raise TrainingFailed("the training split is empty; check --data and the preset's train_subset")
    if data.num_classes > preset.model.num_classes:
        # Checked here because an out-of-range label on a GPU is a device assert that poisons the process.
        raise TrainingFailed(
            f"the data has {data.num_classes} classes but the model outputs {preset.model.num_classes}"
        )
    if data.train_images.ndim == 4 and data.image_size != preset.model.image_size:
        raise TrainingFailed(
            f"the images are {data.image_size} pixels but the model was configured for "
            f"{preset.model.image_size}; fit the preset to the data (nas.train.presets.fit_preset)"
        )


def _build(run: _Run, build_model: Callable[[], nn.Module], preset: Preset) -> nn.Module:
    """The model on the device in training mode; its size and cost go into the run record."""
    model = build_model()
    size = preset.model.image_size
    stats = model_stats(model, (3, size, size))
    run.params, run.flops = stats.params, stats.flops
    model.to(run.dev)
    if run.dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # static shapes: autotuning pays off after the first steps
    if run.dev.type == "cuda" or CHANNELS_LAST_ON_CPU:
        model.to(memory_format=torch.channels_last)
    return model.train()


@dataclass(frozen=True)
class _Schedule:
    """Batch size, steps and learning-rate schedule of one training run."""

    batch: int
    steps_per_epoch: int
    total_steps: int
    peak_lr: float
    warmup_steps: int
    epochs: int  # the recipe's length for this training set (TrainConfig.epochs_for)

    @classmethod
    def of(cls, cfg: TrainConfig, n: int) -> _Schedule:
        batch = min(cfg.batch_size, n)
        # the partial last batch is dropped: a captured graph needs one static shape
        steps_per_epoch = n // batch
        epochs = cfg.epochs_for(n)
        total_steps = steps_per_epoch * epochs
        warmup_steps = min(round(cfg.warmup_epochs * steps_per_epoch), total_steps // 5)
        return cls(batch, steps_per_epoch, total_steps, cfg.scaled_lr(batch), warmup_steps, epochs)


class _Step:
    """One training step over fixed device buffers (batch indices, learning rate, loss sum): the unit that is
    captured in a CUDA graph and replayed."""

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig,
        train_x: torch.Tensor,
        train_y: torch.Tensor,
        mean: torch.Tensor,
        std: torch.Tensor,
        schedule: _Schedule,
        *,
        flip: bool = True,
    ):
        dev = train_x.device
        self.model, self.cfg, self.schedule, self.flip = model, cfg, schedule, flip
        self.channels_last = dev.type == "cuda" or CHANNELS_LAST_ON_CPU
        self.train_x, self.train_y, self.mean, self.std = train_x, train_y, mean, std
        self.cuda = dev.type == "cuda"
        self.lr = torch.zeros((), device=dev)
        self.optimizer = NesterovSGD(list(model.parameters()), self.lr, cfg.momentum, cfg.weight_decay)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.index = torch.zeros(schedule.batch, dtype=torch.long, device=dev)  # written before every step
        self.loss_sum = torch.zeros((), device=dev)
        self.correct_sum = torch.zeros((), dtype=torch.long, device=dev)  # on the augmented training batches

    def __call__(self) -> None:
        cfg = self.cfg
        self.model.zero_grad(set_to_none=True)
        x = augment.train_batch(
            self.train_x[self.index],
            self.mean,
            self.std,
            crop_padding=cfg.crop_padding,
            cutout_size=cfg.cutout,
            flip=self.flip,
        )
        y = self.train_y[self.index]
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        # cache_enabled=False: autocast's weight-cast cache must not outlive a graph capture
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.cuda, cache_enabled=False):
            out = self.model(x)
            if isinstance(out, tuple):
                logits, aux_logits = out
                loss = self.criterion(logits, y) + cfg.auxiliary_weight * self.criterion(aux_logits, y)
            else:
                logits = out
                loss = self.criterion(out, y)
        loss.backward()
        self.optimizer.step()
        self.loss_sum.add_(loss.detach().float())
        self.correct_sum.add_((logits.detach().argmax(1) == y).sum())


class _Stepper:
    """Runs the steps of an epoch: eagerly, or on CUDA as a graph captured after a few eager warm-up steps on a
    side stream (which falls back to eager when capture fails)."""

    def __init__(self, step: _Step, want_graph: bool):
        self.step = step
        self.want_graph = want_graph and step.schedule.total_steps > WARMUP_STEPS_BEFORE_CAPTURE
        self.side_stream = torch.cuda.Stream(step.train_x.device) if self.want_graph else None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.global_step = 0
        self.lr = 0.0  # the learning rate of the last step taken
        self.train_accuracy = 0.0  # of the last epoch, on its augmented batches

    def run_epoch(self, n: int) -> tuple[float, float]:
        """(mean training loss, seconds) of one epoch over a fresh permutation of the n training images."""
        step, schedule = self.step, self.step.schedule
        dev = step.train_x.device
        epoch_start = time.perf_counter()
        step.loss_sum.zero_()
        step.correct_sum.zero_()
        order = torch.randperm(n, device=dev)
        for s in range(schedule.steps_per_epoch):
            step.index.copy_(order[s * schedule.batch : (s + 1) * schedule.batch])
            self.lr = lr_at(self.global_step, schedule.total_steps, schedule.warmup_steps, schedule.peak_lr)
            step.lr.fill_(self.lr)
            if self.want_graph and self.graph is None and self.global_step >= WARMUP_STEPS_BEFORE_CAPTURE:
                self.graph = _capture(step, step.model)
                self.want_graph = self.graph is not None
            if self.graph is not None:
                self.graph.replay()
            elif self.side_stream is not None and self.global_step < WARMUP_STEPS_BEFORE_CAPTURE:
                self.side_stream.wait_stream(torch.cuda.current_stream(dev))
                with torch.cuda.stream(self.side_stream):
                    step()
                torch.cuda.current_stream(dev).wait_stream(self.side_stream)
            else:
                step()
            self.global_step += 1
        epoch_loss = (step.loss_sum / schedule.steps_per_epoch).item()  # the epoch's host syncs
        self.train_accuracy = step.correct_sum.item() / (schedule.steps_per_epoch * schedule.batch)
        return epoch_loss, time.perf_counter() - epoch_start


def _report(run: _Run, on_epoch: Callable[[int, float], None] | None, epoch: int, accuracy: float) -> None:
    run.val_curve.append(accuracy)
    if on_epoch is not None:
        try:
            on_epoch(epoch, accuracy)
        except BaseException as e:
            raise _CallerError() from e


def _capture(step: Callable[[], None], model: nn.Module) -> torch.cuda.CUDAGraph | None:
    """The training step as a CUDA graph, or None (logged) when this model or torch build cannot be captured;
    the caller then stays eager. Capture records kernels without running them, so no training step is lost."""
    graph = torch.cuda.CUDAGraph()
    try:
        torch.cuda.synchronize()
        with torch.cuda.graph(graph):
            step()
        return graph
    except Exception as e:
        log.warning(
            "CUDA graph capture failed, training eagerly instead (%s: %s)", type(e).__name__, _first_line(e)
        )
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        return None


def _evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    tta: bool = False,
    mean: tuple[float, ...] = augment.CIFAR10_MEAN,
    std: tuple[float, ...] = augment.CIFAR10_STD,
) -> float:
    return _passes(model, x, y, batch_size=batch_size, tta=tta, mean=mean, std=std).accuracy


def _add_point(
    curves: dict[str, list],
    epoch: int,
    train_loss: float,
    train_accuracy: float,
    val_loss: float | None,
    val_accuracy: float | None,
    lr: float,
) -> None:
    values = (epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr)
    for key, value in zip(CURVE_KEYS, values):
        curves[key].append(value)


_DEVICE_DATA: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _to_device(
    images: np.ndarray, labels: np.ndarray, dev: torch.device, cache_key: tuple[Splits, str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 NHWC numpy to uint8 NCHW on `dev`. Copies made for a Splits are kept while it lives, so candidates
    trained one after another in one process upload the data once."""
    if cache_key is not None:
        held = _DEVICE_DATA.setdefault(cache_key[0], {})
        key = (cache_key[1], str(dev))
        if key not in held:
            held[key] = _to_device(images, labels, dev)
        return held[key]
    check_fits(images, dev)
    # torch.tensor copies: the arrays are read-only, and torch must not hold a writable view of them
    x = torch.tensor(images, dtype=torch.uint8).to(dev).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(labels, dtype=torch.long).to(dev)
    return x, y


DATA_MEMORY_FRACTION = 0.5  # at most this share of the device's free memory holds data; the rest is for the
# model, its activations and other candidates sharing the device


def check_fits(images: np.ndarray, dev: torch.device) -> None:
    """Raise TrainingFailed, saying what would fit, when uint8 `images` (N, H, W, 3) would take more than half
    of the device's free memory (on the CPU: of the available RAM, counting the transient second copy)."""
    need = images.nbytes * (2 if dev.type == "cpu" else 1)
    free = _free_memory(dev)
    if free is None or need <= DATA_MEMORY_FRACTION * free:
        return
    n, h, w = images.shape[:3]
    per_image = need / max(n, 1)
    fits = int(DATA_MEMORY_FRACTION * free / per_image)
    smaller = next(
        (
            s
            for s in (64, 48, 32, 24, 16, 8)
            if s < h and n * s * s * 3 * need / images.nbytes <= DATA_MEMORY_FRACTION * free
        ),
        None,
    )
    hint = f", or --image-size {smaller} for all {n:,}" if smaller else ""
    raise TrainingFailed(
        f"the data does not fit on {dev}: {n:,} images at {h}x{w} take {_bytes(images.nbytes)} as uint8 "
        f"and {_bytes(free)} are free (at most {DATA_MEMORY_FRACTION:.0%} is used for data); about "
        f"{fits:,} images fit at this size{hint}"
    )


def _bytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _free_memory(dev: torch.device) -> int | None:
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _release(dev: torch.device) -> None:
    """Give a finished candidate's GPU memory back, so processes sharing the GPU (and the next candidate) get it."""
    if dev.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    return line if len(line) <= 300 else line[:297] + "..."
