"""anemoi-tp: PyTorch profiler traces of distributed training -> answers, with SQL."""
__version__ = "0.1.0"
