"""The training loop both training scripts share: the optimizer, the lr schedule, the multi-device
step, the metrics log, checkpoints after every epoch, and resuming from them (``resume``;
checkpoint files: ``checkpoints``).

Optimizers (train.optimizer): sgd with momentum (Action Machine), nesterov, rmsprop (Luvizon et
al. 2018, Appendix B). Schedules (``lr_schedule``), lr set before every step: the step schedule
(train.lr_steps, lr_factor) or the cosine one, after train.warmup_epochs of linear warm-up;
with a validation callable, also train.lr_schedule plateau (pose configs, multitask action runs):
lr x lr_factor after lr_patience epochs without a lower validation score, and with
train.stop_patience the end of the run once the score has not improved for that many epochs
(train.epochs is then the most it runs).

OUT/metrics.jsonl holds one JSON object a line, {"kind": "step" | "epoch", "epoch", ...}; after a
resume it holds each step once (the lines of the epoch that was cut short are dropped). With a
validation callable, epoch lines also hold val_score and the plateau's state (val_best, val_wait,
val_since_best, lr_next, and "stopped": true on the epoch that ended the run), which --resume
restores from the checkpoint's marker (a stopped run resumes to its final.params).
OUT/curves.png plots it (losses, train accuracy, lr), redrawn after an epoch once 30 s have passed
since the last drawing (a drawing costs about 0.3 s, a tiny model's epoch a few seconds), and
after the last epoch.

Several processes (train.kvstore dist_sync / dist_device_sync, under launch.py; ``distributed``):
train.batch_size is the global batch, each worker reads its disjoint share of every step, the
step, epoch and validation numbers are sums over the workers, and rank 0 alone writes OUT.
"""
import os
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from engine.config import save_config
from data.loader import make_loader
from common.progress import Progress, resident_mib
from engine.inference import precision
from engine.training.checkpoints import prefix_of, save_checkpoint, write_final
from engine.training.distributed import Job, console_logging, join
from engine.experiment import setup_logging
from engine.training.lr_schedule import lr_at, plateau_of
from engine.views.plots import training_curves
from engine.training.resume import append_metrics, resume, start_fresh

OPTIMIZERS = {"sgd": "sgd", "nesterov": "nag", "rmsprop": "rmsprop"}  # config -> MXNet name
CURVES_EVERY = 30.0  # seconds: curves.png is redrawn after an epoch at most this often, and last


def make_trainer(params, train_cfg, num_devices, job=None):
    """The config's optimizer: sgd / nesterov with train.momentum, or rmsprop (decay 0.9, as
    Keras's RMSprop); weight decay and MXNet's per-element gradient clipping for all. In a dist
    job the servers only sum the gradients and each worker updates its copy of the weights
    (so its optimizer state is the one rank 0 saves)."""
    t = train_cfg
    job = job or Job(t.get("kvstore"))
    options = dict(learning_rate=t["lr"], wd=t["wd"], clip_gradient=t["clip_gradient"])
    if t["optimizer"] == "rmsprop":
        options.update(gamma1=0.9)
    else:
        options.update(momentum=t["momentum"])
    if job.distributed:
        # trainer.step(n) divides by the worker's n = B / W clips: x 1/W makes it 1/B
        options.update(rescale_grad=1.0 / job.num_workers)
    return gluon.Trainer(params, OPTIMIZERS[t["optimizer"]], options,
                         kvstore=job.trainer_kvstore(num_devices),
                         update_on_kvstore=False if job.distributed else None)


def job_of(cfg):
    """The config's Job (train.kvstore): a dist kind joins the launched job once a process."""
    t = cfg["train"]
    return join(t.get("kvstore"), t.get("kvstore_timeout", 300.0))


def run_logging(cfg, name="train"):
    """``experiment.setup_logging`` (console + OUT/NAME.log) for the process that writes OUT;
    the other workers of a dist job log to the console only."""
    job = job_of(cfg)
    return setup_logging(cfg["out"], name) if job.writer else console_logging(name, job.rank)


def check_job(job, train_cfg, ctxs):
    """Each worker's batch (train.batch_size / workers) needs a clip for each of its devices."""
    local = job.local_batch(train_cfg["batch_size"])
    if job.distributed and local < len(ctxs):
        raise ValueError(f"each of the {job.num_workers} workers takes {local} clips of a batch "
                         f"of {train_cfg['batch_size']}, fewer than its {len(ctxs)} devices")


def check_devices(train_cfg, ctxs):
    """Every device needs at least one clip of each batch, and must run train.amp's precision
    (checked here, before any data is read)."""
    if train_cfg["batch_size"] < len(ctxs):
        raise ValueError(f"train.batch_size {train_cfg['batch_size']} is smaller than the number "
                         f"of devices ({len(ctxs)}): each device needs a clip")
    precision.check_training_dtype(train_cfg.get("amp", "float32"), ctxs)


