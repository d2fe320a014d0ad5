"""Harness for the sluice integration tests (Python 3 standard library only).

It starts `sluice serve` on a generated config, in-process test backends
(HTTP/1.1 written on raw sockets so the tests control every byte, and a TCP
echo), and gives a small raw HTTP client. Everything a test starts is
stopped by the test's cleanups, and again at exit or on SIGINT/SIGTERM, so a
failing or interrupted test leaves no process or port behind. Every loop is
bounded in count and time.

Environment: SLUICE_BIN (the daemon), SLUICE_BUILD, SLUICE_SRC (set by ctest).
"""

import atexit
import base64
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SRC = os.environ.get("SLUICE_SRC") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SLUICE_BUILD") or os.path.join(SRC, "build")
BIN = os.environ.get("SLUICE_BIN") or os.path.join(BUILD, "sluice")

START_TIMEOUT = 10.0   # daemon must accept on its listener within this
STOP_TIMEOUT = 15.0    # SIGTERM, then SIGKILL after this
IO_TIMEOUT = 10.0      # default socket timeout of the test clients
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# ---------------------------------------------------------------- cleanup

_live_procs = set()      # Popen objects still to stop
_live_servers = set()    # backends still to stop
_live_lock = threading.Lock()


def _stop_everything():
    with _live_lock:
        procs = list(_live_procs)
        servers = list(_live_servers)
    for p in procs:
        stop_process(p, timeout=3.0)
    for s in servers:
        try:
            s.stop()
        except Exception:
            pass


def _on_signal(signum, _frame):
    _stop_everything()
    sys.stderr.write("interrupted by signal %d\n" % signum)
    os._exit(128 + signum)


atexit.register(_stop_everything)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):
        pass


def stop_process(p, timeout=STOP_TIMEOUT):
    """SIGTERM by PID, SIGKILL after <timeout>; returns the exit code."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                p.kill()
            except ProcessLookupError:
                pass
            p.wait(5)
    with _live_lock:
        _live_procs.discard(p)
    return p.returncode


def track_process(p):
    with _live_lock:
        _live_procs.add(p)
    return p


# ---------------------------------------------------------------- helpers

_HANDED_OUT = set()


def free_port():
    """A loopback port nobody listens on right now (bind 0 and release),
    never one this process handed out before: the kernel may give the
    same port to two bind(0) calls in a row, and a test that asks for an
    admin port and a listener port must not get one port for both."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise AssertionError("no fresh loopback port after 100 tries")


def closed_port():
    """A port with nothing listening (connect is refused)."""
    return free_port()


_PATTERN = random.Random(20240611).randbytes(65521)  # prime length: shifts show


