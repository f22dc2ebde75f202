/*
 * test_testvfs.c: the fault-injecting test vfs itself, since the crash
 * and fault tests of the layers above are only as good as it is: power
 * loss (DROP keeps the synced image, TORN lands a subset of the unsynced
 * writes with one cut at a sector boundary), dead handles, Nth-call and
 * sticky faults, counters, locks and allocation accounting.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "testvfs.h"

static os_file *open_rw(testvfs *t, const char *p) {
    os_file *f;
    cr_assert_eq(os_open(testvfs_vfs(t), p, OS_OPEN_CREATE, &f, NULL), 0);
    return f;
}

Test(testvfs, read_write_size_truncate) {
    testvfs *t = testvfs_new(1);
    os_file *f = open_rw(t, "a");
    uint8_t buf[3000], back[3000];
    memset(buf, 0xab, sizeof buf);
    cr_assert_eq(os_write(f, 10, buf, sizeof buf), 0);
    uint64_t size;
    cr_assert_eq(os_size(f, &size), 0);
    cr_assert_eq(size, 3010);
    size_t got;
    cr_assert_eq(os_read(f, 0, back, 20, &got), 0);
    cr_assert_eq(got, 20);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(back[i], 0);
    cr_assert_eq(back[10], 0xab);
    cr_assert_eq(os_read(f, 3000, back, 100, &got), 0);
    cr_assert_eq(got, 10);
    cr_assert_eq(os_read(f, 3000, back, 100, NULL), CD_EIO);
    cr_assert_eq(os_truncate(f, 5), 0);
    cr_assert_eq(os_size(f, &size), 0);
    cr_assert_eq(size, 5);
    cr_assert_eq(os_close(f), 0);
    os_file *g;
    cr_assert_eq(os_open(testvfs_vfs(t), "b", OS_OPEN_RDWR, &g, NULL),
                 CD_ENOTFOUND);
    testvfs_free(t);
}

Test(testvfs, drop_keeps_synced_image) {
    testvfs *t = testvfs_new(2);
    os_file *f = open_rw(t, "a");
    cr_assert_eq(os_write(f, 0, "hello", 5), 0);
    cr_assert_eq(os_sync(f), 0);
    cr_assert_eq(os_write(f, 5, " world", 6), 0);
    cr_assert_eq(os_truncate(f, 3), 0);
    cr_assert_eq(testvfs_file_syncs(t, "a"), 1);
    testvfs_crash(t, TESTVFS_DROP);
    uint8_t b[16];
    cr_assert_eq(os_read(f, 0, b, 1, NULL), CD_EIO); /* dead handle */
    cr_assert_eq(os_write(f, 0, b, 1), CD_EIO);
    cr_assert_eq(os_close(f), 0);
    size_t len;
    uint8_t *img = testvfs_file_get(t, "a", &len);
    cr_assert_eq(len, 5);
    cr_assert_arr_eq(img, "hello", 5);
    free(img);
    testvfs_free(t);
}

/* TORN: each unsynced write lands whole, not at all, or (one of them) as
 * a prefix of its sectors; never anything else. */
Test(testvfs, torn_lands_subsets_and_sector_prefixes) {
    int saw_partial = 0, saw_none = 0, saw_all = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        testvfs *t = testvfs_new(seed);
        os_file *f = open_rw(t, "a");
        static uint8_t w1[2048], w2[1500];
        memset(w1, 1, sizeof w1);
        memset(w2, 2, sizeof w2);
        cr_assert_eq(os_write(f, 0, w1, sizeof w1), 0);
        cr_assert_eq(os_write(f, 2048 + 100, w2, sizeof w2), 0);
        testvfs_crash(t, TESTVFS_TORN);
        os_close(f);
        size_t len;
        uint8_t *img = testvfs_file_get(t, "a", &len);
        /* Write 1 landed as a prefix of whole sectors: 0..4 sectors. */
        size_t n1 = 0;
        while (n1 < len && n1 < 2048 && img[n1] == 1)
            n1++;
        cr_assert_eq(n1 % 512, 0, "seed %lu: %zu bytes of write 1", seed, n1);
        /* Write 2 (offset 2148) lands to a sector boundary or whole. */
        size_t n2 = 0;
        while (2148 + n2 < len && img[2148 + n2] == 2)
            n2++;
        cr_assert(n2 == 0 || n2 == 1500 || (2148 + n2) % 512 == 0,
                  "seed %lu: %zu bytes of write 2", seed, n2);
        cr_assert(len == n1 || len == 2148 + n2, "seed %lu: len %zu", seed, len);
        saw_partial |= (n1 > 0 && n1 < 2048) || (n2 > 0 && n2 < 1500);
        saw_none |= len == 0;
        saw_all |= n1 == 2048 || n2 == 1500;
        /* One write is always torn, so never both whole. */
        cr_assert(!(n1 == 2048 && n2 == 1500));
        free(img);
        testvfs_free(t);
    }
    cr_assert(saw_partial && saw_none && saw_all);
}

