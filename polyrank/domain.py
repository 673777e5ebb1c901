"""Input domains of an enumeration: :class:`Box`, :class:`Polytope`, :class:`Simplex`.

``domain=None`` in the enumeration functions means all of R^d.
Every domain is stored as an H-representation ``{x : A x <= b}`` with unit-norm rows.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_real_array, check_matrix, check_points, check_vector, make_rng

__all__ = ["Box", "Polytope", "Simplex", "as_domain"]

#: Minimum Chebyshev radius (relative to the domain's size: the largest side of its
#: bounding box when bounded, else max(1, |centre|)) for a polytope to count as
#: full-dimensional. It equals the enumerations' default ``tol``: a thinner domain has
#: no region they could certify.
FULL_DIM_TOL = 1e-9
#: Minimum Chebyshev radius relative to the centre's largest coordinate: below it the
#: domain spans too few float64 values (about 1e4 ulps) to be resolved.
FULL_DIM_COORD_RTOL = 1e-12
#: Largest dimension in which a bounded polytope's size is read off its vertices (qhull).
SIZE_BY_VERTICES_MAX_DIM = 8
#: Default slack of :meth:`Polytope.contains` (absolute, on ``A x <= b``).
CONTAINS_TOL = 1e-12
#: A simplex whose edge-vector determinant is below this (relative to the product of the
#: edge vectors' lengths, so that the test does not depend on its size) is degenerate.
SIMPLEX_DET_RTOL = 1e-14


class Polytope:
    """A full-dimensional convex polyhedron ``{x : A x <= b}``.

    Parameters
    ----------
    A : array-like of shape (n_constraints, dim)
    b : array-like of shape (n_constraints,)

    Raises
    ------
    ValueError
        When the polyhedron is empty or not full-dimensional (its largest inscribed
        ball has radius <= ``FULL_DIM_TOL``), or a row of ``A`` is zero.

    Examples
    --------
    The triangle x >= 0, y >= 0, x + y <= 1:

    >>> tri = pr.Polytope([[-1, 0], [0, -1], [1, 1]], [0, 0, 1])
    >>> round(tri.volume(), 12)
    0.5
    """

    def __init__(self, A, b):
        A = check_matrix(A, name="A")
        b = check_vector(b, name="b", length=A.shape[0])
        if A.shape[1] == 0:
            raise ValueError("A polytope needs dimension >= 1.")
        norms = np.linalg.norm(A, axis=1)
        if np.any(norms == 0):
            bad = int(np.flatnonzero(norms == 0)[0])
            raise ValueError(f"Row {bad} of A is zero; a constraint 0 <= b is not a half-space.")
        self._A = A / norms[:, None]
        self._b = b / norms
        self._A.setflags(write=False)
        self._b.setflags(write=False)
        self._center = None
        self._inradius = None
        self._bounded = None
        self._check_full_dimensional()

    def _check_full_dimensional(self):
        from .exceptions import InfeasibleError
        from .lp import chebyshev_center

        try:
            x, r = chebyshev_center(self._A, self._b)
        except InfeasibleError:
            raise ValueError("The polytope {x : A x <= b} is empty.") from None
        self._center, self._inradius = x, r
        size = None
        if r > 0 and self.dim <= SIZE_BY_VERTICES_MAX_DIM and self.bounded:
            try:
                lo, hi = self.bounding_box()
                size = float(np.max(hi - lo))
            except Exception:  # qhull gives up on a (numerically) flat polytope
                size = None
                r = 0.0
        _check_inradius(r, x, size)

    @property
    def dim(self) -> int:
        return self._A.shape[1]

    @property
    def A(self) -> np.ndarray:
        """Constraint normals, unit rows, shape (n_constraints, dim)."""
        return self._A

    @property
    def b(self) -> np.ndarray:
        return self._b

    @property
    def center(self) -> np.ndarray:
        """An interior point (the Chebyshev centre)."""
        return self._center.copy()

    @property
    def inradius(self) -> float:
        return self._inradius

    @property
    def bounded(self) -> bool:
        if self._bounded is None:
            from .lp import is_bounded_polyhedron

            self._bounded = bool(is_bounded_polyhedron(self._A))
        return self._bounded

    def contains(self, X, *, tol=CONTAINS_TOL):
        """Boolean mask of the points of ``X`` (shape (n, dim)) inside the polytope."""
        X = check_points(X, self.dim)
        return np.all(X @ self._A.T <= self._b + tol, axis=1)

    def vertices(self) -> np.ndarray:
        """Vertices (bounded polytopes only), by qhull's half-space intersection."""
        if not self.bounded:
            raise ValueError("An unbounded polyhedron has no finite vertex set.")
        if self.dim == 1:
            lo = -min(self._b[i] for i in range(len(self._b)) if self._A[i, 0] < 0)
            hi = min(self._b[i] for i in range(len(self._b)) if self._A[i, 0] > 0)
            return np.array([[lo], [hi]])
        from scipy.spatial import HalfspaceIntersection

        hs = HalfspaceIntersection(np.hstack([self._A, -self._b[:, None]]), self._center)
        return hs.intersections

    def bounding_box(self):
        """``(lo, hi)`` arrays of the smallest axis-aligned box containing a bounded polytope."""
        V = self.vertices()
        return V.min(axis=0), V.max(axis=0)

    def volume(self) -> float:
        """Lebesgue volume (``inf`` when unbounded)."""
        if not self.bounded:
            return float("inf")
        V = self.vertices()
        if self.dim == 1:
            return float(V.max() - V.min())
        from scipy.spatial import ConvexHull

        return float(ConvexHull(V - V.mean(axis=0)).volume)  # centred: qhull's tolerances scale with |V|

    def sample(self, n, *, seed=0) -> np.ndarray:
        """``n`` uniform points inside a bounded polytope (rejection from its bounding box)."""
        rng = make_rng(seed)
        lo, hi = self.bounding_box()
        out = []
        got = 0
        while got < n:
            X = rng.uniform(lo, hi, size=(max(2 * (n - got), 64), self.dim))
            X = X[np.all(X @ self._A.T <= self._b, axis=1)]
            out.append(X)
            got += len(X)
        return np.concatenate(out)[:n]

    def __repr__(self):
        return f"Polytope(dim={self.dim}, n_constraints={self._A.shape[0]})"


