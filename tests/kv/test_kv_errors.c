/*
 * test_kv_errors.c: bad input changes nothing.  Every error path of the
 * storage functions of isle.h: NULL arguments, keys and values past the
 * limits, unknown handles, bad tree names, writes through read
 * transactions, nested writes, closing while in use, opening missing,
 * locked and foreign files, bad page sizes, and a transaction function
 * that fails after writing.  Each failure must return its documented code
 * and leave a relevant message in isle_errmsg(); afterwards the database
 * reads back exactly as before (a digest of every tree) and isle_check
 * passes.  Each success leaves isle_errmsg() empty.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv_util.h"

static kv_tmp tmp;
static void setup(void) { kv_tmp_make(&tmp); }
static void teardown(void) { kv_tmp_remove(&tmp); }
TestSuite(kv_errors, .init = setup, .fini = teardown, .timeout = 60);

/* ---- expectations ------------------------------------------------------- */

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* rc is code, and the message is there and mentions needle. */
#define FAILS(expr, code, needle)                                                          \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        cr_assert_eq(rc_, (code), "%s: got %d (%s), want %s", #expr, rc_,                   \
                     isle_strerror(rc_), #code);                                           \
        cr_assert(isle_errmsg()[0] != 0, "%s: failed without a message", #expr);           \
        cr_assert(contains_ci(isle_errmsg(), (needle)),                                    \
                  "%s: message \"%s\" does not mention \"%s\"", #expr, isle_errmsg(),      \
                  (needle));                                                               \
    } while (0)

#define WORKS(expr)                                                                        \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        cr_assert_eq(rc_, 0, "%s: %s: %s", #expr, isle_strerror(rc_), isle_errmsg());      \
        cr_assert_str_empty(isle_errmsg(), "%s succeeded but left \"%s\"", #expr,          \
                            isle_errmsg());                                                \
    } while (0)

/* ---- a database with known contents, and its digest ---------------------- */

#define BIG_LEN 70000u

static int fill_fn(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t, u;
    int rc = isle_kv_open(txn, "t", ISLE_KV_CREATE, &t);
    if (rc == 0)
        rc = isle_kv_open(txn, "u", ISLE_KV_CREATE, &u);
    for (int i = 0; rc == 0 && i < 300; i++) {
        char key[32], val[200];
        int kl = snprintf(key, sizeof key, "key-%05d", i);
        kv_fill(val, sizeof val, (uint64_t)i);
        rc = isle_kv_put(txn, t, key, (size_t)kl, val, (size_t)(i % 200), 0);
    }
    uint8_t *big = malloc(BIG_LEN);
    if (!big)
        return ISLE_ENOMEM;
    kv_fill(big, BIG_LEN, 99);
    if (rc == 0)
        rc = isle_kv_put(txn, u, "big", 3, big, BIG_LEN, 0);
    if (rc == 0)
        rc = isle_kv_put(txn, u, "empty", 5, NULL, 0, 0);
    free(big);
    return rc;
}

static isle_db *make_db(void) {
    isle_db *db = kv_open(tmp.path, 4096, ISLE_SYNC_FULL);
    WORKS(isle_write(db, fill_fn, NULL));
    return db;
}

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return (h ^ n) * 0x100000001b3ull;
}

typedef struct names {
    char name[16][256];
    int n;
} names;

static void collect(void *arg, const isle_tree_stats *st) {
    names *ns = arg;
    cr_assert_lt(ns->n, 16);
    snprintf(ns->name[ns->n++], 256, "%s", st->name);
}

/* A digest of every tree's name, keys and values; also runs isle_check. */
static uint64_t digest(isle_db *db) {
    names ns = {.n = 0};
    WORKS(isle_stat_trees(db, collect, &ns));
    uint64_t h = 0xcbf29ce484222325ull;
    isle_txn *txn;
    WORKS(isle_read_begin(db, &txn));
    for (int i = 0; i < ns.n; i++) {
        isle_tree t;
        isle_cursor *c;
        WORKS(isle_kv_open(txn, ns.name[i], 0, &t));
        h = mix(h, ns.name[i], strlen(ns.name[i]));
        WORKS(isle_cursor_open(txn, t, &c));
        int rc;
        for (rc = isle_cursor_first(c); rc == 0; rc = isle_cursor_next(c)) {
            const void *k;
            size_t kl;
            isle_val v;
            WORKS(isle_cursor_get(c, &k, &kl, &v));
            h = mix(h, k, kl);
            h = mix(h, v.data, v.len);
            isle_kv_release(txn, &v);
        }
        cr_assert_eq(rc, ISLE_ENOTFOUND);
        isle_cursor_close(c);
    }
    WORKS(isle_read_end(txn));
    uint64_t bad = 0;
    int rc = isle_check(db, &bad);
    cr_assert_eq(rc, 0, "isle_check: %s (page %llu)", isle_errmsg(), (unsigned long long)bad);
    return h;
}

