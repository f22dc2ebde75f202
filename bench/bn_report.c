/*
 * bn_report.c: isle-bench's report, made from the recorded results: an
 * aligned table on the terminal (every figure per engine, then isle's
 * ratio to each peer), the targets isle must reach and whether this run
 * reaches them, every figure as JSON, and an SVG bar chart of isle's
 * advantage over each peer.
 */
#define _XOPEN_SOURCE 700
#include "bn_run.h"

#include <math.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MEM_SLACK_MIB 32.0 /* target 11's "small constant" over the cache */

void bn_machine(char *buf, size_t len) {
    char model[128] = "unknown CPU", line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
    double mem_gib = 0;
    f = fopen("/proc/meminfo", "r");
    if (f && fgets(line, sizeof line, f))
        mem_gib = strtod(line + 9, NULL) / (1024.0 * 1024.0);
    if (f)
        fclose(f);
    struct utsname u;
    const char *kernel = uname(&u) == 0 ? u.release : "?";
    snprintf(buf, len, "%s, %ld cores, %.1f GiB RAM, Linux %s", model,
             sysconf(_SC_NPROCESSORS_ONLN), mem_gib, kernel);
}

static void date_utc(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- rows ---------------------------------------------------------------------- */

/* A table row: one (workload, figure) and which field it shows. */
typedef struct row {
    int workload;
    const char *name;
    int p99; /* shows p99_us instead of value */
    const char *unit;
    int higher_better;
    int info; /* not in the chart */
} row;

static int find_row(const row *rows, size_t n, int w, const char *name, int p99) {
    for (size_t i = 0; i < n; i++)
        if (rows[i].workload == w && rows[i].p99 == p99 && !strcmp(rows[i].name, name))
            return (int)i;
    return -1;
}

/* Distinct rows, by workload then first appearance.  Returns the count. */
static size_t make_rows(const bn_results *res, row **out) {
    row *rows = calloc(res->n * 2 + 1, sizeof *rows);
    size_t n = 0;
    for (int w = 1; rows && w <= BN_WORKLOADS; w++) {
        for (size_t i = 0; i < res->n; i++) {
            const bn_result *r = &res->r[i];
            if (r->workload != w || find_row(rows, n, w, r->row, 0) >= 0)
                continue;
            rows[n++] = (row){w, r->row, 0, r->unit, r->higher_better, r->info};
            if (r->show_p99)
                rows[n++] = (row){w, r->row, 1, "us p99", 0, r->info};
        }
    }
    *out = rows;
    return rows ? n : 0;
}

static double row_value(const bn_results *res, const row *rw, const char *engine) {
    const bn_result *r = bn_find(res, rw->workload, rw->name, engine);
    if (!r)
        return NAN;
    return rw->p99 ? r->p99_us : r->value;
}

/* Three significant digits, with k/M for large rates. */
static void fmt_num(char *buf, size_t len, double v) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (fabs(v) >= 1e7)
        snprintf(buf, len, "%.1fM", v / 1e6);
    else if (fabs(v) >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (fabs(v) >= 1e5)
        snprintf(buf, len, "%.0fk", v / 1e3);
    else if (fabs(v) >= 1e4)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (fabs(v) >= 100)
        snprintf(buf, len, "%.0f", v);
    else if (fabs(v) >= 10)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.2f", v);
}

static void fmt_ratio(char *buf, size_t len, double v) {
    if (isnan(v) || isinf(v))
        snprintf(buf, len, "-");
    else if (v >= 10)
        snprintf(buf, len, "%.1fx", v);
    else if (v >= 0.1 || v == 0)
        snprintf(buf, len, "%.2fx", v);
    else
        snprintf(buf, len, "%.2gx", v);
}

/* ---- targets ------------------------------------------------------------------------ */

typedef struct target {
    const char *label;
    int wa;
    const char *rowa, *enga; /* isle's figure */
    int wb;
    const char *rowb, *engb; /* the peer's, or NULL: the figure itself */
    int at_most;             /* 1: value <= limit; 0: value >= limit */
    double limit;
    int strict;              /* < rather than <= */
} target;

static const target targets[] = {
    {"bulk insert >= 2x LMDB", 1, "bulk insert, 1 txn", "isle", 1, "bulk insert, 1 txn",
     "lmdb", 0, 2.0, 0},
    {"bulk insert >= 3x SQLite", 1, "bulk insert, 1 txn", "isle", 1, "bulk insert, 1 txn",
     "sqlite", 0, 3.0, 0},
    {"random get, full decode >= 1.0x LMDB", 3, "random get + decode", "isle", 3,
     "random get + decode", "lmdb", 0, 1.0, 0},
    {"full scan, full decode >= 5x SQLite", 4, "scan + decode", "isle", 4, "scan + decode",
     "sqlite", 0, 5.0, 0},
    {"durable txns, 1 thread >= 1.0x SQLite", 7, "durable txn, 1 thread", "isle", 7,
     "durable txn, 1 thread", "sqlite", 0, 1.0, 0},
    {"durable txns, 8 threads >= 4x SQLite's 1 thread", 7, "durable txn, 8 threads", "isle",
     7, "durable txn, 1 thread", "sqlite", 0, 4.0, 0},
    {"get p99 under a writer <= 1.5x without", 8, "p99 with writer / without", "isle", 0,
     NULL, NULL, 1, 1.5, 0},
    {"writer-thread hand-off < 10 us per sync write", 9, "hand-off cost per write", "isle", 0,
     NULL, NULL, 1, 10.0, 1},
    {"bytes/object after load <= 0.8x SQLite", 10, "B/obj after load", "isle", 10,
     "B/obj after load", "sqlite", 1, 0.8, 0},
    {"bytes/object after checkpoint <= 0.8x SQLite", 10, "B/obj after checkpoint", "isle", 10,
     "B/obj after checkpoint", "sqlite", 1, 0.8, 0},
    {"peak memory of a bulk load <= cache + 32 MiB", 11, "peak RSS growth, bulk load", "isle",
     0, NULL, NULL, 1, -1, 0},
};
#define NTARGETS (sizeof targets / sizeof targets[0])

/* The target's measured value and limit; NaN if not measured. */
static double target_value(const target *t, const bn_opts *opt, const bn_results *res,
                           double *limit) {
    *limit = t->limit < 0 ? (double)(opt->cache_bytes >> 20) + MEM_SLACK_MIB : t->limit;
    const bn_result *a = bn_find(res, t->wa, t->rowa, t->enga);
    if (!a)
        return NAN;
    if (!t->rowb)
        return a->value;
    const bn_result *b = bn_find(res, t->wb, t->rowb, t->engb);
    return b && b->value > 0 ? a->value / b->value : NAN;
}

static int target_met(const target *t, double v, double limit) {
    if (t->at_most)
        return t->strict ? v < limit : v <= limit;
    return v >= limit;
}

/* ---- terminal table ----------------------------------------------------------------- */

static void header(FILE *f, const bn_opts *opt) {
    char machine[256], date[32];
    bn_machine(machine, sizeof machine);
    date_utc(date, sizeof date);
    fprintf(f, "isle-bench: N = %zu objects, median of up to %d runs, cache %zu MiB, %s\n",
            opt->n, opt->runs, opt->cache_bytes >> 20, date);
    fprintf(f, "machine: %s\nengines:", machine);
    for (size_t i = 0; i < opt->nengines; i++)
        fprintf(f, " %s %s%s", opt->engines[i]->name, opt->engines[i]->version(),
                i + 1 < opt->nengines ? "," : "\n");
}

void bn_report_table(FILE *f, const bn_opts *opt, const bn_results *res) {
    row *rows;
    size_t nrows = make_rows(res, &rows);
    header(f, opt);
    fprintf(f, "\n%-2s  %-34s %-7s", "#", "figure", "unit");
    for (size_t e = 0; e < opt->nengines; e++)
        fprintf(f, " %9s", opt->engines[e]->name);
    for (size_t e = 0; e < opt->nengines; e++) {
        if (strcmp(opt->engines[e]->name, "isle")) {
            char h[32];
            snprintf(h, sizeof h, "isle/%s", opt->engines[e]->name);
            fprintf(f, "  %12s", h);
        }
    }
    fprintf(f, "  %s\n", "better");
    int last_w = 0;
    for (size_t i = 0; i < nrows; i++) {
        const row *rw = &rows[i];
        char label[48];
        snprintf(label, sizeof label, "%s", rw->p99 ? "  p99 latency" : rw->name);
        if (rw->workload != last_w)
            fprintf(f, "%-2d  ", rw->workload);
        else
            fprintf(f, "    ");
        last_w = rw->workload;
        fprintf(f, "%-34s %-7s", label, rw->unit);
        double isle = row_value(res, rw, "isle");
        for (size_t e = 0; e < opt->nengines; e++) {
            char b[32];
            fmt_num(b, sizeof b, row_value(res, rw, opt->engines[e]->name));
            fprintf(f, " %9s", b);
        }
        for (size_t e = 0; e < opt->nengines; e++) {
            if (!strcmp(opt->engines[e]->name, "isle"))
                continue;
            char b[32];
            double peer = row_value(res, rw, opt->engines[e]->name);
            /* a time that rounds to 0 (nothing left to do) has no ratio */
            fmt_ratio(b, sizeof b, peer >= 0.005 && isle >= 0.005 ? isle / peer : NAN);
            fprintf(f, "  %12s", b);
        }
        fprintf(f, "  %s\n", rw->higher_better ? "higher" : "lower");
    }
    free(rows);

    fprintf(f, "\nratios are isle/peer, measured in this run; \"better\" says which way is good.\n");
    fprintf(f, "\ntargets (set for N = 1,000,000; this run N = %zu):\n", opt->n);
    for (size_t i = 0; i < NTARGETS; i++) {
        double limit, v = target_value(&targets[i], opt, res, &limit);
        char b[32];
        if (targets[i].rowb)
            fmt_ratio(b, sizeof b, v);
        else
            fmt_num(b, sizeof b, v);
        fprintf(f, "  %-50s %9s  %s\n", targets[i].label, b,
                isnan(v) ? "not measured" : target_met(&targets[i], v, limit) ? "met" : "MISSED");
    }
    if (res->nnotes)
        fprintf(f, "\nnotes:\n");
    for (size_t i = 0; i < res->nnotes; i++)
        fprintf(f, "  - %s\n", res->notes[i]);
}

/* ---- JSON --------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isnan(v) || isinf(v))
        fprintf(f, "null");
    else
        fprintf(f, "%.6g", v);
}

int bn_report_json(const char *path, const bn_opts *opt, const bn_results *res) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    char machine[256], date[32];
    bn_machine(machine, sizeof machine);
    date_utc(date, sizeof date);
    fprintf(f, "{\n  \"suite\": \"isle-bench\",\n  \"date\": \"%s\",\n  \"machine\": ", date);
    json_str(f, machine);
    fprintf(f, ",\n  \"n\": %zu,\n  \"runs\": %d,\n  \"cache_bytes\": %zu,\n  \"engines\": [",
            opt->n, opt->runs, opt->cache_bytes);
    for (size_t i = 0; i < opt->nengines; i++) {
        fprintf(f, "%s\n    {\"name\": \"%s\", \"version\": ", i ? "," : "", opt->engines[i]->name);
        json_str(f, opt->engines[i]->version());
        fprintf(f, ", \"config\": ");
        json_str(f, opt->engines[i]->config);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"results\": [");
    for (size_t i = 0; i < res->n; i++) {
        const bn_result *r = &res->r[i];
        fprintf(f, "%s\n    {\"engine\": \"%s\", \"workload\": %d, \"name\": \"%s\", \"figure\": ",
                i ? "," : "", r->engine, r->workload, bn_workload_name(r->workload));
        json_str(f, r->row);
        fprintf(f, ", \"object\": \"%s\", \"n\": %llu, \"ops_per_s\": ", bn_kind_name(r->kind),
                (unsigned long long)r->n);
        json_num(f, r->ops_per_s);
        fprintf(f, ", \"p50_us\": ");
        json_num(f, r->p50_us);
        fprintf(f, ", \"p99_us\": ");
        json_num(f, r->p99_us);
        fprintf(f, ", \"bytes\": ");
        json_num(f, r->bytes);
        fprintf(f, ", \"value\": ");
        json_num(f, r->value);
        fprintf(f, ", \"unit\": \"%s\", \"higher_is_better\": %s, \"runs\": %d}", r->unit,
                r->higher_better ? "true" : "false", r->runs);
    }
    fprintf(f, "\n  ],\n  \"targets\": [");
    for (size_t i = 0; i < NTARGETS; i++) {
        double limit, v = target_value(&targets[i], opt, res, &limit);
        fprintf(f, "%s\n    {\"target\": ", i ? "," : "");
        json_str(f, targets[i].label);
        fprintf(f, ", \"value\": ");
        json_num(f, v);
        fprintf(f, ", \"limit\": ");
        json_num(f, limit);
        fprintf(f, ", \"met\": %s}",
                isnan(v) ? "null" : target_met(&targets[i], v, limit) ? "true" : "false");
    }
    fprintf(f, "\n  ],\n  \"notes\": [");
    for (size_t i = 0; i < res->nnotes; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        json_str(f, res->notes[i]);
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- SVG ---------------------------------------------------------------------------- */

static const char *const peer_colors[] = {"#4c78a8", "#f58518", "#54a24b", "#b279a2"};

static void svg_text(FILE *f, double x, double y, const char *anchor, const char *style,
                     const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" %s>", x, y, anchor, style);
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
    fputs("</text>\n", f);
}

