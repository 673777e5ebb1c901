"""The topological flow of Naitzat, Zhitnikov & Lim (JMLR 2020), computed exactly.

Naitzat et al. trained deep ReLU classifiers on three data sets and followed the Betti
numbers of each class as it passes through the layers, estimated from point samples with
a Vietoris-Rips complex; their figure shows the topology of every class simplifying to that
of a point. Here each class is a mesh of the manifold the data were sampled from, and the
Betti numbers of its image ``f_l(X)`` at every layer l are exact
(:func:`polyrank.image_homology`), next to the Rips estimate on the mesh's vertices.

The data sets (geometry of the follow-up paper's subsamples of them, measured on its data):

* **D-I** (2-D): class 1 is nine disks of radius :data:`DI_DISK_RADIUS`; class 0 is the
  square ``[-10, 10]^2`` with nine holes of radius :data:`DI_HOLE_RADIUS` around them.
  Betti numbers (1, 9, 0) and (9, 0, 0).
* **D-II** (3-D): nine pairs of linked rings (radius :data:`DII_RING_RADIUS`, one in an
  xz-plane and one in an xy-plane, shifted by :data:`DII_SHIFT`); each class holds one ring
  of every pair. The data are solid rings (tubes of radius :data:`DII_TUBE_RADIUS`); the mesh
  is their core circles (``rings="circle"``, homotopy equivalent: (9, 9)) or the tube
  surfaces (``rings="torus"``: (9, 18, 9)).
* **D-III** (3-D): nine sites, each with three concentric spheres; class 0 is the middle one
  (radius 0.2), class 1 the inner and outer ones (0.1 and 0.4): (9, 0, 9) and (18, 0, 18).

The classifiers: one trained here with :func:`polyrank.train.fit` on samples of these
manifolds (widths :data:`PAPER_WIDTHS`, as Naitzat et al.), and the follow-up paper's own
trained models (:func:`polyrank.data.load_naitzat_model`).

Exact layers. For each class mesh ``K`` and layer l, :func:`layer_flow` calls
:func:`polyrank.image_homology` with a candidate budget and a time limit; a refused or
timed-out layer is a row with missing Betti numbers and the reason. Trained classifiers
often squash a class onto a line (a single unit left alive): when ``f_l(|K|)`` lies in an
affine line (every refined vertex within the tolerance of it), it is a finite union of
intervals, whose union is computed directly; the deeper layers are then the image of that
union of segments under layers l+1..L, a 1-dimensional mesh, so ``image_homology`` runs on
it instead of on ``K`` (``f_m(|K|) = g(f_l(|K|))`` as sets). Both steps are exact.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import threading
import time
import warnings

import numpy as np

__all__ = [
    "DATASETS",
    "LABELS",
    "PAPER_WIDTHS",
    "PAPER_SETTINGS",
    "QUICK_SETTINGS",
    "RIPS_FACTOR",
    "HE_BIAS",
    "RIPS_SAMPLE",
    "theory_betti",
    "class_manifold",
    "sample",
    "train_classifier",
    "layer_flow",
    "run",
    "plot",
    "cli_main",
    "summary",
    "FEATURE_SIZE",
    "PAPER_SPACING",
    "QUICK_SPACING",
    "RIPS_NET_DIVISOR",
    "DIII_SHELL",
    "DI_HALF_WIDTH",
    "DI_CENTERS",
    "DI_DISK_RADIUS",
    "DI_HOLE_RADIUS",
    "DII_RING_RADIUS",
    "DII_TUBE_RADIUS",
    "DII_SHIFT",
    "DII_SITES",
    "DIII_SITES",
    "DIII_RADII",
]

#: The three data sets of Naitzat et al.
DATASETS = ("D-I", "D-II", "D-III")
#: The two classes of every data set.
LABELS = (0, 1)
#: Hidden widths of Naitzat et al.'s (and the follow-up's) classifiers: 15 units x 9 layers.
PAPER_WIDTHS = {"D-I": (15,) * 9, "D-II": (15,) * 9, "D-III": (15,) * 9}

# ---------------------------------------------------------------------------- geometry
#: D-I: the square is ``[-DI_HALF_WIDTH, DI_HALF_WIDTH]^2``.
DI_HALF_WIDTH = 10.0
#: D-I: centres of the nine disks and holes: the origin and eight points at radius 7.
DI_CENTERS = tuple((0.0, 0.0) if k < 0 else (7.0 * math.cos(k * math.pi / 4), 7.0 * math.sin(k * math.pi / 4))
                   for k in range(-1, 8))
#: D-I: radius of the class-1 disks (the follow-up's data reach 1.27-1.32 from the centres).
DI_DISK_RADIUS = 1.3
#: D-I: radius of the holes of the class-0 square (its data start at 1.78-1.81).
DI_HOLE_RADIUS = 1.8
#: D-II: radius of every ring's core circle.
DII_RING_RADIUS = 0.18
#: D-II: radius of the solid tube around each core circle (the training data; the torus mesh).
DII_TUBE_RADIUS = 0.06
#: D-II: the xy-ring of a pair is centred at its site plus (DII_SHIFT, 0, 0); the xz-ring at the site.
DII_SHIFT = 0.15
#: D-II: (site, label of its xz-ring); the xy-ring of the site has the other label.
DII_SITES = (((0.0, 0.0, 0.0), 1),
             ((0.62, 0.74, -0.74), 0), ((-0.62, 0.74, -0.74), 1), ((0.62, 0.74, 0.74), 1),
             ((0.62, -0.74, -0.74), 0), ((0.62, -0.74, 0.74), 0), ((-0.62, 0.74, 0.74), 1),
             ((-0.62, -0.74, 0.74), 0), ((-0.62, -0.74, -0.74), 1))
#: D-III: centres of the nine nests of spheres.
DIII_SITES = ((0.0, 0.0, 0.0),) + tuple((a, b, c) for a in (-0.6, 0.6) for b in (-0.6, 0.6) for c in (-0.6, 0.6))
#: D-III: radii of the spheres of each class at every site.
DIII_RADII = {0: (0.2,), 1: (0.1, 0.4)}
#: D-III: half-thickness of the sampled shells (the training data).
DIII_SHELL = 0.01
#: Smallest feature of each class manifold (hole, gap or radius), for choosing Rips scales.
FEATURE_SIZE = {("D-I", 0): DI_HOLE_RADIUS, ("D-I", 1): DI_DISK_RADIUS,
                ("D-II", 0): DII_RING_RADIUS, ("D-II", 1): DII_RING_RADIUS,
                ("D-III", 0): 0.2, ("D-III", 1): 0.1}

#: Mesh spacing (target edge length, input units) of the full run and of ``--quick``.
PAPER_SPACING = {"D-I": 0.8, "D-II": 0.03, "D-III": 0.08}
QUICK_SPACING = {"D-I": 1.6, "D-II": 0.08, "D-III": 0.3}

#: The full run: Naitzat et al.'s widths, 6000 training points, 100 epochs of Adam (lr 3e-3).
PAPER_SETTINGS = dict(widths=None, n_train=6000, epochs=100, batch_size=32, lr=3e-3, spacing=None,
                      time_limit=120.0, max_candidates=100_000)
#: ``--quick`` (CI): 3 layers of 16 units, 1500 points, 15 epochs, coarse meshes.
QUICK_SETTINGS = dict(widths=(16, 16, 16), n_train=1500, epochs=15, batch_size=32, lr=3e-3,
                      spacing=QUICK_SPACING, time_limit=30.0, max_candidates=20_000)

#: Initial bias of every unit with ``init="he"`` (slightly positive: fewer dead units).
HE_BIAS = 0.01

#: The Rips estimate at layer l uses the scale RIPS_FACTOR x the longest image of an edge of
#: the regularly subdivided mesh whose vertices are the sample (at 1 the Rips complex contains
#: the image of that mesh: components never split, holes below the scale fill).
RIPS_FACTOR = 1.0
#: About this many sample points per class mesh for the Rips estimate.
RIPS_SAMPLE = 2000
#: Points of the Rips sample closer than scale / RIPS_NET_DIVISOR are merged first (a net).
RIPS_NET_DIVISOR = 4.0


def theory_betti(dataset, label, *, rings="circle"):
    """Betti numbers of a class manifold, from theory (layer 0 of the flow).

    Parameters
    ----------
    dataset : {"D-I", "D-II", "D-III"}
    label : {0, 1}
    rings : {"circle", "torus"}, default "circle"
        D-II only: core circles or tube surfaces.

    Returns
    -------
    tuple of int
        ``(b_0, ..., b_dim)`` of the mesh :func:`class_manifold` builds.

    Examples
    --------
    >>> from polyrank.experiments import flow
    >>> flow.theory_betti("D-I", 0), flow.theory_betti("D-II", 1, rings="torus")
    ((1, 9, 0), (9, 18, 9))
    """
    dataset, label, rings = _check_dataset(dataset, "theory_betti"), _check_label(label, "theory_betti"), \
        _check_rings(rings, "theory_betti")
    if dataset == "D-I":
        return (1, 9, 0) if label == 0 else (9, 0, 0)
    if dataset == "D-II":
        return (9, 9) if rings == "circle" else (9, 18, 9)
    return (9, 0, 9) if label == 0 else (18, 0, 18)


# ---------------------------------------------------------------------------- validation
def _check_dataset(dataset, func):
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise ValueError(f"The 'dataset' parameter of {func} must be one of {DATASETS}; got {dataset!r}.")
    return dataset


def _check_label(label, func):
    if isinstance(label, bool) or label not in LABELS:
        raise ValueError(f"The 'label' parameter of {func} must be 0 or 1; got {label!r}.")
    return int(label)


def _check_rings(rings, func):
    if rings not in ("circle", "torus"):
        raise ValueError(f"The 'rings' parameter of {func} must be 'circle' or 'torus'; got {rings!r}.")
    return rings


def _check_spacing(spacing, dataset, func):
    from .._validation import check_positive_float

    if spacing is None:
        return PAPER_SPACING[dataset]
    if isinstance(spacing, dict):
        spacing = spacing.get(dataset, PAPER_SPACING[dataset])
    return check_positive_float(spacing, name="spacing", func=func)


def _check_limit(x, name, func, integer=False):
    from .._validation import check_positive_float, check_positive_int

    if x is None:
        return None
    return check_positive_int(x, name=name, func=func) if integer else check_positive_float(x, name=name, func=func)


# ---------------------------------------------------------------------------- meshes
def _union(parts):
    """One complex from several (vertex array, simplex array) parts."""
    from ..complex import SimplicialComplex

    V, S, off = [], [], 0
    for P, T in parts:
        V.append(P)
        S.append(np.asarray(T) + off)
        off += len(P)
    return SimplicialComplex(np.concatenate(V), np.concatenate(S))


def _fibonacci_sphere(n):
    """A unit sphere: the convex hull of ``n`` Fibonacci-lattice points, outward oriented."""
    from scipy.spatial import ConvexHull

    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = i * math.pi * (3 - math.sqrt(5))
    rho = np.sqrt(1 - z * z)
    P = np.c_[rho * np.cos(phi), rho * np.sin(phi), z]
    T = np.array(ConvexHull(P).simplices, dtype=np.int64)
    a, b, c = P[T[:, 0]], P[T[:, 1]], P[T[:, 2]]
    flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), a) < 0
    T[flip] = T[flip][:, [0, 2, 1]]
    return P, T


def _sphere_vertices(radius, spacing):
    """Vertices of a sphere mesh whose edges are about ``spacing`` long (at least 12)."""
    return max(12, int(round(4 * math.pi * radius ** 2 / (0.866 * spacing ** 2))))


def _square_with_holes(spacing):
    """The D-I square minus nine open disks: a Delaunay mesh of a grid plus hole circles."""
    from scipy.spatial import Delaunay

    h = spacing
    m = max(2, int(math.ceil(2 * DI_HALF_WIDTH / h)))
    g = np.linspace(-DI_HALF_WIDTH, DI_HALF_WIDTH, m + 1)
    G = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    C = np.asarray(DI_CENTERS)
    d = np.linalg.norm(G[:, None] - C[None], axis=-1).min(1)
    G = G[d > DI_HOLE_RADIUS + 0.5 * h]
    k = max(6, int(math.ceil(2 * math.pi * DI_HOLE_RADIUS / h)))
    t = 2 * math.pi * np.arange(k) / k
    ring = DI_HOLE_RADIUS * np.c_[np.cos(t), np.sin(t)]
    P = np.concatenate([G] + [c + ring for c in C])
    T = Delaunay(P).simplices.astype(np.int64)
    cen = P[T].mean(1)
    inside = np.linalg.norm(cen[:, None] - C[None], axis=-1).min(1) < DI_HOLE_RADIUS
    T = T[~inside]
    used = np.unique(T)
    remap = np.full(len(P), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return P[used], remap[T]


def class_manifold(dataset, label, *, spacing=None, rings="circle"):
    """A mesh of one class manifold of a data set of Naitzat et al.

    Parameters
    ----------
    dataset : {"D-I", "D-II", "D-III"}
    label : {0, 1}
        The class (the data sets' labels; see the module docstring).
    spacing : float or dict, optional
        Target edge length in input units (a dict maps data sets to lengths); default
        ``PAPER_SPACING[dataset]``. Vertex counts follow the size of each piece, so that
        all pieces of a class are meshed alike.
    rings : {"circle", "torus"}, default "circle"
        D-II only: mesh each ring as its core circle (homotopy equivalent to the solid ring
        of the data) or as the surface of its tube (radius :data:`DII_TUBE_RADIUS`).

    Returns
    -------
    SimplicialComplex
        In ``R^2`` (D-I) or ``R^3``; its Betti numbers are :func:`theory_betti` (checked).

    Raises
    ------
    ValueError
        For an unknown data set, label or ``rings``, or a non-positive ``spacing``.
    RuntimeError
        If the mesh does not have the Betti numbers of the theory (a spacing too coarse for
        the geometry).

    Examples
    --------
    >>> from polyrank.experiments import flow
    >>> K = flow.class_manifold("D-III", 0, spacing=0.15)
    >>> K.ambient_dim, pr.betti(K)
    (3, [9, 0, 9])
    """
    from ..manifolds import circle, disk, torus
    from ..topology import betti

    func = "class_manifold"
    dataset, label, rings = _check_dataset(dataset, func), _check_label(label, func), _check_rings(rings, func)
    h = _check_spacing(spacing, dataset, func)
    parts = []
    if dataset == "D-I" and label == 1:
        n = max(6, int(math.ceil(2 * math.pi * DI_DISK_RADIUS / h)))
        D = disk(n, rings=max(1, int(math.ceil(DI_DISK_RADIUS / h))), radius=DI_DISK_RADIUS)
        parts = [(D.vertices + np.asarray(c), D.simplices) for c in DI_CENTERS]
    elif dataset == "D-I":
        if h > DI_HOLE_RADIUS:
            raise ValueError(f"The 'spacing' of {func} for D-I class 0 must be <= the hole radius "
                             f"{DI_HOLE_RADIUS}; got {h}.")
        parts = [_square_with_holes(h)]
    elif dataset == "D-II":
        n = max(6, int(math.ceil(2 * math.pi * DII_RING_RADIUS / h)))
        if rings == "circle":
            R = circle(n, radius=DII_RING_RADIUS)
            P0, T0 = np.c_[R.vertices, np.zeros(n)], R.simplices
        else:
            m = max(4, int(math.ceil(2 * math.pi * DII_TUBE_RADIUS / h)))
            R = torus(n, m, R=DII_RING_RADIUS, r=DII_TUBE_RADIUS)
            P0, T0 = R.vertices, R.simplices
        for site, xz_label in DII_SITES:
            s = np.asarray(site)
            if xz_label == label:  # the ring in the xz-plane: (x, y, z) <- (x, z, y)
                parts.append((P0[:, [0, 2, 1]] + s, T0))
            else:
                parts.append((P0 + s + np.array([DII_SHIFT, 0.0, 0.0]), T0))
    else:
        for site in DIII_SITES:
            for r in DIII_RADII[label]:
                P, T = _fibonacci_sphere(_sphere_vertices(r, h))
                parts.append((r * P + np.asarray(site), T))
    K = _union(parts)
    want = theory_betti(dataset, label, rings=rings)
    got = tuple(int(b) for b in betti(K))
    got = got + (0,) * (len(want) - len(got))
    if got != want:  # pragma: no cover - the builders are tested at the default spacings
        raise RuntimeError(f"{func}({dataset!r}, {label}, spacing={h}): the mesh has Betti numbers {got}, "
                           f"not {want}; use a finer spacing.")
    return K


# ---------------------------------------------------------------------------- data
def sample(dataset, n, *, seed=0):
    """Labelled points on (or in) the class manifolds: training data for the classifiers.

    Parameters
    ----------
    dataset : {"D-I", "D-II", "D-III"}
    n : int
        Number of points.
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n, 2 or 3), float32
    y : ndarray of shape (n,), int64 labels 0/1

    Notes
    -----
    D-I: uniform in the square, labelled 1 in a disk and 0 outside every hole (the gap
    between is left out, as in the data). D-II: uniform in the solid tubes of radius
    :data:`DII_TUBE_RADIUS` around the 18 rings, the same number per ring. D-III: uniform
    on the 27 spheres (the same number per sphere), radially jittered by up to
    :data:`DIII_SHELL`.

    Examples
    --------
    >>> from polyrank.experiments import flow
    >>> X, y = flow.sample("D-II", 360, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((360, 3), [180, 180])
    """
    from .._validation import check_positive_int, make_rng

    dataset = _check_dataset(dataset, "sample")
    n = check_positive_int(n, name="n", func="sample")
    rng = make_rng(seed, func="sample")
    C = np.asarray(DI_CENTERS)
    if dataset == "D-I":
        Xs, ys, have = [], [], 0
        while have < n:
            P = rng.uniform(-DI_HALF_WIDTH, DI_HALF_WIDTH, size=(2 * n, 2))
            d = np.linalg.norm(P[:, None] - C[None], axis=-1).min(1)
            keep = (d <= DI_DISK_RADIUS) | (d >= DI_HOLE_RADIUS)
            Xs.append(P[keep])
            ys.append((d[keep] <= DI_DISK_RADIUS).astype(np.int64))
            have += int(keep.sum())
        X, y = np.concatenate(Xs)[:n], np.concatenate(ys)[:n]
    elif dataset == "D-II":
        ring = np.arange(n) % (2 * len(DII_SITES))
        t = rng.uniform(0, 2 * math.pi, n)
        a = rng.uniform(0, 2 * math.pi, n)
        rho = DII_TUBE_RADIUS * np.sqrt(rng.uniform(0, 1, n))
        # a point of the tube around the unit-circle ring in the xy-plane, before scaling
        radial = DII_RING_RADIUS + rho * np.cos(a)
        P = np.c_[radial * np.cos(t), radial * np.sin(t), rho * np.sin(a)]
        X, y = np.empty((n, 3)), np.empty(n, dtype=np.int64)
        for k, (site, xz_label) in enumerate(DII_SITES):
            s = np.asarray(site)
            xz, xy = ring == 2 * k, ring == 2 * k + 1
            X[xz] = P[xz][:, [0, 2, 1]] + s
            y[xz] = xz_label
            X[xy] = P[xy] + s + np.array([DII_SHIFT, 0.0, 0.0])
            y[xy] = 1 - xz_label
    else:
        spheres = [(s, r, lab) for s in DIII_SITES for lab in LABELS for r in DIII_RADII[lab]]
        k = np.arange(n) % len(spheres)
        U = rng.standard_normal((n, 3))
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        r = np.array([spheres[i][1] for i in k]) + rng.uniform(-DIII_SHELL, DIII_SHELL, n)
        X = U * r[:, None] + np.array([spheres[i][0] for i in k])
        y = np.array([spheres[i][2] for i in k], dtype=np.int64)
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order]


def train_classifier(dataset, *, widths=None, n_train=6000, epochs=60, batch_size=32, lr=1e-3, init="he", seed=0,
                     device=None, progress=False):
    """Train a classifier on :func:`sample` data with :func:`polyrank.train.fit` (cross-entropy, Adam).

    Parameters
    ----------
    dataset : {"D-I", "D-II", "D-III"}
    widths : sequence of int, optional
        Hidden widths; default :data:`PAPER_WIDTHS` (15 x 9).
    n_train : int, default 6000
        Training points; a test set of ``n_train // 4`` more is drawn with another seed.
    epochs, batch_size, lr : as :func:`polyrank.train.fit`
    init : {"he", "default"}, default "he"
        "he": weights normal with standard deviation ``sqrt(2 / fan_in)``, biases 0.01;
        "default": PyTorch's initialisation (:func:`polyrank.train.mlp`), under which the
        signal of a 15 x 9 ReLU network fades with depth and training often stalls at the
        majority class.
    seed : int, default 0
        Seeds the data, the initialisation (:func:`polyrank.train.mlp`) and the batches.
    device : str, optional
    progress : bool, default False

    Returns
    -------
    net : ReLUNetwork
        The trained network (float64 copy, with its 2-logit read-out), on raw inputs: it is
        trained on standardised inputs, and the standardisation is folded into layer 1.
    history : pandas.DataFrame
        One row per epoch, from :func:`polyrank.train.fit`.

    Examples
    --------
    >>> from polyrank.experiments import flow
    >>> net, hist = flow.train_classifier("D-I", widths=(4,), n_train=200, epochs=1, device="cpu")
    >>> net.widths, len(hist)
    ((4,), 2)
    """
    import torch

    from .._validation import check_device, check_positive_int, check_widths
    from ..network import as_network
    from ..train import fit, mlp

    func = "train_classifier"
    dataset = _check_dataset(dataset, func)
    widths = PAPER_WIDTHS[dataset] if widths is None else tuple(check_widths(widths, func=func))
    n_train = check_positive_int(n_train, name="n_train", func=func, minimum=4)
    X, y = sample(dataset, n_train, seed=seed)
    Xt, yt = sample(dataset, max(1, n_train // 4), seed=seed + 1)
    if init not in ("he", "default"):
        raise ValueError(f"The 'init' parameter of {func} must be 'he' or 'default'; got {init!r}.")
    mu, sd = X.mean(0), X.std(0)
    model = mlp(X.shape[1], widths, 2, seed=seed)
    if init == "he":
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for layer in model:
                if isinstance(layer, torch.nn.Linear):
                    layer.weight.normal_(0.0, math.sqrt(2.0 / layer.in_features), generator=gen)
                    layer.bias.fill_(HE_BIAS)
    n_threads = torch.get_num_threads()
    if str(check_device(device)).startswith("cpu"):
        torch.set_num_threads(1)  # tiny matrices: one thread is fastest
    try:
        hist = fit(model, (X - mu) / sd, y, X_test=(Xt - mu) / sd, y_test=yt, loss="cross_entropy", epochs=epochs,
                   batch_size=batch_size, lr=lr, seed=seed, device=device, progress=progress)
    finally:
        torch.set_num_threads(n_threads)
    model = model.cpu()
    with torch.no_grad():  # fold the standardisation into the first layer: the net takes raw inputs
        first = model[0]
        first.weight /= torch.as_tensor(sd, dtype=first.weight.dtype)
        first.bias -= first.weight @ torch.as_tensor(mu, dtype=first.weight.dtype)
    return as_network(model), hist


# ---------------------------------------------------------------------------- exact flow
class _LayerTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds):
    """Raise _LayerTimeout after ``seconds`` of CPU time of this process (POSIX main thread
    only; otherwise no limit). CPU time, not wall time: the limit does not depend on how
    loaded the machine is."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def handler(signum, frame):
        raise _LayerTimeout()

    old = signal.signal(signal.SIGPROF, handler)
    try:
        signal.setitimer(signal.ITIMER_PROF, float(seconds))
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0.0)
        signal.signal(signal.SIGPROF, old)


