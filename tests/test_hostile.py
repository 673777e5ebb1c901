"""Hostile inputs (issue 19): one test per class of failure, each against a truth that does not
come from the code under test (a hand-derived count or area, the same network in other units
or another frame, a formula), with hypothesis where the class has a parameter.

Classes: the scale of the domain, of its position and of the weights (local frame and scaled
units), precision out of reach (a warning and a flag), thin domains, layer numbers, overflowing
pre-activations, simplicial complexes with fractional or repeated ids, complex numbers, slivers
thinner than ``tol``, limits and budgets, round trips. The engines' agreement under every scale
is fuzzed at the end (``test_engines_agree_at_any_scale``; a longer run is marked slow).
"""

import io
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import polyrank as pr
from conftest import int_net, net_of
from polyrank.exceptions import MemoryBudgetError, PrecisionWarning, RegionLimitError

METHODS = ["lp", "subdivision"]
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def patterns_of(dec):
    return sorted(r.pattern for r in dec)


def ranks_by_pattern(dec):
    return {r.pattern: r.ranks for r in dec}


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        return fn(*args, **kw)


def moved(net, c, w):
    """``net`` composed with y = (x - c) / w: its regions over Box(c - w, c + w) are those of
    ``net`` over Box(-1, 1), with the same patterns and ranks."""
    d = net.input_dim
    c = np.full(d, float(c))
    return net.restrict(np.eye(d) / w, -c / w)


def scaled(net, exps):
    """Layer l multiplied by 10^e_l (weights) and by 10^(e_1 + ... + e_l) (biases): z_l is
    multiplied by a positive constant, so the patterns and ranks do not change."""
    Ws, bs, cum = [], [], 0
    for e, W, b in zip(exps, net.weights, net.biases):
        cum += e
        Ws.append(W * 10.0 ** e)
        bs.append(b * 10.0 ** cum)
    return pr.ReLUNetwork.from_weights(Ws, bs)


# ============================================================================ 1. scale
@pytest.mark.parametrize("method", METHODS)
def test_tiny_box_far_from_the_origin(method):
    # the quadrants of (x - 1e6, y - 1e6) in a box of side 2e-5 around (1e6, 1e6): 4 regions
    # (the subdivision engine snapped every vertex onto both lines and found 1)
    net = net_of([[[1, 0], [0, 1]]], [[-1e6, -1e6]])
    box = pr.Box(1e6 - 1e-5, 1e6 + 1e-5, dim=2)
    dec = pr.enumerate_regions(net, box, method=method)
    assert patterns_of(dec) == [(a, b) for a in (False, True) for b in (False, True)]
    # the bounds 1e6 +- 1e-5 are rounded to 1.2e-10 (the float64 spacing at 1e6)
    assert [r.volume() for r in dec] == pytest.approx([1e-10] * 4, rel=1e-4)
    assert all(r.inradius == pytest.approx(5e-6, rel=1e-4) for r in dec)
    assert box.contains(np.array([r.witness for r in dec])).all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("exps", [(155, 0), (-200, 0), (300, -300), (-150, 150), (0, 150)])
