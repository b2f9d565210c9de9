"""What a benchmark talks to: the WhatsApp webhook (the answer counted at a Graph API
stand-in) or Rasa's REST channel (the answer is the HTTP response). ``send`` returns when
her whole answer is there."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from bench.graph_sink import GraphSink
from simulator import webhooks as wh


class AnswerTimeout(RuntimeError):
    pass


@dataclass
class RestTarget:
    """Rasa's REST channel: ``POST /webhooks/rest/webhook`` answers with the bot messages."""

    base_url: str
    session: aiohttp.ClientSession
    timeout: float = 30.0
    name: str = "rest"

    async def send(self, sender: str, text: str) -> None:
        async with self.session.post(f"{self.base_url}/webhooks/rest/webhook",
                                     json={"sender": sender, "message": text},
                                     timeout=aiohttp.ClientTimeout(total=self.timeout)) as answer:
            await answer.read()
            if answer.status != 200:
                raise RuntimeError(f"REST answered {answer.status}")


@dataclass
class WebhookTarget:
    """Signed WhatsApp webhooks; done when the phone got the answer's last message."""

    webhook_url: str
    sink: GraphSink
    session: aiohttp.ClientSession
    timeout: float = 30.0
    name: str = "webhook"
    expected: dict[str, int] = field(default_factory=dict)  # text -> messages in its answer
    acks: list[float] = field(default_factory=list)  # seconds until each webhook's answer

    async def _post(self, sender: str, text: str) -> None:
        body = wh.encode(wh.update(messages=[wh.text_message(sender, text)]))
        headers = {"Content-Type": "application/json", wh.SIGNATURE_HEADER: wh.sign(body)}
        started = time.perf_counter()
        async with self.session.post(self.webhook_url, data=body, headers=headers) as answer:
            await answer.read()
            self.acks.append(time.perf_counter() - started)
            if answer.status != 200:
                raise RuntimeError(f"webhook answered {answer.status}")

    async def send(self, sender: str, text: str) -> None:
        before = self.sink.count(sender)
        await self._post(sender, text)
        try:
            await self.sink.wait_for(sender, before + self.expected[text], self.timeout)
        except asyncio.TimeoutError:
            raise AnswerTimeout(f"answer to {text!r} incomplete") from None

    async def learn(self, sender: str, texts: list[str], quiet: float = 1.0) -> None:
        """How many messages each answer has (not timed): send, wait until quiet."""
        for text in texts:
            before = self.sink.count(sender)
            await self._post(sender, text)
            deadline, last, changed = time.monotonic() + self.timeout, before, time.monotonic()
            while time.monotonic() < deadline:
                now = self.sink.count(sender)
                if now != last:
                    last, changed = now, time.monotonic()
                elif now > before and time.monotonic() - changed >= quiet:
                    break
                await asyncio.sleep(0.05)
            self.expected[text] = self.sink.count(sender) - before
            if self.expected[text] == 0:
                raise AnswerTimeout(f"no answer to {text!r} while learning")
