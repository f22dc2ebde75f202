/*
 * mem_pager.c: the in-memory page source of mem_pager.h.  Pages live in a
 * growable array of separately allocated buffers; each buffer carries a
 * hidden 16-byte prefix with its page number so unpin can find a page from
 * its pointer whatever the page's bytes say.  Page states:
 *
 *   FREE     reusable (listed on the free stack)
 *   LIVE     in the current state; dirty iff born in the open transaction
 *   PENDING  freed by transaction freed_txn, still readable by snapshots
 *
 *   alloc / dirty's copy:   FREE -> LIVE (born = txn)
 *   free, dirty's original: LIVE born in txn -> FREE; else -> PENDING
 *   abort:                  LIVE born in txn -> FREE; PENDING freed in txn -> LIVE
 *   begin:                  PENDING freed by a committed txn no snapshot predates -> FREE
 */
#include "mem_pager.h"

#include <stdio.h>
#include <stdlib.h>

#define PREFIX 16u

enum { PG_RESERVED, PG_FREE, PG_LIVE, PG_PENDING };

typedef struct mp_page {
    uint8_t *buf; /* PREFIX + page_size bytes, or NULL while FREE */
    uint8_t state;
    uint32_t pins;
    uint64_t born_txn;
    uint64_t freed_txn;
} mp_page;

typedef struct u32vec {
    uint32_t *v;
    size_t n, cap;
} u32vec;

struct mem_pager {
    bt_pager bt;
    uint32_t size;
    mp_page *pages;
    uint32_t count, cap;
    u32vec free_stack, pending, written;
    uint64_t *snaps;
    size_t nsnaps, snaps_cap;
    uint64_t next_txn, committed_txn, cur_txn;
    int in_write, evict;
    uint32_t committed_root;
    uint64_t pins, errors, calls, fail_at;
    int fail_rc;
    uint32_t live, npending;
    /* look-ahead hints: given, the last one given (0: none open), and
     * hints whose page was the next one read */
    uint64_t hints, hints_read;
    uint32_t hint_open;
};

static void vec_push(u32vec *v, uint32_t x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->v = realloc(v->v, v->cap * sizeof *v->v);
        ISLE_VERIFY(v->v != NULL);
    }
    v->v[v->n++] = x;
}

static uint8_t *data_of(const mp_page *p) { return p->buf + PREFIX; }

static mp_page *page_of_ptr(mem_pager *mp, const uint8_t *data) {
    const uint8_t *buf = data - PREFIX;
    uint32_t pgno = cd_get32(buf);
    ISLE_VERIFY(pgno < mp->count && mp->pages[pgno].buf == buf);
    return &mp->pages[pgno];
}

static uint8_t *new_buf(mem_pager *mp, uint32_t pgno) {
    uint8_t *buf = calloc(1, PREFIX + mp->size);
    ISLE_VERIFY(buf != NULL);
    cd_put32(buf, pgno);
    return buf;
}

/* A page number for a new page: a free one, or a new one at the end. */
static uint32_t take_page(mem_pager *mp) {
    uint32_t pgno;
    if (mp->free_stack.n > 0) {
        pgno = mp->free_stack.v[--mp->free_stack.n];
    } else {
        if (mp->count == mp->cap) {
            mp->cap = mp->cap ? 2 * mp->cap : 64;
            mp->pages = realloc(mp->pages, mp->cap * sizeof *mp->pages);
            ISLE_VERIFY(mp->pages != NULL);
        }
        pgno = mp->count++;
        memset(&mp->pages[pgno], 0, sizeof mp->pages[pgno]);
    }
    mp_page *p = &mp->pages[pgno];
    ISLE_VERIFY(p->buf == NULL && p->pins == 0);
    p->buf = new_buf(mp, pgno);
    p->state = PG_LIVE;
    p->born_txn = mp->cur_txn;
    p->pins = 1;
    mp->pins++;
    mp->live++;
    vec_push(&mp->written, pgno);
    return pgno;
}

static void make_free(mem_pager *mp, uint32_t pgno) {
    mp_page *p = &mp->pages[pgno];
    free(p->buf);
    p->buf = NULL;
    p->state = PG_FREE;
    vec_push(&mp->free_stack, pgno);
}