/* isle's advantage: how many times better isle is than the peer. */
static double advantage(const bn_results *res, const row *rw, const char *peer) {
    double a = row_value(res, rw, "isle"), b = row_value(res, rw, peer);
    if (isnan(a) || isnan(b) || a <= 0 || b <= 0)
        return NAN;
    return rw->higher_better ? a / b : b / a;
}

/* The target for this row and peer, as an advantage; NaN if none. */
static double row_target(const row *rw, const char *peer) {
    for (size_t i = 0; i < NTARGETS; i++) {
        const target *t = &targets[i];
        if (!t->rowb || rw->p99 || t->wa != rw->workload || strcmp(t->rowa, rw->name) ||
            strcmp(t->engb, peer) || strcmp(t->rowa, t->rowb))
            continue;
        return t->at_most ? 1.0 / t->limit : t->limit;
    }
    return NAN;
}

/* The chart's geometry, shared by its parts. */
typedef struct chart {
    const bn_opts *opt;
    const bn_results *res;
    row *rows;
    size_t nrows;
    int *keep; /* rows drawn */
    const char *peers[BN_ENGINES_MAX];
    size_t np, shown;
    double lo, hi; /* the scale, powers of ten around every ratio */
    double left, plot_w, width, height, top, bar_h, gap, group_h;
} chart;

