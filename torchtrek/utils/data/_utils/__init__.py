"""torch.utils.data._utils: collation."""

from . import collate

__all__ = ["collate"]
