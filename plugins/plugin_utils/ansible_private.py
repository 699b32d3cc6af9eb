# Copyright: PATN infrastructure team
# Apache License 2.0
"""The one private ansible-core attribute the plugins read, kept here alone.

ansible-core 2.19 has no public way to it; tests/test_ansible_private.py
fails when a release renames or drops it, so that this file is the one
place to change.
"""

from __future__ import annotations


def object_id(item) -> str:
    """The identity of a task or play that survives ansible-core's copies of it.

    The callbacks see copies: TaskQueueManager.run copies the play before
    v2_playbook_on_play_start, each result carries a copy of its task, and an
    include makes copies of its tasks. Base.copy() keeps only the private
    _uuid; nothing public gives it (serialize() does, by serialising the whole
    object: roles, blocks and all). ansible-core's own default callback keys
    its task banners on it too.
    """
    return item._uuid
