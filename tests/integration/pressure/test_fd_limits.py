"""Issue 13, defect 4: the numbers printed when descriptors run short must
be the real ones, and the per-worker minimum must never promise more than
exists: `serve` refuses a worker count that ulimit -n cannot feed, naming
the numbers, and starts with one it can."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdlimit import needs_prlimit, start_http  # noqa: E402
from sluicetest import SluiceCase, get, main, wait_until  # noqa: E402

# One HTTP listener, no health checks, no tcp listener, no admin API: the
# reserve is 16 for the process, 3 for the state store's files (database,
# WAL, shared memory) plus, per worker, its epoll, eventfd and listener (3);
# each worker needs at least 32 more.
RESERVE = 16 + 3


def need(workers):
    return RESERVE + workers * (3 + 32)


@needs_prlimit
class Limits(SluiceCase):
    def start(self, workers, nofile, wait=True):
        return start_http(self, self.backend("b%d" % workers), nofile, workers, wait)

    def test_serve_refuses_workers_the_limit_cannot_feed(self):
        """workers: 8 under ulimit -n 256: serve exits non-zero naming the numbers and ulimit -n"""
        d = self.start(8, 256, wait=False)
        self.assertTrue(wait_until(lambda: not d.alive(), 10), "serve kept running")
        self.assertNotEqual(d.proc.returncode, 0)
        want = ("workers: 8 need at least %d descriptors but ulimit -n is 256: "
                "raise ulimit -n to %d or lower workers" % (need(8), need(8)))
        self.assertIn(want, d.stderr())

    def test_a_feasible_worker_count_starts_and_serves(self):
        """workers: 8 under ulimit -n 299 (just enough) starts and serves"""
        d = self.start(8, need(8))
        self.assertEqual(get(d.port).status, 200)
        self.assertIn("ulimit -n %d" % need(8), d.stderr())
        self.assertIn("32 per worker for connections", d.stderr())

    def test_log_lines_carry_the_real_limit(self):
        """ulimit -n 256, 2 workers: the startup and at-the-share lines name 256 and the share"""
        d = self.start(2, 256)
        share = (256 - RESERVE - 2 * 3) // 2
        err = d.stderr()
        self.assertIn("descriptors: ulimit -n 256", err)
        self.assertIn("%d per worker for connections" % share, err)
        # Quiet clients, more than both shares promise: the ones beyond wait
        # in the backlog, then each closes a quiet one for itself, saying so.
        held = []
        try:
            for _ in range(share + 20):
                held.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
            self.assertTrue(wait_until(lambda: "at its share of descriptors" in d.stderr(), 10),
                            d.stderr())
        finally:
            for s in held:
                s.close()
        self.assertEqual(get(d.port).status, 200)
        time.sleep(0.2)
        err = d.stderr()
        lines = [l for l in err.splitlines() if "at its share of descriptors" in l]
        for l in lines:
            self.assertIn("ulimit -n 256", l)
            self.assertRegex(l, r"\(\d+ of %d promised" % share)
        self.assertNotIn("20000", err)
        self.assertEqual(re.findall(r"ulimit -n (?!256\b)\d+", err), [])


if __name__ == "__main__":
    main()
