"""Failover: a dead backend is retried around and then skipped; all
backends down gives 502/503 with an explanation; a backend that never
answers gives 504 after the response timeout."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (SluiceCase, backend_entry, closed_port, config, endpoint,  # noqa: E402
                        free_port, get, http_listener, main, route, service,
                        wait_until)


class Failover(SluiceCase):
    def start(self, entries, **svc):
        port = free_port()
        svc.setdefault("timeouts", {"connect": "1s", "response": "1s"})
        self.sluice(config([http_listener(port)], {"app": service(entries, **svc)},
                           [endpoint("/", [route("app")])]))
        return port

    def test_killed_backend_is_retried_around(self):
        """one of 3 backends killed: 200 GETs all succeed"""
        bs = [self.backend("f%d" % i) for i in range(3)]
        port = self.start([backend_entry(b.name, b.port) for b in bs], retries=2)
        for _ in range(9):
            self.assertEqual(get(port).status, 200)
        bs[1].kill()
        statuses = {}
        for i in range(200):
            r = get(port, "/r%d" % i)
            statuses[r.status] = statuses.get(r.status, 0) + 1
        print("  after killing f1:", statuses, "per backend:", [b.count() for b in bs])
        self.assertEqual(statuses, {200: 200})

    def test_closed_port_is_skipped(self):
        """retries 0: a backend whose port is closed fails a few requests, then is skipped"""
        live = self.backend("live")
        port = self.start([backend_entry("dead", closed_port()), backend_entry("live", live.port)],
                          retries=0)
        seq = [get(port, "/s%d" % i).status for i in range(60)]
        print("  statuses:", "".join("." if s == 200 else "x" for s in seq))
        self.assertTrue(all(s in (200, 502, 503) for s in seq), seq)
        self.assertEqual(seq[-40:], [200] * 40, "dead backend still chosen after 20 requests")

    def test_all_down(self):
        """every backend down: 502 or 503 with a body saying so"""
        port = self.start([backend_entry("d1", closed_port()), backend_entry("d2", closed_port())],
                          retries=1)
        for _ in range(5):
            r = get(port)
            print("  ", r.status, r.body[:100])
            self.assertIn(r.status, (502, 503), r)
            self.assertTrue(r.body.strip(), "error response without a body")
            text = r.body.decode("utf-8", "replace").lower()
            self.assertTrue(any(w in text for w in ("backend", "unavailable", "gateway",
                                                    "upstream")), r.body)

    def test_hanging_backend_504(self):
        """a backend that accepts and never answers: 504 after response timeout 1s"""
        hang = self.backend("hang", hang=True)
        port = self.start([backend_entry("hang", hang.port)], retries=0)
        r = get(port, "/", timeout=15)
        print("  ", r.status, r.body[:100])
        self.assertEqual(r.status, 504, r)
        self.assertTrue(r.body.strip(), "504 without a body")

    def test_backend_that_comes_back_gets_traffic_again(self):
        """no active checks: a backend taken out by passive failures is tried again once it is back"""
        live = self.backend("live")
        back = self.backend("back")
        back_port = back.port
        port = self.start([backend_entry("live", live.port), backend_entry("back", back_port)],
                          retries=1)
        back.kill()
        for i in range(30):  # enough failures to take "back" to the lowest score
            self.assertEqual(get(port, "/down%d" % i).status, 200)
        again = self.backend("back", port=back_port)
        # one score step every 2 s: usable again after about 6 s
        self.assertTrue(wait_until(lambda: get(port).status == 200 and again.count() > 0,
                                   timeout=20, step=0.2),
                        "the recovered backend never got a request")
        print("  recovered backend served", again.count(), "requests")


if __name__ == "__main__":
    main()
