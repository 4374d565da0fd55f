"""Validated promotion: re-evaluate a run on the held-out test period, check YAML gates, write a
validation report, and register the candidate in the MLflow model registry only if all pass.

``gates`` reads a gates file and compares numbers; ``evaluate`` reloads a run's data source
and re-runs it (zipline for backtests) without touching MLflow; ``registry`` holds the MLflow
operations; ``report`` writes files; ``promote`` ties them together.
"""

from autoport.promotion.evaluate import EVALUATORS, Evaluation, RunRecord, Toolkit
from autoport.promotion.gates import GateResult, GatesConfig, GateSpec, check_gates, load_gates

__all__ = [
    "EVALUATORS", "Evaluation", "GateResult", "GateSpec", "GatesConfig", "RunRecord", "Toolkit",
    "check_gates", "load_gates",
]
