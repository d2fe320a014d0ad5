"""`sluice agent` against a fake admin API (http.server on loopback) that
records every call and answers 404/500/403 on demand: the registration
body, heartbeats at the interval, re-registration on 404, backoff while
the server fails or is away and recovery after, exit 1 with the server's
message on 403, SIGTERM -> DELETE then exit 0, a dead local target
reported as healthy: false, and the YAML --config file."""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sluicetest import (BIN, SluiceCase, backend_entry, config, endpoint,  # noqa: E402
                        free_port, get, http_listener, route, service, stop_process,
                        track_process, wait_until)

WAIT = 10.0  # generous: the machine is shared
TOKEN = "agent-token-1"


class FakeApi:
    """The agent half of the admin API. `calls` holds (method, path, auth,
    body) in arrival order; `fail` maps "register"/"heartbeat"/"delete" to a
    status to answer instead (one shot when `once` holds the key)."""

    def __init__(self, port=0):
        self.calls = []
        self.fail = {}
        self.once = set()
        self.lock = threading.Lock()
        self.next_id = 0
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, doc=None):
                body = json.dumps(doc).encode() if doc is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = json.loads(raw) if raw else None
                kind = ("register" if self.path == "/v1/agents" and self.command == "POST" else
                        "heartbeat" if self.path.endswith("/heartbeat") else
                        "delete" if self.command == "DELETE" else "other")
                with api.lock:
                    api.calls.append((self.command, self.path,
                                      self.headers.get("Authorization"), body, time.monotonic()))
                    status = api.fail.get(kind)
                    if kind in api.once:
                        api.fail.pop(kind, None)
                        api.once.discard(kind)
                    if status is None and kind == "register":
                        api.next_id += 1
                        aid = "ag%d" % api.next_id
                if status is not None:
                    self._answer(status, {"error": {"code": "refused",
                                                    "message": "fake says %d" % status}})
                elif kind == "register":
                    self._answer(201, {"id": aid, "lease_ms": 10000})
                elif kind == "heartbeat":
                    self._answer(200, {"lease_ms": 10000})
                elif kind == "delete":
                    self._answer(204)
                else:
                    self._answer(404, {"error": {"code": "not_found", "message": "no"}})

            do_POST = do_DELETE = do_GET = _handle

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def set_fail(self, kind, status, once=False):
        with self.lock:
            if status is None:
                self.fail.pop(kind, None)
            else:
                self.fail[kind] = status
                if once:
                    self.once.add(kind)

    def of(self, kind):
        with self.lock:
            calls = list(self.calls)
        if kind == "register":
            return [c for c in calls if c[0] == "POST" and c[1] == "/v1/agents"]
        if kind == "heartbeat":
            return [c for c in calls if c[1].endswith("/heartbeat")]
        return [c for c in calls if c[0] == "DELETE"]


class AgentCase(SluiceCase):
    def api(self, port=0):
        a = FakeApi(port)
        self.addCleanup(a.stop)
        return a

    def agent(self, server_port, target, *extra, env_token=None):
        log = open(os.path.join(self.tmp, "agent%d.log" % time.monotonic_ns()), "w+b")
        self.addCleanup(log.close)
        argv = [BIN, "agent", "--server", "http://127.0.0.1:%d" % server_port,
                "--service", "api", "--target", target] + list(extra)
        env = dict(os.environ)
        env.pop("SLUICE_TOKEN", None)
        if env_token is not None:
            env["SLUICE_TOKEN"] = env_token
        elif "--token" not in extra and "--config" not in extra:
            argv += ["--token", TOKEN]
        p = track_process(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, env=env))
        p.log = log
        self.addCleanup(stop_process, p, 5.0)
        return p

    @staticmethod
    def log_of(p):
        p.log.flush()
        with open(p.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, p, text, timeout=WAIT):
        ok = wait_until(lambda: text in self.log_of(p), timeout)
        self.assertTrue(ok, "agent never logged %r:\n%s" % (text, self.log_of(p)))


