"""Shared file formats: atomic writes, checkpoints, run folders."""

import pytest
import torch

import search_spaces as S
from nas.atomic import atomic_path, write_json
from nas.errors import UserError
from nas.runs.folder import RunFolder, open_run, write_trials
from nas.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from search_spaces.known_cells import ENAS


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text().strip().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_checkpoint_round_trip(tmp_path):
    config = S.ModelConfig(channels=4, cells_per_stage=1)
    model = S.make_space("nasnet").build(ENAS, config).eval()
    save_checkpoint(
        tmp_path / "c.pt", Checkpoint(ENAS, {}, config, model.state_dict(), {"test_accuracy": 0.5})
    )
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded.arch == ENAS and loaded.model_config == config and loaded.metadata["test_accuracy"] == 0.5
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded.build()(x), model(x))


def test_checkpoint_errors(tmp_path):
    with pytest.raises(UserError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="is not a readable nas checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")


def test_run_folder_ranking(tmp_path):
    run = RunFolder(tmp_path / "r")
    rows = [
        {"trial_id": "a", "proposal": 0, "status": "completed", "val_accuracy": 0.5},
        {"trial_id": "b", "proposal": 1, "status": "failed", "error": "boom"},
        {"trial_id": "c", "proposal": 2, "status": "completed", "val_accuracy": 0.7},
    ]
    write_trials(run.trials_path, rows)
    assert [t["trial_id"] for t in run.ranked()] == ["c", "a"]
    assert run.candidate(2)["trial_id"] == "a"
    with pytest.raises(UserError, match="--rank 3 is out of range: run r has 2 completed candidates"):
        run.candidate(3)
    assert open_run("r", results_dir=tmp_path).path == run.path
    with pytest.raises(UserError, match="no run 'nope'"):
        open_run("nope", results_dir=tmp_path)
