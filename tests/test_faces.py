"""Faces of every dimension and the completeness certificate, against independent truths:
the Euler-Poincare relation of every face, a polygon-cutting reference in 2-D (forward
passes only, no H-representations), the two engines against each other, tilings with a
region or a neighbour removed, and exact rational arithmetic."""

import dataclasses

import numpy as np
import pytest

import polyrank as pr
from polyrank.exceptions import CertificateError
from polyrank.faces import exact_check
from polyrank.regions import Decomposition


def _net(rng, d, widths, *, integer=False, zero_bias=False, duplicate=False, readout=None):
    Ws, bs, prev = [], [], d
    for w in widths:
        W = rng.integers(-1, 2, size=(w, prev)).astype(float) if integer else rng.normal(size=(w, prev))
        b = rng.integers(-1, 2, size=w).astype(float) if integer else rng.normal(size=w)
        if zero_bias:
            b[:] = 0.0
        if duplicate and w >= 2:
            W[-1], b[-1] = W[0], b[0]
        Ws.append(W)
        bs.append(b)
        prev = w
    ro = None if readout is None else (rng.normal(size=(readout, prev)), rng.normal(size=readout))
    return pr.ReLUNetwork.from_weights(Ws, bs, readout=ro)


def _face_closure(K, k, i):
    """f-vector of the closed k-face i (its own faces, itself included)."""
    faces = [set() for _ in range(k + 1)]
    faces[k].add(i)
    for j in range(k, 0, -1):
        for f in faces[j]:
            faces[j - 1].update(K.facets[j][f])
    return [len(s) for s in faces]


# ----------------------------------------------------------------------------- Euler
@pytest.mark.parametrize("d,widths", [(1, [5, 4]), (2, [6, 5]), (3, [5, 5]), (4, [4, 3])])
def test_euler_relation_of_every_face_and_of_the_complex(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    net = _net(rng, d, widths)
    dec = pr.enumerate_regions(net, pr.Box(-1.5, 1.5, dim=d))
    K = dec.complex()
    f = dec.f_vector()
    assert f[d] == len(dec)
    assert sum((-1) ** k * n for k, n in enumerate(f)) == 1  # a box is contractible
    # Euler-Poincare for every polytope face: sum_i (-1)^i f_i(F) = 1
    for k in range(1, d + 1):
        for i in range(len(K.cells[k])):
            fv = _face_closure(K, k, i)
            assert sum((-1) ** j * n for j, n in enumerate(fv)) == 1, (k, i, fv)
            assert len(K.facets[k][i]) >= k + 1  # a k-polytope has >= k+1 facets
    # the triangulation is a d-ball: Betti numbers of a point
    assert K.betti() == [1] + [0] * d
    # the triangulated region volumes tile the domain
    assert np.isclose(K.volumes().sum(), 3.0 ** d, rtol=1e-9)


def test_polytope_domain_and_degenerate_networks(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    dom = pr.Polytope(rng.normal(size=(5, 2)), np.abs(rng.normal(size=5)) + 0.5)
    if not dom.bounded:
        dom = pr.Box(-1.0, 1.5, dim=2)
    for kw in ({}, {"integer": True}, {"zero_bias": True}, {"duplicate": True}):
        net = _net(rng, 2, [5, 4], **kw)
        for dom_ in (dom, pr.Box(-2.0, 2.0, dim=2)):
            cert = pr.enumerate_regions(net, dom_).verify()
            assert cert.complete, (kw, cert.failures)


# ----------------------------------------------------------------------------- reference
def _cut_reference(net, lo, hi):
    """2-D polygon cutting with forward passes only: start from the box, cut every current
    polygon by every unit (layer by layer) where the unit's pre-activation changes sign at
    its corners (it is affine on a polygon that no earlier unit cuts), interpolate the
    crossing points. Returns (vertices, edges, n_polygons)."""
    polys = [np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]], dtype=float)]
    offsets = np.concatenate([[0], np.cumsum(net.widths)])
    for u in range(net.n_neurons):
        layer = int(np.searchsorted(offsets, u, side="right")) - 1
        col = u - offsets[layer]
        out = []
        for P in polys:
            z = net.preactivations(P)[layer][:, col]
            scale = np.abs(z).max()
            z = np.where(np.abs(z) <= 1e-12 * max(scale, 1e-300), 0.0, z)
            if not (z > 0).any() or not (z < 0).any():
                out.append(P)
                continue
            pos, neg = [], []
            n = len(P)
            for i in range(n):
                a, b, za, zb = P[i], P[(i + 1) % n], z[i], z[(i + 1) % n]
                if za >= 0:
                    pos.append(a)
                if za <= 0:
                    neg.append(a)
                if za * zb < 0:
                    c = a + (b - a) * (za / (za - zb))
                    pos.append(c)
                    neg.append(c)
            out += [np.array(pos), np.array(neg)]
        polys = out
    # global vertices (rounded), then split polygon edges at vertices lying on them
    pts = np.concatenate(polys)
    key = np.round(pts / 1e-9).astype(np.int64)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    V = pts[first]
    edges = set()
    start = 0
    for P in polys:
        ids = inv.ravel()[start: start + len(P)]
        start += len(P)
        for i in range(len(P)):
            a, b = int(ids[i]), int(ids[(i + 1) % len(P)])
            if a == b:
                continue
            A, B = V[a], V[b]
            t = (V - A) @ (B - A) / ((B - A) @ (B - A))
            dist = np.linalg.norm(A + t[:, None] * (B - A) - V, axis=1)
            inner = np.flatnonzero((dist < 1e-9) & (t > 1e-9) & (t < 1 - 1e-9))
            chain = [a] + [int(j) for j in inner[np.argsort(t[inner])]] + [b]
            edges.update((min(p, q), max(p, q)) for p, q in zip(chain[:-1], chain[1:]))
    return V, edges, len(polys)


