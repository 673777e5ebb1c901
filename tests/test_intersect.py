"""Tests of polyrank.intersect: exact refinement of meshes along linear regions.

Oracles: forward-pass patterns at interior points, conservation of length/area,
the closed-surface condition, Betti numbers from GUDHI, the LP enumerator's
regions and volumes, and ranks recomputed from ``net.local_affine``.
"""

import numpy as np
import pytest

import polyrank as pr
from conftest import torch_net
from polyrank.intersect import simplex_measures


# ---------------------------------------------------------------------------- inline meshes
def circle_mesh(n, radius=1.0, center=(0.0, 0.0)):
    t = np.arange(n) * 2 * np.pi / n
    V = np.stack([np.cos(t), np.sin(t)], 1) * radius + np.asarray(center)
    return pr.SimplicialComplex(V, np.stack([np.arange(n), (np.arange(n) + 1) % n], 1))


def torus_mesh(n, m, R=2.0, r=0.8):
    u = np.arange(n) * 2 * np.pi / n
    v = np.arange(m) * 2 * np.pi / m
    U, W = np.meshgrid(u, v, indexing="ij")
    V = np.stack([(R + r * np.cos(W)) * np.cos(U), (R + r * np.cos(W)) * np.sin(U), r * np.sin(W)], -1)
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    i, j = i.ravel(), j.ravel()
    idx = lambda a, b: (a % n) * m + (b % m)  # noqa: E731
    T = np.concatenate([np.stack([idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)], 1),
                        np.stack([idx(i, j), idx(i + 1, j + 1), idx(i, j + 1)], 1)])
    return pr.SimplicialComplex(V.reshape(-1, 3), T)


def box_mesh(lo, hi, n):
    """[lo, hi]^2 cut into n x n squares, two triangles each."""
    g = np.linspace(lo, hi, n + 1)
    X, Y = np.meshgrid(g, g, indexing="ij")
    V = np.stack([X.ravel(), Y.ravel()], 1)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    i, j = i.ravel(), j.ravel()
    idx = lambda a, b: a * (n + 1) + b  # noqa: E731
    T = np.concatenate([np.stack([idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)], 1),
                        np.stack([idx(i, j), idx(i + 1, j + 1), idx(i, j + 1)], 1)])
    return pr.SimplicialComplex(V, T)


def midpoint_subdivide(K):
    """Same surface, each triangle cut into 4 (or each segment into 2)."""
    V, S = np.asarray(K.vertices), np.asarray(K.simplices)
    q = S.shape[1] - 1
    pairs = [(0, 1)] if q == 1 else [(0, 1), (1, 2), (0, 2)]
    E = np.sort(np.concatenate([S[:, list(p)] for p in pairs]), axis=1)
    uE, inv = np.unique(E, axis=0, return_inverse=True)
    inv = inv.ravel()
    mid = V.shape[0] + inv.reshape(len(pairs), -1)
    V2 = np.concatenate([V, V[uE].mean(1)])
    if q == 1:
        a, b = S.T
        S2 = np.concatenate([np.stack([a, mid[0]], 1), np.stack([mid[0], b], 1)])
    else:
        a, b, c = S.T
        ab, bc, ac = mid
        S2 = np.concatenate([np.stack(x, 1) for x in
                             ([a, ab, ac], [ab, b, bc], [ac, bc, c], [ab, bc, ac])])
    return pr.SimplicialComplex(V2, S2)


def gudhi_betti(S, q):
    gudhi = pytest.importorskip("gudhi")
    st = gudhi.SimplexTree()
    for s in S:
        st.insert([int(v) for v in s])
    st.compute_persistence(homology_coeff_field=2, persistence_dim_max=True)
    b = st.betti_numbers()
    return (b + [0] * (q + 1))[: q + 1]


def interior_points(V, S, rng, n_per=3):
    w = rng.dirichlet(np.ones(S.shape[1]), size=(n_per, S.shape[0]))
    return np.einsum("pkj,kjd->pkd", w, V[S])


