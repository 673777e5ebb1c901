"""Tests of polyrank.experiments.flow (the topological flow of Naitzat et al., exactly).

Oracles: Betti numbers of the class manifolds from theory (and GUDHI on the meshes), areas
and linking of the meshed geometry by hand, classifiers trained by others on the original
data (they must classify our meshes), a Rips complex where its scale is well below the
feature size, monotonicity of b_0 under continuous maps, and pr.topology_flow on the same
mesh for the line shortcut (two exact routes).
"""

import math

import numpy as np
import pandas as pd
import pytest

import polyrank as pr
from conftest import random_net, segment_graph_betti
from polyrank.cli import main
from polyrank.data import NAITZAT_FAMILIES, load_naitzat_model
from polyrank.experiments import flow

QUICK = flow.QUICK_SPACING


@pytest.fixture(scope="module")
def quick():
    # the quick settings with a tiny training budget: the flow is exact whatever the accuracy
    return flow.run(quick=True, n_train=300, epochs=2, device="cpu", rips_sample=600)


# ---------------------------------------------------------------------------- meshes
@pytest.mark.parametrize("dataset", flow.DATASETS)
@pytest.mark.parametrize("label", flow.LABELS)
def test_class_manifolds_have_the_betti_numbers_of_theory(dataset, label):
    theory = {("D-I", 0): (1, 9, 0), ("D-I", 1): (9, 0, 0), ("D-II", 0): (9, 9), ("D-II", 1): (9, 9),
              ("D-III", 0): (9, 0, 9), ("D-III", 1): (18, 0, 18)}[(dataset, label)]
    assert flow.theory_betti(dataset, label) == theory
    for spacing in (QUICK, None):
        K = flow.class_manifold(dataset, label, spacing=spacing)
        b = tuple(pr.betti(K)) + (0,) * 3
        assert b[:len(theory)] == theory
        assert K.ambient_dim == (2 if dataset == "D-I" else 3)


def test_tori_of_d2():
    K = flow.class_manifold("D-II", 0, spacing=0.08, rings="torus")
    assert tuple(pr.betti(K)) == (9, 18, 9) == flow.theory_betti("D-II", 0, rings="torus")
    assert K.is_closed_surface()


def test_d1_areas_by_hand():
    # the square minus nine inscribed k-gons, and nine disks made of n-gon fans
    K0 = flow.class_manifold("D-I", 0, spacing=1.0)
    K1 = flow.class_manifold("D-I", 1, spacing=1.0)

    def area(K):
        E = K.vertices[K.simplices[:, 1:]] - K.vertices[K.simplices[:, :1]]
        return float(np.abs(E[:, 0, 0] * E[:, 1, 1] - E[:, 0, 1] * E[:, 1, 0]).sum() / 2)

    k = max(6, math.ceil(2 * math.pi * flow.DI_HOLE_RADIUS / 1.0))
    hole = k / 2 * flow.DI_HOLE_RADIUS ** 2 * math.sin(2 * math.pi / k)
    assert area(K0) == pytest.approx(20.0 ** 2 - 9 * hole, rel=1e-12)
    n = max(6, math.ceil(2 * math.pi * flow.DI_DISK_RADIUS / 1.0))
    assert area(K1) == pytest.approx(9 * n / 2 * flow.DI_DISK_RADIUS ** 2 * math.sin(2 * math.pi / n), rel=1e-12)