@pytest.mark.parametrize("widths", [[4], [5, 4], [4, 4, 3]])
def test_vertices_and_edges_equal_polygon_cutting_reference(widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed + 7)
    net = _net(rng, 2, widths)
    V, E, n_poly = _cut_reference(net, -1.5, 1.5)
    for method in ("lp", "subdivision"):
        dec = pr.enumerate_regions(net, pr.Box(-1.5, 1.5, dim=2), method=method)
        assert dec.f_vector() == (len(V), len(E), n_poly), method
        got = dec.faces(0)[["x0", "x1"]].to_numpy()
        a = np.array(sorted(map(tuple, np.round(got, 7))))
        b = np.array(sorted(map(tuple, np.round(V, 7))))
        np.testing.assert_allclose(a, b, atol=2e-7)


def test_degenerate_vertices_use_the_general_lattice(global_random_seed):
    """Four planes through the origin of R^3 (cones over quadrilaterals: their apex lies on 4
    rows, so those regions are not simple) and a random second layer: the per-region
    lattice path, against the Euler relation of every face and across engines."""
    rng = np.random.default_rng(global_random_seed + 13)
    W1 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    net = pr.ReLUNetwork.from_weights([W1, rng.normal(size=(3, 4))], [np.zeros(4), rng.normal(size=3)])
    decs = [pr.enumerate_regions(net, pr.Box(-1.5, 1.5, dim=3), method=m) for m in ("lp", "subdivision")]
    for dec in decs:
        K = dec.complex()
        assert K.n_simple_regions < len(dec)
        assert dec.verify().complete
        for k in range(1, 4):
            for i in range(len(K.cells[k])):
                assert sum((-1) ** j * n for j, n in enumerate(_face_closure(K, k, i))) == 1
    assert _face_keys(decs[0]) == _face_keys(decs[1])


