"""Research at scale: sweeps over settings, scored on validation, with honest selection."""
