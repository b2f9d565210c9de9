"""Redaction before anything enters the review queue (training/redaction.py).

Property tests embed generated identifiers in real Spanish sentences of the training data: no
phone number, e-mail, RUT or URL survives, and the rest of the sentence is left exactly as it
was. Examples cover the list-based parts (names, addresses, comunas) and the words that must
survive («mascarilla 19», the help lines, dates, amounts).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.chile_geo import load_geo
from components.text import normalize
from training.redaction import Placeholder, default_redactor, redact
from triage.labelled import read_tree
from triage.levels import load_triage_map

ROOT = Path(__file__).resolve().parents[2]


def _clean_sentences() -> list[str]:
    """Training sentences without digits, names or places: nothing to redact in any context
    (an identifier inserted before «gabriela» in «la ley gabriela» makes it a name)."""
    lists, geo = default_redactor()._lists, load_geo()
    messages = read_tree(ROOT / "data" / "nlu", load_triage_map())
    found = sorted({m.text for m in messages if not re.search(r"\d", m.text)
                    and 3 <= len(m.text.split()) <= 25})
    return [s for s in found if redact(s) == s and not any(True for _ in geo.find(s))
            and not any(normalize(w) in lists.names for w in re.findall(r"\w+", s))]


SENTENCES = _clean_sentences()

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def mobile(draw) -> str:
    number = "9" + "".join(draw(digits) for _ in range(8))
    prefix = draw(st.sampled_from(["", "+56 ", "+56", "56 ", "+56-", "(+56) ", "0"]))
    layout = draw(st.sampled_from([(9,), (1, 4, 4), (1, 8), (5, 4), (3, 3, 3), (1, 2, 2, 2, 2)]))
    sep = draw(st.sampled_from([" ", "-", ".", ""]))
    parts, i = [], 0
    for size in layout:
        parts.append(number[i:i + size])
        i += size
    return prefix + sep.join(parts)


@st.composite
def landline(draw) -> str:
    area = draw(st.sampled_from(["2", "32", "41", "45", "55", "71", "64"]))
    rest = "".join(draw(digits) for _ in range(9 - len(area)))
    form = draw(st.sampled_from(["+56 {a} {r}", "({a}) {r}", "{a} {r}", "+56{a}{r}", "0{a} {r}",
                                 "({a}) {r3} {r4}"]))
    return form.format(a=area, r=rest, r3=rest[:-4], r4=rest[-4:])


@st.composite
def rut(draw) -> str:
    body = draw(st.integers(1_000_000, 29_999_999))
    dv = draw(st.sampled_from(list("0123456789kK")))
    dotted = f"{body:,}".replace(",", ".")
    form = draw(st.sampled_from(["{d}-{v}", "{p}-{v}", "{d}", "{p} - {v}", "{d}‐{v}"]))
    return form.format(d=dotted, p=body, v=dv)


@st.composite
def email(draw) -> str:
    local = draw(st.from_regex(r"[a-z][a-z0-9]{1,10}([._+-][a-z0-9]{1,8})?", fullmatch=True))
    domain = draw(st.sampled_from(["gmail.com", "hotmail.com", "hotmail.cl", "yahoo.es",
                                   "uc.cl", "mail.municipalidad.cl", "outlook.com"]))
    text = f"{local}@{domain}"
    return text.upper() if draw(st.booleans()) and len(text) < 14 else text


@st.composite
def url(draw) -> str:
    path = draw(st.from_regex(r"(/[a-z0-9_-]{1,12}(\.[a-z]{2,4})?){0,3}(\?id=[0-9]{1,6})?",
                              fullmatch=True))
    host = draw(st.sampled_from(["www.facebook.com", "instagram.com", "facebook.com",
                                 "bit.ly", "tiktok.com", "www.ejemplo.cl", "t.me",
                                 "maps.google.com"]))
    scheme = draw(st.sampled_from(["", "http://", "https://"]))
    return f"{scheme}{host}{path}"


IDENTIFIERS = {
    Placeholder.PHONE: st.one_of(mobile(), landline()),
    Placeholder.RUT: rut(),
    Placeholder.EMAIL: email(),
    Placeholder.URL: url(),
}
BEFORE = [" ", ", ", ": ", " al ", " es ", " es el "]
AFTER = ["", " ", ". ", ", ", "? ", "! "]


@st.composite
def embedded(draw) -> tuple[str, str, str]:
    """(text with one identifier, the text expected after redaction, the identifier)."""
    sentence = draw(st.sampled_from(SENTENCES))
    words = sentence.split()
    cut = draw(st.integers(1, len(words)))
    placeholder = draw(st.sampled_from(list(IDENTIFIERS)))
    identifier = draw(IDENTIFIERS[placeholder])
    before, after = draw(st.sampled_from(BEFORE)), draw(st.sampled_from(AFTER))
    head, tail = " ".join(words[:cut]), " ".join(words[cut:])
    if tail and not after.endswith(" "):
        after += " "  # an identifier glued to the next word is another test
    text = f"{head}{before}{identifier}{after}{tail}".rstrip()
    expected = f"{head}{before}{placeholder.value}{after}{tail}".rstrip()
    return text, expected, identifier


def test_the_carrier_sentences_are_many_and_varied() -> None:
    assert len(SENTENCES) > 1000


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(embedded())
def test_one_identifier_is_replaced_and_the_sentence_is_otherwise_intact(case) -> None:
    text, expected, identifier = case
    redacted = redact(text)
    assert identifier not in redacted
    assert redacted == expected


def _digit_runs(text: str) -> list[str]:
    """Runs of digits joined by separators, as a phone or RUT would be written."""
    return [re.sub(r"\D", "", m) for m in re.findall(r"\d(?:[\s().\-‐]{0,3}\d)*", text)]


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(SENTENCES),
                          st.one_of(*IDENTIFIERS.values())), min_size=2, max_size=5),
       st.sampled_from([" ", "\n", " y ", ". "]))
def test_no_identifier_survives_in_a_longer_message(parts, joiner) -> None:
    text = joiner.join(f"{sentence} {identifier}" for sentence, identifier in parts)
    redacted = redact(text)
    for _, identifier in parts:
        assert identifier not in redacted
    assert "@" not in redacted
    assert not re.search(r"(?i)https?://|www\.|\.(com|cl|ly|me|es)\b", redacted)
    assert all(len(run) < 7 for run in _digit_runs(redacted)), redacted


@pytest.mark.parametrize("text, expected", [
    ("mi ex Pedro Soto me sigue llamando al +56 9 8765 4321",
     "mi ex <nombre> me sigue llamando al <telefono>"),
    ("me llamo yesenia y vivo en puente alto", "me llamo <nombre> y vivo en <comuna>"),
    ("vivo en calle Los Aromos 1234 depto 402, La Florida", "vivo en <direccion>, <comuna>"),
    ("vivo en pasaje los olmos 55", "vivo en <direccion>"),
    ("mi pareja Rodrigo Quilapán me amenaza", "mi pareja <nombre> me amenaza"),
    ("AYUDA MI EX JUAN ME ESTA PEGANDO", "AYUDA MI EX <nombre> ME ESTA PEGANDO"),
    ("la Yessenia me dijo que fuera a la Fiscalía", "la <nombre> me dijo que fuera a la Fiscalía"),
    ("vivo en Providencia con mi marido", "vivo en <comuna> con mi marido"),
    ("me escribio juan arroba gmail punto com", "me escribio <email>"),
    ("block B depto 1203", "<direccion>"),
    ("mi rut es 12.345.678-9", "mi rut es <rut>"),
])
def test_identifiers_from_the_lists(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "Mascarilla 19", "mascarilla #19", "mascarilla nro 19", "la mascarilla numero 19",
    "llame al 133 y al 1455 pero no contestan", "tambien al 149 y al 134",
    "el 12-05-2023 me pego, me debe $1.500.000 y 200.000 pesos",
    "me pego en la calle 2 veces", "me siguio por el pasaje y me pego",
    "estoy en la casa 2 dias sin salir", "que es la ley Gabriela", "q dice la ley antonia",
    "me da pena todo esto, la rosa que me regalo", "en primavera se pone peor",
    "que es la providencia de dios", "mi amiga me llamo llorando, el pololo le pega",
    "la ley 20.066 dice", "tengo 3 hijos de 2, 5 y 7 años",
])
def test_ordinary_words_and_help_lines_survive(text: str) -> None:
    assert redact(text) == text
