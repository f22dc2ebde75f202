/*
 * cd_page.c: the page header and its seal (the checksum itself is in
 * cd_sum.c), the slotted layout of branch and leaf pages (cell allocation,
 * removal, compaction, search), and the overflow and free-list containers.
 * Validation of untrusted pages and the meta page live in cd_page_check.c.
 * Pure functions over caller buffers.
 */
#include "cd_page.h"

int cd_page_size_valid(uint32_t size) {
    return size >= CD_PAGE_SIZE_MIN && size <= CD_PAGE_SIZE_MAX &&
           (size & (size - 1)) == 0;
}

void cd_page_init(uint8_t *page, uint32_t size, enum cd_page_type type,
                  uint32_t pgno, uint64_t txn) {
    ISLE_ASSERT(cd_page_size_valid(size));
    memset(page, 0, size);
    page[CD_PAGE_OFF_TYPE] = (uint8_t)type;
    cd_put32(page + CD_PAGE_OFF_PGNO, pgno);
    cd_put64(page + CD_PAGE_OFF_TXN, txn);
    if (type == CD_PAGE_BRANCH || type == CD_PAGE_LEAF)
        cd_put32(page + CD_PAGE_OFF_START, size);
}

/* The field zeroed first, the page's checksum is XXH3 of the page as it
 * lies: one pass, without the streaming state cd_page_checksum needs to
 * skip the field of a page it may not write (a fifth less time over a
 * 4 KiB page). */
void cd_page_seal(uint8_t *page, uint32_t size) {
    cd_put64(page + CD_PAGE_OFF_CHECKSUM, 0);
    cd_put64(page + CD_PAGE_OFF_CHECKSUM, cd_hash64(page, size, cd_page_pgno(page)));
}

/* ---- slotted pages ---------------------------------------------------- */

static uint32_t page_start(const uint8_t *p) { return cd_get32(p + CD_PAGE_OFF_START); }
static uint32_t page_frag(const uint8_t *p) { return cd_get32(p + CD_PAGE_OFF_FRAG); }
static uint32_t slots_end(const uint8_t *p) {
    return CD_PAGE_HDR_SIZE + 2u * cd_page_n(p);
}

uint32_t cd_page_free(const uint8_t *page, uint32_t size) {
    (void)size;
    return page_start(page) - slots_end(page) + page_frag(page);
}

uint32_t cd_page_unused(const uint8_t *page, uint32_t size, uint32_t *off) {
    uint64_t lo, hi = size;
    switch (cd_page_type(page)) {
    case CD_PAGE_BRANCH:
    case CD_PAGE_LEAF:
        lo = slots_end(page);
        hi = page_start(page);
        break;
    case CD_PAGE_OVERFLOW:
        lo = (uint64_t)CD_PAGE_HDR_SIZE + cd_get32(page + CD_PAGE_OFF_AUX1);
        break;
    case CD_PAGE_FREELIST:
        lo = CD_PAGE_HDR_SIZE + 4u * (uint64_t)cd_page_n(page);
        break;
    default:
        return 0;
    }
    lo = (lo + 7) & ~(uint64_t)7;
    hi &= ~(uint64_t)7;
    if (hi > size || lo >= hi)
        return 0;
    *off = (uint32_t)lo;
    return (uint32_t)(hi - lo);
}

static uint32_t leaf_cell_len_at(const uint8_t *page, uint32_t off) {
    cd_leaf_cell c;
    int rc = cd_leaf_cell_parse(page, off, UINT32_MAX, &c);
    ISLE_VERIFY(rc == 0);
    return c.cell_len;
}

static uint32_t cell_len_at(const uint8_t *page, uint32_t off) {
    if (cd_page_type(page) == CD_PAGE_LEAF)
        return leaf_cell_len_at(page, off);
    cd_branch_cell c;
    int rc = cd_branch_cell_parse(page, off, UINT32_MAX, &c);
    ISLE_VERIFY(rc == 0);
    return c.cell_len;
}

