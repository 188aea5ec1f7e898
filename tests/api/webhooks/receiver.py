#!/usr/bin/env python3
"""The webhook tests' receiver: a small HTTP server that records every delivery (body and
headers, as received) and checks them with the `standardwebhooks` library on request.

    receiver.py            # prints "listening on PORT", then serves 127.0.0.1:PORT

How it answers a delivery depends on the first path segment:
    /ok/...         200
    /fail/...       500, always
    /fail-once/...  500 the first time a webhook-id arrives, 200 after
    /hang/...       waits 12 s (beyond the gateway's 10 s limit), then 200

Control (for the test, never a delivery):
    GET  /_deliveries               every delivery recorded, in arrival order
    POST /_verify {"secret": "whsec_…", "path": "/ok/a"?}
                                    each recorded delivery (of that path), with whether
                                    standardwebhooks.Webhook(secret).verify(body, headers)
                                    accepted it
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()
DELIVERIES = []
SEEN = set()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_deliveries":
            with LOCK:
                self.answer(200, DELIVERIES)
        else:
            self.answer(404, {"error": "unknown"})

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode()
        if self.path == "/_verify":
            return self.verify(json.loads(body))
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {
            "path": self.path,
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "headers": {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature") if k in headers},
            "body": body,
            "receivedAt": time.time(),
        }
        behaviour = self.path.strip("/").split("/")[0]
        with LOCK:
            DELIVERIES.append(record)
            first = record["id"] not in SEEN
            SEEN.add(record["id"])
        if behaviour == "fail" or (behaviour == "fail-once" and first):
            return self.answer(500, {"error": "failing on purpose"})
        if behaviour == "hang":
            time.sleep(12)
        self.answer(200, {"received": True})

    def verify(self, request):
        secret = Webhook(request["secret"])
        path = request.get("path")
        results = []
        with LOCK:
            recorded = [d for d in DELIVERIES if path is None or d["path"] == path]
        for d in recorded:
            try:
                secret.verify(d["body"], d["headers"])
                results.append({"id": d["id"], "path": d["path"], "verified": True})
            except WebhookVerificationError as e:
                results.append({"id": d["id"], "path": d["path"], "verified": False, "error": str(e)})
        self.answer(200, results)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
