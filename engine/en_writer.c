/*
 * en_writer.c: the writer thread.  Every write transaction of a database
 * runs on it, in the order its queue gives (en_queue.c, or the
 * application's own through en_queue_ops).
 *
 *   submit --add--> QUEUED --next--> RUNNING --commit group--> DONE
 *                     \--cancel--> CANCELED (complete(CD_ECANCELED) only)
 *
 * The writer takes a job, runs it (ready callback, then fn in a write
 * transaction, committed into the current group), and while more jobs wait
 * and the group is under EN_GROUP_TXNS_MAX transactions and
 * EN_GROUP_BYTES_MAX log bytes, takes the next one into the same group.
 * Then one log write and one log sync cover the group (en_group_end: a
 * page that several of its transactions rewrote is written once), readers
 * see it,
 * watchers hear of it, and each job gets its callbacks (success or error,
 * then complete) or wakes its waiting caller.  A job that fails rolls back
 * alone; the others of its group commit.
 *
 * Locking: q_lock guards the queue, job states and the writer's wake-ups;
 * callbacks and transactions run with no lock of ours held.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "en_int.h"

_Thread_local en_db *en_writer_of;

int en_on_writer(const en_db *db) { return en_writer_of == db; }

int en_job_priority(const en_job *job) { return job->priority; }
const char *en_job_name(const en_job *job) { return job->name; }

static void job_unref(en_job *j) {
    /* acq_rel: the last holder sees every write of the others */
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1)
        free(j);
}

void en_job_release(en_job *job) {
    if (job)
        job_unref(job);
}

/* ---- callbacks, directly or through the dispatcher ---------------------- */

enum { CB_READY, CB_SUCCESS, CB_ERROR, CB_COMPLETE };

typedef struct posted {
    en_job *job;
    int kind, code;
} posted;

static void run_cb(en_job *j, int kind, int code) {
    if (kind == CB_READY)
        j->cb.ready(j->arg);
    else if (kind == CB_SUCCESS)
        j->cb.success(j->arg, j->txn_id);
    else if (kind == CB_ERROR)
        j->cb.error(j->arg, code);
    else
        j->cb.complete(j->arg, code);
}

static void posted_run(void *arg) {
    posted *p = arg;
    run_cb(p->job, p->kind, p->code);
    job_unref(p->job);
    free(p);
}

static int has_cb(const en_job *j, int kind) {
    return kind == CB_READY ? j->cb.ready != NULL
         : kind == CB_SUCCESS ? j->cb.success != NULL
         : kind == CB_ERROR ? j->cb.error != NULL
                            : j->cb.complete != NULL;
}

static void deliver(en_db *db, en_job *j, int kind, int code) {
    if (!has_cb(j, kind))
        return;
    const en_dispatcher *d = &db->opt.dispatcher;
    posted *p = d->post ? malloc(sizeof *p) : NULL;
    if (!p) { /* no dispatcher (or no memory for the hand-off): run here */
        run_cb(j, kind, code);
        return;
    }
    *p = (posted){j, kind, code};
    atomic_fetch_add_explicit(&j->refs, 1, memory_order_relaxed);
    d->post(posted_run, p, d->ctx);
}

/* The last step of a job on the writer: callbacks or the waiter. */
static void job_finish(en_db *db, en_job *j) {
    if (j->waiter) {
        pthread_mutex_lock(&db->q_lock);
        j->state = JOB_DONE;
        /* release: the waiter's spin sees the result (it then takes q_lock
         * before returning, so this critical section is over) */
        atomic_store_explicit(&j->finished, 1, memory_order_release);
        pthread_cond_signal(&j->done);
        pthread_mutex_unlock(&db->q_lock); /* j lives on the waiter's stack: */
        return;                            /* not touched again */
    }
    deliver(db, j, j->result ? CB_ERROR : CB_SUCCESS, j->result);
    deliver(db, j, CB_COMPLETE, j->result);
    pthread_mutex_lock(&db->q_lock);
    j->state = JOB_DONE;
    pthread_mutex_unlock(&db->q_lock);
    job_unref(j);
}

/* ---- the writer ------------------------------------------------------------ */