def test_weights_at_any_scale(method, exps):
    # scaled by 1e155 the LP engine could not find a region, by 1e-200 both engines found one
    rng = np.random.default_rng(7)
    net = pr.ReLUNetwork.from_weights([rng.normal(size=(5, 2)), rng.normal(size=(4, 5))],
                                      [rng.normal(size=5), rng.normal(size=4)])
    box = pr.Box(-3, 3, dim=2)
    ref = pr.enumerate_regions(net, box, method="lp")
    dec = pr.enumerate_regions(scaled(net, exps), box, method=method)
    assert ranks_by_pattern(dec) == ranks_by_pattern(ref)
    assert dec.total_volume() == pytest.approx(36.0, rel=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_ranks_at_and_engines_with_underflowing_weights(method):
    # 1e-200 per layer: A_2 = W_2 D W_1 ~ 1e-400 underflowed to 0 and every rank was 0
    net = net_of([[[1, 0], [0, 1], [1, 1]], [[1, -1, 1], [2, 1, 0]]], [[0, 0, -1], [0.5, -1]])
    tiny = scaled(net, (-200, -100))
    X = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    np.testing.assert_array_equal(pr.ranks_at(tiny, X), pr.ranks_at(net, X))
    box = pr.Box(-2, 2, dim=2)
    assert ranks_by_pattern(pr.enumerate_regions(tiny, box, method=method)) == \
        ranks_by_pattern(pr.enumerate_regions(net, box, method=method))


@pytest.mark.parametrize("method", METHODS)
@given(log_eps=st.floats(-10, -2))
@settings(max_examples=6, deadline=None)
def test_far_vertex_over_the_plane(method, log_eps):
    # (y, y - eps x + 1, x): three lines in general position, 7 regions, one bounded: the
    # triangle (0, 0), (0, -1), (1/eps, 0) of area 1/(2 eps), whose far vertex was lost
    eps = 10.0 ** log_eps
    net = net_of([[[0, 1], [-eps, 1], [1, 0]]], [[0, 1, 0]])
    dec = pr.enumerate_regions(net, method=method)
    assert len(dec) == 7
    bounded = [r for r in dec if r.bounded]
    assert [r.pattern for r in bounded] == [(False, True, True)]
    assert bounded[0].volume() == pytest.approx(0.5 / eps, rel=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_huge_box_around_small_features_is_flagged(method):
    # Box(+-1e12) around features of size ~1: at tol = 1e-9 of the box (2e3) they are slivers;
    # the result used to lose them silently (volume still complete)
    rng = np.random.default_rng(7)
    net = pr.ReLUNetwork.from_weights([rng.normal(size=(5, 2)), rng.normal(size=(4, 5))],
                                      [rng.normal(size=5), rng.normal(size=4)])
    with pytest.warns(PrecisionWarning, match="thinner than tol"):
        dec = pr.enumerate_regions(net, pr.Box(-1e12, 1e12, dim=2), method=method)
    assert dec.precision_limited and dec.stats["precision_notes"]
    assert "precision_limited=True" in repr(dec)
    # the same network over a box of its own size: complete, no warning, more regions
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        small = pr.enumerate_regions(net, pr.Box(-20, 20, dim=2), method=method)
    assert not small.precision_limited and len(small) > len(dec)


@pytest.mark.parametrize("method", METHODS)
def test_tol_below_the_float64_floor_is_flagged(method):
    net = net_of([[[1, 0], [0, 1]]], [[0, 0]])
    with pytest.warns(PrecisionWarning, match="floor"):
        dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=2), method=method, tol=1e-13)
    assert dec.precision_limited and len(dec) == 4


# ============================================================================ 2. thin domains
@given(aspect=st.floats(-14, -4), coord=st.integers(0, 1))
@settings(max_examples=20, deadline=None)
def test_box_full_dimensionality_matches_polytope(aspect, coord):
    # a box of sides 10^aspect and 2: Box and the equal Polytope accept or refuse it alike,
    # with the same message (Box(-5e-10, 5e-10) x [-1, 1] used to give 0 regions silently)
    w = 10.0 ** aspect
    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    lo[coord], hi[coord] = -w / 2, w / 2
    A = np.vstack([np.eye(2), -np.eye(2)])
    b = np.concatenate([hi, -lo])
    outcomes = []
    for make in (lambda: pr.Box(lo, hi), lambda: pr.Polytope(A, b)):
        try:
            make()
            outcomes.append("ok")
        except ValueError as exc:
            assert "not full-dimensional" in str(exc)
            outcomes.append(str(exc).split("(")[0])
    assert outcomes[0] == outcomes[1]
    assert (outcomes[0] == "ok") == (w / 2 > 1e-9 * 2)


def test_thin_box_is_refused_and_tiny_boxes_are_not():
    with pytest.raises(ValueError, match="not full-dimensional"):
        pr.Box([-5e-10, -1], [5e-10, 1])
    for c, w in [(0.0, 1e-12), (1e6, 1e-5), (-1e11, 1.0)]:
        assert pr.Box(c - w, c + w, dim=3).inradius == pytest.approx(w, rel=1e-3)
    with pytest.raises(ValueError, match="not full-dimensional"):  # 1e-13 of its coordinates
        pr.Box(1e6 - 1e-7, 1e6 + 1e-7, dim=2)


# ============================================================================ 3. layer numbers
@pytest.mark.parametrize("bad", [0, -1, 3, 2.0, True])
def test_layer_numbers_are_one_based_and_checked(bad):
    net = net_of([[[1, 0], [0, 1]], [[1, 1]]], [[0, 0], [0.5]])
    dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=2))
    for call in (dec.rank_histogram, dec.ranks, dec.rank_cells, dec[0].rank):
        with pytest.raises((ValueError, TypeError), match="1..2"):
            call(bad)


