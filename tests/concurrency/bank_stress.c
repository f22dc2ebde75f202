/*
 * bank_stress.c: N accounts; writers on several threads move money between
 * them (synchronous isle_write and asynchronous isle_write_async mixed, so
 * the writer thread forms commit groups); readers on other threads sum
 * every balance in one snapshot, again and again: every sum must equal the
 * total, across thousands of commits and checkpoints.  A watcher counts
 * commits.  A plain C program (not Criterion) so it runs under
 * ThreadSanitizer with no suppressions.
 *
 * Usage: bank_stress DIR [SECONDS]
 */
#define _DEFAULT_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isle.h"

#define ACCOUNTS 100
#define START 1000
#define SUBMITTERS 3
#define READERS 2

static isle_db *db;
static atomic_int stop;
static atomic_long transfers, sums, async_done, watched;

static void die(const char *what, int rc) {
    fprintf(stderr, "bank_stress: %s: %s: %s\n", what, isle_strerror(rc), isle_errmsg());
    exit(1);
}

typedef struct xfer {
    int from, to;
    int64_t amount;
} xfer;

static int key(int i, char *buf) { return sprintf(buf, "acct%04d", i); }

static int64_t balance(isle_txn *txn, isle_tree t, int i) {
    char k[16];
    isle_val v;
    int rc = isle_kv_get(txn, t, k, (size_t)key(i, k), &v);
    if (rc)
        die("get", rc);
    int64_t b;
    memcpy(&b, v.data, sizeof b);
    isle_kv_release(txn, &v);
    return b;
}

static int do_xfer(isle_txn *txn, void *arg) {
    xfer *x = arg;
    isle_tree t;
    char k[16];
    int rc = isle_kv_open(txn, "bank", 0, &t);
    if (rc)
        return rc;
    int64_t a = balance(txn, t, x->from) - x->amount, b = balance(txn, t, x->to) + x->amount;
    rc = isle_kv_put(txn, t, k, (size_t)key(x->from, k), &a, sizeof a, 0);
    if (rc == 0)
        rc = isle_kv_put(txn, t, k, (size_t)key(x->to, k), &b, sizeof b, 0);
    /* Every 13th transfer fails after writing: it must roll back alone. */
    return rc ? rc : (x->amount % 13 == 0 ? ISLE_ECANCELED : 0);
}

static int setup(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t;
    char k[16];
    int64_t v = START;
    int rc = isle_kv_open(txn, "bank", ISLE_KV_CREATE, &t);
    for (int i = 0; rc == 0 && i < ACCOUNTS; i++)
        rc = isle_kv_put(txn, t, k, (size_t)key(i, k), &v, sizeof v, 0);
    return rc;
}

static void async_complete(void *arg, int code) {
    if (code != 0 && code != ISLE_ECANCELED)
        die("async transfer", code);
    free(arg);
    atomic_fetch_add(&async_done, 1);
}

static void *submitter(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    isle_write_callbacks cb = {.complete = async_complete};
    while (!atomic_load(&stop)) {
        xfer *x = malloc(sizeof *x);
        int from = rand_r(&seed) % ACCOUNTS;
        int to = (from + 1 + rand_r(&seed) % (ACCOUNTS - 1)) % ACCOUNTS; /* never from */
        *x = (xfer){from, to, rand_r(&seed) % 100 + 1};
        if (rand_r(&seed) % 2) {
            int rc = isle_write(db, do_xfer, x);
            if (rc && rc != ISLE_ECANCELED)
                die("transfer", rc);
            free(x);
        } else {
            int rc = isle_write_async(db, do_xfer, x, &cb, NULL, ISLE_PRIORITY_NORMAL, NULL);
            if (rc == ISLE_EAGAIN) {
                free(x);
                usleep(100);
                continue;
            }
            if (rc)
                die("async submit", rc);
        }
        atomic_fetch_add(&transfers, 1);
    }
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        isle_txn *txn;
        isle_tree t;
        int rc = isle_read_begin(db, &txn);
        if (rc || (rc = isle_kv_open(txn, "bank", 0, &t)) != 0)
            die("reader", rc);
        int64_t sum = 0;
        for (int i = 0; i < ACCOUNTS; i++)
            sum += balance(txn, t, i);
        if (sum != (int64_t)ACCOUNTS * START) {
            fprintf(stderr, "bank_stress: sum %" PRId64 " != %d\n", sum, ACCOUNTS * START);
            exit(1);
        }
        isle_read_end(txn);
        atomic_fetch_add(&sums, 1);
    }
    return NULL;
}

static void on_change(void *arg, const isle_change *ch) {
    (void)arg, (void)ch;
    atomic_fetch_add(&watched, 1);
}

static void *checkpointer(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        usleep(20 * 1000);
        int rc = isle_checkpoint(db);
        if (rc)
            die("checkpoint", rc);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bank_stress DIR [SECONDS]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 3;
    char path[512], wal[520];
    snprintf(path, sizeof path, "%s/bank_stress-%d.isle", argv[1], (int)getpid());
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
    isle_options opt;
    isle_options_init(&opt);
    opt.sync = ISLE_SYNC_NORMAL;
    opt.checkpoint_bytes = 512 * 1024;
    opt.queue_max = 64;
    int rc = isle_open(path, &opt, &db);
    if (rc || (rc = isle_write(db, setup, NULL)) != 0)
        die("setup", rc);
    isle_watch *w;
    if ((rc = isle_watch_tree(db, "bank", on_change, NULL, &w)) != 0)
        die("watch", rc);
    pthread_t s[SUBMITTERS], r[READERS], c;
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_create(&s[i], NULL, submitter, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, NULL);
    pthread_create(&c, NULL, checkpointer, NULL);
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop, 1);
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(s[i], NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    pthread_join(c, NULL);
    isle_unwatch(w);
    uint64_t bad;
    if ((rc = isle_close(db)) != 0) /* runs the queued async transfers */
        die("close", rc);
    if ((rc = isle_open(path, &opt, &db)) != 0 || (rc = isle_check(db, &bad)) != 0)
        die("reopen and check", rc);
    isle_txn *txn;
    isle_tree t;
    if ((rc = isle_read_begin(db, &txn)) != 0 || (rc = isle_kv_open(txn, "bank", 0, &t)) != 0)
        die("final read", rc);
    int64_t sum = 0;
    for (int i = 0; i < ACCOUNTS; i++)
        sum += balance(txn, t, i);
    isle_read_end(txn);
    isle_close(db);
    unlink(path);
    unlink(wal);
    if (sum != (int64_t)ACCOUNTS * START) {
        fprintf(stderr, "bank_stress: final sum %" PRId64 "\n", sum);
        return 1;
    }
    printf("bank_stress: %ld transfers (%ld async), %ld consistent sums, %ld watcher calls: ok\n",
           atomic_load(&transfers), atomic_load(&async_done), atomic_load(&sums),
           atomic_load(&watched));
    return atomic_load(&sums) > 0 && atomic_load(&watched) > 0 ? 0 : 1;
}