def _pad(b, n):
    b = tuple(int(x) for x in b)[:n]
    return b + (0,) * (n - len(b))


def _tail(net, layer):
    """The network of layers layer+1..L of ``net`` (without read-out)."""
    from ..network import ReLUNetwork

    return ReLUNetwork.from_weights(net.weights[layer:], net.biases[layer:])


def _line_image(net, K, layer, tol):
    """If ``f_layer(|K|)`` lies on an affine line (within ``tol`` relative), its exact Betti
    numbers from the union of the pieces' intervals and a mesh of that union; else None.

    Returns (betti, mesh or None); the mesh (segments, or points when every component is a
    point) lives in ``R^width`` and has the image as its polyhedron; None when components of
    both kinds occur.
    """
    from ..complex import SimplicialComplex
    from ..intersect import refine

    q = K.dim
    Yv = net.forward(K.vertices, layer=layer)
    size = float(np.ptp(Yv, axis=0).max()) if len(Yv) > 1 else 0.0
    abs_tol = tol * max(size, np.finfo(float).tiny)
    c = Yv.mean(0)
    D = Yv - c
    if size > 0:
        u = np.linalg.svd(D, full_matrices=False)[2][0]
        if np.abs(D - np.outer(D @ u, u)).max() > abs_tol:
            return None  # already the vertices span more than a line
    else:
        u = np.zeros(Yv.shape[1])
        u[0] = 1.0
    ref = refine(net, K, layer=layer) if q else None
    Y = net.forward(ref.complex.vertices, layer=layer) if q else Yv
    D = Y - c
    if np.abs(D - np.outer(D @ u, u)).max() > abs_tol:
        return None
    t = D @ u
    if q:
        S = ref.complex.simplices
        lo, hi = t[S].min(1), t[S].max(1)
    else:
        lo = hi = t
    order = np.argsort(lo, kind="stable")
    merged = []
    for a, b in zip(lo[order].tolist(), hi[order].tolist()):
        if merged and a <= merged[-1][1] + abs_tol:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    betti = _pad((len(merged),), q + 1)
    lengths = np.array([b - a for a, b in merged])
    if (lengths > abs_tol).all():
        V = np.array([c + a * u for seg in merged for a in seg])
        mesh = SimplicialComplex(V, np.arange(len(V)).reshape(-1, 2))
    elif (lengths <= abs_tol).all():
        V = np.array([c + 0.5 * (a + b) * u for a, b in merged])
        mesh = SimplicialComplex(V, np.arange(len(V)).reshape(-1, 1))
    else:
        mesh = None
    return betti, mesh


