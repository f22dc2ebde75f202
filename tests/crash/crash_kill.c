/*
 * crash_kill.c: real processes killed while they commit.
 *
 *     crash_kill [ITERATIONS [PATH]]      (defaults: 200, /tmp/isle-crash-PID.isle)
 *
 * Each iteration forks a child that opens PATH through the public API in
 * FULL mode and commits transactions in a loop, writing the number of each
 * transaction whose isle_write returned 0 to a pipe; after a random delay
 * of 0 to 50 ms the parent kills it with SIGKILL (in the middle of a
 * commit, a checkpoint, or its own recovery), reopens the database and
 * checks that it holds exactly the state after transaction R, where R is
 * at least the last one reported (and at most one more: a commit can land
 * without being reported), and that isle_check passes.  The database
 * carries over from one iteration to the next.
 *
 * Transaction i puts key "txn-%010u" with a value made from i (every
 * seventh one overflow-sized), deletes the key of transaction i - KEEP,
 * and sets meta/last = i; so the state after R is "last = R and exactly
 * the keys of R - KEEP + 1 .. R, with their values".
 *
 * A plain C program (no test framework) so that it also runs under
 * ThreadSanitizer.  Exit status 0 on success, 1 with a message otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "isle.h"

#define KEEP 100u
#define VALUE_MAX 9000u
#define DELAY_MAX_US 50000u

static _Noreturn void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "crash_kill: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t key_of(uint64_t i, char buf[32]) {
    return (size_t)snprintf(buf, 32, "txn-%010llu", (unsigned long long)i);
}

static uint32_t vlen_of(uint64_t i) {
    uint64_t s = i;
    uint64_t r = splitmix(&s);
    return i % 7 == 0 ? 1200 + (uint32_t)(r % (VALUE_MAX - 1200)) : (uint32_t)(r % 400);
}

static void value_of(uint64_t i, uint8_t *buf, uint32_t len) {
    uint64_t s = i * 31 + 7;
    for (uint32_t k = 0; k < len; k += 8) {
        uint64_t r = splitmix(&s);
        for (uint32_t j = 0; j < 8 && k + j < len; j++)
            buf[k + j] = (uint8_t)(r >> (8 * j));
    }
}

static int open_db(const char *path, isle_db **db) {
    isle_options o;
    isle_options_init(&o);
    o.sync = ISLE_SYNC_FULL;
    o.checkpoint_bytes = 192u << 10; /* checkpoints run while it is killed */
    return isle_open(path, &o, db);
}

/* ---- the child: commits until killed ------------------------------------ */

static int txn_fn(isle_txn *txn, void *arg) {
    uint64_t i = *(const uint64_t *)arg;
    static uint8_t val[VALUE_MAX];
    char key[32];
    isle_tree data, meta;
    uint32_t len = vlen_of(i);
    value_of(i, val, len);
    int rc = isle_kv_open(txn, "data", ISLE_KV_CREATE, &data);
    if (rc == 0)
        rc = isle_kv_put(txn, data, key, key_of(i, key), val, len, 0);
    if (rc == 0 && i > KEEP)
        rc = isle_kv_del(txn, data, key, key_of(i - KEEP, key));
    uint8_t last[8];
    for (int k = 0; k < 8; k++)
        last[k] = (uint8_t)(i >> (8 * k));
    if (rc == 0)
        rc = isle_kv_open(txn, "meta", ISLE_KV_CREATE, &meta);
    if (rc == 0)
        rc = isle_kv_put(txn, meta, "last", 4, last, sizeof last, 0);
    return rc;
}

/* meta/last of the newest snapshot, 0 for a new database. */
static int read_last(isle_db *db, uint64_t *last) {
    isle_txn *txn;
    isle_tree meta;
    isle_val v;
    *last = 0;
    int rc = isle_read_begin(db, &txn);
    if (rc)
        return rc;
    rc = isle_kv_open(txn, "meta", 0, &meta);
    if (rc == ISLE_ENOTFOUND) {
        isle_read_end(txn);
        return 0;
    }
    if (rc == 0 && (rc = isle_kv_get(txn, meta, "last", 4, &v)) == 0) {
        if (v.len != 8)
            rc = ISLE_ECORRUPT;
        for (int k = 0; rc == 0 && k < 8; k++)
            *last |= (uint64_t)((const uint8_t *)v.data)[k] << (8 * k);
        isle_kv_release(txn, &v);
    }
    isle_read_end(txn);
    return rc;
}

static _Noreturn void child(const char *path, int fd) {
    isle_db *db;
    uint64_t i;
    int rc = open_db(path, &db);
    if (rc == 0)
        rc = read_last(db, &i);
    if (rc) {
        fprintf(stderr, "crash_kill child: open: %s\n", isle_errmsg());
        _exit(3);
    }
    for (i++;; i++) {
        if ((rc = isle_write(db, txn_fn, &i)) != 0) {
            fprintf(stderr, "crash_kill child: txn %llu: %s\n", (unsigned long long)i,
                    isle_errmsg());
            _exit(3);
        }
        ssize_t n = write(fd, &i, sizeof i);
        if (n != (ssize_t)sizeof i)
            _exit(4);
        if (i % 97 == 0)
            isle_checkpoint(db);
    }
}

