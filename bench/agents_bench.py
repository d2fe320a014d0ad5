#!/usr/bin/python3
"""1,000 agents against one sluice: registrations, heartbeats at 1 s, what
they cost sluice, and whether the proxy notices.

usage: bench/agents_bench.py SLUICE_BINARY [--agents 1000] [--conns 32]
                             [--seconds 30] [--lease 3s] [--wrk-seconds 10]

Starts, on loopback only, a fixed-response backend (../shared/bench/backend.c,
built here with gcc) and SLUICE_BINARY (one worker, RLIMIT_NOFILE 20000) on a
fresh state store: one HTTP listener, the service `web` (that backend,
endpoint `/`) and the service `fleet` (no static backend reachable by wrk,
`health: {check: none}`, endpoint `fleet.local`) which the agents join. It
creates an agent token through the admin API, then:

1. anchor: sluice's CPU over 5 s with no agents, then
   `wrk -t1 -c8 -d--wrk-seconds` through the listener with no agents;
2. registrations: --agents POST /v1/agents (each its own name and target
   127.0.X.Y:PORT; the checks are off, so the targets need not answer) over
   --conns keep-alive HTTP/1.1 connections driven by one selector loop;
3. heartbeats: every agent POSTs /v1/agents/{id}/heartbeat {load, healthy}
   once a second, spread evenly over the second, for --seconds, on the same
   connections. Reports latency p50/p99/max (send to full response),
   heartbeats/s, the schedule's lag, the longest gap between two answered
   heartbeats of one agent, and sluice's CPU (utime + stime from
   /proc/PID/stat) over a window of heartbeats alone; the same wrk runs in
   the last part of the window (the ratio against step 1 is the anchor);
4. GET /v1/query right after the last heartbeats: no agent `disconnected`;
5. the wrk anchor again, heartbeats stopped (the two anchors' spread is
   the machine's noise).

Every process it starts is stopped by PID on exit; every loop is bounded."""
import argparse
import collections
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import admin_call, cpu_times  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND_C = os.path.join(HERE, "..", "..", "shared", "bench", "backend.c")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(tmp, admin, proxy, backend_port, lease):
    return f"""workers: 1
admin: {{bind: "127.0.0.1:{admin}"}}
state: {tmp}/sluice.db
agents: {{lease: {lease}, expire: 5m}}
listeners:
  - {{name: web, bind: "127.0.0.1:{proxy}", mode: http}}
services:
  web:
    health: {{check: none}}
    backends:
      - {{name: static1, target: 127.0.0.1:{backend_port}}}
  fleet:
    health: {{check: none}}
    backends:
      - {{name: seed, target: 127.0.0.1:{backend_port}}}
endpoints:
  - pattern: /
    routes:
      - {{service: web}}
  - pattern: fleet.local
    routes:
      - {{service: fleet}}
"""


def api_call(admin, token, method, path, body=None, timeout=60):
    return admin_call(f"http://127.0.0.1:{admin}", token, method, path, body, timeout)


cpu_seconds = cpu_times


