/*
 * test_wal_basic.c: the log's normal life on the in-memory testvfs:
 * create and reopen, transactions of random pages read back byte for byte
 * after reopen, the uncommitted tail dropped, snapshot bounds (max_frame)
 * seeing old versions, compression on and off, the index across segments,
 * the checkpoint iterator, reset (older generations never replayed), and
 * the argument errors of the append API.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "cd_page.h"
#include "wal_int.h"
#include "wal_tutil.h"

static uint8_t pg[TU_P];

Test(wal_basic, create_empty_reopen) {
    testvfs *t = testvfs_new(1);
    wal *w;
    wal_recovery rec;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, &rec), 0);
    cr_assert_eq(rec.created, 1);
    cr_assert_eq(rec.generation, 1);
    cr_assert_eq(wal_size_bytes(w), WAL_HDR_AREA);
    cr_assert_eq(wal_max_frame(w), 0);
    cr_assert_eq(testvfs_file_syncs(t, TU_PATH), 1);
    cr_assert_eq(wal_close(w), 0);
    size_t len;
    uint8_t *img = testvfs_file_get(t, TU_PATH, &len);
    cr_assert_eq(len, WAL_HDR_AREA);
    cr_assert_arr_eq(img, "isle-wal", 8);
    cr_assert_arr_eq(img + 512, img, WAL_HDR_SIZE); /* the second copy */
    free(img);
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, &rec), 0);
    cr_assert_eq(rec.created, 0);
    cr_assert_eq(rec.txns, 0);
    cr_assert_eq(rec.stop, WAL_STOP_END);
    cr_assert_eq(rec.stop_offset, WAL_HDR_AREA);
    cr_assert_eq(wal_close(w), 0);
    cr_assert_eq(testvfs_live_allocs(t), 0);
    testvfs_free(t);
}

static void roundtrip(int level) {
    testvfs *t = testvfs_new(2);
    wal *w;
    wal_recovery rec;
    cr_assert_eq(tu_open(testvfs_vfs(t), level, &w, &rec), 0);
    tu_state st = {0};
    uint64_t rng = 42;
    for (uint64_t txn = 1; txn <= 40; txn++) {
        cr_assert_eq(tu_txn(w, &st, txn, 6, &rng), 0);
        cr_assert_eq(wal_check(w), 0);
    }
    cr_assert_eq(wal_sync(w), 0);
    tu_expect(w, &st, wal_max_frame(w));
    wal_stats stats;
    wal_get_stats(w, &stats);
    cr_assert_eq(stats.commits, 40);
    if (level) {
        cr_assert_eq(stats.compressed_frames, stats.page_frames);
        cr_assert_eq(stats.hole_frames, 0);
    } else { /* half the test pages are half empty: stored without the hole */
        cr_assert_eq(stats.compressed_frames, 0);
        cr_assert_gt(stats.hole_frames, 0);
        cr_assert_lt(stats.hole_frames, stats.page_frames);
    }
    /* A commit writes its frames in one piece (the buffer holds them). */
    cr_assert_eq(stats.writes, 40);
    uint64_t frames = wal_max_frame(w), size = wal_size_bytes(w);
    /* An uncommitted tail: pages appended, no commit record. */
    tu_page(pg, 2, 999);
    cr_assert_eq(wal_append_page(w, 41, 2, pg), 0);
    cr_assert_eq(wal_max_frame(w), frames);
    cr_assert_eq(wal_close(w), 0);

    cr_assert_eq(tu_open(testvfs_vfs(t), level, &w, &rec), 0);
    cr_assert_eq(rec.txns, 40);
    cr_assert_eq(rec.last_txn, 40);
    cr_assert_eq(rec.frames, frames);
    cr_assert_eq(rec.bytes, size);
    cr_assert_eq(rec.stop, WAL_STOP_END);
    cr_assert_eq(rec.payload_len, 16);
    cr_assert_arr_eq(rec.payload, st.payload, 16);
    tu_expect(w, &st, wal_max_frame(w));
    cr_assert_eq(wal_close(w), 0);
    cr_assert_eq(testvfs_live_allocs(t), 0);
    testvfs_free(t);
}

Test(wal_basic, roundtrip_raw) { roundtrip(0); }
Test(wal_basic, roundtrip_zstd1) { roundtrip(1); }
Test(wal_basic, roundtrip_zstd3) { roundtrip(3); }

