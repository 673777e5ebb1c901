"""The LP kernel against a second solver (cvxpy) and brute force."""

import itertools

import numpy as np
import pytest

from polyrank import lp
from polyrank.exceptions import InfeasibleError, UnboundedError


def random_polytope(rng, d, m):
    A = rng.normal(size=(m, d))
    b = rng.uniform(0.5, 2.0, size=m)  # contains the origin
    return A, b


@pytest.mark.parametrize("d, m", [(2, 6), (3, 20), (5, 40)])
def test_chebyshev_matches_cvxpy(d, m, global_random_seed):
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(global_random_seed)
    A, b = random_polytope(rng, d, m)
    x, r = lp.chebyshev_center(A, b)
    xv, rv = cp.Variable(d), cp.Variable()
    # a random polytope may be unbounded (seed 30 in 2-D): both solvers then cap the radius
    cp.Problem(cp.Maximize(rv), [A @ xv + np.linalg.norm(A, axis=1) * rv <= b, rv >= 0,
                                 rv <= lp.RADIUS_CAP]).solve()
    assert abs(r - rv.value) <= 1e-6 * max(1, r)
    # relative to the size of the terms: with the radius capped at 1e6, x is ~1e7
    scale = np.abs(A) @ np.abs(x) + np.linalg.norm(A, axis=1) * r
    assert np.all(A @ x + np.linalg.norm(A, axis=1) * r <= b + 1e-9 * np.maximum(1.0, scale))


def test_chebyshev_infeasible_and_cap():
    A = np.array([[1.0, 0.0], [-1.0, 0.0]])
    with pytest.raises(InfeasibleError):
        lp.chebyshev_center(A, np.array([-1.0, -1.0]))  # x <= -1 and x >= 1
    # a half-plane: the radius hits the cap
    x, r = lp.chebyshev_center(np.array([[1.0, 0.0]]), np.array([0.0]), r_cap=5.0)
    assert r == pytest.approx(5.0)


def test_chebyshev_on_a_hyperplane():
    # square [-1,1]^2 intersected with the line y = 0.5: a segment of half-length 1
    A = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    b = np.ones(4)
    x, r = lp.chebyshev_center(A, b, eq_A=[[0.0, 1.0]], eq_b=[0.5])
    assert r == pytest.approx(1.0)
    assert x[1] == pytest.approx(0.5)


def test_facet_centers_find_irredundant_rows(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    # unit square plus redundant rows (far away) and one weakly redundant row (touching a corner)
    A = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [0.3, 0.2], [1, 1]]) \
        / np.linalg.norm([[1.0, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [0.3, 0.2], [1, 1]], axis=1)[:, None]
    b = np.r_[1, 1, 1, 1, 5 / np.sqrt(2), 3 / np.linalg.norm([0.3, 0.2]), 2 / np.sqrt(2)]
    perm = rng.permutation(len(b))
    A, b = A[perm], b[perm]
    centers, radii = lp.facet_centers(A, b, range(len(b)))
    facets = set(np.flatnonzero(radii > 1e-9))
    assert facets == {int(np.flatnonzero(perm == k)[0]) for k in range(4)}
    for i in facets:
        assert abs(A[i] @ centers[i] - b[i]) < 1e-9


def test_is_bounded():
    square = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    assert lp.is_bounded_polyhedron(square)
    assert not lp.is_bounded_polyhedron(square[:3])
    assert not lp.is_bounded_polyhedron(np.array([[1.0, 0], [-1, 0], [1, 0], [-1, 0]]))  # a strip
    tri = np.array([[-1.0, 0], [0, -1], [1, 1]])
    assert lp.is_bounded_polyhedron(tri)


def test_milp_matches_brute_force(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    n = 8
    w = rng.integers(1, 20, size=n).astype(float)
    v = rng.integers(1, 30, size=n).astype(float)
    cap = w.sum() / 2
    res = lp.solve_milp(v, A_ub=w[None, :], b_ub=[cap], integrality=[1] * n, lb=np.zeros(n), ub=np.ones(n),
                        maximize=True)
    best = max(v @ np.array(s) for s in itertools.product([0, 1], repeat=n) if w @ np.array(s) <= cap)
    assert res.fun == pytest.approx(best)
    assert res.bound == pytest.approx(best)
    # the kernel is reusable for plain LPs afterwards
    x, r = lp.chebyshev_center(np.array([[1.0], [-1.0]]), np.array([1.0, 1.0]))
    assert r == pytest.approx(1.0)


def test_lp_statuses_raise():
    with pytest.raises(UnboundedError):
        lp.solve_lp([-1.0], lb=[0.0])
    with pytest.raises(InfeasibleError):
        lp.solve_lp([1.0], A_ub=[[1.0]], b_ub=[-1.0], lb=[0.0])


@pytest.mark.parametrize("d, m", [(2, 4), (2, 8), (3, 7)])
def test_small_chebyshev_equals_highs(d, m, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    for _ in range(20):
        A = rng.normal(size=(m, d))
        b = rng.uniform(0.2, 2.0, size=m)
        if not lp.is_bounded_polyhedron(A):
            continue
        x1, r1 = lp.chebyshev_center(A, b)
        got = lp.chebyshev_center_small(A, b)
        assert got is not None
        x2, r2 = got
        assert abs(r1 - r2) <= 1e-9 * max(1.0, r1)
        assert np.all(A @ x2 + np.linalg.norm(A, axis=1) * r2 <= b + 1e-9)
    # too many bases: declines
    assert lp.chebyshev_center_small(rng.normal(size=(40, 3)), np.ones(40)) is None


def test_solve_options_are_scoped():
    h = lp._highs()
    before = h.getOptionValue("mip_heuristic_run_rins")[1]
    res = lp.solve_milp([1.0, 1.0], A_ub=[[-1.0, -1.0]], b_ub=[-1.5], integrality=[1, 1], lb=[0, 0],
                        ub=[3, 3], options={"mip_heuristic_run_rins": not before})
    assert res.fun == pytest.approx(2.0)
    assert h.getOptionValue("mip_heuristic_run_rins")[1] == before
