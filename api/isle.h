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
/* The on-disk format version of the database file this library writes and
 * the newest it reads.  The log beside it (`<path>-wal`) has its own, 2
 * since delta frames: an older library refuses such a log with
 * ISLE_EVERSION, and this one reads version 1 logs. */
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
 * wait for it.  The first transaction that changes more than 2 MiB of
 * pages, pages new to the file among them (a bulk load), also starts a
 * thread of the database that writes such pages to the file behind it.
 * When the process may run on more than one core (its affinity mask),
 * these threads and a caller waiting for its own write poll for up to a
 * few hundred microseconds before they sleep, since a wake-up costs tens
 * of microseconds; on one core none polls.  Threads inherit the affinity
 * of the thread that starts them (the writer: the one calling isle_open).
 * While a load runs, the thread writing behind, if it finds itself on the
 * writer's core, narrows its own affinity to the other cores it was
 * allowed (Linux), and takes the whole of it back before it sleeps.
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
    uint64_t checkpoint_bytes; /* checkpoint when the pages in the log,
                                  counted whole (the log stores them
                                  without their free space, or as their
                                  changes since a logged copy), pass this;
                                  0: 64 MiB */
    size_t cache_bytes;        /* memory bound for the pages isle holds
                                  (pages of the log, and a write
                                  transaction's changed pages, each up to
                                  this); 0: 64 MiB.  Pages of the main file
                                  are read in place from a read-only
                                  mapping: the operating system's page
                                  cache holds them, shared, outside this
                                  bound.  A write transaction whose
                                  changed pages pass it writes them out
                                  early: pages new to the file straight
                                  to the main file (synced before the
                                  commit record), others to the log */
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
 * mode) is there, and no part of one that did not.  The open reads the
 * log once and writes no page: the recovered log stays, new commits follow
 * it, and it is checkpointed as any log is (after a commit that finds it
 * past checkpoint_bytes, by isle_checkpoint, or at the close).
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
 * database, stops its writer thread (and the thread that writes large
 * loads' pages behind them, started by the first such load) and releases
 * its lock.  Errors:
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
 * dispatcher.  A commit whose log write or sync failed (the handle is
 * then latched) is never reported.  Any thread may add or remove
 * watchers.  Errors: ISLE_EINVAL (NULL db, fn, name or out; empty or too
 * long name or key), ISLE_ENOMEM.
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
 * release values of a tree before writing to that tree: a value held
 * across such a write stays readable memory, but its bytes may change. */
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

/* ---- collections ----------------------------------------------------------- */

/*
 * A collection stores objects of one C struct type under int64_t ids.  It
 * is declared once, from the struct, by a field table:
 *
 *     typedef struct Todo {
 *         int64_t id;             // ISLE_AUTO_ID (0): assign the next id
 *         char *title;            // string: NULL is null
 *         isle_bool done;         // bool: ISLE_NULL_BOOL, 0, 1
 *         int64_t due;            // datetime: ISLE_NULL_TIME is null
 *         enum prio prio;         // enum, stored by name
 *         char **tags;            // list of strings (NULL: null list) ...
 *         uint32_t ntags;         // ... and its length
 *         Note *note;             // embedded object: NULL is null
 *         void *ui;               // not stored
 *     } Todo;
 *
 *     static const isle_field todo_fields[] = {
 *         ISLE_FIELD(Todo, title, ISLE_STRING),
 *         ISLE_FIELD(Todo, done, ISLE_BOOL),
 *         ISLE_FIELD_AS(Todo, due, "due_at", ISLE_DATETIME),
 *         ISLE_FIELD(Todo, prio, ISLE_ENUM(&prio_enum, ISLE_ENUM_NAME)),
 *         ISLE_LIST(Todo, tags, ntags, ISLE_STRING),
 *         ISLE_FIELD(Todo, note, ISLE_EMBED(&note_schema)),
 *         ISLE_IGNORE(Todo, ui),
 *     };
 *     static const isle_schema todo_schema = ISLE_COLLECTION(Todo, id, todo_fields);
 *
 * Each field has a stored name: its C name, or the one ISLE_*_AS gives,
 * which is what lets a C member be renamed without losing its data.  A
 * member the table does not list (or lists with ISLE_IGNORE) is not
 * stored and is left alone by reads.
 *
 * Types, the C member each takes, and its null:
 *
 *   ISLE_BOOL      isle_bool (ISLE_NULL_BOOL, 0, 1; any other value is
 *                  true), or bool (never null: null reads as false)
 *   ISLE_BYTE      uint8_t (never null: null reads as 0)
 *   ISLE_SHORT     int32_t, null ISLE_NULL_SHORT (INT32_MIN)
 *   ISLE_INT       int64_t, null ISLE_NULL_INT (INT64_MIN)
 *   ISLE_FLOAT     float, null ISLE_NULL_FLOAT (any NaN)
 *   ISLE_DOUBLE    double, null ISLE_NULL_DOUBLE (any NaN)
 *   ISLE_DATETIME  int64_t UTC microseconds, null ISLE_NULL_TIME; see the
 *                  time helpers below for time_t, timespec and local time
 *   ISLE_STRING    char * (or const char *), NUL-terminated UTF-8, NULL
 *                  is null; or an isle_str member (pointer and length,
 *                  below), which a read fills with the length too
 *   ISLE_ENUM(e, storage)  any integer or enum member holding one of the
 *                  C values listed in the isle_enum e; stored as
 *                  ISLE_ENUM_ORDINAL (its index, 1 byte; never null),
 *                  ISLE_ENUM_ORDINAL32 (index, 4 bytes), ISLE_ENUM_NAME
 *                  (its name, a string) or ISLE_ENUM_VALUE (its custom
 *                  int64 value).  e's null_value, if it is nullable, is
 *                  the C value meaning null.
 *   ISLE_EMBED(s)  S * (a pointer to a struct declared with ISLE_EMBEDDED),
 *                  NULL; embedded objects nest to any depth up to
 *                  ISLE_NEST_DEPTH_MAX, and may contain themselves (trees)
 *   ISLE_EMBED_INLINE(s)  an S member held by value (never null: null
 *                  reads as an object whose fields are all null)
 *
 * ISLE_LIST(T, member, count_member, TYPE) is a list of any of these: a
 * pointer to the first of count elements (NULL: a null list; a non-NULL
 * pointer with count 0: an empty one) and an integer member holding count.
 * Elements are the types above (bool elements are isle_bool or bool; a
 * list of strings is a char ** whose NULL elements are nulls, or an
 * isle_str * whose elements with a NULL ptr are; a list of
 * embedded objects is an array of structs, S *).
 *
 * Schema evolution.  The schema is stored in the database, and it keeps
 * every field ever declared.  Opening a collection with a field the stored
 * schema lacks adds it (older objects read it as null); a field the C
 * table no longer lists is ignored (its old values stay in older objects
 * and are never read); nullability is not stored (nulls are sentinels), so
 * a number field can become nullable or not freely.  A field whose stored
 * name is kept but whose type changed (including an enum's storage, or an
 * embedded object's type name) is an ISLE_ESCHEMA error naming the
 * collection and field, and changes nothing.
 *
 * Lifetime.  Objects read (get, get_many, cursors, scans) are decoded into
 * the caller's struct; strings, lists and embedded objects are copied into
 * a caller-provided isle_arena and stay valid until that arena is reset or
 * freed, whatever happens to the transaction.  (Why not point into the
 * database until the transaction ends, as isle_kv_get does: measured on
 * the benchmark's objects, a random get and full decode costs the same
 * either way (2,448 instructions zero-copy, 2,482 copying: 1.4%), while
 * zero-copy would keep every object's page pinned until the transaction
 * ends and would still need memory for lists of numbers, whose stored
 * elements are not aligned, and for embedded structs.)
 *
 * Transactions.  Every function below that reads takes a read or a write
 * transaction (reads in a write transaction see its own writes); every
 * function that writes takes the write transaction of isle_write and
 * returns ISLE_EREADONLY for a read transaction.  A write that fails with
 * ISLE_EINVAL, ISLE_ETOOBIG, ISLE_ENOTFOUND or ISLE_ESCHEMA has changed
 * nothing; any other failure (I/O, memory) leaves the transaction able
 * only to roll back: return the error from the isle_write function.
 *
 * The id is the key; it is not part of the stored record.  Valid ids are
 * every int64_t except ISLE_AUTO_ID (0), which asks put for the next
 * auto-increment id: one more than the largest id the collection has held
 * since it was last cleared (so ids are never reused after deletes; only
 * isle_coll_clear resets them), written back into the struct.
 */

typedef int8_t isle_bool; /* ISLE_NULL_BOOL, 0 (false), 1 (true) */

/*
 * A string with its length, for an ISLE_STRING field or list element that
 * should not be measured with strlen.  Written: ptr NULL (with len 0) is
 * null; otherwise the len bytes at ptr, which must be UTF-8 with no NUL
 * (ptr need not be NUL-terminated).  Read: {NULL, 0} for null, else ptr
 * is the string (NUL-terminated as well, in the arena or, with
 * ISLE_SCAN_BORROW, in the stored bytes) and len its length in bytes.
 * The stored form is the same as a char * field's, so a member can change
 * between the two without changing the schema.
 */
typedef struct isle_str {
    const char *ptr;
    size_t len;
} isle_str;
#define ISLE_NULL_BOOL ((isle_bool)-1)
#define ISLE_NULL_SHORT INT32_MIN
#define ISLE_NULL_INT INT64_MIN
#if defined(__GNUC__) || defined(__clang__)
#define ISLE_NULL_FLOAT (__builtin_nanf(""))
#define ISLE_NULL_DOUBLE (__builtin_nan(""))
#else
#define ISLE_NULL_FLOAT ((float)NAN) /* NAN: include <math.h> */
#define ISLE_NULL_DOUBLE ((double)NAN)
#endif
#define ISLE_AUTO_ID INT64_C(0)

/* Limits of collections (besides ISLE_OBJECT_SIZE_MAX, ISLE_NEST_DEPTH_MAX
 * and ISLE_FIELDS_MAX above, which apply to stored fields, dropped ones
 * included).  Exceeding one is ISLE_ETOOBIG. */
#define ISLE_COLLECTIONS_MAX 256u    /* collections in one database */
#define ISLE_NAME_MAX 128u           /* bytes of a collection, type or field name */
#define ISLE_TYPES_MAX 256u          /* object types in one collection's schema */
#define ISLE_STRING_LEN_MAX (ISLE_OBJECT_SIZE_MAX - 64u) /* bytes of one string */
#define ISLE_LIST_LEN_MAX (ISLE_OBJECT_SIZE_MAX / 2u)    /* elements of one list */

/* Field types (stored in the database: never renumbered). */
#define ISLE_TYPE_BOOL 0x01
#define ISLE_TYPE_BYTE 0x02
#define ISLE_TYPE_SHORT 0x03
#define ISLE_TYPE_INT 0x04
#define ISLE_TYPE_FLOAT 0x05
#define ISLE_TYPE_DOUBLE 0x06
#define ISLE_TYPE_DATETIME 0x07
#define ISLE_TYPE_STRING 0x08
#define ISLE_TYPE_OBJECT 0x09
#define ISLE_TYPE_ENUM 0x20 /* stored as byte, short, string or int */

/* How an enum is stored (stored in the database: never renumbered). */
#define ISLE_ENUM_ORDINAL 1   /* index in the value table, 1 byte; not nullable */
#define ISLE_ENUM_ORDINAL32 2 /* index, 4 bytes */
#define ISLE_ENUM_NAME 3      /* the value's name */
#define ISLE_ENUM_VALUE 4     /* the value's custom int64 */

/* One value of an enum: its C value, stored name and stored custom value. */
typedef struct isle_enum_value {
    int64_t c_value;
    const char *name;
    int64_t value;
} isle_enum_value;
/* A C enumerator, named as in C and with its C value as custom value. */
#define ISLE_ENUMERATOR(c) { (c), #c, (c) }
#define ISLE_ENUMERATOR_AS(c, stored_name, custom_value) \
    { (c), (stored_name), (custom_value) }

/* An enum type: its values (their order is the ordinal) and, if nullable,
 * the C value standing for null.  A stored value that is not in the table
 * (a value removed since, say) reads as null_value when nullable, else as
 * the first value. */
typedef struct isle_enum {
    const char *name;
    const isle_enum_value *values;
    size_t count;
    int nullable;
    int64_t null_value;
} isle_enum;
#define ISLE_ENUM_DEF(E, vals) \
    { #E, (vals), sizeof(vals) / sizeof((vals)[0]), 0, 0 }
#define ISLE_ENUM_DEF_NULLABLE(E, vals, null_c_value) \
    { #E, (vals), sizeof(vals) / sizeof((vals)[0]), 1, (null_c_value) }

/*
 * One entry of a field table.  Build it with the macros below; the
 * members are what they record (ctype is how the C compiler sees the
 * member, so isle_coll_open can check it matches the declared type).
 */
typedef struct isle_field {
    const char *c_name;     /* the C member */
    const char *name;       /* stored name */
    uint8_t type;           /* ISLE_TYPE_*; for a list, the element type */
    uint8_t list, ignore, inline_obj;
    uint8_t enum_storage;   /* ISLE_ENUM_* for ISLE_TYPE_ENUM */
    uint8_t ctype, count_ctype;
    size_t offset, size;    /* the member */
    size_t elem_size;       /* lists: size of one element */
    size_t count_offset, count_size; /* lists: the count member */
    const struct isle_schema *object; /* ISLE_TYPE_OBJECT */
    const isle_enum *enum_type;       /* ISLE_TYPE_ENUM */
} isle_field;

/* A collection (has_id) or an embedded object type. */
typedef struct isle_schema {
    const char *c_name;     /* the C struct */
    const char *name;       /* stored name */
    size_t size, align;     /* sizeof and _Alignof the struct */
    int has_id;
    size_t id_offset, id_size;
    uint8_t id_ctype;
    const isle_field *fields;
    size_t nfields;
} isle_schema;

/* How the compiler sees a member (for the checks; no need to use these). */
#define ISLE_CTYPE_OTHER 0
#define ISLE_CTYPE_BOOL 1
#define ISLE_CTYPE_I8 2
#define ISLE_CTYPE_U8 3
#define ISLE_CTYPE_I16 4
#define ISLE_CTYPE_U16 5
#define ISLE_CTYPE_I32 6
#define ISLE_CTYPE_U32 7
#define ISLE_CTYPE_I64 8
#define ISLE_CTYPE_U64 9
#define ISLE_CTYPE_FLOAT 10
#define ISLE_CTYPE_DOUBLE 11
#define ISLE_CTYPE_STRING 12
#define ISLE_CTYPE_CHAR 13
#define ISLE_CTYPE_STR 14 /* isle_str */
#define ISLE_CTYPE_UNKNOWN 255 /* C++: checked by size only */
#ifdef __cplusplus
#define ISLE_CTYPE_OF(x) ISLE_CTYPE_UNKNOWN
#define ISLE_ALIGNOF(T) alignof(T)
#else
/* By the member's address, so that an array (char name[8]) is not taken
 * for the pointer it would decay to. */
#define ISLE_CTYPE_OF(x)                                                        \
    _Generic(&(x), _Bool *: ISLE_CTYPE_BOOL, char *: ISLE_CTYPE_CHAR,            \
             signed char *: ISLE_CTYPE_I8, unsigned char *: ISLE_CTYPE_U8,       \
             short *: ISLE_CTYPE_I16, unsigned short *: ISLE_CTYPE_U16,          \
             int *: ISLE_CTYPE_I32, unsigned *: ISLE_CTYPE_U32,                  \
             long *: (sizeof(long) == 8 ? ISLE_CTYPE_I64 : ISLE_CTYPE_I32),      \
             unsigned long *: (sizeof(long) == 8 ? ISLE_CTYPE_U64 : ISLE_CTYPE_U32), \
             long long *: ISLE_CTYPE_I64, unsigned long long *: ISLE_CTYPE_U64,  \
             float *: ISLE_CTYPE_FLOAT, double *: ISLE_CTYPE_DOUBLE,             \
             char **: ISLE_CTYPE_STRING, const char **: ISLE_CTYPE_STRING,       \
             isle_str *: ISLE_CTYPE_STR, const isle_str *: ISLE_CTYPE_STR,        \
             default: ISLE_CTYPE_OTHER)
#define ISLE_ALIGNOF(T) _Alignof(T)
#endif
#define ISLE_MEMBER_(T, m) (((T *)0)->m)

/* Field types, the last argument of ISLE_FIELD and ISLE_LIST. */
#define ISLE_BOOL .type = ISLE_TYPE_BOOL
#define ISLE_BYTE .type = ISLE_TYPE_BYTE
#define ISLE_SHORT .type = ISLE_TYPE_SHORT
#define ISLE_INT .type = ISLE_TYPE_INT
#define ISLE_FLOAT .type = ISLE_TYPE_FLOAT
#define ISLE_DOUBLE .type = ISLE_TYPE_DOUBLE
#define ISLE_DATETIME .type = ISLE_TYPE_DATETIME
#define ISLE_STRING .type = ISLE_TYPE_STRING
#define ISLE_ENUM(e, storage) .type = ISLE_TYPE_ENUM, .enum_storage = (storage), .enum_type = (e)
#define ISLE_EMBED(schema) .type = ISLE_TYPE_OBJECT, .object = (schema)
#define ISLE_EMBED_INLINE(schema) .type = ISLE_TYPE_OBJECT, .object = (schema), .inline_obj = 1

/* A field stored under its C name, or under another name. */
#define ISLE_FIELD(T, m, ...) ISLE_FIELD_AS(T, m, #m, __VA_ARGS__)
#define ISLE_FIELD_AS(T, m, stored_name, ...)                                   \
    { .c_name = #m, .name = (stored_name), .offset = offsetof(T, m),             \
      .size = sizeof(ISLE_MEMBER_(T, m)), .ctype = ISLE_CTYPE_OF(ISLE_MEMBER_(T, m)), \
      __VA_ARGS__ }
/* A list: pointer member m, integer member n holding its length. */
#define ISLE_LIST(T, m, n, ...) ISLE_LIST_AS(T, m, n, #m, __VA_ARGS__)
#define ISLE_LIST_AS(T, m, n, stored_name, ...)                                 \
    { .c_name = #m, .name = (stored_name), .list = 1, .offset = offsetof(T, m),  \
      .size = sizeof(ISLE_MEMBER_(T, m)), .elem_size = sizeof(ISLE_MEMBER_(T, m)[0]), \
      .ctype = ISLE_CTYPE_OF(ISLE_MEMBER_(T, m)[0]), .count_offset = offsetof(T, n), \
      .count_size = sizeof(ISLE_MEMBER_(T, n)),                                 \
      .count_ctype = ISLE_CTYPE_OF(ISLE_MEMBER_(T, n)), __VA_ARGS__ }
/* A member that is not stored (the same as leaving it out; says so). */
#define ISLE_IGNORE(T, m)                                                       \
    { .c_name = #m, .name = #m, .ignore = 1, .offset = offsetof(T, m),           \
      .size = sizeof(ISLE_MEMBER_(T, m)) }

/* A collection of struct T whose int64_t member id is the id, stored
 * under T's name or another one; fields is the field table (an array). */
#define ISLE_COLLECTION(T, id, fields) ISLE_COLLECTION_AS(T, #T, id, fields)
#define ISLE_COLLECTION_AS(T, stored_name, id, fields)                          \
    { #T, (stored_name), sizeof(T), ISLE_ALIGNOF(T), 1, offsetof(T, id),         \
      sizeof(ISLE_MEMBER_(T, id)), ISLE_CTYPE_OF(ISLE_MEMBER_(T, id)), (fields), \
      sizeof(fields) / sizeof((fields)[0]) }
/* An embedded object type (no id). */
#define ISLE_EMBEDDED(T, fields) ISLE_EMBEDDED_AS(T, #T, fields)
#define ISLE_EMBEDDED_AS(T, stored_name, fields)                                \
    { #T, (stored_name), sizeof(T), ISLE_ALIGNOF(T), 0, 0, 0, 0, (fields),       \
      sizeof(fields) / sizeof((fields)[0]) }

/*
 * Arenas hold what reads decode: strings, lists and embedded objects.  An
 * arena starts in the caller's buffer (buf, cap; NULL and 0 for none) and
 * grows into heap blocks as needed.  isle_arena_reset forgets everything
 * allocated (pointers into it become invalid) and keeps the blocks for
 * reuse; isle_arena_free releases the blocks (the arena can then be used
 * again).  Members are private.  One arena is used by one thread at a time.
 */
typedef struct isle_arena {
    unsigned char *buf_;
    size_t cap_, used_, spent_;
    void *blocks_, *cur_;
    unsigned char *first_;
    size_t first_cap_;
} isle_arena;
ISLE_API void isle_arena_init(isle_arena *a, void *buf, size_t cap);
ISLE_API void isle_arena_reset(isle_arena *a);
ISLE_API void isle_arena_free(isle_arena *a);
/* Bytes handed out since the last reset (alignment padding included). */
ISLE_API size_t isle_arena_used(const isle_arena *a);

typedef struct isle_coll isle_coll;

/*
 * Opens collection `schema` (declared with ISLE_COLLECTION) in db: checks
 * the declaration, stores or extends the stored schema (in a write
 * transaction of its own, only when something is new) and binds the C
 * fields to it.  The handle may be used by any thread, in any transaction
 * of db, until isle_coll_close; several handles may be open on one
 * collection.  Must not be called inside a write transaction.
 * Errors: ISLE_EINVAL (NULL; a malformed declaration: a bad or duplicate
 * name, a member whose C type does not fit its field type, a list without
 * its count, an enum without values; the message names the field),
 * ISLE_ETOOBIG (more than ISLE_COLLECTIONS_MAX collections, ISLE_TYPES_MAX
 * types, ISLE_FIELDS_MAX stored fields, a name over ISLE_NAME_MAX bytes),
 * ISLE_ESCHEMA (a stored field of the same name has another type: the
 * message names the collection and field), ISLE_EDEADLK (inside a write),
 * ISLE_ECORRUPT (the stored schema is malformed), ISLE_ENOMEM, and the
 * errors of isle_write and isle_read_begin.
 */
ISLE_API int isle_coll_open(isle_db *db, const isle_schema *schema, isle_coll **out);
/* Frees a handle (NULL is a no-op).  Close handles before isle_close and
 * when no call on them is running. */
ISLE_API void isle_coll_close(isle_coll *c);
/* The collection's stored name; valid until the handle closes. */
ISLE_API const char *isle_coll_name(const isle_coll *c);

/*
 * Stores *obj under its id, replacing an object with that id; an id of
 * ISLE_AUTO_ID gets the next auto-increment id, written into obj->id (the
 * only write to *obj: an object that gives its id is only read).
 * Errors: ISLE_EINVAL (NULL; a handle of another database; a string that
 * is not UTF-8; an enum value not in its table, or null for ISLE_ENUM_ORDINAL;
 * a negative list count; the message names the field), ISLE_ETOOBIG (the
 * object encodes to more than ISLE_OBJECT_SIZE_MAX bytes, a string or list
 * over its limit, objects nested deeper than ISLE_NEST_DEPTH_MAX, or the
 * auto-increment ids are used up), ISLE_EREADONLY (a read transaction),
 * and ISLE_ECORRUPT, ISLE_EIO, ISLE_ENOMEM, ISLE_EFULL.
 */
ISLE_API int isle_coll_put(isle_txn *txn, isle_coll *c, void *obj);
/*
 * Stores the n objects of the array objs (as n puts, in order, but faster:
 * one encode buffer, no per-object lookups for new ids, ascending ids
 * appended to the tree's last leaf, and a large load's full leaves
 * written to the file as it goes).  Ids are given out and written back
 * as isle_coll_put does, in array order; objects that give their ids are
 * only read.  All or nothing: if object k is bad, none is
 * stored and no id is written back.  Errors: as isle_coll_put (the
 * message gives the index of the bad object).
 */
ISLE_API int isle_coll_put_many(isle_txn *txn, isle_coll *c, void *objs, size_t n);

/*
 * Reads object `id` into *obj: its id and every field the table lists
 * (fields the stored object lacks read as null; members not in the table
 * are left alone).  Strings, lists and embedded objects are allocated in
 * arena (which may be NULL when the type has none).  Errors: ISLE_EINVAL
 * (NULL; id 0; a handle of another database; an arena was needed),
 * ISLE_ENOTFOUND (no such object: *obj is unchanged), ISLE_ETOOBIG (a
 * stored list is longer than its count member can hold), ISLE_ENOMEM,
 * ISLE_ECORRUPT, ISLE_EIO.  On ENOMEM, ECORRUPT or EIO *obj may be
 * partly written.
 */
ISLE_API int isle_coll_get(isle_txn *txn, isle_coll *c, int64_t id, void *obj,
                           isle_arena *arena);
/*
 * Reads the objects ids[0, n) into the array objs (n structs).  An id with
 * no object gives a struct whose id is ISLE_AUTO_ID and whose fields are
 * null.  *found (may be NULL) receives how many were found.  Errors: as
 * isle_coll_get, except that missing objects are not an error.
 */
ISLE_API int isle_coll_get_many(isle_txn *txn, isle_coll *c, const int64_t *ids,
                                size_t n, void *objs, isle_arena *arena, size_t *found);

/*
 * Deletes object id.  Its id is not reused by auto-increment.  Errors:
 * ISLE_EINVAL, ISLE_ENOTFOUND, ISLE_EREADONLY, ISLE_ECORRUPT, ISLE_EIO,
 * ISLE_ENOMEM, ISLE_EFULL.
 */
ISLE_API int isle_coll_delete(isle_txn *txn, isle_coll *c, int64_t id);
/* Deletes the objects ids[0, n) that exist; *deleted (may be NULL) gets
 * how many did.  Errors: as isle_coll_delete, without ISLE_ENOTFOUND. */
ISLE_API int isle_coll_delete_many(isle_txn *txn, isle_coll *c, const int64_t *ids,
                                   size_t n, size_t *deleted);
/* Deletes every object and resets auto-increment ids (the next is 1).
 * The schema stays.  Errors: as isle_coll_delete, without ISLE_ENOTFOUND. */
ISLE_API int isle_coll_clear(isle_txn *txn, isle_coll *c);
/* The number of objects, in O(1).  Errors: ISLE_EINVAL, ISLE_ECORRUPT, ISLE_EIO. */
ISLE_API int isle_coll_count(isle_txn *txn, isle_coll *c, uint64_t *count);
/*
 * Verifies the collection in txn's snapshot: every object is a valid
 * record of the stored schema (cd_record.h's rules), its key a valid id,
 * and the object count and auto-increment state agree with the objects.
 * Complements isle_check, which verifies pages and trees.  Errors:
 * ISLE_ECORRUPT (the message names the object and what is wrong),
 * ISLE_EINVAL, ISLE_ENOMEM, ISLE_EIO.
 */
ISLE_API int isle_coll_check(isle_txn *txn, isle_coll *c);

/*
 * Cursors walk a collection in id order, forward or backward.  first,
 * last, next and prev return ISLE_ENOTFOUND past either end (next/prev
 * then stay where they were); seek goes to the first object whose id is
 * >= id (ISLE_SEEK_GE) or the last one <= id (ISLE_SEEK_LE), ISLE_ENOTFOUND
 * when there is none.  A write to the collection in the cursor's (write)
 * transaction invalidates it (later calls give ISLE_EINVAL); close it
 * before its transaction ends.  isle_coll_cursor_get decodes the current
 * object as isle_coll_get does; isle_coll_cursor_id gives only its id.
 * Errors: ISLE_EINVAL (NULL, unpositioned or invalidated cursor),
 * ISLE_ENOTFOUND, ISLE_ENOMEM, ISLE_ECORRUPT, ISLE_EIO.
 */
typedef struct isle_coll_cursor isle_coll_cursor;
#define ISLE_SEEK_GE 0
#define ISLE_SEEK_LE 1
ISLE_API int isle_coll_cursor_open(isle_txn *txn, isle_coll *c, isle_coll_cursor **out);
ISLE_API void isle_coll_cursor_close(isle_coll_cursor *cur);
ISLE_API int isle_coll_cursor_first(isle_coll_cursor *cur);
ISLE_API int isle_coll_cursor_last(isle_coll_cursor *cur);
ISLE_API int isle_coll_cursor_next(isle_coll_cursor *cur);
ISLE_API int isle_coll_cursor_prev(isle_coll_cursor *cur);
ISLE_API int isle_coll_cursor_seek(isle_coll_cursor *cur, int64_t id, int how);
ISLE_API int isle_coll_cursor_id(isle_coll_cursor *cur, int64_t *id);
ISLE_API int isle_coll_cursor_get(isle_coll_cursor *cur, void *obj, isle_arena *arena);

/*
 * Calls fn(arg, obj) for each object in id order, from the first one (or,
 * with ISLE_SCAN_REVERSE, from the last one) or, when from_id is not
 * ISLE_AUTO_ID, from the first id >= from_id (the last <= from_id).  Each
 * object is decoded into *obj with the arena reset to its state at the
 * call before each object, so what fn is given lives until the next call.
 * With ISLE_SCAN_BORROW, string fields are not copied: they point at the
 * stored bytes (NUL-terminated, read-only: never write through them),
 * valid only until fn returns, and a type whose only variable-size fields
 * are strings needs no arena (arena may be NULL).  That holds for the
 * elements of string lists and the strings of embedded objects too, and
 * for an object too large for a page (the scan reads it into memory of
 * its own, freed when fn returns).  Lists and embedded objects held by
 * pointer are still built in the arena.  A non-zero
 * return from fn stops the scan and is returned.  fn may write in the
 * scan's own write transaction; a write to the scanned collection ends
 * the scan with ISLE_EINVAL.  Errors: ISLE_EINVAL (NULL obj or fn,
 * unknown flags, an arena needed and NULL), those of the cursor
 * functions and of isle_coll_get's decoding (ISLE_ENOTFOUND is not one:
 * an empty range just calls fn no times).
 */
#define ISLE_SCAN_REVERSE 0x1u
#define ISLE_SCAN_BORROW 0x2u
typedef int (*isle_scan_fn)(void *arg, void *obj);
ISLE_API int isle_coll_scan(isle_txn *txn, isle_coll *c, int64_t from_id, unsigned flags,
                            void *obj, isle_arena *arena, isle_scan_fn fn, void *arg);

/*
 * Watchers of a collection, or of one object of it: after each commit
 * that put or deleted objects of it (or that object), fn(arg, change) is
 * called once, after the commit is durable and visible to new readers, on
 * the writer thread or through the database's dispatcher (see "watchers"
 * above for what a callback may do).  change->ids lists the ids the
 * commit put or deleted (valid during the call), unless ids_known is 0:
 * the collection was cleared or more than 1024 objects changed, so read
 * it again.  An id may be listed when a put_many that failed put it back
 * as it was.  Remove watchers before closing their collection handle.
 * Errors: ISLE_EINVAL (NULL; not an open collection; id 0), ISLE_ENOMEM.
 */
typedef struct isle_coll_change {
    const char *collection;
    uint64_t txn;
    int ids_known;
    uint32_t nids;
    const int64_t *ids;
} isle_coll_change;
typedef void (*isle_coll_watch_fn)(void *arg, const isle_coll_change *change);
typedef struct isle_coll_watcher isle_coll_watcher;
ISLE_API int isle_coll_watch(isle_coll *c, isle_coll_watch_fn fn, void *arg,
                             isle_coll_watcher **out);
ISLE_API int isle_coll_watch_object(isle_coll *c, int64_t id, isle_coll_watch_fn fn,
                                    void *arg, isle_coll_watcher **out);
/* Removes a watcher; when it returns, fn is not running (unless called
 * from fn) and will not be called again.  NULL is a no-op. */
ISLE_API void isle_coll_unwatch(isle_coll_watcher *w);

/* ---- maintenance ----------------------------------------------------------- */

/*
 * Copies committed pages from the log into the database file and resets
 * the log once no reader still uses it, truncating the log file (automatic
 * checkpoints keep its space for reuse instead).  Waits for a running write.
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
    uint64_t spilled_pages; /* since open: pages of write transactions
                               written out before their commit: past
                               cache_bytes of changed pages, and the pages
                               a large load in ascending key order has
                               filled (past 2 MiB of changed pages) */
    uint64_t direct_pages;  /* since open: pages those transactions took from
                               the end of the file, written straight to the
                               main file (spilled, or at their commit) and
                               never to the log */
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