/* Raw pages that do not compress are stored raw even with zstd on. */
Test(wal_basic, incompressible_stays_raw) {
    testvfs *t = testvfs_new(3);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 1, &w, NULL), 0);
    uint64_t rng = 7;
    for (unsigned i = 0; i < TU_P; i++)
        pg[i] = (uint8_t)tu_rand(&rng);
    cd_put32(pg + 4, 9);
    cr_assert_eq(wal_append_page(w, 1, 9, pg), 0);
    cr_assert_eq(wal_append_commit(w, 1, NULL, 0), 0);
    wal_stats s;
    wal_get_stats(w, &s);
    cr_assert_eq(s.compressed_frames, 0);
    wal_frame_ref ref;
    cr_assert_eq(wal_find(w, 9, 1, &ref), 0);
    cr_assert_eq(ref.len, TU_P);
    uint8_t got[TU_P];
    cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
    cr_assert_arr_eq(got, pg, TU_P);
    wal_close(w);
    testvfs_free(t);
}

/* With zstd off, a page is stored without its longest run of zero words
 * when that run is WAL_HOLE_MIN bytes or more, wherever the run lies, and
 * reads back whole, after a reopen too. */
Test(wal_basic, hole_frames) {
    struct {
        uint32_t at, len; /* zero run in the page, in bytes */
        uint32_t stored;  /* payload length expected */
    } cases[] = {
        {1000, 2000, TU_P - 2000},            /* in the middle */
        {TU_P - 3000, 3000, TU_P - 3000},     /* at the end */
        {1000, WAL_HOLE_MIN, TU_P - WAL_HOLE_MIN},
        {1000, WAL_HOLE_MIN - 8, TU_P},       /* too short: raw */
        {1003, 500, TU_P - 488},              /* unaligned: whole words only */
        {0, 0, TU_P},                         /* no zeros: raw */
    };
    unsigned n = sizeof cases / sizeof cases[0];
    static uint8_t pages[6][TU_P];
    testvfs *t = testvfs_new(31);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    uint64_t rng = 99;
    for (unsigned i = 0; i < n; i++) {
        for (unsigned b = 0; b < TU_P; b++)
            pages[i][b] = (uint8_t)(tu_rand(&rng) | 1);
        memset(pages[i] + cases[i].at, 0, cases[i].len);
        cd_put32(pages[i] + 4, 10 + i);
        cr_assert_eq(wal_append_page(w, 1, 10 + i, pages[i]), 0);
    }
    cr_assert_eq(wal_append_commit(w, 1, NULL, 0), 0);
    for (int reopen = 0; reopen <= 1; reopen++) {
        for (unsigned i = 0; i < n; i++) {
            wal_frame_ref ref;
            cr_assert_eq(wal_find(w, 10 + i, wal_max_frame(w), &ref), 0);
            cr_assert_eq(ref.len, cases[i].stored, "case %u: stored %u", i, ref.len);
            uint8_t got[TU_P];
            cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
            cr_assert_arr_eq(got, pages[i], TU_P, "case %u", i);
        }
        if (!reopen) {
            wal_stats s;
            wal_get_stats(w, &s);
            cr_assert_eq(s.hole_frames, 4);
            cr_assert_eq(wal_close(w), 0);
            cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
        }
    }
    wal_close(w);
    testvfs_free(t);
}

/* A tree page is stored without the gap its layout leaves between slots
 * and cells, found from its header, even where a longer zero run lies
 * elsewhere (here a value of 1200 zero bytes).  A page whose header names
 * a gap that is not all zero is not trusted: it is stored without the
 * longest zero run a search finds.  Either way it reads back whole. */
