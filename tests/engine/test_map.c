/*
 * test_map.c: main-file pages read in place (en_map.c), on real files.
 * Random transactions with frequent checkpoints and a mapping small
 * enough to be replaced as the file grows, while readers keep older
 * snapshots (and the pages of older mappings) open: every snapshot reads
 * exactly its model.  And one byte flipped in each page of a checkpointed
 * file in turn: reads reaching a damaged tree page through the mapping
 * report CD_ECORRUPT naming that page, and keep reporting it.  Pages a
 * checkpoint wrote are not checked again until a reopen; pages it wrote
 * back unchanged keep whether they were checked.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_int.h"
#include "en_tutil.h"

#define P 4096u

static char dir[64], path[96], wal_path[112];

static void tmp_setup(void) {
    snprintf(dir, sizeof dir, "/tmp/isle-map.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/db.isle", dir);
    snprintf(wal_path, sizeof wal_path, "%s-wal", path);
}

static void tmp_teardown(void) {
    unlink(wal_path);
    unlink(path);
    rmdir(dir);
}

TestSuite(map, .init = tmp_setup, .fini = tmp_teardown);

#define READERS 3

Test(map, snapshots_across_checkpoints_and_new_mappings, .timeout = 120) {
    en_map_min_bytes = 64u << 10;
    en_options opt = tu_options(os_vfs_default(), EN_SYNC_NORMAL, 48u << 10);
    en_db *db;
    cr_assert_eq(en_open(path, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(en_map_count(db), 1, "a real file is mapped");
    tu_model m = {0}, next;
    en_txn *rd[READERS] = {0};
    tu_model rm[READERS];
    uint64_t rng = 99;
    char why[256];
    for (unsigned i = 1; i <= 400; i++) {
        int rc = tu_txn(db, &m, &rng, &tu_shape_default, &next);
        cr_assert(rc == 0 || rc == TU_ROLLED_BACK, "txn %u: %d %s", i, rc, en_errmsg());
        if (rc == 0)
            m = next;
        if (i % 25 == 0) { /* a new reader replaces the oldest */
            unsigned r = (i / 25) % READERS;
            if (rd[r]) {
                cr_assert_eq(tu_compare_txn(rd[r], &rm[r], why, sizeof why), 0,
                             "reader %u at txn %u: %s", r, i, why);
                en_txn_end(rd[r]);
            }
            cr_assert_eq(en_read_begin(db, &rd[r]), 0, "%s", en_errmsg());
            rm[r] = m;
            cr_assert_eq(tu_compare_txn(rd[r], &m, why, sizeof why), 0, "%s", why);
        }
    }
    for (unsigned r = 0; r < READERS; r++) {
        cr_assert_eq(tu_compare_txn(rd[r], &rm[r], why, sizeof why), 0, "reader %u: %s", r, why);
        en_txn_end(rd[r]);
    }
    cr_assert_gt(en_map_count(db), 1, "the file outgrew its first mapping");
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0);
    cr_assert_eq(en_open(path, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "after reopen: %s", why);
    cr_assert_eq(en_close(db), 0);
    en_map_min_bytes = 1ull << 30;
}

/* Pages a checkpoint of this process wrote are read back unchecked: their
 * bytes are the images it verified or built.  A reopen checks them. */
/* A database of 40 committed transactions (model *m), all checkpointed,
 * open in *db with options *opt. */
static void checkpointed(uint64_t rng, en_options *opt, en_db **db, tu_model *m) {
    *opt = tu_options(os_vfs_default(), EN_SYNC_FULL, 0);
    cr_assert_eq(en_open(path, opt, db), 0, "%s", en_errmsg());
    tu_model next;
    tu_shape shape = tu_shape_default;
    shape.rollback_pct = 0;
    shape.drop_pct = 0;
    *m = (tu_model){0};
    for (unsigned i = 0; i < 40; i++) {
        cr_assert_eq(tu_txn(*db, m, &rng, &shape, &next), 0, "%s", en_errmsg());
        *m = next;
    }
    cr_assert_eq(en_checkpoint_ex(*db, 1), 0, "%s", en_errmsg());
}

