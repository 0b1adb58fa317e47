"""CUDA kernel for `uniform` (dropout's random source): values in [0, 1) from the
Philox4x32-10 counter-based generator (Salmon et al., "Parallel random numbers: as
easy as 1, 2, 3", SC 2011; cuRAND's, torch's and JAX's generator).

Philox maps (counter, key) to four 32-bit words with no state, so every thread makes
its own numbers: value group g of a draw (4 float32 values or 2 float64 values) is
philox(counter = offset + g, key = seed). The host keeps (seed, offset) and advances
offset past the groups each draw uses (`next_philox`), so every call of a compiled
function draws fresh numbers, the same seed replays the same stream, and the numbers
do not depend on the launch configuration.

The launcher line asks `K.philox(groups)` for (seed, offset): in TorchTrek it comes
from `next_philox` below (seeded by tt.manual_seed); an exported CUDA module keeps its
own counter (export.py.j2). Both are passed as 64-bit value arguments; the kernels are
prepared with pointer-sized ("P") arguments, which pack a Python int the same way.
The values are not the CPU backend's (that one draws from NumPy's generator).
"""

from __future__ import annotations

from typing import Any

from ...cfamily.printer import C_TYPES
from ..generator import BLOCK, Kernel, _Gen, family_kernel
from ....ir.graph import Eqn

# 2^-24 and 2^-53: the top 24 (float) or 53 (double) random bits, scaled into [0, 1)
_VALUES_PER_GROUP = {"float32": 4, "float64": 2, "float16": 4}

_PHILOX = """\
    // Philox4x32-10: ten rounds of two 32x32->64 multiplies, the key bumped by Weyl constants
    const unsigned long long ctr = offset + (unsigned long long)g;
    unsigned int c0 = (unsigned int)ctr, c1 = (unsigned int)(ctr >> 32), c2 = 0u, c3 = 0u;
    unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    #pragma unroll
    for (int round = 0; round < 10; ++round) {
      const unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
      const unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
      c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0;
      k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
"""


@family_kernel("uniform")
def print_uniform(gen: _Gen, e: Eqn) -> None:
    out = e.outputs[0]
    dt = out.dtype.name
    if dt not in _VALUES_PER_GROUP:
        raise NotImplementedError(f"op 'uniform' of dtype {dt} (floating point only)")
    n = out.type.numel
    per = _VALUES_PER_GROUP[dt]
    groups = -(-n // per)
    name_out = gen.names[out]
    gen.body.append(f"{name_out} = alloc({out.shape}, \"{dt}\")")
    if n == 0:
        return
    ct = C_TYPES[dt]
    if dt == "float32":
        vals = [f"(c{j} >> 8) * 5.9604644775390625e-08f" for j in range(4)]  # 2^-24
        vec = "float4"
    elif dt == "float16":  # 11 bits: exact in half precision, so never rounded up to 1
        vals = [f"(c{j} >> 21) * 4.8828125e-04f" for j in range(4)]  # 2^-11
        vec = None
    else:
        vals = [f"(((unsigned long long)c{2 * j + 1} << 21) ^ (c{2 * j} >> 11)) "
                "* 1.1102230246251565e-16" for j in range(2)]  # 53 bits * 2^-53
        vec = "double2"
    if n % per == 0 and vec:  # whole groups: one vector store per thread
        store = (f"    reinterpret_cast<{vec}*>(out)[g] = make_{vec}({', '.join(vals)});\n")
    else:
        store = (f"    const {ct} v[{per}] = {{{', '.join(vals)}}};\n"
                 f"    for (int j = 0; j < {per}; ++j)\n"
                 f"      if (g * {per} + j < {n}LL) out[g * {per} + j] = v[j];\n")
    src = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) KERNEL("
           f"{ct}* __restrict__ out, unsigned long long seed, unsigned long long offset) {{\n"
           f"  // {n} uniform {dt} value(s) in [0, 1), {per} per Philox call: group g is\n"
           f"  // philox(counter = offset + g, key = seed), whichever thread computes it\n"
           f"  for (long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x; g < {groups}LL; "
           f"g += (long long)blockDim.x * gridDim.x) {{\n"
           + _PHILOX + store + "  }\n}")
    name = gen.kname(e)
    grid = gen.elementwise_grid(groups)
    gen.kernels.append(Kernel(name, src.replace("KERNEL", name), str(e.loc or e.op), grid,
                              (BLOCK, 1, 1), [name_out, "philox_seed", "philox_offset"]))
    gen.body.append(f"K.{name}.prepared_call({grid}, ({BLOCK}, 1, 1), {name_out}.gpudata, "
                    f"*K.philox({groups}))")


# ------------------------------------------------------------------ host side
# TorchTrek's stream: the key is tt.manual_seed's seed, the offset counts the Philox
# groups drawn since. tt.manual_seed makes a new NumPy generator (creation._rng), which
# is how a reseed is noticed; the generator is only read, never advanced.
_STATE: dict[str, Any] = {"rng": None, "seed": 0, "offset": 0}


def next_philox(groups: int) -> tuple[int, int]:
    """(seed, offset) for a draw of `groups` Philox groups; advances the offset."""
    from .... import creation

    rng = creation._rng
    if _STATE["rng"] is not rng:
        entropy = getattr(getattr(rng.bit_generator, "seed_seq", None), "entropy", 0)
        seed = int(entropy) if isinstance(entropy, int) else 0
        _STATE.update(rng=rng, seed=seed % 2**64, offset=0)
    offset = _STATE["offset"]
    _STATE["offset"] = (offset + int(groups)) % 2**64
    return _STATE["seed"], offset


def philox_reference(seed: int, counter: int) -> tuple[int, int, int, int]:
    """The kernel's Philox4x32-10 in Python (for tests): four 32-bit words."""
    m = 0xFFFFFFFF
    c = [counter & m, (counter >> 32) & m, (counter >> 64) & m, (counter >> 96) & m]
    k0, k1 = seed & m, (seed >> 32) & m
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & m, (p0 >> 32) ^ c[3] ^ k1, p0 & m]
        k0, k1 = (k0 + 0x9E3779B9) & m, (k1 + 0xBB67AE85) & m
    return tuple(c)  # type: ignore[return-value]


def uniform_reference(seed: int, offset: int, n: int, dtype: str = "float32") -> Any:
    """What the kernel writes for a draw of n values at (seed, offset) (for tests)."""
    import numpy as np

    per = _VALUES_PER_GROUP[dtype]
    vals = []
    for g in range(-(-n // per)):
        c = philox_reference(seed, (offset + g) % 2**64)
        if dtype == "float32":
            vals += [np.float32((w >> 8) * 2.0**-24) for w in c]
        elif dtype == "float16":
            vals += [np.float16((w >> 21) * 2.0**-11) for w in c]
        else:
            vals += [(((c[2 * j + 1] << 21) ^ (c[2 * j] >> 11)) * 2.0**-53) for j in range(2)]
    return np.array(vals[:n], dtype=dtype)


__all__ = ["print_uniform", "next_philox", "philox_reference", "uniform_reference"]
