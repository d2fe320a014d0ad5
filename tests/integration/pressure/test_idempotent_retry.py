"""Which requests are resent to another backend after their bytes reached
one, as nginx's `proxy_next_upstream error timeout` does.

Each case starts sluice over a faulty backend and a good one (round
robin), so the first requests alternate between them (two failures take
the faulty one out). A request the faulty backend received is, by method
and fault:
- GET, HEAD, OPTIONS (no body), the connection closed after the request,
  or no response within timeouts.response: answered by the good backend,
  and the access log names it;
- POST (a body), or a GET whose body went out: 502 (504 on the timeout),
  never seen by the good backend;
- any method, after part of a response head came back: 502, not resent.
"""
import hashlib
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, SluiceCase, _Reader, _Server, ConnectionClosed,  # noqa: E402
                        backend_entry, config, endpoint, free_port, http_listener, main,
                        route, service, wait_until)

ROUNDS = 4  # requests per case: the first one or two reach the faulty backend


class Faulty(_Server):
    """Reads each request (head, and a Content-Length body) and records its
    target; then, by <mode>: "close" closes without a byte, "reset" resets
    the connection, "partial" sends part of a response head and closes,
    "hang" never answers."""

    def __init__(self, name, mode):
        self.mode = mode
        self.targets = []
        super().__init__(name)

    def handle(self, s):
        r = _Reader(self, s)
        try:
            line = r.line()
            length = 0
            for _ in range(1000):
                h = r.line()
                if h == b"":
                    break
                k, _, v = h.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            r.exact(length)
        except ConnectionClosed:
            return
        with self.lock:
            self.targets.append(line.split(b" ")[1].decode("latin-1"))
        if self.mode == "reset":
            # SO_LINGER 0: close() sends RST, as a crashed process's kernel does.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if self.mode == "partial":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
        elif self.mode == "hang":
            self.stopped.wait(60)
        # "close", and after the others: the connection goes down.
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def got(self):
        with self.lock:
            return list(self.targets)


