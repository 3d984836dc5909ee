"""Where the shipped SQL (``queries/``) and templates (``reports/``) live.

In a wheel they are inside the package (``anemoi_tp/queries``); in a source checkout or an
editable install they are at the top of the repository.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def resource_dir(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"anemoi-tp installation is missing its '{name}/' folder")


def sql_path(relative: str) -> Path:
    return resource_dir("queries") / relative


@cache
def read_sql(relative: str) -> str:
    return sql_path(relative).read_text()
