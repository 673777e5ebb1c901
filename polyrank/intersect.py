"""Exact refinement of a simplicial mesh along the linear regions of a network.

:func:`refine` cuts every simplex of a mesh (points, segments, triangles or tetrahedra
in the input space of a network) along the zero sets of the hidden units, layer by layer
and neuron by neuron, until every simplex lies in one linear region. Each piece
then carries its region's activation pattern, the rank of the local affine map
``A_K`` and the tangent rank ``rank(A_K T)`` (``T`` the piece's edge vectors) for
every layer (``docs/theory.md``).

:func:`label_vertices` is the fast, approximate alternative for point clouds: it
labels the vertices only. Its answer depends on the sampling resolution; never
compute homology from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._numerics import zero_thresholds
from ._validation import check_layer, check_points, check_tol
from .complex import SimplicialComplex, check_complex
from .network import as_network
from .rank import EPS, drop_constant_rows, pattern_ranks, rank_tolerance

__all__ = ["refine", "label_vertices", "Refinement", "VertexLabels", "REFINE_TOL"]

#: Default relative tolerance of :func:`refine`: a vertex whose pre-activation is
#: within ``REFINE_TOL * max|z|`` (max over the mesh's vertices, per neuron) of zero
#: is treated as lying ON that neuron's hyperplane, so no piece thinner than that is made.
REFINE_TOL = 1e-9

#: Memory budget (bytes) for the tangent images of one chunk of pieces, and for the dense
#: maps of the few regions whose tangent ranks are decided exactly (see :func:`refine`).
REFINE_CHUNK_BYTES = 256 * 2**20

#: Units of one layer tested together for "cuts no simplex" at the start of a layer
#: (bounds the (units x simplices) sign tables).
REFINE_UNIT_BLOCK = 256

_TINY = np.finfo(np.float64).tiny


# ---------------------------------------------------------------------------- results
class _RegionRanks:
    """``rank(A_l)`` of the distinct patterns of a refinement, computed on first use
    (:func:`polyrank.rank.pattern_ranks`); rows already known are filled in beforehand."""

    def __init__(self, net, U, K):
        self.net, self.U, self.K = net, U, K
        self.values = np.zeros((U.shape[0], K), dtype=np.int64)
        self.known = np.zeros(U.shape[0], dtype=bool)

    def set(self, rows, values):
        self.values[rows] = values
        self.known[rows] = True

    def get(self, rows=None):
        rows = np.arange(self.U.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
        todo = rows[~self.known[rows]]
        if todo.size:
            self.set(todo, pattern_ranks(self.net, self.U[todo], self.K))
        return self.values[rows]


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
        ``rank(A_l)`` of the simplex's region for l = 1..K (column ``l - 1``). Computed on
        first access, once per distinct region (:func:`polyrank.rank.pattern_ranks`).
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
    tangent_ranks: np.ndarray
    parent: np.ndarray
    tol: float
    _region_ranks: _RegionRanks = field(default=None, repr=False)

    @property
    def ranks(self) -> np.ndarray:
        """``rank(A_l)`` of every simplex's region, shape (n_simplices, K)."""
        cached = self.__dict__.get("_ranks")
        if cached is None:
            cached = self._region_ranks.get()[self.region]
            object.__setattr__(self, "_ranks", cached)
        return cached

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
        """k-dimensional volume (length, area, volume) of every simplex; 1 for points."""
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


#: Prism (vertices 0, 1, 2 over 3, 4, 5; edges i -- i + 3) relabelled so that position 0
#: holds its vertex k: row k of the table (rotations of the triangles, swap of the two).
_PRISM_PERM = np.array([[0, 1, 2, 3, 4, 5], [1, 2, 0, 4, 5, 3], [2, 0, 1, 5, 3, 4],
                        [3, 5, 4, 0, 2, 1], [4, 3, 5, 1, 0, 2], [5, 4, 3, 2, 1, 0]])
#: The two splits of a prism whose smallest vertex is at position 0 (both quads at 0 take
#: the diagonal from 0); the third quad (1, 2, 5, 4) takes diagonal 1-5 or 2-4.
_PRISM_TETS = np.array([[[0, 1, 2, 5], [0, 1, 5, 4], [0, 4, 5, 3]],
                        [[0, 1, 2, 4], [0, 4, 2, 5], [0, 4, 5, 3]]])


def _split_prisms(G):
    """Three tetrahedra (m, 3, 4) of positions 0..5 for prisms with global vertex ids ``G``
    (m, 6): every quadrilateral face is split by the diagonal through its smallest id
    (Dompierre et al.'s rule), so that two prisms or pyramids sharing a face split it alike."""
    perm = _PRISM_PERM[np.argmin(G, axis=1)]  # (m, 6)
    Gp = np.take_along_axis(G, perm, 1)
    first = np.minimum(Gp[:, 1], Gp[:, 5]) < np.minimum(Gp[:, 2], Gp[:, 4])
    tets = _PRISM_TETS[np.where(first, 0, 1)]  # (m, 3, 4) positions in the relabelled prism
    return np.take_along_axis(perm[:, None, :].repeat(3, 1), tets, 2)


