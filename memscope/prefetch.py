"""``memscope top`` on the live host: read and parse /proc in forked children while the
parent imports click.

``top`` reads four files of every process, and the kernel's part of that (the page-table
walk behind smaps_rollup) is most of its cost; memscope's own imports are most of the rest.
So memscope.main, for a live ``top`` with default reading options, calls start() before
importing click: two children each read and parse half of the processes with the same code
the parent would run (collect_procs.read_process), write the results into shared anonymous
mappings, and exit; scan() in the parent takes them and reads itself only the processes the
children did not get to (new ones, or an unusual result). Children rather than threads: a
reader thread needs the GIL between its system calls and while parsing, and the imports
hold it. Nothing touches the filesystem.

The children never outlive the command and never hold its output: each points stdin, stdout
and stderr at /dev/null and takes the default action for SIGINT/SIGTERM/SIGHUP as soon as it
starts (so ``x=$(memscope top --sort bogus)`` returns as soon as the parent exits), and
memscope.main calls stop() on every way out (a usage error, an error, --count, a signal),
which kills and reaps any child still running.
"""

import os

ACTIVE = None
UNREAPED: list = []  # children forked and not yet waited for


def stop() -> None:
    """Kill and reap every child still running (an early exit: nothing will collect)."""
    import _signal as signal

    while UNREAPED:
        child = UNREAPED.pop()
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(child, 0)
        except OSError:
            pass


def start(task, items, children: int = 2) -> None:
    """Run ``task(item)`` for every item in forked children; results via take()."""
    global ACTIVE
    try:
        ACTIVE = Prefetch(task, items, children)
    except (OSError, ValueError):
        ACTIVE = None  # no mapping (strict overcommit) or no fork: the parent reads all


class Prefetch:
    # Per child; address space only, untouched pages cost nothing. ~1 KiB a process: past
    # ~30,000 processes the parent reads the rest itself.
    CAPACITY = 32 << 20

    def __init__(self, task, items, children: int):
        import marshal
        import mmap

        self.results = None
        self.children = []
        self.bufs = [mmap.mmap(-1, self.CAPACITY) for _ in range(children)]
        import _signal as signal  # not signal: it imports enum, on the path before the fork

        stopping = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        for i, buf in enumerate(self.bufs):
            # a signal lands before the fork or once the child is listed for stop()
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
            try:
                child = os.fork()
            except OSError:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                break
            if child == 0:
                try:
                    _detach()
                    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    _run(buf, self.CAPACITY, task, items[i::children], marshal.dumps)
                finally:
                    os._exit(0)
            self.children.append(child)
            UNREAPED.append(child)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def collect(self) -> dict:
        """Wait for the children and decode what they wrote: {item: result}."""
        if self.results is not None:
            return self.results
        import marshal

        results = {}
        for child in self.children:
            try:
                os.waitpid(child, 0)
            except OSError:
                pass
            if child in UNREAPED:
                UNREAPED.remove(child)
        for buf in self.bufs[:len(self.children)]:
            pos = 0
            while True:
                size = int.from_bytes(buf[pos:pos + 4], "little")
                if not size:
                    break
                try:
                    item, result = marshal.loads(buf[pos + 4:pos + 4 + size])
                except (EOFError, ValueError, TypeError):
                    break
                results[item] = result
                pos += 4 + size
        for buf in self.bufs:
            buf.close()
        self.results = results
        return results

    def take(self, item):
        """The child's result for ``item``, once; None if there is none."""
        return self.collect().pop(item, None)


def _detach() -> None:
    """In a child: hold no descriptor of the command's output, and die as signals say."""
    import _signal as signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _run(buf, capacity, task, items, dumps) -> None:
    pos = 0
    for item in items:
        try:
            record = dumps((item, task(item)))
        except Exception:
            continue  # the parent will do this one itself, and report what goes wrong
        end = pos + 4 + len(record)
        if end + 4 > capacity:
            return
        buf[pos + 4:end] = record
        buf[pos:pos + 4] = len(record).to_bytes(4, "little")  # valid only once complete
        pos = end
