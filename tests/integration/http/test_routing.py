"""Routing: host exact vs wildcard vs any host, longest path prefix on a
segment boundary, 404 when no endpoint matches, route weights, round robin."""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (Client, SluiceCase, backend_entry, config, endpoint, free_port,  # noqa: E402
                        http_listener, main, route, service)


def names_over(port, n, path="/", host="test.local"):
    """Backend names of <n> GETs on one keep-alive connection."""
    seen = collections.Counter()
    with Client(port) as c:
        for _ in range(n):
            r = c.request("GET", path, host=host)
            if r.status != 200:
                raise AssertionError("GET %s -> %r" % (path, r))
            seen[r.header("X-Backend")] += 1
    return seen


class Routing(SluiceCase):
    def test_host_and_path_matching(self):
        """exact host > wildcard host > any host; longest prefix on a segment boundary"""
        names = ["exact", "wild", "any", "api", "apiv2", "exactblog"]
        bs = {n: self.backend(n) for n in names}
        port = free_port()
        svcs = {n: service([backend_entry(n + "-1", bs[n].port)]) for n in names}
        eps = [
            endpoint("a.example.com", [route("exact")]),
            endpoint("a.example.com/blog", [route("exactblog")]),
            endpoint("*.example.com", [route("wild")]),
            endpoint("/", [route("any")]),
            endpoint("/api", [route("api")]),
            endpoint("/api/v2", [route("apiv2")]),
        ]
        self.sluice(config([http_listener(port)], svcs, eps))
        cases = [
            ("a.example.com", "/", "exact"),
            ("a.example.com", "/api/v2/x", "exact"),     # host beats path
            ("A.Example.COM", "/", "exact"),             # case-insensitive host
            ("a.example.com:8080", "/", "exact"),        # port ignored
            ("a.example.com", "/blog", "exactblog"),
            ("a.example.com", "/blog/post/1", "exactblog"),
            ("a.example.com", "/blogger", "exact"),      # not on a segment boundary
            ("b.example.com", "/", "wild"),
            ("x.y.example.com", "/api", "wild"),
            ("example.com", "/", "any"),                 # wildcard needs a label before
            ("other.test", "/", "any"),
            ("other.test", "/api", "api"),
            ("other.test", "/api/", "api"),
            ("other.test", "/api/users?q=1", "api"),
            ("other.test", "/apix", "any"),
            ("other.test", "/api/v2", "apiv2"),
            ("other.test", "/api/v2/deep/path", "apiv2"),
            ("other.test", "/api/v20", "api"),
        ]
        bad = []
        for host, path, want in cases:
            with Client(port) as c:
                r = c.request("GET", path, host=host)
            got = r.header("X-Backend") if r.status == 200 else "status %d" % r.status
            print("  Host %-20s %-22s -> %-10s (want %s)" % (host, path, got, want))
            if got != want:
                bad.append((host, path, want, got))
        self.assertEqual(bad, [], "misrouted (host, path, want, got)")

    def test_no_endpoint_is_404(self):
        """a request no endpoint matches gets 404 and reaches no backend"""
        b = self.backend("only")
        port = free_port()
        self.sluice(config([http_listener(port)],
                           {"app": service([backend_entry("only-1", b.port)])},
                           [endpoint("a.example.com", [route("app")]),
                            endpoint("/only", [route("app")])]))
        with Client(port) as c:
            r1 = c.request("GET", "/", host="nomatch.test")
            r2 = c.request("GET", "/onlyx", host="nomatch.test")
            r3 = c.request("GET", "/only/x", host="nomatch.test")
        self.assertEqual(r1.status, 404, r1)
        self.assertEqual(r2.status, 404, r2)
        self.assertEqual(r3.status, 200, r3)
        self.assertEqual(b.count(), 1)

    def test_weights_90_10(self):
        """routes by label selector weighted 90/10: ~10% of 1000 requests go to v2"""
        v1 = self.backend("v1")
        v2 = self.backend("v2")
        port = free_port()
        svc = service([backend_entry("v1-a", v1.port, {"version": "v1"}),
                       backend_entry("v2-a", v2.port, {"version": "v2"})])
        self.sluice(config([http_listener(port)], {"app": svc},
                           [endpoint("/", [route("app", "version=v1", 90),
                                           route("app", "version=v2", 10)])]))
        seen = collections.Counter()
        for _ in range(4):
            seen.update(names_over(port, 250))
        print("  1000 requests:", dict(seen))
        self.assertEqual(seen["v1"] + seen["v2"], 1000)
        # binomial(1000, 0.1): sd ~9.5; 60..140 is beyond 4 sd
        self.assertTrue(60 <= seen["v2"] <= 140, seen)

    def test_round_robin_spreads(self):
        """round_robin over 3 backends: each gets a fair share of 300 requests"""
        bs = [self.backend("rr%d" % i) for i in range(3)]
        port = free_port()
        svc = service([backend_entry(b.name, b.port) for b in bs], strategy="round_robin")
        self.sluice(config([http_listener(port)], {"app": svc}, [endpoint("/", [route("app")])]))
        seen = collections.Counter()
        for _ in range(30):  # fresh connections, so every worker takes part
            seen.update(names_over(port, 10))
        print("  300 requests:", dict(seen))
        for b in bs:
            self.assertGreaterEqual(seen[b.name], 70, seen)


if __name__ == "__main__":
    main()
