"""Meshes with known topology: counting formulas, geometry, validity checks, embeddings."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist

import polyrank as pr


def _edge_lengths(K):
    E = K.edges()
    return np.linalg.norm(K.vertices[E[:, 0]] - K.vertices[E[:, 1]], axis=1)


# ---------------------------------------------------------------- counting formulas
@pytest.mark.parametrize("n", [3, 4, 7])
def test_circle_and_interval_counts(n):
    C = pr.circle(n, radius=2.5)
    assert C.f_vector() == [n, n] and C.euler_characteristic() == 0
    np.testing.assert_allclose(np.linalg.norm(C.vertices, axis=1), 2.5)
    I = pr.interval(n, length=3.0)
    assert I.f_vector() == [n, n - 1] and I.euler_characteristic() == 1
    assert I.vertices.min() == 0.0 and np.isclose(I.vertices.max(), 3.0)


@pytest.mark.parametrize("n,m", [(3, 3), (3, 5), (6, 4), (10, 7)])
def test_torus_counts_and_geometry(n, m):
    R, r = 2.5, 0.7
    K = pr.torus(n, m, R=R, r=r)
    # Euler: V - E + F = nm - 3nm + 2nm = 0
    assert K.f_vector() == [n * m, 3 * n * m, 2 * n * m]
    assert K.euler_characteristic() == 0
    assert K.is_closed_surface()
    x, y, z = K.vertices.T
    np.testing.assert_allclose((np.hypot(x, y) - R) ** 2 + z ** 2, r ** 2)
    # meridian {i = 1} and longitude {j = 2} are cycles of edges of the mesh
    edges = {tuple(e) for e in K.edges().tolist()}
    mer = [tuple(sorted((m + j, m + (j + 1) % m))) for j in range(m)]
    lon = [tuple(sorted((i * m + 2, ((i + 1) % n) * m + 2))) for i in range(n)]
    assert set(mer) <= edges and set(lon) <= edges


@pytest.mark.parametrize("n,m", [(3, 3), (4, 3), (5, 6), (8, 5)])
def test_klein_bottle_counts_and_seam(n, m):
    K = pr.klein_bottle(n, m)
    assert K.ambient_dim == 4
    assert K.f_vector() == [n * m, 3 * n * m, 2 * n * m]
    assert K.euler_characteristic() == 0
    assert K.is_closed_surface()
    # an embedding: vertices pairwise distinct
    assert pdist(K.vertices).min() > 1e-6
    # the twisted seam is geometrically consistent: the parametrisation at u = 2 pi
    # lands on the identified vertices, so seam edges are no longer than the others.
    R, r = 2.0, 1.0
    v = 2 * np.pi * np.arange(m) / m
    u = 2 * np.pi
    P = np.stack([(R + r * np.cos(v)) * np.cos(u), (R + r * np.cos(v)) * np.sin(u),
                  r * np.sin(v) * np.cos(u / 2), r * np.sin(v) * np.sin(u / 2)], axis=1)
    np.testing.assert_allclose(P, K.vertices[(-np.arange(m)) % m], atol=1e-12)
    E = K.edges()
    seam = (E[:, 0] < m) & (E[:, 1] >= (n - 1) * m)
    L = _edge_lengths(K)
    assert seam.sum() == 2 * m
    assert L[seam].max() <= L[~seam].max() + 1e-12


@pytest.mark.parametrize("n", [4, 5, 20, 100])
def test_sphere_is_convex_hull(n, global_random_seed):
    K = pr.sphere(n, seed=global_random_seed)
    assert K.f_vector() == [n, 3 * n - 6, 2 * n - 4]
    assert K.is_closed_surface()
    np.testing.assert_allclose(np.linalg.norm(K.vertices, axis=1), 1.0)
    # outward orientation: signed tetrahedra from an interior point add up to the hull volume
    a, b, c = (K.vertices[K.simplices[:, i]] - K.vertices.mean(0) for i in range(3))
    signed = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6
    assert (signed > 0).all()
    assert np.isclose(signed.sum(), ConvexHull(K.vertices).volume)
    # reproducible from the seed
    np.testing.assert_array_equal(K.vertices, pr.sphere(n, seed=global_random_seed).vertices)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_projective_plane_counts_and_embedding(level):
    K = pr.projective_plane(level)
    T = 10 * 4 ** level                       # icosahedron (20 * 4^level) halved
    assert K.f_vector() == [T // 2 + 1, 3 * T // 2, T]
    assert K.euler_characteristic() == 1
    assert K.is_closed_surface()
    assert K.ambient_dim == 4
    assert pdist(K.vertices).min() > 1e-6     # the Veronese map is injective on RP^2


@pytest.mark.parametrize("n,rings", [(3, 1), (6, 1), (5, 3)])
def test_disk_counts_and_boundary(n, rings):
    K = pr.disk(n, rings=rings, radius=2.0)
    assert len(K) == n * (2 * rings - 1)
    assert K.euler_characteristic() == 1
    B = K.boundary()
    assert len(B) == n
    np.testing.assert_allclose(np.linalg.norm(K.vertices[np.unique(B)], axis=1), 2.0)
    assert not K.is_closed_surface()


def test_closed_manifolds_have_no_boundary():
    for K in [pr.circle(5), pr.torus(3, 4), pr.klein_bottle(3, 3), pr.projective_plane()]:
        assert K.boundary().shape[0] == 0
    assert len(pr.interval(5).boundary()) == 2


def test_faces_are_sorted_and_unique():
    K = pr.torus(4, 3)
    for k in range(3):
        F = K.faces(k)
        assert (np.diff(F, axis=1) > 0).all()
        assert len(np.unique(F, axis=0)) == len(F)
    np.testing.assert_array_equal(K.faces(0).ravel(), np.arange(12))
    with pytest.raises(ValueError, match="'k' parameter of faces"):
        K.faces(3)


# ---------------------------------------------------------------- validity checks
def _tetra_boundary(offset):
    return [tuple(offset + np.array(t)) for t in [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]]


def test_check_closed_surface_detects_each_defect():
    V = np.zeros((7, 3))
    tet = _tetra_boundary(0)
    assert pr.SimplicialComplex(V[:4], tet).is_closed_surface()
    with pytest.raises(ValueError, match="dimension 1"):
        pr.circle(4).check_closed_surface()
    with pytest.raises(ValueError, match="lies in 1 triangle"):
        pr.SimplicialComplex(V[:4], tet[:3]).check_closed_surface()
    with pytest.raises(ValueError, match="listed more than once"):
        pr.SimplicialComplex(V[:4], tet + [(2, 1, 0)]).check_closed_surface()
    with pytest.raises(ValueError, match="repeats a vertex"):
        pr.SimplicialComplex(V[:4], tet + [(0, 0, 1)]).check_closed_surface()
    with pytest.raises(ValueError, match="vertex 4 lies in no triangle"):
        pr.SimplicialComplex(V[:5], tet).check_closed_surface()
    # two tetrahedron boundaries sharing vertex 3: every edge in two triangles, but
    # the link of vertex 3 is two cycles
    pinched = tet + [tuple(t) for t in np.array(_tetra_boundary(3))]
    with pytest.raises(ValueError, match="link of vertex 3 has 2 components"):
        pr.SimplicialComplex(V, pinched).check_closed_surface()
    # three triangles on one edge
    with pytest.raises(ValueError, match="lies in 3 triangle"):
        pr.SimplicialComplex(V[:5], tet + [(0, 1, 4)]).check_closed_surface()


def test_subcomplex_by_mask_and_ids():
    K = pr.torus(3, 3)
    mask = np.zeros(len(K), dtype=bool)
    mask[[1, 5, 7]] = True
    A = K.subcomplex(mask)
    B = K.subcomplex([1, 5, 7])
    np.testing.assert_array_equal(A.simplices, K.simplices[[1, 5, 7]])
    np.testing.assert_array_equal(A.simplices, B.simplices)
    np.testing.assert_array_equal(A.vertices, K.vertices)
    assert len(K.subcomplex([])) == 0
    with pytest.raises(ValueError, match=r"mask must have shape \(18,\)"):
        K.subcomplex(np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="outside 0..17"):
        K.subcomplex([18])
    with pytest.raises(ValueError, match="bool mask"):
        K.subcomplex([0.5])


@pytest.mark.parametrize("func,args,match", [
    (pr.circle, (2,), "'n' parameter of circle must be an int >= 3"),
    (pr.interval, (1,), "'n' parameter of interval must be an int >= 2"),
    (pr.torus, (2, 3), "'n' parameter of torus"),
    (pr.torus, (3, 2), "'m' parameter of torus"),
    (lambda n, m: pr.torus(n, m, R=1.0, r=1.0), (3, 3), "R > r"),
    (pr.klein_bottle, (3, 2), "'m' parameter of klein_bottle"),
    (pr.sphere, (3,), "'n' parameter of sphere must be an int >= 4"),
    (pr.projective_plane, (-1,), "'subdivisions' parameter"),
    (pr.disk, (2,), "'n' parameter of disk"),
    (lambda n: pr.circle(n, radius=-1.0), (5,), "'radius' parameter of circle must be a float > 0"),
])
def test_mesh_arguments_are_validated(func, args, match):
    with pytest.raises(ValueError, match=match):
        func(*args)


# ---------------------------------------------------------------- embed
@pytest.mark.parametrize("make,dim", [(lambda: pr.circle(12), 2), (lambda: pr.circle(12), 7),
                                      (lambda: pr.torus(5, 4), 3), (lambda: pr.torus(5, 4), 10),
                                      (lambda: pr.klein_bottle(4, 4), 6)])
def test_embed_preserves_pairwise_distances(make, dim, global_random_seed):
    K = make()
    E = pr.embed(K, dim, seed=global_random_seed)
    assert E.ambient_dim == dim
    np.testing.assert_array_equal(E.simplices, K.simplices)
    np.testing.assert_allclose(pdist(E.vertices), pdist(K.vertices), atol=1e-12)
    # a genuine offset, and reproducible from the seed
    assert not np.allclose(E.vertices.mean(0)[:K.ambient_dim], K.vertices.mean(0))
    np.testing.assert_array_equal(E.vertices, pr.embed(K, dim, seed=global_random_seed).vertices)


def test_embed_errors():
    K = pr.torus(3, 3)
    with pytest.raises(ValueError, match="must be >= the complex's ambient dimension 3"):
        pr.embed(K, 2)
    with pytest.raises(ValueError, match="'dim' parameter of embed must be an int"):
        pr.embed(K, 3.5)
    with pytest.raises(TypeError, match="SimplicialComplex"):
        pr.embed(K.vertices, 4)


def test_components_are_vertex_disjoint_and_cover_the_selection(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    K = pr.torus(8, 6)
    assert [len(c) for c in K.components()] == [len(K)]
    # two meridian bands (grid rows 0-1 and 4-5) are two annuli
    rows = np.sort(K.simplices // 6, axis=1)
    band = lambda lo, hi: (rows[:, 0] >= lo) & (rows[:, 2] < hi)
    comps = K.components(band(0, 2) | band(4, 6))
    assert len(comps) == 2
    np.testing.assert_array_equal(comps[0], np.flatnonzero(band(0, 2)))
    # random selections: pieces partition the selection, share no vertex, and each is
    # connected (its own components() is itself)
    mask = rng.random(len(K)) < 0.3
    comps = K.components(mask)
    np.testing.assert_array_equal(np.sort(np.concatenate(comps)) if comps else [], np.flatnonzero(mask))
    verts = [set(K.simplices[c].ravel()) for c in comps]
    assert all(not (verts[a] & verts[b]) for a in range(len(verts)) for b in range(a))
    if comps:                                    # b_0 of the selection (GUDHI) counts them
        assert len(comps) == pr.betti(K.simplices[mask])[0]
        assert all(pr.betti(K.simplices[c])[0] == 1 for c in comps)
    assert K.components([]) == []


def test_fast_unique_rows_matches_numpy(global_random_seed):
    from polyrank.complex import _unique_rows

    rng = np.random.default_rng(global_random_seed)
    for n, d in [(3, 3), (50, 2), (7, 1)]:
        F = rng.integers(0, n, size=(500, d))
        got = _unique_rows(F, n, return_inverse=True, return_counts=True)
        want = np.unique(F, axis=0, return_inverse=True, return_counts=True)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, np.asarray(w).reshape(g.shape))
        np.testing.assert_array_equal(_unique_rows(F, n), want[0])


# ---------------------------------------------------------------- solids
def _volumes(K):
    V, S = K.vertices, K.simplices
    return np.linalg.det(V[S[:, 1:]] - V[S[:, :1]]) / 6


def _boundary_surface(K):
    F = K.boundary()
    used, inv = np.unique(F, return_inverse=True)
    return pr.SimplicialComplex(K.vertices[used], inv.reshape(F.shape))


@pytest.mark.parametrize("make, betti, chi_boundary", [
    (lambda: pr.ball(4, radius=1.5), [1, 0, 0, 0], 2),
    (lambda: pr.solid_torus(8, 2, R=2.5, r=0.7), [1, 1, 0, 0], 0),
    (lambda: pr.cube_with_holes(1, holes=0), [1, 0, 0, 0], 2),
    (lambda: pr.cube_with_holes(2, holes=1), [1, 1, 0, 0], 0),
    (lambda: pr.cube_with_holes(1, holes=3, size=3.0), [1, 3, 0, 0], -4),
])
def test_solids_homology_orientation_and_boundary(make, betti, chi_boundary):
    K = make()
    assert K.dim == 3 and K.ambient_dim == 3
    assert pr.betti(K) == betti and pr.betti(K, field=2) == betti
    assert (_volumes(K) > 0).all()  # every tetrahedron positively oriented
    # a 3-manifold with boundary: every triangle in one or two tetrahedra, and the boundary
    # is a closed orientable surface of genus b1 (Euler characteristic 2 - 2 b1)
    F = np.sort(np.concatenate([np.delete(K.simplices, j, axis=1) for j in range(4)]), axis=1)
    counts = np.unique(F, axis=0, return_counts=True)[1]
    assert set(counts.tolist()) == {1, 2}
    B = _boundary_surface(K)
    B.check_closed_surface()
    assert B.is_orientable() and B.euler_characteristic() == chi_boundary == 2 - 2 * betti[1]
    assert K.euler_characteristic() == 1 - betti[1]


@pytest.mark.parametrize("holes", [0, 1, 2])
def test_cube_with_holes_volume_is_exact(holes):
    size = 1.7
    K = pr.cube_with_holes(2, holes=holes, size=size)
    np.testing.assert_allclose(_volumes(K).sum(), size ** 3 * (1 - holes / (3 * (2 * holes + 1))), rtol=1e-12)
    np.testing.assert_allclose(np.abs(K.vertices).max(0), size / 2)


def test_ball_and_solid_torus_volumes_converge_to_the_analytic_ones():
    # the boundary vertices lie on the sphere / torus, so the meshes are inscribed: the volume
    # is below the analytic one, and the error falls ~4x when the grid is refined 2x
    errs = []
    for n in (4, 8, 16):
        B = pr.ball(n, radius=1.3)
        np.testing.assert_allclose(np.linalg.norm(_boundary_surface(B).vertices, axis=1), 1.3)
        errs.append(4 / 3 * np.pi * 1.3 ** 3 - _volumes(B).sum())
    assert errs[0] > errs[1] > errs[2] > 0 and errs[1] / errs[2] > 3
    errs = []
    for n, m in ((8, 2), (16, 4), (32, 8)):
        T = pr.solid_torus(n, m, R=2.0, r=0.5)
        x, y, z = _boundary_surface(T).vertices.T
        np.testing.assert_allclose((np.hypot(x, y) - 2.0) ** 2 + z ** 2, 0.25)
        errs.append(2 * np.pi ** 2 * 2.0 * 0.25 - _volumes(T).sum())
    assert errs[0] > errs[1] > errs[2] > 0 and errs[1] / errs[2] > 3


def test_symmetric_solids_are_symmetric_meshes():
    # even grids: the reflections in the coordinate planes map the mesh onto itself
    for K, flips in ((pr.ball(4), (0, 1, 2)), (pr.solid_torus(8, 2), (1, 2))):
        tets = {frozenset(tuple(np.round(v, 9)) for v in K.vertices[s]) for s in K.simplices}
        for ax in flips:
            W = K.vertices.copy()
            W[:, ax] *= -1
            assert {frozenset(tuple(np.round(v, 9)) for v in W[s]) for s in K.simplices} == tets


def test_solids_bad_input():
    with pytest.raises(ValueError, match="'n'"):
        pr.ball(1)
    with pytest.raises(ValueError, match="even"):
        pr.solid_torus(5, 2)
    with pytest.raises(ValueError, match="R > r"):
        pr.solid_torus(8, 2, R=1.0, r=1.0)
    with pytest.raises(ValueError, match="'holes'"):
        pr.cube_with_holes(1, holes=-1)