def _rips_sample(K, target):
    """Points of ``|K|``: every simplex subdivided regularly into ``s`` parts per edge, ``s``
    chosen for about ``target`` points in all; returns (points, edges of the subdivision),
    points repeated where simplices share them."""
    V, S = K.vertices, K.simplices
    q = K.dim
    if q == 0:
        return V.copy(), np.zeros((0, 2), dtype=np.int64)
    s = max(1, int(math.ceil(target / len(S) if q == 1 else math.sqrt(2.0 * target / len(S)))))
    if q == 1:
        lam = np.arange(s + 1) / s
        P = V[S[:, :1]] * (1 - lam)[None, :, None] + V[S[:, 1:]] * lam[None, :, None]  # (m, s+1, d)
        loc = np.c_[np.arange(s), np.arange(1, s + 1)]
    else:
        ij = np.array([(i, j) for i in range(s + 1) for j in range(s + 1 - i)])
        idx = {tuple(t): k for k, t in enumerate(ij.tolist())}
        W = np.c_[1 - ij.sum(1) / s, ij / s]  # barycentric weights (n_grid, 3)
        P = np.einsum("gk,mkd->mgd", W, V[S])
        loc = []
        for (i, j), k in idx.items():
            for di, dj in ((1, 0), (0, 1)):
                if (i + di, j + dj) in idx:
                    loc.append((k, idx[(i + di, j + dj)]))
            if (i + 1, j) in idx and (i, j + 1) in idx:
                loc.append((idx[(i + 1, j)], idx[(i, j + 1)]))
        loc = np.array(loc)
    g = P.shape[1]
    E = (np.arange(len(S))[:, None, None] * g + loc[None]).reshape(-1, 2)
    return P.reshape(-1, V.shape[1]), E


