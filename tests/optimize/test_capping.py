"""Cap-and-renormalise (risk parity under position and sector limits), by hand."""

import pandas as pd
import pytest

from autoport.optimize.capping import cap_and_renormalise


def test_shut_names_drop_out_and_the_rest_is_renormalised_then_capped():
    w = pd.Series({"A": 0.5, "B": 0.3, "C": 0.2, "D": -0.01})
    out, notes = cap_and_renormalise(w, 0.6, shut=["B"])
    # D clipped to 0, B shut: A 0.5/0.7, C 0.2/0.7; A (0.714) capped at 0.6, its excess to C
    assert out.to_dict() == pytest.approx({"A": 0.6, "B": 0.0, "C": 0.4, "D": 0.0})
    assert len(notes) == 1 and notes[0].startswith("A capped from 71.43%")


def test_sector_limit_then_position_cap_again():
    w = pd.Series({"A": 0.4, "B": 0.4, "C": 0.2})
    groups = {"A": "s1", "B": "s1", "C": "s2"}
    out, notes = cap_and_renormalise(w, 0.5, groups=groups, group_max={"s1": 0.6})
    # s1 cut from 0.8 to 0.6 (A, B 0.3 each); its 0.2 excess goes to C (0.4); no cap binds
    assert out.to_dict() == pytest.approx({"A": 0.3, "B": 0.3, "C": 0.4})
    assert notes == ["sector s1 cut from 80.00% to its 60.00% limit"]
    out, notes = cap_and_renormalise(w, 0.35, groups=groups, group_max={"s1": 0.6})
    # C's 0.4 is over 0.35: the 0.05 excess goes back to A and B pro rata (0.325 each)
    assert out.to_dict() == pytest.approx({"A": 0.325, "B": 0.325, "C": 0.35})
    assert out.sum() == pytest.approx(1.0)
