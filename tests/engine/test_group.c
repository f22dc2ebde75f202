/*
 * test_group.c: group commit, counted through the OS seam.  Several threads
 * submit durable (FULL) writes at once; the writer commits several with
 * one log sync, so the log sees fewer syncs than commits, and every commit
 * that returned is there after a power loss.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "en.h"
#include "testvfs.h"

#define THREADS 8
#define PER_THREAD 60

static en_db *db;

typedef struct arg {
    int thread, i;
} arg;

static int one(en_txn *txn, void *p) {
    arg *a = p;
    en_tree t;
    char key[32];
    int rc = en_tree_open(txn, "g", EN_TREE_CREATE, &t);
    int n = snprintf(key, sizeof key, "t%d-%04d", a->thread, a->i);
    return rc ? rc : en_put(txn, t, key, (uint32_t)n, key, (uint32_t)n, 0);
}

static void *submitter(void *p) {
    int th = (int)(intptr_t)p;
    for (int i = 0; i < PER_THREAD; i++) {
        arg a = {th, i};
        int rc = en_write_sync(db, one, &a);
        cr_assert_eq(rc, 0, "%s", en_errmsg());
    }
    return NULL;
}

Test(group, fewer_log_syncs_than_commits) {
    testvfs *t = testvfs_new(5);
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_FULL, .create = 1,
                      .checkpoint_bytes = 1ull << 40, .vfs = testvfs_vfs(t)};
    cr_assert_eq(en_open("/g.isle", &opt, &db), 0, "%s", en_errmsg());
    uint64_t syncs0 = testvfs_file_syncs(t, "/g.isle-wal");
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, submitter, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t syncs = testvfs_file_syncs(t, "/g.isle-wal") - syncs0;
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_eq(st.commits, THREADS * PER_THREAD);
    cr_assert_lt(syncs, THREADS * PER_THREAD, "%llu syncs for %d commits",
                 (unsigned long long)syncs, THREADS * PER_THREAD);
    cr_assert_gt(syncs, 0);
    printf("group commit: %d commits, %llu log syncs\n", THREADS * PER_THREAD,
           (unsigned long long)syncs);
    /* Power loss: every acknowledged commit survives. */
    testvfs_crash(t, TESTVFS_DROP);
    en_close(db);
    cr_assert_eq(en_open("/g.isle", &opt, &db), 0, "%s", en_errmsg());
    en_txn *txn;
    en_tree tr;
    cr_assert_eq(en_read_begin(db, &txn), 0);
    cr_assert_eq(en_tree_open(txn, "g", 0, &tr), 0);
    for (int th2 = 0; th2 < THREADS; th2++)
        for (int i = 0; i < PER_THREAD; i++) {
            char key[32];
            int n = snprintf(key, sizeof key, "t%d-%04d", th2, i);
            en_val v;
            cr_assert_eq(en_get(txn, tr, key, (uint32_t)n, &v), 0, "lost %s", key);
            en_val_release(txn, &v);
        }
    en_txn_end(txn);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* ---- one log transaction per group ---------------------------------------- */

/* A held group: the first job waits until every other job is queued, so
 * that the writer takes them all into its group. */
static atomic_int gate_open;

static int gate(en_txn *txn, void *p) {
    (void)txn;
    (void)p;
    while (!atomic_load(&gate_open))
        sched_yield();
    return 0;
}

typedef struct kv_job {
    const char *tree;
    char key[32];
    uint32_t vlen;   /* value: vlen bytes of `fill` */
    uint32_t count;  /* puts of key, key.1, key.2, ... */
    char fill;
    int fail;        /* write, then fail: rolled back */
    atomic_int done, result; /* from the complete callback */
} kv_job;

static int kv_run(en_txn *txn, void *p) {
    kv_job *j = p;
    en_tree t;
    int rc = en_tree_open(txn, j->tree, EN_TREE_CREATE, &t);
    for (uint32_t i = 0; rc == 0 && i < (j->count ? j->count : 1); i++) {
        char key[48];
        int n = i ? snprintf(key, sizeof key, "%s.%u", j->key, i)
                  : snprintf(key, sizeof key, "%s", j->key);
        char v[2048];
        memset(v, j->fill, j->vlen);
        rc = en_put(txn, t, key, (uint32_t)n, v, j->vlen, 0);
    }
    return rc ? rc : j->fail ? CD_EINVAL : 0;
}

