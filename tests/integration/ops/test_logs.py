"""Access log: one line per request with method, path, status, backend and
duration; --log-format json lines parse as JSON."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import Client, SluiceCase, main, wait_until  # noqa: E402


def send_some(port):
    with Client(port) as c:
        assert c.request("GET", "/logged/path?q=1").status == 200
        assert c.request("POST", "/echo", body=b"abc").status == 200
        assert c.request("GET", "/status/404").status == 404


class Logs(SluiceCase):
    def test_text_access_log(self):
        """text lines carry method, path, status, backend and a duration"""
        b = self.backend("logb")
        d = self.simple([b])
        send_some(d.port)
        lines = wait_until(lambda: len(d.access_lines()) >= 3 and d.access_lines(), timeout=5)
        print("  " + "\n  ".join(lines or ["<no lines>"]))
        self.assertTrue(lines, "no access log lines in %s" % d.access_log)
        first = [l for l in lines if "/logged/path" in l]
        self.assertTrue(first, "no line for GET /logged/path")
        l = first[0]
        self.assertIn("GET", l)
        self.assertRegex(l, r"\b200\b")
        # the backend by name or by address
        self.assertTrue("logb" in l or "127.0.0.1:%d" % b.port in l, "no backend in %r" % l)
        # a duration with a unit, a dur*= field, or a decimal number as the last field
        self.assertRegex(l, r"\d+(\.\d+)?\s*(ms|us|µs|s)\b|dur\w*[=:]\s*\d|\s\d+\.\d+$",
                         "no duration in %r" % l)
        self.assertTrue(any("POST" in x and "/echo" in x for x in lines))
        self.assertTrue(any(re.search(r"\b404\b", x) for x in lines))

    def test_json_access_log(self):
        """--log-format json: every line is a JSON object with the same facts"""
        b = self.backend("jsonb")
        d = self.simple_json(b)
        send_some(d.port)
        lines = wait_until(lambda: len(d.access_lines()) >= 3 and d.access_lines(), timeout=5)
        print("  " + "\n  ".join(lines or ["<no lines>"]))
        self.assertTrue(lines, "no access log lines")
        docs = [json.loads(l) for l in lines]
        for doc in docs:
            self.assertIsInstance(doc, dict)
        doc = [x for x in docs if "/logged/path" in json.dumps(x)][0]
        vals = [str(v) for v in doc.values()]
        self.assertIn("GET", vals)
        self.assertIn("200", vals)
        self.assertTrue("jsonb" in vals or "127.0.0.1:%d" % b.port in vals, "no backend")
        self.assertTrue(any(re.search("dur|time|ms|latency", k) for k in doc), doc)

    def simple_json(self, b):
        from sluicetest import (backend_entry, config, endpoint, free_port, http_listener,
                                route, service)
        port = free_port()
        d = self.sluice(config([http_listener(port)],
                               {"app": service([backend_entry(b.name, b.port)])},
                               [endpoint("/", [route("app")])]),
                        extra_args=["--log-format", "json"])
        d.port = port
        return d


if __name__ == "__main__":
    main()
