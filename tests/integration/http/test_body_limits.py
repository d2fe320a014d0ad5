"""Request bodies: the listener's timeouts.body and max_body_size, and the
service's buffer_request_body (a body read whole before a backend is
chosen, forwarded intact; a chunked one that outgrows it streams)."""
import hashlib
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, ConnectionClosed, SluiceCase, _Reader, _Server,  # noqa: E402
                        backend_entry, build_request, closed_port, config, endpoint,
                        free_port, http_listener, main, pattern, route, service, sha256,
                        wait_until)


def answer_of(c, timeout=5):
    """The response to what <c> sent, or None when the proxy closed
    without one within <timeout>."""
    c.sock.settimeout(timeout)
    try:
        return c.read_response()
    except (ConnectionClosed, ConnectionResetError, socket.timeout):
        return None


class BodyTimeout(SluiceCase):
    def test_stalled_body_gets_408_after_body_timeout(self):
        """a client that stops mid-body gets 408 after timeouts.body (service idle stays 60s)"""
        b = self.backend("bt")
        d = self.simple([b], listener_extra={"timeouts": {"body": "1s"}})
        for buffered in (False, True):
            if buffered:
                d.stop()
                d = self.simple([b], listener_extra={"timeouts": {"body": "1s"}},
                                svc_extra={"buffer_request_body": "64k"})
            with Client(d.port) as c:
                t0 = time.monotonic()
                c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
                r = answer_of(c, timeout=8)
                took = time.monotonic() - t0
            print("  buffered=%s: %s after %.1f s" % (buffered, r and r.status, took))
            self.assertIsNotNone(r, "no answer to a stalled body")
            self.assertEqual(r.status, 408, r)
            self.assertIn(b"request body not received in time", r.body)
            self.assertLess(took, 6)
        with Client(d.port) as c:  # the backend was not blamed
            self.assertEqual(c.request("GET", "/").status, 200)