# ----------------------------------------------------------------------------- engines
def _face_keys(dec):
    """Per dimension: the set of faces as (sign vector, domain facets, vertex coordinates)."""
    out = []
    for k in range(dec.net.input_dim + 1):
        F = dec.faces(k)
        V = dec.complex().vertices
        out.append({(s, dom, tuple(sorted(tuple(np.round(V[v], 7)) for v in vs)))
                    for s, dom, vs in zip(F.sign, F.domain_facets, F.vertices)})
    return out


@pytest.mark.parametrize("d,widths", [(2, [6, 6]), (3, [5, 4]), (4, [4, 3])])
def test_faces_equal_between_engines(d, widths, global_random_seed):
    rng = np.random.default_rng(global_random_seed + 11)
    net = _net(rng, d, widths)
    dom = pr.Box(-1.0, 1.0, dim=d)
    a = pr.enumerate_regions(net, dom, method="lp")
    b = pr.enumerate_regions(net, dom, method="subdivision")
    assert a.f_vector() == b.f_vector()
    assert _face_keys(a) == _face_keys(b)


def test_sign_vectors_identify_faces_and_match_patterns(global_random_seed):
    """Masden: in a generic network every face has its own sign sequence (with the domain
    facets it lies on), and a region's sign vector is its pattern (+ active, - inactive)."""
    rng = np.random.default_rng(global_random_seed + 3)
    net = _net(rng, 2, [5, 5])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))
    for k in range(3):
        F = dec.faces(k)
        keys = list(zip(F.sign, F.domain_facets))
        assert len(set(keys)) == len(keys)
    top = dec.faces(2)
    for s, (r,) in zip(top.sign, top.regions):
        assert s == "".join("+" if p else "-" for p in dec[r].pattern)
    # a vertex's zero units: at least d of them or domain facets
    v = dec.faces(0)
    assert all(nz + len(df) >= 2 for nz, df in zip(v.n_zero_units, v.domain_facets))


# ----------------------------------------------------------------------------- all of R^d
@pytest.mark.parametrize("d,n", [(1, 4), (2, 5), (3, 5), (4, 6)])
def test_faces_of_all_of_Rd_match_the_arrangement_formula(d, n, global_random_seed):
    """One hidden layer in general position: each k-face lies in d-k of the n hyperplanes,
    whose k-flat the other n-d+k cut into sum_i C(n-d+k, i) pieces, so
    f_k = C(n, d-k) sum_{i<=k} C(n-d+k, i); C(n-1, d) regions are bounded (Zaslavsky)."""
    from math import comb

    rng = np.random.default_rng(global_random_seed + 31)
    net = _net(rng, d, [n])
    want = tuple(comb(n, d - k) * sum(comb(n - d + k, i) for i in range(k + 1)) for k in range(d + 1))
    for method in ("lp", "subdivision") if d <= 4 else ("lp",):
        dec = pr.enumerate_regions(net, None, method=method)
        K = dec.complex()
        assert dec.f_vector() == want, method
        assert K.euler_characteristic() == (-1) ** d
        assert K.bounded[d].sum() == comb(n - 1, d) == sum(r.bounded for r in dec)
        assert K.bounded[0].all() and not K.problems


@pytest.mark.parametrize("d,widths", [(2, [6, 5]), (3, [4, 4])])
def test_faces_of_Rd_equal_between_engines_and_the_interior_of_a_large_box(d, widths, global_random_seed):
    """Deeper nets over all of R^d: both engines give the same faces, Euler characteristic
    (-1)^d, and the faces of a box holding every vertex that do not lie on its boundary
    (an independent enumeration) are as many."""
    rng = np.random.default_rng(global_random_seed + 41)
    net = _net(rng, d, widths)
    a = pr.enumerate_regions(net, None, method="lp")
    b = pr.enumerate_regions(net, None, method="subdivision")
    assert a.f_vector() == b.f_vector()
    assert a.complex().euler_characteristic() == (-1) ** d
    assert _face_keys(a) == _face_keys(b)
    R = float(np.abs(b.complex().vertices).max()) * 1.5 + 1.0
    box = pr.enumerate_regions(net, pr.Box(-R, R, dim=d), method="subdivision")
    inner = tuple(int((~box.complex().on_domain[k].any(axis=1)).sum()) for k in range(d + 1))
    # a region of R^d meets the box interior, so interior faces are all but the box's own
    assert inner[:d] == b.f_vector()[:d] and len(box) == len(b)
    # a bounded face lists its vertices; an unbounded one fewer than it would need
    for k in range(1, d + 1):
        F = b.faces(k)
        assert (F.bounded == b.complex().bounded[k]).all()
        assert all(len(v) >= k + 1 for v, bd in zip(F.vertices, F.bounded) if bd)


