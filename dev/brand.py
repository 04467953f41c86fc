"""Draw the Flatpeak brand images that Home Assistant shows for the integration.

Run from the repository root with ``.venv/bin/python -m dev.brand``: it writes the
eight PNGs of ``custom_components/flatpeak/brand/`` (icon and logo, 1x and @2x, for
light and dark backgrounds), which Home Assistant 2026.3 and later serves from there.

Everything is drawn here from geometry, the wordmark included: its letters are
monoline strokes with round caps, so no font file (nor any other third-party artwork)
goes into the images, and the output is the same bytes on every run with the same
Pillow. Each shape is drawn as a mask at ``SUPERSAMPLE`` times the final size, scaled
down with Lanczos, and filled with a flat colour (or the badge's gradient) at the
final size: the PNGs hold clean colours, which keeps them small.

The icon is a rounded green badge with the price of electricity over a day as a white
line: it rises, but instead of peaking it runs flat, and the peak it would have had
floats above the flat stretch as a faint dotted ghost.
"""

from __future__ import annotations

import argparse
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

BRAND_DIR = Path(__file__).resolve().parents[1] / "custom_components/flatpeak/brand"
SUPERSAMPLE = 4
ICON_SIZE = 256  # 1x; @2x is twice this
LOGO_HEIGHT = 128  # 1x; @2x is twice this

