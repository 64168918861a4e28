"""A bar-and-line PNG chart (incidents per bucket, MTTR) drawn and encoded by hand: no image libraries.

The PNG is 8-bit RGB, one IDAT of zlib-compressed scanlines each led by filter byte 0 (None).
Text uses a built-in 5x7 bitmap font; lowercase is drawn as uppercase, unknown characters as '?'.
"""
from __future__ import annotations

import logging
import math
import struct
import zlib
from typing import Sequence

log = logging.getLogger(__name__)

Color = tuple[int, int, int]
BACKGROUND: Color = (255, 255, 255)
AXIS: Color = (60, 60, 60)
GRID: Color = (228, 228, 228)
TEXT: Color = (30, 30, 30)
BAR: Color = (70, 130, 180)
LINE: Color = (220, 90, 20)

# 5x7 glyphs: seven rows, each a 5-bit row as two hex digits, top row first, bit 4 the leftmost pixel.
_GLYPHS = {
    "0": "0E11131519110E", "1": "040C040404040E", "2": "0E11010204081F", "3": "1F02040201110E",
    "4": "02060A121F0202", "5": "1F101E0101110E", "6": "0608101E11110E", "7": "1F010204080808",
    "8": "0E11110E11110E", "9": "0E11110F01020C",
    "A": "0E1111111F1111", "B": "1E11111E11111E", "C": "0E11101010110E", "D": "1C12111111121C",
    "E": "1F10101E10101F", "F": "1F10101E101010", "G": "0E11101711110F", "H": "1111111F111111",
    "I": "0E04040404040E", "J": "0702020202120C", "K": "11121418141211", "L": "1010101010101F",
    "M": "111B1515111111", "N": "11111915131111", "O": "0E11111111110E", "P": "1E11111E101010",
    "Q": "0E11111115120D", "R": "1E11111E141211", "S": "0F10100E01011E", "T": "1F040404040404",
    "U": "1111111111110E", "V": "11111111110A04", "W": "1111111515150A",
    "X": "11110A040A1111", "Y": "1111110A040404", "Z": "1F01020408101F",
    " ": "00000000000000", "-": "0000001F000000", ".": "00000000000C0C", ":": "000C0C000C0C00",
    "/": "00010204081000", "(": "02040808080402", ")": "08040202020408", "%": "18190204081303",
    "#": "0A0A1F0A1F0A0A", "+": "0004041F040400", "_": "0000000000001F", ",": "000000000C0408",
    "=": "00001F001F0000", "?": "0E110102040004",
}
FONT = {ch: bytes.fromhex(rows) for ch, rows in _GLYPHS.items()}
GLYPH_W, GLYPH_H = 5, 7


