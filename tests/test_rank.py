"""Tests of polyrank.rank: matrix_rank / exact_rank and the sampling path ranks_at / codeword_sizes_at."""

import numpy as np
import pytest
import torch

import polyrank as pr
from conftest import int_net, random_net, scaled_layers
from polyrank.train import mlp
from polyrank.exceptions import MemoryBudgetError


def jacobian_reference(net, X, K):
    """Naive per-point reference: autograd Jacobian of h_K, active rows, matrix_rank."""
    m = net.truncate(K).to_torch()
    out = []
    for x in X:
        xt = torch.as_tensor(x, dtype=torch.float64)
        J = torch.autograd.functional.jacobian(lambda v: m(v[None])[0], xt).numpy()
        z = net.preactivations(x[None])[K - 1][0]
        out.append(pr.rank.matrix_rank(J[z > 0]) if (z > 0).any() else 0)
    return np.array(out)


def bound(net, X, layers=None):
    """min(d, c_1, ..., c_K) from numpy patterns (independent of ranks_at)."""
    c = np.stack([p.sum(1) for p in net.patterns(X)], axis=1)
    b = np.minimum.accumulate(np.minimum(c, net.input_dim), axis=1)
    return b if layers is None else b[:, [k - 1 for k in layers]]


# ---------------------------------------------------------------------------- matrix_rank / exact_rank
@pytest.mark.parametrize("shape,r", [((6, 4), 2), ((5, 7), 3), ((8, 8), 8), ((3, 9), 0)])
def test_matrix_rank_of_products_of_integer_factors(shape, r, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    M = rng.integers(-3, 4, size=(shape[0], r)) @ rng.integers(-3, 4, size=(r, shape[1]))
    M = M.astype(float)
    # the exact rank of an integer product is at most r; both functions must agree on it
    assert pr.rank.matrix_rank(M) == pr.rank.exact_rank(M) <= r


def test_matrix_rank_tolerance_edges():
    M = np.diag([1.0, 1e-3])
    assert pr.rank.matrix_rank(M, tol=1e-3 * 0.99) == 2
    assert pr.rank.matrix_rank(M, tol=1e-3 * 1.01) == 1
    assert pr.rank.matrix_rank(np.zeros((0, 3))) == 0


# ---------------------------------------------------------------------------- ranks_at vs the enumerator
@pytest.mark.parametrize("method", ["direct", "certify"])
@pytest.mark.parametrize("d,widths", [(2, [6, 6, 6]), (2, [3, 1, 5]), (3, [5, 4, 6]), (2, [10, 2, 8])])
def test_ranks_at_equal_enumerated_region_ranks(d, widths, method, global_random_seed):
    net = pr.as_network(mlp(d, widths, seed=global_random_seed))
    dec = pr.enumerate_regions(net, pr.Box(-3.0, 3.0, dim=d), method="lp")
    W = np.array([r.witness for r in dec.regions])
    expect = np.array([r.ranks for r in dec.regions])
    np.testing.assert_array_equal(pr.ranks_at(net, W, method=method), expect)
    np.testing.assert_array_equal(pr.codeword_sizes_at(net, W),
                                  np.array([r.codeword_sizes for r in dec.regions]))
    # one layer at a time, through the torch module
    module = mlp(d, widths, seed=global_random_seed)
    K = len(widths)
    np.testing.assert_array_equal(pr.ranks_at(module, W, layers=K, method=method)[:, 0], expect[:, K - 1])


# ---------------------------------------------------------------------------- ranks_at vs autograd
@pytest.mark.parametrize("d,widths", [(5, [8, 8, 8, 8]), (40, [60, 30, 25, 10]), (20, [50, 3, 40, 30]),
                                      (36, [30, 40, 20])])
def test_ranks_at_equal_autograd_jacobian_rank(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, widths, scaled=True)
    X = rng.normal(size=(25, d))
    got = pr.ranks_at(net, X)
    for K in range(1, len(widths) + 1):
        np.testing.assert_array_equal(got[:, K - 1], jacobian_reference(net, X, K))


@pytest.mark.parametrize("method", ["direct", "certify"])
def test_rank_drop_below_the_codeword_bound(method, global_random_seed):
    """Layer 2 repeats each of 4 distinct rows 5 times: rank A_2 = min(d, c_1, distinct active rows)."""
    rng = np.random.default_rng(global_random_seed)
    d = 12
    W1, b1 = rng.normal(size=(30, d)), rng.normal(size=30)
    base, bb = rng.normal(size=(4, 30)), rng.normal(size=4)
    W2, b2 = np.repeat(base, 5, axis=0), np.repeat(bb, 5)
    net = pr.ReLUNetwork.from_weights([W1, W2], [b1, b2])
    X = rng.normal(size=(40, d))
    z1, z2 = net.preactivations(X)
    distinct = (z2[:, ::5] > 0).sum(1)
    expect = np.minimum(np.minimum(d, (z1 > 0).sum(1)), distinct)
    got = pr.ranks_at(net, X, method=method)
    np.testing.assert_array_equal(got[:, 1], expect)
    assert (got[:, 1] < bound(net, X)[:, 1]).any()  # the certificate must fail and fall back here
    np.testing.assert_array_equal(got[:, 1], jacobian_reference(net, X, 2))


def test_dead_layer_gives_rank_zero_after_it():
    net = pr.ReLUNetwork.from_weights([np.eye(3), -np.ones((4, 3)), np.ones((2, 4))],
                                      [np.zeros(3), -np.ones(4), np.ones(2)])
    X = np.abs(np.random.default_rng(1).normal(size=(10, 3)))  # layer 2 is dead on x >= 0
    for method in ("direct", "certify"):
        np.testing.assert_array_equal(pr.ranks_at(net, X, method=method), np.tile([3, 0, 0], (10, 1)))


# ---------------------------------------------------------------------------- truths and invariances
def test_codeword_sizes_bound_ranks(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 45, [40, 20, 30, 5], scaled=True)
    X = rng.normal(size=(60, 45))
    sizes = pr.codeword_sizes_at(net, X)
    np.testing.assert_array_equal(sizes, np.stack([p.sum(1) for p in net.patterns(X)], axis=1))
    ranks = pr.ranks_at(net, X)
    assert (ranks <= np.minimum.accumulate(np.minimum(sizes, 45), axis=1)).all()
    assert (np.diff(ranks, axis=1) <= 0).all()  # rank(A_{K+1}) <= rank(A_K)


def test_permuting_hidden_units_keeps_ranks(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 34, [40, 20, 12], scaled=True)
    p = rng.permutation(40)
    W, b = list(net.weights), list(net.biases)
    perm = pr.ReLUNetwork.from_weights([W[0][p], W[1][:, p], W[2]], [b[0][p], b[1], b[2]])
    X = rng.normal(size=(30, 34))
    np.testing.assert_array_equal(pr.ranks_at(net, X), pr.ranks_at(perm, X))


def test_float32_agrees_with_float64_when_well_conditioned(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 4, [12, 10, 8], scaled=True)
    X = rng.normal(size=(400, 4))
    # keep points whose pre-activations are far from zero (the same pattern in float32)
    margin = np.min(np.abs(np.concatenate(net.preactivations(X), axis=1)), axis=1)
    X = X[margin > 1e-3]
    # ... and whose maps A_K have no singular value near float32's rank threshold (seed
    # 24 had sigma_min / sigma_max = 4e-7 at layer 3: rank 4 in float64, 3 in float32)
    P = np.concatenate([z > 0 for z in net.preactivations(X)], axis=1)
    off = net.offsets

    def conditioned(p):
        for k, (M, _) in enumerate(net.affine_maps(p)):
            S = np.linalg.svd(M[p[off[k]: off[k + 1]]], compute_uv=False)
            if S.size and np.any((S > 1e-12 * S[0]) & (S < 1e-3 * S[0])):
                return False
        return True

    X = X[[conditioned(p) for p in P]]
    assert len(X) > 100
    r64 = pr.ranks_at(net, X)
    r32 = pr.ranks_at(net, X, dtype=np.float32)
    np.testing.assert_array_equal(r32, r64)
    np.testing.assert_array_equal(pr.ranks_at(net, X, dtype="float32", method="certify"), r64)


@pytest.mark.parametrize("method", ["direct", "certify"])
def test_chunking_does_not_change_results(method, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 6, [10, 9, 7], scaled=True)
    X = rng.normal(size=(23, 6))
    ref = pr.ranks_at(net, X, method=method)
    for kw in ({"batch_size": 1}, {"batch_size": 7}, {"max_memory": 20_000}, {"progress": True}):
        np.testing.assert_array_equal(pr.ranks_at(net, X, method=method, **kw), ref)
    np.testing.assert_array_equal(pr.codeword_sizes_at(net, X, batch_size=5), pr.codeword_sizes_at(net, X))


def test_layers_selection_and_empty_input():
    rng = np.random.default_rng(0)
    net = random_net(rng, 3, [5, 4, 3], scaled=True)
    X = rng.normal(size=(9, 3))
    full = pr.ranks_at(net, X)
    np.testing.assert_array_equal(pr.ranks_at(net, X, layers=[3, 1]), full[:, [2, 0]])
    assert pr.ranks_at(net, np.zeros((0, 3))).shape == (0, 3)
    assert pr.codeword_sizes_at(net, np.zeros((0, 3)), layers=2).shape == (0, 1)


def test_absolute_tol_counts_singular_values_above_it():
    # one layer, A_1 = diag(3, 2, 1) on the positive orthant
    net = pr.ReLUNetwork.from_weights([np.diag([3.0, 2.0, 1.0])], [np.zeros(3)])
    X = np.ones((2, 3))
    for method in ("direct", "certify"):
        assert pr.ranks_at(net, X, tol=1.5, method=method).tolist() == [[2], [2]]
        assert pr.ranks_at(net, X, tol=0.5, method=method).tolist() == [[3], [3]]


# ---------------------------------------------------------------------------- errors
def test_bad_arguments():
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="shape"):
        pr.ranks_at(net, np.ones(2))
    with pytest.raises(ValueError, match="'layers'"):
        pr.ranks_at(net, X, layers=2)
    with pytest.raises(ValueError, match="'layers'"):
        pr.ranks_at(net, X, layers=[0])
    with pytest.raises(ValueError, match="'dtype'"):
        pr.ranks_at(net, X, dtype="int32")
    with pytest.raises(ValueError, match="'method'"):
        pr.ranks_at(net, X, method="svd")
    with pytest.raises(ValueError, match="'tol'"):
        pr.ranks_at(net, X, tol=-1.0)
    with pytest.raises(ValueError, match="'batch_size'"):
        pr.codeword_sizes_at(net, X, batch_size=0)
    with pytest.raises(MemoryBudgetError, match="max_memory"):
        pr.ranks_at(net, X, max_memory=8)
    with pytest.raises(TypeError, match="ReLUNetwork or a torch"):
        pr.ranks_at("net", X)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            pr.ranks_at(net, X, device="cuda")


