/*
 * en_txn.c: transactions.  Readers pin a published snapshot with a hazard
 * pointer and never lock; the writer builds the next state in a dirty page
 * set, then commits it to the log and publishes it.
 *
 *   en_write_begin --(put/del: dirty pages)--> en_commit --+--> published
 *         |                                                 |
 *         +-------------- en_txn_end (rollback) <-- failure-+
 *
 * A failure before the free lists change rolls back cleanly; a failure
 * after (writing the log, syncing it) latches the handle, since the log and
 * the in-memory lists may disagree: reopening recovers from the log.
 * Uses btree/, wal/.
 */
#include <stdlib.h>

#include "en_int.h"

_Thread_local en_db *en_writing;
/* The commit group this thread holds the write lock for (en_group_begin). */
static _Thread_local en_db *en_group_of;

/* A slot being claimed: taken, not yet holding a snapshot. */
#define SLOT_CLAIMED ((en_snap *)1)


/* ---- snapshots ----------------------------------------------------------- */

int en_publish(en_db *db, const en_state *st, uint64_t max_frame) {
    en_snap *s = calloc(1, sizeof *s);
    if (!s)
        return en_fail(CD_ENOMEM, "out of memory publishing a snapshot");
    en_publish_snap(db, s, st, max_frame);
    return 0;
}

void en_publish_snap(en_db *db, en_snap *s, const en_state *st, uint64_t max_frame) {
    s->state = *st;
    s->max_frame = max_frame;
    /* The sequence is published before the snapshot that carries it
     * (seq_cst): see en_cache.c. */
    s->seq = atomic_load_explicit(&db->pub_seq, memory_order_relaxed) + 1;
    atomic_store(&db->pub_seq, s->seq);
    /* seq_cst: ordered before the slot scan of en_snap_reclaim, pairing
     * with the readers' slot store and re-load of current. */
    en_snap *old = atomic_exchange(&db->current, s);
    if (old) {
        old->next = db->retired;
        db->retired = old;
    }
    en_snap_reclaim(db, 0);
}

/* Frees retired snapshots that no reader slot holds (all: every one). */
/*
 * One pass over the reader slots (the writer's view; seq_cst loads, see
 * en_publish): how many readers, how many read the log, the oldest
 * snapshot's transaction and publication sequence, and which snapshots
 * are held (sorted, for en_snap_reclaim).  The writer is the only thread
 * that frees snapshots, and never one a slot holds, so they can be read.
 */
void en_readers_scan(en_db *db, en_readers *r) {
    memset(r, 0, sizeof *r);
    r->oldest_seq = UINT64_MAX;
    for (unsigned i = 0; i < EN_READERS_MAX; i++) {
        en_snap *s = atomic_load(&db->slots[i]);
        if (!s)
            continue;
        r->count++;
        if (s == SLOT_CLAIMED) { /* about to pin the newest: holds the log */
            r->with_frames++;
            r->oldest_seq = 0; /* and, to be safe, every cache page */
            continue;
        }
        r->with_frames += s->max_frame != 0;
        if (r->oldest_txn == 0 || s->state.txn < r->oldest_txn)
            r->oldest_txn = s->state.txn;
        if (s->seq < r->oldest_seq)
            r->oldest_seq = s->seq;
        unsigned k = r->nheld++;
        for (; k > 0 && (uintptr_t)r->held[k - 1] > (uintptr_t)s; k--) /* insertion */
            r->held[k] = r->held[k - 1];
        r->held[k] = s;
    }
}

