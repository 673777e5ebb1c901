"""Weight schemes of the paper's random-network experiments (``docs/paper/fig2.md``).

Every function returns a :class:`~polyrank.network.ReLUNetwork` drawn from a
``seed`` (``None``, an int, a :class:`numpy.random.SeedSequence` or a
:class:`numpy.random.Generator`, turned into a Generator once). Draws use numpy,
not torch's global RNG, so a seed gives the same network on every machine and in
every worker of a sweep. The *distributions* match the paper's; the random
streams do not match ``torch.manual_seed`` (use :func:`polyrank.train.mlp`
for torch-identical networks).

Biases. The paper (section 3) sets the bias to 0 for its constructed networks
(strictly positive weights, rank selection, Dale's principle); these schemes use
zero biases by default. The PyTorch-default scheme draws biases like
``nn.Linear`` does (the authors' code: weights *and* biases
``U(+-1/sqrt(fan_in))``), and :func:`normal` changes the weights only and keeps
PyTorch-default biases, which is what re-initialising ``layer.weight`` with
``nn.init.normal_`` does. Every function takes ``bias="default"`` or
``bias="zero"`` to override this.
"""

from __future__ import annotations


import numpy as np

from ._validation import check_int_range, check_positive_float, check_positive_int, check_real, check_widths, make_rng
from .network import ReLUNetwork

__all__ = ["default", "normal", "positive_uniform", "rank_selection", "dale", "DALE_INHIBITION"]

#: Dale's-principle networks: an inhibitory input's weights are this many times
#: stronger than an excitatory one's (the paper's "balanced" network, Fig. 2D).
DALE_INHIBITION = 4.0

_BIASES = ("default", "zero")


def _check_widths(input_dim, widths, func):
    return (check_positive_int(input_dim, name="input_dim", func=func),
            check_widths(widths, func=func, allow_int=True))


def _check_bias(bias, func):
    if bias not in _BIASES:
        raise ValueError(f"The 'bias' parameter of {func} must be one of {_BIASES}. Got {bias!r} instead.")
    return bias


def _bias(rng, fan_in, n, bias):
    if bias == "zero":
        return np.zeros(n)
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=n)


def _build(input_dim, widths, rng, draw, bias):
    Ws, bs = [], []
    prev = input_dim
    for n in widths:
        Ws.append(draw(rng, n, prev))
        bs.append(_bias(rng, prev, n, bias))
        prev = n
    return ReLUNetwork(Ws, bs)


def default(input_dim, widths, *, seed=0, bias="default") -> ReLUNetwork:
    """PyTorch's default ``nn.Linear`` initialisation ("Kaiming" in the paper, Fig. 2A).

    Every weight and bias of a layer with ``fan_in`` inputs is drawn from
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; this is what ``kaiming_uniform_`` with
    ``a = sqrt(5)`` gives, PyTorch's default.

    Parameters
    ----------
    input_dim : int
    widths : int or list of int
        Hidden widths ``n_1, ..., n_L``.
    seed : None, int, SeedSequence or Generator, default 0
    bias : {"default", "zero"}
        ``"default"``: biases ``U(+-1/sqrt(fan_in))``; ``"zero"``: biases 0.

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    ValueError
        For a non-positive ``input_dim`` or width, or an unknown ``bias``.

    Examples
    --------
    >>> net = pr.init.default(4, [3, 2], seed=0)
    >>> net.widths, bool(np.all(np.abs(net.weights[0]) <= 0.5))
    ((3, 2), True)
    """
    input_dim, widths = _check_widths(input_dim, widths, "default")
    bias = _check_bias(bias, "default")
    rng = make_rng(seed)

    def draw(rng, n, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=(n, fan_in))

    return _build(input_dim, widths, rng, draw, bias)


def normal(input_dim, widths, *, mean, std=0.1, seed=0, bias="default") -> ReLUNetwork:
    """Weights ``N(mean, std^2)``: the paper's biased-mean networks (Fig. 2B).

    The paper shows that moving the mean of the weight distribution away from 0
    lowers the minimum rank (makes the network more topologically destructive).
    Fig. 2B uses ``std = 0.1`` and ``mean`` in ``linspace(0, 0.2, 20)``.

    Parameters
    ----------
    input_dim : int
    widths : int or list of int
    mean : float
    std : float, default 0.1
        Must be positive.
    seed : None, int, SeedSequence or Generator, default 0
    bias : {"default", "zero"}
        ``"default"`` (PyTorch-default biases, the weights alone are re-drawn) or ``"zero"``.

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    ValueError
        For a non-finite ``mean``, a non-positive ``std``, or bad sizes.

    Examples
    --------
    >>> net = pr.init.normal(3, 1000, mean=0.2, std=0.1, seed=1)
    >>> round(float(net.weights[0].mean()), 1)
    0.2
    """
    input_dim, widths = _check_widths(input_dim, widths, "normal")
    bias = _check_bias(bias, "normal")
    mean = check_real(mean, name="mean", func="normal")
    std = check_positive_float(std, name="std", func="normal")
    rng = make_rng(seed)
    return _build(input_dim, widths, rng,
                  lambda rng, n, fan_in: rng.normal(float(mean), float(std), size=(n, fan_in)), bias)


