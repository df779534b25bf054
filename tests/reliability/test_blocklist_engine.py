"""Blocklist patterns cannot stall the bot: RE2 runs them in linear time, what it can't run is refused when
added with the reason, and a server's list is capped, combined into one program and recompiled on change.

No timing assertions: a hostile pattern is run in a child process under a generous watchdog, and the test
asserts that it finished with the right answer (Python's backtracking `re` never finishes these)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.blocklist import (
    MAX_ENTRIES,
    BlockEntry,
    PatternError,
    check_list,
    check_regex,
    compiled_programs,
    first_match,
)

ROOT = Path(__file__).resolve().parents[2]
WATCHDOG_S = 30  # not a speed limit: RE2 needs about a millisecond, backtracking never ends

CHAINED = r"\d{0,25}" * 8 + "x"
HOSTILE = [
    (CHAINED, "1" * 4999 + "!"),
    (r"(\d+\s?)+$", "1 " * 2499 + "!!"),
    (r"\w{0,25}\w{0,25}\w{0,25}\w{0,25}!", "é" * 4999 + "?"),
]


def run_in_child(pattern: str, prompt: str) -> subprocess.CompletedProcess[str]:
    """Accept `pattern` as an admin would, then check `prompt` against it, in a child process."""
    code = (
        "import sys\n"
        "from bot.blocklist import BlockEntry, check_regex, first_match\n"
        "pattern, prompt = sys.argv[1], sys.stdin.read()\n"
        "try:\n    check_regex(pattern)\nexcept ValueError as e:\n    print('refused', e); raise SystemExit\n"
        "print('match' if first_match(prompt, [BlockEntry(pattern, True)]) else 'clean')\n"
    )
    return subprocess.run([sys.executable, "-c", code, pattern], input=prompt, capture_output=True, text=True,
                          timeout=WATCHDOG_S, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, check=True)  # fmt: skip


@pytest.mark.parametrize(("pattern", "prompt"), HOSTILE, ids=["chained-bounded", "nested-digits", "chained-word"])
def test_hostile_patterns_finish_on_a_5000_character_prompt(pattern, prompt):
    """Chained bounded repeats and nested repetition on a 5000-character prompt of digits or letters finish
    with the right answer (accepted and no match), instead of backtracking for minutes."""
    done = run_in_child(pattern, prompt)
    assert done.stdout.strip() == "clean", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(\w)\1", "Backreferences"),
        (r"(?=x)gore", "Lookarounds"),
        (r"(\d{0,25}){0,25}", "too complex"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_what_re2_cannot_run_is_refused_when_added(pattern, reason):
    """A backreference, a lookaround, a too-complex program or an over-long pattern is refused with the reason."""
    with pytest.raises(PatternError, match=reason):
        check_regex(pattern)


def test_a_servers_list_is_capped_in_count_and_in_combined_size():
    """The 101st entry is refused, and so is a pattern that would make the whole list too complex."""
    words = [BlockEntry(f"word{i}", False) for i in range(MAX_ENTRIES)]
    check_list(words)
    with pytest.raises(PatternError, match="full"):
        check_list([*words, BlockEntry("one more", False)])
    heavy = [BlockEntry(check_regex(r"\w{0,40}\w{0,40}" + f"z{i}"), True) for i in range(40)]
    with pytest.raises(PatternError, match="together would be too complex"):
        check_list(heavy)


def test_the_combined_program_is_cached_per_list_and_rebuilt_when_it_changes():
    """The same list reuses one compiled program; adding or removing an entry compiles a new one that
    matches exactly the new list."""
    before = (BlockEntry("gore", False), BlockEntry(r"n[a@]zi\w*", True))
    assert compiled_programs(before) is compiled_programs(tuple(before))
    assert first_match("a fox", before) is None
    after = (*before, BlockEntry("fox", False))
    assert compiled_programs(after) is not compiled_programs(before)
    assert first_match("a fox", after) == BlockEntry("fox", False)
    assert first_match("so much GORE", after[1:]) is None and first_match("n@zis", after[1:]) == after[1]
