"""The installed distributions, `name==version`, read fast."""

from __future__ import annotations

import re


def packages() -> set[str]:
    """`name==version` of every installed distribution: the values `metadata['Name']` and
    `version` of importlib.metadata give, read from the header lines of each METADATA file
    alone (the email parser importlib uses reads every file whole, long descriptions
    included: ~50 ms for 100 distributions, a tenth of that this way)."""
    # imported here: importlib.metadata costs ~11 ms, and `status`/`repro` with nothing to do
    # load this module without listing the distributions
    from importlib import metadata as importlib_metadata

    out = set()
    for dist in importlib_metadata.distributions():
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("") or ""
        fields = _header_fields(text, ("name", "version"))
        if fields.get("name"):
            out.add(f"{fields['name']}=={fields.get('version')}")
    return out


_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_HEADER_NAME = re.compile(r"[\041-\071\073-\176]*")  # what email.feedparser takes for a header name


def _header_fields(text: str, wanted: tuple[str, ...]) -> dict[str, str]:
    """The first value of each wanted header (lower-case names) in the header block of `text`,
    as `email.message_from_string(text)[name]` (compat32) gives it: the block ends at the first
    line that is blank or not a header; a line starting with a blank continues the one before;
    a value is what follows the colon, without leading blanks or the last line end."""
    found: dict[str, str] = {}
    reading: str | None = None  # a wanted header met for the first time: continuations go on it
    need = len(set(wanted))
    for match in _LINES.finditer(text):
        line = match.group()
        if line[0] in " \t":
            if reading:
                found[reading] += line
            continue
        if len(found) == need:
            break  # all found, and the last one's continuation lines taken: the rest cannot matter
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            break
        key = name.lower()
        reading = key if key in wanted and key not in found else None
        if reading:
            found[key] = value.lstrip(" \t")
    return {k: v.rstrip("\r\n") for k, v in found.items()}
