#!/usr/bin/python3
"""A small demo backend for sluice (Python 3 standard library only).

    demo_backend.py --port 9001 --name v1-a [--bind 127.0.0.1]

GET /healthz  -> 200 "ok"
GET /...      -> a friendly page naming this backend, the path and the
                 request headers (JSON when the client asks for it with
                 `Accept: application/json` or `?format=json`)
Every response carries `X-Backend: NAME`. One thread per connection,
HTTP/1.1 keep-alive. Stops cleanly on SIGINT/SIGTERM.
"""
import argparse
import html
import http.server
import json
import signal
import socketserver
import sys
import threading


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_handler(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sluice-demo"

        def log_message(self, fmt, *args):
            sys.stderr.write("[%s] %s %s\n" % (name, self.address_string(), fmt % args))

        def reply(self, status, ctype, body):
            self.send_response(status)
            self.send_header("X-Backend", name)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def drain_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n > 0:
                self.rfile.read(min(n, 1 << 20))

        def do_GET(self):
            self.drain_body()
            path = self.path
            if path.split("?", 1)[0] == "/healthz":
                self.reply(200, "text/plain", b"ok\n")
                return
            doc = {"backend": name, "method": self.command, "path": path,
                   "client": self.client_address[0],
                   "headers": dict(self.headers.items())}
            if "application/json" in self.headers.get("Accept", "") or "format=json" in path:
                self.reply(200, "application/json", (json.dumps(doc, indent=2) + "\n").encode())
                return
            if "text/html" in self.headers.get("Accept", ""):
                rows = "".join("<tr><td>%s</td><td>%s</td></tr>"
                               % (html.escape(k), html.escape(v)) for k, v in self.headers.items())
                page = ("<!doctype html><title>%s</title><h1>Hello from %s</h1>"
                        "<p>You asked for <code>%s</code>.</p><table>%s</table>\n"
                        % (html.escape(name), html.escape(name), html.escape(path), rows))
                self.reply(200, "text/html; charset=utf-8", page.encode())
                return
            lines = ["Hello from %s" % name, "path: %s" % path, "headers:"]
            lines += ["  %s: %s" % kv for kv in self.headers.items()]
            self.reply(200, "text/plain; charset=utf-8", ("\n".join(lines) + "\n").encode())

        do_HEAD = do_GET
        do_POST = do_GET
        do_PUT = do_GET
        do_DELETE = do_GET

    return Handler


def main():
    ap = argparse.ArgumentParser(description="sluice demo backend")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    a = ap.parse_args()
    try:
        srv = Server((a.bind, a.port), make_handler(a.name))
    except OSError as e:
        sys.stderr.write("demo_backend %s: cannot listen on %s:%d: %s\n"
                         % (a.name, a.bind, a.port, e.strerror))
        return 1

    def stop(_sig, _frm):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write("demo backend %s listening on %s:%d\n" % (a.name, a.bind, a.port))
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
