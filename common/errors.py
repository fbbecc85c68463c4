"""One line a person can act on, for every failure that comes from the input rather than a bug.

Every script's ``main`` runs its work inside ``exit_on_error(log)``: an expected error (a missing
or unwritable file, a full disk, a bad config value, an unreadable video, a non-finite loss or
output, a checkpoint that does not fit the model) becomes ``error: <one line>`` on stderr, the
log's last line, and exit status 1 - never a traceback. An OSError's line names its path.
"""
import contextlib
import os
import sys


class VideoError(Exception):
    """A video that cannot be used; the message is the reason (raised by data/video.py)."""


EXPECTED = (OSError, ValueError, RuntimeError, FloatingPointError, VideoError)


def one_line(err):
    """The error as one line; an OSError names its path and reason ("PATH: No space left")."""
    if isinstance(err, OSError) and err.filename is not None:
        target = err.filename if err.filename2 is None else f"{err.filename} -> {err.filename2}"
        return f"{target}: {err.strerror or err}"
    lines = [l.strip() for l in str(err).splitlines() if l.strip()]
    if len(lines) > 1 and lines[0].startswith(("Traceback", "MXNetError")):
        return lines[-1]  # MXNet's message ends its C++ stack trace
    return " ".join(lines) or type(err).__name__


@contextlib.contextmanager
def exit_on_error(log=None):
    """Turn an expected error into ``error: <one line>`` and exit status 1."""
    try:
        yield
    except EXPECTED as err:
        line = one_line(err)
        if log is not None:
            log.error("%s", line)
        raise SystemExit(f"error: {line}") from None


def check_writable(folder):
    """Create ``folder`` if needed and prove a file can be written there (OSError otherwise), so
    an unwritable output folder stops a run before any work."""
    os.makedirs(folder, exist_ok=True)
    probe = os.path.join(folder, f".write-test-{os.getpid()}")
    try:
        with open(probe, "w") as f:
            f.write("ok")
    finally:
        if os.path.exists(probe):
            os.remove(probe)


NOTICED = set()  # the keys of the notices printed so far (each once a process)


def notice_once(key, message):
    """``notice: <message>`` on stderr the first time ``key`` comes up in this process (an old
    name that still works, say); later calls with the same key print nothing."""
    if key not in NOTICED:
        NOTICED.add(key)
        print(f"notice: {message}", file=sys.stderr)


def fail(message):
    """Stop a script with one line (for checks made before any work)."""
    sys.exit(f"error: {message}")
