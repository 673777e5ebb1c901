"""Reading PyTorch modules for :meth:`polyrank.ReLUNetwork.from_torch`.

Three steps, each of which refuses what it cannot do exactly:

1. **Trace** the forward pass into a chain of layers. ``torch.fx.symbolic_trace`` gives the
   graph of the forward pass (call order, reused modules and functional calls such as
   ``F.relu`` or ``torch.flatten`` included); the graph must be a chain: one input, every
   operation consuming the previous one's output only (the ``x.view(x.size(0), -1)`` idiom
   is allowed), no skip connections, no parameters read outside their module. When fx
   cannot trace the module (data-dependent control flow), forward hooks record the order in
   which the leaf modules run on a probe input; functional calls are then invisible, which
   step 3 catches.
2. **Fold** the affine layers between two ReLUs into one dense matrix ``W`` and bias ``b``
   acting on the flattened input (C order, as ``nn.Flatten``): ``W`` is the image of the
   identity basis under the layers' linear parts (bias-free ``Linear``/``Conv``, the
   per-channel scale of an eval-mode ``BatchNorm``, the pooling itself) computed in
   float64, and ``b`` the image of zero under the layers themselves. For ``Linear`` and
   ``Conv`` layers every entry of ``W`` is a weight copied exactly (a single product with
   1.0); average pooling and batch norm contribute one rounding per entry.
3. **Check**: the folded network and the module (in eval mode, in its own dtype) are
   evaluated on random inputs, and a difference beyond :data:`VERIFY_RTOL` (relative to
   the output's size) raises.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

#: Layers folded into affine maps (``Dropout`` variants and ``Identity`` are the identity:
#: evaluation mode).
SUPPORTED = ("Linear", "Conv1d", "Conv2d", "Conv3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
             "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "BatchNorm1d", "BatchNorm2d",
             "BatchNorm3d", "Flatten", "Unflatten", "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
             "AlphaDropout", "FeatureAlphaDropout", "ReLU")
#: Functional calls and tensor methods accepted in a traced forward pass.
SUPPORTED_CALLS = ("F.relu / torch.relu / x.relu()", "torch.flatten / x.flatten()", "x.view / x.reshape",
                   "x.contiguous()", "x.float() / x.double() / x.to(...) (identity)", "F.dropout (identity)")
#: Largest folded matrix (entries) from_torch builds: 2**27 float64 entries are 1 GiB.
MAX_FOLDED_ENTRIES = 2**27
#: Basis vectors pushed through a layer chain at once while folding (bounded by memory).
FOLD_CHUNK_ENTRIES = 2**23
#: Random inputs on which the folded network is compared with the module.
VERIFY_POINTS = 16
#: ... evaluated by the module in batches of this size (so that batch-dependent branches show).
VERIFY_BATCH = 4
#: Largest accepted difference between the folded network and the module, relative to
#: ``max(1, max |output|)``, by the module's floating dtype.
VERIFY_RTOL = {"float64": 1e-9, "float32": 1e-4, "float16": 2e-2, "bfloat16": 1e-1}

_SUPPORTED_TEXT = ("supported layers: " + ", ".join(SUPPORTED) + "; functional calls: " + ", ".join(SUPPORTED_CALLS))


class _Step:
    """One traced operation: ``kind`` in {"affine", "shape", "relu"}; ``run`` the operation
    on float64 tensors, ``lin`` its linear part (affine steps), ``label`` for messages."""

    __slots__ = ("kind", "run", "lin", "label", "module")

    def __init__(self, kind, label, run=None, lin=None, module=None):
        self.kind, self.label, self.run, self.module = kind, label, run, module
        self.lin = lin if lin is not None else run


def _f64(t):
    return None if t is None else t.detach().to("cpu", dtype=_torch().float64)


def _torch():
    import torch

    return torch


# --------------------------------------------------------------------------- one module -> step
def _module_step(m, name):
    """The step of one leaf module, or TypeError for an unsupported one."""
    import torch.nn as nn
    import torch.nn.functional as F

    kind = type(m).__name__
    label = f"{name!r} ({kind})" if name else kind
    if isinstance(m, nn.ReLU):
        return _Step("relu", label, module=m)
    if isinstance(m, nn.Linear):
        W, b = _f64(m.weight), _f64(m.bias)
        return _Step("affine", label, run=lambda x: F.linear(x, W, b), lin=lambda x: F.linear(x, W), module=m)
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        W, b = _f64(m.weight), _f64(m.bias)
        # _conv_forward applies stride, padding (every padding_mode and 'same'/'valid'), dilation, groups
        return _Step("affine", label, run=lambda x: m._conv_forward(x, W, b),
                     lin=lambda x: m._conv_forward(x, W, None), module=m)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        if m.training:
            raise ValueError(f"from_torch: the layer {label} is in training mode, where its output depends on "
                             "the batch; call model.eval() first (eval-mode batch norm, with its running "
                             "statistics, is an affine map and is folded exactly).")
        if m.running_mean is None or m.running_var is None:
            raise ValueError(f"from_torch: the layer {label} has track_running_stats=False, so it normalises "
                             "with batch statistics even in eval mode: not a fixed affine map.")
        mean, var = _f64(m.running_mean), _f64(m.running_var)
        w = _f64(m.weight) if m.weight is not None else None
        bb = _f64(m.bias) if m.bias is not None else None
        scale = (w if w is not None else 1.0) / (var + m.eps).sqrt()

        def run(x):
            return F.batch_norm(x, mean, var, w, bb, False, 0.0, m.eps)

        def lin(x):
            return x * scale.reshape((1, -1) + (1,) * (x.dim() - 2))

        return _Step("affine", label, run=run, lin=lin, module=m)
    if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
                      nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
        return _Step("affine", label, run=m, module=m)  # linear, no bias: run is its own linear part
    if isinstance(m, (nn.Flatten, nn.Unflatten, nn.Identity)):
        return _Step("shape", label, run=m, module=m)
    if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                      nn.FeatureAlphaDropout)):
        return _Step("shape", label, run=lambda x: x, module=m)
    if isinstance(m, nn.LeakyReLU):
        raise TypeError(
            f"from_torch: {label} is not supported. A ReLUNetwork has ReLU units (slope 0 below zero); with a "
            "LeakyReLU the regions are the same hyperplane arrangement but every local affine map changes "
            "(the slope a > 0 replaces 0, so no unit ever drops the rank), and polyrank's ranks, codeword "
            f"ranks and topology results would be wrong for it. Replace it by nn.ReLU. ({_SUPPORTED_TEXT})")
    raise TypeError(f"from_torch: the layer {label} is not supported: polyrank analyses piecewise-linear "
                    f"networks made of affine layers and ReLUs. {_SUPPORTED_TEXT}.")


# --------------------------------------------------------------------------- tracing
_RELU_METHODS = ("relu", "relu_")
_SHAPE_METHODS = ("flatten", "view", "reshape", "contiguous")
#: dtype / device casts: the identity on values (the final check compares in the module's dtype)
_CAST_METHODS = ("float", "double", "to", "cpu", "cuda", "clone", "detach")


def _relu_functions():
    import torch
    import torch.nn.functional as F

    return (torch.relu, torch.relu_, F.relu, F.relu_)


def _shape_functions():
    import torch

    return (torch.flatten, torch.reshape)


def _is_size_node(n, prev, sizes):
    if n.op == "call_method" and n.target == "size" and n.args and n.args[0] is prev:
        return True
    if n.op == "call_function" and n.target is getattr and len(n.args) == 2 and n.args[0] is prev \
            and n.args[1] == "shape":
        return True
    return n.op == "call_function" and n.target is operator.getitem and n.args and n.args[0] in sizes


def _size_value(node, x):
    """Evaluate a size node (x.size(...), x.shape, their items) on the tensor ``x``."""
    if node.op == "call_method":
        return x.size(*node.args[1:])
    if node.target is getattr:
        return x.shape
    return _size_value(node.args[0], x)[node.args[1]]


def _resolve(args, x):
    from torch.fx.node import map_arg

    return map_arg(args, lambda nd: _size_value(nd, x))


def _fx_steps(module):
    """Steps of the forward pass from torch.fx, or raise ``_NotTraceable`` (fx failed) /
    ValueError (the graph is not a chain)."""
    import torch.fx as fx
    import torch.nn.functional as F
    from torch.fx.node import Node

    try:
        gm = fx.symbolic_trace(module)
    except Exception as exc:  # fx raises many kinds (TraceError, TypeError, ...)
        raise _NotTraceable(f"{type(exc).__name__}: {exc}") from exc
    nodes = list(gm.graph.nodes)
    ph = [n for n in nodes if n.op == "placeholder"]
    if len(ph) != 1:
        raise ValueError(f"from_torch: the module's forward takes {len(ph)} inputs; it needs one tensor input.")
    relus, shapes = _relu_functions(), _shape_functions()
    prev, sizes, steps = ph[0], set(), []

    def not_chain(n, why):
        return ValueError(f"from_torch: the forward pass is not a chain of supported layers: at {n.format_node()!r}"
                          f" {why}. Branches, skip connections, several inputs or outputs and parameters used "
                          f"outside their layer cannot be folded into a ReLUNetwork. {_SUPPORTED_TEXT}.")

    for n in nodes:
        if n.op == "placeholder":
            continue
        if n.op == "output":
            if n.args[0] is not prev:
                raise not_chain(n, "the module returns something other than the last layer's output")
            break
        if _is_size_node(n, prev, sizes):
            sizes.add(n)
            continue
        if n.op == "get_attr":
            raise not_chain(n, f"the forward reads the tensor {n.target!r} directly")
        first = n.args[0] if n.args else None
        if first is not prev:
            raise not_chain(n, "the operation does not take the previous layer's output as its input")
        extra = [a for a in _nodes_in((n.args[1:], n.kwargs), Node)]
        if any(a not in sizes for a in extra):
            raise not_chain(n, "the operation combines the previous output with another value")
        if set(prev.users) - sizes != {n}:
            raise not_chain(n, f"the output of {prev.name!r} is used more than once")
        if n.op == "call_module":
            step = _module_step(gm.get_submodule(n.target), n.target)
        elif n.op == "call_function" and n.target in relus:
            step = _Step("relu", f"{n.target.__name__}()")
        elif n.op == "call_method" and n.target in _RELU_METHODS:
            step = _Step("relu", f".{n.target}()")
        elif n.op == "call_function" and n.target in shapes:
            step = _shape_step(n.target, n, f"torch.{n.target.__name__}()")
        elif n.op == "call_function" and n.target is F.dropout:
            step = _Step("shape", "F.dropout()", run=lambda x: x)
        elif n.op == "call_method" and n.target in _SHAPE_METHODS:
            step = _shape_step(None, n, f".{n.target}()")
        elif n.op == "call_method" and n.target in _CAST_METHODS:
            step = _Step("shape", f".{n.target}()", run=lambda x: x)  # folding works in float64 anyway
        else:
            what = getattr(n.target, "__name__", str(n.target))
            raise TypeError(f"from_torch: the call {what!r} ({n.format_node()}) in the forward pass is not "
                            f"supported. {_SUPPORTED_TEXT}.")
        if extra and step.kind != "shape":
            raise not_chain(n, "a size is passed to an operation that is not a reshape")
        steps.append(step)
        prev, sizes = n, set()
    return steps


def _nodes_in(obj, Node):
    if isinstance(obj, Node):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _nodes_in(o, Node)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _nodes_in(o, Node)


def _shape_step(func, node, label):
    args, kwargs = node.args[1:], dict(node.kwargs)
    name = node.target

    def run(x):
        a = _resolve(args, x)
        k = _resolve(kwargs, x)
        return func(x, *a, **k) if func is not None else getattr(x, name)(*a, **k)

    return _Step("shape", label, run=run)


class _NotTraceable(Exception):
    pass


def _hook_steps(module, input_shape, why):
    """Steps from forward hooks on the leaf modules, run on a zero probe input."""
    import torch

    names = {}
    for name, m in module.named_modules():
        if not list(m.children()):
            names[m] = name
    if input_shape is None:  # a guess from the first registered layer; the final check tests it
        first = next(iter(names), None)
        if isinstance(first, torch.nn.Linear):
            input_shape = (first.in_features,)
        elif isinstance(first, torch.nn.BatchNorm1d):
            input_shape = (first.num_features,)
        else:
            raise ValueError(f"from_torch: torch.fx cannot trace this module ({why}); pass input_shape so that "
                             "its layers can be recorded on a probe input.")
    calls = []
    handles = [m.register_forward_hook(lambda mod, inp, out: calls.append(mod)) for m in names]
    dtype = _module_dtype(module)
    try:
        with torch.no_grad(), _eval_mode(module):
            module(torch.zeros((1,) + input_shape, dtype=dtype, device=_module_device(module)))
    except Exception as exc:
        raise ValueError(f"from_torch: running the module on a probe input of shape {input_shape} failed "
                         f"({type(exc).__name__}: {exc}).") from exc
    finally:
        for h in handles:
            h.remove()
    return [_module_step(m, names[m]) for m in calls], input_shape


# --------------------------------------------------------------------------- helpers
def _module_dtype(module):
    import torch

    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float64


def _module_device(module):
    for t in list(module.parameters()) + list(module.buffers()):
        return t.device
    return "cpu"


class _eval_mode:
    """Put every submodule in eval mode and restore each one's flag afterwards."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.flags = [(m, m.training) for m in self.module.modules()]
        self.module.eval()

    def __exit__(self, *exc):
        for m, flag in self.flags:
            m.training = flag


