# Copyright: PATN infrastructure team
# Apache License 2.0
"""Action of patn.infra.config_inputs: check a role's values before any file is written.

Documented with the module (plugins/modules/config_inputs.py); the kinds and
the spec grammar are in plugins/module_utils/config_values.py.
"""

from __future__ import annotations

from pathlib import Path

from ansible.errors import AnsibleActionFail, AnsibleUndefinedVariable
from ansible.plugins.action import ActionBase
from ansible_collections.patn.infra.plugins.module_utils import config_values
from ansible_collections.patn.infra.plugins.plugin_utils.config_inputs_spec import hidden, load_spec


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
