"""tt.save(model) / tt.load of whole modules, as torch.save(model) / torch.load with
weights_only: the user's classes must be allowlisted (safe_globals); tensors stay npy entries."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

tt = pytest.importorskip("torchtrek")


class Net(tt.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = tt.nn.GRU(3, 4)
        self.head = tt.nn.Linear(4, 2)
        self.act = tt.nn.functional.relu
        self.register_buffer("scale", tt.ones(2))

    def forward(self, x):
        return self.head(self.act(self.rnn(x)[0])) * self.scale


def test_whole_module_round_trip_with_safe_globals():
    net = Net()
    buf = io.BytesIO()
    tt.save(net, buf)
    names = zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()
    assert "objects/0.pkl" in names and any(n.startswith("tensors/") for n in names)
    buf.seek(0)
    with pytest.raises(Exception, match="Unsupported global.*Net"):
        tt.load(buf)
    buf.seek(0)
    allowed = [Net, tt.nn.GRU, tt.nn.Linear, tt.nn.functional.relu]
    with tt.serialization.safe_globals(allowed):
        back = tt.load(buf)
    assert tt.serialization.get_safe_globals() == []
    x = tt.ones(2, 1, 3)
    np.testing.assert_array_equal(back(x).detach().numpy(), net(x).detach().numpy())
    assert isinstance(back.head.weight, tt.nn.Parameter)
    buf.seek(0)
    assert type(tt.load(buf, weights_only=False)) is Net


def test_shared_tensors_stay_shared_inside_a_pickled_object():
    a = tt.nn.Linear(2, 2)
    b = tt.nn.Linear(2, 2)
    b.weight = a.weight
    buf = io.BytesIO()
    tt.save({"pair": [a, b]}, buf)
    buf.seek(0)
    back = tt.load(buf, weights_only=False)
    assert back["pair"][0].weight is back["pair"][1].weight


def test_unpicklable_objects_are_named():
    with pytest.raises(TypeError, match="does not pickle"):
        tt.save({"f": lambda x: x}, io.BytesIO())
