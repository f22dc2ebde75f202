/*
 * isle.h: the public interface of isle, an embeddable object store.
 *
 * This is the only header isle installs; every handle it names is opaque.
 *
 * Conventions, for every function below:
 *  - The return value is an int status: 0 (ISLE_OK) on success, a negative
 *    ISLE_E* code on failure.  Each function lists the codes it can return.
 *  - On failure nothing the function was asked to change has changed.
 *  - isle_strerror(code) names a code; isle_errmsg() gives the calling
 *    thread's detailed message about its most recent failure (for example
 *    which page was corrupt and where that was detected).
 *  - Times are int64_t microseconds since 1970-01-01T00:00:00Z (UTC);
 *    ISLE_NULL_TIME (INT64_MIN) is the null datetime.
 *
 * Thread safety: every function here may be called from any thread.
 */
#ifndef ISLE_H
#define ISLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ISLE_API __attribute__((visibility("default")))
#else
#define ISLE_API
#endif

/* ---- version ------------------------------------------------------------ */

#define ISLE_VERSION_MAJOR 0
#define ISLE_VERSION_MINOR 1
#define ISLE_VERSION_PATCH 0
#define ISLE_VERSION_STRING "0.1.0"
/* The on-disk format version this library writes and the newest it reads. */
#define ISLE_FORMAT_VERSION 1

/* The library's version string, "MAJOR.MINOR.PATCH"; static storage. */
ISLE_API const char *isle_version(void);

/* ---- status codes (stable: never renumbered) ----------------------------- */

#define ISLE_OK 0
#define ISLE_EINVAL (-1)     /* an argument is NULL or out of its domain */
#define ISLE_ECORRUPT (-2)   /* stored bytes failed validation */
#define ISLE_ENOMEM (-3)     /* out of memory, or a caller buffer too small */
#define ISLE_EIO (-4)        /* the operating system reported an I/O error */
#define ISLE_ENOTDB (-5)     /* the file is not an isle database */
#define ISLE_EVERSION (-6)   /* the file's format is newer than this library */
#define ISLE_EBUSY (-7)      /* locked by another opener, or still in use */
#define ISLE_ETOOBIG (-8)    /* a named limit (below) was exceeded */
#define ISLE_ENOTFOUND (-9)  /* no such object, collection or key */
#define ISLE_ESCHEMA (-10)   /* the schema disagrees with the stored one */
#define ISLE_EFULL (-11)     /* the disk is full */
#define ISLE_ECANCELED (-12) /* a queued transaction was cancelled */
#define ISLE_EDEADLK (-13)   /* the call would wait on its own thread */
#define ISLE_EREADONLY (-14) /* a write through a read transaction */
#define ISLE_EREOPEN (-15)   /* a sync failed: the handle must be reopened */
#define ISLE_ECLOSED (-16)   /* the handle was closed */
#define ISLE_EAGAIN (-17)    /* a bounded queue is full; try again */
#define ISLE_EEXIST (-18)    /* the key, object or name exists already */

/*
 * A short, static description of a status code ("corrupt data", ...).
 * Unknown codes give "unknown error".  Never returns NULL.
 */
ISLE_API const char *isle_strerror(int code);

/*
 * The calling thread's detailed message about its most recent failed isle
 * call, or "" if there was none.  Valid until the thread's next isle call.
 */
ISLE_API const char *isle_errmsg(void);

/* ---- limits --------------------------------------------------------------- */

#define ISLE_PAGE_SIZE_MIN 4096u         /* page sizes: powers of two ... */
#define ISLE_PAGE_SIZE_MAX 65536u        /* ... in [MIN, MAX] */
#define ISLE_PAGE_SIZE_DEFAULT 4096u
#define ISLE_OBJECT_SIZE_MAX (16u * 1024 * 1024) /* encoded object bytes */
#define ISLE_NEST_DEPTH_MAX 32u          /* embedded objects, top level = 1 */
#define ISLE_FIELDS_MAX 1024u            /* fields of one object type */
#define ISLE_KEY_SIZE_MAX 512u           /* encoded index key bytes */

/* ---- databases ------------------------------------------------------------- */

