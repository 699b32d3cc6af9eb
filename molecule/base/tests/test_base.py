"""Live checks of the base role, run inside each converged container.

Every check talks to the running system (sshd, chronyd, rsyslog, the kernel,
apt) rather than looking for files: a role that wrote the right files but
left a service misconfigured fails here.
"""

import time
import uuid

import pytest
import testinfra

ADMIN = "lab-admin"
# Client options for login attempts from inside the container to its own
# sshd: never prompt, never remember the throwaway host key.
SSH = (
    "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
    "-o ConnectTimeout=10 -i /root/.ssh/id_ed25519"
)


def ssh(host, user, options="", command="true"):
    return host.run(f"{SSH} {options} {user}@127.0.0.1 {command}")


# --- Administrators and SSH -------------------------------------------------


def test_admin_logs_in_with_key_and_has_sudo(host):
    result = ssh(host, ADMIN, command="sudo -n id -u")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_sudo_runs_on_its_own_terminal_and_logs_to_its_file(host):
    marker = f"patn-sudo-{uuid.uuid4().hex[:8]}"
    result = ssh(host, ADMIN, command=f"sudo -n /bin/echo {marker}")
    assert result.rc == 0, result.stderr
    assert marker in host.file("/var/log/sudo.log").content_string
    # sudo -l lists the defaults that apply to the administrator.
    assert "use_pty" in ssh(host, ADMIN, command="sudo -n -l").stdout


def test_sshd_config_is_readable_by_root_only(host):
    config = host.file("/etc/ssh/sshd_config")
    assert (config.user, config.mode) == ("root", 0o600)


def test_password_login_is_not_offered(host):
    # Ask for password and keyboard-interactive only: the server must answer
    # that publickey is the one method it accepts, whatever the password.
    result = ssh(
        host,
        ADMIN,
        options="-o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive",
    )
    assert result.rc == 255
    assert "Permission denied (publickey)" in result.stderr


def test_root_login_is_refused_even_with_an_authorized_key(host):
    # prepare.yml put the same key in root's authorized_keys.
    assert host.file("/root/.ssh/authorized_keys").exists
    result = ssh(host, "root")
    assert result.rc == 255
    assert "Permission denied" in result.stderr


@pytest.mark.parametrize(
    "option",
    [
        "-c aes128-cbc",
        "-o KexAlgorithms=diffie-hellman-group14-sha1",
        # A MAC is only negotiated with a non-AEAD cipher.
        "-c aes128-ctr -o MACs=hmac-sha1",
    ],
)
def test_weak_algorithms_are_refused(host, option):
    result = ssh(host, ADMIN, options=option)
    assert result.rc == 255
    assert "no matching" in result.stderr


def test_banner_is_shown_before_login(host):
    result = ssh(host, ADMIN, options="-o LogLevel=INFO")
    assert result.rc == 0
    assert "Acces reserve aux personnes autorisees" in result.stderr


def test_removed_admin_is_gone(host):
    assert not host.user("former-admin").exists


def test_admin_password_is_locked(host):
    shadow = host.run("getent shadow %s", ADMIN).stdout.split(":")
    assert shadow[1].startswith("!")


# --- Time -------------------------------------------------------------------


def test_time_zone_is_brazzaville(host):
    assert host.run("date +%Z").stdout.strip() == "WAT"
    assert host.file("/etc/localtime").linked_to.endswith("Africa/Brazzaville")


def test_chrony_is_running_and_answers(host):
    assert host.service("chrony").is_running
    assert host.service("chrony").is_enabled
    # chronyc talks to the daemon over its socket: a real answer, not a unit state.
    tracking = host.run("chronyc -n tracking")
    assert tracking.rc == 0, tracking.stderr
    assert "Reference ID" in tracking.stdout


def ntp_answer(host):
    """Send one NTP client request to 127.0.0.1; the answer's mode, or None."""
    script = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); "
        "s.sendto(bytes([0x23]) + bytes(47), ('127.0.0.1', 123)); "
        "print(s.recv(48)[0] & 7)"
    )
    result = host.run(f'python3 -c "{script}"')
    return int(result.stdout) if result.rc == 0 else None


