/*
 * bn_main.c: the isle-bench program: its command line, the engines it
 * knows (a peer not found when isle was configured is skipped with a
 * note), the scratch directory, and the report at the end.  With no
 * arguments it is the quick run: N = 100,000, every workload, every peer.
 *
 * It exits 1 if an engine failed a workload (an error, or a read that did
 * not give back what was stored), after printing what it measured.
 *
 * `--child mem|crash` is internal: workloads 11 and 12 run this program
 * again to measure a bulk load's memory in a fresh process and to crash a
 * process that has filled a log (bn_work.c).
 */
#define _XOPEN_SOURCE 700
#include "bn_run.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct known {
    const char *name;
    const bn_engine *e; /* NULL: not installed when isle-bench was built */
    int by_default;     /* run without --engines */
} known;

/*
 * The engines, isle first: isle through its collections API, the way it
 * is meant to be used; isle-kv (isle's key/value API with values packed by
 * hand, as LMDB and RocksDB get them) only when asked for.
 */
static const known engines[] = {
    {"isle", &bn_engine_isle_coll, 1},
    {"isle-kv", &bn_engine_isle_kv, 0},
#ifdef BN_HAVE_SQLITE
    {"sqlite", &bn_engine_sqlite, 1},
#else
    {"sqlite", NULL, 1},
#endif
#ifdef BN_HAVE_LMDB
    {"lmdb", &bn_engine_lmdb, 1},
#else
    {"lmdb", NULL, 1},
#endif
#ifdef BN_HAVE_ROCKSDB
    {"rocksdb", &bn_engine_rocksdb, 1},
#else
    {"rocksdb", NULL, 1},
#endif
};
#define NKNOWN (sizeof engines / sizeof engines[0])
_Static_assert(NKNOWN <= BN_ENGINES_MAX, "every engine fits in bn_opts");

static void usage(FILE *f) {
    fprintf(f,
            "usage: isle-bench [options]\n"
            "Runs the same workloads on isle and on SQLite, LMDB and RocksDB and prints\n"
            "each figure per engine and isle's ratio to each peer.  No options: the quick\n"
            "run (N = 100,000, every workload, every installed peer).\n\n"
            "  --n N               objects to load (100000; 1e6, 250k and 1M work too)\n"
            "  --only W[,W...]     workloads by number or name (repeatable); see --list\n"
            "  --engines E[,E...]  isle,sqlite,lmdb,rocksdb (default: all installed), and\n"
            "                      isle-kv: isle's key/value API with packed values\n"
            "  --objects K[,K...]  user,profile (default both; profile: workloads 1, 3, 4, 10)\n"
            "  --runs R            repeats of a short workload, median kept (3)\n"
            "  --cache-mb M        page/block cache of every engine (64)\n"
            "  --durable-secs S    length of each durable-write measurement (1)\n"
            "  --dir DIR           scratch directory (default: a new one in $TMPDIR or /tmp,\n"
            "                      removed at the end)\n"
            "  --json FILE         every figure as JSON\n"
            "  --svg FILE          a bar chart of isle's advantage over each peer\n"
            "  --quiet             no progress line\n"
            "  --progress          a line per step on stderr, even when it is not a terminal\n"
            "  --list              the workloads and engines, then exit\n");
}

static void list(void) {
    printf("workloads:\n");
    for (int w = 1; w <= BN_WORKLOADS; w++)
        printf("  %2d  %-10s  %s\n", w, bn_workload_name(w), bn_workload_title(w));
    printf("engines:\n");
    for (size_t i = 0; i < NKNOWN; i++)
        printf("  %-8s %s\n", engines[i].name,
               engines[i].e ? engines[i].e->version() : "(not installed: skipped)");
}

static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return -1;
    if (*end == 'k' || *end == 'K')
        v *= 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1e6, end++;
    if (*end || v < 1 || v > 1e10)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Calls fn on each item of a comma list; -1 if fn fails on one. */
static int each_item(const char *list, int (*fn)(const char *item, void *arg), void *arg) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save))
        if (fn(it, arg))
            return -1;
    return 0;
}

static int add_workload(const char *s, void *arg) {
    int w = bn_workload_parse(s);
    if (!w) {
        fprintf(stderr, "isle-bench: unknown workload '%s' (see --list)\n", s);
        return -1;
    }
    *(unsigned *)arg |= 1u << w;
    return 0;
}

static int add_engine(const char *s, void *arg) {
    for (size_t i = 0; i < NKNOWN; i++) {
        if (!strcmp(s, engines[i].name)) {
            *(unsigned *)arg |= 1u << i;
            return 0;
        }
    }
    fprintf(stderr, "isle-bench: unknown engine '%s' (isle, isle-kv, sqlite, lmdb, rocksdb)\n",
            s);
    return -1;
}

static int add_kind(const char *s, void *arg) {
    if (!strcmp(s, "user"))
        *(unsigned *)arg |= 1u << BN_USER;
    else if (!strcmp(s, "profile"))
        *(unsigned *)arg |= 1u << BN_PROFILE;
    else {
        fprintf(stderr, "isle-bench: unknown object kind '%s' (user, profile)\n", s);
        return -1;
    }
    return 0;
}

typedef struct cli {
    bn_opts o;
    unsigned engine_bits;
    const char *json, *svg, *child, *dir;
    int quiet, progress;
} cli;

