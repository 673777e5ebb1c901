"""Tests of polyrank.orbits: image orbits as PL meshes and their exact reports through networks."""

import numpy as np
import pytest
from scipy import ndimage

import polyrank as pr


def _digit(seed=0):
    """A 28 x 28 ring (a synthetic "0") plus a little seeded noise, pixels in [0, 1]."""
    yy, xx = np.mgrid[:28, :28]
    r = np.hypot(yy - 13.5, (xx - 13.5) * 1.4)
    img = np.clip(1.0 - np.abs(r - 8.0) / 2.5, 0.0, 1.0)
    return np.clip(img + 0.05 * np.random.default_rng(seed).uniform(size=img.shape), 0.0, 1.0)


def _net(seed=0, widths=(12, 8), bias=None):
    rng = np.random.default_rng(seed)
    dims = (784,) + widths
    Ws = [rng.normal(size=(dims[i + 1], dims[i])) / np.sqrt(dims[i]) for i in range(len(widths))]
    if bias is not None and bias > 0:  # deeper layers with non-negative weights: every unit stays on
        Ws[1:] = [np.abs(W) for W in Ws[1:]]
    bs = [rng.normal(size=w) * 0.1 if bias is None else np.full(w, bias) for w in widths]
    readout = (rng.normal(size=(10, widths[-1])), rng.normal(size=10))
    return pr.ReLUNetwork.from_weights(Ws, bs, readout=readout)


@pytest.mark.parametrize("n", [3, 4, 7, 36])
def test_rotation_orbit_is_a_closed_polygon_through_the_rotated_images(n):
    img = _digit()
    K = pr.image_orbit(img, kind="rotation", n=n)
    assert (K.n_vertices, len(K), K.dim, K.ambient_dim) == (n, n, 1, 784)
    assert pr.betti(K) == [1, 1]
    assert sorted(map(tuple, K.simplices)) == sorted((k, (k + 1) % n) for k in range(n))
    for k in (0, 1, n - 1):
        want = ndimage.rotate(img, 360.0 * k / n, reshape=False, order=1, mode="constant", cval=0.0)
        np.testing.assert_array_equal(K.vertices[k], want.ravel())
    np.testing.assert_allclose(K.vertices[0], img.ravel(), atol=1e-12)  # angle 0 is the image
    if n == 4:  # a quarter turn of a square image is a permutation of its pixels
        np.testing.assert_allclose(K.vertices[1].reshape(28, 28), np.rot90(img), atol=1e-9)
    flat = pr.image_orbit(img.ravel(), n=n)  # a flat 784-vector is taken as 28 x 28
    np.testing.assert_array_equal(flat.vertices, K.vertices)


