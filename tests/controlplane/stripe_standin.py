"""A local HTTP stand-in of the Stripe API endpoints kvmesh calls, for the official `stripe` library.

It keeps customers, payment methods (`pm_card_visa` exists from the start, as in Stripe test mode),
payment intents and setup intents in memory and answers with Stripe-shaped JSON objects. Confirming
an intent with a payment method makes it `succeeded`, as a test-mode card would.
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class StripeStandin:
    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.customers: dict[str, dict[str, Any]] = {}
        self.methods: dict[str, dict[str, Any]] = {
            "pm_card_visa": {
                "id": "pm_card_visa",
                "object": "payment_method",
                "type": "card",
                "customer": None,
                "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
            }
        }
        self.intents: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, authorization)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _new(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids):06d}"

    def answer(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        if method == "POST" and parts == ["customers"]:
            customer = {"id": self._new("cus"), "object": "customer", "email": form.get("email")}
            self.customers[customer["id"]] = customer
            return 200, customer
        if method == "GET" and len(parts) == 3 and parts[0] == "customers" and parts[2] == "payment_methods":
            data = [m for m in self.methods.values() if m["customer"] == parts[1]]
            return 200, {"object": "list", "data": data, "has_more": False, "url": path}
        if parts[:1] == ["payment_methods"] and len(parts) >= 2 and parts[1] in self.methods:
            found = self.methods[parts[1]]
            if parts[2:] == ["attach"]:
                found["customer"] = form.get("customer")
            elif parts[2:] == ["detach"]:
                found["customer"] = None
            return 200, found
        if method == "POST" and parts in (["payment_intents"], ["setup_intents"]):
            kind = parts[0][:-1]
            intent = {
                "id": self._new("pi" if kind == "payment_intent" else "seti"),
                "object": kind,
                "amount": int(form.get("amount", 0)),
                "amount_received": 0,
                "currency": form.get("currency", "usd"),
                "customer": form.get("customer"),
                "payment_method": form.get("payment_method"),
                "status": "requires_confirmation"
                if form.get("payment_method")
                else "requires_payment_method",
            }
            intent["client_secret"] = f"{intent['id']}_secret_x"
            self.intents[intent["id"]] = intent
            return 200, intent
        if parts[:1] == ["payment_intents"] and len(parts) >= 2 and parts[1] in self.intents:
            intent = self.intents[parts[1]]
            if parts[2:] == ["confirm"] and intent["payment_method"]:
                intent["status"], intent["amount_received"] = "succeeded", intent["amount"]
            return 200, intent
        return 404, {"error": {"type": "invalid_request_error", "message": f"No such resource: {path}"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urlparse(self.path)
                form = {k: v[-1] for k, v in parse_qs(body or url.query).items()}
                standin.requests.append((self.command, url.path, self.headers.get("authorization", "")))
                status, payload = standin.answer(self.command, url.path, form)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        return Handler
