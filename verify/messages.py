"""Messages for people: an error, a reason or a twin's change on one line of bounded length (the
CLI's error line, the claims runner's and the falsifier's lines).  Imports nothing from verify, so
every layer can use it."""
from __future__ import annotations


def one_line(text, limit: int = 300) -> str:
    """``str(text)`` with every run of whitespace (newlines included) made one space, cut to at
    most ``limit`` characters (the last three then "...")."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."
