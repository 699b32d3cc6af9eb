"""ansible-runner's input directory as AWX builds it for a job of the
project: project/ (a checkout, without this machine's .venv) and
requirements_collections/, where the project sync installed
collections/requirements.yml (the project itself as patn.infra).
Used by tests/test_awx_runner.py and by the lab's execution environment
check (lab/checks/test_execution_environment.py)."""

import os
import shutil
import subprocess
from pathlib import Path

from limits import HUNG_COMMAND

TOP = Path(__file__).resolve().parents[1]


def project_files():
    """The files of a checkout: tracked, and new ones not ignored (the .venv is ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TOP, capture_output=True, check=True,
    )  # fmt: skip
    return sorted({name for name in listed.stdout.decode().split("\0") if name})


def copy_project(project):
    """A checkout of the project in `project`, as AWX's project sync leaves it."""
    for name in project_files():
        source = TOP / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)


def install_project_collection(project, collections):
    """The project sync's step, in the project's checkout, with AWX's collection path."""
    collections.mkdir(exist_ok=True)
    subprocess.run(
        ["ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml",
         "--collections-path", str(collections)],
        cwd=project, check=True, capture_output=True, timeout=HUNG_COMMAND,
        env={"PATH": os.environ["PATH"], "ANSIBLE_COLLECTIONS_PATH": str(collections)},
    )  # fmt: skip
