/*
 * test_writer.c: the writer thread through the public API: queue order
 * (FIFO, priority, a custom queue), cancellation, callbacks (exactly once,
 * in order, through a dispatcher), the deadlock rules, a failing
 * transaction inside a commit group, deferred open, close, and the queue
 * bound.
 *
 * A "gate" job blocks the writer thread so that later submissions queue up
 * behind it; opening the gate lets them run.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isle.h"

static char path[256];

static void setup(void) {
    snprintf(path, sizeof path, "/tmp/isle-writer-%d-%ld.isle", (int)getpid(), random());
}

static void teardown(void) {
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
}

TestSuite(writer, .init = setup, .fini = teardown);

/* ---- the gate ---------------------------------------------------------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered;

static int gate_fn(isle_txn *txn, void *arg) {
    (void)txn, (void)arg;
    pthread_mutex_lock(&gate_lock);
    gate_entered = 1;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

/* Submits the gate and waits until the writer is inside it. */
static isle_job *gate_close(isle_db *db) {
    isle_job *job;
    gate_open = gate_entered = 0;
    cr_assert_eq(isle_write_async(db, gate_fn, NULL, NULL, "gate", 0, &job), 0);
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return job;
}

static void gate_release(void) {
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* ---- jobs that record what happens to them ------------------------------- */

#define JOBS 40
typedef struct rec {
    int id;
    int fail;          /* fn returns this */
    char events[8];    /* 'r'eady 'f'n 's'uccess 'e'rror 'c'omplete */
    int nevents;
    int code;          /* complete's */
    uint64_t txn;
} rec;

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int order[JOBS * 2], norder;

static void ev(rec *r, char c) {
    pthread_mutex_lock(&order_lock);
    if (r->nevents < 7)
        r->events[r->nevents++] = c;
    pthread_mutex_unlock(&order_lock);
}

static int rec_fn(isle_txn *txn, void *arg) {
    rec *r = arg;
    ev(r, 'f');
    pthread_mutex_lock(&order_lock);
    order[norder++] = r->id;
    pthread_mutex_unlock(&order_lock);
    isle_tree t;
    char key[16];
    int rc = isle_kv_open(txn, "t", ISLE_KV_CREATE, &t);
    if (rc == 0)
        rc = isle_kv_put(txn, t, key, (size_t)sprintf(key, "job%03d", r->id), "v", 1, 0);
    return rc ? rc : r->fail;
}

static void cb_ready(void *arg) { ev(arg, 'r'); }
static void cb_success(void *arg, uint64_t txn) { ((rec *)arg)->txn = txn, ev(arg, 's'); }
static void cb_error(void *arg, int code) { (void)code, ev(arg, 'e'); }
static void cb_complete(void *arg, int code) { ((rec *)arg)->code = code, ev(arg, 'c'); }
static const isle_write_callbacks cbs = {cb_ready, cb_success, cb_error, cb_complete};

static isle_db *open_db(int queue) {
    isle_options opt;
    isle_options_init(&opt);
    opt.queue = queue;
    opt.sync = ISLE_SYNC_NORMAL;
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0, "%s", isle_errmsg());
    return db;
}

static int has_key(isle_db *db, int id) {
    isle_txn *txn;
    isle_tree t;
    char key[16];
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    int rc = isle_kv_open(txn, "t", 0, &t);
    isle_val v;
    if (rc == 0)
        rc = isle_kv_get(txn, t, key, (size_t)sprintf(key, "job%03d", id), &v);
    if (rc == 0)
        isle_kv_release(txn, &v);
    isle_read_end(txn);
    return rc == 0;
}

Test(writer, fifo_order_and_callbacks_in_order) {
    isle_db *db = open_db(ISLE_QUEUE_FIFO);
    static rec r[JOBS];
    norder = 0;
    isle_job *gate = gate_close(db);
    for (int i = 0; i < JOBS; i++) {
        r[i] = (rec){.id = i, .fail = i % 7 == 3 ? ISLE_ECANCELED - 100 : 0};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &cbs, NULL, i % 3, NULL), 0);
    }
    gate_release();
    cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg()); /* waits for the queue */
    isle_job_release(gate);
    cr_assert_eq(norder, JOBS);
    for (int i = 0; i < JOBS; i++) {
        cr_assert_eq(order[i], i, "position %d ran job %d", i, order[i]);
        const char *want = r[i].fail ? "rfec" : "rfsc";
        cr_assert_str_eq(r[i].events, want, "job %d saw %s", i, r[i].events);
        cr_assert_eq(r[i].code, r[i].fail);
    }
    /* The failed ones rolled back alone; the rest of their groups is there. */
    db = open_db(ISLE_QUEUE_FIFO);
    for (int i = 0; i < JOBS; i++)
        cr_assert_eq(has_key(db, i), !r[i].fail, "job %d", i);
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_close(db), 0);
}

