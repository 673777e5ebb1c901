"""Results of an enumeration: :class:`Region` and :class:`Decomposition`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_layer

__all__ = ["Region", "Decomposition", "RankCell", "pattern_key", "pattern_string", "pattern_from_string"]

#: In :meth:`Decomposition.locate`, a pre-activation this small relative to the largest
#: one seen is treated as an identically-zero unit (inactive) when the raw pattern is unknown.
LOCATE_ZERO_RTOL = 1e-12
#: Default slack of :meth:`Region.contains` (absolute, on ``A x <= b`` with unit-norm rows).
CONTAINS_TOL = 1e-9
#: Slack with which :meth:`Decomposition.locate` tests membership of the domain.
LOCATE_DOMAIN_TOL = 1e-12
#: Prefix of the pattern strings of :meth:`Decomposition.to_frame` (see :func:`pattern_string`).
PATTERN_PREFIX = "0b"


def pattern_string(pattern) -> str:
    """A flat pattern as the text of the ``pattern`` column of :meth:`Decomposition.to_frame`.

    ``"0b"`` followed by one digit per unit (``1`` active), layers side by side. The prefix
    keeps it text when a CSV is read back (pandas would read ``"0110"`` as the integer
    110 and lose the leading zero); ``int(s, 2)`` still reads it as a binary number.

    Examples
    --------
    >>> pr.regions.pattern_string((False, True, True))
    '0b011'
    >>> pr.regions.pattern_from_string("0b011")
    (False, True, True)
    """
    return PATTERN_PREFIX + "".join("1" if p else "0" for p in pattern)


def pattern_from_string(text) -> tuple:
    """The flat bool pattern of a :func:`pattern_string` (the prefix is optional).

    Raises
    ------
    ValueError
        When ``text`` holds anything but the prefix and the digits 0 and 1.
    TypeError
        When ``text`` is not a string (a CSV column read back as integers has lost the
        leading zeros of its patterns).
    """
    if not isinstance(text, str):
        raise TypeError(f"A pattern string is '{PATTERN_PREFIX}' followed by 0s and 1s; got {text!r} of type "
                        f"{type(text).__name__}. A pattern column read back as numbers has lost its leading "
                        "zeros: write it with Decomposition.to_frame (its patterns start with 0b).")
    s = text
    if s.startswith(PATTERN_PREFIX):
        s = s[len(PATTERN_PREFIX):]
    if not s or set(s) - {"0", "1"}:
        raise ValueError(f"A pattern string is '{PATTERN_PREFIX}' followed by 0s and 1s; got {text!r}.")
    return tuple(c == "1" for c in s)


def pattern_key(pattern) -> bytes:
    """A compact hashable key of a flat bool pattern (packed bits)."""
    return np.packbits(np.asarray(pattern, dtype=bool)).tobytes() + bytes([len(pattern) % 8])


@dataclass(frozen=True, eq=False)
class Region:
    """One linear region: the closure of the inputs that share an activation pattern.

    Attributes
    ----------
    index : int
        Position in :attr:`Decomposition.regions` (the node id in the graph).
    pattern : tuple of bool
        On/off state of every hidden unit of layers 1..K, layers side by side
        (the encoding of ``net.patterns(X, flat=True)``).
    witness : ndarray of shape (d,)
        A certified interior point: the ball of radius ``inradius`` around it lies in the region.
    inradius : float
        The witness's smallest distance to a facet, computed directly from the H-rep. For the
        LP engine the witness is the Chebyshev centre, so this is the Chebyshev radius (capped
        for unbounded regions); the subdivision engine certifies a lower bound on it.
    A, b : ndarray of shape (n_facets, d) and (n_facets,)
        Irredundant H-representation ``{x : A x <= b}``, unit-norm rows.
    facets : tuple of (layer, index)
        For each row of ``A``, the hidden unit whose hyperplane carries the facet
        (``layer`` is 1-based); ``layer == 0`` means constraint ``index`` of the domain.
        When several units share one hyperplane the first is named.
    bounded : bool
    ranks : tuple of int
        ``rank(A_K)`` of the local affine map for every layer K = 1..n_layers.
    codeword_sizes : tuple of int
        Number of active units in every layer.
    """

    index: int
    pattern: tuple
    witness: np.ndarray
    inradius: float
    A: np.ndarray
    b: np.ndarray
    facets: tuple
    bounded: bool
    ranks: tuple
    codeword_sizes: tuple
    _net: object = field(repr=False, default=None)
    _vertices: object = field(repr=False, default=None)

    @property
    def n_facets(self) -> int:
        return self.A.shape[0]

    def layer_pattern(self, layer) -> np.ndarray:
        """The bool pattern of one hidden layer (1-based)."""
        return np.asarray(self.pattern, dtype=bool)[self._net.layer_slice(layer)]

    def affine(self, layer=None):
        """``(A_K, a_K)`` with ``h_K(x) = A_K x + a_K`` on this region (eq. 3 of the paper)."""
        return self._net.local_affine(np.asarray(self.pattern, dtype=bool), layer)

    def rank(self, layer=None) -> int:
        """``rank(A_K)`` at hidden layer ``layer`` (1-based); default the last enumerated layer.

        Raises
        ------
        ValueError
            If ``layer`` is not in ``1..len(ranks)``.
        """
        return self.ranks[check_layer(layer, len(self.ranks)) - 1]

    def contains(self, X, *, tol=CONTAINS_TOL) -> np.ndarray:
        """Boolean mask of the points of ``X`` (shape (n, d)) inside the region (up to ``tol``)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return np.all(X @ self.A.T <= self.b + tol, axis=1)

    def vertices(self) -> np.ndarray:
        """Vertices of a bounded region (qhull half-space intersection)."""
        if not self.bounded:
            raise ValueError(f"Region {self.index} is unbounded; it has no finite vertex set.")
        if self._vertices is not None:
            return self._vertices
        d = self.A.shape[1]
        if d == 1:
            a = self.A[:, 0]
            V = np.array([[-np.min(self.b[a < 0] / -a[a < 0])], [np.min(self.b[a > 0] / a[a > 0])]])
        else:
            from scipy.spatial import HalfspaceIntersection

            V = HalfspaceIntersection(np.hstack([self.A, -self.b[:, None]]), self.witness).intersections
        object.__setattr__(self, "_vertices", V)
        return V

    def volume(self) -> float:
        """Lebesgue volume (qhull; ``inf`` for unbounded regions). Practical for d <= 6."""
        if not self.bounded:
            return float("inf")
        V = self.vertices()
        if V.shape[1] == 1:
            return float(V.max() - V.min())
        from scipy.spatial import ConvexHull

        return float(ConvexHull(V - V.mean(axis=0)).volume)  # centred: qhull's tolerances scale with |V|

    def __repr__(self):
        bits = "".join("1" if p else "0" for p in self.pattern)
        if len(bits) > 40:
            bits = bits[:37] + "..."
        return (f"Region(index={self.index}, pattern={bits}, ranks={self.ranks}, "
                f"n_facets={self.n_facets}, bounded={self.bounded})")


