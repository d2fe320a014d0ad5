"""GET /metrics: real HTTP and TCP traffic through the daemon, then the
scrape: `promtool check metrics` accepts the text, and the counts match
the traffic (requests per backend, status classes, accepted connections
per listener, route requests)."""
import os
import re
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, SluiceCase, backend_entry, can_connect, config,  # noqa: E402
                        endpoint, free_port, get, http_listener, main, route, service,
                        tcp_listener, wait_until)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def delta(after, before, name, **labels):
    """What the traffic between two scrapes added (the daemon's readiness
    probes connect before the first)."""
    return value(after, name, **labels) - (value(before, name, **labels) or 0)


class Metrics(SluiceCase):
    def serve(self, cfg):
        """Starts the daemon with the admin API, or skips when this build
        has none yet (the admin branch brings admin.metrics_public and the
        server that calls the renderer)."""
        d = self.sluice(cfg, start=False)
        try:
            d.start()
        except AssertionError as e:
            if "metrics_public" in str(e):
                self.skipTest("this sluice has no admin API yet (admin.metrics_public unknown)")
            raise
        if not wait_until(lambda: can_connect(self.admin_port), timeout=3):
            self.skipTest("no admin server on admin.bind: GET /metrics needs the admin API "
                          "started by sluice serve (admin branch)")

    def scrape(self):
        r = get(self.admin_port, "/metrics", host="127.0.0.1")
        if r.status == 404:
            self.skipTest("the admin server does not serve GET /metrics yet")
        self.assertEqual(r.status, 200, r.body[:500])
        ctype = r.header("content-type", "")
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        return r.body.decode()

    def start(self):
        self.b1, self.b2 = self.backend("b1"), self.backend("b2")
        self.echo = self.tcp_echo("e1")
        self.web_port, self.tcp_port, self.admin_port = free_port(), free_port(), free_port()
        cfg = config(
            [http_listener(self.web_port, "web"), tcp_listener(self.tcp_port, "echo", "raw")],
            {"app": service([backend_entry("b1", self.b1.port), backend_entry("b2", self.b2.port)]),
             "echo": service([backend_entry("e1", self.echo.port)])},
            [endpoint("/", [route("app")])],
            admin={"bind": "127.0.0.1:%d" % self.admin_port, "metrics_public": True},
            state=os.path.join(self.tmp, "sluice.db"))
        self.serve(cfg)

    def traffic(self):
        """20 x 2xx, 4 x 404, 6 x 503 over 5 client connections; 3 TCP
        sessions."""
        statuses = [200] * 20 + [404] * 4 + [503] * 6
        for c in range(5):
            with Client(self.web_port) as cl:
                for s in statuses[c * 6:(c + 1) * 6]:
                    r = cl.request("GET", "/" if s == 200 else "/status/%d" % s)
                    self.assertEqual(r.status, s)
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=5) as s:
                s.sendall(b"ping")
                self.assertEqual(s.recv(4), b"ping")

    def test_counts_match_the_traffic_and_promtool_accepts_the_text(self):
        self.start()
        # Settled first: the readiness probes' connections have closed.
        self.assertTrue(wait_until(lambda: value(parse(self.scrape()),
                                                 "sluice_listener_active_connections",
                                                 listener="raw") == 0, timeout=5))
        before = parse(self.scrape())
        self.traffic()
        want = {"b1": self.b1.count(), "b2": self.b2.count()}
        self.assertEqual(sum(want.values()), 30)

        def settled():
            s = parse(self.scrape())
            return (value(s, "sluice_listener_active_connections", listener="web") == 0
                    and value(s, "sluice_listener_active_connections", listener="raw") == 0
                    and delta(s, before, "sluice_backend_requests_total", service="echo",
                              backend="e1") == 3)
        self.assertTrue(wait_until(settled, timeout=5), self.scrape())
        text = self.scrape()
        s = parse(text)

        for name, n in want.items():
            self.assertEqual(value(s, "sluice_backend_requests_total", service="app",
                                   backend=name), n, name)
            self.assertEqual(value(s, "sluice_backend_request_duration_seconds_count",
                                   service="app", backend=name), n, name)
            self.assertEqual(value(s, "sluice_backend_request_duration_seconds_bucket",
                                   service="app", backend=name, le="+Inf"), n, name)
            self.assertEqual(value(s, "sluice_backend_active_connections", service="app",
                                   backend=name), 0)
            self.assertEqual(value(s, "sluice_backend_healthy", service="app", backend=name), 1)
            self.assertIsNotNone(value(s, "sluice_backend_score", service="app", backend=name))
        for cls, n in (("2xx", 20), ("4xx", 4), ("5xx", 6), ("1xx", 0), ("3xx", 0)):
            got = sum(value(s, "sluice_backend_responses_total", service="app", backend=b,
                            **{"class": cls}) for b in ("b1", "b2"))
            self.assertEqual(got, n, cls)
        for b in ("b1", "b2"):
            for f in ("connect_failures", "timeouts", "retries"):
                self.assertEqual(value(s, "sluice_backend_%s_total" % f, service="app",
                                       backend=b), 0, f)
        self.assertEqual(delta(s, before, "sluice_listener_accepted_total", listener="web"), 5)
        self.assertEqual(delta(s, before, "sluice_listener_accepted_total", listener="raw"), 3)
        self.assertEqual(value(s, "sluice_route_requests_total", endpoint="/", route="route000"),
                         30)
        for w in ("0", "1"):
            self.assertGreater(value(s, "sluice_worker_loop_iterations_total", worker=w), 0)
        self.assertGreater(value(s, "process_cpu_seconds_total"), 0)
        self.assertGreater(value(s, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(s, "process_open_fds"), 5)
        self.assertEqual(len([k for k in s if k[0] == "sluice_build_info"]), 1)

        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool not found (Debian package prometheus): the text was "
                          "checked by the parser above only")
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())

    def test_failures_count_on_the_backend_that_failed(self):
        dead = free_port()  # nothing listens: connect is refused
        self.b1 = self.backend("b1")
        self.web_port, self.admin_port = free_port(), free_port()
        cfg = config(
            [http_listener(self.web_port, "web")],
            {"app": service([backend_entry("dead", dead), backend_entry("b1", self.b1.port)],
                            retries=1)},
            [endpoint("/", [route("app")])],
            admin={"bind": "127.0.0.1:%d" % self.admin_port, "metrics_public": True},
            state=os.path.join(self.tmp, "sluice.db"))
        self.serve(cfg)
        for _ in range(4):
            self.assertEqual(get(self.web_port, "/").status, 200)
        s = parse(self.scrape())
        failures = value(s, "sluice_backend_connect_failures_total", service="app",
                         backend="dead") or 0
        self.assertGreaterEqual(failures, 1)
        self.assertEqual(value(s, "sluice_backend_retries_total", service="app",
                               backend="dead"), failures)
        self.assertEqual(value(s, "sluice_backend_responses_total", service="app",
                               backend="b1", **{"class": "2xx"}), 4)


if __name__ == "__main__":
    main()
