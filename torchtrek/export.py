"""tt.export: ahead-of-time code generation into a folder that runs with NumPy alone.

The folder holds NAME.py (forward, and with grad=True backward and value_and_grad),
manifest.json (inputs, outputs, shapes, dtypes, hashes, version) and, when the function
reads tensors from outside (weights), params.npz with their values.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .codegen.numpy.generator import VERSION, render_function, template
from .ir.printer import _identifier, value_names
from .runtime.compiled import CompiledGraph

PARAMS_FILE = "params.npz"
# Names the exported module defines itself; a user's argument never takes one.
_RESERVED = frozenset({"params", "load_params", "forward", "backward", "value_and_grad", "_p",
                       "_outs", "_res", "_grads", "_forward", "_backward", "_PARAMS", "_PARAM_NAMES",
                       "here", "data", "loaded", "path"})


def export(fn: Callable[..., Any], *example_args: Any, target: str = "numpy",
           grad: bool = False, out: str | Path = "torchtrek_export",
           name: str | None = None, params_as_args: bool = False,
           wrt: Sequence[str] | None = None, dynamic: bool = False) -> Path:
    """Trace `fn` on the example arguments and write standalone source to `out`.
    Returns the path of the generated module.

    With grad=True, `backward` and `value_and_grad` return gradients with respect to the
    inputs named in `wrt`; by default the parameters (tensors `fn` reads from outside)
    that are floating point when there are any, else every floating-point argument.

    With dynamic=True the module serves any size of the arguments' dimensions (all of
    them, else the leading ones), like tt.compile(dynamic=True); NumPy target only."""
    from .compiler import _pick, trace_function

    if target not in ("numpy", "cuda"):
        raise ValueError(f"unknown export target {target!r} (expected 'numpy' or 'cuda')")
    if dynamic and target != "numpy":
        raise NotImplementedError("export(dynamic=True) writes NumPy modules only; the CUDA "
                                  "target prints sizes into its kernels")
    if dynamic:
        ctx, atoms, _, tensor_pos = _trace_dynamic(fn, example_args)
    else:
        ctx, atoms, _, tensor_pos = trace_function(fn, example_args, {})
    graph = ctx.graph(atoms)
    if getattr(ctx, "export_guards", ()):
        graph.meta["guards"] = ctx.export_guards
    name = _identifier(name or graph.name)
    graph.name = name
    captured = [t for t, _ in ctx.captured]
    inputs = [_pick(example_args, i) for i in tensor_pos] + captured
    in_names = [v.hint for v in graph.inputs]
    if wrt is None:
        floats = [n for n, t in zip(in_names, inputs) if t.dtype.is_floating_point]
        params = [n for n in floats if in_names.index(n) >= len(tensor_pos)]
        wanted = params or floats
    else:
        unknown = sorted(set(wrt) - set(in_names))
        if unknown:
            raise ValueError(f"export(wrt=...): no input named {unknown}; inputs are {in_names}")
        wanted = list(wrt)
    mask = [grad and t.dtype.is_floating_point and n in wanted for t, n in zip(inputs, in_names)]
    if target == "cuda":
        return _export_cuda(graph, mask, inputs, tensor_pos, Path(out), name, grad)
    cg = CompiledGraph(graph, mask)
    if grad and not cg.ct_outputs:
        raise ValueError("export(grad=True): no output depends on a floating-point input")

    fwd_graph = cg.forward_graph
    n_args = len(tensor_pos)
    names = value_names(fwd_graph, reserved=_RESERVED)
    in_vars = cg.graph.inputs
    arg_names = [names[v] for v in in_vars[:n_args]]
    # sizes the (shape-generic) backward cannot read from its own inputs, from the args
    size_kwargs = [f"{s}={arg_names[i]}.shape[{d}]" for s, i, d in cg._size_args]
    param_vars = in_vars[n_args:]
    hints = [v.hint for v in param_vars]
    param_keys = [h if hints.count(h) == 1 else names[v] for h, v in zip(hints, param_vars)]
    param_codes = [names[v] for v in param_vars]
    if params_as_args:
        arg_names, param_keys, param_codes = arg_names + param_codes, [], []
    outs = cg.graph.outputs
    out_types = [str(o.type) for o in outs]
    call_args = list(arg_names)
    signature_args = call_args + (["*", "params=None"] if param_keys else [])
    impl_args = call_args + [f'_p["{k}"]' for k in param_keys]
    wrt_named = [(in_vars[i].hint, str(in_vars[i].type)) for i in cg.wrt_indices]
    ct_names = _unique([f"grad_{names[outs[i]]}" if hasattr(outs[i], "hint") else f"grad_out{i}"
                        for i in cg.ct_outputs], set(call_args) | set(param_codes) | _RESERVED)
    scalar_out = len(outs) == 1 and outs[0].shape == () and bool(cg.ct_outputs)
    ct_defaults = [f"{c}=None" if scalar_out else c for c in ct_names]
    ct_call = [f"np.ones((), dtype=np.{outs[0].dtype.name}) if {c} is None else {c}"
               if scalar_out else c for c in ct_names]
    backward_signature = call_args + ct_defaults + (["*", "params=None"] if param_keys else [])

    source = template("export.py.j2").render(
        name=name, version=VERSION, graph_name=graph.name,
        call_args=call_args, ct_args=ct_defaults, signature_args=signature_args,
        impl_args=impl_args, backward_signature=backward_signature, ct_call=ct_call,
        inputs=[(names[v], str(v.type)) for v in in_vars[:len(arg_names)]],
        out_desc=" , ".join(out_types) if len(out_types) != 1 else out_types[0],
        grad=bool(cg.ct_outputs), wrt=wrt_named, value_and_grad=scalar_out,
        out_dtype=outs[0].dtype.name if outs else "float32",
        params=list(zip(param_keys, param_codes, [str(v.type) for v in param_vars])),
        param_tuple="".join(f'"{k}", ' for k in param_keys).rstrip(" ")
        if len(param_keys) == 1 else ", ".join(f'"{k}"' for k in param_keys),
        params_file=PARAMS_FILE, n_outputs=len(outs), size_kwargs=size_kwargs,
        forward_impl=render_function(fwd_graph, "_forward"),
        guard_impl=_guard_function(graph, arg_names),
        backward_impl=render_function(cg.backward_graph, "_backward") if cg.ct_outputs else "",
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    module_path = folder / f"{name}.py"
    module_path.write_text(source)
    if param_keys:
        np.savez(folder / PARAMS_FILE, **{k: t._data for k, t in zip(param_keys, captured)})
    manifest = {
        "name": name,
        "torchtrek_version": VERSION,
        "target": target,
        "module": module_path.name,
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
        "ir_sha256": hashlib.sha256(str(cg.graph).encode()).hexdigest(),
        "functions": ["forward"] + (["backward"] if cg.ct_outputs else [])
        + (["value_and_grad"] if scalar_out else []),
        "inputs": [{"name": v.hint, "shape": _json_shape(v.shape), "dtype": v.dtype.name,
                    "kind": "param" if i >= n_args else "arg"} for i, v in enumerate(in_vars)],
        "outputs": [{"shape": _json_shape(o.shape), "dtype": o.dtype.name} for o in outs],
        "params_file": PARAMS_FILE if param_keys else None,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return module_path


def _json_shape(shape: Sequence[Any]) -> list[Any]:
    """Sizes for the manifest: ints, and symbolic ones as their names ("s0", "784*s0")."""
    return [d if isinstance(d, int) else str(d) for d in shape]


def _guard_function(graph: Any, arg_names: list[str]) -> str:
    """`_check_sizes(args...)`: the exported sizes' guards (what the shape-generic trace
    decided on them, ir/symint.py), raising a clear error on inputs outside them."""
    from .ir.symdims import sources

    guards = graph.meta.get("guards", ())
    if not guards:
        return ""
    where = sources(graph)
    syms = sorted({s for g in guards for s in g.free_symbols}, key=lambda s: int(s.name[1:]))
    lines = [f"def _check_sizes({', '.join(arg_names)}):",
             f'    """The sizes this module serves: {", ".join(str(g) for g in guards)}."""']
    lines += [f"    {s} = {arg_names[where[s][0]]}.shape[{where[s][1]}]" for s in syms]
    for g in guards:
        got = ", ".join(f"{s}={{{s}}}" for s in sorted(g.free_symbols, key=lambda s: int(s.name[1:])))
        lines += [f"    if not ({_guard_code(g)}):",
                  f'        raise ValueError(f"{graph.name}: input sizes outside what it was exported '
                  f'for: needs {g}, got {got} (export again at this size)")']
    return "\n".join(lines)


def _guard_code(rel: Any) -> str:
    from .ir.symdims import size_code

    ops = {"Eq": "==", "Ne": "!=", "Lt": "<", "Le": "<=", "Gt": ">", "Ge": ">=", "StrictLessThan": "<",
           "LessThan": "<=", "StrictGreaterThan": ">", "GreaterThan": ">=", "Equality": "==",
           "Unequality": "!="}
    return f"{size_code(rel.lhs)} {ops[type(rel).__name__]} {size_code(rel.rhs)}"


def _trace_dynamic(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """Trace with every argument dimension symbolic, else the leading ones."""
    from . import dynamic
    from .compiler import _arg_key, trace_function
    from .ir import symdims, symint

    key = (tuple(map(_arg_key, args)), (), True, False, ())
    errors = []
    for dims in (dynamic.all_dims(key), dynamic.leading_dims(key)):
        pattern = dynamic.SizePattern(key, dims)
        if not pattern:
            continue
        try:
            with symdims.hints(pattern.hints), symint.recording(pattern.hints) as guards:
                traced = trace_function(fn, args, {}, types=pattern.types(args))
            if guards.specialized:  # (as torch.export refuses a dynamic size it must specialize)
                names = ", ".join(sorted(map(str, guards.specialized)))
                raise ValueError(f"the code needs the value of size {names} (len(), int(), range())")
            ctx = traced[0]
            ctx.export_guards = tuple(guards.relations)
            return traced
        except Exception as exc:  # (as tt.compile does, try fewer symbolic sizes)
            errors.append(f"{type(exc).__name__}: {exc}")
    raise ValueError("export(dynamic=True): the function needs concrete sizes (" + "; ".join(errors)
                     + "); export it without dynamic=True, once per size")


def _export_cuda(graph: Any, mask: list[bool], inputs: list[Any], tensor_pos: list[int],
                 folder: Path, name: str, grad: bool) -> Path:
    """`.cu` kernels and a launcher module that needs only pycuda and numpy; tensors the
    function reads from outside become arguments (no params file on this target)."""
    from .codegen.cuda.generator import generate as cuda_generate

    cg = CompiledGraph(graph, mask)
    if grad and not cg.ct_outputs:
        raise ValueError("export(grad=True): no output depends on a floating-point input")
    names = value_names(cg.graph, reserved=_RESERVED | {"alloc", "res", "outs", "cts", "grads"})
    in_vars = cg.graph.inputs
    call_args = [names[v] for v in in_vars]
    fwd = cuda_generate(cg.forward_graph, "_forward_launch")
    bwd = cuda_generate(cg.backward_graph, "_backward_launch") if cg.ct_outputs else None
    outs = cg.graph.outputs
    ct_names = _unique([f"grad_{names[outs[i]]}" for i in cg.ct_outputs], set(call_args))
    source = template("export.py.j2", "cuda").render(
        name=name, version=VERSION, call_args=call_args,
        ct_args=[f"{c}=None" for c in ct_names],
        cts=[(c, outs[i].dtype.name, outs[i].shape) for c, i in zip(ct_names, cg.ct_outputs)],
        inputs=[(names[v], str(v.type)) for v in in_vars],
        uploads=", ".join(f'_up({names[v]}, "{v.dtype.name}")' for v in in_vars),
        ct_uploads=", ".join(
            f'_up(np.ones({outs[i].shape}, "{outs[i].dtype.name}") if {c} is None else {c}, '
            f'"{outs[i].dtype.name}")' for c, i in zip(ct_names, cg.ct_outputs)),
        grads_dict=", ".join(f'"{in_vars[i].hint}": grads[{k}].get()'
                             for k, i in enumerate(cg.wrt_indices)),
        out_desc=", ".join(str(o.type) for o in outs), n_outputs=len(outs),
        grad=bwd is not None, wrt=[(in_vars[i].hint, str(in_vars[i].type)) for i in cg.wrt_indices],
        forward_kernels=[(k.name, len(k.args)) for k in fwd.kernels],
        backward_kernels=[(k.name, len(k.args)) for k in bwd.kernels] if bwd else [],
        forward_launcher=_strip_header(fwd.launcher_source), forward_fn=fwd.fn_name,
        backward_launcher=_strip_header(bwd.launcher_source) if bwd else "",
        backward_fn=bwd.fn_name if bwd else "",
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}_forward.cu").write_text(fwd.cuda_source)
    if bwd is not None:
        (folder / f"{name}_backward.cu").write_text(bwd.cuda_source)
    module_path = folder / f"{name}.py"
    module_path.write_text(source)
    manifest = {
        "name": name, "torchtrek_version": VERSION, "target": "cuda", "module": module_path.name,
        "kernels": [f"{name}_forward.cu"] + ([f"{name}_backward.cu"] if bwd else []),
        "source_sha256": hashlib.sha256((source + fwd.cuda_source).encode()).hexdigest(),
        "functions": ["forward"] + (["backward"] if bwd else []),
        "inputs": [{"name": v.hint, "shape": list(v.shape), "dtype": v.dtype.name}
                   for v in in_vars],
        "outputs": [{"shape": list(o.shape), "dtype": o.dtype.name} for o in outs],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return module_path


def _unique(wanted: list[str], taken: set[str]) -> list[str]:
    """`wanted` names, each suffixed until it clashes with nothing taken (an argument
    the user called grad_loss, say)."""
    out = []
    for w in wanted:
        name, n = w, 1
        while name in taken:
            name, n = f"{w}_{n}", n + 1
        taken.add(name)
        out.append(name)
    return out


def _strip_header(launcher: str) -> str:
    """The launcher's `def` without its file header comment."""
    return launcher[launcher.index("def "):].rstrip() + "\n"


__all__ = ["export"]
