"""`pip install .` gives a working voicectl: the wheel carries the Asterisk templates and
scripts, the dialplan, the demo IVR and the migrations, and the installed package reads
nothing from the source tree (an audit hook in the fresh venv fails any access to it)."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from alembic.script import ScriptDirectory

REPO = Path(__file__).resolve().parents[2]

DEPS = sysconfig.get_paths()["purelib"]  # this project's venv, which lives in the repo

# sitecustomize runs first in every Python process of the venv, the `voicectl` script included.
# It forbids the source tree but for the directory the dependencies are read from.
GUARD = """import os, sys
_events = {"open", "os.listdir", "os.scandir", "subprocess.Popen", "os.exec", "os.posix_spawn"}
def _guard(event, args):
    if event in _events and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0])) + os.sep
        if path.startswith(_repo) and not path.startswith(_deps):
            raise RuntimeError(f"installed voicectl touched the source tree: {event} {path}")
if "VOICECTL_FORBIDDEN_TREE" in os.environ:
    _repo, _deps = os.environ["VOICECTL_FORBIDDEN_TREE"] + os.sep, %r + os.sep
    sys.addaudithook(_guard)
""" % DEPS


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel (built from a copy of what it needs) and nothing else of
    the project; the dependencies are read from this project's venv."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(REPO / "control", src / "control", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", src / "pyproject.toml")
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", str(src), "--no-deps", "-w", str(work / "dist")], check=True)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # A bare path line: the directory joins sys.path, but its own .pth files (the editable
    # install's finder, which maps `control` to the source tree) are never run.
    (site / "project-deps.pth").write_text(DEPS + "\n")
    (site / "sitecustomize.py").write_text(GUARD)
    wheel = next((work / "dist").glob("voicectl-*.whl"))
    subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", str(wheel)], check=True)
    return venv


def test_the_installed_package_runs_from_its_own_files(venv: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "VOICECTL_", "DATABASE_URL"))}
    env.update({"VOICECTL_FORBIDDEN_TREE": str(REPO), "VOICECTL_DATA_DIR": str(data),
                "VOICECTL_ASTERISK_ROOTFS": str(tmp_path / "no-rootfs")})

    def run(*argv: str | Path) -> str:
        proc = subprocess.run([str(a) for a in argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    where = json.loads(run(venv / "bin" / "python", "-c", "import json, control.assets as a, control.store.db as d; "
                           "print(json.dumps([str(p) for p in (a.__file__, a.INSTALL_SCRIPT, a.RUN_SCRIPT, "
                           "a.DEMO_IVR, d.MIGRATIONS, *a.TEMPLATE_DIRS)]))"))
    for path in map(Path, where):
        assert path.is_relative_to(venv) and path.exists(), path
    for script in where[1:3]:
        assert os.access(script, os.X_OK), f"{script} lost its executable bit"

    probe = subprocess.run([venv / "bin" / "python", "-c", f"open({str(REPO / 'README.md')!r})"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "touched the source tree" in probe.stderr, "the guard must catch a read of the repo"

    run(venv / "bin" / "voicectl", "init")
    etc = data / "asterisk" / "etc"
    for name in ("asterisk.conf", "pjsip.conf", "ari.conf", "extensions.conf", "pjsip_trunks.conf"):
        assert (etc / name).stat().st_size > 0, name
    assert "Stasis(voicectl," in (etc / "extensions.conf").read_text()  # the template, filled in

    assert "demo IVR on +18005550100" in run(venv / "bin" / "voicectl", "demo")
    exported = json.loads(run(venv / "bin" / "voicectl", "ivr", "export", "+18005550100", "--json"))
    assert exported == yaml.safe_load((REPO / "control" / "assets" / "examples" / "demo-ivr.yaml").read_text())
    assert "local" in (etc / "pjsip_trunks.conf").read_text()

    head = ScriptDirectory(str(REPO / "control" / "store" / "migrations")).get_current_head()
    with sqlite3.connect(data / "voicectl.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
