"""torch.distributed: importable (train scripts import init_process_group at the top);
process groups are not supported yet, so they raise NotImplementedError when called."""

from __future__ import annotations

from typing import Any


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def _unsupported(name: str) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"torch.distributed.{name} is not supported by TorchTrek yet "
                                  "(no process groups); run the script in one process")
    fn.__name__ = name
    return fn


init_process_group = _unsupported("init_process_group")
destroy_process_group = _unsupported("destroy_process_group")
all_reduce = _unsupported("all_reduce")
broadcast = _unsupported("broadcast")
barrier = _unsupported("barrier")


def get_rank(group: Any = None) -> int:
    raise ValueError("Default process group has not been initialized, please make sure to call "
                     "init_process_group.")


get_world_size = get_rank


def __getattr__(name: str) -> Any:
    from .._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)
