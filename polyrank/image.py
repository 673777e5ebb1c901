"""Exact homology of the representation ``f_l(|K|)`` of a mesh, layer by layer.

After :func:`~polyrank.refine`, the hidden representation ``f_l`` is affine on every
*cell* (an input simplex intersected with one linear region of layers 1..l, a convex
polytope), so ``f_l(|K|)`` is the finite union of the convex polytopes ``f_l(cell)``.
:func:`image_homology` computes its Betti numbers exactly; :func:`topology_flow` does
it for every layer 0..L from one refinement.

The algorithm (docs/image_homology.md gives the proofs)
------------------------------------------------------
1. **Clean cells.** A cell ``i`` is *clean* when ``f`` is injective on it and, for every
   other cell ``j``, ``f(i) & f(j) = f(i & j)``: images meet only where the mesh
   already meets. Cheap certificates decide most pairs (ranks of the image tangent
   spaces, a side test for coplanar neighbours, a separating functional for cells that
   share a vertex); every other pair is decided by an LP of the LP kernel. Cells that
   are not certified clean are *dirty*: the *rank source* (``f`` not injective on the
   cell) and the *overlap source* (images of cells that share no mesh point meet).
2. **Witnesses.** Every mesh vertex is a witness point ``f(v)`` (vertices with equal
   images merge). For every set of at most ``dim K + 2`` dirty cells whose images meet
   but share no witness, an LP finds a common point, which becomes a witness too.
3. **The complex.** ``Z`` is the refined mesh with vertices renamed to witnesses, plus,
   for every dirty cell, the full simplex on the witnesses in its image (its
   ``dim K + 1``-skeleton). ``H_k(Z) = H_k(f_l(|K|))`` for ``k <= dim K`` (the nerve
   theorem for the convex images of the dirty cells, glued to the mesh along the
   clean cells, where ``f`` is a homeomorphism onto its image).

Every intersection decision is the sign of an LP value against a stated tolerance
``tol`` (relative to the size of the image); decisions within a factor
:data:`NEAR_FACTOR` of it are counted in ``near_tolerance`` and warned about.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field as dc_field
from itertools import combinations

import numpy as np

from ._validation import check_layer, check_prime, check_tol
from .exceptions import InfeasibleError, LPError, PolyrankError
from .intersect import refine
from .lp import solve_lp
from ._convex import closest_points
from .complex import SimplicialComplex
from .network import as_network

__all__ = ["image_homology", "topology_flow", "ImageHomology", "IMAGE_TOL", "NEAR_FACTOR",
           "MAX_CANDIDATES", "MAX_LPS", "FAST_PATHS", "ImageToleranceWarning"]

#: Default tolerance of intersection decisions, relative to the image's size (the largest
#: coordinate range of the images of the mesh vertices): two images whose L-infinity
#: distance is at most ``tol * size`` meet.
IMAGE_TOL = 1e-9
#: A decision whose LP value lies within this factor of the tolerance is reported as
#: near the tolerance (``ImageHomology.near_tolerance``) and raises a warning.
NEAR_FACTOR = 100.0
#: Margin of the cheap certificates (on orthonormal bases and unit vectors): a cell pair
#: is certified clean only when its singular value or separating gap exceeds this.
CERT_MARGIN = 1e-7
#: A vertex of a cell closer than this times the cell's extent to the chord between its two
#: neighbours on the boundary lies on a straight side: it is no corner of that cell.
CORNER_RTOL = 1e-9
#: Oblique sweep directions (besides the axes) and the seed that fixes them.
_N_OBLIQUE, _SWEEP_SEED = 4, 20261202
#: HiGHS options of the intersection LPs (coordinates are scaled to unit size first).
_LP_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: Default budget of candidate intersections (pairs or sets of cells, points in cells) that
#: image_homology decides at one layer before it refuses (each may cost one LP).
MAX_CANDIDATES = 100_000
#: Default bound on the LPs one layer may solve (``max_lps``): a few minutes at most. Images
#: that fold a mesh onto itself many times (narrow layers, large collapsed parts) need many.
MAX_LPS = 200_000
#: Pairs of cells considered at once when filtering bounding boxes.
_PAIR_CHUNK = 1 << 21
#: Use the fast paths for curves and surfaces (geometric intersection certificates before
#: any LP, sets of cells cleared by clean neighbours, closed-form joint singular values,
#: cones for dirty cells with many witnesses). ``False`` is the reference path: every
#: undecided intersection goes to the LP and every dirty cell is a full simplex. Both give
#: the same Betti numbers; tests and benchmarks/image_homology.py compare them.
FAST_PATHS = True


class ImageToleranceWarning(UserWarning):
    """An intersection decision of :func:`image_homology` was close to its tolerance."""


@dataclass(frozen=True, eq=False)
class ImageHomology:
    """Exact Betti numbers of ``f_layer(|K|)`` and where the topology changed.

    Attributes
    ----------
    betti : tuple of int
        ``(b_0, ..., b_dim)`` of the image over Z/field (``dim = K.dim``; higher Betti
        numbers of an image of a ``dim``-dimensional polyhedron vanish).
    layer : int
        The layer l of ``f_l``; 0 means ``X`` itself.
    field : int
    n_pieces : int
        Cells: (input simplex, linear region) pairs met by the mesh.
    rank_pieces : int ndarray
        Cells on which ``f_l`` is not injective (the image of a piece loses dimension):
        the *rank source*.
    overlaps : list of tuple of int
        Sets of cells that share no point of the mesh but whose images meet, found by LP:
        the *overlap source* (pairs, and larger sets whose pairs all meet). Neighbours
        (cells sharing a mesh vertex) whose images may fold onto each other are not
        listed here: no certificate clears them, so they are dirty and counted in
        ``n_dirty`` and ``stats["adjacent_uncertified"]``.
    n_dirty : int
        Cells not certified clean (the rank source, the cells in ``overlaps``, and
        neighbours no cheap certificate could clear).
    near_tolerance : int
        Decisions whose LP value was within ``NEAR_FACTOR`` of the tolerance.
    tol : float
        The relative tolerance used; ``abs_tol`` the absolute one.
    abs_tol : float
    stats : dict
        Counts (LPs solved, pairs tested, size of the complex) and timings in seconds.
    """

    betti: tuple
    layer: int
    field: int
    n_pieces: int
    rank_pieces: np.ndarray
    overlaps: list
    n_dirty: int
    near_tolerance: int
    tol: float
    abs_tol: float
    stats: dict = dc_field(default_factory=dict)

    @property
    def n_rank_pieces(self) -> int:
        """Number of cells in the rank source."""
        return int(len(self.rank_pieces))

    @property
    def n_overlaps(self) -> int:
        """Number of sets of cells in the overlap source."""
        return len(self.overlaps)

    def __repr__(self):
        return (f"ImageHomology(betti={self.betti}, layer={self.layer}, n_pieces={self.n_pieces}, "
                f"n_rank_pieces={self.n_rank_pieces}, n_overlaps={self.n_overlaps}, "
                f"near_tolerance={self.near_tolerance})")


# ---------------------------------------------------------------------------- validation
def check_image_mesh(K, net, func="image_homology"):
    """Validate a mesh for :func:`image_homology` (ValueError/TypeError naming the problem)."""
    if not isinstance(K, SimplicialComplex):
        raise TypeError(f"The 'K' parameter of {func} must be a polyrank.SimplicialComplex "
                        f"(see pr.circle, pr.torus, pr.ball, ...); got {type(K).__name__}.")
    if len(K) == 0:
        raise ValueError(f"The mesh 'K' of {func} has no simplices.")
    if K.ambient_dim != net.input_dim:
        raise ValueError(f"The mesh 'K' lives in R^{K.ambient_dim} but the network takes inputs in "
                         f"R^{net.input_dim}; embed it first (pr.embed(K, {net.input_dim}, seed=...)).")
    if K.dim > 3:
        raise ValueError(f"{func} handles meshes of dimension <= 3 (points, curves, surfaces, solids); "
                         f"'K' has simplices of dimension {K.dim}.")
    if K.dim > K.ambient_dim:
        raise ValueError(f"'K' has {K.dim}-simplices but lives in R^{K.ambient_dim}.")
    S = np.sort(K.simplices, axis=1)
    if K.dim and (S[:, 1:] == S[:, :-1]).any():
        raise ValueError(f"The mesh 'K' of {func} has a simplex with a repeated vertex.")
    if K.dim:
        faces = np.concatenate([np.delete(S, j, axis=1) for j in range(K.dim + 1)])
        _, counts = np.unique(faces, axis=0, return_counts=True)
        if counts.max() > 2:
            raise ValueError(f"The mesh 'K' of {func} is not a manifold: a {K.dim - 1}-face lies in "
                             f"{int(counts.max())} {K.dim}-simplices (at most 2 allowed).")
        T = K.vertices[K.simplices[:, 1:]] - K.vertices[K.simplices[:, :1]]
        sv = np.linalg.svd(T, compute_uv=False)
        if (sv[:, -1] <= 1e-12 * np.maximum(sv[:, 0], np.finfo(float).tiny)).any():
            raise ValueError(f"The mesh 'K' of {func} has a degenerate (flat) {K.dim}-simplex.")
    used = np.unique(K.simplices)
    if len(used) < len(K.vertices):  # vertices no simplex uses are not in |K|: dropped, ids renumbered
        K = SimplicialComplex(K.vertices[used], np.searchsorted(used, K.simplices))
    return K


# ---------------------------------------------------------------------------- cells
def _csr(keys, values, n):
    """Group ``values`` by ``keys`` in 0..n-1: (ptr, values sorted by key)."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(ptr, keys + 1, 1)
    return np.cumsum(ptr), values[order]