static int parse(int argc, char **argv, cli *c) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--list")) {
            list();
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            c->quiet = 1;
            takes = 0;
        } else if (!strcmp(a, "--progress")) {
            c->progress = 1;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "isle-bench: %s needs a value\n", a);
            return -1;
        } else if (!strcmp(a, "--n")) {
            if (parse_size(v, &c->o.n))
                return fprintf(stderr, "isle-bench: bad --n '%s'\n", v), -1;
        } else if (!strcmp(a, "--only")) {
            if (each_item(v, add_workload, &c->o.workloads))
                return -1;
        } else if (!strcmp(a, "--engines")) {
            if (each_item(v, add_engine, &c->engine_bits))
                return -1;
        } else if (!strcmp(a, "--objects")) {
            if (each_item(v, add_kind, &c->o.kinds))
                return -1;
        } else if (!strcmp(a, "--runs")) {
            c->o.runs = atoi(v);
            if (c->o.runs < 1 || c->o.runs > 16)
                return fprintf(stderr, "isle-bench: --runs takes 1..16\n"), -1;
        } else if (!strcmp(a, "--cache-mb")) {
            size_t mb;
            if (parse_size(v, &mb))
                return fprintf(stderr, "isle-bench: bad --cache-mb '%s'\n", v), -1;
            c->o.cache_bytes = mb << 20;
        } else if (!strcmp(a, "--durable-secs")) {
            c->o.durable_secs = atof(v);
            if (c->o.durable_secs <= 0 || c->o.durable_secs > 600)
                return fprintf(stderr, "isle-bench: bad --durable-secs '%s'\n", v), -1;
        } else if (!strcmp(a, "--dir")) {
            c->dir = v;
        } else if (!strcmp(a, "--json")) {
            c->json = v;
        } else if (!strcmp(a, "--svg")) {
            c->svg = v;
        } else if (!strcmp(a, "--child")) {
            c->child = v;
        } else {
            fprintf(stderr, "isle-bench: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        }
        i += takes;
    }
    return 0;
}

/* Picks the engines; notes the peers that are not installed. */
static void pick_engines(cli *c, bn_results *res) {
    for (size_t i = 0; i < NKNOWN; i++) {
        if (c->engine_bits ? !(c->engine_bits & (1u << i)) : !engines[i].by_default)
            continue;
        if (!engines[i].e) {
            if (!c->child)
                printf("skipped: %s not installed\n", engines[i].name);
            bn_note(res, "skipped: %s not installed when isle-bench was built", engines[i].name);
            continue;
        }
        if (c->o.nengines < BN_ENGINES_MAX)
            c->o.engines[c->o.nengines++] = engines[i].e;
    }
}

static int run_child(cli *c) {
    if (c->o.nengines != 1 || !c->dir)
        return 2;
    c->o.dir = c->dir;
    if (!strcmp(c->child, "mem"))
        return bn_child_mem(&c->o, c->o.engines[0]);
    if (!strcmp(c->child, "crash"))
        return bn_child_crash(&c->o, c->o.engines[0]);
    return 2;
}

int main(int argc, char **argv) {
    cli c = {.o = {.n = 100000, .runs = 3, .cache_bytes = (size_t)64 << 20,
                   .durable_secs = 1.0}};
    bn_results res = {0};
    if (parse(argc, argv, &c))
        return 2;
    if (!c.o.workloads)
        c.o.workloads = ((1u << (BN_WORKLOADS + 1)) - 1) & ~1u;
    if (!c.o.kinds)
        c.o.kinds = (1u << BN_USER) | (1u << BN_PROFILE);
    pick_engines(&c, &res);
    if (c.child)
        return run_child(&c);

    if (!c.o.nengines) { /* only peers that are not installed: a note, not an error */
        printf("isle-bench: no engine to run\n");
        return 0;
    }
    static char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    c.o.self = len > 0 ? (self[len] = 0, self) : argv[0];
    c.o.progress = c.quiet ? 0 : isatty(2) ? 1 : c.progress ? 2 : 0;
    char tmp[PATH_MAX];
    if (c.dir) {
        if (bn_mkdir_p(c.dir))
            return fprintf(stderr, "isle-bench: cannot create %s\n", c.dir), 1;
        c.o.dir = c.dir;
    } else {
        const char *base = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/isle-bench.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmp))
            return fprintf(stderr, "isle-bench: cannot create a directory in %s\n", tmp), 1;
        c.o.dir = tmp;
    }
#ifndef __OPTIMIZE__
    bn_note(&res, "isle-bench was built without optimisation: these are not release figures");
#endif
    uint64_t t0 = bn_now_ns();
    int rc = bn_run(&c.o, &res);
    double secs = (double)(bn_now_ns() - t0) / 1e9;
    if (!c.dir)
        bn_rm_rf(tmp);
    bn_report_table(stdout, &c.o, &res);
    printf("\ntotal time %.1f s\n", secs);
    if (c.json && bn_report_json(c.json, &c.o, &res))
        fprintf(stderr, "isle-bench: cannot write %s\n", c.json), rc = 1;
    if (c.svg && bn_report_svg(c.svg, &c.o, &res))
        fprintf(stderr, "isle-bench: cannot write %s\n", c.svg), rc = 1;
    if (res.failures)
        fprintf(stderr, "isle-bench: %u workload(s) failed: see the notes\n", res.failures), rc = 1;
    free(res.r);
    return rc ? 1 : 0;
}