class TestAgentCli(AgentCase):
    def test_register_body_and_heartbeats(self):
        api, target = self.api(), self.backend("t1")
        p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--name", "a1",
                       "--label", "zone=eu", "--label", "tier=web",
                       "--location", "city=Paris,country=FR,lat=48.85,lon=2.35",
                       "--load-cmd", "echo 42", "--heartbeat", "200ms")
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 5, WAIT))
        reg = api.of("register")
        self.assertEqual(len(reg), 1)
        method, path, auth, body, _ = reg[0]
        self.assertEqual(auth, "Bearer " + TOKEN)
        self.assertEqual(body["service"], "api")
        self.assertEqual(body["name"], "a1")
        self.assertEqual(body["target"], "127.0.0.1:%d" % target.port)
        self.assertEqual(body["labels"], {"zone": "eu", "tier": "web"})
        self.assertEqual(body["location"]["city"], "Paris")
        self.assertEqual(body["location"]["country"], "FR")
        self.assertAlmostEqual(body["location"]["lat"], 48.85)
        self.assertAlmostEqual(body["location"]["lon"], 2.35)
        hbs = api.of("heartbeat")
        for _, path, auth, body, _ in hbs:
            self.assertEqual(path, "/v1/agents/ag1/heartbeat")
            self.assertEqual(auth, "Bearer " + TOKEN)
            self.assertEqual(body, {"load": 42, "healthy": True})
        # At the interval: 5 heartbeats at 200 ms take about 0.8 s (generous bounds).
        span = hbs[4][4] - hbs[0][4]
        self.assertGreater(span, 0.5, span)
        self.assertLess(span, 6.0, span)
        self.assertIn("registered id=ag1", self.log_of(p))

    def test_default_load_is_the_load_average(self):
        api, target = self.api(), self.backend("t1")
        self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms",
                   env_token=TOKEN)
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 1, WAIT))
        hb = api.of("heartbeat")[0]
        self.assertEqual(hb[2], "Bearer " + TOKEN)  # $SLUICE_TOKEN
        self.assertIsInstance(hb[3]["load"], int)
        self.assertGreaterEqual(hb[3]["load"], 0)

    def test_failing_load_cmd_sends_no_load_and_logs_once(self):
        api, target = self.api(), self.backend("t1")
        p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms",
                       "--load-cmd", "echo busy")
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 4, WAIT))
        self.assertEqual(api.of("heartbeat")[0][3], {"healthy": True})
        self.assertEqual(self.log_of(p).count("load unknown"), 1, self.log_of(p))

    def test_reregisters_when_the_server_forgot_it(self):
        api, target = self.api(), self.backend("t1")
        p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms")
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 2, WAIT))
        api.set_fail("heartbeat", 404, once=True)
        self.assertTrue(wait_until(lambda: len(api.of("register")) >= 2, WAIT))
        self.wait_log(p, "server forgot us: re-registering")
        self.wait_log(p, "registered id=ag2")
        self.assertTrue(wait_until(lambda: any(c[1] == "/v1/agents/ag2/heartbeat"
                                               for c in api.of("heartbeat")), WAIT))

    def test_backs_off_on_500_then_recovers(self):
        api, target = self.api(), self.backend("t1")
        p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms")
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 1, WAIT))
        api.set_fail("heartbeat", 500)
        n0 = len(api.of("heartbeat"))
        time.sleep(3.0)
        failing = api.of("heartbeat")[n0:]
        # 0.25-0.5 s doubling: a handful in 3 s, far fewer than 15 at the interval.
        self.assertGreaterEqual(len(failing), 2)
        self.assertLessEqual(len(failing), 8, len(failing))
        gaps = [b[4] - a[4] for a, b in zip(failing, failing[1:])]
        self.assertGreater(gaps[-1], 0.45, gaps)
        self.assertIn("heartbeat failed: 500 refused: fake says 500", self.log_of(p))
        self.assertIsNone(p.poll())
        api.set_fail("heartbeat", None)
        self.wait_log(p, "heartbeat ok again id=ag1")
        self.assertEqual(len(api.of("register")), 1)

    def test_waits_for_an_unreachable_server(self):
        port, target = free_port(), self.backend("t1")
        p = self.agent(port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms")
        self.wait_log(p, "register failed: cannot connect")
        time.sleep(1.0)
        self.assertIsNone(p.poll())
        api = self.api(port)
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 1, 40.0))
        self.assertIn("registered id=ag1", self.log_of(p))

    def test_register_500_is_retried(self):
        api, target = self.api(), self.backend("t1")
        api.set_fail("register", 503)
        p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms")
        self.assertTrue(wait_until(lambda: len(api.of("register")) >= 2, WAIT))
        self.assertIsNone(p.poll())
        api.set_fail("register", None)
        self.wait_log(p, "registered id=ag1")

    def test_refused_registration_exits_1_with_the_message(self):
        api, target = self.api(), self.backend("t1")
        api.set_fail("register", 403)
        p = self.agent(api.port, "127.0.0.1:%d" % target.port)
        self.assertEqual(p.wait(WAIT), 1)
        self.assertIn("403 refused: fake says 403", self.log_of(p))
        self.assertEqual(len(api.of("register")), 1)

    def test_sigterm_deregisters_and_exits_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            api, target = self.api(), self.backend("t1")
            p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms")
            self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 1, WAIT))
            p.send_signal(sig)
            self.assertEqual(p.wait(WAIT), 0)
            dels = api.of("delete")
            self.assertEqual([(c[1], c[2]) for c in dels],
                             [("/v1/agents/ag1", "Bearer " + TOKEN)])
            self.assertIn("deregistered id=ag1", self.log_of(p))

    def test_local_target_down_reports_unhealthy(self):
        api, target = self.api(), self.backend("t1")
        port = target.port
        p = self.agent(api.port, "127.0.0.1:%d" % port, "--heartbeat", "200ms")
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 1, WAIT))
        target.stop()
        self.wait_log(p, "local target down")
        self.assertTrue(wait_until(lambda: api.of("heartbeat")[-1][3]["healthy"] is False, WAIT))
        self.backend("t1again", port=port)
        self.wait_log(p, "local target up")
        self.assertTrue(wait_until(lambda: api.of("heartbeat")[-1][3]["healthy"] is True, WAIT))
        self.assertEqual(len(api.of("register")), 1)

    def test_health_path_and_no_registration_while_down(self):
        api, target = self.api(), self.backend("t1")
        # /status/503 answers 503: down, so the agent does not register at all.
        p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms",
                       "--health-path", "/status/503")
        self.wait_log(p, "local target down")
        time.sleep(1.0)
        self.assertEqual(api.of("register"), [])
        stop_process(p, 5.0)
        self.assertEqual(api.of("delete"), [])
        p = self.agent(api.port, "127.0.0.1:%d" % target.port, "--heartbeat", "200ms",
                       "--health-path", "/healthz")
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 1, WAIT))
        self.assertTrue(api.of("heartbeat")[0][3]["healthy"])
        self.assertTrue(any(r[1].startswith("/healthz") for r in target.requests))

    def test_config_file_with_flags_over_it(self):
        api, target = self.api(), self.backend("t1")
        cfg = os.path.join(self.tmp, "agent.yaml")
        with open(cfg, "w") as f:
            f.write("server: http://127.0.0.1:%d\ntoken: filetoken\nservice: api\n"
                    "target: 127.0.0.1:%d\nname: fromfile\nheartbeat: 200ms\n"
                    "labels:\n  zone: eu\nlocation:\n  city: Oslo\n  lat: 59.9\n"
                    "load_cmd: echo 5\n" % (api.port, target.port))
        argv = [BIN, "agent", "--config", cfg, "--name", "fromflag"]
        p = track_process(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        self.addCleanup(stop_process, p, 5.0)
        self.assertTrue(wait_until(lambda: len(api.of("heartbeat")) >= 1, WAIT))
        _, _, auth, body, _ = api.of("register")[0]
        self.assertEqual(auth, "Bearer filetoken")
        self.assertEqual(body["name"], "fromflag")
        self.assertEqual(body["labels"], {"zone": "eu"})
        self.assertEqual(body["location"], {"city": "Oslo", "lat": 59.9})
        self.assertEqual(api.of("heartbeat")[0][3]["load"], 5)

    def test_usage_errors_exit_2(self):
        r = subprocess.run([BIN, "agent", "--server", "http://127.0.0.1:1"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--target", r.stderr)
        r = subprocess.run([BIN, "agent", "--help"], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--health-path", r.stdout)


class TestAgentEndToEnd(AgentCase):
    """The real daemon (lease 1 s): the agent registers, traffic reaches its
    target through the proxy, SIGSTOP -> disconnected and out of rotation,
    SIGCONT -> back, SIGTERM -> deregistered and gone."""

    def served_by(self, port, n=12):
        names = []
        for _ in range(n):
            r = get(port, "/")
            self.assertEqual(r.status, 200, r)
            names.append(r.header("X-Backend"))
        return names

    def state(self, api, name):
        st, _, q = api.call("GET", "/v1/query")
        self.assertEqual(st, 200, q)
        rows = [b for b in q["backends"] if b["name"] == name]
        return rows[0]["state"] if rows else None

    def daemon(self, static):
        """sluice with one static backend behind "/" (lease 1 s), its proxy
        port, admin port, admin client and a fresh agent token."""
        port, admin_port = free_port(), free_port()
        svc = service([backend_entry("static1", static.port)], panic_threshold=0)
        cfg = config([http_listener(port)], {"api": svc}, [endpoint("/", [route("api")])],
                     agents={"lease": "1s", "expire": "60s"})
        cfg["admin"] = {"bind": "127.0.0.1:%d" % admin_port}
        api = self.sluice(cfg).admin()
        self.addCleanup(api.close)
        st, _, tok = api.call("POST", "/v1/tokens", {"scope": "agent", "name": "host1"})
        self.assertEqual(st, 201, tok)
        return port, admin_port, api, tok["token"]

    def test_agent_against_the_daemon(self):
        static, target = self.backend("static1"), self.backend("ag1")
        port, admin_port, api, token = self.daemon(static)
        p = self.agent(admin_port, "127.0.0.1:%d" % target.port, "--name", "ag1",
                       "--label", "role=agent", "--location", "city=Lyon,country=FR",
                       "--load-cmd", "echo 42", "--heartbeat", "200ms", "--token", token)
        self.wait_log(p, "registered id=ag_")
        self.assertTrue(wait_until(lambda: "ag1" in self.served_by(port), WAIT))
        st, _, q = api.call("GET", "/v1/query")
        row = [b for b in q["backends"] if b["name"] == "ag1"][0]
        self.assertEqual((row["origin"], row["state"], row["labels"]),
                         ("agent", "up", {"role": "agent"}), row)
        self.assertTrue(wait_until(lambda: [b for b in api.call("GET", "/v1/query")[2]["backends"]
                                            if b["name"] == "ag1"][0].get("load") == 42, WAIT))
        self.assertEqual(row["location"]["city"], "Lyon")

        p.send_signal(signal.SIGSTOP)
        try:
            self.assertTrue(wait_until(lambda: self.state(api, "ag1") == "disconnected", WAIT))
            self.assertEqual(set(self.served_by(port)), {"static1"})
        finally:
            p.send_signal(signal.SIGCONT)
        self.assertTrue(wait_until(lambda: self.state(api, "ag1") == "up", WAIT))
        self.assertTrue(wait_until(lambda: "ag1" in self.served_by(port), WAIT))

        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(WAIT + 20), 0)
        self.assertIn("deregistered id=ag_", self.log_of(p))
        self.assertIsNone(self.state(api, "ag1"))
        self.assertEqual(set(self.served_by(port)), {"static1"})

    def test_refusals_from_the_daemon_exit_1(self):
        static, target = self.backend("static1"), self.backend("t")
        _, admin_port, _, token = self.daemon(static)
        cases = [(["--token", "not-a-token"], "401"),
                 (["--token", token, "--name", "static1"], "409 name_in_use")]
        for extra, want in cases:
            p = self.agent(admin_port, "127.0.0.1:%d" % target.port, *extra)
            self.assertEqual(p.wait(WAIT), 1, self.log_of(p))
            self.assertIn("registration refused: " + want, self.log_of(p))


if __name__ == "__main__":
    unittest.main(verbosity=2)
