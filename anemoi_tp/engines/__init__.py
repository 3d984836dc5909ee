"""Engines other than the default Kineto loader: Perfetto's trace processor."""
