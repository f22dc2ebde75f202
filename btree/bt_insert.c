/*
 * bt_insert.c: bt_put, and the copy-on-write step every write shares.
 *
 * A put first descends read-only (bt_descend), so a refused write
 * (CD_EEXIST) touches nothing.  It then writes a large value's overflow
 * chain, makes the whole root-to-leaf path dirty top-down (bt_path_dirty:
 * each page's copy is re-pointed from its parent's copy, the root's from
 * tree->root), and places the cell in the leaf, splitting when it does not
 * fit (bt_split.c).  The old value's overflow chain is freed last.
 *
 * Append fast path: when every page of the path is on the tree's right
 * edge and the key is past the last key of the rightmost leaf, splits
 * start a new right page instead of halving (w->append), so ascending
 * inserts leave full pages behind.  Such a put also notes the leaf in
 * tree->append_leaf, and the next put of a larger key that fits there
 * places its cell directly, with no descent (bt_append_run,
 * which also places a run of such puts on one visit): ascending
 * loads descend once per leaf.  Uses codec/cd_page.h.
 */
#include <stdlib.h>

#include "bt_int.h"

int bt_wctx_buffers(bt_wctx *w) {
    uint32_t p = w->pg->page_size;
    /* The smallest cell plus its slot takes 5 bytes (3 + 2). */
    size_t cap = 2 * (bt_usable(p) / 5) + 4;
    if (!w->scratch)
        w->scratch = malloc(2 * (size_t)p);
    if (!w->items)
        w->items = malloc(cap * sizeof *w->items);
    return w->scratch && w->items ? 0 : CD_ENOMEM;
}

void bt_wctx_release(bt_wctx *w) {
    bt_path_release(w->pg, &w->path);
    free(w->scratch);
    free(w->items);
    w->scratch = NULL;
    w->items = NULL;
}

int bt_path_dirty(bt_wctx *w) {
    const bt_pager *pg = w->pg;
    ISLE_ASSERT(w->path.depth > 0 && w->path.depth <= BT_DEPTH_MAX);
    for (uint32_t l = 0; l < w->path.depth; l++) {
        bt_frame *fr = &w->path.f[l];
        if (fr->writable)
            continue;
        uint32_t np;
        uint8_t *page;
        int rc = pg->ops->dirty(pg->ctx, fr->pgno, &np, &page);
        if (rc)
            return rc;
        pg->ops->unpin(pg->ctx, fr->page);
        fr->page = page;
        fr->writable = 1;
        bt_stamp(pg, page, np);
        if (l == 0)
            w->tree->root = np;
        else if (np != fr->pgno)
            bt_set_child(w->path.f[l - 1].page, w->path.f[l - 1].idx, np);
        fr->pgno = np;
    }
    return 0;
}

/* 1 iff the path runs down the right edge and ends past the last key. */
static int path_is_append(const bt_path *path) {
    for (uint32_t l = 0; l < path->depth; l++)
        if (path->f[l].idx != cd_page_n(path->f[l].page))
            return 0;
    return 1;
}

/* Encodes the leaf cell for key -> val into cell (len bytes), writing an
 * overflow chain first when the value does not fit inline. */
static int make_cell(const bt_pager *pg, const uint8_t *key, uint32_t klen,
                     const uint8_t *val, uint32_t vlen, uint8_t *cell,
                     uint32_t *len, uint32_t *ovf) {
    uint32_t inl = cd_leaf_cell_len(klen, vlen, 0);
    *ovf = 0;
    if (inl <= bt_inline_cell_max(pg->page_size)) {
        cd_leaf_cell_write(cell, key, klen, val, vlen, 0);
        *len = inl;
        return 0;
    }
    int rc = bt_ovf_write(pg, val, vlen, ovf);
    if (rc)
        return rc;
    cd_leaf_cell_write(cell, key, klen, NULL, vlen, *ovf);
    *len = cd_leaf_cell_len(klen, vlen, 1);
    return 0;
}

/* The first put of an empty tree: a root leaf holding one cell. */
static int put_root(bt_wctx *w, const uint8_t *cell, uint32_t len) {
    const bt_pager *pg = w->pg;
    uint32_t pgno;
    uint8_t *page;
    int rc = pg->ops->alloc(pg->ctx, &pgno, &page);
    if (rc)
        return rc;
    cd_page_init(page, pg->page_size, CD_PAGE_LEAF, pgno, pg->txn);
    uint8_t *dst = cd_page_cell_alloc(page, pg->page_size, 0, len);
    ISLE_VERIFY(dst != NULL); /* any cell we build fits an empty page */
    memcpy(dst, cell, len);
    pg->ops->unpin(pg->ctx, page);
    w->tree->root = pgno;
    return 0;
}

/* Places the new cell in the leaf, replacing the old one if present. */
static int leaf_place(bt_wctx *w, int exact, const uint8_t *cell, uint32_t len,
                      const uint8_t *key, uint32_t klen) {
    bt_frame *leaf = &w->path.f[w->path.depth - 1];
    if (exact) {
        cd_leaf_cell old;
        cd_leaf_cell_get(leaf->page, leaf->idx, &old);
        if (old.cell_len == len) { /* same size: overwrite in place */
            memcpy(leaf->page + cd_page_cell_off(leaf->page, leaf->idx), cell, len);
            return 0;
        }
        cd_page_cell_remove(leaf->page, w->pg->page_size, leaf->idx);
    }
    return bt_leaf_insert(w, cell, len, key, klen);
}

