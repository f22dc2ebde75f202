/*
 * en.h: the storage engine as the api layer sees it: a database handle over
 * the main file and its log, read and write transactions, named trees
 * found through the catalog, checkpoints and the integrity check.
 *
 * Concurrency model.  Any number of read transactions, on any threads,
 * each pinned to one committed snapshot; at most one write transaction at
 * a time (en_write_begin serialises them).  A reader never takes a lock:
 * it publishes its snapshot in a reader slot (a hazard pointer) with
 * atomics.  Pages a snapshot can reach are never written in place: the
 * B+tree is copy-on-write and a freed page is reused only once no live
 * snapshot can reach it.
 *
 * Durability.  A write transaction commits by appending its dirty pages
 * and a commit record (the new meta) to the log; in EN_SYNC_FULL the log
 * is synced before en_commit returns.  A checkpoint copies the newest
 * committed page images into the main file, syncs it, writes a meta page
 * and resets the log.  Opening recovers: the committed transactions found
 * in the log are replayed and checkpointed.
 *
 * Errors are CD_* codes (the ISLE_E* values); every failure also leaves a
 * message for the calling thread (en_errmsg).
 *
 * Uses btree/, wal/, os/ and codec/.
 */
#ifndef ISLE_EN_H
#define ISLE_EN_H

#include <stddef.h>
#include <stdint.h>

#include "cd_base.h"
#include "os.h"

typedef struct isle_db en_db;
typedef struct isle_txn en_txn;

/* Durability modes.  Stored nowhere: a property of the open handle. */
enum en_sync {
    EN_SYNC_FULL = 0,   /* a commit is on disk when it returns */
    EN_SYNC_NORMAL = 1, /* the log is synced at checkpoints */
    EN_SYNC_OFF = 2,    /* never synced: a crash may lose anything */
};

/* ---- the writer thread: jobs, queues, dispatcher ---------------------- */

typedef struct isle_job en_job;
typedef int (*en_job_fn)(en_txn *txn, void *arg);

/* Callbacks of an asynchronous write; any may be NULL.  Order: ready,
 * then success or error, then complete; each at most once (a cancelled
 * job gets only complete, with CD_ECANCELED). */
typedef struct en_job_callbacks {
    void (*ready)(void *arg);
    void (*success)(void *arg, uint64_t txn_id);
    void (*error)(void *arg, int code);
    void (*complete)(void *arg, int code);
} en_job_callbacks;

/* Hands a callback to the application's own loop instead of running it on
 * the writer thread: post must arrange for fn(arg) to be called once. */
typedef struct en_dispatcher {
    void (*post)(void (*fn)(void *arg), void *arg, void *ctx);
    void *ctx;
} en_dispatcher;

/*
 * A queue of jobs waiting for the writer.  Every op is called with the
 * writer's queue lock held, so an implementation needs no locking of its
 * own, and must not call back into isle.  add: 0 or an error (the job is
 * refused); next: the job to run now, or NULL when empty; remove: 1 if job
 * was queued and is now removed, else 0; remove_named: removes and returns
 * one queued job whose en_job_name() equals name, or NULL; quit: the
 * database closes, the queue is empty and will not be used again.
 */
typedef struct en_queue_ops {
    int (*add)(void *q, en_job *job);
    en_job *(*next)(void *q);
    int (*remove)(void *q, en_job *job);
    en_job *(*remove_named)(void *q, const char *name);
    void (*quit)(void *q);
    void *q;
} en_queue_ops;

enum en_queue_kind {
    EN_QUEUE_FIFO = 0,     /* submission order */
    EN_QUEUE_PRIORITY = 1, /* higher priority first, FIFO among equals */
    EN_QUEUE_CUSTOM = 2,   /* en_options.queue */
};

/* Priorities (any int works; these are the named ones). */
#define EN_PRIORITY_LOW 0
#define EN_PRIORITY_NORMAL 1
#define EN_PRIORITY_HIGH 2
#define EN_PRIORITY_UI 5

/* Jobs waiting at once; past it async submissions get CD_EAGAIN and sync
 * ones wait for room. */
