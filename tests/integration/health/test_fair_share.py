"""The probe slots are shared between services (http/health_sched.c): a
service whose backends accept connections and never answer holds every
probe until its timeout, and must not delay the checks of another service
(black-box finding 7: a service probed every 200 ms got one probe every
~15 s, and its backend answering 500 stayed healthy)."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sluicetest import (SluiceCase, _Server, config, endpoint, free_port,  # noqa: E402
                        http_listener, route, service, wait_until)

BIG = 300          # black-holed backends: 150 per worker, against 32 slots each
BIG_TIMEOUT = "5s"  # each of their probes holds a slot this long
BOUND = 10.0       # generous (shared machine); FIFO slots took over a minute


class BlackHole:
    """<n> listeners that never accept: connects succeed (the kernel's
    handshake), nothing is ever answered. Bounded: each backlog holds at
    most 16; past it SYNs are dropped, which black-holes the same way."""

    def __init__(self, n):
        self.socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.socks.append(s)
            s.bind(("127.0.0.1", 0))
            s.listen(16)
        self.ports = [s.getsockname()[1] for s in self.socks]

    def stop(self):
        for s in self.socks:
            s.close()


class Flip(_Server):
    """Answers every request with `status` (200 until told otherwise) and
    closes; `probes` counts them."""

    status = 200
    probes = 0

    def handle(self, s):
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            d = self.recv(s)
            if not d:
                return
            buf += d
        with self.lock:
            self.probes += 1
            st = self.status
        s.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % st)


class FairShare(SluiceCase):
    def test_black_holed_service_does_not_starve_another(self):
        """a service at 200ms turning to 500 is marked unhealthy within a
        few seconds while another service's probes all hang"""
        hole = BlackHole(BIG)
        self.addCleanup(hole.stop)
        web = Flip("web")
        self.addCleanup(web.stop)
        big = [{"name": "bh%d" % i, "target": "127.0.0.1:%d" % p} for i, p in enumerate(hole.ports)]
        admin = free_port()
        cfg = config([http_listener(free_port())], {
            "big": service(big, health={"check": "http", "path": "/", "interval": "1s",
                                        "timeout": BIG_TIMEOUT}),
            "web": service([{"name": "w1", "target": "127.0.0.1:%d" % web.port}],
                           health={"check": "http", "path": "/health", "interval": "200ms",
                                   "timeout": "200ms"}),
        }, [endpoint("big.test/", [route("big")]), endpoint("web.test/", [route("web")])])
        cfg["admin"] = {"bind": "127.0.0.1:%d" % admin}
        d = self.sluice(cfg, access_log=False)
        api = d.admin()
        self.addCleanup(api.close)

        def web_row():
            st, _, q = api.call("GET", "/v1/query?service=web")
            self.assertEqual(st, 200, q)
            return q["backends"][0]

        # big's first round is due within its 1s interval; after it, every
        # slot holds a black-holed probe for 5 s, again and again.
        self.assertTrue(wait_until(lambda: web_row()["health"] == "healthy", timeout=BOUND),
                        web_row())
        time.sleep(2.0)
        with web.lock:
            before = web.probes
        time.sleep(2.0)
        with web.lock:
            during = web.probes - before

        with web.lock:
            web.status = 500
        t0 = time.monotonic()
        ok = wait_until(lambda: web_row()["health"] == "unhealthy", timeout=BOUND, step=0.1)
        took = time.monotonic() - t0
        sys.stderr.write("web: %d probes in 2 s beside the black hole; unhealthy %.2f s after "
                         "turning to 500\n" % (during, took))
        # 10 due in 2 s (slots in one FIFO gave none), and 4 failures from
        # score 3 to below 0: well under a second at 200ms.
        self.assertGreaterEqual(during, 4, "web probed %d times in 2 s beside the black hole"
                                % during)
        self.assertTrue(ok, "web still %s %.1f s after its backend turned to 500"
                        % (web_row(), took))
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main()
