"""Numerical conventions shared by the two enumeration engines and the rank paths.

This module sits below :mod:`polyrank.enumerate`, :mod:`polyrank.subdivision` and
:mod:`polyrank.rank` (it imports none of them), so that every engine applies one rule:

* the local frame ``x = x0 + s y`` in which tolerances are relative (:func:`local_frame`);
* scaled units: every hidden layer divided by a power of two, so that weights of any
  magnitude (1e-300 .. 1e300) neither overflow nor underflow (:func:`scaled_units`), and the
  network the engines work on, in the local frame and in scaled units (:func:`local_network`);
* when a unit is constant, or identically zero, on a region (:func:`zero_thresholds`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .network import ReLUNetwork

#: Minimum inscribed-ball radius, relative to the problem's length scale, for a
#: region (or a facet, within its hyperplane) to count as full-dimensional.
DEFAULT_TOL = 1e-9
#: Default guard on the number of regions of one enumeration.
DEFAULT_MAX_REGIONS = 1_000_000
#: A pre-activation whose gradient norm is below this (relative to the layer's weight
#: scale) is treated as constant on the region.
ZERO_ROW_RTOL = 1e-12
#: Length scale of the local frame when the first layer gives none (no hyperplane, or
#: the start point lies on every one).
UNIT_SCALE = 1.0
#: Steps (relative to a region's or facet's size) taken across a facet to find the region
#: on its other side when the pattern cannot be read off (degenerate facets), in order.
CROSSING_STEPS = (1e-3, 1e-5, 1e-7, 1e-2)
#: Smallest crossing step, in units of the enumeration tolerance.
CROSSING_MIN_TOLS = 10
#: The engines' float64 floor, relative to the problem's length scale: two hyperplanes
#: closer than this may be merged (the LP engine merges rows within 1e-10, the subdivision
#: engine snaps vertices within 1e-11), so a ``tol`` below it asks for a precision that is
#: out of reach, and regions thinner than it may be lost without being counted.
PRECISION_FLOOR = 1e-10
#: A cell or pattern whose inscribed ball is below this (local units) is a lower-dimensional
#: face up to rounding, not a sliver: it is not counted among the dropped regions.
SLIVER_MIN = 1e-14
#: Largest number of subsets of first-layer units examined by :func:`first_layer_gap`.
GAP_MAX_SUBSETS = 200_000
#: Subsets of first-layer unit normals whose smallest singular value is below this fraction
#: of the largest are dependent (no vertex) in :func:`first_layer_gap`.
GAP_SV_RTOL = 1e-12
#: Two first-layer unit normals with |n_i . n_j| above 1 - this are parallel.
PARALLEL_RTOL = 1e-12
#: Two vertices of :func:`first_layer_gap` are distinct only when farther apart than this
#: many eps times their systems' condition numbers (and sizes): closer, they are one
#: vertex of concurrent hyperplanes, computed from two subsets.
GAP_ROUNDING_EPS = 100


def _exponent(x):
    """The binary exponent e of a positive float (x = m 2^e with 0.5 <= m < 1), or None for 0."""
    if not x > 0:
        return None
    return math.frexp(x)[1]


def scaled_units(net, K=None):
    """``net``'s hidden layers 1..K in scaled units: the same activation patterns, every
    pre-activation divided by a power of two.

    Layer l becomes ``(W_l / a_l, b_l / (a_1 ... a_l))`` with ``a_l`` a power of two that
    brings the layer's largest entry (of ``W_l`` and of ``b_l / (a_1 ... a_{l-1})``) to
    [0.5, 1). Then ``z_l`` becomes ``z_l / (a_1 ... a_l)`` and, as ReLU(c z) = c ReLU(z)
    for c > 0, the patterns do not change. Scaling by powers of two is exact in float64,
    so every pre-activation is the old one's exact rescaling (its sign, hence every
    pattern, computed identically), except that nothing overflows or underflows: weights
    scaled by 1e150 or 1e-150 per layer give the same decomposition. Ranks are unchanged
    too (each ``A_K`` is multiplied by a positive scalar). The read-out is dropped.

    Examples
    --------
    ``z_2 = 1e200 relu(1e200 (x - 1)) - 1e300`` overflows at x = 2; in scaled units it does not:

    >>> from polyrank._numerics import scaled_units
    >>> net = pr.ReLUNetwork.from_weights([[[1e200]], [[1e200]]], [[-1e200], [-1e300]])
    >>> scaled_units(net).patterns(np.array([[0.5], [2.0]]), flat=True)
    array([[False, False],
           [ True,  True]])
    """
    K = net.n_layers if K is None else K
    return ReLUNetwork._trusted(*_scaled_layers(net.weights[:K], net.biases[:K]))


def _scaled_layers(weights, biases, carry=0):
    """The layers of :func:`scaled_units` (lists of arrays; the input is a valid network's).
    ``carry``: a power of two the first layer was already divided by (its log2), counted in
    the later layers' bias scales as if this function had applied it."""
    Ws, bs = [], []
    cum = 0  # log2 of a_1 ... a_{l-1}
    for W, b in zip(weights, biases):
        a = _layer_exponent(W, b, cum)
        Ws.append(np.ldexp(W, -a))
        bs.append(np.ldexp(b, -(cum + a)))
        cum += a + carry
        carry = 0
    return Ws, bs


@functools.lru_cache(maxsize=1)
def _abs_max_kernel():
    """A compiled ``(max |W|, max |b|)`` (0 for an empty array; for finite entries, as the
    engines' networks have), or None without numba: one call instead of four numpy calls,
    which cost more than the work for the small layers every enumeration scales."""
    try:
        import numba
    except ImportError:  # pragma: no cover - exercised only without numba
        return None

    @numba.njit(cache=True, nogil=True)
    def abs_max(W, b):
        mw = 0.0
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                mw = max(mw, abs(W[i, j]))
        mb = 0.0
        for i in range(b.shape[0]):
            mb = max(mb, abs(b[i]))
        return mw, mb

    return abs_max


def _layer_exponent(W, b, cum):
    """log2 of the power of two :func:`_scaled_layers` divides the layer ``(W, b)`` by."""
    kernel = _abs_max_kernel() if W.ndim == 2 and b.ndim == 1 else None
    if kernel is not None:
        mw, mb = kernel(W, b)
    else:
        mw, mb = float(np.abs(W).max(initial=0.0)), float(np.abs(b).max(initial=0.0))
    ew, eb = _exponent(mw), _exponent(mb)
    if eb is None:
        return 0 if ew is None else ew
    return eb - cum if ew is None else max(ew, eb - cum)


def local_network(net, K, x0, s):
    """The network the engines enumerate: hidden layers 1..K of ``net`` composed with
    ``x = x0 + s y`` (the local frame, :func:`local_frame`), in scaled units
    (:func:`scaled_units`). Its regions in ``y`` are ``net``'s in ``x``, with the same patterns."""
    d = net.input_dim
    # the first layer in scaled units (2^-a), then ``ReLUNetwork.restrict`` to x = x0 + s y,
    # and its check that the result is finite; then all layers in scaled units, the first
    # layer's 2^-a carried into the later layers' bias scales: the same arrays as scaling
    # every layer before the restriction and again after it (powers of two compose exactly;
    # outside the subnormal range, where one scaling rounds once and two round twice)
    W1, b1 = net.weights[0], net.biases[0]
    a = _layer_exponent(W1, b1, 0)
    W1 = np.ldexp(W1, -a)
    W1, b1 = W1 @ (float(s) * np.eye(d)), np.ldexp(b1, -a) + W1 @ np.asarray(x0, dtype=np.float64)
    Ws, bs = [W1] + list(net.weights[1:K]), [b1] + list(net.biases[1:K])
    if not (np.isfinite(W1).all() and np.isfinite(b1).all()):
        return scaled_units(ReLUNetwork(Ws, bs), K)  # raises the constructor's error
    return ReLUNetwork._trusted(*_scaled_layers(Ws, bs, carry=a), copy=False)


def zero_thresholds(net, K):
    """Per layer: below which gradient norm and |constant| a pre-activation of ``net``
    (in the engine's local coordinates, |y| ~ 1) is constant, resp. zero.

    ``gmag_l`` and ``cmag_l`` bound |M_l| and |m_l| on any region (products of the
    layers' largest absolute row sums); the thresholds are ZERO_ROW_RTOL of ``gmag_l``
    and of ``gmag_l + cmag_l``. Both engines use them: a constant unit takes the sign of
    its constant, and a row below the gradient threshold counts as zero in ranks
    (:func:`polyrank.rank.batched_ranks`).

    Returns
    -------
    zg, zc : ndarray of shape (K,)
    """
    gmag, cmag = 1.0, 0.0
    zg, zc = [], []
    for W, bias in zip(net.weights[:K], net.biases[:K]):
        w = float(np.abs(W).sum(axis=1).max())
        gmag, cmag = w * gmag, w * cmag + float(np.abs(bias).max())
        zg.append(ZERO_ROW_RTOL * gmag)
        zc.append(ZERO_ROW_RTOL * (gmag + cmag))
    return np.array(zg), np.array(zc)


def local_frame(net, domain, start):
    """Origin and length scale of the engine's local coordinates ``x = x0 + s * y``.

    Bounded domain: its centre and the largest side of its bounding box, so that every
    tolerance is relative to the domain's size. Otherwise: the start point and the largest
    distance from it to a first-layer hyperplane (UNIT_SCALE if there is none)."""
    if domain is not None and domain.bounded:
        lo, hi = domain.bounding_box()
        return domain.center, float(np.max(hi - lo))
    W, b = net.weights[0], net.biases[0]
    nrm = np.linalg.norm(W, axis=1)
    ok = nrm > 0
    dist = np.abs(W[ok] @ start + b[ok]) / nrm[ok]
    s = float(dist.max()) if dist.size and dist.max() > 0 else UNIT_SCALE
    return start, s


def first_layer_gap(lnet, Ad, bd, limit):
    """The smallest distance in ``(SLIVER_MIN, limit]`` between two distinct features of the
    first layer's arrangement of ``lnet`` (local units, see :func:`local_network`): two of
    its vertices inside the domain ``{Ad y <= bd}``, or two parallel hyperplanes through it.
    None when there is none (or the arrangement is too large to examine).

    Features that close bound regions thinner than ``limit`` (a nearly concurrent triple
    cuts out a tiny triangle, two close parallel hyperplanes a thin slab): at ``tol =
    limit`` the engines drop them, or merge them into a neighbour without a trace (a vertex
    within the snap of a hyperplane lies on it), so this is the evidence behind the
    precision warning. Distinct features closer than SLIVER_MIN are rounding of one
    (degenerate networks: exactly concurrent or coincident hyperplanes).
    """
    from itertools import combinations
    from math import comb

    W, b = np.asarray(lnet.weights[0], dtype=np.float64), np.asarray(lnet.biases[0], dtype=np.float64)
    nrm = np.linalg.norm(W, axis=1)
    live = nrm > 0
    W, b = W[live] / nrm[live, None], b[live] / nrm[live]
    n, d = W.shape
    Ad = np.asarray(Ad, dtype=np.float64).reshape(-1, d)
    bd = np.asarray(bd, dtype=np.float64)
    best = np.inf
    # parallel hyperplanes (a slab): |n_i . n_j| ~ 1, offsets apart by the slab's width
    if 2 <= n and n * n * d <= 50 * GAP_MAX_SUBSETS:
        G = W @ W.T
        i, j = np.nonzero(np.triu(np.abs(G) >= 1.0 - PARALLEL_RTOL, 1))
        if len(i):
            width = np.abs(b[i] - np.sign(G[i, j]) * b[j])
            # the hyperplane's nearest point to the origin (the domain's centre) inside the domain
            foot = -b[i, None] * W[i]
            inside = np.all(foot @ Ad.T <= bd + limit, axis=1) if len(bd) else np.ones(len(i), bool)
            ok = inside & (width > SLIVER_MIN) & (width <= limit)
            if ok.any():
                best = min(best, float(width[ok].min()))
    # vertices: the points of d independent hyperplanes
    if n >= d and comb(n, d) <= GAP_MAX_SUBSETS:
        idx = np.array(list(combinations(range(n), d)), dtype=np.int64).reshape(-1, d)
        M = W[idx]
        S = np.linalg.svd(M, compute_uv=False)
        ok = S[:, -1] > GAP_SV_RTOL * S[:, 0]
        if ok.sum() >= 2:
            V = np.linalg.solve(M[ok], -b[idx[ok]][..., None])[..., 0]
            # rounding of a vertex: its system's condition number times eps, times its size
            err = GAP_ROUNDING_EPS * np.finfo(np.float64).eps * (S[ok, 0] / S[ok, -1]) * (1.0 + np.abs(V).max(axis=1))
            if len(bd):
                inside = np.all(V @ Ad.T <= bd + limit, axis=1)
                V, err = V[inside], err[inside]
            if len(V) >= 2:
                from scipy.spatial import cKDTree

                pairs = cKDTree(V).query_pairs(limit, output_type="ndarray")
                if len(pairs):
                    dist = np.linalg.norm(V[pairs[:, 0]] - V[pairs[:, 1]], axis=1)
                    dist = dist[dist > np.maximum(SLIVER_MIN, err[pairs[:, 0]] + err[pairs[:, 1]])]
                    if len(dist):
                        best = min(best, float(dist.min()))
    return None if not np.isfinite(best) else best


def precision_notes(tol, scale, n_dropped, min_dropped, gap):
    """What a decomposition cannot resolve at ``tol``, as sentences for a PrecisionWarning.

    ``tol`` is relative to ``scale`` (the domain's size, or the local frame's scale over
    R^d); ``n_dropped`` cells or patterns were found with an inscribed ball of radius at most
    ``tol`` (the smallest ``min_dropped``, in the same relative units) and left out;
    ``gap`` is :func:`first_layer_gap` (relative units) or None."""
    notes = []
    unit = f"{scale:.3g}"
    if n_dropped:
        keep = max(PRECISION_FLOOR, min_dropped / 2.0) if min_dropped is not None else PRECISION_FLOOR
        hint = (f"pass tol={keep:.1g} to keep them" if keep < tol else
                "they are thinner than the engines' float64 floor")
        notes.append(f"{n_dropped} region(s) thinner than tol were dropped (inscribed ball radius down to "
                     f"{(min_dropped or 0.0) * scale:.3g}, at most tol x size = {tol:.3g} x {unit}); {hint}.")
    if tol < PRECISION_FLOOR:
        notes.append(f"tol={tol:.3g} is below the engines' float64 floor ({PRECISION_FLOOR:g} of the size "
                     f"{unit}): regions thinner than that may be merged into a neighbour without being counted.")
    if gap is not None and not n_dropped:
        notes.append(f"The first layer's hyperplanes meet {gap * scale:.3g} apart inside the domain, below "
                     f"tol x size = {tol * scale:.3g}: the regions there are thinner than tol and are dropped or "
                     "merged (regions may be missing). Shrink the domain to where they are, or lower tol.")
    return notes


def warn_precision(notes):
    """Issue one :class:`~polyrank.exceptions.PrecisionWarning` with ``notes`` (if any),
    attributed to the first caller outside polyrank."""
    if notes:
        import os
        import sys
        import warnings

        from .exceptions import PrecisionWarning

        here = os.path.dirname(os.path.abspath(__file__))
        level, frame = 2, sys._getframe(1)  # stacklevel 2: the caller of warn_precision
        while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here + os.sep):
            level, frame = level + 1, frame.f_back
        warnings.warn(" ".join(notes), PrecisionWarning, stacklevel=level)


