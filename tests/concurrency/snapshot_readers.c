/*
 * snapshot_readers.c: readers on several threads, each in its own read
 * transaction, check that their snapshot never changes while one writer
 * commits, frees and reuses pages, and checkpoints (resetting the log
 * whenever no reader holds it).
 *
 * The writer keeps N counters in tree "bank", moving amounts between them
 * so their sum stays TOTAL; every transaction also rewrites a "stamp" key
 * with its sequence number.  Every LOAD_EVERY transactions the writer also
 * loads LOAD_KEYS keys in ascending order into tree "load" in one
 * transaction, large enough that its full pages are written behind it on
 * the engine's write-behind thread while the readers read; at the end
 * every loaded key must read back.  A reader begins a transaction, reads the
 * stamp, sums all counters (must be TOTAL), sleeps a little, re-reads
 * everything and requires identical bytes.  A plain C program (not
 * Criterion) so it runs under ThreadSanitizer.
 *
 * Usage: snapshot_readers DIR [SECONDS]
 */
#define _DEFAULT_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "isle.h"

#define ACCOUNTS 200
#define TOTAL (ACCOUNTS * 1000)
#define READERS 3
#define LOAD_EVERY 150
#define LOAD_KEYS 12000 /* x ~420 bytes: past the 2 MiB that starts write-behind */
#define LOAD_VLEN 400

static isle_db *db;
static atomic_int stop;
static atomic_long reads_done, commits_done;

static void die(const char *what, int rc) {
    fprintf(stderr, "snapshot_readers: %s: %s: %s\n", what, isle_strerror(rc), isle_errmsg());
    exit(1);
}

static int key_of(int i, char *buf) { return sprintf(buf, "acct-%05d", i); }

static int64_t get_i64(isle_txn *txn, isle_tree t, const char *key, int klen) {
    isle_val v;
    int rc = isle_kv_get(txn, t, key, (size_t)klen, &v);
    if (rc)
        die("get", rc);
    int64_t x;
    if (v.len != sizeof x)
        die("value size", ISLE_ECORRUPT);
    memcpy(&x, v.data, sizeof x);
    isle_kv_release(txn, &v);
    return x;
}

static int setup(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t;
    int rc = isle_kv_open(txn, "bank", ISLE_KV_CREATE, &t);
    for (int i = 0; rc == 0 && i < ACCOUNTS; i++) {
        char key[32];
        int64_t v = TOTAL / ACCOUNTS;
        rc = isle_kv_put(txn, t, key, (size_t)key_of(i, key), &v, sizeof v, 0);
    }
    int64_t zero = 0;
    return rc ? rc : isle_kv_put(txn, t, "stamp", 5, &zero, sizeof zero, 0);
}

typedef struct move {
    unsigned seed;
    int64_t seq;
} move;

static int transfer(isle_txn *txn, void *arg) {
    move *m = arg;
    isle_tree t;
    int rc = isle_kv_open(txn, "bank", 0, &t);
    for (int k = 0; rc == 0 && k < 5; k++) {
        int a = rand_r(&m->seed) % ACCOUNTS, b = rand_r(&m->seed) % ACCOUNTS;
        char ka[32], kb[32];
        int la = key_of(a, ka), lb = key_of(b, kb);
        int64_t va = get_i64(txn, t, ka, la), amount = rand_r(&m->seed) % 50;
        int64_t nva = va - amount;
        rc = isle_kv_put(txn, t, ka, (size_t)la, &nva, sizeof nva, 0);
        int64_t vb = get_i64(txn, t, kb, lb) + amount;
        if (rc == 0)
            rc = isle_kv_put(txn, t, kb, (size_t)lb, &vb, sizeof vb, 0);
        /* Some garbage that grows and shrinks, so pages are freed and reused. */
        char gk[32], gv[600];
        int gl = sprintf(gk, "junk-%05d", rand_r(&m->seed) % 3000);
        memset(gv, 'x', sizeof gv);
        if (rc == 0 && rand_r(&m->seed) % 2)
            rc = isle_kv_put(txn, t, gk, (size_t)gl, gv, sizeof gv, 0);
        else if (rc == 0 && isle_kv_del(txn, t, gk, (size_t)gl) == ISLE_ENOTFOUND)
            rc = 0;
    }
    return rc ? rc : isle_kv_put(txn, t, "stamp", 5, &m->seq, sizeof m->seq, 0);
}

static void load_value(int64_t k, uint8_t *v) {
    for (int i = 0; i < LOAD_VLEN; i++)
        v[i] = (uint8_t)(k * 13 + i);
}

static int64_t loaded; /* keys in tree "load": written by the writer thread */

