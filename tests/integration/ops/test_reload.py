"""SIGHUP reload: a changed config takes effect, no request is lost while
reloading under load, an invalid config changes nothing and is logged."""
import collections
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, SluiceCase, backend_entry, closed_port, config, endpoint,  # noqa: E402
                        free_port, get, http_listener, main, route, service, wait_until)


class Reload(SluiceCase):
    def cfg(self, port, app, extra_eps=(), extra_svcs=None):
        svcs = {"app": service([backend_entry(b.name, b.port) for b in app])}
        svcs.update(extra_svcs or {})
        eps = list(extra_eps) + [endpoint("/", [route("app")])]
        return config([http_listener(port)], svcs, eps)

    def names(self, port, path, n):
        c = collections.Counter()
        for _ in range(n):
            r = get(port, path)
            c[r.header("X-Backend") if r.status == 200 else r.status] += 1
        return c

    def test_reload_applies_listener_timeouts(self):
        """a reload that shortens the header timeout applies to the next connection"""
        a = self.backend("a")
        port = free_port()
        svcs = {"app": service([backend_entry(a.name, a.port)])}
        eps = [endpoint("/", [route("app")])]
        d = self.sluice(config([http_listener(port, timeouts={"header": "30s"})], svcs, eps))
        d.reload(config([http_listener(port, timeouts={"header": "1s"})], svcs, eps))
        time.sleep(0.3)
        with Client(port, timeout=10) as c:
            t0 = time.monotonic()
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")  # and nothing more
            self.assertTrue(c.is_closed(timeout=8), "partial head not cut after the new 1 s")
            took = time.monotonic() - t0
        print("  partial head cut after %.1f s (the old limit was 30 s)" % took)

    def test_reload_applies_changes(self):
        """SIGHUP with a backend added and a new route: both take effect"""
        a, b, c = self.backend("a"), self.backend("b"), self.backend("c")
        port = free_port()
        d = self.sluice(self.cfg(port, [a]))
        self.assertEqual(self.names(port, "/x", 4), {"a": 4})
        self.assertEqual(self.names(port, "/other/x", 4), {"a": 4})
        d.reload(self.cfg(port, [a, b], [endpoint("/other", [route("other")])],
                          {"other": service([backend_entry("c", c.port)])}))
        seen = wait_until(lambda: self.names(port, "/other/x", 2) == {"c": 2}, timeout=5)
        self.assertTrue(seen, "new route /other not applied: %s" % self.names(port, "/other/x", 4))
        got = self.names(port, "/x", 20)
        print("  after reload:", dict(got))
        self.assertEqual(set(got), {"a", "b"})

    def test_no_request_lost_during_reload(self):
        """4 client threads for ~3 s while reloading 5 times: every response is 200"""
        a, b = self.backend("a"), self.backend("b")
        port = free_port()
        d = self.sluice(self.cfg(port, [a]))
        stop = threading.Event()
        results = collections.Counter()
        errors = []
        lock = threading.Lock()

        def client(idx):
            deadline = time.monotonic() + 10
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    with Client(port, timeout=5) as cl:
                        for i in range(20):  # keep-alive, then a fresh connection
                            r = cl.request("GET", "/t%d-%d" % (idx, i))
                            with lock:
                                results[r.status] += 1
                            if stop.is_set():
                                break
                except Exception as e:  # noqa: BLE001 - any failure is the finding
                    with lock:
                        errors.append(repr(e))

        ts = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
        for t in ts:
            t.start()
        for i in range(5):
            time.sleep(0.5)
            d.reload(self.cfg(port, [a, b] if i % 2 == 0 else [b]), settle=0.05)
        time.sleep(0.5)
        stop.set()
        for t in ts:
            t.join(15)
        print("  statuses:", dict(results), "errors:", errors[:5])
        self.assertTrue(d.alive())
        self.assertEqual(errors, [])
        self.assertEqual(set(results), {200})
        self.assertGreater(results[200], 20)

    def test_invalid_config_changes_nothing(self):
        """SIGHUP with an invalid config: old routing stays, the error is logged"""
        a = self.backend("a")
        port = free_port()
        d = self.sluice(self.cfg(port, [a]))
        self.assertEqual(get(port).status, 200)
        before = len(d.stderr())
        bad = ("listeners:\n  - {name: web, bind: \"127.0.0.1:%d\", mode: http}\n"
               "services:\n  app:\n    strategy: round_robin\n    bogus_key: 1\n"
               "    backends:\n      - {name: z, target: \"127.0.0.1:1\"}\n"
               "endpoints:\n  - pattern: /\n    routes:\n      - {service: nope}\n" % port)
        d.reload(bad, settle=0.2)
        logged = wait_until(lambda: len(d.stderr()) > before, timeout=3)
        print("  logged:", d.stderr()[before:].strip()[:300])
        self.assertTrue(logged, "invalid config on SIGHUP not logged")
        self.assertTrue(d.alive(), "daemon died on an invalid reload")
        self.assertEqual(self.names(port, "/", 5), {"a": 5})

    def test_down_state_survives_reload(self):
        """a backend marked down by failures stays down across a reload that keeps it"""
        live = self.backend("live")
        port = free_port()
        dead = backend_entry("dead", closed_port())

        def cfg(extra_eps=()):
            return config([http_listener(port)],
                          {"app": service([dead, backend_entry("live", live.port)], retries=0,
                                          timeouts={"connect": "1s"})},
                          list(extra_eps) + [endpoint("/", [route("app")])])

        d = self.sluice(cfg())
        seq = [get(port, "/w%d" % i).status for i in range(30)]
        self.assertEqual(seq[-10:], [200] * 10, "dead backend never skipped: %s" % seq)
        d.reload(cfg([endpoint("/extra", [route("app")])]))
        after = [get(port, "/a%d" % i).status for i in range(10)]
        print("  before:", seq, "after reload:", after)
        self.assertEqual(after, [200] * 10, "the dead backend's score was reset by the reload")


if __name__ == "__main__":
    main()
