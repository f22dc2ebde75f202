/*
 * test_wal_recovery.c: what wal_open makes of damaged logs.  A log cut at
 * every byte offset across its last transactions reopens to exactly the
 * last fully committed state; a flipped bit in a committed frame in the
 * middle of the log is CD_ECORRUPT at that frame's offset, while one in
 * the last frames is a torn tail; header copies, versions, page sizes and
 * files that are not logs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "wal_tutil.h"

#include <stdlib.h>

#define NTXN 8

typedef struct built {
    testvfs *t;
    uint8_t *img;
    size_t len;      /* the log's end: the image without its growth */
    size_t file_len; /* the whole file: the log, then zeros */
    tu_state st[NTXN + 1];
    uint64_t end[NTXN + 1]; /* log end after txn k */
} built;

/* Builds a log of NTXN transactions, each synced. */
static void build(built *b, int level, unsigned maxpages) {
    memset(b, 0, sizeof *b);
    b->t = testvfs_new(77);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(b->t), level, &w, NULL), 0);
    uint64_t rng = 1234;
    b->end[0] = wal_size_bytes(w);
    for (unsigned k = 1; k <= NTXN; k++) {
        b->st[k] = b->st[k - 1];
        cr_assert_eq(tu_txn(w, &b->st[k], k, maxpages, &rng), 0);
        cr_assert_eq(wal_sync(w), 0);
        b->end[k] = wal_size_bytes(w);
    }
    cr_assert_eq(wal_close(w), 0);
    b->img = testvfs_file_get(b->t, TU_PATH, &b->len);
    /* The file grew in steps of zeros past the log (WAL_GROW_STEP). */
    cr_assert_eq(b->len % WAL_GROW_STEP, 0);
    cr_assert_gt(b->len, b->end[NTXN]);
    for (size_t i = b->end[NTXN]; i < b->len; i++)
        cr_assert_eq(b->img[i], 0, "byte %zu past the log is not zero", i);
    b->file_len = b->len;
    b->len = b->end[NTXN];
}

static void unbuild(built *b) {
    free(b->img);
    testvfs_free(b->t);
}

/* Opens the log holding img[0, len); returns wal_open's status. */
static int open_image(built *b, const uint8_t *img, size_t len, wal **w,
                      wal_recovery *rec, cd_diag *d) {
    testvfs_file_set(b->t, TU_PATH, img, len);
    wal_options o;
    wal_options_init(&o, TU_P);
    o.write_buffer_bytes = 64 << 10;
    return wal_open(testvfs_vfs(b->t), TU_PATH, &o, w, rec, d);
}

static size_t last_boundary(const built *b, size_t L);
/* 1 if a frame of the image ends exactly at L. */
static int is_boundary(const built *b, size_t L) {
    return last_boundary(b, L) == L;
}

static size_t last_boundary(const built *b, size_t L) {
    size_t off = WAL_HDR_AREA;
    for (;;) {
        size_t next = off + WAL_FRAME_HDR_SIZE +
                      cd_get32(b->img + off + WAL_FRAME_OFF_LEN);
        if (next > L)
            return off;
        off = next;
    }
}

static void cut_everywhere(int level, unsigned from_txn) {
    built b;
    build(&b, level, 3);
    for (size_t L = b.end[from_txn]; L <= b.len; L++) {
        unsigned k = NTXN;
        while (b.end[k] > L)
            k--;
        wal *w;
        wal_recovery rec;
        cd_diag d = {0};
        int rc = open_image(&b, b.img, L, &w, &rec, &d);
        cr_assert_eq(rc, 0, "cut at %zu: %d (%s)", L, rc, d.what ? d.what : "");
        cr_assert_eq(rec.last_txn, k, "cut at %zu: txn %lu, want %u", L,
                     (unsigned long)rec.last_txn, k);
        cr_assert_eq(rec.txns, k);
        cr_assert_eq(rec.bytes, b.end[k]);
        cr_assert_arr_eq(rec.payload, b.st[k].payload, 16);
        enum wal_stop want = L == b.end[k]          ? WAL_STOP_END
                             : is_boundary(&b, L) ? WAL_STOP_UNCOMMITTED
                                                  : WAL_STOP_TORN;
        cr_assert_eq(rec.stop, want, "cut at %zu: stop %d", L, rec.stop);
        cr_assert_eq(rec.stop_offset, want == WAL_STOP_TORN ? last_boundary(&b, L) : L);
        cr_assert_eq(tu_equal(w, &b.st[k], wal_max_frame(w)), 0,
                     "cut at %zu: wrong pages", L);
        cr_assert_eq(wal_close(w), 0);
    }
    unbuild(&b);
}

/* The zeros the file grows by end the log like the end of the file; any
 * other byte after the log is a torn tail. */
