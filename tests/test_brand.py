"""The brand images Home Assistant shows for the integration, and their generator."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from dev.brand import BRAND_DIR, write_brand

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VARIANTS = ("", "dark_")
KINDS = ("icon", "logo")
ONE_X = [f"{variant}{kind}.png" for variant in VARIANTS for kind in KINDS]
NAMES = sorted(ONE_X + [name.replace(".png", "@2x.png") for name in ONE_X])


def load(name: str) -> Image.Image:
    """Return a brand image, read in full (its file closed)."""
    image = Image.open(BRAND_DIR / name)
    with image:
        image.load()
    return image


def size(name: str) -> tuple[int, int]:
    """Return the pixel size of a brand image."""
    return load(name).size


def test_generator_writes_into_the_integration() -> None:
    """Home Assistant 2026.3+ reads a custom integration's images from brand/."""
    integration = Path(__file__).parents[1] / "custom_components/flatpeak"
    assert integration / "brand" == BRAND_DIR
    assert len(NAMES) == 8


@pytest.mark.parametrize("name", NAMES)
def test_every_image_is_a_small_png(name: str) -> None:
    """Each of the eight files is there, a PNG with transparency, optimised."""
    path = BRAND_DIR / name
    assert path.is_file()
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    image = load(name)
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert path.stat().st_size < 40_000


@pytest.mark.parametrize("variant", VARIANTS)
def test_icons_are_exactly_256_and_512_square(variant: str) -> None:
    """Icons are the exact sizes the brands specification asks for."""
    assert size(f"{variant}icon.png") == (256, 256)
    assert size(f"{variant}icon@2x.png") == (512, 512)


@pytest.mark.parametrize("name", ONE_X)
def test_hidpi_image_is_exactly_twice_the_size(name: str) -> None:
    """Each @2x image is its 1x image at twice the resolution."""
    width, height = size(name)
    assert size(name.replace(".png", "@2x.png")) == (2 * width, 2 * height)


@pytest.mark.parametrize("variant", VARIANTS)
def test_logos_are_landscape_128_high(variant: str) -> None:
    """Logos are landscape, their shortest side the 128 px the specification asks."""
    width, height = size(f"{variant}logo.png")
    assert height == 128
    assert height < width <= 512


@pytest.mark.parametrize("name", NAMES)
def test_images_are_trimmed(name: str) -> None:
    """Ink touches every edge: no empty margin around the icon or the logo."""
    image = load(name)
    assert image.getchannel("A").getbbox() == (0, 0, *image.size)


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("dark_")])
def test_dark_variant_differs_from_the_light_one(name: str) -> None:
    """A dark_ image is its own drawing, not a copy of the light one."""
    light, dark = BRAND_DIR / name, BRAND_DIR / f"dark_{name}"
    assert light.read_bytes() != dark.read_bytes()
    a, b = load(name), load(f"dark_{name}")
    assert a.size == b.size
    assert a.tobytes() != b.tobytes()


def test_dark_logo_has_light_lettering() -> None:
    """The wordmark is dark on the light logo and light on the dark logo."""

    def lettering_lightness(name: str) -> float:
        image = load(name)
        text = image.crop((image.height, 0, image.width, image.height))
        alpha = text.getchannel("A")
        grey = text.convert("L")
        inked = [g for g, a in zip(grey.tobytes(), alpha.tobytes(), strict=True) if a]
        return float(sum(inked)) / len(inked)

    assert lettering_lightness("logo.png") < 96
    assert lettering_lightness("dark_logo.png") > 192


def test_generator_reproduces_the_images(tmp_path: Path) -> None:
    """The committed PNGs are what `python -m dev.brand` draws, pixel for pixel.

    (Another Pillow may compress the same pixels to other bytes.)
    """
    written = write_brand(tmp_path)
    assert sorted(path.name for path in written) == NAMES
    assert sorted(path.name for path in tmp_path.iterdir()) == NAMES
    for name in NAMES:
        with Image.open(tmp_path / name) as drawn, Image.open(BRAND_DIR / name) as kept:
            assert drawn.size == kept.size, name
            assert drawn.convert("RGBA").tobytes() == kept.convert("RGBA").tobytes()
