/* A SQLite VFS that gathers a transaction's WAL frames into one write
 * (walbuf.c). Everything else is the default VFS, untouched. */
#ifndef PG_WALBUF_H
#define PG_WALBUF_H

/* The VFS's name, registered while any store holds it: pass it to
 * sqlite3_open_v2 between pg_walbuf_acquire() (1, or 0: out of memory) and
 * pg_walbuf_release(), which unregisters it after the last store (so that
 * unloading the module never leaves SQLite a pointer into it). */
#define PG_WALBUF_VFS "progallery-walbuf"

int pg_walbuf_acquire(void);
void pg_walbuf_release(void);

#endif
