#!/usr/bin/python3
"""procmon benchmark suite: `make bench`, or /usr/bin/python3 bench/suite
(the package's docstring, bench/suite/__init__.py, says what it measures
and lists the knobs)."""
import os
import signal
import sys

if __package__ in (None, ""):  # run as a directory, bench/suite: bench/ holds the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from suite.common import BenchError, cleanup  # noqa: E402
from suite.report import main, on_signal  # noqa: E402


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    try:
        status = main()
    except KeyboardInterrupt:
        status = 130
        print("suite.py: interrupted", file=sys.stderr)
    except BenchError as e:
        status = 1
        print(f"suite.py: {e}", file=sys.stderr)
    finally:
        cleanup()
    sys.exit(status)
