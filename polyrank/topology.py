"""Homology with GUDHI: Betti numbers, relative homology H(X, A), quotients X/{A_i},
torsion flags, and persistence of the image point cloud f(X).

Every function accepts a :class:`~polyrank.SimplicialComplex` or any iterable of
simplices (tuples of vertex ids; faces are implied) and returns plain Python data or a
small frozen result object. GUDHI is imported inside the functions.

Recipes (``docs/topology.md``). GUDHI has no relative-homology API, so:

* ``H(X, A)`` comes from one two-step filtration: ``A`` at value 0, ``X`` at value 1;
  ``b_n(X, A) = #[1, inf)_n + #[0, 1)_{n-1}`` (the long exact sequence of the pair).
* ``X/{A_1, ..., A_r}`` is ``X`` with one cone apex per piece ``A_i``.
* ``compute_persistence`` always runs with ``persistence_dim_max=True``: without it the
  top dimension is silently dropped (a torus would get ``b_2 = 0``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field as dc_field

import numpy as np

from ._validation import check_prime, check_scale, check_simplex_ids
from .complex import SimplicialComplex
from .network import as_network

__all__ = [
    "betti",
    "reduced_betti",
    "relative_betti",
    "RelativeBetti",
    "quotient_betti",
    "torsion_check",
    "TorsionCheck",
    "image_persistence",
    "image_betti",
    "ImagePersistence",
]

#: The default coefficient field Z/p (GUDHI's default).
DEFAULT_FIELD = 11
#: Largest prime GUDHI accepts as a coefficient field.
MAX_FIELD = 46337
#: Filtration values of the two-step filtration of a pair (A, X).
_A_VALUE, _X_VALUE = 0.0, 1.0
#: GUDHI stores vertex ids as C ints and wraps larger ones silently; cone apexes need room.
MAX_VERTEX_ID = 2 ** 30


# ---------------------------------------------------------------------- validation
def _gudhi():
    try:
        import gudhi
    except ImportError as exc:  # pragma: no cover - gudhi is a dependency
        raise ImportError("polyrank.topology needs GUDHI: pip install gudhi") from exc
    return gudhi


def _check_field(p, func):
    return check_prime(p, name="field", func=func, maximum=MAX_FIELD)


class _Simplices:
    """Validated simplices, kept in input order; ``groups()`` splits them by size."""

    def __init__(self, obj, *, name, func):
        if isinstance(obj, SimplicialComplex):
            self.rows = obj.simplices
        elif isinstance(obj, np.ndarray) and obj.ndim == 2:
            self.rows = obj
        else:
            try:
                items = [np.asarray(s) for s in obj]
            except TypeError as exc:
                raise TypeError(f"{name} of {func} must be a SimplicialComplex or an iterable of simplices "
                                f"(tuples of vertex ids); got {type(obj).__name__}.") from exc
            if any(s.ndim != 1 for s in items):
                raise ValueError(f"{name} of {func} must be an iterable of simplices (tuples of vertex ids); "
                                 "wrap a single simplex in a list, e.g. [(0, 1, 2)].")
            sizes = {len(s) for s in items}
            self.rows = np.array(items) if len(sizes) == 1 else items
        rows = self.rows
        flat = rows if isinstance(rows, np.ndarray) else (np.concatenate(rows) if rows else np.empty(0))
        if isinstance(rows, np.ndarray) and rows.size == 0 and rows.ndim == 2 and rows.shape[1] == 0:
            raise ValueError(f"{name} of {func} holds empty simplices.")
        if flat.size and not np.issubdtype(np.asarray(flat).dtype, np.integer):
            raise ValueError(f"{name} of {func} must hold integer vertex ids; got dtype {np.asarray(flat).dtype}.")
        if flat.size and np.min(flat) < 0:
            raise ValueError(f"{name} of {func} holds negative vertex ids.")
        if flat.size and np.max(flat) > MAX_VERTEX_ID:
            raise ValueError(f"{name} of {func} holds vertex ids above {MAX_VERTEX_ID} (GUDHI stores C ints); "
                             "relabel them, e.g. with np.unique(simplices, return_inverse=True).")
        for g in self.groups():
            if g.shape[1] == 0:
                raise ValueError(f"{name} of {func} holds empty simplices.")
            s = np.sort(g, axis=1)
            if (s[:, 1:] == s[:, :-1]).any():
                bad = g[(s[:, 1:] == s[:, :-1]).any(axis=1)][0]
                raise ValueError(f"{name} of {func} holds a simplex with a repeated vertex: "
                                 f"{tuple(bad.tolist())}.")

    def __len__(self):
        return len(self.rows)

    def groups(self):
        """List of int64 arrays of shape (n_i, k_i + 1), one per simplex size."""
        rows = self.rows
        if isinstance(rows, np.ndarray):
            return [rows.astype(np.int64, copy=False)] if len(rows) else []
        by = {}
        for s in rows:
            by.setdefault(len(s), []).append(s)
        return [np.array(v, dtype=np.int64) for _, v in sorted(by.items())]

    @property
    def dim(self):
        gs = self.groups()
        return max(g.shape[1] for g in gs) - 1 if gs else -1

    @property
    def max_vertex(self):
        gs = self.groups()
        return max(int(g.max()) for g in gs) if gs else -1

    def vertex_set(self):
        gs = self.groups()
        return np.unique(np.concatenate([g.ravel() for g in gs])) if gs else np.empty(0, dtype=np.int64)

    def select(self, idx):
        out = object.__new__(_Simplices)
        out.rows = self.rows[idx] if isinstance(self.rows, np.ndarray) else [self.rows[i] for i in idx]
        return out


def _complex(K, func):
    S = _Simplices(K, name="K", func=func)
    if len(S) == 0:
        raise ValueError(f"K of {func} has no simplices.")
    return S


def _subcomplex(K, A, *, name, func):
    """A as simplices: an iterable of simplices, a SimplicialComplex, or a mask / ids over K."""
    if not isinstance(A, SimplicialComplex):
        arr = None
        try:
            arr = np.asarray(A)
        except (TypeError, ValueError):  # ragged lists of simplices
            arr = None
        if arr is not None and arr.ndim == 1 and (arr.dtype == bool or np.issubdtype(arr.dtype, np.integer)
                                                  or arr.size == 0):
            return K.select(check_simplex_ids(arr, len(K), name=f"{name} of {func}"))
    return _Simplices(A, name=name, func=func)


def _insert(st, S, value):
    for g in S.groups():
        st.insert_batch(np.ascontiguousarray(g.T), np.full(len(g), value))


def _insert_sub(st, A, value, *, name, func):
    """Insert A's simplices at ``value`` (lowering) and check that none was new."""
    n0 = st.num_simplices()
    _insert(st, A, value)
    if st.num_simplices() != n0:
        raise ValueError(f"{name} of {func} is not a subcomplex of K: it has simplices that K does not contain.")


