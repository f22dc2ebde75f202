/*
 * en_pager.c: the page source a transaction gives the B+tree (bt_pager),
 * and page reads from disk.
 *
 * A page read for a snapshot comes from the write transaction's dirty set
 * (writers), else the commit group's unlogged pages (writers), else the
 * newest log frame the snapshot can see, else the main
 * file; it is verified before anyone sees it and lives in an en_buf pinned
 * by the caller.  Copy-on-write (dirty) copies a page to a page number
 * taken from the free-page manager and frees the old number, which stays
 * reachable by older snapshots until they end.  Uses wal/, os/, codec/.
 */
#include <stdlib.h>

#include "en_int.h"

/* Spare buffers a transaction keeps for reuse. */
#define SPARE_BUFS_MAX 64u

static en_buf *buf_get(en_txn *t) {
    en_buf *b = t->bufs_free;
    if (b) {
        t->bufs_free = b->next;
        t->nspare--;
    } else {
        uint8_t *mem = NULL;
        if (posix_memalign((void **)&mem, 64, EN_BUF_HDR + t->db->page_size) != 0)
            return NULL;
        b = (en_buf *)mem;
        b->page = mem + EN_BUF_HDR;
    }
    b->next = NULL;
    b->pins = 0;
    b->fresh = 0;
    b->cached = 0;
    b->live = 0;
    b->group = 0;
    t->bufs_live++;
    return b;
}

/* A pinned read copy joins the live set, so that the end of the
 * transaction frees it even if a value still pins it (values need not be
 * released before their transaction ends): live_add, or live_reserve
 * first and then live_put where the copy must not fail to join. */
static int live_reserve(en_txn *t) {
    if (t->nlive == t->cap_live) {
        uint32_t nc = t->cap_live ? t->cap_live * 2 : 16;
        en_buf **nl = realloc(t->live, (size_t)nc * sizeof *nl);
        if (!nl)
            return en_fail(CD_ENOMEM, "out of memory for a page buffer");
        t->live = nl;
        t->cap_live = nc;
    }
    return 0;
}

static void live_put(en_txn *t, en_buf *b, uint32_t pgno) {
    ISLE_ASSERT(t->nlive < t->cap_live);
    b->pgno = pgno;
    b->pins = 1;
    b->live = 1;
    b->live_idx = t->nlive;
    t->live[t->nlive++] = b;
}

static int live_add(en_txn *t, en_buf *b, uint32_t pgno) {
    int rc = live_reserve(t);
    if (rc == 0)
        live_put(t, b, pgno);
    return rc;
}

static void live_del(en_txn *t, en_buf *b) {
    if (!b->live)
        return;
    en_buf *last = t->live[--t->nlive];
    t->live[b->live_idx] = last;
    last->live_idx = b->live_idx;
    b->live = 0;
}

/* Pushes b on a list of spare buffers holding *n, or frees it past max. */
static void spare_push(en_buf **list, uint32_t *n, uint32_t max, en_buf *b) {
    if (*n >= max) {
        free(b);
        return;
    }
    b->next = *list;
    *list = b;
    (*n)++;
}

static uint32_t spare_max(const en_db *db);

static void buf_put(en_txn *t, en_buf *b) {
    ISLE_ASSERT(b->pins == 0);
    t->bufs_live--;
    spare_push(&t->bufs_free, &t->nspare, t->write ? spare_max(t->db) : SPARE_BUFS_MAX, b);
}

/* ---- the dirty set -------------------------------------------------------- */

static uint32_t hash_pgno(uint32_t pgno) { return pgno * 0x9e3779b1u; }

en_buf *en_dirty_find(const en_dirty *d, uint32_t pgno) {
    if (!d->slots)
        return NULL;
    for (en_buf *b = d->slots[hash_pgno(pgno) & d->mask]; b; b = b->next)
        if (b->pgno == pgno)
            return b;
    return NULL;
}

/* A write transaction's dirty set starts with this many slots. */
#define EN_DIRTY_SLOTS0 256u

static int dirty_grow(en_dirty *d, uint32_t want) {
    uint32_t n = d->slots ? (d->mask + 1) * 2 : EN_DIRTY_SLOTS0;
    while (n <= want)
        n *= 2;
    en_buf **slots = calloc(n, sizeof *slots);
    if (!slots)
        return CD_ENOMEM;
    for (uint32_t i = 0; d->slots && i <= d->mask; i++) {
        for (en_buf *b = d->slots[i], *next; b; b = next) {
            next = b->next;
            b->next = slots[hash_pgno(b->pgno) & (n - 1)];
            slots[hash_pgno(b->pgno) & (n - 1)] = b;
        }
    }
    free(d->slots);
    d->slots = slots;
    d->mask = n - 1;
    return 0;
}

