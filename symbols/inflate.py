"""Inflation of 2D ImageNet ResNet weights into the 3D backbone (I3D, Carreira & Zisserman 2017).

A k x h x w kernel receives the 2D h x w kernel repeated k times along time and divided by k, so
that a clip of identical frames gives the 2D network's response; batch-norm parameters are copied.
Parameters are matched by name (GluonCV ``ResNetV1b`` names, which ``symbols.resnet`` shares),
every 2D parameter must be used (the ImageNet classifier ``fc`` excepted), and the mapping is
returned so the caller can log it.
"""
import os

import mxnet as mx
import numpy as np

# The 2D sources the model zoo can provide, by the name a user passes as ``pretrained``.
ZOO_PREFIX = "gluoncv:"
DEFAULT_2D_SOURCE = "gluoncv:resnet50_v1b"
IGNORED_2D_PREFIXES = ("fc.",)  # the ImageNet classifier has no counterpart in the backbone
POSE_BACKBONE = "backbone."  # symbols.pose_net.PoseNet's ResNet, whose head is left out


class InflationError(ValueError):
    """A 2D parameter file does not fit the 3D network."""


def load_2d_params(source):
    """Name -> numpy array of a 2D ResNet, from ``gluoncv:NAME`` (downloads) or a .params file."""
    if source.startswith(ZOO_PREFIX):
        name = source[len(ZOO_PREFIX):]
        from gluoncv.model_zoo import get_model
        try:
            net = get_model(name, pretrained=True)
        except Exception as err:  # the zoo raises anything from ValueError to socket errors
            raise InflationError(
                f"could not fetch '{name}' from the GluonCV model zoo ({type(err).__name__}: "
                f"{err}); on a machine with internet run `python -c \"import gluoncv; "
                f"gluoncv.model_zoo.get_model('{name}', pretrained=True)\"` and pass the file "
                f"from ~/.mxnet/models/ as a path instead") from err
        return {k: p.data().asnumpy() for k, p in net._collect_params_with_prefix().items()}
    if not os.path.isfile(source):
        raise InflationError(f"2D weights file not found: {source} (model.pretrained); give an "
                             f"existing .params file (the synthetic configs' is the pose model "
                             f"`make demo` trains first) or model.pretrained=null to start from "
                             f"random weights")
    loaded = mx.nd.load(source)
    if not isinstance(loaded, dict):
        raise InflationError(f"{source} holds unnamed arrays; expected a Gluon .params file")
    # Module-style checkpoints prefix names with arg:/aux:; Gluon files do not.
    params = {k.split(":", 1)[-1]: v.asnumpy() for k, v in loaded.items()}
    # A 2D pose model's checkpoint (train_pose.py's final.params): its ResNet is "backbone.".
    if any(k.startswith(POSE_BACKBONE) for k in params):
        params = {k[len(POSE_BACKBONE):]: v for k, v in params.items()
                  if k.startswith(POSE_BACKBONE)}
    return params


def inflate_weight(w2d, shape3d):
    """(O, I, h, w) -> (O, I, k, h, w): repeated k times along time, divided by k."""
    k = shape3d[2]
    return np.repeat(w2d[:, :, None], k, axis=2) / k


def inflate_into(net3d, params2d, ignore=IGNORED_2D_PREFIXES):
    """Copy ``params2d`` (name -> array) into the initialized ``net3d`` by name.

    Returns the mapping as (name, 2D shape, 3D shape, "inflated" | "copied") rows. Raises
    InflationError naming the parameter when one is missing, has the wrong shape, or is unused.
    """
    targets = net3d._collect_params_with_prefix()
    mapping, values = [], []
    for name, param in targets.items():
        if name not in params2d:
            raise InflationError(f"2D weights have no parameter '{name}' (needed by the 3D "
                                 f"network, shape {param.shape})")
        src = params2d[name]
        if src.shape == param.shape:
            value, how = src, "copied"
        elif (len(param.shape) == 5 and src.ndim == 4 and src.shape[:2] == param.shape[:2]
              and src.shape[2:] == param.shape[3:]):
            value, how = inflate_weight(src, param.shape), "inflated"
        else:
            raise InflationError(f"parameter '{name}': 2D shape {src.shape} does not fit "
                                 f"3D shape {param.shape}")
        values.append((param, value))
        mapping.append((name, src.shape, param.shape, how))
    unused = sorted(k for k in params2d if k not in targets and not k.startswith(ignore))
    if unused:
        raise InflationError(f"{len(unused)} 2D parameters have no place in the 3D network, "
                             f"first: '{unused[0]}'")
    for param, value in values:  # only once everything fits: never a half-inflated network
        param.set_data(mx.nd.array(value, dtype=param.dtype))
    return mapping
