/*
 * test_kv_tool.c: the `isle` command-line tool (tools/isle_tool.c) on
 * databases built here through isle.h: `isle check` passes a sound file
 * and names the page of a damaged one (bytes overwritten in place, as dd
 * would), and `isle stat` prints page counts, free pages, log size and
 * every tree with its depth, agreeing with isle_stat / isle_stat_trees.
 * The tool's path comes from the build (ISLE_TOOL).
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kv_util.h"

#ifndef ISLE_TOOL
#error "ISLE_TOOL: the path of the isle tool, defined by tests/CMakeLists.txt"
#endif

static kv_tmp tmp;
static void setup(void) { kv_tmp_make(&tmp); }
static void teardown(void) { kv_tmp_remove(&tmp); }
TestSuite(kv_tool, .init = setup, .fini = teardown, .timeout = 120);

#define OK(expr)                                                                           \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        cr_assert_eq(rc_, 0, "%s: %s: %s", #expr, isle_strerror(rc_), isle_errmsg());      \
    } while (0)

/* Runs the tool with up to two arguments; returns its exit status and its
 * stdout and stderr together in out. */
static int run_tool(const char *a1, const char *a2, char *out, size_t cap) {
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        char *argv[4] = {(char *)ISLE_TOOL, (char *)a1, (char *)a2, NULL};
        execv(ISLE_TOOL, argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t got;
    while ((got = read(fd[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = 0;
    close(fd[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the tool died: %s", out);
    return WEXITSTATUS(status);
}

/* The number after `label` on the line that starts with it, or -1. */
static long long field(const char *out, const char *label) {
    size_t n = strlen(label);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, label, n) == 0)
            return strtoll(p + n + strspn(p + n, " "), NULL, 10);
    return -1;
}

/* ---- building databases ---------------------------------------------------- */

typedef struct build {
    int keys;
    int deletes; /* delete every n-th key afterwards (0: none) */
} build;

static int build_fn(isle_txn *txn, void *arg) {
    build *b = arg;
    isle_tree big, small, empty;
    int rc = isle_kv_open(txn, "big", ISLE_KV_CREATE, &big);
    if (rc == 0)
        rc = isle_kv_open(txn, "small", ISLE_KV_CREATE, &small);
    if (rc == 0)
        rc = isle_kv_open(txn, "empty", ISLE_KV_CREATE, &empty);
    uint8_t val[9000];
    for (int i = 0; rc == 0 && i < b->keys; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "key-%08d", i);
        size_t len = i % 97 == 0 ? sizeof val : (size_t)(i % 300);
        kv_fill(val, len, (uint64_t)i);
        rc = isle_kv_put(txn, big, key, (size_t)kl, val, len, 0);
        if (rc == 0 && i % 50 == 0)
            rc = isle_kv_put(txn, small, key, (size_t)kl, "s", 1, 0);
    }
    return rc;
}

static int delete_fn(isle_txn *txn, void *arg) {
    build *b = arg;
    isle_tree big;
    int rc = isle_kv_open(txn, "big", 0, &big);
    for (int i = 0; rc == 0 && i < b->keys; i += b->deletes) {
        char key[32];
        int kl = snprintf(key, sizeof key, "key-%08d", i);
        rc = isle_kv_del(txn, big, key, (size_t)kl);
    }
    return rc;
}

static void make_db(uint32_t page_size, build *b) {
    isle_db *db = kv_open(tmp.path, page_size, ISLE_SYNC_NORMAL);
    OK(isle_write(db, build_fn, b));
    if (b->deletes)
        OK(isle_write(db, delete_fn, b));
    OK(isle_close(db));
}

/* ---- isle check ------------------------------------------------------------- */

static void overwrite(uint64_t off, const void *bytes, size_t n) {
    int fd = open(tmp.path, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void read_at(uint64_t off, void *bytes, size_t n) {
    int fd = open(tmp.path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, bytes, n, (off_t)off), (ssize_t)n);
    close(fd);
}

Test(kv_tool, check_passes_then_names_the_damaged_page) {
    build b = {3000, 0};
    make_db(4096, &b);
    static char out[16384];
    int rc = run_tool("check", tmp.path, out, sizeof out);
    cr_assert_eq(rc, 0, "isle check of a sound file: exit %d: %s", rc, out);
    cr_assert(strstr(out, "ok") != NULL, "no 'ok': %s", out);

    /* Every data page is in use (nothing was ever freed), so damage to
     * any of them must be found. */
    isle_db *db = kv_open(tmp.path, 4096, ISLE_SYNC_NORMAL);
    isle_stats st;
    OK(isle_stat(db, &st));
    OK(isle_close(db));
    cr_assert_eq(st.free_pages, 0, "the test needs a file without free pages");
    cr_assert_gt(st.page_count, 20);
    uint64_t victims[] = {2, st.page_count / 2, st.page_count - 1, st.page_count / 3 + 1};
    for (size_t k = 0; k < sizeof victims / sizeof *victims; k++) {
        uint64_t p = victims[k];
        uint8_t saved[64], junk[64];
        uint64_t off = p * 4096 + 1000 + 7 * k;
        read_at(off, saved, sizeof saved);
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)(saved[i] ^ (0x5a + i));
        overwrite(off, junk, sizeof junk);

        rc = run_tool("check", tmp.path, out, sizeof out);
        cr_assert_eq(rc, 1, "page %" PRIu64 " damaged: exit %d: %s", p, rc, out);
        if (getenv("ISLE_KV_VERBOSE"))
            fprintf(stderr, "%s", out);
        char want[64];
        snprintf(want, sizeof want, "page %" PRIu64, p);
        cr_assert(strstr(out, want) != NULL, "the output does not name %s: %s", want, out);
        /* and through the API: the same page */
        db = kv_open(tmp.path, 4096, ISLE_SYNC_NORMAL);
        uint64_t bad = 0;
        cr_assert_eq(isle_check(db, &bad), ISLE_ECORRUPT);
        cr_assert_eq(bad, p, "isle_check names page %" PRIu64 ", the damage is in %" PRIu64,
                     bad, p);
        cr_assert(strstr(isle_errmsg(), want) != NULL, "%s", isle_errmsg());
        OK(isle_close(db));

        overwrite(off, saved, sizeof saved); /* repaired: sound again */
        rc = run_tool("check", tmp.path, out, sizeof out);
        cr_assert_eq(rc, 0, "repaired page %" PRIu64 ": exit %d: %s", p, rc, out);
    }
}

Test(kv_tool, check_of_files_that_are_not_sound_databases) {
    static char out[16384];
    /* missing: an error, and nothing is created */
    int rc = run_tool("check", tmp.path, out, sizeof out);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "does not exist") != NULL, "%s", out);
    cr_assert(!kv_exists(tmp.path) && !kv_exists(tmp.wal), "the tool created a file");
    rc = run_tool("stat", tmp.path, out, sizeof out);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
    cr_assert(!kv_exists(tmp.path) && !kv_exists(tmp.wal), "the tool created a file");

    /* not a database: reported, and left alone */
    static const char text[] = "not a database at all\n";
    FILE *f = fopen(tmp.path, "wb");
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    rc = run_tool("check", tmp.path, out, sizeof out);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "not an isle database") != NULL, "%s", out);
    size_t n;
    uint8_t *after = kv_slurp(tmp.path, &n);
    cr_assert(n == sizeof text - 1 && memcmp(after, text, n) == 0, "the file changed");
    free(after);
    cr_assert(!kv_exists(tmp.wal));

    /* usage */
    cr_assert_eq(run_tool(NULL, NULL, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "usage") != NULL, "%s", out);
    cr_assert_eq(run_tool("frobnicate", tmp.path, out, sizeof out), 2, "%s", out);
    cr_assert_eq(run_tool("check", NULL, out, sizeof out), 2, "%s", out);
}

