"""Agents over raw HTTP (no agent CLI): registration, traffic through the
proxy, label routes, the lease (disconnected, back, expired), ownership
(403), name clashes (409), and agent backends across a sluice restart and
a kill -9. The lease is 1 s here; every wait is bounded and generous."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sluicetest import (SluiceCase, backend_entry, config, endpoint, free_port,  # noqa: E402
                        get, http_listener, main, route, service, wait_until)

LEASE = "1s"
EXPIRE = "4s"
LOCATION = {"city": "Lyon", "country": "FR", "country_name": "France", "continent": "EU",
            "lat": 45.76, "lon": 4.84}


class TestAgents(SluiceCase):
    def start(self, selector=None, expire=EXPIRE):
        self.static = self.backend("static1")
        self.port = free_port()
        svc = service([backend_entry("static1", self.static.port, {"role": "static"})],
                      panic_threshold=0)
        cfg = config([http_listener(self.port)], {"app": svc},
                     [endpoint("/", [route("app", selector=selector)]),
                      endpoint("agents.local", [route("app", selector="role=agent")])],
                     agents={"lease": LEASE, "expire": expire})
        cfg["admin"] = {"bind": "127.0.0.1:%d" % free_port()}
        self.d = self.sluice(cfg)
        self.api = self.d.admin()
        self.addCleanup(lambda: self.api.close())
        return self.d

    def token(self, scope, name):
        st, _, body = self.api.call("POST", "/v1/tokens", {"scope": scope, "name": name})
        self.assertEqual(st, 201, body)
        return body

    def register(self, tok, name="ag1", backend=None, **extra):
        backend = backend or self.backend(name)
        body = {"service": "app", "name": name, "target": "127.0.0.1:%d" % backend.port,
                "labels": {"role": "agent"}, "location": LOCATION}
        body.update(extra)
        st, _, out = self.api.call("POST", "/v1/agents", body, token=tok)
        return st, out, backend

    def row(self, name):
        st, _, q = self.api.call("GET", "/v1/query")
        self.assertEqual(st, 200, q)
        rows = [b for b in q["backends"] if b["name"] == name]
        return rows[0] if rows else None

    def state(self, name):
        r = self.row(name)
        return r["state"] if r else None

    def beat(self, tok, aid, load=7, healthy=True):
        return self.api.call("POST", "/v1/agents/%s/heartbeat" % aid,
                             {"load": load, "healthy": healthy}, token=tok)

    def served_by(self, n=12):
        names = []
        for _ in range(n):
            r = get(self.port, "/")
            self.assertEqual(r.status, 200, r)
            names.append(r.header("X-Backend"))
        return names

    def test_register_traffic_labels_query(self):
        self.start(selector="role=agent")
        g = self.token("agent", "g1")
        st, out, b = self.register(g["token"])
        self.assertEqual(st, 201, out)
        self.assertTrue(out["id"].startswith("ag_"), out)
        self.assertEqual(out["lease_ms"], 1000)
        self.assertEqual(out["backend"]["name"], "ag1")
        # The route selects role=agent: the static backend gets nothing.
        self.assertEqual(set(self.served_by()), {"ag1"})
        self.assertEqual(self.static.count(), 0)
        st, _, hb = self.beat(g["token"], out["id"], load=42)
        self.assertEqual((st, hb), (200, {"lease_ms": 1000}))
        r = self.row("ag1")
        self.assertEqual((r["origin"], r["owner"], r["state"]), ("agent", g["id"], "up"), r)
        self.assertEqual(r["load"], 42)
        self.assertEqual(r["location"]["city"], "Lyon")
        self.assertRegex(r["connected_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(r["labels"], {"role": "agent"})
        # Registering the same name again with the same token: same id, 200.
        st, again, _ = self.register(g["token"], backend=b)
        self.assertEqual((st, again["id"]), (200, out["id"]), again)
        # Another owner: 409 name_in_use; a static name too.
        g2 = self.token("agent", "g2")
        st, err, _ = self.register(g2["token"], backend=b)
        self.assertEqual((st, err["error"]["code"]), (409, "name_in_use"), err)
        st, err, _ = self.register(g2["token"], name="static1", backend=b)
        self.assertEqual((st, err["error"]["code"]), (409, "name_in_use"), err)
        # The default name comes from the target.
        st, dflt, b3 = self.register(g2["token"], name=None)
        self.assertEqual(st, 201, dflt)
        self.assertEqual(dflt["backend"]["name"], "127.0.0.1-%d" % b3.port)
        # GET /q: the hosted balancer's shape.
        r = self.token("read", "r")
        st, _, q = self.api.call("GET", "/q", token=r["token"])
        self.assertEqual(st, 200, q)
        self.assertEqual(q["Token"], r["id"])
        ep = q["Endpoints"][0]
        self.assertEqual(set(ep), {"Pattern", "Owner", "CreatedAt", "Routes"})
        rt = ep["Routes"][0]
        self.assertEqual(set(rt), {"ID", "RawSelector", "Weight", "Strategy", "Backends"})
        self.assertEqual((rt["RawSelector"], rt["Strategy"]), ("role=agent", "round_robin"))
        self.assertIn("ag1", rt["Backends"])
        qb = {b["ID"]: b for b in q["Backends"]}["ag1"]
        self.assertEqual(set(qb), {"ID", "Owner", "RawLabels", "Load", "RemoteAddr",
                                   "ConnectedAt", "Location", "RequestsPerSecond", "State"})
        self.assertEqual((qb["Owner"], qb["RawLabels"], qb["Load"]), (g["id"], "role=agent", 42))
        self.assertEqual(qb["Location"]["CityName"], "Lyon")
        self.assertEqual(qb["Location"]["CountryCode"], "FR")
        self.assertEqual(qb["Location"]["Latitude"], 45.76)
        self.assertTrue(qb["RemoteAddr"].startswith("127.0.0.1:"), qb)
        self.assertRegex(qb["ConnectedAt"], r"^\d{4}-")
        self.assertEqual(qb["State"], "up")
        # A read token may not register.
        st, err, _ = self.register(r["token"], name="x", backend=b)
        self.assertEqual(st, 403, err)

    def test_lease_disconnect_and_back(self):
        self.start()
        g = self.token("agent", "g1")
        st, out, _ = self.register(g["token"])
        self.assertEqual(st, 201, out)
        # Heartbeats at 0.3 s keep it for three leases.
        for _ in range(10):
            self.assertEqual(self.beat(g["token"], out["id"])[0], 200)
            time.sleep(0.3)
        self.assertEqual(self.state("ag1"), "up")
        self.assertIn("ag1", self.served_by())
        # Silence: disconnected (lease 1 s, tick 1 s) and out of rotation.
        self.assertTrue(wait_until(lambda: self.state("ag1") == "disconnected", timeout=6),
                        self.row("ag1"))
        self.assertEqual(set(self.served_by()), {"static1"})
        # Out of the label view too; and a change that rebuilds the table
        # (another registration) does not bring it back.
        self.assertEqual(get(self.port, "/", host="agents.local").status, 503)
        self.assertEqual(self.register(g["token"], name="other")[0], 201)
        self.assertEqual(self.state("ag1"), "disconnected")
        self.assertNotIn("ag1", self.served_by())
        self.assertEqual(self.api.call("DELETE", "/v1/services/app/backends/other")[0], 204)
        # A heartbeat brings it back.
        self.assertEqual(self.beat(g["token"], out["id"])[0], 200)
        self.assertEqual(self.state("ag1"), "up")
        self.assertIn("ag1", self.served_by())
        self.assertEqual(get(self.port, "/", host="agents.local").header("X-Backend"), "ag1")
        # healthy: false takes it out while heartbeats go on; true: back.
        self.assertEqual(self.beat(g["token"], out["id"], healthy=False)[0], 200)
        self.assertEqual(set(self.served_by()), {"static1"})
        self.assertEqual(self.beat(g["token"], out["id"], healthy=True)[0], 200)
        self.assertIn("ag1", self.served_by())

    def test_ownership_and_delete(self):
        self.start()
        g1, g2 = self.token("agent", "g1"), self.token("agent", "g2")
        st, out, _ = self.register(g1["token"])
        self.assertEqual(st, 201, out)
        aid = out["id"]
        # Another agent: 403 on its heartbeat, deregistration and backend.
        self.assertEqual(self.beat(g2["token"], aid)[0], 403)
        self.assertEqual(self.api.call("DELETE", "/v1/agents/" + aid, token=g2["token"])[0], 403)
        self.assertEqual(self.api.call("DELETE", "/v1/services/app/backends/ag1",
                                       token=g2["token"])[0], 403)
        # Admin endpoints: 403 for an agent token.
        for m, p, body in (("PUT", "/v1/endpoints/x.com", {"routes": [{"service": "app"}]}),
                           ("GET", "/v1/tokens", None), ("PUT", "/v1/services/app", {})):
            st, _, err = self.api.call(m, p, body, token=g1["token"])
            self.assertEqual(st, 403, (m, p, err))
        # Unknown id: 404 (the agent registers again).
        self.assertEqual(self.beat(g1["token"], "ag_0000000000000000")[0], 404)
        # The owner deregisters: 204, gone, heartbeats 404.
        self.assertEqual(self.api.call("DELETE", "/v1/agents/" + aid, token=g1["token"])[0], 204)
        self.assertIsNone(self.row("ag1"))
        self.assertEqual(set(self.served_by()), {"static1"})
        self.assertEqual(self.beat(g1["token"], aid)[0], 404)
        # Admin removes anybody's.
        st, out, _ = self.register(g1["token"], name="ag2")
        self.assertEqual(st, 201, out)
        self.assertEqual(self.api.call("DELETE", "/v1/agents/" + out["id"])[0], 204)
        self.assertIsNone(self.row("ag2"))

    def test_expire_removes(self):
        self.start(expire="3s")
        g = self.token("agent", "g1")
        st, out, _ = self.register(g["token"])
        self.assertEqual(st, 201, out)
        self.assertTrue(wait_until(lambda: self.row("ag1") is None, timeout=10), self.row("ag1"))
        self.assertEqual(self.beat(g["token"], out["id"])[0], 404)
        # It may register again under the same name.
        self.assertEqual(self.register(g["token"])[0], 201)

    def restart_keeps(self, how):
        self.start(expire="1m")
        g = self.token("agent", "g1")
        st, out, b = self.register(g["token"])
        self.assertEqual(st, 201, out)
        self.assertEqual(self.beat(g["token"], out["id"], load=5)[0], 200)
        self.api.close()
        if how == "kill":
            self.d.signal(signal.SIGKILL)
            self.d.proc.wait(timeout=10)
        self.d.stop()
        self.d.start()
        self.api = self.d.admin()
        r = self.row("ag1")
        self.assertIsNotNone(r)
        self.assertEqual((r["state"], r["origin"], r["owner"]), ("disconnected", "agent", g["id"]))
        self.assertEqual(r["location"]["city"], "Lyon")
        self.assertEqual(set(self.served_by()), {"static1"})
        # Its id survived: the next heartbeat brings it back.
        self.assertEqual(self.beat(g["token"], out["id"])[0], 200)
        self.assertEqual(self.state("ag1"), "up")
        self.assertIn("ag1", self.served_by())

    def test_restart_keeps_agents(self):
        self.restart_keeps("term")

    def test_kill_9_keeps_agents(self):
        self.restart_keeps("kill")


if __name__ == "__main__":
    main()
