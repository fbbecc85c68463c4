"""Where a training run stands on disk: a fresh run refuses another run's checkpoints, a resumed
one loads its newest whole checkpoint (a config that differs where it matters is refused) and
cuts OUT/metrics.jsonl back to it; the loop appends a JSON line a step and an epoch
(``append_metrics``). Checkpoint files themselves: ``checkpoints``."""
import json
import os

import yaml

from common.files import atomic_write_text
from engine.training.checkpoints import (
    differences,
    epochs_on_disk,
    load_weights,
    newest_intact,
    prefix_of,
)


def start_fresh(out, writes=True):
    """A new run must not overwrite another run's checkpoints; its metrics log starts empty."""
    done = epochs_on_disk(out)
    if done:
        raise ValueError(f"{out} already holds checkpoints (up to epoch {done[0]}): continue it "
                         f"with --resume, or train into another out=")
    path = os.path.join(out, "metrics.jsonl")
    if writes and os.path.exists(path):
        os.remove(path)


def check_resumable(out, cfg, saved, what):
    """Refuse a resume whose config differs from the run's where it matters."""
    found = differences(saved, cfg)
    if found:
        listed = "; ".join(f"{key} {old!r} -> {new!r}" for key, old, new in found)
        raise ValueError(f"--resume: the config differs from {what} at {len(found)} key(s): "
                         f"{listed}; resume with the run's config or train into another out=")


def resume(out, cfg, net, trainer, ctxs, log, writes=True):
    """Load the newest whole checkpoint -> (first epoch to run, its .params path or None, its
    epoch's metrics or None). Corrupt newer checkpoints are skipped (and logged); metrics.jsonl
    is cut back to match (if ``writes``: every worker of a job loads rank 0's checkpoint, rank 0
    alone edits the log)."""
    epoch, marker = newest_intact(out, log)
    if epoch is None:
        saved = os.path.join(out, "config.yaml")
        if os.path.isfile(saved):
            with open(saved) as f:
                check_resumable(out, cfg, yaml.safe_load(f), saved)
        log.info("--resume: no whole checkpoint in %s, starting at epoch 0", out)
        if writes:
            start_fresh_metrics(out, -1)
        return 0, None, None
    prefix = prefix_of(out, epoch)
    check_resumable(out, cfg, marker["config"], prefix + ".json")
    load_weights(net, prefix + ".params", ctxs)
    trainer.load_states(prefix + ".states")
    if writes:
        start_fresh_metrics(out, epoch)
    log.info("resumed after epoch %d from %s", epoch, prefix)
    return epoch + 1, prefix + ".params", marker["metrics"]


def start_fresh_metrics(out, last_epoch):
    """Keep the metrics lines of epochs up to ``last_epoch``; drop the rest and any torn line."""
    path = os.path.join(out, "metrics.jsonl")
    if not os.path.exists(path):
        return
    kept = []
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("epoch", last_epoch + 1) <= last_epoch:
                kept.append(line if line.endswith("\n") else line + "\n")
    atomic_write_text(path, "".join(kept))


def append_metrics(out, record):
    with open(os.path.join(out, "metrics.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")