def _split_pyramids(G):
    """Two tetrahedra (m, 2, 4) of positions 0..4 for pyramids with apex at position 0 and
    base cycle 1, 2, 3, 4 (global ids ``G`` (m, 5)): the base is split by the diagonal
    through its smallest id."""
    first = np.minimum(G[:, 1], G[:, 3]) < np.minimum(G[:, 2], G[:, 4])
    a = np.array([[0, 1, 2, 3], [0, 1, 3, 4]])
    b = np.array([[0, 2, 3, 4], [0, 2, 4, 1]])
    return np.where(first[:, None, None], a[None], b[None])


#: The four ways a plane crosses a tetrahedron, after its vertices are reordered (zeros
#: first, then the side with fewer vertices): local vertices 0..3 are the reordered
#: corners, 4.. the cut points on the listed edges; fixed tetrahedra, and prisms
#: (triangle over triangle) and pyramids (apex, base cycle) to split.
_TET_CASES = {
    # one vertex alone: (a | b c d) -> corner (a p q r) + prism (p q r | b c d)
    (0, 1): dict(edges=[(0, 1), (0, 2), (0, 3)], tets=[(0, 4, 5, 6)], prisms=[(4, 5, 6, 1, 2, 3)], pyramids=[]),
    # two against two: (a b | c d) -> prisms (a p1 p2 | b p3 p4) and (c p1 p3 | d p2 p4)
    (0, 2): dict(edges=[(0, 2), (0, 3), (1, 2), (1, 3)], tets=[],
                 prisms=[(0, 4, 5, 1, 6, 7), (2, 4, 6, 3, 5, 7)], pyramids=[]),
    # one vertex on the plane, one alone: (z | a | b c) -> (z a p q) + pyramid z over (p b c q)
    (1, 1): dict(edges=[(1, 2), (1, 3)], tets=[(0, 1, 4, 5)], prisms=[], pyramids=[(0, 4, 2, 3, 5)]),
    # two on the plane: (z1 z2 | a | b) -> (z1 z2 a p), (z1 z2 p b)
    (2, 1): dict(edges=[(2, 3)], tets=[(0, 1, 2, 4), (0, 1, 4, 3)], prisms=[], pyramids=[]),
}


def _cut_tets(Sc, sc):
    """Split tetrahedra crossed by a hyperplane into tetrahedra, keeping their orientation.

    The crossed piece on each side is a tetrahedron, a prism or a pyramid
    (``_TET_CASES``); prisms and pyramids are split by the diagonal rule of
    ``_split_prisms``, which depends only on the vertex ids of each quadrilateral, so
    neighbours that share a cut face split it alike and the mesh stays conforming. Each
    new tetrahedron is oriented like its parent (the sign of its determinant in the
    parent's barycentric coordinates, with the cut points at edge midpoints: the pieces'
    combinatorics, hence that sign, does not depend on where the edges are cut).
    """
    zero = sc == 0
    nz = zero.sum(1)
    npos, nneg = (sc > 0).sum(1), (sc < 0).sum(1)
    lone = np.where(npos <= nneg, 1, -1)  # the sign of the smaller side (+ on ties)
    key = np.where(zero, 0, np.where(sc == lone[:, None], 1, 2))
    perm = np.argsort(key, axis=1, kind="stable")
    T = np.take_along_axis(Sc, perm, 1)
    inv = ((perm[:, :, None] > perm[:, None, :]) & np.triu(np.ones((4, 4), dtype=bool), 1)).sum((1, 2))
    nlone = np.minimum(npos, nneg)
    groups = []
    edges = []
    for (z, k), case in _TET_CASES.items():
        rows = np.flatnonzero((nz == z) & (nlone == k))
        groups.append((rows, case))
        for a, b in case["edges"]:
            edges.append(T[rows][:, [a, b]])

    def build(new):
        kids, par = [], []
        at = 0
        for rows, case in groups:
            m, ne = rows.size, len(case["edges"])
            if not m:
                continue
            loc = np.concatenate([T[rows], new[at: at + m * ne].reshape(ne, m).T], 1)  # (m, 4 + ne)
            at += m * ne
            bary = np.zeros((4 + ne, 4))
            bary[np.arange(4), np.arange(4)] = 1.0
            for e, (a, b) in enumerate(case["edges"]):
                bary[4 + e, [a, b]] = 0.5
            L = [np.broadcast_to(np.array(case["tets"], dtype=np.int64).reshape(-1, 4), (m, len(case["tets"]), 4))]
            for pr_ in case["prisms"]:
                pr_ = np.array(pr_)
                L.append(pr_[_split_prisms(loc[:, pr_])])
            for py in case["pyramids"]:
                py = np.array(py)
                L.append(py[_split_pyramids(loc[:, py])])
            L = np.concatenate(L, 1)  # (m, nk, 4) local ids
            sign = np.sign(np.linalg.det(bary[L])) * np.where(inv[rows] % 2, -1.0, 1.0)[:, None]
            flip = sign < 0
            L[flip] = L[flip][:, [1, 0, 2, 3]]
            kids.append(np.take_along_axis(loc[:, None, :].repeat(L.shape[1], 1), L, 2).reshape(-1, 4))
            par.append(np.repeat(rows, L.shape[1]))
        if not kids:
            return np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(kids), np.concatenate(par)
    return edges, build


