/*
 * test_wal_delta.c: delta page frames.  Chains of deltas read back byte
 * for byte, before and after recovery, at every depth up to the limit; a
 * delta is stored only over a committed base of this generation, below
 * the depth limit, and only when it halves the frame; recovery rejects a
 * delta whose base breaks the rules, and a read rejects runs that break
 * them; a version 1 log is read and gets deltas only after a reset.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cd_page.h"
#include "wal_int.h"
#include "wal_tutil.h"

#define LINES 6u      /* pages changed copy after copy */
#define FRAMES_MAX 600u

/* What each frame must read back as (frame numbers from 1). */
static uint8_t want[FRAMES_MAX + 1][TU_P];

/* A random change of a page image past its header: a few short runs,
 * sometimes a long one. */
static void mutate(uint8_t *pg, uint64_t *rng) {
    unsigned runs = 1 + (unsigned)(tu_rand(rng) % 4);
    for (unsigned r = 0; r < runs; r++) {
        uint32_t len = tu_rand(rng) % 8 == 0 ? 300 : 1 + (uint32_t)(tu_rand(rng) % 24);
        uint32_t at = CD_PAGE_HDR_SIZE + (uint32_t)(tu_rand(rng) % (TU_P - CD_PAGE_HDR_SIZE - len));
        for (uint32_t i = 0; i < len; i++)
            pg[at + i] = (uint8_t)tu_rand(rng);
    }
}

/* Reads frame f of w (any committed frame) into out. */
static int read_frame_no(wal *w, uint64_t f, uint8_t *out) {
    const wal_finfo *fi = wal_index_info(w, f);
    wal_frame_ref ref = {.frame = f, .offset = fi->offset, .pgno = fi->pgno, .len = fi->len};
    cd_diag d = {0};
    return wal_read_page(w, &ref, out, NULL, &d);
}

static void expect_frames(wal *w, uint64_t nframes) {
    static uint8_t got[TU_P];
    for (uint64_t f = 1; f <= nframes; f++) {
        cr_assert_eq(read_frame_no(w, f, got), 0, "frame %llu", (unsigned long long)f);
        cr_assert_arr_eq(got, want[f], TU_P, "frame %llu bytes differ", (unsigned long long)f);
    }
}

/*
 * Pages copied to a new number at every change, as the engine does: each
 * line's next image is its last one changed a little, appended over the
 * last one's frame.  Every frame (old versions too) reads back, at every
 * depth the chains reach, before and after a reopen.
 */
Test(wal_delta, chains_read_back) {
    testvfs *t = testvfs_new(7);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    static uint8_t cur[LINES][TU_P];
    uint64_t last[LINES] = {0}, rng = 99, frame = 0;
    uint32_t next_pgno = 2;
    for (unsigned i = 0; i < LINES; i++)
        tu_leaf(cur[i], TU_P, 2, 1, 40 + 10 * i);
    for (uint64_t txn = 1; frame + LINES <= FRAMES_MAX; txn++) {
        unsigned k = 1 + (unsigned)(tu_rand(&rng) % 3);
        for (unsigned j = 0; j < k; j++) {
            unsigned i = (unsigned)((txn + j) % LINES);
            static uint8_t base[TU_P];
            memcpy(base, cur[i], TU_P);
            mutate(cur[i], &rng);
            cd_page_set_pgno(cur[i], next_pgno++);
            wal_frame_ref ref;
            cr_assert_eq(wal_append_page_delta(w, txn, cd_get32(cur[i] + 4), cur[i], last[i],
                                               last[i] ? base : NULL, &ref),
                         0);
            cr_assert_eq(ref.frame, ++frame);
            memcpy(want[frame], cur[i], TU_P);
            last[i] = frame;
        }
        cr_assert_eq(wal_append_commit(w, txn, NULL, 0), 0);
    }
    wal_stats st;
    wal_get_stats(w, &st);
    cr_assert_gt(st.delta_frames, frame / 2, "%llu of %llu", (unsigned long long)st.delta_frames,
                 (unsigned long long)frame);
    unsigned deepest = 0, plain_after_max = 0;
    for (uint64_t f = 1; f <= frame; f++) {
        const wal_finfo *fi = wal_index_info(w, f);
        cr_assert_leq(fi->depth, WAL_DELTA_DEPTH_MAX);
        deepest = fi->depth > deepest ? fi->depth : deepest;
        if (fi->depth) {
            cr_assert(fi->base >= 1 && fi->base < f);
            cr_assert_eq(fi->depth, wal_index_info(w, fi->base)->depth + 1u);
        }
        plain_after_max += fi->depth == 0 && f > LINES;
    }
    cr_assert_eq(deepest, WAL_DELTA_DEPTH_MAX);
    cr_assert_gt(plain_after_max, 0); /* the limit starts chains afresh */
    expect_frames(w, frame);
    cr_assert_eq(wal_sync(w), 0);
    cr_assert_eq(wal_close(w), 0);
    wal_recovery rec;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, &rec), 0);
    cr_assert_eq(rec.frames, frame);
    expect_frames(w, frame);
    wal_close(w);
    testvfs_free(t);
}

