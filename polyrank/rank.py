"""Ranks of linear maps: the one rank rule of polyrank, and the sampling path.

**The rank rule.** The rank of the local map ``A_K`` of a region (or a point) is the
rank of the ``c_K x d`` matrix of the active rows of ``M_K`` (``c_K`` = codeword size):

1. a row whose norm is at most the layer's constant-unit threshold (``ZERO_ROW_RTOL``
   times the product of the layers' largest absolute row sums,
   :func:`polyrank._numerics.zero_thresholds`) is a constant unit and counts as zero
   (an exact cancellation such as ``relu(x) - relu(x)`` rounds to ~1e-18);
2. the rank is the number of singular values above
   ``S_max * max(c_K, d) * eps(float64)`` (:func:`rank_tolerance`, the convention of
   numpy and MATLAB for a ``c_K x d`` matrix);
3. it is capped by ``min(d, c_1, ..., c_K)`` and by the rank of every earlier layer
   (``A_K = W_K D_{K-1} A_{K-1}``), which only removes rounding artefacts.

:func:`batched_ranks` applies rules 1-2 to a stack of matrices with one batched SVD;
every exact path calls it (both enumeration engines, :func:`polyrank.refine`, the MILP
rank functions, the Fig. 2 sampler) or, where most maps have full rank, first tries
:func:`full_rank_certified` / :func:`cholesky_full_rank`: a Cholesky factorisation of the
Gram matrix shifted by :func:`certificate_shift` that *proves* the rank is
``min(c_K, d)`` under rule 2 (the subdivision engine compiles the same function with
numba). :func:`ranks_at` is the same rule on torch tensors (CPU or CUDA).
:func:`matrix_rank` is rule 2 for one matrix; :func:`exact_rank` is an exact rational
rank (every float64 is a binary fraction) used to cross-check it.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from ._numerics import scaled_units, zero_thresholds

__all__ = ["matrix_rank", "exact_rank", "ranks_at", "codeword_sizes_at"]

#: Machine epsilon of float64, the unit of the rank threshold.
EPS = float(np.finfo(np.float64).eps)

#: Safety factor of the Cholesky certificate over its worst-case rounding-error bound.
CERT_SAFETY = 4.0

#: Matrices per batched SVD in :func:`batched_ranks` (bounds the work arrays' memory).
RANK_CHUNK = 65536


# ====================================================================== the rank rule
def rank_tolerance(s_max, sizes, d, eps=EPS):
    """The threshold of the rank rule: ``s_max * max(size, d) * eps``.

    ``s_max`` and ``sizes`` may be numbers, numpy arrays or torch tensors (same shape);
    ``size`` is the number of active rows (the codeword size), ``d`` the number of columns.

    Examples
    --------
    >>> bool(pr.rank.rank_tolerance(1.0, 5, 3) == 5 * np.finfo(np.float64).eps)
    True
    """
    if isinstance(sizes, np.ndarray):
        return s_max * np.maximum(sizes, d) * eps
    if hasattr(sizes, "clip"):  # a torch tensor
        return s_max * sizes.clip(min=d) * eps
    return s_max * max(sizes, d) * eps


def drop_constant_rows(M, zero_tol):
    """``M`` (..., rows, d) with the rows of norm at most ``zero_tol`` set to zero (rule 1).

    ``zero_tol`` is a number or one value per matrix of the stack (shape ``M.shape[:-2]``).

    Examples
    --------
    >>> pr.rank.drop_constant_rows(np.array([[1.0, 0.0], [1e-18, 0.0]]), 1e-12)
    array([[1., 0.],
           [0., 0.]])
    """
    zt = np.asarray(zero_tol, dtype=np.float64)
    if zt.ndim:
        zt = zt[..., None]
    return M * (np.linalg.norm(M, axis=-1) > zt)[..., None]


def batched_ranks(M, *, sizes=None, zero_tol=None, cap=None, tol=None) -> np.ndarray:
    """Rank of each matrix of a stack under the rank rule: one batched SVD.

    Parameters
    ----------
    M : array-like of shape (n, m, d)
        The active rows of each map (inactive rows may be present as zero rows).
    sizes : array-like of int, shape (n,), optional
        The number of active rows of each matrix (the codeword size in the threshold);
        default ``m``.
    zero_tol : float or array-like of shape (n,), optional
        Rows of norm at most this are constant units and count as zero; default none.
    cap : array-like of int, shape (n,), optional
        Upper bounds (e.g. the earlier layer's rank).
    tol : float, optional
        An absolute singular-value threshold instead of :func:`rank_tolerance`.

    Returns
    -------
    ndarray of int64, shape (n,)

    Examples
    --------
    >>> M = np.array([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1e-20]]])
    >>> pr.rank.batched_ranks(M), pr.rank.batched_ranks(M, zero_tol=1e-12), pr.rank.batched_ranks(M, cap=[0, 5])
    (array([1, 1]), array([1, 1]), array([0, 1]))
    """
    M = np.asarray(M, dtype=np.float64)
    n, m, d = M.shape
    if not (n and m and d):
        out = np.zeros(n, dtype=np.int64)
    else:
        sz = np.full(n, m, dtype=np.int64) if sizes is None else np.asarray(sizes, dtype=np.int64)
        zt = None if zero_tol is None else np.asarray(zero_tol, dtype=np.float64)
        if zt is not None and zt.ndim == 0:
            zt = np.full(n, zt)
        if n <= RANK_CHUNK:
            out = _count_ranks(M, sz, zt, tol, d)
        else:
            out = np.concatenate([_count_ranks(M[s: s + RANK_CHUNK], sz[s: s + RANK_CHUNK],
                                               None if zt is None else zt[s: s + RANK_CHUNK], tol, d)
                                  for s in range(0, n, RANK_CHUNK)])
    if cap is not None:
        out = np.minimum(out, np.asarray(cap, dtype=np.int64))
    return out


def _count_ranks(M, sizes, zero_tol, tol, d):
    """Rules 1-2 on one chunk of :func:`batched_ranks` (trusted, non-empty input)."""
    if zero_tol is not None:
        M = drop_constant_rows(M, zero_tol)
    S = np.linalg.svd(M, compute_uv=False)
    thr = rank_tolerance(S[:, 0], sizes, d) if tol is None else tol
    return np.count_nonzero(S > np.reshape(thr, (-1, 1)), axis=1).astype(np.int64)


def certificate_shift(trace, n_rows, size, d):
    """The shift ``delta`` of the Cholesky certificate of a ``min(n_rows, d)``-square Gram
    matrix with trace ``trace`` (``n_rows`` nonzero active rows out of ``size``, ``d`` columns).

    It is CERT_SAFETY times the worst-case rounding error of forming and factorising the
    Gram matrix (``(n_rows + 2 d + 2) eps trace``) plus the square of the rank threshold
    at ``S_max <= sqrt(trace)``; a factorisation of ``G - delta I`` that succeeds proves
    ``sigma_min > rank_tolerance(S_max, size, d)``, i.e. full rank under the rank rule.
    Scalars or numpy arrays; plain arithmetic, so numba compiles it too."""
    larger = (size + d + abs(size - d)) * 0.5  # max(size, d), elementwise
    tol = np.sqrt(trace) * larger * EPS
    return CERT_SAFETY * ((n_rows + 2 * d + 2) * EPS * trace + tol * tol)


def cholesky_full_rank(G, m, delta):
    """In-place Cholesky of the leading ``m x m`` block of ``G - delta I`` (lower triangle
    of ``G`` is read and overwritten). True when it succeeds: the certificate of
    :func:`certificate_shift`. Plain loops, so that the engines compile it with numba
    (the subdivision kernels call it once per cell).

    Examples
    --------
    >>> G = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> pr.rank.cholesky_full_rank(G.copy(), 2, pr.rank.certificate_shift(4.0, 2, 2, 2))
    True
    >>> pr.rank.cholesky_full_rank(np.ones((2, 2)), 2, pr.rank.certificate_shift(2.0, 2, 2, 2))
    False
    """
    for a in range(m):
        for q in range(a + 1):
            acc = G[a, q] - (delta if a == q else 0.0)
            for k in range(q):
                acc -= G[a, k] * G[q, k]
            if a == q:
                if acc <= 0.0:
                    return False
                G[a, a] = math.sqrt(acc)
            else:
                G[a, q] = acc / G[q, q]
    return True


def full_rank_certified(G, *, n_rows, sizes, d) -> np.ndarray:
    """The Cholesky certificate on a stack of Gram matrices with numpy: True where
    ``G - certificate_shift(trace, n_rows, size, d) I`` has a Cholesky factorisation,
    which proves rank ``min(n_rows, d)`` under the rank rule.

    Parameters
    ----------
    G : ndarray of shape (n, k, k)
        ``M M^T`` (``n_rows <= d``) or ``M^T M`` of each matrix ``M`` (``n_rows x d``).
    n_rows, sizes : int or array-like of int, shape (n,)
    d : int

    Returns
    -------
    bool ndarray of shape (n,)

    Examples
    --------
    >>> M = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]])
    >>> pr.rank.full_rank_certified(M @ M.transpose(0, 2, 1), n_rows=2, sizes=2, d=2)
    array([ True, False])
    """
    G = np.asarray(G, dtype=np.float64)
    k = G.shape[-1]
    delta = certificate_shift(np.trace(G, axis1=-2, axis2=-1), n_rows, sizes, d)
    A = G - np.asarray(delta)[..., None, None] * np.eye(k)
    ok = np.trace(G, axis1=-2, axis2=-1) > 0
    try:
        np.linalg.cholesky(A)  # the common case: every matrix passes
        return ok
    except np.linalg.LinAlgError:
        pass
    for i in range(A.shape[0]):  # find the failures one by one
        try:
            np.linalg.cholesky(A[i])
        except np.linalg.LinAlgError:
            ok[i] = False
    return ok


def matrix_rank(M, *, tol=None) -> int:
    """Numerical rank of ``M``: the number of singular values above ``tol``.

    Parameters
    ----------
    M : array-like of shape (m, n)
    tol : float, optional
        Absolute threshold on singular values. Default
        ``S.max() * max(m, n) * eps(float64)``, the convention of numpy and MATLAB.

    Returns
    -------
    int

    Notes
    -----
    Cost: one SVD, ``O(m n min(m, n))``. A matrix with no rows or no columns has rank 0.

    Examples
    --------
    >>> pr.rank.matrix_rank([[1.0, 2.0], [2.0, 4.0]])
    1
    """
    from ._validation import as_real_array, check_tol

    M = as_real_array(M, name="M")
    if M.ndim != 2:
        raise ValueError(f"M must be 2-D; got shape {M.shape}.")
    if not np.isfinite(M).all():
        raise ValueError("M contains NaN or infinity: its singular values are undefined.")
    if tol is not None:
        tol = check_tol(tol, func="matrix_rank")
    return int(batched_ranks(M[None], tol=tol)[0])


def exact_rank(M) -> int:
    """Exact rank of a float64 matrix by fraction-free elimination over the rationals.

    Each float64 entry is converted exactly to a :class:`fractions.Fraction`, so the
    answer is the rank of the matrix as stored, with no tolerance. Cost grows
    quickly with size; meant for matrices up to a few dozen rows and columns.

    Examples
    --------
    >>> pr.rank.exact_rank([[1.0, 2.0], [2.0, 4.0 + 2**-40]])
    2
    """
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2:
        raise ValueError(f"M must be 2-D; got shape {M.shape}.")
    if not np.isfinite(M).all():
        raise ValueError("M contains NaN or infinity.")
    # scale every entry to an integer: float64 = mantissa * 2^exp, so a common power of two works
    rows = [[Fraction(float(v)) for v in row] for row in M]
    m = len(rows)
    n = M.shape[1] if m else 0
    denom = 1
    for row in rows:
        for v in row:
            denom = max(denom, v.denominator)
    A = [[int(v * denom) for v in row] for row in rows]
    rank = 0
    col = 0
    r = 0
    while r < m and col < n:
        piv = next((i for i in range(r, m) if A[i][col] != 0), None)
        if piv is None:
            col += 1
            continue
        A[r], A[piv] = A[piv], A[r]
        p = A[r][col]
        for i in range(r + 1, m):
            f = A[i][col]
            if f:
                A[i] = [p * a - f * c for a, c in zip(A[i], A[r])]
                # keep numbers small: divide the row by its gcd
                from math import gcd
                g = 0
                for a in A[i]:
                    g = gcd(g, a)
                if g > 1:
                    A[i] = [a // g for a in A[i]]
        r += 1
        rank += 1
        col += 1
    return rank


# ====================================================================== the sampling path
#: Input dimensions up to this use the "direct" method by default: form every
#: ``A_K`` (n_K x d) from the input end, exactly as the enumerator does, and take
#: its singular values. Above it, the "certify" method is the default.
DIRECT_MAX_DIM = 32

#: Extra sketch columns used by the "certify" method (a random sketch with this
#: much oversampling is well conditioned with overwhelming probability).
SKETCH_OVERSAMPLE = 16

#: Seed of the fixed random orthogonal sketch of the "certify" method. The sketch
#: only decides which points are certified cheaply; the ranks never depend on it.
SKETCH_SEED = 20_230_501

#: Default memory budget (bytes) for the intermediate tensors of one chunk of points on the CPU.
DEFAULT_MAX_MEMORY = 512 * 2**20

#: On a GPU the default budget is this fraction of its free memory, capped at CUDA_MAX_MEMORY
#: (larger chunks: fewer kernel launches per point).
CUDA_MEMORY_FRACTION = 0.25
CUDA_MAX_MEMORY = 16 * 2**30


def _default_memory(device):
    """The default ``max_memory`` for ``device``."""
    import torch

    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
        return int(max(DEFAULT_MAX_MEMORY, min(CUDA_MAX_MEMORY, CUDA_MEMORY_FRACTION * free)))
    return DEFAULT_MAX_MEMORY


def _prepare(net, X, layers, *, func, device, dtype, batch_size, tol, max_memory):
    from ._validation import (check_device, check_layers, check_points, check_positive_int, check_tol,
                              check_torch_dtype)
    from .network import as_network

    net = as_network(net)
    X = check_points(X, net.input_dim)
    layers = check_layers(layers, net.n_layers, func=func)
    if tol is None:  # the same patterns and relative ranks; no overflow or underflow in the weights
        net = scaled_units(net)  # (an absolute tol refers to the caller's units)
    batch_size = check_positive_int(batch_size, name="batch_size", func=func, allow_none=True)
    if tol is not None:
        tol = check_tol(tol, func=func)
    device = check_device(device)
    if max_memory is None:
        max_memory = _default_memory(device)
    else:
        max_memory = check_positive_int(max_memory, name="max_memory", func=func)
    return net, X, layers, device, check_torch_dtype(dtype, func=func), batch_size, tol, max_memory


class _TorchNet:
    """The network's weights on one device and dtype, plus padded copies for gathers."""

    def __init__(self, net, device, dtype):
        import torch

        self.d = net.input_dim
        self.widths = net.widths
        self.W = [torch.tensor(np.array(W), dtype=dtype, device=device) for W in net.weights]
        self.b = [torch.tensor(np.array(b), dtype=dtype, device=device) for b in net.biases]
        self.device, self.dtype = device, dtype
        self._padded = None

    def masks(self, X, n_layers, offset=0):
        """Activation masks ``z_l > 0`` of layers 1..n_layers (bool tensors); ``X`` starts at
        row ``offset`` of the caller's points (for the overflow message)."""
        import torch

        from ._validation import check_finite_preactivations

        h = torch.as_tensor(X, dtype=self.dtype, device=self.device)
        if not bool(torch.isfinite(h).all()):  # finite float64 inputs can overflow float32
            check_finite_preactivations(torch.isfinite(h).all(1).cpu().numpy(), 0, offset=offset,
                                        dtype=str(self.dtype).replace("torch.", ""))
        out = []
        for l, (W, b) in enumerate(zip(self.W[:n_layers], self.b), start=1):
            z = torch.addmm(b, h, W.T)
            if not bool(torch.isfinite(z).all()):
                check_finite_preactivations(torch.isfinite(z).all(1).cpu().numpy(), l, offset=offset,
                                            dtype=str(self.dtype).replace("torch.", ""))
            out.append(z > 0)
            h = torch.relu(z)
        return out

    def padded(self):
        """``W_l`` with one extra zero row and column, so that index ``n`` gathers zeros."""
        import torch

        if self._padded is None:
            self._padded = [torch.nn.functional.pad(W, (0, 1, 0, 1)) for W in self.W]
        return self._padded