static double xpos(const chart *c, double v) {
    return c->left + (log10(v) - log10(c->lo)) / (log10(c->hi) - log10(c->lo)) * c->plot_w;
}

/* Picks the rows with a ratio and the scale; 0 or -1. */
static int chart_layout(chart *c) {
    for (size_t e = 0; e < c->opt->nengines; e++)
        if (strcmp(c->opt->engines[e]->name, "isle"))
            c->peers[c->np++] = c->opt->engines[e]->name;
    c->nrows = make_rows(c->res, &c->rows);
    c->keep = calloc(c->nrows + 1, sizeof *c->keep);
    if (!c->rows || !c->keep)
        return -1;
    c->lo = 0.1;
    c->hi = 10;
    for (size_t i = 0; i < c->nrows; i++) {
        for (size_t p = 0; p < c->np && !c->rows[i].info; p++) {
            double a = advantage(c->res, &c->rows[i], c->peers[p]);
            if (isnan(a))
                continue;
            c->keep[i] = 1;
            /* at most 0.01x..100x: a longer bar is clipped, its label says */
            while (a < c->lo * 1.05 && c->lo > 0.011)
                c->lo /= 10;
            while (a > c->hi / 1.05 && c->hi < 99)
                c->hi *= 10;
        }
        c->shown += (size_t)c->keep[i];
    }
    c->left = 330;
    c->plot_w = 560;
    c->width = c->left + c->plot_w + 90;
    c->top = 110;
    c->bar_h = 13;
    c->gap = 12;
    c->group_h = (double)c->np * c->bar_h + c->gap;
    c->height = c->top + (double)c->shown * c->group_h + 60;
    return 0;
}

