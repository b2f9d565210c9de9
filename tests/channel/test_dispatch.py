"""Background work: order per sender, concurrency across senders, failures contained."""

from __future__ import annotations

import asyncio

from channels.whatsapp.dispatch import OrderedDispatcher


async def test_order_is_kept_per_sender_and_senders_run_concurrently() -> None:
    done: list[tuple[str, int]] = []

    async def handle(item: tuple[str, int, float]) -> None:
        key, number, delay = item
        await asyncio.sleep(delay)
        done.append((key, number))

    dispatcher: OrderedDispatcher[tuple[str, int, float]] = OrderedDispatcher(handle)
    dispatcher.submit("a", ("a", 1, 0.05))
    dispatcher.submit("a", ("a", 2, 0.0))
    dispatcher.submit("b", ("b", 1, 0.0))
    dispatcher.submit("a", ("a", 3, 0.0))
    await dispatcher.join(2)
    assert [n for k, n in done if k == "a"] == [1, 2, 3]
    assert done[0] == ("b", 1)  # not stuck behind the slow message of "a"
    assert dispatcher.pending == 0


async def test_a_failing_turn_does_not_stop_the_queue() -> None:
    done: list[int] = []

    async def handle(number: int) -> None:
        if number == 1:
            raise RuntimeError("boom")
        done.append(number)

    dispatcher: OrderedDispatcher[int] = OrderedDispatcher(handle)
    for number in (1, 2, 3):
        dispatcher.submit("a", number)
    await dispatcher.join(2)
    assert done == [2, 3]
    dispatcher.submit("a", 4)  # a new worker starts after the previous one ended
    await dispatcher.join(2)
    assert done == [2, 3, 4]
