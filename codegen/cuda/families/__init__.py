"""CUDA kernel printers by op family; each module registers its ops with
`generator.family_kernel`. Importing this package registers them all."""

from . import attention, indexing, random, rnn, scans, stats, windows  # noqa: F401
