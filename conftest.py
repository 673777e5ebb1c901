"""Shared pytest configuration: doctest namespace, --runslow, the test seed fixture, and
the network builders of the test-suite (``from conftest import random_net, ...``)."""

import os

import numpy as np
import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    import polyrank

    doctest_namespace["np"] = np
    doctest_namespace["pr"] = polyrank


def _seeds():
    spec = os.environ.get("POLYRANK_TEST_SEEDS", "0")
    if spec == "all":
        return list(range(100))
    if "-" in spec:
        lo, hi = spec.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in spec.split(",")]


@pytest.fixture(params=_seeds())
def global_random_seed(request):
    """Seed for randomised tests. Default 0; POLYRANK_TEST_SEEDS=all runs seeds 0-99
    (or a list '1,2,3' or a range '0-19'). Tests must pass for every seed."""
    return request.param


# ----------------------------------------------------------------------------- network builders
def net_of(weights, biases, readout=None):
    """A ReLUNetwork from nested lists or integer arrays (converted to float)."""
    import polyrank as pr

    return pr.ReLUNetwork.from_weights([np.asarray(W, dtype=float) for W in weights],
                                       [np.asarray(b, dtype=float) for b in biases], readout)


def random_net(rng, d, widths, *, readout=None, scaled=False, zero_bias=False, duplicate=False):
    """Gaussian weights and biases drawn from ``rng`` (W_l, then b_l, layer by layer; then the
    read-out). ``scaled``: W_l / sqrt(n_{l-1}) and b_l / 2. ``zero_bias``: biases set to 0
    after drawing. ``duplicate``: the last unit of every layer copies the first."""
    Ws, bs, prev = [], [], d
    for w in widths:
        W, b = rng.normal(size=(w, prev)), rng.normal(size=w)
        if scaled:
            W, b = W / np.sqrt(prev), b * 0.5
        Ws.append(W)
        bs.append(b)
        prev = w
    ro = (rng.normal(size=(readout, prev)), rng.normal(size=readout)) if readout else None
    return _finish(Ws, bs, ro, zero_bias, duplicate)


def int_net(rng, d, widths, lo=-2, hi=2, *, zero_bias=False, duplicate=False):
    """Small-integer weights and biases in lo..hi: coincident, parallel and concurrent
    hyperplanes, hyperplanes through domain vertices, dead and constant later-layer units."""
    Ws, bs, prev = [], [], d
    for w in widths:
        Ws.append(rng.integers(lo, hi + 1, size=(w, prev)).astype(float))
        bs.append(rng.integers(lo, hi + 1, size=w).astype(float))
        prev = w
    return _finish(Ws, bs, None, zero_bias, duplicate)


def _finish(Ws, bs, ro, zero_bias, duplicate):
    for W, b in zip(Ws, bs):
        if zero_bias:
            b[:] = 0.0
        if duplicate and len(b) >= 2:
            W[-1], b[-1] = W[0], b[0]  # a duplicated neuron
    return net_of(Ws, bs, ro)


def torch_net(d, widths, seed, readout=None):
    """PyTorch's default initialisation (``polyrank.train.mlp``) as a ReLUNetwork."""
    import polyrank as pr
    from polyrank.train import mlp

    return pr.ReLUNetwork.from_torch(mlp(d, list(widths), readout, seed=seed))


def scaled_layers(net, cs):
    """(W_l, b_l) -> (c_l W_l, C_l b_l), C_l = c_1 ... c_l: z_l becomes C_l z_l, patterns unchanged."""
    import polyrank as pr

    C, Ws, bs = 1.0, [], []
    for c, W, b in zip(cs, net.weights, net.biases):
        C *= c
        Ws.append(c * W)
        bs.append(C * b)
    return pr.ReLUNetwork.from_weights(Ws, bs)


def segment_graph_betti(A, B, tol):
    """(b0, b1) of the union of the segments [A_i, B_i] in R^n, independently of polyrank:
    split every segment at the points where it meets another (closest points of segment
    pairs, collinear overlaps), merge points closer than tol, and count the graph:
    b1 = E - V + b0. The oracle of the image-homology tests for curves."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    m = len(A)
    U = B - A
    lo, hi = np.minimum(A, B) - tol, np.maximum(A, B) + tol
    cuts = [[0.0, 1.0] for _ in range(m)]
    order = np.argsort(lo[:, 0])
    for a in range(m):
        i = order[a]
        cand = order[a + 1:]
        cand = cand[lo[cand, 0] <= hi[i, 0]]
        cand = cand[np.all((lo[cand] <= hi[i]) & (hi[cand] >= lo[i]), axis=1)]
        for j in cand.tolist():
            u, v, w = U[i], U[j], A[i] - A[j]
            uu, vv, uv, uw, vw = u @ u, v @ v, u @ v, u @ w, v @ w
            den = uu * vv - uv * uv
            if den > 1e-12 * max(uu * vv, 1e-300):
                s = np.clip((uv * vw - vv * uw) / den, 0, 1)
                t = np.clip((s * uv + vw) / vv, 0, 1) if vv > 0 else 0.0
                s = np.clip((t * uv - uw) / uu, 0, 1) if uu > 0 else 0.0
                if np.linalg.norm(A[i] + s * u - A[j] - t * v) <= tol:
                    cuts[i].append(float(s))
                    cuts[j].append(float(t))
            else:  # parallel (or a point): collinear overlaps cut at the other's endpoints
                for (x, y, ux, yy) in ((i, j, uu, (A[j], B[j])), (j, i, vv, (A[i], B[i]))):
                    for P in yy:
                        s = np.clip((P - A[x]) @ U[x] / ux, 0, 1) if ux > 0 else 0.0
                        if np.linalg.norm(A[x] + s * U[x] - P) <= tol:
                            cuts[x].append(float(s))
    pts, edges = [], []
    for i in range(m):
        c = np.unique(np.round(cuts[i], 14))
        base = len(pts)
        pts.extend((A[i] + np.outer(c, U[i])).tolist())
        edges.extend((base + k, base + k + 1) for k in range(len(c) - 1))
    P = np.array(pts)
    n = len(P)
    pairs = np.array(sorted(cKDTree(P).query_pairs(tol)), dtype=np.int64).reshape(-1, 2)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, cluster = connected_components(g, directed=False)
    E = np.sort(cluster[np.array(edges)], axis=1)
    E = np.unique(E[E[:, 0] != E[:, 1]], axis=0)
    V = np.unique(cluster)
    g2 = coo_matrix((np.ones(len(E)), (E[:, 0], E[:, 1])), shape=(n, n))
    b0 = connected_components(g2, directed=False)[0] - (n - len(V))
    return b0, len(E) - len(V) + b0
