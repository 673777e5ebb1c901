"""Trained networks: regression versus classification (paper Fig. 3C and appendix 7.3).

Networks ``d-160-80-40-1`` are trained with MSE (Adam, lr 1e-3, batch 64) on targets built
from optimisation test functions: for Fig. 3C the sphere function in 20-D, discretised at
``n = 2..6`` percentile levels or left continuous (``docs/paper/fig3c.md``); for the appendix,
seven functions, each as a regression (z-scored ``f``) and as the classification target
``f > mean``. Before and after training, the codeword size and the rank of the local
affine map ``A_K`` of every hidden layer are averaged over held-out test points; a
Wilcoxon rank-sum test (``scipy.stats.ranksums``) with Bonferroni correction compares the
networks' values after training with those before.

The paper's claim: classification-like targets move samples into low-rank
(topology-destroying) regions; smooth regression targets do the opposite.

``polyrank reproduce fig3c`` and ``polyrank reproduce appendix`` are in
:mod:`polyrank.experiments.fig3c_cli`.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np

from .._validation import check_positive_float, check_positive_int, check_widths
from ..plot import pyplot
from ..data.functions import (APPENDIX_FUNCTIONS, TEST_FUNCTIONS, classify_above_mean, discretize,
                              sample_task)
from ._common import finish_figure

__all__ = [
    "run_fig3c",
    "run_appendix",
    "wilcoxon_table",
    "plot_fig3c",
    "plot_fig3c_illustration",
    "PAPER_EPOCHS",
    "PAPER_SETTINGS",
    "QUICK_SETTINGS",
    "FIG3C_LEVELS",
]

#: Epochs per network. The paper does not state the number for Fig. 3C or the appendix;
#: 50 is the number of its MNIST experiment (Fig. 3A/B), the only one it states.
PAPER_EPOCHS = 50

#: Significance level of the Bonferroni-corrected Wilcoxon rank-sum tests (the paper's stars).
ALPHA = 0.05

_METRICS = ("mean_codeword_size", "mean_rank")
#: Discretisation levels of Fig. 3C (None: the continuous target).
FIG3C_LEVELS = (2, 3, 4, 5, 6, None)
#: The paper's parameters (the defaults of ``polyrank reproduce fig3c|appendix``).
PAPER_SETTINGS = dict(n_networks=10, epochs=PAPER_EPOCHS, dim=20, n=10000, widths=(160, 80, 40),
                      batch_size=64, lr=1e-3)
#: The ``--quick`` run: 3 networks, 3 epochs, 1000 points, widths 40, 20, 10.
QUICK_SETTINGS = dict(n_networks=3, epochs=3, n=1000, widths=(40, 20, 10))


# ----------------------------------------------------------------------------- helpers

def _condition_label(task, n_levels):
    if task == "classification":
        return "f>mean"
    return "continuous" if n_levels is None else f"n={n_levels}"


def _target(f, task, n_levels):
    """The training target: z-scored discretisation / continuous value, or f > mean."""
    if task == "classification":
        return classify_above_mean(f)
    return discretize(f, n_levels)


def _mlp(input_dim, widths, output_dim, seed):
    from ..train import mlp

    return mlp(input_dim, widths, output_dim, seed=seed)


def _fit(model, X, y, *, X_test, y_test, epochs, batch_size, lr, seed, device):
    """:func:`polyrank.train.fit` with the MSE loss (one row per epoch, epoch 0 = before)."""
    from ..train import fit

    return fit(model, X, y, X_test=X_test, y_test=y_test, loss="mse", epochs=epochs,
               batch_size=batch_size, lr=lr, seed=seed, device=device)


def _layer_means(model, X):
    """Mean codeword size and mean rank of ``A_K`` over the points ``X``, per hidden layer."""
    from ..network import ReLUNetwork
    from ..rank import ranks_at

    net = ReLUNetwork.from_torch(model)
    R, C = ranks_at(net, X, device="cpu", return_codeword_sizes=True)
    return C.mean(axis=0), R.mean(axis=0)


def _train_one(task):
    """Train one network on one target; return the tidy rows (module level: picklable)."""
    import torch

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and workers must not fight
    try:
        dim, n, n_test = task["dim"], task["n"], task["n_test"]
        X, f = sample_task(task["function"], dim, n + n_test, seed=task["data_seed"])
        y = _target(f, task["task"], task["n_levels"])
        Xtr, Xte, ytr, yte = X[:n], X[n:], y[:n], y[n:]
        model = _mlp(dim, task["widths"], 1, task["net_seed"])
        cw0, rk0 = _layer_means(model, Xte)
        t0 = time.perf_counter()
        hist = _fit(model, Xtr.astype(np.float32), ytr.astype(np.float32).reshape(-1, 1),
                    X_test=Xte.astype(np.float32), y_test=yte.astype(np.float32).reshape(-1, 1),
                    epochs=task["epochs"], batch_size=task["batch_size"], lr=task["lr"],
                    seed=task["train_seed"], device=task["device"])
        seconds = time.perf_counter() - t0
        model.cpu()
        cw1, rk1 = _layer_means(model, Xte)
    finally:
        torch.set_num_threads(n_threads)
    first, last = hist.iloc[0], hist.iloc[-1]
    rows = []
    for phase, cw, rk, h in (("before", cw0, rk0, first), ("after", cw1, rk1, last)):
        for k, width in enumerate(task["widths"]):
            rows.append(dict(
                experiment=task["experiment"], function=task["function"], task=task["task"],
                condition=task["condition"],
                n_levels=np.nan if task["n_levels"] is None else float(task["n_levels"]),
                network=task["network"], input_dim=task["dim"], layer=k + 1, width=width, phase=phase,
                mean_codeword_size=float(cw[k]), mean_rank=float(rk[k]),
                train_loss=float(h["train_loss"]), test_loss=float(h["test_loss"]),
                epochs=task["epochs"], seconds=seconds,
            ))
    return rows


def _run(experiment, conditions, *, n_networks, epochs, dim, n, n_test, widths, batch_size, lr, seed,
         scheduler, n_workers, device, progress, func):
    import pandas as pd

    n_networks = check_positive_int(n_networks, name="n_networks", func=func)
    epochs = check_positive_int(epochs, name="epochs", func=func, minimum=0)
    dim = check_positive_int(dim, name="dim", func=func)
    n = check_positive_int(n, name="n", func=func, minimum=2)
    n_test = n if n_test is None else check_positive_int(n_test, name="n_test", func=func, minimum=2)
    widths = tuple(check_widths(widths, func=func))
    batch_size = check_positive_int(batch_size, name="batch_size", func=func)
    lr = check_positive_float(lr, name="lr", func=func)
    functions = list(dict.fromkeys(fn for fn, _, _ in conditions))
    for fn in functions:
        if dim < TEST_FUNCTIONS[fn].min_dim:
            raise ValueError(f"The 'dim' parameter of {func} must be >= {TEST_FUNCTIONS[fn].min_dim} for "
                             f"{fn}. Got {dim} instead.")
    rng = np.random.default_rng(seed)
    data_seeds = {fn: int(s) for fn, s in zip(functions, rng.integers(2**31 - 1, size=len(functions)))}
    net_seeds = rng.integers(2**31 - 1, size=n_networks)
    train_seeds = rng.integers(2**31 - 1, size=n_networks)
    tasks = []
    for fn, task, n_levels in conditions:
        for i in range(n_networks):
            tasks.append(dict(
                experiment=experiment, function=fn, task=task, n_levels=n_levels,
                condition=_condition_label(task, n_levels), network=i, dim=dim, n=n, n_test=n_test,
                widths=widths, epochs=epochs, batch_size=batch_size, lr=lr,
                data_seed=data_seeds[fn], net_seed=int(net_seeds[i]), train_seed=int(train_seeds[i]),
                device=device,
            ))
    from ._sweep import run_tasks

    results = run_tasks(_train_one, tasks, scheduler=scheduler, n_workers=n_workers, progress=progress)
    return pd.DataFrame([row for rows in results for row in rows])


# ----------------------------------------------------------------------------- public API

def run_fig3c(*, n_networks=10, epochs=PAPER_EPOCHS, levels=FIG3C_LEVELS, dim=20, n=10000, n_test=None,
              widths=(160, 80, 40), function="sphere", batch_size=64, lr=1e-3, seed=0, scheduler=None,
              n_workers=None, device=None, progress=False):
    """Paper Fig. 3C: train on the sphere function discretised at ``n`` levels; codeword sizes and ranks.

    For each level in ``levels`` (``None`` = the continuous target), ``n_networks``
    networks ``dim-widths-1`` are trained with MSE on the z-scored n-th percentile
    discretisation (:func:`polyrank.data.discretize`) of ``function`` sampled uniformly
    on its domain in ``dim`` dimensions. The mean codeword size and mean rank of every
    hidden layer are measured on ``n_test`` held-out points before and after training.

    Parameters
    ----------
    n_networks : int, default 10
        Networks per level (each starts from its own PyTorch-default initialisation; the
        i-th network starts from the same weights at every level).
    epochs : int, default :data:`PAPER_EPOCHS`
    levels : sequence of (int >= 2 or None), default (2, 3, 4, 5, 6, None)
    dim : int, default 20
    n : int, default 10000
        Training points; the test set has ``n_test`` (default ``n``) more from the same
        distribution. Targets are computed on the union of both (percentiles, mean, std).
    widths : sequence of int, default (160, 80, 40)
    function : str, default "sphere"
        A key of :data:`polyrank.data.TEST_FUNCTIONS`.
    batch_size, lr : Adam mini-batch size and learning rate (paper: 64, 1e-3).
    seed : None, int or Generator
        Draws the data, the initial weights and the mini-batch order.
    scheduler : str, optional
        A Dask scheduler address; default a local process pool.
    n_workers : int, optional
        Local pool size (default: as ``polyrank.experiments._sweep.run_tasks`` decides).
    device : str, optional
        Torch device for training ("cuda"); measurements are always in float64 on CPU.
    progress : bool, default False

    Returns
    -------
    pandas.DataFrame
        Tidy: one row per (condition, network, layer, phase) with columns ``experiment,
        function, task, condition, n_levels, network, input_dim, layer, width, phase``
        ("before" /
        "after"), ``mean_codeword_size, mean_rank`` (means over the test points),
        ``train_loss, test_loss`` (at that phase), ``epochs, seconds``. Feed it to
        :func:`wilcoxon_table` and :func:`plot_fig3c`.

    Raises
    ------
    ValueError
        For a bad count, width, level or function name.

    Notes
    -----
    Ranks are exact in the sense of :func:`polyrank.rank.matrix_rank`: the SVD rank of
    ``A_K = D_K W_K ... D_1 W_1`` in float64 at each test point, with numpy's default
    tolerance; codeword sizes are counts of positive pre-activations. Cost: training
    dominates, ``n_conditions * n_networks * epochs * n / batch_size`` Adam steps; the
    measurement is one batched SVD of ``(width_K, dim)`` per test point and layer.

    Examples
    --------
    A tiny run (the paper's is ``run_fig3c()``):

    >>> df = pr.experiments.fig3c.run_fig3c(n_networks=2, epochs=1, levels=(2,), dim=3, n=64,
    ...                                     widths=(4, 3), n_workers=1)
    >>> len(df), sorted(df.phase.unique()), sorted(int(k) for k in df.layer.unique())
    (8, ['after', 'before'], [1, 2])
    >>> bool((df.mean_rank <= 3).all() and (df.mean_codeword_size <= df.width).all())
    True
    """
    func = "run_fig3c"
    if function not in TEST_FUNCTIONS:
        raise ValueError(f"The 'function' parameter of {func} must be one of {', '.join(TEST_FUNCTIONS)}. "
                         f"Got {function!r} instead.")
    levels = tuple(levels)
    if not levels:
        raise ValueError(f"The 'levels' parameter of {func} must name at least one level.")
    for lv in levels:
        if lv is not None and (isinstance(lv, bool) or not isinstance(lv, numbers.Integral) or lv < 2):
            raise ValueError(f"The 'levels' parameter of {func} must hold ints >= 2 or None (continuous). "
                             f"Got {lv!r} in {levels!r}.")
    conditions = [(function, "regression", None if lv is None else int(lv)) for lv in levels]
    return _run("fig3c", conditions, n_networks=n_networks, epochs=epochs, dim=dim, n=n, n_test=n_test,
                widths=widths, batch_size=batch_size, lr=lr, seed=seed, scheduler=scheduler,
                n_workers=n_workers, device=device, progress=progress, func=func)


def run_appendix(*, functions=APPENDIX_FUNCTIONS, tasks=("regression", "classification"), n_networks=10,
                 epochs=PAPER_EPOCHS, dim=20, n=10000, n_test=None, widths=(160, 80, 40), batch_size=64,
                 lr=1e-3, seed=0, scheduler=None, n_workers=None, device=None, progress=False):
    """Paper appendix 7.3: regression and ``f > mean`` classification of the optimisation functions.

    For each function and task, ``n_networks`` networks ``dim-widths-1`` are trained with
    MSE on the z-scored function values ("regression") or on the 0/1 target ``f > mean``
    ("classification"), and measured as in :func:`run_fig3c`.

    Parameters
    ----------
    functions : sequence of str, default :data:`polyrank.data.APPENDIX_FUNCTIONS`
    tasks : sequence of {"regression", "classification"}
    n_networks, epochs, dim, n, n_test, widths, batch_size, lr, seed, scheduler, n_workers, device, progress
        As in :func:`run_fig3c`.

    Returns
    -------
    pandas.DataFrame
        The tidy frame of :func:`run_fig3c`, ``experiment == "appendix"``; ``condition``
        is "continuous" (regression) or "f>mean" (classification).

    Raises
    ------
    ValueError
        For an unknown function or task, or a bad count or width.

    Notes
    -----
    Inputs are the raw samples of each function's domain (e.g. [-500, 500]^20 for
    Schwefel), as in the paper. Cost as in :func:`run_fig3c`, with
    ``len(functions) * len(tasks)`` conditions.

    Examples
    --------
    >>> df = pr.experiments.fig3c.run_appendix(functions=["rosenbrock"], n_networks=1, epochs=1,
    ...                                        dim=3, n=64, widths=(4,), n_workers=1)
    >>> sorted(df.condition.unique())
    ['continuous', 'f>mean']
    """
    func = "run_appendix"
    functions = [functions] if isinstance(functions, str) else list(functions)
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    if not functions or not tasks:
        raise ValueError(f"{func} needs at least one function and one task.")
    for fn in functions:
        if fn not in TEST_FUNCTIONS:
            raise ValueError(f"The 'functions' parameter of {func} must hold names from "
                             f"{', '.join(TEST_FUNCTIONS)}. Got {fn!r}.")
    for t in tasks:
        if t not in ("regression", "classification"):
            raise ValueError(f"The 'tasks' parameter of {func} must hold 'regression' or 'classification'. "
                             f"Got {t!r}.")
    conditions = [(fn, t, None) for fn in functions for t in tasks]
    return _run("appendix", conditions, n_networks=n_networks, epochs=epochs, dim=dim, n=n, n_test=n_test,
                widths=widths, batch_size=batch_size, lr=lr, seed=seed, scheduler=scheduler,
                n_workers=n_workers, device=device, progress=progress, func=func)


def wilcoxon_table(df, *, alpha=ALPHA):
    """Wilcoxon rank-sum tests, after versus before training, Bonferroni-corrected.

    One test per (experiment, function, task, condition, layer) and metric
    (``mean_codeword_size`` and ``mean_rank``): the networks' values after training
    against their values before (``scipy.stats.ranksums(after, before)``, two-sided).

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`run_fig3c` or :func:`run_appendix` (or both, concatenated).
    alpha : float, default 0.05
        Family-wise significance level.

    Returns
    -------
    pandas.DataFrame
        One row per test: ``experiment, function, task, condition, layer, width, metric,
        n_before, n_after, mean_before, mean_after, statistic`` (positive when the values
        rose), ``p_value, n_tests, p_bonferroni`` (``min(1, p * n_tests)``),
        ``significant`` (``p_bonferroni < alpha``).

    Raises
    ------
    ValueError
        If columns are missing or ``alpha`` is not in (0, 1).

    Notes
    -----
    The Bonferroni family is every test of one metric on one function within one
    experiment: for Fig. 3C that is 6 levels x 3 layers = 18 tests, for each appendix
    function 2 tasks x 3 layers = 6. With 10 networks per group the smallest possible
    two-sided p-value of the normal approximation is about 1.6e-4, so 18 tests can still
    reach significance. The "before" networks are the same initial weights for every
    condition (paired only by construction; the rank-sum test treats them as independent
    samples, as the paper does). Cost: ``O(n_rows log n_rows)``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame(dict(experiment="x", function="f", task="regression", condition="n=2",
    ...     layer=1, width=4, phase=["before"] * 5 + ["after"] * 5, network=list(range(5)) * 2,
    ...     mean_codeword_size=[1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], mean_rank=[1.0] * 10))
    >>> t = pr.experiments.fig3c.wilcoxon_table(df)
    >>> print(t[["metric", "mean_before", "mean_after", "p_value", "n_tests"]].round(4).to_string(index=False))
                metric  mean_before  mean_after  p_value  n_tests
    mean_codeword_size          3.0         8.0    0.009        1
             mean_rank          1.0         1.0    1.000        1

    (The rank sum of the "after" values is 40 against 27.5 expected, z = 2.61.)
    """
    import pandas as pd
    from scipy.stats import ranksums

    need = {"experiment", "function", "task", "condition", "layer", "width", "phase", *_METRICS}
    missing = need - set(df.columns)
    if missing:
        raise ValueError(f"wilcoxon_table needs the columns of run_fig3c; missing {sorted(missing)}.")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"The 'alpha' parameter of wilcoxon_table must be a float in (0, 1). Got {alpha!r}.")
    keys = ["experiment", "function", "task", "condition", "layer", "width"]
    rows = []
    for key, g in df.groupby(keys, sort=False):
        for metric in _METRICS:
            before = g.loc[g.phase == "before", metric].to_numpy(dtype=float)
            after = g.loc[g.phase == "after", metric].to_numpy(dtype=float)
            if len(before) == 0 or len(after) == 0:
                continue
            if np.array_equal(np.unique(before), np.unique(after)) and len(np.unique(before)) == 1:
                stat, p = 0.0, 1.0  # all values equal: no evidence of a difference
            else:
                res = ranksums(after, before)
                stat, p = float(res.statistic), float(res.pvalue)
            rows.append(dict(zip(keys, key), metric=metric, n_before=len(before), n_after=len(after),
                             mean_before=float(before.mean()), mean_after=float(after.mean()),
                             statistic=stat, p_value=p))
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["n_tests"] = out.groupby(["experiment", "function", "metric"])["p_value"].transform("size")
    out["p_bonferroni"] = np.minimum(1.0, out["p_value"] * out["n_tests"])
    out["significant"] = out["p_bonferroni"] < alpha
    return out


def plot_fig3c(df, path=None, *, metric="mean_codeword_size", layer=None, alpha=ALPHA):
    """Plot before/after values per condition, like the paper's Fig. 3C (and appendix Fig. 4).

    One panel per (experiment, function); in each, for every condition, the networks'
    values before training (blue) and after (orange) as box plots with the points on top,
    and a star where the Bonferroni-corrected Wilcoxon test of :func:`wilcoxon_table` is
    significant. When ``metric`` is the codeword size a dashed line marks the input
    dimension ``d`` (codeword sizes below it are certainly topology-destroying), or the
    layer's width when the layer is narrower than ``d`` (every codeword size is then
    below ``d``, and the width is the largest one reachable).

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`run_fig3c` / :func:`run_appendix`.
    path : str or path-like, optional
        Where to save the figure (PNG, PDF, ...).
    metric : {"mean_codeword_size", "mean_rank"}
    layer : int, optional
        Hidden layer (default the last one, the 40-unit layer of the paper).
    alpha : float, default 0.05

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For an unknown metric or a layer that the frame does not hold.

    Examples
    --------
    >>> df = pr.experiments.fig3c.run_fig3c(n_networks=2, epochs=1, levels=(2, None), dim=2, n=32,
    ...                                     widths=(3,), n_workers=1)
    >>> fig = pr.experiments.fig3c.plot_fig3c(df)
    >>> len(fig.axes)
    1
    """
    if metric not in _METRICS:
        raise ValueError(f"The 'metric' parameter of plot_fig3c must be one of {_METRICS}. Got {metric!r}.")
    K = int(df.layer.max()) if layer is None else layer
    if K not in set(df.layer.unique()):
        raise ValueError(f"The 'layer' parameter of plot_fig3c must be one of {sorted(df.layer.unique())}. "
                         f"Got {layer!r}.")
    plt = pyplot()
    stats = wilcoxon_table(df, alpha=alpha)
    sub = df[df.layer == K]
    panels = list(dict.fromkeys(zip(sub.experiment, sub.function)))
    ncol = min(4, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
    colors = {"before": "#1f77b4", "after": "#ff7f0e"}
    dash = None
    for ax, (exp, fn) in zip(axes.flat, panels):
        g = sub[(sub.experiment == exp) & (sub.function == fn)]
        conds = list(dict.fromkeys(g.condition))
        for j, cond in enumerate(conds):
            for phase, dx in (("before", -0.18), ("after", 0.18)):
                v = g.loc[(g.condition == cond) & (g.phase == phase), metric].to_numpy()
                bp = ax.boxplot(v, positions=[j + dx], widths=0.3, patch_artist=True, showfliers=False)
                for patch in bp["boxes"]:
                    patch.set_facecolor(colors[phase])
                    patch.set_alpha(0.45)
                ax.plot(np.full(len(v), j + dx), v, ".", color=colors[phase], ms=4)
            s = stats[(stats.experiment == exp) & (stats.function == fn) & (stats.condition == cond)
                      & (stats.layer == K) & (stats.metric == metric)]
            if len(s) and bool(s.significant.iloc[0]):
                top = g.loc[g.condition == cond, metric].max()
                ax.text(j, top, "*", ha="center", va="bottom", fontsize=16)
        ax.set_xticks(range(len(conds)))
        ax.set_xticklabels([c.replace("n=", "") for c in conds])
        if metric == "mean_codeword_size" and "input_dim" in g:
            d = int(g["input_dim"].iloc[0])
            w = int(g["width"].iloc[0]) if "width" in g else d
            # codeword sizes below d certainly destroy topology; a layer narrower than d never
            # reaches d, so the line goes at its width, the largest reachable size
            level, what = (d, f"input dimension d = {d}") if w >= d else (w, f"layer width {w} < d = {d}")
            dash = ax.axhline(level, ls="--", color="0.5", lw=0.8, label=what)
        title = TEST_FUNCTIONS[fn].title if fn in TEST_FUNCTIONS else fn
        ax.set_title(f"{title} ({exp}), layer {K}")
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_xlabel("levels in the target" if exp == "fig3c" else "target")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.6) for c in colors.values()]
    labels = ["before training", "after training"]
    if dash is not None:
        handles.append(dash)
        labels.append(dash.get_label())
    axes.flat[0].legend(handles, labels, loc="best", fontsize=7)
    return finish_figure(fig, path)


def plot_fig3c_illustration(path=None, *, levels=(2, 3, 5, None), widths=(16, 16, 4), n=2000, epochs=30,
                            seed=0):
    """The 2-D illustration: the sphere function discretised, and trained 2-D networks' rank maps.

    Top row: the 2-D sphere function on [-5.12, 5.12]^2 discretised at each of ``levels``
    (``None`` = continuous; percentiles of the plotted grid). Bottom row: for each
    level, a network ``2-widths-1`` trained on ``n`` samples of
    that target (MSE, Adam 1e-3, batch 64, ``epochs`` epochs), its exact decomposition
    :func:`polyrank.enumerate_regions` on the domain drawn by
    :func:`polyrank.plot_decomposition` and coloured by the rank of the last hidden layer,
    on one colour scale shared by all panels (ranks ``0..min(2, widths[-1])``) with one
    colour bar.

    Parameters
    ----------
    path : str or path-like, optional
    levels : sequence of (int >= 2 or None)
    widths : sequence of int, default (16, 16, 4)
        A narrow last layer, so that rank drops (rank < 2) can be seen in 2-D.
    n, epochs : int
    seed : None or int

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For bad levels, widths or counts.

    Examples
    --------
    >>> fig = pr.experiments.fig3c.plot_fig3c_illustration(levels=(2, None), widths=(4,), n=64, epochs=1)
    >>> len(fig.axes) >= 4
    True
    """
    from ..domain import Box
    from ..enumerate import enumerate_regions
    from ..network import ReLUNetwork
    from ..plot import plot_decomposition

    func = "plot_fig3c_illustration"
    levels = tuple(levels)
    if not levels:
        raise ValueError(f"The 'levels' parameter of {func} must name at least one level.")
    for lv in levels:
        if lv is not None and (isinstance(lv, bool) or not isinstance(lv, numbers.Integral) or lv < 2):
            raise ValueError(f"The 'levels' parameter of {func} must hold ints >= 2 or None. Got {lv!r}.")
    widths = tuple(check_widths(widths, func=func))
    n = check_positive_int(n, name="n", func=func, minimum=2)
    epochs = check_positive_int(epochs, name="epochs", func=func, minimum=0)
    plt = pyplot()
    sphere = TEST_FUNCTIONS["sphere"]
    lo, hi = sphere.domain
    g = np.linspace(lo, hi, 201)
    G = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    fG = sphere.f(G)
    trained = levels
    ncol = len(levels)
    fig, axes = plt.subplots(2, ncol, figsize=(3.3 * ncol, 6.4), squeeze=False)
    for j, lv in enumerate(levels):
        ax = axes[0, j]
        ax.imshow(discretize(fG, lv).reshape(len(g), len(g)), origin="lower", extent=(lo, hi, lo, hi),
                  cmap="viridis")
        ax.set_title("continuous" if lv is None else f"n = {lv}")
        ax.set_xticks([])
        ax.set_yticks([])
    rng = np.random.default_rng(seed)
    box = Box(lo, hi, dim=2)
    decs = []
    for lv in trained:
        X, f = sample_task("sphere", 2, n, seed=rng)
        y = discretize(f, lv)
        model = _mlp(2, widths, 1, int(rng.integers(2**31 - 1)))
        _fit(model, X.astype(np.float32), y.astype(np.float32).reshape(-1, 1), X_test=X.astype(np.float32),
             y_test=y.astype(np.float32).reshape(-1, 1), epochs=epochs, batch_size=64, lr=1e-3,
             seed=int(rng.integers(2**31 - 1)), device=None)
        decs.append(enumerate_regions(ReLUNetwork.from_torch(model.cpu()), box))
    # one colour scale for every panel: ranks 0..min(2, last width), the most a 2-D input allows
    top = min(2, widths[-1])
    for j, (lv, dec) in enumerate(zip(trained, decs)):
        ax = plot_decomposition(dec, ax=axes[1, j], vmax=top, colorbar=False)
        ax.set_title(f"trained on {'continuous' if lv is None else f'n = {lv}'}: {len(dec)} regions",
                     fontsize=9)
    fig.tight_layout()
    if decs:
        from matplotlib import cm, colors

        norm = colors.BoundaryNorm(np.arange(-0.5, top + 1.0), plt.get_cmap("viridis").N)
        cb = fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=list(axes[1]), shrink=0.8,
                          ticks=np.arange(top + 1))
        cb.set_label(f"rank of A_{len(widths)} (all panels)")
    return finish_figure(fig, path, tight=False)  # laid out before the colour bar was added


# ----------------------------------------------------------------------------- command line
