"""Exact min/max codeword size and one-layer rank by MILP, checked against the enumerator and sampling."""

import numpy as np
import pytest

import polyrank as pr
from polyrank import init


def _schemes(d, widths, seed):
    """Every weight scheme of polyrank.init, with a domain where its regions are interesting.

    Zero-bias networks in d = 3 put a vertex of 6 hyperplanes at the origin, which the
    enumerator's qhull path does not handle (reported); they get PyTorch-default biases there.
    """
    zb = "zero" if d == 2 else "default"
    box = pr.Box(-5.0, 5.0, dim=d)
    return [
        ("default", init.default(d, widths, seed=seed), box),
        ("normal", init.normal(d, widths, mean=0.1, seed=seed), box),
        ("positive_uniform", init.positive_uniform(d, widths, seed=seed, bias="default"), box),
        ("rank_selection", init.rank_selection(d, widths[0], 2, seed=seed, bias=zb), box),
        ("dale", init.dale(d, widths[0], 1, seed=seed, bias=zb), pr.Box(0.0, 10.0, dim=d)),
    ]


def _enumerated_sizes(net, box, seed):
    rng = np.random.default_rng(seed)
    lo, hi = box.bounding_box()
    start = lo + (hi - lo) * rng.uniform(0.2, 0.8, size=net.input_dim)  # off the origin
    dec = pr.enumerate_regions(net, box, start=start)
    return np.array([r.codeword_sizes[-1] for r in dec.regions]), dec


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("widths", [[6], [5, 4]])
def test_milp_extremes_equal_enumeration(d, widths, global_random_seed):
    for name, net, box in _schemes(d, widths, global_random_seed):
        sizes, dec = _enumerated_sizes(net, box, global_random_seed)
        lo = pr.min_codeword_size(net, box)
        hi = pr.max_codeword_size(net, box)
        assert (lo.value, hi.value) == (sizes.min(), sizes.max()), name
        assert lo.status == hi.status == "optimal"
        assert lo.bound == lo.value and hi.bound == hi.value
        # the witness lies inside a region with the reported pattern (forward pass)
        for res in (lo, hi):
            assert box.contains(res.x[None])[0]
            got = net.patterns(res.x[None], flat=True)[0][: len(res.pattern)]
            assert np.array_equal(got, res.pattern)
            assert int(res.pattern[net.layer_slice(res.layer)].sum()) == res.value
            assert pr.regions.pattern_key(res.pattern) in {pr.regions.pattern_key(r.pattern) for r in dec.regions}


@pytest.mark.parametrize("d", [2, 3])
def test_min_rank_equals_enumerated_min_rank(d, global_random_seed):
    for name, net, box in _schemes(d, [7], global_random_seed):
        _, dec = _enumerated_sizes(net, box, global_random_seed)
        ranks = dec.ranks()
        lo, hi = pr.min_rank(net, box), pr.max_rank(net, box)
        assert lo.value == ranks.min() and hi.value == ranks.max(), name
        assert lo.exact and hi.exact and lo.general_position is True