def _persistence(st, field):
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)


def _essential(st, dim):
    """Number of infinite intervals (Betti numbers of the whole complex) in dimensions 0..dim."""
    return [int(np.isinf(st.persistence_intervals_in_dimension(d).reshape(-1, 2)[:, 1]).sum())
            for d in range(dim + 1)]


# ---------------------------------------------------------------------- Betti numbers
def _betti(S, field):
    st = _gudhi().SimplexTree()
    _insert(st, S, 0.0)
    _persistence(st, field)
    return _essential(st, S.dim)


def betti(K, *, field=DEFAULT_FIELD) -> list:
    """Betti numbers ``[b_0, ..., b_dim]`` of a simplicial complex over Z/field.

    Parameters
    ----------
    K : SimplicialComplex or iterable of simplices
        Simplices as tuples of vertex ids; all their faces are implied.
    field : int, default 11
        A prime p: homology with coefficients in Z/p.

    Returns
    -------
    list of int
        One entry per dimension ``0..dim(K)``.

    Raises
    ------
    ValueError
        If ``K`` is empty, a simplex repeats a vertex, or ``field`` is not a prime.
    ImportError
        If GUDHI is not installed.

    Notes
    -----
    Exact: GUDHI's persistent cohomology over Z/p is integer arithmetic; no tolerance
    is involved. Cost: building the simplex tree of all faces plus one matrix
    reduction, near linear in the number of simplices for meshes (about a second per
    million simplices here).

    Examples
    --------
    >>> pr.betti(pr.torus(3, 3))
    [1, 2, 1]
    >>> pr.betti([(0, 1), (1, 2), (0, 2), (3,)])
    [2, 1]
    """
    field = _check_field(field, "betti")
    return _betti(_complex(K, "betti"), field)