class _Cells:
    """The cells of one layer (input simplex x linear region, convex polytopes), each with
    its corner vertices, and a triangulation of the cells that uses no other vertices.

    The refinement's own triangulation has vertices on the cells' sides that are corners
    of no cell (where a cut crossed a diagonal of an earlier fan); they are dropped, so a
    cell's vertex set is its corners plus the corners of neighbours on its sides.
    """

    def __init__(self, ref, n_units_l, K):
        S = ref.complex.simplices
        V = ref.complex.vertices
        m, q1 = S.shape
        q = q1 - 1
        parent8 = ref.parent.astype(">i8").view(np.uint8).reshape(m, 8)
        key = np.concatenate([parent8, np.packbits(ref.patterns[:, :n_units_l], axis=1)], 1) \
            if n_units_l else parent8
        key = np.ascontiguousarray(key).view(np.dtype((np.void, key.shape[1])))[:, 0]
        _, first, cell = np.unique(key, return_index=True, return_inverse=True)
        cell = cell.ravel()
        self.n = len(first)
        self.of_simplex = cell
        self.parent = ref.parent[first]
        self.pattern = ref.patterns[first, :n_units_l]
        nv = ref.complex.n_vertices
        pair = np.unique(np.repeat(cell, q1) * nv + S.ravel())
        c, v = pair // nv, pair % nv
        if q in (0, 3):  # points; solids: every vertex of the cell's tetrahedra (in a
            # conforming mesh these are all the mesh vertices in the closed cell), and the
            # cell keeps its tetrahedra (no corner pruning in 3-D)
            self._set(c, v)
            self.tris = S.copy()
            self.tri_cell = cell.copy()
            return
        # coordinates of each (cell, vertex) in its input simplex's affine frame
        P = K.simplices[self.parent]
        base = K.vertices[P[:, 0]]
        T = K.vertices[P[:, 1:]] - base[:, None, :]  # (n, q, d)
        Tp = np.linalg.pinv(T)  # (n, d, q)
        loc = np.einsum("kd,kdq->kq", V[v] - base[c], Tp[c])
        if q == 1:
            order = np.lexsort((loc[:, 0], c))
            c, v = c[order], v[order]
            start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
            stop = np.r_[start[1:], len(c)] - 1
            corner = np.zeros(len(c), dtype=bool)
            corner[start] = corner[stop] = True
        elif q == 2:
            c, v = self._boundary_cycles(S, cell)
            loc = np.einsum("kd,kdq->kq", V[v] - base[c], Tp[c])
            start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
            size = np.diff(np.r_[start, len(c)])
            idx = np.arange(len(c))
            first_of = np.repeat(start, size)
            last_of = first_of + np.repeat(size, size) - 1
            prv = np.where(idx == first_of, last_of, idx - 1)
            nxt = np.where(idx == last_of, first_of, idx + 1)
            a, b = loc - loc[prv], loc[nxt] - loc[prv]
            # distance from the chord between the two neighbours: robust for clusters of
            # near-coincident vertices at a corner (each one's own turn is tiny)
            dist = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]) / np.maximum(
                np.hypot(b[:, 0], b[:, 1]), np.finfo(float).tiny)
            ext = (np.maximum.reduceat(loc, start, axis=0) - np.minimum.reduceat(loc, start, axis=0)).max(1)
            corner = dist > CORNER_RTOL * np.repeat(ext, size)
        else:  # pragma: no cover - dimensions above 3 are refused by check_image_mesh
            raise NotImplementedError(f"cells of dimension {q}")
        is_corner = np.zeros(nv, dtype=bool)
        is_corner[v[corner]] = True
        keep = corner | is_corner[v]
        self._set(c[keep], v[keep])  # boundary order within a cell is kept
        if q == 1:
            same = self.vcell[:-1] == self.vcell[1:]
            self.tris = np.stack([self.verts[:-1], self.verts[1:]], 1)[same]
            self.tri_cell = self.vcell[:-1][same]
        else:
            self._fans()

    def _boundary_cycles(self, S, cell):
        """The boundary of every cell (a convex polygon) as a cycle of vertices, in order.

        Boundary edges are the edges of the cell's triangles that only one of them has;
        the refinement keeps each input triangle's orientation, so they chain head to tail.
        """
        D = S[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
        ec = np.repeat(cell, 3)
        nv = int(S.max()) + 1
        und = (ec * nv + D.min(1)) * nv + D.max(1)
        _, inv, cnt = np.unique(und, return_inverse=True, return_counts=True)
        bd = cnt[inv.ravel()] == 1
        ec, D = ec[bd], D[bd]
        order = np.lexsort((D[:, 0], ec))
        ec, D = ec[order], D[order]
        if not len(ec):
            z = np.zeros(0, dtype=np.int64)
            return z, z
        # walk every cell's cycle at once, from its edge with the smallest tail vertex
        key = ec * nv + D[:, 0]  # sorted
        nxt = np.minimum(np.searchsorted(key, ec * nv + D[:, 1]), len(key) - 1)
        found = key[nxt] == ec * nv + D[:, 1]
        start = np.flatnonzero(np.r_[True, ec[1:] != ec[:-1]])
        cur = start.copy()
        active = np.ones(len(start), dtype=bool)
        steps_c, steps_v, steps_k = [], [], []
        for k in range(int(np.diff(np.r_[start, len(ec)]).max())):
            idx = np.flatnonzero(active)
            if not len(idx):
                break
            steps_c.append(ec[cur[idx]])
            steps_v.append(D[cur[idx], 0])
            steps_k.append(np.full(len(idx), k))
            ok = found[cur[idx]]
            cur[idx] = nxt[cur[idx]]
            active[idx] = ok & (cur[idx] != start[idx])
        out_c, out_v, out_k = (np.concatenate(x) for x in (steps_c, steps_v, steps_k))
        o = np.lexsort((out_k, out_c))
        return out_c[o].astype(np.int64), out_v[o].astype(np.int64)

    def _set(self, c, v):
        self.vcell, self.vvert = c, v
        self.ptr = np.searchsorted(c, np.arange(self.n + 1))
        self.verts = v

    def _fans(self):
        """Triangulate each cell as the cone from its first boundary vertex over the rest
        of its boundary cycle: a disk whatever the geometry (collinear vertices give flat
        triangles, which homology does not mind), with exactly the cell's boundary edges,
        so that neighbouring cells stay glued along the same edges."""
        size = np.diff(self.ptr)
        k = np.maximum(size - 2, 0)
        owner = np.repeat(np.arange(self.n), k)
        j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 1  # 1..size-2 within the cell
        base = self.ptr[owner]
        self.tris = np.stack([self.verts[base], self.verts[base + j], self.verts[base + j + 1]], 1)
        self.tri_cell = owner

    def vertices(self, i):
        return self.verts[self.ptr[i]: self.ptr[i + 1]]


def _largest_simplex(V, tris, tri_cell, n):
    """For each cell, its triangulation simplex of largest volume (best conditioned)."""
    q = tris.shape[1] - 1
    if q:
        T = np.swapaxes(V[tris[:, 1:]] - V[tris[:, :1]], 1, 2)
        vol = np.abs(np.prod(np.diagonal(np.linalg.qr(T, mode="r"), axis1=-2, axis2=-1), axis=-1))
    else:
        vol = np.ones(len(tris))
    order = np.lexsort((-vol, tri_cell))
    c = tri_cell[order]
    first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    out = np.zeros(n, dtype=np.int64)
    out[c[first]] = order[first]
    return out


# ---------------------------------------------------------------------------- LP decisions
def _meet_lp(P_list, center):
    """Smallest ``t`` such that one point ``y`` lies within L-infinity distance ``t`` of
    every ``conv(P_j)``; returns (t, y).

    One LP of the kernel, on coordinates centred and scaled to unit size with tightened
    feasibility tolerances; ``t`` is then recomputed from the LP's convex weights (clipped
    and normalised) in the original coordinates, so that a reported meeting is certified
    by explicit points of every hull, whatever the solver's tolerances.
    """
    k = len(P_list)
    n = P_list[0].shape[1]
    scale = max(max(float(np.abs(P - center).max()) for P in P_list), np.finfo(float).tiny)
    ms = [P.shape[0] for P in P_list]
    nl = sum(ms)
    nv = nl + n + 1
    rows = []
    A_eq = np.zeros((k, nv))
    off = 0
    tcol = np.zeros((n, nv))
    tcol[:, -1] = 1.0
    for j, P in enumerate(P_list):
        block = np.zeros((n, nv))
        block[:, off: off + ms[j]] = ((P - center) / scale).T
        block[:, nl: nl + n] = -np.eye(n)
        rows.append(block - tcol)   # P^T lam - y - t <= 0
        rows.append(-block - tcol)  # -(P^T lam - y) - t <= 0
        A_eq[j, off: off + ms[j]] = 1.0
        off += ms[j]
    c = np.zeros(nv)
    c[-1] = 1.0
    lb = np.r_[np.zeros(nl), np.full(n, -np.inf), 0.0]
    res = solve_lp(c, np.vstack(rows), np.zeros(2 * n * k), A_eq, np.ones(k), lb=lb, options=_LP_OPTIONS)
    pts = []
    off = 0
    for j, P in enumerate(P_list):
        lam = np.maximum(res.x[off: off + ms[j]], 0.0)
        lam = lam / lam.sum() if lam.sum() > 0 else np.full(ms[j], 1.0 / ms[j])
        pts.append(lam @ P)
        off += ms[j]
    pts = np.array(pts)
    hi, lo = pts.max(0), pts.min(0)
    return float(np.max(hi - lo) / 2), (hi + lo) / 2


def _check_budget_arg(m, func, name="max_candidates"):
    if m is None:
        return None
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"The '{name}' parameter of {func} must be a positive int or None; got {m!r}.")
    return int(m)


