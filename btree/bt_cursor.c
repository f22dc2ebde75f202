/*
 * bt_cursor.c: ordered walks.  A positioned cursor holds the pinned path
 * from the root to its leaf, with the child index taken at each branch.
 * Moving past the end of a leaf climbs to the nearest ancestor that has a
 * further child in that direction, steps to it and descends along the near
 * edge (leftmost going forward, rightmost going back).  A step is built on
 * a copy of the path and only replaces the cursor's path when it succeeds,
 * so on any failure the cursor stays where it was and every pin taken for
 * the attempt is released.  Uses codec/cd_page.h and bt_descend.
 */
#include "bt_int.h"

static void unpin_range(const bt_pager *pg, bt_cursor_frame *f, uint32_t from,
                        uint32_t to) {
    for (uint32_t i = from; i < to; i++) {
        pg->ops->unpin(pg->ctx, f[i].page);
        f[i].page = NULL;
    }
}

/* Where a walk in direction dir starts on a page it has just entered. */
static uint32_t edge_idx(const uint8_t *page, int dir) {
    unsigned n = cd_page_n(page);
    if (dir > 0)
        return 0;
    if (cd_page_type(page) == CD_PAGE_BRANCH)
        return n;
    return n > 0 ? n - 1 : 0;
}

/* From the branch at f[level] (idx set), descends along the near edge to a
 * leaf, pinning f[level + 1 ..]; *depth gets the new frame count.  On
 * failure unpins what it pinned. */
static int descend_edge(const bt_pager *pg, bt_cursor_frame *f, uint32_t level,
                        int dir, uint32_t *depth) {
    uint32_t l = level;
    while (cd_page_type(f[l].page) == CD_PAGE_BRANCH) {
        uint32_t child = cd_branch_child(f[l].page, f[l].idx);
        int rc = 0;
        for (uint32_t a = 0; a <= l; a++)
            if (f[a].pgno == child)
                rc = CD_ECORRUPT; /* a cycle */
        if (l + 1 == BT_DEPTH_MAX)
            rc = CD_ECORRUPT;
        if (rc == 0)
            rc = pg->ops->get(pg->ctx, child, CD_PAGE_MASK_TREE, &f[l + 1].page);
        if (rc) {
            unpin_range(pg, f, level + 1, l + 1);
            return rc;
        }
        l++;
        f[l].pgno = child;
        f[l].idx = edge_idx(f[l].page, dir);
    }
    *depth = l + 1;
    return 0;
}

/* Asks for the cell area of a leaf a step has just entered, all at once: a
 * walk goes on to read most of it, and the engine hands out main-file
 * leaves in place from its mapping, so a walk over more than the CPU's
 * caches hold would otherwise wait for memory cell by cell. */
static void prefetch_cells(const uint8_t *leaf, uint32_t page_size) {
    uint32_t start = cd_get32(leaf + CD_PAGE_OFF_START) & ~63u;
    for (uint32_t off = start; off < page_size; off += 64)
        cd_prefetch(leaf + off);
}

/* A walk has entered a leaf through branch frame *parent: hints the
 * pager at the leaf after it, which the walk reads next while the pager
 * brings it in. */
static void look_ahead(const bt_pager *pg, const bt_cursor_frame *parent, int dir) {
    if (!pg->ops->ahead)
        return;
    uint32_t n = cd_page_n(parent->page);
    uint32_t i = (uint32_t)((int)parent->idx + dir); /* below 0 wraps past n */
    if (i <= n)
        pg->ops->ahead(pg->ctx, cd_branch_child(parent->page, i));
}

/* 1 iff the branch frame has a further child in direction dir. */
static int can_turn(const bt_cursor_frame *fr, int dir) {
    return dir > 0 ? fr->idx < cd_page_n(fr->page) : fr->idx > 0;
}