/*
 * A database is one file (path) and its write-ahead log (path + "-wal").
 * A handle may be used from any thread.  Opening takes an exclusive lock
 * on the file: a second open, in this process or another, fails with
 * ISLE_EBUSY until the first handle is closed.
 *
 * Every write transaction runs on the database's own writer thread, one at
 * a time, in the order of its queue; readers run on any thread and never
 * wait for it.
 */
typedef struct isle_db isle_db;
typedef struct isle_txn isle_txn;

/* A queued asynchronous write (see isle_write_async). */
typedef struct isle_job isle_job;

/* Priorities of the priority queue: higher runs first, FIFO among equal
 * priorities.  Any int may be used; these are the named ones. */
#define ISLE_PRIORITY_LOW 0
#define ISLE_PRIORITY_NORMAL 1
#define ISLE_PRIORITY_HIGH 2
#define ISLE_PRIORITY_UI 5

/* Write queues. */
#define ISLE_QUEUE_FIFO 0     /* submission order (the default) */
#define ISLE_QUEUE_PRIORITY 1 /* by priority, then submission order */
#define ISLE_QUEUE_CUSTOM 2   /* isle_options.custom_queue */

/*
 * An application's own queue.  isle calls these with its queue lock held,
 * from any thread, never two at once, so they need no locking; they must
 * not call isle.  add: 0 to accept the job (or an ISLE_E* to refuse it);
 * next: the job to run now, or NULL when empty; remove: 1 if job was queued
 * and is now removed, else 0; remove_named: remove and return one queued
 * job whose isle_job_name() equals name, or NULL; quit (may be NULL): the
 * database is closing and the queue is empty.  q is passed to each.
 */
typedef struct isle_queue_ops {
    int (*add)(void *q, isle_job *job);
    isle_job *(*next)(void *q);
    int (*remove)(void *q, isle_job *job);
    isle_job *(*remove_named)(void *q, const char *name);
    void (*quit)(void *q);
    void *q;
} isle_queue_ops;

/*
 * A dispatcher hands callbacks (of asynchronous writes and watchers) to
 * the application's event loop: post must arrange for fn(arg) to be called
 * exactly once, on any thread, later or at once.  Without one, callbacks
 * run on the writer thread.
 */
typedef struct isle_dispatcher {
    void (*post)(void (*fn)(void *arg), void *arg, void *ctx);
    void *ctx;
} isle_dispatcher;


/* Durability of a commit. */
#define ISLE_SYNC_FULL 0   /* on disk when the commit returns (one log sync) */
#define ISLE_SYNC_NORMAL 1 /* the log is synced at checkpoints: a crash may
                              lose the last commits, never consistency */
#define ISLE_SYNC_OFF 2    /* never synced: for scratch data */

typedef struct isle_options {
    uint32_t page_size;        /* new databases: a power of two in
                                  [ISLE_PAGE_SIZE_MIN, MAX]; 0: 4096 */
    int sync;                  /* ISLE_SYNC_*; default FULL */
    uint64_t checkpoint_bytes; /* checkpoint when the log passes this;
                                  0: 64 MiB */
    size_t cache_bytes;        /* memory bound for pages; 0: 64 MiB */
    int create;                /* create a missing database (default 1) */
    int queue;                 /* ISLE_QUEUE_FIFO (default), _PRIORITY, _CUSTOM */
    isle_queue_ops custom_queue; /* ISLE_QUEUE_CUSTOM: the application's queue */
    uint32_t queue_max;        /* jobs waiting at once; 0: 10000 */
    isle_dispatcher dispatcher; /* post == NULL: callbacks on the writer thread */
    int deferred_open;         /* return at once; open on the writer thread */
} isle_options;

/* Fills *opt with the defaults. */
ISLE_API void isle_options_init(isle_options *opt);

/*
 * Opens the database at path (opt NULL: the defaults).  A log left by a
 * crash is recovered: every transaction whose commit returned (in FULL
 * mode) is there, and no part of one that did not.
 * Errors: ISLE_EINVAL (NULL or empty path, bad options), ISLE_ENOTFOUND
 * (missing and opt->create is 0), ISLE_EBUSY (locked by another handle or
 * process), ISLE_ENOTDB (not an isle database), ISLE_EVERSION (written by
 * a newer format), ISLE_ECORRUPT (damaged beyond recovery; the message
 * names the page or log offset), ISLE_EIO, ISLE_EFULL, ISLE_ENOMEM.  A file
 * that fails to open is not written to.
 */