def test_ranks_at_treats_exactly_cancelling_rows_as_zero_like_the_engines():
    """relu(x) - relu(x) has gradient 0 exactly, but scaling the layers (0.01 and 50)
    rounds it to ~1e-18; a relative rank threshold alone would count that row (rank 1).
    The engines treat rows of constant units as zero; ranks_at must agree with them."""
    net = scaled_layers(int_net(np.random.default_rng(30), 2, (4, 3)), (0.01, 50.0))
    box = pr.Box(-2, 2, dim=2)
    for method in ("lp", "subdivision"):
        dec = pr.enumerate_regions(net, box, method=method)
        W = np.array([r.witness for r in dec.regions])
        R = np.array([r.ranks for r in dec.regions])
        assert np.array_equal(pr.rank.ranks_at(net, W, method="direct"), R)
        assert np.array_equal(pr.rank.ranks_at(net, W, method="certify"), R)
        assert (R[:, -1] == 0).any()  # the cancelling region is there


# ----------------------------------------------------------------------------- the one rank rule
def _near_singular_stack(rng, n, m, d):
    """Random m x d matrices, a third of them with a rank drop hidden under rounding noise."""
    M = rng.normal(size=(n, m, d))
    k = min(m, d)
    for i in range(0, n, 3):
        U = rng.normal(size=(m, k - 1))
        M[i] = U @ rng.normal(size=(k - 1, d)) + 10.0 ** rng.integers(-17, -9) * rng.normal(size=(m, d))
    return M