static void save_msg(en_job *j) {
    if (j->waiter)
        snprintf(j->msg, sizeof j->msg, "%s", en_errmsg());
}

/* Runs one job inside the current commit group. */
static void run_one(en_db *db, en_job *j) {
    int open = atomic_load(&db->open_state);
    if (open < 0) {
        j->result = open;
        snprintf(j->msg, sizeof j->msg, "%s", db->open_msg);
        return;
    }
    deliver(db, j, CB_READY, 0);
    en_txn *t;
    int rc = en_write_begin(db, &t);
    if (rc == 0) {
        j->txn_id = t->st.txn;
        en_clear_error();
        rc = j->fn(t, j->arg);
        if (rc) {
            char why[400];
            snprintf(why, sizeof why, "%s", en_errmsg());
            if (why[0])
                en_fail(rc, "the write transaction was rolled back: %s", why);
            else
                en_fail(rc, "the write transaction returned %d and was rolled back", rc);
            en_txn_end(t);
        } else {
            rc = en_commit_group(t);
        }
    }
    j->result = rc;
    if (rc)
        save_msg(j);
}

/* Takes the next job for the group, or NULL. */
static en_job *take_next(en_db *db) {
    pthread_mutex_lock(&db->q_lock);
    en_job *j = db->queue.next(db->queue.q);
    if (j) {
        db->queued--;
        atomic_store_explicit(&db->pending_hint, db->queued, memory_order_relaxed);
        j->state = JOB_RUNNING;
        pthread_cond_signal(&db->space_cond);
    }
    pthread_mutex_unlock(&db->q_lock);
    return j;
}

static void run_group(en_db *db, en_job *first) {
    en_job *group[EN_GROUP_TXNS_MAX];
    uint32_t n = 0;
    int open = atomic_load(&db->open_state) > 0;
    uint64_t start = 0;
    if (open) {
        en_group_begin(db); /* the log is the write lock's: read it after */
        start = wal_size_bytes(db->wal);
    }
    for (en_job *j = first; j;) {
        group[n++] = j;
        run_one(db, j);
        if (n == EN_GROUP_TXNS_MAX ||
            (open && wal_size_bytes(db->wal) - start > EN_GROUP_BYTES_MAX))
            break;
        j = take_next(db);
    }
    int rc = open ? en_group_end(db) : 0;
    for (uint32_t i = 0; rc && i < n; i++) {
        if (group[i]->result == 0) { /* committed, but the sync failed */
            group[i]->result = rc;
            save_msg(group[i]);
        }
    }
    for (uint32_t i = 0; i < n; i++) /* the watchers heard first (en_group_end) */
        job_finish(db, group[i]);
}

/* Delivers complete(CD_ECANCELED) to cancelled jobs; q_lock held. */
static void deliver_cancelled(en_db *db) {
    en_job *list = db->cancelled;
    db->cancelled = NULL;
    pthread_mutex_unlock(&db->q_lock);
    for (en_job *j = list, *next; j; j = next) {
        next = j->link;
        deliver(db, j, CB_COMPLETE, CD_ECANCELED);
        job_unref(j);
    }
    pthread_mutex_lock(&db->q_lock);
}

/*
 * Spinning.  A hand-off through a condition variable costs two context
 * switches (tens of microseconds on a busy machine); so the writer, before
 * sleeping, and a synchronous caller, before waiting, poll for a short
 * while (SPIN_NS) with the lock released.  On one core this only delays
 * the sleep by that much.
 */
#define SPIN_NS 20000
/* The writer spins longer: after a commit that woke its caller, the next
 * job of that caller comes a wake-up later (30-80 us on a busy VM), and
 * catching it saves the writer's own wake-up.  Measured with durable
 * one-object commits from one thread: 3,260 -> 3,720 a second. */
#define WRITER_SPIN_FACTOR 5
/* A synchronous caller that is the only one waiting spins through the
 * whole commit, log sync included, up to this many SPIN_NS: the wake-up
 * after a sync it slept through costs 30-80 us on a VM, a third of a
 * durable one-object commit.  It costs a core that would otherwise sit
 * idle while the writer waits for the disk.  With other callers waiting,
 * the cores go to them and to the writer instead: a long spin among 8
 * durable callers on 2 cores halved their commits. */