static int held(const en_readers *r, const en_snap *s) {
    unsigned lo = 0, hi = r->nheld;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (r->held[mid] == s)
            return 1;
        if ((uintptr_t)r->held[mid] < (uintptr_t)s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Frees retired snapshots and cache pages no reader can hold (all: every
 * one, at close). */
void en_snap_reclaim(en_db *db, int all) {
    en_readers r;
    if (all)
        memset(&r, 0, sizeof r), r.oldest_seq = UINT64_MAX;
    else
        en_readers_scan(db, &r);
    if (db->cache)
        en_cache_reclaim(db, db->cache, r.oldest_seq);
    en_snap **p = &db->retired;
    while (*p) {
        en_snap *s = *p;
        if (held(&r, s)) {
            p = &s->next;
        } else {
            *p = s->next;
            free(s);
        }
    }
}

/* The state.txn of the oldest snapshot a reader holds, 0 if none. */
uint64_t en_oldest_reader(en_db *db) {
    en_readers r;
    en_readers_scan(db, &r);
    return r.oldest_txn;
}

/*
 * Pages freed by transaction T may be reused once every snapshot a reader
 * holds or may still take is of T or later: a reader that begins takes
 * the published snapshot, which lags the writer's state while a commit
 * group (or a group whose sync is running) is unpublished.
 */
static uint64_t reuse_bound(en_db *db) {
    uint64_t oldest = en_oldest_reader(db);
    /* The writer publishes: no other thread changes current meanwhile. */
    en_snap *cur = atomic_load_explicit(&db->current, memory_order_relaxed);
    uint64_t pub = cur ? cur->state.txn : 0;
    return oldest == 0 || (pub && pub < oldest) ? pub : oldest;
}

/* Readers holding a slot; *with_frames: how many of them read the log. */
int en_readers_active(en_db *db, uint64_t *with_frames) {
    en_readers r;
    en_readers_scan(db, &r);
    if (with_frames)
        *with_frames = r.with_frames;
    return (int)r.count;
}

/* ---- read transactions -------------------------------------------------- */

static unsigned slot_start(void) {
    static _Thread_local unsigned hint;
    static atomic_uint next;
    if (hint == 0) /* relaxed: only spreads threads over the slots */
        hint = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) * 7 + 1;
    return hint;
}

static int claim_slot(en_db *db, unsigned *out) {
    unsigned start = slot_start();
    for (unsigned k = 0; k < EN_READERS_MAX; k++) {
        unsigned i = (start + k) % EN_READERS_MAX;
        en_snap *expect = NULL;
        if (atomic_load_explicit(&db->slots[i], memory_order_relaxed) == NULL &&
            atomic_compare_exchange_strong(&db->slots[i], &expect, SLOT_CLAIMED)) {
            *out = i;
            return 0;
        }
    }
    return en_fail(CD_EAGAIN, "all %u reader slots are in use", EN_READERS_MAX);
}

int en_read_begin(en_db *db, en_txn **out) {
    int rc0 = en_wait_open(db);
    if (rc0)
        return rc0;
    en_txn *t = calloc(1, sizeof *t);
    if (!t)
        return en_fail(CD_ENOMEM, "out of memory for a transaction");
    int rc = claim_slot(db, &t->slot);
    if (rc) {
        free(t);
        return rc;
    }
    atomic_fetch_add(&db->nreaders, 1);
    en_snap *s;
    do { /* hazard pointer: see en_int.h; all three accesses seq_cst */
        s = atomic_load(&db->current);
        atomic_store(&db->slots[t->slot], s);
    } while (atomic_load(&db->current) != s);
    t->db = db;
    t->snap = s;
    t->st = s->state;
    t->max_frame = s->max_frame;
    t->catalog.root = s->state.catalog_root;
    en_pager_init(t);
    if (t->max_frame && (rc = wal_rctx_new(db->wal, (wal_rctx **)&t->rctx)) != 0) {
        en_txn_end(t);
        return en_fail(rc, "out of memory for a log reader");
    }
    *out = t;
    return 0;
}

/* ---- write transactions ------------------------------------------------- */

int en_write_begin(en_db *db, en_txn **out) {
    if (en_writing == db)
        return en_fail(CD_EDEADLK, "this thread already holds the write transaction");
    if (atomic_load(&db->latched))
        return en_fail(CD_EREOPEN, "a sync failed earlier: close and reopen the database");
    en_txn *t = calloc(1, sizeof *t);
    if (!t)
        return en_fail(CD_ENOMEM, "out of memory for a transaction");
    t->grouped = en_group_of == db;
    if (!t->grouped)
        pthread_mutex_lock(&db->write_lock);
    if (atomic_load(&db->latched)) {
        if (!t->grouped)
            pthread_mutex_unlock(&db->write_lock);
        free(t);
        return en_fail(CD_EREOPEN, "a sync failed earlier: close and reopen the database");
    }
    t->prev_writing = en_writing; /* a write of another database may be open */
    en_writing = db;
    t->db = db;
    t->write = 1;
    t->st = db->state;
    t->st.txn = db->state.txn + 1;
    t->base_pages = db->state.page_count;
    t->max_frame = wal_max_frame(db->wal);
    t->catalog.root = db->state.catalog_root;
    t->rctx = NULL; /* the writer reads the log through the log's own context */
    en_pager_init(t);
    en_free_promote(db, reuse_bound(db));
    *out = t;
    return 0;
}

int en_latch(en_db *db, int rc, const char *what) {
    atomic_store(&db->latched, 1);
    return en_fail(rc, "%s failed (%s): the handle refuses writes until reopened",
                   what, en_code_name(rc));
}

/*
 * The group's pages.  A commit does not write its pages to the log: they
 * join db->group_pages (committed, not yet logged), where the group's next
 * transactions read them, and a page that a later transaction of the group
 * frees is dropped unwritten, since no published snapshot and no commit
 * record can reach it.  en_group_log then writes the pages left, the
 * changed free-list pages and one commit record holding the group's last
 * state, all under that state's transaction id: transactions of a group
 * that rewrite the same path of a tree write it once.  Nothing of the group
 * is acknowledged before its log sync, so a crash finds all of the
 * group's commits or none written after the last sync (each whole).
 */
/* Empties the group's table (its pages already gone); a table a large
 * group grew is freed, since every log write walks all of it. */
static void group_reset(en_db *db) {
    en_dirty *g = &db->group_pages;
    if (g->mask >= 1024) {
        free(g->slots);
        memset(g, 0, sizeof *g);
    } else if (g->slots) {
        memset(g->slots, 0, (g->mask + 1) * sizeof g->slots[0]);
        g->count = 0;
    }
    db->group_unlogged = 0;
}

static void group_drop(en_db *db) {
    en_dirty *g = &db->group_pages;
    for (uint32_t i = 0; g->slots && i <= g->mask; i++)
        for (en_buf *b = g->slots[i], *next; b; b = next) {
            next = b->next;
            en_buf_release(db, b);
        }
    group_reset(db);
}

void en_group_destroy(en_db *db) {
    group_drop(db);
    free(db->superseded);
    db->superseded = NULL;
    db->nsuperseded = db->superseded_cap = 0;
    free(db->group_pages.slots);
    memset(&db->group_pages, 0, sizeof db->group_pages);
}

/*
 * The images a group's pages were copied from leave the cache: a copied
 * page is freed, so only readers of snapshots older than the group could
 * want its image, and a cache of superseded images is memory that the
 * next commits do not reuse (measured: five mprotect calls a one-record
 * commit while the writer's heap grew, and a fifth of its time).  They
 * leave at the next group's log write, by when the readers that began
 * before this group's publication have mostly finished; one that has not
 * reads the image back from the log.
 */
static void superseded_forget(en_db *db) {
    for (uint32_t i = 0; i < db->nsuperseded; i++)
        en_cache_forget(db, db->cache, db->superseded[i].pgno, db->superseded[i].frame);
    db->nsuperseded = 0;
}

/* Notes b's base for superseded_forget; with no memory, forgets it now. */
static void superseded_add(en_db *db, const en_buf *b) {
    if (!b->base_frame || !db->cache)
        return;
    if (db->nsuperseded == db->superseded_cap) {
        uint32_t cap = db->superseded_cap ? 2 * db->superseded_cap : 64;
        void *more = realloc(db->superseded, cap * sizeof *db->superseded);
        if (!more) {
            en_cache_forget(db, db->cache, b->base_pgno, b->base_frame);
            return;
        }
        db->superseded = more;
        db->superseded_cap = cap;
    }
    db->superseded[db->nsuperseded++] = (struct en_superseded){b->base_pgno, b->base_frame};
}

int en_group_log(en_db *db) {
    if (atomic_load(&db->latched)) {
        group_drop(db);
        return en_fail(CD_EREOPEN, "a write failed earlier: close and reopen the database");
    }
    if (!db->group_unlogged)
        return 0;
    en_dirty *g = &db->group_pages;
    uint64_t txn = db->state.txn;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && g->slots && i <= g->mask; i++) {
        for (en_buf *b = g->slots[i]; rc == 0 && b; b = b->next) {
            /* the image it was copied from, if still cached: the log may
             * store the page as a delta over it (a cached image is freed
             * only by this thread's reclaim, not while it is used here) */
            const uint8_t *base = b->base_frame && db->cache
                                      ? en_cache_get(db->cache, b->base_pgno, b->base_frame)
                                      : NULL;
            wal_frame_ref ref;
            cd_page_seal(b->page, db->page_size); /* once a group, not a commit */
            rc = wal_append_page_delta(db->wal, txn, b->pgno, b->page, b->base_frame, base,
                                       &ref);
            b->frame = ref.frame;
            if (rc)
                rc = en_fail(rc, "writing page %u to the log", b->pgno);
        }
    }
    if (rc == 0)
        rc = en_free_write_chain(db, txn);
    uint8_t payload[EN_PAYLOAD_SIZE];
    en_state_encode(&db->state, payload);
    if (rc == 0 && (rc = wal_append_commit(db->wal, txn, payload, sizeof payload)) != 0)
        rc = en_fail(rc, "writing the commit record to the log");
    if (rc) {
        wal_abort(db->wal);
        group_drop(db);
        return en_latch(db, rc, "writing the commit");
    }
    /* Into the shared cache under their frames, so that the next
     * transactions and readers need not read them back. */
    superseded_forget(db);
    for (uint32_t i = 0; g->slots && i <= g->mask; i++) {
        for (en_buf *b = g->slots[i], *next; b; b = next) {
            next = b->next; /* adopt leaves it; a free does not */
            superseded_add(db, b);
            b->group = 0;
            if (!db->cache || !en_cache_adopt(db, db->cache, b, b->pgno, b->frame))
                en_buf_release(db, b);
        }
    }
    group_reset(db);
    return 0;
}