Test(writer, priority_order_fifo_among_equals) {
    isle_db *db = open_db(ISLE_QUEUE_PRIORITY);
    static rec r[JOBS];
    static const int prio[] = {ISLE_PRIORITY_LOW, ISLE_PRIORITY_NORMAL, ISLE_PRIORITY_HIGH,
                               ISLE_PRIORITY_UI};
    norder = 0;
    isle_job *gate = gate_close(db);
    for (int i = 0; i < JOBS; i++) {
        r[i] = (rec){.id = i};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &cbs, NULL, prio[(i * 5) % 4], NULL), 0);
    }
    gate_release();
    cr_assert_eq(isle_close(db), 0);
    isle_job_release(gate);
    cr_assert_eq(norder, JOBS);
    for (int k = 1; k < JOBS; k++) {
        int a = order[k - 1], b = order[k];
        int pa = prio[(a * 5) % 4], pb = prio[(b * 5) % 4];
        cr_assert(pa > pb || (pa == pb && a < b), "job %d (prio %d) ran before %d (prio %d)", a,
                  pa, b, pb);
    }
}

Test(writer, cancel_before_run_by_handle_and_name) {
    isle_db *db = open_db(ISLE_QUEUE_FIFO);
    static rec r[6];
    isle_job *h[6];
    norder = 0;
    isle_job *gate = gate_close(db);
    for (int i = 0; i < 6; i++) {
        r[i] = (rec){.id = i};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &cbs, i >= 3 ? "batch" : NULL, 1, &h[i]),
                     0);
    }
    cr_assert_eq(isle_job_cancel(h[1]), 0);
    cr_assert_eq(isle_job_cancel(h[1]), ISLE_EBUSY); /* already cancelled */
    size_t n = 0;
    cr_assert_eq(isle_cancel_named(db, "batch", &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(isle_cancel_named(db, "", &n), ISLE_EINVAL);
    cr_assert_eq(isle_job_cancel(gate), ISLE_EBUSY); /* running: not interrupted */
    gate_release();
    cr_assert_eq(isle_close(db), 0);
    for (int i = 0; i < 6; i++)
        isle_job_release(h[i]);
    isle_job_release(gate);
    for (int i = 0; i < 6; i++) {
        int cancelled = i == 1 || i >= 3;
        cr_assert_str_eq(r[i].events, cancelled ? "c" : "rfsc", "job %d: %s", i, r[i].events);
        cr_assert_eq(r[i].code, cancelled ? ISLE_ECANCELED : 0);
    }
    cr_assert_eq(norder, 2);
}

/* ---- a dispatcher: callbacks go to the test's own loop --------------------- */

typedef struct posted {
    void (*fn)(void *);
    void *arg;
} posted;
static posted loop[1024];
static int nloop;
static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;

static void post(void (*fn)(void *), void *arg, void *ctx) {
    (void)ctx;
    pthread_mutex_lock(&loop_lock);
    cr_assert_lt(nloop, 1024);
    loop[nloop++] = (posted){fn, arg};
    pthread_mutex_unlock(&loop_lock);
}

static int drain(void) {
    int n = 0;
    for (;;) {
        pthread_mutex_lock(&loop_lock);
        if (nloop == 0) {
            pthread_mutex_unlock(&loop_lock);
            return n;
        }
        posted p = loop[0];
        memmove(loop, loop + 1, (size_t)--nloop * sizeof *loop);
        pthread_mutex_unlock(&loop_lock);
        p.fn(p.arg);
        n++;
    }
}

static pthread_t main_thread;
static int off_main;
static void cb_complete_where(void *arg, int code) {
    off_main |= !pthread_equal(pthread_self(), main_thread);
    cb_complete(arg, code);
}

Test(writer, callbacks_through_a_dispatcher) {
    isle_options opt;
    isle_options_init(&opt);
    opt.dispatcher.post = post;
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0);
    main_thread = pthread_self();
    static rec r[5];
    isle_write_callbacks where = cbs;
    where.complete = cb_complete_where;
    for (int i = 0; i < 5; i++) {
        r[i] = (rec){.id = i, .fail = i == 2 ? -1000 : 0};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &where, NULL, 1, NULL), 0);
    }
    cr_assert_eq(isle_close(db), 0); /* every job ran; callbacks wait in our loop */
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(r[i].events, "f", "job %d ran callbacks off the loop", i);
    cr_assert_eq(drain(), 15); /* ready, success|error, complete for each */
    cr_assert_eq(off_main, 0);
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(r[i].events, i == 2 ? "fr" "ec" : "fr" "sc", "job %d: %s", i,
                         r[i].events);
}