def reduced_betti(K, *, field=DEFAULT_FIELD) -> list:
    """Reduced Betti numbers: ``betti`` with ``b_0`` lowered by one.

    Parameters
    ----------
    K : SimplicialComplex or iterable of simplices
    field : int, default 11

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        As :func:`betti`.

    Examples
    --------
    >>> pr.reduced_betti(pr.sphere(12, seed=0))
    [0, 0, 1]
    """
    field = _check_field(field, "reduced_betti")
    b = _betti(_complex(K, "reduced_betti"), field)
    b[0] -= 1
    return b


# ---------------------------------------------------------------------- relative homology
@dataclass(frozen=True)
class RelativeBetti:
    """Betti numbers of a pair ``(X, A)``, all from one two-step filtration.

    Attributes
    ----------
    X, A, relative : list of int
        ``b_n(X)``, ``b_n(A)`` and ``b_n(X, A)`` for ``n = 0..dim(X)``. For nonempty
        ``A``, ``relative`` equals the reduced Betti numbers of ``X/A``.
    field : int
    """

    X: list
    A: list
    relative: list
    field: int = DEFAULT_FIELD


def relative_betti(K, A, *, field=DEFAULT_FIELD) -> RelativeBetti:
    """Betti numbers of ``X``, ``A`` and of the pair ``(X, A)``.

    Parameters
    ----------
    K : SimplicialComplex or iterable of simplices
        The complex ``X``.
    A : iterable of simplices, SimplicialComplex, or array-like of bool / int
        The subcomplex: its simplices (faces implied), or a bool mask of shape
        ``(len(K),)`` or ids over K's simplices (in K's order). May be empty.
    field : int, default 11
        A prime p: coefficients in Z/p.

    Returns
    -------
    RelativeBetti
        Frozen; lists ``.X``, ``.A``, ``.relative``.

    Raises
    ------
    ValueError
        If ``A`` is not a subcomplex of ``K`` (it holds a simplex ``K`` lacks), a mask
        has the wrong length, ``K`` is empty or ``field`` is not a prime.

    Notes
    -----
    One GUDHI run: ``A`` inserted at filtration 0, ``X`` at 1, so
    ``b_n(X) = #[., inf)_n``, ``b_n(A) = #[0, .)_n`` and
    ``b_n(X, A) = #[1, inf)_n + #[0, 1)_{n-1}`` (coker of ``H_n(A) -> H_n(X)`` plus
    ker of ``H_{n-1}(A) -> H_{n-1}(X)``). Exact over Z/p; same cost as :func:`betti`.

    Examples
    --------
    A circle relative to two disjoint arcs is a wedge of two circles:

    >>> r = pr.relative_betti(pr.circle(8), [(0, 1), (4, 5)])
    >>> r.X, r.A, r.relative
    ([1, 1], [2, 0], [0, 2])
    """
    func = "relative_betti"
    field = _check_field(field, func)
    X = _complex(K, func)
    As = _subcomplex(X, A, name="A", func=func)
    st = _gudhi().SimplexTree()
    _insert(st, X, _X_VALUE)
    _insert_sub(st, As, _A_VALUE, name="A", func=func)
    _persistence(st, field)
    dim = X.dim
    bX, bA, rel = [], [], []
    prev_dying = 0
    for d in range(dim + 1):
        iv = st.persistence_intervals_in_dimension(d).reshape(-1, 2)
        birth, death = iv[:, 0], iv[:, 1]
        inf = np.isinf(death)
        bX.append(int(inf.sum()))
        bA.append(int((birth == _A_VALUE).sum()))
        rel.append(int((inf & (birth == _X_VALUE)).sum()) + prev_dying)
        prev_dying = int(((birth == _A_VALUE) & (death == _X_VALUE)).sum())
    return RelativeBetti(bX, bA, rel, field)


