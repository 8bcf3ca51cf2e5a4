"""Reading pickled numpy files without running code from them.

PartNetE ships each shape's labels as `label.npy`: a numpy file holding a pickled dict of arrays.
`np.load(..., allow_pickle=True)` would run whatever a crafted file asks for. Here the pickle is
read with an unpickler that admits only what such files hold (dicts, lists, strings, numbers and
numpy arrays, whose pickles name `ndarray`, `dtype` and numpy's array reconstruction functions)
and refuses every other global, the way `torch.load(weights_only=True)` reads checkpoints.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from partdistill.errors import PdError


def _numpy_internal(name: str) -> object:
    """A function of numpy's array pickling, wherever this numpy keeps it (numpy 2: numpy._core)."""
    core = getattr(np, "_core", None) or np.core
    module, _, attribute = name.rpartition(".")
    return getattr(getattr(core, module), attribute)


# (module, name) a numpy pickle may name -> the object it means. numpy 1 pickles name numpy.core,
# numpy 2 pickles numpy._core.
ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{
        (f"{package}.{module}", function): _numpy_internal(f"{module}.{function}")
        for package in ("numpy.core", "numpy._core")
        for module, function in (
            ("multiarray", "_reconstruct"),
            ("multiarray", "scalar"),
            ("numeric", "_frombuffer"),
        )
    },
}


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names something a numpy data file never holds."""


class _NumpyOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        raise RefusedPickle(f"{module}.{name}")


def load_npy(path: Path) -> object:
    """The value in a .npy file, read as `np.load(path, allow_pickle=True)` reads it but with
    `_NumpyOnly` for anything pickled: a plain array; an object array's pickled value (a 0-d one
    gives its one item, as `.item()` would); or, for a bare pickle without the .npy header (which
    np.load also accepts), the pickled value."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
                handle.seek(0)
                value = _NumpyOnly(handle).load()
            else:
                handle.seek(0)
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                _, _, dtype = read_header(handle)
                if not dtype.hasobject:
                    handle.seek(0)
                    return np.load(handle, allow_pickle=False)
                value = _NumpyOnly(handle).load()
    except RefusedPickle as error:
        raise PdError(
            f"{path} asks to run {error} while being read; a numpy data file never does, so it was not read."
        ) from error
    except (
        OSError,
        ValueError,
        EOFError,
        MemoryError,
        pickle.UnpicklingError,
        TypeError,
        AttributeError,
    ) as error:
        raise PdError(f"{path} is not a readable numpy file ({type(error).__name__}: {error}).") from error
    if isinstance(value, np.ndarray) and value.dtype.hasobject and value.shape == ():
        return value.item()
    return value
