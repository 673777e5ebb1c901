"""ReLUNetwork.from_torch: tracing the forward pass (issue 19 item 4) and folding conv, pooling and
batch-norm layers into dense affine layers (issue 18 item 5).

Truths used: the module's own forward (float64, eval mode) on random inputs; a convolution's
dense matrix written out by hand from its definition (loops over output pixels, kernel taps,
stride, padding, dilation and groups), compared entry for entry; the eval-mode batch-norm
formula (x - mean) / sqrt(var + eps) * gamma + beta.
"""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import polyrank as pr


def _close(net, model, shape, n=40, seed=0, tol=1e-12):
    """net.forward equals the model's forward (eval mode, float64) on random inputs."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn((n,) + tuple(shape), generator=g, dtype=torch.float64) * 3
    model.eval()
    with torch.no_grad():
        ref = model(X).reshape(n, -1).numpy()
    got = net.forward(X.reshape(n, -1).numpy())
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol * max(1.0, np.abs(ref).max()))


# --------------------------------------------------------------------------- tracing (issue 19 item 4)
class ReusedReLU(nn.Module):
    """One nn.ReLU used twice: relu(b(relu(a(x)))); registration order a, relu, b."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 3)
        self.relu = nn.ReLU()
        self.b = nn.Linear(3, 2)

    def forward(self, x):
        return self.relu(self.b(self.relu(self.a(x))))


class Swapped(nn.Module):
    """Layers registered in the opposite order of the calls (square, so shapes cannot tell)."""

    def __init__(self):
        super().__init__()
        self.second = nn.Linear(3, 3)
        self.first = nn.Linear(3, 3)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.second(self.relu(self.first(x)))


class Functional(nn.Module):
    """F.relu, torch.relu, x.view(x.size(0), -1), torch.flatten and a cast in the forward."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 5)
        self.b = nn.Linear(5, 3)
        self.c = nn.Linear(3, 1)

    def forward(self, x):
        x = F.relu(self.a(x.double()))
        x = x.view(x.size(0), -1)
        x = torch.relu(self.b(torch.flatten(x, 1)))
        return self.c(x)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.relu = nn.ReLU()
        self.b = nn.Linear(2, 2)

    def forward(self, x):
        return self.b(self.relu(self.a(x)) + x)


class Branchy(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it; forward hooks record the calls."""

    def __init__(self, functional):
        super().__init__()
        self.a = nn.Linear(2, 4)
        self.relu = nn.ReLU()
        self.b = nn.Linear(4, 1)
        self.functional = functional

    def forward(self, x):
        h = self.a(x)
        h = F.relu(h) if self.functional else self.relu(h)
        if x.shape[0] > 10 ** 9:  # never taken, but not traceable
            return h
        return self.b(h)


def test_reused_relu_keeps_its_last_call():
    torch.manual_seed(0)
    m = ReusedReLU().double()
    net = pr.ReLUNetwork.from_torch(m)
    assert net.widths == (3, 2) and net.readout is None
    _close(net, m, (2,))


def test_call_order_not_registration_order():
    torch.manual_seed(1)
    m = Swapped().double()
    net = pr.ReLUNetwork.from_torch(m)
    np.testing.assert_array_equal(net.weights[0], m.first.weight.detach().numpy())
    np.testing.assert_array_equal(net.readout[0], m.second.weight.detach().numpy())
    _close(net, m, (3,))


def test_functional_calls_and_view_idiom():
    torch.manual_seed(2)
    m = Functional().double()
    m.train()
    net = pr.ReLUNetwork.from_torch(m)
    assert m.training and all(c.training for c in m.modules())  # the check ran in eval mode, then restored
    assert net.widths == (5, 3) and net.output_dim == 1
    _close(net, m, (4,))


def test_consecutive_affine_layers_are_folded():
    torch.manual_seed(3)
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Linear(2, 1)).double()
    net = pr.ReLUNetwork.from_torch(m)
    assert net.widths == (4,) and net.output_dim == 1
    _close(net, m, (2,))


def test_skip_connection_is_refused():
    with pytest.raises(ValueError, match="not a chain"):
        pr.ReLUNetwork.from_torch(Residual())


def test_untraceable_module_via_hooks():
    torch.manual_seed(4)
    m = Branchy(functional=False).double()
    net = pr.ReLUNetwork.from_torch(m)
    assert net.widths == (4,)
    _close(net, m, (2,))
    # with a functional ReLU the hooks cannot see it: refused, with the reason
    with pytest.raises(ValueError, match="F.relu"):
        pr.ReLUNetwork.from_torch(Branchy(functional=True))


