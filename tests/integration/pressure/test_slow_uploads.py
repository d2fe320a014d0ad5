"""Issue 13, defect 6, scaled to seconds: slow uploads must not shut other
clients out.

At scale, ~9,800 uploads sending 10 bytes every 3 s each held a backend
connection (and descriptors) for as long as they trickled, and new clients
were shut out. Here the backend is a prefork-style server with 4 workers
(as a small app server is): every upload streamed to it holds one worker,
so 12 slow uploaders shut an unrelated client out for as long as they
trickle. sluice runs with one worker under a small `ulimit -n`.

- Without defences (a control that holds before and after the change): the
  unrelated client waits behind the uploads.
- `buffer_request_body` + `min_body_rate`: the backend sees no connection
  from the slow uploaders, the unrelated client is served within 1 s
  throughout, and the slow ones get 408 once their average rate is known
  to be too low (5 s grace, checked every second).
- `min_body_rate` alone: the uploads stream (and hold the backend) until
  the window, then get 408 and the backend is free again.
"""
import os
import select
import shutil
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, HttpBackend, SluiceCase, backend_entry, config,  # noqa: E402
                        endpoint, free_port, http_listener, main, route, service, sha256,
                        wait_until)

NOFILE = 1024
WORKERS = 4         # the backend's concurrency
UPLOADERS = 12      # more than the backend has workers
BODY = 2000         # each upload's Content-Length
TRICKLE = b"abc"    # sent every STEP s: 6 B/s, far below the floor
STEP = 0.5
MIN_RATE = 100      # B/s


class PreforkBackend(HttpBackend):
    """At most WORKERS connections served at once; the others wait, as the
    accept queue of a prefork server does."""

    def __init__(self, name):
        self.slots = threading.BoundedSemaphore(WORKERS)
        super().__init__(name)

    def handle(self, s):
        if not self.slots.acquire(timeout=60):
            return
        try:
            super().handle(s)
        finally:
            self.slots.release()

    def posts(self):
        with self.lock:
            return sum(1 for m, _, _ in self.requests if m == "POST")


class Uploaders:
    """UPLOADERS connections, each sending a POST head, then TRICKLE every
    STEP s, until the proxy answers or closes or <limit> s pass. One thread
    drives them all; results[i] is (seconds, first bytes of the answer)."""

    def __init__(self, port, limit):
        self.socks = []
        for _ in range(UPLOADERS):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % BODY)
            s.setblocking(False)
            self.socks.append(s)
        self.results = [None] * UPLOADERS
        self.limit = limit
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        got = [b""] * UPLOADERS
        next_send = time.monotonic()
        while time.monotonic() - self.t0 < self.limit:
            live = [s for i, s in enumerate(self.socks) if self.results[i] is None]
            if not live:
                return
            if time.monotonic() >= next_send:
                for i, s in enumerate(self.socks):
                    if self.results[i] is None:
                        try:
                            s.send(TRICKLE)
                        except OSError:
                            pass  # closed: the read below says so
                next_send += STEP
            r, _, _ = select.select(live, [], [], 0.1)
            for s in r:
                i = self.socks.index(s)
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                got[i] += d
                if not d or b"\r\n\r\n" in got[i]:
                    self.results[i] = (round(time.monotonic() - self.t0, 1), got[i][:200])

    def wait(self):
        self.thread.join(self.limit + 5)
        for s in self.socks:
            s.close()
        return self.results


def summary(results):
    """{(seconds, status line): count} of the uploaders' answers."""
    out = {}
    for r in results:
        k = r and (r[0], r[1].split(b"\r\n", 1)[0].decode("latin-1"))
        out[k] = out.get(k, 0) + 1
    return out


def timed_get(port, path="/"):
    """(status, seconds) of one GET on a fresh connection; status 0 when
    nothing came within 1.5 s."""
    t0 = time.monotonic()
    try:
        with Client(port, timeout=1.5) as c:
            st = c.request("GET", path).status
    except (OSError, AssertionError, Exception):  # timeout, reset, refused
        st = 0
    return st, time.monotonic() - t0


