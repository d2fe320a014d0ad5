"""Active health checks run by the workers (http/health.h): http status,
timeout and body verdicts, tcp checks that recover, check: none, per-service
intervals, and a reload that changes the check."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sluicetest import (SluiceCase, _Server, backend_entry, closed_port, config,  # noqa: E402
                        endpoint, free_port, http_listener, route, service, wait_until)

WAIT = 10.0  # generous: the machine is shared


def health_cfg(services, admin_port):
    """<services>: {name: (backends, health)}; one endpoint per service."""
    svcs = {n: service([backend_entry(b.name, b.port) if hasattr(b, "port") else b
                        for b in bs], health=h)
            for n, (bs, h) in services.items()}
    eps = [endpoint("%s.test/" % n, [route(n)]) for n in services]
    cfg = config([http_listener(free_port())], svcs, eps)
    cfg["admin"] = {"bind": "127.0.0.1:%d" % admin_port}
    return cfg


class Accepting(_Server):
    """Accepts and closes (what a tcp check needs); `accepted` counts."""

    def handle(self, s):
        pass


class Checks(SluiceCase):
    def start(self, services):
        admin = free_port()
        d = self.sluice(health_cfg(services, admin))
        api = d.admin()
        self.addCleanup(api.close)
        return d, api

    def row(self, api, svc, name):
        st, _, q = api.call("GET", "/v1/query?service=%s" % svc)
        self.assertEqual(st, 200, q)
        for r in q["backends"]:
            if r["name"] == name:
                return r
        self.fail("no backend %s in %s" % (name, q))

    def wait_health(self, api, svc, name, want, timeout=WAIT):
        got = []

        def ok():
            got[:] = [self.row(api, svc, name)]
            return got[0]["health"] == want
        self.assertTrue(wait_until(ok, timeout=timeout), "health is not %s: %s" % (want, got))

    def probes(self, b, path):
        with b.lock:
            return [r for r in b.requests if r[1] == path]

    def test_http_500_is_unhealthy(self):
        """a backend answering the health path with 500 is marked unhealthy"""
        bad, good = self.backend("bad"), self.backend("good")
        d, api = self.start({"app": ([bad, good], {"check": "http", "path": "/status/500",
                                                   "interval": "200ms", "timeout": "1s"})})
        self.wait_health(api, "app", "bad", "unhealthy")
        self.assertIn("backend bad: healthy -> unhealthy (http status 500 from GET /status/500",
                      d.stderr().replace("unknown -> unhealthy", "healthy -> unhealthy"))
        # The probe is a real HTTP/1.1 request with the documented headers.
        m, p, hs = self.probes(bad, "/status/500")[0]
        hm = {k.lower(): v for k, v in hs}
        self.assertEqual((m, p), ("GET", "/status/500"))
        self.assertEqual(hm["host"], "127.0.0.1:%d" % bad.port)
        self.assertEqual(hm["connection"], "close")
        self.assertEqual(hm["user-agent"], "sluice-health")

    def test_expect_range_and_host(self):
        """an expected 404 is healthy; the configured Host is sent"""
        b = self.backend("b")
        d, api = self.start({"app": ([b], {"check": "http", "path": "/status/404",
                                           "expect": "200-299,404", "host": "probe.local",
                                           "interval": "200ms"})})
        self.wait_health(api, "app", "b", "healthy")
        hm = {k.lower(): v for k, v in self.probes(b, "/status/404")[0][2]}
        self.assertEqual(hm["host"], "probe.local")

    def test_slow_answer_times_out(self):
        """200 only after a delay longer than the timeout is unhealthy"""
        b = self.backend("slow")
        d, api = self.start({"app": ([b], {"check": "http", "path": "/delay?ms=1500",
                                           "interval": "500ms", "timeout": "300ms"})})
        self.wait_health(api, "app", "slow", "unhealthy")
        self.assertIn("timed out after 300ms", d.stderr())

    def test_body_mismatch_is_unhealthy(self):
        """a body lacking the expected substring is unhealthy; one with it is healthy"""
        b1, b2 = self.backend("alpha"), self.backend("beta")
        d, api = self.start({"app": ([b1, b2], {"check": "http", "path": "/", "body": "alpha",
                                                "interval": "200ms"})})
        self.wait_health(api, "app", "beta", "unhealthy")
        self.wait_health(api, "app", "alpha", "healthy")
        self.assertIn("body lacks 'alpha'", d.stderr())

    def test_chunked_body_is_read(self):
        """the body substring is found in a chunked answer"""
        b = self.backend("c")
        # pattern(5000) is a repeating alphabet; "xyz" is in it, "XYZ" not.
        d, api = self.start({"ok": ([b], {"check": "http", "path": "/chunked?n=5000",
                                          "body": "xyz", "interval": "200ms"})})
        self.wait_health(api, "ok", "c", "healthy")

    def test_tcp_closed_port_then_listener(self):
        """tcp check: a closed port is unhealthy, healthy once a listener appears"""
        port = closed_port()
        d, api = self.start({"app": ([{"name": "t", "target": "127.0.0.1:%d" % port}],
                                     {"check": "tcp", "interval": "200ms",
                                      "timeout": "500ms"})})
        self.wait_health(api, "app", "t", "unhealthy")
        self.assertIn("backend t: ", d.stderr())
        self.assertIn("connect refused", d.stderr())
        lst = Accepting("t", port)
        self.addCleanup(lst.stop)
        self.wait_health(api, "app", "t", "healthy")
        self.assertGreater(lst.accepted, 0)

    def test_check_none_reads_unknown(self):
        """check: none sends no probe and health stays unknown"""
        b = self.backend("n")
        d, api = self.start({"app": ([b], "none")})
        time.sleep(1.0)
        self.assertEqual(self.row(api, "app", "n")["health"], "unknown")
        self.assertEqual(b.count(), 0)

    def test_intervals_per_service(self):
        """two services with different intervals: probe counts follow them"""
        fast, slow = self.backend("fast"), self.backend("slow")
        d, api = self.start({
            "f": ([fast], {"check": "http", "path": "/hz", "interval": "100ms"}),
            "s": ([slow], {"check": "http", "path": "/hz", "interval": "1s"}),
        })
        self.wait_health(api, "f", "fast", "healthy")
        f0, s0 = len(self.probes(fast, "/hz")), len(self.probes(slow, "/hz"))
        time.sleep(3.0)
        nf = len(self.probes(fast, "/hz")) - f0
        ns = len(self.probes(slow, "/hz")) - s0
        # 3 s: about 30 and 3; generous bounds for a noisy machine.
        self.assertTrue(12 <= nf <= 45, "fast service probed %d times in 3s" % nf)
        self.assertTrue(1 <= ns <= 6, "slow service probed %d times in 3s" % ns)
        self.assertGreater(nf, 3 * ns)

    def test_down_interval(self):
        """an unusable backend is probed at down_interval, a usable one at interval"""
        bad, good = self.backend("bad"), self.backend("good")
        d, api = self.start({
            "b": ([bad], {"check": "http", "path": "/status/503", "interval": "1s",
                          "down_interval": "100ms"}),
            "g": ([good], {"check": "http", "path": "/status/503", "expect": "503",
                           "interval": "1s", "down_interval": "100ms"}),
        })
        self.wait_health(api, "b", "bad", "unhealthy")
        b0, g0 = len(self.probes(bad, "/status/503")), len(self.probes(good, "/status/503"))
        time.sleep(2.0)
        nb = len(self.probes(bad, "/status/503")) - b0
        ng = len(self.probes(good, "/status/503")) - g0
        # 2 s: about 20 and 2.
        self.assertTrue(8 <= nb <= 30, "down backend probed %d times in 2s" % nb)
        self.assertTrue(1 <= ng <= 4, "up backend probed %d times in 2s" % ng)

    def test_reload_changes_the_check(self):
        """a reload that changes the path applies to the next probes"""
        b = self.backend("r")
        admin = free_port()
        cfg = health_cfg({"app": ([b], {"check": "http", "path": "/status/500",
                                        "interval": "200ms"})}, admin)
        d = self.sluice(cfg)
        api = d.admin()
        self.addCleanup(api.close)
        self.wait_health(api, "app", "r", "unhealthy")
        cfg["services"]["app"]["health"] = {"check": "http", "path": "/ok", "interval": "200ms"}
        d.reload(cfg)
        self.wait_health(api, "app", "r", "healthy")
        self.assertTrue(wait_until(lambda: len(self.probes(b, "/ok")) > 0, timeout=WAIT))
        n500 = len(self.probes(b, "/status/500"))
        time.sleep(0.8)
        self.assertEqual(len(self.probes(b, "/status/500")), n500, "old check still runs")


if __name__ == "__main__":
    unittest.main(verbosity=2)
