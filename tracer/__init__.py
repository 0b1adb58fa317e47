"""Symbolic tracing: records ops into an IR graph while a trace is active."""

from .context import TraceContext, TraceError, current_trace, trace_error, tracing, user_location

__all__ = ["TraceContext", "TraceError", "current_trace", "trace_error", "tracing", "user_location"]
