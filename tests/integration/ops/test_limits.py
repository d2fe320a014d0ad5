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

NOFILE = 300  # 1 worker: a budget of 300 - 64 - 192 = 44 descriptors, refusing at 44 - 16


class Limits(SluiceCase):
    @unittest.skipIf(shutil.which("prlimit") is None, "prlimit (util-linux) is not installed")
    def test_connection_cap_follows_nofile(self):
        """with ulimit -n 300 and one worker: connections up to the budget, the rest refused and logged"""
        b = self.backend("lim")
        port = free_port()
        cfg = config([http_listener(port)], {"app": service([backend_entry(b.name, b.port)])},
                     [endpoint("/", [route("app")])], workers=1)
        d = self.sluice(cfg, start=False)
        plain = d.argv
        d.argv = lambda: ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)] + plain()
        d.start()
        self.assertTrue(wait_until(lambda: "44 descriptors for connections" in d.stderr(), 5),
                        d.stderr())
        held = []
        try:
            with Client(port, timeout=5) as c:  # one pooled backend connection from here on
                self.assertEqual(c.request("GET", "/").status, 200)
            refused = 0
            for _ in range(40):  # idle clients: far more than fit
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.settimeout(2)
                try:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                    head = s.recv(12)
                except (ConnectionResetError, BrokenPipeError, socket.timeout):
                    head = b""
                if head.startswith(b"HTTP/1.1 200"):
                    s.recv(65536)  # the rest of the small response
                    held.append(s)
                else:
                    refused += 1
                    s.close()
            print("  served and held %d connections, refused %d" % (len(held), refused))
            self.assertGreater(len(held), 20)
            self.assertLessEqual(len(held), 44 - 16)
            self.assertEqual(refused, 40 - len(held))
            for s in held:  # the connections we hold still work
                s.sendall(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertTrue(s.recv(12).startswith(b"HTTP/1.1 200"))
            self.assertTrue(wait_until(lambda: "raise ulimit -n" in d.stderr(), 5), d.stderr())
        finally:
            for s in held:
                s.close()


if __name__ == "__main__":
    main()