# ---------------------------------------------------------------------- quotients
def _quotient(X, pieces, field, func):
    st = _gudhi().SimplexTree()
    _insert(st, X, 0.0)
    apex = max(X.max_vertex, max((P.max_vertex for P in pieces), default=-1)) + 1
    seen = []
    for i, P in enumerate(pieces):
        _insert_sub(st, P, 0.0, name=f"pieces[{i}]", func=func)
        seen.append(P.vertex_set())
    allv = np.concatenate(seen) if seen else np.empty(0, dtype=np.int64)
    if len(np.unique(allv)) != len(allv):
        raise ValueError(f"pieces of {func} must be pairwise disjoint (no shared vertex); glue overlapping "
                         "pieces into one piece.")
    for i, P in enumerate(pieces):
        for g in P.groups():
            cone = np.hstack([g, np.full((len(g), 1), apex + i, dtype=np.int64)])
            st.insert_batch(np.ascontiguousarray(cone.T), np.zeros(len(g)))
    _persistence(st, field)
    b = _essential(st, X.dim)
    b[0] -= 1
    return b


def _pieces(X, pieces, func):
    if isinstance(pieces, (SimplicialComplex, str)) or (isinstance(pieces, np.ndarray) and pieces.ndim != 1):
        raise TypeError(f"pieces of {func} must be a list of subcomplexes [A_1, ..., A_r]; "
                        f"got {type(pieces).__name__}. For one piece use [A].")
    out = []
    for i, P in enumerate(pieces):
        S = _subcomplex(X, P, name=f"pieces[{i}]", func=func)
        if len(S) == 0:
            raise ValueError(f"pieces[{i}] of {func} is empty; leave empty pieces out.")
        out.append(S)
    return out


def quotient_betti(K, pieces, *, field=DEFAULT_FIELD) -> list:
    """Reduced Betti numbers of ``K / {A_1, ..., A_r}``: each piece glued to its own point.

    Parameters
    ----------
    K : SimplicialComplex or iterable of simplices
    pieces : sequence of subcomplexes
        Each ``A_i`` as an iterable of simplices, a SimplicialComplex, or a bool mask /
        id array over K's simplices. Pieces must be nonempty, pairwise vertex-disjoint
        subcomplexes of K. An empty sequence gives the reduced Betti numbers of K.
    field : int, default 11
        A prime p: coefficients in Z/p.

    Returns
    -------
    list of int
        Reduced Betti numbers ``[~b_0, ..., ~b_dim]`` of the quotient.

    Raises
    ------
    ValueError
        If a piece is empty, not a subcomplex of K, or shares a vertex with another.
    TypeError
        If ``pieces`` is a single complex instead of a list of them.

    Notes
    -----
    ``K`` with one cone apex per piece is homotopy equivalent to the quotient (each
    ``A_i`` is a subcomplex, hence a cofibration), so this is exact over Z/p. To glue
    several pieces to *one* point, pass their union as one piece (they may then share
    vertices). For one nonempty piece it agrees with ``relative_betti(K, A).relative``.
    Cost: as :func:`betti` on ``K`` plus the cones.

    Examples
    --------
    Two parallel meridians of a torus glued to one point, and each to its own point:

    >>> T = pr.torus(4, 4)
    >>> m0 = [(j, (j + 1) % 4) for j in range(4)]
    >>> m2 = [(8 + j, 8 + (j + 1) % 4) for j in range(4)]
    >>> pr.quotient_betti(T, [m0 + m2]), pr.quotient_betti(T, [m0, m2])
    ([0, 2, 2], [0, 1, 2])
    """
    func = "quotient_betti"
    field = _check_field(field, func)
    X = _complex(K, func)
    return _quotient(X, _pieces(X, pieces, func), field, func)


@dataclass(frozen=True)
class TorsionCheck:
    """Betti numbers over several prime fields, and whether they disagree.

    Attributes
    ----------
    betti : dict of int to list of int
        Field -> (reduced, for a quotient) Betti numbers.
    has_torsion : bool
        True when two fields disagree. By the universal coefficient theorem this proves
        integral torsion (of order divisible by one of the field characteristics);
        False does not rule out torsion of other orders.
    """

    betti: dict = dc_field(default_factory=dict)
    has_torsion: bool = False