# ---------------------------------------------------------------------------- patterns
@pytest.mark.parametrize("widths", [[8], [16, 16], [32, 32, 3]])
def test_torus_pieces_have_their_pattern(widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = torch_net(3, widths, seed=global_random_seed)
    K = torus_mesh(16, 8)
    ref = pr.refine(net, K)
    V, S = ref.complex.vertices, ref.complex.simplices
    bary = V[S].mean(1)
    assert np.array_equal(net.patterns(bary, flat=True), ref.patterns)
    for X in interior_points(V, S, rng):
        assert np.array_equal(net.patterns(X, flat=True), ref.patterns)


def test_circle_pieces_have_their_pattern(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = torch_net(2, [10, 10], seed=global_random_seed)
    ref = pr.refine(net, circle_mesh(40, radius=3.0))
    V, S = ref.complex.vertices, ref.complex.simplices
    for X in interior_points(V, S, rng):
        assert np.array_equal(net.patterns(X, flat=True), ref.patterns)
    # a closed curve: every vertex in exactly two segments
    assert np.array_equal(np.bincount(S.ravel()), np.full(V.shape[0], 2))


def test_layer_option_uses_first_layers_only():
    net = torch_net(3, [8, 8, 8], seed=1)
    K = torus_mesh(12, 6)
    ref = pr.refine(net, K, layer=2)
    assert ref.patterns.shape[1] == 16 and ref.ranks.shape[1] == 2
    X = ref.complex.vertices[ref.complex.simplices].mean(1)
    assert np.array_equal(net.patterns(X, flat=True)[:, :16], ref.patterns)


# ---------------------------------------------------------------------------- mesh validity
def test_refined_torus_is_closed_surface_with_torus_homology(global_random_seed):
    net = torch_net(3, [16, 16], seed=global_random_seed)
    K = torus_mesh(12, 6)
    ref = pr.refine(net, K)
    S = ref.complex.simplices
    assert len(ref) > len(K)
    E = np.sort(np.concatenate([S[:, [0, 1]], S[:, [1, 2]], S[:, [0, 2]]]), axis=1)
    _, counts = np.unique(E, axis=0, return_counts=True)
    assert (counts == 2).all()  # every edge in exactly two triangles: conforming, closed
    # orientation kept: every directed edge appears once (a consistently oriented surface)
    D = np.concatenate([S[:, [0, 1]], S[:, [1, 2]], S[:, [2, 0]]])
    assert len(np.unique(D, axis=0)) == len(D)
    assert gudhi_betti(S, 2) == [1, 2, 1]


def test_measure_is_conserved_piece_by_piece(global_random_seed):
    net = torch_net(3, [16, 16], seed=global_random_seed)
    K = torus_mesh(12, 6)
    ref = pr.refine(net, K)
    parent_area = simplex_measures(K.vertices, K.simplices)
    sums = np.bincount(ref.parent, weights=ref.measures(), minlength=len(K))
    np.testing.assert_allclose(sums, parent_area, rtol=1e-9)
    assert ref.measures().min() > 0  # no degenerate piece


def test_refinement_is_invariant_under_mesh_subdivision(global_random_seed):
    net = torch_net(3, [12, 12], seed=global_random_seed)
    K = torus_mesh(10, 6)
    a = pr.refine(net, K)
    b = pr.refine(net, midpoint_subdivide(K))
    assert np.array_equal(a.region_patterns, b.region_patterns)
    area_a = np.bincount(a.region, weights=a.measures())
    area_b = np.bincount(b.region, weights=b.measures())
    np.testing.assert_allclose(area_a, area_b, rtol=1e-8, atol=1e-12)
    # the low-rank part (rank < 3) has the same homology on both
    lows = [ref.complex.simplices[ref.rank() < 3] for ref in (a, b)]
    bettis = [gudhi_betti(low, 2) if len(low) else [0, 0, 0] for low in lows]
    assert bettis[0] == bettis[1]


# ---------------------------------------------------------------------------- against enumeration
@pytest.mark.parametrize("widths", [[6], [8, 8], [6, 6, 6]])
def test_box_refinement_matches_enumerated_regions(widths, global_random_seed):
    net = torch_net(2, widths, seed=global_random_seed)
    box = pr.Box(-3.0, 3.0, dim=2)
    dec = pr.enumerate_regions(net, box)
    ref = pr.refine(net, box_mesh(-3.0, 3.0, 3))
    regions = {tuple(map(bool, r.pattern)): r for r in dec.regions}
    met = [tuple(map(bool, p)) for p in ref.region_patterns]
    assert set(met) <= set(regions)
    area = np.bincount(ref.region, weights=ref.measures())
    # every region of positive volume is met, and its pieces tile it exactly
    for p, a in zip(met, area):
        assert a == pytest.approx(regions[p].volume(), rel=1e-7, abs=1e-9)
    assert area.sum() == pytest.approx(36.0, rel=1e-12)
    # the refinement is exact: it meets every region, slivers included (seed 61 has one
    # of area < 1e-9, which the enumerator also certifies by its inscribed ball)
    assert set(met) == set(regions)


# ---------------------------------------------------------------------------- ranks
def test_ranks_and_tangent_ranks_match_local_affine(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = torch_net(3, [4, 3, 5], seed=global_random_seed)
    ref = pr.refine(net, torus_mesh(10, 5))
    V, S = ref.complex.vertices, ref.complex.simplices
    for k in rng.choice(len(ref), size=min(60, len(ref)), replace=False):
        T = (V[S[k, 1:]] - V[S[k, 0]]).T
        for K in (1, 2, 3):
            A, _ = net.local_affine(ref.patterns[k], layer=K)
            assert ref.ranks[k, K - 1] == pr.rank.matrix_rank(A)
            # tangent rank: singular values of A Q above rank(A)'s own threshold
            smax = np.linalg.norm(A, 2)
            tol = smax * max(A.shape) * np.finfo(float).eps
            Q = np.linalg.qr(T)[0]
            assert ref.tangent_ranks[k, K - 1] == (pr.rank.matrix_rank(A @ Q, tol=tol) if smax else 0)
    assert (ref.tangent_ranks <= np.minimum(ref.ranks, 2)).all()


def test_tangent_rank_sees_a_squashed_direction():
    # h = ReLU(x), ReLU(y) with z ignored: on a circle in the (x, z) plane at y > 0 the
    # tangent rank is 1 where x > 0 (only x seen) and 0 where x < 0, while rank(A) is 2 or 1.
    net = pr.ReLUNetwork.from_weights([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], [[0.0, 0.0]])
    c = circle_mesh(64)
    V = np.stack([c.vertices[:, 0], np.full(64, 1.0), c.vertices[:, 1]], 1)
    ref = pr.refine(net, pr.SimplicialComplex(V, c.simplices))
    X = ref.complex.vertices[ref.complex.simplices].mean(1)
    assert set(ref.rank()[X[:, 0] > 0]) == {2} and set(ref.rank()[X[:, 0] < 0]) == {1}
    assert set(ref.tangent_rank()[X[:, 0] > 0]) == {1} and set(ref.tangent_rank()[X[:, 0] < 0]) == {0}


# ---------------------------------------------------------------------------- tolerances
@pytest.mark.parametrize("offset,pieces", [(0.0, 2), (1e-12, 2), (-1e-12, 2), (1e-6, 3), (-1e-6, 3)])
def test_vertex_near_hyperplane_is_on_it_within_tol(offset, pieces):
    # z = x; a triangle with one vertex at x = offset and the others on both sides
    net = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    tri = pr.SimplicialComplex([[offset, 1.0], [-1.0, -1.0], [1.0, -1.0]], [[0, 1, 2]])
    ref = pr.refine(net, tri)
    assert len(ref) == pieces
    assert ref.measures().sum() == pytest.approx(2.0, rel=1e-12)


def test_segment_cut_at_interpolated_point():
    net = pr.ReLUNetwork.from_weights([[[1.0]], [[1.0]]], [[-0.25], [-0.5]])  # cuts at 0.25, 0.75
    seg = pr.SimplicialComplex([[0.0], [1.0]], [[0, 1]])
    ref = pr.refine(net, seg)
    np.testing.assert_allclose(np.sort(ref.complex.vertices[:, 0]), [0.0, 0.25, 0.75, 1.0])
    assert sorted(ref.rank().tolist()) == [0, 0, 1]


def test_points_are_labelled_not_cut():
    net = torch_net(2, [5], seed=0)
    X = np.random.default_rng(0).normal(size=(30, 2))
    K = pr.SimplicialComplex(X, np.arange(30)[:, None])
    ref = pr.refine(net, K)
    assert len(ref) == 30
    assert np.array_equal(ref.patterns, net.patterns(X, flat=True))
    assert (ref.tangent_ranks == 0).all()


# ---------------------------------------------------------------------------- label_vertices
def test_label_vertices_agrees_with_forward_pass_and_local_affine(global_random_seed):
    net = torch_net(3, [6, 6], seed=global_random_seed)
    K = torus_mesh(8, 5)
    lab = pr.label_vertices(net, K)
    assert np.array_equal(lab.patterns, net.patterns(K.vertices, flat=True))
    for k in range(0, K.n_vertices, 7):
        for L in (1, 2):
            A, _ = net.local_affine(lab.patterns[k], layer=L)
            assert lab.ranks[k, L - 1] == pr.rank.matrix_rank(A)
    # sampled mode sees no more regions than the exact refinement
    ref = pr.refine(net, K)
    assert {p.tobytes() for p in lab.region_patterns} <= {p.tobytes() for p in ref.region_patterns}


# ---------------------------------------------------------------------------- validation
def test_bad_inputs():
    net = torch_net(3, [4], seed=0)
    with pytest.raises(ValueError, match="lives in R\\^2"):
        pr.refine(net, circle_mesh(5))
    with pytest.raises(TypeError, match="SimplicialComplex"):
        pr.refine(net, np.zeros((3, 3)))
    simplex4 = pr.SimplicialComplex(np.vstack([np.zeros(4), np.eye(4)]), [[0, 1, 2, 3, 4]])
    with pytest.raises(ValueError, match="dim <= 3"):
        pr.refine(torch_net(4, [4], seed=0), simplex4)
    with pytest.raises(ValueError, match="'tol' parameter of refine"):
        pr.refine(net, torus_mesh(4, 4), tol=-1.0)
    with pytest.raises(ValueError, match="layer must be"):
        pr.refine(net, torus_mesh(4, 4), layer=2)
    with pytest.raises(ValueError, match="shape"):
        pr.label_vertices(net, np.zeros((3, 2)))


def test_refine_drops_constant_unit_rows_as_the_engines_do():
    # layer 2 computes 3 * 0.1 x - 0.3 x + 0.5: a constant, although the product rounds
    # to 5.6e-17 x; the rank rule counts that row as zero (rank 0), in every path
    net = pr.ReLUNetwork.from_weights([[[0.1], [0.3]], [[3.0, -1.0]]], [[0.0, 0.0], [0.5]])
    assert net.local_affine([True, True, True])[0][0, 0] != 0.0
    dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=1))
    by_pattern = {tuple(r.pattern): r.ranks for r in dec.regions}
    ref = pr.refine(net, pr.interval(5))  # [0, 1]: both first-layer units on
    for p, r in zip(ref.patterns, ref.ranks):
        assert tuple(r) == by_pattern[tuple(p)] == (1, 0)
    assert pr.label_vertices(net, np.array([[0.5]])).rank(2).tolist() == [0]


# ---------------------------------------------------------------------------- the two kernels
def _sorted_refinement(V, S, P, parent, tr):
    key = np.round(V[S].sum(1) @ np.linspace(1.0, 2.0, V.shape[1]), 8)
    o = np.lexsort((key, parent))
    return len(S), P[o], parent[o], tr[o], np.round(V[S][o], 9)


@pytest.mark.parametrize("d,widths", [(2, [7, 5]), (3, [6, 6, 4]), (30, [12, 8, 4])])
def test_curve_kernel_equals_the_general_kernel(d, widths, global_random_seed):
    # refine takes a GEMM-per-layer path for curves (pre-activations summed along the segments,
    # tangent images = slopes); the general kernel (forward pass of the vertices, tangent vectors
    # pushed per piece) must give the same pieces, patterns, parents and tangent ranks
    from polyrank import intersect

    rng = np.random.default_rng(global_random_seed)
    net = torch_net(d, widths, seed=global_random_seed)
    n = 40
    t = 2 * np.pi * np.arange(n) / n
    V0 = np.outer(np.cos(t), rng.normal(size=d)) + np.outer(np.sin(t), rng.normal(size=d)) + rng.normal(size=d)
    S0 = np.stack([np.arange(n), (np.arange(n) + 1) % n], 1)
    ref = pr.refine(net, pr.SimplicialComplex(V0, S0))
    K = len(widths)
    V, S, P, parent = intersect._cut(net, V0, S0, K, pr.intersect.REFINE_TOL)
    U, region = intersect._unique_rows(P)
    tr = intersect._tangent_ranks(net, V0, S0, V, S, parent, P, K, region, intersect._RegionRanks(net, U, K))
    a = _sorted_refinement(ref.complex.vertices, ref.complex.simplices, ref.patterns, ref.parent, ref.tangent_ranks)
    b = _sorted_refinement(V, S, P, parent, tr)
    assert a[0] == b[0] > n
    for x, y in zip(a[1:4], b[1:4]):
        assert np.array_equal(x, y)
    np.testing.assert_allclose(a[4], b[4], atol=1e-7)


def test_nearly_collapsed_pieces_get_their_tangent_rank_from_the_exact_rule():
    # layer 2 computes 3 * 0.1 x - 0.3 x + 0.5 (a constant; the product rounds to ~5.6e-17 x):
    # the tangent images are decided by the regions' SVDs, rank 0, on curves and on triangles
    net = pr.ReLUNetwork.from_weights([[[0.1, 0.0], [0.3, 0.0]], [[3.0, -1.0]]], [[0.0, 0.0], [0.5]])
    tri = pr.SimplicialComplex([[0.1, 0.1], [1.0, 0.2], [0.3, 1.0]], [[0, 1, 2]])
    seg = pr.SimplicialComplex([[0.1, 0.1], [1.0, 0.2], [0.3, 1.0]], [[0, 1], [1, 2], [2, 0]])
    for K in (tri, seg):
        ref = pr.refine(net, K)
        assert (ref.ranks == [1, 0]).all()
        assert (ref.tangent_ranks[:, 1] == 0).all() and (ref.tangent_ranks[:, 0] == 1).all()


# ---------------------------------------------------------------------------- solids
def _signed_volumes(V, S):
    return np.linalg.det(V[S[:, 1:]] - V[S[:, :1]]) / 6


def _check_refined_solid(net, K, ref, rng):
    """Volumes, orientation, conformity, homology and patterns of a refined tet mesh."""
    V, S = ref.complex.vertices, ref.complex.simplices
    vol0 = _signed_volumes(K.vertices, K.simplices)
    vol = _signed_volumes(V, S)
    # orientation kept: no piece is negative beyond rounding of its parent's volume
    assert (vol > -1e-12 * vol0[ref.parent]).all()
    np.testing.assert_allclose(np.bincount(ref.parent, weights=vol, minlength=len(K)), vol0, rtol=1e-9)
    np.testing.assert_allclose(np.bincount(ref.parent, weights=ref.measures(), minlength=len(K)), vol0,
                               rtol=1e-9)
    # conforming: every triangle in one or two tets, the boundary triangles tile the input's
    # boundary (same area), and the homology and Euler characteristic are the input's
    F = np.sort(np.concatenate([np.delete(S, j, axis=1) for j in range(4)]), axis=1)
    faces, counts = np.unique(F, axis=0, return_counts=True)
    assert counts.max() == 2
    area = lambda V_, T: simplex_measures(V_, T).sum()  # noqa: E731
    np.testing.assert_allclose(area(V, faces[counts == 1]), area(K.vertices, K.boundary()), rtol=1e-9)
    assert ref.complex.euler_characteristic() == K.euler_characteristic()
    assert gudhi_betti(S, 3) == gudhi_betti(K.simplices, 3)
    # every piece lies in one region: random interior points have the piece's pattern
    for X in interior_points(V, S, rng):
        assert np.array_equal(net.patterns(X, flat=True), ref.patterns)


@pytest.mark.parametrize("make", [lambda: pr.ball(2), lambda: pr.solid_torus(8, 2, R=2.0, r=0.8)])
def test_tet_mesh_refinement_is_exact_and_conforming(make, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = torch_net(3, [10, 8], seed=global_random_seed)
    K = make()
    ref = pr.refine(net, K)
    assert len(ref) > 3 * len(K)
    _check_refined_solid(net, K, ref, rng)


def test_tet_cuts_through_vertices_and_edges(global_random_seed):
    # small-integer hyperplanes through the integer grid points of a cube with a hole:
    # cut planes through one or two vertices of a tet (pyramid and two-tet cases), along
    # edges and faces (no cut), and coincident hyperplanes
    from conftest import int_net

    rng = np.random.default_rng(global_random_seed)
    K = pr.cube_with_holes(2, holes=1, size=6.0)  # vertices on the grid (i - 3, ...) in steps of 1
    net = int_net(rng, 3, [6, 5])
    ref = pr.refine(net, K)
    _check_refined_solid(net, K, ref, rng)


def test_tet_tangent_ranks_match_the_jacobian(global_random_seed):
    # narrow layers drop the rank on the tets' tangent space (= R^3); compare with the rank of
    # the Jacobian at an interior point of each piece times the piece's edge vectors
    rng = np.random.default_rng(global_random_seed)
    net = torch_net(3, [5, 2, 4], seed=global_random_seed)
    ref = pr.refine(net, pr.ball(2, radius=2.0))
    V, S = ref.complex.vertices, ref.complex.simplices
    X = interior_points(V, S, rng, n_per=1)[0]
    for k in rng.choice(len(ref), size=min(80, len(ref)), replace=False):
        T = (V[S[k, 1:]] - V[S[k, 0]]).T
        for L in (1, 2, 3):
            A, _ = net.local_affine(net.patterns(X[k:k + 1], flat=True)[0], layer=L)
            smax = np.linalg.norm(A, 2)
            tol = smax * max(A.shape) * np.finfo(float).eps
            Q = np.linalg.qr(T)[0]
            want = np.linalg.matrix_rank(A @ Q, tol=tol) if smax else 0
            assert ref.tangent_ranks[k, L - 1] == min(want, np.linalg.matrix_rank(A) if smax else 0)
    # not vacuous: full rank after the first layer somewhere, dropped ranks after the second
    assert (ref.tangent_ranks[:, 0] == 3).any() and (ref.tangent_ranks[:, 1] < 3).all()