/* ---- the parent: kills and checks ----------------------------------------- */

/* Reads the child's reports: last + 1, last + 2, ... in order.  Returns
 * the highest (last if none). */
static uint64_t drain(int fd, uint64_t last, unsigned iter) {
    uint64_t v, expect = last + 1;
    size_t have = 0;
    uint8_t buf[sizeof v];
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        if (have == sizeof buf) {
            memcpy(&v, buf, sizeof v);
            if (v != expect)
                die("iteration %u: the child reported %llu, expected %llu", iter,
                    (unsigned long long)v, (unsigned long long)expect);
            expect++;
            have = 0;
        }
    }
    return expect - 1;
}

/* Checks that db holds exactly the state after transaction r. */
static void verify(isle_db *db, uint64_t r, unsigned iter) {
    static uint8_t want[VALUE_MAX];
    isle_txn *txn;
    isle_tree data;
    if (isle_read_begin(db, &txn) != 0)
        die("iteration %u: read_begin: %s", iter, isle_errmsg());
    int rc = isle_kv_open(txn, "data", 0, &data);
    if (r == 0 && rc == ISLE_ENOTFOUND) {
        isle_read_end(txn);
        return;
    }
    if (rc)
        die("iteration %u: tree data: %s", iter, isle_errmsg());
    uint64_t first = r > KEEP ? r - KEEP + 1 : 1, j = first;
    isle_cursor *c;
    if (isle_cursor_open(txn, data, &c) != 0)
        die("iteration %u: cursor: %s", iter, isle_errmsg());
    for (rc = isle_cursor_first(c); rc == 0; rc = isle_cursor_next(c), j++) {
        const void *k;
        size_t klen;
        isle_val v;
        char key[32];
        size_t want_klen = key_of(j, key);
        if (isle_cursor_get(c, &k, &klen, &v) != 0)
            die("iteration %u: cursor get: %s", iter, isle_errmsg());
        if (j > r || klen != want_klen || memcmp(k, key, klen) != 0)
            die("iteration %u (last %llu): found key %.*s, expected %s", iter,
                (unsigned long long)r, (int)klen, (const char *)k, j > r ? "none" : key);
        uint32_t len = vlen_of(j);
        value_of(j, want, len);
        if (v.len != len || memcmp(v.data, want, len) != 0)
            die("iteration %u: value of transaction %llu differs", iter,
                (unsigned long long)j);
        isle_kv_release(txn, &v);
    }
    if (rc != ISLE_ENOTFOUND)
        die("iteration %u: cursor: %s", iter, isle_errmsg());
    if (j != r + 1)
        die("iteration %u: transactions %llu..%llu are missing", iter,
            (unsigned long long)j, (unsigned long long)r);
    isle_cursor_close(c);
    isle_read_end(txn);
}

static void remove_db(const char *path) {
    char wal[4096 + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
}

int main(int argc, char **argv) {
    unsigned iters = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
    char path[4096];
    if (argc > 2)
        snprintf(path, sizeof path, "%s", argv[2]);
    else
        snprintf(path, sizeof path, "/tmp/isle-crash-%d.isle", (int)getpid());
    remove_db(path);
    uint64_t rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    uint64_t seed = rng;
    uint64_t last = 0, reported = 0, total = 0, beyond = 0;
    for (unsigned iter = 0; iter < iters; iter++) {
        int fds[2];
        if (pipe(fds) != 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            close(fds[0]);
            child(path, fds[1]);
        }
        close(fds[1]);
        unsigned delay_us = (unsigned)(splitmix(&rng) % (DELAY_MAX_US + 1));
        struct timespec ts = {0, (long)delay_us * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        kill(pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (!WIFSIGNALED(status))
            die("iteration %u: the child exited by itself (status %d)", iter,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        reported = drain(fds[0], last, iter);
        close(fds[0]);

        isle_db *db;
        if (open_db(path, &db) != 0)
            die("iteration %u: reopen: %s", iter, isle_errmsg());
        uint64_t r;
        if (read_last(db, &r) != 0)
            die("iteration %u: reading meta/last: %s", iter, isle_errmsg());
        if (r < reported || r < last || r > reported + 1)
            die("iteration %u: the database holds transaction %llu; reported %llu, "
                "before this child %llu", iter, (unsigned long long)r,
                (unsigned long long)reported, (unsigned long long)last);
        verify(db, r, iter);
        uint64_t bad = 0;
        if (isle_check(db, &bad) != 0)
            die("iteration %u: check: page %llu: %s", iter, (unsigned long long)bad,
                isle_errmsg());
        if (isle_close(db) != 0)
            die("iteration %u: close: %s", iter, isle_errmsg());
        beyond += r > reported;
        total += r - last;
        last = r;
    }
    remove_db(path);
    printf("crash_kill: %u kills, %llu commits survived (%llu landed unreported), "
           "seed %llu\n", iters, (unsigned long long)total, (unsigned long long)beyond,
           (unsigned long long)seed);
    return 0;
}
