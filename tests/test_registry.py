"""The one registry of datasets (data/registry.py): each entry's parts agree with each other and
with the files that hold them (adapters, joint tables, records readers, pose config keys), the
config choices and the command lines come from it, an old name resolves to its entry with one
notice, and an unknown name is one line listing the names."""
import os

import pytest

from common import errors
import yaml

from data import joints as J
from data import registry
from data.keypoints import COCO_KEYPOINTS
from helpers import ROOT

NOTICE = "notice: {} is now {}; the old name works until the next release\n"


@pytest.fixture
def fresh_notices(monkeypatch):
    """Every old name's notice not yet printed in this process."""
    monkeypatch.setattr(errors, "NOTICED", set())


def test_one_name_per_dataset():
    assert registry.names() == ("ntu", "nucla", "msr", "utd", "synth", "penn_action", "custom",
                                "mpii", "h36m", "coco")
    assert registry.ALIASES == {"ntu_skeleton": "ntu", "penn": "penn_action"}
    assert not set(registry.ALIASES) & set(registry.names())
    assert registry.names("video") == ("ntu", "nucla", "msr", "utd", "synth", "penn_action",
                                       "custom")  # data.prepare's, as before
    assert registry.names("reader") == ("ntu", "penn_action", "mpii", "h36m")
    assert registry.names("pose_files") == registry.names("reader")


@pytest.mark.parametrize("name", registry.names())
def test_every_entrys_parts_agree(name):
    from data.multitask import pose_records
    entry = registry.dataset(name)
    adapter = entry.adapter()
    assert entry.name == name and getattr(adapter, "NAME", name) == name
    if entry.video:
        for attr in ("RESIZE", "FPS", "STRIDE", "VIDEO_EXTS", "PROTOCOLS"):
            assert hasattr(adapter, attr), f"{name} lacks {attr}"
        # samples from video names, from annotation files, or (custom) from a list with its
        # classes, read back from the prepared folder
        assert any(callable(getattr(adapter, f, None)) for f in ("parse", "list_samples", "load"))
        assert hasattr(adapter, "CLASSES") != callable(getattr(adapter, "load", None))
    if entry.pose_files:
        assert callable(adapter.count_splits) and adapter.JOINTS and adapter.PROTOCOLS
    # a records reader: a pose source with a joint layout and a folder key
    assert (entry.reader is not None) == (entry.source == "records")
    if entry.reader:
        assert callable(getattr(pose_records, entry.reader))
        assert entry.joints and entry.root_key and entry.pose_files
    assert entry.source in (None, "records", "frames", "coco")
    if entry.joints:
        assert entry.joints in J.JOINTS and entry.joints in J.TO_COMMON
        assert set(J.TO_COMMON[entry.joints]) <= set(J.JOINTS[entry.joints])
        if hasattr(adapter, "JOINTS"):  # the file's joints hold the layout's (NTU: Kinect's 25)
            assert set(J.JOINTS[entry.joints]) <= set(adapter.JOINTS)
    for old in entry.aliases:
        assert registry.ALIASES[old] == name


def test_the_joint_tables_and_config_keys_belong_to_entries():
    keys = {e.joints for e in registry.ENTRIES if e.joints}
    assert set(J.JOINTS) == set(J.TO_COMMON) == keys
    assert J.JOINTS["coco"] == COCO_KEYPOINTS  # the synthetic person's joints
    with open(os.path.join(ROOT, "configs", "pose", "base.yaml")) as f:
        data = yaml.safe_load(f)["data"]
    roots = {k for k in data if k.endswith("_root")}
    assert roots == {e.root_key for e in registry.ENTRIES if e.root_key}


def test_the_config_choices_come_from_the_registry():
    from common import config_keys as common_config
    from engine import config
    assert not {"data.dataset", "data.source", "data.test_source"} & set(common_config.CHOICES)
    assert config.CHOICES["data.dataset"] == registry.names("video")
    assert config.CHOICES["data.source"] == registry.names("source") + ("mix",)
    assert set(config.CHOICES["data.source"]) == {"coco", "synth", "mpii", "h36m",
                                                  "penn_action", "ntu", "mix"}
    assert config.CHOICES["data.test_source"] == registry.names("reader")


@pytest.mark.parametrize("old,new", [("penn", "penn_action"), ("ntu_skeleton", "ntu")])
def test_an_old_name_is_its_entry_with_one_notice(old, new, capsys, fresh_notices):
    assert registry.dataset(old) is registry.dataset(new)
    assert registry.canonical(old) == new and registry.dataset(old, "reader").name == new
    assert capsys.readouterr().err == NOTICE.format(old, new)  # once in a process
    assert registry.canonical(new) == new and registry.canonical("anything") == "anything"
    assert capsys.readouterr().err == ""


def test_an_unknown_name_is_one_line_listing_the_names():
    with pytest.raises(ValueError) as err:
        registry.dataset("lsp")
    assert str(err.value) == ("unknown dataset 'lsp'; choose one of ntu, nucla, msr, utd, synth, "
                              "penn_action, custom, mpii, h36m, coco")
    with pytest.raises(ValueError) as err:
        registry.dataset("mpii", "video")  # a dataset without the part asked for
    assert str(err.value) == ("unknown video dataset 'mpii'; choose one of ntu, nucla, msr, utd, "
                              "synth, penn_action, custom")
    with pytest.raises(ValueError, match=r"^unknown pose source 'msr'; choose one of ntu, "
                                         r"penn_action, mpii, h36m$"):
        registry.dataset("msr", "reader")
    with pytest.raises(ValueError, match="unknown dataset None"):
        registry.dataset(None)


def test_custom_reads_its_adapter_from_the_prepared_folder(tmp_path):
    custom = registry.dataset("custom")
    assert custom.adapter().NAME == "custom"
    with pytest.raises(FileNotFoundError, match="dataset.json: no such file"):
        custom.adapter(str(tmp_path))
    assert registry.dataset("ntu").adapter(str(tmp_path)).NAME == "ntu"  # others: the module


def test_configs_take_the_old_names_with_a_notice(capsys, fresh_notices):
    from engine.config import POSE_BASE, config_path, load_config
    path = os.path.join(ROOT, "configs", "pose", "mpii_softargmax.yaml")
    cfg = load_config(path, ["data.source=mix", "data.mix=[mpii, penn]", "data.mix_ratios=[3, 1]",
                             "data.test_source=penn"], base=POSE_BASE)
    assert cfg["data"]["mix"] == ["mpii", "penn_action"]
    assert cfg["data"]["test_source"] == "penn_action"
    assert capsys.readouterr().err == NOTICE.format("penn", "penn_action")
    cfg = load_config(config_path("penn_action_official_softargmax_separate"), ["data.dataset=penn"])
    assert cfg["data"]["dataset"] == "penn_action" and capsys.readouterr().err == ""


def test_the_command_lines_take_the_registrys_names(capsys, fresh_notices):
    import detect_persons
    from data import prepare
    args = prepare.parse_args(["--dataset", "penn", "--raw", "r", "--out", "o"])
    assert args.dataset == "penn_action"
    assert capsys.readouterr().err == NOTICE.format("penn", "penn_action")
    with pytest.raises(SystemExit):
        prepare.parse_args(["--dataset", "mpii", "--raw", "r", "--out", "o"])
    assert "invalid choice: 'mpii'" in capsys.readouterr().err
    args = detect_persons.parse_args(["--dataset", "ntu", "--prepared", "p"])
    assert args.dataset == "ntu"
