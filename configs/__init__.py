"""Bundled YAML configurations, readable through importlib.resources once installed."""
