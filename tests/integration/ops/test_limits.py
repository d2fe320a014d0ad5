"""Descriptor limits: sluice sizes its connection cap from RLIMIT_NOFILE and
refuses what would not fit, saying so, instead of failing requests already
in flight; the connections it holds keep working."""
import os
import shutil
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, SluiceCase, backend_entry, config, endpoint,  # noqa: E402
                        free_port, http_listener, main, route, service, wait_until)

NOFILE = 300  # 1 worker: (300 - 64 - 192) / 2 = 22 client connections


class Limits(SluiceCase):
    @unittest.skipIf(shutil.which("prlimit") is None, "prlimit (util-linux) is not installed")
    def test_connection_cap_follows_nofile(self):
        """with ulimit -n 300 and one worker: 22 connections, the rest refused and logged"""
        b = self.backend("lim")
        port = free_port()
        cfg = config([http_listener(port)], {"app": service([backend_entry(b.name, b.port)])},
                     [endpoint("/", [route("app")])], workers=1)
        d = self.sluice(cfg, start=False)
        plain = d.argv
        d.argv = lambda: ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)] + plain()
        d.start()
        self.assertTrue(wait_until(lambda: "at most 22 client connections" in d.stderr(), 5),
                        d.stderr())
        held = []
        try:
            for _ in range(21):  # the readiness probe may still count: stay one below
                c = Client(port, timeout=5)
                self.assertEqual(c.request("GET", "/").status, 200)
                held.append(c)
            extra = []
            refused = 0
            for _ in range(10):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                extra.append(s)
            for s in extra:
                s.settimeout(3)
                try:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                    if s.recv(100) == b"":
                        refused += 1
                except (ConnectionResetError, BrokenPipeError, socket.timeout):
                    refused += 1
                s.close()
            print("  refused %d of 10 beyond the cap" % refused)
            self.assertGreaterEqual(refused, 9)
            for c in held:  # the connections we hold still work
                self.assertEqual(c.request("GET", "/again").status, 200)
            self.assertTrue(wait_until(lambda: "raise ulimit -n" in d.stderr(), 5), d.stderr())
        finally:
            for c in held:
                c.close()


if __name__ == "__main__":
    main()
