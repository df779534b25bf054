"""Banned words and regular expressions, checked against a prompt before anything is charged.

Patterns run on RE2 (google-re2), whose matching time is linear in the prompt's length whatever the
pattern: no backtracking, so `(a+)+$`, `(a|aa)*b` or chained `\\d{0,25}` cannot stall the bot. What RE2
cannot run in linear time it does not accept at all (backreferences, lookarounds), and such a pattern is
refused with RE2's reason when it is added. A pattern is validated once, when added:

- at most 200 characters and at most `MAX_PROGRAM_SIZE` RE2 instructions (linear time is
  time x instructions, so a compact program keeps the constant small: `x{1000}` or `(\\w{0,100}){10}`
  are refused as too complex);
- at most `MAX_ENTRIES` entries per server (words and patterns together), whose combined program is at
  most `MAX_LIST_PROGRAM_SIZE` instructions.

RE2's worst case is proportional to prompt length x program size, so these caps bound the cost of one
check whatever the admin adds and the member types; `policy.admit` still runs it in a worker thread, as
a hostile list can cost tens of milliseconds (ordinary lists: tens of microseconds).

A server's entries are combined into a few RE2 programs (all words in one, patterns packed into programs
of bounded size), compiled once and cached by the entries' content, so a changed list compiles anew. A
search of each answers "does anything match"; only a refused prompt is searched entry by entry to name it.
Figures: bench/bench_blocklist.py.

Words are matched case-insensitively as whole words (`cat` does not match `concatenate`): the word
must not touch a letter, digit or underscore of any script.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]

MAX_PATTERN_LENGTH = 200
MAX_WORD_LENGTH = 100
MAX_PROGRAM_SIZE = 1000
MAX_LIST_PROGRAM_SIZE = 10000  # a server's whole list, combined
MAX_ENTRIES = 100  # per server, words and patterns together
MAX_REGEX_ENTRIES = MAX_ENTRIES
PROMPT_LIMIT = 5000  # the longest prompt /video accepts

_WORDCHAR = r"\p{L}\p{N}\p{M}_"
_SPACE = r"[\s\x{a0}\x{3000}]+"  # ASCII whitespace, no-break and ideographic spaces


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.never_capture = True  # only "is there a match" is asked: no submatch bookkeeping
    options.log_errors = False  # a refused pattern is an answer to the admin, not a line on stderr
    options.max_mem = 32 << 20  # room for the DFA of a full server list (RE2 falls back to its NFA beyond)
    return options


OPTIONS = _options()


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


def _reason(error: re2.error) -> str:
    raw = error.args[0] if error.args else error
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def check_regex(pattern: str) -> str:
    """Return `pattern` if RE2 compiles it within the size limit; raise PatternError saying why not."""
    if not pattern.strip():
        raise PatternError("The pattern is empty.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"A pattern can be at most {MAX_PATTERN_LENGTH} characters (this one has {len(pattern)}).")
    try:
        compiled = re2.compile(pattern, OPTIONS)
    except re2.error as error:
        reason = _reason(error)
        hint = ""
        if "escape sequence: \\" in reason and any(ch.isdigit() for ch in reason[-2:]):
            hint = " Backreferences (like \\1) are not supported."
        elif "perl operator: (?<" in reason or "perl operator: (?=" in reason or "perl operator: (?!" in reason:
            hint = " Lookarounds ((?=…), (?!…), (?<=…), (?<!…)) are not supported."
        raise PatternError(f"That is not a valid regular expression for RE2: {reason}.{hint}") from None
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"The pattern is too complex ({compiled.programsize} steps, the limit is {MAX_PROGRAM_SIZE}): large "
            "repetition counts such as {0,100} on a class multiply its size. Use smaller counts or split it."
        )
    return pattern


def _word_source(word: str) -> str:
    return _SPACE.join(re2.escape(part) for part in word.split())


def entry_source(entry: BlockEntry) -> str:
    """The RE2 source of one entry on its own."""
    if entry.is_regex:
        return entry.pattern
    return f"(?:^|[^{_WORDCHAR}])(?:{_word_source(entry.pattern)})(?:$|[^{_WORDCHAR}])"


@functools.lru_cache(maxsize=1024)
def _compile_one(entry: BlockEntry) -> Any:
    """The entry compiled, or None if it can no longer be accepted (stored before the rules changed)."""
    try:
        if entry.is_regex:
            check_regex(entry.pattern)
        return re2.compile(entry_source(entry), OPTIONS)
    except (PatternError, re2.error):
        return None


@functools.lru_cache(maxsize=256)
def compiled_programs(entries: tuple[BlockEntry, ...]) -> tuple[Any, ...]:
    """A list's RE2 programs, cached by content (a changed list is compiled anew): all words in one, and
    the patterns packed into programs of at most `MAX_PROGRAM_SIZE` instructions each. One huge
    alternation would be smaller but its DFA can blow up on the product of its branches' states; packing
    keeps each search as cheap as its own patterns."""
    usable = [entry for entry in entries if _compile_one(entry) is not None]
    words = [_word_source(entry.pattern) for entry in usable if not entry.is_regex]
    programs = []
    if words:
        programs.append(re2.compile(f"(?:^|[^{_WORDCHAR}])(?:{'|'.join(words)})(?:$|[^{_WORDCHAR}])", OPTIONS))
    group: list[str] = []
    size = 0
    for entry in usable:
        if not entry.is_regex:
            continue
        own = _compile_one(entry).programsize
        if group and size + own > MAX_PROGRAM_SIZE:
            programs.append(re2.compile("|".join(group), OPTIONS))
            group, size = [], 0
        group.append(f"(?:{entry.pattern})")
        size += own
    if group:
        programs.append(re2.compile("|".join(group), OPTIONS))
    return tuple(programs)


def list_size(entries: tuple[BlockEntry, ...]) -> int:
    """The RE2 instructions a list compiles to, in all."""
    return sum(program.programsize for program in compiled_programs(entries))


def check_list(entries: list[BlockEntry] | tuple[BlockEntry, ...]) -> None:
    """Raise PatternError if a server's list (with a new entry) is too large or too complex as a whole."""
    if len(entries) > MAX_ENTRIES:
        raise PatternError(f"The blocklist is full ({MAX_ENTRIES} entries). Remove one first.")
    size = list_size(tuple(entries))
    if size > MAX_LIST_PROGRAM_SIZE:
        raise PatternError(
            f"The blocklist's entries together would be too complex ({size} steps, the limit is "
            f"{MAX_LIST_PROGRAM_SIZE}). Remove or simplify a pattern first."
        )


def first_match(prompt: str, entries: list[BlockEntry] | tuple[BlockEntry, ...]) -> BlockEntry | None:
    """The first entry the prompt matches, or None. An entry stored before the rules tightened and no longer
    accepted is skipped rather than run."""
    # RE2 takes UTF-8; a lone surrogate (text arriving from Discord is normalised, but be total) is replaced.
    text = prompt.encode("utf-8", "replace")
    if not any(program.search(text) is not None for program in compiled_programs(tuple(entries))):
        return None
    for entry in entries:
        single = _compile_one(entry)
        if single is not None and single.search(text) is not None:
            return entry
    return None