/* Moves the committed transaction's pages into the group's, stamped with
 * its number (sealed when the group is logged), and drops the group's
 * pages it freed.  Cannot fail: the room was reserved. */
static void group_take(en_txn *t) {
    en_db *db = t->db;
    en_dirty *g = &db->group_pages;
    for (uint32_t i = 0; g->count && i < t->nfreed; i++) {
        en_buf *b = en_dirty_find(g, t->freed[i]);
        if (b) {
            en_dirty_remove(g, b);
            en_buf_release(db, b);
        }
    }
    uint32_t left = t->dirty.count; /* the table's slots past them are empty */
    for (uint32_t i = 0; left && i <= t->dirty.mask; i++) {
        for (en_buf *b = t->dirty.slots[i], *next; b; b = next, left--) {
            next = b->next;
            cd_page_set_txn(b->page, t->st.txn);
            b->pins = 0;
            b->group = 1;
            en_dirty_add(g, b);
        }
        t->dirty.slots[i] = NULL;
    }
    t->dirty.count = 0;
    db->group_unlogged++;
}

/* The part of a commit after which a failure latches the handle. */
static int commit_log(en_txn *t) {
    int rc = en_free_commit(t);
    t->st.next_txn = t->st.txn + 1;
    if (rc) {
        wal_abort(t->db->wal);
        return en_latch(t->db, rc, "writing the commit");
    }
    group_take(t);
    return 0;
}

