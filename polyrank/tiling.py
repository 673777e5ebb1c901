"""Tiled enumeration: split a bounded domain into tiles, enumerate each, merge by pattern.

A region of the whole domain is convex, so it meets a convex tile in one convex piece
with the region's activation pattern. Enumerating every tile independently (with any
engine) and grouping the pieces by pattern therefore gives the regions of the whole
domain: the volumes of the pieces add up, the facets of the region are the union of the
pieces' facets minus the tile walls, and any piece's witness is a witness of the region
(the one with the largest inscribed ball is kept).

:func:`tile_domain` chooses the tiles (a regular grid, or a k-d split that balances the
estimated number of regions, :func:`estimate_regions`); :func:`enumerate_tile` turns one
tile into a table of pieces (plain numpy arrays) and :func:`merge_pieces` groups pieces by
pattern; :func:`split_tile` halves a tile that ran out of memory. :func:`polyrank.write_regions`
drives them, streaming to Parquet.

The density estimate: for a uniform point ``x`` of a domain ``D``, ``vol(D) / vol(R(x))``
(``R(x)`` the region of ``x`` cut to ``D``) has expectation exactly the number of regions,
since each region ``R`` is hit with probability ``vol(R) / vol(D)``. The region of a point
is a polytope known in closed form (every unit's half-space through the local affine maps
at ``x``), so its volume costs one half-space intersection (qhull; about a millisecond for
a 3-25x9 network). The mean over a few hundred points of a tile estimates the number of
pieces in the tile; summed weights ``1 / vol(R(x))`` locate the dense parts of the domain.
"""

from __future__ import annotations

import math
import numbers
from itertools import chain
from dataclasses import dataclass

import numpy as np

from ._numerics import local_frame
from ._validation import check_points, check_positive_int
from .domain import Box, Polytope
from .exceptions import MemoryBudgetError, RegionLimitError
from .network import as_network

__all__ = ["Tile", "tile_domain", "estimate_regions", "inverse_region_volumes", "region_upper_bound", "split_tile", "enumerate_tile",
           "iter_tile_pieces", "merge_pieces", "pack_patterns", "unpack_patterns", "DEFAULT_TILE_MEMORY",
           "BYTES_PER_REGION"]

#: Memory a tile may use when ``max_memory`` is not given (bytes).
DEFAULT_TILE_MEMORY = 2 * 2 ** 30
#: Planning figure: peak bytes of one enumerated region (engine cells, its arrays and the
#: piece table together); ``tiles="auto"`` makes ``estimate * BYTES_PER_REGION`` fit in
#: the per-tile budget. Measured (docs/scale.md): 1.4 kB resident per piece for a tile of a
#: trained 3-15x9 network (the engine 1.1-1.5 kB per cell on 3-15x9 and 3-25x9, up to
#: 1.7 kB on small random networks); about 2x margin.
BYTES_PER_REGION = 3 * 1024
#: Uniform samples drawn per tile (at least ``MIN_SAMPLES``) to balance a k-d split; in the
#: adaptive split of ``tiles="auto"`` a tile with fewer samples is topped up to this many.
SAMPLES_PER_TILE = 400
MIN_SAMPLES = 4000
#: Samples per tile of the adaptive split of ``tiles="auto"`` (topped up after each cut).
AUTO_SAMPLES_PER_TILE = 200
#: Samples of :func:`estimate_regions` in the check a worker makes before enumerating a tile.
TILE_CHECK_SAMPLES = 200
#: ``tiles="auto"`` splits until every tile's estimate is below this fraction of its budget
#: in regions: the estimate of a small sample is more often below the count than above
#: (median ratio about 0.6), and a tile at which the split stops is one whose estimate came
#: out low. On D-II model 0 (0.5 GiB tiles) a fraction of 1 left 9 of 27 tiles over twice
#: the budget (the largest 4.2x), 0.5 left 3 of 48 (the largest 2.9x).
AUTO_FILL = 0.5
#: That check splits a tile when its estimate is over this many times the tile's budget in
#: regions (the estimate is heavy-tailed, and the tiles of ``tiles="auto"`` were sized with
#: the same estimator; a tile that really runs out of memory is split anyway).
ESTIMATE_SPLIT_FACTOR = 2.0
#: Region volumes at sample points (the density estimate) are computed up to this input
#: dimension; beyond it ``tiles="auto"`` falls back on Chao1 and the pilot pass.
VOLUME_ESTIMATE_MAX_DIM = 4
#: A sample whose distance to a hyperplane of its region is below this (relative to the
#: domain's size) is skipped by the density estimate (it is not an interior point).
SAMPLE_MARGIN_RTOL = 1e-10
#: Points per batch when local affine maps are propagated for the density estimate.
ESTIMATE_CHUNK = 2048
#: ``tiles="auto"`` with input dimension above ``VOLUME_ESTIMATE_MAX_DIM`` enumerates layers
#: 1, 2, ... exactly until one has more regions than this (``PILOT_MAX_REGIONS_LP``: LP
#: engine), and extrapolates the growth.
PILOT_MAX_REGIONS = 100_000
PILOT_MAX_REGIONS_LP = 500
#: Largest growth per remaining layer assumed by that extrapolation.
PILOT_MAX_GROWTH = 2.0
#: A k-d cut is kept at least this fraction of the side away from the side's ends.
CUT_MARGIN = 0.05
#: Largest number of tiles ``tiles="auto"`` chooses.
MAX_AUTO_TILES = 4096
#: A tile whose Chebyshev radius is below this (relative to the domain's size) is empty.
EMPTY_TILE_RTOL = 1e-9
#: How many times a tile that runs out of memory (or regions) is halved before giving up
#: (a tile of :func:`polyrank.write_regions` counts the halvings from its initial tile).
MAX_SPLIT_DEPTH = 12
#: Two vertices of a region closer than this (relative to the region's size) coincide, and
#: a vertex violating a constraint by less than this lies on it (fast volume kernel).
VERTEX_RTOL = 1e-9


@dataclass(frozen=True, eq=False)
class Tile:
    """One tile: the domain cut by axis-aligned walls.

    Attributes
    ----------
    index : int
        Position in the list returned by :func:`tile_domain` (the tile id of the store).
    lo, hi : ndarray of shape (d,)
        The tile's box; the tile is ``domain ∩ [lo, hi]``.
    polytope : Polytope
        Its H-representation: the domain's rows first (same indices), then the walls.
    n_domain_rows : int
        Rows of ``polytope`` with index ``>= n_domain_rows`` are tile walls.
    frame : (ndarray, float) or None
        The whole domain's local frame ``(x0, s)`` (its centre and the largest side of its
        bounding box). Every tile's engine works in it, so that its tolerances and its
        constant-unit thresholds are the whole domain's, and a tile decides each unit
        exactly as the untiled run does (None: the tile's own frame).
    """

    index: int
    lo: np.ndarray
    hi: np.ndarray
    polytope: Polytope
    n_domain_rows: int
    frame: tuple = None

    @property
    def scale(self) -> float:
        """Largest side of the tile's box."""
        return float(np.max(self.hi - self.lo))


