import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

import polyrank as pr
from conftest import random_net


def test_shapes_and_repr(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 3, [5, 4], readout=2)
    assert net.input_dim == 3 and net.widths == (5, 4) and net.n_neurons == 9 and net.output_dim == 2
    assert net.n_layers == 2
    assert "widths=(5, 4)" in repr(net)
    assert net.neuron_ids() == [(1, i) for i in range(5)] + [(2, i) for i in range(4)]
    assert net.layer_slice(2) == slice(5, 9)


def test_weights_are_immutable_copies():
    W = np.eye(2)
    net = pr.ReLUNetwork.from_weights([W], [np.zeros(2)])
    W[0, 0] = 5.0
    assert net.weights[0][0, 0] == 1.0
    with pytest.raises(ValueError):
        net.weights[0][0, 0] = 3.0


def test_forward_matches_torch(global_random_seed):
    torch.manual_seed(global_random_seed)
    m = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2)).double()
    net = pr.ReLUNetwork.from_torch(m)
    X = np.random.default_rng(global_random_seed).normal(size=(50, 3))
    ref = m(torch.as_tensor(X)).detach().numpy()
    np.testing.assert_allclose(net.forward(X), ref, rtol=1e-12, atol=1e-12)
    back = net.to_torch()
    np.testing.assert_allclose(back(torch.as_tensor(X)).detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    # hidden representation at layer 1 and 2
    h1 = m[1](m[0](torch.as_tensor(X))).detach().numpy()
    np.testing.assert_allclose(net.forward(X, layer=1), h1, rtol=1e-12, atol=1e-12)


def test_from_torch_nested_and_skipped_modules():
    m = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3), nn.ReLU()), nn.Dropout(0.1),
                      nn.Linear(3, 2), nn.ReLU())
    net = pr.ReLUNetwork.from_torch(m)
    assert net.widths == (3, 2) and net.readout is None


@pytest.mark.parametrize("bad, err, match", [
    (nn.Sequential(nn.Linear(2, 3), nn.Tanh()), TypeError, "Tanh"),
    (nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU()), ValueError, "Conv2d.*input_shape"),
    (nn.Sequential(nn.Linear(2, 3), nn.MaxPool1d(2), nn.ReLU()), TypeError, "MaxPool1d.*supported layers"),
    (nn.Sequential(nn.ReLU(), nn.Linear(2, 3)), ValueError, "must follow"),
    (nn.Sequential(nn.Linear(2, 3)), ValueError, "no hidden"),
    (nn.Sequential(), ValueError, "no nn.Linear"),
])
def test_from_torch_rejects(bad, err, match):
    with pytest.raises(err, match=match):
        pr.ReLUNetwork.from_torch(bad)


def test_from_torch_rejects_non_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        pr.ReLUNetwork.from_torch([1, 2])


@pytest.mark.parametrize("weights, biases, match", [
    ([], [], "at least one hidden layer"),
    ([np.ones((2, 2))], [np.ones(3)], "length 2"),
    ([np.ones((2, 2)), np.ones((2, 3))], [np.ones(2), np.ones(2)], "shape"),
    ([np.array([[np.nan, 1.0]])], [np.zeros(1)], "NaN"),
    ([np.array([[np.inf, 1.0]])], [np.zeros(1)], "NaN or infinity"),
    ([np.zeros((0, 2))], [np.zeros(0)], "zero-width"),
    ([np.ones((2, 2))], [np.ones(2), np.ones(2)], "2 bias"),
    ([np.ones(3)], [np.ones(3)], "2-D"),
])
def test_from_weights_rejects(weights, biases, match):
    with pytest.raises(ValueError, match=match):
        pr.ReLUNetwork.from_weights(weights, biases)


def test_single_matrix_instead_of_list():
    with pytest.raises(TypeError, match="list of 2-D arrays"):
        pr.ReLUNetwork.from_weights(np.ones((2, 2)), [np.ones(2)])


def test_readout_shape_checked():
    with pytest.raises(ValueError, match="readout weight"):
        pr.ReLUNetwork.from_weights([np.ones((2, 2))], [np.ones(2)], readout=(np.ones((1, 3)), np.ones(1)))