/* ---- a custom queue: last in, first out ---------------------------------- */

typedef struct lifo {
    isle_job *a[64];
    int n, quit_called;
} lifo;

static int lifo_add(void *q, isle_job *j) {
    lifo *l = q;
    if (l->n == 64)
        return ISLE_EAGAIN;
    l->a[l->n++] = j;
    return 0;
}
static isle_job *lifo_next(void *q) {
    lifo *l = q;
    return l->n ? l->a[--l->n] : NULL;
}
static int lifo_remove(void *q, isle_job *j) {
    lifo *l = q;
    for (int i = 0; i < l->n; i++)
        if (l->a[i] == j) {
            memmove(l->a + i, l->a + i + 1, (size_t)(--l->n - i) * sizeof *l->a);
            return 1;
        }
    return 0;
}
static isle_job *lifo_remove_named(void *q, const char *name) {
    lifo *l = q;
    for (int i = 0; i < l->n; i++)
        if (strcmp(isle_job_name(l->a[i]), name) == 0) {
            isle_job *j = l->a[i];
            lifo_remove(q, j);
            return j;
        }
    return NULL;
}
static void lifo_quit(void *q) { ((lifo *)q)->quit_called = 1; }

Test(writer, custom_queue) {
    static lifo l;
    isle_options opt;
    isle_options_init(&opt);
    opt.queue = ISLE_QUEUE_CUSTOM;
    opt.custom_queue = (isle_queue_ops){lifo_add, lifo_next, lifo_remove, lifo_remove_named,
                                        lifo_quit, &l};
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0, "%s", isle_errmsg());
    static rec r[8];
    norder = 0;
    isle_job *gate = gate_close(db);
    for (int i = 0; i < 8; i++) {
        r[i] = (rec){.id = i};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &cbs, NULL, 1, NULL), 0);
    }
    gate_release();
    cr_assert_eq(isle_close(db), 0);
    isle_job_release(gate);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(order[i], 7 - i);
    cr_assert_eq(l.quit_called, 1);
}

/* ---- the deadlock rules ---------------------------------------------------- */

static isle_db *self_db;
static int inner_rc = 1, cb_rc = 1;

static int nested_sync(isle_txn *txn, void *arg) {
    (void)txn, (void)arg;
    inner_rc = isle_write(self_db, nested_sync, NULL);
    return 0;
}

static void cb_sync_write(void *arg, int code) {
    (void)arg, (void)code;
    cb_rc = isle_write(self_db, nested_sync, NULL);
}

Test(writer, sync_write_on_the_writer_thread_is_edeadlk) {
    self_db = open_db(ISLE_QUEUE_FIFO);
    cr_assert_eq(isle_write(self_db, nested_sync, NULL), 0);
    cr_assert_eq(inner_rc, ISLE_EDEADLK);
    isle_write_callbacks c = {.complete = cb_sync_write};
    cr_assert_eq(isle_write_async(self_db, nested_sync, NULL, &c, NULL, 1, NULL), 0);
    cr_assert_eq(isle_close(self_db), 0);
    cr_assert_eq(cb_rc, ISLE_EDEADLK);
}

/* ---- deferred open ------------------------------------------------------- */

Test(writer, deferred_open_runs_queued_writes) {
    isle_options opt;
    isle_options_init(&opt);
    opt.deferred_open = 1;
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0);
    static rec r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (rec){.id = i};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &cbs, NULL, 1, NULL), 0);
    }
    static rec last = {.id = 3};
    cr_assert_eq(isle_write(db, rec_fn, &last), 0, "%s", isle_errmsg()); /* FIFO: after them */
    for (int i = 0; i < 4; i++)
        cr_assert(has_key(db, i), "job %d's write is missing", i);
    cr_assert_eq(isle_close(db), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(r[i].events, "rfsc");
}

