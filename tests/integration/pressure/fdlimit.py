"""What the descriptor-pressure tests share: a daemon run under
`prlimit --nofile=N` (util-linux), serving one HTTP service."""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sluicetest import (backend_entry, config, endpoint, free_port,  # noqa: E402
                        http_listener, route, service)

needs_prlimit = unittest.skipIf(shutil.which("prlimit") is None,
                                "prlimit (util-linux) is not installed")


def start_limited(case, cfg, nofile, wait=True):
    """Starts `sluice serve` on <cfg> for SluiceCase <case> with both
    descriptor limits at <nofile>."""
    d = case.sluice(cfg, start=False)
    plain = d.argv
    d.argv = lambda: ["prlimit", "--nofile=%d:%d" % (nofile, nofile)] + plain()
    d.start(wait=wait)
    return d


def start_http(case, backend, nofile, workers, wait=True):
    """One HTTP listener routing / to <backend>, under <nofile>; the
    daemon's .port is the listener's."""
    port = free_port()
    cfg = config([http_listener(port)],
                 {"app": service([backend_entry(backend.name, backend.port)])},
                 [endpoint("/", [route("app")])], workers=workers)
    d = start_limited(case, cfg, nofile, wait)
    d.port = port
    return d