@functools.lru_cache(maxsize=1)
def _gather_kernel():
    """The numba kernel of :func:`_gather_blocks` (compiled on first use, cached on disk), or
    None without numba (numba is optional: polyrank must import without it)."""
    try:
        import numba
    except ImportError:  # pragma: no cover - exercised only without numba
        return None

    @numba.njit(cache=True, nogil=True)
    def gather(W, rows, cols, out):  # out[p, i, j] = W[rows[p, i], cols[p, j]]
        for p in range(rows.shape[0]):
            for i in range(rows.shape[1]):
                src = W[rows[p, i]]
                dst = out[p, i]
                for j in range(cols.shape[1]):
                    dst[j] = src[cols[p, j]]

    return gather


def _gather_blocks(W, rows, cols, out=None):
    """The blocks ``W[rows[p]][:, cols[p]]`` of every point ``p``: (P, r, c) from ``rows`` (P, r)
    and ``cols`` (P, c) index tensors (padding indices point at a zero row or column of ``W``).

    On the CPU a compiled loop (numba) reads each row of ``W`` once per point and its columns in
    order: 3.5x less CPU time than torch's two-index gather (``W[rows[:, :, None], cols[:, None, :]]``,
    which computes and checks an offset per element), used on other devices and without numba."""
    import torch

    kernel = _gather_kernel() if W.device.type == "cpu" else None
    if (kernel is None or W.dtype not in (torch.float32, torch.float64) or not W.is_contiguous()
            or rows.dtype != torch.int64 or cols.dtype != torch.int64):
        return W[rows[:, :, None], cols[:, None, :]]
    if out is None:
        out = torch.empty((rows.shape[0], rows.shape[1], cols.shape[1]), dtype=W.dtype)
    kernel(W.numpy(), rows.contiguous().numpy(), cols.contiguous().numpy(), out.numpy())
    return out