def torsion_check(K, *, pieces=None, fields=(2, 3)) -> TorsionCheck:
    """Flag integral torsion by comparing Betti numbers over two (or more) prime fields.

    Parameters
    ----------
    K : SimplicialComplex or iterable of simplices
    pieces : sequence of subcomplexes, optional
        If given, check the quotient ``K / {A_i}`` (reduced Betti numbers, as
        :func:`quotient_betti`) instead of ``K``.
    fields : sequence of primes, default (2, 3)

    Returns
    -------
    TorsionCheck

    Raises
    ------
    ValueError
        If fewer than two fields are given, or as :func:`betti` / :func:`quotient_betti`.

    Notes
    -----
    Exact, one GUDHI run per field. Z/2 and Z/3 catch 2- and 3-torsion, which is
    what RP^2 and the Klein bottle carry (``H_1 = Z/2`` resp. ``Z + Z/2``).

    Examples
    --------
    >>> t = pr.torsion_check(pr.projective_plane())
    >>> t.betti, t.has_torsion
    ({2: [1, 1, 1], 3: [1, 0, 0]}, True)
    >>> pr.torsion_check(pr.torus(3, 3)).has_torsion
    False
    """
    func = "torsion_check"
    fields = tuple(fields)
    if len(fields) < 2:
        raise ValueError(f"The 'fields' parameter of {func} needs at least two primes; got {fields!r}.")
    fields = tuple(_check_field(p, func) for p in fields)
    X = _complex(K, func)
    P = None if pieces is None else _pieces(X, pieces, func)
    res = {p: (_betti(X, p) if P is None else _quotient(X, P, p, func)) for p in fields}
    vals = list(res.values())
    return TorsionCheck(res, any(v != vals[0] for v in vals[1:]))


# ---------------------------------------------------------------------- image persistence
@dataclass(frozen=True)
class ImagePersistence:
    """Persistence of a Vietoris-Rips filtration of the image point cloud ``f(X)``.

    Attributes
    ----------
    intervals : tuple of ndarray
        ``intervals[d]`` has shape ``(n_d, 2)``: (birth, death) pairs of dimension
        ``d = 0..max_dimension``, in edge-length units; ``death = inf`` for classes
        still alive at ``max_scale``.
    points : ndarray of shape (n_points, n_out)
        The image point cloud.
    max_scale : float
        The Rips threshold: edges longer than it are left out.
    field : int
    layer : int or None
        The layer the image was taken at (None: the network's output; 0: the input).
    """

    intervals: tuple
    points: np.ndarray
    max_scale: float
    field: int
    layer: int | None

    @property
    def max_dimension(self) -> int:
        """Highest homology dimension computed."""
        return len(self.intervals) - 1

    def betti(self, scale) -> list:
        """Betti numbers of the Rips complex at ``scale``: intervals with ``birth <= scale < death``.

        Raises ``ValueError`` if ``scale`` is negative or above ``max_scale``.
        """
        if not isinstance(scale, numbers.Real) or not 0 <= scale <= self.max_scale:
            raise ValueError(f"scale must be a float in [0, max_scale={self.max_scale}]; "
                             f"got {scale!r}.")
        return [int(((iv[:, 0] <= scale) & (iv[:, 1] > scale)).sum()) for iv in self.intervals]


