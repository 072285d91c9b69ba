/* LD_PRELOAD shim for spec/store_spec.lua: counts the fsync and fdatasync calls
 * of a process (SQLite's durability is exactly these calls) and writes the count
 * to $SYNC_COUNT_OUT when the process exits. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static long calls;

static void report(void)
{
    const char *path = getenv("SYNC_COUNT_OUT");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%ld\n", calls);
        fclose(f);
    }
}

__attribute__((constructor)) static void init(void)
{
    atexit(report);
}

typedef int (*sync_fn)(int);

static int forward(const char *name, int fd)
{
    sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
    calls++;
    return real ? real(fd) : -1;
}

int fsync(int fd) { return forward("fsync", fd); }
int fdatasync(int fd) { return forward("fdatasync", fd); }