Test(wal_recovery, zeros_past_the_log) {
    built b;
    build(&b, 0, 3);
    uint8_t *img = malloc(b.file_len);
    memcpy(img, b.img, b.file_len);
    size_t cuts[] = {b.file_len, b.len + 1, b.len + (b.file_len - b.len) / 2};
    for (unsigned c = 0; c < 3; c++) {
        for (int dirty = 0; dirty <= 1; dirty++) {
            img[cuts[c] - 1] = dirty ? 0x5a : 0;
            wal *w;
            wal_recovery rec;
            cr_assert_eq(open_image(&b, img, cuts[c], &w, &rec, NULL), 0);
            cr_assert_eq(rec.last_txn, NTXN);
            cr_assert_eq(rec.stop, dirty ? WAL_STOP_TORN : WAL_STOP_END,
                         "cut %u dirty %d: stop %d", c, dirty, rec.stop);
            cr_assert_eq(rec.stop_offset, b.len);
            cr_assert_eq(tu_equal(w, &b.st[NTXN], wal_max_frame(w)), 0);
            cr_assert_eq(wal_close(w), 0);
        }
        img[cuts[c] - 1] = 0;
    }
    free(img);
    unbuild(&b);
}

Test(wal_recovery, cut_at_every_byte_raw) {
    cut_everywhere(0, NTXN - 2);
}
Test(wal_recovery, cut_at_every_byte_zstd) {
    cut_everywhere(1, NTXN - 3);
}

/* The length of the frame at off, header included (raw page frames are
 * stored without their hole of zeros, so lengths vary). */
static size_t frame_at(const built *b, uint64_t off) {
    return WAL_FRAME_HDR_SIZE + cd_get32(b->img + off + WAL_FRAME_OFF_LEN);
}

/* Every bit of a committed frame's header and a sample of its payload. */
static void flip_frame_bits(built *b, uint64_t off, size_t frame_len,
                            int want_corrupt, unsigned want_txn) {
    uint8_t *img = malloc(b->len);
    for (size_t bit = 0; bit < frame_len * 8;
         bit += bit < WAL_FRAME_HDR_SIZE * 8 ? 1 : 61) {
        memcpy(img, b->img, b->len);
        img[off + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        wal *w;
        wal_recovery rec;
        cd_diag d = {0};
        int rc = open_image(b, img, b->len, &w, &rec, &d);
        if (want_corrupt) {
            cr_assert_eq(rc, CD_ECORRUPT, "bit %zu of frame at %lu: %d", bit,
                         (unsigned long)off, rc);
            cr_assert_eq(d.offset, off, "bit %zu: diag offset %zu", bit,
                         d.offset);
            cr_assert_not_null(d.what);
            continue;
        }
        cr_assert_eq(rc, 0, "bit %zu: %d", bit, rc);
        cr_assert_eq(rec.stop, WAL_STOP_TORN);
        cr_assert_eq(rec.last_txn, want_txn);
        cr_assert_eq(tu_equal(w, &b->st[want_txn], wal_max_frame(w)), 0);
        wal_close(w);
    }
    free(img);
}

Test(wal_recovery, flipped_bit_mid_log_is_corruption) {
    built b;
    build(&b, 0, 2);
    /* Txn 4's first frame, and its commit record (the last frame). */
    uint64_t first = b.end[3];
    flip_frame_bits(&b, first, frame_at(&b, first), 1, 0);
    uint64_t commit = b.end[4] - WAL_FRAME_HDR_SIZE - 16;
    flip_frame_bits(&b, commit, WAL_FRAME_HDR_SIZE + 16, 1, 0);
    unbuild(&b);
}

Test(wal_recovery, flipped_bit_mid_log_zstd) {
    built b;
    build(&b, 3, 2);
    uint64_t first = b.end[5];
    wal *w;
    cr_assert_eq(open_image(&b, b.img, b.len, &w, NULL, NULL), 0);
    wal_close(w);
    /* The frame's length from its header. */
    uint32_t len = cd_get32(b.img + first + WAL_FRAME_OFF_LEN);
    cr_assert_lt(len, TU_P);
    flip_frame_bits(&b, first, WAL_FRAME_HDR_SIZE + len, 1, 0);
    unbuild(&b);
}

Test(wal_recovery, flipped_bit_last_txn_is_torn_tail) {
    built b;
    build(&b, 0, 2);
    uint64_t commit = b.end[NTXN] - WAL_FRAME_HDR_SIZE - 16;
    flip_frame_bits(&b, commit, WAL_FRAME_HDR_SIZE + 16, 0, NTXN - 1);
    flip_frame_bits(&b, b.end[NTXN - 1], frame_at(&b, b.end[NTXN - 1]), 0,
                    NTXN - 1);
    unbuild(&b);
}

Test(wal_recovery, header_copies) {
    built b;
    build(&b, 0, 2);
    uint8_t *img = malloc(b.len);
    wal *w;
    wal_recovery rec;
    cd_diag d;
    /* One damaged copy: the other serves. */
    for (unsigned copy = 0; copy < 2; copy++) {
        memcpy(img, b.img, b.len);
        img[copy * WAL_HDR_COPY_STRIDE + 20] ^= 4;
        cr_assert_eq(open_image(&b, img, b.len, &w, &rec, NULL), 0);
        cr_assert_eq(rec.last_txn, NTXN);
        tu_expect(w, &b.st[NTXN], wal_max_frame(w));
        wal_close(w);
    }
    /* Both damaged, frames present: corruption, not a fresh log. */
    memcpy(img, b.img, b.len);
    img[20] ^= 4;
    img[WAL_HDR_COPY_STRIDE + 20] ^= 4;
    cr_assert_eq(open_image(&b, img, b.len, &w, &rec, &d), CD_ECORRUPT);
    cr_assert_eq(d.offset, 0);
    /* No magic at all: not a log. */
    memset(img, 'x', b.len);
    cr_assert_eq(open_image(&b, img, b.len, &w, &rec, NULL), CD_ENOTDB);
    /* A torn creation (headerless, no room for frames): created anew. */
    cr_assert_eq(open_image(&b, img, 700, &w, &rec, NULL), 0);
    cr_assert_eq(rec.created, 1);
    wal_close(w);
    free(img);
    unbuild(&b);
}

Test(wal_recovery, version_and_page_size) {
    built b;
    build(&b, 0, 1);
    uint8_t *img = malloc(b.len);
    memcpy(img, b.img, b.len);
    for (unsigned copy = 0; copy < 2; copy++) {
        uint8_t *h = img + copy * WAL_HDR_COPY_STRIDE;
        cd_put32(h + WAL_HDR_OFF_VERSION, WAL_FORMAT_VERSION + 1);
        cd_put64(h + WAL_HDR_OFF_CHECKSUM, cd_hash64(h, WAL_HDR_OFF_CHECKSUM, 0));
    }
    wal *w;
    cr_assert_eq(open_image(&b, img, b.len, &w, NULL, NULL), CD_EVERSION);
    testvfs_file_set(b.t, TU_PATH, b.img, b.len);
    wal_options o;
    wal_options_init(&o, 2 * TU_P);
    cd_diag d = {0};
    cr_assert_eq(wal_open(testvfs_vfs(b.t), TU_PATH, &o, &w, NULL, &d),
                 CD_ECORRUPT);
    cr_assert_eq(d.offset, WAL_HDR_OFF_PAGE_SIZE);
    free(img);
    unbuild(&b);
}

/* A reset whose header write tore between the two sectors: either copy
 * may be the new one; the newer generation wins and its frames count. */
Test(wal_recovery, torn_header_rewrite) {
    testvfs *t = testvfs_new(5);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    tu_state st = {0}, fresh = {0};
    uint64_t rng = 3;
    for (uint64_t k = 1; k <= 6; k++)
        cr_assert_eq(tu_txn(w, &st, k, 3, &rng), 0);
    size_t alen, blen;
    uint8_t *a = testvfs_file_get(t, TU_PATH, &alen);
    cr_assert_eq(wal_reset(w), 0);
    cr_assert_eq(tu_txn(w, &fresh, 7, 2, &rng), 0);
    cr_assert_eq(wal_close(w), 0);
    uint8_t *b = testvfs_file_get(t, TU_PATH, &blen);
    for (unsigned newer = 0; newer < 2; newer++) {
        uint8_t *img = malloc(blen);
        memcpy(img, b, blen);
        /* The sector of the other copy still holds the old header. */
        size_t old = newer ? 0 : WAL_HDR_COPY_STRIDE;
        memcpy(img + old, a + old, WAL_HDR_COPY_STRIDE);
        testvfs_file_set(t, TU_PATH, img, blen);
        wal_recovery rec;
        cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, &rec), 0);
        cr_assert_eq(rec.generation, 2);
        cr_assert_eq(rec.last_txn, 7);
        tu_expect(w, &fresh, wal_max_frame(w));
        wal_close(w);
        free(img);
    }
    free(a);
    free(b);
    testvfs_free(t);
}