def test_unbounded_polytope_domain():
    """Two lines through the origin of the upper half-plane: one vertex (on the domain's
    boundary), three rays, two regions; Euler characteristic 0 (a half-plane)."""
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    dom = pr.Polytope([[0.0, -1.0]], [0.0])
    for method in ("lp", "subdivision"):
        K = pr.enumerate_regions(net, dom, method=method).complex()
        assert K.f_vector() == (1, 3, 2) and K.euler_characteristic() == 0
        assert K.on_domain[0].all() and K.on_domain[1].sum() == 2
        assert [b.tolist() for b in K.bounded] == [[True], [False] * 3, [False] * 2]


def test_qhull_path_for_regions_with_many_subsets(monkeypatch, global_random_seed):
    from polyrank import faces

    rng = np.random.default_rng(global_random_seed + 51)
    net = _net(rng, 3, [5, 4])
    keys = {}
    for cap in (faces.MAX_SUBSETS, 3):
        monkeypatch.setattr(faces, "MAX_SUBSETS", cap)
        for dom in (pr.Box(-1.0, 1.0, dim=3), None):
            dec = pr.enumerate_regions(net, dom)
            keys.setdefault(dom is None, []).append((dec.f_vector(), _face_keys(dec)))
    assert all(v[0] == v[1] for v in keys.values())


@pytest.mark.parametrize("kind", ["integer", "zero_bias", "duplicate"])
def test_region_sign_vectors_on_degenerate_networks(kind, global_random_seed):
    """A region's sign is + on its active units and - or 0 on the others, and 0 exactly
    where the unit is identically zero on the region (zero at its witness and at every
    vertex): integer weights, zero biases (units fed only by inactive ones are zero) and
    duplicated units, d = 3."""
    rng = np.random.default_rng(global_random_seed + 81)
    net = _net(rng, 3, [5, 3, 2], **{kind: True})
    dec = pr.enumerate_regions(net, pr.Box(-1.5, 1.5, dim=3))
    K = dec.complex()
    S = K.sign_vectors(3)
    for r in dec.regions:
        s = S[r.index]
        p = np.asarray(r.pattern)
        assert (s[p] == 1).all()
        Z = np.concatenate(net.preactivations(np.vstack([r.witness[None], K.vertices[list(K.cells[3][r.index])]])),
                           axis=1)
        zero = np.abs(Z).max(axis=0) <= 1e-9 * (1.0 + np.abs(Z).max())
        assert ((s == 0) == (zero & ~p)).all(), (r.index, s, p)