def test_time_is_served_only_where_asked(host):
    serves = host.backend.get_hostname() == "base-debian13"
    # Mode 4 is a server's answer.
    assert ntp_answer(host) == (4 if serves else None)


# --- Kernel parameters ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("net.ipv4.conf.all.rp_filter", "1"),
        ("net.ipv4.conf.all.accept_redirects", "0"),
        ("net.ipv4.conf.all.send_redirects", "0"),
        ("net.ipv4.conf.all.accept_source_route", "0"),
        ("net.ipv4.conf.all.log_martians", "1"),
        ("net.ipv4.tcp_syncookies", "1"),
        ("net.ipv6.conf.all.accept_redirects", "0"),
        ("net.ipv6.conf.all.accept_ra", "0"),
        ("net.ipv6.conf.default.accept_ra", "0"),
    ],
)
def test_network_sysctl_is_live(host, name, value):
    assert host.run("sysctl -n %s", name).stdout.strip() == value


def test_kernel_wide_sysctl_is_persisted_for_boot(host):
    # Containers share the host's kernel: the value is written, not applied.
    conf = host.file("/etc/sysctl.d/60-patn-base.conf").content_string
    assert "kernel.kptr_restrict = 2" in conf.splitlines()
    assert "fs.protected_symlinks = 1" in conf.splitlines()


# --- Logs -------------------------------------------------------------------


def test_messages_reach_the_collector(host):
    marker = f"patn-base-test-{uuid.uuid4()}"
    host.run("logger -t molecule %s", marker)
    for _ in range(30):
        if marker in host.run("cat /var/tmp/collector.log").stdout:
            return
        time.sleep(1)
    pytest.fail("the log message never reached the collector at 127.0.0.1:5140")


def test_journal_is_persistent(host):
    assert host.file("/var/log/journal").is_directory
    storage = host.run("systemd-analyze cat-config systemd/journald.conf").stdout
    assert "Storage=persistent" in storage


# --- Security updates -------------------------------------------------------


def test_unattended_upgrades_are_on_for_security(host):
    dump = host.run("apt-config dump").stdout
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert "Debian-Security" in dump
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_the_security_suite_is_a_package_source(host):
    codename = host.system_info.codename
    policy = host.check_output("apt-cache policy")
    assert f"{codename}-security/main" in policy
    assert f"{codename}-updates/main" in policy
    # The legacy file holds no source any more (it would be read twice).
    legacy = host.file("/etc/apt/sources.list").content_string
    assert not [line for line in legacy.splitlines() if line.startswith("deb")]
    assert (
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
        in host.file("/etc/apt/sources.list.d/debian.sources").content_string
    )


# Small packages that the security suite often updates: one of them is put
# back to its release version when no security update happens to be pending
# (the lab images are built with the updates of their day).
PINNABLE = ["libexpat1", "libzstd1", "login.defs", "libssl3", "openssl", "tzdata"]


def pending_security_updates(host):
    listed = host.run("apt list --upgradable 2>/dev/null").stdout
    return [line.split("/")[0] for line in listed.splitlines() if "-security " in line]


def pin_an_older_version(host, codename):
    for package in PINNABLE:
        madison = host.run("apt-cache madison %s", package).stdout
        release = [
            line.split("|")[1].strip() for line in madison.splitlines() if f" {codename}/main " in line
        ]
        in_security = [line for line in madison.splitlines() if f"{codename}-security/main" in line]
        if not (release and in_security):
            continue
        host.check_output("apt-get install -y -qq --allow-downgrades %s=%s", package, release[0])
        if package in pending_security_updates(host):
            return package
    pytest.fail(f"no security update pending and none of {PINNABLE} can be put back to its release version")


