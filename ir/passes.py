"""Graph passes: verify, dead-code elimination, common subexpressions, constant folding.

Each pass returns a new Graph (or the same one when nothing changed); none mutates
equations, which are shared between the forward and backward graphs.
"""

from __future__ import annotations

import os

from .graph import Atom, Eqn, Graph, Literal, Var
from .opdef import get_op

DEBUG = bool(os.environ.get("TORCHTREK_VERIFY"))


class VerifyError(AssertionError):
    pass


def verify(graph: Graph) -> None:
    """SSA well-formedness and that each equation's types match its op's shape rule."""
    defined: set[Var] = set()
    for v in graph.inputs:
        if v in defined:
            raise VerifyError(f"input {v} listed twice")
        defined.add(v)
    for e in graph.eqns:
        for a in e.inputs:
            if isinstance(a, Var) and a not in defined:
                raise VerifyError(f"{e.op} reads {a} before it is defined")
        types = get_op(e.op).infer([a.type for a in e.inputs], e.params)
        if tuple(o.type for o in e.outputs) != tuple(types):
            raise VerifyError(f"{e.op}: outputs typed {[str(o.type) for o in e.outputs]}, "
                              f"rule says {[str(t) for t in types]}")
        for o in e.outputs:
            if o in defined:
                raise VerifyError(f"{o} defined twice")
            defined.add(o)
    for a in graph.outputs:
        if isinstance(a, Var) and a not in defined:
            raise VerifyError(f"output {a} is never defined")


def _replace(graph: Graph, eqns: list[Eqn], subst: dict[Var, Atom]) -> Graph:
    def r(a: Atom) -> Atom:
        while isinstance(a, Var) and a in subst:
            a = subst[a]
        return a

    new_eqns = [
        e if not any(isinstance(a, Var) and a in subst for a in e.inputs)
        else Eqn(e.op, tuple(r(a) for a in e.inputs), e.outputs, e.attrs, e.loc)
        for e in eqns
    ]
    return Graph(graph.name, graph.inputs, new_eqns, [r(a) for a in graph.outputs], graph.meta)


def dce(graph: Graph) -> Graph:
    live = {a for a in graph.outputs if isinstance(a, Var)}
    kept: list[Eqn] = []
    for e in reversed(graph.eqns):
        if any(o in live for o in e.outputs):
            kept.append(e)
            live.update(a for a in e.inputs if isinstance(a, Var))
    if len(kept) == len(graph.eqns):
        return graph
    kept.reverse()
    return Graph(graph.name, graph.inputs, kept, graph.outputs, graph.meta)


def cse(graph: Graph) -> Graph:
    seen: dict[tuple, tuple[Var, ...]] = {}
    subst: dict[Var, Atom] = {}
    eqns: list[Eqn] = []

    def key_atom(a: Atom) -> object:
        while isinstance(a, Var) and a in subst:
            a = subst[a]
        return ("lit", a.value, a.dtype.name, type(a.value).__name__) if isinstance(a, Literal) else id(a)

    for e in graph.eqns:
        key = (e.op, tuple(key_atom(a) for a in e.inputs), e.attrs)
        prev = seen.get(key)
        if prev is not None:
            subst.update(zip(e.outputs, prev))
        else:
            seen[key] = e.outputs
            eqns.append(e)
    if not subst:
        return graph
    return _replace(graph, eqns, subst)


def fold(graph: Graph) -> Graph:
    """Algebraic identities that need no evaluation: x*1, x+0, x-0, x/1, x**1,
    reshape to the same shape, casts to the same dtype."""
    subst: dict[Var, Atom] = {}
    eqns: list[Eqn] = []

    def lit(a: Atom, v: float) -> bool:
        return isinstance(a, Literal) and not isinstance(a.value, bool) and a.value == v

    for e in graph.eqns:
        out = e.outputs[0]
        keep = None
        ins = e.inputs
        if e.op in ("reshape", "broadcast_to", "cast", "permute") and ins[0].type == out.type and (
            e.op != "permute" or e.params["perm"] == tuple(range(len(out.shape)))
        ):
            keep = ins[0]
        elif e.op in ("mul",) and lit(ins[1], 1):
            keep = ins[0]
        elif e.op in ("mul",) and lit(ins[0], 1):
            keep = ins[1]
        elif e.op in ("add",) and lit(ins[0], 0):
            keep = ins[1]
        elif e.op in ("add", "sub") and lit(ins[1], 0):
            keep = ins[0]
        elif e.op in ("div", "pow") and lit(ins[1], 1):
            keep = ins[0]
        if isinstance(keep, Var) and keep.type == out.type:
            subst[out] = keep
        else:
            eqns.append(e)
    if not subst:
        return graph
    return _replace(graph, eqns, subst)


