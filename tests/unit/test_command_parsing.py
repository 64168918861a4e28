import pytest

from bot.chat.parsing import BadArguments, CommandText, command_text, start_arguments
from bot.incidents.model import Severity


@pytest.mark.parametrize("message,direct,expected", [
    ("@incident-bot start DB down sev1", False, CommandText("start", "DB down sev1")),
    ("@Incident-Bot ACK", False, CommandText("ack", "")),
    ("@incident-bot: help", False, CommandText("help", "")),
    ("  @incident-bot   update  all good  ", False, CommandText("update", "all good")),
    ("@incident-bot", False, CommandText("", "")),
    ("timeline", True, CommandText("timeline", "")),
    ("hello there", False, None),
    ("@incident-botty start x", False, None),
    ("ping @incident-bot start", False, None),
    ("@incident-bot update\nline two", False, CommandText("update", "line two")),
])
def test_command_text(message, direct, expected):
    assert command_text(message, "incident-bot", direct) == expected


@pytest.mark.parametrize("args,title,severity", [
    ("Checkout down sev1", "Checkout down", Severity.SEV1),
    ("SEV2 Checkout down", "Checkout down", Severity.SEV2),
    ("Checkout down", "Checkout down", Severity.SEV3),
    ("Disk 2 full", "Disk 2 full", Severity.SEV3),
])
def test_start_arguments(args, title, severity):
    assert start_arguments(args, Severity.SEV3) == (title, severity)


def test_start_needs_a_title():
    with pytest.raises(BadArguments, match="title"):
        start_arguments("sev1", Severity.SEV3)


def test_start_title_length_is_bounded():
    with pytest.raises(BadArguments, match="200"):
        start_arguments("x" * 500, Severity.SEV3)
