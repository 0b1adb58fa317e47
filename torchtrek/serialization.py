"""tt.save / tt.load: tensors and nested containers in a safe, documented file format.

Format (version 1). A file is a ZIP archive with these entries:

    torchtrek.json      {"format": "torchtrek", "version": 1, "object": NODE}
    tensors/0.npy       one NumPy .npy file per distinct tensor (no pickled objects)
    tensors/1.npy       ...

NODE is a JSON object with exactly one key, the kind of value:

    {"tensor": {"id": 0, "requires_grad": false, "parameter": false}}  -> tensors/0.npy
    {"ndarray": 1}                   a NumPy array (-> tensors/1.npy)
    {"dict": [[KEY, VALUE], ...], "ordered": true}   keys are NODEs (int or str keys)
    {"list": [NODE, ...]}   {"tuple": [NODE, ...]}   {"size": [int, ...]}
    {"int": 3}   {"float": "0.1"} (repr: also inf and nan)   {"bool": true}
    {"str": "..."}   {"none": null}   {"dtype": "float32"}

    {"pickle": 0}     any other object (a whole nn.Module, as torch.save(model) stores
                      it) -> objects/0.pkl, a pickle whose tensors are references to
                      tensors/N.npy entries (pickle persistent ids)

A tensor stored twice (shared between entries) is written once and loads as one object.
Arrays are read with allow_pickle=False. A "pickle" entry is unpickled as torch.load does
it: with weights_only (the default) only allowlisted globals may be built, the containers
and TorchTrek's own types plus what `add_safe_globals` / `safe_globals` name (the user's
module classes); weights_only=False unpickles anything, so only for trusted files.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import io
import json
import os
import pickle
import zipfile
from collections import OrderedDict
from typing import IO, Any, Iterable, Iterator

import numpy as np

from .ir import dtypes
from .ir.dtypes import DType
from .tensor import Size, Tensor, dtype_of_array

FORMAT, VERSION = "torchtrek", 1
_HEADER = "torchtrek.json"

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals"]

_user_safe: list[Any] = []


def add_safe_globals(safe: Iterable[Any]) -> None:
    """Allow these classes / functions to be built by a weights_only load (as torch's)."""
    _user_safe.extend(safe)


def get_safe_globals() -> list[Any]:
    return list(_user_safe)


def clear_safe_globals() -> None:
    _user_safe.clear()


@contextlib.contextmanager
def safe_globals(safe: Iterable[Any]) -> Iterator[None]:
    """`with safe_globals([MyModel]): tt.load(f)`: allowlisted for this block only."""
    added = list(safe)
    _user_safe.extend(added)
    try:
        yield
    finally:
        for g in added:
            _user_safe.remove(g)


def _default_safe() -> list[Any]:
    from .nn.parameter import Parameter

    return [collections.OrderedDict, builtins.set, builtins.frozenset, builtins.slice,
            builtins.complex, dtypes._by_name, dtypes.UnsupportedDType, Parameter, Tensor, Size]


def save(obj: Any, f: str | os.PathLike | IO[bytes], pickle_module: Any = None,
         pickle_protocol: int = 2, _use_new_zipfile_serialization: bool = True) -> None:
    """Write `obj` (tensors, Parameters, NumPy arrays, dicts, lists, tuples, str, int,
    float, bool, None, dtypes) to the path or binary file `f`."""
    arrays: list[np.ndarray] = []
    ids: dict[int, int] = {}
    pickles: list[bytes] = []
    node = _encode(obj, arrays, ids, pickles)
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        z.writestr(_HEADER, json.dumps({"format": FORMAT, "version": VERSION, "object": node}))
        for i, blob in enumerate(pickles):
            z.writestr(f"objects/{i}.pkl", blob)
        for i, a in enumerate(arrays):
            with z.open(f"tensors/{i}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, a, allow_pickle=False)


def _tensor_spec(obj: Tensor, array_id: Any) -> dict[str, Any]:
    from .nn.parameter import Parameter

    data = obj._concrete("tt.save(tensor)")
    return {"id": array_id(id(obj), data), "requires_grad": obj.requires_grad,
            "parameter": isinstance(obj, Parameter)}


def _encode(obj: Any, arrays: list[np.ndarray], ids: dict[int, int],
            pickles: list[bytes] | None = None) -> dict[str, Any]:
    def array_id(key: int, a: np.ndarray) -> int:
        if key not in ids:
            ids[key] = len(arrays)
            arrays.append(a)
        return ids[key]

    def enc(x: Any) -> dict[str, Any]:
        return _encode(x, arrays, ids, pickles)

    if isinstance(obj, Tensor):
        return {"tensor": _tensor_spec(obj, array_id)}
    if isinstance(obj, np.ndarray):
        dtype_of_array(obj)  # only the dtypes tensors have (no object arrays)
        return {"ndarray": array_id(id(obj), obj)}
    if isinstance(obj, DType):
        return {"dtype": obj.name}
    if obj is None:
        return {"none": None}
    if isinstance(obj, bool):
        return {"bool": obj}
    if isinstance(obj, (int, np.integer)):
        return {"int": int(obj)}
    if isinstance(obj, (float, np.floating)):
        return {"float": repr(float(obj))}
    if isinstance(obj, str):
        return {"str": obj}
    if isinstance(obj, Size):
        return {"size": [int(s) for s in obj]}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"tt.save: dict keys must be str or int, got {type(k).__name__}")
        return {"dict": [[enc(k), enc(v)] for k, v in obj.items()],
                "ordered": isinstance(obj, OrderedDict)}
    if isinstance(obj, list):
        return {"list": [enc(v) for v in obj]}
    if isinstance(obj, tuple) and type(obj) is tuple:
        return {"tuple": [enc(v) for v in obj]}
    if pickles is not None:
        return {"pickle": _pickle_object(obj, array_id, pickles)}
    raise TypeError(
        f"tt.save cannot store a {type(obj).__module__}.{type(obj).__qualname__}: only tensors, "
        "NumPy arrays, dicts, lists, tuples, str, int, float, bool, None and dtypes (objects "
        "are never pickled; save a module's state_dict() instead of the module)")


def _pickle_object(obj: Any, array_id: Any, pickles: list[bytes]) -> int:
    """`obj` pickled (a module, as torch.save(model) stores it), its tensors by reference."""
    buf = io.BytesIO()

    class _Pickler(pickle.Pickler):
        def persistent_id(self, x: Any) -> Any:
            if isinstance(x, Tensor):
                return ("tensor", _tensor_spec(x, array_id))
            if isinstance(x, np.ndarray):
                dtype_of_array(x)
                return ("ndarray", array_id(id(x), x))
            return None

    try:
        _Pickler(buf, protocol=4).dump(obj)
    except (pickle.PicklingError, TypeError, AttributeError) as err:
        raise TypeError(f"tt.save cannot store a {type(obj).__module__}."
                        f"{type(obj).__qualname__}: it does not pickle ({err})") from None
    pickles.append(buf.getvalue())
    return len(pickles) - 1


class _Reader:
    def __init__(self, z: zipfile.ZipFile, where: str) -> None:
        self.z, self.where = z, where
        self.arrays: dict[int, np.ndarray] = {}
        self.tensors: dict[int, Tensor] = {}
        self.weights_only = True

    def array(self, i: int) -> np.ndarray:
        if i not in self.arrays:
            try:
                with self.z.open(f"tensors/{i}.npy") as fh:
                    a = np.lib.format.read_array(io.BytesIO(fh.read()), allow_pickle=False)
            except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
                raise RuntimeError(f"{self.where}: tensor entry {i} is missing or corrupt ({err})") from None
            dtype_of_array(a)
            self.arrays[i] = a
        return self.arrays[i]

    def tensor(self, spec: dict[str, Any]) -> Tensor:
        i = int(spec["id"])
        if i not in self.tensors:
            t = Tensor._wrap(self.array(i))
            if spec.get("parameter"):
                from .nn.parameter import Parameter

                t = Parameter(t, requires_grad=bool(spec.get("requires_grad", True)))
            elif spec.get("requires_grad"):
                t.requires_grad_(True)
            self.tensors[i] = t
        return self.tensors[i]

    def unpickle(self, i: int) -> Any:
        reader = self
        weights_only = self.weights_only
        allowed = {id(g) for g in _default_safe() + _user_safe}

        class _Unpickler(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                obj = super().find_class(module, name)
                if weights_only and id(obj) not in allowed:
                    raise pickle.UnpicklingError(
                        f"Weights only load failed. Unsupported global: GLOBAL {module}.{name} "
                        f"was not an allowed global by default. Please use "
                        f"`torch.serialization.add_safe_globals([{name}])` or the "
                        f"`torch.serialization.safe_globals([{name}])` context manager to "
                        f"allowlist this global if you trust this class/function (or load "
                        f"with weights_only=False if you trust the whole file).")
                return obj

            def persistent_load(self, pid: Any) -> Any:
                kind, spec = pid
                return reader.tensor(spec) if kind == "tensor" else reader.array(int(spec)).copy()

        try:
            blob = self.z.read(f"objects/{i}.pkl")
        except KeyError:
            raise RuntimeError(f"{self.where}: object entry {i} is missing") from None
        return _Unpickler(io.BytesIO(blob)).load()

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict) or not node:
            raise RuntimeError(f"{self.where}: malformed entry {node!r} in torchtrek.json")
        kind = next(iter(node))
        v = node[kind]
        if kind == "tensor":
            return self.tensor(v)
        if kind == "ndarray":
            return self.array(int(v)).copy()
        if kind == "dict":
            items = [(self.decode(k), self.decode(x)) for k, x in v]
            return OrderedDict(items) if node.get("ordered") else dict(items)
        if kind in ("list", "tuple", "size"):
            seq = [int(x) for x in v] if kind == "size" else [self.decode(x) for x in v]
            return {"list": list, "tuple": tuple, "size": Size}[kind](seq)
        if kind in ("none", "bool", "str"):
            return v
        if kind == "int":
            return int(v)
        if kind == "float":
            return float(v)
        if kind == "dtype":
            return dtypes.dtype_from_name(v)
        if kind == "pickle":
            return self.unpickle(int(v))
        raise RuntimeError(f"{self.where}: unknown entry kind {kind!r} in torchtrek.json")


def load(f: str | os.PathLike | IO[bytes], map_location: Any = None, pickle_module: Any = None,
         *, weights_only: bool | None = None, mmap: Any = None, **kwargs: Any) -> Any:
    """Read what tt.save wrote. Anything else (a torch.save checkpoint, a truncated or
    foreign file) raises RuntimeError saying what was found."""
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else "<file object>"
    try:
        z = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise RuntimeError(f"{where} is not a TorchTrek file (tt.save writes a zip archive; "
                           f"this is not one: {err})") from None
    with z:
        names = z.namelist()
        if _HEADER not in names:
            torch_like = any(n.endswith("data.pkl") for n in names)
            raise RuntimeError(
                f"{where} is not a TorchTrek file (no {_HEADER} entry)"
                + ("; it looks like a torch.save checkpoint: load it with torch.load and "
                   "convert its tensors with tt.tensor(t.numpy())" if torch_like else ""))
        try:
            header = json.loads(z.read(_HEADER))
        except (ValueError, zipfile.BadZipFile) as err:
            raise RuntimeError(f"{where}: {_HEADER} is corrupt ({err})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise RuntimeError(f"{where} is not a TorchTrek file (unknown format header)")
        if header.get("version") != VERSION:
            raise RuntimeError(f"{where} was written in TorchTrek file format version "
                               f"{header.get('version')}; this version reads {VERSION}")
        reader = _Reader(z, where)
        reader.weights_only = weights_only is None or bool(weights_only)
        try:
            return reader.decode(header["object"])
        except (KeyError, TypeError, ValueError) as err:
            raise RuntimeError(f"{where}: corrupt contents ({type(err).__name__}: {err})") from None
