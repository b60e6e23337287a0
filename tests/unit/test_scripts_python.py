"""Which Python the scripts take (``scripts/_python.sh``): ``ASSIST_PYTHON`` when set, else the
newest of 3.11-3.13, found on ``PATH`` or among pyenv's versions."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "scripts" / "_python.sh"


def bash(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f'source "{HELPERS}"; {script}'], capture_output=True,
                          text=True, timeout=60, env={"HOME": "/nonexistent", **env})


def real_python(version: str) -> str:
    found = bash(f"find_python {version}", **os.environ)
    if found.returncode != 0:
        pytest.skip(f"no Python {version} on this machine")
    return found.stdout.strip()


def test_pyenv_versions_are_found_when_not_on_path(tmp_path):
    newest = real_python("3.13")
    root = tmp_path / "pyenv"
    for version, target in (("3.13.7", newest), ("3.12.0", real_python("3.12"))):
        bin_dir = root / "versions" / version / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / f"python{version[:4]}").symlink_to(target)
    path = tmp_path / "bin"  # a PATH with bash and the tools, and no Python at all
    path.mkdir()
    for tool in ("bash", "sort", "env"):
        (path / tool).symlink_to(subprocess.run(["bash", "-c", f"command -v {tool}"],
                                                capture_output=True, text=True).stdout.strip())
    picked = bash("pick_python", PATH=str(path), PYENV_ROOT=str(root))
    assert picked.returncode == 0, picked.stderr
    assert picked.stdout.split() == ["3.13", newest]
    assert bash("find_python 3.12", PATH=str(path), PYENV_ROOT=str(root)).returncode == 0
    missing = bash("find_python 3.11", PATH=str(path), PYENV_ROOT=str(root))
    assert missing.returncode == 1 and missing.stdout == ""
    none = bash("pick_python", PATH=str(path), PYENV_ROOT=str(tmp_path / "empty"))
    assert none.returncode == 1 and "ASSIST_PYTHON" in none.stderr


def test_assist_python_names_it_by_path_or_command(tmp_path):
    older = real_python("3.11")
    by_path = bash("pick_python", PATH=os.environ["PATH"], ASSIST_PYTHON=older)
    assert by_path.stdout.split() == ["3.11", older]
    (tmp_path / "py311").symlink_to(older)
    by_command = bash("pick_python", PATH=f"{tmp_path}:{os.environ['PATH']}",
                      ASSIST_PYTHON="py311")
    assert by_command.stdout.split() == ["3.11", older]


@pytest.mark.parametrize("name", ["no-such-python", "/bin/true"])
def test_assist_python_must_be_a_supported_python(name):
    refused = bash("pick_python", PATH=os.environ["PATH"], ASSIST_PYTHON=name)
    assert refused.returncode == 1
    assert f"ASSIST_PYTHON={name} is not a Python 3.11, 3.12 or 3.13" in refused.stderr
