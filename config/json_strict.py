"""Reading JSON strictly: an object with a key given twice is refused (`json` would silently keep the last
value), and strings that are not text can be told."""

from __future__ import annotations

import json
import re
import sys


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(f"key {key!r} appears twice in one object; JSON keeps only the last, so remove one")
        self.key = key


def _unique(pairs: list) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def loads_unique(text: str):
    """json.loads, raising DuplicateKey for a key repeated in one object (JSONDecodeError as usual, also for
    nesting too deep for Python's parser and for an integer of more digits than int() reads)."""
    def parse_int(digits: str) -> int:
        length = len(digits.lstrip("-"))
        if 0 < sys.get_int_max_str_digits() < length:
            raise json.JSONDecodeError(f"an integer of {length} digits, more than Python reads", text,
                                       max(text.find(digits), 0))
        return int(digits)

    try:
        return json.loads(text, object_pairs_hook=_unique, parse_int=parse_int)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def is_unicode(text: str) -> bool:
    """False for a string holding an unpaired surrogate ("\\ud800" is valid JSON, but not text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def repeated_key_line(text: str, key: str) -> int | None:
    """The line where `key` is given the second time, to point at it (None if it cannot be told)."""
    found = [m.start() for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
    return text.count("\n", 0, found[1]) + 1 if len(found) > 1 else None
