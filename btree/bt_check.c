/*
 * bt_check.c: the whole-tree walk behind bt_check and bt_stat.  A
 * depth-first walk that keeps the path pinned, so the separator keys that
 * bound each subtree can be compared in place.  It re-checks every page's
 * layout (pages dirty in this transaction were never validated by the
 * source), then the facts that span pages: separator bounds, equal leaf
 * depth, depth limit, cycles, overflow chain lengths.  The first problem
 * stops the walk with CD_ECORRUPT, a cd_diag and the page number.  Uses
 * codec/cd_page.h and the overflow rules of bt_overflow.c.
 */
#include "bt_int.h"

typedef struct bt_key_ref {
    const uint8_t *key;
    uint32_t klen;
} bt_key_ref;

typedef struct walker {
    const bt_pager *pg;
    void (*visit)(void *arg, uint32_t pgno, uint8_t type);
    void *arg;
    cd_diag *diag;
    uint32_t *bad_pgno;
    bt_stats *st;
    uint32_t leaf_depth; /* depth of the first leaf met, 0 before */
    uint32_t anc[BT_DEPTH_MAX];
} walker;

static int bad_at(walker *w, uint32_t pgno, int line, const char *what, size_t off) {
    if (w->bad_pgno)
        *w->bad_pgno = pgno;
    return cd_corrupt_at(w->diag, line, what, off);
}
#define BAD(w, pgno, what, off) bad_at((w), (pgno), __LINE__, (what), (off))

/* Pins pgno and checks its layout; reports it to visit. */
static int load(walker *w, uint32_t pgno, unsigned mask, const uint8_t **page) {
    const bt_pager *pg = w->pg;
    int rc = pg->ops->get(pg->ctx, pgno, mask, page);
    if (rc) {
        if (w->bad_pgno)
            *w->bad_pgno = pgno;
        return rc;
    }
    if (w->visit)
        w->visit(w->arg, pgno, cd_page_type(*page));
    rc = cd_page_check_layout(*page, pg->page_size, pgno, mask, w->diag);
    if (rc) {
        pg->ops->unpin(pg->ctx, *page);
        if (w->bad_pgno)
            *w->bad_pgno = pgno;
    }
    return rc;
}

static int walk_chain(walker *w, uint32_t leaf, uint32_t first, uint32_t vlen) {
    uint32_t cap = cd_overflow_capacity(w->pg->page_size);
    uint32_t npages = bt_ovf_pages(w->pg->page_size, vlen), got = 0, pgno = first;
    if (npages == 0)
        return BAD(w, leaf, "empty value on overflow pages", 0);
    for (uint32_t k = 0; k < npages; k++) {
        const uint8_t *page;
        if (pgno == 0)
            return BAD(w, leaf, "overflow chain shorter than its value", 0);
        int rc = load(w, pgno, CD_PAGE_MASK_OVERFLOW, &page);
        if (rc)
            return rc;
        uint32_t len = cd_page_aux1(page), next = cd_page_aux0(page);
        w->pg->ops->unpin(w->pg->ctx, page);
        if (k + 1 < npages && len != cap)
            return BAD(w, pgno, "overflow page not full before the last", CD_PAGE_OFF_AUX1);
        if (k + 1 == npages && got + len != vlen)
            return BAD(w, pgno, "overflow chain length disagrees with the value",
                       CD_PAGE_OFF_AUX1);
        if (k + 1 == npages && next != 0)
            return BAD(w, pgno, "overflow chain longer than its value", CD_PAGE_OFF_AUX0);
        got += len;
        if (w->st) {
            w->st->overflow_pages++;
            w->st->overflow_bytes_used += len;
        }
        pgno = next;
    }
    return 0;
}

/* Checks lo <= key < hi for every key, and the leaf's own rules. */
static int check_cells(walker *w, uint32_t pgno, const uint8_t *page,
                       const bt_key_ref *lo, const bt_key_ref *hi) {
    unsigned n = cd_page_n(page);
    int leaf = cd_page_type(page) == CD_PAGE_LEAF;
    for (unsigned i = 0; i < n; i++) {
        uint32_t klen, off = cd_page_cell_off(page, i);
        const uint8_t *key = bt_cell_key(page, i, &klen);
        if (klen == 0 || klen > BT_KEY_MAX)
            return BAD(w, pgno, "key length out of range", off);
        if (lo && cd_key_cmp(key, klen, lo->key, lo->klen) < 0)
            return BAD(w, pgno, "key below its parent's separator", off);
        if (hi && cd_key_cmp(key, klen, hi->key, hi->klen) >= 0)
            return BAD(w, pgno, "key not below its parent's next separator", off);
        if (!leaf)
            continue;
        cd_leaf_cell c;
        cd_leaf_cell_get(page, i, &c);
        if (c.vlen > BT_VALUE_MAX)
            return BAD(w, pgno, "value longer than the limit", off);
        if (!c.ovf_pgno && c.cell_len > bt_inline_cell_max(w->pg->page_size))
            return BAD(w, pgno, "inline value too large", off);
    }
    return 0;
}

