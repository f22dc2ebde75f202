/*
 * bt.h: the B+tree over pages, as the engine sees it.
 *
 * A tree maps keys (byte strings, 1..BT_KEY_MAX bytes, in memcmp order,
 * shorter first on a common prefix: cd_key_cmp) to values (0..
 * CD_RECORD_SIZE_MAX bytes).  Many trees live in one file; a tree is named
 * by its root page number alone (bt_tree), which the engine keeps in its
 * catalog.  Pages come from a page source (bt_pager), which the engine's
 * pager implements and tests implement in memory.  The tree is
 * copy-on-write: a write never changes a page an older snapshot can read,
 * it asks the source for a writable copy (ops->dirty) and re-points the
 * parent, so every write gives the tree a new root page number unless the
 * root is already dirty in this transaction.
 *
 * Pages are the codec's slotted branch/leaf pages and overflow pages
 * (codec/cd_page.h).  A value whose leaf cell would be larger than
 * bt_inline_cell_max() (= cd_page_cell_max(): about a quarter of the
 * page, so a leaf always keeps at least four cells) is stored on a chain of
 * overflow pages and the cell keeps only the first page number.
 *
 * Shape: a full page splits in two balanced by bytes, sending up the
 * shortest separator; when the key goes past the last key of the rightmost
 * leaf (ascending inserts, bulk loads of sequential ids) the split starts
 * a new right page instead, so pages end up full (bt_insert.c).  A page
 * whose cells use less than a quarter of its usable space after a delete
 * is merged with a sibling or refilled from it (bt_delete.c).
 *
 * Errors: every function returns 0 or a negative CD_* code.  The ones a
 * caller must expect are listed with each function; on top of those any
 * function that reads pages can return whatever the source's get / dirty /
 * alloc returned (CD_EIO, CD_ECORRUPT, CD_ENOMEM, ...) and CD_ECORRUPT
 * when pages that validated one by one do not form a sound tree (a child
 * deeper than BT_DEPTH_MAX, a cycle, an overflow chain of the wrong
 * length).  A write that fails with CD_EINVAL, CD_ETOOBIG, CD_EEXIST or
 * CD_ENOTFOUND has changed nothing.  Any other failure of a write may
 * leave the tree half-modified in the current transaction, which the
 * caller must then abort; pins are balanced on every path either way.
 *
 * Threads: the functions keep no global state.  Readers of committed
 * snapshots may run on any thread at once if the source's ops allow it;
 * writes happen in the single write transaction of the source.
 *
 * Uses codec/ only.
 */
#ifndef ISLE_BT_H
#define ISLE_BT_H

#include <stdint.h>

#include "cd_base.h"
#include "cd_limits.h"
#include "cd_page.h"

/* Longest key, in bytes.  A branch cell with a key this long (518 bytes)
 * still lets 7 cells fit a 4 KiB page, and a leaf cell holding it with
 * an overflow pointer stays below cd_page_cell_max(4096) = 1012. */
#define BT_KEY_MAX 512u
/* Deepest tree, root included.  A descent that has not met a leaf after
 * this many pages is walking a damaged file (or a cycle): CD_ECORRUPT.
 * With at least 3 children per branch this bounds no real tree. */
#define BT_DEPTH_MAX 20u
/* Largest value, in bytes. */
#define BT_VALUE_MAX CD_RECORD_SIZE_MAX

_Static_assert(4u + 2u + BT_KEY_MAX <= (4096u - CD_PAGE_HDR_SIZE) / 4 - 2,
               "a branch cell with the longest key fits 4 to a 4 KiB page");
_Static_assert(2u + 5u + BT_KEY_MAX + 4u <= (4096u - CD_PAGE_HDR_SIZE) / 4 - 2,
               "a leaf cell with the longest key and an overflow pointer fits");

/* The largest leaf cell kept inline; a larger one goes to overflow. */
static inline uint32_t bt_inline_cell_max(uint32_t page_size) {
    return cd_page_cell_max(page_size);
}

/* ---- the page source ---------------------------------------------------- */