def test_d2_rings_are_linked_pairwise():
    # every xy-ring's flat disk is pierced exactly once by the xz-ring of its site, and by no other ring
    K0, K1 = (flow.class_manifold("D-II", lab, spacing=0.03) for lab in flow.LABELS)
    polys = []
    for K in (K0, K1):
        for comp in K.components():
            S = K.simplices[comp]
            order = [int(S[0, 0])]
            nxt = {int(a): int(b) for a, b in S}
            while nxt[order[-1]] != order[0]:
                order.append(nxt[order[-1]])
            polys.append(K.vertices[order])
    flat_xy = [P for P in polys if np.ptp(P[:, 2]) < 1e-12]
    flat_xz = [P for P in polys if np.ptp(P[:, 1]) < 1e-12]
    assert len(flat_xy) == len(flat_xz) == 9

    def piercings(disk, ring):
        c, z = disk.mean(0), disk[0, 2]
        a, b = ring, np.roll(ring, -1, axis=0)
        cross = (a[:, 2] > z) != (b[:, 2] > z)  # half-open: a vertex on the plane counts once
        t = (z - a[cross, 2]) / (b[cross, 2] - a[cross, 2])
        hit = a[cross] + t[:, None] * (b[cross] - a[cross])
        return int((np.linalg.norm(hit[:, :2] - c[:2], axis=1) < flow.DII_RING_RADIUS * 0.99).sum())

    M = np.array([[piercings(d, r) for r in flat_xz] for d in flat_xy])
    assert sorted(M.sum(0).tolist()) == [1] * 9 and (M.sum(1) == 1).all()


def test_d3_spheres_by_radius():
    for label in flow.LABELS:
        K = flow.class_manifold("D-III", label, spacing=0.1)
        C = np.asarray(flow.DIII_SITES)
        d = np.linalg.norm(K.vertices[:, None] - C[None], axis=-1).min(1)
        assert np.allclose(np.sort(np.unique(np.round(d, 9))), flow.DIII_RADII[label])


def test_follow_up_models_classify_our_meshes():
    # models trained by others on their own data: the meshes are the class manifolds of that data
    for fam, (dataset, d, widths) in NAITZAT_FAMILIES.items():
        net = load_naitzat_model(fam)
        assert (net.input_dim, net.widths, net.output_dim) == (d, widths, 2)
        for label in flow.LABELS:
            K = flow.class_manifold(dataset, label, spacing=QUICK)
            acc = float(np.mean(net.forward(K.vertices).argmax(1) == label))
            assert acc >= 0.9, (fam, label, acc)  # vertices on the boundary circles sit in the unlabelled gap
        X, y = flow.sample(dataset, 2000, seed=3)
        assert float(np.mean(net.forward(X).argmax(1) == y)) >= 0.95, fam


def test_sample_lies_on_the_manifolds():
    X, y = flow.sample("D-I", 3000, seed=1)
    d = np.linalg.norm(X[:, None].astype(float) - np.asarray(flow.DI_CENTERS)[None], axis=-1).min(1)
    assert (d[y == 1] <= flow.DI_DISK_RADIUS + 1e-6).all() and (d[y == 0] >= flow.DI_HOLE_RADIUS - 1e-6).all()
    assert (np.abs(X) <= flow.DI_HALF_WIDTH).all() and 0 < y.mean() < 0.5
    X, y = flow.sample("D-III", 2700, seed=1)
    d = np.linalg.norm(X[:, None].astype(float) - np.asarray(flow.DIII_SITES)[None], axis=-1).min(1)
    assert (np.abs(d[y == 0] - 0.2) <= flow.DIII_SHELL + 1e-6).all()
    assert np.bincount(y).tolist() == [900, 1800]


# ---------------------------------------------------------------------------- the quick run
def test_quick_run_layer0_is_theory_and_b0_never_grows(quick):
    T = quick["table"]
    assert set(T["dataset"]) == set(flow.DATASETS) and set(T["label"]) == {0, 1}
    for (ds, net, label), sub in T.groupby(["dataset", "network", "label"]):
        sub = sub.sort_values("layer")
        theory = flow.theory_betti(ds, label)
        assert sub["layer"].tolist() == [0, 1, 2, 3]
        row0 = sub.iloc[0]
        assert tuple(int(row0[f"b{k}"]) for k in range(len(theory))) == theory
        b0 = sub.loc[sub.status == "exact", "b0"].astype(int).tolist()
        # the image of a space with c components has at most c, layer after layer (f_{l+1} = g o f_l)
        assert all(a >= b for a, b in zip(b0, b0[1:])), (ds, label, b0)
        assert (sub["accuracy"].between(0, 1)).all()


