"""Meshed manifolds with known topology, and isometric embeddings.

The mesh builders return :class:`~polyrank.SimplicialComplex` objects (the type lives
in :mod:`polyrank.complex`) whose topology is known from theory (circle, torus, sphere,
Klein bottle, real projective plane, disk, interval, and the solids ball, solid torus and
cube with holes), so they serve as oracles for
:mod:`polyrank.topology` and for the exact refinement in :mod:`polyrank.intersect`.
:func:`embed` places a mesh isometrically in a higher-dimensional space.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from ._validation import check_positive_float, check_positive_int, make_rng
from .complex import SimplicialComplex, check_complex

__all__ = [
    "circle",
    "interval",
    "disk",
    "torus",
    "sphere",
    "klein_bottle",
    "projective_plane",
    "ball",
    "solid_torus",
    "cube_with_holes",
    "embed",
]

#: Distance below which two sphere points count as antipodal (unit vectors).
ANTIPODE_TOL = 1e-9


def _grid_triangles(n, m, wrap):
    """Triangles of an n x m grid of squares; ``wrap(i, j)`` gives the vertex id of (i, j)."""
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    a, b, c, d = wrap(i, j), wrap(i + 1, j), wrap(i + 1, j + 1), wrap(i, j + 1)
    T = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return T


def _check_radii(R, r, func):
    """The radii of a tube around a circle (torus, Klein bottle, solid torus), checked:
    positive, and ``R > r`` (else the tube meets itself)."""
    R = check_positive_float(R, name="R", func=func)
    r = check_positive_float(r, name="r", func=func)
    if not R > r:
        raise ValueError(f"{func} needs R > r so that it does not intersect itself; got R={R}, r={r}.")
    return R, r


def _tube_coordinates(n, m, R, r):
    """The ``n x m`` grid of a tube of radius r around a circle of radius R (torus, Klein
    bottle): the angle ``u = 2 pi i / n`` along the circle, the distance ``R + r cos v``
    from the axis and the height ``r sin v`` (``v = 2 pi j / m``), each of shape (n, m)."""
    u = 2 * np.pi * np.arange(n) / n
    v = 2 * np.pi * np.arange(m) / m
    U, W = np.meshgrid(u, v, indexing="ij")
    return U, R + r * np.cos(W), r * np.sin(W)


# ---------------------------------------------------------------------- meshes
def interval(n, *, length=1.0) -> SimplicialComplex:
    """A segment ``[0, length]`` in R^1 cut into ``n - 1`` edges.

    Parameters
    ----------
    n : int
        Number of vertices, ``n >= 2``.
    length : float, default 1.0

    Returns
    -------
    SimplicialComplex
        Vertex ``i`` at ``i * length / (n - 1)``; edges ``(i, i + 1)``. Contractible.

    Raises
    ------
    ValueError
        If ``n < 2`` or ``length <= 0``.

    Examples
    --------
    >>> K = pr.interval(4)
    >>> K.simplices.tolist(), K.euler_characteristic()
    ([[0, 1], [1, 2], [2, 3]], 1)
    """
    n = check_positive_int(n, name="n", func="interval", minimum=2)
    length = check_positive_float(length, name="length", func="interval")
    V = np.linspace(0.0, length, n)[:, None]
    S = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)
    return SimplicialComplex(V, S)


def circle(n, *, radius=1.0) -> SimplicialComplex:
    """A circle in R^2 as a cycle of ``n`` edges.

    Parameters
    ----------
    n : int
        Number of vertices, ``n >= 3``.
    radius : float, default 1.0

    Returns
    -------
    SimplicialComplex
        Vertex ``i`` at angle ``2 pi i / n``; edges ``(i, i + 1 mod n)``.
        Betti numbers ``(1, 1)``.

    Raises
    ------
    ValueError
        If ``n < 3`` or ``radius <= 0``.

    Examples
    --------
    >>> K = pr.circle(4)
    >>> K.simplices.tolist()
    [[0, 1], [1, 2], [2, 3], [3, 0]]
    >>> np.round(K.vertices[1], 12).tolist()
    [0.0, 1.0]
    """
    n = check_positive_int(n, name="n", func="circle", minimum=3)
    radius = check_positive_float(radius, name="radius", func="circle")
    t = 2 * np.pi * np.arange(n) / n
    V = radius * np.stack([np.cos(t), np.sin(t)], axis=1)
    S = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)
    return SimplicialComplex(V, S)


def disk(n, *, rings=1, radius=1.0) -> SimplicialComplex:
    """A flat disk in R^2: a centre vertex and ``rings`` concentric rings of ``n`` vertices.

    Parameters
    ----------
    n : int
        Vertices per ring, ``n >= 3``.
    rings : int, default 1
    radius : float, default 1.0

    Returns
    -------
    SimplicialComplex
        Vertex 0 is the centre; ring ``r`` (1-based) holds vertices
        ``1 + (r - 1) n .. r n`` at radius ``r * radius / rings``. Contractible; its
        boundary is the outer ring.

    Raises
    ------
    ValueError
        If ``n < 3``, ``rings < 1`` or ``radius <= 0``.

    Examples
    --------
    >>> K = pr.disk(5, rings=2)
    >>> len(K), K.euler_characteristic()
    (15, 1)
    """
    n = check_positive_int(n, name="n", func="disk", minimum=3)
    rings = check_positive_int(rings, name="rings", func="disk", minimum=1)
    radius = check_positive_float(radius, name="radius", func="disk")
    t = 2 * np.pi * np.arange(n) / n
    V = [np.zeros((1, 2))]
    for r in range(1, rings + 1):
        V.append(radius * r / rings * np.stack([np.cos(t), np.sin(t)], axis=1))
    i = np.arange(n)
    tri = [np.stack([np.zeros(n, dtype=np.int64), 1 + i, 1 + (i + 1) % n], axis=1)]
    for r in range(1, rings):
        a, b = 1 + (r - 1) * n + i, 1 + (r - 1) * n + (i + 1) % n
        c, d = b + n, a + n
        tri += [np.stack([a, b, c], axis=1), np.stack([a, c, d], axis=1)]
    return SimplicialComplex(np.concatenate(V), np.concatenate(tri))


def torus(n, m, *, R=2.0, r=1.0) -> SimplicialComplex:
    """A torus in R^3 triangulated by an ``n x m`` grid (``2 n m`` triangles).

    Parameters
    ----------
    n : int
        Vertices around the central circle (angle ``u``), ``n >= 3``.
    m : int
        Vertices around the tube (angle ``v``), ``m >= 3``.
    R, r : float, default 2.0 and 1.0
        Radii of the central circle and of the tube, ``R > r > 0``.

    Returns
    -------
    SimplicialComplex
        Vertex ``(i, j)`` has id ``i * m + j`` and sits at
        ``((R + r cos v) cos u, (R + r cos v) sin u, r sin v)`` with
        ``u = 2 pi i / n``, ``v = 2 pi j / m``. A *meridian* ``{i = const}`` (ids
        ``i*m .. i*m + m - 1``) and a *longitude* ``{j = const}`` are cycles of grid
        edges. Betti numbers ``(1, 2, 1)``.

    Raises
    ------
    ValueError
        If ``n < 3``, ``m < 3`` or not ``R > r > 0``.

    Examples
    --------
    >>> K = pr.torus(3, 3)
    >>> K.f_vector(), K.is_closed_surface()
    ([9, 27, 18], True)
    """
    n = check_positive_int(n, name="n", func="torus", minimum=3)
    m = check_positive_int(m, name="m", func="torus", minimum=3)
    R, r = _check_radii(R, r, "torus")
    U, rho, z = _tube_coordinates(n, m, R, r)
    V = np.stack([rho * np.cos(U), rho * np.sin(U), z], -1)
    T = _grid_triangles(n, m, lambda i, j: (i % n) * m + j % m)
    return SimplicialComplex(V.reshape(-1, 3), T)


def klein_bottle(n, m, *, R=2.0, r=1.0) -> SimplicialComplex:
    """A Klein bottle embedded in R^4, triangulated by an ``n x m`` grid with a twist.

    Parameters
    ----------
    n : int
        Vertices along the direction with the twist (angle ``u``), ``n >= 3``.
    m : int
        Vertices around the tube (angle ``v``), ``m >= 3``.
    R, r : float, default 2.0 and 1.0
        ``R > r > 0``.

    Returns
    -------
    SimplicialComplex
        Vertex ``(i, j)`` has id ``i * m + j``; crossing from ``i = n - 1`` back to
        ``i = 0`` identifies ``j`` with ``-j mod m``. Coordinates
        ``((R + r cos v) cos u, (R + r cos v) sin u, r sin v cos(u/2), r sin v sin(u/2))``
        with ``u = 2 pi i / n``, ``v = 2 pi j / m`` (the standard embedding in R^4:
        ``u -> u + 2 pi`` maps ``v`` to ``-v``). Betti numbers ``(1, 2, 1)`` over Z/2 and
        ``(1, 1, 0)`` over fields of odd characteristic.

    Raises
    ------
    ValueError
        If ``n < 3``, ``m < 3`` or not ``R > r > 0``.

    Examples
    --------
    >>> K = pr.klein_bottle(4, 4)
    >>> K.ambient_dim, K.euler_characteristic(), K.is_closed_surface()
    (4, 0, True)
    """
    n = check_positive_int(n, name="n", func="klein_bottle", minimum=3)
    m = check_positive_int(m, name="m", func="klein_bottle", minimum=3)
    R, r = _check_radii(R, r, "klein_bottle")
    U, rho, z = _tube_coordinates(n, m, R, r)
    V = np.stack([rho * np.cos(U), rho * np.sin(U), z * np.cos(U / 2), z * np.sin(U / 2)], -1)

    def wrap(i, j):
        over = i >= n
        jj = np.where(over, -j, j) % m
        return (i % n) * m + jj

    T = _grid_triangles(n, m, wrap)
    return SimplicialComplex(V.reshape(-1, 4), T)


def sphere(n, *, seed=0) -> SimplicialComplex:
    """The unit sphere in R^3 as the convex hull of ``n`` random points on it.

    Parameters
    ----------
    n : int
        Number of vertices, ``n >= 4``.
    seed : None, int, SeedSequence or Generator, default 0
        Source of the random points.

    Returns
    -------
    SimplicialComplex
        ``2 n - 4`` triangles, oriented with outward normals. Every point is a hull
        vertex and the result is checked to be a closed surface with Euler
        characteristic 2. Betti numbers ``(1, 0, 1)``.

    Raises
    ------
    ValueError
        If ``n < 4``.
    RuntimeError
        If qhull left a point off the hull or returned a non-manifold triangulation
        (not seen in practice with random points; try another seed).

    Notes
    -----
    Cost: one qhull call, ``O(n log n)``.

    Examples
    --------
    >>> K = pr.sphere(30, seed=0)
    >>> len(K), K.euler_characteristic()
    (56, 2)
    """
    from scipy.spatial import ConvexHull

    n = check_positive_int(n, name="n", func="sphere", minimum=4)
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((n, 3))
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    hull = ConvexHull(P)
    if len(hull.vertices) != n:
        raise RuntimeError(f"sphere: qhull left {n - len(hull.vertices)} of {n} points off the hull; "
                           "try another seed.")
    T = np.array(hull.simplices, dtype=np.int64)
    a, b, c = P[T[:, 0]], P[T[:, 1]], P[T[:, 2]]
    inner = P.mean(axis=0)                              # interior point of the hull
    flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), a - inner) < 0
    T[flip] = T[flip][:, [0, 2, 1]]
    K = SimplicialComplex(P, T)
    try:
        K.check_closed_surface()
    except ValueError as exc:  # pragma: no cover - qhull degeneracy
        raise RuntimeError(f"sphere: the hull is not a closed surface ({exc}); try another seed.") from exc
    if K.euler_characteristic() != 2:  # pragma: no cover
        raise RuntimeError("sphere: the hull has Euler characteristic != 2; try another seed.")
    return K


def _icosahedron():
    phi = (1 + 5 ** 0.5) / 2
    V = []
    for s1 in (-1, 1):
        for s2 in (-1, 1):
            V += [(0, s1, s2 * phi), (s1, s2 * phi, 0), (s2 * phi, 0, s1)]
    V = np.array(V, dtype=np.float64)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    # faces: triples of mutually adjacent vertices (edge length is the minimum distance)
    D = np.linalg.norm(V[:, None] - V[None], axis=-1)
    adj = np.isclose(D, D[D > 0].min())
    T = [t for t in itertools.combinations(range(12), 3) if adj[t[0], t[1]] and adj[t[0], t[2]] and adj[t[1], t[2]]]
    return V, np.array(T, dtype=np.int64)


def _subdivide(V, T):
    """Split every triangle in four at the edge midpoints (shared midpoints keyed by edge)."""
    E = np.sort(T[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    edges, inv = np.unique(E, axis=0, return_inverse=True)
    mid = len(V) + inv.reshape(-1, 3)                   # midpoint ids of (01, 12, 20)
    V = np.concatenate([V, (V[edges[:, 0]] + V[edges[:, 1]]) / 2])
    a, b, c = T[:, 0], T[:, 1], T[:, 2]
    ab, bc, ca = mid[:, 0], mid[:, 1], mid[:, 2]
    T = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return V, T


def projective_plane(subdivisions=0) -> SimplicialComplex:
    """The real projective plane RP^2 embedded in R^4.

    Antipodal quotient of an icosahedron whose faces were split in four
    ``subdivisions`` times, with the vertices mapped to R^4 by the Veronese-type
    embedding ``(x, y, z) -> (x^2 - y^2, xy, xz, yz)`` of the unit sphere.

    Parameters
    ----------
    subdivisions : int, default 0
        ``0`` gives the minimal 6-vertex, 10-triangle RP^2; each level multiplies the
        number of triangles by 4.

    Returns
    -------
    SimplicialComplex
        Betti numbers ``(1, 1, 1)`` over Z/2 and ``(1, 0, 0)`` over fields of odd
        characteristic; Euler characteristic 1.

    Raises
    ------
    ValueError
        If ``subdivisions`` is not an int >= 0.

    Notes
    -----
    The embedding is exact on vertices; triangles are straight, so the coarsest
    mesh is a combinatorial RP^2 whose straight triangles in R^4 may cross.

    Examples
    --------
    >>> K = pr.projective_plane()
    >>> K.f_vector(), K.is_closed_surface()
    ([6, 15, 10], True)
    """
    from scipy.spatial import cKDTree

    subdivisions = check_positive_int(subdivisions, name="subdivisions", func="projective_plane", minimum=0)
    V, T = _icosahedron()
    for _ in range(subdivisions):
        V, T = _subdivide(V, T)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    dist, partner = cKDTree(V).query(-V)
    if not (dist < ANTIPODE_TOL).all():  # pragma: no cover - the mesh is centrally symmetric
        raise RuntimeError("projective_plane: the sphere mesh is not centrally symmetric.")
    rep = np.minimum(np.arange(len(V)), partner)
    keep = np.unique(rep)
    new_id = np.full(len(V), -1)
    new_id[keep] = np.arange(len(keep))
    Tq = np.unique(np.sort(new_id[rep[T]], axis=1), axis=0)
    x, y, z = V[keep].T
    W = np.stack([x * x - y * y, x * y, x * z, y * z], axis=1)
    return SimplicialComplex(W, Tq)

# ---------------------------------------------------------------------- solids
#: Corners of a voxel as bits (a, b, c) and, per parity of the voxel, its 5 tetrahedra:
#: the central one on the 4 corners of even global parity, and one per odd corner with its
#: three neighbours. Every square face is then split along the diagonal that joins its two
#: even vertices, so voxels glue into a conforming mesh, and the rule (the parity of
#: i + j + k) is symmetric under the reflections of the grid in its planes.
_VOXEL_CORNERS = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])


def _voxel_tets_local():
    par = _VOXEL_CORNERS.sum(1) % 2
    out = []
    for p in (0, 1):
        even = np.flatnonzero(par == p)  # corners of even global parity in a voxel of parity p
        odd = np.flatnonzero(par != p)
        tets = [even.tolist()]
        for o in odd:
            nb = [int(k) for k in range(8) if np.abs(_VOXEL_CORNERS[k] - _VOXEL_CORNERS[o]).sum() == 1]
            tets.append([int(o)] + nb)
        out.append(np.array(tets, dtype=np.int64))
    return out


def _voxel_mesh(shape, keep, position, wrap0=False):
    """Tetrahedra of the kept voxels of a grid, 5 per voxel (``_VOXEL_CORNERS``).

    ``shape`` = voxels per axis, ``keep`` a bool array of that shape, ``position(I, J, K)``
    maps integer vertex indices (arrays) to points in R^3. With ``wrap0`` the first axis is
    periodic (vertex index n0 is index 0; n0 must be even to keep the parity rule). Unused
    vertices are dropped and every tetrahedron is positively oriented.
    """
    n0, n1, n2 = shape
    m0 = n0 if wrap0 else n0 + 1
    vid = lambda i, j, k: ((i % m0) * (n1 + 1) + j) * (n2 + 1) + k  # noqa: E731
    vox = np.argwhere(keep)
    local = _voxel_tets_local()
    S = []
    for p in (0, 1):
        sel = vox[vox.sum(1) % 2 == p]
        C = sel[:, None, :] + _VOXEL_CORNERS[None]  # (v, 8, 3)
        ids = vid(C[..., 0], C[..., 1], C[..., 2])  # (v, 8)
        S.append(ids[:, local[p]].reshape(-1, 4))
    S = np.concatenate(S)
    used, S = np.unique(S, return_inverse=True)
    S = S.reshape(-1, 4)
    k = used % (n2 + 1)
    j = (used // (n2 + 1)) % (n1 + 1)
    i = used // ((n1 + 1) * (n2 + 1))
    V = position(i, j, k)
    T = V[S[:, 1:]] - V[S[:, :1]]
    neg = np.linalg.det(T) < 0
    S[neg] = S[neg][:, [0, 2, 1, 3]]
    return SimplicialComplex(V, S)


def _square_to_disk(x, y):
    """Radial map of the square [-1, 1]^2 onto the unit disk (identity along the axes)."""
    rho = np.hypot(x, y)
    f = np.where(rho > 0, np.maximum(np.abs(x), np.abs(y)) / np.where(rho > 0, rho, 1.0), 0.0)
    return x * f, y * f


def ball(n, *, radius=1.0) -> SimplicialComplex:
    """A solid ball in R^3: a cube grid of ``n^3`` voxels mapped radially onto the ball.

    Parameters
    ----------
    n : int
        Voxels along each side of the cube ``[-1, 1]^3``, ``n >= 2``. Each voxel is cut
        into 5 tetrahedra; even ``n`` makes the mesh symmetric under the reflections
        in the coordinate planes (so a fold ``x -> |x|`` maps one half onto the other).
    radius : float, default 1.0

    Returns
    -------
    SimplicialComplex
        ``5 n^3`` positively oriented tetrahedra; vertex ``x`` of the grid sits at
        ``radius * x * max|x_i| / |x|`` (the boundary vertices lie on the sphere).
        Betti numbers ``(1, 0, 0, 0)``; the boundary is a sphere. The volume tends to
        ``4/3 pi radius^3`` (from below, error ``O(1/n^2)``).

    Raises
    ------
    ValueError
        If ``n < 2`` or ``radius <= 0``.

    Notes
    -----
    The tetrahedra of a voxel: the one on its 4 corners ``(i, j, k)`` with ``i + j + k``
    even, and one per remaining corner with its three neighbours; every square face is
    split along its even diagonal, so the voxels glue into a conforming mesh.

    Examples
    --------
    >>> B = pr.ball(4)
    >>> len(B), B.dim, pr.betti(B)
    (320, 3, [1, 0, 0, 0])
    """
    n = check_positive_int(n, name="n", func="ball", minimum=2)
    radius = check_positive_float(radius, name="radius", func="ball")

    def position(i, j, k):
        X = np.stack([i, j, k], 1) * (2.0 / n) - 1.0
        nrm = np.linalg.norm(X, axis=1)
        f = np.where(nrm > 0, np.abs(X).max(1) / np.where(nrm > 0, nrm, 1.0), 0.0)
        return radius * X * f[:, None]

    return _voxel_mesh((n, n, n), np.ones((n, n, n), dtype=bool), position)


def solid_torus(n, m, *, R=2.0, r=1.0) -> SimplicialComplex:
    """A solid torus in R^3: an ``m x m`` grid of the disk of radius ``r`` swept around
    a circle of radius ``R`` in ``n`` steps.

    Parameters
    ----------
    n : int
        Steps around the central circle, even, ``n >= 4``.
    m : int
        Voxels along each side of the square ``[-1, 1]^2`` mapped radially onto the
        cross-section disk, ``m >= 1``; even ``m`` makes the mesh symmetric under
        ``z -> -z`` and under the reflection in the plane through the axis and ``(1, 0, 0)``.
    R, r : float, default 2.0 and 1.0
        Radii of the central circle and of the tube, ``R > r > 0``.

    Returns
    -------
    SimplicialComplex
        ``5 n m^2`` positively oriented tetrahedra; grid vertex ``(i, a, b)`` with
        disk point ``(u, v)`` sits at ``((R + u) cos t, (R + u) sin t, v)``,
        ``t = 2 pi i / n``. Betti numbers ``(1, 1, 0, 0)``; the boundary is a torus.
        The volume tends to ``2 pi^2 R r^2``.

    Raises
    ------
    ValueError
        If ``n`` is odd or ``< 4``, ``m < 1``, or not ``R > r > 0``.

    Examples
    --------
    >>> T = pr.solid_torus(8, 2)
    >>> len(T), pr.betti(T)
    (160, [1, 1, 0, 0])
    """
    n = check_positive_int(n, name="n", func="solid_torus", minimum=4)
    m = check_positive_int(m, name="m", func="solid_torus", minimum=1)
    if n % 2:
        raise ValueError(f"The 'n' parameter of solid_torus must be even (the voxels' cut pattern "
                         f"alternates around the circle). Got {n}.")
    R, r = _check_radii(R, r, "solid_torus")

    def position(i, a, b):
        u, v = _square_to_disk(a * (2.0 / m) - 1.0, b * (2.0 / m) - 1.0)
        t = 2 * np.pi * i / n
        return np.stack([(R + r * u) * np.cos(t), (R + r * u) * np.sin(t), r * v], 1)

    return _voxel_mesh((n, m, m), np.ones((n, m, m), dtype=bool), position, wrap0=True)


def cube_with_holes(n, *, holes=1, size=2.0) -> SimplicialComplex:
    """The cube ``[-size/2, size/2]^3`` with ``holes`` square through-holes along z.

    The cube is cut into ``2 holes + 1`` slabs along x and 3 along y and z; hole ``h``
    (``h = 0 .. holes - 1``) is slab ``2h + 1`` in x times the middle slab in y, through
    the whole cube in z. Each slab is ``n`` voxels thick.

    Parameters
    ----------
    n : int
        Voxels per slab along each axis, ``n >= 1``.
    holes : int, default 1
        Number of holes, ``>= 0``.
    size : float, default 2.0
        Side length of the cube.

    Returns
    -------
    SimplicialComplex
        ``5`` positively oriented tetrahedra per voxel (as in :func:`ball`), in R^3.
        Betti numbers ``(1, holes, 0, 0)``; the boundary is a closed surface of genus
        ``holes``. Volume ``size^3 (1 - holes / (3 (2 holes + 1)))`` exactly.

    Raises
    ------
    ValueError
        If ``n < 1``, ``holes < 0`` or ``size <= 0``.

    Examples
    --------
    >>> C = pr.cube_with_holes(1, holes=2)
    >>> pr.betti(C)
    [1, 2, 0, 0]
    >>> V, S = C.vertices, C.simplices
    >>> round(float(np.linalg.det(V[S[:, 1:]] - V[S[:, :1]]).sum() / 6), 12), 8 * (1 - 2 / 15)
    (6.933333333333, 6.933333333333333)
    """
    n = check_positive_int(n, name="n", func="cube_with_holes", minimum=1)
    holes = check_positive_int(holes, name="holes", func="cube_with_holes", minimum=0)
    size = check_positive_float(size, name="size", func="cube_with_holes")
    nx, ny = (2 * holes + 1) * n, 3 * n
    keep = np.ones((nx, ny, ny), dtype=bool)
    for h in range(holes):
        keep[(2 * h + 1) * n: (2 * h + 2) * n, n: 2 * n, :] = False

    def position(i, j, k):
        return size * (np.stack([i / nx, j / ny, k / ny], 1) - 0.5)

    return _voxel_mesh((nx, ny, ny), keep, position)


def embed(K, dim, *, seed=0) -> SimplicialComplex:
    """Place a complex in R^dim by a random isometry plus a random offset.

    Parameters
    ----------
    K : SimplicialComplex
        Vertices in R^m.
    dim : int
        Target dimension, ``dim >= m``.
    seed : None, int, SeedSequence or Generator, default 0
        Source of the isometry (Haar-distributed orthonormal columns from the QR
        factorisation of a Gaussian matrix, signs fixed by ``diag(R) > 0``) and of the
        offset (standard normal).

    Returns
    -------
    SimplicialComplex
        Same simplices; vertices ``x -> Q x + t`` with ``Q^T Q = I``, so all pairwise
        distances are preserved (up to float64 rounding).

    Raises
    ------
    TypeError
        If ``K`` is not a SimplicialComplex.
    ValueError
        If ``dim`` is not an int or ``dim < K.ambient_dim``.

    Examples
    --------
    >>> K = pr.embed(pr.circle(8), 5, seed=0)
    >>> K.ambient_dim
    5
    >>> bool(np.isclose(np.linalg.norm(K.vertices[0] - K.vertices[4]), 2.0))
    True
    """
    K = check_complex(K, name="K", func="embed")
    m = K.ambient_dim
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise ValueError(f"The 'dim' parameter of embed must be an int >= {m}. Got {dim!r} instead.")
    if dim < m:
        raise ValueError(f"The 'dim' parameter of embed must be >= the complex's ambient dimension {m} "
                         f"(an isometry cannot lower the dimension). Got {dim}.")
    rng = make_rng(seed, func="embed")
    Q, Rf = np.linalg.qr(rng.standard_normal((int(dim), m)))
    Q = Q * np.where(np.diag(Rf) < 0, -1.0, 1.0)
    offset = rng.standard_normal(int(dim))
    return SimplicialComplex(K.vertices @ Q.T + offset, K.simplices)
