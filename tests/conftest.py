"""Shared helpers of the unit tests."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from limits import HUNG_COMMAND

TOP = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_script(name, folder="scripts"):
    """Import one of scripts/ (Python files without a .py suffix), or a Python
    file of another folder (a role's files/), as a module."""
    path = TOP / folder / name
    loader = importlib.machinery.SourceFileLoader(Path(name).stem.replace("-", "_"), str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# The plugins are imported as the collection patn.infra, as Ansible does:
# scripts/setup links the checkout into .venv/collections.
sys.path.insert(0, str(TOP / ".venv" / "collections"))


def run_module(name, args, tmp_path, stand_ins=None, env_extra=None):
    """Run plugins/modules/<name>.py as Ansible runs it on a host, and return
    its JSON result. stand_ins: command name -> fixture script, put first on
    PATH so the module drives them instead of the real system commands."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for command, script in (stand_ins or {}).items():
        if not (bin_dir / command).exists():
            (bin_dir / command).symlink_to(script)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    completed = subprocess.run(
        [sys.executable, str(TOP / "plugins" / "modules" / f"{name}.py"), str(args_file)],
        capture_output=True,
        text=True,
        env=dict(
            os.environ,
            PATH=f"{bin_dir}:{os.environ['PATH']}",
            # Modules import the collection's module_utils, as on a host.
            PYTHONPATH=str(TOP / ".venv" / "collections"),
            **(env_extra or {}),
        ),
        timeout=HUNG_COMMAND,
        check=False,
    )
    assert completed.stdout, completed.stderr
    return json.loads(completed.stdout)


# Ansible's commands as the tests run them: the project's ansible.cfg and a
# memory fact cache (a test leaves no facts behind).
ANSIBLE_ENV = dict(
    os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="ansible.builtin.memory"
)


def run_playbook(*arguments, env_extra=None, env_drop=(), timeout=HUNG_COMMAND):
    """ansible-playbook from the checkout, with ANSIBLE_ENV. env_extra adds or
    overrides environment variables; env_drop removes some."""
    env = dict(ANSIBLE_ENV, **(env_extra or {}))
    for name in env_drop:
        env.pop(name, None)
    return subprocess.run(
        ["ansible-playbook", *[str(argument) for argument in arguments]],
        capture_output=True,
        text=True,
        cwd=TOP,
        env=env,
        timeout=timeout,
        check=False,
    )