def fold_constants(graph: Graph) -> Graph:
    """Constant values (`full`) flow into pointwise equations as literals, where that
    keeps the result's shape; a pointwise equation of literals alone becomes a `full`."""
    from . import symbolic
    from .shapes import broadcast_shapes

    consts: dict[Var, Literal] = {}
    eqns: list[Eqn] = []
    changed = False
    for e in graph.eqns:
        op = get_op(e.op)
        out = e.outputs[0]
        if e.op in ("reshape", "broadcast_to", "permute", "cast", "detach") and \
                isinstance(e.inputs[0], Var) and e.inputs[0] in consts:
            # a constant moved or cast is still a constant
            value = consts[e.inputs[0]].value
            e = Eqn("full", (), e.outputs, (("dtype", out.dtype), ("shape", out.shape),
                                           ("value", value)), e.loc)
            changed = True
        if e.op == "full":
            v = e.params["value"]
            v = float(v) if out.dtype.is_floating_point else (bool(v) if out.dtype.name == "bool" else int(v))
            consts[out] = Literal(v, out.dtype)
        elif op.is_pointwise and any(isinstance(a, Var) and a in consts for a in e.inputs):
            ins = list(e.inputs)
            for i, a in enumerate(ins):
                if isinstance(a, Var) and a in consts:
                    rest = [b.shape for j, b in enumerate(ins) if j != i]
                    if broadcast_shapes((), *rest) == out.shape:
                        ins[i] = consts[a]
            if all(isinstance(a, Literal) for a in ins):
                value = symbolic.formula(e.op, e.attrs, tuple(a.value for a in ins))
                if value.is_number and value.is_real:
                    py = bool(value) if out.dtype.name == "bool" else (
                        float(value) if out.dtype.is_floating_point else int(value))
                    e = Eqn("full", (), e.outputs, (("dtype", out.dtype), ("shape", out.shape),
                                                   ("value", py)), e.loc)
                    consts[out] = Literal(py, out.dtype)
                    changed = True
                    eqns.append(e)
                    continue
            if ins != list(e.inputs):
                e = Eqn(e.op, tuple(ins), e.outputs, e.attrs, e.loc)
                changed = True
        eqns.append(e)
    if not changed:
        return graph
    return Graph(graph.name, graph.inputs, eqns, graph.outputs, graph.meta)


def reduce_broadcasts(graph: Graph) -> Graph:
    """A reduction over dimensions a broadcast made (from size 1) reads every value n
    times: a sum is the value times n, a max or min the value itself. (The gradient of a
    bias under a mean is sum(broadcast(g / n)) over the batch: g, with no pass over a
    [batch, features] array.) Float dtypes only, n > 0 (a sum over nothing is 0)."""
    from .builder import Builder
    from .symdims import is_symbolic

    producer = {o: e for e in graph.eqns for o in e.outputs}
    eqns: list[Eqn] = []
    subst: dict[Var, Atom] = {}
    for e in graph.eqns:
        src = producer.get(e.inputs[0]) if e.op in ("sum", "amax", "amin") and e.inputs else None
        if src is None or src.op != "broadcast_to" or not isinstance(src.inputs[0], Var):
            eqns.append(e)
            continue
        x, out = src.inputs[0], e.outputs[0]
        big = src.outputs[0].shape
        padded = (1,) * (len(big) - x.ndim) + tuple(x.shape)
        dims = set(e.params["dims"])
        made = {d for d in dims if padded[d] == 1}  # dims the broadcast made (or kept at 1)
        count = 1
        for d in made:
            count *= big[d]
        if (not made or not x.dtype.is_floating_point or out.dtype is not x.dtype
                or not (is_symbolic(count) or count > 0) or 0 in padded):
            eqns.append(e)
            continue
        b = Builder(e.loc)
        y: Atom = x
        if tuple(x.shape) != padded:
            y = b.emit("reshape", [y], shape=padded, hint=x.hint)
        if dims - made:  # x's own dims among them: reduce x itself (n times fewer values)
            y = b.emit(e.op, [y], dims=tuple(sorted(dims - made)), keepdim=True, hint=out.hint)
        kept = tuple(1 if d in dims else padded[d] for d in range(len(big)))
        shape = kept if e.params["keepdim"] else tuple(n for d, n in enumerate(kept) if d not in dims)
        if tuple(y.shape) != shape:
            y = b.emit("reshape", [y], shape=shape, hint=x.hint)
        if e.op == "sum" and count != 1:
            y = b.emit("mul", [y, Literal(count if is_symbolic(count) else float(count), x.dtype)],
                       hint=out.hint)
        if tuple(y.shape) != tuple(out.shape):
            y = b.emit("broadcast_to", [y], shape=out.shape, hint=out.hint)
        eqns.extend(b.eqns)
        subst[out] = y
    if not subst:
        return graph
    return dce(_replace(graph, eqns, subst))