def _check_budget(n, max_candidates, layer, what):
    if max_candidates is not None and n > max_candidates:
        raise PolyrankError(
            f"image_homology at layer {layer}: {n} candidate {what} to decide, more than "
            f"max_candidates={max_candidates}. The image is very degenerate there (many pieces "
            f"meet); raise max_candidates to run the exact computation anyway, or use "
            f"pr.image_betti for a sampled (Rips) estimate.")


class _Decider:
    """Runs the LP decisions and keeps their counts."""

    def __init__(self, Y, cells, abs_tol, max_lps=None, layer=None):
        self.Y, self.cells, self.abs_tol = Y, cells, abs_tol
        self.max_lps, self.layer = max_lps, layer
        self.n_lp = 0
        self.near = 0

    def _count(self):
        if self.max_lps is not None and self.n_lp >= self.max_lps:
            raise PolyrankError(f"image_homology at layer {self.layer}: the image needs more than "
                                f"max_lps={self.max_lps} intersection LPs (it folds the mesh onto "
                                f"itself many times); pass max_lps=None to lift the limit, or use a "
                                f"coarser mesh.")
        self.n_lp += 1

    def meet(self, ids):
        Ps = [self.Y[self.cells.vertices(i)] for i in ids]
        center = np.mean([P.mean(0) for P in Ps], axis=0)
        self._count()
        try:
            t, y = _meet_lp(Ps, center)
        except (InfeasibleError, LPError) as exc:  # pragma: no cover - the LP is always feasible
            raise PolyrankError(f"image_homology: the intersection LP of cells {tuple(ids)} failed "
                                f"({exc}).") from exc
        if self.abs_tol / NEAR_FACTOR < t <= self.abs_tol * NEAR_FACTOR:
            self.near += 1
        return t <= self.abs_tol, y

    def meet_point(self, i, p):
        """Is the point p in the image of cell i (at the tolerance)?"""
        P = self.Y[self.cells.vertices(i)]
        self._count()
        t, y = _meet_lp([P, p[None, :]], p)
        if self.abs_tol / NEAR_FACTOR < t <= self.abs_tol * NEAR_FACTOR:
            self.near += 1
        return t <= self.abs_tol, y


