"""Exact homology of the image f_l(|K|): hand-derived folds, an independent planar-graph
oracle for curves in the plane, invariance under subdivision, and bad input."""

import warnings

import numpy as np
import pytest

import polyrank as pr
from conftest import random_net, segment_graph_betti


def _fold_x(d):
    """(x, rest) -> (|x|, rest + 10) as a two-layer ReLU net (the shift keeps rest > 0)."""
    W1 = np.zeros((2 * d, d))
    for k in range(d):
        W1[2 * k, k], W1[2 * k + 1, k] = 1.0, -1.0
    W2 = np.zeros((d, 2 * d))
    W2[0, 0] = W2[0, 1] = 1.0
    for k in range(1, d):
        W2[k, 2 * k], W2[k, 2 * k + 1] = 1.0, -1.0
    b2 = np.r_[0.0, np.full(d - 1, 10.0)]
    return pr.ReLUNetwork.from_weights([W1, W2], [np.zeros(2 * d), b2])


def _injective(d):
    """x -> (relu(x), relu(-x)): injective (x = relu(x) - relu(-x))."""
    return pr.ReLUNetwork.from_weights([np.vstack([np.eye(d), -np.eye(d)])], [np.zeros(2 * d)])


def test_relu_keeps_a_circle_a_loop_and_the_fold_makes_an_arc():
    K = pr.circle(24)
    relu = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    res = pr.image_homology(relu, K)
    assert res.betti == (1, 1)
    assert res.n_rank_pieces > 0  # the third quadrant collapses to the origin
    fold = _fold_x(2)
    assert pr.image_homology(fold, K).betti == (1, 0)
    assert pr.image_homology(fold, K, layer=1).betti == (1, 1)  # layer 1 is injective


@pytest.mark.parametrize("K, betti", [(pr.torus(8, 6), (1, 2, 1)), (pr.sphere(30, seed=0), (1, 0, 1)),
                                      (pr.circle(17), (1, 1))])
def test_an_injective_layer_keeps_the_homology_of_X(K, betti):
    assert pr.image_homology(_injective(K.ambient_dim), K).betti == betti


@pytest.mark.parametrize("n", [8, 12])
def test_folding_a_torus_across_a_plane_through_its_axis_gives_a_tube(n):
    # (x, y, z) -> (|x|, y, z): the torus around the z axis folds onto its half x >= 0, a
    # bent tube (a cylinder): b = (1, 1, 0). The mesh is symmetric under the fold.
    K = pr.torus(n, 6)
    res = pr.image_homology(_fold_x(3), K)
    assert res.betti == (1, 1, 0)
    assert len(res.overlaps) > 0  # the two halves meet: the overlap source


def test_folding_a_torus_across_its_equator_plane_gives_an_annulus():
    # (x, y, z) -> (x, y, |z|): the top half of the tube, an annulus: b = (1, 1, 0)
    P = np.array([[0, 0, 1.0], [0, 1, 0], [1, 0, 0]])  # puts z first
    K = pr.torus(10, 8)
    K2 = pr.SimplicialComplex(K.vertices @ P.T, K.simplices)
    assert pr.image_homology(_fold_x(3), K2).betti == (1, 1, 0)


def test_layer_0_and_topology_flow_rows():
    K = pr.circle(24)
    df = pr.topology_flow(_fold_x(2), K)
    assert df["layer"].tolist() == [0, 1, 2]
    assert [tuple(r) for r in df[["b0", "b1"]].values.tolist()] == [(1, 1), (1, 1), (1, 0)]
    assert df.loc[0, "betti"] == tuple(pr.betti(K))


# ------------------------------------------------------------------ independent oracle
@pytest.mark.parametrize("seed", range(4))
def test_curves_through_a_net_to_the_plane_match_a_planar_arrangement(seed):
    net = random_net(np.random.default_rng(seed), 2, [6, 2])
    K = pr.circle(30, radius=2.0)
    ref = pr.refine(net, K)
    Y = net.forward(ref.complex.vertices)
    expected = _segment_graph_betti(Y, ref.complex.simplices)
    assert pr.image_homology(net, K).betti == expected