class MaxBodySize(SluiceCase):
    def setUp(self):
        self.b = self.backend("mb")

    def test_content_length_over_limit_413_at_once(self):
        """Content-Length over max_body_size: 413 before any backend connection"""
        d = self.simple([self.b], listener_extra={"max_body_size": "1k"})
        with Client(d.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
            r = answer_of(c)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 413, r)
        self.assertIn(b"over max_body_size 1024", r.body)
        self.assertEqual(r.header("Connection"), "close")
        self.assertEqual(self.b.accepted, 0, "a backend connection for a refused body")
        with Client(d.port) as c:  # at the limit: fine
            r = c.request("POST", "/echo", body=pattern(1024))
        self.assertEqual(r.status, 200, r)
        self.assertIn(sha256(pattern(1024)).encode(), r.body)

    def test_chunked_body_growing_over_limit_413(self):
        """a chunked body that grows past max_body_size while streaming: 413, closed"""
        d = self.simple([self.b], listener_extra={"max_body_size": "4k"})
        with Client(d.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(10):  # 10 x 1 KiB chunks, sent apart so some stream first
                try:
                    c.send(b"400\r\n" + b"y" * 1024 + b"\r\n")
                except OSError:
                    break
                time.sleep(0.05)
            r = answer_of(c)
            self.assertIsNotNone(r)
            self.assertEqual(r.status, 413, r)
            self.assertTrue(c.is_closed(3))
        with Client(d.port) as c:  # within the limit, chunked: fine
            r = c.request("POST", "/echo", body=pattern(3000), chunked=True)
        self.assertEqual(r.status, 200, r)

    def test_chunked_body_over_limit_while_buffered(self):
        """buffered: a chunked body over max_body_size gets 413 with no backend connection"""
        d = self.simple([self.b], listener_extra={"max_body_size": "4k"},
                        svc_extra={"buffer_request_body": "64k"})
        with Client(d.port) as c:
            c.send(build_request("POST", "/echo", body=pattern(8000), chunked=True))
            r = answer_of(c)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(self.b.accepted, 0)


class BufferRequestBody(SluiceCase):
    def setUp(self):
        self.b = self.backend("bb")
        self.d = self.simple([self.b], svc_extra={"buffer_request_body": "256k"})

    def echo(self, body, chunked=False):
        with Client(self.d.port) as c:
            r = c.request("POST", "/echo", body=body, chunked=chunked)
        self.assertEqual(r.status, 200, r)
        self.assertIn(sha256(body).encode(), r.body)

    def test_bodies_forwarded_intact(self):
        """small, larger than a pooled buffer, chunked, and chunked past the limit (streamed)"""
        for n in (1, 5000, 200000):
            self.echo(pattern(n))
            self.echo(pattern(n, 7), chunked=True)
        self.echo(pattern(1 << 20))                # over the limit by Content-Length: streamed
        self.echo(pattern(600000, 3), chunked=True)  # outgrows the buffer: streamed

    def test_small_limit_streams_what_outgrows_it(self):
        """buffer_request_body: 1k: a 5000-byte chunked body streams though it would fit a buffer"""
        self.d.stop()
        self.d = self.simple([self.b], svc_extra={"buffer_request_body": "1k"})
        with Client(self.d.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"1388\r\n" + pattern(5000) + b"\r\n")
            # Past the limit the backend gets the request before its end.
            self.assertTrue(wait_until(lambda: self.b.count() == 1, 3), "not streamed")
            c.send(b"0\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertIn(sha256(pattern(5000)).encode(), r.body)
        self.echo(pattern(900), chunked=True)  # within it: buffered

    def test_buffered_body_then_pipelined_request(self):
        """a buffered body followed at once by the next request on the same connection"""
        body = pattern(100000)
        with Client(self.d.port) as c:
            c.send(build_request("POST", "/echo", body=body) + build_request("GET", "/after"))
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual(r1.status, 200)
        self.assertIn(sha256(body).encode(), r1.body)
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.body, b"bb\n")

    def test_backend_sees_no_connection_until_the_body_is_whole(self):
        """the backend is connected only once the last body byte arrived"""
        with Client(self.d.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
            time.sleep(0.5)
            self.assertEqual(self.b.accepted, 0)
            c.send(b"67890")
            r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertIn(sha256(b"1234567890").encode(), r.body)

    def test_expect_continue_answered_by_the_proxy(self):
        """Expect: 100-continue: sluice says 100 itself, since it reads the body first"""
        with Client(self.d.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   b"Content-Length: 5\r\n\r\n")
            c.sock.settimeout(3)
            first = c.read_response()
            self.assertEqual(first.status, 100)
            c.send(b"hello")
            for _ in range(3):  # the backend's own 100 may follow
                r = c.read_response()
                if r.status >= 200:
                    break
        self.assertEqual(r.status, 200)
        self.assertIn(sha256(b"hello").encode(), r.body)


class BufferedRetry(SluiceCase):
    def test_buffered_body_sent_whole_to_the_next_backend(self):
        """a buffered body (larger than a pooled buffer) goes whole to the backend tried next"""
        live = self.backend("live")
        port = free_port()
        svc = service([backend_entry("dead", closed_port()), backend_entry(live.name, live.port)],
                      retries=1, buffer_request_body="1m")
        self.sluice(config([http_listener(port)], {"app": svc}, [endpoint("/", [route("app")])],
                           workers=1))
        for i in range(4):  # round robin: every other request tries the dead one first
            body = pattern(150000, i)
            with Client(port) as c:
                r = c.request("POST", "/echo", body=body, chunked=i % 2 == 1)
            self.assertEqual(r.status, 200, r)
            self.assertIn(sha256(body).encode(), r.body)


class SlowReader(_Server):
    """Reads a request head, waits PAUSE s, then reads the body at about
    10 MB/s and answers its digest: a backend that takes a body more slowly
    than it comes, for long enough that sluice's rate checks see both."""
    PAUSE = 6

    def handle(self, s):
        # A small window, or the kernel (tcp_rmem up to 32 MB here) would
        # take the whole body for us and sluice would never have to wait.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        r = _Reader(self, s)
        r.line()
        cl = 0
        for _ in range(100):
            h = r.line()
            if not h:
                break
            k, _, v = h.decode("latin-1").partition(":")
            if k.lower() == "content-length":
                cl = int(v)
        time.sleep(self.PAUSE)
        digest = hashlib.sha256()
        for _ in range(1 << 20):
            if cl == 0:
                break
            d = r.exact(min(cl, 65536))
            digest.update(d)
            cl -= len(d)
            time.sleep(0.006)
        body = digest.hexdigest().encode()
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


class FastBodiesPass(SluiceCase):
    def test_backend_slower_than_the_client_is_not_the_clients_fault(self):
        """min_body_rate: while sluice waits for a slow backend, the client is not judged on it"""
        b = SlowReader("slow")
        self.addCleanup(b.stop)
        d = self.simple([b], listener_extra={"min_body_rate": "8m"},
                        svc_extra={"timeouts": {"idle": "20s", "response": "20s"}})
        body = pattern(24 << 20)
        with Client(d.port, timeout=30) as c:
            r = c.request("POST", "/up", body=body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, sha256(body).encode())

    def test_fast_upload_is_not_cut_by_min_body_rate(self):
        """a 4 MB upload at full speed, through the rate check, reaches the backend intact"""
        b = self.backend("fast")
        d = self.simple([b], listener_extra={"min_body_rate": "64k", "max_body_size": "8m"})
        body = pattern(4 << 20)
        with Client(d.port) as c:
            r = c.request("POST", "/echo", body=body)
        self.assertEqual(r.status, 200, r)
        self.assertIn(sha256(body).encode(), r.body)


if __name__ == "__main__":
    main()