# ---------------------------------------------------------------------------- geometric decisions
class _Geometry:
    """LP-free intersection decisions for cells of curves and surfaces (images of dimension
    <= 2: fans of at most two-dimensional simplices), vectorised over batches.

    ``polyrank._convex.closest_points`` finds explicit points ``x`` in one image and
    ``y`` in the other (convex combinations of the vertices' images) at their Euclidean
    distance. Two certificates follow, neither of which trusts that search:

    * *meet*: ``|x - y|_inf / 2 <= abs_tol / NEAR_FACTOR`` (the LP's own value for these
      points; the LP's optimum is at most this, so it decides "meet" and not near);
    * *apart*: the functional ``phi = y - x`` separates all vertices of the two images by
      ``gap``, and ``gap / |phi|_1 > 2 NEAR_FACTOR abs_tol`` bounds their L-infinity
      distance from below (the LP would decide "apart" and not near).

    Everything else (the tolerance band, cells of solids, search failures) is left to the
    LP: the decisions, and the near-tolerance count, are those the LP makes.
    """

    def __init__(self, Y, cells, abs_tol):
        self.Y, self.cells, self.abs_tol = Y, cells, abs_tol
        self.enabled = FAST_PATHS and cells.tris.shape[1] <= 3
        order = np.argsort(cells.tri_cell, kind="stable")
        self.tris = cells.tris[order]
        self.tptr = np.searchsorted(cells.tri_cell[order], np.arange(cells.n + 1))
        self.sizes = np.diff(cells.ptr)
        self.n_decided = 0

    def _support(self, c, phi):
        """max over the vertices of cell c of phi . Y (vectorised over pairs)."""
        cells, sizes = self.cells, self.sizes
        out = np.full(len(c), -np.inf)
        for k in range(int(sizes[c].max()) if len(c) else 0):
            has = sizes[c] > k
            v = cells.verts[np.minimum(cells.ptr[c] + k, len(cells.verts) - 1)]
            out = np.where(has, np.maximum(out, np.einsum("pn,pn->p", self.Y[v], phi)), out)
        return out

    def decide(self, a, b=None, points=None, chunk=1 << 14):
        """Status of cell pairs (a, b), or of (cell a, point) pairs: 1 meet, 0 apart,
        -1 undecided (to the LP); and a meeting point for status 1."""
        a = np.asarray(a, dtype=np.int64)
        b = None if b is None else np.asarray(b, dtype=np.int64)
        N = len(a)
        n = self.Y.shape[1]
        status = np.full(N, -1, dtype=np.int8)
        wit = np.zeros((N, n))
        if not self.enabled or N == 0:
            return status, wit
        na = np.diff(self.tptr)[a]
        nb = np.diff(self.tptr)[b] if points is None else np.ones(N, dtype=np.int64)
        cnt = na * nb
        ends = np.cumsum(cnt)
        start = 0
        while start < N:  # chunks of pairs with about `chunk` simplex pairs each
            stop = max(start + 1, int(np.searchsorted(ends, (ends[start - 1] if start else 0) + chunk)))
            stop = min(stop, N)
            idx = np.arange(start, stop)
            self._decide_chunk(idx, a, b, points, na, nb, cnt, status, wit)
            start = stop
        self.n_decided += int((status >= 0).sum())
        return status, wit

    def _decide_chunk(self, idx, a, b, points, na, nb, cnt, status, wit):
        Y, tol = self.Y, self.abs_tol
        c = cnt[idx]
        ok = c > 0
        idx, c = idx[ok], c[ok]
        if not len(idx):
            return
        rep = np.repeat(np.arange(len(idx)), c)
        k = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
        nbr = nb[idx][rep]
        ta = self.tris[self.tptr[a[idx]][rep] + k // nbr]
        A = Y[ta]
        if points is None:
            B = Y[self.tris[self.tptr[b[idx]][rep] + k % nbr]]
        else:
            B = points[idx][rep][:, None, :]
        wa, wb = closest_points(A, B)
        x = np.einsum("Nk,Nkn->Nn", wa, A)
        y = np.einsum("Nk,Nkn->Nn", wb, B)
        d = np.sum((x - y) ** 2, axis=1)
        order = np.lexsort((d, rep))
        first = order[np.flatnonzero(np.r_[True, rep[order][1:] != rep[order][:-1]])]
        x, y = x[first], y[first]
        meet = np.abs(x - y).max(1) / 2 <= tol / NEAR_FACTOR
        phi = y - x
        hi_a = self._support(a[idx], phi)
        lo_b = -self._support(b[idx], -phi) if points is None else np.einsum("pn,pn->p", points[idx], phi)
        norm1 = np.abs(phi).sum(1)
        apart = ~meet & (lo_b - hi_a > 2 * NEAR_FACTOR * tol * norm1) & (norm1 > 0)
        status[idx[meet]] = 1
        status[idx[apart]] = 0
        wit[idx[meet]] = (x[meet] + y[meet]) / 2


# ---------------------------------------------------------------------------- certificates
def _orth(F):
    """Orthonormal bases (k, n, q) of the column spaces of F (k, n, q), full column rank."""
    return np.linalg.qr(F)[0]


def _adjacent_pairs(cells, n_vertices):
    """Pairs of cells sharing mesh vertices: (i, j, shared count, first two shared vertices)."""
    order = np.lexsort((cells.vcell, cells.vvert))
    v, c = cells.vvert[order], cells.vcell[order]
    out_i, out_j, out_v = [], [], []
    for o in range(1, len(v)):
        same = v[o:] == v[:-o]
        if not same.any():
            break
        idx = np.flatnonzero(same)
        out_i.append(c[idx])
        out_j.append(c[idx + o])
        out_v.append(v[idx])
    if not out_i:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z, z
    i, j, vv = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_v)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * cells.n + hi
    order = np.lexsort((vv, key))
    key, vv = key[order], vv[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    count = np.diff(np.r_[start, len(key)])
    v0 = vv[start]
    v1 = np.where(count > 1, vv[np.minimum(start + 1, len(vv) - 1)], v0)
    uk = key[start]
    return uk // cells.n, uk % cells.n, count, v0, v1


def _clean_adjacent(i, j, count, v0, v1, Q, injective, Y, cells, q, V):
    """Certify ``f(i) & f(j) = f(i & j)`` for cells sharing mesh vertices (vectorised).

    Certificates (each needs both cells injective):
    * the affine hulls of the images meet in a space of the shared face's dimension
      (a singular value of ``[Q_i | Q_j]`` above CERT_MARGIN);
    * coplanar neighbours across a shared facet lie on opposite sides of it;
    * cells sharing one vertex have tangent cones separated by a linear functional.
    """
    ok = np.zeros(len(i), dtype=bool)
    both = injective[i] & injective[j]
    if not both.any() or q == 0:
        return ok
    # dimension of the shared face (in the input): count 1 -> 0; else the rank of the
    # shared vertices, which is 1 for q <= 2; for solids compute it
    dimF = np.where(count > 1, 1, 0)
    if q == 3:
        multi = np.flatnonzero(count > 2)
        for p in multi:  # few: cells sharing a 2-face
            sh = np.intersect1d(cells.vertices(i[p]), cells.vertices(j[p]))
            dimF[p] = np.linalg.matrix_rank(V[sh[1:]] - V[sh[0]], tol=1e-12 * max(1.0, np.abs(V[sh]).max()))
    M = np.concatenate([Q[i], Q[j]], axis=2)  # (p, n, 2q)
    n = M.shape[1]
    need = 2 * q - dimF  # rank of [Q_i | Q_j] when the hulls meet in the face's span
    if not M.shape[0]:
        sv = np.zeros((0, 2 * q))
    else:
        sv = _joint_singular_values(M, q) if FAST_PATHS else np.linalg.svd(M, compute_uv=False)
    width = sv.shape[1]
    idx = np.clip(need - 1, 0, width - 1)
    full = (need <= min(n, 2 * q)) & (np.take_along_axis(sv, idx[:, None], 1)[:, 0] > CERT_MARGIN)
    ok |= both & full
    # coplanar neighbours across a facet: opposite sides of the facet's image
    todo = np.flatnonzero(both & ~ok & (dimF == q - 1))
    if todo.size:
        sv_q = sv[todo, q] if width > q else np.zeros(todo.size)
        cop = todo[sv_q <= CERT_MARGIN]
        if q <= 2 and FAST_PATHS:
            ok[cop] = _opposite_sides_batch(cells, Y, i[cop], j[cop], v0[cop], v1[cop])
        else:
            for p in cop:
                if _opposite_sides(cells, Y, i[p], j[p], Q[i[p]]):
                    ok[p] = True
    # one shared vertex: a separating functional of the tangent cones at f(v)
    todo = np.flatnonzero(both & ~ok & (dimF == 0))
    if todo.size:
        ok[todo] = _separated_cones(cells, Y, i[todo], j[todo], v0[todo])
    if q == 3:  # solids: cones along any shared face (edges in particular), modulo its span
        for p in np.flatnonzero(both & ~ok).tolist():
            ok[p] = _separated_face_cones(cells, Y, i[p], j[p])
    return ok


def _separated_face_cones(cells, Y, a, b):
    """Images of cells a, b (f injective on both) meet only in the image of their shared
    face F: some functional vanishing on the span of f(F) is positive on every vertex of a
    off F and negative on every vertex of b off F (then each image meets the hyperplane it
    defines only in f(F)). Tries the nearest point to 0 of the hull of the generators (a's,
    and b's negated), then functionals from the mean directions; each is checked exactly."""
    va, vb = cells.vertices(a), cells.vertices(b)
    sh = np.intersect1d(va, vb)
    if not len(sh):
        return False
    base = Y[sh].mean(0)
    E = (Y[sh] - base).T
    if len(sh) > 1:
        U, s, _ = np.linalg.svd(E, full_matrices=False)
        E = U[:, s > CERT_MARGIN * max(s[0], np.finfo(float).tiny)]
    else:
        E = E[:, :0]
    tiny = np.finfo(float).tiny

    def gens(vs):
        G = Y[np.setdiff1d(vs, sh)] - base
        G = G - (G @ E) @ E.T
        nrm = np.linalg.norm(G, axis=1)
        return G / np.maximum(nrm, tiny)[:, None], nrm > 0

    Ga, oka = gens(va)
    Gb, okb = gens(vb)
    if not (oka.all() and okb.all() and len(Ga) and len(Gb)):
        return False
    from scipy.optimize import nnls

    # the point of conv(Ga, -Gb) nearest to 0 (NNLS with a heavy row for sum(lam) = 1) is
    # such a functional whenever the cones are strictly separated; it is checked below
    H = np.concatenate([Ga, -Gb])
    lam = nnls(np.vstack([H.T, np.full((1, len(H)), 1e3)]), np.r_[np.zeros(H.shape[1]), 1e3])[0]
    ma, mb = Ga.mean(0), Gb.mean(0)
    for phi in (lam @ H, ma - mb, ma, -mb):
        nrm = np.linalg.norm(phi)
        if nrm <= CERT_MARGIN:
            continue
        phi = phi / nrm
        if (Ga @ phi).min() > CERT_MARGIN and (Gb @ phi).max() < -CERT_MARGIN:
            return True
    return False


def _opposite_sides(cells, Y, a, b, Qa):
    """Coplanar images of cells a, b sharing a facet: on opposite sides of it?"""
    sh = np.intersect1d(cells.vertices(a), cells.vertices(b))
    base = Y[sh[0]]
    E = (Y[sh[1:]] - base).T if len(sh) > 1 else np.zeros((Y.shape[1], 0))
    if E.shape[1]:
        U, s, _ = np.linalg.svd(E, full_matrices=False)
        E = U[:, s > CERT_MARGIN * max(s[0], np.finfo(float).tiny)]
    ca = Y[cells.vertices(a)].mean(0) - base
    cb = Y[cells.vertices(b)].mean(0) - base
    if E.shape[1]:
        ca = ca - E @ (E.T @ ca)
        cb = cb - E @ (E.T @ cb)
    na, nb = np.linalg.norm(ca), np.linalg.norm(cb)
    if na == 0 or nb == 0:
        return False
    ca, cb = ca / na, cb / nb
    # every vertex of a off the facet strictly on a's side, of b on b's side
    da = (Y[cells.vertices(a)] - base)
    db = (Y[cells.vertices(b)] - base)
    if E.shape[1]:
        da = da - (da @ E) @ E.T
        db = db - (db @ E) @ E.T
    scale = max(np.abs(da).max(), np.abs(db).max(), np.finfo(float).tiny)
    return bool(np.dot(ca, cb) < -1 + CERT_MARGIN
                and (da @ ca).min() > -CERT_MARGIN * scale and (db @ ca).max() < CERT_MARGIN * scale)


def _joint_singular_values(M, q):
    """Singular values (descending) of ``M = [Q_i | Q_j]`` (p, n, 2q) with orthonormal
    blocks. For q <= 2 in closed form from the principal angles: ``sqrt(1 + cos)`` and
    ``sqrt(1 - cos) = sin / sqrt(1 + cos)``, with the sines from the residual
    ``Q_j - Q_i Q_i^T Q_j`` (no cancellation). Values within a factor 4 of CERT_MARGIN are
    recomputed by SVD, so that the certificates decide as the SVD does."""
    n = M.shape[1]
    if q > 2:
        return np.linalg.svd(M, compute_uv=False)
    def dot(u, v):
        return np.einsum("pn,pn->p", u, v)

    # residuals of Q_j's columns after projecting out span(Q_i) (column by column: fast for tiny q)
    P = []
    for l in range(q):
        v = M[:, :, q + l]
        r = v.copy()
        for k in range(q):
            u = M[:, :, k]
            r -= dot(u, v)[:, None] * u
        P.append(r)
    if q == 1:
        lam = dot(P[0], P[0])[:, None]
    else:
        a, b, c = dot(P[0], P[0]), dot(P[0], P[1]), dot(P[1], P[1])
        lmax = (a + c) / 2 + np.sqrt(((a - c) / 2) ** 2 + b * b)
        lmin = np.maximum(a * c - b * b, 0.0) / np.maximum(lmax, np.finfo(float).tiny)
        lam = np.stack([lmin, lmax], 1)  # sin^2 of the principal angles, ascending
    lam = np.clip(lam, 0.0, 1.0)
    cos = np.sqrt(1.0 - lam)
    sv = np.concatenate([np.sqrt(1.0 + cos), np.sqrt(lam / (1.0 + cos))[:, ::-1]], 1)[:, :min(n, 2 * q)]
    near = ((sv > CERT_MARGIN / 4) & (sv < 4 * CERT_MARGIN)).any(1)
    if near.any():
        sv[near] = np.linalg.svd(M[near], compute_uv=False)
    return sv


def _opposite_sides_batch(cells, Y, a, b, v0, v1):
    """``_opposite_sides`` for curves and surfaces (the shared facet is the vertex v0,
    or the segment from v0 to v1), vectorised over pairs."""
    base = Y[v0]
    e = Y[v1] - base
    en = np.linalg.norm(e, axis=1)
    e = np.where(en[:, None] > 0, e / np.maximum(en, np.finfo(float).tiny)[:, None], 0.0)
    sizes = np.diff(cells.ptr)
    cen = np.add.reduceat(Y[cells.verts], cells.ptr[:-1], axis=0) / sizes[:, None]

    def proj(d):
        return d - np.einsum("pn,pn->p", d, e)[:, None] * e

    ca, cb = proj(cen[a] - base), proj(cen[b] - base)
    na, nb = np.linalg.norm(ca, axis=1), np.linalg.norm(cb, axis=1)
    good = (na > 0) & (nb > 0)
    ca = ca / np.maximum(na, np.finfo(float).tiny)[:, None]
    cb = cb / np.maximum(nb, np.finfo(float).tiny)[:, None]
    min_a = np.full(len(a), np.inf)
    max_b = np.full(len(a), -np.inf)
    scale = np.full(len(a), np.finfo(float).tiny)
    for k in range(int(max(sizes[a].max(), sizes[b].max())) if len(a) else 0):
        for c, is_a in ((a, True), (b, False)):
            has = sizes[c] > k
            d = proj(Y[cells.verts[np.minimum(cells.ptr[c] + k, len(cells.verts) - 1)]] - base)
            scale = np.where(has, np.maximum(scale, np.abs(d).max(1)), scale)
            val = np.einsum("pn,pn->p", d, ca)
            if is_a:
                min_a = np.where(has, np.minimum(min_a, val), min_a)
            else:
                max_b = np.where(has, np.maximum(max_b, val), max_b)
    return good & (np.einsum("pn,pn->p", ca, cb) < -1 + CERT_MARGIN) & (min_a > -CERT_MARGIN * scale) \
        & (max_b < CERT_MARGIN * scale)


def _separated_cones(cells, Y, a, b, v):
    """Tangent cones of cells a, b at the shared vertex v meet only at 0 (vectorised)."""
    sizes = np.diff(cells.ptr)
    mmax = int(max(sizes[a].max(), sizes[b].max()))
    n = Y.shape[1]

    def gens(c):
        pad = np.zeros((len(c), mmax, n))
        valid = np.zeros((len(c), mmax), dtype=bool)
        for k in range(mmax):
            has = sizes[c] > k
            vid = cells.verts[np.minimum(cells.ptr[c] + k, len(cells.verts) - 1)]
            d = Y[vid] - Y[v]
            nrm = np.linalg.norm(d, axis=1)
            good = has & (vid != v) & (nrm > 0)
            pad[good, k] = d[good] / nrm[good, None]
            valid[:, k] = good
        return pad, valid

    Ga, va = gens(a)
    Gb, vb = gens(b)
    ga = Ga.sum(1)
    gb = Gb.sum(1)
    ga /= np.maximum(np.linalg.norm(ga, axis=1), np.finfo(float).tiny)[:, None]
    gb /= np.maximum(np.linalg.norm(gb, axis=1), np.finfo(float).tiny)[:, None]
    phi = ga - gb
    pa = np.einsum("pmn,pn->pm", Ga, phi)
    pb = np.einsum("pmn,pn->pm", Gb, phi)
    min_a = np.where(va, pa, np.inf).min(1)
    max_b = np.where(vb, pb, -np.inf).max(1)
    return (min_a > CERT_MARGIN) & (max_b < -CERT_MARGIN) & va.any(1) & vb.any(1)


def _directions(n):
    """Sweep directions: the coordinate axes and a few fixed oblique ones (deterministic),
    which separate images that share coordinates (inactive units give many zeros)."""
    rng = np.random.default_rng(_SWEEP_SEED)
    U = rng.normal(size=(_N_OBLIQUE, n))
    return np.vstack([np.eye(n), U / np.abs(U).sum(1, keepdims=True)])


def _sweep_pairs(plo, phi, margin):
    """Pairs (i < j) whose intervals [plo, phi] overlap with ``margin``, in chunks."""
    n = len(plo)
    z = np.zeros(0, dtype=np.int64)
    order = np.argsort(plo, kind="stable")
    slo = plo[order]
    cnt = np.maximum(np.searchsorted(slo, phi[order] + margin, side="right") - np.arange(n) - 1, 0)
    cum = np.cumsum(cnt)
    start = 0
    while start < n:
        done = cum[start - 1] if start else 0
        stop = min(n, max(start + 1, int(np.searchsorted(cum, done + _PAIR_CHUNK, side="right"))))
        rows = np.arange(start, stop)
        c = cnt[rows]
        ii = np.repeat(rows, c)
        jj = ii + 1 + (np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c))
        yield order[ii], order[jj]
        start = stop
    yield z, z