Test(testvfs, faults_and_counters) {
    testvfs *t = testvfs_new(3);
    os_file *f = open_rw(t, "a");
    testvfs_fail(t, TESTVFS_WRITE, 2, CD_EFULL, 0);
    cr_assert_eq(os_write(f, 0, "a", 1), 0);
    cr_assert_eq(os_write(f, 1, "b", 1), CD_EFULL);
    cr_assert_eq(os_write(f, 1, "c", 1), 0); /* once only */
    testvfs_fail(t, TESTVFS_SYNC, 1, CD_EIO, 1);
    cr_assert_eq(os_sync(f), CD_EIO);
    cr_assert_eq(os_sync(f), CD_EIO); /* sticky */
    cr_assert_eq(testvfs_file_syncs(t, "a"), 0);
    testvfs_fail_clear(t);
    cr_assert_eq(os_sync(f), 0);
    cr_assert_eq(testvfs_file_syncs(t, "a"), 1);
    cr_assert_eq(testvfs_count(t, TESTVFS_WRITE), 3);
    cr_assert_eq(testvfs_count(t, TESTVFS_SYNC), 3);
    /* The failed write changed nothing. */
    size_t len;
    uint8_t *img = testvfs_file_get(t, "a", &len);
    cr_assert_eq(len, 2);
    cr_assert_arr_eq(img, "ac", 2);
    free(img);
    /* Allocations: the Nth fails, frees are counted. */
    os_vfs *vfs = testvfs_vfs(t);
    testvfs_fail(t, TESTVFS_ALLOC, 2, CD_ENOMEM, 0);
    void *p = os_alloc(vfs, 10);
    cr_assert_not_null(p);
    cr_assert_null(os_alloc(vfs, 10));
    cr_assert_eq(testvfs_live_allocs(t), 1);
    os_free(vfs, p);
    cr_assert_eq(testvfs_live_allocs(t), 0);
    os_close(f);
    testvfs_free(t);
}

Test(testvfs, locks_and_remove) {
    testvfs *t = testvfs_new(4);
    os_file *a = open_rw(t, "a"), *b = open_rw(t, "a");
    cr_assert_eq(os_lock(a), 0);
    cr_assert_eq(os_lock(b), CD_EBUSY);
    os_close(a);
    cr_assert_eq(os_lock(b), 0);
    testvfs_crash(t, TESTVFS_DROP); /* a crash releases locks */
    os_file *c = open_rw(t, "a");
    cr_assert_eq(os_lock(c), 0);
    os_close(b);
    os_close(c);
    os_vfs *vfs = testvfs_vfs(t);
    int ex;
    cr_assert_eq(os_remove(vfs, "a", NULL), 0);
    cr_assert_eq(os_exists(vfs, "a", &ex, NULL), 0);
    cr_assert_eq(ex, 0);
    cr_assert_eq(os_remove(vfs, "a", NULL), CD_ENOTFOUND);
    uint64_t r1 = 0, r2 = 0;
    cr_assert_eq(os_random(vfs, &r1, 8), 0);
    cr_assert_eq(os_random(vfs, &r2, 8), 0);
    cr_assert_neq(r1, r2);
    testvfs_free(t);
}
