"""Tests of polyrank.experiments.fig3c (paper Fig. 3C and appendix 7.3).

Truths used: per point, rank(A_K) <= min(rank(A_{K-1}), codeword size c_K) (A_K = D_K W_K A_{K-1});
the recorded means agree with a per-point computation through ReLUNetwork.local_affine and
matrix_rank (a second path); the Wilcoxon rank-sum statistic recomputed by hand from pooled
ranks; Bonferroni's definition; and the bookkeeping of a full before/after record.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, rankdata

import polyrank as pr
from polyrank.experiments import fig3c, fig3c_cli

SMALL = dict(n_networks=3, epochs=2, dim=4, n=96, widths=(6, 5, 4), n_workers=1)


@pytest.fixture(scope="module")
def small_run():
    return fig3c.run_fig3c(levels=(2, 3, None), seed=1, **SMALL)


def test_records_before_and_after_for_every_layer(small_run):
    df = small_run
    assert set(df.condition) == {"n=2", "n=3", "continuous"}
    assert set(df.phase) == {"before", "after"}
    counts = df.groupby(["condition", "network", "layer", "phase"]).size()
    assert (counts == 1).all()
    assert len(counts) == 3 * SMALL["n_networks"] * len(SMALL["widths"]) * 2
    for k, w in enumerate(SMALL["widths"], start=1):
        assert set(df.loc[df.layer == k, "width"]) == {w}


def test_recorded_values_obey_rank_bounds(small_run):
    df = small_run
    d = SMALL["dim"]
    assert (df.mean_codeword_size >= 0).all() and (df.mean_codeword_size <= df.width).all()
    assert (df.mean_rank >= 0).all() and (df.mean_rank <= np.minimum(df.width, d)).all()
    # per point rank(A_K) <= c_K, hence for the means too
    assert (df.mean_rank <= df.mean_codeword_size + 1e-12).all()
    # per point rank(A_K) <= rank(A_{K-1}): the mean rank cannot rise with depth
    wide = df.pivot_table(index=["condition", "network", "phase"], columns="layer", values="mean_rank")
    assert (np.diff(wide.to_numpy(), axis=1) <= 1e-12).all()


def test_before_is_the_same_initial_networks_for_every_level(small_run):
    b = small_run[small_run.phase == "before"]
    wide = b.pivot_table(index=["network", "layer"], columns="condition", values="mean_codeword_size")
    assert np.allclose(wide.to_numpy(), wide.to_numpy()[:, :1])


def test_training_lowers_the_loss_and_is_reproducible(small_run):
    a = small_run[small_run.phase == "after"].groupby(["condition", "network"]).train_loss.first()
    b = small_run[small_run.phase == "before"].groupby(["condition", "network"]).train_loss.first()
    assert (a < b).mean() >= 0.5  # Adam for 2 epochs on a z-scored target
    again = fig3c.run_fig3c(levels=(2, 3, None), seed=1, **SMALL)
    cols = ["mean_codeword_size", "mean_rank", "train_loss", "test_loss"]
    pd.testing.assert_frame_equal(again[cols], small_run[cols])


def _per_point_means(net, X):
    """Second path: each point's pattern -> local_affine -> matrix_rank, in a plain loop."""
    L = net.n_layers
    cw, rk = np.zeros(L), np.zeros(L)
    pats = net.patterns(X, flat=True)
    for x, flat in zip(X, pats):
        for K in range(1, L + 1):
            A, _ = net.local_affine(flat[: sum(net.widths[:K])], K)
            rk[K - 1] += pr.rank.matrix_rank(A)
            cw[K - 1] += int(flat[net.layer_slice(K)].sum())
    return cw / len(X), rk / len(X)


