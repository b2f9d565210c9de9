"""Costs of Rasa 3.6.21 that buy nothing, removed without changing what Rasa does.

Installed by ``stack.quiet`` in every Rasa process the stack starts (``make run``, the
production topology, the tests and the benchmarks). A deployment that runs ``rasa run``
itself works the same without it, only slower.

- **Checking the action server's answer.** ``RemoteAction._validate_action_result`` calls
  ``jsonschema.validate``, which first validates Rasa's constant response schema against the
  JSON Schema meta-schema and builds a new validator, on every custom action call: 14.6 ms of
  CPU per call on the development machine, where checking the answer itself takes 0.4 ms.
  Every new session runs a custom action (``action_session_start``), so this was the
  largest single cost of a first message. The replacement keeps one validator of the same
  draft for the same schema and raises the same ``ValidationError`` with Rasa's own hint.
- **A debug message nobody reads.** Before each prediction, ``RulePolicy`` turns every past
  state of the session into text for a debug log record, which is then dropped at Rasa's
  usual INFO level. That text grows with the conversation: at the 200th message it was the
  largest part of what made a turn slower than at the 2nd. The states are now formatted
  only when that logger would print them.
- **Python's full garbage collection.** A loaded model is about 700,000 Python objects, and a
  full collection walks all of them: 400–450 ms on the development machine, during which the
  event loop answers no webhook and runs no turn. Once the model is loaded they are moved out
  of the collector's reach (``gc.freeze``); a full collection then only walks what came
  after (0.0 ms measured). The cost: cycles
  among those objects are never collected, which matters only if the model is replaced
  while the server runs (``PUT /model``); restart instead.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

_INSTALLED_MARK = "_helpline_tuned"  # marks what install() already replaced


@functools.lru_cache(maxsize=8)
def _validator(schema_json: str) -> Any:
    """The validator ``jsonschema.validate`` would build for this schema (same draft), built
    once, after the same check of the schema itself."""
    from jsonschema.validators import validator_for

    schema = json.loads(schema_json)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_cached(instance: Any, schema: dict[str, Any]) -> None:
    """``jsonschema.validate(instance, schema)`` with the validator kept between calls."""
    from jsonschema.exceptions import best_match

    validator = _validator(json.dumps(schema, sort_keys=True))
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa 3.6.21's ``RemoteAction._validate_action_result``, with the cached validator."""
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        validate_cached(result, self.action_response_format_spec())
        return True
    except ValidationError as e:
        e.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise e


RULE_POLICY_LOGGER = "rasa.core.policies.rule_policy"


def _states_for_debug_log(states: list[dict]) -> str:
    """``Policy.format_tracker_states``, computed only when RulePolicy's debug record (its
    only use in Rasa 3.6.21) would be printed."""
    from rasa.core.policies.policy import Policy

    if not logging.getLogger(RULE_POLICY_LOGGER).isEnabledFor(logging.DEBUG):
        return ""
    return Policy.format_tracker_states(states)


def freezing_after_load(load: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``load`` (Rasa's ``load_agent_on_start``), then every object alive so far moved out of
    the garbage collector's full collections."""

    @functools.wraps(load)
    async def load_then_freeze(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        gc.collect()
        gc.freeze()
        return agent

    setattr(load_then_freeze, _INSTALLED_MARK, True)
    return load_then_freeze


def install() -> None:
    """Replace the costly parts in this process (idempotent)."""
    import rasa.core.run
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.rule_policy import RulePolicy

    if not getattr(rasa.core.run.load_agent_on_start, _INSTALLED_MARK, False):
        rasa.core.run.load_agent_on_start = freezing_after_load(
            rasa.core.run.load_agent_on_start)
    if getattr(RemoteAction._validate_action_result, _INSTALLED_MARK, False):
        return
    setattr(_validate_action_result, _INSTALLED_MARK, True)
    RemoteAction._validate_action_result = _validate_action_result
    RulePolicy.format_tracker_states = staticmethod(_states_for_debug_log)
