"""Whether two spellings of a person's name may be the same person: pure, no I/O.

A name is cut into words after casefolding, writing Cyrillic (Serbian and Montenegrin) in Latin
letters and leaving suffixes out (Jr, Sr, ml., st., II, III, IV). Each word then has every spelling
people type for it: Đ as Dj, D or Dz; Č, Ć and Albanian Ç as C or Ch; Š as S or Sh; Ž as Z or Zh
(so Dž as Dz or Dzh); Ś and Ź as S/Sj and Z/Zj; Albanian Ë as E; any other accent dropped.

- `MATCH`: the same words in any order, each pair sharing a spelling. "Đorđe Testić" is
  "testic djordje", "Dorde Testic", "Ђорђе Тестић" and "Djordje Testić Jr".
- `CLOSE`: not a match, but perhaps the same person: an initial for a word ("Testić Đ."), a word
  left out or added ("Testić"), or words a letter or two apart once each is reduced to one
  skeleton that forgets how Đ, Č, Š, Ž were typed ("Djordje" and "Dorde", "Tesić" and "Testić").
  A close name needs a person's judgement.
- `NO_MATCH`: anything else.

The comparison is symmetric: `compare(a, b) == compare(b, a)`.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class NameMatch(StrEnum):
    MATCH = "match"
    CLOSE = "close"
    NO_MATCH = "no_match"


_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z",  # noqa: RUF001
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",  # noqa: RUF001
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",  # noqa: RUF001
    "ч": "č", "џ": "dž", "ш": "š",
}  # fmt: skip
# Every spelling of a letter, the usual one first (Montenegrin ś and ź come as s/z + an acute).
_SPELLINGS = {
    "đ": ("dj", "d", "dz"),
    "č": ("c", "ch"),
    "ć": ("c", "ch"),
    "ç": ("c", "ch"),
    "š": ("s", "sh"),
    "ž": ("z", "zh"),
    "ś": ("s", "sj"),
    "ź": ("z", "zj"),
    "ë": ("e",),
    "ß": ("ss",),
}
# How a typed spelling is reduced to the skeleton (longest first): Đ and Dž to D, and so on.
_SKELETON = (("dzh", "d"), ("dj", "d"), ("dz", "d"), ("ch", "c"), ("sh", "s"), ("zh", "z"))
_SUFFIXES = frozenset(
    {"jr", "jnr", "junior", "sr", "snr", "senior", "ml", "mladji", "st", "stariji"}
    | {"ii", "iii", "iv"}
)
_DIGRAPH_INITIALS = frozenset({"lj", "nj"})
MAX_SPELLINGS = 1024  # per word; a real name's word has a few dozen at most


@dataclass(frozen=True)
class Word:
    spellings: frozenset[str]
    skeleton: str
    initial: bool  # a single letter ("Đ.", "Dj.", "Lj.") standing for a word


def _letters(word: str) -> list[tuple[str, ...]]:
    """The spellings of each letter of a (lower-case, Latin) word."""
    letters: list[tuple[str, ...]] = []
    for char in word:
        if char in _SPELLINGS:
            letters.append(_SPELLINGS[char])
            continue
        plain = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        letters.append((plain,))
    return letters


def skeleton(spelling: str) -> str:
    for typed, reduced in _SKELETON:
        spelling = spelling.replace(typed, reduced)
    return spelling


def _word(text: str) -> Word:
    letters = _letters(text)
    spellings = frozenset(
        "".join(parts) for parts in itertools.islice(itertools.product(*letters), MAX_SPELLINGS)
    )
    usual = "".join(options[0] for options in letters)
    reduced = skeleton(usual)
    return Word(spellings, reduced, len(reduced) == 1 or usual in _DIGRAPH_INITIALS)


def words(name: str) -> list[Word]:
    """The words of a name, suffixes left out (unless the name is nothing else)."""
    text = unicodedata.normalize("NFC", name).casefold()
    text = unicodedata.normalize("NFC", "".join(_CYRILLIC.get(c, c) for c in text))
    raw = "".join(c if c.isalnum() or unicodedata.combining(c) else " " for c in text).split()
    found = [_word(w) for w in raw]
    kept = [w for w in found if not (w.spellings & _SUFFIXES)]
    return kept or found


def _allowed_distance(length: int) -> int:
    """Edits two different words may be apart and still be close: none for short words."""
    if length <= 3:
        return 0
    return 1 if length <= 7 else 2


def distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def _same(a: Word, b: Word) -> bool:
    return bool(a.spellings & b.spellings)


def _near(a: Word, b: Word) -> bool:
    if a.initial or b.initial:
        if a.initial and b.initial:
            return a.skeleton == b.skeleton
        short, long = (a, b) if a.initial else (b, a)
        return long.skeleton.startswith(short.skeleton)
    if _same(a, b) or a.skeleton == b.skeleton:
        return True
    limit = _allowed_distance(min(len(a.skeleton), len(b.skeleton)))
    return limit > 0 and distance(a.skeleton, b.skeleton) <= limit


def _paired(
    left: Sequence[Word], right: Sequence[Word], edge: Callable[[Word, Word], bool]
) -> bool:
    """Every word on the left paired with a different word on the right (bipartite matching)."""
    if len(left) > len(right):
        return False
    edges = [[j for j, b in enumerate(right) if edge(a, b)] for a in left]
    partner: dict[int, int] = {}  # right index -> left index

    def place(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in partner or place(partner[j], seen):
                partner[j] = i
                return True
        return False

    return all(place(i, set()) for i in range(len(left)))


def _covered(short: Sequence[Word], long: Sequence[Word]) -> bool:
    """Each word of `short` is near a different word of `long`, and one at least is near in full
    (not merely by an initial): initials alone say too little."""
    in_full = any(_near(a, b) for a in short if not a.initial for b in long if not b.initial)
    return in_full and _paired(short, long, _near)


def compare(a: str, b: str) -> NameMatch:
    """Whether names `a` and `b` are the same person's (see the module's description)."""
    left, right = words(a), words(b)
    if not left or not right:
        return NameMatch.NO_MATCH
    if len(left) == len(right) and _paired(left, right, _same):
        return NameMatch.MATCH
    if _covered(left, right) or _covered(right, left):
        return NameMatch.CLOSE
    return NameMatch.NO_MATCH


def worst(found: Sequence[NameMatch]) -> NameMatch:
    """The strongest of several comparisons: a match over a close one over none."""
    for verdict in (NameMatch.MATCH, NameMatch.CLOSE):
        if verdict in found:
            return verdict
    return NameMatch.NO_MATCH
