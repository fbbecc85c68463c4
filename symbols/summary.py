"""Per-stage output shapes, parameter counts and multiply-accumulates (MACs) of a network.

MACs are counted on the layers that do them, from the shapes seen in one forward pass:
convolution: output elements x (in_channels / groups x kernel volume); transposed convolution:
input elements x (out_channels / groups x kernel volume); dense: batch x in x out. Batch norm,
activations, pooling and the decoder's argmax are not counted (they are not multiply-adds).
"""
import mxnet as mx
import numpy as np
from mxnet.gluon import nn


def layer_macs(block, inputs, output):
    """Multiply-accumulates of one leaf layer for the arrays it just saw (0 for other layers)."""
    op = getattr(block, "_op_name", None)
    if op == "Convolution":
        return output.size * int(np.prod(block.weight.shape[1:]))
    if op == "Deconvolution":
        return inputs[0].size * int(np.prod(block.weight.shape[1:]))
    if isinstance(block, nn.Dense):
        return output.shape[0] * int(np.prod(block.weight.shape))
    return 0


def _shape(output):
    if isinstance(output, (tuple, list)):
        return " ".join(_shape(o) for o in output)
    return "x".join(str(d) for d in output.shape[1:])


def _leaves(block):
    children = list(block._children.values())
    if not children:
        return [block]
    return [leaf for child in children for leaf in _leaves(child)]


def summarize(net, input_shape):
    """Rows (stage, output shape without batch, params, MACs per sample) of ``net.stages()``.

    ``net`` must be initialized and not hybridized (hooks see the imperative pass).
    """
    rows, handles = [], []
    current = {}

    def enter(name):
        def hook(block, inputs):
            current["row"] = name
        return hook

    def count(block, inputs, output):
        if "row" in current:
            current["row_macs"][current["row"]] += layer_macs(block, inputs, output)

    def record(name):
        def hook(block, inputs, output):
            current["row_shape"][name] = _shape(output)
        return hook

    current["row_macs"], current["row_shape"] = {}, {}
    for name, blocks in net.stages():
        current["row_macs"][name] = 0
        handles.append(blocks[0].register_forward_pre_hook(enter(name)))
        handles.append(blocks[-1].register_forward_hook(record(name)))
        for block in blocks:
            for leaf in _leaves(block):
                handles.append(leaf.register_forward_hook(count))
    try:
        net(mx.nd.zeros(input_shape))
        mx.nd.waitall()
    finally:
        for h in handles:
            h.detach()
    batch = input_shape[0]
    for name, blocks in net.stages():
        params = sum(int(np.prod(p.shape)) for b in blocks for p in b.collect_params().values())
        rows.append((name, current["row_shape"].get(name, "-"), params,
                     current["row_macs"][name] // batch))
    return rows


def count_params(net):
    return sum(int(np.prod(p.shape)) for p in net.collect_params().values())


def format_table(rows):
    lines = [f"{'stage':<10} {'output (per sample)':<34} {'params':>12} {'MACs':>16}",
             "-" * 75]
    for name, shape, params, macs in rows:
        lines.append(f"{name:<10} {shape:<34} {params:>12,} {macs:>16,}")
    return "\n".join(lines)