Test(map, pages_written_here_are_not_checked_again, .timeout = 120) {
    en_options opt;
    en_db *db;
    tu_model m;
    checkpointed(7, &opt, &db, &m);
    en_stats a, b;
    char why[256];
    cr_assert_eq(en_stat(db, &a), 0);
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_stat(db, &b), 0);
    cr_assert_eq(b.map_checks, a.map_checks, "%llu pages written here were checked again",
                 (unsigned long long)(b.map_checks - a.map_checks));
    cr_assert_eq(en_close(db), 0);
    cr_assert_eq(en_open(path, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "after reopen: %s", why);
    cr_assert_eq(en_stat(db, &b), 0);
    cr_assert_gt(b.map_checks, 3, "a reopen checks pages at their first use");
    cr_assert_eq(en_close(db), 0);
}

static uint8_t *slurp(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void spill(const char *p, const uint8_t *b, size_t len) {
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

Test(map, damaged_pages_are_reported_through_the_mapping, .timeout = 120) {
    en_options opt;
    en_db *db;
    tu_model m;
    checkpointed(5, &opt, &db, &m);
    cr_assert_eq(en_close(db), 0);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    cr_assert_eq(len % P, 0);
    unsigned reported = 0;
    char why[256], name[32];
    for (uint32_t pg = CD_FIRST_DATA_PGNO; pg < len / P; pg++) {
        orig[(size_t)pg * P + P / 2] ^= 0x10;
        spill(path, orig, len);
        orig[(size_t)pg * P + P / 2] ^= 0x10;
        unlink(wal_path);
        int rc = en_open(path, &opt, &db);
        if (rc) { /* a free-list page: refused at open */
            cr_assert_eq(rc, CD_ECORRUPT, "page %u: %d %s", pg, rc, en_errmsg());
            continue;
        }
        cr_assert_eq(en_map_count(db), 1);
        rc = tu_compare(db, &m, why, sizeof why);
        if (rc) {
            cr_assert_eq(rc, CD_ECORRUPT, "page %u: %d %s", pg, rc, why);
            snprintf(name, sizeof name, "page %u ", pg);
            cr_assert_not_null(strstr(en_errmsg(), name), "page %u: %s", pg, en_errmsg());
            /* not remembered as verified: the second read fails the same */
            cr_assert_eq(tu_compare(db, &m, why, sizeof why), CD_ECORRUPT, "page %u", pg);
            reported++;
        }
        cr_assert_eq(en_close(db), 0);
    }
    free(orig);
    cr_assert_gt(reported, 3, "damaged tree pages went unnoticed");
}

/* A checkpoint writes the few pages between two it copies back as they
 * are (en_ckpt.c): they keep whether they were checked.  A leaf damaged
 * on disk and not read since the reopen is still reported when read after
 * such a checkpoint, not taken as an image the process verified. */
Test(map, pages_written_back_unchanged_are_still_checked, .timeout = 120) {
    en_options opt = tu_options(os_vfs_default(), EN_SYNC_NORMAL, 1ull << 40);
    en_db *db;
    unsigned round = 0, bad = 0;
    cr_assert_eq(en_open(path, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(en_write_sync(db, tu_gap_put, &round), 0, "%s", en_errmsg());
    cr_assert_eq(en_checkpoint_ex(db, 1), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0);
    /* key 102's leaf, which the later rounds leave alone */
    cr_assert_eq(tu_gap_round(102, 2), 0);
    size_t len;
    uint8_t *f = slurp(path, &len);
    uint32_t leaf = 0;
    for (uint32_t pg = CD_FIRST_DATA_PGNO; pg < len / P; pg++)
        if (memmem(f + (size_t)pg * P, P, "g00102", 6)) {
            cr_assert_eq(leaf, 0, "key 102 in pages %u and %u", leaf, pg);
            leaf = pg;
        }
    cr_assert_neq(leaf, 0, "key 102 not found");
    f[(size_t)leaf * P + P / 2] ^= 0x10;
    spill(path, f, len);
    free(f);
    cr_assert_eq(en_open(path, &opt, &db), 0, "%s", en_errmsg());
    for (round = 1; round < 3; round++)
        cr_assert_eq(en_write_sync(db, tu_gap_put, &round), 0, "%s", en_errmsg());
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    int rc = tu_gap_check(db, 2, &bad);
    cr_assert_eq(rc, CD_ECORRUPT, "key %u: %d %s", bad, rc, rc == -1 ? "a wrong value" : "");
    cr_assert_eq(bad / TU_GAP_PER_LEAF, 102 / TU_GAP_PER_LEAF, "key %u reported", bad);
    char name[32];
    snprintf(name, sizeof name, "page %u ", leaf);
    cr_assert_not_null(strstr(en_errmsg(), name), "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0);
}