Test(wal_basic, layout_gap_frames) {
    static uint8_t pages[2][TU_P];
    testvfs *t = testvfs_new(32);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    uint32_t gap_at[2], gap[2];
    for (unsigned i = 0; i < 2; i++) {
        uint8_t *p = pages[i];
        cd_page_init(p, TU_P, CD_PAGE_LEAF, 20 + i, 1);
        for (unsigned k = 0; k < 50; k++) {
            uint8_t key[8] = {1, 0, 0, 0, 0, 0, 0, (uint8_t)k}, val[1200];
            uint32_t vlen = k == 0 ? 1200 : 40;
            memset(val, k == 0 ? 0 : 0xa5, vlen);
            uint8_t *dst = cd_page_cell_alloc(p, TU_P, k, cd_leaf_cell_len(8, vlen, 0));
            cr_assert_not_null(dst);
            cd_leaf_cell_write(dst, key, 8, val, vlen, 0);
        }
        gap[i] = cd_page_unused(p, TU_P, &gap_at[i]);
        cr_assert(gap[i] >= WAL_HOLE_MIN && gap[i] < 1000, "gap %u", gap[i]);
    }
    pages[1][gap_at[1] + gap[1] / 2] = 1; /* page 21: a byte set in its gap */
    for (unsigned i = 0; i < 2; i++)
        cr_assert_eq(wal_append_page(w, 1, 20 + i, pages[i]), 0);
    cr_assert_eq(wal_append_commit(w, 1, NULL, 0), 0);
    for (int reopen = 0; reopen <= 1; reopen++) {
        wal_frame_ref ref;
        uint8_t got[TU_P];
        cr_assert_eq(wal_find(w, 20, wal_max_frame(w), &ref), 0);
        cr_assert_eq(ref.len, TU_P - gap[0], "stored %u", ref.len);
        cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
        cr_assert_arr_eq(got, pages[0], TU_P);
        cr_assert_eq(wal_find(w, 21, wal_max_frame(w), &ref), 0);
        cr_assert_leq(ref.len, TU_P - 1200 + 16, "stored %u", ref.len); /* the zero value */
        cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
        cr_assert_arr_eq(got, pages[1], TU_P);
        if (!reopen) {
            cr_assert_eq(wal_close(w), 0);
            cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
        }
    }
    wal_close(w);
    testvfs_free(t);
}

/* A hole frame's header must describe a hole inside the page, and only a
 * hole frame may name one. */
Test(wal_basic, hole_header_rules) {
    uint8_t hdr[WAL_FRAME_HDR_SIZE];
    struct {
        uint8_t flags;
        uint32_t len, hole;
        int ok;
    } cases[] = {
        {WAL_FRAME_HOLE, TU_P - 100, 40, 1},
        {WAL_FRAME_HOLE, TU_P - 100, TU_P - 100, 1},     /* hole at the end */
        {WAL_FRAME_HOLE, TU_P - 100, TU_P - 99, 0},      /* past the page */
        {WAL_FRAME_HOLE, TU_P, 0, 0},                    /* no hole */
        {WAL_FRAME_HOLE, 0, 0, 0},
        {0, TU_P, 8, 0},                                 /* raw, with a hole offset */
        {WAL_FRAME_ZSTD, 100, 8, 0},
        {WAL_FRAME_ZSTD | WAL_FRAME_HOLE, TU_P - 100, 40, 0},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wal_fhdr h = {.kind = WAL_FRAME_PAGE, .flags = cases[i].flags, .len = cases[i].len,
                      .txn = 1, .pgno = 5, .hole = cases[i].hole};
        wal_fhdr_encode(hdr, &h);
        wal_fhdr got;
        cr_assert_eq(wal_fhdr_decode(hdr, TU_P, &got), cases[i].ok ? 0 : CD_ECORRUPT,
                     "case %u", i);
        if (cases[i].ok)
            cr_assert_eq(got.hole, cases[i].hole);
    }
}

/* An uncommitted txn larger than the write buffer reaches the file, and
 * is still dropped at reopen; a later txn overwrites it. */