@pytest.mark.parametrize("m, d", [(2, 3), (3, 3), (5, 3), (4, 2), (1, 4)])
def test_cholesky_certificate_never_contradicts_the_svd_rule(m, d, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    M = _near_singular_stack(rng, 60, m, d)
    svd = pr.rank.batched_ranks(M)
    G = M @ M.transpose(0, 2, 1) if m <= d else M.transpose(0, 2, 1) @ M
    ok = pr.rank.full_rank_certified(G, n_rows=m, sizes=m, d=d)
    assert ok.any()
    assert (svd[ok] == min(m, d)).all()  # a certificate proves full rank under the SVD rule
    # the scalar kernel (compiled by the subdivision engine) decides exactly as the batched form
    for i in range(len(G)):
        Gi = G[i].copy()
        delta = pr.rank.certificate_shift(float(np.trace(G[i])), m, m, d)
        assert pr.rank.cholesky_full_rank(Gi, Gi.shape[0], delta) == ok[i]


def test_batched_ranks_is_matrix_rank_with_rules_1_and_3(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    M = _near_singular_stack(rng, 30, 4, 3)
    assert [pr.rank.matrix_rank(A) for A in M] == pr.rank.batched_ranks(M).tolist()
    M[:, 0] *= 1e-14  # rows at most zero_tol are constant units: they count as zero
    want = [pr.rank.matrix_rank(A[1:]) for A in M]
    got = pr.rank.batched_ranks(M[:, 1:], sizes=np.full(30, 4))
    assert pr.rank.batched_ranks(M, sizes=np.full(30, 4), zero_tol=1e-9).tolist() == got.tolist()
    assert all(g <= w for g, w in zip(got, want))  # the larger size only raises the threshold
    assert pr.rank.batched_ranks(M, cap=np.ones(30, dtype=int)).max() <= 1


# ---------------------------------------------------------------------------- pattern_ranks
@pytest.mark.parametrize("d,widths", [(3, [6, 5, 4]), (40, [24, 12, 6])])  # direct, certify
def test_pattern_ranks_equal_the_rank_of_the_local_map_of_arbitrary_patterns(d, widths, global_random_seed):
    # patterns need not be realised by any point: oracle = matrix_rank of net.local_affine, capped
    # by the earlier layers' ranks (rule 3); half the patterns have few units on (rank drops)
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, widths, scaled=True)
    P = rng.random((40, sum(widths))) < np.where(np.arange(40) % 2, 0.8, 0.15)[:, None]
    R = pr.rank.pattern_ranks(net, P)
    for p, r in zip(P, R):
        expect = [pr.rank.matrix_rank(net.local_affine(p, layer=K)[0]) for K in range(1, len(widths) + 1)]
        assert r.tolist() == np.minimum.accumulate(expect).tolist()
    X = rng.normal(size=(30, d))
    assert np.array_equal(pr.rank.pattern_ranks(net, net.patterns(X, flat=True)), pr.ranks_at(net, X))


def test_pattern_ranks_bad_input():
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    with pytest.raises(ValueError, match="'patterns' parameter of pattern_ranks must have shape"):
        pr.rank.pattern_ranks(net, np.ones((3, 5), bool))


@pytest.mark.parametrize("duplicate", [False, True])
def test_last_layer_alone_from_the_narrow_end_equals_the_rank_of_the_local_map(duplicate, global_random_seed):
    # one requested narrow layer (Fig. 3B's case) is sketched from its end; duplicated units
    # make the rank drop below the codeword size, which the certificate must not claim
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 40, [30, 20, 6], duplicate=duplicate)
    X = rng.normal(size=(80, 40))
    r = pr.ranks_at(net, X, [3], method="certify")[:, 0]
    P = net.patterns(X, flat=True)
    expect = [min(pr.rank.matrix_rank(net.local_affine(p, layer=3)[0]), 40, *[int(s.sum()) for s in
              np.split(p, np.cumsum(net.widths)[:-1])]) for p in P]
    assert r.tolist() == expect
    if duplicate:  # where both copies of layer 3's first unit are on, the rank is below c_3
        both = P[:, -6] & P[:, -1]
        assert (r[both] < P[both, -6:].sum(1)).all()


