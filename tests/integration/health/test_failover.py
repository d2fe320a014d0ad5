"""Zero-error failover and slow start (issue 15), with real processes.

Three keep-alive HTTP backends run as separate processes (this file, run
with --backend); sluice balances over them (weighted round robin, TCP
checks every 500ms, fall 2, rise 2, `slow_start: 4s`, retries 2) under a
bounded `wrk -t2 -c16`. One backend gets SIGKILL mid-run:
- wrk reports no non-2xx response and no socket error (idempotent GETs
  in flight on it are resent to the others);
- it is out (GET /v1/query: state down) within interval x fall, plus slack
  for a loaded machine;
- restarted on the same port, it gets traffic again within the recovery
  time, and its share ramps: in its first second back it gets well under
  its share at the end (counted at the backends).
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (SluiceCase, backend_entry, config, endpoint, free_port,  # noqa: E402
                        get, http_listener, main, route, service, stop_process,
                        track_process, wait_until)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "pressure"))
from test_backend_kill import ProcBackend as KillProcBackend, parse_wrk  # noqa: E402

INTERVAL_S, FALL, RISE = 0.5, 2, 2
SLOW_START_S = 4
WRK_SECONDS = 14
KILL_AT = 2.0
RESTART_AT = 4.5
WINDOW = 0.1  # the backends count requests per window of this many seconds


def serve_backend(name, port, countfile):
    """Keep-alive HTTP/1.1; every WINDOW a line "wall_time count" goes to
    <countfile> for the requests answered in that window."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(512)
    sys.stdout.write("%d\n" % lsock.getsockname()[1])
    sys.stdout.flush()
    body = (name + "\n").encode()
    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
            % len(body)) + body
    lock = threading.Lock()
    count = [0]

    def conn(s):
        buf = b""
        try:
            for _ in range(10 ** 7):
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                _, buf = buf.split(b"\r\n\r\n", 1)
                with lock:
                    count[0] += 1
                s.sendall(resp)
        except OSError:
            return
        finally:
            s.close()

    def counter():
        with open(countfile, "a") as f:
            for _ in range(10 ** 6):
                time.sleep(WINDOW)
                with lock:
                    n, count[0] = count[0], 0
                f.write("%.3f %d\n" % (time.time(), n))
                f.flush()

    threading.Thread(target=counter, daemon=True).start()
    # The parent's lifetime bounds ours: stdin closes when it goes away.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    for _ in range(10 ** 7):
        s, _ = lsock.accept()
        threading.Thread(target=conn, args=(s,), daemon=True).start()


class ProcBackend(KillProcBackend):
    """A backend process of this file on <port> (0: any), counting into
    .countfile; kill() and stop() as test_backend_kill's."""

    def __init__(self, case, name, port=0):  # pylint: disable=super-init-not-called
        self.name = name
        self.countfile = os.path.join(case.tmp, "%s.counts" % name)
        self.proc = track_process(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--backend", name, str(port),
             self.countfile], stdin=subprocess.PIPE, stdout=subprocess.PIPE))
        case.addCleanup(self.stop)
        line = self.proc.stdout.readline()
        if not line.strip():
            raise AssertionError("backend %s did not start" % name)
        self.port = int(line)


def counts(path):
    """[(wall time, requests in the window ending then)]."""
    try:
        with open(path) as f:
            return [(float(t), int(n)) for t, n in (l.split() for l in f if l.strip())]
    except FileNotFoundError:
        return []


def in_range(series, t0, t1):
    return sum(n for t, n in series if t0 < t <= t1)


