/*
 * test_kv_model.c: a randomized model test of the key/value API.
 *
 * Random operations run through isle.h against an in-memory reference (a
 * sorted array of entries per tree; a value is stored as its length and
 * the seed of its bytes, see kv_util.h): puts of new keys (1..64 bytes
 * from a small alphabet, so prefixes are shared and 0x00 / 0xff occur),
 * updates, deletes, NOOVERWRITE puts, gets, cursor walks (forward,
 * backward, seek, past either end and back), tree create / drop /
 * re-create, and harmless bad calls, in write transactions of random size.
 * Some transactions return an error from their callback, or leave a cursor
 * open at commit: those must roll back, and the reference is rolled back
 * with an undo log.  Between transactions, at random: read transactions
 * that compare against the reference, isle_checkpoint, close + reopen (a
 * close with a reader open must fail with ISLE_EBUSY first), and up to two
 * read transactions held across many commits, each compared against a
 * copy of the reference taken when it began (and holding one value whose
 * bytes must not change).  Each phase ends with isle_check, isle_stat and
 * isle_stat_trees against the reference and a full comparison.
 *
 * Four configurations: page size 4096 / 16384, sync FULL / NORMAL / OFF,
 * default and small checkpoint thresholds, default and small page caches
 * (large transactions then spill dirty pages to the log before commit).
 *
 * Environment: ISLE_MODEL_OPS, the operations of all four configurations
 * together (default 160000; 40000 under AddressSanitizer), and
 * ISLE_MODEL_SEED to vary the seeds (failures print the seed in use).
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_OPS 40000u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEFAULT_OPS 40000u
#endif
#endif
#ifndef DEFAULT_OPS
#define DEFAULT_OPS 160000u
#endif
#define CONFIGS 4u

#define NT 5       /* tree names */
#define KMAX 64    /* longest key the model makes */
#define HELD_MAX 2 /* long-held readers at once */

/* ---- the reference ------------------------------------------------------- */

typedef struct ent {
    uint32_t vlen;
    uint64_t vseed;
    uint8_t klen;
    uint8_t key[KMAX];
} ent;

typedef struct mtree {
    ent *e;
    uint32_t n, cap;
    int exists;
} mtree;

typedef struct model {
    mtree t[NT];
} model;

static char long_name[256];
static const char *tree_name(int i) {
    static const char *names[NT - 1] = {"alpha", "b", "\xc3\xa9t\xc3\xa9 \xe2\x98\x83",
                                        "d/with spaces"};
    if (i < NT - 1)
        return names[i];
    if (!long_name[0]) {
        memset(long_name, 'z', 255);
        long_name[255] = 0;
    }
    return long_name;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    if (c)
        return c;
    return (al > bl) - (al < bl);
}

/* The index of the first entry >= key; *found if it equals key. */
static uint32_t m_lower(const mtree *t, const uint8_t *k, size_t kl, int *found) {
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_cmp(t->e[mid].key, t->e[mid].klen, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < t->n && key_cmp(t->e[lo].key, t->e[lo].klen, k, kl) == 0;
    return lo;
}

static void m_insert(mtree *t, uint32_t at, const ent *e) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->e = realloc(t->e, (size_t)t->cap * sizeof *t->e);
        cr_assert_not_null(t->e);
    }
    memmove(t->e + at + 1, t->e + at, (size_t)(t->n - at) * sizeof *t->e);
    t->e[at] = *e;
    t->n++;
}

static void m_remove(mtree *t, uint32_t at) {
    memmove(t->e + at, t->e + at + 1, (size_t)(t->n - at - 1) * sizeof *t->e);
    t->n--;
}

static void mtree_copy(mtree *dst, const mtree *src) {
    *dst = *src;
    dst->e = NULL;
    if (src->cap) {
        dst->e = malloc((size_t)src->cap * sizeof *dst->e);
        cr_assert_not_null(dst->e);
        memcpy(dst->e, src->e, (size_t)src->n * sizeof *dst->e);
    }
}

static void model_copy(model *dst, const model *src) {
    for (int i = 0; i < NT; i++)
        mtree_copy(&dst->t[i], &src->t[i]);
}

static void model_free(model *m) {
    for (int i = 0; i < NT; i++) {
        free(m->t[i].e);
        memset(&m->t[i], 0, sizeof m->t[i]);
    }
}

/* The undo log of the running write transaction. */
enum { U_INS, U_SET, U_DEL, U_CREATE, U_DROP };
typedef struct undo {
    int kind, tree;
    ent old;     /* U_INS: the key; U_SET, U_DEL: the entry before */
    mtree saved; /* U_DROP: the tree before */
} undo;

