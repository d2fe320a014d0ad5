"""The admin API client verbs (sluice query, backend, service, endpoint,
route, shape, token).

FakeApiTest runs them against a small stand-in API server (http.server)
that records every request and answers canned JSON: it checks the exact
method, path, headers and body each verb sends, the tables and --json
output, exit codes 0/1/2, and where the server and token come from.
DaemonTest runs them against `sluice serve` when its admin API answers
(skipped until the daemon serves /v1)."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (BIN, SRC, SluiceCase, backend_entry, can_connect, config,  # noqa: E402
                        endpoint, free_port, get, http_listener, main, route, service,
                        wait_until)

QUERY = {
    "endpoints": [
        {"pattern": "example.com/api", "routes": [
            {"id": "route000", "service": "api", "selector": "version=v1", "weight": 90,
             "backends": ["api-1"]},
            {"id": "route001", "service": "api", "selector": "version=v2", "weight": 10,
             "backends": ["api-2"]}]},
    ],
    "backends": [
        {"name": "api-1", "service": "api", "origin": "static", "target": "127.0.0.1:3001",
         "weight": 1, "state": "up", "health": "healthy", "score": 3, "active": 2,
         "requests": 1234, "labels": {"version": "v1"}, "rps": 12.345, "load": None,
         "location": None},
        {"name": "api-22", "service": "api", "origin": "dynamic", "target": "10.0.0.22:3002",
         "weight": 100, "state": "draining", "health": "unhealthy", "score": -3, "active": 0,
         "requests": 7, "labels": {"version": "v2"}},
        {"name": "edge-1", "service": "api", "origin": "agent", "target": "10.0.0.5:3000",
         "weight": 1, "state": "disconnected", "health": "healthy", "score": 0, "active": 0,
         "requests": 0, "labels": {"role": "agent"}, "rps": 0.0, "load": 42,
         "location": {"city": "S\u00e3o Paulo", "country": "BR", "lat": -23.55, "lon": -46.63}},
    ],
}
TOKENS = [
    {"id": "tok_000000000001", "name": "bootstrap", "scope": "admin", "created": 1764763200,
     "last_used": 1764766800},
    {"id": "tok_000000000002", "name": "ci", "scope": "read", "created": 1764763260,
     "last_used": 0},
]


class FakeApi:
    """Answers (method, path) from <routes> with (status, json); 404 else.
    Records (method, path, authorization, body-as-JSON)."""

    def __init__(self):
        self.requests = []
        self.routes = {}
        self.chunked = False
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = json.loads(raw) if raw else None
                api.requests.append((self.command, self.path,
                                     self.headers.get("Authorization"), body))
                status, answer = api.routes.get(
                    (self.command, self.path),
                    (404, {"error": {"code": "not_found", "message": "no such thing"}}))
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if api.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(data), 7):
                        part = data[i:i + 7]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def cli(args, env=None, cwd=None, stdin=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") or k == "SLUICE_BIN"}
    e.update(env or {})
    p = subprocess.run([BIN] + list(args), input=stdin, capture_output=True, timeout=30,
                       env=e, cwd=cwd)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class FakeApiTest(SluiceCase):
    def setUp(self):
        self.api = FakeApi()
        self.addCleanup(self.api.stop)
        self.g = ["--server", self.api.url, "--token", "slk_test"]

    def ok(self, args, **kw):
        rc, out, err = cli(self.g + list(args), **kw)
        self.assertEqual(rc, 0, "%s: %s%s" % (args, out, err))
        return out

    def last(self):
        self.assertTrue(self.api.requests, "no request reached the server")
        return self.api.requests[-1]

    def test_query_tables_and_json(self):
        self.api.routes[("GET", "/v1/query")] = (200, QUERY)
        out = self.ok(["query"])
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["ENDPOINT", "ROUTE", "SERVICE", "SELECTOR", "WEIGHT",
                                            "BACKENDS"])
        self.assertIn("example.com/api  route000  api      version=v1  90      api-1", out)
        head = [l for l in lines if l.startswith("NAME")][0]
        self.assertEqual(head.split(), ["NAME", "SERVICE", "TARGET", "WEIGHT", "STATE", "HEALTH",
                                        "ACTIVE", "RPS", "LOAD", "LOCATION"])
        rows = lines[lines.index(head) + 1:]
        self.assertEqual(rows[0].split(), ["api-1", "api", "127.0.0.1:3001", "1", "up", "healthy",
                                           "2", "12.3", "-", "-"])
        # absent fields (an older daemon) are "-" too
        self.assertEqual(rows[1].split()[-3:], ["-", "-", "-"])
        self.assertEqual(rows[2].split(), ["edge-1", "api", "10.0.0.5:3000", "1", "disconnected",
                                           "healthy", "0", "0.0", "42", "S\u00e3o", "Paulo,", "BR"])
        # aligned: every column starts at the same offset in every row
        self.assertEqual(head.index("TARGET"), rows[1].index("10.0.0.22:3002"))
        self.assertEqual(head.index("STATE"), rows[1].index("draining"))
        self.assertEqual(head.index("LOAD"), rows[2].index("42"))
        self.assertEqual(head.index("LOCATION"), rows[2].index("S\u00e3o Paulo, BR"))
        self.assertLessEqual(max(len(l) for l in rows), 100)
        self.assertEqual(self.last()[:3], ("GET", "/v1/query", "Bearer slk_test"))
        self.assertNotIn("inactive", out)
        q = dict(QUERY, conflicts=[{"kind": "backend", "key": "extra/x1",
                                    "reason": "service extra is not configured"}])
        self.api.routes[("GET", "/v1/query")] = (200, q)
        out = self.ok(["query"])
        self.assertIn("inactive stored changes", out)
        self.assertIn("backend  extra/x1  service extra is not configured", out)
        self.api.routes[("GET", "/v1/query")] = (200, QUERY)
        self.assertEqual(json.loads(self.ok(["query", "--json"])), QUERY)
        self.assertEqual(json.loads(self.ok(["--json", "query"])), QUERY)  # global before verb

    def test_query_filters_encoded(self):
        self.api.routes[("GET", "/v1/query?service=api&endpoint=example.com%2Fapi&"
                         "selector=version%3Dv2")] = (200, QUERY)
        self.ok(["query", "--service", "api", "--endpoint=example.com/api",
                 "--selector", "version=v2"])

    def test_chunked_response(self):
        self.api.chunked = True
        self.api.routes[("GET", "/v1/query")] = (200, QUERY)
        self.assertEqual(json.loads(self.ok(["query", "--json"])), QUERY)

    def test_backend_verbs(self):
        self.api.routes[("POST", "/v1/services/api/backends")] = (201, {"name": "api-3"})
        out = self.ok(["backend", "add", "api", "api-3", "10.0.0.3:80", "--weight", "5",
                       "--label", "version=v2", "--label=zone=a", "--connect-timeout", "2s",
                       "--first-byte-timeout", "30s", "--between-bytes-timeout", "10s",
                       "--override-host", "api.internal"])
        self.assertIn("added backend api-3", out)
        self.assertEqual(self.last()[3], {
            "name": "api-3", "target": "10.0.0.3:80", "weight": 5,
            "labels": {"version": "v2", "zone": "a"}, "connect_timeout": "2s",
            "first_byte_timeout": "30s", "between_bytes_timeout": "10s",
            "override_host": "api.internal"})
        p = "/v1/services/api/backends/api-3"
        for args, body in ((["drain"], {"drain": True}), (["undrain"], {"drain": False}),
                           (["weight", "api", "api-3", "7"], {"weight": 7}),
                           (["mark", "api", "api-3", "unhealthy"], {"health": "unhealthy"}),
                           (["mark", "api", "api-3", "healthy"], {"health": "healthy"})):
            self.api.routes[("PATCH", p)] = (200, {})
            full = args if len(args) > 1 else args + ["api", "api-3"]
            self.ok(["backend"] + full)
            self.assertEqual(self.last()[:2], ("PATCH", p))
            self.assertEqual(self.last()[3], body)
        self.api.routes[("DELETE", p)] = (204, None)
        self.assertIn("removed backend api-3", self.ok(["backend", "rm", "api", "api-3"]))
        self.assertEqual(self.last()[:2], ("DELETE", p))

    def test_refused_call_exits_1_with_api_message(self):
        self.api.routes[("POST", "/v1/services/web/backends")] = (409, {"error": {
            "code": "name_in_use", "message": "backend name api-1 is used by service api"}})
        rc, out, err = cli(self.g + ["backend", "add", "web", "api-1", "10.0.0.1:80"])
        self.assertEqual(rc, 1)
        self.assertEqual(err.strip(),
                         "sluice: 409 name_in_use: backend name api-1 is used by service api")
        rc, out, err = cli(self.g + ["service", "get", "nope"])
        self.assertEqual((rc, err.strip()), (1, "sluice: 404 not_found: no such thing"))

    def test_service_verbs(self):
        snap = {"strategy": "round_robin", "backends": [{"name": "a", "target": "127.0.0.1:1"}]}
        self.api.routes[("GET", "/v1/services/api")] = (200, snap)
        self.assertEqual(json.loads(self.ok(["service", "get", "api"])), snap)
        self.api.routes[("PUT", "/v1/services/api")] = (200, snap)
        f = os.path.join(self.tmp, "svc.json")
        with open(f, "w") as fh:
            json.dump(snap, fh)
        self.ok(["service", "put", "api", f])
        self.assertEqual(self.last()[3], snap)
        self.ok(["service", "put", "api", "-"], stdin=json.dumps(snap).encode())
        self.assertEqual(self.last()[3], snap)
        rc, out, err = cli(self.g + ["service", "put", "api", "-"], stdin=b"strategy: x\n")
        self.assertEqual(rc, 1)
        self.assertIn("<stdin>", err)
        self.api.routes[("DELETE", "/v1/services/api")] = (204, None)
        self.ok(["service", "rm", "api"])
        self.assertEqual(self.last()[:2], ("DELETE", "/v1/services/api"))

    def test_endpoint_route_shape(self):
        ep = "/v1/endpoints/example.com%2Fapi"
        self.api.routes[("PUT", ep)] = (200, {})
        self.ok(["endpoint", "add", "example.com/api", "--route", "api:version=v1=90",
                 "--route", "api:version=v2=10", "--route", "api",
                 "--route", "web=5", "--route", "api:version=10"])
        self.assertEqual(self.last()[3], {"routes": [
            {"service": "api", "selector": "version=v1", "weight": 90},
            {"service": "api", "selector": "version=v2", "weight": 10},
            {"service": "api"},
            {"service": "web", "weight": 5},
            {"service": "api", "selector": "version=10"}]})
        self.api.routes[("DELETE", ep)] = (204, None)
        self.ok(["endpoint", "rm", "example.com/api"])
        self.assertEqual(self.last()[:2], ("DELETE", ep))
        self.api.routes[("POST", ep + "/routes")] = (201, {"id": "route002"})
        out = self.ok(["route", "add", "example.com/api", "api", "--selector", "version=v3",
                       "--weight", "0"])
        self.assertIn("route002", out)
        self.assertEqual(self.last()[3], {"service": "api", "selector": "version=v3",
                                          "weight": 0})
        self.api.routes[("PATCH", ep + "/routes/route002")] = (200, {})
        self.ok(["route", "weight", "example.com/api", "route002", "25"])
        self.assertEqual(self.last()[3], {"weight": 25})
        self.api.routes[("DELETE", ep + "/routes/route002")] = (204, None)
        self.ok(["route", "rm", "example.com/api", "route002"])
        self.api.routes[("PUT", "/v1/endpoints/%2Fapi/shape")] = (200, {})
        self.ok(["shape", "/api", "route000=90", "route001=10"])
        self.assertEqual(self.last()[3], {"route000": 90, "route001": 10})

    def test_token_verbs(self):
        self.api.routes[("POST", "/v1/tokens")] = (201, {
            "id": "tok_000000000003", "token": "slk_" + "ab" * 16, "name": "deploy",
            "scope": "agent"})
        rc, out, err = cli(self.g + ["token", "create", "--scope", "agent", "--name", "deploy"])
        self.assertEqual(rc, 0, err)
        self.assertIn("tok_000000000003", out)
        self.assertIn("slk_" + "ab" * 16, out)
        self.assertIn("only once", err)
        self.assertEqual(self.last()[3], {"scope": "agent", "name": "deploy"})
        self.api.routes[("GET", "/v1/tokens")] = (200, TOKENS)
        out = self.ok(["token", "list"]).splitlines()
        self.assertEqual(out[0].split(), ["ID", "NAME", "SCOPE", "CREATED", "LAST", "USED"])
        self.assertEqual(out[1].split(), ["tok_000000000001", "bootstrap", "admin", "2025-12-03",
                                          "12:00:00", "2025-12-03", "13:00:00"])
        self.assertEqual(out[2].split()[-1], "never")
        self.assertEqual(json.loads(self.ok(["token", "list", "--json"])), TOKENS)
        self.api.routes[("DELETE", "/v1/tokens/tok_000000000002")] = (204, None)
        self.ok(["token", "revoke", "tok_000000000002"])
        self.assertEqual(self.last()[:2], ("DELETE", "/v1/tokens/tok_000000000002"))

    def test_usage_errors_exit_2(self):
        for args in (["frobnicate"], ["backend"], ["backend", "fly"],
                     ["backend", "add", "api", "a"], ["backend", "rm", "a", "b", "c"],
                     ["query", "--bogus", "x"], ["backend", "weight", "api", "a", "heavy"],
                     ["backend", "mark", "api", "a", "sick"], ["token", "create"],
                     ["shape", "/api", "route000"], ["query", "--service"],
                     ["backend", "weight", "api", "a", "10001"],
                     ["endpoint", "add", "/x", "--route", ":zone=a"],
                     ["route", "add", "/x", "", "--selector", "zone=a"]):
            rc, out, err = cli(self.g + args)
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            self.assertIn("sluice", err)
        self.assertEqual(self.api.requests, [])
        rc, _, err = cli(self.g + ["query", "--bogus"])
        self.assertEqual(rc, 2)
        self.assertIn("unknown option '--bogus'", err)
        self.assertNotIn("SUBCOMMAND", err)  # query has none
        rc, _, err = cli(self.g + ["backend", "weight", "api", "a", "abc"])
        self.assertIn("0..10000", err)
        rc, _, err = cli(self.g + ["endpoint", "add", "/x", "--route", ":zone=a"])
        self.assertIn("needs a service", err)

    def test_help_everywhere(self):
        rc, out, _ = cli(["--help"])
        self.assertEqual(rc, 0)
        for verb in ("query", "backend", "service", "endpoint", "route", "shape", "token"):
            self.assertIn(verb, out)
            rc, vout, _ = cli([verb, "--help"])
            self.assertEqual(rc, 0, verb)
            self.assertIn("usage: sluice " + verb, vout)
        for verb, sub in (("backend", "add"), ("backend", "mark"), ("service", "put"),
                          ("endpoint", "add"), ("route", "weight"), ("token", "create")):
            rc, out, _ = cli([verb, sub, "--help"])
            self.assertEqual(rc, 0)
            self.assertIn("usage: sluice %s %s" % (verb, sub), out)
        self.assertEqual(self.api.requests, [])

    def test_unreachable_server_exits_1(self):
        port = free_port()
        rc, out, err = cli(["query", "--server", "http://127.0.0.1:%d" % port, "--token", "x"])
        self.assertEqual(rc, 1)
        self.assertIn("cannot reach the admin API at http://127.0.0.1:%d" % port, err)

    def test_server_and_token_sources(self):
        self.api.routes[("GET", "/v1/tokens")] = (200, [])
        # environment
        rc, _, err = cli(["token", "list"], env={"SLUICE_SERVER": self.api.url,
                                                 "SLUICE_TOKEN": "slk_env"})
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()[2], "Bearer slk_env")
        # options win over the environment
        rc, _, err = cli(["token", "list", "--token=slk_opt", "--server", self.api.url],
                         env={"SLUICE_SERVER": "http://127.0.0.1:1", "SLUICE_TOKEN": "slk_env"})
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()[2], "Bearer slk_opt")
        # no token anywhere: a usage error that says how to pass one
        rc, _, err = cli(["token", "list"], env={"SLUICE_SERVER": self.api.url}, cwd=self.tmp)
        self.assertEqual(rc, 2)
        self.assertIn("--token", err)
        self.assertIn("SLUICE_TOKEN", err)
        # ./admin.token without -c
        with open(os.path.join(self.tmp, "admin.token"), "w") as f:
            f.write("slk_cwdfile\n")
        rc, _, err = cli(["token", "list"], env={"SLUICE_SERVER": self.api.url}, cwd=self.tmp)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()[2], "Bearer slk_cwdfile")
        # -c CONFIG: its admin.bind, and admin.token beside its state store
        d = os.path.join(self.tmp, "etc")
        os.makedirs(os.path.join(d, "data"))
        body = ("listeners:\n  - {name: web, bind: 127.0.0.1:%d, mode: http}\n"
                "services:\n  app:\n    backends:\n"
                "      - {name: a1, target: 127.0.0.1:9}\n"
                "endpoints:\n  - pattern: /\n    routes:\n      - {service: app}\n"
                % free_port())
        for state, token_file, where in (
                (None, None, os.path.join(d, "admin.token")),
                (os.path.join(d, "data", "s.db"), None, os.path.join(d, "data", "admin.token")),
                (os.path.join(d, "data", "s.db"), "t/tok", os.path.join(d, "data", "t", "tok"))):
            with open(os.path.join(d, "sluice.yaml"), "w") as f:
                f.write("admin:\n  bind: 127.0.0.1:%d\n" % self.api.port)
                if token_file:
                    f.write("  token_file: %s\n" % token_file)
                if state:
                    f.write("state: %s\n" % state)
                f.write(body)
            os.makedirs(os.path.dirname(where), exist_ok=True)
            with open(where, "w") as f:
                f.write("slk_bootstrap_%d\n" % len(where))
            rc, _, err = cli(["-c", os.path.join(d, "sluice.yaml"), "token", "list"])
            self.assertEqual(rc, 0, err)
            self.assertEqual(self.last()[2], "Bearer slk_bootstrap_%d" % len(where))
            os.unlink(where)
        rc, _, err = cli(["-c", os.path.join(d, "sluice.yaml"), "token", "list"])
        self.assertEqual(rc, 2)
        self.assertIn(os.path.join(d, "data", "t", "tok"), err)


class CompletionTest(SluiceCase):
    """contrib/sluice.bash-completion, sourced in bash: COMPREPLY for a few
    prefixes (no server reachable: names are simply not offered)."""

    def complete(self, words):
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sluice; '
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        p = subprocess.run(["bash", "-c", script, "x",
                            os.path.join(SRC, "contrib", "sluice.bash-completion")] + words,
                           capture_output=True, timeout=30,
                           env=dict(os.environ, SLUICE_SERVER="http://127.0.0.1:%d" % free_port()))
        self.assertEqual(p.returncode, 0, p.stderr)
        return sorted(x for x in p.stdout.decode().split("\n") if x)

    def test_prefixes(self):
        self.assertEqual(self.complete(["sluice", "ba"]), ["backend"])
        self.assertEqual(self.complete(["sluice", "s"]), ["serve", "service", "shape"])
        self.assertEqual(self.complete(["sluice", "backend", "d"]), ["drain"])
        self.assertEqual(self.complete(["sluice", "--json", "token", ""]),
                         ["--help", "create", "list", "revoke"])
        self.assertEqual(self.complete(["sluice", "backend", "add", "--w"]), ["--weight"])
        self.assertEqual(self.complete(["sluice", "token", "create", "--scope", ""]),
                         ["admin", "agent", "read"])
        self.assertEqual(self.complete(["sluice", "backend", "mark", "api", "a1", "un"]),
                         ["unhealthy"])
        self.assertIn("--server", self.complete(["sluice", "query", "--s"]))


class DaemonTest(SluiceCase):
    """Every verb against `sluice serve` with an admin section (skipped
    while the daemon does not serve the admin API)."""

    def ok(self, args, **kw):
        rc, out, err = cli(self.c + list(args), **kw)
        self.assertEqual(rc, 0, "%s: %s%s" % (args, out, err))
        return out

    def refused(self, args, want, **kw):
        rc, out, err = cli(self.c + list(args), **kw)
        self.assertEqual(rc, 1, "%s: %s%s" % (args, out, err))
        self.assertIn(want, err)

    def query(self):
        return json.loads(self.ok(["query", "--json"]))

    def find_backend(self, q, name):
        return [b for b in q["backends"] if b["name"] == name][0]

    def test_against_daemon(self):
        b, b2 = self.backend("b1"), self.backend("b2")
        admin_port, port = free_port(), free_port()
        cfg = config([http_listener(port)],
                     {"api": service([backend_entry("api-1", b.port, {"version": "v1"})])},
                     [endpoint("example.com/api", [route("api", "version=v1", 100)])],
                     admin={"bind": "127.0.0.1:%d" % admin_port})
        d = self.sluice(cfg)
        deadline = time.monotonic() + 3
        while not can_connect(admin_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not can_connect(admin_port):
            self.skipTest("the daemon does not serve the admin API yet")
        self.c = ["-c", d.config_path]
        url = "http://127.0.0.1:%d" % admin_port

        # query: tables and --json, bootstrap token found through -c
        out = self.ok(["query"])
        self.assertRegex(out, r"example.com/api +route000 +api +version=v1 +100 +api-1")
        self.assertRegex(out, r"api-1 +api +127.0.0.1:%d +1 +up " % b.port)
        self.assertEqual([x["name"] for x in self.query()["backends"]], ["api-1"])

        # backend add/drain/undrain/weight/mark/rm
        out = self.ok(["backend", "add", "api", "api-2", "127.0.0.1:%d" % b2.port,
                       "--label", "version=v2", "--weight", "2", "--connect-timeout", "2s",
                       "--json"])
        self.assertEqual(json.loads(out)["origin"], "dynamic")
        self.refused(["backend", "add", "api", "api-2", "127.0.0.1:%d" % b2.port],
                     "409 name_in_use")
        self.refused(["backend", "add", "api", "api-9", "nohost:"], "400 invalid_target")
        self.ok(["backend", "drain", "api", "api-2"])
        self.assertEqual(self.find_backend(self.query(), "api-2")["state"], "draining")
        self.ok(["backend", "undrain", "api", "api-2"])
        self.ok(["backend", "weight", "api", "api-2", "3"])
        self.ok(["backend", "mark", "api", "api-2", "unhealthy"])
        q = self.find_backend(self.query(), "api-2")
        self.assertEqual((q["weight"], q["health"]), (3, "unhealthy"))
        self.assertNotEqual(q["state"], "draining")
        self.ok(["backend", "mark", "api", "api-2", "healthy"])
        self.refused(["backend", "drain", "api", "nope"], "404")

        # routes and shape
        self.assertIn("route001", self.ok(["route", "add", "example.com/api", "api",
                                           "--selector", "version=v2", "--weight", "0"]))
        self.ok(["shape", "example.com/api", "route000=90", "route001=10"])
        self.refused(["shape", "example.com/api", "route000=90"], "400")
        self.ok(["route", "weight", "example.com/api", "route001", "20"])
        routes = {r["id"]: r["weight"] for r in self.query()["endpoints"][0]["routes"]}
        self.assertEqual(routes, {"route000": 90, "route001": 20})
        self.ok(["route", "rm", "example.com/api", "route001"])

        # endpoints
        self.ok(["endpoint", "add", "/v2", "--route", "api:version=v2=1"])
        eps = {e["pattern"]: e for e in self.query()["endpoints"]}
        self.assertEqual(eps["/v2"]["routes"][0]["backends"], ["api-2"])
        self.ok(["endpoint", "rm", "/v2"])
        self.refused(["endpoint", "rm", "/v2"], "404")

        # services: get, put (a file and stdin), rm refused while routed
        snap = json.loads(self.ok(["service", "get", "api"]))
        self.assertEqual(snap["strategy"], "round_robin")
        self.refused(["service", "rm", "api"], "409 in_use")
        # As docs/cli.md says: the snapshot goes back once its name and the
        # backends' run-time fields are stripped, and not before.
        self.refused(["service", "put", "api", "-"], "unknown key 'name'",
                     stdin=json.dumps(snap).encode())
        run_time = ("service", "origin", "owner", "state", "health", "score", "failures",
                    "active", "requests", "rps", "load", "location", "connected_at")
        del snap["name"]
        snap["backends"] = [{k: v for k, v in b.items() if k not in run_time}
                            for b in snap["backends"]]
        self.ok(["service", "put", "api", "-"], stdin=json.dumps(snap).encode())
        f = os.path.join(self.tmp, "extra.json")
        with open(f, "w") as fh:
            json.dump({"strategy": "random", "backends": [
                {"name": "x-1", "target": "127.0.0.1:%d" % free_port()}]}, fh)
        self.ok(["service", "put", "extra", f])
        self.ok(["service", "put", "extra", "-"], stdin=json.dumps(
            {"strategy": "round_robin", "backends": []}).encode())
        self.ok(["service", "rm", "extra"])
        self.refused(["service", "get", "extra"], "404")
        self.ok(["backend", "rm", "api", "api-2"])

        # tokens: a read token can query but not change; env and ./admin.token
        out = self.ok(["token", "create", "--scope", "read", "--name", "ro"])
        secret = out.split()[-1]
        tid = out.split()[2]
        out = self.ok(["token", "list"])
        self.assertRegex(out, r"ID +NAME +SCOPE +CREATED +LAST USED")
        self.assertRegex(out, r"%s +ro +read +\S+ \S+ +never" % tid)
        env = {"SLUICE_SERVER": url, "SLUICE_TOKEN": secret}
        rc, out, err = cli(["query"], env=env)
        self.assertEqual(rc, 0, err)
        rc, out, err = cli(["backend", "weight", "api", "api-1", "2"], env=env)
        self.assertEqual(rc, 1)
        self.assertIn("403", err)
        rc, out, err = cli(["query", "--token", "slk_" + "0" * 32], env=env)
        self.assertEqual(rc, 1)
        self.assertIn("401", err)
        rc, out, err = cli(["--server", url, "token", "list"], cwd=self.tmp)  # ./admin.token
        self.assertEqual(rc, 0, err)
        self.ok(["token", "revoke", tid])
        rc, out, err = cli(["query"], env=env)
        self.assertEqual(rc, 1)
        self.assertIn("401", err)
        boot = [t for t in json.loads(self.ok(["token", "list", "--json"]))
                if t["name"] == "bootstrap"][0]
        self.refused(["token", "revoke", boot["id"]], "409")

    def test_agent_in_query(self):
        """An agent registered over raw HTTP (token from `sluice token
        create --scope agent`) shows its load, rps and location in the
        `sluice query` table while traffic reaches it through the proxy."""
        static, edge = self.backend("static1"), self.backend("edge-1")
        admin_port, port = free_port(), free_port()
        cfg = config([http_listener(port)],
                     {"app": service([backend_entry("static1", static.port, {"role": "static"})],
                                     panic_threshold=0)},
                     [endpoint("/", [route("app", selector="role=agent")])],
                     admin={"bind": "127.0.0.1:%d" % admin_port},
                     agents={"lease": "30s", "expire": "60s"})
        d = self.sluice(cfg)
        self.c = ["-c", d.config_path]
        out = self.ok(["token", "create", "--scope", "agent", "--name", "edge"])
        self.assertIn("(agent scope)", out)
        secret = out.splitlines()[-1]
        api = d.admin()
        self.addCleanup(api.close)
        body = {"service": "app", "name": "edge-1", "target": "127.0.0.1:%d" % edge.port,
                "labels": {"role": "agent"},
                "location": {"city": "Paris", "country": "FR", "lat": 48.85, "lon": 2.35}}
        st, _, reg = api.call("POST", "/v1/agents", body, token=secret)
        self.assertEqual(st, 201, reg)
        st, _, hb = api.call("POST", "/v1/agents/%s/heartbeat" % reg["id"],
                             {"load": 42, "healthy": True}, token=secret)
        self.assertEqual(st, 200, hb)

        # Traffic through the proxy, bounded in time, while we read the table.
        stop, served = threading.Event(), []

        def traffic():
            deadline = time.monotonic() + 20
            while not stop.is_set() and time.monotonic() < deadline:
                served.append(get(port, "/").header("X-Backend"))
                time.sleep(0.01)
        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        self.addCleanup(t.join, 5)
        self.addCleanup(stop.set)

        def edge_row():
            lines = self.ok(["query"]).splitlines()
            head = [l for l in lines if l.startswith("NAME")][0]
            rows = {l.split()[0]: l for l in lines[lines.index(head) + 1:] if l.strip()}
            cols = head.split()
            row = rows["edge-1"]
            # cells by heading offset (LOCATION holds blanks)
            starts = [head.index(c) for c in cols] + [None]
            return {c: row[starts[i]:starts[i + 1]].strip() for i, c in enumerate(cols)}, rows

        self.assertTrue(wait_until(lambda: float(edge_row()[0]["RPS"]) > 0, timeout=10),
                        edge_row())
        stop.set()
        cells, rows = edge_row()
        self.assertEqual((cells["STATE"], cells["LOAD"], cells["LOCATION"]),
                         ("up", "42", "Paris, FR"), cells)
        self.assertRegex(cells["RPS"], r"^\d+\.\d$")
        self.assertTrue(served and set(served) == {"edge-1"}, set(served))
        # A static backend has no load and no location.
        self.assertRegex(rows["static1"], r" - +-$")


if __name__ == "__main__":
    main()
