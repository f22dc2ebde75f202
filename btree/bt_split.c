/*
 * bt_split.c: placing a cell on a page that may be full.  A page that
 * cannot take a new cell is split: its cells and the new one become a list
 * of items (bt_item), a split point divides them by bytes, the old page is
 * rebuilt with the left part and a newly allocated page with the right,
 * and a separator goes up to the parent, which may split in turn; a split
 * root grows the tree by one level.
 *
 * Separators: a leaf split sends up the shortest prefix s of the right
 * page's first key with (left's last key) < s, so branches hold short keys;
 * a branch split sends up its middle key itself.  In the parent, the split
 * child at index i keeps its page number and range [key[i-1], s) and the
 * new page takes [s, key[i]): child i is re-pointed at the new page and
 * cell (old page, s) is inserted at slot i.
 *
 * Split points: balanced by bytes, or with w->append (bt_insert.c) as far
 * right as fits, so the left page stays full.  Every cell is at most
 * cd_page_cell_max() (a quarter of the page), so a page's cells plus one
 * always divide into two pages that fit.  The item list and page builder
 * are shared with merging and refilling (bt_delete.c).  Uses cd_page.h.
 */
#include "bt_int.h"

uint32_t bt_sep_len(const uint8_t *a, uint32_t alen, const uint8_t *b,
                    uint32_t blen) {
    uint32_t p = 0, n = alen < blen ? alen : blen;
    while (p < n && a[p] == b[p])
        p++;
    /* a < b: either they differ at p (b[p] > a[p]) or a is a prefix of b
     * and b is longer.  Either way b[0, p] is above a and at most b. */
    return p + 1 <= blen ? p + 1 : blen;
}

int bt_items_add(const uint8_t *page, bt_item *items, uint32_t *n) {
    unsigned cells = cd_page_n(page);
    int leaf = cd_page_type(page) == CD_PAGE_LEAF;
    for (unsigned i = 0; i < cells; i++) {
        bt_item *it = &items[*n];
        if (leaf) {
            cd_leaf_cell c;
            cd_leaf_cell_get(page, i, &c);
            *it = (bt_item){.key = c.key, .klen = c.klen, .len = c.cell_len,
                            .cell = page + cd_page_cell_off(page, i)};
        } else {
            cd_branch_cell c;
            cd_branch_cell_get(page, i, &c);
            *it = (bt_item){.key = c.key, .klen = c.klen, .len = c.cell_len,
                            .child = c.child};
        }
        /* Within a page the order held when it validated; across pages it
         * is a cross-page fact a damaged file can break. */
        if (*n > 0 && cd_key_cmp(it[-1].key, it[-1].klen, it->key, it->klen) >= 0)
            return CD_ECORRUPT;
        (*n)++;
    }
    return 0;
}

uint32_t bt_split_point(const bt_item *items, uint32_t n, int branch,
                        uint32_t usable, int append) {
    uint64_t total = 0, left = 0, best_diff = UINT64_MAX;
    uint32_t best = 0;
    ISLE_ASSERT(usable > 0 && items != NULL);
    for (uint32_t i = 0; i < n; i++)
        total += cd_page_cell_cost(items[i].len);
    for (uint32_t m = 1; m + (branch ? 1u : 0u) < n; m++) {
        left += cd_page_cell_cost(items[m - 1].len);
        uint64_t right = total - left - (branch ? cd_page_cell_cost(items[m].len) : 0);
        if (left > usable)
            break;
        if (right > usable)
            continue;
        uint64_t diff = left > right ? left - right : right - left;
        if (append || diff < best_diff) {
            best = m;
            best_diff = diff;
        }
    }
    return best;
}

