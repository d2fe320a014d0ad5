"""A short bounded wrk run through sluice: no non-2xx, no socket errors."""
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import SluiceCase, main  # noqa: E402

WRK = shutil.which("wrk")


class Load(SluiceCase):
    @unittest.skipUnless(WRK, "wrk is not installed (apt-get install wrk)")
    def test_wrk(self):
        """wrk -t1 -c32 -d3s: zero non-2xx, zero socket errors"""
        bs = [self.backend("l%d" % i) for i in range(3)]
        d = self.simple(bs)
        p = subprocess.run([WRK, "-t1", "-c32", "-d3s", "--timeout", "5s",
                            "http://127.0.0.1:%d/" % d.port],
                           capture_output=True, timeout=30)
        out = p.stdout.decode() + p.stderr.decode()
        print(out)
        self.assertEqual(p.returncode, 0)
        m = re.search(r"(\d+) requests in", out)
        self.assertTrue(m and int(m.group(1)) > 0, "no requests completed")
        self.assertNotIn("Non-2xx", out)
        self.assertNotIn("Socket errors", out)
        self.assertTrue(d.alive())


if __name__ == "__main__":
    main()
