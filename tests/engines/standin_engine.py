"""A stand-in OpenAI-compatible engine process for controller tests: /health, /v1/models, chat."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("standin: " + (format % args) + "\n")

    def _json(self, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json({"status": "ok"})
        elif self.path == "/v1/models":
            self._json({"object": "list", "data": [{"id": "standin", "object": "model"}]})
        else:
            self._json({"error": {"message": "not found"}}, 404)


def main() -> None:
    """Usage: standin_engine.py [--port] PORT [--crash]; `--port N` as real engines write it."""
    args = [a for a in sys.argv[1:] if a != "--port"]
    port = int(args[0])
    if "--crash" in args:
        sys.stderr.write("standin: model file is corrupt, giving up\n")
        sys.exit(3)
    sys.stderr.write(f"standin: listening on {port}\n")
    sys.stderr.flush()
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
