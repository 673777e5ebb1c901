"""Exception hierarchy of polyrank.

Every error that polyrank raises on purpose derives from :class:`PolyrankError`,
except plain ``ValueError`` / ``TypeError`` for malformed arguments, which follow
Python's conventions.
"""

from __future__ import annotations

__all__ = [
    "PolyrankError",
    "LPError",
    "InfeasibleError",
    "UnboundedError",
    "RegionLimitError",
    "MemoryBudgetError",
    "CertificateError",
    "BoxPrecisionError",
    "PrecisionWarning",
]


class PolyrankError(Exception):
    """Base class of the errors polyrank raises for algorithmic reasons."""


class LPError(PolyrankError):
    """HiGHS stopped without an optimum (time limit, numerical trouble, ...)."""


class InfeasibleError(LPError):
    """The linear program has no feasible point."""


class UnboundedError(LPError):
    """The linear program is unbounded."""


class RegionLimitError(PolyrankError):
    """An enumeration found more regions than ``max_regions`` allows."""


class MemoryBudgetError(PolyrankError):
    """A computation would need more memory than the caller's budget allows."""


class CertificateError(PolyrankError):
    """A decomposition failed its completeness certificate (:meth:`Decomposition.verify`)."""


class BoxPrecisionError(PolyrankError):
    """Over an unbounded domain, the subdivision engine's box is too large for float64 to
    resolve ``tol`` (``polyrank.subdivision.BOX_ROUNDING_SAFETY``), or some of its regions do
    not contain their witnesses. Raised only where the caller asked for it:
    ``enumerate_regions(method="auto")`` catches it and runs the LP engine. ``args[0]`` is
    the box's half-width in local units; ``args[1]``, when present, what failed."""


class PrecisionWarning(UserWarning):
    """A decomposition may miss regions: some were thinner than ``tol`` and were dropped, or
    the requested precision is out of float64's reach (see ``Decomposition.precision_limited``
    and ``Decomposition.stats["precision_notes"]``)."""
