"""Passive health end to end (issue 15): what requests tell about a backend.

- A single backend that sent three malformed responses keeps serving with
  panic at its default (the next normal request gets 200); with
  `panic_threshold: 0` the request gets 503 saying no backend is usable.
- `passive: {5xx: true}`: a backend answering 500 is taken out (the 500s
  still reach the client); without it, it keeps its share.
- GET /v1/query shows per backend health, score, failures, state,
  last_check, ejected_until, ejections, effective_weight, and per service
  panic and panic_threshold; the transition is logged once.
- A drained backend gets no new request while one in flight on it ends.
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (SluiceCase, _Reader, _Server, backend_entry, config,  # noqa: E402
                        endpoint, free_port, get, http_listener, main, route, service,
                        ConnectionClosed, wait_until)


class OddBackend(_Server):
    """A raw-socket HTTP backend: GET /bad answers bytes that are no HTTP
    response and closes; `status500` answers 500 to everything; else 200
    with body NAME. Counts requests by path."""

    def __init__(self, name, status500=False):
        self.status500 = status500
        self.paths = []
        super().__init__(name)

    def count(self, path=None):
        with self.lock:
            return sum(1 for p in self.paths if path is None or p == path)

    def handle(self, s):
        r = _Reader(self, s)
        for _ in range(10000):
            try:
                line = r.line()
                while r.line() != b"":
                    pass
            except ConnectionClosed:
                return
            path = line.decode("latin-1").split(" ")[1] if line.count(b" ") == 2 else "?"
            with self.lock:
                self.paths.append(path)
            if path.startswith("/bad"):
                s.sendall(b"this is not an HTTP response\r\n\r\n")
                return
            status, body = (500, b"broken\n") if self.status500 else (200, self.name.encode())
            s.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))


def api_cfg(port, aport, backends, **svc_extra):
    svc = service([backend_entry(b.name, b.port) for b in backends], retries=0, **svc_extra)
    return config([http_listener(port)], {"app": svc}, [endpoint("/", [route("app")])],
                  admin={"bind": "127.0.0.1:%d" % aport})


class Passive(SluiceCase):
    def start(self, backends, **svc_extra):
        self.port, self.aport = free_port(), free_port()
        self.d = self.sluice(api_cfg(self.port, self.aport, backends, **svc_extra))
        self.api = self.d.admin()
        self.addCleanup(self.api.close)

    def query(self):
        st, _, body = self.api.call("GET", "/v1/query?service=app")
        self.assertEqual(st, 200, body)
        return body

    def row(self, name):
        return [b for b in self.query()["backends"] if b["name"] == name][0]

    def malformed_three_times(self, b):
        for _ in range(3):
            r = get(self.port, "/bad")
            self.assertEqual(r.status, 502, r.body)
        self.assertEqual(b.count("/bad"), 3)

    def test_sole_backend_keeps_serving_in_panic(self):
        """panic at its default: three malformed responses, then 200"""
        b = OddBackend("sole")
        self.addCleanup(b.stop)
        self.start([b])
        self.assertEqual(get(self.port, "/").status, 200)
        self.malformed_three_times(b)
        r = get(self.port, "/")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"sole")
        q = self.query()
        self.assertEqual(q["services"][0]["panic_threshold"], 50)
        self.assertTrue(q["services"][0]["panic"], q["services"])
        self.assertEqual(self.row("sole")["health"], "unhealthy")
        self.assertEqual(self.row("sole")["state"], "down")
        # Named as /metrics and the query name it, once.
        self.assertEqual(self.d.stderr().count("health: service app backend sole: "
                                               "healthy -> unhealthy (malformed response"),
                         1, self.d.stderr())
        st, _, text = self.api.call("GET", "/metrics")
        self.assertEqual(st, 200, text)
        self.assertIn('sluice_service_panic{service="app"} 1', text)
        self.assertRegex(text, r'sluice_service_panic_selections_total\{service="app"\} [1-9]')
        self.assertRegex(text, r'sluice_backend_health_transitions_total\{service="app",'
                               r'backend="sole"\} [1-9]')
        self.assertRegex(text, r'sluice_backend_ejections_total\{service="app",'
                               r'backend="sole"\} 1')

    def test_panic_off_answers_503_no_backend_usable(self):
        """panic_threshold: 0: three malformed responses, then 503 saying so"""
        b = OddBackend("sole")
        self.addCleanup(b.stop)
        self.start([b], panic_threshold=0)
        self.assertEqual(get(self.port, "/").status, 200)
        self.malformed_three_times(b)
        r = get(self.port, "/")
        self.assertEqual(r.status, 503, r.body)
        self.assertIn(b"no backend of service app is usable", r.body)
        self.assertEqual(self.query()["services"][0]["panic_threshold"], 0)
        self.assertFalse(self.query()["services"][0]["panic"])

    def test_ejected_backend_returns_after_the_backoff(self):
        """check: none, panic off: an ejected backend is tried again at the backoff's end"""
        b = OddBackend("sole")
        self.addCleanup(b.stop)
        self.start([b], panic_threshold=0, passive={"eject": "500ms", "eject_max": "1s"})
        self.assertEqual(get(self.port, "/").status, 200)
        self.malformed_three_times(b)
        self.assertEqual(get(self.port, "/").status, 503)
        self.assertTrue(wait_until(lambda: get(self.port, "/").status == 200, timeout=10),
                        self.d.stderr())
        self.assertIn("ejected for 500ms (malformed response", self.d.stderr())

    def five_hundreds(self, passive):
        good, bad = OddBackend("good"), OddBackend("bad", status500=True)
        self.addCleanup(good.stop)
        self.addCleanup(bad.stop)
        extra = {"passive": {"5xx": True}} if passive else {}
        self.start([good, bad], **extra)
        statuses = [get(self.port, "/").status for _ in range(40)]
        return good, bad, statuses

    def test_5xx_ejects_when_asked(self):
        """passive: {5xx: true}: the 500 backend is taken out; its 500s reach the client"""
        good, bad, statuses = self.five_hundreds(True)
        self.assertIn(500, statuses)  # no retry because of a 5xx
        self.assertLess(bad.count(), 10, statuses)
        self.assertGreater(good.count(), 30)
        row = self.row("bad")
        self.assertEqual(row["health"], "unhealthy", row)
        self.assertEqual(row["state"], "down", row)
        self.assertIn("(5xx response, score", self.d.stderr())

    def test_5xx_is_an_answer_by_default(self):
        """without passive 5xx the 500 backend keeps its share"""
        good, bad, statuses = self.five_hundreds(False)
        # Round robin per worker: about half, not exactly.
        self.assertGreaterEqual(bad.count(), 12, statuses)
        self.assertEqual(statuses.count(500), bad.count())
        self.assertNotEqual(self.row("bad")["health"], "unhealthy")

    def test_query_shows_health(self):
        """GET /v1/query: health fields per backend, panic per service"""
        b = OddBackend("one")
        self.addCleanup(b.stop)
        self.start([b])
        self.assertEqual(get(self.port, "/").status, 200)
        q = self.query()
        svc = q["services"][0]
        self.assertEqual(svc["name"], "app")
        self.assertIs(svc["panic"], False)
        self.assertEqual(svc["panic_threshold"], 50)
        row = self.row("one")
        for k in ("health", "score", "failures", "state", "last_check", "ejected_until",
                  "ejections", "effective_weight"):
            self.assertIn(k, row)
        self.assertEqual(row["state"], "up")
        self.assertIsNone(row["last_check"])  # check: none
        self.assertIsNone(row["ejected_until"])
        self.assertEqual(row["ejections"], 0)
        self.assertEqual(row["effective_weight"], 1)
        self.malformed_three_times(b)
        row = self.row("one")
        self.assertEqual(row["health"], "unhealthy")
        self.assertLess(row["score"], 0)
        self.assertGreaterEqual(row["failures"], 3)
        self.assertEqual(row["state"], "down")
        if row["ejected_until"] is not None:
            self.assertRegex(row["ejected_until"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertGreaterEqual(row["ejections"], 1)

    def test_usable_counts_neither_drained_nor_weight_zero(self):
        """GET /v1/query: usable leaves out drained and weight-0 backends; both read draining"""
        bs = [OddBackend(n) for n in ("a", "b", "c")]
        for b in bs:
            self.addCleanup(b.stop)
        self.start(bs)
        for name, body in (("a", {"drain": True}), ("b", {"weight": 0})):
            st, _, out = self.api.call("PATCH", "/v1/services/app/backends/" + name, body)
            self.assertEqual(st, 200, out)
        svc = self.query()["services"][0]
        self.assertEqual((svc["backends"], svc["usable"]), (3, 1), svc)
        self.assertEqual([self.row(n)["state"] for n in ("a", "b", "c")],
                         ["draining", "draining", "up"])
        self.assertEqual({get(self.port, "/").body for _ in range(6)}, {b"c"})

    def test_operator_marks_are_logged(self):
        """PATCH {health}: each mark that changes health is logged once, with its reason"""
        b = OddBackend("m")
        self.addCleanup(b.stop)
        self.start([b])
        for h in ("unhealthy", "healthy"):
            st, _, out = self.api.call("PATCH", "/v1/services/app/backends/m", {"health": h})
            self.assertEqual(st, 200, out)
        err = self.d.stderr()
        self.assertEqual(err.count("backend m: unknown -> unhealthy (marked by an operator"), 1, err)
        self.assertEqual(err.count("backend m: unhealthy -> healthy (marked by an operator"), 1, err)

    def test_drained_backend_finishes_in_flight(self):
        """drain through the API: a slow request in flight completes, no new one arrives"""
        slow, other = self.backend("slow"), self.backend("other")
        self.start([slow, other])
        # Find a request that lands on "slow" (round robin): send the slow one
        # there and keep it in flight.
        out = {}

        def slow_request():
            out["r"] = get(self.port, "/delay?ms=1500", timeout=10)

        self.assertEqual(get(self.port, "/").status, 200)
        for _ in range(4):
            if slow.count() > other.count():
                break
            get(self.port, "/")
        # The next request goes to whichever was not picked last: make sure
        # it is "slow" by looking at who answered the last one.
        t = None
        for _ in range(4):
            before = slow.count()
            t = threading.Thread(target=slow_request)
            t.start()
            if wait_until(lambda: slow.count() > before, timeout=1.0):
                break
            t.join(5)
            t = None
        self.assertIsNotNone(t, "no slow request landed on backend slow")
        st, _, body = self.api.call("PATCH", "/v1/services/app/backends/slow", {"drain": True})
        self.assertEqual(st, 200, body)
        n = slow.count()
        for _ in range(10):
            self.assertEqual(get(self.port, "/").body, b"other\n")
        self.assertEqual(slow.count(), n)  # nothing new on the drained one
        t.join(10)
        self.assertEqual(out["r"].status, 200)
        self.assertEqual(out["r"].body, b"slow\n")
        self.assertEqual(self.row("slow")["state"], "draining")

    def test_reload_changes_one_service_score(self):
        """a reload that changes one service's score changes that service alone"""
        ba, bb = self.backend("sa"), self.backend("sb")
        port, aport = free_port(), free_port()

        def cfg(b_score):
            sa = service([backend_entry("sa", ba.port)])
            sb = service([backend_entry("sb", bb.port)],
                         health={"check": "none", "score": b_score})
            return config([http_listener(port)], {"a": sa, "b": sb},
                          [endpoint("a.local", [route("a")]), endpoint("b.local", [route("b")])],
                          admin={"bind": "127.0.0.1:%d" % aport})

        d = self.sluice(cfg({"high": 3}))
        api = d.admin()
        self.addCleanup(api.close)

        def scores():
            st, _, q = api.call("GET", "/v1/query")
            self.assertEqual(st, 200, q)
            return {b["name"]: b["score"] for b in q["backends"]}

        d.reload(cfg({"high": 6}))
        for _ in range(8):
            self.assertEqual(get(port, "/", host="a.local").status, 200)
            self.assertEqual(get(port, "/", host="b.local").status, 200)
        self.assertEqual(scores(), {"sa": 3, "sb": 6})
        d.reload(cfg({"high": 2}))  # clamped into the new range; a untouched
        self.assertEqual(scores(), {"sa": 3, "sb": 2})


if __name__ == "__main__":
    main()
