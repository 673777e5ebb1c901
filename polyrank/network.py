"""The one core type: :class:`ReLUNetwork`, a fully connected ReLU network in float64.

Notation (``docs/theory.md``): ``h_0 = x``, ``z_l = W_l h_{l-1} + b_l`` and
``h_l = ReLU(z_l)`` for the hidden layers ``l = 1..L``; an optional read-out
``y = W_out h_L + b_out`` has no ReLU and no activation pattern. Layers are
numbered from 1, as in the paper.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ._validation import (check_finite_preactivations, check_layer, check_matrix, check_points, check_torch_dtype,
                          check_vector)

__all__ = ["ReLUNetwork", "as_network"]


def _frozen(a):
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


def _read_only(a):
    a.setflags(write=False)
    return a


class ReLUNetwork:
    """A fully connected ReLU network with float64 weights; immutable.

    Build one with :meth:`from_weights` or :meth:`from_torch`; the constructor
    takes the same arguments as :meth:`from_weights`.

    Parameters
    ----------
    weights : sequence of array-like, the l-th of shape (n_l, n_{l-1})
        Hidden-layer weight matrices ``W_1, ..., W_L``.
    biases : sequence of array-like, the l-th of shape (n_l,)
        Hidden-layer biases ``b_1, ..., b_L``.
    readout : tuple (W_out, b_out) or None
        Optional final affine layer with no ReLU.

    Attributes
    ----------
    input_dim : int
    widths : tuple of int
        Widths ``(n_1, ..., n_L)`` of the hidden layers.
    n_layers : int
    n_neurons : int
        Total number of hidden units, the length of a flat pattern.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
    >>> net.widths
    (2,)
    >>> net.patterns(np.array([[0.5]]))[0]
    array([[ True, False]])
    """

    __slots__ = ("_weights", "_biases", "_readout", "_offsets")

    def __init__(self, weights, biases, readout=None):
        if isinstance(weights, np.ndarray) and weights.ndim == 2:
            raise TypeError("weights must be a list of 2-D arrays, one per hidden layer; got one 2-D array. "
                            "Wrap it in a list: [W].")
        if not isinstance(weights, (Sequence, np.ndarray)) or not isinstance(biases, (Sequence, np.ndarray)):
            raise TypeError("weights and biases must be sequences (one entry per hidden layer).")
        if len(weights) == 0:
            raise ValueError("A ReLUNetwork needs at least one hidden layer; got an empty list of weights.")
        if len(weights) != len(biases):
            raise ValueError(f"Got {len(weights)} weight matrices but {len(biases)} bias vectors.")
        Ws, bs = [], []
        prev = None
        for l, (W, b) in enumerate(zip(weights, biases), start=1):
            W = check_matrix(W, name=f"weights[{l - 1}] (layer {l})", shape=(None, prev))
            if W.shape[0] == 0 or W.shape[1] == 0:
                raise ValueError(f"Layer {l} has shape {W.shape}; zero-width layers are not allowed.")
            b = check_vector(b, name=f"biases[{l - 1}] (layer {l})", length=W.shape[0])
            Ws.append(_frozen(W))
            bs.append(_frozen(b))
            prev = W.shape[0]
        ro = None
        if readout is not None:
            if not isinstance(readout, (tuple, list)) or len(readout) != 2:
                raise TypeError("readout must be a pair (W_out, b_out) or None.")
            Wo = check_matrix(readout[0], name="readout weight", shape=(None, prev))
            bo = check_vector(readout[1], name="readout bias", length=Wo.shape[0])
            if Wo.shape[0] == 0:
                raise ValueError("The readout layer has zero outputs.")
            ro = (_frozen(Wo), _frozen(bo))
        self._weights = tuple(Ws)
        self._biases = tuple(bs)
        self._readout = ro
        self._offsets = np.array([0, *itertools.accumulate(W.shape[0] for W in Ws)], np.int64)
        self._offsets.setflags(write=False)

    @classmethod
    def _trusted(cls, weights, biases, copy=True):
        """Internal: a network without read-out from float64 arrays that are already valid
        (chained shapes, finite entries), without the checks of the constructor. The
        engines build their local copies of a validated network with it. ``copy=False``:
        the arrays are the caller's own, new float64 arrays (made read-only, not copied)."""
        self = object.__new__(cls)
        freeze = _frozen if copy else _read_only
        self._weights = tuple(freeze(W) for W in weights)
        self._biases = tuple(freeze(b) for b in biases)
        self._readout = None
        self._offsets = np.array([0, *itertools.accumulate(W.shape[0] for W in self._weights)], np.int64)
        self._offsets.setflags(write=False)
        return self

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_weights(cls, weights, biases, readout=None) -> ReLUNetwork:
        """Build a network from weight matrices and bias vectors.

        Parameters
        ----------
        weights : sequence of array-like, the l-th of shape (n_l, n_{l-1})
        biases : sequence of array-like, the l-th of shape (n_l,)
        readout : tuple (W_out, b_out) or None
            Final affine layer without ReLU (it has no activation pattern).

        Raises
        ------
        ValueError
            On shape mismatches, NaN/inf entries, zero-width layers or an empty list.

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([np.eye(2)], [np.zeros(2)], readout=([[1.0, 1.0]], [0.0]))
        >>> net.forward(np.array([[1.0, -2.0]]))
        array([[1.]])
        """
        return cls(weights, biases, readout)

    @classmethod
    def from_torch(cls, module, input_shape=None) -> ReLUNetwork:
        """Build a network from a PyTorch module: affine layers and ReLUs, folded exactly.

        The forward pass is traced (``torch.fx``; forward hooks on a probe input when fx
        cannot trace it), so the layers are taken in the order in which they are *called*,
        reused modules and functional ``F.relu`` / ``torch.flatten`` included. The traced
        graph must be a chain. The affine layers between two ReLUs are folded into one dense
        layer acting on the flattened input (C order, as ``nn.Flatten``): ``nn.Linear``,
        ``nn.Conv1d/2d/3d`` (any stride, padding and padding mode, dilation, groups),
        ``nn.AvgPool*d`` and ``nn.AdaptiveAvgPool*d``, eval-mode ``nn.BatchNorm1d/2d/3d``
        (its running statistics), ``nn.Flatten``, ``nn.Unflatten``; ``nn.Dropout`` variants
        and ``nn.Identity`` are the identity (evaluation mode). Affine layers after the last
        ReLU become the read-out. Finally the folded network is evaluated against the
        module's own forward (in eval mode) on random inputs, and any difference beyond
        rounding raises, so a module that does something the chain does not is refused
        instead of silently misread.

        Parameters
        ----------
        module : torch.nn.Module
        input_shape : tuple of int, optional
            The shape of one input without the batch dimension, e.g. ``(1, 28, 28)``.
            Required when the first layer is a convolution, a pooling or a 2-D batch norm;
            by default ``(in_features,)`` of a leading ``nn.Linear``. The network's input is
            the flattened input: ``net.forward(x.reshape(len(x), -1))``.

        Raises
        ------
        TypeError
            For a layer or call that is not affine or ReLU (``MaxPool2d``, ``Tanh``,
            ``LeakyReLU``, ...); the message lists what is supported.
        ValueError
            For a forward pass that is not a chain, a batch norm in training mode, a missing
            or wrong ``input_shape``, a ReLU without an affine layer before it, a module with
            no hidden layer, or a folded network that differs from the module's forward.

        Notes
        -----
        ``nn.LeakyReLU`` is refused: a ReLUNetwork's units have slope 0 below zero, and with
        a slope ``a > 0`` every local affine map (hence every rank) would change.
        The folded weights of ``Linear`` and ``Conv`` layers are the module's weights copied
        exactly (float64); pooling and batch norm add one rounding per entry. Folding a
        convolution builds its dense matrix: ``(C_out H_out W_out) x (C_in H_in W_in)``
        entries, at most ``polyrank._torch.MAX_FOLDED_ENTRIES``.

        Examples
        --------
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        >>> net = pr.ReLUNetwork.from_torch(m)
        >>> net.input_dim, net.widths, net.output_dim
        (2, (3,), 1)

        A small CNN on 1 x 6 x 6 images: the convolution becomes a dense 2 x 4 x 4 = 32-unit layer.

        >>> _ = torch.manual_seed(0)
        >>> cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
        ...                           torch.nn.Flatten(), torch.nn.Linear(8, 1)).double()
        >>> net = pr.ReLUNetwork.from_torch(cnn, input_shape=(1, 6, 6))
        >>> net.input_dim, net.widths, net.output_dim
        (36, (32,), 1)
        >>> x = torch.randn(5, 1, 6, 6, dtype=torch.float64)
        >>> bool(np.allclose(net.forward(x.reshape(5, -1).numpy()), cnn(x).detach().numpy(), rtol=0, atol=1e-12))
        True
        """
        try:
            import torch.nn as nn
        except ImportError as exc:  # pragma: no cover
            raise ImportError("from_torch needs PyTorch: pip install torch") from exc
        if not isinstance(module, nn.Module):
            raise TypeError(f"from_torch expects a torch.nn.Module; got {type(module).__name__}.")
        from ._torch import fold_module, verify_module

        weights, biases, readout, shape, via = fold_module(module, input_shape)
        net = cls(weights, biases, readout)
        verify_module(module, net, shape, via)
        return net

    def to_torch(self, dtype=None):
        """Return an equivalent ``torch.nn.Sequential`` (float64 unless ``dtype`` is given).

        ``dtype`` is a floating dtype given as :func:`~polyrank.ranks_at` accepts it: a
        torch dtype, a numpy dtype or type, or a string (``"float32"``).

        Examples
        --------
        >>> import torch
        >>> net = pr.ReLUNetwork.from_weights([[[1.0, -1.0]]], [[0.5]])
        >>> net.to_torch()(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
        tensor([[1.5000]], dtype=torch.float64, grad_fn=<ReluBackward0>)
        """
        import torch
        import torch.nn as nn

        dtype = check_torch_dtype(dtype, func="to_torch", any_float=True)
        mods = []
        for W, b in zip(self._weights, self._biases):
            lin = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(np.array(W), dtype=dtype))
                lin.bias.copy_(torch.tensor(np.array(b), dtype=dtype))
            mods += [lin, nn.ReLU()]
        if self._readout is not None:
            Wo, bo = self._readout
            lin = nn.Linear(Wo.shape[1], Wo.shape[0], dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(np.array(Wo), dtype=dtype))
                lin.bias.copy_(torch.tensor(np.array(bo), dtype=dtype))
            mods.append(lin)
        return nn.Sequential(*mods)

    # ------------------------------------------------------------------ shape
    @property
    def weights(self) -> tuple:
        """Hidden-layer weight matrices (read-only arrays)."""
        return self._weights

    @property
    def biases(self) -> tuple:
        """Hidden-layer bias vectors (read-only arrays)."""
        return self._biases

    @property
    def readout(self):
        """The read-out pair ``(W_out, b_out)`` or None."""
        return self._readout

    @property
    def input_dim(self) -> int:
        return self._weights[0].shape[1]

    @property
    def widths(self) -> tuple:
        return tuple(W.shape[0] for W in self._weights)

    @property
    def n_layers(self) -> int:
        return len(self._weights)

    @property
    def n_neurons(self) -> int:
        return int(self._offsets[-1])

    @property
    def offsets(self) -> np.ndarray:
        """Where each layer starts in a flat pattern: layer ``l`` (1-based) holds positions
        ``offsets[l-1]:offsets[l]``; ``offsets[-1] == n_neurons``. A read-only int array
        of length ``n_layers + 1``.

        Examples
        --------
        >>> pr.ReLUNetwork.from_weights([np.ones((3, 2)), np.ones((2, 3))], [np.zeros(3), np.zeros(2)]).offsets
        array([0, 3, 5])
        """
        return self._offsets

    @property
    def output_dim(self) -> int:
        """Width of the read-out if there is one, else of the last hidden layer."""
        return self._readout[0].shape[0] if self._readout is not None else self.widths[-1]

    def neuron_ids(self, layer=None) -> list:
        """``(layer, index)`` of each position of a flat pattern over layers 1..layer."""
        K = check_layer(layer, self.n_layers)
        return [(l + 1, i) for l in range(K) for i in range(self._weights[l].shape[0])]

    def layer_slice(self, layer) -> slice:
        """Slice of a flat pattern that holds the units of hidden layer ``layer`` (1-based)."""
        K = check_layer(layer, self.n_layers, allow_none=False)
        return slice(int(self._offsets[K - 1]), int(self._offsets[K]))

    def __repr__(self):
        ro = f", readout={self._readout[0].shape[0]}" if self._readout is not None else ""
        return f"ReLUNetwork(input_dim={self.input_dim}, widths={self.widths}{ro})"

    # ------------------------------------------------------------------ evaluation
    def preactivations(self, X, *, layer=None) -> list:
        """Pre-activations ``z_l`` of the hidden layers 1..layer at the points ``X``.

        Parameters
        ----------
        X : array-like of shape (n_points, input_dim)
        layer : int, optional
            The last layer computed (1-based); default all hidden layers.

        Returns
        -------
        list of ndarray, the l-th of shape (n_points, n_l)

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
        >>> net.preactivations(np.array([[2.0]]))[0]
        array([[2., 1.]])
        """
        X = check_points(X, self.input_dim)
        return self._preactivations(X, check_layer(layer, self.n_layers))

    def _preactivations(self, X, n_layers=None):
        out = []
        h = X
        for l, (W, b) in enumerate(zip(self._weights[: n_layers or self.n_layers], self._biases), start=1):
            with np.errstate(over="ignore", invalid="ignore"):
                z = h @ W.T + b
            if not np.isfinite(z).all():
                check_finite_preactivations(np.isfinite(z).all(axis=1), l)
            out.append(z)
            h = np.maximum(z, 0.0)
        return out

    def patterns(self, X, *, flat=False, layer=None):
        """Activation patterns ``c_l(x) = [z_l(x) > 0]`` at the points ``X``.

        Parameters
        ----------
        X : array-like of shape (n_points, input_dim)
        flat : bool, default False
            If True, return one bool array of shape (n_points, offsets[layer]) with the
            layers side by side (the encoding of :attr:`Region.pattern`).
        layer : int, optional
            The last layer included (1-based); default all hidden layers.

        Returns
        -------
        list of bool ndarray (the l-th of shape (n_points, n_l)), or one array if ``flat``.

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
        >>> net.patterns(np.array([[0.5], [2.0]]), flat=True)
        array([[ True, False],
               [ True,  True]])
        """
        zs = self.preactivations(X, layer=layer)
        pats = [z > 0 for z in zs]
        return np.concatenate(pats, axis=1) if flat else pats

    def forward(self, X, *, layer=None):
        """Evaluate the network.

        Parameters
        ----------
        X : array-like of shape (n_points, input_dim)
        layer : int, optional
            Return the hidden representation ``h_layer``. By default return the
            read-out's output, or ``h_L`` when there is no read-out.

        Returns
        -------
        ndarray of shape (n_points, n_out)
        """
        X = check_points(X, self.input_dim)
        if layer is not None:
            K = check_layer(layer, self.n_layers)
            return np.maximum(self._preactivations(X, K)[-1], 0.0)
        h = np.maximum(self._preactivations(X)[-1], 0.0)
        if self._readout is not None:
            h = h @ self._readout[0].T + self._readout[1]
        return h

    # ------------------------------------------------------------------ local affine maps
    def _check_pattern(self, pattern, layer):
        """Return a flat bool pattern covering at least layers 1..layer."""
        if isinstance(pattern, (list, tuple)) and pattern and np.ndim(pattern[0]) == 1:
            flat = np.concatenate([np.asarray(p, dtype=bool).ravel() for p in pattern])
        else:
            flat = np.asarray(pattern, dtype=bool).ravel()
        need = int(self._offsets[layer])
        if flat.shape[0] < need:
            raise ValueError(
                f"pattern has {flat.shape[0]} entries but layers 1..{layer} have {need} units."
            )
        if flat.shape[0] not in self._offsets[1:]:
            raise ValueError(
                f"pattern length {flat.shape[0]} does not match a whole number of layers "
                f"(valid lengths: {list(map(int, self._offsets[1:]))})."
            )
        return flat

    def affine_maps(self, pattern, *, layer=None) -> list:
        """Pre-activation maps ``z_l = M_l x + m_l`` (l = 1..layer) on the region of a pattern.

        ``M_1 = W_1`` and ``M_l = W_l D_{l-1} M_{l-1}``: the rows of every unit, active or
        not, which is what the H-representation of the region is made of (the rows of the
        inactive units of layer K are zeroed in :meth:`local_affine`, not here).

        Parameters
        ----------
        pattern : array-like of bool
            A flat pattern (layers side by side) or a list of per-layer patterns; it must
            cover layers 1..layer-1.
        layer : int, optional
            The last layer (1-based); default the last layer the pattern covers.

        Returns
        -------
        list of ``(M_l, m_l)``, ``M_l`` of shape (n_l, input_dim) and ``m_l`` of shape (n_l,)

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([[[1.0], [-1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])
        >>> [(M.tolist(), m.tolist()) for M, m in net.affine_maps([True, False], layer=2)]
        [([[1.0], [-1.0]], [0.0, 0.0]), ([[1.0]], [0.0])]
        """
        flat = self._check_pattern(pattern, 1)
        covered = int(np.searchsorted(self._offsets, flat.shape[0]))
        K = check_layer(layer, self.n_layers) if layer is not None else covered
        if K > covered + 1:
            raise ValueError(f"pattern covers layers 1..{covered}; affine_maps(layer={K}) needs 1..{K - 1}.")
        return self._affine_maps(flat, K)

    def _affine_maps(self, flat, n_layers):
        """:meth:`affine_maps` without checks (trusts its input)."""
        maps = []
        M = self._weights[0]
        m = self._biases[0]
        maps.append((M, m))
        for l in range(1, n_layers):
            d = flat[self._offsets[l - 1]: self._offsets[l]]
            W = self._weights[l][:, d]
            M = W @ M[d]
            m = W @ m[d] + self._biases[l]
            maps.append((M, m))
        return maps

    def local_affine(self, pattern, layer=None):
        """The affine map ``h_K = A_K x + a_K`` on the region of a pattern (eq. 3).

        ``A_K = D_K W_K D_{K-1} ... D_1 W_1`` with ``D_l = diag(c_l)``.

        Parameters
        ----------
        pattern : array-like of bool
            A flat pattern (layers side by side) or a list of per-layer patterns.
        layer : int, optional
            The layer K (1-based); default the last layer the pattern covers.

        Returns
        -------
        A_K : ndarray of shape (n_K, input_dim)
        a_K : ndarray of shape (n_K,)

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
        >>> A, a = net.local_affine([True, False])
        >>> A.tolist(), a.tolist()
        ([[1.0], [0.0]], [0.0, 0.0])
        """
        flat = self._check_pattern(pattern, 1)
        covered = int(np.searchsorted(self._offsets, flat.shape[0]))
        K = check_layer(layer, covered) if layer is not None else covered
        return self._local_affine(flat, K)

    def _local_affine(self, flat, K):
        M, m = self._affine_maps(flat, K)[-1]
        d = flat[self._offsets[K - 1]: self._offsets[K]]
        return M * d[:, None], m * d

    # ------------------------------------------------------------------ derived networks
    def restrict(self, P, p0) -> ReLUNetwork:
        """The network composed with the affine map ``t -> p0 + P t``.

        Used for simplices of a mesh and for 2-D slices of a big network: the
        regions of the result are the slices of this network's regions.

        Parameters
        ----------
        P : array-like of shape (input_dim, k)
        p0 : array-like of shape (input_dim,)

        Returns
        -------
        ReLUNetwork with input dimension ``k`` and the same hidden widths and read-out.

        Examples
        --------
        >>> net = pr.ReLUNetwork.from_weights([[[1.0, 1.0]]], [[0.0]])
        >>> line = net.restrict([[1.0], [0.0]], [0.0, 2.0])   # the line y = 2
        >>> line.forward(np.array([[-3.0]]))
        array([[0.]])
        """
        P = check_matrix(P, name="P", shape=(self.input_dim, None))
        if P.shape[1] == 0:
            raise ValueError("P must have at least one column.")
        p0 = check_vector(p0, name="p0", length=self.input_dim)
        W1 = self._weights[0]
        weights = [W1 @ P] + list(self._weights[1:])
        biases = [self._biases[0] + W1 @ p0] + list(self._biases[1:])
        return ReLUNetwork(weights, biases, self._readout)

    def truncate(self, layer) -> ReLUNetwork:
        """The network made of hidden layers 1..layer, without read-out."""
        K = check_layer(layer, self.n_layers, allow_none=False)
        return ReLUNetwork(self._weights[:K], self._biases[:K])


def as_network(obj) -> ReLUNetwork:
    """Return ``obj`` as a :class:`ReLUNetwork` (it may already be one, or a torch module)."""
    if isinstance(obj, ReLUNetwork):
        return obj
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover
        nn = None
    if nn is not None and isinstance(obj, nn.Module):
        return ReLUNetwork.from_torch(obj)
    raise TypeError(f"Expected a ReLUNetwork or a torch.nn.Module; got {type(obj).__name__}.")
