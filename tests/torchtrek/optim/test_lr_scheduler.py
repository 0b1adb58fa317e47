"""torch.optim.lr_scheduler against torch 2.13: the learning rates of every scheduler, step
by step, are torch's to the last bit; a compiled training step follows a schedule without
recompiling and lands on torch's parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

SCHEDULES = {
    "StepLR": lambda m, o: m.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.optim.lr_scheduler.MultiStepLR(o, [2, 5, 5, 7], gamma=0.3),
    "ExponentialLR": lambda m, o: m.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.01),
    "LambdaLR": lambda m, o: m.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0 / (e + 1)),
    "MultiplicativeLR": lambda m, o: m.optim.lr_scheduler.MultiplicativeLR(o, lambda e: 0.95),
    "LinearLR": lambda m, o: m.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
    "ConstantLR": lambda m, o: m.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=3),
    "PolynomialLR": lambda m, o: m.optim.lr_scheduler.PolynomialLR(o, total_iters=6, power=2.0),
    "OneCycleLR": lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=12),
    "OneCycleLR-linear-3": lambda m, o: m.optim.lr_scheduler.OneCycleLR(
        o, max_lr=[0.5, 0.2], total_steps=12, anneal_strategy="linear", three_phase=True),
    "WarmRestarts": lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "SequentialLR": lambda m, o: m.optim.lr_scheduler.SequentialLR(
        o, [m.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3),
            m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6)], milestones=[3]),
    "ChainedScheduler": lambda m, o: m.optim.lr_scheduler.ChainedScheduler(
        [m.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=2),
         m.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)]),
}


def _setup(m, opt_name: str = "SGD"):
    w = m.nn.Parameter(m.ones(3))
    b = m.nn.Parameter(m.zeros(2))
    groups = [{"params": [w]}, {"params": [b], "lr": 0.05}]
    opt = m.optim.SGD(groups, lr=0.1, momentum=0.9) if opt_name == "SGD" else \
        m.optim.AdamW(groups, lr=0.1)
    return w, b, opt


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_learning_rates_are_torch_s(name):
    lrs = {}
    for m in (torch, tt):
        _, _, opt = _setup(m, "AdamW" if "OneCycle" in name else "SGD")
        sched = SCHEDULES[name](m, opt)
        seq = [sched.get_last_lr()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(11):
                opt.step()
                sched.step()
                seq.append(sched.get_last_lr())
        lrs[m.__name__] = (seq, [g["lr"] for g in opt.param_groups],
                           [g.get("betas", g.get("momentum")) for g in opt.param_groups])
    assert lrs["torchtrek"] == lrs["torch"]


def test_reduce_on_plateau_is_torch_s():
    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85]
    out = {}
    for m in (torch, tt):
        _, _, opt = _setup(m)
        s = m.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1,
                                                   min_lr=[0.0, 0.01])
        seq = []
        for v in metrics:
            s.step(v)
            seq.append(s.get_last_lr())
        out[m.__name__] = seq
    assert out["torchtrek"] == out["torch"]


def test_stepping_the_scheduler_first_warns_as_torch():
    _, _, opt = _setup(tt)
    s = tt.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()


def test_state_dict_round_trip():
    _, _, opt = _setup(tt)
    s = tt.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.step()
        s.step()
    saved = s.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 3
    _, _, opt2 = _setup(tt)
    s2 = tt.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    s2.load_state_dict(saved)
    assert s2.last_epoch == 3 and s2.get_last_lr() == s.get_last_lr()


def test_cyclic_lr_is_named_when_missing():
    with pytest.raises(NotImplementedError, match="CyclicLR"):
        tt.optim.lr_scheduler.CyclicLR  # noqa: B018
    assert not hasattr(tt.optim.lr_scheduler, "CyclicLR")


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("opt_name", ["SGD", "AdamW"])
def test_compiled_step_follows_the_schedule_without_recompiling(backend, opt_name):
    rng = np.random.RandomState(0)
    x = rng.randn(8, 3).astype(np.float32)
    y = rng.randn(8, 2).astype(np.float32)
    w0 = rng.randn(2, 3).astype(np.float32)
    results = {}
    for m in (torch, tt):
        lin = m.nn.Linear(3, 2, bias=False)
        with m.no_grad():
            lin.weight.copy_(m.tensor(w0))
        opt = m.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01) \
            if opt_name == "SGD" else m.optim.AdamW(lin.parameters(), lr=0.05)
        sched = m.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=10)

        def step(a, b):
            loss = m.nn.functional.mse_loss(lin(a), b)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        if m is tt:
            step = tt.compile(step, backend=backend)
        losses = []
        for _ in range(9):
            losses.append(float(step(m.tensor(x), m.tensor(y))))
            sched.step()
        results[m.__name__] = (losses, lin.weight.detach().numpy().copy())
        if m is tt:
            assert step.trace_count == 1  # lr and momentum/betas changed each step: no retrace
    np.testing.assert_allclose(results["torchtrek"][0], results["torch"][0], rtol=1e-5)
    np.testing.assert_allclose(results["torchtrek"][1], results["torch"][1], rtol=1e-5, atol=1e-6)


def test_compiled_step_retraces_when_a_decision_changes():
    w = tt.nn.Parameter(tt.ones(3))
    opt = tt.optim.SGD([w], lr=0.1)

    @tt.compile(backend="numpy")
    def step():
        loss = (w * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step()
    step()
    assert step.trace_count == 1
    opt.param_groups[0]["momentum"] = 0.5  # a buffer is needed now: a different program
    step()
    assert step.trace_count == 2
    ref = torch.nn.Parameter(torch.ones(3))
    o = torch.optim.SGD([ref], lr=0.1)
    for i in range(3):
        if i == 2:
            o.param_groups[0]["momentum"] = 0.5
        o.zero_grad()
        (ref * ref).sum().backward()
        o.step()
    np.testing.assert_allclose(w.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
