"""polyrank: exact polytope decompositions, ranks and topology of ReLU networks.

The public names of the core modules are re-exported here; ``__all__`` is the union of
their ``__all__`` lists (functions, classes and constants only: no submodule, so
``from polyrank import *`` never binds ``enumerate`` or ``rank`` to a module). The
submodules ``data``, ``train``, ``init``, ``experiments``, ``subdivision`` (which pull in
torch, scikit-learn or numba) load on first access: ``pr.data``, ``pr.init``.
"""

import importlib as _importlib

from . import (analysis as _analysis, classifying as _classifying, complex as _complex,
               decision as _decision, domain as _domain, enumerate as _enumerate, exceptions as _exceptions,
               faces as _faces, image as _image, intersect as _intersect, manifolds as _manifolds, milp as _milp,
               network as _network, orbits as _orbits, plot as _plot, rank as _rank, regions as _regions, store as _store,
               tiling as _tiling, topology as _topology)
from . import lp, rank  # noqa: F401  (pr.rank.matrix_rank, pr.lp.solve_lp)
from .analysis import *  # noqa: F401,F403
from .classifying import *  # noqa: F401,F403
from .complex import *  # noqa: F401,F403
from .decision import *  # noqa: F401,F403
from .domain import *  # noqa: F401,F403
from .enumerate import *  # noqa: F401,F403
from .exceptions import *  # noqa: F401,F403
from .faces import *  # noqa: F401,F403
from .image import *  # noqa: F401,F403
from .intersect import *  # noqa: F401,F403
from .manifolds import *  # noqa: F401,F403
from .milp import *  # noqa: F401,F403
from .network import *  # noqa: F401,F403
from .orbits import *  # noqa: F401,F403
from .plot import *  # noqa: F401,F403
from .rank import *  # noqa: F401,F403
from .regions import *  # noqa: F401,F403
from .store import *  # noqa: F401,F403
from .tiling import *  # noqa: F401,F403
from .topology import *  # noqa: F401,F403

__version__ = "0.1.0"

__all__ = [name for _m in (_exceptions, _network, _domain, _regions, _enumerate, _rank, _milp, _complex,
                           _manifolds, _intersect, _topology, _analysis, _classifying, _faces, _decision, _image, _tiling, _store, _orbits, _plot)
           for name in _m.__all__]

_LAZY = ("data", "train", "init", "experiments", "manifolds", "topology", "intersect", "subdivision")


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'polyrank' has no attribute {name!r}")
