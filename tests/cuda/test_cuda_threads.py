"""GPU tensors across threads: pycuda's context is current per thread, so a thread that
did not create the context pushes it at its first GPU work (an eager op, a compiled
call, a copy back to the host) instead of failing with 'invalid device context'."""

import threading

import numpy as np

import torchtrek as tt


def test_gpu_tensors_made_in_one_thread_are_used_in_others():
    a = (np.arange(12, dtype=np.float32) / 12).reshape(3, 4)
    x = tt.tensor(a, device="cuda")  # the context is made current here, in this thread
    f = tt.compile(lambda t: (t * 2 + 1).exp().sum(1))
    f(x)
    results, errors = {}, []

    def worker(i):
        try:
            host = x.cpu().numpy()  # first GPU work of this thread: a copy to the host
            y = x * float(i) + x  # an eager kernel
            z = f(y)  # a compiled one, loaded by another thread
            results[i] = (host, y.cpu().numpy(), z.cpu().numpy())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[0]
    for i, (host, y, z) in results.items():
        np.testing.assert_array_equal(host, a)
        np.testing.assert_allclose(y, a * i + a)
        np.testing.assert_allclose(z, np.exp((a * i + a) * 2 + 1).sum(1), rtol=1e-5)
    assert sorted(results) == [0, 1, 2, 3]
