from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK, priority_for


def test_priority_for_levels() -> None:
    assert priority_for("emergency", None) == EMERGENCY
    assert priority_for("emergency", "alto") == EMERGENCY
    assert priority_for("risk", "alto") == HIGH_RISK
    assert priority_for("risk", "medio") == RISK
    assert priority_for("risk", None) == RISK
    assert priority_for("other", None) == PERSON
    assert priority_for("info", "alto") == PERSON
    assert EMERGENCY < HIGH_RISK < RISK < PERSON