def _candidate_pairs(P, ptr, margin, lo=None, hi=None):
    """Pairs (i < j) of point sets ``P[ptr[i]:ptr[i+1]]`` whose convex hulls may be within
    L-infinity distance ``margin``: their projections overlap on every sweep direction.

    The sweep runs along the direction with the fewest overlapping projections.
    """
    n = len(ptr) - 1
    z = np.zeros(0, dtype=np.int64)
    if n < 2:
        return z, z
    D = _directions(P.shape[1])
    proj = P @ D.T  # (points, directions)
    plo = np.minimum.reduceat(proj, ptr[:-1], axis=0)
    phi = np.maximum.reduceat(proj, ptr[:-1], axis=0)
    marg = margin * np.abs(D).sum(1)  # |u . (x - y)| <= |u|_1 |x - y|_inf
    totals = []
    for k in range(D.shape[0]):
        o = np.sort(plo[:, k])
        totals.append(int(np.maximum(np.searchsorted(o, phi[:, k] + marg[k], side="right")
                                     - np.searchsorted(o, plo[:, k], side="left") - 1, 0).sum()))
    rank = np.argsort(totals, kind="stable")
    best = rank[0]
    out_i, out_j = [z], [z]
    for a, b in _sweep_pairs(plo[:, best], phi[:, best], marg[best]):
        for k in rank[1:]:  # most selective directions first: the pair list shrinks fast
            keep = (plo[a, k] <= phi[b, k] + marg[k]) & (plo[b, k] <= phi[a, k] + marg[k])
            a, b = a[keep], b[keep]
        out_i.append(np.minimum(a, b))
        out_j.append(np.maximum(a, b))
    return np.concatenate(out_i), np.concatenate(out_j)


def _separated_pairs(cells, Y, i, j, abs_tol):
    """Pairs whose images a centroid-direction functional separates by more than abs_tol."""
    out = np.zeros(len(i), dtype=bool)
    if not len(i):
        return out
    sizes = np.diff(cells.ptr)
    cen = np.add.reduceat(Y[cells.verts], cells.ptr[:-1], axis=0) / sizes[:, None]
    phi = cen[j] - cen[i]
    norm1 = np.abs(phi).sum(1)
    # max over cell i of phi . y and min over cell j of phi . y, by padded gathers
    mmax = int(sizes.max())
    max_i = np.full(len(i), -np.inf)
    min_j = np.full(len(i), np.inf)
    for k in range(mmax):
        hi_ = sizes[i] > k
        if hi_.any():
            vi = cells.verts[np.minimum(cells.ptr[i] + k, len(cells.verts) - 1)]
            val = np.einsum("pn,pn->p", Y[vi], phi)
            max_i = np.where(hi_, np.maximum(max_i, val), max_i)
        hj = sizes[j] > k
        if hj.any():
            vj = cells.verts[np.minimum(cells.ptr[j] + k, len(cells.verts) - 1)]
            val = np.einsum("pn,pn->p", Y[vj], phi)
            min_j = np.where(hj, np.minimum(min_j, val), min_j)
    gap = (min_j - max_i) / np.maximum(norm1, np.finfo(float).tiny)
    return gap > abs_tol


