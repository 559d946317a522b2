"""Text colour on a state's colour: WCAG 2 relative luminance and contrast ratio.

A state's colour is the background of the softphone's banner (and the wallboard's marks); its text is
white or the pages' dark ink, whichever reads better. A colour on which neither reaches WCAG AA for
normal text (4.5:1) is refused when a presence configuration is loaded or saved.
"""

from __future__ import annotations

from functools import lru_cache

WHITE = "#ffffff"
#: the pages' ink (app.css --ink); the dark text on light state colours
DARK = "#1f2933"
#: WCAG 2.x AA for normal-size text
AA_TEXT = 4.5


def _rgb(colour: str) -> tuple[int, int, int]:
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    return int(hex_[0:2], 16), int(hex_[2:4], 16), int(hex_[4:6], 16)


def luminance(colour: str) -> float:
    """The relative luminance of ``#rgb`` or ``#rrggbb`` (0 black .. 1 white)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours, 1..21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@lru_cache(maxsize=256)  # a handful of state colours, asked for in every agent view
def text_colour(background: str) -> str:
    """White or the dark ink, whichever has more contrast on ``background``."""
    return WHITE if contrast(background, WHITE) >= contrast(background, DARK) else DARK


def readable(background: str) -> bool:
    """True when the better of white and dark text reaches 4.5:1 on ``background``."""
    return contrast(background, text_colour(background)) >= AA_TEXT
