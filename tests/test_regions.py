"""The core result types: Region, Decomposition, RankCell (checked against independent truths)."""

import pickle

import numpy as np
import pytest

import polyrank as pr
from conftest import random_net


@pytest.fixture(params=["lp", "subdivision"])
def dec(request, global_random_seed):
    net = random_net(np.random.default_rng(global_random_seed), 2, [5, 4])
    return pr.enumerate_regions(net, pr.Box(-2, 2, dim=2), method=request.param)


def test_volumes_sum_to_the_domain(dec):
    assert dec.total_volume() == pytest.approx(16.0, rel=1e-9)
    assert all(r.volume() > 0 for r in dec.regions)


def test_rank_histogram_counts_every_region(dec):
    for K in (1, 2):
        hist = dec.rank_histogram(K)
        assert sum(hist.values()) == len(dec)
        assert set(hist) <= set(range(3))
        assert np.array_equal(np.bincount(dec.ranks(K), minlength=3)[sorted(hist)], [hist[r] for r in sorted(hist)])


def test_region_fields_agree_with_the_network(dec):
    net = dec.net
    for r in dec.regions:
        assert np.array_equal(net.patterns(r.witness[None], flat=True)[0], np.array(r.pattern))
        assert r.contains(r.witness[None])[0]
        assert tuple(r.codeword_sizes) == tuple(int(r.layer_pattern(K).sum()) for K in (1, 2))
        cap = net.input_dim
        for K in (1, 2):
            A, a = r.affine(K)
            # A_1 = D_1 W_1 is exact in floats; the product A_2 may round a rank drop away,
            # which the rank rule's cap by the earlier layer removes (rank A_2 <= rank A_1)
            assert r.rank(K) == r.ranks[K - 1] == min(pr.rank.exact_rank(A), cap)
            cap = r.rank(K)
            assert np.allclose(A @ r.witness + a, net.forward(r.witness[None], layer=K)[0])
        assert r.rank() == r.ranks[-1]


def test_rank_cells_partition_the_regions(dec):
    for K in (1, 2):
        cells = dec.rank_cells(K)
        ids = sorted(i for c in cells for i in c.regions)
        assert ids == list(range(len(dec)))
        ranks = dec.ranks(K)
        for c in cells:
            assert len(c) == len(c.regions) and all(ranks[i] == c.rank for i in c.regions)
        # two cells with equal rank never share a facet (else they would be one cell)
        cell_of = {i: j for j, c in enumerate(cells) for i in c.regions}
        for i, j, _ in dec.edges:
            if ranks[i] == ranks[j]:
                assert cell_of[i] == cell_of[j]


def test_pickle_round_trip_is_equal(dec):
    back = pickle.loads(pickle.dumps(dec))
    assert len(back) == len(dec) and back.layer == dec.layer and back.method == dec.method
    assert np.array_equal(back.patterns, dec.patterns)
    for K in (1, 2):
        assert np.array_equal(back.ranks(K), dec.ranks(K))
    assert back.edges == dec.edges
    for a, b in zip(back.regions, dec.regions):
        assert a.pattern == b.pattern and a.ranks == b.ranks and a.facets == b.facets
        assert np.array_equal(a.A, b.A) and np.array_equal(a.b, b.b) and np.array_equal(a.witness, b.witness)


def test_locate_finds_the_region_of_each_point(dec, global_random_seed):
    X = np.random.default_rng(global_random_seed).uniform(-2, 2, size=(50, 2))
    idx = dec.locate(X)
    for x, i in zip(X, idx):
        assert i >= 0 and dec[i].contains(x[None])[0]
    assert dec.locate(np.array([[5.0, 0.0]]))[0] == -1  # outside the domain


@pytest.mark.parametrize("layer", [0, -1, 3])
def test_bad_layers_are_rejected_not_wrapped(dec, layer):
    # layer 0 used to index ranks[-1] (the last layer) silently
    for call in (dec.ranks, dec.rank_histogram, dec.rank_cells, dec.regions[0].rank):
        with pytest.raises(ValueError, match="layer must be a hidden layer in 1..2"):
            call(layer)
    with pytest.raises(TypeError, match="layer must be an int"):
        dec.rank_histogram(1.5)