@pytest.mark.parametrize("n, m", [(4, 7), (3, 3), (5, 6)])
def test_translation_orbit_is_a_torus_of_cyclic_shifts(n, m):
    img = _digit(1)
    T = pr.image_orbit(img, kind="translation", n=n, m=m)
    assert (T.n_vertices, len(T)) == (n * m, 2 * n * m)
    assert pr.betti(T) == [1, 2, 1] and T.is_closed_surface() and T.euler_characteristic() == 0
    for i in range(n):
        for j in range(m):
            v = T.vertices[i * m + j].reshape(28, 28)
            if 28 % n == 0 and 28 % m == 0:  # integer shifts: exactly np.roll
                np.testing.assert_array_equal(v, np.roll(img, (28 * i // n, 28 * j // m), axis=(0, 1)))
            else:
                want = ndimage.shift(img, (28 * i / n, 28 * j / m), order=1, mode="grid-wrap")
                np.testing.assert_array_equal(v, want)
    # a cyclic shift keeps the pixel sum up to interpolation (integer shifts: exactly)
    if 28 % n == 0 and 28 % m == 0:
        np.testing.assert_allclose(T.vertices.sum(1), img.sum())


def test_image_orbit_bad_input():
    img = _digit()
    with pytest.raises(ValueError, match="'image'.*shape \\(2, 28, 28\\)"):
        pr.image_orbit(np.stack([img, img]))
    with pytest.raises(ValueError, match="783 pixels, not a square"):
        pr.image_orbit(np.zeros(783))
    with pytest.raises(ValueError, match="shape=\\(20, 30\\) needs 600"):
        pr.image_orbit(np.zeros(784), shape=(20, 30))
    with pytest.raises(ValueError, match="'n'.*>= 3.*got 2"):
        pr.image_orbit(img, n=2)
    with pytest.raises(ValueError, match="'n'"):
        pr.image_orbit(img, n=4.0)
    with pytest.raises(ValueError, match="'m'.*got 1"):
        pr.image_orbit(img, kind="translation", n=4, m=1)
    with pytest.raises(ValueError, match="'m' parameter .* kind='translation'"):
        pr.image_orbit(img, kind="rotation", m=4)
    with pytest.raises(ValueError, match="'kind'"):
        pr.image_orbit(img, kind="scale")
    bad = img.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pr.image_orbit(bad)
    with pytest.raises(TypeError, match="'image'"):
        pr.image_orbit("digit")


def _interior(V, S, row_fracs):
    return V[S[:, 0]] + row_fracs[:, None] * (V[S[:, 1]] - V[S[:, 0]])


def test_orbit_report_curve_is_exact_along_every_piece():
    net, img = _net(3), _digit(2)
    n = 12
    K = pr.image_orbit(img, n=n)
    df = pr.orbit_report(net, K)
    ref = df.attrs["refinement"]
    assert ref.n_regions > n  # the orbit does cross regions between the samples
    # the rows tile the curve [0, n] in order
    assert df["start"].iloc[0] == 0.0 and df["end"].iloc[-1] == pytest.approx(n)
    np.testing.assert_allclose(df["start"].to_numpy()[1:], df["end"].to_numpy()[:-1], atol=1e-12)
    assert (df["end"] > df["start"]).all()
    # dense samples inside every row: their pattern is the row's region pattern, their class the row's
    fr = np.linspace(0.05, 0.95, 7)
    pos = (df["start"].to_numpy()[:, None] * (1 - fr) + df["end"].to_numpy()[:, None] * fr).ravel()
    seg = np.minimum(np.floor(pos).astype(int), n - 1)
    x = K.vertices[seg] + (pos - seg)[:, None] * (K.vertices[(seg + 1) % n] - K.vertices[seg])
    rows = np.repeat(np.arange(len(df)), len(fr))
    P = net.patterns(x, flat=True)
    want = ref.region_patterns[df["region"].to_numpy()[rows]]
    z = np.concatenate(net.preactivations(x), axis=1)
    clear = np.abs(z) > 1e-9 * np.abs(z).max(0)  # off the hyperplanes
    assert (P == want)[clear].all()
    np.testing.assert_array_equal(np.argmax(net.forward(x), 1), df["cls"].to_numpy()[rows])
    # ranks of the regions by an independent rule: matrix_rank of net.local_affine
    for r in np.unique(df["region"].to_numpy())[:20]:
        sub = df[df["region"] == r].iloc[0]
        for l in (1, 2):
            A, _ = net.local_affine(ref.region_patterns[r][: net.layer_slice(l).stop], l)
            assert sub[f"rank_{l}"] == pr.matrix_rank(A)
    # class changes: the count on the closed curve equals the changes seen by a dense sampling
    dense = np.linspace(0, n, 40 * n * 50, endpoint=False)
    sg = dense.astype(int)
    xd = K.vertices[sg] + (dense - sg)[:, None] * (K.vertices[(sg + 1) % n] - K.vertices[sg])
    cd = np.argmax(net.forward(xd), 1)
    assert int(df["class_change"].sum()) == int((cd != np.roll(cd, 1)).sum())
    assert set(df["cls"]) == set(cd.tolist())


def test_orbit_report_torus_pieces_are_exact():
    net, img = _net(5, widths=(6, 4)), _digit(3)
    T = pr.image_orbit(img, kind="translation", n=4)
    df = pr.orbit_report(net, T)
    ref = df.attrs["refinement"]
    assert len(df) == len(ref) > len(T)
    assert df["area"].sum() == pytest.approx(ref.measures().sum())
    rng = np.random.default_rng(0)
    V, S = ref.complex.vertices, ref.complex.simplices
    w = rng.dirichlet(np.ones(3), size=(len(S), 5))  # 5 interior points per piece
    x = np.einsum("kpj,kjd->kpd", w, V[S]).reshape(-1, 784)
    rows = np.repeat(np.arange(len(S)), 5)
    z = np.concatenate(net.preactivations(x), axis=1)
    clear = np.abs(z) > 1e-9 * np.abs(z).max(0)
    assert (net.patterns(x, flat=True) == ref.patterns[rows])[clear].all()
    cls = np.argmax(net.forward(x), 1)
    const = df["class_constant"].to_numpy()[rows]
    np.testing.assert_array_equal(cls[const], df["cls"].to_numpy()[rows][const])


@pytest.mark.parametrize("kind, reduced", [("rotation", [0, 1]), ("translation", [0, 2, 1])])
def test_orbit_layers_quotients_collapse_exactly(kind, reduced):
    K = pr.image_orbit(_digit(), kind=kind, n=4)
    net = _net(1, bias=50.0)
    live = pr.orbit_layers(net, K)   # one region on the whole orbit, nothing collapses
    assert live["n_regions"].tolist() == [1, 1] and live["collapsed_fraction"].tolist() == [0.0, 0.0]
    assert live["quotient_betti"].tolist() == [reduced, reduced]
    p = net.patterns(K.vertices[:1], flat=True)[0]
    want = [pr.matrix_rank(net.local_affine(p[: net.layer_slice(l).stop], l)[0]) for l in (1, 2)]
    assert live["rank_max"].tolist() == live["rank_min"].tolist() == want and want[0] == 12
    assert live["full_fraction"].tolist() == [1.0, 1.0]
    dead = pr.orbit_layers(_net(1, bias=-50.0), K)  # every unit off: the orbit collapses to a point
    assert dead["collapsed_fraction"].tolist() == [1.0, 1.0]
    assert dead["quotient_betti"].tolist() == [[0] * len(reduced)] * 2
    point = [1] + [0] * (len(reduced) - 1)   # the image of the orbit is one point
    assert [list(b) for b in dead["image_betti"]] == [point, point]
    assert live["image_betti"].notna().all()
    assert pr.orbit_layers(net, K, image=False)["image_betti"].isna().all()


def test_ranks_false_leaves_the_region_ranks_out_and_nothing_else():
    net = pr.ReLUNetwork.from_weights([np.eye(2), [[1.0, -1.0], [0.5, 1.0]]], [np.zeros(2), [0.1, -0.2]],
                                      readout=(np.eye(2), np.zeros(2)))
    K = pr.circle(16)
    full, lean = pr.orbit_report(net, K), pr.orbit_report(net, K, ranks=False)
    assert not lean.attrs["refinement"]._region_ranks.known.any()  # never computed
    assert [c for c in full.columns if not c.startswith("rank_")] == list(lean.columns)
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(full[lean.columns], lean)
    la, lb = pr.orbit_layers(net, K, image=False), pr.orbit_layers(net, K, image=False, ranks=False)
    assert lb[["rank_min", "rank_mean", "rank_max"]].isna().all().all()
    assert la.drop(columns=["rank_min", "rank_mean", "rank_max"]).equals(lb.drop(columns=["rank_min", "rank_mean", "rank_max"]))