ISLE_API int isle_open(const char *path, const isle_options *opt, isle_db **out);

/*
 * With opt->deferred_open, isle_open returns at once (after checking its
 * arguments) and the writer thread opens and recovers the database; writes
 * submitted meanwhile wait for it, read transactions begun meanwhile wait
 * for it, and if it fails each of them gets the open's error (and
 * isle_close just frees the handle).
 */

/*
 * Waits for every queued write to finish, checkpoints and closes the
 * database, stops its writer thread and releases its lock.  Errors:
 * ISLE_EINVAL (NULL), ISLE_EBUSY (read transactions are still open, or
 * called inside a write or a callback on the writer thread: nothing is
 * done).  Any other failure is from the final checkpoint: the handle is
 * closed anyway and no commit is lost (the log keeps it).  The handle is
 * freed: using it afterwards is undefined.
 */
ISLE_API int isle_close(isle_db *db);
/* The same; with ISLE_CLOSE_CANCEL, queued writes that have not started
 * are cancelled (complete(ISLE_ECANCELED)) instead of run. */
#define ISLE_CLOSE_CANCEL 0x1u
ISLE_API int isle_close_ex(isle_db *db, unsigned flags);

/* ---- transactions ---------------------------------------------------------- */

/*
 * A read transaction sees one committed state, the newest when it began,
 * for its whole life, whatever commits meanwhile.  Beginning, reading and
 * ending take no lock and never wait for a writer.  Any number may be open
 * on any threads; one transaction is used by one thread at a time.  A long
 * read keeps pages it can see from being reused (the file grows instead).
 * Errors: ISLE_EINVAL (NULL), ISLE_EAGAIN (all 256 reader slots in use),
 * ISLE_ENOMEM.
 */
ISLE_API int isle_read_begin(isle_db *db, isle_txn **out);
/* Ends a read transaction: values and cursors of it become invalid.
 * Errors: ISLE_EINVAL (NULL, or a write transaction). */
ISLE_API int isle_read_end(isle_txn *txn);

/*
 * Runs fn(txn, arg) in a write transaction and commits it if fn returns
 * 0; if fn returns an error, rolls back (nothing of it is visible) and
 * returns that error.  Write transactions run one at a time.  Calling
 * isle_write again from inside fn returns ISLE_EDEADLK.
 * Errors: fn's own, ISLE_EINVAL (NULL db or fn), ISLE_EDEADLK, ISLE_EREOPEN
 * (a sync failed earlier: close and reopen), and from the commit ISLE_EIO,
 * ISLE_EFULL, ISLE_ENOMEM: a commit that fails writing or syncing the log
 * is not visible, and the handle then refuses writes (ISLE_EREOPEN) until
 * it is reopened, which recovers every acknowledged commit.
 */
typedef int (*isle_write_fn)(isle_txn *txn, void *arg);
ISLE_API int isle_write(isle_db *db, isle_write_fn fn, void *arg);

/*
 * Callbacks of an asynchronous write, each optional: ready just before fn
 * runs; then success (after the commit is durable, with its transaction
 * id) or error (after the rollback, with the code); then complete (always,
 * last, with 0 or the code).  A cancelled write gets only complete, with
 * ISLE_ECANCELED.  They run on the writer thread, or through the
 * dispatcher when there is one.
 *
 * A callback on the writer thread holds up every write behind it, so it
 * must be short and must not block: it may read (isle_read_begin), queue
 * more writes (isle_write_async, which never blocks), cancel, and watch;
 * isle_write and isle_close from it return ISLE_EDEADLK / ISLE_EBUSY.
 */
typedef struct isle_write_callbacks {
    void (*ready)(void *arg);
    void (*success)(void *arg, uint64_t txn_id);
    void (*error)(void *arg, int code);
    void (*complete)(void *arg, int code);
} isle_write_callbacks;