def _check_inradius(r, x, size):
    """Raise the one "not full-dimensional" error of every domain: the largest inscribed
    ball (radius ``r``, centre ``x``) is thin relative to the domain's size (``size``: the
    largest side of its bounding box; None: unknown or unbounded, then max(1, |x|)), or
    spans too few float64 values at its distance from the origin."""
    far = float(np.abs(x).max(initial=0.0))
    scale = max(1.0, far) if size is None else size
    if r <= FULL_DIM_TOL * scale or r <= FULL_DIM_COORD_RTOL * far:
        what = "its size" if size is None else f"its size {size:.3g}"
        raise ValueError(
            f"The polytope is not full-dimensional (largest inscribed ball radius {r:.3g}, against "
            f"{what}); polyrank enumerates full-dimensional domains only. Use ReLUNetwork.restrict "
            "to parametrise a lower-dimensional slice."
        )


class Box(Polytope):
    """The axis-aligned box ``[lo, hi]^dim`` (or ``prod [lo_j, hi_j]``).

    Parameters
    ----------
    lo, hi : float or array-like of shape (dim,)
    dim : int, optional
        Needed when ``lo`` and ``hi`` are scalars.

    Examples
    --------
    >>> box = pr.Box(-1.0, 1.0, dim=3)
    >>> box.volume()
    8.0
    """

    def __init__(self, lo, hi, dim=None):
        lo_arr = np.atleast_1d(as_real_array(lo, name="lo", what="a float or a 1-D array of floats"))
        hi_arr = np.atleast_1d(as_real_array(hi, name="hi", what="a float or a 1-D array of floats"))
        if lo_arr.ndim != 1 or hi_arr.ndim != 1:
            raise ValueError(f"lo and hi must be floats or 1-D arrays; got shapes {np.shape(lo)} and {np.shape(hi)}.")
        if dim is None:
            dim = max(lo_arr.shape[0], hi_arr.shape[0])
            if lo_arr.shape[0] == hi_arr.shape[0] == 1 and np.ndim(lo) == 0 and np.ndim(hi) == 0:
                raise ValueError("Box(lo, hi) with scalar bounds needs dim=...; e.g. Box(-1, 1, dim=2).")
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive int; got {dim!r}.")
        lo_arr = np.broadcast_to(lo_arr, (dim,)).astype(np.float64) if lo_arr.shape[0] in (1, dim) else None
        hi_arr = np.broadcast_to(hi_arr, (dim,)).astype(np.float64) if hi_arr.shape[0] in (1, dim) else None
        if lo_arr is None or hi_arr is None:
            raise ValueError(f"lo and hi must be scalars or have length dim={dim}.")
        if not (np.isfinite(lo_arr).all() and np.isfinite(hi_arr).all()):
            raise ValueError("Box bounds must be finite; use domain=None for all of R^d.")
        if np.any(hi_arr <= lo_arr):
            j = int(np.flatnonzero(hi_arr <= lo_arr)[0])
            raise ValueError(f"Box needs lo < hi in every coordinate; coordinate {j} has "
                             f"lo={lo_arr[j]} >= hi={hi_arr[j]}.")
        self.lo = lo_arr.copy()
        self.hi = hi_arr.copy()
        self.lo.setflags(write=False)
        self.hi.setflags(write=False)
        eye = np.eye(dim)
        self._A = np.vstack([eye, -eye])
        self._b = np.concatenate([self.hi, -self.lo])
        self._A.setflags(write=False)
        self._b.setflags(write=False)
        self._center = (self.lo + self.hi) / 2
        self._inradius = float(np.min(self.hi - self.lo) / 2)
        self._bounded = True
        _check_inradius(self._inradius, self._center, float(np.max(self.hi - self.lo)))

    def vertices(self):
        d = self.dim
        corners = np.array(np.meshgrid(*[[0, 1]] * d, indexing="ij")).reshape(d, -1).T
        return self.lo + corners * (self.hi - self.lo)

    def bounding_box(self):
        return self.lo.copy(), self.hi.copy()

    def volume(self):
        return float(np.prod(self.hi - self.lo))

    def sample(self, n, *, seed=0):
        rng = make_rng(seed)
        return rng.uniform(self.lo, self.hi, size=(n, self.dim))

    def __repr__(self):
        if np.all(self.lo == self.lo[0]) and np.all(self.hi == self.hi[0]):
            return f"Box({_num(self.lo[0])}, {_num(self.hi[0])}, dim={self.dim})"
        return f"Box(lo={self.lo.tolist()}, hi={self.hi.tolist()})"


