"""The client side of notification_latency, a process of its own: N WebSocket clients on
`/ws/notifications/`, each receipt timed against the `sent_at` its notification carries.

`python -m bench.sockets_client <ws url> <tokens file> <expected receipts>`: prints `ready` once
every socket is open, then one JSON list of latencies (ms) once all the receipts arrived.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import websockets


async def main(url: str, tokens: list[str], expected: int) -> None:
    latencies: list[float] = []
    done = asyncio.Event()

    async def client(token: str, opened: asyncio.Event) -> None:
        async with websockets.connect(f"{url}?token={token}", max_queue=None, open_timeout=60) as socket:
            opened.set()
            async for raw in socket:
                received = time.time()
                payload = json.loads(raw).get("payload", {})
                if "sent_at" in payload:
                    latencies.append((received - payload["sent_at"]) * 1000)
                    if len(latencies) >= expected:
                        done.set()

    opened = [asyncio.Event() for _ in tokens]
    tasks = []
    for token, event in zip(tokens, opened, strict=True):
        tasks.append(asyncio.create_task(client(token, event)))
        await asyncio.sleep(0.002)  # no thundering herd of handshakes
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), timeout=120)
    print("ready", flush=True)
    await asyncio.wait_for(done.wait(), timeout=300)
    print(json.dumps(latencies), flush=True)
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    with open(sys.argv[2]) as file:
        asyncio.run(main(sys.argv[1], file.read().split(), int(sys.argv[3])))
