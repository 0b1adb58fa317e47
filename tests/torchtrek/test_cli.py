"""The `torchtrek` command, run as a subprocess on small user files; and the
TORCHTREK_LOGS switches, seen from a subprocess's stderr."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

USER_FILE = textwrap.dedent("""\
    import numpy as np
    import torchtrek as tt

    W = tt.tensor(np.linspace(-1.0, 1.0, 15, dtype=np.float32).reshape(3, 5))
    V = tt.tensor(np.linspace(0.5, -0.7, 10, dtype=np.float32).reshape(5, 2))


    def loss(x, y):
        h = tt.tanh(x @ W)
        return ((h @ V - y) ** 2).mean()


    def seed(x):
        y = x ** 2 + 3 * x + 5
        return y


    def branchy(x):
        if x.sum() > 0:
            return x
        return -x


    def unsupported(x):
        return x.frobnicate()
""")
W_NP = np.linspace(-1.0, 1.0, 15, dtype=np.float32).reshape(3, 5)
V_NP = np.linspace(0.5, -0.7, 10, dtype=np.float32).reshape(5, 2)
ARGS = ["--arg", "x=f32[4,3]", "--arg", "y=f32[4,2]"]


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env["TORCHTREK_CACHE_DIR"] = str(cwd / "cache")
    full_env.pop("TORCHTREK_LOGS", None)
    full_env.pop("TORCHTREK_DEBUG", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "torchtrek.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    assert "Traceback" not in res.stderr
    return res.stdout


def assert_usage_error(res: subprocess.CompletedProcess, *needles: str) -> str:
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2, f"exit {res.returncode}; stderr:\n{res.stderr}"
    lines = res.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected exactly one stderr line, got {len(lines)}:\n{res.stderr}"
    assert lines[0].startswith("torchtrek"), lines[0]
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    return lines[0]


def torch_loss(x: np.ndarray, y: np.ndarray):
    w = torch.tensor(W_NP, requires_grad=True)
    v = torch.tensor(V_NP, requires_grad=True)
    out = ((torch.tanh(torch.from_numpy(x) @ w) @ v - torch.from_numpy(y)) ** 2).mean()
    out.backward()
    return out, w.grad, v.grad


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


X = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
Y = np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)


# ---------------------------------------------------------------- the runs
# Every command runs once, two at a time, from the module-scoped `runs` fixture (the
# suite has to stay fast on two cores); each test then checks one result.

BAD_INPUT = {
    "unknown function": (["ir", "model.py:nope", "--arg", "x=f32[3]"], ["nope"]),
    "missing file": (["ir", "missing.py:f", "--arg", "x=f32[3]"], ["missing.py"]),
    "no :FUNC": (["explain", "model.py", "--arg", "x=f32[3]"], ["FILE.py:FUNC"]),
    "unknown dtype": (["ir", "model.py:seed", "--arg", "x=f99[3]"], ["f99"]),
    "empty type": (["ir", "model.py:seed", "--arg", "x="], ["x="]),
    "empty name": (["ir", "model.py:seed", "--arg", "=f32[3]"], ["=f32[3]"]),
    "bad shape": (["ir", "model.py:seed", "--arg", "x=f32[3,a]"], ["f32[3,a]"]),
    "unknown parameter": (["ir", "model.py:seed", "--arg", "z=f32[3]"], ["z"]),
    "missing arg": (["ir", "model.py:loss", "--arg", "x=f32[4,3]"], ["y"]),
    "no args at all": (["explain", "model.py:seed"], ["x"]),
    "untraceable ir": (["ir", "model.py:branchy", "--arg", "x=f32[3]"], ["branchy", "if x.sum() > 0:"]),
    "untraceable aot": (["aot", "model.py:branchy", "--arg", "x=f32[3]", "-o", "o"], ["if x.sum() > 0:"]),
    "untraceable explain": (["explain", "model.py:branchy", "--arg", "x=f32[3]"], ["if x.sum() > 0:"]),
    "shape mismatch": (["ir", "model.py:loss", "--arg", "x=f32[4,3]", "--arg", "y=f32[7,2]"], ["loss"]),
    "grad of int input": (["aot", "model.py:seed", "--arg", "x=i64[3]", "--grad", "-o", "o"], ["seed"]),
    "user file fails to import": (["ir", "broken.py:f", "--arg", "x=f32[3]"], ["boom at import"]),
    "codegen missing file": (["codegen", "missing.ir"], ["missing.ir"]),
    # a tensor method torch has and torchtrek lacks: the user's mistake, not a crash
    "unsupported tensor method": (["ir", "model.py:unsupported", "--arg", "x=f32[3]"], ["frobnicate"]),
    # output paths that cannot be written
    "aot -o is a file": (["aot", "model.py:seed", "--arg", "x=f32[]", "-o", "existing.txt"], ["existing.txt"]),
    "codegen -o into a missing folder": (["codegen", "good.ir", "-o", "no/such/dir/out.py"], ["no/such/dir"]),
}


def invalid_ir_files(good: str) -> dict[str, str | bytes]:
    lines = good.splitlines()
    cases: dict[str, str | bytes] = {
        "garbage.ir": "hello world\n",
        "empty.ir": "",
        "unknown_op.ir": good.replace("= tanh ", "= frobnicate "),
        "bad_type.ir": good.replace("%tanh: f32[4,5] = tanh", "%tanh: f32[4,9] = tanh"),
        "undefined_var.ir": good.replace("tanh %matmul", "tanh %nowhere"),
        "truncated.ir": "\n".join(lines[:3]) + "\n",
        "no_return.ir": "\n".join(line for line in lines if "return" not in line) + "\n",
        "non_utf8.ir": b"\xff\xfe\x00graph \x80\x81 garbage",
    }
    for name, text in cases.items():
        assert text != good, name
    return cases


INVALID_IR = ["garbage.ir", "empty.ir", "unknown_op.ir", "bad_type.ir", "undefined_var.ir",
              "truncated.ir", "no_return.ir", "non_utf8.ir"]


LOG_SCRIPT = textwrap.dedent("""\
    import torchtrek as tt

    @tt.compile
    def f(x):
        return (tt.tanh(x) * 2).sum()

    f(tt.randn(3, 4))
    f(tt.randn(5, 4))
    x = tt.randn(5, 4, requires_grad=True)
    f(x).backward()
    print("done")
