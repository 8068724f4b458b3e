"""Reading docs/metrics.md, docs/runbook.md, the dashboards and the alert rules as data.

Used by the unit tests here and (loaded by path) by the live-scrape test in
tests/integration/observability, so both read the documents the same way.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
METRICS_DOC = ROOT / "docs" / "metrics.md"
RUNBOOK = ROOT / "docs" / "runbook.md"
PLAIN_RULES = ROOT / "deploy" / "prometheus" / "syft-monitor-rules.yaml"
DASHBOARDS = sorted((ROOT / "charts" / "syft-monitor" / "files" / "dashboards").glob("*.json"))

_TICKED = re.compile(r"`([^`]+)`")
#: A metric name inside a PromQL expression (series names of histograms included).
METRIC_IN_EXPR = re.compile(r"\b(syft_(?:monitor|operator)_[a-z0-9_]+)")


@dataclasses.dataclass(frozen=True)
class DocumentedMetric:
    #: As exposed: counters end in `_total`, histograms are the base name.
    name: str
    type: str
    labels: tuple[str, ...]
    help: str


def _rows(text: str, columns: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if not line.startswith("| `syft_"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == columns:
            rows.append(cells)
    return rows


def documented_metrics(text: str | None = None) -> dict[str, DocumentedMetric]:
    text = METRICS_DOC.read_text() if text is None else text
    out: dict[str, DocumentedMetric] = {}
    for name, kind, labels, help_ in _rows(text, 4):
        (metric,) = _TICKED.findall(name)
        assert metric not in out, f"{metric} documented twice"
        out[metric] = DocumentedMetric(metric, kind, tuple(_TICKED.findall(labels)), help_)
    return out


def documented_label_values(
    text: str | None = None,
) -> dict[tuple[str, str], frozenset[str] | None]:
    """(metric, label) -> its values; None where the docs describe an open (but fixed) set."""
    text = METRICS_DOC.read_text() if text is None else text
    out: dict[tuple[str, str], frozenset[str] | None] = {}
    for metric, label, values in _rows(text, 3):
        key = (_TICKED.findall(metric)[0], _TICKED.findall(label)[0])
        out[key] = None if "e.g." in values else frozenset(_TICKED.findall(values))
    return out


def family_of(series: str, documented: dict[str, DocumentedMetric]) -> str | None:
    """The documented metric a series name in PromQL belongs to."""
    if series in documented:
        return series
    for suffix in ("_bucket", "_sum", "_count", "_created"):
        base = series.removesuffix(suffix)
        if base != series and base in documented:
            return base
    return None


def rule_groups() -> list[dict[str, Any]]:
    return yaml.safe_load(PLAIN_RULES.read_text())["groups"]  # type: ignore[no-any-return]


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in DASHBOARDS}


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title/refId, expr) of every panel target."""
    out = []
    for board in dashboards().values():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                out.append((board["uid"], f"{panel['title']}/{target['refId']}", target["expr"]))
    return out


def runbook_anchors(text: str | None = None) -> dict[str, str]:
    """GitHub anchor -> section text, for each `## ` heading of the runbook."""
    text = RUNBOOK.read_text() if text is None else text
    out = {}
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, _, body = section.partition("\n")
        anchor = re.sub(r"[^a-z0-9 -]", "", title.strip().lower()).replace(" ", "-")
        out[anchor] = body.strip()
    return out