static void chart_head(FILE *f, const chart *c) {
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            c->width, c->height, c->width, c->height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    char title[600], machine[256], date[32];
    bn_machine(machine, sizeof machine);
    date_utc(date, sizeof date);
    snprintf(title, sizeof title,
             "isle-bench: how many times better isle is than each peer (N = %zu)", c->opt->n);
    svg_text(f, 20, 28, "start", "font-size=\"18\" font-weight=\"bold\"", title);
    snprintf(title, sizeof title, "%s; %s", machine, date);
    svg_text(f, 20, 48, "start", "font-size=\"11\" fill=\"#555\"", title);
    svg_text(f, 20, 66, "start", "font-size=\"11\" fill=\"#555\"",
             "Throughput: isle/peer. Sizes, times, memory, latency: peer/isle. Right of 1 = "
             "isle better. Log scale. Black tick = target.");
    for (size_t p = 0; p < c->np; p++) {
        double x = c->left + (double)p * 110;
        fprintf(f, "<rect x=\"%.1f\" y=\"78\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
                peer_colors[p % 4]);
        char lbl[48];
        snprintf(lbl, sizeof lbl, "vs %s", c->peers[p]);
        svg_text(f, x + 16, 89, "start", "font-size=\"12\"", lbl);
    }
}

/* Vertical lines at 1, 2 and 5 of every decade; labels where they fit. */
static void chart_grid(FILE *f, const chart *c) {
    double y_end = c->top + (double)c->shown * c->group_h;
    int label_steps = c->hi / c->lo <= 1000.5;
    for (double dec = c->lo; dec <= c->hi * 1.001; dec *= 10) {
        const double steps[3] = {1, 2, 5};
        for (int k = 0; k < 3; k++) {
            double v = dec * steps[k], x = xpos(c, v);
            int one = fabs(v - 1) < 1e-9;
            if (v > c->hi * 1.001)
                break;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                       "stroke-width=\"%s\"/>\n",
                    x, c->top - 6, x, y_end, one ? "#222" : "#ddd", one ? "1.5" : "1");
            if (k && !label_steps)
                continue;
            char lbl[16];
            snprintf(lbl, sizeof lbl, "%gx", v);
            svg_text(f, x, y_end + 16, "middle", "font-size=\"11\" fill=\"#333\"", lbl);
        }
    }
    svg_text(f, xpos(c, 1), y_end + 34, "middle", "font-size=\"11\" fill=\"#333\"",
             "<- peer better | isle better ->");
}

