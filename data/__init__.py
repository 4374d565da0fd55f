"""Bundled real market data (see SOURCE.md), readable through importlib.resources."""