#define CALLER_ALONE_SPIN_FACTOR 25

int en_cpu_count(void) {
    static atomic_int cpus; /* relaxed: every thread computes the same value */
    int n = atomic_load_explicit(&cpus, memory_order_relaxed);
    if (n == 0) {
        n = os_cpu_count();
        atomic_store_explicit(&cpus, n, memory_order_relaxed);
    }
    return n;
}

/* Spinning only helps when the other side can run meanwhile. */
static int spin_ns(void) { return en_cpu_count() > 1 ? SPIN_NS : 0; }

/*
 * Whether a synchronous caller that found its job first in the queue spins
 * before waiting.  Alone, it spins (through the sync, see
 * CALLER_ALONE_SPIN_FACTOR).  Among other callers it spins only when its
 * wait is short (no log sync) and the waiters do not outnumber the cores.
 * A durable commit among others waits a disk flush, 100 us or more: a
 * short spin there only took a core from the callers just woken, who were
 * putting their next jobs into the group.  Measured with 8 threads of
 * durable one-object commits on 2 cores: groups of 4.7 -> 7.3 commits,
 * 23-24k -> 32-35k commits a second (2 threads: 8.7-8.9k -> 11.1-11.9k).
 */
static int caller_spins(const en_db *db, int waiters) {
    if (spin_ns() == 0)
        return 0;
    if (waiters == 1)
        return 1;
    return db->opt.sync != EN_SYNC_FULL && waiters <= en_cpu_count();
}

uint64_t en_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int en_spin_until(atomic_uint_fast64_t *v, uint64_t want, uint64_t ns) {
    if (ns == 0 || en_cpu_count() < 2) /* nothing to gain on one processor */
        return 0;
    uint64_t until = en_mono_ns() + ns;
    do {
        for (int k = 0; k < 64; k++) {
            if (atomic_load_explicit(v, memory_order_relaxed) >= want)
                return 1;
            os_cpu_relax();
        }
    } while (en_mono_ns() < until);
    return 0;
}

/* q_lock held on entry and exit; 1 if work (or quit) may have come. */
static int spin_for_work(en_db *db) {
    if (spin_ns() == 0)
        return 0;
    pthread_mutex_unlock(&db->q_lock);
    /* pending_hint is only a hint: the queue is read under q_lock after */
    int seen = en_spin_until(&db->pending_hint, 1, (uint64_t)spin_ns() * WRITER_SPIN_FACTOR);
    pthread_mutex_lock(&db->q_lock);
    return seen || db->queued || db->cancelled || db->quit;
}

static void *writer_main(void *arg) {
    en_db *db = arg;
    en_writer_of = db;
    if (atomic_load(&db->open_state) == 0) { /* deferred open */
        int rc = en_open_steps(db);
        if (rc)
            snprintf(db->open_msg, sizeof db->open_msg, "%s", en_errmsg());
        pthread_mutex_lock(&db->q_lock);
        atomic_store(&db->open_state, rc ? rc : 1);
        pthread_cond_broadcast(&db->open_cond);
        pthread_mutex_unlock(&db->q_lock);
    }
    pthread_mutex_lock(&db->q_lock);
    for (;;) {
        if (db->cancelled) {
            deliver_cancelled(db);
            continue;
        }
        en_job *j = db->queue.next(db->queue.q);
        if (!j) {
            if (db->quit)
                break;
            if (spin_for_work(db))
                continue;
            pthread_cond_wait(&db->q_cond, &db->q_lock);
            continue;
        }
        db->queued--;
        atomic_store_explicit(&db->pending_hint, db->queued, memory_order_relaxed);
        j->state = JOB_RUNNING;
        pthread_cond_signal(&db->space_cond);
        pthread_mutex_unlock(&db->q_lock);
        run_group(db, j);
        pthread_mutex_lock(&db->q_lock);
    }
    pthread_mutex_unlock(&db->q_lock);
    return NULL;
}

/* ---- submitting ------------------------------------------------------------- */

