"""`rasa data validate`, failing on every warning it prints.

Rasa's validator cannot see two legitimate uses and warns about them: responses that a form asks
(`utter_ask_<slot>`) or that a custom action or the console sends by name, and intents used only in slot
mappings (such as the screening's `omitir`). Those warnings are accepted only after checking
that the use really exists; any other warning fails. Likewise an intent without written examples
is accepted only if a button of a response in domain.yml sends it (`borrar_datos`: «Borrar mis
datos» is a button of the quick exit, never typed words, so the exit stays immediate).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WARNING = re.compile(r"UserWarning: (.*)")
UNUSED_UTTERANCE = re.compile(r"The utterance '(\w+)' is not used in any story or rule")
UNUSED_INTENT = re.compile(r"The intent '(\w+)' is not used in any story or rule")
NO_EXAMPLES = re.compile(r"The intent '(\w+)' is listed in the domain file, but is not found "
                         r"in the NLU training data")
RASA_BUILTIN_RESPONSES = {"utter_default"}  # sent by Rasa's own action_default_fallback


def _domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def _action_sources() -> str:
    """Code that sends responses by name: the actions, the escalation broker (while she waits)
    and the console (it sends utter_cierre_especialista through Rasa)."""
    paths = [*(ROOT / "actions").glob("*.py"), ROOT / "handoff" / "escalation.py",
             *(ROOT / "console").rglob("*.py")]
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def _utterance_really_used(name: str, domain: dict, sources: str) -> bool:
    form_slots = {
        slot for form in (domain.get("forms") or {}).values()
        for slot in form.get("required_slots", [])
    }
    if name.startswith("utter_ask_") and name[len("utter_ask_"):] in form_slots:
        return True
    return name in RASA_BUILTIN_RESPONSES or f'"{name}"' in sources


def _intent_in_slot_mappings(name: str, domain: dict) -> bool:
    for slot in (domain.get("slots") or {}).values():
        for mapping in slot.get("mappings") or []:
            intents = mapping.get("intent")
            if intents == name or (isinstance(intents, list) and name in intents):
                return True
    return False


def _intent_of_a_button(name: str, domain: dict) -> bool:
    """True if a button of a response in the domain sends ``/name``."""
    for variations in (domain.get("responses") or {}).values():
        for variation in variations or []:
            for button in (variation or {}).get("buttons") or []:
                if str(button.get("payload") or "").lstrip("/").split("{")[0] == name:
                    return True
    return False


def problems(output: str) -> list[str]:
    domain, sources = _domain(), _action_sources()
    found = []
    for message in WARNING.findall(output):
        utterance = UNUSED_UTTERANCE.search(message)
        if utterance and _utterance_really_used(utterance.group(1), domain, sources):
            continue
        intent = UNUSED_INTENT.search(message)
        if intent and _intent_in_slot_mappings(intent.group(1), domain):
            continue
        button_only = NO_EXAMPLES.search(message)
        if button_only and _intent_of_a_button(button_only.group(1), domain):
            continue
        found.append(message.strip())
    return found


def main() -> int:
    rasa = ROOT / ".venv" / "bin" / "rasa"
    result = subprocess.run(
        [str(rasa), "data", "validate", "--fail-on-warnings"],
        cwd=ROOT, capture_output=True, text=True,
    )
    output = result.stdout + result.stderr
    found = problems(output)
    for message in found:
        print(f"✗ {message}")
    if result.returncode != 0:
        print(output[-3000:])
        print(f"rasa data validate terminó con código {result.returncode}")
        return 1
    if found:
        print(f"rasa data validate: {len(found)} advertencia(s)")
        return 1
    print("rasa data validate: sin advertencias")
    return 0


if __name__ == "__main__":
    sys.exit(main())
