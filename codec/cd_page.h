/*
 * cd_page.h: the page format.  Every page of an isle file starts with the
 * same header; B+tree branch and leaf pages use a slotted layout after it,
 * overflow pages hold a slice of one large value, free-list pages hold page
 * numbers, and the two meta pages (0 and 1) describe the database.
 *
 * The functions here are pure: they encode, decode and validate bytes in
 * caller-owned buffers.  Validation trusts nothing: it never reads outside
 * [page, page + page_size) and rejects any inconsistency with CD_ECORRUPT.
 * The other accessors assume a page that validated (or that this process
 * built) and check their own bounds only with ISLE_ASSERT.
 *
 * FORMAT VERSION 1 (CD_FORMAT_VERSION; it also covers cd_record.h and
 * cd_key.h).  All integers little-endian.  Page size P is a power of two in
 * [4096, 65536], fixed when the database is created.
 *
 * Page header (every page type), 40 bytes:
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      1    page type: 'M' 0x4d meta, 'B' 0x42 branch, 'L' 0x4c leaf,
 *               'O' 0x4f overflow, 'F' 0x46 free list.  Zero is never valid,
 *               so a hole in a sparse file is never taken for a page.
 *   1      1    flags: must be zero in version 1
 *   2      2    n: cell count (branch, leaf), page-number count (free list),
 *               zero (meta, overflow)
 *   4      4    page number: where this page belongs in the file
 *   8      8    id of the transaction that wrote this page
 *   16     4    content start: offset of the lowest cell byte (branch, leaf;
 *               P when there are no cells); zero for the other types
 *   20     4    fragmented bytes: bytes between content start and P that no
 *               cell uses (branch, leaf); zero for the other types
 *   24     4    aux0: branch: rightmost child page; overflow, free list: the
 *               next page of the chain (0 = last); leaf, meta: zero
 *   28     4    aux1: overflow: data bytes in this page; others: zero
 *   32     8    checksum: XXH3-64, seeded with the page number, of all P
 *               bytes with these 8 bytes taken as zero
 *
 * Branch and leaf pages, after the header:
 *
 *   40          slot array: n x u16 cell offsets, in key order
 *   40+2n       free space
 *   start       cell content area, cells in any order, up to P
 *
 * A leaf cell:     varint klen | varint (vlen << 1 | ovf) | key[klen] |
 *                  ovf = 0: value[vlen]; ovf = 1: u32 first overflow page
 *                  (the value's vlen bytes are in that chain)
 * A branch cell:   u32 child page | varint klen | key[klen]
 *
 * In a branch, the subtree of child i holds keys k with key[i-1] <= k <
 * key[i]; the rightmost child (aux0) holds keys >= key[n-1].
 *
 * Overflow page:   bytes [40, 40 + aux1) are data; aux1 <= P - 40.
 * Free-list page:  n x u32 page numbers at 40; 40 + 4n <= P.
 * Meta page (0 and 1), after the header:
 *
 *   OFFSET SIZE DESCRIPTION
 *   40     8    file magic 69 73 6c 65 00 0d 0a 1a ("isle\0\r\n\x1a")
 *   48     4    format version (CD_FORMAT_VERSION)
 *   52     4    page size P
 *   56     8    id of the last transaction this meta includes
 *   64     4    page count: pages in use, meta pages included; the file
 *               may be longer (pages a large transaction that did not
 *               commit wrote past the end: unreferenced, reused)
 *   68     4    catalog tree root page (0 = empty)
 *   72     4    free-list head page (0 = none)
 *   76     4    free pages listed in the free list
 *   80     8    database id: random, fixed at creation
 *   88     8    next transaction id to assign (> meta txn id)
 *   96..P       zero
 *
 * A page is valid iff: P is a supported size; the type is known and is one
 * the caller accepts at that place; flags are zero; the stored page number
 * is the one the caller read; the checksum matches; and the type's layout
 * holds: for branch and leaf, 40 + 2n <= start <= P, every slot points
 * inside [start, P), every cell decodes inside the page, no two cells
 * overlap, cell bytes plus fragmented bytes equal P - start, keys are in
 * strictly ascending memcmp order, and branch children are >= 2 (never a
 * meta page) and never the page itself; for overflow, aux1 <= P - 40; for
 * free list, 40 + 4n <= P and every listed page is >= 2; for meta, the
 * magic, version and page size agree and the tail is zero.
 */