def dead_layer_tails(lnet, K):
    """The bits of the layers after an all-off layer, which every region with that layer off
    shares: ``tails[l]`` holds layers l+1..K (flat) for hidden layer l = 1..K-1 all off.

    Behind an all-off layer l, ``z_{l+1} = b_{l+1}`` exactly (zero gradient, no rounding),
    so its bits are ``[b_{l+1} > 0]``; the later layers are constant too, computed forward
    from the biases (``z = W h + b``, as the forward pass does), a constant within
    ZERO_ROW_RTOL of its terms' magnitude (``|W| |h| + |b|``) being an identically zero unit
    (bit 0). The engines' per-layer constant threshold (:func:`zero_thresholds`) is a bound
    over all regions: in a deep trained network it exceeds small biases of late layers
    (1e-10 of the layer's scale), whose units would lose their sign; this rule is exact.
    """
    tails = {}
    for l in range(1, K):
        h = np.zeros(lnet.widths[l - 1])
        bits = []
        for m in range(l, K):
            W, b = np.asarray(lnet.weights[m]), np.asarray(lnet.biases[m])
            z = W @ h + b
            on = z > ZERO_ROW_RTOL * (np.abs(W) @ np.abs(h) + np.abs(b))
            bits.append(on)
            h = np.where(on, z, 0.0)
        tails[l] = np.concatenate(bits)
    return tails


