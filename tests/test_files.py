"""Shared file formats: atomic writes, checkpoints, run folders."""

import dataclasses
import json

import pyarrow as pa
import pytest
import torch

import search_spaces as S
from nas.atomic import atomic_path, write_json
from nas.errors import UserError
from nas.runs.folder import RunFolder, open_run, write_trials
from nas.runs.trial import (
    TRIALS_SCHEMA,
    CandidateStatus,
    Trial,
    best_of,
    is_ranked,
    rank_key,
    result_fields,
)
from nas.searching.config import make_config, run_preset
from nas.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from nas.train.data_spec import RESIZE_POLICY, DataSpec, recorded_spec
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


def test_provenance_is_recorded_but_not_a_setting(tmp_path):
    import platform

    import torch

    from nas.provenance import provenance
    from nas.runs.folder import PROVENANCE_KEY
    from nas.searching.driver import load_run

    record = provenance()
    assert record["versions"]["torch"] == torch.__version__
    assert record["versions"]["python"] == platform.python_version()
    assert all(record["versions"][name] for name in ("nas", "torchvision", "ray"))
    run = RunFolder(tmp_path / "r")
    run.path.mkdir()
    write_json(run.config_path, {"name": "r", "space": "nb201", PROVENANCE_KEY: record})
    assert PROVENANCE_KEY not in run.config()
    assert load_run("r", tmp_path)[1].space == "nb201"  # a run with a provenance record resumes


# -- the records layer: Trial, its schema, the trials log --


def trial(proposal: int, accuracy: float | None = 0.5, status: str = "completed") -> Trial:
    return Trial(
        trial_id=f"t{proposal:05d}",
        proposal=proposal,
        arch="{}",
        arch_hash=f"h{proposal}",
        strategy="random",
        space="nb201",
        val_curve=[] if accuracy is None else [accuracy],
        val_accuracy=accuracy,
        status=status,
        error=None if status == "completed" else "boom",
    )


def test_the_trials_schema_is_derived_from_the_trial_record():
    assert TRIALS_SCHEMA.names == [f.name for f in dataclasses.fields(Trial)]
    assert TRIALS_SCHEMA.field("val_curve").type == pa.list_(pa.float64())
    assert (
        TRIALS_SCHEMA.field("params").type == pa.int64() and TRIALS_SCHEMA.field("arch").type == pa.string()
    )
    row = trial(3).to_row()
    assert Trial.from_row(row) == trial(3) and pa.Table.from_pylist([row], schema=TRIALS_SCHEMA).num_rows == 1


def test_results_are_appended_read_back_and_compacted(tmp_path):
    run = RunFolder(tmp_path)
    for n in range(3):
        run.append_trial(trial(n, 0.1 * n))
    assert not run.trials_path.exists() and [t["proposal"] for t in run.trials()] == [0, 1, 2]
    run.compact()
    assert run.trials_path.exists() and not run.trials_log_path.exists()
    run.append_trial(trial(3))
    assert [t["proposal"] for t in run.trials()] == [0, 1, 2, 3]
    assert run.ranked()[0]["proposal"] == 3


def test_a_torn_last_line_and_a_half_finished_compaction_read_back_once(tmp_path):
    run = RunFolder(tmp_path)
    run.append_trial(trial(0))
    run.append_trial(trial(1))
    run.compact(run.trials())
    run.append_trial(trial(1))  # as if killed between writing trials.parquet and emptying the log
    run.append_trial(trial(2))
    with open(run.trials_log_path, "a") as f:
        f.write('{"trial_id": "t00003", "propo')  # killed while appending
    assert [t["proposal"] for t in run.trials()] == [0, 1, 2]


