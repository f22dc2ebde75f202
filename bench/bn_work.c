/*
 * bn_work.c: the twelve workloads of isle-bench, run on every selected
 * engine through the bn_engine vtable, phase by phase: every engine does
 * run r of a workload before any does run r+1, so drift in a noisy
 * machine falls on all of them alike.  A short workload is repeated
 * (--runs) and its median kept; one whose first run is long runs once.
 *
 * Per object kind: the bulk load (1) leaves a database per engine; its
 * size (10) is taken, it is checkpointed and reopened with the normal
 * options; then random gets (3), the scan (4), gets under a writer (8),
 * updates (5) and deletes (6) run on it, and it is reopened with FULL
 * sync for the durable transactions (7).  Batched inserts (2) use fresh
 * databases; memory (11) and recovery (12) run in child processes of
 * this program (bn_child_mem, bn_child_crash); the hand-off (9) is isle's.
 * Every read decodes every field and is checked against the generator.
 */
#define _XOPEN_SOURCE 700
#include "bn_run.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUNS_MAX 16
#define LONG_RUN_SECS 2.0   /* a first run this long is not repeated */
#define PER_TXN 1000        /* batched workloads: objects per transaction */
#define W8_OPS_MAX 100000u  /* gets per phase of workload 8 ... */
#define W8_PHASE_SECS 0.25  /* ... or as many as fit in this time */
#define W8_UPDATES 10000u   /* distinct objects the workload-8 writer cycles */
#define W8_WRITE_BATCH 100u /* objects per writer transaction */
#define W9_OPS 4000u
#define W7_THREADS 8
#define W7_SAMPLES_MAX (1u << 20)

static const char *const wl_names[BN_WORKLOADS + 1] = {
    "", "bulk", "batch", "get", "scan", "update", "delete", "durable", "concurrent",
    "handoff", "size", "memory", "recovery"};
static const char *const wl_titles[BN_WORKLOADS + 1] = {
    "",
    "bulk insert of N objects in one transaction",
    "insert in batches of 1,000 per transaction",
    "random get by id, decoding every field",
    "full scan, decoding every field",
    "random update of 10% (1,000 per transaction)",
    "delete of 10% (1,000 per transaction)",
    "durable single-object transactions, 1 and 8 threads",
    "random gets while another thread writes",
    "sync write through the writer thread vs on the caller",
    "bytes on disk per object, after load and checkpoint",
    "peak resident memory during the bulk load",
    "open after a crash with a large log"};

const char *bn_workload_name(int w) { return w >= 1 && w <= BN_WORKLOADS ? wl_names[w] : "?"; }
const char *bn_workload_title(int w) { return w >= 1 && w <= BN_WORKLOADS ? wl_titles[w] : "?"; }

int bn_workload_parse(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end)
        return v >= 1 && v <= BN_WORKLOADS ? (int)v : 0;
    for (int w = 1; w <= BN_WORKLOADS; w++)
        if (!strcmp(s, wl_names[w]))
            return w;
    return 0;
}

/* ---- results and progress ---------------------------------------------------- */

void bn_record(bn_results *res, const bn_result *r) {
    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 64;
        bn_result *p = realloc(res->r, cap * sizeof *p);
        if (!p)
            return;
        res->r = p;
        res->cap = cap;
    }
    res->r[res->n++] = *r;
}

void bn_note(bn_results *res, const char *fmt, ...) {
    if (res->nnotes == sizeof res->notes / sizeof res->notes[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->notes[res->nnotes++], sizeof res->notes[0], fmt, ap);
    va_end(ap);
}

const bn_result *bn_find(const bn_results *res, int workload, const char *row,
                         const char *engine) {
    for (size_t i = 0; i < res->n; i++) {
        const bn_result *r = &res->r[i];
        if (r->workload == workload && !strcmp(r->row, row) && !strcmp(r->engine, engine))
            return r;
    }
    return NULL;
}

static uint64_t progress_t0;

void bn_progress(const bn_opts *opt, const char *fmt, ...) {
    if (!opt->progress)
        return;
    if (!progress_t0)
        progress_t0 = bn_now_ns();
    unsigned secs = (unsigned)((bn_now_ns() - progress_t0) / 1000000000ull);
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (opt->progress == 1)
        fprintf(stderr, "\r\033[K[%u:%02u] %s", secs / 60, secs % 60, msg);
    else
        fprintf(stderr, "[%u:%02u] %s\n", secs / 60, secs % 60, msg);
    fflush(stderr);
}

void bn_progress_done(const bn_opts *opt) {
    if (opt->progress == 1)
        fprintf(stderr, "\r\033[K");
}

/* ---- helpers ------------------------------------------------------------------- */

typedef struct slot {
    const bn_engine *e;
    bn_db *db;
    bn_rd *rd;
    char dir[4096];
    int failed;
    double secs[RUNS_MAX];
    int nsecs;
} slot;

typedef struct run_ctx {
    const bn_opts *o;
    bn_results *res;
    slot *slots;
    size_t ns;
    bn_kind kind;
    const bn_set *set;
    int64_t *perm; /* ids 1..n in a random order */
} run_ctx;

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(int64_t *a, size_t n, uint64_t seed) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(&seed) % i);
        int64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double secs_since(uint64_t t0) { return (double)(bn_now_ns() - t0) / 1e9; }

