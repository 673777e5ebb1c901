"""Representation classifying spaces (appendix 7): truths from theory and hand-built quotients.

Independent oracles: the circle's classifying space is known in closed form (wedges of
k circles and the point); torus quotients are built here by hand (explicit cones over
grid curves and vertex stars) and their homology computed with GUDHI directly; every
row's example is re-coned and checked against its Betti numbers and against the Euler
characteristic formula ``chi(X/{A_g}) = chi(X) - sum_g (chi(A_g) - 1)``.
"""

import itertools

import numpy as np
import pytest

import polyrank as pr

gudhi = pytest.importorskip("gudhi")
pytest.importorskip("pandas")


# ---------------------------------------------------------------------- independent oracles
def _coned_betti(triangles_or_edges, groups, field):
    """Reduced Betti numbers of a complex with one cone apex per group, straight from GUDHI."""
    st = gudhi.SimplexTree()
    for s in triangles_or_edges:
        st.insert([int(v) for v in s])
    apex = max(int(v) for s in triangles_or_edges for v in s) + 1
    for g, grp in enumerate(groups):
        for s in grp:
            st.insert([int(v) for v in s] + [apex + g])
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)
    dim = max(len(s) for s in triangles_or_edges) - 1
    b = (list(st.betti_numbers()) + [0] * (dim + 1))[:dim + 1]
    b[0] -= 1
    return tuple(b)


def _euler(simplices):
    faces = set()
    for s in simplices:
        s = tuple(sorted(int(v) for v in s))
        for k in range(1, len(s) + 1):
            faces.update(itertools.combinations(s, k))
    return sum((-1) ** (len(f) - 1) for f in faces)


def _torus_meridian(n, m, i):
    return [(i * m + j, i * m + (j + 1) % m) for j in range(m)]


def _torus_longitude(n, m, j):
    return [(i * m + j, ((i + 1) % n) * m + j) for i in range(n)]


def _star(K, v):
    return [tuple(t) for t in K.simplices if v in t]


def _types(df):
    return {(r.betti, r.torsion, r.betti_z2) for r in df.itertuples()}


# ---------------------------------------------------------------------- the circle
@pytest.mark.parametrize("n", [9, 20])
@pytest.mark.parametrize("max_pieces", [1, 2, 3, 4])
def test_circle_is_wedges_of_k_circles_and_the_point(n, max_pieces):
    df = pr.classifying_space(pr.circle(n), max_pieces=max_pieces)
    expected = {(0, k) for k in range(1, max_pieces + 1)} | {(0, 0)}
    assert set(df["betti"]) == expected
    assert len(df) == len(expected)
    assert not df["torsion"].any()
    wedge = df[df["betti"] == (0, max_pieces)].iloc[0]
    assert wedge["pieces"] == f"{max_pieces} arcs" if max_pieces > 1 else "1 arc"
    assert wedge["glued"] == "to one point"


# ---------------------------------------------------------------------- the torus
@pytest.fixture(scope="module")
def torus_table():
    return pr.torus(16, 8), pr.classifying_space(pr.torus(16, 8), max_pieces=2)


def test_torus_appendix_types_match_hand_built_quotients(torus_table):
    K, df = torus_table
    n, m, f = 16, 8, 11
    T = [tuple(t) for t in K.simplices]
    disk = _star(K, 3 * m + 2)
    mer0, mer8 = _torus_meridian(n, m, 0), _torus_meridian(n, m, 8)
    lon = _torus_longitude(n, m, 0)
    hand = {
        "a disk": (_coned_betti(T, [disk], f), (0, 2, 1)),
        "a meridian": (_coned_betti(T, [mer0], f), (0, 1, 1)),
        "a meridian and a longitude": (_coned_betti(T, [mer0 + lon], f), (0, 0, 1)),
        "two parallel meridians to one point": (_coned_betti(T, [mer0 + mer8], f), (0, 2, 2)),
        "two parallel meridians to two points": (_coned_betti(T, [mer0, mer8], f), (0, 1, 2)),
        "a trivial loop": (_coned_betti(T, [[tuple(v for v in t if v != 3 * m + 2) for t in disk]], f),
                           (0, 2, 2)),
    }
    types = set(df["betti"])
    for name, (got, theory) in hand.items():
        assert got == theory, name           # the hand-built quotient agrees with the theory
        assert got in types, name            # and the table has the type
    by_pieces = {(r.pieces, r.glued): r.betti for r in df.itertuples()}
    assert by_pieces[("1 disk", "to one point")] == (0, 2, 1)
    assert by_pieces[("1 meridian", "to one point")] == (0, 1, 1)
    assert by_pieces[("1 meridian + 1 longitude", "to one point")] == (0, 0, 1)
    assert (0, 0, 0) in types                # the whole torus: a point
    assert not df["torsion"].any()           # Z^2 modulo primitive classes has no torsion


