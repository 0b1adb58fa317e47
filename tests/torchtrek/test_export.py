"""tt.export: standalone NumPy modules (forward, backward, value_and_grad), their
manifest and params, checked against torch 2.13 by running the exported module in a
virtual environment that has NumPy and nothing else."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import torchtrek as tt
import torchtrek.nn.functional as F

THIS_FILE = Path(__file__).resolve()
SOURCE_LINES = THIS_FILE.read_text().splitlines()

RTOL, ATOL = 1e-4, 1e-5  # float32


# ---------------------------------------------------------------- a NumPy-only venv


@pytest.fixture(scope="session")
def numpy_only_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv whose site-packages holds symlinks to numpy (and numpy.libs) only:
    no torch, no torchtrek, no network needed."""
    root = tmp_path_factory.mktemp("numpy-only-venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True, timeout=60)
    python = venv / "bin" / "python"
    assert python.exists()
    site = subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, cwd=root).stdout.strip()
    site_dir = Path(site)
    site_dir.mkdir(parents=True, exist_ok=True)
    numpy_dir = Path(np.__file__).resolve().parent
    for name in ("numpy", "numpy.libs"):
        src = numpy_dir.parent / name
        if src.exists():
            (site_dir / name).symlink_to(src, target_is_directory=True)
    return python


RUNNER = textwrap.dedent('''\
    import importlib, json, sys
    for banned in ("torch", "torchtrek"):
        try:
            __import__(banned)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{banned} is importable in the NumPy-only environment")
    import numpy as np

    folder, module, spec_path, out_path = sys.argv[1:5]
    sys.path.insert(0, folder)
    m = importlib.import_module(module)
    spec = json.load(open(spec_path))
    results = {}
    for i, call in enumerate(spec):
        args = [np.load(a) for a in call["args"]]
        kwargs = {k: np.load(v) for k, v in call.get("kwargs", {}).items()}
        if "params" in call:
            kwargs["params"] = {k: np.load(v) for k, v in call["params"].items()}
        r = getattr(m, call["fn"])(*args, **kwargs)
        if isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], dict):
            value, grads = r
        elif isinstance(r, dict):
            value, grads = None, r
        else:
            value, grads = r, {}
        if value is not None:
            results[f"{i}:value"] = np.asarray(value)
            results[f"{i}:value_type"] = np.asarray(type(value).__module__.split(".")[0])
        for k, g in grads.items():
            results[f"{i}:grad:{k}"] = np.asarray(g)
    bad = sorted(n for n in sys.modules if n.split(".")[0] in ("torch", "torchtrek"))
    assert not bad, bad
    np.savez(out_path, **results)
''')


