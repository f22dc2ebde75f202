/*
 * test_wal_zstd.c: the measurement behind the log's compression default.
 * Skipped unless ISLE_WAL_MEASURE is set (ISLE_WAL_MEASURE_DIR picks the
 * disk, default /tmp).  For B+tree pages built with the page codec (leaves
 * of 40-byte records with 8-byte keys at 50% and 100% fill, branch pages)
 * it prints the zstd ratio and time per page at levels 1 and 3, and the
 * time to write and fdatasync commits of those sizes on this disk, raw and
 * compressed, so the engine (and wal_options defaults) can choose.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "wal_tutil.h"

#define NPG 256

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static uint8_t pages[NPG][TU_P];

static void make_pages(int kind) {
    for (uint32_t i = 0; i < NPG; i++) {
        if (kind == 0)
            tu_leaf(pages[i], TU_P, 10 + i, i + 1, 50);
        else if (kind == 1)
            tu_leaf(pages[i], TU_P, 10 + i, i + 1, 100);
        else
            tu_branch(pages[i], TU_P, 10 + i, i + 1, 150 + i % 100);
    }
}

/* Compresses every page; returns total bytes and sets µs per page. */
static size_t compress_all(int level, double *c_us, double *d_us) {
    static uint8_t out[TU_P], back[TU_P];
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t total = 0;
    double t0 = now_us();
    for (int rep = 0; rep < 8; rep++)
        for (int i = 0; i < NPG; i++) {
            size_t n = ZSTD_compressCCtx(c, out, sizeof out, pages[i], TU_P,
                                         level);
            cr_assert(!ZSTD_isError(n));
            if (rep == 0)
                total += n;
        }
    *c_us = (now_us() - t0) / (8 * NPG);
    double dt = 0;
    for (int i = 0; i < NPG; i++) {
        size_t n = ZSTD_compressCCtx(c, out, sizeof out, pages[i], TU_P, level);
        double t1 = now_us();
        for (int rep = 0; rep < 8; rep++)
            cr_assert_eq(ZSTD_decompressDCtx(d, back, TU_P, out, n), TU_P);
        dt += now_us() - t1;
    }
    *d_us = dt / (8 * NPG);
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
    return total;
}

/* Mean µs of pwrite(bytes) + fdatasync, appending, over reps commits. */
static double commit_us(os_file *f, size_t bytes, int reps) {
    static uint8_t buf[NPG * (TU_P + 64)];
    memset(buf, 0x5a, sizeof buf);
    uint64_t off = 0;
    cr_assert_eq(os_truncate(f, 0), 0);
    cr_assert_eq(os_sync(f), 0);
    double t0 = now_us();
    for (int r = 0; r < reps; r++) {
        cr_assert_eq(os_write(f, off, buf, bytes), 0);
        cr_assert_eq(os_sync(f), 0);
        off += bytes;
    }
    return (now_us() - t0) / reps;
}

Test(wal_zstd, measure) {
    if (!getenv("ISLE_WAL_MEASURE"))
        cr_skip_test("set ISLE_WAL_MEASURE=1 to measure");
    const char *dir = getenv("ISLE_WAL_MEASURE_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/isle-zstd-measure.bin", dir ? dir : "/tmp");
    os_file *f;
    cr_assert_eq(os_open(os_vfs_default(), path, OS_OPEN_CREATE, &f, NULL), 0);
    static const char *names[] = {"leaf 50%", "leaf 100%", "branch"};
    const size_t F = WAL_FRAME_HDR_SIZE;
    printf("page size %u, %d pages per kind\n", TU_P, NPG);
    printf("%-10s %5s %8s %9s %9s | commit of 1 / 16 / 256 pages: "
           "write+fdatasync us\n", "pages", "level", "ratio", "comp us",
           "dec us");
    for (int kind = 0; kind < 3; kind++) {
        make_pages(kind);
        size_t raw = NPG * (TU_P + F);
        double r1 = commit_us(f, 1 * (TU_P + F), 200);
        double r16 = commit_us(f, 16 * (TU_P + F), 100);
        double r256 = commit_us(f, raw, 20);
        printf("%-10s %5s %8s %9s %9s | %8.0f %8.0f %8.0f\n", names[kind],
               "raw", "1.00", "-", "-", r1, r16, r256);
        for (int level = 1; level <= 3; level += 2) {
            double cus, dus;
            size_t z = compress_all(level, &cus, &dus);
            size_t per = z / NPG + F;
            double c1 = commit_us(f, per, 200);
            double c16 = commit_us(f, 16 * per, 100);
            double c256 = commit_us(f, NPG * per, 20);
            printf("%-10s %5d %8.2f %9.1f %9.1f | %8.0f %8.0f %8.0f"
                   "  (+%.0f / %.0f / %.0f us compressing)\n",
                   names[kind], level, (double)NPG * TU_P / z, cus, dus, c1,
                   c16, c256, cus, 16 * cus, NPG * cus);
        }
    }
    os_close(f);
    os_remove(os_vfs_default(), path, NULL);
}
