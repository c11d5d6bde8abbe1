/* A process whose memory is known by construction, for memscope's live tests.
 *
 *   worker none                 map nothing (the control process)
 *   worker anon  BYTES          a private anonymous mapping, every page written
 *   worker lock  BYTES          the same, locked in memory with mlock()
 *   worker shm   PATH BYTES     a MAP_SHARED mapping of a /dev/shm file, every page read
 *   worker file  PATH BYTES     a MAP_SHARED read-only mapping of a file, every page read
 *   worker sysv KEY BYTES        a System V segment (key in decimal), every page written;
 *                               removed when stdin closes
 *   worker sysvhuge KEY BYTES    a SHM_HUGETLB System V segment, every page written
 *   worker memfdhuge BYTES      an MFD_HUGETLB memfd mapped shared, every page written
 *   worker memfd BYTES          a memfd (shmem) mapped shared, every page written
 *   worker mlock BYTES          a private anonymous mapping, written and mlock()ed
 *   worker thp BYTES            a 2 MiB-aligned private anonymous mapping with
 *                               MADV_HUGEPAGE, every page written (BYTES: a multiple of 2 MiB)
 *   worker threads BYTES        a second thread maps and writes BYTES of private anonymous
 *                               memory, then the main thread calls pthread_exit(): the
 *                               process lives on in the second thread (status says Z)
 *   worker charge ANON PATH BYTES   print "waiting", read one byte from stdin (the test moves
 *                               us into a cgroup meanwhile), then map and write ANON bytes
 *                               of private anonymous memory and write() BYTES to a new file
 *                               at PATH (page cache, charged to our cgroup, not mapped)
 *
 * WORKER_NODUMP=1 in the environment makes the process non-dumpable (PR_SET_DUMPABLE 0):
 * only CAP_SYS_PTRACE then reads its smaps, even for its own uid.
 * It re-executes itself once without address-space randomisation. Extra arguments are
 * ignored (the tests pad command lines to one length).
 * It prints "ready" once the pages are touched, then waits for stdin to close. Built
 * static where the toolchain allows, so it maps no shared library: two workers differ only
 * by what they were told to map.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <unistd.h>

static volatile unsigned long sink;
static size_t thread_size;

static void touch(char *p, size_t size, long page)
{
    for (size_t off = 0; off < size; off += page)
        p[off] = 1;
}

static void wait_stdin(void)
{
    char buf[16];
    while (read(0, buf, sizeof buf) > 0)
        ;
}

static void *holder(void *arg)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, thread_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    (void)arg;
    if (p == MAP_FAILED)
        exit(3);
    touch(p, thread_size, page);
    fputs("ready\n", stdout);
    fflush(stdout);
    wait_stdin();
    exit(0);
}

int main(int argc, char **argv)
{
    long page = sysconf(_SC_PAGESIZE);
    char buf[16];
    /* The kernel puts argv, envp and auxv at a randomised offset below the stack top, so
     * the same strings may span one page or two: run without address randomisation, so
     * two workers' stacks are the same number of pages. */
    int persona = personality(0xffffffff);
    if (persona != -1 && !(persona & ADDR_NO_RANDOMIZE) &&
        personality(persona | ADDR_NO_RANDOMIZE) != -1)
        execv("/proc/self/exe", argv);
    /* exec'ing /proc/self/exe named us "exe"; WORKER_COMM sets a hostile name on purpose */
    prctl(PR_SET_NAME, getenv("WORKER_COMM") ? getenv("WORKER_COMM") : "worker");
    if (getenv("WORKER_NODUMP"))
        prctl(PR_SET_DUMPABLE, 0);
    if (argc < 2)
        return 2;
    sink = 1; /* every mode writes the same data page */
    if (strcmp(argv[1], "threads") == 0 && argc >= 3) {
        pthread_t t;
        thread_size = strtoull(argv[2], NULL, 10);
        if (pthread_create(&t, NULL, holder, NULL) != 0)
            return 10;
        pthread_exit(NULL); /* the process lives on in the holder thread */
    }
    int hugefd = -1;
    char *huge = NULL;
    size_t hugesize = 0;
    if ((strcmp(argv[1], "memfdhuge") == 0 || strcmp(argv[1], "memfd") == 0) && argc >= 3) {
        hugesize = strtoull(argv[2], NULL, 10);
        hugefd = memfd_create("worker", strcmp(argv[1], "memfdhuge") == 0 ? MFD_HUGETLB : 0);
        if (hugefd < 0 || ftruncate(hugefd, hugesize) != 0)
            return 11;
        huge = mmap(NULL, hugesize, PROT_READ | PROT_WRITE, MAP_SHARED, hugefd, 0);
        if (huge == MAP_FAILED)
            return 12;
        touch(huge, hugesize, page);
    } else if ((strcmp(argv[1], "mlock") == 0 || strcmp(argv[1], "thp") == 0) && argc >= 3) {
        size_t size = strtoull(argv[2], NULL, 10), align = 2 << 20;
        char *p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 3;
        p = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
        if (strcmp(argv[1], "thp") == 0)
            madvise(p, size, MADV_HUGEPAGE);
        touch(p, size, page);
        if (strcmp(argv[1], "mlock") == 0 && mlock(p, size) != 0)
            return 13;
    }
    if ((strcmp(argv[1], "anon") == 0 || strcmp(argv[1], "lock") == 0) && argc >= 3) {
        size_t size = strtoull(argv[2], NULL, 10);
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 3;
        for (size_t off = 0; off < size; off += page)
            p[off] = 1;
        if (argv[1][0] == 'l' && mlock(p, size) != 0)
            return 14;
    } else if ((strcmp(argv[1], "shm") == 0 || strcmp(argv[1], "file") == 0) && argc >= 4) {
        size_t size = strtoull(argv[3], NULL, 10);
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0)
            return 4;
        char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            return 5;
        for (size_t off = 0; off < size; off += page)
            sink += p[off];
    } else if (strcmp(argv[1], "charge") == 0 && argc >= 5) {
        size_t size = strtoull(argv[2], NULL, 10), fsize = strtoull(argv[4], NULL, 10);
        static char block[65536];
        fputs("waiting\n", stdout);
        fflush(stdout);
        if (read(0, buf, 1) != 1)
            return 6;
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 3;
        for (size_t off = 0; off < size; off += page)
            p[off] = 1;
        int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return 4;
        memset(block, 0x5a, sizeof block);
        for (size_t done = 0; done < fsize; done += sizeof block)
            if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
                return 7;
        close(fd);
    } else if (strcmp(argv[1], "none") != 0 && strcmp(argv[1], "sysv") != 0 &&
               strcmp(argv[1], "sysvhuge") != 0 && hugefd < 0 &&
               strcmp(argv[1], "mlock") != 0 && strcmp(argv[1], "thp") != 0) {
        return 2;
    }
    int shmid = -1;
    if ((strcmp(argv[1], "sysv") == 0 || strcmp(argv[1], "sysvhuge") == 0) && argc >= 4) {
        size_t size = strtoull(argv[3], NULL, 10);
        int huge_flag = strcmp(argv[1], "sysvhuge") == 0 ? SHM_HUGETLB : 0;
        shmid = shmget((key_t)strtol(argv[2], NULL, 10), size,
                       IPC_CREAT | IPC_EXCL | 0600 | huge_flag);
        if (shmid < 0)
            return 8;
        char *p = shmat(shmid, NULL, 0);
        if (p == (void *)-1)
            return 9;
        for (size_t off = 0; off < size; off += page)
            p[off] = 1;
    }
    fputs("ready\n", stdout);
    fflush(stdout);
    while (read(0, buf, sizeof buf) > 0)
        ;
    if (shmid >= 0)
        shmctl(shmid, IPC_RMID, NULL);
    return 0;
}