def test_subdividing_the_mesh_does_not_change_the_image_homology(global_random_seed):
    net = random_net(np.random.default_rng(global_random_seed), 3, [8, 8])
    K = pr.torus(8, 6)
    V, T = K.vertices, K.simplices
    # 4-split: one new vertex per edge (same |K|, finer mesh)
    E = np.sort(np.concatenate([T[:, [0, 1]], T[:, [1, 2]], T[:, [0, 2]]]), axis=1)
    Eu, inv = np.unique(E, axis=0, return_inverse=True)
    mid = len(V) + inv.ravel().reshape(3, -1).T  # (triangles, [01, 12, 02])
    V2 = np.vstack([V, V[Eu].mean(1)])
    a, b, c = T.T
    m01, m12, m02 = mid.T
    T2 = np.concatenate([np.stack(x, 1) for x in ((a, m01, m02), (m01, b, m12), (m02, m12, c), (m01, m12, m02))])
    K2 = pr.SimplicialComplex(V2, T2)
    assert pr.image_homology(net, K, 1).betti == pr.image_homology(net, K2, 1).betti


@pytest.mark.parametrize("seed", range(3))
def test_subdividing_a_curve_does_not_change_its_image_homology(seed):
    net = random_net(np.random.default_rng(seed), 2, [6, 3, 2])
    K = pr.circle(25, radius=2.0)
    V, S = K.vertices, K.simplices
    V2 = np.vstack([V, V[S].mean(1)])
    m = len(V) + np.arange(len(S))
    K2 = pr.SimplicialComplex(V2, np.concatenate([np.c_[S[:, 0], m], np.c_[m, S[:, 1]]]))
    for layer in (1, 2, 3):
        assert pr.image_homology(net, K, layer).betti == pr.image_homology(net, K2, layer).betti


# ------------------------------------------------------------------ tolerance and budget
def _near_touching_path(gap):
    """An open square path whose end stops `gap` short of its start: b = (1, 0), but a
    loop (1, 1) as soon as the gap is within the tolerance."""
    V = np.array([[0.0, 0.0], [1, 0], [1, 1], [0, 1], [0, gap]])
    return pr.SimplicialComplex(V, [[0, 1], [1, 2], [2, 3], [3, 4]])


def test_nearly_touching_images_are_flagged_and_decided_by_tol():
    K = _near_touching_path(3e-9)
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.full(2, 5.0)])  # identity on the curve
    with pytest.warns(pr.ImageToleranceWarning):
        r = pr.image_homology(net, K, tol=1e-9)
    assert r.betti == (1, 0) and r.near_tolerance > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pr.ImageToleranceWarning)
        assert pr.image_homology(net, K, tol=1e-7).betti == (1, 1)  # now they touch: a loop



@pytest.mark.parametrize("gap", [3e-10, 9e-10, 1.9e-9])
def test_vertex_images_merged_within_the_warning_band_are_flagged(gap):
    """The path's ends meet or not depending on tol (half their distance within a factor
    NEAR_FACTOR of it): flagged, and decided by the intersection LP's rule (half the
    distance against tol), whether the ends' images merge as points or the two end
    segments meet."""
    K = _near_touching_path(gap)
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.full(2, 5.0)])
    with pytest.warns(pr.ImageToleranceWarning):
        r = pr.image_homology(net, K, tol=1e-9)
    size = 1.0  # the path's coordinate range
    assert r.near_tolerance > 0 and r.betti == ((1, 1) if gap / 2 <= 1e-9 * size else (1, 0))