@pytest.mark.parametrize("domain", ["box", None])
def test_faces_and_certificate_from_engine_arrays_without_region_objects(domain, global_random_seed):
    """An engine may hand the H-representations over as arrays (Decomposition ``arrays``:
    A, b, row_offsets, witnesses, bounded, row_ids); faces and the certificate then never
    build a Region, and agree with the Region path."""
    rng = np.random.default_rng(global_random_seed + 91)
    net = _net(rng, 3, [5, 4])
    dom = pr.Box(-1.0, 1.0, dim=3) if domain else None
    ref = pr.enumerate_regions(net, dom)
    R = ref.regions
    units = np.concatenate([[0], np.cumsum(net.widths)])
    ids = [units[lab[0] - 1] + lab[1] if lab[0] > 0 else units[-1] + lab[1] for r in R for lab in r.facets]
    arrays = dict(A=np.concatenate([r.A for r in R]), b=np.concatenate([r.b for r in R]),
                  row_offsets=np.concatenate([[0], np.cumsum([len(r.b) for r in R])]),
                  witnesses=np.array([r.witness for r in R]), bounded=np.array([r.bounded for r in R]),
                  row_ids=np.array(ids), patterns=ref.patterns, ranks=np.array([r.ranks for r in R]))

    def no_regions():
        raise AssertionError("Region objects were built")

    dec = Decomposition(net, dom, ref.layer, no_regions, ref.edges, n_regions=len(ref), arrays=arrays,
                        method=ref.method)
    assert dec.f_vector() == ref.f_vector()
    cert = dec.verify()
    assert cert.complete and cert.checks == ref.verify().checks
    assert dec.faces(1).sign.tolist() == ref.faces(1).sign.tolist()


# ----------------------------------------------------------------------------- verify
def _assorted(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 4))
    widths = [int(w) for w in rng.integers(2, 6, size=int(rng.integers(1, 4)))]
    kind = ["integer", "zero_bias", "duplicate", None][seed % 4]
    return _net(rng, d, widths, **({kind: True} if kind else {})), pr.Box(-2.0, 2.0, dim=d)


@pytest.mark.parametrize("case", range(8))
def test_verify_passes_on_assorted_networks(case, global_random_seed):
    net, dom = _assorted(100 * global_random_seed + case)
    for method in ("lp", "subdivision"):
        cert = pr.enumerate_regions(net, dom, method=method).verify()
        assert cert.complete, cert.failures
        assert set(cert.checks) >= {"patterns_unique", "facet_neighbours", "edges", "volume",
                                    "euler_characteristic"}


def _without_region(dec, drop):
    keep = [r for r in dec.regions if r.index != drop]
    new = {r.index: i for i, r in enumerate(keep)}
    regions = [dataclasses.replace(r, index=new[r.index]) for r in keep]
    edges = [(new[i], new[j], u) for i, j, u in dec.edges if i in new and j in new]
    return Decomposition(dec.net, dec.domain, dec.layer, regions, edges, method=dec.method)


def test_verify_fails_clearly_with_a_region_deleted():
    rng = np.random.default_rng(5)
    net = _net(rng, 2, [6, 5])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))
    assert dec.verify().complete
    inner = next(r.index for r in dec.regions if all(lab[0] > 0 for lab in r.facets))
    for drop in (inner, 0):
        cert = _without_region(dec, drop).verify()
        assert not cert.complete
        assert not cert.checks["volume"] and not cert.checks["facet_neighbours"]
        with pytest.raises(CertificateError, match="volume"):
            cert.raise_if_failed()
    assert not _without_region(dec, inner).verify().checks["euler_characteristic"]


