"""Data-parallel speed on this machine: the all-reduce bandwidth of torchtrek.distributed for
1-64 MB float32 buffers beside mpi4py alone (the overhead of the tensor layer), and a DDP
training step (an MLP, batch 128 per process) in 1 and 2 processes: step time, throughput and
scaling efficiency t1 / tn. Each of n processes gets cores // n OpenMP and BLAS threads, as
`torchtrek launch` gives them.

    python benchmarks/dist_bench.py            # starts the mpiexec runs itself
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np


def child(mode: str) -> dict:
    import torchtrek as tt
    import torchtrek.distributed as dist
    from mpi4py import MPI

    dist.init_process_group("mpi")
    comm, out = MPI.COMM_WORLD, {}
    if mode == "allreduce":
        for mb in (1, 4, 16, 64):
            n = mb * 2**20 // 4
            a = np.ones(n, np.float32)
            t = tt.ones(n)
            times = {}
            for name, fn in (("mpi4py", lambda: comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)),
                             ("torchtrek", lambda: dist.all_reduce(t))):
                fn()
                comm.Barrier()
                t0 = time.perf_counter()
                for _ in range(5):
                    fn()
                comm.Barrier()
                times[name] = (time.perf_counter() - t0) / 5
            out[f"{mb} MB"] = {k: mb / v / 1024 for k, v in times.items()}  # GB/s
    else:
        tt.manual_seed(0)
        model = tt.nn.Sequential(tt.nn.Linear(512, 1024), tt.nn.ReLU(), tt.nn.Linear(1024, 10))
        ddp = tt.nn.parallel.DistributedDataParallel(model)
        opt = tt.optim.SGD(ddp.parameters(), lr=0.01)
        x, y = tt.randn(128, 512), tt.randint(0, 10, (128,))

        def step() -> None:
            loss = tt.nn.functional.cross_entropy(ddp(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(20):
            step()
        comm.Barrier()
        out["step_ms"] = (time.perf_counter() - t0) / 20 * 1e3
    dist.destroy_process_group()
    return out if comm.Get_rank() == 0 else {}


def run(n: int, mode: str) -> dict:
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep +
                           os.environ.get("PATH", ""))
    env = dict(os.environ)
    threads = str(max(1, (os.cpu_count() or 1) // n))  # as torchtrek launch shares the cores
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(var, threads)
    r = subprocess.run([mpiexec, "-n", str(n), sys.executable, __file__, "--child", mode],
                       capture_output=True, text=True, check=True, timeout=600, env=env)
    return json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        res = child(sys.argv[2])
        if res:
            print(json.dumps(res))
        sys.exit(0)
    bw = run(2, "allreduce")
    print("all-reduce, 2 processes (GB/s of buffer):")
    for size, v in bw.items():
        print(f"  {size:>6}: mpi4py {v['mpi4py']:6.2f}   torchtrek.distributed "
              f"{v['torchtrek']:6.2f}   ({v['torchtrek'] / v['mpi4py']:.2f}x)")
    t1, t2 = run(1, "step")["step_ms"], run(2, "step")["step_ms"]
    print(f"DDP MLP step (batch 128 per process): 1 process {t1:.2f} ms, 2 processes "
          f"{t2:.2f} ms: throughput x{2 * t1 / t2:.2f}, scaling efficiency {t1 / t2:.0%}")