typedef struct bt_pager_ops {
    /* Pins page pgno for reading; *page gets its page_size bytes, already
     * verified by the source (checksum, page number, type in type_mask, a
     * CD_PAGE_MASK_* set).  CD_ECORRUPT / CD_EIO on failure. */
    int (*get)(void *ctx, uint32_t pgno, unsigned type_mask, const uint8_t **page);
    /* Makes pgno writable in the current write transaction (copy-on-write).
     * If pgno is already dirty in this transaction it is returned as is
     * (*new_pgno = pgno).  Otherwise the source copies it to a newly
     * allocated page number, frees the old number (reusable only once no
     * snapshot can reach it) and returns the new number.  The result is
     * pinned. */
    int (*dirty)(void *ctx, uint32_t pgno, uint32_t *new_pgno, uint8_t **page);
    /* A new page, dirty in this transaction, pinned; its bytes are not
     * set: the caller starts it with cd_page_init. */
    int (*alloc)(void *ctx, uint32_t *pgno, uint8_t **page);
    /* Frees pgno (immediately reusable if it was allocated in this
     * transaction).  The btree never frees a page it holds pinned. */
    int (*free)(void *ctx, uint32_t pgno);
    /* Releases one pin taken by get/dirty/alloc.  The source may evict
     * (and, if dirty, spill) an unpinned page, so the btree never keeps a
     * page pointer after unpinning it. */
    void (*unpin)(void *ctx, const uint8_t *page);
    /* Takes one more pin on a page the caller holds pinned (from get, dirty
     * or alloc): the same bytes at the same address, released by one more
     * unpin.  Never fails and never reads. */
    void (*pin)(void *ctx, const uint8_t *page);
    /* Optional (NULL: never called).  An append split (bt_insert.c) has
     * filled page pgno, pinned now, and inserts in ascending order will
     * not write it again: the source may write it out once it is
     * unpinned.  It stays readable and writable as any page is: a later
     * write makes it dirty again. */
    void (*done)(void *ctx, uint32_t pgno);
    /* Optional (NULL: bt_put always descends).  Pins pgno and gives its
     * bytes if the current transaction already holds it writable (as
     * dirty would return it, same number); CD_ENOTFOUND, with nothing
     * done, if it does not. */
    int (*owned)(void *ctx, uint32_t pgno, uint8_t **page);
    /* Optional (NULL: never called).  A walk will read page pgno soon: the
     * source may start bringing its bytes toward the CPU.  A hint only:
     * it pins nothing, verifies nothing and cannot fail, and pgno may be
     * any number a branch names. */
    void (*ahead)(void *ctx, uint32_t pgno);
} bt_pager_ops;

/* page_size: the file's page size; txn: the id of the current write
 * transaction, stamped into every page the btree writes (the source seals
 * checksums when it writes pages out; the btree never does). */
typedef struct bt_pager {
    const bt_pager_ops *ops;
    void *ctx;
    uint32_t page_size;
    uint64_t txn;
} bt_pager;

/* ---- trees and values --------------------------------------------------- */

/*
 * A tree: its root page number, 0 for the empty tree.  append_leaf is
 * bt_put's note that this page is the tree's rightmost leaf and already
 * writable in the current transaction (0: not known), so that a key past
 * its last one goes straight there.  Start it at 0 in each transaction and
 * carry it from one bt_put or bt_del of the tree to the next (they keep
 * it true); drop it (0) when the tree changes any other way.
 */
typedef struct bt_tree {
    uint32_t root;
    uint32_t append_leaf;
} bt_tree;

/*
 * A value read from a tree.  data/len are the bytes; the other fields are
 * private.  An inline value points into its leaf page, which stays pinned
 * (zero copy); an overflow value is assembled into a heap buffer the
 * bt_val owns.  Either way the bytes stay valid and unchanged until
 * bt_val_release().  Values read inside the write transaction must be
 * released before that tree is written (the same rule as cursors, below:
 * a write may edit or free a dirty page the value pins).  Holding many
 * values pins many pages.
 */
typedef struct bt_val {
    const uint8_t *data;
    uint32_t len;
    const uint8_t *pin_;  /* leaf page pinned for an inline value, or NULL */
    uint8_t *heap_;       /* malloc'd buffer of an overflow value, or NULL */
} bt_val;

/* Releases a value's pin or buffer and zeroes it.  A zeroed (or already
 * released) bt_val is a no-op. */
void bt_val_release(const bt_pager *pager, bt_val *val);

/* ---- operations --------------------------------------------------------- */

/* Flags for bt_put. */
#define BT_NOOVERWRITE 0x1u

/*
 * Looks up key.  On success *out holds the value (release it with
 * bt_val_release).  Returns CD_ENOTFOUND if absent, CD_EINVAL for an empty
 * key or NULL arguments, CD_ETOOBIG for a key longer than BT_KEY_MAX,
 * CD_ENOMEM if an overflow value's buffer cannot be allocated.  *out is
 * zeroed on any failure.
 */