def test_layer_means_match_per_point_local_affine(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    from polyrank.train import mlp

    model = mlp(3, [7, 5, 2], 1, seed=global_random_seed)
    X = rng.uniform(-3, 3, size=(150, 3))
    cw, rk = fig3c._layer_means(model, X)
    cw2, rk2 = _per_point_means(pr.ReLUNetwork.from_torch(model), X)
    np.testing.assert_allclose(cw, cw2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rk, rk2, rtol=0, atol=1e-12)


def _by_hand(after, before):
    pooled = np.concatenate([after, before])
    r = rankdata(pooled)
    n1, n2 = len(after), len(before)
    w = r[:n1].sum()
    z = (w - n1 * (n1 + n2 + 1) / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return z, 2 * norm.sf(abs(z))


def test_statistics_table(small_run):
    t = fig3c.wilcoxon_table(small_run)
    assert set(t.metric) == {"mean_codeword_size", "mean_rank"}
    assert len(t) == 3 * len(SMALL["widths"]) * 2
    assert ((t.p_bonferroni >= 0) & (t.p_bonferroni <= 1)).all()
    assert ((t.p_value >= 0) & (t.p_value <= 1)).all()
    # one family per metric and function: 3 conditions x 3 layers
    assert (t.n_tests == 9).all()
    np.testing.assert_allclose(t.p_bonferroni, np.minimum(1, t.p_value * 9))
    assert (t.significant == (t.p_bonferroni < 0.05)).all()
    for _, row in t.iterrows():
        g = small_run[(small_run.condition == row.condition) & (small_run.layer == row.layer)]
        before = g.loc[g.phase == "before", row.metric].to_numpy()
        after = g.loc[g.phase == "after", row.metric].to_numpy()
        assert row.mean_before == pytest.approx(before.mean())
        assert row.mean_after == pytest.approx(after.mean())
        if np.ptp(np.concatenate([before, after])) > 0:
            z, p = _by_hand(after, before)
            assert row.statistic == pytest.approx(z, abs=1e-10)
            assert row.p_value == pytest.approx(p, rel=1e-9, abs=1e-15)
        else:
            assert row.p_value == 1.0


def test_wilcoxon_separated_groups_are_significant():
    # 10 networks whose values all rose: z = (155 - 105) / sqrt(175) = 3.78, p = 1.57e-4;
    # with 18 tests (Fig. 3C's family) p_bonferroni = 2.8e-3 < 0.05
    rows = []
    for cond in ["n=2", "n=3", "n=4", "n=5", "n=6", "continuous"]:
        for layer in (1, 2, 3):
            for i in range(10):
                for phase, v in (("before", i), ("after", 10 + i)):
                    rows.append(dict(experiment="fig3c", function="sphere", task="regression", condition=cond,
                                     layer=layer, width=8, phase=phase, network=i,
                                     mean_codeword_size=float(v), mean_rank=3.0))
    t = fig3c.wilcoxon_table(pd.DataFrame(rows))
    cw = t[t.metric == "mean_codeword_size"]
    assert (cw.n_tests == 18).all()
    assert cw.statistic.iloc[0] == pytest.approx(50 / math.sqrt(175))
    assert cw.p_value.iloc[0] == pytest.approx(2 * norm.sf(50 / math.sqrt(175)))
    assert cw.significant.all()
    rk = t[t.metric == "mean_rank"]
    assert (rk.p_value == 1.0).all() and not rk.significant.any()


def test_appendix_conditions_and_targets():
    df = fig3c.run_appendix(functions=["zakharov", "styblinski_tang"], n_networks=2, epochs=1, dim=3, n=64,
                            widths=(4, 3), n_workers=1, seed=2)
    assert set(zip(df.function, df.task, df.condition)) == {
        (f, t, c) for f in ("zakharov", "styblinski_tang")
        for t, c in (("regression", "continuous"), ("classification", "f>mean"))}
    assert (df.groupby(["function", "condition", "network", "layer", "phase"]).size() == 1).all()
    t = fig3c.wilcoxon_table(df)
    # families: per function and metric, 2 tasks x 2 layers
    assert (t.n_tests == 4).all()


def test_fit_helper_regression_target_shapes():
    # the classification target of a task is 0/1 and the regression target is z-scored
    f = np.random.default_rng(0).exponential(size=500)
    c = fig3c._target(f, "classification", None)
    assert set(np.unique(c)) == {0.0, 1.0}
    z = fig3c._target(f, "regression", None)
    assert abs(z.mean()) < 1e-12 and z.std() == pytest.approx(1.0)
    z2 = fig3c._target(f, "regression", 2)
    assert len(np.unique(z2)) == 2


def test_validation():
    with pytest.raises(ValueError, match="'levels' parameter"):
        fig3c.run_fig3c(levels=(1,), **SMALL)
    with pytest.raises(ValueError, match="'function' parameter"):
        fig3c.run_fig3c(function="sphre", **SMALL)
    with pytest.raises(ValueError, match="'n_networks' parameter"):
        fig3c.run_fig3c(**{**SMALL, "n_networks": 0})
    with pytest.raises(ValueError, match="'widths' parameter"):
        fig3c.run_fig3c(**{**SMALL, "widths": (4, 0)})
    with pytest.raises(ValueError, match="'lr' parameter"):
        fig3c.run_fig3c(lr=-1.0, **SMALL)
    with pytest.raises(ValueError, match="'tasks' parameter"):
        fig3c.run_appendix(tasks=("ranking",), **SMALL)
    with pytest.raises(ValueError, match="'dim' parameter .* rosenbrock"):
        fig3c.run_appendix(functions=("rosenbrock",), **{**SMALL, "dim": 1})
    with pytest.raises(ValueError, match="'functions' parameter"):
        fig3c.run_appendix(functions=("nope",), **SMALL)
    with pytest.raises(ValueError, match="missing"):
        fig3c.wilcoxon_table(pd.DataFrame({"layer": [1]}))
    with pytest.raises(ValueError, match="'alpha' parameter"):
        fig3c.wilcoxon_table(pd.DataFrame(columns=["experiment", "function", "task", "condition", "layer",
                                                   "width", "phase", "mean_codeword_size", "mean_rank"]),
                             alpha=1.5)


def test_plot_marks_the_input_dimension(small_run, tmp_path):
    path = tmp_path / "fig3c.png"
    fig = fig3c.plot_fig3c(small_run, path)
    assert path.stat().st_size > 0
    ax = fig.axes[0]
    assert [tl.get_text() for tl in ax.get_xticklabels()] == ["2", "3", "continuous"]
    hlines = [l for l in ax.get_lines() if len(set(l.get_ydata())) == 1 and len(l.get_ydata()) == 2]
    assert any(l.get_ydata()[0] == SMALL["dim"] for l in hlines)
    with pytest.raises(ValueError, match="'metric' parameter"):
        fig3c.plot_fig3c(small_run, metric="volume")
    with pytest.raises(ValueError, match="'layer' parameter"):
        fig3c.plot_fig3c(small_run, layer=7)


def test_cli_writes_tables(tmp_path, capsys):
    out = tmp_path / "run"
    rc = pr.cli.main(["reproduce", "fig3c", "--networks", "2", "--epochs", "1", "--n", "64", "--dim", "3",
                      "--widths", "4,3", "--levels", "2,continuous", "--workers", "1", "--no-plot",
                      "--out", str(out)])
    assert rc == 0
    df = pd.read_csv(out / "fig3c.csv")
    stats = pd.read_csv(out / "fig3c_stats.csv")
    assert len(df) == 2 * 2 * 2 * 2 and set(df.epochs) == {1}
    assert ((stats.p_bonferroni >= 0) & (stats.p_bonferroni <= 1)).all()
    printed = capsys.readouterr().out
    assert "fig3c: 2 networks x 2 conditions, 1 epochs" in printed
    with pytest.raises(SystemExit):
        pr.cli.main(["reproduce", "fig3c", "--levels", "1"])


def test_cli_defaults_are_the_paper_parameters():
    args = fig3c_cli.build_parser("fig3c").parse_args([])
    assert (args.networks, args.epochs, args.n, args.dim, args.widths, args.levels) == (None,) * 6
    assert fig3c.PAPER_SETTINGS == dict(n_networks=10, epochs=fig3c.PAPER_EPOCHS, dim=20, n=10000,
                                widths=(160, 80, 40), batch_size=64, lr=1e-3)
    assert fig3c.FIG3C_LEVELS == (2, 3, 4, 5, 6, None)


@pytest.mark.slow
def test_process_pool_gives_the_same_table():
    kw = dict(levels=(2,), n_networks=2, epochs=1, dim=3, n=64, widths=(4, 3), seed=5)
    serial = fig3c.run_fig3c(n_workers=1, **kw)
    pooled = fig3c.run_fig3c(n_workers=2, **kw)
    cols = ["mean_codeword_size", "mean_rank", "train_loss", "test_loss"]
    pd.testing.assert_frame_equal(serial[cols], pooled[cols])