def pads_to_concat(graph: Graph) -> Graph:
    """add(pad(x), pad(y)) where the pads place x and y side by side along one dim (and alike
    along the others) is pad(concat(x, y)): the gradient of a split (q, k, v =
    qkv.split(C, 2)) is one concatenation, not three zero-padded copies summed. Chains of
    adds fold one pair at a time; a pad that pads nothing is the concat itself."""
    from .builder import Builder

    pads: dict[Var, tuple[Atom, tuple]] = {}  # value -> (what it pads, widths)
    joined_parts: dict[Var, tuple[tuple, int]] = {}  # a concat made here -> (its parts, dim)
    eqns: list[Eqn] = []
    subst: dict[Var, Atom] = {}
    for e in graph.eqns:
        if e.op == "pad" and isinstance(e.inputs[0], Var):
            pads[e.outputs[0]] = (e.inputs[0], tuple(tuple(w) for w in e.params["widths"]))
        joined = _join_pads(pads, e) if e.op == "add" else None
        if joined is None:
            eqns.append(e)
            continue
        parts, dim, lo, hi, widths = joined
        out = e.outputs[0]
        flat: list[Atom] = []
        for x in parts:  # (a concat made by an earlier pair: its parts, one copy in all)
            flat.extend(joined_parts[x][0] if x in joined_parts and joined_parts[x][1] == dim
                        else (x,))
        b = Builder(e.loc)
        y = b.emit("concat", flat, dim=dim, hint=out.hint)
        joined_parts[y] = (tuple(flat), dim)
        new_widths = tuple((lo, hi) if d == dim else w for d, w in enumerate(widths))
        if any(w != (0, 0) for w in new_widths):
            y = b.emit("pad", [y], widths=new_widths, hint=out.hint)
            pads[out] = (b.eqns[0].outputs[0], new_widths)  # (later adds read `out`)
        eqns.extend(b.eqns)
        subst[out] = y
    if not subst:
        return graph
    return dce(_replace(graph, eqns, subst))


def _join_pads(pads: dict, e: Eqn) -> tuple | None:
    a, b = e.inputs
    if a not in pads or b not in pads or a.shape != b.shape or a.dtype is not b.dtype \
            or e.outputs[0].dtype is not a.dtype or e.outputs[0].shape != a.shape:
        return None
    (xa, wa), (xb, wb) = pads[a], pads[b]
    differ = [d for d, (p, q) in enumerate(zip(wa, wb)) if p != q]
    if len(differ) != 1:
        return None
    d = differ[0]
    n = a.shape[d]
    (la, ha), (lb, hb) = wa[d], wb[d]
    if n - ha == lb:  # x then y
        return (xa, xb), d, la, hb, wa
    if n - hb == la:  # y then x
        return (xb, xa), d, lb, ha, wa
    return None


def transpose_matmuls(graph: Graph) -> Graph:
    """permute(matmul(a, b), (1, 0)) of 2-D operands is matmul(b^T, a^T): BLAS reads the
    transposed operands in place and the result comes out contiguous, where the transposed
    product was a view that every kernel reading it copied first (a Linear layer's weight
    gradient, read by the optimizer). Only for a product nothing else reads."""
    from .builder import Builder

    uses: dict[Var, int] = {}
    for e in graph.eqns:
        for a in e.inputs:
            if isinstance(a, Var):
                uses[a] = uses.get(a, 0) + 1
    for a in graph.outputs:
        if isinstance(a, Var):
            uses[a] = uses.get(a, 0) + 1
    producer = {o: e for e in graph.eqns for o in e.outputs}
    eqns: list[Eqn] = []
    subst: dict[Var, Atom] = {}
    for e in graph.eqns:
        src = producer.get(e.inputs[0]) if e.op == "permute" and e.inputs else None
        if (src is None or src.op != "matmul" or tuple(e.params["perm"]) != (1, 0)
                or uses.get(src.outputs[0]) != 1
                or not all(isinstance(a, Var) and a.ndim == 2 for a in src.inputs)):
            eqns.append(e)
            continue
        a, b_ = src.inputs
        out = e.outputs[0]
        b = Builder(e.loc)
        bt = b.emit("permute", [b_], perm=(1, 0), hint=b_.hint)
        at = b.emit("permute", [a], perm=(1, 0), hint=a.hint)
        y = b.emit("matmul", [bt, at], hint=out.hint)
        eqns.extend(b.eqns)
        subst[out] = y
    if not subst:
        return graph
    return dce(cse(_replace(graph, eqns, subst)))


def strip_detach(graph: Graph) -> Graph:
    """Drop `detach` and `custom_vjp` (identities that only matter to autodiff): run after
    the backward is built."""
    gone = ("detach", "custom_vjp")
    subst = {e.outputs[0]: e.inputs[0] for e in graph.eqns if e.op in gone}
    if not subst:
        return graph
    return _replace(graph, [e for e in graph.eqns if e.op not in gone], subst)


def optimize(graph: Graph) -> Graph:
    for p in (fold_constants, fold, reduce_broadcasts, pads_to_concat, transpose_matmuls, cse,
              dce):
        graph = p(graph)
        if DEBUG:
            verify(graph)
    return graph