/* Stored as a delta only over a committed base of this generation, below
 * the depth limit, and only when that halves the frame. */
Test(wal_delta, when_a_delta_is_stored) {
    testvfs *t = testvfs_new(8);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    static uint8_t a[TU_P], b[TU_P], got[TU_P];
    tu_leaf(a, TU_P, 2, 1, 60);
    cr_assert_eq(wal_append_page(w, 1, 2, a), 0);
    cr_assert_eq(wal_append_commit(w, 1, NULL, 0), 0); /* frame 1 */
    wal_frame_ref ref;
    /* one byte changed, and the page number: a delta of two runs */
    memcpy(b, a, TU_P);
    b[1000] ^= 0x5a;
    cd_page_set_pgno(b, 3);
    cr_assert_eq(wal_append_page_delta(w, 2, 3, b, 1, a, &ref), 0);
    cr_assert_eq(ref.len, 2 * WAL_DELTA_RUN_HDR + 1 + 1, "len %u", ref.len);
    /* the same image again, over frame 2 of the open transaction: not
     * committed, so stored whole */
    cr_assert_eq(wal_append_page_delta(w, 2, 3, b, 2, b, &ref), 0);
    cr_assert_gt(ref.len, TU_P / 4);
    /* an image equal to its base: one byte rewritten */
    cr_assert_eq(wal_append_page_delta(w, 2, 2, a, 1, a, &ref), 0);
    cr_assert_eq(ref.len, WAL_DELTA_RUN_HDR + 1);
    /* no base, and a base past the log */
    cr_assert_eq(wal_append_page_delta(w, 2, 2, a, 0, a, &ref), 0);
    cr_assert_gt(ref.len, TU_P / 4);
    cr_assert_eq(wal_append_page_delta(w, 2, 2, a, 99, a, &ref), 0);
    cr_assert_gt(ref.len, TU_P / 4);
    /* changed all over: more than half the whole frame, so whole */
    memcpy(b, a, TU_P);
    for (uint32_t i = CD_PAGE_HDR_SIZE; i < TU_P; i += 2)
        b[i] ^= 1;
    cd_page_set_pgno(b, 4);
    cr_assert_eq(wal_append_page_delta(w, 2, 4, b, 1, a, &ref), 0);
    cr_assert_eq(ref.len, TU_P);
    cr_assert_eq(wal_append_commit(w, 2, NULL, 0), 0);
    wal_stats st;
    wal_get_stats(w, &st);
    cr_assert_eq(st.delta_frames, 2);
    /* every one reads back */
    cr_assert_eq(wal_find(w, 3, wal_max_frame(w), &ref), 0);
    cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
    cr_assert_eq(got[1000], a[1000] ^ 0x5a);
    cr_assert_eq(wal_find(w, 4, wal_max_frame(w), &ref), 0);
    cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
    cr_assert_arr_eq(got, b, TU_P);
    /* a reset starts a generation whose frame numbers name new frames */
    cr_assert_eq(wal_reset(w), 0);
    cr_assert_eq(wal_append_page_delta(w, 3, 2, a, 1, a, &ref), 0);
    cr_assert_gt(ref.len, TU_P / 4);
    wal_close(w);
    testvfs_free(t);
}