/*
 * Queues fn(txn, arg) to run on the writer thread and returns at once.
 * cb (may be NULL) and arg are passed to the callbacks.  name (may be NULL;
 * at most 63 bytes, copied) lets isle_cancel_named find it; priority
 * orders a priority queue.  With handle non-NULL, *handle is a reference
 * to the job for isle_job_cancel, released with isle_job_release (the job
 * runs whether or not it is released).
 * Errors: ISLE_EINVAL (NULL db or fn, name too long), ISLE_EAGAIN (the
 * queue holds queue_max jobs: back off and retry), ISLE_ECLOSED (the
 * database is closing), ISLE_ENOMEM, or the custom queue's refusal.
 */
ISLE_API int isle_write_async(isle_db *db, isle_write_fn fn, void *arg,
                              const isle_write_callbacks *cb, const char *name,
                              int priority, isle_job **handle);
/* Cancels a job that has not started: 0 (it gets complete(ISLE_ECANCELED)),
 * ISLE_EBUSY if it is running or done (a running job is not interrupted),
 * ISLE_EINVAL for NULL. */
ISLE_API int isle_job_cancel(isle_job *job);
/* Cancels every queued job named name; *count (may be NULL) gets how many.
 * Errors: ISLE_EINVAL (NULL or empty name). */
ISLE_API int isle_cancel_named(isle_db *db, const char *name, size_t *count);
/* Releases a handle from isle_write_async (NULL is a no-op). */
ISLE_API void isle_job_release(isle_job *job);
/* For custom queues: a job's priority and name ("" if unnamed). */
ISLE_API int isle_job_priority(const isle_job *job);
ISLE_API const char *isle_job_name(const isle_job *job);

/*
 * Bulk processing: fn(txn, item, arg) for each of count items of item_size
 * bytes at items, in one write transaction on the writer thread, calling
 * progress(current, total, item, arg) (may be NULL) after each item on the
 * writer thread.  The first error from fn rolls the whole transaction back
 * and is returned.  Errors: as isle_write, and ISLE_EINVAL for NULL items
 * with count > 0 or item_size 0.
 */
typedef int (*isle_process_fn)(isle_txn *txn, const void *item, void *arg);
typedef void (*isle_progress_fn)(size_t current, size_t total, const void *item,
                                 void *arg);
ISLE_API int isle_write_process(isle_db *db, const void *items, size_t count,
                                size_t item_size, isle_process_fn fn,
                                isle_progress_fn progress, void *arg);

/* ---- watchers ----------------------------------------------------------------- */

/*
 * What one commit changed in a watched tree.  keys[i] (klens[i] bytes) are
 * the keys it put or deleted, when known (keys_known); a dropped tree or a
 * commit that changed more than 1024 keys of it reports keys_known = 0.
 * Valid during the callback only.
 */
typedef struct isle_change {
    const char *tree;
    uint64_t txn;
    int keys_known;
    uint32_t nkeys;
    const void *const *keys;
    const uint32_t *klens;
} isle_change;
typedef void (*isle_watch_fn)(void *arg, const isle_change *change);
typedef struct isle_watch isle_watch;

/*
 * Calls fn(arg, change) once after each commit that changed tree `name`
 * (key == NULL) or only the entry `key` of it, after the commit is durable
 * and visible to new readers; on the writer thread or through the
 * dispatcher.  Any thread may add or remove watchers.  Errors: ISLE_EINVAL
 * (NULL db, fn, name or out; empty or too long name or key), ISLE_ENOMEM.
 */
ISLE_API int isle_watch_tree(isle_db *db, const char *name, isle_watch_fn fn,
                             void *arg, isle_watch **out);
ISLE_API int isle_watch_key(isle_db *db, const char *name, const void *key,
                            size_t klen, isle_watch_fn fn, void *arg,
                            isle_watch **out);
/* Removes a watcher.  When it returns, fn is not running (unless this is
 * called from fn itself) and will not be called again, so arg may be
 * freed; a call already posted to the dispatcher finds it gone and does
 * nothing.  NULL is a no-op. */
ISLE_API void isle_unwatch(isle_watch *w);

/* ---- key/value trees ------------------------------------------------------- */

/*
 * Named trees of byte keys (1..512 bytes, memcmp order, shorter first on a
 * common prefix) and byte values (0..ISLE_OBJECT_SIZE_MAX bytes), the layer
 * collections are built on.  A tree handle is valid in every transaction
 * of its database until it closes.
 */