def test_quick_run_rips_agrees_where_its_scale_is_below_the_features(quick):
    T = quick["table"]
    rows = T[T.layer == 0]
    checked = 0
    for _, r in rows.iterrows():
        if r["rips_scale"] < 0.3 * flow.FEATURE_SIZE[(r["dataset"], r["label"])]:
            q = 2 if r["dataset"] != "D-II" else 1
            assert [int(r[f"b{k}"]) for k in range(q + 1)] == [int(r[f"rips_b{k}"]) for k in range(q + 1)]
            checked += 1
    assert checked >= 3


def test_plot(quick, tmp_path):
    path = tmp_path / "flow.png"
    fig = flow.plot(quick, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 2 * len(flow.DATASETS)
    with pytest.raises(ValueError, match="results must be"):
        flow.plot({"x": 1})
    text = flow.summary(quick)
    assert text.count("layer 0: exact") == 2 * len(flow.DATASETS)


# ---------------------------------------------------------------------------- an independent oracle for curves
def _curve_oracle(net, K, layer):
    ref = pr.refine(net, K, layer=layer)
    Y = net.forward(ref.complex.vertices, layer=layer)
    size = float(np.ptp(Y, axis=0).max())
    S = ref.complex.simplices
    return segment_graph_betti(Y[S[:, 0]], Y[S[:, 1]], 1e-9 * size)


def test_curve_images_agree_with_the_segment_graph(quick):
    T = quick["table"]
    net = quick["nets"][T.loc[T.dataset == "D-II", "network"].iloc[0]]
    for label in flow.LABELS:
        K = flow.class_manifold("D-II", label, spacing=QUICK)
        sub = T[(T.dataset == "D-II") & (T.label == label) & (T.status == "exact")]
        for _, r in sub[sub.layer > 0].iterrows():
            assert _curve_oracle(net, K, int(r["layer"])) == (int(r["b0"]), int(r["b1"]))


# ---------------------------------------------------------------------------- the line shortcut
def _three_circles():
    parts = []
    for cx in (-3.0, 0.0, 3.0):
        C = pr.circle(8)
        parts.append((C.vertices + [cx, 0.0], C.simplices))
    V = np.concatenate([P for P, _ in parts])
    S = np.concatenate([T + 8 * i for i, (_, T) in enumerate(parts)])
    return pr.SimplicialComplex(V, S)


def _betti_rows(df, q):
    return [tuple(int(r[f"b{k}"]) for k in range(q + 1)) for _, r in df.sort_values("layer").iterrows()]


def test_line_shortcut_matches_topology_flow_by_hand():
    # layer 1: injective on |x| <= 4; layer 2: relu(x): the left circle -> the point 0, the middle one
    # -> [0, 1], the right one -> [2, 4]: two intervals; layer 3 maps that union into R^3
    K = _three_circles()
    rng = np.random.default_rng(5)
    net = pr.ReLUNetwork.from_weights([[[1.0, 0], [0, 1], [-1, 0]], [[1.0, 0, 0]], rng.normal(size=(3, 1))],
                                      [[5.0, 5, 5], [-5.0], rng.normal(size=3)])
    fast = flow.layer_flow(net, K, rips_sample=200)
    ref = pr.topology_flow(net, K)
    assert _betti_rows(fast, 1) == [tuple(r) for r in ref[["b0", "b1"]].values.tolist()]
    assert _betti_rows(fast, 1)[:3] == [(3, 3), (3, 3), (2, 0)]
    assert fast["method"].tolist()[:3] == ["mesh", "image_homology", "line"]
    assert fast["method"].iloc[3] in ("line (via layer 2)", "via layer 2")


@pytest.mark.parametrize("seed", range(2))
def test_line_shortcut_matches_topology_flow_on_random_bottlenecks(seed):
    rng = np.random.default_rng(seed)
    net = random_net(rng, 2, [5, 1, 4, 3])
    K = _three_circles()
    fast = flow.layer_flow(net, K, rips_sample=200)
    slow = flow.layer_flow(net, K, rips_sample=200, collapse=False)
    assert (slow["method"].iloc[1:] == "image_homology").all()
    assert _betti_rows(fast, 1) == _betti_rows(slow, 1)
    assert "line" in fast["method"].iloc[2]


# ---------------------------------------------------------------------------- refusals, limits, errors
def _fold():
    return pr.ReLUNetwork.from_weights([[[1.0, 0], [-1, 0], [0, 1], [0, -1]], [[1.0, 1, 0, 0], [0, 0, 1, -1]]],
                                       [np.zeros(4), [0.0, 10.0]])


def test_budget_refusal_is_a_row_not_a_crash():
    K = pr.circle(24)
    df = flow.layer_flow(_fold(), K, max_candidates=1, rips_sample=100)
    last = df.iloc[-1]
    assert last["status"] == "refused" and pd.isna(last["b0"]) and "max_candidates=1" in last["note"]
    assert int(last["rips_b0"]) == 1  # the Rips estimate is still there
    ok = flow.layer_flow(_fold(), K, rips_sample=100)
    assert _betti_rows(ok, 1) == [(1, 1), (1, 1), (1, 0)]  # the circle folded onto an arc


def test_time_limit_is_a_row_and_restores_the_signal(monkeypatch):
    import signal

    def spin(*args, **kwargs):  # an image_homology that never ends: only the CPU-time limit stops it
        while True:
            pass

    before = signal.getsignal(signal.SIGPROF)
    monkeypatch.setattr(pr.image, "image_homology", spin)
    timed = flow.layer_flow(_fold(), pr.circle(24), time_limit=0.05, rips_sample=100)
    assert (timed["status"].iloc[1:] == "time limit").all() and timed["b1"].iloc[1:].isna().all()
    assert timed["b1"].iloc[0] == 1 and "0.05 CPU s" in timed["note"].iloc[1]
    assert signal.getsignal(signal.SIGPROF) is before and signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="'dataset'"):
        flow.class_manifold("D-IV", 0)
    with pytest.raises(ValueError, match="'label'"):
        flow.class_manifold("D-I", 2)
    with pytest.raises(ValueError, match="'rings'"):
        flow.class_manifold("D-II", 0, rings="knot")
    with pytest.raises(ValueError, match="spacing"):
        flow.class_manifold("D-I", 0, spacing=-1.0)
    with pytest.raises(ValueError, match="'family'"):
        load_naitzat_model("D-IV")
    with pytest.raises(TypeError, match="'K'"):
        flow.layer_flow(_fold(), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="'K'"):
        flow.layer_flow(_fold(), flow.class_manifold("D-II", 0, spacing=0.2))
    with pytest.raises(ValueError, match="'layers'"):
        flow.layer_flow(_fold(), pr.circle(8), layers=[5])
    with pytest.raises(ValueError, match="'sources'"):
        flow.run(["D-I"], sources=["mine"])
    with pytest.raises(ValueError, match="'families'"):
        flow.run(["D-I"], sources=["naitzat"], families=["D-V"])