@pytest.mark.parametrize("gap, betti", [(1e-13, (1, 1)), (1e-5, (1, 0))])
def test_vertex_images_far_from_the_band_are_not_flagged(gap, betti):
    """Ends much closer than tol (one point: a loop) or much farther (an arc): no warning,
    and a short mesh edge collapsed to a point is not flagged either."""
    K = _near_touching_path(gap)
    # the first edge split 1e-9 from its start: its ends are in the band, but they span an edge
    K2 = pr.SimplicialComplex(np.vstack([K.vertices, [[1e-9, 0.0]]]), [[0, 5], [5, 1], [1, 2], [2, 3], [3, 4]])
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.full(2, 5.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", pr.ImageToleranceWarning)
        r, r2 = pr.image_homology(net, K, tol=1e-9), pr.image_homology(net, K2, tol=1e-9)
    assert r.betti == r2.betti == betti and r.near_tolerance == r2.near_tolerance == 0


@pytest.mark.parametrize("far", [1e3, 1e9])
def test_a_vertex_no_simplex_uses_changes_nothing(far):
    """A stray vertex (in no simplex) is not in |K|: the tolerance's scale and the answer
    are those of the mesh without it (a triangle's boundary through an injective layer: a
    loop)."""
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.full(2, 5.0)])
    tri = [[0, 1], [1, 2], [2, 0]]
    K = pr.SimplicialComplex([[0, 0.0], [1, 0], [0, 1]], tri)
    Kx = pr.SimplicialComplex([[far, far], [0, 0.0], [1, 0], [0, 1]], np.array(tri) + 1)
    r, rx = pr.image_homology(net, K), pr.image_homology(net, Kx)
    assert r.betti == rx.betti == tuple(pr.betti(K)) == (1, 1)
    assert rx.abs_tol == r.abs_tol
    # analyze's path: the homology of a refinement of the mesh as given, stray vertex and all
    from polyrank.image import layer_homology

    rr = layer_homology(net, pr.refine(net, Kx, layer=1), 1, Kx)
    assert rr.betti == (1, 1) and rr.abs_tol == r.abs_tol
    # a stray vertex 5e-10 from a corner (the warning band) is not a near decision either
    Kn = pr.SimplicialComplex([[1 + 5e-10, 0.0], [0, 0.0], [1, 0], [0, 1]], np.array(tri) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pr.ImageToleranceWarning)
        rn = layer_homology(net, pr.refine(net, Kn, layer=1), 1, Kn)
    assert rn.betti == (1, 1) and rn.near_tolerance == 0


def test_too_many_candidates_is_a_clear_error():
    net = random_net(np.random.default_rng(1), 2, [6, 2])
    with pytest.raises(pr.PolyrankError, match="max_candidates"):
        pr.image_homology(net, pr.circle(200, radius=2.0), max_candidates=1)


# ------------------------------------------------------------------ bad input
def test_bad_input():
    net = _injective(2)
    with pytest.raises(TypeError, match="'K'"):
        pr.image_homology(net, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="R\\^3"):
        pr.image_homology(net, pr.torus(4, 4))
    with pytest.raises(ValueError, match="layer"):
        pr.image_homology(net, pr.circle(8), layer=2)
    with pytest.raises(ValueError, match="field"):
        pr.image_homology(net, pr.circle(8), field=4)
    with pytest.raises(ValueError, match="not a manifold"):
        pr.image_homology(net, pr.SimplicialComplex([[0, 0], [1, 0], [0, 1], [1, 1]],
                                                    [[0, 1], [0, 2], [0, 3]]))
    with pytest.raises(ValueError, match="max_candidates"):
        pr.image_homology(net, pr.circle(8), max_candidates=0)
    flat = pr.SimplicialComplex([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2, 3]])
    with pytest.raises(ValueError, match="degenerate"):
        pr.image_homology(_injective(3), flat)


# ------------------------------------------------------------------ curves in any R^n
def _segment_graph_betti(P, E, tol=1e-9):
    """Betti numbers of the union of the segments ``P[E]`` (conftest's oracle, tolerance
    relative to the size of the coordinates)."""
    E = np.asarray(E)
    return segment_graph_betti(P[E[:, 0]], P[E[:, 1]], tol * max(1.0, float(np.abs(P).max())))


