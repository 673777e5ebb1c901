"""The paper's Fig. 2A-D: minimum (and maximum) rank of random one-layer networks.

Each panel function returns a pandas DataFrame with one row per network: its
parameters, the paper's *sampled* estimate (the minimum over ``n_samples``
uniform points of ``rank(D(x) W)``, eq. 3) and polyrank's *exact* value from
:func:`polyrank.min_rank` / :func:`polyrank.max_rank` (a MILP, see
:mod:`polyrank.milp`). Sampling can only overestimate a minimum (underestimate a
maximum); the column ``sampled_over`` flags the networks where it did.

Parameters follow the authors' public code (``docs/paper/fig2.md``):

* A: PyTorch-default ("Kaiming") init, input and output widths in
  ``{2, 5, 10, 25, 50, 100}``, inputs uniform in ``[-5, 5]^d``;
* B: weights ``N(mean, 0.1)``, ``mean`` in ``linspace(0, 0.2, 20)``, input 10, the same widths;
* C: width 100, inputs 25 and 50, ``R W`` with ``W ~ U(0, 1)``, ``k = 1, 5, ..., 97`` rows negated,
  inputs in ``[-5, 5]^d``; the paper's bound ``min(k, 100 - k, d)``;
* D: Dale's principle, 50 inputs, 100 outputs, ``k = 1..49`` inhibitory inputs (x4),
  inputs ``U[0, 10]^50``; minimum *and* maximum rank.

Sweeps run through :func:`polyrank.experiments._sweep.run_tasks` (local process
pool, or Dask with ``scheduler=``); each network's seed is a child of
``np.random.SeedSequence(seed)``, so results do not depend on the executor.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .._validation import check_positive_int
from ..domain import Box
from ._sweep import run_tasks, spawn_seeds

__all__ = ["panel_a", "panel_b", "panel_c", "panel_d", "sampled_ranks", "overestimate_summary", "plot_panel",
           "cli_main", "build_parser", "WIDTHS", "MEANS", "KS_C", "KS_D"]

#: Input and output widths of panels A and B.
WIDTHS = (2, 5, 10, 25, 50, 100)
#: Means of the weight distribution in panel B.
MEANS = tuple(float(m) for m in np.linspace(0.0, 0.2, 20))
#: Numbers of negated rows in panel C.
KS_C = tuple(range(1, 100, 4))
#: Numbers of inhibitory inputs in panel D.
KS_D = tuple(range(1, 50))
#: Panel C/D default number of networks per setting (the paper does not state the authors').
N_NETWORKS_CD = 10
#: Points per chunk of the batched SVD in :func:`sampled_ranks` (memory: chunk * n * d floats).
SVD_CHUNK = 256


def sampled_ranks(net, X):
    """``rank(D(x) W)`` at every point of ``X`` for a one-hidden-layer network (the paper's eq. 3).

    Parameters
    ----------
    net : ReLUNetwork
        One hidden layer.
    X : array-like of shape (n_points, d)

    Returns
    -------
    ranks : ndarray of int, shape (n_points,)
    sizes : ndarray of int, shape (n_points,)
        Codeword sizes (active units) at the points.

    Raises
    ------
    ValueError
        For a network with more than one hidden layer or a bad ``X``.

    Notes
    -----
    The rank of the active rows ``W_S`` of ``W`` under the rank rule of
    :mod:`polyrank.rank` (what the enumeration engines give): full rank ``min(|S|, d)``
    is first certified by :func:`polyrank.rank.full_rank_certified` (a batched Cholesky
    factorisation of ``W_S W_S^T`` or ``W_S^T W_S`` shifted by the certificate's
    rounding bound); where the certificate fails the rank comes from
    :func:`polyrank.rank.batched_ranks`. Points with the same pattern are computed once.
    Cost: ``O(u * k * d * min(k, d))`` for ``u`` distinct patterns with ``k`` active units.

    Examples
    --------
    >>> from polyrank.experiments.fig2 import sampled_ranks
    >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], [[0.0, 0.0, 0.0]])
    >>> sampled_ranks(net, np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -3.0]]))
    (array([2, 0, 1]), array([3, 0, 1]))
    """
    from .._validation import check_points
    from ..network import as_network

    net = as_network(net)
    if net.n_layers != 1:
        raise ValueError(f"sampled_ranks is for one-hidden-layer networks; got {net.n_layers} layers.")
    X = check_points(X, net.input_dim)
    return _sampled_ranks(net, X)


def _sampled_ranks(net, X):
    from ..rank import batched_ranks, full_rank_certified

    W = net.weights[0]
    n, d = W.shape
    P = (X @ W.T + net.biases[0]) > 0
    sizes = P.sum(axis=1)
    uniq, inv = np.unique(P, axis=0, return_inverse=True)
    usz = uniq.sum(axis=1)
    ranks_u = np.zeros(uniq.shape[0], dtype=int)
    G = W @ W.T
    # per codeword size k: certify full rank min(k, d) from a Gram matrix by Cholesky
    # (k <= d: W_S W_S^T, k x k; k > d: W_S^T W_S, d x d); SVD of the k active rows otherwise
    for k in np.unique(usz):
        if k == 0:
            continue
        sel = np.flatnonzero(usz == k)
        for s in range(0, sel.size, SVD_CHUNK):
            part = sel[s: s + SVD_CHUNK]
            rows = np.nonzero(uniq[part])[1].reshape(part.size, k)  # row-major: each row's active units
            if k <= d:
                Gs = G[rows[:, :, None], rows[:, None, :]]
            else:
                Ws = W[rows]
                Gs = np.matmul(Ws.transpose(0, 2, 1), Ws)
            ok = full_rank_certified(Gs, n_rows=k, sizes=k, d=d)
            r = np.full(part.size, min(k, d))
            if not ok.all():
                r[~ok] = batched_ranks(W[rows[~ok]])
            ranks_u[part] = r
    return ranks_u[inv.ravel()], sizes


# ---------------------------------------------------------------------- one network
def _build(task, rng):
    from .. import init

    scheme, d, n = task["scheme"], task["input_dim"], task["width"]
    if scheme == "default":
        return init.default(d, n, seed=rng)
    if scheme == "normal":
        return init.normal(d, n, mean=task["mean"], std=0.1, seed=rng)
    if scheme == "rank_selection":
        return init.rank_selection(d, n, task["k"], seed=rng)
    if scheme == "dale":
        return init.dale(d, n, task["k"], seed=rng)
    raise ValueError(f"unknown scheme {scheme!r}")  # pragma: no cover


def _network_task(task):
    """One network: sampled and exact ranks. A module-level function (pickled to workers)."""
    from ..milp import max_rank, min_rank

    rng = np.random.default_rng(task["seed"])
    net = _build(task, rng)
    box = Box(task["lo"], task["hi"], dim=task["input_dim"])
    row = {k: v for k, v in task.items() if k not in ("seed", "lo", "hi", "exact", "n_samples", "time_limit")}
    t0 = time.perf_counter()
    ranks, sizes = _sampled_ranks(net, box.sample(task["n_samples"], seed=rng))
    row["sampled_min_rank"] = int(ranks.min())
    row["sampled_max_rank"] = int(ranks.max())
    row["sampled_min_codeword"] = int(sizes.min())
    row["seconds_sampled"] = time.perf_counter() - t0
    if task["exact"]:
        t0 = time.perf_counter()
        lo = min_rank(net, box, time_limit=task["time_limit"])
        # a value is "exact" only when proven; otherwise (time limit, general position not
        # verified) it is the MILP's best witness, an upper bound on the minimum
        row.update(exact_min_rank=lo.value if lo.exact else None, unproven_min_rank=None if lo.exact else lo.value,
                   min_status=lo.status, min_exact=lo.exact, general_position=lo.general_position,
                   min_bound=lo.bound)
        if task["max"]:
            hi = max_rank(net, box, time_limit=task["time_limit"])
            row.update(exact_max_rank=hi.value if hi.exact else None,
                       unproven_max_rank=None if hi.exact else hi.value,
                       max_status=hi.status, max_exact=hi.exact, max_bound=hi.bound)
        row["seconds_exact"] = time.perf_counter() - t0
        row["sampled_over"] = bool(row["sampled_min_rank"] > lo.value) if lo.exact else None
    return row


def _run(settings, n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit, with_max):
    import pandas as pd

    n_networks = check_positive_int(n_networks, name="n_networks")
    n_samples = check_positive_int(n_samples, name="n_samples")
    tasks = []
    for s in settings:
        for i in range(n_networks):
            tasks.append(dict(s, network=i, n_samples=n_samples, exact=bool(exact), time_limit=time_limit,
                              max=with_max))
    for t, ss in zip(tasks, spawn_seeds(seed, len(tasks))):
        t["seed"] = ss
    rows = run_tasks(_network_task, tasks, scheduler=scheduler, n_workers=n_workers, progress=progress)
    df = pd.DataFrame(rows)
    for col in _PROVEN_COLUMNS:  # missing where not proven (empty in a CSV), integers elsewhere
        if col in df:
            df[col] = df[col].astype("Int64")
    if "sampled_over" in df:
        df["sampled_over"] = df["sampled_over"].astype("boolean")
    return df


#: Integer columns of a panel that are empty where the value is not proven (or proven).
_PROVEN_COLUMNS = ("exact_min_rank", "unproven_min_rank", "exact_max_rank", "unproven_max_rank")


def panel_a(n_networks=100, n_samples=1000, *, input_dims=WIDTHS, widths=WIDTHS, exact=True, seed=0,
            scheduler=None, n_workers=None, progress=False, time_limit=None):
    """Fig. 2A: minimum rank of PyTorch-default one-layer networks vs. input and output width.

    Parameters
    ----------
    input_dims, widths : sequence of int
        Default ``{2, 5, 10, 25, 50, 100}`` each.
    n_networks : int
        Networks per setting (the paper: 100 for A and B).
    n_samples : int, default 1000
        Uniform points for the sampled estimate (the paper's text: 1000).
    exact : bool, default True
        Also compute the exact value by MILP (:func:`polyrank.min_rank`).
    seed : int or SeedSequence, default 0
        Root seed; network ``i`` gets child ``i`` of ``SeedSequence(seed).spawn``.
    scheduler : None, str or dask.distributed.Client
        Where to run (see :func:`polyrank.experiments._sweep.run_tasks`).
    n_workers : int, optional
        Local pool size.
    progress : bool
    time_limit : float, optional
        Seconds per MILP call; rows that hit it have status "time_limit".

    Returns
    -------
    pandas.DataFrame
        One row per network: scheme, input_dim, width, network, sampled_min_rank,
        sampled_max_rank, sampled_min_codeword, exact_min_rank (the proven minimum; missing
        where the MILP did not prove it), unproven_min_rank (the MILP's best value where it
        is not proven: time limit, or general position not verified; an upper bound on the
        minimum), min_status, min_exact, general_position, min_bound, sampled_over (only for
        proven rows), seconds.

    Raises
    ------
    ValueError
        For non-positive counts or sizes.

    Notes
    -----
    The exact value is proven (``min_exact``) as described in :func:`polyrank.min_rank`.
    Cost: ``n_samples`` SVDs and about one MILP per network.

    Examples
    --------
    >>> from polyrank.experiments import fig2
    >>> df = fig2.panel_a(2, 200, input_dims=[2], widths=[8], n_workers=1)
    >>> bool((df.exact_min_rank <= df.sampled_min_rank).all()), len(df)
    (True, 2)
    """
    settings = [dict(panel="A", scheme="default", input_dim=int(d), width=int(n), lo=-5.0, hi=5.0)
                for d in input_dims for n in widths]
    return _run(settings, n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit, False)


def panel_b(n_networks=100, n_samples=1000, *, means=MEANS, widths=WIDTHS, input_dim=10, exact=True, seed=0,
            scheduler=None, n_workers=None, progress=False, time_limit=None):
    """Fig. 2B: minimum rank vs. the mean of ``N(mean, 0.1)`` weights, input 10.

    Parameters
    ----------
    means : sequence of float
        Default ``linspace(0, 0.2, 20)``.
    widths : sequence of int
    input_dim : int, default 10
    n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit
        The sweep's settings, as in :func:`panel_a`.

    Returns
    -------
    pandas.DataFrame
        As :func:`panel_a`, with a ``mean`` column.

    Raises
    ------
    ValueError
        For non-positive counts or sizes.

    Examples
    --------
    >>> from polyrank.experiments import fig2
    >>> df = fig2.panel_b(1, 100, means=[0.0, 0.2], widths=[5], input_dim=3, n_workers=1)
    >>> df["mean"].tolist()
    [0.0, 0.2]
    """
    settings = [dict(panel="B", scheme="normal", input_dim=int(input_dim), width=int(n), mean=float(m),
                     lo=-5.0, hi=5.0) for m in means for n in widths]
    return _run(settings, n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit, False)


def panel_c(n_networks=N_NETWORKS_CD, n_samples=1000, *, ks=KS_C, input_dims=(25, 50), width=100, exact=True,
            seed=0, scheduler=None, n_workers=None, progress=False, time_limit=None):
    """Fig. 2C: minimum rank of rank-selection networks ``R W`` vs. the number ``k`` of negated rows.

    Parameters
    ----------
    ks : sequence of int
        Default ``1, 5, ..., 97``.
    input_dims : sequence of int
        Default (25, 50).
    width : int, default 100
    n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit
        The sweep's settings, as in :func:`panel_a`.

    Returns
    -------
    pandas.DataFrame
        As :func:`panel_a`, with ``k`` and ``paper_bound = min(k, width - k, d)``.

    Raises
    ------
    ValueError
        For ``k`` outside ``0..width`` or non-positive counts.

    Examples
    --------
    >>> from polyrank.experiments import fig2
    >>> df = fig2.panel_c(1, 100, ks=[1, 3], input_dims=[2], width=4, n_workers=1)
    >>> bool((df.exact_min_rank <= df.paper_bound).all())
    True
    """
    settings = [dict(panel="C", scheme="rank_selection", input_dim=int(d), width=int(width), k=int(k),
                     paper_bound=int(min(k, width - k, d)), lo=-5.0, hi=5.0) for d in input_dims for k in ks]
    return _run(settings, n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit, False)


def panel_d(n_networks=N_NETWORKS_CD, n_samples=1000, *, ks=KS_D, input_dim=50, width=100, exact=True, seed=0,
            scheduler=None, n_workers=None, progress=False, time_limit=None):
    """Fig. 2D: minimum and maximum rank of Dale's-principle networks vs. inhibitory inputs ``k``.

    Parameters
    ----------
    ks : sequence of int
        Default ``1..49``.
    input_dim : int, default 50
    width : int, default 100
    n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit
        The sweep's settings, as in :func:`panel_a`.

    Returns
    -------
    pandas.DataFrame
        As :func:`panel_a`, with ``k``, ``exact_max_rank`` / ``unproven_max_rank`` (proven or
        not, as for the minimum), ``max_status``, ``max_exact``.

    Raises
    ------
    ValueError
        For ``k`` outside ``0..input_dim`` or non-positive counts.

    Examples
    --------
    >>> from polyrank.experiments import fig2
    >>> df = fig2.panel_d(1, 100, ks=[0, 3], input_dim=3, width=6, n_workers=1)
    >>> df[["exact_min_rank", "exact_max_rank"]].values.tolist()
    [[3, 3], [0, 0]]
    """
    settings = [dict(panel="D", scheme="dale", input_dim=int(input_dim), width=int(width), k=int(k),
                     lo=0.0, hi=10.0) for k in ks]
    return _run(settings, n_networks, n_samples, exact, seed, scheduler, n_workers, progress, time_limit, True)


def overestimate_summary(df):
    """How often sampling overestimated the exact minimum rank, per setting.

    Parameters
    ----------
    df : pandas.DataFrame
        A panel's result with exact values.

    Returns
    -------
    pandas.DataFrame
        Per setting: networks, proven (exact and optimal), unproven, over (sampled >
        exact, counted on proven rows only), fraction_over (of the proven rows), mean
        sampled minimum rank (all rows) and mean exact minimum rank (proven rows).

    Raises
    ------
    ValueError
        When ``df`` has no exact column (the panel ran with ``exact=False``).

    Examples
    --------
    >>> import pandas as pd
    >>> from polyrank.experiments.fig2 import overestimate_summary
    >>> df = pd.DataFrame(dict(panel="A", input_dim=2, width=[3, 3], sampled_min_rank=[2, 1],
    ...                        exact_min_rank=[1, 1], min_exact=True))
    >>> row = overestimate_summary(df).iloc[0]
    >>> int(row.networks), int(row.over), float(row.fraction_over)
    (2, 1, 0.5)
    """
    if "exact_min_rank" not in df:
        raise ValueError("overestimate_summary needs exact values: run the panel with exact=True.")
    keys = [c for c in ("panel", "input_dim", "width", "mean", "k") if c in df]
    exact = df.exact_min_rank.astype("Float64")
    proven = exact.notna() & df.min_exact.astype(bool) if "min_exact" in df else exact.notna()
    over = (df.sampled_min_rank > exact).fillna(False).astype(bool) & proven
    d = df.assign(over=over, proven=proven, unproven=~proven, exact_proven=exact.where(proven))
    g = d.groupby(keys, sort=True)
    out = g.agg(networks=("over", "size"), proven=("proven", "sum"), unproven=("unproven", "sum"),
                over=("over", "sum"), sampled_mean=("sampled_min_rank", "mean"),
                exact_mean=("exact_proven", "mean")).reset_index()
    out["fraction_over"] = (out.over / out.proven.where(out.proven > 0)).astype(float)
    return out


def plot_panel(df, *, ax=None):
    """Plot one panel like the paper: mean minimum rank per setting, sampled (dashed) and exact (solid).

    The solid "exact (proven)" curve averages the proven values only; values the MILP
    did not prove (time limit) are drawn separately, one ``x`` per network.

    Parameters
    ----------
    df : pandas.DataFrame
        The result of one panel function.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        For a frame from no known panel.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from polyrank.experiments import fig2
    >>> ax = fig2.plot_panel(fig2.panel_a(1, 50, input_dims=[2], widths=[2, 5], n_workers=1))
    >>> ax.get_xlabel()
    'output width n'
    """
    from ..plot import pyplot

    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    panel = df.panel.iloc[0] if "panel" in df and len(df) else None
    exact = "exact_min_rank" in df
    df = df.astype({c: float for c in _PROVEN_COLUMNS if c in df})  # missing (unproven) -> NaN
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def unproven(sub, x, col, color, label):
        u = sub[sub[col].notna()] if col in sub else sub.iloc[:0]
        if len(u):
            ax.plot(u[x], u[col], "x", color=color, ms=5, label=f"{label} unproven (MILP best)")
    if panel in ("A", "B"):
        x, group, xl = ("width", "input_dim", "output width n") if panel == "A" else ("mean", "width", "weight mean")
        for j, (g, sub) in enumerate(df.groupby(group)):
            m = sub.groupby(x).mean(numeric_only=True)
            c = colors[j % len(colors)]
            lab = f"d={g}" if panel == "A" else f"n={g}"
            ax.plot(m.index, m.sampled_min_rank, "--o", color=c, ms=3, label=f"{lab} sampled")
            if exact:
                ax.plot(m.index, m.exact_min_rank, "-", color=c, label=f"{lab} exact (proven)")
                unproven(sub, x, "unproven_min_rank", c, lab)
            if panel == "A":
                ax.axhline(g, color=c, lw=0.6, ls=":")
        if panel == "A":
            ax.set_xscale("log")
        else:
            ax.axhline(df.input_dim.iloc[0], color="k", lw=0.8)
        ax.set_xlabel(xl)
    elif panel == "C":
        for j, (d, sub) in enumerate(df.groupby("input_dim")):
            m = sub.groupby("k").mean(numeric_only=True)
            c = colors[j % len(colors)]
            ax.plot(m.index, m.sampled_min_rank, "--o", color=c, ms=3, label=f"d={d} sampled")
            if exact:
                ax.plot(m.index, m.exact_min_rank, "-", color=c, label=f"d={d} exact (proven)")
                unproven(sub, "k", "unproven_min_rank", c, f"d={d}")
            ax.plot(m.index, m.paper_bound, "k-", lw=0.8)
        ax.set_xlabel("k (negated rows)")
    elif panel == "D":
        m = df.groupby("k").mean(numeric_only=True)
        ax.plot(m.index, m.sampled_min_rank, "--", color="tab:blue", label="min sampled")
        ax.plot(m.index, m.sampled_max_rank, "--", color="tab:red", label="max sampled")
        if exact:
            ax.plot(m.index, m.exact_min_rank, "-", color="tab:blue", label="min exact (proven)")
            ax.plot(m.index, m.exact_max_rank, "-", color="tab:red", label="max exact (proven)")
            unproven(df, "k", "unproven_min_rank", "tab:blue", "min")
            unproven(df, "k", "unproven_max_rank", "tab:red", "max")
            mixed = m.index[(m.exact_min_rank < df.input_dim.iloc[0]) & (m.exact_max_rank > 0)]
            if len(mixed):
                ax.axvspan(mixed.min(), mixed.max(), color="purple", alpha=0.15)
        ax.set_xlabel("k (inhibitory inputs)")
    else:
        raise ValueError("plot_panel expects the DataFrame of panel_a, panel_b, panel_c or panel_d.")
    ax.set_ylabel("rank")
    ax.set_title(f"Fig. 2{panel}")
    ax.legend(fontsize=6, ncol=2)
    return ax


# ---------------------------------------------------------------------- command line
_PANELS = {"fig2a": "a", "fig2b": "b", "fig2c": "c", "fig2d": "d"}


def build_parser(figure):
    """The argument parser of ``polyrank reproduce fig2a|fig2b|fig2c|fig2d|fig2``.

    Examples
    --------
    >>> from polyrank.experiments.fig2 import build_parser
    >>> build_parser("fig2a").parse_args([]).out
    'polyrank-fig2a'
    """
    from .._cliutil import HelpFormatter, float_type, int_type

    p = argparse.ArgumentParser(prog=f"polyrank reproduce {figure}", formatter_class=HelpFormatter,
                                description="The paper's Fig. 2: sampled and exact minimum rank of random "
                                            "one-layer networks.")
    p.add_argument("--networks", type=int_type(1), default=None,
                   help=f"networks per setting (default 100 for A/B, {N_NETWORKS_CD} for C/D)")
    p.add_argument("--samples", type=int_type(1), default=1000, help="uniform points per network")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, e.g. tcp://host:8786 (default: a local process pool)")
    p.add_argument("--workers", type=int_type(1), default=None, help="local processes (default: all cores)")
    p.add_argument("--no-exact", action="store_true", help="sampled estimate only (no MILP)")
    p.add_argument("--time-limit", type=float_type(0, strict=True), default=None,
                   help="seconds per MILP; values it does not prove are reported as unproven "
                        "(default: no limit)")
    p.add_argument("--seed", type=int_type(0), default=0, help="root seed of the networks and samples")
    p.add_argument("--out", default=f"polyrank-{figure}", help="output folder")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    return p


def cli_main(figure, argv):
    """``polyrank reproduce fig2a|fig2b|fig2c|fig2d|fig2 [options]``: write a CSV and a PNG per panel.

    The output folder is checked (and created) before any work; a failed write is reported
    and the exit status is then 1.
    """
    import os

    from .._cliutil import Outputs, output_dir, parse, user_errors

    prog = f"polyrank reproduce {figure}"
    args = parse(build_parser(figure), argv)
    panels = list(_PANELS.values()) if figure == "fig2" else [_PANELS[figure]]
    output_dir(args.out, "--out", prog)
    funcs = {"a": panel_a, "b": panel_b, "c": panel_c, "d": panel_d}
    import matplotlib

    matplotlib.use("Agg")
    out = Outputs(prog)
    for key in panels:
        n = args.networks if args.networks is not None else (100 if key in "ab" else N_NETWORKS_CD)
        t0 = time.perf_counter()
        with user_errors(prog):
            df = funcs[key](n, args.samples, exact=not args.no_exact, seed=args.seed, scheduler=args.scheduler,
                            n_workers=args.workers, progress=args.progress, time_limit=args.time_limit)
        dt = time.perf_counter() - t0
        csv = os.path.join(args.out, f"fig2{key}.csv")
        png = os.path.join(args.out, f"fig2{key}.png")
        print(f"fig2{key}: {len(df)} networks in {dt:.1f} s")
        with out.write(csv):
            df.to_csv(csv, index=False)
        with out.write(png):
            ax = plot_panel(df)
            ax.figure.savefig(png, dpi=150, bbox_inches="tight")
        if not args.no_exact:
            summ = overestimate_summary(df)
            proven, over = int(summ.proven.sum()), int(summ.over.sum())
            print(f"  exact minimum rank proven for {proven} of {len(df)} networks"
                  + (f" ({len(df) - proven} unproven: time limit or general position not verified; "
                     "column unproven_min_rank)" if proven < len(df) else "")
                  + f"; sampling overestimated it for {over} of the {proven} proven")
    return out.finish()