/* 1 iff the call fails by injection. */
static int injected(mem_pager *mp) {
    mp->calls++;
    return mp->fail_at != 0 && mp->calls == mp->fail_at;
}

static int op_get(void *ctx, uint32_t pgno, unsigned type_mask, const uint8_t **page) {
    mem_pager *mp = ctx;
    *page = NULL;
    if (injected(mp))
        return mp->fail_rc;
    if (pgno >= mp->count || (mp->pages[pgno].state != PG_LIVE &&
                              mp->pages[pgno].state != PG_PENDING)) {
        mp->errors++;
        return CD_ECORRUPT;
    }
    mp_page *p = &mp->pages[pgno];
    const uint8_t *d = data_of(p);
    int dirty = mp->in_write && p->born_txn == mp->cur_txn;
    int type_ok = 0;
    switch (cd_page_type(d)) {
    case CD_PAGE_BRANCH: type_ok = type_mask & CD_PAGE_MASK_BRANCH; break;
    case CD_PAGE_LEAF: type_ok = type_mask & CD_PAGE_MASK_LEAF; break;
    case CD_PAGE_OVERFLOW: type_ok = type_mask & CD_PAGE_MASK_OVERFLOW; break;
    default: break;
    }
    if (!type_ok || cd_page_pgno(d) != pgno)
        return CD_ECORRUPT;
    /* A committed page must be exactly what commit sealed. */
    if (!dirty && cd_page_checksum(d, mp->size) != cd_get64(d + CD_PAGE_OFF_CHECKSUM))
        return CD_ECORRUPT;
    p->pins++;
    mp->pins++;
    *page = d;
    if (mp->hint_open && cd_page_type(d) == CD_PAGE_LEAF) {
        mp->hints_read += mp->hint_open == pgno;
        mp->hint_open = 0;
    }
    return 0;
}

static void op_ahead(void *ctx, uint32_t pgno) {
    mem_pager *mp = ctx;
    if (pgno >= mp->count ||
        (mp->pages[pgno].state != PG_LIVE && mp->pages[pgno].state != PG_PENDING))
        mp->errors++; /* a hint at a page no snapshot holds */
    mp->hints++;
    mp->hint_open = pgno;
}

/* Pins a page born in this transaction: writable as it is. */
static void pin_own(mem_pager *mp, uint32_t pgno, uint8_t **page) {
    mp->pages[pgno].pins++;
    mp->pins++;
    *page = data_of(&mp->pages[pgno]);
}

static int op_dirty(void *ctx, uint32_t pgno, uint32_t *new_pgno, uint8_t **page) {
    mem_pager *mp = ctx;
    if (injected(mp))
        return mp->fail_rc;
    if (!mp->in_write || pgno >= mp->count || mp->pages[pgno].state != PG_LIVE) {
        mp->errors++;
        return CD_EINVAL;
    }
    if (mp->pages[pgno].born_txn == mp->cur_txn) {
        pin_own(mp, pgno, page);
        *new_pgno = pgno;
        return 0;
    }
    uint32_t np = take_page(mp); /* may move mp->pages */
    mp_page *old = &mp->pages[pgno], *p = &mp->pages[np];
    memcpy(data_of(p), data_of(old), mp->size);
    cd_page_set_pgno(data_of(p), np);
    old->state = PG_PENDING;
    old->freed_txn = mp->cur_txn;
    vec_push(&mp->pending, pgno);
    mp->live--;
    mp->npending++;
    *new_pgno = np;
    *page = data_of(p);
    return 0;
}

/* bt_put's append path: only a page born in this transaction is writable
 * as it is. */
static int op_owned(void *ctx, uint32_t pgno, uint8_t **page) {
    mem_pager *mp = ctx;
    if (injected(mp))
        return mp->fail_rc;
    if (!mp->in_write || pgno >= mp->count || mp->pages[pgno].state != PG_LIVE ||
        mp->pages[pgno].born_txn != mp->cur_txn)
        return CD_ENOTFOUND;
    pin_own(mp, pgno, page);
    return 0;
}

static int op_alloc(void *ctx, uint32_t *pgno, uint8_t **page) {
    mem_pager *mp = ctx;
    if (injected(mp))
        return mp->fail_rc;
    if (!mp->in_write) {
        mp->errors++;
        return CD_EINVAL;
    }
    *pgno = take_page(mp);
    *page = data_of(&mp->pages[*pgno]);
    return 0;
}

