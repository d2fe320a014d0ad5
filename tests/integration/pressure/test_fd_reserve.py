"""Issue 13, defect 3: the descriptor reserve held only at accept. Clients
that connect first and send their requests later each need a backend
connection then; a worker that had accepted up to its share answered some
of them 503 "proxy out of file descriptors". Now each client accepted is
promised a backend descriptor: extra clients wait in the listen backlog
(or are served), none gets a 503, and the process stays within ulimit -n."""
import os
import resource
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdlimit import needs_prlimit, start_http, start_limited  # noqa: E402
from sluicetest import (SluiceCase, backend_entry, config, free_port,  # noqa: E402
                        main, service, tcp_listener)

NOFILE = 600
CLIENTS = 400  # more than fit: 2 descriptors are promised per client
BODY = b"hello, backend"


def raise_own_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


class Reserve(SluiceCase):
    @needs_prlimit
    def test_clients_connected_first_never_get_503(self):
        """400 clients connect, then each sends a POST: no 503, fds within ulimit -n 600"""
        raise_own_nofile(4 * CLIENTS + 256)
        b = self.backend("be")
        d = start_http(self, b, NOFILE, workers=1)
        port = d.port

        peak = [0]
        stop = threading.Event()

        def sample_fds():
            fd_dir = "/proc/%d/fd" % d.proc.pid
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], len(os.listdir(fd_dir)))
                except OSError:
                    pass
                time.sleep(0.005)

        sampler = threading.Thread(target=sample_fds, daemon=True)
        sampler.start()
        socks = []
        try:
            for _ in range(CLIENTS):  # connect everyone first: the kernel completes the handshakes
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                socks.append(s)
            sel = selectors.DefaultSelector()
            req = (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                   b"Connection: close\r\n\r\n" % len(BODY)) + BODY
            for s in socks:  # then every request at once
                sel.register(s, selectors.EVENT_WRITE)
            replies = {s: b"" for s in socks}
            done = {}
            deadline = time.monotonic() + 60
            while len(done) < CLIENTS and time.monotonic() < deadline:
                for key, ev in sel.select(0.5):
                    s = key.fileobj
                    if ev & selectors.EVENT_WRITE:
                        try:
                            s.send(req)  # small: goes out in one piece
                        except OSError:
                            done[s] = None
                            sel.unregister(s)
                            continue
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    try:
                        chunk = s.recv(65536)
                    except (ConnectionResetError, BrokenPipeError):
                        chunk = b""
                    except BlockingIOError:
                        continue
                    if chunk:
                        replies[s] += chunk
                        continue
                    done[s] = replies[s]
                    sel.unregister(s)
        finally:
            stop.set()
            sampler.join(5)
            for s in socks:
                s.close()
        statuses = {}
        for s in socks:
            r = done.get(s)
            st = r[9:12].decode() if r and r.startswith(b"HTTP/1.1 ") else ("closed" if s in done
                                                                           else "waiting")
            statuses[st] = statuses.get(st, 0) + 1
        print("  %d clients: %s; peak %d descriptors (ulimit -n %d)"
              % (CLIENTS, statuses, peak[0], NOFILE))
        err = d.stderr()
        self.assertNotIn("503", statuses)
        self.assertNotIn("out of file descriptors", err)
        # Clients beyond the share waited in the backlog and were served;
        # one evicted while it had not sent its request yet would be closed.
        self.assertGreaterEqual(statuses.get("200", 0), CLIENTS * 9 // 10)
        self.assertEqual(statuses.get("waiting", 0), 0)
        self.assertLessEqual(peak[0], NOFILE)
        self.assertNotIn("20000", err)

    @needs_prlimit
    def test_tcp_sessions_beyond_the_share_wait_in_the_backlog(self):
        """ulimit -n 100, a tcp listener: sessions past the share wait, then all are carried"""
        echo = self.tcp_echo()
        port = free_port()
        cfg = config([tcp_listener(port, "echo")],
                     {"echo": service([backend_entry(echo.name, echo.port)])}, workers=1)
        d = start_limited(self, cfg, 100)
        # 100 - 22 = 78 per worker, 4 cached pipes (1/8 of it, rounded
        # down to whole pipes) leave 70: 35 sessions of 2 descriptors.
        socks = []
        try:
            for i in range(50):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"ping %d\n" % i)
                socks.append(s)
            first, rest = socks[:35], socks[35:]
            for i, s in enumerate(first):
                s.settimeout(5)
                self.assertEqual(s.recv(64), b"ping %d\n" % i)
            for s in rest:  # waiting in the backlog: neither served nor closed
                s.settimeout(0.2)
                with self.assertRaises(socket.timeout):
                    s.recv(64)
            for s in first:
                s.close()
            for i, s in enumerate(rest):  # room again: each is carried
                s.settimeout(5)
                self.assertEqual(s.recv(64), b"ping %d\n" % (35 + i))
        finally:
            for s in socks:
                s.close()
        self.assertIn("70 per worker for connections", d.stderr())
        self.assertIn("at its share of descriptors", d.stderr())


if __name__ == "__main__":
    main()
