"""Native CPU backend: fused regions as C kernels (see generator.py)."""
