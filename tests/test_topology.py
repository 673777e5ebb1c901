"""Homology against theory: Betti numbers of known manifolds, quotients from appendix 7.2
of the paper, relative homology versus cones, torsion, and image persistence."""

import numpy as np
import pytest

import polyrank as pr

pytest.importorskip("gudhi")


# ---------------------------------------------------------------- helpers (pure combinatorics)
def _cycle(ids):
    ids = list(ids)
    return [(ids[k], ids[(k + 1) % len(ids)]) for k in range(len(ids))]


def _meridian(n, m, i):
    """Edges of the torus meridian {i = const} (vertex ids i*m + j)."""
    return _cycle(i * m + j for j in range(m))


def _longitude(n, m, j):
    return _cycle(i * m + j for i in range(n))


def _star(K, v):
    """Top simplices containing vertex v: for a closed surface a disk."""
    return K.simplices[(K.simplices == v).any(axis=1)]


# ---------------------------------------------------------------- Betti numbers of known spaces
@pytest.mark.parametrize("field", [2, 3, 11])
def test_betti_of_known_manifolds(field):
    assert pr.betti(pr.circle(5), field=field) == [1, 1]
    assert pr.betti(pr.interval(4), field=field) == [1, 0]
    assert pr.betti(pr.disk(5, rings=2), field=field) == [1, 0, 0]
    assert pr.betti(pr.sphere(30, seed=1), field=field) == [1, 0, 1]
    # the top dimension is kept: a torus has b2 = 1
    assert pr.betti(pr.torus(3, 3), field=field) == [1, 2, 1]
    assert pr.betti(pr.torus(12, 7), field=field) == [1, 2, 1]
    assert pr.reduced_betti(pr.torus(4, 4), field=field) == [0, 2, 1]