def test_a_pending_security_update_is_what_unattended_upgrades_would_install(host):
    codename = host.system_info.codename
    pending = pending_security_updates(host) or [pin_an_older_version(host, codename)]
    assert pending_security_updates(host), "still no security update pending"
    result = host.run("unattended-upgrade --dry-run -d 2>&1")
    marker = "pkgs that look like they should be upgraded:"
    assert marker in result.stdout, result.stdout[-3000:]
    # The list starts after the marker, one package per line.
    listed = result.stdout.split(marker, 1)[1].split()[:200]
    assert set(pending) & set(listed), (pending, listed[:20])


def test_unattended_upgrades_config_parses(host):
    # unattended-upgrade reads its configuration and stops before downloading.
    result = host.run("unattended-upgrade --dry-run --debug 2>&1 | head -50")
    assert "Allowed origins are" in result.stdout
    assert "Debian-Security" in result.stdout


# --- Monitoring ---------------------------------------------------------------


def exporter_address(host):
    return host.check_output("hostname -I").split()[0]


def test_node_exporter_serves_metrics_on_the_given_address(host):
    metrics = host.check_output(f"curl -sS --max-time 10 http://{exporter_address(host)}:9100/metrics")
    assert "node_uname_info" in metrics
    # The systemd collector is on: sshd's unit state is exported.
    assert 'node_systemd_unit_state{name="ssh.service",state="active"' in metrics


def test_node_exporter_listens_nowhere_else(host):
    result = host.run("curl -sS --max-time 5 http://127.0.0.1:9100/metrics")
    assert result.rc != 0


def test_node_exporter_publishes_textfile_metrics(host):
    marker = uuid.uuid4().int % 1_000_000
    prom = "/var/lib/prometheus/node-exporter/molecule_test.prom"
    host.run(f"echo 'patn_molecule_marker {marker}' > {prom}.tmp && mv {prom}.tmp {prom}")
    try:
        metrics = host.check_output(f"curl -sS --max-time 10 http://{exporter_address(host)}:9100/metrics")
        assert f"patn_molecule_marker {marker}" in metrics
    finally:
        host.run(f"rm -f {prom}")


def test_a_pending_reboot_is_published(host):
    # What Debian's packages do when an update needs a reboot, then the
    # service the timer runs; a reboot clears /run: the metric goes back to 0.
    assert host.service("patn-reboot-required.timer").is_enabled
    metrics = f"curl -sS --max-time 10 http://{exporter_address(host)}:9100/metrics"
    try:
        host.check_output("touch /run/reboot-required && systemctl start patn-reboot-required.service")
        assert "patn_reboot_required 1" in host.check_output(metrics).splitlines()
    finally:
        host.check_output("rm -f /run/reboot-required && systemctl start patn-reboot-required.service")
    assert "patn_reboot_required 0" in host.check_output(metrics).splitlines()


# --- Host firewall (tasks/firewall.yml) -------------------------------------
# base-debian12 has it (molecule.yml): only base-debian13 may log in and reach
# its test page on 8080; 8081 is served by nobody's rule; nobody may scrape.

FIREWALLED, OTHER = "base-debian12", "base-debian13"


def tcp_open(host, address, port):
    """Whether host can open a TCP connection to address:port within 3 s."""
    return host.run(f"timeout 3 bash -c '</dev/tcp/{address}/{port}'").rc == 0


@pytest.fixture
def firewalled_and_other(host):
    if host.backend.get_hostname() != FIREWALLED:
        pytest.skip(f"the host firewall is on {FIREWALLED} only")
    return host, testinfra.get_host(f"podman://{OTHER}")


def test_host_firewall_lets_in_only_what_it_serves_to_whom(firewalled_and_other):
    firewalled, other = firewalled_and_other
    address = exporter_address(firewalled)
    # Every port listens: what the other host cannot open, the firewall drops.
    for port in (22, 8080, 8081, 9100):
        assert tcp_open(firewalled, address, port), f"nothing listens on {port}"
    assert tcp_open(other, address, 22), "SSH from an administrator's address"
    assert tcp_open(other, address, 8080), "the served test page"
    assert not tcp_open(other, address, 8081), "a port no rule serves"
    assert not tcp_open(other, address, 9100), "the exporter, from outside the monitoring prefixes"