class IdempotentRetry(SluiceCase):
    def setup_pair(self, mode, response_timeout="5s", **svc_extra):
        bad = Faulty("bad", mode)
        self.addCleanup(bad.stop)
        good = self.backend("good")
        port = free_port()
        svc = service([backend_entry("bad", bad.port), backend_entry("good", good.port)],
                      retries=1,
                      timeouts={"connect": "1s", "response": response_timeout},
                      **svc_extra)
        d = self.sluice(config([http_listener(port)], {"app": svc},
                               [endpoint("/", [route("app")])]))
        return d, port, bad, good

    def run_case(self, port, method, tag, body=None):
        """ROUNDS requests, each on a fresh connection; {target: response}."""
        out = {}
        for i in range(ROUNDS):
            target = "/%s-%s-%d" % (tag, method.lower(), i)
            with Client(port, timeout=15) as c:
                out[target] = c.request(method, target, body=body)
        return out

    def check_resent(self, d, port, bad, good, method, tag):
        res = self.run_case(port, method, tag)
        hit = [t for t in bad.got() if t in res]
        print("  %s: faulty backend got %s; statuses %s"
              % (method, hit, sorted(set(r.status for r in res.values()))))
        self.assertTrue(hit, "no %s reached the faulty backend: the case proves nothing" % method)
        seen = [t for _, t, _ in good.requests]
        for t, r in res.items():
            self.assertEqual(r.status, 200, "%s %s: %r" % (method, t, r))
            self.assertEqual(r.header("X-Backend"), "good", "%s %s: %r" % (method, t, r))
        for t in hit:
            self.assertIn(t, seen, "%s %s was not resent to the good backend" % (method, t))
        # The access log names the backend that answered, not the one that failed.
        lines = wait_until(lambda: all(any(t + " " in l for l in d.access_lines()) for t in hit)
                           and d.access_lines(), timeout=5)
        self.assertTrue(lines, "no access-log line for %s" % hit)
        for t in hit:
            line = [l for l in lines if t + " " in l][0]
            self.assertIn("good", line, line)
            self.assertRegex(line, r"\b200\b", line)

    def check_not_resent(self, port, bad, good, method, tag, want, body=None):
        res = self.run_case(port, method, tag, body=body)
        hit = [t for t in bad.got() if t in res]
        print("  %s: faulty backend got %s; statuses %s"
              % (method, hit, sorted(set(r.status for r in res.values()))))
        self.assertTrue(hit, "no %s reached the faulty backend: the case proves nothing" % method)
        seen = [t for _, t, _ in good.requests]
        for t in hit:
            self.assertEqual(res[t].status, want, "%s %s: %r" % (method, t, res[t]))
            self.assertNotIn(t, seen, "%s %s was sent to a second backend" % (method, t))
        for t, r in res.items():
            if t not in hit:
                self.assertEqual(r.status, 200, "%s %s: %r" % (method, t, r))

    def test_safe_methods_resent_after_close(self):
        """GET, HEAD, OPTIONS: backend closes after reading the request -> 200 from the other"""
        for m in ("GET", "HEAD", "OPTIONS"):
            with self.subTest(method=m):
                d, port, bad, good = self.setup_pair("close")
                self.check_resent(d, port, bad, good, m, "close")

    def test_get_resent_after_reset(self):
        """GET: backend resets the connection after reading the request -> 200 from the other"""
        d, port, bad, good = self.setup_pair("reset")
        self.check_resent(d, port, bad, good, "GET", "reset")

    def test_post_not_resent_after_close(self):
        """POST with a body: backend closes after reading it -> 502, never resent"""
        _, port, bad, good = self.setup_pair("close")
        self.check_not_resent(port, bad, good, "POST", "close", 502, body=b"payload" * 10)

    def test_get_with_body_not_resent(self):
        """GET with a body that went out (not buffered): 502, never resent"""
        _, port, bad, good = self.setup_pair("close")
        self.check_not_resent(port, bad, good, "GET", "body", 502, body=b"q" * 100)

    def test_get_with_buffered_body_resent(self):
        """GET with a body held whole by buffer_request_body: resent whole to the other"""
        _, port, bad, good = self.setup_pair("close", buffer_request_body="4k")
        body = bytes(range(256)) * 4
        res = {}
        for i in range(ROUNDS):
            with Client(port, timeout=15) as c:
                res["/echo?n=%d" % i] = c.request("GET", "/echo?n=%d" % i, body=body)
        hit = [t for t in bad.got() if t in res]
        self.assertTrue(hit, "no GET reached the faulty backend: the case proves nothing")
        for t, r in res.items():
            self.assertEqual(r.status, 200, "%s: %r" % (t, r))
            doc = json.loads(r.body)
            self.assertEqual(doc["name"], "good", doc)
            self.assertEqual(doc["len"], len(body), doc)
            self.assertEqual(doc["sha256"], hashlib.sha256(body).hexdigest(), doc)

    def test_partial_head_not_resent(self):
        """GET after part of a response head came back: 502, never resent"""
        _, port, bad, good = self.setup_pair("partial")
        self.check_not_resent(port, bad, good, "GET", "partial", 502)

    def test_response_timeout_resends_get_only(self):
        """no response in timeouts.response: GET answered by the other, POST gets 504"""
        with self.subTest(method="GET"):
            _, port, bad, good = self.setup_pair("hang", response_timeout="1s")
            res = self.run_case(port, "GET", "stall")
            hit = [t for t in bad.got() if t in res]
            print("  GET: hanging backend got %s; statuses %s"
                  % (hit, sorted(set(r.status for r in res.values()))))
            self.assertTrue(hit, "no GET reached the hanging backend")
            for t, r in res.items():
                self.assertEqual((r.status, r.header("X-Backend")), (200, "good"), "%s: %r" % (t, r))
        with self.subTest(method="POST"):
            _, port, bad, good = self.setup_pair("hang", response_timeout="1s")
            self.check_not_resent(port, bad, good, "POST", "stall", 504, body=b"p" * 10)

    def test_no_backend_left(self):
        """a GET retried with no other backend to try: 504 after a timeout, 502 after a close"""
        for mode, want in (("hang", 504), ("close", 502)):
            with self.subTest(mode=mode):
                bad = Faulty("only-" + mode, mode)
                self.addCleanup(bad.stop)
                port = free_port()
                svc = service([backend_entry(bad.name, bad.port)], retries=1,
                              timeouts={"connect": "1s", "response": "1s"})
                self.sluice(config([http_listener(port)], {"app": svc},
                                   [endpoint("/", [route("app")])]))
                with Client(port, timeout=15) as c:
                    r = c.request("GET", "/alone")
                print("  %s: %d %r" % (mode, r.status, r.body))
                self.assertEqual(r.status, want, r)
                # The answer says which backend failed and how.
                self.assertIn(b"127.0.0.1:%d" % bad.port, r.body)
                self.assertEqual(bad.got(), ["/alone"])


if __name__ == "__main__":
    main()
