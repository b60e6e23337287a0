"""Password hashing for merchant users: scrypt (memory-hard, stdlib), with per-hash salt and
parameters stored in the hash string so they can be raised later."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

N, R, P = 2**14, 8, 1  # 16 MiB per check


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024,
                         dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(key)
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=256 * 1024 * 1024, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def password_problem(password: str) -> str | None:
    """Why ``password`` is unacceptable for a merchant user (Assist: 8-20 characters with
    latin letters and digits), or None."""
    if not 8 <= len(password) <= 64:
        return "a password has 8 to 64 characters"
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return "a password needs both letters and digits"
    return None


def login_problem(login: str, *, shortest: int = 3) -> str | None:
    """Why ``login`` is unacceptable, or None: ``shortest`` (3; the cabinet asks 8) to 20
    latin letters, digits or _, at least one letter."""
    if not re.fullmatch(r"[A-Za-z0-9_]{%d,20}" % shortest, login or "") \
            or not re.search(r"[A-Za-z]", login):
        return (f"a login has {shortest} to 20 latin letters, digits or _ and at least one "
                f"letter")
    return None
