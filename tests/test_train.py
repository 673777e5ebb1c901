"""Tests of polyrank.train: mlp() and fit()."""

import numpy as np
import pytest
import torch

import polyrank as pr
from polyrank.data import load_digits
from polyrank.train import fit, mlp


@pytest.fixture(scope="module")
def digits():
    Xtr, ytr, Xte, yte = load_digits(seed=0)
    return Xtr[:300], ytr[:300], Xte[:100], yte[:100]


def test_mlp_matches_default_init_and_leaves_global_rng(global_random_seed):
    state = torch.random.get_rng_state()
    m = mlp(5, [7, 6], 3, seed=global_random_seed)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(global_random_seed)  # the reference: plain PyTorch default init
    ref = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 6), torch.nn.ReLU(),
                              torch.nn.Linear(6, 3))
    for a, b in zip(m.parameters(), ref.parameters()):
        assert torch.equal(a, b)
    # PyTorch default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert float(m[0].weight.detach().abs().max()) <= 1 / np.sqrt(5)
    assert mlp(2, [3], None)[-1].__class__.__name__ == "ReLU"
    with pytest.raises(ValueError, match="'widths'"):
        mlp(2, [], 1)
    with pytest.raises(ValueError, match="'input_dim'"):
        mlp(0, [3], 1)


def test_fit_on_digits_lowers_loss_and_records_every_column(digits):
    Xtr, ytr, Xte, yte = digits
    noise = np.random.default_rng(0).uniform(size=(30, 64))
    m = mlp(64, [32, 16, 8], 10, seed=0)
    df = fit(m, Xtr, ytr, X_test=Xte, y_test=yte, epochs=3, batch_size=50, lr=3e-3, seed=0, device="cpu",
             probes={"data": Xte[:30], "noise": noise})
    cols = ["epoch", "train_loss", "test_loss", "test_accuracy"]
    for P in ("data", "noise"):
        for k in (1, 2, 3):
            cols += [f"{P}_mean_rank_{k}", f"{P}_mean_codeword_size_{k}"]
    assert sorted(df.columns) == sorted(cols)
    assert df["epoch"].tolist() == [0, 1, 2, 3]
    assert df.notna().all().all()
    assert df.train_loss.iloc[-1] < df.train_loss.iloc[0] and df.test_loss.iloc[-1] < df.test_loss.iloc[0]
    # epoch 0 is the untrained network: cross-entropy near log(10)
    assert abs(df.train_loss.iloc[0] - np.log(10)) < 0.3
    # the last row describes the trained model: recompute its numbers independently
    net = pr.as_network(m)
    with torch.no_grad():
        out = m(torch.as_tensor(Xte, dtype=torch.float32))
    assert df.test_accuracy.iloc[-1] == pytest.approx(float((out.argmax(1).numpy() == yte).mean()))
    assert df.test_loss.iloc[-1] == pytest.approx(
        float(torch.nn.functional.cross_entropy(out, torch.as_tensor(yte))), rel=1e-5)
    for k, pat in enumerate(net.patterns(noise), start=1):
        assert df[f"noise_mean_codeword_size_{k}"].iloc[-1] == pytest.approx(pat.sum(1).mean())
    assert (df[[f"data_mean_rank_{k}" for k in (1, 2, 3)]].to_numpy()
            <= df[[f"data_mean_codeword_size_{k}" for k in (1, 2, 3)]].to_numpy() + 1e-12).all()


def test_fit_is_deterministic(digits, global_random_seed):
    Xtr, ytr, _, _ = digits
    runs = []
    for s in (global_random_seed, global_random_seed, global_random_seed + 1):
        m = mlp(64, [16], 10, seed=0)
        runs.append(fit(m, Xtr, ytr, epochs=1, batch_size=50, seed=s, device="cpu"))
    assert runs[0].equals(runs[1])
    assert not runs[0].equals(runs[2])  # a different batch order
    assert runs[0].test_loss.isna().all() and runs[0].test_accuracy.isna().all()


@pytest.mark.parametrize("shape", [(80,), (80, 1)])
def test_fit_mse(shape):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] - X[:, 1]).reshape(shape)
    m = mlp(3, [16, 8], 1, seed=0)
    df = fit(m, X, y, X_test=X[:20], y_test=y[:20], loss="mse", epochs=5, batch_size=16, lr=1e-2,
             probes={"x": X[:10]}, layers=[2], device="cpu")
    assert df.test_accuracy.isna().all() and df.test_loss.notna().all()
    assert df.train_loss.iloc[-1] < df.train_loss.iloc[0]
    assert "x_mean_rank_2" in df and "x_mean_rank_1" not in df
    with torch.no_grad():
        pred = m(torch.as_tensor(X, dtype=torch.float32)).numpy().ravel()
    assert df.train_loss.iloc[-1] == pytest.approx(float(np.mean((pred - y.ravel()) ** 2)), rel=1e-5)


def test_fit_zero_epochs_records_the_untrained_model():
    X = np.random.default_rng(0).normal(size=(10, 2))
    df = fit(mlp(2, [4], 2, seed=0), X, (X[:, 0] > 0).astype(int), epochs=0, device="cpu")
    assert df["epoch"].tolist() == [0]


def test_fit_bad_arguments():
    X = np.zeros((6, 2))
    y = np.array([0, 1, 0, 1, 0, 1])
    m = mlp(2, [4], 2, seed=0)
    with pytest.raises(ValueError, match="'loss'"):
        fit(m, X, y, loss="hinge")
    with pytest.raises(ValueError, match="labels in 0..1"):
        fit(m, X, y + 1)
    with pytest.raises(ValueError, match=r"X_train must have shape \(n_points, 2\)"):
        fit(m, np.zeros((6, 3)), y)
    with pytest.raises(ValueError, match="6 entries"):
        fit(m, X, y[:5])
    with pytest.raises(ValueError, match="'epochs'"):
        fit(m, X, y, epochs=-1)
    with pytest.raises(ValueError, match="'lr'"):
        fit(m, X, y, lr=0.0)
    with pytest.raises(ValueError, match="both X_test and y_test"):
        fit(m, X, y, X_test=X)
    with pytest.raises(ValueError, match="read-out"):
        fit(mlp(2, [4], None), X, y)
    with pytest.raises(TypeError, match="probes must be a dict"):
        fit(m, X, y, probes=[X])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        fit("model", X, y)


def test_fit_trains_on_train_cpu_threads_and_restores_the_callers(monkeypatch):
    # the training steps run with TRAIN_CPU_THREADS torch threads, everything else (the rank
    # records) with the caller's count, which fit leaves as it found it; the thread count of
    # the steps does not depend on the caller's, so neither do the trained weights
    import polyrank.train as prt

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    seen = []
    real_step = torch.optim.Adam.step

    def step(self, *a, **k):
        seen.append(torch.get_num_threads())
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    before = torch.get_num_threads()
    weights = []
    for caller in (1, 2):
        torch.set_num_threads(caller)
        try:
            m = mlp(3, [6], 2, seed=0)
            fit(m, X, y, epochs=2, batch_size=16, probes={"p": X[:5]}, device="cpu")
            assert torch.get_num_threads() == caller
        finally:
            torch.set_num_threads(before)
        weights.append([p.detach().clone() for p in m.parameters()])
    assert seen and set(seen) == {min(c, prt.TRAIN_CPU_THREADS) for c in (1, 2)}
    if prt.TRAIN_CPU_THREADS == 1:
        for a, b in zip(*weights):
            assert torch.equal(a, b)