def test_verify_fails_clearly_with_a_facet_neighbour_removed():
    rng = np.random.default_rng(6)
    net = _net(rng, 3, [5, 4])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=3))
    i, j, u = dec.edges[len(dec.edges) // 2]
    broken = Decomposition(dec.net, dec.domain, dec.layer, dec.regions,
                           [e for e in dec.edges if e[:2] != (i, j)], method=dec.method)
    cert = broken.verify()
    assert not cert.complete and cert.checks["volume"] and not cert.checks["edges"]
    with pytest.raises(CertificateError, match=rf"edges: missing facet neighbours \({i}, {j}\)"):
        cert.raise_if_failed()
    # a region with a facet row removed no longer matches its neighbour
    r = dec.regions[i]
    k = next(n for n, lab in enumerate(r.facets) if lab[0] > 0)
    cut = dataclasses.replace(r, A=np.delete(r.A, k, 0), b=np.delete(r.b, k), facets=r.facets[:k] + r.facets[k + 1:])
    regions = list(dec.regions)
    regions[i] = cut
    cert = Decomposition(dec.net, dec.domain, dec.layer, regions, dec.edges).verify()
    assert not cert.complete and not cert.checks["facet_neighbours"]


def test_verify_over_all_of_Rd_and_partial(global_random_seed):
    """Over all of R^d the certificate checks facets, edges and the Euler characteristic
    (-1)^d (no volume); it fails with a region deleted, without vertices (a rank-1 first
    layer) and on a partial enumeration."""
    rng = np.random.default_rng(global_random_seed + 71)
    net = _net(rng, 2, [6, 5])
    for method in ("lp", "subdivision"):
        dec = pr.enumerate_regions(net, None, method=method)
        cert = dec.verify()
        assert cert.complete, cert.failures
        assert "volume" not in cert.checks and cert.euler_characteristic == 1
        inner = next(r.index for r in dec.regions if not r.bounded)
        cut = _without_region(dec, inner).verify()
        assert not cut.complete and not cut.checks["facet_neighbours"]
    line = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    cert = pr.enumerate_regions(line, None).verify()
    assert not cert.complete and "pointed" in cert.failures["face_lattice"]
    eye = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    part = pr.enumerate_regions(eye, pr.Box(-1.0, 1.0, dim=2), method="lp", max_regions=2, partial=True)
    assert not part.verify().complete


def test_enumerate_verify_option_and_cli(tmp_path, capsys):
    net = _net(np.random.default_rng(1), 2, [5, 5])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2), verify=True)
    assert dec.stats["certificate"].complete
    assert pr.enumerate_regions(net, None, verify=True).stats["certificate"].complete
    line = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    with pytest.raises(CertificateError, match="pointed"):
        pr.enumerate_regions(line, None, verify=True)
    from polyrank.cli import main

    main(["enumerate", "--input-dim", "2", "--widths", "4,4", "--box", "1", "--verify"])
    assert "certificate: complete" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exact
def test_exact_verify_agrees_and_reports_disagreements(global_random_seed):
    rng = np.random.default_rng(global_random_seed + 21)
    net = _net(rng, 3, [6, 5, 4])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=3))
    cert = dec.verify(exact=True)
    assert cert.complete and cert.exact["disagreements"] == []
    assert cert.exact["seconds_per_region"] > 0
    # a wrong rank and a witness moved onto a facet are reported, each by name
    regions = list(dec.regions)
    r0, r1 = regions[0], regions[1]
    regions[0] = dataclasses.replace(r0, ranks=(r0.ranks[0],) + tuple(x + 1 for x in r0.ranks[1:]))
    k = next(n for n, lab in enumerate(r1.facets) if lab[0] > 0)
    on = r1.witness + (r1.b[k] - r1.A[k] @ r1.witness) * r1.A[k] * 2.0  # reflected across the facet
    regions[1] = dataclasses.replace(r1, witness=on)
    bad = Decomposition(dec.net, dec.domain, dec.layer, regions, dec.edges)
    for backend in ("fractions", None):
        for filt in (True, False):
            res = exact_check(bad, backend=backend, filter=filt)
            dis = res["disagreements"]
            kinds = {(x["region"], x["kind"]) for x in dis}
            assert (0, "rank") in kinds and (1, "witness") in kinds
            assert {x["region"] for x in dis} == {0, 1}
            assert res["n_exact"] >= 2 and (filt or res["n_exact"] == len(dec))
    cert = bad.verify(exact=True)
    assert not cert.complete and not cert.checks["exact"]


