"""Tests of polyrank.analysis: handmade networks whose low-rank parts are known, so the
quotient Betti numbers are the theory's (``docs/theory.md``, appendix 7.2 of the paper)."""

import functools

import numpy as np
import pytest

import polyrank as pr
from polyrank.cli import main
from polyrank.train import mlp

# the exact homology of f(X) has its own tests (tests/test_image.py); these are about the rest
_analyze = functools.partial(pr.analyze, image=False)

R_TORUS, r_TORUS = 2.0, 1.0


def one_layer(rows, offsets):
    """Units ReLU(n_i . x + c_i)."""
    return pr.ReLUNetwork.from_weights([np.asarray(rows, float)], [np.asarray(offsets, float)])


def polygon_net(k, inradius):
    """k units, dead exactly inside the regular k-gon of the given inradius (k >= 3);
    k = 2: the slab |y| <= inradius; k = 1: the half-plane x <= inradius."""
    if k == 1:
        return one_layer([[1.0, 0.0]], [-inradius])
    if k == 2:
        return one_layer([[0.0, 1.0], [0.0, -1.0]], [-inradius, -inradius])
    t = 2 * np.pi * (np.arange(k) + 0.5) / k  # side normals between the arcs' directions
    return one_layer(np.stack([np.cos(t), np.sin(t)], 1), np.full(k, -inradius))


def k_arc_inradius(k):
    # the circle of radius 1 pokes out of every side but not out of the corners
    return 0.5 * (1.0 + np.cos(np.pi / k)) if k >= 3 else 0.6


def midpoint_subdivide(K):
    V, S = np.asarray(K.vertices), np.asarray(K.simplices)
    E = np.sort(np.concatenate([S[:, [0, 1]], S[:, [1, 2]], S[:, [0, 2]]]), axis=1)
    uE, inv = np.unique(E, axis=0, return_inverse=True)
    ab, bc, ac = (V.shape[0] + inv.ravel()).reshape(3, -1)
    a, b, c = S.T
    S2 = np.concatenate([np.stack(x, 1) for x in ([a, ab, ac], [ab, b, bc], [ac, bc, c], [ab, bc, ac])])
    return pr.SimplicialComplex(np.concatenate([V, V[uE].mean(1)]), S2)


# ---------------------------------------------------------------------------- circles
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_circle_with_k_arcs_in_one_rank0_region_is_a_wedge_of_k_circles(k):
    net = polygon_net(k, k_arc_inradius(k))
    rep = _analyze(net, pr.circle(60), threshold=1, glue_rank=0)
    assert rep.n_rank0_pieces == 1 and rep.n_components_A == k
    assert rep.betti_quotient == [0, k]
    assert rep.betti_relative == [0, k]
    assert rep.betti_X == [1, 1] and rep.betti_A == [k, 0]
    # each arc glued to its own point: still a circle
    rep = _analyze(net, pr.circle(60), threshold=1, glue_rank=0, glue="component")
    assert len(rep.pieces) == k and rep.betti_quotient == [0, 1]


def test_result_does_not_depend_on_circle_resolution():
    net = polygon_net(3, k_arc_inradius(3))
    reps = [_analyze(net, pr.circle(n), threshold=1, glue_rank=0) for n in (7, 30, 301)]
    assert {tuple(r.betti_quotient) for r in reps} == {(0, 3)}
    lengths = [r.rank_histogram[0][1] for r in reps]
    # the rank-0 length of the polygon approximating the circle converges; the pieces' total is exact
    assert all(r.rank_histogram[0][1] + sum(m for rk, (_, m) in r.rank_histogram.items() if rk)
               == pytest.approx(r.refinement.measures().sum()) for r in reps)
    assert lengths[2] == pytest.approx(lengths[1], rel=0.05)


# ---------------------------------------------------------------------------- torus
def torus():
    return pr.torus(24, 12, R=R_TORUS, r=r_TORUS)


def test_torus_disk_meridian_and_parallel_meridians():
    d = 0.3
    K = torus()
    # a small cube around the point (R + r, 0, 0): A is a disk
    cube = one_layer(np.concatenate([np.eye(3), -np.eye(3)]),
                     np.concatenate([-np.array([R_TORUS + r_TORUS, 0, 0]) - d,
                                     np.array([R_TORUS + r_TORUS, 0, 0]) - d]))
    assert _analyze(cube, K, threshold=1, glue_rank=0).betti_quotient == [0, 2, 1]
    # the slab |y| <= d on the side x >= 0: a band around one meridian
    band = one_layer([[0, 1, 0], [0, -1, 0], [-1, 0, 0]], [-d, -d, 0.0])
    rep = _analyze(band, K, threshold=1, glue_rank=0)
    assert rep.betti_quotient == [0, 1, 1] and rep.betti_relative == [0, 1, 1]
    assert rep.betti_A == [1, 1, 0]
    # the whole slab |y| <= d: two parallel meridians in ONE rank-0 region
    slab = one_layer([[0, 1, 0], [0, -1, 0]], [-d, -d])
    rep = _analyze(slab, K, threshold=1, glue_rank=0)
    assert rep.betti_quotient == [0, 2, 2] and rep.n_rank0_pieces == 1
    rep = _analyze(slab, K, threshold=1, glue_rank=0, glue="component")
    assert rep.betti_quotient == [0, 1, 2] and len(rep.pieces) == 2


