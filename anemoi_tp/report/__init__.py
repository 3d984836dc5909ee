"""Reports: the analysis results gathered (build.py) and rendered (text.py, JSON)."""
from .build import build_report

__all__ = ["build_report"]
