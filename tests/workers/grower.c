/* A process that leaks at a known rate, for memscope trend's live tests.
 *
 *   grower STEP_BYTES INTERVAL_MS MAX_BYTES
 *
 * Prints "ready", then every INTERVAL_MS (on an absolute CLOCK_BOOTTIME schedule, the clock
 * of /proc/uptime, so a late wake-up does not slow the rate) maps STEP_BYTES more of private
 * anonymous memory and writes every page, until MAX_BYTES are mapped. Each step prints
 * "grew N UPTIME" (N steps so far, the CLOCK_BOOTTIME time the step's pages were all
 * written). Exits when stdin closes. The rate is STEP_BYTES / INTERVAL_MS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    size_t step = strtoull(argv[1], NULL, 10);
    long interval_ms = strtol(argv[2], NULL, 10);
    size_t max = strtoull(argv[3], NULL, 10);
    long page = sysconf(_SC_PAGESIZE);
    size_t mapped = 0;
    long steps = 0;
    double next = now();
    setvbuf(stdout, NULL, _IOLBF, 0);
    puts("ready");
    for (;;) {
        if (mapped + step <= max) {
            double wait = next + interval_ms / 1000.0 - now();
            int timeout = wait > 0 ? (int)(wait * 1000.0 + 0.5) : 0;
            struct pollfd pfd = {.fd = 0, .events = POLLIN};
            int r = poll(&pfd, 1, timeout);
            if (r > 0)
                return 0; /* stdin closed (or written to): done */
            if (r < 0 && errno != EINTR)
                return 3;
            if (r < 0)
                continue;
            next += interval_ms / 1000.0;
            char *p = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
            if (p == MAP_FAILED)
                return 4;
            for (size_t off = 0; off < step; off += page)
                p[off] = 1;
            mapped += step;
            steps++;
            printf("grew %ld %.3f\n", steps, now());
        } else {
            struct pollfd pfd = {.fd = 0, .events = POLLIN};
            if (poll(&pfd, 1, -1) > 0)
                return 0;
        }
    }
}