def test_torus_meridian_union_longitude():
    # rank 0 at layer 3 exactly on {s <= eps} U {t <= eps} with s = ReLU(y-d)+ReLU(-y-d)+ReLU(-x)
    # (meridian band) and t = ReLU(r - d - z) (band around the top longitude): min(s, t) - eps.
    d, eps = 0.3, 0.05
    W1 = [[0, 1, 0], [0, -1, 0], [-1, 0, 0], [0, 0, -1]]
    b1 = [-d, -d, 0.0, r_TORUS - d]
    W2 = [[1, 1, 1, 0], [1, 1, 1, -1]]  # s, ReLU(s - t)
    W3 = [[1, -1]]                      # s - ReLU(s - t) = min(s, t)
    net = pr.ReLUNetwork.from_weights([W1, W2, W3], [b1, [0.0, 0.0], [-eps]])
    rep = _analyze(net, torus(), threshold=1, glue_rank=0)
    assert rep.n_rank0_pieces == 1
    assert rep.betti_quotient == [0, 0, 1]


def test_torus_rank_one_pieces_are_glued_per_component():
    # one unit ReLU(x): rank <= 1 everywhere, so everything is glued: a point
    net = one_layer([[1.0, 0.0, 0.0]], [0.0])
    rep = _analyze(net, torus())
    assert rep.threshold == 3 and rep.low_rank.all()
    assert rep.betti_relative == [0, 0, 0] and rep.betti_quotient == [0, 0, 0]
    assert rep.n_rank0_pieces == 1 and len(rep.pieces) == 1


# ---------------------------------------------------------------------------- sphere
def two_caps_net(h=0.5, M=20.0):
    # layer 1: a1 = ReLU(z - h), a2 = ReLU(-z - h), a3 = ReLU(x + 2), a4 = ReLU(y + 2);
    # layer 2: u1 = ReLU(a3 + 3 - M (a1 + a2)), u2 = ReLU(a4 + 3 - M (a1 + a2)).
    W1 = [[0, 0, 1], [0, 0, -1], [1, 0, 0], [0, 1, 0]]
    b1 = [-h, -h, 2.0, 2.0]
    W2 = [[-M, -M, 1, 0], [-M, -M, 0, 1]]
    return pr.ReLUNetwork.from_weights([W1, W2], [b1, [3.0, 3.0]])


def test_sphere_two_caps_cells_versus_image_points():
    K = pr.sphere(400, seed=0)
    net = two_caps_net()
    rep = _analyze(net, K, threshold=1, glue_rank=0)
    assert rep.betti_X == [1, 0, 1] and rep.betti_A == [2, 0, 0]
    # two rank-0 cells (different regions) -> two points
    assert rep.n_rank0_pieces == 2 and rep.betti_quotient == [0, 0, 1]
    # both caps map to the same point h_2 = 0 -> one point
    rep = _analyze(net, K, threshold=1, glue_rank=0, glue="image")
    assert rep.n_rank0_pieces == 1 and rep.betti_quotient == [0, 1, 1]
    assert rep.betti_relative == [0, 1, 1]


# ---------------------------------------------------------------------------- general properties
def test_klein_bottle_threshold_and_homology():
    K = pr.klein_bottle(12, 6)
    net = pr.ReLUNetwork.from_torch(mlp(4, [6], seed=0))
    rep = _analyze(net, K)
    assert rep.threshold == 4 == pr.minimal_embedding_dim(K)
    assert rep.betti_X == [1, 1, 0]  # over Z/11
    assert _analyze(net, K, field=2).betti_X == [1, 2, 1]


def test_minimal_embedding_dim():
    assert pr.minimal_embedding_dim(pr.circle(5)) == 2
    assert pr.minimal_embedding_dim(pr.torus(4, 4)) == 3
    assert pr.minimal_embedding_dim(pr.sphere(10, seed=0)) == 3
    assert pr.minimal_embedding_dim(pr.klein_bottle(5, 4)) == 4
    assert pr.minimal_embedding_dim(pr.projective_plane()) == 4


