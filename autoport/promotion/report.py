"""The validation report: gates, re-evaluated figures and plots, as Markdown and HTML.

An edge module: it writes ``report.md``, ``report.html``, ``gates.json``, ``evaluation.json``
and PNG figures into the folder it is given (the CLI hands it a staging folder that becomes the
output folder, and the validation run's artifacts, only on success).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from pathlib import Path

from autoport import reporting
from autoport.promotion.evaluate import CodeVersion, Evaluation, RunRecord
from autoport.promotion.gates import GateResult

PERCENT_METRICS = {"annual_return", "annual_volatility", "max_drawdown", "var_breach_rate",
                   "success_rate"}
COUNT_METRICS = {"data_hash_match", "code_version_match", "var_observations", "episodes"}
PREFIXES = ("equal_weight_", "max_sharpe_", "index_", "baseline_")
# the name a backtest run logged for the same figure of its own period
REPORTED_AS = {"equal_weight_": "baseline_"}


def reported_value(metrics: Mapping[str, float], key: str) -> float | None:
    """The run's own figure for a re-evaluated ``key``: a backtest logs its 1/N figures as
    ``baseline_*``, train-agent logs its test-period figures as ``test_*``."""
    names = [theirs + key.removeprefix(ours) for ours, theirs in REPORTED_AS.items()
             if key.startswith(ours)]
    for name in (*names, key, f"test_{key}"):
        if name in metrics:
            return metrics[name]
    return None


def reported_period(params: Mapping[str, object], config: Mapping[str, object] | None) -> str:
    """The period the run's own figures cover: a backtest's effective dates, train-agent's
    test period from its protocol."""
    if "start_effective" in params:
        return f"{params['start_effective']} to {params.get('end_effective', '?')}"
    protocol = (config or {}).get("protocol") or {}
    if protocol.get("test_start"):
        return f"{protocol['test_start']} to {protocol.get('test_end') or 'the end of its prices'}"
    return "a period it did not record"


def fmt(value: float | None, metric: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    base = metric
    for prefix in PREFIXES:
        base = base.removeprefix(prefix)
    if base in PERCENT_METRICS:
        return f"{value:.2%}"
    if base in COUNT_METRICS:
        return f"{int(value)}"
    return f"{value:.4f}"


def bound_text(result: GateResult) -> str:
    if result.reference:
        return f"{result.reference} = {fmt(result.threshold, result.reference)}"
    return fmt(result.threshold, result.metric)


def _clean(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def write_report(
    folder: Path,
    *,
    record: RunRecord,
    evaluation: Evaluation,
    results: list[GateResult],
    promoted: bool,
    outcome: Mapping[str, object],
) -> list[Path]:
    """Write the report files into ``folder``; return their paths."""
    folder = Path(folder)
    figures: list[tuple[str, str]] = []
    if evaluation.curves:
        # the candidate's series comes first (a DQN run's is called "agent"), its references after
        candidate, *others = sorted(evaluation.curves, key=lambda k: k != "agent")
        if candidate == "agent":
            candidate = f"{record.tags.get('strategy', 'agent')} agent"
        title = (f"test period: {candidate} vs {', '.join(others)}" if others else
                 f"test period: {candidate} alone, its test episodes chained "
                 "(1/N per episode: episodes.png)"
                 if evaluation.episodes is not None else f"test period: {candidate} alone")
        reporting.save_comparison(dict(evaluation.curves), folder / "test_period.png", title)
        figures.append(("Growth of $1 and drawdown on the test period", "test_period.png"))
    if evaluation.weights is not None and not evaluation.weights.empty:
        reporting.save_weights(evaluation.weights, folder / "weights.png",
                               "target weights on the test period")
        figures.append(("Target weights at each rebalance", "weights.png"))

    if evaluation.episodes is not None and {"sharpe", "equal_weight_sharpe"} <= set(
            evaluation.episodes.columns):
        reporting.save_episodes(evaluation.episodes, folder / "episodes.png",
                                name=record.tags.get("strategy", "agent"))
        figures.append(("Sharpe per test episode beside 1/N (green: a success)",
                        "episodes.png"))

    gates_json = [
        {"name": r.name, "metric": r.metric, "comparison": r.comparison, "value": r.value,
         "threshold": r.threshold, "reference": r.reference, "passed": r.passed, "note": r.note}
        for r in results
    ]
    (folder / "gates.json").write_text(json.dumps(_clean(gates_json), indent=2) + "\n")
    (folder / "evaluation.json").write_text(json.dumps(_clean({
        "run_id": record.run_id, "kind": evaluation.kind,
        "start": evaluation.start, "end": evaluation.end,
        "metrics": evaluation.metrics, "reported_by_run": record.metrics,
        "var": evaluation.var_summary, "notes": evaluation.notes,
    }), indent=2, default=str) + "\n")

    verdict = "PROMOTED" if promoted else "NOT PROMOTED"
    period = (f"{evaluation.start.date()} to {evaluation.end.date()}"
              if evaluation.start is not None and evaluation.end is not None else "see notes")
    lines = [
        f"# Validation report: run {record.run_id}",
        "",
        f"**{verdict}**" + (
            f": registered `{outcome.get('model_name')}` version {outcome.get('model_version')}"
            f" with alias `{outcome.get('alias')}`" if promoted else
            ": at least one gate failed; the model registry was not touched"),
        "",
        f"- run: `{record.run_id}` ({record.command}, experiment {record.experiment!r}, "
        f"name {record.run_name!r})",
        f"- held-out test period: {period}",
        f"- data hash recorded by the run: `{record.params.get('data_hash', 'n/a')}`",
        f"- code version of the run: commit `{CodeVersion.of_run(record).commit or 'none'}` "
        f"(dirty tree: {record.tags.get('git_dirty', 'unknown')}), autoport "
        f"{CodeVersion.of_run(record).version or 'unknown'}",
        "",
        "## Gates",
        "",
        "| gate | metric | value | comparison | threshold | verdict | note |",
        "|---|---|---:|:-:|---:|:-:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.metric} | {fmt(r.value, r.metric)} | {r.comparison} | "
            f"{bound_text(r)} | {r.verdict} | {r.note} |"
        )
    lines += ["", "## Re-evaluated figures (test period)", "",
              "| metric | re-evaluated | reported by the run |", "|---|---:|---:|"]
    for key, value in sorted(evaluation.metrics.items()):
        reported = reported_value(record.metrics, key)
        lines.append(f"| {key} | {fmt(value, key)} | {fmt(reported, key)} |")
    own = reported_period(record.params, record.config)
    lines += ["", f"The run reported its figures for its own period ({own}); they are shown for "
              "context only. The gates use the re-evaluated column.", ""]
    if evaluation.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in evaluation.notes] + [""]
    if evaluation.problems:
        lines += ["## Problems", ""] + [f"- {p}" for p in evaluation.problems] + [""]
    for caption, name in figures:
        lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    markdown = "\n".join(lines)
    (folder / "report.md").write_text(markdown)
    (folder / "report.html").write_text(_html(markdown, record.run_id))
    return [folder / n for n in ("report.md", "report.html", "gates.json", "evaluation.json")] + [
        folder / name for _, name in figures
    ]


def _html(markdown: str, run_id: str) -> str:
    """A small self-contained HTML rendering of the Markdown above (tables, lists, images)."""
    body: list[str] = []
    table: list[list[str]] = []

    def flush_table() -> None:
        if not table:
            return
        head, *rows = [r for r in table if not set("".join(r)) <= set("-:| ")]
        body.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>")
        for row in rows:
            cls = ' class="fail"' if "FAIL" in row else ""
            body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
        body.append("</table>")
        table.clear()

    def inline(text: str) -> str:
        out = html.escape(text)
        parts = out.split("`")
        out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        parts = out.split("**")
        return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))

    in_list = False
    for line in markdown.splitlines():
        if in_list and not line.startswith("- "):
            body.append("</ul>")
            in_list = False
        if line.startswith("|"):
            table.append([inline(c.strip()) for c in line.strip().strip("|").split("|")])
            continue
        flush_table()
        if line.startswith("# "):
            body.append(f"<h1>{inline(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{inline(line[3:])}</h2>")
        elif line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{inline(line[2:])}</li>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            body.append(f'<img src="{html.escape(src[:-1])}" alt="{html.escape(alt)}" '
                        'style="max-width:100%">')
        elif line.strip():
            body.append(f"<p>{inline(line)}</p>")
    flush_table()
    if in_list:
        body.append("</ul>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
             "tr.fail td{background:#fdd}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Validation {run_id}"
            f"</title><style>{style}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")
