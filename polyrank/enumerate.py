"""Exact enumeration of the polytope decomposition of a ReLU network.

The LP engine is a breadth-first traversal over facets (``docs/enumeration.md``):
every region's H-representation is built from its activation pattern, a
Chebyshev-centre LP certifies that it is full-dimensional and gives an interior
witness, its irredundant facets are found (qhull on the dual for bounded regions
in low dimension, one warm-started LP per candidate row otherwise), and crossing
each facet gives a neighbour's pattern.
"""

from __future__ import annotations

import time
import warnings
from collections import deque

import numpy as np

from threadpoolctl import threadpool_limits

from ._numerics import (CROSSING_MIN_TOLS, CROSSING_STEPS, DEFAULT_MAX_REGIONS, DEFAULT_TOL, SLIVER_MIN,
                        apply_dead_layer_tails, dead_layer_tails, first_layer_gap, local_frame, local_network, precision_notes, scaled_units, warn_precision,
                        zero_thresholds)
from ._validation import check_frame, check_layer, check_point, check_positive_int, check_tol, format_bytes
from .domain import as_domain
from .exceptions import BoxPrecisionError, InfeasibleError, LPError, MemoryBudgetError, RegionLimitError
from .network import as_network
from .rank import batched_ranks
from .regions import Decomposition, Region, pattern_key

__all__ = ["enumerate_regions", "iter_regions", "DEFAULT_TOL", "DEFAULT_MAX_REGIONS"]

#: A facet found by qhull must have its vertices spread over d-1 dimensions by more than
#: this (relative to the length scale); below it the row only touches a lower-dimensional face.
FACET_SPREAD_RTOL = 1e-12
#: A qhull facet whose vertex spread is below this times the size of qhull's vertex set
#: (local units) is checked by an LP instead (see ``_LPEngine._facets_qhull``).
FACET_DOUBT_RTOL = 1e-7
#: Largest input dimension for which facets are found with qhull rather than LPs.
QHULL_MAX_DIM = 6
#: A hyperplane within this distance of a facet's centre passes through it, in local units
#: times max(1, |centre|): far from the origin (facets of unbounded regions over R^d reach
#: 1e3-1e4 local units) rounding grows with the coordinates.
ON_FACET_RTOL = 1e-11
#: Two unit-normal rows (normal, offset in local units) closer than this are one hyperplane.
COINCIDENT_RTOL = 1e-10
#: An interior point handed to qhull must be at least this far (relative to the
#: length scale) from every hyperplane; otherwise the LP path is taken.
QHULL_MIN_SLACK = 1e-7
#: Half-size (relative to the length scale) of the artificial box that lets qhull handle
#: unbounded regions; facets of the box itself are never reported.
ARTIFICIAL_BOX = 1e3
#: Cap on the Chebyshev radius in local units (keeps LPs over unbounded regions bounded).
LOCAL_RADIUS_CAP = 1e3
#: How often a start point lying on a hyperplane is nudged before giving up.
START_ATTEMPTS = 20
#: A nudged start point moves by START_STEP_TOLS times the tolerance (at least
#: START_MIN_TOL), growing tenfold every second attempt.
START_STEP_TOLS = 1e3
START_MIN_TOL = 1e-12
#: qhull's vertex spread must exceed this many float64 eps of its largest singular value.
QHULL_SPREAD_EPS = 1e3
#: The closure test of the facet-crossing fallback allows this many ON_FACET_RTOL.
FALLBACK_SLACK_FACTOR = 1e3
#: Seed of the fixed random direction that orders rows when duplicates are merged.
DEDUP_SEED = 12345
#: Fixed overhead (Python objects) of a finished Region and of a queued region, in bytes,
#: for the ``max_memory`` budget of the LP engine; their arrays are counted on top.
REGION_BYTES = 1500
QUEUED_REGION_BYTES = 1000