def _numpy_ranks(net, X):
    """Per-point reference with numpy alone: for each point and layer, matrix_rank of the active
    rows of net.local_affine, capped by min(d, c_1..c_K) and by the earlier layers (rule 3)."""
    out = []
    for p, x in zip(net.patterns(X, flat=True), X):
        pats = np.split(p, np.cumsum(net.widths)[:-1])
        row = []
        for K in range(1, net.n_layers + 1):
            A = net.local_affine(p, layer=K)[0][pats[K - 1]]
            row.append(min(pr.rank.matrix_rank(A) if len(A) else 0, net.input_dim,
                           *[int(s.sum()) for s in pats[:K]]))
        out.append(np.minimum.accumulate(row))
    return np.array(out)


@pytest.mark.parametrize("d", [16, 30])  # layer 1 certified as U_b^T U_b (c_1 > d) / as U U^T (c_1 < d)
@pytest.mark.parametrize("low_rank", [False, True])
def test_blocked_certificate_equals_per_point_numpy_rank(d, low_rank, global_random_seed):
    # Gram matrices wider than 2 * GRAM_BLOCKS are formed block by block; a rank-6 second layer
    # (and duplicated units) makes the rank fall below the codeword bound at every point, where
    # the certificate must fail and the fallback (in batches within max_memory) decide
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, d, [50, 40, 25, 8], scaled=True, duplicate=True)
    if low_rank:
        Ws = [np.array(W) for W in net.weights]
        Ws[1] = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 50)) / np.sqrt(50)
        net = pr.ReLUNetwork.from_weights(Ws, [np.array(b) for b in net.biases])
    X = rng.normal(size=(60, d)) * 2.0
    expect = _numpy_ranks(net, X)
    b = bound(net, X)
    assert max(b[:, 0]) > 2 * pr.rank.GRAM_BLOCKS  # the blocked Gram path runs
    if low_rank:
        assert (expect[:, 1] < b[:, 1]).mean() > 0.5
    for mem in (None, 400_000):  # one chunk / many chunks and fallback batches
        R, C = pr.ranks_at(net, X, method="certify", max_memory=mem, return_codeword_sizes=True)
        np.testing.assert_array_equal(R, expect)
        np.testing.assert_array_equal(C, np.stack([p.sum(1) for p in net.patterns(X)], axis=1))
    np.testing.assert_array_equal(pr.ranks_at(net, X, [4], method="certify")[:, 0], expect[:, 3])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gathered_blocks_equal_numpy_fancy_indexing(dtype, global_random_seed):
    # the compiled gather of the certify chain against numpy's W[np.ix_(rows, cols)] per point,
    # padding indices (the zero row / column of the padded weights) included
    rng = np.random.default_rng(global_random_seed)
    W = np.zeros((9, 12))
    W[:8, :11] = rng.normal(size=(8, 11))
    rows = np.stack([np.r_[np.sort(rng.choice(8, size=r, replace=False)), [8] * (5 - r)] for r in (5, 3, 0, 1)]).astype(np.int64)
    cols = np.stack([np.r_[np.sort(rng.choice(11, size=c, replace=False)), [11] * (7 - c)] for c in (7, 0, 4, 2)]).astype(np.int64)
    got = pr.rank._gather_blocks(torch.tensor(W, dtype=dtype), torch.from_numpy(rows), torch.from_numpy(cols))
    assert got.dtype == dtype and got.shape == (4, 5, 7)
    for p in range(4):
        np.testing.assert_array_equal(got[p].numpy(), W[np.ix_(rows[p], cols[p])].astype(got[p].numpy().dtype))


