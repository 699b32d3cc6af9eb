# Copyright: PATN infrastructure team
# Apache License 2.0
"""A role's meta/config_inputs.yml read, and which values are never shown.

Shared by the action patn.infra.config_inputs (a run) and make validate's
walk of the roles (plugins/plugin_utils/role_files.py), so that both check
the same variables the same way.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible.errors import AnsibleActionFail
from ansible.parsing.vault import EncryptedString, VaultHelper
from ansible_collections.patn.infra.plugins.module_utils import config_values
from ansible_collections.patn.infra.plugins.module_utils.secret_words import is_secret_name


def load_spec(path: Path, entry_point: str) -> dict:
    """The checked variables of one entry point of a spec file, the file itself checked first."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise AnsibleActionFail(f"cannot read the spec {path}: {error}") from None
    entry = document.get(entry_point) if isinstance(document, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("checked"), dict):
        raise AnsibleActionFail(f"{path}: no entry point '{entry_point}' with its 'checked' variables")
    problems = [
        problem
        for name, spec in entry["checked"].items()
        for problem in config_values.spec_problems(spec, f"{entry_point}.checked.{name}")
    ]
    if problems:
        raise AnsibleActionFail(f"{path}: {'; '.join(problems)}")
    return entry["checked"]


def hidden(where: str, value) -> bool:
    """A value never shown: under a secret name, or from ansible-vault."""
    vaulted = (
        isinstance(value, EncryptedString) or VaultHelper.get_ciphertext(value, with_tags=False) is not None
    )
    return vaulted or is_secret_name(where)