type Point = tuple[float, float]
type Stroke = list[Point]
type Rgb = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Colours of one variant: for light or for dark backgrounds."""

    badge_top: Rgb  # the badge is a gradient from its top left to its bottom right
    badge_bottom: Rgb
    line: Rgb  # the price curve and its ghost peak
    ghost_opacity: float
    text: Rgb


LIGHT = Palette(
    badge_top=(0x14, 0xB8, 0xA6),
    badge_bottom=(0x0F, 0x8F, 0x6C),
    line=(0xFF, 0xFF, 0xFF),
    ghost_opacity=0.42,
    text=(0x12, 0x3B, 0x36),
)
# On a dark background: a brighter badge that stands off the background, light text.
DARK = Palette(
    badge_top=(0x2D, 0xD4, 0xBF),
    badge_bottom=(0x10, 0xA8, 0x7E),
    line=(0xFF, 0xFF, 0xFF),
    ghost_opacity=0.5,
    text=(0xEC, 0xF7, 0xF4),
)


# --- Drawing -------------------------------------------------------------------------


def new_mask(size: tuple[int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """Return an empty supersampled mask for a final ``size``, and a pen on it."""
    mask = Image.new("L", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), 0)
    return mask, ImageDraw.Draw(mask)


def finish(mask: Image.Image) -> Image.Image:
    """Scale a supersampled mask down to its final size."""
    size = (mask.width // SUPERSAMPLE, mask.height // SUPERSAMPLE)
    return mask.resize(size, Image.Resampling.LANCZOS)


def draw_strokes(
    draw: ImageDraw.ImageDraw, strokes: list[Stroke], width: float
) -> None:
    """Draw polylines with round caps and joints (coordinates in mask pixels)."""
    radius = width / 2
    for stroke in strokes:
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            length = math.hypot(x1 - x0, y1 - y0)
            if length == 0:
                continue
            nx, ny = -(y1 - y0) / length * radius, (x1 - x0) / length * radius
            quad = [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny)]
            quad += [(x1 - nx, y1 - ny), (x0 - nx, y0 - ny)]
            draw.polygon(quad, fill=255)
        for x, y in stroke:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)


def draw_dots(
    draw: ImageDraw.ImageDraw, line: Stroke, count: int, diameter: float
) -> None:
    """Draw ``count`` round dots evenly spaced along ``line``, one at each end."""
    lengths = [0.0]
    for (x0, y0), (x1, y1) in itertools.pairwise(line):
        lengths.append(lengths[-1] + math.hypot(x1 - x0, y1 - y0))
    radius = diameter / 2
    segment = 0
    for i in range(count):
        target = lengths[-1] * i / (count - 1)
        while segment < len(line) - 2 and lengths[segment + 1] < target:
            segment += 1
        (x0, y0), (x1, y1) = line[segment], line[segment + 1]
        span = lengths[segment + 1] - lengths[segment]
        t = (target - lengths[segment]) / span if span else 0.0
        x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)


def paint(
    canvas: Image.Image, mask: Image.Image, fill: Rgb | Image.Image, opacity: float
) -> None:
    """Composite ``fill`` (a colour or an image) onto ``canvas`` through ``mask``."""
    layer = (
        fill.convert("RGBA")
        if isinstance(fill, Image.Image)
        else Image.new("RGBA", canvas.size, (*fill, 255))
    )
    alpha = mask if opacity >= 1 else mask.point(lambda v: round(v * opacity))
    layer.putalpha(alpha)
    canvas.alpha_composite(layer)


def arc(centre: Point, radius: float, start: float, end: float) -> Stroke:
    """Sample an arc counter-clockwise (y up) from ``start`` to ``end`` degrees."""
    steps = max(8, round(abs(end - start) / 2.5))
    angles = [math.radians(start + (end - start) * i / steps) for i in range(steps + 1)]
    return [
        (centre[0] + radius * math.cos(a), centre[1] + radius * math.sin(a))
        for a in angles
    ]


def bezier(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 80) -> Stroke:
    """Sample a cubic Bezier curve."""
    points = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        a, b, c, d = u**3, 3 * u * u * t, 3 * u * t * t, t**3
        points.append(
            (
                a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
            )
        )
    return points


# --- Icon ----------------------------------------------------------------------------
# In the unit square, y down.

BADGE_RADIUS = 0.225  # corner radius of the badge
LOW = 0.725  # y of the curve's ends (night)
PLATEAU = 0.495  # y of the flattened peak
START = 0.15  # x of the curve's left end; the curve is symmetric about x = 0.5
SHOULDER = 0.37  # x where the plateau starts
EASE = 0.55  # how far the rise's control points reach along it (0-1)
CURVE_WIDTH = 0.08
PEAK = 0.245  # y of the top of the ghost peak
GHOST_HALF_SPAN = 0.18  # half the ghost's width where it would meet the plateau
GHOST_SHARPNESS = 1.4  # 0 is a parabola; larger is a narrower, bell-like tip
GHOST_CLEARANCE = 0.06  # the dots stop this far above the plateau
GHOST_DOT = 0.05  # diameter of the ghost's dots
GHOST_DOTS = 7


def price_curve() -> Stroke:
    """Return the flattened price curve: an eased rise, the plateau, an eased fall."""
    rise = bezier(
        (START, LOW),
        (START + (SHOULDER - START) * EASE, LOW),
        (SHOULDER - (SHOULDER - START) * EASE, PLATEAU),
        (SHOULDER, PLATEAU),
    )
    fall = [(1 - x, y) for x, y in reversed(rise)]
    return rise + fall


def ghost_peak() -> Stroke:
    """Return the peak that was cut off: a bell standing on the plateau."""
    c = GHOST_SHARPNESS
    points = []
    steps = 120
    for i in range(steps + 1):
        u = -1 + 2 * i / steps
        height = (math.exp(-c * u * u) - math.exp(-c)) / (1 - math.exp(-c))
        y = PLATEAU - (PLATEAU - PEAK) * height
        if y < PLATEAU - GHOST_CLEARANCE:
            points.append((0.5 + u * GHOST_HALF_SPAN, y))
    return points


def gradient(size: int, top: Rgb, bottom: Rgb) -> Image.Image:
    """Return a ``size``² diagonal gradient from ``top`` (top left) to ``bottom``."""
    small = 64
    ramp = Image.new("L", (small, small))
    ramp.putdata(
        [
            round(255 * (x + y) / (2 * small - 2))
            for y in range(small)
            for x in range(small)
        ]
    )
    return Image.composite(
        Image.new("RGB", (size, size), bottom),
        Image.new("RGB", (size, size), top),
        ramp.resize((size, size), Image.Resampling.BICUBIC),
    )


def render_icon(size: int, pal: Palette) -> Image.Image:
    """Return the icon, ``size`` pixels square."""
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    badge, draw = new_mask((size, size))
    big = badge.width
    draw.rounded_rectangle(
        (0, 0, big - 1, big - 1), radius=BADGE_RADIUS * big, fill=255
    )
    paint(icon, finish(badge), gradient(size, pal.badge_top, pal.badge_bottom), 1)

    ghost, draw = new_mask((size, size))
    dots = [(x * big, y * big) for x, y in ghost_peak()]
    draw_dots(draw, dots, GHOST_DOTS, GHOST_DOT * big)
    paint(icon, finish(ghost), pal.line, pal.ghost_opacity)

    curve, draw = new_mask((size, size))
    draw_strokes(
        draw, [[(x * big, y * big) for x, y in price_curve()]], CURVE_WIDTH * big
    )
    paint(icon, finish(curve), pal.line, 1)
    return icon


# --- Wordmark ------------------------------------------------------------------------
# A geometric monoline lettering. Font units: y up, baseline at 0, x-height 1, all on
# the strokes' centre lines (the round caps reach WEIGHT / 2 beyond).

CAP = 1.40
ASCENDER = 1.46
T_HEIGHT = 1.22
DESCENDER = 0.46
WEIGHT = 0.25  # stroke width
GAP = 0.25  # space between the edges of two letters
R = 0.5  # radius of the bowls of a, p, e


@dataclass(frozen=True)
class Glyph:
    """A letter: its strokes and its horizontal extent (centre lines)."""

    strokes: list[Stroke]
    left: float
    right: float


def glyphs() -> dict[str, Glyph]:
    """Return the letters of the wordmark."""
    bowl = arc((R, R), R, 0, 360)
    arm = ((0.0, 0.36), (0.6, 1.0))  # of the k, from the stem up to the right
    knee = 0.4  # where the leg of the k leaves its arm, along the arm
    leg_start = (
        arm[0][0] + (arm[1][0] - arm[0][0]) * knee,
        arm[0][1] + (arm[1][1] - arm[0][1]) * knee,
    )
    stem = [(0.0, 0.0), (0.0, ASCENDER)]
    return {
        "F": Glyph(
            [[(0.68, CAP), (0, CAP), (0, 0)], [(0, 0.76), (0.56, 0.76)]], 0, 0.68
        ),
        "l": Glyph([stem], 0, 0),
        "a": Glyph([bowl, [(2 * R, 0), (2 * R, 2 * R)]], 0, 2 * R),
        "t": Glyph([[(0, 0), (0, T_HEIGHT)], [(-0.3, 1), (0.34, 1)]], -0.3, 0.34),
        "p": Glyph([bowl, [(0, -DESCENDER), (0, 2 * R)]], 0, 2 * R),
        "e": Glyph([[(0, R), (2 * R, R)], arc((R, R), R, 0, 318)], 0, 2 * R),
        "k": Glyph([stem, list(arm), [leg_start, (0.64, 0)]], 0, 0.64),
    }


# Optical spacing: pairs that look loose with the plain GAP.
KERNING = {"at": -0.05, "tp": -0.05}
WORDMARK = "Flatpeak"
X_HEIGHT = 0.27  # x-height (centre lines) as a fraction of the logo's height
TEXT_GAP = 0.2  # space between the icon and the text, as a fraction of the height


def layout(text: str) -> tuple[list[Stroke], float]:
    """Set ``text`` in font units: its strokes (ink from x = 0) and its width."""
    shapes = glyphs()
    strokes: list[Stroke] = []
    pen = WEIGHT / 2
    previous = ""
    for char in text:
        glyph = shapes[char]
        if previous:
            pen += WEIGHT + GAP + KERNING.get(previous + char, 0.0)
        offset = pen - glyph.left
        strokes.extend([[(x + offset, y) for x, y in s] for s in glyph.strokes])
        pen = offset + glyph.right
        previous = char
    return strokes, pen + WEIGHT / 2


def logo_width() -> int:
    """Return the 1x logo's width: the icon, the gap, the wordmark (trimmed)."""
    _, width = layout(WORDMARK)
    return LOGO_HEIGHT + math.ceil((TEXT_GAP + width * X_HEIGHT) * LOGO_HEIGHT)