def pattern(n, offset=0):
    """Deterministic test payload of n bytes."""
    out = bytearray()
    pos = offset % len(_PATTERN)
    while len(out) < n:
        take = min(n - len(out), len(_PATTERN) - pos)
        out += _PATTERN[pos:pos + take]
        pos = 0
    return bytes(out)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def wait_until(pred, timeout=5.0, step=0.05):
    """Polls pred() until true or <timeout>; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def can_connect(port, host="127.0.0.1", timeout=0.5):
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return False
    s.close()
    return True


# ---------------------------------------------------------------- YAML

def _yaml_scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj, indent=0):
    """Block-style YAML of dicts, lists and scalars (what the configs need)."""
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, dict):
                lines.append("%s%s: {}" % (pad, k))
            elif isinstance(v, list):
                lines.append("%s%s: []" % (pad, k))
            else:
                lines.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                inner = to_yaml(v, indent + 2).split("\n")
                lines.append("%s- %s" % (pad, inner[0].lstrip()))
                lines.extend(inner[1:])
            else:
                lines.append("%s- %s" % (pad, _yaml_scalar(v)))
    else:
        lines.append(pad + _yaml_scalar(obj))
    return "\n".join(lines)


def backend_entry(name, port, labels=None, host="127.0.0.1"):
    b = {"name": name, "target": "%s:%d" % (host, port)}
    if labels:
        b["labels"] = dict(labels)
    return b


def service(backends, strategy="round_robin", health="none", timeouts=None, retries=None,
            **extra):
    """A service dict; <backends> is a list of backend_entry()s."""
    s = {"strategy": strategy}
    if health == "none":
        s["health"] = {"check": "none"}
    elif health is not None:
        s["health"] = health
    if timeouts:
        s["timeouts"] = timeouts
    if retries is not None:
        s["retries"] = retries
    s.update(extra)
    s["backends"] = backends
    return s


def http_listener(port, name="web", **extra):
    d = {"name": name, "bind": "127.0.0.1:%d" % port, "mode": "http"}
    d.update(extra)
    return d


def tcp_listener(port, svc, name="tcp", **extra):
    d = {"name": name, "bind": "127.0.0.1:%d" % port, "mode": "tcp", "service": svc}
    d.update(extra)
    return d


def route(service_name=None, selector=None, weight=None):
    r = {}
    if service_name:
        r["service"] = service_name
    if selector:
        r["selector"] = selector
    if weight is not None:
        r["weight"] = weight
    return r


def endpoint(pattern_, routes):
    return {"pattern": pattern_, "routes": routes}


def config(listeners, services, endpoints=None, **extra):
    c = {"workers": 2}
    c.update(extra)
    c["listeners"] = listeners
    c["services"] = services
    if endpoints is not None:
        c["endpoints"] = endpoints
    return c


# ---------------------------------------------------------------- daemon

class Sluice:
    """One `sluice serve` process on a config it writes to <workdir>."""

    def __init__(self, workdir, cfg, name="sluice", access_log=True, extra_args=(), cwd=None):
        self.workdir = workdir
        self.cwd = cwd  # given: serve runs there, with -c relative to it
        self.name = name
        self.config_path = os.path.join(workdir, name + ".yaml")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.access_log = os.path.join(workdir, name + ".access.log") if access_log else None
        self.extra_args = list(extra_args)
        self.proc = None
        self.write_config(cfg)

    def write_config(self, cfg):
        text = cfg if isinstance(cfg, str) else to_yaml(cfg) + "\n"
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)  # a reload never sees half a file
        if not isinstance(cfg, str):  # the same as JSON, for stand-in daemons
            with open(self.config_path + ".json", "w") as f:
                json.dump(cfg, f)
        self.cfg = cfg

    def listener_ports(self):
        if isinstance(self.cfg, str):
            return []
        ports = [int(l["bind"].rsplit(":", 1)[1]) for l in self.cfg.get("listeners", [])]
        if isinstance(self.cfg.get("admin"), dict) and "bind" in self.cfg["admin"]:
            # First: it starts after the listeners, and wait_ready's all()
            # stops at the first port down, so no listener is probed (a TCP
            # probe is a session its backend counts) while it waits.
            ports.insert(0, int(self.cfg["admin"]["bind"].rsplit(":", 1)[1]))
        return ports

    def admin(self, token=None):
        """An AdminClient on this daemon's admin.bind, with <token> or the
        bootstrap token from admin.token beside the config."""
        port = int(self.cfg["admin"]["bind"].rsplit(":", 1)[1])
        if token is None:
            with open(os.path.join(self.workdir, "admin.token")) as f:
                token = f.read().strip()
        return AdminClient(port, token)

    def argv(self):
        a = [BIN, "serve", "-c",
             os.path.relpath(self.config_path, self.cwd) if self.cwd else self.config_path]
        if self.access_log:
            a += ["--access-log", self.access_log]
        return a + self.extra_args

    def start(self, wait=True):
        if not os.path.exists(BIN):
            raise AssertionError("sluice binary not found: %s (set SLUICE_BIN)" % BIN)
        self._err = open(self.stderr_path, "ab")
        self.proc = track_process(subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err,
            cwd=self.cwd or self.workdir))
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        ports = self.listener_ports()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("sluice exited with %s before listening:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            if all(can_connect(p, timeout=0.2) for p in ports):
                return
            time.sleep(0.05)
        raise AssertionError("sluice did not accept on %s within %.0fs:\n%s"
                             % (ports, timeout, self.stderr()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, cfg=None, settle=0.5):
        """Writes <cfg> (if given), sends SIGHUP, gives the swap a moment."""
        if cfg is not None:
            self.write_config(cfg)
        self.signal(signal.SIGHUP)
        time.sleep(settle)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        if self.proc is None:
            return None
        rc = stop_process(self.proc, timeout)
        try:
            self._err.close()
        except Exception:
            pass
        return rc

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def access_lines(self):
        if not self.access_log:
            return []
        try:
            with open(self.access_log, "rb") as f:
                return [l for l in f.read().decode("utf-8", "replace").split("\n") if l]
        except OSError:
            return []


def run_cli(args, timeout=20, cwd=None):
    """Runs `sluice ARGS`; returns (rc, stdout, stderr)."""
    if not os.path.exists(BIN):
        raise AssertionError("sluice binary not found: %s (set SLUICE_BIN)" % BIN)
    p = subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------- client

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.body = body

    def header(self, name, default=None):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %s %r body=%r>" % (self.status, self.reason, self.headers,
                                                  self.body[:200])


class ConnectionClosed(Exception):
    pass


class Client:
    """A raw HTTP/1.1 client connection: sends exact bytes, parses strictly."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.port = port

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("peer closed")
        self.buf += chunk

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self, limit=65536):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError("line too long")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_until_close(self, limit=64 << 20):
        out = self.buf
        self.buf = b""
        while len(out) <= limit:
            try:
                c = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            out += c
        return out

    def is_closed(self, timeout=3.0):
        """True when the peer closes (EOF or reset) within <timeout>, with
        nothing more to read than what it sends before closing."""
        self.sock.settimeout(timeout)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                c = self.sock.recv(65536)
                if not c:
                    return True
                self.buf += c
            return False
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(IO_TIMEOUT)

    def read_response(self, method="GET"):
        line = self.read_line().decode("latin-1")
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise AssertionError("bad status line %r" % line)
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for _ in range(1000):
            h = self.read_line().decode("latin-1")
            if h == "":
                break
            k, _, v = h.partition(":")
            headers.append((k, v.strip()))
        resp = Response(version, status, reason, headers, b"")
        if method == "HEAD" or status < 200 or status in (204, 304):
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if "chunked" in te:
            resp.body = self._read_chunked()
        elif cl is not None:
            resp.body = self.read_exact(int(cl))
        else:
            resp.body = self.read_until_close()
        return resp

    def _read_chunked(self):
        body = bytearray()
        for _ in range(1 << 20):
            size_line = self.read_line().decode("latin-1")
            size = int(size_line.split(";", 1)[0].strip(), 16)
            if size == 0:
                for _ in range(1000):  # trailers
                    if self.read_line() == b"":
                        break
                return bytes(body)
            body += self.read_exact(size)
            if self.read_exact(2) != b"\r\n":
                raise AssertionError("bad chunk terminator")
        raise AssertionError("too many chunks")

    def request(self, method, path, headers=None, body=None, host="test.local", version="1.1",
                chunked=False):
        """Sends one request and reads its response (interim 1xx skipped)."""
        self.send_request(method, path, headers, body, host, version, chunked)
        for _ in range(10):
            r = self.read_response(method)
            if r.status >= 200 or r.status == 101:
                return r
        raise AssertionError("too many interim responses")

    def send_request(self, method, path, headers=None, body=None, host="test.local",
                     version="1.1", chunked=False):
        self.send(build_request(method, path, headers, body, host, version, chunked))


