"""Engines own time: schedules, fills, costs and calendars. Strategies only decide weights."""
