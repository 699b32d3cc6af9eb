# Copyright: PATN infrastructure team
# Apache License 2.0
"""The project's one list of the words that mark a name as holding a secret.

Used wherever a name alone must tell whether its value is secret: the
registry refuses such a field written inline (registry.py), the audit trail
masks such keys and assignments as a second net behind masking by value
(callback patn.infra.audit), and the configuration checks never print such a
value (action patn.infra.config_inputs). Change the list here only.
"""

from __future__ import annotations

import re

# Found anywhere in a name, in any case: db_password, wpa_passphrase,
# radius__client_secrets, PresharedKey, Cleartext-Password.
WORDS = (
    "password",
    "passphrase",
    "secret",
    "token",
    "psk",
    "private_key",
    "privatekey",
    "preshared_key",
    "presharedkey",
    "api_key",
    "apikey",
    "credential",
)
# Found only as a whole part of a name (db_pass, PASS, smtp-pw, db_passwd), so
# that bypass, passive, compass or sudo's NOPASSWD are not taken for secrets.
PARTS = ("pass", "passwd", "pwd", "pw")

# The alternatives of a regular expression matching a secret name (no group).
PATTERN = "|".join(
    [
        *(re.escape(word) for word in WORDS),
        *(rf"(?<![a-z0-9]){re.escape(part)}(?![a-z0-9])" for part in PARTS),
    ]
)
SECRET_NAME = re.compile(PATTERN, re.IGNORECASE)

# A URL that carries its credential (rest:https://user:password@host/...):
# the line holding it is as secret as a password's, whatever its name.
URL_CREDENTIAL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def is_secret_name(name: object) -> bool:
    """True when the name (a key, a variable, a field) holds one of the secret words."""
    return bool(SECRET_NAME.search(str(name)))
