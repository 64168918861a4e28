import re

from bot.incidents.service import channel_name, channel_slug

VALID = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")


def test_slug_keeps_words_and_drops_the_rest():
    assert channel_slug("Checkout API: 500s!") == "checkout-api-500s"
    assert channel_slug("Ünïcode café ☕") == "unicode-cafe"
    assert channel_slug("☕☕") == ""


def test_names_are_valid_and_at_most_64_characters():
    for title in ("x" * 300, "Checkout API returns 500s", "☕", "--a--", "a" * 58 + " b"):
        name = channel_name("inc", 12345, title)
        assert len(name) <= 64 and VALID.match(name), name
        assert name.startswith("inc-12345")


def test_retry_attempts_give_different_names():
    assert channel_name("inc", 3, "db") != channel_name("inc", 3, "db", attempt=1)