def test_forward_mismatch_is_refused():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.relu = nn.ReLU()

        def forward(self, x):
            out = self.relu(self.a(x))
            if x.shape[0] > 0:  # untraceable, so hooks record a -> relu; the doubling is invisible
                out = out * 2
            return out

    with pytest.raises(ValueError, match="differs from the module's own forward"):
        pr.ReLUNetwork.from_torch(Scaled())


# --------------------------------------------------------------------------- folding (issue 18 item 5)
def _dense_conv2d(w, b, in_shape, stride, padding, dilation, groups):
    """The dense matrix of a zero-padded Conv2d from the definition of convolution."""
    C, H, Wd = in_shape
    Co, Cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (Wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    M = np.zeros((Co * Ho * Wo, C * H * Wd))
    bias = np.zeros(Co * Ho * Wo)
    per = Co // groups
    for co in range(Co):
        g = co // per
        for i in range(Ho):
            for j in range(Wo):
                row = (co * Ho + i) * Wo + j
                bias[row] = b[co]
                for cg in range(Cg):
                    ci = g * Cg + cg
                    for a in range(kh):
                        for c in range(kw):
                            y, x = i * sh + a * dh - ph, j * sw + c * dw - pw
                            if 0 <= y < H and 0 <= x < Wd:
                                M[row, (ci * H + y) * Wd + x] += w[co, cg, a, c]
    return M, bias


@pytest.mark.parametrize("kw", [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1), groups=2),
    dict(stride=3, padding=2, dilation=2, groups=4),
])
def test_conv2d_matrix_is_the_convolution_entry_for_entry(kw):
    torch.manual_seed(5)
    conv = nn.Conv2d(4, 4, 3, **kw).double()
    m = nn.Sequential(conv, nn.ReLU())
    shape = (4, 7, 6)
    net = pr.ReLUNetwork.from_torch(m, input_shape=shape)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    M, bias = _dense_conv2d(conv.weight.detach().numpy(), conv.bias.detach().numpy(), shape,
                            pair(kw["stride"]), pair(kw["padding"]), pair(kw["dilation"]), kw["groups"])
    np.testing.assert_array_equal(net.weights[0], M)  # exact: weights copied, not rounded
    np.testing.assert_array_equal(net.biases[0], bias)


