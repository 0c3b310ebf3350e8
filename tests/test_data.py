"""The IDX loader: round trips, every fault it must name, and the embedded MNIST."""
import gzip

import numpy as np
import pytest

from experiments.data.idx import DataError, read_idx
from experiments.data.mnist import load_dataset


def idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_dataset(directory, n_train=6, n_test=4, compress=True, rng=None):
    """Writes the four IDX files of a tiny synthetic data set; returns the arrays written."""
    rng = rng or np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 5, 3)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 5, 3)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, array in arrays.items():
        content = idx_bytes(array)
        if compress:
            (directory / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (directory / name).write_bytes(content)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, compress):
    arrays = write_dataset(tmp_path, compress=compress)
    data = load_dataset(tmp_path)
    np.testing.assert_array_equal(data.train_images, arrays["train-images-idx3-ubyte"].reshape(6, 15).astype(np.float32) / 255)
    np.testing.assert_array_equal(data.test_labels, arrays["t10k-labels-idx1-ubyte"])
    assert data.train_images.dtype == np.float32 and data.image_shape == (5, 3)
    assert data.train_labels.dtype == np.int64


def test_missing_file_names_the_expected_files(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\[\.gz\]: file not found; .*train-images-idx3-ubyte"):
        load_dataset(tmp_path)


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="nowhere: data directory not found"):
        load_dataset(tmp_path / "nowhere")


def test_truncated_gzip(tmp_path):
    write_dataset(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        load_dataset(tmp_path)


def test_file_that_is_neither_gzip_nor_idx(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="labels: wrong magic number 0x3c68746d, expected 0x00000801"):
        read_idx(path, 1)


def test_wrong_magic_number(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((2, 3, 3))))
    with pytest.raises(DataError, match="images: wrong magic number 0x00000803, expected 0x00000801"):
        read_idx(path, 1)


def test_size_disagrees_with_header(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((2, 3, 3)))[:-1])
    with pytest.raises(DataError, match=r"images: size 33 bytes disagrees with the header's shape \(2, 3, 3\) \(34 bytes\)"):
        read_idx(path, 3)


def test_truncated_header(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="images: truncated header"):
        read_idx(path, 3)


def test_checksum_mismatch(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(3)))
    with pytest.raises(DataError, match="labels: checksum mismatch .* expected 0123"):
        read_idx(path, 1, md5="0123")


def test_images_and_labels_disagree_in_count(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5))))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: 5 labels for 6 images"):
        load_dataset(tmp_path)


@pytest.fixture(scope="session")
def mnist():
    return load_dataset()


def test_embedded_mnist(mnist):
    assert mnist.train_images.shape == (60000, 784) and mnist.test_images.shape == (10000, 784)
    assert mnist.train_images.dtype == np.float32
    assert mnist.train_images.min() == 0 and mnist.train_images.max() == 1
    np.testing.assert_array_equal(np.bincount(mnist.train_labels),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert np.bincount(mnist.test_labels).sum() == 10000

