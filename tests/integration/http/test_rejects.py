"""Malformed and ambiguous requests: each gets the stated status and the
connection closed, and the backend receives nothing (request smuggling
defences); afterwards the daemon still serves normally."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import Client, ConnectionClosed, SluiceCase, get, main  # noqa: E402

H = "Host: t\r\n"

CASES = [
    # name, raw request, expected status
    ("CL and TE together",
     "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n", 400),
    ("two different Content-Length",
     "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("Content-Length list of different values",
     "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5, 6\r\n\r\nhello!", 400),
    ("Content-Length 1x", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 1x\r\n\r\nx", 400),
    ("Content-Length -1", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: -1\r\n\r\nx", 400),
    ("Content-Length +5", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: +5\r\n\r\nhello", 400),
    # chunked not final: the length cannot be known, RFC 9112 6.3 says 400
    ("Transfer-Encoding gzip",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip\r\n\r\nxx", 400),
    # chunked final but a coding we do not implement: RFC 9110 says 501
    ("Transfer-Encoding gzip, chunked",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("Transfer-Encoding chunked, gzip",
     "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding on HTTP/1.0",
     "POST /echo HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bare CR in a header", "GET / HTTP/1.1\r\n" + H + "X-A: a\rb\r\n\r\n", 400),
    ("whitespace before colon", "GET / HTTP/1.1\r\n" + H + "X-A : b\r\n\r\n", 400),
    ("obs-fold", "GET / HTTP/1.1\r\n" + H + "X-A: a\r\n b\r\n\r\n", 400),
    ("control char in a value", "GET / HTTP/1.1\r\n" + H + "X-A: a\x01b\r\n\r\n", 400),
    ("missing Host on HTTP/1.1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    ("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("oversized request line",
     "GET /" + "a" * 20000 + " HTTP/1.1\r\n" + H + "\r\n", 414),
    ("oversized headers",
     "GET / HTTP/1.1\r\n" + H + "".join("X-Big-%d: %s\r\n" % (i, "v" * 1000)
                                         for i in range(40)) + "\r\n", 431),
    ("HTTP/2.0 version", "GET / HTTP/2.0\r\n" + H + "\r\n", 505),
]


def exchange(port, raw):
    """Sends <raw>; returns (status or None, closed?, note)."""
    with Client(port, timeout=5) as c:
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy may answer and close before reading everything
        try:
            r = c.read_response()
            status = r.status
        except ConnectionClosed:
            return None, True, "closed without a response"
        except ConnectionResetError:
            return None, True, "reset without a response"
        except socket.timeout:
            return None, False, "no response within 5 s"
        return status, c.is_closed(timeout=3), ""


class Rejects(SluiceCase):
    def setUp(self):
        self.b = self.backend("victim")
        self.d = self.simple([self.b])

    def test_rejects(self):
        """each malformed request: stated status, connection closed, backend untouched"""
        failures = []
        for name, raw, want in CASES:
            before = (self.b.count(), self.b.bytes_in)
            status, closed, note = exchange(self.d.port, raw.encode("latin-1"))
            after = (self.b.count(), self.b.bytes_in)
            ok = status == want and closed and before == after and self.d.alive()
            print("  %-40s -> %-4s closed=%-5s backend bytes +%d %s %s"
                  % (name, status, closed, after[1] - before[1], note, "ok" if ok else "FAIL"))
            if not ok:
                failures.append("%s: want %d+close+backend untouched, got status=%s closed=%s "
                                "backend +%d bytes %s" % (name, want, status, closed,
                                                          after[1] - before[1], note))
        self.assertEqual(failures, [])
        self.assertEqual(get(self.d.port, "/").status, 200, "daemon no longer serves")

    def test_invalid_chunk_size(self):
        """a bad chunk size in a body closes the connection; the daemon survives"""
        with Client(self.d.port, timeout=5) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\nzz\r\nxx\r\n0\r\n\r\n")
            closed = c.is_closed(timeout=5)
            got = c.buf
        print("  got %r before the close" % got[:80])
        self.assertTrue(closed, "connection left open after a bad chunk size")
        self.assertNotIn(b"HTTP/1.1 200", got)
        self.assertTrue(self.d.alive())
        self.assertEqual(get(self.d.port, "/").status, 200, "daemon no longer serves")


if __name__ == "__main__":
    main()