Test(writer, deferred_open_failure_reaches_every_job) {
    FILE *f = fopen(path, "w");
    fputs("not a database at all, just some text long enough to sniff........", f);
    fclose(f);
    isle_options opt;
    isle_options_init(&opt);
    opt.deferred_open = 1;
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0);
    static rec r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (rec){.id = i};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &cbs, NULL, 1, NULL), 0);
    }
    cr_assert_eq(isle_write(db, rec_fn, &r[0]), ISLE_ENOTDB);
    cr_assert(strstr(isle_errmsg(), "not an isle database") != NULL, "%s", isle_errmsg());
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), ISLE_ENOTDB);
    cr_assert_eq(isle_close(db), 0);
    for (int i = 1; i < 3; i++) {
        cr_assert_str_eq(r[i].events, "ec", "job %d: %s", i, r[i].events);
        cr_assert_eq(r[i].code, ISLE_ENOTDB);
    }
}

/* ---- close and the queue bound ---------------------------------------------- */

static void *release_later(void *arg) {
    (void)arg;
    usleep(100 * 1000);
    gate_release();
    return NULL;
}

Test(writer, close_cancels_on_request_and_refuses_with_readers) {
    isle_db *db = open_db(ISLE_QUEUE_FIFO);
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_close(db), ISLE_EBUSY);
    cr_assert(strstr(isle_errmsg(), "read") != NULL);
    cr_assert_eq(isle_read_end(txn), 0);
    static rec r[4];
    norder = 0;
    isle_job *gate = gate_close(db);
    for (int i = 0; i < 4; i++) {
        r[i] = (rec){.id = i};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], &cbs, NULL, 1, NULL), 0);
    }
    /* The gate opens only after close has begun: close cancels the four
     * while the writer is still inside the gate. */
    pthread_t opener;
    pthread_create(&opener, NULL, release_later, NULL);
    cr_assert_eq(isle_close_ex(db, ISLE_CLOSE_CANCEL), 0);
    pthread_join(opener, NULL);
    isle_job_release(gate);
    cr_assert_eq(norder, 0);
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(r[i].events, "c", "job %d: %s", i, r[i].events);
        cr_assert_eq(r[i].code, ISLE_ECANCELED);
    }
}

Test(writer, full_queue_is_eagain) {
    isle_options opt;
    isle_options_init(&opt);
    opt.queue_max = 3;
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0);
    static rec r[5];
    isle_job *gate = gate_close(db);
    for (int i = 0; i < 3; i++) {
        r[i] = (rec){.id = i};
        cr_assert_eq(isle_write_async(db, rec_fn, &r[i], NULL, NULL, 1, NULL), 0);
    }
    r[3] = (rec){.id = 3};
    cr_assert_eq(isle_write_async(db, rec_fn, &r[3], NULL, NULL, 1, NULL), ISLE_EAGAIN);
    cr_assert(strstr(isle_errmsg(), "full") != NULL);
    gate_release();
    cr_assert_eq(isle_close(db), 0);
    isle_job_release(gate);
}

/* ---- bulk processing --------------------------------------------------------- */

static int put_item(isle_txn *txn, const void *item, void *arg) {
    (void)arg;
    isle_tree t;
    int v = *(const int *)item;
    int rc = isle_kv_open(txn, "items", ISLE_KV_CREATE, &t);
    char key[16];
    return rc ? rc : isle_kv_put(txn, t, key, (size_t)sprintf(key, "i%06d", v), &v, sizeof v, 0);
}

static size_t seen_current, seen_total;
static void progress(size_t current, size_t total, const void *item, void *arg) {
    (void)arg;
    cr_assert_eq(current, seen_current + 1);
    cr_assert_eq(*(const int *)item, (int)current - 1);
    seen_current = current;
    seen_total = total;
}

Test(writer, process_with_progress) {
    isle_db *db = open_db(ISLE_QUEUE_FIFO);
    static int items[500];
    for (int i = 0; i < 500; i++)
        items[i] = i;
    cr_assert_eq(isle_write_process(db, items, 500, sizeof items[0], put_item, progress, NULL),
                 0, "%s", isle_errmsg());
    cr_assert_eq(seen_current, 500);
    cr_assert_eq(seen_total, 500);
    isle_stats st;
    cr_assert_eq(isle_stat(db, &st), 0);
    cr_assert_eq(isle_write_process(db, NULL, 3, 4, put_item, NULL, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_close(db), 0);
}