int bt_get(const bt_pager *pager, const bt_tree *tree, const void *key,
           uint32_t klen, bt_val *out);

/*
 * Inserts key -> val, or replaces the value of an existing key (freeing
 * its old overflow chain) unless flags has BT_NOOVERWRITE, in which case
 * an existing key gives CD_EEXIST and nothing changes.  Updates
 * tree->root.  Returns CD_ETOOBIG for a key longer than BT_KEY_MAX or a
 * value longer than BT_VALUE_MAX, CD_EINVAL for an empty key, NULL
 * arguments (val may be NULL when vlen is 0) or unknown flags, and
 * CD_ETOOBIG as well when the tree is already BT_DEPTH_MAX deep (then it
 * might have to grow past it).
 */
int bt_put(const bt_pager *pager, bt_tree *tree, const void *key, uint32_t klen,
           const void *val, uint32_t vlen, unsigned flags);

/* A key and its value, for bt_append_run. */
typedef struct bt_kv {
    const void *key;
    const void *val;
    uint32_t klen, vlen;
} bt_kv;

/*
 * The append fast path of bt_put for a run of puts: places kv[0], kv[1],
 * ... in tree->append_leaf (the rightmost leaf the last put appended to)
 * while each key is past the one before and its cell fits there inline,
 * and sets *placed to how many were placed.  It stops without an error
 * at the first it cannot place (no such leaf, a key out of order, a full
 * leaf, a bad argument): bt_put then places that one, or reports why not,
 * and notes the leaf it lands in for the next run.  What it places is what
 * bt_put would have placed (flags 0).
 */
int bt_append_run(const bt_pager *pager, bt_tree *tree, const bt_kv *kv, uint32_t n,
                  uint32_t *placed);

/*
 * Deletes key (and its overflow chain).  Pages that fall below a quarter of
 * their usable space are merged with or refilled from a sibling; a root
 * branch left with one child is replaced by it; deleting the last key
 * frees the root and sets tree->root to 0.  Returns CD_ENOTFOUND if
 * absent (nothing changes), CD_EINVAL / CD_ETOOBIG for a bad key as bt_get.
 */
int bt_del(const bt_pager *pager, bt_tree *tree, const void *key, uint32_t klen);

/* Frees every page of the tree (branches, leaves, overflow chains) and
 * sets tree->root to 0.  On a failure part of the tree may already be
 * freed: abort the transaction. */
int bt_drop(const bt_pager *pager, bt_tree *tree);

/* What bt_stat counts (for `isle stat`).  *_bytes_used are cell and slot
 * bytes (branch, leaf) or data bytes (overflow); the usable space of a
 * branch or leaf page is page_size - CD_PAGE_HDR_SIZE. */
typedef struct bt_stats {
    uint32_t depth;           /* levels: 0 empty, 1 a root leaf */
    uint64_t branch_pages;
    uint64_t leaf_pages;
    uint64_t overflow_pages;
    uint64_t entries;
    uint64_t overflow_values; /* entries whose value is on overflow pages */
    uint64_t branch_bytes_used;
    uint64_t leaf_bytes_used;
    uint64_t overflow_bytes_used;
    uint64_t bytes_used;      /* the sum of the three */
} bt_stats;

/* Walks the whole tree (verifying it as bt_check does) and fills *st. */
int bt_stat(const bt_pager *pager, const bt_tree *tree, bt_stats *st);

/*
 * Verifies the whole tree: each page's layout (cd_page_check_layout), key
 * order within and across pages, every key of child i within its parent's
 * separator bounds, all leaves at one depth, no depth beyond BT_DEPTH_MAX,
 * no page reached twice on one root-to-leaf path, no empty leaf except
 * none at all, keys of 1..BT_KEY_MAX bytes, values of at most
 * BT_VALUE_MAX bytes, and every overflow chain exactly as long as its
 * value (sum of aux1 == vlen, no empty or extra pages).  Calls visit (if
 * not NULL) once for every page reached, in depth-first order, so the
 * caller can check that each page is reachable exactly once.  The first
 * problem gives CD_ECORRUPT, with *diag (what, line, offset within the
 * page) and *bad_pgno set when not NULL; a source error (CD_EIO, ...) is
 * returned as is with *bad_pgno naming the page being read.
 */
int bt_check(const bt_pager *pager, const bt_tree *tree,
             void (*visit)(void *arg, uint32_t pgno, uint8_t type), void *arg,
             cd_diag *diag, uint32_t *bad_pgno);

/* ---- cursors ------------------------------------------------------------ */