def _check_rows(K, df):
    T = [tuple(t) for t in K.simplices]
    chi = K.euler_characteristic()
    for r in df.itertuples():
        groups = [list(g) for g in r.example]
        assert _coned_betti(T, groups, 11) == r.betti
        assert _coned_betti(T, groups, 2) == r.betti_z2
        assert _coned_betti(T, groups, 3) == r.betti_z3
        assert r.torsion == (r.betti_z2 != r.betti_z3)
        # chi of the quotient from the reduced Betti numbers and from the pieces
        assert 1 + sum((-1) ** i * b for i, b in enumerate(r.betti)) == \
            chi - sum(_euler(g) - 1 for g in groups)
        # groups glued to different points are disjoint
        verts = [{v for s in g for v in s} for g in groups]
        assert all(not (a & b) for a, b in itertools.combinations(verts, 2))
        assert r.n_pieces == sum(int(part.split()[0]) for part in r.pieces.split(" + "))
    # one row per type
    assert len(_types(df)) == len(df)


def _sequence_betti(T, first, second, field=11):
    """Quotient by ``first`` (a cone, apex a), then by the image of ``second`` (a cone over it,
    and over the first cone when ``second`` meets ``first``: its image passes through a)."""
    st = gudhi.SimplexTree()
    for s in T:
        st.insert(list(s))
    a = max(v for s in T for v in s) + 1
    cone_a = [list(s) + [a] for s in first]
    for s in cone_a:
        st.insert(s)
    meets = {v for s in first for v in s} & {v for s in second for v in s}
    for s in list(second) + (cone_a if meets else []):
        st.insert(list(s) + [a + 1])
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)
    b = (list(st.betti_numbers()) + [0, 0, 0])[:3]
    b[0] -= 1
    return tuple(b)


def test_sequences_of_quotients_are_rows(torus_table):
    # the paper's sequences: quotient by a meridian, then by the image of a second curve
    K, df = torus_table
    n, m = 16, 8
    T = [tuple(int(v) for v in t) for t in K.simplices]
    mer0, mer8, lon = _torus_meridian(n, m, 0), _torus_meridian(n, m, 8), _torus_longitude(n, m, 0)
    by_pieces = {(r.pieces, r.glued): r.betti for r in df.itertuples()}
    assert _sequence_betti(T, mer0, lon) == by_pieces[("1 meridian + 1 longitude", "to one point")]
    assert _sequence_betti(T, mer0, mer8) in set(df["betti"])
    assert _sequence_betti(T, mer0, mer8) == _coned_betti(T, [mer0, mer8], 11)


def test_every_row_matches_its_example(torus_table):
    _check_rows(*torus_table)


@pytest.mark.parametrize("make", [lambda: pr.klein_bottle(12, 6), lambda: pr.projective_plane(2),
                                  lambda: pr.sphere(30, seed=2), lambda: pr.circle(15)],
                         ids=["klein", "rp2", "sphere", "circle"])
def test_every_row_matches_its_example_on_other_meshes(make):
    K = make()
    _check_rows(K, pr.classifying_space(K, max_pieces=2))


@pytest.mark.slow
def test_torus_three_pieces_rows_and_invariance():
    a = pr.classifying_space(pr.torus(16, 8), max_pieces=3)
    _check_rows(pr.torus(16, 8), a)
    assert a["n_pieces"].max() == 3
    assert _types(pr.classifying_space(pr.torus(32, 16), max_pieces=3)) == _types(a)


