"""``top --match REGEX`` with bounded work.

Python's regular expressions backtrack: ``(a+)+$`` over a command line of 40 ``a`` and a
``b`` takes longer than the universe is old, and any user sets their command line. So the
text matched is cut at MAX_TEXT characters (a name is at most 15, and a command line worth
matching on says what it is long before that), and the matching of one run has a budget of
BUDGET seconds of wall time in all: past it, the run stops with a usage error saying the
expression backtracks (exit 2). The budget is enforced with an interval timer whose signal
CPython's regular-expression engine checks while it matches.
"""

from __future__ import annotations

import re
import signal
import time

MAX_TEXT = 4096
BUDGET = 3.0


class _Expired(Exception):
    pass


def _expire(signum, frame):
    raise _Expired()


class BoundedPattern:
    """A compiled pattern whose ``search`` is bounded (see the module)."""

    def __init__(self, text: str, option: str = "--match"):
        try:
            self.pattern = re.compile(text)
        except (re.error, RecursionError, OverflowError) as exc:
            raise ValueError(f"{text!r} is not a regular expression ({exc})") from None
        except MemoryError:
            raise ValueError(f"{text!r} is too large a regular expression") from None
        self.text = text
        self.option = option
        self.spent = 0.0

    def __str__(self) -> str:
        return self.text

    def search(self, text: str):
        left = BUDGET - self.spent
        if left <= 0:
            raise self._too_slow()
        start = time.monotonic()
        previous = signal.signal(signal.SIGALRM, _expire)
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, left)
                return self.pattern.search(text[:MAX_TEXT])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Expired:  # also when the timer fired just as the search returned
            raise self._too_slow() from None
        finally:
            signal.signal(signal.SIGALRM, previous)
            self.spent += time.monotonic() - start

    def _too_slow(self):
        from memscope.errors import UsageError

        return UsageError(
            f"{self.text!r} took over {BUDGET:.0f} s to match the processes' names and "
            "command lines: it backtracks (a nested repeat such as (a+)+ or (a|aa)* is "
            "exponential); write it without the nested repeat", self.option)
