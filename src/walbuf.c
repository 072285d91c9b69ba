/* The WAL write buffer: a SQLite VFS that is the default one, except that a
 * transaction's WAL frames reach the file in one write instead of two per frame
 * (SQLite writes a frame's 24-byte header and its page separately).
 *
 * Why: on the VMs this is measured on a system call costs microseconds, and a
 * createGalleryItem writes six or seven frames: its thirteen pwrites were the
 * largest single cost of the write (perf), and the event feed's one frame more
 * was nearly all of the feed's cost.
 *
 * Why nothing is lost or seen early. The buffer is a write-back cache of one
 * contiguous range of the WAL file:
 *  - it goes to the file before SQLite looks at the file in any other way (read,
 *    size, sync, truncate, lock, file control, close), so this connection sees
 *    what it wrote;
 *  - it goes to the file when the page of a commit frame is written, which SQLite
 *    does before it publishes the commit in the wal-index. Other connections read
 *    only frames the wal-index lists, so none reads a frame still in the buffer;
 *  - a process killed with frames in the buffer had not committed them (nothing
 *    acknowledged is lost: recovery stops at the last whole commit, as it does
 *    after a kill between two of SQLite's own pwrites);
 *  - after a commit frame, every write goes straight to the file until the write
 *    lock is let go: SQLite publishes with the commit what it writes after that frame
 *    (the headers of its checksum rewrite, walRewriteChecksums, when a page was written
 *    twice in the transaction; the padding frames of synchronous=FULL on a file that
 *    is not powersafe-overwrite);
 *  - a failed write to the file fails the SQLite call that caused it, as the pwrite
 *    it stands for would have, and the buffer keeps the bytes (SQLite may go on with
 *    the transaction and count on them);
 *  - it is emptied when the connection lets go of the WAL's write lock (the database
 *    file's xShmLock): a commit has written it by then, so what is left belongs to a
 *    transaction that rolled back, and written later it could land on frames another
 *    connection has committed at the same place since. In exclusive locking mode
 *    (no shared-memory locks) nothing is buffered.
 *
 * Every other file (journals, temporary files) is the default VFS's own, not wrapped;
 * the database file's calls all go straight to it, its shared-memory unlock aside. */
#include "walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER 24
/* 29 frames of 4 KiB: a bigger transaction flushes as it goes. Below 128 KiB: the
 * unix VFS writes the size modulo 128 KiB (seekAndWriteFd masks it with 0x1ffff). */
#define BUF_MAX (120 * 1024)

/* What both wrappers start with. */
typedef struct {
    sqlite3_file base;    /* pMethods: this file's methods once the real file is open */
    sqlite3_file *real;   /* the default VFS's file, in the bytes just after the wrapper */
} shim;

typedef struct db_file db_file;

typedef struct {
    shim s;
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 off;    /* the file offset of buf[0] */
    sqlite3_int64 commit_page; /* where the page of the last commit header goes; -1: none */
    int committed;        /* a commit frame is written: the rest goes straight to the file */
    db_file *db;          /* the database file this is the WAL of */
} wal_file;

/* A database file, wrapped to see its WAL's write lock let go (xShmLock): frames still in
 * the buffer then belong to a transaction that rolled back, and written later they could
 * land on frames another connection has committed at the same place since. */
struct db_file {
    shim s;
    sqlite3_filename name; /* SQLite's pointer: what sqlite3_filename_database() of the WAL's gives */
    int level;             /* the lock this connection holds on it (SQLITE_LOCK_...) */
    wal_file *wal;
    db_file *next;         /* the open database files (under registry) */
};

/* the wrappers' room before the real file: the larger of the two, rounded up to 16 bytes */
#define WRAPPER_SIZE \
    (((sizeof(wal_file) > sizeof(db_file) ? sizeof(wal_file) : sizeof(db_file)) + 15) & ~(size_t)15)

static sqlite3_vfs walbuf_vfs;
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static int users;
static db_file *databases;

#define REAL(f) (((shim *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

