"""TCP mode: bytes round-trip byte-exact, half-close keeps the return
direction open, a dead backend is skipped at connect."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (SluiceCase, backend_entry, closed_port, config, free_port,  # noqa: E402
                        http_listener, main, pattern, service, sha256, tcp_listener)

MIB = 1 << 20


def recv_all(s, limit, timeout=10):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < limit:
        d = s.recv(65536)
        if not d:
            break
        out += d
    return bytes(out)


def half_close(s):
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        raise AssertionError("proxy closed the connection before the client's half-close: %s"
                             % e) from None


class Tcp(SluiceCase):
    def start(self, entries):
        port = free_port()
        cfg = config([tcp_listener(port, "echo"), http_listener(free_port())],
                     {"echo": service(entries, timeouts={"connect": "1s"}, retries=2)}, [])
        self.sluice(cfg)
        return port

    def test_round_trip_1mib(self):
        """1 MiB sent while reading: echoed byte-exact"""
        e = self.tcp_echo()
        port = self.start([backend_entry("e1", e.port)])
        data = pattern(MIB, 7)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
            sender.start()
            got = recv_all(s, MIB)
            sender.join(10)
        self.assertEqual((len(got), sha256(got)), (MIB, sha256(data)))

    def test_half_close(self):
        """client shutdown(SHUT_WR): the rest of the echo still arrives, then EOF"""
        e = self.tcp_echo()
        port = self.start([backend_entry("e1", e.port)])
        data = pattern(300000, 1)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(data)
            half_close(s)
            got = recv_all(s, len(data) + 1)
        self.assertEqual(len(got), len(data))
        self.assertEqual(got, data)

    def test_dead_backend_skipped(self):
        """a dead backend first in the list: every connection is served by the live one"""
        e = self.tcp_echo()
        port = self.start([backend_entry("dead", closed_port()), backend_entry("e1", e.port)])
        ok = 0
        for i in range(10):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                msg = b"ping %d\n" % i
                s.sendall(msg)
                half_close(s)
                if recv_all(s, 100) == msg:
                    ok += 1
        print("  %d/10 connections echoed" % ok)
        self.assertEqual(ok, 10)


if __name__ == "__main__":
    main()
