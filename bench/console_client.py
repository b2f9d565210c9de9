"""The specialists' console over HTTP, the way a browser uses it: login form with its CSRF
cookie and hidden token, the session's CSRF token from a page, /api/queue, claim, reply."""

from __future__ import annotations

import re
from typing import Any

import httpx

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _token(html: str) -> str:
    match = TOKEN.search(html)
    if not match:
        raise RuntimeError("no CSRF token in the console page")
    return match.group(1)


class ConsoleClient:
    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=timeout)
        self.csrf = ""

    async def login(self, username: str, password: str) -> None:
        page = await self.http.get("/login")
        page.raise_for_status()
        answer = await self.http.post("/login", data={
            "username": username, "password": password, "csrf_token": _token(page.text)})
        if answer.status_code != 303:
            raise RuntimeError(f"console login answered {answer.status_code}")
        home = await self.http.get("/")
        home.raise_for_status()
        self.csrf = _token(home.text)

    async def queue(self) -> dict[str, Any]:
        answer = await self.http.get("/api/queue")
        answer.raise_for_status()
        return answer.json()

    async def _post(self, path: str, data: dict[str, str]) -> str:
        """POST a form; returns the flash key of the redirect (``?msg=...``)."""
        answer = await self.http.post(path, data={"csrf_token": self.csrf, **data})
        if answer.status_code != 303:
            raise RuntimeError(f"{path} answered {answer.status_code}")
        location = answer.headers.get("location", "")
        return location.partition("msg=")[2]

    async def claim(self, ticket_id: int) -> str:
        return await self._post(f"/tickets/{ticket_id}/claim", {})

    async def reply(self, ticket_id: int, text: str) -> str:
        return await self._post(f"/tickets/{ticket_id}/reply", {"text": text})

    async def aclose(self) -> None:
        await self.http.aclose()
