"""Image manifolds: the orbit of an image under rotations or cyclic translations as an
exact piecewise-linear mesh in pixel space, and its report through a network.

:func:`image_orbit` resamples an image at ``n`` rotation angles (a closed polygon, a
PL circle in R^(h w)) or at an ``n x m`` grid of cyclic shifts (a PL torus). The mesh
is exactly the piecewise-linear interpolation of the resampled images, so
:func:`polyrank.refine` cuts it exactly along a network's regions.

:func:`orbit_report` refines an orbit through a network and returns, per piece, its
position along the orbit, the ranks and tangent ranks of every layer, and the
predicted class (for curves, pieces are split again where the class changes; the
logits are affine on a piece, so these points are exact). :func:`orbit_layers`
summarises the refinement per layer: pieces, regions, rank statistics and the Betti
numbers of the orbit with its collapsed pieces glued to points.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .manifolds import SimplicialComplex

__all__ = ["image_orbit", "orbit_report", "orbit_layers", "ORBIT_KINDS", "ORBIT_ORDER"]

#: The orbits :func:`image_orbit` builds.
ORBIT_KINDS = ("rotation", "translation")

#: Spline order of the resampling (scipy.ndimage): 1 = bilinear.
ORBIT_ORDER = 1

# relative tie tolerance between logits when choosing the class after a crossing
_TIE = 1e-12


def _check_image(image, shape, func):
    try:
        a = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The 'image' parameter of {func} must be an array of numbers; "
                        f"got {type(image).__name__}.") from exc
    if shape is not None:
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise ValueError(f"The 'shape' parameter of {func} must be a pair (height, width); "
                             f"got {shape!r}.") from None
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"The 'shape' parameter of {func} must be a pair of positive ints (height, width); "
                             f"got {shape!r}.")
    if a.ndim == 1:
        if shape is None:
            side = math.isqrt(a.size)
            if side * side != a.size or side < 2:
                raise ValueError(f"The 'image' parameter of {func} is flat with {a.size} pixels, not a square "
                                 f"number (784 = 28 x 28 for MNIST); pass a 2-D array or shape=(height, width).")
            shape = (side, side)
        if shape[0] * shape[1] != a.size:
            raise ValueError(f"The 'image' parameter of {func} has {a.size} pixels but shape={shape} needs "
                             f"{shape[0] * shape[1]}.")
        a = a.reshape(shape)
    elif a.ndim == 2:
        if shape is not None and tuple(a.shape) != shape:
            raise ValueError(f"The 'image' parameter of {func} has shape {a.shape} but shape={shape} was given.")
        if min(a.shape) < 2:
            raise ValueError(f"The 'image' parameter of {func} must be at least 2 x 2 pixels; got {a.shape}.")
    else:
        raise ValueError(f"The 'image' parameter of {func} must be one image: 2-D (height, width) or flat "
                         f"(height * width,); got an array of shape {a.shape}. For a batch, pass one row.")
    if not np.isfinite(a).all():
        raise ValueError(f"The 'image' parameter of {func} contains NaN or infinity.")
    return a


def _check_n(n, name, func):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 3:
        raise ValueError(f"The '{name}' parameter of {func} must be an int >= 3 (fewer samples do not make a "
                         f"closed simplicial {'circle' if name == 'n' else 'torus'}); got {n!r}.")
    return int(n)


def _rotated(img, angles_deg, order):
    from scipy import ndimage

    return np.stack([ndimage.rotate(img, a, reshape=False, order=order, mode="constant", cval=0.0).ravel()
                     for a in angles_deg])


def _shifted(img, shifts, order):
    from scipy import ndimage

    return np.stack([ndimage.shift(img, s, order=order, mode="grid-wrap").ravel() for s in shifts])


def image_orbit(image, *, kind="rotation", n=36, m=None, shape=None, order=ORBIT_ORDER) -> SimplicialComplex:
    """The orbit of an image under rotations or cyclic translations, as a PL mesh in R^(h w).

    Parameters
    ----------
    image : array-like of shape (h, w), or flat (h * w,)
        One grey-level image (e.g. an MNIST digit, 28 x 28 or 784 values). A flat image
        is taken as square unless ``shape`` is given.
    kind : {"rotation", "translation"}, default "rotation"
        "rotation": vertex ``k`` is the image rotated by ``360 k / n`` degrees about its
        centre (``scipy.ndimage.rotate``, same size, zero background); the edges
        ``(k, k + 1 mod n)`` close a polygon, a PL circle.
        "translation": vertex ``i * m + j`` is the image shifted cyclically by
        ``(h i / n, w j / m)`` pixels (rows, columns; ``scipy.ndimage.shift`` with
        periodic ``grid-wrap`` boundaries; integer shifts are exactly ``np.roll``), and the
        ``n x m`` grid is triangulated as a torus (two triangles per cell).
    n : int, default 36
        Number of rotation angles, or of shifts along the rows (>= 3).
    m : int, optional
        Number of shifts along the columns for "translation" (>= 3; default ``n``).
    shape : (int, int), optional
        ``(h, w)`` of a flat image.
    order : int, default ORBIT_ORDER (1, bilinear)
        Spline order of the resampling.

    Returns
    -------
    SimplicialComplex
        ``n`` vertices and ``n`` segments (rotation) or ``n m`` vertices and ``2 n m``
        triangles (translation), in R^(h w) (images flattened row by row, as
        :func:`polyrank.data.load_mnist` does).

    Raises
    ------
    ValueError
        For an image that is not 2-D (or flat and square), non-finite pixels, an unknown
        ``kind``, ``n`` or ``m`` < 3, or ``m`` with "rotation".

    Notes
    -----
    The mesh is a closed curve (Betti numbers (1, 1)) or a torus ((1, 2, 1)) as a
    simplicial complex, whatever the image; the PL map into pixel space may still
    identify points (a rotation-symmetric image visits the same image twice).
    Between two vertices the mesh interpolates linearly, which is not the resampled
    image at the intermediate angle; refine with larger ``n`` to follow the orbit
    more closely. Cost: ``n`` (or ``n m``) resamplings.

    Examples
    --------
    >>> img = np.zeros((28, 28)); img[6:22, 12:16] = 1.0        # a vertical bar
    >>> K = pr.image_orbit(img, kind="rotation", n=12)
    >>> K, pr.betti(K)
    (SimplicialComplex(n_vertices=12, n_simplices=12, dim=1, ambient_dim=784), [1, 1])
    >>> T = pr.image_orbit(img, kind="translation", n=4)
    >>> T.f_vector(), pr.betti(T)
    ([16, 48, 32], [1, 2, 1])
    >>> bool(np.array_equal(T.vertices[1].reshape(28, 28), np.roll(img, 7, axis=1)))
    True
    """
    func = "image_orbit"
    if kind not in ORBIT_KINDS:
        raise ValueError(f"The 'kind' parameter of {func} must be one of {ORBIT_KINDS}; got {kind!r}.")
    img = _check_image(image, shape, func)
    n = _check_n(n, "n", func)
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or not 0 <= order <= 5:
        raise ValueError(f"The 'order' parameter of {func} must be a spline order 0..5; got {order!r}.")
    if kind == "rotation":
        if m is not None:
            raise ValueError(f"The 'm' parameter of {func} is for kind='translation'; got m={m!r} with "
                             "kind='rotation'.")
        V = _rotated(img, 360.0 * np.arange(n) / n, int(order))
        k = np.arange(n)
        return SimplicialComplex(V, np.stack([k, (k + 1) % n], 1))
    m = n if m is None else _check_n(m, "m", func)
    h, w = img.shape
    ii, jj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    V = _shifted(img, np.stack([h * ii.ravel() / n, w * jj.ravel() / m], 1), int(order))
    a = ii * m + jj
    b = ((ii + 1) % n) * m + jj
    c = ii * m + (jj + 1) % m
    dd = ((ii + 1) % n) * m + (jj + 1) % m
    T = np.concatenate([np.stack([a, b, dd], -1).reshape(-1, 3), np.stack([a, dd, c], -1).reshape(-1, 3)])
    return SimplicialComplex(V, T)


def _class_intervals(la, lb):
    """Exact argmax classes along a segment whose logits go affinely from ``la`` to ``lb``:
    breakpoints ``0 = t_0 < ... < t_r = 1`` and the class on each interval (ties: smallest index)."""
    slope = lb - la
    t, out = 0.0, []
    top = np.flatnonzero(la >= la.max() - _TIE * max(1.0, abs(la.max())))
    cur = int(top[np.argmax(slope[top])])  # the class just after t = 0
    while True:
        # the first t' > t where another class rises above ``cur``: la_j + t' s_j = la_cur + t' s_cur
        gap = la[cur] - la
        rate = slope - slope[cur]
        with np.errstate(divide="ignore", invalid="ignore"):
            tc = np.where(rate > 0, gap / np.where(rate > 0, rate, 1.0), np.inf)
        tc[cur] = np.inf
        tc = np.where(tc > t, tc, np.inf)
        j = int(np.argmin(tc))
        if tc[j] >= 1.0:
            out.append((t, 1.0, cur))
            return out
        out.append((t, float(tc[j]), cur))
        t = float(tc[j])
        # the winner after t: the best class at t + tiny (ties broken by the largest slope)
        at = la + t * slope
        top = np.flatnonzero(at >= at.max() - _TIE * max(1.0, abs(at.max())))
        cur = int(top[np.argmax(slope[top])])


def orbit_report(net, K, *, layer=None, tol=None, ranks=True):
    """Refine a mesh (e.g. an :func:`image_orbit`) exactly through a network and report, per
    piece, its place along the mesh, its ranks per layer and the predicted class.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
        With a read-out for the predicted class (without one, the argmax of the last
        hidden layer is reported).
    K : SimplicialComplex
        A closed curve or a triangle mesh in ``R^input_dim``.
    layer : int, optional
        Refine through layers 1..layer (default: all hidden layers); the class is
        always the network's output.
    tol : float, optional
        Passed to :func:`polyrank.refine` (default its ``REFINE_TOL``).
    ranks : bool, default True
        Report ``rank_l`` (the rank of the region's map ``A_l``). False leaves those
        columns out: through thousands of units in 784-D, one rank per region met is the
        dominant cost (:attr:`polyrank.Refinement.ranks`), the rest is not.

    Returns
    -------
    pandas.DataFrame
        For a 1-D mesh, one row per interval of constant region *and* class, in mesh
        order: ``segment`` (input segment id), ``start``, ``end`` (position along the
        mesh, in units of input segments: ``segment + fraction``; for a rotation orbit
        of ``n`` images the angle is ``360 * position / n`` degrees), ``length`` (in
        input space), ``region`` (index into the refinement's distinct patterns),
        ``rank_l`` and ``tangent_rank_l`` for l = 1..layer, ``cls`` (the predicted
        class on the interval) and ``class_change`` (True where ``cls`` differs from
        the previous row's; the first row compares with the last, closing the curve).
        For a 2-D mesh, one row per refined triangle: ``simplex`` (input triangle id),
        ``area``, ``region``, the ranks, ``cls`` (the class at the centroid) and
        ``class_constant`` (True when the three corners share the class; the argmax set
        of affine logits is convex, so then the whole triangle has it).
        ``df.attrs["refinement"]`` holds the :class:`polyrank.Refinement`.

    Raises
    ------
    TypeError, ValueError
        As :func:`polyrank.refine` (wrong mesh dimension, bad ``layer``, ``tol``).

    See Also
    --------
    orbit_layers : the per-layer summary (pieces, regions, ranks, quotient Betti numbers).

    Notes
    -----
    Exact in the sense of :func:`polyrank.refine`. Each piece lies in one region, so the
    logits are affine on it and the class boundaries on a segment are the crossings of
    ten affine functions, found exactly (up to float64) from the logits at its ends.
    Cost: the refinement plus one forward pass over the refined vertices.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)], readout=(np.eye(2), np.zeros(2)))
    >>> df = pr.orbit_report(net, pr.circle(8))
    >>> int(df["class_change"].sum()), sorted(set(df["rank_1"]))
    (2, [0, 1, 2])
    """
    import pandas as pd

    from .intersect import REFINE_TOL, refine
    from .network import as_network

    net = as_network(net)
    ref = refine(net, K, layer=layer, tol=REFINE_TOL if tol is None else tol)
    Kr = ref.complex
    V, S = Kr.vertices, Kr.simplices
    L = ref.layer
    logits = net.forward(V) if len(V) else np.zeros((0, net.output_dim))
    cols = {}
    for l in range(1, L + 1):
        if ranks:
            cols[f"rank_{l}"] = ref.ranks[:, l - 1]
        cols[f"tangent_rank_{l}"] = ref.tangent_ranks[:, l - 1]
    if S.shape[1] == 2:
        P = K.vertices[K.simplices[ref.parent]]  # (k, 2, d) input segment ends
        e = P[:, 1] - P[:, 0]
        ee = np.einsum("ij,ij->i", e, e)
        ee = np.where(ee > 0, ee, 1.0)
        f0 = np.einsum("ij,ij->i", V[S[:, 0]] - P[:, 0], e) / ee
        f1 = np.einsum("ij,ij->i", V[S[:, 1]] - P[:, 0], e) / ee
        rows = []
        for p in range(S.shape[0]):
            for t0, t1, c in _class_intervals(logits[S[p, 0]], logits[S[p, 1]]):
                rows.append((p, t0, t1, c))
        idx = np.array([r[0] for r in rows], dtype=np.int64)
        ta = np.array([r[1] for r in rows])
        tb = np.array([r[2] for r in rows])
        s0 = ref.parent[idx] + f0[idx] + ta * (f1[idx] - f0[idx])
        s1 = ref.parent[idx] + f0[idx] + tb * (f1[idx] - f0[idx])
        seglen = np.linalg.norm(V[S[:, 1]] - V[S[:, 0]], axis=1)
        df = pd.DataFrame({"segment": ref.parent[idx], "start": s0, "end": s1,
                           "length": seglen[idx] * (tb - ta), "region": ref.region[idx]})
        for k, v in cols.items():
            df[k] = v[idx]
        df["cls"] = np.array([r[3] for r in rows], dtype=np.int64)
        df = df.sort_values(["start", "end"], kind="stable").reset_index(drop=True)
        df["class_change"] = df["cls"].ne(np.roll(df["cls"].to_numpy(), 1)) if len(df) else []
    else:
        from .intersect import simplex_measures

        cls_v = np.argmax(logits, axis=1)
        centroid = V[S].mean(axis=1)
        df = pd.DataFrame({"simplex": ref.parent, "area": simplex_measures(V, S), "region": ref.region})
        for k, v in cols.items():
            df[k] = v
        df["cls"] = np.argmax(net.forward(centroid), axis=1) if len(S) else np.zeros(0, np.int64)
        cv = cls_v[S]
        df["class_constant"] = (cv == cv[:, :1]).all(axis=1)
    df.attrs["refinement"] = ref
    return df


def orbit_layers(net, K, *, layer=None, tol=None, field=None, image=True, ranks=True):
    """Per-layer summary of a mesh refined through a network: pieces, regions, ranks, and the
    Betti numbers of the mesh with its collapsed parts glued to points.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    K : SimplicialComplex
        A mesh of segments or triangles in ``R^input_dim`` (e.g. an :func:`image_orbit`).
    layer : int, optional
        Last layer (default all hidden layers).
    tol : float, optional
        Passed to :func:`polyrank.refine`.
    field : int, optional
        Prime field of the Betti numbers (default ``polyrank.topology.DEFAULT_FIELD``).
    image : bool, default True
        Also compute the exact Betti numbers of the image ``f_l(K)`` at every layer with
        :func:`polyrank.image_homology` (None in a row where that refuses for its
        candidate budget, with a warning).
    ranks : bool, default True
        Compute ``rank_min``, ``rank_mean``, ``rank_max`` (None when False; see
        :func:`orbit_report`).

    Returns
    -------
    pandas.DataFrame
        One row per layer ``l``: ``n_pieces``, ``n_regions`` (distinct patterns of layers
        1..l met by the mesh), ``rank_min``, ``rank_mean`` (weighted by length or area),
        ``rank_max``, ``collapsed_fraction`` (measure of the pieces with tangent rank 0,
        mapped to points), ``full_fraction`` (tangent rank = dim K, where the map is
        injective on the piece), ``quotient_betti`` (reduced Betti numbers of ``K``
        refined, with each connected component of tangent-rank-0 pieces glued to its
        own point) and ``image_betti`` (the Betti numbers ``(b_0, ..., b_dim)`` of the
        image ``f_l(K)``, exact, from :func:`polyrank.image_homology`; None when not
        computed).

    Notes
    -----
    ``quotient_betti`` is not the homology of the image ``h_l(K)``: the image may
    also fold pieces onto one another (rank drops below dim K without collapsing, or
    two distant pieces meeting). It is exact for what it states, and equals the
    image's homology when ``h_l`` is injective off the collapsed parts; ``image_betti``
    is the image's homology itself.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)])
    >>> df = pr.orbit_layers(net, pr.circle(8))
    >>> df[["layer", "n_regions", "rank_max"]].values.tolist(), df["quotient_betti"][0]
    ([[1, 4, 2]], [0, 1])
    """
    import pandas as pd

    from .intersect import REFINE_TOL, refine
    from .network import as_network
    from .topology import DEFAULT_FIELD, quotient_betti

    net = as_network(net)
    field = DEFAULT_FIELD if field is None else field
    ref = refine(net, K, layer=layer, tol=REFINE_TOL if tol is None else tol)
    Kr = ref.complex
    q = Kr.dim
    meas = ref.measures()
    total = float(meas.sum()) or 1.0
    rows = []
    for l in range(1, ref.layer + 1):
        sl = net.layer_slice(l)
        upto = ref.region_patterns[:, : sl.stop]
        n_reg = len(np.unique(np.packbits(upto, axis=1), axis=0)) if len(upto) else 0
        rk, tr = (ref.ranks[:, l - 1] if ranks else None), ref.tangent_ranks[:, l - 1]
        collapsed = tr == 0
        pieces = Kr.components(np.flatnonzero(collapsed))
        qb = quotient_betti(Kr, pieces, field=field)
        rows.append({"layer": l, "n_pieces": len(Kr), "n_regions": int(n_reg),
                     "rank_min": None if rk is None else (int(rk.min()) if len(rk) else 0),
                     "rank_mean": None if rk is None else float((rk * meas).sum() / total),
                     "rank_max": None if rk is None else (int(rk.max()) if len(rk) else 0),
                     "collapsed_fraction": float(meas[collapsed].sum() / total),
                     "full_fraction": float(meas[tr == q].sum() / total),
                     "quotient_betti": qb,
                     "image_betti": _image_betti(net, K, l, field) if image else None})
    return pd.DataFrame(rows)


def _image_betti(net, K, layer, field):
    """Exact Betti numbers of ``f_layer(K)``, or None (with a warning) over the budget."""
    import warnings

    from .exceptions import PolyrankError
    from .image import image_homology

    try:
        return image_homology(net, K, layer, field=field).betti
    except PolyrankError as err:
        warnings.warn(f"orbit_layers: image homology at layer {layer} not computed: {err}",
                      stacklevel=3)
        return None
