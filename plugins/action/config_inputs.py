# Copyright: PATN infrastructure team
# Apache License 2.0
"""Action of patn.infra.config_inputs: check a role's values before any file is written.

Documented with the module (plugins/modules/config_inputs.py); the kinds and
the spec grammar are in plugins/module_utils/config_values.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible.errors import AnsibleActionFail, AnsibleUndefinedVariable
from ansible.parsing.vault import EncryptedString, VaultHelper
from ansible.plugins.action import ActionBase
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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={"spec": {"type": "path"}, "entry_point": {"type": "str", "default": "main"}}
        )
        path = args["spec"]
        if not path:
            role = self._task._role
            if role is None:
                raise AnsibleActionFail("outside a role, give the spec file (spec)")
            path = str(Path(role._role_path) / "meta" / "config_inputs.yml")
        checked = load_spec(Path(path), args["entry_point"])

        names, refused = [], []
        for name, spec in checked.items():
            try:
                # Lazy: a part of the value is computed when the check reads it.
                refusals = config_values.check(
                    name, self._templar.resolve_variable_expression(name), spec, hidden
                )
            except AnsibleUndefinedVariable:
                continue  # the argument specs and the role's own checks deal with it
            names.append(name)
            refused += refusals
        host = (task_vars or {}).get("inventory_hostname", "this host")
        result.update(changed=False, checked=names, refused=refused)
        if refused:
            count = f"{len(refused)} value{'s' if len(refused) > 1 else ''}"
            result["failed"] = True
            result["msg"] = (
                f"{host}: {count} cannot go into a configuration file (nothing was written):\n"
                + "\n".join(f"  {line}" for line in refused)
            )
        else:
            result["msg"] = f"{len(names)} variables fit their configuration files"
        return result
