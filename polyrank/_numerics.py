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

import numpy as np

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


def _exponent(x):
    """The binary exponent e of a positive float (x = m 2^e with 0.5 <= m < 1), or None for 0."""
    if not x > 0:
        return None
    return int(np.frexp(x)[1])


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
    from .network import ReLUNetwork

    K = net.n_layers if K is None else K
    Ws, bs = [], []
    cum = 0  # log2 of a_1 ... a_{l-1}
    for W, b in zip(net.weights[:K], net.biases[:K]):
        ew = _exponent(float(np.abs(W).max(initial=0.0)))
        eb = _exponent(float(np.abs(b).max(initial=0.0)))
        cands = [e for e in (ew, None if eb is None else eb - cum) if e is not None]
        a = max(cands) if cands else 0
        Ws.append(np.ldexp(W, -a))
        bs.append(np.ldexp(b, -(cum + a)))
        cum += a
    return ReLUNetwork(Ws, bs)


def local_network(net, K, x0, s):
    """The network the engines enumerate: hidden layers 1..K of ``net`` composed with
    ``x = x0 + s y`` (the local frame, :func:`local_frame`), in scaled units
    (:func:`scaled_units`). Its regions in ``y`` are ``net``'s in ``x``, with the same patterns."""
    d = net.input_dim
    lnet = scaled_units(net, K)
    return scaled_units(lnet.restrict(float(s) * np.eye(d), np.asarray(x0, dtype=np.float64)), K)


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