int en_dirty_reserve(en_dirty *d, uint32_t n) {
    if (d->slots && (uint64_t)d->count + n < d->mask)
        return 0;
    if ((uint64_t)d->count + n >= (1u << 30))
        return CD_ENOMEM;
    return dirty_grow(d, d->count + n);
}

int en_dirty_add(en_dirty *d, en_buf *b) {
    if ((!d->slots || d->count >= d->mask) && dirty_grow(d, 0) != 0)
        return CD_ENOMEM;
    en_buf **head = &d->slots[hash_pgno(b->pgno) & d->mask];
    b->next = *head;
    *head = b;
    d->count++;
    return 0;
}

void en_dirty_remove(en_dirty *d, en_buf *b) {
    for (en_buf **p = &d->slots[hash_pgno(b->pgno) & d->mask]; *p; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            d->count--;
            return;
        }
    }
}

/* ---- spilling ------------------------------------------------------------- */

/*
 * A write transaction keeps its dirty pages in memory up to the cache
 * budget (en_options.cache_bytes).  Past it, every unpinned dirty page is
 * sealed and written out, and its memory freed; a later read finds it
 * through the spill map, and making it dirty again brings it back.
 *
 * Where a spilled page goes:
 *   - a page numbered past the file's committed end when the transaction
 *     began (t->base_pages: taken from the end of the file, not from the
 *     free list) is written to its own place in the main file.  No
 *     snapshot, log frame or checkpoint refers to that place, so nothing
 *     can read or overwrite it there until this transaction commits; the
 *     commit writes the transaction's other pages past the end there too
 *     and syncs the main file before its commit record is written
 *     (en_pager_commit_direct), so that the data of a large transaction
 *     is written once, not to the log and again by the checkpoint.  An
 *     abort leaves unreferenced bytes past the end, which the next
 *     allocations overwrite;
 *   - any other page is appended to the log as a frame of the open
 *     transaction (its next frame supersedes it: the log's index keeps
 *     the newest frame of a page); an abort discards the frames with the
 *     rest of the transaction.
 * A spill map entry with frame 0 names a page in the main file.
 */
static en_spilled *spill_find(const en_spillmap *m, uint32_t pgno, en_spilled ***link) {
    if (!m->slots)
        return NULL;
    for (en_spilled **p = &m->slots[hash_pgno(pgno) & m->mask]; *p; p = &(*p)->next)
        if ((*p)->pgno == pgno) {
            if (link)
                *link = p;
            return *p;
        }
    return NULL;
}

static int spill_add(en_spillmap *m, uint32_t pgno, const wal_frame_ref *ref) {
    en_spilled **link, *s = spill_find(m, pgno, &link);
    if (s) {
        s->ref = *ref;
        return 0;
    }
    if (!m->slots || m->count >= m->mask) {
        uint32_t n = m->slots ? (m->mask + 1) * 2 : 1024;
        en_spilled **slots = calloc(n, sizeof *slots);
        if (!slots)
            return CD_ENOMEM;
        for (uint32_t i = 0; m->slots && i <= m->mask; i++)
            for (en_spilled *e = m->slots[i], *next; e; e = next) {
                next = e->next;
                e->next = slots[hash_pgno(e->pgno) & (n - 1)];
                slots[hash_pgno(e->pgno) & (n - 1)] = e;
            }
        free(m->slots);
        m->slots = slots;
        m->mask = n - 1;
    }
    if (!(s = malloc(sizeof *s)))
        return CD_ENOMEM;
    *s = (en_spilled){pgno, *ref, m->slots[hash_pgno(pgno) & m->mask]};
    m->slots[hash_pgno(pgno) & m->mask] = s;
    m->count++;
    return 0;
}

static void spill_remove(en_spillmap *m, uint32_t pgno) {
    en_spilled **link, *s = spill_find(m, pgno, &link);
    if (s) {
        *link = s->next;
        free(s);
        m->count--;
    }
}

