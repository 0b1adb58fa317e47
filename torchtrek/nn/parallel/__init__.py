"""torch.nn.parallel: DataParallel (one device: the module itself, under `.module`) and
DistributedDataParallel over torch.distributed's MPI world."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from ..modules.module import Module


class DataParallel(Module):
    """With one device (or none), torch's DataParallel calls the module: so does this."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids = device_ids or []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


class DistributedDataParallel(Module):
    """Data-parallel training over the MPI world (torch.distributed): rank 0's parameters and
    buffers are broadcast at construction; after each backward the gradients are averaged
    across ranks by bucketed all-reduces (an autograd callback at the end of backward, as
    torch's reducer queues one). `no_sync()` skips that for gradient accumulation.

    Compiled: `DDP(torch.compile(model))` (nanoGPT's order) compiles the forward and reduces
    in the eager backward; a whole training step compiled around a DDP model puts the bucketed
    average into the graph as `all_reduce` ops between its backward and its optimizer update
    (see ir/ops/distributed.py)."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, process_group: Any = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, **kwargs: Any) -> None:
        from ... import distributed as dist

        super().__init__()
        if not dist.is_initialized():
            raise ValueError("Default process group has not been initialized, please make sure "
                             "to call init_process_group.")
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        params = [p for p in module.parameters() if p.requires_grad]
        comm = dist._comm()
        shapes = [(tuple(p.shape), p.dtype.name) for p in module.parameters()]
        every = comm.allgather(shapes)
        if any(s != every[0] for s in every):
            bad = next(r for r, s in enumerate(every) if s != every[0])
            raise RuntimeError(f"DistributedDataParallel: the model's parameters differ across "
                               f"ranks (rank 0 has {len(every[0])} parameters, rank {bad} "
                               f"{len(every[bad])}, or their shapes / dtypes differ): every "
                               f"rank must build the same model")
        from ... import no_grad

        with no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t, 0)
        self._params = params
        self._buckets = self._make_buckets(params)
        self.require_backward_grad_sync = True
        self._queued = False
        for p in params:
            p.register_hook(self._on_grad)

    def _make_buckets(self, params: list[Any]) -> list[list[Any]]:
        # in reverse order of registration (gradients tend to be ready last layer first),
        # by dtype, up to bucket_cap_mb each
        buckets: list[list[Any]] = []
        size = 0
        for p in reversed(params):
            nbytes = p.numel() * p.dtype.itemsize
            if not buckets or size + nbytes > self.bucket_bytes_cap or \
                    buckets[-1][0].dtype is not p.dtype:
                buckets.append([])
                size = 0
            buckets[-1].append(p)
            size += nbytes
        return buckets

    def _on_grad(self, grad: Any) -> None:
        from ...autograd import queue_callback

        if self.require_backward_grad_sync and not self._queued:
            self._queued = True
            queue_callback(self._reduce)
        return None

    def _reduce(self) -> None:
        """Average every gradient across ranks (zeros stand in for a gradient this rank did
        not produce; a parameter no rank used keeps grad None)."""
        from mpi4py import MPI

        from ... import distributed as dist

        self._queued = False
        comm = dist._comm()
        n = comm.Get_size()
        for bucket in self._buckets:
            used = np.array([p.grad is not None for p in bucket], np.int8)
            comm.Allreduce(MPI.IN_PLACE, used, op=MPI.MAX)
            if not self.find_unused_parameters and not used.all():
                names = {id(p): k for k, p in self.module.named_parameters()}
                missing = [names.get(id(p), "?") for p, u in zip(bucket, used) if not u]
                raise RuntimeError(
                    "DistributedDataParallel: parameters received no gradient on any rank: "
                    f"{missing}; pass find_unused_parameters=True if the model leaves some "
                    "unused")
            flat = np.concatenate([
                (p.grad._concrete("DDP") if p.grad is not None else
                 np.zeros(p.shape, p.dtype.name)).reshape(-1) for p in bucket])
            comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
            flat /= n
            offset = 0
            for p, u in zip(bucket, used):
                k = p.numel()
                if u:
                    values = flat[offset:offset + k].reshape(p.shape)
                    if p.grad is None:
                        from ...creation import tensor as _tensor

                        p.grad = _tensor(values.copy())
                    else:
                        p.grad._data[...] = values
                offset += k

    def _reduce_traced(self) -> None:
        """Inside a traced backward: the gradients' bucketed average as `all_reduce` ops."""
        import torchtrek as tt

        with tt.no_grad():
            for bucket in self._buckets:
                got = [p for p in bucket if p.grad is not None]
                if not got:
                    continue
                flat = tt.cat([p.grad.reshape(-1) for p in got])
                from ..._dispatch import bind

                flat = bind("all_reduce", [flat], {"reduction": "avg"})
                offset = 0
                for p in got:
                    k = p.numel()
                    p.grad = flat[offset:offset + k].reshape(p.shape)
                    offset += k

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        from ... import distributed as dist
        from ...tracer import current_trace

        ctx = current_trace()
        if ctx is not None and self.require_backward_grad_sync and \
                self._reduce_traced not in ctx.after_backward:
            # a compiled step: the all-reduce becomes ops of the graph, after the backward
            ctx.after_backward.append(self._reduce_traced)
        if self.broadcast_buffers and self.training:
            from ... import no_grad

            with no_grad():
                for b in self.module.buffers():
                    dist.broadcast(b, 0)
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Gradients accumulate locally inside this block (no all-reduce)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


__all__ = ["DataParallel", "DistributedDataParallel"]
