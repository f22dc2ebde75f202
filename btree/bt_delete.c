/*
 * bt_delete.c: bt_del and the rebalancing that keeps a shrinking tree
 * dense, and bt_drop.
 *
 * After a cell leaves a page, the page is underfull when its cells use
 * less than 1/BT_FILL_MIN_DIV of the usable space, or none.  An underfull
 * page (not the root) takes a sibling under the same parent (the left one
 * if there is one): if both fit one page they merge into the left page,
 * the right page is freed and the parent loses the separator between them
 * (and is looked at in turn); otherwise the cells of both are divided
 * evenly and the separator is replaced, which may split the parent when
 * the new separator is longer (bt_branch_insert).  A branch merge pulls
 * the separator down between the two halves.  A root branch left with no
 * key (one child) is freed and its child becomes the root; an empty root
 * leaf is freed and the tree becomes empty (root 0).  Uses cd_page.h.
 */
#include "bt_int.h"

/* Frees the page of path level l, which must no longer be referenced. */
static int frame_free(bt_wctx *w, uint32_t l) {
    bt_frame *fr = &w->path.f[l];
    if (fr->page)
        w->pg->ops->unpin(w->pg->ctx, fr->page);
    fr->page = NULL;
    return w->pg->ops->free(w->pg->ctx, fr->pgno);
}

/* The root after a delete: collapse a keyless branch, free an empty leaf. */
static int fix_root(bt_wctx *w) {
    const uint8_t *root = w->path.f[0].page;
    ISLE_ASSERT(w->path.f[0].writable && w->tree->root == w->path.f[0].pgno);
    if (cd_page_n(root) > 0)
        return 0;
    uint32_t next = cd_page_type(root) == CD_PAGE_BRANCH ? cd_page_aux0(root) : 0;
    int rc = frame_free(w, 0);
    if (rc == 0)
        w->tree->root = next;
    return rc;
}

/* Pins the sibling at child index j of the parent at level l - 1, dirty,
 * re-pointing the parent at the copy. */
static int sibling_dirty(bt_wctx *w, uint32_t l, uint32_t j, uint32_t *pgno,
                         uint8_t **page) {
    const bt_pager *pg = w->pg;
    bt_frame *par = &w->path.f[l - 1];
    uint32_t sib = cd_branch_child(par->page, j);
    unsigned mask = cd_page_type(w->path.f[l].page) == CD_PAGE_LEAF
                        ? CD_PAGE_MASK_LEAF : CD_PAGE_MASK_BRANCH;
    const uint8_t *ro;
    if (bt_path_has(&w->path, l + 1, sib))
        return CD_ECORRUPT;
    int rc = pg->ops->get(pg->ctx, sib, mask, &ro);
    if (rc)
        return rc;
    rc = pg->ops->dirty(pg->ctx, sib, pgno, page);
    pg->ops->unpin(pg->ctx, ro);
    if (rc)
        return rc;
    bt_stamp(pg, *page, *pgno);
    bt_set_child(par->page, j, *pgno);
    return 0;
}

/* Loads the cells of left, then (for branches) the separator carrying
 * left's rightmost child, then the cells of right, from page images in
 * w->scratch. */
static int items_of_pair(bt_wctx *w, const uint8_t *sep, uint32_t seplen,
                         uint32_t *n) {
    uint32_t p = w->pg->page_size;
    const uint8_t *l = w->scratch, *r = w->scratch + p;
    int rc = bt_items_add(l, w->items, n);
    if (rc == 0 && cd_page_type(l) == CD_PAGE_BRANCH) {
        w->items[*n] = (bt_item){.key = sep, .klen = seplen,
                                 .len = cd_branch_cell_len(seplen),
                                 .child = cd_page_aux0(l)};
        if (*n > 0 && cd_key_cmp(w->items[*n - 1].key, w->items[*n - 1].klen,
                                 sep, seplen) >= 0)
            return CD_ECORRUPT;
        (*n)++;
    }
    if (rc == 0)
        rc = bt_items_add(r, w->items, n);
    return rc;
}

/* Two neighbouring pages under the parent at path level l - 1, both
 * dirty; one of them is the path's page at level l. */