def _rips(Y, E, dim, factor, field):
    """Betti numbers (b_0..b_dim) of the Rips complex of the points Y at ``factor`` times the
    longest image ``|Y[i] - Y[j]|`` of an edge of the sample's subdivision, built on a net of
    Y; (betti, scale, number of net points)."""
    import gudhi
    from gudhi.subsampling import sparsify_point_set

    scale = factor * (float(np.linalg.norm(Y[E[:, 0]] - Y[E[:, 1]], axis=1).max()) if len(E) else 0.0)
    Y = np.unique(Y, axis=0)
    if scale <= 0 or len(Y) == 1:
        return _pad((len(Y),), dim + 1), scale, len(Y)
    P = np.asarray(sparsify_point_set(points=Y, min_squared_dist=(scale / RIPS_NET_DIVISOR) ** 2))
    st = gudhi.RipsComplex(points=P, max_edge_length=scale).create_simplex_tree(max_dimension=1)
    st.collapse_edges(nb_iterations=3)
    st.expansion(dim + 1)
    st.compute_persistence(homology_coeff_field=field, persistence_dim_max=True)
    return _pad(st.betti_numbers(), dim + 1), scale, len(P)


def layer_flow(net, K, *, layers=None, field=11, tol=None, max_candidates=100_000, time_limit=120.0,
               rips_factor=RIPS_FACTOR, rips_sample=RIPS_SAMPLE, collapse=True):
    """Exact Betti numbers of ``f_l(|K|)`` at every layer, with a Rips estimate beside them.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        A curve or surface mesh in ``R^input_dim``.
    layers : sequence of int, optional
        Layers to report (0 = ``K`` itself); default 0..L.
    field : int, default 11
    tol : float, optional
        Relative tolerance of the intersection decisions (default
        :data:`polyrank.image.IMAGE_TOL`); also decides when an image lies on a line.
    max_candidates : int or None, default 100000
        Passed to :func:`polyrank.image_homology` (per layer); a layer that needs more is
        reported with status "refused".
    time_limit : float or None, default 120
        CPU seconds per layer for :func:`polyrank.image_homology` (POSIX, main thread); a
        layer that takes longer is reported with status "time limit". None: no limit.
    rips_factor : float, default :data:`RIPS_FACTOR`
        The Rips scale at layer l is this times the longest image of an edge of the
        sample's subdivision (at 1, the Rips complex holds the image of the subdivided mesh).
    rips_sample : int, default :data:`RIPS_SAMPLE`
        About this many sample points: every simplex of ``K`` is subdivided regularly
        (the same points at every layer).
    collapse : bool, default True
        When the image of a layer lies on a line, compute it from its intervals and push
        that union of segments through the deeper layers (exact, see the module docstring).
        False: always run :func:`polyrank.image_homology` on ``K``.

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``layer``; ``b0..b{dim}`` exact (nullable integers, missing when
        the layer was refused or timed out); ``status`` ("exact", "refused" or
        "time limit"); ``method`` ("mesh" for layer 0, "image_homology", "line" (a union
        of intervals) or "via layer k" (image_homology of the union of segments of layer
        k)); ``note``; ``n_pieces``, ``n_overlaps``, ``n_rank_pieces``, ``n_lps``,
        ``near_tolerance`` (from :class:`polyrank.ImageHomology`); ``seconds``;
        ``rips_b0..`` (Rips complex of the images of the sample points), ``rips_scale``,
        ``rips_points`` and ``rips_seconds``.

    Raises
    ------
    ValueError
        For a mesh that does not fit the network (see :func:`polyrank.image_homology`),
        or invalid ``layers``, ``field``, ``tol``, ``max_candidates``, ``time_limit``,
        ``rips_factor``.

    Examples
    --------
    A unit that keeps only ``x`` squashes a circle onto a segment at layer 2:

    >>> from polyrank.experiments import flow
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2), [[1.0, 0.0]]], [[2.0, 2.0], [0.0]])
    >>> df = flow.layer_flow(net, pr.circle(16))
    >>> df[["layer", "b0", "b1", "method"]].values.tolist()
    [[0, 1, 1, 'mesh'], [1, 1, 1, 'image_homology'], [2, 1, 0, 'line']]
    """
    import pandas as pd

    from .._validation import check_positive_float, check_positive_int, check_prime, check_tol
    from ..complex import SimplicialComplex
    from ..exceptions import PolyrankError
    from ..image import IMAGE_TOL, ImageToleranceWarning, image_homology
    from ..network import as_network
    from ..topology import betti as mesh_betti

    func = "layer_flow"
    net = as_network(net)
    if not isinstance(K, SimplicialComplex):
        raise TypeError(f"The 'K' parameter of {func} must be a polyrank.SimplicialComplex; got {type(K).__name__}.")
    if K.ambient_dim != net.input_dim or K.dim > 2 or len(K) == 0:
        raise ValueError(f"The mesh 'K' of {func} must be a non-empty curve or surface in R^{net.input_dim}; "
                         f"got {K!r}.")
    L = net.n_layers
    if layers is None:
        layers = range(L + 1)
    layers = sorted(set(int(x) for x in layers))
    if not layers or layers[0] < 0 or layers[-1] > L:
        raise ValueError(f"The 'layers' parameter of {func} must hold layers in 0..{L}; got {layers!r}.")
    field = check_prime(field, func=func)
    tol = IMAGE_TOL if tol is None else check_tol(tol, func=func)
    max_candidates = _check_limit(max_candidates, "max_candidates", func, integer=True)
    time_limit = _check_limit(time_limit, "time_limit", func)
    rips_factor = check_positive_float(rips_factor, name="rips_factor", func=func)
    rips_sample = check_positive_int(rips_sample, name="rips_sample", func=func)
    q = K.dim
    X, E = _rips_sample(K, rips_sample)
    rows = []
    cur_net, cur_K, base = net, K, 0  # f_l(|K|) = cur_net_{l - base}(|cur_K|)
    for l in range(0, L + 1):
        if l not in layers and not (collapse and l < layers[-1]):
            continue
        row = dict(layer=l, status="exact", method="image_homology", note="", n_pieces=np.nan, n_overlaps=np.nan,
                   n_rank_pieces=np.nan, n_lps=np.nan, near_tolerance=0)
        t0 = time.perf_counter()
        b = None
        if l == 0:
            b, row["method"], row["n_pieces"] = _pad(mesh_betti(K, field=field), q + 1), "mesh", len(K)
        else:
            sub = l - base
            line = _line_image(cur_net, cur_K, sub, tol) if collapse else None
            if line is not None:
                b, mesh = line
                b = _pad(b, q + 1)
                row["method"] = "line" if base == 0 else f"line (via layer {base})"
                if mesh is not None and l < L:
                    cur_net, cur_K, base = _tail(net, l), mesh, l
            elif l in layers:
                if base:
                    row["method"] = f"via layer {base}"
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", ImageToleranceWarning)
                        with _time_limit(time_limit):
                            r = image_homology(cur_net, cur_K, layer=sub, field=field, tol=tol,
                                               max_candidates=max_candidates)
                    b = _pad(r.betti, q + 1)
                    row.update(n_pieces=r.n_pieces, n_overlaps=r.n_overlaps, n_rank_pieces=r.n_rank_pieces,
                               n_lps=r.stats.get("n_lps", np.nan), near_tolerance=r.near_tolerance)
                    if caught:
                        row["note"] = f"{r.near_tolerance} decision(s) near the tolerance"
                except PolyrankError as exc:
                    row.update(status="refused", note=str(exc).split(". ")[0])
                except _LayerTimeout:
                    row.update(status="time limit", note=f"image_homology ran past {time_limit:g} CPU s")
        row["seconds"] = time.perf_counter() - t0
        if l not in layers:
            continue
        for k in range(q + 1):
            row[f"b{k}"] = None if b is None else b[k]
        t1 = time.perf_counter()
        rb, scale, npts = _rips(X if l == 0 else net.forward(X, layer=l), E, q, rips_factor, field)
        for k in range(q + 1):
            row[f"rips_b{k}"] = rb[k]
        row.update(rips_scale=scale, rips_points=npts, rips_seconds=time.perf_counter() - t1)
        rows.append(row)
    df = pd.DataFrame(rows)
    for k in range(q + 1):
        df[f"b{k}"] = df[f"b{k}"].astype("Int64")
    cols = (["layer"] + [f"b{k}" for k in range(q + 1)] + ["status", "method", "note"]
            + [f"rips_b{k}" for k in range(q + 1)]
            + ["rips_scale", "rips_points", "n_pieces", "n_overlaps", "n_rank_pieces", "n_lps", "near_tolerance",
               "seconds", "rips_seconds"])
    return df[cols]


