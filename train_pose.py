"""Train the 2D pose model on COCO keypoints (paper Sec. 4.2).

    python train_pose.py --config configs/pose/coco_r50_384x288.yaml [key=value ...] [--gpus 0,1]

ResNet-50 (ImageNet init) + the deconv head in 2D, SGD lr 0.01 x0.1 at epochs 17 and 21 of 22,
batch 8, momentum 0.9, wd 1e-4, clip_gradient 2; loss Lp = 0.5 Lh + 0.5 Lo (Eqs. 3-5), the video
model's pose loss on one frame. Outputs, checkpoints and --resume as train_action.py.
"""
import argparse
import os
import sys
import time

import mxnet as mx

from tqdm import tqdm

from configs import POSE_BASE, add_config_args, load_config_or_exit, save_config
from data.coco import CocoPose
from data.loader import make_loader
from experiment import contexts, load_weights, setup_logging
from symbols import get_pose_model
from symbols.pose_loss import PoseLoss
from training import (add_parts, append_metrics, end_epoch, epoch_metrics, finish, resume,
                      sgd_trainer, start_epoch, train_step)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(parser)
    parser.add_argument("--resume", action="store_true")
    return parser.parse_args(argv)


def build_pose_model(cfg, ctxs):
    m = cfg["model"]
    return get_pose_model(m["name"], pretrained=m["pretrained"], ctx=ctxs, **m["options"])


def coco_dataset(cfg, split, detections=None):
    d = cfg["data"]
    ann, images = (d["train_ann"], d["train_images"]) if split == "train" else \
        (d["val_ann"], d["val_images"])
    return CocoPose(ann, images, mode="train" if split == "train" else "test",
                    input_size=d["input_size"], scale=d["scale"], rotation=d["rotation"],
                    flip=d["flip"], detections=detections, seed=cfg["train"]["seed"],
                    heatmap_stride=32 // 2 ** cfg["model"]["options"].get("num_deconv", 2))


def pose_loss(criterion):
    def loss_fn(net, image, heat, offsets, weight):
        h, o = net(image)  # (n, K, H, W), (n, K, 2, H, W): one frame, T = 1 for the loss
        total, lh, lo = criterion(h.expand_dims(1), o.expand_dims(1), heat.expand_dims(1),
                                  offsets.expand_dims(1), weight.expand_dims(1))
        return total, dict(kps=total, heatmap=lh, offset=lo)
    return loss_fn


def train(cfg, ctxs, log, resume_run=False):
    out, t = cfg["out"], cfg["train"]
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_pose_model(cfg, ctxs)
    if t["init_from"]:
        load_weights(net, t["init_from"], ctxs, log)
    dataset = coco_dataset(cfg, "train")
    loader = make_loader(dataset, t["batch_size"], shuffle=True, workers=cfg["data"]["workers"],
                         last_batch="discard", seed=t["seed"])
    trainer = sgd_trainer(net.collect_params(), t, len(ctxs))
    start, last_good = resume(out, net, trainer, ctxs, log) if resume_run else (0, None)
    net.hybridize(static_alloc=True)
    log.info("%d person instances, %d steps an epoch, devices %s", len(dataset), len(loader),
             ctxs)
    steps, loss_fn = start * len(loader), pose_loss(PoseLoss(heatmap_loss=t["heatmap_loss"]))
    for epoch in range(start, t["epochs"]):
        start_epoch(epoch, trainer, t, dataset, loader.sampler)
        sums, seen, tic = {}, 0, time.time()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{t['epochs']}", leave=False, disable=None)
        for step, batch in enumerate(bar):
            loss, extras = train_step(net, loss_fn, batch, ctxs, trainer, epoch, step, last_good)
            for parts in extras:
                add_parts(sums, parts)
            seen += batch[0].shape[0]
            steps += 1
            bar.set_postfix(loss=f"{loss:.3f}")
            if steps % t["log_interval"] == 0:
                append_metrics(out, dict(kind="step", epoch=epoch, step=steps, loss=loss,
                                         lr=trainer.learning_rate))
        metrics = epoch_metrics(epoch, trainer, tic, seen, sums)
        last_good = end_epoch(out, epoch, net, trainer, cfg, metrics, log)
    return finish(out, last_good, log)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config_or_exit(args.config, args.overrides, base=POSE_BASE)
    log = setup_logging(cfg["out"], "train")
    save_config(cfg, os.path.join(cfg["out"], "config.yaml"))
    try:
        return train(cfg, contexts(args.gpus, args.cpus), log, args.resume)
    except (FloatingPointError, FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
