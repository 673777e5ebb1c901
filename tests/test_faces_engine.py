"""The subdivision engine hands its vertex-hyperplane incidences, rows and dual graph to
the Decomposition (``arrays``); faces and the certificate read them instead of solving
every d-subset of every region's rows. The answers must be those of the path without
them: the same Decomposition rebuilt from its Region objects (which drops the arrays)
is the independent reference."""

import numpy as np
import pytest
from conftest import int_net, random_net

import polyrank as pr
from polyrank import faces as F
from polyrank.regions import Decomposition

CASES = [  # (d, widths, box half-width or None for all of R^d)
    (2, [6, 5], 1.0), (2, [7, 6, 4], None), (3, [5, 4], 2.0), (3, [6, 5], None), (4, [5, 4], 1.5), (4, [6], None),
]


def _without_arrays(dec):
    """The same regions and edges, built from the Region objects: no engine arrays."""
    return Decomposition(dec.net, dec.domain, dec.layer, dec.regions, dec.edges, method=dec.method)


def _assert_same_answers(dec, ref):
    assert dec.f_vector() == ref.f_vector()
    ca, cb = dec.verify(), ref.verify()
    assert ca.checks == cb.checks and ca.failures == cb.failures and ca.complete
    assert (ca.f_vector, ca.euler_characteristic) == (cb.f_vector, cb.euler_characteristic)
    Ka, Kb = dec.complex(), ref.complex()
    assert (Ka.box is None) == (Kb.box is None)
    if Ka.box is not None:
        np.testing.assert_array_equal(Ka.box[0], Kb.box[0])
    for k in range(dec.net.input_dim + 1):
        a, b = dec.faces(k), ref.faces(k)
        assert list(a.columns) == list(b.columns)
        assert a.equals(b), f"faces({k}) differ"
    assert [list(r) for r in Ka.region_facets] == [list(r) for r in Kb.region_facets]


@pytest.mark.parametrize("d, widths, box", CASES)
def test_faces_and_certificate_equal_with_and_without_engine_arrays(d, widths, box, global_random_seed, monkeypatch):
    rng = np.random.default_rng(1000 + 7 * global_random_seed + d)
    net = random_net(rng, d, widths)
    dom = None if box is None else pr.Box(-box, box, dim=d)
    dec = pr.enumerate_regions(net, dom, method="subdivision")
    assert "vertex_bits" in dec._arrays
    ref = _without_arrays(dec)
    assert "vertex_bits" not in ref._arrays
    # a generic network: every vertex of a region comes from the engine's incidences, none
    # from the search over d-subsets of rows (which the reference runs); over R^d only the
    # vertices on the cutting box are searched (first_new > 0), over fewer rows
    calls = []
    real = F._vertex_kernel
    monkeypatch.setattr(F, "_vertex_kernel", lambda *a: calls.append((a[4].copy(), int(a[5].sum()))) or real(*a))
    dec.complex()  # (f_vector() counts the engine's incidences without the face complex)
    assert all((fn > 0).all() for fn, _ in calls) and len(calls) == (box is None)
    ours = calls[:]
    calls.clear()
    ref.complex()
    assert any((fn == 0).all() for fn, _ in calls)
    if box is None:  # the box search of the reference solves subsets of every row
        assert ours[0][1] < calls[-1][1]
    _assert_same_answers(dec, ref)