static int walk_page(walker *w, uint32_t pgno, uint32_t depth,
                     const bt_key_ref *lo, const bt_key_ref *hi);

static int walk_children(walker *w, const uint8_t *page, uint32_t depth,
                         const bt_key_ref *lo, const bt_key_ref *hi) {
    unsigned n = cd_page_n(page);
    bt_key_ref prev = lo ? *lo : (bt_key_ref){0}, next;
    for (unsigned i = 0; i <= n; i++) {
        if (i < n)
            next.key = bt_cell_key(page, i, &next.klen);
        int rc = walk_page(w, cd_branch_child(page, i), depth + 1,
                           i > 0 || lo ? &prev : NULL, i < n ? &next : hi);
        if (rc)
            return rc;
        prev = next;
    }
    return 0;
}

static int walk_leaf(walker *w, uint32_t pgno, const uint8_t *page, uint32_t depth) {
    unsigned n = cd_page_n(page);
    if (n == 0)
        return BAD(w, pgno, "empty leaf", CD_PAGE_OFF_N);
    if (w->leaf_depth == 0)
        w->leaf_depth = depth;
    else if (w->leaf_depth != depth)
        return BAD(w, pgno, "leaves at different depths", 0);
    for (unsigned i = 0; i < n; i++) {
        cd_leaf_cell c;
        cd_leaf_cell_get(page, i, &c);
        if (w->st) {
            w->st->entries++;
            w->st->overflow_values += c.ovf_pgno != 0;
        }
        if (c.ovf_pgno) {
            int rc = walk_chain(w, pgno, c.ovf_pgno, c.vlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int walk_page(walker *w, uint32_t pgno, uint32_t depth,
                     const bt_key_ref *lo, const bt_key_ref *hi) {
    const uint8_t *page;
    for (uint32_t i = 0; i < depth; i++)
        if (w->anc[i] == pgno)
            return BAD(w, pgno, "a child is one of its own ancestors", 0);
    if (depth >= BT_DEPTH_MAX)
        return BAD(w, pgno, "tree deeper than BT_DEPTH_MAX", 0);
    int rc = load(w, pgno, CD_PAGE_MASK_TREE, &page);
    if (rc)
        return rc;
    w->anc[depth] = pgno;
    int branch = cd_page_type(page) == CD_PAGE_BRANCH;
    if (w->st) {
        uint64_t used = cd_page_used(page, w->pg->page_size);
        *(branch ? &w->st->branch_pages : &w->st->leaf_pages) += 1;
        *(branch ? &w->st->branch_bytes_used : &w->st->leaf_bytes_used) += used;
    }
    rc = check_cells(w, pgno, page, lo, hi);
    if (rc == 0)
        rc = branch ? walk_children(w, page, depth, lo, hi)
                    : walk_leaf(w, pgno, page, depth + 1);
    w->pg->ops->unpin(w->pg->ctx, page);
    return rc;
}

static int walk_tree(walker *w, const bt_tree *tree) {
    if (!w->pg || !tree)
        return CD_EINVAL;
    if (tree->root == 0)
        return 0;
    return walk_page(w, tree->root, 0, NULL, NULL);
}

int bt_check(const bt_pager *pager, const bt_tree *tree,
             void (*visit)(void *arg, uint32_t pgno, uint8_t type), void *arg,
             cd_diag *diag, uint32_t *bad_pgno) {
    walker w = {.pg = pager, .visit = visit, .arg = arg, .diag = diag,
                .bad_pgno = bad_pgno};
    return walk_tree(&w, tree);
}

int bt_stat(const bt_pager *pager, const bt_tree *tree, bt_stats *st) {
    if (!st)
        return CD_EINVAL;
    memset(st, 0, sizeof *st);
    walker w = {.pg = pager, .st = st};
    int rc = walk_tree(&w, tree);
    st->depth = w.leaf_depth;
    st->bytes_used = st->branch_bytes_used + st->leaf_bytes_used +
                     st->overflow_bytes_used;
    return rc;
}
