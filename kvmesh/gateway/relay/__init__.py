"""Relaying an upstream reply to the client: streamed (`relay_stream`) or whole (`relay_unary`).

Both read the token counts for metering on the way through; `sse_events.SseEventFilter` is the
byte-level SSE reader the streamed relay uses.
"""
