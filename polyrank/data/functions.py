"""Optimisation test functions and the targets built from them (paper Fig. 3C, appendix 7.3).

The functions follow the standard definitions and input domains of Surjanovic and
Bingham's *Virtual Library of Simulation Experiments* (https://www.sfu.ca/~ssurjano),
vectorised over the rows of ``X`` (shape ``(n_points, d)``). Each is registered in
:data:`TEST_FUNCTIONS` as a :class:`BenchmarkFunction` that also knows its domain,
a global minimiser and the minimum value for any dimension ``d``.

:func:`discretize` is the paper's n-th percentile discretisation (value ``k/n`` on the
k-th of ``n`` equal-mass percentile bins, then z-scored) and :func:`classify_above_mean`
the appendix's ``f > mean`` classification target.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .._validation import check_positive_int, make_rng

__all__ = [
    "BenchmarkFunction",
    "TEST_FUNCTIONS",
    "APPENDIX_FUNCTIONS",
    "discretize",
    "classify_above_mean",
    "sample_task",
]

#: Parameter ``m`` of the Michalewicz function (the library's recommended value).
MICHALEWICZ_M = 10

#: Number of grid points per coordinate in the 1-D search for the Michalewicz minimiser
#: (before a bounded Brent refinement); fine enough to bracket the narrowest well for
#: the coordinates used here (i <= a few hundred).
_MICHALEWICZ_GRID = 200_001


def _check_X(X, *, func, min_dim=1):
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"X of {func} must be an array of numbers; got {type(X).__name__}.") from exc
    if X.ndim != 2:
        hint = " For one point use X.reshape(1, -1)." if X.ndim == 1 else ""
        raise ValueError(f"X of {func} must have shape (n_points, d); got {X.shape}.{hint}")
    if X.shape[1] < min_dim:
        raise ValueError(f"X of {func} must have at least {min_dim} column(s) (d >= {min_dim}); "
                         f"got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise ValueError(f"X of {func} contains NaN or infinity.")
    return X


@dataclass(frozen=True)
class BenchmarkFunction:
    """One optimisation test function: its formula, domain, minimiser and minimum.

    Attributes
    ----------
    name : str
        Key in :data:`TEST_FUNCTIONS`.
    title : str
        Human-readable name ("Dixon-Price").
    domain : tuple of float
        ``(lo, hi)``: the usual search domain is the hypercube ``[lo, hi]^d``.
    min_dim : int
        Smallest dimension for which the function is defined (2 for Rosenbrock).

    Notes
    -----
    ``minimizer(d)`` and ``minimum(d)`` are exact closed forms except for
    Michalewicz (separable: each coordinate is minimised in 1-D by a 200,001-point
    grid plus bounded Brent refinement, to ~1e-12) and for the constants of Schwefel
    (420.968746...) and Styblinski-Tang (-2.903534..., a root of ``4x^3 - 32x + 5``),
    which are computed to float64 precision. ``minimum(d)`` is ``f`` evaluated at
    ``minimizer(d)``, so Schwefel's minimum is ``d * 1.27e-5`` rather than the
    library's rounded 0 (its constant 418.9829 is itself rounded).

    Examples
    --------
    >>> sphere = pr.data.TEST_FUNCTIONS["sphere"]
    >>> sphere.f(np.array([[1.0, 2.0], [0.0, 0.0]]))
    array([5., 0.])
    >>> sphere.domain
    (-5.12, 5.12)
    >>> sphere.minimum(20)
    0.0
    """

    name: str
    title: str
    _f: Callable = field(repr=False)
    domain: tuple
    _minimizer: Callable = field(repr=False)
    min_dim: int = 1

    def f(self, X) -> np.ndarray:
        """Evaluate the function on each row of ``X`` (shape ``(n_points, d)``) -> ``(n_points,)``."""
        X = _check_X(X, func=f"{self.name}.f", min_dim=self.min_dim)
        return self._f(X)

    __call__ = f

    def box(self, d):
        """The domain ``[lo, hi]^d`` as a :class:`polyrank.Box`."""
        from ..domain import Box

        d = check_positive_int(d, name="d", func=f"{self.name}.box", minimum=self.min_dim)
        return Box(self.domain[0], self.domain[1], dim=d)

    def minimizer(self, d) -> np.ndarray:
        """A global minimiser in dimension ``d``, shape ``(d,)``."""
        d = check_positive_int(d, name="d", func=f"{self.name}.minimizer", minimum=self.min_dim)
        return np.array(self._minimizer(d), dtype=np.float64)

    def minimum(self, d) -> float:
        """The global minimum value in dimension ``d`` (``f`` at :meth:`minimizer`)."""
        x = self.minimizer(d)
        return float(self._f(x[None, :])[0])

    def sample(self, n, d, *, seed=0) -> np.ndarray:
        """``n`` points drawn uniformly from ``[lo, hi]^d``, shape ``(n, d)``."""
        d = check_positive_int(d, name="d", func=f"{self.name}.sample", minimum=self.min_dim)
        n = check_positive_int(n, name="n", func=f"{self.name}.sample")
        rng = make_rng(seed)
        return rng.uniform(self.domain[0], self.domain[1], size=(n, d))


# --- the formulas (X already validated, shape (n, d)) ------------------------------------

def _sphere(X):
    return np.sum(X * X, axis=1)


def _dixon_price(X):
    i = np.arange(2, X.shape[1] + 1, dtype=np.float64)
    return (X[:, 0] - 1.0) ** 2 + np.sum(i * (2.0 * X[:, 1:] ** 2 - X[:, :-1]) ** 2, axis=1)


def _dixon_price_min(d):
    i = np.arange(1, d + 1, dtype=np.float64)
    return 2.0 ** (-(2.0 ** i - 2.0) / 2.0 ** i)


def _rosenbrock(X):
    return np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (X[:, :-1] - 1.0) ** 2, axis=1)


def _zakharov(X):
    s = X @ (0.5 * np.arange(1, X.shape[1] + 1, dtype=np.float64))
    return np.sum(X * X, axis=1) + s ** 2 + s ** 4


def _michalewicz_terms(X, m=MICHALEWICZ_M):
    i = np.arange(1, X.shape[1] + 1, dtype=np.float64)
    return -np.sin(X) * np.sin(i * X * X / np.pi) ** (2 * m)


def _michalewicz(X):
    return np.sum(_michalewicz_terms(X), axis=1)


@functools.lru_cache(maxsize=None)
def _michalewicz_coordinate(i):
    """Minimiser in [0, pi] of the i-th (1-based) term of the Michalewicz function."""
    from scipy.optimize import minimize_scalar

    def g(t):
        return -np.sin(t) * np.sin(i * t * t / np.pi) ** (2 * MICHALEWICZ_M)

    t = np.linspace(0.0, np.pi, _MICHALEWICZ_GRID)
    k = int(np.argmin(g(t)))
    step = t[1] - t[0]
    lo, hi = max(0.0, t[k] - step), min(np.pi, t[k] + step)
    res = minimize_scalar(g, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13})
    return float(res.x) if g(res.x) <= g(t[k]) else float(t[k])


def _michalewicz_min(d):
    return [_michalewicz_coordinate(i) for i in range(1, d + 1)]


#: the constant of the Schwefel function in the library's definition
_SCHWEFEL_C = 418.9829


def _schwefel(X):
    return _SCHWEFEL_C * X.shape[1] - np.sum(X * np.sin(np.sqrt(np.abs(X))), axis=1)


@functools.lru_cache(maxsize=None)
def _schwefel_coordinate():
    """Maximiser of t sin(sqrt t) in [0, 500]: sqrt(t) = u solves tan u = -u / 2."""
    from scipy.optimize import brentq

    u = brentq(lambda u: np.sin(u) + 0.5 * u * np.cos(u), 20.0, 21.0, xtol=1e-14, rtol=1e-15)
    return u * u


def _styblinski_tang(X):
    return 0.5 * np.sum(X ** 4 - 16.0 * X ** 2 + 5.0 * X, axis=1)


@functools.lru_cache(maxsize=None)
def _styblinski_tang_coordinate():
    """The smallest root of 4 x^3 - 32 x + 5 (the derivative), polished by Newton steps."""
    x = float(np.min(np.roots([4.0, 0.0, -32.0, 5.0]).real))
    for _ in range(3):
        x -= (4 * x ** 3 - 32 * x + 5) / (12 * x ** 2 - 32)
    return x


_ACKLEY_A, _ACKLEY_B, _ACKLEY_C = 20.0, 0.2, 2.0 * np.pi


def _ackley(X):
    d = X.shape[1]
    r = np.sqrt(np.sum(X * X, axis=1) / d)
    c = np.sum(np.cos(_ACKLEY_C * X), axis=1) / d
    return -_ACKLEY_A * np.exp(-_ACKLEY_B * r) - np.exp(c) + _ACKLEY_A + np.e


def _rastrigin(X):
    return 10.0 * X.shape[1] + np.sum(X * X - 10.0 * np.cos(2.0 * np.pi * X), axis=1)


def _griewank(X):
    i = np.arange(1, X.shape[1] + 1, dtype=np.float64)
    return np.sum(X * X, axis=1) / 4000.0 - np.prod(np.cos(X / np.sqrt(i)), axis=1) + 1.0


def _levy(X):
    w = 1.0 + (X - 1.0) / 4.0
    head = np.sin(np.pi * w[:, 0]) ** 2
    mid = np.sum((w[:, :-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(np.pi * w[:, :-1] + 1.0) ** 2), axis=1)
    tail = (w[:, -1] - 1.0) ** 2 * (1.0 + np.sin(2.0 * np.pi * w[:, -1]) ** 2)
    return head + mid + tail


def _schwefel_min(d):
    return np.full(d, _schwefel_coordinate())


def _styblinski_tang_min(d):
    return np.full(d, _styblinski_tang_coordinate())


def _zeros(d):
    return np.zeros(d)


def _ones(d):
    return np.ones(d)


def _register(*fns):
    return {fn.name: fn for fn in fns}


#: name -> :class:`BenchmarkFunction`, with the library's standard domains.
TEST_FUNCTIONS = _register(
    BenchmarkFunction("sphere", "Sphere", _sphere, (-5.12, 5.12), _zeros),
    BenchmarkFunction("dixon_price", "Dixon-Price", _dixon_price, (-10.0, 10.0), _dixon_price_min),
    BenchmarkFunction("rosenbrock", "Rosenbrock", _rosenbrock, (-5.0, 10.0), _ones, min_dim=2),
    BenchmarkFunction("zakharov", "Zakharov", _zakharov, (-5.0, 10.0), _zeros),
    BenchmarkFunction("michalewicz", "Michalewicz", _michalewicz, (0.0, math.pi), _michalewicz_min),
    BenchmarkFunction("schwefel", "Schwefel", _schwefel, (-500.0, 500.0),
                      _schwefel_min),
    BenchmarkFunction("styblinski_tang", "Styblinski-Tang", _styblinski_tang, (-5.0, 5.0),
                      _styblinski_tang_min),
    BenchmarkFunction("ackley", "Ackley", _ackley, (-32.768, 32.768), _zeros),
    BenchmarkFunction("rastrigin", "Rastrigin", _rastrigin, (-5.12, 5.12), _zeros),
    BenchmarkFunction("griewank", "Griewank", _griewank, (-600.0, 600.0), _zeros),
    BenchmarkFunction("levy", "Levy", _levy, (-10.0, 10.0), _ones),
)

#: The seven functions of the paper's appendix 7.3, in the paper's order.
APPENDIX_FUNCTIONS = ("dixon_price", "rosenbrock", "sphere", "zakharov", "michalewicz", "schwefel",
                      "styblinski_tang")


def _check_y(y, *, func):
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"y of {func} must be an array of numbers; got {type(y).__name__}.") from exc
    if y.ndim != 1:
        raise ValueError(f"y of {func} must be 1-D (one value per point); got shape {y.shape}.")
    if y.shape[0] < 2:
        raise ValueError(f"y of {func} needs at least 2 values; got {y.shape[0]}.")
    if not np.isfinite(y).all():
        raise ValueError(f"y of {func} contains NaN or infinity.")
    return y


def _zscore(v, *, func):
    sd = v.std()
    if sd == 0:
        raise ValueError(f"{func}: the target is constant, so it cannot be z-scored.")
    return (v - v.mean()) / sd


def discretize(y, n_levels, *, zscore=True) -> np.ndarray:
    """The paper's n-th percentile discretisation of a target ``y``.

    The value ``k / n`` is given to the points in the k-th of ``n`` equal-mass bins
    (``k = 1..n``), whose edges are the ``100 k / n``-th percentiles of ``y``; the result
    is then z-scored (zero mean, unit standard deviation). ``n_levels=None`` is the
    continuous target: ``y`` itself, z-scored.

    Parameters
    ----------
    y : array-like of shape (n_points,)
    n_levels : int >= 2 or None
    zscore : bool, default True
        False returns the raw levels ``k / n``.

    Returns
    -------
    ndarray of shape (n_points,)

    Raises
    ------
    ValueError
        If ``y`` is not a finite 1-D array of at least 2 values, ``n_levels`` is not an
        int >= 2 (or None), or the result is constant (cannot be z-scored).

    Notes
    -----
    Bin edges are the empirical percentiles ``q_k = numpy.percentile(y, 100 k / n,
    method="inverted_cdf")`` and bin ``k`` is ``q_{k-1} < y <= q_k``. With distinct values
    of ``y`` exactly ``ceil(N k / n)`` points fall in bins ``1..k``, so every bin holds
    ``floor(N / n)`` or ``ceil(N / n)`` of the ``N`` points; ties in ``y`` can unbalance
    the bins or leave fewer than ``n`` distinct levels. Cost: one sort,
    ``O(N log N)``.

    Examples
    --------
    >>> pr.data.discretize(np.arange(8.0), 4, zscore=False)
    array([0.25, 0.25, 0.5 , 0.5 , 0.75, 0.75, 1.  , 1.  ])
    >>> z = pr.data.discretize(np.arange(8.0), 2)
    >>> z
    array([-1., -1., -1., -1.,  1.,  1.,  1.,  1.])
    """
    y = _check_y(y, func="discretize")
    if n_levels is None:
        return _zscore(y, func="discretize") if zscore else y.copy()
    if isinstance(n_levels, bool) or not isinstance(n_levels, numbers.Integral) or n_levels < 2:
        raise ValueError(f"The 'n_levels' parameter of discretize must be an int >= 2 or None "
                         f"(continuous). Got {n_levels!r} instead.")
    n_levels = int(n_levels)
    edges = np.percentile(y, 100.0 * np.arange(1, n_levels) / n_levels, method="inverted_cdf")
    k = np.searchsorted(edges, y, side="left") + 1
    v = k / n_levels
    return _zscore(v, func="discretize") if zscore else v


def classify_above_mean(y) -> np.ndarray:
    """The appendix's classification target: 1.0 where ``y > mean(y)``, else 0.0.

    Parameters
    ----------
    y : array-like of shape (n_points,)

    Returns
    -------
    ndarray of float64, shape (n_points,), values in {0.0, 1.0}

    Raises
    ------
    ValueError
        If ``y`` is not a finite 1-D array of at least 2 values.

    Examples
    --------
    >>> pr.data.classify_above_mean([1.0, 2.0, 6.0, 3.0])
    array([0., 0., 1., 0.])
    """
    y = _check_y(y, func="classify_above_mean")
    return (y > y.mean()).astype(np.float64)


def sample_task(name, d, n, *, seed=0):
    """``n`` points drawn uniformly from the domain of test function ``name`` in ``d`` dimensions.

    Parameters
    ----------
    name : str
        A key of :data:`TEST_FUNCTIONS`.
    d, n : int
        Input dimension and number of points.
    seed : None, int, SeedSequence or Generator, default 0

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
        ``f(X)``.

    Raises
    ------
    ValueError
        For an unknown name or a bad ``d`` / ``n``.

    Examples
    --------
    >>> X, y = pr.data.sample_task("sphere", 3, 5, seed=0)
    >>> X.shape, y.shape
    ((5, 3), (5,))
    >>> bool(np.allclose(y, (X ** 2).sum(axis=1)))
    True
    """
    if name not in TEST_FUNCTIONS:
        raise ValueError(f"Unknown test function {name!r}; choose one of: {', '.join(TEST_FUNCTIONS)}.")
    fn = TEST_FUNCTIONS[name]
    d = check_positive_int(d, name="d", func="sample_task", minimum=fn.min_dim)
    n = check_positive_int(n, name="n", func="sample_task")
    X = fn.sample(n, d, seed=seed)
    return X, fn._f(X)
