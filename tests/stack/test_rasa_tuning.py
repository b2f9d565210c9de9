"""The cached check of the action server's answer behaves as Rasa's own: same draft, same
errors, same hint; and ``stack.quiet`` installs it for Rasa only."""

from __future__ import annotations

import copy
import subprocess
import sys

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from stack import rasa_tuning

SPEC = RemoteAction.action_response_format_spec()
VALID = {"events": [{"event": "session_started", "timestamp": None},
                    {"event": "action", "name": "action_listen", "policy": None,
                     "confidence": None, "timestamp": None}],
         "responses": [{"response": "utter_saludo"}]}
INVALID = [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [3]},
    {"events": [{"event": "slot", "name": 3}]},
    [],
]


@pytest.mark.parametrize("result", [VALID, {}, {"events": []}, *INVALID])
def test_same_verdict_and_message_as_jsonschema_validate(result) -> None:
    try:
        jsonschema.validate(copy.deepcopy(result), SPEC)
        expected = None
    except ValidationError as error:
        expected = error
    try:
        rasa_tuning.validate_cached(copy.deepcopy(result), SPEC)
        got = None
    except ValidationError as error:
        got = error
    assert (expected is None) == (got is None)
    if expected is not None:
        assert got.message == expected.message
        assert list(got.path) == list(expected.path)


@pytest.fixture
def installed():
    """``rasa_tuning.install()`` for one test; Rasa's classes as they were afterwards."""
    import rasa.core.run
    from rasa.core.policies.rule_policy import RulePolicy

    validate = RemoteAction.__dict__["_validate_action_result"]
    formatting = RulePolicy.__dict__.get("format_tracker_states")
    load = rasa.core.run.load_agent_on_start
    rasa_tuning.install()
    yield
    rasa.core.run.load_agent_on_start = load
    RemoteAction._validate_action_result = validate
    if formatting is None:
        del RulePolicy.format_tracker_states
    else:
        RulePolicy.format_tracker_states = formatting


def test_installed_method_keeps_rasas_hint_and_accepts_valid_answers(installed) -> None:
    rasa_tuning.install()  # idempotent
    action = RemoteAction("action_session_start", None)
    assert action._validate_action_result(copy.deepcopy(VALID)) is True
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "no_such_event"}]})


def test_one_validator_per_schema() -> None:
    rasa_tuning.validate_cached(VALID, SPEC)
    before = rasa_tuning._validator.cache_info()
    rasa_tuning.validate_cached(VALID, RemoteAction.action_response_format_spec())
    after = rasa_tuning._validator.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_quiet_installs_it_for_rasa_only() -> None:
    probe = ("import sys, runpy; sys.argv = ['stack.quiet', '{module}'];"
             "import stack.quiet as q; runpy.run_module = lambda *a, **k: None; q.main();"
             "from rasa.core.actions.action import RemoteAction as R;"
             "print(getattr(R._validate_action_result, '_helpline_tuned', False))")
    for module, expected in (("rasa", "True"), ("json.tool", "False")):
        out = subprocess.run([sys.executable, "-c", probe.format(module=module)],
                             capture_output=True, text=True, timeout=120, check=True)
        assert out.stdout.strip().splitlines()[-1] == expected


def test_rule_policy_states_are_formatted_only_for_a_printed_debug_record(installed,
                                                                         caplog) -> None:
    import logging

    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy

    states = [{}, {"user": {"intent": "saludo"}, "prev_action": {"action_name": "action_listen"}}]
    logger = logging.getLogger(rasa_tuning.RULE_POLICY_LOGGER)
    with caplog.at_level(logging.INFO, logger=rasa_tuning.RULE_POLICY_LOGGER):
        assert not logger.isEnabledFor(logging.DEBUG)
        assert RulePolicy.format_tracker_states(states) == ""
    with caplog.at_level(logging.DEBUG, logger=rasa_tuning.RULE_POLICY_LOGGER):
        formatted = RulePolicy.format_tracker_states(states)
    assert formatted == Policy.format_tracker_states(states)
    assert "user intent: saludo" in formatted


async def test_objects_alive_after_the_model_loads_leave_full_collections() -> None:
    import gc

    loaded = [object()]

    async def load(model_path, endpoints, remote_storage, app, loop):
        loaded.append({"model": model_path})
        return "agent"

    wrapped = rasa_tuning.freezing_after_load(load)
    try:
        assert await wrapped("m.tar.gz", None, None, None, None) == "agent"
        assert loaded[-1] == {"model": "m.tar.gz"} and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_install_wraps_rasas_model_loading_once(installed) -> None:
    import rasa.core.run

    first = rasa.core.run.load_agent_on_start
    rasa_tuning.install()
    assert rasa.core.run.load_agent_on_start is first
    assert first.__wrapped__.__module__ == "rasa.core.run"
