/*
 * en_free.c: free pages.  Which page numbers a write transaction may
 * allocate, which pages it freed, and the persisted free list.
 *
 * In memory: free_all (every free page of the newest commit, in the order
 * of the persisted chain), free_pos (its inverse), reusable (the free pages
 * no live snapshot can reach, as a stack) and pending (batches of pages
 * freed by transaction T, which become reusable once no snapshot older
 * than T remains).  A transaction records what it took and freed; only a
 * successful commit changes the db's lists, and an abort puts back what it
 * took.
 *
 * On disk: a chain of free-list pages (cd_page.h) from the state's
 * free_head, listing free_all in order, chain page i holding entries
 * [i * cap, (i + 1) * cap).  Readers never read these pages, so the writer
 * rewrites them in place, and only those whose entries changed.  Chain
 * pages are not themselves free; the chain only grows.
 */
#include <stdlib.h>

#include "en_int.h"

#define NONE UINT32_MAX

static int push(uint32_t **arr, uint32_t *n, uint32_t *cap, uint32_t v) {
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 64;
        uint32_t *na = realloc(*arr, (size_t)nc * sizeof *na);
        if (!na)
            return en_fail(CD_ENOMEM, "out of memory for the free-page lists");
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

static uint32_t chain_cap(const en_db *db) { return cd_freelist_capacity(db->page_size); }

static int pos_reserve(en_db *db, uint32_t pgno) {
    if (pgno < db->cap_pos)
        return 0;
    uint32_t nc = db->cap_pos ? db->cap_pos : 1024;
    while (nc <= pgno)
        nc = nc > UINT32_MAX / 2 ? UINT32_MAX : nc * 2;
    uint32_t *np = realloc(db->free_pos, (size_t)nc * sizeof *np);
    if (!np)
        return en_fail(CD_ENOMEM, "out of memory for the free-page index");
    for (uint32_t i = db->cap_pos; i < nc; i++)
        np[i] = NONE;
    db->free_pos = np;
    db->cap_pos = nc;
    return 0;
}

static void mark_chain(en_db *db, uint32_t idx) {
    uint32_t page = idx / chain_cap(db);
    /* chain_dirty is NULL while en_free_load reads the chain: the pages it
     * is reading are on disk as they are, so none is dirty. */
    if (page < db->nchain && db->chain_dirty)
        db->chain_dirty[page] = 1;
}

/* Appends pgno to free_all. */
static int free_add(en_db *db, uint32_t pgno) {
    int rc = pos_reserve(db, pgno);
    if (rc == 0 && db->free_pos[pgno] != NONE)
        return en_fail(CD_ECORRUPT, "page %u is freed twice", pgno);
    if (rc == 0)
        rc = push(&db->free_all, &db->nfree, &db->cap_free, pgno);
    if (rc)
        return rc;
    db->free_pos[pgno] = db->nfree - 1;
    mark_chain(db, db->nfree - 1);
    return 0;
}

/* Removes pgno from free_all: the last entry takes its place. */
static void free_remove(en_db *db, uint32_t pgno) {
    uint32_t i = pgno < db->cap_pos ? db->free_pos[pgno] : NONE;
    ISLE_VERIFY(i != NONE);
    uint32_t last = db->free_all[--db->nfree];
    db->free_all[i] = last;
    db->free_pos[last] = i;
    db->free_pos[pgno] = NONE;
    mark_chain(db, i);
    mark_chain(db, db->nfree);
}

int en_free_load(en_db *db) {
    uint8_t *buf = malloc(db->page_size);
    if (!buf)
        return en_fail(CD_ENOMEM, "out of memory loading the free list");
    int rc = 0;
    uint32_t pgno = db->state.free_head;
    uint64_t frames = wal_max_frame(db->wal);
    while (pgno && rc == 0) {
        if (pgno < CD_FIRST_DATA_PGNO || pgno >= db->state.page_count ||
            db->nchain >= db->state.page_count) {
            rc = en_fail(CD_ECORRUPT, "free-list chain reaches page %u (of %u)", pgno,
                         db->state.page_count);
            break;
        }
        rc = en_read_page(db, frames, pgno, CD_PAGE_MASK_FREELIST, buf, db->rctx);
        if (rc == 0)
            rc = push(&db->chain, &db->nchain, &db->cap_chain, pgno);
        for (unsigned i = 0; rc == 0 && i < cd_page_n(buf); i++) {
            uint32_t p = cd_freelist_get(buf, i);
            if (p >= db->state.page_count)
                rc = en_fail(CD_ECORRUPT, "free list names page %u beyond the end", p);
            else
                rc = free_add(db, p);
        }
        pgno = cd_page_aux0(buf);
    }
    free(buf);
    if (rc == 0 && db->nfree != db->state.free_count)
        rc = en_fail(CD_ECORRUPT, "free list holds %u pages, the meta says %u",
                     db->nfree, db->state.free_count);
    if (rc == 0 && (db->chain_dirty = calloc(db->nchain + 1, 1)) == NULL)
        rc = en_fail(CD_ENOMEM, "out of memory loading the free list");
    for (uint32_t i = 0; rc == 0 && i < db->nfree; i++)
        rc = push(&db->reusable, &db->nreusable, &db->cap_reusable, db->free_all[i]);
    return rc;
}

void en_free_destroy(en_db *db) {
    free(db->free_all);
    free(db->free_pos);
    free(db->reusable);
    free(db->chain);
    free(db->chain_dirty);
    for (en_pending *p = db->pending, *next; p; p = next) {
        next = p->next;
        free(p->pages);
        free(p);
    }
}

int en_free_alloc(en_txn *t, uint32_t *pgno) {
    en_db *db = t->db;
    if (t->nown) {
        *pgno = t->own_free[--t->nown];
        return 0;
    }
    if (db->nreusable) {
        uint32_t p = db->reusable[db->nreusable - 1];
        int rc = push(&t->taken, &t->ntaken, &t->cap_taken, p);
        if (rc)
            return rc;
        db->nreusable--;
        *pgno = p;
        return 0;
    }
    if (t->st.page_count == UINT32_MAX)
        return en_fail(CD_EFULL, "the database has reached its largest page count");
    *pgno = t->st.page_count++;
    return 0;
}

int en_free_release(en_txn *t, uint32_t pgno, int fresh) {
    if (fresh)
        return push(&t->own_free, &t->nown, &t->cap_own, pgno);
    return push(&t->freed, &t->nfreed, &t->cap_freed, pgno);
}

void en_free_abort(en_txn *t) {
    en_db *db = t->db;
    /* Put back what was taken; the stack had room for it before. */
    for (uint32_t i = t->ntaken; i > 0; i--)
        db->reusable[db->nreusable++] = t->taken[i - 1];
    t->ntaken = t->nown = t->nfreed = 0;
}

/* Grows the chain to hold every entry, with new pages past the end. */
static int chain_grow(en_txn *t) {
    en_db *db = t->db;
    while ((uint64_t)db->nchain * chain_cap(db) < db->nfree) {
        if (t->st.page_count == UINT32_MAX)
            return en_fail(CD_EFULL, "the database has reached its largest page count");
        uint8_t *nd = realloc(db->chain_dirty, db->nchain + 2);
        if (!nd)
            return en_fail(CD_ENOMEM, "out of memory growing the free list");
        db->chain_dirty = nd;
        int rc = push(&db->chain, &db->nchain, &db->cap_chain, t->st.page_count++);
        if (rc)
            return rc;
        db->chain_dirty[db->nchain - 1] = 1;
        if (db->nchain > 1)
            db->chain_dirty[db->nchain - 2] = 1; /* its next link changes */
    }
    return 0;
}

/*
 * Applies the transaction's allocations and frees to the db's lists and
 * sets the state's free_head/free_count.  A failure here leaves the lists
 * half-updated: the caller latches the handle.
 */
int en_free_commit(en_txn *t) {
    en_db *db = t->db;
    int rc = 0;
    for (uint32_t i = 0; i < t->ntaken; i++)
        free_remove(db, t->taken[i]);
    for (uint32_t i = 0; rc == 0 && i < t->nown; i++) {
        rc = free_add(db, t->own_free[i]);
        if (rc == 0)
            rc = push(&db->reusable, &db->nreusable, &db->cap_reusable, t->own_free[i]);
    }
    for (uint32_t i = 0; rc == 0 && i < t->nfreed; i++)
        rc = free_add(db, t->freed[i]);
    if (rc == 0 && t->nfreed) {
        en_pending *p = calloc(1, sizeof *p);
        uint32_t *pages = malloc((size_t)t->nfreed * sizeof *pages);
        if (!p || !pages) {
            free(p);
            free(pages);
            return en_fail(CD_ENOMEM, "out of memory recording freed pages");
        }
        memcpy(pages, t->freed, (size_t)t->nfreed * sizeof *pages);
        *p = (en_pending){.txn = t->st.txn, .pages = pages, .n = t->nfreed};
        if (db->pending_tail)
            db->pending_tail->next = p;
        else
            db->pending = p;
        db->pending_tail = p;
    }
    if (rc == 0)
        rc = chain_grow(t);
    if (rc == 0 && (rc = pos_reserve(db, t->st.page_count)) == 0) {
        t->st.free_head = db->nchain ? db->chain[0] : 0;
        t->st.free_count = db->nfree;
    }
    return rc;
}

/* Writes the changed chain pages into the log as part of log transaction
 * txn. */
int en_free_write_chain(en_db *db, uint64_t txn) {
    uint32_t cap = chain_cap(db);
    uint8_t *page = NULL;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < db->nchain; i++) {
        if (!db->chain_dirty[i])
            continue;
        if (!page && posix_memalign((void **)&page, 64, db->page_size) != 0)
            return en_fail(CD_ENOMEM, "out of memory writing the free list");
        cd_page_init(page, db->page_size, CD_PAGE_FREELIST, db->chain[i], txn);
        for (uint32_t k = i * cap; k < db->nfree && k < (i + 1) * cap; k++)
            cd_freelist_push(page, db->page_size, db->free_all[k]);
        cd_page_set_aux0(page, i + 1 < db->nchain ? db->chain[i + 1] : 0);
        cd_page_seal(page, db->page_size);
        rc = wal_append_page(db->wal, txn, db->chain[i], page);
        if (rc)
            rc = en_fail(rc, "writing free-list page %u to the log", db->chain[i]);
        else
            db->chain_dirty[i] = 0;
    }
    free(page);
    return rc;
}

/* Makes pending batches freed at or before oldest reusable (oldest = 0:
 * no reader at all). */
void en_free_promote(en_db *db, uint64_t oldest) {
    while (db->pending && (oldest == 0 || db->pending->txn <= oldest)) {
        en_pending *p = db->pending;
        if (db->cap_reusable - db->nreusable < p->n) {
            uint32_t nc = db->nreusable + p->n + 64;
            uint32_t *na = realloc(db->reusable, (size_t)nc * sizeof *na);
            if (!na)
                return; /* out of memory: try again at the next transaction */
            db->reusable = na;
            db->cap_reusable = nc;
        }
        memcpy(db->reusable + db->nreusable, p->pages, (size_t)p->n * sizeof *p->pages);
        db->nreusable += p->n;
        db->pending = p->next;
        if (!db->pending)
            db->pending_tail = NULL;
        free(p->pages);
        free(p);
    }
}