static void spill_clear(en_spillmap *m) {
    for (uint32_t i = 0; m->slots && i <= m->mask; i++)
        for (en_spilled *e = m->slots[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/*
 * A buffer that has left the dirty set: spare, or, while a caller still
 * holds a value on it (isle.h asks them to release values before writing
 * the tree; if they did not, the bytes stay readable, if stale, until the
 * value is released or the transaction ends), a read copy.
 */
static void dirty_release(en_txn *t, en_buf *b) {
    if (b->pins == 0) {
        buf_put(t, b);
        return;
    }
    uint32_t pins = b->pins;
    live_put(t, b, b->pgno);
    b->pins = pins;
}

/* Before b leaves the dirty set: room for dirty_release to keep it. */
static int dirty_release_reserve(en_txn *t, const en_buf *b) {
    return b->pins ? live_reserve(t) : 0;
}

/*
 * The commit (or checkpoint) syncs the main file: once ascending writes
 * make a range of EN_WRITEBACK_BYTES, the device can start on it.  A write
 * before the range's end or far past it starts a new range (scattered
 * pages wait for the sync); short gaps (the branch pages a load leaves in
 * memory between its leaves) stay inside.
 */
uint64_t en_writeback_note(const en_db *db, en_wbrange *w, uint64_t off, uint64_t len,
                           uint64_t *hint) {
    if (off < w->hi || off - w->hi >= EN_WRITEBACK_BYTES)
        w->lo = off;
    w->hi = off + len;
    if (w->hi - w->lo < EN_WRITEBACK_BYTES || db->opt.sync == EN_SYNC_OFF)
        return 0;
    *hint = w->lo;
    w->lo = w->hi;
    return w->hi - *hint;
}

void en_writeback_now(const en_db *db, en_wbrange *w, uint64_t off, uint64_t len) {
    uint64_t hint = 0, n = en_writeback_note(db, w, off, len, &hint);
    if (n)
        os_writeback(db->file, hint, n);
}

/* Hands dirty pages bufs[0, n), numbered consecutively from bufs[0] and
 * each past base_pages, to the write-behind thread (en_flush.c), which
 * seals and writes them; the buffers are free again on return. */
static int write_run(en_txn *t, en_buf *const *bufs, uint32_t n) {
    en_db *db = t->db;
    uint32_t P = db->page_size;
    int rc;
    uint8_t *slot = en_flush_slot(db, &rc);
    if (!slot)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        ISLE_ASSERT(bufs[i]->pgno == bufs[0]->pgno + i && bufs[i]->pgno >= t->base_pages);
        en_map_invalidate(db, bufs[i]->pgno); /* never read there yet: only for form */
        memcpy(slot + (size_t)i * P, bufs[i]->page, P);
    }
    uint64_t hint = 0, len = en_writeback_note(db, &t->wb, (uint64_t)bufs[0]->pgno * P,
                                                   (uint64_t)n * P, &hint);
    en_flush_submit(db, bufs[0]->pgno, n, t->st.txn, hint, len);
    db->n_direct += n;
    return 0;
}

/* Before a spill: the group's unlogged commits go first, since the frames
 * of one log transaction are contiguous.  This transaction's snapshot is
 * their state, so it reads them from the log from then on. */
static int spill_prepare(en_txn *t) {
    en_db *db = t->db;
    if (!db->group_unlogged)
        return 0;
    int rc = en_group_log(db);
    if (rc) {
        t->failed = 1;
        return rc;
    }
    t->max_frame = wal_max_frame(db->wal);
    return 0;
}

/* After dirty page b was written to the main file (frame 0) or to the
 * log (ref): it leaves the dirty set for the spill map. */
static int spilled(en_txn *t, en_buf *b, const wal_frame_ref *ref) {
    if (spill_add(&t->spill, b->pgno, ref) != 0) {
        t->failed = 1;
        return en_fail(CD_ENOMEM, "spilling page %u", b->pgno);
    }
    t->nspilled++;
    t->db->n_spilled++;
    en_dirty_remove(&t->dirty, b);
    buf_put(t, b);
    return 0;
}

static int spilled_main(en_txn *t, en_buf *b) {
    return spilled(t, b, &(wal_frame_ref){.pgno = b->pgno}); /* frame 0: the main file */
}

static int cmp_buf_pgno(const void *a, const void *b) {
    uint32_t x = (*(en_buf *const *)a)->pgno, y = (*(en_buf *const *)b)->pgno;
    return x < y ? -1 : x > y;
}

/*
 * Writes dirty pages v[0, n), each past base_pages, to the main file in
 * page order: runs of consecutive pages through the write-behind ring
 * (write_run), one write a run; then `then` takes each page of the run out
 * of the dirty set.  Taken in the dirty table's order, the pages a load
 * leaves to its commit were 540 writes of one page each.  A failure fails
 * the transaction.
 */
static int write_runs(en_txn *t, en_buf **v, uint32_t n, int (*then)(en_txn *, en_buf *)) {
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_buf_pgno);
    for (uint32_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && j - i < EN_BEHIND_PAGES && v[j]->pgno == v[j - 1]->pgno + 1;)
            j++;
        int rc = write_run(t, v + i, j - i);
        for (uint32_t k = i; rc == 0 && k < j; k++)
            rc = then(t, v[k]);
        if (rc) {
            t->failed = 1;
            return rc;
        }
    }
    return 0;
}

