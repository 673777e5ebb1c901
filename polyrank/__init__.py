"""polyrank: exact polytope decompositions, ranks and topology of ReLU networks.

The public names of every module are re-exported here; each module's ``__all__``
is the list. The submodules ``data``, ``train``, ``init`` and ``experiments``
(which pull in torch or scikit-learn) load on first access: ``pr.data``, ``pr.init``.
"""

import importlib as _importlib

from .exceptions import *  # noqa: F401,F403
from .network import *  # noqa: F401,F403
from .domain import *  # noqa: F401,F403
from .regions import *  # noqa: F401,F403
from .enumerate import *  # noqa: F401,F403
from .rank import *  # noqa: F401,F403
from .milp import *  # noqa: F401,F403
from .manifolds import *  # noqa: F401,F403
from .intersect import *  # noqa: F401,F403
from .topology import *  # noqa: F401,F403
from .analysis import *  # noqa: F401,F403
from .orbits import *  # noqa: F401,F403
from .plot import *  # noqa: F401,F403
from . import rank, lp  # noqa: F401

__version__ = "0.1.0"

_LAZY = ("data", "train", "init", "experiments", "manifolds", "topology", "intersect", "subdivision")


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'polyrank' has no attribute {name!r}")