static int op_free(void *ctx, uint32_t pgno) {
    mem_pager *mp = ctx;
    if (!mp->in_write || pgno >= mp->count || mp->pages[pgno].state != PG_LIVE ||
        mp->pages[pgno].pins != 0) {
        mp->errors++;
        return CD_EINVAL;
    }
    mp_page *p = &mp->pages[pgno];
    mp->live--;
    if (p->born_txn == mp->cur_txn) {
        make_free(mp, pgno);
        return 0;
    }
    p->state = PG_PENDING;
    p->freed_txn = mp->cur_txn;
    vec_push(&mp->pending, pgno);
    mp->npending++;
    return 0;
}

static void op_unpin(void *ctx, const uint8_t *page) {
    mem_pager *mp = ctx;
    mp_page *p = page_of_ptr(mp, page);
    ISLE_VERIFY(p->pins > 0 && mp->pins > 0);
    p->pins--;
    mp->pins--;
    if (p->pins == 0 && mp->evict) { /* "evict" and reload elsewhere */
        uint8_t *buf = malloc(PREFIX + mp->size);
        ISLE_VERIFY(buf != NULL);
        memcpy(buf, p->buf, PREFIX + mp->size);
        free(p->buf);
        p->buf = buf;
    }
}

static void op_pin(void *ctx, const uint8_t *page) {
    mem_pager *mp = ctx;
    mp_page *p = page_of_ptr(mp, page);
    ISLE_VERIFY(p->pins > 0);
    p->pins++;
    mp->pins++;
}

static const bt_pager_ops mem_ops = {
    .get = op_get, .dirty = op_dirty, .alloc = op_alloc, .free = op_free,
    .unpin = op_unpin, .pin = op_pin, .owned = op_owned, .ahead = op_ahead,
};

mem_pager *mem_pager_new(uint32_t page_size) {
    mem_pager *mp = calloc(1, sizeof *mp);
    ISLE_VERIFY(mp != NULL && cd_page_size_valid(page_size));
    mp->size = page_size;
    mp->bt = (bt_pager){.ops = &mem_ops, .ctx = mp, .page_size = page_size};
    mp->next_txn = 1;
    mp->evict = 1;
    /* Pages 0 and 1 are the meta pages: never handed out. */
    mp->cap = 64;
    mp->pages = calloc(mp->cap, sizeof *mp->pages);
    ISLE_VERIFY(mp->pages != NULL);
    mp->count = CD_FIRST_DATA_PGNO;
    return mp;
}

void mem_pager_free(mem_pager *mp) {
    if (!mp)
        return;
    for (uint32_t i = 0; i < mp->count; i++)
        free(mp->pages[i].buf);
    free(mp->pages);
    free(mp->free_stack.v);
    free(mp->pending.v);
    free(mp->written.v);
    free(mp->snaps);
    free(mp);
}

const bt_pager *mem_pager_bt(mem_pager *mp) { return &mp->bt; }

void mem_pager_begin(mem_pager *mp) {
    ISLE_VERIFY(!mp->in_write);
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < mp->nsnaps; i++)
        if (mp->snaps[i] < oldest)
            oldest = mp->snaps[i];
    size_t keep = 0;
    for (size_t i = 0; i < mp->pending.n; i++) {
        uint32_t pgno = mp->pending.v[i];
        mp_page *p = &mp->pages[pgno];
        /* A snapshot of state s reads pages freed by a transaction after s. */
        if (p->freed_txn <= oldest && p->pins == 0) {
            make_free(mp, pgno);
            mp->npending--;
        } else {
            mp->pending.v[keep++] = pgno;
        }
    }
    mp->pending.n = keep;
    mp->cur_txn = mp->next_txn++;
    mp->bt.txn = mp->cur_txn;
    mp->in_write = 1;
    mp->written.n = 0;
}

