"""Exact refinement of a simplicial mesh along the linear regions of a network.

:func:`refine` cuts every simplex of a mesh (points, segments or triangles in the
input space of a network) along the zero sets of the hidden units, layer by layer
and neuron by neuron, until every simplex lies in one linear region. Each piece
then carries its region's activation pattern, the rank of the local affine map
``A_K`` and the tangent rank ``rank(A_K T)`` (``T`` the piece's edge vectors) for
every layer (``docs/theory.md``).

:func:`label_vertices` is the fast, approximate alternative for point clouds: it
labels the vertices only. Its answer depends on the sampling resolution; never
compute homology from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._numerics import zero_thresholds
from ._validation import check_layer, check_points, check_tol
from .complex import SimplicialComplex, check_complex
from .network import as_network
from .rank import batched_ranks, drop_constant_rows, rank_tolerance

__all__ = ["refine", "label_vertices", "Refinement", "VertexLabels", "REFINE_TOL"]

#: Default relative tolerance of :func:`refine`: a vertex whose pre-activation is
#: within ``REFINE_TOL * max|z|`` (max over the mesh's vertices, per neuron) of zero
#: is treated as lying ON that neuron's hyperplane, so no piece thinner than that is made.
REFINE_TOL = 1e-9

_TINY = np.finfo(np.float64).tiny


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class Refinement:
    """A mesh refined along a network's regions, with one label per simplex.

    Attributes
    ----------
    complex : SimplicialComplex
        The refined mesh; every simplex lies in the closure of one linear region.
    layer : int
        The layer K the refinement went through (layers 1..K were cut).
    patterns : bool ndarray of shape (n_simplices, n_units)
        Global activation pattern of each simplex, layers 1..K side by side (the
        encoding of :attr:`Region.pattern` and ``net.patterns(X, flat=True)``).
    region : int ndarray of shape (n_simplices,)
        Index of each simplex's pattern in :attr:`region_patterns`.
    region_patterns : bool ndarray of shape (n_regions, n_units)
        The distinct patterns met by the mesh, sorted.
    ranks : int ndarray of shape (n_simplices, K)
        ``rank(A_l)`` of the simplex's region for l = 1..K (column ``l - 1``).
    tangent_ranks : int ndarray of shape (n_simplices, K)
        ``rank(A_l T)`` with ``T`` the simplex's edge vectors, l = 1..K.
    parent : int ndarray of shape (n_simplices,)
        Index of the input simplex each piece was cut from.
    tol : float
        The relative tolerance used (see :data:`REFINE_TOL`).
    """

    complex: SimplicialComplex
    layer: int
    patterns: np.ndarray
    region: np.ndarray
    region_patterns: np.ndarray
    ranks: np.ndarray
    tangent_ranks: np.ndarray
    parent: np.ndarray
    tol: float

    @property
    def n_regions(self) -> int:
        """Number of distinct linear regions the mesh meets."""
        return int(self.region_patterns.shape[0])

    def __len__(self):
        return self.patterns.shape[0]

    def rank(self, layer=None) -> np.ndarray:
        """``rank(A_layer)`` of every simplex (default: the refinement's layer)."""
        K = check_layer(layer, self.layer)
        return self.ranks[:, K - 1]

    def tangent_rank(self, layer=None) -> np.ndarray:
        """``rank(A_layer T)`` of every simplex (default: the refinement's layer)."""
        K = check_layer(layer, self.layer)
        return self.tangent_ranks[:, K - 1]

    def measures(self) -> np.ndarray:
        """k-dimensional volume (length, area) of every simplex; 1 for points."""
        return simplex_measures(self.complex.vertices, self.complex.simplices)

    def __repr__(self):
        return (f"Refinement(n_simplices={len(self)}, n_vertices={self.complex.n_vertices}, "
                f"n_regions={self.n_regions}, layer={self.layer})")


@dataclass(frozen=True, eq=False)
class VertexLabels:
    """Labels of the vertices of a mesh or the points of a cloud (approximate mode).

    Attributes
    ----------
    points : ndarray of shape (n_points, d)
    layer : int
    patterns : bool ndarray of shape (n_points, n_units)
        ``net.patterns(points, flat=True)`` restricted to layers 1..K.
    region : int ndarray of shape (n_points,)
        Index into :attr:`region_patterns`.
    region_patterns : bool ndarray of shape (n_regions, n_units)
    ranks : int ndarray of shape (n_points, K)
        ``rank(A_l)`` at each point for l = 1..K.
    """

    points: np.ndarray
    layer: int
    patterns: np.ndarray
    region: np.ndarray
    region_patterns: np.ndarray
    ranks: np.ndarray

    @property
    def n_regions(self) -> int:
        return int(self.region_patterns.shape[0])

    def rank(self, layer=None) -> np.ndarray:
        """Rank of ``A_layer`` at every vertex (default: the last labelled layer)."""
        K = check_layer(layer, self.layer)
        return self.ranks[:, K - 1]


# ---------------------------------------------------------------------------- helpers
def simplex_measures(V, S) -> np.ndarray:
    """k-volume of each simplex ``S`` (rows of vertex ids into ``V``); 1 for points."""
    q = S.shape[1] - 1
    if q == 0:
        return np.ones(S.shape[0])
    T = np.swapaxes(V[S[:, 1:]] - V[S[:, :1]], 1, 2)  # (k, d, q)
    if T.shape[1] < q:
        return np.zeros(S.shape[0])
    R = np.linalg.qr(T, mode="r")  # stable for thin simplices, unlike det(T^T T)
    vol = np.abs(np.prod(np.diagonal(R, axis1=-2, axis2=-1), axis=-1))
    return vol / float(np.prod(np.arange(1, q + 1)))


def _unique_rows(P):
    """Unique rows of a bool matrix (sorted) and the inverse index."""
    if P.shape[0] == 0:
        return P.reshape(0, P.shape[1]), np.zeros(0, dtype=np.int64)
    packed = np.packbits(P, axis=1)
    view = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
    _, first, inv = np.unique(view, return_index=True, return_inverse=True)
    return P[first], inv.ravel().astype(np.int64)


def _layer_maps(net, U, K):
    """Batched ``A_l`` (l = 1..K) for the flat patterns ``U`` of shape (u, n_units)."""
    off = net.offsets
    out = []
    M = np.broadcast_to(net.weights[0], (U.shape[0],) + net.weights[0].shape)
    for l in range(K):
        if l > 0:
            M = np.matmul(net.weights[l], out[-1])
        D = U[:, off[l]:off[l + 1]]
        out.append(M * D[:, :, None])
    return out


def _pattern_ranks(net, U, K):
    """Ranks ``(u, K)`` of the regions of the distinct flat patterns ``U`` (layers 1..K),
    under the rank rule of :mod:`polyrank.rank`."""
    zg = zero_thresholds(net, K)[0]
    off = net.offsets
    cols = [batched_ranks(A, sizes=U[:, off[l]:off[l + 1]].sum(axis=1), zero_tol=zg[l])
            for l, A in enumerate(_layer_maps(net, U, K))]
    return np.minimum.accumulate(np.stack(cols, 1), axis=1)


# ---------------------------------------------------------------------------- cutting kernels
def _cut_segments(Sc, sc):
    """Split segments whose end signs are opposite: (a, b) -> (a, p), (p, b)."""
    edges = Sc  # one new vertex per segment, on the segment itself
    def build(new):  # new: id of the cut vertex per segment
        a, b = Sc[:, 0], Sc[:, 1]
        kids = np.stack([np.stack([a, new], 1), np.stack([new, b], 1)], 1)  # (c, 2, 2)
        return kids.reshape(-1, 2), np.repeat(np.arange(Sc.shape[0]), 2)
    return [edges], build


def _cut_triangles(Sc, sc):
    """Split triangles crossed by a hyperplane, keeping their orientation.

    With one vertex on the plane (apex a) the opposite edge is cut at p:
    (a, b, c) -> (a, b, p), (a, p, c). Otherwise the lone vertex a is moved to the
    front by a cyclic rotation and edges ab, ac are cut at p, q:
    (a, b, c) -> (a, p, q), (p, b, c), (p, c, q).
    """
    zero = sc == 0
    nz = zero.sum(1)
    tot = sc.sum(1)
    apex = np.where(nz == 1, np.argmax(zero, 1), np.argmax(sc == -np.sign(tot)[:, None], 1))
    idx = (apex[:, None] + np.arange(3)) % 3
    T = np.take_along_axis(Sc, idx, 1)
    one = nz == 1
    T1, T0 = T[one], T[~one]
    edges = [T1[:, [1, 2]], T0[:, [0, 1]], T0[:, [0, 2]]]
    i1, i0 = np.flatnonzero(one), np.flatnonzero(~one)

    def build(new):
        n1 = T1.shape[0]
        p1 = new[:n1]
        p, q = new[n1:n1 + T0.shape[0]], new[n1 + T0.shape[0]:]
        a1, b1, c1 = T1.T
        a, b, c = T0.T
        kids1 = np.stack([np.stack([a1, b1, p1], 1), np.stack([a1, p1, c1], 1)], 1).reshape(-1, 3)
        kids0 = np.stack([np.stack([a, p, q], 1), np.stack([p, b, c], 1), np.stack([p, c, q], 1)],
                         1).reshape(-1, 3)
        par = np.concatenate([np.repeat(i1, 2), np.repeat(i0, 3)])
        return np.concatenate([kids1, kids0]), par
    return edges, build


_CUTTERS = {1: _cut_segments, 2: _cut_triangles}


class _Buffer:
    """A 2-D float array that grows by doubling (rows appended in place)."""

    def __init__(self, a):
        self.n = a.shape[0]
        self.a = np.empty((max(16, 2 * self.n), a.shape[1]))
        self.a[: self.n] = a

    def append(self, rows):
        m = self.n + rows.shape[0]
        if m > self.a.shape[0]:
            grown = np.empty((2 * m, self.a.shape[1]))
            grown[: self.n] = self.a[: self.n]
            self.a = grown
        self.a[self.n: m] = rows
        self.n = m

    @property
    def view(self):
        return self.a[: self.n]


def _tangent_ranks(sig, Vt, tolA, region, Q):
    """``rank(A[region] @ Q)`` per simplex: singular values above ``tolA``, the threshold
    of ``rank(A)`` itself (so the tangent rank never exceeds the rank).

    ``A = U diag(sig) Vt`` (u, n, d) per region, ``Q`` (k, d, q) orthonormal tangent bases.
    ``A Q`` has the singular values of ``(Sigma V^T) Q``, a min(n, d) x q matrix; for
    q <= 2 these come from a pivoted, re-orthogonalised QR in closed form (no Gram matrix,
    so small singular values keep their absolute accuracy ~eps * sigma_max).
    """
    q = Q.shape[2]
    if sig.shape[1] == 0:
        return np.zeros(len(region), dtype=np.int64)
    sig = np.where(sig > tolA[:, None], sig, 0.0)  # A truncated to its numerical rank
    B = (sig[:, :, None] * Vt)[region] @ Q  # (k, min(n, d), q)
    tol = tolA[region]
    if q == 1:
        return (np.linalg.norm(B[:, :, 0], axis=1) > tol).astype(np.int64)
    if q != 2:  # pragma: no cover - refine handles q <= 2
        S = np.linalg.svd(B, compute_uv=False)
        return np.count_nonzero(S > tol[:, None], axis=1).astype(np.int64)
    b1, b2 = B[:, :, 0], B[:, :, 1]
    n1, n2 = np.linalg.norm(b1, axis=1), np.linalg.norm(b2, axis=1)
    swap = n2 > n1
    b1, b2 = np.where(swap[:, None], b2, b1), np.where(swap[:, None], b1, b2)
    r11 = np.maximum(n1, n2)
    safe = np.where(r11 > 0, r11, 1.0)
    u = b1 / safe[:, None]
    r12 = np.einsum("ki,ki->k", u, b2)
    res = b2 - r12[:, None] * u
    c = np.einsum("ki,ki->k", u, res)  # one re-orthogonalisation step
    res -= c[:, None] * u
    r12 += c
    r22 = np.linalg.norm(res, axis=1)
    ssum = r11 ** 2 + r12 ** 2 + r22 ** 2
    prod = r11 * r22
    smax = np.sqrt(0.5 * (ssum + np.sqrt(np.maximum(ssum ** 2 - 4 * prod ** 2, 0.0))))
    smin = prod / np.where(smax > 0, smax, 1.0)
    return ((smax > tol).astype(np.int64) + (smin > tol)).astype(np.int64)


def _tangent_bases(V, S):
    """Orthonormal bases (k, d, q) of the simplices' tangent spaces (Gram-Schmidt, twice)."""
    T = np.swapaxes(V[S[:, 1:]] - V[S[:, :1]], 1, 2)  # (k, d, q)
    if T.shape[2] > 2 or T.shape[1] < T.shape[2]:
        return np.linalg.qr(T)[0]
    cols = []
    for j in range(T.shape[2]):
        c = T[:, :, j].copy()
        for _ in range(2):
            for e in cols:
                c -= np.einsum("ki,ki->k", e, c)[:, None] * e
        nrm = np.linalg.norm(c, axis=1)
        cols.append(c / np.where(nrm > 0, nrm, 1.0)[:, None])
    return np.stack(cols, 2)


def _refine(net, V, S, K, tol):
    """Kernel of :func:`refine`; trusts its input."""
    off = net.offsets
    n_units = int(off[K])
    q = S.shape[1] - 1
    S = np.array(S, dtype=np.int64)
    Vb = _Buffer(np.asarray(V, dtype=np.float64))
    n_input = S.shape[0]
    cutter = _CUTTERS.get(q)
    bits, origins = [], []  # per neuron: its bit on the simplices after its cut; new -> old rows
    Zb = None
    for l in range(K):
        W, b = net.weights[l], net.biases[l]
        Z = Vb.view @ W.T + b if l == 0 else np.maximum(Zb.view, 0.0) @ W.T + b
        Zb = _Buffer(Z)
        for i in range(W.shape[0]):
            Vv, Zv = Vb.view, Zb.view
            z = Zv[:, i]
            scale = np.abs(z).max() if z.size else 0.0
            z[np.abs(z) <= tol * max(scale, _TINY)] = 0.0  # ON the hyperplane
            code = (z > 0).view(np.uint8) | ((z < 0).view(np.uint8) << 1)  # 1: +, 2: -, 0: on
            orr = code[S[:, 0]].copy()
            for j in range(1, q + 1):
                orr |= code[S[:, j]]
            origin = None
            if cutter is not None:
                cut = orr == 3
                if cut.any():
                    Sc = S[cut]
                    sc = (code[Sc] == 1).astype(np.int8) - (code[Sc] == 2).astype(np.int8)
                    edge_lists, build = cutter(Sc, sc)
                    E = np.concatenate(edge_lists)
                    E.sort(axis=1)
                    nv = np.int64(Vv.shape[0])
                    ukey, inv = np.unique(E[:, 0] * nv + E[:, 1], return_inverse=True)
                    u, v = ukey // nv, ukey % nv
                    t = z[u] / (z[u] - z[v])
                    newV = Vv[u] + t[:, None] * (Vv[v] - Vv[u])
                    newZ = Zv[u] + t[:, None] * (Zv[v] - Zv[u])
                    newZ[:, i] = 0.0
                    kids, kid_par = build(nv + inv.ravel())
                    Vb.append(newV)
                    Zb.append(newZ)
                    keep = np.flatnonzero(~cut)
                    origin = np.concatenate([keep, np.flatnonzero(cut)[kid_par]])
                    S = np.concatenate([S[keep], kids])
                    code = np.concatenate([code, np.zeros(len(ukey), dtype=np.uint8)])
                    orr = code[S[:, 0]].copy()
                    for j in range(1, q + 1):
                        orr |= code[S[:, j]]
            bits.append((orr & 1).astype(bool))
            origins.append(origin)
    # patterns in the final indexing: walk the new -> old maps backwards
    P = np.zeros((S.shape[0], n_units), dtype=bool)
    cur = np.arange(S.shape[0], dtype=np.int64)
    for j in range(n_units - 1, -1, -1):
        P[:, j] = bits[j][cur]
        if origins[j] is not None:
            cur = origins[j][cur]
    parent = cur if n_units else np.arange(n_input, dtype=np.int64)
    V = Vb.view.copy()
    U, region = _unique_rows(P)
    # the rank rule of polyrank.rank: constant-unit rows count as zero, the threshold is
    # rank_tolerance(S_max, codeword size, d), ranks capped by the earlier layers' ranks
    zg = zero_thresholds(net, K)[0]
    maps = [drop_constant_rows(A, zg[l]) for l, A in enumerate(_layer_maps(net, U, K))]
    svds = [np.linalg.svd(A, full_matrices=False) if A.size else None for A in maps]
    ranks = np.zeros((S.shape[0], K), np.int64)
    tranks = np.zeros((S.shape[0], K), dtype=np.int64)
    Q = _tangent_bases(V, S) if q and S.shape[0] else None
    prev = None
    for l, (A, usv) in enumerate(zip(maps, svds)):
        if usv is None or not U.shape[0]:
            continue
        _, sig, Vt = usv
        sizes = U[:, off[l]:off[l + 1]].sum(axis=1)
        tolA = rank_tolerance(sig[:, 0], sizes, A.shape[2])
        r = np.count_nonzero(sig > tolA[:, None], axis=1)
        prev = r if prev is None else np.minimum(r, prev)
        ranks[:, l] = prev[region]
        if Q is not None:
            tranks[:, l] = np.minimum(_tangent_ranks(sig, Vt, tolA, region, Q), ranks[:, l])
    return Refinement(
        complex=SimplicialComplex(V, S), layer=K, patterns=P, region=region, region_patterns=U,
        ranks=ranks, tangent_ranks=tranks, parent=parent, tol=tol,
    )


# ---------------------------------------------------------------------------- public API
def refine(net, K, *, layer=None, tol=REFINE_TOL) -> Refinement:
    """Cut a mesh exactly along the linear regions of a network.

    Layer by layer and neuron by neuron, the current neuron's pre-activation is
    affine on every current simplex (each already lies in one region of the
    earlier neurons), so its zero set cuts the simplex's edges at the linearly
    interpolated points. Each new vertex is keyed by its edge (the sorted pair of
    vertex ids), so neighbouring simplices share it and the mesh stays conforming.
    A cut triangle becomes one triangle and one quadrilateral, split into three
    triangles in all; a cut segment becomes two segments. Orientation is kept.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        A mesh of points, segments or triangles in ``R^input_dim`` (embed a
        manifold first with ``pr.embed``).
    layer : int, optional
        Refine along the regions of layers 1..layer (default: all hidden layers).
    tol : float, default REFINE_TOL
        Relative tolerance: a vertex whose pre-activation is within
        ``tol * max|z|`` of zero (max over the mesh, per neuron) lies ON the
        hyperplane; it is not cut and no sliver piece is made.

    Returns
    -------
    Refinement
        The refined mesh and, per simplex, its pattern, ``rank(A_l)`` and the
        tangent rank ``rank(A_l T)`` for l = 1..K.

    Raises
    ------
    TypeError
        If ``K`` is not a SimplicialComplex or ``net`` not a network.
    ValueError
        If the mesh lives in another dimension than the network's input, has
        simplices of dimension > 2, or ``tol``/``layer`` are invalid.

    See Also
    --------
    label_vertices : fast approximate labels of vertices only.

    Notes
    -----
    *Exact* means: the refined mesh is the common refinement of the input mesh
    and the region decomposition, computed in float64; the only decisions are
    the signs of the interpolated pre-activations at vertices, with ``tol`` as
    stated above. Pre-activations of new vertices are interpolated, not
    re-evaluated, so the vertices of a piece agree exactly on which side of
    every hyperplane they lie. ``rank(A_l)`` counts singular values above
    ``pr.rank.matrix_rank``'s default ``sigma_max(A_l) * max(shape) * eps``; the
    tangent rank counts the singular values of ``A_l Q`` (``Q`` an orthonormal
    basis of the simplex's tangent space) above that same threshold, so it never
    exceeds the rank. Cost: ``O(n_neurons * n_simplices)`` numpy work,
    where ``n_simplices`` grows to about the number of (simplex, region) pairs,
    plus one batched SVD per layer.

    Examples
    --------
    Two units that switch at x = 0 and y = 0 cut a triangle around the origin:

    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> tri = pr.SimplicialComplex([[-1.0, -1.0], [2.0, -1.0], [-1.0, 2.0]], [[0, 1, 2]])
    >>> ref = pr.refine(net, tri)
    >>> ref.n_regions, len(ref)
    (4, 9)
    >>> area = ref.measures()
    >>> [float(area[ref.rank() == r].sum()) for r in (0, 1, 2)]   # areas 1, 1.5 + 1.5, 0.5
    [1.0, 3.0, 0.5]
    """
    net = as_network(net)
    K = check_complex(K, net.input_dim, func="refine", max_dim=2)
    L = check_layer(layer, net.n_layers)
    tol = check_tol(tol, func="refine")
    return _refine(net, K.vertices, K.simplices, L, tol)


def label_vertices(net, K, *, layer=None) -> VertexLabels:
    """Label the vertices of a mesh (or the points of a cloud) with pattern and rank.

    The fast, *approximate* mode: nothing is cut, each vertex simply gets the
    pattern of the region it falls in and that region's ranks. A piece of the
    manifold between two vertices may cross regions that no vertex sees, so the
    set of regions and any homology derived from these labels depend on the
    sampling resolution. Use :func:`refine` for exact answers.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex or array-like of shape (n_points, input_dim)
    layer : int, optional
        Last layer K (default: all hidden layers).

    Returns
    -------
    VertexLabels

    Raises
    ------
    ValueError
        If the points do not live in ``R^input_dim``.

    Notes
    -----
    Cost: one forward pass plus one batched SVD per layer over the distinct
    patterns met.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> lab = pr.label_vertices(net, np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]]))
    >>> lab.rank().tolist(), lab.n_regions
    ([2, 1, 0], 3)
    """
    net = as_network(net)
    if isinstance(K, SimplicialComplex):
        if K.ambient_dim != net.input_dim:
            raise ValueError(f"The mesh 'K' lives in R^{K.ambient_dim} but the network takes inputs in "
                             f"R^{net.input_dim}.")
        X = np.asarray(K.vertices)
    else:
        X = check_points(K, net.input_dim, name="K")
    L = check_layer(layer, net.n_layers)
    P = net.patterns(X, flat=True, layer=L) if X.shape[0] else np.zeros((0, int(net.offsets[L])), bool)
    U, region = _unique_rows(P)
    if U.shape[0]:
        ranks = _pattern_ranks(net, U, L)[region]
    else:
        ranks = np.zeros((0, L), dtype=np.int64)
    return VertexLabels(points=X, layer=L, patterns=P, region=region, region_patterns=U, ranks=ranks)
