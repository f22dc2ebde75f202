/*
 * bn_run.h: a run of isle-bench: its options (bn_main.c), the workloads
 * (bn_work.c), the results they record and the report made of them
 * (bn_report.c: terminal table, JSON, SVG).
 */
#ifndef ISLE_BN_RUN_H
#define ISLE_BN_RUN_H

#include <stdio.h>

#include "bn.h"

#define BN_WORKLOADS 12
#define BN_ENGINES_MAX 8

typedef struct bn_opts {
    size_t n;                  /* objects loaded */
    unsigned workloads;        /* bit w: workload w (1..12) */
    unsigned kinds;            /* bit k: object kind k */
    const bn_engine *engines[BN_ENGINES_MAX];
    size_t nengines;
    int runs;                  /* repeats of a short workload (median) */
    size_t cache_bytes;
    double durable_secs;       /* length of each durable-write measurement */
    const char *dir;           /* this run's scratch directory */
    const char *self;          /* this program, for child processes */
    int progress;              /* on stderr: 1 a progress line (a terminal),
                                  2 a line per step (--progress) */
} bn_opts;

/* The workloads' names, numbers 1..12 ("bulk", "batch", ...). */
const char *bn_workload_name(int w);
const char *bn_workload_title(int w);
int bn_workload_parse(const char *s); /* a number or a name; 0 if unknown */

/* One figure.  NaN in a double: not measured. */
typedef struct bn_result {
    const char *engine;
    int workload;
    char row[48];        /* the table row it belongs to */
    bn_kind kind;
    uint64_t n;          /* objects or operations measured */
    double ops_per_s, p50_us, p99_us;
    double bytes;        /* bytes per object (10) or peak bytes (11) */
    double value;        /* what the table shows, in unit */
    const char *unit;
    int higher_better;
    int show_p99;        /* the table adds a p99 row */
    int info;            /* context for the table, not drawn in the chart */
    int runs;
} bn_result;

typedef struct bn_results {
    bn_result *r;
    size_t n, cap;
    char notes[64][160]; /* skipped engines, failures, caveats */
    size_t nnotes;
    unsigned failures;   /* workloads an engine failed (isle-bench exits 1) */
} bn_results;

void bn_record(bn_results *res, const bn_result *r);
void bn_note(bn_results *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The figure of (workload, row, engine), or NaN. */
const bn_result *bn_find(const bn_results *res, int workload, const char *row,
                         const char *engine);

/* Runs every selected workload; 0, or -1 if the run could not start. */
int bn_run(const bn_opts *opt, bn_results *res);
/* The child processes of workloads 11 and 12 (bn_main.c dispatches). */
int bn_child_mem(const bn_opts *opt, const bn_engine *e);
int bn_child_crash(const bn_opts *opt, const bn_engine *e);

void bn_progress(const bn_opts *opt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bn_progress_done(const bn_opts *opt);

/* The report. */
void bn_report_table(FILE *f, const bn_opts *opt, const bn_results *res);
int bn_report_json(const char *path, const bn_opts *opt, const bn_results *res);
int bn_report_svg(const char *path, const bn_opts *opt, const bn_results *res);
/* A one-line description of the machine ("2 x AMD EPYC, 23 GiB"). */
void bn_machine(char *buf, size_t len);

#endif /* ISLE_BN_RUN_H */
