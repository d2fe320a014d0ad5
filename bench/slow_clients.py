#!/usr/bin/python3
"""Slow clients against a 1-worker sluice: slowloris heads, slow uploads.

usage: bench/slow_clients.py SLUICE_BINARY [--loris 10000] [--uploaders 5000]
                             [--seconds 60] [--interval 3] [--plain]

Starts a keep-alive HTTP backend (its own process, standard library), then
SLUICE_BINARY with one worker in front of it, then three kinds of clients:

- slowloris: each sends a request line and then one header line every
  --interval seconds, never ending its head;
- slow uploaders: each sends a POST head announcing 60 kB and then 10 bytes
  every --interval seconds;
- probes: an unrelated client that opens a new connection and GETs / four
  times a second, timing each answer.

An attacker whose connection the proxy closes reconnects at once, as a real
one would, so the pressure stays at --loris + --uploaders connections for
the whole run. Every --interval the run prints the proxy's RSS, its
descriptors and the attackers' open connections; at the end, the peak RSS
(VmHWM), the probes' latencies and how many took longer than 1 s.

By default sluice runs with the slow-client defences of docs/http.md
(`timeouts: {header: 10s, body: 10s}`, `min_body_rate: 100`,
`buffer_request_body: 64k`); --plain runs it without them, to see what they
buy. Bounded: the run stops after --seconds, and every process and socket
it opened is closed on exit, on failure and on Ctrl-C."""
import argparse
import errno
import heapq
import http.server
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CONNECTS_IN_FLIGHT = 512  # attacker connects not yet established


