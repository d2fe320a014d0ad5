"""Client timeouts: a slowloris head is cut off after the header timeout;
an idle keep-alive client is closed after the idle timeout."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import Client, SluiceCase, main  # noqa: E402

# Listener settings these tests need; the key names follow the config schema.
LISTENER = {"timeouts": {"header": "1s", "idle": "1s"}}


class Timeouts(SluiceCase):
    def setUp(self):
        self.b = self.backend("t")
        self.d = self.simple([self.b], listener_extra=LISTENER)

    def test_slowloris(self):
        """a head sent a byte every 0.25 s is cut off (408 or close) within a bound"""
        head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
        closed_after = None
        t0 = time.monotonic()
        with Client(self.d.port) as c:
            c.sock.settimeout(0.25)
            for i in range(len(head)):  # ~25 s at most, the proxy must cut at ~1 s
                try:
                    c.sock.sendall(head[i:i + 1])
                    d = c.sock.recv(4096)
                    if not d:
                        closed_after = time.monotonic() - t0
                        break
                    c.buf += d
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.monotonic() - t0
                    break
                if time.monotonic() - t0 > 8:
                    break
            got = c.buf
        print("  closed after %s s, got %r" % (closed_after and round(closed_after, 1), got[:60]))
        self.assertIsNotNone(closed_after, "slow head not cut off within 8 s")
        self.assertTrue(got == b"" or got.startswith(b"HTTP/1.1 408"), got[:100])
        self.assertEqual(self.b.count(), 0)

    def test_idle_keep_alive_closed(self):
        """an idle keep-alive client is closed after the idle timeout"""
        with Client(self.d.port) as c:
            self.assertEqual(c.request("GET", "/").status, 200)
            closed = c.is_closed(timeout=6)
        self.assertTrue(closed, "idle keep-alive connection still open after 6 s")

    def test_stalled_body_is_not_the_backends_fault(self):
        """a client that stops mid-body gets 408; the backend keeps its health"""
        self.d.stop()
        self.d = self.simple([self.b], svc_extra={"timeouts": {"idle": "1s", "response": "5s"}},
                             listener_extra=LISTENER)
        for i in range(5):  # five stalls: enough to eject a backend if they counted
            with Client(self.d.port) as c:
                c.sock.settimeout(5)
                c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
                       + b"x" * 10)
                r = c.read_response()
                print("  stall %d:" % i, r.status, r.body[:60])
                self.assertEqual(r.status, 408, r)
        with Client(self.d.port) as c:
            r = c.request("GET", "/after")
            self.assertEqual(r.status, 200, "backend was ejected by client stalls: %r" % r)


if __name__ == "__main__":
    main()
