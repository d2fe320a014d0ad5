"""API changes survive a restart on the same store, and a kill -9 in the
middle of a burst of concurrent writes: every change that got a 2xx is in
GET /v1/query after the restart."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sluicetest import (AdminClient, Sluice, SluiceCase, backend_entry, config,  # noqa: E402
                        endpoint, free_port, http_listener, main, route, run_cli, service)

THREADS = 4
PER_THREAD = 400  # upper bound; the kill comes first
BURST_SECONDS = 1.5


class TestPersist(SluiceCase):
    def start(self):
        b = self.backend("b1")
        cfg = config([http_listener(free_port())],
                     {"app": service([backend_entry("b1", b.port)])},
                     [endpoint("/", [route("app")])])
        cfg["admin"] = {"bind": "127.0.0.1:%d" % free_port()}
        self.d = self.sluice(cfg)
        return self.d

    def query(self):
        api = self.d.admin()
        try:
            st, _, q = api.call("GET", "/v1/query")
            self.assertEqual(st, 200, q)
            return q
        finally:
            api.close()

    def relative(self, sub, admin_extra):
        """serve -c SUB/c.yaml from a cwd that is not SUB's directory."""
        b = self.backend("b-" + sub)
        cfg = config([http_listener(free_port())],
                     {"app": service([backend_entry("b1", b.port)])},
                     [endpoint("/", [route("app")])])
        cfg["admin"] = dict({"bind": "127.0.0.1:%d" % free_port()}, **admin_extra)
        os.makedirs(os.path.join(self.tmp, sub, "tok"))
        d = Sluice(os.path.join(self.tmp, sub), cfg, name="c", cwd=self.tmp)
        self._daemons.append(d)
        self.addCleanup(self._stop_checked, d)
        d.start()
        return d

    def test_relative_config_path(self):
        # The store and the token file land beside the config, once: not
        # under SUB/SUB (the config's directory joined twice).
        for sub, extra, tok in (("d4", {}, "admin.token"),
                                ("d5", {"token_file": "tok/secret.token"}, "tok/secret.token")):
            d = self.relative(sub, extra)
            self.assertTrue(os.path.isfile(os.path.join(self.tmp, sub, "sluice.db")))
            self.assertTrue(os.path.isfile(os.path.join(self.tmp, sub, tok)), d.stderr())
            self.assertFalse(os.path.exists(os.path.join(self.tmp, sub, sub)))
            # The CLI finds the same token file through the same -c.
            rc, out, err = run_cli(["-c", os.path.join(sub, "c.yaml"), "query", "--json"],
                                   cwd=self.tmp)
            self.assertEqual(rc, 0, out + err)
            d.stop()

    def test_restart_keeps_changes(self):
        d = self.start()
        api = d.admin()
        t = "127.0.0.1:%d" % free_port()
        for st, want in ((api.call("POST", "/v1/services/app/backends",
                                   {"name": "dyn", "target": t, "labels": {"k": "v"}})[0], 201),
                         (api.call("PUT", "/v1/endpoints/x.com",
                                   {"routes": [{"service": "app", "weight": 3}]})[0], 200),
                         (api.call("POST", "/v1/tokens", {"scope": "read", "name": "r"})[0], 201)):
            self.assertEqual(st, want)
        _, _, tok = api.call("POST", "/v1/tokens", {"scope": "read", "name": "r2"})
        api.close()
        d.stop()
        d.start()
        q = self.query()
        dyn = [b for b in q["backends"] if b["name"] == "dyn"]
        self.assertEqual(len(dyn), 1, q)
        self.assertEqual(dyn[0]["target"], t)
        self.assertEqual(dyn[0]["labels"], {"k": "v"})
        eps = {e["pattern"]: e for e in q["endpoints"]}
        self.assertIn("x.com", eps)
        self.assertEqual(eps["x.com"]["routes"][0]["weight"], 3)
        # The token survived too.
        api = d.admin(token=tok["token"])
        self.assertEqual(api.call("GET", "/v1/query")[0], 200)
        api.close()

    def test_kill_9_during_concurrent_writes(self):
        d = self.start()
        port = int(d.cfg["admin"]["bind"].rsplit(":", 1)[1])
        with open(os.path.join(self.tmp, "admin.token")) as f:
            token = f.read().strip()
        acked = [[] for _ in range(THREADS)]
        stop = threading.Event()

        def writer(i):
            api = AdminClient(port, token, timeout=5)
            deadline = time.monotonic() + 10
            for n in range(PER_THREAD):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                name = "w%d-%d" % (i, n)
                try:
                    st, _, _ = api.call("POST", "/v1/services/app/backends",
                                        {"name": name, "target": "127.0.0.1:%d" % (20000 + n)})
                except Exception:
                    break  # the daemon died under us: that answer never came
                if st == 201:
                    acked[i].append(name)
            api.close()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        time.sleep(BURST_SECONDS)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        stop.set()
        for t in threads:
            t.join(15)
        total = sum(len(a) for a in acked)
        self.assertGreater(total, 0, "no write was acknowledged before the kill")
        sys.stderr.write("\n%d writes acknowledged before the kill\n" % total)
        d.start()
        names = {b["name"] for b in self.query()["backends"]}
        missing = [n for a in acked for n in a if n not in names]
        self.assertEqual(missing, [], "%d of %d acknowledged writes lost" % (len(missing), total))


if __name__ == "__main__":
    main()
