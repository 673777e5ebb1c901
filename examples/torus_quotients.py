"""The torus quotients of docs/theory.md (appendix 7.2 of the paper), produced by handmade networks.

Each network is dead (rank 0 at its last layer) exactly on a chosen part A of a
torus (R = 2, r = 1, the z axis through the hole); ``pr.analyze`` refines the mesh
exactly, finds A and glues it. Reduced Betti numbers of the quotients (appendix 7.2
of the paper; the torus itself is (1, 2, 1)):

* A = a disk (a small cube around the point (3, 0, 0))             -> (0, 2, 1)
* A = a meridian band (slab |y| <= 0.3 on the side x >= 0)         -> (0, 1, 1)
* A = meridian U longitude (a three-layer min of the two bands)    -> (0, 0, 1)
* A = two parallel meridians (the whole slab |y| <= 0.3), one point -> (0, 2, 2)
* the same two meridians, each glued to its own point              -> (0, 1, 2)

Run it with ``python examples/torus_quotients.py``. Expected output::

    A                               pieces  reduced Betti of quotient
    disk                                 1  (0, 2, 1)
    meridian                             1  (0, 1, 1)
    meridian U longitude                 1  (0, 0, 1)
    two meridians, one point             1  (0, 2, 2)
    two meridians, two points            2  (0, 1, 2)
"""

import numpy as np

import polyrank as pr

R, r, d = 2.0, 1.0, 0.3


def layer(rows, offsets):
    return pr.ReLUNetwork.from_weights([np.asarray(rows, float)], [np.asarray(offsets, float)])


def disk_net():
    c = np.array([R + r, 0.0, 0.0])                    # a point of the torus
    return layer(np.concatenate([np.eye(3), -np.eye(3)]), np.concatenate([-c - d, c - d]))


def meridian_net():
    return layer([[0, 1, 0], [0, -1, 0], [-1, 0, 0]], [-d, -d, 0.0])


def slab_net():
    return layer([[0, 1, 0], [0, -1, 0]], [-d, -d])


def meridian_longitude_net(eps=0.05):
    # s = ReLU(y-d) + ReLU(-y-d) + ReLU(-x) vanishes on the meridian band,
    # t = ReLU(r - d - z) on the band around the top longitude (z = r);
    # the last unit ReLU(min(s, t) - eps) = ReLU(s - ReLU(s - t) - eps) is dead on their union.
    W1 = [[0, 1, 0], [0, -1, 0], [-1, 0, 0], [0, 0, -1]]
    b1 = [-d, -d, 0.0, r - d]
    W2 = [[1, 1, 1, 0], [1, 1, 1, -1]]
    W3 = [[1, -1]]
    return pr.ReLUNetwork.from_weights([W1, W2, W3], [b1, [0.0, 0.0], [-eps]])


def main():
    torus = pr.torus(32, 16, R=R, r=r)
    cases = [
        ("disk", disk_net(), "cell"),
        ("meridian", meridian_net(), "cell"),
        ("meridian U longitude", meridian_longitude_net(), "cell"),
        ("two meridians, one point", slab_net(), "cell"),
        ("two meridians, two points", slab_net(), "component"),
    ]
    print(f"{'A':<32}{'pieces':>6}  reduced Betti of quotient")
    for name, net, glue in cases:
        rep = pr.analyze(net, torus, threshold=1, glue_rank=0, glue=glue, image=False)
        print(f"{name:<32}{len(rep.pieces):>6}  {tuple(rep.betti_quotient)}")


if __name__ == "__main__":
    main()