@pytest.mark.parametrize("kind", ["int", "zero_bias", "duplicate"])
@pytest.mark.parametrize("box", [2.0, None])
def test_engine_arrays_on_degenerate_networks(kind, box, global_random_seed):
    """Concurrent and coincident hyperplanes, hyperplanes through the box's corners: a
    region whose engine vertices disagree with the row search is redone by it, so the
    answers still agree."""
    rng = np.random.default_rng(2000 + global_random_seed)
    for d in (2, 3):
        if kind == "int":
            net = int_net(rng, d, [5, 4])
        else:
            net = random_net(rng, d, [5, 4], **{kind: True})
        dom = None if box is None else pr.Box(-box, box, dim=d)
        dec = pr.enumerate_regions(net, dom, method="subdivision")
        if box is None:
            try:
                ref_fv = _without_arrays(dec).f_vector()
            except ValueError:  # regions without a vertex (first layer of rank < d): both paths say so
                with pytest.raises(ValueError, match="pointed"):
                    dec.f_vector()
                continue
            assert dec.f_vector() == ref_fv
        _assert_same_answers(dec, _without_arrays(dec))


def test_engine_arrays_fall_back_region_by_region():
    """A region whose incidences are wrong (here: every vertex bit cleared) gets its vertices
    from the row search; the answers do not change."""
    rng = np.random.default_rng(5)
    net = random_net(rng, 3, [6, 5])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=3), method="subdivision")
    Fb, vo, cell, box0 = dec._arrays["vertex_bits"]
    Fb = Fb.copy()
    Fb[vo[cell[0]]: vo[cell[0] + 1]] = 0  # region 0: its engine vertices name no row
    dec._arrays["vertex_bits"] = (Fb, vo, cell, box0)
    _assert_same_answers(dec, _without_arrays(dec))