class Canvas:
    """An RGB pixel buffer with the few drawing operations a chart needs; drawing outside is clipped."""

    def __init__(self, width: int, height: int, background: Color = BACKGROUND) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def dot(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i:i + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill the rectangle with corners (x0, y0) and (x1, y1), both included."""
        x0, x1 = sorted((max(0, x0), min(self.width - 1, x1)))
        y0, y1 = sorted((max(0, y0), min(self.height - 1, y1)))
        if x0 > x1 or y0 > y1 or x1 < 0 or y1 < 0:
            return
        row = bytes(color) * (x1 - x0 + 1)
        for y in range(y0, y1 + 1):
            i = (y * self.width + x0) * 3
            self.pixels[i:i + len(row)] = row

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Bresenham's line, both ends included."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, words: str, color: Color = TEXT, scale: int = 1) -> None:
        """Draw text with its top-left corner at (x, y)."""
        for n, ch in enumerate(words.upper()):
            glyph = FONT.get(ch, FONT["?"])
            left = x + n * (GLYPH_W + 1) * scale
            for row, bits in enumerate(glyph):
                for col in range(GLYPH_W):
                    if bits & (0x10 >> col):
                        self.rect(left + col * scale, y + row * scale, left + col * scale + scale - 1,
                                  y + row * scale + scale - 1, color)

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(b"\x00" + self.pixels[y * stride:(y + 1) * stride] for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
        return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6))
                + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def text_width(words: str, scale: int = 1) -> int:
    return max(0, len(words) * (GLYPH_W + 1) * scale - scale)


def nice_scale(top: float, ticks: int = 5) -> tuple[int, int]:
    """An axis maximum and whole-number tick step covering `top` in at most `ticks` steps: (maximum, step)."""
    if top <= 0:
        return 1, 1
    rough = top / ticks
    magnitude = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return step * math.ceil(top / step), step


def bar_line_chart(labels: Sequence[str], bars: Sequence[int], line: Sequence[float | None], *, width: int = 800,
                   height: int = 400, title: str = "") -> bytes:
    """A PNG: a bar per label (incident counts, left axis) and a line through the MTTR minutes (right axis)."""
    if not len(labels) == len(bars) == len(line):
        raise ValueError("labels, bars and line must be as long as each other "
                         f"({len(labels)}, {len(bars)}, {len(line)})")
    if width < 200 or height < 150:
        raise ValueError(f"a chart needs at least 200x150 pixels, not {width}x{height}")
    if any(b < 0 for b in bars) or any(v is not None and v < 0 for v in line):
        raise ValueError("counts and minutes cannot be negative")
    canvas = Canvas(width, height)
    left, right, top, bottom = 48, width - 56, 52, height - 36
    if title:
        canvas.text((width - text_width(title, 2)) // 2, 10, title, scale=2)
    _legend(canvas, right, 34)

    count_max, count_step = nice_scale(max(bars, default=0))
    known = [v for v in line if v is not None]
    minutes_max, minutes_step = nice_scale(max(known, default=0))
    plot_h = bottom - top

    def y_of(value: float, maximum: int) -> int:
        return bottom - round(value / maximum * plot_h)

    for tick in range(0, count_max + 1, count_step):
        y = y_of(tick, count_max)
        canvas.rect(left + 1, y, right, y, GRID)
        canvas.rect(left - 4, y, left - 1, y, AXIS)
        canvas.text(left - 7 - text_width(str(tick)), y - 3, str(tick))
    for tick in range(0, minutes_max + 1, minutes_step):
        y = y_of(tick, minutes_max)
        canvas.rect(right + 1, y, right + 4, y, LINE)
        canvas.text(right + 7, y - 3, str(tick), LINE)

    slot = (right - left) / max(1, len(labels))
    bar_w = max(1, round(slot * 0.6))
    every = max(1, math.ceil((text_width(max(labels, key=len, default="")) + 8) / slot))
    centres = [round(left + slot * (i + 0.5)) for i in range(len(labels))]
    for i, (label, count, x) in enumerate(zip(labels, bars, centres)):
        if count:
            canvas.rect(x - bar_w // 2, y_of(count, count_max), x - bar_w // 2 + bar_w - 1, bottom - 1, BAR)
        canvas.rect(x, bottom + 1, x, bottom + 4, AXIS)
        if i % every == 0:
            canvas.text(x - text_width(label) // 2, bottom + 8, label)

    points = [(x, y_of(v, minutes_max)) if v is not None else None for x, v in zip(centres, line)]
    for a, b in zip(points, points[1:]):
        if a and b:
            canvas.line(*a, *b, LINE)
            canvas.line(a[0], a[1] - 1, b[0], b[1] - 1, LINE)
    for p in points:
        if p:
            canvas.rect(p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2, LINE)

    canvas.rect(left, top, left, bottom, AXIS)
    canvas.rect(right, top, right, bottom, AXIS)
    canvas.rect(left, bottom, right, bottom, AXIS)
    return canvas.png()


def _legend(canvas: Canvas, right: int, y: int) -> None:
    minutes, incidents = "MTTR (MIN)", "INCIDENTS"
    x = right - text_width(minutes) - 14
    canvas.rect(x - 2, y + 3, x + 8, y + 4, LINE)
    canvas.text(x + 14, y, minutes, LINE)
    x -= text_width(incidents) + 30
    canvas.rect(x, y, x + 8, y + 6, BAR)
    canvas.text(x + 14, y, incidents)
