"""Exact minimum and maximum codeword size (and one-layer rank) by mixed-integer programs.

The *codeword size* of a linear region at layer ``K`` is the number of active
units of that layer (``docs/theory.md``). :func:`min_codeword_size` and
:func:`max_codeword_size` find its extremes over all full-dimensional regions
inside a bounded domain without enumerating them, with the standard big-M
encoding of ReLU units on HiGHS (through :func:`polyrank.lp.solve_milp`):

* variables: the input ``x`` (inside the domain), the post-activations ``h_l``
  of layers ``1..K-1`` and one binary ``a_i`` per *unstable* unit of layers
  ``1..K`` (a unit is stable when interval arithmetic over the domain's bounding
  box proves its pre-activation ``z_i`` never changes sign);
* ``h = ReLU(z)`` by ``h >= z, h >= 0, h <= z - L (1 - a), h <= U a`` with the
  interval bounds ``L <= z <= U``;
* the sign of every unstable unit is pinned with a *margin*: ``a_i = 1`` forces
  ``z_i >= eps_i`` and ``a_i = 0`` forces ``z_i <= -eps_i``. A point meeting
  these lies strictly inside one region (no unit vanishes there), so every
  solution is a full-dimensional region, never a lower-dimensional face. This is
  what makes the answer comparable with :func:`polyrank.enumerate_regions` and
  with sampling: the activation ``[z > 0]`` is strict, and a point on a
  hyperplane (where ``z = 0``) would otherwise count the unit as off.

Two MILPs make the answer exact. The *search* MILP optimises the codeword
size with a fixed margin ``eps_i = ACTIVE_MARGIN * s_i`` (``s_i`` is half the
interval range of ``z_i``). Its pattern is then certified by the same
Chebyshev-centre LP the enumerator uses (inscribed radius ``> DEFAULT_TOL``
times the domain size), which also gives the witness point. The *certificate*
MILP then maximises a common relative margin ``t`` over all patterns with a
strictly better codeword size: ``t* <= CERTIFY_MARGIN`` (or infeasibility)
proves that no region with a better codeword size exists, up to regions so thin
that every point of them is within relative margin ``CERTIFY_MARGIN`` of one of
their hyperplanes (HiGHS's own feasibility tolerances are ~1e-7 to 1e-6, so
thinner regions cannot be resolved by any float64 MILP). A better region found
by the certificate becomes the new incumbent and the certificate is repeated.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ._numerics import ZERO_ROW_RTOL
from ._validation import check_layer
from .domain import Box, as_domain
from .exceptions import InfeasibleError, LPError
from .lp import chebyshev_center, solve_milp

#: HiGHS options for the codeword MILPs: the RINS/RENS sub-MIP heuristics cost more than
#: they find here (an incumbent comes from sampled points), 2-7x slower when left on.
MILP_OPTIONS = {"mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False}
from .network import as_network
from .rank import batched_ranks, matrix_rank

__all__ = ["min_codeword_size", "max_codeword_size", "min_rank", "max_rank", "CodewordResult",
           "RankResult", "ACTIVE_MARGIN", "CERTIFY_MARGIN", "GP_MAX_SUBSETS"]

#: Margin of the search MILP, relative to half the interval range of each unit's
#: pre-activation: a unit counts as active when ``z >= eps`` and inactive when ``z <= -eps``.
ACTIVE_MARGIN = 1e-4
#: The certificate MILP proves optimality when no better pattern has a point at
#: which every unstable unit clears this relative margin.
CERTIFY_MARGIN = 1e-6
#: A region counts as full-dimensional when its inscribed ball has radius above
#: this times the domain's largest side (the enumerator's default ``tol``).
REGION_TOL = 1e-9
#: Interval bounds are widened by this relative amount against rounding.
BOUND_PAD = 1e-9
#: General position is checked on every ``min(n, d)``-row subset when there are at most this many.
GP_MAX_SUBSETS = 20_000
#: Random points used to find a first incumbent before any MILP.
N_PRESAMPLE = 64


@dataclass(frozen=True)
class CodewordResult:
    """Result of :func:`min_codeword_size` / :func:`max_codeword_size`.

    Attributes
    ----------
    value : int
        Codeword size (number of active units at ``layer``) of a certified
        full-dimensional region: the minimum (maximum) when ``status == "optimal"``.
    x : ndarray of shape (d,)
        Interior witness of that region (its Chebyshev centre in the domain).
    pattern : ndarray of bool, shape (n_1 + ... + n_layer,)
        The region's flat activation pattern (layers 1..layer); equals
        ``net.patterns(x[None], flat=True)`` restricted to those layers.
    bound : int
        Proven lower (for the minimum) or upper (for the maximum) bound on the
        codeword size of every full-dimensional region; equals ``value`` when optimal.
    status : str
        ``"optimal"``; ``"time_limit"`` (``value`` is the best region found,
        ``bound`` the trivial bound); ``"unproven"`` (the certificate kept
        finding candidates thinner than the LP tolerance).
    layer : int
    sense : str
        ``"min"`` or ``"max"``.
    margin : float
        Largest relative margin of a strictly better pattern found by the last
        certificate (``<= CERTIFY_MARGIN`` when optimal; ``0.0`` when none exists).
    n_milp : int
        Number of MILPs solved.
    """

    value: int
    x: np.ndarray
    pattern: np.ndarray
    bound: int
    status: str
    layer: int
    sense: str
    margin: float
    n_milp: int


@dataclass(frozen=True)
class RankResult:
    """Result of :func:`min_rank` / :func:`max_rank` (one hidden layer).

    Attributes
    ----------
    value : int
        ``rank(D W)`` on a certified region: the minimum (maximum) rank when ``exact``.
    codeword_size : int
        The extreme codeword size found by the MILP (see :class:`CodewordResult`).
    x : ndarray of shape (d,)
        Interior witness of the region.
    pattern : ndarray of bool, shape (n,)
    bound : int
        ``min(codeword bound, d)``: a proven bound on the rank when the rows of
        ``W`` are in general position.
    status : str
        The codeword MILP's status.
    general_position : bool or None
        True: every set of ``min(n, d)`` rows of ``W`` was checked independent;
        None: too many subsets to check, only the extremal region's rows were
        checked (and were fine); False: a dependent row set was found.
    exact : bool
        True when ``value`` is proven: optimal status and general position verified.
    codeword : CodewordResult
    """

    value: int
    codeword_size: int
    x: np.ndarray
    pattern: np.ndarray
    bound: int
    status: str
    general_position: object
    exact: bool
    codeword: CodewordResult


# ---------------------------------------------------------------------- validation
def _check_inputs(net, domain, layer, time_limit, func):
    net = as_network(net)
    if domain is None:
        raise ValueError(f"The 'domain' parameter of {func} must be a bounded Box or Polytope; got None. "
                         "The big-M encoding needs finite bounds on every pre-activation.")
    domain = as_domain(domain, net.input_dim)
    if not domain.bounded:
        raise ValueError(f"The 'domain' parameter of {func} must be bounded; the big-M encoding needs "
                         "finite bounds on every pre-activation.")
    K = check_layer(layer, net.n_layers)
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0:
            raise ValueError(f"The 'time_limit' parameter of {func} must be a float > 0 (seconds) or None. "
                             f"Got {time_limit!r} instead.")
        time_limit = float(time_limit)
    if K >= 2 and any(np.any(b == 0.0) for b in net.biases[1:K]):
        warnings.warn(
            f"{func}: some units of layers 2..{K} have a bias of exactly 0. On a region where all of such a "
            "unit's inputs are off, its pre-activation is identically 0 (the unit is off there) and the "
            "margin encoding cannot see that region; the result may then miss it.", stacklevel=3)
    return net, domain, K, time_limit


# ---------------------------------------------------------------------- the model
def _interval_bounds(net, lo, hi, K):
    Ls, Us = [], []
    hlo, hhi = lo, hi
    for l in range(K):
        W, b = net.weights[l], net.biases[l]
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        L = Wp @ hlo + Wn @ hhi + b
        U = Wp @ hhi + Wn @ hlo + b
        pad = BOUND_PAD * (np.abs(W) @ np.maximum(np.abs(hlo), np.abs(hhi)) + np.abs(b) + 1.0)
        L, U = L - pad, U + pad
        Ls.append(L)
        Us.append(U)
        hlo, hhi = np.maximum(L, 0.0), np.maximum(U, 0.0)
    return Ls, Us


class _Model:
    """Big-M encoding of layers 1..K over a bounded domain. Trusts its inputs.

    Columns: ``x`` (d) | ``h_1 .. h_{K-1}`` | ``a`` (one binary per unstable unit of layers 1..K).
    """

    def __init__(self, net, domain, K):
        self.net, self.domain, self.K = net, domain, K
        d = self.d = net.input_dim
        lo, hi = domain.bounding_box()
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.scale = float(max(1.0, np.max(self.hi - self.lo)))
        self.L, self.U = _interval_bounds(net, self.lo, self.hi, K)
        widths = net.widths[:K]
        col = d
        self.hcol = []
        for l in range(K - 1):
            self.hcol.append(np.arange(col, col + widths[l]))
            col += widths[l]
        self.state, self.acol = [], []  # state: +1 stable active, -1 stable inactive, 0 unstable
        for l in range(K):
            st = np.where(self.L[l] > 0, 1, np.where(self.U[l] <= 0, -1, 0))
            ac = np.full(widths[l], -1)
            idx = np.flatnonzero(st == 0)
            ac[idx] = np.arange(col, col + idx.size)
            col += idx.size
            self.state.append(st)
            self.acol.append(ac)
        n = self.ncol = col
        self.n_const = int(np.sum(self.state[K - 1] == 1))  # stable active units of layer K
        self.count = np.zeros(n)
        self.count[self.acol[K - 1][self.acol[K - 1] >= 0]] = 1.0
        # pre-activation rows z = Z @ cols + zb of the unstable units (for the margin rows)
        Zs, zbs, Ls, Us, As = [], [], [], [], []
        relu, relu_b, eq, eq_b = [], [], [], []
        for l in range(K):
            W, bias = net.weights[l], net.biases[l]
            prev = np.arange(d) if l == 0 else self.hcol[l - 1]
            Z = np.zeros((W.shape[0], n))
            Z[:, prev] = W
            st, ac = self.state[l], self.acol[l]
            u = st == 0
            Zs.append(Z[u])
            zbs.append(bias[u])
            Ls.append(self.L[l][u])
            Us.append(self.U[l][u])
            As.append(ac[u])
            if l == K - 1:
                continue
            hc = self.hcol[l]
            act = np.flatnonzero(st == 1)  # h = z on stable active units
            E = -Z[act]
            E[np.arange(act.size), hc[act]] += 1.0
            eq.append(E)
            eq_b.append(bias[act])
            ui = np.flatnonzero(u)
            k = ui.size
            ar = np.arange(k)
            R1 = Z[ui].copy()
            R1[ar, hc[ui]] -= 1.0  # z - h <= -b
            R2 = -Z[ui]
            R2[ar, hc[ui]] += 1.0
            R2[ar, ac[ui]] = -self.L[l][ui]  # h - z - L a <= b - L
            R3 = np.zeros((k, n))
            R3[ar, hc[ui]] = 1.0
            R3[ar, ac[ui]] = -self.U[l][ui]  # h - U a <= 0
            relu += [R1, R2, R3]
            relu_b += [-bias[ui], bias[ui] - self.L[l][ui], np.zeros(k)]
        if not isinstance(domain, Box):
            D = np.zeros((len(domain.b), n))
            D[:, :d] = np.asarray(domain.A)
            relu.append(D)
            relu_b.append(np.asarray(domain.b, float))
        self.Z = np.vstack(Zs)
        self.zb, self.Lu, self.Uu = np.concatenate(zbs), np.concatenate(Ls), np.concatenate(Us)
        self.au = np.concatenate(As).astype(np.intp)
        self.su = 0.5 * (self.Uu - self.Lu)
        self.R = np.vstack(relu) if relu else np.zeros((0, n))
        self.Rb = np.concatenate(relu_b) if relu_b else np.zeros(0)
        self.E = np.vstack(eq) if eq else np.zeros((0, n))
        self.Eb = np.concatenate(eq_b) if eq_b else np.zeros(0)
        lb, ub = np.zeros(n), np.zeros(n)
        lb[:d], ub[:d] = self.lo, self.hi
        for l in range(K - 1):
            ub[self.hcol[l]] = np.where(self.state[l] == -1, 0.0, np.maximum(self.U[l], 0.0))
        ub[self.au] = 1.0
        self.lb, self.ub = lb, ub
        self.integrality = np.zeros(n, dtype=bool)
        self.integrality[self.au] = True

    def solve(self, *, sense, margin, cutoff=None, time_limit=None):
        """Optimise the layer-K count with ``|z_i| >= margin * s_i`` on every unstable unit,
        subject to ``count <= cutoff`` (min) or ``count >= cutoff`` (max)."""
        k = self.au.size
        eps = margin * self.su
        ar = np.arange(k)
        act = -self.Z.copy()
        act[ar, self.au] = eps - self.Lu  # z >= L + (eps - L) a
        ina = self.Z.copy()
        ina[ar, self.au] = -(self.Uu + eps)  # z <= -eps + (U + eps) a
        A = [self.R, act, ina]
        b = [self.Rb, self.zb - self.Lu, -eps - self.zb]
        if cutoff is not None:
            c0 = cutoff - self.n_const
            A.append((self.count if sense == "min" else -self.count)[None])
            b.append([c0 if sense == "min" else -c0])
        return solve_milp(self.count, np.vstack(A), np.concatenate(b), self.E if len(self.E) else None,
                          self.Eb if len(self.Eb) else None, integrality=self.integrality, lb=self.lb,
                          ub=self.ub, maximize=sense == "max", time_limit=time_limit,
                          options=MILP_OPTIONS)

    def pattern_from(self, sol):
        pats = []
        for l in range(self.K):
            p = self.state[l] == 1
            ac = self.acol[l]
            m = ac >= 0
            p[m] = sol[ac[m]] > 0.5
            pats.append(p)
        return np.concatenate(pats)


def _certify(net, domain, K, flat, scale):
    """Chebyshev-centre LP of the region of ``flat``: (x, r) when it is full-dimensional, else None."""
    maps = net.affine_maps(flat, layer=K)
    rows, rhs = [np.asarray(domain.A)], [np.asarray(domain.b)]
    off = 0
    for (M, m) in maps:
        p = flat[off: off + M.shape[0]]
        off += M.shape[0]
        s = np.where(p, -1.0, 1.0)  # active: -(Mx + m) <= 0 ; inactive: Mx + m <= 0
        A = s[:, None] * M
        bb = -s * m
        norms = np.linalg.norm(A, axis=1)
        tiny = norms <= ZERO_ROW_RTOL * max(1.0, float(np.abs(M).max(initial=0.0)))
        if np.any(bb[tiny] < 0) or np.any((bb[tiny] <= 0) & p[tiny]):
            return None  # a constant unit with the wrong sign
        rows.append(A[~tiny] / norms[~tiny, None])
        rhs.append(bb[~tiny] / norms[~tiny])
    try:
        x, r = chebyshev_center(np.vstack(rows), np.concatenate(rhs))
    except InfeasibleError:
        return None
    if r <= REGION_TOL * scale:
        return None
    got = net.patterns(x[None], flat=True, layer=K)[0]
    if not np.array_equal(got, flat):
        return None
    return x, r


def _extreme_codeword(net, domain, K, sense, time_limit, cap=None):
    """Optimise the codeword size at layer K. With ``cap`` (used by the rank functions) only
    ``min(size, cap)`` is optimised: regions at or beyond the cap are not told apart."""
    t0 = time.perf_counter()
    model = _Model(net, domain, K)
    ks = net.layer_slice(K)
    n_K = net.widths[K - 1]
    sign = 1 if sense == "min" else -1

    def remaining():
        if time_limit is None:
            return None
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            raise _Timeout
        return left

    def clip(v):
        return v if cap is None else min(v, cap)

    # incumbent from a few random points (interior almost surely; certified by LP)
    best = None
    X = domain.sample(N_PRESAMPLE, seed=0)
    pats = net.patterns(X, flat=True, layer=K)
    sizes = pats[:, ks].sum(axis=1)
    for j in np.argsort(sign * sizes, kind="stable"):
        cert = _certify(net, domain, K, pats[j], model.scale)
        if cert is not None:
            best = (int(sizes[j]), cert[0], pats[j])
            break
    n_milp, status = 0, "optimal"
    proven = None  # proven bound on clip(extreme codeword size)
    try:
        target = None  # the MILP looks for a pattern strictly better than the incumbent
        if best is not None:
            target = clip(best[0]) - sign
        elif cap is not None and sense == "min":
            target = cap
        if target is not None and not 0 <= target <= (n_K if cap is None else min(cap, n_K)):
            proven = clip(best[0])  # nothing can be strictly better
        else:
            try:
                n_milp += 1
                res = model.solve(sense=sense, margin=CERTIFY_MARGIN, cutoff=target, time_limit=remaining())
            except InfeasibleError:
                proven = clip(best[0]) if best is not None else cap
            else:
                # optimal over every pattern realised with margin CERTIFY_MARGIN: a proven bound
                proven = clip(int(round(res.fun)) + model.n_const)
                flat = model.pattern_from(res.x)
                cert = _certify(net, domain, K, flat, model.scale)
                if cert is None:
                    # solver tolerances let a slightly infeasible point through: search again
                    # with the larger margin for a pattern that certifies
                    n_milp += 1
                    try:
                        res = model.solve(sense=sense, margin=ACTIVE_MARGIN, cutoff=target,
                                          time_limit=remaining())
                        flat = model.pattern_from(res.x)
                        cert = _certify(net, domain, K, flat, model.scale)
                    except InfeasibleError:
                        cert = None
                if cert is not None:
                    size = int(flat[ks].sum())
                    if best is None or sign * size < sign * best[0]:
                        best = (size, cert[0], flat)
    except (_Timeout, LPError) as exc:
        if isinstance(exc, LPError) and (time_limit is None or isinstance(exc, InfeasibleError)):
            raise
        status = "time_limit"
    if best is None:
        raise LPError("No full-dimensional region was found inside the domain (within the time limit).")
    if status == "optimal" and (proven is None or clip(best[0]) != proven):
        status = "unproven"
    if status == "optimal":
        bound = proven if sense == "min" or cap is None or best[0] < cap else n_K
    elif proven is not None:
        bound = proven
    else:
        bound = 0 if sense == "min" else n_K
    return CodewordResult(value=best[0], x=best[1], pattern=best[2], bound=int(bound), status=status, layer=K,
                          sense=sense, margin=CERTIFY_MARGIN, n_milp=n_milp)


class _Timeout(Exception):
    pass


def min_codeword_size(net, domain, *, layer=None, time_limit=None) -> CodewordResult:
    """Exact minimum number of active units at ``layer`` over the full-dimensional regions in ``domain``.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    domain : Box or Polytope
        A bounded input domain.
    layer : int, optional
        Hidden layer K (1-based; default the last). Regions are those of the
        patterns of layers 1..K.
    time_limit : float, optional
        Seconds for the whole computation; when reached, the best certified
        region so far is returned with ``status="time_limit"``.

    Returns
    -------
    CodewordResult
        ``value`` (the minimum), a certified interior witness ``x``, its
        ``pattern``, the proven ``bound``, ``status``.

    Raises
    ------
    ValueError
        For an unbounded or missing domain, a dimension mismatch, a bad layer or time limit.
    LPError
        When HiGHS fails for another reason than the time limit.

    Notes
    -----
    "Exact" means: ``value`` is the codeword size of a region certified
    full-dimensional by a Chebyshev LP (inradius above ``REGION_TOL`` times the
    domain size, as in :func:`polyrank.enumerate_regions`), and with
    ``status == "optimal"`` a certificate MILP found no region with fewer active
    units that contains a point where every unstable unit's ``|z_i|`` is at least
    ``CERTIFY_MARGIN`` times half its interval range (module docstring). Cost:
    usually two MILPs with ``n_1 + ... + n_K`` binaries at most (stable units get
    none); MILPs are NP-hard, so the time grows exponentially in the worst case.

    Examples
    --------
    Two units on a line, ``z_1 = x`` and ``z_2 = 1 - x``: on ``[-2, 2]`` one of them is
    always on, and both are on in ``(0, 1)``:

    >>> net = pr.ReLUNetwork.from_weights([[[1.0], [-1.0]]], [[0.0, 1.0]])
    >>> res = pr.min_codeword_size(net, pr.Box(-2.0, 2.0, dim=1))
    >>> res.value, res.status, res.bound
    (1, 'optimal', 1)
    >>> pr.max_codeword_size(net, pr.Box(-2.0, 2.0, dim=1)).value
    2
    """
    net, domain, K, time_limit = _check_inputs(net, domain, layer, time_limit, "min_codeword_size")
    return _extreme_codeword(net, domain, K, "min", time_limit)


def max_codeword_size(net, domain, *, layer=None, time_limit=None) -> CodewordResult:
    """Exact maximum number of active units at ``layer`` over the full-dimensional regions in ``domain``.

    The mirror image of :func:`min_codeword_size` (same parameters, result and
    guarantees, with "fewer" replaced by "more" and ``bound`` an upper bound).

    Raises
    ------
    ValueError
        For an unbounded or missing domain, a dimension mismatch, a bad layer or time limit.
    LPError
        When HiGHS fails for another reason than the time limit.

    Notes
    -----
    Cost: usually two MILPs (see :func:`min_codeword_size`).

    Examples
    --------
    >>> net = pr.init.default(2, 6, seed=0)
    >>> res = pr.max_codeword_size(net, pr.Box(-5.0, 5.0, dim=2))
    >>> res.status, int(net.patterns(res.x[None])[0].sum()) == res.value
    ('optimal', True)
    """
    net, domain, K, time_limit = _check_inputs(net, domain, layer, time_limit, "max_codeword_size")
    return _extreme_codeword(net, domain, K, "max", time_limit)


# ---------------------------------------------------------------------- ranks (one layer)
def _general_position(W, rows):
    """(value at the extremal region's rows is min(|S|, d), full general position: True/False/None)."""
    n, d = W.shape
    r = matrix_rank(W[rows]) if rows.size else 0
    local_ok = r == min(rows.size, d)
    m = min(n, d)
    if math.comb(n, m) > GP_MAX_SUBSETS:
        return r, local_ok, (None if local_ok else False)
    subsets = np.array(list(combinations(range(n), m)), dtype=np.intp)
    ok = True
    for chunk in np.array_split(subsets, max(1, subsets.shape[0] // 2000)):
        if np.any(batched_ranks(W[chunk]) < m):
            ok = False
            break
    return r, local_ok, ok and local_ok


def _extreme_rank(net, domain, time_limit, sense, func):
    net, domain, K, time_limit = _check_inputs(net, domain, None, time_limit, func)
    if net.n_layers != 1:
        raise ValueError(f"{func} is for networks with one hidden layer; this one has {net.n_layers}. "
                         f"Use {func}(net.truncate(1), ...) for the first layer, or enumerate_regions "
                         "and Decomposition.ranks for deeper layers.")
    cw = _extreme_codeword(net, domain, 1, sense, time_limit, cap=net.input_dim)
    W = net.weights[0]
    d = W.shape[1]
    rows = np.flatnonzero(cw.pattern)
    r, local_ok, gp = _general_position(W, rows)
    # a proven bound on min(|S|, d) over all regions: the rank under general position
    bound = min(cw.bound, d) if cw.status == "optimal" else (0 if sense == "min" else d)
    exact = bool(cw.status == "optimal" and gp is True and r == bound)
    return RankResult(value=int(r), codeword_size=cw.value, x=cw.x, pattern=cw.pattern,
                      bound=int(bound), status=cw.status, general_position=gp, exact=exact,
                      codeword=cw)


def min_rank(net, domain, *, time_limit=None) -> RankResult:
    """Exact minimum rank of a one-hidden-layer network's affine pieces over ``domain``.

    On a region with active set ``S`` the map is ``x -> D W x + D b`` with rank
    ``rank(W_S)``; when the rows of ``W`` are in general position (every set of
    at most ``d`` rows independent, true with probability 1 for continuous
    weight distributions) this is ``min(|S|, d)``, so the minimum rank is
    ``min(min |S|, d)`` with ``min |S|`` from :func:`min_codeword_size`.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
        One hidden layer.
    domain : Box or Polytope
        Bounded.
    time_limit : float, optional

    Returns
    -------
    RankResult
        ``value`` is ``rank(W_S)`` at the minimiser, computed there (SVD with
        :func:`polyrank.rank.matrix_rank`'s tolerance) rather than assumed.

    Raises
    ------
    ValueError
        For a network with more than one hidden layer, or bad inputs (as
        :func:`min_codeword_size`).

    Notes
    -----
    General position is verified on every ``min(n, d)``-row subset of ``W`` when
    there are at most ``GP_MAX_SUBSETS`` of them (for ``d = 2`` that is "no two rows
    parallel"); otherwise only the minimiser's rows are checked and
    ``general_position`` is None. When general position fails the rank at the
    witness is still exact for that region, but another region with more active
    units could have a lower rank: ``exact`` is then False.

    Examples
    --------
    >>> net = pr.init.rank_selection(2, 10, 3, seed=0)
    >>> res = pr.min_rank(net, pr.Box(-5.0, 5.0, dim=2))
    >>> res.value, res.exact, res.value <= min(3, 10 - 3, 2)
    (2, True, True)
    """
    return _extreme_rank(net, domain, time_limit, "min", "min_rank")


def max_rank(net, domain, *, time_limit=None) -> RankResult:
    """Exact maximum rank of a one-hidden-layer network's affine pieces over ``domain``.

    The mirror image of :func:`min_rank`: ``min(max |S|, d)`` under general position,
    the rank at the maximiser computed there.

    Raises
    ------
    ValueError
        As :func:`min_rank`.

    Notes
    -----
    Cost: usually two MILPs plus the general-position check (see :func:`min_rank`).

    Examples
    --------
    >>> net = pr.init.dale(3, 8, 3, seed=0)   # all inputs inhibitory: nothing fires on x >= 0
    >>> pr.max_rank(net, pr.Box(0.0, 10.0, dim=3)).value
    0
    """
    return _extreme_rank(net, domain, time_limit, "max", "max_rank")
