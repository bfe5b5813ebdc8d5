"""Contextual (sequence-memory) anomaly scores for one series, strictly causal.

An independent implementation of the method of CAD OSE, the Contextual Anomaly Detector of
M. Smirnov (Open Source Edition, 2016; published NAB v1.1 scores 69.9 / 67.0 / 73.2), written
from its description; none of its (AGPL) code is used. The idea:

- every value is quantised to one of 8 levels, encoded as 3 binary *facts* (bit k is 0 or 1);
- a *context* is a pair (left facts, right facts): "after the facts on the left, the facts on
  the right came next". The left facts of a step are the current facts plus the ids of the
  contexts that just fired (up to `max_active` of them), so contexts chain into sequences of any
  length. Each step stores the new (previous left, current facts) pair, and generalises by
  storing the overlaps of partly matching contexts (left side at most `max_left` facts);
- each context counts how often it was applicable, matched and fired; the contexts with the
  best record among those whose left facts all hold predict the next facts;
- the raw anomaly of a step is (1 - share of applicable contexts that fired + share of new
  contexts among the candidates) / 2, and 0 when the value was fully predicted;
- after a raw score >= `base` (0.75), the next `rest` steps score 0 (one alarm per event).

Causality: CAD OSE quantises on the whole file's range, which is look-ahead. Here the range is
learnt from the first `head` rows (150, within NAB's probation of every file) and grows only
by doublings (`causal_range`). This costs accuracy: on NAB the same memory scores 69.9 with the
whole-file range and 55.3 with this causal one (docs/bench/trends.md).

Pure Python over dictionaries and sets: a few thousand points per second (see
docs/bench/trends.md); the vectorised window statistics in `detector.py` are ~1,000x faster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain
from typing import Any

import numpy as np

SENSOR = 65_536  # fact ids of the value bits: SENSOR + 2 * bit + value
NEURON = 2 ** 31  # fact ids of fired contexts: NEURON + context id


class _Semi:
    """One side of a context: a sorted tuple of facts and the contexts it starts."""

    __slots__ = ("key", "keyset", "size", "ctx")

    def __init__(self, key: tuple[int, ...]) -> None:
        self.key = key
        self.keyset = frozenset(key)
        self.size = len(key)
        self.ctx: dict[_Semi, int] = {}


class _Context:
    __slots__ = ("tries", "hits", "fired", "right", "zero", "order")

    def __init__(self, right: tuple[int, ...], zero: bool, order: tuple[int, int]) -> None:
        self.tries = 0  # facts expected on the right, summed over the steps it applied
        self.hits = 0  # of which came true
        self.fired = 0  # steps on which all its facts came true
        self.right = right
        self.zero = zero  # stored from an observed step (not a generalisation)
        self.order = order  # deterministic tie-break among fired contexts


class _Memory:
    """The context store and the matching of facts against it."""

    def __init__(self, max_left: int) -> None:
        self.max_left = max_left
        self.by_fact: tuple[dict, dict] = ({}, {})
        self.semis: tuple[dict, dict] = ({}, {})
        self.anchors: dict[int, list[_Semi]] = {}  # left semi-contexts by their largest fact
        self.right_hits: Counter = Counter()
        self.right_facts: tuple[int, ...] = ()
        self.contexts: list[_Context] = []
        self.new_id: int | None = None
        self.full_prev: list[_Semi] = []
        self.left_prev: tuple[int, ...] = ()

    def add(self, pairs, zero: bool = False):
        """Store (left, right) pairs. For one observed pair (`zero`): True when it is new.
        Otherwise: the number of pairs that were new."""
        added = 0
        for left, right in pairs:
            ls = self._semi(0, left)
            rs = self._semi(1, right)
            cid = ls.ctx.get(rs)
            if cid is None:
                cid = ls.ctx[rs] = len(self.contexts)
                self.contexts.append(_Context(right, zero, (hash(left), hash(right))))
                added += 1
                if zero:
                    self.new_id = cid
                    return True
            elif zero:
                self.contexts[cid].zero = True
                return False
        return added

    def _semi(self, side: int, key: tuple[int, ...]) -> _Semi:
        semi = self.semis[side].get(key)
        if semi is None:
            semi = self.semis[side][key] = _Semi(key)
            for fact in key:
                self.by_fact[side].setdefault(fact, []).append(semi)
            if side == 0:
                self.anchors.setdefault(key[-1], []).append(semi)
        return semi

    def hits(self, side: int, facts: tuple[int, ...]) -> Counter:
        """Semi-contexts sharing a fact with `facts`, with the number shared (counted in C)."""
        get = self.by_fact[side].get
        return Counter(chain.from_iterable([get(f, ()) for f in facts]))

    def cross_right(self, facts: tuple[int, ...]) -> None:
        self.right_hits = self.hits(1, facts)
        self.right_facts = facts

    def update(self, new_flag: bool):
        """Score the contexts that applied to the previous step against the current facts.
        Returns (fired contexts, number applicable, candidate new contexts)."""
        fired, applicable, candidates = [], 0, []
        if new_flag:  # partial matches only matter when a new observed context was stored
            pairs: Iterable[tuple[Any, int]] = self.hits(0, self.left_prev).items()
        else:
            pairs = [(ls, ls.size) for ls in self.full_prev]
        right_hits, contexts = self.right_hits, self.contexts
        for ls, lh in pairs:
            full = ls.size == lh
            for rs, cid in ls.ctx.items():
                if cid == self.new_id:
                    continue
                c = contexts[cid]
                rh = right_hits.get(rs, 0)
                if full:
                    applicable += 1
                    c.tries += rs.size
                    if rh > 0:
                        c.hits += rh
                        if rh == rs.size:
                            c.fired += 1
                            fired.append((c.fired, c.order[0], c.order[1], cid))
                        elif c.zero and new_flag and lh <= self.max_left:
                            candidates.append(self._overlap(ls, rs))
                elif c.zero and rh > 0 and lh <= self.max_left:
                    candidates.append(self._overlap(ls, rs))
        self.new_id = None
        return fired, applicable, candidates

    def _overlap(self, ls: _Semi, rs: _Semi) -> tuple[tuple[int, ...], tuple[int, ...]]:
        left = tuple(f for f in self.left_prev if f in ls.keyset)
        right = tuple(f for f in self.right_facts if f in rs.keyset)
        return left, right

    def predict(self, left: tuple[int, ...], candidates) -> tuple[int, set[int]]:
        """Store the candidates; predict the next facts from the contexts whose left facts
        all hold, keeping those with the best hit rate. Returns (new stored, predicted facts)."""
        n_new = self.add(candidates) if candidates else 0
        have = frozenset(left)
        full = [ls for f in left for ls in self.anchors.get(f, ()) if ls.keyset <= have]
        self.full_prev, self.left_prev = full, left
        best, chosen = 0.0, []
        for ls in full:
            for cid in ls.ctx.values():
                c = self.contexts[cid]
                rate = c.hits / c.tries if c.tries > 0 else 0.0
                if rate > best:
                    best, chosen = rate, [c]
                elif rate == best:
                    chosen.append(c)
        predicted: set[int] = set()
        for c in chosen:
            predicted.update(c.right)
        return n_new, predicted


class ContextDetector:
    """Streaming: `step(level)` per row, level an int in [0, 2**bits - 1]."""

    def __init__(self, bits: int = 3, max_active: int = 15, max_left: int = 7) -> None:
        self.bits = bits
        self.memory = _Memory(max_left)
        self.max_active = max_active
        self.left: tuple[int, ...] = ()
        self.predicted: set[int] = set()

    def step(self, level: int) -> float:
        sens = tuple(SENSOR + 2 * k + ((level >> k) & 1) for k in range(self.bits))
        error = any(f not in self.predicted for f in sens)
        unique = set()
        new_flag = False
        if self.left:
            pair = (self.left, sens)
            unique.add(pair)
            new_flag = self.memory.add([pair], zero=True)
        self.memory.cross_right(sens)
        fired, applicable, candidates = self.memory.update(new_flag)
        unique.update(candidates)
        share_fired = len(fired) / applicable if applicable else 0.0
        fired.sort()
        neurons = {NEURON + f[3] for f in fired[-self.max_active:]}
        self.left = tuple(sorted(set(sens) | neurons))
        n_new, self.predicted = self.memory.predict(self.left, candidates)
        n_new += 1 if new_flag else 0
        share_new = n_new / len(unique) if new_flag and unique else 0.0
        return (1.0 - share_fired + share_new) / 2.0 if error else 0.0


def causal_range(x: np.ndarray, head: int = 150, growth: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the quantisation range of each row, from the rows up to it.

    Up to row `head`: the minimum and maximum so far. Afterwards the range of the first `head`
    rows, widened upwards (downwards) by (growth**k - 1) times its span, k the smallest integer
    that covers the highest (lowest) value seen so far: the levels change only when a value
    goes beyond `growth` times the known range (a handful of times per series, not at every new
    extreme; a range that kept widening made the memory relearn constantly: NAB 45.9)."""
    lo = np.minimum.accumulate(x)
    hi = np.maximum.accumulate(x)
    if x.size > head:
        k = head - 1
        l0, h0 = lo[k], hi[k]
        span = max(h0 - l0, 1e-12 * (abs(h0) + 1.0))
        up = np.maximum(hi[head:] - h0, 0.0) / span
        down = np.maximum(l0 - lo[head:], 0.0) / span
        log_g = np.log(growth)
        hi[head:] = h0 + span * (growth ** np.ceil(np.log1p(up) / log_g) - 1.0)
        lo[head:] = l0 - span * (growth ** np.ceil(np.log1p(down) / log_g) - 1.0)
    return lo, hi


