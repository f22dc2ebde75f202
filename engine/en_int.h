/*
 * en_int.h: the engine's internals, shared by its files.
 *
 * Snapshots.  Every commit publishes an en_snap (immutable once published)
 * through db->current.  A reader protects the snapshot it uses with a
 * hazard pointer in a reader slot:
 *
 *     s = load(current); store(slot, s); if load(current) != s: retry
 *
 * (all seq_cst: the slot store must be ordered before the re-load, which
 * pairs with the writer's store of a new current followed by its scan of
 * the slots).  The writer frees a retired snapshot only when no slot holds
 * it, and the oldest snapshot held by any slot bounds page reuse.
 *
 * Pages.  A snapshot reads a page from, in order: the write transaction's
 * dirty set (writers only), the commit group's pages not yet in the log
 * (writers only: en_txn.c), the log (wal_find bounded by the snapshot's
 * max_frame), the main file.  Every page read from disk is verified
 * (checksum, place, type).  A log page lives in the shared cache
 * (en_cache.c) or in an en_buf owned by the transaction until unpinned; a
 * main-file page is read in place from the file's mapping (en_map.c),
 * verified once per checkpoint that writes it, or like a log page when the
 * file is not mapped.
 *
 * Free pages.  The committed free list (every page not reachable from the
 * newest commit) is kept in memory as `free_all`, in the order of its
 * persisted form: a chain of free-list pages rewritten in place when a
 * commit group is logged (readers never read them).  Pages freed by
 * transaction T are "pending" until no snapshot older than T remains, then
 * "reusable".
 */
#ifndef ISLE_EN_INT_H
#define ISLE_EN_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "bt.h"
#include "cd_page.h"
#include "en.h"
#include "wal.h"

/* The committed state a commit record (and a meta page) carries. */
typedef struct en_state {
    uint64_t txn;          /* last committed transaction */
    uint64_t next_txn;
    uint32_t page_count;
    uint32_t catalog_root;
    uint32_t free_head;    /* first free-list chain page */
    uint32_t free_count;   /* pages listed in the free list */
    uint64_t db_id;
} en_state;

/*
 * Commit payload (the log's opaque bytes), version 1:
 *   OFFSET SIZE DESCRIPTION
 *   0      1    payload version (1)
 *   1      7    zero
 *   8      8    transaction id
 *   16     8    next transaction id
 *   24     4    page count
 *   28     4    catalog root
 *   32     4    free-list head
 *   36     4    free page count
 *   40     8    database id
 */
#define EN_PAYLOAD_SIZE 48u
void en_state_encode(const en_state *s, uint8_t out[EN_PAYLOAD_SIZE]);
int en_state_decode(const uint8_t *p, uint32_t len, en_state *s);

/* A published snapshot. */
typedef struct en_snap {
    en_state state;
    uint64_t max_frame;     /* log frames this snapshot sees */
    uint64_t seq;           /* publication order: cache reclamation */
    struct en_snap *next;   /* retired list (writer only) */
} en_snap;

/* A page buffer: a pinned copy of a page read from disk, or a dirty page. */
typedef struct en_buf {
    struct en_buf *next;   /* free list / hash chain */
    uint32_t pgno;
    uint32_t pins;
    uint8_t fresh;         /* dirty: allocated in this transaction */
    uint8_t cached;        /* a shared cache page (en_cache.c): not owned */
    uint8_t live;          /* a pinned read copy, in the transaction's live set */
    uint8_t group;         /* committed in the current group, not yet in the
                              log: the db's (group_pages), not the txn's */
    uint32_t live_idx;     /* its index there */
    uint8_t *page;         /* page_size bytes, aligned */
    uint64_t frame;        /* dirty: the log frame it was committed in;
                              cached: the image's source (en_cache.c) */
    /* dirty: the committed image it was copied from, when that is a log
     * frame of this generation (else base_frame 0): the log may store the
     * page as a delta over that frame (wal_append_page_delta) */
    uint32_t base_pgno;
    uint32_t base_frame;
} en_buf;
/* Every en_buf is one block from posix_memalign(64, EN_BUF_HDR + page
 * size): the header, then the page, so a page pointer finds its header and
 * the cache can take a buffer over whole (en_cache_adopt). */