/* ---- isle_open ------------------------------------------------------------ */

Test(kv_errors, open_bad_arguments) {
    isle_db *db = NULL;
    isle_options opt;
    isle_options_init(NULL); /* a no-op */
    isle_options_init(&opt);
    FAILS(isle_open(NULL, NULL, &db), ISLE_EINVAL, "NULL");
    FAILS(isle_open(tmp.path, NULL, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_open("", NULL, &db), ISLE_EINVAL, "empty");
    static const uint32_t bad_sizes[] = {12288, 2048, 131072, 1, 4095, 8193, 0x80000000u};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        opt.page_size = bad_sizes[i];
        FAILS(isle_open(tmp.path, &opt, &db), ISLE_EINVAL, "page size");
    }
    opt.page_size = 4096;
    opt.sync = 3;
    FAILS(isle_open(tmp.path, &opt, &db), ISLE_EINVAL, "sync");
    opt.sync = -1;
    FAILS(isle_open(tmp.path, &opt, &db), ISLE_EINVAL, "sync");
    cr_assert_null(db, "a failed open set the handle");
    cr_assert(!kv_exists(tmp.path) && !kv_exists(tmp.wal), "a failed open created a file");

    /* every valid page size works */
    for (uint32_t ps = ISLE_PAGE_SIZE_MIN; ps <= ISLE_PAGE_SIZE_MAX; ps *= 2) {
        db = kv_open(tmp.path, ps, ISLE_SYNC_OFF);
        WORKS(isle_write(db, fill_fn, NULL));
        isle_stats st;
        WORKS(isle_stat(db, &st));
        cr_assert_eq(st.page_size, ps);
        digest(db);
        WORKS(isle_close(db));
        unlink(tmp.path);
        unlink(tmp.wal);
    }
}

Test(kv_errors, open_missing_without_create) {
    isle_options opt;
    isle_options_init(&opt);
    opt.create = 0;
    isle_db *db = NULL;
    FAILS(isle_open(tmp.path, &opt, &db), ISLE_ENOTFOUND, "does not exist");
    cr_assert_null(db);
    cr_assert(!kv_exists(tmp.path), "the database file was created");
    cr_assert(!kv_exists(tmp.wal), "the log was created");
    /* in a directory that does not exist, even with create */
    char p[400];
    snprintf(p, sizeof p, "%s/no/such/dir/db", tmp.dir);
    opt.create = 1;
    int rc = isle_open(p, &opt, &db);
    cr_assert_neq(rc, 0);
    cr_assert(isle_errmsg()[0] != 0);
    cr_assert_null(db);
}

Test(kv_errors, open_locked) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    size_t n1 = 0, w1 = 0, n2 = 0, w2 = 0;
    uint8_t *f1 = kv_slurp(tmp.path, &n1), *l1 = kv_slurp(tmp.wal, &w1);
    isle_db *db2 = NULL;
    FAILS(isle_open(tmp.path, NULL, &db2), ISLE_EBUSY, "locked");
    cr_assert_null(db2);
    isle_options opt;
    isle_options_init(&opt);
    opt.create = 0;
    opt.page_size = 16384;
    FAILS(isle_open(tmp.path, &opt, &db2), ISLE_EBUSY, "locked");
    /* the failed opens wrote nothing and took nothing from the first */
    uint8_t *f2 = kv_slurp(tmp.path, &n2), *l2 = kv_slurp(tmp.wal, &w2);
    cr_assert(n1 == n2 && memcmp(f1, f2, n1) == 0, "the database file changed");
    cr_assert(w1 == w2 && (w1 == 0 || memcmp(l1, l2, w1) == 0), "the log changed");
    free(f1), free(f2), free(l1), free(l2);
    cr_assert_eq(digest(db), h);
    WORKS(isle_write(db, fill_fn, NULL)); /* still writable: the lock held */
    FAILS(isle_open(tmp.path, NULL, &db2), ISLE_EBUSY, "locked");
    WORKS(isle_close(db));
    WORKS(isle_open(tmp.path, NULL, &db2));
    cr_assert_eq(digest(db2), h);
    WORKS(isle_close(db2));
}

