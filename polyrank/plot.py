"""matplotlib views of decompositions (2-D inputs)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_decomposition"]


def pyplot():
    """``matplotlib.pyplot``, switched to the non-interactive Agg backend when there is
    no display (so that figures can be saved on a headless machine)."""
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg",) and not _has_display():
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from exc
    return plt


def _has_display():
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("MPLBACKEND"))


def plot_decomposition(dec, *, layer=None, ax=None, color_by="rank", edgecolor="k", linewidth=0.3,
                       cmap="viridis", colorbar=True):
    """Draw the regions of a 2-D decomposition, coloured by rank (or codeword size).

    Parameters
    ----------
    dec : Decomposition
        From :func:`~polyrank.enumerate_regions` on a network with input dimension 2
        and a bounded domain.
    layer : int, optional
        Layer K whose rank/codeword size colours the regions (default the last).
    ax : matplotlib Axes, optional
    color_by : {"rank", "codeword_size"}

    Returns
    -------
    matplotlib Axes
    """
    if dec.net.input_dim != 2:
        raise ValueError(f"plot_decomposition draws 2-D inputs; this network has input dimension "
                         f"{dec.net.input_dim}. Use net.restrict(P, p0) for a 2-D slice.")
    if color_by not in ("rank", "codeword_size"):
        raise ValueError(f"color_by must be 'rank' or 'codeword_size'; got {color_by!r}.")
    plt = pyplot()
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import BoundaryNorm

    K = dec.layer if layer is None else layer
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5.5))
    polys, vals = [], []
    for r in dec.regions:
        if not r.bounded:
            continue
        V = r.vertices()
        c = V.mean(axis=0)
        V = V[np.argsort(np.arctan2(V[:, 1] - c[1], V[:, 0] - c[0]))]
        polys.append(V)
        vals.append(r.ranks[K - 1] if color_by == "rank" else r.codeword_sizes[K - 1])
    vals = np.asarray(vals)
    top = int(vals.max()) if len(vals) else 1
    levels = np.arange(-0.5, top + 1.5)
    norm = BoundaryNorm(levels, plt.get_cmap(cmap).N)
    pc = PolyCollection(polys, array=vals, cmap=cmap, norm=norm, edgecolors=edgecolor, linewidths=linewidth)
    ax.add_collection(pc)
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    label = "rank" if color_by == "rank" else "codeword size"
    ax.set_title(f"{len(dec)} regions, {label} at layer {K}")
    if colorbar:
        cb = ax.figure.colorbar(pc, ax=ax, ticks=np.arange(0, top + 1, max(1, (top + 1) // 10)))
        cb.set_label(label)
    return ax
