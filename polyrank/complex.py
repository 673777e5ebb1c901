"""The complex type: :class:`SimplicialComplex`, a vertex array plus top simplices.

A :class:`SimplicialComplex` is a vertex array in ``R^m`` plus its top simplices as an
int array; faces are implied. Combinatorics (faces, boundary, Euler characteristic),
connected pieces and orientability live here; the meshes with known topology are built
in :mod:`polyrank.manifolds`, homology in :mod:`polyrank.topology`.

Conventions: the complex is the closure of ``simplices``; a vertex that lies in no
simplex is not part of it (and makes :meth:`SimplicialComplex.check_closed_surface` fail).
"""

from __future__ import annotations

import itertools

import numpy as np

from ._validation import as_real_array, check_int_range, check_simplex_ids, check_simplices

__all__ = ["SimplicialComplex"]


class SimplicialComplex:
    """A pure simplicial complex with vertex coordinates.

    Parameters
    ----------
    vertices : array-like of shape (n_vertices, m)
        Coordinates in R^m.
    simplices : array-like of int, shape (n_simplices, k + 1)
        The top-dimensional simplices (all of dimension k) as vertex indices;
        their faces are implied.

    Attributes
    ----------
    vertices : ndarray of shape (n_vertices, ambient_dim), read-only
    simplices : ndarray of int64, shape (n_simplices, dim + 1), read-only
    dim, ambient_dim, n_vertices : int

    Examples
    --------
    The boundary of a triangle is a closed curve with Euler characteristic 0:

    >>> K = pr.SimplicialComplex([[0, 0], [1, 0], [0, 1]], [[0, 1], [1, 2], [0, 2]])
    >>> K
    SimplicialComplex(n_vertices=3, n_simplices=3, dim=1, ambient_dim=2)
    >>> K.euler_characteristic()
    0
    """

    def __init__(self, vertices, simplices):
        V = as_real_array(vertices, name="vertices", what="an array of coordinates", copy=True)
        if V.ndim != 2:
            raise ValueError(f"vertices must have shape (n_vertices, m); got {V.shape}.")
        S = check_simplices(simplices, V.shape[0]).copy()
        if not np.isfinite(V).all():
            raise ValueError("vertices contain NaN or infinity.")
        V.setflags(write=False)
        S.setflags(write=False)
        self.vertices = V
        self.simplices = S

    @property
    def dim(self) -> int:
        """Dimension k of the top simplices."""
        return self.simplices.shape[1] - 1

    @property
    def ambient_dim(self) -> int:
        """Dimension m of the space holding the vertices."""
        return self.vertices.shape[1]

    @property
    def n_vertices(self) -> int:
        """Number of rows of ``vertices`` (used or not)."""
        return self.vertices.shape[0]

    def __len__(self):
        return self.simplices.shape[0]

    def __repr__(self):
        return (f"SimplicialComplex(n_vertices={self.n_vertices}, n_simplices={len(self)}, "
                f"dim={self.dim}, ambient_dim={self.ambient_dim})")

    # ------------------------------------------------------------------ combinatorics
    def faces(self, k) -> np.ndarray:
        """All distinct k-dimensional faces of the complex.

        Parameters
        ----------
        k : int
            Face dimension, ``0 <= k <= dim``.

        Returns
        -------
        ndarray of int64, shape (n_faces, k + 1)
            Each row sorted increasingly, rows in lexicographic order.

        Raises
        ------
        ValueError
            If ``k`` is not in ``0..dim``.

        Notes
        -----
        Cost: ``O(n_simplices * C(dim + 1, k + 1))`` plus a sort.

        Examples
        --------
        >>> pr.torus(3, 4).faces(1).shape
        (36, 2)
        """
        k = check_int_range(k, 0, self.dim, name="k", func="faces")
        return _faces(self.simplices, k)

    def edges(self) -> np.ndarray:
        """All distinct edges, as ``faces(1)``.

        Returns
        -------
        ndarray of int64, shape (n_edges, 2)

        Raises
        ------
        ValueError
            If the complex has dimension 0.

        Examples
        --------
        >>> pr.circle(5).edges().tolist()
        [[0, 1], [0, 4], [1, 2], [2, 3], [3, 4]]
        """
        return self.faces(1)

    def f_vector(self) -> list:
        """Numbers of faces ``[f_0, ..., f_dim]`` of each dimension.

        Returns
        -------
        list of int

        Examples
        --------
        >>> pr.torus(3, 3).f_vector()
        [9, 27, 18]
        """
        return [len(_faces(self.simplices, k)) for k in range(self.dim + 1)]

    def euler_characteristic(self) -> int:
        """Alternating sum of the face counts, ``sum_k (-1)^k f_k``.

        Returns
        -------
        int

        Notes
        -----
        Exact integer arithmetic; it equals the alternating sum of the Betti numbers
        over any field.

        Examples
        --------
        >>> pr.torus(4, 5).euler_characteristic(), pr.projective_plane().euler_characteristic()
        (0, 1)
        """
        return int(sum((-1) ** k * f for k, f in enumerate(self.f_vector())))

    def boundary(self) -> np.ndarray:
        """The (dim-1)-faces that lie in exactly one top simplex.

        Returns
        -------
        ndarray of int64, shape (n_faces, dim)
            Sorted rows; empty for a closed manifold.

        Raises
        ------
        ValueError
            If the complex has dimension 0.

        Examples
        --------
        >>> pr.disk(6).boundary().shape
        (6, 2)
        """
        if self.dim < 1:
            raise ValueError("boundary needs a complex of dimension >= 1; got dimension 0.")
        faces, counts = _codim1_counts(self.simplices)
        return faces[counts == 1]

    def subcomplex(self, simplex_mask) -> SimplicialComplex:
        """The subcomplex made of some of the top simplices (same vertex ids).

        Parameters
        ----------
        simplex_mask : array-like of bool, shape (n_simplices,), or array-like of int
            Either a mask over ``simplices`` or the ids (row indices) of the simplices
            to keep.

        Returns
        -------
        SimplicialComplex
            Shares the vertex array and vertex ids, so it can be passed as ``A`` to
            :func:`polyrank.relative_betti`.

        Raises
        ------
        ValueError
            If the mask has the wrong length or an id is out of range.

        Examples
        --------
        >>> K = pr.circle(6)
        >>> len(K.subcomplex(np.arange(6) < 2)), len(K.subcomplex([0, 1, 2]))
        (2, 3)
        """
        idx = check_simplex_ids(simplex_mask, len(self), name="simplex_mask")
        return SimplicialComplex(self.vertices, self.simplices[idx])

    def components(self, simplex_mask=None, *, labels=None) -> list:
        """Split (a selection of) the top simplices into connected pieces.

        Two simplices are connected when they share a vertex (or, with ``labels``, the
        same label), so without labels the pieces are the connected components of the
        selected subcomplex and are pairwise vertex-disjoint: ready for
        :func:`polyrank.quotient_betti`.

        Parameters
        ----------
        simplex_mask : array-like of bool or int, optional
            A mask over ``simplices`` or simplex ids; default all simplices.
        labels : array-like of int, shape (n_simplices,), optional
            Selected simplices with the same label ``>= 0`` are joined as well (negative:
            no label), e.g. the linear region each piece of a refined mesh lies in.

        Returns
        -------
        list of ndarray of int64
            Simplex ids of each component, each sorted, components ordered by their
            smallest id.

        Raises
        ------
        ValueError
            As :meth:`subcomplex`, or for ``labels`` of the wrong shape.

        Notes
        -----
        Cost: one sparse connected-components pass, ``O(n_selected (dim + 1))``.

        Examples
        --------
        Two disjoint arcs of a circle, and the same arcs joined by a label:

        >>> K = pr.circle(8)
        >>> [c.tolist() for c in K.components([0, 1, 4, 5])]
        [[0, 1], [4, 5]]
        >>> [c.tolist() for c in K.components([0, 1, 4, 5], labels=[7, -1, -1, -1, 7, -1, -1, -1])]
        [[0, 1, 4, 5]]
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        idx = (np.arange(len(self)) if simplex_mask is None
               else check_simplex_ids(simplex_mask, len(self), name="simplex_mask"))
        idx = np.unique(idx)
        if len(idx) == 0:
            return []
        S = self.simplices[idx]
        k = len(idx)
        # bipartite graph: simplex nodes 0..k-1, vertex nodes k..k+n_vertices-1, label nodes after
        rows = [np.repeat(np.arange(k), S.shape[1])]
        cols = [k + S.ravel()]
        N = k + self.n_vertices
        if labels is not None:
            lab = np.asarray(labels)
            if lab.shape != (len(self),) or not np.issubdtype(lab.dtype, np.integer):
                raise ValueError(f"labels must be an int array of shape ({len(self)},); got dtype "
                                 f"{lab.dtype} and shape {lab.shape}.")
            lab = lab[idx]
            has = lab >= 0
            rows.append(np.flatnonzero(has))
            cols.append(N + lab[has])
            N += int(lab[has].max()) + 1 if has.any() else 0
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        G = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(N, N))
        _, lab = connected_components(G, directed=False)
        lab = lab[:k]
        _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
        order = np.argsort(first)                  # components by smallest simplex id
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        comp = rank[inv.ravel()]
        return [idx[comp == c] for c in range(len(order))]

    def is_orientable(self):
        """Whether a closed surface is orientable; None when the complex is not one whose
        every edge lies in exactly two triangles.

        The triangles can be oriented coherently iff the graph on (triangle, orientation)
        pairs, joined across each shared edge so that the edge is traversed in opposite
        directions, has no component that holds both orientations of one triangle.

        Returns
        -------
        bool or None

        Examples
        --------
        >>> pr.torus(4, 4).is_orientable(), pr.klein_bottle(4, 4).is_orientable(), pr.disk(6).is_orientable()
        (True, False, None)
        """
        if self.dim != 2 or len(self) == 0:
            return None
        S = self.simplices
        D = np.concatenate([S[:, [0, 1]], S[:, [1, 2]], S[:, [2, 0]]])
        tri = np.tile(np.arange(len(S)), 3)
        und = np.sort(D, axis=1)
        order = np.lexsort((und[:, 1], und[:, 0]))
        und, D, tri = und[order], D[order], tri[order]
        if len(und) % 2 or not (und[0::2] == und[1::2]).all() or (und[2::2] == und[1:-1:2]).all(1).any():
            return None  # some edge is not in exactly two triangles
        t1, t2 = tri[0::2], tri[1::2]
        same = (D[0::2] == D[1::2]).all(1)  # same direction: orientations disagree
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = len(S)
        a = np.concatenate([t1, t1 + n])
        b = np.concatenate([np.where(same, t2 + n, t2), np.where(same, t2, t2 + n)])
        g = coo_matrix((np.ones(len(a)), (a, b)), shape=(2 * n, 2 * n))
        _, lab = connected_components(g, directed=False)
        return bool((lab[:n] != lab[n:]).all())

    def is_closed_surface(self) -> bool:
        """Whether the complex is a closed (compact, boundaryless) triangulated surface.

        See :meth:`check_closed_surface` for the conditions.

        Returns
        -------
        bool

        Examples
        --------
        >>> pr.sphere(20, seed=0).is_closed_surface(), pr.disk(6).is_closed_surface()
        (True, False)
        """
        try:
            self.check_closed_surface()
        except ValueError:
            return False
        return True

    def check_closed_surface(self) -> None:
        """Raise ``ValueError`` unless the complex is a closed triangulated surface.

        Checks that the complex has dimension 2, every triangle has three distinct
        vertices, no triangle is listed twice, every edge lies in exactly two triangles,
        every vertex lies in some triangle and the link of every vertex is one cycle
        (no pinched vertices).

        Raises
        ------
        ValueError
            Naming the first violated condition and an offending edge or vertex.

        Notes
        -----
        Cost: one sort of the ``3 n_triangles`` edge occurrences and one
        connected-components pass over the triangle corners.

        Examples
        --------
        >>> pr.disk(6).check_closed_surface()
        Traceback (most recent call last):
        ...
        ValueError: not a closed surface: edge (1, 2) lies in 1 triangle(s), expected 2.
        """
        if self.dim != 2:
            raise ValueError(f"not a closed surface: the complex has dimension {self.dim}, expected 2.")
        T = np.sort(self.simplices, axis=1)
        if len(T) == 0:
            raise ValueError("not a closed surface: the complex has no triangles.")
        bad = (T[:, 0] == T[:, 1]) | (T[:, 1] == T[:, 2])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"not a closed surface: triangle {i} {tuple(self.simplices[i].tolist())} "
                             "repeats a vertex.")
        uniq, counts = _unique_rows(T, self.n_vertices, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"not a closed surface: triangle {tuple(uniq[counts > 1][0].tolist())} is listed "
                             "more than once.")
        used = np.zeros(self.n_vertices, dtype=bool)
        used[T.ravel()] = True
        if not used.all():
            raise ValueError(f"not a closed surface: vertex {int(np.flatnonzero(~used)[0])} lies in no triangle.")
        # edge occurrences: local edges (0,1), (0,2), (1,2) of the sorted triangles
        loc = np.array([[0, 1], [0, 2], [1, 2]])
        E = T[:, loc].reshape(-1, 2)                       # occurrence o = 3 t + e
        edges, inv, ecount = _unique_rows(E, self.n_vertices, return_inverse=True, return_counts=True)
        inv = inv.ravel()
        if (ecount != 2).any():
            j = int(np.flatnonzero(ecount != 2)[0])
            raise ValueError(f"not a closed surface: edge {tuple(edges[j].tolist())} lies in {int(ecount[j])} "
                             "triangle(s), expected 2.")
        # vertex links: corners (t, p) of one vertex are joined across each shared edge;
        # the link of v is one cycle iff v's corners form one component.
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        order = np.argsort(inv, kind="stable")
        o1, o2 = order[0::2], order[1::2]
        t1, e1 = np.divmod(o1, 3)
        t2, e2 = np.divmod(o2, 3)
        ca = np.concatenate([3 * t1 + loc[e1, 0], 3 * t1 + loc[e1, 1]])
        cb = np.concatenate([3 * t2 + loc[e2, 0], 3 * t2 + loc[e2, 1]])
        n_c = 3 * len(T)
        G = coo_matrix((np.ones(len(ca)), (ca, cb)), shape=(n_c, n_c))
        n_comp, lab = connected_components(G, directed=False)
        if n_comp != self.n_vertices:
            comp_vertex = np.full(n_comp, -1)
            comp_vertex[lab] = T.ravel()
            counts_v = np.bincount(comp_vertex, minlength=self.n_vertices)
            v = int(np.flatnonzero(counts_v > 1)[0])
            raise ValueError(f"not a closed surface: the link of vertex {v} has {int(counts_v[v])} components "
                             "(a pinched vertex), expected one cycle.")


def _unique_rows(F, n, *, return_inverse=False, return_counts=False):
    """``np.unique(F, axis=0, ...)`` for int rows with entries in 0..n-1, via int64 keys when they fit.

    Lexicographic row order equals key order, so the result is the same, several times faster.
    """
    F = np.asarray(F, dtype=np.int64)
    d = F.shape[1]
    if d == 0 or float(n) ** d >= 2.0 ** 62:
        return np.unique(F, axis=0, return_inverse=return_inverse, return_counts=return_counts)
    w = n ** np.arange(d - 1, -1, -1, dtype=np.int64)
    keys = F @ w
    # sort-based unique (numpy's hash-based np.unique is several times slower here)
    order = np.argsort(keys, kind="stable") if return_inverse else None
    sk = keys[order] if return_inverse else np.sort(keys)
    first = np.empty(len(sk), dtype=bool)
    first[:1] = True
    np.not_equal(sk[1:], sk[:-1], out=first[1:])
    uk = sk[first]
    out = [(uk[:, None] // w) % n]
    if return_inverse:
        inv = np.empty(len(sk), dtype=np.int64)
        inv[order] = np.cumsum(first) - 1
        out.append(inv)
    if return_counts:
        out.append(np.diff(np.append(np.flatnonzero(first), len(sk))))
    return tuple(out) if len(out) > 1 else out[0]


def _faces(S, k):
    """Distinct sorted k-faces of the simplices S (rows), lexicographically sorted."""
    S = np.sort(np.asarray(S, dtype=np.int64), axis=1)
    combos = list(itertools.combinations(range(S.shape[1]), k + 1))
    F = S[:, combos].reshape(-1, k + 1) if len(S) else np.empty((0, k + 1), dtype=np.int64)
    return _unique_rows(F, int(S.max()) + 1 if S.size else 1)


def _codim1_counts(S):
    """(faces, counts): distinct codimension-one faces and how many top simplices hold each."""
    S = np.sort(np.asarray(S, dtype=np.int64), axis=1)
    d = S.shape[1]
    combos = list(itertools.combinations(range(d), d - 1))
    F = S[:, combos].reshape(-1, d - 1)
    return _unique_rows(F, int(S.max()) + 1 if S.size else 1, return_counts=True)


def check_complex(K, d=None, *, name="K", func="refine", max_dim=None):
    """Return ``K`` if it is a SimplicialComplex (in ``R^d`` and of dimension at most
    ``max_dim`` when they are given); the checker of complex arguments, next to the type
    as :func:`polyrank.as_network` is next to ReLUNetwork.

    Raises
    ------
    TypeError
        If ``K`` is not a SimplicialComplex.
    ValueError
        If it lives in another dimension or has simplices of a higher dimension.
    """
    if not isinstance(K, SimplicialComplex):
        raise TypeError(f"The '{name}' parameter of {func} must be a polyrank.SimplicialComplex "
                        f"(see pr.circle, pr.torus, ...); got {type(K).__name__}.")
    if d is not None and K.ambient_dim != d:
        raise ValueError(f"The mesh '{name}' lives in R^{K.ambient_dim} but the network takes inputs in R^{d}; "
                         f"embed it first (pr.embed(K, {d}, seed=...)).")
    if max_dim is not None and K.dim > max_dim:
        raise ValueError(f"{func} handles meshes of simplices of dimension dim <= {max_dim}; "
                         f"'{name}' has simplices of dimension {K.dim}.")
    if d is not None and K.dim > d:
        raise ValueError(f"'{name}' has {K.dim}-simplices but lives in R^{d}.")
    return K
