/*
 * en_cache.c: the shared page cache.  Verified page images, keyed by page
 * number and source (0: the main file; otherwise the log frame holding
 * it), shared by every transaction of the handle, read without a lock.
 *
 * Slots are _Atomic pointers in an open-addressed table probed over a few
 * neighbours.  A reader that misses reads and verifies the page itself,
 * then tries to install that very buffer (as a committing writer does
 * with its dirty buffers: no copy): into an empty neighbour (CAS), or in
 * place of one (exchange), whose old page is retired.  Retired pages are pushed
 * on a lock-free stack with the newest published snapshot sequence, and
 * freed by the writer (which publishes) once every reader slot holds a
 * later snapshot: a reader that could have loaded the pointer had its
 * snapshot pinned first, so its sequence is at most the retired one.
 *
 * Keys stay right because page images never change under a key: a log
 * frame is written once per generation (forgotten at every log reset), and
 * a main-file page is rewritten only by a checkpoint, which forgets it.
 * Memory: at most `bytes` of cached pages.  A full cache installs a page
 * in place of another (evict_one: a random replacement), while the
 * retired pages awaiting reclamation stay under an eighth of that plus 32
 * pages; while readers hold them back longer, installing stops instead of
 * growing.
 */
#include <stdlib.h>

#include "en_int.h"

#define PROBES 4u
#define HDR EN_BUF_HDR /* a cached page is an en_buf block (en_cache_adopt) */

typedef struct cpage {
    en_buf buf;            /* so unpin finds `cached` through EN_BUF_OF; its
                              pgno and frame are the key */
    uint64_t retire_seq;
    struct cpage *retire_next;
} cpage;
_Static_assert(sizeof(cpage) <= HDR, "cache page header fits");

struct en_cache {
    uint32_t mask;
    uint32_t page_size;
    size_t max_pages;
    atomic_uint hand;           /* where evict_one looks next (a hint) */
    atomic_size_t pages;        /* installed or retired, not yet freed */
    _Atomic(cpage *) retired;   /* Treiber stack: many push, the writer takes all */
    _Atomic(cpage *) slots[];
};