_CUTTERS = {1: _cut_segments, 2: _cut_triangles, 3: _cut_tets}


class _Buffer:
    """An array that grows along its first axis (rows appended in place, capacity x1.5)."""

    def __init__(self, a):
        self.n = a.shape[0]
        self.a = np.empty((max(16, 2 * self.n),) + a.shape[1:], dtype=a.dtype)
        self.a[: self.n] = a

    def append(self, rows):
        m = self.n + rows.shape[0]
        if m > self.a.shape[0]:
            grown = np.empty((m + m // 2,) + self.a.shape[1:], dtype=self.a.dtype)
            grown[: self.n] = self.a[: self.n]
            self.a = grown
        self.a[self.n: m] = rows
        self.n = m

    @property
    def view(self):
        return self.a[: self.n]


def _small_singular_values(B):
    """Singular values (k, q), descending, of a stack ``B`` (k, m, q); q > 2 by an SVD.

    For q = 2 they come from a pivoted, re-orthogonalised QR in closed form (no Gram
    matrix, so small singular values keep their absolute accuracy ~eps * sigma_max)."""
    q = B.shape[2]
    if q == 1:
        return np.linalg.norm(B[:, :, 0], axis=1)[:, None]
    if q != 2:  # tetrahedra: LAPACK's SVD of B itself (no Gram matrix), same accuracy
        return np.linalg.svd(B, compute_uv=False)
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
    return np.stack([smax, smin], 1)


def _tangent_ranks_svd(sig, Vt, tolA, region, Q):
    """``rank(A[region] @ Q)`` per simplex from the SVDs ``A = U diag(sig) Vt`` (u, n, d) of
    the regions' maps: singular values above ``tolA``, the threshold of ``rank(A)`` itself,
    with ``A`` truncated to its numerical rank first (so the tangent rank never exceeds the
    rank). ``Q`` (k, d, q) orthonormal tangent bases."""
    if sig.shape[1] == 0:
        return np.zeros(len(region), dtype=np.int64)
    sig = np.where(sig > tolA[:, None], sig, 0.0)  # A truncated to its numerical rank
    B = (sig[:, :, None] * Vt)[region] @ Q  # (k, min(n, d), q)
    S = _small_singular_values(B)
    return np.count_nonzero(S > tolA[region][:, None], axis=1).astype(np.int64)


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


def _sign_tables(ZT, thr, S, q, can_cut):
    """Per unit (rows of ``ZT``, pre-activations on the vertices) and simplex of ``S``: whether
    some vertex is strictly positive, and whether the unit cuts the simplex (vertices on both
    sides), after snapping ``|z| <= thr`` to zero. Computed in blocks of REFINE_UNIT_BLOCK units."""
    n_l, n_s = ZT.shape[0], S.shape[0]
    anyp = np.zeros((n_l, n_s), dtype=bool)
    cuts = np.zeros((n_l, n_s), dtype=bool)
    for a in range(0, n_l, REFINE_UNIT_BLOCK):
        Zb, tb = ZT[a: a + REFINE_UNIT_BLOCK], thr[a: a + REFINE_UNIT_BLOCK, None]
        pos = Zb > tb
        p = pos[:, S[:, 0]]
        for j in range(1, q + 1):
            p |= pos[:, S[:, j]]
        anyp[a: a + REFINE_UNIT_BLOCK] = p
        if can_cut:
            neg = Zb < -tb
            m = neg[:, S[:, 0]]
            for j in range(1, q + 1):
                m |= neg[:, S[:, j]]
            cuts[a: a + REFINE_UNIT_BLOCK] = p & m
    return anyp, cuts


def _cut(net, V, S, K, tol):
    """The cutting loop of :func:`refine`: refined vertices, simplices, patterns, parents.

    Per layer, the pre-activations are affine on every current simplex, so a unit cuts only
    pieces of the simplices it crosses at the start of the layer (its sign pattern on a piece
    of any other simplex is that simplex's); each unit's work is restricted to those. Cut
    pieces keep the slot of the simplex they come from (the first piece) or are appended."""
    off = net.offsets
    n_units = int(off[K])
    q = S.shape[1] - 1
    Sb = _Buffer(np.array(S, dtype=np.int64))
    Vb = _Buffer(np.asarray(V, dtype=np.float64))
    cutter = _CUTTERS.get(q)
    # history for the backward walk: ("quiet", unit ids, bits on the layer's first simplices)
    # or ("cut", unit id, simplices before its cut, parents of the appended pieces, bits after)
    events = []
    H = Vb.view
    for l in range(K):
        W, b = net.weights[l], net.biases[l]
        Z0 = H @ W.T + b  # (vertices, n_l): pre-activations at the layer's first vertices
        del H
        N0 = Z0.shape[0]
        ZT0 = np.ascontiguousarray(Z0.T)  # unit-major copy for the per-unit scans
        scale = np.abs(ZT0).max(axis=1) if N0 else np.zeros(W.shape[0])
        thr = tol * np.maximum(scale, _TINY)  # |z| <= thr: ON the hyperplane
        anyp, cuts = _sign_tables(ZT0, thr, Sb.view, q, cutter is not None)
        crossing = cuts.any(axis=1)
        quiet = np.flatnonzero(~crossing)
        if quiet.size:
            events.append(("quiet", off[l] + quiet, anyp[quiet]))
        anc = _Buffer(np.arange(Sb.n, dtype=np.int64))  # the layer's first simplex of each piece
        Znew = _Buffer(np.zeros((0, W.shape[0])))  # pre-activations of the layer's new vertices

        def rows(ids):
            out = np.empty((ids.size, W.shape[0]))
            old = ids < N0
            out[old] = Z0[ids[old]]
            out[~old] = Znew.a[ids[~old] - N0]
            return out

        for i in np.flatnonzero(crossing):
            desc = np.flatnonzero(cuts[i][anc.view])
            Sd = Sb.a[desc]
            vids = np.unique(Sd)
            old = vids < N0
            zi = np.empty(vids.size)
            zi[old] = ZT0[i, vids[old]]
            zi[~old] = Znew.a[vids[~old] - N0, i]
            zi[np.abs(zi) <= thr[i]] = 0.0
            ZT0[i, vids[old]] = Z0[vids[old], i] = zi[old]
            Znew.a[vids[~old] - N0, i] = zi[~old]
            code = (zi > 0).view(np.uint8) | ((zi < 0).view(np.uint8) << 1)  # 1: +, 2: -, 0: on
            cd = code[np.searchsorted(vids, Sd)]
            orr = cd[:, 0].copy()
            for j in range(1, q + 1):
                orr |= cd[:, j]
            n_before = Sb.n
            par = np.zeros(0, dtype=np.int64)
            hit = np.flatnonzero(orr == 3)
            if hit.size:
                cut_idx = desc[hit]
                Sc = Sd[hit]
                sc = (cd[hit] == 1).astype(np.int8) - (cd[hit] == 2).astype(np.int8)
                edge_lists, build = cutter(Sc, sc)
                E = np.concatenate(edge_lists)
                E.sort(axis=1)
                nv = np.int64(Vb.n)
                ukey, inv = np.unique(E[:, 0] * nv + E[:, 1], return_inverse=True)
                u, v = ukey // nv, ukey % nv
                zu, zv = zi[np.searchsorted(vids, u)], zi[np.searchsorted(vids, v)]
                t = zu / (zu - zv)
                Vu = Vb.a[u]
                newV = Vu + t[:, None] * (Vb.a[v] - Vu)
                Zu = rows(u)
                newZ = Zu + t[:, None] * (rows(v) - Zu)
                newZ[:, i] = 0.0
                kids, kid_par = build(nv + inv.ravel())
                Vb.append(newV)
                Znew.append(newZ)
                # the first piece of a cut simplex takes its slot, the others are appended
                first = np.unique(kid_par, return_index=True)[1]
                rest = np.ones(len(kid_par), dtype=bool)
                rest[first] = False
                Sb.a[cut_idx] = kids[first]
                Sb.append(kids[rest])
                par = cut_idx[kid_par[rest]]
                anc.append(anc.a[par])
            # the unit's bit: its sign on the layer's first simplex, except on the pieces it met
            bits = anyp[i][anc.view]
            upd = np.concatenate([desc, np.arange(n_before, Sb.n)])
            Su = Sb.a[upd]
            at = np.minimum(np.searchsorted(vids, Su), vids.size - 1)
            positive = (vids[at] == Su) & (zi[at] > 0)  # new vertices lie on the hyperplane
            bits[upd] = positive.any(axis=1)
            events.append(("cut", off[l] + i, n_before, par, bits))
        # the layer's pre-activations at every vertex, snapped, feed the next layer
        H = np.concatenate([Z0, Znew.view]) if Znew.n else Z0
        del Z0, ZT0, Znew
        H[np.abs(H) <= thr] = 0.0
        np.maximum(H, 0.0, out=H)
    # patterns in the final indexing: walk the history backwards
    P, cur = _walk_history(events, n_units, Sb.n)
    return Vb.view.copy(), Sb.view.copy(), P, cur


def _tangent_ranks(net, V0, S0, V, S, parent, P, K, region, cache):
    """``rank(A_l Q)`` (k, K) of every piece, ``Q`` an orthonormal basis of its tangent space
    (that of its input simplex ``S0[parent]``: the pieces of a simplex lie in its plane).

    The tangent vectors are pushed through the network, one GEMM per layer for a chunk of
    pieces (``T_l = D_l W_l T_{l-1}``, ``D_l`` the piece's pattern), pieces sorted by input
    simplex (and along it): ``W_1 Q`` is formed once per input simplex, and on segments
    ``W_2 T_1`` of a piece is that of the previous piece plus the columns of ``W_2`` of the
    first-layer units where their patterns differ (``_second_layer``). The count of
    singular values above ``rank(A_l)``'s own threshold ``s_max(A_l) max(c_l, d) eps`` is
    decided from the tangent images wherever the margin allows: above ``B_l max(c_l, d) eps``
    with ``B_l >= s_max(A_l)`` (the product of the layers' Frobenius norms), or below the
    threshold that the largest tangent singular value implies (or structurally zero), beyond
    the rounding of the products and the constant-unit rows the rank rule drops. The rest
    (nearly collapsed pieces) are decided exactly from their regions' SVDs."""
    k, q = P.shape[0], S0.shape[1] - 1
    out = np.zeros((k, K), dtype=np.int64)
    if q == 0 or k == 0:
        return out
    off = net.offsets
    d = net.input_dim
    widths = net.widths[:K]
    Ws = [np.asarray(W, dtype=np.float64) for W in net.weights[:K]]
    zg = zero_thresholds(net, K)[0]
    bound = np.cumprod([np.linalg.norm(W) for W in Ws])  # Frobenius >= spectral: s_max(A_l) <= bound[l]
    inner = d + np.cumsum(widths)
    undecided = np.zeros(k, dtype=bool)
    chunk = max(1, REFINE_CHUNK_BYTES // (8 * q * max(d, *widths) * 3))
    if q == 1:  # pieces in order along their input segment
        pos = np.empty(k)
        for a in range(0, k, 4096):
            pa, sa = parent[a: a + 4096], S[a: a + 4096]
            start = V0[S0[pa, 0]]
            pos[a: a + 4096] = np.einsum("ij,ij->i", V[sa[:, 0]] + V[sa[:, 1]] - 2 * start,
                                         V0[S0[pa, 1]] - start)
        order = np.lexsort((pos, parent))
    else:
        order = np.argsort(parent, kind="stable")
    for s in range(0, k, chunk):
        idx = order[s: s + chunk]
        c = idx.size
        up, pinv = np.unique(parent[idx], return_inverse=True)
        pinv = pinv.ravel()
        Qt = np.swapaxes(_tangent_bases(V0, S0[up]), 1, 2).reshape(up.size * q, d)
        G1 = (Qt @ Ws[0].T).reshape(up.size, q, -1)  # (n_par, q, n_1): W_1 Q
        Pc = P[idx]
        fewest = np.full(c, d)  # rank(A_l Q) <= min(d, c_1, ..., c_l)
        T = None
        for l in range(K):
            mask = Pc[:, off[l]:off[l + 1]]
            size = np.count_nonzero(mask, axis=1)
            fewest = np.minimum(fewest, size)
            if l == 0:
                T = (G1[pinv] * mask[:, None, :]).reshape(c * q, -1)
            elif l == 1:
                T = _second_layer(T, Pc[:, : off[1]], G1, pinv, Ws[1], q)
                T *= mask if q == 1 else np.repeat(mask, q, axis=0)
            else:
                T = T @ Ws[l].T
                T *= mask if q == 1 else np.repeat(mask, q, axis=0)
            if q == 1:
                sv = np.sqrt(np.einsum("ij,ij->i", T, T))[:, None]
            else:
                sv = _small_singular_values(np.swapaxes(T.reshape(c, q, -1), 1, 2))  # (c, q)
            out[idx, l], unsure = _decide(sv, size, fewest, zg[l], inner[l], bound[l], d)
            undecided[idx] |= unsure
    if undecided.any():
        _exact_tangent_ranks(net, V0, S0, parent, K, region, cache, np.flatnonzero(undecided), out)
    return out


def _decide(sv, size, fewest, zg, inner, bound, d):
    """Tangent rank of each piece at one layer from the singular values ``sv`` (k, q) of its
    tangent image ``A_l Q``, and whether that count is certain (see ``_tangent_ranks``):
    ``size`` = c_l, ``fewest`` = min(d, c_1..c_l), ``zg`` the layer's constant-unit threshold,
    ``inner`` the summed widths and ``bound >= s_max(A_l)``. Returns ``(count, unsure)``."""
    q = sv.shape[1]
    m = np.maximum(size, d)
    err = (np.sqrt(size) * zg + 8.0 * inner * EPS * bound * np.sqrt(q))[:, None]
    above = sv - err > (bound * m * EPS)[:, None]
    s_low = np.maximum(sv[:, :1] - err, 0.0)
    below = ((sv + err <= s_low * m[:, None] * EPS) | (sv == 0.0)
             | (np.arange(1, q + 1)[None, :] > np.asarray(fewest)[:, None]))
    above &= ~below
    return above.sum(axis=1), ~(above | below).all(axis=1)


def _second_layer(T1, M1, G1, pinv, W2, q, order=None):
    """``T1[order] @ W2.T`` for the pieces of a chunk, sorted (by ``order``, default as given)
    by input segment and position along it.

    For segments (q = 1) with several pieces each, ``T1 = M1 * g`` with ``g = W_1 t`` of the
    input segment, and consecutive pieces differ in the few first-layer units whose
    hyperplanes separate them: the first piece of each segment by GEMM, the next ones by
    adding the ``W_2`` columns of those units (a sparse product) and a running sum along the
    segment. Otherwise one dense GEMM."""
    c = M1.shape[0]
    starts = np.flatnonzero(np.r_[True, pinv[1:] != pinv[:-1]])
    if q != 1 or starts.size * 8 > c:
        return (T1 if order is None else T1[order]) @ W2.T
    from scipy import sparse

    diff = M1[1:] != M1[:-1]
    diff[starts[1:] - 1] = False  # no running sum across input segments
    rows, cols = np.nonzero(diff)
    rows += 1
    vals = np.where(M1[rows, cols], 1.0, -1.0) * G1[pinv[rows], 0, cols]
    R = np.asarray(sparse.csr_matrix((vals, (rows, cols)), shape=M1.shape) @ W2.T)
    R[starts] = T1[starts if order is None else order[starts]] @ W2.T
    for a, b in zip(starts, np.r_[starts[1:], c]):
        np.cumsum(R[a:b], axis=0, out=R[a:b])
    return R


def _exact_tangent_ranks(net, V0, S0, parent, K, region, cache, pieces, out):
    """Tangent ranks of ``pieces`` from the SVDs of their regions' maps (formed densely,
    a few regions at a time), capped by the regions' ranks; writes ``out[pieces]``."""
    off = net.offsets
    d = net.input_dim
    zg = zero_thresholds(net, K)[0]
    regs, local = np.unique(region[pieces], return_inverse=True)
    local = local.ravel()
    ranks = cache.get(regs)  # (r, K), the rank rule of pattern_ranks
    per_region = 8 * d * int(sum(net.widths[:K])) * 3
    step = max(1, REFINE_CHUNK_BYTES // max(per_region, 1))
    for a in range(0, len(regs), step):
        sel = np.flatnonzero((local >= a) & (local < a + step))
        if not sel.size:
            continue
        U = cache.U[regs[a: a + step]]
        Q = _tangent_bases(V0, S0[parent[pieces[sel]]])
        for l, A in enumerate(_layer_maps(net, U, K)):
            A = drop_constant_rows(A, zg[l])
            if not A.size:
                continue
            _, sig, Vt = np.linalg.svd(A, full_matrices=False)
            tolA = rank_tolerance(sig[:, 0], U[:, off[l]:off[l + 1]].sum(axis=1), d)
            tr = _tangent_ranks_svd(sig, Vt, tolA, local[sel] - a, Q)
            out[pieces[sel], l] = np.minimum(tr, ranks[local[sel], l])


def _chain_values(Z, G, S, seg, tau, n_in):
    """Pre-activations (vertex-major ``Z``, rows ``>= n_in`` filled) at the inner vertices of a
    mesh of pieces of input segments, from the input vertices' rows: along each input segment,
    ``z(right) = z(left) + (tau_right - tau_left) G[piece]`` with ``G`` the pieces' slopes."""
    order = np.lexsort((tau[:, 0], seg))
    sseg = seg[order]
    first = np.r_[0, np.flatnonzero(sseg[1:] != sseg[:-1]) + 1]
    depth = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
    for k in range(int(depth.max()) + 1 if depth.size else 0):
        rows = order[depth == k]
        right = S[rows, 1]
        inner = right >= n_in
        rows, right = rows[inner], right[inner]
        Z[right] = Z[S[rows, 0]] + (tau[rows, 1] - tau[rows, 0])[:, None] * G[rows]


def _walk_history(events, n_units, N):
    """Patterns ``(N, n_units)`` on the last ``N`` pieces from the history of cuts that made
    them (``events``: ``("cut", unit, n_before, parents, bits)`` and ``("quiet", units, bits)``,
    see ``_cut`` and ``_refine_curve``), walked backwards; and each piece's first ancestor
    (its index before the first cut)."""
    PT = np.zeros((n_units, N), dtype=bool)
    cur = np.arange(N, dtype=np.int64)
    for ev in reversed(events):
        if ev[0] == "cut":
            _, unit, n_before, par, bits = ev
            PT[unit] = bits[cur]
            if par.size:
                new = cur >= n_before
                cur[new] = par[cur[new] - n_before]
        else:
            _, units, bits = ev
            PT[units] = bits[:, cur]
    return np.ascontiguousarray(PT.T), cur


def _refine_curve(net, V0, S0, K, tol):
    """:func:`refine` on a mesh of segments, every layer one GEMM over the pieces.

    Each piece is a sub-segment ``[tau_0, tau_1]`` of an input segment ``x(tau) = a + tau e``;
    on it ``h_l`` is affine with slope ``T_l = D_l W_l T_{l-1}`` (``T_0 = e``). At the end of
    layer l the slopes ``G_{l+1} = W_{l+1} T_l`` of the layer's pieces (one GEMM; for the
    second layer, running sums of ``W_2`` columns along each segment) give both the next
    layer's pre-activations at the vertices (summed along each segment from its first
    vertex, which is evaluated directly) and the tangent images ``A_l e``. New vertices are
    placed at the interpolated zero of the cutting unit, and their pre-activations are
    interpolated within the layer's pieces, as in the general kernel. Returns the vertices,
    pieces, patterns, parents and tangent ranks."""
    off = net.offsets
    d = net.input_dim
    n_in, n_seg = V0.shape[0], S0.shape[0]
    E = V0[S0[:, 1]] - V0[S0[:, 0]]
    elen = np.linalg.norm(E, axis=1)
    elen = np.where(elen > 0, elen, 1.0)
    Ws = [np.asarray(W, dtype=np.float64) for W in net.weights[:K]]
    bs = [np.asarray(b, dtype=np.float64) for b in net.biases[:K]]
    Sb = _Buffer(S0.astype(np.int64))
    seg = _Buffer(np.arange(n_seg, dtype=np.int64))
    tau = _Buffer(np.tile([0.0, 1.0], (n_seg, 1)))
    vseg, vtau = _Buffer(np.zeros(0, dtype=np.int64)), _Buffer(np.zeros(0))  # inner vertices
    Zin = V0 @ Ws[0].T + bs[0]  # the input vertices' pre-activations
    G = E @ Ws[0].T  # slopes of the first layer's pre-activations on the pieces (rows: pieces)
    layers = []  # per layer: (patterns, anc, tangent norms) on the layer's last pieces
    for l in range(K):
        n_l = Ws[l].shape[0]
        N0, nS0 = n_in + vseg.n, Sb.n
        S_start = Sb.view.copy()
        Zv = np.empty((N0, n_l))
        Zv[:n_in] = Zin
        if N0 > n_in:
            _chain_values(Zv, G, S_start, seg.view, tau.view, n_in)
        del G
        ZT0 = np.ascontiguousarray(Zv.T)
        del Zv
        scale = np.abs(ZT0).max(axis=1) if N0 else np.zeros(n_l)
        thr = tol * np.maximum(scale, _TINY)
        anyp, cuts = _sign_tables(ZT0, thr, S_start, 1, True)
        crossing = cuts.any(axis=1)
        events = []
        quiet = np.flatnonzero(~crossing)
        if quiet.size:
            events.append(("quiet", quiet, anyp[quiet]))
        anc = _Buffer(np.arange(nS0, dtype=np.int64))
        nlp, nlt = _Buffer(np.zeros(0, dtype=np.int64)), _Buffer(np.zeros(0))  # this layer's new vertices

        for i in np.flatnonzero(crossing):
            desc = np.flatnonzero(cuts[i][anc.view])
            Sd = Sb.a[desc]
            vids = np.unique(Sd)
            old = vids < N0
            zi = np.empty(vids.size)
            zi[old] = ZT0[i, vids[old]]
            k = vids[~old] - N0
            lp = nlp.a[k]
            za, zb = ZT0[i, S_start[lp, 0]], ZT0[i, S_start[lp, 1]]
            zi[~old] = za + nlt.a[k] * (zb - za)
            zi[np.abs(zi) <= thr[i]] = 0.0  # ON the hyperplane
            at = np.searchsorted(vids, Sd)
            z0, z1 = zi[at[:, 0]], zi[at[:, 1]]
            n_before = Sb.n
            par = np.zeros(0, dtype=np.int64)
            hit = np.flatnonzero(((z0 > 0) & (z1 < 0)) | ((z0 < 0) & (z1 > 0)))
            if hit.size:
                rows = desc[hit]
                t = z0[hit] / (z0[hit] - z1[hit])
                u, v = Sd[hit, 0], Sd[hit, 1]
                lp = anc.a[rows]  # the layer's first piece holding the cut
                lt = []
                for w in (u, v):  # parameter of u, v in that piece
                    x = np.where(w == S_start[lp, 0], 0.0, 1.0)
                    inner = w >= N0
                    x[inner] = nlt.a[w[inner] - N0]
                    lt.append(x)
                ta, tb = tau.a[rows, 0], tau.a[rows, 1]
                tp = ta + t * (tb - ta)
                p = n_in + vseg.n + np.arange(hit.size)
                vseg.append(seg.a[rows])
                vtau.append(tp)
                nlp.append(lp)
                nlt.append(lt[0] + t * (lt[1] - lt[0]))
                Sb.a[rows, 1] = p  # (u, p) keeps the slot, (p, v) is appended
                Sb.append(np.stack([p, v], 1))
                tau.a[rows, 1] = tp
                tau.append(np.stack([tp, tb], 1))
                seg.append(seg.a[rows])
                anc.append(anc.a[rows])
                par = rows
            bits = anyp[i][anc.view]
            upd = np.concatenate([desc, np.arange(n_before, Sb.n)])
            Su = Sb.a[upd]
            at = np.minimum(np.searchsorted(vids, Su), vids.size - 1)
            bits[upd] = ((vids[at] == Su) & (zi[at] > 0)).any(axis=1)  # new vertices lie on the plane
            events.append(("cut", i, n_before, par, bits))
        PL = _walk_history(events, n_l, Sb.n)[0]
        a_l = anc.view.copy()
        Gprev = (E @ Ws[0].T) if l == 0 else None
        T = (Gprev if l == 0 else Gl)[a_l]
        T *= PL  # slopes of h_l on the layer's pieces
        layers.append((PL, a_l, np.sqrt(np.einsum("ij,ij->i", T, T)) / elen[seg.view]))
        if l + 1 < K:
            Zin = np.where(np.abs(Zin) <= thr, 0.0, Zin)
            Zin = np.maximum(Zin, 0.0) @ Ws[l + 1].T + bs[l + 1]
            if l == 0:  # second layer: running sums of W_2 columns along the segments
                order = np.lexsort((tau.view[:, 0], seg.view))
                G = np.empty((Sb.n, Ws[1].shape[0]))
                G[order] = _second_layer(T, PL[order], Gprev[:, None, :], seg.view[order], Ws[1], 1, order)
            else:
                G = T @ Ws[l + 1].T
            Gl = G
        del T
    # final pieces: patterns and tangent ranks per layer through the ancestor maps
    N = Sb.n
    n_units = int(off[K])
    P = np.zeros((N, n_units), dtype=bool)
    tr = np.zeros((N, K), dtype=np.int64)
    unsure = np.zeros(N, dtype=bool)
    zg = zero_thresholds(net, K)[0]
    bound = np.cumprod([np.linalg.norm(W) for W in Ws])
    inner = d + np.cumsum(net.widths[:K])
    maps = [None] * K
    cur = np.arange(N, dtype=np.int64)
    for l in range(K - 1, -1, -1):
        maps[l] = cur
        cur = layers[l][1][cur]
    fewest = np.full(N, d)
    for l in range(K):
        PL, _, sv = layers[l]
        P[:, off[l]:off[l + 1]] = PL[maps[l]]
        size = np.count_nonzero(PL, axis=1)[maps[l]]
        fewest = np.minimum(fewest, size)
        tr[:, l], u = _decide(sv[maps[l]][:, None], size, fewest, zg[l], inner[l], bound[l], d)
        unsure |= u
    V = np.empty((n_in + vseg.n, d))
    V[:n_in] = V0
    for a in range(0, vseg.n, 4096):
        sg = vseg.view[a: a + 4096]
        Vn = V[n_in + a: n_in + a + sg.size]
        np.multiply(E[sg], vtau.view[a: a + 4096, None], out=Vn)
        Vn += V0[S0[sg, 0]]
    return V, Sb.view.copy(), P, seg.view.copy(), tr, unsure


def _refine(net, V, S, K, tol):
    """Kernel of :func:`refine`; trusts its input."""
    V0, S0 = np.asarray(V, dtype=np.float64), np.asarray(S, dtype=np.int64)
    if S0.shape[1] == 2 and S0.shape[0]:
        V, S, P, parent, tranks, unsure = _refine_curve(net, V0, S0, K, tol)
        U, region = _unique_rows(P)
        cache = _RegionRanks(net, U, K)
        if unsure.any():
            _exact_tangent_ranks(net, V0, S0, parent, K, region, cache, np.flatnonzero(unsure), tranks)
    else:
        V, S, P, parent = _cut(net, V0, S0, K, tol)
        U, region = _unique_rows(P)
        cache = _RegionRanks(net, U, K)
        tranks = _tangent_ranks(net, V0, S0, V, S, parent, P, K, region, cache)
    return Refinement(
        complex=SimplicialComplex(V, S), layer=K, patterns=P, region=region, region_patterns=U,
        tangent_ranks=tranks, parent=parent, tol=tol, _region_ranks=cache,
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
    triangles in all; a cut segment becomes two segments; a cut tetrahedron becomes a
    tetrahedron and a prism, two prisms, or a tetrahedron and a pyramid (when the plane
    passes through a vertex), split into tetrahedra by the diagonal through the smallest
    vertex id of each quadrilateral, so that neighbours split a shared face alike.
    Orientation is kept.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        A mesh of points, segments, triangles or tetrahedra in ``R^input_dim``
        (embed a manifold first with ``pr.embed``).
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
        simplices of dimension > 3, or ``tol``/``layer`` are invalid.

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
    exceeds the rank (the tangent ranks come from the tangent vectors pushed
    through the layers, decided by the SVDs of the regions' maps only for nearly
    collapsed pieces). Cost: per layer one GEMM over the vertices (triangle
    meshes) or over the pieces' slopes (curves: the pre-activations at the new
    vertices are summed along each input segment), plus numpy work proportional
    to the pieces each unit crosses; no per-region matrix is formed. The ranks
    ``rank(A_l)`` of the regions are computed on first access of
    :attr:`Refinement.ranks`, with :func:`polyrank.rank.pattern_ranks` (one
    certificate or SVD per region, on a GPU when available): in 784-D through
    thousands of units that is the expensive part, and
    :func:`polyrank.image_homology` does not need it.

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
    K = check_complex(K, net.input_dim, func="refine", max_dim=3)
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
    Cost: one forward pass plus :func:`polyrank.rank.pattern_ranks` over the
    distinct patterns met (a batched SVD per layer for small inputs, the
    certificate of :func:`polyrank.ranks_at` for large ones).

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
        ranks = pattern_ranks(net, U, L)[region]
    else:
        ranks = np.zeros((0, L), dtype=np.int64)
    return VertexLabels(points=X, layer=L, patterns=P, region=region, region_patterns=U, ranks=ranks)
