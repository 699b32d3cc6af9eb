"""Shared helpers of the unit tests."""

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_script(name):
    """Import one of scripts/ (Python files without a .py suffix) as a module."""
    path = TOP / "scripts" / name
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# The plugins are imported as the collection patn.infra, as Ansible does:
# scripts/setup links the checkout into .venv/collections.
sys.path.insert(0, str(TOP / ".venv" / "collections"))