#ifndef ISLE_CD_PAGE_H
#define ISLE_CD_PAGE_H

#include "cd_base.h"
#include "cd_limits.h"

#define CD_FORMAT_VERSION 1u

#define CD_PAGE_HDR_SIZE 40u
#define CD_PAGE_OFF_TYPE 0u
#define CD_PAGE_OFF_FLAGS 1u
#define CD_PAGE_OFF_N 2u
#define CD_PAGE_OFF_PGNO 4u
#define CD_PAGE_OFF_TXN 8u
#define CD_PAGE_OFF_START 16u
#define CD_PAGE_OFF_FRAG 20u
#define CD_PAGE_OFF_AUX0 24u
#define CD_PAGE_OFF_AUX1 28u
#define CD_PAGE_OFF_CHECKSUM 32u
_Static_assert(CD_PAGE_OFF_CHECKSUM + 8 == CD_PAGE_HDR_SIZE,
               "page header is 40 bytes");

/* Page types, as stored in byte 0.  Written to disk: never renumber. */
enum cd_page_type {
    CD_PAGE_META = 0x4d,
    CD_PAGE_BRANCH = 0x42,
    CD_PAGE_LEAF = 0x4c,
    CD_PAGE_OVERFLOW = 0x4f,
    CD_PAGE_FREELIST = 0x46,
};
/* Bits for the type_mask argument of cd_page_validate(). */
#define CD_PAGE_MASK_META (1u << 0)
#define CD_PAGE_MASK_BRANCH (1u << 1)
#define CD_PAGE_MASK_LEAF (1u << 2)
#define CD_PAGE_MASK_OVERFLOW (1u << 3)
#define CD_PAGE_MASK_FREELIST (1u << 4)
#define CD_PAGE_MASK_TREE (CD_PAGE_MASK_BRANCH | CD_PAGE_MASK_LEAF)
#define CD_PAGE_MASK_ANY 0x1fu

/* Page numbers 0 and 1 are the two meta pages. */
#define CD_META_PGNO_A 0u
#define CD_META_PGNO_B 1u
#define CD_FIRST_DATA_PGNO 2u

/* ---- meta page -------------------------------------------------------- */

#define CD_META_MAGIC "isle\0\r\n\x1a"
#define CD_META_MAGIC_SIZE 8u
#define CD_META_OFF_MAGIC 40u
#define CD_META_OFF_VERSION 48u
#define CD_META_OFF_PAGE_SIZE 52u
#define CD_META_OFF_TXN 56u
#define CD_META_OFF_PAGE_COUNT 64u
#define CD_META_OFF_CATALOG 68u
#define CD_META_OFF_FREE_HEAD 72u
#define CD_META_OFF_FREE_COUNT 76u
#define CD_META_OFF_DB_ID 80u
#define CD_META_OFF_NEXT_TXN 88u
#define CD_META_END 96u
_Static_assert(CD_META_OFF_MAGIC == CD_PAGE_HDR_SIZE, "meta body follows header");
_Static_assert(CD_META_OFF_NEXT_TXN + 8 == CD_META_END, "meta body is 56 bytes");

typedef struct cd_meta {
    uint32_t version;
    uint32_t page_size;
    uint64_t txn;
    uint32_t page_count;
    uint32_t catalog_root;
    uint32_t free_head;
    uint32_t free_count;
    uint64_t db_id;
    uint64_t next_txn;
} cd_meta;

