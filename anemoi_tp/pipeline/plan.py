"""The plan of a run: which files, which rank each is, one map task per rank, and its cache key.

Ranks are assigned from the top-level keys of every file (``distributedInfo``, host, pid:
``ingest/discover.py``), read once per file content and kept in the cache (a probe), so that a
cached run does not open the traces beyond hashing them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..ingest.discover import assign_ranks, discover
from .cache import Cache, content_size, entry_key

MAX_FILES = 1 << 23  # event ids are file_id · 2^40 + position (schema.sql's event_base)
# Consecutive ranks smaller than this are mapped together, up to this much JSON per map: a map
# has a fixed cost (~0.4 CPU-s: some 300 SQL statements and the Parquet files), which would
# dominate small ranks (1000 ranks of 2 MB). Only the sizes decide the groups, never the
# machine, so that a cache shared between machines keeps its keys. ANEMOI_TP_GROUP_MB
# overrides it (0: every rank a map of its own).
GROUP_BYTES = 96 << 20


@dataclass
class RankTask:
    """One map: the files of one rank or of a few consecutive small ones (as given: the tables
    name them so; set-wide ids, file order; ``ranks``: each file's rank) and everything its
    tables depend on."""

    ranks: list[int]
    files: list[str]
    file_ids: list[int]
    rank_source: str
    content: list[str]
    engine: str = "kineto"
    trace_processor: str | None = None
    patterns: dict = field(default_factory=dict)
    module_depth: int | None = None
    classifying: dict = field(default_factory=dict)  # thresholds that change what is measured

    def key(self, versions: dict[str, int]) -> str:
        return entry_key({"tool": __version__, "queries": versions, "ranks": self.ranks,
                          "files": self.files, "file_ids": self.file_ids, "content": self.content,
                          "rank_source": self.rank_source, "engine": self.engine,
                          "patterns": self.patterns, "module_depth": self.module_depth,
                          "classifying": self.classifying})

    @property
    def json_bytes_hint(self) -> int:
        return sum(content_size(c) for c in self.content)


@dataclass
class Plan:
    tasks: list[RankTask]
    ignored: list[tuple[str, str]]
    rank_source: str


def probe(path: Path) -> dict:
    """The top-level keys of a trace file (what rank assignment reads), checked as a load
    would check them; raises InputError for a file that is no trace."""
    from ..ingest.extract import extract

    x = extract(path, write=False)
    try:
        meta = x.metadata
    finally:
        x.cleanup()
    keep = ("distributedInfo", "host_name")
    return {k: meta[k] for k in keep if k in meta}


def make_plan(path: str | Path, cache: Cache, engine: str = "kineto", patterns: dict | None = None,
              module_depth: int | None = None, trace_processor: str | None = None,
              classifying: dict | None = None) -> Plan:
    """Discover the files of ``path``, assign ranks, and group the files into rank tasks."""
    from ..errors import InputError

    found = discover(path)
    files = found.files
    if len(files) >= MAX_FILES:
        raise InputError(path, f"more than {MAX_FILES - 1} trace files")
    contents, metas = [], []
    for f in files:
        ckey = cache.content_key(f)
        meta = cache.probe_get(ckey)
        if meta is None:
            meta = probe(f)
            cache.probe_put(ckey, meta)
        contents.append(ckey)
        metas.append(meta)
    ranks, source = assign_ranks(files, metas)
    by_rank: dict[int, list[int]] = {}
    for i, r in enumerate(ranks):
        by_rank.setdefault(r, []).append(i)
    tasks = []
    for group in _groups([ids for _, ids in sorted(by_rank.items())], contents):
        ids = sorted(i for g in group for i in g)  # file order: event ids follow it
        tasks.append(RankTask(ranks=[ranks[i] for i in ids], files=[str(files[i]) for i in ids], file_ids=ids,
                              rank_source=source, content=[contents[i] for i in ids], engine=engine,
                              trace_processor=trace_processor, patterns=patterns or {},
                              module_depth=module_depth, classifying=classifying or {}))
    return Plan(tasks=tasks, ignored=[(str(f), why) for f, why in found.ignored], rank_source=source)


def _groups(rank_files: list[list[int]], contents: list[str]) -> list[list[list[int]]]:
    """Consecutive ranks (their file indices) packed into maps of at most GROUP_BYTES; a rank
    above it is a map of its own."""
    def size(ids: list[int]) -> int:
        return sum(content_size(contents[i]) for i in ids)

    env = os.environ.get("ANEMOI_TP_GROUP_MB", "")
    limit = int(env) << 20 if env.isdigit() else GROUP_BYTES
    out: list[list[list[int]]] = []
    total = 0
    for ids in rank_files:
        n = size(ids)
        if out and total + n <= limit:
            out[-1].append(ids)
            total += n
        else:
            out.append([ids])
            total = n
    return out