def test_cli_writes_figure_and_table(tmp_path, capsys):
    assert main(["reproduce", "flow", "--quick", "--datasets", "D-II", "--epochs", "1", "--n-train", "200",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    T = pd.read_csv(tmp_path / "flow.csv")
    assert len(T) == 2 * 4 and set(T["label"]) == {0, 1}
    assert T.loc[T.layer == 0, ["b0", "b1"]].values.tolist() == [[9, 9], [9, 9]]
    out = capsys.readouterr().out
    assert "wrote" in out and "D-II class 0 (9, 9)" in out


@pytest.mark.slow
def test_d2_class_through_the_follow_up_model_all_layers():
    """The issue's performance case: one class of D-II through a trained 15 x 9 model."""
    net = load_naitzat_model("D-II")
    K = flow.class_manifold("D-II", 0)
    df = flow.layer_flow(net, K, time_limit=None)
    assert (df["status"] == "exact").all()
    b0 = df["b0"].astype(int).tolist()
    assert b0[0] == 9 and all(a >= b for a, b in zip(b0, b0[1:]))
    for layer in (5, 6, 7):  # the layer where overlaps appear, and the line after it
        row = df[df.layer == layer].iloc[0]
        assert _curve_oracle(net, K, layer) == (int(row["b0"]), int(row["b1"]))