/* ---- the runner -------------------------------------------------------- */

typedef struct mcfg {
    const char *name;
    uint32_t page_size;
    int sync;
    uint64_t checkpoint_bytes;
    size_t cache_bytes; /* small: large transactions spill, reads bypass the cache */
    uint64_t seed;
} mcfg;

typedef struct held {
    isle_txn *txn;
    model m;
    uint64_t txn_id; /* the snapshot's transaction (isle_stat last_txn) */
    isle_val pin;    /* a value read at the start, kept until the end */
    ent pin_ent;
    int pin_tree;
    int has_pin;
} held;

typedef struct runner {
    mcfg cfg;
    kv_tmp tmp;
    isle_db *db;
    model m;
    uint64_t rng;
    isle_tree h[NT];
    int hv[NT];
    undo *u;
    size_t nu, capu;
    uint64_t ops, total;
    held held[HELD_MAX];
    int nheld;
    uint32_t target; /* entries per tree the size pressure aims at */
    uint64_t last_txn;
    /* the plan of the running write transaction */
    uint32_t w_ops;
    int w_fail;         /* the callback's error, 0: commit */
    int w_leave_cursor; /* leave a cursor open: the commit must fail */
    isle_cursor *w_cursor;
    /* counters, for the summary */
    uint64_t n_commits, n_rollbacks, n_reopens, n_checkpoints, n_held, n_drops;
} runner;

#define CHECK(cond, ...)                                                                   \
    cr_assert(cond, "[%s seed %llu op %llu] %s", r->cfg.name,                           \
              (unsigned long long)r->cfg.seed, (unsigned long long)r->ops,               \
              msg(__VA_ARGS__))

static const char *msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *msg(const char *fmt, ...) {
    static char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    snprintf(buf + n, sizeof buf - n, " (isle_errmsg: \"%s\")", isle_errmsg());
    return buf;
}

#define EXPECT_OK(rc, what)                                                                \
    do {                                                                                   \
        int rc_ = (rc);                                                                    \
        CHECK(rc_ == 0, "%s: %s", what, isle_strerror(rc_));                               \
        CHECK(isle_errmsg()[0] == 0, "%s succeeded but left a message", what);            \
    } while (0)
#define EXPECT_FAIL(rc, code, what)                                                        \
    do {                                                                                   \
        int rc_ = (rc);                                                                    \
        CHECK(rc_ == (code), "%s: got %d (%s), want %d (%s)", what, rc_,                   \
              isle_strerror(rc_), code, isle_strerror(code));                              \
        CHECK(isle_errmsg()[0] != 0, "%s failed without a message", what);                \
    } while (0)

static uint64_t rnd(runner *r, uint64_t n) { return kv_below(&r->rng, n); }

static void undo_push(runner *r, int kind, int tree, const ent *old, const mtree *saved) {
    if (r->nu == r->capu) {
        r->capu = r->capu ? r->capu * 2 : 256;
        r->u = realloc(r->u, r->capu * sizeof *r->u);
        cr_assert_not_null(r->u);
    }
    undo *u = &r->u[r->nu++];
    memset(u, 0, sizeof *u);
    u->kind = kind;
    u->tree = tree;
    if (old)
        u->old = *old;
    if (saved)
        u->saved = *saved;
}

static void undo_commit(runner *r) {
    for (size_t i = 0; i < r->nu; i++)
        if (r->u[i].kind == U_DROP)
            free(r->u[i].saved.e);
    r->nu = 0;
}

static void undo_rollback(runner *r) {
    while (r->nu) {
        undo *u = &r->u[--r->nu];
        mtree *t = &r->m.t[u->tree];
        int found;
        uint32_t at;
        switch (u->kind) {
        case U_INS:
            at = m_lower(t, u->old.key, u->old.klen, &found);
            cr_assert(found);
            m_remove(t, at);
            break;
        case U_SET:
            at = m_lower(t, u->old.key, u->old.klen, &found);
            cr_assert(found);
            t->e[at] = u->old;
            break;
        case U_DEL:
            at = m_lower(t, u->old.key, u->old.klen, &found);
            cr_assert(!found);
            m_insert(t, at, &u->old);
            break;
        case U_CREATE:
            cr_assert(t->exists && t->n == 0);
            free(t->e);
            memset(t, 0, sizeof *t);
            break;
        case U_DROP:
            cr_assert(!t->exists);
            free(t->e);
            *t = u->saved;
            break;
        }
    }
}

