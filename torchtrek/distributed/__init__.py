"""torch.distributed over MPI (mpi4py): one process group, the world, with torch's names and
semantics. Start the processes with `mpiexec -n N python train.py` (or `torchtrek launch -n N
train.py`); `init_process_group()` joins them (backend "mpi"; "gloo" and "nccl" are accepted
and mean MPI here). Collectives work on tensors in place, their NumPy buffers handed to MPI
without a copy when contiguous.

Needs the `distributed` extra (`pip install -e ".[distributed]"`: mpi4py and the mpich wheel);
without it `is_available()` is False and init_process_group says what to install."""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Any

import numpy as np

_world: dict[str, Any] = {}  # "comm": the MPI communicator once initialized


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class Backend:
    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"


class group:  # noqa: N801  (torch.distributed.group.WORLD)
    WORLD = "WORLD"


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI


def is_available() -> bool:
    return _mpi() is not None


def is_mpi_available() -> bool:
    return is_available()


def is_initialized() -> bool:
    return "comm" in _world


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the MPI world (the processes mpiexec started); world_size / rank, when given,
    must be what MPI says."""
    MPI = _mpi()
    if MPI is None:
        raise RuntimeError("torch.distributed needs MPI here: pip install -e \".[distributed]\" "
                           "(mpi4py and the mpich wheel), then start with mpiexec -n N (or "
                           "torchtrek launch -n N)")
    if is_initialized():
        raise ValueError("trying to initialize the default process group twice!")
    if backend not in (None, "mpi", "gloo", "nccl", "cpu:gloo,cuda:nccl"):
        raise ValueError(f"Invalid backend: '{backend}' (TorchTrek runs every backend on MPI)")
    comm = MPI.COMM_WORLD
    if world_size not in (-1, comm.Get_size()) or rank not in (-1, comm.Get_rank()):
        raise ValueError(f"init_process_group(world_size={world_size}, rank={rank}) does not "
                         f"match the MPI world (size {comm.Get_size()}, this rank "
                         f"{comm.Get_rank()}): start the processes with mpiexec -n "
                         f"{world_size if world_size > 0 else 'N'}")
    _world["comm"] = comm
    _world["backend"] = backend or "mpi"


def destroy_process_group(group: Any = None) -> None:
    _world.clear()


def _comm() -> Any:
    comm = _world.get("comm")
    if comm is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return comm


def get_rank(group: Any = None) -> int:
    return _comm().Get_rank()


def get_world_size(group: Any = None) -> int:
    return _comm().Get_size()


def get_backend(group: Any = None) -> str:
    _comm()
    return _world["backend"]


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> None:
    _comm().Barrier()


class _Done:
    """What a collective with async_op=True returns (the work is already done)."""

    def wait(self, timeout: Any = None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True


def _result(async_op: bool) -> Any:
    return _Done() if async_op else None


def _array(t: Any, what: str) -> np.ndarray:
    data = t._values_or_none() if hasattr(t, "_values_or_none") else None
    if data is None:
        raise NotImplementedError(f"torch.distributed.{what} inside a compiled function is not "
                                  "supported by TorchTrek; call collectives eagerly")
    if not isinstance(t._data, np.ndarray):
        raise NotImplementedError(f"torch.distributed.{what} of a GPU tensor is not supported "
                                  "(MPI here moves host memory)")
    return t._data


def _check_same(comm: Any, what: str, sig: Any) -> None:
    """Every rank must pass the same shape and dtype: a mismatch is an error on all of them."""
    sigs = comm.allgather(sig)
    if any(s != sigs[0] for s in sigs):
        raise RuntimeError(f"torch.distributed.{what}: the ranks passed tensors of different "
                           f"shapes or dtypes: " + ", ".join(f"rank {r}: {s}" for r, s in
                                                            enumerate(sigs)))


def _mpi_op(op: Any) -> Any:
    MPI = _mpi()
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]


def _write(t: Any, values: np.ndarray) -> None:
    from ..autograd import bump_version

    if values is not t._data:
        t._data[...] = values
    bump_version(t)


def all_reduce(tensor: Any, op: ReduceOp = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Any:
    """Reduce `tensor` across every rank, in place (AVG divides the sum by the world size)."""
    comm = _comm()
    a = _array(tensor, "all_reduce")
    _check_same(comm, "all_reduce", (tuple(a.shape), a.dtype.name))
    buf = a if a.flags.c_contiguous else np.ascontiguousarray(a)
    comm.Allreduce(_mpi().IN_PLACE, buf, op=_mpi_op(op))
    if op is ReduceOp.AVG:
        if buf.dtype.kind in "iub":
            buf //= comm.Get_size()
        else:
            buf /= comm.Get_size()
    _write(tensor, buf)
    return _result(async_op)


def broadcast(tensor: Any, src: int = 0, group: Any = None, async_op: bool = False) -> Any:
    """Rank `src`'s values into `tensor` on every rank."""
    comm = _comm()
    a = _array(tensor, "broadcast")
    _check_same(comm, "broadcast", (tuple(a.shape), a.dtype.name))
    buf = a if a.flags.c_contiguous else np.ascontiguousarray(a)
    comm.Bcast(buf, root=src)
    _write(tensor, buf)
    return _result(async_op)