def _active_index(mask, cmax):
    """Indices of the active units of each row of ``mask``, padded with ``n`` (a zero row)."""
    import torch

    P, n = mask.shape
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :cmax]
    pos = torch.arange(cmax, device=mask.device).expand(P, cmax)
    return torch.where(pos < mask.sum(1, keepdim=True), order, torch.full_like(order, n))


def _count_rank(S, c, d, tol, eps):
    """Rule 2 on torch tensors: singular values above :func:`rank_tolerance`."""
    import torch

    if S.shape[-1] == 0:
        return torch.zeros(S.shape[0], dtype=torch.long, device=S.device)
    if tol is None:
        thr = rank_tolerance(S[:, 0], c.to(S.dtype), d, eps)
    else:
        thr = torch.full_like(S[:, 0], tol)
    return (S > thr[:, None]).sum(1)


def _drop_constant_rows(tn, A, K):
    """:func:`drop_constant_rows` on torch tensors: zero the rows of ``A_K`` whose norm is below the enumeration engines' constant-unit
    threshold (``_numerics.zero_thresholds``, the same in every dtype): an exact
    cancellation such as ``relu(x) - relu(x)`` rounds to ~1e-18 in float64, which a
    relative rank threshold would count."""
    import torch

    thr = tn.zero_thr[K - 1]
    return A * (torch.linalg.vector_norm(A, dim=-1, keepdim=True) > thr).to(A.dtype)


def _ranks_direct(tn, masks, counts, bounds, layers, tol, eps):
    """Form ``A_K`` (masked, n_K x d) from the input end and count its singular values."""
    import torch

    out = {}
    P = masks[0].shape[0]
    M = tn.W[0].expand(P, *tn.W[0].shape)
    for K in range(1, max(layers) + 1):
        if K > 1:
            M = torch.matmul(tn.W[K - 1], masks[K - 2][:, :, None].to(M.dtype) * M)
        if K in layers:
            A = _drop_constant_rows(tn, masks[K - 1][:, :, None].to(M.dtype) * M, K)
            S = torch.linalg.svdvals(A)
            r = _count_rank(S, counts[:, K - 1], tn.d, tol, eps)
            out[K] = torch.minimum(r, bounds[:, K - 1])
    return out


def _ranks_exact_chain(tn, idx, counts, bounds, K, sel, tol, eps):
    """Fallback for the points ``sel``: ``A_K`` restricted to active rows, formed from the
    narrow (output) end ``J = W_K[a_K, a_{K-1}] ... W_2[a_2, a_1]``, then ``J W_1[a_1]``."""
    import torch

    Wp = tn.padded()
    J = None
    for l in range(K, 1, -1):
        G = _gather_blocks(Wp[l - 1], idx[l - 1][sel], idx[l - 2][sel])
        J = G if J is None else torch.bmm(J, G)
    W1a = Wp[0][idx[0][sel], : tn.d]
    A = _drop_constant_rows(tn, W1a if J is None else torch.bmm(J, W1a), K)
    c = counts[sel, K - 1]
    r = torch.zeros_like(c)
    todo = torch.arange(A.shape[0], device=A.device)
    if tol is None and A.dtype == torch.float64:  # the certificate of the exact engines (float64 rule)
        ok, full = _exact_certificate(A, c)
        r[ok] = full[ok]
        todo = torch.nonzero(~ok).squeeze(1)
    if todo.numel():
        S = torch.linalg.svdvals(A[todo])
        r[todo] = _count_rank(S, c[todo], tn.d, tol, eps)
    return torch.minimum(r, bounds[sel, K - 1])


def _exact_per_point(tn):
    """Whether the exact path runs point by point (:func:`_ranks_exact_points`): on the CPU with
    the compiled gather."""
    import torch

    return tn.device.type == "cpu" and tn.dtype in (torch.float32, torch.float64) and _gather_kernel() is not None


#: A workspace buffer (:func:`_workspace`) that must grow is allocated this many times the size
#: asked for (the chunks of a call are sorted by codeword sizes, so later ones are slightly larger).
WORKSPACE_GROWTH = 1.25


def _workspace(tn, name, numel):
    """A flat buffer of at least ``numel`` elements kept on ``tn`` for the rest of the call (the
    per-point exact path writes its products into views of it, so that no large temporary is
    allocated, page-faulted in and freed per point)."""
    import torch

    ws = tn.__dict__.setdefault("_workspaces", {})
    buf = ws.get(name)
    if buf is None or buf.numel() < numel:  # grown with a margin: later chunks are a little larger
        buf = ws[name] = torch.empty(max(int(numel * WORKSPACE_GROWTH), 1), dtype=tn.dtype, device=tn.device)
    return buf


def _buffer(tn, name, shape):
    """An uninitialised tensor of ``shape`` for a product's output: on the CPU a view of the reused
    workspace ``name`` (:func:`_workspace`), on other devices a new tensor (their allocators cache)."""
    import torch

    if tn.device.type != "cpu":
        return torch.empty(shape, dtype=tn.dtype, device=tn.device)
    return _workspace(tn, name, math.prod(shape))[: math.prod(shape)].view(shape)