typedef uint32_t isle_tree;
#define ISLE_KV_CREATE 0x1u       /* isle_kv_open: create if missing */
#define ISLE_KV_NOOVERWRITE 0x1u  /* isle_kv_put: fail if the key exists */
#define ISLE_KV_KEY_MAX 512u

/* A value read from a tree: data[0, len) stays valid and unchanged until
 * isle_kv_release or the end of its transaction.  In a write transaction,
 * release values of a tree before writing to that tree. */
typedef struct isle_val {
    const void *data;
    size_t len;
    void *priv_[3];
} isle_val;

/*
 * Finds tree `name` (1..255 bytes of UTF-8) in txn's snapshot; with
 * ISLE_KV_CREATE, in a write transaction, creates it if missing.
 * Errors: ISLE_EINVAL (NULL, bad name or flags), ISLE_ENOTFOUND,
 * ISLE_EREADONLY (create in a read transaction), ISLE_ETOOBIG (1024 names
 * per handle), ISLE_ECORRUPT, ISLE_EIO.
 */
ISLE_API int isle_kv_open(isle_txn *txn, const char *name, unsigned flags,
                          isle_tree *out);
/* Deletes tree `name` and its contents.  Errors: as isle_kv_open, and
 * ISLE_EREADONLY in a read transaction. */
ISLE_API int isle_kv_drop(isle_txn *txn, const char *name);

/* Errors for the three below: ISLE_EINVAL (NULL, empty key, unknown
 * handle), ISLE_ETOOBIG (key or value too long), ISLE_ENOTFOUND (no such
 * key, or the tree does not exist in this snapshot), ISLE_EREADONLY (put
 * or del in a read transaction), ISLE_EEXIST (put with
 * ISLE_KV_NOOVERWRITE), ISLE_ECORRUPT, ISLE_EIO, ISLE_ENOMEM.  A put or del
 * failing with another code than EINVAL, ETOOBIG, ENOTFOUND or EEXIST
 * leaves the write transaction able only to roll back. */
ISLE_API int isle_kv_get(isle_txn *txn, isle_tree tree, const void *key,
                         size_t klen, isle_val *out);
ISLE_API int isle_kv_put(isle_txn *txn, isle_tree tree, const void *key,
                         size_t klen, const void *val, size_t vlen,
                         unsigned flags);
ISLE_API int isle_kv_del(isle_txn *txn, isle_tree tree, const void *key,
                         size_t klen);
/* Releases a value (a zeroed isle_val is a no-op). */
ISLE_API void isle_kv_release(isle_txn *txn, isle_val *val);

/*
 * Cursors walk a tree in key order.  first/last/seek (the first key >=
 * key) return ISLE_ENOTFOUND when there is no such entry; next/prev return
 * ISLE_ENOTFOUND past either end and stay where they were.  A write to the
 * tree in the same transaction invalidates its cursors (ISLE_EINVAL
 * afterwards).  Close cursors before the transaction ends or commits.
 * isle_cursor_get: the key points into the database, valid until the
 * cursor moves; the value as isle_kv_get (val may be NULL).
 */
typedef struct isle_cursor isle_cursor;
ISLE_API int isle_cursor_open(isle_txn *txn, isle_tree tree, isle_cursor **out);
ISLE_API void isle_cursor_close(isle_cursor *cur);
ISLE_API int isle_cursor_first(isle_cursor *cur);
ISLE_API int isle_cursor_last(isle_cursor *cur);
ISLE_API int isle_cursor_seek(isle_cursor *cur, const void *key, size_t klen);
ISLE_API int isle_cursor_next(isle_cursor *cur);
ISLE_API int isle_cursor_prev(isle_cursor *cur);
ISLE_API int isle_cursor_get(isle_cursor *cur, const void **key, size_t *klen,
                             isle_val *val);

/* ---- maintenance ----------------------------------------------------------- */

/*
 * Copies committed pages from the log into the database file and resets
 * the log once no reader still uses it.  Waits for a running write.
 * Errors: ISLE_EINVAL, ISLE_EBUSY (inside a write), ISLE_EREOPEN, ISLE_EIO,
 * ISLE_EFULL.
 */
ISLE_API int isle_checkpoint(isle_db *db);