/* ---- random keys and values ------------------------------------------- */

static void rand_key(runner *r, ent *e) {
    static const uint8_t alpha[] = {'a', 'b', 'c', 'd', 'e', 0x00, 0xff, 'a', 'b', 'k'};
    uint64_t x = rnd(r, 100);
    uint32_t len = x < 10 ? 1 + (uint32_t)rnd(r, 2)
                 : x < 80 ? 2 + (uint32_t)rnd(r, 12)
                          : 1 + (uint32_t)rnd(r, KMAX);
    e->klen = (uint8_t)len;
    for (uint32_t i = 0; i < len; i++)
        e->key[i] = i < 4 ? alpha[rnd(r, sizeof alpha)] : (uint8_t)rnd(r, 256);
}

/* A key near an existing one (a prefix, an extension, or a byte off), or
 * a fresh random key: for seeks and misses. */
static void probe_key(runner *r, const mtree *t, ent *e) {
    if (t->n == 0 || rnd(r, 3) == 0) {
        rand_key(r, e);
        return;
    }
    *e = t->e[rnd(r, t->n)];
    switch (rnd(r, 4)) {
    case 0:
        if (e->klen > 1)
            e->klen = (uint8_t)(1 + rnd(r, e->klen - 1));
        break;
    case 1:
        if (e->klen < KMAX)
            e->key[e->klen++] = (uint8_t)rnd(r, 256);
        break;
    case 2:
        e->key[e->klen - 1] = (uint8_t)(e->key[e->klen - 1] + (rnd(r, 2) ? 1 : -1));
        break;
    default:
        break;
    }
}

static void rand_value(runner *r, ent *e) {
    uint64_t x = rnd(r, 1000);
    e->vseed = kv_rand(&r->rng);
    if (x < 3)
        e->vlen = 5000 + (uint32_t)rnd(r, 300 * 1024 - 5000 + 1); /* overflow */
    else if (x < 60)
        e->vlen = (uint32_t)rnd(r, 3); /* empty and tiny */
    else if (x < 600)
        e->vlen = (uint32_t)rnd(r, 100);
    else
        e->vlen = (uint32_t)rnd(r, 2001);
}

/* ---- comparing the database with the reference ------------------------ */

static void check_val(runner *r, const isle_val *v, const ent *e, const char *what) {
    CHECK(v->len == e->vlen, "%s: value of %zu bytes, want %u", what, v->len, e->vlen);
    CHECK(v->len == 0 || v->data != NULL, "%s: NULL data", what);
    long d = kv_diff(v->data, v->len, e->vseed);
    CHECK(d < 0, "%s: value differs at byte %ld of %u", what, d, e->vlen);
}

static void check_key(runner *r, const void *k, size_t kl, const ent *e, const char *what) {
    CHECK(kl == e->klen && memcmp(k, e->key, kl) == 0,
          "%s: cursor at a key of %zu bytes, want %u", what, kl, e->klen);
}

/* The tree handle of tree i, which exists in txn's snapshot. */
static isle_tree handle(runner *r, isle_txn *txn, int i) {
    if (!r->hv[i] || rnd(r, 32) == 0) {
        isle_tree h;
        EXPECT_OK(isle_kv_open(txn, tree_name(i), 0, &h), "isle_kv_open");
        CHECK(!r->hv[i] || h == r->h[i], "a name's handle changed");
        r->h[i] = h;
        r->hv[i] = 1;
    }
    return r->h[i];
}

/* Tree i is missing from txn's snapshot: every way of reaching it says so. */
static void check_missing(runner *r, isle_txn *txn, int i) {
    isle_tree h;
    EXPECT_FAIL(isle_kv_open(txn, tree_name(i), 0, &h), ISLE_ENOTFOUND, "open a missing tree");
    if (r->hv[i]) {
        isle_val v;
        EXPECT_FAIL(isle_kv_get(txn, r->h[i], "k", 1, &v), ISLE_ENOTFOUND,
                    "get from a dropped tree");
        isle_cursor *c;
        EXPECT_FAIL(isle_cursor_open(txn, r->h[i], &c), ISLE_ENOTFOUND,
                    "cursor on a dropped tree");
    }
}

