"""PURE: URLs and connection strings made fit for messages, logs and metrics: the one
masking function, `masked`, hides every password, whether or not the string parses."""

from __future__ import annotations

import re

MASK = "***"

# in any text, each word (a run without spaces or quotes) holding `scheme:/...@` has a
# user info: from the scheme to the word's LAST `@`, so an unencoded `/`, `#`, `?` or
# `@` in the password stays inside it (plain string search: linear on any input)
_WORD = re.compile(r"[^\s'\"<>]+")
_SCHEME_IN = re.compile(r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*:/{1,2}")
# password=... (libpq key=value strings, URL query parameters, sslpassword=...)
_PASSWORD_KEY = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]*)")
# a libpq key=value connection string: `host=... dbname=...`
_KEYWORDS = re.compile(r"^\s*[a-z_]+\s*=", re.IGNORECASE)
# a scheme (perhaps mistyped) in front of a URL: `postgresql://`, `postgres ql://`, `pg:/`
_SCHEME = re.compile(r"^\s*[a-z][a-z0-9+.\- ]{0,30}:/", re.IGNORECASE)
_PIECES = re.compile(r"[/#?@:\s]")


def secrets_of(url: str) -> list[str]:
    """The passwords a URL or connection string holds, found without parsing it (so a
    URL that does not parse gives them too): the user info's password up to the last
    `@`, and every `password=` value."""
    found: list[str] = []
    _, sep, rest = url.partition("://")
    if not sep and _SCHEME.match(url):
        _, sep, rest = url.partition(":/")
        rest = rest.lstrip("/")
    if sep and "@" in rest:
        userinfo = rest.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    for m in _PASSWORD_KEY.finditer(url):
        found.append(m.group(2).strip("'"))
    # and the pieces an unencoded `/#?@` splits it into (a driver names them as a host...)
    found += [piece for s in found for piece in _PIECES.split(s) if len(piece) >= 3]
    return sorted({s for s in found if s and s != MASK}, key=len, reverse=True)


def masked(text: str, *urls: str) -> str:
    """`text` with every password shown as `***`: the ones of any `scheme://user:pw@`
    and `password=` in it, and (wherever they appear, e.g. quoted back by a driver's
    error message) the passwords of the `urls` given. Works on strings that do not
    parse; never raises."""
    out = text
    for url in urls or (text,):
        for secret in secrets_of(url):
            out = out.replace(secret, MASK)
    out = _WORD.sub(_mask_word, out)
    return _PASSWORD_KEY.sub(lambda m: f"{m.group(1)}{MASK}", out)


def _mask_word(m: re.Match[str]) -> str:
    word = m.group(0)
    at = word.rfind("@")
    if at < 0:
        return word
    scheme = _SCHEME_IN.search(word, 0, at)
    if scheme is None:
        return word
    userinfo = word[scheme.end():at]
    colon = userinfo.find(":")
    if colon < 0:
        return word
    return f"{word[:scheme.end()]}{userinfo[:colon + 1]}{MASK}{word[at:]}"


def is_keyword_string(text: str) -> bool:
    """Whether `text` is a libpq `key=value ...` connection string."""
    return bool(_KEYWORDS.match(text))


def looks_like_url(text: str) -> bool:
    """Whether `text` starts like a URL (a scheme, perhaps mistyped, then `:/`), or holds
    user info: never to be taken as a file name."""
    return bool(_SCHEME.match(text)) or ("://" in text)
