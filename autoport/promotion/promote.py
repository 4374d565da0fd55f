"""Promotion end to end: evaluate again, check gates, report, and register only on success."""

from __future__ import annotations

from collections.abc import Callable
import json
from dataclasses import dataclass, field
from pathlib import Path

from autoport import tracking
from autoport.promotion import registry
from autoport.promotion.evaluate import (
    CodeVersion,
    Evaluation,
    RunRecord,
    Toolkit,
    evaluator_for,
)
from autoport.errors import TrackingError
from autoport.promotion.gates import (
    GateResult, GatesConfig, all_passed, check_gates, check_selection_gates,
)
from autoport.promotion.report import write_report


@dataclass
class PromotionResult:
    run_id: str
    promoted: bool
    gates: list[GateResult]
    evaluation: Evaluation
    model_name: str
    model_version: str | None = None
    alias: str | None = None
    previous_version: str | None = None
    validation_run_id: str | None = None
    report_files: list[Path] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "promoted": self.promoted,
            "gates": [{"name": g.name, "value": g.value, "threshold": g.threshold,
                       "passed": g.passed} for g in self.gates],
            "model_name": self.model_name,
            "model_version": self.model_version,
            "alias": self.alias,
            "previous_version": self.previous_version,
            "run_id": self.run_id,
            "validation_run_id": self.validation_run_id,
        }


def default_model_name(record: RunRecord) -> str:
    if record.command == "train-agent":
        return "autoport-dqn"
    return f"autoport-{record.tags.get('strategy') or record.command}"


def problem_gates(evaluation: Evaluation) -> list[GateResult]:
    """Each problem that stopped the evaluation is a gate that fails."""
    return [
        GateResult("evaluator_available", "evaluator", "==", 0.0, 1.0, None, False, problem)
        for problem in evaluation.problems
    ]


def sweep_parent(record: RunRecord) -> str | None:
    """The sweep parent run that chose this run's settings: the ``sweep.parent`` tag a
    backtest of a sweep's ``chosen_config.yaml`` carries, else its config's ``sweep_run_id``."""
    tag = record.tags.get("sweep.parent")
    if tag:
        return tag
    logged = (record.config or {}).get("sweep_run_id")
    return str(logged) if logged else None


def _sweep_metrics(sweep_id: str | None, gates: GatesConfig) -> dict[str, float] | None:
    if sweep_id is None or (gates.deflated_sharpe_min is None and gates.pbo_max is None):
        return None
    try:
        return registry.fetch_run(sweep_id).metrics
    except TrackingError:
        return None


def promote_run(
    run_id: str,
    gates: GatesConfig,
    folder: Path,
    *,
    toolkit: Toolkit,
    name: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> PromotionResult:
    """Re-evaluate ``run_id`` on the test period, gate it, write the report into ``folder`` and
    log it as a validation run; register and move aliases only if every gate passed.
    ``on_step(text)`` names each long step as it starts (a progress line)."""
    say = on_step or (lambda text: None)
    record = registry.fetch_run(run_id)
    evaluator = evaluator_for(record)
    code = tracking.code_version()
    say(f"re-evaluating the {record.command} run on the test period")
    evaluation = evaluator(record, gates, CodeVersion(code.get("commit"), code["version"]),
                           toolkit)
    sweep_id = sweep_parent(record)
    results = (problem_gates(evaluation)
               + check_gates(evaluation.metrics, gates.gates, record.command)
               + check_selection_gates(gates, sweep_id, _sweep_metrics(sweep_id, gates)))
    passed = all_passed(results)
    model_name = name or default_model_name(record)
    result = PromotionResult(run_id, passed, results, evaluation, model_name)
    checked = [r for r in results if r.passed is not None]
    summary = f"{sum(1 for r in checked if r.passed)}/{len(checked)}"
    say("logging the validation run" + (" and registering the model" if passed else ""))
    with registry.validation_run(
        run_name=f"validate-{record.run_name or run_id[:8]}",
        tags={"command": "promote", "source_run_id": run_id, "source_command": record.command,
              "promoted": str(passed).lower(), "model_name": model_name},
        params={"source_run_id": run_id, "gates_test_start": gates.test_period.start,
                "gates_test_end": gates.test_period.end or "end of data",
                "data_hash": record.params.get("data_hash", "")},
        metrics={**evaluation.metrics,
                 **{f"gate.{r.name}": float(r.passed) for r in results if r.passed is not None}},
    ) as vrun:
        result.validation_run_id = vrun.run_id
        if passed:
            gate_tag = json.dumps([
                {"name": r.name, "value": _short(r.value), "threshold": _short(r.threshold),
                 "passed": r.passed} for r in results
            ], separators=(",", ":"))[:4900]
            registration = registry.register(
                model_name,
                model_uri=record.model_uri if record.command != "backtest" else None,
                config=evaluation.model_config,
                tags={"source_run_id": run_id, "validation_run_id": vrun.run_id,
                      "gates_passed": summary, "gates": gate_tag,
                      "data_hash": record.params.get("data_hash", ""),
                      "command": record.command},
            )
            result.model_version = registration.version
            result.previous_version = registration.previous_version
            result.alias = registry.CHAMPION
        say("writing the validation report (figures)")
        result.report_files = write_report(
            folder, record=record, evaluation=evaluation, results=results, promoted=passed,
            outcome=result.as_dict(),
        )
        vrun.log_artifacts(folder)
    return result


def _short(value: float | None) -> float | None:
    if value is None or value != value:
        return None
    return float(f"{value:.6g}")
