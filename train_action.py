"""Train Action Machine on one dataset and protocol (paper Sec. 3 and 4.3).

    python train_action.py --config configs/action_machine/nucla/nucla_xview1_kps.yaml
        [key=value ...] [--gpus 0,1,2,3]

Joint stage: L = Lr + Lp + Lpaction with the heads the config switches on. Stage "pose_cnn": the
KPS RGBAction model (train.init_from) is frozen and only the pose CNN trains. SGD with momentum,
weight decay, step lr and MXNet's clip_gradient; data-parallel over the given devices. Writes to
the config's ``out``: config.yaml, train.log, metrics.jsonl (one JSON object a line: step lines
and epoch lines), checkpoints/epoch-NNN.{params,states,json} after every epoch (atomically), and
final.params. Luvizon et al.'s multitask models (model.name softargmax_multitask*) train here too,
in Appendix B's stages (train.stage pose_frozen, then end_to_end; ``train_multitask``).
``--resume`` continues after the last complete checkpoint; every random choice is
seeded by (seed, epoch), so a resumed run ends with the same weights as an uninterrupted one.
"""

from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    cli.add_kvstore_arg(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import mxnet as mx
from mxnet import autograd

from engine.config import load_config_or_exit
from common.errors import check_writable, exit_on_error, fail
from data.loader import Substitutes
from engine.checkpoints import load_weights
from common.cli import with_kvstore
from engine.experiment import (
    build_model,
    check_multitask_config,
    check_num_classes,
    check_training_inputs,
    clip_dataset,
    contexts,
    init_fresh,
    is_softargmax,
    multitask_clips,
    split_samples,
)
from engine.multitask import train_multitask
from engine.training import check_devices, fit, run_logging
from symbols import model_config
from symbols.action_machine import ActionMachineLoss


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


def action_loss(criterion, stage="joint"):
    """(net, clip, label, heat, offsets, weight) -> (total, per-clip metrics: the loss parts and
    whether the RGB head was right). In stage pose_cnn the frozen KPS RGBAction model runs
    outside autograd's recording, in inference mode (its batch norm is on running statistics
    either way, and the arg-max decoder passes no gradient), so that backward and its memory
    cover the pose CNN alone."""
    def outputs_of(net, clip):
        if stage != "pose_cnn":
            return net(clip)
        with autograd.pause(train_mode=False):
            frozen, poses = net.before_pose_cnn(clip)
        return frozen + [net.pose_cnn(poses)]

    def loss_fn(net, clip, label, heat, offsets, weight):
        outputs = dict(zip(net.output_names, outputs_of(net, clip)))
        total, parts = criterion(outputs, label, heat, offsets, weight)
        metrics = {f"loss_{k}": v for k, v in parts.items()}
        metrics["train_rgb_top1"] = outputs["rgb"].argmax(axis=1) == label.astype("float32")
        return total, metrics
    return loss_fn


def prepare_run(cfg, ctxs):
    """Everything a run reads, checked before the model is built or a file is written.
    -> the training dataset."""
    t = cfg["train"]
    check_devices(t, ctxs)
    check_multitask_config(cfg)
    check_num_classes(cfg)
    samples = split_samples(cfg, "train")
    if is_softargmax(cfg):
        check_training_inputs(cfg, samples, with_poses=False)
        dataset = Substitutes(multitask_clips(cfg, samples, "train"))
    else:
        terms = loss_terms(cfg, model_config(cfg["model"]["name"],
                                             **cfg["model"]["options"]).heads)
        with_poses = "kps" in terms
        check_training_inputs(cfg, samples, with_poses)
        dataset = Substitutes(clip_dataset(cfg, samples, "train", with_poses))
    if len(dataset) < t["batch_size"]:
        raise ValueError(f"{len(dataset)} training samples are fewer than a batch "
                         f"({t['batch_size']})")
    return dataset


def train(cfg, ctxs, log, dataset, resume_run=False):
    if is_softargmax(cfg):
        return train_multitask(cfg, ctxs, log, dataset, resume_run)
    t = cfg["train"]
    mx.random.seed(t["seed"])  # the initial weights depend on the seed only
    net = build_model(cfg, ctxs)
    if t["init_from"]:
        load_weights(net, t["init_from"], ctxs, log, fresh=init_fresh(cfg))
    if t["pose_cnn_init"]:
        load_weights(net, t["pose_cnn_init"], ctxs, log, only=("pose_cnn.",),
                     fresh=("pose_cnn.fc.",))
    freeze_for_stage(net, cfg)
    terms = loss_terms(cfg, net.config.heads)
    criterion = ActionMachineLoss(terms, t["loss_weights"], *t["pose_loss_weights"],
                                  heatmap_loss=t["heatmap_loss"], frames=t["pose_loss_frames"])
    log.info("losses %s", "+".join(terms))
    return fit(cfg, net, dataset, action_loss(criterion, t["stage"]), ctxs, log, resume_run)


def main(argv=None):
    args = cli.start(parse_args(argv))
    cfg = load_config_or_exit(args.config, with_kvstore(args))
    if cfg["model"]["sync_bn"] and not args.gpus:
        fail("model.sync_bn needs GPUs (--gpus): MXNet's SyncBatchNorm hangs on CPU contexts; "
             "use per-device batch norm (model.sync_bn=false) on CPU")
    return run(cfg, contexts(args.gpus, args.cpus), args.resume)


def run(cfg, ctxs, resume_run=False):
    """Check every input, then train; any input error ends the run with one line."""
    with exit_on_error():
        dataset = prepare_run(cfg, ctxs)
        check_writable(cfg["out"])
        log = run_logging(cfg)
    with exit_on_error(log):
        return train(cfg, ctxs, log, dataset, resume_run)


if __name__ == "__main__":
    main()