def test_certify_ranks_do_not_depend_on_the_gather(monkeypatch, global_random_seed):
    # the torch gather (other devices, no numba) and the compiled one give the same ranks,
    # both equal to the per-point numpy rank
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 40, [60, 30, 12], scaled=True, duplicate=True)
    X = rng.normal(size=(30, 40)) * 2.0
    expect = _numpy_ranks(net, X)
    np.testing.assert_array_equal(pr.ranks_at(net, X, method="certify"), expect)
    monkeypatch.setattr(pr.rank, "_gather_kernel", lambda: None)
    np.testing.assert_array_equal(pr.ranks_at(net, X, method="certify"), expect)


def test_row_subset_certificate_and_its_retry(monkeypatch, global_random_seed):
    # layer 1 with c_1 - d > GRAM_ROW_OVERSAMPLE: the certificate first uses the first d + 64 active
    # rows. Its first 100 units have no weight on the last input coordinate, so that subset has rank
    # d - 1 and fails; the retry with all rows must certify rank d without the exact fallback
    rng = np.random.default_rng(global_random_seed)
    d = 8
    W1 = rng.normal(size=(150, d))
    W1[:100, -1] = 0.0
    b1 = np.full(150, 50.0)  # every unit active on the inputs below
    W2, b2 = rng.normal(size=(12, 150)) / 12.0, rng.normal(size=12)
    net = pr.ReLUNetwork.from_weights([W1, W2], [b1, b2])
    X = rng.normal(size=(20, d))
    assert (net.patterns(X)[0].sum(1) - d > pr.rank.GRAM_ROW_OVERSAMPLE).all()
    expect = _numpy_ranks(net, X)
    assert (expect[:, 0] == d).all()
    calls = []
    real = pr.rank._ranks_exact_chain
    monkeypatch.setattr(pr.rank, "_ranks_exact_chain", lambda tn, idx, c, b, K, sel, *a: calls.append(K)
                        or real(tn, idx, c, b, K, sel, *a))
    np.testing.assert_array_equal(pr.ranks_at(net, X, method="certify"), expect)
    assert 1 not in calls  # layer 1 certified by the retry, not by the SVD fallback
    # and a generic wide first layer (the subset certifies) against the per-point numpy rank
    net = random_net(rng, d, [120, 30, 10], scaled=True)
    X = rng.normal(size=(40, d)) * 2.0
    np.testing.assert_array_equal(pr.ranks_at(net, X, method="certify"), _numpy_ranks(net, X))