@pytest.mark.parametrize("layers, shape", [
    ([nn.Conv2d(2, 3, 3, padding="same", padding_mode="reflect"), nn.ReLU()], (2, 5, 5)),
    ([nn.Conv2d(2, 3, (2, 3), padding=1, padding_mode="replicate", bias=False), nn.ReLU()], (2, 4, 5)),
    ([nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular", groups=2), nn.ReLU()], (2, 4, 4)),
    ([nn.Conv2d(1, 2, 3, padding="valid"), nn.BatchNorm2d(2), nn.ReLU(), nn.AvgPool2d(2, ceil_mode=True),
      nn.Flatten(), nn.Linear(8, 3), nn.ReLU(), nn.Dropout(0.3), nn.Identity(), nn.Linear(3, 2)], (1, 6, 5)),
    ([nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), nn.Conv2d(1, 2, 2), nn.ReLU(),
      nn.AdaptiveAvgPool2d(2)], (1, 7, 7)),
    ([nn.Flatten(), nn.Linear(12, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)], (3, 4)),
    ([nn.Conv1d(2, 3, 3, stride=2, dilation=2), nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(3, 1)], (2, 10)),
])
def test_folded_forward_equals_torch(layers, shape, global_random_seed):
    torch.manual_seed(global_random_seed)
    m = nn.Sequential(*layers).double()
    for mod in m.modules():  # non-trivial running statistics
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
            mod.weight.data.uniform_(-2, 2)
            mod.bias.data.uniform_(-1, 1)
    m.eval()
    net = pr.ReLUNetwork.from_torch(m, input_shape=shape)
    assert net.input_dim == int(np.prod(shape))
    _close(net, m, shape, seed=global_random_seed)


@settings(max_examples=8, deadline=None)
@given(k=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2),
       groups=st.sampled_from([1, 2]), mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
       side=st.integers(3, 6), pool=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_random_conv_configurations_fold_exactly(k, stride, pad, dil, groups, mode, side, pool, seed):
    assume(dil * (k - 1) + 1 <= side + 2 * pad and (mode == "zeros" or pad < side))
    torch.manual_seed(seed)
    conv = nn.Conv2d(2, 4, k, stride=stride, padding=pad, dilation=dil, groups=groups, padding_mode=mode)
    layers = [conv, nn.ReLU()] + ([nn.AvgPool2d(2, ceil_mode=True)] if pool else [])
    m = nn.Sequential(*layers).double().eval()
    out = m(torch.zeros(1, 2, side, side, dtype=torch.float64))
    assume(out.numel() > 0)
    net = pr.ReLUNetwork.from_torch(m, input_shape=(2, side, side))
    _close(net, m, (2, side, side), n=8, seed=seed % 1000)


def test_batchnorm_fold_is_the_formula():
    bn = nn.BatchNorm1d(3).double().eval()
    bn.running_mean[:] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    bn.running_var[:] = torch.tensor([4.0, 0.25, 1.0], dtype=torch.float64)
    bn.weight.data[:] = torch.tensor([2.0, -1.0, 3.0], dtype=torch.float64)
    bn.bias.data[:] = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    m = nn.Sequential(nn.Linear(2, 3), bn, nn.ReLU()).double().eval()
    net = pr.ReLUNetwork.from_torch(m)
    s = np.array([2.0, -1.0, 3.0]) / np.sqrt(np.array([4.0, 0.25, 1.0]) + bn.eps)
    W, b = m[0].weight.detach().numpy(), m[0].bias.detach().numpy()
    np.testing.assert_allclose(net.weights[0], s[:, None] * W, rtol=1e-15)
    np.testing.assert_allclose(net.biases[0], s * (b - [1.0, -2.0, 0.5]) + [0.0, 1.0, -1.0], rtol=1e-14, atol=1e-15)


def test_cnn_decomposition_runs_on_a_slice():
    """The folded CNN is an ordinary ReLUNetwork: a 2-D slice enumerates, and every region's
    witness has the pattern of the torch model's own pre-activations."""
    torch.manual_seed(6)
    m = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)).double().eval()
    net = pr.ReLUNetwork.from_torch(m, input_shape=(1, 3, 3))
    rng = np.random.default_rng(0)
    P, p0 = rng.normal(size=(9, 2)), rng.normal(size=9)
    dec = pr.enumerate_regions(net.restrict(P, p0), pr.Box(-3, 3, dim=2), method="lp")
    for r in dec.regions:
        x = torch.as_tensor(p0 + P @ r.witness).reshape(1, 1, 3, 3)
        z = m[0](x).reshape(-1).detach().numpy()
        assert np.array_equal(z > 0, r.pattern)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("model, kwargs, err, match", [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), {}, ValueError, r"Conv2d.*input_shape=\("),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), dict(input_shape=(3, 8, 8)), ValueError,
     r"'0' \(Conv2d\) cannot take an input of shape \(3, 8, 8\)"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), dict(input_shape=(1, 0, 8)), ValueError, "input_shape.*positive"),
    (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), dict(input_shape="2"), ValueError, "input_shape"),
    (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), dict(input_shape=(2.5,)), ValueError, "input_shape"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.ReLU()), dict(input_shape=(1, 6, 6)), TypeError,
     r"MaxPool2d.*supported layers: Linear, Conv1d, Conv2d"),
    (nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU()), {}, TypeError, "LeakyReLU.*slope"),
    (nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.ReLU()), {}, ValueError, "training mode.*eval"),
    (nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2, track_running_stats=False), nn.ReLU()).eval(), {},
     ValueError, "track_running_stats"),
    (nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.ReLU()), {}, ValueError, "after another ReLU"),
    (nn.Sequential(nn.Flatten(), nn.ReLU(), nn.Linear(2, 2)), {}, ValueError, "must follow an affine layer"),
])
def test_bad_input(model, kwargs, err, match):
    with pytest.raises(err, match=match):
        pr.ReLUNetwork.from_torch(model, **kwargs)


def test_too_large_a_fold_is_refused(monkeypatch):
    from polyrank import _torch

    monkeypatch.setattr(_torch, "MAX_FOLDED_ENTRIES", 1000)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
    with pytest.raises(ValueError, match=r"dense 400 x 100 matrix"):
        pr.ReLUNetwork.from_torch(m, input_shape=(1, 10, 10))
