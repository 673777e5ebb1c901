"""Data: MNIST from IDX files, scikit-learn's digits (the embedded default), the
optimisation test functions of the paper's appendix with their discretisations, and the
follow-up paper's trained classifiers on the data sets of Naitzat et al."""

from . import functions as _functions
from . import mnist as _mnist
from . import naitzat as _naitzat
from .functions import *  # noqa: F401,F403
from .mnist import *  # noqa: F401,F403
from .naitzat import *  # noqa: F401,F403

__all__ = list(_mnist.__all__) + list(_functions.__all__) + list(_naitzat.__all__)