static uint32_t hash(uint32_t pgno, uint64_t frame) {
    uint64_t h = ((uint64_t)pgno << 32 ^ frame) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

int en_cache_new(en_db *db, size_t bytes, en_cache **out) {
    size_t pages = bytes / (db->page_size + HDR);
    uint32_t n = 64;
    while (n < pages * 2 && n < (1u << 30))
        n *= 2;
    en_cache *c = calloc(1, sizeof *c + n * sizeof c->slots[0]);
    if (!c)
        return CD_ENOMEM;
    c->mask = n - 1;
    c->page_size = db->page_size;
    c->max_pages = pages;
    *out = c;
    return 0;
}

const uint8_t *en_cache_get(en_cache *c, uint32_t pgno, uint64_t frame) {
    uint32_t h = hash(pgno, frame);
    for (uint32_t k = 0; k < PROBES; k++) {
        /* seq_cst (see retire): also pairs with the install's release, so
         * the page bytes written before installing are visible */
        cpage *p = atomic_load(&c->slots[(h + k) & c->mask]);
        if (p && p->buf.pgno == pgno && p->buf.frame == frame)
            return p->buf.page;
    }
    return NULL;
}

/* Pushes p on the retired stack as it is. */
static void retire_keep(en_cache *c, cpage *p) {
    cpage *head = atomic_load_explicit(&c->retired, memory_order_relaxed);
    do {
        p->retire_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&c->retired, &head, p,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

/*
 * Ordering.  The publisher stores pub_seq before the new snapshot (both
 * seq_cst).  A reader pins a snapshot and then loads slots (seq_cst); a
 * retirer replaces a slot (seq_cst) and then loads pub_seq (seq_cst).  A
 * reader that loaded the page precedes its replacement in the single
 * total order, so the retirer's pub_seq is at least the reader's snapshot
 * sequence, and the page outlives the reader.  (On x86 these seq_cst loads
 * are plain loads.)
 */
static void retire(en_db *db, en_cache *c, cpage *p) {
    p->retire_seq = atomic_load(&db->pub_seq);
    retire_keep(c, p);
}

/* Installs p, counted in c->pages already: its page, or the page of an
 * equal entry another thread installed meanwhile (p is then not used). */
static const uint8_t *install(en_db *db, en_cache *c, cpage *p) {
    uint32_t pgno = p->buf.pgno;
    uint64_t frame = p->buf.frame;
    uint32_t h = hash(pgno, frame);
    for (uint32_t k = 0; k < PROBES; k++) {
        cpage *expect = NULL;
        /* seq_cst: publishes the page bytes (release), and a failure reads
         * the other installer's page (acquire) */
        if (atomic_compare_exchange_strong(&c->slots[(h + k) & c->mask], &expect, p))
            return p->buf.page;
        if (expect->buf.pgno == pgno && expect->buf.frame == frame)
            return expect->buf.page; /* someone installed it meanwhile */
    }
    /* Every neighbour is taken: replace one, chosen by the page number. */
    cpage *old = atomic_exchange(&c->slots[(h + pgno % PROBES) & c->mask], p);
    if (old)
        retire(db, c, old);
    return p->buf.page;
}

static int has_room(en_cache *c) {
    return atomic_load_explicit(&c->pages, memory_order_relaxed) < c->max_pages;
}

/* A full cache still takes pages, each in place of a neighbour (retired,
 * freed at the next reclamation), while the retired pages awaiting it stay
 * under an eighth of the bound plus SLACK_PAGES (a commit's worth in a
 * small cache). */
#define SLACK_PAGES 32u
static size_t hard_bound(const en_cache *c) { return c->max_pages + c->max_pages / 8 + SLACK_PAGES; }

static int has_slack(en_cache *c) {
    return atomic_load_explicit(&c->pages, memory_order_relaxed) < hard_bound(c);
}

size_t en_cache_room(const en_cache *c) {
    size_t pages = atomic_load_explicit(&((en_cache *)c)->pages, memory_order_relaxed);
    return pages < hard_bound(c) ? hard_bound(c) - pages : 0;
}

/* Retires one installed page, the first found from a rotating position:
 * room for another in a full cache (a clock hand that evicts what it
 * meets, which is random replacement by page number). */
static void evict_one(en_db *db, en_cache *c) {
    uint32_t start = atomic_load_explicit(&c->hand, memory_order_relaxed);
    for (uint32_t k = 0; k <= c->mask; k++) {
        _Atomic(cpage *) *slot = &c->slots[(start + k) & c->mask];
        cpage *old = atomic_load(slot);
        /* seq_cst: as the exchange in install */
        if (old && atomic_compare_exchange_strong(slot, &old, NULL)) {
            retire(db, c, old);
            atomic_store_explicit(&c->hand, start + k + 1, memory_order_relaxed);
            return;
        }
    }
}

const uint8_t *en_cache_adopt(en_db *db, en_cache *c, en_buf *b, uint32_t pgno,
                              uint64_t frame) {
    int full = !has_room(c);
    if (full && !has_slack(c))
        return NULL;
    cpage *p = (cpage *)b;
    ISLE_ASSERT(b->page == (uint8_t *)p + HDR);
    /* b->next is left alone: the caller may be walking a chain through it */
    b->pgno = pgno;
    b->cached = 1;
    p->buf.frame = frame;
    p->retire_seq = 0;
    p->retire_next = NULL;
    atomic_fetch_add_explicit(&c->pages, 1, memory_order_relaxed);
    if (full)
        evict_one(db, c);
    if (install(db, c, p) == b->page)
        return b->page;
    b->cached = 0;
    atomic_fetch_sub_explicit(&c->pages, 1, memory_order_relaxed);
    return NULL;
}

/* Removes the entry for (pgno, frame), if cached (writer). */
void en_cache_forget(en_db *db, en_cache *c, uint32_t pgno, uint64_t frame) {
    uint32_t h = hash(pgno, frame);
    for (uint32_t k = 0; k < PROBES; k++) {
        _Atomic(cpage *) *slot = &c->slots[(h + k) & c->mask];
        cpage *p = atomic_load_explicit(slot, memory_order_acquire);
        if (p && p->buf.pgno == pgno && p->buf.frame == frame &&
            atomic_compare_exchange_strong(slot, &p, NULL))
            retire(db, c, p);
    }
}

/* Removes every page that came from the log (writer, at a log reset). */
void en_cache_forget_log(en_db *db, en_cache *c) {
    for (uint32_t i = 0; i <= c->mask; i++) {
        cpage *p = atomic_load_explicit(&c->slots[i], memory_order_acquire);
        if (p && p->buf.frame && atomic_compare_exchange_strong(&c->slots[i], &p, NULL))
            retire(db, c, p);
    }
}

/* Frees retired pages no reader can hold: those retired before the oldest
 * snapshot a reader holds (en_readers_scan; UINT64_MAX: every one).  Their
 * buffers go to the writer's spares (en_buf_release). */
void en_cache_reclaim(en_db *db, en_cache *c, uint64_t oldest) {
    cpage *list = atomic_exchange(&c->retired, NULL);
    if (!list)
        return;
    for (cpage *p = list, *next; p; p = next) {
        next = p->retire_next;
        if (p->retire_seq < oldest) {
            atomic_fetch_sub_explicit(&c->pages, 1, memory_order_relaxed);
            en_buf_release(db, &p->buf);
        } else {
            retire_keep(c, p);
        }
    }
}

size_t en_cache_pages(const en_cache *c) {
    /* Relaxed: a figure for statistics. */
    return atomic_load_explicit(&((en_cache *)c)->pages, memory_order_relaxed);
}

void en_cache_free(en_cache *c) {
    if (!c)
        return;
    for (uint32_t i = 0; i <= c->mask; i++)
        free(atomic_load(&c->slots[i]));
    for (cpage *p = atomic_load(&c->retired), *next; p; p = next) {
        next = p->retire_next;
        free(p);
    }
    free(c);
}
