"""The subdivision engine: exact region enumeration for input dimension 1-10 without LPs.

The domain (a padded cell complex) is cut layer by layer, neuron by neuron
(``docs/subdivision.md``). Every cell carries its vertices,
for each vertex the set of hyperplanes through it (a bitset), its edges and its
candidate facet hyperplanes. A neuron's pre-activation is affine on every cell of
the previous layer's complex, so it is evaluated at the vertices; when it changes
sign, each crossing edge is cut by linear interpolation, and both halves of the
cell are built in one pass. The edges of the cut face come from the vertex-facet
incidences (two vertices of a polytope span an edge iff no third vertex lies on
every facet through both). Facets, witnesses, H-representations, ranks and the
adjacency graph are then read off the final cells.

The hot loops are compiled with numba when it is installed (``cache=True``: the
first call in a fresh environment pays about a minute of compilation, and the first
call on several threads about as much again for the parallel drivers; later processes
load the cache in ~2 s); without numba the same code runs as plain Python, correctly
but slowly.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import time
from math import comb

import numpy as np

from ._numerics import (CROSSING_MIN_TOLS, CROSSING_STEPS, DEFAULT_MAX_REGIONS, DEFAULT_TOL, SLIVER_MIN,
                        ZERO_ROW_RTOL, apply_dead_layer_tails, dead_layer_tails, first_layer_gap, local_frame,
                        local_network, precision_notes, release_heap, scaled_units, warn_precision,
                        zero_thresholds)
from ._validation import check_frame, check_layer, check_positive_int, check_tol
from .domain import Polytope, as_domain
from .exceptions import BoxPrecisionError, MemoryBudgetError, RegionLimitError
from .network import as_network
from .rank import RANK_CHUNK, batched_ranks, certificate_shift, cholesky_full_rank
from .regions import Decomposition, Region

__all__ = ["enumerate_subdivision", "applies", "DEFAULT_MAX_MEMORY", "VERTEX_SNAP", "ON_FACET_SNAPS",
           "SUBDIVISION_MAX_DIM", "AUTO_MAX_DIM", "AUTO_MIN_UNITS", "AUTO_MAX_DIM_UNBOUNDED", "DEFAULT_N_JOBS",
           "n_threads"]

#: Default memory budget (bytes) of one subdivision run; see ``max_memory``.
DEFAULT_MAX_MEMORY = 8 * 2 ** 30
#: A vertex closer than this to a hyperplane (relative to the size of the initial
#: cell) is treated as lying on it: this is what makes degenerate positions
#: (hyperplanes through a vertex, several hyperplanes through a point, duplicated
#: neurons) come out as exact incidences rather than slivers.
VERTEX_SNAP = 1e-11
#: A unit whose hyperplane is within this many vertex snaps (VERTEX_SNAP times the length
#: scale) of a facet's centre passes through it (the neighbour rule); vertices on a
#: hyperplane are within one snap of it, so their centroid is too.
ON_FACET_SNAPS = 100
#: Largest input dimension the engine accepts (beyond it cells have thousands of vertices).
SUBDIVISION_MAX_DIM = 10
#: ``method="auto"`` uses the engine up to this input dimension over a bounded domain
#: (the measured crossover against the LP engine, docs/subdivision.md) ...
AUTO_MAX_DIM = 10
#: ... where networks of dimension d need at least ``AUTO_MIN_UNITS[d]`` hidden units
#: (10-D, 4 units: the LP engine took 0.7x the subdivision's time; 8 + 8 units: 4x) ...
AUTO_MIN_UNITS = {10: 16}
#: ... and up to this one over all of R^d (per region, 8-D 8-8 and 16: the LP engine took 4.9x and
#: 9.1x as long; 9-D 8 units: 0.7x, 12 units: 1.6x; 10-D 8 units: 0.1x; docs/subdivision.md).
AUTO_MAX_DIM_UNBOUNDED = 8
#: With ``domain=None`` the box is grown until every vertex found lies within this
#: fraction of the box's half-width.
BOX_MARGIN = 0.5
#: Over an unbounded domain the engine cuts cells whose edges reach the box ``[-R, R]^d``,
#: and a vertex found on such an edge carries a rounding error of about ``eps * 2R`` (local
#: units), near the origin too. When this many times that error exceeds ``tol``, regions
#: thicker than ``tol`` may be merged into a neighbour without being counted (a 4-10-10-10
#: network over R^4 needed R = 2.9e13: 9 regions of inradius 5e-5 to 1e-3 were lost; in boxes
#: of growing size, with tol fixed in local units, losses began between R = 4e6 and 1.3e7,
#: i.e. eps * 2R between 1.7e-9 and 5.8e-9 against tol = 1e-9): the decomposition is then
#: marked ``precision_limited`` with a note, and ``method="auto"`` uses the LP engine instead.
BOX_ROUNDING_SAFETY = 2.0
#: Over an unbounded domain every region's witness is checked to give the region's pattern
#: (one forward pass); a region that does not contain its witness marks the result
#: ``precision_limited`` (``method="auto"`` then runs the LP engine). A unit whose
#: pre-activation there is within this fraction of the sum of its terms' magnitudes is not
#: counted against the region: rounding decides its sign (a unit that is 0 on the whole
#: region, as integer weights make, comes out at +-1e-9 at a point 1e7 out).
WITNESS_RTOL = 1e-12
#: Vertices within this many snaps of a domain facet lie on it (qhull's accuracy).
DOMAIN_VERTEX_SNAPS = 1e3
#: A subset of first-layer unit normals is independent when its smallest singular value
#: exceeds this fraction of its largest (hyperplanes at an angle above ~1e-12 radians).
FLAT_SV_RTOL = 1e-12
#: The box that bounds an outside cell's extent is this many times the current box.
OUTSIDE_BOX_FACTOR = 1e6
#: A vertex at this fraction of that box's half-width or beyond is the box's own corner or
#: edge (the polyhedron is unbounded there), not a vertex of the polyhedron.
OUTSIDE_BOX_REACH = 0.999
#: The box check skips qhull for a cell whose polyhedron is certified to have no vertex
#: outside the box (:func:`_ray_certificates`) when its vertices stay this far (relative to
#: the box's half-width) below what the check must exceed to matter.
OUTSIDE_SKIP_RTOL = 1e-6
#: A cell edge leaving the box continues as a ray when every row not through it decreases
#: along it by more than this fraction of its length (rows are unit normals) ...
RAY_RTOL = 1e-7
#: ... and the edge is longer than this fraction of the box's half-width.
RAY_MIN_RTOL = 1e-6
#: A region reached across a degenerate facet is adjacent only if the facet's centre is
#: within this (relative to the length scale) of its closure.
CLOSURE_RTOL = 1e-8
#: Over all of R^d, input dimensions from ``FACE_MIN_DIM`` to ``FACE_MAX_DIM`` check the first
#: box through the subdivisions of its faces (:func:`_face_vertex_extent`) instead of its own ...
FACE_MIN_DIM = 2
FACE_MAX_DIM = 4
#: ... and skip its subdivision when a vertex lies this far (relative) beyond it.
FACE_MARGIN_RTOL = 1e-6
#: A crossing edge's direction (the cofactors of d - 1 unit normals) is trusted when its
#: norm (the volume they span) exceeds this.
FACE_RAY_SV_RTOL = 1e-6
#: The faces' check screens the polyhedra with a compiled cut (:func:`_clip_extents`; a
#: vertex within this of a row, relative to its size, lies on it, at most this many
#: vertices) and runs qhull on those within ``CLIP_SCREEN_RTOL`` of the largest extent.
CLIP_SNAP_RTOL = 1e-11
CLIP_MAX_VERTICES = 4096
CLIP_SCREEN_RTOL = 1e-4
#: Largest number of layer-1 vertex candidates (d-subsets of units) used to size the box.
_MAX_SUBSETS = 200_000
#: Rough memory of one finished Region (Python object, arrays, tuples), in bytes.
_REGION_BYTES = 1500

try:  # numba is optional: it must never be needed to import polyrank
    import numba as _numba

    _njit = _numba.njit(cache=True, nogil=True)
    # small helpers called once per cut or per cell: inlined into the kernels (no call,
    # no reference counting of their array arguments)
    _njit_inline = _numba.njit(cache=True, nogil=True, inline="always")
    # the drivers that split a small pass over numba's own threads (see _omp_threads)
    _njit_par = _numba.njit(cache=True, nogil=True, parallel=True)
    _prange = _numba.prange
    from numba.typed import List
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False

    def _njit(f):
        return f

    _njit_inline = _njit_par = _njit
    _prange = range
    List = list
try:  # the index of the lowest set bit of a non-zero uint64 (one instruction)
    from numba.cpython.unsafe.numbers import trailing_zeros as _ctz
except ImportError:  # pragma: no cover - without numba, or a numba without it
    _ctz = None


# ---------------------------------------------------------------------------- kernels
@_njit_inline
def _subset(common, Fw):
    for k in range(common.shape[0]):
        if common[k] & ~Fw[k]:
            return False
    return True


@_njit_inline
def _grow2(a, need):
    """``a`` (2-D) with at least ``need`` rows: itself, or a copy with doubled capacity
    (compiled once per dtype)."""
    if need <= a.shape[0]:
        return a
    b = np.empty((max(need, 2 * a.shape[0]), a.shape[1]), a.dtype)
    b[: a.shape[0]] = a
    return b


@_njit_inline
def _grow_i1(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    b[: a.shape[0]] = a
    return b


@_njit_inline
def _popcount(x):
    """Number of set bits of a uint64 (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


if _ctz is None:  # pragma: no cover
    @_njit_inline
    def _ctz(x):
        return _popcount((x & (~x + np.uint64(1))) - np.uint64(1))


@_njit
def _edges_from_incidences(FF, kf, d, FE, common, nbr):
    """The edges of a d-polytope with vertices ``0..kf-1`` and vertex-facet incidence
    bitsets ``FF`` (into ``FE``): two vertices span an edge iff no third vertex lies on
    every facet through both.

    An edge of a d-polytope lies on at least d - 1 facets, so only pairs sharing at
    least d - 1 can span one; and a third vertex on every facet through such a pair
    shares them too. So for each vertex ``i`` the list ``nbr`` of the vertices sharing
    at least d - 1 facets with it holds every candidate partner and every possible third
    vertex: the test costs O(k^2) bitset operations plus scans of these short lists,
    instead of O(k^3) (k = ``kf``; in 8-D and above k reaches hundreds). The edges come
    out ordered by ``i``, then partner. Returns their number."""
    W = FF.shape[1]
    nfe = 0
    for i in range(kf):
        nn = 0  # the vertices sharing at least d - 1 facets with i, in increasing order
        for m in range(kf):
            if m == i:
                continue
            cnt = 0
            for w in range(W):
                cnt += _popcount(FF[i, w] & FF[m, w])
            if cnt >= d - 1:
                nbr[nn] = m
                nn += 1
        for t in range(nn):
            i2 = nbr[t]
            if i2 <= i:
                continue
            for w in range(W):
                common[w] = FF[i, w] & FF[i2, w]
            ok = True
            for t2 in range(nn):
                m = nbr[t2]
                if m != i2 and _subset(common, FF[m]):
                    ok = False
                    break
            if ok:
                FE[nfe, 0] = i
                FE[nfe, 1] = i2
                nfe += 1
    return nfe


@_njit_inline
def _cut_face(LF, qv, nv, sg, NF, ncross, hw, hb, FF, zidx, FE, common, d, nbr):
    """The vertices of the cut face (the piece's vertices on the hyperplane, ids in
    ``zidx``, then the new ones), their bitsets in ``FF``, and its edges in ``FE``
    (:func:`_edges_from_incidences`; the face is (d-1)-dimensional and every bitset
    holds the cut, so its edges are the pairs on d - 1 common facets with no third
    vertex on all of them). Returns the number of edges.

    Inlined into the layer kernel, once per cut: as a call it took 12 % of the 2-D
    kernel (2-16-16-16: 1.05 -> 0.92 ms; 3-D and 4-D 3 %). Inlining the incidence test
    too, a 2-D shortcut for the segment, element loops for the slice copies or a quick
    reject in the coincidence test each made the kernel 5-15 % slower (code layout)."""
    W = LF.shape[1]
    nz = 0
    for i in range(nv):
        if sg[i] == 0:
            zidx[nz] = i
            for w in range(W):
                FF[nz, w] = LF[qv + i, w]
            FF[nz, hw] |= hb
            nz += 1
    for k2 in range(ncross):
        for w in range(W):
            FF[nz + k2, w] = NF[k2, w]
    return _edges_from_incidences(FF, nz + ncross, d, FE, common, nbr)


@_njit
def _polytope_edges(F, d):
    """All edges of a d-polytope from its vertex-facet incidence bitsets ``F``."""
    n = F.shape[0]
    FE = np.empty((max(1, n * (n - 1) // 2), 2), np.int64)
    nfe = _edges_from_incidences(F, n, d, FE, np.empty(F.shape[1], np.uint64), np.empty(max(1, n), np.int64))
    return FE[:nfe].copy()


# ------------------------------------------------------------ one layer
#: The quick side test of :func:`_layer_kernel` decides that a neuron does not cut a
#: cell when its value at the vertex centroid exceeds its change over the ball holding
#: the vertices (radius and coordinates enlarged by this fraction) plus the snap and this
#: fraction of the magnitudes summed: far above the float64 rounding (~1e-16 per term) of
#: both evaluations, so it answers as the vertex-by-vertex test does.
SIDE_QUICK_RTOL = 1e-12
#: A neuron's hyperplane (a, c) coincides on a cell with one of the cell's candidate facet
#: rows when the two, scaled to unit normals, agree to this relative tolerance (normals up
#: to sign, offsets relative to 1 + |offset|). Duplicated units and integer weights make
#: such pairs; the cut then takes its sides from the candidate's vertex bits, because the
#: vertices on the candidate were interpolated along edges whose length (not the vertex
#: magnitude the snap scales with) sets their rounding, and the snap alone would cut a
#: sliver off the cell and split the shared facet's vertices between the two ids.
COINCIDENT_RTOL = 1e-12


@_njit_inline
def _coincident_row(LR, qc, nc, a, c, nrm, rtol):
    """The first of a piece's candidate rows ``LR[qc:qc + nc]`` whose hyperplane is the
    hyperplane a.x + c = 0 (``nrm`` = |a|) within ``rtol``, or -1."""
    d = a.shape[0]
    for g in range(nc):
        r2 = 0.0
        dot = 0.0
        for k in range(d):
            r2 += LR[qc + g, k] * LR[qc + g, k]
            dot += LR[qc + g, k] * a[k]
        rn = math.sqrt(r2)
        if rn == 0.0 or abs(abs(dot) - rn * nrm) > rtol * rn * nrm:
            continue
        sgn = 1.0 if dot > 0 else -1.0
        ok = True
        for k in range(d):
            if abs(a[k] / nrm - sgn * LR[qc + g, k] / rn) > rtol:
                ok = False
                break
        off = c / nrm
        if ok and abs(off - sgn * LR[qc + g, d] / rn) <= rtol * (1.0 + abs(off)):
            return g
    return -1


@_njit_inline
def _vertex_sides(LV, qv, nv, a, c, nrm, snap, floor, vals, sg):
    """A neuron ``a.x + c`` (``nrm`` = |a|) at a piece's vertices ``LV[qv:qv + nv]``: its
    values into ``vals``, their sides into ``sg`` (+1, -1, or 0 within ``snap`` times the
    vertex's magnitude, at least ``floor``, of the hyperplane). Returns the numbers of
    vertices strictly on the positive and on the negative side."""
    npos = 0
    nneg = 0
    for i in range(nv):
        acc = c
        mag = floor
        for k in range(a.shape[0]):
            x = LV[qv + i, k]
            acc += a[k] * x
            mag = max(mag, abs(x))
        vals[i] = acc
        dist = acc / nrm
        eps = snap * mag
        if dist > eps:
            sg[i] = 1
            npos += 1
        elif dist < -eps:
            sg[i] = -1
            nneg += 1
        else:
            sg[i] = 0
    return npos, nneg


@_njit_inline
def _coincident_sides(LR, LC, LF, qc, nc, qv, nv, a, c, nrm, sg, npos, nneg):
    """The counts of a piece's vertices strictly on each side of a hyperplane that cuts
    it (``npos``, ``nneg``), unless one of its candidate rows is that hyperplane
    (:func:`_coincident_row`): the candidate's vertices are then on the cut, and when
    every other vertex is on one side the piece is not cut (the counts without them)."""
    g = _coincident_row(LR, qc, nc, a, c, nrm, COINCIDENT_RTOL)
    if g >= 0:
        gid = LC[qc + g]
        gw = gid >> 6
        gb = np.uint64(1) << np.uint64(gid & 63)
        p2 = 0
        n2 = 0
        for i in range(nv):
            if not LF[qv + i, gw] & gb:
                if sg[i] > 0:
                    p2 += 1
                elif sg[i] < 0:
                    n2 += 1
        if p2 == 0 or n2 == 0:
            return p2, n2
    return npos, nneg


@_njit
def _layer_kernel(V, F, voff, E, eoff, Cid, Crow, coff, H, unit_base, zero_thr, zero_abs, snap,
                  floor, max_bytes, used, grow):
    """Cut every cell by every neuron of one layer (hyperplanes ``H[cell]``).

    Each cell of the previous complex is cut neuron by neuron; its pieces live in flat
    pools (vertices with their hyperplane bitsets, edges, candidate facet rows) that are
    reused from cell to cell, so a cut allocates nothing. A neuron whose pre-activation
    does not change sign at the cell's vertices cuts none of its pieces (it is affine
    on the cell) and is skipped. A cut evaluates the neuron at the piece's vertices,
    interpolates the crossing edges, finds the edges of the cut face from the
    vertex-facet incidences (two vertices span an edge iff no third vertex lies on
    every facet through both) and writes both halves, with the candidate facets that
    keep at least d vertices.

    ``used[0]`` counts the bytes written, shared by the calls that run on chunks of
    one layer in parallel (:func:`_layer`); past ``max_bytes`` the call stops. The
    outputs start at ``grow`` times the inputs' sizes (and double when full).

    Returns the children in the same concatenated layout, their parent cell, their
    bits for this layer, and a flag that is 1 when ``max_bytes`` was exceeded."""
    ncells = voff.shape[0] - 1
    d = V.shape[1]
    W = F.shape[1]
    d1 = d + 1
    nl = H.shape[1]
    # pools of the pieces of the current cell
    LV = np.empty((256, d))
    LF = np.empty((256, W), np.uint64)
    LE = np.empty((256, 2), np.int32)  # local vertex ids (a cell has far fewer than 2^31)
    LC = np.empty(64, np.int32)  # hyperplane ids (units and domain rows)
    LR = np.empty((64, d1))
    pv = np.empty(16, np.int64)  # piece -> first vertex, count, first edge, count, first row, count
    pnv = np.empty(16, np.int64)
    pe = np.empty(16, np.int64)
    pne = np.empty(16, np.int64)
    pc = np.empty(16, np.int64)
    pnc = np.empty(16, np.int64)
    PB = np.zeros((16, nl), np.bool_)
    act = np.empty(16, np.int64)
    nxt = np.empty(16, np.int64)
    # scratch of one cut
    vals = np.empty(64)
    sg = np.empty(64, np.int64)
    mp = np.empty(64, np.int64)
    cross = np.empty(64, np.int64)
    NV = np.empty((64, d))
    NF = np.empty((64, W), np.uint64)
    FF = np.empty((64, W), np.uint64)
    zidx = np.empty(64, np.int64)
    FE = np.empty((64, 2), np.int64)
    common = np.empty(W, np.uint64)
    nbr = np.empty(64, np.int64)
    # outputs
    mv = max(16, int(grow * V.shape[0]))
    me = max(16, int(grow * E.shape[0]))
    mc = max(16, int(grow * Cid.shape[0]))
    mn = max(16, int(grow * ncells))
    oV = np.empty((mv, d))
    oF = np.empty((mv, W), np.uint64)
    oE = np.empty((me, 2), np.int32)
    oC = np.empty(mc, np.int32)
    oR = np.empty((mc, d1))
    oB = np.empty((mn, nl), np.bool_)
    oP = np.empty(mn, np.int64)
    vo = np.zeros(mn + 1, np.int64)
    eo = np.zeros(mn + 1, np.int64)
    co = np.zeros(mn + 1, np.int64)
    n = 0
    over = 0
    a = np.empty(d)
    ctr = np.empty(d)
    for p in range(ncells):
        v0 = voff[p]
        nv0 = voff[p + 1] - v0
        e0 = eoff[p]
        ne0 = eoff[p + 1] - e0
        c0 = coff[p]
        nc0 = coff[p + 1] - c0
        # piece 0: the cell itself
        LV = _grow2(LV, nv0)
        LF = _grow2(LF, nv0)
        LE = _grow2(LE, ne0)
        LC = _grow_i1(LC, nc0)
        LR = _grow2(LR, nc0)
        LV[:nv0] = V[v0: v0 + nv0]
        LF[:nv0] = F[v0: v0 + nv0]
        LE[:ne0] = E[e0: e0 + ne0]
        LC[:nc0] = Cid[c0: c0 + nc0]
        LR[:nc0] = Crow[c0: c0 + nc0]
        tv, te, tc = nv0, ne0, nc0  # pool tops
        pv[0], pnv[0], pe[0], pne[0], pc[0], pnc[0] = 0, nv0, 0, ne0, 0, nc0
        PB[0, :] = False
        npieces = 1
        act[0] = 0
        nact = 1
        # the cell's vertex centroid, the radius of the ball around it that holds the
        # vertices, and their largest |coordinate| (for the snap), for the quick side test
        for k in range(d):
            ctr[k] = 0.0
        for i in range(v0, v0 + nv0):
            for k in range(d):
                ctr[k] += V[i, k]
        for k in range(d):
            ctr[k] /= nv0
        crad = 0.0
        cmag = floor
        for i in range(v0, v0 + nv0):
            cacc = 0.0
            for k in range(d):
                cx = V[i, k]
                cacc += (cx - ctr[k]) * (cx - ctr[k])
                cmag = max(cmag, abs(cx))
            crad = max(crad, cacc)
        crad = math.sqrt(crad) * (1.0 + SIDE_QUICK_RTOL) + SIDE_QUICK_RTOL * cmag
        for j in range(nl):
            nrm2 = 0.0
            for k in range(d):
                a[k] = H[p, j, k]
                nrm2 += a[k] * a[k]
            c = H[p, j, d]
            nrm = math.sqrt(nrm2)
            if nrm <= zero_thr:
                flag = c > zero_abs
                for t in range(nact):
                    PB[act[t], j] = flag
                continue
            # the pre-activation is affine on the cell: a neuron that does not change
            # sign at the cell's vertices cuts none of its pieces. Quick test first: its
            # value at the centroid farther from 0 than its change over the ball holding
            # the vertices, plus the snap and rounding, decides the side of every vertex
            # as the vertex-by-vertex test below would (see SIDE_QUICK_RTOL); else that test
            vc = c
            for k in range(d):
                vc += a[k] * ctr[k]
            reach = nrm * (crad + snap * cmag) + SIDE_QUICK_RTOL * (abs(c) + nrm * d * cmag)
            if vc > reach:
                st = 1
            elif vc < -reach:
                st = 0
            else:  # the vertices' sides (with the snap): 0 none strictly positive, 1 none negative, 2 both
                npos = 0
                nneg = 0
                for i in range(v0, v0 + nv0):
                    acc = c
                    mag = floor
                    for k in range(d):
                        acc += a[k] * V[i, k]
                        mag = max(mag, abs(V[i, k]))
                    dist = acc / nrm
                    eps = snap * mag
                    if dist > eps:
                        npos += 1
                    elif dist < -eps:
                        nneg += 1
                    if npos > 0 and nneg > 0:
                        break
                st = 2 if npos > 0 and nneg > 0 else (1 if npos > 0 else 0)
            if st < 2:
                for t in range(nact):
                    PB[act[t], j] = st == 1
                continue
            hid = unit_base + j
            hw = hid >> 6
            hb = np.uint64(1) << np.uint64(hid & 63)
            nn = 0
            nxt = _grow_i1(nxt, 2 * nact)
            for t in range(nact):
                q = act[t]
                qv, nv, qe, ne, qc, nc = pv[q], pnv[q], pe[q], pne[q], pc[q], pnc[q]
                if nv > vals.shape[0]:
                    vals = np.empty(2 * nv)
                    sg = np.empty(2 * nv, np.int64)
                    mp = np.empty(2 * nv, np.int64)
                # --- the piece's vertices: a.x + c (into vals) and their sides (into sg: +1,
                # -1, or 0 within snap times the vertex magnitude of the hyperplane)
                npos, nneg = _vertex_sides(LV, qv, nv, a, c, nrm, snap, floor, vals, sg)
                if npos > 0 and nneg > 0:
                    npos, nneg = _coincident_sides(LR, LC, LF, qc, nc, qv, nv, a, c, nrm, sg, npos, nneg)
                if npos == 0 or nneg == 0:
                    PB[q, j] = npos > 0
                    nxt[nn] = q
                    nn += 1
                    continue
                # --- the cut: new vertices on the crossing edges
                cross = _grow_i1(cross, ne)
                # the edges whose ends have opposite signs, numbered (cross[e]; -1 for the others)
                ncross = 0
                for e in range(ne):
                    if sg[LE[qe + e, 0]] * sg[LE[qe + e, 1]] < 0:
                        cross[e] = ncross
                        ncross += 1
                    else:
                        cross[e] = -1
                NV = _grow2(NV, ncross)
                NF = _grow2(NF, ncross)
                # where they meet the hyperplane (into NV) and their facet bitsets: the
                # facets common to both ends plus the cut (into NF)
                for e in range(ne):
                    k2 = cross[e]
                    if k2 >= 0:
                        u = LE[qe + e, 0]
                        v = LE[qe + e, 1]
                        tt = vals[u] / (vals[u] - vals[v])
                        for k in range(d):
                            NV[k2, k] = LV[qv + u, k] + tt * (LV[qv + v, k] - LV[qv + u, k])
                        for w in range(W):
                            NF[k2, w] = LF[qv + u, w] & LF[qv + v, w]
                        NF[k2, hw] |= hb
                # the cut face: zero vertices, then the new ones; its edges from incidences
                nz = 0
                for i in range(nv):
                    if sg[i] == 0:
                        nz += 1
                kf = nz + ncross
                FF = _grow2(FF, kf)
                zidx = _grow_i1(zidx, nz)
                FE = _grow2(FE, kf * (kf - 1) // 2)
                nbr = _grow_i1(nbr, kf)
                nfe = _cut_face(LF, qv, nv, sg, NF, ncross, hw, hb, FF, zidx, FE, common, d, nbr)
                # --- the two halves, appended to the pools
                need_v = tv + 2 * (nv + ncross)
                need_e = te + 2 * (ne + nfe)
                need_c = tc + 2 * (nc + 1)
                LV = _grow2(LV, need_v)
                LF = _grow2(LF, need_v)
                LE = _grow2(LE, need_e)
                LC = _grow_i1(LC, need_c)
                LR = _grow2(LR, need_c)
                for sign in (1, -1):
                    if npieces + 1 > pv.shape[0]:
                        m2 = 2 * pv.shape[0]
                        pv = _grow_i1(pv, m2)
                        pnv = _grow_i1(pnv, m2)
                        pe = _grow_i1(pe, m2)
                        pne = _grow_i1(pne, m2)
                        pc = _grow_i1(pc, m2)
                        pnc = _grow_i1(pnc, m2)
                        PB = _grow2(PB, m2)
                    h = npieces
                    npieces += 1
                    # append the half on side `sign` at the pool tops tv, te, tc: its vertices
                    # (the piece's on that side or on the hyperplane, then the new ones), its
                    # edges (kept, shortened crossing edges, the cut face's) and its candidate
                    # facets (the piece's plus the cut, kept when they hold at least d vertices)
                    cnt = 0
                    for i in range(nv):
                        if sg[i] * sign >= 0:
                            mp[i] = cnt
                            for k in range(d):
                                LV[tv + cnt, k] = LV[qv + i, k]
                            for w in range(W):
                                LF[tv + cnt, w] = LF[qv + i, w]
                            if sg[i] == 0:
                                LF[tv + cnt, hw] |= hb
                            cnt += 1
                        else:
                            mp[i] = -1
                    ns = cnt + ncross
                    for k2 in range(ncross):
                        for k in range(d):
                            LV[tv + cnt + k2, k] = NV[k2, k]
                        for w in range(W):
                            LF[tv + cnt + k2, w] = NF[k2, w]
                    r = 0
                    for e in range(ne):
                        u = LE[qe + e, 0]
                        v = LE[qe + e, 1]
                        if sg[u] == 0 and sg[v] == 0:
                            continue
                        if sg[u] * sign >= 0 and sg[v] * sign >= 0:
                            LE[te + r, 0] = mp[u]
                            LE[te + r, 1] = mp[v]
                            r += 1
                        elif cross[e] >= 0:
                            keep = u if sg[u] == sign else v
                            LE[te + r, 0] = mp[keep]
                            LE[te + r, 1] = cnt + cross[e]
                            r += 1
                    for t2 in range(nfe):
                        i = FE[t2, 0]
                        i2 = FE[t2, 1]
                        LE[te + r, 0] = mp[zidx[i]] if i < nz else cnt + (i - nz)
                        LE[te + r, 1] = mp[zidx[i2]] if i2 < nz else cnt + (i2 - nz)
                        r += 1
                    nk = 0
                    for g in range(nc + 1):
                        gid = LC[qc + g] if g < nc else hid
                        gw = gid >> 6
                        gb = np.uint64(1) << np.uint64(gid & 63)
                        count = 0
                        for i in range(ns):
                            if LF[tv + i, gw] & gb:
                                count += 1
                        if count >= d:
                            if g < nc:
                                LC[tc + nk] = LC[qc + g]
                                for k in range(d + 1):
                                    LR[tc + nk, k] = LR[qc + g, k]
                            else:
                                LC[tc + nk] = hid
                                for k in range(d):
                                    LR[tc + nk, k] = sign * a[k]
                                LR[tc + nk, d] = sign * c
                            nk += 1
                    pv[h], pnv[h], pe[h], pne[h], pc[h], pnc[h] = tv, ns, te, r, tc, nk
                    for k in range(nl):
                        PB[h, k] = PB[q, k]
                    PB[h, j] = sign > 0
                    tv += ns
                    te += r
                    tc += nk
                    nxt[nn] = h
                    nn += 1
            act, nxt = nxt, act
            nact = nn
        # --- the cell's final pieces to the output
        need_n = n + nact
        if need_n + 1 > vo.shape[0]:
            m2 = max(need_n + 1, 2 * vo.shape[0])
            vo = _grow_i1(vo, m2)
            eo = _grow_i1(eo, m2)
            co = _grow_i1(co, m2)
            oB = _grow2(oB, m2)
            oP = _grow_i1(oP, m2)
        sv = 0
        se = 0
        sc = 0
        for t in range(nact):
            q = act[t]
            sv += pnv[q]
            se += pne[q]
            sc += pnc[q]
        oV = _grow2(oV, vo[n] + sv)
        oF = _grow2(oF, vo[n] + sv)
        oE = _grow2(oE, eo[n] + se)
        oC = _grow_i1(oC, co[n] + sc)
        oR = _grow2(oR, co[n] + sc)
        nbytes = 0
        for t in range(nact):
            # copy the finished piece q to output cell n (the outputs are large enough)
            q = act[t]
            x0 = vo[n]
            for i in range(pnv[q]):
                for k in range(d):
                    oV[x0 + i, k] = LV[pv[q] + i, k]
                for w in range(W):
                    oF[x0 + i, w] = LF[pv[q] + i, w]
            vo[n + 1] = x0 + pnv[q]
            x0 = eo[n]
            for i in range(pne[q]):
                oE[x0 + i, 0] = LE[pe[q] + i, 0]
                oE[x0 + i, 1] = LE[pe[q] + i, 1]
            eo[n + 1] = x0 + pne[q]
            x0 = co[n]
            for i in range(pnc[q]):
                oC[x0 + i] = LC[pc[q] + i]
                for k in range(d1):
                    oR[x0 + i, k] = LR[pc[q] + i, k]
            co[n + 1] = x0 + pnc[q]
            for k in range(nl):
                oB[n, k] = PB[q, k]
            oP[n] = p
            nbytes += pnv[q] * (d + W) * 8 + pne[q] * 8 + pnc[q] * (d1 * 8 + 4) + nl + 32
            n += 1
        used[0] += nbytes  # shared by parallel chunks: a lost update only delays the stop
        if used[0] > max_bytes:
            over = 1
            break
    # views of the grown buffers: :func:`_owned` copies them one at a time, freeing each buffer
    return (oV[: vo[n]], oF[: vo[n]], vo[: n + 1], oE[: eo[n]], eo[: n + 1], oC[: co[n]], oR[: co[n]],
            co[: n + 1], oB[:n], oP[:n], over)


#: The 2-D kernel's pools (:func:`_layer_kernel_2d`): vertices (and candidate rows) of the
#: pieces of one cell, pieces, and vertices of one piece. A cell that would need more (a
#: first layer of more than ~60 units cuts the domain into more pieces) goes to the general
#: kernel: pools that never grow keep numba's reference counting out of the cutting loops.
POOL_2D_VERTICES = 1 << 14
POOL_2D_PIECES = 1 << 11
POOL_2D_CORNERS = 256


@_njit
def _layer_kernel_2d(V, F, voff, E, eoff, Cid, Crow, coff, H, unit_base, zero_thr, zero_abs, snap,
                     floor, max_bytes, used, grow):
    """:func:`_layer_kernel` for input dimension 2, on polygons kept in cyclic vertex order.

    A piece is cut by walking its boundary once: each vertex goes to the side(s) it is on
    (both when it is on the line, within the snap), and each boundary edge whose ends have
    opposite signs gives one new vertex to both halves, so that no edge list, crossing-edge
    numbering or cut-face incidence test is needed (the general kernel's costs in 2-D). The
    sides, the snap, the quick side test, the coincident-row rule, the vertices' bitsets,
    the candidate rows and their order, the children's order, their bits and the byte budget
    are the general kernel's; its output's edges are the polygon's sides ``(i, i + 1)`` (the
    last one as ``(0, k - 1)``), and a new vertex is interpolated along the side in the
    polygon's cyclic order (the general kernel goes along its stored edge, so the two may
    differ in the last bit). A cell whose edges are not one cycle, that does not fit the
    pools (``POOL_2D_*``; they never grow, which keeps numba's reference counting out of the
    loops), or with a cut whose signs do not form one positive and one negative run around
    the piece (float64 slivers) is left to :func:`_layer_kernel` whole, so the output does
    not depend on how cells are chunked. Same inputs and outputs as :func:`_layer_kernel`."""
    ncells = voff.shape[0] - 1
    W = F.shape[1]
    nl = H.shape[1]
    LV = np.empty((POOL_2D_VERTICES, 2))
    LF = np.empty((POOL_2D_VERTICES, W), np.uint64)
    LC = np.empty(POOL_2D_VERTICES, np.int32)
    LR = np.empty((POOL_2D_VERTICES, 3))
    pv = np.empty(POOL_2D_PIECES, np.int64)
    pnv = np.empty(POOL_2D_PIECES, np.int64)
    pc = np.empty(POOL_2D_PIECES, np.int64)
    pnc = np.empty(POOL_2D_PIECES, np.int64)
    PB = np.zeros((POOL_2D_PIECES, nl), np.bool_)
    AN = np.empty((2, POOL_2D_PIECES), np.int64)  # the active pieces (row ia) and the next ones
    once = np.empty(W, np.uint64)  # the hyperplanes through one vertex of a half, and through two
    twice = np.empty(W, np.uint64)
    vals = np.empty(POOL_2D_CORNERS)
    sg = np.empty(POOL_2D_CORNERS, np.int64)
    NV = np.empty((POOL_2D_CORNERS, 2))
    NF = np.empty((POOL_2D_CORNERS, W), np.uint64)
    nb = np.empty((POOL_2D_CORNERS, 2), np.int64)
    mv = max(16, int(grow * V.shape[0]))
    mc = max(16, int(grow * Cid.shape[0]))
    mn = max(16, int(grow * ncells))
    oV = np.empty((mv, 2))
    oF = np.empty((mv, W), np.uint64)
    oE = np.empty((mv, 2), np.int32)
    oC = np.empty(mc, np.int32)
    oR = np.empty((mc, 3))
    oB = np.empty((mn, nl), np.bool_)
    oP = np.empty(mn, np.int64)
    vo = np.zeros(mn + 1, np.int64)
    eo = np.zeros(mn + 1, np.int64)
    co = np.zeros(mn + 1, np.int64)
    n = 0
    over = 0
    a = np.empty(2)
    for p in range(ncells):
        v0 = voff[p]
        nv0 = voff[p + 1] - v0
        e0 = eoff[p]
        ne0 = eoff[p + 1] - e0
        c0 = coff[p]
        nc0 = coff[p + 1] - c0
        # the boundary cycle from the edges: each vertex on exactly two, one cycle through all
        ok = ne0 == nv0 and nv0 >= 3 and nv0 <= POOL_2D_CORNERS and nc0 <= POOL_2D_VERTICES
        cyc = ok and E[e0 + ne0 - 1, 0] == 0 and E[e0 + ne0 - 1, 1] == nv0 - 1
        if cyc:  # this kernel's own output: the sides (i, i + 1) in order, then (0, k - 1)
            for e in range(ne0 - 1):
                if E[e0 + e, 0] != e or E[e0 + e, 1] != e + 1:
                    cyc = False
                    break
        if cyc:
            for t in range(nv0):
                for k in range(2):
                    LV[t, k] = V[v0 + t, k]
                for w in range(W):
                    LF[t, w] = F[v0 + t, w]
        elif ok:
            for i in range(nv0):
                nb[i, 0] = -1
                nb[i, 1] = -1
            for e in range(e0, e0 + ne0):
                for s in range(2):
                    u = E[e, s]
                    w_ = E[e, 1 - s]
                    if nb[u, 0] < 0:
                        nb[u, 0] = w_
                    elif nb[u, 1] < 0:
                        nb[u, 1] = w_
                    else:
                        ok = False
            if ok:
                prev = -1
                cur = 0
                for t in range(nv0):
                    if cur < 0:
                        ok = False
                        break
                    for k in range(2):
                        LV[t, k] = V[v0 + cur, k]
                    for w in range(W):
                        LF[t, w] = F[v0 + cur, w]
                    nx = nb[cur, 0] if nb[cur, 0] != prev else nb[cur, 1]
                    if t == 0:
                        nx = nb[cur, 0]
                    prev = cur
                    cur = nx
                    if cur == 0 and t < nv0 - 1:  # back at the start early: more than one cycle
                        ok = False
                        break
                if ok and cur != 0:
                    ok = False
        nact = 0
        ia = 0
        if ok:
            for i in range(nc0):
                LC[i] = Cid[c0 + i]
                for k in range(3):
                    LR[i, k] = Crow[c0 + i, k]
            tv, tc = nv0, nc0
            pv[0], pnv[0], pc[0], pnc[0] = 0, nv0, 0, nc0
            PB[0, :] = False
            npieces = 1
            ia = 0
            AN[ia, 0] = 0
            nact = 1
            ctr0 = 0.0
            ctr1 = 0.0
            for i in range(v0, v0 + nv0):
                ctr0 += V[i, 0]
                ctr1 += V[i, 1]
            ctr0 /= nv0
            ctr1 /= nv0
            crad = 0.0
            cmag = floor
            for i in range(v0, v0 + nv0):
                cacc = (V[i, 0] - ctr0) * (V[i, 0] - ctr0)
                cacc += (V[i, 1] - ctr1) * (V[i, 1] - ctr1)
                cmag = max(cmag, abs(V[i, 0]))
                cmag = max(cmag, abs(V[i, 1]))
                crad = max(crad, cacc)
            crad = math.sqrt(crad) * (1.0 + SIDE_QUICK_RTOL) + SIDE_QUICK_RTOL * cmag
            for j in range(nl):
                a0 = H[p, j, 0]
                a1 = H[p, j, 1]
                a[0] = a0
                a[1] = a1
                nrm2 = a0 * a0
                nrm2 += a1 * a1
                c = H[p, j, 2]
                nrm = math.sqrt(nrm2)
                if nrm <= zero_thr:
                    flag = c > zero_abs
                    for t in range(nact):
                        PB[AN[ia, t], j] = flag
                    continue
                vc = c
                vc += a0 * ctr0
                vc += a1 * ctr1
                reach = nrm * (crad + snap * cmag) + SIDE_QUICK_RTOL * (abs(c) + nrm * 2 * cmag)
                if vc > reach:
                    st = 1
                elif vc < -reach:
                    st = 0
                else:  # the general kernel's vertex-by-vertex test, with d = 2 written out (a
                    # helper shared by both kernels made 3-D calls ~2 % slower side by side)
                    npos = 0
                    nneg = 0
                    for i in range(v0, v0 + nv0):
                        acc = c
                        acc += a0 * V[i, 0]
                        acc += a1 * V[i, 1]
                        mag = max(floor, abs(V[i, 0]))
                        mag = max(mag, abs(V[i, 1]))
                        dist = acc / nrm
                        eps = snap * mag
                        if dist > eps:
                            npos += 1
                        elif dist < -eps:
                            nneg += 1
                        if npos > 0 and nneg > 0:
                            break
                    st = 2 if npos > 0 and nneg > 0 else (1 if npos > 0 else 0)
                if st < 2:
                    for t in range(nact):
                        PB[AN[ia, t], j] = st == 1
                    continue
                hid = unit_base + j
                hw = hid >> 6
                hb = np.uint64(1) << np.uint64(hid & 63)
                nn = 0
                if 2 * nact > POOL_2D_PIECES:
                    ok = False
                    break
                for t in range(nact):
                    q = AN[ia, t]
                    qv, nv, qc, nc = pv[q], pnv[q], pc[q], pnc[q]
                    if nv + 2 > POOL_2D_CORNERS or tv + 2 * (nv + 2) > POOL_2D_VERTICES \
                            or tc + 2 * (nc + 1) > POOL_2D_VERTICES or npieces + 2 > POOL_2D_PIECES:
                        ok = False  # past the pools: the general kernel takes the cell
                        break
                    npos, nneg = _vertex_sides(LV, qv, nv, a, c, nrm, snap, floor, vals, sg)
                    if npos > 0 and nneg > 0:
                        npos, nneg = _coincident_sides(LR, LC, LF, qc, nc, qv, nv, a, c, nrm, sg, npos, nneg)
                    if npos == 0 or nneg == 0:
                        PB[q, j] = npos > 0
                        AN[1 - ia, nn] = q
                        nn += 1
                        continue
                    # one run of each sign around the piece (zeros between), else float64
                    # has made the piece non-convex: the general kernel takes the cell
                    runs = 0
                    last = 0
                    for i in range(nv):
                        if sg[i] != 0:
                            if last != 0 and sg[i] != last:
                                runs += 1
                            last = sg[i]
                    for i in range(nv):  # close the cycle: the first non-zero sign against the last
                        if sg[i] != 0:
                            if sg[i] != last:
                                runs += 1
                            break
                    if runs != 2:
                        ok = False
                        break
                    # the new vertices, one per side with a sign change (along the cyclic order)
                    for i in range(nv):
                        i2 = i + 1 if i + 1 < nv else 0
                        if sg[i] * sg[i2] < 0:
                            tt = vals[i] / (vals[i] - vals[i2])
                            for k in range(2):
                                NV[i, k] = LV[qv + i, k] + tt * (LV[qv + i2, k] - LV[qv + i, k])
                            for w in range(W):
                                NF[i, w] = LF[qv + i, w] & LF[qv + i2, w]
                            NF[i, hw] |= hb
                    for sign in (1, -1):
                        h = npieces
                        npieces += 1
                        ns = 0
                        for i in range(nv):  # the boundary walk: vertices on this side, new ones between
                            i2 = i + 1 if i + 1 < nv else 0
                            si = sg[i] * sign
                            if si >= 0:
                                for k in range(2):
                                    LV[tv + ns, k] = LV[qv + i, k]
                                for w in range(W):
                                    LF[tv + ns, w] = LF[qv + i, w]
                                if si == 0:
                                    LF[tv + ns, hw] |= hb
                                ns += 1
                            if sg[i] * sg[i2] < 0:
                                for k in range(2):
                                    LV[tv + ns, k] = NV[i, k]
                                for w in range(W):
                                    LF[tv + ns, w] = NF[i, w]
                                ns += 1
                        for w in range(W):  # the hyperplanes through at least two of the half's vertices
                            once[w] = 0
                            twice[w] = 0
                        for i in range(ns):
                            for w in range(W):
                                twice[w] |= once[w] & LF[tv + i, w]
                                once[w] |= LF[tv + i, w]
                        nk = 0
                        for g in range(nc + 1):
                            gid = LC[qc + g] if g < nc else hid
                            if twice[gid >> 6] & (np.uint64(1) << np.uint64(gid & 63)):
                                if g < nc:
                                    LC[tc + nk] = LC[qc + g]
                                    for k in range(3):
                                        LR[tc + nk, k] = LR[qc + g, k]
                                else:
                                    LC[tc + nk] = hid
                                    LR[tc + nk, 0] = sign * a0
                                    LR[tc + nk, 1] = sign * a1
                                    LR[tc + nk, 2] = sign * c
                                nk += 1
                        pv[h], pnv[h], pc[h], pnc[h] = tv, ns, tc, nk
                        for k in range(nl):
                            PB[h, k] = PB[q, k]
                        PB[h, j] = sign > 0
                        tv += ns
                        tc += nk
                        AN[1 - ia, nn] = h
                        nn += 1
                if not ok:
                    break
                ia = 1 - ia
                nact = nn
        if not ok:  # the general kernel on this cell alone
            sub = _layer_kernel(V[v0: v0 + nv0], F[v0: v0 + nv0], voff[p: p + 2] - v0, E[e0: e0 + ne0],
                                eoff[p: p + 2] - e0, Cid[c0: c0 + nc0], Crow[c0: c0 + nc0], coff[p: p + 2] - c0,
                                H[p: p + 1], unit_base, zero_thr, zero_abs, snap, floor, max_bytes, used, 1.0)
            sV, sF, svo, sE, seo, sC, sR, sco, sB, _sP, sover = sub
            k2 = svo.shape[0] - 1
            need_n = n + k2
            if need_n + 1 > vo.shape[0]:
                m2 = max(need_n + 1, 2 * vo.shape[0])
                vo = _grow_i1(vo, m2)
                eo = _grow_i1(eo, m2)
                co = _grow_i1(co, m2)
                oB = _grow2(oB, m2)
                oP = _grow_i1(oP, m2)
            oV = _grow2(oV, vo[n] + sV.shape[0])
            oF = _grow2(oF, vo[n] + sV.shape[0])
            oE = _grow2(oE, eo[n] + sE.shape[0])
            oC = _grow_i1(oC, co[n] + sC.shape[0])
            oR = _grow2(oR, co[n] + sC.shape[0])
            x0, y0, z0 = vo[n], eo[n], co[n]
            oV[x0: x0 + sV.shape[0]] = sV
            oF[x0: x0 + sV.shape[0]] = sF
            oE[y0: y0 + sE.shape[0]] = sE
            oC[z0: z0 + sC.shape[0]] = sC
            oR[z0: z0 + sC.shape[0]] = sR
            for t in range(k2):
                vo[n + 1] = x0 + svo[t + 1]
                eo[n + 1] = y0 + seo[t + 1]
                co[n + 1] = z0 + sco[t + 1]
                for k in range(nl):
                    oB[n, k] = sB[t, k]
                oP[n] = p
                n += 1
            if sover:
                over = 1
                break
            continue
        # --- the cell's final pieces to the output
        need_n = n + nact
        if need_n + 1 > vo.shape[0]:
            m2 = max(need_n + 1, 2 * vo.shape[0])
            vo = _grow_i1(vo, m2)
            eo = _grow_i1(eo, m2)
            co = _grow_i1(co, m2)
            oB = _grow2(oB, m2)
            oP = _grow_i1(oP, m2)
        sv = 0
        sc = 0
        for t in range(nact):
            q = AN[ia, t]
            sv += pnv[q]
            sc += pnc[q]
        oV = _grow2(oV, vo[n] + sv)
        oF = _grow2(oF, vo[n] + sv)
        oE = _grow2(oE, eo[n] + sv)
        oC = _grow_i1(oC, co[n] + sc)
        oR = _grow2(oR, co[n] + sc)
        nbytes = 0
        for t in range(nact):
            q = AN[ia, t]
            x0 = vo[n]
            k1 = pnv[q]
            for i in range(k1):
                for k in range(2):
                    oV[x0 + i, k] = LV[pv[q] + i, k]
                for w in range(W):
                    oF[x0 + i, w] = LF[pv[q] + i, w]
            vo[n + 1] = x0 + k1
            x0 = eo[n]
            for i in range(k1 - 1):
                oE[x0 + i, 0] = i
                oE[x0 + i, 1] = i + 1
            oE[x0 + k1 - 1, 0] = 0
            oE[x0 + k1 - 1, 1] = k1 - 1
            eo[n + 1] = x0 + k1
            x0 = co[n]
            for i in range(pnc[q]):
                oC[x0 + i] = LC[pc[q] + i]
                for k in range(3):
                    oR[x0 + i, k] = LR[pc[q] + i, k]
            co[n + 1] = x0 + pnc[q]
            for k in range(nl):
                oB[n, k] = PB[q, k]
            oP[n] = p
            nbytes += k1 * (2 + W) * 8 + k1 * 8 + pnc[q] * (3 * 8 + 4) + nl + 32
            n += 1
        used[0] += nbytes
        if used[0] > max_bytes:
            over = 1
            break
    return (oV[: vo[n]], oF[: vo[n]], vo[: n + 1], oE[: eo[n]], eo[: n + 1], oC[: co[n]], oR[: co[n]],
            co[: n + 1], oB[:n], oP[:n], over)


# ------------------------------------------------------------ threads
#: A layer (or the facet and neighbour passes) is split across threads only into chunks
#: of at least this many cells (facet rows for the neighbour pass) ...
PARALLEL_MIN_CHUNK = 64
#: ... and of at least this much kernel time (seconds; estimated with ``_ITEM_SECONDS``): a
#: chunk costs some 20-50 microseconds of Python and thread hand-off (more on a loaded
#: machine), so a small run (2-16-16-16: 1202 cells) stays on one thread, where a second
#: one only added that cost.
PARALLEL_MIN_WORK = 4e-4
#: Kernel seconds per item of each threaded pass in 2-D, and the factor per further input
#: dimension (measured on 2-16-16-16 and 4-16-16-16; per cell of the complex before the
#: layer, per cell, per facet row for the neighbour pass).
_ITEM_SECONDS = {"layer": (1.2e-6, 3.5), "facet": (2e-7, 2.9), "neighbor": (5e-8, 1.2), "ranks": (9e-8, 1.7),
                 "maps": (1.3e-7, 1.5)}


def _min_chunk(kind, d):
    """The fewest items of a chunk of the pass ``kind`` in input dimension ``d``
    (``PARALLEL_MIN_CHUNK``, or ``PARALLEL_MIN_WORK`` of estimated kernel time)."""
    t, g = _ITEM_SECONDS[kind]
    return max(PARALLEL_MIN_CHUNK, int(PARALLEL_MIN_WORK / (t * g ** (d - 2))))
#: Chunks per thread: cells differ in cost, more chunks than threads balance the load.
CHUNKS_PER_THREAD = 4
#: From this input dimension on, a layer that starts with few cells (the first starts with
#: one) is cut one neuron at a time until the complex has ``SPLIT_MAX_CELLS`` cells, so
#: that the threads share its pieces (below it a layer is cheap).
SPLIT_MIN_DIM = 5
SPLIT_MAX_CELLS = 256
#: The neighbour pass takes this many facets at a time (their neighbour patterns, one bool
#: per unit and facet, would otherwise be the largest array of a run).
ADJACENCY_CHUNK = 1 << 16
#: A layer is cut in pieces of at most this many cells (fewer with several threads and a
#: small complex), each piece's children a chunk of the new complex: the kernel's output
#: buffers (grown by doubling) stay small, and old chunks are freed as the layer proceeds.
LAYER_CHUNK_CELLS = 1 << 14
#: Freed heap pages are handed back to the OS (``malloc_trim``) in runs of at least this many
#: cells (a complex of ~0.3-0.8 GB from 3 to 5 inputs). Below it the holes glibc keeps (10-25 %
#: of the resident memory) are small, while every page handed back is zeroed by the kernel
#: again when the next layer writes it: trimming a 141 000-cell 4-D run cost 10 % of its time.
TRIM_MIN_CELLS = 1 << 19
#: The layer kernel's output buffers start at the last layer's growth in cells (at least 1,
#: at most this) times its inputs' sizes, and double when full: a guess too large costs
#: address space only (pages never written are never mapped), one too small a copy.
GROW_MAX = 4.0
#: Layers of fewer cells keep the layer kernel's outputs as views of its buffers (at most
#: ``GROW_MAX`` times their size: the first guess, or twice after a doubling) instead of copies
#: to size (:func:`_owned`).
OWN_MIN_CELLS = 1 << 12
#: The run keeps every layer's pre-activation maps for the neighbour pass (which otherwise
#: rebuilds them cell by cell) while they take at most this many bytes.
KEEP_MAPS_BYTES = 1 << 22
#: Threads when ``n_jobs`` is None; None means every core this process may use.
DEFAULT_N_JOBS = None

_POOLS = {}  # thread count -> ThreadPoolExecutor, kept across calls


def _forget_pools():  # a forked child inherits the pools but not their threads
    _POOLS.clear()
    # nor numba's: GNU OpenMP cannot run in the child of a process that used it (numba
    # ends the child): a forked child runs every pass on one thread, or on the pool
    _OMP["forked"] = True


#: A pass too small for the pool (a hand-off costs ~50 microseconds) runs on numba's own
#: threads (``prange``: a launch costs a few) when its threading layer is thread-safe
#: (OpenMP or TBB; not numba's workqueue, which aborts on concurrent launches), split into
#: one piece per thread of at least this many items (cells, or facets).
OMP_MIN_ITEMS = 16
_OMP = {"ready": None, "forked": False}
#: A layer of at most this many cells in one chunk is cut on numba's threads (above it, by
#: the pool, piece by piece, so that old chunks are freed as the new ones are made; the
#: pieces' join holds the layer's output twice for a moment: 2-128-128-128 at 16 384 cells
#: peaked 17 % above one thread, at 4 096 3 %, as fast), in pieces of at least
#: ``OMP_MIN_LAYER_CELLS`` cells.
OMP_MAX_LAYER_CELLS = 1 << 12
OMP_MIN_LAYER_CELLS = 8
#: numba's threads are used up to this input dimension. Above it a cell costs far more than a
#: hand-off to the pool, and the general layer kernel makes views of its inputs cell by cell:
#: numba's two threads, sharing one reference count per input array, wait on each other
#: (the pool's threads get their own). Measured with two threads, numba's against the pool:
#: 3-16-16-16 box 0.034 against 0.032-0.033 s, 4-16-16-16 0.486 against 0.469 s, 6-16-16
#: 0.114 against 0.090 s, 8-16-16 0.208 against 0.163 s (one thread 0.184 s).
OMP_MAX_DIM = 2


def _omp_threads(n_jobs, n, min_items=None, *, d):
    """The number of numba threads (and pieces) for a pass of ``n`` items on ``n_jobs``
    threads that the pool does not split, or 0 to run it on this thread: at least two, each
    with ``min_items``, in a process whose numba threading layer is thread-safe (found by a
    first launch when no parallel code has run yet) and that is not a forked child, for input
    dimension ``d`` up to ``OMP_MAX_DIM``."""
    if not HAVE_NUMBA or n_jobs <= 1 or _OMP["forked"] or d > OMP_MAX_DIM:
        return 0
    k = min(n_jobs, _numba.config.NUMBA_NUM_THREADS, n // (OMP_MIN_ITEMS if min_items is None else min_items))
    if k < 2:
        return 0
    if _OMP["ready"] is None:
        try:
            layer = _numba.threading_layer()
        except ValueError:  # no parallel code has run in this process: the first launch picks it
            try:
                _omp_probe(np.zeros(2))
                layer = _numba.threading_layer()
            except Exception:  # noqa: BLE001 - no threading layer loads here: one thread, as before
                layer = None
        _OMP["ready"] = layer in ("omp", "tbb")
    return k if _OMP["ready"] else 0


def _omp_run(k, driver, *args):
    """``driver(*args, k)``: its ``prange(k)`` gives one piece to each of ``k`` of numba's
    threads (``k <= n_jobs``: the others get none; numba's thread-count setting is not
    touched, as reading and setting it cost ~10 microseconds a call)."""
    return driver(*args, k)


@_njit_par
def _omp_probe(x):
    """A trivial parallel loop: its first launch makes numba pick its threading layer."""
    for i in _prange(x.shape[0]):
        x[i] = i
    return x


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def n_threads(n_jobs=None) -> int:
    """The number of threads the engine uses for ``n_jobs``.

    ``None`` (the default) means ``DEFAULT_N_JOBS`` when it is set, else every core this
    process may run on (``os.sched_getaffinity``, else ``os.cpu_count()``); a positive
    int is taken as it is.
    The answers do not depend on it: every kernel works cell by cell, and each piece of
    cells writes its results at its cells' own places (or is joined in cell order).

    Examples
    --------
    >>> pr.subdivision.n_threads(3)
    3
    >>> pr.subdivision.n_threads() >= 1
    True
    """
    if n_jobs is None:
        n_jobs = DEFAULT_N_JOBS
    if n_jobs is not None:
        return check_positive_int(n_jobs, name="n_jobs", func="enumerate_subdivision")
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def _bounds(n, n_jobs, min_chunk=PARALLEL_MIN_CHUNK):
    """Chunk boundaries over ``range(n)`` for ``n_jobs`` threads, or None for one call."""
    k = min(n_jobs * CHUNKS_PER_THREAD, n // min_chunk)
    if n_jobs <= 1 or k <= 1:
        return None
    return np.linspace(0, n, k + 1).astype(np.int64)


def _pmap(fn, bounds, n_jobs):
    """``[fn(a, b) for consecutive a, b in bounds]`` on ``n_jobs`` threads (the kernels
    release the GIL), in chunk order (:func:`_pstream`)."""
    b = [int(x) for x in bounds]
    return _pstream(lambda t: fn(b[t], b[t + 1]), len(b) - 1, n_jobs)


def _pool(n_jobs):
    """A pool of ``n_jobs`` threads, kept across calls."""
    ex = _POOLS.get(n_jobs)
    if ex is None:
        from concurrent.futures import ThreadPoolExecutor

        ex = _POOLS[n_jobs] = ThreadPoolExecutor(n_jobs, thread_name_prefix="polyrank-subdivision")
    return ex


def _pstream(fn, n, n_jobs, after=None):
    """``[fn(t) for t in range(n)]`` on ``n_jobs`` threads: this one and ``n_jobs - 1`` of the
    pool claim the items in order, one at a time, so no thread waits at a barrier between
    items and none waits for a pool thread that has not started (on a loaded machine this
    thread does the work itself). ``after(t)`` runs in this thread once item ``t`` and all
    before it are done (to free what they read), in item order. Results in item order; the
    first exception is raised once the items under way are done."""
    if n_jobs <= 1 or n <= 1:
        out = []
        for t in range(n):
            out.append(fn(t))
            if after is not None:
                after(t)
        return out
    import threading

    out = [None] * n
    done = [threading.Event() for _ in range(n)]
    claimed = [False] * n
    err = []
    claim = itertools.count()  # next() is atomic under the GIL

    def run_one(t):
        claimed[t] = True
        try:
            out[t] = fn(t)
        except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread
            err.append(e)
        finally:
            done[t].set()

    stop = []  # set when this thread leaves early (an exception outside fn: after(), Ctrl-C in a wait)

    def work():
        while not err and not stop:
            t = next(claim)
            if t >= n:
                return
            run_one(t)

    ex = _pool(n_jobs - 1)
    for _ in range(min(n_jobs - 1, n - 1)):
        ex.submit(work)
    front = 0
    handed = False  # every item handed out: each is done or will be
    try:
        while not err:
            t = next(claim)
            if t >= n:
                handed = True
                break
            run_one(t)
            while front < n and done[front].is_set() and not err:
                if after is not None:
                    after(front)
                front += 1
        for t in range(front, n):  # the items the other threads claimed
            if handed or claimed[t]:
                done[t].wait()
            if not err and after is not None:
                after(t)
    except BaseException:
        # the pool threads must not go on with the remaining items after this call has left
        stop.append(True)
        for t in range(n):
            if claimed[t]:
                done[t].wait()
        raise
    if err:
        raise err[0]
    return out


def _rebase(off, a, b):
    """The offsets of cells a..b of a chunk, from 0 (a view for a chunk's first cells: its
    offsets start at 0)."""
    return off[: b + 1] if a == 0 and off[0] == 0 else off[a: b + 1] - off[a]


def _owned(res, copy=True):
    """The outputs of :func:`_layer_kernel` (views of its grown buffers) copied to their size
    one array at a time: each buffer is freed before the next copy, so that the buffers and
    all the copies never exist together. Without ``copy`` (a small complex) the views stay
    (their buffers are at most ``GROW_MAX`` times as large)."""
    res = list(res)
    if not copy:
        return res
    for k in range(len(res) - 1):
        res[k] = res[k].copy()
    return res


def _n_cells(cells):
    """Cells of a complex stored as a list of chunks ``(V, F, vo, E, eo, C, R, co)``."""
    return sum(len(ch[2]) - 1 for ch in cells)


def _layer(cells, H, unit_base, zthr, zabs, snap, floor, max_bytes, n_jobs, grow=1.0):
    """:func:`_layer_kernel` on a complex stored as a list of chunks (``H[c]``: the maps of
    its c-th cell, counted across the chunks), in pieces of at most ``LAYER_CHUNK_CELLS``
    cells (fewer, to give every thread several, when the complex is small), run in parallel
    ``n_jobs * CHUNKS_PER_THREAD`` at a time. Each piece's children become one chunk of the
    new complex, so nothing is concatenated, and each chunk of ``cells`` is dropped from the
    list (freed) once cut: the old and the new complex never both exist whole. The pieces
    come out in cell order, the same for any number of threads. Returns the new chunks,
    the layer's bits and each new cell's parent, and the over-budget flag. ``grow``: the
    kernel's first guess of its outputs' sizes, in multiples of its inputs' (``GROW_MAX``)."""
    n = _n_cells(cells)
    used = np.zeros(1, np.int64)
    size = LAYER_CHUNK_CELLS
    if n_jobs > 1:
        d = next((ch[0].shape[1] for ch in cells), 2)
        size = max(_min_chunk("layer", d), min(size, -(-n // (n_jobs * CHUNKS_PER_THREAD))))
    if len(cells) == 1 and n <= OMP_MAX_LAYER_CELLS:  # one piece, cut on numba's threads where it pays
        k = _omp_threads(n_jobs, n, OMP_MIN_LAYER_CELLS, d=cells[0][0].shape[1])
        if k:
            V, F, vo, E, eo, C, R, co = cells[0]
            r = _omp_run(k, _layer_par, V, F, vo, E, eo, C, R, co, H if not isinstance(H, _LazyMaps) else H[0:n],
                         unit_base, zthr, zabs, snap, floor, max_bytes, used, grow)
            cells[0] = None
            return [tuple(r[:8])], r[8], r[9], r[10]
    items = []  # (chunk, first cell in it, last + 1, first cell overall)
    g0 = 0
    for i, ch in enumerate(cells):
        m = len(ch[2]) - 1
        k = max(1, -(-m // size))
        cuts = np.linspace(0, m, k + 1).astype(np.int64).tolist() if k > 1 else [0, m]
        items += [(i, a, b, g0 + a) for a, b in zip(cuts[:-1], cuts[1:])]
        g0 += m

    def piece(t, threads):  # threads for lazily built maps: 1 when the pieces run in parallel
        i, a, b, g = items[t]
        V, F, vo, E, eo, C, R, co = cells[i]
        va, vb, ea, eb, ca, cb = vo[a], vo[b], eo[a], eo[b], co[a], co[b]
        Hp = H.rows(g, g + b - a, threads) if isinstance(H, _LazyMaps) else H[g: g + b - a]
        kernel = _layer_kernel_2d if V.shape[1] == 2 else _layer_kernel
        return _owned(kernel(V[va:vb], F[va:vb], _rebase(vo, a, b), E[ea:eb], _rebase(eo, a, b), C[ca:cb],
                                    R[ca:cb], _rebase(co, a, b), Hp, unit_base, zthr, zabs, snap, floor,
                                    max_bytes, used, grow), copy=n >= OWN_MIN_CELLS)

    wave = n_jobs * CHUNKS_PER_THREAD if n_jobs > 1 else 1
    out, Bs, Ps, over, freed = [], [], [], 0, 0
    for w0 in range(0, len(items), wave):
        w1 = min(len(items), w0 + wave)
        if w1 - w0 > 1:
            res = _pmap(lambda a, b: piece(a, 1), np.arange(w0, w1 + 1), n_jobs)
        else:
            res = [piece(w0, n_jobs)]
        for t, r in zip(range(w0, w1), res):
            out.append(tuple(r[:8]))
            Bs.append(r[8])
            Ps.append(r[9] + items[t][3] if items[t][3] else r[9])
            over = max(over, r[10])
        del res
        done = items[w1][0] if w1 < len(items) else len(cells)  # the chunks before it are cut through
        for i in range(freed, done):
            cells[i] = None
        freed = done
        if over:
            break
    if not Bs:
        return out, np.zeros((0, H.shape[1]), dtype=bool), np.zeros(0, np.int64), over
    if len(Bs) == 1:  # one piece: its own arrays
        return out, Bs[0], Ps[0], over
    return out, np.concatenate(Bs), np.concatenate(Ps), over


@_njit_par
def _layer_par(V, F, voff, E, eoff, Cid, Crow, coff, H, unit_base, zero_thr, zero_abs, snap, floor, max_bytes, used,
               grow, k):
    """The layer kernel (:func:`_layer_kernel_2d` in 2-D, else :func:`_layer_kernel`) on ``k``
    threads, one piece of consecutive cells each, and the pieces' outputs joined in cell
    order (:func:`_layer_join_alloc`, then each piece copied in by its own thread:
    :func:`_layer_join_piece`): the kernels cut cell by cell, so the output is the one
    piece's."""
    n = voff.shape[0] - 1
    counts = np.zeros(k, np.int64)
    res = List()
    for t in range(k):  # the outputs' slots, filled by the threads
        res.append(_layer_kernel_empty(V, F, H))
    for t in _prange(k):
        a = t * n // k
        e = (t + 1) * n // k
        mine = np.zeros(1, np.int64)  # each piece its own byte count (one shared counter, written
        mine[0] = used[0]  # cell by cell by every thread, would bounce between their caches)
        res[t] = _layer_piece(V, F, voff, E, eoff, Cid, Crow, coff, H, a, e, unit_base, zero_thr, zero_abs, snap,
                              floor, max_bytes, mine, grow)
        counts[t] = mine[0] - used[0]
    used[0] += counts.sum()
    # the pieces joined in cell order, each copied in by its own thread
    out, starts = _layer_join_alloc(res, k)
    for t in _prange(k):
        _layer_join_piece(res, out, starts, np.int64(t), n, k)
    if used[0] > max_bytes:  # the pieces together over the budget
        return out[:10] + (1,)
    return out


@_njit
def _layer_piece(V, F, voff, E, eoff, Cid, Crow, coff, H, a, e, unit_base, zero_thr, zero_abs, snap, floor, max_bytes,
                 used, grow):
    """The layer kernel on cells ``a..e`` (:func:`_layer_par`'s pieces)."""
    va, vb, ea, eb, ca, cb = voff[a], voff[e], eoff[a], eoff[e], coff[a], coff[e]
    if V.shape[1] == 2:
        return _layer_kernel_2d(V[va:vb], F[va:vb], voff[a: e + 1] - va, E[ea:eb], eoff[a: e + 1] - ea, Cid[ca:cb],
                                Crow[ca:cb], coff[a: e + 1] - ca, H[a:e], unit_base, zero_thr, zero_abs, snap, floor,
                                max_bytes, used, grow)
    return _layer_kernel(V[va:vb], F[va:vb], voff[a: e + 1] - va, E[ea:eb], eoff[a: e + 1] - ea, Cid[ca:cb],
                         Crow[ca:cb], coff[a: e + 1] - ca, H[a:e], unit_base, zero_thr, zero_abs, snap, floor, max_bytes,
                         used, grow)


@_njit
def _layer_kernel_empty(V, F, H):
    """A layer kernel's output with no cell (the types of :func:`_layer_kernel`'s)."""
    z = np.zeros(1, np.int64)
    return (V[:0], F[:0], z, np.empty((0, 2), np.int32), z.copy(), np.empty(0, np.int32), np.empty((0, V.shape[1] + 1)),
            z.copy(), np.empty((0, H.shape[1]), np.bool_), np.empty(0, np.int64), 0)


@_njit
def _layer_join_alloc(res, k):
    """The joined outputs of :func:`_layer_par`'s ``k`` pieces (``res``), allocated, with
    their offsets' first entries set; and where each piece's vertices, edges, candidate
    rows and cells start in them (row t, and the totals in row k). The pieces are copied
    in by :func:`_layer_join_piece`."""
    starts = np.zeros((k + 1, 4), np.int64)
    over = 0
    for t in range(k):
        r = res[t]
        starts[t + 1, 0] = starts[t, 0] + r[0].shape[0]
        starts[t + 1, 1] = starts[t, 1] + r[3].shape[0]
        starts[t + 1, 2] = starts[t, 2] + r[5].shape[0]
        starts[t + 1, 3] = starts[t, 3] + r[8].shape[0]
        over = max(over, r[10])
    nv, ne, nc, nn = starts[k, 0], starts[k, 1], starts[k, 2], starts[k, 3]
    r0 = res[0]
    out = (np.empty((nv, r0[0].shape[1])), np.empty((nv, r0[1].shape[1]), np.uint64), np.zeros(nn + 1, np.int64),
           np.empty((ne, 2), np.int32), np.zeros(nn + 1, np.int64), np.empty(nc, np.int32),
           np.empty((nc, r0[6].shape[1])), np.zeros(nn + 1, np.int64), np.empty((nn, r0[8].shape[1]), np.bool_),
           np.empty(nn, np.int64), over)
    return out, starts


@_njit_inline
def _layer_join_piece(res, out, starts, t, n, k):
    """Piece ``t`` of :func:`_layer_par` copied into the joined outputs ``out``
    (:func:`_layer_join_alloc`): its arrays at its starts, its offsets and parents shifted."""
    oV, oF, vo, oE, eo, oC, oR, co, oB, oP, _ = out
    rV, rF, rvo, rE, reo, rC, rR, rco, rB, rP, _ = res[t]
    x, y, z, c = starts[t, 0], starts[t, 1], starts[t, 2], starts[t, 3]
    m = rB.shape[0]
    oV[x: x + rV.shape[0]] = rV
    oF[x: x + rV.shape[0]] = rF
    oE[y: y + rE.shape[0]] = rE
    oC[z: z + rC.shape[0]] = rC
    oR[z: z + rC.shape[0]] = rR
    oB[c: c + m] = rB
    a = t * n // k
    for i in range(m):
        oP[c + i] = rP[i] + a
        vo[c + i + 1] = rvo[i + 1] + x
        eo[c + i + 1] = reo[i + 1] + y
        co[c + i + 1] = rco[i + 1] + z


def _pieces(cells, n_jobs):
    """The pieces ``(chunk, first cell, last + 1)`` of a complex's chunks that the facet and
    region-rows passes hand to the threads (:func:`_bounds` of each chunk), and the first
    cell and candidate row of each chunk in the whole complex."""
    items = []
    g0 = np.zeros(len(cells) + 1, np.int64)
    k0 = np.zeros(len(cells) + 1, np.int64)
    for i, ch in enumerate(cells):
        m = len(ch[2]) - 1
        g0[i + 1] = g0[i] + m
        k0[i + 1] = k0[i] + int(ch[7][-1])
        b = _bounds(m, n_jobs, _min_chunk("facet", ch[0].shape[1]))
        cuts = [0, m] if b is None else b.tolist()
        items += [(i, a, e) for a, e in zip(cuts[:-1], cuts[1:])]
    return items, g0, k0


def _waves(items, n_jobs, piece, done):
    """``piece(t)`` for every item on the pool (:func:`_pstream`: no barrier between chunks;
    in this thread with one thread); ``done(i)`` once every piece of chunk ``i`` ran, in
    chunk order."""
    finished = [0]

    def after(t):  # the chunks before the next item's are read through
        upto = items[t + 1][0] if t + 1 < len(items) else items[-1][0] + 1
        for i in range(finished[0], upto):
            done(i)
        finished[0] = max(finished[0], upto)

    _pstream(piece, len(items), n_jobs, after)


def _facet_pass(cells, d, box_id0, n_units, n_jobs, bits):
    """The facet pass (:func:`_finish_kernel`) over the chunks ``(V, F, vo, E, eo, C, R, co)``
    of a complex, on pieces of cells in parallel, each piece writing its part of the outputs
    in place (nothing is concatenated): per candidate row ``isfacet, centers, spread``, per
    cell ``wit, lb, onbox`` and its numbers of kept rows (facets not on the artificial box)
    and of unit facets. Each chunk is reduced to ``(C, R, co)`` (for :func:`_region_rows` and
    :func:`_certify_cells`) once read; ``bits`` gets its vertex bitsets and offsets
    ``(F, vo)``. Returns the outputs, the complex's candidate offsets ``co`` (from 0), the
    pieces and each chunk's first cell and candidate row (:func:`_pieces`)."""
    items, g0, k0 = _pieces(cells, n_jobs)
    n, m = int(g0[-1]), int(k0[-1])
    isfac = np.empty(m, np.bool_)
    centers = np.empty((m, d))
    spread = np.empty(m)
    wit = np.empty((n, d))
    lb = np.empty(n)
    onbox = np.empty(n, np.bool_)
    nkeep = np.empty(n, np.int64)
    nunit = np.empty(n, np.int64)
    co = np.empty(n + 1, np.int64)
    co[0] = 0
    for i, ch in enumerate(cells):
        co[g0[i] + 1: g0[i + 1] + 1] = ch[7][1:] + k0[i]

    def piece(t):
        i, a, b = items[t]
        V, F, vo, E, eo, C, R, cc = cells[i]
        va, vb, ca, cb = vo[a], vo[b], cc[a], cc[b]
        ga, gb, ka, kb = g0[i] + a, g0[i] + b, k0[i] + ca, k0[i] + cb
        args = (V[va:vb], F[va:vb], _rebase(vo, a, b), C[ca:cb], R[ca:cb], _rebase(cc, a, b), box_id0, n_units,
                isfac[ka:kb], centers[ka:kb], spread[ka:kb], wit[ga:gb], lb[ga:gb], onbox[ga:gb], nkeep[ga:gb],
                nunit[ga:gb])
        k = _omp_threads(n_jobs, b - a, d=d) if len(items) == 1 else 0
        if k:
            _omp_run(k, _finish_par, *args)
        else:
            _finish_kernel(*args)

    freed = [0]  # cells whose vertices and edges were freed since the heap was last trimmed

    def done(i):  # the chunk's vertices and edges are freed; the heap trimmed in quarters
        V, F, vo, E, eo, C, R, cc = cells[i]
        bits.append((F, vo))
        cells[i] = (C, R, cc)
        del V, E, eo
        freed[0] += len(vo) - 1
        if freed[0] >= max(TRIM_MIN_CELLS, n // 4) or i == len(cells) - 1:
            _release_heap(freed[0])
            freed[0] = 0

    _waves(items, n_jobs, piece, done)
    return isfac, centers, spread, wit, lb, onbox, nkeep, nunit, co, items, g0, k0


@_njit_inline
def _next_candidate(x, w, loc):
    """The candidate (``loc``: row id -> candidate) of the lowest set bit of ``x``, the bits of
    word ``w`` of a bitset over row ids, and ``x`` without that bit."""
    return loc[(w << 6) + _ctz(x)], x & (x - np.uint64(1))


@_njit
def _finish_kernel(V, F, voff, Cid, Crow, coff, box_id0, n_units, isfacet, centers, spread, wit, lb, onbox, nkeep,
                   nunit):
    """Facets (maximal vertex sets, smallest id among coincident ones), facet centres,
    vertex-centroid witnesses, the distance from each witness to its nearest
    (non-artificial) facet, whether the cell has a facet on the artificial box, and its
    numbers of facets not on the box and of unit facets (ids below ``n_units``), written
    into the output arrays (one row per candidate, or per cell).
    One pass over a cell's vertices reads each vertex's hyperplane bits (``F``, over the
    row ids): for each candidate through it, its count, its coordinate sums and the AND of
    the bitsets of its vertices. The candidates whose vertex sets contain candidate g's are
    the bits of g's AND, so the maximality test reads those bits, not all pairs; a second
    pass gives the facets' spreads. Sums run over the vertices in increasing order
    (centroids and centres: one running sum per coordinate). A cell's candidate ids are
    distinct (a row cuts a cell once; ``loc`` maps an id to its one candidate): with a
    repeated id the earlier candidates would count no vertex."""
    ncells = voff.shape[0] - 1
    d = V.shape[1]
    W = F.shape[1]
    isfacet[:] = False
    centers[:] = 0.0
    spread[:] = 0.0
    lb[:] = np.inf
    onbox[:] = False
    nkeep[:] = 0
    nunit[:] = 0
    loc = np.zeros(64 * W, np.int64)  # global id -> the cell's candidate index (valid on cand bits)
    cand = np.zeros(W, np.uint64)
    act = np.empty(W, np.int64)  # the words holding the cell's candidates
    mc = 1  # scratch for the most candidates of a cell, allocated once: arrays grown in the
    for p in range(ncells):  # loop below would keep numba's reference counting in it
        mc = max(mc, coff[p + 1] - coff[p])
    andw = np.empty(mc * W, np.uint64)
    counts = np.empty(mc, np.int64)
    sums = np.empty(mc * d)
    sp = np.empty(mc)
    facw = np.zeros(W, np.uint64)
    cen = np.empty(d)
    one = np.uint64(1)
    full = ~np.uint64(0)
    for p in range(ncells):
        v0 = voff[p]
        nv = voff[p + 1] - v0
        c0 = coff[p]
        nc = coff[p + 1] - c0
        for w in range(W):
            cand[w] = 0
        for g in range(nc):
            gid = Cid[c0 + g]
            loc[gid] = g
            cand[gid >> 6] |= one << np.uint64(gid & 63)
        na = 0
        for w in range(W):
            if cand[w]:
                act[na] = w
                na += 1
        for g in range(nc):
            counts[g] = 0
            for j in range(na):
                andw[g * W + j] = full
            for k in range(d):
                sums[g * d + k] = 0.0
        for k in range(d):
            cen[k] = 0.0
        for i in range(nv):
            r = v0 + i
            for k in range(d):
                cen[k] += V[r, k]
            for j in range(na):
                w = act[j]
                x = F[r, w] & cand[w]
                while x:
                    g, x = _next_candidate(x, w, loc)
                    counts[g] += 1
                    for j2 in range(na):
                        andw[g * W + j2] &= F[r, act[j2]]
                    for k in range(d):
                        sums[g * d + k] += V[r, k]
        for k in range(d):
            wit[p, k] = cen[k] / nv
        for j in range(na):
            facw[act[j]] = 0
        anyfac = False
        for g in range(nc):
            cg = counts[g]
            if cg < d:
                continue
            gid = Cid[c0 + g]
            fac = True
            for j in range(na):
                w = act[j]
                x = andw[g * W + j] & cand[w]
                while x:
                    g2, x = _next_candidate(x, w, loc)
                    if g2 != g and (counts[g2] > cg or Cid[c0 + g2] < gid):
                        fac = False
                        break
                if not fac:
                    break
            if not fac:
                continue
            isfacet[c0 + g] = True
            facw[gid >> 6] |= one << np.uint64(gid & 63)
            anyfac = True
            for k in range(d):
                centers[c0 + g, k] = sums[g * d + k] / cg
            sp[g] = 0.0
        if anyfac:
            for i in range(nv):
                r = v0 + i
                for j in range(na):
                    w = act[j]
                    x = F[r, w] & facw[w]
                    while x:
                        g, x = _next_candidate(x, w, loc)
                        dd = 0.0
                        for k in range(d):
                            dd += (V[r, k] - centers[c0 + g, k]) ** 2
                        sp[g] = max(sp[g], dd)
        for g in range(nc):
            if not isfacet[c0 + g]:
                continue
            spread[c0 + g] = math.sqrt(sp[g])
            if box_id0 >= 0 and Cid[c0 + g] >= box_id0:
                onbox[p] = True
                continue
            nkeep[p] += 1
            if Cid[c0 + g] < n_units:
                nunit[p] += 1
            val = Crow[c0 + g, d]
            nrm = 0.0
            for k in range(d):
                val += Crow[c0 + g, k] * wit[p, k]
                nrm += Crow[c0 + g, k] ** 2
            lb[p] = min(lb[p], val / math.sqrt(nrm))


@_njit_par
def _finish_par(V, F, voff, Cid, Crow, coff, box_id0, n_units, isfacet, centers, spread, wit, lb, onbox, nkeep,
                nunit, k):
    """:func:`_finish_kernel` on ``k`` threads, one piece of consecutive cells each (the
    kernel works cell by cell, in place: the same outputs)."""
    n = voff.shape[0] - 1
    for t in _prange(k):
        a = t * n // k
        e = (t + 1) * n // k
        va, vb, ca, cb = voff[a], voff[e], coff[a], coff[e]
        _finish_kernel(V[va:vb], F[va:vb], voff[a: e + 1] - va, Cid[ca:cb], Crow[ca:cb], coff[a: e + 1] - ca, box_id0,
                       n_units, isfacet[ca:cb], centers[ca:cb], spread[ca:cb], wit[a:e], lb[a:e], onbox[a:e],
                       nkeep[a:e], nunit[a:e])


@_njit
def _alive_index(alive, nkeep, nunit, kidx):
    """The alive cells (indices), the offsets of their rows and of their unit facets (from
    the counts ``nkeep``, ``nunit``), and ``kidx``: each cell's index among the alive ones
    (-1 for the others), written in place."""
    m = 0
    for c in range(alive.shape[0]):
        if alive[c]:
            m += 1
    live = np.empty(m, np.int64)
    bounds = np.zeros(m + 1, np.int64)
    fstart = np.zeros(m + 1, np.int64)
    j = 0
    for c in range(alive.shape[0]):
        if alive[c]:
            live[j] = c
            bounds[j + 1] = bounds[j] + nkeep[c]
            fstart[j + 1] = fstart[j] + nunit[c]
            kidx[c] = j
            j += 1
        else:
            kidx[c] = -1
    return live, bounds, fstart


def _region_rows(cells, items, g0, k0, isfac, alive, nkeep, nunit, box_id0, n_units, d, n_jobs):
    """The rows ``A y <= b`` (unit normals) of the alive cells, cell by cell, each cell's
    ordered by id (units, then domain rows, as the LP engine orders facets), with their ids
    and each alive cell's first position in them (and the end); and the unit facets of the
    alive cells in candidate order: their candidate rows, cells and positions among the
    rows. On the pieces of :func:`_facet_pass` in parallel, each writing its cells' rows in
    place (their positions are known from the counts ``nkeep``, ``nunit``). The chunks
    ``(C, R, co)`` of ``cells`` are freed once read."""
    n = len(alive)
    kidx = np.empty(n, dtype=np.int32 if n < 2 ** 31 else np.int64)  # cell -> alive index
    live, bounds, fstart = _alive_index(alive, nkeep, nunit, kidx)
    M, nf = int(bounds[-1]), int(fstart[-1])
    m = int(k0[-1])
    raw = d >= 8  # numpy's norm: the rows gathered here, normalised below as _unit_rows does
    A = np.empty((M, d + 1 if raw else d))
    b = np.empty(M)
    Cs = np.empty(M, cells[0][0].dtype if cells else np.int32)
    frows = np.empty(nf, np.int32 if m < 2 ** 31 else np.int64)
    fcells = np.empty(nf, np.int32 if n < 2 ** 31 else np.int64)
    fpos = np.empty(nf, np.int32 if M < 2 ** 31 else np.int64)

    def piece(t):
        i, a, e = items[t]
        C, R, cc = cells[i]
        ca, cb = cc[a], cc[e]
        args = (C[ca:cb], R[ca:cb], _rebase(cc, a, e), isfac[k0[i] + ca: k0[i] + cb], kidx[g0[i] + a: g0[i] + e],
                bounds, fstart, box_id0, n_units, g0[i] + a, k0[i] + ca, raw, A, b, Cs, frows, fcells, fpos)
        k = _omp_threads(n_jobs, e - a, d=d) if len(items) == 1 else 0
        if k:
            _omp_run(k, _region_rows_par, *args)
        else:
            _region_rows_kernel(*args)

    def done(i):
        cells[i] = None

    _waves(items, n_jobs, piece, done)
    if raw:
        A, b = _unit_rows(A, d)
    return A, b, Cs, bounds, frows, fcells, fpos, kidx, live


@_njit
def _region_rows_kernel(Cid, Crow, coff, isfacet, kidx, bounds, fstart, box_id0, n_units, cell0, cand0, raw, A, b, Cs,
                        frows, fcells, fpos):
    """:func:`_region_rows` on a piece of cells (the first is cell ``cell0`` of the complex,
    its first candidate row ``cand0``): each alive cell's kept rows (facets not on the box)
    sorted by id (insertion, stable: a cell has few rows), as unit rows (the arithmetic of
    :func:`_unit_rows_kernel`; with ``raw`` the rows ``(a, c)`` as they are)."""
    n = coff.shape[0] - 1
    d = Crow.shape[1] - 1
    mr = 1  # the most rows of a cell: scratch allocated once (grown in the loop, numba
    for p in range(n):  # would keep reference counting in it)
        mr = max(mr, coff[p + 1] - coff[p])
    buf = np.empty(mr, np.int64)  # the cell's kept rows in candidate order
    srt = np.empty(mr, np.int64)  # ... sorted by id
    rank = np.empty(mr, np.int64)  # each kept row's place in the sorted order
    for p in range(n):
        k = kidx[p]
        if k < 0:
            continue
        m = 0
        for r in range(coff[p], coff[p + 1]):
            if not isfacet[r] or (box_id0 >= 0 and Cid[r] >= box_id0):
                continue
            buf[m] = r
            i = m
            while i > 0 and Cid[srt[i - 1]] > Cid[r]:
                srt[i] = srt[i - 1]
                i -= 1
            srt[i] = r
            m += 1
        start = bounds[k]
        for j in range(m):
            r = srt[j]
            q = start + j
            Cs[q] = Cid[r]
            if raw:
                for t in range(d + 1):
                    A[q, t] = Crow[r, t]
                continue
            _unit_row(Crow, r, d, A, b, q)
        # the unit facets in candidate order, with their places among the sorted rows
        f = fstart[k]
        for j in range(m):
            r = srt[j]
            for jj in range(m):
                if buf[jj] == r:
                    rank[jj] = j
                    break
        for jj in range(m):
            r = buf[jj]
            if Cid[r] < n_units:
                frows[f] = cand0 + r
                fcells[f] = cell0 + p
                fpos[f] = start + rank[jj]
                f += 1


@_njit_par
def _region_rows_par(Cid, Crow, coff, isfacet, kidx, bounds, fstart, box_id0, n_units, cell0, cand0, raw, A, b, Cs,
                     frows, fcells, fpos, k):
    """:func:`_region_rows_kernel` on ``k`` threads, one piece of consecutive cells each
    (each cell writes its rows at its own places: the same outputs)."""
    n = coff.shape[0] - 1
    for t in _prange(k):
        a = t * n // k
        e = (t + 1) * n // k
        ca, cb = coff[a], coff[e]
        _region_rows_kernel(Cid[ca:cb], Crow[ca:cb], coff[a: e + 1] - ca, isfacet[ca:cb], kidx[a:e], bounds, fstart,
                            box_id0, n_units, cell0 + a, cand0 + ca, raw, A, b, Cs, frows, fcells, fpos)


# ---------------------------------------------------------------------------- helpers
def applies(net, domain) -> bool:
    """Whether ``method="auto"`` should use the subdivision engine.

    True for input dimension 2 to ``AUTO_MAX_DIM`` over a bounded domain (in dimension
    d with at least ``AUTO_MIN_UNITS.get(d, 0)`` hidden units), and 2 to
    ``AUTO_MAX_DIM_UNBOUNDED`` over all of R^d (``domain=None``); LP traversal
    otherwise. The limits are the measured crossovers against the LP engine
    (benchmarks/enumerate.py, table in docs/subdivision.md): per region the LP engine
    pays LPs whose number grows with the units, the subdivision engine cells whose
    vertex count grows exponentially with d (a box in 10-D has 1024 corners).

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.ones((3, 2))], [np.zeros(3)])
    >>> pr.subdivision.applies(net, pr.Box(-1.0, 1.0, dim=2))
    True
    """
    net = as_network(net)
    d = net.input_dim
    if domain is None:
        return 2 <= d <= AUTO_MAX_DIM_UNBOUNDED
    return (2 <= d <= AUTO_MAX_DIM and net.n_neurons >= AUTO_MIN_UNITS.get(d, 0)
            and isinstance(domain, Polytope) and domain.bounded)


def _initial_cell(Ad, bd, n_units, snap_rel):
    """Vertices, incidences and edges of the polytope {A x <= b} (bounded, full-dimensional)."""
    d = Ad.shape[1]
    if Ad.shape == (2 * d, d) and np.array_equal(Ad, _box_rows(d)):
        return _box_cell(bd[:d], -bd[d:], n_units)
    from scipy.spatial import HalfspaceIntersection

    from .lp import chebyshev_center

    x, _ = chebyshev_center(Ad, bd)
    if d == 1:
        a = Ad[:, 0]
        V = np.array([[np.max(bd[a < 0] / a[a < 0])], [np.min(bd[a > 0] / a[a > 0])]])
    else:
        V = HalfspaceIntersection(np.hstack([Ad, -bd[:, None]]), x).intersections
        # qhull repeats a vertex once per simplicial facet of the dual at degenerate vertices
        V = _unique_rows(V, snap_rel * max(1.0, np.abs(V).max()))
    scale = float(np.max(V.max(axis=0) - V.min(axis=0)))
    snap = snap_rel * scale
    n_ids = n_units + len(bd)
    W = (n_ids + 63) // 64
    on = np.abs(V @ Ad.T - bd) <= DOMAIN_VERTEX_SNAPS * snap  # the domain's own vertices: qhull accuracy
    F = np.zeros((len(V), W), np.uint64)
    for r in range(len(bd)):
        gid = n_units + r
        F[on[:, r], gid >> 6] |= np.uint64(1) << np.uint64(gid & 63)
    E = _polytope_edges(F, d).astype(np.int32)
    keep = on.sum(axis=0) >= d
    Cid = (n_units + np.flatnonzero(keep)).astype(np.int32)
    Crow = np.hstack([-Ad[keep], bd[keep, None]])
    return V, F, E, Cid, Crow, scale


@functools.lru_cache(maxsize=None)
def _box_rows(d):
    """The rows of a box in dimension d, ``x_j <= hi_j`` then ``-x_j <= -lo_j`` (read-only)."""
    A = np.vstack([np.eye(d), -np.eye(d)])
    A.setflags(write=False)
    return A


def _box_cell(hi, lo, n_units):
    """:func:`_initial_cell` of the box ``[lo, hi]`` (rows ``x_j <= hi_j``, then
    ``-x_j <= -lo_j``), read off its corners without an LP or qhull (:func:`_box_cell_kernel`)."""
    hi = np.ascontiguousarray(hi, dtype=np.float64)
    lo = np.ascontiguousarray(lo, dtype=np.float64)
    return _box_cell_kernel(hi, lo, n_units) + (float(np.max(hi - lo)),)


@_njit
def _box_cell_kernel(hi, lo, n_units):
    """The corners of the box (corner i has x_j = hi_j where bit j of i is set, else lo_j),
    their bitsets (on row j when bit j is set, on row d + j when not), the edges (corners
    one coordinate apart, in lexicographic order) and the candidate rows ``(-e_j, hi_j)``,
    ``(e_j, -lo_j)`` (ids from ``n_units``; -0.0 and 0.0 as ``-eye``, ``eye`` have them)."""
    d = hi.shape[0]
    nv = 1 << d
    W = (n_units + 2 * d + 63) // 64
    V = np.empty((nv, d))
    F = np.zeros((nv, W), np.uint64)
    E = np.empty((nv * d // 2, 2), np.int32)
    ne = 0
    for i in range(nv):
        for j in range(d):
            up = (i >> j) & 1
            V[i, j] = hi[j] if up else lo[j]
            g = n_units + j + (0 if up else d)
            F[i, g >> 6] |= np.uint64(1) << np.uint64(g & 63)
            if not up:  # edges (i, i | 2^j) come out sorted: i, then j
                E[ne, 0] = i
                E[ne, 1] = i | (1 << j)
                ne += 1
    Cid = np.empty(2 * d, np.int32)
    Crow = np.empty((2 * d, d + 1))
    for r in range(d):
        Cid[r] = n_units + r
        Cid[d + r] = n_units + d + r
        for k in range(d):
            Crow[r, k] = -1.0 if k == r else -0.0
            Crow[d + r, k] = 1.0 if k == r else 0.0
        Crow[r, d] = hi[r]
        Crow[d + r, d] = -lo[r]
    return V, F, E, Cid, Crow


def _unique_rows(V, tol):
    out = []
    for v in V:
        if not any(np.max(np.abs(v - u)) <= tol for u in out):
            out.append(v)
    return np.array(out)


def _layer1_extent(net):
    """Largest |coordinate| of the point nearest the origin of every flat of the first
    layer's arrangement (the intersection of 1..d of its hyperplanes; for d of them, a
    vertex). A box containing these meets every face of the first layer's arrangement."""
    from itertools import combinations

    W, b = np.asarray(net.weights[0]), np.asarray(net.biases[0])
    n, d = W.shape
    if sum(comb(n, k) for k in range(1, d + 1)) > _MAX_SUBSETS:
        return None
    nrm = np.linalg.norm(W, axis=1)
    live = nrm > 0
    W, b = W[live] / nrm[live, None], b[live] / nrm[live]  # unit normals: the test is about angles
    n = len(b)
    out = 0.0
    for k in range(1, min(n, d) + 1):
        idx = np.array(list(combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
        M = W[idx]  # (s, k, d)
        # independent rows: the smallest singular value above FLAT_SV_RTOL (a Gram
        # determinant would square it: two lines at an angle of 1e-9 have det 1e-18,
        # rounded to 0, and their vertex 1e9 out would be missed)
        U, S, Vt = np.linalg.svd(M, full_matrices=False)
        ok = S[:, -1] > FLAT_SV_RTOL * S[:, 0]
        if not ok.any():
            continue
        y = np.einsum("skj,sk->sj", U[ok], -b[idx[ok]]) / S[ok]
        X = np.einsum("sjd,sj->sd", Vt[ok], y)  # least-norm point of the flat
        out = max(out, float(np.abs(X).max()))
    return out


def _packed_keys(P):
    P = np.ascontiguousarray(np.packbits(P, axis=1))
    return P.view(np.dtype((np.void, P.shape[1]))).ravel()


# ---------------------------------------------------------------------------- engine
class _Run:
    """One subdivision of a bounded polytope (the domain, or the domain cut by a box)."""

    def __init__(self, net, K, Ad, bd, box_id0, snap_rel, floor, zero, max_bytes, max_regions, partial,
                 progress, n_jobs=1):
        self.net, self.K = net, K
        self.d = net.input_dim
        self.offsets = np.asarray(net.offsets[: K + 1])
        self.n = int(self.offsets[-1])
        self.box_id0 = box_id0
        V, F, E, Cid, Crow, self.box_scale = _initial_cell(Ad, bd, self.n, snap_rel)
        nd = len(bd) - (2 * self.d if box_id0 >= 0 else 0)  # the domain's own rows come first
        self.domain_rows = (Ad[:nd], bd[:nd])
        self.snap, self.floor = snap_rel, floor
        # per layer: gradient norm below which a unit is constant, |constant| below which zero
        self.zero_rel, self.zero_abs = zero
        # the complex: a list of chunks (V, F, vo, E, eo, C, R, co), offsets from 0 in each
        self.cells = [(V, F, np.array([0, len(V)]), E, np.array([0, len(E)]), Cid, Crow, np.array([0, len(Cid)]))]
        self.max_bytes, self.max_regions, self.partial = max_bytes, max_regions, partial
        self.progress = progress
        self.n_jobs = n_jobs
        self.truncated = False
        self.grow = 1.0  # the last layer's growth in cells (GROW_MAX at most): the next one's first guess
        self.rank_future = None  # the ranks left to a pool thread (run(defer_ranks=True))

    def _cut_layer(self, H, l, zthr):
        """One layer's cut (:func:`_layer`). From d = ``SPLIT_MIN_DIM`` on, while the
        complex has fewer than ``SPLIT_MAX_CELLS`` cells (the first layer starts from one),
        the layer is cut one neuron at a time, so that the pieces become cells that the
        threads share; the pieces come out in the same order either way (each cell's
        pieces, each cut's positive half first). Whether to split depends on the data
        only, never on ``n_jobs``."""
        base, zabs = int(self.offsets[l]), float(self.zero_abs[l])
        cells = self.cells
        ncells = _n_cells(cells)
        if self.d < SPLIT_MIN_DIM or ncells >= SPLIT_MAX_CELLS:
            return _layer(cells, H, base, zthr, zabs, self.snap, self.floor, self.max_bytes, self.n_jobs, self.grow)
        nl = H.shape[1]
        P_all = np.arange(ncells)  # current cell -> cell of the complex before the layer
        B_all = np.zeros((ncells, 0), dtype=bool)
        j = 0
        while j < nl:
            j1 = j + 1 if ncells < SPLIT_MAX_CELLS else nl
            Hj = np.ascontiguousarray(H[P_all if H.shape[0] > 1 else np.zeros(ncells, np.int64), j:j1])
            cells, B, P, over = _layer(cells, Hj, base + j, zthr, zabs, self.snap, self.floor, self.max_bytes,
                                       self.n_jobs)
            if over:
                return cells, B, P, over
            B_all = np.hstack([B_all[P], B])
            P_all = P_all[P]
            ncells = _n_cells(cells)
            j = j1
        return cells, B_all, P_all, 0

    def run(self, defer_ranks=False):
        """The subdivision: the final cells' patterns and ranks per layer. With
        ``defer_ranks`` and several threads, the ranks of the small layers (those whose
        maps are kept for the neighbour pass, and whose ranks one thread computes) are
        left to a pool thread after the run: ``rk`` is then complete only after
        :meth:`wait_ranks`."""
        net, K, d = self.net, self.K, self.d
        ncells = 1
        bits, parents, ranks = [], [], []
        pending = []  # (layer, maps, parents, bits, zthr) of the layers whose ranks wait
        self.rank_future = None
        self.parents = parents  # per layer: each new cell's cell before it
        self.maps = []  # the last layer's (cells before it, units, d + 1) pre-activation maps
        # every layer's maps, for the neighbour pass, while they take at most KEEP_MAPS_BYTES
        self.kept, kept_bytes = [], 0
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=K, desc="subdivision", unit=" layer")
        try:
            for l in range(K):
                Wl, bl = np.asarray(net.weights[l], dtype=np.float64), np.asarray(net.biases[l], dtype=np.float64)
                if l == 0:
                    H = np.empty((1, len(bl), d + 1))
                    H[0, :, :d] = Wl
                    H[0, :, d] = bl
                elif l == K - 1 and ncells > LAYER_CHUNK_CELLS and (d < SPLIT_MIN_DIM or ncells >= SPLIT_MAX_CELLS):
                    # the last layer's maps are needed by no later layer: built piece by piece
                    # (where there is more than one piece: else built once, not for cuts and ranks)
                    H = _LazyMaps(self.maps[-1], parents[-1], bits[-1], np.ascontiguousarray(Wl), bl,
                                  self.n_jobs)
                else:  # z_l = W_l (B z_{l-1}) + b_l on each new cell, z_{l-1} from its parent
                    H = _cellwise(_next_maps, self.n_jobs, (self.maps[-1], parents[-1], bits[-1],
                                                            np.ascontiguousarray(Wl), bl), (1, 2),
                                  _min_chunk("maps", d), d)
                self.maps = [H]  # the earlier ones are rebuilt by the neighbour pass, or kept when small
                if self.kept is not None:
                    kept_bytes += H.shape[0] * H.shape[1] * H.shape[2] * 8
                    self.kept = None if isinstance(H, _LazyMaps) or kept_bytes > KEEP_MAPS_BYTES else self.kept + [H]
                zthr = float(self.zero_rel[l])
                cells, B, P, over = self._cut_layer(H, l, zthr)
                if over:
                    raise MemoryBudgetError(
                        f"The subdivision needs more than max_memory={self.max_bytes} bytes at layer "
                        f"{l + 1}. Raise max_memory, shrink the domain, or use method='lp'.")
                n_new = len(B)
                if n_new * _REGION_BYTES > self.max_bytes:
                    raise MemoryBudgetError(
                        f"{n_new} cells after layer {l + 1} would need about {n_new * _REGION_BYTES} "
                        f"bytes as Regions, over max_memory={self.max_bytes}. Raise max_memory or "
                        "shrink the domain.")
                if n_new > self.max_regions:
                    if not self.partial:
                        raise RegionLimitError(
                            f"The subdivision passed max_regions={self.max_regions} at layer {l + 1} "
                            f"({n_new} cells). Raise max_regions, shrink the domain, or pass partial=True "
                            "to enumerate_regions to get the regions found so far (marked partial).")
                    # keep whole cells: their descendants are genuine regions
                    m = self.max_regions
                    kept, left = [], m
                    for V, F, vo, E, eo, C, R, co in cells:
                        if left <= 0:
                            break
                        k = min(left, len(vo) - 1)
                        kept.append((V[: vo[k]], F[: vo[k]], vo[: k + 1], E[: eo[k]], eo[: k + 1], C[: co[k]],
                                     R[: co[k]], co[: k + 1]))
                        left -= k
                    cells = kept
                    B, P = B[:m], P[:m]
                    n_new = m
                    self.truncated = True
                self.cells = cells
                # rank A_l <= rank A_{l-1}, as in the LP engine
                cap = None
                if (defer_ranks and self.n_jobs > 1 and self.kept is not None and not isinstance(H, _LazyMaps)
                        and _bounds(n_new, self.n_jobs, _min_chunk("ranks", d)) is None
                        and not _omp_threads(self.n_jobs, n_new, d=d)):  # (numba's threads: no hand-off)
                    pending.append((l, H, P, B, zthr))  # computed after the run, on a pool thread
                    ranks.append(None)
                else:
                    _layer_ranks(pending, ranks, d)  # the cap needs the earlier layers' ranks
                    cap = ranks[l - 1][P] if l > 0 else np.full(n_new, d, dtype=np.int64)
                    if isinstance(H, _LazyMaps):  # by runs of parents (P is non-decreasing)
                        rk_l = np.empty(n_new, dtype=np.int64)
                        for c0 in range(0, n_new, LAYER_CHUNK_CELLS):
                            c1 = min(n_new, c0 + LAYER_CHUNK_CELLS)
                            p0, p1 = int(P[c0]), int(P[c1 - 1]) + 1
                            rk_l[c0:c1] = _batched_ranks(H[p0:p1], P[c0:c1] - p0, B[c0:c1], d, cap[c0:c1], zthr,
                                                         self.n_jobs)
                        ranks.append(rk_l)
                    else:
                        ranks.append(_batched_ranks(H, P, B, d, cap, zthr, self.n_jobs))
                bits.append(B)
                parents.append(P)
                self.grow = min(GROW_MAX, max(1.0, n_new / max(ncells, 1)))
                ncells = n_new
                del cells, B, P, H, cap
                _release_heap(n_new)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        self.maps = None  # the neighbour pass rebuilds what it needs
        # flat patterns and ranks per layer, traced back through the parents
        pat = np.zeros((ncells, self.n), dtype=bool)
        rk = np.zeros((ncells, K), dtype=np.int64)
        idx = np.arange(ncells)
        where = {}  # layer -> each final cell's cell of that layer, for the ranks that wait
        # where every layer's bits start at a multiple of 8, they are copied 8 at a time
        words = self.n % 8 == 0 and all(B.shape[1] % 8 == 0 and B.flags.c_contiguous for B in bits)
        for l in range(K - 1, -1, -1):
            if ranks[l] is None:
                where[l] = idx
            o, B = int(self.offsets[l]), bits[l]
            if words:
                o, B = o // 8, B.view(np.uint64)
            idx = _trace_layer(pat.view(np.uint64) if words else pat, rk, l, o, B,
                               ranks[l] if ranks[l] is not None else np.zeros(len(bits[l]), np.int64), parents[l],
                               idx)
        if pending:
            self.rank_future = _pool(self.n_jobs - 1).submit(_fill_ranks, pending, ranks, d, rk, where)
        return pat, rk

    def wait_ranks(self):
        """Wait for the ranks left to a pool thread by ``run(defer_ranks=True)``."""
        if self.rank_future is not None:
            self.rank_future.result()
            self.rank_future = None

    def drop_ranks(self):
        """Cancel the ranks left to a pool thread if they have not started (the run is given
        up: a box found too small); :func:`_settle` waits for them if they have."""
        if self.rank_future is not None and self.rank_future.cancel():
            self.rank_future = None


def _settle(runs):
    """Cancel, or wait for, the ranks the runs ``runs`` left to a pool thread and that no one
    waited for (runs given up, or an error before :meth:`_Run.wait_ranks`), so that none
    outlives the call that started it; their errors concern ranks no one reads."""
    for run in runs:
        run.drop_ranks()
    for run in runs:
        if run.rank_future is not None:
            run.rank_future.exception()
            run.rank_future = None


def _layer_ranks(pending, ranks, d, n_jobs=1):
    """The ranks of the layers in ``pending`` (emptied), in layer order: each capped by
    the previous layer's (:func:`_batched_ranks`)."""
    while pending:
        l, H, P, B, zthr = pending.pop(0)
        cap = ranks[l - 1][P] if l > 0 else np.full(len(P), d, dtype=np.int64)
        ranks[l] = _batched_ranks(H, P, B, d, cap, zthr, n_jobs)


def _fill_ranks(pending, ranks, d, rk, where):
    """:func:`_layer_ranks` of the layers in ``pending``, written into the final cells'
    ranks ``rk`` (``where[l]``: each final cell's cell of layer l)."""
    layers = [p[0] for p in pending]
    _layer_ranks(pending, ranks, d)
    for l in layers:
        rk[:, l] = ranks[l][where[l]]


@_njit
def _trace_layer(pat, rk, l, o, B, rank, parent, idx):
    """``pat[:, o:o + nl] = B[idx]``, ``rk[:, l] = rank[idx]``; returns ``parent[idx]``
    (bools, or the same bytes as uint64 words)."""
    nl = B.shape[1]
    out = np.empty_like(idx)
    for c in range(idx.shape[0]):
        i = idx[c]
        for j in range(nl):
            pat[c, o + j] = B[i, j]
        rk[c, l] = rank[i]
        out[c] = parent[i]
    return out


def _release_heap(n_cells):
    """Give the freed heap pages back to the OS (glibc keeps the holes left by freed chunks
    of the complex otherwise: resident memory would exceed what is alive by ~15 %), in runs
    of at least ``TRIM_MIN_CELLS`` cells (``n_cells``)."""
    if n_cells >= TRIM_MIN_CELLS:
        release_heap()


class _LazyMaps:
    """The maps :func:`_next_maps` would build, built for a range of cells when sliced
    (``maps[a:b]``: the same numbers, cell by cell, on ``n_jobs`` threads), so that the last
    layer's maps never exist whole."""

    def __init__(self, H, P, B, W, b, n_jobs=1):
        self.H, self.P, self.B, self.W, self.b, self.n_jobs = H, P, B, W, b, n_jobs
        self.shape = (len(P), W.shape[0], H.shape[2])

    def rows(self, a, b, n_jobs):
        """The maps of cells ``a..b`` on ``n_jobs`` threads (1 inside a pool's worker: the
        pool is shared, a worker waiting on it could wait for ever)."""
        d = self.H.shape[2] - 1
        return _cellwise(_next_maps, n_jobs, (self.H, self.P[a:b], self.B[a:b], self.W, self.b), (1, 2),
                         _min_chunk("maps", d), d)

    def __getitem__(self, key):
        if not (isinstance(key, slice) and key.step in (None, 1)):
            raise TypeError("_LazyMaps: contiguous slices only")
        a, b, _ = key.indices(self.shape[0])
        return self.rows(a, b, self.n_jobs)


@_njit
def _next_maps(H, P, B, W, b):
    """Pre-activation maps of the next layer on each cell: ``W (B_c * H[P_c]) + b``."""
    out = np.empty((B.shape[0], W.shape[0], H.shape[2]))
    _next_maps_into(H, P, B, W, b, out)
    return out


@_njit_par
def _maps_par(H, P, B, W, b, k):
    """:func:`_next_maps` on ``k`` threads, one piece of consecutive cells each."""
    n = B.shape[0]
    out = np.empty((n, W.shape[0], H.shape[2]))
    for t in _prange(k):
        a = t * n // k
        e = (t + 1) * n // k
        _next_maps_into(H, P[a:e], B[a:e], W, b, out[a:e])
    return out


@_njit
def _next_maps_into(H, P, B, W, b, out):
    """:func:`_next_maps` written into ``out``."""
    n, nl = B.shape
    m = W.shape[0]
    d1 = H.shape[2]
    WT = np.ascontiguousarray(W.T)
    acc = np.empty((d1, m))  # one cell's map, transposed: the loop over units is contiguous
    for c in range(n):
        p = P[c]
        for i in range(m):  # element by element: a slice of the shared b would make the
            for k in range(d1 - 1):  # threads wait on its atomic reference count, cell by cell
                acc[k, i] = 0.0
            acc[d1 - 1, i] = b[i]
        for j in range(nl):  # each entry sums its active inputs in ascending order
            if not B[c, j]:
                continue
            for k in range(d1):
                h = H[p, j, k]
                for i in range(m):
                    acc[k, i] += WT[j, i] * h
        for i in range(m):
            for k in range(d1):
                out[c, i, k] = acc[k, i]


#: The rank rule's Cholesky certificate (polyrank.rank), compiled for the kernels.
_certificate_shift = _njit(certificate_shift)
_cholesky_full_rank = _njit(cholesky_full_rank)


@_njit
def _certified_ranks(H, P, B, d, cap, zthr):
    """Rank of the active rows of ``H[P_c, :, :d]`` for each cell when it is certified to
    equal ``m = min(size, d)`` by the Cholesky certificate of :mod:`polyrank.rank`
    (:func:`~polyrank.rank.certificate_shift`, :func:`~polyrank.rank.cholesky_full_rank`)
    on the m x m Gram matrix. Rows with norm at most ``zthr`` (constant units) count as
    zero. Returns the ranks and the cells left to an SVD (-1)."""
    n, nl = B.shape
    out = np.full(n, -1, np.int64)
    rows = np.empty(nl, np.int64)
    G = np.zeros((d, d))
    live = np.empty(nl, np.bool_)  # the rows of H[p] above zthr, for a run of cells with one p
    last = -1
    for c in range(n):
        p = P[c]
        if p != last:
            for j in range(nl):
                acc = 0.0
                for k in range(d):
                    acc += H[p, j, k] * H[p, j, k]
                live[j] = math.sqrt(acc) > zthr
            last = p
        size = 0  # the codeword size, for the threshold
        nr = 0  # active rows above zthr
        for j in range(nl):
            if B[c, j]:
                size += 1
                if live[j]:
                    rows[nr] = j
                    nr += 1
        m = min(nr, d)
        if m == 0 or cap[c] == 0:
            out[c] = 0
            continue
        if m == 1 or cap[c] == 1:  # a non-zero row: the largest singular value counts
            out[c] = 1
            continue
        tr = 0.0
        for a in range(m):
            for q in range(a + 1):
                acc = 0.0
                if nr <= d:  # rows' Gram
                    for k in range(d):
                        acc += H[p, rows[a], k] * H[p, rows[q], k]
                else:  # columns' Gram
                    for r in range(nr):
                        acc += H[p, rows[r], a] * H[p, rows[r], q]
                G[a, q] = acc
            tr += G[a, a]
        if tr > 0.0 and _cholesky_full_rank(G, m, _certificate_shift(tr, nr, size, d)):
            out[c] = min(m, cap[c])
    return out


def _cellwise(kernel, n_jobs, args, per_cell, min_chunk=PARALLEL_MIN_CHUNK, d=None):
    """``kernel(*args)`` for a kernel that works cell by cell (one output row per cell; the
    arguments at the positions ``per_cell`` have one row per cell), on chunks of cells in
    parallel, concatenated in cell order (the same output for any number of threads); too
    few cells for the pool go to the kernel's numba driver (:func:`_omp_threads`; ``d``: the
    input dimension, None for none), if any."""
    n = len(args[per_cell[0]])
    bounds = _bounds(n, n_jobs, min_chunk)
    if bounds is None:
        driver = _OMP_DRIVERS.get(kernel)
        k = _omp_threads(n_jobs, n, d=d) if driver is not None and d is not None else 0
        return _omp_run(k, driver, *args) if k else kernel(*args)

    def chunk(a, b):
        return kernel(*[x[a:b] if i in per_cell else x for i, x in enumerate(args)])

    return np.concatenate(_pmap(chunk, bounds, n_jobs))


@_njit_par
def _ranks_par(H, P, B, d, cap, zthr, k):
    """:func:`_certified_ranks` on ``k`` threads, one piece of consecutive cells each."""
    n = B.shape[0]
    out = np.empty(n, np.int64)
    for t in _prange(k):
        a = t * n // k
        e = (t + 1) * n // k
        out[a:e] = _certified_ranks(H, P[a:e], B[a:e], d, cap[a:e], zthr)
    return out


#: The numba drivers of the kernels that :func:`_cellwise` runs.
_OMP_DRIVERS = {_next_maps: _maps_par, _certified_ranks: _ranks_par}


def _batched_ranks(H, P, B, d, cap, zthr, n_jobs=1):
    """rank of the active rows of each cell's map under the rank rule of
    :mod:`polyrank.rank` (rows of norm <= ``zthr`` are zero; capped by ``cap``): certified
    by the Cholesky certificate where possible, else :func:`~polyrank.rank.batched_ranks`."""
    out = _cellwise(_certified_ranks, n_jobs, (H, P, B, d, cap, zthr), (1, 2, 4), _min_chunk("ranks", d), d)
    todo = np.flatnonzero(out < 0)
    for s in range(0, len(todo), RANK_CHUNK):  # the stack of maps is built one chunk at a time
        idx = todo[s: s + RANK_CHUNK]
        out[idx] = batched_ranks(H[P[idx], :, :d] * B[idx, :, None], sizes=B[idx].sum(axis=1),
                                 zero_tol=zthr, cap=cap[idx])
    return out


@_njit
def _neighbor_kernel(Cc, N, cell, pat, flip, WTflat, woff, bflat, offsets, d, on_tol, zthr, zabs, praw, anc,
                     Hflat, hoff, WT3, with_pat):
    """Patterns just across facets: centre ``Cc``, outward unit normal ``N``, own pattern
    ``pat[cell]``; unit ``flip`` carries the facet. The LP engine's rule: the sign of the
    pre-activation at the centre when it is clearly non-zero, else the sign of its
    one-sided derivative along the normal; the facet's own unit flips.

    The cell's own pre-activation maps give the values at the centre. They are rebuilt
    here layer by layer, as :func:`_next_maps` built them during the run (the same sums in
    the same order, so the same numbers), from the bits ``praw`` the run cut with; a map is
    rebuilt only from the first layer whose ancestor cell (``anc[c, l]``, the cell of the
    complex before layer ``l``) differs from the previous facet's cell's, so consecutive
    cells share their ancestors' maps and the run need not keep the maps of every layer
    (they took more memory than the cells). Where the run kept them (``hoff[0] >= 0``:
    layer l's maps of the cells before it, flat in ``Hflat`` from ``hoff[l]``), they are
    read instead of rebuilt. The Jacobian of the neighbour's map equals the own region's up to the
    first layer where the neighbour's pattern differs; after it, rows are computed per
    facet. ``WTflat`` holds each layer's transposed weights, so the sums over inputs run
    in ascending order for all units of a layer at once; ``WT3[l]`` holds them again for the
    rebuilt maps (``WT3[l, j, i]``: unit ``i``'s weight on input ``j``), which are summed on
    the transposed maps ``HT[l]`` (``d + 1`` rows of the layer's units) so that the loop over
    the units is contiguous and vectorises, as in :func:`_next_maps`.

    Returns the patterns (with ``with_pat``, else none) and their keys (:func:`_bit_keys`)."""
    m = Cc.shape[0]
    n = offsets[offsets.shape[0] - 1]
    out = np.zeros((m if with_pat else 0, n), np.bool_)
    keys = np.zeros((m, max(1, (n + 63) >> 6)), np.uint64)
    _neighbor_range(0, m, out, keys, Cc, N, cell, pat, flip, WTflat, woff, bflat, offsets, d, on_tol, zthr, zabs,
                    praw, anc, Hflat, hoff, WT3, with_pat)
    return out, keys


@_njit_par
def _neighbor_par(Cc, N, cell, pat, flip, WTflat, woff, bflat, offsets, d, on_tol, zthr, zabs, praw, anc, Hflat,
                  hoff, WT3, with_pat, k):
    """:func:`_neighbor_kernel` on ``k`` threads, one piece of consecutive facets each (a
    piece rebuilds the maps of its first cell: the same numbers, see the kernel)."""
    m = Cc.shape[0]
    n = offsets[offsets.shape[0] - 1]
    out = np.zeros((m if with_pat else 0, n), np.bool_)
    keys = np.zeros((m, max(1, (n + 63) >> 6)), np.uint64)
    for t in _prange(k):
        _neighbor_range(t * m // k, (t + 1) * m // k, out, keys, Cc, N, cell, pat, flip, WTflat, woff, bflat, offsets,
                        d, on_tol, zthr, zabs, praw, anc, Hflat, hoff, WT3, with_pat)
    return out, keys


@_njit
def _neighbor_range(f0, f1, out, keys, Cc, N, cell, pat, flip, WTflat, woff, bflat, offsets, d, on_tol, zthr, zabs,
                    praw, anc, Hflat, hoff, WT3, with_pat):
    """:func:`_neighbor_kernel` on the facets ``f0..f1``, written into ``out`` and ``keys``."""
    K = offsets.shape[0] - 1
    n = offsets[K]
    wmax = 0
    for l in range(K):
        wmax = max(wmax, offsets[l + 1] - offsets[l])
    nw = keys.shape[1]
    row = np.zeros((1, n), np.bool_)  # the facet's neighbour pattern (one row: packed without a view)
    ckey = np.zeros((1, nw), np.uint64)  # the cell's key
    Jo = np.zeros((n, d))  # own pre-activation Jacobian rows
    mo = np.zeros(n)  # own pre-activation offsets: z = Jo x + mo on the cell
    no = np.zeros(n)  # norms of the rows of Jo
    thr = np.zeros(n)  # |z| below this at a centre: the unit's hyperplane passes through it
    JoT = np.zeros((d, n))
    HT = np.zeros((K if hoff[0] < 0 else 0, d + 1, wmax))  # each layer's map, transposed
    zs = np.zeros(n)
    Jf = np.zeros((n, d))  # the neighbour's post-activation rows once it differs
    hf = np.zeros(n)
    z = np.zeros(wmax)
    Jl = np.zeros((wmax, d))
    cur = -1
    for f in range(f0, f1):
        c = cell[f]
        if c != cur:
            # the first layer whose map differs from the previous cell's (all of them at first)
            l0 = 0
            if cur >= 0:
                l0 = K
                for l in range(1, K):
                    if anc[c, l] != anc[cur, l]:
                        l0 = l
                        break
            cur = c
            for l in range(l0, K):
                o = offsets[l]
                nl = offsets[l + 1] - o
                if hoff[0] >= 0:  # the run's own maps (the same numbers as rebuilt below)
                    base = hoff[l] + (anc[c, l] if l > 0 else 0) * nl * (d + 1)
                    for i in range(nl):
                        for k in range(d):
                            Jo[o + i, k] = Hflat[base + i * (d + 1) + k]
                        mo[o + i] = Hflat[base + i * (d + 1) + d]
                elif l == 0:  # the first layer's map: its weights and biases
                    for i in range(nl):
                        for k in range(d):
                            Jo[i, k] = WTflat[woff[0] + k * nl + i]
                        mo[i] = bflat[i]
                else:  # W_l (B * H_{l-1}) + b_l, summed as _next_maps does: each entry
                    # sums its active inputs in ascending order (from 0, the offset from b_l)
                    for k in range(d):
                        for i in range(nl):
                            HT[l, k, i] = 0.0
                    for i in range(nl):
                        HT[l, d, i] = bflat[o + i]
                    for j in range(o - offsets[l - 1]):
                        if not praw[c, offsets[l - 1] + j]:
                            continue
                        for k in range(d + 1):
                            h = HT[l - 1, k, j]
                            for i in range(nl):
                                HT[l, k, i] += WT3[l, j, i] * h
                    for i in range(nl):
                        for k in range(d):
                            Jo[o + i, k] = HT[l, k, i]
                        mo[o + i] = HT[l, d, i]
                for i in range(nl):
                    acc = 0.0
                    for k in range(d):
                        x = Jo[o + i, k]
                        JoT[k, o + i] = x  # a layer not redone keeps the previous cell's rows
                        acc += x * x
                    no[o + i] = math.sqrt(acc)
                    thr[o + i] = on_tol * no[o + i]
                if hoff[0] < 0:  # the next layer's rebuild reads this one's map
                    for i in range(nl):
                        for k in range(d):
                            HT[l, k, i] = Jo[o + i, k]
                        HT[l, d, i] = mo[o + i]
            _pack_bits(pat, c, ckey, 0)
        # general position (the LP engine's fast path): at the centre only the facet's
        # own unit vanishes, so the neighbour is the flip of that one unit (a branch-free
        # loop over the units, which the compiler vectorises)
        for v in range(n):
            zs[v] = mo[v]
        for k in range(d):
            x = Cc[f, k]
            for v in range(n):
                zs[v] += JoT[k, v] * x
        n_on = 0
        for v in range(n):
            n_on += abs(zs[v]) <= thr[v]
        u = flip[f]
        if n_on == 1 and abs(zs[u]) <= thr[u]:
            if with_pat:
                for v in range(n):
                    out[f, v] = pat[c, v]
                out[f, u] = not pat[c, u]
            if nw == 1:
                keys[f, 0] = ckey[0, 0] ^ (np.uint64(1) << np.uint64(u))
            else:
                for w in range(nw):
                    keys[f, w] = ckey[0, w]
                keys[f, u >> 6] ^= np.uint64(1) << np.uint64(u & 63)
            continue
        diverged = False
        for l in range(K):
            o = offsets[l]
            nl = offsets[l + 1] - o
            for i in range(nl):
                z[i] = bflat[o + i]
            if l == 0:
                for j in range(d):
                    base = woff[0] + j * nl
                    x = Cc[f, j]
                    for i in range(nl):
                        z[i] += WTflat[base + i] * x
            else:
                po = offsets[l - 1]
                for j in range(o - po):  # inactive inputs are 0.0 and add nothing
                    base = woff[l] + j * nl
                    x = hf[po + j]
                    for i in range(nl):
                        z[i] += WTflat[base + i] * x
            if diverged:
                po = offsets[l - 1]
                Jl[:nl] = 0.0
                for j in range(o - po):
                    base = woff[l] + j * nl
                    for i in range(nl):
                        w = WTflat[base + i]
                        for k in range(d):
                            Jl[i, k] += w * Jf[po + j, k]
            else:
                for i in range(nl):
                    for k in range(d):
                        Jl[i, k] = Jo[o + i, k]
            differs = False
            for i in range(nl):
                u = o + i
                g = 0.0
                nrm = 0.0
                for k in range(d):
                    g += Jl[i, k] * N[f, k]
                    nrm += Jl[i, k] * Jl[i, k]
                nrm = math.sqrt(nrm)
                if u == flip[f]:
                    p = not pat[c, u]
                elif nrm <= zthr[l]:  # constant: keeps the sign of its constant (LP engine)
                    p = z[i] > zabs[l]
                elif abs(z[i]) <= on_tol * nrm:  # vanishes at the centre: its derivative
                    p = g > zthr[l]
                else:
                    p = z[i] > 0
                row[0, u] = p
                hf[u] = z[i] if p else 0.0
                if diverged:
                    for k in range(d):
                        Jf[u, k] = Jl[i, k] if p else 0.0
                if p != pat[c, u]:
                    differs = True
            if differs and not diverged:
                diverged = True
                for i in range(nl):
                    for k in range(d):
                        Jf[o + i, k] = Jl[i, k] if row[0, o + i] else 0.0
        if with_pat:
            for v in range(n):
                out[f, v] = row[0, v]
        _pack_bits(row, 0, keys, f)


def _transposed_layers(net, K):
    """Layers 1..K of ``net`` for the compiled forward passes: each ``W_l`` transposed and
    raveled (the list, and concatenated with the offsets ``woff``), the biases concatenated."""
    Ws = [np.asarray(W, dtype=np.float64).T.ravel() for W in net.weights[:K]]
    woff = np.array([0] + list(itertools.accumulate(len(w) for w in Ws)), np.int64)
    return Ws, np.concatenate(Ws), woff, np.concatenate([np.asarray(b, dtype=np.float64) for b in net.biases[:K]])


def _neighbor_args(net, K, offsets, pat, praw, on_tol, zthr, zabs, parents, maps=None):
    """The arguments of :func:`_neighbor_kernel` after the facets' centres, normals, cells
    and units (``pat`` first, then from the transposed weights on), for cells with patterns
    ``pat`` (``praw``: the bits the run cut with, before the dead-layer tails; ``maps``: the
    run's maps of every layer where it kept them, else None)."""
    Ws, WTflat, woff, bflat = _transposed_layers(net, K)
    # the cell before layer l holding each cell (int32: only compared)
    anc = np.zeros((len(pat), K), dtype=np.int32 if len(pat) < 2 ** 31 else np.int64)
    idx = np.arange(len(pat))
    for l in range(K - 1, 0, -1):
        idx = parents[l][idx]
        anc[:, l] = idx
    if maps is not None:
        hoff = np.array([0, *itertools.accumulate(H.size for H in maps[:-1])], np.int64)
        Hflat = np.concatenate([H.ravel() for H in maps])
        WT3 = np.zeros((0, 0, 0))
    else:  # the maps are rebuilt: each layer's transposed weights, padded to the widest layer
        hoff, Hflat = np.full(K, -1, np.int64), np.zeros(0)
        widths = np.diff(np.asarray(offsets))
        WT3 = np.zeros((K, int(widths.max()), int(widths.max())))
        for l in range(1, K):
            WT3[l, : widths[l - 1], : widths[l]] = Ws[l].reshape(widths[l - 1], widths[l])
    return (np.ascontiguousarray(pat), WTflat, woff, bflat, np.asarray(offsets, dtype=np.int64),
            int(net.input_dim), float(on_tol), np.asarray(zthr, dtype=np.float64),
            np.asarray(zabs, dtype=np.float64), np.ascontiguousarray(praw), anc, Hflat, hoff, WT3)


def _box_rounding_note(R, tol, s):
    """None when the rounding along the box's edges (``BOX_ROUNDING_SAFETY * eps * 2R``,
    local units) stays within ``tol``; else the sentence for the precision notes."""
    err = BOX_ROUNDING_SAFETY * float(np.finfo(np.float64).eps) * 2.0 * R
    if err <= tol:
        return None
    return (f"Over this unbounded domain the engine's box reached half-width {s * R:.3g}: vertices cut on its "
            f"edges are rounded by up to {s * err:.3g}, above tol x size = {s * tol:.3g}, so regions thinner than "
            f"that may be merged into a neighbour without being counted. method='lp' (or 'auto', which then "
            f"uses it) resolves them.")


def enumerate_subdivision(net, domain=None, *, layer=None, max_regions=None, partial=False,
                          tol=None, progress=False, max_memory=DEFAULT_MAX_MEMORY, n_jobs=None,
                          edges=True, frame=None, strict=False) -> Decomposition:
    """Enumerate the linear regions of a network with 1-10 inputs by cutting the domain.

    This is the engine behind ``enumerate_regions(..., method="subdivision")`` (and
    ``method="auto"`` where :func:`applies`); it returns the same Decomposition as the
    LP engine without solving one LP per region.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
        Input dimension 1 to ``SUBDIVISION_MAX_DIM`` (10).
    domain : Box, Polytope, Simplex or None
        None means all of R^d: the engine then works in a box large enough to contain
        every vertex of the decomposition (see Notes), and regions reaching the box are
        reported unbounded, without the box's rows.
    layer : int, optional
        Decompose by the patterns of hidden layers 1..layer (default all).
    max_regions : int, optional
        Stop with RegionLimitError beyond this many regions (default
        ``DEFAULT_MAX_REGIONS``).
    partial : bool, default False
        Instead of raising at ``max_regions``, return at most ``max_regions`` regions,
        marked ``partial=True``.
    tol : float, optional
        Minimum inscribed-ball radius, relative to the domain's size, for a region to
        count as full-dimensional (default ``DEFAULT_TOL``, as the LP engine).
    progress : bool
        Show a tqdm bar over the layers.
    max_memory : int
        Memory budget in bytes for the cell complex and the Regions. A run that would
        exceed it stops with MemoryBudgetError instead of being killed.
    n_jobs : int, optional
        Threads for the layer, facet and neighbour kernels (default: every core this
        process may use, see :func:`n_threads`). The result is the same for any value:
        the same regions in the same order.
    edges : bool, default True
        Find the adjacency (``Decomposition.edges``). False skips the neighbour pass (a
        third of the run on a trained 3-15x9 network) for callers that need only the
        regions (:func:`polyrank.write_regions`); ``edges`` then raises ValueError.
    frame : (x0, s), optional
        The local frame ``x = x0 + s y`` the engine works in (default: the domain's
        centre and the largest side of its bounding box); ``tol``, ``VERTEX_SNAP`` and
        the constant-unit thresholds are relative to ``s``. A tile of a larger domain
        passes that domain's frame (``Tile.frame``, :func:`polyrank.tile_domain`), so that it decides
        every unit exactly as the run on the whole domain.
    strict : bool, default False
        Over an unbounded domain whose box is too large for float64 to resolve ``tol``
        (see Notes), raise :class:`~polyrank.exceptions.BoxPrecisionError` before the
        box's subdivision instead of returning a result marked ``precision_limited``
        (``enumerate_regions(method="auto")`` then runs the LP engine).

    Returns
    -------
    Decomposition
        With ``method="subdivision"``. ``stats`` holds ``seconds``, ``n_lp`` (LPs solved
        for doubtful slivers), ``box_halfwidth`` (domain None), ``n_cells`` and
        ``n_dropped`` (cells dropped as thinner than ``tol``, also ``dec.n_dropped``).

    Raises
    ------
    ValueError
        Input dimension outside 1..10, or a bad argument.
    RegionLimitError
        More than ``max_regions`` regions and ``partial`` is False.
    MemoryBudgetError
        The run would need more than ``max_memory`` bytes.
    BoxPrecisionError
        With ``strict=True`` only (above).

    Notes
    -----
    "Exact" here means float64 geometry with one named tolerance: a vertex within
    ``VERTEX_SNAP`` (relative to the domain's size) of a hyperplane lies on it.
    Facets are read off exact vertex-facet incidences; a region's ``witness`` is the
    centroid of its vertices, and ``inradius`` is a certified lower bound on the
    largest inscribed ball: the distance from the witness to the nearest facet
    hyperplane (the LP engine reports the Chebyshev radius itself). Regions whose
    bound is at most ``tol`` get a Chebyshev LP, and are dropped, as by the LP
    engine, when the true radius is at most ``tol``. A cell with fewer than d + 1
    facets (a flat one, between two coincident hyperplanes) is no region. Neighbours
    across a facet are found with the LP engine's rule at the facet's vertex centroid.

    With ``domain=None`` the box is ``[-R, R]^d`` where R starts at twice the largest
    coordinate of a vertex of the first layer's arrangement and is multiplied by 4
    until every vertex found lies within ``BOX_MARGIN * R``: a vertex-free shell
    between ``R/2`` and ``R`` is the evidence, not a proof, that no vertex lies outside.
    Over all of R^d in 2-4-D (and without ``partial``) the first box is checked through the
    subdivisions of its faces, without its own; when a vertex lies beyond it, R grows from there at once. A vertex cut on an
    edge that reaches the box is rounded by about ``eps * 2R``; where
    ``BOX_ROUNDING_SAFETY`` times that exceeds ``tol``, thin regions may be lost, and the
    decomposition is marked ``precision_limited`` with a PrecisionWarning
    (``method="auto"`` then runs the LP engine instead).

    Cost: per layer, each cell is tested against each neuron (O(vertices)), and each
    cut costs O(vertices + edges + k^3) with k the vertices of the cut face.

    Examples
    --------
    Three lines in general position cut the plane into 7 regions (Zaslavsky):

    >>> net = pr.ReLUNetwork.from_weights([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], [[0.0, 0.0, -1.0]])
    >>> dec = pr.enumerate_regions(net, method="subdivision")
    >>> len(dec), sum(r.bounded for r in dec)
    (7, 1)
    """

    t0 = time.perf_counter()
    net = as_network(net)
    d = net.input_dim
    if not 1 <= d <= SUBDIVISION_MAX_DIM:
        raise ValueError(f"The subdivision engine handles input dimension 1..{SUBDIVISION_MAX_DIM}; "
                         f"this network has input dimension {d}. Use method='lp'.")
    K = check_layer(layer, net.n_layers)
    domain = as_domain(domain, d)
    tol = check_tol(DEFAULT_TOL if tol is None else tol, func="enumerate_subdivision")
    max_regions = check_positive_int(DEFAULT_MAX_REGIONS if max_regions is None else max_regions,
                                     name="max_regions", func="enumerate_subdivision")
    max_memory = check_positive_int(max_memory, name="max_memory", func="enumerate_subdivision")
    n_jobs = n_threads(n_jobs)
    if not isinstance(edges, (bool, np.bool_)):
        raise TypeError(f"The 'edges' parameter of enumerate_subdivision must be True or False; got {edges!r}.")
    if not isinstance(strict, (bool, np.bool_)):
        raise TypeError(f"The 'strict' parameter of enumerate_subdivision must be True or False; got {strict!r}.")
    bounded = domain is not None and domain.bounded
    # the LP engine's local frame x = x0 + s y and scaled units: the engine works on the
    # network in y (the domain's centre at 0, its size 1), so that tol, the snap and the
    # constant/zero thresholds of the units are relative to the domain's size, whatever its
    # position and the weights' magnitude; the results are mapped back by _assemble
    # (over a bounded domain the frame is the domain's: the network is read only over R^d)
    frame = check_frame(frame, d, func="enumerate_subdivision")
    x0, s = frame if frame is not None else local_frame(net if bounded else scaled_units(net, K), domain,
                                                        domain.center if domain is not None else np.zeros(d))
    lnet = local_network(net, K, x0, s)
    Ad = np.asarray(domain.A) if domain is not None else np.zeros((0, d))
    bd = (np.asarray(domain.b) - Ad @ x0) / s if domain is not None else np.zeros(0)
    zero = zero_thresholds(lnet, K)
    lp_scale = 1.0

    runs = []  # every run (its ranks left to a pool thread must not outlive this call: _settle)
    try:
        if bounded:
            run = _Run(lnet, K, Ad, bd, -1, VERTEX_SNAP, lp_scale, zero, max_memory, max_regions, partial, progress,
                       n_jobs)
            runs.append(run)
            pat, rk = run.run(defer_ranks=True)
            R = None
        else:
            centre = np.zeros(d)  # the domain's centre (or the origin) in the local frame
            ext = _layer1_extent(lnet)
            # 1e-6: room for rounding between the layer-1 extent and the vertices computed
            R = 2.0 * (1.0 + 1e-6) * max(1.0, np.abs(centre).max(initial=0.0), ext if ext is not None else 100.0)
            seen = {}  # pattern -> outside-vertex extent, shared by the successive boxes
            if domain is None and FACE_MIN_DIM <= d <= FACE_MAX_DIM and not partial:
                # the first box's subdivision is skipped when the regions crossing its faces show
                # a vertex beyond it (the usual case): the box then grows from their extents
                far = _face_vertex_extent(lnet, K, R, zero, max_memory, max_regions, n_jobs, seen)
                if far is not None and far > (1.0 + FACE_MARGIN_RTOL) * R:
                    R = 4.0 * far
                else:
                    seen.clear()
            for _ in range(12):
                if runs:  # the last box was too small: its ranks are read by no one
                    runs[-1].drop_ranks()
                if strict and _box_rounding_note(R, tol * lp_scale, s) is not None:
                    raise BoxPrecisionError(R)
                eye = np.eye(d)
                Ab = np.vstack([Ad, eye, -eye])
                bb = np.concatenate([bd, R + centre, R - centre])
                box_id0 = net.offsets[K] + len(bd)
                run = _Run(lnet, K, Ab, bb, int(box_id0), VERTEX_SNAP, lp_scale, zero, max_memory, max_regions,
                           partial, progress, n_jobs)
                runs.append(run)
                pat, rk = run.run(defer_ranks=True)
                inner = _interior_vertex_extent(run, centre)
                vmax = max(inner, _outside_vertex_extent(run, pat, centre, R, seen, max(inner, BOX_MARGIN * R)))
                if vmax <= BOX_MARGIN * R:
                    break
                R = 4.0 * vmax
        note = None if R is None else _box_rounding_note(R, tol * lp_scale, s)
        if note is not None and strict:
            raise BoxPrecisionError(R)
        dec = _assemble(net, domain, K, run, pat, rk, tol * lp_scale, lp_scale, R, t0, frame=(x0, s), edges=edges)
    finally:
        _settle(runs)
    notes = [] if note is None else [note]
    if R is not None:  # over an unbounded domain: every region must contain its witness
        bad = _misplaced_witnesses(net, K, dec)
        if bad:
            if strict:
                raise BoxPrecisionError(R, f"left {bad} of {len(dec)} regions without their witness")
            notes.append(f"{bad} of {len(dec)} regions do not contain their witness (the network gives it another "
                         f"pattern): over this unbounded domain float64 cannot place every region in the engine's "
                         f"box (half-width {s * R:.3g}), and some of these regions may not exist. method='lp' (or "
                         f"'auto', which then uses it) resolves them.")
    if notes:
        dec.stats["precision_notes"].extend(notes)
        dec.precision_limited = True
        warn_precision(notes)
    return dec


def _misplaced_witnesses(net, K, dec):
    """How many regions of ``dec`` (layers 1..K of ``net``) do not contain their witness:
    the network's pattern there (a forward pass, :func:`_witness_kernel`) differs from the
    region's."""
    _, WTflat, woff, bflat = _transposed_layers(net, K)
    return int(_witness_kernel(np.ascontiguousarray(dec._arrays["witnesses"]), WTflat, woff, bflat,
                               np.asarray(net.offsets[: K + 1], dtype=np.int64), dec._arrays["patterns"],
                               WITNESS_RTOL))


@_njit
def _witness_kernel(X, WTflat, woff, bflat, offsets, P, rtol):
    """The number of rows of ``X`` where the network (``W_l`` transposed, row-major, at
    ``WTflat[woff[l]:]``; the biases concatenated in ``bflat``) gives a pattern other than
    the row of ``P`` (pre-activation > 0 is on) at a unit whose pre-activation is farther
    from 0 than ``rtol`` times the sum of its terms' magnitudes (nearer, rounding decides
    its sign: a unit that is 0 on the whole region, as integer weights make, may come out
    at +-1e-9 at a point 1e7 out). The pattern's bits are carried to the next layer, and
    with them the magnitudes (an active unit passes on its S, not its |value|: a value that
    cancelled, say 1 from terms of 1e6, carries the rounding of its terms). Points
    are taken 128 at a time, and the loop over them is innermost (contiguous, no
    reduction: it vectorises)."""
    K = offsets.shape[0] - 1
    n, d = X.shape
    wmax = d
    for l in range(K):
        wmax = max(wmax, offsets[l + 1] - offsets[l])
    B = 128
    H = np.empty((wmax, B))  # the block's activations, one row per unit
    Z = np.empty((wmax, B))
    S = np.empty((wmax, B))  # sums of the terms' magnitudes: the scale of Z's rounding
    A = np.empty((wmax, B))  # the magnitudes behind H (S of an active unit; |x| at the input)
    ok = np.empty(B, np.bool_)
    bad = 0
    for c0 in range(0, n, B):
        nb = min(B, n - c0)
        for k in range(d):
            for t in range(nb):
                H[k, t] = X[c0 + t, k]
                A[k, t] = abs(X[c0 + t, k])
        for t in range(nb):
            ok[t] = True
        mp = d
        for l in range(K):
            o, m, w0 = offsets[l], offsets[l + 1] - offsets[l], woff[l]
            for i in range(m):
                bi = bflat[o + i]
                for t in range(nb):
                    Z[i, t] = bi
                    S[i, t] = abs(bi)
            for j in range(mp):
                for i in range(m):
                    w = WTflat[w0 + j * m + i]
                    aw = abs(w)
                    for t in range(nb):
                        Z[i, t] += w * H[j, t]
                        S[i, t] += aw * A[j, t]
            for i in range(m):
                for t in range(nb):
                    on = P[c0 + t, o + i]
                    z = Z[i, t]
                    if (z > 0.0) != on and abs(z) > rtol * S[i, t]:
                        ok[t] = False
                    H[i, t] = z if on else 0.0
                    A[i, t] = S[i, t] if on else 0.0
            mp = m
        for t in range(nb):
            if not ok[t]:
                bad += 1
    return bad


def _face_vertex_extent(lnet, K, R, zero, max_memory, max_regions, n_jobs, seen):
    """The box check of the box ``[-R, R]^d`` around the origin without its subdivision.

    The regions that cross the box's boundary are those of the 2d faces' subdivisions
    (the network restricted to each face: d - 1 inputs, as many regions as the face
    meets). A region whose every edge through the boundary continues outwards as a ray
    (:func:`_face_ray_certificates`) has all its vertices inside the box; the others'
    full polyhedra get :func:`_polyhedron_extents` (qhull), their face cell's vertex
    centroid as interior point, entered in ``seen`` as by :func:`_outside_vertex_extent`.
    Returns the largest of these extents (0.0 if none), or None when the faces cannot
    be subdivided (first-layer weights of rank below d, a limit reached) or qhull fails
    on a polyhedron near the largest extent: a value above
    ``R`` is the largest vertex extent of the regions meeting the box, as the first box's
    subdivision and check would find it (to rounding: not bit for bit)."""
    from .network import ReLUNetwork

    d = lnet.input_dim
    W1, b1 = np.asarray(lnet.weights[0], dtype=np.float64), np.asarray(lnet.biases[0], dtype=np.float64)
    S, Vt = np.linalg.svd(W1)[1:]
    r = int(np.count_nonzero(S > S[0] * max(W1.shape) * np.finfo(np.float64).eps)) if S.size else 0
    if r < d:
        return None
    n = int(lnet.offsets[K])
    eye = np.eye(d - 1)
    Af = np.vstack([eye, -eye])
    bf = np.full(2 * (d - 1), R)
    faces = [(i, sg) for i in range(d) for sg in (1.0, -1.0)]

    def face(t, threads):
        i, sg = faces[t]
        cols = [j for j in range(d) if j != i]
        fnet = ReLUNetwork._trusted([np.ascontiguousarray(W1[:, cols])] + list(lnet.weights[1:K]),
                                    [b1 + (sg * R) * W1[:, i]] + list(lnet.biases[1:K]))
        run = _Run(fnet, K, Af, bf, n, VERTEX_SNAP, 1.0, zero, max_memory, max_regions, False, False, threads)
        return run.run()[0], (i, sg, run.cells)

    # the faces side by side, one thread each, sharing the memory budget
    max_memory = max_memory // max(1, min(n_jobs, len(faces)))
    try:
        res = (_pmap(lambda a, b: face(a, 1), np.arange(len(faces) + 1), n_jobs) if n_jobs > 1 else
               [face(t, 1) for t in range(len(faces))])
    except (RegionLimitError, MemoryBudgetError):
        return None
    pats, chunks = [r[0] for r in res], [r[1] for r in res]
    P = np.concatenate(pats)
    if not len(P):
        return 0.0
    keys = _packed_keys(P)
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # the patterns in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    U = P[first[order]]
    cell_pat = rank[inv.ravel()]
    H = _pattern_rows(lnet, K, lnet.offsets[: K + 1], U, exact=False, n_jobs=n_jobs)
    ok, wit = _face_ray_certificates(H, cell_pat, chunks, d, n, R)
    Ub, w = U.tobytes(), U.shape[1]
    for k in np.flatnonzero(ok).tolist():  # certified: every vertex in the box, so for any larger box
        seen[Ub[k * w: (k + 1) * w]] = R  # at most R (below any later box check's floor, 2R at least)
    todo = np.flatnonzero(~ok)
    if not len(todo):
        return 0.0
    # screened by the compiled cut, qhull for those within CLIP_SCREEN_RTOL of the largest
    H = H[todo]
    nrm = np.linalg.norm(H[:, :, :d], axis=2)
    live = nrm > 0.0
    big = OUTSIDE_BOX_FACTOR * R
    H = H / np.where(live, nrm, 1.0)[..., None]
    bounds = _bounds(len(H), n_jobs, 16)
    parts = [(0, len(H))] if bounds is None else list(zip(bounds[:-1], bounds[1:]))
    res = _pmap(lambda a, b: _clip_extents(H[a:b], live[a:b], big, OUTSIDE_BOX_REACH * big, CLIP_SNAP_RTOL, CLIP_MAX_VERTICES),
                np.array([p[0] for p in parts] + [len(H)]), n_jobs) if len(parts) > 1 else \
        [_clip_extents(H, live, big, OUTSIDE_BOX_REACH * big, CLIP_SNAP_RTOL, CLIP_MAX_VERTICES)]
    ext, fail = np.concatenate([r[0] for r in res]), np.concatenate([r[1] for r in res])
    top = ext[~fail].max(initial=0.0)
    sel = np.flatnonzero(fail | (ext >= (1.0 - CLIP_SCREEN_RTOL) * top))
    exact = np.array(_polyhedron_extents(lnet, K, np.asarray(lnet.offsets[: K + 1]), U[todo[sel]],
                                         wit[todo[sel]], np.zeros(d), R, Vt[:d]))
    if ((exact == 0.0) & ((ext[sel] > 0.0) | fail[sel])).any():
        return None  # qhull failed (a face cell's centroid on the polyhedron's boundary?): check the box itself
    ext[sel] = exact
    for k, e in zip(todo.tolist(), ext.tolist()):
        seen[Ub[k * w: (k + 1) * w]] = e
    return float(ext[sel].max())


def _face_ray_certificates(H, cell_pat, chunks, d, n, R):
    """Over the faces' subdivisions of :func:`_face_vertex_extent` (``chunks``: per face,
    its axis, side and cells; ``cell_pat``: each face cell's pattern, an index into the
    patterns' unit rows ``H``): whether each pattern's full polyhedron Q certainly has
    no vertex outside the box, and an interior point of Q (a face cell's vertex centroid).

    A face cell's vertex off the face's own boundary, on d - 1 units' hyperplanes, is where
    an edge of Q crosses the box (its direction: the normal space of those rows). If Q has
    such crossings, none on the box's lower-dimensional faces, no vertex on the box (d
    units through a face cell's vertex), and along every crossing edge, outwards, each
    other row decreases by more than ``RAY_RTOL`` (rows are scaled to unit normals), then
    each crossing edge is a ray outwards: its other end is a vertex inside the box (else
    the edge would be a line, and Q is pointed), and no bounded edge leaves the box, so Q's
    vertices and bounded edges, a connected graph, all lie inside it."""
    n_pat = len(H)
    bad = np.zeros(n_pat, dtype=bool)
    crossings = np.zeros(n_pat, dtype=np.int64)
    wit = np.zeros((n_pat, d))
    has_wit = np.zeros(n_pat, dtype=bool)
    start = 0
    for i, sg, cells in chunks:
        for ch in cells:
            V, F, vo = ch[0], ch[1], ch[2]
            m = len(vo) - 1
            _face_ray_kernel(V, F, vo, cell_pat[start: start + m], H, int(i), float(sg * R), n, float(RAY_RTOL),
                             float(FACE_RAY_SV_RTOL), bad, crossings, wit, has_wit)
            start += m
    return ~bad & (crossings > 0), wit


@_njit_inline
def _small_det(A):
    """Determinant of a 1x1 to 3x3 matrix, in closed form."""
    k = A.shape[0]
    if k == 1:
        return A[0, 0]
    if k == 2:
        return A[0, 0] * A[1, 1] - A[0, 1] * A[1, 0]
    return (A[0, 0] * (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1]) - A[0, 1] * (A[1, 0] * A[2, 2] - A[1, 2] * A[2, 0])
            + A[0, 2] * (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]))


@_njit_inline
def _tiny_row(H, k, nu, d, rtol, nrm):
    """Writes the norms of the ``nu`` gradient rows ``H[k, j, :d]`` into ``nrm`` and says
    whether a nonzero one is at most ``rtol`` times the largest (its direction is noise)."""
    top = 0.0
    for j in range(nu):
        x = 0.0
        for q in range(d):
            x += H[k, j, q] ** 2
        nrm[j] = math.sqrt(x)
        top = max(top, nrm[j])
    tiny = False
    for j in range(nu):
        if nrm[j] > 0.0 and not nrm[j] > rtol * top:
            tiny = True
    return tiny


@_njit
def _face_ray_kernel(V, F, vo, pats, H, axis, level, n, rtol, svtol, bad, crossings, wit, has_wit):
    """:func:`_face_ray_certificates` on one chunk of the cells of the face ``x[axis] =
    level`` (their vertices ``V`` in the other coordinates)."""
    d = V.shape[1] + 1
    nb = 2 * (d - 1)
    nu = H.shape[1]
    nrm = np.empty(nu)
    tight = np.empty(d - 1, np.int64)
    M = np.empty((d - 1, d))
    minor = np.empty((d - 1, d - 1))
    u = np.empty(d)
    for c in range(vo.shape[0] - 1):
        p = pats[c]
        v0, v1 = vo[c], vo[c + 1]
        if not has_wit[p]:
            for q in range(d):
                wit[p, q] = 0.0
            for v in range(v0, v1):
                for q in range(d):
                    if q == axis:
                        wit[p, q] += level
                    else:
                        wit[p, q] += V[v, q if q < axis else q - 1]
            for q in range(d):
                wit[p, q] /= v1 - v0
            has_wit[p] = True
        if bad[p]:
            continue
        if _tiny_row(H, p, nu, d, rtol, nrm):
            bad[p] = True  # a tiny row: its direction is noise
        for v in range(v0, v1):
            if bad[p]:
                break
            nt = 0
            for j in range(nu):
                if F[v, j >> 6] & (np.uint64(1) << np.uint64(j & 63)):
                    if nt < d - 1:
                        tight[nt] = j
                    nt += 1
            onb = False
            for r in range(nb):
                gid = n + r
                if F[v, gid >> 6] & (np.uint64(1) << np.uint64(gid & 63)):
                    onb = True
            if nt >= d or (onb and nt >= d - 1):
                bad[p] = True  # a vertex of Q on the box, or an edge through its lower faces
                break
            if onb:
                continue  # a corner of the face cell on the face's boundary, no edge of Q
            if nt < d - 1:
                bad[p] = True
                break
            # the crossing edge's direction: the cofactors of the d - 1 unit normals
            for t in range(d - 1):
                j = tight[t]
                if nrm[j] == 0.0:
                    bad[p] = True
                for q in range(d):
                    M[t, q] = H[p, j, q] / nrm[j] if nrm[j] > 0.0 else 0.0
            if bad[p]:
                break
            ln = 0.0
            for k in range(d):
                for t in range(d - 1):
                    for q in range(d - 1):
                        minor[t, q] = M[t, q if q < k else q + 1]
                u[k] = _small_det(minor)
                if k % 2 == 1:
                    u[k] = -u[k]
                ln += u[k] ** 2
            ln = math.sqrt(ln)
            out = u[axis] if level > 0 else -u[axis]  # the outward component
            if not ln > svtol or not abs(out) > rtol * ln:
                bad[p] = True  # a doubtful direction, or an edge along the face
                break
            sgn = 1.0 if out > 0 else -1.0
            for j in range(nu):
                if nrm[j] == 0.0:
                    continue  # a constant unit (a dead one upstream)
                if F[v, j >> 6] & (np.uint64(1) << np.uint64(j & 63)):
                    continue  # the edge lies on this row
                x = 0.0
                for q in range(d):
                    x += H[p, j, q] * u[q]
                if not sgn * x < -rtol * ln * nrm[j]:
                    bad[p] = True
                    break
            crossings[p] += 1


@_njit
def _clip_extents(H, live, big, lim, rtol, cap):
    """:func:`_polyhedron_extents` without qhull, for screening: each pattern's polyhedron
    {a.x + c <= 0: the ``live`` rows of ``H[p]``} cut out of the box ``[-big, big]^d`` row by
    row (vertices within ``rtol`` of a row, relative to their largest |coordinate| and at
    least 1, lie on it; the edges of each cut face from the vertex-row incidences). Returns
    the largest |coordinate| of a vertex below ``lim`` (0.0 if none), and a flag per
    pattern where the cut failed (more than ``cap`` vertices or edges, or nothing left)."""
    n_pat, nu, d1 = H.shape
    d = d1 - 1
    nid = nu + 2 * d
    W = (nid + 63) // 64
    out = np.zeros(n_pat)
    fail = np.zeros(n_pat, np.bool_)
    V = np.empty((cap, d)); F = np.zeros((cap, W), np.uint64)
    V2 = np.empty((cap, d)); F2 = np.zeros((cap, W), np.uint64)
    E = np.empty((cap, 2), np.int64); E2 = np.empty((cap, 2), np.int64)
    s = np.empty(cap); cls = np.empty(cap, np.int64); nid_of = np.empty(cap, np.int64)
    C = np.empty(cap, np.int64)
    common = np.empty(W, np.uint64)
    one = np.uint64(1)
    for p in range(n_pat):
        nv = 1 << d
        for k in range(nv):
            for w in range(W):
                F[k, w] = 0
            for q in range(d):
                if (k >> q) & 1:
                    V[k, q] = big; g = nu + q
                else:
                    V[k, q] = -big; g = nu + d + q
                F[k, g >> 6] |= one << np.uint64(g & 63)
        ne = 0
        for k in range(nv):
            for q in range(d):
                if not (k >> q) & 1:
                    E[ne, 0] = k; E[ne, 1] = k | (1 << q); ne += 1
        ok = True
        for j in range(nu):
            if not live[p, j]:
                continue
            npos = 0; nneg = 0
            for k in range(nv):
                x = H[p, j, d]; m = 1.0
                for q in range(d):
                    x += H[p, j, q] * V[k, q]
                    m = max(m, abs(V[k, q]))
                s[k] = x
                if x > rtol * m:
                    cls[k] = 1; npos += 1
                elif x < -rtol * m:
                    cls[k] = -1; nneg += 1
                else:
                    cls[k] = 0
            bj = one << np.uint64(j & 63); wj = j >> 6
            if npos == 0:
                for k in range(nv):
                    if cls[k] == 0:
                        F[k, wj] |= bj
                continue
            if nneg == 0:
                ok = False; break
            # keep neg and zero vertices
            n2 = 0; nc = 0
            for k in range(nv):
                if cls[k] <= 0:
                    if n2 >= cap:
                        ok = False; break
                    nid_of[k] = n2
                    for q in range(d):
                        V2[n2, q] = V[k, q]
                    for w in range(W):
                        F2[n2, w] = F[k, w]
                    if cls[k] == 0:
                        F2[n2, wj] |= bj; C[nc] = n2; nc += 1
                    n2 += 1
                else:
                    nid_of[k] = -1
            if not ok:
                break
            nk = n2
            e2 = 0
            for e in range(ne):
                a = E[e, 0]; b = E[e, 1]
                if cls[a] <= 0 and cls[b] <= 0:
                    E2[e2, 0] = nid_of[a]; E2[e2, 1] = nid_of[b]; e2 += 1
                elif cls[a] * cls[b] == -1:
                    if cls[a] == 1:
                        a, b = b, a
                    if n2 >= cap or e2 >= cap:
                        ok = False; break
                    t = s[a] / (s[a] - s[b])
                    for q in range(d):
                        V2[n2, q] = V[a, q] + t * (V[b, q] - V[a, q])
                    for w in range(W):
                        F2[n2, w] = F[a, w] & F[b, w]
                    F2[n2, wj] |= bj
                    E2[e2, 0] = nid_of[a]; E2[e2, 1] = n2; e2 += 1
                    C[nc] = n2; nc += 1
                    n2 += 1
            if not ok:
                break
            # edges of the cut face
            for x in range(nc):
                for y in range(x + 1, nc):
                    a = C[x]; b = C[y]
                    cnt = 0
                    for w in range(W):
                        common[w] = F2[a, w] & F2[b, w]
                        cnt += _popcount(common[w])
                    if cnt < d - 1:
                        continue
                    adj = True
                    for z in range(nc):
                        c = C[z]
                        if c == a or c == b:
                            continue
                        sub = True
                        for w in range(W):
                            if common[w] & ~F2[c, w]:
                                sub = False; break
                        if sub:
                            adj = False; break
                    if not adj:
                        continue
                    dup = False
                    if a < nk and b < nk:  # two kept vertices (new ones have one edge so far)
                        for e in range(e2):
                            if (E2[e, 0] == a and E2[e, 1] == b) or (E2[e, 0] == b and E2[e, 1] == a):
                                dup = True
                                break
                    if dup:
                        continue
                    if e2 >= cap:
                        ok = False; break
                    E2[e2, 0] = a; E2[e2, 1] = b; e2 += 1
                if not ok:
                    break
            if not ok:
                break
            V, V2 = V2, V
            F, F2 = F2, F
            E, E2 = E2, E
            nv = n2; ne = e2
        if not ok:
            fail[p] = True
            continue
        ext = 0.0
        for k in range(nv):
            m = 0.0
            for q in range(d):
                m = max(m, abs(V[k, q]))
            if m < lim:
                ext = max(ext, m)
        out[p] = ext
    return out, fail


def _outside_vertex_extent(run, pat, centre, R, seen, floor=np.inf):
    """Largest |coordinate - centre| of a vertex of the full polyhedron (all units' rows,
    no box) of a cell that reaches the box, found by qhull inside a box 1e6 times larger.
    A region of R^d missing from the box would be adjacent to such a polyhedron across a
    facet outside the box, hence give it a vertex outside the box (regions are pointed).
    ``seen`` maps a pattern's bytes to its extent from an earlier (smaller) box: the
    polyhedron depends on the pattern only.

    The value is exact when it exceeds ``floor``; otherwise it is at most ``floor``. Over
    all of R^d (no domain rows) a cell skips qhull when :func:`_ray_certificates`
    shows that its polyhedron has no vertex outside the box and its own vertices stay
    below ``floor`` (less ``OUTSIDE_SKIP_RTOL * R``)."""
    net, K, d = run.net, run.K, run.d
    wit, onbox = _box_cells(run)
    cells = np.flatnonzero(onbox)
    buf, w = np.ascontiguousarray(pat[cells]).tobytes(), pat.shape[1] * pat.itemsize
    keys = [buf[i: i + w] for i in range(0, len(buf), w)]  # each row's bytes (p.tobytes(), faster)
    out = max([seen[k] for k in keys if k in seen], default=0.0)
    new = [i for i, k in enumerate(keys) if k not in seen]
    cells, keys = cells[new], [keys[i] for i in new]
    if not len(cells):
        return out
    # Every gradient lies in the row space of W_1. When W_1 has rank r < d the regions are
    # not pointed (they contain the lines along its null space) and have no vertices; work
    # in y, x = centre + Q y with Q an orthonormal basis of the row space, where they are.
    W1 = np.asarray(net.weights[0], dtype=np.float64)
    S, Vt = np.linalg.svd(W1)[1:]
    r = int(np.count_nonzero(S > S[0] * max(W1.shape) * np.finfo(np.float64).eps)) if S.size else 0
    if r == 0:
        return out
    if r == d and len(run.domain_rows[1]) == 0 and np.isfinite(floor):
        ok, ext_in = _ray_certificates(run, cells, _pattern_rows(net, K, run.offsets, pat[cells], exact=False,
                                                                 n_jobs=run.n_jobs), centre, R)
        skip = ok & (ext_in + OUTSIDE_SKIP_RTOL * R < floor)  # below floor: need not be exact
        if skip.any():
            keep = np.flatnonzero(~skip)
            cells, keys = cells[keep], [keys[i] for i in keep]
            if not len(cells):
                return out
    for k, ext in enumerate(_polyhedron_extents(net, K, run.offsets, pat[cells], wit[cells], centre, R, Vt[:r])):
        seen[keys[k]] = ext
        out = max(out, ext)
    return out


def _polyhedron_extents(net, K, offsets, P, wit, centre, R, Vt):
    """Largest |coordinate - centre| of a vertex of the full polyhedron of each pattern of
    ``P`` (all units' rows, no box), found by qhull inside the box ``OUTSIDE_BOX_FACTOR * R``
    around ``centre``, with ``wit[k]`` inside the k-th; ``Vt``: an orthonormal basis (rows)
    of the row space of the first layer's weights, in which the polyhedra are pointed."""
    from scipy.spatial import HalfspaceIntersection, QhullError

    d = len(centre)
    r = len(Vt)
    H = _pattern_rows(net, K, offsets, P)  # rows (a, c): a.x + c <= 0
    Q = np.eye(d) if r == d else Vt.T
    Hy = np.concatenate([H[:, :, :d] @ Q, (H[:, :, d] + H[:, :, :d] @ centre)[..., None]], axis=2)
    nrm = np.linalg.norm(Hy[:, :, :r], axis=2)
    live = nrm > ZERO_ROW_RTOL * np.linalg.norm(H[:, :, :d], axis=2)
    Hy = Hy / np.where(live, nrm, 1.0)[..., None]
    big = OUTSIDE_BOX_FACTOR * R
    eye = np.eye(r)
    boxrows = np.hstack([np.vstack([eye, -eye]), -np.full((2 * r, 1), big)])
    if r > 1:  # each cell's live rows, then the big box's, in one array: one index per cell
        Hy = np.concatenate([Hy, np.broadcast_to(boxrows, (len(P),) + boxrows.shape)], axis=1)
        live = np.concatenate([live, np.ones((len(P), 2 * r), dtype=bool)], axis=1)
    # interior points; with Q = I, Q.T @ v and Y @ Q.T are v and Y, bit for bit
    inner = wit - centre if r == d else None
    lim = OUTSIDE_BOX_REACH * big
    out = []
    for k in range(len(P)):
        Hk = Hy[k][live[k]]
        if r == 1:  # an interval: its endpoints
            a, c = Hk[:, 0], Hk[:, 1]
            with np.errstate(divide="ignore", invalid="ignore"):  # a = 0: no endpoint (inf/nan, dropped)
                Y = (-c / a)[:, None]
                Y = Y[np.all(Y * a[None, :] + c[None, :] <= 1e-9 * (1 + np.abs(Y)), axis=1)]
        else:
            try:  # (vertices at infinity of an unbounded polyhedron come out inf or nan: filtered below)
                with np.errstate(divide="ignore", invalid="ignore"):
                    Y = HalfspaceIntersection(Hk, inner[k] if r == d else Q.T @ (wit[k] - centre)).intersections
            except (QhullError, ValueError):
                Y = np.zeros((0, r))
        if r == d:
            m = np.abs(Y).max(axis=1, initial=0.0)
            out.append(float(m[m < lim].max(initial=0.0)))
        else:
            Y = Y[np.abs(Y).max(axis=1, initial=0.0) < lim]
            out.append(float(np.abs(Y @ Q.T).max()) if len(Y) else 0.0)
    return out


def _box_cells(run):
    """The vertex centroids of a run's cells that have a facet on the artificial box (zeros
    for the others), and which cells these are: the ``wit`` and ``onbox`` of
    :func:`_facet_pass` there, the same numbers, without the facet pass over every cell."""
    parts = [_box_cells_kernel(ch[0], ch[1], ch[2], ch[5], ch[7], int(run.box_id0)) for ch in run.cells]
    return np.concatenate([p[1] for p in parts]), np.concatenate([p[0] for p in parts])


@_njit
def _box_cells_kernel(V, F, voff, Cid, coff, box_id0):
    """:func:`_box_cells` on one chunk: :func:`_finish_kernel`'s facet test, for the box's
    candidate rows only (and only in cells that have one)."""
    ncells = voff.shape[0] - 1
    d = V.shape[1]
    wit = np.zeros((ncells, d))
    onbox = np.zeros(ncells, np.bool_)
    mask_buf = np.empty(64, np.uint64)
    counts_buf = np.empty(16, np.int64)
    one = np.uint64(1)
    for p in range(ncells):
        c0 = coff[p]
        nc = coff[p + 1] - c0
        has = False
        for g in range(nc):
            if Cid[c0 + g] >= box_id0:
                has = True
                break
        if not has:
            continue
        v0 = voff[p]
        nv = voff[p + 1] - v0
        nw = (nv + 63) >> 6
        mask_buf = _grow_i1(mask_buf, nc * nw)
        counts_buf = _grow_i1(counts_buf, nc)
        mask = mask_buf[: nc * nw].reshape((nc, nw))
        counts = counts_buf[:nc]
        mask[:] = 0
        counts[:] = 0
        for g in range(nc):
            gid = Cid[c0 + g]
            gw = gid >> 6
            gb = one << np.uint64(gid & 63)
            for i in range(nv):
                if F[v0 + i, gw] & gb:
                    mask[g, i >> 6] |= one << np.uint64(i & 63)
                    counts[g] += 1
        for g in range(nc):
            if Cid[c0 + g] < box_id0 or counts[g] < d:
                continue
            fac = True
            for g2 in range(nc):
                if g2 == g or counts[g2] < counts[g]:
                    continue
                sub = True
                for w in range(nw):
                    if mask[g, w] & ~mask[g2, w]:
                        sub = False
                        break
                if sub and (counts[g2] > counts[g] or Cid[c0 + g2] < Cid[c0 + g]):
                    fac = False
                    break
            if fac:
                onbox[p] = True
                break
        if onbox[p]:
            for i in range(nv):
                for k in range(d):
                    wit[p, k] += V[v0 + i, k]
            for k in range(d):
                wit[p, k] /= nv
    return onbox, wit


def _pattern_rows(net, K, offsets, P, exact=True, n_jobs=1):
    """The rows (a, c), a.x + c <= 0 inside, of every unit for each pattern of ``P``: the
    full polyhedron of the pattern. ``exact=False`` computes them in a compiled loop instead
    of einsum and matmul (faster; the last bits may differ: for the certificates only)."""
    if not exact:
        Ws = [np.ascontiguousarray(net.weights[l], dtype=np.float64).ravel() for l in range(K)]
        woff = np.array([0] + list(itertools.accumulate(len(w) for w in Ws)), np.int64)
        return _cellwise(_pattern_rows_kernel, n_jobs, (
            np.ascontiguousarray(P, dtype=np.bool_), np.concatenate(Ws), woff,
            np.concatenate([np.asarray(net.biases[l], dtype=np.float64) for l in range(K)]),
            np.asarray(offsets[: K + 1], dtype=np.int64), net.input_dim), (0,))
    M = np.broadcast_to(np.asarray(net.weights[0]), (len(P),) + np.shape(net.weights[0]))
    m = np.broadcast_to(np.asarray(net.biases[0]), (len(P), len(net.biases[0])))
    blocks = []
    for l in range(K):
        if l > 0:
            Dp = P[:, offsets[l - 1]: offsets[l]]
            Wl = np.asarray(net.weights[l])
            M = np.einsum("ij,cjk->cik", Wl, M * Dp[..., None]) if exact else np.matmul(Wl, M * Dp[..., None])
            m = (m * Dp) @ Wl.T + np.asarray(net.biases[l])
        s = np.where(P[:, offsets[l]: offsets[l + 1]], -1.0, 1.0)  # s z <= 0 inside
        blocks.append(np.concatenate([s[..., None] * M, (s * m)[..., None]], axis=2))
    return np.concatenate(blocks, axis=1)


@_njit
def _pattern_rows_kernel(P, Wflat, woff, bflat, offsets, d):
    """:func:`_pattern_rows` with ``exact=False``: ``W_l`` row-major at ``Wflat[woff[l]:]``,
    the biases concatenated in ``bflat``."""
    n_pat = P.shape[0]
    K = offsets.shape[0] - 1
    n = offsets[K]
    d1 = d + 1
    out = np.empty((n_pat, n, d1))
    wmax = 0
    for l in range(K):
        wmax = max(wmax, offsets[l + 1] - offsets[l])
    WT = np.empty(Wflat.shape[0])  # each W_l transposed: the loop over its rows is contiguous
    for l in range(K):
        m, mp = offsets[l + 1] - offsets[l], (offsets[l] - offsets[l - 1] if l > 0 else d)
        for i in range(m):
            for j in range(mp):
                WT[woff[l] + j * m + i] = Wflat[woff[l] + i * mp + j]
    Z = np.empty((d1, wmax))  # the current layer's maps (a, c), transposed, before the sign
    Zn = np.empty((d1, wmax))
    for c in range(n_pat):
        for l in range(K):
            o, m = offsets[l], offsets[l + 1] - offsets[l]
            if l == 0:
                for i in range(m):
                    for k in range(d):
                        Z[k, i] = Wflat[i * d + k]
                    Z[d, i] = bflat[i]
            else:
                mp = offsets[l] - offsets[l - 1]
                w0 = woff[l]
                for k in range(d):
                    for i in range(m):
                        Zn[k, i] = 0.0
                for i in range(m):
                    Zn[d, i] = bflat[o + i]
                for j in range(mp):
                    if not P[c, offsets[l - 1] + j]:
                        continue
                    for k in range(d1):
                        h = Z[k, j]
                        for i in range(m):
                            Zn[k, i] += WT[w0 + j * m + i] * h
                Z, Zn = Zn, Z
            for i in range(m):
                sg = -1.0 if P[c, o + i] else 1.0
                for k in range(d1):
                    out[c, o + i, k] = sg * Z[k, i]
    return out


def _ray_certificates(run, cells, H, centre, R):
    """For the box-reaching ``cells`` of a run over all of R^d: whether the full polyhedron
    Q of each (its units' rows ``H[k]``, a.x + c <= 0, no box) certainly has no vertex
    outside the box, and the largest |coordinate - centre| of the cell's vertices off the
    box (Q's vertices in the box).

    Q's vertices and bounded edges form a connected graph (Q is pointed). If the cell has a
    vertex off the box, no vertex of Q lies on the box, and every edge of the cell from a
    vertex off the box to one on it continues as a ray of Q (each row not through the edge
    decreases along it by more than ``RAY_RTOL`` of its length), then no bounded edge of Q
    leaves the box, so Q has no vertex outside it. Anything doubtful is not certified (a
    row whose normal is nonzero but below ``RAY_RTOL`` of the cell's largest, too)."""
    ok = np.zeros(len(cells), dtype=bool)
    ext = np.zeros(len(cells))
    start = 0
    for ch in run.cells:
        V, F, vo, E, eo = ch[0], ch[1], ch[2], ch[3], ch[4]
        n = len(vo) - 1
        sel = np.flatnonzero((cells >= start) & (cells < start + n))
        if len(sel):
            _ray_kernel(V, F, vo, E, eo, cells[sel] - start, sel, H, np.asarray(centre, np.float64),
                        int(run.box_id0), float(RAY_RTOL), float(RAY_MIN_RTOL * R), ok, ext)
        start += n
    return ok, ext


@_njit
def _ray_kernel(V, F, vo, E, eo, cells, rows, H, centre, box_id0, rtol, min_len, ok, ext):
    """:func:`_ray_certificates` on one chunk (``cells``: its cell ids, ``rows``: their
    positions in ``H``, ``ok`` and ``ext``)."""
    d = V.shape[1]
    W = F.shape[1]
    nb = 2 * d
    nu = H.shape[1]
    nrm = np.empty(nu)
    for t in range(cells.shape[0]):
        p = cells[t]
        k = rows[t]
        v0 = vo[p]
        nv = vo[p + 1] - v0
        if _tiny_row(H, k, nu, d, rtol, nrm):
            continue  # a tiny row: its direction is noise
        good = True
        n_in = 0
        e_in = 0.0
        for i in range(nv):
            onb = False
            for r in range(nb):
                gid = box_id0 + r
                if F[v0 + i, gid >> 6] & (np.uint64(1) << np.uint64(gid & 63)):
                    onb = True
                    break
            if not onb:
                n_in += 1
                for q in range(d):
                    e_in = max(e_in, abs(V[v0 + i, q] - centre[q]))
                continue
            cnt = 0  # the unit rows through a vertex on the box: d of them make it Q's
            for w in range(W):
                lo = w * 64
                if lo >= box_id0:
                    break
                x = F[v0 + i, w]
                if lo + 64 > box_id0:
                    x &= (np.uint64(1) << np.uint64(box_id0 - lo)) - np.uint64(1)
                cnt += _popcount(x)
            if cnt >= d:
                good = False
                break
        if not good or n_in == 0:
            continue
        for e in range(eo[p], eo[p + 1]):
            u = v0 + E[e, 0]
            w2 = v0 + E[e, 1]
            ub = False
            wb = False
            for r in range(nb):
                gid = box_id0 + r
                gw = gid >> 6
                gb = np.uint64(1) << np.uint64(gid & 63)
                if F[u, gw] & gb:
                    ub = True
                if F[w2, gw] & gb:
                    wb = True
            if ub == wb:
                continue
            if ub:  # u off the box, w2 on it
                u, w2 = w2, u
            ln = 0.0
            for q in range(d):
                ln += (V[w2, q] - V[u, q]) ** 2
            ln = math.sqrt(ln)
            if not ln > min_len:
                good = False
                break
            for j in range(nu):
                if nrm[j] == 0.0:
                    continue  # a constant unit (a dead one upstream)
                if F[u, j >> 6] & F[w2, j >> 6] & (np.uint64(1) << np.uint64(j & 63)):
                    continue  # the edge lies on this row
                s = 0.0
                for q in range(d):
                    s += H[k, j, q] * (V[w2, q] - V[u, q])
                if not s < -rtol * ln * nrm[j]:
                    good = False
                    break
            if not good:
                break
        if good:
            ok[k] = True
            ext[k] = e_in


def _interior_vertex_extent(run, centre):
    """Largest |coordinate - centre| of a cell vertex that is not on the artificial box."""
    centre = np.asarray(centre, dtype=np.float64)
    return max([_interior_kernel(ch[0], ch[1], centre, int(run.box_id0)) for ch in run.cells], default=0.0)


@_njit
def _interior_kernel(V, F, centre, box_id0):
    """:func:`_interior_vertex_extent` on one chunk."""
    d = V.shape[1]
    out = 0.0
    for i in range(V.shape[0]):
        onb = False
        for r in range(2 * d):
            gid = box_id0 + r
            if F[i, gid >> 6] & (np.uint64(1) << np.uint64(gid & 63)):
                onb = True
                break
        if not onb:
            for k in range(d):
                out = max(out, abs(V[i, k] - centre[k]))
    return out


def _labels_of(ids, labels):
    """``[labels[i] for i in ids]`` without one Python int per entry."""
    objs = np.empty(len(labels), dtype=object)
    objs[:] = labels
    return objs[ids].tolist()


def _bool_tuples(P, chunk=16):
    """The rows of a bool matrix as tuples of Python bools, assembled from cached tuples of
    ``chunk`` columns (rows share most chunks, so few tuples are built element by element)."""
    n, w = P.shape
    if w == 0:
        return [()] * n
    parts = []
    for s in range(0, w, chunk):
        B = P[:, s: s + chunk]
        codes = B.astype(np.int64) @ (np.int64(1) << np.arange(B.shape[1], dtype=np.int64))
        first = np.full(1 << B.shape[1], -1, dtype=np.int64)
        first[codes[::-1]] = np.arange(n - 1, -1, -1)  # a row with each code
        present = np.flatnonzero(first >= 0)
        objs = np.empty(len(first), dtype=object)
        objs[present] = [tuple(row) for row in B[first[present]].tolist()]
        parts.append(objs[codes].tolist())
    if len(parts) == 1:
        return parts[0]
    return [sum(t, ()) for t in zip(*parts)]


def _int_tuples(M):
    """The rows of a small int matrix as tuples of Python ints (cached per distinct row)."""
    n = M.shape[0]
    if n == 0:
        return []
    uniq, inv = np.unique(M, axis=0, return_inverse=True)
    objs = np.empty(len(uniq), dtype=object)
    objs[:] = [tuple(row) for row in uniq.tolist()]
    return objs[inv.ravel()].tolist()


_REGION_FIELDS = {"index", "pattern", "witness", "inradius", "A", "b", "facets", "bounded", "ranks",
                  "codeword_sizes", "_net", "_vertices"}


def _make_regions(net, pats, wits, rads, A_sel, b_sel, lab_sel, bounds, bnd, rks, szs):
    """Region objects, filled field by field (the frozen dataclass's ``__init__`` costs
    several microseconds per Region through ``object.__setattr__``)."""
    import dataclasses

    if {f.name for f in dataclasses.fields(Region)} != _REGION_FIELDS:  # Region changed: be safe
        return [Region(index=i, pattern=pats[i], witness=wits[i], inradius=rads[i],
                       A=A_sel[bounds[i]: bounds[i + 1]], b=b_sel[bounds[i]: bounds[i + 1]],
                       facets=tuple(lab_sel[bounds[i]: bounds[i + 1]]), bounded=bnd[i], ranks=rks[i],
                       codeword_sizes=szs[i], _net=net) for i in range(len(pats))]
    new = object.__new__
    setd = object.__setattr__
    out = []
    for i in range(len(pats)):
        lo, hi = bounds[i], bounds[i + 1]
        r = new(Region)
        setd(r, "__dict__", {"index": i, "pattern": pats[i], "witness": wits[i], "inradius": rads[i],
                             "A": A_sel[lo:hi], "b": b_sel[lo:hi], "facets": tuple(lab_sel[lo:hi]),
                             "bounded": bnd[i], "ranks": rks[i], "codeword_sizes": szs[i],
                             "_net": net, "_vertices": None})
        out.append(r)
    return out


def _paused_gc(func, *args):
    """``func(*args)`` with the cyclic garbage collector paused: it would rescan the
    growing set of Regions many times over (it costs as much as building them)."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        return func(*args)
    finally:
        if enabled:
            gc.enable()


@_njit
def _doubtful_cells(isfac, co, lb, tol_abs, d):
    """The cells :func:`_certify_cells` looks at again: those whose bound ``lb`` is not
    above ``tol_abs`` or that have fewer than d + 1 facets (``isfac`` over the candidate
    rows, cell c's at ``co[c]:co[c + 1]``), in order; and which cells have too few facets."""
    n = lb.shape[0]
    out = np.empty(n, np.int64)
    flat = np.zeros(n, np.bool_)
    m = 0
    for p in range(n):
        c = 0
        for r in range(co[p], co[p + 1]):
            if isfac[r]:
                c += 1
        flat[p] = c < d + 1
        if flat[p] or not lb[p] > tol_abs:
            out[m] = p
            m += 1
    return out[:m], flat


def _certify_cells(cells, g0, k0, isfac, co, lb, wit, tol_abs, d):
    """The sliver check: a cell whose certified inradius ``lb`` is not above ``tol_abs``
    gets a Chebyshev-centre LP on its facets' rows (unit normals, :func:`_unit_rows`, from the
    chunks ``(C, R, co)`` of ``cells``; each chunk's first cell and candidate row in ``g0``,
    ``k0``), as the LP engine would decide. Returns which cells are regions, their witnesses
    and inradii, the number of LPs, and the radii of the cells dropped as slivers (above
    SLIVER_MIN: below it a cell is a rounding artefact).

    A cell with fewer than d + 1 facets (the artificial box's included: every cell is
    bounded) is flat, whatever its bound: its vertices lie in one hyperplane, and its
    facets' rows alone would make the LP see the half-space beyond it. It is no region.
    (Such cells came from a duplicated unit's cut along its copy's facet, which the layer
    kernel no longer makes (COINCIDENT_RTOL); the rule stays as a guard.)"""
    doubtful, flat = _doubtful_cells(isfac, co, lb, tol_abs, d)
    alive = np.ones(len(lb), dtype=bool)
    if not len(doubtful):  # every cell certified: the bounds are the radii
        return alive, wit, lb, 0, []
    from .exceptions import InfeasibleError
    from .lp import chebyshev_center

    radius, wit = lb.copy(), wit.copy()
    n_lp = 0
    thin = []
    for p in doubtful:
        if flat[p]:
            alive[p] = False
            continue
        rows = np.flatnonzero(isfac[co[p]: co[p + 1]]) + co[p]
        i = int(np.searchsorted(g0, p, side="right")) - 1  # the chunk holding the cell
        A_p, b_p = _unit_rows(np.ascontiguousarray(cells[i][1][rows - k0[i]]), d)
        n_lp += 1
        try:
            x, r = chebyshev_center(A_p, b_p)
        except InfeasibleError:
            alive[p] = False
            continue
        if r <= tol_abs:
            alive[p] = False
            r = float(np.min(b_p - A_p @ x, initial=r))
            if r > SLIVER_MIN:
                thin.append(r)
        else:
            wit[p], radius[p] = x, r
    return alive, wit, radius, n_lp, thin


def _adjacency(net, K, run, pat, praw, pat_alive, new_index, frows, fcells, fpos, centers, A_sel, C_sel, lp_scale,
               tails):
    """Edges found by the LP engine's neighbour rule at the centre of every unit facet:
    lists of (sources, targets, units) and the facets whose neighbour pattern is not a
    region, as (facet, source) pairs. The facets are given by their candidate rows
    ``frows`` (centres ``centers[frows]``), cells ``fcells`` and positions ``fpos`` among
    the regions' rows (``A_sel[fpos]``, ``C_sel[fpos]``: outward unit normals and
    hyperplane ids). They are taken ``ADJACENCY_CHUNK`` at a time, so that their neighbour
    patterns (one bool per unit and facet) never all exist. The regions' patterns are
    looked up as bitsets (:func:`_bit_keys`) in a hash table (:func:`_key_table`); without
    the dead-layer rule each thread's piece gathers its facets' rows, runs the neighbour
    kernel and looks its keys up (:func:`_match_keys`), and no pattern is built. (Over 64
    units, two regions with one pattern make the search of the sorted packed patterns
    decide, as before.)"""
    keys = _bit_keys(pat_alive)
    table = _key_table(keys, np.arange(len(keys)))
    key_fn = _bit_keys
    if table[1]:  # a repeated key: what a search of the sorted keys finds, the first of its repeats
        if keys.shape[1] == 1:
            order = np.argsort(keys[:, 0])
            table = _key_table(keys[order], order)
        else:  # the packed keys sorted and searched
            key_fn, table = _packed_keys, None
            keys = _packed_keys(pat_alive)
            order = np.argsort(keys)
            skeys = keys[order]
    del keys
    rest = _neighbor_args(net, K, run.offsets, pat, praw, ON_FACET_SNAPS * VERTEX_SNAP * lp_scale, run.zero_rel,
                          run.zero_abs, run.parents, run.kept)
    run.kept = None
    d = net.input_dim
    keys_only = table is not None and tails is None  # the kernel's keys are the patterns' keys

    def piece(a, b, alone=False):  # facets a..b (independent of each other); alone: not on the pool
        k = _omp_threads(run.n_jobs, b - a, d=d) if alone else 0
        if k and keys_only:  # the whole piece on numba's threads
            si, ti, ui, mi, ms = _omp_run(k, _adjacency_par, frows[a:b], fpos[a:b], centers, A_sel, C_sel, fcells[a:b],
                                          new_index, table[0], *rest)
            return si, ti, ui, mi + a, ms
        fc, fa, fu = _facet_rows(frows[a:b], fpos[a:b], centers, A_sel, C_sel)
        cells = fcells[a:b].astype(np.int64)
        nb, q = (_omp_run(k, _neighbor_par, fc, fa, cells, rest[0], fu, *rest[1:], not keys_only) if k else
                 _neighbor_kernel(fc, fa, cells, rest[0], fu, *rest[1:], not keys_only))
        del fc, fa
        src = new_index[cells]
        if keys_only:
            si, ti, ui, mi = _match_keys(table[0], q, src, fu)
            return si, ti, ui, mi + a, src[mi]
        return nb, q, src, fu

    ei, ej, eu, miss = [], [], [], []
    if keys_only:  # no patterns: every chunk's pieces in one stream
        cuts = []
        for a in range(0, len(frows), ADJACENCY_CHUNK):
            b = min(len(frows), a + ADJACENCY_CHUNK)
            bounds = _bounds(b - a, run.n_jobs, _min_chunk("neighbor", d))
            cuts += [(a, b)] if bounds is None else list(zip((bounds[:-1] + a).tolist(), (bounds[1:] + a).tolist()))
        for si, ti, ui, mi, ms in _pstream(lambda t: piece(*cuts[t], len(cuts) == 1), len(cuts), run.n_jobs):
            ei.append(si)
            ej.append(ti)
            eu.append(ui)
            miss += zip(mi.tolist(), ms.tolist())
    for a in range(0, len(frows) if not keys_only else 0, ADJACENCY_CHUNK):
        b = min(len(frows), a + ADJACENCY_CHUNK)
        bounds = _bounds(b - a, run.n_jobs, _min_chunk("neighbor", d))
        outs = [piece(a, b, True)] if bounds is None else _pmap(piece, bounds + a, run.n_jobs)
        nb = np.concatenate([o[0] for o in outs]) if len(outs) > 1 else outs[0][0]
        src = np.concatenate([o[2] for o in outs]) if len(outs) > 1 else outs[0][2]
        fu = np.concatenate([o[3] for o in outs]) if len(outs) > 1 else outs[0][3]
        del outs
        q = key_fn(nb if tails is None else apply_dead_layer_tails(nb, run.offsets, tails))
        del nb
        fr = np.arange(a, b)
        if table is not None:
            si, ti, ui, mi = _match_keys(table[0], q, src, fu)
            miss += zip(fr[mi].tolist(), src[mi].tolist())
            ei.append(si)
            ej.append(ti)
            eu.append(ui)
            continue
        pos_q = np.minimum(np.searchsorted(skeys, q), len(skeys) - 1)
        hit = skeys[pos_q] == q
        tgt = order[pos_q].astype(src.dtype)
        ok = hit & (tgt != src)
        miss += zip(fr[~hit].tolist(), src[~hit].tolist())
        ei.append(src[ok])
        ej.append(tgt[ok])
        eu.append(fu[ok])
    if not ei:
        ei, ej, eu = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    return ei, ej, eu, miss


@_njit_par
def _adjacency_par(frows, fpos, centers, A_sel, C_sel, fcells, new_index, T, pat, WTflat, woff, bflat, offsets, d,
                   on_tol, zthr, zabs, praw, anc, Hflat, hoff, WT3, k):
    """A piece of :func:`_adjacency` (its keys only) on ``k`` threads, one piece of
    consecutive facets each: their rows (:func:`_facet_rows`), neighbour keys
    (:func:`_neighbor_kernel`) and matches (:func:`_match_keys`), joined in facet order. Returns
    the edges' sources, targets and units, and the missed facets (positions in the piece)
    with their sources."""
    m = frows.shape[0]
    si = np.empty(m, np.int64)
    ti = np.empty(m, np.int64)
    ui = np.empty(m, np.int64)
    mi = np.empty(m, np.int64)
    ms = np.empty(m, np.int64)
    cnt = np.zeros((k, 2), np.int64)
    for t in _prange(k):
        a = t * m // k
        e = (t + 1) * m // k
        fc, fa, fu = _facet_rows(frows[a:e], fpos[a:e], centers, A_sel, C_sel)
        cells = np.empty(e - a, np.int64)
        src = np.empty(e - a, np.int64)
        for i in range(e - a):
            cells[i] = fcells[a + i]
            src[i] = new_index[fcells[a + i]]
        _, q = _neighbor_kernel(fc, fa, cells, pat, fu, WTflat, woff, bflat, offsets, d, on_tol, zthr, zabs, praw,
                                anc, Hflat, hoff, WT3, False)
        s_, t_, u_, m_ = _match_keys(T, q, src, fu)
        for i in range(s_.shape[0]):  # at the piece's own places (at most one edge per facet)
            si[a + i], ti[a + i], ui[a + i] = s_[i], t_[i], u_[i]
        for i in range(m_.shape[0]):
            mi[a + i], ms[a + i] = m_[i] + a, src[m_[i]]
        cnt[t, 0], cnt[t, 1] = s_.shape[0], m_.shape[0]
    ne = nm = 0
    for t in range(k):  # the pieces' edges and misses moved to the front, in order
        a = t * m // k
        for i in range(cnt[t, 0]):
            si[ne], ti[ne], ui[ne] = si[a + i], ti[a + i], ui[a + i]
            ne += 1
        for i in range(cnt[t, 1]):
            mi[nm], ms[nm] = mi[a + i], ms[a + i]
            nm += 1
    return si[:ne].copy(), ti[:ne].copy(), ui[:ne].copy(), mi[:nm].copy(), ms[:nm].copy()


@_njit
def _facet_rows(frows, fpos, centers, A_sel, C_sel):
    """``centers[frows], A_sel[fpos], C_sel[fpos]`` (``fpos``: each facet's position among
    the regions' rows)."""
    m = frows.shape[0]
    d = centers.shape[1]
    fc = np.empty((m, d))
    fa = np.empty((m, d))
    fu = np.empty(m, np.int64)
    for t in range(m):
        r = frows[t]
        q = fpos[t]
        for k in range(d):
            fc[t, k] = centers[r, k]
            fa[t, k] = A_sel[q, k]
        fu[t] = C_sel[q]
    return fc, fa, fu


@_njit_inline
def _key_slot(T, q, f):
    """The slot of key ``q[f]`` (a row of uint64 words) in the table ``T``: where it is, or
    the empty slot where it would go (linear probing from its hash). The hash is the top
    log2(size) bits of a multiplicative (Fibonacci) hash chained over the words: they
    depend on every bit (the product's lower bits do not depend on the key's higher ones,
    and patterns that differ only there then collided)."""
    size = T.shape[0]
    nw = q.shape[1]
    sh = np.uint64(64) - np.uint64(_ctz(np.uint64(size)))
    if nw == 1:  # up to 64 units: one word (a third of the time of the loops below)
        key = q[f, 0]
        s = int((key * np.uint64(0x9E3779B97F4A7C15)) >> sh) & (size - 1)
        while T[s, 1] != 0 and T[s, 0] != key:
            s = (s + 1) & (size - 1)
        return s
    h = np.uint64(0)
    for w in range(nw):
        h = (h ^ q[f, w]) * np.uint64(0x9E3779B97F4A7C15)
    s = int(h >> sh) & (size - 1)
    while T[s, nw] != 0:
        diff = np.uint64(0)
        for w in range(nw):
            diff |= T[s, w] ^ q[f, w]
        if diff == 0:
            break
        s = (s + 1) & (size - 1)
    return s


@_njit
def _key_table(skeys, order):
    """An open-addressing hash table of the keys ``skeys`` (rows of uint64 words,
    :func:`_bit_keys`): per slot the key's words and then 1 + ``order`` at the key's first
    position (for sorted keys what a binary search for the key finds), 0 for an empty slot,
    in one row (a probe reads one cache line); and whether a key repeats. Its size is a
    power of two, at least 2 and twice the number of keys."""
    size = 2
    while size < 2 * skeys.shape[0]:
        size *= 2
    nw = skeys.shape[1]
    T = np.zeros((size, nw + 1), np.uint64)
    repeat = False
    for p in range(skeys.shape[0]):
        s = _key_slot(T, skeys, p)
        if T[s, nw] == 0:  # the first position of a repeated key stays
            for w in range(nw):
                T[s, w] = skeys[p, w]
            T[s, nw] = np.uint64(order[p] + 1)
        else:
            repeat = True
    return T, repeat


@_njit
def _match_keys(T, q, src, fu):
    """The lines of :func:`_adjacency` after its search keys, in one pass: the edges
    (source, target, unit) of the facets whose neighbour's key is a region's (other than
    the source), and the positions of the facets whose key is none. ``T``: the regions'
    keys in a hash table (:func:`_key_table`)."""
    m = q.shape[0]
    nw = q.shape[1]
    si = np.empty(m, np.int64)
    ti = np.empty(m, np.int64)
    ui = np.empty(m, np.int64)
    mi = np.empty(m, np.int64)
    k = 0
    nm = 0
    for f in range(m):
        s = _key_slot(T, q, f)
        t = np.int64(T[s, nw]) - 1
        if t < 0:
            mi[nm] = f
            nm += 1
        elif t != src[f]:
            si[k], ti[k], ui[k] = src[f], t, fu[f]
            k += 1
    return si[:k].copy(), ti[:k].copy(), ui[:k].copy(), mi[:nm].copy()


def _degenerate_edges(net, K, miss, centers, spread, frows, fpos, pat_alive, A_sel, C_sel, b_sel, bounds, tol_abs,
                      lp_scale, tails):
    """Edges across the facets whose neighbour pattern is not a region (degenerate
    facets; ``miss``: (facet, source) pairs, the facets as in :func:`_adjacency`): the
    pattern at points just across, at the steps CROSSING_STEPS, adjacent only if the
    facet's centre lies in the closure of the region found."""
    ei, ej, eu = [], [], []
    lookup = {bytes(k): i for i, k in enumerate(_packed_keys(pat_alive))}
    for t, i in miss:
        fr, q = frows[t], fpos[t]
        c, nvec, u = centers[fr], A_sel[q], int(C_sel[q])
        for delta in CROSSING_STEPS:
            y = c + nvec * max(delta * spread[fr], tol_abs * CROSSING_MIN_TOLS)
            p = net.patterns(y[None, :], flat=True, layer=K)
            if tails is not None:
                p = apply_dead_layer_tails(p, net.offsets[: K + 1], tails)
            key = bytes(_packed_keys(p)[0])
            j = lookup.get(key)
            if j is not None:
                lo_j, hi_j = bounds[j], bounds[j + 1]
                slack = CLOSURE_RTOL * max(lp_scale, float(np.abs(c).max()))
                if np.max(A_sel[lo_j:hi_j] @ c - b_sel[lo_j:hi_j], initial=-np.inf) > slack:
                    continue
                if j != i:
                    ei.append([i])
                    ej.append([j])
                    eu.append([u])
                break
    return ei, ej, eu


#: Bits of a region id or unit id in :func:`_dedup_edges`'s packed keys (ids below 2^21).
_EDGE_BITS = 21


@_njit
def _dedup_edges(ei, ej, eu, n, like):
    """The edges ``(lo, hi, u)`` (``lo < hi`` the two regions, ids below ``n`` <= 2^21) of the
    found ones ``(ei, ej, eu)``, one per pair, with its smallest unit, ordered by ``lo``, then
    ``hi`` (the order of ``np.sort`` of the keys ``(lo n + hi) n + u``): a counting sort by
    ``lo``, then each bucket's keys ``hi 2^21 + u`` sorted (by insertion while it is short)
    and the first of each ``hi`` kept. Returned with the dtype of ``like``."""
    m = ei.shape[0]
    start = np.zeros(n + 1, np.int64)
    for t in range(m):
        start[min(ei[t], ej[t]) + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = start[:n].copy()
    key = np.empty(m, np.int64)
    for t in range(m):
        a, b = ei[t], ej[t]
        lo, hi = min(a, b), max(a, b)
        key[fill[lo]] = (np.int64(hi) << _EDGE_BITS) | np.int64(eu[t])
        fill[lo] += 1
    mask = (np.int64(1) << _EDGE_BITS) - 1
    oi = np.empty(m, like.dtype)
    oj = np.empty(m, like.dtype)
    ou = np.empty(m, like.dtype)
    k = 0
    for i in range(n):
        a, b = start[i], start[i + 1]
        if b - a > 16:
            key[a:b] = np.sort(key[a:b])
        else:
            for t in range(a + 1, b):
                x = key[t]
                j = t
                while j > a and key[j - 1] > x:
                    key[j] = key[j - 1]
                    j -= 1
                key[j] = x
        prev = -1
        for t in range(a, b):
            hi = key[t] >> _EDGE_BITS
            if hi == prev:
                continue
            prev = hi
            oi[k], oj[k], ou[k] = i, hi, key[t] & mask
            k += 1
    return oi[:k].copy(), oj[:k].copy(), ou[:k].copy()


def _pairs(ei, ej):
    """``np.stack([ei, ej], axis=1)`` without its Python-level overhead."""
    out = np.empty((len(ei), 2), np.result_type(ei, ej))
    out[:, 0] = ei
    out[:, 1] = ej
    return out


@_njit
def _id_bound(ei, ej, eu):
    """1 + the largest entry of the three arrays (1 when all are empty)."""
    m = 0
    for t in range(ei.shape[0]):
        m = max(m, ei[t])
    for t in range(ej.shape[0]):
        m = max(m, ej[t])
    for t in range(eu.shape[0]):
        m = max(m, eu[t])
    return int(m) + 1


def _unique_edges(ei, ej, eu):
    """One edge per pair ``i < j``, labelled by its smallest unit (units are numbered in
    label order); int32 where the ids fit."""
    ei, ej, eu = (np.asarray(x[0]) if len(x) == 1 else np.concatenate(x) for x in (ei, ej, eu))
    n = _id_bound(ei, ej, eu)
    small = np.int32 if n < 2 ** 31 else np.int64
    if n <= 1 << _EDGE_BITS:
        return _dedup_edges(ei, ej, eu, n, np.zeros(0, small))
    lo, hi = np.minimum(ei, ej), np.maximum(ei, ej)
    del ei, ej
    o = np.lexsort((eu, hi, lo))
    lo, hi, eu = lo[o], hi[o], eu[o]
    del o
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return lo[first].astype(small), hi[first].astype(small), eu[first].astype(small)


@_njit
def _has_dead_layer(P, offsets):
    """Whether a row of the patterns ``P`` has an all-off hidden layer before the last."""
    for i in range(P.shape[0]):
        for l in range(offsets.shape[0] - 2):
            off = True
            for j in range(offsets[l], offsets[l + 1]):
                if P[i, j]:
                    off = False
                    break
            if off:
                return True
    return False


@_njit
def _layer_sizes(P, offsets):
    """The codeword sizes: active units per hidden layer of each pattern."""
    K = offsets.shape[0] - 1
    out = np.zeros((P.shape[0], K), np.int64)
    for i in range(P.shape[0]):
        for l in range(K):
            for j in range(offsets[l], offsets[l + 1]):
                out[i, l] += P[i, j]
    return out


def _unit_rows(Rw, d):
    """Candidate rows ``(a, c)`` (``a.y + c >= 0`` inside) as ``A y <= b`` with unit normals."""
    if d < 8:  # numpy sums fewer than 8 squares in order: the compiled loop gives the same bits
        return _unit_rows_kernel(Rw, d)
    nrm = np.linalg.norm(Rw[:, :d], axis=1)
    return -Rw[:, :d] / nrm[:, None], Rw[:, d] / nrm


@_njit_inline
def _unit_row(Rw, r, d, A, b, q):
    """The cell row ``Rw[r]`` (``a.x + c >= 0`` kept) as the unit-normal facet row
    ``A[q] x <= b[q]``."""
    acc = 0.0
    for k in range(d):
        acc += Rw[r, k] * Rw[r, k]
    nrm = math.sqrt(acc)
    for k in range(d):
        A[q, k] = -Rw[r, k] / nrm
    b[q] = Rw[r, d] / nrm


@_njit
def _unit_rows_kernel(Rw, d):
    n = Rw.shape[0]
    A = np.empty((n, d))
    b = np.empty(n)
    for r in range(n):
        _unit_row(Rw, r, d, A, b, r)
    return A, b


@_njit_inline
def _pack_bits(P, i, dst, r):
    """``dst[r, w]``: the bools ``P[i, 64 w: 64 w + 64]`` as the bits of a uint64 (bit b =
    entry 64 w + b), each word built in a register by a counted loop from 0 (it vectorises).
    Rows by index, not views: numba counts the references of a view's parent atomically, and
    threads that make views of one array in a loop wait on each other."""
    n = P.shape[1]
    for w in range(dst.shape[1]):
        lo = 64 * w
        k = np.uint64(0)
        for b in range(min(64, n - lo)):
            if P[i, lo + b]:
                k |= np.uint64(1) << np.uint64(b)
        dst[r, w] = k


@_njit
def _bit_keys(P):
    """The rows of a bool matrix as bitsets: ``ceil(columns / 64)`` uint64 words per row
    (at least one; bit ``j % 64`` of word ``j // 64`` = column j)."""
    out = np.zeros((P.shape[0], max(1, (P.shape[1] + 63) >> 6)), np.uint64)
    for i in range(P.shape[0]):
        _pack_bits(P, i, out, i)
    return out


#: The certificate of :func:`_no_first_layer_gap` handles first layers of at most this many
#: units (its parallel test looks at every pair).
GAP_CERT_MAX_UNITS = 256
#: Its margin on a vertex computed by Cramer's rule, in units of ``|det|^-1 (1 + |V| + |b|)``:
#: far above the rounding of Cramer's rule and of LAPACK's solve (a few eps times the
#: condition number ``<= 2 / |det|``), so that a vertex it places farther than ``limit``
#: plus the margins from every other is farther than ``limit`` in ``first_layer_gap``.
GAP_CERT_MARGIN = 1e-11
#: Pairs of lines at an angle whose sine is below this are left to ``first_layer_gap``.
GAP_CERT_MIN_DET = 1e-6
#: Pairs of unit normals whose cosine is within this of +-1 count as parallel (and are left
#: to ``first_layer_gap`` when their offsets are within ``2 limit`` plus this of each other).
GAP_CERT_PARALLEL_TOL = 1e-9
#: Relative slack on the domain's rows when a vertex is kept as possibly inside.
GAP_CERT_DOMAIN_RTOL = 1e-12


@_njit
def _no_first_layer_gap(W, b, Ad, bd, limit):
    """True when ``first_layer_gap`` (polyrank._numerics) is certainly None for a first
    layer ``(W, b)`` of input dimension 1 or 2: every two of its vertices (Cramer's rule,
    kept when within the domain ``{Ad y <= bd}`` plus ``limit`` and margins) are farther
    apart than ``limit`` plus their margins (``GAP_CERT_MARGIN``), and no two of its
    hyperplanes are nearly parallel within ``2 limit``. False when it cannot tell
    (close or concurrent features, nearly parallel lines, too many units): the caller
    then runs ``first_layer_gap`` (polyrank._numerics) itself. The same answer for
    the cost of a sort, without a batched SVD or a k-d tree."""
    n0, d = W.shape
    if n0 > GAP_CERT_MAX_UNITS or d > 2:
        return False
    Wn = np.empty((n0, d))
    bn = np.empty(n0)
    n = 0
    for i in range(n0):
        acc = 0.0
        for k in range(d):
            acc += W[i, k] * W[i, k]
        nrm = math.sqrt(acc)
        if nrm > 0.0:
            for k in range(d):
                Wn[n, k] = W[i, k] / nrm
            bn[n] = b[i] / nrm
            n += 1
    # (nearly) parallel hyperplanes close together: left to first_layer_gap
    for i in range(n):
        for j in range(i + 1, n):
            g = 0.0
            for k in range(d):
                g += Wn[i, k] * Wn[j, k]
            if (abs(g) >= 1.0 - GAP_CERT_PARALLEL_TOL
                    and abs(bn[i] - (1.0 if g > 0 else -1.0) * bn[j]) <= 2.0 * limit + GAP_CERT_PARALLEL_TOL):
                return False
    if n < d:
        return True
    # the vertices, a margin each, kept when they may lie within the domain plus limit
    nvx = n if d == 1 else n * (n - 1) // 2
    V = np.empty((nvx, 2))
    mg = np.empty(nvx)
    m = 0
    nd = bd.shape[0]
    for i in range(n):
        for j in range(i + 1 if d == 2 else i, i + 1 if d == 1 else n):
            if d == 1:
                det = Wn[i, 0]
                x = -bn[i] / det
                y = 0.0
                bb = abs(bn[i])
            else:
                det = Wn[i, 0] * Wn[j, 1] - Wn[i, 1] * Wn[j, 0]
                if abs(det) <= GAP_CERT_MIN_DET:
                    return False
                x = (-bn[i] * Wn[j, 1] + bn[j] * Wn[i, 1]) / det
                y = (-Wn[i, 0] * bn[j] + Wn[j, 0] * bn[i]) / det
                bb = abs(bn[i]) + abs(bn[j])
            if not (math.isfinite(x) and math.isfinite(y)):
                return False
            e = GAP_CERT_MARGIN * (1.0 + max(abs(x), abs(y)) + bb) / abs(det)
            inside = True
            for r in range(nd):
                s = Ad[r, 0] * x + (Ad[r, 1] * y if d == 2 else 0.0)
                a1 = abs(Ad[r, 0]) + (abs(Ad[r, 1]) if d == 2 else 0.0)
                if s > bd[r] + limit + a1 * e + GAP_CERT_DOMAIN_RTOL * (1.0 + abs(bd[r])):
                    inside = False
                    break
            if inside:
                V[m, 0] = x
                V[m, 1] = y
                mg[m] = e
                m += 1
    if m < 2:
        return True
    emax = 0.0
    for t in range(m):
        emax = max(emax, mg[t])
    order = np.argsort(V[:m, 0])
    reach = limit + 2.0 * emax
    for t in range(m):
        i = order[t]
        for t2 in range(t + 1, m):
            j = order[t2]
            dx = V[j, 0] - V[i, 0]
            if dx > reach:
                break
            dy = V[j, 1] - V[i, 1]
            if math.sqrt(dx * dx + dy * dy) <= limit + mg[i] + mg[j]:
                return False
    return True


def _assemble(net, domain, K, run, pat, rk, tol_abs, lp_scale, R, t0, frame=(0.0, 1.0), edges=True):
    """The Decomposition of a finished run: certified regions, their irredundant facets
    ordered as the LP engine orders them, and the adjacency (objects built lazily).

    The run works on ``run.net`` in the local frame ``x = x0 + s y`` (``frame``); the
    regions are reported in x, for ``net``."""
    x0, s = frame
    lnet = run.net
    # the bits behind an all-off layer are exact (the kernels' constant threshold is a bound
    # over all regions, above small biases of late layers): set them, here and across facets
    # (only when some region has an all-off layer: the first all-off layer of a pattern stays,
    # so without one no pattern set by the rule is a region's; tails None skips the rule)
    praw = pat  # the bits the run cut with (the neighbour pass rebuilds its maps from them)
    tails = None
    if _has_dead_layer(pat, run.offsets):
        tails = dead_layer_tails(lnet, K)
        pat = apply_dead_layer_tails(pat, run.offsets, tails)
    # facets, witnesses and radii (the vertices and edges are freed chunk by chunk as they are
    # read off), then the regions' rows as A x <= b with unit normals (the candidates' ids and
    # rows are freed as they are read off)
    cells, run.cells = run.cells, None
    d = net.input_dim
    fbits = []  # the vertex bitsets (F, vo) of each chunk, kept for polyrank.faces
    isfac, centers, spread, wit, lb, onbox, nkeep, nunit, co, items, g0, k0 = _facet_pass(
        cells, d, int(run.box_id0), run.n, run.n_jobs, fbits)
    n_cells = len(lb)
    alive, wit, radius, n_lp, thin = _certify_cells(cells, g0, k0, isfac, co, lb, wit, tol_abs, d)
    # --- the regions: facets ordered by id (units, then domain rows), as the LP engine does
    n_dom = len(domain.b) if domain is not None else 0

    def labels():  # (layer, index) of each row id, for the objects built on first access
        return ([(l + 1, i) for l in range(K) for i in range(net.widths[l])]
                + [(0, r) for r in range(n_dom)])

    offsets = run.offsets
    A_sel, b_sel, C_sel, bounds, frows, fcells, fpos, new_index, idx_cells = _region_rows(
        cells, items, g0, k0, isfac, alive, nkeep, nunit, int(run.box_id0), run.n, d, run.n_jobs)
    del cells, items, isfac, nkeep, nunit
    _release_heap(n_cells)

    # the regions in the caller's coordinates x = x0 + s y (A is the same: one read-only array)
    A_out = A_sel
    x0v = np.asarray(x0, dtype=np.float64)
    x0v = x0v if x0v.shape == (d,) else np.full(d, float(x0v))  # (a scalar x0: the frame's default 0.0)
    # (at x0 = 0 the product is zero: not run, so that no BLAS thread wakes for it; + 0.0 as
    # the product's zeros would turn -0.0 into 0.0)
    b_out = s * b_sel + (A_sel @ x0v if x0v.any() else 0.0)
    A_out.setflags(write=False)
    b_out.setflags(write=False)
    every = len(idx_cells) == n_cells  # no cell dropped (the rule): no copies
    wits = x0 + s * (wit if every else wit[idx_cells])
    wits.setflags(write=False)
    pat_alive = pat if every else pat[idx_cells]
    del lb, wit, alive

    def build_regions():
        # the Python objects, built on first access to Decomposition.regions
        return _paused_gc(build_regions_impl)

    def build_regions_impl():
        lab_sel = _labels_of(C_sel, labels())
        pats = _bool_tuples(pat_alive)
        rks = _int_tuples(rk_alive)
        szs = _int_tuples(_layer_sizes(pat_alive, offsets))
        rads = (s * radius[idx_cells]).tolist()
        bnd = (~onbox[idx_cells]).tolist()
        return _make_regions(net, pats, wits, rads, A_out, b_out, lab_sel, bounds.tolist(), bnd, rks, szs)

    # --- adjacency: every unit facet, the LP engine's neighbour rule at its centre
    ei, ej, eu, miss = _adjacency(lnet, K, run, pat, praw, pat_alive, new_index, frows, fcells, fpos, centers, A_sel,
                                  C_sel, lp_scale, tails) if edges else ([[np.zeros(0, np.int64)]] * 3 + [[]])
    if miss:
        di, dj, du = _degenerate_edges(lnet, K, miss, centers, spread, frows, fpos, pat_alive, A_sel, C_sel, b_sel,
                                       bounds, tol_abs, lp_scale, tails)
        ei, ej, eu = ei + di, ej + dj, eu + du
    del centers, spread, b_sel, frows, fcells, fpos, new_index, co, pat, praw
    ei, ej, eu = _unique_edges(ei, ej, eu)
    run.wait_ranks()  # the ranks a pool thread computed meanwhile (run(defer_ranks=True))
    rk_alive = rk if every else rk[idx_cells]

    def build_edges():
        if not edges:
            raise ValueError("This decomposition was enumerated with edges=False: it has no adjacency.")
        return _paused_gc(lambda: list(zip(ei.tolist(), ej.tolist(), _labels_of(eu, labels()))))

    stats = dict(seconds=time.perf_counter() - t0, n_lp=n_lp, n_cells=n_cells,
                 n_fallback=len(miss))
    if R is not None:
        stats["box_halfwidth"] = s * R
    # slivers dropped, and features of the first layer thinner than tol (local units = relative)
    gap = None  # certified None without the batched SVD and k-d tree where it can be
    Ad0, bd0 = run.domain_rows
    W1, b1 = lnet.weights[0], lnet.biases[0]
    if not (d <= 2 and _no_first_layer_gap(np.asarray(W1, np.float64), np.asarray(b1, np.float64),
                                           np.ascontiguousarray(Ad0, dtype=np.float64).reshape(-1, d),
                                           np.asarray(bd0, np.float64), 2 * tol_abs / lp_scale)):
        gap = first_layer_gap(lnet, Ad0, bd0, 2 * tol_abs / lp_scale)
    notes = precision_notes(tol_abs / lp_scale, s * lp_scale, len(thin), min(thin, default=None), gap)
    warn_precision(notes)
    # the chunks' vertex bitsets as one array (after the work arrays are freed), offsets global
    if len(fbits) == 1 and fbits[0][1][0] == 0 and fbits[0][1].dtype == np.int64:  # one chunk: as it is
        F, vo = fbits[0]
    else:
        F = np.concatenate([f for f, _ in fbits]) if fbits else np.zeros((0, 1), np.uint64)
        vo = np.zeros(n_cells + 1, np.int64)
        c0 = 0
        for _, o in fbits:
            vo[c0 + 1: c0 + len(o)] = o[1:] + vo[c0]
            c0 += len(o) - 1
    del fbits
    # what polyrank.faces reads instead of recomputing it (faces, verify): the regions' rows,
    # the dual graph, and each region's vertex-hyperplane incidences (bitsets over the row ids)
    arrays = {"patterns": pat_alive, "ranks": rk_alive, "A": A_out, "b": b_out, "witnesses": wits,
              "row_offsets": np.asarray(bounds, dtype=np.int64), "row_ids": C_sel,
              "bounded": ~(onbox if every else onbox[idx_cells]), "inradius": s * (radius if every else radius[idx_cells]),
              "edges": _pairs(ei, ej), "vertex_bits": (F, vo, idx_cells, int(run.box_id0))}
    if not edges:
        del arrays["edges"]
    return Decomposition(net, domain, K, build_regions, build_edges, n_regions=len(idx_cells),
                         arrays=arrays, partial=run.truncated,
                         method="subdivision", stats=stats, n_dropped=len(thin), precision_notes=notes)
