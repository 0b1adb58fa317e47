"""runtime/disk_cache.py: the persistent cache of generated sources. Round trips,
corrupt entries, many processes writing one key at once, a second process reusing a
first one's work, info/clear, and keys that follow the IR."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import torchtrek as tt
from torchtrek.runtime import disk_cache
from torchtrek.runtime.compiled import CompiledGraph


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(root))
    monkeypatch.delenv("TORCHTREK_CACHE", raising=False)
    return root


def key_of(name: str) -> str:
    return disk_cache.make_key(f"graph {name}() {{\n  return\n}}", "()")


PAYLOAD = {"forward_source": "def f(x):\n    return (x,)\n", "n": 3, "nested": {"a": [1, 2.5, None]},
           "text": "unicode: \u00e9\u4e2d"}


def test_store_load_round_trip(cache: Path) -> None:
    key = key_of("round")
    assert disk_cache.load(key) is None
    disk_cache.store(key, PAYLOAD)
    assert disk_cache.load(key) == PAYLOAD
    path = cache / key[:2] / f"{key}.json"
    assert path.is_file()
    assert json.loads(path.read_text(encoding="utf-8"))["key"] == key
    other = dict(PAYLOAD, n=4)
    disk_cache.store(key, other)  # overwrite
    assert disk_cache.load(key) == other
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp")]


def test_cache_dir_follows_the_environment(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    assert disk_cache.cache_dir() == cache
    monkeypatch.delenv("TORCHTREK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert disk_cache.cache_dir() == tmp_path / "xdg" / "torchtrek"
    monkeypatch.setenv("TORCHTREK_CACHE", "0")
    assert not disk_cache.enabled()
    monkeypatch.setenv("TORCHTREK_CACHE", "1")
    assert disk_cache.enabled()


def _corrupt(path: Path, kind: str, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "garbage bytes":
        path.write_bytes(b"\xff\xfe\x00\x81 not json at all \x00\x00")
    elif kind == "truncated json":
        full = json.dumps({"key": key, "payload": PAYLOAD})
        path.write_text(full[: len(full) // 2])
    elif kind == "another key":
        path.write_text(json.dumps({"key": "0" * 64, "payload": {"forward_source": "evil"}}))
    elif kind == "no payload":
        path.write_text(json.dumps({"key": key}))
    elif kind == "json list":
        path.write_text(json.dumps([key, PAYLOAD]))
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
        (path / "inner.txt").write_text("x")
    else:
        raise AssertionError(kind)


CORRUPTIONS = ["garbage bytes", "truncated json", "another key", "no payload", "json list", "empty file",
               "directory"]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupt_entry_is_ignored_then_rewritten(kind: str, cache: Path) -> None:
    key = key_of(f"corrupt-{kind}")
    path = cache / key[:2] / f"{key}.json"
    _corrupt(path, kind, key)
    assert disk_cache.load(key) is None  # never raises
    assert disk_cache.load(key) is None
    disk_cache.store(key, PAYLOAD)  # never raises
    assert disk_cache.load(key) == PAYLOAD, f"store did not replace a corrupt entry ({kind})"
    assert path.is_file()
    info = disk_cache.info()
    assert info["entries"] == 1
    assert disk_cache.clear() == 1
    assert disk_cache.info()["entries"] == 0


def test_info_and_clear(cache: Path) -> None:
    assert disk_cache.info() == {"path": str(cache), "entries": 0, "bytes": 0}
    assert disk_cache.clear() == 0  # no folder yet
    keys = [key_of(f"info-{i}") for i in range(5)]
    for k in keys:
        disk_cache.store(k, PAYLOAD)
    info = disk_cache.info()
    assert info["entries"] == 5
    on_disk = sum(p.stat().st_size for p in cache.rglob("*.json"))
    assert info["bytes"] == on_disk > 0
    disk_cache.store(keys[0], PAYLOAD)  # same key again: still 5
    assert disk_cache.info()["entries"] == 5
    assert disk_cache.clear() == 5
    assert disk_cache.info()["entries"] == 0
    assert all(disk_cache.load(k) is None for k in keys)


def test_clear_and_info_with_a_directory_in_an_entrys_place(cache: Path) -> None:
    good = key_of("neighbour")
    disk_cache.store(good, PAYLOAD)
    key = key_of("dir-in-place")
    _corrupt(cache / key[:2] / f"{key}.json", "directory", key)
    info = disk_cache.info()  # never raises
    assert info["path"] == str(cache)
    disk_cache.clear()  # never raises
    assert disk_cache.info()["entries"] == 0
    assert disk_cache.load(good) is None and disk_cache.load(key) is None
    assert not list(cache.rglob("*.json"))


def test_leftover_temporary_file_is_not_an_entry(cache: Path) -> None:
    """A writer killed between writing its temporary file and renaming it leaves the
    temporary behind: it is not an entry."""
    key = key_of("real")
    disk_cache.store(key, PAYLOAD)
    (cache / key[:2] / ".tmp-crashed-writer.json").write_text('{"key": "' + key)
    assert disk_cache.info()["entries"] == 1
    assert disk_cache.load(key) == PAYLOAD


def test_unwritable_cache_only_costs_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TORCHTREK_CACHE_DIR", str(blocker / "cache"))
    key = key_of("unwritable")
    disk_cache.store(key, PAYLOAD)  # no exception
    assert disk_cache.load(key) is None


# ---------------------------------------------------------------- keys


def _graph(fn, *args):
    from torchtrek.compiler import trace_function

    ctx, atoms, _, _ = trace_function(fn, args, {})
    return ctx.graph(atoms)


def times_two(x):
    return (x * 2).sum()


def times_three(x):
    return (x * 3).sum()


def tanh_two(x):
    return (tt.tanh(x) * 2).sum()


def tanh_three(x):
    return (tt.tanh(x) * 3).sum()


def test_key_changes_when_the_ir_changes(cache: Path) -> None:
    x = tt.ones(2, 3)
    g1, g1_again = _graph(times_two, x), _graph(times_two, tt.zeros(2, 3))
    g2 = _graph(times_three, x)
    g3 = _graph(times_two, tt.ones(3, 3))
    assert str(g1) == str(g1_again)
    k1 = disk_cache.make_key(str(g1), repr((True,)))
    assert k1 == disk_cache.make_key(str(g1_again), repr((True,)))
    assert len(k1) == 64 and all(c in "0123456789abcdef" for c in k1)
    others = {disk_cache.make_key(str(g2), repr((True,))), disk_cache.make_key(str(g3), repr((True,))),
              disk_cache.make_key(str(g1), repr((False,)))}
    assert k1 not in others and len(others) == 3
    # parts are separated: ("ab", "c") and ("a", "bc") are different keys
    assert disk_cache.make_key("ab", "c") != disk_cache.make_key("a", "bc")


def test_compiled_graphs_share_entries_by_ir(cache: Path) -> None:
    x = tt.ones(2, 3)
    a = CompiledGraph(_graph(tanh_two, x), [True], persistent=True)
    assert not a.from_cache
    n = disk_cache.info()["entries"]  # the graph's entry, and its ops' derivatives
    assert n >= 1
    b = CompiledGraph(_graph(tanh_two, x), [True], persistent=True)
    assert b.from_cache
    assert disk_cache.info()["entries"] == n
    assert (b.forward_source, b.backward_source) == (a.forward_source, a.backward_source)
    assert str(b.graph) == str(a.graph)
    assert str(b.forward_graph) == str(a.forward_graph)
    assert str(b.backward_graph) == str(a.backward_graph)
    assert (b.ct_outputs, b.wrt_indices) == (a.ct_outputs, a.wrt_indices)
    c = CompiledGraph(_graph(tanh_three, x), [True], persistent=True)
    assert not c.from_cache
    assert disk_cache.info()["entries"] > n
    n = disk_cache.info()["entries"]
    d = CompiledGraph(_graph(tanh_two, x), [False], persistent=True)  # another wrt: another entry
    assert not d.from_cache and not d.has_backward
    assert disk_cache.info()["entries"] == n + 1


def exp_sum(x):
    return tt.exp(x).sum()


def plus_one(x):
    return (x + 1).sum()


def test_a_bad_payload_is_regenerated(cache: Path) -> None:
    x = tt.ones(4)
    g = _graph(exp_sum, x)
    key = disk_cache.make_key(str(g), repr((True,)))
    disk_cache.store(key, {"n_outputs": 1, "forward_source": "def broken("})  # fields missing
    cg = CompiledGraph(g, [True], persistent=True)
    assert not cg.from_cache
    assert "np.exp" in cg.forward_source
    again = CompiledGraph(g, [True], persistent=True)
    assert again.from_cache and again.forward_source == cg.forward_source


def test_cache_disabled_writes_nothing(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHTREK_CACHE", "0")
    x = tt.ones(2)
    CompiledGraph(_graph(plus_one, x), [True], persistent=True)
    b = CompiledGraph(_graph(plus_one, x), [True], persistent=True)
    assert not b.from_cache
    assert disk_cache.info()["entries"] == 0


# ---------------------------------------------------------------- across processes

COMPILE_SCRIPT = textwrap.dedent("""\
    import json, sys
    import torchtrek as tt

    @tt.compile
    def f(x, w):
        h = tt.tanh(x @ w)
        return (h * h).sum()

    args = (tt.ones(4, 3), tt.ones(3, 2, requires_grad=True))
    entry = f._entry(args, {})
    cg = entry.compiled
    out = f(*args)
    out.backward()
    print(json.dumps({"from_cache": cg.from_cache, "forward": cg.forward_source,
                      "backward": cg.backward_source, "value": out.item(),
                      "grad": args[1].grad.numpy().tolist()}))