# ---------------------------------------------------------------------------- the experiment
def _networks(datasets, sources, families, settings, seed, device, progress):
    """(dataset, network name, source, ReLUNetwork, info) for every classifier of the run."""
    from ..data.naitzat import NAITZAT_FAMILIES, load_naitzat_model

    out = []
    for ds in datasets:
        if "trained" in sources:
            widths = settings["widths"] or PAPER_WIDTHS[ds]
            t0 = time.perf_counter()
            net, hist = train_classifier(ds, widths=widths, n_train=settings["n_train"], epochs=settings["epochs"],
                                         batch_size=settings["batch_size"], lr=settings["lr"], seed=seed,
                                         device=device, progress=progress)
            name = f"trained {_shape(net)}"
            out.append((ds, name, "trained", net, dict(test_accuracy=float(hist["test_accuracy"].iloc[-1]),
                                                       train_seconds=time.perf_counter() - t0)))
        if "naitzat" in sources:
            for fam in families:
                if NAITZAT_FAMILIES[fam][0] == ds:
                    net = load_naitzat_model(fam)
                    out.append((ds, f"{fam} model 0 {_shape(net)}", "naitzat", net, {}))
    return out


def _shape(net):
    w = net.widths
    return f"{w[0]}x{len(w)}" if len(set(w)) == 1 else "-".join(map(str, w))