static int flush(wal_file *w)
{
    int rc;
    if (w->len == 0)
        return SQLITE_OK;
    /* kept after a failure: SQLite may go on with the transaction (a failed read ends
     * only the statement), and these bytes are the ones it believes written */
    if ((rc = RM(w)->xWrite(REAL(w), w->buf, (int)w->len, w->off)) == SQLITE_OK)
        w->len = 0;
    return rc;
}

/* Room for n more bytes in the buffer; 0 when it cannot grow (the write goes
 * straight to the file). */
static int room(wal_file *w, size_t n)
{
    size_t cap = w->cap ? w->cap : 16 * 1024;
    unsigned char *p;
    if (w->len + n <= w->cap)
        return 1;
    while (cap < w->len + n)
        cap *= 2;
    if (cap > BUF_MAX)
        cap = BUF_MAX;
    if (w->len + n > cap || !(p = realloc(w->buf, cap)))
        return 0;
    w->buf = p;
    w->cap = cap;
    return 1;
}

static int put(wal_file *w, const void *data, int n, sqlite3_int64 at)
{
    int rc;
    sqlite3_int64 end = w->off + (sqlite3_int64)w->len;
    if (w->len && at >= w->off && at + n <= end) { /* a frame of this transaction, again */
        memcpy(w->buf + (at - w->off), data, (size_t)n);
        return SQLITE_OK;
    }
    if (w->len && (at != end || w->len + (size_t)n > BUF_MAX) && (rc = flush(w)) != SQLITE_OK)
        return rc;
    if (!room(w, (size_t)n)) {
        if ((rc = flush(w)) != SQLITE_OK)
            return rc;
        return RM(w)->xWrite(REAL(w), data, n, at);
    }
    if (w->len == 0)
        w->off = at;
    memcpy(w->buf + w->len, data, (size_t)n);
    w->len += (size_t)n;
    return SQLITE_OK;
}

/* A frame header's bytes 4-7: the database's size in pages after a commit, 0 in
 * every other frame. */