@pytest.mark.parametrize("seed", range(4))
def test_curves_through_a_net_to_R3_and_R4_match_a_segment_arrangement(seed):
    rng = np.random.default_rng(100 + seed)
    net = random_net(rng, 2, [5, 4, 3])
    net = pr.ReLUNetwork.from_weights(net.weights, [b - 0.3 for b in net.biases])
    K = pr.circle(20, radius=1.5)
    for l in (1, 2, 3):
        ref = pr.refine(net, K, layer=l)
        Y = net.forward(ref.complex.vertices, layer=l)
        assert pr.image_homology(net, K, l).betti == _segment_graph_betti(Y, ref.complex.simplices)


# ------------------------------------------------------------------ no overlap: the quotient
@pytest.mark.parametrize("seed", range(2))
def test_without_overlaps_and_folds_the_image_is_the_quotient_by_the_collapsed_parts(seed):
    """If f is injective on every piece that it does not collapse to a point, no two pieces
    without a common mesh point have meeting images and no neighbours fold onto each other
    (every cell but the collapsed ones certified clean), then f(X) = X / ~ with each
    collapsed component glued to its own point: quotient_betti is an independent answer.
    (With a fold at a shared vertex it is not: the segment oracle above covers those.)"""
    rng = np.random.default_rng(seed)
    checked = with_collapse = 0
    for trial in range(40):
        net = random_net(rng, 2, [4, 3])
        net = pr.ReLUNetwork.from_weights(net.weights, [b - 0.6 for b in net.biases])
        K = pr.circle(24, radius=1.5)
        for l in (1, 2):
            ref = pr.refine(net, K, layer=l)
            tr = ref.tangent_ranks[:, l - 1]
            if not ((tr == 0) | (tr == K.dim)).all():
                continue
            res = pr.image_homology(net, K, l)
            if res.n_overlaps or res.n_dirty > res.n_rank_pieces:
                continue
            pieces = ref.complex.components(np.flatnonzero(tr == 0))
            reduced = pr.quotient_betti(ref.complex, list(pieces)) if pieces else \
                pr.reduced_betti(ref.complex)
            assert res.betti == (reduced[0] + 1, *reduced[1:])
            checked += 1
            with_collapse += len(pieces) > 0
        if checked >= 3 and with_collapse >= 2:
            break
    assert checked >= 3 and with_collapse >= 1


# ---------------------------------------------------------------------------- solids
def _stellar(K):
    """Each tetrahedron split into 4 at its centroid: the same |K|, a finer conforming mesh."""
    V, S = K.vertices, K.simplices
    c = len(V) + np.arange(len(S))
    V2 = np.vstack([V, V[S].mean(1)])
    S2 = np.concatenate([np.stack([c, S[:, 1], S[:, 2], S[:, 3]], 1), np.stack([S[:, 0], c, S[:, 2], S[:, 3]], 1),
                         np.stack([S[:, 0], S[:, 1], c, S[:, 3]], 1), np.stack([S[:, 0], S[:, 1], S[:, 2], c], 1)])
    return pr.SimplicialComplex(V2, S2)


def _swap_xz(K):
    return pr.SimplicialComplex(K.vertices[:, [2, 1, 0]], K.simplices)


@pytest.mark.parametrize("K, betti", [(pr.ball(2), (1, 0, 0, 0)), (pr.solid_torus(4, 1), (1, 1, 0, 0)),
                                      (pr.cube_with_holes(1, holes=1), (1, 1, 0, 0))])
def test_injective_layers_keep_the_homology_of_a_solid(K, betti):
    rng = np.random.default_rng(0)
    # x -> (relu(x), relu(-x)), then 8 random combinations of x = relu(x) - relu(-x), all active
    M = rng.normal(size=(8, 3))
    wide = pr.ReLUNetwork.from_weights([np.vstack([np.eye(3), -np.eye(3)]), np.hstack([M, -M])],
                                       [np.zeros(6), np.full(8, 100.0)])
    # a random invertible square layer with every unit active on the body
    square = pr.ReLUNetwork.from_weights([rng.normal(size=(3, 3))], [np.full(3, 100.0)])
    for net in (_injective(3), wide, square):
        res = pr.image_homology(net, K)
        assert res.betti == betti and res.n_rank_pieces == 0 and not res.overlaps
    assert pr.image_homology(square, K).n_dirty == 0  # one affine injective map: all certified