static void not_a_db(const void *bytes, size_t len, int create) {
    FILE *f = fopen(tmp.path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
    isle_options opt;
    isle_options_init(&opt);
    opt.create = create;
    isle_db *db = NULL;
    FAILS(isle_open(tmp.path, &opt, &db), ISLE_ENOTDB, "not an isle database");
    cr_assert_null(db);
    size_t n;
    uint8_t *after = kv_slurp(tmp.path, &n);
    cr_assert(n == len && memcmp(after, bytes, len) == 0, "the file changed (%zu bytes)", len);
    free(after);
    cr_assert(!kv_exists(tmp.wal), "a log was created next to a foreign file");
}

Test(kv_errors, open_not_a_database) {
    static const char text[] = "hello, this is a text file and not a database\n";
    uint8_t *buf = malloc(65536);
    cr_assert_not_null(buf);
    for (int create = 0; create < 2; create++) {
        not_a_db(text, sizeof text - 1, create);
        not_a_db("x", 1, create);
        kv_fill(buf, 65536, 5);
        not_a_db(buf, 65536, create);
        memset(buf, 0, 8192);
        not_a_db(buf, 8192, create);
        /* another program's file format */
        memcpy(buf, "SQLite format 3", 16);
        not_a_db(buf, 4096, create);
    }
    free(buf);
    /* an empty file without create is not a database either */
    FILE *f = fopen(tmp.path, "wb");
    fclose(f);
    not_a_db("", 0, 0);
}

/* ---- isle_close ------------------------------------------------------------ */

static int close_inside(isle_txn *txn, void *arg) {
    (void)txn;
    FAILS(isle_close(arg), ISLE_EBUSY, "write");
    FAILS(isle_checkpoint(arg), ISLE_EBUSY, "write");
    isle_stats st;
    FAILS(isle_stat(arg, &st), ISLE_EDEADLK, "write");
    FAILS(isle_check(arg, NULL), ISLE_EDEADLK, "write");
    return 0;
}

Test(kv_errors, close_while_in_use) {
    FAILS(isle_close(NULL), ISLE_EINVAL, "NULL");
    isle_db *db = make_db();
    uint64_t h = digest(db);
    isle_txn *r1, *r2;
    WORKS(isle_read_begin(db, &r1));
    WORKS(isle_read_begin(db, &r2));
    FAILS(isle_close(db), ISLE_EBUSY, "read transaction");
    WORKS(isle_read_end(r1));
    FAILS(isle_close(db), ISLE_EBUSY, "read transaction");
    /* the handle still works: reads, writes, the reader's snapshot */
    isle_tree t;
    isle_val v;
    WORKS(isle_kv_open(r2, "t", 0, &t));
    WORKS(isle_kv_get(r2, t, "key-00007", 9, &v));
    cr_assert_eq(v.len, 7);
    isle_kv_release(r2, &v);
    cr_assert_eq(digest(db), h);
    WORKS(isle_read_end(r2));
    WORKS(isle_write(db, close_inside, db));
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
    WORKS(isle_open(tmp.path, NULL, &db));
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
}

/* ---- transactions ------------------------------------------------------------ */

static int nested_fn(isle_txn *txn, void *arg) {
    (void)txn;
    (void)arg;
    return 0;
}

typedef struct nest {
    isle_db *db, *other;
    int step;
} nest;

static int nesting_fn(isle_txn *txn, void *arg) {
    nest *n = arg;
    isle_tree t;
    WORKS(isle_kv_open(txn, "t", 0, &t));
    WORKS(isle_kv_put(txn, t, "nested", 6, "outer", 5, 0));
    FAILS(isle_write(n->db, nested_fn, NULL), ISLE_EDEADLK, "write transaction");
    FAILS(isle_read_end(txn), ISLE_EINVAL, "write transaction");
    if (n->other) {
        /* a write, a check and a stat of another database in between */
        isle_stats st;
        WORKS(isle_write(n->other, nested_fn, NULL));
        WORKS(isle_check(n->other, NULL));
        WORKS(isle_stat(n->other, &st));
        /* ... and this thread still holds the first one's write */
        FAILS(isle_write(n->db, nested_fn, NULL), ISLE_EDEADLK, "write transaction");
        FAILS(isle_check(n->db, NULL), ISLE_EDEADLK, "write");
        FAILS(isle_checkpoint(n->db), ISLE_EBUSY, "write");
        FAILS(isle_close(n->db), ISLE_EBUSY, "write");
    }
    n->step = 1;
    return 0; /* the outer transaction still commits */
}

Test(kv_errors, nested_write) {
    FAILS(isle_write(NULL, nested_fn, NULL), ISLE_EINVAL, "NULL");
    isle_db *db = make_db();
    FAILS(isle_write(db, NULL, NULL), ISLE_EINVAL, "NULL");
    nest n = {db, NULL, 0};
    WORKS(isle_write(db, nesting_fn, &n));
    cr_assert_eq(n.step, 1);

    kv_tmp other;
    kv_tmp_make(&other);
    n.other = kv_open(other.path, 4096, ISLE_SYNC_OFF);
    n.step = 0;
    WORKS(isle_write(db, nesting_fn, &n));
    cr_assert_eq(n.step, 1);
    WORKS(isle_close(n.other));
    kv_tmp_remove(&other);

    isle_txn *txn;
    isle_tree t;
    isle_val v;
    WORKS(isle_read_begin(db, &txn));
    WORKS(isle_kv_open(txn, "t", 0, &t));
    WORKS(isle_kv_get(txn, t, "nested", 6, &v));
    cr_assert(v.len == 5 && memcmp(v.data, "outer", 5) == 0);
    isle_kv_release(txn, &v);
    WORKS(isle_read_end(txn));
    digest(db);
    WORKS(isle_close(db));
}

Test(kv_errors, read_transaction_bad_arguments) {
    isle_db *db = make_db();
    isle_txn *txn = NULL;
    FAILS(isle_read_begin(NULL, &txn), ISLE_EINVAL, "NULL");
    FAILS(isle_read_begin(db, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_read_end(NULL), ISLE_EINVAL, "NULL");
    cr_assert_null(txn);
    WORKS(isle_close(db));
}

typedef struct failing {
    int rc;    /* what the function returns */
    int puts;  /* how many puts before that */
    int drop;  /* also drop tree "u" and create "new" */
} failing;

static int failing_fn(isle_txn *txn, void *arg) {
    failing *f = arg;
    isle_tree t, nt;
    WORKS(isle_kv_open(txn, "t", 0, &t));
    for (int i = 0; i < f->puts; i++) {
        char key[32], val[3000];
        int kl = snprintf(key, sizeof key, "key-%05d", i * 7);
        memset(val, 'x', sizeof val);
        WORKS(isle_kv_put(txn, t, key, (size_t)kl, val, (size_t)(i % 3000), 0));
        if (i % 5 == 0)
            WORKS(isle_kv_del(txn, t, key, (size_t)kl));
    }
    if (f->drop) {
        WORKS(isle_kv_drop(txn, "u"));
        WORKS(isle_kv_open(txn, "new", ISLE_KV_CREATE, &nt));
        WORKS(isle_kv_put(txn, nt, "k", 1, "v", 1, 0));
    }
    return f->rc;
}

Test(kv_errors, failing_transaction_changes_nothing) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    isle_stats st0, st;
    WORKS(isle_stat(db, &st0));
    static const failing cases[] = {
        {ISLE_ECANCELED, 0, 0}, {ISLE_ECANCELED, 1, 0}, {-1000, 50, 0},
        {42, 2000, 0},          {ISLE_EIO, 10, 1},      {ISLE_EEXIST, 500, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        failing f = cases[i];
        int rc = isle_write(db, failing_fn, &f);
        cr_assert_eq(rc, f.rc, "case %zu: isle_write returned %d", i, rc);
        cr_assert(isle_errmsg()[0] != 0, "case %zu: no message", i);
        cr_assert_eq(digest(db), h, "case %zu: a rolled back write is visible", i);
        WORKS(isle_stat(db, &st));
        cr_assert_eq(st.last_txn, st0.last_txn, "case %zu: a transaction id was used", i);
    }
    /* the pages those transactions took are free again: nothing leaked
     * (digest ran isle_check) and the file did not grow past one big write */
    WORKS(isle_checkpoint(db));
    WORKS(isle_close(db));
    WORKS(isle_open(tmp.path, NULL, &db));
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
}

/* ---- trees ---------------------------------------------------------------- */

static void bad_names(isle_txn *txn, int write) {
    char long_name[257];
    memset(long_name, 'n', 256);
    long_name[256] = 0;
    static const char *bad_utf8[] = {
        "\xff",           "a\xc3",         "\xc0\xaf",          /* truncated, overlong */
        "\xed\xa0\x80",   "\xf4\x90\x80\x80", "x\x80y",          /* surrogate, > U+10FFFF */
    };
    isle_tree t = 12345;
    unsigned flags = write ? ISLE_KV_CREATE : 0;
    FAILS(isle_kv_open(txn, "", flags, &t), ISLE_EINVAL, "name");
    FAILS(isle_kv_open(txn, long_name, flags, &t), ISLE_EINVAL, "name");
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof *bad_utf8; i++)
        FAILS(isle_kv_open(txn, bad_utf8[i], flags, &t), ISLE_EINVAL, "UTF-8");
    cr_assert_eq(t, 12345, "a failed open set the handle");
    FAILS(isle_kv_open(NULL, "t", 0, &t), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_open(txn, NULL, 0, &t), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_open(txn, "t", 0, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_open(txn, "t", 0x2, &t), ISLE_EINVAL, "flags");
    FAILS(isle_kv_open(txn, "missing", 0, &t), ISLE_ENOTFOUND, "no tree");
    if (write) {
        FAILS(isle_kv_drop(txn, ""), ISLE_EINVAL, "name");
        FAILS(isle_kv_drop(txn, long_name), ISLE_EINVAL, "name");
        FAILS(isle_kv_drop(txn, "\xff"), ISLE_EINVAL, "UTF-8");
        FAILS(isle_kv_drop(txn, "missing"), ISLE_ENOTFOUND, "no tree");
    }
    FAILS(isle_kv_drop(NULL, "t"), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_drop(txn, NULL), ISLE_EINVAL, "NULL");
    memset(long_name + 255, 0, 1); /* 255 bytes: fine */
    if (write) {
        WORKS(isle_kv_open(txn, long_name, ISLE_KV_CREATE, &t));
        WORKS(isle_kv_drop(txn, long_name));
    } else {
        FAILS(isle_kv_open(txn, long_name, 0, &t), ISLE_ENOTFOUND, "no tree");
    }
}

static int bad_names_fn(isle_txn *txn, void *arg) {
    (void)arg;
    bad_names(txn, 1);
    return 0;
}

Test(kv_errors, tree_names) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    WORKS(isle_write(db, bad_names_fn, NULL));
    cr_assert_eq(digest(db), h);
    isle_txn *txn;
    WORKS(isle_read_begin(db, &txn));
    bad_names(txn, 0);
    WORKS(isle_read_end(txn));
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
}

Test(kv_errors, writes_through_a_read_transaction) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    isle_txn *txn;
    isle_tree t, nt = 999;
    WORKS(isle_read_begin(db, &txn));
    WORKS(isle_kv_open(txn, "t", 0, &t));
    FAILS(isle_kv_open(txn, "newtree", ISLE_KV_CREATE, &nt), ISLE_EREADONLY, "read transaction");
    cr_assert_eq(nt, 999);
    FAILS(isle_kv_open(txn, "t", ISLE_KV_CREATE, &nt), ISLE_EREADONLY, "read transaction");
    FAILS(isle_kv_drop(txn, "t"), ISLE_EREADONLY, "read transaction");
    FAILS(isle_kv_drop(txn, "missing"), ISLE_EREADONLY, "read transaction");
    FAILS(isle_kv_put(txn, t, "key-00001", 9, "v", 1, 0), ISLE_EREADONLY, "read transaction");
    FAILS(isle_kv_put(txn, t, "brand new", 9, "v", 1, ISLE_KV_NOOVERWRITE), ISLE_EREADONLY,
          "read transaction");
    FAILS(isle_kv_del(txn, t, "key-00001", 9), ISLE_EREADONLY, "read transaction");
    FAILS(isle_kv_del(txn, t, "missing", 7), ISLE_EREADONLY, "read transaction");
    /* the transaction still reads */
    isle_val v;
    WORKS(isle_kv_get(txn, t, "key-00001", 9, &v));
    cr_assert_eq(v.len, 1);
    isle_kv_release(txn, &v);
    WORKS(isle_read_end(txn));
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
}