static int commits(const void *header)
{
    const unsigned char *h = header;
    return (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int wal_write(sqlite3_file *f, const void *data, int n, sqlite3_int64 at)
{
    wal_file *w = (wal_file *)f;
    int rc;
    /* Straight to the file: without its database file nothing would say when a rollback
     * left frames behind; in exclusive locking mode SQLite takes no shared-memory locks (nor
     * lets go of them); and after a commit frame, until the write lock is let go, come only
     * what SQLite publishes with that commit: the checksum rewrite's headers, and the
     * padding frames of FULL on a device that is not powersafe-overwrite. */
    if (!w->db || w->committed || w->db->level == SQLITE_LOCK_EXCLUSIVE) {
        if ((rc = flush(w)) != SQLITE_OK)
            return rc;
        return RM(w)->xWrite(REAL(w), data, n, at);
    }
    if (n == FRAME_HEADER)
        w->commit_page = commits(data) ? at + FRAME_HEADER : -1;
    if ((rc = put(w, data, n, at)) != SQLITE_OK)
        return rc;
    if (at == w->commit_page) {
        w->commit_page = -1;
        w->committed = 1;
        return flush(w);
    }
    return SQLITE_OK;
}

static int wal_close(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;
    int rc, rc2;
    pthread_mutex_lock(&registry);
    if (w->db)
        w->db->wal = NULL;
    pthread_mutex_unlock(&registry);
    rc = flush(w);
    rc2 = RM(w)->xClose(REAL(w));
    free(w->buf);
    w->buf = NULL;
    w->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *data, int n, sqlite3_int64 at)
{
    int rc = flush((wal_file *)f);
    return rc != SQLITE_OK ? rc : RM(f)->xRead(REAL(f), data, n, at);
}

/* The calls that look at the file: the buffer goes to it first. */
#define FLUSHED(f, call)                                                                           \
    do {                                                                                           \
        int rc_ = flush((wal_file *)(f));                                                          \
        return rc_ != SQLITE_OK ? rc_ : (call);                                                    \
    } while (0)

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size) { FLUSHED(f, RM(f)->xTruncate(REAL(f), size)); }
static int wal_sync(sqlite3_file *f, int flags) { FLUSHED(f, RM(f)->xSync(REAL(f), flags)); }
static int wal_size(sqlite3_file *f, sqlite3_int64 *size) { FLUSHED(f, RM(f)->xFileSize(REAL(f), size)); }
static int wal_lock(sqlite3_file *f, int level) { FLUSHED(f, RM(f)->xLock(REAL(f), level)); }
static int wal_unlock(sqlite3_file *f, int level) { FLUSHED(f, RM(f)->xUnlock(REAL(f), level)); }
static int wal_reserved(sqlite3_file *f, int *out) { FLUSHED(f, RM(f)->xCheckReservedLock(REAL(f), out)); }
static int wal_control(sqlite3_file *f, int op, void *arg) { FLUSHED(f, RM(f)->xFileControl(REAL(f), op, arg)); }
static int wal_sector(sqlite3_file *f) { return RM(f)->xSectorSize(REAL(f)); }
static int wal_device(sqlite3_file *f) { return RM(f)->xDeviceCharacteristics(REAL(f)); }

/* SQLite keeps the shared memory on the database file, never on the WAL; these
 * forward for completeness, as the methods' version promises them. */
static int wal_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **p)
{
    return RM(f)->iVersion >= 2 ? RM(f)->xShmMap(REAL(f), region, size, extend, p) : SQLITE_IOERR;
}
static int wal_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return RM(f)->iVersion >= 2 ? RM(f)->xShmLock(REAL(f), offset, n, flags) : SQLITE_IOERR;
}
static void wal_shm_barrier(sqlite3_file *f)
{
    if (RM(f)->iVersion >= 2)
        RM(f)->xShmBarrier(REAL(f));
}
static int wal_shm_unmap(sqlite3_file *f, int del)
{
    return RM(f)->iVersion >= 2 ? RM(f)->xShmUnmap(REAL(f), del) : SQLITE_OK;
}
static int wal_fetch(sqlite3_file *f, sqlite3_int64 at, int n, void **p)
{
    int rc = flush((wal_file *)f);
    *p = NULL;
    return rc != SQLITE_OK || RM(f)->iVersion < 3 ? rc : RM(f)->xFetch(REAL(f), at, n, p);
}
static int wal_unfetch(sqlite3_file *f, sqlite3_int64 at, void *p)
{
    return RM(f)->iVersion >= 3 ? RM(f)->xUnfetch(REAL(f), at, p) : SQLITE_OK;
}

static const sqlite3_io_methods wal_methods = {
    3, wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_size, wal_lock, wal_unlock,
    wal_reserved, wal_control, wal_sector, wal_device, wal_shm_map, wal_shm_lock, wal_shm_barrier,
    wal_shm_unmap, wal_fetch, wal_unfetch,
};

/* ---- the database file: the default VFS's, but for the WAL's write lock ---- */

#define WAL_WRITE_LOCK 0 /* SQLite's first shared-memory lock (wal.c) */

static int db_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    db_file *d = (db_file *)f;
    int rc = RM(f)->xShmLock(REAL(f), offset, n, flags);
    /* what this connection wrote to the WAL is in the file by now, or was rolled back */
    if (rc == SQLITE_OK && flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE) && offset <= WAL_WRITE_LOCK
        && offset + n > WAL_WRITE_LOCK && d->wal) {
        d->wal->len = 0;
        d->wal->commit_page = -1;
        d->wal->committed = 0;
    }
    return rc;
}

