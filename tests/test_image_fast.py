"""The fast paths of image_homology (curves and surfaces): geometric intersection decisions
against a second LP solver (scipy), near-degenerate configurations, the tolerance band,
closed-form singular values against the SVD, and the whole computation against its
reference path (every decision by LP, full simplices)."""

import types
import warnings

import numpy as np
import pytest
from scipy.optimize import linprog

import polyrank as pr
import polyrank.image as im
from polyrank._convex import closest_points
from conftest import random_net


def _linf_distance(P, Q):
    """min |x - y|_inf over x in conv(P), y in conv(Q): scipy's LP, independent of polyrank."""
    a, b, n = len(P), len(Q), P.shape[1]
    # variables: lambda (a), mu (b), s (1); |P^T lambda - Q^T mu| <= s
    D = np.hstack([P.T, -Q.T])
    A_ub = np.vstack([np.hstack([D, -np.ones((n, 1))]), np.hstack([-D, -np.ones((n, 1))])])
    A_eq = np.zeros((2, a + b + 1))
    A_eq[0, :a] = A_eq[1, a:a + b] = 1.0
    res = linprog(np.r_[np.zeros(a + b), 1.0], A_ub=A_ub, b_ub=np.zeros(2 * n), A_eq=A_eq, b_eq=[1.0, 1.0],
                  bounds=[(0, None)] * (a + b + 1), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    assert res.status == 0
    return res.fun


def _lp_value(P, Q):
    """The value that image_homology's LP decision compares with the tolerance (half the
    L-infinity distance, from the LP's explicit points), and the same from scipy's LP on
    centred, unit-scaled coordinates."""
    c = np.vstack([P, Q]).mean(0)
    s = max(np.abs(P - c).max(), np.abs(Q - c).max(), 1e-300)
    return im._meet_lp([P, Q], c)[0], _linf_distance((P - c) / s, (Q - c) / s) * s / 2


def _cells_of(polys):
    """A stand-in for the cells of a layer: convex point sets (in cyclic order), each
    triangulated as a fan; Y holds all their points."""
    Y = np.vstack(polys)
    ptr = np.r_[0, np.cumsum([len(p) for p in polys])]
    tris, owner = [], []
    for c, (s, e) in enumerate(zip(ptr[:-1], ptr[1:])):
        idx = list(range(s, e))
        if len(idx) >= 3:
            tris += [[idx[0], idx[j], idx[j + 1]] for j in range(1, len(idx) - 1)]
        else:
            tris.append((idx * 3)[:3])  # a segment or a point as a flat triangle
        owner += [c] * max(len(idx) - 2, 1)
    cells = types.SimpleNamespace(n=len(polys), ptr=ptr, verts=np.arange(len(Y)), tris=np.array(tris),
                                  tri_cell=np.array(owner))
    return Y, cells


def _random_frame(rng, n, k):
    return np.linalg.qr(rng.normal(size=(n, k)))[0]


def _configurations(rng, n, scale):
    """Pairs of convex sets (dim <= 2) in R^n, many of them touching or nearly so: a point on
    an edge, on a vertex, collinear segments overlapping or end to end, triangles sharing a
    vertex or an edge, coplanar overlapping polygons, crossing triangles, skew ones; each
    also moved off by a distance around the tolerance."""
    k = min(n, 3)
    U = _random_frame(rng, n, k)
    o = rng.normal(size=n)
    emb = lambda P: o + np.asarray(P, float)[:, :k] @ U.T  # noqa: E731  (R^2: the planar shadow)
    tri = np.array([[0.0, 0, 0], [1, 0, 0], [0.3, 0.8, 0]])
    quad = np.array([[0.0, 0, 0], [1, 0, 0], [1.1, 0.7, 0], [0.2, 0.9, 0]])
    out = []
    e = tri[1] - tri[0]
    out.append((tri, [tri[0] + 0.37 * e]))                     # point on an edge
    out.append((tri, [tri[2]]))                                # point on a vertex
    out.append((tri, [[0.4, 0.3, 0.0]]))                       # point inside
    out.append(([[0.0, 0, 0], [1, 0, 0]], [[0.5, 0, 0], [2, 0, 0]]))   # collinear, overlapping
    out.append(([[0.0, 0, 0], [1, 0, 0]], [[1.0, 0, 0], [2, 0, 0]]))   # collinear, end to end
    out.append(([[0.0, 0, 0], [1, 0, 0]], [[0.5, -1, 0], [0.5, 1, 0]]))  # crossing segments
    out.append((tri, [[1.0, 0, 0], [2, 0.5, 0], [1.5, 1, 0]]))          # sharing a vertex
    out.append((tri, [[0.0, 0, 0], [1, 0, 0], [0.5, -0.7, 0]]))         # sharing an edge
    out.append((quad, [[0.5, 0.2, 0], [1.5, 0.4, 0], [1.3, 1.2, 0]]))   # coplanar, overlapping
    out.append((tri, [[0.4, 0.3, -1], [0.5, 0.3, 1], [0.45, 2, 0.2]]))  # crossing triangles
    pairs = []
    for P, Q in out:
        P, Q = emb(P) * scale, emb(Q) * scale
        pairs.append((P, Q))
        for eps in (1e-3, 0.3, 3, 30, 3e3):  # moved apart by about eps * tolerance
            d = rng.normal(size=n)
            pairs.append((P, Q + eps * 1e-9 * scale * d / np.abs(d).max()))
    for _ in range(20):  # generic ones, some far, some crossing
        k = rng.integers(1, 4, size=2)
        pairs.append((rng.normal(size=(k[0], n)) * scale, (rng.normal(size=(k[1], n)) * 0.6 + 0.3) * scale))
    return pairs


@pytest.mark.parametrize("n", [2, 3, 5])
def test_geometric_decisions_agree_with_an_lp_of_another_solver(n):
    rng = np.random.default_rng(n)
    scale = 10.0 ** rng.uniform(-2, 2)
    pairs = _configurations(rng, n, scale)
    Y, cells = _cells_of([p for pq in pairs for p in pq])
    abs_tol = 1e-9 * scale
    geo = im._Geometry(Y, cells, abs_tol)
    a = np.arange(0, 2 * len(pairs), 2)
    status, wit = geo.decide(a, a + 1)
    decided = 0
    for k, (P, Q) in enumerate(pairs):
        t, t2 = _lp_value(P, Q)  # the LP value of image._meet_lp for two sets; scipy's
        if status[k] >= 0:  # a decided pair: the LP's decision, far from the band for both LPs
            assert (t <= abs_tol) == (t2 <= abs_tol) == bool(status[k])
        if status[k] == 1:
            assert t <= abs_tol / im.NEAR_FACTOR * (1 + 1e-6) + 1e-15 * scale
            # the witness is within the tolerance of both sets
            assert _linf_distance(P, wit[k][None]) <= 2 * abs_tol and _linf_distance(Q, wit[k][None]) <= 2 * abs_tol
        elif status[k] == 0:
            assert t > im.NEAR_FACTOR * abs_tol
        else:  # undecided: only inside the band (up to the norm factors), never a clear case
            assert abs_tol / im.NEAR_FACTOR / 10 < t <= 10 * n * im.NEAR_FACTOR * abs_tol
        decided += status[k] >= 0
    assert (status[-20:] >= 0).all() and decided >= len(pairs) // 2  # the point of it: no LP there


def test_point_in_cell_decisions_agree_with_the_lp():
    rng = np.random.default_rng(7)
    n = 4
    polys, pts, truth = [], [], []
    for _ in range(40):
        U = _random_frame(rng, n, 2)
        o = rng.normal(size=n)
        ang = np.sort(rng.uniform(0, 2 * np.pi, size=rng.integers(3, 7)))
        P = o + np.c_[np.cos(ang), np.sin(ang)] @ U.T
        polys.append(P)
        j = rng.integers(len(P))
        for p in (P[j], (P[j] + P[(j + 1) % len(P)]) / 2, P.mean(0),        # vertex, edge, inside
                  P[j] + 1e-12 * rng.normal(size=n), P[j] + 1e-6 * rng.normal(size=n),
                  P.mean(0) + 0.5 * rng.normal(size=n)):
            pts.append((len(polys) - 1, p))
    Y, cells = _cells_of(polys)
    abs_tol = 1e-9
    geo = im._Geometry(Y, cells, abs_tol)
    c = np.array([i for i, _ in pts])
    p = np.array([x for _, x in pts])
    status, _ = geo.decide(c, points=p)
    for (i, x), s in zip(pts, status):
        t, t2 = _lp_value(polys[i], x[None])
        if s >= 0:
            assert (t <= abs_tol) == (t2 <= abs_tol) == bool(s)
        if s == 1:
            assert t <= abs_tol / im.NEAR_FACTOR * (1 + 1e-6)
        elif s == 0:
            assert t > im.NEAR_FACTOR * abs_tol
        else:
            assert abs_tol / im.NEAR_FACTOR / 10 < t <= 10 * n * im.NEAR_FACTOR * abs_tol
    assert (status == 1).sum() >= 3 * 40 and (status == 0).sum() >= 40  # vertices, edges, insides; far points


@pytest.mark.parametrize("a, b, n", [(3, 3, 3), (3, 3, 5), (2, 2, 3), (3, 1, 4), (2, 3, 6), (3, 3, 2)])
def test_closest_points_are_optimal_by_their_own_separating_functional(a, b, n):
    """Upper bound |x - y| and lower bound gap(phi)/|phi| with phi = y - x coincide: the
    points are the closest pair (a duality check independent of the enumeration)."""
    rng = np.random.default_rng(a * 100 + b * 10 + n)
    A = rng.normal(size=(500, a, n))
    B = rng.normal(size=(500, b, n)) * 0.7 + rng.normal(size=(500, 1, n)) * 0.5
    A[:50, -1] = A[:50, 0]  # degenerate (repeated vertex) simplices
    wa, wb = closest_points(A, B)
    assert (wa >= 0).all() and (wb >= 0).all() and np.allclose(wa.sum(1), 1) and np.allclose(wb.sum(1), 1)
    x, y = np.einsum("Nk,Nkn->Nn", wa, A), np.einsum("Nk,Nkn->Nn", wb, B)
    phi = y - x
    d = np.linalg.norm(phi, axis=1)
    gap = np.einsum("Nkn,Nn->Nk", B, phi).min(1) - np.einsum("Nkn,Nn->Nk", A, phi).max(1)
    far = d > 1e-9
    assert np.allclose(gap[far] / d[far], d[far], rtol=1e-9, atol=1e-12)
    for k in np.flatnonzero(~far)[:20]:  # meeting pairs really meet
        assert _linf_distance(A[k], B[k]) <= 1e-9


def test_closed_form_singular_values_match_the_svd():
    rng = np.random.default_rng(3)
    for q, n in ((1, 1), (1, 3), (2, 3), (2, 4), (2, 8)):
        Qi = np.linalg.qr(rng.normal(size=(300, n, q)))[0]
        Qj = np.linalg.qr(rng.normal(size=(300, n, q)))[0]
        Qj[:100] = Qi[:100]  # coplanar
        if n > q:  # nearly coplanar, around the certificate margin
            t = 10.0 ** rng.uniform(-10, -5, size=100)
            Qj[100:200] = np.linalg.qr(Qi[100:200] + t[:, None, None] * rng.normal(size=(100, n, q)))[0]
        M = np.concatenate([Qi, Qj], 2)
        sv = im._joint_singular_values(M, q)
        ref = np.linalg.svd(M, compute_uv=False)
        assert np.allclose(sv, ref, atol=5e-8)
        # the certificate's decisions (a value above the margin) are exactly those of the SVD
        assert ((sv > im.CERT_MARGIN) == (ref > im.CERT_MARGIN)).all()


def _both_paths(monkeypatch, net, K, layer):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pr.ImageToleranceWarning)
        fast = pr.image_homology(net, K, layer, max_candidates=None)
        monkeypatch.setattr(im, "FAST_PATHS", False)
        slow = pr.image_homology(net, K, layer, max_candidates=None)
        monkeypatch.setattr(im, "FAST_PATHS", True)
    return fast, slow


