"""The playbook library reloads edited files, keeps the last good version of a broken one and reports it once."""
from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from bot.problems import Problem
from bot.workflow.library import PlaybookLibrary

GOOD = "name: {name}\ntitle: {title}\nsteps:\n  - post: {{message: 'hello {{{{ incident.key }}}}'}}\n"
BROKEN = "name: {name}\nsteps:\n  - post: {{mesage: hi}}\n"


def write(folder: Path, file: str, text: str) -> Path:
    path = folder / file
    path.write_text(text)
    return path


def good(name: str, title: str = "First") -> str:
    return GOOD.format(name=name, title=title)


class Reports:
    """Collects what the library reports, as the bot's log and admin channel would."""

    def __init__(self):
        self.calls: list[list[Problem]] = []

    def __call__(self, problems: list[Problem]) -> None:
        self.calls.append(list(problems))

    def lines(self) -> list[list[str]]:
        return [[str(p) for p in call] for call in self.calls]


@pytest.fixture
def reports() -> Reports:
    return Reports()


async def library_of(folder: Path, reports: Reports, **options) -> PlaybookLibrary:
    library = PlaybookLibrary(folder, on_problems=reports, **options)
    await library.load()
    return library


async def test_load_holds_the_good_playbooks_in_file_name_order(tmp_path, reports):
    write(tmp_path, "b.yaml", good("beta"))
    write(tmp_path, "a.yml", good("alpha"))
    write(tmp_path, "notes.txt", "not a playbook")
    write(tmp_path, ".hidden.yaml", "name: [broken")
    library = await library_of(tmp_path, reports)
    assert [p.name for p in library.all()] == ["alpha", "beta"]
    assert library.get("beta").title == "First" and library.get("gamma") is None
    assert library.problems == [] and reports.calls == []


async def test_an_edit_reloads_only_that_file(tmp_path, reports):
    write(tmp_path, "a.yaml", good("alpha"))
    b = write(tmp_path, "b.yaml", good("beta"))
    library = await library_of(tmp_path, reports)
    alpha = library.get("alpha")
    write(tmp_path, "b.yaml", good("beta", "Second"))
    changes = await library.check_for_changes()
    assert changes.updated == (str(b),) and not (changes.added or changes.removed or changes.broken)
    assert library.get("beta").title == "Second"
    assert library.get("alpha") is alpha  # not read again
    assert not await library.check_for_changes()  # nothing changed since
    assert reports.calls == []


async def test_a_broken_edit_keeps_the_last_good_version_and_is_reported_once(tmp_path, reports):
    path = write(tmp_path, "a.yaml", good("alpha"))
    library = await library_of(tmp_path, reports)
    write(tmp_path, "a.yaml", BROKEN.format(name="alpha"))
    changes = await library.check_for_changes()
    assert changes.broken == (str(path),)
    assert library.get("alpha").title == "First"  # still running the last good version
    assert len(reports.calls) == 1
    (lines,) = reports.lines()
    assert any(re.fullmatch(rf"{re.escape(str(path))}:3:\d+: steps\[0\]\.post\.mesage: .*did you mean 'message'.*",
                            line) for line in lines), lines
    assert [str(p) for p in library.problems] == lines
    await library.check_for_changes()
    path.write_text(BROKEN.format(name="alpha"))  # saved again, same content
    await library.check_for_changes()
    assert len(reports.calls) == 1


async def test_a_different_broken_state_is_reported_again(tmp_path, reports):
    write(tmp_path, "a.yaml", good("alpha"))
    library = await library_of(tmp_path, reports)
    write(tmp_path, "a.yaml", BROKEN.format(name="alpha"))
    await library.check_for_changes()
    write(tmp_path, "a.yaml", "name: alpha\nstesp: []\n")
    await library.check_for_changes()
    assert len(reports.calls) == 2 and "did you mean 'steps'?" in reports.lines()[1][0]
    assert library.get("alpha").title == "First"


async def test_fixing_a_broken_file_loads_it_and_clears_its_problems(tmp_path, reports):
    path = write(tmp_path, "a.yaml", good("alpha"))
    library = await library_of(tmp_path, reports)
    write(tmp_path, "a.yaml", BROKEN.format(name="alpha"))
    await library.check_for_changes()
    write(tmp_path, "a.yaml", good("alpha", "Fixed"))
    changes = await library.check_for_changes()
    assert changes.fixed == (str(path),) and changes.updated == (str(path),)
    assert library.get("alpha").title == "Fixed" and library.problems == []
    write(tmp_path, "a.yaml", BROKEN.format(name="alpha"))  # broken the same way again: a new broken state
    await library.check_for_changes()
    assert len(reports.calls) == 2