def test_betti_of_simplex_lists_with_mixed_dimensions():
    # hollow triangle + filled triangle + isolated vertex: b0 = 3, b1 = 1
    K = [(0, 1), (1, 2), (0, 2), (3, 4, 5), (9,)]
    assert pr.betti(K) == [3, 1, 0]
    # faces are implied: one tetrahedron is contractible, its boundary a 2-sphere
    assert pr.betti([(0, 1, 2, 3)]) == [1, 0, 0, 0]
    assert pr.betti([(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]) == [1, 0, 1]
    assert pr.betti(np.array([[0, 1], [1, 2]])) == [1, 0]


@pytest.mark.parametrize("make", [lambda: pr.circle(6), lambda: pr.torus(5, 3), lambda: pr.sphere(15, seed=3),
                                  lambda: pr.klein_bottle(4, 3), lambda: pr.projective_plane(1),
                                  lambda: pr.disk(4, rings=3), lambda: pr.interval(3)])
@pytest.mark.parametrize("field", [2, 3, 7])
def test_euler_characteristic_is_alternating_betti_sum(make, field):
    K = make()
    b = pr.betti(K, field=field)
    assert sum((-1) ** k * bk for k, bk in enumerate(b)) == K.euler_characteristic()


# ---------------------------------------------------------------- torsion
def test_projective_plane_and_klein_bottle_differ_between_z2_and_z3():
    # H_1(RP^2; Z) = Z/2, H_2 = 0; H_1(Klein; Z) = Z + Z/2, H_2 = 0
    for level in (0, 1):
        t = pr.torsion_check(pr.projective_plane(level))
        assert t.betti == {2: [1, 1, 1], 3: [1, 0, 0]} and t.has_torsion
    for n, m in [(3, 3), (5, 4)]:
        t = pr.torsion_check(pr.klein_bottle(n, m))
        assert t.betti == {2: [1, 2, 1], 3: [1, 1, 0]} and t.has_torsion
    for K in [pr.torus(4, 3), pr.sphere(10, seed=0), pr.circle(4)]:
        assert not pr.torsion_check(K).has_torsion


def test_torsion_check_of_a_quotient():
    # the Moebius band's boundary circle wraps twice around its core: gluing the
    # boundary of a Moebius band to a point gives RP^2
    n = 6
    mob = []
    for i in range(n):
        a, b = (i, n + i)
        c, d = ((i + 1) % n, n + (i + 1) % n) if i < n - 1 else (n, 0)   # twist at the seam
        mob += [(a, b, c), (b, c, d)]
    bnd = pr.SimplicialComplex(np.zeros((2 * n, 1)), mob).boundary()
    assert len(bnd) == 2 * n                      # one circle of length 2n
    t = pr.torsion_check(mob, pieces=[[tuple(e) for e in bnd]])
    assert t.betti == {2: [0, 1, 1], 3: [0, 0, 0]} and t.has_torsion


# ---------------------------------------------------------------- appendix 7.2 quotients
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_circle_with_k_arcs_glued_to_one_point_is_wedge_of_k_circles(k):
    n = 4 * k
    C = pr.circle(n)
    arcs = [[(4 * a, 4 * a + 1), (4 * a + 1, 4 * a + 2)] for a in range(k)]   # disjoint arcs
    union = [e for arc in arcs for e in arc]
    assert pr.quotient_betti(C, [union]) == [0, k]
    assert pr.relative_betti(C, union).relative == [0, k]
    # each arc to its own point: still a circle
    assert pr.quotient_betti(C, arcs) == [0, 1]


def test_torus_quotients():
    n, m = 6, 5
    T = pr.torus(n, m)
    disk = _star(T, 0)
    mer, lon = _meridian(n, m, 0), _longitude(n, m, 2)
    mer3 = _meridian(n, m, 3)
    assert pr.quotient_betti(T, [disk]) == [0, 2, 1]
    assert pr.quotient_betti(T, [mer]) == [0, 1, 1]
    assert pr.quotient_betti(T, [mer + lon]) == [0, 0, 1]
    assert pr.quotient_betti(T, [mer + mer3]) == [0, 2, 2]
    assert pr.quotient_betti(T, [mer, mer3]) == [0, 1, 2]
    # relative homology of the pair is the reduced homology of the quotient
    for A, want in [(disk, [0, 2, 1]), (mer, [0, 1, 1]), (mer + lon, [0, 0, 1]), (mer + mer3, [0, 2, 2])]:
        assert pr.relative_betti(T, A).relative == want
    r = pr.relative_betti(T, mer + mer3)
    assert r.X == [1, 2, 1] and r.A == [2, 2, 0]


def test_sphere_with_two_caps():
    K = pr.sphere(60, seed=5)
    top, bot = int(np.argmax(K.vertices[:, 2])), int(np.argmin(K.vertices[:, 2]))
    cap1, cap2 = _star(K, top), _star(K, bot)
    assert not set(cap1.ravel()) & set(cap2.ravel())     # disjoint caps
    both = np.vstack([cap1, cap2])
    assert pr.quotient_betti(K, [both]) == [0, 1, 1]
    assert pr.relative_betti(K, both).relative == [0, 1, 1]
    assert pr.quotient_betti(K, [cap1, cap2]) == [0, 0, 1]


def test_no_pieces_gives_reduced_betti_and_full_A_gives_zero():
    T = pr.torus(3, 4)
    assert pr.quotient_betti(T, []) == [0, 2, 1]
    r = pr.relative_betti(T, [])
    assert (r.X, r.A, r.relative) == ([1, 2, 1], [0, 0, 0], [1, 2, 1])
    r = pr.relative_betti(T, T)
    assert (r.X, r.A, r.relative) == ([1, 2, 1], [1, 2, 1], [0, 0, 0])


# ---------------------------------------------------------------- relative = quotient, randomly
@pytest.mark.parametrize("kind", ["triangles", "edges", "vertices"])
def test_relative_homology_matches_cone_quotient_on_random_subcomplexes(kind, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    K = [pr.torus(4, 5), pr.sphere(16, seed=rng), pr.klein_bottle(3, 4), pr.projective_plane()][
        rng.integers(4)]
    if kind == "triangles":
        A = K.simplices[rng.random(len(K)) < rng.uniform(0.1, 0.9)]
    elif kind == "edges":
        E = K.edges()
        A = E[rng.random(len(E)) < rng.uniform(0.1, 0.9)]
    else:
        A = rng.choice(K.n_vertices, size=rng.integers(1, 5), replace=False)[:, None]
    if len(A) == 0:
        A = K.simplices[:1]
    A = [tuple(s) for s in A.tolist()]
    for field in (2, 3):
        r = pr.relative_betti(K, A, field=field)
        # H_n(X, A) = reduced H_n(X/A) for nonempty A (cone construction, a second method)
        assert r.relative == pr.quotient_betti(K, [A], field=field)
        assert r.X == pr.betti(K, field=field)
        bA = pr.betti(A, field=field)
        assert r.A == bA + [0] * (len(r.A) - len(bA))
        # Euler characteristics: chi(X, A) = chi(X) - chi(A)
        chi = lambda b: sum((-1) ** k * x for k, x in enumerate(b))
        assert chi(r.relative) == chi(r.X) - chi(r.A)


def test_subcomplex_given_as_mask_ids_complex_or_simplices_agree(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    K = pr.torus(5, 4)
    mask = rng.random(len(K)) < 0.4
    mask[0] = True
    ids = np.flatnonzero(mask)
    want = pr.relative_betti(K, [tuple(s) for s in K.simplices[mask].tolist()])
    assert pr.relative_betti(K, mask) == want
    assert pr.relative_betti(K, ids) == want
    assert pr.relative_betti(K, K.subcomplex(mask)) == want
    assert pr.relative_betti(K.simplices, mask) == want
    assert pr.quotient_betti(K, [mask]) == want.relative


# ---------------------------------------------------------------- errors
def test_errors_name_the_problem():
    T = pr.torus(3, 3)
    with pytest.raises(ValueError, match="not a subcomplex of K"):
        pr.relative_betti(T, [(1, 3)])       # (0,1)-(1,0): an anti-diagonal, no edge
    with pytest.raises(ValueError, match="not a subcomplex of K"):
        pr.relative_betti(T, [(100,)])
    with pytest.raises(ValueError, match="'field' parameter of betti must be a prime"):
        pr.betti(T, field=4)
    with pytest.raises(ValueError, match="'field' parameter of relative_betti"):
        pr.relative_betti(T, [], field=1)
    with pytest.raises(ValueError, match="repeated vertex"):
        pr.betti([(0, 1), (2, 2)])
    with pytest.raises(ValueError, match="has no simplices"):
        pr.betti([])
    with pytest.raises(ValueError, match="pairwise disjoint"):
        pr.quotient_betti(T, [_meridian(3, 3, 0), _longitude(3, 3, 0)])
    with pytest.raises(ValueError, match=r"pieces\[1\] of quotient_betti is empty"):
        pr.quotient_betti(T, [_meridian(3, 3, 0), []])
    with pytest.raises(TypeError, match="list of subcomplexes"):
        pr.quotient_betti(T, T)
    with pytest.raises(ValueError, match=r"A of relative_betti as a mask must have shape \(18,\)"):
        pr.relative_betti(T, np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="at least two primes"):
        pr.torsion_check(T, fields=(2,))
    with pytest.raises(ValueError, match="vertex ids above"):
        pr.betti([(0, 2 ** 31 + 1)])             # GUDHI would wrap it to a negative int
    with pytest.raises(ValueError, match="integer vertex ids"):
        pr.betti([(0.5, 1.0)])


# ---------------------------------------------------------------- image persistence
def _circle_points(n, radius=1.0):
    t = 2 * np.pi * np.arange(n) / n
    return radius * np.c_[np.cos(t), np.sin(t)]


def test_image_persistence_identity_rank0_and_rank1():
    X = _circle_points(40, radius=2.0)
    # identity on the positive quadrant after a shift: the image is the circle itself
    ident = pr.ReLUNetwork.from_weights([np.eye(2)], [[5.0, 5.0]])
    res = pr.image_persistence(ident, X, layer=1, max_scale=3.0, max_dimension=1)
    step = 2 * 2.0 * np.sin(np.pi / 40)                 # spacing of the samples
    h1 = res.intervals[1]
    assert len(h1) == 1 and np.isclose(h1[0, 0], step)   # the loop is born with the edges
    assert res.betti(1.0) == [1, 1] and res.betti(0.5 * step) == [40, 0]
    # a rank-0 network (everything inactive) maps the circle to one point
    dead = pr.ReLUNetwork.from_weights([np.eye(2)], [[-10.0, -10.0]])
    assert pr.image_betti(dead, X, layer=1, scale=0.0, max_dimension=1) == [1, 0]
    # a rank-1 projection folds it onto a segment: no loop at any scale
    proj = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[5.0]])
    res = pr.image_persistence(proj, X, max_scale=None, max_dimension=1)
    assert len(res.intervals[1]) == 0 and res.betti(0.5) == [1, 0]


def test_image_persistence_collapse_does_not_change_the_diagram(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = pr.ReLUNetwork.from_weights([rng.standard_normal((6, 3)), rng.standard_normal((4, 6))],
                                      [rng.standard_normal(6), rng.standard_normal(4)])
    X = pr.sphere(40, seed=rng).vertices
    a = pr.image_persistence(net, X, max_scale=2.0, max_dimension=2, collapse=True)
    b = pr.image_persistence(net, X, max_scale=2.0, max_dimension=2, collapse=False)
    for ia, ib in zip(a.intervals, b.intervals):
        np.testing.assert_allclose(np.sort(ia, axis=0), np.sort(ib, axis=0))
    # at layer 0 the input sphere is seen: H2 appears at some scale
    c = pr.image_persistence(net, X, layer=0, max_scale=2.0, max_dimension=2)
    assert len(c.intervals[2]) >= 1


def test_image_persistence_errors():
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [[0.0, 0.0]])
    X = _circle_points(10)
    with pytest.raises(ValueError, match="'max_scale' parameter of image_persistence"):
        pr.image_persistence(net, X, max_scale=-1.0)
    with pytest.raises(ValueError, match="'max_dimension' parameter"):
        pr.image_persistence(net, X, max_dimension=-1)
    with pytest.raises(ValueError, match="layer"):
        pr.image_persistence(net, X, layer=2)
    with pytest.raises(ValueError, match="must have shape"):
        pr.image_persistence(net, X[:, :1])
    res = pr.image_persistence(net, X, max_scale=1.0, max_dimension=1)
    with pytest.raises(ValueError, match="scale must be a float in"):
        res.betti(2.0)


# ---------------------------------------------------------------------- solids
@pytest.mark.parametrize("K, absolute, relative", [
    (pr.ball(2), [1, 0, 0, 0], [0, 0, 0, 1]),                          # H(B, S^2) = H(S^3) reduced
    (pr.solid_torus(4, 1), [1, 1, 0, 0], [0, 0, 1, 1]),                # Lefschetz: H_k(T, dT) = H^{3-k}(T)
    (pr.cube_with_holes(1, holes=2), [1, 2, 0, 0], [0, 0, 2, 1]),
])
def test_solids_relative_to_their_boundary_obey_lefschetz_duality(K, absolute, relative):
    assert pr.betti(K) == absolute
    dK = K.boundary()
    assert list(pr.relative_betti(K, [tuple(f) for f in dK.tolist()]).relative) == relative
    # collapsing the boundary of the ball to a point gives S^3 (reduced Betti numbers)
    if absolute == [1, 0, 0, 0]:
        assert pr.quotient_betti(K, [[tuple(f) for f in dK.tolist()]]) == [0, 0, 0, 1]