/*
 * Write-behind: a large transaction loading keys in ascending order fills
 * page after page on the tree's right edge, and each page an append split
 * leaves full (bt_pager_ops.done) is copied, once unpinned, into a run of
 * consecutive pages that the write-behind thread (en_flush.c) seals and
 * writes to its place in the main file, and its buffer reused.  A
 * load thus holds a few buffers, warm in the processor's cache, instead of
 * a cache's worth, and its data reaches the file as it goes rather than
 * all at the commit.  The pages are spilled pages like any (see above):
 * only pages past base_pages, whose place nothing can read before the
 * commit, and only past EN_BEHIND_FROM bytes of dirty pages, so that a
 * small transaction is logged whole and pays no sync of the main file.
 */
static void op_done(void *ctx, uint32_t pgno) {
    en_txn *t = ctx;
    if (pgno < t->base_pages || t->nbehind == EN_BEHIND_PAGES ||
        (uint64_t)t->dirty.count * t->db->page_size < EN_BEHIND_FROM)
        return;
    t->behind[t->nbehind++] = pgno;
}

/* Writes the queued pages that are still dirty and unpinned; pinned ones
 * stay queued. */
static int behind_write(en_txn *t) {
    int rc = spill_prepare(t);
    if (rc)
        return rc;
    en_buf *v[EN_BEHIND_PAGES];
    uint32_t n = 0, kept = 0;
    for (uint32_t i = 0; i < t->nbehind; i++) {
        en_buf *b = en_dirty_find(&t->dirty, t->behind[i]);
        if (b && b->pins)
            t->behind[kept++] = b->pgno;
        else if (b)
            v[n++] = b;
    }
    t->nbehind = kept;
    return write_runs(t, v, n, spilled_main);
}

/* Spills every unpinned dirty page when the dirty set passes the budget. */
static int maybe_spill(en_txn *t) {
    en_db *db = t->db;
    if ((uint64_t)t->dirty.count * db->page_size <= db->opt.cache_bytes)
        return 0;
    int rc = spill_prepare(t);
    if (rc)
        return rc;
    en_buf **v = malloc(t->dirty.count * sizeof *v); /* the pages for the main file */
    if (!v) {
        t->failed = 1;
        return en_fail(CD_ENOMEM, "out of memory spilling pages");
    }
    uint32_t n = 0;
    for (uint32_t i = 0; rc == 0 && i <= t->dirty.mask; i++) {
        for (en_buf **p = &t->dirty.slots[i]; rc == 0 && *p;) {
            en_buf *b = *p;
            if (b->pins || b->pgno >= t->base_pages) {
                if (!b->pins)
                    v[n++] = b;
                p = &b->next;
                continue;
            }
            wal_frame_ref ref;
            en_page_seal(b->page, db->page_size, t->st.txn);
            if ((rc = wal_append_page_ref(db->wal, t->st.txn, b->pgno, b->page, &ref)) != 0) {
                t->failed = 1;
                rc = en_fail(rc, "spilling page %u to the log", b->pgno);
            } else {
                rc = spilled(t, b, &ref); /* unlinks b: *p is the next */
            }
        }
    }
    if (rc == 0)
        rc = write_runs(t, v, n, spilled_main);
    free(v);
    if (rc)
        return rc;
    rc = wal_flush(db->wal);
    if (rc) {
        t->failed = 1;
        return en_fail(rc, "writing spilled pages to the log");
    }
    return 0;
}

/* Reads a spilled page back into buffer b. */
static int spill_read(en_txn *t, const en_spilled *s, unsigned mask, uint8_t *page) {
    if (s->ref.frame == 0) { /* in the main file, once its run is written */
        int rc = en_flush_wait(t->db, 1);
        return rc ? rc : en_read_page(t->db, 0, s->pgno, mask, page, NULL);
    }
    cd_diag d = {0};
    int rc = wal_read_page(t->db->wal, &s->ref, page, NULL, &d);
    if (rc == 0)
        rc = cd_page_validate(page, t->db->page_size, s->pgno, mask, &d);
    if (rc == CD_ECORRUPT)
        return en_fail(rc, "page %u spilled to the log reads back corrupt: %s", s->pgno,
                       d.what ? d.what : "?");
    return rc ? en_fail(rc, "reading spilled page %u back", s->pgno) : 0;
}

/* A page the commit wrote leaves the dirty set. */
static int released(en_txn *t, en_buf *b) {
    int rc = dirty_release_reserve(t, b);
    if (rc == 0) {
        en_dirty_remove(&t->dirty, b);
        dirty_release(t, b);
    }
    return rc;
}