/* A large transaction (past EN_BEHIND_FROM bytes of dirty pages) writes
 * the pages an ascending load has filled to the main file in runs of up
 * to EN_BEHIND_PAGES (en_pager.c). */
#define EN_BEHIND_PAGES 32u
#define EN_BEHIND_FROM ((uint64_t)2 << 20)
/* Pages written to the main file ahead of the commit's sync are handed to
 * the device (os_writeback) in ascending ranges of this many bytes, so the
 * sync finds most of them written; without it the kernel kept them all for
 * the sync (75 ms of a 1M-object load's 230).  Load: 220-235 -> 170-190 ms.
 * 1, 4 and 16 MiB did alike; 128 KiB ranges stalled the writer on the
 * device's queue. */
#define EN_WRITEBACK_BYTES ((uint64_t)1 << 20)
/* The range of the main file written since the last writeback hint. */
typedef struct en_wbrange {
    uint64_t lo, hi;
} en_wbrange;
#define EN_BUF_HDR 64u
_Static_assert(sizeof(en_buf) <= EN_BUF_HDR, "buffer header fits");
#define EN_BUF_OF(page) ((en_buf *)((uint8_t *)(page) - EN_BUF_HDR))

/* The shared page cache (en_cache.c). */
typedef struct en_cache en_cache;
int en_cache_new(en_db *db, size_t bytes, en_cache **out);
void en_cache_free(en_cache *c);
/* A verified page, or NULL; the page stays valid while the caller's
 * snapshot (reader slot) or write transaction lives. */
const uint8_t *en_cache_get(en_cache *c, uint32_t pgno, uint64_t frame);
/* Installs buffer b itself (an en_buf of a transaction, holding a verified
 * page) instead of a copy, evicting another page when the cache is full:
 * on success the cache owns b (b->cached is set) and the page is returned;
 * NULL when retired pages readers still hold fill the slack, or the cache
 * already holds the page, and b is still the caller's. */
const uint8_t *en_cache_adopt(en_db *db, en_cache *c, en_buf *b, uint32_t pgno,
                              uint64_t frame);
/* Writer: forget main-file page pgno / every log page; free what no
 * reader can still hold. */
void en_cache_forget(en_db *db, en_cache *c, uint32_t pgno, uint64_t frame);
/* Pages held: installed, and retired but not yet freed. */
size_t en_cache_pages(const en_cache *c);
/* Pages more the cache could hold before it stops installing: its bound,
 * slack included, less en_cache_pages. */
size_t en_cache_room(const en_cache *c);
void en_cache_forget_log(en_db *db, en_cache *c);
/* Frees retired pages published before oldest_seq (UINT64_MAX: all). */
void en_cache_reclaim(en_db *db, en_cache *c, uint64_t oldest_seq);

/* 0 if the type of a page already verified is in mask (CD_PAGE_MASK_*),
 * else CD_ECORRUPT with the message (en_pager.c). */
int en_page_type_check(const uint8_t *page, uint32_t pgno, unsigned mask);
/* CD_ECORRUPT with a message naming page pgno, where it was read and d. */
int en_page_corrupt(uint32_t pgno, const char *where, const cd_diag *d);

/* The main file read in place (en_map.c). */
typedef struct en_map en_map;
/* Maps the main file if the vfs can (no map is not an error). */
void en_map_open(en_db *db);
void en_map_close(en_db *db);
/* Writer, before a checkpoint writes page pgno: it must be verified again. */
void en_map_invalidate(en_db *db, uint32_t pgno);
/* After this process wrote page pgno to the main file, whole and without
 * error, from an image it built or verified itself: the mapped bytes are
 * those, so they need no verifying on their first use. */
void en_map_verified(en_db *db, uint32_t pgno);
/* Writer, after a checkpoint's writes: the file now holds `pages` pages
 * (mapped anew when they pass the mapping). */
void en_map_extend(en_db *db, uint32_t pages);
/* Page pgno of the main file read in place and verified (once per write):
 * 1 (*page set), 0 when it is not mapped (read it), or a failure. */
int en_map_page(en_db *db, uint32_t pgno, unsigned mask, const uint8_t **page);
/* Mappings made since open (0: none); the smallest mapping, 1 GiB (tests
 * lower it to see mappings replaced). */