static void slot_fail(run_ctx *c, slot *s, const char *what) {
    bn_note(c->res, "%s: %s failed; its remaining workloads were skipped", s->e->name, what);
    c->res->failures++;
    s->failed = 1;
    if (s->rd) {
        s->e->rd_close(s->rd);
        s->rd = NULL;
    }
    if (s->db) {
        s->e->close(s->db);
        s->db = NULL;
    }
}

static int slot_open(const run_ctx *c, slot *s, const char *dir, int durable, int bulk,
                     bn_db **out) {
    bn_cfg cfg = {.dir = dir, .kind = c->kind, .durable = durable, .bulk = bulk,
                  .keep_log = 0, .cache_bytes = c->o->cache_bytes};
    if (bn_mkdir_p(dir))
        return BN_ERR;
    return s->e->open(&cfg, out);
}

static bn_result result(const slot *s, int w, const char *row, bn_kind kind) {
    bn_result r = {.engine = s->e->name, .workload = w, .kind = kind, .ops_per_s = NAN,
                   .p50_us = NAN, .p99_us = NAN, .bytes = NAN, .value = NAN,
                   .unit = "ops/s", .higher_better = 1, .runs = 1};
    snprintf(r.row, sizeof r.row, "%s", row);
    return r;
}

static void record_rate(run_ctx *c, slot *s, int w, const char *row, uint64_t ops) {
    double secs = median(s->secs, s->nsecs);
    if (isnan(secs) || secs <= 0)
        return;
    bn_result r = result(s, w, row, c->kind);
    r.n = ops;
    r.ops_per_s = (double)ops / secs;
    r.value = r.ops_per_s;
    r.runs = s->nsecs;
    bn_record(c->res, &r);
}

/*
 * Before each timed run, untimed: the engines' background work finished
 * (RocksDB's flushes and compactions) and the scratch file system's dirty
 * pages written back, so that no engine's run pays for another's deferred
 * writes (an LMDB load under MDB_NOSYNC leaves its whole file to the
 * kernel; a RocksDB load leaves memtables to flush).
 */
static void settle(run_ctx *c) {
    for (size_t i = 0; i < c->ns; i++) {
        slot *s = &c->slots[i];
        if (s->db && !s->failed && s->e->settle)
            s->e->settle(s->db);
    }
    bn_sync_fs(c->o->dir);
}

/*
 * Runs fn on every engine, round by round: round r on all engines, then
 * r+1.  fn returns its seconds, or < 0 after a failure it has named.
 */
typedef double (*round_fn)(run_ctx *c, slot *s, int run, void *arg);

static void rounds(run_ctx *c, int w, const char *what, round_fn fn, void *arg) {
    for (size_t i = 0; i < c->ns; i++)
        c->slots[i].nsecs = 0;
    int runs = c->o->runs < RUNS_MAX ? c->o->runs : RUNS_MAX;
    for (int r = 0; r < runs; r++) {
        for (size_t i = 0; i < c->ns; i++) {
            slot *s = &c->slots[i];
            if (s->failed || (r > 0 && (s->nsecs == 0 || s->secs[0] > LONG_RUN_SECS)))
                continue;
            bn_progress(c->o, "%d %s (%s) · %s · run %d/%d", w, what, bn_kind_name(c->kind),
                        s->e->name, r + 1, runs);
            settle(c);
            double t = fn(c, s, r, arg);
            if (t < 0) {
                char buf[64];
                snprintf(buf, sizeof buf, "workload %d (%s)", w, bn_workload_name(w));
                slot_fail(c, s, buf);
                continue;
            }
            s->secs[s->nsecs++] = t;
        }
    }
}

static int verify(run_ctx *c, slot *s, int w, uint64_t count, uint64_t want_count,
                  uint64_t sum, uint64_t want_sum) {
    if (count == want_count && sum == want_sum)
        return 0;
    bn_note(c->res, "%s: workload %d read %llu objects (want %llu), checksum %s", s->e->name,
            w, (unsigned long long)count, (unsigned long long)want_count,
            sum == want_sum ? "right" : "WRONG");
    return -1;
}

/* ---- 1: bulk insert; 2: batched insert ------------------------------------------ */

static double insert_into(run_ctx *c, slot *s, bn_db *db, size_t per_txn) {
    bn_wr *w;
    if (s->e->wr_open(db, &w))
        return -1;
    uint64_t t0 = bn_now_ns();
    int rc = s->e->write(w, BN_INSERT, c->set->objs, c->set->n, per_txn, BN_ASCENDING);
    double t = secs_since(t0);
    s->e->wr_close(w);
    return rc ? -1 : t;
}

/* Loads a fresh database that stays open in s->db (the last run's). */
static double w1_bulk(run_ctx *c, slot *s, int run, void *arg) {
    (void)run;
    (void)arg;
    if (s->db) {
        s->e->close(s->db);
        s->db = NULL;
    }
    bn_rm_rf(s->dir);
    if (slot_open(c, s, s->dir, 0, 1, &s->db))
        return -1;
    return insert_into(c, s, s->db, c->set->n);
}

static double w2_batch(run_ctx *c, slot *s, int run, void *arg) {
    (void)arg;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s-batch%d", s->dir, run);
    bn_db *db;
    if (slot_open(c, s, dir, 0, 1, &db))
        return -1;
    double t = insert_into(c, s, db, PER_TXN);
    s->e->close(db);
    bn_rm_rf(dir);
    return t;
}