Test(wal_basic, big_uncommitted_tail_dropped) {
    testvfs *t = testvfs_new(4);
    wal_options o;
    wal_options_init(&o, TU_P);
    o.write_buffer_bytes = 3 * (TU_P + WAL_FRAME_HDR_SIZE);
    wal *w;
    wal_recovery rec;
    cr_assert_eq(wal_open(testvfs_vfs(t), TU_PATH, &o, &w, NULL, NULL), 0);
    tu_state st = {0};
    uint64_t rng = 5;
    cr_assert_eq(tu_txn(w, &st, 1, 4, &rng), 0);
    uint64_t end = wal_size_bytes(w);
    for (uint32_t i = 0; i < 10; i++) {
        tu_page(pg, 2 + i, 77);
        cr_assert_eq(wal_append_page(w, 2, 2 + i, pg), 0);
    }
    cr_assert_gt(testvfs_count(t, TESTVFS_WRITE), 3); /* flushed pieces */
    cr_assert_eq(wal_sync(w), 0);
    cr_assert_eq(wal_close(w), 0);
    cr_assert_eq(wal_open(testvfs_vfs(t), TU_PATH, &o, &w, &rec, NULL), 0);
    cr_assert_eq(rec.stop, WAL_STOP_UNCOMMITTED);
    cr_assert_eq(rec.last_txn, 1);
    cr_assert_eq(rec.bytes, end);
    tu_expect(w, &st, wal_max_frame(w));
    /* A shorter txn 2 over the old tail, then reopen: only it counts. */
    cr_assert_eq(tu_txn(w, &st, 2, 1, &rng), 0);
    cr_assert_eq(wal_sync(w), 0);
    cr_assert_eq(wal_close(w), 0);
    cr_assert_eq(wal_open(testvfs_vfs(t), TU_PATH, &o, &w, &rec, NULL), 0);
    cr_assert_eq(rec.last_txn, 2);
    cr_assert_eq(rec.stop, WAL_STOP_TORN); /* stale frames after it */
    tu_expect(w, &st, wal_max_frame(w));
    wal_close(w);
    testvfs_free(t);
}

/* A reader bounded at an older frame count sees the older versions. */
Test(wal_basic, snapshot_bounds) {
    testvfs *t = testvfs_new(5);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    tu_state hist[31] = {{0}};
    uint64_t bound[31] = {0};
    uint64_t rng = 9;
    for (uint64_t txn = 1; txn <= 30; txn++) {
        hist[txn] = hist[txn - 1];
        cr_assert_eq(tu_txn(w, &hist[txn], txn, 5, &rng), 0);
        bound[txn] = wal_max_frame(w);
    }
    for (unsigned k = 0; k <= 30; k++)
        tu_expect(w, &hist[k], bound[k]);
    /* The newest frame of a page never exceeds the bound. */
    wal_frame_ref ref;
    for (unsigned k = 1; k <= 30; k++)
        for (uint32_t p = 2; p < 2 + TU_NPAGES; p++)
            if (wal_find(w, p, bound[k], &ref) == 0)
                cr_assert_leq(ref.frame, bound[k]);
    wal_close(w);
    testvfs_free(t);
}

/* A page rewritten by every commit, between others: each bound finds the
 * version it must, and the newest costs no walk over the older ones. */
Test(wal_basic, page_rewritten_every_commit) {
    testvfs *t = testvfs_new(7);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 1, &w, NULL), 0);
    const uint32_t N = WAL_SEG_FRAMES + 500; /* across a segment's end */
    uint64_t hot_frame[WAL_SEG_FRAMES + 501] = {0};
    uint64_t frame = 0;
    for (uint32_t i = 1; i <= N / 2; i++) {
        tu_leaf(pg, TU_P, 2, i, 10);
        cr_assert_eq(wal_append_page(w, i, 2, pg), 0);
        hot_frame[i] = ++frame;
        tu_leaf(pg, TU_P, 3 + i, i, 10);
        cr_assert_eq(wal_append_page(w, i, 3 + i, pg), 0);
        frame++;
        cr_assert_eq(wal_append_commit(w, i, NULL, 0), 0);
    }
    uint8_t got[TU_P];
    wal_frame_ref ref;
    for (uint32_t i = 1; i <= N / 2; i++) {
        /* bounded at the commit of i, and just before its page 2 frame */
        cr_assert_eq(wal_find(w, 2, hot_frame[i] + 1, &ref), 0);
        cr_assert_eq(ref.frame, hot_frame[i]);
        cr_assert_eq(wal_find(w, 2, hot_frame[i] - 1, &ref), i == 1 ? CD_ENOTFOUND : 0);
        if (i > 1)
            cr_assert_eq(ref.frame, hot_frame[i - 1]);
        cr_assert_eq(wal_find(w, 3 + i, hot_frame[i], &ref), CD_ENOTFOUND);
        cr_assert_eq(wal_find(w, 3 + i, frame, &ref), 0);
        cr_assert_eq(ref.frame, hot_frame[i] + 1);
    }
    cr_assert_eq(wal_find(w, 2, frame, &ref), 0);
    cr_assert_eq(ref.frame, hot_frame[N / 2]);
    cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
    tu_leaf(pg, TU_P, 2, N / 2, 10);
    cr_assert_arr_eq(got, pg, TU_P);
    cr_assert_eq(wal_close(w), 0);
    testvfs_free(t);
}