def positive_uniform(input_dim, widths, *, seed=0, bias="zero") -> ReLUNetwork:
    """Weights ``U(0, 1)`` and zero biases: a wide network with a rank-0 region.

    The paper's first constructed network (section 3): every strictly positive
    input activates every unit of the first layer and every strictly negative
    input none of them, so the region ``{x < 0}`` has rank 0 however wide the
    layer is.

    Parameters
    ----------
    input_dim : int
    widths : int or list of int
    seed : None, int, SeedSequence or Generator, default 0
    bias : {"zero", "default"}
        ``"zero"`` (the paper's choice) or PyTorch-default biases.

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    ValueError
        For bad sizes or an unknown ``bias``.

    Examples
    --------
    >>> net = pr.init.positive_uniform(3, 50, seed=0)
    >>> int(net.patterns(-np.ones((1, 3)))[0].sum()), int(net.patterns(np.ones((1, 3)))[0].sum())
    (0, 50)
    """
    input_dim, widths = _check_widths(input_dim, widths, "positive_uniform")
    bias = _check_bias(bias, "positive_uniform")
    rng = make_rng(seed)
    return _build(input_dim, widths, rng, lambda rng, n, fan_in: rng.uniform(0.0, 1.0, size=(n, fan_in)),
                  bias)


def rank_selection(input_dim, width, k, *, seed=0, bias="zero") -> ReLUNetwork:
    """One layer ``R W`` with ``W ~ U(0, 1)`` and ``R`` diagonal ``+-1`` with ``k`` entries -1 (Fig. 2C).

    The rank-selection matrix ``R`` negates ``k`` rows (output units) of a
    strictly positive ``W``; here the first ``k``. With zero biases a strictly
    positive input activates the ``width - k`` unflipped units and a strictly
    negative input the ``k`` flipped ones, so the minimum rank is at most
    ``min(k, width - k, input_dim)`` (the paper's bound, over a domain that
    contains both kinds of points, such as ``[-5, 5]^d``). In neuroscience terms
    every unit's *incoming* connections share one sign.

    Parameters
    ----------
    input_dim : int
    width : int
    k : int
        Number of negated rows, ``0 <= k <= width``.
    seed : None, int, SeedSequence or Generator, default 0
    bias : {"zero", "default"}
        ``"zero"`` (the paper's choice) or PyTorch-default biases.

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    ValueError
        For ``k`` outside ``0..width`` or bad sizes.

    Examples
    --------
    >>> net = pr.init.rank_selection(2, 5, 2, seed=0)
    >>> (net.weights[0] < 0).all(axis=1).tolist()
    [True, True, False, False, False]
    """
    input_dim, (width,) = _check_widths(input_dim, [width], "rank_selection")
    k = check_int_range(k, 0, width, name="k", func="rank_selection", what="the number of negated rows")
    bias = _check_bias(bias, "rank_selection")
    rng = make_rng(seed)
    W = rng.uniform(0.0, 1.0, size=(width, input_dim))
    W[:k] *= -1.0
    return ReLUNetwork([W], [_bias(rng, input_dim, width, bias)])


def dale(input_dim, width, k, *, seed=0, bias="zero", inhibition=DALE_INHIBITION) -> ReLUNetwork:
    """One layer ``W R`` following Dale's principle, ``W ~ U(0, 1)`` (Fig. 2D).

    ``R`` is diagonal with ``k`` entries equal to ``-inhibition`` (the first
    ``k`` inputs; default 4, inhibitory connections four times as strong as
    excitatory ones) and the others 1: each *input* neuron is either excitatory
    or inhibitory for all its outgoing connections. The paper evaluates these
    networks on non-negative inputs (``[0, 10]^d``) and finds three regimes as
    ``k`` grows: only high-rank regions (excitation dominates), both high- and
    low-rank regions (balanced), only low-rank regions (inhibition dominates).

    Parameters
    ----------
    input_dim : int
    width : int
    k : int
        Number of inhibitory inputs, ``0 <= k <= input_dim``.
    seed : None, int, SeedSequence or Generator, default 0
    bias : {"zero", "default"}
        ``"zero"`` (the paper's choice) or PyTorch-default biases.
    inhibition : float, default 4.0
        Strength of inhibitory weights relative to excitatory ones (> 0).

    Returns
    -------
    ReLUNetwork

    Raises
    ------
    ValueError
        For ``k`` outside ``0..input_dim``, a non-positive ``inhibition`` or bad sizes.

    Examples
    --------
    >>> net = pr.init.dale(3, 4, 1, seed=0)
    >>> (net.weights[0] < 0).all(axis=0).tolist()
    [True, False, False]
    """
    input_dim, (width,) = _check_widths(input_dim, [width], "dale")
    k = check_int_range(k, 0, input_dim, name="k", func="dale", what="the number of inhibitory inputs")
    bias = _check_bias(bias, "dale")
    inhibition = check_positive_float(inhibition, name="inhibition", func="dale")
    rng = make_rng(seed)
    W = rng.uniform(0.0, 1.0, size=(width, input_dim))
    W[:, :k] *= -float(inhibition)
    return ReLUNetwork([W], [_bias(rng, input_dim, width, bias)])