/* ---- 3: random get; 4: scan --------------------------------------------------- */

static double w3_get(run_ctx *c, slot *s, int run, void *arg) {
    (void)run;
    (void)arg;
    uint64_t sum = 0, found = 0;
    size_t n = c->set->n;
    if (s->e->rd_begin(s->rd))
        return -1;
    uint64_t t0 = bn_now_ns();
    for (size_t i = 0; i < n; i++) {
        int rc = s->e->get(s->rd, c->perm[i], &sum);
        if (rc < 0) {
            s->e->rd_end(s->rd);
            return -1;
        }
        found += rc == 0;
    }
    double t = secs_since(t0);
    if (s->e->rd_end(s->rd))
        return -1;
    return verify(c, s, 3, found, n, sum, c->set->sum) ? -1 : t;
}

static double w4_scan(run_ctx *c, slot *s, int run, void *arg) {
    (void)run;
    (void)arg;
    uint64_t count = 0, sum = 0;
    if (s->e->rd_begin(s->rd))
        return -1;
    uint64_t t0 = bn_now_ns();
    int rc = s->e->scan(s->rd, &count, &sum);
    double t = secs_since(t0);
    if (s->e->rd_end(s->rd) || rc)
        return -1;
    return verify(c, s, 4, count, c->set->n, sum, c->set->sum) ? -1 : t;
}

/* ---- 5: update 10%; 6: delete 10% ----------------------------------------------- */

typedef struct mut_arg {
    bn_set sets[RUNS_MAX]; /* run r's objects: updated versions, or ids to delete */
    int made[RUNS_MAX];
    bn_op op;
} mut_arg;

static const bn_set *mut_set(run_ctx *c, mut_arg *m, int run) {
    if (m->made[run])
        return &m->sets[run];
    size_t k = c->set->n / 10 ? c->set->n / 10 : 1;
    int64_t *ids = malloc(k * sizeof *ids);
    if (!ids)
        return NULL;
    if (m->op == BN_UPDATE) { /* a fresh random 10% per run */
        int64_t *all = malloc(c->set->n * sizeof *all);
        if (!all) {
            free(ids);
            return NULL;
        }
        for (size_t i = 0; i < c->set->n; i++)
            all[i] = (int64_t)i + 1;
        shuffle(all, c->set->n, 0x5EED0 + (uint64_t)run);
        memcpy(ids, all, k * sizeof *ids);
        free(all);
    } else { /* disjoint slices of the random order: each id deleted once */
        for (size_t i = 0; i < k; i++)
            ids[i] = c->perm[((size_t)run * k + i) % c->set->n];
    }
    int rc = bn_set_make(&m->sets[run], c->kind, ids, k, (uint32_t)run + 1);
    free(ids);
    if (rc)
        return NULL;
    m->made[run] = 1;
    return &m->sets[run];
}

static double w56_mutate(run_ctx *c, slot *s, int run, void *arg) {
    mut_arg *m = arg;
    const bn_set *set = mut_set(c, m, run);
    if (!set)
        return -1;
    bn_wr *w;
    if (s->e->wr_open(s->db, &w))
        return -1;
    uint64_t t0 = bn_now_ns();
    int rc = s->e->write(w, m->op, set->objs, set->n, PER_TXN, 0);
    double t = secs_since(t0);
    s->e->wr_close(w);
    if (rc == BN_NOTFOUND) {
        bn_note(c->res, "%s: workload %d missed objects that exist", s->e->name,
                m->op == BN_UPDATE ? 5 : 6);
        return -1;
    }
    return rc ? -1 : t;
}

/* ---- 7: durable single-object transactions ------------------------------------ */

typedef struct dur_thread {
    slot *s;
    bn_db *db;
    bn_kind kind;
    int64_t id_base;
    double secs;
    pthread_barrier_t *bar;
    uint64_t *lat;
    size_t ops;
    int err;
    uint64_t elapsed_ns;
} dur_thread;

static void *dur_main(void *arg) {
    dur_thread *t = arg;
    bn_wr *w = NULL;
    t->err = t->s->e->wr_open(t->db, &w);
    pthread_barrier_wait(t->bar);
    if (t->err)
        return NULL;
    char buf[BN_GEN_BYTES_MAX];
    bn_obj o;
    uint64_t start = bn_now_ns(), limit = (uint64_t)(t->secs * 1e9), now = start;
    while (now - start < limit && t->ops < W7_SAMPLES_MAX) {
        bn_gen(t->kind, t->id_base + (int64_t)t->ops, 0, &o, buf);
        uint64_t t0 = bn_now_ns();
        if (t->s->e->write(w, BN_INSERT, &o, 1, 1, 0)) {
            t->err = 1;
            break;
        }
        now = bn_now_ns();
        t->lat[t->ops++] = now - t0;
    }
    t->elapsed_ns = now - start;
    t->s->e->wr_close(w);
    return NULL;
}

/* What the rounds of one engine and thread count add up to. */
typedef struct w7_acc {
    uint64_t *lat;
    size_t n;
    uint64_t elapsed_ns;
} w7_acc;

