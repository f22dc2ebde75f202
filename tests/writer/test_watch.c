/*
 * test_watch.c: watchers through the public API: called once per commit
 * that changed what they watch, with the keys; a key watcher only for its
 * key; a dropped tree reports unknown keys; removing a watcher while its
 * call is running waits for it; calls through a dispatcher.
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
    snprintf(path, sizeof path, "/tmp/isle-watch-%d-%ld.isle", (int)getpid(), random());
}

static void teardown(void) {
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
}

TestSuite(watch, .init = setup, .fini = teardown);

typedef struct seen {
    int calls;
    int keys_known;
    uint32_t nkeys;
    char keys[64][16];
    char tree[32];
} seen;

static void record(void *arg, const isle_change *ch) {
    seen *s = arg;
    s->calls++;
    s->keys_known = ch->keys_known;
    s->nkeys = ch->nkeys;
    snprintf(s->tree, sizeof s->tree, "%s", ch->tree);
    for (uint32_t i = 0; i < ch->nkeys && i < 64; i++)
        snprintf(s->keys[i], sizeof s->keys[i], "%.*s", (int)ch->klens[i],
                 (const char *)ch->keys[i]);
}

typedef struct put {
    const char *tree;
    const char *keys[4];
    int drop;
} put;

static int do_put(isle_txn *txn, void *arg) {
    put *p = arg;
    isle_tree t;
    if (p->drop)
        return isle_kv_drop(txn, p->tree);
    int rc = isle_kv_open(txn, p->tree, ISLE_KV_CREATE, &t);
    for (int i = 0; rc == 0 && i < 4 && p->keys[i]; i++)
        rc = isle_kv_put(txn, t, p->keys[i], strlen(p->keys[i]), "v", 1, 0);
    return rc;
}

static void commit(isle_db *db, put p) { cr_assert_eq(isle_write(db, do_put, &p), 0, "%s", isle_errmsg()); }

Test(watch, tree_and_key_watchers) {
    isle_db *db;
    cr_assert_eq(isle_open(path, NULL, &db), 0);
    seen st = {0}, sk = {0};
    isle_watch *wt, *wk;
    cr_assert_eq(isle_watch_tree(db, "t", record, &st, &wt), 0);
    cr_assert_eq(isle_watch_key(db, "t", "k1", 2, record, &sk, &wk), 0);
    commit(db, (put){.tree = "t", .keys = {"k1", "k2"}});
    cr_assert_eq(st.calls, 1);
    cr_assert_eq(st.keys_known, 1);
    cr_assert_eq(st.nkeys, 2);
    cr_assert_str_eq(st.keys[0], "k1");
    cr_assert_str_eq(st.keys[1], "k2");
    cr_assert_str_eq(st.tree, "t");
    cr_assert_eq(sk.calls, 1);
    cr_assert_eq(sk.nkeys, 1);
    cr_assert_str_eq(sk.keys[0], "k1");
    commit(db, (put){.tree = "t", .keys = {"k3"}});
    cr_assert_eq(st.calls, 2);
    cr_assert_eq(sk.calls, 1, "the key watcher heard of another key");
    commit(db, (put){.tree = "u", .keys = {"k1"}});
    cr_assert_eq(st.calls, 2, "the tree watcher heard of another tree");
    cr_assert_eq(sk.calls, 1);
    commit(db, (put){.tree = "t", .drop = 1});
    cr_assert_eq(st.calls, 3);
    cr_assert_eq(st.keys_known, 0);
    cr_assert_eq(sk.calls, 2); /* a dropped tree changed every key */
    isle_unwatch(wt);
    commit(db, (put){.tree = "t", .keys = {"k1"}});
    cr_assert_eq(st.calls, 3, "called after unwatch");
    cr_assert_eq(sk.calls, 3);
    isle_unwatch(wk);
    cr_assert_eq(isle_watch_tree(db, "", record, &st, &wt), ISLE_EINVAL);
    cr_assert_eq(isle_watch_key(db, "t", NULL, 0, record, &st, &wt), ISLE_EINVAL);
    cr_assert_eq(isle_close(db), 0);
}

/* A slow watcher removed from another thread while its call runs. */
static atomic_int in_call, call_done;
static void slow(void *arg, const isle_change *ch) {
    (void)arg, (void)ch;
    atomic_store(&in_call, 1);
    usleep(200 * 1000);
    atomic_store(&call_done, 1);
}

static isle_watch *slow_w;
static atomic_int removed_after_call;
static void *remover(void *arg) {
    (void)arg;
    while (!atomic_load(&in_call))
        usleep(1000);
    isle_unwatch(slow_w);
    atomic_store(&removed_after_call, atomic_load(&call_done));
    return NULL;
}

Test(watch, unwatch_waits_for_a_running_call) {
    isle_db *db;
    cr_assert_eq(isle_open(path, NULL, &db), 0);
    cr_assert_eq(isle_watch_tree(db, "t", slow, NULL, &slow_w), 0);
    pthread_t th;
    pthread_create(&th, NULL, remover, NULL);
    commit(db, (put){.tree = "t", .keys = {"a"}});
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&removed_after_call), 1, "unwatch returned while the call ran");
    commit(db, (put){.tree = "t", .keys = {"b"}}); /* no watcher left: nothing runs */
    cr_assert_eq(isle_close(db), 0);
}

/* A watcher that removes itself from inside its call. */
static isle_watch *self_w;
static int self_calls;
static void self_remove(void *arg, const isle_change *ch) {
    (void)arg, (void)ch;
    self_calls++;
    isle_unwatch(self_w);
}

Test(watch, unwatch_from_inside_the_call) {
    isle_db *db;
    cr_assert_eq(isle_open(path, NULL, &db), 0);
    cr_assert_eq(isle_watch_tree(db, "t", self_remove, NULL, &self_w), 0);
    commit(db, (put){.tree = "t", .keys = {"a"}});
    commit(db, (put){.tree = "t", .keys = {"b"}});
    cr_assert_eq(self_calls, 1);
    cr_assert_eq(isle_close(db), 0);
}

/* Through a dispatcher: calls wait in the application's loop. */
typedef struct posted {
    void (*fn)(void *);
    void *arg;
} posted;
static posted q[64];
static int nq;
static pthread_mutex_t ql = PTHREAD_MUTEX_INITIALIZER;
static void post(void (*fn)(void *), void *arg, void *ctx) {
    (void)ctx;
    pthread_mutex_lock(&ql);
    q[nq++] = (posted){fn, arg};
    pthread_mutex_unlock(&ql);
}

Test(watch, through_a_dispatcher_and_unwatched_before_delivery) {
    isle_options opt;
    isle_options_init(&opt);
    opt.dispatcher.post = post;
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0);
    seen a = {0}, b = {0};
    isle_watch *wa, *wb;
    cr_assert_eq(isle_watch_tree(db, "t", record, &a, &wa), 0);
    cr_assert_eq(isle_watch_tree(db, "t", record, &b, &wb), 0);
    commit(db, (put){.tree = "t", .keys = {"x"}});
    cr_assert_eq(a.calls + b.calls, 0, "ran off the loop");
    isle_unwatch(wb); /* its posted call must do nothing */
    pthread_mutex_lock(&ql);
    int n = nq;
    pthread_mutex_unlock(&ql);
    for (int i = 0; i < n; i++)
        q[i].fn(q[i].arg);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 0);
    isle_unwatch(wa);
    cr_assert_eq(isle_close(db), 0);
}