int bt_append_run(const bt_pager *pg, bt_tree *tree, const bt_kv *kv, uint32_t n,
                  uint32_t *placed) {
    *placed = 0;
    if (!tree->append_leaf || !pg->ops->owned || n == 0)
        return 0;
    uint8_t *page;
    int rc = pg->ops->owned(pg->ctx, tree->append_leaf, &page);
    if (rc) {
        tree->append_leaf = 0;
        return rc == CD_ENOTFOUND ? 0 : rc;
    }
    unsigned at = cd_page_n(page);
    if (cd_page_type(page) != CD_PAGE_LEAF || at == 0) {
        tree->append_leaf = 0;
        pg->ops->unpin(pg->ctx, page);
        return 0;
    }
    cd_leaf_cell last;
    cd_leaf_cell_get(page, at - 1, &last);
    const uint8_t *prev = last.key;
    uint32_t prev_len = last.klen, i = 0, max = bt_inline_cell_max(pg->page_size);
    for (; i < n; i++, at++) {
        const bt_kv *p = &kv[i];
        uint32_t len = cd_leaf_cell_len(p->klen, p->vlen, 0);
        if (bt_key_check(p->key, p->klen) != 0 || (p->vlen && !p->val) || len > max ||
            cd_key_cmp(p->key, p->klen, prev, prev_len) <= 0)
            break;
        uint8_t *dst = cd_page_cell_alloc(page, pg->page_size, at, len);
        if (!dst)
            break; /* full: bt_put splits it */
        cd_leaf_cell_write(dst, p->key, p->klen, p->val, p->vlen, 0);
        prev = p->key;
        prev_len = p->klen;
    }
    pg->ops->unpin(pg->ctx, page);
    *placed = i;
    return 0;
}

static int put_args(const bt_pager *pager, const bt_tree *tree, const void *key,
                    uint32_t klen, const void *val, uint32_t vlen, unsigned flags) {
    if (!pager || !tree || (flags & ~BT_NOOVERWRITE) || (vlen && !val))
        return CD_EINVAL;
    int rc = bt_key_check(key, klen);
    if (rc)
        return rc;
    return vlen > BT_VALUE_MAX ? CD_ETOOBIG : 0;
}

int bt_put(const bt_pager *pager, bt_tree *tree, const void *key, uint32_t klen,
           const void *val, uint32_t vlen, unsigned flags) {
    int rc = put_args(pager, tree, key, klen, val, vlen, flags);
    if (rc)
        return rc;
    if (tree->append_leaf) { /* past the last key of the last leaf: no descent */
        bt_kv one = {key, val, klen, vlen};
        uint32_t placed;
        rc = bt_append_run(pager, tree, &one, 1, &placed);
        if (rc || placed)
            return rc;
    }
    bt_wctx w = {.pg = pager, .tree = tree};
    uint8_t stack_cell[1024], *cell = stack_cell;
    uint32_t len = 0, old_ovf = 0, old_vlen = 0, new_ovf = 0;
    int exact = 0, placed = 0;
    if (bt_inline_cell_max(pager->page_size) > sizeof stack_cell &&
        !(cell = malloc(bt_inline_cell_max(pager->page_size))))
        return CD_ENOMEM;
    if (tree->root != 0) {
        rc = bt_descend(pager, tree->root, key, klen, 1, &w.path, &exact);
        if (rc)
            goto out;
        bt_frame *leaf = &w.path.f[w.path.depth - 1];
        if (exact && (flags & BT_NOOVERWRITE)) {
            rc = CD_EEXIST;
            goto out;
        }
        if (w.path.depth == BT_DEPTH_MAX) {
            rc = CD_ETOOBIG; /* it might have to grow: refuse before writing */
            goto out;
        }
        if (exact) {
            cd_leaf_cell old;
            cd_leaf_cell_get(leaf->page, leaf->idx, &old);
            old_ovf = old.ovf_pgno, old_vlen = old.vlen;
        }
        w.append = !exact && path_is_append(&w.path);
    }
    rc = make_cell(pager, key, klen, val, vlen, cell, &len, &new_ovf);
    if (rc)
        goto out;
    if (tree->root == 0) {
        rc = put_root(&w, cell, len);
        placed = rc == 0;
    } else {
        rc = bt_path_dirty(&w);
        if (rc == 0) {
            placed = 1; /* or half-placed if it fails: the txn aborts */
            rc = leaf_place(&w, exact, cell, len, key, klen);
        }
    }
    /* The note holds if the cell went last into the rightmost leaf, now
     * writable; a split sent it to a new page (the next put finds it). */
    tree->append_leaf = 0;
    if (rc == 0 && w.append) {
        const bt_frame *leaf = &w.path.f[w.path.depth - 1];
        if (cd_page_n(leaf->page) == leaf->idx + 1u)
            tree->append_leaf = leaf->pgno;
    }
    bt_path_release(pager, &w.path); /* no pins needed to free a chain */
    if (rc == 0 && old_ovf)
        rc = bt_ovf_free(pager, old_ovf, old_vlen);
    if (rc && !placed && new_ovf)
        (void)bt_ovf_free(pager, new_ovf, vlen); /* keep the first error */
out:
    bt_wctx_release(&w);
    if (cell != stack_cell)
        free(cell);
    return rc;
}