void cd_page_compact(uint8_t *page, uint32_t size) {
    /* Cells are copied to a scratch image in slot order, packed against
     * the end of the page, then copied back: simple and obviously right. */
    uint8_t scratch[CD_PAGE_SIZE_MAX];
    unsigned n = cd_page_n(page);
    uint32_t top = size;
    for (unsigned i = 0; i < n; i++) {
        uint32_t off = cd_page_cell_off(page, i);
        uint32_t len = cell_len_at(page, off);
        top -= len;
        memcpy(scratch + top, page + off, len);
        cd_put16(page + CD_PAGE_HDR_SIZE + 2 * i, (uint16_t)top);
    }
    memcpy(page + top, scratch + top, size - top);
    memset(page + slots_end(page), 0, top - slots_end(page));
    cd_put32(page + CD_PAGE_OFF_START, top);
    cd_put32(page + CD_PAGE_OFF_FRAG, 0);
}

uint8_t *cd_page_cell_alloc(uint8_t *page, uint32_t size, unsigned idx,
                            uint32_t cell_len) {
    unsigned n = cd_page_n(page);
    ISLE_ASSERT(idx <= n);
    if (cell_len == 0 || cd_page_free(page, size) < cell_len + 2 || n == 0xffff)
        return NULL;
    if (page_start(page) - slots_end(page) < cell_len + 2)
        cd_page_compact(page, size);
    uint32_t off = page_start(page) - cell_len;
    uint8_t *slots = page + CD_PAGE_HDR_SIZE;
    if (idx < n) /* not an append: the later slots move up */
        memmove(slots + 2 * (idx + 1), slots + 2 * idx, 2u * (n - idx));
    cd_put16(slots + 2 * idx, (uint16_t)off);
    cd_put16(page + CD_PAGE_OFF_N, (uint16_t)(n + 1));
    cd_put32(page + CD_PAGE_OFF_START, off);
    return page + off;
}

void cd_page_cell_remove(uint8_t *page, uint32_t size, unsigned idx) {
    unsigned n = cd_page_n(page);
    ISLE_ASSERT(idx < n);
    uint32_t off = cd_page_cell_off(page, idx);
    uint32_t len = cell_len_at(page, off);
    uint8_t *slots = page + CD_PAGE_HDR_SIZE;
    memmove(slots + 2 * idx, slots + 2 * (idx + 1), 2u * (n - idx - 1));
    cd_put16(slots + 2 * (n - 1), 0);
    cd_put16(page + CD_PAGE_OFF_N, (uint16_t)(n - 1));
    if (off == page_start(page)) {
        cd_put32(page + CD_PAGE_OFF_START, off + len);
        memset(page + off, 0, len);
    } else {
        cd_put32(page + CD_PAGE_OFF_FRAG, page_frag(page) + len);
    }
    if (n == 1) { /* an empty page owns no fragments */
        memset(page + CD_PAGE_HDR_SIZE, 0, size - CD_PAGE_HDR_SIZE);
        cd_put32(page + CD_PAGE_OFF_START, size);
        cd_put32(page + CD_PAGE_OFF_FRAG, 0);
    }
}

/* ---- cells ------------------------------------------------------------ */

uint32_t cd_leaf_cell_len(uint32_t klen, uint32_t vlen, int ovf) {
    return (uint32_t)(cd_varint_len(klen) + cd_varint_len((uint64_t)vlen << 1)) +
           klen + (ovf ? 4u : vlen);
}

void cd_leaf_cell_write(uint8_t *dst, const void *key, uint32_t klen,
                        const void *val, uint32_t vlen, uint32_t ovf_pgno) {
    size_t n = cd_varint_put(dst, klen);
    n += cd_varint_put(dst + n, (uint64_t)vlen << 1 | (ovf_pgno != 0));
    memcpy(dst + n, key, klen);
    n += klen;
    if (ovf_pgno)
        cd_put32(dst + n, ovf_pgno);
    else if (vlen)
        memcpy(dst + n, val, vlen);
}

uint32_t cd_branch_cell_len(uint32_t klen) {
    return 4u + (uint32_t)cd_varint_len(klen) + klen;
}

void cd_branch_cell_write(uint8_t *dst, uint32_t child, const void *key,
                          uint32_t klen) {
    cd_put32(dst, child);
    size_t n = 4 + cd_varint_put(dst + 4, klen);
    memcpy(dst + n, key, klen);
}

