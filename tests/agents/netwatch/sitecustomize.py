# sitecustomize.py -- on PYTHONPATH for `make test-agents`: logs every network address a Python
# program (aider) looks up or connects to, one line each, to $NETWATCH_LOG, so the test can
# check that aider talks to the loopback model server and nothing else.
import os
import sys

_log = os.environ.get("NETWATCH_LOG")


def _watch(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto") and _log:
        with open(_log, "a") as f:
            f.write("%s %r\n" % (event, args[1] if event != "socket.getaddrinfo" else args[:2]))


if _log:
    sys.addaudithook(_watch)
