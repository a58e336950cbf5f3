"""Captures through the whole path (RabbitMQ -> agent -> the stack's Chromium -> captures/) show what the
page showed: Chinese, Japanese and Korean text and colour emoji, not boxes."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator

import pytest
from PIL import Image, ImageChops

from zigral.client import Client
from zigral.config import load_settings
from zigral.messages import Command
from zigral.testing.server import FixtureServer, serve

from .conftest import Stack, booted_stack, services_available

pytestmark = pytest.mark.integration

CJK = "中文日本語한국어"
EMOJI = "😀🚀🍣🌍"
TOFU = "\U000f0001"  # a private-use code point no font covers: Chromium draws its missing-glyph box
CELL = 120  # CSS pixels per glyph cell, one glyph of 80 px in each
COLUMNS = 4  # cells per row: 480 CSS px, inside an agent's window (half the screen, side by side)

_GLYPHS = [*CJK, *EMOJI, TOFU]
_CELLS = "".join(
    f'<div style="position:absolute;left:{i % COLUMNS * CELL}px;top:{i // COLUMNS * CELL}px;'
    f"width:{CELL}px;height:{CELL}px;"
    f'font-size:80px;line-height:{CELL}px;text-align:center">{g}</div>'
    for i, g in enumerate(_GLYPHS)
)
PAGE = (
    '<!doctype html><html lang="ja"><meta charset="utf-8"><body style="margin:0;background:#fff;color:#000">'
    f"{_CELLS}<script>document.title = String(innerWidth)</script></body></html>"
)


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with serve() as server:
        server.page("/glyphs", PAGE)
        yield server


@pytest.fixture(scope="module")
def stack(site: FixtureServer) -> Iterator[Stack]:
    services_available(load_settings())
    with booted_stack(runtime={"allow_private": [site.base.removeprefix("http://")]}) as s:
        yield s


def glyph_cells(
    stack: Stack, site: FixtureServer, tmp_path_factory: pytest.TempPathFactory
) -> list[Image.Image]:
    """The agent's own capture of the glyph page, cut into one image per glyph cell."""
    with Client(stack.settings) as client:
        done = client.call(
            Command(agent="lincoln", action="navigate", params={"url": site.url("/glyphs")}, capture=True),
            120,
        )
    assert done.status == "succeeded", done
    png = next(p for p in done.captures if p.endswith(".png"))
    data = (stack.settings.captures.dir / png).read_bytes()
    (tmp_path_factory.getbasetemp() / "glyphs-capture.png").write_bytes(data)  # to look at
    shot = Image.open(io.BytesIO(data)).convert("RGB")
    scale = shot.width / int(done.result["title"])  # device pixels per CSS pixel
    size = round(CELL * scale)
    assert shot.width >= COLUMNS * size, "the glyph grid does not fit the capture"
    corners = [(i % COLUMNS * size, i // COLUMNS * size) for i in range(len(_GLYPHS))]
    return [shot.crop((x, y, x + size, y + size)) for x, y in corners]


def _inked(cell: Image.Image) -> bool:
    return cell.convert("L").getextrema()[0] < 128


def _coloured_pixels(cell: Image.Image) -> int:
    """Pixels of strong hue (HSV saturation above 40 %): grey text and boxes have none."""
    return sum(cell.convert("HSV").getchannel("S").histogram()[100:])


def test_a_capture_shows_cjk_text_and_colour_emoji_instead_of_boxes(
    stack: Stack, site: FixtureServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cells = glyph_cells(stack, site, tmp_path_factory)
    tofu = cells[-1]
    assert _inked(tofu), "the missing-glyph reference cell is empty: the page did not render"
    drawn = cells[: len(CJK) + len(EMOJI)]
    for glyph, cell in zip(CJK + EMOJI, drawn, strict=True):
        assert _inked(cell), f"{glyph!r} left its cell empty"
        assert ImageChops.difference(cell, tofu).getbbox() is not None, f"{glyph!r} is drawn as a box"
    for (a, ca), (b, cb) in itertools.combinations(zip(CJK + EMOJI, drawn, strict=True), 2):
        assert ImageChops.difference(ca, cb).getbbox() is not None, f"{a!r} and {b!r} look the same"
    for glyph, cell in zip(EMOJI, drawn[len(CJK) :], strict=True):
        assert _coloured_pixels(cell) > 200, f"{glyph!r} is not drawn in colour"