def test_gram_certificate_without_in_place_cholesky(monkeypatch, global_random_seed):
    # a torch build that refuses cholesky_ex's output aliasing its input: the copying call decides,
    # with the same ranks as numpy's per-point rank
    import torch

    real = torch.linalg.cholesky_ex

    def refuse_out(A, *args, **kwargs):
        if kwargs.get("out") is not None:
            raise RuntimeError("out= refused")
        return real(A, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "cholesky_ex", refuse_out)
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 20, [40, 30, 8], scaled=True)
    Ws = [np.array(W) for W in net.weights]
    Ws[1] = rng.normal(size=(30, 6)) @ rng.normal(size=(6, 40)) / np.sqrt(40)  # rank 6 < bound
    net = pr.ReLUNetwork.from_weights(Ws, [np.array(b) for b in net.biases])
    X = rng.normal(size=(30, 20)) * 2.0
    b, expect = bound(net, X), _numpy_ranks(net, X)
    assert max(b[:, 0]) > 2 * pr.rank.GRAM_BLOCKS and (expect[:, 1] < b[:, 1]).any()
    np.testing.assert_array_equal(pr.ranks_at(net, X, method="certify"), expect)


@pytest.mark.parametrize("give_up", [False, True])
def test_point_by_point_paths_equal_per_point_numpy_rank(monkeypatch, give_up, global_random_seed):
    # On the CPU a single requested layer runs point by point from the narrow end (sketched
    # certificate first), and the exact path runs point by point with the engines' Cholesky
    # certificate before the SVD; a narrow layer 2 makes layer 3's bound (c_2) lower than its rows
    # (the row-subset certificate), duplicated units make ranks drop. With give_up, every layer
    # stops trying the sketch after the first points, so the exact path decides almost everywhere.
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 24, [40, 12, 30, 8], scaled=True, duplicate=True)
    X = rng.normal(size=(70, 24)) * 2.0
    expect = _numpy_ranks(net, X)
    b = bound(net, X)
    assert (b[:, 2] < np.stack([p.sum(1) for p in net.patterns(X)], axis=1)[:, 2]).any()
    if give_up:
        monkeypatch.setattr(pr.rank, "SKETCH_GIVE_UP", -1.0)
        monkeypatch.setattr(pr.rank, "SKETCH_GIVE_UP_MIN_POINTS", 1)
    exact_points, svd_rows = [], []
    real_exact, real_svd = pr.rank._ranks_exact_points, torch.linalg.svdvals

    def exact(tn, idx, counts, bounds, K, sel, *a, **k):
        exact_points.append(int(sel.numel()))
        return real_exact(tn, idx, counts, bounds, K, sel, *a, **k)

    def svd(A, *a, **k):
        svd_rows.append(1 if A.dim() == 2 else A.shape[0])
        return real_svd(A, *a, **k)

    monkeypatch.setattr(pr.rank, "_ranks_exact_points", exact)
    monkeypatch.setattr(torch.linalg, "svdvals", svd)
    for mem in (None, 200_000):
        np.testing.assert_array_equal(pr.ranks_at(net, X, method="certify", max_memory=mem), expect)
    for K in (3, 4):
        np.testing.assert_array_equal(pr.ranks_at(net, X, [K], method="certify")[:, 0], expect[:, K - 1])
    assert sum(exact_points) > 0
    if give_up:  # the exact path ran at most points; its certificate spared some of them the SVD
        assert sum(svd_rows) < sum(exact_points)
    # the batched exact path (other devices, no numba) gives the same ranks
    monkeypatch.setattr(pr.rank, "_exact_per_point", lambda tn: False)
    np.testing.assert_array_equal(pr.ranks_at(net, X, method="certify"), expect)


