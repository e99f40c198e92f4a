"""Search normalization: what a caption is indexed under, and what a query looks up."""

from __future__ import annotations

from sinks.search_terms import (
    MAX_PREFIX,
    fold,
    hashtags,
    normalize,
    normalize_tag,
    terms,
    username_prefixes,
)


def test_terms_are_folded_and_stripped_of_punctuation() -> None:
    assert terms("Sunset at the BEACH!!! café-bar, (really)") == {
        "sunset", "at", "the", "beach", "café", "bar", "really"}


def test_nfkc_and_casefold_make_lookalikes_equal() -> None:
    full_width = "\uff26\uff35\uff2c\uff2c"  # "FULL" in full-width letters
    assert terms(f"{full_width} width") == {"full", "width"}
    assert terms("Straße") == terms("STRASSE") == {"strasse"}
    assert fold("\ufb01ne") == "fine"  # ligature split by NFKC


def test_apostrophes_join_words_and_symbols_break_them() -> None:
    assert terms("don't stop") == {"dont", "stop"}
    assert terms("it\u2019s fine") == {"its", "fine"}
    assert terms("sun☀️sea") == {"sun", "sea"}
    assert normalize("  a -- b  ") == "a b"


def test_hashtags_are_found_folded_and_also_terms() -> None:
    caption = "Golden #Sunset #golden_hour #Été x#no ##double"
    assert hashtags(caption) == {"sunset", "golden_hour", "été"}
    assert {"sunset", "golden", "hour", "été"} <= terms(caption)


def test_tag_queries_accept_hash_and_case() -> None:
    assert normalize_tag("#SunSet") == normalize_tag("sunset") == "sunset"


def test_username_prefixes_stop_at_ten_characters() -> None:
    assert username_prefixes("bob") == ["b", "bo", "bob"]
    long = username_prefixes("alice.smith_99")
    assert len(long) == MAX_PREFIX and long[-1] == "alice.smit"


def test_empty_and_symbol_only_text_has_no_terms() -> None:
    assert terms("", "!!! ☀️ ...") == set()
    assert hashtags("# #") == set()
