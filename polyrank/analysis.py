"""Where, and how, a network can change the topology of a manifold: :func:`analyze`.

:func:`analyze` refines a mesh of the manifold exactly along the network's linear
regions (:func:`polyrank.refine`), labels every piece with its rank and tangent rank,
finds the low-rank part ``A`` and the pieces that are glued to points, and computes
Betti numbers of ``X``, ``A``, the pair ``(X, A)``, the quotient ``X/{A_i}`` and, exactly,
of the image ``f(X)`` (:func:`polyrank.image_homology`; ``docs/theory.md``,
``docs/analysis.md``). The
``polyrank analyze`` command is in :mod:`polyrank.cli`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_layer, check_positive_int, check_scale, check_tol
from .complex import SimplicialComplex, check_complex
from .exceptions import PolyrankError
from .image import MAX_CANDIDATES, check_image_mesh, layer_homology
from .intersect import REFINE_TOL, Refinement, refine
from .network import as_network
from .regions import pattern_string

__all__ = ["analyze", "AnalysisReport", "minimal_embedding_dim"]

#: Two rank-0 pieces whose constant images differ by at most this (relative to the
#: largest image coordinate, plus 1) map to the same point (``glue="image"``).
IMAGE_POINT_TOL = 1e-9

#: Intersection LPs :func:`analyze` spends at most on the exact homology of f(X) (seconds
#: to a minute); over it the report says so (``image_error``) and
#: :func:`polyrank.image_homology` computes it with a larger ``max_lps``.
ANALYZE_MAX_LPS = 20_000

#: The ways of grouping rank-0 pieces before gluing (see :func:`analyze`).
GLUE_MODES = ("cell", "image", "component")


# ---------------------------------------------------------------------------- helpers
def minimal_embedding_dim(K) -> int:
    """The smallest m such that the manifold meshed by ``K`` embeds in R^m (closed cases).

    Points: 1; a closed curve: 2; an orientable closed surface (sphere, torus): 3; a
    non-orientable closed surface (Klein bottle, RP^2): 4; a solid with boundary
    (the bodies of :func:`polyrank.ball`, :func:`polyrank.solid_torus`,
    :func:`polyrank.cube_with_holes`): 3. Any other complex of dimension k gets k + 1,
    which is right for the common cases but is only a guess; pass ``threshold`` to
    :func:`analyze` to choose.

    Parameters
    ----------
    K : SimplicialComplex

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``K`` is not a SimplicialComplex.

    Examples
    --------
    >>> pr.minimal_embedding_dim(pr.torus(4, 4)), pr.minimal_embedding_dim(pr.klein_bottle(4, 4))
    (3, 4)
    """
    if not isinstance(K, SimplicialComplex):
        raise TypeError(f"minimal_embedding_dim expects a SimplicialComplex; got {type(K).__name__}.")
    if K.is_orientable() is False:
        return 4
    if K.dim == 3 and len(K.boundary()):
        return 3
    return K.dim + 1


def _hist(values, weights):
    out = {}
    for v in np.unique(values):
        m = values == v
        out[int(v)] = (int(m.sum()), float(weights[m].sum()))
    return out


# ---------------------------------------------------------------------------- report
@dataclass(frozen=True, eq=False)
class AnalysisReport:
    """What a network does to a manifold at one layer (the result of :func:`analyze`).

    Attributes
    ----------
    refinement : Refinement
        The exactly refined mesh with per-piece patterns, ranks and tangent ranks.
    layer : int
        The layer K analysed.
    threshold : int
        Pieces with ``rank(A_K) < threshold`` form the low-rank part ``A``
        (default: the manifold's minimal embedding dimension).
    intrinsic_dim : int
        Dimension of the manifold; pieces with tangent rank below it are *squashed*.
    n_regions : int
        Number of linear regions (layers 1..K) the manifold meets.
    rank_histogram, tangent_rank_histogram : dict
        rank -> (number of pieces, total length/area of those pieces).
    low_rank : bool ndarray of shape (n_pieces,)
        Membership of each refined piece in ``A``.
    squashed : bool ndarray of shape (n_pieces,)
        Tangent rank below ``intrinsic_dim``.
    n_components_A : int
        Connected components of ``A``.
    pieces : tuple of int ndarray
        The glued pieces ``A_i`` (ids of refined simplices): rank-0 cells and rank-1
        components (see :func:`analyze`), pairwise vertex-disjoint.
    n_rank0_pieces, n_rank1_pieces : int
        How many of ``pieces`` contain a rank-0 piece, and how many are rank 1 only.
    betti_X, betti_A, betti_relative : list of int
        ``b(X)``, ``b(A)``, ``b(X, A)`` (= reduced ``b(X/A)`` for nonempty A).
    betti_quotient : list of int
        Reduced Betti numbers of ``X/{A_1, ..., A_r}``, each piece to its own point.
    image : ImageHomology or None
        The exact homology of the image ``f(X)`` (:func:`polyrank.image_homology`):
        ``image.betti``, and its rank and overlap sources; None when not asked for
        (``image=False``) or refused for its candidate budget (``image_error`` says why).
    image_error : str or None
        Why ``image`` is None although it was asked for.
    betti_image : list of int or None
        Betti numbers of the Rips complex of the image of the refined vertices at
        ``scale`` (approximate: a point sample of ``f(X)``, for comparison with
        ``image``), or None if skipped.
    scale : float or None
        The Rips scale of ``betti_image``.
    field : int
    glue : str
    name : str
    timings : dict
        Seconds spent refining, in homology and on the image.
    """

    refinement: Refinement
    layer: int
    threshold: int
    intrinsic_dim: int
    n_regions: int
    rank_histogram: dict
    tangent_rank_histogram: dict
    low_rank: np.ndarray
    squashed: np.ndarray
    n_components_A: int
    pieces: tuple
    n_rank0_pieces: int
    n_rank1_pieces: int
    betti_X: list
    betti_A: list
    betti_relative: list
    betti_quotient: list
    betti_image: list | None
    scale: float | None
    field: int
    glue: str
    image: object = None
    image_error: str | None = None
    name: str = "manifold"
    n_input_simplices: int = 0
    network: str = ""
    last_width: int = 0
    timings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """A plain-text table of the report."""
        ref = self.refinement
        kind = {0: "points", 1: "segments", 2: "triangles"}.get(ref.complex.dim, "simplices")
        unit = {0: "count", 1: "length", 2: "area"}.get(ref.complex.dim, "measure")
        total = sum(m for _, m in self.rank_histogram.values()) or 1.0
        lines = [
            f"polyrank analyze: {self.name} in R^{ref.complex.ambient_dim} through {self.network}, layer {self.layer}",
            f"mesh        {self.n_input_simplices} {kind} -> {len(ref)} pieces after exact refinement "
            f"({self.timings.get('refine', 0.0):.2f} s)",
            f"regions     {self.n_regions} linear regions met",
            f"low rank    A = pieces with rank(A_{self.layer}) < {self.threshold}; "
            f"squashed = tangent rank < {self.intrinsic_dim}",
            "",
            f"{'rank':>4}  {'pieces':>7}  {unit:>9}  {'share':>6}   {'tangent rank':>12}  {'pieces':>7}  "
            f"{unit:>9}",
        ]
        ranks = sorted(set(self.rank_histogram) | set(self.tangent_rank_histogram))
        for r in ranks:
            left = right = ""
            if r in self.rank_histogram:
                n, m = self.rank_histogram[r]
                left = f"{n:>7}  {m:>9.4g}  {m / total:>6.1%}"
            if r in self.tangent_rank_histogram:
                tn, tm = self.tangent_rank_histogram[r]
                right = f"{tn:>7}  {tm:>9.4g}"
            lines.append(f"{r:>4}  {left:<26}   {r if right else '':>12}  {right}".rstrip())
        lines += [
            "",
            f"A           {int(self.low_rank.sum())} pieces, {self.n_components_A} component(s); "
            f"glued to points ({self.glue}): {self.n_rank0_pieces} rank-0 cell(s), "
            f"{self.n_rank1_pieces} rank-1 component(s)",
            "",
            f"homology over Z/{self.field}" + " " * 9 + "  ".join(f"b{i}" for i in range(len(self.betti_X))),
        ]

        def row(label, b):
            return f"  {label:<26}" + "  ".join(f"{v:>2}" for v in b)
        lines += [row("X", self.betti_X), row("A", self.betti_A), row("(X, A)", self.betti_relative),
                  row("X/{A_i}  (reduced)", self.betti_quotient)]
        if self.image is not None:
            lines.append(row("f(X)  (exact)", self.image.betti))
        elif self.image_error is not None:
            lines.append(f"  f(X)                      not computed: {self.image_error}")
        if self.betti_image is not None:
            lines.append(row(f"f(X) Rips @ {self.scale:.3g} (approx.)", self.betti_image))
        if self.image is not None:
            im = self.image
            lines += ["", f"f(X)        rank source: {im.n_rank_pieces} cell(s) where f is not injective; "
                          f"overlap source: {im.n_overlaps} set(s) of cells whose images meet "
                          f"({im.stats.get('time_total', 0.0):.2f} s)"]
            if im.near_tolerance:
                lines.append(f"            warning: {im.near_tolerance} intersection decision(s) within "
                             f"a factor of the tolerance {im.tol:g}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return (f"AnalysisReport(name={self.name!r}, layer={self.layer}, n_regions={self.n_regions}, "
                f"betti_X={self.betti_X}, betti_quotient={self.betti_quotient})")

    def to_frame(self):
        """One row per linear region met: rank, tangent ranks, measure, pieces, membership in A.

        Returns
        -------
        pandas.DataFrame
            Columns ``region, pattern, codeword_size, rank, min_tangent_rank,
            max_tangent_rank, n_pieces, measure, low_rank``.
        """
        import pandas as pd

        ref = self.refinement
        K = self.layer
        rid = ref.region
        meas = ref.measures()
        n = ref.n_regions
        rank = np.zeros(n, dtype=np.int64)
        rank[rid] = ref.ranks[:, K - 1]
        tr = ref.tangent_ranks[:, K - 1]
        tmin = np.full(n, np.iinfo(np.int64).max)
        tmax = np.full(n, -1)
        np.minimum.at(tmin, rid, tr)
        np.maximum.at(tmax, rid, tr)
        last = ref.region_patterns[:, ref.patterns.shape[1] - self.last_width:]
        return pd.DataFrame({
            "region": np.arange(n),
            "pattern": [pattern_string(p) for p in ref.region_patterns],
            "codeword_size": last.sum(1).astype(np.int64),
            "rank": rank,
            "min_tangent_rank": tmin,
            "max_tangent_rank": tmax,
            "n_pieces": np.bincount(rid, minlength=n),
            "measure": np.bincount(rid, weights=meas, minlength=n),
            "low_rank": rank < self.threshold,
        })

    def plot(self, path=None, *, layer=None, ax=None):
        """Draw the refined manifold coloured by rank: :func:`polyrank.plot_analysis` of
        this report (its parameters ``path``, ``layer`` and ``ax``); returns the Figure."""
        from .plot import plot_analysis

        return plot_analysis(self, path, layer=layer, ax=ax)


# ---------------------------------------------------------------------------- analyze
def analyze(net, K, *, layer=None, threshold=None, glue="cell", glue_rank=1, field=11,
            image=True, scale=None, tol=REFINE_TOL, name=None) -> AnalysisReport:
    """Refine a manifold along a network's regions and compute what gluing does to it.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        A mesh (points, closed curve or surface) in ``R^input_dim``.
    layer : int, optional
        Analyse the representation ``h_K`` of layer K (default: last hidden layer).
    threshold : int, optional
        Pieces with ``rank(A_K) < threshold`` form the low-rank part ``A``, the part
        where the network *can* change topology. Default: the manifold's minimal
        embedding dimension (:func:`minimal_embedding_dim`).
    glue : {"cell", "image", "component"}, default "cell"
        How rank-0 pieces are grouped before each group is glued to one point:
        "cell" joins pieces in the same linear region or touching each other (one
        point per rank-0 cell met); "image" joins all rank-0 pieces with the same
        image point (what ``f`` really does); "component" joins touching pieces only.
        Rank-1 pieces are grouped by connected component in every mode.
    glue_rank : {0, 1}, default 1
        Highest rank that is glued (1: rank-0 cells and rank-1 components, as in the
        paper; 0: rank-0 cells only). Pieces are glued only if also below ``threshold``.
    field : int, default 11
        Prime p for homology over Z/p.
    image : bool, default True
        Compute the exact Betti numbers of the image ``f(X)`` from the refinement
        (:func:`polyrank.image_homology`, with its default tolerance and candidate
        budget, and at most ``ANALYZE_MAX_LPS`` LPs; over a budget the report says so
        instead, in ``image_error``).
    scale : float, optional
        If given, also compute the Betti numbers of the Vietoris-Rips complex at this
        edge-length scale of the image ``f_K`` of the refined vertices
        (:func:`polyrank.image_betti`). Approximate, and the cost grows fast with the
        scale; not computed by default because no scale is right for every image:
        rank drops create folds where any point-sample method can fail.
    tol : float, default REFINE_TOL
        Tolerance of :func:`polyrank.refine`.
    name : str, optional
        Name shown in the summary.

    Returns
    -------
    AnalysisReport

    Raises
    ------
    TypeError
        If ``K`` is not a SimplicialComplex.
    ValueError
        On a mesh in the wrong dimension, a bad layer, threshold, glue, glue_rank,
        field or tol.

    Notes
    -----
    Exact: the refinement is exact (see :func:`polyrank.refine`), ranks come from
    an SVD with ``pr.rank.matrix_rank``'s tolerance and homology is computed by
    GUDHI over Z/p without tolerance; ``image`` decides intersections of convex images
    by LP against a stated tolerance (see :func:`polyrank.image_homology`);
    ``betti_image`` alone is approximate (a Rips complex of a point sample). Glued pieces that touch are merged so that pieces
    are vertex-disjoint (touching pieces map to one connected set anyway). Cost: the
    refinement plus near-linear homology in the number of pieces, plus the Rips
    complex for the image.

    Examples
    --------
    ``h = ReLU(x + 0.5), ReLU(y + 0.5)`` has rank 2 on the part of the unit circle
    with x, y > -0.5 and rank 0 or 1 on the rest, one arc: gluing it to a point
    leaves a circle.

    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [[0.5, 0.5]])
    >>> rep = pr.analyze(net, pr.circle(32))
    >>> rep.threshold, rep.betti_X, rep.betti_relative, rep.betti_quotient
    (2, [1, 1], [0, 1], [0, 1])
    >>> rep.n_regions, rep.n_rank0_pieces, sorted(rep.rank_histogram)
    (4, 1, [0, 1, 2])
    >>> rep.image.betti  # the arc is squashed onto two segments and a point: still a loop
    (1, 1)
    """
    from . import topology

    net = as_network(net)
    K = check_complex(K, net.input_dim, name="K", func="analyze", max_dim=3)
    L = check_layer(layer, net.n_layers)
    tol = check_tol(tol, func="analyze")
    if glue not in GLUE_MODES:
        raise ValueError(f"The 'glue' parameter of analyze must be one of {GLUE_MODES}. Got {glue!r} instead.")
    if glue_rank not in (0, 1) or isinstance(glue_rank, bool):
        raise ValueError(f"The 'glue_rank' parameter of analyze must be 0 or 1. Got {glue_rank!r} instead.")
    if threshold is None:
        threshold = minimal_embedding_dim(K)
    else:
        threshold = check_positive_int(threshold, name="threshold", func="analyze", minimum=0)
    scale = check_scale(scale, name="scale", func="analyze")
    if len(K) == 0:
        raise ValueError("The manifold mesh has no simplices.")

    t0 = time.perf_counter()
    ref = refine(net, K, layer=L, tol=tol)
    t1 = time.perf_counter()
    V, S = ref.complex.vertices, ref.complex.simplices
    rank = ref.ranks[:, L - 1]
    trank = ref.tangent_ranks[:, L - 1]
    meas = ref.measures()
    low = rank < threshold
    squashed = trank < K.dim

    # --- the pieces glued to points
    top = min(glue_rank, threshold - 1)
    sel = np.flatnonzero(rank <= top) if top >= 0 else np.zeros(0, dtype=np.int64)
    labels = None
    if glue != "component" and sel.size:
        zero = rank[sel] == 0
        if glue == "cell":
            lab = ref.region[sel]
        else:
            a = np.stack([net.local_affine(p, layer=L)[1] for p in ref.region_patterns]) \
                if ref.n_regions else np.zeros((0, 1))
            step = IMAGE_POINT_TOL * (1.0 + np.abs(a).max(initial=0.0))
            _, lab_r = np.unique(np.round(a / step), axis=0, return_inverse=True)
            lab = lab_r.ravel()[ref.region[sel]]
        labels = np.full(len(S), -1, dtype=np.int64)
        labels[sel] = np.where(zero, lab, -1)  # rank-0 pieces with one label are glued together
    pieces = ref.complex.components(sel, labels=labels)
    n0 = sum(int((rank[p] == 0).any()) for p in pieces)
    n1 = len(pieces) - n0
    comps_A = ref.complex.components(np.flatnonzero(low))

    rel = topology.relative_betti(ref.complex, low, field=field)
    bq = topology.quotient_betti(ref.complex, list(pieces), field=field) if pieces else \
        topology.reduced_betti(ref.complex, field=field)
    t2 = time.perf_counter()
    im, im_err = None, None
    if image:
        try:
            check_image_mesh(K, net, "analyze")
        except ValueError as err:  # e.g. a non-manifold mesh, which the rest of analyze accepts
            im_err = str(err)
        else:
            try:
                im = layer_homology(net, ref, L, K, field=field, max_candidates=MAX_CANDIDATES,
                                    max_lps=ANALYZE_MAX_LPS)
            except PolyrankError as err:  # over the candidate budget
                im_err = str(err)
    t25 = time.perf_counter()
    bimg = None
    if scale is not None:
        bimg = topology.image_betti(net, V, layer=L, scale=scale, max_dimension=K.dim, field=field)
    t3 = time.perf_counter()
    ws = net.widths[:L]
    return AnalysisReport(
        refinement=ref, layer=L, threshold=threshold, intrinsic_dim=K.dim, n_regions=ref.n_regions,
        rank_histogram=_hist(rank, meas), tangent_rank_histogram=_hist(trank, meas),
        low_rank=low, squashed=squashed, n_components_A=len(comps_A), pieces=tuple(pieces),
        n_rank0_pieces=n0, n_rank1_pieces=n1, betti_X=rel.X, betti_A=rel.A,
        betti_relative=rel.relative, betti_quotient=bq, betti_image=bimg, scale=scale,
        field=field, glue=glue, image=im, image_error=im_err, name=name or "manifold",
        n_input_simplices=len(K),
        network=f"{net.input_dim}-" + "-".join(map(str, ws)),
        last_width=ws[-1], timings={"refine": t1 - t0, "homology": t2 - t1, "image_exact": t25 - t2,
                                         "image": t3 - t25},
    )
