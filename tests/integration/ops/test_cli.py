"""The command line: check accepts a good file and names the line of each
error in a bad one, serve refuses a bad file with the same messages,
--help works and an unknown command exits 2."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import SluiceCase, can_connect, free_port, main, run_cli  # noqa: E402

GOOD = """\
listeners:
  - {name: web, bind: "127.0.0.1:%(port)d", mode: http}
services:
  app:
    strategy: round_robin
    backends:
      - {name: a1, target: "127.0.0.1:9", labels: {version: v1}}
endpoints:
  - pattern: /
    routes:
      - {service: app, weight: 100}
"""

# Each bad file has one error on a known line (1-based).
BAD = {
    "unknown key": ("""\
listeners:
  - {name: web, bind: "127.0.0.1:%(port)d", mode: http}
services:
  app:
    strategy: round_robin
    colour: blue
    backends:
      - {name: a1, target: "127.0.0.1:9"}
endpoints:
  - pattern: /
    routes:
      - {service: app}
""", 6),
    "bad target": ("""\
listeners:
  - {name: web, bind: "127.0.0.1:%(port)d", mode: http}
services:
  app:
    strategy: round_robin
    backends:
      - {name: a1, target: "127.0.0.1:9"}
      - {name: a2, target: "127.0.0.1:99999"}
endpoints:
  - pattern: /
    routes:
      - {service: app}
""", 8),
    "missing service": ("""\
listeners:
  - {name: web, bind: "127.0.0.1:%(port)d", mode: http}
services:
  app:
    strategy: round_robin
    backends:
      - {name: a1, target: "127.0.0.1:9"}
endpoints:
  - pattern: /
    routes:
      - {service: app}
      - {service: nope}
""", 12),
}


class Cli(SluiceCase):
    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text % {"port": free_port()})
        return path

    def test_check_good(self):
        """sluice check -c good.yaml exits 0"""
        path = self.write("good.yaml", GOOD)
        rc, out, err = run_cli(["check", "-c", path])
        print("  rc", rc, out.strip(), err.strip())
        self.assertEqual(rc, 0, out + err)
        # No store yet (a first start): still ok, but said, and not created.
        db = os.path.join(self.tmp, "sluice.db")
        self.assertEqual(out.strip(), "%s: ok (no state store yet at %s: the file alone)"
                         % (path, db))
        self.assertFalse(os.path.exists(db))
        open(db, "wb").close()  # an empty file is an empty SQLite database
        rc, out, err = run_cli(["check", "-c", path])
        self.assertEqual((rc, out.strip()), (0, "%s: ok" % path), out + err)

    def test_check_bad(self):
        """sluice check on bad files: exit 1, FILE:LINE in every message"""
        for name, (text, line) in BAD.items():
            path = self.write(name.replace(" ", "_") + ".yaml", text)
            rc, out, err = run_cli(["check", "-c", path])
            msg = out + err
            print("  %-16s rc %d: %s" % (name, rc, msg.strip().replace("\n", " | ")))
            self.assertEqual(rc, 1, "%s: %s" % (name, msg))
            self.assertRegex(msg, r"%s:%d\b" % (re.escape(os.path.basename(path)), line),
                             "%s: no FILE:%d in the message" % (name, line))

    def test_serve_refuses_bad(self):
        """sluice serve on a bad file exits non-zero with the check's messages, never listens"""
        for name, (text, line) in BAD.items():
            path = self.write(name.replace(" ", "_") + ".yaml", text)
            _, cout, cerr = run_cli(["check", "-c", path])
            with open(path) as f:
                port = int(re.search(r"127\.0\.0\.1:(\d+)", f.read()).group(1))
            try:
                rc, out, err = run_cli(["serve", "-c", path], timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("%s: serve kept running on a bad config" % name)
            print("  %-16s rc %d: %s" % (name, rc, (out + err).strip().replace("\n", " | ")))
            self.assertNotEqual(rc, 0)
            self.assertFalse(can_connect(port))
            for l in (cout + cerr).strip().splitlines():
                if re.search(r":\d+:", l):
                    self.assertIn(l.strip(), out + err)

    def test_help(self):
        """sluice --help exits 0 and names serve and check"""
        rc, out, err = run_cli(["--help"])
        print("  rc", rc, (out + err)[:200].replace("\n", " | "))
        self.assertEqual(rc, 0)
        self.assertIn("serve", out + err)
        self.assertIn("check", out + err)
        rc, out, err = run_cli(["serve", "--help"])
        self.assertEqual(rc, 0, out + err)

    def test_unknown_command(self):
        """sluice bogus exits 2"""
        rc, out, err = run_cli(["bogus"])
        print("  rc", rc, (out + err).strip())
        self.assertEqual(rc, 2)
        self.assertTrue((out + err).strip(), "no message for an unknown command")


if __name__ == "__main__":
    main()
