import socket

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nas.errors import UserError
from nas.train import data as D
from tests.tiny_cifar import encode, tiny_arrays, write_batches, write_folder, write_parquet


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(D, "_MEMORY", {})


def assert_same(loaded: D.Cifar10, arrays) -> None:
    train_x, train_y, test_x, test_y = arrays
    assert loaded.train_images.dtype == np.uint8 and loaded.train_images.shape == (len(train_y), 32, 32, 3)
    assert loaded.train_labels.dtype == np.int64
    np.testing.assert_array_equal(loaded.train_images, train_x)
    np.testing.assert_array_equal(loaded.train_labels, train_y)
    np.testing.assert_array_equal(loaded.test_images, test_x)
    np.testing.assert_array_equal(loaded.test_labels, test_y)


def test_batches_layout_from_the_folder_and_from_its_parent(tmp_path):
    arrays = tiny_arrays()
    folder = write_batches(tmp_path / "tv", arrays)
    assert_same(D.load_cifar10(folder), arrays)
    assert_same(D.load_cifar10(tmp_path / "tv"), arrays)


@pytest.mark.parametrize("column", ["img", "image"])
def test_parquet_layout_png_is_lossless(tmp_path, column):
    arrays = tiny_arrays()
    assert_same(D.load_cifar10(write_parquet(tmp_path / "pq", arrays, column=column)), arrays)


def test_parquet_layout_jpeg_decodes_close_to_the_original(tmp_path):
    smooth = tuple(
        np.full_like(a, 7) + (np.arange(32, dtype=np.uint8)[None, :, None, None] * 4)
        if a.dtype == np.uint8
        else a
        for a in tiny_arrays()
    )
    loaded = D.load_cifar10(write_parquet(tmp_path / "pq", smooth, fmt="JPEG"))
    assert loaded.train_images.shape == smooth[0].shape
    assert np.abs(loaded.train_images.astype(int) - smooth[0]).mean() < 4


def test_image_folder_layout_sorts_classes_by_name(tmp_path):
    arrays = tiny_arrays()
    assert_same(D.load_cifar10(write_folder(tmp_path / "imgs", arrays)), arrays)


def test_decoded_arrays_are_cached_on_disk_and_reused(tmp_path, monkeypatch):
    arrays = tiny_arrays()
    root = write_parquet(tmp_path / "pq", arrays)
    D.load_cifar10(root)
    assert len(list((tmp_path / "cache" / "cifar10").glob("parquet-*.npz"))) == 1
    monkeypatch.setattr(D, "_MEMORY", {})
    monkeypatch.setattr(D, "decode", lambda *a: pytest.fail("decoded again despite the cache"))
    assert_same(D.load_cifar10(root), arrays)


def test_in_process_cache_returns_the_same_object(tmp_path):
    root = write_parquet(tmp_path / "pq", tiny_arrays())
    assert D.load_cifar10(root) is D.load_cifar10(root)


def test_a_changed_source_file_is_decoded_again(tmp_path, monkeypatch):
    root = write_parquet(tmp_path / "pq", tiny_arrays(seed=0))
    D.load_cifar10(root)
    monkeypatch.setattr(D, "_MEMORY", {})
    changed = tiny_arrays(seed=1)
    write_parquet(root, changed)
    assert_same(D.load_cifar10(root), changed)


def test_missing_folder_says_what_and_how(tmp_path):
    with pytest.raises(
        UserError,
        match=r"no data at .*nope: the folder does not exist and is not a dataset name; pass --data",
    ):
        D.load_cifar10(tmp_path / "nope")


def test_folder_without_any_layout_lists_what_was_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        UserError,
        match="looked for train/<class>/ .* train.parquet \\+ test.parquet, and cifar-10-batches-py",
    ):
        D.load_cifar10(tmp_path / "empty")


def test_corrupt_parquet_is_one_clear_error(tmp_path):
    root = write_parquet(tmp_path / "pq", tiny_arrays())
    (root / "train.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(UserError, match=r"train.parquet is not a readable Parquet file"):
        D.load_cifar10(root)


def test_corrupt_image_names_the_file(tmp_path):
    root = write_folder(tmp_path / "imgs", tiny_arrays())
    bad = sorted((root / "train" / "cat").iterdir())[0]
    bad.write_bytes(b"garbage")
    with pytest.raises(UserError, match=f"{bad.name} is not a readable image"):
        D.load_cifar10(root)


def test_mixed_sizes_are_resized_to_the_training_size(tmp_path):
    arrays = tiny_arrays()
    root = write_parquet(tmp_path / "pq", arrays)
    table = pq.read_table(root / "test.parquet")
    big = encode(np.zeros((40, 40, 3), np.uint8), "PNG")
    imgs = pa.array([{"bytes": big, "path": "x"}] * table.num_rows, table.schema.field("img").type)
    pq.write_table(pa.table({"img": imgs, "label": table.column("label")}), root / "test.parquet")
    loaded = D.load_cifar10(root)
    assert loaded.image_size == 32 and loaded.test_images.shape == (20, 32, 32, 3)
    assert loaded.test_images.max() == 0


def test_corrupt_pickle_batch(tmp_path):
    folder = write_batches(tmp_path / "tv", tiny_arrays())
    (folder / "data_batch_3").write_bytes(b"\x80\x04junk")
    with pytest.raises(UserError, match="data_batch_3 is not a readable CIFAR-10 batch"):
        D.load_cifar10(folder)


def test_offline_download_fails_fast_with_advice(monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(UserError, match="cannot be downloaded .*unreachable.*pass --data PATH"):
        D.load_cifar10(None)


def test_split_is_stratified_disjoint_and_deterministic(tmp_path):
    arrays = tiny_arrays(per_class_train=20)
    root = write_batches(tmp_path / "tv", arrays)
    a = D.load_splits(root, seed=3, val_size=50)
    b = D.load_splits(root, seed=3, val_size=50)
    c = D.load_splits(root, seed=4, val_size=50)
    assert np.bincount(a.val_labels).tolist() == [5] * 10
    assert np.bincount(a.train_labels).tolist() == [15] * 10
    np.testing.assert_array_equal(a.val_images, b.val_images)
    assert not np.array_equal(a.val_images, c.val_images)
    # disjoint and complete: every training image lands in exactly one part
    seen = {img.tobytes() for img in a.train_images} | {img.tobytes() for img in a.val_images}
    assert len(seen) == 200 and a.test_images is None


def test_stratified_sample_keeps_uneven_proportions():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    idx = D.stratified_sample(labels, 10, np.random.default_rng(0))
    assert np.bincount(labels[idx]).tolist() == [6, 3, 1]
    assert len(set(idx.tolist())) == 10


def test_subsets_and_final_mode(tmp_path):
    root = write_batches(tmp_path / "tv", tiny_arrays(per_class_train=20))
    s = D.load_splits(root, seed=0, val_size=40, train_subset=30, val_subset=20)
    assert np.bincount(s.train_labels).tolist() == [3] * 10 and len(s.val_labels) == 20
    final = D.load_splits(root, seed=0, val_size=0, include_test=True)
    assert len(final.train_labels) == 200 and len(final.val_labels) == 0 and len(final.test_labels) == 20
    with pytest.raises(UserError, match="validation size 200 must be in"):
        D.load_splits(root, val_size=200)