/* More frames than one index segment: lookups across segments. */
Test(wal_basic, index_segments) {
    testvfs *t = testvfs_new(6);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 1, &w, NULL), 0);
    const uint32_t N = 2 * WAL_SEG_FRAMES + 100;
    for (uint32_t i = 1; i <= N; i++) {
        uint32_t pgno = 2 + i % 3000; /* pages repeat across segments */
        tu_leaf(pg, TU_P, pgno, i, 10);
        cr_assert_eq(wal_append_page(w, i, pgno, pg), 0);
        cr_assert_eq(wal_append_commit(w, i, NULL, 0), 0);
    }
    cr_assert_eq(wal_max_frame(w), N);
    uint8_t got[TU_P];
    for (uint32_t p = 2; p < 3002; p += 37) {
        /* Newest version: the largest i with 2 + i % 3000 == p. */
        uint32_t r = p - 2, last = r ? r : 3000;
        while (last + 3000 <= N)
            last += 3000;
        wal_frame_ref ref;
        cr_assert_eq(wal_find(w, p, N, &ref), 0);
        cr_assert_eq(ref.frame, last);
        cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
        tu_leaf(pg, TU_P, p, last, 10);
        cr_assert_arr_eq(got, pg, TU_P);
        /* Bounded before its first version: absent. */
        uint32_t first = r ? r : 3000;
        cr_assert_eq(wal_find(w, p, first - 1, &ref), CD_ENOTFOUND);
        cr_assert_eq(wal_find(w, p, first, &ref), 0);
        cr_assert_eq(ref.frame, first);
    }
    cr_assert_eq(wal_close(w), 0);
    wal_recovery rec;
    cr_assert_eq(tu_open(testvfs_vfs(t), 1, &w, &rec), 0);
    cr_assert_eq(rec.frames, N);
    wal_frame_ref ref;
    cr_assert_eq(wal_find(w, 2 + N % 3000, N, &ref), 0);
    cr_assert_eq(ref.frame, N);
    wal_close(w);
    testvfs_free(t);
}

Test(wal_basic, checkpoint_iterator) {
    testvfs *t = testvfs_new(7);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    tu_state st = {0}, mid;
    uint64_t rng = 11, midframe = 0;
    for (uint64_t txn = 1; txn <= 20; txn++) {
        cr_assert_eq(tu_txn(w, &st, txn, 4, &rng), 0);
        if (txn == 10)
            mid = st, midframe = wal_max_frame(w);
    }
    for (int pass = 0; pass < 2; pass++) {
        const tu_state *s = pass ? &mid : &st;
        wal_ckpt *it;
        cr_assert_eq(wal_checkpoint_begin(w, pass ? midframe : wal_max_frame(w),
                                          &it), 0);
        wal_frame_ref ref;
        uint32_t prev = 0, seen = 0;
        uint8_t got[TU_P], want[TU_P];
        while (wal_checkpoint_next(it, &ref) == 1) {
            cr_assert_gt(ref.pgno, prev); /* ascending, each page once */
            prev = ref.pgno;
            seen++;
            cr_assert_eq(wal_read_page(w, &ref, got, NULL, NULL), 0);
            tu_page(want, ref.pgno, s->version[ref.pgno - 2]);
            cr_assert_arr_eq(got, want, TU_P);
        }
        uint32_t expect = 0;
        for (unsigned i = 0; i < TU_NPAGES; i++)
            expect += s->version[i] != 0;
        cr_assert_eq(seen, expect);
        wal_checkpoint_end(it);
    }
    wal_ckpt *it;
    cr_assert_eq(wal_checkpoint_begin(w, wal_max_frame(w) + 1, &it), CD_EINVAL);
    wal_close(w);
    cr_assert_eq(testvfs_live_allocs(t), 0);
    testvfs_free(t);
}

/* After a reset, fewer frames than before: the older generation's frames
 * are still in the file past the new end and must never be replayed. */