def run(datasets=DATASETS, *, quick=False, sources=None, families=None, rings="circle", widths=None, n_train=None,
        epochs=None, spacing=None, max_candidates=None, time_limit=None, rips_factor=RIPS_FACTOR,
        rips_sample=RIPS_SAMPLE, seed=0, device=None, progress=False):
    """Train classifiers, mesh the class manifolds and follow their exact Betti numbers per layer.

    Parameters
    ----------
    datasets : sequence of {"D-I", "D-II", "D-III"}, default all three
    quick : bool, default False
        :data:`QUICK_SETTINGS` (small networks, coarse meshes; for CI) instead of
        :data:`PAPER_SETTINGS`.
    sources : sequence of {"trained", "naitzat"}, optional
        "trained": a classifier trained here (:func:`train_classifier`); "naitzat": the
        follow-up paper's trained models (:func:`polyrank.data.load_naitzat_model`).
        Default both (``quick``: "trained" only).
    families : sequence of str, optional
        Model families for "naitzat" (keys of :data:`polyrank.data.NAITZAT_FAMILIES`);
        default the 15 x 9 ones, ``("D-I", "D-II", "D-III")``.
    rings : {"circle", "torus"}, default "circle"
        How to mesh the rings of D-II (see :func:`class_manifold`).
    widths : sequence of int, optional
        Hidden widths of the trained classifiers (default the settings').
    n_train, epochs : int, optional
        Override the settings' training set size and epochs.
    spacing : float or dict, optional
        Mesh spacing (see :func:`class_manifold`); default the settings'.
    max_candidates : int, optional
        Candidate budget of :func:`polyrank.image_homology` per layer (default the settings').
    time_limit : float, optional
        CPU seconds per layer and class (default the settings').
    rips_factor : float, default :data:`RIPS_FACTOR`
    rips_sample : int, default :data:`RIPS_SAMPLE`
        See :func:`layer_flow`.
    seed : int, default 0
        Seeds the training data, the initialisation and the batches.
    device : str, optional
        Training device (default CUDA when available).
    progress : bool, default False

    Returns
    -------
    dict
        ``"table"``: one row per (network, class, layer) with the columns of
        :func:`layer_flow` plus ``dataset``, ``network``, ``source``, ``label``,
        ``theory`` (Betti numbers of the class manifold), ``accuracy`` (fraction of the
        mesh's vertices the network assigns to the class) and ``mesh_vertices``;
        ``"nets"``: network name -> ReLUNetwork; ``"info"``: settings, test accuracies,
        timings.

    Raises
    ------
    ValueError
        For unknown data sets, sources or families, or invalid settings.

    Examples
    --------
    >>> from polyrank.experiments import flow
    >>> res = flow.run(["D-II"], quick=True, n_train=200, epochs=1, rips_sample=200, device="cpu")
    >>> sorted(res["table"]["label"].unique().tolist()), int(res["table"]["layer"].max())
    ([0, 1], 3)
    """
    import pandas as pd

    from ..data.naitzat import NAITZAT_FAMILIES

    func = "flow.run"
    t_start = time.perf_counter()
    if isinstance(datasets, str):
        datasets = (datasets,)
    datasets = tuple(_check_dataset(d, func) for d in datasets)
    if not datasets:
        raise ValueError(f"The 'datasets' parameter of {func} is empty.")
    sources = (("trained",) if quick else ("trained", "naitzat")) if sources is None else \
        ((sources,) if isinstance(sources, str) else tuple(sources))
    if not sources or any(s not in ("trained", "naitzat") for s in sources):
        raise ValueError(f"The 'sources' parameter of {func} must hold 'trained' and/or 'naitzat'; got {sources!r}.")
    families = ("D-I", "D-II", "D-III") if families is None else \
        ((families,) if isinstance(families, str) else tuple(families))
    for fam in families:
        if fam not in NAITZAT_FAMILIES:
            raise ValueError(f"The 'families' parameter of {func} must hold names of {tuple(NAITZAT_FAMILIES)}; "
                             f"got {fam!r}.")
    rings = _check_rings(rings, func)
    settings = dict(QUICK_SETTINGS if quick else PAPER_SETTINGS)
    for key, val in (("widths", widths), ("n_train", n_train), ("epochs", epochs), ("spacing", spacing),
                     ("max_candidates", max_candidates), ("time_limit", time_limit)):
        if val is not None:
            settings[key] = val
    nets = _networks(datasets, sources, families, settings, seed, device, progress)
    frames, names, accs = [], {}, {}
    for ds, name, source, net, ninfo in nets:
        names[name] = net
        if "test_accuracy" in ninfo:
            accs[name] = ninfo["test_accuracy"]
        for label in LABELS:
            K = class_manifold(ds, label, spacing=settings["spacing"], rings=rings)
            df = layer_flow(net, K, max_candidates=settings["max_candidates"], time_limit=settings["time_limit"],
                            rips_factor=rips_factor, rips_sample=rips_sample)
            pred = net.forward(K.vertices).argmax(1) if net.readout is not None else None
            df.insert(0, "label", label)
            df.insert(0, "source", source)
            df.insert(0, "network", name)
            df.insert(0, "dataset", ds)
            df["theory"] = str(theory_betti(ds, label, rings=rings))
            df["accuracy"] = float(np.mean(pred == label)) if pred is not None else np.nan
            df["mesh_vertices"] = K.n_vertices
            frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    for k in range(3):
        if f"b{k}" in table:
            table[f"b{k}"] = table[f"b{k}"].astype("Int64")
    info = dict(settings, datasets=datasets, sources=sources, rings=rings, seed=seed, quick=quick,
                test_accuracy=accs, total_seconds=time.perf_counter() - t_start)
    return {"table": table, "nets": names, "info": info}