/* One round: `threads` writers for secs; appends to acc; 0 or -1. */
static int w7_round(run_ctx *c, slot *s, int threads, int round, double secs, w7_acc *acc) {
    dur_thread t[W7_THREADS];
    pthread_t th[W7_THREADS];
    pthread_barrier_t bar;
    int err = 0;
    for (int i = 0; i < threads; i++) {
        /* ids above the load, distinct per round and thread */
        t[i] = (dur_thread){.s = s, .db = s->db, .kind = c->kind, .secs = secs,
                            .id_base = (int64_t)c->set->n * 4 + 1 + (threads > 1 ? 1ll << 40 : 0) +
                                       (int64_t)round * 100000000 + (int64_t)i * 10000000};
        t[i].lat = malloc(W7_SAMPLES_MAX * sizeof(uint64_t));
        err |= !t[i].lat;
    }
    if (!err) {
        pthread_barrier_init(&bar, NULL, (unsigned)threads);
        for (int i = 0; i < threads; i++)
            t[i].bar = &bar;
        for (int i = 1; i < threads; i++)
            pthread_create(&th[i], NULL, dur_main, &t[i]);
        dur_main(&t[0]);
        for (int i = 1; i < threads; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&bar);
    }
    uint64_t elapsed = 0;
    for (int i = 0; i < threads; i++) {
        err |= t[i].err;
        elapsed = t[i].elapsed_ns > elapsed ? t[i].elapsed_ns : elapsed;
        uint64_t *more = err ? NULL : realloc(acc->lat, (acc->n + t[i].ops + 1) * sizeof *more);
        if (more) {
            memcpy(more + acc->n, t[i].lat, t[i].ops * sizeof *more);
            acc->lat = more;
            acc->n += t[i].ops;
        } else {
            err = 1;
        }
        free(t[i].lat);
    }
    acc->elapsed_ns += elapsed;
    return err ? -1 : 0;
}

static void w7_record(run_ctx *c, slot *s, w7_acc *acc, const char *row, int rounds) {
    if (!acc->n || !acc->elapsed_ns)
        return;
    bn_result r = result(s, 7, row, c->kind);
    r.n = acc->n;
    r.runs = rounds;
    r.ops_per_s = (double)acc->n / ((double)acc->elapsed_ns / 1e9);
    r.value = r.ops_per_s;
    r.unit = "txn/s";
    r.p50_us = bn_quantile_us(acc->lat, acc->n, 0.50);
    r.p99_us = bn_quantile_us(acc->lat, acc->n, 0.99);
    r.show_p99 = 1;
    bn_record(c->res, &r);
}

/*
 * --durable-secs per engine and thread count, cut into --runs rounds that
 * alternate between the engines: a burst of another process's disk
 * traffic then falls on all of them, not on one.
 */
static void w7_durable(run_ctx *c) {
    int rounds = c->o->runs < RUNS_MAX ? c->o->runs : RUNS_MAX;
    double secs = c->o->durable_secs / rounds;
    w7_acc *acc = calloc(c->ns * 2, sizeof *acc);
    static const int threads[2] = {1, W7_THREADS};
    static const char *const rows[2] = {"durable txn, 1 thread", "durable txn, 8 threads"};
    for (int r = 0; acc && r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < c->ns; i++) {
                slot *s = &c->slots[i];
                if (s->failed)
                    continue;
                bn_progress(c->o, "7 durable transactions · %s · %d thread%s · round %d/%d",
                            s->e->name, threads[k], threads[k] > 1 ? "s" : "", r + 1, rounds);
                settle(c);
                if (w7_round(c, s, threads[k], r, secs, &acc[i * 2 + (size_t)k]))
                    slot_fail(c, s, "workload 7");
            }
        }
    }
    for (size_t i = 0; acc && i < c->ns; i++) {
        for (int k = 0; k < 2; k++) {
            if (!c->slots[i].failed)
                w7_record(c, &c->slots[i], &acc[i * 2 + (size_t)k], rows[k], rounds);
            free(acc[i * 2 + (size_t)k].lat);
        }
    }
    free(acc);
}

/* ---- 8: random gets under a concurrent writer ---------------------------------- */

typedef struct w8_writer {
    slot *s;
    const bn_set *upd;
    atomic_int stop; /* set by the reader thread; relaxed: a flag, no data */
    uint64_t ops, elapsed_ns;
    int err;
} w8_writer;

static void *w8_writer_main(void *arg) {
    w8_writer *wt = arg;
    bn_wr *w;
    if (wt->s->e->wr_open(wt->s->db, &w)) {
        wt->err = 1;
        return NULL;
    }
    size_t at = 0, n = wt->upd->n, batch = n < W8_WRITE_BATCH ? n : W8_WRITE_BATCH;
    uint64_t t0 = bn_now_ns();
    while (!atomic_load_explicit(&wt->stop, memory_order_relaxed)) {
        if (at + batch > n)
            at = 0;
        if (wt->s->e->write(w, BN_UPDATE, wt->upd->objs + at, batch, batch, 0)) {
            wt->err = 1;
            break;
        }
        at += batch;
        wt->ops += batch;
    }
    wt->elapsed_ns = bn_now_ns() - t0;
    wt->s->e->wr_close(w);
    return NULL;
}

typedef struct w8_figs {
    double ops[RUNS_MAX], p50[RUNS_MAX], p99[RUNS_MAX], wops[RUNS_MAX];
    size_t count[RUNS_MAX];
    int n;
} w8_figs;