def start_epoch(epoch, trainer, train_cfg, *resettable, lr=None, job=None):
    """lr for the epoch (``lr``, or the step schedule's), and every seeded source of randomness
    reset for it: the dropout masks (MXNet's generator; each worker of a job its own), the
    dataset's augmentation and the sampler's order."""
    trainer.set_learning_rate(lr_at(train_cfg, epoch) if lr is None else lr)
    job = job or Job(None)
    mx.random.seed((train_cfg["seed"] * 1000 + epoch) * job.num_workers + job.rank)
    for thing in resettable:
        thing.set_epoch(epoch)


def epoch_loader(dataset, cfg, epoch, job=None):
    """The loader of one epoch, made after the dataset's epoch is set. Worker processes copy the
    dataset when the loader starts them, so one loader kept across epochs would replay epoch 0's
    augmentation in every epoch (it did, with data.workers > 0). In a dist job: this worker's
    share of every global batch."""
    t = cfg["train"]
    dataset.set_epoch(epoch)
    shard = (job.rank, job.num_workers) if job is not None and job.distributed else None
    loader = make_loader(dataset, t["batch_size"], shuffle=True, workers=cfg["data"]["workers"],
                         last_batch="discard", seed=t["seed"], shard=shard)
    loader.sampler.set_epoch(epoch)
    return loader


def forward_backward(net, loss_fn, batch, ctxs, trainer=None):
    """One batch (a named item of data/batch.py) split over ``ctxs``: ``loss_fn(net, **fields)
    -> (total (n,), parts)`` under autograd, then backward. -> the per-device (total, parts)
    list; gradients stay in the parameters (summed over devices by the trainer)."""
    shards = [gluon.utils.split_and_load(part, ctxs, even_split=False) for part in batch]
    results = []
    with autograd.record():
        for shard in zip(*shards):
            results.append(loss_fn(net, **dict(zip(batch._fields, shard))))
    precision.backward([r[0] for r in results], trainer)  # train.amp: scaled for float16
    return results


def train_step(net, loss_fn, batch, ctxs, trainer, where, last_good):
    """Forward and backward over the devices, one SGD step, and the finite-loss check.
    -> (mean loss of the batch, the per-device parts of ``loss_fn``)."""
    results = forward_backward(net, loss_fn, batch, ctxs, trainer)
    n = batch[0].shape[0]
    trainer.step(n)
    loss = sum(float(r[0].sum().asscalar()) for r in results) / n
    if not np.isfinite(loss):
        raise FloatingPointError(
            f"non-finite loss ({loss}) at {where}; stopped. The last good checkpoint is "
            f"{last_good or 'none (no epoch finished)'}")
    return loss, [r[1] for r in results]


def step_line(epoch, epochs, loss, sums, seen, lr, step_time, data_time):
    """The training part of a progress line: where, the batch's loss, the epoch's running
    means of the loss parts, lr, the last step's time and the part of it spent waiting for
    data, and resident memory."""
    parts = " ".join(f"{k[5:] if k.startswith('loss_') else k} {v / max(seen, 1):.4g}"
                     for k, v in sums.items())
    return (f"epoch {epoch + 1}/{epochs}, loss {loss:.4g} ({parts}), lr {lr:.4g}, step "
            f"{step_time:.3f} s (data {data_time:.3f} s), memory {resident_mib():.0f} MiB")


def add_parts(sums, parts):
    """Accumulate per-sample values (name -> (n,) arrays) into running sums."""
    for k, v in parts.items():
        sums[k] = sums.get(k, 0.0) + float(v.sum().asscalar())


def job_step(job, loss, n, bad):
    """A step's mean loss and unreadable count over the whole global batch (sums over the
    workers of a dist job; this process's own otherwise)."""
    if not job.distributed:
        return loss, bad
    loss_sum, bad = job.sum([loss * n, bad])
    return loss_sum / (n * job.num_workers), int(bad)


def job_epoch(job, sums, seen):
    """The epoch's per-sample sums and sample count over every worker of a dist job."""
    if not job.distributed:
        return sums, seen
    names = sorted(sums)
    total = job.sum([sums[k] for k in names] + [seen])
    return dict(zip(names, total[:-1].tolist())), int(total[-1])


def check_unreadable(count, total, fraction, epoch):
    """Training may replace an unreadable sample, but only up to ``fraction`` of an epoch."""
    if count > fraction * total:
        raise RuntimeError(f"{count} unreadable samples in epoch {epoch + 1} (of {total}; "
                           f"train.max_unreadable allows {fraction:g}): check the prepared data, "
                           f"the log names each one")


