"""What the GPU tests share: torch on CUDA where installed (the second oracle), and
running a function on a device, eager or compiled, forward and backward."""

import torchtrek as tt

try:
    import torch

    TORCH_CUDA = torch.cuda.is_available()
    if TORCH_CUDA:  # cuDNN and cuBLAS may use TF32 (about 1e-3): compare in full float32
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
except ImportError:  # the GPU machine's torch may be absent
    torch, TORCH_CUDA = None, False


def run_on(fn, arrays, device, compiled):
    """fn on tensors made from `arrays` on `device` (eagerly, or through tt.compile), then
    the backward of ones: (the output, the gradients of the floating inputs) in NumPy."""
    xs = [tt.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    f = tt.compile(fn) if compiled else fn
    out = f(*xs)
    out.backward(tt.ones(*out.shape, dtype=out.dtype, device=device) if out.ndim else None)
    return out.cpu().detach().numpy(), [x.grad.cpu().numpy() for x in xs if x.requires_grad]
