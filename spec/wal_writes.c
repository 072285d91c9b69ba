/* LD_PRELOAD shim for spec/walbuf_spec.lua: counts a process's writes to SQLite WAL
 * files (paths ending in "-wal"), and among them the lone 24-byte frame headers
 * (SQLite's checksum rewrite after a transaction wrote a page twice), and writes
 * "<writes> <headers>" to $WAL_WRITES_OUT when the process exits. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long writes, headers;

static void report(void)
{
    const char *path = getenv("WAL_WRITES_OUT");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%ld %ld\n", writes, headers);
        fclose(f);
    }
}

__attribute__((constructor)) static void init(void)
{
    atexit(report);
}

static void count(int fd, size_t n)
{
    char link[64], target[4096];
    ssize_t len;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    len = readlink(link, target, sizeof target - 1);
    if (len < 4 || memcmp(target + len - 4, "-wal", 4) != 0)
        return;
    writes++;
    headers += n == 24;
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static ssize_t forward(const char *name, int fd, const void *buf, size_t n, off_t at)
{
    pwrite_fn real = (pwrite_fn)dlsym(RTLD_NEXT, name);
    count(fd, n);
    return real ? real(fd, buf, n, at) : -1;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t at) { return forward("pwrite", fd, buf, n, at); }
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t at) { return forward("pwrite64", fd, buf, n, at); }
