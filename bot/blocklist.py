"""Banned words and regular expressions, checked against a prompt before anything is charged.

Python's `re` backtracks, so a pattern like `(a+)+$` can take exponential time on a crafted prompt,
and there is no timeout to stop it. Instead of a timeout, a pattern is accepted only if its shape keeps
matching fast on a prompt of at most 5000 characters:

- at most 200 characters;
- no repetition inside a repetition (`(a+)+`, `(a*b?){2,}`, `(x{2,5})*`): the classic exponential case;
- no alternation inside a repetition (`(a|aa)+`), which explodes the same way;
- at most one unbounded repetition (`+`, `*`, `{n,}`) in the whole pattern (`.*a.*b` is polynomial,
  but each extra `.*` multiplies the work by the prompt's length), and bounded counts of at most 100;
- no backreferences (`\\1`), which make matching NP-hard in general;
- and, since one open-ended repetition can still cost time proportional to the prompt's length squared
  (`.*x` on 5000 characters without an x), the pattern is timed on a few 5000-character probes built
  from its own characters when it is added, and refused if any takes longer than 25 ms. The message
  suggests a bounded repetition (`.{0,100}`) instead.

Words are matched case-insensitively as whole words (`cat` does not match `concatenate`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

# The parser behind `re.compile` (was the public sre_parse before Python 3.11, the oldest we support).
from re import _parser as sre_parse  # type: ignore[attr-defined]  # private, so not in typeshed
from re._constants import MAXREPEAT  # type: ignore[import-not-found]
from typing import Any

MAX_PATTERN_LENGTH = 200
MAX_WORD_LENGTH = 100
MAX_BOUNDED_REPEAT = 100
MAX_UNBOUNDED = 1
MAX_ENTRIES = 100  # per server, words and patterns together
MAX_REGEX_ENTRIES = 50  # each may cost up to PROBE_BUDGET_S on a hostile prompt
PROMPT_LIMIT = 5000  # the longest prompt /video accepts
PROBE_BUDGET_S = 0.025

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


class PatternError(ValueError):
    """A blocklist entry that cannot be accepted; the message says why, for the admin."""


@dataclass(frozen=True, slots=True)
class BlockEntry:
    pattern: str
    is_regex: bool

    @property
    def label(self) -> str:
        return f"/{self.pattern}/" if self.is_regex else self.pattern


def normalise_word(word: str) -> str:
    """A banned word or phrase, as stored: trimmed, inner whitespace collapsed, lower case."""
    text = " ".join(word.split()).lower()
    if not text:
        raise PatternError("The word is empty.")
    if len(text) > MAX_WORD_LENGTH:
        raise PatternError(f"A word can be at most {MAX_WORD_LENGTH} characters (this one has {len(text)}).")
    return text


def check_regex(pattern: str) -> str:
    """Return `pattern` if it compiles and is safe to run on any prompt; raise PatternError saying why not."""
    if not pattern.strip():
        raise PatternError("The pattern is empty.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"A pattern can be at most {MAX_PATTERN_LENGTH} characters (this one has {len(pattern)}).")
    try:
        re.compile(pattern, re.IGNORECASE)
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as error:
        raise PatternError(f"That is not a valid regular expression: {error}.") from None
    unbounded = _check(parsed, inside_repeat=False)
    if unbounded > MAX_UNBOUNDED:
        raise PatternError(
            f"The pattern has {unbounded} open-ended repetitions (+, * or {{n,}}); at most {MAX_UNBOUNDED} is "
            "allowed, because each one multiplies the time a long prompt takes to check."
        )
    slowest = _slowest_probe(re.compile(pattern, re.IGNORECASE), _literals(parsed))
    if slowest > PROBE_BUDGET_S:
        raise PatternError(
            f"The pattern took {slowest * 1000:.0f} ms on a long test prompt (the limit is "
            f"{PROBE_BUDGET_S * 1000:.0f} ms). Open-ended repetitions such as .* or .+ are slow on long prompts: "
            "use a bounded one like .{0,100}, or start the pattern with plain text."
        )
    return pattern


def _literals(items: Iterable[tuple[Any, Any]]) -> str:
    """The literal characters a parsed pattern mentions, in order (for probe prompts)."""
    found: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            found.append(chr(arg))
        elif name in _REPEATS:
            found.append(_literals(arg[2]))
        elif name == "SUBPATTERN":
            found.append(_literals(arg[-1]))
        elif name == "BRANCH":
            found.extend(_literals(branch) for branch in arg[1])
    return "".join(found)


def probe_prompts(literals: str) -> list[str]:
    """Worst-case-minded prompts of the longest allowed length: the pattern's own text repeated, each of its
    characters repeated, and plain filler."""
    probes = ["a" * PROMPT_LIMIT, "a " * (PROMPT_LIMIT // 2), ("word " * PROMPT_LIMIT)[:PROMPT_LIMIT]]
    if literals:
        probes.append((literals * PROMPT_LIMIT)[:PROMPT_LIMIT])
        if len(literals) > 1:
            probes.append((literals[:-1] * PROMPT_LIMIT)[:PROMPT_LIMIT])
        probes += [char * PROMPT_LIMIT for char in dict.fromkeys(literals)][:8]
    return probes


def _slowest_probe(compiled: re.Pattern[str], literals: str) -> float:
    slowest = 0.0
    for probe in probe_prompts(literals):
        started = time.perf_counter()
        compiled.search(probe)
        slowest = max(slowest, time.perf_counter() - started)
        if slowest > PROBE_BUDGET_S:
            break
    return slowest


def _check(items: Iterable[tuple[Any, Any]], *, inside_repeat: bool) -> int:
    """Walk the parsed pattern; raise PatternError on an unsafe shape; return the count of unbounded repeats."""
    unbounded = 0
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = arg
            if high == MAXREPEAT:
                unbounded += 1
            elif high > MAX_BOUNDED_REPEAT:
                raise PatternError(f"A repetition count can be at most {MAX_BOUNDED_REPEAT} (got {{{low},{high}}}).")
            if inside_repeat:
                raise PatternError(
                    "Nested repetition like (a+)+ or (a?){20} can take forever to check on some prompts; rewrite it "
                    "without a repeated group that itself contains a repetition."
                )
            unbounded += _check(sub, inside_repeat=inside_repeat or high > 1)
        elif name == "BRANCH":
            if inside_repeat:
                raise PatternError(
                    "An alternation inside a repetition, like (a|ab)+, can take forever to check; "
                    "add one entry per alternative instead."
                )
            for branch in arg[1]:
                unbounded += _check(branch, inside_repeat=inside_repeat)
        elif name == "SUBPATTERN":
            unbounded += _check(arg[-1], inside_repeat=inside_repeat)
        elif name in ("ASSERT", "ASSERT_NOT"):
            unbounded += _check(arg[1], inside_repeat=inside_repeat)
        elif name == "GROUPREF" or name == "GROUPREF_EXISTS":
            raise PatternError("Backreferences (like \\1) are not allowed in blocklist patterns.")
        elif name == "ATOMIC_GROUP":
            unbounded += _check(arg, inside_repeat=inside_repeat)
    return unbounded


def compile_entry(entry: BlockEntry) -> re.Pattern[str]:
    if entry.is_regex:
        return re.compile(entry.pattern, re.IGNORECASE)
    words = r"\s+".join(re.escape(part) for part in entry.pattern.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def first_match(prompt: str, entries: list[BlockEntry]) -> BlockEntry | None:
    """The first entry the prompt matches, or None. An entry stored before the rules tightened and no longer
    accepted is skipped rather than run."""
    for entry in entries:
        try:
            if entry.is_regex:
                check_regex(entry.pattern)
            if compile_entry(entry).search(prompt):
                return entry
        except (PatternError, re.error):
            continue
    return None
