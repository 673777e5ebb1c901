"""Pieces shared by the figure modules (fig3_mnist, fig3c, flow): finishing and saving a figure,
and checking that a plot function was given the output of its ``run``.

Examples
--------
>>> from polyrank.experiments import _common
>>> _common.check_results({"table": 1}, ("table",), "flow.run")
{'table': 1}
"""

from __future__ import annotations

__all__ = ["finish_figure", "check_results", "FIGURE_DPI"]

#: Resolution of the PNG files the figure modules write.
FIGURE_DPI = 150


def finish_figure(fig, path=None, *, tight=True):
    """Lay out ``fig`` (``tight_layout`` unless ``tight=False``) and, when ``path`` is given, save
    it there at :data:`FIGURE_DPI` with a tight bounding box; returns ``fig``.

    Examples
    --------
    >>> from polyrank.experiments._common import finish_figure
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig = finish_figure(plt.figure())
    >>> plt.close(fig)
    """
    if tight:
        fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    return fig


def check_results(results, keys, producer):
    """``results`` if it is a dict holding every entry of ``keys``, else ValueError naming
    ``producer`` (the function whose output a plot function expects).

    Examples
    --------
    >>> from polyrank.experiments._common import check_results
    >>> check_results([], ("table",), "flow.run")
    Traceback (most recent call last):
    ...
    ValueError: results must be the dict returned by flow.run (with 'table').
    """
    if not isinstance(results, dict) or any(k not in results for k in keys):
        with_ = " and ".join(repr(k) for k in keys)
        raise ValueError(f"results must be the dict returned by {producer} (with {with_}).")
    return results