/* ---- damaged and foreign logs -------------------------------------------- */

/* Recomputes the header checksum of both copies and the chain of every
 * frame from the first, after a test changed bytes that they cover. */
static void rechain(uint8_t *img, size_t len) {
    uint64_t hck = cd_hash64(img, WAL_HDR_OFF_CHECKSUM, 0);
    cd_put64(img + WAL_HDR_OFF_CHECKSUM, hck);
    memcpy(img + WAL_HDR_COPY_STRIDE, img, WAL_HDR_SIZE);
    uint64_t salt = cd_get64(img + WAL_HDR_OFF_SALT), prev = hck;
    for (size_t off = WAL_HDR_AREA; off + WAL_FRAME_HDR_SIZE <= len;) {
        uint8_t *h = img + off;
        if (h[0] != WAL_FRAME_PAGE && h[0] != WAL_FRAME_COMMIT)
            break;
        uint32_t flen = cd_get32(h + WAL_FRAME_OFF_LEN);
        cd_put64(h + WAL_FRAME_OFF_PREV, prev);
        prev = wal_frame_checksum(h, h + WAL_FRAME_HDR_SIZE, flen, salt);
        cd_put64(h + WAL_FRAME_OFF_CHECKSUM, prev);
        off += WAL_FRAME_HDR_SIZE + flen;
    }
}

/* The file offset of page frame number f in a log image. */
static size_t frame_offset(const uint8_t *img, size_t len, uint64_t f) {
    uint64_t n = 0;
    for (size_t off = WAL_HDR_AREA; off + WAL_FRAME_HDR_SIZE <= len;) {
        if (img[off] == WAL_FRAME_PAGE && ++n == f)
            return off;
        off += WAL_FRAME_HDR_SIZE + cd_get32(img + off + WAL_FRAME_OFF_LEN);
    }
    cr_assert_fail("no frame %llu", (unsigned long long)f);
    return 0;
}

/*
 * A log of one whole page (frame 1) and then one transaction per delta,
 * each over the frame before: frames 2 .. depth + 1, the last at depth
 * `depth`; then a delta over frame 1 in a transaction of its own.
 */
static void delta_log(testvfs *t, unsigned depth) {
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    static uint8_t a[TU_P], b[TU_P];
    tu_leaf(a, TU_P, 2, 1, 60);
    cr_assert_eq(wal_append_page(w, 1, 2, a), 0);
    cr_assert_eq(wal_append_commit(w, 1, NULL, 0), 0);
    for (unsigned d = 1; d <= depth; d++) {
        memcpy(b, a, TU_P);
        for (unsigned k = 0; k < 16; k++) /* one run of 16 bytes */
            b[100 + 20 * d + k] ^= 0xff;
        cr_assert_eq(wal_append_page_delta(w, 1 + d, 2, b, d, a, NULL), 0);
        cr_assert_eq(wal_append_commit(w, 1 + d, NULL, 0), 0);
        memcpy(a, b, TU_P);
    }
    tu_leaf(b, TU_P, 2, 1, 60);
    b[2000] = 7;
    tu_leaf(a, TU_P, 2, 1, 60);
    cr_assert_eq(wal_append_page_delta(w, depth + 2, 2, b, 1, a, NULL), 0);
    cr_assert_eq(wal_append_commit(w, depth + 2, NULL, 0), 0);
    wal_stats st;
    wal_get_stats(w, &st);
    cr_assert_eq(st.delta_frames, depth + 1);
    cr_assert_eq(wal_sync(w), 0);
    wal_close(w);
}

/* Sets the base of the last delta (frame depth + 2) and fixes the chain;
 * the open must then report `want`. */