def _num(v):
    """A float as Python writes it (shortest round trip), without a trailing ``.0``."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


class Simplex(Polytope):
    """The convex hull of ``dim + 1`` affinely independent points in R^dim.

    Examples
    --------
    >>> pr.Simplex([[0, 0], [1, 0], [0, 1]]).volume()
    0.5
    """

    def __init__(self, vertices):
        V = check_matrix(vertices, name="vertices")
        d = V.shape[1]
        if V.shape[0] != d + 1:
            raise ValueError(f"A simplex in R^{d} needs {d + 1} vertices; got {V.shape[0]}.")
        E = V[1:] - V[0]
        if abs(np.linalg.det(E)) <= SIMPLEX_DET_RTOL * float(np.prod(np.linalg.norm(E, axis=1))):
            raise ValueError("The simplex's vertices are affinely dependent (zero volume).")
        # facet opposite vertex k: the hyperplane through the others, oriented away from vertex k
        A, b = [], []
        for k in range(d + 1):
            others = np.delete(V, k, axis=0)
            if d == 1:
                n = np.array([1.0])
            else:
                D = others[1:] - others[0]
                # normal = null vector of D
                _, _, vt = np.linalg.svd(D)
                n = vt[-1]
            off = n @ others[0]
            if n @ V[k] > off:
                n, off = -n, -off
            A.append(n)
            b.append(off)
        self.points = V.copy()
        super().__init__(np.array(A), np.array(b))

    def vertices(self):
        return self.points.copy()


def as_domain(domain, dim):
    """Validate an enumeration domain: a Polytope of the right dimension, or None."""
    if domain is None:
        return None
    if not isinstance(domain, Polytope):
        raise TypeError(f"domain must be a polyrank Box, Polytope or Simplex, or None for all of R^d; "
                        f"got {type(domain).__name__}.")
    if domain.dim != dim:
        raise ValueError(f"domain has dimension {domain.dim} but the network's input dimension is {dim}.")
    return domain