Test(wal_basic, reset_never_replays_old_generation) {
    testvfs *t = testvfs_new(8);
    wal *w;
    wal_recovery rec;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    tu_state st = {0};
    uint64_t rng = 13;
    for (uint64_t txn = 1; txn <= 12; txn++)
        cr_assert_eq(tu_txn(w, &st, txn, 5, &rng), 0);
    cr_assert_eq(wal_sync(w), 0);
    uint64_t old_size = wal_size_bytes(w);
    cr_assert_eq(wal_reset(w), 0);
    cr_assert_eq(wal_max_frame(w), 0);
    cr_assert_eq(wal_size_bytes(w), WAL_HDR_AREA);
    tu_state fresh = {0};
    cr_assert_eq(tu_txn(w, &fresh, 13, 2, &rng), 0);
    cr_assert_eq(wal_sync(w), 0);
    tu_expect(w, &fresh, wal_max_frame(w));
    cr_assert_eq(wal_close(w), 0);
    size_t len;
    free(testvfs_file_get(t, TU_PATH, &len));
    cr_assert_geq(len, old_size); /* reused: old frames remain */

    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, &rec), 0);
    cr_assert_eq(rec.generation, 2);
    cr_assert_eq(rec.txns, 1);
    cr_assert_eq(rec.last_txn, 13);
    cr_assert_eq(rec.stop, WAL_STOP_TORN);
    tu_expect(w, &fresh, wal_max_frame(w));
    /* A reset right after reopen, with nothing appended: empty. */
    cr_assert_eq(wal_reset(w), 0);
    cr_assert_eq(wal_close(w), 0);
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, &rec), 0);
    cr_assert_eq(rec.generation, 3);
    cr_assert_eq(rec.txns, 0);
    tu_expect(w, &(tu_state){0}, wal_max_frame(w));
    wal_close(w);
    testvfs_free(t);
}

Test(wal_basic, reset_truncates_large_file) {
    testvfs *t = testvfs_new(9);
    wal_options o;
    wal_options_init(&o, TU_P);
    o.reset_keep_bytes = 8192;
    wal *w;
    cr_assert_eq(wal_open(testvfs_vfs(t), TU_PATH, &o, &w, NULL, NULL), 0);
    tu_state st = {0};
    uint64_t rng = 1;
    for (uint64_t txn = 1; txn <= 5; txn++)
        cr_assert_eq(tu_txn(w, &st, txn, 3, &rng), 0);
    cr_assert_eq(wal_reset(w), 0);
    size_t len;
    free(testvfs_file_get(t, TU_PATH, &len));
    cr_assert_eq(len, WAL_HDR_AREA);
    /* A transaction in progress refuses the reset. */
    tu_page(pg, 2, 1);
    cr_assert_eq(wal_append_page(w, 6, 2, pg), 0);
    cr_assert_eq(wal_reset(w), CD_EBUSY);
    wal_close(w);
    testvfs_free(t);
}

Test(wal_basic, append_argument_errors) {
    testvfs *t = testvfs_new(10);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    tu_page(pg, 5, 1);
    cr_assert_eq(wal_append_page(w, 0, 5, pg), CD_EINVAL);   /* txn 0 */
    cr_assert_eq(wal_append_page(w, 3, 6, pg), CD_EINVAL);   /* pgno */
    cr_assert_eq(wal_append_page(w, 3, 5, NULL), CD_EINVAL);
    cr_assert_eq(wal_append_page(w, 3, 5, pg), 0);
    cr_assert_eq(wal_append_page(w, 4, 5, pg), CD_EINVAL);   /* other txn */
    cr_assert_eq(wal_max_frame(w), 0);                        /* discarded */
    uint8_t big[WAL_COMMIT_PAYLOAD_MAX + 1] = {0};
    cr_assert_eq(wal_append_commit(w, 3, big, sizeof big), CD_EINVAL);
    cr_assert_eq(wal_append_commit(w, 3, big, WAL_COMMIT_PAYLOAD_MAX), 0);
    cr_assert_eq(wal_append_commit(w, 3, NULL, 0), CD_EINVAL); /* not > 3 */
    cr_assert_eq(wal_append_commit(w, 4, NULL, 0), 0);         /* no pages */
    cr_assert_eq(wal_last_txn(w), 4);
    cr_assert_eq(wal_check(w), 0);
    wal_options o;
    wal_options_init(&o, 1000);
    wal *w2;
    cr_assert_eq(wal_open(testvfs_vfs(t), "x", &o, &w2, NULL, NULL), CD_EINVAL);
    wal_options_init(&o, TU_P);
    o.compress_level = 99;
    cr_assert_eq(wal_open(testvfs_vfs(t), "x", &o, &w2, NULL, NULL), CD_EINVAL);
    wal_close(w);
    testvfs_free(t);
}
