"""What every training script shares: the lr schedule, the metrics log, atomic checkpoints and
resuming from them, and the multi-device step.

A checkpoint of epoch E is OUT/checkpoints/epoch-EEE.{params,states,json}; the .json (epoch,
resolved config, that epoch's metrics) is written last, so its presence marks a complete
checkpoint. metrics.jsonl holds one JSON object a line ({"kind": "step" | "epoch", ...}).
"""
import glob
import json
import os
import shutil
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from data.index import atomic_write_text


def lr_at(train_cfg, epoch):
    """Step schedule: lr x lr_factor for every step epoch passed."""
    t = train_cfg
    return t["lr"] * t["lr_factor"] ** sum(epoch >= s for s in t["lr_steps"])


def sgd_trainer(params, train_cfg, num_devices):
    t = train_cfg
    return gluon.Trainer(params, "sgd", dict(
        learning_rate=t["lr"], momentum=t["momentum"], wd=t["wd"],
        clip_gradient=t["clip_gradient"]), kvstore="device" if num_devices > 1 else "local")


def last_checkpoint(out):
    """The newest complete checkpoint's epoch, or None."""
    metas = sorted(glob.glob(os.path.join(out, "checkpoints", "epoch-*.json")))
    return int(os.path.basename(metas[-1])[6:9]) if metas else None


def checkpoint_prefix(out, epoch):
    return os.path.join(out, "checkpoints", f"epoch-{epoch:03d}")


def save_checkpoint(out, epoch, net, trainer, cfg, metrics):
    """params, then states, then the .json marker; each written to a temporary and renamed."""
    prefix = checkpoint_prefix(out, epoch)
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    net.save_parameters(prefix + ".params.tmp")
    os.replace(prefix + ".params.tmp", prefix + ".params")
    trainer.save_states(prefix + ".states.tmp")
    os.replace(prefix + ".states.tmp", prefix + ".states")
    atomic_write_text(prefix + ".json", json.dumps(dict(epoch=epoch, config=cfg,
                                                        metrics=metrics), indent=1))
    return prefix + ".params"


def resume(out, net, trainer, ctxs, log):
    """Load the last complete checkpoint; -> (first epoch to run, its .params path or None)."""
    done = last_checkpoint(out)
    if done is None:
        log.info("--resume: no checkpoint in %s, starting at epoch 0", out)
        return 0, None
    prefix = checkpoint_prefix(out, done)
    net.load_parameters(prefix + ".params", ctx=ctxs)
    trainer.load_states(prefix + ".states")
    log.info("resumed after epoch %d from %s", done, prefix)
    return done + 1, prefix + ".params"


def finish(out, last_params, log):
    """Copy the last epoch's parameters to OUT/final.params (atomically)."""
    final = os.path.join(out, "final.params")
    shutil.copyfile(last_params, final + ".tmp")
    os.replace(final + ".tmp", final)
    log.info("done: %s", final)
    return final


def epoch_metrics(epoch, trainer, tic, seen, sums, **extra):
    """The epoch's metrics.jsonl record: lr, seconds, ``extra``, and mean losses a sample."""
    return dict(kind="epoch", epoch=epoch, lr=trainer.learning_rate, seconds=time.time() - tic,
                **extra, **{f"loss_{k}": v / max(seen, 1) for k, v in sums.items()})


def end_epoch(out, epoch, net, trainer, cfg, metrics, log):
    """Checkpoint the epoch, log its metrics; -> the checkpoint's .params path."""
    params = save_checkpoint(out, epoch, net, trainer, cfg, metrics)
    append_metrics(out, metrics)
    log.info("epoch %d: %s", epoch, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()
                                             if isinstance(v, float)))
    return params


def checkpoint_or_last(out, path=None):
    """``path`` if given, else the last complete checkpoint of the run in ``out``."""
    if path:
        return path
    epoch = last_checkpoint(out)
    if epoch is None:
        raise FileNotFoundError(f"no checkpoint in {out}/checkpoints: train first")
    return checkpoint_prefix(out, epoch) + ".params"


def append_metrics(out, record):
    with open(os.path.join(out, "metrics.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")


def start_epoch(epoch, trainer, train_cfg, *resettable):
    """lr for the epoch, and every seeded source of randomness reset for it: the dropout masks
    (MXNet's generator), the dataset's augmentation and the sampler's order."""
    trainer.set_learning_rate(lr_at(train_cfg, epoch))
    mx.random.seed(train_cfg["seed"] * 1000 + epoch)
    for thing in resettable:
        thing.set_epoch(epoch)


def forward_backward(net, loss_fn, batch, ctxs):
    """One batch split over ``ctxs``: ``loss_fn(net, *shard) -> (total (n,), extras)`` under
    autograd, then backward. -> the per-device (total, extras) list; gradients stay in the
    parameters (summed over devices by the trainer)."""
    shards = [gluon.utils.split_and_load(part, ctxs, even_split=False) for part in batch]
    results = []
    with autograd.record():
        for shard in zip(*shards):
            results.append(loss_fn(net, *shard))
    autograd.backward([r[0] for r in results])
    return results


def train_step(net, loss_fn, batch, ctxs, trainer, epoch, step, last_good):
    """Forward and backward over the devices, one SGD step, and the finite-loss check.
    -> (mean loss of the batch, the per-device extras of ``loss_fn``)."""
    results = forward_backward(net, loss_fn, batch, ctxs)
    n = batch[0].shape[0]
    trainer.step(n)
    loss = sum(float(r[0].sum().asscalar()) for r in results) / n
    check_finite(loss, epoch, step, last_good)
    return loss, [r[1] for r in results]


def add_parts(sums, parts):
    """Accumulate per-clip loss parts (name -> (n,) arrays) into running sums."""
    for k, v in parts.items():
        sums[k] = sums.get(k, 0.0) + float(v.sum().asscalar())


def check_finite(loss, epoch, step, last_good):
    if not np.isfinite(loss):
        raise FloatingPointError(
            f"non-finite loss ({loss}) at epoch {epoch} step {step}; stopped. The last good "
            f"checkpoint is {last_good or 'none (no epoch finished)'}")
