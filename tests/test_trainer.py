import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

import search_spaces as S
from nas.train.data import Splits
from nas.train.presets import PRESETS, Preset, TrainConfig
from nas.train.trainer import NesterovSGD, evaluate, lr_at, train_candidate
from search_spaces import ModelConfig
from search_spaces.known_cells import DARTS_V2


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is as fast as two, and far faster when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def colour_splits(n_train: int, n_val: int, seed: int = 0) -> Splits:
    """Images whose class is their brightness (plus noise): learnable in a few steps by a tiny net."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = np.arange(n) % 10
        x = (y[:, None, None, None] * 25 + rng.integers(0, 10, (n, 32, 32, 3))).astype(np.uint8)
        return x, y.astype(np.int64)

    (tx, ty), (vx, vy) = make(n_train), make(n_val)
    return Splits(tx, ty, vx, vy, None, None, source="synthetic", seed=seed)


def palette_splits(n_train: int, n_val: int) -> Splits:
    """Each class a flat colour on a sphere around grey: every class is linearly separable by mean colour."""
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(10, 3))
    palette = 128 + 100 * directions / np.linalg.norm(directions, axis=1, keepdims=True)

    def make(n):
        y = np.arange(n) % 10
        x = palette[y][:, None, None, :] + rng.integers(-8, 9, (n, 32, 32, 3))
        return x.clip(0, 255).astype(np.uint8), y.astype(np.int64)

    (tx, ty), (vx, vy) = make(n_train), make(n_val)
    return Splits(tx, ty, vx, vy, None, None, source="synthetic", seed=0)


def tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def preset(epochs=2, batch=64, **train) -> Preset:
    return Preset(
        "test",
        ModelConfig(channels=2, cells_per_stage=1),
        TrainConfig(epochs=epochs, batch_size=batch, lr=0.4, warmup_epochs=0.0, **train),
    )


def test_darts_cell_with_aux_head_drop_path_and_cutout_trains_two_epochs_on_the_cpu():
    p = Preset(
        "test",
        ModelConfig(channels=2, cells_per_stage=1, drop_path=0.2, auxiliary=True),
        TrainConfig(epochs=2, batch_size=128, lr=0.1, cutout=8),
    )
    space = S.make_space("nasnet")
    seen = []
    result = train_candidate(
        lambda: space.build(DARTS_V2, p.model),
        p,
        colour_splits(512, 100),
        device="cpu",
        on_epoch=lambda e, a: seen.append((e, a)),
    )
    assert result.status == "completed", result.error
    assert len(result.val_curve) == 2 and all(0.0 <= a <= 1.0 for a in result.val_curve)
    assert seen == [(1, result.val_curve[0]), (2, result.val_curve[1])]
    assert result.val_accuracy == result.val_curve[-1] and result.epochs == 2 and result.error is None
    assert result.params > 0 and result.flops > 0 and result.images_per_s > 0 and math.isfinite(result.loss)
    assert result.batch_size == 128 and result.cuda_graph is False and result.device == "cpu"
    fresh = space.build(DARTS_V2, p.model)
    fresh.load_state_dict(result.state_dict)  # strict: the weights rebuild the model, aux head included
    assert "state_dict" not in result.record() and result.record()["val_curve"] == list(result.val_curve)


def test_training_learns_an_easy_task():
    result = train_candidate(tiny_net, preset(epochs=4, batch=64), palette_splits(512, 200), device="cpu")
    assert result.status == "completed", result.error
    assert result.val_accuracy > 0.6  # chance is 0.1


def test_same_seed_same_result_and_the_callers_rng_is_untouched():
    data = colour_splits(256, 50)
    before = torch.get_rng_state()
    a = train_candidate(tiny_net, preset(), data, device="cpu", seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    b = train_candidate(tiny_net, preset(), data, device="cpu", seed=1)
    c = train_candidate(tiny_net, preset(), data, device="cpu", seed=2)
    assert a.val_curve == b.val_curve and a.loss == b.loss
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert a.loss != c.loss


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = tiny_net()

    def forward(self, x):
        return self.net(x) * float("nan")


def test_nan_loss_is_a_failure_result_not_a_crash():
    result = train_candidate(Exploding, preset(), colour_splits(128, 20), device="cpu")
    assert result.status == "failed" and result.state_dict is None and result.val_accuracy is None
    assert result.error.startswith("training loss became nan in epoch 1") and "\n" not in result.error
    assert result.val_curve == ()


def test_exception_while_building_is_a_failure_result():
    def broken():
        raise RuntimeError("no such op\nsecond line")

    result = train_candidate(broken, preset(), colour_splits(128, 20), device="cpu")
    assert (result.status, result.error) == ("failed", "RuntimeError: no such op")


class BreaksInEpochTwo(nn.Module):
    def __init__(self):
        super().__init__()
        self.net, self.calls = tiny_net(), 0

    def forward(self, x):
        self.calls += self.training
        if self.calls > 2:
            raise ValueError("shape mismatch")
        return self.net(x)


def test_exception_mid_training_keeps_the_curve_so_far():
    result = train_candidate(BreaksInEpochTwo, preset(batch=64), colour_splits(128, 20), device="cpu")
    assert result.status == "failed" and result.error == "ValueError: shape mismatch"
    assert len(result.val_curve) == 1 and result.epochs == 1


def test_exceptions_from_on_epoch_reach_the_caller():
    class Stop(Exception):
        pass

    def stop(epoch, acc):
        raise Stop()

    with pytest.raises(Stop):
        train_candidate(tiny_net, preset(), colour_splits(128, 20), device="cpu", on_epoch=stop)


def test_time_limit_stops_after_the_current_epoch():
    result = train_candidate(
        tiny_net, preset(epochs=3), colour_splits(128, 20), device="cpu", time_limit_s=0.0
    )
    assert result.status == "stopped" and result.epochs == 1 and result.state_dict is not None


def test_more_classes_than_outputs_fails_before_training():
    data = colour_splits(128, 20)
    data = dataclasses.replace(data, train_labels=data.train_labels + 5)
    result = train_candidate(tiny_net, preset(), data, device="cpu")
    assert result.status == "failed" and "15 classes but the model outputs 10" in result.error


def test_missing_gpu_is_a_failure_result():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = train_candidate(tiny_net, preset(), colour_splits(128, 20), device="cuda")
    assert result.status == "failed" and "no CUDA GPU" in result.error


def test_batch_larger_than_the_data_is_capped_and_lr_scaled_with_it():
    result = train_candidate(tiny_net, preset(batch=4096, epochs=1), colour_splits(100, 20), device="cpu")
    assert result.status == "completed" and result.batch_size == 100
    assert PRESETS["proxy"].train.scaled_lr(512) == pytest.approx(2 * PRESETS["proxy"].train.lr)


def test_nesterov_sgd_matches_torch_sgd():
    torch.manual_seed(0)
    ours, ref = tiny_net(), tiny_net()
    ref.load_state_dict(ours.state_dict())
    lr = torch.tensor(0.05)
    opt = NesterovSGD(list(ours.parameters()), lr, momentum=0.9, weight_decay=5e-4)
    decay = [p for p in ref.parameters() if p.ndim > 1]
    no_decay = [p for p in ref.parameters() if p.ndim <= 1]
    torch_opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=0.05,
        momentum=0.9,
        nesterov=True,
    )
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 10, (16,))
    for step in range(4):
        for model, o in ((ours, opt), (ref, torch_opt)):
            model.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            o.step()
        if step == 1:
            lr.fill_(0.01)  # the schedule writes the tensor in place
            torch_opt.param_groups[0]["lr"] = torch_opt.param_groups[1]["lr"] = 0.01
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)


def test_lr_schedule_warms_up_then_decays_to_zero():
    lrs = [lr_at(s, 100, 10, 1.0) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0) and lrs[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.001


def test_evaluate_with_and_without_flip_tta():
    class Brightness(nn.Module):  # a perfect classifier of colour_splits images, and mirror-invariant
        def forward(self, x):
            level = (x.mean((1, 2, 3)) * 0.2470 + 0.4822) * 255
            return -((level[:, None] - (torch.arange(10) * 25 + 4.5)) ** 2)

    data = colour_splits(10, 100)
    assert evaluate(Brightness(), data.val_images, data.val_labels, device="cpu", batch_size=32) == 1.0
    assert (
        evaluate(Brightness(), data.val_images, data.val_labels, device="cpu", batch_size=32, tta=True) == 1.0
    )
    assert evaluate(Brightness(), data.val_images, (data.val_labels + 1) % 10, device="cpu") == 0.0


# -- the recipe's length follows the data; curves --


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"images_seen": 0}, "images_seen=0"),
        ({"min_steps": -1}, "min_steps=-1"),
        ({"final_scale": 0.0}, "final_scale=0.0"),
        ({"flip": "sometimes"}, "flip='sometimes' must be one of auto, on, off"),
    ],
)
def test_new_recipe_keys_are_validated_with_one_line_errors(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        TrainConfig(epochs=1, batch_size=8, lr=0.1, **changes)
    assert "\n" not in str(error.value)


def test_training_length_follows_the_data():
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.3, images_seen=21_000)
    assert cfg.epochs_for(7000) == 3  # 109 steps of 64 per epoch: 20,928 images in 3 epochs
    assert cfg.epochs_for(1293) == 16  # digits' training split: 20 steps per epoch
    assert cfg.epochs_for(100_000) == 1  # never fewer than one epoch
    steps = TrainConfig(epochs=1, batch_size=64, lr=0.3, min_steps=300)
    assert steps.epochs_for(640) == 30 and steps.epochs_for(64_000) == 1  # at least 300 steps
    assert steps.epochs_for(10) == 300  # the batch shrinks to the data: one step per epoch
    fixed = TrainConfig(epochs=5, batch_size=64, lr=0.3)
    assert fixed.epochs_for(10) == fixed.epochs_for(50_000) == 5  # no images_seen: epochs as given


def test_final_recipe_trains_final_scale_times_longer_and_epochs_overrides_it():
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.3, images_seen=21_000, min_steps=10, final_scale=2.0)
    final = cfg.for_final()
    assert (final.images_seen, final.min_steps, final.final_scale) == (42_000, 20, 1.0)
    assert (cfg.epochs_for(1437), final.epochs_for(1437)) == (15, 30)  # 22 steps of 64 per epoch
    assert PRESETS["cpu"].train.for_final().epochs_for(7000) == 6
    exact = cfg.with_epochs(40)
    assert exact.epochs_for(1437) == exact.epochs_for(50_000) == 40


def test_a_tiny_dataset_gets_its_minimum_steps_and_the_curves_record_every_epoch():
    p = preset(epochs=1, batch=32, min_steps=12)
    data = colour_splits(64, 20)  # 2 steps per epoch: 6 epochs reach 12 steps
    result = train_candidate(tiny_net, p, data, device="cpu", seed=0)
    assert result.status == "completed" and result.epochs == 6
    curves = result.record()["curves"]
    assert curves["epoch"] == [1, 2, 3, 4, 5, 6]
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert len(curves[key]) == 6 and all(v is not None and math.isfinite(v) for v in curves[key]), key
    assert curves["val_accuracy"] == list(result.val_curve)
    assert all(0.0 <= a <= 1.0 for a in curves["train_accuracy"])
    assert curves["lr"][-1] < curves["lr"][0]  # cosine decay to 0 at the end
    assert curves["train_loss"][-1] < curves["train_loss"][0]


def test_flip_auto_turns_flips_off_for_left_right_asymmetric_classes_and_on_for_symmetric_ones():
    rng = np.random.default_rng(0)
    n = 40
    y = np.arange(n) % 2
    x = rng.integers(0, 20, (n, 32, 32, 3)).astype(np.uint8)
    # class 0 bright on the left half, class 1 on the right: each is the other's mirror image
    x[y == 0, :, :16] += 200
    x[y == 1, :, 16:] += 200
    asymmetric = Splits(x, y, x[:4], y[:4], None, None, source="synthetic", seed=0)
    off = train_candidate(tiny_net, preset(epochs=1, batch=20), asymmetric, device="cpu")
    forced = train_candidate(tiny_net, preset(epochs=1, batch=20, flip="on"), asymmetric, device="cpu")
    symmetric = train_candidate(tiny_net, preset(epochs=1, batch=20), colour_splits(40, 10), device="cpu")
    assert (off.flip, forced.flip, symmetric.flip) == (False, True, True)
    assert off.record()["flip"] is False


def test_a_search_candidates_curves_reach_its_trials_row_and_tensorboard(tmp_path):
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from nas.runs.folder import read_trials, write_trials
    from nas.runs.trial import result_fields
    from nas.searching.candidate import CandidateRequest
    from nas.train.curves import write_trial_tensorboard

    space = S.make_space("nb201")
    arch = space.sample(np.random.default_rng(0))
    request = CandidateRequest(
        proposal=0,
        arch_json=S.to_json(arch),
        space="nb201",
        space_options=space.options(),
        preset=preset(epochs=2, batch=32).to_dict(),
        dataset=colour_splits(64, 20),
    )
    from nas.searching.train_trial import evaluate_candidate

    record = evaluate_candidate(request, lambda epoch, accuracy: None)
    assert record["status"] == "completed" and isinstance(record["curves"], str)  # JSON text through Ray
    row = {"trial_id": "t00000", "proposal": 0, **result_fields(record)}
    write_trials(tmp_path / "trials.parquet", [row])
    (stored,) = read_trials(tmp_path / "trials.parquet")
    curves = json.loads(stored["curves"])
    assert curves["epoch"] == [1, 2] and curves["val_accuracy"] == record["val_curve"]
    folder = write_trial_tensorboard(tmp_path, stored, request.preset, record)
    events = EventAccumulator(str(folder))
    events.Reload()
    steps = [(e.step, round(e.value, 5)) for e in events.Scalars("accuracy/val")]
    assert steps == [(i + 1, round(a, 5)) for i, a in enumerate(record["val_curve"])]
    assert folder == tmp_path / "tensorboard" / "t00000"
