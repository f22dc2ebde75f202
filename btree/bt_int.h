/*
 * bt_int.h: what the btree's files share and nothing outside btree/ sees:
 * the root-to-leaf path a write works on, the write context, the "item"
 * list pages are rebuilt from when they split, merge or refill, and the
 * helpers over overflow chains.
 *
 * Pin discipline: every page pointer in a bt_frame is pinned exactly once
 * and released by bt_path_release() (or set to NULL by whoever unpinned it
 * earlier).  A page is written only after it has been made dirty
 * (ops->dirty or ops->alloc); pages obtained with ops->get are read-only.
 */
#ifndef ISLE_BT_INT_H
#define ISLE_BT_INT_H

#include "bt.h"

/* A page is underfull when its cells and slots use less than this share of
 * the usable space (page_size - header): it is then merged with a sibling
 * or refilled from one. */
#define BT_FILL_MIN_DIV 4u

/* One level of a root-to-leaf path. */
typedef struct bt_frame {
    uint32_t pgno;
    uint32_t idx;        /* branch: child index taken (n = rightmost); leaf: slot */
    uint8_t *page;       /* pinned, or NULL; writable only if .writable */
    int writable;        /* 1 once the page came from dirty/alloc */
} bt_frame;

typedef struct bt_path {
    uint32_t depth;      /* frames in use; f[depth - 1] is the leaf */
    bt_frame f[BT_DEPTH_MAX];
} bt_path;

/* A cell to place on a rebuilt page.  Leaf items are copied byte for byte
 * from .cell; branch items are re-encoded from child and key (so a
 * separator pulled down from a parent can take a new child). */
typedef struct bt_item {
    const uint8_t *key;
    uint32_t klen;
    uint32_t len;        /* encoded cell length */
    const uint8_t *cell; /* leaf: the encoded cell */
    uint32_t child;      /* branch: child page */
} bt_item;

/* State of one write (put or del). */
typedef struct bt_wctx {
    const bt_pager *pg;
    bt_tree *tree;
    bt_path path;
    int append;          /* the key goes past the end of the rightmost leaf */
    uint8_t *scratch;    /* two page images, allocated on first need */
    bt_item *items;      /* room for the cells of two pages plus two */
} bt_wctx;

/* ---- bt_search.c: descent and page helpers ------------------------------ */

static inline uint32_t bt_usable(uint32_t page_size) {
    return page_size - CD_PAGE_HDR_SIZE;
}
/* 1 iff a page's cells use less than the minimum fill, or it has none. */
int bt_underfull(const uint8_t *page, uint32_t page_size);
/* Points child idx (n = the rightmost) of a writable branch at child. */
void bt_set_child(uint8_t *page, unsigned idx, uint32_t child);
/* Stamps pgno and the transaction id into a page about to be written. */
void bt_stamp(const bt_pager *pg, uint8_t *page, uint32_t pgno);
/* The key of cell idx of a branch or leaf page. */
const uint8_t *bt_cell_key(const uint8_t *page, unsigned idx, uint32_t *klen);
/* CD_EINVAL unless 1 <= klen <= BT_KEY_MAX (CD_ETOOBIG above it). */
int bt_key_check(const void *key, uint32_t klen);

/*
 * Descends from root to the leaf where key belongs, pinning every page
 * (read-only) into *path with the child index taken at each branch and,
 * at the leaf, the slot of the first key >= key (*exact set if equal).
 * CD_ECORRUPT past BT_DEPTH_MAX levels or when a child repeats a page of
 * the path.  On failure nothing stays pinned and path->depth is 0.
 * for_insert: each page is searched from its last key first (ascending
 * inserts then cost one compare per level).
 */
int bt_descend(const bt_pager *pg, uint32_t root, const void *key, uint32_t klen,
               int for_insert, bt_path *path, int *exact);
/* Unpins every page of the path; depth becomes 0. */
void bt_path_release(const bt_pager *pg, bt_path *path);
/* 1 iff pgno is one of the first `levels` pages of the path. */
int bt_path_has(const bt_path *path, uint32_t levels, uint32_t pgno);
/* Fills *out with the value of leaf cell c of page leaf, pinned by
 * the caller; for an inline value takes a new pin on the leaf (ops->pin). */
int bt_val_load(const bt_pager *pg, const uint8_t *leaf,
                const cd_leaf_cell *c, bt_val *out);

/* ---- bt_insert.c -------------------------------------------------------- */

/* Makes every page of the path writable (top-down copy-on-write),
 * re-pointing parents and tree->root at the copies. */
int bt_path_dirty(bt_wctx *w);
/* Allocates w->scratch and w->items if not yet done. */
int bt_wctx_buffers(bt_wctx *w);
void bt_wctx_release(bt_wctx *w);

/* ---- bt_split.c --------------------------------------------------------- */

/* Inserts an encoded leaf cell at the leaf's slot f[depth-1].idx,
 * splitting the leaf (and its ancestors) when it does not fit. */
int bt_leaf_insert(bt_wctx *w, const uint8_t *cell, uint32_t len,
                   const uint8_t *key, uint32_t klen);
/* Inserts branch cell (child, key) at slot idx of the branch at path
 * level `level`, splitting upward when it does not fit. */
int bt_branch_insert(bt_wctx *w, uint32_t level, uint32_t idx, uint32_t child,
                     const uint8_t *key, uint32_t klen);
/* Appends the cells of page to items[*n..], checking key order against the
 * item before; branch pages add no rightmost child (the caller does). */
int bt_items_add(const uint8_t *page, bt_item *items, uint32_t *n);
/*
 * Where n items divide between two pages of usable bytes.  Leaf: left
 * [0, m), right [m, n).  Branch: left [0, m), items[m] moves up, right
 * [m + 1, n).  append: the largest m that fits (the left page stays full);
 * otherwise the m that balances the two sides' bytes.  0 if none fits.
 */
uint32_t bt_split_point(const bt_item *items, uint32_t n, int branch,
                        uint32_t usable, int append);
/* Rebuilds page (pgno) as a type page holding items[0, n) (and, for a
 * branch, rightmost child aux0).  CD_ECORRUPT if they do not fit. */
int bt_page_build(const bt_pager *pg, uint8_t *page, uint32_t pgno, uint8_t type,
                  const bt_item *items, uint32_t n, uint32_t aux0);
/* Length of the shortest separator s with a < s <= b (a prefix of b). */
uint32_t bt_sep_len(const uint8_t *a, uint32_t alen, const uint8_t *b,
                    uint32_t blen);

/* ---- bt_overflow.c ------------------------------------------------------ */

/* Pages a value of vlen bytes takes on overflow pages. */
uint32_t bt_ovf_pages(uint32_t page_size, uint32_t vlen);
/* Writes val to a new chain of overflow pages; *first gets its head.  On
 * failure every page it allocated is freed again. */
int bt_ovf_write(const bt_pager *pg, const uint8_t *val, uint32_t vlen,
                 uint32_t *first);
/* Reads the vlen-byte value whose chain starts at first into a new
 * malloc'd buffer (*out; free() it).  CD_ECORRUPT if the chain's lengths
 * disagree with vlen. */
int bt_ovf_read(const bt_pager *pg, uint32_t first, uint32_t vlen, uint8_t **out);
/* Frees the chain of a vlen-byte value. */
int bt_ovf_free(const bt_pager *pg, uint32_t first, uint32_t vlen);

#endif /* ISLE_BT_INT_H */
