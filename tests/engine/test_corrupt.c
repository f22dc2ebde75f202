/*
 * test_corrupt.c: damage in the main file, and files that are not what
 * they should be.  Every page of a checkpointed database is damaged in
 * turn (one byte flipped): a B+tree page (branch, leaf, overflow, of a
 * tree or of the catalog) makes the reads that reach it and en_check
 * return CD_ECORRUPT naming that page, a free-list page makes en_open fail
 * naming it, and a free page harms nothing.  Both meta pages damaged,
 * a file that is not an isle database (left byte for byte as it was, and
 * no log created), a newer format version, and a second open of an open
 * database each fail with their own code.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cd_page.h"
#include "en_tutil.h"
#include "testvfs.h"

#define P 4096u

static en_options opts(testvfs *t) { return tu_options(testvfs_vfs(t), EN_SYNC_FULL, 0); }

/*
 * A database with a few hundred keys in two trees, overflow values, and
 * free pages (a transaction that deleted and rewrote keys), checkpointed
 * and closed.  *m is its contents; returns the testvfs.
 */
static testvfs *build(tu_model *m) {
    testvfs *t = testvfs_new(21);
    en_options opt = opts(t);
    en_db *db;
    uint64_t rng = 77;
    tu_model next;
    tu_shape big = {.ops_min = 250, .ops_max = 300, .big_pct = 6, .del_pct = 0};
    tu_shape churn = {.ops_min = 60, .ops_max = 80, .big_pct = 6, .del_pct = 50};
    memset(m, 0, sizeof *m);
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(tu_txn(db, m, &rng, i < 2 ? &big : &churn, &next), 0, "%s",
                     en_errmsg());
        *m = next;
    }
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.free_pages, 0, "the test wants free pages");
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    return t;
}

/* The newest valid meta of a file image. */
static cd_meta newest_meta(const uint8_t *file) {
    cd_meta m[2];
    int ok0 = cd_meta_decode(file, P, 0, &m[0], NULL) == 0;
    int ok1 = cd_meta_decode(file + P, P, 1, &m[1], NULL) == 0;
    cr_assert(ok0 || ok1);
    return ok0 && ok1 ? (m[1].txn > m[0].txn ? m[1] : m[0]) : ok0 ? m[0] : m[1];
}

enum role { R_UNUSED, R_TREE, R_CHAIN, R_FREE };

/* What each page of the file image is: tree page, free-list chain page,
 * free page (by the free list), or neither (a hole: never written). */
static enum role *roles(const uint8_t *file, size_t len, uint32_t *count) {
    cd_meta m = newest_meta(file);
    cr_assert_eq((size_t)m.page_count * P, len);
    enum role *r = calloc(m.page_count, sizeof *r);
    for (uint32_t c = m.free_head; c; c = cd_page_aux0(file + (size_t)c * P)) {
        const uint8_t *pg = file + (size_t)c * P;
        cr_assert_eq(cd_page_validate(pg, P, c, CD_PAGE_MASK_FREELIST, NULL), 0);
        r[c] = R_CHAIN;
        for (unsigned i = 0; i < cd_page_n(pg); i++)
            r[cd_freelist_get(pg, i)] = R_FREE;
    }
    for (uint32_t p = CD_FIRST_DATA_PGNO; p < m.page_count; p++) {
        uint8_t type = file[(size_t)p * P];
        if (r[p] == R_UNUSED && (type == CD_PAGE_BRANCH || type == CD_PAGE_LEAF ||
                                 type == CD_PAGE_OVERFLOW))
            r[p] = R_TREE;
    }
    *count = m.page_count;
    return r;
}

static int names_page(uint32_t pgno) {
    char want[32];
    snprintf(want, sizeof want, "page %u", pgno);
    return strstr(en_errmsg(), want) != NULL;
}

/* Reads every key of every tree of m with en_get; each failure must be
 * CD_ECORRUPT naming pgno.  Returns how many failed. */
