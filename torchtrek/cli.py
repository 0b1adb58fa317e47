"""The `torchtrek` command: demo, aot, ir, codegen, explain, cache.

Bad input gets one line on stderr saying what is wrong and how to fix it, and exit
code 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

_SPEC = re.compile(r"^(\w+)\[([\d,\s]*)\]$")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def load_function(target: str) -> Callable[..., Any]:
    """'path/to/file.py:func' -> the function object."""
    file, sep, func = target.rpartition(":")
    if not sep or not file or not func:
        raise UsageError(f"expected FILE.py:FUNC, got {target!r} (e.g. model.py:loss_fn)")
    path = Path(file)
    if not path.is_file():
        raise UsageError(f"no such file: {file}")
    spec = importlib.util.spec_from_file_location(f"torchtrek_user_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's file itself failed
        raise UsageError(f"{file} failed to import: {type(err).__name__}: {err}") from None
    finally:
        sys.path.pop(0)
    fn = getattr(module, func, None)
    if not callable(fn):
        found = sorted(n for n, v in vars(module).items()
                       if callable(v) and not n.startswith("_") and getattr(v, "__module__", "") == module.__name__)
        raise UsageError(f"{file} has no function {func!r} (found: {', '.join(found) or 'none'})")
    return fn


def parse_arg_spec(spec: str) -> tuple[str, Any]:
    """'x=f32[64,784]' -> ('x', example tensor); 'n=3' -> ('n', 3)."""
    import torchtrek as tt
    from torchtrek.ir.parser import _LONG

    name, eq, value = spec.partition("=")
    if not eq or not name.isidentifier():
        raise UsageError(f"bad --arg {spec!r}: expected NAME=TYPE like x=f32[64,784] or NAME=VALUE like n=3")
    m = _SPEC.match(value.strip())
    if m:
        if m.group(1) not in _LONG:
            raise UsageError(f"bad --arg {spec!r}: unknown dtype {m.group(1)!r} "
                             f"(use one of {', '.join(sorted(_LONG))})")
        dtype = _LONG[m.group(1)]
        shape = tuple(int(d) for d in m.group(2).split(",") if d.strip())
        tt.manual_seed(0)
        if dtype.is_floating_point:
            return name, tt.randn(*shape, dtype=dtype)
        return name, tt.zeros(*shape, dtype=dtype)
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise UsageError(f"bad --arg {spec!r}: {value!r} is neither a type like f32[3,4] nor a Python literal") from None


def build_args(fn: Callable[..., Any], specs: Sequence[str]) -> list[Any]:
    given = dict(parse_arg_spec(s) for s in specs)
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(given) - {p.name for p in params})
    if unknown:
        raise UsageError(f"--arg {unknown[0]}: {fn.__name__} has no parameter of that name "
                         f"(parameters: {', '.join(p.name for p in params)})")
    args = []
    for p in params:
        if p.name in given:
            args.append(given[p.name])
        elif p.default is not p.empty:
            break
        else:
            raise UsageError(f"missing --arg for parameter {p.name!r} of {fn.__name__} "
                             f"(e.g. --arg {p.name}=f32[3,4])")
    return args


def _run_user(what: str, call: Callable[[], Any]) -> Any:
    """Run tracing/compiling of user code; its errors become one-line usage errors."""
    import torchtrek as tt

    try:
        return call()
    except UsageError:
        raise
    except tt.TraceError as err:
        raise UsageError(f"cannot trace {what}: {str(err).splitlines()[0]}") from None
    except Exception as err:  # the user's code failed: say what and where, in one line
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"{what} failed while tracing: {type(err).__name__}: {first}") from None


def to_dot(graph: Any) -> str:
    from torchtrek.ir.graph import Var
    from torchtrek.ir.printer import format_atom, value_names

    names = value_names(graph)
    lines = [f'digraph "{graph.name}" {{', "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']
    for v in graph.inputs:
        lines.append(f'  "{names[v]}" [label="{names[v]}\\n{v.type}", shape=ellipse];')
    for e in graph.eqns:
        for o in e.outputs:
            lines.append(f'  "{names[o]}" [label="{names[o]} = {e.op}\\n{o.type}"];')
            for a in e.inputs:
                if isinstance(a, Var):
                    lines.append(f'  "{names[a]}" -> "{names[o]}";')
    for i, a in enumerate(graph.outputs):
        lines.append(f'  "out{i}" [label="return {format_atom(a, names)}", shape=ellipse];')
        if isinstance(a, Var):
            lines.append(f'  "{names[a]}" -> "out{i}";')
    lines.append("}")
    return "\n".join(lines)


# ------------------------------------------------------------------ commands


def cmd_aot(a: argparse.Namespace) -> int:
    import torchtrek as tt

    fn = load_function(a.target)
    args = build_args(fn, a.arg)
    path = _run_user(a.target, lambda: tt.export(fn, *args, target=a.target_backend, grad=a.grad,
                                                 out=a.output, params_as_args=a.params_as_args,
                                                 dynamic=a.dynamic))
    print(f"wrote {path} and {Path(a.output) / 'manifest.json'}")
    return 0


def cmd_ir(a: argparse.Namespace) -> int:
    import torchtrek as tt

    fn = load_function(a.target)
    args = build_args(fn, a.arg)
    compiled = tt.compile(fn)
    if a.backward:
        graph = _run_user(a.target, lambda: compiled._entry_for(args, {}, True).compiled.backward_graph)
        if graph is None:
            raise UsageError(f"{a.target} has no floating-point input to differentiate")
    else:
        graph = _run_user(a.target, lambda: compiled._entry_for(args, {}, False).compiled.graph)
    print(to_dot(graph) if a.format == "dot" else graph)
    return 0


def cmd_codegen(a: argparse.Namespace) -> int:
    from torchtrek.codegen.numpy.generator import generate
    from torchtrek.ir import IRParseError, parse
    from torchtrek.ir.passes import VerifyError, verify

    path = Path(a.file)
    if not path.is_file():
        raise UsageError(f"no such file: {a.file}")
    try:
        graph = parse(path.read_text(encoding="utf-8"))
        verify(graph)
    except UnicodeDecodeError:
        raise UsageError(f"{a.file} is not UTF-8 text (expected IR as printed by `torchtrek ir`)") from None
    except (IRParseError, VerifyError) as err:
        raise UsageError(f"{a.file}: {err}") from None
    except (RuntimeError, KeyError, IndexError) as err:
        raise UsageError(f"{a.file}: invalid IR: {err}") from None
    if a.target_backend == "cuda":
        from torchtrek.codegen.cuda.generator import generate as cuda_generate

        try:
            source = cuda_generate(graph).text
        except NotImplementedError as err:
            raise UsageError(f"{a.file}: {err}") from None
    else:
        source = generate(graph)
    if a.output:
        Path(a.output).write_text(source)
        print(f"wrote {a.output}")
    else:
        print(source, end="")
    return 0


def cmd_explain(a: argparse.Namespace) -> int:
    import torchtrek as tt

    fn = load_function(a.target)
    args = build_args(fn, a.arg)
    print(_run_user(a.target, lambda: tt.explain(fn, *args)))
    return 0


def cmd_cache(a: argparse.Namespace) -> int:
    from torchtrek.runtime import disk_cache

    if a.action == "info":
        i = disk_cache.info()
        print(f"cache: {i['path']}\nentries: {i['entries']}\nsize: {i['bytes'] / 1024:.1f} KiB")
    else:
        print(f"removed {disk_cache.clear()} entries from {disk_cache.cache_dir()}")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .demo import run

    return run(a.output)


def cmd_run(a: argparse.Namespace) -> int:
    from ._as_torch import run_script

    return run_script(a.script, a.args)


def cmd_launch(a: argparse.Namespace) -> int:
    """mpiexec -n N [-f hostfile] python -m torchtrek.cli run SCRIPT args (a thin wrapper)."""
    import shutil
    import subprocess

    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep +
                           os.environ.get("PATH", ""))
    if mpiexec is None:
        raise UsageError("no mpiexec found: pip install -e \".[distributed]\" (mpi4py and the "
                         "mpich wheel) or install an MPI")
    cmd = [mpiexec, "-n", str(a.nproc)]
    if a.hostfile:
        cmd += ["-f", a.hostfile]
    cmd += [sys.executable, "-m", "torchtrek.cli", "run", a.script, *a.args]
    env = dict(os.environ, TORCHTREK_LAUNCH="1")  # run_script sets RANK / WORLD_SIZE per rank
    # as torchrun: the cores shared out between the processes (N processes each running
    # all-core OpenMP and BLAS threads oversubscribe the machine: 2 DDP processes on 2 cores ran
    # 4x slower than with one thread each)
    threads = str(max(1, (os.cpu_count() or 1) // a.nproc))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if var not in env:
            env[var] = threads
    return subprocess.call(cmd, env=env)


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="torchtrek", description="TorchTrek: PyTorch-style code "
                                "compiled to readable NumPy source")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="the whole pipeline on a small classifier (no network)")
    d.add_argument("-o", "--output", default="torchtrek-demo-out", help="artifact folder")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("run", help="run a PyTorch script with `import torch` resolving to TorchTrek")
    r.add_argument("script", metavar="SCRIPT.py")
    r.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    r.set_defaults(func=cmd_run)

    la = sub.add_parser("launch", help="start N processes of a training script under MPI "
                        "(torch.distributed's world)")
    la.add_argument("-n", "--nproc", type=int, required=True, help="processes to start")
    la.add_argument("--hostfile", help="MPI host file, to spread the processes over machines")
    la.add_argument("script", metavar="SCRIPT.py")
    la.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    la.set_defaults(func=cmd_launch)

    def traced(name: str, help: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help)
        s.add_argument("target", metavar="FILE.py:FUNC")
        s.add_argument("--arg", action="append", default=[], metavar="NAME=TYPE",
                       help="an argument, e.g. x=f32[64,784] (dtypes f32 f64 i32 i64 bool ...)")
        return s

    s = traced("aot", "export standalone NumPy source (forward, and backward with --grad)")
    s.add_argument("--target", dest="target_backend", default="numpy", choices=["numpy", "cuda"],
                   help="numpy: a module needing only NumPy; cuda: .cu kernels + a pycuda launcher")
    s.add_argument("--grad", action="store_true", help="also export backward and value_and_grad")
    s.add_argument("--params-as-args", action="store_true",
                   help="take captured tensors as arguments instead of params.npz")
    s.add_argument("--dynamic", action="store_true",
                   help="a module for any size of the arguments' dimensions (NumPy target)")
    s.add_argument("-o", "--output", default="torchtrek_export", help="output folder")
    s.set_defaults(func=cmd_aot)

    s = traced("ir", "print a function's IR (forward, or --backward)")
    s.add_argument("--backward", action="store_true")
    s.add_argument("--format", choices=["text", "dot"], default="text")
    s.set_defaults(func=cmd_ir)

    s = traced("explain", "each pointwise region's formula and symbolic derivatives")
    s.set_defaults(func=cmd_explain)

    s = sub.add_parser("codegen", help="turn an IR text file into source")
    s.add_argument("file", metavar="FILE.ir")
    s.add_argument("--target", dest="target_backend", default="numpy", choices=["numpy", "cuda"])
    s.add_argument("-o", "--output", help="write here instead of stdout")
    s.set_defaults(func=cmd_codegen)

    s = sub.add_parser("cache", help="the on-disk cache of generated sources")
    s.add_argument("action", choices=["info", "clear"])
    s.set_defaults(func=cmd_cache)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    a = parser.parse_args(argv)
    try:
        return a.func(a)
    except UsageError as err:
        print(f"torchtrek {a.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an output path that cannot be written, say
        print(f"torchtrek {a.command}: error: {err.strerror or err}: "
              f"{err.filename or ''} (check the -o/--output path)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