static void open_with_base(unsigned depth, uint32_t base, int expect_rc) {
    testvfs *t = testvfs_new(9);
    delta_log(t, depth);
    size_t len;
    uint8_t *img = testvfs_file_get(t, TU_PATH, &len);
    size_t off = frame_offset(img, len, depth + 2);
    cr_assert_eq(img[off + WAL_FRAME_OFF_FLAGS], WAL_FRAME_DELTA);
    cd_put32(img + off + WAL_FRAME_OFF_HOLE, base);
    rechain(img, len);
    testvfs_file_set(t, TU_PATH, img, len);
    free(img);
    wal *w = NULL;
    wal_recovery rec;
    cd_diag d = {0};
    wal_options o;
    wal_options_init(&o, TU_P);
    int rc = wal_open(testvfs_vfs(t), TU_PATH, &o, &w, &rec, &d);
    cr_assert_eq(rc, expect_rc, "base %u: %d (%s)", base, rc, d.what ? d.what : "");
    if (rc == 0) {
        cr_assert_eq(rec.frames, depth + 2);
        static uint8_t got[TU_P];
        cr_assert_eq(read_frame_no(w, depth + 2, got), 0);
        wal_close(w);
    }
    testvfs_free(t);
}

Test(wal_delta, recovery_checks_each_base) {
    open_with_base(3, 1, 0);                        /* as written */
    open_with_base(3, 4, 0);                        /* another committed frame */
    open_with_base(3, 5, CD_ECORRUPT);              /* itself */
    open_with_base(3, 6, CD_ECORRUPT);              /* past itself */
    open_with_base(WAL_DELTA_DEPTH_MAX - 1, WAL_DELTA_DEPTH_MAX, 0); /* depth = the limit */
    open_with_base(WAL_DELTA_DEPTH_MAX, WAL_DELTA_DEPTH_MAX + 1, CD_ECORRUPT); /* past it */
}

/* The base 0 is not a delta: the header decodes as damaged. */
Test(wal_delta, header_rules) {
    uint8_t hdr[WAL_FRAME_HDR_SIZE];
    struct {
        uint8_t flags;
        uint32_t len, base;
        int ok;
    } cases[] = {
        {WAL_FRAME_DELTA, 5, 1, 1},
        {WAL_FRAME_DELTA, TU_P - 1, 7, 1},
        {WAL_FRAME_DELTA, 5, 0, 0},      /* no base */
        {WAL_FRAME_DELTA, 4, 1, 0},      /* no room for a byte */
        {WAL_FRAME_DELTA, TU_P, 1, 0},   /* not shorter than the page */
        {WAL_FRAME_DELTA | WAL_FRAME_HOLE, 100, 1, 0},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wal_fhdr h = {.kind = WAL_FRAME_PAGE, .flags = cases[i].flags, .len = cases[i].len,
                      .txn = 1, .pgno = 5, .base = cases[i].base};
        wal_fhdr_encode(hdr, &h);
        wal_fhdr got;
        cr_assert_eq(wal_fhdr_decode(hdr, TU_P, &got), cases[i].ok ? 0 : CD_ECORRUPT,
                     "case %u", i);
        if (cases[i].ok)
            cr_assert(got.base == cases[i].base && got.hole == 0, "case %u", i);
    }
}

/* Replaces the payload of the frame at off with bytes[0, n): the frames
 * after it move; the image grows or shrinks (its buffer has room). */
static void set_payload(uint8_t *img, size_t *len, size_t off, const uint8_t *bytes,
                        uint32_t n) {
    uint32_t old = cd_get32(img + off + WAL_FRAME_OFF_LEN);
    size_t rest = off + WAL_FRAME_HDR_SIZE + old;
    memmove(img + off + WAL_FRAME_HDR_SIZE + n, img + rest, *len - rest);
    memcpy(img + off + WAL_FRAME_HDR_SIZE, bytes, n);
    cd_put32(img + off + WAL_FRAME_OFF_LEN, n);
    *len = *len - old + n;
}

/* Runs that leave their order, the page or the payload fail the read of
 * that page with CD_ECORRUPT (the open does not read payloads), and only
 * of that page. */
