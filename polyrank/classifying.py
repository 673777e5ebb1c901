"""Representation classifying spaces: the paper's appendix 7 made algorithmic.

Appendix 7 conjectures that, when a network sends pieces of a manifold ``X`` to
contractible sets, the representations it can produce are the quotients of ``X`` by
unions of submanifolds, one homotopy class of embedding at a time, and works the
circle and the torus by hand. :func:`classifying_space` enumerates these quotients on
a mesh and returns one row per distinct homology type; :func:`classify` names the
type of the quotient a given network produces (:func:`polyrank.analyze`).

Method (documented in ``docs/classifying.md``):

* **Generators.** A closed curve has *arcs* (single edges: any contractible piece of
  a circle is homotopy equivalent to one) and the *whole* curve. A closed surface has *disks* (closed vertex stars), *trivial loops* (vertex
  links: curves that bound a disk), *curves* (simple edge cycles) in every nonzero
  class of ``H_1(X; Z)`` within a coordinate bound, and the *whole* surface.
* **Classes.** A tree-cotree decomposition (a BFS spanning tree of the vertices, a
  spanning tree of the faces across the other edges, the ``L = 2 - chi`` edges left
  over) gives every edge ``e`` an integer vector ``lambda(e)``: the class of the
  tree cycle through ``e`` in the basis of the leftover cycles. The class of an edge
  cycle is the sum of ``lambda`` along it, modulo ``2 w`` on a non-orientable surface
  (the last face's relation: ``H_1 = Z^L / <2 w>``). Curves of a class ``h`` are the
  projections of shortest paths from ``(s, 0)`` to ``(s, h)`` in the covering graph
  with vertices ``(v, h)``, from a spread set of base vertices ``s`` (hop count, ties
  broken by a jittered edge length); walks that revisit a vertex or have a chord are
  dropped, and disjoint parallel copies are searched with earlier copies removed. On an orientable surface the classes are renamed in a
  basis of short curves (the geometrically shortest class, then the next shortest
  that extends it to a basis, ...): on a torus ``(1, 0)`` is the *meridian* and
  ``(0, 1)`` the *longitude*.
* **Combinations** of up to ``max_pieces`` generators are placed in minimal position:
  pieces that can be disjoint are vertex-disjoint, two curves that must cross meet in
  as few components as any pair of representatives found, and no point lies on three
  pieces. Pieces that meet are glued to one point; the others are glued in every
  grouping (each to its own point, all to one point, ...). The paper's *sequences*
  (a quotient, then a quotient of the result) are these groupings: quotienting the
  image of a piece that avoids the earlier apexes glues it to its own point, one
  through an apex joins that apex's group.
* **Types.** Each quotient is computed with GUDHI (:func:`polyrank.quotient_betti`,
  one cone apex per group) over ``field`` and over Z/2 and Z/3; two quotients have
  the same type when all three agree.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ._validation import check_positive_int, check_prime
from .complex import SimplicialComplex
from .topology import MAX_FIELD

__all__ = ["classify", "classifying_space", "double_torus"]

#: Base vertices ``s`` (chosen far apart) from which curves of each class are searched.
N_SOURCES = 32
#: Representatives kept per generator class for the placement search.
POOL_SIZE = 12
#: Largest coordinate bound searched on the covering graph (raw tree-cotree coordinates).
MAX_COVER_BOX = 4
#: Largest covering graph (vertices) built; beyond it the coordinate box shrinks.
MAX_COVER_NODES = 400_000
#: Pairwise disjoint copies of each curve class searched (parallel meridians, ...).
PARALLEL_COPIES = 3
#: Base vertices used per search for a disjoint copy.
PARALLEL_SOURCES = 8
#: Weight of the geometric edge length (relative to one hop) in the curve search: shortest
#: curves in hop count, ties broken towards geometrically straight (hence simple) ones.
GEOMETRIC_WEIGHT = 0.1
#: Largest distance (relative to the mesh's scale) between a mesh vertex and its copy in
#: the refined mesh of :func:`classify`.
VERTEX_MATCH_TOL = 1e-9
#: Placements tried per combination of generator classes before giving up on it.
MAX_PLACEMENTS = 20_000

_KINDS_CURVE = ("arcs", "whole")
_KINDS_SURFACE = ("disks", "loops", "curves", "whole")
_TYPE_COLUMNS = ["betti", "torsion", "pieces", "glued", "n_pieces", "betti_z2", "betti_z3",
                 "realizations", "example"]


# ---------------------------------------------------------------------- validation
def _check_K(K, func):
    if not isinstance(K, SimplicialComplex):
        raise TypeError(f"K of {func} must be a SimplicialComplex (e.g. pr.torus(16, 8)); "
                        f"got {type(K).__name__}.")
    if len(K) == 0:
        raise ValueError(f"K of {func} has no simplices.")
    return K


def _check_closed_curve(K, func):
    E = np.sort(K.simplices, axis=1)
    deg = np.bincount(E.ravel(), minlength=K.n_vertices)
    used = deg > 0
    if (E[:, 0] == E[:, 1]).any() or len(np.unique(E, axis=0)) != len(E):
        raise ValueError(f"K of {func} must be a closed curve (a cycle of distinct edges); it repeats an edge "
                         "or has a loop edge.")
    if (deg[used] != 2).any():
        v = int(np.flatnonzero(used & (deg != 2))[0])
        raise ValueError(f"K of {func} must be a closed curve (every vertex in exactly two edges); vertex {v} "
                         f"lies in {int(deg[v])}.")
    if len(K.components()) != 1:
        raise ValueError(f"K of {func} must be one closed curve; it has {len(K.components())} components.")


def _check_generators(generators, dim, func):
    kinds = _KINDS_CURVE if dim == 1 else _KINDS_SURFACE
    if isinstance(generators, str) and generators == "auto":
        return kinds
    if isinstance(generators, str):
        generators = (generators,)
    try:
        gens = tuple(generators)
    except TypeError:
        gens = None
    if not gens or any(g not in kinds for g in gens):
        raise ValueError(f"The 'generators' parameter of {func} must be 'auto' or a subset of {kinds} for a "
                         f"{dim}-dimensional K. Got {generators!r} instead.")
    return tuple(k for k in kinds if k in gens)


# ---------------------------------------------------------------------- mesh data
def _farthest_vertices(nbrs, start, k, nv):
    """Up to ``k`` vertices chosen greedily far apart in graph distance (deterministic)."""
    from scipy.sparse.csgraph import shortest_path

    chosen = [start]
    dist = shortest_path(nbrs, unweighted=True, indices=[start], directed=False)[0]
    while len(chosen) < min(k, nv):
        d = np.where(np.isfinite(dist), dist, -1)
        d[chosen] = -1
        nxt = int(np.argmax(d))
        if d[nxt] < 0:
            break
        chosen.append(nxt)
        dist = np.minimum(dist, shortest_path(nbrs, unweighted=True, indices=[nxt], directed=False)[0])
    return chosen


def _walk_cycle(nbrs, start):
    """The vertices of a graph in which every vertex has two neighbours (``nbrs``: vertex ->
    its neighbours), in the order of a walk around the cycle from ``start``."""
    cyc, prev, cur = [start], None, start
    while True:
        nxt = next(x for x in nbrs[cur] if x != prev) if prev is not None else nbrs[cur][0]
        if nxt == start:
            break
        cyc.append(nxt)
        prev, cur = cur, nxt
    return cyc


class _Surface:
    """Edges, tree-cotree homology coordinates and vertex stars of a closed surface mesh."""

    def __init__(self, K, seed=0):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import breadth_first_order

        self.K = K
        self.rng = np.random.default_rng(seed)
        T = np.asarray(K.simplices, dtype=np.int64)
        nv = K.n_vertices
        self.nv, self.T = nv, T
        loc = np.array([[0, 1], [1, 2], [2, 0]])
        D = T[:, loc]                                     # directed edges of each triangle (F, 3, 2)
        U = np.sort(D, axis=2)
        keys = U[..., 0] * nv + U[..., 1]
        ukeys, inv = np.unique(keys.ravel(), return_inverse=True)
        self.E = np.stack([ukeys // nv, ukeys % nv], axis=1)
        self.ekeys = ukeys
        ne = len(self.E)
        fe = inv.reshape(-1, 3)                           # edge id of each triangle side
        fsign = np.where(D[..., 0] == U[..., 0], 1, -1)    # +1 if the side runs low -> high
        self.fe, self.fsign = fe, fsign
        A = coo_matrix((np.ones(ne), (self.E[:, 0], self.E[:, 1])), shape=(nv, nv)).tocsr()
        self.graph = A + A.T
        # primal BFS tree
        order, pred = breadth_first_order(self.graph, int(T[0, 0]), directed=False, return_predecessors=True)
        tree = np.zeros(ne, dtype=bool)
        child = order[1:]
        tree[self.edge_ids(np.minimum(child, pred[child]), np.maximum(child, pred[child]))] = True
        # faces of each edge
        occ = np.argsort(fe.ravel(), kind="stable")
        ef = (occ // 3).reshape(ne, 2)                    # the two faces of each edge (closed surface)
        self.ef = ef
        # dual BFS tree across non-tree edges
        nf = len(T)
        nt = ~tree
        dual = coo_matrix((np.ones(2 * nt.sum()), (np.r_[ef[nt, 0], ef[nt, 1]], np.r_[ef[nt, 1], ef[nt, 0]])),
                          shape=(nf, nf)).tocsr()
        forder, fpred = breadth_first_order(dual, 0, directed=False, return_predecessors=True)
        fpar_edge = np.full(nf, -1)
        cotree = np.zeros(ne, dtype=bool)
        for f in forder[1:]:
            g = fpred[f]
            cand = [int(e) for e in fe[f] if nt[e] and g in ef[e] and not cotree[e]]
            e = cand[0]
            cotree[e] = True
            fpar_edge[f] = e
        left = np.flatnonzero(nt & ~cotree)
        L = len(left)
        lam = np.zeros((ne, L), dtype=np.int64)
        lam[left, np.arange(L)] = 1
        for f in forder[:0:-1]:                            # leaves first, root excluded
            p = fpar_edge[f]
            acc = np.zeros(L, dtype=np.int64)
            sp = 0
            for s in range(3):
                e = fe[f, s]
                if e == p:
                    sp = fsign[f, s]
                else:
                    acc += fsign[f, s] * lam[e]
            lam[p] = -sp * acc
        root = forder[0]
        r = sum(fsign[root, s] * lam[fe[root, s]] for s in range(3)) if L else np.zeros(0, dtype=np.int64)
        r = np.asarray(r, dtype=np.int64)
        self.lam, self.L = lam, L
        self.orientable = not r.any()
        self.w = r // 2 if not self.orientable else None
        # stars and links
        self.vertex_tris = [[] for _ in range(nv)]
        for t, tri in enumerate(T):
            for v in tri:
                self.vertex_tris[v].append(t)
        self.spread = _farthest_vertices(self.graph, int(T[0, 0]), max(N_SOURCES, POOL_SIZE + 4), nv)

    def edge_ids(self, a, b):
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        return np.searchsorted(self.ekeys, lo * self.nv + hi)

    # -- classes
    def canon(self, h):
        """Canonical key of the unoriented class of ``h`` (up to sign, and mod 2w if non-orientable)."""
        h = np.asarray(h, dtype=np.int64)
        outs = []
        for g in (h, -h):
            if self.w is not None:
                i = int(np.flatnonzero(self.w)[0])
                m = 2 * abs(int(self.w[i]))
                k = (g[i] % m - g[i]) // (2 * int(self.w[i]))
                g = g + 2 * k * self.w
            outs.append(tuple(int(x) for x in g))
        return min(outs)

    def cycle_class(self, cyc):
        a = np.asarray(cyc)
        b = np.roll(a, -1)
        e = self.edge_ids(a, b)
        sgn = np.where(a < b, 1, -1)
        return (sgn[:, None] * self.lam[e]).sum(axis=0)

    def one_sided(self, cyc):
        """Whether a simple edge cycle is one-sided (its neighbourhood is a Moebius band).

        The neighbourhood is the union of the triangles at the cycle's vertices; the
        cycle is one-sided when these triangles cannot be oriented coherently across
        the edges they share.
        """
        if self.orientable:
            return False
        tris = sorted({t for v in cyc for t in self.vertex_tris[v]})
        inside = set(tris)
        orient = {tris[0]: 1}
        stack = [tris[0]]
        while stack:
            f = stack.pop()
            for s in range(3):
                e = self.fe[f, s]
                for g in self.ef[e]:
                    g = int(g)
                    if g == f or g not in inside:
                        continue
                    sg = int(self.fsign[g][list(self.fe[g]).index(e)])
                    want = -orient[f] * int(self.fsign[f, s]) * sg
                    if g not in orient:
                        orient[g] = want
                        stack.append(g)
                    elif orient[g] != want:
                        return True
        return False

    def star(self, v):
        return self.T[self.vertex_tris[v]]

    def link_cycle(self, v):
        """The link of vertex ``v`` as a vertex cycle."""
        tris = self.T[self.vertex_tris[v]]
        nb = {}
        for tri in tris:
            o = [int(x) for x in tri if x != v]
            nb.setdefault(o[0], []).append(o[1])
            nb.setdefault(o[1], []).append(o[0])
        return _walk_cycle(nb, next(iter(nb)))

    # -- curves on the covering graph
    def build_cover(self, bound):
        """The covering graph: vertices ``(v, h)``, ``h`` in ``[-B, B]^L``; edges lifted by ``lambda``."""
        from scipy.sparse import coo_matrix

        L = self.L
        B = bound
        while B > 1 and self.nv * (2 * B + 1) ** L > MAX_COVER_NODES:
            B -= 1
        side = 2 * B + 1
        nb = side ** L
        grid = np.array(list(itertools.product(range(-B, B + 1), repeat=L)), dtype=np.int64)
        strides = side ** np.arange(L - 1, -1, -1)
        self._flat = lambda h: ((np.asarray(h) + B) * strides).sum(axis=-1)
        V = self.K.vertices
        elen = np.linalg.norm(V[self.E[:, 0]] - V[self.E[:, 1]], axis=1)
        # hop count, ties broken by (jittered) length: mostly straight curves, and the jitter
        # lets staircase curves interleave their steps instead of revisiting a vertex
        elen = 1.0 + GEOMETRIC_WEIGHT * elen / elen.mean() * self.rng.uniform(0.25, 1.75, len(elen))
        rows, cols, wts = [], [], []
        for (a, b), le, w in zip(self.E, self.lam, elen):
            tgt = grid + le
            ok = (np.abs(tgt) <= B).all(axis=1)
            rows.append(a * nb + self._flat(grid[ok]))
            cols.append(b * nb + self._flat(tgt[ok]))
            wts.append(np.full(int(ok.sum()), w))
        rows, cols, wts = np.concatenate(rows), np.concatenate(cols), np.concatenate(wts)
        N = self.nv * nb
        self.cover = coo_matrix((np.r_[wts, wts], (np.r_[rows, cols], np.r_[cols, rows])), shape=(N, N)).tocsr()
        self._nb = nb
        self._targets = {}
        for g in grid:
            key = self.canon(g)
            if any(key) and (np.abs(g) <= max(1, B - 1)).all():   # class 0 (e.g. 2w): trivial loops
                self._targets.setdefault(key, []).append(g)

    def search(self, sources, keys=None, exclude=()):
        """Simple edge cycles per class key found from ``sources``, avoiding vertices in ``exclude``."""
        from scipy.sparse import diags
        from scipy.sparse.csgraph import dijkstra

        nb, G = self._nb, self.cover
        if exclude:
            keep = np.ones(self.nv, dtype=bool)
            keep[list(exclude)] = False
            D = diags(np.repeat(keep, nb).astype(float))
            G = D @ G @ D
        keys = list(self._targets) if keys is None else [k for k in keys if k in self._targets]
        zero = int(self._flat(np.zeros(self.L, dtype=np.int64)))
        found = {}
        for s in sources:
            if s in exclude:
                continue
            start = s * nb + zero
            _, pred = dijkstra(G, directed=True, indices=start, return_predecessors=True)
            for key in keys:
                for h in self._targets[key]:
                    node = s * nb + int(self._flat(h))
                    if pred[node] < 0:
                        continue
                    path = [node]
                    while path[-1] != start:
                        path.append(pred[path[-1]])
                    verts = [int(p // nb) for p in path[:-1]]
                    if len(verts) < 3 or len(set(verts)) != len(verts):
                        continue
                    if self.graph[verts][:, verts].nnz != 2 * len(verts):
                        continue                  # a chord: keep induced cycles, whose copies can be disjoint
                    ek = frozenset(self.edge_ids(np.array(verts), np.roll(np.array(verts), -1)).tolist())
                    found.setdefault(key, {}).setdefault(ek, verts)
        return {k: list(v.values()) for k, v in found.items()}

    def parallel(self, key, curve, k):
        """Up to ``k - 1`` more curves of class ``key``, pairwise disjoint and disjoint from ``curve``."""
        out, occupied = [], set(curve)
        for _ in range(k - 1):
            srcs = [s for s in self.spread if s not in occupied][:PARALLEL_SOURCES]
            more = self.search(srcs, [key], occupied).get(key, [])
            if not more:
                break
            c = min(more, key=len)
            out.append(c)
            occupied |= set(c)
        return out


# ---------------------------------------------------------------------- pieces
@dataclass
class _Piece:
    kind: str            # generator class name
    order: int           # sort key of the class
    simplices: list      # simplices (tuples) of the piece
    verts: frozenset     # vertices the piece occupies (for disks/loops: the whole closed star)
    cverts: frozenset    # vertices of the piece itself
    cedges: frozenset    # edges (as sorted pairs) of the piece itself
    cycle: list = None   # the vertex cycle, for curves


def _cycle_piece(kind, order, cyc, occupied=None):
    n = len(cyc)
    edges = [tuple(sorted((int(cyc[i]), int(cyc[(i + 1) % n])))) for i in range(n)]
    cv = frozenset(int(v) for v in cyc)
    return _Piece(kind, order, edges, cv if occupied is None else occupied, cv, frozenset(edges), list(cyc))


def _meet_components(p, q):
    """Connected components of the intersection of two pieces (vertices joined by shared edges)."""
    common = p.cverts & q.cverts
    if not common:
        return 0
    parent = {v: v for v in common}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in p.cedges & q.cedges:
        parent[find(a)] = find(b)
    return len({find(v) for v in common})


def _set_partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _set_partitions(rest):
        for i in range(len(part)):
            yield part[:i] + [[first] + part[i]] + part[i + 1:]
        yield [[first]] + part


def _plural(name, k):
    if k == 1:
        return name
    if " curve (" in name:
        return name.replace(" curve (", " curves (")
    return name + "s"


def _describe(kinds):
    cnt = Counter(kinds)
    names = sorted(cnt, key=lambda k: kinds.index(k))
    return " + ".join(f"{cnt[k]} {_plural(k, cnt[k])}" for k in names)


def _describe_glue(groups, k):
    if len(groups) == 1:
        return "to one point"
    if len(groups) == k:
        return "each to its own point"
    sizes = sorted((len(g) for g in groups), reverse=True)
    return f"to {len(groups)} points (" + "+".join(map(str, sizes)) + ")"


class _Generators:
    """Generator classes of a mesh, each with a pool of representative pieces."""

    def __init__(self, K, kinds, curve_bound, seed):
        self.classes = []   # (name, [pieces])
        self.names = {}
        self.basis = None
        if K.dim == 1:
            self._curve(K, kinds)
        else:
            self._surface(K, kinds, curve_bound, seed)

    def _curve(self, K, kinds):
        E = np.sort(K.simplices, axis=1)
        used = np.unique(E)
        nbr = {int(v): [] for v in used}
        for a, b in E:
            nbr[int(a)].append(int(b))
            nbr[int(b)].append(int(a))
        cyc = _walk_cycle(nbr, int(used[0]))
        n = len(cyc)
        if "arcs" in kinds:                               # single edges: the smallest arcs
            step = max(1, n // (2 * POOL_SIZE))
            pool = []
            for i in range(0, n, step):
                a, b = cyc[i], cyc[(i + 1) % n]
                simp = [tuple(sorted((a, b)))]
                vs = frozenset((a, b))
                pool.append(_Piece("arc", 0, simp, vs, vs, frozenset(simp)))
            self.classes.append(("arc", pool[:2 * POOL_SIZE]))
        if "whole" in kinds:
            self.classes.append(("whole circle", [_cycle_piece("whole circle", 9, cyc)]))
        self.surface = None

    def _surface(self, K, kinds, curve_bound, seed):
        S = _Surface(K, seed)
        self.surface = S
        spread = S.spread[:POOL_SIZE + 4]
        if "disks" in kinds:
            pool = []
            for v in spread:
                st = S.star(v)
                vs = frozenset(int(x) for x in st.ravel())
                pool.append(_Piece("disk", 0, [tuple(map(int, t)) for t in st], vs, vs,
                                   frozenset(tuple(sorted(e)) for t in st for e in itertools.combinations(map(int, t), 2))))
            self.classes.append(("disk", pool[:POOL_SIZE]))
        if "loops" in kinds:
            pool = []
            for v in spread:
                occ = frozenset(int(x) for x in S.star(v).ravel())
                pool.append(_cycle_piece("trivial loop", 1, S.link_cycle(v), occupied=occ))
            self.classes.append(("trivial loop", pool[:POOL_SIZE]))
        if "curves" in kinds and S.L:
            S.build_cover(min(MAX_COVER_BOX, max(2, curve_bound + 1 + (S.L <= 2) * 2)))
            found = S.search(S.spread[:N_SOURCES])
            V = K.vertices

            def glen(c):
                a = np.asarray(c)
                return float(np.linalg.norm(V[a] - V[np.roll(a, -1)], axis=1).sum())

            best = {k: min(glen(c) for c in cs) for k, cs in found.items()}
            keys = sorted(found, key=lambda k: (best[k], k))
            coords = {k: np.array(k) for k in keys}
            if S.orientable:
                basis = []
                for k in keys:                            # shortest first, kept if still extendable
                    trial = basis + [np.array(k)]
                    if _extends_to_basis(np.array(trial)):
                        basis = trial
                    if len(basis) == S.L:
                        break
                if len(basis) == S.L:
                    Bm = np.array(basis, dtype=float).T
                    self.basis = np.array(basis)
                    coords = {k: np.rint(np.linalg.solve(Bm, np.array(k, dtype=float))).astype(int) for k in keys}
            kept = []
            for k in keys:
                c = coords[k]
                if np.abs(c).max() > curve_bound:
                    continue
                c = c if c[np.flatnonzero(c)[0]] > 0 else -c
                kept.append((k, tuple(int(x) for x in c)))
            for rank_, (k, c) in enumerate(kept):
                curves = sorted(found[k], key=lambda cyc: (len(cyc), glen(cyc)))
                pieces = []
                one = S.one_sided(curves[0]) if not S.orientable else False
                name = self._curve_name(c, S, one)
                family = [curves[0]] + S.parallel(k, curves[0], PARALLEL_COPIES)
                for cyc in family + [c for c in _spread_pick(curves, POOL_SIZE) if c not in family]:
                    pieces.append(_cycle_piece(name, 2 + rank_, cyc))
                pieces = pieces[:POOL_SIZE + PARALLEL_COPIES]
                self.names[name] = c
                self.classes.append((name, pieces))
        if "whole" in kinds:
            T = [tuple(map(int, t)) for t in S.T]
            vs = frozenset(int(x) for x in S.T.ravel())
            self.classes.append(("whole surface", [_Piece("whole surface", 99, T, vs, vs, frozenset())]))

    def _curve_name(self, c, S, one_sided):
        if S.orientable and self.basis is not None and S.L == 2:
            if c == (1, 0):
                return "meridian"
            if c == (0, 1):
                return "longitude"
        txt = "(" + ", ".join(map(str, c)) + ")"
        if not S.orientable:
            return ("one-sided" if one_sided else "two-sided") + f" curve {txt}"
        return f"{txt} curve"


def _extends_to_basis(M):
    """Whether the integer rows of ``M`` extend to a basis of ``Z^L``: gcd of maximal minors is 1."""
    k, L = M.shape
    g = 0
    for cols in itertools.combinations(range(L), k):
        g = np.gcd(g, round(np.linalg.det(M[:, cols].astype(float))))
    return g == 1


def _spread_pick(curves, k):
    """Up to ``k`` curves, shortest first, preferring ones disjoint from those already picked."""
    picked = []
    occupied = set()
    for c in curves:
        if not occupied & set(c):
            picked.append(c)
            occupied |= set(c)
        if len(picked) >= k:
            return picked
    for c in curves:
        if c not in picked:
            picked.append(c)
        if len(picked) >= k:
            break
    return picked


# ---------------------------------------------------------------------- enumeration
def _pair_minima(classes):
    """Minimal number of intersection components between representatives of two classes."""
    n = len(classes)
    mins = {}
    for i in range(n):
        for j in range(i, n):
            best = None
            for a in classes[i][1]:
                for b in classes[j][1]:
                    if a is b:
                        continue
                    if not (a.verts & b.verts):
                        best = 0
                        break
                    if classes[i][0] in ("disk", "trivial loop") or classes[j][0] in ("disk", "trivial loop"):
                        continue
                    m = _meet_components(a, b)
                    best = m if best is None else min(best, m)
                if best == 0:
                    break
            mins[i, j] = mins[j, i] = best
    return mins


def _place(classes, combo, mins):
    """Representatives for the class indices ``combo`` in minimal position, or None."""
    k = len(combo)
    chosen = []
    tries = [0]

    def ok(p, ci):
        for (q, cj) in chosen:
            if p is q:
                return False
            need = mins[ci, cj]
            if need is None:
                return False
            if need == 0:
                if p.verts & q.verts:
                    return False
            elif _meet_components(p, q) != need:
                return False
        # no triple points
        for (q1, _), (q2, _) in itertools.combinations(chosen, 2):
            if p.cverts & q1.cverts & q2.cverts:
                return False
        return True

    def rec(i):
        if i == k:
            return True
        ci = combo[i]
        for p in classes[ci][1]:
            tries[0] += 1
            if tries[0] > MAX_PLACEMENTS:
                return False
            if ok(p, ci):
                chosen.append((p, ci))
                if rec(i + 1):
                    return True
                chosen.pop()
        return False

    return [p for p, _ in chosen] if rec(0) else None


def _meeting_blocks(placed):
    """Indices of the pieces grouped by connectivity of the 'meets' relation."""
    k = len(placed)
    label = list(range(k))
    for a, b in itertools.combinations(range(k), 2):
        if placed[a].verts & placed[b].verts:
            old, new = label[b], label[a]
            label = [new if x == old else x for x in label]
    blocks = {}
    for a in range(k):
        blocks.setdefault(label[a], []).append(a)
    return list(blocks.values())


def _quotient_type(K, groups, field):
    from .topology import quotient_betti

    pieces = [[s for p in g for s in p.simplices] for g in groups]
    fields = sorted({field, 2, 3})
    b = {p: tuple(quotient_betti(K, pieces, field=p)) for p in fields}
    return b[field], b[2], b[3]


def _enumerate(K, gens, max_pieces, field, progress):
    classes = gens.classes
    singles = [i for i, (name, _) in enumerate(classes) if name.startswith("whole")]
    multi = [i for i in range(len(classes)) if i not in singles]
    mins = _pair_minima(classes)
    combos = [(i,) for i in singles]
    for k in range(1, max_pieces + 1):
        combos += list(itertools.combinations_with_replacement(multi, k))
    types = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(combos), desc="classifying_space", leave=False)
    for combo in combos:
        if bar is not None:
            bar.update()
        placed = _place(classes, combo, mins)
        if placed is None:
            continue
        k = len(placed)
        blocks = _meeting_blocks(placed)      # pieces that meet must share a point
        kinds = [classes[c][0] for c in combo]
        for part in _set_partitions(blocks):
            groups = [[placed[a] for blk in grp for a in blk] for grp in part]
            key = _quotient_type(K, groups, field)
            desc = (_describe(kinds), _describe_glue(groups, k))
            rank = (k, len(groups) if k > 1 else 0, [classes[c][1][0].order for c in combo])
            ex = tuple(tuple(sorted({s for p in g for s in p.simplices})) for g in groups)
            if key not in types:
                types[key] = [rank, desc, ex, 1]
            else:
                ent = types[key]
                ent[3] += 1
                if rank < ent[0]:
                    ent[:3] = [rank, desc, ex]
    if bar is not None:
        bar.close()
    return types


def _frame(types):
    import pandas as pd

    rows = []
    for (b, b2, b3), (rank, (pieces, glued), ex, count) in types.items():
        rows.append({"betti": b, "torsion": b2 != b3, "pieces": pieces, "glued": glued, "n_pieces": rank[0],
                     "betti_z2": b2, "betti_z3": b3, "realizations": count, "example": ex, "_rank": rank})
    rows.sort(key=lambda r: (r["_rank"], r["betti"], r["betti_z2"]))
    df = pd.DataFrame(rows, columns=_TYPE_COLUMNS + ["_rank"])
    return df.drop(columns="_rank")


def _prepare(K, generators, func):
    K = _check_K(K, func)
    if K.dim not in (1, 2):
        raise ValueError(f"K of {func} must be a closed curve (dim 1) or a closed surface (dim 2); "
                         f"got a complex of dimension {K.dim}.")
    kinds = _check_generators(generators, K.dim, func)
    if K.dim == 1:
        _check_closed_curve(K, func)
    else:
        try:
            K.check_closed_surface()
        except ValueError as exc:
            raise ValueError(f"K of {func} must be a closed surface (disks, loops and curves are found on "
                             f"closed triangulated surfaces): {exc}") from exc
        if len(K.components()) != 1:
            raise ValueError(f"K of {func} must be connected; it has {len(K.components())} components.")
    return K, kinds


# ---------------------------------------------------------------------- public API
def classifying_space(K, *, max_pieces=2, generators="auto", field=11, curve_bound=1, seed=0,
                      progress=False):
    """The quotient types of a closed curve or surface by unions of submanifolds (appendix 7).

    Enumerates the quotients ``X / {A_1, ..., A_r}`` of the mesh by up to
    ``max_pieces`` generator pieces (contractible pieces and simple closed curves of
    every homology class within ``curve_bound``), placed in minimal position and
    glued to points in every grouping, and returns one row per distinct homology type.

    Parameters
    ----------
    K : SimplicialComplex
        A closed curve (every vertex in two edges, connected) or a connected closed
        triangulated surface.
    max_pieces : int, default 2
        Largest number of generator pieces combined, ``>= 1``.
    generators : "auto" or sequence of str, default "auto"
        Generator kinds. A curve: ``"arcs"`` (contractible pieces) and ``"whole"``
        (the curve itself). A surface: ``"disks"`` (closed vertex stars),
        ``"loops"`` (vertex links: trivial loops), ``"curves"`` (simple edge cycles in
        nonzero classes of ``H_1(X; Z)``) and ``"whole"`` (the surface). ``"auto"``
        uses all of them. ``"whole"`` is never combined with other pieces.
    field : int, default 11
        Prime p: the ``betti`` column is homology over Z/p.
    curve_bound : int, default 1
        Curves of classes with coordinates ``|c_i| <= curve_bound`` (in a basis of short
        curves on an orientable surface; in the tree-cotree basis otherwise).
    seed : None, int, SeedSequence or Generator, default 0
        Source of the jitter that breaks ties between shortest curves (see Notes); the
        table is meant not to depend on it.
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per type, simplest realisation first, columns:
        ``betti`` (reduced Betti numbers over Z/field, tuple), ``torsion`` (True when
        Z/2 and Z/3 Betti numbers differ: integral 2- or 3-torsion), ``pieces`` (e.g.
        ``"2 disks + 1 meridian"``), ``glued`` (``"to one point"``, ``"each to its own
        point"`` or ``"to 2 points (2+1)"``), ``n_pieces``, ``betti_z2``, ``betti_z3``,
        ``realizations`` (how many enumerated configurations have this type) and
        ``example`` (the simplices of each glued group of the simplest realisation).

    Raises
    ------
    TypeError
        If ``K`` is not a SimplicialComplex.
    ValueError
        If ``K`` is not a closed curve or a connected closed surface, ``max_pieces < 1``,
        ``curve_bound < 1``, ``generators`` names an unknown kind or ``field`` is not a
        prime.

    Notes
    -----
    Two quotients have the same type when their Betti numbers over Z/field, Z/2 and
    Z/3 agree (a homology type, not a homotopy type). Curves are searched as shortest
    paths in a covering graph (module docstring, ``docs/classifying.md``); the search
    is heuristic (a class whose curves are all found non-simple is left out), and
    minimal position is the least intersection among the representatives found.
    Cost: one Dijkstra search per base vertex (``N_SOURCES``) on the
    ``n_vertices * (2B + 1)^L`` covering vertices, a few more per class for disjoint
    copies, then three GUDHI runs per configuration; ``max_pieces`` grows the number of
    configurations like ``n_classes^max_pieces`` (about 5 s for ``max_pieces=3`` on a
    32 x 16 torus, ``benchmarks/classifying.py``).

    Examples
    --------
    A circle: one arc glued to a point leaves a circle, two arcs glued to one point
    a wedge of two circles, the whole circle a point:

    >>> df = pr.classifying_space(pr.circle(12), max_pieces=2)
    >>> for row in df.itertuples():
    ...     print(row.betti, row.pieces, row.glued, sep=" | ")
    (0, 1) | 1 arc | to one point
    (0, 0) | 1 whole circle | to one point
    (0, 2) | 2 arcs | to one point
    """
    func = "classifying_space"
    max_pieces = check_positive_int(max_pieces, name="max_pieces", func=func)
    curve_bound = check_positive_int(curve_bound, name="curve_bound", func=func)
    field = check_prime(field, func=func, maximum=MAX_FIELD)
    K, kinds = _prepare(K, generators, func)
    gens = _Generators(K, kinds, curve_bound, seed)
    types = _enumerate(K, gens, max_pieces, field, progress)
    return _frame(types)


def classify(net, K, layer=None, *, max_pieces=None, glue="cell", glue_rank=1, field=11, curve_bound=1,
             seed=0):
    """Name the type of the quotient a network makes of a manifold: its row of the classifying space.

    Runs :func:`polyrank.analyze` (exact refinement of ``K`` along the network's regions;
    the low-rank pieces ``A_i`` glued to points), computes the type of
    ``X / {A_1, ..., A_r}`` and of each ``A_i`` (the image of ``H_1(A_i)`` in
    ``H_1(X)``), and returns the matching row of :func:`classifying_space`.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        A closed curve or closed surface in ``R^input_dim``.
    layer : int, optional
        Hidden layer (default: the last).
    max_pieces : int, optional
        ``max_pieces`` of the table searched; default: the number of pieces the network
        glues (at least 1, at most 3).
    glue, glue_rank, field
        As :func:`polyrank.analyze`.
    curve_bound, seed
        As :func:`classifying_space`.

    Returns
    -------
    pandas.Series
        The matching row (``betti``, ``torsion``, ``pieces``, ``glued``, ...) plus
        ``components`` (one description per glued piece ``A_i``: the name of its curve
        class in ``K``'s table, e.g. ``"meridian"``, when all its 1-cycles lie in one
        named class; else ``"contractible"``, ``"trivial loop"`` or the rank of the image
        of ``H_1(A_i)`` in ``H_1(X)``), ``matched`` (False when the type is not in the table: then
        ``pieces`` and ``glued`` are empty strings) and ``n_glued``.

    Raises
    ------
    TypeError, ValueError
        As :func:`polyrank.analyze` and :func:`classifying_space`.

    Notes
    -----
    The row is matched by type (Betti numbers over Z/field, Z/2, Z/3), so a network
    gluing a longitude returns the row "1 meridian" (same type) with ``components``
    ``["longitude"]``. Classes of the pieces: ``K``'s named curves are carried to the
    refined mesh (each edge becomes the straight shortest path between its end points)
    and classified there with the refined mesh's own tree-cotree coordinates, as are the
    fundamental cycles of a spanning forest of each piece. Cost: :func:`polyrank.analyze`,
    :func:`classifying_space` on ``K`` and one curve search on ``K``.

    Examples
    --------
    A one-layer network whose units are all off on one arc of the circle glues that arc
    to a point: the quotient is again a circle, the type "1 arc":

    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [[0.5, 0.5]])
    >>> row = pr.classify(net, pr.circle(32))
    >>> row["betti"], row["pieces"], row["components"]
    ((0, 1), '1 arc', ['contractible'])
    """
    from .analysis import analyze
    from .topology import betti, quotient_betti, relative_betti

    func = "classify"
    field = check_prime(field, func=func, maximum=MAX_FIELD)
    K, _ = _prepare(K, "auto", func)
    rep = analyze(net, K, layer=layer, glue=glue, glue_rank=glue_rank, field=field, image=False)
    X = rep.refinement.complex
    pieces = [X.subcomplex(p) for p in rep.pieces]
    plist = [p.simplices for p in pieces]
    fields = sorted({field, 2, 3})
    if plist:
        b = {p: tuple(quotient_betti(X, plist, field=p)) for p in fields}
    else:
        from .topology import reduced_betti

        b = {p: tuple(reduced_betti(X, field=p)) for p in fields}
    key = (b[field], b[2], b[3])
    bX = betti(X, field=field)
    names = [None] * len(pieces)
    if K.dim == 2 and pieces:
        names = _name_components(K, X, _Generators(K, ("curves",), curve_bound, seed), pieces)
    comps = []
    for P, name in zip(pieces, names):
        r = relative_betti(X, P.simplices, field=field)
        b1A = r.A[1] if len(r.A) > 1 else 0
        image = bX[1] - r.relative[1] + (r.A[0] - 1) if len(bX) > 1 else 0
        if name:                              # one nonzero integral class (torsion included)
            comps.append(name)
        elif image == 0:
            comps.append("contractible" if b1A == 0 and r.A[0] == 1 and all(x == 0 for x in r.A[2:])
                         else "trivial loop" if b1A == 1 else f"H_1 of rank {b1A}, image 0")
        else:
            comps.append(f"image of rank {image} in H_1(X)")
    if max_pieces is None:
        max_pieces = min(3, max(1, len(pieces)))
    table = classifying_space(K, max_pieces=max_pieces, field=field, curve_bound=curve_bound, seed=seed)
    hit = [i for i in range(len(table)) if (table["betti"][i], table["betti_z2"][i], table["betti_z3"][i]) == key]
    import pandas as pd

    if hit:
        row = table.iloc[hit[0]].copy()
        row["matched"] = True
    else:
        row = pd.Series({"betti": b[field], "torsion": b[2] != b[3], "pieces": "", "glued": "",
                         "n_pieces": len(pieces), "betti_z2": b[2], "betti_z3": b[3], "realizations": 0,
                         "example": (), "matched": False})
    row["components"] = comps
    row["n_glued"] = len(pieces)
    return row


def _name_components(K, X, gens, pieces):
    """The curve-class name of each piece whose 1-cycles all lie in one named class of K.

    ``""`` for a piece whose cycles are all null-homologous (over Z), ``"H_1 class (...)"``
    (X's tree-cotree coordinates) for one unnamed class, None when undecided.

    K's named curves are carried to the refined mesh X (each K edge becomes the shortest
    X path between its end points, the straight segment) and classified there with X's own
    tree-cotree coordinates; a piece's 1-cycles are the fundamental cycles of a spanning
    forest of its edges.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, dijkstra
    from scipy.spatial import cKDTree

    none = [None] * len(pieces)
    if gens.surface is not None and gens.surface.L == 0:
        return [""] * len(pieces)              # H_1 = 0: every cycle bounds
    curves = [(name, pool[0].cycle) for name, pool in gens.classes if pool and pool[0].cycle is not None
              and not name.startswith("whole")]
    if not curves or not X.is_closed_surface():
        return none
    SX = _Surface(X)
    scale = 1.0 + float(np.abs(K.vertices).max())
    dist, kx = cKDTree(X.vertices).query(K.vertices)
    if not (dist <= VERTEX_MATCH_TOL * scale).all():
        return none
    V = X.vertices
    a, b = SX.E.T
    W = coo_matrix((np.linalg.norm(V[a] - V[b], axis=1), (a, b)), shape=(X.n_vertices,) * 2).tocsr()
    W = W + W.T
    named = {}
    for name, cyc in curves:
        walk = []
        for u, v in zip(cyc, cyc[1:] + cyc[:1]):
            u, v = int(kx[u]), int(kx[v])
            _, pred = dijkstra(W, indices=u, return_predecessors=True)
            seg = [v]
            while seg[-1] != u:
                seg.append(int(pred[seg[-1]]))
            walk += seg[::-1][:-1]
        named.setdefault(SX.canon(SX.cycle_class(walk)), name)
    out = []
    for P in pieces:
        E = np.unique(np.sort(P.simplices[:, [[0, 1], [1, 2], [0, 2]]].reshape(-1, 2), axis=1), axis=0)
        eid = SX.edge_ids(E[:, 0], E[:, 1])
        sub = coo_matrix((np.ones(len(E)), (E[:, 0], E[:, 1])), shape=(X.n_vertices,) * 2).tocsr()
        sub = sub + sub.T
        phi = np.zeros((X.n_vertices, SX.L), dtype=np.int64)
        seen = np.zeros(X.n_vertices, dtype=bool)
        tree = set()
        for root in np.unique(E):
            if seen[root]:
                continue
            order, pred = breadth_first_order(sub, int(root), directed=True, return_predecessors=True)
            seen[order] = True
            for v in order[1:]:
                u = int(pred[v])
                e = int(SX.edge_ids(np.array([u]), np.array([v]))[0])
                phi[v] = phi[u] + (SX.lam[e] if u < v else -SX.lam[e])
                tree.add(e)
        keys = set()
        for (u, v), e in zip(E, eid):
            if int(e) not in tree:
                h = phi[u] + SX.lam[e] - phi[v]
                k = SX.canon(h)
                if any(k):
                    keys.add(k)
        if not keys:
            out.append("")
        elif len(keys) == 1:
            k = keys.pop()
            out.append(named.get(k, f"H_1 class {k}"))
        else:
            out.append(None)
    return out