def test_certificate_reads_the_engine_edge_array_and_catches_a_missing_edge():
    """The dual graph is read from the engine's edge array; removing an edge from it (or
    setting ``edges``) fails the certificate as removing it from the list does."""
    rng = np.random.default_rng(11)
    dec = pr.enumerate_regions(random_net(rng, 2, [6, 5]), pr.Box(-1.0, 1.0, dim=2), method="subdivision")
    E = dec._arrays["edges"]
    assert sorted(map(tuple, E.tolist())) == sorted((i, j) for i, j, _ in dec.edges)
    i, j = E[len(E) // 2]
    dec._arrays["edges"] = np.delete(E, len(E) // 2, axis=0)
    cert = dec.verify()
    assert not cert.checks["edges"] and f"({i}, {j})" in cert.failures["edges"]
    dec.edges = dec.edges  # setting the list drops the engine's array: the list is read again
    assert "edges" not in dec._arrays and dec.verify().checks["edges"]


FAST_CASES = [(2, [8, 8], None), (2, [6, 5], 1.0), (3, [6, 5], None), (3, [5, 4], 2.0), (4, [6, 5], None),
              (4, [5, 4], 1.5)]


def _fast(dec):
    """The certificate read off the engine's incidences alone (None: it fell through)."""
    A, b, roff, _, _ = F._flat_rows(dec)
    checks = {}
    out = F._engine_certificate(dec, A, b, roff, checks)
    return out, checks


@pytest.mark.parametrize("simple", [True, False])
@pytest.mark.parametrize("d, widths, box", FAST_CASES)
def test_certificate_from_the_engine_incidences_equals_the_face_complex(d, widths, box, simple, global_random_seed,
                                                                        monkeypatch):
    """verify() on a generic engine decomposition counts faces from the engine's vertex
    incidences (vertices identified by sign vector, regions cut by the engine's box) and
    never builds the face complex; its f-vector is the face complex's (which merges
    vertices by coordinates and cuts by its own box), its volumes sum to the domain's.
    Both ways of counting: the simple regions' row subsets (barycentric volumes), and the
    lattice kernel with its Hasse diagram (pulling volumes) that non-simple regions take."""
    rng = np.random.default_rng(3000 + 11 * global_random_seed + d)
    net = random_net(rng, d, widths)
    dom = None if box is None else pr.Box(-box, box, dim=d)
    dec = pr.enumerate_regions(net, dom, method="subdivision")
    calls = []
    real = F._simple_faces_kernel

    def spy(*a):
        out = real(*a)
        calls.append(out[0])
        return out if simple else (False,) + out[1:]

    monkeypatch.setattr(F, "_simple_faces_kernel", spy)
    out, checks = _fast(dec)
    assert calls == [True]  # a generic network: every region simple
    assert out is not None and all(checks.values())
    cert = dec.verify()
    assert cert.complete and "_face_complex" not in dec.__dict__  # the fast path answered
    K = _without_arrays(dec).complex()
    assert cert.f_vector == out[0] == K.f_vector()
    assert cert.euler_characteristic == K.euler_characteristic() == (1 if box else (-1) ** d)
    if box is not None:
        assert cert.volume_sum == pytest.approx((2 * box) ** d, rel=1e-9)
        assert cert.volume_sum == pytest.approx(K.volumes().sum(), rel=1e-9)
    assert set(checks) == set(cert.checks) - {"not_partial", "patterns_unique", "witnesses_inside"}


def _drop_region(dec, drop):
    """The decomposition with region ``drop`` left out of the engine's arrays, its Region
    objects and its edges (what a search that missed the region would hand over)."""
    arr = dec._arrays
    n = len(dec)
    keep = np.flatnonzero(np.arange(n) != drop)
    new = np.full(n, -1)
    new[keep] = np.arange(len(keep))
    roff = arr["row_offsets"]
    rows = np.concatenate([np.arange(roff[r], roff[r + 1]) for r in keep])
    m = np.diff(roff)[keep]
    E = arr["edges"]
    E = E[(E != drop).all(axis=1)]
    Fb, vo, cell, box0 = arr["vertex_bits"]
    out = dict(arr, A=arr["A"][rows], b=arr["b"][rows], row_ids=arr["row_ids"][rows],
               row_offsets=np.concatenate([[0], np.cumsum(m)]), edges=new[E], vertex_bits=(Fb, vo, cell[keep], box0))
    for k in ("witnesses", "bounded", "inradius", "patterns", "ranks"):
        out[k] = arr[k][keep]
    import dataclasses

    regions = [dataclasses.replace(r, index=int(new[r.index])) for r in dec.regions if r.index != drop]
    edges = [(int(new[i]), int(new[j]), u) for i, j, u in dec.edges if drop not in (i, j)]
    return Decomposition(dec.net, dec.domain, dec.layer, lambda: regions, lambda: edges, n_regions=len(keep),
                         arrays=out, method=dec.method)


@pytest.mark.parametrize("box", [1.0, None])
def test_engine_certificate_fails_with_a_region_or_an_edge_removed(box):
    """A region missing from the engine's arrays, or an edge missing from its dual graph,
    fails the incidence certificate, and verify() then names what failed (through the face
    complex)."""
    rng = np.random.default_rng(12)
    net = random_net(rng, 2, [6, 5])
    dec = pr.enumerate_regions(net, None if box is None else pr.Box(-box, box, dim=2), method="subdivision")
    assert _fast(dec)[0] is not None
    inner = next(i for i in range(len(dec)) if dec._arrays["bounded"][i]
                 and (dec._arrays["row_ids"][dec._arrays["row_offsets"][i]:dec._arrays["row_offsets"][i + 1]]
                      < net.offsets[dec.layer]).all())
    for drop in (inner, len(dec) - 1):
        cut = _drop_region(dec, drop)
        assert _fast(cut)[0] is None
        cert = cut.verify()
        assert not cert.complete and not cert.checks["facet_neighbours"]
        assert "regions across it" in cert.failures["facet_neighbours"] or "shared by" in cert.failures[
            "facet_neighbours"]
        if box is not None:
            assert not cert.checks["volume"]
    E = dec._arrays["edges"]
    i, j = E[len(E) // 3]
    dec._arrays["edges"] = np.delete(E, len(E) // 3, axis=0)
    assert _fast(dec)[0] is None
    cert = dec.verify()
    assert not cert.complete and f"({i}, {j})" in cert.failures["edges"]