int cd_branch_cell_parse(const uint8_t *page, uint32_t off, uint32_t limit,
                         cd_branch_cell *out) {
    const uint8_t *p = page + off, *end = page + limit;
    uint64_t klen;
    memset(out, 0, sizeof *out);
    if (end - p < 5)
        return CD_ECORRUPT;
    size_t a = cd_varint_get(p + 4, end, &klen);
    if (a == 0 || klen > (uint64_t)(end - p) - 4 - a)
        return CD_ECORRUPT;
    out->child = cd_get32(p);
    out->key = p + 4 + a;
    out->klen = (uint32_t)klen;
    out->cell_len = (uint32_t)(4 + a + klen);
    return 0;
}

void cd_leaf_cell_get(const uint8_t *page, unsigned i, cd_leaf_cell *out) {
    if (cd_page_n(page) == 0) {
        memset(out, 0, sizeof *out);
        return;
    }
    int rc = cd_leaf_cell_parse(page, cd_page_cell_off(page, i), UINT32_MAX, out);
    ISLE_ASSERT(rc == 0);
    (void)rc;
}

void cd_branch_cell_get(const uint8_t *page, unsigned i, cd_branch_cell *out) {
    int rc = cd_branch_cell_parse(page, cd_page_cell_off(page, i), UINT32_MAX, out);
    ISLE_ASSERT(rc == 0);
    (void)rc;
}

/* ---- search ----------------------------------------------------------- */

/* The key of cell i, for either slotted type. */
static const uint8_t *cell_key(const uint8_t *page, unsigned i, uint32_t *klen) {
    const uint8_t *p = page + cd_page_cell_off(page, i);
    uint64_t k = 0;
    size_t a;
    if (cd_page_type(page) == CD_PAGE_BRANCH) {
        a = cd_varint_get(p + 4, p + 4 + CD_VARINT_MAX, &k);
        *klen = (uint32_t)k;
        return p + 4 + a;
    }
    a = cd_varint_get(p, p + CD_VARINT_MAX, &k);
    size_t b = 0;
    while (p[a + b] & 0x80)
        b++;
    *klen = (uint32_t)k;
    return p + a + b + 1;
}

