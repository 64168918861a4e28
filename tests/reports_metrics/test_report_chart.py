"""The hand-written PNG chart: a valid file (checked chunk by chunk) whose pixels show the bars, line and text."""
from __future__ import annotations

import struct
import zlib

import pytest

from bot.reports.chart import BACKGROUND, BAR, FONT, LINE, Canvas, bar_line_chart, nice_scale

LABELS = ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, data) chunks, checking each CRC with zlib.crc32."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(png):
        length, = struct.unpack(">I", png[at:at + 4])
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        crc, = struct.unpack(">I", png[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF, f"bad CRC on {kind!r}"
        found.append((kind, data))
        at += 12 + length
    assert at == len(png)
    return found


def decode(png: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """Decode an 8-bit RGB PNG into rows of pixels, undoing each scanline's filter."""
    parts = chunks(png)
    assert [k for k, _ in parts][0] == b"IHDR" and parts[-1] == (b"IEND", b"")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", parts[0][1])
    assert (depth, colour, compression, filtering, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(d for k, d in parts if k == b"IDAT"))
    bpp, stride = 3, width * 3
    assert len(raw) == height * (1 + stride)
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            else:
                assert kind == 0, f"unknown filter {kind}"
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, 3)])
        previous = line
    return width, height, rows


def runs(row: list[tuple[int, int, int]], colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """The (first, last) x of each horizontal run of one colour."""
    found, start = [], None
    for x, pixel in enumerate(row + [None]):
        if pixel == colour and start is None:
            start = x
        elif pixel != colour and start is not None:
            found.append((start, x - 1))
            start = None
    return found


def count(rows, colour) -> int:
    return sum(pixel == colour for row in rows for pixel in row)


def test_a_valid_png_with_the_asked_dimensions():
    png = bar_line_chart(LABELS, [3, 0, 5, 2], [12.5, None, 40.0, 8.0], title="Incidents per week")
    kinds = [k for k, _ in chunks(png)]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height, rows = decode(png)
    assert (width, height) == (800, 400) and len(rows) == 400 and all(len(r) == 800 for r in rows)
    small = bar_line_chart(LABELS, [1, 2, 3, 4], [None] * 4, width=320, height=200)
    assert decode(small)[:2] == (320, 200)


def test_bars_stand_where_the_counts_say():
    _, _, rows = decode(bar_line_chart(LABELS, [3, 0, 5, 2], [None] * 4))
    lowest = max(y for y, row in enumerate(rows) if BAR in row)
    bars = runs(rows[lowest], BAR)
    assert len(bars) == 3                                     # the week with no incidents has no bar
    assert bars == sorted(bars) and all(b - a > 20 for a, b in bars)
    heights = []
    for first, last in bars:
        x, y = (first + last) // 2, lowest
        while rows[y][x] == BAR:
            y -= 1
        heights.append(lowest - y)
    assert heights[1] > heights[0] > heights[2]               # 5 > 3 > 2
    per_incident = [h / n for h, n in zip(heights, [3, 5, 2])]
    assert max(per_incident) - min(per_incident) < 1.0        # bar height is proportional to the count
    background_columns = [x for x in range(800) if all(rows[y][x] == BACKGROUND for y in range(lowest - 5, lowest))]
    assert background_columns                                 # and there is space between them


def test_the_line_adds_its_colour_only_when_there_are_minutes():
    _, _, without = decode(bar_line_chart(LABELS, [3, 0, 5, 2], [None] * 4))
    _, _, with_line = decode(bar_line_chart(LABELS, [3, 0, 5, 2], [12.5, None, 40.0, 8.0]))
    assert count(with_line, LINE) > count(without, LINE) + 100


def test_title_and_labels_are_drawn():
    _, _, plain = decode(bar_line_chart(LABELS, [1, 1, 1, 1], [None] * 4))
    _, _, titled = decode(bar_line_chart(LABELS, [1, 1, 1, 1], [None] * 4, title="MTTR"))
    assert all(pixel == BACKGROUND for row in plain[8:26] for pixel in row)
    assert any(pixel != BACKGROUND for row in titled[8:26] for pixel in row)
    assert any(pixel != BACKGROUND for row in plain[-30:-10] for pixel in row)   # week labels under the axis


def test_the_font_draws_glyphs_pixel_for_pixel():
    canvas = Canvas(5, 7)
    canvas.text(0, 0, "t")                                    # lowercase is drawn as uppercase
    drawn = ["".join("#" if canvas.pixels[(y * 5 + x) * 3] != 255 else "." for x in range(5)) for y in range(7)]
    assert drawn == ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."]
    assert all(len(g) == 7 and max(g) < 32 for g in FONT.values())
    assert len({bytes(g) for g in FONT.values()}) == len(FONT)   # no two glyphs look alike
    assert set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-:.()%/") <= set(FONT)


def test_empty_and_all_zero_charts_are_still_valid():
    assert decode(bar_line_chart([], [], []))[:2] == (800, 400)
    _, _, rows = decode(bar_line_chart(LABELS, [0, 0, 0, 0], [None] * 4, title="Quiet month"))
    assert BAR not in {pixel for row in rows[60:] for pixel in row}


def test_nice_scale():
    assert nice_scale(0) == (1, 1)
    assert nice_scale(3) == (3, 1)
    assert nice_scale(7) == (8, 2)
    assert nice_scale(40) == (40, 10)
    assert nice_scale(82.5) == (100, 20)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="as long as"):
        bar_line_chart(LABELS, [1, 2], [None] * 4)
    with pytest.raises(ValueError, match="200x150"):
        bar_line_chart(LABELS, [1] * 4, [None] * 4, width=100)
    with pytest.raises(ValueError, match="negative"):
        bar_line_chart(LABELS, [1, -1, 1, 1], [None] * 4)
