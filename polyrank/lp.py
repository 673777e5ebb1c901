"""The LP kernel: every linear and mixed-integer program of polyrank goes through here.

This is the only module that imports :mod:`highspy` (HiGHS). One ``Highs``
object per thread is created lazily and reused, with presolve and output off:
on these machines that costs ~0.15-0.7 ms per small LP, against >1 ms of
overhead for ``scipy.optimize.linprog`` or cvxpy.

Non-optimal HiGHS statuses raise :class:`~polyrank.exceptions.LPError`
subclasses; nothing here returns status codes.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

import numpy as np

from .exceptions import InfeasibleError, LPError, UnboundedError

__all__ = ["chebyshev_center", "chebyshev_center_small", "facet_centers", "solve_lp", "solve_milp", "is_bounded_polyhedron",
           "LPResult"]

#: Upper bound on the Chebyshev radius, so that LPs over unbounded regions stay bounded.
RADIUS_CAP = 1.0e6

#: In the from-scratch fallback of a facet LP, x is boxed to |x_j| <= this times ``r_cap``.
FALLBACK_X_BOUND = 1.0e3
#: Feasibility slack of :func:`chebyshev_center_small` (vertex enumeration of the dual).
SMALL_LP_FEAS_TOL = 1e-10
#: A basis of :func:`chebyshev_center_small` is singular when its determinant is below this
#: (relative to the largest entry to the power d + 1).
SMALL_LP_DET_RTOL = 1e-12
#: Default tolerance of :func:`is_bounded_polyhedron`.
BOUNDED_TOL = 1e-9
#: HiGHS's ``small_matrix_value``: smaller constraint coefficients are dropped (HiGHS's
#: default, 1e-9, is its largest; 1e-12 its smallest allowed value).
SMALL_MATRIX_VALUE = 1e-12
#: HiGHS's primal and dual feasibility tolerances (its default is 1e-7; 1e-10 is the
#: smallest it accepts).
FEASIBILITY_TOL = 1e-10

_local = threading.local()
_banner_silenced = False
_banner_lock = threading.Lock()


def _model_status():
    import highspy

    return highspy.HighsModelStatus


def _new_highs():
    """A quiet ``Highs`` object. HiGHS prints a banner on the first construction in
    a process, before any option can be set; swallow it by redirecting fd 1 once."""
    global _banner_silenced
    import highspy

    with _banner_lock:
        if not _banner_silenced:
            try:
                sys.stdout.flush()
                saved = os.dup(1)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                try:
                    h = highspy.Highs()
                finally:
                    os.dup2(saved, 1)
                    os.close(saved)
                    os.close(devnull)
            except OSError:  # pragma: no cover - no real fd 1
                h = highspy.Highs()
            _banner_silenced = True
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("threads", 1)
    # HiGHS drops matrix entries up to 1e-9 by default: a unit normal (1e-9, -1) would
    # become (0, -1), turning two hyperplanes at an angle of 1e-9 (meeting 1e9 out) parallel
    h.setOptionValue("small_matrix_value", SMALL_MATRIX_VALUE)
    # HiGHS's default feasibility tolerances (1e-7) let a facet LP report a radius ~1e-8
    # (above tol) for a row that touches a region only at a vertex: cones at a common apex
    # (zero biases) got spurious facets. The engines' LPs are in local units (|x| ~ 1).
    h.setOptionValue("primal_feasibility_tolerance", FEASIBILITY_TOL)
    h.setOptionValue("dual_feasibility_tolerance", FEASIBILITY_TOL)
    return h


def _highs():
    h = getattr(_local, "highs", None)
    if h is None:
        h = _local.highs = _new_highs()
    return h


def _inf():
    import highspy
    return highspy.kHighsInf


def _pass_dense(h, c, A, row_lo, row_hi, col_lo, col_hi, *, maximize=False, integrality=None):
    """Load a dense LP/MILP into ``h`` (row-wise matrix)."""
    import highspy

    A = np.ascontiguousarray(A, dtype=np.float64)
    m, n = A.shape
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = np.ascontiguousarray(c, dtype=np.float64)
    lp.col_lower_ = np.ascontiguousarray(col_lo, dtype=np.float64)
    lp.col_upper_ = np.ascontiguousarray(col_hi, dtype=np.float64)
    lp.row_lower_ = np.ascontiguousarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.ascontiguousarray(row_hi, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    mat = lp.a_matrix_
    mat.format_ = highspy.MatrixFormat.kRowwise
    mat.num_col_ = n
    mat.num_row_ = m
    mat.start_ = np.arange(0, m * n + 1, n, dtype=np.int32) if n else np.zeros(m + 1, dtype=np.int32)
    mat.index_ = np.tile(np.arange(n, dtype=np.int32), m)
    mat.value_ = A.ravel()
    if integrality is not None:
        lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
                           for f in integrality]
    h.passModel(lp)


def _status_error(h, what):
    import highspy

    st = h.getModelStatus()
    S = highspy.HighsModelStatus
    if st == S.kOptimal:
        return None
    text = h.modelStatusToString(st)
    if st == S.kInfeasible:
        return InfeasibleError(f"{what}: HiGHS reports the problem infeasible.")
    if st in (S.kUnbounded, S.kUnboundedOrInfeasible):
        return UnboundedError(f"{what}: HiGHS reports the problem unbounded ({text}).")
    return LPError(f"{what}: HiGHS stopped without an optimum (status: {text}).")


def chebyshev_center(A, b, *, eq_A=None, eq_b=None, r_cap=RADIUS_CAP):
    """Centre and radius of the largest ball inside ``{x : A x <= b, eq_A x = eq_b}``.

    Solves ``max r  s.t.  a_i x + ||a_i|| r <= b_i,  eq_A x = eq_b,  0 <= r <= r_cap``.
    With equality rows the ball is the largest one *within* the affine subspace.

    Parameters
    ----------
    A : ndarray of shape (m, d)
    b : ndarray of shape (m,)
    eq_A, eq_b : optional equality rows
    r_cap : float
        Upper bound on the radius (keeps the LP bounded for unbounded polyhedra).

    Returns
    -------
    x : ndarray of shape (d,)
    r : float

    Raises
    ------
    InfeasibleError
        When the polyhedron is empty.
    """
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    m, d = A.shape
    inf = _inf()
    if eq_A is not None:
        eq_A = np.atleast_2d(np.asarray(eq_A, dtype=np.float64))
        eq_b = np.atleast_1d(np.asarray(eq_b, dtype=np.float64))
        # distances are measured within the subspace: project the normals onto it
        Q, _ = np.linalg.qr(eq_A.T)
        Ap = A - (A @ Q) @ Q.T
        norms = np.sqrt(np.einsum("ij,ij->i", Ap, Ap))
    else:
        norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    rows = np.hstack([A, norms[:, None]])
    lo = np.full(m, -inf)
    hi = b
    if eq_A is not None:
        rows = np.vstack([rows, np.hstack([eq_A, np.zeros((eq_A.shape[0], 1))])])
        lo = np.concatenate([lo, eq_b])
        hi = np.concatenate([hi, eq_b])
    c = np.zeros(d + 1)
    c[-1] = 1.0
    h = _highs()
    _pass_dense(h, c, rows, lo, hi, np.r_[np.full(d, -inf), 0.0], np.r_[np.full(d, inf), r_cap],
                maximize=True)
    h.run()
    err = _status_error(h, "Chebyshev-centre LP")
    if err is not None and not isinstance(err, InfeasibleError):
        # free variables along a lineality space can stall the simplex: box x far out
        xb = FALLBACK_X_BOUND * r_cap
        _pass_dense(h, c, rows, lo, hi, np.r_[np.full(d, -xb), 0.0], np.r_[np.full(d, xb), r_cap],
                    maximize=True)
        h.run()
        err = _status_error(h, "Chebyshev-centre LP")
    if err is not None:
        raise err
    sol = np.array(h.getSolution().col_value)
    return sol[:d], float(sol[d])


#: Largest number of (d+1)-row subsets for which :func:`chebyshev_center_small` enumerates
#: basic solutions instead of calling HiGHS.
SMALL_LP_MAX_BASES = 120
_COMBOS = {}


def _combos(m, k):
    key = (m, k)
    c = _COMBOS.get(key)
    if c is None:
        from itertools import combinations

        c = _COMBOS[key] = np.array(list(combinations(range(m), k)), dtype=np.intp).reshape(-1, k)
    return c


def chebyshev_center_small(A, b, *, feas_tol=SMALL_LP_FEAS_TOL):
    """Chebyshev centre of a small *bounded* polytope by enumerating basic solutions.

    For a bounded polytope the Chebyshev LP has an optimal vertex where ``d + 1``
    constraints are tight. All ``C(m, d+1)`` such systems are solved in one batched
    call; the best primal-feasible one is the optimum. Meant for the few irredundant
    rows of a region in low dimension, where it is several times cheaper than a
    HiGHS call. Returns None when the enumeration would be too large or finds no
    feasible basis (the caller then uses :func:`chebyshev_center`).
    """
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    m, d = A.shape
    if m < d + 1:
        return None
    from math import comb

    if comb(m, d + 1) > SMALL_LP_MAX_BASES:
        return None
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    rows = np.hstack([A, norms[:, None]])
    C = _combos(m, d + 1)
    M = rows[C]
    det = np.linalg.det(M)
    scale = np.abs(M).max(axis=(1, 2)) ** (d + 1)
    ok = np.abs(det) > SMALL_LP_DET_RTOL * scale
    if not ok.any():
        return None
    sol = np.linalg.solve(M[ok], b[C[ok]][:, :, None])[:, :, 0]
    slack = b[None, :] - sol @ rows.T
    tol = feas_tol * max(1.0, float(np.abs(b).max()))
    feas = (slack.min(axis=1) >= -tol) & (sol[:, d] >= 0)
    if not feas.any():
        return None
    best = np.flatnonzero(feas)[np.argmax(sol[feas, d])]
    return sol[best, :d].copy(), float(sol[best, d])


def facet_centers(A, b, candidates, *, r_cap=RADIUS_CAP):
    """For each candidate row ``i``, the Chebyshev centre of the face ``a_i x = b_i``.

    One model is built for the polyhedron ``{A x <= b}`` and reused: for each
    candidate, its row is turned into an equality (and its radius coefficient
    zeroed), the LP is re-solved from the previous basis, and the row is restored.
    The radius returned is that of the largest full-dimensional ball centred on the
    face and inside the other constraints (a lower bound on the face's own inradius);
    it is ``> 0`` exactly when the face is a facet ((d-1)-dimensional), and the
    centre is then a point of the facet's relative interior.

    Rows must not duplicate each other (coincident hyperplanes give radius 0).

    Returns
    -------
    centers : ndarray of shape (len(candidates), d)
    radii : ndarray of shape (len(candidates),)   (-1 where the face is empty)
    """
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    m, d = A.shape
    inf = _inf()
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    rows = np.hstack([A, norms[:, None]])
    c = np.zeros(d + 1)
    c[-1] = 1.0
    h = _highs()
    _pass_dense(h, c, rows, np.full(m, -inf), b, np.r_[np.full(d, -inf), 0.0],
                np.r_[np.full(d, inf), r_cap], maximize=True)
    import highspy

    S = highspy.HighsModelStatus
    centers = np.zeros((len(candidates), d))
    radii = np.full(len(candidates), -1.0)
    for k, i in enumerate(candidates):
        i = int(i)
        h.changeCoeff(i, d, 0.0)
        h.changeRowBounds(i, float(b[i]), float(b[i]))
        h.run()
        st = h.getModelStatus()
        if st == S.kOptimal:
            sol = np.array(h.getSolution().col_value)
            centers[k] = sol[:d]
            radii[k] = sol[d]
        elif st != S.kInfeasible:
            # a warm start can stall (e.g. regions containing a line): solve this face
            # from scratch on a second model, leaving the warm one intact
            try:
                centers[k], radii[k] = _face_ball_fresh(rows, b, i, r_cap)
            except InfeasibleError:
                pass
        h.changeCoeff(i, d, float(norms[i]))
        h.changeRowBounds(i, -inf, float(b[i]))
    return centers, radii


def _face_ball_fresh(rows, b, i, r_cap):
    """The facet LP of :func:`facet_centers` for row ``i``, on a fresh second model."""
    h2 = getattr(_local, "highs2", None)
    if h2 is None:
        h2 = _local.highs2 = _new_highs()
    inf = _inf()
    m, d1 = rows.shape
    rows = rows.copy()
    rows[i, -1] = 0.0
    lo = np.full(m, -inf)
    lo[i] = b[i]
    c = np.zeros(d1)
    c[-1] = 1.0
    # free variables along a lineality space can stall the simplex: box x (far out)
    xb = FALLBACK_X_BOUND * r_cap
    _pass_dense(h2, c, rows, lo, b, np.r_[np.full(d1 - 1, -xb), 0.0], np.r_[np.full(d1 - 1, xb), r_cap],
                maximize=True)
    h2.run()
    err = _status_error(h2, f"facet LP for row {i}")
    if err is not None:
        raise err
    sol = np.array(h2.getSolution().col_value)
    return sol[:-1], float(sol[-1])


def is_bounded_polyhedron(A, *, tol=BOUNDED_TOL):
    """True when ``{x : A x <= b}`` (non-empty) is bounded, for any ``b``.

    Bounded iff the normals positively span R^d, iff rank(A) = d and some
    ``lambda >= 1`` has ``A^T lambda = 0`` (Farkas). One feasibility LP.
    """
    A = np.asarray(A, dtype=np.float64)
    m, d = A.shape
    if m <= d or np.linalg.matrix_rank(A, tol=tol * max(1.0, np.abs(A).max())) < d:
        return False
    inf = _inf()
    h = _highs()
    _pass_dense(h, np.zeros(m), A.T, np.zeros(d), np.zeros(d), np.ones(m), np.full(m, inf))
    h.run()
    import highspy

    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


@dataclass(frozen=True)
class LPResult:
    """Solution of :func:`solve_lp` / :func:`solve_milp`."""

    x: np.ndarray
    fun: float
    #: for MILPs: the best proven bound on the objective (equals ``fun`` when optimal)
    bound: float


def solve_lp(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, *, lb=None, ub=None, maximize=False,
             integrality=None, time_limit=None, mip_gap=0.0, options=None):
    """Solve a small dense LP or MILP on HiGHS.

    ``min/max c x  s.t.  A_ub x <= b_ub,  A_eq x = b_eq,  lb <= x <= ub``;
    ``integrality[j]`` true makes ``x_j`` integer. Bounds default to free.
    ``options`` is a dict of HiGHS options for this solve only (restored afterwards),
    e.g. ``{"mip_heuristic_run_rins": False}``.

    Raises
    ------
    InfeasibleError, UnboundedError, LPError
        For the corresponding HiGHS statuses (a time limit raises LPError).
    """
    c = np.asarray(c, dtype=np.float64)
    n = c.shape[0]
    inf = _inf()
    blocks, lo, hi = [], [], []
    if A_ub is not None and len(A_ub):
        A_ub = np.asarray(A_ub, dtype=np.float64).reshape(-1, n)
        blocks.append(A_ub)
        lo.append(np.full(A_ub.shape[0], -inf))
        hi.append(np.asarray(b_ub, dtype=np.float64))
    if A_eq is not None and len(A_eq):
        A_eq = np.asarray(A_eq, dtype=np.float64).reshape(-1, n)
        blocks.append(A_eq)
        lo.append(np.asarray(b_eq, dtype=np.float64))
        hi.append(np.asarray(b_eq, dtype=np.float64))
    A = np.vstack(blocks) if blocks else np.zeros((0, n))
    lo = np.concatenate(lo) if lo else np.zeros(0)
    hi = np.concatenate(hi) if hi else np.zeros(0)
    lb = np.full(n, -inf) if lb is None else np.where(np.isinf(lb), -inf, np.asarray(lb, dtype=np.float64))
    ub = np.full(n, inf) if ub is None else np.where(np.isinf(ub), inf, np.asarray(ub, dtype=np.float64))
    h = _highs()
    _pass_dense(h, c, A, lo, hi, lb, ub, maximize=maximize, integrality=integrality)
    is_mip = integrality is not None and any(integrality)
    if is_mip:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("presolve", "on")
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    saved = {}
    for key, val in (options or {}).items():
        saved[key] = h.getOptionValue(key)[1]
        h.setOptionValue(key, val)
    try:
        h.run()
        if is_mip and h.getModelStatus() == _model_status().kSolveError:
            # HiGHS's MIP presolve occasionally ends in a numerical "Solve error" on small
            # big-M models (min_rank, seed 70 of the rank-selection test); solved again
            # without presolve it answers (there: infeasible, as scipy's HiGHS also says)
            h.setOptionValue("presolve", "off")
            h.run()
        err = _status_error(h, "MILP" if is_mip else "LP")
        if err is not None:
            raise err
        x = np.array(h.getSolution().col_value)
        info = h.getInfo()
        fun = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if is_mip else fun
    finally:
        if is_mip:
            h.setOptionValue("presolve", "off")
        if time_limit is not None:
            h.setOptionValue("time_limit", inf)
        for key, val in saved.items():
            h.setOptionValue(key, val)
        # drop integrality so the next continuous LP on this thread is a plain LP
        h.clearModel()
        if is_mip:  # a MIP solve leaves solver state behind that changed later LPs' answers:
            _local.highs = None  # the next LP on this thread gets a fresh instance
    return LPResult(x=x, fun=fun, bound=bound)


def solve_milp(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, *, integrality, lb=None, ub=None,
               maximize=False, time_limit=None, mip_gap=0.0, options=None):
    """Solve a small dense MILP on HiGHS (see :func:`solve_lp`). ``mip_gap=0`` proves optimality."""
    return solve_lp(c, A_ub, b_ub, A_eq, b_eq, lb=lb, ub=ub, maximize=maximize,
                    integrality=integrality, time_limit=time_limit, mip_gap=mip_gap, options=options)
