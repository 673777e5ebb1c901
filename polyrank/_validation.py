"""Shared argument checkers. Public functions call these once, at the boundary."""

from __future__ import annotations

import numbers

import numpy as np


def as_real_array(x, *, name, what="an array of numbers", copy=False):
    """Return ``x`` as a float64 ndarray, refusing complex values.

    numpy would drop an imaginary part with only a ``ComplexWarning``; polyrank works in
    real float64 arithmetic, so a complex input (even with zero imaginary parts) is an error
    that names the parameter.
    """
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be {what}; got {type(x).__name__}.") from exc
    if np.iscomplexobj(raw) or (raw.dtype == object and any(isinstance(v, complex) for v in raw.ravel())):
        raise TypeError(f"{name} must be real; got complex values (dtype {raw.dtype}). polyrank works in "
                        "float64: pass the real part (x.real) explicitly if that is what you mean.")
    try:
        return np.array(raw, dtype=np.float64, copy=True) if copy else np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be {what}; got {type(x).__name__}.") from exc


def check_points(X, n_in, *, name="X"):
    """Return ``X`` as a float64 array of shape ``(n_points, n_in)``.

    Raises ``ValueError`` with a hint when a single point was passed as a 1-D array.
    """
    X = as_real_array(X, name=name)
    if X.ndim != 2 or X.shape[1] != n_in:
        hint = f" For one point use {name}.reshape(1, -1)." if X.shape == (n_in,) else ""
        raise ValueError(f"{name} must have shape (n_points, {n_in}); got {X.shape}.{hint}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return X


def check_point(x, n_in, *, name="x"):
    """Return one point as a float64 vector of length ``n_in``."""
    x = as_real_array(x, name=name, what="a vector of numbers")
    if x.shape != (n_in,):
        raise ValueError(f"{name} must have shape ({n_in},); got {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return x


def check_matrix(M, *, name, shape=None):
    """Return ``M`` as a finite float64 2-D array, optionally of a given shape.

    ``shape`` entries that are ``None`` are not checked.
    """
    M = as_real_array(M, name=name, what="a 2-D array of numbers", copy=True)
    if M.ndim != 2:
        raise ValueError(f"{name} must be 2-D; got an array of shape {M.shape}.")
    if shape is not None:
        for axis, want in enumerate(shape):
            if want is not None and M.shape[axis] != want:
                raise ValueError(
                    f"{name} must have shape {tuple('*' if s is None else s for s in shape)}; "
                    f"got {M.shape}."
                )
    if not np.isfinite(M).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return M


def check_vector(v, *, name, length=None):
    """Return ``v`` as a finite float64 1-D array, optionally of a given length."""
    v = as_real_array(v, name=name, what="a 1-D array of numbers", copy=True)
    if v.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got an array of shape {v.shape}.")
    if length is not None and v.shape[0] != length:
        raise ValueError(f"{name} must have length {length}; got {v.shape[0]}.")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return v


def check_finite_preactivations(finite_rows, layer, *, name="X", dtype="float64", offset=0):
    """Raise when a layer's pre-activations overflowed at some points.

    ``finite_rows`` is a bool vector (one entry per point): whether every pre-activation
    of ``layer`` is finite there. Finite inputs near the float maximum (or huge weights)
    overflow to inf, and ``inf - inf`` to NaN, whose sign (the activation pattern) is then
    meaningless: never a silent wrong pattern or rank.
    """
    bad = np.flatnonzero(~np.asarray(finite_rows, dtype=bool))
    if len(bad):
        what = f"The pre-activations of hidden layer {layer}" if layer else "The inputs"
        raise ValueError(
            f"{what} overflow to inf or NaN in {dtype} at "
            f"{len(bad)} point(s) of {name} (first: row {int(bad[0]) + offset}); their activation patterns "
            "are not defined. Scale the inputs down (the patterns of x / c are those of x for the "
            "network with every bias divided by c)" + ("." if dtype == "float64" else ", or use float64."))


def format_bytes(n):
    """A byte count for a message: ``"312 bytes"``, ``"4.5 KiB"``, ``"1.2 GiB"`` (never 0.0 MiB)."""
    n = float(n)
    if n < 1024:
        return f"{int(round(n))} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024.0
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"


def check_tol(tol, *, name="tol", func=None):
    """Return ``tol`` as a non-negative finite float."""
    where = f" of {func}" if func else ""
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"The '{name}' parameter{where} must be a float in [0, inf). Got {tol!r} instead.")
    return float(tol)


def check_positive_int(n, *, name, func=None, allow_none=False, minimum=1):
    """Return ``n`` as an int >= ``minimum`` (or None when allowed)."""
    if n is None and allow_none:
        return None
    where = f" of {func}" if func else ""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        raise ValueError(f"The '{name}' parameter{where} must be an int >= {minimum}. Got {n!r} instead.")
    return int(n)


def check_layer(layer, n_layers, *, name="layer", allow_none=True):
    """Return a hidden-layer index in ``1..n_layers`` (1-based, as in the paper)."""
    if layer is None and allow_none:
        return n_layers
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
        raise TypeError(f"{name} must be an int in 1..{n_layers}; got {layer!r}.")
    if not 1 <= layer <= n_layers:
        raise ValueError(
            f"{name} must be a hidden layer in 1..{n_layers} (layers are 1-based, as in the paper); "
            f"got {layer}."
        )
    return int(layer)


def _where(func):
    return f" of {func}" if func else ""


def check_positive_float(x, *, name, func=None, low=0.0):
    """Return ``x`` as a finite float ``> low``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x) or x <= low:
        raise ValueError(f"The '{name}' parameter{_where(func)} must be a float > {low:g}. Got {x!r} instead.")
    return float(x)


def check_scale(x, *, name, func=None, allow_none=True):
    """Return a length scale as a float >= 0 (inf allowed), or None when allowed."""
    if x is None and allow_none:
        return None
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not x >= 0:
        none = " or None" if allow_none else ""
        raise ValueError(f"The '{name}' parameter{_where(func)} must be a float >= 0{none}. Got {x!r} instead.")
    return float(x)


def check_frame(frame, d, *, name="frame", func=None):
    """Return a local frame ``(x0, s)`` (``x = x0 + s y``: origin of length ``d``, size
    ``s > 0``) as ``(float64 vector, float)``, or None."""
    if frame is None:
        return None
    try:
        x0, s = frame
    except (TypeError, ValueError):
        raise ValueError(f"The '{name}' parameter{_where(func)} must be a pair (x0, s): an origin of "
                         f"length {d} and a size s > 0. Got {frame!r} instead.") from None
    try:
        x0 = check_point(x0, d, name=f"{name}[0]")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The '{name}' parameter{_where(func)}: {exc}") from None
    s = check_positive_float(s, name=f"{name}[1]", func=func)
    return x0, s


def check_int_range(k, low, high, *, name, func=None, what=None):
    """Return ``k`` as an int in ``low..high`` (``what`` says what it counts)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not low <= k <= high:
        note = f" ({what})" if what else ""
        raise ValueError(f"The '{name}' parameter{_where(func)} must be an int in {low}..{high}{note}. "
                         f"Got {k!r} instead.")
    return int(k)


def check_real(x, *, name, func=None):
    """Return ``x`` as a finite float."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x):
        raise ValueError(f"The '{name}' parameter{_where(func)} must be a finite float. Got {x!r} instead.")
    return float(x)


def check_seed(seed, *, func=None, name="seed"):
    """Return an int seed (for torch's ``manual_seed``); numpy seeds go through :func:`make_rng`."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"The '{name}' parameter{_where(func)} must be an int; got {seed!r}.")
    return int(seed)


def make_rng(seed, *, func=None, name="seed"):
    """The one ``numpy.random.Generator`` of a call: ``seed`` is None (fresh entropy), an
    int, a ``SeedSequence`` or a ``Generator`` (used as is)."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The '{name}' parameter{_where(func)} must be None, an int >= 0, a "
                         f"numpy SeedSequence or Generator; got {seed!r}.") from exc


def check_widths(widths, *, func=None, name="widths", allow_int=False):
    """Return hidden widths as a non-empty list of ints >= 1 (one int is one layer when
    ``allow_int``)."""
    if allow_int and isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
        widths = [widths]
    try:
        ws = list(widths)
    except TypeError:
        raise ValueError(f"The '{name}' parameter{_where(func)} must be a sequence of positive ints. "
                         f"Got {widths!r} instead.") from None
    if not ws:
        raise ValueError(f"The '{name}' parameter{_where(func)} must hold at least one hidden width. "
                         f"Got {widths!r}.")
    return [check_positive_int(w, name=name, func=func) for w in ws]


def check_layers(layers, n_layers, *, func=None, name="layers"):
    """Return a list of hidden layers in ``1..n_layers`` (an int is one layer; None is all)."""
    if layers is None:
        return list(range(1, n_layers + 1))
    if isinstance(layers, numbers.Integral) and not isinstance(layers, bool):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(f"The '{name}' parameter{_where(func)} must be an int, a sequence of ints or None; "
                        f"got {type(layers).__name__}.") from None
    if not layers:
        raise ValueError(f"The '{name}' parameter{_where(func)} is empty; pass None for all layers.")
    out = []
    for k in layers:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= n_layers:
            raise ValueError(f"The '{name}' parameter{_where(func)} must hold hidden layers in 1..{n_layers} "
                             f"(1-based, as in the paper); got {k!r}.")
        out.append(int(k))
    return out


def check_torch_dtype(dtype, *, func=None, name="dtype", any_float=False):
    """Return a torch floating dtype from None (float64), a torch dtype, a numpy dtype or
    type, or a string (``"float64"``, ``"double"``, ``"float32"``, ``"float"``; with
    ``any_float`` also ``"float16"``, ``"half"``, ``"bfloat16"``). Only float64 and float32
    unless ``any_float``."""
    import torch

    if dtype is None:
        return torch.float64
    table = {"float64": torch.float64, "double": torch.float64, "float32": torch.float32,
             "float": torch.float32}
    if any_float:
        table.update({"float16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16})
    out = None
    if isinstance(dtype, str):
        out = table.get(dtype.replace("torch.", ""))
    elif isinstance(dtype, torch.dtype):
        out = dtype if dtype.is_floating_point else None
    else:
        try:
            npd = np.dtype(dtype)
        except TypeError:
            npd = None
        out = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32,
               np.dtype(np.float16): torch.float16}.get(npd)
    if out is None or (not any_float and out not in (torch.float64, torch.float32)):
        allowed = "a floating dtype" if any_float else "float64 or float32"
        raise ValueError(f"The '{name}' parameter{_where(func)} must be {allowed} (torch, numpy or a "
                         f"string); got {dtype!r}.")
    return out


def check_device(device):
    """Return a ``torch.device``: None is CUDA when available, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"The 'device' parameter must be 'cpu', 'cuda' or a torch.device; got {device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but torch.cuda.is_available() is False; "
                         "use device='cpu' or device=None (CUDA when available).")
    return dev


def check_simplex_ids(sel, n, *, name):
    """Row indices from a bool mask of length n or an array of ids in -n..n-1."""
    arr = np.asarray(sel)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{name} as a mask must have shape ({n},) (one entry per simplex); got {arr.shape}.")
        return np.flatnonzero(arr)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a bool mask of shape ({n},) or a 1-D array of simplex ids; "
                         f"got an array of dtype {arr.dtype} and shape {arr.shape}.")
    if arr.min() < -n or arr.max() >= n:
        raise ValueError(f"{name} holds simplex ids outside 0..{n - 1}.")
    return arr.astype(np.int64) % n if n else arr.astype(np.int64)