def _split4(K):
    """Every triangle split in four at its edge midpoints (a subdivision of the same surface)."""
    V, T = K.vertices, K.simplices
    E = np.sort(T[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    edges, inv = np.unique(E, axis=0, return_inverse=True)
    mid = len(V) + inv.reshape(-1, 3)
    V2 = np.concatenate([V, (V[edges[:, 0]] + V[edges[:, 1]]) / 2])
    a, b, c = T.T
    ab, bc, ca = mid.T
    T2 = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return pr.SimplicialComplex(V2, T2)


def test_invariant_under_subdivision_and_reembedding(torus_table, global_random_seed):
    K, df = torus_table
    ref = _types(df)
    assert _types(pr.classifying_space(pr.torus(12, 6), max_pieces=2)) == ref
    assert _types(pr.classifying_space(_split4(pr.torus(8, 6)), max_pieces=2)) == ref
    assert _types(pr.classifying_space(pr.embed(K, 6, seed=1), max_pieces=2)) == ref
    # relabelled vertices and reordered triangles: the same surface
    rng = np.random.default_rng(global_random_seed)
    perm = rng.permutation(K.n_vertices)
    inv = np.argsort(perm)
    K2 = pr.SimplicialComplex(K.vertices[perm], rng.permutation(inv[K.simplices]))
    assert _types(pr.classifying_space(K2, max_pieces=2)) == ref


def test_table_does_not_depend_on_the_seed(torus_table, global_random_seed):
    K, df = torus_table
    assert _types(pr.classifying_space(K, max_pieces=2, seed=global_random_seed + 1)) == _types(df)


def test_sphere_table_is_invariant_and_has_only_disk_types():
    a = pr.classifying_space(pr.sphere(40, seed=0), max_pieces=2)
    b = pr.classifying_space(_split4(pr.sphere(20, seed=3)), max_pieces=2)
    assert _types(a) == _types(b)
    assert not a["pieces"].str.contains("curve|meridian").any()
    # S^2 / disk = S^2; two points identified: S^2 v S^1; a trivial loop: S^2 v S^2
    assert {(0, 0, 1), (0, 1, 1), (0, 0, 2), (0, 0, 0)} <= set(a["betti"])


def test_torsion_on_non_orientable_surfaces():
    rp2 = pr.classifying_space(pr.projective_plane(2), max_pieces=1)
    rows = {r.pieces: r for r in rp2.itertuples()}
    assert rows["1 disk"].torsion                          # RP^2 itself: H_1 = Z/2
    one = [r for r in rp2.itertuples() if "one-sided" in r.pieces]
    assert one and one[0].betti == (0, 0, 1) and not one[0].torsion   # RP^2 / RP^1 = S^2
    kb = pr.classifying_space(pr.klein_bottle(12, 6), max_pieces=1)
    rows = {r.pieces: r for r in kb.itertuples()}
    assert rows["1 disk"].torsion and rows["1 disk"].betti == (0, 1, 0)   # H_1 = Z + Z/2
    assert any("one-sided" in p for p in rows) and any("two-sided" in p for p in rows)


# ---------------------------------------------------------------------- classify
def _one_layer(W, b):
    return pr.ReLUNetwork.from_weights([np.asarray(W, dtype=float)], [np.asarray(b, dtype=float)])


def test_classify_network_collapsing_a_disk():
    # x >= 2.9 is a cap around (3, 0, 0) where only the always-on unit fires: rank 1, glued
    net = _one_layer([[-1, 0, 0], [0, 0, 1]], [2.9, 5.0])
    row = pr.classify(net, pr.torus(16, 8))
    assert row["matched"] and row["n_glued"] == 1
    assert row["components"] == ["contractible"]
    assert row["betti"] == (0, 2, 1) and row["pieces"] == "1 disk"


def test_classify_network_collapsing_a_meridian():
    # |y| <= 0.2, x > 0: only the always-on unit fires (rank 1), a band around the meridian u = 0
    net = _one_layer([[0, 1, 0], [0, -1, 0], [0, 0, 1], [-1, 0, 0]], [-0.2, -0.2, 5.0, 0.0])
    row = pr.classify(net, pr.torus(16, 8))
    assert row["matched"] and row["n_glued"] == 1
    assert row["components"] == ["meridian"]
    assert row["betti"] == (0, 1, 1) and row["pieces"] == "1 meridian"


def test_classify_names_a_longitude_and_a_two_sided_klein_curve():
    # z >= 0.9: a band around the top longitude; same type as a meridian, named apart
    net = _one_layer([[0, 0, -1], [1, 0, 0]], [0.9, 5.0])
    row = pr.classify(net, pr.torus(16, 8))
    assert row["betti"] == (0, 1, 1) and row["components"] == ["longitude"]
    # the meridian band on the Klein bottle (same first two coordinates as the torus):
    # a two-sided curve whose class is the Z/2 torsion, invisible to the Z/11 image rank
    W = [[0, 1, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [-1, 0, 0, 0]]
    row = pr.classify(_one_layer(W, [-0.2, -0.2, 5.0, 0.0]), pr.klein_bottle(16, 8))
    assert row["matched"] and row["betti"] == (0, 1, 1) and not row["torsion"]
    assert row["components"][0].startswith("two-sided curve")
    assert row["pieces"] == "1 " + row["components"][0]


def test_classify_on_the_sphere_and_unglued():
    # a cap glued on the sphere: S^2 / disk = S^2
    row = pr.classify(_one_layer([[-1, 0, 0], [0, 0, 1]], [0.8, 5.0]), pr.sphere(80, seed=0))
    assert row["matched"] and row["betti"] == (0, 0, 1) and row["components"] == ["contractible"]
    # a full-rank network glues nothing: the quotient is X itself, the row of a disk
    row = pr.classify(_one_layer(np.eye(3), [5.0, 5.0, 5.0]), pr.torus(12, 6))
    assert row["n_glued"] == 0 and row["betti"] == (0, 2, 1) and row["components"] == []


# ---------------------------------------------------------------------- genus 2
def test_double_torus_mesh():
    K = pr.double_torus(6, 4)
    assert K.is_closed_surface() and K.euler_characteristic() == -2
    assert pr.betti(K) == [1, 4, 1] and pr.betti(K, field=2) == [1, 4, 1]


@pytest.mark.slow
def test_double_torus_table():
    df = pr.classifying_space(pr.double_torus(8, 6), max_pieces=2)
    b = set(df["betti"])
    # a disk, a nonseparating curve, two curves crossing once, the whole surface
    assert {(0, 4, 1), (0, 3, 1), (0, 2, 1), (0, 0, 0)} <= b
    assert not df["torsion"].any()


# ---------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="max_pieces"):
        pr.classifying_space(pr.torus(6, 4), max_pieces=0)
    with pytest.raises(ValueError, match="closed surface"):
        pr.classifying_space(pr.disk(6, rings=2))
    with pytest.raises(ValueError, match="closed curve"):
        pr.classifying_space(pr.interval(5))
    with pytest.raises(ValueError, match="generators"):
        pr.classifying_space(pr.torus(6, 4), generators=("arcs",))
    with pytest.raises(ValueError, match="field"):
        pr.classifying_space(pr.circle(6), field=4)
    with pytest.raises(ValueError, match="curve_bound"):
        pr.classifying_space(pr.circle(6), curve_bound=0)
    with pytest.raises(TypeError, match="SimplicialComplex"):
        pr.classifying_space([(0, 1), (1, 2), (2, 0)])
    with pytest.raises(ValueError, match="connected"):             # two tori
        T = pr.torus(4, 4)
        pr.classifying_space(pr.SimplicialComplex(np.r_[T.vertices, T.vertices + 9],
                                                  np.r_[T.simplices, T.simplices + 16]))
    with pytest.raises(ValueError, match="'m' parameter of double_torus"):
        pr.double_torus(6, 2)


@pytest.mark.slow
def test_docs_tables_are_current():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable, str(root / "docs" / "make_classifying.py"), "--check"],
                          cwd=root, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
