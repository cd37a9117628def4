"""Data sets for the torch backend: scikit-learn's digits, generated data, CIFAR-10/100 binaries.

Nothing is downloaded (DESIGN §5). Every set is returned as tensors in memory, split into train and
test, images shaped (C, H, W), features standardised:

=========  =====================================================================================
digits     scikit-learn's 8x8 handwritten digits (1797 images, 10 classes, shipped with the
           package); a seeded stratified-free 80/20 split; pixels / 16, then standardised
synthetic  ``n`` points x ~ N(0, I_64) shaped (1, 8, 8), label argmax(W2 relu(W1 x)) of a random
           two-layer teacher (10 classes), a seeded 80/20 split — learnable, not linearly trivial
cifar10    the standard binary format (``data_batch_{1..5}.bin``, ``test_batch.bin``; records of
           1 label byte + 3072 pixel bytes, channel-major 32x32) from a local directory
cifar100   ``train.bin``, ``test.bin`` (2 label bytes: coarse, fine; the fine label is used)
=========  =====================================================================================

The CIFAR directory may be the extracted archive's parent (``cifar-10-batches-bin`` /
``cifar-100-binary`` inside it) or that folder itself; a subset of the training batches is fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from asyncconv.config import ConfigError

__all__ = ["DATASETS", "Dataset", "load_cifar", "load_data", "write_cifar_binary"]

DATASETS = ("digits", "synthetic", "cifar10", "cifar100")
_CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
_CIFAR_DIRS = {"cifar10": "cifar-10-batches-bin", "cifar100": "cifar-100-binary"}
_PIXELS = 3 * 32 * 32


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test tensors: X float (N, C, H, W), y int64 (N,)."""

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.X_train.shape[1:])

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def to(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Dataset:
        return Dataset(
            self.name, self.X_train.to(device, dtype), self.y_train.to(device),
            self.X_test.to(device, dtype), self.y_test.to(device), self.n_classes,
        )  # fmt: skip


def _split(X: np.ndarray, y: np.ndarray, seed: int, test_fraction: float) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, round(test_fraction * len(y)))
    te, tr = perm[:n_test], perm[n_test:]
    return X[tr], y[tr], X[te], y[te]


def _standardise(Xtr: np.ndarray, Xte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = Xtr.mean(), Xtr.std() + 1e-8
    return (Xtr - mu) / sd, (Xte - mu) / sd


def _tensors(name: str, parts: tuple[np.ndarray, ...], n_classes: int) -> Dataset:
    Xtr, ytr, Xte, yte = parts
    return Dataset(
        name, torch.from_numpy(np.ascontiguousarray(Xtr, dtype=np.float32)), torch.from_numpy(ytr.astype(np.int64)),
        torch.from_numpy(np.ascontiguousarray(Xte, dtype=np.float32)), torch.from_numpy(yte.astype(np.int64)),
        n_classes,
    )  # fmt: skip


def _digits(seed: int, test_fraction: float) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).reshape(-1, 1, 8, 8)
    Xtr, ytr, Xte, yte = _split(X, d.target, seed, test_fraction)
    Xtr, Xte = _standardise(Xtr, Xte)
    return _tensors("digits", (Xtr, ytr, Xte, yte), 10)


def _synthetic(seed: int, test_fraction: float, n: int) -> Dataset:
    rng = np.random.default_rng([seed, 64])
    X = rng.standard_normal((n, 64))
    W1 = rng.standard_normal((64, 64)) / 8.0
    W2 = rng.standard_normal((10, 64))
    y = np.argmax(np.maximum(X @ W1.T, 0.0) @ W2.T, axis=1)
    Xtr, ytr, Xte, yte = _split(X.reshape(-1, 1, 8, 8), y, seed, test_fraction)
    return _tensors("synthetic", (Xtr, ytr, Xte, yte), 10)


def _read_records(path: Path, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    rec = label_bytes + _PIXELS
    if raw.size == 0 or raw.size % rec:
        raise ConfigError(
            "data_dir", f"{path} is not a CIFAR binary file (size {raw.size} is not a multiple of {rec})"
        )
    raw = raw.reshape(-1, rec)
    return raw[:, label_bytes:].reshape(-1, 3, 32, 32), raw[:, label_bytes - 1].astype(np.int64)


def load_cifar(name: str, data_dir: str | Path | None) -> Dataset:
    """CIFAR-10 or CIFAR-100 from the standard binary files in ``data_dir`` (see the module docstring)."""
    if data_dir is None:
        raise ConfigError(
            "data_dir", f"{name} needs the directory of its binary files (nothing is downloaded)"
        )
    root = Path(data_dir)
    if not root.is_dir():
        raise ConfigError("data_dir", f"directory not found: {root}")
    if (root / _CIFAR_DIRS[name]).is_dir():
        root = root / _CIFAR_DIRS[name]
    if name == "cifar10":
        train = sorted(root.glob("data_batch_*.bin"))
        test = [root / "test_batch.bin"]
        label_bytes, n_classes, need = 1, 10, "data_batch_*.bin and test_batch.bin"
    else:
        train = [root / "train.bin"]
        test = [root / "test.bin"]
        label_bytes, n_classes, need = 2, 100, "train.bin and test.bin"
    if not train or not all(p.is_file() for p in train + test):
        raise ConfigError("data_dir", f"{root} lacks the {name} binary files ({need})")
    parts = []
    for files in (train, test):
        xs, ys = zip(*(_read_records(p, label_bytes) for p in files), strict=True)
        X, y = np.concatenate(xs), np.concatenate(ys)
        if y.max() >= n_classes:
            raise ConfigError("data_dir", f"{files[0]} has label {int(y.max())} outside 0..{n_classes - 1}")
        mean, std = (np.asarray(v, dtype=np.float32)[None, :, None, None] for v in _CIFAR_STATS[name])
        parts += [(X.astype(np.float32) / 255.0 - mean) / std, y]
    return _tensors(name, tuple(parts), n_classes)


def write_cifar_binary(
    path: str | Path, images: np.ndarray, labels: np.ndarray, coarse: np.ndarray | None = None
) -> Path:
    """Write records in the CIFAR binary format: uint8 images (N, 3, 32, 32) and labels (N,);
    with ``coarse`` (CIFAR-100) each record starts with the coarse then the fine label."""
    images = np.asarray(images, dtype=np.uint8).reshape(len(labels), _PIXELS)
    cols = [np.asarray(labels, dtype=np.uint8)[:, None], images]
    if coarse is not None:
        cols.insert(0, np.asarray(coarse, dtype=np.uint8)[:, None])
    path = Path(path)
    np.concatenate(cols, axis=1).tofile(path)
    return path


def load_data(
    name: str,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    n_synthetic: int = 5000,
) -> Dataset:
    """Load a data set by name (one of :data:`DATASETS`); the split of digits/synthetic is seeded."""
    if name == "digits":
        return _digits(seed, test_fraction)
    if name == "synthetic":
        return _synthetic(seed, test_fraction, n_synthetic)
    if name in _CIFAR_DIRS:
        return load_cifar(name, data_dir)
    raise ConfigError("data", f"must be one of {', '.join(DATASETS)} (got {name!r})")
