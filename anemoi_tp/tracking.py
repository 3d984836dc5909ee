"""Log a report to MLflow: per-rank and overall metrics, and the HTML and JSON reports.

Metric names (a number a trace cannot support is not logged; its reason is a tag
``missing.rank<N>.<section>``):

* ``rank<N>/<metric>``: batches, total_s, throughput_it_s, gpu_active_s, gpu_idle_s,
  gpu_idle_pct, comm_pct, computation_s, communication_s, memory_ops_s, data_loader_s,
  overlap_s, overlap_pct_of_total, overlap_pct_of_comm, overlap_pct_of_comp,
  ``phase/<name>_pct`` and ``module/<name>_pct`` (the window split, % of the window);
* ``mean/…``, ``min/…``, ``max/…``: the same across the ranks that have it;
* ``findings/<severity>`` (critical, warning, info) and ``findings/total``: findings as the
  report lists them (one per rule, scope and metric, at its worst severity).
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

MISSING_MLFLOW = "MLflow logging needs the mlflow package: pip install 'anemoi-tp[mlflow]'"
SEVERITIES = ("critical", "warning", "info")
FILE_STORE_ENV = "MLFLOW_ALLOW_FILE_STORE"
_SCALARS = ("batches", "total_s", "throughput_it_s", "gpu_active_s", "gpu_idle_s", "gpu_idle_pct",
            "comm_pct")


def _key(text: str) -> str:
    """MLflow allows letters, digits, _ - . / and space in names."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", str(text))


def require_mlflow() -> None:
    """InputError (one line, exit 2 on the command line) when mlflow is not installed."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise InputError(None, MISSING_MLFLOW) from None


def report_metrics(data: dict) -> dict[str, float]:
    """{name: value} of a report dict (build_report), without the numbers it lacks."""
    metrics: dict[str, float] = {}
    per_metric: dict[str, list[float]] = {}

    def put(rank: int, name: str, value) -> None:
        if value is None or isinstance(value, bool):
            return
        metrics[f"rank{rank}/{name}"] = float(value)
        per_metric.setdefault(name, []).append(float(value))

    for r in data["ranks"]:
        rank = r["rank"]
        for k in _SCALARS:
            put(rank, k, r.get(k))
        for k, v in (r.get("gpu_time") or {}).items():
            put(rank, k, v)
        for k, v in (r.get("overlap") or {}).items():
            put(rank, "overlap_s" if k == "overlap_s" else f"overlap_{k}", v)
        for key, dim in (("phases", "phase"), ("modules", "module")):
            for part in r.get(key) or ():
                put(rank, f"{dim}/{_key(part['name'])}_pct", part["pct"])
    for name, values in per_metric.items():
        metrics[f"mean/{name}"] = sum(values) / len(values)
        metrics[f"min/{name}"] = min(values)
        metrics[f"max/{name}"] = max(values)
    for sev in SEVERITIES:
        metrics[f"findings/{sev}"] = float(sum(f["severity"] == sev for f in data["findings"]))
    metrics["findings/total"] = float(len(data["findings"]))
    return metrics


def report_tags(data: dict) -> dict[str, str]:
    """Why numbers are missing, and what made the report."""
    tags = {"anemoi_tp.version": str(data["tool"]["version"])}
    for r in data["ranks"]:
        for section, reason in (r.get("missing") or {}).items():
            tags[f"missing.rank{r['rank']}.{_key(section)}"] = str(reason)[:5000]
    return tags


def log_report(data: dict, json_text: str, html_text: str, tracking_uri: str | None = None,
               run_name: str | None = None) -> tuple[str, str]:
    """Log ``data``'s metrics and the two reports (artifacts under ``anemoi-tp/``) to MLflow.

    Into the active run where there is one (a notebook, a training script), else a new run
    that is ended afterwards. ``tracking_uri``: e.g. ``file:///path/mlruns``; None: MLflow's
    own choice (``MLFLOW_TRACKING_URI``, else its default). Returns (run id, tracking URI).
    """
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise InputError(None, MISSING_MLFLOW) from None
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    try:
        with _file_store_allowed(mlflow.get_tracking_uri()):
            return _log(mlflow, data, json_text, html_text, run_name)
    except MlflowException as exc:
        raise InputError(None, f"MLflow ({mlflow.get_tracking_uri()}): "
                               f"{str(exc).strip().splitlines()[0]}") from None


@contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses a file store (file:///…/mlruns) unless MLFLOW_ALLOW_FILE_STORE=true;
    naming one is asking for it, so allow it while logging (and only then)."""
    is_file = uri.startswith("file:") or "://" not in uri and not uri.startswith(("sqlite:", "databricks"))
    if not is_file or FILE_STORE_ENV in os.environ:
        yield
        return
    os.environ[FILE_STORE_ENV] = "true"
    try:
        yield
    finally:
        os.environ.pop(FILE_STORE_ENV, None)


def _log(mlflow, data: dict, json_text: str, html_text: str, run_name: str | None) -> tuple[str, str]:
    active = mlflow.active_run()
    run = active or mlflow.start_run(run_name=run_name)
    try:
        metrics = report_metrics(data)
        # log_metrics takes a batch; MLflow caps a batch at 1000 metrics
        items = sorted(metrics.items())
        for i in range(0, len(items), 1000):
            mlflow.log_metrics(dict(items[i:i + 1000]))
        mlflow.set_tags(report_tags(data))
        with tempfile.TemporaryDirectory(prefix="anemoi-tp-mlflow-") as tmp:
            for name, text in (("report.json", json_text), ("report.html", html_text)):
                path = Path(tmp) / name
                path.write_text(text)
                mlflow.log_artifact(str(path), artifact_path="anemoi-tp")
        return run.info.run_id, mlflow.get_tracking_uri()
    finally:
        if active is None:
            mlflow.end_run()


def log_report_files(data: dict, tracking_uri: str | None = None, top: int = 25,
                     run_name: str | None = None) -> tuple[str, str]:
    """Render the JSON and HTML reports of ``data`` and log everything (`log_report`)."""
    from .report.render import render_html
    from .session import report_json

    return log_report(data, report_json(data), render_html(data, top=top), tracking_uri, run_name)


def tracking_uri_from(option: str | None) -> str | None:
    """--mlflow's value: a URI, or '' for MLFLOW_TRACKING_URI / MLflow's default."""
    return option or os.environ.get("MLFLOW_TRACKING_URI") or None