def test_report_is_invariant_under_mesh_subdivision(global_random_seed):
    net = pr.ReLUNetwork.from_torch(mlp(3, [6, 6], seed=global_random_seed))
    K = pr.embed(pr.torus(10, 6), 3, seed=global_random_seed)
    a, b = _analyze(net, K), _analyze(net, midpoint_subdivide(K))
    assert a.n_regions == b.n_regions
    for f in ("betti_X", "betti_A", "betti_relative", "betti_quotient", "n_rank0_pieces", "n_rank1_pieces"):
        assert getattr(a, f) == getattr(b, f), f
    for r, (_, m) in a.rank_histogram.items():
        assert b.rank_histogram[r][1] == pytest.approx(m, rel=1e-8)


def test_frame_and_histograms_add_up(global_random_seed):
    net = pr.ReLUNetwork.from_torch(mlp(3, [8, 8], seed=global_random_seed))
    K = pr.embed(pr.torus(12, 6), 3, seed=global_random_seed)
    rep = _analyze(net, K)
    df = rep.to_frame()
    area = pr.intersect.simplex_measures(K.vertices, K.simplices).sum()
    assert df["measure"].sum() == pytest.approx(area, rel=1e-9)
    assert len(df) == rep.n_regions and df["n_pieces"].sum() == len(rep.refinement)
    for r, (n, m) in rep.rank_histogram.items():
        assert df.loc[df["rank"] == r, "measure"].sum() == pytest.approx(m)
    assert (df["min_tangent_rank"] <= df["max_tangent_rank"]).all()
    assert (df["max_tangent_rank"] <= np.minimum(df["rank"], 2)).all()
    # codeword sizes agree with the forward pass at the pieces' barycentres
    ref = rep.refinement
    X = ref.complex.vertices[ref.complex.simplices].mean(1)
    sizes = net.patterns(X)[-1].sum(1)
    assert np.array_equal(df["codeword_size"].to_numpy()[ref.region], sizes)
    text = rep.summary()
    assert "X/{A_i}" in text and str(rep.n_regions) in text


def test_image_betti_of_identity_like_network():
    # ReLU(x + 5), ReLU(y + 5) is a translation on the circle of radius 2: the image is a circle
    net = one_layer(np.eye(2), [5.0, 5.0])
    rep = _analyze(net, pr.circle(40, radius=2.0), scale=0.5)
    assert rep.betti_image == [1, 1] and rep.betti_quotient == [0, 1]


def test_plot_writes_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    net = pr.ReLUNetwork.from_torch(mlp(3, [4], seed=0))
    rep = _analyze(net, pr.torus(8, 4))
    fig = rep.plot(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0 and fig is not None


def test_cli_prints_the_table(capsys):
    assert main(["analyze", "--manifold", "circle", "--embed-dim", "3", "--widths", "5,5",
                 "--resolution", "16"]) == 0
    out = capsys.readouterr().out
    assert "circle in R^3 through 3-5-5" in out
    line = [ln for ln in out.splitlines() if ln.strip().startswith("X ")][0]
    assert line.split()[1:] == ["1", "1"]


def test_bad_inputs():
    net = one_layer([[1.0, 0.0]], [0.0])
    with pytest.raises(TypeError, match="SimplicialComplex"):
        _analyze(net, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="lives in R\\^3"):
        _analyze(net, pr.torus(4, 4))
    with pytest.raises(ValueError, match="'glue' parameter"):
        _analyze(net, pr.circle(5), glue="nearest")
    with pytest.raises(ValueError, match="'glue_rank' parameter"):
        _analyze(net, pr.circle(5), glue_rank=2)
    with pytest.raises(ValueError, match="'threshold' parameter"):
        _analyze(net, pr.circle(5), threshold=-1)
    with pytest.raises(ValueError, match="'scale' parameter"):
        _analyze(net, pr.circle(5), scale=-1.0)
    with pytest.raises(ValueError, match="'field' parameter"):
        _analyze(net, pr.circle(5), field=4)
    with pytest.raises(SystemExit):
        main(["analyze", "--manifold", "torus", "--embed-dim", "2"])


def test_analyze_reports_the_exact_image_homology_or_why_not(monkeypatch):
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [[0.5, 0.5]])
    K = pr.circle(32)
    rep = pr.analyze(net, K)
    assert rep.image.betti == pr.image_homology(net, K).betti
    assert "f(X)  (exact)" in rep.summary()
    # a budget too small: no number, a reason
    import sys

    monkeypatch.setattr(sys.modules["polyrank.analysis"], "ANALYZE_MAX_LPS", 1)
    band = one_layer([[0, 1, 0], [0, -1, 0], [-1, 0, 0]], [-0.3, -0.3, 0.0])  # folds a torus many times
    rep = pr.analyze(band, pr.torus(8, 4))
    assert rep.image is None and "max_lps" in rep.image_error and "not computed" in rep.summary()
