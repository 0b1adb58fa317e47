"""C-family code generation shared by the CUDA backend and the native CPU backend."""