# ============================================================================ 5. overflow
@pytest.mark.parametrize("fn", [pr.ranks_at, pr.codeword_sizes_at])
def test_overflowing_preactivations_raise(fn):
    # (1e308, 5e307) through 10 I was (inf, inf); [2, -1] then gave inf - inf = NaN, whose sign
    # said "inactive": rank 0 for a finite input. In scaled units (10 I / 16) nothing
    # overflows: z_2 = 2e309 - 5e308 > 0, A_2 = [20, -10], ranks (2, 1), sizes (2, 1)
    net = net_of([10 * np.eye(2), [[2, -1]]], [[0, 0], [0]])
    assert fn(net, [[1e308, 5e307]]).tolist() == [[2, 1]]
    with pytest.raises(ValueError, match="layer 1 overflow"):
        net.patterns(np.array([[1e308, 5e307]]))  # the network's own float64 forward pass
    # eight inputs of 1e308 summed by a unit overflow in any units: refused, not guessed
    wide = net_of([np.ones((1, 8)), [[1.0]]], [[0.0], [0.0]])
    with pytest.raises(ValueError, match=r"layer 1 overflow.*row 3\)"):
        fn(wide, np.vstack([np.ones((3, 8)), np.full(8, 1e308)]), batch_size=2)
    with pytest.raises(ValueError, match="float32"):
        fn(net, [[1e300, 1.0]], dtype="float32")


# ============================================================================ 6. complexes
@given(frac=st.floats(0.01, 0.99), k=st.integers(1, 3))
@settings(max_examples=10, deadline=None)
def test_fractional_vertex_ids_are_refused(frac, k):
    V = np.eye(4)
    S = np.arange(k + 1, dtype=float)[None, :]
    S[0, -1] += frac  # used to be truncated to a valid id
    with pytest.raises(ValueError, match="integer vertex ids"):
        pr.SimplicialComplex(V, S)
    assert pr.SimplicialComplex(V, np.floor(S)).dim == k  # integral floats are fine


def test_repeated_vertex_in_a_simplex_is_refused():
    with pytest.raises(ValueError, match=r"simplex 1 \(\[1, 2, 1\]\) repeats a vertex"):
        pr.SimplicialComplex(np.eye(3), [[0, 1, 2], [1, 2, 1]])


# ============================================================================ 7. complex numbers
@pytest.mark.parametrize("build", [
    lambda: pr.ReLUNetwork.from_weights([np.eye(2) * (1 + 1j)], [np.zeros(2)]),
    lambda: pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2, dtype=complex)]),
    lambda: pr.Box(np.array([-1, -1 + 0j]), 1.0),
    lambda: pr.Polytope(np.eye(2, dtype=complex), [1, 1]),
    lambda: pr.ranks_at(net_of([np.eye(2)], [[0, 0]]), np.ones((1, 2)) * 1j),
    lambda: pr.SimplicialComplex(np.eye(2) + 0j, [[0, 1]]),
])
def test_complex_numbers_are_refused(build):
    # numpy dropped the imaginary part with only a ComplexWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="complex"):
            build()


# ============================================================================ 8. slivers
@pytest.mark.parametrize("method", METHODS)
@given(log_w=st.floats(np.log10(4e-10), -8), angle=st.floats(0, np.pi))
@settings(max_examples=8, deadline=None)
def test_slivers_are_counted_and_kept_at_a_lower_tol(method, log_w, angle):
    # two parallel lines w apart through the unit box: a slab of inradius w / 2 between them
    w = 10.0 ** log_w
    if abs(w / 2 - 1e-9) < 1e-11:
        return  # at tol itself the decision is rounding
    n = np.array([np.cos(angle), np.sin(angle)])
    net = pr.ReLUNetwork.from_weights([np.vstack([n, n])], [np.array([0.0, -w])])
    box = pr.Box(-0.5, 0.5, dim=2)
    thin = w / 2 <= 1e-9
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dec = pr.enumerate_regions(net, box, method=method)
    assert len(dec) + dec.n_dropped == 3
    assert dec.n_dropped == int(thin) == dec.stats["n_dropped"]
    assert dec.precision_limited == thin
    assert any(issubclass(x.category, PrecisionWarning) for x in caught) == thin
    kept = pr.enumerate_regions(net, box, method=method, tol=1e-10)
    assert len(kept) == 3 and kept.n_dropped == 0 and not kept.precision_limited


