"""runtime/memory.py: with TorchTrek loaded glibc keeps freed large blocks, so a step that
allocates and frees its activations at every call stops page-faulting them in again
(counted: page faults, not seconds); TORCHTREK_MALLOC=default leaves malloc alone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc's mallopt")

LOOP = """
import resource, numpy as np, torchtrek as tt
from torchtrek.runtime import memory

def step():  # a step's activations: 24 MiB alive at once, all freed at the end
    acts = [np.ones((512, 512), np.float32) for _ in range(24)]
    return sum(float(a[0, 0]) for a in acts)

for _ in range(3):
    step()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(memory._done, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 20)
"""


def _faults_per_call(env: dict[str, str]) -> tuple[str, float]:
    r = subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, timeout=300,
                       env={**os.environ, **env})
    assert r.returncode == 0, r.stderr[-2000:]
    done, faults = r.stdout.split()
    return done, float(faults)


def test_a_loop_of_calls_reuses_its_freed_arrays():
    done, faults = _faults_per_call({})
    assert done == "True"
    assert faults < 50  # the heap keeps the 24 MiB: without it, 6000 pages a call
    done, faults = _faults_per_call({"TORCHTREK_MALLOC": "default"})
    assert done == "False" and faults > 100
