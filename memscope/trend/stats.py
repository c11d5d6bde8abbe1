"""Streaming statistics of one series in one segment, in constant memory.

Points arrive in time order. Kept: the count, the means and co-moments of (t, y) updated
as Welford does (numerically stable where the sums of squares are not: bytes near 2^40
square past a double's 53 bits), first/last/min/max, the movement up and down (for the
monotonicity score), and a fixed number of buckets for the sparkline.

- slope: least squares, bytes per second (``rate_per_hour`` multiplies by 3600);
- r2: the share of the variance the line explains (1.0 for a straight line; None when the
  series does not move at all, where it says nothing);
- stderr: the standard error of the slope, sqrt(SSE / (n - 2) / Stt);
- monotonicity: net movement over total movement, from -1 (only falls) through 0 (as much
  up as down) to 1 (only rises); flat steps count for nothing, so a staircase sampled
  between its steps still scores 1.
"""

from __future__ import annotations

import math
from typing import List, Optional

SPARK_WIDTH = 24


class Accumulator:
    __slots__ = ("n", "mt", "my", "ctt", "cty", "cyy", "first", "last", "t_first", "t_last",
                 "lo", "hi", "up", "down", "t0", "span", "bsum", "bcount")

    def __init__(self, t0: float, t1: float):
        self.n = 0
        self.mt = self.my = self.ctt = self.cty = self.cyy = 0.0
        self.first = self.last = self.lo = self.hi = 0.0
        self.t_first = self.t_last = 0.0
        self.up = self.down = 0.0
        self.t0 = t0  # the segment's start and length: the sparkline's axis
        self.span = max(t1 - t0, 0.0)
        self.bsum: List[float] = [0.0] * SPARK_WIDTH
        self.bcount: List[int] = [0] * SPARK_WIDTH

    def add(self, t: float, y: float) -> None:
        if self.n:
            step = y - self.last
            if step > 0:
                self.up += step
            else:
                self.down -= step
            self.lo = min(self.lo, y)
            self.hi = max(self.hi, y)
        else:
            self.first = self.lo = self.hi = y
            self.t_first = t
        self.last = y
        self.t_last = t
        self.n += 1
        x = t - self.t0
        dx = x - self.mt
        self.mt += dx / self.n
        dy = y - self.my
        self.my += dy / self.n
        self.ctt += dx * (x - self.mt)
        self.cty += dx * (y - self.my)
        self.cyy += dy * (y - self.my)
        b = int((t - self.t0) / self.span * SPARK_WIDTH) if self.span > 0 else 0
        b = min(max(b, 0), SPARK_WIDTH - 1)
        self.bsum[b] += y
        self.bcount[b] += 1

    def slope(self) -> Optional[float]:
        """Bytes per second; None with fewer than two distinct times."""
        if self.n < 2 or self.ctt <= 0:
            return None
        return self.cty / self.ctt

    def r2(self) -> Optional[float]:
        if self.n < 3 or self.ctt <= 0 or self.cyy <= 0:
            return None
        return max(0.0, min(1.0, self.cty * self.cty / (self.ctt * self.cyy)))

    def stderr(self) -> Optional[float]:
        """Standard error of the slope (bytes per second); None with fewer than 3 points."""
        slope = self.slope()
        if slope is None or self.n < 3:
            return None
        sse = max(self.cyy - slope * self.cty, 0.0)
        return math.sqrt(sse / (self.n - 2) / self.ctt)

    def monotonicity(self) -> Optional[float]:
        moved = self.up + self.down
        if self.n < 2:
            return None
        return 0.0 if moved == 0 else (self.up - self.down) / moved

    def history(self) -> List[Optional[int]]:
        """The sparkline's values: the mean of each bucket of the segment, None where a
        bucket holds no point."""
        return [round(s / c) if c else None for s, c in zip(self.bsum, self.bcount)]
