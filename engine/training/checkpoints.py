"""Checkpoints: one format, written by one function and read by one, and weights loaded strictly.

    OUT/checkpoints/epoch-EEE.params   the network's parameters after epoch EEE (Gluon names)
    OUT/checkpoints/epoch-EEE.states   the trainer's state (momentum) for --resume
    OUT/checkpoints/epoch-EEE.json     the marker, written last: {"epoch", "config" (resolved),
                                       "metrics", "sha256": {"params", "states"}}
    OUT/final.params + OUT/final.yaml  the last epoch's parameters and the resolved config that
                                       made them, so a checkpoint says which model and classes
                                       it holds

Every file is written to a temporary and renamed when complete. A checkpoint counts only when its
marker parses and both files match the marker's checksums; ``--resume`` skips a corrupt one and
says so.
"""
import errno
import glob
import json
import os
import shutil

import mxnet as mx
import yaml

from common.errors import one_line
from common.files import atomic_write_text, sha256, write_via_temporary

# Keys that cannot change a run's weights: a resume may change them.
# train.kvstore: train.batch_size is the global batch whatever the kvstore, so a job may resume
# with another number of workers or in one process (the batch, still compared, is what matters).
RESULT_NEUTRAL = ("experiment", "out", "data.workers", "train.log_interval", "eval.",
                  "train.kvstore", "train.kvstore_timeout")


def prefix_of(out, epoch):
    return os.path.join(out, "checkpoints", f"epoch-{epoch:03d}")


def _write_via_temporary(write, path):
    """``data.index.write_via_temporary`` for MXNet's writers, whose failures (a full disk) are
    MXNetErrors: they become OSErrors naming ``path``."""
    def guarded(tmp):
        try:
            write(tmp)
        except mx.base.MXNetError as err:
            raise OSError(errno.EIO, f"cannot write: {one_line(err)}", tmp) from None
    write_via_temporary(guarded, path)


def save_checkpoint(out, epoch, net, trainer, cfg, metrics):
    """params, then states, then the marker with both checksums -> the .params path."""
    prefix = prefix_of(out, epoch)
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    _write_via_temporary(net.save_parameters, prefix + ".params")
    _write_via_temporary(trainer.save_states, prefix + ".states")
    marker = dict(epoch=epoch, config=cfg, metrics=metrics,
                  sha256={k: sha256(f"{prefix}.{k}") for k in ("params", "states")})
    atomic_write_text(prefix + ".json", json.dumps(marker, indent=1))
    return prefix + ".params"


def verify(prefix):
    """The marker of the checkpoint at ``prefix`` if it is whole; ValueError saying why not."""
    try:
        with open(prefix + ".json") as f:
            marker = json.load(f)
        sums = marker["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"unreadable marker {prefix}.json ({err})") from None
    for kind in ("params", "states"):
        path = f"{prefix}.{kind}"
        if not os.path.isfile(path):
            raise ValueError(f"{path} is missing")
        if sha256(path) != sums.get(kind):
            raise ValueError(f"{path} does not match its checksum (cut short or changed)")
    return marker


def epochs_on_disk(out):
    """Epochs with a marker file, newest first (whole or not)."""
    markers = glob.glob(os.path.join(out, "checkpoints", "epoch-*.json"))
    return sorted((int(os.path.basename(m)[6:9]) for m in markers), reverse=True)


def last_checkpoint(out):
    """The newest checkpoint's epoch (by its marker), or None."""
    epochs = epochs_on_disk(out)
    return epochs[0] if epochs else None


def newest_intact(out, log=None):
    """-> (epoch, marker) of the newest whole checkpoint, or (None, None); each corrupt newer one
    is logged with the reason."""
    for epoch in epochs_on_disk(out):
        try:
            return epoch, verify(prefix_of(out, epoch))
        except ValueError as err:
            if log is not None:
                log.warning("checkpoint of epoch %d is corrupt: %s; trying the one before",
                            epoch, err)
    return None, None


def differences(saved, current, prefix=""):
    """Every key (dotted, sorted) whose value differs between two configs, ignoring
    RESULT_NEUTRAL keys -> [(key, saved value, current value)]."""
    found = []
    for key in sorted(set(saved) | set(current)):
        name = f"{prefix}{key}"
        if name.startswith(RESULT_NEUTRAL) or name in RESULT_NEUTRAL:
            continue
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b, name + ".")
        elif a != b:
            found.append((name, a, b))
    return found



