"""Blocklist matching cost: RE2 (what the bot runs) against Python's backtracking `re` on hostile input.

`python bench/bench_blocklist.py` prints, for adversarial patterns on a 5000-character prompt built to
hurt each one, the worst RE2 search time over several prompts, and Python `re` on the same input (run in
a subprocess killed after a timeout, so a catastrophic pattern costs at most that); then the per-prompt
cost of a server with 100 patterns (the bot's combined, cached program) on hostile and ordinary prompts.
Figures vary with machine load; the ratios are what matter. Asserts nothing.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import re2  # type: ignore[import-untyped]

from bot.blocklist import (
    MAX_ENTRIES,
    OPTIONS,
    PROMPT_LIMIT,
    BlockEntry,
    PatternError,
    check_list,
    check_regex,
    compiled_programs,
    first_match,
)

RE_TIMEOUT_S = 10.0
ADVERSARIAL = [
    (r"\d{0,25}" * 8 + "x", "1"),
    (r"(a|aa)*b", "a"),
    (r"(\d+\s?)+$", "1 "),
    (r"(a+)+$", "a"),
    (r".*a.*b.*c.*d", "a"),
    (r"\w{0,25}\w{0,25}\w{0,25}\w{0,25}!", "é"),
    (r".{0,100}x", "é"),
]


def prompts(fill: str, count: int = 8) -> list[str]:
    """Prompts of PROMPT_LIMIT characters: the pattern's bait repeated, then with noise, ending in '!'."""
    rng = random.Random(7)
    base = (fill * PROMPT_LIMIT)[: PROMPT_LIMIT - 1] + "!"
    out = [base]
    for _ in range(count - 1):
        chars = list(base)
        for _ in range(50):
            chars[rng.randrange(len(chars) - 1)] = rng.choice("0123456789 abé")
        out.append("".join(chars))
    return out


def worst_re2(pattern: str, texts: list[str]) -> float:
    compiled = re2.compile(pattern, OPTIONS)
    worst = 0.0
    for text in texts:
        started = time.perf_counter()
        compiled.search(text.encode())
        worst = max(worst, time.perf_counter() - started)
    return worst


def python_re(pattern: str, text: str) -> str:
    """Python `re` on one prompt, in a subprocess with a timeout (a catastrophic pattern never returns)."""
    code = (
        "import re,sys,time\n"
        "p,t=sys.argv[1],sys.stdin.read()\n"
        "c=re.compile(p,re.IGNORECASE); s=time.perf_counter(); c.search(t); print(time.perf_counter()-s)\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code, pattern], input=text, capture_output=True, text=True,
                              timeout=RE_TIMEOUT_S, check=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"> {RE_TIMEOUT_S:.0f} s (killed)"
    return f"{float(done.stdout) * 1000:9.3f} ms"


def server_of_100() -> list[BlockEntry]:
    """100 entries the bot accepts: hostile patterns added while the list's size cap allows, then words."""
    entries: list[BlockEntry] = []
    shapes = [r"\d{0,25}" * 4 + "xN", "(a|aa)*bN", r"(\d+\s?)+N$", ".{0,100}zN", "wN.*q.*r"]
    for i in range(60):
        candidate = BlockEntry(check_regex(shapes[i % len(shapes)].replace("N", str(i))), True)
        try:
            check_list([*entries, candidate])
        except PatternError:
            continue
        entries.append(candidate)
    for i in range(MAX_ENTRIES - len(entries)):
        try:
            check_list([*entries, BlockEntry(f"word{i} phrase", False)])
        except PatternError:
            break
        entries.append(BlockEntry(f"word{i} phrase", False))
    return entries


def main() -> None:
    print(f"worst case on a {PROMPT_LIMIT}-character prompt (8 hostile prompts each; re: first prompt only)")
    print(f"{'pattern':75} {'RE2 worst':>12} {'Python re':>18}")
    for pattern, fill in ADVERSARIAL:
        texts = prompts(fill)
        print(f"{pattern:75} {worst_re2(pattern, texts) * 1000:9.3f} ms {python_re(pattern, texts[0]):>18}")
    typical = [BlockEntry(check_regex(rf"n[a@]z[i1]{i}\w*"), True) for i in range(30)]
    typical += [BlockEntry(f"banned{i} phrase", False) for i in range(70)]
    report("typical list (30 short patterns, 70 words)", typical)
    report("hostile list, as large as the caps allow", server_of_100())


def report(title: str, entries: list[BlockEntry]) -> None:
    started = time.perf_counter()
    programs = compiled_programs(tuple(entries))
    compile_ms = (time.perf_counter() - started) * 1000
    hostile = [t for _, fill in ADVERSARIAL for t in prompts(fill, 4)]
    rng = random.Random(1)
    ordinary = ["".join(rng.choice("abcdefghij klmnop 0123") for _ in range(PROMPT_LIMIT)) for _ in range(20)]
    for name, texts in (("hostile", hostile), ("ordinary", ordinary)):
        times = []
        for text in texts:
            started = time.perf_counter()
            first_match(text, entries)
            times.append(time.perf_counter() - started)
        times.sort()
        print(f"{title}: {name} prompts ({len(texts)}): median {times[len(times) // 2] * 1e6:.0f} us, "
              f"p90 {times[len(times) * 9 // 10] * 1e6:.0f} us, worst {times[-1] * 1e6:.0f} us per prompt")  # fmt: skip
    regexes = sum(entry.is_regex for entry in entries)
    size = sum(p.programsize for p in programs)
    print(f"  {regexes} patterns + {len(entries) - regexes} words: {size} instructions in {len(programs)} programs, "
          f"compiled once in {compile_ms:.1f} ms (cached)")  # fmt: skip


if __name__ == "__main__":
    main()
