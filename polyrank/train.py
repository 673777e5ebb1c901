"""Training loops that record ranks and codeword sizes per epoch.

:func:`fit` trains a ``torch.nn.Sequential`` of Linear/ReLU layers with Adam and
returns one row per epoch (epoch 0 = before training) with the losses, the test
accuracy and, on fixed probe sets, the mean rank and mean codeword size of every
hidden layer (computed with :func:`polyrank.ranks_at`). :func:`mlp` builds the
paper's networks with PyTorch's default initialisation.
"""

from __future__ import annotations


import numpy as np

__all__ = ["fit", "mlp", "LOSSES"]

#: The losses :func:`fit` accepts.
LOSSES = ("cross_entropy", "mse")

#: Torch intra-op threads for the training steps of :func:`fit` on a CPU (the caller's setting is
#: restored for the rank records, whose large GEMMs use all threads). A mini-batch step of the
#: Fig. 3 network (batch 64) is a chain of small GEMMs and element-wise kernels, each a parallel
#: region whose threads must meet at a barrier: on the project's shared 2-core machine an epoch
#: took 7-9 CPU s (13-14 s wall) with two threads and 1.4 CPU s (2.2 s wall) with one
#: (benchmarks/fig3ab_epoch.py). The update rule and the batches are the same.
TRAIN_CPU_THREADS = 1


def mlp(input_dim, widths, output_dim=None, *, seed=0):
    """A ``torch.nn.Sequential`` MLP: Linear+ReLU hidden layers and a linear read-out.

    Weights and biases get PyTorch's default initialisation, U(+-1/sqrt(fan_in)),
    drawn after ``torch.manual_seed(seed)`` inside :func:`torch.random.fork_rng`, so
    the global torch RNG is left untouched. This is the one builder of the random
    networks used by the command line, the benchmarks and the tests.

    Parameters
    ----------
    input_dim : int
    widths : sequence of int
        Hidden widths, e.g. ``(2000, 1000, 500, 100)``.
    output_dim : int or None, default None
        Width of the read-out; None for no read-out.
    seed : int, default 0

    Returns
    -------
    torch.nn.Sequential (float32)

    Raises
    ------
    ValueError
        For a non-positive dimension or an empty ``widths``.

    Examples
    --------
    >>> m = pr.train.mlp(4, [8, 6], 3, seed=0)
    >>> [type(x).__name__ for x in m]
    ['Linear', 'ReLU', 'Linear', 'ReLU', 'Linear']
    >>> pr.as_network(m).widths
    (8, 6)
    """
    import torch
    import torch.nn as nn

    from ._validation import check_positive_int, check_seed, check_widths

    input_dim = check_positive_int(input_dim, name="input_dim", func="mlp")
    widths = check_widths(widths, func="mlp")
    if output_dim is not None:
        output_dim = check_positive_int(output_dim, name="output_dim", func="mlp")
    seed = check_seed(seed, func="mlp")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mods, prev = [], input_dim
        for w in widths:
            mods += [nn.Linear(prev, w), nn.ReLU()]
            prev = w
        if output_dim is not None:
            mods.append(nn.Linear(prev, output_dim))
        return nn.Sequential(*mods)