static void get_one(runner *r, isle_txn *txn, int i, const mtree *t) {
    ent k;
    if (t->n && rnd(r, 3))
        k = t->e[rnd(r, t->n)];
    else
        probe_key(r, t, &k);
    int found;
    uint32_t at = m_lower(t, k.key, k.klen, &found);
    isle_val v;
    int rc = isle_kv_get(txn, handle(r, txn, i), k.key, k.klen, &v);
    if (found) {
        EXPECT_OK(rc, "get");
        check_val(r, &v, &t->e[at], "get");
        isle_kv_release(txn, &v);
    } else {
        EXPECT_FAIL(rc, ISLE_ENOTFOUND, "get of a missing key");
        CHECK(v.data == NULL && v.len == 0, "a failed get left a value");
    }
}

/* Cursor walks over tree i; full: all of it, forward or backward, with
 * every value; else a seek and a few steps. */
static void walk(runner *r, isle_txn *txn, int i, const mtree *t, int full) {
    isle_cursor *c;
    EXPECT_OK(isle_cursor_open(txn, handle(r, txn, i), &c), "isle_cursor_open");
    int mode = full ? (int)rnd(r, 2) : (int)rnd(r, 4);
    uint32_t steps = full ? t->n + 1 : 1 + (uint32_t)rnd(r, 40);
    int64_t at; /* the model index the cursor is at */
    int dir;    /* +1 next, -1 prev */
    const void *k;
    size_t kl;
    isle_val v;
    if (mode == 0 || mode == 1) {
        int rc = mode == 0 ? isle_cursor_first(c) : isle_cursor_last(c);
        if (t->n == 0) {
            EXPECT_FAIL(rc, ISLE_ENOTFOUND, "first/last of an empty tree");
            isle_cursor_close(c);
            return;
        }
        EXPECT_OK(rc, "first/last");
        at = mode == 0 ? 0 : (int64_t)t->n - 1;
        dir = mode == 0 ? 1 : -1;
    } else {
        ent p;
        probe_key(r, t, &p);
        int found;
        at = m_lower(t, p.key, p.klen, &found);
        int rc = isle_cursor_seek(c, p.key, p.klen);
        if (at == t->n) {
            EXPECT_FAIL(rc, ISLE_ENOTFOUND, "seek past the last key");
            isle_cursor_close(c);
            return;
        }
        EXPECT_OK(rc, "seek");
        dir = mode == 2 ? 1 : -1;
    }
    for (uint32_t s = 0; s < steps; s++) {
        int with_val = full || rnd(r, 4) == 0;
        EXPECT_OK(isle_cursor_get(c, &k, &kl, with_val ? &v : NULL), "cursor_get");
        check_key(r, k, kl, &t->e[at], "walk");
        if (with_val) {
            check_val(r, &v, &t->e[at], "walk value");
            isle_kv_release(txn, &v);
        }
        int rc = dir > 0 ? isle_cursor_next(c) : isle_cursor_prev(c);
        int64_t nat = at + dir;
        if (nat < 0 || nat >= (int64_t)t->n) {
            EXPECT_FAIL(rc, ISLE_ENOTFOUND, "step past the end");
            /* stays where it was, and can step back */
            EXPECT_OK(isle_cursor_get(c, &k, &kl, NULL), "cursor_get at the end");
            check_key(r, k, kl, &t->e[at], "after stepping past the end");
            rc = dir > 0 ? isle_cursor_prev(c) : isle_cursor_next(c);
            if (t->n == 1) {
                EXPECT_FAIL(rc, ISLE_ENOTFOUND, "step back in a one-entry tree");
            } else {
                EXPECT_OK(rc, "step back from the end");
                EXPECT_OK(isle_cursor_get(c, &k, &kl, NULL), "cursor_get");
                check_key(r, k, kl, &t->e[at - dir], "stepping back from the end");
            }
            break;
        }
        EXPECT_OK(rc, "step");
        at = nat;
    }
    isle_cursor_close(c);
}

/* Everything in txn equals m. */
static void verify_all(runner *r, isle_txn *txn, const model *m) {
    for (int i = 0; i < NT; i++) {
        if (m->t[i].exists)
            walk(r, txn, i, &m->t[i], 1);
        else
            check_missing(r, txn, i);
    }
}

/* Random reads of txn against m. */
static void verify_some(runner *r, isle_txn *txn, const model *m, int n) {
    for (int k = 0; k < n; k++, r->ops++) {
        int i = (int)rnd(r, NT);
        if (!m->t[i].exists)
            check_missing(r, txn, i);
        else if (rnd(r, 8) == 0)
            walk(r, txn, i, &m->t[i], 0);
        else
            get_one(r, txn, i, &m->t[i]);
    }
}

/* ---- write transactions ------------------------------------------------ */