/* One phase: up to m gets (W8_PHASE_SECS at most), each its own read;
 * 0 or -1. */
static int w8_phase(run_ctx *c, slot *s, size_t off, size_t m, uint64_t *lat, w8_figs *f,
                    w8_writer *wt) {
    pthread_t th;
    if (wt && pthread_create(&th, NULL, w8_writer_main, wt))
        return -1;
    uint64_t sum = 0, found = 0, t0 = bn_now_ns(), limit = (uint64_t)(W8_PHASE_SECS * 1e9);
    size_t done = 0;
    int err = 0;
    for (; done < m; done++) {
        if (done % 256 == 0 && done && bn_now_ns() - t0 > limit)
            break;
        uint64_t a = bn_now_ns();
        int rc = s->e->get1(s->rd, c->perm[(off + done) % c->set->n], &sum);
        lat[done] = bn_now_ns() - a;
        if (rc < 0) {
            err = 1;
            break;
        }
        found += rc == 0;
    }
    double secs = secs_since(t0);
    if (wt) {
        atomic_store_explicit(&wt->stop, 1, memory_order_relaxed);
        pthread_join(th, NULL);
        err |= wt->err;
        f->wops[f->n] = wt->elapsed_ns ? (double)wt->ops / ((double)wt->elapsed_ns / 1e9) : 0;
    }
    if (err || !done || verify(c, s, 8, found, done, sum, sum))
        return -1;
    f->ops[f->n] = (double)done / secs;
    f->p50[f->n] = bn_quantile_us(lat, done, 0.50);
    f->p99[f->n] = bn_quantile_us(lat, done, 0.99);
    f->count[f->n] = done;
    f->n++;
    return 0;
}

static void w8_record(run_ctx *c, slot *s, w8_figs *f, const char *row) {
    bn_result r = result(s, 8, row, c->kind);
    r.n = f->count[0];
    r.runs = f->n;
    r.ops_per_s = median(f->ops, f->n);
    r.value = r.ops_per_s;
    r.p50_us = median(f->p50, f->n);
    r.p99_us = median(f->p99, f->n);
    r.show_p99 = 1;
    bn_record(c->res, &r);
}

static void w8_concurrent(run_ctx *c) {
    size_t m = c->set->n < W8_OPS_MAX ? c->set->n : W8_OPS_MAX;
    size_t k = c->set->n < W8_UPDATES ? c->set->n : W8_UPDATES;
    uint64_t *lat = malloc(m * sizeof *lat);
    bn_set upd;
    if (!lat || bn_set_make(&upd, c->kind, c->perm + (c->set->n - k), k, 1)) {
        free(lat);
        bn_note(c->res, "workload 8: out of memory");
        return;
    }
    int runs = c->o->runs < RUNS_MAX ? c->o->runs : RUNS_MAX;
    w8_figs *quiet = calloc(c->ns, sizeof *quiet), *busy = calloc(c->ns, sizeof *busy);
    for (int r = 0; quiet && busy && r < runs; r++) {
        for (size_t i = 0; i < c->ns; i++) {
            slot *s = &c->slots[i];
            if (s->failed)
                continue;
            bn_progress(c->o, "8 gets under a writer · %s · run %d/%d", s->e->name, r + 1, runs);
            w8_writer wt = {.s = s, .upd = &upd};
            settle(c);
            if (w8_phase(c, s, (size_t)r * 2 * m, m, lat, &quiet[i], NULL) ||
                w8_phase(c, s, ((size_t)r * 2 + 1) * m, m, lat, &busy[i], &wt))
                slot_fail(c, s, "workload 8");
        }
    }
    for (size_t i = 0; quiet && busy && i < c->ns; i++) {
        slot *s = &c->slots[i];
        if (s->failed || !quiet[i].n || !busy[i].n)
            continue;
        w8_record(c, s, &quiet[i], "get, no writer");
        w8_record(c, s, &busy[i], "get, writer running");
        bn_result r = result(s, 8, "writer during gets", c->kind);
        r.ops_per_s = r.value = median(busy[i].wops, busy[i].n);
        r.runs = busy[i].n;
        bn_record(c->res, &r);
        double p99q = median(quiet[i].p99, quiet[i].n), p99b = median(busy[i].p99, busy[i].n);
        r = result(s, 8, "p99 with writer / without", c->kind);
        r.value = p99q > 0 ? p99b / p99q : NAN;
        r.unit = "x";
        r.higher_better = 0;
        bn_record(c->res, &r);
    }
    free(quiet);
    free(busy);
    free(lat);
    bn_set_free(&upd);
}

/* ---- 10: bytes on disk --------------------------------------------------------- */

static void record_size(run_ctx *c, slot *s, const char *what) {
    char row[48];
    snprintf(row, sizeof row, "%s%s", what, c->kind == BN_PROFILE ? " (profile)" : "");
    bn_result r = result(s, 10, row, c->kind);
    r.n = c->set->n;
    r.bytes = (double)bn_dir_bytes(s->dir) / (double)c->set->n;
    r.value = r.bytes;
    r.unit = "B/obj";
    r.higher_better = 0;
    bn_record(c->res, &r);
}

/* Size after the load, checkpoint (timed), size after; for every run the
 * checkpoint also brings each engine to its resting state before reads. */