uint32_t en_map_count(en_db *db);
extern uint64_t en_map_min_bytes;
/* 1 iff page points into a mapping (not an en_buf). */
int en_map_owns(en_db *db, const uint8_t *page);
/* Asks the CPU for the mapped bytes of page pgno ahead of a read, if the
 * mapping holds it; reads, checks and pins nothing. */
void en_map_ahead(en_db *db, uint32_t pgno);

/* Open-hash map pgno -> dirty en_buf, for the write transaction. */
typedef struct en_dirty {
    en_buf **slots;
    uint32_t mask;
    uint32_t count;
} en_dirty;

/* A dirty page written to the log before its transaction commits. */
typedef struct en_spilled {
    uint32_t pgno;
    wal_frame_ref ref;
    struct en_spilled *next;
} en_spilled;

typedef struct en_spillmap {
    en_spilled **slots;
    uint32_t mask;
    uint32_t count;
} en_spillmap;

/* A named tree known to this handle. */
typedef struct en_treedef {
    char name[EN_NAME_MAX + 1];
    uint32_t name_len;
} en_treedef;

/* Per-transaction view of a tree. */
typedef struct en_troot {
    uint32_t root;
    uint8_t loaded;   /* root read from the catalog */
    uint8_t exists;
    uint8_t dirty;    /* root changed: write back at commit */
    uint32_t gen;     /* bumped by writes: invalidates cursors */
    uint32_t append_leaf; /* bt_tree.append_leaf, from put to put */
} en_troot;

/* A change noted by a write transaction, for watchers. */
typedef struct en_note {
    uint64_t txn;
    uint32_t tree;   /* en_tree */
    uint32_t klen;   /* 0: the whole tree (keys unknown) */
    uint8_t *key;
} en_note;

struct isle_txn {
    en_db *db;
    int write;
    en_snap *snap;          /* readers: the pinned snapshot */
    unsigned slot;          /* readers: reader slot index */
    en_state st;            /* writers: the state being built */
    uint32_t base_pages;    /* writers: the page count it began with; pages
                               from here on are new to the file */
    uint64_t max_frame;     /* log bound of the snapshot read */
    bt_pager pager;
    en_buf *bufs_free;      /* spare page buffers */
    uint32_t nspare;
    uint32_t bufs_live;
    en_buf **live;          /* pinned read copies: freed at the end if still pinned */
    uint32_t nlive, cap_live;
    void **heaps;           /* values assembled on the heap (overflow), unreleased */
    uint32_t nheaps, cap_heaps;
    en_dirty dirty;
    en_spillmap spill;      /* dirty pages spilled to the log */
    uint64_t nspilled;      /* frames spilled (some may be superseded) */
    en_troot *roots;        /* indexed by en_tree */
    uint32_t nroots;
    bt_tree catalog;
    int catalog_dirty;
    int failed;             /* a write failed midway: only abort works */
    int grouped;            /* runs inside a commit group (holds no lock) */
    en_db *prev_writing;    /* this thread's en_writing before this txn */
    uint32_t cursors;       /* open cursors (closed before end) */
    en_note *notes;         /* changes, when anyone watches */
    uint32_t nnotes, cap_notes;
    struct isle_cursor *cursor_list;
    /* free-page bookkeeping (writers) */
    uint32_t *taken;        /* pages taken from db->reusable */
    uint32_t ntaken, cap_taken;
    uint32_t *freed;        /* committed pages freed here (pending) */
    uint32_t nfreed, cap_freed;
    uint32_t *own_free;     /* pages allocated and freed here: reusable */
    uint32_t nown, cap_own;
    void *rctx;             /* wal_rctx for log reads */
    /* pages an append split filled, to write behind (en_pager.c) */
    uint32_t behind[EN_BEHIND_PAGES];
    uint32_t nbehind;
    en_wbrange wb;          /* main-file writes since the last hint */
};

struct isle_cursor {
    en_txn *txn;            /* NULL once detached from an ended txn */
    en_tree tree;
    uint32_t gen;
    bt_cursor bc;
    struct isle_cursor *next, *prev;
};
void en_cursor_detach(en_cursor *c);

