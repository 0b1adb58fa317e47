"""CUDA kernel printers by op family; each module registers its ops with
`generator.family_kernel`. Importing this package registers them all."""

from importlib import import_module

for _name in ("indexing", "windows", "scans", "stats", "random"):
    try:
        import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as err:  # a family not written yet
        if err.name != f"{__name__}.{_name}":
            raise
