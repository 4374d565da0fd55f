"""The strategy contract, defined in the core (:mod:`autoport.decision`) and re-exported here so
strategy modules import it from their own package."""

from autoport.decision import Decision, Strategy, check_weights, decide_schedule

__all__ = ["Decision", "Strategy", "check_weights", "decide_schedule"]
