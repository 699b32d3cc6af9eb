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
  - A file that is not a valid key makes the module fail without touching it.
  - Supports check mode (reports that a key would be made; the public key is then unknown).
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

from ansible.module_utils.basic import AnsibleModule

KEY_BYTES = 32


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
    exists = os.path.exists(path)
    if exists and not module.params["regenerate"]:
        with open(path, encoding="ascii", errors="replace") as handle:
            private = handle.read()
        if not valid_key(private):
            module.fail_json(msg=f"{path}: not a WireGuard private key (32 bytes in base64); left untouched")
        changed = False
    else:
        if module.check_mode:
            module.exit_json(changed=True, public_key=None)
        wg = module.get_bin_path("wg", required=True)
        _, private, _ = module.run_command([wg, "genkey"], check_rc=True)
        folder = os.path.dirname(path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        temporary = f"{path}.new"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(private)
        # os.replace, not atomic_move: the key must never exist with looser modes.
        os.replace(temporary, path)
        changed = True
    wg = module.get_bin_path("wg", required=True)
    _, public, _ = module.run_command([wg, "pubkey"], data=private.strip(), check_rc=True)
    module.exit_json(changed=changed, public_key=public.strip())


if __name__ == "__main__":
    main()
