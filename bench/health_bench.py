#!/usr/bin/python3
"""Active health checks at scale: 10,000 backends, tcp checks every 1 s.

usage: bench/health_bench.py SLUICE_BINARY [--backends 10000] [--seconds 30]
                             [--interval 1s] [--workers 2] [--services 10]

Every backend's target is a different loopback address (127.0.X.Y:PORT),
all served by ONE listening socket bound to 0.0.0.0:PORT in this process,
which accepts, closes, and counts connects per 100 ms. SLUICE_BINARY runs
under `prlimit --nofile=20000` with --services services sharing the
backends and `health: {check: tcp, interval: --interval}`; after a warm-up
of two intervals the run measures, over --seconds:

- sluice's CPU: utime + stime from /proc/PID/stat over the window, as a
  percentage of one core;
- how the probes are spread: connects per 100 ms at the backend, max
  against mean, bucketed by when each handshake completed (TCP_INFO's
  last_ack_recv at accept), so this process's own lag does not count (a
  burst of every backend at once would show as one bucket holding them
  all);
- then the same config with `check: none` (no probes; the workers still
  tick every backend's ejection backoff every 200 ms), as the idle anchor.

Bounded: each phase stops after --seconds plus its warm-up; sluice is
stopped by its PID on exit, on failure and on Ctrl-C."""
import argparse
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from sluicetest import free_port, to_yaml  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


class Acceptor:
    """One 0.0.0.0:PORT listener: accept, close, count connects per 100 ms
    of the time each handshake completed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(65535)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.buckets = {}
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        ep = select.epoll()
        ep.register(self.sock.fileno(), select.EPOLLIN)
        while not self.stop_ev.is_set():
            if not ep.poll(0.2):
                continue
            for _ in range(10000):
                try:
                    c, _ = self.sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                # When the handshake ended, not when this thread got to
                # it (it lags on a busy machine): TCP_INFO's last_ack_recv
                # is the milliseconds since the handshake's final ACK.
                try:
                    info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
                    ago = struct.unpack_from("I", info, 56)[0] / 1000.0
                except OSError:
                    ago = 0.0
                k = int((time.monotonic() - ago) * 10)
                self.buckets[k] = self.buckets.get(k, 0) + 1
                c.close()
        ep.close()

    def window(self, t0, t1):
        ks = range(int(t0 * 10), int(t1 * 10))
        return [self.buckets.get(k, 0) for k in ks]

    def close(self):
        self.stop_ev.set()
        self.t.join(2)
        self.sock.close()


def cpu_ticks(pid):
    """(utime, stime) in clock ticks: fields 14 and 15 of /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def make_config(n, nsvc, port, listen_port, interval, workers, check):
    svcs = {}
    for s in range(nsvc):
        bs = []
        for i in range(s, n, nsvc):
            bs.append({"name": "b%05d" % i,
                       "target": "127.0.%d.%d:%d" % (1 + i // 250, 1 + i % 250, port)})
        h = {"check": "none"} if check == "none" else {
            "check": "tcp", "interval": interval, "timeout": "1s"}
        svcs["s%02d" % s] = {"health": h, "backends": bs}
    return {
        "workers": workers,
        "listeners": [{"name": "web", "bind": "127.0.0.1:%d" % listen_port, "mode": "http"}],
        "services": svcs,
        "endpoints": [{"pattern": "s%02d.test/" % s, "routes": [{"service": "s%02d" % s}]}
                      for s in range(nsvc)],
    }


def wait_port(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def run_phase(a, sluice, tmp, check, interval_s, interval, seconds, workers):
    lport = free_port()
    path = os.path.join(tmp, "health-%s.yaml" % check)
    with open(path, "w") as f:
        f.write(to_yaml(make_config(a.backends, a.services, acc.port, lport, interval, workers,
                                    check)) + "\n")
    err = open(os.path.join(tmp, "sluice-%s.stderr" % check), "wb")
    p = subprocess.Popen(["prlimit", "--nofile=20000", "--", sluice, "serve", "-c", path],
                         stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    procs.append(p)
    try:
        if not wait_port(lport, p, 60):
            raise SystemExit("sluice did not start: see %s" % err.name)
        time.sleep(max(2 * interval_s, 2.0))  # warm-up: every backend's phase passed once
        t0, c0 = time.monotonic(), cpu_ticks(p.pid)
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_ticks(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        procs.remove(p)
        err.close()
    with open(err.name, errors="replace") as f:
        log = f.read()
    user = (c1[0] - c0[0]) / CLK_TCK / (t1 - t0) * 100.0
    system = (c1[1] - c0[1]) / CLK_TCK / (t1 - t0) * 100.0
    return (user + system, user, system), acc.window(t0, t1), log


procs = []
acc = None


def main():
    global acc
    ap = argparse.ArgumentParser()
    ap.add_argument("sluice")
    ap.add_argument("--backends", type=int, default=10000)
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    interval_s = float(a.interval[:-2]) / 1000 if a.interval.endswith("ms") else float(
        a.interval.rstrip("s"))
    acc = Acceptor()
    tmp = tempfile.mkdtemp(prefix="health-bench-")
    try:
        cpu, b, log = run_phase(a, a.sluice, tmp, "tcp", interval_s, a.interval, a.seconds,
                                a.workers)
        total = sum(b)
        mean = total / len(b) if b else 0
        print("checks: %d backends, tcp every %s, %d workers, %.0f s window"
              % (a.backends, a.interval, a.workers, a.seconds))
        print("  sluice CPU: %.2f%% of one core (user %.2f%%, system %.2f%%)" % cpu)
        print("  connects at the backend: %d (%.0f/s; expected %.0f/s)"
              % (total, total / a.seconds, a.backends / interval_s))
        print("  connects per 100 ms: mean %.1f, max %d, min %d (max/mean %.2f)"
              % (mean, max(b), min(b), max(b) / mean if mean else 0))
        print("  transitions logged: %d to unhealthy, %d skipped-probe warnings"
              % (log.count("-> unhealthy"), log.count("cannot probe")))
        idle, _, _ = run_phase(a, a.sluice, tmp, "none", interval_s, a.interval, a.seconds,
                               a.workers)
        print("idle anchor (same backends, check: none): sluice CPU %.2f%% of one core "
              "(user %.2f%%, system %.2f%%)" % idle)
        print("  ratio checks / idle: %.1f" % (cpu[0] / idle[0] if idle[0] > 0 else float("inf")))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        acc.close()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
