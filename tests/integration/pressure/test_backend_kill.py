"""A backend killed with SIGKILL under load costs no client request.

Two keep-alive HTTP backends run as separate processes (this file, run with
--backend), sluice balances over both with `retries: 1`, and a bounded
`wrk -c32 -d4s` runs against it; about 1 s in, one backend gets SIGKILL.
Requests in flight on it (sent, no response byte yet) are GETs: sluice
must resend them to the backend still up. wrk must report no non-2xx
response and no read, write or timeout error.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (SluiceCase, backend_entry, config, endpoint, free_port,  # noqa: E402
                        get, http_listener, main, route, service, stop_process,
                        track_process, wait_until)

WRK_SECONDS = 4
KILL_AFTER = 1.0
ROUNDS = 2  # each round kills one backend of a fresh pair


# ------------------------------------------------------------ the backend
# Runs in its own process (so it can be SIGKILLed): a threaded keep-alive
# HTTP/1.1 server. Each response goes out in one send, so a kill leaves a
# response either whole or not begun, never cut in the middle (a cut
# response could not be repaired by any proxy). A short pause before each
# answer keeps requests in flight when the kill comes. Like Apache's
# MaxKeepAliveRequests (or nginx's keepalive_requests), a connection
# closes after a few requests, so sluice keeps opening fresh ones: a
# request in flight on a fresh connection when the kill comes is one the
# stale keep-alive retry does not cover.

KEEPALIVE_REQUESTS = 3


def serve_backend(name, pause_s):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(512)
    sys.stdout.write("%d\n" % lsock.getsockname()[1])
    sys.stdout.flush()
    body = (name + "\n").encode()
    head = (b"HTTP/1.1 200 OK\r\nX-Backend: " + name.encode() +
            b"\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(body))
    resp = head + b"\r\n" + body
    last = head + b"Connection: close\r\n\r\n" + body

    def conn(s):
        buf = b""
        try:
            for n in range(1, KEEPALIVE_REQUESTS + 1):
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[need:]
                if pause_s:
                    time.sleep(pause_s)
                s.sendall(resp if n < KEEPALIVE_REQUESTS else last)
        except OSError:
            return
        finally:
            s.close()

    # The parent's lifetime bounds ours: stdin closes when it goes away.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    for _ in range(10 ** 7):
        s, _ = lsock.accept()
        threading.Thread(target=conn, args=(s,), daemon=True).start()


class ProcBackend:
    """A backend process; .port, .name, .kill() sends SIGKILL."""

    def __init__(self, case, name, pause_s=0.002):
        self.name = name
        self.proc = track_process(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--backend", name, str(pause_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE))
        case.addCleanup(self.stop)
        line = self.proc.stdout.readline()
        if not line.strip():
            raise AssertionError("backend %s did not start" % name)
        self.port = int(line)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        stop_process(self.proc, timeout=5)


def parse_wrk(out):
    """The figures of wrk's summary: requests, non-2xx/3xx, socket errors."""
    m = re.search(r"(\d+) requests in", out)
    if not m:
        raise AssertionError("no request count in wrk's output:\n" + out)
    res = {"requests": int(m.group(1)), "non2xx": 0,
           "connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res.update(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    return res


class BackendKill(SluiceCase):
    def test_kill_9_under_wrk_load(self):
        """kill -9 of one of two backends under wrk -c32: every response 2xx, no socket error"""
        wrk = shutil.which("wrk")
        if not wrk:
            self.skipTest("wrk is not installed (apt-get install wrk): the load test needs it")
        for rnd in range(ROUNDS):
            with self.subTest(round=rnd):
                self.one_round(wrk, rnd)

    def one_round(self, wrk, rnd):
        a = ProcBackend(self, "ka%d" % rnd)
        b = ProcBackend(self, "kb%d" % rnd)
        port = free_port()
        svc = service([backend_entry(a.name, a.port), backend_entry(b.name, b.port)], retries=1,
                      timeouts={"connect": "1s", "response": "5s"})
        self.sluice(config([http_listener(port)], {"app": svc},
                               [endpoint("/", [route("app")])]), access_log=False)
        self.assertTrue(wait_until(lambda: get(port).status == 200, timeout=5))
        p = track_process(subprocess.Popen(
            [wrk, "-t2", "-c32", "-d%ds" % WRK_SECONDS, "--timeout", "8s",
             "http://127.0.0.1:%d/" % port],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        self.addCleanup(stop_process, p, 5)
        time.sleep(KILL_AFTER)
        a.kill()
        out, _ = p.communicate(timeout=WRK_SECONDS + 30)
        out = out.decode("utf-8", "replace")
        res = parse_wrk(out)
        print("  round %d: %s" % (rnd, res))
        self.assertEqual(p.returncode, 0, out)
        self.assertGreater(res["requests"], 100, "wrk hardly got through:\n" + out)
        self.assertEqual(res["non2xx"], 0, "non-2xx responses after the kill:\n" + out)
        for k in ("read", "write", "timeout", "connect"):
            self.assertEqual(res[k], 0, "wrk socket errors (%s) after the kill:\n%s" % (k, out))
        self.assertEqual(get(port).status, 200)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--backend":
        serve_backend(sys.argv[2], float(sys.argv[3]))
    else:
        main()