def _input_shape(steps, input_shape):
    import torch.nn as nn

    if input_shape is not None:
        if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
            input_shape = (int(input_shape),)
        try:
            shape = tuple(input_shape)
        except TypeError:
            shape = None
        if (shape is None or not shape or any(isinstance(s, bool) or not isinstance(s, numbers.Integral)
                                              or s < 1 for s in shape)):
            raise ValueError("The 'input_shape' parameter of from_torch must be the shape of one input without "
                             f"the batch dimension, a tuple of positive ints like (3, 32, 32); got {input_shape!r}.")
        return tuple(int(s) for s in shape)
    for s in steps:
        if s.kind == "shape":
            continue
        m = s.module
        if isinstance(m, nn.Linear):
            return (m.in_features,)
        if isinstance(m, nn.BatchNorm1d):
            return (m.num_features,)
        if s.kind == "relu" or m is None:
            break
        raise ValueError(f"from_torch: the model starts with {s.label}; pass input_shape, the shape of one "
                         "input without the batch dimension, e.g. input_shape=(1, 28, 28) for 28x28 "
                         "one-channel images.")
    for s in steps:  # starts with a ReLU: take the first Linear's width (the chain check explains)
        if isinstance(s.module, nn.Linear):
            return (s.module.in_features,)
    raise ValueError("from_torch: the module contains no affine layer (no nn.Linear, nn.Conv2d, ...); "
                     f"{_SUPPORTED_TEXT}.")