_COLORS = ("tab:blue", "tab:orange", "tab:green")


def plot(results, path=None):
    """Betti numbers of every class per layer: exact (solid) and Rips (dashed), one panel per
    (network, class), as in Naitzat et al.'s figure.

    Parameters
    ----------
    results : dict
        The output of :func:`run`.
    path : str, optional
        Write the figure there (PNG, 150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``results`` is not the output of :func:`run`.

    Examples
    --------
    >>> from polyrank.experiments import flow
    >>> res = flow.run(["D-II"], quick=True, n_train=200, epochs=1, rips_sample=200, device="cpu")
    >>> len(flow.plot(res).axes)
    2
    """
    import matplotlib.pyplot as plt

    from ._common import check_results, finish_figure

    check_results(results, ("table",), "flow.run")
    T = results["table"]
    keys = list(dict.fromkeys(zip(T["dataset"], T["network"])))
    fig, axes = plt.subplots(len(keys), 2, figsize=(9.0, 2.6 * len(keys)), squeeze=False)
    for i, (ds, name) in enumerate(keys):
        for j, label in enumerate(LABELS):
            ax = axes[i, j]
            sub = T[(T.dataset == ds) & (T.network == name) & (T.label == label)].sort_values("layer")
            x = sub["layer"].to_numpy()
            for k in range(3):
                col = f"b{k}"
                if col not in sub or sub[col].isna().all() and sub[f"rips_{col}"].isna().all():
                    continue
                exact = sub[col].astype("float64").to_numpy()
                ax.plot(x, exact, "o-", color=_COLORS[k], label=f"$b_{k}$ exact")
                ax.plot(x, sub[f"rips_{col}"].to_numpy(float), "s--", mfc="none", color=_COLORS[k], alpha=0.6,
                        label=f"$b_{k}$ Rips")
            miss = sub["status"] != "exact"
            if miss.any():
                ax.plot(x[miss.to_numpy()], np.zeros(int(miss.sum())), "x", color="red", ms=9,
                        label="not computed")
            ax.set_title(f"{ds} class {label} {sub['theory'].iloc[0]}, {name}", fontsize=8)
            ax.set_xlabel("layer")
            ax.set_xticks(x)
            ax.set_ylabel("Betti number")
            ax.legend(fontsize=6, ncol=2)
    return finish_figure(fig, path)


