"""The Deformable-ConvNets release's checkpoint format for ``symbols.rfcn.DeformableRFCN``.

The authors' COCO model, ``rfcn_dcn_coco-0000.params``, is an MXNet checkpoint: ``arg:NAME`` for
learned parameters and ``aux:NAME`` for batch-norm statistics (``..._moving_mean``/``_var``, which
Gluon calls ``running_mean``/``running_var``). Gluon names in the detector are otherwise the
release's, so the mapping is this rename and nothing else.
"""
import os

import mxnet as mx

RELEASE_FILE = "rfcn_dcn_coco-0000.params"
RELEASE_URL = "https://github.com/msracver/Deformable-ConvNets#demo--deformable-model"


class CheckpointError(ValueError):
    """A parameter file that does not fit the detector; the message names the parameter."""


def release_name(gluon_name, is_aux):
    """Gluon parameter name -> the release checkpoint's key."""
    if is_aux:
        return "aux:" + gluon_name.replace("_running_", "_moving_")
    return "arg:" + gluon_name


def _is_aux(param):
    return param.grad_req == "null"


def save_release_params(net, path):
    """Write ``net``'s parameters as an MXNet checkpoint in the release's naming."""
    mx.nd.save(path, {release_name(name, _is_aux(p)): p.data(mx.cpu())
                      for name, p in net.collect_params().items()})


def load_release_params(net, path, ctx=mx.cpu()):
    """Load ``rfcn_dcn_coco-0000.params`` (or any checkpoint in its naming) into ``net``.

    Every network parameter must be found with its shape and every file entry must be used;
    ``arg:NAME_test`` entries (the release stores the test-time, de-normalised box regressor
    beside the training one) replace ``arg:NAME``, as the release's loader does.
    Raises CheckpointError naming the offending parameter."""
    if not os.path.isfile(path):
        raise FileNotFoundError(missing_weights_message(path))
    try:
        loaded = mx.nd.load(path)
    except mx.base.MXNetError as err:
        reason = str(err).strip().splitlines()[-1]  # MXNet's message ends its stack trace
        raise CheckpointError(f"{path}: not an MXNet parameter file ({reason})")
    if not isinstance(loaded, dict) or not all(k.startswith(("arg:", "aux:")) for k in loaded):
        raise CheckpointError(f"{path}: expected an MXNet checkpoint with arg:/aux: names")
    for key in [k for k in loaded if k.endswith("_test")]:
        loaded[key[:-len("_test")]] = loaded.pop(key)
    params = net.collect_params()
    expected = {release_name(name, _is_aux(p)): p for name, p in params.items()}
    missing = sorted(set(expected) - set(loaded))
    extra = sorted(set(loaded) - set(expected))
    if missing:
        raise CheckpointError(f"{path}: {len(missing)} parameter(s) missing, first "
                              f"{missing[0]!r}" + (f"; {len(extra)} unexpected, first "
                                                   f"{extra[0]!r}" if extra else ""))
    if extra:
        raise CheckpointError(f"{path}: {len(extra)} unexpected parameter(s), first "
                              f"{extra[0]!r}")
    for key, p in expected.items():
        if loaded[key].shape != p.shape:
            raise CheckpointError(f"{path}: {key} has shape {loaded[key].shape}, the network "
                                  f"needs {p.shape}")
    for key, p in expected.items():
        p._load_init(loaded[key], ctx)
    return len(expected)


def missing_weights_message(path):
    return (f"detector weights not found: {path}. Download {RELEASE_FILE} (Deformable-ConvNets "
            f"'Demo & Deformable Model', OneDrive/BaiduYun links at {RELEASE_URL}) and put it "
            f"there, or pass --weights PATH")