@pytest.mark.parametrize("method", METHODS)
@given(log_b=st.floats(-12, -3), sign=st.sampled_from([1.0, -1.0]))
@settings(max_examples=6, deadline=None)
def test_bits_behind_an_all_off_layer_are_the_signs_of_the_biases(method, log_b, sign):
    # layer 2 is off everywhere (z_2 = -1e3 (relu(1e3 x) + relu(1e3 y)) - 1), so layer 3 is the
    # constant b_3 = +-10^log_b on every region: its bit is [b_3 > 0], as the forward pass and
    # codeword_sizes_at say. The old per-layer constant threshold (1e-12 of a bound on the
    # layer's magnitude, ~1e-3 here) called such a bias identically zero: bit 0.
    b3 = sign * 10.0 ** log_b
    net = net_of([1e3 * np.eye(2), -1e3 * np.ones((2, 2)), [[1e3, 1e3], [1.0, -1.0]]],
                 [[0, 0], [-1, -1], [b3, 0.0]])
    dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=2), method=method)
    assert len(dec) == 4
    for r in dec:
        assert r.pattern[4:] == (b3 > 0, False)
    W = np.array([r.witness for r in dec])
    np.testing.assert_array_equal(pr.codeword_sizes_at(net, W), [r.codeword_sizes for r in dec])
    np.testing.assert_array_equal(dec.locate(W), np.arange(len(dec)))


# ============================================================================ 11. limits and budgets
def test_region_limit_advice_works():
    net = net_of([[[1, 0], [0, 1], [1, 1], [1, -1]]], [[0, 0, -0.5, 0.5]])
    box = pr.Box(-1, 1, dim=2)
    full = pr.enumerate_regions(net, box, method="lp")
    with pytest.raises(RegionLimitError, match="partial=True") as err:
        list(pr.iter_regions(net, box, max_regions=3))
    assert "iter_regions" in str(err.value)
    # following the advice: both entry points take partial=True
    assert len(list(pr.iter_regions(net, box, max_regions=3, partial=True))) == 3
    dec = pr.enumerate_regions(net, box, method="lp", max_regions=3, partial=True)
    assert dec.partial and len(dec) == 3 and len(full) > 3


def test_lp_engine_honours_max_memory():
    net = net_of([[[1, 0], [0, 1], [1, 1], [1, -1]]], [[0, 0, -0.5, 0.5]])
    box = pr.Box(-1, 1, dim=2)
    with pytest.raises(MemoryBudgetError, match="max_memory=5000"):
        pr.enumerate_regions(net, box, method="lp", max_memory=5000)
    assert len(pr.enumerate_regions(net, box, method="lp", max_memory=10 ** 7)) == \
        len(pr.enumerate_regions(net, box, method="lp"))


def test_ranks_at_memory_message_gives_bytes():
    net = net_of([np.eye(2)], [[0, 0]])
    with pytest.raises(MemoryBudgetError) as err:
        pr.ranks_at(net, np.zeros((4, 2)), max_memory=8)
    msg = str(err.value)
    assert "0.0 MiB" not in msg
    need = int(msg.split("max_memory >= ")[1].rstrip("."))
    assert need > 8
    assert pr.ranks_at(net, np.zeros((4, 2)), max_memory=need).shape == (4, 1)


# ============================================================================ 13. round trips
def test_csv_pattern_column_round_trips():
    import pandas as pd

    # the first unit is off in some regions: a leading zero that pandas used to drop
    net = net_of([[[1, 0], [0, 1], [1, 1]]], [[-0.5, 0, 0]])
    dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=2))
    df = dec.to_frame()
    back = pd.read_csv(io.StringIO(df.to_csv(index=False)))
    assert back["pattern"].tolist() == df["pattern"].tolist()
    assert [pr.regions.pattern_from_string(s) for s in back["pattern"]] == [r.pattern for r in dec]
    assert any(s.startswith("0b0") for s in back["pattern"])
    with pytest.raises(TypeError, match="leading zeros"):
        pr.regions.pattern_from_string(11)  # what pandas made of "0b011" without the prefix
    with pytest.raises(ValueError, match="0s and 1s"):
        pr.regions.pattern_from_string("0b012")


def test_empty_frame_has_its_columns():
    net = net_of([[[1, 0], [0, 1]], [[1, 1]]], [[0, 0], [0]])
    dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=2))
    empty = pr.Decomposition(net, None, 2, [], [])
    assert empty.to_frame().columns.tolist() == dec.to_frame().columns.tolist()
    assert len(empty.to_frame(volumes=True).columns) == len(dec.to_frame().columns) + 1