def quantise(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: int = 3) -> np.ndarray:
    top = 2 ** bits - 1
    span = hi - lo
    step = np.where(span > 0, span / top, 1.0)
    return np.clip(np.floor((x - lo) / step), 0, top).astype(np.int64)


def context_scores(x: np.ndarray, rest: int = 120, base: float = 0.75, bits: int = 3,
                   head: int = 150) -> np.ndarray:
    """Contextual anomaly of each row of a finite series: the raw score, silenced for `rest`
    rows after a raw score >= `base` (and during the first `rest` rows). A row where the
    quantisation range grows (after `head` rows) is a new extreme: it scores at least just above
    `base` and starts a rest period, while the memory relearns the moved levels."""
    lo, hi = causal_range(x, head)
    moved = np.zeros(x.size, dtype=bool)
    moved[1:] = (np.diff(lo) != 0) | (np.diff(hi) != 0)
    moved[:head] = False
    detector = ContextDetector(bits)
    out = np.zeros(x.size)
    last_high = 0  # the rest period starts "after" a virtual alarm at row -1
    for i, (level, jump) in enumerate(zip(quantise(x, lo, hi, bits).tolist(), moved.tolist(), strict=True)):
        raw = detector.step(int(level))
        if i - last_high >= rest:
            out[i] = max(raw, base + 0.01) if jump else raw
        if jump or raw >= base:
            last_high = i + 1
    return out
