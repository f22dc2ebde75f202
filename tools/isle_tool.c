/*
 * isle_tool.c: the `isle` command-line tool.
 *
 *   isle check FILE   verify the whole database; exit 0 when sound, 1 with
 *                     the first problem (page number and what is wrong)
 *   isle stat FILE    page counts, free pages, log size, trees and their
 *                     depths, the oldest live snapshot
 *
 * Opening a database recovers its log, as any open does; a missing file is
 * an error (the tool never creates one).  Uses the public API only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "isle.h"

static int usage(void) {
    fprintf(stderr, "usage: isle check FILE\n       isle stat FILE\n");
    return 2;
}

static int open_db(const char *path, isle_db **db) {
    isle_options opt;
    isle_options_init(&opt);
    opt.create = 0;
    int rc = isle_open(path, &opt, db);
    if (rc)
        fprintf(stderr, "isle: cannot open %s: %s: %s\n", path, isle_strerror(rc),
                isle_errmsg());
    return rc;
}

static int cmd_check(const char *path) {
    isle_db *db;
    int rc = open_db(path, &db);
    if (rc)
        return 1;
    uint64_t bad = 0;
    rc = isle_check(db, &bad);
    if (rc == 0) {
        printf("%s: ok\n", path);
    } else if (rc == ISLE_ECORRUPT) {
        printf("%s: corrupt at page %" PRIu64 ": %s\n", path, bad, isle_errmsg());
    } else {
        printf("%s: check failed: %s: %s\n", path, isle_strerror(rc), isle_errmsg());
    }
    isle_close(db);
    return rc == 0 ? 0 : 1;
}

static void print_tree(void *arg, const isle_tree_stats *t) {
    FILE *out = arg;
    fprintf(out, "  %-24s depth %u  entries %" PRIu64 "  pages %" PRIu64 " branch / %" PRIu64
                 " leaf / %" PRIu64 " overflow  %" PRIu64 " bytes used\n",
            t->name, t->depth, t->entries, t->branch_pages, t->leaf_pages,
            t->overflow_pages, t->bytes_used);
}

static int cmd_stat(const char *path) {
    isle_db *db;
    if (open_db(path, &db))
        return 1;
    isle_stats st;
    int rc = isle_stat(db, &st);
    if (rc) {
        fprintf(stderr, "isle: stat failed: %s\n", isle_errmsg());
        isle_close(db);
        return 1;
    }
    printf("file            %s\n", path);
    printf("page size       %u\n", st.page_size);
    printf("pages           %" PRIu64 " (%.1f MiB)\n", st.page_count,
           (double)st.page_count * st.page_size / 1048576.0);
    printf("free pages      %" PRIu64 " (+%" PRIu64 " free-list pages)\n", st.free_pages,
           st.freelist_pages);
    printf("trees           %" PRIu64 " (catalog depth %u)\n", st.trees, st.catalog_depth);
    printf("log             %" PRIu64 " bytes\n", st.log_bytes);
    printf("last txn        %" PRIu64 "\n", st.last_txn);
    if (st.readers)
        printf("oldest snapshot txn %" PRIu64 " (%u readers)\n", st.oldest_reader_txn,
               st.readers);
    else
        printf("oldest snapshot none (no open readers)\n");
    if (st.trees)
        printf("trees:\n");
    rc = isle_stat_trees(db, print_tree, stdout);
    if (rc)
        fprintf(stderr, "isle: reading the trees failed: %s\n", isle_errmsg());
    isle_close(db);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 3)
        return usage();
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2]);
    if (strcmp(argv[1], "stat") == 0)
        return cmd_stat(argv[2]);
    return usage();
}