/* Moves one entry in direction dir (+1 / -1). */
static int step(bt_cursor *c, int dir) {
    const bt_pager *pg = c->pager;
    bt_cursor_frame t[BT_DEPTH_MAX];
    uint32_t d = c->depth, own = d; /* t[own, d) are pins of this step */
    bt_cursor_frame *leaf = &c->f[d - 1];
    unsigned n = cd_page_n(leaf->page);
    if (dir > 0 ? leaf->idx + 1 < n : (leaf->idx > 0 && leaf->idx < n)) {
        leaf->idx = (uint32_t)((int)leaf->idx + dir);
        return 0;
    }
    memcpy(t, c->f, d * sizeof *t);
    for (;;) {
        int l = (int)d - 2;
        while (l >= 0 && !can_turn(&t[l], dir))
            l--;
        if (l < 0) {
            unpin_range(pg, t, own, d);
            return CD_ENOTFOUND;
        }
        unpin_range(pg, t, own > (uint32_t)l + 1 ? own : (uint32_t)l + 1, d);
        if (own > (uint32_t)l + 1)
            own = (uint32_t)l + 1;
        t[l].idx = (uint32_t)((int)t[l].idx + dir);
        int rc = descend_edge(pg, t, (uint32_t)l, dir, &d);
        if (rc) {
            unpin_range(pg, t, own, (uint32_t)l + 1);
            return rc;
        }
        if (cd_page_n(t[d - 1].page) > 0)
            break; /* an empty leaf only comes from a damaged file: skip it */
    }
    prefetch_cells(t[d - 1].page, pg->page_size);
    look_ahead(pg, &t[d - 2], dir);
    unpin_range(pg, c->f, own, c->depth);
    memcpy(c->f, t, d * sizeof *t);
    c->depth = d;
    return 0;
}

int bt_cursor_open(const bt_pager *pager, const bt_tree *tree, bt_cursor *cur) {
    if (!cur)
        return CD_EINVAL;
    memset(cur, 0, sizeof *cur);
    if (!pager || !tree)
        return CD_EINVAL;
    cur->pager = pager;
    cur->root = tree->root;
    return 0;
}

void bt_cursor_close(bt_cursor *cur) {
    if (!cur || !cur->pager)
        return;
    unpin_range(cur->pager, cur->f, 0, cur->depth);
    cur->depth = 0;
}

/* Positions on the first (dir > 0) or last entry. */
static int position_edge(bt_cursor *c, int dir) {
    if (!c || !c->pager)
        return CD_EINVAL;
    bt_cursor_close(c);
    if (c->root == 0)
        return CD_ENOTFOUND;
    const bt_pager *pg = c->pager;
    uint32_t d;
    int rc = pg->ops->get(pg->ctx, c->root, CD_PAGE_MASK_TREE, &c->f[0].page);
    if (rc)
        return rc;
    c->f[0].pgno = c->root;
    c->f[0].idx = edge_idx(c->f[0].page, dir);
    rc = descend_edge(pg, c->f, 0, dir, &d);
    if (rc) {
        unpin_range(pg, c->f, 0, 1);
        return rc;
    }
    c->depth = d;
    if (cd_page_n(c->f[d - 1].page) == 0 && (rc = step(c, dir)) != 0)
        bt_cursor_close(c);
    else if (rc == 0 && c->depth > 1) /* a walk from the edge is near */
        look_ahead(pg, &c->f[c->depth - 2], dir);
    return rc;
}

int bt_cursor_first(bt_cursor *cur) { return position_edge(cur, 1); }
int bt_cursor_last(bt_cursor *cur) { return position_edge(cur, -1); }

int bt_cursor_seek(bt_cursor *cur, const void *key, uint32_t klen) {
    if (!cur || !cur->pager)
        return CD_EINVAL;
    int rc = bt_key_check(key, klen), exact;
    if (rc)
        return rc;
    bt_cursor_close(cur);
    if (cur->root == 0)
        return CD_ENOTFOUND;
    bt_path path;
    rc = bt_descend(cur->pager, cur->root, key, klen, 0, &path, &exact);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < path.depth; i++)
        cur->f[i] = (bt_cursor_frame){.pgno = path.f[i].pgno, .idx = path.f[i].idx,
                                      .page = path.f[i].page};
    cur->depth = path.depth;
    bt_cursor_frame *leaf = &cur->f[cur->depth - 1];
    if (leaf->idx >= cd_page_n(leaf->page) && (rc = step(cur, 1)) != 0)
        bt_cursor_close(cur);
    return rc;
}

