"""Who may do what: the login's password hash, loopback clients, and the rule for binding to a network.

The threat model is in docs/SECURITY.md. In short: secrets (API key, login, backend key) never leave the
server; changing settings needs authority — the login when the app runs with one, else a client on this
machine; and the app refuses to listen on a network address without a login unless told
`--allow-anonymous`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""scrypt's cost (about 16 MiB and 50 ms per check): slow for a guesser, quick for one login."""


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password, as `scrypt$N$r$p$salt$hash` (hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash made by `hash_password` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def is_loopback(host: str | None) -> bool:
    """Whether a bind address or a client address is this machine (127.0.0.0/8, ::1, localhost)."""
    if not host:
        return False
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def settings_refusal(login_active: bool, username: str | None, client_host: str | None) -> str | None:
    """Why this client may not change settings, or None when it may.

    With a login in force, only the signed-in user (Gradio's auth already refused everyone else). Without
    one, only a client on this machine: anyone else who can reach the page could otherwise point the
    assistant's backend at their own server and read every conversation.
    """
    if login_active:
        return None if username else "sign in to change the settings"
    if is_loopback(client_host):
        return None
    return ("settings can be changed only from this machine while no login is set "
            f"(this request came from {client_host or 'an unknown address'})")


def serve_refusal(settings, host: str, api_only: bool, allow_anonymous: bool) -> str | None:
    """`bind_refusal` for `tailor serve`: a login guards the web app, the API key guards the API alone."""
    guarded, guard = (bool(settings.api_key), "an API key") if api_only else (settings.login_set, "a login")
    return bind_refusal(host, guarded, allow_anonymous, guard)


def bind_refusal(host: str, guarded: bool, allow_anonymous: bool, guard: str = "a login") -> str | None:
    """Why `tailor serve --host HOST` must not start, or None. `guard` names what protects the server
    (the web app's login; the API key when only the API is served) and `guarded` whether it is set."""
    if is_loopback(host) or guarded or allow_anonymous:
        return None
    return (f"refusing to listen on {host} without {guard}: anyone who can reach it could use your models, "
            f"change adapters and read your data. Set {guard} in Settings (or settings.json) first, or pass "
            "--allow-anonymous if this network is yours alone")