def apply_dead_layer_tails(P, offsets, tails):
    """Patterns ``P`` (bool, one row per region, layers 1..K side by side) with the bits
    after their first all-off layer set by :func:`dead_layer_tails` (a copy when changed)."""
    P = np.asarray(P, dtype=bool)
    one = P.ndim == 1
    Q = P[None, :] if one else P
    K = len(offsets) - 1
    todo = np.ones(len(Q), dtype=bool)
    out = None
    for l in range(1, K):
        rows = todo & ~Q[:, offsets[l - 1]: offsets[l]].any(axis=1)
        if not rows.any():
            continue
        tail = tails[l]
        bad = rows & np.any(Q[:, offsets[l]: offsets[K]] != tail, axis=1)
        if bad.any():
            if out is None:
                out = Q.copy()
                Q = out
            Q[bad, offsets[l]: offsets[K]] = tail
        todo &= ~rows
    if out is None:
        return P
    return Q[0] if one else Q


def release_heap():
    """Give freed heap pages back to the OS (glibc's ``malloc_trim``; glibc keeps them
    otherwise, and they count as resident memory, e.g. against a Dask worker's limit).
    A no-op where the C library is not glibc; the function is looked up once."""
    if not _TRIM:
        try:
            import ctypes

            _TRIM.append(ctypes.CDLL("libc.so.6").malloc_trim)
        except (OSError, AttributeError):  # not glibc
            _TRIM.append(None)
    if _TRIM[0] is not None:
        _TRIM[0](0)


_TRIM = []  # glibc's malloc_trim, or None


def unique_rows(F, n):
    """``np.unique(F, axis=0)`` for an int array F (m, j) of ids in 0..n-1: the distinct rows
    in lexicographic order, found by sorting one int64 key per row (the row read as a
    number in base n) instead of the rows as void records (several times faster); the
    void-record sort when the key would not fit."""
    F = np.asarray(F, dtype=np.int64)
    m, j = F.shape
    if m == 0 or j == 0 or float(max(n, 2)) ** j >= 2.0 ** 62:
        return np.unique(F, axis=0)
    key = F[:, 0].copy()
    for c in range(1, j):
        key *= n
        key += F[:, c]
    key.sort()
    keep = np.empty(m, dtype=bool)
    keep[0] = True
    np.not_equal(key[1:], key[:-1], out=keep[1:])
    key = key[keep]
    out = np.empty((len(key), j), dtype=np.int64)
    for c in range(j - 1, -1, -1):
        out[:, c] = key % n
        key //= n
    return out