/*
 * At the commit of a transaction that spilled: writes its dirty pages
 * past base_pages to the main file (write_runs) and frees them, then
 * syncs the main file (all but SYNC_OFF), so that they and the pages
 * spilled there are durable before the commit record that makes them
 * reachable is written.  A failed write leaves the transaction to roll
 * back; a failed sync latches the handle.
 */
int en_pager_commit_direct(en_txn *t) {
    en_db *db = t->db;
    int rc = 0;
    en_buf **v = NULL;
    uint32_t n = 0;
    /* a failed run written behind earlier is reported by the first slot
     * write_runs asks for, or by the wait below */
    if (t->dirty.count && !(v = malloc(t->dirty.count * sizeof *v)))
        rc = en_fail(CD_ENOMEM, "out of memory committing a large transaction");
    for (uint32_t i = 0; rc == 0 && t->dirty.slots && i <= t->dirty.mask; i++)
        for (en_buf *b = t->dirty.slots[i]; b; b = b->next)
            if (b->pgno >= t->base_pages)
                v[n++] = b;
    if (rc == 0)
        rc = write_runs(t, v, n, released);
    free(v);
    if (rc == 0)
        rc = en_flush_wait(db, 1);
    if (rc)
        return rc;
    if (db->opt.sync != EN_SYNC_OFF && (rc = os_sync(db->file)) != 0)
        return en_latch(db, rc, "syncing the main file");
    uint64_t size;
    if (os_size(db->file, &size) == 0) /* readers may now map these pages */
        en_map_extend(db, (uint32_t)(size / db->page_size));
    return 0;
}

/* ---- reading from disk ---------------------------------------------------- */

int en_page_corrupt(uint32_t pgno, const char *where, const cd_diag *d) {
    return en_fail(CD_ECORRUPT, "page %u is corrupt (%s): %s [cd %d, offset %zu]",
                   pgno, where, d->what ? d->what : "?", d->line, d->offset);
}

int en_read_page(en_db *db, uint64_t max_frame, uint32_t pgno, unsigned mask,
                 uint8_t *buf, void *rctx) {
    cd_diag d = {0};
    wal_frame_ref ref;
    int rc;
    if (max_frame && wal_find(db->wal, pgno, max_frame, &ref) == 0) {
        rc = wal_read_page(db->wal, &ref, buf, rctx, &d);
        if (rc == CD_ECORRUPT)
            return en_page_corrupt(pgno, "log frame", &d);
        if (rc)
            return en_fail(rc, "reading page %u from the log: %s", pgno,
                           d.what ? d.what : "I/O error");
        rc = cd_page_validate(buf, db->page_size, pgno, mask, &d);
        return rc ? en_page_corrupt(pgno, "log", &d) : 0;
    }
    size_t got = 0;
    rc = os_read(db->file, (uint64_t)pgno * db->page_size, buf, db->page_size, &got);
    if (rc)
        return en_fail(rc, "reading page %u: %s", pgno, os_file_error(db->file));
    if (got != db->page_size) {
        d.what = "page lies beyond the end of the file";
        return en_page_corrupt(pgno, "main file", &d);
    }
    rc = cd_page_validate(buf, db->page_size, pgno, mask, &d);
    return rc ? en_page_corrupt(pgno, "main file", &d) : 0;
}

/* ---- bt_pager ops ---------------------------------------------------------- */

int en_page_type_check(const uint8_t *page, uint32_t pgno, unsigned mask) {
    unsigned bit;
    switch (cd_page_type(page)) {
    case CD_PAGE_BRANCH: bit = CD_PAGE_MASK_BRANCH; break;
    case CD_PAGE_LEAF: bit = CD_PAGE_MASK_LEAF; break;
    case CD_PAGE_OVERFLOW: bit = CD_PAGE_MASK_OVERFLOW; break;
    default: bit = 0; break;
    }
    return bit & mask ? 0 : en_fail(CD_ECORRUPT, "page %u has the wrong type for its place", pgno);
}

static int check_pgno(en_txn *t, uint32_t pgno) {
    if (pgno < CD_FIRST_DATA_PGNO || pgno >= t->st.page_count)
        return en_fail(CD_ECORRUPT, "page %u is referenced but the database has %u pages",
                       pgno, t->st.page_count);
    return 0;
}

/*
 * A committed page for the transaction's snapshot: in place from the
 * mapped main file, from the shared cache, or read, verified and offered
 * to the cache.  *base (if not NULL) says which log frame holds the image
 * (en_buf's base_pgno and base_frame; frame 0: none, as for the main
 * file); a page committed earlier in the group passes on its own base.
 */
