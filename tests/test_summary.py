"""python -m symbols: per-stage table, parameter count and MACs against hand computations."""
import mxnet as mx
from mxnet.gluon import nn

from symbols import get_model
from symbols.__main__ import main
from symbols.summary import count_params, layer_macs, summarize


def test_layer_macs_match_hand_counts():
    conv = nn.Conv3D(6, (3, 1, 1), padding=(1, 0, 0), in_channels=4)
    deconv = nn.Conv2DTranspose(5, 4, strides=2, padding=1, in_channels=3)
    dense = nn.Dense(7, in_units=11)
    for b in (conv, deconv, dense):
        b.initialize()
    x3 = mx.nd.zeros((2, 4, 8, 5, 5))
    assert layer_macs(conv, [x3], conv(x3)) == 2 * 6 * 8 * 5 * 5 * (4 * 3)
    x2 = mx.nd.zeros((1, 3, 7, 7))
    assert layer_macs(deconv, [x2], deconv(x2)) == 7 * 7 * 3 * (5 * 4 * 4)
    xd = mx.nd.zeros((3, 11))
    assert layer_macs(dense, [xd], dense(xd)) == 3 * 11 * 7


def test_summary_rows_cover_every_parameter_and_stage():
    net = get_model("action_machine_tiny")
    rows = summarize(net, (1, 3, 4, 64, 64))
    names = [r[0] for r in rows]
    assert names == ["conv1", "pool1", "res2", "res3", "res4", "res5", "rgb_head", "pose_head",
                     "decoder", "pose_cnn"]
    assert sum(r[2] for r in rows) == count_params(net)
    shapes = dict((r[0], r[1]) for r in rows)
    assert shapes["res5"] == "256x4x2x2" and shapes["decoder"] == "4x17x3"
    # conv1 of I3D by hand: 8 filters of 3x5x7x7 at 4x32x32 outputs
    assert dict((r[0], r[3]) for r in rows)["conv1"] == 8 * 4 * 32 * 32 * 3 * 5 * 7 * 7


def test_main_prints_the_table_and_param_count(capsys):
    main(["action_machine_tiny", "--frames", "4", "--size", "64"])
    out = capsys.readouterr().out
    assert "res5" in out and "pose_cnn" in out
    last = out.strip().splitlines()[-1]
    assert last == f"params: {count_params(get_model('action_machine_tiny'))}"
