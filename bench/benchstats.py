"""Statistics the bench scripts share (stdlib only, so both the system python3 and the TVM
venv can import it): ranks with ties averaged, Spearman's rho, when a best-so-far curve
first reaches a level, a bootstrap interval for a ratio of medians, and how often two runs
of the same method agree within a tolerance."""

from __future__ import annotations

import math
import random
import statistics


def ranks(values) -> list[float]:
    """0-based ranks of `values`; tied values share the mean of their ranks."""
    v = [float(x) for x in values]
    order = sorted(range(len(v)), key=lambda i: v[i])
    out = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2
        i = j + 1
    return out


def pearson(a, b) -> float:
    """Pearson's r; NaN for fewer than two points or a constant side."""
    a, b = [float(x) for x in a], [float(y) for y in b]
    n = len(a)
    if n < 2 or n != len(b):
        return float("nan")
    ma, mb = sum(a) / n, sum(b) / n
    sa = math.sqrt(sum((x - ma) ** 2 for x in a))
    sb = math.sqrt(sum((y - mb) ** 2 for y in b))
    if sa == 0 or sb == 0:
        return float("nan")
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (sa * sb)


def spearman(a, b) -> float:
    """Spearman's rho (Pearson's r of the tie-averaged ranks); NaN where undefined."""
    return pearson(ranks(a), ranks(b))


def first_at(curve, level: float) -> float | None:
    """Seconds into a run at which its best so far (curve: [seconds, best seconds] pairs)
    first reached `level` (1e-9 relative slack); None: never."""
    return next((t for t, best in curve if best <= level * (1 + 1e-9)), None)


def median_ratio_interval(xs, ys, level: float = 0.9, draws: int = 4000,
                          seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval (`level`, e.g. 0.9) of median(xs) / median(ys), each
    side resampled with replacement on its own (independent runs, e.g. seeds); seeded, so
    the same inputs give the same interval. Needs at least two values a side."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    if len(xs) < 2 or len(ys) < 2:
        raise ValueError("median_ratio_interval: need at least two values a side")
    rng = random.Random(seed)
    ratios = sorted(statistics.median(rng.choices(xs, k=len(xs))) /
                    statistics.median(rng.choices(ys, k=len(ys))) for _ in range(draws))
    lo = ratios[int((1 - level) / 2 * (draws - 1))]
    hi = ratios[int((1 + level) / 2 * (draws - 1))]
    return lo, hi


def pairwise_within(values, tolerance: float = 0.05) -> float:
    """Share of ordered pairs (i, j), i != j, with values[i] <= (1 + tolerance) values[j]:
    how often one run of a method ends within `tolerance` of (or faster than) another run of
    the same method, the most that "within 5 % run by run" can expect of an equal method."""
    v = [float(x) for x in values]
    pairs = [(a, b) for i, a in enumerate(v) for j, b in enumerate(v) if i != j]
    if not pairs:
        return float("nan")
    return sum(1 for a, b in pairs if a <= (1 + tolerance) * b) / len(pairs)


if __name__ == "__main__":   # self-check: python3 bench/benchstats.py
    assert ranks([3, 1, 2, 1]) == [3.0, 0.5, 2.0, 0.5]
    assert abs(spearman([1, 2, 3, 4], [10, 20, 30, 40]) - 1.0) < 1e-12
    assert abs(spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1.0) < 1e-12
    assert abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert first_at([[1.0, 5.0], [2.0, 3.0], [3.0, 2.0]], 3.0) == 2.0
    assert first_at([[1.0, 5.0]], 3.0) is None
    lo, hi = median_ratio_interval([1.0, 1.1, 0.9, 1.0], [2.0, 2.2, 1.8, 2.0])
    assert 0.4 <= lo <= 0.5 <= hi <= 0.62, (lo, hi)
    same = [1, 2, 3]
    assert median_ratio_interval(same, same) == median_ratio_interval(same, same)   # seeded
    assert pairwise_within([1.0, 1.0]) == 1.0
    assert pairwise_within([1.0, 2.0]) == 0.5          # 1 <= 1.05 x 2, 2 > 1.05 x 1
    assert pairwise_within([1.0, 1.04, 1.2]) == 4 / 6
    print("benchstats: ok")