#define EN_DEFAULT_QUEUE_MAX 10000u
/* A commit group: at most this many transactions or log bytes per sync. */
#define EN_GROUP_TXNS_MAX 128u
#define EN_GROUP_BYTES_MAX (32ull << 20)

typedef struct en_options {
    uint32_t page_size;        /* for a new database; 0: default */
    enum en_sync sync;
    uint64_t checkpoint_bytes; /* auto-checkpoint when the log's pages (whole,
                                  however they are stored) pass it; 0: default */
    size_t cache_bytes;        /* bound on memory for pages; 0: default */
    int create;                /* create the database if it is missing */
    os_vfs *vfs;               /* NULL: the POSIX one */
    enum en_queue_kind queue_kind;
    en_queue_ops queue;        /* EN_QUEUE_CUSTOM */
    uint32_t queue_max;        /* 0: EN_DEFAULT_QUEUE_MAX */
    en_dispatcher dispatcher;  /* post == NULL: callbacks on the writer thread */
    int deferred;              /* open on the writer thread; return at once */
} en_options;

#define EN_DEFAULT_CHECKPOINT_BYTES (64ull << 20)
#define EN_DEFAULT_CACHE_BYTES ((size_t)64 << 20)
/* Reader slots: concurrent read transactions (then CD_EAGAIN). */
#define EN_READERS_MAX 256u
/* Named trees open in one handle, and the longest name. */
#define EN_TREES_MAX 1024u
#define EN_NAME_MAX 255u

/*
 * Opens (or with opt->create, creates) the database at path and its log
 * path + "-wal".  Errors: CD_EINVAL (bad options or path), CD_ENOTFOUND
 * (missing and not create), CD_EBUSY (locked by another handle or
 * process), CD_ENOTDB, CD_EVERSION, CD_ECORRUPT, CD_EIO, CD_EFULL,
 * CD_ENOMEM.  On failure nothing has been written to an existing file.
 */
int en_open(const char *path, const en_options *opt, en_db **out);
/* Checkpoints and closes.  CD_EBUSY (nothing done) while transactions are
 * open.  The handle is freed even if the final checkpoint fails (its
 * status is returned; the log keeps every commit), and CD_EREOPEN if a
 * failed write or sync had latched it (no final checkpoint). */
int en_close(en_db *db);

/*
 * Runs fn(txn, arg) in a write transaction on the writer thread, in queue
 * order, and waits: returns fn's error (rolled back) or the commit's
 * status, after the commit is durable (FULL).  Called on the writer thread
 * itself (from fn or a callback) it returns CD_EDEADLK at once.  Waits for
 * room when the queue is full.  CD_ECLOSED once closing.
 */
int en_write_sync(en_db *db, en_job_fn fn, void *arg);
/*
 * Queues fn(txn, arg) and returns at once.  *handle (if handle is non-NULL)
 * is a reference the caller releases with en_job_release; the job runs
 * either way.  name (may be NULL, copied) is for en_cancel_named.
 * CD_EAGAIN when the queue is full, CD_ECLOSED once closing, CD_ENOMEM.
 */
int en_write_async(en_db *db, en_job_fn fn, void *arg, const en_job_callbacks *cb,
                   const char *name, int priority, en_job **handle);
/* Removes a job that has not started: 0 (it gets complete(CD_ECANCELED)),
 * CD_EBUSY if it is running or done. */
int en_job_cancel(en_job *job);
/* Cancels every queued job named name; *count gets how many. */
int en_cancel_named(en_db *db, const char *name, size_t *count);
void en_job_release(en_job *job);
int en_job_priority(const en_job *job);
const char *en_job_name(const en_job *job); /* "" when unnamed */
/* 1 if the calling thread is db's writer thread. */
int en_on_writer(const en_db *db);
/* Close flags: cancel queued jobs instead of running them. */
#define EN_CLOSE_CANCEL 0x1u
int en_close_ex(en_db *db, unsigned flags);

/* ---- watchers ------------------------------------------------------------ */

/* What one commit changed in a watched tree.  keys (klens) are the keys
 * changed, when known (nkeys > 0 or keys_known); a dropped or cleared tree,
 * or more than EN_WATCH_KEYS_MAX changes, gives keys_known = 0. */