/* ---- keys and values --------------------------------------------------------- */

typedef struct kv_case {
    isle_tree t;
    uint8_t *huge; /* ISLE_OBJECT_SIZE_MAX + 1 bytes */
} kv_case;

static void bad_kv_calls(isle_txn *txn, isle_tree t, int write, const uint8_t *huge) {
    uint8_t key[ISLE_KV_KEY_MAX + 1];
    memset(key, 'k', sizeof key);
    isle_val v;
    memset(&v, 0x5a, sizeof v);
    FAILS(isle_kv_get(NULL, t, "k", 1, &v), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_get(txn, t, "k", 1, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_get(txn, t, NULL, 1, &v), ISLE_EINVAL, "key");
    cr_assert(v.data == NULL && v.len == 0, "a failed get left a value");
    FAILS(isle_kv_get(txn, t, key, 0, &v), ISLE_EINVAL, "key");
    FAILS(isle_kv_get(txn, t, key, sizeof key, &v), ISLE_ETOOBIG, "513");
    FAILS(isle_kv_get(txn, t + 500, "k", 1, &v), ISLE_EINVAL, "handle");
    FAILS(isle_kv_get(txn, UINT32_MAX, "k", 1, &v), ISLE_EINVAL, "handle");
    FAILS(isle_kv_get(txn, t, "nope", 4, &v), ISLE_ENOTFOUND, "no such");
    isle_kv_release(txn, &v); /* zeroed by the failure: a no-op */
    isle_kv_release(NULL, &v);
    isle_kv_release(txn, NULL);

    int ro = write ? 0 : 1;
#define WRITE_FAILS(expr, code, needle)                                                    \
    do {                                                                                   \
        if (ro)                                                                            \
            FAILS(expr, ISLE_EREADONLY, "read transaction");                               \
        else                                                                               \
            FAILS(expr, code, needle);                                                     \
    } while (0)
    FAILS(isle_kv_put(NULL, t, "k", 1, "v", 1, 0), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_put(txn, t, NULL, 1, "v", 1, 0), ISLE_EINVAL, "key");
    FAILS(isle_kv_put(txn, t, key, 0, "v", 1, 0), ISLE_EINVAL, "key");
    FAILS(isle_kv_put(txn, t, "k", 1, NULL, 1, 0), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_put(txn, t, "k", 1, "v", 1, 0x4), ISLE_EINVAL, "flags");
    FAILS(isle_kv_put(txn, t, key, sizeof key, "v", 1, 0), ISLE_ETOOBIG, "513");
    FAILS(isle_kv_put(txn, t, "k", 1, huge, ISLE_OBJECT_SIZE_MAX + 1u, 0), ISLE_ETOOBIG,
          "value");
    FAILS(isle_kv_put(txn, t, "k", 1, huge, SIZE_MAX, 0), ISLE_ETOOBIG, "value");
    WRITE_FAILS(isle_kv_put(txn, t + 500, "k", 1, "v", 1, 0), ISLE_EINVAL, "handle");
    WRITE_FAILS(isle_kv_put(txn, t, "key-00003", 9, "v", 1, ISLE_KV_NOOVERWRITE), ISLE_EEXIST,
                "exists");
    FAILS(isle_kv_del(NULL, t, "k", 1), ISLE_EINVAL, "NULL");
    FAILS(isle_kv_del(txn, t, NULL, 1), ISLE_EINVAL, "key");
    FAILS(isle_kv_del(txn, t, key, 0), ISLE_EINVAL, "key");
    FAILS(isle_kv_del(txn, t, key, sizeof key), ISLE_ETOOBIG, "513");
    WRITE_FAILS(isle_kv_del(txn, t + 500, "k", 1), ISLE_EINVAL, "handle");
    WRITE_FAILS(isle_kv_del(txn, t, "nope", 4), ISLE_ENOTFOUND, "no such");
#undef WRITE_FAILS

    /* cursors */
    isle_cursor *c = NULL;
    const void *k;
    size_t kl;
    FAILS(isle_cursor_open(NULL, t, &c), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_open(txn, t, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_open(txn, t + 500, &c), ISLE_EINVAL, "handle");
    cr_assert_null(c);
    isle_cursor_close(NULL);
    FAILS(isle_cursor_first(NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_last(NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_next(NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_prev(NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_seek(NULL, "k", 1), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_get(NULL, &k, &kl, &v), ISLE_EINVAL, "NULL");
    WORKS(isle_cursor_open(txn, t, &c));
    FAILS(isle_cursor_seek(c, NULL, 1), ISLE_EINVAL, "key");
    FAILS(isle_cursor_seek(c, key, 0), ISLE_EINVAL, "key");
    FAILS(isle_cursor_seek(c, key, sizeof key), ISLE_ETOOBIG, "513");
    FAILS(isle_cursor_seek(c, "zzz", 3), ISLE_ENOTFOUND, "seek");
    WORKS(isle_cursor_seek(c, "key-00010", 9));
    FAILS(isle_cursor_get(c, NULL, &kl, &v), ISLE_EINVAL, "NULL");
    FAILS(isle_cursor_get(c, &k, NULL, &v), ISLE_EINVAL, "NULL");
    WORKS(isle_cursor_get(c, &k, &kl, NULL));
    cr_assert(kl == 9 && memcmp(k, "key-00010", 9) == 0);
    WORKS(isle_cursor_last(c));
    FAILS(isle_cursor_next(c), ISLE_ENOTFOUND, "isle_cursor_next");
    WORKS(isle_cursor_get(c, &k, &kl, NULL));
    cr_assert(kl == 9 && memcmp(k, "key-00299", 9) == 0, "moved past the end");
    WORKS(isle_cursor_first(c));
    FAILS(isle_cursor_prev(c), ISLE_ENOTFOUND, "isle_cursor_prev");
    WORKS(isle_cursor_get(c, &k, &kl, &v));
    cr_assert(kl == 9 && memcmp(k, "key-00000", 9) == 0, "moved before the start");
    isle_kv_release(txn, &v);
    isle_cursor_close(c);
}

static int bad_kv_fn(isle_txn *txn, void *arg) {
    kv_case *kc = arg;
    bad_kv_calls(txn, kc->t, 1, kc->huge);
    /* harmless failures leave the transaction usable: this commits */
    WORKS(isle_kv_put(txn, kc->t, "after", 5, "ok", 2, 0));
    return 0;
}

static int undo_after_fn(isle_txn *txn, void *arg) {
    kv_case *kc = arg;
    WORKS(isle_kv_del(txn, kc->t, "after", 5));
    return 0;
}

Test(kv_errors, keys_values_handles_cursors) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    kv_case kc;
    kc.huge = calloc(1, ISLE_OBJECT_SIZE_MAX + 1u);
    cr_assert_not_null(kc.huge);
    isle_txn *txn;
    WORKS(isle_read_begin(db, &txn));
    WORKS(isle_kv_open(txn, "t", 0, &kc.t));
    bad_kv_calls(txn, kc.t, 0, kc.huge);
    WORKS(isle_read_end(txn));
    cr_assert_eq(digest(db), h);

    WORKS(isle_write(db, bad_kv_fn, &kc));
    cr_assert_neq(digest(db), h);
    WORKS(isle_write(db, undo_after_fn, &kc));
    cr_assert_eq(digest(db), h);
    free(kc.huge);
    WORKS(isle_close(db));
}

/* Writing to a tree invalidates its cursors in that transaction (only). */
static int invalidate_fn(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t, u;
    isle_cursor *ct, *cu;
    const void *k;
    size_t kl;
    WORKS(isle_kv_open(txn, "t", 0, &t));
    WORKS(isle_kv_open(txn, "u", 0, &u));
    WORKS(isle_cursor_open(txn, t, &ct));
    WORKS(isle_cursor_open(txn, u, &cu));
    WORKS(isle_cursor_first(ct));
    WORKS(isle_cursor_first(cu));
    WORKS(isle_kv_put(txn, t, "key-00001", 9, "changed", 7, 0));
    FAILS(isle_cursor_next(ct), ISLE_EINVAL, "written");
    FAILS(isle_cursor_get(ct, &k, &kl, NULL), ISLE_EINVAL, "written");
    FAILS(isle_cursor_first(ct), ISLE_EINVAL, "written");
    WORKS(isle_cursor_next(cu)); /* the other tree's cursor is fine */
    WORKS(isle_cursor_get(cu, &k, &kl, NULL));
    cr_assert(kl == 5 && memcmp(k, "empty", 5) == 0);
    /* a failed (harmless) write invalidates too: the rule is simple */
    isle_cursor_close(ct);
    WORKS(isle_cursor_open(txn, t, &ct));
    WORKS(isle_cursor_first(ct));
    FAILS(isle_kv_del(txn, t, "nope", 4), ISLE_ENOTFOUND, "no such");
    isle_cursor_close(ct);
    isle_cursor_close(cu);
    return ISLE_ECANCELED;
}

Test(kv_errors, writes_invalidate_cursors) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    FAILS(isle_write(db, invalidate_fn, NULL), ISLE_ECANCELED, "rolled back");
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
}

/* ---- maintenance --------------------------------------------------------------- */

static void no_tree(void *arg, const isle_tree_stats *st) {
    (void)arg;
    (void)st;
}

Test(kv_errors, maintenance_bad_arguments) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    isle_stats st;
    uint64_t bad = 77;
    FAILS(isle_checkpoint(NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_stat(NULL, &st), ISLE_EINVAL, "NULL");
    FAILS(isle_stat(db, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_stat_trees(NULL, no_tree, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_stat_trees(db, NULL, NULL), ISLE_EINVAL, "NULL");
    FAILS(isle_check(NULL, &bad), ISLE_EINVAL, "NULL");
    WORKS(isle_check(db, &bad));
    WORKS(isle_check(db, NULL));
    WORKS(isle_checkpoint(db));
    WORKS(isle_stat(db, &st));
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
}

/* The limits themselves are allowed: 512-byte keys, ISLE_OBJECT_SIZE_MAX
 * values, empty values. */
typedef struct limits {
    uint8_t *huge;
} limits;

static int limits_fn(isle_txn *txn, void *arg) {
    limits *l = arg;
    uint8_t key[ISLE_KV_KEY_MAX];
    memset(key, 0xfe, sizeof key);
    isle_tree t;
    WORKS(isle_kv_open(txn, "limits", ISLE_KV_CREATE, &t));
    WORKS(isle_kv_put(txn, t, key, sizeof key, l->huge, ISLE_OBJECT_SIZE_MAX, 0));
    WORKS(isle_kv_put(txn, t, key, 1, NULL, 0, 0));
    WORKS(isle_kv_put(txn, t, key, 2, "", 0, 0));
    return 0;
}

Test(kv_errors, limits_are_inclusive) {
    isle_db *db = kv_open(tmp.path, 4096, ISLE_SYNC_OFF);
    limits l = {malloc(ISLE_OBJECT_SIZE_MAX)};
    cr_assert_not_null(l.huge);
    kv_fill(l.huge, ISLE_OBJECT_SIZE_MAX, 1234);
    WORKS(isle_write(db, limits_fn, &l));
    free(l.huge);
    WORKS(isle_close(db));
    WORKS(isle_open(tmp.path, NULL, &db));
    isle_txn *txn;
    isle_tree t;
    isle_val v;
    uint8_t key[ISLE_KV_KEY_MAX];
    memset(key, 0xfe, sizeof key);
    WORKS(isle_read_begin(db, &txn));
    WORKS(isle_kv_open(txn, "limits", 0, &t));
    WORKS(isle_kv_get(txn, t, key, sizeof key, &v));
    cr_assert_eq(v.len, ISLE_OBJECT_SIZE_MAX);
    cr_assert_eq(kv_diff(v.data, v.len, 1234), -1);
    isle_kv_release(txn, &v);
    WORKS(isle_kv_get(txn, t, key, 1, &v));
    cr_assert_eq(v.len, 0);
    isle_kv_release(txn, &v);
    WORKS(isle_read_end(txn));
    digest(db);
    WORKS(isle_close(db));
}

/* ---- limits of a handle ---------------------------------------------------------- */

Test(kv_errors, reader_slots_run_out) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    enum { SLOTS = 256 };
    isle_txn **r = calloc(SLOTS, sizeof *r);
    cr_assert_not_null(r);
    for (int i = 0; i < SLOTS; i++)
        WORKS(isle_read_begin(db, &r[i]));
    isle_txn *extra = NULL;
    FAILS(isle_read_begin(db, &extra), ISLE_EAGAIN, "slots");
    cr_assert_null(extra);
    FAILS(isle_stat_trees(db, no_tree, NULL), ISLE_EAGAIN, "slots");
    FAILS(isle_close(db), ISLE_EBUSY, "read transaction");
    WORKS(isle_write(db, nested_fn, NULL)); /* writes do not need a slot */
    WORKS(isle_check(db, NULL));
    WORKS(isle_read_end(r[100]));
    WORKS(isle_read_begin(db, &r[100]));
    for (int i = 0; i < SLOTS; i++)
        WORKS(isle_read_end(r[i]));
    free(r);
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
}

/* A handle knows at most 1024 tree names (isle.h): past that, opening or
 * creating another name fails with ISLE_ETOOBIG and changes nothing; the
 * names it knows keep working; a new handle starts afresh. */
typedef struct many {
    int created;
} many;

static int many_trees_fn(isle_txn *txn, void *arg) {
    many *m = arg;
    isle_tree t;
    int rc = 0;
    for (int i = 0; i < 2000; i++) {
        char name[32];
        snprintf(name, sizeof name, "tree-%04d", i);
        rc = isle_kv_open(txn, name, ISLE_KV_CREATE, &t);
        if (rc)
            break;
        m->created++;
    }
    FAILS(rc, ISLE_ETOOBIG, "1024");
    WORKS(isle_kv_open(txn, "t", 0, &t));
    WORKS(isle_kv_open(txn, "tree-0000", 0, &t));
    return ISLE_ECANCELED;
}

Test(kv_errors, tree_names_per_handle) {
    isle_db *db = make_db();
    uint64_t h = digest(db);
    many m = {0};
    FAILS(isle_write(db, many_trees_fn, &m), ISLE_ECANCELED, "rolled back");
    cr_assert_gt(m.created, 1000, "only %d trees before the limit", m.created);
    cr_assert_leq(m.created, 1024);
    cr_assert_eq(digest(db), h);
    WORKS(isle_close(db));
    WORKS(isle_open(tmp.path, NULL, &db));
    isle_txn *txn;
    isle_tree t;
    WORKS(isle_read_begin(db, &txn));
    FAILS(isle_kv_open(txn, "tree-1500", 0, &t), ISLE_ENOTFOUND, "no tree");
    WORKS(isle_read_end(txn));
    WORKS(isle_close(db));
}
