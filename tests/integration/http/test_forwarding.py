"""Forwarding: proxy headers added, hop-by-hop headers removed, keep-alive,
pipelining, bodiless responses, byte-exact bodies both ways (chunked and
Content-Length), 100-continue and a WebSocket tunnel."""
import base64
import hashlib
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (WS_GUID, Client, SluiceCase, main, pattern, sha256,  # noqa: E402
                        ws_frame, ws_read_frame)

MIB = 1 << 20


class Forwarding(SluiceCase):
    def setUp(self):
        self.b = self.backend("fwd")
        self.d = self.simple([self.b])
        self.port = self.d.port

    def headers_seen(self, headers, host="test.local"):
        with Client(self.port) as c:
            r = c.request("GET", "/headers", headers=headers, host=host)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        return doc, {k.lower(): v for k, v in doc["headers"]}, doc["headers"]

    def test_proxy_headers_added(self):
        """X-Forwarded-For/-Proto/-Host and Via are added; Host is kept"""
        doc, h, _ = self.headers_seen([("X-Keep", "yes")], host="shop.test:8443")
        print("  backend saw:", doc["headers"])
        self.assertIn("127.0.0.1", h.get("x-forwarded-for", ""))
        self.assertEqual(h.get("x-forwarded-proto"), "http")
        self.assertEqual(h.get("x-forwarded-host"), "shop.test:8443")
        self.assertIn("1.1", h.get("via", ""))
        self.assertEqual(h.get("host"), "shop.test:8443")
        self.assertEqual(h.get("x-keep"), "yes")
        self.assertEqual(doc["path"], "/headers")

    def test_forwarded_for_appended(self):
        """an incoming X-Forwarded-For is kept and the client address appended"""
        _, h, _ = self.headers_seen([("X-Forwarded-For", "203.0.113.7")])
        xff = [p.strip() for p in h.get("x-forwarded-for", "").split(",")]
        self.assertEqual(xff, ["203.0.113.7", "127.0.0.1"], h.get("x-forwarded-for"))

    def test_hop_by_hop_removed(self):
        """Keep-Alive, TE, Trailer and headers named in Connection do not reach the backend"""
        _, h, raw = self.headers_seen([("Connection", "keep-alive, X-Hop"), ("X-Hop", "secret"),
                                       ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
                                       ("Trailer", "X-Sum"), ("X-End", "kept")])
        names = [k.lower() for k, _ in raw]
        for hop in ("x-hop", "keep-alive", "te", "trailer"):
            self.assertNotIn(hop, names, raw)
        conn = h.get("connection", "").lower()
        self.assertNotIn("x-hop", conn)
        self.assertEqual(h.get("x-end"), "kept")

    def test_keep_alive_reuse(self):
        """10 requests on one client connection all succeed"""
        with Client(self.port) as c:
            for i in range(10):
                r = c.request("GET", "/n%d" % i)
                self.assertEqual((r.status, r.body), (200, b"fwd\n"), r)
            self.assertFalse(c.is_closed(timeout=0.3), "proxy closed a keep-alive connection")
        self.assertEqual(self.b.count(), 10)

    def test_pipelining(self):
        """3 requests in one write: 3 responses, in order"""
        with Client(self.port) as c:
            from sluicetest import build_request
            c.send(build_request("GET", "/delay?ms=300") + build_request("GET", "/size/5")
                   + build_request("GET", "/status/202"))
            r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        self.assertEqual((r1.status, r1.body), (200, b"fwd\n"))
        self.assertEqual((r2.status, r2.body), (200, pattern(5)))
        self.assertEqual(r3.status, 202)

    def test_bodiless_responses(self):
        """HEAD, 204 and 304 carry no body (the next response on the connection parses)"""
        with Client(self.port) as c:
            r = c.request("HEAD", "/size/1000")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Length"), "1000")
            self.assertEqual(c.request("GET", "/status/204").status, 204)
            self.assertEqual(c.request("GET", "/status/304").status, 304)
            r = c.request("GET", "/size/7")
            self.assertEqual((r.status, r.body), (200, pattern(7)), "stray body bytes before")
            self.assertEqual(c.buf, b"", "bytes after the last response")

    def test_chunked_upload(self):
        """1 MiB chunked request body arrives byte-exact"""
        body = pattern(MIB, 11)
        with Client(self.port) as c:
            r = c.request("POST", "/echo", body=body, chunked=True)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["len"], doc["sha256"]), (MIB, sha256(body)))

    def test_chunked_download(self):
        """1 MiB chunked response arrives byte-exact"""
        with Client(self.port) as c:
            r = c.request("GET", "/chunked?n=%d" % MIB)
            self.assertEqual(r.status, 200)
            self.assertEqual(sha256(r.body), sha256(pattern(MIB)))
            r = c.request("GET", "/chunked?n=0")  # empty chunked body, same connection
            self.assertEqual((r.status, r.body), (200, b""))

    def test_chunked_download_to_http10(self):
        """an HTTP/1.0 client gets a chunked response unframed, byte-exact, ended by close"""
        for n in (0, 1, 5000, MIB):
            with Client(self.port) as c:
                r = c.request("GET", "/chunked?n=%d" % n, version="1.0")
                self.assertEqual(r.status, 200, r)
                self.assertNotIn("chunked", (r.header("Transfer-Encoding") or "").lower())
                self.assertEqual(sha256(r.body), sha256(pattern(n)), "n=%d" % n)
                self.assertTrue(c.is_closed(), "n=%d: connection left open" % n)

    def test_content_length_both_ways(self):
        """1 MiB Content-Length bodies up and down, byte-exact, on one connection"""
        body = pattern(MIB, 5)
        with Client(self.port) as c:
            r = c.request("POST", "/echo", body=body)
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json()["len"], r.json()["sha256"]), (MIB, sha256(body)))
            r = c.request("GET", "/size/%d" % MIB)
            self.assertEqual(r.status, 200)
            self.assertEqual(sha256(r.body), sha256(pattern(MIB)))

    def test_expect_100_continue(self):
        """Expect: 100-continue: 100 comes before the body is sent, then the final 200"""
        body = pattern(100000, 3)
        with Client(self.port, timeout=5) as c:
            c.send(("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                    "Content-Length: %d\r\n\r\n" % len(body)).encode())
            r = c.read_response()
            self.assertEqual(r.status, 100, "expected an interim 100 before sending the body")
            c.send(body)
            r = c.read_response("POST")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sha256"], sha256(body))

    def test_websocket_echo(self):
        """Upgrade: websocket is tunnelled: handshake, echo of text frames, close"""
        key = base64.b64encode(os.urandom(16)).decode()
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        with Client(self.port, timeout=5) as c:
            c.send_request("GET", "/ws", headers=[("Upgrade", "websocket"),
                                                 ("Connection", "Upgrade"),
                                                 ("Sec-WebSocket-Key", key),
                                                 ("Sec-WebSocket-Version", "13")])
            r = c.read_response()
            self.assertEqual(r.status, 101, r)
            self.assertEqual(r.header("Sec-WebSocket-Accept"), want)
            self.assertEqual((r.header("Upgrade") or "").lower(), "websocket")
            for msg in (b"hello", "h\u00e9llo".encode(), pattern(70000).hex()[:70000].encode()):
                c.send(ws_frame(0x1, msg))
                op, payload = ws_read_frame(c.read_exact)
                self.assertEqual((op, payload), (0x1, msg))
            c.send(ws_frame(0x8, b"\x03\xe8"))
            op, _ = ws_read_frame(c.read_exact)
            self.assertEqual(op, 0x8)
            c.sock.shutdown(socket.SHUT_WR)
            self.assertTrue(c.is_closed(timeout=5), "tunnel not closed after the close frame")

    def test_websocket_half_close_keeps_the_backends_side(self):
        """a client that shuts its side right after a frame still gets the echo"""
        key = base64.b64encode(os.urandom(16)).decode()
        with Client(self.port, timeout=5) as c:
            c.send_request("GET", "/ws", headers=[("Upgrade", "websocket"),
                                                 ("Connection", "Upgrade"),
                                                 ("Sec-WebSocket-Key", key),
                                                 ("Sec-WebSocket-Version", "13")])
            self.assertEqual(c.read_response().status, 101)
            c.send(ws_frame(0x1, b"last words"))
            c.sock.shutdown(socket.SHUT_WR)
            op, payload = ws_read_frame(c.read_exact)
            self.assertEqual((op, payload), (0x1, b"last words"))
            self.assertTrue(c.is_closed(timeout=5), "tunnel not closed after both sides ended")


if __name__ == "__main__":
    main()
