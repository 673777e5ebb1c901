"""Closest points of small simplices (points, segments, triangles) in R^n, vectorised.

:mod:`polyrank.image` decides whether the images of cells meet. The images of the cells of
curves and surfaces are convex polytopes of dimension <= 2 (fans of triangles), so most of
those decisions need no LP: ``closest_points`` finds, for a batch of pairs of simplices,
explicit points ``x in conv(A)`` and ``y in conv(B)`` at (up to rounding) their Euclidean
distance, by enumerating the pairs of faces that can hold the closest points (a least-squares
problem on their affine hulls, in the pair's own centred and scaled frame). The caller turns
them into certificates that need no trust in this enumeration: the explicit points (convex
weights of the vertices) certify a meeting, and the direction ``y - x`` gives a separating
functional whose gap, measured on all vertices, certifies that the sets are apart. Pairs that
neither certifies (those within the tolerance band) go to the LP.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

#: A face whose least-squares system has a pivot below this (relative to its largest) is
#: degenerate: its closest points are also those of one of its own faces, which are tried.
PIVOT_RTOL = 1e-12
#: Convex weights down to minus this count as feasible (then clipped and renormalised, so
#: that the returned points are always explicit convex combinations).
WEIGHT_TOL = 1e-12


def _lstsq(M, r):
    """Least squares ``min |z @ M - r|`` for a batch (M: (N, k, n) rows, r: (N, n)) by
    Gram-Schmidt with one re-orthogonalisation, vectorised over N (k <= n small).
    Returns (z, ok); ok is False where a pivot falls below PIVOT_RTOL (degenerate)."""
    N, k, _ = M.shape
    Qs, R = [], np.zeros((N, k, k))
    for j in range(k):
        v = M[:, j].copy()
        for _ in range(2):
            for i, q in enumerate(Qs):
                h = np.einsum("Nn,Nn->N", q, v)
                R[:, i, j] += h
                v -= h[:, None] * q
        R[:, j, j] = np.sqrt(np.einsum("Nn,Nn->N", v, v))
        Qs.append(v / np.maximum(R[:, j, j], np.finfo(float).tiny)[:, None])
    piv = np.abs(np.diagonal(R, axis1=1, axis2=2))
    scale = np.sqrt(np.einsum("Nkn,Nkn->Nk", M, M)).max(1)
    ok = piv.min(1) > PIVOT_RTOL * np.maximum(scale, np.finfo(float).tiny)
    c = np.stack([np.einsum("Nn,Nn->N", q, r) for q in Qs], 1)
    z = np.zeros((N, k))
    d = np.where(ok[:, None], piv, 1.0)
    for j in range(k - 1, -1, -1):
        z[:, j] = (c[:, j] - np.einsum("Nk,Nk->N", R[:, j, j + 1:], z[:, j + 1:])) / d[:, j]
    return z, ok


def _faces(k):
    return [f for r in range(1, k + 1) for f in combinations(range(k), r)]


def closest_points(A, B):
    """Closest points of the convex hulls of pairs of small point sets, vectorised.

    Parameters
    ----------
    A : ndarray, shape (N, a, n)
        The vertices of N simplices (a = 1, 2 or 3: points, segments, triangles; flat or
        repeated vertices are allowed).
    B : ndarray, shape (N, b, n)
        The vertices of N others (b = 1, 2 or 3).

    Returns
    -------
    wa : ndarray, shape (N, a)
        Convex weights (non-negative, summing to 1): ``x = wa @ A`` is a point of conv(A).
    wb : ndarray, shape (N, b)
        Convex weights of ``y = wb @ B`` in conv(B).

    Notes
    -----
    The closest pair lies in the relative interiors of some face F of A and some face G of
    B, where it is the closest pair of the affine hulls of F and G: every pair of faces is
    solved by least squares (QR) and kept when its weights are convex; the best kept pair
    wins (vertex pairs are always feasible). Degenerate face pairs (parallel hulls) are
    skipped: a closest pair then also lies on a smaller face pair.

    Examples
    --------
    >>> A = np.array([[[0.0, 0, 0], [2, 0, 0]]])          # a segment on the x axis
    >>> B = np.array([[[1.0, -1, 1], [1, 1, 1]]])         # a crossing one, one unit above
    >>> wa, wb = closest_points(A, B)
    >>> (wa @ A[0]).round(6).tolist(), (wb @ B[0]).round(6).tolist()
    ([[1.0, 0.0, 0.0]], [[1.0, 0.0, 1.0]])
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    N, a, n = A.shape
    b = B.shape[1]
    wa = np.zeros((N, a))
    wb = np.zeros((N, b))
    wa[:, 0] = wb[:, 0] = 1.0
    if N == 0:
        return wa, wb
    c = (A.sum(1) + B.sum(1)) / (a + b)
    s = np.maximum(np.maximum(np.abs(A - c[:, None]).max((1, 2)), np.abs(B - c[:, None]).max((1, 2))),
                   np.finfo(float).tiny)
    A1 = (A - c[:, None]) / s[:, None, None]
    B1 = (B - c[:, None]) / s[:, None, None]
    if n > a + b - 1:  # work in the span of the centred points (an isometry onto R^(a+b-1))
        U = np.linalg.qr(np.swapaxes(np.concatenate([A1, B1], 1)[:, 1:], 1, 2))[0]  # (N, n, a+b-1)
        A1 = np.einsum("Nkn,Nnr->Nkr", A1, U)
        B1 = np.einsum("Nkn,Nnr->Nkr", B1, U)
        n = a + b - 1
    best = np.sum((A1[:, 0] - B1[:, 0]) ** 2, axis=1)
    for F in _faces(a):
        for G in _faces(b):
            kF, kG = len(F) - 1, len(G) - 1
            if kF + kG > n:  # directions dependent: degenerate, the smaller faces hold it
                continue
            if kF + kG == 0:
                if F == (0,) and G == (0,):
                    continue
                fa = np.ones((N, 1))
                fb = np.ones((N, 1))
                feas = np.ones(N, dtype=bool)
            else:
                F0, G0 = A1[:, F[0]], B1[:, G[0]]
                M = np.concatenate([A1[:, list(F[1:])] - F0[:, None], B1[:, list(G[1:])] - G0[:, None]], 1)
                M[:, kF:] *= -1.0
                z, ok = _lstsq(M, G0 - F0)
                fa = np.concatenate([1.0 - z[:, :kF].sum(1, keepdims=True), z[:, :kF]], 1)
                fb = np.concatenate([1.0 - z[:, kF:].sum(1, keepdims=True), z[:, kF:]], 1)
                feas = ok & (fa >= -WEIGHT_TOL).all(1) & (fb >= -WEIGHT_TOL).all(1)
                fa = np.maximum(fa, 0.0)
                fb = np.maximum(fb, 0.0)
                fa /= np.maximum(fa.sum(1, keepdims=True), np.finfo(float).tiny)
                fb /= np.maximum(fb.sum(1, keepdims=True), np.finfo(float).tiny)
            x = np.einsum("Nk,Nkn->Nn", fa, A1[:, list(F)])
            y = np.einsum("Nk,Nkn->Nn", fb, B1[:, list(G)])
            d = np.sum((x - y) ** 2, axis=1)
            better = feas & (d < best)
            if better.any():
                best = np.where(better, d, best)
                wa[better] = 0.0
                wb[better] = 0.0
                wa[np.ix_(better, list(F))] = fa[better]
                wb[np.ix_(better, list(G))] = fb[better]
    return wa, wb