typedef struct bt_pair {
    uint32_t l;          /* path level of the pages */
    uint32_t sepidx;     /* parent cell between them (its child is left) */
    uint8_t *left, *right;
    uint32_t lpgno, rpgno;
    int left_is_sib;     /* the sibling is the left page (path page right) */
    uint8_t *sibpage;    /* the sibling's pin, or NULL once released */
} bt_pair;

/* Both pages' cells fit one page: merge them into the left page and free
 * the right one; the parent loses the separator. */
static int pair_merge(bt_wctx *w, bt_pair *pr, uint32_t n, uint32_t raux) {
    const bt_pager *pg = w->pg;
    bt_frame *par = &w->path.f[pr->l - 1];
    int rc = bt_page_build(pg, pr->left, pr->lpgno, cd_page_type(pr->left), w->items,
                           n, raux);
    if (rc)
        return rc;
    bt_set_child(par->page, pr->sepidx + 1, pr->lpgno);
    cd_page_cell_remove(par->page, pg->page_size, pr->sepidx);
    par->idx = pr->sepidx;
    pg->ops->unpin(pg->ctx, pr->sibpage);
    pr->sibpage = NULL;
    /* Never free a pinned page: the path's page is unpinned by frame_free. */
    return pr->left_is_sib ? frame_free(w, pr->l) : pg->ops->free(pg->ctx, pr->rpgno);
}

/* They do not fit one page: divide the cells evenly and give the parent
 * the new separator, splitting it if the separator has grown. */
static int pair_refill(bt_wctx *w, bt_pair *pr, uint32_t n, uint32_t raux) {
    const bt_pager *pg = w->pg;
    uint8_t type = cd_page_type(pr->left), nsep[BT_KEY_MAX];
    int branch = type == CD_PAGE_BRANCH;
    uint32_t m = bt_split_point(w->items, n, branch, bt_usable(pg->page_size), 0);
    if (m == 0)
        return 0; /* cannot happen with sound cells: leave it underfull */
    const bt_item *mid = &w->items[m];
    uint32_t nlen = branch ? mid->klen
                           : bt_sep_len(mid[-1].key, mid[-1].klen, mid->key, mid->klen);
    if (nlen > BT_KEY_MAX)
        return CD_ECORRUPT;
    memcpy(nsep, mid->key, nlen);
    int rc;
    if (branch)
        rc = bt_page_build(pg, pr->right, pr->rpgno, type, mid + 1, n - m - 1, raux);
    else
        rc = bt_page_build(pg, pr->right, pr->rpgno, type, mid, n - m, 0);
    if (rc == 0)
        rc = bt_page_build(pg, pr->left, pr->lpgno, type, w->items, m,
                           branch ? mid->child : 0);
    if (rc)
        return rc;
    pg->ops->unpin(pg->ctx, pr->sibpage);
    pr->sibpage = NULL;
    /* The separator's cell keeps its child (left); only the key changes. */
    cd_page_cell_remove(w->path.f[pr->l - 1].page, pg->page_size, pr->sepidx);
    return bt_branch_insert(w, pr->l - 1, pr->sepidx, pr->lpgno, nsep, nlen);
}

/*
 * Rebalances the underfull page at level l (> 0) with a sibling (the left
 * one if it has one).  Sets *merged when the two became one and the parent
 * lost a cell.
 */
static int fix_underfull(bt_wctx *w, uint32_t l, int *merged) {
    uint32_t p = w->pg->page_size, n = 0, seplen, sib;
    bt_frame *fr = &w->path.f[l], *par = &w->path.f[l - 1];
    uint32_t i = par->idx, j = i > 0 ? i - 1 : i + 1;
    bt_pair pr = {.l = l, .sepidx = i > 0 ? i - 1 : i, .left_is_sib = i > 0};
    uint8_t sep[BT_KEY_MAX];
    const uint8_t *k = bt_cell_key(par->page, pr.sepidx, &seplen);
    *merged = 0;
    if (seplen > BT_KEY_MAX)
        return CD_ECORRUPT;
    memcpy(sep, k, seplen);
    int rc = bt_wctx_buffers(w);
    if (rc == 0)
        rc = sibling_dirty(w, l, j, &sib, &pr.sibpage);
    if (rc)
        return rc;
    pr.left = pr.left_is_sib ? pr.sibpage : fr->page;
    pr.right = pr.left_is_sib ? fr->page : pr.sibpage;
    pr.lpgno = pr.left_is_sib ? sib : fr->pgno;
    pr.rpgno = pr.left_is_sib ? fr->pgno : sib;
    memcpy(w->scratch, pr.left, p);
    memcpy(w->scratch + p, pr.right, p);
    uint32_t raux = cd_page_aux0(w->scratch + p);
    uint64_t total = 0;
    rc = items_of_pair(w, sep, seplen, &n);
    for (uint32_t t = 0; rc == 0 && t < n; t++)
        total += cd_page_cell_cost(w->items[t].len);
    if (rc == 0 && total <= bt_usable(p)) {
        rc = pair_merge(w, &pr, n, raux);
        *merged = rc == 0;
    } else if (rc == 0) {
        rc = pair_refill(w, &pr, n, raux);
    }
    if (pr.sibpage)
        w->pg->ops->unpin(w->pg->ctx, pr.sibpage);
    return rc;
}