typedef struct isle_stats {
    uint32_t page_size;
    uint64_t page_count;        /* pages in the file, meta pages included */
    uint64_t free_pages;
    uint64_t freelist_pages;
    uint64_t trees;
    uint32_t catalog_depth;
    uint64_t log_bytes;
    uint64_t last_txn;
    uint64_t oldest_reader_txn; /* snapshot of the oldest open read, 0: none */
    uint32_t readers;
    uint64_t checkpoints, commits, log_syncs; /* since open */
    uint64_t spilled_pages; /* since open: pages of write transactions larger
                               than cache_bytes, written to the log early */
} isle_stats;
/* Errors: ISLE_EINVAL, ISLE_EDEADLK (inside a write), ISLE_ECORRUPT, ISLE_EIO. */
ISLE_API int isle_stat(isle_db *db, isle_stats *st);

/* One tree's shape, for isle_stat_trees (name valid during the call). */
typedef struct isle_tree_stats {
    const char *name;
    uint32_t depth; /* levels: 0 empty, 1 a single leaf */
    uint64_t entries, branch_pages, leaf_pages, overflow_pages, bytes_used;
} isle_tree_stats;
/* Calls fn once per tree of the newest snapshot, in name order.  Errors:
 * ISLE_EINVAL, ISLE_EAGAIN, ISLE_ECORRUPT, ISLE_EIO, ISLE_ENOMEM. */
ISLE_API int isle_stat_trees(isle_db *db, void (*fn)(void *arg, const isle_tree_stats *st),
                             void *arg);

/*
 * Verifies the whole database: every page is reachable exactly once or is
 * free, checksums, key order within and across pages, child bounds, the
 * free list.  Returns 0 when sound; ISLE_ECORRUPT with *bad_page (may be
 * NULL) and isle_errmsg() naming the first problem; ISLE_EIO, ISLE_ENOMEM;
 * ISLE_EDEADLK inside a write.
 */
ISLE_API int isle_check(isle_db *db, uint64_t *bad_page);

/* ---- time ------------------------------------------------------------------ */

#define ISLE_NULL_TIME INT64_MIN

/*
 * Conversions between UTC microseconds and the C library's time types.
 * Rounding is toward negative infinity: -1 us is 1969-12-31T23:59:59.999999Z
 * (time_t -1, timespec {-1, 999999000}); converting to a coarser unit drops
 * the finer digits that way, converting to a finer one is exact.  Outputs
 * are written only on success.
 *
 * Errors (all of them): ISLE_EINVAL for a NULL pointer, a null time
 * (ISLE_NULL_TIME), a malformed input (tv_nsec outside [0, 999999999],
 * usec_part outside [0, 999999]) or a value the destination cannot hold
 * (seconds whose microseconds overflow int64_t; a year beyond int).
 */
ISLE_API int isle_time_from_timespec(const struct timespec *ts, int64_t *us);
ISLE_API int isle_time_to_timespec(int64_t us, struct timespec *ts);
ISLE_API int isle_time_from_time_t(time_t t, int64_t *us);
ISLE_API int isle_time_to_time_t(int64_t us, time_t *t);
/*
 * Broken-down time, in the process's local time zone (TZ; call tzset()
 * after changing it) or in UTC, to and from microseconds.  *usec_part
 * receives / supplies the microseconds within the second.  Reading a
 * struct tm normalises out-of-range fields as mktime/timegm do and ignores
 * tm_wday and tm_yday; for local time tm_isdst < 0 lets the C library
 * decide whether daylight saving time applies.
 */
ISLE_API int isle_time_to_local(int64_t us, struct tm *tm, int32_t *usec_part);
ISLE_API int isle_time_from_local(const struct tm *tm, int32_t usec_part,
                                  int64_t *us);
ISLE_API int isle_time_to_utc(int64_t us, struct tm *tm, int32_t *usec_part);
ISLE_API int isle_time_from_utc(const struct tm *tm, int32_t usec_part,
                                int64_t *us);
/* The current time, from CLOCK_REALTIME.  Errors: ISLE_EINVAL (NULL). */
ISLE_API int isle_time_now(int64_t *us);

#ifdef __cplusplus
}
#endif
#endif /* ISLE_H */
