"""pytest plugin of tests/run_suites.py: at the end of the session, the
pytest process's own peak RSS (KiB) to the file $PROCMON_RSS_FILE, so the
summary tells the test process apart from the procmon and nats-server
processes it starts (wait4 gives only the whole tree's peak)."""

import os
import resource


def pytest_unconfigure(config):
    path = os.environ.get("PROCMON_RSS_FILE")
    if path:
        with open(path, "w") as f:
            f.write(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\n")