@unittest.skipIf(shutil.which("prlimit") is None, "prlimit (util-linux) is not installed")
class SlowUploads(SluiceCase):
    def start(self, listener_extra=None, svc_extra=None):
        self.b = PreforkBackend("pf")
        self.addCleanup(self.b.stop)
        self.port = free_port()
        svc = service([backend_entry(self.b.name, self.b.port)], **(svc_extra or {}))
        cfg = config([http_listener(self.port, **(listener_extra or {}))], {"app": svc},
                     [endpoint("/", [route("app")])], workers=1)
        d = self.sluice(cfg, start=False)
        plain = d.argv
        d.argv = lambda: ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)] + plain()
        d.start()
        return d

    def probe(self, seconds):
        """GETs from an unrelated client, every 0.25 s for <seconds>."""
        out = []
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            out.append(timed_get(self.port))
            time.sleep(0.25)
        return out

    def test_without_defences_slow_uploads_shut_others_out(self):
        """control: with every default, 12 trickling uploads take the backend's 4 workers"""
        self.start()
        up = Uploaders(self.port, limit=4)
        time.sleep(0.5)
        probes = self.probe(2)
        up.wait()
        print("  unrelated client:", [(st, round(t, 2)) for st, t in probes])
        self.assertTrue(any(st != 200 or t > 1.0 for st, t in probes),
                        "the scenario no longer reproduces the shut-out: %r" % probes)

    def test_buffered_slow_uploads_hold_no_backend(self):
        """buffer_request_body + min_body_rate: others served within 1 s; slow ones 408 after the window"""
        d = self.start(listener_extra={"min_body_rate": MIN_RATE, "timeouts": {"body": "5s"}},
                       svc_extra={"buffer_request_body": "64k"})
        up = Uploaders(self.port, limit=12)
        time.sleep(0.5)
        probes = self.probe(8)
        results = up.wait()
        print("  unrelated client:", [(st, round(t, 2)) for st, t in probes])
        print("  slow uploaders:", summary(results))
        for st, t in probes:
            self.assertEqual(st, 200, probes)
            self.assertLess(t, 1.0, probes)
        for r in results:
            self.assertIsNotNone(r, "a slow uploader was not answered within 12 s: %r" % results)
            self.assertTrue(r[1].startswith(b"HTTP/1.1 408"), results)
            self.assertIn(b"request body too slow", r[1])
            self.assertIn(b"< min_body_rate %d" % MIN_RATE, r[1])
        self.assertEqual(self.b.posts(), 0, "the backend saw a slow upload")
        # The logs say why: the error log once (rate-limited), the access log per request.
        self.assertIn("request body too slow", d.stderr())
        self.assertTrue(wait_until(
            lambda: sum(" 408 " in l for l in d.access_lines()) >= UPLOADERS, 3), d.access_lines())
        # A body that does arrive is buffered, then forwarded intact.
        body = bytes(range(256)) * 100
        with Client(self.port) as c:
            r = c.request("POST", "/echo", body=body)
        self.assertEqual(r.status, 200, r)
        self.assertIn(sha256(body).encode(), r.body)

    def test_min_body_rate_frees_the_backend(self):
        """min_body_rate alone: the uploads stream until the window, then 408; the backend is free again"""
        self.start(listener_extra={"min_body_rate": MIN_RATE})
        up = Uploaders(self.port, limit=12)
        results = up.wait()
        print("  slow uploaders:", summary(results))
        for r in results:
            self.assertIsNotNone(r, "a slow uploader was not answered within 12 s: %r" % results)
            # Streaming ones 408; those queued behind the backend's workers too.
            self.assertTrue(r[1].startswith(b"HTTP/1.1 408"), results)
            self.assertLess(r[0], 10, results)
        self.assertGreater(self.b.posts(), 0)  # they did reach the backend
        probes = self.probe(1.5)
        print("  unrelated client after:", [(st, round(t, 2)) for st, t in probes])
        for st, t in probes:
            self.assertEqual(st, 200, probes)
            self.assertLess(t, 1.0, probes)


if __name__ == "__main__":
    main()