def double_torus(n=8, m=6, *, R=2.0, r=1.0) -> SimplicialComplex:
    """A closed orientable surface of genus 2 in R^3: two grid tori joined by a tube.

    One triangle is removed from each of two ``pr.torus(n, m, R, r)`` meshes (the second
    mirrored and shifted along x so that the holes face each other) and the two
    triangle boundaries are joined by a triangulated prism (6 triangles).

    Parameters
    ----------
    n, m : int, default 8 and 6
        Grid sizes of each torus, ``n, m >= 3``.
    R, r : float, default 2.0 and 1.0
        Radii of each torus, ``R > r > 0``.

    Returns
    -------
    SimplicialComplex
        ``2 n m`` vertices, ``4 n m + 4`` triangles; Euler characteristic -2, Betti
        numbers ``(1, 4, 1)``.

    Raises
    ------
    ValueError
        As :func:`polyrank.torus`.

    Examples
    --------
    >>> K = pr.double_torus(6, 4)
    >>> K.euler_characteristic(), K.is_closed_surface(), pr.betti(K)
    (-2, True, [1, 4, 1])
    """
    from .manifolds import torus

    n = check_positive_int(n, name="n", func="double_torus", minimum=3)
    m = check_positive_int(m, name="m", func="double_torus", minimum=3)
    T1 = torus(n, m, R=R, r=r)
    nv = T1.n_vertices
    V2 = T1.vertices * np.array([-1.0, 1.0, 1.0]) + np.array([2 * (R + r) + 1.0, 0.0, 0.0])
    S = T1.simplices
    # the triangle (0, m, m + 1) of the first grid cell touches the outer equator at x = R + r
    hole = np.array([0, m, m + 1])
    keep = ~(np.sort(S, axis=1) == np.sort(hole)).all(axis=1)
    a, b, c = (int(x) for x in hole)
    A, B, C = a + nv, b + nv, c + nv
    tube = [(a, b, B), (a, B, A), (b, c, C), (b, C, B), (c, a, A), (c, A, C)]
    simp = np.concatenate([S[keep], S[keep] + nv, np.array(tube)])
    return SimplicialComplex(np.concatenate([T1.vertices, V2]), simp)