typedef struct en_change {
    const char *tree;
    uint64_t txn;
    int keys_known;
    uint32_t nkeys;
    const uint8_t *const *keys;
    const uint32_t *klens;
} en_change;
#define EN_WATCH_KEYS_MAX 1024u
typedef struct en_watch en_watch;
typedef void (*en_watch_fn)(void *arg, const en_change *change);
/* Calls fn after each commit that changed tree (key == NULL) or that one
 * key.  Through the dispatcher if there is one.  Any thread. */
int en_watch_add(en_db *db, const char *tree, const void *key, uint32_t klen,
                 en_watch_fn fn, void *arg, en_watch **out);
/* After it returns, fn is not called again for this watch and no call is
 * running (unless called from inside fn itself). */
void en_watch_remove(en_watch *w);

/* ---- transactions ------------------------------------------------------ */

/* A read transaction on the newest committed snapshot.  CD_EAGAIN if all
 * reader slots are taken, CD_ENOMEM. */
int en_read_begin(en_db *db, en_txn **out);
/* The write transaction.  Waits for another one to end.  CD_EREOPEN once
 * a sync has failed. */
int en_write_begin(en_db *db, en_txn **out);
/* Commits a write transaction (and ends it whatever happens).  A failure
 * rolls it back: nothing of it is visible. */
int en_commit(en_txn *txn);
/* Ends a read transaction or rolls back a write transaction. */
void en_txn_end(en_txn *txn);
int en_txn_is_write(const en_txn *txn);
uint64_t en_txn_id(const en_txn *txn);
/* The database a transaction belongs to. */
en_db *en_txn_db(const en_txn *txn);

/* ---- named trees ----------------------------------------------------------- */

/* A tree handle: valid for the life of the en_db, in any transaction. */
typedef uint32_t en_tree;
#define EN_TREE_CREATE 0x1u

/*
 * Finds tree `name` (1..EN_NAME_MAX bytes of UTF-8) in the catalog of
 * txn's snapshot; with EN_TREE_CREATE (write transactions only) creates it
 * when missing.  CD_ENOTFOUND, CD_EINVAL (bad name), CD_EREADONLY (create
 * in a read transaction), CD_ETOOBIG (EN_TREES_MAX).
 */
int en_tree_open(en_txn *txn, const char *name, unsigned flags, en_tree *out);
/* Deletes a tree and everything in it.  CD_ENOTFOUND. */
int en_tree_drop(en_txn *txn, const char *name);

/* A value: bytes valid until en_val_release (or the transaction ends). */
typedef struct en_val {
    const uint8_t *data;
    uint32_t len;
    void *priv_[3];
} en_val;

int en_get(en_txn *txn, en_tree t, const void *key, uint32_t klen, en_val *out);
void en_val_release(en_txn *txn, en_val *val);
/* flags: EN_PUT_NOOVERWRITE gives CD_EEXIST for an existing key. */
#define EN_PUT_NOOVERWRITE 0x1u
int en_put(en_txn *txn, en_tree t, const void *key, uint32_t klen,
           const void *val, uint32_t vlen, unsigned flags);
int en_del(en_txn *txn, en_tree t, const void *key, uint32_t klen);
/* A key and its value for en_put_run. */
typedef struct en_kv {
    const void *key;
    const void *val;
    uint32_t klen, vlen;
} en_kv;
/* Puts kv[0, n) in order, as n calls of en_put with flags 0 would, with
 * the same results; keys ascending past the tree's last key go into its
 * last leaf many to a visit.  *done gets how many were put: on a failure,
 * kv[*done] is the put that failed and the ones before it are in. */
int en_put_run(en_txn *txn, en_tree t, const en_kv *kv, uint32_t n, uint32_t *done);

/* Cursors: see bt.h for the movement rules.  A write to a tree closes
 * (invalidates) the open cursors of that tree in the transaction:
 * their next call returns CD_EINVAL. */