def run_exported(python: Path, module_path: Path, calls: list[dict], work: Path) -> list[dict]:
    """Run `calls` ({"fn", "args": [arrays], "kwargs": {name: array}, "params": {...}})
    against the exported module in the NumPy-only interpreter. Returns, per call,
    {"value": array or absent, "grads": {name: array}}."""
    work.mkdir(parents=True, exist_ok=True)
    counter = 0

    def save(a: np.ndarray) -> str:
        nonlocal counter
        counter += 1
        p = work / f"in{counter}.npy"
        np.save(p, np.asarray(a))
        return str(p)

    spec = []
    for c in calls:
        s = {"fn": c["fn"], "args": [save(a) for a in c.get("args", [])],
             "kwargs": {k: save(v) for k, v in c.get("kwargs", {}).items()}}
        if "params" in c:
            s["params"] = {k: save(v) for k, v in c["params"].items()}
        spec.append(s)
    (work / "spec.json").write_text(json.dumps(spec))
    (work / "runner.py").write_text(RUNNER)
    out = work / "out.npz"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)}
    res = subprocess.run([str(python), "-I", str(work / "runner.py"), str(module_path.parent),
                          module_path.stem, str(work / "spec.json"), str(out)],
                         cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"exported module failed in the NumPy-only venv:\n{res.stderr}"
    results = [{"grads": {}} for _ in calls]
    with np.load(out) as data:
        for key in data.files:
            i, kind, *rest = key.split(":")
            if kind == "value":
                results[int(i)]["value"] = data[key]
            elif kind == "value_type":
                results[int(i)]["value_type"] = str(data[key])
            else:
                results[int(i)]["grads"][rest[0]] = data[key]
    return results


def assert_close(actual: np.ndarray, expected: torch.Tensor | np.ndarray, what: str = "") -> None:
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == np.float32, f"{what}: dtype {actual.dtype}, expected float32"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def imported_modules(source: str) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add((node.module or "").split(".")[0] if node.level == 0 else ".")
    return mods


def functions(source: str) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


def arg_names(fn: ast.FunctionDef) -> list[str]:
    return [a.arg for a in fn.args.args]


def returned_grad_names(source: str, fn_name: str) -> list[str]:
    """The keys of the gradient dict that `fn_name` returns (backward: the dict itself;
    value_and_grad: the second item of the returned pair)."""
    fn = functions(source)[fn_name]
    (ret,) = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    value = ret.value
    if isinstance(value, ast.Tuple):
        value = value.elts[1]
    assert isinstance(value, ast.Dict), ast.dump(value)
    return [k.value for k in value.keys]


# ---------------------------------------------------------------- user functions


def rand(*shape: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


MLP_PARAMS = {"w1": rand(3, 8, seed=1), "b1": rand(8, seed=2), "w2": rand(8, 2, seed=3),
              "b2": rand(2, seed=4)}


def make_mlp_loss():
    w1, b1, w2, b2 = (tt.tensor(MLP_PARAMS[k]) for k in ("w1", "b1", "w2", "b2"))

    def mlp_loss(x, y):
        h = tt.relu(x @ w1 + b1)
        out = h @ w2 + b2
        return F.mse_loss(out, y)

    return mlp_loss


def torch_mlp_loss(x: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray]):
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.relu(torch.from_numpy(x) @ p["w1"] + p["b1"])
    out = h @ p["w2"] + p["b2"]
    loss = torch.nn.functional.mse_loss(out, torch.from_numpy(y))
    loss.backward()
    return loss, {k: t.grad for k, t in p.items()}


def seed(x):
    y = x ** 2 + 3 * x + 5
    return y


def ce_loss(logits, target):
    return tt.nn.functional.cross_entropy(logits, target)


TANH_PARAMS = {"w": rand(3, 4, seed=5), "v": rand(4, seed=6)}


def make_tanh_model():
    w, v = tt.tensor(TANH_PARAMS["w"]), tt.tensor(TANH_PARAMS["v"])

    def tanh_model(x):
        h = tt.tanh(x @ w)
        return (h * v).sum()

    return tanh_model


X = rand(5, 3, seed=10)
Y = rand(5, 2, seed=11)


@pytest.fixture(scope="module")
def mlp_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mlp") / "export"
    path = tt.export(make_mlp_loss(), tt.tensor(X), tt.tensor(Y), grad=True, out=out)
    return Path(path)


# ---------------------------------------------------------------- tests


def test_venv_has_numpy_but_neither_torch_nor_torchtrek(numpy_only_python: Path, tmp_path: Path) -> None:
    code = textwrap.dedent("""\
        import numpy
        for m in ("torch", "torchtrek"):
            try:
                __import__(m)
            except ImportError:
                print(m, "missing")
            else:
                print(m, "FOUND")
    """)
    res = subprocess.run([str(numpy_only_python), "-I", "-c", code], cwd=tmp_path,
                         env={"PATH": os.environ.get("PATH", "")}, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["torch missing", "torchtrek missing"]


def test_mlp_export_writes_module_manifest_and_params(mlp_export: Path) -> None:
    folder = mlp_export.parent
    assert mlp_export.name == "mlp_loss.py"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "mlp_loss.py", "params.npz"]
    source = mlp_export.read_text()
    assert imported_modules(source) == {"numpy"}
    fns = functions(source)
    assert {"forward", "backward", "value_and_grad"} <= set(fns)
    assert arg_names(fns["forward"])[:2] == ["x", "y"]

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["name"] == "mlp_loss"
    assert manifest["torchtrek_version"] == tt.__version__
    assert manifest["source_sha256"] == hashlib.sha256(mlp_export.read_bytes()).hexdigest()
    assert manifest["functions"] == ["forward", "backward", "value_and_grad"]
    assert manifest["params_file"] == "params.npz"
    ins = [(i["name"], i["shape"], i["dtype"], i["kind"]) for i in manifest["inputs"]]
    assert ins == [("x", [5, 3], "float32", "arg"), ("y", [5, 2], "float32", "arg"),
                   ("w1", [3, 8], "float32", "param"), ("b1", [8], "float32", "param"),
                   ("w2", [8, 2], "float32", "param"), ("b2", [2], "float32", "param")]
    assert manifest["outputs"] == [{"shape": [], "dtype": "float32"}]

    with np.load(folder / "params.npz") as data:
        assert sorted(data.files) == sorted(MLP_PARAMS)
        for k, v in MLP_PARAMS.items():
            np.testing.assert_array_equal(data[k], v)
            assert data[k].dtype == np.float32


def test_mlp_export_matches_torch_in_numpy_only_venv(mlp_export: Path, numpy_only_python: Path,
                                                     tmp_path: Path) -> None:
    x, y = rand(5, 3, seed=20), rand(5, 2, seed=21)  # not the example inputs
    ct = np.asarray(2.5, dtype=np.float32)
    fwd, bwd, bwd2, vag = run_exported(numpy_only_python, mlp_export, [
        {"fn": "forward", "args": [x, y]},
        {"fn": "backward", "args": [x, y]},
        {"fn": "backward", "args": [x, y, ct]},
        {"fn": "value_and_grad", "args": [x, y]},
    ], tmp_path)
    loss, grads = torch_mlp_loss(x, y, MLP_PARAMS)
    assert_close(fwd["value"], loss, "forward")
    assert fwd["value_type"] == "numpy"
    assert_close(vag["value"], loss, "value_and_grad value")
    for res, scale in ((bwd, 1.0), (bwd2, 2.5), (vag, 1.0)):
        assert sorted(res["grads"]) == sorted(MLP_PARAMS)
        for k in MLP_PARAMS:
            assert_close(res["grads"][k], grads[k] * scale, f"grad {k} x{scale}")


def test_mlp_export_params_override(mlp_export: Path, numpy_only_python: Path, tmp_path: Path) -> None:
    other = {k: v * 0.5 + 0.1 for k, v in MLP_PARAMS.items()}
    (res,) = run_exported(numpy_only_python, mlp_export,
                          [{"fn": "value_and_grad", "args": [X, Y], "params": other}], tmp_path)
    loss, grads = torch_mlp_loss(X, Y, other)
    assert_close(res["value"], loss, "value with other params")
    for k in other:
        assert_close(res["grads"][k], grads[k], f"grad {k} with other params")


def test_seed_example_export(numpy_only_python: Path, tmp_path: Path) -> None:
    path = tt.export(seed, tt.tensor(2.0), grad=True, out=tmp_path / "seed_export")
    source = path.read_text()
    assert imported_modules(source) == {"numpy"}
    assert not (path.parent / "params.npz").exists()
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["params_file"] is None
    assert [(i["name"], i["shape"], i["dtype"]) for i in manifest["inputs"]] == [("x", [], "float32")]
    # no parameters: the gradient is with respect to the argument
    assert returned_grad_names(source, "backward") == ["x"]
    assert returned_grad_names(source, "value_and_grad") == ["x"]
    x = np.asarray(2.0, dtype=np.float32)
    fwd, bwd, vag = run_exported(numpy_only_python, path, [
        {"fn": "forward", "args": [x]}, {"fn": "backward", "args": [x]},
        {"fn": "value_and_grad", "args": [x]}], tmp_path / "run")
    assert_close(fwd["value"], np.float32(15.0), "seed value")
    assert list(bwd["grads"]) == ["x"]
    assert_close(bwd["grads"]["x"], np.float32(7.0), "seed grad")
    assert_close(vag["value"], np.float32(15.0), "value_and_grad value")
    assert_close(vag["grads"]["x"], np.float32(7.0), "value_and_grad grad")


def _check_ce(path: Path, python: Path, work: Path) -> None:
    logits = rand(6, 4, seed=30)
    target = np.array([0, 3, 1, 1, 2, 0], dtype=np.int64)
    fwd, vag = run_exported(python, path, [{"fn": "forward", "args": [logits, target]},
                                           {"fn": "value_and_grad", "args": [logits, target]}], work)
    tl = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(tl, torch.from_numpy(target))
    loss.backward()
    assert_close(fwd["value"], loss, "cross-entropy value")
    assert_close(vag["value"], loss, "cross-entropy value (value_and_grad)")
    assert list(vag["grads"]) == ["logits"]
    assert_close(vag["grads"]["logits"], tl.grad, "cross-entropy grad wrt logits")


def test_cross_entropy_export_default_wrt(numpy_only_python: Path, tmp_path: Path) -> None:
    """No outside tensors: gradients are wrt the float argument, no params.npz."""
    logits = tt.tensor(rand(6, 4, seed=31))
    target = tt.tensor(np.array([1, 0, 3, 2, 2, 1], dtype=np.int64))
    path = tt.export(ce_loss, logits, target, grad=True, out=tmp_path / "ce")
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert [(i["name"], i["dtype"]) for i in manifest["inputs"]] == [("logits", "float32"), ("target", "int64")]
    assert manifest["params_file"] is None
    assert not (path.parent / "params.npz").exists()
    _check_ce(path, numpy_only_python, tmp_path / "run")


def test_cross_entropy_export_wrt_logits(numpy_only_python: Path, tmp_path: Path) -> None:
    logits = tt.tensor(rand(6, 4, seed=31))
    target = tt.tensor(np.array([1, 0, 3, 2, 2, 1], dtype=np.int64))
    path = tt.export(ce_loss, logits, target, grad=True, out=tmp_path / "ce", wrt=["logits"])
    assert imported_modules(path.read_text()) == {"numpy"}
    _check_ce(path, numpy_only_python, tmp_path / "run")


def test_cross_entropy_through_linear_layer_matches_torch(numpy_only_python: Path, tmp_path: Path) -> None:
    w_np = rand(3, 4, seed=32)
    w = tt.tensor(w_np)

    def linear_ce(x, target):
        logits = x @ w
        return tt.nn.functional.cross_entropy(logits, target)

    target = np.array([0, 3, 1, 1, 2], dtype=np.int64)
    path = tt.export(linear_ce, tt.tensor(X), tt.tensor(target), grad=True, out=tmp_path / "lce",
                     wrt=["w"])
    (vag,) = run_exported(numpy_only_python, path, [{"fn": "value_and_grad", "args": [X, target]}],
                          tmp_path / "run")
    tw = torch.tensor(w_np, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(X) @ tw, torch.from_numpy(target))
    loss.backward()
    assert_close(vag["value"], loss, "linear cross-entropy value")
    assert list(vag["grads"]) == ["w"]
    assert_close(vag["grads"]["w"], tw.grad, "linear cross-entropy grad wrt w")


def test_second_order_export_of_tt_grad(numpy_only_python: Path, tmp_path: Path) -> None:
    g = tt.grad(lambda x: (x**3).sum())
    x = rand(5, seed=40)
    path = tt.export(g, tt.tensor(x), grad=True, out=tmp_path / "second")
    source = path.read_text()
    assert imported_modules(source) == {"numpy"}
    assert "backward" in functions(source)
    ct = np.ones(5, dtype=np.float32)
    fwd, bwd = run_exported(numpy_only_python, path, [{"fn": "forward", "args": [x]},
                                                      {"fn": "backward", "args": [x, ct]}], tmp_path / "run")
    assert_close(fwd["value"], 3 * x**2, "first derivative 3x^2")
    assert list(bwd["grads"]) == ["x"]
    assert_close(bwd["grads"]["x"], 6 * x, "second derivative 6x")
    tx = torch.tensor(x, requires_grad=True)
    (d1,) = torch.autograd.grad((tx**3).sum(), tx, create_graph=True)
    (d2,) = torch.autograd.grad(d1, tx, torch.from_numpy(ct))
    assert_close(bwd["grads"]["x"], d2, "second derivative vs torch")


def test_export_is_byte_identical_when_repeated(tmp_path: Path) -> None:
    a = tt.export(make_mlp_loss(), tt.tensor(X), tt.tensor(Y), grad=True, out=tmp_path / "a")
    b = tt.export(make_mlp_loss(), tt.tensor(X), tt.tensor(Y), grad=True, out=tmp_path / "b")
    a_again = tt.export(make_mlp_loss(), tt.tensor(X), tt.tensor(Y), grad=True, out=tmp_path / "a")
    assert a_again == a
    for name in (a.name, "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    with np.load(tmp_path / "a" / "params.npz") as pa, np.load(tmp_path / "b" / "params.npz") as pb:
        assert pa.files == pb.files
        for k in pa.files:
            np.testing.assert_array_equal(pa[k], pb[k])


USER_MODULE = textwrap.dedent("""\
    import numpy as np
    import torchtrek as tt

    rng = np.random.default_rng(0)
    w1 = tt.tensor(rng.standard_normal((3, 8)).astype(np.float32))
    b1 = tt.tensor(rng.standard_normal(8).astype(np.float32))
    w2 = tt.tensor(rng.standard_normal((8, 2)).astype(np.float32))
    b2 = tt.tensor(rng.standard_normal(2).astype(np.float32))


    def model_loss(x, y):
        h = tt.tanh(x @ w1 + b1)
        out = h @ w2 + b2
        return tt.nn.functional.mse_loss(out, y)


    def export_to(folder):
        x = tt.tensor(np.ones((5, 3), dtype=np.float32))
        y = tt.tensor(np.zeros((5, 2), dtype=np.float32))
        return tt.export(model_loss, x, y, grad=True, out=folder)
""")


def test_export_is_byte_identical_across_processes(tmp_path: Path) -> None:
    (tmp_path / "user_model.py").write_text(USER_MODULE)
    spec = importlib.util.spec_from_file_location("user_model", tmp_path / "user_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    here = module.export_to(tmp_path / "here")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    res = subprocess.run([sys.executable, "-c", "import sys, user_model; user_model.export_to(sys.argv[1])",
                          str(tmp_path / "there")], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    for name in (here.name, "manifest.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name


def test_params_as_args(numpy_only_python: Path, tmp_path: Path) -> None:
    path = tt.export(make_mlp_loss(), tt.tensor(X), tt.tensor(Y), grad=True,
                     out=tmp_path / "pa", params_as_args=True)
    assert sorted(p.name for p in path.parent.iterdir()) == ["manifest.json", "mlp_loss.py"]
    source = path.read_text()
    assert imported_modules(source) == {"numpy"}
    assert "load_params" not in source and "params.npz" not in source
    fns = functions(source)
    assert arg_names(fns["forward"]) == ["x", "y", "w1", "b1", "w2", "b2"]
    assert arg_names(fns["value_and_grad"]) == ["x", "y", "w1", "b1", "w2", "b2"]
    assert not fns["forward"].args.kwonlyargs
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["params_file"] is None
    p = [MLP_PARAMS[k] for k in ("w1", "b1", "w2", "b2")]
    fwd, vag = run_exported(numpy_only_python, path, [{"fn": "forward", "args": [X, Y, *p]},
                                                      {"fn": "value_and_grad", "args": [X, Y, *p]}],
                            tmp_path / "run")
    loss, grads = torch_mlp_loss(X, Y, MLP_PARAMS)
    assert_close(fwd["value"], loss, "forward (params as args)")
    assert sorted(vag["grads"]) == sorted(MLP_PARAMS)
    for k in MLP_PARAMS:
        assert_close(vag["grads"][k], grads[k], f"grad {k} (params as args)")


def test_gradient_names_are_the_users_names(mlp_export: Path) -> None:
    source = mlp_export.read_text()
    for k in ("w1", "b1", "w2", "b2"):
        assert re.search(rf"\bgrad_{k}\b", source), k
    assert returned_grad_names(source, "backward") == ["w1", "b1", "w2", "b2"]
    assert returned_grad_names(source, "value_and_grad") == ["w1", "b1", "w2", "b2"]
    assert "tangent" not in source
    assert "ct_" not in source


def _loc_comments(source: str) -> list[tuple[str, int, str]]:
    return [(m.group(1), int(m.group(2)), m.group(3))
            for m in re.finditer(r"^\s*# ([\w.\-]+\.py):(\d+): (.*)$", source, re.M)]


def test_generated_code_is_annotated_with_user_source(mlp_export: Path) -> None:
    source = mlp_export.read_text()
    assert "# " in source
    assert re.search(r"^\s*# \S+:\d+: h = tt\.relu\(x @ w1 \+ b1\)$", source, re.M)
    assert re.search(r"^\s*# \S+:\d+: out = h @ w2 \+ b2$", source, re.M)
    # every location comment quotes the user's line exactly
    locs = _loc_comments(source)
    assert locs
    for file, line, code in locs:
        assert file == THIS_FILE.name
        assert SOURCE_LINES[line - 1].strip() == code
    # every computing statement of _forward/_backward sits under a location comment
    lines = source.splitlines()
    fns = functions(source)
    for name in ("_forward", "_backward"):
        fn = fns[name]
        seen_loc = False
        for ln in range(fn.lineno, fn.end_lineno + 1):
            text = lines[ln - 1].strip()
            if re.match(r"# \S+\.py:\d+: ", text):
                seen_loc = True
            elif re.match(r"[A-Za-z_]\w* = ", text) and not text.startswith("_b = "):
                # (`_b = ...` takes the scratch buffers; it computes nothing)
                assert seen_loc, f"{name}: {text!r} has no user-source comment above it"


def test_backward_carries_derivative_comments(tmp_path: Path) -> None:
    path = tt.export(make_tanh_model(), tt.tensor(rand(2, 3, seed=50)), grad=True, out=tmp_path / "tanh")
    source = path.read_text()
    bwd = ast.get_source_segment(source, functions(source)["_backward"])
    assert "# d/dx tanh(x) = 1 - tanh(x)**2" in bwd
    assert re.search(r"^\s*# \S+:\d+: h = tt\.tanh\(x @ w\)$", bwd, re.M)


def test_tanh_model_export_matches_torch(numpy_only_python: Path, tmp_path: Path) -> None:
    path = tt.export(make_tanh_model(), tt.tensor(rand(2, 3, seed=50)), grad=True, out=tmp_path / "tanh")
    x = rand(2, 3, seed=51)
    (vag,) = run_exported(numpy_only_python, path, [{"fn": "value_and_grad", "args": [x]}], tmp_path / "run")
    w = torch.tensor(TANH_PARAMS["w"], requires_grad=True)
    v = torch.tensor(TANH_PARAMS["v"], requires_grad=True)
    out = (torch.tanh(torch.from_numpy(x) @ w) * v).sum()
    out.backward()
    assert_close(vag["value"], out, "tanh model value")
    assert_close(vag["grads"]["w"], w.grad, "grad w")
    assert_close(vag["grads"]["v"], v.grad, "grad v")


def test_single_parameter_export_is_valid_python(numpy_only_python: Path, tmp_path: Path) -> None:
    w_np = rand(3, 2, seed=60)
    w = tt.tensor(w_np)

    def single(x):
        return (x @ w).sum()

    path = tt.export(single, tt.tensor(X), grad=True, out=tmp_path / "single")
    source = path.read_text()
    compile(source, str(path), "exec")  # a one-name tuple must still be Python
    assert imported_modules(source) == {"numpy"}
    (vag,) = run_exported(numpy_only_python, path, [{"fn": "value_and_grad", "args": [X]}], tmp_path / "run")
    tw = torch.tensor(w_np, requires_grad=True)
    out = (torch.from_numpy(X) @ tw).sum()
    out.backward()
    assert_close(vag["value"], out, "single-param value")
    assert_close(vag["grads"]["w"], tw.grad, "single-param grad")


def _make_named_arg_fn(arg: str):
    w, b = tt.tensor(TANH_PARAMS["v"]), tt.tensor(MLP_PARAMS["b1"][:4])
    ns: dict = {"w": w, "b": b}
    exec(f"def uses_{arg}({arg}):\n    return ({arg}.exp() * w * b).sum()\n", ns)
    return ns[f"uses_{arg}"]


@pytest.mark.parametrize("arg", ["p", "params", "outs", "res", "grads", "np", "load_params", "_p", "_grads",
                                 "grad_sum"])
def test_argument_names_do_not_clash_with_generated_names(arg: str, numpy_only_python: Path,
                                                          tmp_path: Path) -> None:
    """A user's argument may be called anything the generated wrappers use internally."""
    x = rand(4, seed=70)
    path = tt.export(_make_named_arg_fn(arg), tt.tensor(x), grad=True, out=tmp_path / "named")
    compile(path.read_text(), str(path), "exec")  # valid Python, duplicate arguments included
    fwd, vag = run_exported(numpy_only_python, path, [{"fn": "forward", "args": [x]},
                                                      {"fn": "value_and_grad", "args": [x]}],
                            tmp_path / "run")
    tw = torch.tensor(TANH_PARAMS["v"], requires_grad=True)
    tb = torch.tensor(MLP_PARAMS["b1"][:4], requires_grad=True)
    out = (torch.from_numpy(x).exp() * tw * tb).sum()
    out.backward()
    assert_close(fwd["value"], out, f"forward with argument {arg!r}")
    assert_close(vag["grads"]["w"], tw.grad, f"grad w with argument {arg!r}")
    assert_close(vag["grads"]["b"], tb.grad, f"grad b with argument {arg!r}")


def test_forward_only_export(numpy_only_python: Path, tmp_path: Path) -> None:
    w1 = tt.tensor(MLP_PARAMS["w1"])
    b1 = tt.tensor(MLP_PARAMS["b1"])

    def hidden(x):
        return tt.relu(x @ w1 + b1)

    path = tt.export(hidden, tt.tensor(X), out=tmp_path / "fwd")
    source = path.read_text()
    assert set(functions(source)) >= {"forward"}
    assert "backward" not in functions(source) and "value_and_grad" not in functions(source)
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["functions"] == ["forward"]
    assert manifest["outputs"] == [{"shape": [5, 8], "dtype": "float32"}]
    (fwd,) = run_exported(numpy_only_python, path, [{"fn": "forward", "args": [X]}], tmp_path / "run")
    expected = torch.relu(torch.from_numpy(X) @ torch.from_numpy(MLP_PARAMS["w1"]) + torch.from_numpy(MLP_PARAMS["b1"]))
    assert_close(fwd["value"], expected, "forward-only")


def test_export_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope"):
        tt.export(make_mlp_loss(), tt.tensor(X), tt.tensor(Y), grad=True, out=tmp_path / "e1", wrt=["nope"])
    with pytest.raises(ValueError, match="tpu"):
        tt.export(seed, tt.tensor(2.0), target="tpu", out=tmp_path / "e2")
    assert not (tmp_path / "e2").exists()
    with pytest.raises(ValueError):
        tt.export(lambda n: (n * 2).sum(), tt.tensor(np.arange(3)), grad=True, out=tmp_path / "e3")


def test_wrt_selects_arguments(tmp_path: Path, numpy_only_python: Path) -> None:
    path = tt.export(make_mlp_loss(), tt.tensor(X), tt.tensor(Y), grad=True, out=tmp_path / "wrt",
                     wrt=["x", "w2"])
    source = path.read_text()
    assert returned_grad_names(source, "value_and_grad") == ["x", "w2"]
    (vag,) = run_exported(numpy_only_python, path, [{"fn": "value_and_grad", "args": [X, Y]}], tmp_path / "run")
    p = {k: torch.tensor(v, requires_grad=True) for k, v in MLP_PARAMS.items()}
    tx = torch.tensor(X, requires_grad=True)
    loss = torch.nn.functional.mse_loss(torch.relu(tx @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"],
                                        torch.from_numpy(Y))
    loss.backward()
    assert sorted(vag["grads"]) == ["w2", "x"]
    assert_close(vag["grads"]["x"], tx.grad, "grad x")
    assert_close(vag["grads"]["w2"], p["w2"].grad, "grad w2")


def test_module_docstring_documents_signature(mlp_export: Path) -> None:
    doc = ast.get_docstring(ast.parse(mlp_export.read_text()))
    assert "forward(x, y)" in doc
    assert "x: f32[5,3]" in doc
    assert '"w1": f32[3,8]' in doc
    assert "value_and_grad(x, y)" in doc
    assert "params.npz" in doc
