"""Synthetic, realistic Anemoi-like traces for the demo, tests and benchmarks."""
from .generate import DemoConfig, generate_trace_set

__all__ = ["DemoConfig", "generate_trace_set"]