static void do_put(runner *r, isle_txn *txn, int i, ent *e, unsigned flags) {
    mtree *t = &r->m.t[i];
    int found;
    uint32_t at = m_lower(t, e->key, e->klen, &found);
    int rc = isle_kv_put(txn, handle(r, txn, i), e->key, e->klen, NULL, 0, 0xdead0000u);
    EXPECT_FAIL(rc, ISLE_EINVAL, "put with unknown flags");
    uint8_t small[2048];
    uint8_t *buf = e->vlen <= sizeof small ? small : malloc(e->vlen);
    cr_assert_not_null(buf);
    kv_fill(buf, e->vlen, e->vseed);
    rc = isle_kv_put(txn, handle(r, txn, i), e->key, e->klen, e->vlen ? buf : NULL, e->vlen,
                     flags);
    if (buf != small)
        free(buf);
    if (found && (flags & ISLE_KV_NOOVERWRITE)) {
        EXPECT_FAIL(rc, ISLE_EEXIST, "NOOVERWRITE put of an existing key");
        return;
    }
    EXPECT_OK(rc, "put");
    if (found) {
        undo_push(r, U_SET, i, &t->e[at], NULL);
        t->e[at] = *e;
    } else {
        undo_push(r, U_INS, i, e, NULL);
        m_insert(t, at, e);
    }
}

static void do_del(runner *r, isle_txn *txn, int i, const ent *k) {
    mtree *t = &r->m.t[i];
    int found;
    uint32_t at = m_lower(t, k->key, k->klen, &found);
    int rc = isle_kv_del(txn, handle(r, txn, i), k->key, k->klen);
    if (!found) {
        EXPECT_FAIL(rc, ISLE_ENOTFOUND, "del of a missing key");
        return;
    }
    EXPECT_OK(rc, "del");
    undo_push(r, U_DEL, i, &t->e[at], NULL);
    m_remove(t, at);
}

/* Calls that must fail and change nothing, inside a write transaction. */
static void do_bad(runner *r, isle_txn *txn, int i) {
    uint8_t big[ISLE_KV_KEY_MAX + 1];
    memset(big, 'q', sizeof big);
    isle_val v;
    switch (rnd(r, 5)) {
    case 0:
        EXPECT_FAIL(isle_kv_put(txn, handle(r, txn, i), big, 0, "v", 1, 0), ISLE_EINVAL,
                    "put with an empty key");
        break;
    case 1:
        EXPECT_FAIL(isle_kv_put(txn, handle(r, txn, i), big, sizeof big, "v", 1, 0),
                    ISLE_ETOOBIG, "put with a 513-byte key");
        break;
    case 2:
        EXPECT_FAIL(isle_kv_del(txn, handle(r, txn, i), big, sizeof big), ISLE_ETOOBIG,
                    "del with a 513-byte key");
        break;
    case 3:
        EXPECT_FAIL(isle_kv_get(txn, 100000u, "k", 1, &v), ISLE_EINVAL,
                    "get with an unknown handle");
        break;
    default:
        EXPECT_FAIL(isle_kv_put(txn, 77777u, "k", 1, "v", 1, 0), ISLE_EINVAL,
                    "put with an unknown handle");
        break;
    }
}

static void write_op(runner *r, isle_txn *txn) {
    int i = (int)rnd(r, NT);
    mtree *t = &r->m.t[i];
    if (!t->exists) {
        uint64_t x = rnd(r, 10);
        if (x < 6) {
            isle_tree h;
            EXPECT_OK(isle_kv_open(txn, tree_name(i), ISLE_KV_CREATE, &h), "create a tree");
            CHECK(!r->hv[i] || h == r->h[i], "a name's handle changed");
            r->h[i] = h;
            r->hv[i] = 1;
            undo_push(r, U_CREATE, i, NULL, NULL);
            t->exists = 1;
        } else if (x < 8) {
            check_missing(r, txn, i);
        } else {
            EXPECT_FAIL(isle_kv_drop(txn, tree_name(i)), ISLE_ENOTFOUND, "drop a missing tree");
            if (r->hv[i])
                EXPECT_FAIL(isle_kv_put(txn, r->h[i], "k", 1, "v", 1, 0), ISLE_ENOTFOUND,
                            "put into a missing tree");
        }
        return;
    }
    uint64_t x = rnd(r, 1000);
    uint64_t pressure = t->n > r->target ? 400 : 0;
    ent e;
    if (x < 2) {
        EXPECT_OK(isle_kv_drop(txn, tree_name(i)), "drop");
        undo_push(r, U_DROP, i, NULL, t);
        memset(t, 0, sizeof *t);
        r->n_drops++;
    } else if (x < 300 - pressure / 2) {
        rand_key(r, &e);
        rand_value(r, &e);
        do_put(r, txn, i, &e, 0);
    } else if (x < 450 - pressure / 4) {
        if (t->n == 0)
            return;
        e = t->e[rnd(r, t->n)];
        rand_value(r, &e);
        do_put(r, txn, i, &e, 0);
    } else if (x < 500) {
        if (t->n && rnd(r, 2))
            e = t->e[rnd(r, t->n)];
        else
            rand_key(r, &e);
        rand_value(r, &e);
        do_put(r, txn, i, &e, ISLE_KV_NOOVERWRITE);
    } else if (x < 650 + pressure) {
        if (t->n == 0)
            return;
        e = t->e[rnd(r, t->n)];
        do_del(r, txn, i, &e);
    } else if (x < 680 + pressure) {
        probe_key(r, t, &e);
        do_del(r, txn, i, &e);
    } else if (x < 920 + pressure) {
        get_one(r, txn, i, t);
    } else if (x < 960 + pressure) {
        walk(r, txn, i, t, 0);
    } else {
        do_bad(r, txn, i);
    }
}

