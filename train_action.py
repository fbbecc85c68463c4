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
from common.cli import with_kvstore
from common.errors import check_writable, exit_on_error, fail
from data.loader import Substitutes
from engine.config import load_config_or_exit
from engine.experiment import contexts, split_samples
from engine.systems import system_of
from engine.training.loop import check_devices, run_logging


def prepare_run(cfg, ctxs):
    """Everything a run reads, checked before the model is built or a file is written.
    -> the training dataset."""
    t = cfg["train"]
    check_devices(t, ctxs)
    system = system_of(cfg)
    system.check_config(cfg)
    dataset = Substitutes(system.training_data(cfg, split_samples(cfg, "train")))
    if len(dataset) < t["batch_size"]:
        raise ValueError(f"{len(dataset)} training samples are fewer than a batch "
                         f"({t['batch_size']})")
    return dataset


def train(cfg, ctxs, log, dataset, resume_run=False):
    return system_of(cfg).train(cfg, ctxs, log, dataset, resume_run)


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
