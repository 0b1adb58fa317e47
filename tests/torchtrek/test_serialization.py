"""tt.save / tt.load: round trips of tensors, state dicts and nested containers, the file
format itself (a zip of JSON and .npy entries, no pickle), and clear errors for foreign
or corrupt files."""

from __future__ import annotations

import io
import json
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def round_trip(obj: Any, tmp_path: Path) -> Any:
    path = tmp_path / "obj.tt"
    tt.save(obj, path)
    return tt.load(path)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (2, 3, 4)])
def test_tensor_round_trip(dtype: str, shape: tuple[int, ...], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(shape) * 10).astype(dtype)
    loaded = round_trip(tt.tensor(values), tmp_path)
    assert isinstance(loaded, tt.Tensor) and loaded.dtype is getattr(tt, dtype if dtype != "bool" else "bool")
    assert tuple(loaded.shape) == shape
    np.testing.assert_array_equal(loaded.numpy(), values)


def test_special_values_and_views(tmp_path: Path) -> None:
    t = tt.tensor([[float("nan"), float("inf")], [-float("inf"), -0.0]])
    loaded = round_trip({"t": t, "tt": t.t()}, tmp_path)
    np.testing.assert_array_equal(loaded["t"].numpy(), t.numpy())
    np.testing.assert_array_equal(loaded["tt"].numpy(), t.numpy().T)  # non-contiguous
    assert np.signbit(loaded["t"].numpy()[1, 1])


def test_nested_containers_and_scalars(tmp_path: Path) -> None:
    obj = {
        "list": [1, 2.5, True, None, "text", float("nan"), -float("inf")],
        "tuple": (tt.ones(2), (3, "x")),
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        7: {"int key": tt.arange(3)},
        "dtype": tt.float64,
        "size": tt.Size([2, 3]),
        "array": np.arange(4, dtype=np.int16),
        "big": 2**62,
    }
    got = round_trip(obj, tmp_path)
    assert list(got) == list(obj)
    assert got["list"][:5] == [1, 2.5, True, None, "text"]
    assert type(got["list"][2]) is bool and np.isnan(got["list"][5]) and got["list"][6] == -float("inf")
    assert isinstance(got["tuple"], tuple) and got["tuple"][1] == (3, "x")
    assert type(got["ordered"]) is OrderedDict and list(got["ordered"]) == ["b", "a"]
    assert got[7]["int key"].tolist() == [0, 1, 2] and got[7]["int key"].dtype is tt.int64
    assert got["dtype"] is tt.float64
    assert isinstance(got["size"], tt.Size) and got["size"] == (2, 3)
    assert got["array"].dtype == np.int16 and got["array"].tolist() == [0, 1, 2, 3]
    assert got["big"] == 2**62


def test_shared_tensors_stay_shared(tmp_path: Path) -> None:
    t = tt.randn(3)
    got = round_trip({"a": t, "b": [t, t.clone()]}, tmp_path)
    assert got["a"] is got["b"][0] and got["a"] is not got["b"][1]
    with zipfile.ZipFile(tmp_path / "obj.tt") as z:
        assert sorted(n for n in z.namelist() if n.endswith(".npy")) == ["tensors/0.npy", "tensors/1.npy"]


def test_parameters_and_requires_grad(tmp_path: Path) -> None:
    p = tt.nn.Parameter(tt.randn(2, 2))
    frozen = tt.nn.Parameter(tt.randn(2), requires_grad=False)
    leaf = tt.ones(2, requires_grad=True)
    got = round_trip([p, frozen, leaf, tt.ones(1)], tmp_path)
    assert isinstance(got[0], tt.nn.Parameter) and got[0].requires_grad
    assert isinstance(got[1], tt.nn.Parameter) and not got[1].requires_grad
    assert not isinstance(got[2], tt.nn.Parameter) and got[2].requires_grad
    assert not got[3].requires_grad


