"""Fake pycuda._pvt_struct: pycuda's copy of the struct module (its `pack` takes device
allocations for pointer fields through their __index__)."""

from struct import calcsize, pack, unpack

__all__ = ["calcsize", "pack", "unpack"]