static int db_close(sqlite3_file *f)
{
    db_file *d = (db_file *)f, **p;
    pthread_mutex_lock(&registry);
    for (p = &databases; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    if (d->wal)
        d->wal->db = NULL;
    pthread_mutex_unlock(&registry);
    return RM(f)->xClose(REAL(f));
}

static int db_read(sqlite3_file *f, void *data, int n, sqlite3_int64 at) { return RM(f)->xRead(REAL(f), data, n, at); }
static int db_write(sqlite3_file *f, const void *data, int n, sqlite3_int64 at)
{
    return RM(f)->xWrite(REAL(f), data, n, at);
}
static int db_truncate(sqlite3_file *f, sqlite3_int64 size) { return RM(f)->xTruncate(REAL(f), size); }
static int db_sync(sqlite3_file *f, int flags) { return RM(f)->xSync(REAL(f), flags); }
static int db_size(sqlite3_file *f, sqlite3_int64 *size) { return RM(f)->xFileSize(REAL(f), size); }
static int db_lock(sqlite3_file *f, int level)
{
    int rc = RM(f)->xLock(REAL(f), level);
    if (rc == SQLITE_OK)
        ((db_file *)f)->level = level;
    return rc;
}
static int db_unlock(sqlite3_file *f, int level)
{
    int rc = RM(f)->xUnlock(REAL(f), level);
    if (rc == SQLITE_OK)
        ((db_file *)f)->level = level;
    return rc;
}
static int db_reserved(sqlite3_file *f, int *out) { return RM(f)->xCheckReservedLock(REAL(f), out); }
static int db_control(sqlite3_file *f, int op, void *arg) { return RM(f)->xFileControl(REAL(f), op, arg); }
static int db_fetch(sqlite3_file *f, sqlite3_int64 at, int n, void **p)
{
    *p = NULL;
    return RM(f)->iVersion >= 3 ? RM(f)->xFetch(REAL(f), at, n, p) : SQLITE_OK;
}

/* the shared-memory forwarders are the WAL file's (wal_shm_*): they serve both */
static const sqlite3_io_methods db_methods = {
    3, db_close, db_read, db_write, db_truncate, db_sync, db_size, db_lock, db_unlock,
    db_reserved, db_control, wal_sector, wal_device, wal_shm_map, db_shm_lock, wal_shm_barrier,
    wal_shm_unmap, db_fetch, wal_unfetch,
};

/* ---- the VFS: the default one's methods, with the default VFS as their own ---- */

#define DFLT(v) ((sqlite3_vfs *)(v)->pAppData)

/* The real file behind a wrapper of size bytes: opened, or rc. The wrapper stays closed
 * (pMethods NULL) until it is. */
static int open_real(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, size_t size, int flags,
                     int *out)
{
    shim *sh = (shim *)f;
    int rc;
    memset(f, 0, size);
    sh->real = (sqlite3_file *)((char *)f + WRAPPER_SIZE);
    sh->real->pMethods = NULL;
    rc = DFLT(v)->xOpen(DFLT(v), name, sh->real, flags, out);
    if (rc != SQLITE_OK && sh->real->pMethods) /* SQLite's rule: a file with methods is closed */
        sh->real->pMethods->xClose(sh->real);
    return rc;
}

static int vfs_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
    int rc;
    if (flags & SQLITE_OPEN_MAIN_DB) {
        db_file *d = (db_file *)f;
        if ((rc = open_real(v, name, f, sizeof *d, flags, out)) != SQLITE_OK)
            return rc;
        d->name = name;
        pthread_mutex_lock(&registry);
        d->next = databases;
        databases = d;
        pthread_mutex_unlock(&registry);
        d->s.base.pMethods = &db_methods;
        return SQLITE_OK;
    }
    if (flags & SQLITE_OPEN_WAL) {
        wal_file *w = (wal_file *)f;
        db_file *d;
        sqlite3_filename db = name ? sqlite3_filename_database(name) : NULL;
        if ((rc = open_real(v, name, f, sizeof *w, flags, out)) != SQLITE_OK)
            return rc;
        w->commit_page = -1;
        pthread_mutex_lock(&registry);
        for (d = databases; d && d->name != db; d = d->next)
            ;
        if (d) {
            d->wal = w;
            w->db = d;
        }
        pthread_mutex_unlock(&registry);
        w->s.base.pMethods = &wal_methods;
        return SQLITE_OK;
    }
    return DFLT(v)->xOpen(DFLT(v), name, f, flags, out);
}

