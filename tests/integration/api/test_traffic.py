"""Traffic through the proxy follows the admin API: counted at the
backends when shape moves route weights, and when a backend is added,
drained, marked unhealthy and deleted."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sluicetest import (SluiceCase, backend_entry, config, endpoint, free_port, get,  # noqa: E402
                        http_listener, main, route, service)

N = 40  # requests per step: enough to see a split, bounded


class TrafficCase(SluiceCase):
    def start(self, backends, routes):
        self.port = free_port()
        aport = free_port()
        cfg = config([http_listener(self.port)],
                     {"app": service([backend_entry(b.name, b.port, labels=labels)
                                      for b, labels in backends])},
                     [endpoint("/", routes)])
        cfg["admin"] = {"bind": "127.0.0.1:%d" % aport}
        self.d = self.sluice(cfg)
        self.api = self.d.admin()
        self.addCleanup(self.api.close)

    def send(self, n=N):
        """<n> requests through the proxy: {backend name: count}."""
        seen = {}
        for _ in range(n):
            r = get(self.port, "/")
            self.assertEqual(r.status, 200, r)
            name = r.header("X-Backend")
            seen[name] = seen.get(name, 0) + 1
        return seen

    def ok(self, method, path, body=None, want=(200, 201, 204)):
        st, _, out = self.api.call(method, path, body)
        self.assertIn(st, want, (method, path, out))
        return out


class TestShape(TrafficCase):
    def test_shape_moves_all_traffic(self):
        v1, v2 = self.backend("v1"), self.backend("v2")
        self.start([(v1, {"version": "v1"}), (v2, {"version": "v2"})],
                   [route("app", "version=v1", 100), route("app", "version=v2", 1)])
        self.ok("PUT", "/v1/endpoints/%2F/shape", {"route000": 100, "route001": 0})
        self.assertEqual(self.send(), {"v1": N})
        self.ok("PUT", "/v1/endpoints/%2F/shape", {"route000": 0, "route001": 100})
        self.assertEqual(self.send(), {"v2": N})
        self.ok("PUT", "/v1/endpoints/%2F/shape", {"route000": 50, "route001": 50})
        seen = self.send(100)
        self.assertGreater(seen.get("v1", 0), 10, seen)
        self.assertGreater(seen.get("v2", 0), 10, seen)


class TestBackendLifecycle(TrafficCase):
    def test_add_drain_mark_delete(self):
        b1, b2 = self.backend("b1"), self.backend("b2")
        self.start([(b1, None)], [route("app")])
        self.assertEqual(self.send(), {"b1": N})
        # added
        self.ok("POST", "/v1/services/app/backends",
                {"name": "b2", "target": "127.0.0.1:%d" % b2.port})
        before = b2.count()
        seen = self.send()
        self.assertGreater(seen.get("b2", 0), 0, seen)
        self.assertEqual(b2.count() - before, seen["b2"])
        # b1 drained: everything to b2
        self.ok("PATCH", "/v1/services/app/backends/b1", {"drain": True})
        self.assertEqual(self.send(), {"b2": N})
        self.ok("PATCH", "/v1/services/app/backends/b1", {"drain": False})
        seen = self.send()
        self.assertGreater(seen.get("b1", 0), 0, seen)
        # b2 marked unhealthy: everything to b1
        self.ok("PATCH", "/v1/services/app/backends/b2", {"health": "unhealthy"})
        self.assertEqual(self.send(), {"b1": N})
        self.ok("PATCH", "/v1/services/app/backends/b2", {"health": "healthy"})
        seen = self.send()
        self.assertGreater(seen.get("b2", 0), 0, seen)
        # b2 deleted
        self.ok("DELETE", "/v1/services/app/backends/b2")
        before = b2.count()
        self.assertEqual(self.send(), {"b1": N})
        self.assertEqual(b2.count(), before)


if __name__ == "__main__":
    main()