static int load(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t;
    int rc = isle_kv_open(txn, "load", ISLE_KV_CREATE, &t);
    uint8_t v[LOAD_VLEN];
    for (int64_t k = loaded; rc == 0 && k < loaded + LOAD_KEYS; k++) {
        char key[32];
        load_value(k, v);
        rc = isle_kv_put(txn, t, key, (size_t)sprintf(key, "load-%010" PRId64, k), v,
                         sizeof v, 0);
    }
    return rc;
}

static int load_check(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t;
    int rc = isle_kv_open(txn, "load", 0, &t);
    uint8_t want[LOAD_VLEN];
    for (int64_t k = 0; rc == 0 && k < loaded; k++) {
        char key[32];
        isle_val v;
        rc = isle_kv_get(txn, t, key, (size_t)sprintf(key, "load-%010" PRId64, k), &v);
        if (rc)
            break;
        load_value(k, want);
        if (v.len != LOAD_VLEN || memcmp(v.data, want, LOAD_VLEN) != 0) {
            fprintf(stderr, "snapshot_readers: loaded key %" PRId64 " reads back wrong\n", k);
            exit(1);
        }
        isle_kv_release(txn, &v);
    }
    return rc;
}

static void *writer(void *arg) {
    (void)arg;
    move m = {.seed = 7};
    while (!atomic_load(&stop)) {
        m.seq++;
        int rc = isle_write(db, transfer, &m);
        if (rc)
            die("transfer", rc);
        atomic_fetch_add(&commits_done, 1);
        if (m.seq % 50 == 0 && (rc = isle_checkpoint(db)) != 0)
            die("checkpoint", rc);
        if (m.seq % LOAD_EVERY == 1) {
            if ((rc = isle_write(db, load, NULL)) != 0)
                die("load", rc);
            loaded += LOAD_KEYS;
        }
    }
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    int64_t *first = malloc(sizeof(int64_t) * ACCOUNTS);
    while (!atomic_load(&stop)) {
        isle_txn *txn;
        isle_tree t;
        int rc = isle_read_begin(db, &txn);
        if (rc)
            die("read_begin", rc);
        if ((rc = isle_kv_open(txn, "bank", 0, &t)) != 0)
            die("open bank", rc);
        int64_t stamp = get_i64(txn, t, "stamp", 5), sum = 0;
        for (int i = 0; i < ACCOUNTS; i++) {
            char key[32];
            first[i] = get_i64(txn, t, key, key_of(i, key));
            sum += first[i];
        }
        if (sum != TOTAL) {
            fprintf(stderr, "snapshot_readers: sum %" PRId64 " != %d at stamp %" PRId64 "\n",
                    sum, TOTAL, stamp);
            exit(1);
        }
        usleep(2000); /* let commits and checkpoints happen under us */
        for (int i = 0; i < ACCOUNTS; i++) {
            char key[32];
            if (get_i64(txn, t, key, key_of(i, key)) != first[i]) {
                fprintf(stderr, "snapshot_readers: account %d changed inside a snapshot\n", i);
                exit(1);
            }
        }
        if (get_i64(txn, t, "stamp", 5) != stamp) {
            fprintf(stderr, "snapshot_readers: stamp changed inside a snapshot\n");
            exit(1);
        }
        isle_read_end(txn);
        atomic_fetch_add(&reads_done, 1);
    }
    free(first);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: snapshot_readers DIR [SECONDS]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    char path[512], wal[520];
    snprintf(path, sizeof path, "%s/snapshot_readers-%d.isle", argv[1], (int)getpid());
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
    isle_options opt;
    isle_options_init(&opt);
    opt.sync = ISLE_SYNC_NORMAL;
    opt.checkpoint_bytes = 256 * 1024; /* automatic checkpoints too */
    int rc = isle_open(path, &opt, &db);
    if (rc || (rc = isle_write(db, setup, NULL)) != 0)
        die("setup", rc);
    pthread_t w, r[READERS];
    pthread_create(&w, NULL, writer, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, NULL);
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop, 1);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    uint64_t bad;
    if ((rc = isle_check(db, &bad)) != 0)
        die("check", rc);
    if ((rc = isle_write(db, load_check, NULL)) != 0)
        die("loaded keys", rc);
    isle_stats st;
    isle_stat(db, &st);
    if (st.direct_pages == 0) {
        fprintf(stderr, "snapshot_readers: nothing was written behind: the load tested nothing\n");
        return 1;
    }
    if ((rc = isle_close(db)) != 0)
        die("close", rc);
    unlink(path);
    unlink(wal);
    printf("snapshot_readers: %ld commits, %ld snapshot reads, %" PRIu64 " checkpoints, "
           "%" PRIu64 " pages, %" PRId64 " keys loaded (%" PRIu64 " pages written behind): ok\n",
           atomic_load(&commits_done), atomic_load(&reads_done), st.checkpoints, st.page_count,
           loaded, st.direct_pages);
    return atomic_load(&reads_done) > 0 && atomic_load(&commits_done) > 0 ? 0 : 1;
}
