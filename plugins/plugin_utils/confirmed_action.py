# Copyright: PATN infrastructure team
# Apache License 2.0
"""The controller's half of confirm-or-revert: apply, then confirm over a NEW connection.

Shared by the action plugins patn.infra.confirmed_apply and nft_apply (the
host's half is module_utils/confirmed_change.py). The confirmation is the
proof that the controller still reaches the host through what was just
activated: it must not travel a connection opened before. So the action
closes the connection the apply used (Ansible's ssh: `ssh -O stop` of the
ControlPersist master; Mitogen: the SSH process and its interpreter are shut
down and forgotten), waits, over new connections, until the activation has
finished, then opens one more new connection to confirm. When that fails,
the host's timer restores the previous state; the action waits for it and
reports once the host answers again.
"""

from __future__ import annotations

import time
import uuid

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# Seconds given to the rollback timer beyond its timeout before checking.
GRACE = 10
# Seconds after the rollback timeout during which the host is asked again:
# the previous tunnel or interfaces take time to come back (a busy device,
# a WireGuard handshake), and a site that answers within a minute is back.
ANSWER_WINDOW = 60
# Seconds between two looks at an activation still running.
POLL = 2


class ConfirmedAction(ActionBase):
    """Subclasses name the module (MODULE) and how its result calls the change (WHAT)."""

    MODULE = ""
    WHAT = "configuration"
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        self._vars = task_vars
        args = dict(self._task.args)
        phase = args.get("phase", "apply")
        if phase == "confirm":
            # A confirmation in a later task: through a new connection too.
            self._new_connection()
        if phase != "apply" or not args.get("confirm", True) or self._task.check_mode:
            result.update(self._module(args))
            return result

        args["apply_id"] = uuid.uuid4().hex
        timeout = int(args.get("rollback_timeout", 90))
        armed_at = time.monotonic()
        try:
            applied = self._module(dict(args, phase="apply"))
        except AnsibleConnectionFailure as error:
            # Its answer was lost: the apply may have happened, and then its rollback is armed.
            return self._after_rollback(result, args, armed_at, error, applied=None)
        result.update(applied)
        if applied.get("failed") or not applied.get("applied"):
            return result
        # When the change went live (the controller's clock): the audit trail
        # and the tests time the rollback from here.
        result["armed_at"] = int(time.time())

        try:
            self._wait_for_activation(args, applied, armed_at + timeout)
            self._new_connection()
            confirmed = self._module(dict(args, phase="confirm"))
        except AnsibleConnectionFailure as error:
            return self._after_rollback(result, args, armed_at, error, applied=True)
        result.update(confirmed)
        result["applied"] = True
        if confirmed.get("failed"):
            # The activation failed (undone at once), or a slow reconnection
            # arrived after the timer fired: the previous state is back.
            result["rolled_back"] = confirmed.get("rolled_back", True)
        return result

    def _aftermath(self, args):
        """What the host keeps after a rollback, in one sentence."""
        return "The files of before are back in place."

    def _module(self, args):
        return self._execute_module(self.MODULE, module_args=args, task_vars=self._vars)

    def _new_connection(self):
        """Close the connection in use, so that the next module call opens a new one."""
        # Connections without a persistent session (local, podman) have
        # nothing to reset; ConnectionBase.reset only warns.
        if type(self._connection).reset is ConnectionBase.reset:
            return
        try:
            self._connection.reset()
        except Exception as error:  # a reset over a cut path may time out; the next call reconnects anyway
            display.vvv(f"confirm-or-revert: closing the old connection said {error!r}")

    def _wait_for_activation(self, args, applied, deadline):
        """Until the host says the activation finished, looking through new connections."""
        time.sleep(int(applied.get("activation_delay", 2)) + 1)
        while True:
            self._new_connection()
            status = self._module(dict(args, phase="status"))
            done = status.get("activation") not in ("scheduled", None)
            if done or not status.get("rollback_armed") or time.monotonic() >= deadline:
                return status
            time.sleep(POLL)

    def _after_rollback(self, result, args, armed_at, error, applied):
        timeout = int(args.get("rollback_timeout", 90))
        remaining = armed_at + timeout + GRACE - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        result.update(changed=True, failed=True, confirmed=False, rolled_back=True)
        if applied is not None:
            result["applied"] = applied
        aftermath = self._aftermath(args)
        give_up = armed_at + timeout + ANSWER_WINDOW
        while True:
            self._new_connection()
            try:
                status = self._module(dict(args, phase="status"))
                break
            except AnsibleConnectionFailure as again:
                if time.monotonic() < give_up:
                    time.sleep(POLL)
                    continue
                result.update(
                    unreachable=True,
                    msg=f"the new {self.WHAT} cut the connection ({error}); {timeout + ANSWER_WINDOW} s "
                    f"after the {timeout} s rollback was armed the host still does not answer ({again}): "
                    "check it from the console",
                )
                return result
        last = status.get("last") or {}
        ours = last.get("apply_id") == args["apply_id"]
        if status.get("pending_apply_id") == args["apply_id"] and status.get("rollback_armed"):
            # Never seen in practice: the host's clock did not let the timer fire yet.
            result["rolled_back"] = False
            result["msg"] = (
                f"the connection was lost after the apply ({error}); its rollback is still armed on the host "
                f"and will restore the previous {self.WHAT}"
            )
        elif applied is None and not ours:
            result.update(changed=False, rolled_back=False, applied=False)
            result["msg"] = (
                f"the connection was lost during the apply ({error}); the host answers again and shows "
                f"no trace of it: nothing was applied. {aftermath}"
            )
        else:
            result["applied"] = True
            result["msg"] = (
                f"the new {self.WHAT} cut the connection from the controller ({error}); it was not "
                f"confirmed, the previous {self.WHAT} came back after {timeout} s and the host answers "
                f"again. {aftermath}"
            )
        result.update(rollback_armed=status.get("rollback_armed"), live_sha256=status.get("live_sha256"))
        if result["live_sha256"] is None:
            del result["live_sha256"]
        return result
