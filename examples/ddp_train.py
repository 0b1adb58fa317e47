"""Data-parallel training with TorchTrek on MPI, written as a PyTorch user writes it.

    torchtrek launch -n 2 examples/ddp_train.py --epochs 3 --out ddp-out
    mpiexec -n 2 python examples/ddp_train.py          # the same, without the wrapper

Every process builds the model (DDP broadcasts rank 0's weights), reads its own shard of the
data (DistributedSampler), and runs a compiled training step whose gradient average is part of
the generated code; only rank 0 prints and writes the checkpoint.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import torchtrek as torch  # the torch API: `import torch` works too under `torchtrek launch`
import torchtrek.distributed as dist
from torchtrek.nn.parallel import DistributedDataParallel as DDP
from torchtrek.utils.data import DataLoader, TensorDataset
from torchtrek.utils.data.distributed import DistributedSampler


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--out", default="ddp-out", help="checkpoint folder (rank 0 writes it)")
    args = p.parse_args()

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()

    rng = np.random.RandomState(0)  # the same synthetic regression set on every rank
    X = rng.randn(1024, 16).astype(np.float32)
    Y = (X @ rng.randn(16, 1) + 0.1 * rng.randn(1024, 1)).astype(np.float32)
    data = TensorDataset(torch.tensor(X), torch.tensor(Y))
    sampler = DistributedSampler(data, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)

    model = DDP(torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 1)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)

    @torch.compile
    def step(x, y):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        losses = [float(step(x, y).detach()) for x, y in loader]
        mean = torch.tensor([float(np.mean(losses))])
        dist.all_reduce(mean, op=dist.ReduceOp.AVG)
        if rank == 0:
            print(f"epoch {epoch}: loss {mean.item():.4f} ({world} processes)", flush=True)

    if rank == 0:  # one checkpoint, not one per process
        os.makedirs(args.out, exist_ok=True)
        torch.save({"model": model.module.state_dict(), "optimizer": opt.state_dict()},
                   os.path.join(args.out, "ckpt.pt"))
        print(f"rank 0 wrote {os.path.join(args.out, 'ckpt.pt')}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