typedef struct isle_cursor en_cursor;
int en_cursor_open(en_txn *txn, en_tree t, en_cursor **out);
void en_cursor_close(en_cursor *c);
int en_cursor_first(en_cursor *c);
int en_cursor_last(en_cursor *c);
int en_cursor_seek(en_cursor *c, const void *key, uint32_t klen);
int en_cursor_next(en_cursor *c);
int en_cursor_prev(en_cursor *c);
int en_cursor_get(en_cursor *c, const uint8_t **key, uint32_t *klen, en_val *val);
/*
 * The current key and value read in place, with no en_val to release:
 * pointers into the page the cursor holds, valid until the cursor moves or
 * closes, or the tree is written.  *val is NULL when the value lives on
 * overflow pages (then read it with en_cursor_get); *vlen is its length
 * either way.  Fails as en_cursor_get does (CD_EINVAL once the tree was
 * written or the transaction ended), but never reads a page.
 */
int en_cursor_peek(en_cursor *c, const uint8_t **key, uint32_t *klen, const uint8_t **val,
                   uint32_t *vlen);
/*
 * Calls fn(arg, key, klen, val, vlen) for the current entry and each one
 * after it in direction dir (+1 or -1), with the cursor on that entry (so
 * fn may read it with en_cursor_get), until fn returns non-zero (returned,
 * the cursor on that entry) or the walk passes the tree's end
 * (CD_ENOTFOUND).  key and val are valid while fn runs: in the leaf, or
 * for a value on overflow pages, read into memory the walk frees after.  Checked after
 * each call: the transaction still open and the tree not written (fn may
 * do either; the walk then fails as en_cursor_next would).
 */
typedef int (*en_each_fn)(void *arg, const uint8_t *key, uint32_t klen, const uint8_t *val,
                          uint32_t vlen);
int en_cursor_each(en_cursor *c, int dir, en_each_fn fn, void *arg);

/* ---- maintenance ---------------------------------------------------------- */

/* Copies committed pages into the main file and resets the log when no
 * reader still uses it.  CD_EBUSY inside a write transaction. */
int en_checkpoint(en_db *db);
/* The same; with trim, a log reset also truncates the log file to its
 * header (instead of keeping its space for reuse). */
int en_checkpoint_ex(en_db *db, int trim);

typedef struct en_stats {
    uint32_t page_size;
    uint64_t page_count;
    uint64_t free_pages;
    uint64_t freelist_pages;
    uint64_t trees;
    uint64_t log_bytes;
    uint64_t last_txn;
    uint64_t oldest_reader_txn; /* 0 if no reader */
    uint32_t readers;
    uint32_t catalog_depth;
    uint64_t checkpoints;
    uint64_t commits;
    uint64_t log_syncs;
    uint64_t spilled_pages;  /* dirty pages written early: large writes */
    uint64_t direct_pages;   /* pages of large writes written straight to
                                the main file (en_pager.c) */
    uint64_t cache_pages;    /* page images the shared cache holds, those
                                retired and not yet freed included */
    uint64_t delta_frames;   /* since open: log frames stored as deltas */
    uint64_t map_checks;     /* since open: main-file pages verified through
                                the mapping at their first use (en_map.c) */
} en_stats;
int en_stat(en_db *db, en_stats *st);

/* Per-tree figures for en_tree_stat_each. */
typedef struct en_tree_stats {
    const char *name;
    uint32_t depth;
    uint64_t entries, branch_pages, leaf_pages, overflow_pages, bytes_used;
} en_tree_stats;
int en_tree_stat_each(en_db *db, void (*fn)(void *arg, const en_tree_stats *st),
                      void *arg);

/*
 * The integrity check of the newest committed snapshot: every page is
 * reachable exactly once (from the catalog, a tree, an overflow chain or
 * the free list) or is a free page, every page verifies, keys are in order
 * within and across pages, children lie within their parents' bounds.
 * Returns 0, or CD_ECORRUPT with *bad_pgno and the message (en_errmsg)
 * naming the first problem, or an I/O status.
 */
int en_check(en_db *db, uint64_t *bad_pgno);

/* The calling thread's message about its last failure ("" if none), and
 * the setter every layer above uses.  en_fail returns code.  en_errmsg
 * returns the same thread-local buffer every time on one thread, so a
 * caller may keep the pointer and look at the current message through
 * it. */
const char *en_errmsg(void);
int en_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void en_clear_error(void);

#endif /* ISLE_EN_H */