""")


def test_second_process_reads_the_first_ones_entry(tmp_path: Path) -> None:
    script = tmp_path / "compile_me.py"
    script.write_text(COMPILE_SCRIPT)
    env = dict(os.environ, TORCHTREK_CACHE_DIR=str(tmp_path / "shared-cache"))
    env.pop("TORCHTREK_CACHE", None)

    def run() -> dict:
        res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    first, second = run(), run()
    assert first["from_cache"] is False
    assert second["from_cache"] is True
    assert second["forward"] == first["forward"] and "np.tanh" in first["forward"]
    assert second["backward"] == first["backward"] and first["backward"]
    assert second["value"] == first["value"]
    assert second["grad"] == first["grad"]


WORKER = textwrap.dedent('''\
    """Writers and readers of one cache key (imported by spawned processes).

    They load runtime/disk_cache.py by path (its store/load need nothing else), so a
    child starts in milliseconds instead of importing all of torchtrek."""
    import hashlib
    import importlib.util

    disk_cache = None


    def use(path):
        global disk_cache
        spec = importlib.util.spec_from_file_location("torchtrek_disk_cache_under_test", path)
        disk_cache = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(disk_cache)


    def payload(writer, rnd, size):
        token = f"<{writer}:{rnd}>"
        body = (token * (size // len(token) + 1))[:size]
        return {"writer": writer, "round": rnd, "body": body, "size": size,
                "sha": hashlib.sha256(body.encode()).hexdigest()}


    def check(p):
        return (isinstance(p, dict) and len(p.get("body", "")) == p.get("size")
                and hashlib.sha256(p["body"].encode()).hexdigest() == p.get("sha"))


    def writer(path, key, index, rounds, size, start, results):
        try:
            use(path)
            start.wait()
            for r in range(rounds):
                disk_cache.store(key, payload(index, r, size + 97 * index))
            results.put(("writer", index, "ok"))
        except BaseException as e:
            results.put(("writer", index, "error " + repr(e)))


    def reader(path, key, index, start, done, results):
        good = none = torn = 0
        try:
            use(path)
            start.wait()
            while True:
                finished = done.is_set()
                p = disk_cache.load(key)
                if p is None:
                    none += 1
                elif check(p):
                    good += 1
                else:
                    torn += 1
                if finished:
                    break
            results.put(("reader", index, (good, none, torn)))
        except BaseException as e:
            results.put(("reader", index, "error " + repr(e)))
''')


def test_concurrent_writers_never_leave_a_torn_entry(cache: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dc_worker.py").write_text(WORKER)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned children inherit sys.path
    import dc_worker

    key = key_of("concurrent")
    module_file = disk_cache.__file__
    disk_cache.store(key, dc_worker.payload(-1, 0, 1000))  # an entry exists before the race
    ctx = multiprocessing.get_context("spawn")
    start, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    n_writers, n_readers, rounds, size = 8, 2, 6, 1_000_000
    writers = [ctx.Process(target=dc_worker.writer, args=(module_file, key, i, rounds, size, start, results))
               for i in range(n_writers)]
    readers = [ctx.Process(target=dc_worker.reader, args=(module_file, key, i, start, done, results))
               for i in range(n_readers)]
    try:
        for p in writers + readers:
            p.start()
        start.set()
        reports = [results.get(timeout=120) for _ in writers]
        done.set()
        reports += [results.get(timeout=120) for _ in readers]
        for p in writers + readers:
            p.join(timeout=60)
            assert p.exitcode == 0
    finally:
        done.set()
        for p in writers + readers:
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)
    assert sorted(r for r in reports if r[0] == "writer") == [("writer", i, "ok") for i in range(n_writers)]
    reads = [r[2] for r in reports if r[0] == "reader"]
    assert all(isinstance(r, tuple) for r in reads), reads
    good, none, torn = (sum(r[i] for r in reads) for i in range(3))
    assert torn == 0, reads
    assert none == 0, f"an entry vanished while being rewritten: {reads}"
    assert good >= n_readers
    final = disk_cache.load(key)
    assert dc_worker.check(final) and final["round"] == rounds - 1
    entry_dir = cache / key[:2]
    assert [p.name for p in entry_dir.iterdir()] == [f"{key}.json"], "temporary files left behind"
    assert hashlib.sha256(json.dumps(final).encode()).hexdigest()  # payload is plain JSON
