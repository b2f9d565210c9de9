"""Hypothesis strategies for webhook bodies: any JSON, and bodies shaped like Meta's with any
value anywhere (so the fuzzing reaches every branch of the parser, not only its first check).
Text includes lone surrogates, digits of other scripts and control characters."""

from __future__ import annotations

from hypothesis import strategies as st

from channels.whatsapp.config import SANDBOX_PHONE_NUMBER_ID

MESSAGE_TYPES = ["text", "text", "text", "text",  # most messages are text
                 "interactive", "button", "location", "image", "audio", "video",
                 "document", "sticker", "contacts", "reaction", "revoke", "edit", "system",
                 "request_welcome", "unsupported", "order"]

# characters that broke or could break something: lone surrogates (valid JSON escapes, not
# UTF-8), digits of other scripts (isdigit() but not int()), NUL, a leading slash, quotes
TRICKY = ["\ud83d", "\ude00", "\udcff", "\ud800", "\x00", "/", "²", "፩", "٣", "\u202e",
          "\ufeff", "\n", "'", '"', "\\", "~"]
any_char = st.integers(0, 3).flatmap(
    lambda i: st.sampled_from(TRICKY) if i == 0 else st.characters(exclude_categories=()))
texts = st.text(any_char, max_size=40)
digits = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=14)
leaves = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**31)
          | st.floats(allow_nan=False, allow_infinity=False) | texts)
any_json = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(texts, inner, max_size=3), max_leaves=8)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Nine times in ten the right kind of value, else anything at all."""
    return st.integers(0, 9).flatmap(lambda i: any_json if i == 0 else strategy)


ids = maybe(texts.filter(bool))
timestamps = maybe(digits | st.integers(min_value=0, max_value=2**40))
reply = st.fixed_dictionaries({}, optional={"id": ids, "title": texts, "description": texts})
interactive = st.fixed_dictionaries(
    {"type": maybe(st.sampled_from(["button_reply", "list_reply", "nfm_reply",
                                    "call_permission_reply"]))},
    optional={"button_reply": maybe(reply), "list_reply": maybe(reply),
              "nfm_reply": any_json})
location = st.fixed_dictionaries(
    {"latitude": maybe(st.floats(-200, 200)), "longitude": maybe(st.floats(-200, 200))},
    optional={"name": maybe(texts), "address": maybe(texts)})
media = st.fixed_dictionaries({}, optional={"caption": maybe(texts), "voice": any_json,
                                            "id": ids})
errors = maybe(st.lists(st.fixed_dictionaries(
    {"code": maybe(st.integers()), "title": maybe(texts)}), max_size=2))

system = st.fixed_dictionaries(
    {"type": maybe(st.sampled_from(["customer_changed_number", "customer_identity_changed",
                                    "user_changed_user_id"]))},
    optional={"wa_id": ids, "new_wa_id": ids})
original = st.fixed_dictionaries({"original_message_id": ids})
BODIES = {"text": st.fixed_dictionaries({"body": maybe(texts)}), "interactive": interactive,
          "location": location, "button": st.fixed_dictionaries({"payload": ids, "text": texts}),
          "system": system, "revoke": original, "edit": original}


def rarely(extra: dict[str, st.SearchStrategy]):
    """Add these keys to one object in ten."""
    def add(base: st.SearchStrategy) -> st.SearchStrategy:
        return st.tuples(base, st.integers(0, 9), st.fixed_dictionaries(extra)).map(
            lambda t: {**t[0], **t[2]} if t[1] == 0 else t[0])
    return add


def message_of(kind: str) -> st.SearchStrategy:
    """A message of this type with its own object (sometimes garbled), as Meta sends it."""
    return rarely({"errors": errors, "identity": any_json})(st.fixed_dictionaries(
        {"from": ids, "id": ids, "timestamp": timestamps, "type": maybe(st.just(kind)),
         kind: maybe(BODIES.get(kind, media))}))


message = maybe(st.sampled_from(MESSAGE_TYPES).flatmap(message_of))

status = maybe(st.fixed_dictionaries(
    {"id": ids, "status": maybe(st.sampled_from(["sent", "delivered", "read", "failed"])),
     "timestamp": timestamps},
    optional={"recipient_id": ids, "errors": errors,
              "biz_opaque_callback_data": maybe(st.builds(lambda s: "ob." + s, digits | texts))}))

value = rarely({"errors": errors})(st.fixed_dictionaries(
    {"messaging_product": st.just("whatsapp"),
     "metadata": maybe(st.fixed_dictionaries(
         {"phone_number_id": maybe(st.just(SANDBOX_PHONE_NUMBER_ID))}))},
    optional={"messages": maybe(st.lists(message, min_size=1, max_size=3)),
              "statuses": maybe(st.lists(status, max_size=2))}))

update = st.fixed_dictionaries(
    {"object": maybe(st.just("whatsapp_business_account")),
     "entry": maybe(st.lists(maybe(st.fixed_dictionaries(
         {"id": ids, "changes": maybe(st.lists(maybe(st.fixed_dictionaries(
             {"field": maybe(st.just("messages")), "value": maybe(value)})),
             min_size=1, max_size=2))})), min_size=1, max_size=2))})