""")

LOG_RUNS = {"logs recompiles,timings": "recompiles,timings", "logs ir,backward,code": "ir,backward,code",
            "logs off": None}


def _timed(fn, *args, **kwargs) -> "Result":
    t0 = time.perf_counter()
    proc = fn(*args, **kwargs)
    return Result(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0)


def _run_logged(work: Path, name: str, logs: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["TORCHTREK_CACHE_DIR"] = str(work / f"fresh-cache-{name.replace(' ', '_').replace(',', '_')}")
    env.pop("TORCHTREK_DEBUG", None)
    env.pop("TORCHTREK_LOGS", None)
    if logs is not None:
        env["TORCHTREK_LOGS"] = logs
    return subprocess.run([sys.executable, str(work / "logged.py")], cwd=work, env=env,
                          capture_output=True, text=True, timeout=60)


def _run_script(work: Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("torchtrek")
    assert exe, "the torchtrek console script is not on PATH"
    return subprocess.run([exe, *args], cwd=work, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TORCHTREK_CACHE_DIR": str(work / "cache")})


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cli")
    (work / "model.py").write_text(USER_FILE)
    (work / "broken.py").write_text("import torchtrek as tt\nraise RuntimeError('boom at import')\n")
    (work / "logged.py").write_text(LOG_SCRIPT)
    (work / "existing.txt").write_text("a file, not a folder\n")
    return work


@pytest.fixture(scope="module")
def good_ir(work: Path) -> str:
    text = ok(run_cli("ir", "model.py:loss", *ARGS, cwd=work))
    (work / "good.ir").write_text(text)
    (work / "sin.ir").write_text(text.replace("tanh", "sin"))
    for name, content in invalid_ir_files(text).items():
        path = work / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return text


# The bad-input table runs in ONE subprocess that calls torchtrek.cli.main once per case,
# exactly as `python -m torchtrek.cli` does (sys.exit(main())), recording each case's exit
# status, stdout and stderr; an exception escaping main is printed as the interpreter
# would (a traceback, status 1). Two cases also run as real subprocesses to check that the
# driver sees what a user sees.
DRIVER = textwrap.dedent("""\
    import contextlib, io, json, sys, traceback
    from torchtrek.cli import main

    cases = json.load(open(sys.argv[1]))
    results = {}
    for name, argv in cases.items():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code
            except BaseException:
                traceback.print_exc()
                code = 1
        if code is None:
            code = 0
        elif not isinstance(code, int):
            err.write(str(code) + "\\n")
            code = 1
        results[name] = {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
    json.dump(results, open(sys.argv[2], "w"))
""")


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str, seconds: float = 0.0) -> None:
        self.returncode, self.stdout, self.stderr, self.seconds = returncode, stdout, stderr, seconds


def _run_driver(work: Path, cases: dict[str, list[str]]) -> dict[str, Result]:
    (work / "driver.py").write_text(DRIVER)
    (work / "cases.json").write_text(json.dumps(cases))
    env = dict(os.environ)
    env["TORCHTREK_CACHE_DIR"] = str(work / "cache")
    env.pop("TORCHTREK_LOGS", None)
    env.pop("TORCHTREK_DEBUG", None)
    res = subprocess.run([sys.executable, str(work / "driver.py"), str(work / "cases.json"),
                          str(work / "results.json")], cwd=work, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    raw = json.loads((work / "results.json").read_text())
    return {k: Result(**v) for k, v in raw.items()}


REAL_SUBPROCESS_CASES = ["unknown dtype", "untraceable ir"]


@pytest.fixture(scope="module")
def runs(work: Path, good_ir: str) -> dict[str, Result]:
    jobs = {
        "aot grad": (run_cli, "aot", "model.py:loss", *ARGS, "--grad", "-o", "aot_out"),
        "aot params-as-args": (run_cli, "aot", str(work / "model.py") + ":loss", *ARGS, "--grad",
                               "--params-as-args", "-o", str(work / "aot_args")),
        "aot dynamic": (run_cli, "aot", "model.py:loss", *ARGS, "--grad", "--dynamic", "-o",
                        "aot_dyn"),
        "ir backward": (run_cli, "ir", "model.py:loss", *ARGS, "--backward"),
        "ir dot": (run_cli, "ir", "model.py:loss", *ARGS, "--format", "dot"),
        "explain seed": (run_cli, "explain", "model.py:seed", "--arg", "x=f32[]"),
        "codegen sin": (run_cli, "codegen", "sin.ir", "--target", "numpy"),
        "codegen sin -o": (run_cli, "codegen", "sin.ir", "-o", "gen_sin.py"),
        "demo": (run_cli, "demo", "-o", str(work / "demo-out")),
    }
    jobs.update({f"real: {case}": (run_cli, *BAD_INPUT[case][0]) for case in REAL_SUBPROCESS_CASES})
    table = {case: args for case, (args, _) in BAD_INPUT.items()}
    table.update({name: ["codegen", name, "--target", "numpy"] for name in INVALID_IR})
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(_timed, fn, *args, cwd=work, timeout=120)
                   for k, (fn, *args) in jobs.items()}
        futures["console script"] = pool.submit(_timed, _run_script, work, "explain", "model.py:seed",
                                                "--arg", "x=f32[]")
        for name, logs in LOG_RUNS.items():
            futures[name] = pool.submit(_timed, _run_logged, work, name, logs)
        driver = pool.submit(_run_driver, work, table)
        results = {k: f.result() for k, f in futures.items()}
        results.update(driver.result())
        return results


# ---------------------------------------------------------------- aot


def test_aot_grad_exports_a_module_matching_torch(work: Path, runs: dict[str, Result]) -> None:
    stdout = ok(runs["aot grad"])
    out = work / "aot_out"
    assert "loss.py" in stdout and "manifest.json" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["loss.py", "manifest.json", "params.npz"]
    with np.load(out / "params.npz") as params:
        np.testing.assert_array_equal(params["W"], W_NP)
        np.testing.assert_array_equal(params["V"], V_NP)
    m = import_file(out / "loss.py", "cli_aot_loss")
    value, grads = m.value_and_grad(X, Y)
    t_value, t_gw, t_gv = torch_loss(X, Y)
    np.testing.assert_allclose(value, t_value.item(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.forward(X, Y), t_value.item(), rtol=1e-5, atol=1e-6)
    assert sorted(grads) == ["V", "W"]
    np.testing.assert_allclose(grads["W"], t_gw.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads["V"], t_gv.numpy(), rtol=1e-4, atol=1e-6)
    bgrads = m.backward(X, Y)
    np.testing.assert_allclose(bgrads["W"], t_gw.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bgrads["V"], t_gv.numpy(), rtol=1e-4, atol=1e-6)


def test_aot_params_as_args(work: Path, runs: dict[str, Result]) -> None:
    ok(runs["aot params-as-args"])
    out = work / "aot_args"
    assert sorted(p.name for p in out.iterdir()) == ["loss.py", "manifest.json"]
    m = import_file(out / "loss.py", "cli_aot_loss_args")
    t_value, t_gw, t_gv = torch_loss(X, Y)
    value, grads = m.value_and_grad(X, Y, W_NP, V_NP)
    np.testing.assert_allclose(value, t_value.item(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["W"], t_gw.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads["V"], t_gv.numpy(), rtol=1e-4, atol=1e-6)


def test_aot_dynamic_serves_every_batch_size(work: Path, runs: dict[str, Result]) -> None:
    ok(runs["aot dynamic"])
    out = work / "aot_dyn"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"][0]["shape"] == ["s0", "s1"] or manifest["inputs"][0]["shape"] == ["s0", 3]
    m = import_file(out / "loss.py", "cli_aot_loss_dynamic")
    assert "s0 = x.shape[0]" in (out / "loss.py").read_text()
    for b in (1, 4, 9):
        x = np.random.default_rng(b).standard_normal((b, 3)).astype(np.float32)
        y = np.random.default_rng(b + 1).standard_normal((b, 2)).astype(np.float32)
        value, grads = m.value_and_grad(x, y)
        t_value, t_gw, t_gv = torch_loss(x, y)
        np.testing.assert_allclose(value, t_value.item(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grads["W"], t_gw.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(grads["V"], t_gv.numpy(), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- ir / explain / codegen


def test_ir_text(good_ir: str) -> None:
    assert good_ir.startswith("graph loss(")
    for needle in ("%x: f32[4,3]", "%y: f32[4,2]", "%W: f32[3,5]", "%V: f32[5,2]", "matmul", "tanh",
                   "return", "model.py:9: h = tt.tanh(x @ W)"):
        assert needle in good_ir, needle


def test_ir_backward(runs: dict[str, Result]) -> None:
    text = ok(runs["ir backward"])
    assert text.startswith("graph loss_backward(")
    assert "d/dx tanh(x) = 1 - tanh(x)**2" in text
    for needle in ("grad_x", "grad_W", "grad_V", "f32[4,3]", "return"):
        assert needle in text, needle


def test_ir_dot(runs: dict[str, Result]) -> None:
    text = ok(runs["ir dot"])
    assert text.startswith("digraph")
    assert text.rstrip().endswith("}")
    assert "->" in text and "tanh" in text and "f32[4,3]" in text


def test_explain_seed(runs: dict[str, Result]) -> None:
    text = ok(runs["explain seed"])
    assert "dy/dx = 2*x + 3" in text
    assert "y = x**2 + 3*x + 5" in text


def test_codegen_from_hand_edited_ir(work: Path, runs: dict[str, Result]) -> None:
    source = ok(runs["codegen sin"])
    assert "np.sin(" in source and "tanh" not in source
    assert "wrote" in ok(runs["codegen sin -o"])
    out_py = work / "gen_sin.py"
    assert out_py.read_text() == source
    m = import_file(out_py, "cli_codegen_gen")
    (value,) = m.loss(X, Y, W_NP, V_NP)
    expected = ((np.sin(X @ W_NP) @ V_NP - Y) ** 2).mean()
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)


def test_console_script(runs: dict[str, Result]) -> None:
    assert "dy/dx = 2*x + 3" in ok(runs["console script"])


# ---------------------------------------------------------------- demo


def test_demo(work: Path, runs: dict[str, Result]) -> None:
    run = runs["demo"]
    stdout = ok(run)
    assert run.seconds < 60
    out = work / "demo-out"
    assert "steps/s" in stdout
    assert "exported module's classes == compiled model's: True" in stdout
    acc = re.search(r"accuracy (\d+(?:\.\d+)?)%", stdout)
    assert acc and 0 <= float(acc.group(1)) <= 100
    assert "dy/dx = 2*x + 3" in stdout
    assert ">>> print(x.grad)\ntensor(7.)\n" in stdout  # what PyTorch prints, not `7.0`
    png = out / "loss.png"
    try:
        import matplotlib  # noqa: F401  (the demo extra)
    except ImportError:
        assert not png.exists() and "skipped loss.png" in stdout
    else:
        head = png.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
        assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == (640, 360)
    artifacts = [Path(line.strip()) for line in stdout.splitlines()
                 if line.startswith("  ") and line.strip().startswith("/")]
    assert artifacts, stdout
    assert {"manifest.json", "params.npz", "losses.json"} <= {a.name for a in artifacts}
    for a in artifacts:
        assert a.is_file(), a
        assert out.resolve() in a.parents


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(case: str, runs: dict[str, Result]) -> None:
    res = runs[case]
    assert_usage_error(res, *BAD_INPUT[case][1])
    assert res.stdout == ""


@pytest.mark.parametrize("case", REAL_SUBPROCESS_CASES)
def test_driver_matches_a_real_subprocess(case: str, runs: dict[str, Result]) -> None:
    real, driven = runs[f"real: {case}"], runs[case]
    assert (real.returncode, real.stdout, real.stderr) == (driven.returncode, driven.stdout, driven.stderr)


@pytest.mark.parametrize("name", INVALID_IR)
def test_codegen_rejects_invalid_ir(name: str, runs: dict[str, Result]) -> None:
    res = runs[name]
    assert_usage_error(res, name)
    assert res.stdout == ""


# ---------------------------------------------------------------- cache


def test_cache_info_and_clear(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(USER_FILE)
    env = {"TORCHTREK_CACHE_DIR": str(tmp_path / "the-cache")}
    info = ok(run_cli("cache", "info", cwd=tmp_path, env=env))
    assert str(tmp_path / "the-cache") in info
    assert re.search(r"^entries: 0$", info, re.M)
    ok(run_cli("ir", "model.py:loss", *ARGS, cwd=tmp_path, env=env))
    info = ok(run_cli("cache", "info", cwd=tmp_path, env=env))
    n = int(re.search(r"^entries: (\d+)$", info, re.M).group(1))
    assert n >= 1
    cleared = ok(run_cli("cache", "clear", cwd=tmp_path, env=env))
    assert f"removed {n} entries" in cleared
    info = ok(run_cli("cache", "info", cwd=tmp_path, env=env))
    assert re.search(r"^entries: 0$", info, re.M)


# ---------------------------------------------------------------- TORCHTREK_LOGS


def _logged(runs: dict[str, Result], name: str) -> str:
    res = runs[name]
    assert res.returncode == 0, res.stderr
    assert res.stdout == "done\n"
    return res.stderr


def test_logs_recompiles_and_timings(runs: dict[str, Result]) -> None:
    err = _logged(runs, "logs recompiles,timings")
    recompiles = [line for line in err.splitlines() if line.startswith("[torchtrek:recompiles]")]
    assert any("x: shape (3, 4) -> (5, 4)" in line for line in recompiles), err
    assert any("x: requires_grad False -> True" in line for line in recompiles), err
    timings = [line for line in err.splitlines() if line.startswith("[torchtrek:timings]")]
    assert len(timings) == 3, err
    for line in timings:
        for phase in ("trace", "passes", "codegen", "load"):
            assert re.search(rf"\b{phase} \d+\.\d ms", line), (phase, line)
    assert "autodiff" not in timings[0]
    assert re.search(r"\bautodiff \d+\.\d ms", timings[2]), timings[2]
    assert not any(line.startswith(("[torchtrek:ir]", "[torchtrek:code]")) for line in err.splitlines())


def test_logs_ir_backward_code(runs: dict[str, Result]) -> None:
    err = _logged(runs, "logs ir,backward,code")
    assert "[torchtrek:ir] forward graph:\ngraph f(%x: f32[3,4])" in err
    assert "[torchtrek:backward] backward graph:\ngraph f_backward(" in err
    assert "[torchtrek:code] generated source:" in err
    assert "def f(x):" in err and "np.tanh(x)" in err
    assert "def f_backward(" in err
    assert "[torchtrek:timings]" not in err and "[torchtrek:recompiles]" not in err


def test_logs_off_by_default(runs: dict[str, Result]) -> None:
    assert _logged(runs, "logs off") == ""
