/*
 * test_wal_threads.c: lock-free readers of the index while the writer
 * commits.  Each reader captures wal_max_frame (its snapshot bound), looks
 * pages up with wal_find and reads them with its own wal_rctx; every page
 * must be a whole, correct image of a version committed at or before the
 * bound, and versions seen under growing bounds never go back.  Meant for
 * ThreadSanitizer as well as the normal run.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "cd_page.h"
#include "wal_tutil.h"

#define READERS 3
#define TXNS 400

static wal *shared_w;
static atomic_int done;

static void *reader(void *arg) {
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    wal_rctx *r;
    cr_assert_eq(wal_rctx_new(shared_w, &r), 0);
    static _Thread_local uint8_t page[TU_P], want[TU_P];
    uint32_t seen[TU_NPAGES] = {0};
    long reads = 0;
    while (!atomic_load_explicit(&done, memory_order_acquire) || reads < 100) {
        uint64_t bound = wal_max_frame(shared_w);
        unsigned idx = (unsigned)(tu_rand(&rng) % TU_NPAGES);
        wal_frame_ref ref;
        int rc = wal_find(shared_w, 2 + idx, bound, &ref);
        if (rc == CD_ENOTFOUND) {
            cr_assert_eq(seen[idx], 0, "page %u vanished", 2 + idx);
            continue;
        }
        cr_assert_eq(rc, 0);
        cr_assert_leq(ref.frame, bound);
        cr_assert_eq(wal_read_page(shared_w, &ref, page, r, NULL), 0);
        uint32_t v = (uint32_t)cd_page_txn(page);
        cr_assert_geq(v, seen[idx], "page %u went back", 2 + idx);
        seen[idx] = v;
        tu_page(want, 2 + idx, v);
        cr_assert_arr_eq(page, want, TU_P);
        reads++;
    }
    wal_rctx_free(shared_w, r);
    return NULL;
}

Test(wal_threads, readers_during_commits) {
    testvfs *t = testvfs_new(11);
    cr_assert_eq(tu_open(testvfs_vfs(t), 1, &shared_w, NULL), 0);
    atomic_store(&done, 0);
    tu_state st = {0};
    uint64_t rng = 3;
    cr_assert_eq(tu_txn(shared_w, &st, 1, 4, &rng), 0);
    pthread_t th[READERS];
    for (uintptr_t i = 0; i < READERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, reader, (void *)(i + 1)), 0);
    for (uint64_t txn = 2; txn <= TXNS; txn++)
        cr_assert_eq(tu_txn(shared_w, &st, txn, 4, &rng), 0);
    atomic_store_explicit(&done, 1, memory_order_release);
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    tu_expect(shared_w, &st, wal_max_frame(shared_w));
    wal_close(shared_w);
    cr_assert_eq(testvfs_live_allocs(t), 0);
    testvfs_free(t);
}