static void w10_checkpoint(run_ctx *c, int measure) {
    for (size_t i = 0; i < c->ns; i++) {
        slot *s = &c->slots[i];
        if (s->failed || !s->db)
            continue;
        bn_progress(c->o, "10 checkpoint (%s) · %s", bn_kind_name(c->kind), s->e->name);
        if (measure)
            record_size(c, s, "B/obj after load");
        settle(c);
        uint64_t t0 = bn_now_ns();
        if (s->e->checkpoint(s->db)) {
            slot_fail(c, s, "checkpoint");
            continue;
        }
        double t = secs_since(t0);
        if (!measure)
            continue;
        record_size(c, s, "B/obj after checkpoint");
        char row[48];
        snprintf(row, sizeof row, "checkpoint time%s",
                 c->kind == BN_PROFILE ? " (profile)" : "");
        bn_result r = result(s, 10, row, c->kind);
        r.info = 1; /* isle may have checkpointed during the load already */
        r.value = t * 1e3;
        r.unit = "ms";
        r.higher_better = 0;
        bn_record(c->res, &r);
    }
}

/* Closes each database and opens it again with the normal or durable
 * options (and a reader). */
static void reopen_all(run_ctx *c, int durable) {
    for (size_t i = 0; i < c->ns; i++) {
        slot *s = &c->slots[i];
        if (s->failed)
            continue;
        if (s->rd) {
            s->e->rd_close(s->rd);
            s->rd = NULL;
        }
        if (s->db) {
            s->e->close(s->db);
            s->db = NULL;
        }
        if (slot_open(c, s, s->dir, durable, 0, &s->db) || s->e->rd_open(s->db, &s->rd))
            slot_fail(c, s, "reopen");
    }
}

static void close_all(run_ctx *c) {
    for (size_t i = 0; i < c->ns; i++) {
        slot *s = &c->slots[i];
        if (s->rd)
            s->e->rd_close(s->rd);
        if (s->db)
            s->e->close(s->db);
        s->rd = NULL;
        s->db = NULL;
        bn_rm_rf(s->dir);
    }
}

/* ---- 11, 12: child processes ------------------------------------------------------ */

/* Runs this program as `--child mode` for engine e; its stdout to out. */
static int spawn_child(const bn_opts *o, const char *mode, const bn_engine *e, const char *dir,
                       char *out, size_t outlen, int *status) {
    char nbuf[32], cbuf[32];
    snprintf(nbuf, sizeof nbuf, "%zu", o->n);
    snprintf(cbuf, sizeof cbuf, "%zu", o->cache_bytes >> 20);
    char *argv[] = {(char *)o->self, "--child", (char *)mode, "--engines", (char *)e->name,
                    "--n", nbuf, "--cache-mb", cbuf, "--dir", (char *)dir, NULL};
    int fds[2];
    if (pipe(fds))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(o->self, argv);
        _exit(127);
    }
    close(fds[1]);
    size_t at = 0;
    ssize_t got;
    while ((got = read(fds[0], out + at, outlen - 1 - at)) > 0 || (got < 0 && errno == EINTR))
        if (got > 0)
            at += (size_t)got;
    out[at] = 0;
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

static void w11_memory(run_ctx *c) {
    for (size_t i = 0; i < c->ns; i++) {
        slot *s = &c->slots[i];
        char dir[4200], out[256];
        int status;
        unsigned long long base, peak;
        snprintf(dir, sizeof dir, "%s-mem", s->dir);
        bn_progress(c->o, "11 peak memory of a bulk load · %s (child process)", s->e->name);
        if (spawn_child(c->o, "mem", s->e, dir, out, sizeof out, &status) ||
            !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
            sscanf(out, "BN-MEM %llu %llu", &base, &peak) != 2) {
            bn_note(c->res, "%s: workload 11 (memory) failed in its child process", s->e->name);
            c->res->failures++;
            bn_rm_rf(dir);
            continue;
        }
        bn_rm_rf(dir);
        bn_result r = result(s, 11, "peak RSS growth, bulk load", c->kind);
        r.n = c->set->n;
        r.bytes = peak > base ? (double)(peak - base) : 0;
        r.value = r.bytes / (1024.0 * 1024.0);
        r.unit = "MiB";
        r.higher_better = 0;
        bn_record(c->res, &r);
    }
}

static double w12_reopen(run_ctx *c, slot *s, const char *dir) {
    bn_db *db;
    bn_rd *rd;
    uint64_t sum = 0, t0 = bn_now_ns();
    if (slot_open(c, s, dir, 0, 0, &db))
        return -1;
    if (s->e->rd_open(db, &rd)) {
        s->e->close(db);
        return -1;
    }
    /* the first reads: SQLite rebuilds its WAL index on the first read */
    int a = s->e->get1(rd, (int64_t)c->set->n, &sum), b = s->e->get1(rd, 1, &sum);
    double t = secs_since(t0);
    s->e->rd_close(rd);
    s->e->close(db);
    return a || b ? -1 : t;
}