/*
 * Encodes *meta as meta page pgno (0 or 1) into page[0, meta->page_size)
 * and seals it.  Returns CD_EINVAL for an unsupported page size or pgno.
 */
int cd_meta_encode(uint8_t *page, uint32_t pgno, const cd_meta *meta);
/*
 * Validates page[0, page_size) as meta page pgno and decodes it.  Returns
 * CD_ECORRUPT for a damaged page (with *diag filled in when non-NULL).  The
 * version is decoded but not judged: the caller compares it with the
 * version it supports, so a newer file can be told apart from a damaged one.
 */
int cd_meta_decode(const uint8_t *page, uint32_t page_size, uint32_t pgno,
                   cd_meta *meta, cd_diag *diag);
/*
 * Looks at the first CD_META_END bytes of a file.  Returns 1 and sets
 * *page_size and *version if they start like an isle meta page (magic
 * present), 0 otherwise.  Used to tell "not an isle file" from "damaged".
 */
int cd_meta_sniff(const uint8_t *head, size_t len, uint32_t *page_size,
                  uint32_t *version);

/* ---- any page --------------------------------------------------------- */

/* 1 iff size is a power of two in [CD_PAGE_SIZE_MIN, CD_PAGE_SIZE_MAX]. */
int cd_page_size_valid(uint32_t size);

/* Zeroes page[0, size) and writes an empty header of the given type. */
void cd_page_init(uint8_t *page, uint32_t size, enum cd_page_type type,
                  uint32_t pgno, uint64_t txn);

/* The checksum of page[0, size) as it would be stored (field taken as 0). */
uint64_t cd_page_checksum(const uint8_t *page, uint32_t size);
/* Stores the page's checksum: the last step before a page is written. */
void cd_page_seal(uint8_t *page, uint32_t size);

/*
 * Full validation of page[0, size) read from page number pgno: checksum,
 * page number, type in type_mask, and the type's layout (see above).
 * Returns 0, CD_EINVAL (unsupported size or empty mask) or CD_ECORRUPT.
 */
int cd_page_validate(const uint8_t *page, uint32_t size, uint32_t pgno,
                     unsigned type_mask, cd_diag *diag);
/* The same without the checksum: for pages built in memory. */
int cd_page_check_layout(const uint8_t *page, uint32_t size, uint32_t pgno,
                         unsigned type_mask, cd_diag *diag);

static inline uint8_t cd_page_type(const uint8_t *p) { return p[0]; }
static inline uint16_t cd_page_n(const uint8_t *p) { return cd_get16(p + 2); }
static inline uint32_t cd_page_pgno(const uint8_t *p) { return cd_get32(p + 4); }
static inline uint64_t cd_page_txn(const uint8_t *p) { return cd_get64(p + 8); }
static inline uint32_t cd_page_aux0(const uint8_t *p) { return cd_get32(p + 24); }
static inline uint32_t cd_page_aux1(const uint8_t *p) { return cd_get32(p + 28); }
static inline void cd_page_set_pgno(uint8_t *p, uint32_t v) { cd_put32(p + 4, v); }
static inline void cd_page_set_txn(uint8_t *p, uint64_t v) { cd_put64(p + 8, v); }
static inline void cd_page_set_aux0(uint8_t *p, uint32_t v) { cd_put32(p + 24, v); }
static inline void cd_page_set_aux1(uint8_t *p, uint32_t v) { cd_put32(p + 28, v); }

/* ---- slotted pages (branch and leaf) ---------------------------------- */

/* The largest cell a page of this size accepts: at least 4 fit a page. */
static inline uint32_t cd_page_cell_max(uint32_t size) {
    return (size - CD_PAGE_HDR_SIZE) / 4 - 2;
}

