"""Shared pieces of the ``polyrank`` command line (:mod:`polyrank.cli` and the figure
commands of :mod:`polyrank.experiments`).

* argparse value types that check a value completely and say what was expected and
  what came (argparse prefixes the option's name): :func:`int_type`, :func:`float_type`,
  :func:`widths_type`;
* :func:`parse`: options whose value starts with ``-`` (``--widths -3,4``) reach the
  value type instead of argparse's "expected one argument";
* :class:`HelpFormatter`: every option's help ends with its default;
* :func:`output_file` / :func:`output_dir` / :func:`output_parent`: output paths checked (and folders created)
  before any work; :class:`Outputs`: writes that report a partial set of outputs as such;
* :func:`user_errors`: errors of the user's making end the command with a message
  (``polyrank CMD: error: ...``) instead of a traceback; ``POLYRANK_TRACEBACK=1`` shows it.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys

#: Environment variable that makes the command line show tracebacks of user errors.
TRACEBACK_ENV = "POLYRANK_TRACEBACK"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help texts that end with the option's default (unless the text already states one)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text.lower() or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        d = action.default
        if isinstance(d, bool):
            shown = "on" if d else "off"
        elif isinstance(d, (list, tuple)):
            shown = ",".join(map(str, d))
        elif d is None:
            return text
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})"


def _fail(expected, text):
    return argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")


def int_type(minimum=None, maximum=None):
    """An argparse type: an int in ``[minimum, maximum]``."""
    if minimum is not None and maximum is not None:
        want = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        want = f"an integer >= {minimum}"
    else:
        want = "an integer"

    def parse_int(text):
        try:
            v = int(text)
        except ValueError:
            raise _fail(want, text) from None
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise _fail(want, text)
        return v

    parse_int.__name__ = "int"
    return parse_int


def float_type(minimum=None, *, strict=False, allow_zero=False, zero_means=None):
    """An argparse type: a finite float ``> minimum`` (``strict``) or ``>= minimum``; with
    ``allow_zero`` the value 0 is accepted too (``zero_means`` says what it means)."""
    if minimum is None:
        want = "a finite number"
    else:
        want = f"a finite number {'>' if strict else '>='} {minimum:g}"
        if allow_zero:
            want += f", or 0 for {zero_means}" if zero_means else ", or 0"

    def parse_float(text):
        try:
            v = float(text)
        except ValueError:
            raise _fail(want, text) from None
        if allow_zero and v == 0:
            return 0.0
        if not math.isfinite(v) or (minimum is not None and (v <= minimum if strict else v < minimum)):
            raise _fail(want, text)
        return v

    parse_float.__name__ = "float"
    return parse_float


#: Units of :func:`memory_type` (case-insensitive): binary (KiB, MiB, GiB, TiB; K, M, G, T
#: alone mean the same) and decimal (KB, MB, GB, TB).
MEMORY_UNITS = {"b": 1, "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30,
                "t": 2**40, "tib": 2**40, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def memory_type(text):
    """An argparse type: a memory size in bytes, written ``4GiB``, ``512MiB``, ``1.5G``,
    ``2GB``, ``1073741824B``, or a plain number of GiB (``2``, ``0.5``); see
    :data:`MEMORY_UNITS`."""
    want = "a memory size like 4GiB, 512MiB, 2GB or a plain number of GiB"
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    if m is None or (m.group(2) and m.group(2).lower() not in MEMORY_UNITS):
        raise _fail(want, text)
    number, unit = m.group(1), m.group(2).lower()
    v = float(number) * MEMORY_UNITS[unit or "g"]  # a plain number is GiB, as it always was
    if not math.isfinite(v) or v < 1:
        raise _fail(want + " of at least 1 byte", text)
    return int(v)


memory_type.__name__ = "memory size"


def widths_type(text):
    """An argparse type: comma-separated hidden widths, each an int >= 1 (``16,16,16``)."""
    want = "comma-separated positive integers like 16,16,16"
    parts = [t.strip() for t in str(text).split(",")]
    try:
        ws = [int(t) for t in parts if t]
    except ValueError:
        raise _fail(want, text) from None
    if not ws or min(ws) < 1 or any(not t for t in parts):
        raise _fail(want, text)
    return ws


widths_type.__name__ = "widths"


def parse(parser, argv):
    """``parser.parse_args(argv)``, with option values that start with ``-`` kept as values.

    argparse reads ``--widths -3,4`` as an option ``-3,4`` and fails with "expected one
    argument"; here such a value is joined to its option (``--widths=-3,4``) so that the
    option's type reports what is wrong with it.
    """
    takes_value = {}
    for action in parser._actions:
        for s in action.option_strings:
            takes_value[s] = action.nargs is None and action.const is None and not isinstance(
                action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._HelpAction))
    out, i = [], 0
    argv = list(argv)
    while i < len(argv):
        tok = argv[i]
        if (takes_value.get(tok) and i + 1 < len(argv) and argv[i + 1].startswith("-")
                and argv[i + 1] not in takes_value and argv[i + 1] != "--"):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return parser.parse_args(out)


# --------------------------------------------------------------------------- outputs
def _error(prog, message):
    return SystemExit(f"{prog}: error: {message}")


def _make_folder(folder, option, prog, what):
    probe = folder
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if probe and not os.path.isdir(probe):
        raise _error(prog, f"{option}: cannot create {what}: {probe!r} is a file, not a folder.")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise _error(prog, f"{option}: cannot create the folder {folder!r} ({exc.strerror or exc}).") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _error(prog, f"{option}: the folder {folder!r} is not writable.")
    return folder


def output_parent(path, option, prog):
    """Check (and create) the folder that will hold ``path``; an error naming ``option`` if a
    file is in the way or the folder is not writable."""
    return _make_folder(os.path.dirname(os.path.abspath(path)), option, prog, f"the folder of {path!r}")


def output_file(path, option, prog):
    """Check an output file path before any work: its folder is created if missing; a
    folder in its place, a file where a folder should be or a read-only folder is an error
    naming ``option``."""
    if path is None:
        return None
    if os.path.isdir(path):
        raise _error(prog, f"{option}: expected a file name; got {path!r}, which is a folder.")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise _error(prog, f"{option}: the file {path!r} exists and is not writable.")
    output_parent(path, option, prog)
    return path


def output_dir(path, option, prog):
    """Check (and create) an output folder before any work."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise _error(prog, f"{option}: expected a folder; got {path!r}, which is a file.")
    _make_folder(os.path.abspath(path), option, prog, f"the folder {path!r}")
    return path