def build_request(method, path, headers=None, body=None, host="test.local", version="1.1",
                  chunked=False):
    lines = ["%s %s HTTP/%s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for k, v in (headers or []):
        lines.append("%s: %s" % (k, v))
    payload = b""
    if body is not None:
        if chunked:
            lines.append("Transfer-Encoding: chunked")
            payload = encode_chunked(body)
        else:
            lines.append("Content-Length: %d" % len(body))
            payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def encode_chunked(body, sizes=(1, 7, 4096, 65536, 3000)):
    out = bytearray()
    pos, i = 0, 0
    while pos < len(body):
        n = min(sizes[i % len(sizes)], len(body) - pos)
        out += b"%x\r\n" % n + body[pos:pos + n] + b"\r\n"
        pos += n
        i += 1
    out += b"0\r\n\r\n"
    return bytes(out)


def get(port, path="/", host="test.local", headers=None, timeout=IO_TIMEOUT):
    """One GET on a fresh connection."""
    with Client(port, timeout=timeout) as c:
        return c.request("GET", path, headers=headers, host=host)


# ---------------------------------------------------------------- backends

class _Server:
    """A threaded listener on 127.0.0.1; each accepted connection runs
    handle(sock) in a daemon thread. stop() closes the listener (connects are
    refused from then on) and every open connection."""

    def __init__(self, name, port=None):
        self.name = name
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port or 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = set()
        self.accepted = 0
        self.bytes_in = 0
        self.stopped = threading.Event()
        with _live_lock:
            _live_servers.add(self)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopped.is_set():
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            if self.stopped.is_set():
                s.close()
                return
            with self.lock:
                self.conns.add(s)
                self.accepted += 1
            threading.Thread(target=self._run, args=(s,), daemon=True).start()

    def _run(self, s):
        try:
            s.settimeout(60)
            self.handle(s)
        except Exception:
            pass
        finally:
            with self.lock:
                self.conns.discard(s)
            try:
                s.close()
            except OSError:
                pass

    def recv(self, s, n=65536):
        d = s.recv(n)
        with self.lock:
            self.bytes_in += len(d)
        return d

    def stop(self):
        """Closes the listener and every connection (a crash, as seen by peers)."""
        self.stopped.set()
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        with _live_lock:
            _live_servers.discard(self)

    kill = stop

    def handle(self, s):
        raise NotImplementedError


class _Reader:
    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.buf = b""

    def fill(self):
        d = self.server.recv(self.sock)
        if not d:
            raise ConnectionClosed()
        self.buf += d

    def line(self, limit=65536):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise ConnectionClosed()
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


class HttpBackend(_Server):
    """Test HTTP/1.1 backend. Every response carries `X-Backend: NAME`.

    GET /            body "NAME\\n"
    GET /headers     JSON {name, method, path, version, headers: [[k, v]...]}
    POST /echo       JSON {name, len, sha256, chunked} of the decoded body
    GET /chunked?n=N chunked response of pattern(N)
    GET /size/N      Content-Length response of pattern(N)
    GET /delay?ms=N  waits N ms, then body "NAME\\n"
    GET /status/N    status N (204/304 without body)
    GET /hang        reads the request, never answers
    GET /ws          WebSocket echo (RFC 6455)
    any other path   like /
    Expect: 100-continue is answered with 100 before the body is read.
    `hang=True` makes every request hang.
    """

    def __init__(self, name, port=None, hang=False):
        self.hang = hang
        self.requests = []   # (method, path, headers) in arrival order
        super().__init__(name, port)

    def count(self):
        with self.lock:
            return len(self.requests)

    def handle(self, s):
        r = _Reader(self, s)
        for _ in range(100000):
            try:
                line = r.line()
            except ConnectionClosed:
                return
            if line == b"":
                continue  # tolerated CRLF between requests
            parts = line.decode("latin-1").split(" ")
            if len(parts) != 3:
                self._send(s, 400, b"bad request line\n", close=True)
                return
            method, target, version = parts
            headers = []
            for _ in range(1000):
                h = r.line().decode("latin-1")
                if h == "":
                    break
                k, _, v = h.partition(":")
                headers.append((k, v.strip()))
            hmap = {}
            for k, v in headers:
                hmap.setdefault(k.lower(), v)
            with self.lock:
                self.requests.append((method, target, headers))
            conn_tokens = [t.strip().lower() for t in hmap.get("connection", "").split(",")]
            keep = ("close" not in conn_tokens) if version == "HTTP/1.1" else (
                "keep-alive" in conn_tokens)
            if self.hang or target.startswith("/hang"):
                self.stopped.wait(120)
                return
            if hmap.get("expect", "").lower() == "100-continue":
                s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body, was_chunked = b"", False
            if "chunked" in hmap.get("transfer-encoding", "").lower():
                body, was_chunked = self._read_chunked(r), True
            elif "content-length" in hmap:
                body = r.exact(int(hmap["content-length"]))
            path, _, query = target.partition("?")
            q = dict(p.partition("=")[::2] for p in query.split("&") if p)
            head = method == "HEAD"
            if path == "/ws" and hmap.get("upgrade", "").lower() == "websocket":
                self._websocket(s, r, hmap)
                return
            if path == "/headers":
                doc = {"name": self.name, "method": method, "path": target, "version": version,
                       "headers": [[k, v] for k, v in headers]}
                self._send(s, 200, json.dumps(doc).encode(), keep, head,
                           ctype="application/json")
            elif path == "/echo":
                doc = {"name": self.name, "len": len(body), "sha256": sha256(body),
                       "chunked": was_chunked}
                self._send(s, 200, json.dumps(doc).encode(), keep, head,
                           ctype="application/json")
            elif path == "/chunked":
                self._send_chunked(s, pattern(int(q.get("n", "0"))), keep, head)
            elif path.startswith("/size/"):
                self._send(s, 200, pattern(int(path[6:])), keep, head,
                           ctype="application/octet-stream")
            elif path == "/delay":
                time.sleep(int(q.get("ms", "0")) / 1000.0)
                self._send(s, 200, (self.name + "\n").encode(), keep, head)
            elif path.startswith("/status/"):
                st = int(path[8:])
                self._send(s, st, b"" if st in (204, 304) else b"status %d\n" % st, keep, head,
                           nobody=st in (204, 304))
            else:
                self._send(s, 200, (self.name + "\n").encode(), keep, head)
            if not keep:
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return

    def _read_chunked(self, r):
        body = bytearray()
        for _ in range(1 << 20):
            size = int(r.line().split(b";", 1)[0].strip(), 16)
            if size == 0:
                for _ in range(1000):
                    if r.line() == b"":
                        break
                return bytes(body)
            body += r.exact(size)
            r.exact(2)
        return bytes(body)

    _REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 204: "No Content",
                301: "Moved Permanently", 304: "Not Modified", 400: "Bad Request",
                404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway",
                503: "Service Unavailable"}

    def _send(self, s, status, body, keep=True, head=False, ctype="text/plain", close=False,
              nobody=False):
        h = ["HTTP/1.1 %d %s" % (status, self._REASONS.get(status, "Status")),
             "X-Backend: %s" % self.name]
        if not nobody:
            h.append("Content-Type: %s" % ctype)
            h.append("Content-Length: %d" % len(body))
        if close or not keep:
            h.append("Connection: close")
        out = ("\r\n".join(h) + "\r\n\r\n").encode()
        if not head and not nobody:
            out += body
        s.sendall(out)

    def _send_chunked(self, s, body, keep, head):
        h = ["HTTP/1.1 200 OK", "X-Backend: %s" % self.name,
             "Content-Type: application/octet-stream", "Transfer-Encoding: chunked"]
        if not keep:
            h.append("Connection: close")
        s.sendall(("\r\n".join(h) + "\r\n\r\n").encode())
        if head:
            return
        # Several sends of odd sizes, so the proxy sees chunks split anywhere.
        data = encode_chunked(body, sizes=(1000, 1, 70000, 333))
        for i in range(0, len(data), 8191):
            s.sendall(data[i:i + 8191])

    def _websocket(self, s, r, hmap):
        key = hmap.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        s.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Backend: %s\r\n\r\n"
                   % (accept, self.name)).encode())
        for _ in range(100000):
            opcode, payload = ws_read_frame(r.exact)
            if opcode == 0x8:  # close: echo it and end
                s.sendall(ws_frame(0x8, payload[:2], mask=False))
                return
            if opcode == 0x9:
                s.sendall(ws_frame(0xA, payload, mask=False))
                continue
            s.sendall(ws_frame(opcode, payload, mask=False))


