"""Decision boundaries and PL Morse data against hand-built truths (a diamond, two parallel
lines, an octahedron, a saddle), dense-grid flood fill of the predicted classes, the
Mayer-Vietoris and Euler relations, and the count of minima against H_0 births."""

import numpy as np
import pytest
from scipy import ndimage

import polyrank as pr

ABS = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]  # relu(+-x), relu(+-y)


def _abs_net(readout, bias):
    return pr.ReLUNetwork.from_weights([ABS], [np.zeros(4)], readout=([readout], [bias]))


def test_diamond_annulus():
    db = pr.decision_boundary(_abs_net([1.0, 1.0, 1.0, 1.0], -1.0), pr.Box(-2.0, 2.0, dim=2))
    assert db.betti == [1, 1]  # the diamond |x| + |y| = 1 is a circle
    assert db.region_betti == {0: [1, 0, 0], 1: [1, 1, 0]}  # a disk and an annulus
    P = db.pieces
    assert set(P.classes) == {(0, 1)}
    assert np.isclose(P.measure.sum(), 4 * np.sqrt(2.0))
    assert np.allclose(np.abs(P.c0) + np.abs(P.c1), 1.0)  # every piece lies on the diamond


def test_two_parallel_lines():
    # f = |x| - 1: zero set x = -1 and x = 1
    db = pr.decision_boundary(_abs_net([1.0, 1.0, 0.0, 0.0], -1.0), pr.Box(-2.0, 2.0, dim=2))
    assert db.betti == [2, 0]
    assert db.region_betti == {0: [1, 0, 0], 1: [2, 0, 0]}
    assert np.isclose(db.pieces.measure.sum(), 8.0)


def test_octahedron_in_3d():
    W = np.vstack([np.eye(3), -np.eye(3)])
    net = pr.ReLUNetwork.from_weights([W], [np.zeros(6)], readout=([np.ones(6)], [-1.0]))
    db = pr.decision_boundary(net, pr.Box(-2.0, 2.0, dim=3))
    assert db.betti == [1, 0, 1]  # a 2-sphere
    assert db.region_betti == {0: [1, 0, 0, 0], 1: [1, 0, 1, 0]}  # ball, box minus a ball
    assert np.isclose(db.pieces.measure.sum(), 8 * np.sqrt(3.0) / 2)  # 8 equilateral triangles, side sqrt 2


def test_argmax_of_three_outputs_by_hand():
    # f_0 = x, f_1 = -x, f_2 = 0.5: classes x > 0.5, x < -0.5, |x| < 0.5 (two parallel lines again)
    net = pr.ReLUNetwork.from_weights([ABS], [np.zeros(4)],
                                      readout=([[1.0, -1.0, 0, 0], [-1.0, 1.0, 0, 0], [0, 0, 0, 0]], [0, 0, 0.5]))
    db = pr.decision_boundary(net, pr.Box(-2.0, 2.0, dim=2))
    assert db.betti == [2, 0]
    assert db.region_betti == {0: [1, 0, 0], 1: [1, 0, 0], 2: [1, 0, 0]}
    assert sorted(set(db.pieces.classes)) == [(0, 2), (1, 2)]


def _grid_betti(mask, eight=True):
    """Betti numbers of a class region from a pixel mask: its components and its holes
    (components of the complement away from the border), with the two dual digital
    topologies: 8-connected region / 4-connected complement, or the other way round (a
    region thinner than a pixel, meeting itself at a corner, is ambiguous on a grid)."""
    full, cross = np.ones((3, 3)), ndimage.generate_binary_structure(2, 1)
    b0 = ndimage.label(mask, structure=full if eight else cross)[1]
    lab, n = ndimage.label(~mask, structure=cross if eight else full)
    border = set(np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))) - {0}
    return [b0, n - len(border), 0]