class _LPEngine:
    """State of one LP traversal. Trusts its inputs (validated by the public function)."""

    def __init__(self, net, domain, K, tol, x0, s):
        d = net.input_dim
        self.net_orig = net
        self.x0 = np.asarray(x0, dtype=np.float64)
        self.s = float(s)
        # work in local coordinates y = (x - x0) / s (unit scale, origin in the domain) and
        # in scaled units (no overflow or underflow for weights of any magnitude)
        self.net = local_network(net, K, self.x0, self.s)
        self.K = K
        self.d = d
        self.tol = tol  # local units: relative to the domain's size
        self.offsets = net.offsets[: K + 1]
        if domain is not None:
            Ad = np.asarray(domain.A)
            self.Ad, self.bd = Ad, (np.asarray(domain.b) - Ad @ self.x0) / self.s
            self.bounded_domain = domain.bounded
        else:
            self.Ad, self.bd = np.zeros((0, d)), np.zeros(0)
            self.bounded_domain = False
        self.unit_labels = [(l + 1, i) for l in range(K) for i in range(net.widths[l])]
        self.n_lp = 0
        self.n_qhull = 0
        self.n_fallback = 0
        self.n_small_lp = 0
        self.thin = {}  # pattern key -> inscribed radius (local units) of patterns dropped as thinner than tol
        self._dedup_dir = np.random.default_rng(DEDUP_SEED).normal(size=d + 1)
        zg, zc = zero_thresholds(self.net, K)
        self._zero_rel = np.repeat(zg, net.widths[:K])
        self._zero_abs = np.repeat(zc, net.widths[:K])
        self._tails = dead_layer_tails(self.net, K)  # the exact bits behind an all-off layer

    def to_global(self, data):
        """Witness, inradius and H-rep of a region in the caller's coordinates."""
        A = data["A"]
        return (self.x0 + self.s * data["witness"], self.s * data["inradius"], A,
                self.s * data["b"] + A @ self.x0)

    # ------------------------------------------------------------------ one region
    def build(self, flat, hint=None):
        """Return (canonical pattern, region data dict) or None when the pattern is not a
        full-dimensional region. ``hint`` is a point believed to be interior (it only
        speeds things up; everything is re-certified)."""
        net, K, d = self.net, self.K, self.d
        flat = apply_dead_layer_tails(flat, self.offsets, self._tails).copy()
        maps = net.affine_maps(flat, layer=K)
        Mall = np.vstack([M for M, _ in maps])
        mall = np.concatenate([m for _, m in maps])
        nrm = np.sqrt(np.einsum("ij,ij->i", Mall, Mall))
        zero = nrm <= self._zero_rel
        if zero.any():
            # constant pre-activation: identically zero -> inactive by convention;
            # a constant of the wrong sign means the pattern is empty
            const = mall[zero]
            iszero = np.abs(const) <= self._zero_abs[zero]
            sign_ok = np.where(flat[zero], const > 0, const <= 0) | iszero
            if not sign_ok.all():
                return None
            idx = np.flatnonzero(zero)
            flat[idx[iszero]] = False
            flat = apply_dead_layer_tails(flat, self.offsets, self._tails)
        s = np.where(flat, 1.0, -1.0)
        keep = np.flatnonzero(~zero)
        inv = 1.0 / nrm[keep]
        A = np.vstack([(-s[keep] * inv)[:, None] * Mall[keep], self.Ad])
        b = np.concatenate([s[keep] * mall[keep] * inv, self.bd])
        units = np.concatenate([keep, -1 - np.arange(len(self.bd))])  # <0: domain row
        A, b, units = self._dedup(A, b, units)
        geo = None
        if self.bounded_domain and 2 <= d <= QHULL_MAX_DIM and hint is not None:
            geo = self._qhull_then_chebyshev(A, b, hint)
        if geo is None:
            try:
                x, r = self._chebyshev(A, b)
            except InfeasibleError:
                return None
            if r <= self.tol:
                self._note_thin(flat, float(np.min(b - A @ x, initial=r)))
                return None
            facets = None
            if 2 <= d <= QHULL_MAX_DIM:
                facets = (self._facets_qhull(A, b, x) if self.bounded_domain
                          else self._facets_qhull_unbounded(A, b, x))
            if facets is None:
                facets = self._facets_lp(A, b)
            geo = (x, r) + facets
        x, r, irr, centers, fradii = geo
        # certify: the inradius is the witness's smallest slack over all rows (unit normals)
        r = float(np.min(b - A @ x, initial=r))  # no rows at all: the whole space (capped)
        if r <= self.tol:
            self._note_thin(flat, r)
            return None
        Ai, bi, ui = A[irr], b[irr], units[irr]
        bounded = self.bounded_domain
        if not bounded:
            from .lp import is_bounded_polyhedron

            self.n_lp += 1
            bounded = bool(is_bounded_polyhedron(Ai)) if len(irr) else False
        ranks, sizes = self._ranks(Mall, flat)
        labels = tuple(self.unit_labels[u] if u >= 0 else (0, -1 - int(u)) for u in ui)
        data = dict(
            witness=x, inradius=r, A=Ai, b=bi, facets=labels, units=ui,
            bounded=bounded, ranks=ranks, codeword_sizes=sizes,
            facet_centers=centers, facet_radii=fradii, Mall=Mall, mall=mall, nrm=nrm,
        )
        return flat, data

    def _note_thin(self, flat, r):
        """Record a pattern whose region is a sliver: certified radius in (SLIVER_MIN, tol]."""
        if r > SLIVER_MIN:
            key = pattern_key(flat)
            self.thin[key] = max(r, self.thin.get(key, 0.0))

    def precision(self, keys):
        """(n_dropped, smallest dropped radius, notes) of a traversal that kept ``keys``."""
        dropped = [r for k, r in self.thin.items() if k not in keys]
        gap = first_layer_gap(self.net, self.Ad, self.bd, 2 * self.tol)
        notes = precision_notes(self.tol, self.s, len(dropped), min(dropped, default=None), gap)
        return len(dropped), notes

    def _ranks(self, Mall, flat):
        """rank(A_K) for every layer under the rank rule of :mod:`polyrank.rank` (the
        active rows of M_l; one batched SVD), capped by the earlier layers' ranks."""
        K, d = self.K, self.d
        off = self.offsets
        pats = [flat[off[l]: off[l + 1]] for l in range(K)]
        sizes = [int(p.sum()) for p in pats]
        stack = np.zeros((K, max(max(sizes), 1), d))
        for l, p in enumerate(pats):
            stack[l, : sizes[l]] = Mall[off[l]: off[l + 1]][p]
        r = batched_ranks(stack, sizes=sizes, zero_tol=self._zero_rel[off[:K]])
        # the rank cannot exceed d, any earlier codeword size or any earlier rank
        # (A_l = W_l D_{l-1} A_{l-1}); rounding may say otherwise
        return tuple(int(v) for v in np.minimum.accumulate(r)), tuple(sizes)

    def _dedup(self, A, b, units):
        """Merge coincident hyperplanes (duplicated units, a unit on a domain side).

        Rows are unit vectors, so two rows describe the same half-space when their
        (normal, offset) pairs differ by at most ``COINCIDENT_RTOL``. Candidates are found
        by sorting along one random projection and confirmed entry by entry. In each group
        a domain row wins (the facet is the domain's, nothing to cross), else the first unit.
        """
        n = len(b)
        key = np.hstack([A, b[:, None]])
        proj = key @ self._dedup_dir[: key.shape[1]]
        order = np.argsort(proj, kind="stable")
        gap = np.diff(proj[order])
        bound = COINCIDENT_RTOL * np.sqrt(key.shape[1]) * np.abs(self._dedup_dir).sum()
        if not np.any(gap <= bound):
            return A, b, units
        drop = np.zeros(n, dtype=bool)
        i = 0
        while i < n:
            j = i + 1
            while j < n and proj[order[j]] - proj[order[i]] <= bound:
                j += 1
            if j - i > 1:
                members = order[i:j]
                # confirm within the candidate run (a run can hold distinct rows)
                left = list(members)
                while left:
                    ref = left[0]
                    same = [m for m in left if np.max(np.abs(key[m] - key[ref])) <= COINCIDENT_RTOL]
                    left = [m for m in left if m not in same]
                    if len(same) > 1:
                        same = np.array(same)
                        dom = same[units[same] < 0]
                        winner = dom.min() if len(dom) else same[np.argmin(units[same])]
                        drop[same[same != winner]] = True
            i = j
        if drop.any():
            keep = ~drop
            return A[keep], b[keep], units[keep]
        return A, b, units

    def _chebyshev(self, A, b):
        from .lp import chebyshev_center

        self.n_lp += 1
        return chebyshev_center(A, b, r_cap=LOCAL_RADIUS_CAP)

    def _qhull_then_chebyshev(self, A, b, hint):
        """Fast path for bounded regions: qhull around a hint point finds the irredundant
        rows, the Chebyshev LP then runs on those rows only, and its centre is checked
        against every row. Returns None whenever anything is doubtful."""
        c, n = hint
        ac = b - A @ c
        an = A @ n
        ahead = (an > 0) & (ac > 10 * self.tol)
        with np.errstate(over="ignore"):  # an can be tiny: the step is then capped at 1 anyway
            t = min(float(np.min(ac[ahead] / an[ahead])) if ahead.any() else 1.0, 1.0) / 2
        point = c + t * n
        slack = b - A @ point
        if slack.min() <= QHULL_MIN_SLACK:
            return None
        facets = self._facets_qhull(A, b, point)
        if facets is None:
            return None
        irr = facets[0]
        from .lp import chebyshev_center_small

        small = chebyshev_center_small(A[irr], b[irr])
        if small is not None:
            self.n_small_lp += 1
            x, r = small
        else:
            try:
                x, r = self._chebyshev(A[irr], b[irr])
            except InfeasibleError:
                return None
        if r <= self.tol:
            return None
        return (x, r) + facets

    def _facets_qhull(self, A, b, x):
        from scipy.spatial import HalfspaceIntersection
        from scipy.spatial import QhullError

        self.n_qhull += 1
        try:
            hs = HalfspaceIntersection(np.hstack([A, -b[:, None]]), x)
        except (QhullError, ValueError):
            return None
        V = hs.intersections
        try:
            F = np.asarray(hs.dual_facets)
        except ValueError:  # non-simplicial dual facets (degenerate input): use LPs
            return None
        d = self.d
        if F.ndim != 2 or F.shape[1] != d:
            return None
        rows_flat = F.ravel()
        order = np.argsort(rows_flat, kind="stable")
        rows_sorted = rows_flat[order]
        P = V[order // d]  # the vertices, grouped by the row (facet) they lie on
        uniq, starts, counts = np.unique(rows_sorted, return_index=True, return_counts=True)
        centers = np.add.reduceat(P, starts, axis=0) / counts[:, None]
        # a facet must be (d-1)-dimensional: the (d-1)-th largest principal spread of its
        # vertices must exceed rounding noise (qhull may report a weakly redundant row, which
        # touches the region in a lower-dimensional face, as a dual vertex). Small but genuine
        # facets are kept: the region across them is certified by its own Chebyshev LP.
        D = P - np.repeat(centers, counts, axis=0)
        if d == 2:
            spread = np.sqrt(np.add.reduceat(np.einsum("ij,ij->i", D, D), starts) / counts)
            floor = 0.0
        else:
            # singular values of each facet's centred vertices (zero-padded to one shape):
            # their rounding is ~eps * the largest, where a covariance's eigenvalues would
            # put the floor at sqrt(eps) * the largest and pass a segment as a facet
            Dp = np.zeros((len(uniq), int(counts.max()), d))
            pos = np.arange(len(D)) - np.repeat(starts, counts)
            Dp[np.repeat(np.arange(len(uniq)), counts), pos] = D
            S = np.linalg.svd(Dp, compute_uv=False) / np.sqrt(counts)[:, None]  # descending
            spread = S[:, d - 2]
            floor = QHULL_SPREAD_EPS * np.finfo(np.float64).eps * S[:, 0]
        good = (counts >= d) & (spread > FACET_SPREAD_RTOL) & (spread > floor)
        # qhull's vertices carry absolute errors that grow with their size (the artificial
        # box puts them ~1e3 out): a row whose facet spread is that small is decided by
        # its facet LP instead (a weakly redundant row of a cone had spread ~1e-10 there)
        doubt = np.flatnonzero(good & (spread <= FACET_DOUBT_RTOL * max(1.0, float(np.abs(V - x).max()))))
        if len(doubt):
            kept, c2, _ = self._facets_lp(A, b, uniq[doubt])
            keep = np.isin(uniq[doubt], kept)
            good[doubt] = keep
            centers[doubt[keep]] = c2
        if not good.any():
            return None
        return uniq[good], centers[good], spread[good]

    def _facets_qhull_unbounded(self, A, b, x):
        """Facets of a possibly unbounded region: qhull on the region cut by a large
        artificial box around ``x`` finds every facet that reaches into the box; when the
        box itself is a facet (the region leaves it) the remaining rows get LP tests."""
        d = self.d
        L = ARTIFICIAL_BOX
        eye = np.eye(d)
        Ab = np.vstack([A, eye, -eye])
        bb = np.concatenate([b, x + L, L - x])
        found = self._facets_qhull(Ab, bb, x)
        if found is None:
            return None
        irr, centers, radii = found
        real = irr < len(b)
        if real.all():
            return irr, centers, radii
        irr, centers, radii = irr[real], centers[real], radii[real]
        rest = np.setdiff1d(np.arange(len(b)), irr)
        if len(rest):
            kept, c2, r2 = self._facets_lp(A, b, rest)
            irr = np.concatenate([irr, kept])
            centers = np.vstack([centers, c2])
            radii = np.concatenate([radii, r2])
            order = np.argsort(irr)
            irr, centers, radii = irr[order], centers[order], radii[order]
        return irr, centers, radii

    def _facets_lp(self, A, b, cand=None):
        """The candidate rows (default all) whose facet LP radius exceeds tol, with the
        facets' centres and radii."""
        from .lp import facet_centers

        cand = np.arange(len(b)) if cand is None else cand
        self.n_lp += len(cand)
        centers, radii = facet_centers(A, b, cand, r_cap=LOCAL_RADIUS_CAP)
        ok = radii > self.tol
        return cand[ok], centers[ok], radii[ok]

    def neighbors(self, flat, data):
        """Yield ``(k, neighbour pattern, point inside it)`` for every unit facet ``k``.

        General position (the fast path): at the facet's centre only the facet's own
        unit vanishes, so the neighbour's pattern is the flip of that one unit.
        Otherwise :meth:`neighbor_pattern` decides unit by unit.
        """
        units = data["units"]
        C = data["facet_centers"]
        idx = np.flatnonzero(units >= 0)
        if not len(idx):
            return
        Cn = C[idx]
        Z = Cn @ data["Mall"].T + data["mall"]
        # units whose hyperplane passes through the facet's centre (up to rounding)
        far = np.maximum(1.0, np.abs(Cn).max(axis=1))[:, None]
        on = np.abs(Z) <= ON_FACET_RTOL * data["nrm"] * far
        n_on = on.sum(axis=1)
        A = data["A"]
        for row, k in enumerate(idx):
            u = int(units[k])
            c = C[k]
            nvec = A[k]
            if n_on[row] == 1 and on[row, u]:
                nb = flat.copy()
                nb[u] = not nb[u]
            else:
                nb = self.neighbor_pattern(flat, c, nvec, self.unit_labels[u])
            yield k, nb, (c, nvec)

    # ------------------------------------------------------------------ crossing a facet
    def neighbor_pattern(self, flat, c, n, label):
        """Pattern of the region just across the facet through ``c`` with outward unit normal ``n``.

        Unit by unit, layer by layer: the sign of the pre-activation at ``c`` when it is
        clearly non-zero, else the sign of its derivative along ``n`` (the first-order
        term at ``c + delta n``); an identically vanishing unit is inactive.
        """
        net = self.net
        out = flat.copy()
        M, m = net.weights[0], net.biases[0]
        for l in range(self.K):
            sl = slice(int(self.offsets[l]), int(self.offsets[l + 1]))
            if l > 0:
                dprev = out[int(self.offsets[l - 1]): int(self.offsets[l])]
                W = net.weights[l][:, dprev]
                M, m = W @ M[dprev], W @ m[dprev] + net.biases[l]
            z = M @ c + m
            nrm = np.sqrt(np.einsum("ij,ij->i", M, M))
            const = nrm <= self._zero_rel[sl]
            near = ~const & (np.abs(z) <= ON_FACET_RTOL * nrm * max(1.0, float(np.abs(c).max())))
            p = z > 0
            # a constant pre-activation keeps its sign; identically zero is inactive
            p[const] = z[const] > self._zero_abs[sl][const]
            # a unit vanishing at c takes the sign of its derivative across the facet
            p[near] = (M[near] @ n) > self._zero_rel[sl][near]
            if label[0] == l + 1:
                # the unit carrying the facet flips (its own hyperplane is crossed)
                p[label[1]] = not flat[sl][label[1]]
            out[sl] = p
        return out

    def pattern_at(self, x):
        return self.net.patterns(x[None, :], flat=True, layer=self.K)[0]


def _setup(net, domain, layer, start, tol, max_regions, func, build=True, frame=None):
    """Validate the public arguments once and build the traversal engine (or, with
    ``build=False``, a function that builds it). ``frame``: a validated local frame
    ``(x0, s)`` to use instead of the domain's."""
    net = as_network(net)
    K = check_layer(layer, net.n_layers)
    domain = as_domain(domain, net.input_dim)
    tol = check_tol(tol, func=func)
    max_regions = check_positive_int(max_regions, name="max_regions", func=func)
    if start is None:
        start = domain.center if domain is not None else np.zeros(net.input_dim)
    else:
        start = check_point(start, net.input_dim, name="start")
        if domain is not None and not domain.contains(start[None, :])[0]:
            raise ValueError("start must lie inside the domain.")
    if not build:  # the frame is the LP engine's: computed only when it is built
        def make():
            x0, s = frame if frame is not None else local_frame(scaled_units(net, K), domain, start)
            return _LPEngine(net, domain, K, tol, x0, s), (start - x0) / s

        return net, domain, None, max_regions, make
    x0, s = local_frame(scaled_units(net, K), domain, start)
    return net, domain, (start - x0) / s, max_regions, _LPEngine(net, domain, K, tol, x0, s)


def _first_region(eng, start, domain, seed):
    """The region at the (local) start point; a start on a hyperplane is nudged (seeded)."""
    rng = np.random.default_rng(seed)
    x0 = start
    for attempt in range(START_ATTEMPTS):
        built = eng.build(eng.pattern_at(x0))
        if built is not None:
            return built
        step = max(eng.tol, START_MIN_TOL) * START_STEP_TOLS * (10.0 ** (attempt // 2))
        x0 = start + rng.normal(size=start.shape) * step
        if np.any(eng.Ad @ x0 > eng.bd):
            x0 = start
    raise RuntimeError(
        f"Could not find a full-dimensional region at the start point: every point tried near it lies on "
        f"a hyperplane or in a region thinner than tol (inscribed radius <= {eng.tol:g} x the length scale "
        f"{eng.s:.3g}). Pass another start=, or a lower tol.")


def _data_bytes(flat, data):
    """Approximate memory of one queued region (its pattern and data arrays), in bytes."""
    return QUEUED_REGION_BYTES + flat.nbytes + sum(v.nbytes for v in data.values() if isinstance(v, np.ndarray))


def _region_bytes(region):
    """Approximate memory of one finished Region object, in bytes."""
    return (REGION_BYTES + region.A.nbytes + region.b.nbytes + region.witness.nbytes
            + 8 * (len(region.pattern) + len(region.facets) + 2 * len(region.ranks)))


def _region_limit_error(max_regions, where):
    """The RegionLimitError of the LP traversal; its advice holds for both public entry
    points (enumerate_regions and iter_regions take ``partial``)."""
    return RegionLimitError(f"The enumeration passed max_regions={max_regions} {where}. Raise max_regions, "
                            "shrink the domain, or pass partial=True to enumerate_regions (the regions found "
                            "so far, marked partial) or to iter_regions (stop quietly).")


def _traverse(eng, first, max_regions, partial, max_bytes=None, stream=False):
    """Breadth-first traversal. Yields events: ("region", Region), ("edge", i, j, unit),
    ("partial",). Edges to regions still queued are reported once those are built.

    ``max_bytes``: raise MemoryBudgetError when the regions kept (all of them unless
    ``stream``: then only the queue counts) and the queue would need more."""
    index = {}  # pattern key -> region index (None while queued)
    waiting = {}  # pattern key -> [(i, unit)] edges to a queued region
    queue = deque()
    flat0, data0 = first
    index[pattern_key(flat0)] = None
    queue.append((flat0, data0))
    used = _data_bytes(flat0, data0)
    count = 0
    while queue:
        flat, data = queue.popleft()
        used -= _data_bytes(flat, data)
        key = pattern_key(flat)
        if count >= max_regions:
            if partial:
                yield ("partial",)
                return
            raise _region_limit_error(max_regions, f"with {len(queue) + 1} regions still queued")
        idx = count
        count += 1
        index[key] = idx
        witness, inradius, A_glob, b_glob = eng.to_global(data)
        region = Region(
            index=idx, pattern=tuple(bool(v) for v in flat), witness=witness,
            inradius=inradius, A=A_glob, b=b_glob, facets=data["facets"],
            bounded=data["bounded"], ranks=data["ranks"], codeword_sizes=data["codeword_sizes"],
            _net=eng.net_orig,
        )
        for arr in (region.witness, region.A, region.b):
            arr.setflags(write=False)
        if max_bytes is not None and not stream:
            used += _region_bytes(region)
        yield ("region", region)
        for i, unit in waiting.pop(key, ()):
            yield ("edge", i, idx, unit)
        for k, nb, hint in eng.neighbors(flat, data):
            unit = data["facets"][k]
            nkey = pattern_key(nb)
            if nkey not in index:
                built = eng.build(nb, hint)
                if built is None:
                    built = _fallback(eng, hint, data["facet_radii"][k])
                if built is None:
                    warnings.warn(f"Could not resolve the region across facet {unit} of region {idx}; "
                                  "the decomposition may be incomplete (degenerate network?).",
                                  RuntimeWarning, stacklevel=3)
                    continue
                nb, nbdata = built  # canonical pattern
                nkey = pattern_key(nb)
                if nkey not in index:
                    index[nkey] = None
                    queue.append((nb, nbdata))
                    used += _data_bytes(nb, nbdata)
                    if max_bytes is not None and used > max_bytes:
                        raise MemoryBudgetError(
                            f"The LP traversal needs more than max_memory={max_bytes} bytes "
                            f"({format_bytes(max_bytes)}) after {count} regions, with {len(queue)} queued "
                            f"(about {format_bytes(used)}). Raise max_memory, shrink the domain, pass "
                            "max_regions with partial=True, or stream the regions with iter_regions.")
            j = index[nkey]
            if j is None:
                waiting.setdefault(nkey, []).append((idx, unit))
            elif j != idx:
                yield ("edge", idx, j, unit)


def _fallback(eng, hint, r):
    """Degenerate facet: evaluate the forward pattern at points just across it.

    A region found there counts only if the facet's centre lies in its closure: a step
    of ``delta * r`` across an unbounded facet (r up to LOCAL_RADIUS_CAP) can jump over
    a parallel hyperplane into a region that is not adjacent."""
    eng.n_fallback += 1
    c, n = hint
    slack = ON_FACET_RTOL * FALLBACK_SLACK_FACTOR * max(1.0, float(np.abs(c).max()))
    for delta in CROSSING_STEPS:
        y = c + n * max(delta * r, eng.tol * CROSSING_MIN_TOLS)
        built = eng.build(eng.pattern_at(y))
        if built is not None and np.max(built[1]["A"] @ c - built[1]["b"], initial=-np.inf) <= slack:
            return built
    return None


def iter_regions(net, domain=None, *, layer=None, start=None, max_regions=DEFAULT_MAX_REGIONS,
                 partial=False, tol=DEFAULT_TOL, seed=0, max_memory=None):
    """Lazily yield the regions of the LP traversal, breadth-first from the start region.

    Same arguments as :func:`enumerate_regions` (LP engine); use it to stream regions of a
    decomposition too large to keep, or to stop early. With ``partial=True`` the generator
    ends quietly after ``max_regions`` regions instead of raising RegionLimitError;
    ``max_memory`` bounds the traversal's queue (the regions yielded are the caller's).

    Yields
    ------
    Region

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
    >>> [r.pattern for r in pr.iter_regions(net, pr.Box(-2.0, 2.0, dim=1))]
    [(False, False), (True, False), (True, True)]
    """
    net, domain, start, max_regions, eng = _setup(net, domain, layer, start, tol, max_regions,
                                                  "iter_regions")
    max_memory = check_positive_int(max_memory, name="max_memory", func="iter_regions", allow_none=True)
    first = _first_region(eng, start, domain, seed)
    for event in _traverse(eng, first, max_regions, bool(partial), max_memory, stream=True):
        if event[0] == "region":
            yield event[1]


def enumerate_regions(net, domain=None, *, layer=None, method="auto", start=None,
                      max_regions=DEFAULT_MAX_REGIONS, partial=False, tol=DEFAULT_TOL,
                      progress=False, seed=0, max_memory=None, verify=False, n_jobs=None,
                      frame=None) -> Decomposition:
    """Enumerate every linear region of ``net`` over ``domain``, exactly.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    domain : Box, Polytope, Simplex or None
        The input domain; None means all of R^d (regions may then be unbounded).
    layer : int, optional
        Decompose by the patterns of hidden layers 1..layer (default: all hidden layers).
    method : {"auto", "lp", "subdivision"}
        ``"lp"``: breadth-first LP traversal (any input dimension).
        ``"subdivision"``: layer-by-layer cutting of the domain (input dimension 1-10).
        ``"auto"`` picks subdivision where it is available and faster, LP otherwise, and
        over an unbounded domain whose box the subdivision engine cannot resolve at
        ``tol`` (``subdivision.BOX_ROUNDING_SAFETY``) switches to LP before cutting it
        (``dec.stats["auto_engine"]`` then says so).
    start : array-like of shape (d,), optional
        Where the LP traversal starts (default: the domain's centre, or the origin).
    max_regions : int
        Stop with :class:`~polyrank.exceptions.RegionLimitError` beyond this many regions.
    partial : bool, default False
        Instead of raising at ``max_regions``, return the regions found so far in a
        Decomposition marked ``partial=True``.
    tol : float
        Minimum inscribed-ball radius, relative to the domain's size, for a region
        or facet to count as full-dimensional.
    progress : bool
        Show a tqdm progress bar.
    seed : int or Generator
        Only used to nudge a start point that lies on a hyperplane.
    max_memory : int, optional
        Memory budget in bytes; beyond it a MemoryBudgetError is raised instead of running
        out of memory. The subdivision engine counts its cell complex and the Regions
        (default ``subdivision.DEFAULT_MAX_MEMORY``); the LP engine counts the Regions it
        keeps and its queue (default: no budget).
    n_jobs : int, optional
        Threads of the subdivision engine (default: all cores; the answer does not depend
        on it). The LP engine runs on one thread.
    verify : bool, default False
        Certify the result with :meth:`Decomposition.verify` and
        raise :class:`~polyrank.CertificateError` naming what failed; the certificate
        is kept in ``dec.stats["certificate"]``.
    frame : (x0, s), optional
        The local frame ``x = x0 + s y`` both engines work in (default: the domain's
        centre and size, see Notes); ``tol`` and the engines' thresholds are relative to
        ``s``. A tile of a larger domain passes that domain's frame (``Tile.frame``,
        :func:`polyrank.tile_domain`), so that it decides every unit as the whole domain's run.

    Returns
    -------
    Decomposition
        ``dec.n_dropped`` counts the regions left out as thinner than ``tol``;
        ``dec.precision_limited`` says whether regions may be missing at this precision.

    Raises
    ------
    RegionLimitError
        More than ``max_regions`` regions and ``partial`` is False.
    MemoryBudgetError
        The run would exceed ``max_memory``.

    Warns
    -----
    PrecisionWarning
        Regions thinner than ``tol`` were dropped (lower ``tol`` to keep them), ``tol`` is
        below the engines' float64 floor, or the first layer's hyperplanes meet closer than
        ``tol`` inside the domain (a domain far larger than the network's features).

    See Also
    --------
    iter_regions : the lazy generator behind the LP engine.

    Notes
    -----
    Both engines work in the domain's local frame and in scaled units, so the result does
    not depend on the domain's position or size, or on the weights' magnitude (see
    ``docs/enumeration.md``, "Scale, precision and slivers").

    "Exact" means: every region's pattern is certified by a Chebyshev-centre LP
    (an inscribed ball of radius > ``tol`` in float64), facets are certified
    (d-1)-dimensional, and every region of the domain is reached (the facet
    graph of a subdivision of a convex domain is connected). The cost is one
    Chebyshev LP plus one qhull call (bounded regions, d <= 6) or one LP per
    candidate row per region.

    Examples
    --------
    Two hidden units that switch at x = 0 and x = 1 cut [-2, 2] into three pieces:

    >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
    >>> len(pr.enumerate_regions(net, domain=pr.Box(-2.0, 2.0, dim=1)))
    3
    """
    if method not in ("auto", "lp", "subdivision"):
        raise ValueError(f"method must be 'auto', 'lp' or 'subdivision'; got {method!r}.")
    if verify:
        from .faces import check_certifiable

        check_certifiable(net, domain, "enumerate_regions(verify=True)")
        dec = enumerate_regions(net, domain, layer=layer, method=method, start=start, max_regions=max_regions,
                                partial=partial, tol=tol, progress=progress, seed=seed, max_memory=max_memory,
                                n_jobs=n_jobs, frame=frame)
        dec.stats["certificate"] = dec.verify().raise_if_failed()
        return dec
    if n_jobs is not None:
        check_positive_int(n_jobs, name="n_jobs", func="enumerate_regions")
    net = as_network(net)
    frame = check_frame(frame, net.input_dim, func="enumerate_regions")
    net, dom, _, max_regions, make = _setup(net, domain, layer, start, tol, max_regions,
                                            "enumerate_regions", build=False, frame=frame)
    max_memory = check_positive_int(max_memory, name="max_memory", func="enumerate_regions", allow_none=True)
    fallback = None
    if method in ("auto", "subdivision"):
        engine = _choose_subdivision(net, dom, method)
        if engine is not None:
            extra = {} if max_memory is None else {"max_memory": max_memory}
            if n_jobs is not None:
                extra["n_jobs"] = n_jobs
            try:
                # auto: over an unbounded domain whose box the engine cannot resolve at tol, the LP engine
                return engine(net, dom, layer=check_layer(layer, net.n_layers), max_regions=max_regions,
                              partial=partial, tol=tol, progress=progress, frame=frame, strict=method == "auto",
                              **extra)
            except BoxPrecisionError as exc:
                why = exc.args[1] if len(exc.args) > 1 else "is too large to resolve tol"
                fallback = (f"method='auto' used the LP engine: over this unbounded domain the subdivision "
                            f"engine's box (half-width {exc.args[0]:.3g} in local units) {why}")
    eng, start_pt = make()
    t0 = time.perf_counter()
    regions, edges = [], {}
    is_partial = False
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(unit=" regions", desc="enumerate_regions")
    try:
        with threadpool_limits(limits=1):  # BLAS threads would fight HiGHS for the cores
            first = _first_region(eng, start_pt, dom, seed)
            for event in _traverse(eng, first, max_regions, partial, max_memory):
                if event[0] == "region":
                    regions.append(event[1])
                    if bar is not None:
                        bar.update(1)
                elif event[0] == "edge":
                    _, i, j, unit = event
                    edges.setdefault((min(i, j), max(i, j)), unit)  # one edge per region pair
                else:
                    is_partial = True
    except LPError as exc:
        if type(exc) is not LPError:  # infeasible or unbounded: said as it is
            raise
        raise LPError(f"{exc} HiGHS could not solve one of the LPs of this traversal: the network's "
                      f"hyperplanes are numerically ill-conditioned here (e.g. first-layer rows that are "
                      f"nearly linearly dependent). method='subdivision' (input dimension 1..10) needs no LP "
                      f"and marks what float64 cannot resolve as precision_limited.") from exc
    finally:
        if bar is not None:
            bar.close()
    stats = dict(seconds=time.perf_counter() - t0, n_lp=eng.n_lp, n_small_lp=eng.n_small_lp,
                 n_qhull=eng.n_qhull, n_fallback=eng.n_fallback)
    if fallback is not None:
        stats["auto_engine"] = fallback
    n_dropped, notes = eng.precision({pattern_key(r.pattern) for r in regions})
    warn_precision(notes)
    return Decomposition(net, dom, eng.K, regions, [(i, j, u) for (i, j), u in sorted(edges.items())],
                         partial=is_partial, method="lp", stats=stats, n_dropped=n_dropped, precision_notes=notes)


def _choose_subdivision(net, domain, method):
    """Return the subdivision engine's entry point when it applies, else None."""
    try:
        from . import subdivision
    except ImportError:
        subdivision = None
    if subdivision is None or not hasattr(subdivision, "enumerate_subdivision"):
        if method == "subdivision":
            raise NotImplementedError("The subdivision engine is not available in this build.")
        return None
    if method == "subdivision" or subdivision.applies(net, domain):
        return subdivision.enumerate_subdivision
    return None