static int noop(en_txn *txn, void *p) {
    (void)txn;
    (void)p;
    return 0;
}

static void kv_complete(void *p, int code) {
    kv_job *j = p;
    atomic_store(&j->result, code);
    atomic_store(&j->done, 1);
}

/* Queues a gate, then jobs[0..n), then waits for a sync no-op behind
 * them: all of it one group.  results[i]: job i's status. */
static void run_held_group(kv_job *jobs, int n, int *results) {
    static const en_job_callbacks cb = {.complete = kv_complete};
    atomic_store(&gate_open, 0);
    cr_assert_eq(en_write_async(db, gate, NULL, NULL, NULL, 0, NULL), 0, "%s", en_errmsg());
    for (int i = 0; i < n; i++)
        cr_assert_eq(en_write_async(db, kv_run, &jobs[i], &cb, NULL, 0, NULL), 0, "%s",
                     en_errmsg());
    atomic_store(&gate_open, 1);
    cr_assert_eq(en_write_sync(db, noop, NULL), 0, "%s", en_errmsg());
    for (int i = 0; i < n; i++) {
        while (!atomic_load(&jobs[i].done))
            sched_yield();
        results[i] = atomic_load(&jobs[i].result);
    }
}

static void expect_value(en_txn *txn, const char *tree, const char *key, uint32_t vlen,
                         char fill) {
    en_tree t;
    en_val v;
    cr_assert_eq(en_tree_open(txn, tree, 0, &t), 0, "%s", en_errmsg());
    int rc = en_get(txn, t, key, (uint32_t)strlen(key), &v);
    if (!vlen) {
        cr_assert_eq(rc, CD_ENOTFOUND, "%s/%s should be absent (%d)", tree, key, rc);
        return;
    }
    cr_assert_eq(rc, 0, "%s/%s lost: %s", tree, key, en_errmsg());
    cr_assert_eq(v.len, vlen, "%s/%s", tree, key);
    for (uint32_t i = 0; i < vlen; i++)
        cr_assert_eq(v.data[i], (uint8_t)fill, "%s/%s byte %u", tree, key, i);
    en_val_release(txn, &v);
}

static testvfs *open_held(size_t cache_bytes, en_options *opt) {
    testvfs *t = testvfs_new(7);
    *opt = (en_options){.page_size = 4096, .sync = EN_SYNC_FULL, .create = 1,
                        .cache_bytes = cache_bytes, .checkpoint_bytes = 1ull << 40,
                        .vfs = testvfs_vfs(t)};
    cr_assert_eq(en_open("/h.isle", opt, &db), 0, "%s", en_errmsg());
    return t;
}

