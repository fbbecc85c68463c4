"""Train Action Machine on one dataset and protocol (paper Sec. 3 and 4.3).

    python train_action.py --config configs/nucla_xview1_kps.yaml [key=value ...] [--gpus 0,1,2,3]

Joint stage: L = Lr + Lp + Lpaction with the heads the config switches on. Stage "pose_cnn": the
KPS RGBAction model (train.init_from) is frozen and only the pose CNN trains. SGD with momentum,
weight decay, step lr and MXNet's clip_gradient; data-parallel over the given devices. Writes to
the config's ``out``: config.yaml, train.log, metrics.jsonl (one JSON object a line: step lines
and epoch lines), checkpoints/epoch-NNN.{params,states,json} after every epoch (atomically), and
final.params. ``--resume`` continues after the last complete checkpoint; every random choice is
seeded by (seed, epoch), so a resumed run ends with the same weights as an uninterrupted one.
"""
import argparse
import os
import sys
import time

import mxnet as mx

from tqdm import tqdm

from configs import add_config_args, load_config_or_exit, save_config
from data.loader import make_loader
from experiment import (build_model, clip_dataset, contexts, load_weights, setup_logging,
                        split_samples)
from symbols.action_machine import ActionMachineLoss
from training import (add_parts, append_metrics, end_epoch, epoch_metrics, finish, resume,
                      sgd_trainer, start_epoch, train_step)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(parser)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--abort-after-steps", type=int, help=argparse.SUPPRESS)  # tests: a kill
    return parser.parse_args(argv)


def loss_terms(cfg, heads):
    """Which of Eq. (8)'s losses train: stage 2 trains only the pose CNN's."""
    return ("pose",) if cfg["train"]["stage"] == "pose_cnn" else heads


def freeze_for_stage(net, cfg):
    """Stage pose_cnn: everything but the pose CNN keeps its weights (grad_req null)."""
    if cfg["train"]["stage"] != "pose_cnn":
        return
    if net.pose_cnn is None:
        raise ValueError("train.stage pose_cnn needs the pose CNN head ('pose' in heads)")
    for name, param in net.collect_params().items():
        if not name.startswith(net.pose_cnn.prefix):
            param.grad_req = "null"


def action_loss(criterion):
    """(net, clip, label, heat, offsets, weight) -> (total, (parts, rgb logits, label))."""
    def loss_fn(net, clip, label, heat, offsets, weight):
        outputs = dict(zip(net.output_names, net(clip)))
        total, parts = criterion(outputs, label, heat, offsets, weight)
        return total, (parts, outputs["rgb"], label)
    return loss_fn


def train(cfg, ctxs, log, resume_run=False, abort_after_steps=None):
    out, t = cfg["out"], cfg["train"]
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_model(cfg, ctxs)
    heads = net.config.heads
    if t["init_from"]:
        load_weights(net, t["init_from"], ctxs, log)
    freeze_for_stage(net, cfg)
    terms = loss_terms(cfg, heads)
    criterion = ActionMachineLoss(terms, t["loss_weights"], heatmap_loss=t["heatmap_loss"])
    dataset = clip_dataset(cfg, split_samples(cfg, "train"), "train", "kps" in terms)
    batch_size = t["batch_size"]
    if len(dataset) < batch_size:
        raise ValueError(f"{len(dataset)} training samples are fewer than a batch ({batch_size})")
    loader = make_loader(dataset, batch_size, shuffle=True, workers=cfg["data"]["workers"],
                         last_batch="discard", seed=t["seed"])
    trainable = {k: p for k, p in net.collect_params().items() if p.grad_req != "null"}
    trainer = sgd_trainer(trainable, t, len(ctxs))
    start, last_good = resume(out, net, trainer, ctxs, log) if resume_run else (0, None)
    net.hybridize(static_alloc=True)
    log.info("%d training clips, %d steps an epoch, devices %s, losses %s",
             len(dataset), len(loader), ctxs, "+".join(terms))
    steps, loss_fn = start * len(loader), action_loss(criterion)
    for epoch in range(start, t["epochs"]):
        start_epoch(epoch, trainer, t, dataset, loader.sampler)
        sums, correct, seen, tic = {}, 0, 0, time.time()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{t['epochs']}", leave=False, disable=None)
        for step, batch in enumerate(bar):
            loss, extras = train_step(net, loss_fn, batch, ctxs, trainer, epoch, step, last_good)
            for parts, rgb, label in extras:
                add_parts(sums, parts)
                correct += int((rgb.argmax(axis=1) == label.astype("float32")).sum().asscalar())
            seen += batch[0].shape[0]
            steps += 1
            bar.set_postfix(loss=f"{loss:.3f}")
            if steps % t["log_interval"] == 0:
                append_metrics(out, dict(kind="step", epoch=epoch, step=steps, loss=loss,
                                         lr=trainer.learning_rate))
            if abort_after_steps is not None and steps >= abort_after_steps:
                os._exit(3)  # an abrupt death, as a kill would be: no cleanup, no checkpoint
        metrics = epoch_metrics(epoch, trainer, tic, seen, sums,
                                train_rgb_top1=correct / max(seen, 1))
        last_good = end_epoch(out, epoch, net, trainer, cfg, metrics, log)
    return finish(out, last_good, log)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config_or_exit(args.config, args.overrides)
    if cfg["model"]["sync_bn"] and not args.gpus:
        sys.exit("error: model.sync_bn needs GPUs (--gpus): MXNet's SyncBatchNorm hangs on CPU "
                 "contexts; use per-device batch norm (model.sync_bn=false) on CPU")
    log = setup_logging(cfg["out"], "train")
    save_config(cfg, os.path.join(cfg["out"], "config.yaml"))
    try:
        return train(cfg, contexts(args.gpus, args.cpus), log, args.resume,
                     args.abort_after_steps)
    except (FloatingPointError, FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