static void w12_recovery(run_ctx *c) {
    for (size_t i = 0; i < c->ns; i++) {
        slot *s = &c->slots[i];
        char dir[4200], out[256];
        int status;
        snprintf(dir, sizeof dir, "%s-crash", s->dir);
        bn_progress(c->o, "12 recovery · %s · loading, then SIGKILL (child process)",
                    s->e->name);
        if (spawn_child(c->o, "crash", s->e, dir, out, sizeof out, &status) ||
            !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL || strncmp(out, "BN-CRASH", 8)) {
            bn_note(c->res, "%s: workload 12 (recovery): the child did not load and crash",
                    s->e->name);
            c->res->failures++;
            bn_rm_rf(dir);
            continue;
        }
        uint64_t bytes = bn_dir_bytes(dir);
        bn_progress(c->o, "12 recovery · %s · opening after the crash", s->e->name);
        settle(c);
        double t = w12_reopen(c, s, dir);
        bn_rm_rf(dir);
        if (t < 0) {
            bn_note(c->res, "%s: workload 12: open after the crash failed", s->e->name);
            c->res->failures++;
            continue;
        }
        bn_result r = result(s, 12, "open after crash", c->kind);
        r.n = c->set->n;
        r.bytes = (double)bytes;
        r.value = t * 1e3;
        r.unit = "ms";
        r.higher_better = 0;
        bn_record(c->res, &r);
        r = result(s, 12, "files at crash", c->kind);
        r.info = 1;
        r.bytes = (double)bytes;
        r.value = (double)bytes / (1024.0 * 1024.0);
        r.unit = "MiB";
        r.higher_better = 0;
        bn_record(c->res, &r);
    }
}

int bn_child_mem(const bn_opts *o, const bn_engine *e) {
    bn_set set;
    if (bn_set_make(&set, BN_USER, NULL, o->n, 0))
        return 1;
    bn_cfg cfg = {.dir = o->dir, .kind = BN_USER, .bulk = 1, .cache_bytes = o->cache_bytes};
    bn_rm_rf(o->dir);
    if (bn_mkdir_p(o->dir))
        return 1;
    bn_mem_reset_peak();
    uint64_t base = bn_mem_rss();
    bn_db *db;
    bn_wr *w;
    if (e->open(&cfg, &db))
        return 1;
    if (e->wr_open(db, &w) || e->write(w, BN_INSERT, set.objs, set.n, set.n, BN_ASCENDING))
        return 1;
    uint64_t peak = bn_mem_peak();
    printf("BN-MEM %llu %llu\n", (unsigned long long)base, (unsigned long long)peak);
    e->wr_close(w);
    e->close(db);
    bn_set_free(&set);
    return 0;
}

int bn_child_crash(const bn_opts *o, const bn_engine *e) {
    bn_set set;
    if (bn_set_make(&set, BN_USER, NULL, o->n, 0))
        return 1;
    bn_cfg cfg = {.dir = o->dir, .kind = BN_USER, .keep_log = 1, .cache_bytes = o->cache_bytes};
    bn_rm_rf(o->dir);
    bn_db *db;
    bn_wr *w;
    if (bn_mkdir_p(o->dir) || e->open(&cfg, &db) || e->wr_open(db, &w))
        return 1;
    if (e->write(w, BN_INSERT, set.objs, set.n, PER_TXN, BN_ASCENDING))
        return 1;
    printf("BN-CRASH %llu\n", (unsigned long long)bn_dir_bytes(o->dir));
    fflush(stdout);
    kill(getpid(), SIGKILL);
    return 1;
}

/* ---- 9: the writer-thread hand-off (isle) --------------------------------------- */

static void w9_handoff(const bn_opts *o, bn_results *res) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/isle-handoff", o->dir);
    uint64_t *via = malloc(W9_OPS * sizeof *via), *direct = malloc(W9_OPS * sizeof *direct);
    bn_progress(o, "9 writer-thread hand-off · isle");
    if (!via || !direct || bn_mkdir_p(dir) ||
        bn_isle_handoff(dir, W9_OPS, via, direct)) {
        bn_note(res, "isle: workload 9 (hand-off) failed");
        res->failures++;
        goto out;
    }
    double mean[2] = {0, 0};
    for (size_t i = 0; i < W9_OPS; i++) {
        mean[0] += (double)via[i] / 1e3 / W9_OPS;
        mean[1] += (double)direct[i] / 1e3 / W9_OPS;
    }
    /* The figure is the median: the mean of the caller's view also holds
     * the checkpoints the writer thread runs between writes, which a
     * ready-to-success window leaves out. */
    const char *rows[2] = {"isle_write, caller's view", "same write, on the writer"};
    uint64_t *lat[2] = {via, direct};
    double p50[2];
    for (int k = 0; k < 2; k++) {
        bn_result r = {.engine = "isle", .workload = 9, .kind = BN_USER, .n = W9_OPS,
                       .ops_per_s = 1e6 / mean[k], .unit = "us p50", .higher_better = 0,
                       .bytes = NAN, .runs = 1, .show_p99 = 1};
        snprintf(r.row, sizeof r.row, "%s", rows[k]);
        r.p50_us = p50[k] = bn_quantile_us(lat[k], W9_OPS, 0.50);
        r.p99_us = bn_quantile_us(lat[k], W9_OPS, 0.99);
        r.value = r.p50_us;
        bn_record(res, &r);
    }
    bn_result r = {.engine = "isle", .workload = 9, .kind = BN_USER, .n = W9_OPS,
                   .ops_per_s = NAN, .p50_us = NAN, .p99_us = NAN, .bytes = NAN,
                   .value = p50[0] - p50[1], .unit = "us p50", .higher_better = 0, .runs = 1};
    snprintf(r.row, sizeof r.row, "hand-off cost per write");
    bn_record(res, &r);