# ---------------------------------------------------------------------------- choosing tiles
def check_bounded_domain(domain, func):
    if domain is None:
        raise ValueError(f"The 'domain' parameter of {func} must be a bounded Box or Polytope: tiling "
                         "needs a bounded domain (got None, i.e. all of R^d). Pass e.g. pr.Box(-R, R, dim=d).")
    if not isinstance(domain, Polytope):
        raise TypeError(f"The 'domain' parameter of {func} must be a Box or Polytope; got {type(domain).__name__}.")
    if not domain.bounded:
        raise ValueError(f"The 'domain' parameter of {func} is unbounded: tiling needs a bounded domain "
                         "(a Box, or a Polytope whose rows bound it).")
    return domain


def make_tile(domain, lo, hi, index, dlo, dhi):
    """``domain ∩ [lo, hi]`` with walls only where the box cuts inside the domain's bounding box;
    None when the piece is empty or lower-dimensional."""
    d = domain.dim
    rows, rhs = [], []
    for k in range(d):
        if lo[k] > dlo[k]:
            e = np.zeros(d)
            e[k] = -1.0
            rows.append(e)
            rhs.append(-lo[k])
        if hi[k] < dhi[k]:
            e = np.zeros(d)
            e[k] = 1.0
            rows.append(e)
            rhs.append(hi[k])
    A = np.vstack([domain.A] + rows) if rows else domain.A
    b = np.concatenate([domain.b, rhs]) if rows else domain.b
    scale = float(np.max(dhi - dlo))
    from .exceptions import InfeasibleError
    from .lp import chebyshev_center

    try:
        _, r = chebyshev_center(A, b)
    except InfeasibleError:
        return None
    if r <= EMPTY_TILE_RTOL * scale:
        return None
    try:
        P = Polytope(A, b)
    except ValueError:
        return None
    return Tile(index, np.asarray(lo, float).copy(), np.asarray(hi, float).copy(), P, domain.A.shape[0],
                local_frame(None, domain, None))


def estimate_regions(net, domain, *, layer=None, n_samples=MIN_SAMPLES, seed=0) -> float:
    """A cheap, unbiased estimate of the number of regions of ``net`` over a bounded ``domain``.

    Draws ``n_samples`` uniform points ``x`` and averages ``vol(domain) / vol(R(x))``, where
    ``R(x)`` is the region of ``x`` cut to the domain: a region ``R`` is hit with
    probability ``vol(R) / vol(domain)``, so the expectation is exactly the number of
    regions. ``R(x)`` is the polytope of every unit's half-space at ``x`` (through the local
    affine maps), so each sample costs one half-space intersection (qhull, about a
    millisecond for a 3-25x9 network). The estimate is unbiased but heavy-tailed: a small
    sample rarely hits the smallest regions, so it more often falls below the count than
    above it (on trained 3-15x9 networks, per tile of a 3x3x3 grid with 300 samples, the
    median ratio to the exact piece count was 0.6). Points on a hyperplane (measure zero)
    are skipped. Above input dimension ``VOLUME_ESTIMATE_MAX_DIM`` it counts distinct
    patterns instead and applies the Chao1 richness estimator ``S + f1^2 / (2 f2)``
    (``f1``, ``f2``: patterns seen once, twice), a rough figure.

    A :class:`Tile`'s ``polytope`` is a domain too: the estimate is then the number of
    pieces of the tile (regions cut to it).

    Parameters
    ----------
    net : ReLUNetwork
    domain : Box or Polytope (bounded)
    layer : int, optional
        Patterns of layers 1..layer (default all).
    n_samples : int
    seed : int or Generator

    Returns
    -------
    float

    Examples
    --------
    Two lines cut the square into 4 regions of area 1; every sample gives ``4 / 1``:

    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> round(pr.estimate_regions(net, pr.Box(-1.0, 1.0, dim=2)), 9)
    4.0
    """
    net = as_network(net)
    domain = check_bounded_domain(domain, "estimate_regions")
    if net.input_dim != domain.dim:
        raise ValueError(f"The 'domain' parameter of estimate_regions has dimension {domain.dim}, but the network "
                         f"has input dimension {net.input_dim}.")
    n_samples = check_positive_int(n_samples, name="n_samples", func="estimate_regions")
    K = _check_layer(net, layer)
    X = domain.sample(n_samples, seed=np.random.default_rng(seed))
    if domain.dim > VOLUME_ESTIMATE_MAX_DIM:
        _, counts = _pattern_counts(net, X, K)
        return _chao1(counts)
    w = inverse_region_volumes(net, X, domain, layer=K)
    w = w[np.isfinite(w)]
    return float(domain.volume() * w.mean()) if len(w) else 1.0


def _check_layer(net, layer):
    from ._validation import check_layer

    return check_layer(layer, net.n_layers)


def _local_halfspaces(net, X, K):
    """Rows ``(A, b)`` of shapes (n, units, d) and (n, units): the region of the point
    ``X[i]`` is ``{y : A[i] y <= b[i]}`` (every unit of layers 1..K on its side at
    ``X[i]``, through the local affine maps). A unit that is constant on the region has a
    zero row."""
    n, d = X.shape
    h = X
    Jh = np.broadcast_to(np.eye(d), (n, d, d))
    As, bs = [], []
    for l in range(K):
        W = np.asarray(net.weights[l], dtype=np.float64)
        z = h @ W.T + np.asarray(net.biases[l], dtype=np.float64)
        J = np.einsum("wk,nkd->nwd", W, Jh)
        s = np.where(z > 0, 1.0, -1.0)
        As.append(-s[:, :, None] * J)
        bs.append(s * (z - np.einsum("nwd,nd->nw", J, X)))
        on = z > 0
        h = z * on
        Jh = J * on[:, :, None]
    return np.concatenate(As, axis=1), np.concatenate(bs, axis=1)


def inverse_region_volumes(net, X, domain, *, layer=None) -> np.ndarray:
    """``1 / vol(R(x) ∩ domain)`` for every point ``x`` of ``X`` (``R(x)`` its region of
    layers 1..layer); NaN for a point on a hyperplane or outside the domain.

    The weights of :func:`estimate_regions`: their mean times ``vol(domain)`` estimates the
    number of regions, their sum over the points in a part of the domain the share of that
    part. Input dimension 1 to ``VOLUME_ESTIMATE_MAX_DIM``.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> pr.inverse_region_volumes(net, np.array([[0.5, 0.5], [-0.5, 0.25]]), pr.Box(-1.0, 1.0, dim=2)).round(9)
    array([1., 1.])
    """
    from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

    net = as_network(net)
    K = _check_layer(net, layer)
    domain = check_bounded_domain(domain, "inverse_region_volumes")
    if domain.dim != net.input_dim:
        raise ValueError(f"The 'domain' parameter of inverse_region_volumes has dimension {domain.dim}, but the "
                         f"network has input dimension {net.input_dim}.")
    X = check_points(X, net.input_dim)
    n, d = X.shape
    if d > VOLUME_ESTIMATE_MAX_DIM:
        raise ValueError(f"inverse_region_volumes supports input dimension <= {VOLUME_ESTIMATE_MAX_DIM}; got {d}.")
    Ad, bd = np.asarray(domain.A, np.float64), np.asarray(domain.b, np.float64)
    lo, hi = domain.bounding_box()
    margin = SAMPLE_MARGIN_RTOL * float(np.max(hi - lo))
    out = np.full(n, np.nan)
    for start in range(0, n, ESTIMATE_CHUNK):
        Xc = X[start: start + ESTIMATE_CHUNK]
        A, b = _local_halfspaces(net, Xc, K)
        for i, x in enumerate(Xc):
            Ai = np.vstack([A[i], Ad])
            bi = np.concatenate([b[i], bd])
            nr = np.linalg.norm(Ai, axis=1)
            keep = nr > 0
            Ai, bi = Ai[keep] / nr[keep, None], bi[keep] / nr[keep]
            if np.min(bi - Ai @ x) <= margin:
                continue
            if d == 1:
                a = Ai[:, 0]
                vol = np.min(bi[a > 0] / a[a > 0]) - np.max(bi[a < 0] / a[a < 0])
            else:
                try:
                    V = HalfspaceIntersection(np.hstack([Ai, -bi[:, None]]), x).intersections
                    vol = ConvexHull(V).volume
                except (QhullError, ValueError):
                    continue
            if vol > 0:
                out[start + i] = 1.0 / vol
    return out