@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float64"), "double", None])
def test_to_torch_takes_what_ranks_at_takes(dtype):
    import torch

    net = net_of([[[1, -1]], [[2]]], [[0.5], [0]])
    X = np.array([[1.0, 0.25]])
    pr.ranks_at(net, X, dtype=dtype)  # accepted there
    mod = net.to_torch(dtype=dtype)
    want = torch.float32 if dtype in ("float32", np.float32) else torch.float64
    assert mod[0].weight.dtype == want
    out = mod(torch.tensor(X, dtype=want)).detach().numpy()
    np.testing.assert_allclose(out, net.forward(X), rtol=1e-6)


# ============================================================================ fuzz: any scale
def _fuzz_case(seed, kw, kfar, exps):
    """An integer network over [-1, 1]^d (the reference, LP engine), and the same network
    moved into Box(c +- w) with w = 2^kw and |c| = 2^kfar w, its layers scaled by 2^e_l. With
    powers of two every weight and bias of the moved network is exact, so its decomposition is
    exactly the reference's: degenerate positions (concurrent, coincident hyperplanes,
    hyperplanes through box corners) stay degenerate."""
    rng = np.random.default_rng(seed)
    d = 2 + seed % 2
    widths = [int(v) for v in rng.integers(2, 5, size=1 + seed % 2)]
    net = int_net(rng, d, widths)
    ref = pr.enumerate_regions(net, pr.Box(-1, 1, dim=d), method="lp")
    w = 2.0 ** kw
    c = w * 2.0 ** kfar * (1 if seed % 3 else -1)
    moved_net = moved(net, c, w)
    Ws, bs, cum = [], [], 0
    for e, W, b in zip(exps, moved_net.weights, moved_net.biases):
        cum += e
        Ws.append(np.ldexp(W, e))
        bs.append(np.ldexp(b, cum))
    far = pr.ReLUNetwork.from_weights(Ws, bs)
    box = pr.Box(c - w, c + w, dim=d)
    return ref, far, box


def _assert_engines_agree(ref, far, box):
    want = ranks_by_pattern(ref)
    w = float((box.hi - box.lo).max())
    # the regions' H-representations are in the caller's coordinates, |x| up to |c|: exact
    # to about eps |c| there, hence the volumes to that relative to the box
    rel = 1e-9 + 100 * np.finfo(float).eps * float(np.abs(box.center).max()) / w
    for method in METHODS:
        dec = quiet(pr.enumerate_regions, far, box, method=method)
        assert ranks_by_pattern(dec) == want, method
        assert dec.total_volume() == pytest.approx(box.volume(), rel=rel)
        assert box.contains(np.array([r.witness for r in dec]), tol=1e-9 * w).all()


# w from 2^-30 (1e-9) to 2^40 (1e12), c up to 2^36 w from the origin, layers scaled by
# 2^-500 .. 2^500 (1e-150 .. 1e150), never beyond 2^+-1000 in all
scales = dict(seed=st.integers(0, 2 ** 16), kw=st.integers(-30, 40), kfar=st.integers(0, 36),
              exps=st.lists(st.integers(-500, 500), min_size=2, max_size=2).filter(lambda e: abs(sum(e)) <= 1000))


@given(**scales)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_engines_agree_at_any_scale(seed, kw, kfar, exps):
    """Integer networks moved into Box(c +- w) (w from 1e-9 to 1e12, c up to 7e10 w from the
    origin) and scaled by 1e-150..1e150 per layer: both engines give the patterns and ranks of
    the original network over [-1, 1]^d, and volumes summing to the box's."""
    _assert_engines_agree(*_fuzz_case(seed, kw, kfar, exps))


@pytest.mark.slow
@given(**scales)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_engines_agree_at_any_scale_long(seed, kw, kfar, exps):
    _assert_engines_agree(*_fuzz_case(seed, kw, kfar, exps))