def check_simplices(simplices, n_vertices, *, name="simplices"):
    """Return top simplices as an int64 array of shape ``(n_simplices, k + 1)``.

    Vertex ids must be integers (floats are accepted only when integral: ``0.5`` is not
    truncated to 0), in ``0..n_vertices - 1``, and distinct within each simplex.
    """
    try:
        raw = np.asarray(simplices)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 2-D array of vertex ids; got {type(simplices).__name__}.") from exc
    if raw.dtype == bool or np.iscomplexobj(raw) or not (np.issubdtype(raw.dtype, np.integer)
                                                          or np.issubdtype(raw.dtype, np.floating)
                                                          or raw.size == 0):
        raise TypeError(f"{name} must hold integer vertex ids; got an array of dtype {raw.dtype}.")
    if np.issubdtype(raw.dtype, np.floating) and raw.size:
        frac = ~np.isfinite(raw) | (raw != np.round(raw))
        if frac.any():
            pos = tuple(int(i) for i in np.argwhere(frac)[0])
            raise ValueError(f"{name} must hold integer vertex ids; entry {pos} is {raw[pos]!r}.")
    S = raw.astype(np.int64)
    if S.ndim != 2 or S.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n_simplices, k + 1); got {S.shape}.")
    if S.size and (S.min() < 0 or S.max() >= n_vertices):
        bad = int(np.flatnonzero((S < 0).any(axis=1) | (S >= n_vertices).any(axis=1))[0])
        raise ValueError(f"{name} refer to vertex ids outside 0..{n_vertices - 1}: simplex {bad} is "
                         f"{S[bad].tolist()}.")
    if S.shape[1] > 1 and len(S):
        T = np.sort(S, axis=1)
        rep = np.flatnonzero((T[:, 1:] == T[:, :-1]).any(axis=1))
        if len(rep):
            raise ValueError(f"{name}: simplex {int(rep[0])} ({S[rep[0]].tolist()}) repeats a vertex; a "
                             f"k-simplex needs k + 1 distinct vertices ({len(rep)} simplices repeat one).")
    return S


def check_prime(p, *, name="field", func=None, maximum=46337):
    """Return ``p`` as an int prime in ``2..maximum`` (a coefficient field Z/p)."""
    where = f" of {func}" if func else ""
    ok = isinstance(p, numbers.Integral) and not isinstance(p, bool) and 2 <= p <= maximum
    if ok:
        ok = all(p % q for q in range(2, int(p ** 0.5) + 1))
    if not ok:
        raise ValueError(f"The '{name}' parameter{where} must be a prime in 2..{maximum} (homology over Z/p). "
                         f"Got {p!r} instead.")
    return int(p)


def check_face_dim(k, dim, *, name="k"):
    """Return a face dimension in ``0..dim``."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an int face dimension in 0..{dim}; got {k!r}.")
    if not 0 <= k <= dim:
        raise ValueError(f"{name} must be a face dimension in 0..{dim} (the input dimension is {dim}); got {k}.")
    return int(k)
