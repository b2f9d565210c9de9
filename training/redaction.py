"""Redaction of a message before it enters the review queue: what identifies her goes.

Replaced, in this order (each pass leaves the placeholders of the earlier ones alone):

- e-mails (``x@y.cl``, «juan arroba gmail punto com») → ``<email>``;
- URLs (with or without scheme: ``https://…``, ``www.…``, ``instagram.com/…``) → ``<url>``;
- RUTs (``12.345.678-9``, ``12345678-9``, ``12.345.678`` without check digit) → ``<rut>``;
- phone numbers: any run of 7 or more digits joined by spaces, dots, hyphens or parentheses,
  with or without ``+56`` (mobiles, landlines) → ``<telefono>``; dates and amounts of money
  are kept, and so are the short numbers of the help lines (133, 149, 1455…);
- street addresses («calle Los Aromos 1234», «pasaje los olmos 55», «depto 402») →
  ``<direccion>``;
- personal names (lists of common Chilean first names and surnames, capitalised words after
  «me llamo», «soy», «mi marido/pareja/ex…») → ``<nombre>``;
- comunas (components/chile_geo.py) → ``<comuna>``.

Shapes (phones, e-mails, RUTs, URLs) are caught by form, so none survives whatever the words
around them; names, addresses and comunas come from the lists in training/identificadores.yml,
which trainers extend. Words that are both a name or a comuna and an ordinary word («rosa»,
«paz», «porvenir») are replaced only with a capital letter inside a sentence or after a cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path

import yaml

from components.chile_geo import ChileGeo, load_geo
from components.text import normalize

LISTS_PATH = Path(__file__).resolve().parent / "identificadores.yml"


class Placeholder(str, Enum):
    PHONE = "<telefono>"
    EMAIL = "<email>"
    RUT = "<rut>"
    URL = "<url>"
    ADDRESS = "<direccion>"
    NAME = "<nombre>"
    COMUNA = "<comuna>"


# --- shapes ---------------------------------------------------------------------------------
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_SPOKEN_EMAIL = re.compile(
    r"(?i)\b[\w.\-]+\s+arroba\s+[\w\-]+(?:\s+punto\s+[a-z]{2,6})+\b")
_TLDS = ("com|cl|net|org|ly|me|io|app|es|ar|pe|co|info|gob|gov|edu|tv|link|site|xyz|ve|bo|"
         "ht|mx|us|uk|de|fr|br|biz|online|store|page|gl|gg|to")
_URL = re.compile(
    r"(?i)(?:\b(?:https?://|www\.)[^\s<>]+"
    r"|\b[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.(?:" + _TLDS + r")\b(?:[/?#][^\s<>]*)?)")
_TRAILING = ".,;:!?)]}»\"'’”…"
_DV = r"\s?[-‐‑–]\s?[\dkK]"
_RUT = re.compile(
    r"(?<![\w.$])(?:\d{1,2}(?:\.\d{3}){2}(?:" + _DV + r")?|\d{7,8}" + _DV + r")(?![\w])")
_MONEY_AFTER = re.compile(r"(?i)^\s*(?:pesos|lucas|luca|mil|clp|millones|palos)\b")
_DATE = re.compile(r"(?<!\d)\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2})(?!\d)")
_DIGIT_RUN = re.compile(r"(?<![\w$])\+?\(?\+?\d(?:[\s().\-]{0,3}\d)+\)?")
_MIN_PHONE_DIGITS = 7
_NUMBER_SIGN = re.compile(r"(?<![\w#])(?:[nN][°º]|#)\s?\d+\b")
_GERUND = re.compile(r"(ando|endo|iendo)$")

# --- words ----------------------------------------------------------------------------------
_TOKEN = re.compile(r"<[a-z]+>|[^\W\d_]+(?:['’][^\W\d_]+)?|\d+|\S")
_SENTENCE_END = set(".!?¡¿:;\n")
_ARTICLES = frozenset({"los", "las", "la", "el", "del", "de", "san", "santa", "don", "dona"})
_NOT_IN_STREET = frozenset({"me", "te", "se", "le", "lo", "les", "nos", "que", "q", "y", "no",
                            "mi", "tu", "su", "ya", "porque", "xq", "pq", "cuando", "si", "a",
                            "en", "con", "por", "para", "pero", "o", "e"})


@dataclass(frozen=True)
class Lists:
    """training/identificadores.yml, normalised (lowercase, no accents)."""

    names: frozenset[str]
    ambiguous: frozenset[str]
    always_cues: tuple[tuple[str, ...], ...]
    name_cues: tuple[tuple[str, ...], ...]
    not_names: frozenset[str]
    after_no_name: frozenset[str]
    streets: frozenset[str]
    units: tuple[str, ...]
    quantities: frozenset[str]
    not_streets: frozenset[str]
    ambiguous_comunas: frozenset[str]
    comuna_cues: tuple[tuple[str, ...], ...]

    @classmethod
    def from_file(cls, path: Path = LISTS_PATH) -> Lists:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))

        def words(key: str) -> frozenset[str]:
            return frozenset(normalize(str(w)) for w in raw.get(key) or [])

        def cues(key: str) -> tuple[tuple[str, ...], ...]:
            found = {tuple(normalize(str(c)).split()) for c in raw.get(key) or []}
            return tuple(sorted(found, key=len, reverse=True))

        names = {part for w in words("nombres") | words("apellidos") for part in w.split()}
        return cls(
            names=frozenset(names), ambiguous=words("ambiguos"),
            always_cues=cues("antes_de_nombre_siempre"), name_cues=cues("antes_de_nombre"),
            not_names=words("no_son_nombres"), after_no_name=words("no_nombre_despues_de"),
            streets=words("calles"),
            units=tuple(sorted(words("unidades"), key=len, reverse=True)),
            quantities=words("cantidades"), not_streets=words("no_son_calles"),
            ambiguous_comunas=words("comunas_ambiguas"), comuna_cues=cues("antes_de_comuna"),
        )


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    norm: str
    word: bool
    capital: bool
    sentence_start: bool


def _tokens(text: str) -> list[Token]:
    letters = [c for c in text if c.isalpha()]
    shouting = bool(letters) and sum(c.isupper() for c in letters) > 0.6 * len(letters)
    tokens: list[Token] = []
    sentence_start = True
    for match in _TOKEN.finditer(text):
        raw = match.group()
        word = raw[0].isalpha()
        # acronyms (AFP, PDI) and shouted messages say nothing about names
        capital = (word and len(raw) > 1 and raw[0].isupper() and not raw.isupper()
                   and not shouting)
        tokens.append(Token(raw, match.start(), match.end(), normalize(raw), word, capital,
                            sentence_start))
        if word or raw[0].isdigit() or raw.startswith("<"):
            sentence_start = False
        elif raw in _SENTENCE_END:
            sentence_start = True
    return tokens


def _replace(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    for start, end, placeholder in sorted(spans, reverse=True):
        text = text[:start] + placeholder + text[end:]
    return text


def _strip_trailing(match_text: str) -> str:
    while match_text and match_text[-1] in _TRAILING:
        match_text = match_text[:-1]
    return match_text


# --- shape passes ---------------------------------------------------------------------------
def _emails(text: str) -> str:
    text = _SPOKEN_EMAIL.sub(Placeholder.EMAIL.value, text)
    return _EMAIL.sub(Placeholder.EMAIL.value, text)


def _urls(text: str) -> str:
    spans = []
    for match in _URL.finditer(text):
        kept = _strip_trailing(match.group())
        if kept and "<" not in kept:
            spans.append((match.start(), match.start() + len(kept), Placeholder.URL.value))
    return _replace(text, spans)


def _is_money(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 2):start]
    return "$" in before or bool(_MONEY_AFTER.match(text[end:]))


def _ruts(text: str) -> str:
    spans = [(m.start(), m.end(), Placeholder.RUT.value) for m in _RUT.finditer(text)
             if not (_is_money(text, m.start(), m.end()) and not re.search(_DV + "$", m.group()))]
    return _replace(text, spans)


def _phones(text: str) -> str:
    dates = [(m.start(), m.end()) for m in _DATE.finditer(text)]
    spans = []
    for match in _DIGIT_RUN.finditer(text):
        start, end = match.start(), match.end()
        value = match.group()
        # a closing parenthesis belongs to the number only when it opened one
        if value.endswith(")") and value.count("(") < value.count(")"):
            value, end = value[:-1], end - 1
        if sum(c.isdigit() for c in value) < _MIN_PHONE_DIGITS:
            continue
        if any(ds <= start and end <= de for ds, de in dates) or _is_money(text, start, end):
            continue
        spans.append((start, end, Placeholder.PHONE.value))
    return _replace(text, spans)


# --- word passes ----------------------------------------------------------------------------
def _cue_before(tokens: Sequence[Token], i: int, cues: Iterable[tuple[str, ...]]) -> bool:
    """Whether the words right before ``tokens[i]`` spell one of ``cues`` (no punctuation
    between the cue and the word: «mi hijo? Creo…» is not a cue)."""
    if i == 0 or not tokens[i - 1].word:
        return False
    words = [t.norm for t in tokens[:i] if t.word or t.text[0].isdigit()]
    return any(len(words) >= len(cue) and tuple(words[-len(cue):]) == cue for cue in cues)


class Redactor:
    def __init__(self, lists: Lists, geo: ChileGeo) -> None:
        self._lists = lists
        self._geo = geo
        units = "|".join(_accent_insensitive(u) for u in lists.units)
        quantities = "|".join(_accent_insensitive(q) for q in lists.quantities)
        self._unit = re.compile(
            r"(?<![\w<])(?i:" + units + r")\.?\s?(?:\d+(?:\s?-?\s?[A-Za-z])?(?![\w])|[A-Z](?![\w]))"
            r"(?!\s+(?i:" + quantities + r")\b)")

    def redact(self, text: str) -> str:
        """``text`` with every identifier replaced by its placeholder."""
        for step in (_emails, _urls, _ruts, _phones, self._units, self._streets,
                     self._names, self._comunas):
            text = step(text)
        return re.sub(r"(<nombre>)(\s+<nombre>)+", r"\1",
                      re.sub(r"(<direccion>)([\s,]+<direccion>)+", r"\1", text))

    # addresses
    def _units(self, text: str) -> str:
        spans = []
        for pattern in (self._unit, _NUMBER_SIGN):
            for match in pattern.finditer(text):
                before = _tokens(text[:match.start()])
                previous = before[-1].norm if before else ""
                if previous not in self._lists.not_streets:
                    spans.append((match.start(), match.end(), Placeholder.ADDRESS.value))
        return _replace(text, _disjoint(spans))

    def _streets(self, text: str) -> str:
        tokens = _tokens(text)
        spans = []
        i = 0
        while i < len(tokens):
            end = self._street_end(tokens, i)
            if end is not None:
                spans.append((tokens[i].start, tokens[end].end, Placeholder.ADDRESS.value))
                i = end + 1
            else:
                i += 1
        return _replace(text, spans)

    def _street_end(self, tokens: Sequence[Token], i: int) -> int | None:
        """Index of the last token of a street address starting at ``tokens[i]``, or None."""
        first = tokens[i]
        keyword = first.word and first.norm in self._lists.streets
        capitalised_start = (first.word and first.capital and not first.sentence_start
                             and first.norm not in self._lists.not_streets)
        if not (keyword or capitalised_start):
            return None
        j = i + 1
        if keyword and j < len(tokens) and tokens[j].text == ".":
            j += 1
        last_capital, lowercase = None, 0
        while j < len(tokens):
            token = tokens[j]
            if token.text[0].isdigit():
                if self._is_quantity(tokens, j) or (last_capital is None and lowercase == 0
                                                    and not keyword):
                    return None
                if not keyword and last_capital is None and not first.capital:
                    return None
                return j
            if not token.word or token.norm in _NOT_IN_STREET:
                break
            if token.capital:
                last_capital = j
            elif token.norm in _ARTICLES:
                pass
            else:
                lowercase += 1
                if lowercase > 3:
                    break
            j += 1
        if keyword and last_capital is not None and tokens[i + 1:last_capital + 1] and all(
                t.capital or t.norm in _ARTICLES or t.text == "."
                for t in tokens[i + 1:last_capital + 1]):
            return last_capital
        return None

    def _is_quantity(self, tokens: Sequence[Token], j: int) -> bool:
        following = tokens[j + 1] if j + 1 < len(tokens) else None
        return following is not None and following.norm in self._lists.quantities

    # names
    def _names(self, text: str) -> str:
        tokens = _tokens(text)
        lists = self._lists
        # «San Miguel», «Pedro Aguirre Cerda»: comunas of several words are left to _comunas
        in_comuna = {n for match in self._geo.find(text)
                     if match.place.entity == "comuna" and " " in match.text.strip()
                     for n, t in enumerate(tokens) if match.start <= t.start < match.end}
        spans = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if (not token.word or len(token.text) < 2 or i in in_comuna
                    or token.norm in lists.not_names
                    or (i and tokens[i - 1].norm in lists.after_no_name)):
                i += 1
                continue
            forced = _cue_before(tokens, i, lists.always_cues) and not _GERUND.search(token.norm)
            if forced or self._looks_like_name(tokens, i):
                end = i
                while (end + 1 < len(tokens) and end + 1 not in in_comuna
                       and self._continues_name(tokens[end + 1])):
                    end += 1
                spans.append((token.start, tokens[end].end, Placeholder.NAME.value))
                i = end + 1
            else:
                i += 1
        return _replace(text, spans)

    def _looks_like_name(self, tokens: Sequence[Token], i: int) -> bool:
        token, lists = tokens[i], self._lists
        listed = token.norm in lists.names
        if _cue_before(tokens, i, lists.name_cues):
            return listed or (token.capital and not self._is_place(token))
        if listed and token.norm not in lists.ambiguous and not self._is_place(token):
            return True
        mid_capital = token.capital and not token.sentence_start
        if listed and mid_capital:
            return not (self._is_place(token) or _cue_before(tokens, i, lists.comuna_cues))
        previous = tokens[i - 1].norm if i else ""
        return (mid_capital and previous in ("la", "el") and not self._is_place(token)
                and not _cue_before(tokens, i - 1, lists.comuna_cues))

    def _continues_name(self, token: Token) -> bool:
        lists = self._lists
        if not token.word or len(token.text) < 2 or token.norm in lists.not_names:
            return False
        return token.norm in lists.names or (token.capital and not self._is_place(token))

    def _is_place(self, token: Token) -> bool:
        return any(True for _ in self._geo.find(token.text))

    # comunas
    def _comunas(self, text: str) -> str:
        tokens = _tokens(text)
        starts = {t.start: n for n, t in enumerate(tokens)}
        spans = []
        for match in self._geo.find(text):
            if match.place.entity != "comuna":
                continue
            if normalize(match.text) in self._lists.ambiguous_comunas:
                index = starts.get(match.start)
                cued = index is not None and _cue_before(tokens, index, self._lists.comuna_cues)
                capital = index is not None and tokens[index].capital
                if not (cued or capital):
                    continue
            spans.append((match.start, match.end, Placeholder.COMUNA.value))
        return _replace(text, spans)


def _disjoint(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The spans that do not overlap an earlier (leftmost, then longest) one."""
    kept: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _accent_insensitive(word: str) -> str:
    """A regex for ``word`` (already without accents) that also matches its accented forms."""
    variants = {"a": "[aá]", "e": "[eé]", "i": "[ií]", "o": "[oó]", "u": "[uúü]", "n": "[nñ]"}
    return "".join(variants.get(c, re.escape(c)) for c in word)


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    return Redactor(Lists.from_file(), load_geo())


def redact(text: str) -> str:
    """``text`` without phones, e-mails, RUTs, URLs, addresses, names or comunas."""
    return default_redactor().redact(text or "")
