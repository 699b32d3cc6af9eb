# Copyright: PATN infrastructure team
# Apache License 2.0
"""Make a device's WireGuard key on the device; return only its public key."""

from __future__ import annotations

DOCUMENTATION = r"""
module: wireguard_key
short_description: WireGuard private key made on the device, public key returned
description:
  - Makes the device's WireGuard private key with C(wg genkey) when O(path) does not hold one, with
    mode 0600, and returns the matching public key (C(wg pubkey)). The private key never leaves the
    device; it is never returned, logged or shown in a diff.
  - An existing key is kept (a new key would cut the tunnel until every peer knows it), unless
    O(regenerate=true).
  - An existing key file whose mode allows more than its owner reading and writing it (group or
    other bits, execute, setuid/setgid/sticky) is set to mode 0600 and reported as a change, with the
    modes before and after in the diff (never the key).
  - A file that is not a valid key makes the module fail without touching it.
  - A symbolic link at O(path) (even one to a valid key, or a dangling one) makes the module fail
    naming the path (the key would be read from, or written to, wherever the link points).
  - Supports check mode (reports that a key would be made or a mode tightened; the public key is
    unknown when no key exists yet) and diff mode.
version_added: 0.2.0
author: PATN infrastructure team
options:
  path:
    description: Private key file on the device.
    type: path
    default: /etc/wireguard/private.key
  regenerate:
    description: Replace the existing key (key rotation). Every peer must then get the new public key.
    type: bool
    default: false
requirements:
  - wireguard-tools (wg)
"""

EXAMPLES = r"""
- name: Make the site router's key, learn its public key
  patn.infra.wireguard_key:
  register: tunnel_key

- name: Use it in the hub's peer list
  ansible.builtin.debug:
    msg: "{{ tunnel_key.public_key }}"
"""

RETURN = r"""
public_key:
  description: The public key (base64), or null in check mode when no key exists yet.
  type: str
  returned: always
  sample: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
"""

import base64
import binascii
import os
import stat

from ansible.module_utils.basic import AnsibleModule

KEY_BYTES = 32
# Bits a private key file may have: read and write for its owner.
PRIVATE_MODE = 0o600
NOT_A_KEY = "not a WireGuard private key (32 bytes in base64); left untouched"


def valid_key(text):
    try:
        return len(base64.b64decode(text.strip(), validate=True)) == KEY_BYTES
    except (binascii.Error, ValueError):
        return False


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/wireguard/private.key"},
            "regenerate": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    if os.path.islink(path):
        module.fail_json(
            msg=f"{path}: is a symbolic link (to {os.readlink(path)}); a WireGuard private key must be a "
            "regular file at its own path; left untouched"
        )
    exists = os.path.exists(path)
    diff = {"before": {"path": path}, "after": {"path": path}}
    if exists and not module.params["regenerate"]:
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            module.fail_json(msg=f"{path}: cannot be opened ({error.strerror}); left untouched")
        with os.fdopen(descriptor, encoding="ascii", errors="replace") as handle:
            private = handle.read()
            if not valid_key(private):
                module.fail_json(msg=f"{path}: {NOT_A_KEY}")
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            changed = bool(mode & ~PRIVATE_MODE)
            if changed:
                diff["before"]["mode"] = f"{mode:04o}"
                diff["after"]["mode"] = f"{PRIVATE_MODE:04o}"
                if not module.check_mode:
                    # On the open descriptor: the file checked is the file changed.
                    os.fchmod(handle.fileno(), PRIVATE_MODE)
    else:
        diff["before"]["state"] = "present" if exists else "absent"
        diff["after"]["state"] = "new key"
        if module.check_mode:
            module.exit_json(changed=True, public_key=None, diff=diff)
        wg = module.get_bin_path("wg", required=True)
        _, private, _ = module.run_command([wg, "genkey"], check_rc=True)
        folder = os.path.dirname(path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        temporary = f"{path}.new"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_MODE)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            # O_CREAT's mode does not apply to a leftover file: set it explicitly.
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            handle.write(private)
        # os.replace, not atomic_move: the key must never exist with looser modes.
        os.replace(temporary, path)
        changed = True
    wg = module.get_bin_path("wg", required=True)
    _, public, _ = module.run_command([wg, "pubkey"], data=private.strip(), check_rc=True)
    result = {"changed": changed, "public_key": public.strip()}
    if changed:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