def test_model_and_optimizer_checkpoint(tmp_path: Path) -> None:
    def make() -> Any:
        return tt.nn.Sequential(tt.nn.Linear(3, 5), tt.nn.ReLU(), tt.nn.Linear(5, 2))

    model = make()
    opt = tt.optim.Adam(model.parameters(), lr=0.01)
    x, y = tt.randn(8, 3), tt.tensor([0, 1] * 4)
    for _ in range(3):
        opt.zero_grad()
        tt.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    tt.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt.tt")
    ckpt = tt.load(tmp_path / "ckpt.tt")
    assert ckpt["epoch"] == 3 and list(ckpt["model"]) == list(model.state_dict())
    restored = make()
    restored.load_state_dict(ckpt["model"])
    restored_opt = tt.optim.Adam(restored.parameters(), lr=0.5)
    restored_opt.load_state_dict(ckpt["optim"])
    assert restored_opt.param_groups[0]["lr"] == 0.01
    for m, o in ((model, opt), (restored, restored_opt)):
        o.zero_grad()
        tt.nn.functional.cross_entropy(m(x), y).backward()
        o.step()
    for a, b in zip(model.parameters(), restored.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_file_objects_and_paths(tmp_path: Path) -> None:
    buf = io.BytesIO()
    tt.save([tt.ones(2)], buf)
    buf.seek(0)
    assert tt.load(buf)[0].tolist() == [1.0, 1.0]
    tt.save(tt.zeros(1), str(tmp_path / "s.tt"))
    assert tt.load(str(tmp_path / "s.tt")).tolist() == [0.0]


def test_format_is_documented_json_and_npy(tmp_path: Path) -> None:
    tt.save({"w": tt.ones(2, 3), "n": 1}, tmp_path / "f.tt")
    with zipfile.ZipFile(tmp_path / "f.tt") as z:
        header = json.loads(z.read("torchtrek.json"))
        assert header["format"] == "torchtrek" and header["version"] == 1
        assert header["object"]["dict"][0] == [{"str": "w"}, {"tensor": {
            "id": 0, "requires_grad": False, "parameter": False}}]
        with z.open("tensors/0.npy") as f:
            arr = np.lib.format.read_array(io.BytesIO(f.read()), allow_pickle=False)
        assert arr.shape == (2, 3) and arr.dtype == np.float32


def test_unsupported_objects_are_refused(tmp_path: Path) -> None:
    # (a module pickles, as torch.save(model) stores it: see test_serialization_modules.py)
    with pytest.raises(TypeError, match="cannot store a .*function.*does not pickle"):
        tt.save({"f": lambda x: x}, tmp_path / "m.tt")
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        tt.save({(1, 2): 3}, tmp_path / "k.tt")
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy.object"):
        tt.save(np.array([object()]), tmp_path / "o.tt")
    assert not (tmp_path / "o.tt").exists()  # nothing written when encoding fails


def test_torch_checkpoint_is_named(tmp_path: Path) -> None:
    torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(RuntimeError, match="looks like a torch.save checkpoint"):
        tt.load(tmp_path / "torch.pt")


@pytest.mark.parametrize("content, message", [
    (b"", "not a TorchTrek file"),
    (b"hello, this is not a zip archive", "not a TorchTrek file"),
    (b"PK\x03\x04garbage", "not a TorchTrek file"),
])
def test_foreign_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "bad.tt").write_bytes(content)
    with pytest.raises(RuntimeError, match=message):
        tt.load(tmp_path / "bad.tt")


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def test_corrupt_files(tmp_path: Path) -> None:
    good = tmp_path / "good.tt"
    tt.save({"w": tt.ones(3)}, good)
    truncated = tmp_path / "truncated.tt"
    truncated.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(RuntimeError, match="not a TorchTrek file|corrupt"):
        tt.load(truncated)
    header = {"format": "torchtrek", "version": 1, "object": {"tensor": {"id": 0}}}
    cases = [
        ({"torchtrek.json": b"{not json"}, "corrupt"),
        ({"torchtrek.json": json.dumps({"format": "other"}).encode()}, "unknown format"),
        ({"torchtrek.json": json.dumps({**header, "version": 99}).encode()}, "version 99"),
        ({"torchtrek.json": json.dumps(header).encode()}, "tensor entry 0 is missing or corrupt"),
        ({"torchtrek.json": json.dumps({**header, "object": {"bogus": "x"}}).encode()},
         "unknown entry kind"),
        ({"torchtrek.json": json.dumps({**header, "object": {"pickle": 0}}).encode()},
         "object entry 0 is missing"),
        ({"other.txt": b"hi"}, "no torchtrek.json entry"),
    ]
    for i, (entries, message) in enumerate(cases):
        with pytest.raises(RuntimeError, match=message):
            tt.load(_zip(tmp_path / f"c{i}.tt", entries))
    # an object array inside would need pickle to read: refused, never unpickled
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    path = _zip(tmp_path / "pickle.tt", {"torchtrek.json": json.dumps(header).encode(),
                                         "tensors/0.npy": buf.getvalue()})
    with pytest.raises(RuntimeError, match="missing or corrupt"):
        tt.load(path)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        tt.load(tmp_path / "nope.tt")
