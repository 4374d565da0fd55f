"""Results as plain JSON types: what ``--json`` prints and what the run files hold.

In the core (not the CLI) so a Python user, the tests and the commands turn a result into
JSON the same way. Cheap to import: numpy and pandas are imported inside.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from pathlib import Path


def to_jsonable(obj):
    """Plain JSON types; NaN and infinities become null so the output stays valid JSON."""
    import numpy as np
    import pandas as pd

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pd.Series):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.to_dict(orient="index"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, (pd.Timestamp, datetime, date)):
        stamp = pd.Timestamp(obj)
        return stamp.isoformat()[:10] if stamp == stamp.normalize() else stamp.isoformat()
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj
