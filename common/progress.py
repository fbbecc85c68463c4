"""Progress of a long stage, visible with or without a terminal.

Every stage that works through many items (prepare, person boxes, pseudo-poses, training, test)
reports through ``Progress``: a tqdm bar where stderr is a terminal, and, terminal or not (SLURM,
nohup, a pipe), a log line after the first item, then every ``interval`` seconds, then at the
end: ``what: done/total (percent), rate, elapsed, ETA`` plus whatever the stage adds (training:
step, lr, losses, step and data time, memory). It lives in data/, the bottom floor, because
data's own stages (``python -m data.prepare``) report through it too.
"""
import logging
import resource
import sys
import time

from tqdm import tqdm

INTERVAL = 30.0  # seconds between progress lines


def duration(seconds):
    """3725.2 -> '1:02:05'."""
    seconds = int(round(max(seconds, 0)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def resident_mib():
    """This process's resident memory now (MiB), from /proc; its peak where /proc is absent."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2 ** 20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Progress:
    """``total`` items of ``unit`` done one ``update`` at a time; lines to ``log``."""

    def __init__(self, total, what, log=None, unit="items", interval=None, start=0, bar=None,
                 clock=time.monotonic):
        self.total, self.what, self.unit = total, what, unit
        self.log = log or logging.getLogger(what)
        self.interval = INTERVAL if interval is None else interval
        self.clock = clock
        self.start_done = self.done = start
        self.started = self.last = clock()
        self.lines = 0
        show_bar = sys.stderr.isatty() if bar is None else bar
        self.bar = tqdm(total=total, initial=start, desc=what, unit=unit[:-1] or unit,
                        leave=False) if show_bar else None

    def rate(self):
        """Items a second since this run started (resumed items not counted)."""
        elapsed = self.clock() - self.started
        return (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def line(self, extra=""):
        rate = self.rate()
        left = self.total - self.done
        eta = duration(left / rate) if rate > 0 else "?"
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return (f"{self.what}: {self.done}/{self.total} {self.unit}{share}, {rate:.3g} "
                f"{self.unit}/s, elapsed {duration(self.clock() - self.started)}, ETA {eta}"
                + (f" | {extra}" if extra else ""))

    def update(self, n=1, extra=""):
        """``n`` more items done; ``extra`` (a string, or a callable giving one, evaluated only
        when a line is written) ends the line."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        now = self.clock()
        first = self.done - self.start_done == n
        if first or now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            self.lines += 1
            self.log.info("%s", self.line(extra() if callable(extra) else extra))

    def over(self, items):
        """Yield ``items``, counting each one done when the loop asks for the next (so a body
        that ``continue``s counts too), then close."""
        try:
            for item in items:
                yield item
                self.update()
        finally:
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
