"""The pure parts of albums: which items made a post, and the boolean form fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.http.problems import Problem
from processors.albums import outcome
from producers.ingest.multipart import form_flag
from sinks.photos import Photo

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def row(photo_id: int, status: str, reason: str | None = None) -> Photo:
    return Photo(photo_id=photo_id, owner_id=1, status=status, media_kind="photo", width=4,
                 height=3, duration_ms=None, derivatives=[], dominant_color=None,
                 blurhash=None, caption="", title="", location=None, failure_reason=reason,
                 uploaded_at=NOW, updated_at=NOW, detached=True)


def test_outcome_keeps_the_authors_order_and_names_failures() -> None:
    rows = {3: row(3, "ready"), 1: row(1, "failed", "render: truncated"),
            2: row(2, "ready"), 5: row(5, "deleted"), 4: row(4, "processing")}
    ready, failed, waiting = outcome([3, 1, 4, 2, 5, 6], rows)
    assert ready == [3, 2]
    assert failed == {1: "render: truncated", 5: "deleted"}
    assert waiting == [4, 6]  # 6: no row yet


def test_outcome_of_a_failure_without_a_reason() -> None:
    _, failed, _ = outcome([1], {1: row(1, "failed")})
    assert failed == {1: "processing failed"}


@pytest.mark.parametrize(("text", "value"), [
    (None, False), ("", False), ("false", False), ("0", False), ("off", False),
    ("true", True), ("1", True), ("on", True), (" TRUE ", True), ("yes", True)])
def test_form_flags(text: str | None, value: bool) -> None:
    assert form_flag(text, "sensitive") is value


def test_a_form_flag_that_is_not_a_boolean_is_a_422() -> None:
    with pytest.raises(Problem) as caught:
        form_flag("maybe", "detached")
    assert caught.value.status == 422 and "detached" in caught.value.detail