def _targets(y, n, loss, out_dim, *, name):
    y = np.asarray(y)
    if y.shape[:1] != (n,):
        raise ValueError(f"{name} must have {n} entries (one per row of the inputs); got shape {y.shape}.")
    if loss == "cross_entropy":
        if y.ndim != 1:
            raise ValueError(f"With loss='cross_entropy', {name} must be 1-D integer class labels; "
                             f"got shape {y.shape}.")
        if y.size and (not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0 or y.max() >= out_dim):
            raise ValueError(f"{name} must hold integer labels in 0..{out_dim - 1} (the model has {out_dim} "
                             f"outputs); got values in [{y.min()}, {y.max()}].")
        return y.astype(np.int64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != out_dim:
        raise ValueError(f"With loss='mse', {name} must have shape ({n},) or ({n}, {out_dim}) to match the "
                         f"model's {out_dim} outputs; got {np.shape(y)}.")
    if not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return y


def _adam(model, lr):
    """Adam with the fused kernel where torch has it for the parameters' device (on CPU about
    8x faster per step than the per-tensor loop for the 3.1M weights of the Fig. 3 network,
    which dominated an epoch); the update rule is the same."""
    import torch

    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this torch/device/dtype
        return torch.optim.Adam(model.parameters(), lr=lr)


def fit(net, X_train, y_train, *, X_test=None, y_test=None, loss="cross_entropy", epochs=10, batch_size=64,
        lr=1e-3, seed=0, device=None, probes=None, layers=None, progress=False):
    """Train the torch module ``net`` in place with Adam and record losses, accuracy, ranks and codeword sizes per epoch.

    Parameters
    ----------
    net : torch.nn.Sequential
        Linear/ReLU layers ending in a linear read-out (as built by :func:`mlp`); trained in place
        and moved to ``device``.
    X_train : array-like of shape (n_train, input_dim)
    y_train : array-like
        Integer labels of shape (n_train,) for ``loss="cross_entropy"``; float targets of shape
        (n_train,) or (n_train, n_outputs) for ``loss="mse"``.
    X_test, y_test : array-like, optional
        A held-out set for ``test_loss`` and ``test_accuracy``.
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
    epochs : int, default 10
        Number of passes over the training set (0 records the untrained model only).
    batch_size : int, default 64
    lr : float, default 1e-3
        Adam's learning rate.
    seed : int, default 0
        Seeds ``torch.manual_seed`` (inside :func:`torch.random.fork_rng`, so the global torch
        RNG is left as it was) and the :class:`torch.Generator` that shuffles the mini-batches.
    device : str or torch.device, optional
        Default CUDA when available, else CPU; also used for the rank computations.
    probes : dict of str to array-like of shape (n_probe, input_dim), optional
        Fixed input sets (e.g. ``{"data": X, "noise": N}``) on which to record, every epoch,
        the mean rank and mean codeword size of each hidden layer.
    layers : int or sequence of int, optional
        Hidden layers (1-based) to record; default all.
    progress : bool, default False
        Show a tqdm progress bar over epochs.

    Returns
    -------
    pandas.DataFrame
        One row per epoch ``0..epochs`` with columns ``epoch``, ``train_loss`` (mean loss over
        the whole training set, evaluated after the epoch), ``test_loss``, ``test_accuracy``
        (NaN without a test set; accuracy NaN for ``mse``), and for every probe ``P`` and
        recorded layer ``k``: ``f"{P}_mean_rank_{k}"`` and ``f"{P}_mean_codeword_size_{k}"``.

    Raises
    ------
    ValueError
        For inputs of the wrong shape, labels outside the model's classes, an unknown
        ``loss`` or non-positive ``epochs``/``batch_size``/``lr``.
    TypeError
        If ``net`` is not a Linear/ReLU ``torch.nn.Module`` or ``probes`` is not a dict.

    Notes
    -----
    Deterministic given ``seed`` on a given device (CPU kernels are deterministic; CUDA
    matmuls may differ in the last bits). The rank statistics are those of
    :func:`polyrank.ranks_at` on the float64 copy of the weights (exact in the sense
    documented there). Cost per epoch: one pass of Adam plus one forward pass over the
    training and test sets, plus ``ranks_at`` on each probe set. On a CPU the training steps
    run with ``TRAIN_CPU_THREADS`` torch threads (the caller's count is restored for the
    rest).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
    >>> m = pr.train.mlp(3, [8, 8], 2, seed=0)
    >>> df = pr.train.fit(m, X, y, epochs=2, batch_size=16, probes={"data": X[:10]}, device="cpu")
    >>> list(df.columns)[:4], len(df)
    (['epoch', 'train_loss', 'test_loss', 'test_accuracy'], 3)
    >>> bool(df.train_loss.iloc[-1] < df.train_loss.iloc[0])
    True
    """
    import pandas as pd
    import torch
    import torch.nn as nn

    from ._validation import (check_device, check_layers, check_points, check_positive_float, check_positive_int,
                              check_seed)
    from .network import ReLUNetwork
    from .rank import ranks_at

    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module (e.g. from polyrank.train.mlp); got "
                        f"{type(net).__name__}.")
    model = net  # the torch module, trained in place
    net = ReLUNetwork.from_torch(model)  # validates Linear/ReLU structure
    if loss not in LOSSES:
        raise ValueError(f"The 'loss' parameter of fit must be one of {LOSSES}; got {loss!r}.")
    epochs = check_positive_int(epochs, name="epochs", func="fit", minimum=0)
    batch_size = check_positive_int(batch_size, name="batch_size", func="fit")
    lr = check_positive_float(lr, name="lr", func="fit")
    seed = check_seed(seed, func="fit")
    layers = check_layers(layers, net.n_layers, func="fit")
    device = check_device(device)
    out_dim = net.output_dim
    if loss == "cross_entropy" and net.readout is None:
        raise ValueError("loss='cross_entropy' needs a linear read-out layer after the last ReLU "
                         "(build the model with polyrank.train.mlp(..., output_dim=n_classes)).")
    X_train = check_points(X_train, net.input_dim, name="X_train")
    y_train = _targets(y_train, X_train.shape[0], loss, out_dim, name="y_train")
    if X_train.shape[0] == 0:
        raise ValueError("X_train is empty.")
    has_test = X_test is not None or y_test is not None
    if has_test:
        if X_test is None or y_test is None:
            raise ValueError("Pass both X_test and y_test, or neither.")
        X_test = check_points(X_test, net.input_dim, name="X_test")
        y_test = _targets(y_test, X_test.shape[0], loss, out_dim, name="y_test")
    if probes is None:
        probes = {}
    if not isinstance(probes, dict):
        raise TypeError(f"probes must be a dict name -> array of inputs; got {type(probes).__name__}.")
    probes = {str(k): check_points(v, net.input_dim, name=f"probes[{k!r}]") for k, v in probes.items()}

    if probes:
        starts = np.cumsum([0] + [len(P) for P in probes.values()])[:-1]
        all_probes = np.concatenate(list(probes.values()))
    param = next(model.parameters())
    dtype = param.dtype
    model.to(device)

    def tensor(a, is_label=False):
        return torch.as_tensor(a, dtype=torch.long if is_label else dtype, device=device)

    Xtr, ytr = tensor(X_train), tensor(y_train, loss == "cross_entropy")
    if has_test:
        Xte, yte = tensor(X_test), tensor(y_test, loss == "cross_entropy")
    crit = nn.CrossEntropyLoss() if loss == "cross_entropy" else nn.MSELoss()

    def evaluate(Xt, yt):
        was = model.training
        model.eval()
        total, correct = 0.0, 0
        with torch.no_grad():
            for s in range(0, Xt.shape[0], 4096):
                out = model(Xt[s: s + 4096])
                total += float(crit(out, yt[s: s + 4096])) * out.shape[0]
                if loss == "cross_entropy":
                    correct += int((out.argmax(1) == yt[s: s + 4096]).sum())
        model.train(was)
        n = Xt.shape[0]
        return total / n, (correct / n if loss == "cross_entropy" else float("nan"))

    def record(epoch):
        row = {"epoch": epoch}
        row["train_loss"] = evaluate(Xtr, ytr)[0]
        if has_test:
            row["test_loss"], row["test_accuracy"] = evaluate(Xte, yte)
        else:
            row["test_loss"], row["test_accuracy"] = float("nan"), float("nan")
        if probes:
            # every probe set in one call: one norm estimate and one chunk loop per epoch
            cur = ReLUNetwork.from_torch(model)
            rk_all, cs_all = ranks_at(cur, all_probes, layers, device=device, return_codeword_sizes=True)
            for (name, P), a in zip(probes.items(), starts):
                rk, cs = rk_all[a: a + len(P)], cs_all[a: a + len(P)]
                for j, k in enumerate(layers):
                    row[f"{name}_mean_rank_{k}"] = float(rk[:, j].mean()) if len(P) else float("nan")
                    row[f"{name}_mean_codeword_size_{k}"] = float(cs[:, j].mean()) if len(P) else float("nan")
        return row

    rows = []
    n_threads = torch.get_num_threads()
    train_threads = min(n_threads, TRAIN_CPU_THREADS) if device.type == "cpu" else n_threads
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        gen = torch.Generator().manual_seed(int(seed))
        opt = _adam(model, lr)
        rows.append(record(0))
        epoch_iter = range(1, epochs + 1)
        if progress:
            from tqdm.auto import tqdm

            epoch_iter = tqdm(epoch_iter, desc="fit", unit="epoch")
        n = Xtr.shape[0]
        model.train()
        for epoch in epoch_iter:
            perm = torch.randperm(n, generator=gen).to(device)
            torch.set_num_threads(train_threads)  # small GEMMs: see TRAIN_CPU_THREADS
            try:
                for s in range(0, n, batch_size):
                    idx = perm[s: s + batch_size]
                    opt.zero_grad(set_to_none=True)
                    batch_loss = crit(model(Xtr[idx]), ytr[idx])
                    batch_loss.backward()
                    opt.step()
            finally:
                torch.set_num_threads(n_threads)
            rows.append(record(epoch))
            if progress:
                epoch_iter.set_postfix(train_loss=f"{rows[-1]['train_loss']:.4g}")
    model.eval()
    return pd.DataFrame(rows)