@FAST
@given(n=st.integers(0, 5), n_units=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_packed_patterns_round_trip_and_wrong_widths_refused(n, n_units, seed):
    """pack/unpack round-trip any bool patterns (truth: the patterns themselves); a packed
    array whose byte width does not hold exactly ``n_units`` units (numpy would pad the
    missing bits with zeros) and non-0/1 patterns are refused, not silently read."""
    P = np.random.default_rng(seed).random((n, n_units)) < 0.5
    B = pr.pack_patterns(P)
    assert B.shape == (n, -(-n_units // 8))
    assert np.array_equal(pr.unpack_patterns(B, n_units), P)
    assert np.array_equal(pr.unpack_patterns(B.astype(np.int64), n_units), P)
    assert np.array_equal(pr.pack_patterns(P.astype(np.int8)), B)
    with pytest.raises(ValueError, match="bytes per row"):
        pr.unpack_patterns(B, n_units + 8)
    with pytest.raises(ValueError, match="bytes per row"):
        pr.unpack_patterns(np.hstack([B, B]), n_units)
    with pytest.raises(ValueError, match="booleans or the integers 0 and 1"):
        pr.pack_patterns(np.full((1, n_units), 2))
    with pytest.raises(ValueError, match="2-D"):
        pr.pack_patterns(P[0] if n else np.zeros(n_units, bool))
    with pytest.raises(ValueError, match="array of bytes"):
        pr.unpack_patterns(np.full((1, B.shape[1]), 256), n_units)
    with pytest.raises(ValueError, match="n_units"):
        pr.unpack_patterns(B, 0)


@FAST
@given(n_units=st.integers(2, 40), seed=st.integers(0, 2**31))
def test_unpack_refuses_fewer_units_in_the_same_bytes(n_units, seed):
    """Patterns of n_units units read back as fewer units of the same byte width (n_units - 1,
    say) would lose the last units silently: their bits sit in what would be padding, which
    pack_patterns leaves at zero, so a set padding bit is refused."""
    P = np.random.default_rng(seed).random((3, n_units)) < 0.5
    P[0, -1] = True  # a set bit in the last unit
    B = pr.pack_patterns(P)
    fewer = n_units - 1
    if -(-fewer // 8) == B.shape[1]:
        with pytest.raises(ValueError, match="padding bits"):
            pr.unpack_patterns(B, fewer)
    else:  # a whole byte fewer: refused by its width
        with pytest.raises(ValueError, match="bytes per row"):
            pr.unpack_patterns(B, fewer)


def test_region_index_out_of_range_names_the_count():
    """Two crossing lines cut a box into 4 regions (Zaslavsky); index 4 is refused with the count."""
    net = pr.ReLUNetwork.from_weights([[[1.0, 0.0], [0.0, 1.0]]], [[0.0, 0.0]])
    dec = pr.enumerate_regions(net, pr.Box(-1, 1, dim=2))
    assert len(dec) == 4 and dec[-4] is dec[0]
    with pytest.raises(IndexError, match="of 4 regions"):
        dec[4]


def test_damaged_region_store_is_named_not_misread(tmp_path):
    """A store's volumes sum to the box's area (4) until a part file is truncated or its
    description garbled; then every reader names the damaged file (never pyarrow's or json's
    error, never a partial answer), and unknown columns are refused, not skipped."""
    net = pr.ReLUNetwork.from_weights([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], [[0.0, 0.0, -0.5]])
    path = tmp_path / "store"
    store = pr.write_regions(net, pr.Box(-1, 1, dim=2), path, progress=False, tiles=(2, 1))
    assert store.total_volume() == pytest.approx(4.0)
    for read in (lambda s: s.to_frame(columns=["nope"]), lambda s: next(s.iter_batches(columns=["nope"]))):
        with pytest.raises(ValueError, match=r"no column\(s\) \['nope'\]"):
            read(store)
    part = sorted(path.glob("part-*.parquet"))[0]
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    store = pr.read_regions(path)
    for read in (lambda s: s.to_frame(), lambda s: s.patterns(), lambda s: s.total_volume(),
                 lambda s: s.rank_histogram(), lambda s: list(s.iter_batches()), lambda s: s.regions([0])):
        with pytest.raises(ValueError, match=f"{part.name}.*damaged"):
            read(store)
    import json

    meta = json.loads((path / "_polyrank.json").read_text())
    for key, bad in (("n_regions", "abc"), ("parts", "xyz"), ("parts", [{"file": "x"}])):
        (path / "_polyrank.json").write_text(json.dumps({**meta, key: bad}))
        with pytest.raises(ValueError, match="damaged"):
            pr.read_regions(path)
    (path / "_polyrank.json").write_text("{not json")
    with pytest.raises(ValueError, match="damaged"):
        pr.read_regions(path)


def test_inverse_region_volumes_refuses_bad_points_and_domains():
    """Two lines cut the square into 4 unit squares: 1 / vol = 1 at an inner point; NaN points,
    single 1-D points and unbounded domains are refused (they returned NaN weights)."""
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    box = pr.Box(-1, 1, dim=2)
    assert pr.inverse_region_volumes(net, [[0.5, 0.5]], box) == pytest.approx([1.0])
    with pytest.raises(ValueError, match="NaN"):
        pr.inverse_region_volumes(net, [[np.nan, 0.5]], box)
    with pytest.raises(ValueError, match="reshape"):
        pr.inverse_region_volumes(net, [0.5, 0.5], box)
    with pytest.raises(ValueError, match="bounded"):
        pr.inverse_region_volumes(net, [[0.5, 0.5]], None)


def test_unbounded_box_too_large_to_resolve_tol_is_flagged():
    """Over R^4 the default-initialised 4-10-10-10 network (seed 0) needs a box of half-width
    ~2e13, where the subdivision engine's vertices are rounded by ~1e-2: the LP engine finds 9
    regions (inradius 5e-5 to 1e-3) that it loses (tests/slow: 24 504 against 24 493). The
    result must say so (precision_limited, a PrecisionWarning naming the box), and method="auto"
    must not return it. The 3-16-16-16 network over R^3 (box ~4e5) keeps its published count
    20 295 unflagged."""
    from polyrank.exceptions import BoxPrecisionError
    from polyrank.subdivision import _box_rounding_note
    from polyrank.train import mlp

    net = pr.as_network(mlp(4, [10, 10, 10], seed=0))
    with pytest.warns(PrecisionWarning, match="box reached half-width"):
        dec = pr.enumerate_regions(net, method="subdivision", n_jobs=1)
    assert dec.precision_limited and any("box reached" in n for n in dec.stats["precision_notes"])
    with pytest.raises(BoxPrecisionError):  # what method="auto" catches before the LP engine runs
        pr.subdivision.enumerate_subdivision(net, strict=True, n_jobs=1)
    with pytest.raises(TypeError, match="'strict' parameter"):
        pr.subdivision.enumerate_subdivision(net, strict="yes")
    # the rule itself: eps * 2R * safety against tol
    eps = np.finfo(np.float64).eps
    R_edge = 1e-9 / (pr.subdivision.BOX_ROUNDING_SAFETY * eps * 2)
    assert _box_rounding_note(0.99 * R_edge, 1e-9, 1.0) is None
    assert _box_rounding_note(1.01 * R_edge, 1e-9, 1.0) is not None
    net3 = pr.as_network(mlp(3, [16, 16, 16], seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        dec3 = pr.enumerate_regions(net3)
    assert dec3.method == "subdivision" and len(dec3) == 20295 and not dec3.precision_limited


@pytest.mark.slow
def test_unbounded_box_fallback_finds_the_regions_the_engine_loses():
    """The regions behind the flag above: method="auto" (the LP engine) finds every region the
    subdivision engine finds over R^4 and 9 more, each thicker than tol."""
    from polyrank.train import mlp

    net = pr.as_network(mlp(4, [10, 10, 10], seed=0))
    sub = quiet(pr.enumerate_regions, net, method="subdivision")
    auto = pr.enumerate_regions(net)
    assert auto.method == "lp" and "auto_engine" in auto.stats and not auto.precision_limited
    lost = set(patterns_of(auto)) - set(patterns_of(sub))
    assert set(patterns_of(sub)) <= set(patterns_of(auto)) and len(lost) > 0
    assert min(r.inradius for r in auto if r.pattern in lost) > 1e-6


def test_matrix_rank_refuses_non_finite_and_bad_tol():
    """rank [[1, 2], [2, 4]] = 1 (rows proportional); NaN entries (numpy's SVD raised
    LinAlgError 'SVD did not converge' from deep inside) and a negative tol are refused."""
    assert pr.matrix_rank([[1.0, 2.0], [2.0, 4.0]]) == 1
    with pytest.raises(ValueError, match="NaN or infinity"):
        pr.matrix_rank([[np.nan, 1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="'tol' parameter of matrix_rank"):
        pr.matrix_rank(np.eye(2), tol=-1.0)


def test_a_region_without_its_witness_is_flagged_over_r_d(monkeypatch):
    """Over R^d every region's witness must give the region's pattern (a forward pass, an
    independent check of the whole engine). A planted error (one pattern with a bit flipped
    after the engine ran) must mark the result precision_limited with a note that counts it,
    make strict=True raise BoxPrecisionError, and send method="auto" to the LP engine."""
    from polyrank import subdivision
    from polyrank.exceptions import BoxPrecisionError
    from polyrank.train import mlp

    net = pr.as_network(mlp(2, [6, 6], seed=0))
    clean = pr.enumerate_regions(net, method="subdivision")
    assert not clean.precision_limited
    assemble = subdivision._assemble

    def corrupt(*args, **kw):
        dec = assemble(*args, **kw)
        P = dec._arrays["patterns"].copy()
        P[3, 0] = not P[3, 0]
        dec._arrays["patterns"] = P
        return dec

    monkeypatch.setattr(subdivision, "_assemble", corrupt)
    with pytest.warns(PrecisionWarning, match="1 of .* regions do not contain their witness"):
        dec = pr.enumerate_regions(net, method="subdivision")
    assert dec.precision_limited and len(dec) == len(clean)
    with pytest.raises(BoxPrecisionError):
        subdivision.enumerate_subdivision(net, strict=True)
    auto = pr.enumerate_regions(net)
    assert auto.method == "lp" and "left 1 of" in auto.stats["auto_engine"]
    assert sorted(patterns_of(auto)) == sorted(patterns_of(clean))
    # over a bounded domain the check does not run (the domain sets the scale: no huge box)
    assert not pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2), method="subdivision").precision_limited


@pytest.mark.parametrize("seed", range(3))
def test_witness_kernel_counts_as_a_forward_pass(seed):
    """The compiled witness check against numpy's forward pass (net.patterns), on random
    points and patterns with planted flips: the same count of rows that differ."""
    from polyrank import subdivision

    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 6))
    net = pr.ReLUNetwork([rng.normal(size=(7, d)), rng.normal(size=(5, 7)), rng.normal(size=(3, 5))],
                         [rng.normal(size=7), rng.normal(size=5), rng.normal(size=3)])
    X = rng.normal(size=(300, d)) * 3
    P = net.patterns(X, flat=True)
    P[rng.random(P.shape) < 0.01] ^= True
    _, WTflat, woff, bflat = subdivision._transposed_layers(net, net.n_layers)
    got = subdivision._witness_kernel(X, WTflat, woff, bflat, np.asarray(net.offsets, dtype=np.int64), P,
                                      subdivision.WITNESS_RTOL)
    assert got == int((net.patterns(X, flat=True) != P).any(axis=1).sum()) > 0


def test_witness_check_leaves_a_sign_within_rounding_to_the_region():
    """A unit whose pre-activation at the witness is within WITNESS_RTOL of the sum of its
    terms' magnitudes (0 on the region, rounded at a point 1e7 out) may have either bit;
    farther from 0, the wrong bit is counted. Truth: x_0 - x_1 at (1e7, 1e7 - t) is t."""
    from polyrank import subdivision

    net = pr.ReLUNetwork([np.array([[1.0, -1.0]])], [np.zeros(1)])
    _, WTflat, woff, bflat = subdivision._transposed_layers(net, 1)
    off = np.array([[False], [True]])
    for t, wrong in ((2 ** -20, 0), (2 ** -8, 1)):  # 1e-6 / 2e7 < 1e-12 < 4e-3 / 2e7
        X = np.array([[1e7, 1e7 - t]])
        counts = [subdivision._witness_kernel(X, WTflat, woff, bflat, np.asarray(net.offsets, dtype=np.int64), P,
                                              subdivision.WITNESS_RTOL) for P in (off[:1], off[1:])]
        assert counts == [wrong, 0], (t, counts)


def test_an_lp_the_solver_gives_up_on_says_what_to_do(monkeypatch):
    """HiGHS stops without an optimum on some ill-conditioned networks (first-layer rows
    nearly linearly dependent, within 1e-7; seen on 4-7-5-7 and 3-7-5-4 nets over R^d). The
    LP engine's error must say so and name the engine that needs no LP; infeasible and
    unbounded LPs keep their own errors."""
    from polyrank import lp
    from polyrank.exceptions import LPError, UnboundedError

    net = net_of([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], [[0.0, 0.0, -1.0]])
    real = lp.chebyshev_center

    def stalls(*args, **kw):
        raise LPError("Chebyshev-centre LP: HiGHS stopped without an optimum (status: Unknown).")

    monkeypatch.setattr(lp, "chebyshev_center", stalls)
    with pytest.raises(LPError, match="method='subdivision'") as info:
        pr.enumerate_regions(net, method="lp")
    assert "status: Unknown" in str(info.value) and type(info.value.__cause__) is LPError

    def unbounded(*args, **kw):
        raise UnboundedError("Chebyshev-centre LP: HiGHS reports the problem unbounded (Unbounded).")

    monkeypatch.setattr(lp, "chebyshev_center", unbounded)
    with pytest.raises(UnboundedError) as info:
        pr.enumerate_regions(net, method="lp")
    assert "method='subdivision'" not in str(info.value)
    monkeypatch.setattr(lp, "chebyshev_center", real)
    assert len(pr.enumerate_regions(net, method="lp")) == 7
