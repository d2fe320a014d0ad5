"""Issue 13, defect 5: a reload storm that moves a backend between services,
or renames a service, must never answer 503 while every backend is up.

An old routing table stays in use by a worker until it adopts the new one
(and by the requests that started on it); the lb must keep every service
such a table routes to until the table is gone, even when one of its
backend names now belongs to another service.

Load: wrk (keep-alive) and Python threads opening a new connection per
request, both bounded in time; meanwhile the config alternates between two
versions with a SIGHUP every few milliseconds. Every response must be 2xx.
"""
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (SluiceCase, backend_entry, config, endpoint, free_port, get,  # noqa: E402
                        http_listener, main, route, service)

WRK = shutil.which("wrk")
STORM_S = 8.0          # how long the reloads alternate
RELOAD_GAP_S = 0.01    # between two SIGHUPs (the daemon coalesces what it cannot follow)
FRESH_THREADS = 2      # Python clients opening a new connection per request


class AtomicReload(SluiceCase):
    def storm(self, d, port, configs):
        """Runs the load while alternating <configs> by SIGHUP; returns
        (wrk output, Counter of the fresh-connection statuses, errors,
        reloads sent, reloads done)."""
        stop = threading.Event()
        fresh = collections.Counter()
        errors = []
        lock = threading.Lock()

        def fresh_client(idx):
            deadline = time.monotonic() + STORM_S + 10
            i = 0
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    st = get(port, "/f%d-%d" % (idx, i), timeout=5).status
                except Exception as e:  # noqa: BLE001 - any failure is the finding
                    with lock:
                        errors.append(repr(e))
                    continue
                finally:
                    i += 1
                with lock:
                    fresh[st] += 1

        wrk = subprocess.Popen([WRK, "-t1", "-c8", "-d%ds" % int(STORM_S + 1), "--timeout", "5s",
                                "http://127.0.0.1:%d/" % port],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: wrk.poll() is None and wrk.kill())
        ts = [threading.Thread(target=fresh_client, args=(i,), daemon=True)
              for i in range(FRESH_THREADS)]
        for t in ts:
            t.start()
        time.sleep(0.5)  # let the load settle on the first table
        sent = 0
        end = time.monotonic() + STORM_S
        while time.monotonic() < end and d.alive():
            sent += 1
            d.write_config(configs[sent % len(configs)])
            d.signal(signal.SIGHUP)
            time.sleep(RELOAD_GAP_S)
        stop.set()
        out = wrk.communicate(timeout=30)[0].decode()
        for t in ts:
            t.join(15)
        done = d.stderr().count("reloaded ")
        return out, fresh, errors, sent, done

    def check(self, d, port, configs):
        out, fresh, errors, sent, done = self.storm(d, port, configs)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        total = re.search(r"(\d+) requests in", out)
        print("  reloads sent %d, done %d; wrk: %s requests, %s non-2xx; fresh: %s; errors: %s"
              % (sent, done, total.group(1) if total else "?",
                 non2xx.group(1) if non2xx else 0, dict(fresh), errors[:3]))
        logged = [l for l in d.stderr().split("\n") if "is usable" in l]
        self.assertTrue(d.alive())
        self.assertGreater(done, 20, "too few reloads took place to test anything")
        self.assertTrue(total and int(total.group(1)) > 0, "wrk completed no request:\n" + out)
        self.assertIsNone(non2xx, "non-2xx under the reload storm:\n%s\n%s"
                          % (out, "\n".join(logged[:5])))
        self.assertEqual(set(fresh), {200}, "fresh connections: %s\n%s"
                         % (dict(fresh), "\n".join(logged[:5])))
        self.assertEqual(errors, [])
        self.assertNotIn("Socket errors", out)

    @unittest.skipUnless(WRK, "wrk is not installed (apt-get install wrk)")
    def test_backend_moves_between_services(self):
        """app {b1, b2} -> app {b1}, other {b2} (both at /) -> swapped -> ...: zero non-2xx"""
        b1, b2 = self.backend("b1"), self.backend("b2")
        port = free_port()
        e1, e2 = backend_entry("b1", b1.port), backend_entry("b2", b2.port)
        both = [endpoint("/", [route("app"), route("other")])]
        a = config([http_listener(port)], {"app": service([e1, e2])},
                   [endpoint("/", [route("app")])])
        b = config([http_listener(port)], {"app": service([e1]), "other": service([e2])}, both)
        swapped = config([http_listener(port)], {"app": service([e2]), "other": service([e1])},
                         both)
        d = self.sluice(a)
        self.assertEqual(get(port).status, 200)
        # a -> b: b2 moves to the new service other; b -> a: other vanishes
        # while its b2 moves back; b <-> swapped: both names change sides.
        self.check(d, port, [a, b, a, b, swapped, b])

    @unittest.skipUnless(WRK, "wrk is not installed (apt-get install wrk)")
    def test_service_renamed(self):
        """app -> app2 and back, same backends, with a selector route: zero non-2xx"""
        b1, b2 = self.backend("b1"), self.backend("b2")
        port = free_port()
        es = [backend_entry("b1", b1.port, {"tier": "web"}),
              backend_entry("b2", b2.port, {"tier": "web"})]

        def cfg(name):
            return config([http_listener(port)], {name: service(es)},
                          [endpoint("/", [route(name, selector="tier=web")])])

        d = self.sluice(cfg("app"))
        self.assertEqual(get(port).status, 200)
        self.check(d, port, [cfg("app"), cfg("app2")])

    @unittest.skipUnless(WRK, "wrk is not installed (apt-get install wrk)")
    def test_selector_follows_labels(self):
        """labels and selector v=1 <-> v=2 on the same backends: zero non-2xx"""
        b1, b2 = self.backend("b1"), self.backend("b2")
        port = free_port()

        def cfg(v):
            es = [backend_entry("b1", b1.port, {"v": v}), backend_entry("b2", b2.port, {"v": v})]
            return config([http_listener(port)], {"app": service(es)},
                          [endpoint("/", [route("app", selector="v=" + v)])])

        d = self.sluice(cfg("1"))
        self.assertEqual(get(port).status, 200)
        self.check(d, port, [cfg("1"), cfg("2")])


if __name__ == "__main__":
    main()
