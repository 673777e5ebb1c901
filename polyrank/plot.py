"""matplotlib views: decompositions (2-D inputs) and analysed manifolds; every figure of
polyrank is drawn with :func:`pyplot` (the Agg backend when there is no display)."""

from __future__ import annotations

import numpy as np

from ._validation import check_layer

__all__ = ["plot_decomposition", "plot_analysis"]


def pyplot():
    """``matplotlib.pyplot``, switched to the non-interactive Agg backend when there is
    no display (so that figures can be saved on a headless machine).

    Examples
    --------
    >>> from polyrank.plot import pyplot
    >>> pyplot().__name__
    'matplotlib.pyplot'
    """
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
                       cmap="viridis", colorbar=True, vmax=None):
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
    vmax : int, optional
        Top of the colour scale, which runs over the integers ``0..vmax`` (default: the
        largest value drawn). Panels drawn with the same ``vmax`` share one colour scale.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> dec = pr.enumerate_regions(pr.ReLUNetwork.from_weights([np.eye(2)], [[0.0, 0.0]]), pr.Box(-1, 1, dim=2))
    >>> ax = pr.plot_decomposition(dec, vmax=3)
    >>> ax.collections[0].norm.boundaries.tolist()
    [-0.5, 0.5, 1.5, 2.5, 3.5]
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
    if vmax is not None:
        if isinstance(vmax, bool) or not isinstance(vmax, (int, np.integer)) or vmax < 0:
            raise ValueError(f"The 'vmax' parameter of plot_decomposition must be an int >= 0 or None; got {vmax!r}.")
        top = max(int(vmax), int(vals.max()) if len(vals) else 0)
    else:
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


#: Gap between a 3-D plot and its colour bar (fraction of the axes width), wide enough for
#: the z tick labels that matplotlib draws right of the box.
CBAR_PAD_3D = 0.15


def _region_cuts(ref, V, S):
    """Where the refined mesh crosses from one linear region to another: for a curve the
    vertices between two edges of different regions (an array of points); for a surface
    the edges between two triangles of different regions (an array of segments)."""
    reg = np.asarray(ref.region)
    if S.shape[1] == 2:
        ends, regs = S.ravel(), np.repeat(reg, 2)
        lo = np.full(V.shape[0], np.iinfo(np.int64).max)
        hi = np.full(V.shape[0], -1)
        np.minimum.at(lo, ends, regs)
        np.maximum.at(hi, ends, regs)
        return V[(hi >= 0) & (lo != hi)]
    if S.shape[1] == 3:
        E = np.sort(np.concatenate([S[:, [0, 1]], S[:, [1, 2]], S[:, [0, 2]]]), axis=1)
        regs = np.tile(reg, 3)
        uniq, inv = np.unique(E, axis=0, return_inverse=True)
        inv = inv.ravel()
        lo = np.full(len(uniq), np.iinfo(np.int64).max)
        hi = np.full(len(uniq), -1)
        np.minimum.at(lo, inv, regs)
        np.maximum.at(hi, inv, regs)
        return V[uniq[lo != hi]]
    return None


def _draw_cuts(ax, cuts, dim3):
    if cuts.ndim == 2:  # points on a curve
        if len(cuts):
            ax.scatter(*cuts.T[:3 if dim3 else 2], marker="o", s=9, facecolors="white", edgecolors="k",
                       linewidths=0.7, zorder=5, label="region cuts")
        return
    if dim3:
        from mpl_toolkits.mplot3d.art3d import Line3DCollection

        # mplot3d sorts collections by depth and hides lines lying on a surface: draw them last
        ax.computed_zorder = False
        ax.add_collection3d(Line3DCollection(cuts, colors="k", linewidths=0.3, alpha=0.6, zorder=5,
                                             label="region cuts"))
    else:
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(cuts[:, :, :2], colors="k", linewidths=0.4, label="region cuts"))


def plot_analysis(report, path=None, *, layer=None, ax=None):
    """Draw the refined manifold of an :class:`~polyrank.AnalysisReport` coloured by rank
    (2-D input: flat; 3-D: as is; higher: its principal 3-D view), with the region cuts
    marked: on a curve a dot where it enters another linear region, on a surface the
    edges between pieces of different regions.

    Parameters
    ----------
    report : AnalysisReport
    path : str, optional
        Save the figure there (PNG, PDF, ...).
    layer : int, optional
        Colour by the rank at this layer (default: the report's layer).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rep = pr.analyze(pr.ReLUNetwork.from_weights([np.eye(2)], [[0.5, 0.5]]), pr.circle(16))
    >>> fig = pr.plot_analysis(rep)
    >>> fig.axes[0].get_title()
    'manifold: 4 regions, quotient b~ = [0, 1]'
    """
    from matplotlib import cm, colors

    plt = pyplot()
    ref = report.refinement
    K = check_layer(layer, report.layer)
    r = ref.ranks[:, K - 1]
    V, S = ref.complex.vertices, ref.complex.simplices
    if V.shape[1] > 3:  # principal 3-D view
        Vc = V - V.mean(0)
        _, _, Wt = np.linalg.svd(Vc, full_matrices=False)
        V = Vc @ Wt[:3].T
    dim3 = V.shape[1] == 3
    cmap = plt.get_cmap("viridis")
    rmax = max(1, int(r.max(initial=0)))
    norm = colors.BoundaryNorm(np.arange(-0.5, rmax + 1.0), cmap.N)  # one colour per integer rank
    if ax is None:
        fig = plt.figure(figsize=(6, 5))
        ax = fig.add_subplot(111, projection="3d" if dim3 else None)
    fig = ax.figure
    cols = cmap(norm(r))
    if S.shape[1] == 3:
        if dim3:
            from mpl_toolkits.mplot3d.art3d import Poly3DCollection

            ax.add_collection3d(Poly3DCollection(V[S], facecolors=cols, edgecolors="none"))
        else:
            from matplotlib.collections import PolyCollection

            ax.add_collection(PolyCollection(V[S][:, :, :2], facecolors=cols, edgecolors="none"))
    elif S.shape[1] == 2:
        if dim3:
            from mpl_toolkits.mplot3d.art3d import Line3DCollection

            ax.add_collection3d(Line3DCollection(V[S], colors=cols, linewidths=2))
        else:
            from matplotlib.collections import LineCollection

            ax.add_collection(LineCollection(V[S][:, :, :2], colors=cols, linewidths=2))
    else:
        P = V[S[:, 0]]
        ax.scatter(*P.T[:3 if dim3 else 2], c=cols, s=4)
    cuts = _region_cuts(ref, V, S)
    if cuts is not None:
        _draw_cuts(ax, cuts, dim3)
    lo, hi = V.min(0), V.max(0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    if dim3:
        ax.set_zlim(lo[2], hi[2])
        ax.set_box_aspect(np.maximum(hi - lo, 1e-3 * max(float((hi - lo).max()), 1e-12)))  # true proportions
    else:
        ax.set_aspect("equal")
    # 3-D axes draw their z tick labels right of the box: keep the colour bar clear of them
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"rank(A_{K})", shrink=0.7,
                 ticks=np.arange(rmax + 1), pad=CBAR_PAD_3D if dim3 else 0.05)
    ax.set_title(f"{report.name}: {report.n_regions} regions, quotient b~ = {report.betti_quotient}")
    if path is not None:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig
