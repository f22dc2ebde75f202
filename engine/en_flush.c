/*
 * en_flush.c: the main file's write-behind thread.
 *
 * A large transaction hands the runs of consecutive pages it writes to
 * the main file (en_pager.c, write_runs: the pages an ascending load has
 * filled, a spill's, the rest at its commit) to this thread, which seals
 * them (transaction number and checksum), writes them to their place in
 * the main file and hints the device to start on them (os_writeback).
 * The transaction meanwhile fills the next pages: on a machine with two
 * cores the kernel's copy into its page cache, about a quarter of a load,
 * runs beside the load instead of inside it.
 *
 * The ring holds EN_FLUSH_SLOTS runs of up to EN_BEHIND_PAGES pages, each
 * in a buffer of its own: a submitter fills the slot en_flush_slot gives
 * it and submits it; when every slot is in flight it waits for the oldest.
 * Runs are written in the order submitted.
 *
 * Writes in flight touch only pages past the transaction's base_pages,
 * which no reader can reach before the commit.  The one rule that keeps
 * them safe: whoever holds the write lock waits for the ring to drain
 * (en_flush_wait) before it reads or writes the main file any other way,
 * before the commit's sync, and when the transaction ends.  A page number
 * whose run is in flight is thus never written twice at once, and never
 * read back before its bytes are there.
 *
 * A failed write is kept (the first one, with its message) and returned
 * by the next en_flush_slot or en_flush_wait, which fails the transaction;
 * the runs queued behind it are dropped.  If the thread cannot be started
 * the runs are written on the submitter's thread instead.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_int.h"

/* Four runs of 128 KiB in flight: one being written, the rest queued while
 * the loader fills the next. */
#define EN_FLUSH_SLOTS 4u

typedef struct flush_run {
    uint8_t *pages; /* EN_BEHIND_PAGES pages, 64-byte aligned */
    uint32_t pgno;  /* the first page's number */
    uint32_t n;     /* pages in the run */
    uint64_t txn;   /* stamped into every page */
    uint64_t wb_off, wb_len; /* then hint this range (wb_len 0: none) */
} flush_run;

struct en_flusher {
    en_db *db;
    pthread_t thread;
    int started;   /* the thread runs (else the submitter writes) */
    int stop;
    pthread_mutex_t lock;
    pthread_cond_t work; /* a run was submitted, or stop */
    pthread_cond_t done; /* a run was written */
    flush_run run[EN_FLUSH_SLOTS];
    uint64_t head, tail; /* submitted, written: run[i % EN_FLUSH_SLOTS] */
    /* head and tail as stored under lock, for spinning without it; only
     * hints: what they promise is read again under lock */
    atomic_uint_fast64_t head_seen, tail_seen;
    int idle; /* the thread waits on work: a submit must signal */
    /* Off the writer's core (steer_off_writer): the processor the last
     * submit ran on (-1: none yet), the thread's own affinity when it
     * started, and whether it has moved itself since it last slept.
     * shared counts the runs the thread still wrote on the writer's
     * processor (en_flush_stats, for the tests). */
    atomic_int writer_cpu;
    os_cpuset allowed;
    int steered;
    atomic_uint_fast64_t steers, shared;
    atomic_long tid; /* the thread's system id (os_thread_id), for the tests */
    int err;             /* first failure since the last en_flush_wait */
    uint32_t err_pgno;
    char err_text[OS_ERR_TEXT_MAX];
};

/* Seals, writes and hints one run; 0 or a CD_* status, recorded in f. */
static int run_write(en_flusher *f, flush_run *r) {
    en_db *db = f->db;
    uint32_t P = db->page_size;
    for (uint32_t i = 0; i < r->n; i++)
        en_page_seal(r->pages + (size_t)i * P, P, r->txn);
    int rc = os_write(db->file, (uint64_t)r->pgno * P, r->pages, (size_t)r->n * P);
    if (rc == 0 && r->wb_len)
        os_writeback(db->file, r->wb_off, r->wb_len);
    for (uint32_t i = 0; rc == 0 && i < r->n; i++) /* the writer's own pages, whole */
        en_map_verified(db, r->pgno + i);
    return rc;
}

static void record(en_flusher *f, int rc, uint32_t pgno) {
    if (rc && !f->err) {
        f->err = rc;
        f->err_pgno = pgno;
        snprintf(f->err_text, sizeof f->err_text, "%s", os_file_error(f->db->file));
    }
}

/*
 * Spinning before sleeping.  Both sides of the ring sleep on a condition
 * variable, and on a VM a wake-up is costly: the woken thread's vCPU may
 * be halted (an interrupt through the host), or the scheduler puts it on
 * the waker's own core, where it preempts the load or waits behind it.
 * Under `perf sched` a 1M-object load's write-behind thread waited 38 ms
 * in run queues over 656 wake-ups, the loading writer slept 19 ms for
 * free slots and was preempted 56 times waking it, while the other core
 * sat idle 54% of the load.  So the thread, once the ring is empty, and a
 * submitter, when every slot is in flight, poll for FLUSH_SPIN_NS before
 * they sleep, and a submit signals only a thread that sleeps.  The writer
 * fills a run in 150-250 us; the spin outlasts one.  On one processor
 * nobody spins.
 */
#define FLUSH_SPIN_NS 300000u

/*
 * Off the writer's core.  The scheduler places a woken thread near the
 * thread that woke it, and on two cores it sometimes kept the writer and
 * this thread on one core for a whole load while the other idled: each
 * ran while the other waited in the run queue, and each spin above held
 * the core the other needed (under `perf sched`, 0.4-0.8 ms of delay a
 * wake-up, the other core idle for stretches of 3-11 ms).  A 100,000-object
 * load then took 235-303 ns an object instead of 117-127 with the two
 * pinned apart.  So before each run the thread compares its processor
 * with the one the writer last submitted from, and if they are the same
 * it restricts itself to its other allowed processors, which moves it at
 * once; before it sleeps it takes its whole affinity back, so an idle
 * database's thread is not held to a core.  Where the thread may run on
 * one processor only (its affinity, inherited from the thread that
 * started the database) nothing moves.
 */
static void steer_off_writer(en_flusher *f) {
    int w = atomic_load_explicit(&f->writer_cpu, memory_order_relaxed);
    if (w < 0 || os_cpu_current() != w)
        return;
    if (os_cpuset_avoid(&f->allowed, w) == 0) {
        f->steered = 1;
        atomic_fetch_add_explicit(&f->steers, 1, memory_order_relaxed);
    }
    if (os_cpu_current() == w)
        atomic_fetch_add_explicit(&f->shared, 1, memory_order_relaxed);
}

static void steer_release(en_flusher *f) {
    if (f->steered) {
        os_cpuset_set(&f->allowed);
        f->steered = 0;
    }
}