@pytest.mark.parametrize("widths, K, layer", [([6, 4], pr.torus(6, 4), 2), ([8, 8], pr.torus(8, 6), 1),
                                               ([6, 4], pr.sphere(12, seed=1), 2)])
def test_fast_paths_give_the_reference_answer_on_surfaces(monkeypatch, widths, K, layer):
    net = random_net(np.random.default_rng(0), 3, widths)
    fast, slow = _both_paths(monkeypatch, net, K, layer)
    assert fast.betti == slow.betti
    assert fast.n_dirty == slow.n_dirty
    pairs = lambda r: sorted(o for o in r.overlaps if len(o) == 2)  # noqa: E731
    assert pairs(fast) == pairs(slow)  # the same pairs of cells meet
    assert fast.stats["n_lps"] <= slow.stats["n_lps"]


@pytest.mark.parametrize("seed", range(3))
def test_fast_paths_give_the_reference_answer_on_curves(monkeypatch, seed):
    net = random_net(np.random.default_rng(50 + seed), 2, [6, 3, 3])
    K = pr.circle(40, radius=1.5)
    for layer in (2, 3):
        fast, slow = _both_paths(monkeypatch, net, K, layer)
        assert fast.betti == slow.betti and fast.n_dirty == slow.n_dirty


def test_the_tolerance_band_still_goes_to_the_lp_and_is_flagged():
    # an open square path whose end stops 3e-9 short of its start (tol 1e-9 of size 1):
    # inside the band, so the pair is left to the LP, which decides "apart" and flags it
    V = np.array([[0.0, 0.0], [1, 0], [1, 1], [0, 1], [0, 3e-9]])
    K = pr.SimplicialComplex(V, [[0, 1], [1, 2], [2, 3], [3, 4]])
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.full(2, 5.0)])
    with pytest.warns(pr.ImageToleranceWarning):
        r = pr.image_homology(net, K, tol=1e-9)
    assert r.betti == (1, 0) and r.near_tolerance > 0 and r.stats["n_lps"] > 0
    # far outside the band the geometry decides alone: no LP, no flag
    V[4, 1] = 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", pr.ImageToleranceWarning)
        r = pr.image_homology(net, pr.SimplicialComplex(V, K.simplices), tol=1e-9)
    assert r.betti == (1, 0) and r.near_tolerance == 0 and r.stats["n_lps"] == 0