static unsigned get_all(en_db *db, const tu_model *m, uint32_t pgno) {
    en_txn *t;
    unsigned bad = 0;
    cr_assert_eq(en_read_begin(db, &t), 0);
    for (unsigned ti = 0; ti < TU_TREES; ti++) {
        char name[8], key[16];
        snprintf(name, sizeof name, "t%u", ti);
        en_tree id;
        int rc = en_tree_open(t, name, 0, &id);
        if (!m->exists[ti] && rc == CD_ENOTFOUND)
            continue;
        if (rc) {
            cr_assert_eq(rc, CD_ECORRUPT, "open %s: %d %s", name, rc, en_errmsg());
            cr_assert(names_page(pgno), "page %u: %s", pgno, en_errmsg());
            bad++;
            continue;
        }
        for (unsigned k = 0; k < TU_KEYS; k++) {
            en_val v;
            rc = en_get(t, id, key, tu_key(k, key), &v);
            if (rc == 0) {
                cr_assert(m->ent[ti][k].present);
                cr_assert_eq(v.len, m->ent[ti][k].len);
                en_val_release(t, &v);
            } else if (rc == CD_ENOTFOUND) {
                cr_assert(!m->ent[ti][k].present);
            } else {
                cr_assert_eq(rc, CD_ECORRUPT, "get: %d %s", rc, en_errmsg());
                cr_assert(names_page(pgno), "page %u: %s", pgno, en_errmsg());
                bad++;
            }
        }
    }
    uint64_t seq;
    int rc = tu_txn_seq(t, &seq);
    if (rc) {
        cr_assert_eq(rc, CD_ECORRUPT, "seq: %d %s", rc, en_errmsg());
        cr_assert(names_page(pgno), "page %u: %s", pgno, en_errmsg());
        bad++;
    }
    en_txn_end(t);
    return bad;
}

Test(corrupt, every_page_damaged_in_turn, .timeout = 120) {
    tu_model m;
    testvfs *t = build(&m);
    en_options opt = opts(t);
    size_t len;
    uint8_t *orig = testvfs_file_get(t, TU_PATH, &len);
    uint32_t count;
    enum role *r = roles(orig, len, &count);
    unsigned seen[4] = {0};
    for (uint32_t p = CD_FIRST_DATA_PGNO; p < count; p++) {
        uint8_t *img = malloc(len);
        memcpy(img, orig, len);
        img[(size_t)p * P + P / 2 + p % 64] ^= 0x04;
        testvfs_file_set(t, TU_PATH, img, len);
        en_db *db;
        int rc = en_open(TU_PATH, &opt, &db);
        seen[r[p]]++;
        if (r[p] == R_CHAIN) {
            cr_assert_eq(rc, CD_ECORRUPT, "free-list page %u: open %d", p, rc);
            cr_assert(names_page(p), "page %u: %s", p, en_errmsg());
            free(img);
            continue;
        }
        cr_assert_eq(rc, 0, "page %u: open: %s", p, en_errmsg());
        uint64_t bad = 0;
        rc = en_check(db, &bad);
        if (r[p] == R_TREE) {
            cr_assert_eq(rc, CD_ECORRUPT, "tree page %u: check says %d", p, rc);
            cr_assert_eq(bad, p, "check names page %llu, not %u: %s",
                         (unsigned long long)bad, p, en_errmsg());
            cr_assert(names_page(p), "page %u: %s", p, en_errmsg());
            cr_assert_gt(get_all(db, &m, p), 0, "no read reached damaged page %u", p);
            char why[256] = "";
            cr_assert_neq(tu_compare(db, &m, why, sizeof why), 0);
        } else {
            /* Free pages and holes are never read. */
            cr_assert_eq(rc, 0, "page %u (%d): %s", p, r[p], en_errmsg());
            char why[256] = "";
            cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "%s", why);
        }
        cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
        size_t now_len;
        uint8_t *now = testvfs_file_get(t, TU_PATH, &now_len);
        cr_assert(now_len == len && memcmp(now, img, len) == 0, "reading wrote the file");
        free(now);
        free(img);
    }
    cr_assert_gt(seen[R_TREE], 10);
    cr_assert_gt(seen[R_CHAIN], 0);
    cr_assert_gt(seen[R_FREE], 0);
    free(r);
    free(orig);
    testvfs_free(t);
}

/* Opening must fail with want, leave the file as it was and create no log. */
static void expect_refused(testvfs *t, const uint8_t *img, size_t len, int want,
                           const char *what) {
    testvfs_file_set(t, TU_PATH, img, len);
    en_options opt = opts(t);
    en_db *db = NULL;
    int rc = en_open(TU_PATH, &opt, &db);
    cr_assert_eq(rc, want, "%s: open says %d (%s)", what, rc, en_errmsg());
    cr_assert_null(db);
    cr_assert_neq(en_errmsg()[0], 0, "%s: no message", what);
    size_t now_len = 0;
    uint8_t *now = testvfs_file_get(t, TU_PATH, &now_len);
    cr_assert(now && now_len == len && memcmp(now, img, len) == 0, "%s: file changed", what);
    free(now);
    uint8_t *wal = testvfs_file_get(t, TU_WAL, &now_len);
    cr_assert_null(wal, "%s: a log was created", what);
}

