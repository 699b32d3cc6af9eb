"""make validate's checkers for real: the lab's files checked by the
programs that read them, in the validation container (the lab image
localhost/patn-lab:debian12-services, so this runs in make setup-check,
after make images). The render and the contract are tested offline in
tests/test_validate.py, whose helpers this uses."""

import yaml
from test_validate import HERE, lab_copy, said, validate


def test_validate_lab_with_the_real_checkers_in_the_container(tmp_path):
    """The one test with podman (about 15 s): the lab's files checked by the
    real programs in the validation container, with two broken on purpose."""
    given = yaml.safe_load((HERE / "checkers.yml").read_text())
    result = validate("-i", lab_copy(tmp_path, given["group_vars"]))
    assert result.returncode == 1, said(result)
    for line in given["expected"]:
        assert line in result.stdout, said(result)
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.startswith("FAILED ") and line.endswith(" failed:")]
    # sshd on all seven hosts, Kea on both site routers, hostapd on both
    # radios: every other check passed (the monitoring host's promtool,
    # amtool and blackbox exporter checks among them).
    assert len(failed) == 11, said(result)
    # The base role's argument specs refuse the value before sshd would.
    assert "argument 'base__ssh_max_auth_tries' is of type str" in result.stdout
    assert "MaxAuthTries integer value invalid" in result.stdout, said(result)
    assert "invalid host identifier value '02:00:00:00:zz:01'" in result.stdout, said(result)
    assert "(0 by the programs" not in result.stdout