/* A pending batch of freed pages. */
typedef struct en_pending {
    uint64_t txn;       /* freed by this transaction */
    uint32_t *pages;
    uint32_t n;
    struct en_pending *next;
} en_pending;

typedef struct en_flusher en_flusher; /* en_flush.c */

/* Stamps a page written by transaction txn and sets its checksum: the
 * last step before it leaves for the log or the main file. */
static inline void en_page_seal(uint8_t *page, uint32_t page_size, uint64_t txn) {
    cd_page_set_txn(page, txn);
    cd_page_seal(page, page_size);
}

struct isle_db {
    os_vfs *vfs;
    os_file *file;
    char *path;
    char *wal_path;
    wal *wal;
    uint32_t page_size;
    en_options opt;
    int meta_slot;                 /* meta page holding the newest checkpoint */
    uint64_t ckpt_txn;             /* transaction of that meta */
    uint64_t ckpt_frame;           /* log frames already copied */
    uint64_t ckpt_log_bytes;       /* en_log_bytes at the last checkpoint */

    /* committed state: written by the writer, published by `current` */
    en_state state;
    _Atomic(en_snap *) current;
    _Atomic uint64_t pub_seq;     /* seq of the newest published snapshot */
    en_cache *cache;
    _Atomic(struct en_map *) map;  /* the main file mapped (en_map.c), or NULL */
    _Atomic uint32_t file_pages;   /* pages the main file holds */
    en_snap *retired;              /* writer only */
    _Atomic(en_snap *) slots[EN_READERS_MAX];
    _Atomic uint32_t nreaders;

    pthread_mutex_t write_lock;    /* one write transaction at a time */
    atomic_int latched;            /* a sync failed: must reopen */

    /* free pages (writer only) */
    uint32_t *free_all;            /* persisted order */
    uint32_t nfree, cap_free;
    uint32_t *reusable;            /* stack of pages no snapshot reaches */
    uint32_t nreusable, cap_reusable;
    en_pending *pending, *pending_tail;
    uint32_t *free_pos;            /* pgno -> index in free_all, or NONE */
    uint32_t cap_pos;
    uint32_t *chain;               /* free-list chain page numbers */
    uint32_t nchain, cap_chain;
    uint8_t *chain_dirty;          /* per chain page: rewrite at commit */

    /* named trees */
    pthread_mutex_t tree_lock;     /* guards adding definitions */
    en_treedef *trees;
    _Atomic uint32_t ntrees;

    /* the writer thread and its queue (en_writer.c) */
    pthread_t writer;
    int writer_started;
    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;        /* the writer waits for work */
    pthread_cond_t space_cond;    /* submitters wait for room */
    pthread_cond_t open_cond;     /* callers wait for a deferred open */
    en_queue_ops queue;
    uint32_t queued, queue_max;
    atomic_uint_fast64_t pending_hint; /* queued, for the writer's spin (a hint) */
    atomic_uint sync_waiters;     /* callers in en_write_sync */
    uint64_t job_seq;
    int closing;                  /* no new jobs */
    int quit;                     /* the writer exits once idle */
    en_job *cancelled;            /* cancelled jobs: callbacks to deliver */
    atomic_int open_state;        /* 0 opening, 1 open, < 0 the open error */
    char open_msg[256];

    /* The write lock's: page buffers and a dirty-set table kept from one
     * write transaction to the next (en_pager.c), so that a small commit
     * allocates none. */
    en_buf *spare;
    uint32_t nspare;
    en_buf **spare_slots;         /* EN_DIRTY_SLOTS0 zeroed slots, or NULL */

    /* commit groups: commits not yet synced and published (en_txn.c) */
    en_snap *group_snap;
    uint32_t group_txns;
    en_dirty group_pages;         /* their pages, not yet in the log */
    uint32_t group_unlogged;      /* commits since the group's last log write */
    /* Cache keys of the images the last logged group's pages were copied
     * from: they leave the cache at the next group's log write, once the
     * readers that began before the last one's have had time to finish
     * (en_group_log). */
    struct en_superseded {
        uint32_t pgno, frame;
    } *superseded;
    uint32_t nsuperseded, superseded_cap;