/* ---- isle stat ------------------------------------------------------------- */

typedef struct tree_list {
    char text[4096];
    int n;
} tree_list;

static void list_tree(void *arg, const isle_tree_stats *t) {
    tree_list *l = arg;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof l->text - used, "%s %u %" PRIu64 "\n", t->name, t->depth,
             t->entries);
    l->n++;
}

/* The tool's line for tree `name`: "  name   depth D  entries E ...". */
static void expect_tree_line(const char *out, const char *name, unsigned depth,
                             unsigned long long entries) {
    char want[128];
    snprintf(want, sizeof want, "depth %u  entries %llu", depth, entries);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *q = p + strspn(p, " ");
        size_t n = strlen(name);
        if (strncmp(q, name, n) == 0 && q[n] == ' ') {
            const char *eol = strchr(q, '\n');
            const char *hit = strstr(q, want);
            cr_assert(hit && (!eol || hit < eol), "tree %s: want \"%s\" in: %.*s", name, want,
                      eol ? (int)(eol - q) : (int)strlen(q), q);
            return;
        }
    }
    cr_assert_fail("no line for tree %s in:\n%s", name, out);
}

static void stat_matches(uint32_t page_size, build *b) {
    make_db(page_size, b);
    static char out[16384];
    int rc = run_tool("stat", tmp.path, out, sizeof out);
    cr_assert_eq(rc, 0, "isle stat: exit %d: %s", rc, out);
    if (getenv("ISLE_KV_VERBOSE"))
        fprintf(stderr, "%s", out);

    isle_db *db = kv_open(tmp.path, page_size, ISLE_SYNC_NORMAL);
    isle_stats st;
    OK(isle_stat(db, &st));
    tree_list l = {.n = 0};
    OK(isle_stat_trees(db, list_tree, &l));
    OK(isle_close(db));

    cr_assert_eq(field(out, "page size"), (long long)page_size, "%s", out);
    cr_assert_eq(field(out, "pages"), (long long)st.page_count, "%s", out);
    cr_assert_eq(field(out, "free pages"), (long long)st.free_pages, "%s", out);
    cr_assert_eq(field(out, "trees"), (long long)st.trees, "%s", out);
    cr_assert_eq(field(out, "last txn"), (long long)st.last_txn, "%s", out);
    cr_assert_geq(field(out, "log"), 0, "no log size: %s", out);
    cr_assert(strstr(out, "no open readers") != NULL, "%s", out);
    cr_assert_eq(st.trees, 3);
    cr_assert_eq(l.n, 3);
    if (b->deletes)
        cr_assert_gt(st.free_pages, 0, "the deletes freed nothing");

    /* every tree, with the depth and entry count the API gives */
    for (char *line = strtok(l.text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        unsigned depth;
        unsigned long long entries;
        cr_assert_eq(sscanf(line, "%63s %u %llu", name, &depth, &entries), 3);
        expect_tree_line(out, name, depth, entries);
        if (strcmp(name, "empty") == 0)
            cr_assert_eq(depth, 0);
        if (strcmp(name, "big") == 0)
            cr_assert_geq(depth, 2, "'big' should not fit one leaf");
    }
}

Test(kv_tool, stat_4k_with_free_pages) {
    build b = {4000, 3};
    stat_matches(4096, &b);
}

Test(kv_tool, stat_16k) {
    build b = {2500, 0};
    stat_matches(16384, &b);
}