def image_persistence(net, X, *, layer=None, max_scale=None, max_dimension=2,
                      field=DEFAULT_FIELD, collapse=True) -> ImagePersistence:
    """Rips persistence of the image ``f(X)`` of points under a network, at a layer.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    X : array-like of shape (n_points, input_dim)
        Points, e.g. the vertices of a mesh.
    layer : int, optional
        Hidden layer ``1..n_layers`` whose representation ``h_layer`` is used; 0 uses
        the input ``X`` itself; None uses the network's output (``net.forward(X)``).
    max_scale : float, optional
        Rips threshold; None means no threshold (all pairwise edges: the cost grows
        fast with the number of points).
    max_dimension : int, default 2
        Highest homology dimension reported. The Rips complex is expanded to
        ``max_dimension + 1`` so that classes in ``max_dimension`` can die.
    field : int, default 11
        A prime p: coefficients in Z/p.
    collapse : bool, default True
        Reduce the Rips graph by edge collapses first (same persistence, fewer
        simplices).

    Returns
    -------
    ImagePersistence

    Raises
    ------
    ValueError
        On a bad ``X``, ``layer``, ``max_scale`` (must be >= 0), ``max_dimension``
        or ``field``.

    Notes
    -----
    This is the persistence of a point sample of the image, not of the image itself:
    what it says about ``f(M)`` depends on how densely ``X`` samples ``M``. The
    filtration values are edge lengths (not radii). Intervals are exact for the
    sample. Cost: ``O(n_points^2)`` distances, then the expanded flag complex, which can
    be large for big thresholds.

    Examples
    --------
    The identity network maps a sampled circle of radius 3 to itself; at scale 1 the
    Rips complex is a circle:

    >>> net = pr.ReLUNetwork.from_weights([np.eye(2), np.eye(2)], [[3.0, 3.0], [0.0, 0.0]])
    >>> t = 2 * np.pi * np.arange(40) / 40
    >>> X = 3 * np.c_[np.cos(t), np.sin(t)]
    >>> pr.image_persistence(net, X, layer=2, max_scale=2.0, max_dimension=1).betti(1.0)
    [1, 1]
    """
    func = "image_persistence"
    net = as_network(net)
    field = _check_field(field, func)
    if isinstance(max_dimension, bool) or not isinstance(max_dimension, numbers.Integral) or max_dimension < 0:
        raise ValueError(f"The 'max_dimension' parameter of {func} must be an int >= 0. "
                         f"Got {max_dimension!r} instead.")
    max_scale = check_scale(max_scale, name="max_scale", func=func)
    if isinstance(layer, numbers.Integral) and not isinstance(layer, bool) and layer == 0:
        from ._validation import check_points

        Y = check_points(X, net.input_dim)
    else:
        Y = net.forward(X, layer=layer)
    if len(Y) == 0:
        raise ValueError(f"X of {func} holds no points.")
    thr = float(np.inf if max_scale is None else max_scale)
    gudhi = _gudhi()
    st = gudhi.RipsComplex(points=Y, max_edge_length=thr).create_simplex_tree(max_dimension=1)
    if collapse:
        st.collapse_edges(nb_iterations=1)
    st.expansion(int(max_dimension) + 1)
    # persistence_dim_max=True: after collapses the expansion may stop below
    # max_dimension + 1, and GUDHI would then drop the dimension we report.
    _persistence(st, field)
    intervals = tuple(st.persistence_intervals_in_dimension(d).reshape(-1, 2)
                      for d in range(int(max_dimension) + 1))
    Y = np.array(Y)
    Y.setflags(write=False)
    return ImagePersistence(intervals, Y, thr, field, None if layer is None else int(layer))


def image_betti(net, X, *, layer=None, scale, max_dimension=2, field=DEFAULT_FIELD) -> list:
    """Betti numbers of the Rips complex of the image ``f(X)`` at one scale.

    Parameters
    ----------
    net, X, layer, max_dimension, field
        As :func:`image_persistence`.
    scale : float
        Edge-length scale ``>= 0``; the Rips complex at ``scale`` is built directly.

    Returns
    -------
    list of int
        ``[b_0, ..., b_max_dimension]`` of the Rips complex at ``scale``.

    Raises
    ------
    ValueError
        As :func:`image_persistence`.

    Examples
    --------
    A one-unit ReLU layer folds a circle onto a segment of the line:

    >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    >>> t = 2 * np.pi * np.arange(60) / 60
    >>> X = np.c_[np.cos(t), np.sin(t)]
    >>> pr.image_betti(net, X, layer=0, scale=0.5, max_dimension=1)
    [1, 1]
    >>> pr.image_betti(net, X, layer=1, scale=0.5, max_dimension=1)
    [1, 0]
    """
    res = image_persistence(net, X, layer=layer, max_scale=scale, max_dimension=max_dimension,
                            field=field, collapse=True)
    return res.betti(res.max_scale)