def summary(results):
    """Text table: per network, class and layer, exact and Rips Betti numbers (printed by the CLI).

    Parameters
    ----------
    results : dict
        The output of :func:`run`.

    Returns
    -------
    str

    Examples
    --------
    >>> from polyrank.experiments import flow
    >>> res = flow.run(["D-II"], quick=True, n_train=200, epochs=1, rips_sample=200, device="cpu")
    >>> print(flow.summary(res).splitlines()[1])  # doctest: +ELLIPSIS
      layer 0: exact (9, 9)         Rips (9, 9)  ...  mesh
    """
    T = results["table"]
    lines = []
    for (ds, name, label), sub in T.groupby(["dataset", "network", "label"], sort=False):
        acc = sub["accuracy"].iloc[0]
        lines.append(f"{ds} class {label} {sub['theory'].iloc[0]}  {name}  (mesh {sub['mesh_vertices'].iloc[0]} "
                     f"vertices, {acc:.1%} of them classified {label})")
        q = max(k for k in range(3) if f"b{k}" in sub and sub[f"b{k}"].notna().any() or k == 0)
        for _, r in sub.iterrows():
            ex = "(" + ", ".join(str(r[f"b{k}"]) if not _isna(r[f"b{k}"]) else "?" for k in range(q + 1)) + ")"
            rp = "(" + ", ".join(str(int(r[f"rips_b{k}"])) for k in range(q + 1)) + ")"
            extra = r["method"] if r["status"] == "exact" else f"{r['status']}: {r['note']}"
            lines.append(f"  layer {int(r['layer'])}: exact {ex:<14} Rips {rp:<14} {r['seconds']:7.2f} s  {extra}")
    return "\n".join(lines)


def _isna(v):
    import pandas as pd

    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def build_parser(figure="flow"):
    """The argument parser of ``polyrank reproduce flow``.

    Examples
    --------
    >>> from polyrank.experiments.flow import build_parser
    >>> build_parser().parse_args(["--quick"]).quick
    True
    """
    from .._cliutil import HelpFormatter

    p = argparse.ArgumentParser(prog=f"polyrank reproduce {figure}", formatter_class=HelpFormatter,
                                description="The topological flow of Naitzat et al. (JMLR 2020), exactly: Betti "
                                            "numbers of each class manifold at every layer of trained classifiers, "
                                            "next to the Rips estimate.")
    p.add_argument("--quick", action="store_true", help="small networks and coarse meshes (CI)")
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated, from D-I,D-II,D-III")
    p.add_argument("--sources", default=None,
                   help="trained (a classifier trained here) and/or naitzat (the follow-up paper's trained models); "
                        "default both (--quick: trained)")
    p.add_argument("--families", default=None,
                   help="follow-up model families, e.g. D-II,D-II-2 (default D-I,D-II,D-III: the 15 x 9 ones)")
    p.add_argument("--rings", choices=("circle", "torus"), default="circle",
                   help="mesh D-II's rings as core circles (default) or tube surfaces")
    p.add_argument("--widths", default=None, help="hidden widths of the trained classifiers (default 15 x 9)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 100; --quick 15)")
    p.add_argument("--n-train", type=int, default=None, help="training points (default: the run's settings, --quick fewer)")
    p.add_argument("--spacing", type=float, default=None, help="mesh edge length (input units) for all data sets")
    p.add_argument("--time-limit", type=float, default=None, help="CPU seconds per layer and class for the exact computation (default 120)")
    p.add_argument("--max-candidates", type=int, default=None,
                   help="candidate budget of image_homology per layer (default 100000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training data, network and batches")
    p.add_argument("--device", default=None, help="training device (default cuda when available)")
    p.add_argument("--out", default=f"polyrank-{figure}", help="output folder")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    return p


def cli_main(figure, argv):
    """``polyrank reproduce flow [--quick] [--datasets D-I,D-II,D-III] [--sources trained,naitzat] [--out DIR]``.

    Writes ``flow.png`` and ``flow.csv`` in ``--out`` and prints the table. Returns the
    exit status.
    """
    p = build_parser(figure)
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")

    def split(text):
        return None if text is None else tuple(t.strip() for t in text.split(",") if t.strip())

    widths = None
    if args.widths:
        try:
            widths = tuple(int(w) for w in split(args.widths))
        except ValueError:
            p.error(f"--widths must be comma-separated integers; got {args.widths!r}")
    try:
        res = run(split(args.datasets), quick=args.quick, sources=split(args.sources), families=split(args.families),
                  rings=args.rings, widths=widths, n_train=args.n_train, epochs=args.epochs, spacing=args.spacing,
                  max_candidates=args.max_candidates, time_limit=args.time_limit, seed=args.seed,
                  device=args.device, progress=args.progress)
    except ValueError as exc:
        p.error(str(exc))
    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, f"{figure}.png")
    csv = os.path.join(args.out, f"{figure}.csv")
    res["table"].to_csv(csv, index=False)
    plot(res, png)
    print(summary(res))
    for name, acc in res["info"]["test_accuracy"].items():
        print(f"{name}: test accuracy {acc:.4f}")
    print(f"time: {res['info']['total_seconds']:.1f} s")
    for path in (png, csv):
        print(f"wrote {path}")
    return 0