def _fold(seg, shape):
    """Dense (W, b, output shape) of a chain of affine and shape steps acting on inputs of ``shape``."""
    import torch

    import torch.nn as nn

    n_in = math.prod(shape)
    sizes, shapes = [], []
    with torch.no_grad():
        z = torch.zeros((1,) + shape, dtype=torch.float64)
        for s in seg:
            try:
                z = s.run(z)
            except Exception as exc:
                raise ValueError(f"from_torch: the layer {s.label} cannot take an input of shape "
                                 f"{tuple(z.shape[1:])} ({type(exc).__name__}: {exc}). Check input_shape "
                                 f"(the shape of one input without the batch dimension).") from exc
            sizes.append(z[0].numel())
            shapes.append(tuple(z.shape[1:]))
        out_shape = tuple(z.shape[1:])
        n_out = math.prod(out_shape)
        if n_in * n_out > MAX_FOLDED_ENTRIES:
            raise ValueError(f"from_torch: folding {' -> '.join(s.label for s in seg)} gives a dense "
                             f"{n_out} x {n_in} matrix ({n_in * n_out * 8 / 2**30:.1f} GiB), more than the "
                             f"{MAX_FOLDED_ENTRIES * 8 / 2**30:.0f} GiB from_torch builds "
                             "(polyrank._torch.MAX_FOLDED_ENTRIES).")
        linears = [s.module for s in seg if s.kind == "affine"]
        if len(shape) == 1 and len(out_shape) == 1 and all(len(t) == 1 for t in shapes) \
                and all(isinstance(m, nn.Linear) for m in linears):
            # vectors all the way (reshapes of a vector are the identity): multiply the weights
            W = _f64(linears[0].weight)
            for m in linears[1:]:
                W = _f64(m.weight) @ W
            return W.numpy().copy(), z.reshape(n_out).numpy().copy(), out_shape
        W = np.empty((n_out, n_in))
        chunk = max(1, min(n_in, FOLD_CHUNK_ENTRIES // max([n_in] + sizes)))
        for c0 in range(0, n_in, chunk):
            k = min(chunk, n_in - c0)
            E = torch.zeros((k, n_in), dtype=torch.float64)
            E[torch.arange(k), torch.arange(c0, c0 + k)] = 1.0
            E = E.reshape((k,) + shape)
            for s in seg:
                E = s.lin(E)
            W[:, c0:c0 + k] = E.reshape(k, n_out).T.numpy()
        b = z.reshape(n_out).numpy().copy()
    return W, b, out_shape


def fold_module(module, input_shape=None):
    """``(weights, biases, readout, input_shape, steps)`` of a torch module; see the module docstring."""
    try:
        steps = _fx_steps(module)
        via, note = "torch.fx", ""
    except _NotTraceable as exc:
        steps = None
        why = str(exc)
    if steps is None:
        shape = _input_shape([], input_shape) if input_shape is not None else None
        steps, input_shape = _hook_steps(module, shape, why)
        via = f"forward hooks (torch.fx could not trace the module: {why})"
        note = (f" The layers were recorded with {via}, which cannot see functional calls such as F.relu: "
                "use nn.ReLU modules, or make the forward traceable.")
    try:
        return _fold_steps(steps, input_shape) + (via,)
    except ValueError as exc:
        raise ValueError(str(exc) + note) from exc


def _fold_steps(steps, input_shape):
    shape = _input_shape(steps, input_shape)
    segs = [[]]
    for s in steps:
        if s.kind == "relu":
            if not any(t.kind == "affine" for t in segs[-1]):
                where = "at the start" if len(segs) == 1 else "right after another ReLU"
                raise ValueError(f"from_torch: an nn.ReLU must follow an affine layer (nn.Linear, nn.Conv2d, ...); "
                                 f"the ReLU {s.label} comes {where}.")
            segs.append([])
        else:
            segs[-1].append(s)
    if not any(s.kind == "affine" for s in steps):
        raise ValueError("from_torch: the module contains no affine layer (no nn.Linear, nn.Conv2d, ...); "
                         f"{_SUPPORTED_TEXT}.")
    if len(segs) == 1:
        raise ValueError("from_torch: the module has no hidden (affine + ReLU) layer; it is a single affine map.")
    weights, biases = [], []
    cur = shape
    for seg in segs[:-1]:
        W, b, cur = _fold(seg, cur)
        weights.append(W)
        biases.append(b)
    readout = None
    if any(s.kind == "affine" for s in segs[-1]):
        W, b, _ = _fold(segs[-1], cur)
        readout = (W, b)
    return weights, biases, readout, shape


def verify_module(module, net, input_shape, via):
    """Compare ``net`` with ``module`` on :data:`VERIFY_POINTS` random inputs; ValueError if they differ."""
    import torch

    dtype = _module_dtype(module)
    g = torch.Generator().manual_seed(0)
    n = VERIFY_POINTS
    X = torch.randn((n,) + input_shape, generator=g, dtype=torch.float64)
    X[n // 2:] *= 10.0
    Xm = X.to(dtype)
    try:
        with torch.no_grad(), _eval_mode(module):  # in small batches: batch-dependent branches show
            ref = [module(Xm[i:i + VERIFY_BATCH].to(_module_device(module))) for i in range(0, n, VERIFY_BATCH)]
    except Exception as exc:
        raise ValueError(f"from_torch: running the module on random inputs of shape {input_shape} failed "
                         f"({type(exc).__name__}: {exc}).") from exc
    if not all(isinstance(r, torch.Tensor) for r in ref):
        bad = next(r for r in ref if not isinstance(r, torch.Tensor))
        raise ValueError(f"from_torch: the module returns a {type(bad).__name__}, not one tensor.")
    ref = torch.cat([r.detach().to("cpu", torch.float64).reshape(len(r), -1) for r in ref]).numpy()
    got = net.forward(Xm.to(torch.float64).reshape(n, -1).numpy())
    if ref.shape != got.shape:
        raise ValueError(f"from_torch: the traced layers (via {via}) give {got.shape[1]} outputs but the module "
                         f"gives {ref.shape[1]}; its forward pass is not the chain of layers recorded. "
                         f"{_SUPPORTED_TEXT}.")
    rtol = VERIFY_RTOL.get(str(dtype).replace("torch.", ""), 1e-4)
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    err = float(np.abs(got - ref).max(initial=0.0))
    if not err <= rtol * scale:
        raise ValueError(f"from_torch: the network built from the traced layers (via {via}) differs from the "
                         f"module's own forward by {err:.3g} on random inputs (tolerance {rtol * scale:.3g}), "
                         "so the forward pass does something the recorded chain of layers does not (a "
                         "functional call torch.fx could not see, a skip connection, ...). "
                         f"{_SUPPORTED_TEXT}.")
