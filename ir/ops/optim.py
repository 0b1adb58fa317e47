"""Adam's (and AdamW's) update of one parameter as one op: `adam_step`.

    adam_step(p, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay)
        -> p_new, exp_avg_new, exp_avg_sq_new

p, grad and both averages share a shape and a float dtype T (float32 or float64); step is
the already-incremented count (a 0-d float32), the hyper-parameters 0-d float64s. Attrs:
`small` (|1 - beta1| < 0.5: which form of lerp torch takes), `decay` (weight_decay != 0),
`decoupled` (AdamW's decay of p instead of L2 on the gradient).

The arithmetic is torch's single-tensor CPU path, rounding for rounding (see
torchtrek/optim/optimizer.py: `add(alpha=)`, `lerp` and `addcmul` are one fused
multiply-add there, so for float32 their products are taken in float64 and rounded once):

    g   = T(W(grad) + W(p) * W(T(wd)))            if decay and not decoupled, else grad
    p1  = p * T(1 - lr * wd)                      if decay and decoupled, else p
    d   = W(g - exp_avg)
    m   = T(W(exp_avg) + d * W(T(1 - beta1)))     if small (lerp's two forms)
        = T(W(g) + d * W(T(-beta1)))              otherwise, -beta1 as (1 - beta1) - 1
    v   = T(W(exp_avg_sq * T(beta2)) + W(g * T(1 - beta2)) * W(g))
    p'  = p1 + (m * T(-lr / (1 - beta1**step))) / (sqrt(v) / T(sqrt(1 - beta2**step)) + T(eps))

(W: to float64, T: to the parameter's dtype; every other operation is in T.) The NumPy
emitter below is the reference; the C backend prints it from codegen/c/optim.c.j2, one
pass over the parameter. It has no derivative (an optimizer step runs without grad).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..builder import Builder
from ..graph import Atom, Eqn, TensorType
from ..opdef import OpDef, register
from ..shapes import ShapeError

HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay")


def _infer_adam(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    p, g, m, v, step, *hyper = types
    if p.dtype.name not in ("float32", "float64") or not (p == g == m == v):
        raise ShapeError(f"adam_step: expected the parameter, its gradient and both averages of "
                         f"one shape and float dtype, got {p}, {g}, {m} and {v}")
    if step.shape != () or len(hyper) != len(HYPER) or any(h.shape != () for h in hyper):
        raise ShapeError(f"adam_step: expected a 0-d step and {len(HYPER)} 0-d hyper-parameters "
                         f"({', '.join(HYPER)}), got {step} and {list(map(str, hyper))}")
    return (p, p, p)


def _emit_adam(args: list[str], a: dict[str, Any], ins: Sequence[TensorType],
               out: TensorType) -> str:
    p, g, m, v, step, lr, b1, b2, eps, wd = args
    t = f"np.{ins[0].dtype.name}"
    wide = ins[0].dtype.name == "float32"

    def W(x: str) -> str:  # an array to float64 (float64 arrays stay as they are)
        return f"{x}.astype(np.float64)" if wide else x

    def T(x: str) -> str:  # an array back to the parameter's dtype
        return f"{x}.astype({t})" if wide else x

    decay, decoupled = a["decay"], a["decoupled"]
    grad = T(f"({W(g)} + {W(p)} * np.float64({t}({wd})))") if decay and not decoupled else g
    p1 = f"{p} * {t}(1 - {lr} * {wd})" if decay and decoupled else p
    w1 = f"np.float64({t}(1 - {b1}))" if a["small"] else f"np.float64({t}((1 - {b1}) - 1))"
    start = W(m) if a["small"] else W("_g")
    new_m = T(f"({start} + {W(f'(_g - {m})')} * {w1})")
    new_v = T(f"({W(f'({v} * {t}({b2}))')} + {W(f'(_g * {t}(1 - {b2}))')} * {W('_g')})")
    # the step's scalars as Python floats: their ** is C's pow, as torch's (and the C
    # kernel's); NumPy's float64 power is a vectorized one that can differ in the last bit
    s = f"float({step})"
    update = (f"_p1 + _m * {t}(-(float({lr}) / (1 - float({b1}) ** {s}))) / "
              f"(np.sqrt(_v) / {t}(np.sqrt(1 - float({b2}) ** {s})) + {t}({eps}))")
    return (f"(lambda _g, _p1: (lambda _m, _v: ({update}, _m, _v))({new_m}, {new_v}))"
            f"({grad}, {p1})")


def _no_vjp(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    raise NotImplementedError("adam_step has no derivative: an optimizer step runs without grad")


register(OpDef("adam_step", "optim", _infer_adam, vjp=_no_vjp, torch_name="AdamStep",
               differentiable=False, emit={"numpy": _emit_adam}))