# ---------------------------------------------------------------------------- union-find
def _merge_points(Y, abs_tol, S=None):
    """Component id of every point, joining points whose images meet: half their
    L-infinity distance (the value :func:`_meet_lp` gives two points) at most ``abs_tol``
    (exact duplicates first, then a sweep over the distinct points). Also returns the
    number of *near* pairs, whose half distance lies within ``NEAR_FACTOR`` of ``abs_tol``
    (whether they merge depends on ``tol``), leaving out the pairs that span an edge of a
    simplex of ``S`` (ids into ``Y``; a short mesh edge collapsed to a point changes no
    homology) and those joined anyway, by merges far below ``abs_tol`` and such edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = Y.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0, 0
    U, inv = np.unique(Y, axis=0, return_inverse=True)
    inv = inv.ravel()
    i, j = _candidate_pairs(U, np.arange(len(U) + 1), 2 * abs_tol * NEAR_FACTOR)
    half = np.abs(U[i] - U[j]).max(1) / 2 if len(i) else np.zeros(0)
    near = (half > abs_tol / NEAR_FACTOR) & (half <= abs_tol * NEAR_FACTOR)
    n_near = 0
    if near.any():
        on_edge = np.zeros(len(i), dtype=bool)
        if S is not None and S.shape[1] > 1:
            a, b = zip(*combinations(range(S.shape[1]), 2))
            ea, eb = inv[S[:, list(a)].ravel()], inv[S[:, list(b)].ravel()]
            on_edge = np.isin(i * len(U) + j, np.minimum(ea, eb) * len(U) + np.maximum(ea, eb))
        # a near pair is moot when its points are joined anyway: by clear merges and by
        # near pairs along mesh edges
        join = (half <= abs_tol / NEAR_FACTOR) | (near & on_edge)
        g0 = coo_matrix((np.ones(int(join.sum())), (i[join], j[join])), shape=(len(U), len(U)))
        lab0 = connected_components(g0, directed=False)[1]
        q = near & ~on_edge
        n_near = int((lab0[i[q]] != lab0[j[q]]).sum())
    keep = half <= abs_tol
    i, j = i[keep], j[keep]
    if not len(i):
        return inv.astype(np.int64), U.shape[0], n_near
    g = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(U), len(U)))
    k, lab = connected_components(g, directed=False)
    return lab[inv].astype(np.int64), int(k), n_near


# ---------------------------------------------------------------------------- homology
def _betti_of(simplex_groups, q, field):
    """Betti numbers b_0..b_q of the complex spanned by arrays of simplices (rows)."""
    import gudhi

    st = gudhi.SimplexTree()
    for arr in simplex_groups:
        if len(arr):
            st.insert_batch(np.ascontiguousarray(np.asarray(arr, dtype=np.int32).T),
                            np.zeros(len(arr)))
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)
    b = st.betti_numbers()
    out = [int(b[k]) if k < len(b) else 0 for k in range(q + 1)]
    return tuple(out), st.num_simplices()


def _prune_witnesses(wsets, cells_ids, n_vertex_w, prunable=None):
    """Remove, from the cells' witness sets, every LP witness (id >= n_vertex_w) whose set of
    holding cells is contained in another witness's (ties: the smaller id stays). With
    ``prunable`` (bool over the vertex witnesses), those vertex witnesses may go too."""
    holders = {}
    for c in cells_ids.tolist():
        for w in wsets[c]:
            holders.setdefault(w, set()).add(c)
    drop = []
    for w, H in holders.items():
        if w < n_vertex_w and (prunable is None or not prunable[w]):
            continue
        some = next(iter(H))
        for w2 in wsets[some]:
            if w2 == w:
                continue
            H2 = holders[w2]
            if H <= H2 and (len(H2) > len(H) or w2 < w):
                drop.append(w)
                break
    for w in drop:
        for c in holders[w]:
            wsets[c].discard(w)
    return len(drop)


def _clean_hub(cand, clean_pair, injective, wsets):
    """Do the images of the cells in ``cand`` certainly not meet, without an LP?

    True when some cell ``x`` of ``cand`` is injective with two certified-clean neighbours
    ``y, z`` in ``cand`` and the three share no witness (so ``x & y & z`` is empty in the
    mesh): then ``f(x) & f(y) & f(z) = f(x & y) & f(x & z) = f(x & y & z)`` is empty
    (``f`` is injective on ``x``)."""
    for x in cand:
        if not injective[x]:
            continue
        cp = clean_pair.get(x)
        if not cp:
            continue
        ys = [y for y in cand if y in cp]
        for y, z in combinations(ys, 2):
            # (the caller found no witness common to all of cand: for a triple, none to x, y, z)
            if len(cand) == 3 or not (wsets[x] & wsets[y] & wsets[z]):
                return True
    return False


def _subsets(W, size):
    """All subsets of ``size`` elements of a sorted id array, as rows (or W itself)."""
    if len(W) <= size:
        return [tuple(W)]
    return list(combinations(W.tolist(), size))


def _layer_homology(net, ref, l, *, K, field, tol, q, max_candidates=None, max_lps=None):
    """ImageHomology of ``f_l`` from a refinement through layers >= l."""
    t0 = time.perf_counter()
    V = ref.complex.vertices
    S = ref.complex.simplices
    offsets = np.cumsum([0] + list(net.widths))
    cells = _Cells(ref, int(offsets[l]), K)
    Y = net.forward(V, layer=l)
    # only the vertices the simplices use are in |K| (a caller's refinement may hold others)
    used = np.unique(S) if S.size else np.arange(len(Y))
    Yu = Y[used]
    size = float(np.max(Yu.max(0) - Yu.min(0))) if Yu.size else 0.0
    abs_tol = tol * max(size, np.finfo(float).tiny)
    stats = {"n_refined": int(len(S)), "n_cells": cells.n}

    # --- rank source: cells on which f_l is not injective
    tr = np.zeros(cells.n, dtype=np.int64)
    np.maximum.at(tr, cells.of_simplex, ref.tangent_ranks[:, l - 1] if q else np.zeros(len(S), np.int64))
    injective = tr >= q
    rank_pieces = np.flatnonzero(~injective)

    # --- witnesses: mesh vertices merged by image
    wid_u, n_w, near_points = _merge_points(Yu, abs_tol, np.searchsorted(used, S) if S.size else None)
    wid = np.full(len(Y), -1, dtype=np.int64)  # unused vertices: in no cell, no witness
    wid[used] = wid_u
    cw = wid[cells.verts]
    # point cells: every vertex in one witness class, so the image is that point
    point = np.minimum.reduceat(cw, cells.ptr[:-1]) == np.maximum.reduceat(cw, cells.ptr[:-1])

    # --- tangent bases of the images
    n = Y.shape[1]
    if q and n >= q:
        best = _largest_simplex(V, cells.tris, cells.tri_cell, cells.n)
        Sb = cells.tris[best]
        F = np.swapaxes(Y[Sb[:, 1:]] - Y[Sb[:, :1]], 1, 2)  # (cells, n, q)
        Q = _orth(F)
    else:
        Q = np.zeros((cells.n, n, max(q, 0)))
        injective &= n >= q

    dirty = ~injective
    t1 = time.perf_counter()

    # --- adjacent pairs (share mesh vertices): certificates
    ai, aj, cnt, v0, v1 = _adjacent_pairs(cells, len(V))
    clean = _clean_adjacent(ai, aj, cnt, v0, v1, Q, injective, Y, cells, q, V)
    # a point cell meets a neighbour exactly at the image of their shared vertex
    clean |= point[ai] | point[aj]
    dirty[ai[~clean]] = True
    dirty[aj[~clean]] = True
    stats["adjacent_pairs"] = int(len(ai))
    stats["adjacent_uncertified"] = int((~clean).sum())
    t2 = time.perf_counter()

    # --- cell bounding boxes
    lo = np.minimum.reduceat(Y[cells.verts], cells.ptr[:-1], axis=0)
    hi = np.maximum.reduceat(Y[cells.verts], cells.ptr[:-1], axis=0)

    # --- non-adjacent pairs with overlapping boxes: separation, shared witness, LP
    # (point cells take no part: their point is checked against the cells below)
    bi, bj = _candidate_pairs(Y[cells.verts], cells.ptr, NEAR_FACTOR * abs_tol)
    nonadj = ~np.isin(bi * cells.n + bj, ai * cells.n + aj) & ~point[bi] & ~point[bj]
    bi, bj = bi[nonadj], bj[nonadj]
    stats["box_pairs"] = int(len(bi))
    sep = _separated_pairs(cells, Y, bi, bj, NEAR_FACTOR * abs_tol)
    bi, bj = bi[~sep], bj[~sep]
    _check_budget(len(bi), max_candidates, l, "pairs of cells")
    cw_list, ptr_list = cw.tolist(), cells.ptr.tolist()
    wsets = [set(cw_list[ptr_list[c]: ptr_list[c + 1]]) for c in range(cells.n)]
    region_of = np.unique(cells.pattern, axis=0, return_inverse=True)[1].ravel() if cells.pattern.shape[1] \
        else np.zeros(cells.n, dtype=np.int64)
    decider = _Decider(Y, cells, abs_tol, max_lps, l)
    decider.near += near_points  # vertex images merged (or not) within NEAR_FACTOR of tol
    geo = _Geometry(Y, cells, abs_tol)
    overlaps = []
    extra = []  # (witness point, cells)
    meet_pairs = []
    shared = np.array([bool(wsets[a] & wsets[b]) for a, b in zip(bi.tolist(), bj.tolist())], dtype=bool)
    g_status = np.full(len(bi), -1, dtype=np.int8)
    g_wit = np.zeros((len(bi), Y.shape[1]))
    todo = np.flatnonzero(~shared)
    g_status[todo], g_wit[todo] = geo.decide(bi[todo], bj[todo])
    for p, (a, b) in enumerate(zip(bi.tolist(), bj.tolist())):
        if shared[p]:
            hit, y = True, None
        elif g_status[p] >= 0:
            hit, y = bool(g_status[p]), g_wit[p]
        else:
            hit, y = decider.meet((a, b))
        if hit:
            if region_of[a] != region_of[b]:
                overlaps.append((a, b))
            meet_pairs.append((a, b))
            dirty[a] = dirty[b] = True
            if y is not None:
                extra.append((y, (a, b)))
    # --- the points of point cells inside other cells (not at one of their vertices)
    pw = np.unique(cw[cells.ptr[:-1][point]])
    if len(pw) and (~point).any():
        rep = np.zeros(n_w, dtype=np.int64)  # a vertex of each witness class
        rep[wid_u] = used
        other = np.flatnonzero(~point)
        sets = np.concatenate([Y[cells.verts[cells.ptr[c]: cells.ptr[c + 1]]] for c in other] + [Y[rep[pw]]])
        ptr = np.r_[0, np.cumsum(np.r_[np.diff(cells.ptr)[other], np.ones(len(pw), dtype=np.int64)])]
        ci, pj = _candidate_pairs(sets, ptr, NEAR_FACTOR * abs_tol)
        mixed = (ci < len(other)) & (pj >= len(other))
        ci, pj = other[ci[mixed]], pw[pj[mixed] - len(other)]
        _check_budget(len(ci), max_candidates, l, "(point, cell) pairs")
        g_status, _ = geo.decide(ci, points=Y[rep[pj]])
        for p, (c, w) in enumerate(zip(ci.tolist(), pj.tolist())):
            if w in wsets[c]:
                continue
            hit = bool(g_status[p]) if g_status[p] >= 0 else decider.meet_point(c, Y[rep[w]])[0]
            if hit:
                wsets[c].add(w)
                dirty[c] = True
                overlaps.append((c, -1 - w))
    stats["pair_lps"] = decider.n_lp
    t3 = time.perf_counter()

    # --- witness ids of the LP points; each is given to every cell whose image holds it,
    # so that one point covers all the sets of cells that meet there
    next_w = n_w
    marg = NEAR_FACTOR * abs_tol

    def holders(y, ids):
        out = set(ids)
        inside = np.flatnonzero(np.all((lo <= y + marg) & (hi >= y - marg), axis=1) & dirty & ~point)
        inside = np.array([c for c in inside.tolist() if c not in out], dtype=np.int64)
        st, _ = geo.decide(inside, points=np.broadcast_to(y, (len(inside), len(y))))
        for c, g in zip(inside.tolist(), st.tolist()):
            if g == 1 or (g < 0 and decider.meet_point(c, y)[0]):
                out.add(c)
        return out

    def holders_batch(items):
        """holders() of many points at once: one batch of geometric decisions."""
        cand = []
        for e, (y, ids) in enumerate(items):
            inside = np.flatnonzero(np.all((lo <= y + marg) & (hi >= y - marg), axis=1) & dirty & ~point)
            cand.extend((e, c) for c in inside.tolist() if c not in ids)
        out = [set(ids) for _, ids in items]
        if not cand:
            return out
        E, C = np.array(cand, dtype=np.int64).T
        ys = np.array([y for y, _ in items])
        st, _ = geo.decide(C, points=ys[E])
        for e, c, g in zip(E.tolist(), C.tolist(), st.tolist()):
            if g == 1 or (g < 0 and decider.meet_point(c, ys[e])[0]):
                out[e].add(c)
        return out

    for H in (holders_batch(extra) if FAST_PATHS else [holders(y, ids) for y, ids in extra]):
        for c in H:
            wsets[c].add(next_w)
        next_w += 1

    # --- larger sets of dirty cells whose pairs all meet but share no witness
    dirty_ids = np.flatnonzero(dirty)
    nbr = {c: set() for c in np.flatnonzero(dirty & ~point).tolist()}
    dset = set(nbr)
    for a, b in zip(ai.tolist(), aj.tolist()):
        if a in dset and b in dset:
            nbr[a].add(b)
            nbr[b].add(a)
    for a, b in meet_pairs:
        nbr[a].add(b)
        nbr[b].add(a)
    clean_pair = {}  # clean-certified neighbours of each injective cell
    for a, b in zip(ai[clean].tolist(), aj[clean].tolist()):
        clean_pair.setdefault(a, set()).add(b)
        clean_pair.setdefault(b, set()).add(a)
    level = [(a, b) for a in nbr for b in nbr[a] if a < b]
    level_set = set(level)
    n_before = decider.n_lp
    n_sets = 0
    # FAST_PATHS: the common witnesses and common neighbours of each kept set, extended one
    # cell at a time (snapshots: a witness added later can only cost an extra decision)
    cw_of, nb_of = {}, {}
    for size_k in range(3, q + 3):
        nxt = []
        for sset in level:
            last = sset[-1]
            if FAST_PATHS:
                common = nb_of.get(sset)
                if common is None:
                    common = nbr[sset[0]] & nbr[sset[1]]
                W_s = cw_of.get(sset)
                if W_s is None:
                    W_s = wsets[sset[0]] & wsets[sset[1]]
            else:
                common = set.intersection(*(nbr[c] for c in sset))
            for c in common:
                if c <= last:
                    continue
                cand = sset + (c,)
                # every face of size_k - 1 must meet (it was kept at the previous level)
                if size_k > 3 and not all(f in level_set for f in combinations(cand, size_k - 1)):
                    continue
                if FAST_PATHS:
                    Wc = W_s & wsets[c]
                    if Wc:
                        nxt.append(cand)
                        cw_of[cand] = Wc
                        if size_k < q + 2:
                            nb_of[cand] = common & nbr[c]
                        continue
                    if _clean_hub(cand, clean_pair, injective, wsets):
                        continue
                elif set.intersection(*(wsets[x] for x in cand)):
                    nxt.append(cand)
                    continue
                n_sets += 1
                if max_candidates is not None and n_sets > max_candidates:
                    _check_budget(n_sets, max_candidates, l, "sets of cells")
                hit, y = decider.meet(cand)
                if hit:
                    if len(set(region_of[list(cand)].tolist())) > 1:
                        overlaps.append(cand)
                    for x in holders(y, cand):
                        wsets[x].add(next_w)
                    if FAST_PATHS:
                        cw_of[cand] = {next_w}
                        if size_k < q + 2:
                            nb_of[cand] = common & nbr[c]
                    next_w += 1
                    nxt.append(cand)
        level = nxt
        level_set = set(level)
    stats["set_lps"] = decider.n_lp - n_before
    t4 = time.perf_counter()

    # --- the complex Z: the mesh with vertices renamed, plus for every dirty cell with m
    # witnesses the full simplex on them ((q+1)-skeleton) or, when m > 2q + 2, a cone with a
    # new apex over its q-skeleton: contractible too, with C(m, q+1) top simplices instead of
    # C(m, q+2); its intersections with the other pieces are q-skeleta of simplices, which
    # changes no homology in degrees <= q (docs/image_homology.md)
    groups = [wid[cells.tris]]
    blowup = []
    # --- drop LP witnesses whose cells another witness already holds (any family of
    # certified sets that covers every meeting set of cells gives the same homology)
    prunable = None
    if q == 3:  # solids keep every vertex in their cells: Z is then the union of the full
        # simplices of the clean tetrahedra and of the dirty cells, homotopy equivalent to its
        # nerve, which a vertex witness held by no clean cell does not change when another
        # witness is held by all its cells; so those go, with the dirty cells' tetrahedra
        prunable = np.ones(n_w, dtype=bool)
        prunable[wid[cells.verts[~dirty[cells.vcell]]]] = False
        groups = [wid[cells.tris[~dirty[cells.tri_cell]]]]
    _prune_witnesses(wsets, dirty_ids, n_w, prunable)
    for k, c in enumerate(dirty_ids.tolist()):
        W = np.array(sorted(wsets[c]), dtype=np.int64)
        if len(W) <= 2 * q + 2 or not FAST_PATHS:  # the full simplex is the smaller one
            blowup.extend(_subsets(W, q + 2))
        else:
            blowup.extend((next_w + k,) + t for t in _subsets(W, q + 1))
    by_len = {}
    for s in blowup:
        by_len.setdefault(len(s), []).append(s)
    groups.extend(np.array(v, dtype=np.int64) for v in by_len.values())
    # renamed mesh simplices may repeat a vertex (merged images): keep their distinct vertices
    G0 = groups[0]
    Gs = np.sort(G0, axis=1)
    rep = (Gs[:, 1:] == Gs[:, :-1]).any(1) if Gs.shape[1] > 1 else np.zeros(len(Gs), bool)
    if rep.any():
        groups[0] = Gs[~rep]
        by = {}
        for row in Gs[rep].tolist():
            u = tuple(sorted(set(row)))
            by.setdefault(len(u), []).append(u)
        groups.extend(np.array(v, dtype=np.int64) for v in by.values())
    betti, n_simplices = _betti_of(groups, q, field)
    t5 = time.perf_counter()
    stats.update(n_lps=decider.n_lp, n_geometric=geo.n_decided, n_witnesses=int(next_w), n_complex_simplices=int(n_simplices),
                 time_cells=t1 - t0, time_certificates=t2 - t1, time_pairs=t3 - t2,
                 time_sets=t4 - t3, time_homology=t5 - t4, time_total=t5 - t0)
    if decider.near:
        warnings.warn(f"image_homology at layer {l}: {decider.near} intersection decision(s) within a "
                      f"factor {NEAR_FACTOR:g} of the tolerance {abs_tol:.3g}; the images nearly touch "
                      f"there, and the Betti numbers may change with tol.", ImageToleranceWarning,
                      stacklevel=3)
    return ImageHomology(betti=betti, layer=l, field=field, n_pieces=cells.n, rank_pieces=rank_pieces,
                         overlaps=overlaps, n_dirty=int(dirty.sum()), near_tolerance=decider.near,
                         tol=tol, abs_tol=abs_tol, stats=stats)


def _layer0(K, field):
    from .topology import betti

    t0 = time.perf_counter()
    b = tuple(int(x) for x in betti(K, field=field))
    return ImageHomology(betti=b, layer=0, field=field, n_pieces=len(K),
                         rank_pieces=np.zeros(0, dtype=np.int64), overlaps=[], n_dirty=0,
                         near_tolerance=0, tol=0.0, abs_tol=0.0,
                         stats={"time_total": time.perf_counter() - t0})


def layer_homology(net, ref, layer, K, *, field=11, tol=IMAGE_TOL, max_candidates=MAX_CANDIDATES,
                   max_lps=MAX_LPS):
    """:func:`image_homology` from a refinement the caller already holds.

    ``ref`` must be ``polyrank.refine(net, K, layer=layer)`` (any tolerance); ``net`` a
    ReLUNetwork. Arguments are not validated again (the caller validated them).
    """
    return _layer_homology(net, ref, layer, K=K, field=field, tol=tol, q=K.dim,
                           max_candidates=max_candidates, max_lps=max_lps)


# ---------------------------------------------------------------------------- public API
def image_homology(net, K, layer=None, *, field=11, tol=IMAGE_TOL,
                   max_candidates=MAX_CANDIDATES, max_lps=MAX_LPS) -> ImageHomology:
    """Exact Betti numbers of the representation ``f_layer(|K|)`` of a mesh.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        A mesh of dimension 0..3 (points, a curve, a surface, a solid) in
        ``R^input_dim``, each ``(dim-1)``-face in at most two simplices.
    layer : int, optional
        The hidden layer l (1..n_layers); default the last hidden layer.
    field : int, default 11
        Homology over Z/field (a prime).
    tol : float, default IMAGE_TOL
        Tolerance of the intersection decisions, relative to the image's size.
    max_candidates : int or None, default MAX_CANDIDATES
        Refuse (PolyrankError) when a layer has more candidate intersections to decide
        than this (each may cost one LP); None for no limit.
    max_lps : int or None, default MAX_LPS
        Refuse (PolyrankError) when a layer needs more intersection LPs than this;
        None for no limit.

    Returns
    -------
    ImageHomology
        ``.betti`` = ``(b_0, ..., b_dim)`` of ``f_layer(|K|)``, and the two sources of
        change: ``.rank_pieces`` (cells where ``f`` loses injectivity) and ``.overlaps``
        (cells sharing no mesh point whose images meet).

    Raises
    ------
    TypeError
        If ``K`` is not a SimplicialComplex.
    ValueError
        If ``K`` is empty, of dimension > 3, not a manifold (a face in more than two
        simplices), lives in another dimension than the network's input, or ``layer``,
        ``field`` or ``tol`` are invalid.

    Warns
    -----
    ImageToleranceWarning
        When some images nearly touch: an LP value within ``NEAR_FACTOR`` of the
        tolerance (also counted in ``.near_tolerance``).

    See Also
    --------
    topology_flow : the same for every layer, from one refinement.
    image_betti : a Rips estimate from samples (depends on a scale).

    Notes
    -----
    *Exact*: ``f_l(|K|)`` is the union of the convex images of the cells of the exact
    refinement; its homology is that of a finite complex built from the mesh and the
    nerve of the images of the cells where ``f_l`` is not a local embedding (module
    docstring, docs/image_homology.md). The only numerical decisions are whether images
    meet: LP values (the smallest L-infinity ball meeting all of them) against
    ``tol * size``, and certificates with margin :data:`CERT_MARGIN` that only ever
    send a pair to the LP. Cost: the refinement, cheap certificates on all pairs of
    cells sharing a vertex, one small LP per pair of non-adjacent cells whose boxes
    and centroid functional do not separate them, one per candidate set of up to
    ``dim + 2`` non-clean cells, and GUDHI on the complex.

    Examples
    --------
    ``(x, y) -> (relu(x), relu(y))`` keeps a circle around the origin a loop, but
    ``(x, y) -> (|x|, y)`` (two layers) folds it onto an arc:

    >>> K = pr.circle(24)
    >>> relu = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> pr.image_homology(relu, K).betti
    (1, 1)
    >>> fold = pr.ReLUNetwork.from_weights([[[1.0, 0], [-1, 0], [0, 1], [0, -1]], [[1.0, 1, 0, 0], [0, 0, 1, -1]]],
    ...                                    [np.zeros(4), [0.0, 10.0]])
    >>> pr.image_homology(fold, K).betti
    (1, 0)
    """
    net = as_network(net)
    K = check_image_mesh(K, net, "image_homology")
    L = check_layer(layer, net.n_layers)
    field = check_prime(field, func="image_homology")
    tol = check_tol(tol, func="image_homology")
    ref = refine(net, K, layer=L)
    return _layer_homology(net, ref, L, K=K, field=field, tol=tol, q=K.dim,
                           max_candidates=_check_budget_arg(max_candidates, "image_homology"),
                           max_lps=_check_budget_arg(max_lps, "image_homology", "max_lps"))


def topology_flow(net, K, *, field=11, tol=IMAGE_TOL, max_candidates=MAX_CANDIDATES, max_lps=MAX_LPS,
                  progress=False):
    """Betti numbers of ``f_l(|K|)`` at every layer l = 0..L (0 is ``K`` itself).

    Row 0 is the homology of the simplicial complex ``K``: that of the set it draws in
    the input space when the mesh is embedded (its simplices meet only in shared faces).
    The layers' rows are the homology of the image sets in any case (simplices that cross
    in the input have images that meet).

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        As for :func:`image_homology`.
    field : int, default 11
    tol : float, default IMAGE_TOL
    max_candidates : int or None, default MAX_CANDIDATES
        As for :func:`image_homology` (per layer).
    max_lps : int or None, default MAX_LPS
        As for :func:`image_homology` (per layer).
    progress : bool, default False
        Show a progress bar over the layers.

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``layer``, ``b0 .. b{dim}``, ``betti`` (tuple),
        ``n_pieces``, ``n_rank_pieces``, ``n_overlaps``, ``n_dirty``, ``n_lps``,
        ``near_tolerance`` and ``seconds``.

    Notes
    -----
    One refinement through all layers is cut once and regrouped per layer (the cells
    of layer l are the refined pieces with equal input simplex and pattern on layers
    1..l). See :func:`image_homology` for what "exact" means.

    Examples
    --------
    >>> fold = pr.ReLUNetwork.from_weights([[[1.0, 0], [-1, 0], [0, 1], [0, -1]], [[1.0, 1, 0, 0], [0, 0, 1, -1]]],
    ...                                    [np.zeros(4), [0.0, 10.0]])
    >>> df = pr.topology_flow(fold, pr.circle(24))
    >>> df[["layer", "b0", "b1"]].values.tolist()
    [[0, 1, 1], [1, 1, 1], [2, 1, 0]]
    """
    import pandas as pd
    from tqdm.auto import tqdm

    net = as_network(net)
    K = check_image_mesh(K, net, "topology_flow")
    field = check_prime(field, func="topology_flow")
    tol = check_tol(tol, func="topology_flow")
    budget = _check_budget_arg(max_candidates, "topology_flow")
    lp_budget = _check_budget_arg(max_lps, "topology_flow", "max_lps")
    t_ref = 0.0
    results = [_layer0(K, field)]
    for l in tqdm(range(1, net.n_layers + 1), disable=not progress, desc="layers"):
        t0 = time.perf_counter()
        ref = refine(net, K, layer=l)
        t_ref += time.perf_counter() - t0
        results.append(_layer_homology(net, ref, l, K=K, field=field, tol=tol, q=K.dim,
                                       max_candidates=budget, max_lps=lp_budget))
    rows = []
    for r in results:
        row = {"layer": r.layer}
        row.update({f"b{k}": b for k, b in enumerate(r.betti)})
        row.update(betti=r.betti, n_pieces=r.n_pieces, n_rank_pieces=r.n_rank_pieces,
                   n_overlaps=r.n_overlaps, n_dirty=r.n_dirty, n_lps=r.stats.get("n_lps", 0),
                   near_tolerance=r.near_tolerance, seconds=r.stats.get("time_total", 0.0))
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["refine_seconds"] = t_ref
    return df
