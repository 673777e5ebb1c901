"""Fig. 2 panels: the paper's trends, exact <= sampled, the paper's bounds, the CLI."""

import numpy as np
import pytest

import polyrank as pr
from polyrank.experiments import fig2


def test_panel_a_trend_reduced_grid(global_random_seed):
    """Exact minimum ranks respect the bounds and reach d for wide layers. The mean is not
    asserted monotone in width: with 6 networks per cell the means at widths 1 and 2 swap
    for seeds 12, 15 and 60 (the paper's monotone curve averages 100 networks)."""
    widths = [1, 2, 4, 32]
    df = fig2.panel_a(6, 300, input_dims=[2, 3], widths=widths, seed=global_random_seed, n_workers=1)
    assert (df.exact_min_rank <= df.sampled_min_rank).all()
    assert (df.exact_min_rank <= np.minimum(df.input_dim, df.width)).all()
    assert df.min_exact.all()
    for d, sub in df.groupby("input_dim"):
        m = sub.groupby("width").exact_min_rank.mean().reindex(widths)
        assert m.iloc[-1] == d, m


def test_sampled_ranks_match_matrix_rank(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = pr.init.default(4, 9, seed=rng)
    X = rng.uniform(-5, 5, size=(50, 4))
    ranks, sizes = fig2.sampled_ranks(net, X)
    P = net.patterns(X)[0]
    assert ranks.tolist() == [pr.rank.exact_rank(net.weights[0][p]) for p in P]
    assert sizes.tolist() == P.sum(axis=1).tolist()


def test_panel_b_mean_lowers_min_rank(global_random_seed):
    df = fig2.panel_b(4, 200, means=[0.0, 0.6], widths=[8], input_dim=3, seed=global_random_seed, n_workers=1)
    m = df.groupby("mean").exact_min_rank.mean()
    assert m.loc[0.6] <= m.loc[0.0]
    assert (df.exact_min_rank <= df.sampled_min_rank).all()


def test_panel_c_bound_and_panel_d_regimes(global_random_seed):
    c = fig2.panel_c(2, 200, ks=[0, 1, 3, 5, 7, 8], input_dims=[2, 3], width=8, seed=global_random_seed,
                     n_workers=1)
    assert (c.exact_min_rank <= c.paper_bound).all()
    d = fig2.panel_d(2, 200, ks=range(0, 5), input_dim=4, width=8, seed=global_random_seed, n_workers=1)
    m = d.groupby("k")[["exact_min_rank", "exact_max_rank"]].mean()
    assert tuple(m.loc[0]) == (4, 4) and tuple(m.loc[4]) == (0, 0)
    assert (d.exact_max_rank >= d.sampled_max_rank).all() and (d.exact_min_rank <= d.sampled_min_rank).all()
    s = fig2.overestimate_summary(c)
    assert s.networks.sum() == len(c) and (s.over <= s.networks).all()


def test_results_do_not_depend_on_worker_count():
    a = fig2.panel_a(2, 100, input_dims=[2], widths=[3, 6], exact=False, n_workers=1, seed=5)
    b = fig2.panel_a(2, 100, input_dims=[2], widths=[3, 6], exact=False, n_workers=2, seed=5)
    cols = ["width", "network", "sampled_min_rank", "sampled_max_rank", "sampled_min_codeword"]
    assert a[cols].equals(b[cols])


def test_cli_writes_csv_and_png(tmp_path):
    import pandas as pd

    assert fig2.cli_main("fig2a", ["--networks", "1", "--samples", "30", "--workers", "1", "--no-exact",
                                   "--out", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "fig2a.csv")
    assert len(df) == 36 and (tmp_path / "fig2a.png").stat().st_size > 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="n_networks"):
        fig2.panel_a(0, input_dims=[2], widths=[2])
    with pytest.raises(ValueError, match="n_samples"):
        fig2.panel_a(1, 0, input_dims=[2], widths=[2])
    with pytest.raises(ValueError, match="one-hidden-layer"):
        fig2.sampled_ranks(pr.init.default(2, [3, 3], seed=0), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="exact"):
        fig2.overestimate_summary(fig2.panel_a(1, 10, input_dims=[2], widths=[2], exact=False, n_workers=1))
    with pytest.raises(SystemExit):
        fig2.cli_main("fig2a", ["--bogus"])


def test_sampled_ranks_rank_deficient_rows(global_random_seed):
    """Dependent rows defeat the Cholesky certificate; the SVD fallback must give the true rank."""
    rng = np.random.default_rng(global_random_seed)
    B = rng.normal(size=(3, 5))
    W = np.vstack([B, B[:1] + B[1:2], 2 * B[2:], rng.normal(size=(2, 5))])  # rows 3, 4 dependent
    net = pr.ReLUNetwork.from_weights([W], [rng.normal(size=7)])
    X = rng.uniform(-5, 5, size=(300, 5))
    ranks, _ = fig2.sampled_ranks(net, X)
    P = net.patterns(X)[0]
    assert ranks.tolist() == [pr.rank.matrix_rank(W[p]) for p in P]  # tolerance rank (float rows)