@pytest.mark.parametrize("kind", ["integer", "zero_bias", "duplicate", None])
def test_exact_float_filter_agrees_with_rationals_everywhere(kind, global_random_seed):
    """The float64 filter settles only what the rationals confirm: on degenerate networks
    (integer weights: witnesses and ranks with exact ties, zero biases, duplicated units)
    and with witnesses moved to the centre of a facet (a zero pre-activation) or across
    it, the disagreements are those of the all-rational re-check."""
    rng = np.random.default_rng(global_random_seed + 61)
    net = _net(rng, 2, [4, 4, 3], **({kind: True} if kind else {}))
    dec = pr.enumerate_regions(net, pr.Box(-1.5, 1.5, dim=2))
    regions = []
    for r in dec.regions:
        k = next((n for n, lab in enumerate(r.facets) if lab[0] > 0), None)
        if k is not None and r.index % 3 == 1:
            V = r.vertices()
            on = V[np.abs(V @ r.A[k] - r.b[k]) < 1e-9].mean(axis=0)  # on the facet
            r = dataclasses.replace(r, witness=on)
        elif k is not None and r.index % 3 == 2:  # reflected across it
            r = dataclasses.replace(r, witness=r.witness + 2.0 * (r.b[k] - r.A[k] @ r.witness) * r.A[k])
        regions.append(r)
    moved = Decomposition(dec.net, dec.domain, dec.layer, regions, dec.edges)
    for d_ in (dec, moved):
        a = exact_check(d_, backend="fractions")
        b = exact_check(d_, backend="fractions", filter=False)
        assert a["disagreements"] == b["disagreements"]
        assert a["n_exact"] <= b["n_exact"] == len(dec)
    assert b["disagreements"]  # the moved witnesses are caught


def test_exact_backends_agree_on_a_rank_drop():
    # layer 2 sees only one direction on the region where both layer-1 units are active
    net = pr.ReLUNetwork.from_weights([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [2.0, 2.0]]],
                                      [[0.0, 0.0], [0.1, -0.3]])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))
    a = exact_check(dec, backend="fractions")
    assert a["disagreements"] == []
    assert max(r.ranks[1] for r in dec.regions) == 1
    assert a["n_exact"] >= 1  # a rank below min(d, active units) is never settled in float64


# ----------------------------------------------------------------------------- bad input
def test_bad_input():
    net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2))
    with pytest.raises(ValueError, match=r"k must be a face dimension in 0..2.*got 3"):
        dec.faces(3)
    with pytest.raises(TypeError, match="k must be an int"):
        dec.faces(1.0)
    # all of R^d: faces need pointed regions (a rank-1 first layer in R^2 gives none)
    line = pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[0.0]])
    with pytest.raises(ValueError, match="pointed regions.*Box"):
        pr.enumerate_regions(line, None).f_vector()
    with pytest.raises(ValueError, match="needs a bounded domain"):
        pr.enumerate_regions(net, None).complex().triangulation()
    with pytest.raises(ValueError, match="backend"):
        exact_check(dec, backend="sympy")


@pytest.mark.parametrize("domain", ["box", None])
def test_pickle_round_trip_after_complex(domain, global_random_seed):
    """A Decomposition pickles after ``complex()`` was called (the cached face complex holds
    closures: it is left out and rebuilt), and the copy gives the same faces and certificate."""
    import pickle

    rng = np.random.default_rng(global_random_seed + 17)
    net = _net(rng, 2, [5, 4])
    dec = pr.enumerate_regions(net, pr.Box(-1.0, 1.0, dim=2) if domain else None)
    K = dec.complex()
    cert = dec.verify()
    back = pickle.loads(pickle.dumps(dec))
    assert back.f_vector() == K.f_vector() and back.complex() is not K
    np.testing.assert_array_equal(back.complex().vertices, K.vertices)
    for k in range(3):
        assert back.faces(k).equals(dec.faces(k))
    again = back.verify()
    assert again.complete and cert.complete
    assert (again.checks, again.f_vector, again.euler_characteristic) == (cert.checks, cert.f_vector,
                                                                          cert.euler_characteristic)
    assert pickle.loads(pickle.dumps(back)).f_vector() == K.f_vector()