/*
 * After a commit: checkpoint once the log passes the threshold.  While
 * readers keep the log from being reset (they read frames of it), it grows;
 * then checkpoint again only after another threshold's worth of log, and
 * reset as soon as no reader holds frames.  The log is measured in whole
 * pages (en_log_bytes), however small its frames are stored: what readers
 * find in the log rather than in the main file is what the threshold
 * bounds.
 */
static int auto_checkpoint(en_db *db) {
    uint64_t size = en_log_bytes(db), with_frames = 0;
    if (size <= db->opt.checkpoint_bytes)
        return 0;
    en_readers_active(db, &with_frames);
    if (with_frames && size - db->ckpt_log_bytes <= db->opt.checkpoint_bytes)
        return 0;
    return en_checkpoint_locked(db);
}

/* The group's unlogged pages are logged past this many bytes. */
static uint64_t group_bytes_max(const en_db *db) {
    uint64_t max = EN_GROUP_BYTES_MAX / 2;
    return db->opt.cache_bytes < max ? db->opt.cache_bytes : max;
}

/*
 * Commits t as part of the current commit group: its pages join the
 * group's; the log write, the log sync (FULL) and the publication to
 * readers wait for en_group_finish, which the writer calls once per group,
 * so several transactions share one log write and one sync.
 * The writer's own state moves on at once: the group's next transaction
 * builds on this one.  Ends t either way.
 */
int en_commit_group(en_txn *t) {
    en_db *db = t->db;
    int rc = 0;
    if (!t->write) {
        en_txn_end(t);
        return 0;
    }
    if (t->failed)
        rc = en_fail(CD_EINVAL, "a write in this transaction failed: it can only roll back");
    else if (t->cursors)
        rc = en_fail(CD_EINVAL, "close the transaction's cursors before committing");
    int changed = t->dirty.count || t->nspilled || t->catalog_dirty || t->nfreed || t->ntaken ||
                  t->st.page_count != db->state.page_count;
    if (rc == 0 && changed)
        rc = en_catalog_flush(t);
    /* A large transaction's pages new to the file go to the main file. */
    if (rc == 0 && changed && t->nspilled)
        rc = en_pager_commit_direct(t);
    /* The snapshot to publish is allocated before the commit, so that
     * nothing can fail once the commit is in the log. */
    en_snap *snap = NULL;
    if (rc == 0 && changed && !(snap = calloc(1, sizeof *snap)))
        rc = en_fail(CD_ENOMEM, "out of memory publishing a snapshot");
    if (rc == 0 && changed && en_dirty_reserve(&db->group_pages, t->dirty.count) != 0) {
        free(snap);
        rc = en_fail(CD_ENOMEM, "out of memory for the commit group's pages");
    }
    if (rc) {
        en_txn_end(t);
        return rc;
    }
    if (changed) {
        if ((rc = commit_log(t)) != 0) {
            free(snap);
        } else {
            db->state = t->st;
            db->n_commits++;
            free(db->group_snap); /* superseded before it was published */
            db->group_snap = snap;
            db->group_txns++;
            en_notes_commit(t);
            /* Spilled frames of this transaction are open in the log: they
             * are logged now, before another transaction can abort them.
             * A group holding much is logged too (it is memory). */
            if (t->nspilled ||
                (uint64_t)db->group_pages.count * db->page_size > group_bytes_max(db))
                rc = en_group_log(db);
        }
    }
    t->ntaken = t->nown = t->nfreed = 0; /* applied: nothing to put back */
    en_txn_end(t);
    return rc;
}