static int get_committed(en_txn *t, uint32_t pgno, unsigned mask, const uint8_t **page,
                         en_buf *base) {
    en_db *db = t->db;
    en_buf *g = t->write ? en_dirty_find(&db->group_pages, pgno) : NULL;
    if (g) { /* committed earlier in this group, not yet in the log */
        int rc = en_page_type_check(g->page, pgno, mask);
        if (rc == 0)
            *page = g->page;
        if (base) {
            base->base_pgno = g->base_pgno;
            base->base_frame = g->base_frame;
        }
        return rc;
    }
    wal_frame_ref ref;
    uint64_t frame = 0;
    if (t->max_frame && wal_find(db->wal, pgno, t->max_frame, &ref) == 0)
        frame = ref.frame;
    if (base) {
        base->base_pgno = pgno;
        base->base_frame = (uint32_t)frame; /* <= WAL_FRAMES_MAX */
    }
    int rc;
    if (frame == 0 && (rc = en_map_page(db, pgno, mask, page)) != 0)
        return rc < 0 ? rc : 0;
    const uint8_t *cp = db->cache ? en_cache_get(db->cache, pgno, frame) : NULL;
    if (cp) {
        if ((rc = en_page_type_check(cp, pgno, mask)) != 0)
            return rc;
        *page = cp;
        return 0;
    }
    en_buf *b = buf_get(t);
    if (!b)
        return en_fail(CD_ENOMEM, "out of memory for a page buffer");
    rc = en_read_page(db, frame ? t->max_frame : 0, pgno, mask, b->page, t->rctx);
    if (rc) {
        buf_put(t, b);
        return rc;
    }
    if (db->cache && (cp = en_cache_adopt(db, db->cache, b, pgno, frame)) != NULL) {
        t->bufs_live--; /* the cache's now */
        *page = cp;
        return 0;
    }
    if ((rc = live_add(t, b, pgno)) != 0) {
        buf_put(t, b);
        return rc;
    }
    *page = b->page;
    return 0;
}

static int op_get(void *ctx, uint32_t pgno, unsigned mask, const uint8_t **page) {
    en_txn *t = ctx;
    en_buf *b = t->write ? en_dirty_find(&t->dirty, pgno) : NULL;
    if (b) {
        int rc = en_page_type_check(b->page, pgno, mask);
        if (rc)
            return rc;
        b->pins++;
        *page = b->page;
        return 0;
    }
    int rc = check_pgno(t, pgno);
    if (rc)
        return rc;
    const en_spilled *s = t->write ? spill_find(&t->spill, pgno, NULL) : NULL;
    if (!s)
        return get_committed(t, pgno, mask, page, NULL);
    if (!(b = buf_get(t)))
        return en_fail(CD_ENOMEM, "out of memory for a page buffer");
    if ((rc = spill_read(t, s, mask, b->page)) != 0 || (rc = live_add(t, b, pgno)) != 0) {
        buf_put(t, b);
        return rc;
    }
    *page = b->page;
    return 0;
}

static void op_unpin(void *ctx, const uint8_t *page) {
    en_txn *t = ctx;
    if (en_map_owns(t->db, page)) /* the file's own bytes: nothing to release */
        return;
    en_buf *b = EN_BUF_OF(page);
    if (b->cached || b->group) /* the cache's or the group's, not pinned */
        return;
    ISLE_VERIFY(b->pins > 0);
    /* By identity: a read copy of a page whose number is also dirty (a
     * spilled page brought back) is still a read copy. */
    if (--b->pins == 0 && en_dirty_find(&t->dirty, b->pgno) != b) {
        live_del(t, b);
        buf_put(t, b);
    }
}

static void op_pin(void *ctx, const uint8_t *page) {
    en_txn *t = ctx;
    if (en_map_owns(t->db, page))
        return;
    en_buf *b = EN_BUF_OF(page);
    if (!b->cached && !b->group)
        b->pins++;
}

/* A new dirty buffer for page number pgno (allocated by the caller). */
static int dirty_new(en_txn *t, uint32_t pgno, en_buf **out) {
    en_buf *b = buf_get(t);
    if (!b)
        return en_fail(CD_ENOMEM, "out of memory for a page buffer");
    b->pgno = pgno;
    b->fresh = 1;
    b->pins = 1;
    b->base_frame = 0;
    if (en_dirty_add(&t->dirty, b) != 0) {
        b->pins = 0;
        buf_put(t, b);
        return en_fail(CD_ENOMEM, "out of memory for the dirty page table");
    }
    *out = b;
    return 0;
}

/* A new page for t, dirty and pinned, its bytes not yet set. */
static int alloc_buf(en_txn *t, uint32_t *pgno, uint8_t **page) {
    uint32_t p;
    int rc = maybe_spill(t);
    if (rc == 0 && t->nbehind == EN_BEHIND_PAGES)
        rc = behind_write(t);
    if (rc)
        return rc;
    rc = en_free_alloc(t, &p);
    en_buf *b = NULL;
    if (rc == 0 && (rc = dirty_new(t, p, &b)) != 0)
        en_free_release(t, p, 1);
    if (rc)
        return rc;
    *pgno = p;
    *page = b->page;
    return 0;
}

