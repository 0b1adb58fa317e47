"""`import torch` resolving to TorchTrek: `install_as_torch()` and `torchtrek run SCRIPT.py`.

`torch` and every `torch.X.Y` a program imports map to `torchtrek` and `torchtrek.X.Y`, the same
module objects (so `torch.nn.Module is torchtrek.nn.Module`). A torch submodule TorchTrek does not
have raises ModuleNotFoundError naming it; a missing attribute raises `Unsupported`, which is both
an AttributeError (so `hasattr(torch, "x")` stays False, as scripts probing for features expect)
and a NotImplementedError whose message names the torch API.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import traceback
import types
from typing import Any, Sequence

_PREFIX = "torch"
_TARGET = "torchtrek"


class Unsupported(NotImplementedError, AttributeError):
    """A torch API TorchTrek does not provide."""


def unsupported_attribute(module: str, name: str) -> Unsupported:
    shown = module.replace(_TARGET, _PREFIX, 1)
    return Unsupported(f"{shown}.{name} is not supported by TorchTrek (module {module!r} has no "
                       f"attribute {name!r}); see README 'Run your PyTorch program'")


def _target_name(fullname: str) -> str:
    return _TARGET + fullname[len(_PREFIX):]


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module: Any) -> None:
        self.module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        self._saved = {k: getattr(self.module, k) for k in ("__spec__", "__loader__")
                       if k in getattr(self.module, "__dict__", {})}
        return self.module

    def exec_module(self, module: Any) -> None:
        # importlib stamped the alias spec onto the shared module: put torchtrek's back
        for k, v in self._saved.items():
            setattr(module, k, v)


class _TorchFinder(importlib.abc.MetaPathFinder):
    """Resolves `torch[.X...]` to the TorchTrek module (or namespace object) of the same path."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != _PREFIX and not fullname.startswith(_PREFIX + "."):
            return None
        module = _resolve(_target_name(fullname), fullname)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module))


def _resolve(name: str, shown: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise
    parent, _, attr = name.rpartition(".")
    obj = getattr(importlib.import_module(parent), attr, None) if parent else None
    if obj is None or isinstance(obj, (type, types.FunctionType)):
        raise ModuleNotFoundError(f"No module named {shown!r}: TorchTrek does not provide this "
                                  f"part of torch (see README 'Run your PyTorch program')",
                                  name=shown)
    return obj  # a namespace object standing in for a torch submodule (torch.cuda, ...)


def install_as_torch() -> None:
    """Make `import torch` (and `import torch.nn.functional as F`, ...) give TorchTrek."""
    if any(isinstance(f, _TorchFinder) for f in sys.meta_path):
        return
    if _PREFIX in sys.modules and not getattr(sys.modules[_PREFIX], "__name__", "").startswith(_TARGET):
        raise RuntimeError("install_as_torch(): the real torch is already imported in this process")
    importlib.import_module(_TARGET)
    from .ir import dtypes

    dtypes.set_display_prefix(_PREFIX)  # print torch.float64, torch.Size, as torch does
    for name, module in list(sys.modules.items()):
        if name == _TARGET or name.startswith(_TARGET + "."):
            sys.modules.setdefault(_PREFIX + name[len(_TARGET):], module)
    sys.meta_path.insert(0, _TorchFinder())


def run_script(path: str, argv: Sequence[str]) -> int:
    """Run SCRIPT as `python SCRIPT args...` would, with torch resolving to TorchTrek."""
    install_as_torch()
    if os.environ.get("TORCHTREK_LAUNCH") and "PMI_RANK" in os.environ:
        # under `torchtrek launch`: the variables torchrun-style scripts read, from MPI's
        os.environ.setdefault("RANK", os.environ["PMI_RANK"])
        os.environ.setdefault("WORLD_SIZE", os.environ.get("PMI_SIZE", "1"))
        os.environ.setdefault("LOCAL_RANK", os.environ.get("MPI_LOCALRANKID",
                                                           os.environ["PMI_RANK"]))
    script = os.path.abspath(path)
    if not os.path.exists(script):
        print(f"torchtrek run: can't open file {path!r}: no such file", file=sys.stderr)
        return 2
    sys.argv = [path, *argv]
    sys.path.insert(0, os.path.dirname(script))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except BaseException as exc:  # noqa: BLE001 - shown as python would, from the user's frames
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        return 1
    return 0