/* Two page frames of a transaction swapped: each is valid alone, but the
 * chain breaks: corruption in the middle of the log, a torn tail at its
 * end. */
Test(wal_recovery, swapped_frames_break_the_chain) {
    built b;
    build(&b, 0, 3);
    uint8_t *img = malloc(b.len), *tmp = malloc(WAL_FRAME_HDR_SIZE + TU_P);
    for (unsigned k = 2; k <= NTXN; k++) {
        uint64_t a = b.end[k - 1];
        size_t F1 = frame_at(&b, a);
        if (b.img[a + F1 + WAL_FRAME_OFF_KIND] != WAL_FRAME_PAGE)
            continue; /* fewer than two page frames */
        size_t F2 = frame_at(&b, a + F1);
        memcpy(img, b.img, b.len);
        memcpy(tmp, img + a, F1);
        memmove(img + a, img + a + F1, F2);
        memcpy(img + a + F2, tmp, F1);
        wal *w;
        wal_recovery rec;
        cd_diag d = {0};
        int rc = open_image(&b, img, b.len, &w, &rec, &d);
        if (k < NTXN) {
            cr_assert_eq(rc, CD_ECORRUPT, "txn %u: %d", k, rc);
            cr_assert_eq(d.offset, a);
        } else {
            cr_assert_eq(rc, 0);
            cr_assert_eq(rec.last_txn, NTXN - 1);
            cr_assert_eq(rec.stop_offset, a);
            wal_close(w);
        }
    }
    free(tmp);
    free(img);
    unbuild(&b);
}