def region_upper_bound(net, layer=None) -> float:
    """An upper bound on the number of regions of ``net`` over any domain:
    ``prod_l sum_{i <= d} C(w_l, i)`` (on a region of the earlier layers, layer ``l`` is an
    arrangement of ``w_l`` affine hyperplanes in ``R^d``).

    Examples
    --------
    >>> pr.region_upper_bound(pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)]))
    4.0
    """
    net = as_network(net)
    K = _check_layer(net, layer)
    d = net.input_dim
    return float(np.prod([sum(math.comb(int(w), i) for i in range(min(d, int(w)) + 1)) for w in net.widths[:K]]))


def _pattern_counts(net, X, layer):
    P = net.patterns(X, flat=True)[:, : _n_units(net, layer)]
    keys = _row_keys(np.packbits(P, axis=1))
    _, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return inv.ravel(), counts


def _pilot_estimate(net, domain, layer):
    """Exact region counts of layers 1, 2, ... over the whole domain until one passes
    ``PILOT_MAX_REGIONS``; the last count times the last layer-to-layer growth per
    remaining layer (the exact count when every layer fits)."""
    from .enumerate import enumerate_regions

    K = net.n_layers if layer is None else layer
    cap = PILOT_MAX_REGIONS if net.input_dim <= 4 else PILOT_MAX_REGIONS_LP
    prev, cur, k = 1, 1, 0
    for k in range(1, K + 1):
        try:
            n = len(enumerate_regions(net, domain, layer=k, max_regions=cap))
        except (RegionLimitError, MemoryBudgetError):
            break
        prev, cur = cur, n
        if k == K:
            return float(cur)
    else:  # pragma: no cover
        return float(cur)
    # trained networks: the growth per layer falls with depth (D-III 3-15x9: 11, 4.4, 2.0, 2.1,
    # 1.5, 1.5, then ~1.6); cap the last measured growth
    growth = min(cur / prev, PILOT_MAX_GROWTH)
    return float(cur) * growth ** (K - k + 1)


def _chao1(counts):
    S = float(len(counts))
    f1 = float(np.sum(counts == 1))
    f2 = float(np.sum(counts == 2))
    return S + (f1 * f1 / (2 * f2) if f2 > 0 else f1 * (f1 - 1) / 2)


def _n_units(net, layer):
    K = net.n_layers if layer is None else layer
    return int(sum(net.widths[:K]))


def check_tiles(tiles, d, *, func):
    """Return ``tiles`` as "auto", an int >= 1 or a tuple of ``d`` ints >= 1."""
    if isinstance(tiles, str) and tiles == "auto":
        return tiles
    if isinstance(tiles, (tuple, list)):
        if len(tiles) != d or not all(isinstance(t, numbers.Integral) and not isinstance(t, bool) and t >= 1
                                      for t in tiles):
            raise ValueError(f"The 'tiles' parameter of {func}, as a tuple, must hold {d} ints >= 1 "
                             f"(cells per axis); got {tiles!r}.")
        return tuple(int(t) for t in tiles)
    if isinstance(tiles, numbers.Integral) and not isinstance(tiles, bool) and tiles >= 1:
        return int(tiles)
    raise ValueError(f"The 'tiles' parameter of {func} must be 'auto', an int >= 1 or a tuple of {d} ints; "
                     f"got {tiles!r}.")


def tile_domain(net, domain, *, tiles="auto", layer=None, max_memory=None, n_workers=1, seed=0) -> list:
    """Split a bounded domain into tiles for :func:`polyrank.write_regions`.

    Parameters
    ----------
    net : ReLUNetwork
    domain : Box or Polytope
        Must be bounded.
    tiles : "auto", int or tuple of int
        An int ``n``: a k-d split into ``n`` tiles, each cut along the longest side of its
        box where it halves the weight of a uniform sample (each sample weighs one over the
        number of samples sharing its pattern, so the weight of a tile counts the distinct
        patterns seen in it). A tuple ``(n_1, ..., n_d)``: a regular grid of the domain's
        bounding box (cells outside the domain are dropped). ``"auto"``: an adaptive k-d
        split driven by the density estimate of :func:`estimate_regions` (input dimension
        up to ``VOLUME_ESTIMATE_MAX_DIM``): the tile with the largest estimated number of
        regions is cut where it halves the summed weights ``1 / vol(R(x))`` of its samples
        (:func:`inverse_region_volumes`; each new tile is topped up to
        ``AUTO_SAMPLES_PER_TILE`` samples), until every tile's estimate times
        ``BYTES_PER_REGION`` fits in ``AUTO_FILL`` times ``max_memory`` and there are at
        least ``n_workers`` tiles (at most ``MAX_AUTO_TILES``). Dense parts of the domain thus get small
        tiles. When even :func:`region_upper_bound` fits in one tile, ``n_workers`` tiles.
        Above ``VOLUME_ESTIMATE_MAX_DIM``: ``max(n_workers, estimate * BYTES_PER_REGION /
        max_memory)`` tiles as for an int, the estimate being the larger of Chao1 and a
        pilot pass (exact counts of the first layers, extrapolated).
    layer : int, optional
        Patterns of layers 1..layer (default all).
    max_memory : int, optional
        Bytes one tile may use (default ``DEFAULT_TILE_MEMORY``); only for ``tiles="auto"``.
    n_workers : int
        Workers that will share the tiles (``"auto"`` makes at least this many).
    seed : int or Generator
        The samples of the k-d split.

    Returns
    -------
    list of Tile
        Non-empty tiles covering the domain, overlapping only on their walls.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> ts = pr.tile_domain(net, pr.Box(-1.0, 1.0, dim=2), tiles=(2, 3))
    >>> len(ts), round(sum(t.polytope.volume() for t in ts), 12)
    (6, 4.0)
    """
    net = as_network(net)
    domain = check_bounded_domain(domain, "tile_domain")
    d = domain.dim
    if net.input_dim != d:
        raise ValueError(f"The domain has dimension {d} but the network has input dimension {net.input_dim}.")
    n_workers = check_positive_int(n_workers, name="n_workers", func="tile_domain")
    K = _check_layer(net, layer)
    dlo, dhi = (np.asarray(v, float) for v in domain.bounding_box())
    tiles = check_tiles(tiles, d, func="tile_domain")
    if isinstance(tiles, tuple):
        edges = [np.linspace(dlo[k], dhi[k], tiles[k] + 1) for k in range(d)]
        out = []
        for idx in np.ndindex(*tiles):
            lo = np.array([edges[k][i] for k, i in enumerate(idx)])
            hi = np.array([edges[k][i + 1] for k, i in enumerate(idx)])
            t = make_tile(domain, lo, hi, len(out), dlo, dhi)
            if t is not None:
                out.append(t)
        return out
    rng = np.random.default_rng(seed)
    X = inv = counts = None
    if isinstance(tiles, str) and tiles == "auto":
        budget = DEFAULT_TILE_MEMORY if max_memory is None else check_positive_int(
            max_memory, name="max_memory", func="tile_domain")
        cap = AUTO_FILL * budget / BYTES_PER_REGION
        if region_upper_bound(net, K) <= cap:
            n = n_workers
        elif d <= VOLUME_ESTIMATE_MAX_DIM:
            boxes = _adaptive_kd(net, domain, K, cap, n_workers, rng, dlo, dhi)
            return _boxes_to_tiles(domain, boxes, dlo, dhi)
        else:
            X = domain.sample(MIN_SAMPLES, seed=rng)
            inv, counts = _pattern_counts(net, X, K)
            need = math.ceil(max(_chao1(counts), _pilot_estimate(net, domain, K)) * BYTES_PER_REGION / budget)
            n = int(min(MAX_AUTO_TILES, max(n_workers, need, 1)))
    else:
        n = tiles
    if n == 1:
        return [make_tile(domain, dlo, dhi, 0, dlo, dhi)]
    if X is None or len(X) < SAMPLES_PER_TILE * n:
        X = domain.sample(max(MIN_SAMPLES, SAMPLES_PER_TILE * n), seed=rng)
        inv, counts = _pattern_counts(net, X, K)
    w = 1.0 / counts[inv]
    boxes = []
    _kd(X, w, dlo.copy(), dhi.copy(), n, boxes)
    return _boxes_to_tiles(domain, boxes, dlo, dhi)


