"""The specialist's side of a conversation case, through the console's HTTP endpoints.

One small driver so that a renamed console route is changed in one place: log in, take the
case of a conversation, reply, close (with or without the goodbye).
"""

from __future__ import annotations

import re

import httpx

from handoff.queue import HandoffQueue
from handoff.states import Outcome

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class ConsoleDriver:
    def __init__(self, console_url: str, queue: HandoffQueue, username: str, password: str) -> None:
        self.queue = queue
        self.username, self.password = username, password
        self.http = httpx.AsyncClient(base_url=console_url, timeout=20, follow_redirects=False)

    async def _csrf(self, path: str) -> str:
        page = await self.http.get(path)
        match = _CSRF.search(page.text)
        if not match:
            raise AssertionError(f"la consola no mostró un formulario en {path} ({page.status_code})")
        return match.group(1)

    async def login(self) -> None:
        token = await self._csrf("/login")
        answer = await self.http.post("/login", data={
            "username": self.username, "password": self.password, "csrf_token": token})
        if answer.status_code != 303 or "console_session" not in self.http.cookies:
            raise AssertionError(f"no pude iniciar sesión en la consola ({answer.status_code})")

    async def keep_online(self) -> None:
        await self.http.get("/api/queue")

    def _ticket_id(self, conversation_id: str) -> int:
        ticket = self.queue.open_ticket_for(conversation_id)
        if ticket is None:
            raise AssertionError("no hay un caso abierto para esta conversación")
        return ticket.id

    async def _post(self, path: str, data: dict[str, str]) -> str:
        data = {**data, "csrf_token": await self._csrf("/")}
        answer = await self.http.post(path, data=data)
        location = answer.headers.get("location", "")
        if answer.status_code != 303:
            raise AssertionError(f"la consola respondió {answer.status_code} a {path}")
        return location

    async def claim(self, conversation_id: str) -> None:
        ticket_id = self._ticket_id(conversation_id)
        location = await self._post(f"/tickets/{ticket_id}/claim", {})
        if "claimed" not in location:
            raise AssertionError(f"no pude tomar el caso ({location})")

    async def reply(self, conversation_id: str, text: str) -> None:
        ticket_id = self._ticket_id(conversation_id)
        location = await self._post(f"/tickets/{ticket_id}/reply",
                                    {"text": text, "confirm_unsafe": "1"})
        if not any(word in location for word in ("sent", "accepted", "delivered")):
            raise AssertionError(f"la consola no envió la respuesta ({location})")

    async def close(self, conversation_id: str, goodbye: bool) -> None:
        ticket_id = self._ticket_id(conversation_id)
        data = {"outcome": Outcome.ORIENTATION.value}
        if goodbye:
            data["send_goodbye"] = "1"
        location = await self._post(f"/tickets/{ticket_id}/close", data)
        if "closed" not in location:
            raise AssertionError(f"no pude cerrar el caso ({location})")

    async def aclose(self) -> None:
        await self.http.aclose()
