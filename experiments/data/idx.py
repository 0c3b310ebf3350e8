"""Reading IDX files (the MNIST format: http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"), gzip or raw.

Header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions n, then n
big-endian uint32 sizes. The data follow, exactly prod(sizes) bytes for unsigned bytes.
"""
import gzip
import hashlib
import math
import zlib

import numpy as np

from experiments.errors import Fault

UNSIGNED_BYTE = 0x08


class DataError(Fault):
    """A data file is missing or not what it claims to be; the message names the file and the fault."""


def read_bytes(path):
    """The file's decompressed bytes: gunzipped when it starts with the gzip magic 1f 8b, else as is."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from None


def parse_idx(content, path, expected_dims):
    """An array of uint8 from IDX bytes, checked: magic number, dimensions, byte count."""
    if len(content) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(content)} bytes)")
    zeros, type_code, n_dims = content[:2], content[2], content[3]
    if zeros != b"\x00\x00" or type_code != UNSIGNED_BYTE or n_dims != expected_dims:
        magic = int.from_bytes(content[:4], "big")
        expected = (UNSIGNED_BYTE << 8) | expected_dims
        raise DataError(f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected:08x} "
                        f"(unsigned bytes, {expected_dims} dimensions)")
    header_size = 4 + 4 * n_dims
    if len(content) < header_size:
        raise DataError(f"{path}: truncated header ({len(content)} bytes, need {header_size})")
    shape = tuple(int(d) for d in np.frombuffer(content, ">u4", count=n_dims, offset=4))
    expected_size = header_size + math.prod(shape)        # a Python integer: no overflow, whatever the header says
    if len(content) != expected_size:
        raise DataError(f"{path}: size {len(content)} bytes disagrees with the header's shape {shape} "
                        f"({expected_size} bytes)")
    return np.frombuffer(content, np.uint8, offset=header_size).reshape(shape)


def read_idx(path, expected_dims, md5=None):
    """Reads and checks one IDX file; with md5, also the MD5 of its decompressed bytes."""
    content = read_bytes(path)
    if md5 is not None:
        actual = hashlib.md5(content).hexdigest()
        if actual != md5:
            raise DataError(f"{path}: checksum mismatch (MD5 of the decompressed file is {actual}, expected {md5})")
    return parse_idx(content, path, expected_dims)