def test_one_ranking_rule_with_ties_to_the_earlier_proposal():
    rows = [trial(2, 0.7).to_row(), trial(0, 0.5).to_row(), trial(1, 0.7).to_row()]
    rows.append(trial(3, None, "failed").to_row())
    assert best_of(rows)["proposal"] == 1
    assert [r["proposal"] for r in sorted(filter(is_ranked, rows), key=rank_key)] == [1, 2, 0]
    assert best_of([trial(3, None, "failed").to_row()]) is None


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ({"val_accuracy": float("nan")}, "val_accuracy is nan"),
        ({"val_accuracy": float("inf")}, "val_accuracy is inf"),
        ({"val_accuracy": 1.5}, "val_accuracy 1.5 is outside [0, 1]"),
        ({"val_accuracy": -0.1}, "outside [0, 1]"),
        ({"val_accuracy": "0.5"}, "val_accuracy is '0.5' (str), not a number"),
        ({"val_accuracy": True}, "not a number"),
        ({}, "the candidate reported no validation accuracy"),
        ({"val_accuracy": 0.5, "val_curve": [0.2, float("nan")]}, "val_curve[1] is nan"),
        ({"val_accuracy": 0.5, "val_curve": 0.5}, "val_curve is float, not a list"),
        ({"val_accuracy": 0.5, "params": -3}, "params is -3, not a non-negative number"),
        ({"val_accuracy": 0.5, "wall_s": "fast"}, "wall_s is 'fast'"),
    ],
)
def test_an_invalid_result_is_a_failed_candidate_with_the_reason(result, reason):
    fields = result_fields({"status": "completed", "val_curve": [0.5], **result})
    assert fields["status"] == CandidateStatus.FAILED and fields["val_accuracy"] is None
    assert fields["error"].startswith("invalid result: ") and reason in fields["error"]
    assert Trial(trial_id="t", proposal=0, arch="", arch_hash="", strategy="", space="", **fields)


def test_a_valid_result_is_recorded_as_given():
    fields = result_fields(
        {"status": "completed", "val_curve": [0.25, 0.5], "val_accuracy": 0.5, "params": 10.0, "flops": None}
    )
    assert fields == {
        "status": "completed",
        "val_curve": [0.25, 0.5],
        "val_accuracy": 0.5,
        "error": None,
        "params": 10,
        "flops": None,
        "wall_s": None,
        "images_per_s": None,
        "curves": None,
    }
    failed = result_fields({"status": "failed", "error": "RuntimeError: x"})
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError: x"


# -- the DataSpec, and what was recorded before it existed -----

OLD_DATASET = {  # config.json's `dataset` of a run written before the DataSpec
    "source": "classes /data/pets",
    "image_size": 48,
    "image_size_reason": "48: median image size 50 pixels (sqrt of width x height), rounded to 8",
    "num_classes": 3,
    "class_names": ["cat", "dog", "fish"],
    "mean": [0.5, 0.4, 0.3],
    "std": [0.2, 0.2, 0.2],
    "train_images": 90,
    "test_images": 30,
}


def test_a_run_config_from_before_the_data_spec_opens():
    config = make_config({"name": "old", "data": None, "dataset": OLD_DATASET})
    spec = config.data_spec
    assert spec.image_size == 48 and spec.class_names == ("cat", "dog", "fish") and spec.num_classes == 3
    assert (
        spec.mean == (0.5, 0.4, 0.3) and spec.resize == RESIZE_POLICY and "median" in spec.image_size_reason
    )
    assert recorded_spec({"dataset": OLD_DATASET}) == spec
    assert make_config(json.loads(json.dumps(config.to_dict()))) == config  # config.json round trip
    assert run_preset(config).model.num_classes == 3 and run_preset(config).model.image_size == 48


def test_a_checkpoint_from_before_the_data_spec_loads(tmp_path):
    config = S.ModelConfig(channels=4, cells_per_stage=1)
    model = S.make_space("nasnet").build(ENAS, config)
    save_checkpoint(tmp_path / "c.pt", Checkpoint(ENAS, {}, config, model.state_dict()))
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    assert payload["preprocessing"] is None and load_checkpoint(tmp_path / "c.pt").data_spec is None
    payload["preprocessing"] = {k: OLD_DATASET[k] for k in ("image_size", "mean", "std", "class_names")}
    torch.save(payload, tmp_path / "old.pt")
    spec = load_checkpoint(tmp_path / "old.pt").data_spec
    assert spec.image_size == 48 and spec.class_names == ("cat", "dog", "fish") and spec.std == (0.2,) * 3
    assert DataSpec.from_dict(spec.to_dict()) == spec