int bt_page_build(const bt_pager *pg, uint8_t *page, uint32_t pgno, uint8_t type,
                  const bt_item *items, uint32_t n, uint32_t aux0) {
    uint32_t size = pg->page_size;
    cd_page_init(page, size, (enum cd_page_type)type, pgno, pg->txn);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *dst = cd_page_cell_alloc(page, size, i, items[i].len);
        if (!dst)
            return CD_ECORRUPT; /* the caller measured: only bad input gets here */
        if (type == CD_PAGE_LEAF)
            memcpy(dst, items[i].cell, items[i].len);
        else
            cd_branch_cell_write(dst, items[i].child, items[i].key, items[i].klen);
    }
    if (type == CD_PAGE_BRANCH)
        cd_page_set_aux0(page, aux0);
    ISLE_ASSERT(cd_page_n(page) == n);
    return 0;
}

/* The tree grows a level: a new root branch over left and right. */
static int grow_root(bt_wctx *w, const uint8_t *sep, uint32_t seplen,
                     uint32_t left, uint32_t right) {
    const bt_pager *pg = w->pg;
    uint32_t pgno;
    uint8_t *page;
    int rc = pg->ops->alloc(pg->ctx, &pgno, &page);
    if (rc)
        return rc;
    bt_item it = {.key = sep, .klen = seplen, .len = cd_branch_cell_len(seplen),
                  .child = left};
    rc = bt_page_build(pg, page, pgno, CD_PAGE_BRANCH, &it, 1, right);
    pg->ops->unpin(pg->ctx, page);
    if (rc) {
        (void)pg->ops->free(pg->ctx, pgno);
        return rc;
    }
    w->tree->root = pgno;
    return 0;
}

/* The page at path level `level` (page number left) was split, giving the
 * new page right the keys >= sep: tell its parent (or grow a root). */
static int parent_insert(bt_wctx *w, uint32_t level, const uint8_t *sep,
                         uint32_t seplen, uint32_t left, uint32_t right) {
    if (level == 0)
        return grow_root(w, sep, seplen, left, right);
    bt_frame *par = &w->path.f[level - 1];
    bt_set_child(par->page, par->idx, right);
    return bt_branch_insert(w, level - 1, par->idx, left, sep, seplen);
}

/*
 * The split of a full leaf by an append past its last cell (w->append):
 * the rightmost split point that fits keeps every old cell on the left,
 * since they fit there before, so the leaf stays as it is and the new
 * cell alone starts the right page.  The same pages the general split
 * would build, without taking the leaf apart and building it again.
 */
static int split_append_leaf(bt_wctx *w, uint32_t level, const bt_item *extra) {
    const bt_pager *pg = w->pg;
    bt_frame *fr = &w->path.f[level];
    unsigned n = cd_page_n(fr->page);
    cd_leaf_cell last;
    cd_leaf_cell_get(fr->page, n - 1, &last);
    if (cd_key_cmp(last.key, last.klen, extra->key, extra->klen) >= 0)
        return CD_ECORRUPT; /* the descent said past the end: a damaged page */
    uint32_t seplen = bt_sep_len(last.key, last.klen, extra->key, extra->klen), rp;
    uint8_t sep[BT_KEY_MAX], *right;
    if (seplen > BT_KEY_MAX)
        return CD_ECORRUPT;
    if (level == 0 && w->path.depth >= BT_DEPTH_MAX)
        return CD_ETOOBIG; /* the root cannot grow another level */
    memcpy(sep, extra->key, seplen);
    int rc = pg->ops->alloc(pg->ctx, &rp, &right);
    if (rc)
        return rc;
    rc = bt_page_build(pg, right, rp, CD_PAGE_LEAF, extra, 1, 0);
    pg->ops->unpin(pg->ctx, right);
    if (rc) {
        (void)pg->ops->free(pg->ctx, rp);
        return rc;
    }
    rc = parent_insert(w, level, sep, seplen, fr->pgno, rp);
    if (rc == 0 && pg->ops->done)
        pg->ops->done(pg->ctx, fr->pgno); /* full: the next keys go right */
    return rc;
}

/* Splits the page at path level `level`, which cannot take item extra at
 * slot idx, into itself and a new right page. */
