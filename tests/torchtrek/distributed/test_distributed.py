"""torch.distributed over MPI, DistributedDataParallel and DistributedSampler, in real
multi-process runs (`mpiexec -n 2` and `-n 3`, uneven shards): collectives against the
NumPy answer, DDP training equal to one process training on the concatenated batches (eager, with a compiled
model inside DDP, and with the whole step compiled: the all-reduce is then an op of the
graph), ranks started from different seeds agreeing after construction, and the errors of bad
use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tt = pytest.importorskip("torchtrek")
pytest.importorskip("mpi4py", reason="the distributed extra is not installed "
                                     "(pip install -e \".[distributed]\")")
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep +
                       os.environ.get("PATH", ""))
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH")
SCRIPT = Path(__file__).with_name("ddp_script.py")


def _mpirun(n: int, mode: str) -> dict:
    r = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(SCRIPT), mode],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_match_numpy(n):
    out = _mpirun(n, "collectives")
    ranks = np.arange(n) + 1.0
    assert out["sum"] == [ranks.sum()] * 3
    assert out["avg"] == [ranks.mean()] * 2
    assert out["max"] == [float(n)] * 2
    assert out["bcast"] == [float(n - 1)] * 2
    assert out["gather"] == [[float(r)] * 2 for r in range(n)]
    assert out["reduce_scatter"] == [float(sum(range(n)))] * 2  # rank 0: sum over r of r + 0
    assert out["objects"] == [{"rank": r} for r in range(n)]
    assert out["mismatch"] is True


def _single_process_reference(world: int) -> tuple[list, list]:
    rng = np.random.RandomState(0)
    X = rng.randn(world * 4 * 3, 5).astype(np.float32)
    Y = rng.randn(world * 4 * 3, 2).astype(np.float32)
    tt.manual_seed(100)  # rank 0's seed: DDP broadcasts rank 0's weights
    model = tt.nn.Sequential(tt.nn.Linear(5, 8), tt.nn.Tanh(), tt.nn.Linear(8, 2))
    start = [p.detach().numpy().copy() for p in model.parameters()]
    opt = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    shards = [list(range(r, len(X), world)) for r in range(world)]
    for step in range(len(shards[0]) // 4):
        idx = [i for s in shards for i in s[step * 4:(step + 1) * 4]]
        loss = tt.nn.functional.mse_loss(model(tt.tensor(X[idx])), tt.tensor(Y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return start, [p.detach().numpy() for p in model.parameters()]


@pytest.mark.parametrize("n,mode", [(2, "ddp"), (3, "ddp"), (2, "ddp_compiled_model"),
                                    (2, "ddp_compiled_step"), (3, "ddp_compiled_step")])
def test_ddp_equals_one_process_on_the_concatenated_batch(n, mode):
    out = _mpirun(n, mode)
    start, final = _single_process_reference(n)
    for got, want in zip(out["start"], start):
        np.testing.assert_array_equal(np.array(got, np.float32), want)  # rank 0's, on every rank
    for got, want in zip(out["final"], final):
        np.testing.assert_allclose(np.array(got, np.float32), want, rtol=1e-5, atol=1e-6)


def test_no_sync_accumulates_and_unused_parameters_are_averaged():
    out = _mpirun(2, "ddp_no_sync_unused")
    tt.manual_seed(0)
    ref = tt.nn.Sequential(tt.nn.Linear(2, 2), tt.nn.Linear(2, 2))  # same init order as Net
    grads_a, grads_b = [], []
    for rank in range(2):
        a = tt.nn.Linear(2, 2)
        b = tt.nn.Linear(2, 2)
        a.load_state_dict(ref[0].state_dict())
        b.load_state_dict(ref[1].state_dict())
        for v in (rank + 1, rank + 2):
            x = tt.full((1, 2), float(v))
            (b(a(x)) if rank == 0 else a(x)).sum().backward()
        grads_a.append(a.weight.grad.numpy())
        grads_b.append(b.weight.grad.numpy() if b.weight.grad is not None else np.zeros((2, 2)))
    np.testing.assert_allclose(out["a"], (grads_a[0] + grads_a[1]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out["b"], (grads_b[0] + grads_b[1]) / 2, rtol=1e-6)
    assert out["local_first"] != out["a"]


def test_ddp_refuses_models_that_differ_across_ranks():
    out = _mpirun(2, "ddp_mismatch")
    assert "differ across ranks" in out["error"]


def test_compiled_step_puts_the_all_reduce_in_the_graph():
    out = _mpirun(1, "ddp_step_ir")
    assert "all_reduce" in out["ir"] and "graph_all_reduce" in out["source"]


def test_torchtrek_launch_runs_the_script_under_mpi():
    r = subprocess.run([sys.executable, "-m", "torchtrek.cli", "launch", "-n", "2", str(SCRIPT),
                        "collectives"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(next(ln for ln in r.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    assert out["sum"] == [3.0, 3.0, 3.0]


def test_bad_use_fails_clearly():
    import torchtrek.distributed as dist

    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(tt.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        tt.nn.parallel.DistributedDataParallel(tt.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        tt.utils.data.distributed.DistributedSampler(range(4))
    s = tt.utils.data.distributed.DistributedSampler(range(10), num_replicas=3, rank=1,
                                                    shuffle=False)
    assert list(s) == [1, 4, 7, 0] and len(s) == 4


def test_a_world_of_one_in_this_process_compiles_the_all_reduce():
    """MPI's singleton world (no mpiexec): a compiled DDP step equals the plain step, and the
    all_reduce op runs here, where the registry-coverage check sees it."""
    import torchtrek.distributed as dist

    dist.init_process_group("mpi")
    try:
        assert dist.get_world_size() == 1
        results = []
        for use_ddp in (True, False):
            tt.manual_seed(0)
            lin = tt.nn.Linear(3, 2)
            model = tt.nn.parallel.DistributedDataParallel(lin) if use_ddp else lin
            opt = tt.optim.SGD(lin.parameters(), lr=0.1)

            @tt.compile
            def step(x):
                loss = (model(x) ** 2).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                return loss

            x = tt.arange(6.0).reshape(2, 3)
            results.append([float(step(x).detach()) for _ in range(3)])
        assert results[0] == pytest.approx(results[1], rel=1e-6)
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


def test_the_ddp_example_trains_and_only_rank_0_writes(tmp_path):
    example = Path(__file__).resolve().parents[3] / "examples" / "ddp_train.py"
    r = subprocess.run([sys.executable, "-m", "torchtrek.cli", "launch", "-n", "2", str(example),
                        "--epochs", "2", "--out", str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 2 and all("(2 processes)" in ln for ln in lines)  # printed once
    losses = [float(ln.split()[3]) for ln in lines]
    assert losses[1] < losses[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ckpt.pt"]
    ckpt = tt.load(tmp_path / "out" / "ckpt.pt")
    assert set(ckpt) == {"model", "optimizer"} and "0.weight" in ckpt["model"]