def render_logo(scale: int, pal: Palette) -> Image.Image:
    """Return the logo (icon and wordmark) at ``scale`` (1 or 2)."""
    height = LOGO_HEIGHT * scale
    logo = Image.new("RGBA", (logo_width() * scale, height), (0, 0, 0, 0))
    logo.alpha_composite(render_icon(height, pal))

    text, draw = new_mask(logo.size)
    big = height * SUPERSAMPLE
    em = X_HEIGHT * big
    left = (1 + TEXT_GAP) * big
    baseline = big / 2 + CAP * em / 2  # the capital's height centred on the icon
    strokes, _ = layout(WORDMARK)
    pixels = [[(left + x * em, baseline - y * em) for x, y in s] for s in strokes]
    draw_strokes(draw, pixels, WEIGHT * em)
    paint(logo, finish(text), pal.text, 1)
    return logo


# --- Files ---------------------------------------------------------------------------


def images() -> dict[str, Image.Image]:
    """Return every brand image by file name."""
    result: dict[str, Image.Image] = {}
    for prefix, pal in (("", LIGHT), ("dark_", DARK)):
        for suffix, scale in (("", 1), ("@2x", 2)):
            result[f"{prefix}icon{suffix}.png"] = render_icon(ICON_SIZE * scale, pal)
            result[f"{prefix}logo{suffix}.png"] = render_logo(scale, pal)
    return result


def write_brand(directory: Path) -> list[Path]:
    """Write the eight brand PNGs into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image in images().items():
        path = directory / name
        image.save(path, format="PNG", optimize=True)
        written.append(path)
    return written


def main() -> None:
    """Write the brand images, into the integration unless told otherwise."""
    parser = argparse.ArgumentParser(description="Draw the Flatpeak brand images.")
    parser.add_argument(
        "--out", type=Path, default=BRAND_DIR, help=f"folder (default {BRAND_DIR})"
    )
    for path in write_brand(parser.parse_args().out):
        print(f"{path} ({path.stat().st_size} bytes)")  # noqa: T201


if __name__ == "__main__":
    main()
