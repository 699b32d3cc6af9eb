# Copyright: PATN infrastructure team
# Apache License 2.0
"""Action of patn.infra.nft_apply: apply, then confirm over a new connection.

Documented with the module (plugins/modules/nft_apply.py). The confirmation
is the proof that the controller still reaches the host through the new
ruleset; when it cannot, the module's rollback timer restores the previous
ruleset on the host, and this action reports it once the host answers again.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.plugins.connection import ConnectionBase

MODULE = "patn.infra.nft_apply"
# Seconds given to the rollback timer beyond its timeout before checking.
GRACE = 10


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if args.get("phase", "apply") != "apply" or not args.get("confirm", True):
            result.update(self._execute_module(MODULE, module_args=args, task_vars=task_vars))
            return result

        applied = self._execute_module(MODULE, module_args=dict(args, phase="apply"), task_vars=task_vars)
        result.update(applied)
        if applied.get("failed") or not applied.get("applied"):
            return result

        # Drop the connection that existed before the new ruleset: the
        # confirmation must open a new one, as the next operator will.
        self._new_connection()
        try:
            confirmed = self._execute_module(
                MODULE, module_args=dict(args, phase="confirm"), task_vars=task_vars
            )
        except AnsibleConnectionFailure as error:
            return self._report_rollback(result, args, task_vars, error)
        result.update(confirmed)
        result["applied"] = True
        if confirmed.get("failed"):
            # A slow reconnection can arrive after the timer fired: the
            # previous ruleset is back, which the module has just found.
            result["rolled_back"] = True
        return result

    def _new_connection(self):
        # Connections without a persistent session (local, podman) have
        # nothing to reset; ConnectionBase.reset only warns.
        if type(self._connection).reset is not ConnectionBase.reset:
            self._connection.reset()

    def _report_rollback(self, result, args, task_vars, error):
        timeout = int(args.get("rollback_timeout", 90))
        time.sleep(timeout + GRACE)
        self._new_connection()
        result.update(changed=True, failed=True, confirmed=False, rolled_back=True)
        try:
            status = self._execute_module(MODULE, module_args=dict(args, phase="status"), task_vars=task_vars)
        except AnsibleConnectionFailure as again:
            result.update(
                unreachable=True,
                msg=f"the new ruleset cut the connection ({error}); after the {timeout} s rollback the host "
                f"still does not answer ({again}): check it from the console",
            )
            return result
        result.update(
            rollback_armed=status.get("rollback_armed"),
            live_sha256=status.get("live_sha256"),
            msg=f"the new ruleset cut the connection from the controller ({error}); it was not confirmed, "
            f"the previous ruleset came back after {timeout} s and the host answers again. "
            f"{args.get('dest', '/etc/nftables.conf')} was left unchanged.",
        )
        return result