def test_point_by_point_certificate_shift_counts_the_grams_inner_dimension(monkeypatch, global_random_seed):
    # certificate_shift's rounding term is (n_rows + 2 d + 2) eps trace with n_rows the map's
    # nonzero rows: where n_rows > d the Gram matrix is V^T V, summed over those n_rows rows. The
    # point-by-point exact path must pass them (as _exact_certificate and full_rank_certified do),
    # not the rank it proves (d), which shrinks the shift below the Gram's rounding bound.
    rng = np.random.default_rng(global_random_seed)
    net = random_net(rng, 3, [40, 40], scaled=True)
    X = rng.normal(size=(40, 3))
    monkeypatch.setattr(pr.rank, "SKETCH_GIVE_UP", -1.0)  # the exact path decides (almost) everywhere
    monkeypatch.setattr(pr.rank, "SKETCH_GIVE_UP_MIN_POINTS", 1)
    calls, grams = [], []
    real_shift, real_gram = pr.rank.certificate_shift, pr.rank._gram_cholesky_ok_batch

    def shift(trace, n_rows, size, d):
        calls.append(int(np.max(n_rows)))
        return real_shift(trace, n_rows, size, d)

    def gram(V, s):  # the Gram matrix factorised right after a shift was computed for it
        grams.append((calls.pop() if calls else None, tuple(V.shape)))
        return real_gram(V, s)

    monkeypatch.setattr(pr.rank, "certificate_shift", shift)
    monkeypatch.setattr(pr.rank, "_gram_cholesky_ok_batch", gram)
    expect = _numpy_ranks(net, X)
    np.testing.assert_array_equal(pr.ranks_at(net, X, [2], method="certify")[:, 0], expect[:, 1])
    checked = 0
    for n_rows, (_, m, k) in grams:
        if n_rows is not None and m == 3 and k > 3:  # V^T V of a map with k > d nonzero rows
            assert n_rows >= k
            checked += 1
    assert checked > 0
