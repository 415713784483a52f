"""A webhook endpoint for the tests: verifies each message with the Standard Webhooks
reference library (PyPI `standardwebhooks`), an implementation independent of ours.

    python standard_webhooks.py --secret whsec_... [--fail-first N]

Prints `{"port": N}` once listening on 127.0.0.1, then one JSON line per request:
    {"verified": true, "id", "type", "data": {...}}    (answered 204)
    {"verified": false, "error"}                       (answered 400)
    {"refused": true, "id"}                            (one of the first N, answered 503)
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    webhook = Webhook(args.secret)
    state = {"refused": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if state["refused"] < args.fail_first:
                state["refused"] += 1
                report({"refused": True, "id": self.headers.get("webhook-id")})
                self.answer(503)
                return
            try:
                message = webhook.verify(body, dict(self.headers.items()))
            except Exception as error:  # any failure is the test's to read
                report({"verified": False, "error": f"{type(error).__name__}: {error}"})
                self.answer(400)
                return
            report(
                {
                    "verified": True,
                    "id": self.headers.get("webhook-id"),
                    "type": message["type"],
                    "data": message["data"],
                }
            )
            self.answer(204)

        def answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    report({"port": server.server_address[1]})
    server.serve_forever()
    return 0


def report(line: dict) -> None:
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    sys.exit(main())