def test_wrong_input_width_has_hint():
    net = pr.ReLUNetwork.from_weights([np.ones((2, 3))], [np.ones(2)])
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        net.forward(np.ones(3))
    with pytest.raises(ValueError, match=r"\(n_points, 3\)"):
        net.patterns(np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        net.preactivations(np.array([[np.nan, 0, 0]]))


def test_patterns_match_preactivations(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 2, [4, 3])
    X = rng.normal(size=(30, 2))
    zs = net.preactivations(X)
    pats = net.patterns(X)
    for z, p in zip(zs, pats):
        np.testing.assert_array_equal(p, z > 0)
    flat = net.patterns(X, flat=True)
    np.testing.assert_array_equal(flat, np.hstack(pats))


def test_local_affine_equals_forward(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 3, [6, 5, 4])
    X = rng.normal(size=(40, 3))
    P = net.patterns(X, flat=True)
    for K in (1, 2, 3):
        H = net.forward(X, layer=K)
        for x, p, h in zip(X, P, H):
            A, a = net.local_affine(p, K)
            np.testing.assert_allclose(A @ x + a, h, atol=1e-10)
    # per-layer list input gives the same map
    per_layer = [p for p in net.patterns(X[:1])]
    A1, a1 = net.local_affine([q[0] for q in per_layer], 3)
    A2, a2 = net.local_affine(P[0], 3)
    np.testing.assert_array_equal(A1, A2)
    np.testing.assert_array_equal(a1, a2)


def test_local_affine_rejects_bad_pattern():
    net = pr.ReLUNetwork.from_weights([np.ones((2, 2)), np.ones((3, 2))], [np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="whole number of layers"):
        net.local_affine([True, False, True])
    with pytest.raises(ValueError, match="layer must be a hidden layer"):
        net.local_affine([True] * 5, layer=3)


def test_restrict_composes(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 4, [5, 3], readout=2)
    P = rng.normal(size=(4, 2))
    p0 = rng.normal(size=4)
    sub = net.restrict(P, p0)
    T = rng.normal(size=(20, 2))
    np.testing.assert_allclose(sub.forward(T), net.forward(p0 + T @ P.T), atol=1e-12)
    with pytest.raises(ValueError, match="P must have shape"):
        net.restrict(np.ones((3, 2)), p0)


def test_truncate():
    rng = np.random.default_rng(1)
    net = random_net(rng, 2, [3, 4, 5], readout=1)
    t = net.truncate(2)
    assert t.widths == (3, 4) and t.readout is None
    X = rng.normal(size=(5, 2))
    np.testing.assert_allclose(t.forward(X), net.forward(X, layer=2))


def test_as_network():
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert pr.as_network(m).widths == (3,)
    net = pr.as_network(m)
    assert pr.as_network(net) is net
    with pytest.raises(TypeError, match="ReLUNetwork or a torch.nn.Module"):
        pr.as_network("net")


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 4), widths=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_property_local_affine_is_the_network(d, widths, seed):
    rng = np.random.default_rng(seed)
    net = random_net(rng, d, widths)
    x = rng.normal(size=(1, d))
    p = net.patterns(x, flat=True)[0]
    A, a = net.local_affine(p)
    np.testing.assert_allclose(A @ x[0] + a, net.forward(x)[0], atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_local_network_is_scaled_units_of_the_restriction_bit_for_bit(seed):
    """The engines' local network (one pass of power-of-two scalings, the first layer's
    carried) has the arrays of the definition: the network in scaled units, restricted to
    x = x0 + s y, in scaled units again; and its patterns at y are the network's at x.
    Layers of magnitudes 1e-150..1e150 (scaled units exist for them)."""
    from polyrank._numerics import local_network, scaled_units

    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 5))
    widths = [int(w) for w in rng.integers(1, 6, size=int(rng.integers(1, 4)))]
    Ws, bs, prev = [], [], d
    for w in widths:
        Ws.append(rng.normal(size=(w, prev)) * 10.0 ** rng.integers(-150, 150))
        bs.append(rng.normal(size=w) * 10.0 ** rng.integers(-150, 150) * (rng.random() > 0.2))
        prev = w
    net = pr.ReLUNetwork(Ws, bs)
    K = int(rng.integers(1, len(widths) + 1))
    x0, s = rng.normal(size=d), float(2.0 ** rng.integers(-3, 4) * rng.uniform(0.5, 2))
    got = local_network(net, K, x0, s)
    ref = scaled_units(scaled_units(net, K).restrict(s * np.eye(d), x0), K)
    for a, b in zip(got.weights + got.biases, ref.weights + ref.biases):
        assert np.array_equal(a, b) and not a.flags.writeable
    Y = rng.normal(size=(50, d))
    assert np.array_equal(got.patterns(Y, flat=True), net.truncate(K).patterns(x0 + s * Y, flat=True))


@pytest.mark.parametrize("seed", range(4))
def test_layer_exponent_compiled_maxima_match_numpy(seed, monkeypatch):
    """The power of two of scaled units from the compiled maxima is numpy's, on layers of
    magnitudes 1e-300..1e300, zeros, subnormals, empty biases and transposed (non-contiguous)
    weights; and it brings the layer's largest entry to [0.5, 1)."""
    from polyrank import _numerics as nm

    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(40):
        W = rng.normal(size=(int(rng.integers(1, 7)), int(rng.integers(1, 7)))) * 10.0 ** rng.integers(-300, 300)
        b = rng.normal(size=W.shape[0]) * 10.0 ** rng.integers(-300, 300) * (rng.random() > 0.3)
        cases.append((W, b, int(rng.integers(-20, 20))))
    cases += [(np.zeros((3, 2)), np.zeros(3), 0), (np.full((2, 2), 5e-324), np.zeros(2), 0),
              (rng.normal(size=(4, 3)).T, np.zeros(0), 3), (np.zeros((2, 2)), np.array([0.0, -7.0]), 2)]
    got = [nm._layer_exponent(W, b, cum) for W, b, cum in cases]
    monkeypatch.setattr(nm, "_abs_max_kernel", lambda: None)
    ref = [nm._layer_exponent(W, b, cum) for W, b, cum in cases]
    assert got == ref
    for (W, b, cum), a in zip(cases, got):
        top = max(np.abs(W).max(initial=0.0), np.abs(np.ldexp(b, -cum)).max(initial=0.0))
        if top > 0:
            assert 0.5 <= np.ldexp(top, -a) < 1.0