def start_wrk(proxy, seconds):
    return subprocess.Popen(["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency",
                             f"http://127.0.0.1:{proxy}/"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(p, seconds):
    out = p.communicate(timeout=seconds + 30)[0]
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m is None:
        sys.exit("wrk: no result:\n" + out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(m.group(1)), "p99_ms": float(p99.group(1)) * scale,
            "non2xx": int(bad.group(1)) if bad else 0, "errors": errs.group(1) if errs else ""}


class Conn:
    """One keep-alive HTTP/1.1 connection to the admin API, one request in
    flight at a time (no pipelining)."""

    def __init__(self, sel, admin):
        self.sock = socket.create_connection(("127.0.0.1", admin), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.sel = sel
        self.out = b""
        self.buf = b""
        self.job = None  # (agent index, kind, sent at)
        sel.register(self.sock, selectors.EVENT_READ, self)

    def send(self, raw, job):
        self.job = job
        self.buf = b""
        try:
            n = self.sock.send(raw)
        except BlockingIOError:
            n = 0
        self.out = raw[n:]
        if self.out:
            self.sel.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def on_write(self):
        n = self.sock.send(self.out)
        self.out = self.out[n:]
        if not self.out:
            self.sel.modify(self.sock, selectors.EVENT_READ, self)

    def on_read(self):
        """Returns (status, body) once a whole response is in, else None."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"admin API closed a keep-alive connection (in flight: "
                                  f"{self.job})")
        self.buf += chunk
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buf[:head_end].decode("latin-1")
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        clen = int(m.group(1)) if m else 0
        if len(self.buf) < head_end + 4 + clen:
            return None
        if re.search(r"(?im)^connection:\s*close", head):
            raise ConnectionError("admin API answered Connection: close")
        status = int(head.split(" ", 2)[1])
        body = self.buf[head_end + 4:head_end + 4 + clen]
        self.buf = self.buf[head_end + 4 + clen:]
        return status, body


def request(method, path, token, body):
    data = json.dumps(body).encode()
    return (f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode() + data


def drive(admin, conns_n, jobs_at, on_done, deadline, hook=None):
    """Runs the selector loop: jobs_at() yields (due, agent, kind, raw) in due
    order; each goes out on an idle connection at or after its time;
    on_done(job, status, body, now) gets every answer. hook(now) runs once
    a loop turn. Ends when the jobs are done or at <deadline>."""
    sel = selectors.DefaultSelector()
    conns = [Conn(sel, admin) for _ in range(conns_n)]
    # FIFO, so that every connection is used: one left idle from its
    # accept on would be closed by the admin API's header timeout (10 s).
    idle = collections.deque(conns)
    pending = collections.deque()  # due and not yet sent
    src = iter(jobs_at)
    nxt = next(src, None)
    inflight = 0
    try:
        while (nxt is not None or pending or inflight) and time.monotonic() < deadline:
            now = time.monotonic()
            while nxt is not None and nxt[0] <= now:
                pending.append(nxt)
                nxt = next(src, None)
            while pending and idle:
                due, agent, kind, raw = pending.popleft()
                c = idle.popleft()
                c.send(raw, (agent, kind, time.monotonic(), due))
                inflight += 1
            if hook is not None:
                hook(now)
            wait = 0.05
            if nxt is not None and not pending:
                wait = max(0.0, min(wait, nxt[0] - time.monotonic()))
            elif pending:
                wait = 0.05  # no idle connection: wait for an answer
            for key, ev in sel.select(wait):
                c = key.data
                if ev & selectors.EVENT_WRITE:
                    c.on_write()
                if ev & selectors.EVENT_READ:
                    r = c.on_read()
                    if r is not None:
                        on_done(c.job, r[0], r[1], time.monotonic())
                        c.job = None
                        inflight -= 1
                        idle.append(c)
        return len(pending) + inflight + (nxt is not None)
    finally:
        for c in conns:
            sel.unregister(c.sock)
            c.sock.close()
        sel.close()


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * p / 100))]


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--lease", default="3s")
    ap.add_argument("--wrk-seconds", type=int, default=10)
    a = ap.parse_args()
    if a.seconds < a.wrk_seconds + 8:
        sys.exit("--seconds must leave room for wrk and a CPU window (>= wrk-seconds + 8)")

    tmp = tempfile.mkdtemp(prefix="sluice-agents-bench-")
    backend = sluice = wrk = None
    log = open(os.path.join(tmp, "sluice.log"), "w")
    try:
        bin_path = os.path.join(tmp, "backend")
        subprocess.run(["gcc", "-O2", "-o", bin_path, BACKEND_C], check=True, timeout=120)
        backend_port, admin, proxy = free_port(), free_port(), free_port()
        backend = subprocess.Popen([bin_path, "-T", "600", "-q", str(backend_port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cfg = os.path.join(tmp, "sluice.yaml")
        with open(cfg, "w") as f:
            f.write(config(tmp, admin, proxy, backend_port, a.lease))
        sluice = subprocess.Popen(["prlimit", "--nofile=20000", "--", a.binary, "serve",
                                   "-c", cfg, "--access-log", "off"],
                                  stdout=log, stderr=subprocess.STDOUT)
        token_file = os.path.join(tmp, "admin.token")
        for _ in range(100):
            if os.path.exists(token_file) and os.path.getsize(token_file) > 0:
                break
            if sluice.poll() is not None:
                sys.exit(f"sluice exited; its log: {log.name}")
            time.sleep(0.1)
        with open(token_file) as f:
            admin_token = f.read().strip()
        for _ in range(100):
            try:
                if api_call(admin, admin_token, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        st, body = api_call(admin, admin_token, "POST", "/v1/tokens",
                            {"scope": "agent", "name": "bench"})
        if st != 201:
            sys.exit(f"POST /v1/tokens: {st} {body[:200]!r}")
        token = json.loads(body)["token"]
        print(f"sluice pid {sluice.pid}, admin 127.0.0.1:{admin}, proxy 127.0.0.1:{proxy}, "
              f"agents {a.agents}, conns {a.conns}, lease {a.lease}")

        # 1. The anchor: idle CPU, then wrk with no agents.
        u0, s0 = cpu_seconds(sluice.pid)
        t0 = time.monotonic()
        time.sleep(5)
        u1, s1 = cpu_seconds(sluice.pid)
        idle_cpu = (u1 - u0 + s1 - s0) / (time.monotonic() - t0) * 100
        c0 = sum(cpu_seconds(sluice.pid))
        wrk = start_wrk(proxy, a.wrk_seconds)
        anchor = wrk_result(wrk, a.wrk_seconds)
        anchor["us_req"] = (sum(cpu_seconds(sluice.pid)) - c0) / (anchor["rps"] * a.wrk_seconds) * 1e6
        wrk = None
        print(f"anchor: sluice CPU idle {idle_cpu:.1f}% of a core; wrk, no agents: "
              f"{anchor['rps']:.0f} req/s, p99 {anchor['p99_ms']:.2f} ms, "
              f"non-2xx {anchor['non2xx']} {anchor['errors']}")

        # 2. Registrations, all at once over the pool.
        ids = [None] * a.agents
        reg_fail = []

        def reg_jobs():
            for i in range(a.agents):
                body = {"service": "fleet", "name": f"ag{i:04d}",
                        "target": f"127.0.{1 + i // 250}.{1 + i % 250}:{backend_port}",
                        "labels": {"role": "agent", "rack": f"r{i % 10}"},
                        "location": {"city": "Lyon", "country": "FR", "lat": 45.76, "lon": 4.84}}
                yield (0.0, i, "reg", request("POST", "/v1/agents", token, body))

        def reg_done(job, status, body, now):
            if status == 201:
                ids[job[0]] = json.loads(body)["id"]
            else:
                reg_fail.append((job[0], status, body[:200]))

        t0 = time.monotonic()
        u0, s0 = cpu_seconds(sluice.pid)
        left = drive(admin, a.conns, reg_jobs(), reg_done, t0 + 300)
        reg_s = time.monotonic() - t0
        u1, s1 = cpu_seconds(sluice.pid)
        print(f"registrations: {a.agents - len(reg_fail) - left} of {a.agents} in {reg_s:.2f} s "
              f"({(a.agents - len(reg_fail)) / reg_s:.0f}/s), sluice CPU "
              f"{(u1 - u0 + s1 - s0) / reg_s * 100:.1f}% of a core; failed {len(reg_fail)} "
              f"{reg_fail[:3]}; unfinished {left}")
        if reg_fail or left:
            sys.exit(1)

        # 3. Heartbeats at 1 s, spread over the second; a CPU window of
        # heartbeats alone, then wrk in the last part.
        lat, lag, bad = [], [], []
        last_ok = [None] * a.agents
        max_gap = [0.0]
        start = time.monotonic() + 0.2
        rounds = a.seconds

        def hb_jobs():
            for r in range(rounds):
                for i in range(a.agents):
                    body = {"load": (i * 7 + r) % 400, "healthy": True}
                    yield (start + r + i / a.agents, i, "hb",
                           request("POST", f"/v1/agents/{ids[i]}/heartbeat", token, body))

        def hb_done(job, status, body, now):
            i, _, sent, due = job
            if status != 200:
                bad.append((i, status, body[:200]))
                return
            lat.append(now - sent)
            lag.append(sent - due)
            if last_ok[i] is not None:
                max_gap[0] = max(max_gap[0], now - last_ok[i])
            last_ok[i] = now

        cpu_win = (start + 2, start + rounds - a.wrk_seconds - 2)
        marks = {}
        wrk_at = start + rounds - a.wrk_seconds - 1
        wrk_box = [None]

        def hook(now):
            if "c0" not in marks and now >= cpu_win[0]:
                marks["c0"] = (cpu_seconds(sluice.pid), now)
            if "c1" not in marks and now >= cpu_win[1]:
                marks["c1"] = (cpu_seconds(sluice.pid), now)
                marks["n1"] = len(lat)
            if wrk_box[0] is None and now >= wrk_at:
                marks["w0"] = (sum(cpu_seconds(sluice.pid)), now)
                wrk_box[0] = start_wrk(proxy, a.wrk_seconds)

        n_before = len(lat)
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        left = drive(admin, a.conns, hb_jobs(), hb_done, start + rounds + 30, hook)
        hb_end = time.monotonic()
        w_cpu1 = sum(cpu_seconds(sluice.pid))
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        me_cpu = (me1.ru_utime - me0.ru_utime + me1.ru_stime - me0.ru_stime) / (hb_end - start)
        wrk = wrk_box[0]
        st, q = api_call(admin, admin_token, "GET", "/v1/query")
        if st != 200:
            sys.exit(f"GET /v1/query: {st}")
        rows = [b for b in json.loads(q)["backends"] if b.get("origin") == "agent"]
        states = {}
        for b in rows:
            states[b.get("state")] = states.get(b.get("state"), 0) + 1
        with_load = sum(1 for b in rows if b.get("load") is not None)
        during = wrk_result(wrk, a.wrk_seconds) if wrk else None
        # The anchor again, the agents registered but silent (within their
        # lease for the first seconds): the spread of the two anchors is
        # the noise of the machine.
        c0 = sum(cpu_seconds(sluice.pid))
        wrk = start_wrk(proxy, a.wrk_seconds)
        after = wrk_result(wrk, a.wrk_seconds)
        after["us_req"] = (sum(cpu_seconds(sluice.pid)) - c0) / (after["rps"] * a.wrk_seconds) * 1e6
        wrk = None

        (cu0, cs0), ct0 = marks["c0"]
        (cu1, cs1), ct1 = marks["c1"]
        win = ct1 - ct0
        cpu = (cu1 - cu0 + cs1 - cs0) / win * 100
        lat.sort()
        lag.sort()
        total = len(lat) - n_before
        print(f"heartbeats: {total} answered 200 of {rounds * a.agents} over "
              f"{hb_end - start:.1f} s = {total / (hb_end - start):.0f}/s; other answers "
              f"{len(bad)} {bad[:3]}; unsent/unanswered at the end {left}")
        print(f"heartbeat latency (send to answer): p50 {pct(lat, 50) * 1000:.2f} ms, "
              f"p99 {pct(lat, 99) * 1000:.2f} ms, max {lat[-1] * 1000:.2f} ms; schedule lag "
              f"p99 {pct(lag, 99) * 1000:.2f} ms, max {lag[-1] * 1000:.2f} ms; longest gap "
              f"between two answered heartbeats of one agent {max_gap[0]:.2f} s")
        print(f"sluice CPU, heartbeats alone, {win:.1f} s window: {cpu:.1f}% of a core "
              f"(user {(cu1 - cu0) / win * 100:.1f}, system {(cs1 - cs0) / win * 100:.1f}); "
              f"idle anchor {idle_cpu:.1f}%; this driver (one Python process) "
              f"{me_cpu * 100:.1f}% of a core")
        if during:
            # sluice's CPU per proxied request, the heartbeats' own share
            # (the rate of the window above) taken out.
            w_cpu0, w_t0 = marks["w0"]
            hb_rate = (cu1 - cu0 + cs1 - cs0) / win
            during["us_req"] = ((w_cpu1 - w_cpu0 - hb_rate * (hb_end - w_t0))
                                / (during["rps"] * a.wrk_seconds) * 1e6)
            print(f"sluice CPU per proxied request (us): anchor {anchor['us_req']:.2f}, during "
                  f"heartbeats {during['us_req']:.2f} (heartbeats' share taken out), after "
                  f"{after['us_req']:.2f}")
            print(f"wrk during heartbeats: {during['rps']:.0f} req/s, p99 "
                  f"{during['p99_ms']:.2f} ms, non-2xx {during['non2xx']} {during['errors']}; "
                  f"ratio to the anchor: req/s {during['rps'] / anchor['rps']:.2f}, p99 "
                  f"{during['p99_ms'] / anchor['p99_ms']:.2f}")
        print(f"anchor again, after the heartbeats: {after['rps']:.0f} req/s, p99 "
              f"{after['p99_ms']:.2f} ms, non-2xx {after['non2xx']} {after['errors']}")
        if during:
            base = (anchor["rps"] + after["rps"]) / 2
            print(f"wrk during heartbeats against the mean of both anchors: req/s "
                  f"{during['rps'] / base:.2f}")
        print(f"GET /v1/query after the run: {len(rows)} agent rows, states {states}, "
              f"{with_load} with a load")
        ok = (not bad and not left and "disconnected" not in states
              and max_gap[0] < float(a.lease.rstrip("s")))
        print("every agent stayed connected" if ok else "SOME AGENT WAS DISCONNECTED OR REFUSED")
        return 0 if ok else 1
    finally:
        if wrk is not None and wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        if sluice is not None and sluice.poll() is not None:
            print(f"sluice exited with {sluice.returncode}; the end of its log:", file=sys.stderr)
            log.flush()
            with open(log.name) as f:
                print("".join(f.readlines()[-20:]), file=sys.stderr)
        stop(sluice)
        stop(backend)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