def test_host_firewall_is_the_boot_ruleset_and_logs_drops(firewalled_and_other):
    firewalled, _ = firewalled_and_other
    assert firewalled.service("nftables").is_enabled
    boot = firewalled.file("/etc/nftables.conf").content_string
    assert "table inet patn_host" in boot
    live = firewalled.check_output("nft list chain inet patn_host input")
    assert "policy drop" in live
    assert 'log prefix "patn-drop-input: "' in live


def test_no_host_firewall_where_it_is_off(host):
    if host.backend.get_hostname() == FIREWALLED:
        pytest.skip("the host firewall is on here")
    assert "patn_host" not in host.run("nft list tables 2>/dev/null").stdout


# --- Hardening (tasks/hardening.yml) ----------------------------------------


def test_an_admin_session_cannot_write_a_core_dump(host):
    # A command over SSH: not a login shell, so the limit comes from PAM (limits.d).
    result = ssh(host, ADMIN, command="'ulimit -S -c; ulimit -H -c'")
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == ["0", "0"]


def test_an_idle_login_shell_times_out_and_dumps_no_core(host):
    assert host.check_output(f"su - {ADMIN} -c 'echo $TMOUT; ulimit -H -c'").split() == ["900", "0"]
    # An administrator cannot lift the timeout from the shell.
    lifted = host.run(f"su - {ADMIN} -c 'TMOUT=0'")
    assert lifted.rc != 0
    assert "TMOUT: readonly variable" in lifted.stderr


def test_systemd_coredump_keeps_no_core(host):
    config = host.check_output("systemd-analyze cat-config systemd/coredump.conf")
    assert "Storage=none" in config.splitlines()
    assert "ProcessSizeMax=0" in config.splitlines()


def test_admin_homes_are_closed_to_other_users(host):
    home = host.user(ADMIN).home
    assert host.file(home).mode == 0o750


@pytest.mark.parametrize("module", ["usb-storage", "firewire-core", "dccp", "sctp", "rds", "tipc"])
def test_blocked_kernel_modules_cannot_be_loaded(host, module):
    # What modprobe would run instead of loading the module.
    assert host.check_output(f"modprobe -n -v {module}").strip() == "install /bin/true"


def test_cron_tables_are_readable_by_root_only(host):
    # sysstat brings cron tables (/etc/cron.d/sysstat); every one is closed.
    tables = host.check_output("find /etc -maxdepth 1 -name 'cron*' -printf '%p %m %u\\n'").splitlines()
    assert "/etc/cron.d 700 root" in tables
    for line in tables:
        _path, mode, owner = line.split()
        assert (mode, owner) in {("700", "root"), ("600", "root")}, line


def test_sshd_limits_sessions_and_uses_no_tcp_keepalive(host):
    effective = host.check_output("sshd -T").splitlines()
    assert "maxsessions 2" in effective
    assert "tcpkeepalive no" in effective


def test_system_activity_is_collected_for_sar(host):
    assert host.service("sysstat").is_enabled
    # Two samples, as the timer takes them every ten minutes (the collection
    # writes nothing while ENABLED is not "true").
    collect = "systemctl start sysstat-collect.service"
    host.check_output(f"{collect} && sleep 1 && {collect}")
    assert "Average:" in host.check_output("sar -u")


def test_installed_files_match_their_packages(host):
    assert host.run("debsums -s openssh-server sudo").rc == 0


def test_a_password_set_on_the_device_must_be_strong(host):
    # pam-auth-update put passwdqc in the password stack (libpam-passwdqc).
    stack = host.check_output("grep -v '^#' /etc/pam.d/common-password")
    assert "pam_passwdqc.so" in stack
    defs = host.check_output("grep -E '^SHA_CRYPT_(MIN|MAX)_ROUNDS' /etc/login.defs").splitlines()
    assert defs == ["SHA_CRYPT_MIN_ROUNDS 100000", "SHA_CRYPT_MAX_ROUNDS 100000"]