class Outputs:
    """Write a command's outputs one by one; a failed write is reported, the others still
    happen, and :meth:`finish` says which were written and returns the exit status."""

    def __init__(self, prog):
        self.prog, self.written, self.failed = prog, [], []

    @contextlib.contextmanager
    def write(self, path):
        try:
            yield path
        except (OSError, ValueError, RuntimeError) as exc:
            self.failed.append((path, f"{type(exc).__name__}: {exc}"))
            print(f"{self.prog}: error: could not write {path}: {exc}", file=sys.stderr)
        else:
            self.written.append(path)
            print(f"wrote {path}")

    def finish(self):
        """0 when every output was written; else 1, after a line naming what is missing."""
        if not self.failed:
            return 0
        n = len(self.written) + len(self.failed)
        print(f"{self.prog}: partial outputs: wrote {len(self.written)} of {n} "
              f"({', '.join(self.written) or 'none'}); missing: {', '.join(p for p, _ in self.failed)}",
              file=sys.stderr)
        return 1


@contextlib.contextmanager
def user_errors(prog):
    """Turn the errors a user can cause (bad values reaching the library, unusable files,
    budgets) into ``SystemExit("PROG: error: ...")``; ``POLYRANK_TRACEBACK=1`` re-raises."""
    from .exceptions import PolyrankError

    try:
        yield
    except (ValueError, TypeError, OSError, PolyrankError, MemoryError) as exc:
        if os.environ.get(TRACEBACK_ENV):
            raise
        raise _error(prog, f"{exc} ({type(exc).__name__}; set {TRACEBACK_ENV}=1 for the traceback)") from None
    except KeyboardInterrupt:
        raise SystemExit(f"{prog}: interrupted") from None


def memory_budget(max_memory=None):
    """Bytes a command may use: ``max_memory`` bytes (from :func:`memory_type`), or half of
    this machine's memory."""
    if max_memory is not None:
        return int(max_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):  # pragma: no cover (non-POSIX)
        return 8 * 2**30


def network_bytes(input_dim, widths, output_dim=0):
    """Memory of a dense network's weights as torch float32 plus polyrank's float64 copy."""
    dims = [input_dim] + list(widths) + ([output_dim] if output_dim else [])
    n = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
    return 12 * n
