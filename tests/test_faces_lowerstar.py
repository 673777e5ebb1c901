"""The GUDHI complex of the pulling triangulation is built without listing every sub-face
of every simplex: each face's simplices go in once (GUDHI adds their faces) and the
lower-star values are set by GUDHI (reset to -inf, then raised to the max over the faces).
The reference is the construction it replaced, written out here: every sub-face of every
simplex, de-duplicated by ``np.unique``, each with the max of its vertex values. The
filtrations, Betti numbers and persistence pairs must be the same."""

import itertools

import numpy as np
import pytest
from conftest import random_net

import polyrank as pr
from polyrank._numerics import unique_rows

CASES = [  # (d, widths, box half-width or None for all of R^d, cut by the complex's box)
    (2, [6, 5], 1.0), (2, [7, 6], None), (3, [5, 4], 2.0), (3, [6, 5], None), (4, [5, 4], 1.5), (4, [6], None),
]


def _reference_tree(K, values=None, cells=None):
    """The lower-star simplex tree as built before: every sub-face of every simplex."""
    import gudhi

    vals = np.zeros(len(K.vertices)) if values is None else np.asarray(values, dtype=np.float64)
    st = gudhi.SimplexTree()
    faces = None if cells is None else K._generated(cells)
    for k in range(K.dim + 1):
        S, _ = K.simplices(k, None if faces is None else sorted(faces[k]))
        if not len(S):
            continue
        for j in range(1, k + 2):
            cols = list(itertools.combinations(range(k + 1), j))
            F = np.unique(np.sort(np.concatenate([S[:, c] for c in cols]), axis=1), axis=0)
            st.insert_batch(F.T.copy(), vals[F].max(axis=1))
    return st


def _filtration(st):
    return sorted((tuple(s), f) for s, f in st.get_filtration())


def _pairs(st):
    st.compute_persistence(homology_coeff_field=11, persistence_dim_max=True)
    return sorted((tuple(sorted(a)), tuple(sorted(b))) for a, b in st.persistence_pairs())


def test_unique_rows_equals_numpy():
    rng = np.random.default_rng(5)
    for n, j in [(1, 1), (2, 3), (7, 4), (50, 2), (1000, 5), (10**6, 4)]:  # the last: n^j too large for a key
        F = rng.integers(0, n, size=(300, j))
        np.testing.assert_array_equal(unique_rows(F, n), np.unique(F, axis=0))
    assert unique_rows(np.zeros((0, 3), dtype=np.int64), 4).shape == (0, 3)


@pytest.mark.parametrize("d, widths, box", CASES)
def test_lower_star_tree_equals_every_subface_reference(d, widths, box, global_random_seed):
    rng = np.random.default_rng(2000 + 11 * global_random_seed + d)
    net = random_net(rng, d, widths, readout=1)
    dom = None if box is None else pr.Box(-box, box, dim=d)
    K = pr.enumerate_regions(net, dom).complex().truncated()
    n0 = len(K.vertices)
    f = net.forward(K.vertices)[:, 0]
    for values in (None, f, rng.integers(0, 4, size=n0).astype(float)):  # ties included
        st, ref = K.simplex_tree(values=values), _reference_tree(K, values)
        assert _filtration(st) == _filtration(ref)
        assert _pairs(st) == _pairs(ref)
    assert K.betti() == [1] + [0] * d  # the complex covers a box: contractible
    # a subcomplex: the closure of some regions (not pure in general, not contractible)
    regs = rng.choice(K.f_vector()[d], size=max(1, K.f_vector()[d] // 3), replace=False).tolist()
    cells = [[] for _ in range(d)] + [regs]
    st, ref = K.simplex_tree(values=f, cells=cells), _reference_tree(K, f, cells)
    assert _filtration(st) == _filtration(ref)
    ref.compute_persistence(homology_coeff_field=11, persistence_dim_max=True)
    assert K.betti(cells) == (list(ref.betti_numbers()) + [0] * (d + 1))[: d + 1]


@pytest.mark.parametrize("kind", ["zero_bias", "duplicate"])
def test_lower_star_tree_on_degenerate_networks(kind, global_random_seed):
    rng = np.random.default_rng(3000 + global_random_seed)
    net = random_net(rng, 3, [5, 4], readout=1, **{kind: True})
    K = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=3)).complex()
    f = net.forward(K.vertices)[:, 0]
    assert _filtration(K.simplex_tree(values=f)) == _filtration(_reference_tree(K, f))