def _ranks_exact_points(tn, idx, counts, bounds, K, sel, tol, eps, sketch=None, k=None, stats=None):
    """The exact path of :func:`_ranks_exact_chain` point by point on the CPU, at each point's own
    codeword sizes (no padding): ``A_K`` formed from the narrow end into reused buffers, the
    engines' Cholesky certificate (:func:`_exact_certificate`, float64 rule only), the SVD where it
    fails. The same products and rule as the batched path; no temporary larger than one point's
    blocks, so nothing is page-faulted in per chunk (the batched path allocated and freed several
    hundred MB per chunk: a third of the CPU time went to the kernel's page faults).

    With ``sketch`` (a :class:`_Sketch`; ``k`` its columns) each point where ``b = c_K`` first tries
    :func:`_certify`'s sketched certificate on ``U = J (W_1 T)[a_1]``, from the same narrow-end
    product ``J = W_K[a_K, a_{K-1}] ... W_2[a_2, a_1]`` that the exact path continues with
    ``W_1[a_1]`` where it fails: the chain at the point's own sizes (about half the multiply-adds
    of :func:`_sketch_from_narrow_end`'s full-width GEMMs at the Fig. 3 network's last layer, where
    half the units are active) and ``c_K k`` instead of ``c_K d`` columns at the end. ``stats``, when
    given, gets (points tried, points whose sketched certificate failed) added to its two entries."""
    import torch

    gather = _gather_kernel()
    Wp = [W.numpy() for W in tn.padded()]
    d = tn.d
    sel_np = sel.cpu().numpy()
    cnt = counts[sel].cpu().numpy()
    bnd = bounds[sel, K - 1].cpu().numpy()
    ix = [idx[l][sel].cpu().numpy() for l in range(K)]
    cmax = cnt.max(0)
    # ping-pong buffers for J (c_K x c_l), one gathered block, the gathered rows of W_1, A_K
    big = int(max([cmax[K - 1] * cmax[l] for l in range(K)] + [1]))
    bufs = [_workspace(tn, "J0", big), _workspace(tn, "J1", big)]
    blk = _workspace(tn, "block", int(max([cmax[l] * cmax[l - 1] for l in range(1, K)] + [1])))
    w1 = _workspace(tn, "W1rows", int(cmax[0]) * d)
    A_buf = _workspace(tn, "A", int(cmax[K - 1]) * d)
    certify = tol is None and tn.dtype == torch.float64
    thr = tn.zero_thr[K - 1]
    out = np.zeros(len(sel_np), dtype=np.int64)
    if sketch is not None:  # the sketched certificate's constants, as in _certify
        U_buf = _workspace(tn, "U", int(cmax[K - 1]) * k)
        B = float(sketch.norm_bound[K - 1])
        n_inner = max([d] + list(tn.widths[:K]))
        s_thr = tol if tol is not None else B * max(d, tn.widths[K - 1]) * eps
        W1T = sketch.W1T[:, :k]
    for i in range(len(sel_np)):
        c = [int(v) for v in cnt[i]]
        cK = c[K - 1]
        if cK == 0:
            continue
        act = [ix[l][i, : c[l]] for l in range(K)]
        A = A_buf[: cK * d].view(cK, d)
        J = None
        if K > 1:
            J = bufs[0][: cK * c[K - 2]].view(cK, c[K - 2])
            gather(Wp[K - 1], act[K - 1][None], act[K - 2][None], J.numpy()[None])
            flip = 1
            for l in range(K - 1, 1, -1):  # J <- J W_l[a_l, a_{l-1}]
                G = blk[: c[l - 1] * c[l - 2]].view(c[l - 1], c[l - 2])
                gather(Wp[l - 1], act[l - 1][None], act[l - 2][None], G.numpy()[None])
                Jn = bufs[flip][: cK * c[l - 2]].view(cK, c[l - 2])
                torch.mm(J, G, out=Jn)
                J, flip = Jn, 1 - flip
        if sketch is not None and int(bnd[i]) == cK and cK <= k:
            U = U_buf[: cK * k].view(cK, k)
            a1 = torch.from_numpy(act[0])
            if J is None:
                torch.index_select(W1T, 0, a1, out=U)
            else:
                W1Ta = w1[: c[0] * k].view(c[0], k)
                torch.index_select(W1T, 0, a1, out=W1Ta)
                torch.mm(J, W1Ta, out=U)
            err = eps * B * B * ((2 * K + 1) * n_inner + (cK + 1) ** 2)
            delta = CERT_SAFETY * max(err, s_thr * s_thr)
            ok = bool(_gram_cholesky_ok_batch(U[None], torch.full((1, cK), delta, dtype=U.dtype))[0])
            if stats is not None:
                stats[0] += 1
                stats[1] += not ok
            if ok:
                out[i] = cK
                continue
        if K == 1:
            torch.index_select(tn.W[0], 0, torch.from_numpy(act[0]), out=A)
        else:
            W1a = w1[: c[0] * d].view(c[0], d)
            torch.index_select(tn.W[0], 0, torch.from_numpy(act[0]), out=W1a)
            torch.mm(J, W1a, out=A)
        keep = torch.linalg.vector_norm(A, dim=1) > thr  # rule 1
        n_rows = int(keep.sum())
        if n_rows < cK:
            A.mul_(keep[:, None].to(A.dtype))
        if n_rows == 0:
            continue
        if certify:
            # the rank to prove: at most min(nonzero rows, d, bound); where the bound is the lowest
            # (an earlier layer was narrower), the Gram matrix of the first `bound` nonzero rows
            # (a row subset never raises sigma_b); the shift's tolerance uses the whole map's trace,
            # its rounding term the map's nonzero rows (the inner dimension of V^T V where n_rows > d),
            # as _exact_certificate and the engines (full_rank_certified) count it
            target = min(n_rows, d, int(bnd[i]))
            V = A if n_rows == cK else A[keep]
            trace = float(torch.linalg.vector_norm(V) ** 2)
            delta = float(certificate_shift(trace, n_rows, cK, d))
            Vg = V[:target] if target < min(n_rows, d) else (V if n_rows <= d else V.T)
            if bool(_gram_cholesky_ok_batch(Vg[None], torch.full((1, Vg.shape[0]), delta, dtype=A.dtype))[0]):
                out[i] = target
                continue
        S = torch.linalg.svdvals(A)[None]
        out[i] = int(_count_rank(S, torch.tensor([cK]), d, tol, eps)[0])
    return torch.minimum(torch.from_numpy(out).to(bounds.device), bounds[sel, K - 1])


def _exact_certificate(A, sizes):
    """:func:`full_rank_certified` on a stack of formed maps ``A`` (P, m, d) whose rows are
    either kept or exactly zero (constant units dropped, padding): the shifted Cholesky
    certificate of :func:`certificate_shift` with the map's own trace, on ``A A^T`` where a map
    has at most ``d`` nonzero rows (zero rows get a unit diagonal, which leaves the rest of the
    factorisation unchanged) and on ``A^T A`` elsewhere. Returns ``(ok, rank)``: where ``ok``,
    the rank under the rank rule is ``rank = min(nonzero rows, d)`` (proved); elsewhere undecided.
    This is the certificate that :func:`batched_ranks`'s callers in the enumeration engines try
    before the SVD; it replaces the SVD of the fallback wherever it holds."""
    import torch

    P, m, d = A.shape
    sq = A * A
    row_sq = sq.sum(2)
    trace = row_sq.sum(1)
    del sq
    nonzero = row_sq > 0
    n_rows = nonzero.sum(1)
    full = torch.clamp(n_rows, max=d)
    ok = torch.zeros(P, dtype=torch.bool, device=A.device)
    delta = torch.as_tensor(certificate_shift(trace.cpu().numpy(), n_rows.cpu().numpy(), sizes.cpu().numpy(), d),
                            dtype=A.dtype, device=A.device)
    rows = (n_rows <= d) & (n_rows > 0)
    cols = n_rows > d
    ok[n_rows == 0] = True  # no nonzero row: rank 0, as the SVD counts
    for grp, by_rows in ((rows, True), (cols, False)):
        if not bool(grp.any()):
            continue
        sel = torch.nonzero(grp).squeeze(1)
        every = sel.numel() == P
        Ag = A if every else A[sel]
        dg = delta if every else delta[sel]
        if by_rows:  # A A^T: m x m, zero rows get diagonal 1 (their row and column are zero)
            zero = ~(nonzero if every else nonzero[sel])
            shift = dg[:, None] - zero.to(A.dtype) * (dg[:, None] + 1.0)
            ok[sel] = _gram_cholesky_ok(Ag, shift)
        else:        # A^T A: d x d
            ok[sel] = _gram_cholesky_ok(Ag.transpose(1, 2), dg[:, None].expand(-1, d))
    return ok, full


#: Power-iteration steps and safety margin for the spectral-norm estimate of each ``W_l``
#: that scales the certificate's shift (the shift also carries CERT_SAFETY).
NORM_ITERATIONS = 50
NORM_MARGIN = 1.05

#: Matrices with min(shape) up to this get their exact spectral norm (one SVD).
EXACT_NORM_MAX_DIM = 256
#: Relative margin added to an exact spectral norm (the SVD's own rounding).
EXACT_NORM_RTOL = 1e-12


@functools.lru_cache(maxsize=8)
def _orthogonal_sketch(d, k):
    """A fixed random d x k matrix with orthonormal columns (float64, CPU), from SKETCH_SEED."""
    import torch

    gen = torch.Generator().manual_seed(SKETCH_SEED)
    Q, R = torch.linalg.qr(torch.randn(d, k, generator=gen, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R))[None, :]


def _norm_estimate(W):
    """Upper estimate of the spectral norm of ``W`` (a float64 numpy array): exact (SVD) for
    small matrices, else power iteration on ``W^T W`` times NORM_MARGIN. The iterates
    ``v <- W^T (W v)`` (or ``W (W^T v)``, on the smaller side) are those of power iteration on
    the Gram matrix, without forming it (forming it cost more than all the iterations). The
    matrix-vector products run in torch on the CPU (float64, the same arithmetic): numpy's
    threaded BLAS took 5x the CPU time on the shared machine (0.5-0.7 against 0.1 CPU s for the
    Fig. 3 network's three large layers), once per ``ranks_at`` call, i.e. per epoch of ``fit``."""
    import torch

    A = torch.tensor(np.asarray(W), dtype=torch.float64)  # a copy: the network's arrays are read-only
    if min(W.shape) <= EXACT_NORM_MAX_DIM:  # torch's SVD: numpy's took 0.1-1 s for 100 x 500 here
        return float(torch.linalg.matrix_norm(A, 2)) * (1.0 + EXACT_NORM_RTOL)
    if A.shape[0] < A.shape[1]:  # iterate on the smaller side: A^T A
        A = A.T
    v = torch.ones(A.shape[1], dtype=torch.float64) / np.sqrt(A.shape[1])
    s = 0.0
    for _ in range(NORM_ITERATIONS):
        v = A.T @ (A @ v)
        nv = float(torch.linalg.vector_norm(v))
        if nv == 0.0:
            return 0.0
        s = np.sqrt(nv)
        v = v / nv
    return s * NORM_MARGIN


