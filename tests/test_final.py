import json
import sys

import numpy as np
import pytest
import torch

import search_spaces as S
from nas import cli
from nas.errors import UserError
from nas.runs.folder import write_trials
from nas.train import data as D
from nas.train.checkpoint import load_checkpoint
from nas.train.final import resolve_target, run_final
from search_spaces.known_cells import DARTS_V2
from tests.tiny_cifar import tiny_arrays, write_parquet


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(D, "_MEMORY", {})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is as fast, and robust when the cores are shared
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_data(tmp_path):
    return write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=4, per_class_test=3))


def nas(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["nas", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    return exit_info.value.code


def test_final_with_an_arch_file_writes_record_and_checkpoint(tmp_path, tiny_data, monkeypatch, capsys):
    arch_file = tmp_path / "darts.json"
    arch_file.write_text(S.to_json(DARTS_V2))
    out = tmp_path / "out"
    code = nas(
        monkeypatch,
        "final",
        "--arch",
        arch_file,
        "--preset",
        "smoke",
        "--data",
        tiny_data,
        "--output",
        out,
        "--device",
        "cpu",
        "--seed",
        "3",
    )
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "final.json").read_text())
    for key in (
        "test_accuracy",
        "test_accuracy_tta",
        "params",
        "flops",
        "epochs",
        "wall_s",
        "device",
        "torch_version",
        "versions",
        "command",
        "seed",
        "arch",
        "arch_hash",
        "preset",
    ):
        assert key in record, key
    assert 0.0 <= record["test_accuracy"] <= 1.0 and 0.0 <= record["test_accuracy_tta"] <= 1.0
    assert (
        record["test_images"] == 30 and record["train_images"] == 40
    )  # no validation split in final training
    assert record["seed"] == 3 and record["epochs"] == 1 and record["device"] == "cpu"
    assert record["arch_hash"] == S.canonical_hash(DARTS_V2) and record["preset"]["name"] == "smoke"
    checkpoint = load_checkpoint(out / "final.pt")
    assert checkpoint.arch == DARTS_V2 and checkpoint.model_config.channels == 4
    model = checkpoint.build()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert "test accuracy" in capsys.readouterr().out


def test_final_of_a_run_trains_its_best_candidate_into_the_run_folder(tmp_path, tiny_data):
    space = S.make_space("nasnet")
    archs = [space.sample(np.random.default_rng(i)) for i in range(3)]
    run = tmp_path / "results" / "r1"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"space": "nasnet", "space_options": space.options()}))
    rows = [
        {"trial_id": str(i), "proposal": i, "arch": S.to_json(a), "status": "completed", "val_accuracy": acc}
        for i, (a, acc) in enumerate(zip(archs, [0.5, 0.7, 0.6]))
    ]
    write_trials(run / "trials.parquet", rows)
    target = resolve_target("r1", results_dir=tmp_path / "results")
    assert target.arch == archs[1] and target.folder == run
    record = run_final(target, "smoke", data_path=tiny_data, device="cpu")
    assert (run / "final.pt").is_file() and json.loads((run / "final.json").read_text()) == json.loads(
        json.dumps(record)
    )


def test_missing_data_exits_2_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    arch_file = tmp_path / "darts.json"
    arch_file.write_text(S.to_json(DARTS_V2))
    out = tmp_path / "out"
    code = nas(
        monkeypatch,
        "final",
        "--arch",
        arch_file,
        "--preset",
        "smoke",
        "--data",
        tmp_path / "nowhere",
        "--output",
        out,
        "--device",
        "cpu",
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: no data at") and "--data PATH" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "huge"], "unknown preset 'huge'; choose one of smoke, cpu, proxy, final"),
        ([], "name a run (nas final RUN) or an architecture file"),
        (["--arch", "missing.json"], "no architecture file missing.json"),
        (["nope", "--results-dir", "."], "no run 'nope'"),
    ],
)
def test_bad_arguments_are_one_line_errors(monkeypatch, capsys, args, message):
    code = nas(monkeypatch, "final", *args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err


def test_training_failure_is_a_user_error_and_writes_nothing(tmp_path, tiny_data, monkeypatch):
    from nas.train import final as F
    from nas.train.trainer import CandidateResult

    monkeypatch.setattr(
        F,
        "train_candidate",
        lambda *a, **k: CandidateResult(
            "failed", (), None, None, None, None, 0.0, None, "training loss became nan in epoch 1"
        ),
    )
    target = F.FinalTarget(DARTS_V2, {}, tmp_path / "out")
    with pytest.raises(
        UserError, match="final training failed: training loss became nan in epoch 1; nothing"
    ):
        run_final(target, "smoke", data_path=tiny_data, device="cpu")
    assert not (tmp_path / "out").exists()


def test_final_records_curves_tensorboard_files_and_error_pictures(tmp_path, tiny_data, monkeypatch, capsys):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    arch_file = tmp_path / "darts.json"
    arch_file.write_text(S.to_json(DARTS_V2))
    out = tmp_path / "out"
    args = ["final", "--arch", arch_file, "--preset", "smoke", "--data", tiny_data, "--output", out]
    code = nas(monkeypatch, *args, "--device", "cpu", "--epochs", "2", "--flip", "off")
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    record = json.loads((out / "final.json").read_text())
    curves = record["curves"]
    assert curves["epoch"] == [1, 2] and record["epochs"] == 2 and record["flip"] is False
    assert len(curves["train_loss"]) == len(curves["train_accuracy"]) == len(curves["lr"]) == 2
    assert curves["val_accuracy"] == [None, None]  # final training holds out no validation images
    for name in ("confusion_matrix.png", "misclassified.png"):
        assert name in printed
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 0 and image.size[1] > 0
    events = EventAccumulator(str(out / "tensorboard" / "final"))
    events.Reload()
    assert [e.step for e in events.Scalars("loss/train")] == [1, 2]
    assert "lr" in events.Tags()["scalars"]


def test_final_trains_final_scale_times_a_candidates_length(tmp_path, tiny_data):
    import dataclasses

    from nas.train.presets import PRESETS

    smoke = PRESETS["smoke"]
    longer = dataclasses.replace(smoke, train=dataclasses.replace(smoke.train, final_scale=3.0))
    target = resolve_target(None, arch_file=_arch_file(tmp_path), output=tmp_path / "out")
    record = run_final(target, longer, data_path=tiny_data, device="cpu")
    assert record["epochs"] == 3 and len(record["curves"]["epoch"]) == 3


def _arch_file(tmp_path):
    path = tmp_path / "darts.json"
    path.write_text(S.to_json(DARTS_V2))
    return path
