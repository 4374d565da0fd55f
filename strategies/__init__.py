"""Strategies: functions of the past that return target weights and a reason.

Served as ``autoport.strategies``. A strategy is handed the price history up to the decision
time (never a longer frame) and cannot see the future by construction. Engines own time.
"""

from autoport.decision import Book, Decision, Strategy, decide_schedule
from autoport.strategies.registry import STRATEGIES, make_strategy

__all__ = ["STRATEGIES", "Book", "Decision", "Strategy", "decide_schedule", "make_strategy"]