    /* watchers (en_watch.c) */
    pthread_mutex_t watch_lock;
    struct en_watch *watches;
    atomic_uint nwatch;
    en_note *notes;               /* changes of the current group */
    uint32_t nnotes, cap_notes;

    void *rctx;                    /* wal_rctx for the writer */
    en_flusher *flusher;           /* started by the first large load */

    /* counters */
    uint64_t n_checkpoints, n_commits, n_spilled, n_direct;
    _Atomic uint64_t n_map_checks; /* pages en_map_page verified */
};

/* A job for the writer thread (en_writer.c). */
enum en_job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_CANCELED };
struct isle_job {
    en_db *db;
    en_job_fn fn;
    void *arg;
    en_job_callbacks cb;
    char name[64];
    int priority;
    uint64_t seq;              /* submission order */
    enum en_job_state state;   /* guarded by db->q_lock */
    int result;
    uint64_t txn_id;
    int waiter;                /* a sync caller waits on done */
    atomic_int finished;       /* waiter: set with state DONE (see en_write_sync) */
    char msg[256];             /* waiter: the failure's message */
    pthread_cond_t done;
    atomic_int refs;
    struct isle_job *link;       /* built-in queues, cancelled list */
    uint32_t heap_idx;
};


/* Built-in queues (en_queue.c). */
int en_queue_builtin(enum en_queue_kind kind, en_queue_ops *ops);
void en_queue_builtin_free(en_queue_ops *ops);

/* en_watch.c */
void en_note_change(en_txn *t, uint32_t tree, const void *key, uint32_t klen);
int en_notes_commit(en_txn *t);
/* A published group's notes, taken from the db under the write lock and
 * handed to en_watch_notify once it is released. */
typedef struct en_note_batch {
    en_note *v;
    uint32_t n;
} en_note_batch;
/* Write lock held: the group's notes if it is published (ok), else they
 * are dropped (its commits were not acknowledged) and the batch is empty. */
en_note_batch en_notes_take(en_db *db, int ok);
/* One call per watcher per transaction of b; frees b.  No lock held. */
void en_watch_notify(en_db *db, en_note_batch b);
void en_notes_free(en_txn *t);
void en_watch_destroy(en_db *db);

/* en_txn.c: commit groups (the writer thread's batches). */
void en_group_begin(en_db *db);
int en_group_end(en_db *db);
int en_group_finish(en_db *db);
int en_commit_group(en_txn *t);
/* Writes the group's unlogged commits to the log as one transaction. */
int en_group_log(en_db *db);
/* Frees the group's pages (at close). */
void en_group_destroy(en_db *db);

/* en_writer.c */
int en_writer_start(en_db *db);
int en_writer_stop(en_db *db, unsigned flags);
int en_wait_open(en_db *db);
int en_open_steps(en_db *db);   /* en_db.c: the open, on the writer when deferred */
extern _Thread_local en_db *en_writer_of;

/* en_pager.c: the bt_pager source for a transaction. */
void en_pager_init(en_txn *t);
void en_pager_release_all(en_txn *t);
/* A page buffer the write lock's holder is done with: kept for the next
 * write transaction (db->spare), or freed past spare_max (en_pager.c).  en_spare_free
 * frees what is kept (at close). */
void en_buf_release(en_db *db, en_buf *b);
void en_spare_free(en_db *db);
/* At the commit of a transaction that spilled: its pages past base_pages
 * to the main file, synced (en_pager.c). */
int en_pager_commit_direct(en_txn *t);
/* Notes that [off, off + len) of the main file was written; returns the
 * length of the range to hand to the device now (os_writeback from *hint),
 * or 0 (en_pager.c). */
uint64_t en_writeback_note(const en_db *db, en_wbrange *w, uint64_t off, uint64_t len,
                           uint64_t *hint);
/* en_writeback_note, then the hint it returns, from this thread. */
void en_writeback_now(const en_db *db, en_wbrange *w, uint64_t off, uint64_t len);

