"""SIGTERM drains: the in-flight request completes, new connections are
refused, the process exits 0 within the drain bound."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import Client, SluiceCase, can_connect, main, wait_until  # noqa: E402


class Stop(SluiceCase):
    def test_sigterm_drains(self):
        """SIGTERM during /delay?ms=1500: 200, listener closed, exit 0"""
        b = self.backend("slow")
        d = self.simple([b])
        result = {}

        def slow():
            try:
                with Client(d.port, timeout=10) as c:
                    result["r"] = c.request("GET", "/delay?ms=1500")
            except Exception as e:  # noqa: BLE001
                result["e"] = repr(e)

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        self.assertTrue(wait_until(lambda: b.count() == 1, timeout=3), "request never arrived")
        d.signal(signal.SIGTERM)
        refused = wait_until(lambda: not can_connect(d.port, timeout=0.2), timeout=2)
        t.join(10)
        t0 = time.monotonic()
        try:
            rc = d.proc.wait(12)
        except Exception:
            rc = None
        print("  in-flight:", result, "refused:", refused, "exit:", rc,
              "after %.1f s more" % (time.monotonic() - t0))
        self.assertIn("r", result, "in-flight request failed: %s" % result.get("e"))
        self.assertEqual(result["r"].status, 200)
        self.assertEqual(result["r"].body, b"slow\n")
        self.assertTrue(refused, "new connections still accepted after SIGTERM")
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    main()