static int write_fn(isle_txn *txn, void *arg) {
    runner *r = arg;
    for (uint32_t k = 0; k < r->w_ops; k++, r->ops++)
        write_op(r, txn);
    if (r->w_leave_cursor) {
        int i = (int)rnd(r, NT);
        if (r->m.t[i].exists)
            EXPECT_OK(isle_cursor_open(txn, handle(r, txn, i), &r->w_cursor), "cursor_open");
        else
            r->w_leave_cursor = 0;
    }
    return r->w_fail;
}

static void write_txn(runner *r) {
    uint64_t x = rnd(r, 100);
    r->w_ops = x < 50 ? 1 + (uint32_t)rnd(r, 10)
             : x < 85 ? 10 + (uint32_t)rnd(r, 40)
             : x < 98 ? 50 + (uint32_t)rnd(r, 250)
                      : 300 + (uint32_t)rnd(r, 1700);
    x = rnd(r, 100);
    static const int fails[] = {ISLE_ECANCELED, -1000, 7, ISLE_EIO};
    r->w_fail = x < 8 ? fails[rnd(r, 4)] : 0;
    r->w_leave_cursor = !r->w_fail && x == 99;
    r->w_cursor = NULL;
    int rc = isle_write(r->db, write_fn, r);
    if (r->w_fail) {
        CHECK(rc == r->w_fail, "isle_write returned %d, the callback %d", rc, r->w_fail);
        undo_rollback(r);
        r->n_rollbacks++;
    } else if (r->w_leave_cursor) {
        EXPECT_FAIL(rc, ISLE_EINVAL, "commit with a cursor open");
        /* The cursor outlived its transaction: every call fails, close works. */
        CHECK(isle_cursor_first(r->w_cursor) == ISLE_EINVAL, "a detached cursor moved");
        isle_cursor_close(r->w_cursor);
        undo_rollback(r);
        r->n_rollbacks++;
    } else {
        EXPECT_OK(rc, "isle_write");
        undo_commit(r);
        r->n_commits++;
    }
}

/* ---- between transactions ---------------------------------------------- */

static void db_open(runner *r) {
    isle_options opt;
    isle_options_init(&opt);
    static const uint32_t sizes[] = {0, 4096, 16384, 65536};
    /* the page size of an existing database is its own */
    opt.page_size = r->db ? sizes[rnd(r, 4)] : r->cfg.page_size;
    opt.sync = r->cfg.sync;
    opt.checkpoint_bytes = r->cfg.checkpoint_bytes;
    opt.cache_bytes = r->cfg.cache_bytes;
    opt.create = r->db == NULL;
    r->db = NULL;
    EXPECT_OK(isle_open(r->tmp.path, &opt, &r->db), "isle_open");
    memset(r->hv, 0, sizeof r->hv);
}

static void read_txn(runner *r) {
    isle_txn *txn;
    EXPECT_OK(isle_read_begin(r->db, &txn), "isle_read_begin");
    if (rnd(r, 10) == 0)
        verify_all(r, txn, &r->m);
    else
        verify_some(r, txn, &r->m, 1 + (int)rnd(r, 30));
    EXPECT_OK(isle_read_end(txn), "isle_read_end");
}

