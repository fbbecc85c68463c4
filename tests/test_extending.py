"""docs/extending.md's three worked examples, run as written: every block marked ``run`` is
executed (each section's blocks in one namespace) in a temporary folder, after every block
marked ``file`` is written there; the results are checked against independent computations."""
import os
import re

import numpy as np
import pytest

from data.video import write_video
from helpers import ROOT

DOC = os.path.join(ROOT, "docs", "extending.md")
BLOCK = re.compile(r"<!-- (run|file): (\S+) -->\n```\w*\n(.*?)```", re.S)


def blocks():
    return BLOCK.findall(open(DOC).read())


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The doc's files written in a temporary folder, which is the working folder and
    importable (the example's adapter module)."""
    for kind, target, code in blocks():
        if kind == "file":
            os.makedirs(os.path.dirname(tmp_path / target), exist_ok=True)
            (tmp_path / target).write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def run(section):
    """Execute the section's ``run`` blocks in order, in one namespace -> the namespace."""
    namespace = {"__name__": f"extending_{section}"}
    code = [c for kind, name, c in blocks() if kind == "run" and name == section]
    assert code, f"docs/extending.md has no run block for {section}"
    for block in code:
        exec(compile(block, f"docs/extending.md ({section})", "exec"), namespace)
    return namespace


def test_the_page_has_the_three_examples():
    sections = {name for kind, name, _ in blocks() if kind == "run"}
    assert sections == {"dataset", "model", "metric"}


def test_add_a_dataset(folder, monkeypatch):
    from data import registry
    monkeypatch.setattr(registry, "DATASETS", dict(registry.DATASETS))  # leave the registry as
    monkeypatch.setattr(registry, "ALIASES", dict(registry.ALIASES))    # it was for other tests
    os.makedirs("kth_videos")
    rng = np.random.RandomState(0)
    names = [f"person{p:02d}_{a}_d{d}_uncomp" for p, a, d in
             [(1, "boxing", 1), (2, "walking", 2), (11, "running", 4), (22, "handwaving", 3)]]
    for name in names:
        write_video(os.path.join("kth_videos", name + ".avi"),
                    rng.randint(0, 255, (6, 120, 160, 3)).astype(np.uint8), 25)
    open(os.path.join("kth_videos", "readme.avi"), "wb").close()  # not a KTH name: skipped
    ns = run("dataset")
    assert len(ns["samples"]) == 4 and len(ns["skipped"]) == 1
    by_id = {s["id"]: s for s in ns["samples"]}
    assert by_id["person11_running_d4"]["label"] == 4 and by_id["person01_boxing_d1"]["label"] == 0
    assert ns["cfg"]["experiment"] == "kth_xsub_kps"
    assert ns["cfg"]["model"]["options"]["heads"] == ["rgb", "kps"]  # from rows/kps.yaml
    assert sorted(s["id"] for s in ns["test"]) == ["person02_walking_d2", "person22_handwaving_d3"]


def test_add_a_model(monkeypatch):
    from symbols import model_zoo
    table = dict(model_zoo.ACTION_MACHINE)  # the registry as it was, for the other tests
    monkeypatch.setattr(model_zoo, "MODELS", dict(model_zoo.MODELS))
    monkeypatch.setattr(model_zoo, "ACTION_MACHINE", table)
    monkeypatch.setitem(model_zoo.FAMILIES, "action_machine", table)
    ns = run("model")
    assert ns["net"].config.depth == 18 and ns["net"].config.heads == ("rgb",)
    assert ns["scores"].shape == (1, 10)
    resnet18_blocks = [k for k in ns["net"].collect_params() if "conv" in k and "weight" in k]
    assert len(resnet18_blocks) < 30  # 2 convs a block x 8 blocks + stem + shortcuts (50: 50+)
    with pytest.raises(ValueError, match="taken"):
        model_zoo.register("action_machine", "i3d_resnet18", depth=18)


def test_add_a_metric(folder):
    out = os.path.join("runs", "demo", "synth_xview3_kps_pose_r18")
    os.makedirs(out)
    rng = np.random.RandomState(1)
    labels = rng.randint(0, 10, 200)
    heads = {h: np.where(rng.rand(200) < p, labels, rng.randint(0, 10, 200))
             for h, p in (("rgb", 0.8), ("pose", 0.5), ("fused", 0.9))}
    with open(os.path.join(out, "per_video.jsonl"), "w") as f:
        for i, label in enumerate(labels):
            f.write('{"id": "v%d", "label": %d, %s}\n' % (i, label, ", ".join(
                f'"{h}": {int(p[i])}' for h, p in heads.items())))
    ns = run("metric")
    for head, pred in heads.items():  # F1 by hand, class by class
        f1 = []
        for c in range(10):
            tp = np.sum((pred == c) & (labels == c))
            p = tp / max(np.sum(pred == c), 1)
            r = tp / max(np.sum(labels == c), 1)
            f1.append(0.0 if tp == 0 else 2 * p * r / (p + r))
        assert ns["f1"][head] == pytest.approx(np.mean(f1))
    assert ns["f1"]["fused"] > ns["f1"]["rgb"] > ns["f1"]["pose"]