int bt_cursor_next(bt_cursor *cur) {
    if (!cur || !cur->pager || cur->depth == 0)
        return CD_EINVAL;
    return step(cur, 1);
}

int bt_cursor_prev(bt_cursor *cur) {
    if (!cur || !cur->pager || cur->depth == 0)
        return CD_EINVAL;
    return step(cur, -1);
}

int bt_cursor_key(const bt_cursor *cur, const uint8_t **key, uint32_t *klen) {
    if (!cur || !key || !klen || cur->depth == 0)
        return CD_EINVAL;
    const bt_cursor_frame *leaf = &cur->f[cur->depth - 1];
    cd_leaf_cell c;
    cd_leaf_cell_get(leaf->page, leaf->idx, &c);
    *key = c.key;
    *klen = c.klen;
    return 0;
}

int bt_cursor_value(const bt_cursor *cur, bt_val *out) {
    if (!out)
        return CD_EINVAL;
    memset(out, 0, sizeof *out);
    if (!cur || cur->depth == 0)
        return CD_EINVAL;
    const bt_cursor_frame *leaf = &cur->f[cur->depth - 1];
    cd_leaf_cell c;
    cd_leaf_cell_get(leaf->page, leaf->idx, &c);
    return bt_val_load(cur->pager, leaf->page, &c, out);
}

int bt_cursor_peek(const bt_cursor *cur, const uint8_t **key, uint32_t *klen,
                   const uint8_t **val, uint32_t *vlen) {
    if (!cur || !key || !klen || !val || !vlen || cur->depth == 0)
        return CD_EINVAL;
    const bt_cursor_frame *leaf = &cur->f[cur->depth - 1];
    cd_leaf_cell c;
    ISLE_ASSERT(leaf->idx < cd_page_n(leaf->page));
    /* cd_leaf_cell_get's decoding, inline and bounded by the page */
    if (cd_leaf_cell_parse(leaf->page, cd_page_cell_off(leaf->page, leaf->idx),
                           cur->pager->page_size, &c) != 0)
        return CD_ECORRUPT; /* the page validated: not reached */
    *key = c.key;
    *klen = c.klen;
    *val = c.ovf_pgno ? NULL : c.val;
    *vlen = c.vlen;
    return 0;
}

int bt_cursor_each(bt_cursor *cur, int dir, bt_each_fn fn, void *arg) {
    if (!cur || !cur->pager || cur->depth == 0 || !fn || (dir != 1 && dir != -1))
        return CD_EINVAL;
    uint32_t page_size = cur->pager->page_size;
    for (;;) {
        bt_cursor_frame *leaf = &cur->f[cur->depth - 1];
        const uint8_t *page = leaf->page;
        uint32_t n = cd_page_n(page);
        /* going down, the index wraps past 0 to UINT32_MAX, which ends it */
        for (uint32_t i = leaf->idx; i < n; i += (uint32_t)dir) {
            cd_leaf_cell c;
            leaf->idx = i;
            if (cd_leaf_cell_parse(page, cd_page_cell_off(page, i), page_size, &c) != 0)
                return CD_ECORRUPT; /* the page validated: not reached */
            bt_val ovf; /* a value on overflow pages, read for fn */
            if (c.ovf_pgno) {
                int rc = bt_val_load(cur->pager, page, &c, &ovf);
                if (rc)
                    return rc;
            }
            bt_entry e = {.key = c.key, .val = c.ovf_pgno ? ovf.data : c.val, .klen = c.klen,
                          .vlen = c.vlen};
            int rc = fn(arg, &e);
            if (c.ovf_pgno) /* rare: no release call for every entry */
                bt_val_release(cur->pager, &ovf);
            if (rc)
                return rc;
        }
        int rc = step(cur, dir); /* from the leaf's edge: into the next leaf */
        if (rc)
            return rc;
    }
}