static uint64_t last_txn(runner *r) {
    isle_stats st;
    EXPECT_OK(isle_stat(r->db, &st), "isle_stat");
    return st.last_txn;
}

static void held_begin(runner *r) {
    held *h = &r->held[r->nheld];
    memset(h, 0, sizeof *h);
    h->txn_id = last_txn(r);
    EXPECT_OK(isle_read_begin(r->db, &h->txn), "isle_read_begin (held)");
    model_copy(&h->m, &r->m);
    /* keep one value, preferably a big one */
    for (int tries = 0; tries < 8 && !h->has_pin; tries++) {
        int i = (int)rnd(r, NT);
        const mtree *t = &h->m.t[i];
        if (!t->exists || t->n == 0)
            continue;
        const ent *e = &t->e[rnd(r, t->n)];
        for (int k = 0; k < 4 && e->vlen < 5000; k++)
            e = &t->e[rnd(r, t->n)];
        EXPECT_OK(isle_kv_get(h->txn, handle(r, h->txn, i), e->key, e->klen, &h->pin),
                  "get (held)");
        h->pin_ent = *e;
        h->pin_tree = i;
        h->has_pin = 1;
    }
    r->nheld++;
    r->n_held++;
}

static void held_end(runner *r, int k) {
    held *h = &r->held[k];
    verify_all(r, h->txn, &h->m);
    if (h->has_pin) {
        check_val(r, &h->pin, &h->pin_ent, "a value held across commits");
        isle_kv_release(h->txn, &h->pin);
    }
    EXPECT_OK(isle_read_end(h->txn), "isle_read_end (held)");
    model_free(&h->m);
    r->held[k] = r->held[--r->nheld];
}

static void held_end_all(runner *r) {
    while (r->nheld)
        held_end(r, r->nheld - 1);
}

static void reopen(runner *r) {
    if (r->nheld) {
        EXPECT_FAIL(isle_close(r->db), ISLE_EBUSY, "close with a reader open");
        held_end_all(r);
    }
    EXPECT_OK(isle_close(r->db), "isle_close");
    db_open(r);
    isle_stats st;
    EXPECT_OK(isle_stat(r->db, &st), "isle_stat");
    CHECK(st.page_size == r->cfg.page_size, "page size %u after reopening", st.page_size);
    CHECK(st.last_txn == r->last_txn, "last_txn %llu after reopening, was %llu",
          (unsigned long long)st.last_txn, (unsigned long long)r->last_txn);
    r->n_reopens++;
}

typedef struct stat_seen {
    runner *r;
    int seen[NT];
    int count;
} stat_seen;

static void stat_tree(void *arg, const isle_tree_stats *ts) {
    stat_seen *s = arg;
    runner *r = s->r;
    int i;
    for (i = 0; i < NT; i++)
        if (strcmp(ts->name, tree_name(i)) == 0)
            break;
    CHECK(i < NT, "isle_stat_trees names an unknown tree '%s'", ts->name);
    CHECK(!s->seen[i] && r->m.t[i].exists, "tree '%s' listed twice or dropped", ts->name);
    s->seen[i] = 1;
    s->count++;
    CHECK(ts->entries == r->m.t[i].n, "tree '%s': %llu entries, want %u", ts->name,
          (unsigned long long)ts->entries, r->m.t[i].n);
    CHECK((ts->entries == 0) == (ts->depth == 0), "tree '%s': depth %u with %llu entries",
          ts->name, ts->depth, (unsigned long long)ts->entries);
}

static void phase_check(runner *r) {
    uint64_t bad = 0;
    int rc = isle_check(r->db, &bad);
    CHECK(rc == 0, "isle_check: %s at page %llu", isle_strerror(rc), (unsigned long long)bad);
    CHECK(isle_errmsg()[0] == 0, "isle_check succeeded with a message");
    isle_stats st;
    EXPECT_OK(isle_stat(r->db, &st), "isle_stat");
    int trees = 0;
    for (int i = 0; i < NT; i++)
        trees += r->m.t[i].exists;
    CHECK(st.trees == (uint64_t)trees, "isle_stat: %llu trees, want %d",
          (unsigned long long)st.trees, trees);
    CHECK(st.readers == (uint32_t)r->nheld, "isle_stat: %u readers, want %d", st.readers,
          r->nheld);
    uint64_t oldest = 0;
    for (int k = 0; k < r->nheld; k++)
        if (!oldest || r->held[k].txn_id < oldest)
            oldest = r->held[k].txn_id;
    CHECK(st.oldest_reader_txn == oldest, "isle_stat: oldest reader %llu, want %llu",
          (unsigned long long)st.oldest_reader_txn, (unsigned long long)oldest);
    CHECK(st.last_txn >= r->last_txn, "last_txn went back");
    CHECK(st.free_pages <= st.page_count, "more free pages than pages");
    r->last_txn = st.last_txn;
    stat_seen s = {.r = r};
    EXPECT_OK(isle_stat_trees(r->db, stat_tree, &s), "isle_stat_trees");
    CHECK(s.count == trees, "isle_stat_trees listed %d trees, want %d", s.count, trees);
    isle_txn *txn;
    EXPECT_OK(isle_read_begin(r->db, &txn), "isle_read_begin");
    verify_all(r, txn, &r->m);
    EXPECT_OK(isle_read_end(txn), "isle_read_end");
}

