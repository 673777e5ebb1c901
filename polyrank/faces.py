"""The whole polyhedral complex of a decomposition: faces of every dimension and a certificate.

Faces are read off the regions' H-representations, in three compiled passes (numba):

1. *Vertices.* For every region, every d-subset of its rows whose intersection point
   satisfies all its rows (tolerance ``TIGHT_RTOL`` relative to the point's size) is a
   vertex; it records the rows tight at it (a bitset). A degenerate vertex, reached from
   several subsets, is kept once. Regions with more than ``MAX_SUBSETS`` subsets get their
   vertices from qhull. When the subdivision engine left its vertices on the
   decomposition (the hyperplanes through each, as bitsets), each is solved from the
   first regular d-subset of the rows it names instead: the same instances, in the
   same order, without the search.
2. *Merge.* Vertex instances of different regions closer than ``VERTEX_MERGE_RTOL``
   (relative to their size) are one vertex: a sweep along a random direction with a
   union-find; vertices are then numbered in lexicographic order of their coordinates.
3. *Lattices.* Each region's face lattice follows from its vertex-row incidences: its
   facets are the maximal vertex sets of its rows, and the faces covered by a face ``F``
   are the maximal proper intersections of ``F`` with a facet (every face of a polytope is
   an intersection of facets). A face of the complex is identified by its vertex set
   (a 64-bit hash of it, confirmed against the vertex lists), so a face shared by several
   regions is counted once and knows all of them.

The sign vector of a face (Masden's sign sequence: ``+``, ``-`` or ``0`` for every hidden
unit) is read off its vertices.

Over an unbounded domain (all of R^d) every region is cut by a box that holds every
vertex strictly inside; the faces of the decomposition are then the faces of the cut
complex that do not lie on the box, and an unbounded face keeps only its genuine
vertices (``FaceComplex.bounded`` says which faces are bounded). This needs pointed
regions (the first layer's weights of rank d).

The complex is made GUDHI-ready by a pulling triangulation: with vertices in a fixed
global order, a face is triangulated by coning its smallest vertex over the
triangulations of its facets that miss that vertex. Shared faces get the same
triangulation from every side, no vertex is added, and a function that is affine on
every region (the network's output) is exactly linear on every simplex, so its
lower-star filtration is the sublevel-set filtration of the function.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._numerics import local_frame, unique_rows
from .exceptions import CertificateError

__all__ = ["FaceComplex", "Certificate", "face_complex", "certify", "f_vector", "VERTEX_MERGE_RTOL", "TIGHT_RTOL",
           "SIGN_ZERO_RTOL", "VOLUME_RTOL", "EXACT_FILTER_SAFETY"]

#: Two vertex instances closer than this (relative to the larger of the domain's size
#: and the vertices' largest coordinate) are one vertex.
VERTEX_MERGE_RTOL = 1e-10
#: Two instances of an ill-conditioned vertex are one when closer than this times its
#: rounding error ``eps * size / |det|`` (unit-norm rows; ``|det|`` small when the
#: hyperplanes through it are nearly dependent) ...
MERGE_COND_FACTOR = 64.0
#: ... but never when farther apart than this (relative to their size).
VERTEX_MERGE_MAX_RTOL = 1e-6
#: A row of a region's H-representation passes through a vertex when its residual is
#: below this (relative to the larger of the domain's size and the vertex's coordinates).
TIGHT_RTOL = 1e-10
#: A unit's pre-activation at a vertex is 0 in the sign vector when its absolute value is
#: below this times its magnitude (``|W| m + |b|``, m the size of the layer's input:
#: the vertex's size in every coordinate, then that of the active units).
SIGN_ZERO_RTOL = 1e-9
#: A d-subset of unit-norm rows with ``|det|`` below this has no single intersection point.
DET_ATOL = 1e-13
#: Regions with more d-subsets of rows than this get their vertices from qhull.
MAX_SUBSETS = 200_000
#: Over an unbounded domain, a region with more than MAX_SUBSETS subsets of rows gets its
#: vertices from qhull inside a box this many times larger than every other vertex.
QHULL_BOX_FACTOR = 1e6
#: Relative tolerance of the certificate's volume check (sum of regions vs the domain).
VOLUME_RTOL = 1e-8
#: Over an unbounded domain the cutting box has this many times the half-width of the
#: smallest box (around the domain's centre) that holds every vertex.
BOX_FACTOR = 2.0
#: ``verify(exact=True)``: a float64 sign or rank is accepted without rational
#: arithmetic only when it clears its rigorous rounding-error bound times this factor.
EXACT_FILTER_SAFETY = 4.0

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

try:  # numba is optional: it must never be needed to import polyrank
    import numba as _numba

    _njit = _numba.njit(cache=True, nogil=True)
    #: small scalar helpers, inlined into the kernels (no call, no reference counting)
    _njit_inline = _numba.njit(inline="always", nogil=True)
except ImportError:  # pragma: no cover - exercised only without numba
    def _njit(f):
        return f

    _njit_inline = _njit
try:  # LLVM's count-trailing-zeros instruction (an intrinsic: unusable with NUMBA_DISABLE_JIT)
    from numba.cpython.unsafe.numbers import trailing_zeros as _trailing_zeros
    from numba import config as _numba_config

    if _numba_config.DISABLE_JIT:
        raise ImportError("numba's JIT is disabled")
except ImportError:  # pragma: no cover - exercised only without numba (or a numba without it)
    @_njit_inline
    def _trailing_zeros(x):
        j = 0
        while not (x >> np.uint64(j)) & np.uint64(1):
            j += 1
        return j


def _require_complete(dec, func):
    if dec.partial:
        raise ValueError(f"{func} needs a complete decomposition; this one is partial "
                         "(the enumeration stopped at max_regions).")


# ============================================================================ kernels
@_njit
def _grow_f2(a, need):
    if need <= a.shape[0]:
        return a
    out = np.empty((max(need, 2 * a.shape[0]), a.shape[1]), a.dtype)
    out[: a.shape[0]] = a
    return out


@_njit
def _grow_1(a, need):
    if need <= a.shape[0]:
        return a
    out = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    out[: a.shape[0]] = a
    return out


@_njit
def _solve_small(M, rhs, x, d, det_atol):
    """Solve ``M x = rhs`` (d x d, overwritten): Cramer's rule for d <= 3, elimination
    with partial pivoting above. Returns ``|det M|``, or 0.0 when it is at most ``det_atol``
    (no single solution)."""
    if d == 2:
        det = M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0]
        if abs(det) <= det_atol:
            return 0.0
        x[0] = (rhs[0] * M[1, 1] - M[0, 1] * rhs[1]) / det
        x[1] = (M[0, 0] * rhs[1] - rhs[0] * M[1, 0]) / det
        return abs(det)
    if d == 3:
        c0 = M[1, 1] * M[2, 2] - M[1, 2] * M[2, 1]
        c1 = M[1, 2] * M[2, 0] - M[1, 0] * M[2, 2]
        c2 = M[1, 0] * M[2, 1] - M[1, 1] * M[2, 0]
        det = M[0, 0] * c0 + M[0, 1] * c1 + M[0, 2] * c2
        if abs(det) <= det_atol:
            return 0.0
        # x = (rhs0 (r1 x r2) + rhs1 (r2 x r0) + rhs2 (r0 x r1)) / det
        e0 = M[2, 1] * M[0, 2] - M[2, 2] * M[0, 1]
        e1 = M[2, 2] * M[0, 0] - M[2, 0] * M[0, 2]
        e2 = M[2, 0] * M[0, 1] - M[2, 1] * M[0, 0]
        g0 = M[0, 1] * M[1, 2] - M[0, 2] * M[1, 1]
        g1 = M[0, 2] * M[1, 0] - M[0, 0] * M[1, 2]
        g2 = M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0]
        x[0] = (rhs[0] * c0 + rhs[1] * e0 + rhs[2] * g0) / det
        x[1] = (rhs[0] * c1 + rhs[1] * e1 + rhs[2] * g1) / det
        x[2] = (rhs[0] * c2 + rhs[1] * e2 + rhs[2] * g2) / det
        return abs(det)
    det = 1.0
    for c in range(d):
        p = c
        for i in range(c + 1, d):
            if abs(M[i, c]) > abs(M[p, c]):
                p = i
        if p != c:
            for j in range(d):
                M[c, j], M[p, j] = M[p, j], M[c, j]
            rhs[c], rhs[p] = rhs[p], rhs[c]
            det = -det
        piv = M[c, c]
        det *= piv
        if piv == 0.0:
            return 0.0
        for i in range(c + 1, d):
            f = M[i, c] / piv
            if f != 0.0:
                for j in range(c, d):
                    M[i, j] -= f * M[c, j]
                rhs[i] -= f * rhs[c]
    if abs(det) <= det_atol:
        return 0.0
    for c in range(d - 1, -1, -1):
        s = rhs[c]
        for j in range(c + 1, d):
            s -= M[c, j] * x[j]
        x[c] = s / M[c, c]
    return abs(det)


@_njit
def _n_subsets(m, d, cap):
    """comb(m, d), or cap + 1 when it is larger."""
    if m < d:
        return 0
    c = 1
    for i in range(d):
        c = c * (m - i) // (i + 1)
        if c > cap:
            return cap + 1
    return c


@_njit
def _searched(m, d, max_sub):
    """Whether a region with m rows has its vertices searched over its d-subsets of rows:
    1 yes, 0 no (fewer than d rows: no vertex), -1 no (more than max_sub subsets: qhull)."""
    if m < d:
        return 0
    return -1 if _n_subsets(m, d, max_sub) > max_sub else 1


@_njit
def _next_subset(c, m):
    """Advance the sorted index tuple ``c`` (a d-subset of 0..m-1) to the next one in
    lexicographic order, in place; False when ``c`` was the last."""
    d = c.shape[0]
    k = d - 1
    while k >= 0 and c[k] == m - d + k:
        k -= 1
    if k < 0:
        return False
    c[k] += 1
    for j in range(k + 1, d):
        c[j] = c[j - 1] + 1
    return True


@_njit
def _vertex_kernel(A, b, roff, regs, first_new, cand, tptr, TB, RB, rtol, scale, det_atol, mw, max_sub):
    """Vertex instances of the regions ``regs``: points (N, d), owner (N,), tight-row
    bitsets (N, mw) over each region's local rows; and which regions were skipped
    (more than ``max_sub`` subsets); ``|det|`` of the (unit-norm) rows solved for each
    instance (its conditioning). Only d-subsets of the rows flagged ``cand`` (per flat
    row; the rows through every vertex must be among them) with a local row at or after
    ``first_new[t]`` are solved (0: all), in lexicographic order; when region ``regs[t]``
    has bitsets ``TB[tptr[t]:tptr[t + 1]]``, only those whose rows before ``first_new[t]``
    lie within one of them, and whose rows from ``first_new[t]`` on (row first_new + i:
    bit i) lie within the union of the ``RB`` of those."""
    d = A.shape[1]
    cap = max(16, 8 * regs.shape[0])
    P = np.empty((cap, d))
    O = np.empty(cap, np.int64)
    T = np.zeros((cap, mw), np.uint64)
    D = np.empty(cap)
    skipped = np.zeros(regs.shape[0], np.bool_)
    M = np.empty((d, d))
    rhs = np.empty(d)
    x = np.empty(d)
    c = np.empty(d, np.int64)
    cr = np.empty(max(1, int(np.max(roff[1:] - roff[:-1]))) if roff.shape[0] > 1 else 1, np.int64)
    tight = np.empty_like(cr)
    mask = np.zeros(mw, np.uint64)
    own = np.zeros(mw, np.uint64)
    n = 0
    for t in range(regs.shape[0]):
        r = regs[t]
        i0 = roff[r]
        m = roff[r + 1] - i0
        searched = _searched(m, d, max_sub)
        skipped[t] = searched < 0
        if searched <= 0:
            continue
        start = n
        mc = 0  # the candidate rows, and the first of them at or after first_new
        fn = first_new[t]
        fc = -1
        for j in range(m):
            if cand[i0 + j]:
                if fc < 0 and j >= fn:
                    fc = mc
                cr[mc] = j
                mc += 1
        if mc < d or fc < 0:
            continue
        for k in range(d):
            c[k] = k
        while True:
            if c[d - 1] < fc:  # every row old: this vertex is known already
                c[d - 1] = fc - 1
                if not _next_subset(c, mc):
                    break
                continue
            if tptr[t + 1] > tptr[t]:
                for w in range(mw):
                    own[w] = 0
                for k in range(d):
                    j = cr[c[k]]
                    if j < fn:
                        own[j >> 6] |= np.uint64(1) << np.uint64(j & 63)
                within = False
                reach = np.uint64(0)
                for q in range(tptr[t], tptr[t + 1]):
                    if _is_sub(own, TB[q]):
                        within = True
                        reach |= RB[q]
                if within:
                    for k in range(d):
                        j = cr[c[k]]
                        if j >= fn and not (reach >> np.uint64(j - fn)) & np.uint64(1):
                            within = False
                if not within:
                    if not _next_subset(c, mc):
                        break
                    continue
            for k in range(d):
                for j in range(d):
                    M[k, j] = A[i0 + cr[c[k]], j]
                rhs[k] = b[i0 + cr[c[k]]]
            dt = _solve_small(M, rhs, x, d, det_atol)
            if dt > 0.0:
                mag = scale
                for k in range(d):
                    mag = max(mag, abs(x[k]))
                if _tight_mask(A, b, i0, m, x, rtol * mag, mask, tight) >= 0:
                    P, O, T, D, n = _keep_instance(P, O, T, D, n, start, x, r, dt, mask)
            if not _next_subset(c, mc):
                break
    return P[:n].copy(), O[:n].copy(), T[:n].copy(), D[:n].copy(), skipped


@_njit
def _keep_instance(P, O, T, D, n, start, x, r, dt, mask):
    """Append the instance (point x, region r, |det| dt, tight rows mask) at row n of the
    outputs (grown as needed) unless an instance since ``start`` has the same tight rows
    (a degenerate vertex met again); returns the outputs and their new length."""
    mw = T.shape[1]
    for q in range(start, n):
        same = True
        for w in range(mw):
            if T[q, w] != mask[w]:
                same = False
                break
        if same:
            return P, O, T, D, n
    if n == P.shape[0]:
        P = _grow_f2(P, n + 1)
        T = _grow_f2(T, n + 1)
        O = _grow_1(O, n + 1)
        D = _grow_1(D, n + 1)
    for k in range(P.shape[1]):
        P[n, k] = x[k]
    O[n] = r
    D[n] = dt
    for w in range(mw):
        T[n, w] = mask[w]
    return P, O, T, D, n + 1


@_njit
def _first_regular(A, b, i0, rows, nt, idx, c, M, rhs, x, det_atol):
    """The first d-subset, in lexicographic order, of the local rows ``rows[:nt]``
    (ascending) whose hyperplanes meet in one point, as :func:`_vertex_kernel` meets them:
    the subset in ``c``, the point in ``x``; returns its ``|det|`` (0.0: there is none)."""
    d = A.shape[1]
    if nt < d:
        return 0.0
    for k in range(d):
        idx[k] = k
    while True:
        for k in range(d):
            c[k] = rows[idx[k]]
            for j in range(d):
                M[k, j] = A[i0 + c[k], j]
            rhs[k] = b[i0 + c[k]]
        dt = _solve_small(M, rhs, x, d, det_atol)
        if dt > 0.0:
            return dt
        if not _next_subset(idx, nt):
            return 0.0


@_njit
def _tight_mask(A, b, i0, m, x, tol, mask, rows):
    """Rows tight at x (residual within ``tol``) as a bitset in ``mask`` and a list in
    ``rows``; returns their number, or -1 when x violates a row by more than ``tol``."""
    d = A.shape[1]
    for w in range(mask.shape[0]):
        mask[w] = 0
    nt = 0
    for j in range(m):
        s = -b[i0 + j]
        for k in range(d):
            s += A[i0 + j, k] * x[k]
        if s > tol:
            return -1
        if s >= -tol:
            mask[j >> 6] |= np.uint64(1) << np.uint64(j & 63)
            rows[nt] = j
            nt += 1
    return nt


@_njit
def _lex_less(S, i, j):
    for k in range(S.shape[1]):
        if S[i, k] != S[j, k]:
            return S[i, k] < S[j, k]
    return False


@_njit
def _engine_vertex_kernel(A, b, roff, regs, first_new, gid, Fb, vo, cell, box0, nbox, rtol, scale, det_atol, mw,
                          max_sub):
    """The output of :func:`_vertex_kernel` for the regions ``regs``, from the subdivision
    engine's vertices instead of every d-subset of rows: each engine vertex of a region's
    cell (``vo``: vertex offsets per engine cell, ``cell[r]``: the engine cell of region r)
    names the rows through it (``Fb``: bitsets over the engine's hyperplane ids, ``gid``:
    the id of every row). The point is solved from the first regular d-subset of those
    rows, its tight rows recomputed from residuals, and the instances are kept in the
    order and with the de-duplication of :func:`_vertex_kernel`, so that the answer is
    the same. Engine vertices on its box (ids ``box0`` .. ``box0 + nbox - 1``) are passed
    over when no row of the region is a box row. A region whose engine vertices disagree
    with its rows (a vertex on fewer than d independent rows, a point outside a row, a
    different first subset at the point, no vertex at all), or with more than ``max_sub``
    subsets, is flagged ``failed`` and left to :func:`_vertex_kernel`."""
    d = A.shape[1]
    cap = max(16, 8 * regs.shape[0])
    P = np.empty((cap, d))
    O = np.empty(cap, np.int64)
    T = np.zeros((cap, mw), np.uint64)
    D = np.empty(cap)
    failed = np.zeros(regs.shape[0], np.bool_)
    max_m = 1
    for t in range(regs.shape[0]):
        max_m = max(max_m, roff[regs[t] + 1] - roff[regs[t]])
    rows = np.empty(max_m, np.int64)
    rows2 = np.empty(max_m, np.int64)
    M = np.empty((d, d))
    rhs = np.empty(d)
    x = np.empty(d)
    idx = np.empty(d, np.int64)
    c = np.empty(d, np.int64)
    c2 = np.empty(d, np.int64)
    mask = np.zeros(mw, np.uint64)
    lcap = 16
    LP = np.empty((lcap, d))
    LS = np.empty((lcap, d), np.int64)
    LT = np.zeros((lcap, mw), np.uint64)
    LD = np.empty(lcap)
    order = np.empty(lcap, np.int64)
    n = 0
    for t in range(regs.shape[0]):
        r = regs[t]
        i0 = roff[r]
        m = roff[r + 1] - i0
        searched = _searched(m, d, max_sub)
        failed[t] = searched < 0  # left to qhull, as by the search
        if searched <= 0:
            continue
        p = cell[r]
        box_rows = False
        for j in range(m):
            if box0 >= 0 and box0 <= gid[i0 + j] < box0 + nbox:
                box_rows = True
        nl = 0
        for v in range(vo[p], vo[p + 1]):
            if box0 >= 0 and not box_rows and _any_bit(Fb, v, box0, nbox):
                continue
            nt = 0
            new = False
            for j in range(m):
                g = gid[i0 + j]
                if (Fb[v, g >> 6] >> np.uint64(g & 63)) & np.uint64(1):
                    rows[nt] = j
                    nt += 1
                    new = new or j >= first_new[t]
            if first_new[t] > 0 and not new:  # every row old: this vertex is known already
                continue
            dt = _first_regular(A, b, i0, rows, nt, idx, c, M, rhs, x, det_atol)
            if dt == 0.0:
                failed[t] = True
                break
            mag = scale
            for k in range(d):
                mag = max(mag, abs(x[k]))
            nt2 = _tight_mask(A, b, i0, m, x, rtol * mag, mask, rows2)
            if nt2 < 0:
                failed[t] = True
                break
            # the subset _vertex_kernel would solve: the first regular one at the point (the
            # same when the rows tight at the point are those the engine named)
            same = nt2 == nt
            for k in range(nt2):
                same = same and rows2[k] == rows[k]
            dt2 = dt
            if not same:
                for k in range(d):
                    c2[k] = c[k]
                dt2 = _first_regular(A, b, i0, rows2, nt2, idx, c, M, rhs, x, det_atol)
                same = dt2 > 0.0
                for k in range(d):
                    same = same and c[k] == c2[k]
                if not same:
                    failed[t] = True
                    break
            if c[d - 1] < first_new[t]:  # every row old: this vertex is known already
                continue
            if nl == LP.shape[0]:
                LP = _grow_f2(LP, nl + 1)
                LS = _grow_f2(LS, nl + 1)
                LT = _grow_f2(LT, nl + 1)
                LD = _grow_1(LD, nl + 1)
                order = _grow_1(order, nl + 1)
            for k in range(d):
                LP[nl, k] = x[k]
                LS[nl, k] = c[k]
            for w in range(mw):
                LT[nl, w] = mask[w]
            LD[nl] = dt2
            nl += 1
        if nl == 0 and first_new[t] == 0:
            failed[t] = True
        if failed[t]:
            continue
        # lexicographic order of the subsets (insertion sort: a few vertices per region)
        for q in range(nl):
            order[q] = q
            k = q
            while k > 0 and _lex_less(LS, order[k], order[k - 1]):
                order[k], order[k - 1] = order[k - 1], order[k]
                k -= 1
        start = n
        for q in range(nl):
            i = order[q]
            P, O, T, D, n = _keep_instance(P, O, T, D, n, start, LP[i], r, LD[i], LT[i])
    return P[:n].copy(), O[:n].copy(), T[:n].copy(), D[:n].copy(), failed


@_njit
def _rows_to_box(A, b, gid, Fb, vo, cell, roff, regs, box0, nbox, mw, ctr, hw, lo, hi, slack):
    """The vertices of the regions' engine cells that lie on the engine's box (ids
    ``box0`` .. ``box0 + nbox - 1``: x_j <= ctr_j + hw, then x_j >= ctr_j - hw), for the
    regions ``regs``: per row (flat, ``gid`` its engine id) whether it passes through one
    (False for other regions); per region (offsets ``tptr``) the bitsets ``TB`` over its
    local rows through each, and ``RB``: which rows of the box (lo, hi) each reaches (bit
    j: x_j >= hi_j - slack, bit d + j: x_j <= lo_j + slack; all when ``hw`` is nan or the
    point cannot be solved)."""
    d = A.shape[1]
    out = np.zeros(gid.shape[0], np.bool_)
    tptr = np.zeros(regs.shape[0] + 1, np.int64)
    TB = np.zeros((max(16, 4 * regs.shape[0]), mw), np.uint64)
    RB = np.zeros(TB.shape[0], np.uint64)
    allb = (np.uint64(1) << np.uint64(nbox)) - np.uint64(1)
    maxm = 1
    for t in range(regs.shape[0]):
        maxm = max(maxm, roff[regs[t] + 1] - roff[regs[t]])
    LA = np.empty((maxm + nbox, d))
    Lb = np.empty(maxm + nbox)
    M = np.empty((d, d))
    rhs = np.empty(d)
    x = np.empty(d)
    idx = np.empty(d, np.int64)
    nT = 0
    for t in range(regs.shape[0]):
        r = regs[t]
        p = cell[r]
        for v in range(vo[p], vo[p + 1]):
            if not _any_bit(Fb, v, box0, nbox):
                continue
            if nT == TB.shape[0]:
                TB = _grow_f2(TB, nT + 1)
                RB = _grow_1(RB, nT + 1)
            for w in range(mw):
                TB[nT, w] = 0
            k = 0
            for j in range(roff[r], roff[r + 1]):
                g = gid[j]
                if (Fb[v, g >> 6] >> np.uint64(g & 63)) & np.uint64(1):
                    out[j] = True
                    q = j - roff[r]
                    TB[nT, q >> 6] |= np.uint64(1) << np.uint64(q & 63)
                    for a in range(d):
                        LA[k, a] = A[j, a]
                    Lb[k] = b[j]
                    k += 1
            RB[nT] = allb
            if not math.isnan(hw):
                for q in range(nbox):
                    g = box0 + q
                    if (Fb[v, g >> 6] >> np.uint64(g & 63)) & np.uint64(1):
                        a0 = q % d
                        for a in range(d):
                            LA[k, a] = 0.0
                        LA[k, a0] = 1.0 if q < d else -1.0
                        Lb[k] = ctr[a0] + hw if q < d else hw - ctr[a0]
                        k += 1
                # the first regular d-subset of the rows through it gives the point
                solved = False
                if k >= d:
                    for a in range(d):
                        idx[a] = a
                    while True:
                        for a in range(d):
                            for e in range(d):
                                M[a, e] = LA[idx[a], e]
                            rhs[a] = Lb[idx[a]]
                        if _solve_small(M, rhs, x, d, 1e-13) > 0.0:
                            solved = True
                            break
                        if not _next_subset(idx, k):
                            break
                if solved:
                    RB[nT] = 0
                    for a in range(d):
                        if x[a] >= hi[a] - slack:
                            RB[nT] |= np.uint64(1) << np.uint64(a)
                        if x[a] <= lo[a] + slack:
                            RB[nT] |= np.uint64(1) << np.uint64(d + a)
            nT += 1
        tptr[t + 1] = nT
    return out, tptr, TB[:nT].copy(), RB[:nT].copy()


@_njit
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@_njit
def _merge_kernel(P, u, rad):
    """Cluster labels (union-find roots) of points: i and j are one when
    ``|p_i - p_j| <= max(rad_i, rad_j)``; a sweep along the unit vector u, each point
    looking both ways as far as its own radius."""
    N, d = P.shape
    key = np.empty(N)
    for i in range(N):
        s = 0.0
        for k in range(d):
            s += P[i, k] * u[k]
        key[i] = s
    order = np.argsort(key)
    parent = np.arange(N)
    for a in range(N):
        i = order[a]
        r2 = rad[i] * rad[i]
        for step in (1, -1):
            bb = a + step
            while 0 <= bb < N:
                j = order[bb]
                if abs(key[j] - key[i]) > rad[i]:
                    break
                d2 = 0.0
                for k in range(d):
                    d2 += (P[i, k] - P[j, k]) ** 2
                if d2 <= r2:
                    ri, rj = _find(parent, i), _find(parent, j)
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)
                bb += step
    for i in range(N):
        parent[i] = _find(parent, i)
    return parent


@_njit_inline
def _any_bit(B, v, g0, n):
    """Whether the bitset ``B[v]`` has any of the bits ``g0 .. g0 + n - 1``."""
    found = False
    for g in range(g0, g0 + n):
        if (B[v, g >> 6] >> np.uint64(g & 63)) & np.uint64(1):
            found = True
    return found


@_njit
def _is_sub(a, b):
    for w in range(a.shape[0]):
        if a[w] & ~b[w]:
            return False
    return True


@_njit
def _is_eq(a, b):
    for w in range(a.shape[0]):
        if a[w] != b[w]:
            return False
    return True


@_njit_inline
def _pop_low_bit(x):
    """The index of the lowest set bit of the nonzero uint64 ``x``, and ``x`` without that
    bit: ``while x: j, x = _pop_low_bit(x)`` visits the set bits in increasing order."""
    return np.int64(_trailing_zeros(x)), x & (x - np.uint64(1))


@_njit
def _popcount(a):
    c = 0
    for w in range(a.shape[0]):
        x = a[w]
        while x:
            x &= x - np.uint64(1)
            c += 1
    return c


@_njit
def _lattice_kernel(d, roff, istart, G, T, W, golden):
    """Face lattices of all regions from their vertex instances (sorted by region; G the
    global vertex ids, T the tight-row bitsets). Every face of every region is a record:
    dimension, region, sorted vertex ids (CSR), 64-bit hash of the vertex set. Also the
    Hasse pairs (record, covered record), the facet record of every row (-1: the row is
    not a facet), a problem code per region (1: no vertex or no facet, 2: a minimal face
    is not a single vertex, 3: an edge of a simple region has not 2 vertices) and which
    regions were simple (every vertex on exactly d rows)."""
    nreg = roff.shape[0] - 1
    mw = T.shape[1]
    max_m, max_n = 1, 1
    for r in range(nreg):
        max_m = max(max_m, roff[r + 1] - roff[r])
        max_n = max(max_n, istart[r + 1] - istart[r])
    nvw_max = (max_n + 63) >> 6
    cap = max(64, 4 * G.shape[0] + 2 * nreg)
    rec_k = np.empty(cap, np.int64)
    rec_reg = np.empty(cap, np.int64)
    rec_hash = np.empty(cap, np.uint64)
    rec_ptr = np.empty(cap + 1, np.int64)
    rec_ptr[0] = 0
    rec_vtx = np.empty(3 * cap, np.int64)
    hp = np.empty((3 * cap, 2), np.int64)
    row_face = np.full(roff[nreg], -1, np.int64)
    prob = np.zeros(nreg, np.int8)
    simple_out = np.zeros(nreg, np.bool_)
    nrec = 0
    nv = 0
    nhp = 0
    # per-region buffers, reused
    lg = np.empty(max_n, np.int64)
    LT = np.zeros((max_n, mw), np.uint64)
    RM = np.zeros((max_m, nvw_max), np.uint64)
    cnt = np.zeros(max_m, np.int64)
    fac_of_row = np.full(max_m, -1, np.int64)
    FM = np.zeros((max_m, nvw_max), np.uint64)
    CM = np.zeros((max_m, nvw_max), np.uint64)
    cand = np.zeros(nvw_max, np.uint64)
    fcap = 64
    FC = np.zeros((fcap, nvw_max), np.uint64)
    FL = np.empty(fcap, np.int64)
    FK = np.empty(fcap, np.uint64)
    pairs = np.empty((4 * fcap, 2), np.int64)
    hbits = 6
    HK = np.zeros(1 << hbits, np.uint64)
    HV = np.full(1 << hbits, -1, np.int64)
    used = np.empty(1 << hbits, np.int64)
    trow = np.empty(d, np.int64)
    for r in range(nreg):
        a, e = istart[r], istart[r + 1]
        m = roff[r + 1] - roff[r]
        ni = e - a
        # local vertices: unique global ids (sorted), tight rows OR-ed over duplicates
        o = np.argsort(G[a:e])
        n = 0
        for q in range(ni):
            g = G[a + o[q]]
            if n > 0 and lg[n - 1] == g:
                for w in range(mw):
                    LT[n - 1, w] |= T[a + o[q], w]
            else:
                lg[n] = g
                for w in range(mw):
                    LT[n, w] = T[a + o[q], w]
                n += 1
        nvw = max(1, (n + 63) >> 6)
        simple = n > 0 and n == ni and m <= 64
        if simple:
            for i in range(n):
                if _popcount(LT[i]) != d:
                    simple = False
                    break
        simple_out[r] = simple
        npair = 0
        if simple:
            # a k-face through a vertex is a (d-k)-subset of its d rows; key: the row bitset
            nmax = 1 + n * ((1 << d) - 1)
            if nmax > FC.shape[0]:
                FC = np.zeros((max(nmax, 2 * FC.shape[0]), nvw_max), np.uint64)
                FL = np.empty(FC.shape[0], np.int64)
                FK = np.empty(FC.shape[0], np.uint64)
            while (1 << hbits) < 4 * nmax:
                hbits += 1
                HK = np.zeros(1 << hbits, np.uint64)
                HV = np.full(1 << hbits, -1, np.int64)
                used = np.empty(1 << hbits, np.int64)
            shift = np.uint64(64 - hbits)
            hmask = np.int64((1 << hbits) - 1)
            nused = 0
            for w in range(nvw):
                FC[0, w] = 0
            FL[0] = d
            FK[0] = 0
            nface = 1
            for i in range(n):
                FC[0, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
                t = 0
                x = LT[i, 0]
                while x:
                    trow[t], x = _pop_low_bit(x)
                    t += 1
                for sub in range(1, 1 << d):
                    S = np.uint64(0)
                    lev = d
                    for t in range(d):
                        if (sub >> t) & 1:
                            S |= np.uint64(1) << np.uint64(trow[t])
                            lev -= 1
                    slot = _slot(HK, HV, S, shift, hmask, golden)
                    if HV[slot] < 0:
                        HK[slot] = S
                        HV[slot] = nface
                        used[nused] = slot
                        nused += 1
                        for w in range(nvw):
                            FC[nface, w] = 0
                        FL[nface] = lev
                        FK[nface] = S
                        nface += 1
                    f = HV[slot]
                    FC[f, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
            # Hasse diagram: face S covers the faces S + {j}
            for f in range(nface):
                if FL[f] == 0:
                    if _popcount(FC[f, :nvw]) != 1:
                        prob[r] = 2
                    continue
                if FL[f] == 1 and _popcount(FC[f, :nvw]) != 2:
                    prob[r] = 3
                # a face S + {j} has its vertices among S's, all on row j: only the rows
                # through a vertex of S are candidates (in increasing j, as over all rows)
                near = np.uint64(0)
                for w in range(nvw):
                    x = FC[f, w]
                    while x:
                        i, x = _pop_low_bit(x)
                        near |= LT[(w << 6) + i, 0]
                near &= ~FK[f]
                while near:
                    j, near = _pop_low_bit(near)
                    S = FK[f] | (np.uint64(1) << np.uint64(j))
                    slot = _slot(HK, HV, S, shift, hmask, golden)
                    if HV[slot] >= 0:
                        if npair == pairs.shape[0]:
                            pairs = _grow_f2(pairs, npair + 1)
                        pairs[npair, 0] = f
                        pairs[npair, 1] = HV[slot]
                        npair += 1
            for j in range(m):
                S = np.uint64(1) << np.uint64(j)
                slot = _slot(HK, HV, S, shift, hmask, golden)
                fac_of_row[j] = HV[slot] if (HV[slot] >= 0 and FL[HV[slot]] == d - 1) else -1
            for q in range(nused):
                HV[used[q]] = -1
        else:
            for j in range(m):
                cnt[j] = 0
                for w in range(nvw):
                    RM[j, w] = 0
            for i in range(n):
                for j in range(m):
                    if (LT[i, j >> 6] >> np.uint64(j & 63)) & np.uint64(1):
                        RM[j, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
                        cnt[j] += 1
            # facets: rows with >= d vertices, not all, whose vertex set no other row strictly contains
            nf = 0
            for j in range(m):
                fac_of_row[j] = -1
                if cnt[j] < d or cnt[j] >= n:
                    continue
                strict = False
                for j2 in range(m):
                    if cnt[j2] > cnt[j] and _is_sub(RM[j, :nvw], RM[j2, :nvw]):
                        strict = True
                        break
                if strict:
                    continue
                found = -1
                for f in range(nf):
                    if _is_eq(FM[f, :nvw], RM[j, :nvw]):
                        found = f
                        break
                if found < 0:
                    FM[nf, :nvw] = RM[j, :nvw]
                    found = nf
                    nf += 1
                fac_of_row[j] = 1 + found
            if n == 0 or nf == 0:
                prob[r] = 1
            if 1 + nf > FC.shape[0]:
                FC = np.zeros((max(1 + nf, 2 * FC.shape[0]), nvw_max), np.uint64)
                FL = np.empty(FC.shape[0], np.int64)
                FK = np.empty(FC.shape[0], np.uint64)
            for w in range(nvw):
                FC[0, w] = 0
            for i in range(n):
                FC[0, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
            FL[0] = d
            for f in range(nf):
                FC[1 + f, :nvw] = FM[f, :nvw]
                FL[1 + f] = d - 1
                if npair == pairs.shape[0]:
                    pairs = _grow_f2(pairs, npair + 1)
                pairs[npair, 0] = 0
                pairs[npair, 1] = 1 + f
                npair += 1
            nface = 1 + nf
            lo, hi = 1, nface
            for k in range(d - 1, 0, -1):
                new_lo = nface
                for F in range(lo, hi):
                    nc = 0
                    for g in range(nf):
                        empty = True
                        for w in range(nvw):
                            cand[w] = FC[F, w] & FM[g, w]
                            if cand[w]:
                                empty = False
                        if empty or _is_eq(cand[:nvw], FC[F, :nvw]):
                            continue
                        dup = False
                        for q in range(nc):
                            if _is_eq(CM[q, :nvw], cand[:nvw]):
                                dup = True
                                break
                        if not dup:
                            CM[nc, :nvw] = cand[:nvw]
                            nc += 1
                    for ci in range(nc):
                        maximal = True
                        for cj in range(nc):
                            if cj != ci and _is_sub(CM[ci, :nvw], CM[cj, :nvw]) \
                                    and not _is_eq(CM[ci, :nvw], CM[cj, :nvw]):
                                maximal = False
                                break
                        if not maximal:
                            continue
                        idx = -1
                        for q in range(new_lo, nface):
                            if _is_eq(FC[q, :nvw], CM[ci, :nvw]):
                                idx = q
                                break
                        if idx < 0:
                            if nface == FC.shape[0]:
                                FC = _grow_f2(FC, nface + 1)
                                FL = _grow_1(FL, nface + 1)
                                FK = _grow_1(FK, nface + 1)
                            FC[nface, :nvw] = CM[ci, :nvw]
                            FL[nface] = k - 1
                            idx = nface
                            nface += 1
                        if npair == pairs.shape[0]:
                            pairs = _grow_f2(pairs, npair + 1)
                        pairs[npair, 0] = F
                        pairs[npair, 1] = idx
                        npair += 1
                lo, hi = new_lo, nface
            for q in range(nface):
                if FL[q] == 0 and _popcount(FC[q, :nvw]) != 1:
                    prob[r] = 2
        # records
        base = nrec
        if nrec + nface > rec_k.shape[0]:
            need = nrec + nface
            rec_k = _grow_1(rec_k, need)
            rec_reg = _grow_1(rec_reg, need)
            rec_hash = _grow_1(rec_hash, need)
            rec_ptr = _grow_1(rec_ptr, need + 1)
        for q in range(nface):
            cntq = _popcount(FC[q, :nvw])
            if nv + cntq > rec_vtx.shape[0]:
                rec_vtx = _grow_1(rec_vtx, nv + cntq)
            h = np.uint64(0)
            for w in range(nvw):
                x = FC[q, w]
                while x:
                    i, x = _pop_low_bit(x)
                    g = lg[(w << 6) + i]
                    rec_vtx[nv] = g
                    h += W[g]
                    nv += 1
            rec_k[nrec] = FL[q]
            rec_reg[nrec] = r
            rec_hash[nrec] = h + np.uint64(cntq) * golden
            nrec += 1
            rec_ptr[nrec] = nv
        if nhp + npair > hp.shape[0]:
            hp = _grow_f2(hp, nhp + npair)
        for p in range(npair):
            hp[nhp, 0] = base + pairs[p, 0]
            hp[nhp, 1] = base + pairs[p, 1]
            nhp += 1
        for j in range(m):
            if fac_of_row[j] >= 0:
                row_face[roff[r] + j] = base + fac_of_row[j]
    return (rec_k[:nrec].copy(), rec_reg[:nrec].copy(), rec_hash[:nrec].copy(), rec_ptr[: nrec + 1].copy(),
            rec_vtx[:nv].copy(), hp[:nhp].copy(), row_face, prob, simple_out)


@_njit
def _slot(HK, HV, key, shift, hmask, golden):
    """Open addressing (Fibonacci hashing, linear probing): the slot of ``key`` in the
    table (keys HK, values HV, -1: empty), or the empty slot where it goes."""
    slot = np.int64((key * golden) >> shift)
    while HV[slot] >= 0 and HK[slot] != key:
        slot = (slot + 1) & hmask
    return slot


@_njit
def _first_occurrence(keys):
    """Ids of equal keys numbered in order of first occurrence: (id of every key, index of
    the first key of every id); what ``np.unique(..., return_index, return_inverse)``
    renumbered by first occurrence gives, with a hash table instead of a sort."""
    n = keys.shape[0]
    bits = 4
    while (1 << bits) < 2 * n + 2:
        bits += 1
    size = 1 << bits
    hmask = size - 1
    HK = np.zeros(size, np.uint64)
    HV = np.full(size, -1, np.int64)
    ids = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    shift = np.uint64(64 - bits)
    golden = np.uint64(0x9E3779B97F4A7C15)
    nu = 0
    for i in range(n):
        k = keys[i]
        slot = _slot(HK, HV, k, shift, hmask, golden)
        if HV[slot] < 0:
            HK[slot] = k
            HV[slot] = nu
            first[nu] = i
            nu += 1
        ids[i] = HV[slot]
    return ids, first[:nu].copy()


@_njit
def _group_pairs(a, b, n):
    """The distinct pairs (a_i, b_i), a_i in 0..n-1, as CSR over a: (indptr (n + 1,), the
    b of each a in increasing order); a counting sort by a, then each (small) group sorted."""
    start = np.zeros(n + 1, np.int64)
    for i in range(a.shape[0]):
        start[a[i] + 1] += 1
    for f in range(n):
        start[f + 1] += start[f]
    pos = start[:n].copy()
    buf = np.empty(a.shape[0], np.int64)
    for i in range(a.shape[0]):
        buf[pos[a[i]]] = b[i]
        pos[a[i]] += 1
    ip = np.zeros(n + 1, np.int64)
    out = np.empty(a.shape[0], np.int64)
    q = 0
    for f in range(n):
        s, e = start[f], start[f + 1]
        for i in range(s + 1, e):
            v = buf[i]
            j = i - 1
            while j >= s and buf[j] > v:
                buf[j + 1] = buf[j]
                j -= 1
            buf[j + 1] = v
        for i in range(s, e):
            if i == s or buf[i] != buf[i - 1]:
                out[q] = buf[i]
                q += 1
        ip[f + 1] = q
    return ip, out[:q].copy()


@_njit
def _same_lists(ptr, vtx, recs, reps):
    """Whether every record's vertex list equals its representative's."""
    for t in range(recs.shape[0]):
        a, b = recs[t], reps[t]
        if a == b:
            continue
        la, lb = ptr[a + 1] - ptr[a], ptr[b + 1] - ptr[b]
        if la != lb:
            return False
        for i in range(la):
            if vtx[ptr[a] + i] != vtx[ptr[b] + i]:
                return False
    return True


# ============================================================================ helpers
def _ranges(starts, lens):
    """Concatenated ``arange(s, s + l)`` for every (s, l)."""
    starts, lens = np.broadcast_arrays(np.asarray(starts, dtype=np.int64), np.asarray(lens, dtype=np.int64))
    return _ranges_kernel(np.ascontiguousarray(starts).ravel(), np.ascontiguousarray(lens).ravel())


@_njit
def _ranges_kernel(starts, lens):
    n = 0
    for i in range(lens.shape[0]):
        n += max(lens[i], 0)
    out = np.empty(n, np.int64)
    q = 0
    for i in range(lens.shape[0]):
        for k in range(lens[i]):
            out[q] = starts[i] + k
            q += 1
    return out


def _flat_rows(dec):
    """The regions' H-representations side by side, rows of unit norm: A (M, d), b (M,),
    row offsets (n + 1,), witnesses (n, d), bounded flags (n,). Taken from the
    Decomposition's arrays when the engine left them there (keys ``A``, ``b``,
    ``row_offsets``, ``witnesses``, ``bounded``; cached on the decomposition), else from
    its Region objects."""
    cached = dec.__dict__.get("_flat_rows")
    if cached is None:
        cached = dec.__dict__["_flat_rows"] = _flat_rows_of(dec)
    return cached


def _flat_rows_of(dec):
    arr = getattr(dec, "_arrays", {}) or {}
    d = dec.net.input_dim
    if all(k in arr for k in ("A", "b", "row_offsets", "witnesses", "bounded")):
        A, b = np.asarray(arr["A"], dtype=np.float64).reshape(-1, d), np.asarray(arr["b"], dtype=np.float64)
        roff, wit = np.asarray(arr["row_offsets"], dtype=np.int64), np.asarray(arr["witnesses"], dtype=np.float64)
        bnd = np.asarray(arr["bounded"], dtype=bool)
    else:
        regions = dec.regions
        m = np.fromiter((r.A.shape[0] for r in regions), dtype=np.int64, count=len(regions))
        roff = np.concatenate([[0], np.cumsum(m)]).astype(np.int64)
        A = np.concatenate([r.A for r in regions]).reshape(-1, d) if len(regions) else np.zeros((0, d))
        b = np.concatenate([r.b for r in regions]) if len(regions) else np.zeros(0)
        wit = np.array([r.witness for r in regions], dtype=np.float64).reshape(-1, d)
        bnd = np.fromiter((r.bounded for r in regions), dtype=bool, count=len(regions))
    nrm = np.linalg.norm(A, axis=1)
    if len(nrm) and np.abs(nrm - 1.0).max() > 1e-12:  # the engines give unit normals; others may not
        nrm = np.where(nrm > 0, nrm, 1.0)
        A, b = A / nrm[:, None], b / nrm
    return np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64), roff, wit, bnd


def _engine_vertices(dec, n_rows):
    """What the subdivision engine left on the decomposition about its vertices (Decomposition
    ``arrays``: ``row_ids`` of the rows, ``vertex_bits`` = (per engine vertex, a bitset over
    the row ids of the hyperplanes through it; vertex offsets per engine cell; the engine
    cell of each region; the id of the engine's first box row, -1 without a box)), as
    (row ids, bitsets, offsets, cells, first box id, the engine box's half-width from
    ``stats["box_halfwidth"]``, nan without); None when it is not there."""
    arr = getattr(dec, "_arrays", {}) or {}
    if "vertex_bits" not in arr or "row_ids" not in arr:
        return None
    Fb, vo, cell, box0 = arr["vertex_bits"]
    gid = np.ascontiguousarray(arr["row_ids"], dtype=np.int64)
    if len(gid) != n_rows or len(cell) != len(dec):
        return None
    hw = float(dec.stats.get("box_halfwidth", np.nan))  # the engine's box: centre +- hw
    return (gid, np.ascontiguousarray(Fb, dtype=np.uint64), np.ascontiguousarray(vo, dtype=np.int64),
            np.ascontiguousarray(cell, dtype=np.int64), int(box0), hw)


def _vertex_instances(A, b, roff, regs, rtol, scale, wit, first_new=None, unbounded=None, centre=None,
                      engine=None, cand=None, within=None):
    """Vertex instances of the regions ``regs`` (points, owners, tight-row bitsets, |det|
    of the rows solved: 1 from qhull), qhull for regions with more than MAX_SUBSETS d-subsets of rows. With ``first_new``
    (per region in regs), only vertices on at least one row at or after it. Regions
    flagged ``unbounded`` (per region) go to qhull inside a box ``QHULL_BOX_FACTOR``
    times larger than every vertex and witness found otherwise, and keep the vertices
    off that box. With ``engine`` = (row ids, vertex bitsets, vertex offsets, engine cell
    of each region, id of the engine's first box row or -1, ...), the subdivision engine's vertices name the rows through each vertex
    (:func:`_engine_vertex_kernel`; the same instances), and only the regions it flags go
    through every d-subset. ``cand`` (bool per row): only d-subsets of these rows are
    solved (default all; they must hold every row through a vertex sought). ``within`` =
    (offsets per region in regs, bitsets, reach bitsets): only subsets whose rows before
    ``first_new`` lie within one of the region's bitsets, and the later ones within the
    reach of those (none: no restriction)."""
    d = A.shape[1]
    mw = max(1, (int(np.diff(roff).max(initial=0)) + 63) // 64)
    regs = np.asarray(regs, dtype=np.int64)
    fn = np.zeros(len(regs), dtype=np.int64) if first_new is None else np.asarray(first_new, dtype=np.int64)
    cand = np.ones(len(b), dtype=bool) if cand is None else np.asarray(cand, dtype=bool)
    if within is None:
        within = (np.zeros(len(regs) + 1, dtype=np.int64), np.zeros((0, mw), dtype=np.uint64),
                  np.zeros(0, dtype=np.uint64))
    if engine is None:
        P, O, T, D, skipped = _vertex_kernel(A, b, roff, regs, fn, cand, *within, float(rtol), float(scale),
                                             DET_ATOL, mw, MAX_SUBSETS)
    else:
        gid, Fb, vo, cell, box0 = engine[:5]
        P, O, T, D, failed = _engine_vertex_kernel(A, b, roff, regs, fn, gid, Fb, vo, cell, box0, 2 * d,
                                                   float(rtol), float(scale), DET_ATOL, mw, MAX_SUBSETS)
        skipped = np.zeros(len(regs), dtype=bool)
        if failed.any():
            redo = np.flatnonzero(failed)
            none = (np.zeros(len(redo) + 1, dtype=np.int64), np.zeros((0, mw), dtype=np.uint64),
                    np.zeros(0, dtype=np.uint64))
            P2, O2, T2, D2, sk2 = _vertex_kernel(A, b, roff, regs[redo], fn[redo], cand, *none, float(rtol),
                                                 float(scale), DET_ATOL, mw, MAX_SUBSETS)
            P, O, T, D = (np.concatenate(x) for x in ((P, P2), (O, O2), (T, T2), (D, D2)))
            skipped[redo[sk2]] = True
    if skipped.any():
        from scipy.spatial import HalfspaceIntersection

        c = np.zeros(d) if centre is None else centre
        big = QHULL_BOX_FACTOR * max(scale, float(np.abs(P - c).max(initial=0.0)),
                                     float(np.abs(wit - c).max(initial=0.0)))
        eye = np.eye(d)
        Ps, Os, Ts, Ds = [P], [O], [T], [D]
        for r in regs[skipped]:
            Ar, br = A[roff[r]: roff[r + 1]], b[roff[r]: roff[r + 1]]
            m = len(br)
            open_ = unbounded is not None and unbounded[r]
            if open_:
                Ar, br = np.vstack([Ar, eye, -eye]), np.concatenate([br, c + big, big - c])
            inner = wit[r]
            if not np.all(Ar @ inner < br):  # the witness is outside the cutting box
                from .lp import chebyshev_center

                inner = chebyshev_center(Ar, br)[0]
            V = HalfspaceIntersection(np.hstack([Ar, -br[:, None]]), inner).intersections
            if open_:
                V = V[np.abs(V - c).max(axis=1) < (1.0 - 1e-6) * big]
            tol = rtol * np.maximum(scale, np.abs(V).max(axis=1, initial=0.0))
            tight = np.abs(V @ Ar[:m].T - br[:m]) <= tol[:, None]
            Tr = np.zeros((len(V), mw), dtype=np.uint64)
            for j in range(m):
                Tr[:, j >> 6] |= tight[:, j].astype(np.uint64) << np.uint64(j & 63)
            Ts.append(Tr)
            Ps.append(V)
            Os.append(np.full(len(V), r, dtype=np.int64))
            Ds.append(np.ones(len(V)))
        P, O, T, D = (np.concatenate(x) for x in (Ps, Os, Ts, Ds))
    return P, O, T, D


def _merge_radius(P, D, scale):
    """How far apart two instances of one vertex may be computed: VERTEX_MERGE_RTOL of
    the larger of ``scale`` and the point's largest coordinate, or, for an
    ill-conditioned intersection (unit-norm rows with a small ``|det|``), its rounding
    error ``MERGE_COND_FACTOR * eps * size / |det|``, at most VERTEX_MERGE_MAX_RTOL of the size."""
    mag = np.maximum(scale, np.abs(P).max(axis=1, initial=0.0))
    cond = MERGE_COND_FACTOR * 2.0 ** -52 / np.maximum(D, 1e-300)
    return mag * np.clip(cond, VERTEX_MERGE_RTOL, VERTEX_MERGE_MAX_RTOL)


def _merge_points(P, rad):
    """Cluster points closer than their radii ``rad``: (label of each point,
    representative coordinates), labels numbered in lexicographic order of the
    representatives."""
    if not len(P):
        return np.zeros(0, dtype=np.int64), np.zeros((0, P.shape[1]))
    u = np.random.default_rng(0x5eed).normal(size=P.shape[1])
    u /= np.linalg.norm(u)
    root = _merge_kernel(np.ascontiguousarray(P), u, np.ascontiguousarray(rad, dtype=np.float64))
    _, lab = np.unique(root, return_inverse=True)
    lab = lab.ravel()
    n = int(lab.max()) + 1
    cnt = np.bincount(lab, minlength=n)
    C = np.stack([np.bincount(lab, weights=P[:, j], minlength=n) for j in range(P.shape[1])], axis=1) / cnt[:, None]
    order = np.lexsort(C.T[::-1])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank[lab], C[order]


class _Faces:
    """Faces of every dimension as arrays: per k, the vertex lists (CSR); the (face,
    region) pairs and the (face, facet) pairs of the Hasse diagram, made on first use by
    the callable ``pairs(kind)``; grouped per face on first use, tuples made only when
    asked for."""

    def __init__(self, csr, pairs):
        self.csr = csr
        self._pairs_src = pairs
        self._pairs = {}
        self._groups = {}
        self._tuples = {}

    def count(self, k):
        return len(self.csr[k][0]) - 1

    def pairs(self, kind):
        """Per k: (face, region) int arrays (kind 'regions') or (face, facet) ones ('facets';
        None for k = 0), made on first use by the callable ``pairs(kind)``."""
        if kind not in self._pairs:
            self._pairs[kind] = self._pairs_src(kind)
        return self._pairs[kind]

    def group(self, kind, k):
        """CSR (indptr, ids) of the regions (kind 'regions') or facets ('facets') of the k-faces."""
        key = (kind, k)
        if key not in self._groups:
            P = self.pairs(kind)[k]
            n = self.count(k)
            if P is None or not len(P):
                self._groups[key] = (np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))
            else:
                self._groups[key] = _group_pairs(np.ascontiguousarray(P[:, 0], dtype=np.int64),
                                                 np.ascontiguousarray(P[:, 1], dtype=np.int64), n)
        return self._groups[key]

    def tuples(self, kind, k):
        key = (kind, k)
        if key not in self._tuples:
            ip, ix = self.csr[k] if kind == "cells" else self.group(kind, k)
            ip, ix = ip.tolist(), ix.tolist()
            self._tuples[key] = [tuple(ix[a:b]) for a, b in zip(ip[:-1], ip[1:])]
        return self._tuples[key]

    def filtered(self, keep):
        """The faces with ``keep[k]`` (keep[0]: vertices) renumbered, vertex lists
        restricted to the kept vertices, Hasse and region pairs between kept faces."""
        new = [np.cumsum(kp) - 1 for kp in keep]
        csr = []
        for k, kp in enumerate(keep):
            ip, ix = self.csr[k]
            rows = np.repeat(np.arange(len(ip) - 1), np.diff(ip))
            sel = kp[rows] & keep[0][ix]
            lens = np.bincount(new[k][rows[sel]], minlength=int(kp.sum()))
            csr.append((np.concatenate([[0], np.cumsum(lens)]).astype(np.int64), new[0][ix[sel]]))

        def pairs(kind):
            out = []
            for k, kp in enumerate(keep):
                P = self.pairs(kind)[k]
                if P is None:
                    out.append(None)
                elif kind == "regions":
                    P = P[kp[P[:, 0]]]
                    out.append(np.column_stack([new[k][P[:, 0]], P[:, 1]]))
                else:
                    P = P[kp[P[:, 0]] & keep[k - 1][P[:, 1]]]
                    out.append(np.column_stack([new[k][P[:, 0]], new[k - 1][P[:, 1]]]))
            return out

        return _Faces(csr, pairs)


def _build(A, b, roff, wit, d, rtol_scale, regs_inst):
    """The faces of the regions with rows (A, b, roff), from their vertex instances
    ``regs_inst`` = (points, owners, tight bitsets, |det|): (vertices, _Faces, facet face of every
    row, problems)."""
    P, O, T, D = regs_inst
    n_reg = len(roff) - 1
    o = np.argsort(O, kind="stable")
    P, O, T, D = P[o], O[o], T[o], D[o]
    gid, V = _merge_points(P, _merge_radius(P, D, rtol_scale))
    istart = np.searchsorted(O, np.arange(n_reg + 1)).astype(np.int64)
    W = np.random.default_rng(0x5eed).integers(0, 2 ** 63, size=max(len(V), 1), dtype=np.int64).astype(np.uint64)
    rec_k, rec_reg, rec_hash, rec_ptr, rec_vtx, hp, row_face, prob, simple = _lattice_kernel(
        d, roff, istart, gid.astype(np.int64), np.ascontiguousarray(T), W, _GOLDEN)
    problems = [f"region {r}: no vertices or no facet found" for r in np.flatnonzero(prob == 1).tolist()]
    problems += [f"region {r}: a minimal face is not a single vertex" for r in np.flatnonzero(prob == 2).tolist()]
    problems += [f"region {r}: an edge of a simple region has not 2 vertices" for r in np.flatnonzero(prob == 3).tolist()]
    face_of = np.empty(len(rec_k), dtype=np.int64)
    csr = []
    for k in range(d + 1):
        sel = np.flatnonzero(rec_k == k)
        if k == 0:
            face_of[sel] = rec_vtx[rec_ptr[sel]]
            csr.append((np.arange(len(V) + 1, dtype=np.int64), np.arange(len(V), dtype=np.int64)))
            continue
        if k == d:
            face_of[sel] = rec_reg[sel]
            reps = sel  # one record per region, in region order
            lens = rec_ptr[reps + 1] - rec_ptr[reps]
        else:
            ids, first = _first_occurrence(rec_hash[sel])
            face_of[sel] = ids
            reps = sel[first]
            if not _same_lists(rec_ptr, rec_vtx, sel, reps[ids]):
                problems.append("two faces share a vertex-set hash")
            lens = rec_ptr[reps + 1] - rec_ptr[reps]
        csr.append((np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                    rec_vtx[_ranges(rec_ptr[reps], lens)]))

    def pairs(kind):
        if kind == "regions":
            o = np.argsort(rec_k, kind="stable")
            cut = np.searchsorted(rec_k[o], np.arange(d + 2))
            return [np.column_stack([face_of[o[cut[k]: cut[k + 1]]], rec_reg[o[cut[k]: cut[k + 1]]]])
                    for k in range(d + 1)]
        pk = rec_k[hp[:, 0]]
        o = np.argsort(pk, kind="stable")
        cut = np.searchsorted(pk[o], np.arange(d + 2))
        H = face_of[hp[o]]
        return [None] + [H[cut[k]: cut[k + 1]] for k in range(1, d + 1)]

    rf = np.where(row_face >= 0, face_of[np.maximum(row_face, 0)], -1)
    return V, _Faces(csr, pairs), rf, problems, int(simple.sum())


def _pointed_error(func, regions):
    return ValueError(f"{func} over an unbounded domain needs pointed regions (every region has a vertex; "
                      f"the first layer's weights have rank d); regions {_first(regions)} have no vertex. "
                      "Enumerate over a Box or another bounded Polytope instead.")


class FaceComplex:
    """The polyhedral complex of a decomposition: every face, with its incidences.

    Built by :meth:`Decomposition.complex` (or :func:`face_complex`). Faces of dimension k
    are numbered 0..f_k-1; the d-faces are the regions, in region order.

    Over an unbounded domain (all of R^d) the faces are those of the decomposition itself,
    bounded or not; they are computed by cutting every region with ``box`` (a box holding
    every vertex strictly inside) and leaving out the faces that lie on it. An unbounded
    face lists only its genuine vertices (a ray: one; a line: none), so the triangulation
    and everything built on it (``simplices``, ``triangulation``, ``simplex_tree``,
    ``betti``, ``volumes``) need a bounded domain.

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
    bounded : list of ndarray of bool
        ``bounded[k]``: which k-faces are bounded (all of them over a bounded domain).
    box : tuple of ndarray or None
        ``(lo, hi)`` of the cutting box over an unbounded domain, else None.
    n_simple_regions : int
        Regions whose every vertex lies on exactly d of its rows (the generic case).

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

    and the plane into four quadrants, with one vertex and four rays:

    >>> pr.enumerate_regions(net, None).complex().f_vector()
    (1, 4, 4)
    """

    def __init__(self, dec):
        _require_complete(dec, "FaceComplex")
        t0 = time.perf_counter()
        self.net = dec.net
        self.layer = dec.layer
        self.domain = dom = dec.domain
        d = self.dim = dec.net.input_dim
        A, b, roff, wit, bnd = _flat_rows(dec)
        n_reg = len(roff) - 1
        centre = np.asarray(dom.center, dtype=np.float64) if dom is not None else np.zeros(d)
        s = self.scale = float(local_frame(dec.net, dom, centre)[1])
        regs = np.arange(n_reg, dtype=np.int64)
        unb = None if dom is not None and dom.bounded else ~bnd
        eng = _engine_vertices(dec, len(b))
        inst = _vertex_instances(A, b, roff, regs, TIGHT_RTOL, s, wit, unbounded=unb, centre=centre,
                                 engine=eng)
        self.box = None
        m_own = np.diff(roff)
        if dom is None or not dom.bounded:
            has = np.zeros(n_reg, dtype=bool)
            has[inst[1]] = True
            if not has.all():
                raise _pointed_error("FaceComplex", np.flatnonzero(~has).tolist())
            ext = max(float(np.abs(inst[0] - centre).max(initial=0.0)), s)
            R = BOX_FACTOR * ext
            lo, hi = centre - R, centre + R
            self.box = (lo, hi)
            A, b, roff, inst = _add_box(A, b, roff, bnd, inst, lo, hi, TIGHT_RTOL, s, wit, engine=eng)
        V, F, rf, self.problems, self.n_simple_regions = _build(A, b, roff, wit, d, s, inst)
        self._full_vertices, self._full = V, F
        self._full_rows = (rf, roff, np.diff(roff))  # every row, the box's included
        self._keep = None
        if self.box is not None:
            onbox = _on_box(V, self.box, s)
            keep = [~onbox.any(axis=1)]
            for k in range(1, d + 1):
                ip, _ = F.csr[k]
                hits = _face_sums(F, k, onbox)
                lens = np.diff(ip)
                keep.append(~((hits == lens[:, None]) & (lens[:, None] > 0)).any(axis=1))
            self._keep = keep
            self._onbox_vertex = onbox.any(axis=1)
            F = F.filtered(keep)
            new = [np.cumsum(kp) - 1 for kp in keep]
            ok = (rf >= 0) & keep[d - 1][np.maximum(rf, 0)]
            rf = np.where(ok, new[d - 1][np.maximum(rf, 0)], -1)
            V = V[keep[0]]
        self._F = F
        self.vertices = V
        self.vertices.setflags(write=False)
        self._rf = (rf[_ranges(roff[:-1], m_own)], np.concatenate([[0], np.cumsum(m_own)]), m_own)
        self._region_facets = None
        self._on_domain = None
        self._tri = None
        self._vsigns = None
        self.seconds = time.perf_counter() - t0

    @property
    def cells(self):
        """``cells[k][i]``: the sorted vertex ids of k-face i (tuples made on first use)."""
        return [self._F.tuples("cells", k) for k in range(self.dim + 1)]

    def _count(self, k):
        return self._F.count(k)

    @property
    def facets(self):
        """``facets[k][i]``: the (k-1)-faces in the boundary of k-face i (built on first use)."""
        return [[()] * self._count(0)] + [self._F.tuples("facets", k) for k in range(1, self.dim + 1)]

    @property
    def regions(self):
        """``regions[k][i]``: the regions containing k-face i (built on first use)."""
        return [self._F.tuples("regions", k) for k in range(self.dim + 1)]

    @property
    def region_facets(self):
        """For every region, the (d-1)-face of each row of its H-representation (-1: none)."""
        if self._region_facets is None:
            rf, roff, m = self._rf  # roff: offsets of the regions' own rows in rf
            self._region_facets = [rf[a: a + n] for a, n in zip(roff[:-1].tolist(), m.tolist())]
        return self._region_facets

    @property
    def bounded(self):
        """``bounded[k]``: bool (f_k,), which k-faces are bounded."""
        if self._keep is None:
            return [np.ones(self._count(k), dtype=bool) for k in range(self.dim + 1)]
        F, V = self._full, self._full_vertices
        return [~(_face_sums(F, k, self._onbox_vertex[:, None])[:, 0] > 0)[self._keep[k]]
                for k in range(self.dim + 1)]

    @property
    def on_domain(self):
        """``on_domain[k]``: bool (f_k, n_domain_rows), the domain constraints holding on each face."""
        if self._on_domain is None:
            F, V = self._full, self._full_vertices
            if self.domain is None:
                Ad, bd = np.zeros((0, self.dim)), np.zeros(0)
            else:
                Ad, bd = np.asarray(self.domain.A), np.asarray(self.domain.b)
            tol = TIGHT_RTOL * 10 * np.maximum(self.scale, np.abs(V).max(axis=1, initial=0.0))
            off = ~(np.abs(V @ Ad.T - bd) <= tol[:, None])
            out = []
            for k in range(self.dim + 1):
                if not F.count(k):
                    out.append(np.zeros((0, len(bd)), dtype=bool))
                    continue
                on = _face_sums(F, k, off) == 0
                out.append(on if self._keep is None else on[self._keep[k]])
            self._on_domain = out
        return self._on_domain

    # ------------------------------------------------------------------ queries
    def f_vector(self) -> tuple:
        """``(f_0, ..., f_d)``: the number of faces of every dimension."""
        return tuple(self._count(k) for k in range(self.dim + 1))

    def euler_characteristic(self) -> int:
        """``sum_k (-1)^k f_k`` (1 for a bounded convex domain, ``(-1)^d`` for all of R^d)."""
        return int(sum((-1) ** k * f for k, f in enumerate(self.f_vector())))

    def _incidence(self, k):
        """Sparse (f_k x f_0) face-vertex incidence matrix."""
        return _incidence(self._F, k, len(self.vertices))

    def boundary_matrix(self, k):
        """Sparse 0/1 matrix of shape (f_k, f_{k-1}): which (k-1)-faces bound each k-face.

        It is the boundary matrix over Z/2 (the Hasse diagram between dimensions k-1 and k).
        """
        from scipy.sparse import csr_matrix

        if not 1 <= k <= self.dim:
            raise ValueError(f"k must be in 1..{self.dim}; got {k!r}.")
        ip, ix = self._F.group("facets", k)
        return csr_matrix((np.ones(len(ix), dtype=np.int8), ix, ip), shape=(len(ip) - 1, self._count(k - 1)))

    def sign_vectors(self, k) -> np.ndarray:
        """Sign vectors of the k-faces: int8 array (f_k, n_units) of +1, -1, 0.

        A unit's sign on a face is the sign of its pre-activation on the face's relative
        interior (0: the face lies in the unit's zero set). Units are those of layers
        1..layer, side by side. A face whose vertices disagree (numerical trouble) gets
        the sign of the sum. (Over an unbounded domain the vertices on the cutting box
        count too.)
        """
        S = self._vertex_signs()
        if k == 0:
            S = S.copy()
        else:
            S = np.sign(_face_sums(self._full, k, S)).astype(np.int8)
        return S if self._keep is None else S[self._keep[k]]

    def _vertex_signs(self):
        """Signs at the vertices (those on the cutting box included): 0 where the
        pre-activation is below SIGN_ZERO_RTOL of its magnitude ``|W| m + |b|``, with ``m``
        the magnitude of the layer's input (the vertex's size in every coordinate, then
        that of the active units); a unit at zero passes exactly 0 on, so that a unit fed
        only by units at zero, without a bias, is 0 too."""
        if self._vsigns is None:
            V = self._full_vertices
            h, S = V, []
            # the size a vertex's coordinates are known to: the larger of the length scale
            # and its largest coordinate, in every coordinate; carried through the layers
            mag = np.repeat(np.maximum(self.scale, np.abs(V).max(axis=1, initial=0.0))[:, None], V.shape[1], axis=1)
            for l in range(self.layer):
                W, b = np.asarray(self.net.weights[l]), np.asarray(self.net.biases[l])
                z = h @ W.T + b
                mz = mag @ np.abs(W).T + np.abs(b)
                zero = np.abs(z) <= SIGN_ZERO_RTOL * mz
                s = np.sign(z).astype(np.int8)
                s[zero] = 0
                S.append(s)
                h = np.where(zero, 0.0, np.maximum(z, 0.0))  # a unit at zero passes exactly 0 on
                mag = np.where(s < 0, 0.0, mz)
            self._vsigns = np.concatenate(S, axis=1) if S else np.zeros((len(V), 0), dtype=np.int8)
        return self._vsigns

    def frame(self, k):
        """The k-faces as a pandas DataFrame (see :meth:`Decomposition.faces`)."""
        import pandas as pd

        if not 0 <= k <= self.dim:
            raise ValueError(f"k must be a face dimension in 0..{self.dim}; got {k!r}.")
        S = self.sign_vectors(k)
        n = self._count(k)
        if S.shape[1]:
            codes = np.ascontiguousarray(np.array([45, 48, 43], dtype=np.uint8)[S.astype(np.int64) + 1])
            sign = codes.view(f"S{S.shape[1]}").ravel().astype(str).tolist()
        else:
            sign = [""] * n
        dom = self.on_domain[k]
        if dom.shape[1] and n:
            U, inv = np.unique(dom, axis=0, return_inverse=True)
            objs = np.empty(len(U), dtype=object)
            objs[:] = [tuple(np.flatnonzero(row).tolist()) for row in U]
            dom_facets = objs[inv.ravel()].tolist()
        else:
            dom_facets = [()] * n
        df = pd.DataFrame({
            "face": np.arange(n),
            "dim": k,
            "sign": sign,
            "n_zero_units": (S == 0).sum(axis=1) if S.size else 0,
            "regions": self._F.tuples("regions", k),
            "vertices": self._F.tuples("cells", k),
            "domain_facets": dom_facets,
        })
        if self._keep is not None:
            df["bounded"] = self.bounded[k]
        if k == 0:
            for j in range(self.dim):
                df[f"x{j}"] = self.vertices[:, j]
        else:
            F, V = self._full, self._full_vertices
            ip = F.csr[k][0]
            C = _face_sums(F, k, V) / np.maximum(np.diff(ip), 1)[:, None]
            if self._keep is not None:
                C = C[self._keep[k]]
            for j in range(self.dim):
                df[f"c{j}"] = C[:, j]
        return df

    # ------------------------------------------------------------------ triangulation
    def _require_bounded(self, what):
        if self._keep is not None:
            raise ValueError(f"FaceComplex.{what} needs a bounded domain: over an unbounded one the complex has "
                             "unbounded faces, which the pulling triangulation cannot cone. Use "
                             "FaceComplex.truncated() (the complex cut by its box), or enumerate over a Box.")

    def truncated(self):
        """The complex cut by ``box``: a bounded complex with the same topology.

        Over an unbounded domain every region is cut by ``box`` (which holds every vertex
        strictly inside); the cut complex has the faces of this one (unbounded ones cut)
        plus those on the box, and its domain is the domain cut by the box. It can be
        triangulated (``simplex_tree``, ``betti``, ``volumes`` of the cut regions), and
        a subcomplex of this complex is homotopy equivalent to its cut. Over a bounded
        domain: the complex itself.

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
        >>> T = pr.enumerate_regions(net, None).complex().truncated()
        >>> T.f_vector(), T.betti()
        ((9, 12, 4), [1, 0, 0])
        """
        if self._keep is None:
            return self
        if getattr(self, "_trunc", None) is None:
            from .domain import Polytope

            d = self.dim
            lo, hi = self.box
            Ab = np.vstack([np.eye(d), -np.eye(d)])
            bb = np.concatenate([hi, -lo])
            if self.domain is not None:
                Ab, bb = np.vstack([np.asarray(self.domain.A), Ab]), np.concatenate([np.asarray(self.domain.b), bb])
            T = object.__new__(FaceComplex)
            T.__dict__.update(self.__dict__)
            T.domain = Polytope(Ab, bb) if self.domain is not None else _cube_polytope(lo, hi)
            T.box, T._keep, T._trunc = None, None, None
            T._F, T.vertices = self._full, self._full_vertices
            T._rf, T._region_facets = self._full_rows, None
            T._on_domain = T._tri = T._vsigns = None
            self._trunc = T
        return self._trunc

    def _cut_cells(self, cells):
        """Face ids of this complex -> face ids of :meth:`truncated`."""
        if self._keep is None:
            return cells
        ids = [np.flatnonzero(kp) for kp in self._keep]
        return [ids[k][np.asarray(list(c), dtype=np.int64)].tolist() for k, c in enumerate(cells)]

    def _pulling(self):
        """Pulling triangulation, per dimension k: (simplices (n, k+1) int, the k-face of each,
        offsets of each face's block). A k-face is the cone from its smallest vertex over the
        triangulations of its facets that miss that vertex."""
        self._require_bounded("triangulation")
        if self._tri is None:
            n0 = len(self.vertices)
            tri = [(np.arange(n0, dtype=np.int64)[:, None], np.arange(n0, dtype=np.int64),
                    np.arange(n0 + 1, dtype=np.int64))]
            for k in range(1, self.dim + 1):
                nk = self._count(k)
                fip, fix = self._F.group("facets", k)
                par = np.repeat(np.arange(nk), np.diff(fip))
                ch = fix
                cip, cix = self._F.csr[k]
                vmin = cix[cip[:-1]] if len(cix) else np.zeros(nk, dtype=np.int64)
                if len(ch):
                    inside = np.asarray(self._incidence(k - 1)[ch, vmin[par]]).ravel() > 0
                    par, ch = par[~inside], ch[~inside]
                S_prev, _, off_prev = tri[k - 1]
                cnt = off_prev[ch + 1] - off_prev[ch]
                rep = np.repeat(par, cnt)
                idx = _ranges(off_prev[ch], cnt)
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
        idx = _ranges(off[faces], cnt)
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
        facets = self.facets
        for k in range(self.dim, 0, -1):
            for i in list(out[k]):
                out[k - 1].update(facets[k][i])
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

        self._require_bounded("simplex_tree")
        vals = np.zeros(len(self.vertices)) if values is None else np.asarray(values, dtype=np.float64)
        st = gudhi.SimplexTree()
        faces = None if cells is None else self._generated(cells)
        # the vertices with their values, then the simplices of every k-face, their own faces
        # added by GUDHI; a simplex's lower-star value (the max over its vertices) is then
        # set by resetting every simplex of dimension >= 1 to -inf and raising it to the
        # max over its faces (a new simplex comes in at +inf, so no vertex value is lowered)
        # the whole complex is pure (every face lies in a region, whose triangulation holds
        # the face's): its vertices and d-simplices suffice
        for k in (range(self.dim + 1) if faces is not None else sorted({0, self.dim})):
            S, _ = self.simplices(k, None if faces is None else sorted(faces[k]))
            if not len(S):
                continue
            fill = vals[S[:, 0]] if k == 0 else np.full(len(S), 0.0 if values is None else np.inf)
            st.insert_batch(S.T.copy(), fill)
        if values is not None and st.dimension() >= 1:
            st.reset_filtration(-np.inf, 1)
            st.make_filtration_non_decreasing()
        return st

    def betti(self, cells=None, *, field=11) -> list:
        """Betti numbers ``[b_0, ..., b_d]`` over Z/field of the complex (or of the closure
        of ``cells``); exact (GUDHI). Over an unbounded domain: of its cut by ``box``
        (:meth:`truncated`), which has the same homotopy type."""
        if self._keep is not None:
            return self.truncated().betti(None if cells is None else self._cut_cells(cells), field=field)
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


def _face_sums(F, k, X):
    """Sum of the rows of X (n0, c) over the vertices of every k-face of F: (f_k, c);
    int64 for bool or int X."""
    ip, ix = F.csr[k]
    X = np.asarray(X)
    if X.dtype.kind in "bui":
        X = X.astype(np.int64)
    cs = np.zeros((len(ix) + 1,) + X.shape[1:], dtype=X.dtype)
    np.cumsum(X[ix], axis=0, out=cs[1:])
    return cs[ip[1:]] - cs[ip[:-1]]


def _incidence(F, k, n0):
    """Sparse (f_k x n0) face-vertex incidence matrix of the faces F."""
    from scipy.sparse import csr_matrix

    ip, ix = F.csr[k]
    return csr_matrix((np.ones(len(ix), dtype=np.int64), ix, ip), shape=(len(ip) - 1, n0))


def _on_box(V, box, scale):
    """(n, 2d) bool: which of the box's rows (x_j <= hi_j, then x_j >= lo_j) pass through each vertex."""
    lo, hi = box
    tol = TIGHT_RTOL * 10 * np.maximum(scale, np.abs(V).max(axis=1, initial=0.0))[:, None]
    return np.hstack([np.abs(V - hi) <= tol, np.abs(V - lo) <= tol])


def _add_box(A, b, roff, bnd, inst, lo, hi, rtol, scale, wit, engine=None):
    """Append the box's 2d rows to every unbounded region; the vertex instances of the
    bounded regions are kept, those of the unbounded ones on the box added. ``engine``:
    (row ids, vertex bitsets, vertex offsets, engine cells, id of the engine's first box
    row, the engine box's half-width): a vertex w on the box lies on the unbounded face F
    of the region whose rows are those through w (a bounded face lies inside the box); F
    also reaches the engine's own box (it holds every vertex too), so a vertex of the
    engine's cell on that box lies on F, and on every row through w. Only d-subsets of
    the rows through such an engine vertex, and of the box's rows, are then solved; and
    when the engine's box holds this one, F's part inside it is the hull of those engine
    vertices with the genuine ones, so w's box rows are among those the engine vertices
    on F reach."""
    d = A.shape[1]
    n_reg = len(roff) - 1
    m = np.diff(roff)
    add = np.where(bnd, 0, 2 * d)
    roff2 = np.concatenate([[0], np.cumsum(m + add)]).astype(np.int64)
    rows_own = _ranges(roff2[:-1], m)
    A2 = np.zeros((int(roff2[-1]), d))
    b2 = np.zeros(int(roff2[-1]))
    A2[rows_own], b2[rows_own] = A, b
    ub = np.flatnonzero(~bnd)
    eye = np.eye(d)
    boxA = np.vstack([eye, -eye])
    boxb = np.concatenate([hi, -lo])
    rows_box = _ranges(roff2[ub] + m[ub], np.full(len(ub), 2 * d))
    A2[rows_box] = np.tile(boxA, (len(ub), 1))
    b2[rows_box] = np.tile(boxb, len(ub))
    P, O, T, D = inst
    # vertices of the unbounded regions on a box row (the others are known)
    cand = within = None
    if engine is not None and engine[4] >= 0:
        gid, Fb, vo, cell, box0, hw = engine
        mw = max(1, (int(np.diff(roff2).max(initial=0)) + 63) // 64)
        # the engine's box (centre +- hw) must hold this one for the reach test
        ok = bool(np.isfinite(hw) and np.all(hi - lo <= 2.0 * hw * (1.0 - 1e-9)))
        ctr = (lo + hi) / 2.0
        rows_hit, tptr, TB, RB = _rows_to_box(A, b, gid, Fb, vo, cell, roff, ub, box0, 2 * d, mw, ctr,
                                              hw if ok else np.nan, lo, hi, 1e-6 * max(scale, float(hw) if ok else 0.0))
        cand = np.ones(len(b2), dtype=bool)
        cand[rows_own] = rows_hit
        within = (tptr, TB, RB)
    P2, O2, T2, D2 = _vertex_instances(A2, b2, roff2, ub, rtol, scale, wit, first_new=m[ub], cand=cand,
                                       within=within)
    mw = max(T.shape[1], T2.shape[1])
    pad = lambda X: np.hstack([X, np.zeros((len(X), mw - X.shape[1]), dtype=np.uint64)])  # noqa: E731
    del n_reg
    return A2, b2, roff2, (np.concatenate([P, P2]), np.concatenate([O, O2]), np.concatenate([pad(T), pad(T2)]),
                           np.concatenate([D, D2]))


def _cube_polytope(lo, hi):
    """The cutting box ``lo <= x <= hi`` (a cube) as a Polytope with the rows of
    :meth:`FaceComplex.truncated` (``x_j <= hi_j``, then ``-x_j <= -lo_j``), without the
    linear programs of Polytope's validation: a cube is bounded and full-dimensional, its
    Chebyshev centre is its centre and its inradius half its side."""
    from .domain import Polytope

    d = len(lo)
    P = object.__new__(Polytope)
    P._A = np.vstack([np.eye(d), -np.eye(d)])
    P._b = np.concatenate([hi, -lo]).astype(np.float64)
    P._A.setflags(write=False)
    P._b.setflags(write=False)
    P._center = (np.asarray(lo, dtype=np.float64) + hi) / 2.0
    P._inradius = float(np.min(np.asarray(hi) - lo)) / 2.0
    P._bounded = True
    return P


def _betti_of_tree(st, dim, field):
    if st.num_simplices() == 0:
        return [0] * (dim + 1)
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)
    b = list(st.betti_numbers())
    return (b + [0] * (dim + 1))[: dim + 1]


def check_certifiable(net, domain, func):
    """Raise a clear error before an enumeration that could not be certified (a domain
    that is not one; every Box, Polytope and all of R^d can be)."""
    from .domain import as_domain
    from .network import as_network

    as_domain(domain, as_network(net).input_dim)


def face_complex(dec) -> FaceComplex:
    """The :class:`FaceComplex` of a decomposition (cached on it; ``dec.complex()``).

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    >>> pr.face_complex(pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))).f_vector()
    (6, 7, 2)
    """
    K = dec.__dict__.get("_face_complex")
    if K is None:
        K = dec.__dict__["_face_complex"] = FaceComplex(dec)
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


# ============================================================================ certificate from the engine's incidences
@_njit
def _engine_cert_vertices(A, b, roff, gid, Fb, vo, cell, box0, nbox, dom0, ndom, Pw, rtol, scale, det_atol):
    """Vertex instances of every region read off the subdivision engine's incidences alone
    (no search, no merge by coordinates), for :func:`_engine_certificate`.

    Every engine vertex of a region's cell is an instance; its rows are the region's rows
    whose hyperplane (``gid``) it lies on (``Fb``), then the engine box's ``nbox`` rows
    (ids ``box0`` ..) for a region with a vertex on that box. A vertex is identified across
    regions by its sign vector: the hyperplanes through it (its ``Fb`` bitset) with the
    region's pattern (``Pw``, packed) on the other units; the points with one sign vector
    form a relatively open convex set, so a vertex is the only point with its own. A vertex
    off the engine's box is solved once, from the first regular d-subset of its first
    region's rows through it, and every instance is checked against its region's rows:
    the rows through it within ``rtol`` of its size, the others strictly satisfied.

    Returns per instance its region, the global vertex id (numbered by first occurrence)
    and its tight-row bitset over the region's local rows (box rows after its own); the
    row offsets with the box rows; per global vertex its coordinates (nan on the engine's
    box) and a bitset of the domain rows (bits 0..ndom-1, ids ``dom0`` ..) and box rows
    (bits ndom ..) through it; per region a problem flag (1: an incidence disagrees with
    the rows, 2: a vertex on fewer than d independent rows, 3: two sign vectors share a
    hash)."""
    n = roff.shape[0] - 1
    d = A.shape[1]
    W = Fb.shape[1]
    PWn = Pw.shape[1]
    # row offsets with the box rows of the regions that reach the engine's box
    onb = np.zeros(n, np.bool_)
    if box0 >= 0:
        for r in range(n):
            p = cell[r]
            for v in range(vo[p], vo[p + 1]):
                for q in range(nbox):
                    g = box0 + q
                    if (Fb[v, g >> 6] >> np.uint64(g & 63)) & np.uint64(1):
                        onb[r] = True
    roff2 = np.zeros(n + 1, np.int64)
    max_m = 1
    N = 0
    for r in range(n):
        m = roff[r + 1] - roff[r] + (nbox if onb[r] else 0)
        roff2[r + 1] = roff2[r] + m
        max_m = max(max_m, m)
        p = cell[r]
        N += vo[p + 1] - vo[p]
    mw = (max_m + 63) >> 6
    O = np.empty(N, np.int64)
    G = np.empty(N, np.int64)
    E = np.empty(N, np.int64)  # the engine vertex of each instance
    T = np.zeros((N, mw), np.uint64)
    prob = np.zeros(n, np.int8)
    # hash table over sign vectors -> global id
    bits = 4
    while (1 << bits) < 2 * N + 2:
        bits += 1
    HK = np.zeros(1 << bits, np.uint64)
    HV = np.full(1 << bits, -1, np.int64)
    shift = np.uint64(64 - bits)
    hmask = np.int64((1 << bits) - 1)
    golden = np.uint64(0x9E3779B97F4A7C15)
    rep_e = np.empty(N, np.int64)  # representative instance (engine vertex, region) of each global id
    rep_r = np.empty(N, np.int64)
    X = np.full((N, d), np.nan)
    S = np.zeros(N, np.uint64)
    ng = 0
    q = 0
    rows = np.empty(max_m, np.int64)
    idx = np.empty(d, np.int64)
    c = np.empty(d, np.int64)
    M = np.empty((d, d))
    rhs = np.empty(d)
    x = np.empty(d)
    for r in range(n):
        p = cell[r]
        i0 = roff[r]
        m = roff[r + 1] - i0
        for v in range(vo[p], vo[p + 1]):
            # the sign vector's hash
            h = np.uint64(0x243F6A8885A308D3)
            for w in range(W):
                h = (h ^ Fb[v, w]) * golden
                h ^= h >> np.uint64(29)
            for w in range(PWn):
                f = Fb[v, w] if w < W else np.uint64(0)
                h = (h ^ (Pw[r, w] & ~f)) * golden
                h ^= h >> np.uint64(29)
            slot = _slot(HK, HV, h, shift, hmask, golden)
            if HV[slot] < 0:
                HK[slot] = h
                HV[slot] = ng
                rep_e[ng] = v
                rep_r[ng] = r
                ng += 1
            else:  # the same sign vector, or a hash collision
                g0 = HV[slot]
                e0, r0 = rep_e[g0], rep_r[g0]
                for w in range(W):
                    if Fb[v, w] != Fb[e0, w]:
                        prob[r] = 3
                for w in range(PWn):
                    f = Fb[v, w] if w < W else np.uint64(0)
                    if (Pw[r, w] & ~f) != (Pw[r0, w] & ~f):
                        prob[r] = 3
            O[q] = r
            G[q] = HV[slot]
            E[q] = v
            for j in range(m):
                g = gid[i0 + j]
                if (Fb[v, g >> 6] >> np.uint64(g & 63)) & np.uint64(1):
                    T[q, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
            if onb[r]:
                for k in range(nbox):
                    g = box0 + k
                    if (Fb[v, g >> 6] >> np.uint64(g & 63)) & np.uint64(1):
                        T[q, (m + k) >> 6] |= np.uint64(1) << np.uint64((m + k) & 63)
            q += 1
    # special rows (domain, box) through every global vertex; coordinates off the box
    for g in range(ng):
        v = rep_e[g]
        s = np.uint64(0)
        for k in range(ndom):
            gg = dom0 + k
            if (Fb[v, gg >> 6] >> np.uint64(gg & 63)) & np.uint64(1):
                s |= np.uint64(1) << np.uint64(k)
        if box0 >= 0:
            for k in range(nbox):
                gg = box0 + k
                if (Fb[v, gg >> 6] >> np.uint64(gg & 63)) & np.uint64(1):
                    s |= np.uint64(1) << np.uint64(ndom + k)
        S[g] = s
    solved = np.zeros(ng, np.bool_)
    for t in range(N):
        g = G[t]
        r = O[t]
        if S[g] >> np.uint64(ndom):  # on the engine's box: no coordinates
            continue
        i0 = roff[r]
        m = roff[r + 1] - i0
        if not solved[g]:
            nt = 0
            for j in range(m):
                if (T[t, j >> 6] >> np.uint64(j & 63)) & np.uint64(1):
                    rows[nt] = j
                    nt += 1
            if _first_regular(A, b, i0, rows, nt, idx, c, M, rhs, x, det_atol) == 0.0:
                prob[r] = 2
                continue
            for k in range(d):
                X[g, k] = x[k]
            solved[g] = True
        mag = scale
        for k in range(d):
            mag = max(mag, abs(X[g, k]))
        tol = rtol * mag
        for j in range(m):
            s = -b[i0 + j]
            for k in range(d):
                s += A[i0 + j, k] * X[g, k]
            on = (T[t, j >> 6] >> np.uint64(j & 63)) & np.uint64(1)
            if on:
                if abs(s) > tol:
                    prob[r] = 1
            elif s >= -tol:
                prob[r] = 1
    istart = np.zeros(n + 1, np.int64)
    for t in range(N):
        istart[O[t] + 1] += 1
    for r in range(n):
        istart[r + 1] += istart[r]
    return O, G, T, roff2, X[:ng].copy(), S[:ng].copy(), prob, istart


@_njit
def _det_small(M, d):
    """det of the d x d matrix M (overwritten above d = 3): closed forms for d <= 3,
    elimination with partial pivoting above."""
    if d == 1:
        return M[0, 0]
    if d == 2:
        return M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0]
    if d == 3:
        return (M[0, 0] * (M[1, 1] * M[2, 2] - M[1, 2] * M[2, 1])
                - M[0, 1] * (M[1, 0] * M[2, 2] - M[1, 2] * M[2, 0])
                + M[0, 2] * (M[1, 0] * M[2, 1] - M[1, 1] * M[2, 0]))
    det = 1.0
    for c in range(d):
        p = c
        for i in range(c + 1, d):
            if abs(M[i, c]) > abs(M[p, c]):
                p = i
        if M[p, c] == 0.0:
            return 0.0
        if p != c:
            for j in range(d):
                M[c, j], M[p, j] = M[p, j], M[c, j]
            det = -det
        det *= M[c, c]
        for i in range(c + 1, d):
            f = M[i, c] / M[c, c]
            for j in range(c, d):
                M[i, j] -= f * M[c, j]
    return det


@_njit
def _simple_faces_kernel(d, roff, roff2, istart, G, T, SV, Wv, golden, X, want_vol):
    """Every face of every region, when every region is simple (each of its vertices on
    exactly d of its at most 64 rows, box rows included), as the faces of the complex:
    a face of a simple region is a set S of the rows through one of its vertices (its
    vertices: those on every row of S), and a face of the complex is identified by the
    hash of its vertex set (the sum of the vertices' random weights ``Wv`` and its size),
    as in :func:`_lattice_kernel`, without vertex lists or the Hasse diagram.

    Returns ok (False: a region is not simple or has a vertex twice, an edge of one has
    not 2 vertices, or two faces with one hash differ in dimension or in the special rows
    ``SV`` (domain and box rows, per vertex) through them) and, per face of the complex,
    its dimension (vertices left out: they are the ids in ``G``), the number of regions
    containing it, the smallest and largest of them,
    the AND of its vertices' special rows; and the face of every own row (``roff``: the
    own rows are the first of each region's rows in ``roff2``; -1: the row holds no
    facet); with ``want_vol``, the volume of every region (vertex coordinates ``X``): the
    sum over its flags (a chain of faces from the region down to an edge: an edge and an
    order of its d-1 rows) of the simplex on the faces' vertex centroids and the edge's
    two vertices (the barycentric subdivision)."""
    n = roff.shape[0] - 1
    vol = np.zeros(n if want_vol else 0)
    dX = X.shape[1] if want_vol else 1
    LX = np.zeros((1, dX))
    LE = np.empty((1, 2), np.int64)
    cR = np.zeros(dX)
    Dm = np.empty((d, d))
    perm = np.empty(max(d - 1, 1), np.int64)
    fact = 1.0
    for k in range(2, d + 1):
        fact *= k
    N = G.shape[0]
    full = 1 << d
    cap = max(16, N)  # grown as needed (page faults on a table sized for the worst case cost more)
    bits = 4
    while (1 << bits) < 2 * cap:
        bits += 1
    GK = np.zeros(1 << bits, np.uint64)
    GV = np.full(1 << bits, -1, np.int64)
    gshift = np.uint64(64 - bits)
    gmask = np.int64((1 << bits) - 1)
    fk = np.empty(cap, np.int64)
    finc = np.empty(cap, np.int64)
    flo = np.empty(cap, np.int64)
    fhi = np.empty(cap, np.int64)
    fspec = np.empty(cap, np.uint64)
    fh = np.empty(cap, np.uint64)
    row_face = np.full(roff[n], -1, np.int64)
    nf = 0
    max_n = 1
    for r in range(n):
        max_n = max(max_n, istart[r + 1] - istart[r])
    lbits = 4
    while (1 << lbits) < 4 * max_n * full:
        lbits += 1
    LK = np.zeros(1 << lbits, np.uint64)
    LV = np.full(1 << lbits, -1, np.int64)
    lshift = np.uint64(64 - lbits)
    lmask = np.int64((1 << lbits) - 1)
    used = np.empty(max_n * full, np.int64)
    LS = np.empty(max_n * full, np.uint64)
    LH = np.empty(max_n * full, np.uint64)
    LC = np.empty(max_n * full, np.int64)
    LP = np.empty(max_n * full, np.uint64)
    rb = np.empty(d, np.uint64)
    SS = np.zeros(full, np.uint64)
    seen = np.full(SV.shape[0], -1, np.int64)
    if want_vol:
        LX = np.zeros((max_n * full, dX))
        LE = np.empty((max_n * full, 2), np.int64)
    bad = (False, fk[:0], finc[:0], flo[:0], fhi[:0], fspec[:0], row_face, vol)
    for r in range(n):
        if roff2[r + 1] - roff2[r] > 64:
            return bad
        m_own = roff[r + 1] - roff[r]
        nl = 0
        for i in range(istart[r], istart[r + 1]):
            g = G[i]
            if seen[g] == r:  # one vertex twice in a region
                return bad
            seen[g] = r
            x = T[i, 0]
            t = 0
            while x:
                if t == d:
                    return bad
                j, x = _pop_low_bit(x)
                rb[t] = np.uint64(1) << np.uint64(j)
                t += 1
            if t != d:
                return bad
            # the faces through the vertex (row subsets), the vertex itself left out
            for sub in range(1, full - 1):
                low = sub & -sub
                q = 0
                while (1 << q) != low:
                    q += 1
                S = SS[sub ^ low] | rb[q]
                SS[sub] = S
                slot = _slot(LK, LV, S, lshift, lmask, golden)
                if LV[slot] < 0:
                    LK[slot] = S
                    LV[slot] = nl
                    used[nl] = slot
                    LS[nl] = S
                    LH[nl] = 0
                    LC[nl] = 0
                    LP[nl] = ~np.uint64(0)
                    if want_vol:
                        for k in range(dX):
                            LX[nl, k] = 0.0
                    nl += 1
                f = LV[slot]
                if want_vol:
                    if LC[f] < 2:
                        LE[f, LC[f]] = g
                    for k in range(dX):
                        LX[f, k] += X[g, k]
                LH[f] += Wv[g]
                LC[f] += 1
                LP[f] &= SV[g]
        if want_vol:  # the barycentric subdivision: one simplex per flag down to an edge
            ni = istart[r + 1] - istart[r]
            for k in range(dX):
                cR[k] = 0.0
            for i in range(istart[r], istart[r + 1]):
                for k in range(dX):
                    cR[k] += X[G[i], k] / ni
            for f in range(nl):
                if _popcount(LS[f:f + 1]) != d - 1 or LC[f] != 2:
                    continue
                t = 0
                x = LS[f]
                while x:
                    perm[t], x = _pop_low_bit(x)
                    t += 1
                v0, v1 = LE[f, 0], LE[f, 1]
                while True:  # every order of the edge's d-1 rows (lexicographic)
                    S = np.uint64(0)
                    for q in range(d - 2):  # the chain's faces above the edge
                        S |= np.uint64(1) << np.uint64(perm[q])
                        fq = LV[_slot(LK, LV, S, lshift, lmask, golden)]
                        for k in range(d):
                            Dm[q, k] = LX[fq, k] / LC[fq] - cR[k]
                    for k in range(d):
                        Dm[d - 2, k] = X[v0, k] - cR[k]
                        Dm[d - 1, k] = X[v1, k] - cR[k]
                    vol[r] += abs(_det_small(Dm, d)) / fact
                    # next permutation of perm[:d-1]
                    q = d - 3
                    while q >= 0 and perm[q] >= perm[q + 1]:
                        q -= 1
                    if q < 0:
                        break
                    e = d - 2
                    while perm[e] <= perm[q]:
                        e -= 1
                    perm[q], perm[e] = perm[e], perm[q]
                    lo_, hi_ = q + 1, d - 2
                    while lo_ < hi_:
                        perm[lo_], perm[hi_] = perm[hi_], perm[lo_]
                        lo_ += 1
                        hi_ -= 1
        for f in range(nl):
            LV[used[f]] = -1
            lev = d - _popcount(LS[f:f + 1])
            if lev == 1 and LC[f] != 2:
                return bad
            h = LH[f] + np.uint64(LC[f]) * golden
            slot = _slot(GK, GV, h, gshift, gmask, golden)
            if GV[slot] < 0:
                if nf == fk.shape[0]:
                    fk = _grow_1(fk, nf + 1)
                    finc = _grow_1(finc, nf + 1)
                    flo = _grow_1(flo, nf + 1)
                    fhi = _grow_1(fhi, nf + 1)
                    fspec = _grow_1(fspec, nf + 1)
                    fh = _grow_1(fh, nf + 1)
                if 2 * (nf + 1) > GK.shape[0]:  # rehash into a table twice as large
                    bits += 1
                    GK = np.zeros(1 << bits, np.uint64)
                    GV = np.full(1 << bits, -1, np.int64)
                    gshift = np.uint64(64 - bits)
                    gmask = np.int64((1 << bits) - 1)
                    for q in range(nf):
                        s2 = _slot(GK, GV, fh[q], gshift, gmask, golden)
                        GK[s2] = fh[q]
                        GV[s2] = q
                    slot = _slot(GK, GV, h, gshift, gmask, golden)
                GK[slot] = h
                GV[slot] = nf
                fh[nf] = h
                finc[nf] = 0
                fk[nf] = lev
                flo[nf] = r
                fhi[nf] = r
                fspec[nf] = LP[f]
                nf += 1
            gf = GV[slot]
            if fk[gf] != lev or fspec[gf] != LP[f]:
                return bad
            finc[gf] += 1
            flo[gf] = min(flo[gf], r)
            fhi[gf] = max(fhi[gf], r)
            if lev == d - 1:
                S = LS[f]
                j = 0
                while not (S & np.uint64(1)):
                    S >>= np.uint64(1)
                    j += 1
                if j < m_own:
                    row_face[roff[r] + j] = gf
    return True, fk[:nf].copy(), finc[:nf].copy(), flo[:nf].copy(), fhi[:nf].copy(), fspec[:nf].copy(), row_face, vol

@_njit
def _facets_and_edges_agree(fid, finc, flo, fhi, fspec, gid, n_units, dom_mask, E, n):
    """The certificate's facet checks on the faces of the complex: every region row holds a
    facet (``fid``: its face); across it exactly one other region (``finc``: regions
    containing the face), or none when it lies on the domain's boundary (a domain row, or
    ``fspec`` has a domain row through the face); and the dual graph ``E`` is exactly the
    set of facet-sharing pairs (``flo``, ``fhi``), each pair once."""
    shared = np.zeros(finc.shape[0], np.bool_)
    ns = 0
    for i in range(fid.shape[0]):
        f = fid[i]
        if f < 0:
            return False
        on = gid[i] >= n_units or (fspec[f] & dom_mask) != np.uint64(0)
        if finc[f] != (1 if on else 2):
            return False
        if not on and not shared[f]:
            shared[f] = True
            ns += 1
    if ns != E.shape[0]:
        return False
    pairs = np.empty(ns, np.int64)
    q = 0
    for f in range(finc.shape[0]):
        if shared[f]:
            pairs[q] = flo[f] * n + fhi[f]
            q += 1
    given = np.empty(ns, np.int64)
    for e in range(ns):
        given[e] = min(E[e, 0], E[e, 1]) * n + max(E[e, 0], E[e, 1])
    pairs.sort()
    given.sort()
    for e in range(ns):
        if pairs[e] != given[e] or (e > 0 and pairs[e] == pairs[e - 1]):
            return False
    return True


@_njit
def _record_specials(rec_ptr, rec_vtx, S):
    """Per face record, the AND of its vertices' special-row bitsets (the domain and box
    rows holding on the whole face)."""
    nrec = rec_ptr.shape[0] - 1
    out = np.zeros(nrec, np.uint64)
    for i in range(nrec):
        a = ~np.uint64(0)
        for t in range(rec_ptr[i], rec_ptr[i + 1]):
            a &= S[rec_vtx[t]]
        out[i] = a if rec_ptr[i + 1] > rec_ptr[i] else np.uint64(0)
    return out


@_njit
def _pulling_volumes(d, rec_k, rec_reg, rec_ptr, rec_vtx, cip, cix, X, n):
    """Volume of every region from the face records of its lattice (children CSR ``cip``,
    ``cix``: the faces each face covers): a face is the cone from its smallest vertex over
    its facets that miss that vertex (a pulling triangulation of each region)."""
    vol = np.zeros(n)
    stack_f = np.empty(1024, np.int64)
    stack_l = np.empty(1024, np.int64)
    pre = np.empty(d + 1, np.int64)
    D = np.empty((d, d))
    fact = 1.0
    for k in range(2, d + 1):
        fact *= k
    for R0 in range(rec_k.shape[0]):
        if rec_k[R0] != d:
            continue
        r = rec_reg[R0]
        top = 0
        stack_f[0] = R0
        stack_l[0] = 0
        top = 1
        while top > 0:
            top -= 1
            F = stack_f[top]
            lev = stack_l[top]
            a = rec_vtx[rec_ptr[F]]
            pre[lev] = a
            if rec_k[F] == 0:
                if lev == d:
                    for i in range(d):
                        for j in range(d):
                            D[i, j] = X[pre[i + 1], j] - X[pre[0], j]
                    vol[r] += abs(np.linalg.det(D)) / fact
                continue
            for t in range(cip[F], cip[F + 1]):
                Gc = cix[t]
                has = False
                for u in range(rec_ptr[Gc], rec_ptr[Gc + 1]):
                    if rec_vtx[u] == a:
                        has = True
                        break
                if has:
                    continue
                if top == stack_f.shape[0]:
                    stack_f = _grow_1(stack_f, top + 1)
                    stack_l = _grow_1(stack_l, top + 1)
                stack_f[top] = Gc
                stack_l[top] = lev + 1
                top += 1
    return vol


_WEIGHTS = np.zeros(0, dtype=np.uint64)


def _vertex_weights(n):
    """n random 63-bit weights (the first n of one fixed stream, kept): a face's hash is
    the sum of its vertices' weights."""
    global _WEIGHTS
    if len(_WEIGHTS) < n:
        _WEIGHTS = np.random.default_rng(0x5eed).integers(0, 2 ** 63, size=max(n, 2 * len(_WEIGHTS), 4096),
                                                          dtype=np.int64).astype(np.uint64)
        _WEIGHTS.setflags(write=False)
    return _WEIGHTS[:n]


def _engine_certificate(dec, A, b, roff, checks):
    """The certificate's face checks from the subdivision engine's incidences (Decomposition
    ``arrays``: ``vertex_bits``, ``row_ids``, ``patterns``, ``edges``), without the face
    complex: the vertices identified by sign vector (:func:`_engine_cert_vertices`), the
    lattices of the regions cut by the engine's box, and the counts, facet neighbours, dual
    graph, Euler characteristic and (bounded domains) volumes read off them. Returns the
    (f-vector, Euler characteristic, volume sum, domain volume) with every check recorded
    in ``checks`` when all of them passed, or None (unavailable, or a check failed: the
    caller then runs the face-complex path, which names what failed)."""
    arr = getattr(dec, "_arrays", {}) or {}
    dom = dec.domain
    if dom is not None and not dom.bounded:
        return None
    if not all(k in arr for k in ("vertex_bits", "row_ids", "patterns", "edges")):
        return None
    d = dec.net.input_dim
    n = len(roff) - 1
    Fb, vo, cell, box0 = arr["vertex_bits"]
    gid = np.ascontiguousarray(arr["row_ids"], dtype=np.int64)
    if len(gid) != len(b) or len(cell) != n or n == 0:
        return None
    n_units = int(dec.net.offsets[dec.layer])
    ndom = 0 if dom is None else len(dom.b)
    nbox = 2 * d if int(box0) >= 0 else 0
    if ndom + nbox > 64 or (dom is None) != (int(box0) >= 0):
        return None
    Fb = np.ascontiguousarray(Fb, dtype=np.uint64)
    if Fb.shape[1] * 64 < n_units + ndom + nbox:
        return None
    P = np.asarray(arr["patterns"], dtype=bool)
    if P.shape != (n, n_units):
        return None
    nw = (n_units + 63) // 64
    Pp = np.zeros((n, nw * 64), dtype=bool)
    Pp[:, :n_units] = P
    Pw = np.ascontiguousarray(np.packbits(Pp, axis=1, bitorder="little")).view(np.uint64)
    centre = np.asarray(dom.center, dtype=np.float64) if dom is not None else np.zeros(d)
    s = float(local_frame(dec.net, dom, centre)[1])
    O, Gv, T, roff2, X, S, vprob, istart = _engine_cert_vertices(
        A, b, roff, gid, Fb, np.ascontiguousarray(vo, dtype=np.int64), np.ascontiguousarray(cell, dtype=np.int64),
        int(box0), nbox, n_units, ndom, Pw, TIGHT_RTOL, s, DET_ATOL)
    if vprob.any() or not len(X):
        return None
    box_mask = np.uint64(((1 << nbox) - 1) << ndom)
    dom_mask = np.uint64((1 << ndom) - 1)
    if nbox and np.bincount(O[(S[Gv] & box_mask) == 0], minlength=n).min() == 0:
        return None  # a region without a vertex: not pointed (the face-complex path says so)
    Wv = _vertex_weights(len(X))
    m = np.diff(roff)
    ok = False
    if T.shape[1] == 1:  # every region simple: counts, facets, their regions and volumes only
        ok, fk, finc, flo, fhi, fspec, fid, vols = _simple_faces_kernel(
            d, roff, roff2, istart, Gv, T, S, Wv, _GOLDEN, np.ascontiguousarray(X), dom is not None)
        if ok:
            off_box = (fspec & box_mask) == 0
            fv = [int(np.count_nonzero((S & box_mask) == 0))]
            fv += [int(np.count_nonzero(off_box & (fk == k))) for k in range(1, d)] + [n]
    if not ok:
        rec_k, rec_reg, rec_hash, rec_ptr, rec_vtx, hp, row_face, prob, _ = _lattice_kernel(
            d, roff2, istart, Gv, T, Wv, _GOLDEN)
        if prob.any():
            return None
        spec = _record_specials(rec_ptr, rec_vtx, S)
        off_box = (spec & box_mask) == 0
        fv = []
        for k in range(d):
            sel = np.flatnonzero(rec_k == k)
            ids, first = _first_occurrence(rec_hash[sel])
            if not _same_lists(rec_ptr, rec_vtx, sel, sel[first][ids]):
                return None
            fv.append(int(off_box[sel[first]].sum()))
            if k == d - 1:
                face = np.full(len(rec_k), -1, dtype=np.int64)
                face[sel] = ids
                n_facets = len(first)
        fv.append(n)
        rf = row_face[_ranges(roff2[:-1], m)]
        if (rf < 0).any():
            return None
        fid = face[rf]
        finc = np.bincount(face[sel], minlength=n_facets)
        flo = np.full(n_facets, n, dtype=np.int64)
        fhi = np.full(n_facets, -1, dtype=np.int64)
        np.minimum.at(flo, face[sel], rec_reg[sel])
        np.maximum.at(fhi, face[sel], rec_reg[sel])
        fspec = np.zeros(n_facets, dtype=np.uint64)
        fspec[face[sel]] = spec[sel]
    E = np.ascontiguousarray(np.asarray(arr["edges"], dtype=np.int64).reshape(-1, 2))
    if not _facets_and_edges_agree(fid, finc, flo, fhi, fspec, gid, n_units, dom_mask, E, n):
        return None
    vol = dvol = float("nan")
    if dom is not None:
        if not ok:
            cip, cix = _group_pairs(np.ascontiguousarray(hp[:, 0]), np.ascontiguousarray(hp[:, 1]), len(rec_k))
            vols = _pulling_volumes(d, rec_k, rec_reg, rec_ptr, rec_vtx, cip, cix, np.ascontiguousarray(X), n)
        vol, dvol = float(vols.sum()), float(dom.volume())
        if not abs(vol - dvol) <= VOLUME_RTOL * dvol:
            return None
    chi = int(sum((-1) ** k * f for k, f in enumerate(fv)))
    if chi != _domain_euler(dom, d)[0]:
        return None
    for name in ("face_lattice", "facet_neighbours", "edges") + (("volume",) if dom is not None else ()) \
            + ("euler_characteristic",):
        checks[name] = True
    return tuple(fv), chi, vol, dvol


def f_vector(dec) -> tuple:
    """The f-vector of a decomposition (the work of :meth:`Decomposition.f_vector`).

    On a decomposition from the subdivision engine the faces are counted from its
    vertex-hyperplane incidences, as :func:`certify` counts them, without the face
    complex; when the face complex is already built, when the engine left no arrays, or
    when a check of the counts fails (degenerate networks), the face complex's faces are
    counted instead. Both give the same counts.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> pr.faces.f_vector(pr.enumerate_regions(net, None))
    (1, 4, 4)
    """
    if "_face_complex" not in dec.__dict__ and not dec.partial:
        A, b, roff, _, _ = _flat_rows(dec)
        fast = _engine_certificate(dec, A, b, roff, {})
        if fast is not None:
            return fast[0]
    return face_complex(dec).f_vector()


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
    n = len(dec)
    # no two regions share a pattern
    dup = _shared_patterns(dec)
    record("patterns_unique", not len(dup), f"regions {_first(dup)} share a pattern with another region")
    # witnesses strictly inside (float64)
    A, b, roff, wit, _ = _flat_rows(dec)
    bad = np.flatnonzero(_witness_outside(A, b, roff, wit)).tolist()
    record("witnesses_inside", not bad, f"the witness of regions {_first(bad)} is not strictly inside")
    cert = Certificate(False, checks, failures)
    if dec.partial:
        cert.complete = False
        return cert
    fast = _engine_certificate(dec, A, b, roff, checks)
    K = None
    if fast is not None:  # every check passed on the engine's incidences
        cert.f_vector, cert.euler_characteristic = fast[:2]
        if dec.domain is not None:
            cert.volume_sum, cert.domain_volume = fast[2:]
    else:
        try:
            K = face_complex(dec)
        except ValueError as err:  # faces of an unbounded decomposition without vertices
            record("face_lattice", False, str(err))
    if K is not None:
        d = K.dim
        reg = np.repeat(np.arange(n), np.diff(roff))
        record("face_lattice", not K.problems, _first(K.problems))
        # every facet has exactly one region across it, or lies on the domain boundary
        arr = getattr(dec, "_arrays", {}) or {}
        if "row_ids" in arr:  # the hyperplane of every row: units first, then the domain's rows
            lab0 = np.where(np.asarray(arr["row_ids"]) < dec.net.offsets[dec.layer], 1, 0)
        else:
            lab0 = np.fromiter((lab[0] for r in dec.regions for lab in r.facets), dtype=np.int64, count=len(b))
        f = K._rf[0]  # the (d-1)-face of every row of every region, flat
        ip, ix = K._F.group("regions", d - 1)
        fc = np.maximum(f, 0)
        inc = np.diff(ip)[fc]
        first = ix[np.minimum(ip[fc], len(ix) - 1)] if len(ix) else np.zeros(len(f), dtype=np.int64)
        second = ix[np.minimum(ip[fc] + 1, len(ix) - 1)] if len(ix) else first
        on_dom = (lab0 == 0) | (K.on_domain[d - 1][fc].any(axis=1) if len(f) else np.zeros(0, dtype=bool))
        not_facet = f < 0
        bad_bd = ~not_facet & on_dom & ~((inc == 1) & (first == reg))
        bad_in = ~not_facet & ~on_dom & (inc != 2)
        def lab(i):
            return dec.regions[reg[i]].facets[i - roff[reg[i]]]

        msgs = [f"region {reg[i]} row {i - roff[reg[i]]} {lab(i)}: not a facet" for i in np.flatnonzero(not_facet)[:3]]
        msgs += [f"region {reg[i]} facet {lab(i)} on the domain boundary is shared by {K.regions[d - 1][f[i]]}"
                 for i in np.flatnonzero(bad_bd)[:3]]
        msgs += [f"region {reg[i]} facet {lab(i)}: {inc[i] - 1} regions across it" for i in np.flatnonzero(bad_in)[:3]]
        n_bad = int(not_facet.sum() + bad_bd.sum() + bad_in.sum())
        record("facet_neighbours", not n_bad, ", ".join(msgs[:3]) + (f" and {n_bad - 3} more" if n_bad > 3 else ""))
        # the dual graph agrees with the shared facets
        good = ~not_facet & ~on_dom & (inc == 2)
        pairs = np.unique(first[good] * n + second[good])
        if "edges" in arr:  # the engine's dual graph as an array (i < j)
            E = np.asarray(arr["edges"], dtype=np.int64).reshape(-1, 2)
        else:
            E = np.array([(min(i, j), max(i, j)) for i, j, _ in dec.edges], dtype=np.int64).reshape(-1, 2)
        given = np.unique(E[:, 0] * n + E[:, 1])
        missing = [(int(k // n), int(k % n)) for k in np.setdiff1d(pairs, given, assume_unique=True)]
        extra = [(int(k // n), int(k % n)) for k in np.setdiff1d(given, pairs, assume_unique=True)]
        record("edges", not missing and not extra,
               (f"missing facet neighbours {_first(missing)}" if missing else "")
               + ("; " if missing and extra else "")
               + (f"edges without a shared facet {_first(extra)}" if extra else ""))
        if K.box is None:
            vol = float(K.volumes().sum())
            dvol = float(dec.domain.volume())
            cert.volume_sum, cert.domain_volume = vol, dvol
            record("volume", abs(vol - dvol) <= VOLUME_RTOL * dvol,
                   f"region volumes sum to {vol!r}, the domain's volume is {dvol!r}")
        chi = K.euler_characteristic()
        cert.f_vector, cert.euler_characteristic = K.f_vector(), chi
        want, what = _domain_euler(dec.domain, d)
        record("euler_characteristic", chi == want,
               f"the complex has Euler characteristic {chi}, {what} has {want} (f-vector {K.f_vector()})")
    if exact:
        cert.exact = exact_check(dec)
        dis = cert.exact["disagreements"]
        record("exact", not dis, f"{len(dis)} disagreements in rational arithmetic, first: "
                                 f"{dis[0] if dis else ''}")
    cert.complete = all(checks.values())
    return cert


def _shared_patterns(dec):
    """The regions (smallest index of each group) whose pattern another region shares:
    patterns packed into 64-bit words, hashed and sorted; only rows whose hashes tie are
    compared in full."""
    arr = getattr(dec, "_arrays", {}) or {}
    P = np.asarray(arr["patterns"] if "patterns" in arr else dec.patterns, dtype=bool)
    n = len(P)
    if n < 2:
        return []
    nb = (P.shape[1] + 63) // 64 * 8
    B = np.zeros((n, max(nb, 8)), dtype=np.uint8)
    B[:, : (P.shape[1] + 7) // 8] = np.packbits(P, axis=1, bitorder="little")
    Wd = B.view(np.uint64)
    key = Wd[:, 0].copy()
    for j in range(1, Wd.shape[1]):  # wrapping arithmetic: a hash of the words
        key = (key ^ Wd[:, j]) * _GOLDEN
    order = np.argsort(key, kind="stable")
    ks = key[order]
    tie = np.flatnonzero(ks[1:] == ks[:-1])
    if not len(tie):
        return []
    rows = np.unique(np.concatenate([order[tie], order[tie + 1]]))
    _, first, cnt = np.unique(Wd[rows], axis=0, return_index=True, return_counts=True)
    return sorted(rows[first[cnt > 1]].tolist())


@_njit
def _witness_outside(A, b, roff, wit):
    """Per region: whether its witness fails to satisfy one of its rows strictly."""
    n = roff.shape[0] - 1
    out = np.zeros(n, np.bool_)
    for r in range(n):
        for i in range(roff[r], roff[r + 1]):
            s = -b[i]
            for k in range(A.shape[1]):
                s += A[i, k] * wit[r, k]
            if s >= 0.0:
                out[r] = True
    return out


def _domain_euler(domain, d):
    """The Euler characteristic ``sum_k (-1)^k f_k`` of any complex tiling the domain
    (with compact support): 1 for a bounded convex domain, ``(-1)^d`` for all of R^d, 0 for
    an unbounded pointed polyhedron."""
    if domain is None:
        return (-1) ** d, "all of R^d"
    if domain.bounded:
        return 1, "a bounded convex domain"
    return 0, "an unbounded polyhedron"


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


def _gamma(n):
    """Higham's gamma_n = n u / (1 - n u): the relative error bound of an n-term float64 dot product."""
    u = 2.0 ** -53
    return n * u / (1.0 - n * u)


#: Absolute error allowance per float64 operation for underflow (above the subnormal spacing).
_TINY = 1e-320
#: Regions per batch of the float64 filter.
_FILTER_CHUNK = 8192


def _gram_shift(G, inner):
    """Rounding-error bound of forming the Gram matrices G (n, k, k) (dot products of
    length ``inner``) and factorising them, as in :func:`polyrank.rank.certificate_shift` (times
    k more): ``safety * k (inner + 2k + 2) eps trace``."""
    k = G.shape[-1]
    return EXACT_FILTER_SAFETY * k * (inner + 2 * k + 2) * 2.0 ** -52 * np.trace(G, axis1=1, axis2=2) + _TINY


def _cholesky_ok(G, delta):
    """Whether ``G - delta I`` (a stack) has a Cholesky factorisation, matrix by matrix."""
    n, k, _ = G.shape
    L = np.zeros_like(G)
    ok = np.ones(n, dtype=bool)
    for a in range(k):
        for q in range(a + 1):
            acc = G[:, a, q] - (delta if a == q else 0.0) - (L[:, a, :q] * L[:, q, :q]).sum(axis=1)
            if a == q:
                ok &= acc > 0.0
                L[:, a, a] = np.sqrt(np.where(acc > 0.0, acc, 1.0))
            else:
                L[:, a, q] = acc / L[:, q, q]
    return ok & np.isfinite(L).all(axis=(1, 2))


def _float_filter(net, K, X, P, ranks, Ad, bd):
    """The cheap half of :func:`exact_check`: a forward pass and the maps ``A_l`` in
    float64 with rigorous entrywise error bounds (Higham's gamma_n, times
    ``EXACT_FILTER_SAFETY``). Returns per region whether everything was settled in
    agreement with the engine (then the rational re-check would find nothing). A sign is settled when
    ``|z| > safety * bound``; a rank when it equals the upper bound min(d, active units
    of every layer so far) and a shifted Cholesky factorisation of the Gram matrix proves
    the ``upper``-th singular value above the bound on ``|A - A_float|`` (Weyl). Anything
    else (a witness on a facet, a rank below the bound, a disagreement) is left to
    rational arithmetic, which reports it exactly."""
    S = EXACT_FILTER_SAFETY
    n, d = X.shape
    decided = np.ones(n, dtype=bool)
    offsets = np.concatenate([[0], np.cumsum(net.widths[:K])])
    if Ad is not None and len(bd):
        r = X @ Ad.T - bd
        e = _gamma(d + 1) * (np.abs(X) @ np.abs(Ad).T + np.abs(bd)) + (d + 1) * _TINY
        sure = np.abs(r) > S * e
        decided &= (sure & (r < 0)).all(axis=1)
    h, eh = X, np.zeros_like(X)
    A = np.broadcast_to(np.eye(d), (n, d, d))
    EA = np.zeros((n, d, d))
    upper = np.full(n, d)
    for l in range(K):
        W, b = np.asarray(net.weights[l]), np.asarray(net.biases[l])
        aW = np.abs(W)
        fan = W.shape[1] + 1
        p = P[:, offsets[l]: offsets[l + 1]]
        z = h @ W.T + b
        ez = (eh @ aW.T + _gamma(fan) * (np.abs(h) @ aW.T + np.abs(b))) * (1 + 4 * _gamma(fan)) + fan * _TINY
        sure = (np.abs(z) > S * ez) & np.isfinite(z)
        decided &= (sure & np.where(p, z > 0, z < 0)).all(axis=1)
        h, eh = np.where(p, z, 0.0), np.where(p, ez, 0.0)
        # A_l = D_l W_l A_{l-1}, with |A_exact - A| <= EA entrywise
        M = np.matmul(W, A)
        EM = np.matmul(aW, EA + _gamma(fan) * np.abs(A)) * (1 + 4 * _gamma(fan)) + fan * _TINY
        A, EA = M * p[:, :, None], EM * p[:, :, None]
        c = p.sum(axis=1)
        upper = np.minimum(upper, c)
        fin = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(EA).all(axis=(1, 2))
        rk = ranks[:, l]
        err2 = (S * S) * (EA ** 2).sum(axis=(1, 2))  # (safety * |A - A_float|_F)^2
        settled = (rk == upper) & (upper == 0)
        # rank >= upper when sigma_upper(A_float) > safety |A - A_float| (Weyl): a Cholesky
        # factorisation of the Gram matrix shifted by that squared plus its rounding bound
        col = (rk == upper) & (upper == d) & (upper > 0) & fin
        if col.any():
            Ac = A[col]
            G = np.matmul(Ac.transpose(0, 2, 1), Ac)
            settled[col] = _cholesky_ok(G, _gram_shift(G, Ac.shape[1]) + err2[col])
        row = (rk == upper) & (upper == c) & (upper < d) & (upper > 0) & fin
        if row.any():
            Ar, pr_ = A[row], p[row]
            G = np.matmul(Ar, Ar.transpose(0, 2, 1))
            shift = _gram_shift(G, d) + err2[row]
            idx = np.arange(G.shape[1])
            G[:, idx, idx] += np.where(pr_, 0.0, shift[:, None] + 1.0)  # inactive rows: identity
            settled[row] = _cholesky_ok(G, shift)
        decided &= settled
    return decided


def exact_check(dec, *, backend=None, filter=True) -> dict:
    """Re-check every region in exact rational arithmetic.

    float64 weights, biases and witnesses are dyadic rationals, so the forward pass at a
    witness and the local affine maps ``A_K`` can be computed without rounding. For every
    region this confirms that the witness lies strictly inside (every active unit has a
    positive pre-activation, every inactive unit a negative one, or is identically zero on
    the region) and that ``rank(A_K)`` equals the reported rank at every layer K.

    With ``filter`` (the default) every region is first checked in float64 with rigorous
    error bounds, all regions at once: a sign is settled when the float value clears its
    rounding-error bound (Higham's gamma_n, times ``EXACT_FILTER_SAFETY``); a rank when it
    equals min(d, active units of every layer so far), an upper bound, and a shifted
    Cholesky factorisation of the Gram matrix proves that many singular values above the
    bound on the map's error (Weyl). A region settled this way agrees with the engine in
    exact arithmetic; every other one (a witness on a facet, a rank drop, a disagreement)
    is redone in rationals, which report each disagreement exactly. The answer is the
    same as without the filter.

    Parameters
    ----------
    backend : {None, "flint", "fractions"}
        Rational arithmetic: None: python-flint when it is installed, else Python fractions.
    filter : bool, default True
        Settle what the float64 error bounds settle; False: every region in rationals.

    Returns
    -------
    dict with ``disagreements`` (list of dicts), ``seconds``, ``seconds_per_region``,
    ``n_regions``, ``n_exact`` (regions redone in rationals) and ``backend``.

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
    t0 = time.perf_counter()
    net, K = dec.net, dec.layer
    regions = dec.regions
    n = len(regions)
    dom = dec.domain
    out = []
    todo = list(range(n))
    if filter and n:
        X = _flat_rows(dec)[3]
        P = dec.patterns.reshape(n, -1)
        ranks = np.stack([dec.ranks(l + 1) for l in range(K)], axis=1).astype(np.int64).reshape(n, K)
        Ad = None if dom is None else np.asarray(dom.A, dtype=np.float64)
        bd = None if dom is None else np.asarray(dom.b, dtype=np.float64)
        decided = np.zeros(n, dtype=bool)
        for s in range(0, n, _FILTER_CHUNK):  # bounded memory: (chunk, units, d) maps
            sl = slice(s, min(n, s + _FILTER_CHUNK))
            decided[sl] = _float_filter(net, K, X[sl], P[sl], ranks[sl], Ad, bd)
        todo = np.flatnonzero(~decided).tolist()
    if todo:
        out += _exact_regions(ops, net, K, dom, [regions[i] for i in todo])
    out.sort(key=lambda x: (x["region"], x["layer"], -1 if x["unit"] is None else x["unit"]))
    secs = time.perf_counter() - t0
    return dict(disagreements=out, seconds=secs, seconds_per_region=secs / max(n, 1), n_regions=n,
                n_exact=len(todo), backend=ops.name + (" behind a float64 filter" if filter else ""))


def _exact_regions(ops, net, K, dom, regions):
    """The rational re-check of :func:`exact_check`, region by region."""
    Ws = [ops.mat(W) for W in net.weights[:K]]
    bs = [ops.col(b) for b in net.biases[:K]]
    d = net.input_dim
    I = ops.mat(np.eye(d))
    if dom is not None:
        Ad, bd = ops.mat(np.asarray(dom.A)), ops.col(np.asarray(dom.b))
    offsets = np.concatenate([[0], np.cumsum(net.widths[:K])])
    out = []
    for r in regions:
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
    return out
