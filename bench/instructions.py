#!/usr/bin/python3
"""Instructions per proxied request, counted by callgrind: repeatable
whatever else the machine runs, unlike CPU time.

usage: bench/instructions.py SLUICE_BINARY [--mode ka|close|tcp] [-n N]

Needs the two backends of ../shared/bench on 127.0.0.1:18081-18082
(`../shared/bench/backend.sh --hold 600 &`) and valgrind. Runs
SLUICE_BINARY with examples/bench.yaml under callgrind twice, once with no
request (startup and shutdown) and once with N requests sent one at a
time over 8 keep-alive connections (ka, tcp) or each on its own
connection (close), and prints (total(N) - total(0)) / N."""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "examples", "bench.yaml")
PORTS = {"ka": 18000, "close": 18000, "tcp": 18010}


def exchange(sock, req):
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            continue
        m = re.search(rb"content-length:\s*(\d+)", buf[:end].lower())
        if m and len(buf) >= end + 4 + int(m.group(1)):
            return buf


def load(mode, port, n):
    if mode == "close":
        req = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(req)
                while s.recv(65536):
                    pass
        return
    req = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(8)]
    try:
        for k in range(n):
            socks[k % 8].sendall(req)
            exchange(socks[k % 8], req)
    finally:
        for s in socks:
            s.close()


def count(binary, mode, n, out):
    port = PORTS[mode]
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary, "serve",
         "-c", CONFIG, "--access-log", "off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise SystemExit("sluice did not start listening on %d" % port)
                time.sleep(0.2)
        load(mode, port, n)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    summary = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    m = re.search(r"([\d,]+) \([^)]*\)\s+PROGRAM TOTALS", summary)
    if not m:
        raise SystemExit("no totals in " + out)
    return int(m.group(1).replace(",", ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--mode", choices=sorted(PORTS), default="ka")
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the two callgrind files in DIR (callgrind_annotate them)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = a.keep or tmp
        os.makedirs(where, exist_ok=True)
        base = count(a.binary, a.mode, 0, os.path.join(where, "base.out"))
        total = count(a.binary, a.mode, a.n, os.path.join(where, "load.out"))
    print("%s %s: %.0f instructions per request (%d requests; %d at rest)"
          % (a.binary, a.mode, (total - base) / a.n, a.n, base))


if __name__ == "__main__":
    sys.exit(main())