def test_folding_solids_by_hand():
    # (x, y, z) -> (|x|, y, z) of a ball centred on the fold plane: a half ball (the mesh is
    # symmetric under x -> -x, so the halves coincide)
    assert pr.image_homology(_fold_x(3), pr.ball(2)).betti == (1, 0, 0, 0)
    # a solid torus around the z axis folded across the plane x = 0 through its axis: the
    # half x >= 0 (a solid bent cylinder, contractible); folded across its equator plane
    # z = 0: the top half, a solid ring that keeps the hole. solid_torus(4, 1) is symmetric
    # as a set under both reflections (its voxels have planar faces).
    T = pr.solid_torus(4, 1)
    axis = pr.image_homology(_fold_x(3), T)
    assert axis.betti == (1, 0, 0, 0) and axis.overlaps
    ring = pr.image_homology(_fold_x(3), _swap_xz(T))
    assert ring.betti == (1, 1, 0, 0)
    # independent: an alpha complex of a dense sample of the folded ring, in R^3
    gudhi = pytest.importorskip("gudhi")
    rng = np.random.default_rng(0)
    K = _swap_xz(T)
    S = K.simplices[rng.integers(len(K), size=6000)]
    X = np.einsum("kj,kjd->kd", rng.dirichlet(np.ones(4), size=len(S)), K.vertices[S])
    st = gudhi.AlphaComplex(points=_fold_x(3).forward(X)).create_simplex_tree(max_alpha_square=0.05)
    st.compute_persistence(persistence_dim_max=True)
    assert (st.betti_numbers() + [0, 0, 0])[:3] == [1, 1, 0]


def test_projecting_a_solid_torus_to_the_plane_gives_an_annulus():
    gudhi = pytest.importorskip("gudhi")
    # (x, y, z) -> (x + 10, y + 10) as a two-layer net: the shadow of the solid torus, an annulus
    W1 = np.vstack([np.eye(3), -np.eye(3)])
    W2 = np.array([[1.0, 0, 0, -1, 0, 0], [0, 1, 0, 0, -1, 0]])
    net = pr.ReLUNetwork.from_weights([W1, W2], [np.zeros(6), np.full(2, 10.0)])
    T = pr.solid_torus(4, 1)
    res = pr.image_homology(net, T)
    assert res.betti == (1, 1, 0, 0) and res.n_rank_pieces == res.n_pieces  # every cell squashed
    # independent: an alpha complex of a dense sample of the image, in the plane
    rng = np.random.default_rng(0)
    S = T.simplices[rng.integers(len(T), size=4000)]
    X = np.einsum("kj,kjd->kd", rng.dirichlet(np.ones(4), size=len(S)), T.vertices[S])
    st = gudhi.AlphaComplex(points=net.forward(X)).create_simplex_tree(max_alpha_square=0.05)
    st.compute_persistence(persistence_dim_max=True)
    assert st.betti_numbers()[:2] == [1, 1]


def test_subdividing_a_solid_does_not_change_the_image_homology(global_random_seed):
    # a random layer whose hyperplanes cut the body (units switch off on parts of it), and
    # the same body split at every tetrahedron's centroid: same image, same Betti numbers
    rng = np.random.default_rng(global_random_seed)
    W = rng.normal(size=(8, 3))
    net = pr.ReLUNetwork.from_weights([W], [np.abs(W).sum(1) * 0.5])
    K = pr.solid_torus(4, 1, R=2.0, r=0.5)
    a, b = pr.image_homology(net, K), pr.image_homology(net, _stellar(K))
    assert a.n_pieces > len(K) and a.betti == b.betti


def test_meshes_of_dimension_4_are_refused():
    K = pr.SimplicialComplex(np.vstack([np.zeros(4), np.eye(4)]), [[0, 1, 2, 3, 4]])
    with pytest.raises(ValueError, match="dimension <= 3"):
        pr.image_homology(_injective(4), K)
