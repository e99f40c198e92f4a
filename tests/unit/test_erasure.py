"""The account-deletion sweep's pure parts: paging its listings, naming photo objects."""

from __future__ import annotations

from processors.erasure import PAGE, keyset_pages
from sinks.media_keys import derivative_key
from sinks.photo_objects import derivatives_prefix


async def _pages_of(ids: list[int]) -> list[list[int]]:
    """Every page ``keyset_pages`` reads from a listing of ``ids`` (newest first)."""
    asked: list[int | None] = []

    async def read(before: int | None) -> list[int]:
        asked.append(before)
        older = [i for i in ids if before is None or i < before]
        return older[:PAGE]

    pages = [page async for page in keyset_pages(read)]
    assert asked[0] is None and asked[1:] == [page[-1] for page in pages[:len(asked) - 1]]
    return pages


async def test_a_listing_is_read_page_by_page_to_its_end() -> None:
    ids = list(range(3 * PAGE + 7, 0, -1))
    pages = await _pages_of(ids)
    assert [len(p) for p in pages] == [PAGE, PAGE, PAGE, 7]
    assert [i for page in pages for i in page] == ids


async def test_an_exact_multiple_of_the_page_ends_on_an_empty_read() -> None:
    pages = await _pages_of(list(range(2 * PAGE, 0, -1)))
    assert [len(p) for p in pages] == [PAGE, PAGE]


async def test_an_empty_listing_yields_no_page() -> None:
    assert await _pages_of([]) == []


def test_every_derivative_lives_under_the_photos_prefix_and_no_other_photos() -> None:
    prefix = derivatives_prefix(12)
    for name in ("thumb", "small", "medium", "large"):
        assert derivative_key(12, name).startswith(prefix)
    assert not derivative_key(123, "thumb").startswith(prefix)  # 12/ is not 123/