def test_never_above_sampled_estimates(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    for d, n in [(2, 12), (4, 10), (6, 8)]:
        net = init.default(d, n, seed=rng)
        box = pr.Box(-5.0, 5.0, dim=d)
        X = box.sample(1000, seed=rng)
        P = net.patterns(X)[0]
        sampled_ranks = np.array([pr.rank.matrix_rank(net.weights[0][p]) for p in P])
        lo, hi = pr.min_codeword_size(net, box), pr.max_codeword_size(net, box)
        assert lo.value <= P.sum(axis=1).min() and hi.value >= P.sum(axis=1).max()
        r = pr.min_rank(net, box)
        assert r.value <= sampled_ranks.min()
        assert pr.max_rank(net, box).value >= sampled_ranks.max()


@pytest.mark.parametrize("d,n", [(2, 10), (3, 12)])
def test_rank_selection_bound(d, n, global_random_seed):
    """Paper's bound: a U(0,1) layer with k negated rows has minimum rank <= min(k, n - k, d)."""
    box = pr.Box(-5.0, 5.0, dim=d)
    for k in range(n + 1):
        net = init.rank_selection(d, n, k, seed=global_random_seed)
        res = pr.min_rank(net, box)
        assert res.value <= min(k, n - k, d)
        # with no negated row (or all negated) the region {x < 0} (or {x > 0}) is all-off: rank 0
        if k in (0, n):
            assert res.value == 0


def test_dale_three_regimes(global_random_seed):
    """On x >= 0: few inhibitory inputs -> every region has full rank; balanced -> both
    rank 0 and full rank; all inhibitory -> only rank 0 (the paper's Fig. 2D regimes)."""
    d, n = 6, 12
    box = pr.Box(0.0, 10.0, dim=d)
    seen = []
    for k in range(d + 1):
        net = init.dale(d, n, k, seed=global_random_seed)
        lo, hi = pr.min_rank(net, box), pr.max_rank(net, box)
        assert lo.value <= hi.value
        seen.append((lo.value, hi.value))
    assert seen[0] == (d, d)  # purely excitatory: every unit fires on x > 0
    assert seen[-1] == (0, 0)  # purely inhibitory: nothing fires on x >= 0
    assert any(lo < d and hi == d for lo, hi in seen)  # mixed regime
    mins = [lo for lo, _ in seen]
    maxs = [hi for _, hi in seen]
    assert mins == sorted(mins, reverse=True) or mins[0] >= mins[-1]
    assert maxs[0] >= maxs[-1]


def test_polytope_domain_and_bounds_agree_with_enumeration(global_random_seed):
    net = init.default(2, [6, 5], seed=global_random_seed)
    tri = pr.Simplex([[-4.0, -4.0], [4.0, -3.0], [0.0, 4.0]])
    dec = pr.enumerate_regions(net, tri)
    sizes = np.array([r.codeword_sizes[-1] for r in dec.regions])
    for K in (1, 2):
        s = np.array([r.codeword_sizes[K - 1] for r in dec.regions])
        assert pr.min_codeword_size(net, tri, layer=K).value == s.min()
        assert pr.max_codeword_size(net, tri, layer=K).value == s.max()
    assert pr.min_codeword_size(net, tri).value == sizes.min()


def test_one_unit_hand_checkable():
    # z = x - 1 on [-2, 2]: off on [-2, 1), on on (1, 2]
    net = pr.ReLUNetwork.from_weights([[[1.0]]], [[-1.0]])
    box = pr.Box(-2.0, 2.0, dim=1)
    assert pr.min_codeword_size(net, box).value == 0
    assert pr.max_codeword_size(net, box).value == 1
    # z = x - 1 on [1, 2]: z = 0 only at the boundary point x = 1; the only region is "on"
    edge = pr.Box(1.0, 2.0, dim=1)
    assert pr.min_codeword_size(net, edge).value == 1


def test_general_position_failure_is_reported():
    # two identical rows in d = 2: rows dependent, so general position fails
    W = np.array([[1.0, 0.5], [1.0, 0.5], [-0.3, 1.0]])
    net = pr.ReLUNetwork.from_weights([W], [[0.1, 0.1, -0.2]])
    res = pr.max_rank(net, pr.Box(-5.0, 5.0, dim=2))
    assert res.general_position is False and not res.exact
    assert res.value == pr.rank.matrix_rank(W[res.pattern])


def test_bad_inputs():
    net = init.default(2, [4, 3], seed=0)
    with pytest.raises(ValueError, match="bounded"):
        pr.min_codeword_size(net, None)
    with pytest.raises(ValueError, match="dimension"):
        pr.min_codeword_size(net, pr.Box(-1.0, 1.0, dim=3))
    with pytest.raises(ValueError, match="layer"):
        pr.max_codeword_size(net, pr.Box(-1.0, 1.0, dim=2), layer=3)
    with pytest.raises(ValueError, match="time_limit"):
        pr.min_codeword_size(net, pr.Box(-1.0, 1.0, dim=2), time_limit=-1)
    with pytest.raises(ValueError, match="one hidden layer"):
        pr.min_rank(net, pr.Box(-1.0, 1.0, dim=2))


def test_min_rank_survives_a_highs_presolve_solve_error():
    """Seed 70, k = 9: one of min_rank's MILPs ends in HiGHS's "Solve error" with presolve
    on; without presolve it is infeasible (scipy's HiGHS agrees). The bound must hold."""
    net = init.rank_selection(2, 10, 9, seed=70)
    res = pr.min_rank(net, pr.Box(-5.0, 5.0, dim=2))
    assert res.value <= 1
