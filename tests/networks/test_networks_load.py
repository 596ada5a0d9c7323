"""Issue 13: a damaged network ``.npz`` is a one-line ConfigError naming the file, never a traceback."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import xbarsim.networks as nw
from xbarsim.errors import ConfigError


@pytest.fixture
def saved(tmp_path):
    net = nw.init_mlp((4, 6, 3), rng=0)
    path = tmp_path / "net.npz"
    np.savez_compressed(path, **net.to_dict())
    return net, path


def test_a_saved_network_round_trips(saved):
    net, path = saved
    back = nw.load_network(path)
    x = np.random.default_rng(1).normal(size=(5, 4))
    np.testing.assert_array_equal(back.forward(x), net.forward(x))


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":  # corrupt the compressed member: CRC / zlib error when read
        b = bytearray(data)
        for k in range(60, min(len(b) - 30, 400)):
            b[k] ^= 0x5A
        path.write_bytes(bytes(b))
    elif how == "text":
        path.write_text("weights: [1, 2, 3]\n")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "pickle":
        np.savez(path, **{"layers.0.weight": np.array([object()], dtype=object)})
    elif how == "foreign":
        np.savez(path, x=np.ones(3))
    elif how == "bad-zip-member":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("layers.0.weight.npy", b"\x93NUMPY garbage")
    elif how == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.ones(3))
    elif how == "missing":
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "flipped", "text", "empty", "pickle", "foreign", "bad-zip-member", "npy", "missing"])
def test_a_damaged_network_file_is_a_one_line_config_error(saved, how):
    _, path = saved
    _damage(path, how)
    with pytest.raises(ConfigError) as info:
        nw.load_network(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