/* Queues j; q_lock held.  wait: block for room (sync), else CD_EAGAIN. */
static int enqueue(en_db *db, en_job *j, int wait) {
    while (wait && !db->closing && db->queued >= db->queue_max)
        pthread_cond_wait(&db->space_cond, &db->q_lock);
    if (db->closing)
        return en_fail(CD_ECLOSED, "the database is closing");
    if (db->queued >= db->queue_max)
        return en_fail(CD_EAGAIN, "the write queue is full (%u jobs)", db->queue_max);
    j->seq = ++db->job_seq;
    j->state = JOB_QUEUED;
    int rc = db->queue.add(db->queue.q, j);
    if (rc)
        return en_fail(rc, "the write queue refused the job");
    db->queued++;
    atomic_store_explicit(&db->pending_hint, db->queued, memory_order_relaxed);
    pthread_cond_signal(&db->q_cond);
    return 0;
}

int en_write_sync(en_db *db, en_job_fn fn, void *arg) {
    if (!db || !fn)
        return en_fail(CD_EINVAL, "en_write_sync: NULL argument");
    if (en_writer_of == db)
        return en_fail(CD_EDEADLK, "a synchronous write from inside a write transaction "
                                   "or a callback on the writer thread would wait for itself");
    en_job j = {.db = db, .fn = fn, .arg = arg, .priority = EN_PRIORITY_NORMAL, .waiter = 1};
    pthread_cond_init(&j.done, NULL);
    atomic_fetch_add_explicit(&db->sync_waiters, 1, memory_order_relaxed);
    pthread_mutex_lock(&db->q_lock);
    int rc = enqueue(db, &j, 1);
    /* Spin a little before sleeping (see SPIN_NS and caller_spins), unless
     * other jobs are queued ahead: then the writer has work for longer than
     * a spin, and spinning callers would only take the cores it needs. */
    if (rc == 0 && db->queued == 1 &&
        caller_spins(db, atomic_load_explicit(&db->sync_waiters, memory_order_relaxed))) {
        pthread_mutex_unlock(&db->q_lock);
        uint64_t start = en_mono_ns(), ns = (uint64_t)spin_ns();
        /* acquire: pairs with job_finish's release */
        while (!atomic_load_explicit(&j.finished, memory_order_acquire)) {
            /* relaxed: a hint; whichever value is seen, the wait is right */
            int alone = atomic_load_explicit(&db->sync_waiters, memory_order_relaxed) == 1;
            uint64_t spent = en_mono_ns() - start;
            if (spent >= (alone ? ns * CALLER_ALONE_SPIN_FACTOR : ns))
                break;
            if (spent >= ns) /* past the short spin: let other threads of this core run */
                sched_yield();
            for (int k = 0; k < 64; k++)
                os_cpu_relax();
        }
        pthread_mutex_lock(&db->q_lock);
    }
    while (rc == 0 && j.state != JOB_DONE)
        pthread_cond_wait(&j.done, &db->q_lock);
    pthread_mutex_unlock(&db->q_lock);
    atomic_fetch_sub_explicit(&db->sync_waiters, 1, memory_order_relaxed);
    pthread_cond_destroy(&j.done);
    if (rc)
        return rc;
    if (j.result)
        return en_fail(j.result, "%s", j.msg);
    en_clear_error();
    return 0;
}

int en_write_async(en_db *db, en_job_fn fn, void *arg, const en_job_callbacks *cb,
                   const char *name, int priority, en_job **handle) {
    if (!db || !fn)
        return en_fail(CD_EINVAL, "en_write_async: NULL argument");
    size_t nlen = name ? strlen(name) : 0;
    if (nlen >= sizeof ((en_job *)0)->name)
        return en_fail(CD_EINVAL, "a job name is at most %zu bytes",
                       sizeof ((en_job *)0)->name - 1);
    en_job *j = calloc(1, sizeof *j);
    if (!j)
        return en_fail(CD_ENOMEM, "out of memory for a job");
    *j = (en_job){.db = db, .fn = fn, .arg = arg, .priority = priority};
    if (cb)
        j->cb = *cb;
    memcpy(j->name, name ? name : "", nlen + 1);
    atomic_init(&j->refs, handle ? 2 : 1);
    pthread_mutex_lock(&db->q_lock);
    int rc = enqueue(db, j, 0);
    pthread_mutex_unlock(&db->q_lock);
    if (rc) {
        free(j);
        return rc;
    }
    if (handle)
        *handle = j;
    return 0;
}

