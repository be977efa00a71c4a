"""Own datasets: image folders, Parquet with any labels and torchvision names; the networks fitted to their
classes and size; bad data refused in one line; and the whole path search -> final -> export -> predict."""

import io
import json
import os
import socket
import sys
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
import torch
from PIL import Image

import nas as nas_api
import search_spaces as S
from nas import cli
from nas.errors import UserError
from nas.searching.config import make_config
from nas.train import data as D
from nas.train import images
from nas.train.checkpoint import load_checkpoint
from nas.train.data_spec import RESIZE_POLICY, DataSpec, cifar10_spec
from nas.train.final import transfer_weights
from nas.train.presets import PRESETS, fit_preset
from nas.train.trainer import TrainingFailed, check_fits
from search_spaces import ModelConfig
from tests import ray_env
from tests.own_images import CLASSES, write_image_folder

ray_env.apply()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(D, "_MEMORY", {})


def nas(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["nas", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    return exit_info.value.code


def arch_file(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(S.to_json(S.make_space("nb201").sample(np.random.default_rng(0))))
    return path


# ---- reading -----------------------------------------------------------------------------------------------


def test_image_folder_with_mixed_sizes_grayscale_and_rgba_becomes_one_rgb_size(tmp_path):
    data = D.load_dataset(write_image_folder(tmp_path / "imgs"))
    # 48x40 and 56x44 images: median sqrt(w*h) 46.7 -> 48, a multiple of 8 (stem stride 2, two reductions)
    assert data.image_size == 48 and "median image size" in data.image_size_reason
    assert data.train_images.shape == (27, 48, 48, 3) and data.test_images.shape == (9, 48, 48, 3)
    assert data.class_names == CLASSES
    assert np.bincount(data.train_labels).tolist() == [9, 9, 9]
    # image 1 of every class was saved grayscale: R = G = B after conversion
    gray = data.train_images[0]  # blue_rings_001: saved grayscale (image 000 is a test image)
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    mean, std = images.normalization(data.train_images)
    assert data.mean == mean and data.std == std and data.mean != D.CIFAR10_MEAN


def test_explicit_image_size_and_sizes_the_networks_cannot_halve(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    assert D.load_dataset(root, image_size=32).train_images.shape[1:] == (32, 32, 3)
    assert D.load_dataset(root, image_size=64).train_images.shape[1:] == (64, 64, 3)
    with pytest.raises(UserError, match="image size 36 cannot be halved evenly .* multiple of 8, such as 32"):
        D.load_dataset(root, image_size=36)
    with pytest.raises(UserError, match="image size 4 must be between 8 and 512"):
        D.load_dataset(root, image_size=4)


def test_auto_size_rule():
    assert D.auto_image_size([(28, 28)] * 3)[0] == 28
    assert D.auto_image_size([(8, 8)])[0] == 8
    assert D.auto_image_size([(32, 32), (33, 31)])[0] == 32
    size, reason = D.auto_image_size([(640, 480)] * 5)
    assert size == 64 and "capped at 64" in reason


def test_single_class_folder_is_split_per_class_with_a_fixed_seed(tmp_path):
    root = write_image_folder(tmp_path / "imgs", per_class=10, split=False)
    a = D.load_dataset(root, test_fraction=0.2)
    assert (
        np.bincount(a.test_labels).tolist() == [2, 2, 2] and np.bincount(a.train_labels).tolist() == [8] * 3
    )
    D._MEMORY.clear()
    b = D.load_dataset(root, test_fraction=0.2)
    np.testing.assert_array_equal(a.test_images, b.test_images)
    c = D.load_dataset(root, test_fraction=0.5)
    assert np.bincount(c.test_labels).tolist() == [5, 5, 5]
    with pytest.raises(UserError, match="test fraction 1.0 must be between 0 and 1"):
        D.load_dataset(root, test_fraction=1.0)


def test_parquet_with_three_named_labels_from_hugging_face_metadata(tmp_path):
    rng = np.random.default_rng(0)
    names = ["cat", "dog", "owl"]
    features = {"img": {"_type": "Image"}, "label": {"names": names, "_type": "ClassLabel"}}
    for split, n in (("train", 12), ("test", 6)):
        blobs = []
        for _ in range(n):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(buf, "PNG")
            blobs.append(buf.getvalue())
        table = pa.table(
            {"image": pa.array(blobs, pa.binary()), "label": pa.array([i % 3 for i in range(n)])}
        )
        meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
        pq.write_table(table.replace_schema_metadata(meta), tmp_path / f"{split}.parquet")
    data = D.load_dataset(tmp_path)
    assert data.class_names == ("cat", "dog", "owl") and data.image_size == 20
    splits = D.load_splits(tmp_path, val_size=3)
    assert splits.num_classes == 3 and splits.class_names == ("cat", "dog", "owl")


def test_parquet_with_string_labels(tmp_path):
    rng = np.random.default_rng(1)
    for split, labels in (("train", ["b", "a", "c", "a", "b", "c"]), ("test", ["a", "c"])):
        blobs = []
        for _ in labels:
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buf, "PNG")
            blobs.append(buf.getvalue())
        pq.write_table(pa.table({"image": blobs, "label": labels}), tmp_path / f"{split}.parquet")
    data = D.load_dataset(tmp_path)
    assert data.class_names == ("a", "b", "c") and data.train_labels.tolist() == [1, 0, 2, 0, 1, 2]


@pytest.mark.parametrize("name", ["mnist", "fashionmnist", "cifar100", "svhn", "cifar10"])
def test_torchvision_names_fail_fast_offline(name, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(UserError, match="cannot be downloaded .*unreachable.*pass --data PATH"):
        D.load_dataset(name)


def test_grayscale_arrays_become_three_channels_at_the_requested_size():
    gray = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    out = images.resize_all(gray, 28)
    assert (
        out.shape == (2, 28, 28, 3)
        and np.array_equal(out[..., 0], gray)
        and np.array_equal(out[..., 2], gray)
    )
    assert images.resize_all(gray, 32).shape == (2, 32, 32, 3)


def test_transparency_is_laid_over_white():
    rgba = Image.fromarray(np.zeros((10, 10, 4), np.uint8))  # black, fully transparent
    assert (D.to_rgb_array(rgba, 10) == 255).all()


# ---- bad data: one line, exit 2, nothing written -----------------------------------------------------------


def _unreadable(root):
    (root / "train" / CLASSES[0] / "broken.png").write_bytes(b"not an image")


def _empty_class(root):
    (root / "train" / "empty_class").mkdir()


def _test_only_class(root):
    (root / "test" / "ghost").mkdir()
    (root / "train" / CLASSES[0] / "blue_rings_001.png").replace(root / "test" / "ghost" / "x.png")


def _single_class(root):
    import shutil

    for name in CLASSES[1:]:
        shutil.rmtree(root / "train" / name)
        shutil.rmtree(root / "test" / name)


@pytest.mark.parametrize(
    "spoil, message",
    [
        (_unreadable, "broken.png is not a readable image"),
        (_empty_class, "class folder empty_class holds no images"),
        (_test_only_class, "has classes \\['ghost'\\] that .* lacks"),
        (_single_class, "has only 1 class \\(blue_rings\\); a classifier needs at least 2"),
    ],
)
def test_bad_data_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, capsys, spoil, message):
    import re

    root = write_image_folder(tmp_path / "imgs", per_class=4)
    spoil(root)
    out = tmp_path / "out"
    code = nas(
        monkeypatch, "final", "--arch", arch_file(tmp_path), "--preset", "smoke", "--data", root,
        "--output", out, "--device", "cpu",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert not out.exists()


def test_class_without_test_images_is_accepted_with_a_warning(tmp_path, caplog):
    root = write_image_folder(tmp_path / "imgs", per_class=8)
    for f in (root / "test" / CLASSES[2]).iterdir():
        f.unlink()
    data = D.load_dataset(root)
    assert len(data.class_names) == 3 and 2 not in data.test_labels.tolist()
    assert "have no test images (red_dots)" in caplog.text


def test_non_image_files_are_ignored(tmp_path):
    root = write_image_folder(tmp_path / "imgs", per_class=4)
    (root / "train" / CLASSES[0] / "notes.txt").write_text("not an image")
    (root / "train" / CLASSES[0] / ".DS_Store").write_bytes(b"\0")
    assert len(D.load_dataset(root).train_labels) == 9


def test_data_that_does_not_fit_says_what_would(monkeypatch):
    from nas.train import trainer

    images = np.zeros((1000, 64, 64, 3), np.uint8)  # 12 MiB
    monkeypatch.setattr(trainer, "_free_memory", lambda dev: 10 * 2**20)
    with pytest.raises(
        TrainingFailed, match="about 213 images fit at this size, or --image-size 24 for all 1,000"
    ):
        check_fits(images, torch.device("cpu"))
    monkeypatch.setattr(trainer, "_free_memory", lambda dev: 10 * 2**30)
    check_fits(images, torch.device("cpu"))


# ---- networks fitted to the data ---------------------------------------------------------------------------


@pytest.mark.parametrize("space", sorted(S.SPACES))
@pytest.mark.parametrize("size", [8, 28, 48, 64, 128])
def test_networks_take_any_size_at_about_cifar_cost(space, size):
    sp = S.make_space(space)
    arch = sp.sample(np.random.default_rng(0))
    preset = fit_preset(PRESETS["smoke"], spec(5, size))
    assert preset.model.stem_stride == D.stem_stride(size) and preset.model.num_classes == 5
    model = sp.build(arch, preset.model).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, size, size))
    assert out.shape == (2, 5)
    assert preset.model.image_size / preset.model.stem_stride <= 32


def spec(num_classes: int, size: int) -> DataSpec:
    return replace(cifar10_spec(num_classes, size), mean=(0.5,) * 3)


def test_augmentation_scales_with_the_size():
    base = PRESETS["final"]
    assert fit_preset(base, spec(10, 32)) == base  # CIFAR-10: the preset itself
    assert fit_preset(base, None) == base
    big = fit_preset(base, spec(10, 64))
    assert big.train.crop_padding == 8 and big.train.cutout == 32
    assert fit_preset(base, spec(10, 8)).train.crop_padding == 1


def test_transfer_keeps_every_fitting_tensor_and_renews_the_classifier():
    sp = S.make_space("nb201")
    arch = sp.sample(np.random.default_rng(0))
    old = sp.build(arch, ModelConfig(channels=4, cells_per_stage=1, num_classes=10))
    new = sp.build(
        arch, ModelConfig(channels=4, cells_per_stage=1, num_classes=3, image_size=48, stem_stride=2)
    )
    kept, fresh = transfer_weights(new, old.state_dict())
    assert fresh == ["classifier.weight", "classifier.bias"]
    assert kept == len(new.state_dict()) - 2
    assert torch.equal(new.stem[0].weight, old.stem[0].weight)


# ---- the whole path ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    os.environ["NAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("nas-cache"))
    ray_env.init_local_ray()
    yield
    ray.shutdown()


def test_own_images_search_final_export_predict(local_ray, tmp_path, monkeypatch, capsys):
    from nas.searching.driver import run_search

    monkeypatch.setenv("NAS_CACHE_DIR", os.environ["NAS_CACHE_DIR"])  # the workers' cache
    monkeypatch.setattr(D, "_MEMORY", {})
    images = write_image_folder(tmp_path / "imgs", per_class=12)
    config = make_config(
        {
            "name": "own",
            "strategy": "random",
            "space": "nb201",
            "trials": 2,
            "concurrency": 2,
            "preset": "smoke",
            "cpus_per_trial": 1,
            "gpus_per_trial": 0,
            "data": str(images),
        }
    )
    outcome = run_search(config, results_dir=tmp_path / "runs", quiet=True)
    rows = outcome.run.trials()
    assert outcome.finished and {r["status"] for r in rows} == {"completed"}, [r["error"] for r in rows]
    saved = json.loads(outcome.run.config_path.read_text())
    recorded = saved["data_spec"]
    assert saved["image_size"] is None and recorded["image_size"] == 48
    assert recorded["class_names"] == list(CLASSES) and recorded["resize"] == RESIZE_POLICY
    assert "median image size" in recorded["image_size_reason"] and len(recorded["mean"]) == 3

    runs = tmp_path / "runs"
    assert (
        nas(monkeypatch, "final", "own", "--results-dir", runs, "--preset", "smoke", "--device", "cpu") == 0
    )
    checkpoint = load_checkpoint(runs / "own" / "final.pt")
    assert checkpoint.model_config.image_size == 48 and checkpoint.model_config.stem_stride == 2
    assert checkpoint.model_config.num_classes == 3
    assert checkpoint.data_spec.class_names == tuple(CLASSES)
    exported = tmp_path / "exported"
    assert nas(monkeypatch, "export", "own", "--results-dir", runs, "-o", exported) == 0
    capsys.readouterr()

    # the exported module's predictions equal the engine's on the same images
    paths = sorted(str(p) for p in (images / "test").glob("*/*"))
    model = nas_api.load(exported)
    names, probs = model.predict(paths)
    data = D.load_dataset(images)
    engine = checkpoint.build()
    x = torch.tensor(data.test_images).permute(0, 3, 1, 2).float() / 255.0
    x = (x - torch.tensor(data.mean).view(1, 3, 1, 1)) / torch.tensor(data.std).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = engine(x).softmax(1)
    torch.testing.assert_close(probs, expected, rtol=0, atol=1e-5)
    assert names == [CLASSES[i] for i in expected.argmax(1).tolist()]
    pil_names, _ = model.predict([Image.open(p) for p in paths[:2]])
    assert pil_names == names[:2]

    assert nas(monkeypatch, "predict", exported, *paths[:2], "--top-k", "2") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(paths[0] + ": ") and lines[0].count(",") == 1
    top_name = lines[0].split(": ")[1].split(" ")[0]
    assert top_name == names[0]

    # fine-tune the exported winner on a two-class folder: the classifier is new, the rest keeps its weights
    other = write_image_folder(tmp_path / "other", per_class=6, split=False, classes=CLASSES[:2], seed=1)
    tuned = tmp_path / "tuned"
    code = nas(
        monkeypatch, "final", "--init-from", exported, "--data", other, "--preset", "smoke",
        "--device", "cpu", "--output", tuned,
    )  # fmt: skip
    assert code == 0
    record = json.loads((tuned / "final.json").read_text())
    assert record["transfer"]["tensors_fresh"][:2] == ["classifier.weight", "classifier.bias"]
    exported_hash = json.loads((exported / "metadata.json").read_text())["arch_hash"]
    assert record["dataset"]["num_classes"] == 2 and record["arch_hash"] == exported_hash
    assert load_checkpoint(tuned / "final.pt").model_config.num_classes == 2


def test_search_config_takes_dataset_names_and_checks_the_size():
    base = {"name": "x", "preset": "smoke"}
    assert make_config({**base, "data": "mnist"}).data == "mnist"
    with pytest.raises(UserError, match="image_size: image size 50 cannot be halved"):
        make_config({**base, "image_size": 50})
    with pytest.raises(UserError, match="data: nowhere-at-all does not exist and is not a dataset name"):
        make_config({**base, "data": "nowhere-at-all"})