class Backend(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            got = self.rfile.read(min(n, 65536))
            if not got:
                return
            n -= len(got)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(port, backend_port, plain):
    listener = f"{{name: web, bind: 127.0.0.1:{port}, mode: http"
    service = ""
    if not plain:
        listener += ", timeouts: {header: 10s, body: 10s}, min_body_rate: 100"
        service = "    buffer_request_body: 64k\n"
    return (f"workers: 1\nlisteners:\n  - {listener}}}\n"
            f"services:\n  app:\n    health: {{check: none}}\n{service}"
            f"    backends:\n      - {{name: b1, target: 127.0.0.1:{backend_port}}}\n"
            f"endpoints:\n  - pattern: /\n    routes:\n      - {{service: app}}\n")


def wait_listening(port, proc, seconds=10):
    """True once something accepts on <port>; False if <proc> died first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])  # kB
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


class Attackers:
    """Both kinds of slow client on one selector, reconnecting when cut."""

    def __init__(self, port, loris, uploaders, interval):
        self.addr = ("127.0.0.1", port)
        self.want = {"loris": loris, "upload": uploaders}
        self.open = {"loris": 0, "upload": 0}
        self.cut = {"loris": 0, "upload": 0}
        self.interval = interval
        self.sel = selectors.DefaultSelector()
        self.conns = {}  # sock -> [kind, established, next_send]
        self.connecting = {"loris": 0, "upload": 0}
        self.due = []  # heap of (next_send, seq, sock)
        self.seq = 0

    def _start(self, kind):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(self.addr)
        if err not in (0, errno.EINPROGRESS):
            s.close()
            return False
        self.conns[s] = [kind, False, 0.0]
        self.sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
        self.connecting[kind] += 1
        return True

    def _drop(self, s):
        kind, established, _ = self.conns.pop(s)
        self.sel.unregister(s)
        s.close()
        if established:
            self.open[kind] -= 1
            self.cut[kind] += 1
        else:
            self.connecting[kind] -= 1

    def _established(self, s, now):
        st = self.conns[s]
        st[1] = True
        self.connecting[st[0]] -= 1
        self.open[st[0]] += 1
        self.sel.modify(s, selectors.EVENT_READ)
        if st[0] == "loris":
            head = b"GET / HTTP/1.1\r\nHost: bench\r\n"
        else:
            head = (b"POST /upload HTTP/1.1\r\nHost: bench\r\n"
                    b"Content-Length: 60000\r\n\r\n")
        self._send(s, head)
        # Spread the trickle over the interval so it is steady, not bursty.
        st[2] = now + self.interval * (self.seq % 997) / 997.0
        self.seq += 1
        heapq.heappush(self.due, (st[2], self.seq, s))

    def _send(self, s, data):
        try:
            s.send(data)
        except OSError:
            self._drop(s)

    def step(self, now):
        for kind in ("loris", "upload"):
            while (self.open[kind] + self.connecting[kind] < self.want[kind]
                   and sum(self.connecting.values()) < CONNECTS_IN_FLIGHT):
                if not self._start(kind):
                    break
        for key, ev in self.sel.select(timeout=0.05):
            s = key.fileobj
            if s not in self.conns:
                continue
            if not self.conns[s][1]:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    self._drop(s)
                else:
                    self._established(s, now)
                continue
            if ev & selectors.EVENT_READ:
                # Closed, or answered (408, 413): either way, start again.
                self._drop(s)
        while self.due and self.due[0][0] <= now:
            _, _, s = heapq.heappop(self.due)
            st = self.conns.get(s)
            if st is None:
                continue  # dropped since it was scheduled
            st[2] = now + self.interval
            self.seq += 1
            heapq.heappush(self.due, (st[2], self.seq, s))
            self._send(s, b"X-Slow: 1\r\n" if st[0] == "loris" else b"0123456789")

    def close(self):
        for s in list(self.conns):
            self._drop(s)
        self.sel.close()


def probe(port, results, stop):
    while not stop.is_set():
        t0 = time.monotonic()
        ok, why = False, ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                ok = data.startswith(b"HTTP/1.1 200")
                why = data[:80].decode("latin-1").split("\r\n")[0] or "closed unanswered"
        except OSError as e:
            why = str(e)
        results.append((time.monotonic() - t0, ok, why))
        stop.wait(0.25)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?")
    ap.add_argument("--serve-backend", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--loris", type=int, default=10000)
    ap.add_argument("--uploaders", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--interval", type=float, default=3)
    ap.add_argument("--plain", action="store_true", help="no slow-client defences")
    args = ap.parse_args()
    if args.serve_backend:
        # Its own process: its descriptors and GIL are not the attackers'.
        Backend(("127.0.0.1", args.serve_backend), Handler).serve_forever()
        return 0
    if not args.binary:
        ap.error("SLUICE_BINARY is required")

    backend_port = free_port()
    backend = subprocess.Popen([sys.executable, __file__, "--serve-backend", str(backend_port)])
    if not wait_listening(backend_port, backend):
        backend.kill()
        sys.exit("the test backend did not start")
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="sluice-slow-")
    cfg = os.path.join(tmp, "slow.yaml")
    with open(cfg, "w") as f:
        f.write(config(port, backend_port, args.plain))
    log = open(os.path.join(tmp, "sluice.log"), "w")
    proc = subprocess.Popen([args.binary, "serve", "-c", cfg, "--access-log", "off"],
                            stdout=log, stderr=subprocess.STDOUT)
    attackers = None
    stop = threading.Event()
    results = []
    peak = {"fds": 0, "open": 0}
    try:
        if not wait_listening(port, proc):
            sys.exit(f"sluice did not start; its log: {log.name}")
        attackers = Attackers(port, args.loris, args.uploaders, args.interval)
        prober = threading.Thread(target=probe, args=(port, results, stop), daemon=True)
        prober.start()
        t0 = time.monotonic()
        next_report = t0
        while time.monotonic() - t0 < args.seconds:
            now = time.monotonic()
            attackers.step(now)
            if now >= next_report:
                st = proc_status(proc.pid)
                both = attackers.open["loris"] + attackers.open["upload"]
                peak["fds"] = max(peak["fds"], st.get("fds", 0))
                peak["open"] = max(peak["open"], both)
                late = sum(1 for d, ok, _ in results if d > 1.0 or not ok)
                print(f"{now - t0:5.1f}s  rss {st.get('VmRSS', 0) / 1024:6.1f} MiB  "
                      f"fds {st.get('fds', 0):5d}  loris {attackers.open['loris']:5d} "
                      f"(cut {attackers.cut['loris']})  uploaders {attackers.open['upload']:5d} "
                      f"(cut {attackers.cut['upload']})  probes {len(results)} "
                      f"late/failed {late}", flush=True)
                next_report = now + args.interval
        stop.set()
        prober.join(10)
        st = proc_status(proc.pid)
        lat = sorted(d for d, _, _ in results)
        bad = [(d, why) for d, ok, why in results if d > 1.0 or not ok]
        print(f"\npeak RSS (VmHWM) {st.get('VmHWM', 0) / 1024:.1f} MiB; peak descriptors "
              f"{peak['fds']}; peak attacker connections open {peak['open']}")
        if lat:
            print(f"probes {len(lat)}: median {lat[len(lat) // 2] * 1000:.1f} ms, "
                  f"max {lat[-1] * 1000:.1f} ms, slower than 1 s or failed: {len(bad)}")
        for d, why in bad[:5]:
            print(f"  {d * 1000:.1f} ms: {why}")
        return 1 if bad or not lat else 0
    finally:
        stop.set()
        if attackers is not None:
            attackers.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        backend.terminate()
        backend.wait()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
