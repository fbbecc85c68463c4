"""Train a pose model: Action Machine's 2D heat-map model on COCO keypoints (paper Sec. 4.2), or
the soft-argmax 2D/3D model of Luvizon et al. 2018 on frames with 3D ground truth.

    python train_pose.py --config configs/pose/coco_r50_384x288.yaml [key=value ...] [--gpus 0,1]
    python train_pose.py --config configs/pose/synth_softargmax_tiny.yaml [key=value ...]

Heat-map model (data.source coco): ResNet-50 (ImageNet init) + the deconv head in 2D, SGD lr 0.01
x0.1 at epochs 17 and 21 of 22, batch 8, momentum 0.9, wd 1e-4, clip_gradient 2; loss
Lp = 0.5 Lh + 0.5 Lo (Eqs. 3-5), the video model's pose loss on one frame.

Soft-argmax model (data.source synth, or the real datasets mpii, h36m, penn_action, ntu and
their per-step mixture, mix: data/multitask/pose_images.py; the multitask family of
symbols.MODELS with parts "pose"): the elastic-net loss with visibility (Eq. 3, Sec. 5.2) on the
pose of every one of the K prediction blocks, weight 1 each (intermediate supervision, as the
cvpr18 code); RMSprop lr 0.001, x0.2 when the validation MPJPE plateaus (Appendix B). The
validation frames are data.val_share of the train split's performances (real data: of
data.test_source's training images or videos), scored as eval_pose.py scores the test frames (a
2D dataset: the mean 2D error, % of the box side).

Both go through ``training.fit``: outputs, checkpoints and --resume as train_action.py.
"""
import os

from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser)
    parser.add_argument("--resume", action="store_true")
    cli.add_kvstore_arg(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import mxnet as mx

from engine.config import POSE_BASE, load_config_or_exit
from common.errors import check_writable, exit_on_error
from data.loader import Substitutes
from data.multitask.pose_images import check_roots, pose_images
from data import registry
from engine import pose_eval as pose_model_eval
from engine.training.checkpoints import load_weights
from common.cli import with_kvstore
from engine.experiment import contexts
from engine.pose_experiment import coco_dataset, pose_frames
from engine.systems import build_pose_model, check_pose_config, system_of
from engine.training.loop import check_devices, fit, run_logging

REAL_SOURCES = registry.names("reader") + (registry.MIX,)


def validation(cfg, dataset, ctx):
    """validate(net) -> the validation score (lower is better) for training.fit: the MPJPE
    (mm) of ``dataset``'s frames; on a 2D dataset (MPII, Penn Action) the mean 2D error in %
    of the box's longer side (pose_model_eval.images_error)."""
    def validate(net):
        score = pose_model_eval.frames_mpjpe if cfg["data"]["source"] == "synth" else \
            pose_model_eval.images_error
        return score(net, dataset, ctx, cfg["eval"]["batch_size"], cfg["eval"]["flip"],
                     model="the model in training")
    return validate


def train(cfg, ctxs, log, dataset, resume_run=False, val_dataset=None):
    t = cfg["train"]
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_pose_model(cfg, ctxs)
    if t["init_from"]:
        load_weights(net, t["init_from"], ctxs, log, fresh=t["init_fresh"])
    loss_fn = system_of(cfg).pose_loss_fn(cfg, net)
    validate = validation(cfg, val_dataset, ctxs[0]) if val_dataset is not None else None
    return fit(cfg, net, dataset, loss_fn, ctxs, log, resume_run, validate)


def main(argv=None):
    args = cli.start(parse_args(argv))
    cfg = load_config_or_exit(args.config, with_kvstore(args), base=POSE_BASE)
    return run(cfg, contexts(args.gpus, args.cpus), args.resume)


def run(cfg, ctxs, resume_run=False):
    """Check every input, then train; any input error ends the run with one line."""
    with exit_on_error():
        check_devices(cfg["train"], ctxs)
        check_pose_config(cfg)
        init = cfg["train"]["init_from"]
        if init and not os.path.isfile(init):
            raise FileNotFoundError(f"train.init_from: no checkpoint at {init}")
        val_dataset = None
        if cfg["data"]["source"] in REAL_SOURCES:  # MPII, Human3.6M, Penn, NTU or a mixture
            check_roots(cfg)
            dataset = Substitutes(pose_images(cfg, "train"))
            if cfg["data"]["val_share"] > 0:
                val_dataset = pose_images(cfg, "val")
        elif cfg["data"]["source"] == "synth":
            dataset = Substitutes(pose_frames(cfg, "train"))
            if cfg["data"]["val_share"] > 0:
                val_dataset = pose_frames(cfg, "val")
        else:
            dataset = Substitutes(coco_dataset(cfg, "train"))
        if len(dataset) < cfg["train"]["batch_size"]:
            raise ValueError(f"{len(dataset)} training samples are fewer than a batch "
                             f"({cfg['train']['batch_size']})")
        check_writable(cfg["out"])
        log = run_logging(cfg)
    with exit_on_error(log):
        return train(cfg, ctxs, log, dataset, resume_run, val_dataset)


if __name__ == "__main__":
    main()
