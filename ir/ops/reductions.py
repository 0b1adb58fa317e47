"""Ops of the reductions family (see core.py for the conventions: one OpDef per op)."""

from __future__ import annotations