@pytest.mark.parametrize("d, widths, box", CASES[:4])
def test_morse_data_of_a_decomposition_equals_that_of_the_network(d, widths, box, global_random_seed):
    rng = np.random.default_rng(4000 + 13 * global_random_seed + d)
    net = random_net(rng, d, widths, readout=2)
    dom = None if box is None else pr.Box(-box, box, dim=d)
    a = pr.morse_data(net, dom, output=1)
    dec = pr.enumerate_regions(net, dom)
    dec.complex()  # a face complex already built is reused
    b = pr.morse_data(dec, output=1)
    assert a.equals(b)
    assert a.attrs == b.attrs
    # the Morse contributions sum to the (cut) domain's Euler characteristic, 1
    chi = sum(1 - (0 if r == () else 1 + sum((-1) ** i * x for i, x in enumerate(r)))
              for r in a.lower_link_betti)
    assert chi == 1


def test_morse_data_of_a_decomposition_bad_input():
    rng = np.random.default_rng(0)
    net = random_net(rng, 2, [4, 3], readout=1)
    dec = pr.enumerate_regions(net, None)
    with pytest.raises(ValueError, match="'domain' parameter of morse_data must be None"):
        pr.morse_data(dec, pr.Box(-1.0, 1.0, dim=2))
    with pytest.raises(ValueError, match="stops at layer 1"):
        pr.morse_data(pr.enumerate_regions(net, None, layer=1))
    with pytest.raises(ValueError, match="partial"):
        pr.morse_data(pr.enumerate_regions(net, None, max_regions=2, partial=True))


@pytest.mark.parametrize("d, widths, box", CASES)
def test_f_vector_from_the_engine_counts_equals_the_face_complex(d, widths, box, global_random_seed):
    rng = np.random.default_rng(5000 + 17 * global_random_seed + d)
    net = random_net(rng, d, widths)
    dom = None if box is None else pr.Box(-box, box, dim=d)
    dec = pr.enumerate_regions(net, dom)
    fv = dec.f_vector()
    assert "_face_complex" not in dec.__dict__  # counted without the face complex
    assert fv == pr.enumerate_regions(net, dom).complex().f_vector()
    assert sum((-1) ** k * f for k, f in enumerate(fv)) == (1 if box is not None else (-1) ** d)


@pytest.mark.parametrize("kind", ["zero_bias", "duplicate"])
def test_f_vector_of_degenerate_networks_equals_the_face_complex(kind, global_random_seed):
    rng = np.random.default_rng(6000 + global_random_seed)
    net = random_net(rng, 3, [5, 4], **{kind: True})
    for dom in (None, pr.Box(-1.0, 1.0, dim=3)):
        assert pr.enumerate_regions(net, dom).f_vector() == pr.enumerate_regions(net, dom).complex().f_vector()


def test_cutting_cube_equals_a_validated_polytope():
    from polyrank.domain import Polytope
    from polyrank.faces import _cube_polytope

    lo, hi = np.array([-2.5, 0.5, -1.0]), np.array([1.5, 4.5, 3.0])  # a cube of side 4
    P = _cube_polytope(lo, hi)
    Q = Polytope(np.vstack([np.eye(3), -np.eye(3)]), np.concatenate([hi, -lo]))
    np.testing.assert_array_equal(P.A, Q.A)
    np.testing.assert_array_equal(P.b, Q.b)
    np.testing.assert_allclose(P.center, Q.center, atol=1e-9)
    assert np.isclose(P.inradius, Q.inradius) and P.bounded and np.isclose(P.volume(), 64.0)
