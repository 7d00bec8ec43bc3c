"""The fast stand-in OpenAI upstream for bench/gateway_overhead.py: raw asyncio on uvloop, keep-alive
HTTP/1.1, 19 content chunks per reply (chunked SSE when `"stream": true`), optional delay per token.

    python bench/gateway_bench_upstream.py PORT [MS_PER_TOKEN]
"""

from __future__ import annotations

import asyncio
import json
import sys

CHUNKS = 19
MODEL = "bench-model"


def serve_upstream(port: int, per_token_ms: float) -> None:
    import uvloop

    delay = per_token_ms / 1000.0
    chunk = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": MODEL,
            "choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}],
        }
    ).encode()
    event = b"data: " + chunk + b"\n\n"
    usage = {"prompt_tokens": 11, "completion_tokens": CHUNKS, "total_tokens": 11 + CHUNKS}
    usage_event = (
        b"data: "
        + json.dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": MODEL,
                "choices": [],
                "usage": usage,
            }
        ).encode()
        + b"\n\n"
    )
    unary = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "tok " * CHUNKS},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
    ).encode()
    models = json.dumps(
        {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]}
    ).encode()

    def chunked(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                path = head.split(b" ", 2)[1]
                if not path.startswith(b"/v1/chat") and not path.startswith(b"/v1/completions"):
                    payload = models if b"models" in path else b'{"status":"ok"}'
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                        % (len(payload), payload)
                    )
                    continue
                compact = body.replace(b" ", b"")
                if b'"stream":true' in compact:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                        b"transfer-encoding: chunked\r\n\r\n"
                    )
                    for _ in range(CHUNKS):
                        if delay:
                            await asyncio.sleep(delay)
                        writer.write(chunked(event))
                    if b'"include_usage":true' in compact:
                        writer.write(chunked(usage_event))
                    writer.write(chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
                else:
                    if delay:
                        await asyncio.sleep(delay * CHUNKS)
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                        % (len(unary), unary)
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


if __name__ == "__main__":
    serve_upstream(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
