"""Analyses: the SQL files of queries/analysis/, run in order on a loaded database."""
from .run import ANALYSIS_FILES, query_versions, run_analyses

__all__ = ["ANALYSIS_FILES", "query_versions", "run_analyses"]