static int op_alloc(void *ctx, uint32_t *pgno, uint8_t **page) {
    return alloc_buf(ctx, pgno, page); /* the btree starts it (cd_page_init) */
}

/* pgno pinned, if this transaction holds it writable: dirty, or spilled
 * (brought back into memory, same number).  CD_ENOTFOUND otherwise. */
static int op_owned(void *ctx, uint32_t pgno, uint8_t **page) {
    en_txn *t = ctx;
    en_buf *b = en_dirty_find(&t->dirty, pgno);
    if (b) {
        b->pins++;
        *page = b->page;
        return 0;
    }
    const en_spilled *s = spill_find(&t->spill, pgno, NULL);
    if (!s)
        return CD_ENOTFOUND;
    /* allocated in this transaction: back into memory, same number */
    int rc = maybe_spill(t);
    if (rc == 0)
        rc = dirty_new(t, pgno, &b);
    if (rc == 0 && (rc = spill_read(t, s, CD_PAGE_MASK_TREE | CD_PAGE_MASK_OVERFLOW,
                                    b->page)) != 0) {
        b->pins = 0;
        en_dirty_remove(&t->dirty, b);
        buf_put(t, b);
    }
    if (rc)
        return rc;
    spill_remove(&t->spill, pgno);
    *page = b->page;
    return 0;
}

static int op_dirty(void *ctx, uint32_t pgno, uint32_t *new_pgno, uint8_t **page) {
    en_txn *t = ctx;
    int rc = op_owned(ctx, pgno, page);
    if (rc != CD_ENOTFOUND) {
        *new_pgno = pgno;
        return rc;
    }
    /* Neither dirty nor spilled (op_owned): a committed page. */
    const uint8_t *old;
    en_buf base = {0};
    if ((rc = check_pgno(t, pgno)) != 0 ||
        (rc = get_committed(t, pgno, CD_PAGE_MASK_TREE | CD_PAGE_MASK_OVERFLOW, &old,
                            &base)) != 0)
        return rc;
    uint32_t np;
    uint8_t *copy;
    rc = alloc_buf(t, &np, &copy);
    if (rc == 0) {
        en_buf *b = EN_BUF_OF(copy);
        b->base_pgno = base.base_pgno;
        b->base_frame = base.base_frame;
        memcpy(copy, old, t->db->page_size);
        cd_page_set_pgno(copy, np);
        cd_page_set_txn(copy, t->st.txn);
        rc = en_free_release(t, pgno, 0);
    }
    op_unpin(ctx, old);
    if (rc)
        return rc;
    *new_pgno = np;
    *page = copy;
    return 0;
}

static int op_free(void *ctx, uint32_t pgno) {
    en_txn *t = ctx;
    en_buf *b = en_dirty_find(&t->dirty, pgno);
    if (b) {
        int rc = dirty_release_reserve(t, b);
        if (rc)
            return rc;
        en_dirty_remove(&t->dirty, b);
        dirty_release(t, b);
        return en_free_release(t, pgno, 1);
    }
    if (spill_find(&t->spill, pgno, NULL)) {
        spill_remove(&t->spill, pgno);
        return en_free_release(t, pgno, 1);
    }
    int rc = check_pgno(t, pgno);
    return rc ? rc : en_free_release(t, pgno, 0);
}

/* A reader's hint only: a writer's pages are often its own buffers.  A
 * page with a newer copy in the log makes the hint a wasted one. */
static void op_ahead(void *ctx, uint32_t pgno) {
    en_txn *t = ctx;
    if (!t->write)
        en_map_ahead(t->db, pgno);
}

const bt_pager_ops en_pager_ops = {
    .get = op_get,
    .dirty = op_dirty,
    .alloc = op_alloc,
    .free = op_free,
    .unpin = op_unpin,
    .pin = op_pin,
    .done = op_done,
    .owned = op_owned,
    .ahead = op_ahead,
};

/*
 * The write lock's spare buffers.  A small commit's pages go to the group,
 * the cache takes them, and the images they replace leave the cache: a
 * buffer a page, allocated and freed each commit (measured: allocation was
 * a sixth of the writer's instructions for one-object commits).  Buffers
 * the writer is done with wait in db->spare for the next write
 * transaction instead; so does the dirty set's first table.  Only the
 * write lock's holder touches them.
 *
 * How many: EN_SPARE_BUFS, or as many as the cache has room for, so that
 * spares and cached pages together stay within the cache's bound (readers
 * installing pages may pass it until the next write transaction ends,
 * which frees the excess).  A log reset lets go of every cached log page
 * at once, thousands in a large cache; freed, they were allocated again by
 * the next commits.  Measured with callgrind over 40 transactions of 1,000
 * random updates to 1,000,000 objects: 1,253M -> 1,218M instructions on
 * the writer, the allocator's share gone.
 */
