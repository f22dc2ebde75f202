/*
 * wal_index.c: the index from page number to committed frames, and the
 * checkpoint iterator built on it.  The index is a list of segments of
 * WAL_SEG_FRAMES frames, each with an open-addressing (linear probing)
 * hash table of _Atomic 16-bit slots, one per page: a slot holds the
 * page's newest frame in the segment and each frame links to the page's
 * frame before it, so a lookup bounded by an older max_frame still finds
 * the version it must see (wal.h explains the publication protocol).  The writer is the only
 * thread that stores; wal_find runs on any thread without a lock.
 */
#include <stdlib.h>

#include "wal_int.h"

#define SLOT_BITS 13u
_Static_assert((1u << SLOT_BITS) == WAL_SEG_SLOTS, "slot bits");
#define SLOT_MASK (WAL_SEG_SLOTS - 1u)

static uint32_t slot_hash(uint32_t pgno) {
    return (uint32_t)(pgno * 0x9e3779b1u) >> (32u - SLOT_BITS);
}

int wal_index_reserve(wal *w, uint64_t frame) {
    ISLE_ASSERT(frame >= 1);
    uint64_t si = (frame - 1) / WAL_SEG_FRAMES;
    if (si >= WAL_SEGS_MAX)
        return CD_ETOOBIG;
    /* Relaxed: only this (the writer) thread stores segment pointers. */
    if (atomic_load_explicit(&w->seg[si], memory_order_relaxed))
        return 0;
    wal_seg *s = os_alloc(w->vfs, sizeof *s);
    if (!s)
        return CD_ENOMEM;
    for (uint32_t i = 0; i < WAL_SEG_SLOTS; i++)
        atomic_init(&s->slot[i], 0);
    /* Release: pairs with the acquire load in wal_find, so a reader that
     * sees the pointer sees the zeroed slots. */
    atomic_store_explicit(&w->seg[si], s, memory_order_release);
    return 0;
}

wal_finfo *wal_index_info(wal *w, uint64_t frame) {
    uint64_t si = (frame - 1) / WAL_SEG_FRAMES;
    /* Acquire: pairs with the release in wal_index_reserve, for a
     * checkpointer thread reading frames <= a wal_max_frame it loaded. */
    wal_seg *s = atomic_load_explicit(&w->seg[si], memory_order_acquire);
    ISLE_ASSERT(s != NULL);
    return &s->info[(frame - 1) % WAL_SEG_FRAMES];
}

void wal_index_publish(wal *w, uint64_t from, uint64_t to) {
    for (uint64_t f = from + 1; f <= to; f++) {
        uint64_t si = (f - 1) / WAL_SEG_FRAMES;
        uint32_t k = (uint32_t)((f - 1) % WAL_SEG_FRAMES);
        wal_seg *s = atomic_load_explicit(&w->seg[si], memory_order_relaxed);
        wal_finfo *fi = &s->info[k];
        uint32_t i = slot_hash(fi->pgno);
        uint32_t probes = 0;
        uint16_t v;
        /* Relaxed: the writer is the only thread storing slots. */
        while ((v = atomic_load_explicit(&s->slot[i], memory_order_relaxed)) != 0 &&
               s->info[v - 1].pgno != fi->pgno) {
            i = (i + 1) & SLOT_MASK;
            ISLE_VERIFY(++probes < WAL_SEG_SLOTS); /* load <= 1/2 */
        }
        fi->prev = v;
        /* Release: pairs with the acquire load of the slot in wal_find;
         * info[k] (written at append, prev just now) is visible to whoever
         * sees k + 1. */
        atomic_store_explicit(&s->slot[i], (uint16_t)(k + 1),
                              memory_order_release);
    }
}

void wal_index_clear(wal *w) {
    for (uint32_t si = 0; si < WAL_SEGS_MAX; si++) {
        wal_seg *s = atomic_load_explicit(&w->seg[si], memory_order_relaxed);
        if (!s)
            break;
        /* Relaxed: no reader may use the index now (wal_reset's rule). */
        for (uint32_t i = 0; i < WAL_SEG_SLOTS; i++)
            atomic_store_explicit(&s->slot[i], 0, memory_order_relaxed);
    }
}

void wal_index_free(wal *w) {
    for (uint32_t si = 0; si < WAL_SEGS_MAX; si++) {
        wal_seg *s = atomic_load_explicit(&w->seg[si], memory_order_relaxed);
        if (!s)
            break;
        os_free(w->vfs, s);
        atomic_store_explicit(&w->seg[si], NULL, memory_order_relaxed);
    }
}