/*
 * Ends a commit group: its commits written to the log (en_group_log), one
 * log sync (FULL), then readers see the group's last state.  A failed
 * write or sync latches the handle and returns its status: the group's
 * commits were not acknowledged (a reopen may or may not find them, each
 * whole or not at all).  Holds the write lock (the writer).
 */
int en_group_finish(en_db *db) {
    if (!db->group_txns)
        return 0;
    db->group_txns = 0;
    int rc = en_group_log(db);
    if (rc) {
        free(db->group_snap);
        db->group_snap = NULL;
        return rc;
    }
    if (db->opt.sync == EN_SYNC_FULL && (rc = wal_sync(db->wal)) != 0) {
        free(db->group_snap);
        db->group_snap = NULL;
        return en_latch(db, rc, "syncing the log");
    }
    en_publish_snap(db, db->group_snap, &db->state, wal_max_frame(db->wal));
    db->group_snap = NULL;
    /* The transactions have committed: a failed checkpoint is not their
     * failure.  One that failed writing or syncing latched the handle (the
     * next write or en_close says so); after any other failure the next
     * commit or en_close tries again. */
    (void)auto_checkpoint(db);
    return 0;
}

/*
 * A commit group holds the write lock from en_group_begin to en_group_end;
 * the write transactions begun in between on this thread run inside it
 * (they neither take nor release the lock).
 */
void en_group_begin(en_db *db) {
    pthread_mutex_lock(&db->write_lock);
    en_group_of = db;
}

/* Ends the group and releases the write lock; then the watchers hear of
 * the group's commits, if they were published.  held: the group this
 * thread began (en_group_begin), not a direct commit's. */
static int group_close(en_db *db, int held) {
    int rc = en_group_finish(db);
    en_note_batch notes = en_notes_take(db, rc == 0);
    if (held)
        en_group_of = NULL;
    pthread_mutex_unlock(&db->write_lock);
    en_watch_notify(db, notes);
    return rc;
}

int en_group_end(en_db *db) { return group_close(db, 1); }

int en_commit(en_txn *t) {
    if (!t->write || t->grouped)
        return en_commit_group(t);
    en_db *db = t->db;
    t->grouped = 1; /* keep the write lock through the group's end */
    int rc = en_commit_group(t); /* ends t */
    int frc = group_close(db, 0);
    return rc ? rc : frc;
}

void en_txn_end(en_txn *t) {
    if (!t)
        return;
    en_db *db = t->db;
    while (t->cursor_list)
        en_cursor_detach(t->cursor_list);
    en_pager_release_all(t);
    en_notes_free(t);
    free(t->roots);
    if (t->write) {
        /* Drops frames of this transaction still open in the log (spilled
         * pages, a failed commit); after a commit there are none. */
        wal_abort(db->wal);
        en_free_abort(t);
        free(t->taken);
        free(t->freed);
        free(t->own_free);
        en_writing = t->prev_writing;
        if (!t->grouped)
            pthread_mutex_unlock(&db->write_lock);
    } else if (db) {
        if (t->rctx)
            wal_rctx_free(db->wal, t->rctx);
        /* release: the writer may now free the snapshot and reuse pages */
        atomic_store_explicit(&db->slots[t->slot], NULL, memory_order_release);
        atomic_fetch_sub(&db->nreaders, 1);
    }
    free(t);
}

int en_txn_is_write(const en_txn *t) { return t->write; }
uint64_t en_txn_id(const en_txn *t) { return t->st.txn; }

en_db *en_txn_db(const en_txn *t) { return t->db; }