/* Moves a removed job to the cancelled list; q_lock held. */
static void cancelled(en_db *db, en_job *j) {
    j->state = JOB_CANCELED;
    db->queued--;
    atomic_store_explicit(&db->pending_hint, db->queued + 1, memory_order_relaxed);
    j->link = db->cancelled;
    db->cancelled = j;
    pthread_cond_signal(&db->q_cond);
    pthread_cond_signal(&db->space_cond);
}

int en_job_cancel(en_job *j) {
    if (!j)
        return en_fail(CD_EINVAL, "en_job_cancel: NULL job");
    en_db *db = j->db;
    pthread_mutex_lock(&db->q_lock);
    int rc = 0;
    if (j->state != JOB_QUEUED || !db->queue.remove(db->queue.q, j))
        rc = en_fail(CD_EBUSY, "the job is running or done: it cannot be cancelled");
    else
        cancelled(db, j);
    pthread_mutex_unlock(&db->q_lock);
    return rc;
}

int en_cancel_named(en_db *db, const char *name, size_t *count) {
    if (!db || !name || !*name)
        return en_fail(CD_EINVAL, "en_cancel_named: NULL or empty name");
    size_t n = 0;
    pthread_mutex_lock(&db->q_lock);
    for (en_job *j; (j = db->queue.remove_named(db->queue.q, name)) != NULL; n++)
        cancelled(db, j);
    pthread_mutex_unlock(&db->q_lock);
    if (count)
        *count = n;
    return 0;
}

/* ---- life cycle --------------------------------------------------------------- */

int en_wait_open(en_db *db) {
    /* acquire: pairs with the writer's store after a deferred open */
    int s = atomic_load_explicit(&db->open_state, memory_order_acquire);
    if (s == 0) {
        pthread_mutex_lock(&db->q_lock);
        while ((s = atomic_load(&db->open_state)) == 0)
            pthread_cond_wait(&db->open_cond, &db->q_lock);
        pthread_mutex_unlock(&db->q_lock);
    }
    if (s < 0)
        return en_fail(s, "%s", db->open_msg);
    return 0;
}

int en_writer_start(en_db *db) {
    int rc = 0;
    if (db->opt.queue_kind == EN_QUEUE_CUSTOM) {
        const en_queue_ops *q = &db->opt.queue;
        if (!q->add || !q->next || !q->remove || !q->remove_named)
            return en_fail(CD_EINVAL, "a custom queue needs add, next, remove and remove_named");
        db->queue = *q;
    } else if ((rc = en_queue_builtin(db->opt.queue_kind, &db->queue)) != 0) {
        return en_fail(rc, "out of memory for the write queue");
    }
    db->queue_max = db->opt.queue_max ? db->opt.queue_max : EN_DEFAULT_QUEUE_MAX;
    if (pthread_create(&db->writer, NULL, writer_main, db) != 0) {
        if (db->opt.queue_kind != EN_QUEUE_CUSTOM)
            en_queue_builtin_free(&db->queue);
        return en_fail(CD_ENOMEM, "cannot start the writer thread");
    }
    db->writer_started = 1;
    return 0;
}

/* Stops taking jobs, runs (or cancels) the queued ones, joins the writer. */
int en_writer_stop(en_db *db, unsigned flags) {
    if (!db->writer_started)
        return 0;
    pthread_mutex_lock(&db->q_lock);
    db->closing = 1;
    if (flags & EN_CLOSE_CANCEL)
        for (en_job *j; (j = db->queue.next(db->queue.q)) != NULL;)
            cancelled(db, j);
    db->quit = 1;
    pthread_cond_broadcast(&db->q_cond);
    pthread_cond_broadcast(&db->space_cond);
    pthread_mutex_unlock(&db->q_lock);
    pthread_join(db->writer, NULL);
    db->writer_started = 0;
    if (db->queue.quit)
        db->queue.quit(db->queue.q);
    if (db->opt.queue_kind != EN_QUEUE_CUSTOM)
        en_queue_builtin_free(&db->queue);
    return 0;
}
