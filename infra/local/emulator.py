"""What the local emulators (zarinpal.py, moadian.py) share: a request handler that speaks JSON
and can be told to stop answering, and the command line that serves it."""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):  # one line per request, no bodies
        print(f"{self.address_string()} {fmt % args}", flush=True)

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        data = data.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type + "; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def json_body(self):
        """The body's JSON, or None when it is not JSON."""
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def json_object(self):
        """The body's JSON object, or None when it is anything else."""
        body = self.json_body()
        return body if isinstance(body, dict) else None

    def hang_if_down(self, service, status, message):
        """While `service.down`, a call hangs `service.slow` seconds and then fails as a provider
        that is out would: True when it did."""
        if service.down:
            time.sleep(service.slow)
            self.reply(status, {"message": message})
            return True
        return False


def arguments(doc, slow_help):
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slow", type=float, default=15.0, help=slow_help)
    return parser.parse_args()


def serve(handler, port, name):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    print(f"{name} emulator on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
