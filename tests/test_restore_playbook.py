"""playbooks/restore.yml refuses, before any connection, what is not one
named and confirmed server (the restore itself is proven by molecule/backup).
"""

import pytest
from conftest import run_playbook


def restore(*args):
    return run_playbook("-i", "inventories/lab", "playbooks/restore.yml", *args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "A restore targets one server: name it with --limit"),
        (["--limit", "ptn-dc-srv1"], "add -e backup__restore_confirm=ptn-dc-srv1"),
        (
            ["--limit", "ptn-dc-srv1", "-e", "backup__restore_confirm=ptn-dc-hub1"],
            "add -e backup__restore_confirm=ptn-dc-srv1",
        ),
    ],
    ids=["no-limit", "no-confirmation", "wrong-host-confirmed"],
)
def test_restore_refuses_without_one_named_and_confirmed_server(args, message):
    result = restore(*args)
    assert result.returncode != 0
    assert message in " ".join(result.stdout.split())
    assert "unreachable=1" not in result.stdout