/* Walks up from the leaf, fixing underfull pages. */
static int rebalance(bt_wctx *w) {
    for (uint32_t l = w->path.depth - 1;; l--) {
        if (l == 0)
            return fix_root(w);
        if (!bt_underfull(w->path.f[l].page, w->pg->page_size))
            return 0;
        int merged;
        int rc = fix_underfull(w, l, &merged);
        if (rc || !merged)
            return rc;
    }
}

int bt_del(const bt_pager *pager, bt_tree *tree, const void *key, uint32_t klen) {
    if (!pager || !tree)
        return CD_EINVAL;
    int rc = bt_key_check(key, klen), exact;
    if (rc)
        return rc;
    if (tree->root == 0)
        return CD_ENOTFOUND;
    tree->append_leaf = 0; /* a merge may free the rightmost leaf */
    bt_wctx w = {.pg = pager, .tree = tree};
    rc = bt_descend(pager, tree->root, key, klen, 0, &w.path, &exact);
    if (rc)
        return rc;
    if (!exact) {
        rc = CD_ENOTFOUND;
        goto out;
    }
    bt_frame *leaf = &w.path.f[w.path.depth - 1];
    cd_leaf_cell c;
    cd_leaf_cell_get(leaf->page, leaf->idx, &c);
    uint32_t ovf = c.ovf_pgno, vlen = c.vlen;
    if ((rc = bt_path_dirty(&w)) != 0)
        goto out;
    cd_page_cell_remove(leaf->page, pager->page_size, leaf->idx);
    rc = rebalance(&w);
    bt_path_release(pager, &w.path);
    if (rc == 0 && ovf)
        rc = bt_ovf_free(pager, ovf, vlen);
out:
    bt_wctx_release(&w);
    return rc;
}

/* Frees the subtree at pgno, children first.  anc[0, depth) are the pages
 * above it, to stop at a cycle. */
static int drop_page(const bt_pager *pg, uint32_t pgno, uint32_t depth,
                     uint32_t *anc) {
    const uint8_t *page;
    for (uint32_t i = 0; i < depth; i++)
        if (anc[i] == pgno)
            return CD_ECORRUPT;
    if (depth == BT_DEPTH_MAX)
        return CD_ECORRUPT;
    int rc = pg->ops->get(pg->ctx, pgno, CD_PAGE_MASK_TREE, &page);
    if (rc)
        return rc;
    anc[depth] = pgno;
    unsigned n = cd_page_n(page);
    if (cd_page_type(page) == CD_PAGE_BRANCH) {
        for (unsigned i = 0; i <= n && rc == 0; i++)
            rc = drop_page(pg, cd_branch_child(page, i), depth + 1, anc);
    } else {
        for (unsigned i = 0; i < n && rc == 0; i++) {
            cd_leaf_cell c;
            cd_leaf_cell_get(page, i, &c);
            if (c.ovf_pgno)
                rc = bt_ovf_free(pg, c.ovf_pgno, c.vlen);
        }
    }
    pg->ops->unpin(pg->ctx, page);
    return rc ? rc : pg->ops->free(pg->ctx, pgno);
}

int bt_drop(const bt_pager *pager, bt_tree *tree) {
    if (!pager || !tree)
        return CD_EINVAL;
    if (tree->root == 0)
        return 0;
    uint32_t anc[BT_DEPTH_MAX];
    int rc = drop_page(pager, tree->root, 0, anc);
    if (rc == 0)
        tree->root = 0;
    tree->append_leaf = 0;
    return rc;
}
