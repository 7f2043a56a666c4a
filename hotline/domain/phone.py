"""Phone numbers as people type them, turned into E.164 (pure functions).

A victim on the web chat writes "010-1234-5678" or "+82 10 1234 5678"; Twilio needs
"+821012345678". Separators go; "00" is the international prefix; a leading single "0" is the
trunk prefix of the centre's own country (twilio.home_country_code) and is replaced by it.
"""

from __future__ import annotations

import re

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SEPARATORS = re.compile(r"[\s\-().·/]")


def to_e164(typed: str, home_country_code: str) -> str | None:
    """The E.164 form of a typed number, or None if it cannot be one."""
    text = _SEPARATORS.sub("", typed.strip())
    if len(text) > 20:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("0"):
        text = "+" + home_country_code + text[1:]
    elif not text.startswith("+") and home_country_code and text.isdigit():
        # Digits with neither prefix: already an international number without its "+".
        text = "+" + text
    return text if E164.match(text) else None
