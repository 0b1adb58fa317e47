"""Run under mpiexec -n N by test_distributed.py: collectives against NumPy, and a DDP
training run that must equal one process training on the concatenated batch."""

import sys

import numpy as np

import torchtrek as tt
import torchtrek.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
out = {}

if mode == "collectives":
    x = tt.full((3,), float(rank + 1))
    dist.all_reduce(x)
    out["sum"] = x.tolist()
    y = tt.full((2,), float(rank + 1))
    dist.all_reduce(y, op=dist.ReduceOp.AVG)
    out["avg"] = y.tolist()
    z = tt.full((2,), float(rank + 1))
    dist.all_reduce(z, op=dist.ReduceOp.MAX)
    out["max"] = z.tolist()
    b = tt.full((2,), float(rank))
    dist.broadcast(b, src=world - 1)
    out["bcast"] = b.tolist()
    got = [tt.zeros(2) for _ in range(world)]
    dist.all_gather(got, tt.full((2,), float(rank)))
    out["gather"] = [g.tolist() for g in got]
    rs = tt.zeros(2)
    dist.reduce_scatter(rs, [tt.full((2,), float(rank + r)) for r in range(world)])
    out["reduce_scatter"] = rs.tolist()
    objs = [None] * world
    dist.all_gather_object(objs, {"rank": rank})
    out["objects"] = objs
    try:
        dist.all_reduce(tt.zeros(rank + 1))
    except RuntimeError as e:
        out["mismatch"] = "different shapes" in str(e)

if mode == "ddp_step_ir":
    ddp = tt.nn.parallel.DistributedDataParallel(tt.nn.Linear(3, 2))
    opt = tt.optim.SGD(ddp.parameters(), lr=0.1)

    @tt.compile(backend="numpy")
    def step(x):
        loss = ddp(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    x = tt.ones(2, 3)
    step(x)
    out["ir"], out["source"] = step.ir(x), step.source(x)

if mode == "ddp_no_sync_unused":
    # gradient accumulation: the first micro-batch under no_sync stays local, the second
    # backward averages the sum; a branch used on rank 0 only still gets its average
    class Net(tt.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = tt.nn.Linear(2, 2), tt.nn.Linear(2, 2)

        def forward(self, x, use_b):
            return self.b(self.a(x)) if use_b else self.a(x)

    tt.manual_seed(0)
    ddp = tt.nn.parallel.DistributedDataParallel(Net(), find_unused_parameters=True)
    xs = [tt.full((1, 2), float(rank + 1)), tt.full((1, 2), float(rank + 2))]
    with ddp.no_sync():
        ddp(xs[0], rank == 0).sum().backward()
    local_after_first = ddp.module.a.weight.grad.tolist()
    ddp(xs[1], rank == 0).sum().backward()
    out["local_first"] = local_after_first
    out["a"] = ddp.module.a.weight.grad.tolist()
    out["b"] = ddp.module.b.weight.grad.tolist()

if mode == "ddp_mismatch":
    try:
        tt.nn.parallel.DistributedDataParallel(tt.nn.Linear(3, 2 + rank))
    except RuntimeError as e:
        out["error"] = str(e)

if mode in ("ddp", "ddp_compiled_model", "ddp_compiled_step"):
    rng = np.random.RandomState(0)
    X = rng.randn(world * 4 * 3, 5).astype(np.float32)
    Y = rng.randn(world * 4 * 3, 2).astype(np.float32)
    tt.manual_seed(100 + rank)  # different initial weights per rank: DDP must broadcast rank 0's
    model = tt.nn.Sequential(tt.nn.Linear(5, 8), tt.nn.Tanh(), tt.nn.Linear(8, 2))
    if mode == "ddp_compiled_model":
        model = tt.compile(model)
    ddp = tt.nn.parallel.DistributedDataParallel(model)
    start = [p.detach().numpy().copy() for p in ddp.parameters()]
    opt = tt.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ds = tt.utils.data.TensorDataset(tt.tensor(X), tt.tensor(Y))
    sampler = tt.utils.data.distributed.DistributedSampler(ds, shuffle=False)
    loader = tt.utils.data.DataLoader(ds, batch_size=4, sampler=sampler)
    def step(x, y):
        loss = tt.nn.functional.mse_loss(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    if mode == "ddp_compiled_step":
        step = tt.compile(step)
    for x, y in loader:
        step(x, y)
    out["start"] = [a.tolist() for a in start]
    out["final"] = [p.detach().numpy().tolist() for p in ddp.parameters()]

if rank == 0:
    import json

    print("RESULT " + json.dumps(out))
dist.destroy_process_group()