def _boxes_to_tiles(domain, boxes, dlo, dhi):
    out = []
    for lo, hi in boxes:
        t = make_tile(domain, lo, hi, len(out), dlo, dhi)
        if t is not None:
            out.append(t)
    return out


def _box_polytope(domain, lo, hi):
    d = domain.dim
    E = np.eye(d)
    return np.vstack([domain.A, -E, E]), np.concatenate([domain.b, -np.asarray(lo), np.asarray(hi)])


def _sample_in_box(domain, lo, hi, n, rng, vol_box, vol_part):
    """``n`` uniform points of ``domain ∩ [lo, hi]`` (rejection from the box)."""
    out, got = [], 0
    rate = max(vol_part / vol_box, 1e-3) if vol_box > 0 else 1.0
    for _ in range(100):
        Y = rng.uniform(lo, hi, size=(int(min(1e6, max(64, 2 * (n - got) / rate))), len(lo)))
        Y = Y[np.all(Y @ domain.A.T <= domain.b, axis=1)]
        out.append(Y)
        got += len(Y)
        if got >= n:
            break
    return np.concatenate(out)[:n]


def _adaptive_kd(net, domain, K, cap, n_min, rng, dlo, dhi):
    """Boxes of the adaptive k-d split of ``tiles="auto"`` (see :func:`tile_domain`)."""
    import heapq

    box_domain = abs(domain.volume() - float(np.prod(dhi - dlo))) <= 1e-9 * float(np.prod(dhi - dlo))

    def volume(lo, hi):
        if box_domain:
            return float(np.prod(np.maximum(hi - lo, 0.0)))
        from scipy.spatial import QhullError

        from .exceptions import InfeasibleError

        try:
            A, b = _box_polytope(domain, lo, hi)
            return Polytope(A, b).volume()
        except (InfeasibleError, QhullError, ValueError):  # empty or flat
            return 0.0

    def leaf(lo, hi, X, w):
        vol = volume(lo, hi)
        if vol <= 0:
            return None
        if len(X) < AUTO_SAMPLES_PER_TILE:
            Y = _sample_in_box(domain, lo, hi, AUTO_SAMPLES_PER_TILE - len(X), rng, float(np.prod(hi - lo)), vol)
            X = np.vstack([X, Y])
            w = np.concatenate([w, inverse_region_volumes(net, Y, domain, layer=K)])
        ok = np.isfinite(w)
        X, w = X[ok], w[ok]
        est = vol * float(w.mean()) if len(w) else 0.0
        return (-est, next(tick), lo, hi, X, w)

    tick = iter(range(10 ** 9))
    X = domain.sample(MIN_SAMPLES, seed=rng)
    heap = [leaf(dlo.copy(), dhi.copy(), X, inverse_region_volumes(net, X, domain, layer=K))]
    while len(heap) < MAX_AUTO_TILES:
        if -heap[0][0] <= cap and len(heap) >= n_min:
            break
        _, _, lo, hi, X, w = heapq.heappop(heap)
        k = int(np.argmax(hi - lo))
        side = hi[k] - lo[k]
        cut = lo[k] + side / 2
        if len(X):
            order = np.argsort(X[:, k], kind="stable")
            cw = np.cumsum(w[order])
            cut = float(X[order[min(int(np.searchsorted(cw, cw[-1] / 2)), len(order) - 1)], k])
        cut = float(np.clip(cut, lo[k] + CUT_MARGIN * side, hi[k] - CUT_MARGIN * side))
        left = X[:, k] <= cut
        hi1, lo2 = hi.copy(), lo.copy()
        hi1[k] = lo2[k] = cut
        for child in (leaf(lo, hi1, X[left], w[left]), leaf(lo2, hi, X[~left], w[~left])):
            if child is not None:
                heapq.heappush(heap, child)
    return [(h[2], h[3]) for h in sorted(heap, key=lambda h: h[1])]


def split_tile(tile, domain, first_index) -> list:
    """Halve a tile along the longest side of its box (k-d halving at the midpoint).

    :func:`polyrank.write_regions` does this to a tile whose worker ran out of memory, and
    enumerates the halves instead.

    Parameters
    ----------
    tile : Tile
    domain : Box or Polytope
        The domain the tile was cut from.
    first_index : int
        Index of the first half; the second gets ``first_index + 1``.

    Returns
    -------
    list of Tile
        The non-empty halves (two, or one when the other half misses the domain).

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> dom = pr.Box(-1.0, 1.0, dim=2)
    >>> t = pr.tile_domain(net, dom, tiles=(1, 2))[0]
    >>> [(h.lo.tolist(), h.hi.tolist()) for h in pr.split_tile(t, dom, 2)]
    [([-1.0, -1.0], [0.0, 0.0]), ([0.0, -1.0], [1.0, 0.0])]
    """
    dlo, dhi = (np.asarray(v, float) for v in domain.bounding_box())
    lo, hi = np.asarray(tile.lo, float), np.asarray(tile.hi, float)
    k = int(np.argmax(hi - lo))
    mid = 0.5 * (lo[k] + hi[k])
    hi1, lo2 = hi.copy(), lo.copy()
    hi1[k] = lo2[k] = mid
    out = []
    for a, b in ((lo, hi1), (lo2, hi)):
        t = make_tile(domain, a, b, first_index + len(out), dlo, dhi)
        if t is not None:
            out.append(t)
    return out