def ws_frame(opcode, payload, mask=True):
    """One final WebSocket frame (clients mask, servers do not)."""
    b0 = 0x80 | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if mask:
        key = os.urandom(4)
        return head + key + ws_mask(payload, key)
    return head + payload


def ws_read_frame(read_exact):
    """Reads one frame with read_exact(n); returns (opcode, unmasked payload)."""
    b0, b1 = read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(read_exact(2), "big")
    elif n == 127:
        n = int.from_bytes(read_exact(8), "big")
    key = read_exact(4) if b1 & 0x80 else None
    payload = read_exact(n)
    if key:
        payload = ws_mask(payload, key)
    return b0 & 0x0F, payload


def ws_mask(payload, key):
    """XOR with the 4-byte key, repeated (masking and unmasking alike)."""
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


class TcpEcho(_Server):
    """Echoes every byte; on the client's half-close, finishes and closes."""

    def handle(self, s):
        for _ in range(1 << 24):
            d = self.recv(s)
            if not d:
                break
            s.sendall(d)
        s.shutdown(socket.SHUT_WR)


# ---------------------------------------------------------------- admin API

class AdminClient:
    """The admin API over one keep-alive http.client connection.
    call() returns (status, headers dict with lower-case names, JSON or
    text body or None)."""

    def __init__(self, port, token=None, host="127.0.0.1", timeout=IO_TIMEOUT):
        import http.client
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def close(self):
        self.conn.close()

    def call(self, method, path, body=None, token=None, headers=None):
        h = dict(headers or {})
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        raw = r.read()
        hs = {k.lower(): v for k, v in r.getheaders()}
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
        out = None
        if raw:
            try:
                out = json.loads(raw)
            except ValueError:
                out = raw.decode("utf-8", "replace")
        return r.status, hs, out


