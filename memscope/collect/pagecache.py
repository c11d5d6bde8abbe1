"""Page-cache residency of one open file: the kernel interfaces behind `memscope cache`.

Two ways to ask, neither of which reads the file or faults a page in:

- ``cachestat(2)`` (Linux 6.5+): one call per file returns the number of pages cached,
  dirty, under writeback, evicted, and recently evicted (evicted while its refault distance
  says it would have been part of the working set). Kernel source, mm/filemap.c,
  ``SYSCALL_DEFINE4(cachestat, unsigned int fd, struct cachestat_range __user *cstat_range,
  struct cachestat __user *cstat, unsigned int flags)``; the structs are in
  include/uapi/linux/mman.h::

      struct cachestat_range { __u64 off; __u64 len; };      // len 0: from off to the end
      struct cachestat { __u64 nr_cache, nr_dirty, nr_writeback, nr_evicted,
                         nr_recently_evicted; };

  It returns -EBADF for a bad fd before anything else (so a call on fd -1 tells whether the
  kernel has the call without touching a file), -EOPNOTSUPP for hugetlbfs files, -EINVAL
  for flags != 0, and, since the fix that followed it ("cachestat: do not leak page cache
  information to unprivileged users", can_do_cachestat(): the same rule as mincore), -EPERM
  unless the caller could open the file for writing or owns it (root can).
  Syscall number 451 on every architecture's table that has it in "common" form
  (arch/x86/entry/syscalls/syscall_64.tbl and syscall_32.tbl, include/uapi/asm-generic/
  unistd.h for arm64/riscv/loongarch, arch/arm/tools/syscall.tbl, powerpc, s390); MIPS
  (4451/5451/6451 by ABI) and alpha (561) differ, and an architecture not known here falls
  back to mincore.

- ``mincore(2)`` over a ``MAP_SHARED`` read-only mapping that is never touched: one byte a
  page, bit 0 = resident (the other bits are reserved). It only says cached: dirty,
  writeback and evicted are null. mmap fails for an empty file (EINVAL: length 0, so no
  mapping is made: the file has 0 cached bytes) and for files on filesystems without mmap
  (ENODEV: procfs, sysfs...). mm/mincore.c can_do_mincore(): since Linux 5.0, for a file the
  caller could not open for writing and does not own, mincore reports every page as
  resident (it only looks at the caller's own page tables), so such files are reported as
  unreadable, not measured.

``MEMSCOPE_CACHE_METHOD=mincore`` forces the mincore path (tests only: it is how the suite
exercises the fallback on a kernel that has cachestat).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
import struct

PAGE = mmap.PAGESIZE

# Architectures whose syscall table gives cachestat 451 (see the module docstring).
_NR_451 = ("x86_64", "i386", "i486", "i586", "i686", "aarch64", "arm64", "armv6l", "armv7l",
           "armv8l", "riscv64", "loongarch64", "ppc", "ppc64", "ppc64le", "s390x")

_O_NOATIME = getattr(os, "O_NOATIME", 0)
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
# The mapping window for mincore: 1 GiB at a time, a 256 KiB vector reused.
_WINDOW = 1 << 30


class NotMeasurable(Exception):
    """The kernel will not tell for this file; ``reason`` says why, for ``skipped``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


DENIED = ("permission denied: the kernel reveals page-cache residency only for files you "
          "own or may write (run as root)")


def cachestat_number():
    """cachestat's syscall number on this architecture, or None where it is not known."""
    machine = platform.machine()
    if machine in _NR_451:
        return 451
    return None


