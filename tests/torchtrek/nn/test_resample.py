"""F.pad (every mode, negative padding), F.interpolate (nearest, nearest-exact, linear,
bilinear, trilinear; sizes, scale factors, align_corners) and their modules, against torch
2.13 through the op harness (values and gradients, eager and compiled)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

import test_ops as _h  # noqa: E402

F32 = ("float32",)
CASES = [
    ("reflect_2d", lambda m, x: m.nn.functional.pad(x, (2, 1, 1, 2), mode="reflect"), (2, 3, 4, 5)),
    ("reflect_1d", lambda m, x: m.nn.functional.pad(x, (3, 0), mode="reflect"), (2, 5)),
    ("replicate", lambda m, x: m.nn.functional.pad(x, (3, 1), mode="replicate"), (2, 3, 4)),
    ("circular", lambda m, x: m.nn.functional.pad(x, (1, 2, 2, 0), mode="circular"), (1, 2, 3, 4)),
    ("constant_crop", lambda m, x: m.nn.functional.pad(x, (-1, 2, 1, -2), value=0.5), (2, 4, 5)),
    ("nearest_x2", lambda m, x: m.nn.functional.interpolate(x, scale_factor=2), (2, 3, 4, 5)),
    ("nearest_size", lambda m, x: m.nn.functional.interpolate(x, size=(5, 7)), (2, 3, 4, 5)),
    ("nearest_exact", lambda m, x: m.nn.functional.interpolate(
        x, scale_factor=(0.6, 1.5), mode="nearest-exact"), (2, 3, 4, 5)),
    ("bilinear", lambda m, x: m.nn.functional.interpolate(x, scale_factor=1.7, mode="bilinear"),
     (2, 3, 4, 5)),
    ("bilinear_align", lambda m, x: m.nn.functional.interpolate(
        x, size=(3, 9), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("bilinear_down", lambda m, x: m.nn.functional.interpolate(x, size=(2, 3), mode="bilinear"),
     (1, 2, 5, 7)),
    ("bilinear_recompute", lambda m, x: m.nn.functional.interpolate(
        x, scale_factor=2.3, mode="bilinear", recompute_scale_factor=True), (1, 2, 3, 4)),
    ("linear", lambda m, x: m.nn.functional.interpolate(x, scale_factor=3, mode="linear"), (2, 3, 4)),
    ("trilinear", lambda m, x: m.nn.functional.interpolate(
        x, size=(3, 4, 5), mode="trilinear", align_corners=True), (1, 2, 2, 3, 4)),
    ("upsample_module", lambda m, x: m.nn.Upsample(scale_factor=2, mode="bilinear")(x), (1, 2, 3, 3)),
    ("reflection_pad_module", lambda m, x: m.nn.ReflectionPad2d(1)(x), (1, 2, 3, 3)),
]


@pytest.mark.parametrize("fn,shape", [pytest.param(f, s, id=i) for i, f, s in CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_against_torch(fn, shape, dtype):
    _h.check_op(fn, None, [shape], dtype)


def test_errors_match_torch():
    x = (torch.zeros(1, 2, 3), tt.zeros(1, 2, 3))
    for m, t in zip((torch, tt), x):
        with pytest.raises(RuntimeError, match="Padding size should be less than"):
            m.nn.functional.pad(t, (3, 3), mode="reflect")
        with pytest.raises(ValueError, match="only one of size or scale_factor"):
            m.nn.functional.interpolate(t, size=4, scale_factor=2)
        with pytest.raises(ValueError, match="align_corners option can only be set"):
            m.nn.functional.interpolate(t, size=4, align_corners=True)
    with pytest.raises(NotImplementedError, match="bicubic"):
        tt.nn.functional.interpolate(tt.zeros(1, 1, 2, 2), scale_factor=2, mode="bicubic")