@pytest.mark.parametrize("n_out", [1, 3])
def test_random_classifiers_against_grid_flood_fill(n_out, global_random_seed):
    rng = np.random.default_rng(global_random_seed + 40 * n_out)
    for _ in range(3):
        net = pr.ReLUNetwork.from_weights([rng.normal(size=(6, 2)), rng.normal(size=(5, 6))],
                                          [rng.normal(size=6), rng.normal(size=5)],
                                          readout=(rng.normal(size=(n_out, 5)), rng.normal(size=n_out)))
        db = pr.decision_boundary(net, pr.Box(-2.0, 2.0, dim=2))
        g = np.linspace(-2.0, 2.0, 801)
        X = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
        F = net.forward(X)
        cls = (F[:, 0] > 0).astype(int) if n_out == 1 else F.argmax(axis=1)
        cls = cls.reshape(len(g), len(g))
        seen = {c for c in np.unique(cls)}
        assert set(db.region_betti) == seen
        for c in seen:
            assert db.region_betti[c] in (_grid_betti(cls == c), _grid_betti(cls == c, eight=False)), c
        if n_out == 1 and len(seen) == 2:
            # Mayer-Vietoris: the two closed classes cover the box and meet in the boundary
            chi = lambda b: sum((-1) ** i * x for i, x in enumerate(b))  # noqa: E731
            assert chi(db.betti) == chi(db.region_betti[0]) + chi(db.region_betti[1]) - 1


def test_plot_2d(tmp_path):
    db = pr.decision_boundary(_abs_net([1.0, 1.0, 1.0, 1.0], -1.0), pr.Box(-2.0, 2.0, dim=2))
    ax = db.plot()
    ax.figure.savefig(tmp_path / "db.png")
    assert (tmp_path / "db.png").stat().st_size > 0


def test_decision_bad_input():
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match="read-out"):
        pr.decision_boundary(net, pr.Box(-1.0, 1.0, dim=2))
    with pytest.raises(ValueError, match="read-out"):
        pr.morse_data(net, pr.Box(-1.0, 1.0, dim=2))
    ro = _abs_net([1.0, 1.0, 1.0, 1.0], -1.0)
    with pytest.raises(ValueError, match="bounded domain"):
        pr.decision_boundary(ro, None)
    with pytest.raises(ValueError, match="prime"):
        pr.decision_boundary(ro, pr.Box(-1.0, 1.0, dim=2), field=4)
    with pytest.raises(ValueError, match=r"'output'.*0..0.*got 1"):
        pr.morse_data(ro, pr.Box(-1.0, 1.0, dim=2), output=1)
    W = np.vstack([np.eye(3), -np.eye(3)])
    net3 = pr.ReLUNetwork.from_weights([W], [np.zeros(6)], readout=([np.ones(6)], [-1.0]))
    with pytest.raises(ValueError, match="2-D"):
        pr.decision_boundary(net3, pr.Box(-2.0, 2.0, dim=3)).plot()


# ----------------------------------------------------------------------------- Morse
def test_morse_minimum_and_saddle_by_hand():
    box = pr.Box(-1.0, 1.0, dim=2)
    df = pr.morse_data(_abs_net([1.0, 1.0, 1.0, 1.0], 0.0), box)  # |x| + |y|
    assert len(df) == 1 and df.loc[0, ["x0", "x1", "value", "index"]].tolist() == [0, 0, 0, 0]
    assert df.attrs["diagram"] == [(0, (0.0, float("inf")))]
    df = pr.morse_data(_abs_net([1.0, 1.0, -1.0, -1.0], 0.0), box)  # |x| - |y|
    inner = df[df.interior]
    assert inner[["x0", "x1", "index"]].values.tolist() == [[0.0, 0.0, 1.0]]
    assert inner.lower_link_betti.item() == (1, 0)  # reduced: two points, an S^0
    # -(|x| + |y|) on a box: minima at the 4 corners, whose sublevel pieces meet at the 4
    # edge midpoints (index 1: 3 merges and the loop around the centre), a maximum at the
    # origin (index 2) that fills the loop
    df = pr.morse_data(_abs_net([-1.0, -1.0, -1.0, -1.0], 0.0), box)
    assert df[df.interior]["index"].tolist() == [2]
    assert sorted(df[~df.interior]["index"].tolist()) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert df.loc[df.interior, "kills_dim"].item() == 1
    assert sorted(b for dim, (b, e) in df.attrs["diagram"] if dim == 1) == [-1.0]