static int vfs_delete(sqlite3_vfs *v, const char *name, int sync) { return DFLT(v)->xDelete(DFLT(v), name, sync); }
static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    return DFLT(v)->xAccess(DFLT(v), name, flags, out);
}
static int vfs_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
    return DFLT(v)->xFullPathname(DFLT(v), name, n, out);
}
static void *vfs_dlopen(sqlite3_vfs *v, const char *name) { return DFLT(v)->xDlOpen(DFLT(v), name); }
static void vfs_dlerror(sqlite3_vfs *v, int n, char *out) { DFLT(v)->xDlError(DFLT(v), n, out); }
static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    return DFLT(v)->xDlSym(DFLT(v), h, sym);
}
static void vfs_dlclose(sqlite3_vfs *v, void *h) { DFLT(v)->xDlClose(DFLT(v), h); }
static int vfs_random(sqlite3_vfs *v, int n, char *out) { return DFLT(v)->xRandomness(DFLT(v), n, out); }
static int vfs_sleep(sqlite3_vfs *v, int us) { return DFLT(v)->xSleep(DFLT(v), us); }
static int vfs_time(sqlite3_vfs *v, double *out) { return DFLT(v)->xCurrentTime(DFLT(v), out); }
static int vfs_error(sqlite3_vfs *v, int n, char *out)
{
    return DFLT(v)->xGetLastError ? DFLT(v)->xGetLastError(DFLT(v), n, out) : 0;
}
static int vfs_time64(sqlite3_vfs *v, sqlite3_int64 *out) { return DFLT(v)->xCurrentTimeInt64(DFLT(v), out); }
static int vfs_setcall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
    return DFLT(v)->xSetSystemCall(DFLT(v), name, p);
}
static sqlite3_syscall_ptr vfs_getcall(sqlite3_vfs *v, const char *name)
{
    return DFLT(v)->xGetSystemCall(DFLT(v), name);
}
static const char *vfs_nextcall(sqlite3_vfs *v, const char *name)
{
    return DFLT(v)->xNextSystemCall(DFLT(v), name);
}

static void vfs_init(sqlite3_vfs *dflt)
{
    sqlite3_vfs v = {0};
    /* versions past 3 would add methods this file does not forward */
    v.iVersion = dflt->iVersion < 3 ? dflt->iVersion : 3;
    v.szOsFile = (int)WRAPPER_SIZE + dflt->szOsFile;
    v.mxPathname = dflt->mxPathname;
    v.zName = PG_WALBUF_VFS;
    v.pAppData = dflt;
    v.xOpen = vfs_open;
    v.xDelete = vfs_delete;
    v.xAccess = vfs_access;
    v.xFullPathname = vfs_full;
    v.xDlOpen = vfs_dlopen;
    v.xDlError = vfs_dlerror;
    v.xDlSym = vfs_dlsym;
    v.xDlClose = vfs_dlclose;
    v.xRandomness = vfs_random;
    v.xSleep = vfs_sleep;
    v.xCurrentTime = vfs_time;
    v.xGetLastError = vfs_error;
    if (v.iVersion >= 2)
        v.xCurrentTimeInt64 = vfs_time64;
    if (v.iVersion >= 3) {
        v.xSetSystemCall = vfs_setcall;
        v.xGetSystemCall = vfs_getcall;
        v.xNextSystemCall = vfs_nextcall;
    }
    walbuf_vfs = v;
}

int pg_walbuf_acquire(void)
{
    int ok = 1;
    pthread_mutex_lock(&registry);
    if (users == 0) {
        sqlite3_vfs *dflt = sqlite3_vfs_find(NULL);
        ok = dflt != NULL && dflt != &walbuf_vfs;
        if (ok) {
            vfs_init(dflt);
            ok = sqlite3_vfs_register(&walbuf_vfs, 0) == SQLITE_OK;
        }
    }
    if (ok)
        users++;
    pthread_mutex_unlock(&registry);
    return ok;
}

void pg_walbuf_release(void)
{
    pthread_mutex_lock(&registry);
    if (users > 0 && --users == 0)
        sqlite3_vfs_unregister(&walbuf_vfs);
    pthread_mutex_unlock(&registry);
}