class Failover(SluiceCase):
    def test_kill_restart_under_load(self):
        """kill -9 one of three under wrk: no error, out in interval x fall, back with a ramp"""
        wrk = shutil.which("wrk")
        if not wrk:
            self.skipTest("wrk is not installed (apt-get install wrk): the load test needs it")
        bs = [ProcBackend(self, n) for n in ("fa", "fb", "fc")]
        port, aport = free_port(), free_port()
        health = {"check": "tcp", "interval": "%dms" % (INTERVAL_S * 1000),
                  "timeout": "300ms", "fall": FALL, "rise": RISE}
        svc = service([backend_entry(b.name, b.port) for b in bs],
                      strategy="weighted_round_robin", health=health, retries=2,
                      timeouts={"connect": "1s", "response": "5s"},
                      slow_start="%ds" % SLOW_START_S)
        d = self.sluice(config([http_listener(port)], {"app": svc},
                               [endpoint("/", [route("app")])],
                               admin={"bind": "127.0.0.1:%d" % aport}), access_log=False)
        api = d.admin()
        self.addCleanup(api.close)

        def state(name):
            st, _, q = api.call("GET", "/v1/query?service=app")
            self.assertEqual(st, 200, q)
            return [b for b in q["backends"] if b["name"] == name][0]["state"]

        self.assertTrue(wait_until(lambda: get(port).status == 200, timeout=5))
        # Every backend up (and past any slow start of its own) before the load.
        self.assertTrue(wait_until(lambda: all(state(b.name) == "up" for b in bs), timeout=10))
        time.sleep(SLOW_START_S + 0.5)
        p = track_process(subprocess.Popen(
            [wrk, "-t2", "-c16", "-d%ds" % WRK_SECONDS, "--timeout", "8s",
             "http://127.0.0.1:%d/" % port],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        self.addCleanup(stop_process, p, 5)
        start = time.monotonic()
        time.sleep(KILL_AT)
        victim = bs[0]
        victim.kill()
        killed = time.monotonic()
        self.assertTrue(wait_until(lambda: state(victim.name) == "down", timeout=10, step=0.05),
                        "the killed backend was not marked down within 10s")
        out_after = time.monotonic() - killed
        time.sleep(max(0.0, start + RESTART_AT - time.monotonic()))
        again = ProcBackend(self, victim.name + "2", port=victim.port)
        restarted, restarted_wall = time.monotonic(), time.time()
        self.assertTrue(wait_until(lambda: in_range(counts(again.countfile), 0, 1e12) > 0,
                                   timeout=10, step=0.05),
                        "no traffic to the restarted backend within 10s")
        back_after = time.monotonic() - restarted
        out, _ = p.communicate(timeout=WRK_SECONDS + 30)
        out = out.decode("utf-8", "replace")
        res = parse_wrk(out)

        series = counts(again.countfile)
        others = [counts(b.countfile) for b in bs[1:]]
        first_t = min(t for t, n in series if n > 0)
        end_t = max(t for t, _ in series)

        def share(t0, t1):
            mine = in_range(series, t0, t1)
            total = mine + sum(in_range(o, t0, t1) for o in others)
            return mine / total if total else 0.0, total

        early, early_n = share(first_t - WINDOW, first_t + 1.0)
        late, late_n = share(end_t - 1.5, end_t)
        print("  wrk: %s; out %.2fs after the kill (bound %.1fs); traffic back %.2fs after "
              "the restart; share first second %.3f (%d requests), last 1.5s %.3f (%d)"
              % (res, out_after, INTERVAL_S * FALL, back_after, early, early_n, late, late_n))
        self.assertEqual(p.returncode, 0, out)
        self.assertGreater(res["requests"], 500, "wrk hardly got through:\n" + out)
        self.assertEqual(res["non2xx"], 0, "non-2xx responses:\n" + out)
        for k in ("read", "write", "timeout", "connect"):
            self.assertEqual(res[k], 0, "wrk socket errors (%s):\n%s" % (k, out))
        # interval x fall, with generous slack for a shared machine.
        self.assertLess(out_after, INTERVAL_S * FALL + 3.0)
        # rise x interval (plus slack) to come back.
        self.assertLess(back_after, INTERVAL_S * RISE + 5.0)
        self.assertGreater(late_n, 100, "too little traffic at the end to compare shares")
        self.assertGreater(late, 0.2, "the restarted backend did not get its share back")
        self.assertLess(early, 0.6 * late, "no slow-start ramp: first second %.3f, end %.3f"
                        % (early, late))
        self.assertEqual(get(port).status, 200)
        self.assertIn(victim.name, d.stderr())


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--backend":
        serve_backend(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
