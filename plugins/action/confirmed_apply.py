# Copyright: PATN infrastructure team
# Apache License 2.0
"""Action of patn.infra.confirmed_apply: apply, then confirm over a new connection.

Documented with the module (plugins/modules/confirmed_apply.py); the mechanism,
shared with patn.infra.nft_apply, is plugin_utils/confirmed_action.py.
"""

from __future__ import annotations

from ansible_collections.patn.infra.plugins.plugin_utils.confirmed_action import ConfirmedAction


class ActionModule(ConfirmedAction):
    MODULE = "patn.infra.confirmed_apply"

    def run(self, tmp=None, task_vars=None):
        self.WHAT = f"{self._task.args.get('name', 'change')} configuration"
        return super().run(tmp, task_vars)
