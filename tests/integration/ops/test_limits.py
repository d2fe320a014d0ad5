"""Descriptor limits: sluice sizes its connection cap from RLIMIT_NOFILE;
at the cap a new client closes the least recently active idle one, saying
so, instead of failing requests in flight; the others keep working."""
import os
import shutil
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, SluiceCase, backend_entry, config, endpoint,  # noqa: E402
                        free_port, http_listener, main, route, service, wait_until)

NOFILE = 100  # 1 worker: 100 - 22 reserved (the store's 3 included) = a share of 78,
#               2 promised per HTTP client: 39


class Limits(SluiceCase):
    @unittest.skipIf(shutil.which("prlimit") is None, "prlimit (util-linux) is not installed")
    def test_connection_cap_follows_nofile(self):
        """with ulimit -n 100 and one worker: 39 clients held, then each new one closes the oldest idle"""
        b = self.backend("lim")
        port = free_port()
        cfg = config([http_listener(port)], {"app": service([backend_entry(b.name, b.port)])},
                     [endpoint("/", [route("app")])], workers=1)
        d = self.sluice(cfg, start=False)
        plain = d.argv
        d.argv = lambda: ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)] + plain()
        d.start()
        self.assertTrue(wait_until(lambda: "78 per worker for connections" in d.stderr(), 5),
                        d.stderr())
        held = []
        try:
            for _ in range(39):  # idle keep-alive clients: as many as the share promises
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.settimeout(5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertTrue(s.recv(12).startswith(b"HTTP/1.1 200"))
                s.recv(65536)  # the rest of the small response
                held.append(s)
            time.sleep(0.8)  # every held client is now quiet long enough to be evicted
            for i in range(3):  # each new client is served: the oldest idle one makes room
                c = Client(port, timeout=5)
                self.addCleanup(c.close)
                self.assertEqual(c.request("GET", "/new%d" % i).status, 200)
            print("  held %d idle clients, then served 3 more" % len(held))
            self.assertTrue(wait_until(lambda: "idle clients closed for new ones" in d.stderr(), 5),
                            d.stderr())
            for s in held[:3]:  # the oldest were closed
                self.assertEqual(s.recv(1), b"")
            for s in held[3:]:  # the others still work
                s.sendall(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertTrue(s.recv(12).startswith(b"HTTP/1.1 200"))
                s.recv(65536)
        finally:
            for s in held:
                s.close()


if __name__ == "__main__":
    main()