class Meter:
    """Measures files by cachestat when the kernel has it, else by mincore.

    ``measure(fd, st)`` returns (cached, dirty, writeback, evicted, recently_evicted) in
    bytes, None where the method cannot tell; it raises NotMeasurable.
    """

    def __init__(self, method=None):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.euid = os.geteuid()
        forced = method or os.environ.get("MEMSCOPE_CACHE_METHOD")
        self.method = "mincore"
        if forced != "mincore":
            self._setup_cachestat()
        if self.method == "mincore":
            self._setup_mincore()

    # -- cachestat ----------------------------------------------------------------------

    def _setup_cachestat(self) -> None:
        nr = cachestat_number()
        if nr is None:
            return
        # syscall(2) is variadic: no argtypes (their conversion doubles the cost of a call);
        # the number goes as a C long, the two structs by reference, fd and flags as the C
        # ints the kernel takes. One buffer: the range (16 bytes of zeros: off 0, len 0, the
        # whole file) then the five counters.
        self._buf = ctypes.create_string_buffer(16 + 5 * 8)
        self._range_p = ctypes.byref(self._buf)
        self._stat_p = ctypes.byref(self._buf, 16)
        self._nr = ctypes.c_long(nr)
        self._syscall = self._libc.syscall
        self._unpack = struct.Struct("=5Q").unpack_from
        # Probe on fd -1: EBADF means the call exists (the fd is checked first); ENOSYS an
        # older kernel; EPERM a seccomp filter that does not know it (container runtimes).
        if self._syscall(self._nr, -1, self._range_p, self._stat_p, 0) == -1 and \
                ctypes.get_errno() == errno.EBADF:
            self.method = "cachestat"

    def _cachestat(self, fd: int, st):
        if self._syscall(self._nr, fd, self._range_p, self._stat_p, 0) != 0:
            code = ctypes.get_errno()
            if code == errno.EPERM:
                raise NotMeasurable(DENIED)
            if code == errno.EOPNOTSUPP:  # hugetlbfs: mincore still answers
                return self._mincore(fd, st)
            raise NotMeasurable(f"cachestat failed ({os.strerror(code).lower()})")
        cached, dirty, writeback, evicted, recent = self._unpack(self._buf, 16)
        return (cached * PAGE, dirty * PAGE, writeback * PAGE, evicted * PAGE, recent * PAGE)

    # -- mincore ------------------------------------------------------------------------

    def _setup_mincore(self) -> None:
        libc = self._libc
        self._mmap = libc.mmap
        self._mmap.restype = ctypes.c_void_p
        self._mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_long]
        self._munmap = libc.munmap
        self._munmap.restype = ctypes.c_int
        self._munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._mincore_fn = libc.mincore
        self._mincore_fn.restype = ctypes.c_int
        self._mincore_fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        self._vec = ctypes.create_string_buffer(_WINDOW // PAGE)
        # mincore's bytes: bit 0 is residency, the rest reserved.
        self._odd = bytes(i & 1 for i in range(256))

    def _mincore(self, fd: int, st):
        if not hasattr(self, "_vec"):
            self._setup_mincore()
        if self.euid != 0 and st.st_uid != self.euid and not _writable(fd):
            raise NotMeasurable(DENIED)  # mincore would claim every page resident
        size = st.st_size
        resident = 0
        off = 0
        failed = ctypes.c_void_p(-1).value
        while off < size:
            length = min(_WINDOW, size - off)
            addr = self._mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, off)
            if addr is None or addr == failed:
                code = ctypes.get_errno()
                raise NotMeasurable("cannot be mapped to ask mincore "
                                    f"({os.strerror(code).lower()})")
            try:
                pages = (length + PAGE - 1) // PAGE
                if self._mincore_fn(addr, length, self._vec) != 0:
                    code = ctypes.get_errno()
                    raise NotMeasurable(f"mincore failed ({os.strerror(code).lower()})")
                resident += self._vec.raw[:pages].translate(self._odd).count(1)
            finally:
                self._munmap(addr, length)
            off += length
        return (resident * PAGE, None, None, None, None)

    def measure(self, fd: int, st):
        if self.method == "cachestat":
            return self._cachestat(fd, st)
        return self._mincore(fd, st)


def _writable(fd: int) -> bool:
    """Could the caller open this file for writing (can_do_mincore's last test)?"""
    try:
        return os.access(f"/proc/self/fd/{fd}", os.W_OK)
    except OSError:
        return False


def open_file(name: str, dir_fd=None, follow: bool = False) -> int:
    """Open for measuring only: read-only, without updating atime where permitted (mmap
    would), non-blocking (a FIFO swapped in after the type check must not hang us), not
    through a symlink unless ``follow``."""
    flags = OPEN_FLAGS & ~os.O_NOFOLLOW if follow else OPEN_FLAGS
    try:
        return os.open(name, flags | _O_NOATIME, dir_fd=dir_fd)
    except PermissionError:
        # O_NOATIME needs ownership or CAP_FOWNER (EPERM): open without it. EACCES is a
        # real denial, and the second open raises it again.
        if not _O_NOATIME:
            raise
        return os.open(name, flags, dir_fd=dir_fd)


# Filesystems that hold no page cache, by statfs f_type (include/uapi/linux/magic.h): a
# recursive walk does not descend into them at a mount crossing (`cache -r /` would otherwise
# open every file under /proc and /sys).
PSEUDO_FS = {0x9fa0: "proc", 0x62656572: "sysfs", 0x27e0eb: "cgroup", 0x63677270: "cgroup2",
             0x64626720: "debugfs", 0x74726163: "tracefs", 0x73636673: "securityfs",
             0x1cd1: "devpts", 0xcafe4a11: "bpf", 0x6165676c: "pstore",
             0x62656570: "configfs", 0x65735543: "fusectl", 0x19800202: "mqueue",
             0xf97cff8c: "selinuxfs", 0x42494e4d: "binfmt_misc", 0x6e736673: "nsfs",
             0x50495045: "pipefs", 0x534f434b: "sockfs", 0x858458f6: "ramfs"}


_LIBC = None


def fs_type(fd: int):
    """The statfs f_type of the filesystem holding ``fd``, or None."""
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit
    if _LIBC.fstatfs(fd, buf) != 0:
        return None
    # f_type is the first member, a __fsword_t (a long; unsigned int on s390x)
    return ctypes.c_ulong.from_buffer(buf).value & 0xffffffff
