"""The subdivision engine in input dimension 5-10 against independent truths: the LP engine
(a second method), Zaslavsky's count over all of R^d, volumes summing to the domain's."""

from math import comb

import numpy as np
import pytest

import polyrank as pr
from polyrank import subdivision
from test_subdivision import _assert_certified, _assert_same, _lp, _many_chunks, _net  # noqa: F401 (autouse)


@pytest.mark.parametrize("d, widths", [(5, (6, 4)), (6, (5, 4))])
def test_same_as_lp_engine_random(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths)
    box = pr.Box(-2.0, 2.0, dim=d)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    _assert_same(_lp(net, box), sd)
    _assert_certified(sd)


@pytest.mark.parametrize("d, widths, kind", [(5, (5, 3), "integer"), (5, (5, 3), "zero_bias"),
                                             (6, (4, 3), "duplicate")])
def test_same_as_lp_engine_degenerate(d, widths, kind, global_random_seed):
    """Vertices exactly on hyperplanes (integer weights in an integer box), many
    hyperplanes through one point (zero biases), duplicated neurons, in 5-D and 6-D."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths, **{kind: True})
    box = pr.Box(-2.0, 2.0, dim=d)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    _assert_same(_lp(net, box), sd)
    _assert_certified(sd)


@pytest.mark.parametrize("d", [5])
def test_volumes_sum_to_domain(d, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, (6, 3))
    box = pr.Box(-1.5, 2.0, dim=d)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    assert sd.total_volume() == pytest.approx(box.volume(), rel=1e-9)
    simplex = pr.Simplex(np.vstack([np.zeros(d), 3.0 * np.eye(d)]) - 1.0)
    sd = pr.enumerate_regions(net, simplex, method="subdivision")
    assert sd.total_volume() == pytest.approx(simplex.volume(), rel=1e-9)


@pytest.mark.parametrize("d, n", [(5, 7), (6, 8)])
def test_zaslavsky_one_layer_all_of_space(d, n, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, (n,))
    sd = pr.enumerate_regions(net, None, method="subdivision")
    assert len(sd) == sum(comb(n, i) for i in range(d + 1))
    assert sum(r.bounded for r in sd) == comb(n - 1, d)
    _assert_certified(sd)


def test_ten_inputs_sampled_patterns_are_found(global_random_seed):
    """10-D: every pattern seen at 3000 random points of the box is a region, and each
    region's witness has the region's pattern (qhull volumes are out of reach in 10-D)."""
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, 10, (5,))
    box = pr.Box(-1.0, 1.0, dim=10)
    sd = pr.enumerate_regions(net, box, method="subdivision")
    X = box.sample(3000, seed=rng)
    assert {tuple(p) for p in net.patterns(X, flat=True)} <= {r.pattern for r in sd}
    _assert_certified(sd)


def test_auto_uses_subdivision_up_to_the_crossover():
    for d in range(2, subdivision.SUBDIVISION_MAX_DIM + 1):
        box = pr.Box(-1.0, 1.0, dim=d)
        for n in (2, 32):
            net = pr.ReLUNetwork.from_weights([np.ones((n, d))], [np.zeros(n)])
            want = d <= subdivision.AUTO_MAX_DIM and n >= subdivision.AUTO_MIN_UNITS.get(d, 0)
            assert subdivision.applies(net, box) == want
            assert subdivision.applies(net, None) == (d <= subdivision.AUTO_MAX_DIM_UNBOUNDED)
    assert subdivision.applies(pr.ReLUNetwork.from_weights([np.ones((2, 9))], [np.zeros(2)]),
                               pr.Box(-1.0, 1.0, dim=9))
    net11 = pr.ReLUNetwork.from_weights([np.ones((2, 11))], [np.zeros(2)])
    assert not subdivision.applies(net11, pr.Box(-1.0, 1.0, dim=11))
    with pytest.raises(ValueError, match="input dimension 1..10"):
        subdivision.enumerate_subdivision(net11)