def fit(cfg, net, dataset, loss_fn, ctxs, log, resume_run=False, validate=None):
    """Train ``net`` on ``dataset`` with ``loss_fn(net, *batch) -> (total (n,), parts)``, whose
    parts (name -> (n,) per-sample values) are averaged into each epoch's metrics. The dataset's
    items end with an ``unreadable`` flag (``data.loader.Substitutes``). ``validate(net) ->
    score`` (lower is better), if given, runs after every epoch: its score is the epoch's
    val_score and drives the plateau schedule. Checkpoints after every epoch;
    -> OUT/final.params."""
    out, t = cfg["out"], cfg["train"]
    job = job_of(cfg)
    check_job(job, t, ctxs)
    steps_per_epoch = len(dataset) // t["batch_size"]  # the last, partial batch is dropped
    trainable = {k: p for k, p in net.collect_params().items() if p.grad_req != "null"}
    trainer = make_trainer(trainable, t, len(ctxs), job)
    precision.init_training(trainer, t.get("amp", "float32"), ctxs)  # before the graph exists
    resumed = None
    if resume_run:
        start, last_good, resumed = resume(out, cfg, net, trainer, ctxs, log, job.writer)
    else:
        start_fresh(out, job.writer)
        start, last_good = 0, None
    job.settle(trainer)
    plateau = plateau_of(t, validate, resumed)
    last = start if plateau is not None and plateau.stopped else t["epochs"]  # a stopped run
    if job.writer:
        save_config(cfg, os.path.join(out, "config.yaml"))  # after the resume check compared it
    net.hybridize(static_alloc=True)
    log.info("%d training samples, %d steps an epoch, devices %s%s", len(dataset),
             steps_per_epoch, ctxs, f", worker {job.rank} of {job.num_workers} ({job.kind})"
             if job.distributed else "")
    steps = start * steps_per_epoch
    # Epochs count from 1 in the log and the progress lines, from 0 in metrics.jsonl.
    progress = Progress(t["epochs"] * steps_per_epoch, "train", log, unit="steps", start=steps,
                        bar=None if job.writer else False)
    drawn = 0.0  # when curves.png was last drawn
    for epoch in range(start, last):
        start_epoch(epoch, trainer, t, lr=plateau.lr if plateau else None, job=job)
        loader = epoch_loader(dataset, cfg, epoch, job)
        sums, seen, unreadable, tic = {}, 0, 0, time.time()
        waited = time.perf_counter()
        for i, (batch, bad) in enumerate(loader):  # data.batch.Substituted: items, replaced flags
            data_time = time.perf_counter() - waited
            if plateau is None:  # warm-up and cosine move lr every step
                trainer.set_learning_rate(lr_at(t, epoch, i, steps_per_epoch))
            loss, parts = train_step(net, loss_fn, batch, ctxs, trainer,
                                     f"epoch {epoch + 1} step {steps + 1}", last_good)
            loss, bad = job_step(job, loss, batch[0].shape[0], int(bad.sum().asscalar()))
            unreadable += bad
            check_unreadable(unreadable, len(dataset), t["max_unreadable"], epoch)
            for p in parts:
                add_parts(sums, p)
            seen += batch[0].shape[0]
            steps += 1
            step_time = time.perf_counter() - waited
            if job.writer:
                progress.update(1, lambda: step_line(epoch, t["epochs"], loss, sums, seen,
                                                     trainer.learning_rate, step_time,
                                                     data_time))
            if steps % t["log_interval"] == 0 and job.writer:
                append_metrics(out, dict(kind="step", epoch=epoch, step=steps, loss=loss,
                                         lr=trainer.learning_rate))
            waited = time.perf_counter()
        sums, seen = job_epoch(job, sums, seen)
        metrics = dict(kind="epoch", epoch=epoch, lr=trainer.learning_rate,
                       seconds=time.time() - tic, unreadable=unreadable,
                       **{k: v / max(seen, 1) for k, v in sums.items()})
        if job.distributed:
            metrics["workers"] = job.num_workers
        if validate is not None:  # every worker holds the same weights: the same score
            metrics["val_score"] = float(validate(net))
            if plateau:
                plateau.update(metrics["val_score"])
                metrics.update(plateau.state())
        draw = (epoch + 1 == last or metrics.get("stopped")
                or time.time() - drawn >= CURVES_EVERY)
        last_good = end_epoch(out, epoch, net, trainer, cfg, metrics, steps_per_epoch, job, draw)
        drawn = time.time() if draw else drawn
        log.info("epoch %d/%d: %s", epoch + 1, t["epochs"],
                 " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
        if metrics.get("stopped"):
            log.info("validation stagnated: no better score in %d epochs (train.stop_patience); "
                     "the run ends after epoch %d of at most %d", t["stop_patience"], epoch + 1,
                     t["epochs"])
            break
    progress.close()
    if last_good is None:
        raise ValueError(f"nothing to train: the run in {out} already finished epoch "
                         f"{start - 1} of {t['epochs']}")
    final = write_final(out, last_good, cfg) if job.writer else os.path.join(out, "final.params")
    log.info("done: %s", final)
    return final


def end_epoch(out, epoch, net, trainer, cfg, metrics, steps_per_epoch, job, draw=True):
    """The epoch's checkpoint, metrics line and, if ``draw``, curves (rank 0 alone) -> its
    .params path."""
    if not job.writer:
        return prefix_of(out, epoch) + ".params"
    last_good = save_checkpoint(out, epoch, net, trainer, cfg, metrics)
    append_metrics(out, metrics)
    if draw:
        training_curves(os.path.join(out, "metrics.jsonl"), os.path.join(out, "curves.png"),
                        steps_per_epoch=steps_per_epoch)
    return last_good
