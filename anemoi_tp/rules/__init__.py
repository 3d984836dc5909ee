"""Bottleneck rules: the SQL files of queries/rules/, run after the analyses."""
from .run import RULE_FILES, run_rules

__all__ = ["RULE_FILES", "run_rules"]
