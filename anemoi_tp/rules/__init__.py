"""Bottleneck rules: the SQL files of queries/rules/, run after the analyses."""
from .run import RULE_FILES, rule_status, run_rules

__all__ = ["RULE_FILES", "rule_status", "run_rules"]
