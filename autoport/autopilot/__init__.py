"""The autonomous manager's parts: settings, triggers, risk checks, override, tax, harvest
edits, trades, decision-record parts, explanations and attribution. Pure functions and small
state machines; the strategy that wires them together is :mod:`autoport.strategies.autopilot`.
"""

from autoport.autopilot.settings import AutopilotSettings, load_settings

__all__ = ["AutopilotSettings", "load_settings"]