#define EN_SPARE_BUFS 64u

static uint32_t spare_max(const en_db *db) {
    size_t room = db->cache ? en_cache_room(db->cache) : 0;
    if (room > UINT32_MAX)
        room = UINT32_MAX;
    return room > EN_SPARE_BUFS ? (uint32_t)room : EN_SPARE_BUFS;
}

void en_buf_release(en_db *db, en_buf *b) { spare_push(&db->spare, &db->nspare, spare_max(db), b); }

/* Frees a list of buffers linked through next. */
static void free_list(en_buf *b) {
    for (en_buf *next; b; b = next) {
        next = b->next;
        free(b);
    }
}

void en_spare_free(en_db *db) {
    free_list(db->spare);
    db->spare = NULL;
    db->nspare = 0;
    free(db->spare_slots);
    db->spare_slots = NULL;
}

void en_pager_init(en_txn *t) {
    en_db *db = t->db;
    t->pager.ops = &en_pager_ops;
    t->pager.ctx = t;
    t->pager.page_size = db->page_size;
    t->pager.txn = t->st.txn;
    if (t->write) { /* the write lock is held */
        t->bufs_free = db->spare;
        t->nspare = db->nspare;
        db->spare = NULL;
        db->nspare = 0;
        if (db->spare_slots) {
            t->dirty.slots = db->spare_slots;
            t->dirty.mask = EN_DIRTY_SLOTS0 - 1;
            db->spare_slots = NULL;
        }
    }
}

/* A buffer the transaction is done with: a write transaction's go to the
 * write lock's spares, a reader's are freed. */
static void buf_drop(en_txn *t, en_buf *b) {
    if (t->write)
        en_buf_release(t->db, b);
    else
        free(b);
}

/* A write transaction's spares go back to the write lock's: the longer
 * list whole (it can hold thousands, each link in a cold buffer), the
 * other pushed onto it, and what passes spare_max freed. */
static void spares_return(en_txn *t) {
    en_db *db = t->db;
    en_buf *keep = t->bufs_free, *walk = db->spare;
    uint32_t nkeep = t->nspare;
    if (db->nspare > nkeep)
        keep = db->spare, walk = t->bufs_free, nkeep = db->nspare;
    db->spare = keep;
    db->nspare = nkeep;
    for (en_buf *b = walk, *next; b; b = next) {
        next = b->next;
        en_buf_release(db, b);
    }
    for (uint32_t max = spare_max(db); db->nspare > max; db->nspare--) {
        en_buf *b = db->spare;
        db->spare = b->next;
        free(b);
    }
}

/* Frees every buffer of the transaction: dirty pages and spares (a write
 * transaction's go to db->spare). */
void en_pager_release_all(en_txn *t) {
    en_db *db = t->db;
    uint32_t left = t->dirty.count; /* none after a commit (group_take) */
    for (uint32_t i = 0; left && i <= t->dirty.mask; i++) {
        for (en_buf *b = t->dirty.slots[i], *next; b; b = next, left--) {
            next = b->next;
            if (!b->cached) /* else the shared cache's since the commit */
                buf_drop(t, b);
        }
    }
    if (t->write && !db->spare_slots && t->dirty.slots && t->dirty.mask == EN_DIRTY_SLOTS0 - 1) {
        if (t->dirty.count)
            memset(t->dirty.slots, 0, EN_DIRTY_SLOTS0 * sizeof t->dirty.slots[0]);
        db->spare_slots = t->dirty.slots;
    } else {
        free(t->dirty.slots);
    }
    memset(&t->dirty, 0, sizeof t->dirty);
    spill_clear(&t->spill);
    for (uint32_t i = 0; i < t->nlive; i++) /* pinned by unreleased values */
        free(t->live[i]);
    free(t->live);
    t->live = NULL;
    t->nlive = t->cap_live = 0;
    for (uint32_t i = 0; i < t->nheaps; i++)
        free(t->heaps[i]);
    free(t->heaps);
    t->heaps = NULL;
    t->nheaps = t->cap_heaps = 0;
    if (t->write)
        spares_return(t);
    else
        free_list(t->bufs_free);
    t->bufs_free = NULL;
    t->nspare = 0;
    if (t->write) /* a failure there failed the transaction already */
        en_flush_wait(t->db, 0);
    t->nbehind = 0;
    t->wb = (en_wbrange){0};
}