unsigned wal_delta_depth(wal *w, uint64_t base, uint64_t published) {
    if (base == 0 || base > published)
        return 0;
    unsigned depth = wal_index_info(w, base)->depth + 1u;
    return depth <= WAL_DELTA_DEPTH_MAX ? depth : 0;
}

/* The largest frame of pgno <= max_frame in segment si, or 0: the page's
 * slot holds its newest frame, and each frame links to the one before. */
static uint64_t seg_find(const wal_seg *s, uint64_t si, uint32_t pgno,
                         uint64_t max_frame) {
    uint64_t base = si * WAL_SEG_FRAMES;
    uint32_t i = slot_hash(pgno);
    for (uint32_t n = 0; n < WAL_SEG_SLOTS; n++, i = (i + 1) & SLOT_MASK) {
        /* Acquire: pairs with the release store in wal_index_publish, so
         * info[v - 1] and the frames it links to are visible. */
        uint32_t v = atomic_load_explicit(&s->slot[i], memory_order_acquire);
        if (v == 0)
            return 0;
        if (s->info[v - 1].pgno != pgno)
            continue;
        while (v && base + v > max_frame)
            v = s->info[v - 1].prev;
        return v ? base + v : 0;
    }
    return 0;
}

int wal_find(const wal *w, uint32_t pgno, uint64_t max_frame,
             wal_frame_ref *ref) {
    if (max_frame == 0)
        return CD_ENOTFOUND; /* touches nothing: safe during a reset */
    if (max_frame > WAL_FRAMES_MAX)
        max_frame = WAL_FRAMES_MAX;
    for (uint64_t si = (max_frame - 1) / WAL_SEG_FRAMES + 1; si-- > 0;) {
        /* Acquire: pairs with the release in wal_index_reserve. */
        const wal_seg *s = atomic_load_explicit(
            &((wal *)w)->seg[si], memory_order_acquire);
        if (!s)
            continue;
        uint64_t f = seg_find(s, si, pgno, max_frame);
        if (f) {
            const wal_finfo *fi = &s->info[(f - 1) % WAL_SEG_FRAMES];
            ref->frame = f;
            ref->offset = fi->offset;
            ref->pgno = fi->pgno;
            ref->len = fi->len;
            return 0;
        }
    }
    return CD_ENOTFOUND;
}

/* ---- checkpoint iterator ---------------------------------------------- */

typedef struct ckpt_item {
    uint32_t pgno;
    uint64_t frame;
} ckpt_item;

struct wal_ckpt {
    wal *w;
    ckpt_item *items;
    size_t n, pos;
};

/* Page ascending, then frame descending: the newest of a page first. */
static int item_cmp(const void *a, const void *b) {
    const ckpt_item *x = a, *y = b;
    if (x->pgno != y->pgno)
        return x->pgno < y->pgno ? -1 : 1;
    return x->frame > y->frame ? -1 : x->frame < y->frame;
}

int wal_checkpoint_begin(wal *w, uint64_t max_frame, wal_ckpt **out) {
    if (max_frame > wal_max_frame(w))
        return CD_EINVAL;
    wal_ckpt *it = os_alloc(w->vfs, sizeof *it);
    if (!it)
        return CD_ENOMEM;
    *it = (wal_ckpt){.w = w};
    if (max_frame) {
        it->items = os_alloc(w->vfs, (size_t)max_frame * sizeof *it->items);
        if (!it->items) {
            os_free(w->vfs, it);
            return CD_ENOMEM;
        }
    }
    for (uint64_t f = 1; f <= max_frame; f++)
        it->items[f - 1] = (ckpt_item){wal_index_info(w, f)->pgno, f};
    if (max_frame > 1)
        qsort(it->items, (size_t)max_frame, sizeof *it->items, item_cmp);
    size_t n = 0;
    for (size_t i = 0; i < (size_t)max_frame; i++)
        if (n == 0 || it->items[n - 1].pgno != it->items[i].pgno)
            it->items[n++] = it->items[i];
    it->n = n;
    *out = it;
    return 0;
}

int wal_checkpoint_next(wal_ckpt *it, wal_frame_ref *ref) {
    if (it->pos == it->n)
        return 0;
    const ckpt_item *c = &it->items[it->pos++];
    const wal_finfo *fi = wal_index_info(it->w, c->frame);
    *ref = (wal_frame_ref){c->frame, fi->offset, fi->pgno, fi->len};
    return 1;
}

void wal_checkpoint_end(wal_ckpt *it) {
    if (!it)
        return;
    os_free(it->w->vfs, it->items);
    os_free(it->w->vfs, it);
}
