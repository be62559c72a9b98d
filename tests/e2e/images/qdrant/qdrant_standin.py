"""Qdrant stand-in for the e2e suite, NOT Qdrant: answers the endpoints the stack checks.

GET /readyz, /healthz, /livez -> 200 text; GET / -> version JSON; GET /collections -> empty list.
As in Qdrant, when QDRANT__SERVICE__API_KEY is set every other path needs it (`api-key` header
or `Authorization: Bearer`), else 401. Anything else is 404. Each reply closes the connection.
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = os.environ.get("QDRANT__SERVICE__API_KEY", "")
PORT = int(os.environ.get("QDRANT__SERVICE__HTTP_PORT", "6333"))
PUBLIC = {
    "/readyz": "all shards are ready",
    "/healthz": "healthz check passed",
    "/livez": "healthz check passed",
    "/": {"title": "qdrant stand-in", "version": "standin"},
}
PROTECTED = {"/collections": {"result": {"collections": []}, "status": "ok"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in PUBLIC:
            self.reply(200, PUBLIC[path])
        elif path not in PROTECTED:
            self.reply(404, "not found")
        elif error := self.auth_error():
            self.reply(401, f"Unauthorized: {error}")
        else:
            self.reply(200, PROTECTED[path])

    def auth_error(self):
        """Why Qdrant would refuse this request (its messages), or None."""
        bearer = self.headers.get("Authorization", "")
        key = self.headers.get("api-key") or (bearer[7:] if bearer.startswith("Bearer ") else None)
        if not API_KEY or key == API_KEY:
            return None
        if key:
            return "Invalid API key or JWT"
        return "Must provide an API key or an Authorization bearer token"

    def reply(self, status, body):
        if isinstance(body, dict):
            data, content_type = json.dumps(body).encode(), "application/json"
        else:
            data, content_type = body.encode(), "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 ignores SIGTERM without a handler
    print(f"qdrant stand-in listening on 0.0.0.0:{PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
