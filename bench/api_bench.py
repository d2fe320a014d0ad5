#!/usr/bin/python3
"""The admin API under load: query size and time, durable writes per second,
and what API writes cost the proxy.

usage: bench/api_bench.py SLUICE_BINARY [--backends 10000] [--clients 8]
                          [--seconds 10] [--writes 1000] [--wrk-seconds 8]

Needs the two backends of ../shared/bench on 127.0.0.1:18081-18082
(`(cd ../shared/bench && ./backend.sh --hold 600 &)`) and wrk. Starts
SLUICE_BINARY (one worker) on a fresh state store in a temporary directory,
with a proxy listener on 127.0.0.1:18000 in front of those backends and the
admin API on 127.0.0.1:19090, reads the bootstrap admin token, then:

1. proxy: `wrk -t1 -c32 -d--wrk-seconds --latency` through the proxy twice,
   once with the API idle and once while --clients threads make --writes
   weight changes in all, and reports requests/s, p99 and the process's
   CPU per request for each (CPU includes the admin thread: that is the
   cost);
2. writes: --clients threads PATCH backend weights (each an answered,
   durable write) for --seconds and report answered writes per second;
   then as many POST new backends for --seconds (each call re-checks the
   whole table, so this rate falls as the service grows);
3. query: PUT one service with --backends backends (one call), then times
   GET /v1/query five times and reports the median time and the bytes.

Every process it starts is stopped on exit; every loop is bounded."""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import admin_call, cpu_times  # noqa: E402

ADMIN = "127.0.0.1:19090"
PROXY = "127.0.0.1:18000"


def config(tmp):
    return f"""workers: 1
admin: {{bind: "{ADMIN}"}}
state: {tmp}/sluice.db
listeners:
  - {{name: web, bind: "{PROXY}", mode: http}}
services:
  bench:
    health: {{check: none}}
    backends:
      - {{name: b1, target: 127.0.0.1:18081}}
      - {{name: b2, target: 127.0.0.1:18082}}
endpoints:
  - pattern: /
    routes:
      - {{service: bench}}
"""


class Api:
    def __init__(self, token):
        self.token = token

    def call(self, method, path, body=None, timeout=60):
        return admin_call("http://" + ADMIN, self.token, method, path, body, timeout)


def cpu_seconds(pid):
    return sum(cpu_times(pid))


def wrk(seconds):
    out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency",
                          "http://" + PROXY + "/"], capture_output=True, text=True,
                         timeout=seconds + 30).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


def writers(api, n_clients, stop, budget=None, adds=False):
    """n_clients threads PATCHing weights (or, with <adds>, POSTing new
    backends) until <stop> is set or <budget> writes were answered;
    returns the threads and the [ok, failed] counts."""
    counts = [0, 0]
    lock = threading.Lock()

    def run(i):
        w = 1
        while not stop.is_set():
            with lock:
                if budget is not None and counts[0] + counts[1] >= budget:
                    return
            w = w % 9 + 1
            if adds:
                st, _ = api.call("POST", "/v1/services/bench/backends",
                                 {"name": f"a{i}-{w}-{time.monotonic_ns()}",
                                  "target": f"127.0.{i + 1}.{w}:{10000 + counts[0] % 50000}"})
            else:
                st, _ = api.call("PATCH", f"/v1/services/bench/backends/b{i % 2 + 1}",
                                 {"weight": w})
            with lock:
                counts[0 if 200 <= st < 300 else 1] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    return threads, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--backends", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--wrk-seconds", type=int, default=8)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sluice-api-bench-")
    cfg = os.path.join(tmp, "sluice.yaml")
    with open(cfg, "w") as f:
        f.write(config(tmp))
    log = open(os.path.join(tmp, "sluice.log"), "w")
    proc = subprocess.Popen([a.binary, "serve", "-c", cfg, "--access-log", "off"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        token_file = os.path.join(tmp, "admin.token")
        for _ in range(100):
            if os.path.exists(token_file) and os.path.getsize(token_file) > 0:
                break
            if proc.poll() is not None:
                sys.exit(f"sluice exited; its log: {log.name}")
            time.sleep(0.1)
        with open(token_file) as f:
            api = Api(f.read().strip())
        for _ in range(100):
            try:
                if api.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)

        # 1. The proxy first, on the small table: idle API, then busy API.
        total, p99, bad = 0, 0.0, 0
        rows = []
        for busy in (False, True):
            stop = threading.Event()
            threads, counts = ([], [0, 0])
            if busy:
                threads, counts = writers(api, a.clients, stop, budget=a.writes)
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            total, p99, bad = wrk(a.wrk_seconds)
            c1, t1 = cpu_seconds(proc.pid), time.monotonic()
            stop.set()
            for t in threads:
                t.join(60)
            rows.append((busy, total / (t1 - t0), p99, (c1 - c0) / total * 1e6, bad, counts))
        for busy, rps, p99, cpu, bad, counts in rows:
            what = (f"during {counts[0]} API writes ({counts[1]} refused)" if busy
                    else "API idle")
            print(f"proxy, {what}: {rps:.0f} req/s, p99 {p99:.2f} ms, "
                  f"{cpu:.2f} us CPU per request, non-2xx {bad}")

        # 2. Durable writes per second.
        stop = threading.Event()
        threads, counts = writers(api, a.clients, stop)
        time.sleep(a.seconds)
        stop.set()
        for t in threads:
            t.join(60)
        print(f"writes: {counts[0] / a.seconds:.0f} answered durable writes/s from "
              f"{a.clients} clients ({counts[1]} refused)")
        stop = threading.Event()
        threads, counts = writers(api, a.clients, stop, adds=True)
        time.sleep(a.seconds)
        stop.set()
        for t in threads:
            t.join(60)
        print(f"backend adds: {counts[0] / a.seconds:.0f} answered durable adds/s from "
              f"{a.clients} clients ({counts[1]} refused), the service growing to "
              f"{counts[0] + 2} backends")

        # 3. A big table, then the query.
        backends = [{"name": f"n{i}", "target": f"127.0.0.{2 + i // 50000}:{10000 + i % 50000}"}
                    for i in range(a.backends)]
        t0 = time.monotonic()
        st, body = api.call("PUT", "/v1/services/big",
                            {"health": {"check": "none"}, "backends": backends}, timeout=300)
        if not 200 <= st < 300:
            sys.exit(f"PUT /v1/services/big: {st} {body[:200]!r}")
        print(f"PUT of a service with {a.backends} backends: {time.monotonic() - t0:.2f} s")
        times, size = [], 0
        for _ in range(5):
            t0 = time.monotonic()
            st, body = api.call("GET", "/v1/query", timeout=300)
            times.append(time.monotonic() - t0)
            size = len(body)
        print(f"GET /v1/query with {a.backends + 2} backends: median "
              f"{statistics.median(times) * 1000:.0f} ms, {size} bytes")
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