/* Keys within a page are unique, so an equal key ends the search. */
static unsigned search_range(const uint8_t *page, unsigned lo, unsigned hi, const void *key,
                             uint32_t klen, int *exact) {
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        uint32_t mlen;
        const uint8_t *mkey = cell_key(page, mid, &mlen);
        int c = cd_key_cmp(mkey, mlen, key, klen);
        if (c == 0) {
            *exact = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The eight bytes of a key from offset at, big-endian, zeros past its end. */
static uint64_t key_word(const uint8_t *k, uint32_t klen, uint32_t at) {
    uint8_t b[8] = {0};
    if (at < klen)
        memcpy(b, k + at, klen - at < 8 ? klen - at : 8);
    return cd_get64be(b);
}

/* Compares cell i with key; an equal key ends the search at i. */
#define PROBE(i, c)                                                                \
    do {                                                                           \
        uint32_t plen_;                                                            \
        const uint8_t *pk_ = cell_key(page, (i), &plen_);                          \
        (c) = cd_key_cmp(pk_, plen_, key, klen);                                   \
        if ((c) == 0) {                                                            \
            *exact = 1;                                                            \
            return (i);                                                            \
        }                                                                          \
    } while (0)

/* Where key's place is guessed to be, lo <= key <= hi spread over span
 * cells from the one holding lo: interpolated on the eight bytes after
 * lo's and hi's common prefix, clamped to [min, max]; the middle when the
 * keys give nothing to interpolate on. */
static unsigned guess(const uint8_t *lo, uint32_t lolen, const uint8_t *hi, uint32_t hilen,
                      const void *key, uint32_t klen, unsigned span, unsigned min,
                      unsigned max) {
    uint32_t cp = 0, m = lolen < hilen ? lolen : hilen;
    while (cp < m && lo[cp] == hi[cp])
        cp++;
    uint64_t f = key_word(lo, lolen, cp), l = key_word(hi, hilen, cp);
    uint64_t k = key_word(key, klen, cp);
    if (!(l > f && k >= f && k <= l))
        return min + (max - min) / 2;
    double at = (double)(k - f) / (double)(l - f) * (double)span + 0.5;
    return at < (double)min ? min : at > (double)max ? max : (unsigned)at;
}

/* Finds key's place in [lo, hi] starting at cell g (lo <= g < hi):
 * gallops from g until the place is bracketed, then bisects. */
static unsigned gallop(const uint8_t *page, const void *key, uint32_t klen, unsigned g,
                       unsigned lo, unsigned hi, int *exact) {
    int c;
    PROBE(g, c);
    if (c < 0) { /* the place is above g */
        lo = g + 1;
        for (unsigned step = 1; lo + step - 1 < hi; step *= 2) {
            unsigned p = lo + step - 1;
            PROBE(p, c);
            if (c > 0) {
                hi = p;
                break;
            }
            lo = p + 1;
        }
    } else { /* at or below g */
        hi = g;
        for (unsigned step = 1; hi >= lo + step; step *= 2) {
            unsigned p = hi - step;
            PROBE(p, c);
            if (c < 0) {
                lo = p + 1;
                break;
            }
            hi = p;
        }
    }
    return search_range(page, lo, hi, key, klen, exact);
}

/*
 * Most pages hold keys spread about evenly between their first and last
 * (ids above all), so the search guesses the position by interpolating on
 * the eight bytes after the common prefix of the first and last keys,
 * gallops from the guess until the key is bracketed, and bisects what is
 * left.  Evenly spread keys cost three cells (first, last, guess) instead
 * of log2(n), each a likely cache miss; any other spread costs at most
 * about twice the bisection's compares.
 */
unsigned cd_page_search(const uint8_t *page, const void *key, uint32_t klen,
                        int *exact) {
    unsigned n = cd_page_n(page);
    int c;
    *exact = 0;
    if (n < 8)
        return search_range(page, 0, n, key, klen, exact);
    uint32_t flen, llen;
    const uint8_t *first = cell_key(page, 0, &flen);
    const uint8_t *last = cell_key(page, n - 1, &llen);
    if ((c = cd_key_cmp(first, flen, key, klen)) >= 0) {
        *exact = c == 0;
        return 0;
    }
    if ((c = cd_key_cmp(last, llen, key, klen)) <= 0) {
        *exact = c == 0;
        return c == 0 ? n - 1 : n;
    }
    /* first < key < last: its place is in [1, n - 1] */
    unsigned g = guess(first, flen, last, llen, key, klen, n - 1, 1, n - 2);
    return gallop(page, key, klen, g, 1, n - 1, exact);
}

unsigned cd_page_search_within(const uint8_t *page, const void *key, uint32_t klen,
                               const cd_key_range *r, int *exact) {
    unsigned n = cd_page_n(page);
    if (!r || !r->lo || !r->hi || n < 8)
        return cd_page_search(page, key, klen, exact);
    *exact = 0;
    /* hi is past the last cell: n cells span [lo, hi) */
    unsigned g = guess(r->lo, r->lolen, r->hi, r->hilen, key, klen, n, 0, n - 1);
    return gallop(page, key, klen, g, 0, n, exact);
}
#undef PROBE

unsigned cd_page_search_append(const uint8_t *page, const void *key, uint32_t klen,
                               int *exact) {
    unsigned n = cd_page_n(page);
    *exact = 0;
    if (n > 0) { /* ascending inserts land past the last key: one compare */
        uint32_t llen;
        const uint8_t *last = cell_key(page, n - 1, &llen);
        if (cd_key_cmp(last, llen, key, klen) < 0)
            return n;
    }
    return search_range(page, 0, n, key, klen, exact);
}

uint32_t cd_branch_child(const uint8_t *page, unsigned i) {
    if (i >= cd_page_n(page))
        return cd_page_aux0(page);
    return cd_get32(page + cd_page_cell_off(page, i));
}

uint32_t cd_branch_child_for(const uint8_t *page, const void *key,
                             uint32_t klen) {
    int exact;
    unsigned i = cd_page_search(page, key, klen, &exact);
    /* Child i holds keys below key[i]; a key equal to key[i] belongs to
     * child i + 1. */
    return cd_branch_child(page, exact ? i + 1 : i);
}

/* ---- free list -------------------------------------------------------- */

int cd_freelist_push(uint8_t *page, uint32_t size, uint32_t pgno) {
    unsigned n = cd_page_n(page);
    if (n >= cd_freelist_capacity(size))
        return CD_ENOMEM;
    cd_put32(page + CD_PAGE_HDR_SIZE + 4 * n, pgno);
    cd_put16(page + CD_PAGE_OFF_N, (uint16_t)(n + 1));
    return 0;
}