async def test_a_file_broken_from_the_start_is_reported_at_load_and_not_loaded(tmp_path, reports):
    write(tmp_path, "a.yaml", good("alpha"))
    write(tmp_path, "b.yaml", "name: beta\nsteps:\n  - post: {message: hi\n")
    library = await library_of(tmp_path, reports)
    assert [p.name for p in library.all()] == ["alpha"]
    assert len(reports.calls) == 1 and reports.calls[0][0].location.file == str(tmp_path / "b.yaml")
    await library.check_for_changes()
    assert len(reports.calls) == 1


async def test_a_new_file_is_loaded_and_a_deleted_one_removed(tmp_path, reports):
    a = write(tmp_path, "a.yaml", good("alpha"))
    library = await library_of(tmp_path, reports)
    c = write(tmp_path, "c.yaml", good("gamma"))
    changes = await library.check_for_changes()
    assert changes.added == (str(c),) and library.get("gamma") is not None
    a.unlink()
    changes = await library.check_for_changes()
    assert changes.removed == (str(a),)
    assert library.get("alpha") is None and [p.name for p in library.all()] == ["gamma"]


async def test_deleting_a_broken_file_removes_its_last_good_version_and_its_problems(tmp_path, reports):
    a = write(tmp_path, "a.yaml", good("alpha"))
    library = await library_of(tmp_path, reports)
    write(tmp_path, "a.yaml", BROKEN.format(name="alpha"))
    await library.check_for_changes()
    a.unlink()
    await library.check_for_changes()
    assert library.get("alpha") is None and library.problems == []


async def test_duplicate_names_keep_the_first_file_by_name_and_report_the_other(tmp_path, reports):
    write(tmp_path, "b.yaml", good("same", "From b"))
    library = await library_of(tmp_path, reports)
    a = write(tmp_path, "a.yaml", good("same", "From a"))
    await library.check_for_changes()
    assert library.get("same").title == "From a"  # file-name order, as when the bot starts
    (lines,) = reports.lines()
    assert lines == [f"{tmp_path / 'b.yaml'}:1:1: name: playbook name 'same' is already used by a.yaml; "
                     f"this file is skipped"]
    await library.check_for_changes()
    assert len(reports.calls) == 1
    a.unlink()
    await library.check_for_changes()
    assert library.get("same").title == "From b" and library.problems == []


async def test_a_same_size_edit_within_the_same_mtime_is_noticed_by_its_hash(tmp_path, reports):
    path = write(tmp_path, "a.yaml", good("alpha", "AAAA"))
    library = await library_of(tmp_path, reports)
    stat = path.stat()
    path.write_text(good("alpha", "BBBB"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    await library.check_for_changes()
    assert library.get("alpha").title == "BBBB"


async def test_rules_and_commands_are_checked_on_reload(tmp_path, reports):
    write(tmp_path, "a.yaml", good("alpha"))
    library = await library_of(tmp_path, reports, rules=["page"], commands=["kubectl-pods"])
    write(tmp_path, "a.yaml", good("alpha", "Second") + "applies_to: {rules: [paeg]}\n")
    await library.check_for_changes()
    assert "no alert rule is named 'paeg' (did you mean 'page'?)" in reports.lines()[0][0]
    assert library.get("alpha").title == "First"


async def test_an_async_callback_is_awaited_and_a_failing_one_does_not_stop_reloading(tmp_path):
    seen: list[list[Problem]] = []

    async def report(problems: list[Problem]) -> None:
        await asyncio.sleep(0)
        seen.append(problems)
        raise RuntimeError("the admin channel is gone")

    write(tmp_path, "a.yaml", good("alpha"))
    library = PlaybookLibrary(tmp_path, on_problems=report)
    await library.load()
    write(tmp_path, "a.yaml", BROKEN.format(name="alpha"))
    await library.check_for_changes()
    write(tmp_path, "a.yaml", good("alpha", "Fixed"))
    await library.check_for_changes()
    assert len(seen) == 1 and library.get("alpha").title == "Fixed"


async def test_a_vanished_folder_keeps_the_playbooks_and_says_so(tmp_path, reports):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    write(folder, "a.yaml", good("alpha"))
    library = await library_of(folder, reports)
    moved = folder.rename(tmp_path / "elsewhere")
    await library.check_for_changes()
    assert library.get("alpha") is not None
    assert "the playbooks folder does not exist" in reports.lines()[0][0]
    moved.rename(folder)
    await library.check_for_changes()
    assert library.problems == [] and library.get("alpha") is not None


async def test_watch_picks_up_edits_until_cancelled(tmp_path, reports):
    write(tmp_path, "a.yaml", good("alpha"))
    library = await library_of(tmp_path, reports)
    watching = asyncio.create_task(library.watch(interval=0.01))
    try:
        write(tmp_path, "a.yaml", good("alpha", "Watched"))
        for _ in range(500):
            if library.get("alpha").title == "Watched":
                break
            await asyncio.sleep(0.01)
        assert library.get("alpha").title == "Watched"
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    assert watching.cancelled()
