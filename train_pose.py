"""Train the 2D pose model on COCO keypoints (paper Sec. 4.2).

    python train_pose.py --config configs/pose/coco_r50_384x288.yaml [key=value ...] [--gpus 0,1]

ResNet-50 (ImageNet init) + the deconv head in 2D, SGD lr 0.01 x0.1 at epochs 17 and 21 of 22,
batch 8, momentum 0.9, wd 1e-4, clip_gradient 2; loss Lp = 0.5 Lh + 0.5 Lo (Eqs. 3-5), the video
model's pose loss on one frame. Outputs, checkpoints and --resume as train_action.py.
"""
import argparse
import os

import mxnet as mx

from configs import POSE_BASE, add_config_args, load_config_or_exit
from data.loader import Substitutes
from errors import check_writable, exit_on_error
from checkpoints import load_weights
from experiment import build_pose_model, coco_dataset, contexts, setup_logging
from symbols.pose_loss import PoseLoss
from training import check_devices, fit


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_args(parser)
    parser.add_argument("--resume", action="store_true")
    return parser.parse_args(argv)


def pose_loss(criterion):
    def loss_fn(net, image, heat, offsets, weight):
        h, o = net(image)  # (n, K, H, W), (n, K, 2, H, W): one frame, T = 1 for the loss
        total, lh, lo = criterion(h.expand_dims(1), o.expand_dims(1), heat.expand_dims(1),
                                  offsets.expand_dims(1), weight.expand_dims(1))
        return total, dict(loss_kps=total, loss_heatmap=lh, loss_offset=lo)
    return loss_fn


def train(cfg, ctxs, log, dataset, resume_run=False):
    t = cfg["train"]
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_pose_model(cfg, ctxs)
    if t["init_from"]:
        load_weights(net, t["init_from"], ctxs, log, fresh=t["init_fresh"])
    loss_fn = pose_loss(PoseLoss(*t["pose_loss_weights"], heatmap_loss=t["heatmap_loss"]))
    return fit(cfg, net, dataset, loss_fn, ctxs, log, resume_run)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config_or_exit(args.config, args.overrides, base=POSE_BASE)
    return run(cfg, contexts(args.gpus, args.cpus), args.resume)


def run(cfg, ctxs, resume_run=False):
    """Check every input, then train; any input error ends the run with one line."""
    with exit_on_error():
        check_devices(cfg["train"], ctxs)
        init = cfg["train"]["init_from"]
        if init and not os.path.isfile(init):
            raise FileNotFoundError(f"train.init_from: no checkpoint at {init}")
        dataset = Substitutes(coco_dataset(cfg, "train"))
        check_writable(cfg["out"])
        log = setup_logging(cfg["out"], "train")
    with exit_on_error(log):
        return train(cfg, ctxs, log, dataset, resume_run)


if __name__ == "__main__":
    main()