/* The running test's directory, removed by the suite's fini even when an
 * assertion ends the test early. */
static kv_tmp *scratch;
static void cleanup(void) {
    if (scratch)
        kv_tmp_remove(scratch);
}
TestSuite(kv_model, .fini = cleanup);

static void run_model(const mcfg *cfg_in) {
    runner *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->cfg = *cfg_in;
    r->cfg.seed ^= kv_env_u64("ISLE_MODEL_SEED", 0);
    r->rng = r->cfg.seed;
    r->total = kv_env_u64("ISLE_MODEL_OPS", DEFAULT_OPS) / CONFIGS;
    kv_tmp_make(&r->tmp);
    scratch = &r->tmp;
    db_open(r);
    const uint64_t phases = 12;
    for (uint64_t p = 1; p <= phases; p++) {
        uint64_t until = r->total * p / phases;
        r->target = 100 + (uint32_t)rnd(r, 2500);
        while (r->ops < until) {
            uint64_t x = rnd(r, 1000);
            if (x < 700) {
                write_txn(r);
            } else if (x < 850) {
                read_txn(r);
            } else if (x < 870) {
                EXPECT_OK(isle_checkpoint(r->db), "isle_checkpoint");
                r->n_checkpoints++;
            } else if (x < 875) {
                r->last_txn = last_txn(r);
                reopen(r);
            } else if (x < 900) {
                if (r->nheld < HELD_MAX)
                    held_begin(r);
            } else if (x < 990) {
                if (r->nheld) {
                    int k = (int)rnd(r, r->nheld);
                    verify_some(r, r->held[k].txn, &r->held[k].m, 1 + (int)rnd(r, 10));
                }
            } else if (r->nheld) {
                held_end(r, (int)rnd(r, r->nheld));
            }
            r->ops++;
        }
        phase_check(r);
    }
    held_end_all(r);
    phase_check(r);
    EXPECT_OK(isle_close(r->db), "isle_close");
    /* a last reopen and check of the closed file */
    r->db = NULL;
    db_open(r);
    phase_check(r);
    EXPECT_OK(isle_close(r->db), "isle_close");
    if (getenv("ISLE_MODEL_VERBOSE"))
        fprintf(stderr,
                "kv model %s: %llu ops, %llu commits, %llu rollbacks, %llu reopens, "
                "%llu checkpoints, %llu held readers, %llu drops\n",
                r->cfg.name, (unsigned long long)r->ops, (unsigned long long)r->n_commits,
                (unsigned long long)r->n_rollbacks, (unsigned long long)r->n_reopens,
                (unsigned long long)r->n_checkpoints, (unsigned long long)r->n_held,
                (unsigned long long)r->n_drops);
    model_free(&r->m);
    kv_tmp_remove(&r->tmp);
    scratch = NULL;
    free(r->u);
    free(r);
}

Test(kv_model, page4k_sync_full) {
    mcfg c = {"4k/full", 4096, ISLE_SYNC_FULL, 0, 0, 0x1111};
    run_model(&c);
}

Test(kv_model, page16k_sync_normal_small_checkpoints_small_cache) {
    mcfg c = {"16k/normal", 16384, ISLE_SYNC_NORMAL, 1u << 20, 256u << 10, 0x2222};
    run_model(&c);
}

Test(kv_model, page4k_sync_off_tiny_checkpoints_tiny_cache) {
    mcfg c = {"4k/off", 4096, ISLE_SYNC_OFF, 128u << 10, 64u << 10, 0x3333};
    run_model(&c);
}

Test(kv_model, page16k_sync_full) {
    mcfg c = {"16k/full", 16384, ISLE_SYNC_FULL, 0, 0, 0x4444};
    run_model(&c);
}