class _Sketch:
    """The fixed random orthogonal sketch ``T`` (d x k) of the certify method and ``W_1 T``."""

    def __init__(self, tn, k1, net):
        import torch

        T = _orthogonal_sketch(tn.d, k1).to(device=tn.device, dtype=tn.dtype)
        self.W1T = torch.nn.functional.pad(tn.W[0] @ T, (0, 0, 0, 1))  # zero row at index n_1
        # bound on ||A_K||_2: product of the layers' norms (masks and column restrictions only shrink them)
        self.norm_bound = np.cumprod([_norm_estimate(W) for W in net.weights[: len(tn.W)]])


#: The certify method stops trying the sketched certificate at a layer for the rest of a
#: ``ranks_at`` call once it has failed at more than this fraction of the points tried there
#: (at least SKETCH_GIVE_UP_MIN_POINTS of them): those points then go straight to the exact path
#: (the map formed from the narrow end, the engines' Cholesky certificate on it, the SVD where
#: that fails). On the trained Fig. 3 network the product of the layers' norms that scales the
#: sketched certificate's shift is ~15x the maps' norms, and the sketch lowers ``sigma_min``
#: another ~30x: it failed at every probe, so its cost was spent for nothing. Cost only: the ranks
#: do not depend on which path proved them.
SKETCH_GIVE_UP = 0.5
SKETCH_GIVE_UP_MIN_POINTS = 32

#: Cost weight of the gathered chain against the narrow end's GEMMs (measured on the Fig. 3
#: network's last layer on a 2-core CPU: the narrow end, at 2.8x the multiply-adds, took half
#: the time).
NARROW_END_GATHER_WEIGHT = 4.0


def _ranks_certify(tn, sketch, masks, counts, bounds, layers, tol, eps, ks, cmaxs, skip=(), failed=None):
    """Certify ``rank A_K = min(d, c_1..c_K)`` by a shifted Cholesky of a sketched Gram matrix;
    fall back to :func:`_ranks_exact_chain` where the certificate fails.

    ``U_K = A_K[a_K] T`` comes from the input end through the active blocks (one gathered
    ``bmm`` per layer, reused by the next requested layer) or, when only one narrow layer is
    requested (Fig. 3B's last layer), from the narrow end (:func:`_sketch_from_narrow_end`).
    Layers in ``skip`` go straight to the exact path (see SKETCH_GIVE_UP); ``failed[K]``, when
    given, accumulates (points tried, points whose sketched certificate failed) per layer."""
    Kmax = max(layers)
    idx = [None] * Kmax

    def index(l):
        if idx[l] is None:
            idx[l] = _active_index(masks[l], max(cmaxs[l], 1))
        return idx[l]

    out = {}
    for K in layers:
        if K in skip:
            out[K] = _certify(tn, sketch, None, counts, bounds, K, tol, eps, index)
    sketched = [K for K in layers if K not in skip]
    if not sketched:
        return out
    Kmax = max(sketched)
    if len(sketched) == 1 and Kmax > 1 and _exact_per_point(tn):
        # one layer on the CPU: point by point from the narrow end, sketched certificate first
        out[Kmax] = _certify(tn, sketch, None, counts, bounds, Kmax, tol, eps, index, failed, per_point_k=ks[Kmax - 1])
        return out
    if len(sketched) == 1 and Kmax > 1 and _narrow_end_cheaper(tn, cmaxs, ks, Kmax):
        U = _sketch_from_narrow_end(tn, sketch, masks, index(Kmax - 1), Kmax, ks[Kmax - 1])
        out[Kmax] = _certify(tn, sketch, U, counts, bounds, Kmax, tol, eps, index, failed)
        return out
    import torch

    Wp = tn.padded()
    i0 = index(0)
    U = torch.index_select(sketch.W1T[:, : ks[0]], 0, i0.reshape(-1),  # (W_1 T)[a_1]: (P, c1max, k1)
                           out=_buffer(tn, "chain_U1", (i0.numel(), ks[0]))).view(i0.shape[0], i0.shape[1], ks[0])
    for K in range(1, Kmax + 1):
        k = ks[K - 1]
        if K > 1:  # into reused buffers on the CPU (no large temporary per chunk: see _workspace)
            rows, cols = index(K - 1), index(K - 2)
            G = _gather_blocks(Wp[K - 1], rows, cols, out=_buffer(tn, "chain_G", (rows.shape[0], rows.shape[1],
                                                                               cols.shape[1])))
            U = torch.bmm(G, U[:, :, :k], out=_buffer(tn, f"chain_U{K % 2}", (G.shape[0], G.shape[1], k)))
        if K in sketched:
            out[K] = _certify(tn, sketch, U, counts, bounds, K, tol, eps, index, failed)
    return out


def _narrow_end_cheaper(tn, cmaxs, ks, K):
    """Whether :func:`_sketch_from_narrow_end` costs less than the chain from the input end.
    The chain's multiply-adds are weighted NARROW_END_GATHER_WEIGHT times: each of its blocks
    is gathered (copied element by element) before a small batched product, while the narrow
    end runs plain GEMMs over the full widths."""
    n = (tn.d,) + tuple(tn.widths[:K])
    forward = sum(cmaxs[j] * cmaxs[j - 1] * ks[j] for j in range(1, K))
    narrow = cmaxs[K - 1] * (sum(n[j + 1] * n[j] for j in range(1, K)) + n[1] * ks[K - 1])
    return narrow <= NARROW_END_GATHER_WEIGHT * forward


def _sketch_from_narrow_end(tn, sketch, masks, idx_K, K, k):
    """``U = A_K[a_K] T`` (P, c_Kmax, k) from the narrow end: the active rows of ``W_K``, then
    for every earlier layer one GEMM of all points' rows stacked with the full ``W_l``,
    masked by ``D_l``; no gathered blocks (only layer K's rows are gathered)."""
    import torch

    P, cm = idx_K.shape
    # the products go into reused buffers on the CPU (see _workspace): a chunk's J is ~100-200 MB
    J = torch.index_select(tn.padded()[K - 1][:, : tn.widths[K - 2]], 0, idx_K.reshape(-1),
                           out=_buffer(tn, "narrow_J", (P * cm, tn.widths[K - 2])))  # padding rows are zero
    J.view(P, cm, -1).mul_(masks[K - 2][:, None, :])
    for j in range(K - 2, 0, -1):  # multiply by W_{j+1}, mask by D_j
        J = torch.mm(J, tn.W[j], out=_buffer(tn, f"narrow_J{j % 2}", (P * cm, tn.W[j].shape[1])))
        J.view(P, cm, -1).mul_(masks[j - 1][:, None, :])
    return (J @ sketch.W1T[: tn.widths[0], :k]).reshape(P, cm, k)


