"""The whole polyhedral complex of a decomposition: faces of every dimension and a certificate.

Faces are read off the regions' H-representations. For every region the vertices are
the feasible solutions of its d-subsets of facet rows (solved in one batch for all regions
with the same number of facets; qhull for regions with very many facets), each vertex
records the rows tight at it, and the region's face lattice follows combinatorially:
its facets are the vertex sets of its rows, and the faces covered by a face ``F`` are the
maximal proper intersections of ``F`` with a facet (every face of a polytope is an
intersection of facets). Vertices are identified across regions by their coordinates
(a k-d tree, ``VERTEX_MERGE_RTOL``), and a face of the complex is identified by its
vertex set, so a face shared by several regions is counted once and knows all of them.
The sign vector of a face (Masden's sign sequence: ``+``, ``-`` or ``0`` for every hidden
unit) is read off its vertices.

The complex is made GUDHI-ready by a pulling triangulation: with vertices in a fixed
global order, a face is triangulated by coning its smallest vertex over the
triangulations of its facets that miss that vertex. Shared faces get the same
triangulation from every side, no vertex is added, and a function that is affine on
every region (the network's output) is exactly linear on every simplex, so its
lower-star filtration is the sublevel-set filtration of the function.

Faces need a bounded domain (every face is then a polytope with vertices); for a
decomposition of all of R^d, enumerate over a :class:`~polyrank.Box` instead.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .exceptions import CertificateError

__all__ = ["FaceComplex", "Certificate", "face_complex", "certify", "VERTEX_MERGE_RTOL", "TIGHT_RTOL",
           "SIGN_ZERO_RTOL", "VOLUME_RTOL"]

#: Two vertex instances closer than this (relative to the domain's size) are one vertex.
VERTEX_MERGE_RTOL = 1e-10
#: A row of a region's H-representation passes through a vertex when its residual is
#: below this (relative to the domain's size).
TIGHT_RTOL = 1e-10
#: A unit's pre-activation at a vertex is 0 in the sign vector when its absolute value is
#: below this times the unit's largest absolute value over all vertices.
SIGN_ZERO_RTOL = 1e-9
#: A d-subset of unit-norm rows with ``|det|`` below this has no single intersection point.
DET_ATOL = 1e-13
#: Regions with more d-subsets of rows than this get their vertices from qhull.
MAX_SUBSETS = 20_000
#: Relative tolerance of the certificate's volume check (sum of regions vs the domain).
VOLUME_RTOL = 1e-8
#: Elements of one batched solve (subsets x rows x regions), to bound memory.
_BATCH_ELEMS = 4_000_000


def _bits(mask):
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _require_bounded(dec, func):
    dom = dec.domain
    if dom is None or not dom.bounded:
        raise ValueError(f"{func} needs a decomposition over a bounded domain (its faces are then "
                         f"polytopes); this one is over {'all of R^d' if dom is None else 'an unbounded domain'}. "
                         "Enumerate over a Box or another bounded Polytope instead.")
    if dec.partial:
        raise ValueError(f"{func} needs a complete decomposition; this one is partial "
                         "(the enumeration stopped at max_regions).")


def _vertices_of_regions(regions, d, L):
    """Every vertex instance of every region, flat: points (N, d), owner (N,), number of
    tight rows (N,; -1 when unknown) and the d rows solved for it (N, d). Regions with the
    same number of rows are solved in one batch; regions with very many rows use qhull."""
    by_m = {}
    for i, r in enumerate(regions):
        by_m.setdefault(r.A.shape[0], []).append(i)
    tol = TIGHT_RTOL * L
    Ps, Os, Ns, Rs = [], [], [], []
    for m, idx in by_m.items():
        if m < d:
            continue
        n_sub = math.comb(m, d)
        if n_sub > MAX_SUBSETS:
            for i in idx:
                V, _ = _vertices_qhull(regions[i], tol)
                Ps.append(V)
                Os.append(np.full(len(V), i))
                Ns.append(np.full(len(V), -1))
                Rs.append(np.zeros((len(V), d), dtype=np.int64))
            continue
        combos = np.array(list(itertools.combinations(range(m), d)), dtype=np.int64)
        step = max(1, _BATCH_ELEMS // (n_sub * (m + d * d)))
        for s in range(0, len(idx), step):
            chunk = np.asarray(idx[s: s + step])
            A = np.stack([regions[i].A for i in chunk])
            b = np.stack([regions[i].b for i in chunk])
            As = A[:, combos]  # (g, c, d, d)
            bs = b[:, combos]  # (g, c, d)
            ok, X = _solve_batch(As, bs, d)
            res = np.einsum("gmd,gcd->gcm", A, X) - b[:, None, :]
            gi, ci = np.nonzero(ok & (res.max(axis=2) <= tol))
            Ps.append(X[gi, ci])
            Os.append(chunk[gi])
            Ns.append((np.abs(res[gi, ci]) <= tol).sum(axis=1))
            Rs.append(combos[ci])
    if not Ps:
        return np.zeros((0, d)), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, d), np.int64)
    P, O, N, R = (np.concatenate(x) for x in (Ps, Os, Ns, Rs))
    o = np.argsort(O, kind="stable")
    return P[o], O[o].astype(np.int64), N[o], R[o]


def _solve_batch(As, bs, d):
    """Solve the (..., d, d) systems ``As x = bs``; returns (nonsingular mask, x). Cramer's
    rule (cross products) for d <= 3, LAPACK above."""
    if d == 1:
        det = As[..., 0, 0]
        ok = np.abs(det) > DET_ATOL
        return ok, bs / np.where(ok, det, 1.0)[..., None]
    if d == 2:
        a, b = As[..., 0, :], As[..., 1, :]
        det = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
        ok = np.abs(det) > DET_ATOL
        det = np.where(ok, det, 1.0)
        x0 = (bs[..., 0] * b[..., 1] - a[..., 1] * bs[..., 1]) / det
        x1 = (a[..., 0] * bs[..., 1] - bs[..., 0] * b[..., 0]) / det
        return ok, np.stack([x0, x1], axis=-1)
    if d == 3:
        a, b, c = As[..., 0, :], As[..., 1, :], As[..., 2, :]
        bc, ca, ab = np.cross(b, c), np.cross(c, a), np.cross(a, b)
        det = np.einsum("...i,...i->...", a, bc)
        ok = np.abs(det) > DET_ATOL
        det = np.where(ok, det, 1.0)
        X = (bs[..., 0, None] * bc + bs[..., 1, None] * ca + bs[..., 2, None] * ab) / det[..., None]
        return ok, X
    ok = np.abs(np.linalg.det(As)) > DET_ATOL
    As = As.copy()
    As[~ok] = np.eye(d)
    return ok, np.linalg.solve(As, bs[..., None])[..., 0]


def _vertices_qhull(r, tol):
    from scipy.spatial import HalfspaceIntersection

    V = HalfspaceIntersection(np.hstack([r.A, -r.b[:, None]]), r.witness).intersections
    return V, np.abs(V @ r.A.T - r.b) <= tol


class FaceComplex:
    """The polyhedral complex of a bounded decomposition: every face, with its incidences.

    Built by :meth:`Decomposition.complex` (or :func:`face_complex`). Faces of dimension k
    are numbered 0..f_k-1; the d-faces are the regions, in region order.

    Attributes
    ----------
    dim : int
        The input dimension d.
    vertices : ndarray of shape (f_0, d)
        Vertex coordinates, sorted lexicographically (the global vertex order).
    cells : list of list of tuple
        ``cells[k][i]``: the sorted vertex ids of k-face i.
    facets : list of list of tuple
        ``facets[k][i]``: the (k-1)-faces in the boundary of k-face i (the Hasse diagram;
        empty for k = 0).
    regions : list of list of tuple
        ``regions[k][i]``: the regions (d-faces) that contain k-face i.
    region_facets : list of ndarray
        For every region, the (d-1)-face of each row of its H-representation (-1 when a
        row touches the region in a lower-dimensional face only).
    on_domain : list of ndarray of bool
        ``on_domain[k]`` of shape (f_k, n_domain_rows): which domain constraints hold with
        equality on the whole face.

    Examples
    --------
    Two crossing lines cut a square into four regions:

    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> K = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2)).complex()
    >>> K.f_vector()
    (9, 12, 4)
    >>> K.euler_characteristic()
    1
    >>> pr.betti(K.triangulation())
    [1, 0, 0]
    """

    def __init__(self, dec):
        _require_bounded(dec, "FaceComplex")
        t0 = time.perf_counter()
        self.net = dec.net
        self.layer = dec.layer
        self.domain = dec.domain
        d = self.dim = dec.net.input_dim
        regions = dec.regions
        lo, hi = dec.domain.bounding_box()
        L = self.scale = float(np.max(hi - lo))
        P, owner, n_tight, rows = _vertices_of_regions(regions, d, L)
        counts = np.bincount(owner, minlength=len(regions))
        gid, V = _merge_points(P, VERTEX_MERGE_RTOL * L)
        self.vertices = V
        self.vertices.setflags(write=False)
        # faces of every dimension, keyed by their vertex sets
        B = _Builder(d, len(V))
        self.region_facets = [None] * len(regions)
        self.problems = []
        starts = np.concatenate([[0], np.cumsum(counts)])
        # simple regions: every vertex instance on exactly d rows, no vertex twice
        simple = counts > 0
        simple[owner[n_tight != d]] = False
        o = np.lexsort((gid, owner))
        twice = (owner[o][1:] == owner[o][:-1]) & (gid[o][1:] == gid[o][:-1])
        simple[owner[o][1:][twice]] = False
        inst = np.flatnonzero(simple[owner])
        if len(inst):
            _lattice_simple(B, self.region_facets, self.problems, regions, owner[inst], gid[inst], rows[inst], d)
        for ri in np.flatnonzero(~simple):
            g = np.unique(gid[starts[ri]: starts[ri + 1]])
            r = regions[ri]
            T = np.abs(V[g] @ r.A.T - r.b) <= TIGHT_RTOL * L
            self.region_facets[ri] = _lattice_python(B, ri, r.A.shape[0], g, T, d, self.problems)
        self.n_simple_regions = int(simple.sum())
        self._builder = B
        self._facets = self._regions = self._on_domain = None
        self._tri = None
        self.seconds = time.perf_counter() - t0

    @property
    def cells(self):
        """``cells[k][i]``: the sorted vertex ids of k-face i (tuples made on first use)."""
        return self._builder.cells

    def _count(self, k):
        return self._builder.count(k)

    @property
    def facets(self):
        """``facets[k][i]``: the (k-1)-faces in the boundary of k-face i (built on first use)."""
        if self._facets is None:
            self._facets, self._regions = self._builder.finalize()
        return self._facets

    @property
    def regions(self):
        """``regions[k][i]``: the regions containing k-face i (built on first use)."""
        if self._regions is None:
            self._facets, self._regions = self._builder.finalize()
        return self._regions

    @property
    def on_domain(self):
        """``on_domain[k]``: bool (f_k, n_domain_rows), the domain constraints holding on each face."""
        if self._on_domain is None:
            Ad, bd = np.asarray(self.domain.A), np.asarray(self.domain.b)
            off = ~(np.abs(self.vertices @ Ad.T - bd) <= TIGHT_RTOL * self.scale * 10)
            self._on_domain = [np.asarray((self._incidence(k) @ off.astype(np.int64)) == 0) if self._count(k)
                               else np.zeros((0, len(bd)), dtype=bool) for k in range(self.dim + 1)]
        return self._on_domain

    # ------------------------------------------------------------------ queries
    def f_vector(self) -> tuple:
        """``(f_0, ..., f_d)``: the number of faces of every dimension."""
        return tuple(self._count(k) for k in range(self.dim + 1))

    def euler_characteristic(self) -> int:
        """``sum_k (-1)^k f_k``."""
        return int(sum((-1) ** k * f for k, f in enumerate(self.f_vector())))

    def _incidence(self, k):
        """Sparse (f_k x f_0) face-vertex incidence matrix."""
        from scipy.sparse import csr_matrix

        ip, ix = self._builder.csr(k)
        return csr_matrix((np.ones(len(ix), dtype=np.int64), ix, ip), shape=(len(ip) - 1, len(self.vertices)))

    def boundary_matrix(self, k):
        """Sparse 0/1 matrix of shape (f_k, f_{k-1}): which (k-1)-faces bound each k-face.

        It is the boundary matrix over Z/2 (the Hasse diagram between dimensions k-1 and k).
        """
        from scipy.sparse import csr_matrix

        if not 1 <= k <= self.dim:
            raise ValueError(f"k must be in 1..{self.dim}; got {k!r}.")
        F = self.facets[k]
        lens = np.fromiter((len(c) for c in F), dtype=np.int64, count=len(F))
        cols = np.fromiter(itertools.chain.from_iterable(F), dtype=np.int64, count=int(lens.sum()))
        rows = np.repeat(np.arange(len(F)), lens)
        return csr_matrix((np.ones(len(cols), dtype=np.int8), (rows, cols)),
                          shape=(len(F), self._count(k - 1)))

    def sign_vectors(self, k) -> np.ndarray:
        """Sign vectors of the k-faces: int8 array (f_k, n_units) of +1, -1, 0.

        A unit's sign on a face is the sign of its pre-activation on the face's relative
        interior (0: the face lies in the unit's zero set). Units are those of layers
        1..layer, side by side. A face whose vertices disagree (numerical trouble) gets
        the sign of the sum.
        """
        S = self._vertex_signs()
        if k == 0:
            return S.copy()
        M = self._incidence(k)
        return np.sign(M @ S.astype(np.int64)).astype(np.int8)

    def _vertex_signs(self):
        if getattr(self, "_vsigns", None) is None:
            Z = np.concatenate(self.net.preactivations(self.vertices)[: self.layer], axis=1) \
                if len(self.vertices) else np.zeros((0, int(sum(self.net.widths[: self.layer]))))
            scale = np.abs(Z).max(axis=0, initial=0.0)
            S = np.sign(Z).astype(np.int8)
            S[np.abs(Z) <= SIGN_ZERO_RTOL * scale] = 0
            self._vsigns = S
        return self._vsigns

    def frame(self, k):
        """The k-faces as a pandas DataFrame (see :meth:`Decomposition.faces`)."""
        import pandas as pd

        if not 0 <= k <= self.dim:
            raise ValueError(f"k must be a face dimension in 0..{self.dim}; got {k!r}.")
        S = self.sign_vectors(k)
        chars = np.array(["-", "0", "+"])
        sign = ["".join(row) for row in chars[S.astype(np.int64) + 1]] if S.size else [""] * len(self.cells[k])
        dom = self.on_domain[k]
        df = pd.DataFrame({
            "face": np.arange(len(self.cells[k])),
            "dim": k,
            "sign": sign,
            "n_zero_units": (S == 0).sum(axis=1) if S.size else 0,
            "regions": self.regions[k],
            "vertices": self.cells[k],
            "domain_facets": [tuple(np.flatnonzero(row).tolist()) for row in dom],
        })
        if k == 0:
            for j in range(self.dim):
                df[f"x{j}"] = self.vertices[:, j]
        else:
            C = np.asarray(self._incidence(k) @ self.vertices) / np.array([len(c) for c in self.cells[k]])[:, None]
            for j in range(self.dim):
                df[f"c{j}"] = C[:, j]
        return df

    # ------------------------------------------------------------------ triangulation
    def _pulling(self):
        """Pulling triangulation, per dimension k: (simplices (n, k+1) int, the k-face of each,
        offsets of each face's block). A k-face is the cone from its smallest vertex over the
        triangulations of its facets that miss that vertex."""
        if self._tri is None:
            n0 = len(self.vertices)
            tri = [(np.arange(n0, dtype=np.int64)[:, None], np.arange(n0, dtype=np.int64),
                    np.arange(n0 + 1, dtype=np.int64))]
            for k in range(1, self.dim + 1):
                nk = self._count(k)
                F = self.facets[k]
                lens = np.fromiter((len(f) for f in F), dtype=np.int64, count=nk)
                par = np.repeat(np.arange(nk), lens)
                ch = np.fromiter(itertools.chain.from_iterable(F), dtype=np.int64, count=int(lens.sum()))
                vmin = self._builder.first_vertex(k)
                if len(ch):
                    inside = np.asarray(self._incidence(k - 1)[ch, vmin[par]]).ravel() > 0
                    par, ch = par[~inside], ch[~inside]
                S_prev, _, off_prev = tri[k - 1]
                cnt = off_prev[ch + 1] - off_prev[ch]
                rep = np.repeat(par, cnt)
                idx = np.repeat(off_prev[ch], cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
                Sk = np.hstack([vmin[rep][:, None], S_prev[idx]]) if len(idx) else np.zeros((0, k + 1), np.int64)
                order = np.argsort(rep, kind="stable")
                own = rep[order]
                tri.append((Sk[order], own, np.searchsorted(own, np.arange(nk + 1))))
            self._tri = tri
        return self._tri

    def simplices(self, k, faces=None):
        """The k-simplices of the pulling triangulation of the k-faces (optionally only of
        the k-faces listed in ``faces``): int array (n, k+1), and the face of each."""
        S, own, off = self._pulling()[k]
        if faces is None:
            return S, own
        faces = np.asarray(list(faces), dtype=np.int64)
        cnt = off[faces + 1] - off[faces]
        idx = np.repeat(off[faces], cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        return S[idx], own[idx]

    def triangulation(self, cells=None):
        """The pulling triangulation as a :class:`~polyrank.SimplicialComplex` of dimension d
        (or of the subcomplex generated by ``cells``, a list per dimension of face ids)."""
        from .manifolds import SimplicialComplex

        if cells is None:
            S, _ = self.simplices(self.dim)
            return SimplicialComplex(self.vertices, S)
        tops = self._generated(cells)
        k = max((k for k in range(self.dim + 1) if tops[k]), default=0)
        S, _ = self.simplices(k, sorted(tops[k]))
        return SimplicialComplex(self.vertices, S)

    def _generated(self, cells):
        """Faces of every dimension of the closure of the faces in ``cells``."""
        out = [set(c) for c in cells] + [set() for _ in range(self.dim + 1 - len(cells))]
        for k in range(self.dim, 0, -1):
            for i in list(out[k]):
                out[k - 1].update(self.facets[k][i])
        return out

    def simplex_tree(self, values=None, cells=None):
        """A ``gudhi.SimplexTree`` of the pulling triangulation (of the whole complex, or of
        the closure of ``cells``, a list per dimension of face ids).

        Parameters
        ----------
        values : array-like of shape (f_0,), optional
            Vertex values: each simplex gets the largest value of its vertices (the
            lower-star filtration). Default 0 everywhere.
        """
        import gudhi

        vals = np.zeros(len(self.vertices)) if values is None else np.asarray(values, dtype=np.float64)
        st = gudhi.SimplexTree()
        faces = None if cells is None else self._generated(cells)
        for k in range(self.dim + 1):
            S, _ = self.simplices(k, None if faces is None else sorted(faces[k]))
            if not len(S):
                continue
            # every face of these simplices, dimension by dimension (a face's value is the
            # max over its own vertices, so lower dimensions go in first)
            for j in range(1, k + 2):
                cols = list(itertools.combinations(range(k + 1), j))
                F = np.unique(np.sort(np.concatenate([S[:, c] for c in cols]), axis=1), axis=0)
                st.insert_batch(F.T.copy(), vals[F].max(axis=1))
        return st

    def betti(self, cells=None, *, field=11) -> list:
        """Betti numbers ``[b_0, ..., b_d]`` over Z/field of the complex (or of the closure
        of ``cells``); exact (GUDHI)."""
        st = self.simplex_tree(cells=cells)
        return _betti_of_tree(st, self.dim, field)

    def volumes(self) -> np.ndarray:
        """Volume of every region (d-face), from the triangulation."""
        S, owner = self.simplices(self.dim)
        if not len(S):
            return np.zeros(self._count(self.dim))
        V = self.vertices
        D = V[S[:, 1:]] - V[S[:, :1]]
        vol = np.abs(np.linalg.det(D)) / math.factorial(self.dim)
        return np.bincount(owner, weights=vol, minlength=self._count(self.dim))

    def __repr__(self):
        return f"FaceComplex(dim={self.dim}, f_vector={self.f_vector()})"


class _Builder:
    """Faces of every dimension keyed by their sorted vertex tuples. The vectorised path
    hands over a whole dimension at once as CSR arrays (indptr, vertex ids); tuples are
    made only when asked for (or when the per-region path must look faces up)."""

    def __init__(self, d, n_vertices):
        self.index = [None for _ in range(d + 1)]  # built on the first single add
        self._cells = [[] for _ in range(d + 1)]
        self._csr = [None for _ in range(d + 1)]
        self.facets = [dict() for _ in range(d + 1)]  # face -> set, from the per-region path
        self.incid = [dict() for _ in range(d + 1)]
        self.fpairs = [[] for _ in range(d + 1)]  # (face, facet) arrays from the vectorised path
        self.ipairs = [[] for _ in range(d + 1)]  # (face, region) arrays
        self.bulk_csr(0, np.arange(n_vertices + 1, dtype=np.int64), np.arange(n_vertices, dtype=np.int64))

    def count(self, k):
        return len(self._cells[k]) if self._csr[k] is None else len(self._csr[k][0]) - 1

    def materialize(self, k):
        if self._csr[k] is not None:
            ip, ix = self._csr[k][0].tolist(), self._csr[k][1].tolist()
            self._cells[k] = [tuple(ix[a:b]) for a, b in zip(ip[:-1], ip[1:])]
            self._csr[k] = None
        return self._cells[k]

    @property
    def cells(self):
        return [self.materialize(k) for k in range(len(self._cells))]

    def csr(self, k):
        """(indptr, vertex ids) of the k-faces."""
        if self._csr[k] is not None:
            return self._csr[k]
        cells = self._cells[k]
        lens = np.fromiter((len(c) for c in cells), dtype=np.int64, count=len(cells))
        ix = np.fromiter(itertools.chain.from_iterable(cells), dtype=np.int64, count=int(lens.sum()))
        return np.concatenate([[0], np.cumsum(lens)]).astype(np.int64), ix

    def first_vertex(self, k):
        ip, ix = self.csr(k)
        return ix[ip[:-1]]

    def finalize(self):
        """(facets, incid): per dimension, a sorted tuple per face."""
        return ([self._group(k, self.facets[k], self.fpairs[k]) for k in range(len(self._cells))],
                [self._group(k, self.incid[k], self.ipairs[k]) for k in range(len(self._cells))])

    def _group(self, k, sets, pairs):
        n = self.count(k)
        P = np.concatenate([np.array([(i, j) for i, st in sets.items() for j in st],
                                     dtype=np.int64).reshape(-1, 2)] + pairs)
        if not len(P):
            return [()] * n
        M = int(P[:, 1].max()) + 1
        key = np.unique(P[:, 0] * M + P[:, 1])
        a, b = key // M, (key % M).tolist()
        bounds = np.searchsorted(a, np.arange(n + 1)).tolist()
        return [tuple(b[bounds[i]: bounds[i + 1]]) for i in range(n)]

    def bulk_csr(self, k, indptr, indices):
        """Set the k-faces (none added before) from CSR arrays; returns their ids."""
        assert self.count(k) == 0 and self.index[k] is None
        self._csr[k] = (np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64))
        return np.arange(len(indptr) - 1, dtype=np.int64)

    def get(self, k, key, default=-1):
        if self.index[k] is None:
            self.index[k] = {c: i for i, c in enumerate(self.materialize(k))}
        return self.index[k].get(key, default)

    def add(self, k, key):
        if self.index[k] is None:
            self.index[k] = {c: i for i, c in enumerate(self.materialize(k))}
        j = self.index[k].get(key)
        if j is None:
            j = self.index[k][key] = len(self._cells[k])
            self._cells[k].append(key)
        return j


def _ranges(starts, lens):
    """Concatenated ``arange(s, s + l)`` for every (s, l)."""
    lens = np.asarray(lens, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64), lens) + (
        np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens))


def _lattice_python(B, ri, m, g_inst, T_inst, d, problems):
    """Face lattice of one region from its vertex-row incidences (any polytope); returns the
    (d-1)-face of each row (-1: the row is not a facet)."""
    g_loc, inv = np.unique(g_inst, return_inverse=True)
    T = np.zeros((len(g_loc), m), dtype=bool)
    np.logical_or.at(T, inv, T_inst)
    n = len(g_loc)
    full = (1 << n) - 1
    row_masks = [sum(1 << int(v) for v in np.flatnonzero(T[:, j])) for j in range(m)]
    keys_loc = g_loc.tolist()

    def key_of(mask):
        return tuple(keys_loc[i] for i in _bits(mask))

    # a row is a facet when it holds >= d vertices, not all of them, and its vertex
    # set is not strictly inside another row's (then it only touches a lower face)
    facet_masks = []
    row_ok = []
    for msk in row_masks:
        ok = (msk != full and msk.bit_count() >= d
              and not any(o != msk and (msk & o) == msk for o in row_masks))
        row_ok.append(ok)
        if ok and msk not in facet_masks:
            facet_masks.append(msk)
    if n == 0 or not facet_masks:
        problems.append(f"region {ri}: no vertices or no facet found")
    top = B.add(d, tuple(keys_loc))
    B.incid[d].setdefault(top, set()).add(int(ri))
    level = {full: top}
    children = {full: facet_masks}
    for k in range(d - 1, -1, -1):
        nxt = {}
        for f in level:
            for c in children[f]:
                if c in nxt:
                    continue
                key = key_of(c)
                if k == 0 and len(key) != 1:
                    problems.append(f"region {ri}: a minimal face has {len(key)} vertices")
                j = B.add(k, key)
                B.incid[k].setdefault(j, set()).add(int(ri))
                nxt[c] = j
        for f, j in level.items():
            B.facets[k + 1].setdefault(j, set()).update(nxt[c] for c in children[f])
        if k == 0:
            break
        children = {}
        for f in nxt:
            cands = {f & g for g in facet_masks} - {f, 0}
            children[f] = [c for c in cands if not any(c != o and (c & o) == c for o in cands)]
        level = nxt
    return np.array([B.get(d - 1, key_of(row_masks[j])) if row_ok[j] else -1 for j in range(m)],
                    dtype=np.int64)


def _lattice_simple(B, region_facets, problems, regions, reg, G, R, d):
    """Faces of simple regions (every vertex on exactly d rows), vectorised: the k-faces of a
    simple polytope through a vertex are its (d-k)-subsets of tight rows, so a face is a
    (region, row subset) and its vertex set is every vertex whose rows contain the subset.
    Faces are identified across regions by a hash of their vertex sets (confirmed below
    against the sorted vertex tuples)."""
    N = len(G)  # R: (N, d) the tight rows of every vertex instance, sorted
    m_of = np.array([r.A.shape[0] for r in regions], dtype=np.int64)
    row_off = np.concatenate([[0], np.cumsum(m_of)])
    flat = np.full(int(row_off[-1]), -1, dtype=np.int64)  # (d-1)-face of every row of every region
    rng = np.random.default_rng(0x5eed)
    W = rng.integers(0, 2 ** 63, size=int(G.max()) + 1, dtype=np.int64).astype(np.uint64)
    pos = {}  # s -> combos of positions
    glob = {d: G[:, None]}  # s -> (N, c_s) global face ids; s = d: vertices
    for s in range(1, d):
        C = np.array(list(itertools.combinations(range(d), s)), dtype=np.int64)
        pos[s] = {tuple(c): i for i, c in enumerate(C.tolist())}
        c = len(C)
        sub = R[:, C].reshape(N * c, s)
        rr = np.repeat(reg, c)
        gg = np.repeat(G, c)
        base = int(R.max()) + 1
        if (int(reg.max()) + 1) * base ** s < 2 ** 62:
            key = rr.astype(np.int64)
            for t in range(s):
                key = key * base + sub[:, t]
            _, first, lf = np.unique(key, return_index=True, return_inverse=True)
        else:
            _, first, lf = np.unique(np.column_stack([rr, sub]), axis=0, return_index=True, return_inverse=True)
        lf = lf.ravel()
        n_lf = len(first)
        h = np.zeros(n_lf, dtype=np.uint64)
        np.add.at(h, lf, W[gg])
        cnt = np.bincount(lf, minlength=n_lf)
        k = d - s
        if k == 1 and np.any(cnt != 2):
            problems.append(f"an edge of a simple region has {int(cnt[cnt != 2][0])} vertices")
        _, rep, gf = np.unique(h + cnt.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15), return_index=True,
                               return_inverse=True)
        gf = gf.ravel()
        order = np.lexsort((gg, lf))
        gs = gg[order]
        st = np.concatenate([[0], np.cumsum(cnt)])
        ids = B.bulk_csr(k, np.concatenate([[0], np.cumsum(cnt[rep])]), gs[_ranges(st[rep], cnt[rep])])
        # the same global face from every region must have the same vertex tuple
        lf_reg = rr[first]
        for l in np.flatnonzero(rep[gf] != np.arange(n_lf))[:: max(1, n_lf // 64)].tolist():
            l0 = rep[gf[l]]
            if not np.array_equal(gs[st[l]: st[l + 1]], gs[st[l0]: st[l0 + 1]]):
                problems.append("two faces share a vertex-set hash")
                break
        gid_lf = ids[gf]
        B.ipairs[k].append(np.column_stack([gid_lf, lf_reg]))
        glob[s] = gid_lf[lf].reshape(N, c)
        if s == 1:
            flat[row_off[lf_reg] + sub[first, 0]] = gid_lf
    B.ipairs[0].append(np.column_stack([G, reg]))
    # the regions themselves
    order = np.lexsort((G, reg))
    rs, gs = reg[order], G[order]
    heads = np.concatenate([[0], np.flatnonzero(np.diff(rs)) + 1])
    rl = rs[heads]
    indptr = np.concatenate([heads, [len(rs)]])
    hsh = np.add.reduceat(W[gs], heads) + np.diff(indptr).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    if len(np.unique(hsh)) == len(hsh):
        tops = B.bulk_csr(d, indptr, gs)
    else:  # two regions with one vertex set: leave it to the certificate
        gl, ip = gs.tolist(), indptr.tolist()
        tops = np.array([B.add(d, tuple(gl[a:b])) for a, b in zip(ip[:-1], ip[1:])], dtype=np.int64)
    B.ipairs[d].append(np.column_stack([tops, rl]))
    top_of = np.full(len(regions), -1, dtype=np.int64)
    top_of[rl] = tops
    glob[0] = top_of[reg][:, None]
    pos[0] = {(): 0}
    pos[d] = {tuple(range(d)): 0}
    if d == 1:  # facets of a segment are its vertices
        flat[row_off[reg] + R[:, 0]] = G
    for r in rl.tolist():
        region_facets[r] = flat[row_off[r]: row_off[r + 1]]
    # Hasse diagram: the facets of the face (S) are the faces (S + {j})
    for s in range(0, d):
        k = d - s
        Cu = list(itertools.combinations(range(d), s + 1))
        P, Q = [], []
        for u_i, u in enumerate(Cu):
            for t in range(s + 1):
                par = pos[s][u[:t] + u[t + 1:]]
                P.append(glob[s][:, par])
                Q.append(glob[s + 1][:, u_i])
        B.fpairs[k].append(np.column_stack([np.concatenate(P), np.concatenate(Q)]))


def _betti_of_tree(st, dim, field):
    if st.num_simplices() == 0:
        return [0] * (dim + 1)
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)
    b = list(st.betti_numbers())
    return (b + [0] * (dim + 1))[: dim + 1]


def _merge_points(P, r):
    """Cluster points closer than ``r``: (label of each point, representative coordinates),
    labels numbered in lexicographic order of the representatives."""
    if not len(P):
        return np.zeros(0, dtype=np.int64), np.zeros((0, P.shape[1]))
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(P).query_pairs(r, output_type="ndarray")
    G = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(P), len(P)))
    n, lab = connected_components(G, directed=False)
    cnt = np.bincount(lab, minlength=n)
    C = np.stack([np.bincount(lab, weights=P[:, j], minlength=n) for j in range(P.shape[1])], axis=1) / cnt[:, None]
    order = np.lexsort(C.T[::-1])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank[lab], C[order]


def check_certifiable(net, domain, func):
    """Raise a clear error before an enumeration that could not be certified."""
    from .domain import as_domain
    from .network import as_network

    dom = as_domain(domain, as_network(net).input_dim)
    if dom is None or not dom.bounded:
        raise ValueError(f"{func} needs a bounded domain (a Box or a bounded Polytope): completeness is "
                         f"certified through the faces, volumes and Euler characteristic of the domain; got "
                         f"{'None (all of R^d)' if dom is None else 'an unbounded polyhedron'}.")


def face_complex(dec) -> FaceComplex:
    """The :class:`FaceComplex` of a decomposition (cached on it; ``dec.complex()``).

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    >>> pr.face_complex(pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))).f_vector()
    (6, 7, 2)
    """
    cache = dec.__dict__.get("_face_complex")
    if cache is not None and cache[0] is dec.regions:
        return cache[1]
    K = FaceComplex(dec)
    dec.__dict__["_face_complex"] = (dec.regions, K)
    return K


# ============================================================================ certificate
@dataclass
class Certificate:
    """What :meth:`Decomposition.verify` checked, and whether everything held.

    Attributes
    ----------
    complete : bool
        Every check passed: the regions tile the domain, their facets match up, and
        (with ``exact=True``) every witness and rank was confirmed in rational arithmetic.
    checks : dict
        ``{name: bool}`` for every check run (see Notes of :meth:`Decomposition.verify`).
    failures : dict
        ``{name: message}`` naming what failed, for each failed check.
    f_vector : tuple
    euler_characteristic : int
    volume_sum, domain_volume : float
    exact : dict or None
        With ``exact=True``: ``disagreements`` (a list of dicts: region, kind, layer,
        unit, engine vs exact), ``seconds``, ``seconds_per_region`` and ``backend``.
    """

    complete: bool
    checks: dict
    failures: dict
    f_vector: tuple = ()
    euler_characteristic: int = 0
    volume_sum: float = float("nan")
    domain_volume: float = float("nan")
    exact: dict = field(default=None)

    def raise_if_failed(self):
        """Raise :class:`~polyrank.CertificateError` naming the failed checks, if any."""
        if not self.complete:
            lines = "; ".join(f"{k}: {v}" for k, v in self.failures.items())
            raise CertificateError(f"The decomposition failed its certificate ({lines}).")
        return self

    def __repr__(self):
        ok = ", ".join(f"{k}={'ok' if v else 'FAILED'}" for k, v in self.checks.items())
        return f"Certificate(complete={self.complete}, {ok})"


def certificate_line(dec):
    """One line for ``polyrank enumerate --verify``; a failed certificate exits with its message."""
    cert = dec.verify()
    if not cert.complete:
        raise SystemExit("polyrank: certificate FAILED: " + "; ".join(f"{k}: {v}" for k, v in cert.failures.items()))
    return (f"certificate: complete (f-vector {cert.f_vector}, Euler characteristic {cert.euler_characteristic}, "
            f"checked {', '.join(cert.checks)})")


def _first(items, n=3):
    items = list(items)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(str(x) for x in items[:n]) + more


def certify(dec, *, exact=False) -> Certificate:
    """Check a decomposition (the work of :meth:`Decomposition.verify`, which documents the checks).

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    >>> pr.certify(pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))).complete
    True
    """
    checks, failures = {}, {}

    def record(name, ok, msg):
        checks[name] = bool(ok)
        if not ok:
            failures[name] = msg

    record("not_partial", not dec.partial, "the enumeration stopped early (partial=True)")
    regions = dec.regions
    # no two regions share a pattern
    P = dec.patterns
    _, first_idx, cnt = np.unique(np.packbits(P, axis=1), axis=0, return_index=True, return_counts=True)
    dup = first_idx[cnt > 1]
    record("patterns_unique", not len(dup), f"regions {_first(dup.tolist())} share a pattern with another region")
    # witnesses strictly inside (float64)
    bad = [r.index for r in regions if not np.all(r.A @ r.witness < r.b)]
    record("witnesses_inside", not bad, f"the witness of regions {_first(bad)} is not strictly inside")
    cert = Certificate(False, checks, failures)
    if dec.domain is None or not dec.domain.bounded or dec.partial:
        record("bounded_domain", False, "facets, volumes and the Euler characteristic are only checked over "
                                        "a bounded domain; enumerate over a Box to certify")
    else:
        K = face_complex(dec)
        d = K.dim
        record("face_lattice", not K.problems, _first(K.problems))
        # every facet has exactly one region across it, or lies on the domain boundary
        bad_rows, pairs = [], set()
        for r, rf in zip(regions, K.region_facets):
            for j, (lab, f) in enumerate(zip(r.facets, rf)):
                if f < 0:
                    bad_rows.append(f"region {r.index} row {j} {lab}: not a facet")
                    continue
                inc = K.regions[d - 1][f]
                if lab[0] == 0 or K.on_domain[d - 1][f].any():
                    if inc != (r.index,):
                        bad_rows.append(f"region {r.index} facet {lab} on the domain boundary is shared by {inc}")
                elif len(inc) != 2:
                    bad_rows.append(f"region {r.index} facet {lab}: {len(inc) - 1} regions across it")
                else:
                    pairs.add(inc)
        record("facet_neighbours", not bad_rows, _first(bad_rows))
        # the dual graph agrees with the shared facets
        given = {(min(i, j), max(i, j)) for i, j, _ in dec.edges}
        missing, extra = sorted(pairs - given), sorted(given - pairs)
        record("edges", not missing and not extra,
               (f"missing facet neighbours {_first(missing)}" if missing else "")
               + ("; " if missing and extra else "")
               + (f"edges without a shared facet {_first(extra)}" if extra else ""))
        vol = float(K.volumes().sum())
        dvol = float(dec.domain.volume())
        cert.volume_sum, cert.domain_volume = vol, dvol
        record("volume", abs(vol - dvol) <= VOLUME_RTOL * dvol,
               f"region volumes sum to {vol!r}, the domain's volume is {dvol!r}")
        chi = K.euler_characteristic()
        cert.f_vector, cert.euler_characteristic = K.f_vector(), chi
        record("euler_characteristic", chi == 1,
               f"the complex has Euler characteristic {chi}, a convex domain has 1 (f-vector {K.f_vector()})")
    if exact:
        cert.exact = exact_check(dec)
        dis = cert.exact["disagreements"]
        record("exact", not dis, f"{len(dis)} disagreements in rational arithmetic, first: "
                                 f"{dis[0] if dis else ''}")
    cert.complete = all(checks.values())
    return cert


# ============================================================================ exact arithmetic
def _flint():
    try:
        import flint
    except ImportError:
        return None
    return flint


class _FlintOps:
    name = "python-flint fmpq_mat"

    def __init__(self, flint):
        self.f = flint

    def mat(self, M):
        M = np.atleast_2d(M)
        return self.f.fmpq_mat(M.shape[0], M.shape[1],
                               [self.f.fmpq(*float(v).as_integer_ratio()) for v in M.ravel()])

    def col(self, v):
        return self.mat(np.asarray(v, dtype=np.float64)[:, None])

    def matmul(self, A, B):
        return A * B

    def add(self, A, B):
        return A + B

    def signs(self, z):
        return np.array([(1 if z[i, 0] > 0 else -1 if z[i, 0] < 0 else 0) for i in range(z.nrows())])

    def zero_rows(self, M):
        return np.array([all(M[i, j] == 0 for j in range(M.ncols())) for i in range(M.nrows())])

    def mask_rows(self, M, keep):
        D = self.f.fmpq_mat(len(keep), len(keep))
        for i in np.flatnonzero(keep):
            D[int(i), int(i)] = 1
        return D * M

    def rank(self, M):
        return M.rank()


class _FractionOps:
    name = "fractions (fraction-free elimination)"

    def mat(self, M):
        from fractions import Fraction

        M = np.atleast_2d(np.asarray(M, dtype=np.float64))
        return np.array([[Fraction(float(v)) for v in row] for row in M], dtype=object)

    def col(self, v):
        return self.mat(np.asarray(v, dtype=np.float64)[:, None])

    def matmul(self, A, B):
        return A.dot(B)

    def add(self, A, B):
        return A + B

    def signs(self, z):
        return np.array([(1 if v > 0 else -1 if v < 0 else 0) for v in z[:, 0]])

    def zero_rows(self, M):
        return np.array([all(v == 0 for v in row) for row in M])

    def mask_rows(self, M, keep):
        from fractions import Fraction

        out = M.copy()
        out[~np.asarray(keep)] = Fraction(0)
        return out

    def rank(self, M):
        # fraction-free (Bareiss) elimination on the rows scaled to integers
        rows = []
        for row in M:
            den = 1
            for v in row:
                den = den * v.denominator // math.gcd(den, v.denominator)
            rows.append([int(v * den) for v in row])
        m, n = len(rows), (len(rows[0]) if rows else 0)
        r, prev = 0, 1
        for c in range(n):
            piv = next((i for i in range(r, m) if rows[i][c] != 0), None)
            if piv is None:
                continue
            rows[r], rows[piv] = rows[piv], rows[r]
            for i in range(r + 1, m):
                rows[i] = [(rows[r][c] * rows[i][j] - rows[i][c] * rows[r][j]) // prev for j in range(n)]
            prev = rows[r][c]
            r += 1
            if r == m:
                break
        return r


def exact_check(dec, *, backend=None) -> dict:
    """Re-check every region in exact rational arithmetic.

    float64 weights, biases and witnesses are dyadic rationals, so the forward pass at a
    witness and the local affine maps ``A_K`` can be computed without rounding. For every
    region this confirms that the witness lies strictly inside (every active unit has a
    positive pre-activation, every inactive unit a negative one, or is identically zero on
    the region) and that ``rank(A_K)`` equals the reported rank at every layer K.

    Parameters
    ----------
    backend : {None, "flint", "fractions"}
        None: python-flint when it is installed, else Python fractions.

    Returns
    -------
    dict with ``disagreements`` (list of dicts), ``seconds``, ``seconds_per_region``,
    ``n_regions`` and ``backend``.

    Examples
    --------
    >>> from polyrank.faces import exact_check
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2), [[1.0, 1.0]]], [np.zeros(2), [0.5]])
    >>> exact_check(pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2)), backend="fractions")["disagreements"]
    []
    """
    flint = _flint() if backend in (None, "flint") else None
    if backend == "flint" and flint is None:
        raise ImportError("backend='flint' needs python-flint: pip install python-flint")
    if backend not in (None, "flint", "fractions"):
        raise ValueError(f"backend must be None, 'flint' or 'fractions'; got {backend!r}.")
    ops = _FlintOps(flint) if flint is not None else _FractionOps()
    net, K = dec.net, dec.layer
    Ws = [ops.mat(W) for W in net.weights[:K]]
    bs = [ops.col(b) for b in net.biases[:K]]
    d = net.input_dim
    I = ops.mat(np.eye(d))
    dom = dec.domain
    if dom is not None:
        Ad, bd = ops.mat(np.asarray(dom.A)), ops.col(np.asarray(dom.b))
    offsets = np.concatenate([[0], np.cumsum(net.widths[:K])])
    out = []
    t0 = time.perf_counter()
    for r in dec.regions:
        x = ops.col(r.witness)
        pat = np.asarray(r.pattern, dtype=bool)
        if dom is not None:
            s = ops.signs(ops.matmul(Ad, x) - bd)
            for j in np.flatnonzero(s >= 0):
                out.append(dict(region=r.index, kind="witness", layer=0, unit=int(j),
                                engine="inside", exact="on or outside the domain constraint"))
        h, A = x, I
        for l in range(K):
            z = ops.add(ops.matmul(Ws[l], h), bs[l])
            M = ops.matmul(Ws[l], A)
            p = pat[offsets[l]: offsets[l + 1]]
            s = ops.signs(z)
            zero_unit = (s == 0) & ops.zero_rows(M)
            wrong = np.flatnonzero(np.where(p, s <= 0, (s >= 0) & ~zero_unit))
            for u in wrong:
                out.append(dict(region=r.index, kind="witness", layer=l + 1, unit=int(u),
                                engine="active" if p[u] else "inactive",
                                exact=["negative", "zero", "positive"][int(s[u]) + 1]))
            h = ops.mask_rows(z, p)
            A = ops.mask_rows(M, p)
            rk = ops.rank(A)
            if rk != r.ranks[l]:
                out.append(dict(region=r.index, kind="rank", layer=l + 1, unit=None,
                                engine=int(r.ranks[l]), exact=int(rk)))
    secs = time.perf_counter() - t0
    return dict(disagreements=out, seconds=secs, seconds_per_region=secs / max(len(dec), 1),
                n_regions=len(dec), backend=ops.name)