int mem_pager_commit(mem_pager *mp, const bt_tree *tree) {
    ISLE_VERIFY(mp->in_write);
    if (mp->pins != 0)
        return CD_EBUSY;
    for (size_t i = 0; i < mp->written.n; i++) {
        uint32_t pgno = mp->written.v[i];
        mp_page *p = &mp->pages[pgno];
        if (p->state != PG_LIVE || p->born_txn != mp->cur_txn)
            continue; /* freed again, maybe reused: seen on its own entry */
        cd_diag diag = {0};
        uint8_t *d = data_of(p);
        int rc = cd_page_check_layout(d, mp->size, pgno,
                                      CD_PAGE_MASK_ANY & ~CD_PAGE_MASK_META, &diag);
        if (rc) {
            fprintf(stderr, "mem_pager: page %u type %#x malformed: %s (line %d, "
                    "offset %zu)\n", pgno, cd_page_type(d), diag.what, diag.line,
                    diag.offset);
            return CD_ECORRUPT;
        }
        if (cd_page_txn(d) != mp->cur_txn) {
            fprintf(stderr, "mem_pager: page %u not stamped with txn\n", pgno);
            return CD_ECORRUPT;
        }
        cd_page_seal(d, mp->size);
    }
    mp->committed_txn = mp->cur_txn;
    mp->in_write = 0;
    mp->written.n = 0;
    if (tree)
        mp->committed_root = tree->root;
    return 0;
}

int mem_pager_abort(mem_pager *mp, bt_tree *tree) {
    ISLE_VERIFY(mp->in_write);
    if (mp->pins != 0)
        return CD_EBUSY;
    for (uint32_t pgno = CD_FIRST_DATA_PGNO; pgno < mp->count; pgno++) {
        mp_page *p = &mp->pages[pgno];
        if (p->state == PG_LIVE && p->born_txn == mp->cur_txn) {
            make_free(mp, pgno);
            mp->live--;
        } else if (p->state == PG_PENDING && p->freed_txn == mp->cur_txn) {
            p->state = PG_LIVE;
            mp->live++;
            mp->npending--;
        }
    }
    size_t keep = 0; /* drop the pages that came back from the pending list */
    for (size_t i = 0; i < mp->pending.n; i++)
        if (mp->pages[mp->pending.v[i]].state == PG_PENDING)
            mp->pending.v[keep++] = mp->pending.v[i];
    mp->pending.n = keep;
    mp->in_write = 0;
    mp->written.n = 0;
    if (tree) {
        tree->root = mp->committed_root;
        tree->append_leaf = 0;
    }
    return 0;
}

uint64_t mem_pager_snapshot(mem_pager *mp) {
    if (mp->nsnaps == mp->snaps_cap) {
        mp->snaps_cap = mp->snaps_cap ? 2 * mp->snaps_cap : 8;
        mp->snaps = realloc(mp->snaps, mp->snaps_cap * sizeof *mp->snaps);
        ISLE_VERIFY(mp->snaps != NULL);
    }
    mp->snaps[mp->nsnaps++] = mp->committed_txn;
    return mp->committed_txn;
}

void mem_pager_release_snapshot(mem_pager *mp, uint64_t snap) {
    for (size_t i = 0; i < mp->nsnaps; i++) {
        if (mp->snaps[i] == snap) {
            mp->snaps[i] = mp->snaps[--mp->nsnaps];
            return;
        }
    }
    ISLE_VERIFY(!"no such snapshot");
}

uint64_t mem_pager_pins(const mem_pager *mp) { return mp->pins; }
uint32_t mem_pager_live(const mem_pager *mp) { return mp->live; }
uint32_t mem_pager_pending(const mem_pager *mp) { return mp->npending; }
uint64_t mem_pager_errors(const mem_pager *mp) { return mp->errors; }
uint64_t mem_pager_calls(const mem_pager *mp) { return mp->calls; }

uint64_t mem_pager_hints(const mem_pager *mp, uint64_t *read_next) {
    if (read_next)
        *read_next = mp->hints_read;
    return mp->hints;
}

void mem_pager_fail_in(mem_pager *mp, uint64_t n, int rc) {
    mp->fail_at = n ? mp->calls + n : 0;
    mp->fail_rc = rc;
}

void mem_pager_set_evict(mem_pager *mp, int on) { mp->evict = on; }

uint8_t *mem_pager_raw(mem_pager *mp, uint32_t pgno) {
    ISLE_VERIFY(pgno < mp->count && mp->pages[pgno].buf != NULL);
    return data_of(&mp->pages[pgno]);
}

void mem_pager_reseal(mem_pager *mp, uint32_t pgno) {
    cd_page_seal(mem_pager_raw(mp, pgno), mp->size);
}