static void crash_reopen(testvfs *t, en_options *opt) {
    testvfs_crash(t, TESTVFS_DROP);
    en_close(db);
    cr_assert_eq(en_open("/h.isle", opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
}

Test(group, a_group_rewriting_one_page_logs_it_once) {
    en_options opt;
    testvfs *t = open_held(0, &opt);
    kv_job one = {.tree = "g", .key = "k", .vlen = 100, .fill = 'a'};
    cr_assert_eq(en_write_sync(db, kv_run, &one), 0, "%s", en_errmsg());
    en_stats s0, s1, s2;
    cr_assert_eq(en_stat(db, &s0), 0);
    one.fill = 'b';
    cr_assert_eq(en_write_sync(db, kv_run, &one), 0, "%s", en_errmsg());
    cr_assert_eq(en_stat(db, &s1), 0);
    uint64_t alone = s1.log_bytes - s0.log_bytes; /* one commit of this key */

    kv_job jobs[20];
    int res[20];
    for (int i = 0; i < 20; i++)
        jobs[i] = (kv_job){.tree = "g", .key = "k", .vlen = 100, .fill = (char)('c' + i)};
    run_held_group(jobs, 20, res);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(res[i], 0);
    cr_assert_eq(en_stat(db, &s2), 0);
    cr_assert_eq(s2.commits - s1.commits, 20, "20 writes (the gate and the no-op change nothing): %llu",
                 (unsigned long long)(s2.commits - s1.commits));
    /* Twenty commits of the same pages: written once, as one commit. */
    cr_assert_leq(s2.log_bytes - s1.log_bytes, alone + 2 * 4096,
                  "%llu log bytes for the group, %llu for one commit",
                  (unsigned long long)(s2.log_bytes - s1.log_bytes),
                  (unsigned long long)alone);
    crash_reopen(t, &opt);
    en_txn *txn;
    cr_assert_eq(en_read_begin(db, &txn), 0);
    expect_value(txn, "g", "k", 100, (char)('c' + 19));
    en_txn_end(txn);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/*
 * A commit that changes one record of a loaded tree logs its pages as
 * deltas over their last logged images (wal.h): far less than a page a
 * commit.  What it logged reads back after a power loss, after a
 * checkpoint, and after a reopen.
 */
Test(group, one_record_commits_log_their_changes_not_their_pages) {
    en_options opt;
    testvfs *t = open_held(4u << 20, &opt);
    kv_job load = {.tree = "d", .key = "k", .vlen = 100, .count = 2000, .fill = 'a'};
    cr_assert_eq(en_write_sync(db, kv_run, &load), 0, "%s", en_errmsg());
    en_stats s0, s1;
    cr_assert_eq(en_stat(db, &s0), 0);
    enum { N = 50 };
    for (int i = 0; i < N; i++) {
        kv_job one = {.tree = "d", .vlen = 100, .fill = (char)('b' + i % 20)};
        snprintf(one.key, sizeof one.key, "k.%d", 37 * i + 1); /* spread over the leaves */
        cr_assert_eq(en_write_sync(db, kv_run, &one), 0, "%s", en_errmsg());
    }
    cr_assert_eq(en_stat(db, &s1), 0);
    uint64_t per = (s1.log_bytes - s0.log_bytes) / N;
    /* whole, each commit's leaf alone would take about half a page */
    cr_assert_lt(per, 1024, "%llu log bytes a commit", (unsigned long long)per);
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 0)
            crash_reopen(t, &opt);
        if (pass == 1)
            cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
        if (pass == 2) {
            cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
            cr_assert_eq(en_open("/h.isle", &opt, &db), 0, "%s", en_errmsg());
            cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
        }
        en_txn *txn;
        cr_assert_eq(en_read_begin(db, &txn), 0);
        expect_value(txn, "d", "k", 100, 'a');
        for (int i = 0; i < N; i++) {
            char key[32];
            snprintf(key, sizeof key, "k.%d", 37 * i + 1);
            expect_value(txn, "d", key, 100, (char)('b' + i % 20));
        }
        expect_value(txn, "d", "k.1999", 100, 'a');
        en_txn_end(txn);
    }
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

Test(group, a_failing_job_rolls_back_alone_in_a_logged_group) {
    en_options opt;
    testvfs *t = open_held(0, &opt);
    kv_job jobs[12];
    int res[12];
    for (int i = 0; i < 12; i++) {
        jobs[i] = (kv_job){.tree = i % 2 ? "odd" : "even", .vlen = 300, .fill = (char)('A' + i),
                           .fail = i == 5 || i == 6};
        snprintf(jobs[i].key, sizeof jobs[i].key, "key%02d", i);
    }
    run_held_group(jobs, 12, res);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(res[i], jobs[i].fail ? CD_EINVAL : 0, "job %d: %d", i, res[i]);
    crash_reopen(t, &opt);
    en_txn *txn;
    cr_assert_eq(en_read_begin(db, &txn), 0);
    for (int i = 0; i < 12; i++)
        expect_value(txn, jobs[i].tree, jobs[i].key, jobs[i].fail ? 0 : 300, jobs[i].fill);
    en_txn_end(txn);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* A transaction that spills writes the group's earlier commits first, and
 * reads them back from the log. */
Test(group, a_spilling_job_behind_unlogged_commits) {
    en_options opt;
    testvfs *t = open_held(64 * 1024, &opt);
    kv_job jobs[4] = {
        {.tree = "a", .key = "first", .vlen = 500, .fill = '1'},
        {.tree = "a", .key = "second", .vlen = 500, .fill = '2'},
        {.tree = "a", .key = "big", .vlen = 1500, .count = 400, .fill = '3'},
        {.tree = "a", .key = "last", .vlen = 500, .fill = '4'},
    };
    int res[4];
    en_stats s0, s1;
    cr_assert_eq(en_stat(db, &s0), 0);
    run_held_group(jobs, 4, res);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(res[i], 0, "job %d: %d", i, res[i]);
    cr_assert_eq(en_stat(db, &s1), 0);
    cr_assert_gt(s1.spilled_pages, s0.spilled_pages, "the big job did not spill");
    crash_reopen(t, &opt);
    en_txn *txn;
    cr_assert_eq(en_read_begin(db, &txn), 0);
    expect_value(txn, "a", "first", 500, '1');
    expect_value(txn, "a", "second", 500, '2');
    expect_value(txn, "a", "big", 1500, '3');
    expect_value(txn, "a", "big.399", 1500, '3');
    expect_value(txn, "a", "last", 500, '4');
    en_txn_end(txn);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* ---- watchers and the group's end ------------------------------------------ */

typedef struct heard {
    atomic_int calls;
    char last[32];
} heard;

static void hear(void *p, const en_change *ch) {
    heard *h = p;
    if (ch->keys_known && ch->nkeys == 1)
        snprintf(h->last, sizeof h->last, "%.*s", (int)ch->klens[0],
                 (const char *)ch->keys[0]);
    atomic_fetch_add(&h->calls, 1);
}

/* A held database (open_held) with a watcher of tree "w" telling h. */
static testvfs *open_watched(heard *h, en_watch **w) {
    en_options opt;
    testvfs *t = open_held(1 << 20, &opt);
    cr_assert_eq(en_watch_add(db, "w", NULL, 0, hear, h, w), 0, "%s", en_errmsg());
    return t;
}

static void expect_heard(heard *h, int calls, const char *last) {
    cr_assert_eq(atomic_load(&h->calls), calls, "%d calls, %d expected", atomic_load(&h->calls),
                 calls);
    cr_assert_str_eq(h->last, last);
}

/* Watchers hear of a group's commits only once it is published: a group
 * whose log sync fails was not acknowledged, and they never hear of it. */
Test(group, watchers_hear_nothing_of_a_group_whose_sync_failed) {
    heard h = {0};
    en_watch *w;
    testvfs *t = open_watched(&h, &w);
    kv_job a = {.tree = "w", .key = "a", .vlen = 10, .fill = 'a'};
    cr_assert_eq(en_write_sync(db, kv_run, &a), 0, "%s", en_errmsg());
    expect_heard(&h, 1, "a");
    testvfs_fail(t, TESTVFS_SYNC, 1, CD_EIO, 0);
    kv_job b = {.tree = "w", .key = "b", .vlen = 10, .fill = 'b'};
    cr_assert_eq(en_write_sync(db, kv_run, &b), CD_EIO);
    expect_heard(&h, 1, "a"); /* not told of b: it was not acknowledged */
    en_watch_remove(w);
    en_close(db);
    testvfs_free(t);
}

/* A commit made directly on the caller's thread (not through the writer)
 * tells the watchers before it returns, once: the writer's next group does
 * not tell them again. */
Test(group, a_direct_commit_tells_the_watchers_once) {
    heard h = {0};
    en_watch *w;
    testvfs *t = open_watched(&h, &w);
    en_txn *txn;
    kv_job d = {.tree = "w", .key = "direct", .vlen = 10, .fill = 'd'};
    cr_assert_eq(en_write_begin(db, &txn), 0, "%s", en_errmsg());
    cr_assert_eq(kv_run(txn, &d), 0, "%s", en_errmsg());
    cr_assert_eq(en_commit(txn), 0, "%s", en_errmsg());
    expect_heard(&h, 1, "direct");
    kv_job q = {.tree = "w", .key = "queued", .vlen = 10, .fill = 'q'};
    cr_assert_eq(en_write_sync(db, kv_run, &q), 0, "%s", en_errmsg());
    expect_heard(&h, 2, "queued");
    en_watch_remove(w);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    testvfs_free(t);
}