def _kd(X, w, lo, hi, n, out):
    if n == 1:
        out.append((lo, hi))
        return
    n1 = n // 2
    k = int(np.argmax(hi - lo))
    side = hi[k] - lo[k]
    cut = lo[k] + side * n1 / n
    if len(X):
        order = np.argsort(X[:, k], kind="stable")
        cw = np.cumsum(w[order])
        j = int(np.searchsorted(cw, cw[-1] * n1 / n))
        cut = float(X[order[min(j, len(order) - 1)], k])
    cut = float(np.clip(cut, lo[k] + CUT_MARGIN * side, hi[k] - CUT_MARGIN * side))
    left = X[:, k] <= cut
    hi1, lo2 = hi.copy(), lo.copy()
    hi1[k] = lo2[k] = cut
    _kd(X[left], w[left], lo, hi1, n1, out)
    _kd(X[~left], w[~left], lo2, hi, n - n1, out)


# ---------------------------------------------------------------------------- patterns
def pack_patterns(P) -> np.ndarray:
    """Bool patterns of shape (n, n_units) packed 8 units a byte (``np.packbits``, big-endian
    bit order), shape (n, ceil(n_units / 8)) uint8. ``P`` holds booleans or the integers 0/1.

    Examples
    --------
    >>> pr.unpack_patterns(pr.pack_patterns([[True, False, True]]), 3)
    array([[ True, False,  True]])
    """
    A = np.asarray(P)
    if A.ndim != 2:
        raise ValueError(f"The 'P' parameter of pack_patterns must be a 2-D array (one pattern per row); "
                         f"got shape {A.shape}.")
    if A.dtype != bool:
        if not (np.issubdtype(A.dtype, np.integer) and ((A == 0) | (A == 1)).all()):
            raise ValueError("The 'P' parameter of pack_patterns must hold booleans or the integers 0 and 1; "
                             f"got an array of dtype {A.dtype} with other values.")
        A = A.astype(bool)
    return np.packbits(A, axis=1)


