"""The admin API over real HTTP against `sluice serve`: every call, every
error, tokens of each scope, keep-alive, the 1 MiB and 256-connection
limits, the bootstrap token file and the audit lines (docs/api.md)."""
import json
import os
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sluicetest import (SluiceCase, backend_entry, config, endpoint, free_port,  # noqa: E402
                        http_listener, main, route, service, wait_until)


def api_config(backends, admin_port, **admin):
    a = {"bind": "127.0.0.1:%d" % admin_port}
    a.update(admin)
    cfg = config([http_listener(free_port())],
                 {"app": service([backend_entry(b.name, b.port) for b in backends])},
                 [endpoint("/", [route("app")])])
    cfg["admin"] = a
    return cfg


def raw_exchange(port, data, timeout=5.0):
    """Sends <data> on a fresh connection, returns all it gets until close
    (or the timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


class ApiCase(SluiceCase):
    def start_api(self, **admin):
        self.b1 = self.backend("b1")
        self.aport = free_port()
        self.d = self.sluice(api_config([self.b1], self.aport, **admin))
        self.api = self.d.admin()
        self.addCleanup(self.api.close)
        return self.d

    def token(self, scope, name=None):
        st, _, body = self.api.call("POST", "/v1/tokens", {"scope": scope, "name": name or scope})
        self.assertEqual(st, 201, body)
        return body

    def assertError(self, got, status, code=None):
        st, _, body = got
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIn("error", body)
        self.assertIn("message", body["error"])
        if code is not None:
            self.assertEqual(body["error"]["code"], code, body)


class TestBasics(ApiCase):
    def test_healthz_needs_no_token(self):
        self.start_api()
        st, hs, body = self.api.call("GET", "/healthz", token="")
        self.assertEqual((st, body), (200, {"status": "ok"}))
        self.assertEqual(hs["content-type"], "application/json")
        self.assertEqual(hs["cache-control"], "no-store")
        self.assertIn("content-length", hs)

    def test_bootstrap_token_file(self):
        d = self.start_api()
        path = os.path.join(self.tmp, "admin.token")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600)
        with open(path) as f:
            secret = f.read().strip()
        self.assertTrue(secret.startswith("slk_"), secret)
        self.assertEqual(self.api.call("GET", "/v1/query")[0], 200)
        err = d.stderr()
        self.assertIn("admin: first start: an admin token was written to", err)
        self.assertNotIn(secret, err)
        # A second start on the same store creates none and keeps the file.
        d.stop()
        d.start()
        with open(path) as f:
            self.assertEqual(f.read().strip(), secret)
        self.assertEqual(d.stderr().count("first start"), 1)

    def test_non_loopback_bind_is_a_warning(self):
        b = self.backend("b1")
        port = free_port()
        cfg = api_config([b], port)
        cfg["admin"]["bind"] = "0.0.0.0:%d" % port
        d = self.sluice(cfg, start=False)
        d.cfg["admin"]["bind"] = "127.0.0.1:%d" % port  # where wait_ready probes
        d.start()
        self.assertIn("is not a loopback address", d.stderr())
        api = d.admin()
        self.addCleanup(api.close)
        self.assertEqual(api.call("GET", "/healthz")[0], 200)

    def test_admin_port_taken_even_with_reuseport(self):
        """admin.bind held by another SO_REUSEPORT socket: serve exits naming it, no silent share"""
        port = free_port()
        other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", port))
        other.listen(4)
        d = self.sluice(api_config([self.backend("b1")], port), start=False)
        d.start(wait=False)
        self.assertTrue(wait_until(lambda: not d.alive(), 10), "serve kept running")
        self.assertNotEqual(d.proc.returncode, 0)
        self.assertIn("admin.bind 127.0.0.1:%d: Address already in use" % port, d.stderr())

    def test_warnings_say_warn_once(self):
        b = self.backend("b1")
        port = free_port()
        cfg = api_config([b], port)
        cfg["services"]["app"]["health"] = {"check": "http", "path": "/healthz"}
        d = self.sluice(cfg)
        wait_until(lambda: "TCP connect" in d.stderr())
        self.assertNotIn("warn warning:", d.stderr())
        api = d.admin()
        self.addCleanup(api.close)
        st, _, body = api.call("POST", "/v1/tokens", {"scope": "agent", "name": "ag"})
        self.assertEqual(st, 201, body)
        got = api.call("PUT", "/v1/services/app", {}, token=body["token"])
        self.assertError(got, 403, "forbidden")
        self.assertIn("an agent token cannot", got[2]["error"]["message"])

    def test_keep_alive_many_requests_one_connection(self):
        self.start_api()
        sock_before = None
        for i in range(20):
            st, hs, _ = self.api.call("GET", "/v1/query")
            self.assertEqual(st, 200)
            self.assertNotEqual(hs.get("connection", "").lower(), "close")
            s = self.api.conn.sock
            if sock_before is None:
                sock_before = s
            self.assertIs(s, sock_before, "the connection was reopened at request %d" % i)

    def test_pipelined_requests(self):
        self.start_api()
        out = raw_exchange(self.aport, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                           b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 2, out)

    def test_malformed_request_is_400_json_and_closes(self):
        self.start_api()
        out = raw_exchange(self.aport, b"GET /healthz HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)
        body = out.split(b"\r\n\r\n", 1)[1]
        self.assertEqual(json.loads(body)["error"]["code"], "invalid_request")
        self.assertIn(b"Connection: close", out)

    def test_body_over_1mib_is_413_unread(self):
        self.start_api()
        tok = self.api.token
        head = ("PUT /v1/services/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n"
                "Content-Length: %d\r\n\r\n" % (tok, 1024 * 1024 + 1)).encode()
        out = raw_exchange(self.aport, head)  # no body sent: must not wait for it
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out)
        self.assertIn(b'"too_large"', out)

    def test_body_of_exactly_1mib_is_read(self):
        self.start_api()
        body = b'{"x": "' + b"a" * (1024 * 1024 - 9) + b'"}'
        self.assertEqual(len(body), 1024 * 1024)
        st, _, got = self.api.call("PUT", "/v1/services/big", body)
        self.assertEqual(st // 100, 4, got)  # read, then refused as a service
        self.assertNotEqual(st, 413)

    def test_chunked_body(self):
        self.start_api()
        body = json.dumps({"service": "app", "weight": 1}).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5])
                          for i in range(0, len(body), 5)) + b"0\r\n\r\n"
        self.api.call("PUT", "/v1/endpoints/ex.com", {"routes": [{"service": "app"}]})
        req = ("POST /v1/endpoints/ex.com/routes HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n"
               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % self.api.token).encode()
        out = raw_exchange(self.aport, req + chunks)
        self.assertTrue(out.startswith(b"HTTP/1.1 201 "), out)

    def test_connection_limit_256(self):
        self.start_api()
        socks = []
        try:
            for _ in range(256):
                socks.append(socket.create_connection(("127.0.0.1", self.aport), timeout=5))
            # Each of the 256 is served.
            for s in socks[:3]:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200"))
            extra = socket.create_connection(("127.0.0.1", self.aport), timeout=5)
            socks.append(extra)
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            extra.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                extra.recv(100)  # waits in the backlog
            socks.pop(0).close()
            extra.settimeout(5.0)
            self.assertTrue(extra.recv(100).startswith(b"HTTP/1.1 200"))
        finally:
            for s in socks:
                s.close()


class TestAuth(ApiCase):
    def test_missing_and_unknown_token_401(self):
        self.start_api()
        for tok in ("", "slk_00000000000000000000000000000000", "garbage"):
            got = self.api.call("GET", "/v1/query", token=tok)
            self.assertError(got, 401, "unauthorized")
            self.assertEqual(got[1].get("www-authenticate"), "Bearer")
        got = self.api.call("GET", "/v1/query", token="",
                            headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertError(got, 401)

    def test_read_scope(self):
        self.start_api()
        r = self.token("read")["token"]
        self.assertEqual(self.api.call("GET", "/v1/query", token=r)[0], 200)
        self.assertEqual(self.api.call("GET", "/v1/services/app", token=r)[0], 200)
        self.assertError(self.api.call("PUT", "/v1/services/x", {}, token=r), 403, "forbidden")
        self.assertError(self.api.call("POST", "/v1/services/app/backends",
                                       {"name": "n", "target": "127.0.0.1:1"}, token=r), 403)
        self.assertError(self.api.call("DELETE", "/v1/services/app", token=r), 403)
        self.assertError(self.api.call("POST", "/v1/tokens", {"scope": "read", "name": "x"},
                                       token=r), 403)
        self.assertError(self.api.call("GET", "/v1/tokens", token=r), 403)

    def test_agent_scope_owns_its_backends(self):
        self.start_api()
        g1 = self.token("agent", "g1")["token"]
        g2 = self.token("agent", "g2")["token"]
        st, _, b = self.api.call("POST", "/v1/services/app/backends",
                                 {"name": "dyn1", "target": "127.0.0.1:%d" % free_port()}, token=g1)
        self.assertEqual(st, 201, b)
        self.assertEqual(b["name"], "dyn1")
        # Another agent may not touch it; a static backend neither.
        self.assertError(self.api.call("PATCH", "/v1/services/app/backends/dyn1", {"weight": 3},
                                       token=g2), 403, "forbidden")
        self.assertError(self.api.call("DELETE", "/v1/services/app/backends/dyn1", token=g2), 403,
                         "forbidden")
        self.assertError(self.api.call("DELETE", "/v1/services/app/backends/b1", token=g1), 403,
                         "forbidden")
        self.assertEqual(self.api.call("PATCH", "/v1/services/app/backends/dyn1", {"weight": 3},
                                       token=g1)[0], 200)
        # Agents do backends only.
        self.assertError(self.api.call("PUT", "/v1/services/app", {}, token=g1), 403)
        self.assertError(self.api.call("PUT", "/v1/endpoints/x", {"routes": []}, token=g1), 403)
        self.assertEqual(self.api.call("DELETE", "/v1/services/app/backends/dyn1",
                                       token=g1)[0], 204)

    def test_metrics_scope_and_public(self):
        self.start_api()
        self.assertError(self.api.call("GET", "/metrics", token=""), 401)
        st, hs, _ = self.api.call("GET", "/metrics", token=self.token("read")["token"])
        self.assertIn(st, (200, 503))
        if st == 200:
            self.assertEqual(hs["content-type"], "text/plain; version=0.0.4")

    def test_metrics_public(self):
        self.start_api(metrics_public=True)
        st, _, _ = self.api.call("GET", "/metrics", token="")
        self.assertIn(st, (200, 503))


class TestRouting(ApiCase):
    def test_unknown_paths_404(self):
        self.start_api()
        for p in ("/", "/v1", "/v2/query", "/v1/services", "/v1/services/app/nope",
                  "/v1/endpoints/x/routes/route000/extra", "/v1/tokens/a/b"):
            self.assertError(self.api.call("GET", p), 404, "not_found")

    def test_wrong_method_405_with_allow(self):
        self.start_api()
        cases = [("POST", "/v1/query", "GET"), ("POST", "/v1/services/app", "GET, PUT, DELETE"),
                 ("GET", "/v1/services/app/backends", "POST"),
                 ("GET", "/v1/endpoints/x/shape", "PUT"), ("PUT", "/v1/tokens", "GET, POST"),
                 ("DELETE", "/healthz", "GET")]
        for method, path, allow in cases:
            got = self.api.call(method, path, body={} if method in ("POST", "PUT") else None)
            self.assertError(got, 405, "method_not_allowed")
            self.assertEqual(got[1]["allow"], allow)

    def test_bad_bodies(self):
        self.start_api()
        for body in (b"{", b"[1, 2]", b"\"str\"", b"", b"{\"a\": 1, \"a\": 2}"):
            self.assertError(self.api.call("PUT", "/v1/services/x", body), 400, "invalid_json")
        self.assertError(self.api.call("POST", "/v1/services/app/backends",
                                       {"name": "n", "target": "127.0.0.1:1", "bogus": 1}),
                         400, "unknown_field")
        self.assertError(self.api.call("POST", "/v1/services/app/backends",
                                       {"name": "n", "target": "not a target"}),
                         400, "invalid_target")
        self.assertError(self.api.call("POST", "/v1/services/app/backends",
                                       {"name": "n", "target": "127.0.0.1:1", "weight": "x"}), 400)
        self.assertError(self.api.call("POST", "/v1/tokens", {"scope": "root", "name": "x"}), 400)
        self.assertError(self.api.call("POST", "/v1/tokens", {"scope": "read", "x": 1}), 400,
                         "unknown_field")
        self.assertError(self.api.call("GET", "/v1/services/%zz"), 400)


class TestJsonTypes(ApiCase):
    """A JSON body's types are checked, not read as YAML text: "5" is no
    integer and 5 is no string (400 invalid_field naming the field)."""

    def assertField(self, got, field, msg):
        self.assertError(got, 400, "invalid_field")
        self.assertIn(field, got[2]["error"]["message"], got)
        self.assertIn(msg, got[2]["error"]["message"], got)

    def test_wrong_types_are_400(self):
        self.start_api()
        t = "127.0.0.1:%d" % free_port()
        post = "/v1/services/app/backends"
        self.assertField(self.api.call("POST", post, {"name": "q1", "target": t, "weight": "5"}),
                         "weight", "expected an integer, got a string")
        self.assertField(self.api.call("POST", post, {"name": "q1", "target": 5}),
                         "target", "expected a string, got a number")
        self.assertField(self.api.call("POST", post, {"name": "q1", "target": t,
                                                      "labels": {"a": 1}}),
                         "a", "expected a string, got a number")
        self.assertField(self.api.call("POST", post, {"name": "q1", "target": t,
                                                      "override_host": 5}),
                         "override_host", "expected a string, got a number")
        self.assertField(self.api.call("POST", post, {"name": "q1", "target": t,
                                                      "connect_timeout": True}),
                         "connect_timeout", "got a boolean")
        # Durations take "2s" and bare milliseconds, as in the YAML.
        for ct in ("2s", 2000):
            st, _, b = self.api.call("POST", post, {"name": "q1", "target": t,
                                                    "connect_timeout": ct})
            self.assertEqual(st, 201, (ct, b))
            self.assertEqual(self.api.call("DELETE", post + "/q1")[0], 204)
        self.assertEqual(self.api.call("POST", post, {"name": "q1", "target": t})[0], 201)
        self.assertField(self.api.call("PATCH", post + "/q1", {"drain": "yes"}),
                         "drain", "expected true or false, got a string")
        self.assertField(self.api.call("PATCH", post + "/q1", {"weight": "5"}),
                         "weight", "expected an integer, got a string")
        self.assertError(self.api.call("PATCH", post + "/q1", {"health": True}), 400,
                         "invalid_field")
        self.assertField(self.api.call("PUT", "/v1/services/x", {"retries": "2"}),
                         "retries", "expected an integer, got a string")
        self.assertError(self.api.call("GET", "/v1/services/x"), 404)

    def test_route_ids_follow_the_name_syntax(self):
        self.start_api()
        for rid in ("", "a b", "x/y"):
            self.assertField(self.api.call("PUT", "/v1/endpoints/bad3.com",
                                           {"routes": [{"id": rid, "service": "app"}]}),
                             "id", "invalid route id '%s'" % rid)
        st, _, e = self.api.call("PUT", "/v1/endpoints/bad3.com",
                                 {"routes": [{"id": "ok-1.x_y", "service": "app"}]})
        self.assertEqual(st, 200, e)


class TestClashes(ApiCase):
    """A name taken elsewhere is 409 name_in_use; API nodes have no line,
    so no message says "on line 0"."""

    def test_backend_name_of_another_service_is_409(self):
        self.start_api()
        t = "127.0.0.1:%d" % free_port()
        got = self.api.call("PUT", "/v1/services/web3",
                            {"backends": [{"name": "b1", "target": t}]})
        self.assertError(got, 409, "name_in_use")
        self.assertIn("backend name 'b1' already used", got[2]["error"]["message"])
        self.assertIn("service app", got[2]["error"]["message"])
        self.assertEqual(self.api.call("POST", "/v1/services/app/backends",
                                       {"name": "d1", "target": t})[0], 201)
        got = self.api.call("PUT", "/v1/services/web4",
                            {"backends": [{"name": "d1", "target": t}]})
        self.assertError(got, 409, "name_in_use")
        self.assertNotIn("line 0", got[2]["error"]["message"])

    def test_no_line_0_in_messages(self):
        self.start_api()
        t = "127.0.0.1:%d" % free_port()
        got = self.api.call("PUT", "/v1/services/web5", {"backends": [
            {"name": "w1", "target": t}, {"name": "w1", "target": "127.0.0.1:1"}]})
        self.assertError(got, 400, "invalid_field")
        self.assertIn("backend name 'w1' already used in service web5",
                      got[2]["error"]["message"])
        got = self.api.call("PUT", "/v1/services/web5", {"backends": [
            {"name": "w1", "target": t}, {"name": "w2", "target": t}]})
        self.assertError(got, 400, "invalid_field")
        self.assertIn("target %s already used in this service" % t, got[2]["error"]["message"])
        got = self.api.call("PUT", "/v1/endpoints/r.com", {"routes": [
            {"id": "r", "service": "app"}, {"id": "r", "service": "app"}]})
        self.assertError(got, 400, "invalid_field")
        self.assertIn("route id 'r' already used in this endpoint", got[2]["error"]["message"])


class TestCalls(ApiCase):
    def test_services(self):
        self.start_api()
        st, _, s = self.api.call("GET", "/v1/services/app")
        self.assertEqual(st, 200, s)
        self.assertError(self.api.call("GET", "/v1/services/nope"), 404, "not_found")
        p = free_port()
        st, _, s = self.api.call("PUT", "/v1/services/other", {
            "strategy": "round_robin", "backends": [{"name": "o1", "target": "127.0.0.1:%d" % p}]})
        self.assertEqual(st, 200, s)
        q = self.api.call("GET", "/v1/query?service=other")[2]
        self.assertEqual([b["name"] for b in q["backends"]], ["o1"])
        # A route names app: 409 in_use; other is free to go.
        self.assertError(self.api.call("DELETE", "/v1/services/app"), 409, "in_use")
        st, _, body = self.api.call("DELETE", "/v1/services/other")
        self.assertEqual((st, body), (204, None))
        self.assertError(self.api.call("GET", "/v1/services/other"), 404)
        self.assertError(self.api.call("DELETE", "/v1/services/other"), 404)

    def test_backends(self):
        self.start_api()
        t = "127.0.0.1:%d" % free_port()
        st, _, b = self.api.call("POST", "/v1/services/app/backends",
                                 {"name": "d1", "target": t, "weight": 2,
                                  "labels": {"version": "v2"}})
        self.assertEqual(st, 201, b)
        self.assertError(self.api.call("POST", "/v1/services/app/backends",
                                       {"name": "d1", "target": t}), 409, "name_in_use")
        self.assertError(self.api.call("POST", "/v1/services/nope/backends",
                                       {"name": "d2", "target": t}), 404)
        q = self.api.call("GET", "/v1/query?selector=version%3Dv2")[2]
        self.assertEqual([x["name"] for x in q["backends"]], ["d1"])
        d1 = [x for x in q["backends"] if x["name"] == "d1"][0]
        self.assertEqual(d1["origin"], "dynamic")
        self.assertEqual(d1["weight"], 2)
        for patch in ({"weight": 5}, {"drain": True}, {"drain": False}, {"health": "unhealthy"},
                      {"health": "healthy"}):
            st, _, got = self.api.call("PATCH", "/v1/services/app/backends/d1", patch)
            self.assertEqual(st, 200, (patch, got))
        self.assertError(self.api.call("PATCH", "/v1/services/app/backends/d1",
                                       {"health": "meh"}), 400)
        self.assertError(self.api.call("PATCH", "/v1/services/app/backends/nope",
                                       {"weight": 1}), 404)
        self.assertEqual(self.api.call("DELETE", "/v1/services/app/backends/d1")[0], 204)
        self.assertError(self.api.call("DELETE", "/v1/services/app/backends/d1"), 404)

    def test_dynamic_backends_disallowed(self):
        self.start_api(dynamic_backends=False)
        self.assertError(self.api.call("POST", "/v1/services/app/backends",
                                       {"name": "d1", "target": "127.0.0.1:1"}), 403, "disallowed")
        # As docs/api.md says: the builder is off, not an admin's PUT of a
        # whole service (configuration), nor PATCH of a backend it has.
        st, _, body = self.api.call("PUT", "/v1/services/other", {
            "strategy": "round_robin", "backends": [{"name": "o1", "target": "127.0.0.1:1"}]})
        self.assertEqual(st, 200, body)
        st, _, body = self.api.call("PATCH", "/v1/services/other/backends/o1", {"weight": 2})
        self.assertEqual(st, 200, body)

    def test_endpoints_routes_shape(self):
        self.start_api()
        ep = "/v1/endpoints/example.com%2Fblog"
        st, _, e = self.api.call("PUT", ep, {"routes": [{"service": "app", "weight": 1}]})
        self.assertEqual(st, 200, e)
        q = self.api.call("GET", "/v1/query?endpoint=example.com%2Fblog")[2]
        self.assertEqual([x["pattern"] for x in q["endpoints"]], ["example.com/blog"])
        ids = [r["id"] for r in q["endpoints"][0]["routes"]]
        self.assertEqual(len(ids), 1)
        self.assertRegex(ids[0], r"^route\d{3}$")
        r0 = ids[0]
        st, _, r = self.api.call("POST", ep + "/routes", {"service": "app", "weight": 0})
        self.assertEqual(st, 201, r)
        self.assertEqual(set(r), {"id"})
        r1 = r["id"]
        self.assertRegex(r1, r"^route\d{3}$")
        self.assertNotEqual(r1, r0)
        self.assertEqual(self.api.call("PATCH", ep + "/routes/" + r1, {"weight": 3})[0], 200)
        self.assertError(self.api.call("PATCH", ep + "/routes/route999", {"weight": 3}), 404)
        self.assertError(self.api.call("POST", ep + "/routes", {"service": "nope"}), 400)
        # shape
        self.assertEqual(self.api.call("PUT", ep + "/shape", {r0: 90, r1: 10})[0], 200)
        q = self.api.call("GET", "/v1/query?endpoint=example.com%2Fblog")[2]
        self.assertEqual({r["id"]: r["weight"] for r in q["endpoints"][0]["routes"]},
                         {r0: 90, r1: 10})
        self.assertError(self.api.call("PUT", ep + "/shape", {r0: 90, "route999": 1}), 404)
        self.assertError(self.api.call("PUT", ep + "/shape", {r0: 90}), 400)
        self.assertError(self.api.call("PUT", ep + "/shape", {r0: 0, r1: 0}), 400)
        self.assertError(self.api.call("PUT", "/v1/endpoints/nope.com/shape", {"route000": 1}), 404)
        route1 = r1
        self.assertEqual(self.api.call("DELETE", ep + "/routes/" + route1)[0], 204)
        self.assertError(self.api.call("DELETE", ep + "/routes/" + route1), 404)
        self.assertEqual(self.api.call("DELETE", ep)[0], 204)
        self.assertError(self.api.call("DELETE", ep), 404)

    def test_tokens(self):
        self.start_api()
        t = self.token("read", "reader")
        self.assertEqual(set(t), {"id", "token", "name", "scope", "created"} | set(t))
        self.assertEqual((t["name"], t["scope"]), ("reader", "read"))
        st, _, lst = self.api.call("GET", "/v1/tokens")
        self.assertEqual(st, 200)
        ids = {x["id"]: x for x in lst}
        self.assertIn(t["id"], ids)
        self.assertNotIn(t["token"], json.dumps(lst))
        for x in lst:
            self.assertTrue({"id", "name", "scope", "created", "last_used"} <= set(x), x)
        self.assertEqual(self.api.call("DELETE", "/v1/tokens/" + t["id"])[0], 204)
        self.assertError(self.api.call("GET", "/v1/query", token=t["token"]), 401)
        self.assertError(self.api.call("DELETE", "/v1/tokens/" + t["id"]), 404)
        # The bootstrap token is the last admin: 409; with another admin it goes.
        boot = [x for x in lst if x["scope"] == "admin"]
        self.assertEqual(len(boot), 1)
        self.assertError(self.api.call("DELETE", "/v1/tokens/" + boot[0]["id"]), 409, "in_use")
        a2 = self.token("admin", "second")
        self.assertEqual(self.api.call("DELETE", "/v1/tokens/" + boot[0]["id"],
                                       token=a2["token"])[0], 204)
        self.assertError(self.api.call("DELETE", "/v1/tokens/" + a2["id"], token=a2["token"]),
                         409, "in_use")

    def test_audit_lines(self):
        d = self.start_api()
        secret = self.api.token
        self.api.call("PUT", "/v1/endpoints/a.com", {"routes": [{"service": "app"}]})
        self.api.call("GET", "/v1/query")
        self.api.call("DELETE", "/v1/services/nope")
        t = self.token("read", "audited")
        wait_until(lambda: "POST /v1/tokens -> 201" in d.stderr())
        err = d.stderr()
        lines = [l for l in err.splitlines() if "audit:" in l]
        self.assertTrue(any("(bootstrap) PUT /v1/endpoints/a.com -> 200" in l for l in lines),
                        lines)
        self.assertTrue(any("POST /v1/tokens -> 201" in l for l in lines), lines)
        self.assertFalse(any("GET " in l for l in lines), lines)
        self.assertFalse(any("/v1/services/nope" in l for l in lines), lines)
        self.assertNotIn(secret, err)
        self.assertNotIn(t["token"], err)
        for l in lines:
            self.assertRegex(l, r"audit: tok_\S+ \(\S+\) [A-Z]+ /\S* -> 2\d\d$")


if __name__ == "__main__":
    main()