Test(wal_delta, bad_runs_fail_the_read) {
    struct {
        uint8_t bytes[16];
        uint32_t n;
    } cases[] = {
        {{0x10, 0, 0, 0, 9}, 5},                       /* a run of no bytes */
        {{0xff, 0x0f, 2, 0, 1, 2}, 6},                 /* past the page */
        {{0x10, 0, 1, 0, 1, 0x0f, 0, 1, 0, 2}, 10},    /* going back */
        {{0x10, 0, 3, 0, 1, 2}, 6},                    /* past the payload */
        {{0x10, 0, 1, 0, 1, 0x20}, 6},                 /* a run header cut short */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        testvfs *t = testvfs_new(10 + i);
        delta_log(t, 1);
        size_t len;
        uint8_t *img = testvfs_file_get(t, TU_PATH, &len);
        img = realloc(img, len + 64);
        cr_assert_not_null(img);
        set_payload(img, &len, frame_offset(img, len, 2), cases[i].bytes, cases[i].n);
        rechain(img, len);
        testvfs_file_set(t, TU_PATH, img, len);
        free(img);
        wal *w;
        wal_recovery rec;
        cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, &rec), 0, "case %u", i);
        cr_assert_eq(rec.frames, 3, "case %u", i);
        static uint8_t got[TU_P];
        cr_assert_eq(read_frame_no(w, 1, got), 0);
        cr_assert_eq(read_frame_no(w, 2, got), CD_ECORRUPT, "case %u", i);
        cr_assert_eq(read_frame_no(w, 3, got), 0, "case %u: its base is frame 1", i);
        wal_close(w);
        testvfs_free(t);
    }
}

/* A version 1 log is read as before; a delta frame in one is damage; it
 * gets delta frames once a reset has made it version 2. */
Test(wal_delta, version_1_logs) {
    for (int with_delta = 0; with_delta <= 1; with_delta++) {
        testvfs *t = testvfs_new(20);
        delta_log(t, with_delta);
        size_t len;
        uint8_t *img = testvfs_file_get(t, TU_PATH, &len);
        cr_assert_eq(cd_get32(img + WAL_HDR_OFF_VERSION), 2);
        cd_put32(img + WAL_HDR_OFF_VERSION, 1);
        if (!with_delta) /* drop the last transaction, the delta */
            len = frame_offset(img, len, 2);
        rechain(img, len);
        testvfs_file_set(t, TU_PATH, img, len);
        free(img);
        wal *w = NULL;
        wal_recovery rec;
        int rc = tu_open(testvfs_vfs(t), 0, &w, &rec);
        if (with_delta) {
            cr_assert_eq(rc, CD_ECORRUPT);
            testvfs_free(t);
            continue;
        }
        cr_assert_eq(rc, 0);
        cr_assert_eq(rec.frames, 1);
        static uint8_t a[TU_P], got[TU_P];
        tu_leaf(a, TU_P, 2, 1, 60);
        cr_assert_eq(read_frame_no(w, 1, got), 0);
        cr_assert_arr_eq(got, a, TU_P);
        wal_frame_ref ref;
        cr_assert_eq(wal_append_page_delta(w, 5, 2, a, 1, a, &ref), 0);
        cr_assert_eq(ref.len, TU_P - cd_page_unused(a, TU_P, &(uint32_t){0}));
        cr_assert_eq(wal_append_commit(w, 5, NULL, 0), 0);
        cr_assert_eq(wal_reset(w), 0);
        cr_assert_eq(wal_append_page(w, 6, 2, a), 0);
        cr_assert_eq(wal_append_commit(w, 6, NULL, 0), 0);
        cr_assert_eq(wal_append_page_delta(w, 7, 2, a, 1, a, &ref), 0);
        cr_assert_eq(ref.len, WAL_DELTA_RUN_HDR + 1);
        cr_assert_eq(wal_append_commit(w, 7, NULL, 0), 0);
        wal_close(w);
        testvfs_free(t);
    }
}