/*
 * A cursor walks a tree in key order.  It keeps the path from the root to
 * its current leaf as a stack of (page, index) and holds a pin on each of
 * those pages while it is positioned (at most BT_DEPTH_MAX pins); it
 * climbs and descends that stack to cross pages, so no sibling pointers
 * are needed.  It reads the tree whose root it was opened on.
 *
 * Rule: close every cursor on a tree before writing to that tree (put,
 * del, drop) in the same transaction.  A write edits pages dirty in the
 * transaction in place and may free them, so a cursor left open across
 * it would hold stale positions and pins on freed pages.  To keep walking
 * while writing, copy the cursor's key, close it, write, then reopen the
 * cursor on the new root and seek.  Writes to other trees do not affect a
 * cursor, and cursors on committed snapshots are never affected.
 *
 * Movement: first/last/seek return CD_ENOTFOUND (and leave the cursor
 * unpositioned) on an empty tree or, for seek, when every key is below
 * the target.  next/prev return CD_ENOTFOUND past either end and leave the
 * cursor where it was, so prev after a failed next gives the entry before
 * the last.  next/prev/key/value on an unpositioned cursor return
 * CD_EINVAL.  On any other error the cursor stays where it was.
 */
typedef struct bt_cursor_frame {
    uint32_t pgno;
    uint32_t idx;          /* branch: child index taken; leaf: cell index */
    const uint8_t *page;   /* pinned */
} bt_cursor_frame;

typedef struct bt_cursor {
    const bt_pager *pager;
    uint32_t root;
    uint32_t depth;        /* frames in use; 0 = unpositioned */
    bt_cursor_frame f[BT_DEPTH_MAX];
} bt_cursor;

/* Opens an unpositioned cursor on tree's current root (no pins yet).
 * CD_EINVAL for NULL arguments. */
int bt_cursor_open(const bt_pager *pager, const bt_tree *tree, bt_cursor *cur);
/* Releases the cursor's pins.  Safe on a closed or unpositioned cursor. */
void bt_cursor_close(bt_cursor *cur);
int bt_cursor_first(bt_cursor *cur);
int bt_cursor_last(bt_cursor *cur);
/* Positions on the first key >= key (CD_EINVAL for a bad key length). */
int bt_cursor_seek(bt_cursor *cur, const void *key, uint32_t klen);
int bt_cursor_next(bt_cursor *cur);
int bt_cursor_prev(bt_cursor *cur);
/* The current key: points into a pinned page, valid until the cursor
 * moves or closes. */
int bt_cursor_key(const bt_cursor *cur, const uint8_t **key, uint32_t *klen);
/* The current value, with bt_get's lifetime rules (independent of the
 * cursor: release it with bt_val_release). */
int bt_cursor_value(const bt_cursor *cur, bt_val *out);
/*
 * The current key and value in one parse of the cell, taking no pin: all
 * pointers are into the leaf the cursor holds pinned, valid until the
 * cursor moves or closes (and, in the write transaction, until the tree
 * is written).  *vlen is the value's length; *val is NULL when the value
 * is stored on overflow pages, which only bt_cursor_value reads.  CD_EINVAL
 * for NULL arguments or an unpositioned cursor.
 */
int bt_cursor_peek(const bt_cursor *cur, const uint8_t **key, uint32_t *klen,
                   const uint8_t **val, uint32_t *vlen);

/*
 * Walks from the current entry in direction dir (+1 or -1), calling
 * fn(arg, &e) for it and each entry after it, until fn returns non-zero
 * (returned; the cursor stays on that entry) or the walk passes the
 * tree's end (CD_ENOTFOUND; the cursor stays on the last entry).  e's key
 * and value point into the leaf, as bt_cursor_peek gives them, except a
 * value stored on overflow pages: the walk reads it into memory of its
 * own, freed when fn returns.  The cursor is on each entry while fn runs,
 * so fn may read it with bt_cursor_key and bt_cursor_value, but must not
 * move it.  A scan's loop: it crosses each leaf's cells without a call per
 * entry.  CD_EINVAL for NULL, a dir other than +1 or -1, or an
 * unpositioned cursor; the overflow read's CD_ENOMEM, CD_ECORRUPT, CD_EIO.
 */
typedef struct bt_entry {
    const uint8_t *key, *val; /* both valid while fn runs */
    uint32_t klen, vlen;
} bt_entry;
typedef int (*bt_each_fn)(void *arg, const bt_entry *e);
int bt_cursor_each(bt_cursor *cur, int dir, bt_each_fn fn, void *arg);

#endif /* ISLE_BT_H */
