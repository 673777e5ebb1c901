"""A circle glued at k arcs becomes a wedge of k circles.

A one-layer network whose k units are all dead exactly inside a regular k-gon (for
k = 2 a slab, for k = 1 a half-plane) has rank 0 there and nowhere else. The k-gon is
chosen so that the unit circle pokes out of every side but not out of the corners:
the circle meets the rank-0 region in k disjoint arcs, all in ONE region, so all k
arcs map to one point. Gluing them to one point turns the circle into a wedge of k
circles, reduced Betti numbers (0, k) (appendix 7.2 of the paper). Gluing each arc
to its own point instead leaves a circle, (0, 1).

Run it with ``python examples/circle_wedge.py``. Expected output::

    k  arcs  rank-0 cells  quotient (one point)  quotient (own points)
    1     1             1                (0, 1)                 (0, 1)
    2     2             1                (0, 2)                 (0, 1)
    3     3             1                (0, 3)                 (0, 1)
    4     4             1                (0, 4)                 (0, 1)
    5     5             1                (0, 5)                 (0, 1)
    6     6             1                (0, 6)                 (0, 1)
"""

import numpy as np

import polyrank as pr


def kgon_network(k):
    """k units ReLU(n_i . x - a), dead exactly inside a k-gon (slab for 2, half-plane for 1)."""
    if k == 1:
        return pr.ReLUNetwork.from_weights([[[1.0, 0.0]]], [[-0.6]])
    if k == 2:
        return pr.ReLUNetwork.from_weights([[[0.0, 1.0], [0.0, -1.0]]], [[-0.6, -0.6]])
    a = 0.5 * (1.0 + np.cos(np.pi / k))           # 1 > a > cos(pi/k): sides cut the circle
    t = 2 * np.pi * (np.arange(k) + 0.5) / k
    return pr.ReLUNetwork.from_weights([np.stack([np.cos(t), np.sin(t)], 1)], [np.full(k, -a)])


def main():
    circle = pr.circle(90)
    print("k  arcs  rank-0 cells  quotient (one point)  quotient (own points)")
    for k in range(1, 7):
        net = kgon_network(k)
        # threshold=1: only rank-0 pieces form A; glue_rank=0: only they are glued
        one = pr.analyze(net, circle, threshold=1, glue_rank=0, image=False)
        own = pr.analyze(net, circle, threshold=1, glue_rank=0, glue="component", image=False)
        print(f"{k}  {own.n_components_A:>4}  {one.n_rank0_pieces:>12}  {str(tuple(one.betti_quotient)):>20}"
              f"  {str(tuple(own.betti_quotient)):>21}")


if __name__ == "__main__":
    main()