/* en_flush.c: the thread that writes a load's full pages behind it.  The
 * write lock's holder takes a slot of EN_BEHIND_PAGES pages (waiting while
 * all are in flight; a kept write failure is returned and clears), fills
 * it with unsealed pages and submits it: they are sealed with txn, written
 * at pgno and, if wb_len, the range [wb_off, +wb_len) hinted.  It calls
 * en_flush_wait before any other read or write of the main file, before
 * the commit's sync and when the transaction ends; with report, a kept
 * failure is returned as an en_fail, else dropped. */
uint8_t *en_flush_slot(en_db *db, int *rc);
void en_flush_submit(en_db *db, uint32_t pgno, uint32_t n, uint64_t txn, uint64_t wb_off,
                     uint64_t wb_len);
int en_flush_wait(en_db *db, int report);
void en_flush_free(en_flusher *f);
/* Since the database opened: how often the write-behind thread moved
 * itself off the writer's processor, how many runs it still wrote on that
 * processor, and its system thread id (for the tests; 0, 0 and -1 before
 * the first large load). */
void en_flush_stats(en_db *db, uint64_t *steers, uint64_t *shared, long *tid);
/* en_writer.c: the processors this process may run on (os_cpu_count,
 * counted at the first call), and CLOCK_MONOTONIC in nanoseconds, for the
 * threads that spin before they sleep: with one processor none spins. */
int en_cpu_count(void);
uint64_t en_mono_ns(void);
/* Polls *v (relaxed: a hint, read again under its lock after) for up to ns
 * nanoseconds until it reaches want; 1 if it did, 0 at once for ns 0 or
 * on one processor. */
int en_spin_until(atomic_uint_fast64_t *v, uint64_t want, uint64_t ns);
int en_read_page(en_db *db, uint64_t max_frame, uint32_t pgno, unsigned mask,
                 uint8_t *buf, void *rctx);
en_buf *en_dirty_find(const en_dirty *d, uint32_t pgno);
/* Room for n more entries, so that as many en_dirty_add cannot fail. */
int en_dirty_reserve(en_dirty *d, uint32_t n);
int en_dirty_add(en_dirty *d, en_buf *b);
void en_dirty_remove(en_dirty *d, en_buf *b);
extern const bt_pager_ops en_pager_ops;

/* en_free.c */
int en_free_load(en_db *db);
void en_free_destroy(en_db *db);
int en_free_alloc(en_txn *t, uint32_t *pgno);
int en_free_release(en_txn *t, uint32_t pgno, int fresh);
int en_free_commit(en_txn *t);
void en_free_abort(en_txn *t);
void en_free_promote(en_db *db, uint64_t oldest_reader_txn);
int en_free_write_chain(en_db *db, uint64_t txn);

/* en_txn.c */
/* What the reader slots hold, in one pass (en_readers_scan). */
typedef struct en_readers {
    uint32_t count;          /* slots in use */
    uint32_t with_frames;    /* of them, reading the log (or about to) */
    uint64_t oldest_txn;     /* 0: none */
    uint64_t oldest_seq;     /* UINT64_MAX: none */
    uint32_t nheld;
    const struct en_snap *held[EN_READERS_MAX]; /* sorted by address */
} en_readers;
void en_readers_scan(en_db *db, en_readers *r);
uint64_t en_oldest_reader(en_db *db);
int en_readers_active(en_db *db, uint64_t *with_frames);
int en_publish(en_db *db, const en_state *st, uint64_t max_frame);
/* The same with a snapshot the caller allocated: cannot fail. */
void en_publish_snap(en_db *db, en_snap *s, const en_state *st, uint64_t max_frame);
void en_snap_reclaim(en_db *db, int all);

/* en_tree.c */
int en_catalog_flush(en_txn *t);

/* The log's page frames counted as whole pages: what the checkpoint
 * threshold (en_options.checkpoint_bytes) measures. */
static inline uint64_t en_log_bytes(const en_db *db) {
    return wal_max_frame(db->wal) * db->page_size;
}

/* en_ckpt.c */
int en_checkpoint_locked(en_db *db);
int en_meta_write(en_db *db, const en_state *st);

/* The write transaction the calling thread holds, if any (en_txn.c). */
extern _Thread_local en_db *en_writing;

/* en_db.c */
int en_latch(en_db *db, int rc, const char *what);
/* en_err.c: the short name of a status code. */
const char *en_code_name(int rc);

#endif /* ISLE_EN_INT_H */