static int split_insert(bt_wctx *w, uint32_t level, uint32_t idx,
                        const bt_item *extra) {
    const bt_pager *pg = w->pg;
    bt_frame *fr = &w->path.f[level];
    uint8_t type = cd_page_type(fr->page), sep[BT_KEY_MAX];
    int branch = type == CD_PAGE_BRANCH;
    if (w->append && !branch && idx == cd_page_n(fr->page) && idx > 0)
        return split_append_leaf(w, level, extra);
    uint32_t n = 0, rp, seplen;
    uint8_t *right;
    int rc = bt_wctx_buffers(w);
    if (rc)
        return rc;
    memcpy(w->scratch, fr->page, pg->page_size);
    if ((rc = bt_items_add(w->scratch, w->items, &n)) != 0)
        return rc;
    memmove(&w->items[idx + 1], &w->items[idx], (n - idx) * sizeof *w->items);
    w->items[idx] = *extra;
    n++;
    uint32_t m = bt_split_point(w->items, n, branch, bt_usable(pg->page_size), w->append);
    if (m == 0)
        return CD_ECORRUPT;
    const bt_item *mid = &w->items[m];
    seplen = branch ? mid->klen
                    : bt_sep_len(mid[-1].key, mid[-1].klen, mid->key, mid->klen);
    if (seplen > BT_KEY_MAX)
        return CD_ECORRUPT;
    if (level == 0 && w->path.depth >= BT_DEPTH_MAX)
        return CD_ETOOBIG; /* the root cannot grow another level */
    memcpy(sep, mid->key, seplen);
    if ((rc = pg->ops->alloc(pg->ctx, &rp, &right)) != 0)
        return rc;
    if (branch)
        rc = bt_page_build(pg, right, rp, type, mid + 1, n - m - 1,
                           cd_page_aux0(w->scratch));
    else
        rc = bt_page_build(pg, right, rp, type, mid, n - m, 0);
    if (rc == 0)
        rc = bt_page_build(pg, fr->page, fr->pgno, type, w->items, m,
                           branch ? mid->child : 0);
    pg->ops->unpin(pg->ctx, right);
    if (rc) {
        (void)pg->ops->free(pg->ctx, rp);
        return rc;
    }
    uint32_t left = fr->pgno;
    rc = parent_insert(w, level, sep, seplen, left, rp);
    if (rc == 0 && w->append && pg->ops->done)
        pg->ops->done(pg->ctx, left); /* full: the next keys go right */
    return rc;
}

int bt_branch_insert(bt_wctx *w, uint32_t level, uint32_t idx, uint32_t child,
                     const uint8_t *key, uint32_t klen) {
    bt_frame *fr = &w->path.f[level];
    uint32_t len = cd_branch_cell_len(klen);
    ISLE_ASSERT(fr->writable && cd_page_type(fr->page) == CD_PAGE_BRANCH);
    uint8_t *dst = cd_page_cell_alloc(fr->page, w->pg->page_size, idx, len);
    if (dst) {
        cd_branch_cell_write(dst, child, key, klen);
        return 0;
    }
    bt_item it = {.key = key, .klen = klen, .len = len, .child = child};
    return split_insert(w, level, idx, &it);
}

int bt_leaf_insert(bt_wctx *w, const uint8_t *cell, uint32_t len,
                   const uint8_t *key, uint32_t klen) {
    uint32_t level = w->path.depth - 1;
    bt_frame *fr = &w->path.f[level];
    ISLE_ASSERT(fr->writable && cd_page_type(fr->page) == CD_PAGE_LEAF);
    uint8_t *dst = cd_page_cell_alloc(fr->page, w->pg->page_size, fr->idx, len);
    if (dst) {
        memcpy(dst, cell, len);
        return 0;
    }
    bt_item it = {.key = key, .klen = klen, .len = len, .cell = cell};
    return split_insert(w, level, fr->idx, &it);
}
