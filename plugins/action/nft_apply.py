# Copyright: PATN infrastructure team
# Apache License 2.0
"""Action of patn.infra.nft_apply: apply, then confirm over a new connection.

Documented with the module (plugins/modules/nft_apply.py); the mechanism,
shared with patn.infra.confirmed_apply, is plugin_utils/confirmed_action.py.
"""

from __future__ import annotations

from ansible_collections.patn.infra.plugins.plugin_utils.confirmed_action import ConfirmedAction


class ActionModule(ConfirmedAction):
    MODULE = "patn.infra.nft_apply"
    WHAT = "ruleset"

    def _aftermath(self, args):
        return f"{args.get('dest', '/etc/nftables.conf')} was left unchanged."
