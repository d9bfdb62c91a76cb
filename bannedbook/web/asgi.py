"""ASGI plumbing the serving code shares: rewriting a response's body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Send = Callable[[dict], Awaitable[None]]


def rewriting_body(send: Send, rewrite: Callable[[bytes], bytes],
                   when: Callable[[dict], bool] = lambda start: True) -> Send:
    """An ASGI send that holds a response whose start message satisfies
    `when` until its last chunk, then sends rewrite(body) with the new
    content-length. Other responses pass straight through."""
    start: dict | None = None
    chunks: list[bytes] = []

    async def send_rewritten(message: dict) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            if not when(message):
                return await send(message)
            start = message  # held until the whole body is known
            return None
        if start is None or message["type"] != "http.response.body":
            return await send(message)
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return None
        body = rewrite(b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
        return await send({"type": "http.response.body", "body": body})

    return send_rewritten