def write_final(out, params, cfg):
    """OUT/final.params (a copy of ``params``) and OUT/final.yaml (the config), both atomic."""
    final = os.path.join(out, "final.params")
    _write_via_temporary(lambda tmp: shutil.copyfile(params, tmp), final)
    atomic_write_text(os.path.join(out, "final.yaml"), yaml.safe_dump(cfg, sort_keys=False))
    return final


def checkpoint_or_last(out, path=None):
    """``path`` if given, else the newest whole checkpoint of the run in ``out``."""
    if path:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no checkpoint {path}: give an existing .params file "
                                    f"(eval.checkpoint / --checkpoint), or leave it out to use "
                                    f"the run's last in {out}")
        return path
    epoch, _ = newest_intact(out)
    if epoch is None:
        raise FileNotFoundError(f"no whole checkpoint in {out}/checkpoints: train first")
    return prefix_of(out, epoch) + ".params"


def checkpoint_config(path):
    """The resolved config a checkpoint was trained with: final.yaml beside final.params, the
    marker beside epoch-EEE.params. FileNotFoundError when it has none."""
    stem = os.path.splitext(path)[0]
    for candidate in (stem + ".yaml", stem + ".json"):
        if os.path.isfile(candidate):
            try:
                with open(candidate) as f:
                    record = yaml.safe_load(f) if candidate.endswith(".yaml") else json.load(f)
            except (yaml.YAMLError, ValueError):
                raise ValueError(f"{candidate} is not readable (cut short?)") from None
            if not isinstance(record, dict):
                raise ValueError(f"{candidate} is not a config")
            return record.get("config", record) if candidate.endswith(".json") else record
    raise FileNotFoundError(f"{path} has no config beside it ({os.path.basename(stem)}.yaml "
                            f"or .json): it does not say which model it holds")


def load_weights(net, path, ctx, log=None, fresh=(), only=("",)):
    """Load ``net``'s parameters from ``path`` by name, strictly: every parameter whose name
    starts with one of ``only`` (default: all) must be in the file with its shape, except those
    whose name starts with one of ``fresh`` (they keep their initialisation). The first missing
    or mismatched one is a ValueError naming the file. Entries the model does not use are
    allowed and logged. -> the names loaded."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        saved = mx.nd.load(path)
    except mx.base.MXNetError:
        raise ValueError(f"{path} is not a readable parameter file (cut short?)") from None
    fresh = tuple(fresh)
    params = {k: p for k, p in net._collect_params_with_prefix().items()
              if k.startswith(tuple(only))}
    for name, param in params.items():
        if name.startswith(fresh):
            continue
        if name not in saved:
            raise ValueError(f"{path} lacks parameter {name!r} that the model needs (it holds "
                             f"{len(saved)} entries; is it a checkpoint of this config's model?)")
        if saved[name].shape != param.shape:
            raise ValueError(f"{path}: parameter {name!r} has shape {saved[name].shape}, the "
                             f"model needs {param.shape}")
    loaded = [n for n in params if not n.startswith(fresh)]
    for name in loaded:
        params[name].set_data(saved[name].as_in_context(mx.cpu()))
    if log is not None:
        unused = [k for k in saved if k not in params]
        log.info("loaded %d parameters from %s%s%s", len(loaded), path,
                 f"; {len(params) - len(loaded)} start fresh ({', '.join(fresh)})"
                 if fresh else "", f"; {len(unused)} entries unused" if unused else "")
    return loaded
