#!/usr/bin/env python3
"""Draw the integration's brand images into custom_components/oms/brand/ (Home Assistant 2026.3+).

A meter dial (ticks, needle) with a radio wave leaving it: the integration reads meters over the
air. Drawn with Pillow (a Home Assistant requirement) at four times the size and scaled down, so
the edges are smooth. Files, as Home Assistant's brand rules name them:

- ``icon.png`` 256x256 and ``icon@2x.png`` 512x512, transparent background;
- ``logo.png`` (128 px high) and ``logo@2x.png`` (256 px high): the icon and the name;
- ``dark_icon.png``, ``dark_icon@2x.png``, ``dark_logo.png``, ``dark_logo@2x.png``: the same for
  dark themes (light ring and text).

Run ``.venv/bin/python scripts/make_brand.py`` after changing the drawing; the images are committed.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path
import sys

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
BRAND = ROOT / "custom_components" / "oms" / "brand"
SCALE = 4
"""Supersampling factor."""
NAME = "OMS Meters"


@dataclass(frozen=True)
class Palette:
    ring: str
    face: str
    ticks: str
    needle: str
    wave: str
    text: str


LIGHT = Palette(
    ring="#1F4E79", face="#FFFFFF", ticks="#1F4E79", needle="#F28C28", wave="#03A9F4", text="#1F4E79"
)
DARK = Palette(
    ring="#8EC5F0", face="#1C2733", ticks="#8EC5F0", needle="#F5A04A", wave="#4FC3F7", text="#E1EEF8"
)


def icon(size: int, palette: Palette) -> Image.Image:
    """The dial with its radio wave, ``size`` pixels square, transparent around it."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / 256  # the drawing is laid out on a 256 grid
    cx, cy, radius = 112 * unit, 144 * unit, 96 * unit
    ring = 14 * unit
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=palette.ring)
    inner = radius - ring
    draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=palette.face)
    # ticks over 270 degrees, from lower left (225 deg) clockwise to lower right (-45 deg)
    for i in range(11):
        angle = math.radians(225 - 27 * i)
        long = i % 5 == 0
        r_out, r_in = inner - 8 * unit, inner - (30 if long else 20) * unit
        draw.line(
            (
                cx + r_out * math.cos(angle),
                cy - r_out * math.sin(angle),
                cx + r_in * math.cos(angle),
                cy - r_in * math.sin(angle),
            ),
            fill=palette.ticks,
            width=round((9 if long else 6) * unit),
        )
    # the needle, pointing to the upper right, with a round hub
    angle = math.radians(50)
    tip = (cx + (inner - 22 * unit) * math.cos(angle), cy - (inner - 22 * unit) * math.sin(angle))
    side = math.radians(50 + 90)
    base = 10 * unit
    draw.polygon(
        [
            tip,
            (cx + base * math.cos(side), cy - base * math.sin(side)),
            (cx - base * math.cos(side), cy + base * math.sin(side)),
        ],
        fill=palette.needle,
    )
    hub = 15 * unit
    draw.ellipse((cx - hub, cy - hub, cx + hub, cy + hub), fill=palette.needle)
    # the radio wave: three arcs around the upper right of the dial
    wx, wy = 188 * unit, 68 * unit
    dot = 10 * unit
    draw.ellipse((wx - dot, wy - dot, wx + dot, wy + dot), fill=palette.wave)
    for r in (24, 42, 60):
        rr = r * unit
        box = (wx - rr, wy - rr, wx + rr, wy + rr)
        draw.arc(box, start=-85, end=-5, fill=palette.wave, width=round(10 * unit))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int, palette: Palette) -> Image.Image:
    """The icon and the name beside it, ``height`` pixels high, transparent background."""
    big = height * SCALE
    font = ImageFont.load_default(size=round(big * 0.36))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), NAME, font=font)
    gap = round(big * 0.08)
    width = big + gap + (right - left) + round(big * 0.06)
    image = Image.new("RGBA", (width, big), (0, 0, 0, 0))
    image.alpha_composite(icon(height, palette).resize((big, big), Image.Resampling.LANCZOS))
    draw = ImageDraw.Draw(image)
    y = (big - (bottom - top)) / 2 - top
    draw.text((big + gap - left, y), NAME, font=font, fill=palette.text)
    return image.resize((round(width / SCALE), height), Image.Resampling.LANCZOS)


def main() -> int:
    BRAND.mkdir(parents=True, exist_ok=True)
    for prefix, palette in (("", LIGHT), ("dark_", DARK)):
        icon(256, palette).save(BRAND / f"{prefix}icon.png", optimize=True)
        icon(512, palette).save(BRAND / f"{prefix}icon@2x.png", optimize=True)
        logo(128, palette).save(BRAND / f"{prefix}logo.png", optimize=True)
        logo(256, palette).save(BRAND / f"{prefix}logo@2x.png", optimize=True)
    print(f"wrote {len(list(BRAND.glob('*.png')))} images to {BRAND.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
