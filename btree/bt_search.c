/*
 * bt_search.c: the read path.  Descends from a root to the leaf where a
 * key belongs (bt_descend, shared by lookups and writes), answers bt_get,
 * and owns the small page helpers every other file uses.  Trusts each page
 * the source hands out as a valid page, and checks the facts that span
 * pages: depth, cycles, overflow lengths.  Uses codec/cd_page.h.
 */
#include <stdlib.h>

#include "bt_int.h"

/* ---- page helpers ------------------------------------------------------- */

int bt_underfull(const uint8_t *page, uint32_t page_size) {
    return cd_page_n(page) == 0 ||
           cd_page_used(page, page_size) < bt_usable(page_size) / BT_FILL_MIN_DIV;
}

void bt_set_child(uint8_t *page, unsigned idx, uint32_t child) {
    ISLE_ASSERT(cd_page_type(page) == CD_PAGE_BRANCH && idx <= cd_page_n(page));
    if (idx >= cd_page_n(page))
        cd_page_set_aux0(page, child);
    else
        cd_put32(page + cd_page_cell_off(page, idx), child);
}

void bt_stamp(const bt_pager *pg, uint8_t *page, uint32_t pgno) {
    cd_page_set_pgno(page, pgno);
    cd_page_set_txn(page, pg->txn);
}

const uint8_t *bt_cell_key(const uint8_t *page, unsigned idx, uint32_t *klen) {
    if (cd_page_type(page) == CD_PAGE_BRANCH) {
        cd_branch_cell c;
        cd_branch_cell_get(page, idx, &c);
        *klen = c.klen;
        return c.key;
    }
    cd_leaf_cell c;
    cd_leaf_cell_get(page, idx, &c);
    *klen = c.klen;
    return c.key;
}

int bt_key_check(const void *key, uint32_t klen) {
    if (klen > BT_KEY_MAX)
        return CD_ETOOBIG;
    if (klen == 0 || key == NULL)
        return CD_EINVAL;
    return 0;
}

/* ---- paths -------------------------------------------------------------- */

void bt_path_release(const bt_pager *pg, bt_path *path) {
    for (uint32_t i = 0; i < path->depth; i++) {
        if (path->f[i].page)
            pg->ops->unpin(pg->ctx, path->f[i].page);
        path->f[i].page = NULL;
    }
    path->depth = 0;
}

int bt_path_has(const bt_path *path, uint32_t levels, uint32_t pgno) {
    for (uint32_t i = 0; i < levels; i++)
        if (path->f[i].pgno == pgno)
            return 1;
    return 0;
}

int bt_descend(const bt_pager *pg, uint32_t root, const void *key, uint32_t klen,
               int for_insert, bt_path *path, int *exact) {
    uint32_t pgno = root;
    int rc = 0;
    cd_key_range range = {0}; /* the separators around pgno in its parent */
    path->depth = 0;
    *exact = 0;
    for (;;) {
        const uint8_t *page;
        if (path->depth == BT_DEPTH_MAX || bt_path_has(path, path->depth, pgno)) {
            rc = CD_ECORRUPT; /* too deep for a sound file, or a cycle */
            goto out;
        }
        rc = pg->ops->get(pg->ctx, pgno, CD_PAGE_MASK_TREE, &page);
        if (rc)
            goto out;
        bt_frame *fr = &path->f[path->depth++];
        /* Read-only until bt_path_dirty() replaces it (fr->writable). */
        fr->page = (uint8_t *)(uintptr_t)page;
        fr->pgno = pgno;
        fr->writable = 0;
        int eq;
        unsigned i = for_insert ? cd_page_search_append(page, key, klen, &eq)
                                : cd_page_search_within(page, key, klen, &range, &eq);
        if (cd_page_type(page) == CD_PAGE_LEAF) {
            fr->idx = i;
            *exact = eq;
            return 0;
        }
        fr->idx = eq ? i + 1 : i; /* a key equal to key[i] is in child i+1 */
        pgno = cd_branch_child(page, fr->idx);
        /* child c holds [key[c-1], key[c]); the outer bounds go on down */
        if (!for_insert) {
            if (fr->idx > 0)
                range.lo = bt_cell_key(page, fr->idx - 1, &range.lolen);
            if (fr->idx < cd_page_n(page))
                range.hi = bt_cell_key(page, fr->idx, &range.hilen);
        }
    }
out:
    bt_path_release(pg, path);
    return rc;
}

/* ---- values ------------------------------------------------------------- */

void bt_val_release(const bt_pager *pager, bt_val *val) {
    if (!val)
        return;
    if (val->pin_)
        pager->ops->unpin(pager->ctx, val->pin_);
    free(val->heap_);
    memset(val, 0, sizeof *val);
}

int bt_val_load(const bt_pager *pg, const uint8_t *leaf,
                const cd_leaf_cell *c, bt_val *out) {
    memset(out, 0, sizeof *out);
    if (c->vlen > BT_VALUE_MAX)
        return CD_ECORRUPT;
    if (c->ovf_pgno) {
        int rc = bt_ovf_read(pg, c->ovf_pgno, c->vlen, &out->heap_);
        if (rc)
            return rc;
        out->data = out->heap_;
        out->len = c->vlen;
        return 0;
    }
    /* A second pin on the leaf, owned by the value. */
    pg->ops->pin(pg->ctx, leaf);
    out->pin_ = leaf;
    out->data = c->val;
    out->len = c->vlen;
    return 0;
}

int bt_get(const bt_pager *pager, const bt_tree *tree, const void *key,
           uint32_t klen, bt_val *out) {
    if (!out)
        return CD_EINVAL;
    memset(out, 0, sizeof *out);
    if (!pager || !tree)
        return CD_EINVAL;
    int rc = bt_key_check(key, klen);
    if (rc)
        return rc;
    if (tree->root == 0)
        return CD_ENOTFOUND;
    bt_path path;
    int exact;
    rc = bt_descend(pager, tree->root, key, klen, 0, &path, &exact);
    if (rc)
        return rc;
    bt_frame *leaf = &path.f[path.depth - 1];
    if (!exact) {
        rc = CD_ENOTFOUND;
        goto out;
    }
    cd_leaf_cell c;
    cd_leaf_cell_get(leaf->page, leaf->idx, &c);
    if (c.ovf_pgno == 0 && c.vlen <= BT_VALUE_MAX) {
        /* The value takes over the path's pin on its leaf. */
        out->pin_ = leaf->page;
        out->data = c.val;
        out->len = c.vlen;
        leaf->page = NULL;
    } else {
        rc = bt_val_load(pager, leaf->page, &c, out);
    }
out:
    bt_path_release(pager, &path);
    return rc;
}