out:
    bn_rm_rf(dir);
    free(via);
    free(direct);
}

/* ---- the run -------------------------------------------------------------------- */

#define WANT(o, w) ((o)->workloads & (1u << (w)))

static void run_loaded(run_ctx *c) {
    const bn_opts *o = c->o;
    char row[48];
    const char *k = c->kind == BN_PROFILE ? " (profile)" : "";
    if (WANT(o, 3)) {
        rounds(c, 3, "random get", w3_get, NULL);
        snprintf(row, sizeof row, "random get + decode%s", k);
        for (size_t i = 0; i < c->ns; i++)
            record_rate(c, &c->slots[i], 3, row, c->set->n);
    }
    if (WANT(o, 4)) {
        rounds(c, 4, "scan", w4_scan, NULL);
        snprintf(row, sizeof row, "scan + decode%s", k);
        for (size_t i = 0; i < c->ns; i++)
            record_rate(c, &c->slots[i], 4, row, c->set->n);
    }
    if (c->kind != BN_USER)
        return;
    if (WANT(o, 8))
        w8_concurrent(c);
    static const char *const mut_rows[2] = {"update 10%, 1000/txn", "delete 10%, 1000/txn"};
    for (int w = 5; w <= 6; w++) {
        if (!WANT(o, w))
            continue;
        mut_arg *m = calloc(1, sizeof *m);
        if (!m)
            continue;
        m->op = w == 5 ? BN_UPDATE : BN_DELETE;
        rounds(c, w, w == 5 ? "update 10%" : "delete 10%", w56_mutate, m);
        size_t n10 = c->set->n / 10 ? c->set->n / 10 : 1;
        for (size_t i = 0; i < c->ns; i++)
            record_rate(c, &c->slots[i], w, mut_rows[w - 5], n10);
        for (int r = 0; r < RUNS_MAX; r++)
            if (m->made[r])
                bn_set_free(&m->sets[r]);
        free(m);
    }
    if (WANT(o, 7)) {
        reopen_all(c, 1);
        w7_durable(c);
    }
}

static void run_kind(run_ctx *c) {
    const bn_opts *o = c->o;
    char row[48];
    const char *k = c->kind == BN_PROFILE ? " (profile)" : "";
    int need_db = WANT(o, 1) || WANT(o, 3) || WANT(o, 4) || WANT(o, 10) ||
                  (c->kind == BN_USER && (WANT(o, 5) || WANT(o, 6) || WANT(o, 7) || WANT(o, 8)));
    if (need_db) {
        if (WANT(o, 1)) {
            rounds(c, 1, "bulk insert", w1_bulk, NULL);
            snprintf(row, sizeof row, "bulk insert, 1 txn%s", k);
            for (size_t i = 0; i < c->ns; i++)
                record_rate(c, &c->slots[i], 1, row, c->set->n);
        } else {
            bn_opts one = *o; /* a setup load: one run, no figure */
            one.runs = 1;
            c->o = &one;
            rounds(c, 1, "load (untimed)", w1_bulk, NULL);
            c->o = o;
        }
        w10_checkpoint(c, WANT(o, 10));
        reopen_all(c, 0);
        run_loaded(c);
        close_all(c);
    }
    if (c->kind != BN_USER)
        return;
    if (WANT(o, 2)) {
        rounds(c, 2, "insert, 1000/txn", w2_batch, NULL);
        for (size_t i = 0; i < c->ns; i++)
            record_rate(c, &c->slots[i], 2, "insert, 1000/txn", c->set->n);
    }
    if (WANT(o, 11))
        w11_memory(c);
    if (WANT(o, 12))
        w12_recovery(c);
}

int bn_run(const bn_opts *o, bn_results *res) {
    slot slots[BN_ENGINES_MAX];
    memset(slots, 0, sizeof slots);
    for (bn_kind kind = BN_USER; kind < BN_KINDS; kind++) {
        if (!(o->kinds & (1u << kind)))
            continue;
        bn_progress(o, "generating %zu %s objects", o->n, bn_kind_name(kind));
        bn_set set;
        int64_t *perm = malloc((o->n ? o->n : 1) * sizeof *perm);
        if (!perm || bn_set_make(&set, kind, NULL, o->n, 0)) {
            free(perm);
            bn_note(res, "out of memory for %zu objects", o->n);
            return -1;
        }
        for (size_t i = 0; i < o->n; i++)
            perm[i] = (int64_t)i + 1;
        shuffle(perm, o->n, 0xB0A7 + (uint64_t)kind);
        run_ctx c = {.o = o, .res = res, .slots = slots, .ns = o->nengines, .kind = kind,
                     .set = &set, .perm = perm};
        for (size_t i = 0; i < o->nengines; i++) {
            slots[i] = (slot){.e = o->engines[i]};
            snprintf(slots[i].dir, sizeof slots[i].dir, "%s/%s-%s", o->dir, o->engines[i]->name,
                     bn_kind_name(kind));
        }
        run_kind(&c);
        free(perm);
        bn_set_free(&set);
    }
    for (size_t i = 0; i < o->nengines; i++)
        if (WANT(o, 9) && !strcmp(o->engines[i]->name, "isle"))
            w9_handoff(o, res);
    bn_progress_done(o);
    return 0;
}