def _certify(tn, sketch, U, counts, bounds, K, tol, eps, index, failed=None, per_point_k=None):
    """Ranks at layer K from ``U = A_K[a_K] T`` (rows padded with zeros): the shifted Cholesky
    certificate where it holds, :func:`_ranks_exact_chain` elsewhere (everywhere when ``U`` is
    None). With ``per_point_k`` (and ``U`` None), :func:`_ranks_exact_points` tries the sketched
    certificate with that many sketch columns point by point. ``failed``: see :func:`_ranks_certify`."""
    import torch

    c, b = counts[:, K - 1], bounds[:, K - 1]
    r = torch.zeros_like(b)
    pending = b > 0
    tried = int(pending.sum())
    B = float(sketch.norm_bound[K - 1])
    n_inner = max([tn.d] + list(tn.widths[:K]))
    thr = tol if tol is not None else B * max(tn.d, tn.widths[K - 1]) * eps
    for rows in (True, False) if U is not None else ():
        grp = pending & ((b == c) if rows else (b < c))
        if not bool(grp.any()):
            continue
        every = bool(grp.all())
        Ug = U if every else U[grp]
        bg = b if every else b[grp]
        if rows:   # full row rank: U U^T (c_K x c_K); padded rows of U are zero
            m = Ug.shape[1]
            V = Ug
        else:      # rank b < c_K: the first b sketch columns; U_b^T U_b (b x b)
            m = int(bg.max())
            V = Ug[:, :, :m]
            if not bool((bg == m).all()):  # zero the columns beyond each point's own b
                keep = torch.arange(m, device=Ug.device)[None, :] < bg[:, None]
                V = V * keep[:, None, :].to(Ug.dtype)
            V = V.transpose(1, 2)
        pad = torch.arange(m, device=V.device)[None, :] >= bg[:, None]
        err = eps * B * B * ((2 * K + 1) * n_inner + (m + 1) ** 2)
        delta = CERT_SAFETY * max(err, thr * thr)
        # padded rows/columns are zero: give them a diagonal that keeps them positive
        shift = delta - pad.to(V.dtype) * (B * B + 2 * delta + 1.0)
        n_sub = m + GRAM_ROW_OVERSAMPLE
        if not rows and V.shape[2] > n_sub:
            # b < c_K: the Gram matrix of the first b + GRAM_ROW_OVERSAMPLE active rows first (a row
            # subset only lowers sigma_b, so its certificate holds for all rows); all rows where it fails
            ok = _gram_cholesky_ok(V[:, :, :n_sub], shift)
            if not bool(ok.all()):
                retry = torch.nonzero(~ok).squeeze(1)
                ok[retry] = _gram_cholesky_ok(V[retry], shift[retry])
        else:
            ok = _gram_cholesky_ok(V, shift)
        sel = torch.nonzero(grp).squeeze(1)
        good = sel[ok]
        r[good] = b[good]
        pending[good] = False
    bad = torch.nonzero(pending).squeeze(1)
    if failed is not None and U is not None:
        t, f = failed.get(K, (0, 0))
        failed[K] = (t + tried, f + int(bad.numel()))
    if bad.numel() and _exact_per_point(tn):
        idx = [index(l) for l in range(K)]
        if per_point_k is not None:
            stats = [0, 0]
            r[bad] = _ranks_exact_points(tn, idx, counts, bounds, K, bad, tol, eps, sketch, per_point_k, stats)
            if failed is not None:
                t, f = failed.get(K, (0, 0))
                failed[K] = (t + stats[0], f + stats[1])
        else:
            r[bad] = _ranks_exact_points(tn, idx, counts, bounds, K, bad, tol, eps)
    elif bad.numel():
        idx = [index(l) for l in range(K)]
        # the fallback's gathered blocks, in batches within the memory budget
        per = 2 * (sum(idx[l].shape[1] * idx[l - 1].shape[1] for l in range(1, K)) + idx[K - 1].shape[1] * tn.d)
        itemsize = torch.finfo(tn.dtype).bits // 8
        step = max(1, int(getattr(tn, "max_memory", DEFAULT_MAX_MEMORY) // max(per * itemsize, 1)))
        for s in range(0, bad.numel(), step):
            sel = bad[s: s + step]
            r[sel] = _ranks_exact_chain(tn, idx, counts, bounds, K, sel, tol, eps)
    return r


#: Where the rank bound ``b`` is below the codeword size (layer 1 of the Fig. 3 network: b = 784,
#: c_1 ~ 1000), the certify method first factorises the Gram matrix of only the first
#: ``b + GRAM_ROW_OVERSAMPLE`` active rows of ``U_b`` (15% less work there), and all rows only
#: where that fails. Interlacing: removing rows never raises ``sigma_b``, so the certificate of
#: the subset proves the rank for the whole matrix; at the Fig. 3 network's probes the subset's
#: ``sigma_b`` keeps a margin of ~100x over the shift.
GRAM_ROW_OVERSAMPLE = 64

#: Row blocks in which :func:`_gram_cholesky_ok` forms the lower triangle of a Gram matrix of
#: more than ``2 * GRAM_BLOCKS`` rows (equal row blocks: the work is ``(1 + 1 / n_blocks) / 2`` of
#: the full product's, 62% with 4 blocks). Measured on one thread (docs/sampling.md, round 5):
#: per useful multiply-add, 4 blocks ran as fast as or faster than 6, 12 or a recursive split
#: into wide off-diagonal products (784 rows: 65% of the GEMM rate, 12 blocks 61%; 100 rows:
#: 43% against 31%); the full product ran at 90% of the GEMM rate but does twice the work (45%).
GRAM_BLOCKS = 4

#: On the CPU, :func:`_gram_cholesky_ok` forms and factorises the Gram matrices of at most this
#: many points at a time, so that each is factorised while it is still in cache (784 rows: 10%
#: less CPU time than a chunk of 12 at once, one thread); a GPU takes the whole stack at once.
GRAM_CPU_BATCH = 4


def _gram_cholesky_ok(V, shift):
    """Whether ``V V^T - diag(shift)`` has a Cholesky factorisation, for each matrix of a stack
    (``V`` of shape (P, m, k), ``shift`` (P, m)): a bool tensor (P,); on the CPU in batches of
    ``GRAM_CPU_BATCH`` points (``_gram_cholesky_ok_batch``)."""
    import torch

    P = V.shape[0]
    if V.device.type != "cpu" or P <= GRAM_CPU_BATCH:
        return _gram_cholesky_ok_batch(V, shift)
    return torch.cat([_gram_cholesky_ok_batch(V[i: i + GRAM_CPU_BATCH], shift[i: i + GRAM_CPU_BATCH])
                      for i in range(0, P, GRAM_CPU_BATCH)])


def _gram_cholesky_ok_batch(V, shift):
    """Whether ``V V^T - diag(shift)`` has a Cholesky factorisation, for each matrix of a stack
    (``V`` of shape (P, m, k), ``shift`` (P, m)): a bool tensor (P,).

    The Cholesky factorisation (LAPACK's, :func:`torch.linalg.cholesky_ex`) reads only one
    triangle, so only that is formed (the other is left unwritten): row block by row block,
    ``V[r0:r1] V[:r1]^T`` (``bmm`` written straight into the buffer), about 5/8 of the
    multiply-adds of ``V V^T``; every entry is the same inner product as in the full product.
    The buffer is handed to the factorisation in LAPACK's column-major layout as its own output,
    so it is factorised in place (without that, ``cholesky_ex`` first copies every matrix)."""
    import torch

    P, m, _ = V.shape
    if m <= 2 * GRAM_BLOCKS:
        G = torch.bmm(V, V.transpose(1, 2))
    else:
        G = torch.empty((P, m, m), dtype=V.dtype, device=V.device)
        edges = [m * i // GRAM_BLOCKS for i in range(GRAM_BLOCKS + 1)]
        for r0, r1 in zip(edges[:-1], edges[1:]):
            if r1 > r0:
                torch.bmm(V[:, r0:r1], V[:, :r1].transpose(1, 2), out=G[:, r0:r1, :r1])
    G.diagonal(dim1=1, dim2=2).sub_(shift)
    # G^T is column-major with G's lower triangle as its upper one: factorise it in place
    F = G.transpose(1, 2)
    info = torch.empty((P,), dtype=torch.int32, device=V.device)
    try:
        torch.linalg.cholesky_ex(F, upper=True, out=(F, info))
    except RuntimeError:  # a build that refuses an output aliasing the input: the copying call
        info = torch.linalg.cholesky_ex(G).info
    return info == 0


def _chunk_size(n_points, per_point_elems, itemsize, max_memory, batch_size, func, advice=None):
    """Points per chunk within ``max_memory``; MemoryBudgetError when not even one fits
    (``advice``: the budget, in bytes, to suggest; default what this step needs)."""
    from ._validation import format_bytes
    from .exceptions import MemoryBudgetError

    per_point = per_point_elems * itemsize
    fit = int(max_memory // max(per_point, 1))
    if fit < 1:
        raise MemoryBudgetError(
            f"{func} needs about {format_bytes(per_point)} per point, more than max_memory="
            f"{max_memory} bytes{f' ({format_bytes(max_memory)})' if max_memory >= 1024 else ''}; "
            f"pass max_memory >= {int(max(per_point, advice or 0))}."
        )
    size = min(fit, n_points)
    if batch_size is not None:
        size = min(size, batch_size)
    return max(size, 1)


def _counts_all(tn, X, n_layers, chunk, keep_bytes=0):
    """Codeword sizes (n, n_layers) of the points ``X`` (a CPU tensor), and their activation
    masks (a list of bool tensors on ``tn.device``, one per layer) when all of them take at
    most ``keep_bytes`` bytes, else None (then the chunk loop recomputes them)."""
    import torch

    out, kept = [], []
    keep = X.shape[0] * sum(tn.widths[:n_layers]) <= keep_bytes
    for s in range(0, X.shape[0], chunk):
        ms = tn.masks(X[s: s + chunk], n_layers, offset=s)
        out.append(torch.stack([m.sum(1) for m in ms], dim=1).cpu())
        if keep:
            kept.append(ms)
    if not out:
        return torch.zeros((0, n_layers), dtype=torch.long), None
    masks = None
    if keep:
        masks = kept[0] if len(kept) == 1 else [torch.cat(ms) for ms in zip(*kept)]
    return torch.cat(out), masks


def ranks_at(net, X, layers=None, *, device=None, batch_size=None, tol=None, dtype=None,
             max_memory=None, progress=False, method="auto", return_codeword_sizes=False):
    """Rank of the local affine map ``A_K`` at each point, per layer: the sampling path.

    For every point ``x`` and hidden layer ``K``, the rank of
    ``A_K = D_K W_K D_{K-1} ... D_1 W_1`` (eq. 3 of the paper) on the linear region
    that contains ``x``. This is what :attr:`Region.ranks` holds for enumerated
    regions, computed for networks far too large to enumerate (784-2000-1000-500-100).

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
        A module is converted with :func:`~polyrank.as_network` (Linear + ReLU only).
    X : array-like of shape (n_points, input_dim)
    layers : int or sequence of int, optional
        Hidden layers (1-based); default all.
    device : str or torch.device, optional
        ``"cuda"`` or ``"cpu"``; default CUDA when available, else CPU.
    batch_size : int, optional
        At most this many points per chunk (the memory budget may choose fewer).
    tol : float, optional
        Absolute singular-value threshold. Default ``S.max() * max(c_K, d) * eps``,
        the rule of :func:`matrix_rank` applied to the ``c_K x d`` matrix of active rows.
    dtype : {float64, float32}, optional
        Default float64. With float32, patterns and products are float32 and ``eps`` is
        float32's (1.19e-07): ranks then agree with float64 on well-conditioned maps
        only, and the certificate rarely holds, so large inputs take the SVD path.
    max_memory : int, optional
        Budget in bytes for the intermediate tensors of one chunk (default 512 MiB on the CPU; on
        a GPU a quarter of its free memory, at most 16 GiB).
    progress : bool, default False
        Show a tqdm progress bar over chunks.
    method : {"auto", "direct", "certify"}, default "auto"
        "direct" forms each ``A_K`` (masked, from the input end, as the enumerator
        does) and counts singular values. "certify" proves
        ``rank A_K = min(d, c_1, ..., c_K)`` by a Cholesky certificate and uses the
        direct rule only where the certificate fails. "auto" picks "direct" for
        ``d <= DIRECT_MAX_DIM``, else "certify". Both give the same ranks.
    return_codeword_sizes : bool, default False
        Also return :func:`codeword_sizes_at` of the same points and layers, from the same
        forward pass.

    Returns
    -------
    ndarray of int, shape (n_points, len(layers))
        The ranks; with ``return_codeword_sizes``, the pair (ranks, codeword sizes).

    Raises
    ------
    ValueError
        For a bad ``X``, ``layers``, ``tol``, ``dtype``, ``device`` or ``batch_size``.
    TypeError
        If ``net`` is neither a ReLUNetwork nor a Linear/ReLU torch module.
    MemoryBudgetError
        If a single point does not fit in ``max_memory``.

    See Also
    --------
    codeword_sizes_at, matrix_rank, polyrank.Region.ranks

    Notes
    -----
    *Exact* means: the rank rule of :func:`matrix_rank` (singular values of the active
    rows of ``A_K`` above ``S.max() * max(c_K, d) * eps``), capped by the mathematical
    bounds ``rank A_K <= min(d, c_1, ..., c_K)`` (``c_l`` = codeword sizes) and
    ``rank A_K <= rank A_K'`` for every requested ``K' < K``, which only remove rounding
    artefacts. With the default ``layers`` (all) this is exactly the rule of
    :attr:`Region.ranks` in both enumeration engines. Patterns are ``z > 0`` in the chosen dtype.

    The "certify" method never forms ``A_K``: with a fixed random orthogonal sketch
    ``T`` it carries ``U_K = A_K T`` through the active rows and columns of each layer
    (one batched ``bmm`` per layer, reused by the next layer), and runs a batched
    Cholesky on the Gram matrix of ``U_K`` shifted by ``delta``, a multiple of the
    worst-case rounding error and of the rank threshold. Singular values can only
    shrink under the sketch, so success proves ``sigma_b(A_K) > threshold`` with
    ``b = min(d, c_1..c_K)``, i.e. the rank is ``b`` under the rule above. Where it
    fails (a genuine rank drop, or a nearly singular map), ``A_K`` is formed from the
    narrow end (``W_K[a_K, a_{K-1}] ... W_1[a_1]``) and proved full rank by the enumeration
    engines' Cholesky certificate (:func:`full_rank_certified`, shift from its own trace), or
    its singular values counted where that fails too. A layer whose sketched certificate fails
    at most points stops trying it for the rest of the call (``SKETCH_GIVE_UP``). On the CPU a
    single requested layer runs point by point from the narrow end at each point's own sizes,
    and so does the exact path, in reused buffers.
    Cost per point about ``sum_K c_K c_{K-1} k_K + c_K k_K^2 + k_K^3 / 3`` with
    ``k_K ~ b_K``, against ``sum_K n_K n_{K-1} d + n_K d^2`` for a per-point loop.

    Examples
    --------
    For x > 1 both units of layer 1 are active and layer 2 computes
    ``h_1 - h_2 + 0.5 = 1.5``, a constant: its rank drops to 0 although its unit is on.

    >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]], [[1.0, -1.0]]], [[0.0, -1.0], [0.5]])
    >>> pr.ranks_at(net, np.array([[2.0], [0.5], [-1.0]]))
    array([[1, 0],
           [1, 1],
           [0, 0]])
    >>> pr.ranks_at(net, np.array([[2.0]]), return_codeword_sizes=True)   # ranks, codeword sizes
    (array([[1, 0]]), array([[2, 1]]))
    """
    import torch

    func = "ranks_at"
    if method not in ("auto", "direct", "certify"):
        raise ValueError(f"The 'method' parameter of {func} must be 'auto', 'direct' or 'certify'; "
                         f"got {method!r}.")
    if not isinstance(return_codeword_sizes, (bool, np.bool_)):
        raise ValueError(f"The 'return_codeword_sizes' parameter of {func} must be a bool; "
                         f"got {return_codeword_sizes!r}.")
    net, X, layers, device, dtype, batch_size, tol, max_memory = _prepare(
        net, X, layers, func=func, device=device, dtype=dtype, batch_size=batch_size,
        tol=tol, max_memory=max_memory)
    n = X.shape[0]
    if n == 0:
        empty = np.zeros((0, len(layers)), dtype=np.int64)
        return (empty, empty.copy()) if return_codeword_sizes else empty
    tn = _TorchNet(net, device, dtype)
    Kmax = max(layers)
    itemsize = torch.finfo(dtype).bits // 8
    with torch.no_grad():
        # the advice of a budget too small for the forward pass covers the rank step too
        # (its size with every unit of every layer active, an upper bound)
        widths, d = net.widths[:Kmax], net.input_dim
        cw = [max(w, 1) for w in widths]
        upper = max(max(widths[k] * (widths[k - 1] if k else 1) + 3 * widths[k] * d for k in range(Kmax)) + d * d,
                    max(cw[K] * (cw[K - 1] if K else 1) + (cw[K - 1] * d if K else 0) + 2 * cw[K] * d
                        + 2 * max(cw[K], d) ** 2 + 2 * cw[K] * d for K in range(Kmax)))
        fwd_chunk = _chunk_size(n, 3 * max(widths + (d,)), itemsize, max_memory, None, func,
                                advice=upper * itemsize)
        # the forward pass runs once: its masks are kept for the chunk loop when they fit in a
        # quarter of the budget (one byte per unit and point), else recomputed per chunk
        counts_all, kept = _counts_all(tn, X, Kmax, fwd_chunk, keep_bytes=max_memory // 4)
        if kept is None:
            def masks_of(idx):
                return tn.masks(X[idx], Kmax)
        else:
            max_memory -= n * sum(widths)  # what the kept masks take

            def masks_of(idx):
                sel = torch.as_tensor(idx, device=device)
                return [m[sel] for m in kept]
        R = _ranks_of_masks(tn, net, counts_all, masks_of, layers, method=method, tol=tol,
                            max_memory=max_memory, batch_size=batch_size, progress=progress, func=func)
    if return_codeword_sizes:
        return R, counts_all.numpy().astype(np.int64)[:, [K - 1 for K in layers]]
    return R


def _ranks_of_masks(tn, net, counts_all, masks_of, layers, *, method, tol, max_memory, batch_size, progress, func):
    """The chunk loop of :func:`ranks_at` on activation masks: ``masks_of(idx)`` returns the masks of
    layers 1..max(layers) (bool tensors on ``tn.device``) of the points (or patterns) ``idx``;
    ``counts_all`` (n, max(layers)) their codeword sizes (a CPU tensor). Points are sorted by
    codeword sizes so that each chunk pads its gathered blocks to nearly its own sizes."""
    import torch

    n = int(counts_all.shape[0])
    if n == 0:
        return np.zeros((0, len(layers)), dtype=np.int64)
    dtype, device = tn.dtype, tn.device
    if method == "auto":
        method = "direct" if net.input_dim <= DIRECT_MAX_DIM else "certify"
    eps = float(torch.finfo(dtype).eps)
    itemsize = torch.finfo(dtype).bits // 8
    Kmax = max(layers)
    tn.zero_thr = [float(z) for z in zero_thresholds(net, Kmax)[0]]
    tn.max_memory = max_memory
    widths = net.widths[:Kmax]
    d = net.input_dim
    bounds_all = torch.cummin(torch.clamp(counts_all, max=d), dim=1).values
    # chunks of points with similar codeword sizes (layer 1 first: the largest blocks)
    c_np = counts_all.numpy()
    order = np.lexsort(tuple(c_np[:, k] for k in range(Kmax - 1, -1, -1)))
    if method == "direct":
        per = max(widths[k] * (widths[k - 1] if k else 1) + 3 * widths[k] * d for k in range(Kmax)) + d * d
        sketch = None
        cmaxs = None
    else:
        cmaxs = [int(v) for v in counts_all.max(0).values]
        bmaxs = [int(v) for v in bounds_all.max(0).values]
        ks_all = _sketch_widths(bmaxs, layers, d)
        sketch = _Sketch(tn, ks_all[0], net)
        cm = [max(c, 1) for c in cmaxs]
        # per point: the gathered block, U_{K-1} and U_K, and for a requested layer the Gram
        # matrix, its factor and the fallback's c_K x d block
        per = max(cm[K] * (cm[K - 1] if K else 1) + (cm[K - 1] * ks_all[K - 1] if K else 0)
                  + 2 * cm[K] * ks_all[K]
                  + ((2 * max(cm[K], ks_all[K]) ** 2 + 2 * cm[K] * d) if K + 1 in layers else 0)
                  for K in range(Kmax))
        if len(layers) == 1 and Kmax > 1 and _narrow_end_cheaper(tn, cmaxs, ks_all, Kmax):
            # the narrow end (likely for every chunk): two c_K x width blocks, the Gram matrix
            # and its factor, the fallback's c_K x d block (its gathered blocks go in batches)
            per = (2 * cm[Kmax - 1] * max(widths[: Kmax - 1]) + 2 * max(cm[Kmax - 1], ks_all[Kmax - 1]) ** 2
                   + cm[Kmax - 1] * d)
    chunk = _chunk_size(n, per, itemsize, max_memory, batch_size, func)
    starts = range(0, n, chunk)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=-(-n // chunk), desc=func, unit="chunk")
    result = np.zeros((n, len(layers)), dtype=np.int64)
    want = set(layers)
    skip, failed = set(), {}
    for s in starts:
        idx = order[s: s + chunk]
        masks = masks_of(idx)
        cnt = counts_all[idx]
        counts = cnt.to(device)
        bounds = bounds_all[idx].to(device)
        if method == "direct":
            out = _ranks_direct(tn, masks, counts, bounds, want, tol, eps)
        else:
            # pad to this chunk's own largest codewords; carry only the sketch columns it needs
            cmx = [int(v) for v in cnt.max(0).values]
            bmx = [int(v) for v in bounds_all[idx].max(0).values]
            out = _ranks_certify(tn, sketch, masks, counts, bounds, want, tol, eps,
                                 _sketch_widths(bmx, layers, d), cmx, skip, failed)
            for K, (t, f) in failed.items():  # see SKETCH_GIVE_UP
                if t >= SKETCH_GIVE_UP_MIN_POINTS and f > SKETCH_GIVE_UP * t:
                    skip.add(K)
        prev = None
        for K in sorted(want):  # rank A_K <= rank A_{K'} for K' < K
            if prev is not None:
                out[K] = torch.minimum(out[K], out[prev])
            prev = K
        block = torch.stack([out[K] for K in layers], dim=1).cpu().numpy()
        result[idx] = block
    return result


def _sketch_widths(bmaxs, layers, d):
    """Sketch columns carried by each chain step of the certify method: the widest that a
    requested layer at or after it needs (``bound + SKETCH_OVERSAMPLE``, at most ``d``)."""
    Kmax = len(bmaxs)
    need = [max(1, min(d, bmaxs[K] + SKETCH_OVERSAMPLE)) if K + 1 in layers else 0 for K in range(Kmax)]
    return [max(need[K:]) for K in range(Kmax)]


def pattern_ranks(net, patterns, layer=None, *, device=None, max_memory=None, method="auto") -> np.ndarray:
    """Ranks of the local maps ``A_1 .. A_K`` of regions given by their activation patterns.

    The rank rule of :func:`ranks_at`, driven by the patterns instead of points: for each
    flat pattern (layers 1..K side by side, the encoding of ``net.patterns(X, flat=True)``)
    the ranks of ``A_l = D_l W_l ... D_1 W_1`` for l = 1..K, with ``D_l`` the pattern's
    units of layer ``l``. Patterns need not be realised by any point.

    Parameters
    ----------
    net : ReLUNetwork or torch.nn.Module
    patterns : bool array-like of shape (n, n_units of layers 1..K)
    layer : int, optional
        K (default: the last hidden layer; the patterns' width must match).
    device, max_memory, method
        As :func:`ranks_at`.

    Returns
    -------
    ndarray of int64, shape (n, K)

    Raises
    ------
    ValueError
        If the patterns' width is not the number of units of layers 1..K.

    Notes
    -----
    Equal to ``ranks_at(net, X)`` at any point ``X`` with that pattern; cost as :func:`ranks_at`
    without the forward pass.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]], [[1.0, -1.0]]], [[0.0, -1.0], [0.5]])
    >>> pr.rank.pattern_ranks(net, [[True, True, True], [True, False, True], [False, False, True]])
    array([[1, 0],
           [1, 1],
           [0, 0]])
    """
    import torch

    from ._validation import check_device, check_layer
    from .network import as_network

    net = as_network(net)
    K = check_layer(layer, net.n_layers)
    P = np.asarray(patterns, dtype=bool)
    n_units = int(net.offsets[K])
    if P.ndim != 2 or P.shape[1] != n_units:
        raise ValueError(f"The 'patterns' parameter of pattern_ranks must have shape (n, {n_units}) (the units "
                         f"of layers 1..{K}); got {P.shape}.")
    device = check_device(device)
    if max_memory is None:
        max_memory = _default_memory(device)
    net = scaled_units(net)  # as ranks_at: the same patterns and relative ranks, no over/underflow
    tn = _TorchNet(net, device, torch.float64)
    off = net.offsets
    counts_all = torch.from_numpy(np.stack([P[:, off[k]:off[k + 1]].sum(1) for k in range(K)], 1)
                                  .astype(np.int64).reshape(P.shape[0], K))

    def masks_of(idx):
        sub = torch.from_numpy(np.ascontiguousarray(P[idx])).to(device)
        return [sub[:, int(off[k]):int(off[k + 1])] for k in range(K)]

    with torch.no_grad():
        return _ranks_of_masks(tn, net, counts_all, masks_of, list(range(1, K + 1)), method=method, tol=None,
                               max_memory=max_memory, batch_size=None, progress=False, func="pattern_ranks")


def codeword_sizes_at(net, X, layers=None, *, device=None, batch_size=None, tol=None, dtype=None,
                      max_memory=None, progress=False) -> np.ndarray:
    """Codeword size (number of active units ``z_l > 0``) at each point, per layer.

    Same arguments as :func:`ranks_at` (``tol`` is accepted for symmetry and unused:
    a unit is active when its pre-activation is strictly positive). This is what
    :attr:`Region.codeword_sizes` holds for enumerated regions, and
    ``ranks_at(...)[:, K-1] <= min(d, sizes[:, 0], ..., sizes[:, K-1])``.

    Returns
    -------
    ndarray of int, shape (n_points, len(layers))

    Raises
    ------
    ValueError
        For a bad ``X``, ``layers``, ``dtype``, ``device`` or ``batch_size``.

    Notes
    -----
    Exact up to the sign of pre-activations computed in ``dtype`` (float64 by default);
    cost: one forward pass, ``O(sum_l n_l n_{l-1})`` per point.

    Examples
    --------
    >>> net = pr.ReLUNetwork.from_weights([[[1.0], [1.0]]], [[0.0, -1.0]])
    >>> pr.codeword_sizes_at(net, np.array([[2.0], [0.5], [-1.0]]))
    array([[2],
           [1],
           [0]])
    """
    import torch

    func = "codeword_sizes_at"
    net, X, layers, device, dtype, batch_size, tol, max_memory = _prepare(
        net, X, layers, func=func, device=device, dtype=dtype, batch_size=batch_size,
        tol=tol, max_memory=max_memory)
    n = X.shape[0]
    if n == 0:
        return np.zeros((0, len(layers)), dtype=np.int64)
    tn = _TorchNet(net, device, dtype)
    Kmax = max(layers)
    itemsize = torch.finfo(dtype).bits // 8
    chunk = _chunk_size(n, 3 * max(net.widths[:Kmax] + (net.input_dim,)), itemsize, max_memory, batch_size, func)
    with torch.no_grad():
        counts = _counts_all(tn, X, Kmax, chunk)[0].numpy().astype(np.int64)
    return counts[:, [K - 1 for K in layers]]