# ---------------------------------------------------------------- test base

class SluiceCase(unittest.TestCase):
    """Gives each test a temp dir, and prints the daemons' stderr when the
    test fails. Everything started through the helpers is stopped after the
    test (cleanups run even on failure)."""

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self._daemons = []
        self.tmp = tempfile.mkdtemp(prefix="sluice-it-")
        try:
            super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                for d in self._daemons:
                    sys.stderr.write("\n----- %s stderr (%s) -----\n%s\n-----\n"
                                     % (d.name, " ".join(d.argv()), d.stderr()[-8000:]))
            shutil.rmtree(self.tmp, ignore_errors=True)
        return result

    def backend(self, name, **kw):
        b = HttpBackend(name, **kw)
        self.addCleanup(b.stop)
        return b

    def tcp_echo(self, name="echo"):
        b = TcpEcho(name)
        self.addCleanup(b.stop)
        return b

    def sluice(self, cfg, start=True, **kw):
        d = Sluice(self.tmp, cfg, name="sluice%d" % len(self._daemons), **kw)
        self._daemons.append(d)
        self.addCleanup(self._stop_checked, d)
        if start:
            d.start()
        return d

    def _stop_checked(self, d):
        """Stops <d>; a daemon that was running must exit 0 on SIGTERM, and
        no sanitizer may have reported anything."""
        was_running = d.alive()
        rc = d.stop()
        err = d.stderr()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer"):
            if marker in err:
                raise AssertionError("sanitizer report in %s's stderr:\n%s"
                                     % (d.name, err[max(0, err.index(marker) - 200):][:6000]))
        if was_running and rc != 0:
            raise AssertionError("%s exited %s on SIGTERM (want 0)" % (d.name, rc))

    def simple(self, backends, port=None, svc_extra=None, listener_extra=None, pattern_="/"):
        """One HTTP listener, one service `app` over <backends>, endpoint <pattern_>."""
        port = port or free_port()
        svc = service([backend_entry(b.name, b.port) for b in backends], **(svc_extra or {}))
        cfg = config([http_listener(port, **(listener_extra or {}))], {"app": svc},
                     [endpoint(pattern_, [route("app")])])
        d = self.sluice(cfg)
        d.port = port
        return d


def main():
    unittest.main(verbosity=2)
