"""A local SendGrid stand-in: `POST /v3/mail/send` answered 202, with fault injection.

Used through the real `sendgrid` client (SENDGRID_API_HOST points here). Accepted mails are
recorded in `accepted`; every request (accepted or not) in `requests`. Faults are consumed in
order, one per request: an HTTP status (500, 429, ...) or "timeout" (the server hangs longer
than the client waits, then drops the connection without accepting the mail).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TIMEOUT = "timeout"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    answered: int | str

    @property
    def to(self) -> list[str]:
        return [t["email"] for p in self.body.get("personalizations", []) for t in p["to"]]

    @property
    def subject(self) -> str:
        return self.body.get("subject", "")

    def content(self, kind: str) -> str:
        return next(c["value"] for c in self.body["content"] if c["type"] == kind)


@dataclass
class SendGridStandIn:
    hang_seconds: float = 2.0
    requests: list[Received] = field(default_factory=list)
    faults: deque[int | str] = field(default_factory=deque)
    _server: ThreadingHTTPServer | None = None
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.answered == 202]

    def fail_next(self, *faults: int | str) -> None:
        self.faults.extend(faults)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        body = json.loads(raw or b"{}")
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
        if handler.path != "/v3/mail/send":
            status: int | str = 404
        elif not handler.headers.get("Authorization", "").startswith("Bearer "):
            status = 401
        else:
            status = fault if fault is not None else 202
        with self._lock:
            self.requests.append(Received(handler.path, dict(handler.headers), body, status))
        if status == TIMEOUT:
            self._released.wait(self.hang_seconds)
            handler.close_connection = True
            return
        assert isinstance(status, int)
        payload = b"" if status == 202 else json.dumps({"errors": [{"message": "fault"}]}).encode()
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(payload)))
        if payload:
            handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(payload)

    def start(self) -> SendGridStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stand_in._answer(self)

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> SendGridStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