static void *flush_main(void *arg) {
    en_flusher *f = arg;
    atomic_store_explicit(&f->tid, os_thread_id(), memory_order_relaxed);
    os_cpuset_get(&f->allowed);
    pthread_mutex_lock(&f->lock);
    for (;;) {
        if (f->tail == f->head && !f->stop) {
            uint64_t want = f->tail + 1;
            pthread_mutex_unlock(&f->lock);
            en_spin_until(&f->head_seen, want, FLUSH_SPIN_NS);
            pthread_mutex_lock(&f->lock);
        }
        if (f->tail == f->head && !f->stop) {
            pthread_mutex_unlock(&f->lock);
            steer_release(f);
            pthread_mutex_lock(&f->lock);
        }
        while (f->tail == f->head && !f->stop) {
            f->idle = 1;
            pthread_cond_wait(&f->work, &f->lock);
            f->idle = 0;
        }
        if (f->tail == f->head)
            break; /* stopped and drained */
        flush_run *r = &f->run[f->tail % EN_FLUSH_SLOTS];
        int failed = f->err != 0;
        pthread_mutex_unlock(&f->lock);
        steer_off_writer(f);
        int rc = failed ? 0 : run_write(f, r); /* after a failure: dropped */
        pthread_mutex_lock(&f->lock);
        record(f, rc, r->pgno);
        f->tail++;
        atomic_store_explicit(&f->tail_seen, f->tail, memory_order_relaxed);
        pthread_cond_broadcast(&f->done);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static int flusher_new(en_db *db) {
    en_flusher *f = calloc(1, sizeof *f);
    if (!f)
        return en_fail(CD_ENOMEM, "out of memory writing pages behind");
    f->db = db;
    atomic_init(&f->head_seen, 0);
    atomic_init(&f->tail_seen, 0);
    atomic_init(&f->writer_cpu, -1);
    atomic_init(&f->steers, 0);
    atomic_init(&f->shared, 0);
    atomic_init(&f->tid, -1);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->work, NULL);
    pthread_cond_init(&f->done, NULL);
    for (uint32_t i = 0; i < EN_FLUSH_SLOTS; i++) {
        if (posix_memalign((void **)&f->run[i].pages, 64,
                           (size_t)EN_BEHIND_PAGES * db->page_size) != 0) {
            f->run[i].pages = NULL;
            en_flush_free(f);
            return en_fail(CD_ENOMEM, "out of memory writing pages behind");
        }
    }
    f->started = pthread_create(&f->thread, NULL, flush_main, f) == 0;
    db->flusher = f;
    return 0;
}

/* The error kept by f, as the caller's failure; clears it. */
static int take_error(en_flusher *f) {
    int rc = f->err;
    f->err = 0;
    return en_fail(rc, "writing page %u to the main file: %s", f->err_pgno, f->err_text);
}

uint8_t *en_flush_slot(en_db *db, int *rc) {
    *rc = 0;
    if (!db->flusher && (*rc = flusher_new(db)) != 0)
        return NULL;
    en_flusher *f = db->flusher;
    pthread_mutex_lock(&f->lock);
    if (f->head - f->tail == EN_FLUSH_SLOTS && f->started) {
        uint64_t want = f->head - EN_FLUSH_SLOTS + 1;
        pthread_mutex_unlock(&f->lock);
        en_spin_until(&f->tail_seen, want, FLUSH_SPIN_NS);
        pthread_mutex_lock(&f->lock);
    }
    while (f->head - f->tail == EN_FLUSH_SLOTS)
        pthread_cond_wait(&f->done, &f->lock);
    if (f->err)
        *rc = take_error(f);
    pthread_mutex_unlock(&f->lock);
    return *rc ? NULL : f->run[f->head % EN_FLUSH_SLOTS].pages;
}

void en_flush_submit(en_db *db, uint32_t pgno, uint32_t n, uint64_t txn, uint64_t wb_off,
                     uint64_t wb_len) {
    en_flusher *f = db->flusher;
    flush_run *r = &f->run[f->head % EN_FLUSH_SLOTS];
    ISLE_ASSERT(n > 0 && n <= EN_BEHIND_PAGES);
    r->pgno = pgno;
    r->n = n;
    r->txn = txn;
    r->wb_off = wb_off;
    r->wb_len = wb_len;
    if (!f->started) { /* no thread: written here, the failure kept alike */
        record(f, run_write(f, r), pgno);
        return;
    }
    atomic_store_explicit(&f->writer_cpu, os_cpu_current(), memory_order_relaxed);
    pthread_mutex_lock(&f->lock);
    f->head++;
    atomic_store_explicit(&f->head_seen, f->head, memory_order_relaxed);
    if (f->idle)
        pthread_cond_signal(&f->work);
    pthread_mutex_unlock(&f->lock);
}

int en_flush_wait(en_db *db, int report) {
    en_flusher *f = db->flusher;
    if (!f)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&f->lock);
    while (f->tail != f->head)
        pthread_cond_wait(&f->done, &f->lock);
    if (f->err && report)
        rc = take_error(f);
    f->err = 0;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

void en_flush_stats(en_db *db, uint64_t *steers, uint64_t *shared, long *tid) {
    en_flusher *f = db->flusher;
    *steers = f ? atomic_load_explicit(&f->steers, memory_order_relaxed) : 0;
    *shared = f ? atomic_load_explicit(&f->shared, memory_order_relaxed) : 0;
    *tid = f ? atomic_load_explicit(&f->tid, memory_order_relaxed) : -1;
}

void en_flush_free(en_flusher *f) {
    if (!f)
        return;
    if (f->started) {
        pthread_mutex_lock(&f->lock);
        f->stop = 1;
        pthread_cond_signal(&f->work);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
    }
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->work);
    pthread_cond_destroy(&f->done);
    for (uint32_t i = 0; i < EN_FLUSH_SLOTS; i++)
        free(f->run[i].pages);
    free(f);
}