@pytest.mark.parametrize("d", [2, 3])
def test_morse_relations_on_random_networks(d, global_random_seed):
    rng = np.random.default_rng(global_random_seed + 90 + d)
    net = pr.ReLUNetwork.from_weights([rng.normal(size=(6, d)), rng.normal(size=(5, 6))],
                                      [rng.normal(size=6), rng.normal(size=5)],
                                      readout=(rng.normal(size=(2, 5)), rng.normal(size=2)))
    df = pr.morse_data(net, pr.Box(-1.0, 1.0, dim=d), output=1)

    def contribution(b):  # 1 - chi(lower link) = -(reduced Euler characteristic)
        return 1 if b == () else -sum((-1) ** i * x for i, x in enumerate(b))

    assert sum(contribution(b) for b in df.lower_link_betti) == 1  # the Euler characteristic of a box
    diag = df.attrs["diagram"]
    assert sum(1 for dim, _ in diag if dim == 0) == (df["index"] == 0).sum()  # minima = H_0 births
    assert [dim for dim, (b, e) in diag if e == np.inf] == [0]  # a box: one essential class
    g = np.linspace(-1.0, 1.0, 41)
    X = np.stack(np.meshgrid(*[g] * d, indexing="ij"), axis=-1).reshape(-1, d)
    fmin = net.forward(X)[:, 1].min()
    assert df.value.min() <= fmin + 1e-12  # the global minimum is a critical vertex
    for _, r in df.iterrows():  # a critical vertex's value is the output there
        assert np.isclose(r.value, net.forward(np.array([[r[f"x{j}"] for j in range(d)]]))[0, 1])


@pytest.mark.parametrize("d", [2, 3])
def test_morse_over_all_of_Rd_equals_a_box_holding_every_vertex(d, global_random_seed):
    """Over all of R^d (the complex cut by its box) the interior critical vertices are
    those found over a box holding every vertex (an independent enumeration; values tied
    with another vertex's left out), and the lower-link contributions still sum to 1
    (the cut complex is a ball)."""
    rng = np.random.default_rng(global_random_seed + 95 + d)
    net = pr.ReLUNetwork.from_weights([rng.normal(size=(5, d)), rng.normal(size=(4, 5))],
                                      [rng.normal(size=5), rng.normal(size=4)],
                                      readout=(rng.normal(size=(1, 4)), rng.normal(size=1)))
    whole = pr.morse_data(net, None)
    K = pr.enumerate_regions(net, None).complex()
    R = 1.5 * float(np.abs(K.vertices).max()) + 1.0
    boxed = pr.morse_data(net, pr.Box(-R, R, dim=d))
    # on a region where f is constant, ties are broken by vertex order, which the box's own
    # vertices (different in the two complexes) take part in: leave tied values out
    Kb = pr.enumerate_regions(net, pr.Box(-R, R, dim=d)).complex()
    vals = np.concatenate([net.forward(K.truncated().vertices)[:, 0], net.forward(Kb.vertices)[:, 0]])

    def interior(df):
        alone = np.array([np.isclose(vals, v, rtol=0.0, atol=1e-9).sum() <= 2 for v in df.value], dtype=bool)
        sel = df.interior.to_numpy() & alone
        X = df.loc[sel, [f"x{j}" for j in range(d)]].to_numpy()
        return sorted(zip(map(tuple, np.round(X, 6)), df.loc[sel, "index"]))

    assert interior(whole) == interior(boxed)
    contrib = [1 if b == () else -sum((-1) ** i * x for i, x in enumerate(b)) for b in whole.lower_link_betti]
    assert sum(contrib) == 1


@pytest.mark.parametrize("d", [1, 2, 3])
def test_fast_lower_links_equal_gudhi(d, global_random_seed):
    """The vectorised lower-link homology (d <= 3) against one GUDHI complex per vertex."""
    from polyrank.decision import _lower_link_betti_fast, _lower_link_betti_gudhi

    rng = np.random.default_rng(global_random_seed + 70 + d)
    net = pr.ReLUNetwork.from_weights([rng.normal(size=(6, d)), rng.normal(size=(4, 6))],
                                      [rng.normal(size=6), rng.normal(size=4)])
    K = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=d)).complex()
    for values in (rng.normal(size=len(K.vertices)), net.forward(K.vertices)[:, 0]):
        order = np.lexsort((np.arange(len(values)), values))
        rank = np.empty(len(values), dtype=np.int64)
        rank[order] = np.arange(len(values))
        st = K.simplex_tree(values=rank.astype(float))
        interior = ~K.on_domain[0].any(axis=1)
        assert _lower_link_betti_fast(K, rank, interior) == _lower_link_betti_gudhi(st, rank, d, 11)
