"""Routes of the review blueprint: a list, a page per item, label, discard."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html, redirect

from console.review import host
from training.items import ReviewItem, ReviewStore, today_utc
from training.labelling import (
    IntentChoice,
    Label,
    LabelError,
    ReviewedWriter,
    WriteResult,
    intent_choices,
)
from training.review import review_store
from training.settings import ReviewSettings
from triage.levels import Immediacy

HERE = Path(__file__).resolve().parent
TEXTS = yaml.safe_load((HERE / "textos.yml").read_text(encoding="utf-8"))
_names = itertools.count(1)
MAX_SUGGESTIONS = 9


async def in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    """The review store's calls run off the event loop (a locked SQLite must not freeze the
    console for every specialist)."""
    return await asyncio.to_thread(function, *args, **kwargs)


@dataclass
class ReviewPages:
    store: ReviewStore
    writer: ReviewedWriter
    choices: list[IntentChoice]
    prefix: str
    home_url: str
    jinja: Environment

    async def render(self, request: Request, template: str, status: int = 200,
                     **values: Any) -> HTTPResponse:
        message = request.args.get("msg")
        values.setdefault("flash", TEXTS["avisos"].get(message) if message else None)
        page = self.jinja.get_template(template).render(
            prefix=self.prefix, home_url=self.home_url, csrf=host.csrf_of(request),
            username=host.username_of(request), texts=TEXTS, pending=await in_thread(self.store.count),
            retention_days=ReviewSettings.from_env().retention_days,
            **values)
        return html(page, status=status)

    def suggestions(self, item: ReviewItem) -> list[IntentChoice]:
        by_name = {c.name: c for c in self.choices}
        names = [item.reading.get("kind"), *(name for name, _ in item.ranking)]
        seen: list[IntentChoice] = []
        for name in names:
            if name in by_name and by_name[name] not in seen:
                seen.append(by_name[name])
        return seen[:MAX_SUGGESTIONS]

    async def item_page(self, request: Request, item: ReviewItem, error: str | None = None,
                  status: int = 200, form: dict[str, str] | None = None) -> HTTPResponse:
        reading = item.reading
        chosen = dict(form or {})
        chosen.setdefault("intent", reading.get("kind") or "")
        chosen.setdefault("inmediatez", reading.get("immediacy") or Immediacy.NONE.value)
        chosen.setdefault("pide_persona", "1" if reading.get("wants_person") else "")
        chosen.setdefault("texto", item.text)
        groups = [(level, [c for c in self.choices if c.level == level])
                  for level in ("emergency", "risk", "info", "other")]
        descriptions = {c.name: c.description for c in self.choices}
        return await self.render(request, "revision_item.html", status=status, item=item,
                           suggestions=self.suggestions(item), groups=groups, error=error,
                           chosen=chosen, descriptions=descriptions,
                           immediacies=[i.value for i in Immediacy])


async def _forbidden(pages: ReviewPages, request: Request) -> HTTPResponse:
    return await pages.render(request, "revision_prohibido.html", status=403)


def register(app: Sanic, *, store: ReviewStore | None = None,
             writer: ReviewedWriter | None = None, url_prefix: str = "/revision",
             home_url: str = "/") -> Blueprint:
    """Add the review pages to a console app; returns the blueprint."""
    jinja = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(["html"]))
    jinja.filters["semana"] = week_label
    pages = ReviewPages(store or review_store(), writer or ReviewedWriter(), intent_choices(),
                        url_prefix, home_url, jinja)
    bp = Blueprint(f"revision_{next(_names)}", url_prefix=url_prefix)
    bp.static("/static", str(HERE / "static"), name="static")
    _routes(bp, pages)
    app.blueprint(bp)
    app.ctx.review_pages = pages
    return bp


def _routes(bp: Blueprint, pages: ReviewPages) -> None:
    @bp.get("")
    async def review_list(request: Request) -> HTTPResponse:
        if not host.may_review(request):
            return await _forbidden(pages, request)
        items = await in_thread(pages.store.items, limit=200)
        counts = await in_thread(pages.store.counts_by_reason)
        return await pages.render(request, "revision_lista.html", items=items, counts=counts)

    @bp.get("/siguiente")
    async def next_item(request: Request) -> HTTPResponse:
        if not host.may_review(request):
            return await _forbidden(pages, request)
        item = await in_thread(pages.store.next_after)
        message = request.args.get("msg", "")
        suffix = f"?msg={message}" if message in TEXTS["avisos"] else ""
        target = f"{pages.prefix}/{item.id}" if item else pages.prefix
        return redirect(target + suffix, status=303)

    @bp.get("/<item_id:str>")
    async def item_page(request: Request, item_id: str) -> HTTPResponse:
        if not host.may_review(request):
            return await _forbidden(pages, request)
        item = await in_thread(pages.store.get, item_id)
        if item is None:
            return redirect(f"{pages.prefix}/siguiente?msg=tomado", status=303)
        return await pages.item_page(request, item)

    @bp.post("/<item_id:str>/etiquetar")
    async def label_item(request: Request, item_id: str) -> HTTPResponse:
        if not host.may_review(request):
            return await _forbidden(pages, request)
        form = {key: (request.form.get(key) or "").strip()
                for key in ("intent", "inmediatez", "pide_persona", "texto")}
        item = await in_thread(pages.store.get, item_id)
        if item is None:
            return redirect(f"{pages.prefix}/siguiente?msg=tomado", status=303)
        try:
            label = Label(form["intent"], Immediacy(form["inmediatez"]),
                          form["pide_persona"] == "1")
        except ValueError:
            return await pages.item_page(request, item, TEXTS["avisos"]["elige_intencion"], 400, form)
        text = form["texto"] or item.text
        outcome: dict[str, WriteResult] = {}

        def write(_item: ReviewItem) -> None:
            outcome["result"] = pages.writer.write(text, label, today_utc())

        try:
            taken = await in_thread(pages.store.take, item_id, write)
        except LabelError as error:
            return await pages.item_page(request, item, f"No se guardó: {error}.", 400, form)
        if taken is None:
            return redirect(f"{pages.prefix}/siguiente?msg=tomado", status=303)
        result = outcome["result"]
        await host.audit(request, "review_labelled", f"intent={label.intent} result={result.value}")
        message = "guardado" if result is WriteResult.WRITTEN else "ya_estaba"
        return redirect(f"{pages.prefix}/siguiente?msg={message}", status=303)

    @bp.post("/<item_id:str>/descartar")
    async def discard_item(request: Request, item_id: str) -> HTTPResponse:
        if not host.may_review(request):
            return await _forbidden(pages, request)
        taken = await in_thread(pages.store.take, item_id, lambda _item: None)
        if taken is None:
            return redirect(f"{pages.prefix}/siguiente?msg=tomado", status=303)
        await host.audit(request, "review_discarded", f"reason={taken.reason.value}")
        return redirect(f"{pages.prefix}/siguiente?msg=descartado", status=303)


def week_label(week: date) -> str:
    months = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"]
    return f"semana del {week.day} {months[week.month - 1]} {week.year}"