def all_gather(tensor_list: list[Any], tensor: Any, group: Any = None,
               async_op: bool = False) -> Any:
    """Every rank's `tensor` into tensor_list[rank], on every rank."""
    comm = _comm()
    a = np.ascontiguousarray(_array(tensor, "all_gather"))
    n = comm.Get_size()
    if len(tensor_list) != n:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a world "
                         f"of {n}")
    _check_same(comm, "all_gather", (tuple(a.shape), a.dtype.name))
    out = np.empty((n,) + a.shape, a.dtype)
    comm.Allgather(a, out)
    for t, v in zip(tensor_list, out):
        _write(t, v)
    return _result(async_op)


def all_gather_into_tensor(output_tensor: Any, input_tensor: Any, group: Any = None,
                           async_op: bool = False) -> Any:
    comm = _comm()
    a = np.ascontiguousarray(_array(input_tensor, "all_gather_into_tensor"))
    out = np.empty((comm.Get_size() * a.shape[0],) + a.shape[1:] if a.ndim else
                   (comm.Get_size(),), a.dtype)
    comm.Allgather(a, out)
    _write(output_tensor, out.reshape(output_tensor._data.shape))
    return _result(async_op)


def reduce_scatter(output: Any, input_list: list[Any], op: ReduceOp = ReduceOp.SUM,
                   group: Any = None, async_op: bool = False) -> Any:
    """The reduction of input_list[r] over ranks lands in `output` on rank r."""
    comm = _comm()
    n = comm.Get_size()
    if len(input_list) != n:
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors for a "
                         f"world of {n}")
    stacked = np.ascontiguousarray(np.stack([_array(t, "reduce_scatter") for t in input_list]))
    _check_same(comm, "reduce_scatter", (tuple(stacked.shape), stacked.dtype.name))
    out = np.empty(stacked.shape[1:], stacked.dtype)
    comm.Reduce_scatter_block(stacked, out, op=_mpi_op(op))
    if op is ReduceOp.AVG:
        out = out / n if out.dtype.kind == "f" else out // n
    _write(output, out.astype(stacked.dtype, copy=False))
    return _result(async_op)


def all_to_all(output_tensor_list: list[Any], input_tensor_list: list[Any], group: Any = None,
               async_op: bool = False) -> Any:
    """input_tensor_list[r] of this rank lands in output_tensor_list[this rank] of rank r."""
    comm = _comm()
    got = comm.alltoall([np.ascontiguousarray(_array(t, "all_to_all")) for t in input_tensor_list])
    for t, v in zip(output_tensor_list, got):
        _write(t, v)
    return _result(async_op)


def all_gather_object(object_list: list[Any], obj: Any, group: Any = None) -> None:
    object_list[:] = _comm().allgather(obj)


def broadcast_object_list(object_list: list[Any], src: int = 0, group: Any = None,
                          device: Any = None) -> None:
    object_list[:] = _comm().bcast(list(object_list), root=src)


def gather_object(obj: Any, object_gather_list: list[Any] | None = None, dst: int = 0,
                  group: Any = None) -> None:
    got = _comm().gather(obj, root=dst)
    if object_gather_list is not None and got is not None:
        object_gather_list[:] = got


def graph_all_reduce(a: np.ndarray, op: str) -> np.ndarray:
    """The `all_reduce` IR op at run time (generated code calls it): a new array."""
    MPI = _mpi()
    out = np.ascontiguousarray(a).copy()
    _comm().Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
    if op == "avg":
        out /= _comm().Get_size()
    return out


def reduce(tensor: Any, dst: int = 0, op: ReduceOp = ReduceOp.SUM, group: Any = None,
           async_op: bool = False) -> Any:
    comm = _comm()
    a = np.ascontiguousarray(_array(tensor, "reduce"))
    out = np.empty_like(a)
    comm.Reduce(a, out, op=_mpi_op(op), root=dst)
    if comm.Get_rank() == dst:
        if op is ReduceOp.AVG:
            out = out / comm.Get_size() if out.dtype.kind == "f" else out // comm.Get_size()
        _write(tensor, out.astype(a.dtype, copy=False))
    return _result(async_op)


def __getattr__(name: str) -> Any:
    from .._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)