/* Bytes a cell of cell_len would take including its slot. */
static inline uint32_t cd_page_cell_cost(uint32_t cell_len) {
    return cell_len + 2;
}
/* Free bytes: the gap between slots and content plus fragmented bytes. */
uint32_t cd_page_free(const uint8_t *page, uint32_t size);
/*
 * The bytes the page's layout leaves unused in one place: a branch's or
 * leaf's gap between its slot array and its cells, what follows an
 * overflow page's data or a free-list page's numbers.  *off and the
 * length, shrunk to whole aligned 8-byte words; 0 for a meta page, an
 * unknown type or a header whose fields put the gap outside the page.
 * A page keeps these bytes zero, but this reads only the header: a caller
 * that relies on their being zero checks them (cd_is_zero).
 */
uint32_t cd_page_unused(const uint8_t *page, uint32_t size, uint32_t *off);
/* Bytes used by cells and slots (the complement of cd_page_free). */
static inline uint32_t cd_page_used(const uint8_t *page, uint32_t size) {
    return size - CD_PAGE_HDR_SIZE - cd_page_free(page, size);
}

/* Offset of cell i within the page. */
static inline uint32_t cd_page_cell_off(const uint8_t *page, unsigned i) {
    return cd_get16(page + CD_PAGE_HDR_SIZE + 2 * i);
}

/*
 * Makes room for a cell of cell_len bytes at slot index idx (0 <= idx <= n),
 * shifting later slots up, and returns where the caller writes the cell's
 * bytes.  Compacts the page if the gap is too small but fragments would
 * make room.  Returns NULL, changing nothing, if the page cannot hold it.
 */
uint8_t *cd_page_cell_alloc(uint8_t *page, uint32_t size, unsigned idx,
                            uint32_t cell_len);
/* Removes cell idx; its bytes become fragmented space. */
void cd_page_cell_remove(uint8_t *page, uint32_t size, unsigned idx);
/* Rewrites the content area with no fragmented bytes, keeping slot order. */
void cd_page_compact(uint8_t *page, uint32_t size);

/* A decoded leaf cell; pointers are into the page. */
typedef struct cd_leaf_cell {
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val; /* inline value, or NULL when on overflow pages */
    uint32_t vlen;      /* the value's full length in either case */
    uint32_t ovf_pgno;  /* first overflow page, or 0 */
    uint32_t cell_len;  /* bytes the cell occupies */
} cd_leaf_cell;

typedef struct cd_branch_cell {
    const uint8_t *key;
    uint32_t klen;
    uint32_t child;
    uint32_t cell_len;
} cd_branch_cell;

/* Encoded size of a leaf cell (ovf: value is on overflow pages). */
uint32_t cd_leaf_cell_len(uint32_t klen, uint32_t vlen, int ovf);
/*
 * Writes a leaf cell to dst (cd_leaf_cell_len bytes).  When ovf_pgno is
 * non-zero the value lives on overflow pages and val is not read.
 */
void cd_leaf_cell_write(uint8_t *dst, const void *key, uint32_t klen,
                        const void *val, uint32_t vlen, uint32_t ovf_pgno);
uint32_t cd_branch_cell_len(uint32_t klen);
void cd_branch_cell_write(uint8_t *dst, uint32_t child, const void *key,
                          uint32_t klen);

/*
 * Decode cell i of a validated page.  The _parse variants decode a cell at
 * an untrusted offset and bound every read by [off, limit); the leaf one is
 * inline, as a cursor reading in place decodes one cell per step with it.
 */
