"""tools/find_python.sh, the interpreter `make install` builds the venv with, on fake
interpreters that report a version: the requested one when supported, else the newest supported
python3.X on PATH, else one line naming the versions that work and how to pass one."""
import os
import shutil
import subprocess

import pytest

from helpers import ROOT

SCRIPT = os.path.join(ROOT, "tools", "find_python.sh")
BASH = "/bin/bash"


def fake_pythons(folder, versions):
    """{name: version}: an executable per name that prints its version, as Python would."""
    for name, version in versions.items():
        path = folder / name
        path.write_text(f"#!{BASH}\necho {version}\n" if version else f"#!{BASH}\nexit 1\n")
        path.chmod(0o755)


def find(folder, *requested):
    proc = subprocess.run([BASH, SCRIPT, *requested], capture_output=True, text=True,
                          env={"PATH": str(folder)}, timeout=30)
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


def test_a_supported_default_is_taken_as_it_is(tmp_path):
    fake_pythons(tmp_path, {"python3": "3.11", "python3.10": "3.10"})
    assert find(tmp_path) == (0, str(tmp_path / "python3"), "")


@pytest.mark.parametrize("default", ["3.12", "3.13", "3.9"])
def test_an_unsupported_default_falls_back_to_the_newest_supported_one(tmp_path, default):
    fake_pythons(tmp_path, {"python3": default, "python3.10": "3.10", "python3.11": "3.11"})
    code, out, err = find(tmp_path)
    assert (code, out) == (0, str(tmp_path / "python3.11"))
    assert err == (f"using {tmp_path / 'python3.11'} (Python 3.11), since MXNet 1.9.1's pins do "
                   f"not install on python3: Python {default}")


def test_a_requested_path_wins_when_supported(tmp_path):
    fake_pythons(tmp_path, {"python3": "3.12", "python3.11": "3.11", "mine": "3.10"})
    assert find(tmp_path, str(tmp_path / "mine"))[:2] == (0, str(tmp_path / "mine"))


def test_a_name_that_reports_another_version_is_not_trusted(tmp_path):
    # a pyenv shim named python3.11 that runs 3.12 is not a 3.11
    fake_pythons(tmp_path, {"python3": "3.12", "python3.11": "3.12", "python3.10": "3.10"})
    assert find(tmp_path)[:2] == (0, str(tmp_path / "python3.10"))


@pytest.mark.parametrize("versions, requested, found", [
    ({"python3": "3.12", "python3.12": "3.12"}, "python3", "python3: Python 3.12"),
    ({"python3": "3.13"}, "/opt/nowhere/python", "/opt/nowhere/python: no such interpreter"),
    ({"python3": None}, "python3", "python3: does not run"),
])
def test_no_supported_interpreter_is_one_line_naming_what_to_do(tmp_path, versions, requested,
                                                                 found):
    fake_pythons(tmp_path, versions)
    code, out, err = find(tmp_path, requested)
    assert code == 1 and out == "" and "\n" not in err
    assert err.startswith("error: make install needs Python 3.11 or 3.10")
    assert f"found {found}, and no python3.11 or python3.10 on PATH" in err
    assert err.endswith("make install PYTHON=/path/to/python3.11")


def test_make_install_stops_with_the_line_before_creating_a_venv(tmp_path):
    fake_pythons(tmp_path, {"python3": "3.12"})
    for tool in ("bash", "sh"):  # the recipe's shell, and nothing else of the machine's
        (tmp_path / tool).symlink_to(shutil.which(tool))
    venv = tmp_path / "venv"
    proc = subprocess.run([shutil.which("make"), "-s", "-C", ROOT, "install", f"VENV={venv}"],
                          capture_output=True, text=True, env={"PATH": str(tmp_path)},
                          timeout=60)
    assert proc.returncode != 0 and not venv.exists()
    assert "error: make install needs Python 3.11 or 3.10" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