@dataclass(frozen=True)
class RankCell:
    """A connected union of facet-adjacent regions with equal rank at one layer."""

    rank: int
    regions: tuple  # region indices

    def __len__(self):
        return len(self.regions)


class Decomposition:
    """The polytope decomposition of a network's input domain.

    Produced by :func:`~polyrank.enumerate_regions`. Iterating gives the
    :class:`Region` objects; ``len(dec)`` is the number of regions.

    Attributes
    ----------
    net : ReLUNetwork
        The network that was enumerated (hidden layers 1..``layer``).
    domain : Polytope or None
    layer : int
        The decomposition is by the patterns of layers 1..layer.
    regions : list of Region
    edges : list of (i, j, (layer, index))
        Pairs of regions that share a facet, with the unit that carries it.
    partial : bool
        True when the enumeration stopped early on request; the list is then incomplete.
    method : str
        ``"lp"`` or ``"subdivision"``.
    stats : dict
        Counters of the run (seconds, LPs solved, ``n_dropped``, ``precision_notes``, ...).
    n_dropped : int
        Regions found but left out because they are thinner than ``tol`` (their largest
        inscribed ball has radius at most ``tol`` times the domain's size): cells of the
        subdivision engine, patterns met by the LP traversal. A lower ``tol`` keeps them.
    precision_limited : bool
        True when the decomposition may miss regions at the requested precision: some
        were dropped as thinner than ``tol``, ``tol`` is below the engines' float64 floor,
        or the first layer's hyperplanes meet closer than ``tol`` inside the domain (a huge
        domain around small features). ``stats["precision_notes"]`` says which, and a
        :class:`~polyrank.exceptions.PrecisionWarning` was issued.

    Notes
    -----
    An engine may pass ``regions`` and ``edges`` as zero-argument callables (with
    ``n_regions``, and optionally ``arrays`` holding the ``patterns`` and ``ranks``
    matrices): everything is computed, but the Python objects are built on first
    access to :attr:`regions` or :attr:`edges` (the subdivision engine does this; for
    a 4-D network with 10^5 regions the objects cost a third of the run). Pickling
    builds them.
    """

    #: Defaults for decompositions pickled before these attributes existed.
    n_dropped = 0
    precision_limited = False

    def __init__(self, net, domain, layer, regions, edges, *, partial=False, method="lp", stats=None,
                 n_regions=None, arrays=None, n_dropped=0, precision_notes=()):
        self.net = net
        self.domain = domain
        self.layer = layer
        self._regions = self._regions_src = self._edges = self._edges_src = None
        if callable(regions):
            if n_regions is None:
                raise ValueError("n_regions is required when regions is a callable.")
            self._regions_src, self._n = regions, int(n_regions)
        else:
            self.regions = regions
        if callable(edges):
            self._edges_src = edges
        else:
            self.edges = edges
        self._arrays = dict(arrays or {})
        self.partial = bool(partial)
        self.method = method
        self.stats = dict(stats or {})
        self.n_dropped = int(n_dropped)
        self.stats["n_dropped"] = self.n_dropped
        self.stats["precision_notes"] = list(precision_notes)
        self.precision_limited = bool(precision_notes)
        self._graph = None
        self._index = None

    @property
    def regions(self):
        """list of Region, in index order."""
        if self._regions is None:
            self._regions = list(self._regions_src())
            self._regions_src = None
        return self._regions

    @regions.setter
    def regions(self, value):
        self._regions, self._regions_src = list(value), None
        self._arrays = {}
        self.__dict__.pop("_face_complex", None)  # faces are read off the regions
        self.__dict__.pop("_flat_rows", None)

    @property
    def edges(self):
        """list of (i, j, (layer, index)): pairs of regions sharing a facet, i < j."""
        if self._edges is None:
            self._edges = list(self._edges_src())
            self._edges_src = None
        return self._edges

    @edges.setter
    def edges(self, value):
        self._edges, self._edges_src = list(value), None
        self.__dict__.get("_arrays", {}).pop("edges", None)  # an engine's array of them is stale

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_regions"], state["_edges"] = self.regions, self.edges  # build them
        state["_regions_src"] = state["_edges_src"] = None
        # caches derived from the rest (the face complex holds closures that do not pickle): rebuilt on use
        state.pop("_face_complex", None)
        return state

    def __len__(self):
        return self._n if self._regions is None else len(self._regions)

    def __iter__(self):
        return iter(self.regions)

    def __getitem__(self, i):
        try:
            return self.regions[i]
        except IndexError:
            raise IndexError(f"Region index {i} is out of range for a Decomposition of {len(self)} regions "
                             f"(0..{len(self) - 1}, or negative from the end).") from None

    def __repr__(self):
        part = ", partial=True" if self.partial else ""
        if self.precision_limited:
            part += f", precision_limited=True, n_dropped={self.n_dropped}"
        return (f"Decomposition(n_regions={len(self)}, input_dim={self.net.input_dim}, "
                f"layers=1..{self.layer}, method={self.method!r}{part})")

    # -------------------------------------------------------------- lookups
    @property
    def patterns(self) -> np.ndarray:
        """Bool array of shape (n_regions, n_units) of all region patterns."""
        if "patterns" in self._arrays:
            return self._arrays["patterns"].copy()
        if not self.regions:
            return np.zeros((0, self.net.n_neurons), dtype=bool)
        return np.array([r.pattern for r in self.regions], dtype=bool)

    def ranks(self, layer=None) -> np.ndarray:
        """Integer array of ``rank(A_K)`` per region (default K = last layer).

        Raises
        ------
        ValueError
            If ``layer`` is not a layer of the decomposition (``1..self.layer``).
        """
        k = check_layer(layer, self.layer)
        if "ranks" in self._arrays:
            return self._arrays["ranks"][:, k - 1].astype(int)
        return np.array([r.ranks[k - 1] for r in self.regions], dtype=int)

    def rank_histogram(self, layer=None) -> dict:
        """``{rank: number of regions}`` at one layer (1-based; default the last).

        Raises
        ------
        ValueError
            If ``layer`` is not a layer of the decomposition (``1..self.layer``).
        """
        vals, counts = np.unique(self.ranks(layer), return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, counts)}

    def locate(self, X) -> np.ndarray:
        """Index of the region containing each point of ``X`` (-1 if none, e.g. outside the domain).

        A point on a boundary gets the region of its forward-pass pattern when that
        pattern is a region, else -1.
        """
        if self._index is None:
            self._index = {pattern_key(r.pattern): r.index for r in self.regions}
        X = np.asarray(X, dtype=np.float64)
        zs = self.net.preactivations(X, layer=self.layer)
        P = np.concatenate([z > 0 for z in zs], axis=1)
        out = np.array([self._index.get(pattern_key(p), -1) for p in P], dtype=int)
        miss = np.flatnonzero(out < 0)
        if len(miss):
            # a unit that is identically zero on a region evaluates to rounding noise
            # (e.g. 3 relu(0.1 x) - relu(0.3 x)); regions record it as inactive
            Z = np.concatenate(zs, axis=1)[miss]
            scale = np.concatenate([np.abs(z).max(axis=0, initial=0.0) for z in zs])
            noise = np.abs(Z) <= LOCATE_ZERO_RTOL * np.maximum(scale, np.abs(Z).max(axis=1, keepdims=True))
            Q = P[miss] & ~noise
            out[miss] = [self._index.get(pattern_key(q), -1) for q in Q]
        if self.domain is not None:
            out[~self.domain.contains(X, tol=LOCATE_DOMAIN_TOL)] = -1
        return out

    # -------------------------------------------------------------- graph
    @property
    def graph(self):
        """networkx Graph: one node per region (attribute ``ranks``), one edge per shared facet
        (attribute ``unit``: the (layer, index) of the hidden unit whose hyperplane it lies on)."""
        if self._graph is None:
            import networkx as nx

            G = nx.Graph()
            for r in self.regions:
                G.add_node(r.index, ranks=r.ranks, bounded=r.bounded)
            for i, j, unit in self.edges:
                G.add_edge(i, j, unit=unit)
            self._graph = G
        return self._graph

    def rank_cells(self, layer=None) -> list:
        """Connected components of facet-adjacent regions with equal rank at ``layer``.

        Returns
        -------
        list of RankCell, sorted by rank, then by smallest region index.

        Raises
        ------
        ValueError
            If ``layer`` is not a layer of the decomposition (``1..self.layer``).
        """
        import networkx as nx

        ranks = self.ranks(layer)
        G = self.graph
        H = nx.Graph()
        H.add_nodes_from(G.nodes)
        H.add_edges_from((i, j) for i, j in G.edges if ranks[i] == ranks[j])
        cells = [RankCell(int(ranks[min(c)]), tuple(sorted(c))) for c in nx.connected_components(H)]
        cells.sort(key=lambda c: (c.rank, c.regions[0]))
        return cells

    # -------------------------------------------------------------- export
    def total_volume(self) -> float:
        """Sum of the region volumes (``inf`` when a region is unbounded)."""
        return float(sum(r.volume() for r in self.regions))

    def to_frame(self, *, volumes=False):
        """One row per region: pattern bits, witness, inradius, facets, ranks and codeword sizes.

        Columns ``region, pattern, bounded, inradius, n_facets, x0..x{d-1}, rank_k,
        codeword_size_k`` (k = 1..layer) and ``volume``; an empty decomposition gives them
        with no rows. ``pattern`` is a :func:`pattern_string` (``"0b0110"``), which a CSV
        written with ``to_csv`` reads back unchanged (:func:`pattern_from_string` turns it
        into the bool tuple).

        Parameters
        ----------
        volumes : bool, default False
            Add a ``volume`` column (one qhull call per region).

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
        >>> dec = pr.enumerate_regions(net, pr.Box(-2.0, 2.0, dim=1))
        >>> dec.to_frame()["pattern"].tolist()
        ['0b00', '0b10', '0b11']
        """
        import pandas as pd

        d = self.net.input_dim
        columns = ["region", "pattern", "bounded", "inradius", "n_facets"] + [f"x{j}" for j in range(d)]
        for k in range(1, self.layer + 1):
            columns += [f"rank_{k}", f"codeword_size_{k}"]
        if volumes:
            columns.append("volume")
        rows = []
        for r in self.regions:
            row = {
                "region": r.index,
                "pattern": pattern_string(r.pattern),
                "bounded": r.bounded,
                "inradius": r.inradius,
                "n_facets": r.n_facets,
            }
            for j in range(d):
                row[f"x{j}"] = r.witness[j]
            for k, (rk, cs) in enumerate(zip(r.ranks, r.codeword_sizes), start=1):
                row[f"rank_{k}"] = rk
                row[f"codeword_size_{k}"] = cs
            if volumes:
                row["volume"] = r.volume()
            rows.append(row)
        return pd.DataFrame(rows, columns=columns)

    # -------------------------------------------------------------- faces (polyrank.faces)
    def complex(self):
        """The polyhedral complex of the decomposition: every face, with its incidences.

        Needs a bounded domain. See :class:`~polyrank.FaceComplex` (GUDHI-ready through
        its pulling triangulation: ``simplex_tree``, ``triangulation``, ``betti``).

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
        >>> pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2)).complex()
        FaceComplex(dim=2, f_vector=(9, 12, 4))
        """
        from .faces import face_complex

        return face_complex(self)

    def faces(self, k):
        """The k-dimensional faces (k = 0..d) as a pandas DataFrame.

        Columns: ``face`` (id), ``dim``, ``sign`` (the sign vector over the hidden units
        of layers 1..layer: ``+``, ``-`` or ``0`` per unit, Masden's sign sequence),
        ``n_zero_units``, ``regions`` (the regions containing the face), ``vertices``
        (vertex ids), ``domain_facets`` (domain constraints the face lies on), and the
        coordinates ``x0..`` for k = 0 or the vertex centroid ``c0..`` otherwise. Faces on
        the domain's boundary are included. Needs a bounded domain.

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
        >>> dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))
        >>> v = dec.faces(0)
        >>> v.loc[(v.x0 == 0) & (v.x1 == 0), "sign"].item()
        '00'
        """
        from ._validation import check_face_dim

        return self.complex().frame(check_face_dim(k, self.net.input_dim))

    def f_vector(self) -> tuple:
        """``(f_0, ..., f_d)``: faces of every dimension inside the domain, the domain's
        own boundary faces included (so ``f_0 - f_1 + f_2 = 1`` for a 2-D box).

        On a decomposition from the subdivision engine the faces are counted from its
        vertex-hyperplane incidences (as :meth:`verify` does) without building the face
        complex; the counts are those of :meth:`complex`, which is used when it is already
        built or when a check of the counts fails (degenerate networks).

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
        >>> pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2)).f_vector()
        (6, 7, 2)
        """
        from .faces import f_vector

        return f_vector(self)

    def verify(self, *, exact=False):
        """Certify that the decomposition is complete; returns a :class:`~polyrank.Certificate`.

        Parameters
        ----------
        exact : bool, default False
            Also re-check every region in exact rational arithmetic (python-flint when
            installed, else fractions): the witness lies strictly inside its region and
            every reported rank is the true rank of the region's affine map.

        Returns
        -------
        Certificate
            ``.complete`` is True when every check passed; ``.checks`` says what ran and
            ``.failures`` names what failed. ``.raise_if_failed()`` raises
            :class:`~polyrank.CertificateError`.

        Notes
        -----
        Checks: ``patterns_unique`` (no two regions share a pattern), ``witnesses_inside``
        (float64), ``face_lattice`` (every region's faces were found), ``facet_neighbours``
        (every facet of every region has exactly one region across it, or lies on the
        domain's boundary), ``edges`` (the dual graph is exactly the set of facet-sharing
        pairs), ``volume`` (bounded domains: region volumes sum to the domain's, relative
        ``VOLUME_RTOL``) and ``euler_characteristic`` (the complex has the domain's Euler
        characteristic: 1 for a bounded domain, ``(-1)^d`` for all of R^d, 0 for an
        unbounded polyhedron). Over an unbounded domain the faces need pointed regions
        (the first layer's weights of rank d); otherwise ``face_lattice`` fails. On a
        decomposition from the subdivision engine the face checks read its vertex
        incidences (vertices identified by sign vector and checked against every region's
        rows) without building :meth:`complex`; a check that fails there is run again
        through the face complex, which names what failed.

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
        >>> cert = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2)).verify(exact=True)
        >>> cert.complete, cert.f_vector
        (True, (9, 12, 4))
        """
        from .faces import certify

        return certify(self, exact=bool(exact))