/* One figure: a bar per peer from 1 to isle's advantage, and targets. */
static void chart_row(FILE *f, const chart *c, const row *rw, double y) {
    char lbl[80];
    if (rw->p99)
        snprintf(lbl, sizeof lbl, "%d. %s: p99 latency", rw->workload, rw->name);
    else
        snprintf(lbl, sizeof lbl, "%d. %s (%s)", rw->workload, rw->name, rw->unit);
    svg_text(f, c->left - 10, y + (double)c->np * c->bar_h / 2 + 4, "end", "font-size=\"12\"",
             lbl);
    for (size_t p = 0; p < c->np; p++) {
        double a = advantage(c->res, rw, c->peers[p]), by = y + (double)p * c->bar_h;
        if (isnan(a))
            continue;
        double av = a < c->lo ? c->lo : a > c->hi ? c->hi : a;
        double x1 = xpos(c, 1.0), x2 = xpos(c, av);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                x1 < x2 ? x1 : x2, by + 1, fabs(x2 - x1) < 1 ? 1 : fabs(x2 - x1), c->bar_h - 2,
                peer_colors[p % 4]);
        char v[24];
        fmt_ratio(v, sizeof v, a);
        if (a < c->lo) /* clipped on the left: the label goes inside the bar */
            svg_text(f, x2 + 4, by + c->bar_h - 3, "start", "font-size=\"10\" fill=\"white\"", v);
        else if (a > c->hi)
            svg_text(f, x2 - 4, by + c->bar_h - 3, "end", "font-size=\"10\" fill=\"white\"", v);
        else
            svg_text(f, x2 >= x1 ? x2 + 4 : x2 - 4, by + c->bar_h - 3, x2 >= x1 ? "start" : "end",
                     "font-size=\"10\" fill=\"#222\"", v);
        double t = row_target(rw, c->peers[p]);
        if (!isnan(t) && t >= c->lo && t <= c->hi)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"black\" stroke-width=\"2.5\"/>\n",
                    xpos(c, t), by - 1, xpos(c, t), by + c->bar_h + 1);
    }
}

int bn_report_svg(const char *path, const bn_opts *opt, const bn_results *res) {
    chart c = {.opt = opt, .res = res};
    FILE *f = NULL;
    int rc = -1;
    if (chart_layout(&c) || !(f = fopen(path, "w")))
        goto out;
    chart_head(f, &c);
    chart_grid(f, &c);
    double y = c.top;
    for (size_t i = 0; i < c.nrows; i++) {
        if (!c.keep[i])
            continue;
        if (i == 0 || c.rows[i - 1].workload != c.rows[i].workload)
            fprintf(f, "<line x1=\"20\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                    y - c.gap / 2, c.width - 20, y - c.gap / 2);
        chart_row(f, &c, &c.rows[i], y);
        y += c.group_h;
    }
    fprintf(f, "</svg>\n");
    rc = 0;
out:
    if (f && fclose(f) != 0)
        rc = -1;
    free(c.keep);
    free(c.rows);
    return rc;
}