Test(corrupt, both_meta_pages_damaged) {
    tu_model m;
    testvfs *t = build(&m);
    size_t len;
    uint8_t *img = testvfs_file_get(t, TU_PATH, &len);
    en_options opt = opts(t);
    en_db *db;
    /* The older meta damaged: the newer one serves, with every commit. */
    cd_meta m0, m1;
    cr_assert_eq(cd_meta_decode(img, P, 0, &m0, NULL), 0);
    cr_assert_eq(cd_meta_decode(img + P, P, 1, &m1, NULL), 0);
    size_t older = m0.txn < m1.txn ? 0 : P;
    img[older + CD_META_OFF_TXN] ^= 1;
    testvfs_file_set(t, TU_PATH, img, len);
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    char why[256] = "";
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_close(db), 0);
    /* The older meta's first sector lost (as a torn write of it would):
     * page 1 is found all the same. */
    free(img);
    img = testvfs_file_get(t, TU_PATH, &len);
    if (older == 0) {
        memset(img, 0, 512);
        testvfs_file_set(t, TU_PATH, img, len);
        cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
        cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "%s", why);
        cr_assert_eq(en_close(db), 0);
    }
    /* Both damaged. */
    img[older + CD_META_OFF_TXN] ^= 0x20;
    img[P - older + CD_META_OFF_PAGE_COUNT] ^= 0x80;
    os_err e;
    os_remove(testvfs_vfs(t), TU_WAL, &e);
    expect_refused(t, img, len, CD_ECORRUPT, "both metas");
    cr_assert(strstr(en_errmsg(), "meta") != NULL, "%s", en_errmsg());
    free(img);
    testvfs_free(t);
}

Test(corrupt, not_an_isle_database) {
    testvfs *t = testvfs_new(5);
    char text[3000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    expect_refused(t, (const uint8_t *)text, sizeof text, CD_ENOTDB, "text file");
    uint8_t zeros[2 * P] = {0};
    expect_refused(t, zeros, sizeof zeros, CD_ENOTDB, "zeros");
    testvfs_free(t);
}

Test(corrupt, newer_format_version) {
    tu_model m;
    testvfs *t = build(&m);
    size_t len;
    uint8_t *img = testvfs_file_get(t, TU_PATH, &len);
    for (uint32_t slot = 0; slot < 2; slot++) {
        uint8_t *pg = img + (size_t)slot * P;
        cd_put32(pg + CD_META_OFF_VERSION, CD_FORMAT_VERSION + 1);
        cd_page_seal(pg, P);
    }
    os_err e;
    os_remove(testvfs_vfs(t), TU_WAL, &e);
    expect_refused(t, img, len, CD_EVERSION, "version");
    free(img);
    testvfs_free(t);
}

Test(corrupt, second_open_is_busy) {
    testvfs *t = testvfs_new(6);
    en_options opt = opts(t);
    en_db *db, *db2 = NULL;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0);
    cr_assert_eq(en_open(TU_PATH, &opt, &db2), CD_EBUSY);
    cr_assert_null(db2);
    cr_assert(strstr(en_errmsg(), "locked") != NULL, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0);
    cr_assert_eq(en_open(TU_PATH, &opt, &db2), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db2), 0);
    testvfs_free(t);
}

/* The same two refusals through the POSIX vfs and real files. */
Test(corrupt, posix_not_a_database_and_busy) {
    char path[64], wal[80];
    snprintf(path, sizeof path, "/tmp/isle-en-corrupt-%d.isle", (int)getpid());
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\necho this is not a database\n", f);
    fclose(f);
    en_options opt = {.create = 1};
    en_db *db = NULL, *db2 = NULL;
    cr_assert_eq(en_open(path, &opt, &db), CD_ENOTDB, "%s", en_errmsg());
    cr_assert_eq(access(wal, F_OK), -1, "a log was created");
    f = fopen(path, "r");
    char buf[128] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    cr_assert_eq(n, strlen("#!/bin/sh\necho this is not a database\n"));
    cr_assert_str_eq(buf, "#!/bin/sh\necho this is not a database\n");
    unlink(path);
    cr_assert_eq(en_open(path, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(en_open(path, &opt, &db2), CD_EBUSY);
    cr_assert(strstr(en_errmsg(), "locked") != NULL, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    unlink(path);
    unlink(wal);
}
