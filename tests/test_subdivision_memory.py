"""How the subdivision engine stores its cells (issue 13): the chunked complex, the maps
rebuilt by the neighbour pass and the chunked adjacency give the same answers as one
chunk, and a run's traced memory per cell stays well under what the engine needed when
it kept every layer's maps and the whole complex twice."""

import tracemalloc

import numpy as np
import pytest

import polyrank as pr
from conftest import random_net
from polyrank import subdivision


def _answer(dec):
    """Everything a Decomposition reports, in its own order."""
    regs = dec.regions
    return dict(pattern=np.array([r.pattern for r in regs]), ranks=np.array([r.ranks for r in regs]),
                sizes=np.array([r.codeword_sizes for r in regs]),
                A=np.concatenate([r.A for r in regs]), b=np.concatenate([r.b for r in regs]),
                witness=np.array([r.witness for r in regs]), inradius=np.array([r.inradius for r in regs]),
                facets=[r.facets for r in regs], bounded=[r.bounded for r in regs], edges=list(dec.edges),
                arrays=(np.asarray(dec.patterns), np.stack([dec.ranks(k) for k in range(1, dec.layer + 1)])))


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], tuple):
            assert all(np.array_equal(x, y) for x, y in zip(a[k], b[k])), k
        elif isinstance(a[k], np.ndarray):
            assert a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k  # bit for bit
        else:
            assert a[k] == b[k], k


@pytest.mark.parametrize("d, widths, box, layer", [(3, [8, 8, 8], 3.0, None), (2, [7, 6], None, None),
                                                    (5, [6, 5], 1.0, None), (3, [8, 8, 8], 3.0, 2)])
def test_chunks_do_not_change_the_answer(monkeypatch, d, widths, box, layer):
    """Pieces of 3 cells, 5 facets per neighbour chunk, 1 or 3 threads: the same regions,
    rows, witnesses, ranks and edges, bit for bit, as one piece and one chunk."""
    rng = np.random.default_rng(d * 10 + len(widths))
    net = random_net(rng, d, widths)
    dom = pr.Box(-box, box, dim=d) if box else None
    monkeypatch.setattr(subdivision, "LAYER_CHUNK_CELLS", 1 << 30)
    monkeypatch.setattr(subdivision, "ADJACENCY_CHUNK", 1 << 30)
    whole = _answer(pr.enumerate_regions(net, dom, layer=layer, method="subdivision", n_jobs=1))
    assert len(whole["pattern"]) > 20  # several pieces and chunks below
    monkeypatch.setattr(subdivision, "LAYER_CHUNK_CELLS", 3)
    monkeypatch.setattr(subdivision, "ADJACENCY_CHUNK", 5)
    monkeypatch.setattr(subdivision, "PARALLEL_MIN_CHUNK", 1)
    for n_jobs in (1, 3):
        _same(whole, _answer(pr.enumerate_regions(net, dom, layer=layer, method="subdivision", n_jobs=n_jobs)))


@pytest.mark.parametrize("d, widths, box", [(2, [9, 8, 7], 3.0), (3, [6, 6], None)])
def test_kept_maps_give_the_rebuilt_answer(monkeypatch, d, widths, box):
    """The neighbour pass reads the run's maps when it kept them (KEEP_MAPS_BYTES) and
    rebuilds them cell by cell otherwise: the same regions and edges, bit for bit."""
    rng = np.random.default_rng(d + len(widths))
    net = random_net(rng, d, widths)
    dom = pr.Box(-box, box, dim=d) if box else None
    answers = []
    for cap in (1 << 40, 0):
        monkeypatch.setattr(subdivision, "KEEP_MAPS_BYTES", cap)
        answers.append(_answer(pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1)))
    assert len(answers[0]["pattern"]) > 20
    _same(*answers)


def test_partial_run_keeps_whole_cells_across_chunks(monkeypatch):
    """max_regions cuts the chunked complex after m cells: the first m cells of an uncut run's
    layer, whatever the chunk boundaries (the regions are the same as with one chunk)."""
    rng = np.random.default_rng(5)
    net = random_net(rng, 2, [9, 9])
    dom = pr.Box(-3.0, 3.0, dim=2)
    answers = []
    for size in (1 << 30, 4):
        monkeypatch.setattr(subdivision, "LAYER_CHUNK_CELLS", size)
        dec = pr.enumerate_regions(net, dom, method="subdivision", max_regions=30, partial=True, n_jobs=1)
        assert dec.partial and 0 < len(dec) <= 30 * 9
        answers.append(_answer(dec))
    _same(*answers)


def test_traced_memory_per_cell():
    """Traced (numpy and Python) peak of one run of a 3-16-16-16 network over [-10, 10]^3
    (14 377 cells), per cell: 3142 B when the engine kept every layer's maps, the whole
    complex twice during a layer and every facet's neighbour pattern at once; about 1250 B
    now. The bound leaves room for other numpy versions."""
    net = pr.ReLUNetwork.from_torch(pr.train.mlp(3, [16, 16, 16], seed=0))
    dom = pr.Box(-10.0, 10.0, dim=3)
    pr.enumerate_regions(net, dom, layer=1, method="subdivision", n_jobs=1)  # compiled kernels, imports
    tracemalloc.start()
    try:
        dec = pr.enumerate_regions(net, dom, method="subdivision", n_jobs=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(dec) == dec.stats["n_cells"] > 10_000
    assert peak / dec.stats["n_cells"] < 2000
