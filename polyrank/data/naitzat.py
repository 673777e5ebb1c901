"""Trained classifiers of the follow-up paper on the data sets of Naitzat, Zhitnikov & Lim.

Beshkov et al. (*A Quotient Homology Theory of Representation Neural Networks*, public code
``KBeshkov/QuotientHomology``, MIT licence) trained fully connected ReLU classifiers on
subsamples of the three data sets of Naitzat, Zhitnikov & Lim (*Topology of deep neural
networks*, JMLR 21, 2020). Model 0 of each of their five families ships with polyrank
(``polyrank/data/naitzat_models/``, with the licence), so that
``polyrank reproduce flow`` can follow the topology of each class through classifiers that
others trained. :mod:`polyrank.experiments.flow` meshes the class manifolds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_naitzat_model", "NAITZAT_FAMILIES"]

#: family -> (data set, input dimension, hidden widths) of the shipped models.
NAITZAT_FAMILIES = {
    "D-I": ("D-I", 2, (15,) * 9),
    "D-II": ("D-II", 3, (15,) * 9),
    "D-II-2": ("D-II", 3, (25,) * 9),
    "D-III": ("D-III", 3, (15,) * 9),
    "D-III-2": ("D-III", 3, (50,) * 9),
}

_DIR = Path(__file__).resolve().parent / "naitzat_models"


def load_naitzat_model(family):
    """Model 0 of a family of the follow-up paper's trained classifiers, as a network.

    Parameters
    ----------
    family : {"D-I", "D-II", "D-II-2", "D-III", "D-III-2"}
        See :data:`NAITZAT_FAMILIES`: the data set it was trained on and its widths.

    Returns
    -------
    ReLUNetwork
        Nine hidden layers and the 2-logit read-out, in float64 (the stored float32
        values, unchanged). Logit 0 is the data set's class 0.

    Raises
    ------
    ValueError
        If ``family`` is not one of :data:`NAITZAT_FAMILIES`.

    Examples
    --------
    >>> net = pr.data.load_naitzat_model("D-II")
    >>> net.input_dim, net.widths, net.output_dim
    (3, (15, 15, 15, 15, 15, 15, 15, 15, 15), 2)
    """
    from ..network import ReLUNetwork

    if not isinstance(family, str) or family not in NAITZAT_FAMILIES:
        raise ValueError(f"The 'family' parameter of load_naitzat_model must be one of "
                         f"{tuple(NAITZAT_FAMILIES)}; got {family!r}.")
    with np.load(_DIR / f"{family}_model_0.npz") as z:
        n = sum(1 for k in z.files if k.startswith("W"))
        W = [z[f"W{i}"].astype(np.float64) for i in range(n)]
        b = [z[f"b{i}"].astype(np.float64) for i in range(n)]
    return ReLUNetwork.from_weights(W[:-1], b[:-1], readout=(W[-1], b[-1]))