def unpack_patterns(B, n_units) -> np.ndarray:
    """Inverse of :func:`pack_patterns`: bool array of shape (n, n_units).

    ``B`` must have ``ceil(n_units / 8)`` columns (what :func:`pack_patterns` makes of
    ``n_units`` units); anything else is refused rather than padded with zeros.

    Examples
    --------
    >>> pr.unpack_patterns([[0b10100000]], 3)
    array([[ True, False,  True]])
    """
    n_units = check_positive_int(n_units, name="n_units", func="unpack_patterns")
    A = np.asarray(B)
    if A.ndim != 2 or not (A.dtype == np.uint8 or (np.issubdtype(A.dtype, np.integer)
                                                  and ((A >= 0) & (A <= 255)).all())):
        raise ValueError(f"The 'B' parameter of unpack_patterns must be a 2-D array of bytes (uint8, "
                         f"pack_patterns' output); got shape {A.shape}, dtype {A.dtype}.")
    if A.shape[1] != -(-n_units // 8):
        raise ValueError(f"unpack_patterns: {n_units} units are packed in {-(-n_units // 8)} bytes per row; "
                         f"B has {A.shape[1]}.")
    A = A.astype(np.uint8, copy=False)
    pad = -n_units % 8  # pack_patterns leaves the last byte's low bits beyond n_units at zero
    if pad and len(A) and (A[:, -1] & np.uint8((1 << pad) - 1)).any():
        raise ValueError(f"unpack_patterns: B has bits set beyond n_units={n_units} (in the last byte's {pad} "
                         f"padding bits): it was packed from more units than that.")
    return np.unpackbits(A, axis=1, count=n_units).astype(bool)


def _row_keys(B):
    """One hashable, sortable scalar per row of a uint8 matrix (a numpy void view)."""
    B = np.ascontiguousarray(B, dtype=np.uint8)
    return B.view(np.dtype((np.void, max(B.shape[1], 1)))).ravel() if B.shape[1] else np.zeros(len(B), "V1")


#: Odd 64-bit multipliers of the pattern hash (fixed: a store's buckets must not depend on
#: the process that computed them).
_HASH_MULT = np.random.default_rng(20240607).integers(1, 2 ** 63, size=4096, dtype=np.uint64) | np.uint64(1)


def pattern_buckets(B, n_buckets) -> np.ndarray:
    """Bucket ``0..n_buckets-1`` of every packed pattern row: a fixed multiplicative hash of
    the bytes, the same on every machine, so equal patterns land in equal buckets."""
    B = np.ascontiguousarray(B, dtype=np.uint8)
    n, nb = B.shape
    pad = (-nb) % 8
    if pad:
        B = np.hstack([B, np.zeros((n, pad), np.uint8)])
    L = B.view(np.uint64)
    h = np.zeros(n, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(L.shape[1]):
            h = (h ^ L[:, j]) * _HASH_MULT[j % len(_HASH_MULT)]
            h ^= h >> np.uint64(29)
    return (h % np.uint64(n_buckets)).astype(np.int64)


# ---------------------------------------------------------------------------- one tile
def enumerate_tile(net, tile, *, layer=None, method="auto", max_memory=None, tol=None) -> dict:
    """Enumerate one tile and return its pieces as a table of numpy arrays.

    A tile whose enumeration would exceed ``max_memory`` (MemoryBudgetError), the
    engine's region limit or the process's memory (MemoryError) is halved along its
    longest side, up to ``MAX_SPLIT_DEPTH`` times; the halves' pieces are merged back, so
    the result is the tile's.

    Parameters
    ----------
    net : ReLUNetwork
    tile : Tile
    layer : int, optional
    method : {"auto", "lp", "subdivision"}
    max_memory : int, optional
        The subdivision engine's memory budget for this tile.
    tol : float, optional
        Minimum inradius of a region in absolute units (default ``enumerate.DEFAULT_TOL``
        times the whole domain's size, the tile's own when it has no ``frame``, as the
        untiled run); give the same value to every tile of a domain.

    Returns
    -------
    dict of arrays, one row per piece
        ``pattern`` (packed, uint8), ``ranks`` and ``sizes`` (int16, one column per layer),
        ``witness``, ``inradius``, ``volume``, ``tile`` (int32), and the facets as CSR:
        ``facet_ptr`` (int64, n + 1) and ``facet_ids`` (int32: hidden unit ``u >= 0`` in
        flat pattern order, domain row ``i`` as ``-1 - i``; tile walls left out).

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> t = pr.tile_domain(net, pr.Box(-1.0, 1.0, dim=2), tiles=(2, 1))[0]
    >>> p = pr.enumerate_tile(net, t)
    >>> len(p["volume"]), float(p["volume"].sum())
    (2, 2.0)
    """
    net = as_network(net)
    tables = list(iter_tile_pieces(net, tile, layer=layer, method=method, max_memory=max_memory, tol=tol))
    if len(tables) == 1:
        return tables[0]
    return _unmerged(merge_pieces(concat_pieces(tables)), tile.index)


def _unmerged(m, index):
    """A merged table back in piece-table form (one tile id per row)."""
    out = {k: v for k, v in m.items() if k not in ("tile_ptr", "tile_ids")}
    out["tile"] = np.full(len(m["volume"]), index, np.int32)
    return out


def iter_tile_pieces(net, tile, *, layer=None, method="auto", max_memory=None, tol=None, split=True, n_jobs=None):
    """Yield the piece tables of one tile, one per enumerated sub-box.

    Normally one table; a tile that runs out of memory or regions is halved (recursively)
    and each half's table is yielded as soon as it is done, so that a caller that writes
    them out never holds more than one half. Pieces of one region may then appear in
    several tables of the same tile (:func:`merge_pieces` groups them). With
    ``split=False`` the error propagates instead (:func:`polyrank.write_regions` then
    splits the tile with :func:`split_tile` and queues the halves as new tiles).
    ``n_jobs``: the subdivision engine's threads (default all cores). The engine skips its
    adjacency pass (``edges=False``): a piece table holds no neighbours.
    """
    from .enumerate import DEFAULT_TOL

    net = as_network(net)
    K = net.n_layers if layer is None else int(layer)
    if tol is None:  # the whole domain's, like write_regions' (the tile's own without a frame)
        tol = DEFAULT_TOL * (float(tile.frame[1]) if tile.frame is not None else tile.scale)
    yield from _enumerate_box(net, tile, np.asarray(tile.lo, float), np.asarray(tile.hi, float), K, method,
                              max_memory, tol, 0 if split else MAX_SPLIT_DEPTH, n_jobs)


def _enumerate_box(net, tile, lo, hi, K, method, max_memory, tol, depth, n_jobs=None):
    from . import subdivision
    from .enumerate import enumerate_regions

    dom = tile.polytope
    if depth and (np.any(lo != tile.lo) or np.any(hi != tile.hi)):
        dom = _sub_tile(tile, lo, hi)
        if dom is None:
            return
    failed = False
    try:
        extra = {} if max_memory is None else {"max_memory": int(max_memory)}
        if n_jobs is not None:
            extra["n_jobs"] = n_jobs
        # the whole domain's frame: the tile's engine decides every unit as the untiled run
        frame = tile.frame
        if frame is None:
            blo, bhi = dom.bounding_box()
            rtol = tol / float(np.max(bhi - blo))
        else:
            extra["frame"] = frame
            rtol = tol / float(frame[1])
        if method == "subdivision" or (method == "auto" and subdivision.applies(net, dom)):
            # the store holds no adjacency: the engine skips its neighbour pass
            dec = subdivision.enumerate_subdivision(net, dom, layer=K, tol=rtol, edges=False, **extra)
        else:
            dec = enumerate_regions(net, dom, layer=K, method=method, tol=rtol, **extra)
    except (MemoryBudgetError, RegionLimitError, MemoryError):
        if depth >= MAX_SPLIT_DEPTH:
            raise
        failed = True  # halve outside the except block: its traceback holds the failed run's arrays
    if failed:
        k = int(np.argmax(hi - lo))
        mid = 0.5 * (lo[k] + hi[k])
        hi1, lo2 = hi.copy(), lo.copy()
        hi1[k] = lo2[k] = mid
        yield from _enumerate_box(net, tile, lo, hi1, K, method, max_memory, tol, depth + 1, n_jobs)
        yield from _enumerate_box(net, tile, lo2, hi, K, method, max_memory, tol, depth + 1, n_jobs)
        return
    yield _pieces(net, dec, tile, K)


def _sub_tile(tile, lo, hi):
    """``tile ∩ [lo, hi]`` with the extra walls appended after the tile's rows."""
    d = len(lo)
    A, b = [tile.polytope.A], [tile.polytope.b]
    for k in range(d):
        e = np.zeros((1, d))
        e[0, k] = -1.0
        A.append(e)
        b.append([-lo[k]])
        e = np.zeros((1, d))
        e[0, k] = 1.0
        A.append(e)
        b.append([hi[k]])
    try:
        return Polytope(np.vstack(A), np.concatenate(b))
    except ValueError:
        return None


def _empty_pieces(net, K):
    nb = (_n_units(net, K) + 7) // 8
    d = net.input_dim
    return dict(pattern=np.zeros((0, nb), np.uint8), ranks=np.zeros((0, K), np.int16),
                sizes=np.zeros((0, K), np.int16), witness=np.zeros((0, d)), inradius=np.zeros(0),
                volume=np.zeros(0), tile=np.zeros(0, np.int32), facet_ptr=np.zeros(1, np.int64),
                facet_ids=np.zeros(0, np.int32))


#: The engine arrays :func:`_pieces` reads instead of building Region objects.
_PIECE_ARRAYS = ("witnesses", "inradius", "A", "b", "row_offsets", "row_ids", "bounded")


def _pieces(net, dec, tile, K):
    n = len(dec)
    if n == 0:
        return _empty_pieces(net, K)
    P = np.asarray(dec.patterns, dtype=bool)
    ranks = np.stack([dec.ranks(k) for k in range(1, K + 1)], axis=1).astype(np.int16)
    offs = np.concatenate([[0], np.cumsum(net.widths[:K])])
    sizes = np.stack([P[:, offs[k]: offs[k + 1]].sum(axis=1) for k in range(K)], axis=1).astype(np.int16)
    arr = getattr(dec, "_arrays", None) or {}
    if all(k in arr for k in _PIECE_ARRAYS):
        W, rad, ptr, ids, vol = _piece_columns_from_arrays(arr, n, tile, offs[K], net.input_dim)
    else:  # the LP engine, or regions replaced after the run: read the Region objects
        W, rad, ptr, ids, vol = _piece_columns_from_regions(dec.regions, n, tile, offs)
    return dict(pattern=pack_patterns(P), ranks=ranks, sizes=sizes, witness=W, inradius=rad, volume=vol,
                tile=np.full(n, tile.index, np.int32), facet_ptr=ptr, facet_ids=np.asarray(ids, np.int32))


def _piece_columns_from_regions(regions, n, tile, offs):
    W = np.array([r.witness for r in regions], dtype=np.float64).reshape(n, -1)
    rad = np.array([r.inradius for r in regions], dtype=np.float64)
    # facet labels -> ids: hidden unit u >= 0 (flat order), domain row i -> -1 - i, walls -> dropped
    counts = np.fromiter((len(r.facets) for r in regions), np.int64, count=n)
    lab = np.fromiter(chain.from_iterable(chain.from_iterable(r.facets for r in regions)), np.int64,
                      count=2 * int(counts.sum())).reshape(-1, 2)
    keep = (lab[:, 0] > 0) | (lab[:, 1] < tile.n_domain_rows)
    code = np.where(lab[:, 0] > 0, offs[np.maximum(lab[:, 0] - 1, 0)] + lab[:, 1], -1 - lab[:, 1])
    owner = np.repeat(np.arange(n), counts)[keep]
    ptr = np.zeros(n + 1, np.int64)
    ptr[1:] = np.cumsum(np.bincount(owner, minlength=n))
    return W, rad, ptr, code[keep], region_volumes(regions)


def _piece_columns_from_arrays(arr, n, tile, n_units, d):
    """The Region path's columns from the subdivision engine's arrays: row id ``c`` names
    hidden unit ``c`` (flat order) below ``n_units`` and domain row ``c - n_units`` above."""
    W = np.asarray(arr["witnesses"], dtype=np.float64).reshape(n, d)
    rad = np.asarray(arr["inradius"], dtype=np.float64)
    bounds = np.asarray(arr["row_offsets"], dtype=np.int64)
    c = np.asarray(arr["row_ids"], dtype=np.int64)
    keep = (c < n_units) | (c - n_units < tile.n_domain_rows)
    code = np.where(c < n_units, c, n_units - 1 - c)
    owner = np.repeat(np.arange(n), np.diff(bounds))[keep]
    ptr = np.zeros(n + 1, np.int64)
    ptr[1:] = np.cumsum(np.bincount(owner, minlength=n))
    vol = _volumes_from_rows(arr["A"], arr["b"], bounds, W, arr["bounded"])
    return W, rad, ptr, code[keep], vol


def concat_pieces(tables) -> dict:
    """Stack piece tables (same columns) row-wise."""
    tables = [t for t in tables if t is not None]
    out = {}
    for key in tables[0]:
        if key == "facet_ptr":
            ptrs, base = [np.zeros(1, np.int64)], 0
            for t in tables:
                ptrs.append(t["facet_ptr"][1:] + base)
                base += int(t["facet_ptr"][-1])
            out[key] = np.concatenate(ptrs)
        else:
            out[key] = np.concatenate([t[key] for t in tables], axis=0)
    return out


def merge_pieces(p) -> dict:
    """Group a piece table by pattern: one row per region.

    Volumes are summed, facets and tile ids are united (sorted, without repeats), and
    the row with the largest inradius gives the witness and inradius (a lower bound on the
    region's own inradius: its ball lies in the piece). Ranks and codeword sizes depend
    only on the pattern. Rows come out sorted by packed pattern bytes. The output has the
    piece table's columns, with ``tile`` replaced by the CSR pair ``tile_ptr``, ``tile_ids``.
    """
    n = len(p["volume"])
    keys = _row_keys(p["pattern"])
    if n == 0:
        uniq, g = keys, np.zeros(0, np.int64)
    else:
        uniq, g = np.unique(keys, return_inverse=True)
        g = g.ravel()
    G = len(uniq)
    order = np.lexsort((-p["inradius"], g))
    starts = np.flatnonzero(np.r_[True, g[order][1:] != g[order][:-1]]) if n else np.zeros(0, np.int64)
    best = order[starts]
    out = {k: p[k][best] for k in ("pattern", "ranks", "sizes", "witness", "inradius")}
    out["volume"] = np.bincount(g, weights=p["volume"], minlength=G)
    out["tile_ptr"], out["tile_ids"] = _union_csr(g, p["tile"].astype(np.int64), G)
    counts = np.diff(p["facet_ptr"])
    out["facet_ptr"], out["facet_ids"] = _union_csr(np.repeat(g, counts), p["facet_ids"].astype(np.int64), G)
    out["facet_ids"] = out["facet_ids"].astype(np.int32)
    out["tile_ids"] = out["tile_ids"].astype(np.int32)
    return out


def _union_csr(group, values, G):
    """Sorted unique values per group as (ptr, values)."""
    if len(values) == 0:
        return np.zeros(G + 1, np.int64), np.zeros(0, np.int64)
    vmin = int(values.min())
    span = int(values.max()) - vmin + 1
    key = np.sort(group.astype(np.int64) * span + (values - vmin))
    key = key[np.r_[True, key[1:] != key[:-1]]]
    g = key // span
    ptr = np.zeros(G + 1, np.int64)
    np.add.at(ptr, g + 1, 1)
    return np.cumsum(ptr), key - g * span + vmin


# ---------------------------------------------------------------------------- volumes
def region_volumes(regions) -> np.ndarray:
    """Volumes of bounded regions; a compiled vertex-enumeration kernel in 2-D and 3-D
    (about a microsecond per region), qhull otherwise. A sliver that neither resolves (an
    inradius of a few 1e-9 of the domain, where its rows and witness agree only to that
    precision) gets volume 0."""
    regions = list(regions)
    n = len(regions)
    if n == 0:
        return np.zeros(0)
    ptr = np.zeros(n + 1, np.int64)
    ptr[1:] = np.cumsum([r.A.shape[0] for r in regions])
    A = np.concatenate([r.A for r in regions])
    b = np.concatenate([r.b for r in regions])
    W = np.array([r.witness for r in regions], dtype=np.float64)
    return _volumes_from_rows(A, b, ptr, W, [r.bounded for r in regions])


def _volumes_from_rows(A, b, ptr, W, bounded):
    """Volumes of regions stacked as rows ``A x <= b`` (region ``i`` owns rows
    ``ptr[i]:ptr[i + 1]``, witness ``W[i]``), without Region objects: the kernel in 2-D
    and 3-D, qhull in other dimensions and where the kernel's geometry degenerates."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    ptr = np.ascontiguousarray(ptr, dtype=np.int64)
    n = len(ptr) - 1
    d = A.shape[1]
    W = np.ascontiguousarray(W, dtype=np.float64).reshape(n, d)
    bounded = np.asarray(bounded, dtype=bool).reshape(n)
    if d in (2, 3):
        vol = _volume_kernel()(A, b, ptr, W, d, VERTEX_RTOL)
        bad = np.flatnonzero(~np.isfinite(vol) | (vol <= 0))
    else:
        vol, bad = np.zeros(n), range(n)
    for i in bad:
        vol[i] = _qhull_volume(A[ptr[i]: ptr[i + 1]], b[ptr[i]: ptr[i + 1]], W[i], bounded[i])
    return vol


def _qhull_volume(A, b, witness, bounded):
    """A region's volume by qhull (as ``Region.volume``),
    from its Chebyshev centre when the witness lies too close to a facet for qhull; 0 for a
    sliver below qhull's resolution (inradius of a few 1e-9 of the domain, where the rows
    and the witness agree only to about that); ``inf`` when unbounded."""
    from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

    from .exceptions import InfeasibleError
    from .lp import chebyshev_center

    if not bounded:
        return float("inf")
    if A.shape[1] == 1:
        a = A[:, 0]
        return float(np.min(b[a > 0] / a[a > 0]) + np.min(b[a < 0] / -a[a < 0]))
    try:
        V = HalfspaceIntersection(np.hstack([A, -b[:, None]]), witness).intersections
        return float(ConvexHull(V - V.mean(axis=0)).volume)  # centred: qhull's tolerances scale with |V|
    except QhullError:
        pass
    nr = np.linalg.norm(A, axis=1)
    A, b = A / nr[:, None], b / nr
    try:
        c, _ = chebyshev_center(A, b)
        return float(ConvexHull(HalfspaceIntersection(np.hstack([A, -b[:, None]]), c).intersections).volume)
    except (QhullError, InfeasibleError):
        return 0.0


_KERNEL = None


def _volume_kernel():
    global _KERNEL
    if _KERNEL is None:
        try:
            import numba

            _KERNEL = numba.njit(cache=True, nogil=True)(_volumes_py)
        except ImportError:  # pragma: no cover
            _KERNEL = _volumes_py
    return _KERNEL


def _volumes_py(A, b, ptr, W, d, rtol):
    """vol(P) = (1/d) sum_f h_f area(f), h_f the height of facet f over the witness.

    The vertices are the feasible intersections of d of the region's planes, each
    computed once with the planes through it; a facet's (d-1)-volume comes from the
    vertices on its plane (2-D: their extent along the line; 3-D: the polygon sorted by
    angle around its centroid, by an insertion sort on a pseudo-angle that orders as
    ``atan2``). NaN when a height is not positive (witness not interior). The work
    buffers are allocated once, for the region with the most rows.
    """
    n = len(ptr) - 1
    out = np.zeros(n)
    mmax = 0
    for r in range(n):
        mmax = max(mmax, ptr[r + 1] - ptr[r])
    nmax = mmax * (mmax - 1) * (mmax - 2) // 6 + mmax * mmax
    h = np.empty(max(mmax, 1))
    V = np.empty((max(nmax, 1), 3))
    I = np.empty((max(nmax, 1), 3), np.int64)
    P = np.empty((max(nmax, 1), 2))
    ang = np.empty(max(nmax, 1))
    o = np.empty(max(nmax, 1), np.int64)
    for r in range(n):
        lo, hi = ptr[r], ptr[r + 1]
        m = hi - lo
        scale = 0.0
        ok = True
        for i in range(m):
            s = 0.0
            for k in range(d):
                s += A[lo + i, k] * W[r, k]
            h[i] = b[lo + i] - s
            scale = max(scale, h[i])
            if h[i] <= 0:
                ok = False
        if not ok:
            out[r] = np.nan
            continue
        eps = rtol * scale
        nv = 0
        if d == 2:
            for f in range(m):
                for g in range(f + 1, m):
                    a0, a1 = A[lo + f, 0], A[lo + f, 1]
                    c0, c1 = A[lo + g, 0], A[lo + g, 1]
                    det = a0 * c1 - a1 * c0
                    if abs(det) < 1e-12:
                        continue
                    y0 = (h[f] * c1 - a1 * h[g]) / det
                    y1 = (a0 * h[g] - h[f] * c0) / det
                    feas = True
                    for q in range(m):
                        if A[lo + q, 0] * y0 + A[lo + q, 1] * y1 > h[q] + eps:
                            feas = False
                            break
                    if feas:
                        V[nv, 0], V[nv, 1] = y0, y1
                        I[nv, 0], I[nv, 1] = f, g
                        nv += 1
            vol = 0.0
            for f in range(m):
                t0, t1 = -A[lo + f, 1], A[lo + f, 0]
                smin, smax = 1e300, -1e300
                for v in range(nv):
                    if I[v, 0] == f or I[v, 1] == f:
                        sv = t0 * V[v, 0] + t1 * V[v, 1]
                        smin = min(smin, sv)
                        smax = max(smax, sv)
                if smax > smin:
                    vol += h[f] * (smax - smin) / 2.0
            out[r] = vol
            continue
        for f in range(m):
            a0, a1, a2 = A[lo + f, 0], A[lo + f, 1], A[lo + f, 2]
            for g in range(f + 1, m):
                c0, c1, c2 = A[lo + g, 0], A[lo + g, 1], A[lo + g, 2]
                x0 = c1 * a2 - c2 * a1
                x1 = c2 * a0 - c0 * a2
                x2 = c0 * a1 - c1 * a0
                for k in range(g + 1, m):
                    e0, e1, e2 = A[lo + k, 0], A[lo + k, 1], A[lo + k, 2]
                    # det [a; c; e] = e . (a x c)
                    det = -(e0 * x0 + e1 * x1 + e2 * x2)
                    if abs(det) < 1e-12:
                        continue
                    r0, r1, r2 = h[f], h[g], h[k]
                    y0 = (r0 * (c1 * e2 - c2 * e1) - a1 * (r1 * e2 - c2 * r2)
                          + a2 * (r1 * e1 - c1 * r2)) / det
                    y1 = (a0 * (r1 * e2 - c2 * r2) - r0 * (c0 * e2 - c2 * e0)
                          + a2 * (c0 * r2 - r1 * e0)) / det
                    y2 = (a0 * (c1 * r2 - r1 * e1) - a1 * (c0 * r2 - r1 * e0)
                          + r0 * (c0 * e1 - c1 * e0)) / det
                    feas = True
                    for q in range(m):
                        if A[lo + q, 0] * y0 + A[lo + q, 1] * y1 + A[lo + q, 2] * y2 > h[q] + eps:
                            feas = False
                            break
                    if feas:
                        V[nv, 0], V[nv, 1], V[nv, 2] = y0, y1, y2
                        I[nv, 0], I[nv, 1], I[nv, 2] = f, g, k
                        nv += 1
        vol = 0.0
        for f in range(m):
            a0, a1, a2 = A[lo + f, 0], A[lo + f, 1], A[lo + f, 2]
            if abs(a0) < 0.9:
                u0, u1, u2 = 0.0, a2, -a1
            else:
                u0, u1, u2 = -a2, 0.0, a0
            un = math.sqrt(u0 * u0 + u1 * u1 + u2 * u2)
            u0, u1, u2 = u0 / un, u1 / un, u2 / un
            w0 = a1 * u2 - a2 * u1
            w1 = a2 * u0 - a0 * u2
            w2 = a0 * u1 - a1 * u0
            cnt = 0
            cx, cy = 0.0, 0.0
            for v in range(nv):
                if I[v, 0] == f or I[v, 1] == f or I[v, 2] == f:
                    P[cnt, 0] = u0 * V[v, 0] + u1 * V[v, 1] + u2 * V[v, 2]
                    P[cnt, 1] = w0 * V[v, 0] + w1 * V[v, 1] + w2 * V[v, 2]
                    cx += P[cnt, 0]
                    cy += P[cnt, 1]
                    cnt += 1
            if cnt < 3:
                continue
            cx /= cnt
            cy /= cnt
            for v in range(cnt):  # a pseudo-angle increasing with atan2(dy, dx) on (-pi, pi]
                dx, dy = P[v, 0] - cx, P[v, 1] - cy
                t = abs(dx) + abs(dy)
                q = dy / t if t > 0 else 0.0
                ang[v] = q if dx >= 0 else (2.0 - q if dy >= 0 else -2.0 - q)
                j = v  # insertion sort of the indices by it (stable)
                while j > 0 and ang[o[j - 1]] > ang[v]:
                    o[j] = o[j - 1]
                    j -= 1
                o[j] = v
            area = 0.0
            for v in range(cnt):
                p, q2 = o[v], o[(v + 1) % cnt]
                area += P[p, 0] * P[q2, 1] - P[q2, 0] * P[p, 1]
            vol += h[f] * abs(area) / 6.0
        out[r] = vol
    return out
