"""common/progress.py: progress lines without a terminal (first item, every interval, the end) with
rate and ETA by hand on a fake clock; a training run piped through another program shows them."""
import logging
import os
import subprocess
import sys

from common.progress import Progress, duration
from helpers import ROOT, config, overrides


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_lines_at_the_first_item_every_interval_and_the_end(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO)
    p = Progress(10, "test", logging.getLogger("t"), unit="videos", interval=30, bar=False,
                 clock=clock)
    for t in (2, 4, 20, 31, 40, 45, 70, 71, 72, 80):  # seconds after the start
        clock.now = 100.0 + t
        p.update(extra="x=1")
    lines = [r.getMessage() for r in caplog.records]
    # item 1 (t=2); item 4 (t=31) is 29 s after that line, item 5 (t=40) 38 s: a line; item 7
    # (t=70) 30 s after it: a line; the last item (t=80): a line
    assert lines[0] == "test: 1/10 videos (10%), 0.5 videos/s, elapsed 0:00:02, ETA 0:00:18 | x=1"
    assert [l.split(",")[0] for l in lines] == ["test: 1/10 videos (10%)",
                                                "test: 5/10 videos (50%)",
                                                "test: 7/10 videos (70%)",
                                                "test: 10/10 videos (100%)"]
    assert lines[1].startswith("test: 5/10 videos (50%), 0.125 videos/s, elapsed 0:00:40, "
                               "ETA 0:00:40")  # 5 left at 5 / 40 s
    assert lines[3].endswith("ETA 0:00:00 | x=1")


def test_a_resumed_run_counts_its_rate_from_what_it_did():
    clock = Clock()
    p = Progress(100, "train", unit="steps", start=60, bar=False, clock=clock)
    clock.now += 10
    p.update(5)
    assert p.rate() == 0.5 and "65/100 steps" in p.line() and "ETA 0:01:10" in p.line()


def test_duration():
    assert duration(3725.2) == "1:02:05" and duration(-1) == "0:00:00"


def test_training_piped_shows_progress_lines_with_eta(synth_work, tmp_path):
    proc = subprocess.run(
        [sys.executable, "train_action.py", "--config", config("kps"), "--threads", "1"]
        + overrides(synth_work, str(tmp_path / "run"), "train.epochs=1"),
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [l for l in proc.stderr.splitlines() if " train: " in l]
    assert lines and "train: 1/5 steps (20%)" in lines[0] and "ETA" in lines[0]
    assert "epoch 1/1, loss " in lines[0] and "data " in lines[0] and " MiB" in lines[0]
    assert "train: 5/5 steps (100%)" in lines[-1]
    assert "epoch 1/1: " in proc.stderr  # epochs count from 1 in the log, as in the lines