void cd_leaf_cell_get(const uint8_t *page, unsigned i, cd_leaf_cell *out);
static inline int cd_leaf_cell_parse(const uint8_t *page, uint32_t off, uint32_t limit,
                                     cd_leaf_cell *out) {
    const uint8_t *p = page + off, *end = page + limit;
    uint64_t klen, vword;
    memset(out, 0, sizeof *out);
    size_t a = cd_varint_get(p, end, &klen);
    if (a == 0 || klen > CD_PAGE_SIZE_MAX)
        return CD_ECORRUPT;
    size_t b = cd_varint_get(p + a, end, &vword);
    if (b == 0 || (vword >> 1) > UINT32_MAX)
        return CD_ECORRUPT;
    uint64_t vlen = vword >> 1, body = (vword & 1) ? 4 : vlen;
    uint64_t len = a + b + klen + body;
    if (len > (uint64_t)(end - p))
        return CD_ECORRUPT;
    out->key = p + a + b;
    out->klen = (uint32_t)klen;
    out->vlen = (uint32_t)vlen;
    out->cell_len = (uint32_t)len;
    if (vword & 1) {
        out->val = NULL;
        out->ovf_pgno = cd_get32(out->key + klen);
        if (out->ovf_pgno < CD_FIRST_DATA_PGNO)
            return CD_ECORRUPT;
    } else {
        out->val = out->key + klen;
        out->ovf_pgno = 0;
    }
    return 0;
}

void cd_branch_cell_get(const uint8_t *page, unsigned i, cd_branch_cell *out);
int cd_branch_cell_parse(const uint8_t *page, uint32_t off, uint32_t limit,
                         cd_branch_cell *out);

/*
 * Binary search of a branch or leaf page for key.  Returns the index of the
 * first cell whose key is >= key (n if none) and sets *exact when equal.
 */
unsigned cd_page_search(const uint8_t *page, const void *key, uint32_t klen,
                        int *exact);
/*
 * The same for a page whose keys are known to lie in [lo, hi) (the
 * separators around it in its parent, as a descent finds them): the guess
 * is interpolated between those, so the page's first and last cells are
 * not read, one cache miss fewer on each page of a lookup.  The range only
 * steers the search: a page whose keys stray from it is still searched
 * right, at the cost of more compares.  r NULL, or either bound NULL, is
 * cd_page_search.
 */
typedef struct cd_key_range {
    const uint8_t *lo, *hi;
    uint32_t lolen, hilen;
} cd_key_range;
unsigned cd_page_search_within(const uint8_t *page, const void *key, uint32_t klen,
                               const cd_key_range *r, int *exact);
/* The same, trying the last key first: for inserts, which mostly come in
 * ascending order (one compare instead of a search); a lookup would pay a
 * cache miss for it. */
unsigned cd_page_search_append(const uint8_t *page, const void *key, uint32_t klen,
                               int *exact);
/* For a branch page: the child page to descend to for key. */
uint32_t cd_branch_child_for(const uint8_t *page, const void *key,
                             uint32_t klen);
/* Child i of a branch (i == n gives the rightmost child). */
uint32_t cd_branch_child(const uint8_t *page, unsigned i);

/* memcmp order of two byte strings, shorter first on a common prefix.
 * Inline, eight bytes at a time: it is the inner loop of every search. */
static inline int cd_key_cmp(const void *a, uint32_t alen, const void *b, uint32_t blen) {
    const uint8_t *pa = a, *pb = b;
    uint32_t n = alen < blen ? alen : blen;
    for (; n >= 8; n -= 8, pa += 8, pb += 8) {
        uint64_t x = cd_get64be(pa), y = cd_get64be(pb);
        if (x != y)
            return x < y ? -1 : 1;
    }
    for (; n; n--, pa++, pb++)
        if (*pa != *pb)
            return *pa < *pb ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}


/* ---- overflow and free-list pages ------------------------------------- */

static inline uint32_t cd_overflow_capacity(uint32_t size) {
    return size - CD_PAGE_HDR_SIZE;
}
static inline uint32_t cd_freelist_capacity(uint32_t size) {
    return (size - CD_PAGE_HDR_SIZE) / 4;
}
static inline uint32_t cd_freelist_get(const uint8_t *p, unsigned i) {
    return cd_get32(p + CD_PAGE_HDR_SIZE + 4 * i);
}
/* Appends pgno to a free-list page; returns CD_ENOMEM when full. */
int cd_freelist_push(uint8_t *page, uint32_t size, uint32_t pgno);

#endif /* ISLE_CD_PAGE_H */
