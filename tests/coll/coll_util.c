/*
 * coll_util.c: helpers of the collection tests (coll_util.h): scratch
 * databases, one-call write transactions, checks, and the All type's
 * declaration, filler and comparison.
 */
#define _DEFAULT_SOURCE
#include "coll_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- databases and one-call writes --------------------------------------------- */

void cu_tmp_make(cu_tmp *t) {
    static int seq;
    const char *dir = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/isle-coll-%d-%d-%ld.isle", dir ? dir : "/tmp",
             (int)getpid(), seq++, random());
    snprintf(t->wal, sizeof t->wal, "%s-wal", t->path);
    unlink(t->path);
    unlink(t->wal);
}

void cu_tmp_remove(const cu_tmp *t) {
    unlink(t->path);
    unlink(t->wal);
}

isle_db *cu_open(const char *path) {
    isle_options o;
    isle_options_init(&o);
    o.sync = ISLE_SYNC_OFF;
    isle_db *db = NULL;
    cr_assert_eq(isle_open(path, &o, &db), 0, "open: %s", isle_errmsg());
    return db;
}

typedef struct call {
    isle_coll *c;
    void *obj;
    const int64_t *ids;
    size_t n, *out;
    int64_t id;
    int op;
} call;

static int run_call(isle_txn *txn, void *arg) {
    call *k = arg;
    switch (k->op) {
    case 0: return isle_coll_put(txn, k->c, k->obj);
    case 1: return isle_coll_put_many(txn, k->c, k->obj, k->n);
    case 2: return isle_coll_delete(txn, k->c, k->id);
    case 3: return isle_coll_delete_many(txn, k->c, k->ids, k->n, k->out);
    default: return isle_coll_clear(txn, k->c);
    }
}

int cu_put(isle_db *db, isle_coll *c, void *obj) {
    call k = {.c = c, .obj = obj, .op = 0};
    return isle_write(db, run_call, &k);
}

int cu_put_many(isle_db *db, isle_coll *c, void *objs, size_t n) {
    call k = {.c = c, .obj = objs, .n = n, .op = 1};
    return isle_write(db, run_call, &k);
}

int cu_delete(isle_db *db, isle_coll *c, int64_t id) {
    call k = {.c = c, .id = id, .op = 2};
    return isle_write(db, run_call, &k);
}

int cu_delete_many(isle_db *db, isle_coll *c, const int64_t *ids, size_t n, size_t *deleted) {
    call k = {.c = c, .ids = ids, .n = n, .out = deleted, .op = 3};
    return isle_write(db, run_call, &k);
}

int cu_clear(isle_db *db, isle_coll *c) {
    call k = {.c = c, .op = 4};
    return isle_write(db, run_call, &k);
}

uint64_t cu_count(isle_db *db, isle_coll *c) {
    isle_txn *txn;
    uint64_t n = 0;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_count(txn, c, &n), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
    return n;
}

void cu_check(isle_db *db, isle_coll *c) {
    isle_txn *txn;
    cr_assert_eq(isle_check(db, NULL), 0, "isle_check: %s", isle_errmsg());
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_check(txn, c), 0, "isle_coll_check: %s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
}

uint64_t cu_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* ---- the All type ------------------------------------------------------------------ */

static const isle_enum_value color_values[] = {
    ISLE_ENUMERATOR_AS(COLOR_RED, "red", 10),
    ISLE_ENUMERATOR_AS(COLOR_GREEN, "green", 200),
    ISLE_ENUMERATOR_AS(COLOR_BLUE, "blue", -3000),
};
const isle_enum color_enum = ISLE_ENUM_DEF_NULLABLE(color, color_values, COLOR_NONE);
const isle_enum color_enum_strict = ISLE_ENUM_DEF(color, color_values);

static const isle_field leaf_fields[] = {
    ISLE_FIELD(Leaf, label, ISLE_STRING),
    ISLE_FIELD(Leaf, n, ISLE_INT),
};
static const isle_schema leaf_schema = ISLE_EMBEDDED(Leaf, leaf_fields);

static const isle_field inner_fields[] = {
    ISLE_FIELD(Inner, name, ISLE_STRING),
    ISLE_FIELD(Inner, weight, ISLE_DOUBLE),
    ISLE_FIELD(Inner, leaf, ISLE_EMBED(&leaf_schema)),
    ISLE_LIST(Inner, leaves, nleaves, ISLE_EMBED(&leaf_schema)),
    ISLE_LIST(Inner, words, nwords, ISLE_STRING),
};
static const isle_schema inner_schema = ISLE_EMBEDDED(Inner, inner_fields);

static const isle_schema node_schema;
static const isle_field node_fields[] = {
    ISLE_FIELD(Node, name, ISLE_STRING),
    ISLE_FIELD(Node, child, ISLE_EMBED(&node_schema)),
};
static const isle_schema node_schema = ISLE_EMBEDDED(Node, node_fields);

static const isle_field all_fields[] = {
    ISLE_FIELD(All, b, ISLE_BOOL),
    ISLE_FIELD(All, cb, ISLE_BOOL),
    ISLE_FIELD(All, by, ISLE_BYTE),
    ISLE_FIELD(All, sh, ISLE_SHORT),
    ISLE_FIELD(All, in, ISLE_INT),
    ISLE_FIELD(All, fl, ISLE_FLOAT),
    ISLE_FIELD(All, db, ISLE_DOUBLE),
    ISLE_FIELD(All, dt, ISLE_DATETIME),
    ISLE_FIELD(All, str, ISLE_STRING),
    ISLE_FIELD(All, e_ord, ISLE_ENUM(&color_enum_strict, ISLE_ENUM_ORDINAL)),
    ISLE_FIELD(All, e_ord32, ISLE_ENUM(&color_enum, ISLE_ENUM_ORDINAL32)),
    ISLE_FIELD(All, e_name, ISLE_ENUM(&color_enum, ISLE_ENUM_NAME)),
    ISLE_FIELD(All, e_value, ISLE_ENUM(&color_enum, ISLE_ENUM_VALUE)),
    ISLE_LIST(All, lb, nlb, ISLE_BOOL),
    ISLE_LIST(All, lcb, nlcb, ISLE_BOOL),
    ISLE_LIST(All, lby, nlby, ISLE_BYTE),
    ISLE_LIST(All, lsh, nlsh, ISLE_SHORT),
    ISLE_LIST(All, lin, nlin, ISLE_INT),
    ISLE_LIST(All, lfl, nlfl, ISLE_FLOAT),
    ISLE_LIST(All, ldb, nldb, ISLE_DOUBLE),
    ISLE_LIST(All, ldt, nldt, ISLE_DATETIME),
    ISLE_LIST(All, lstr, nlstr, ISLE_STRING),
    ISLE_LIST(All, le_name, nle_name, ISLE_ENUM(&color_enum, ISLE_ENUM_NAME)),
    ISLE_LIST(All, le_ord32, nle_ord32, ISLE_ENUM(&color_enum, ISLE_ENUM_ORDINAL32)),
    ISLE_FIELD(All, emb, ISLE_EMBED(&inner_schema)),
    ISLE_FIELD(All, inl, ISLE_EMBED_INLINE(&inner_schema)),
    ISLE_LIST(All, lemb, nlemb, ISLE_EMBED(&inner_schema)),
    ISLE_FIELD(All, tree, ISLE_EMBED(&node_schema)),
    ISLE_IGNORE(All, scratch),
};
const isle_schema all_schema = ISLE_COLLECTION(All, id, all_fields);

static void *cu_alloc(cu_mem *m, size_t size) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->ptrs = realloc(m->ptrs, m->cap * sizeof *m->ptrs);
        cr_assert_not_null(m->ptrs);
    }
    void *p = calloc(1, size ? size : 1);
    cr_assert_not_null(p);
    m->ptrs[m->n++] = p;
    return p;
}

void cu_mem_free(cu_mem *m) {
    for (size_t i = 0; i < m->n; i++)
        free(m->ptrs[i]);
    free(m->ptrs);
    memset(m, 0, sizeof *m);
}

/* 1 in 5: null. */
static int null_now(uint64_t *s) { return cu_rand(s) % 5 == 0; }

static char *fill_string(uint64_t *s, cu_mem *m) {
    static const char *const parts[] = {"a", "héllo", "✓", "日本", "", "z z", "🌍", "0123456789"};
    if (null_now(s))
        return NULL;
    char *p = cu_alloc(m, 128);
    unsigned n = (unsigned)(cu_rand(s) % 6);
    for (unsigned i = 0; i < n; i++)
        strcat(p, parts[cu_rand(s) % 8]);
    return p;
}

static uint32_t list_len(uint64_t *s, void **ptr, size_t elem, cu_mem *m) {
    if (null_now(s)) {
        *ptr = NULL;
        return 0;
    }
    uint32_t n = (uint32_t)(cu_rand(s) % 6); /* 0: an empty, non-null list */
    *ptr = cu_alloc(m, n * elem);
    return n;
}

static enum color fill_color(uint64_t *s, int nullable) {
    uint64_t r = cu_rand(s) % 4;
    return r == 3 ? (nullable ? COLOR_NONE : COLOR_BLUE) : (enum color)r;
}

static Leaf fill_leaf(uint64_t *s, cu_mem *m) {
    return (Leaf){fill_string(s, m), null_now(s) ? ISLE_NULL_INT : (int64_t)cu_rand(s)};
}

static void fill_inner(Inner *in, uint64_t *s, cu_mem *m) {
    in->name = fill_string(s, m);
    in->weight = null_now(s) ? ISLE_NULL_DOUBLE : (double)(cu_rand(s) % 100000) / 7.0;
    in->leaf = NULL;
    if (!null_now(s)) {
        in->leaf = cu_alloc(m, sizeof(Leaf));
        *in->leaf = fill_leaf(s, m);
    }
    in->nleaves = list_len(s, (void **)&in->leaves, sizeof(Leaf), m);
    for (uint32_t i = 0; i < in->nleaves; i++)
        in->leaves[i] = fill_leaf(s, m);
    in->nwords = list_len(s, (void **)&in->words, sizeof(char *), m);
    for (uint32_t i = 0; i < in->nwords; i++)
        in->words[i] = fill_string(s, m);
}

static void fill_lists(All *a, uint64_t *s, cu_mem *m) {
    a->nlb = list_len(s, (void **)&a->lb, 1, m);
    for (uint32_t i = 0; i < a->nlb; i++)
        a->lb[i] = (isle_bool)((int)(cu_rand(s) % 3) - 1);
    a->nlcb = list_len(s, (void **)&a->lcb, 1, m);
    for (uint32_t i = 0; i < a->nlcb; i++)
        a->lcb[i] = cu_rand(s) & 1;
    a->nlby = list_len(s, (void **)&a->lby, 1, m);
    for (size_t i = 0; i < a->nlby; i++)
        a->lby[i] = (uint8_t)cu_rand(s);
    a->nlsh = list_len(s, (void **)&a->lsh, 4, m);
    for (uint32_t i = 0; i < a->nlsh; i++)
        a->lsh[i] = i == 1 ? ISLE_NULL_SHORT : (int32_t)cu_rand(s);
    a->nlin = list_len(s, (void **)&a->lin, 8, m);
    for (uint32_t i = 0; i < a->nlin; i++)
        a->lin[i] = i == 2 ? ISLE_NULL_INT : (int64_t)cu_rand(s);
    a->nlfl = list_len(s, (void **)&a->lfl, 4, m);
    for (uint32_t i = 0; i < a->nlfl; i++)
        a->lfl[i] = i == 0 ? ISLE_NULL_FLOAT : (float)(cu_rand(s) % 1000) / 3.0f;
    a->nldb = list_len(s, (void **)&a->ldb, 8, m);
    for (uint32_t i = 0; i < a->nldb; i++)
        a->ldb[i] = i == 3 ? ISLE_NULL_DOUBLE : -(double)(cu_rand(s) % 1000) / 3.0;
    a->nldt = list_len(s, (void **)&a->ldt, 8, m);
    for (uint32_t i = 0; i < a->nldt; i++)
        a->ldt[i] = i == 1 ? ISLE_NULL_TIME : (int64_t)(cu_rand(s) % 4000000000000000u);
    a->nlstr = list_len(s, (void **)&a->lstr, sizeof(char *), m);
    for (uint32_t i = 0; i < a->nlstr; i++)
        a->lstr[i] = fill_string(s, m);
    a->nle_name = list_len(s, (void **)&a->le_name, sizeof(enum color), m);
    for (uint32_t i = 0; i < a->nle_name; i++)
        a->le_name[i] = fill_color(s, 1);
    a->nle_ord32 = (int)list_len(s, (void **)&a->le_ord32, sizeof(enum color), m);
    for (int i = 0; i < a->nle_ord32; i++)
        a->le_ord32[i] = fill_color(s, 1);
}

void cu_all_fill(All *a, uint64_t seed, cu_mem *m) {
    uint64_t st = seed, *s = &st;
    memset(a, 0, sizeof *a);
    a->b = (isle_bool)((int)(cu_rand(s) % 3) - 1);
    a->cb = cu_rand(s) & 1;
    a->by = (uint8_t)cu_rand(s);
    a->sh = null_now(s) ? ISLE_NULL_SHORT : (int32_t)cu_rand(s);
    a->in = null_now(s) ? ISLE_NULL_INT : (int64_t)cu_rand(s);
    a->fl = null_now(s) ? ISLE_NULL_FLOAT : (float)(cu_rand(s) % 100000) / 9.0f;
    a->db = null_now(s) ? ISLE_NULL_DOUBLE : (double)(int64_t)cu_rand(s) / 3.0;
    a->dt = null_now(s) ? ISLE_NULL_TIME
                        : (int64_t)(cu_rand(s) % 4000000000000000u) - 1000000000000000;
    a->str = fill_string(s, m);
    a->e_ord = fill_color(s, 0);
    a->e_ord32 = fill_color(s, 1);
    a->e_name = fill_color(s, 1);
    a->e_value = fill_color(s, 1);
    fill_lists(a, s, m);
    a->emb = NULL;
    if (!null_now(s)) {
        a->emb = cu_alloc(m, sizeof(Inner));
        fill_inner(a->emb, s, m);
    }
    fill_inner(&a->inl, s, m);
    a->nlemb = (uint16_t)list_len(s, (void **)&a->lemb, sizeof(Inner), m);
    for (uint16_t i = 0; i < a->nlemb; i++)
        fill_inner(&a->lemb[i], s, m);
    Node **at = &a->tree;
    for (unsigned depth = (unsigned)(cu_rand(s) % 6); depth > 0; depth--) {
        *at = cu_alloc(m, sizeof(Node));
        (*at)->name = fill_string(s, m);
        at = &(*at)->child;
    }
    a->scratch = 12345;
}

void cu_all_null(All *a) {
    memset(a, 0, sizeof *a);
    a->b = ISLE_NULL_BOOL;
    a->sh = ISLE_NULL_SHORT;
    a->in = ISLE_NULL_INT;
    a->fl = ISLE_NULL_FLOAT;
    a->db = ISLE_NULL_DOUBLE;
    a->dt = ISLE_NULL_TIME;
    a->e_ord = COLOR_RED; /* ordinal cannot be null */
    a->e_ord32 = a->e_name = a->e_value = COLOR_NONE;
    a->inl.weight = ISLE_NULL_DOUBLE;
}

/* ---- comparison -------------------------------------------------------------------- */

#define DIFF(...) (snprintf(why, cap, __VA_ARGS__), 0)

static int str_eq(const char *x, const char *y) {
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

static int f64_eq(double x, double y) {
    return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof x) == 0;
}

/* Lists: both null, or both with the same count and elements. */
#define LIST_EQ(px, nx, py, ny, elem_eq)                                       \
    (((px) == NULL) == ((py) == NULL) && (nx) == (ny) && ({                    \
         int ok_ = 1;                                                          \
         for (size_t i_ = 0; (px) && ok_ && i_ < (size_t)(nx); i_++)           \
             ok_ = elem_eq((px)[i_], (py)[i_]);                                \
         ok_;                                                                  \
     }))
#define EQ(a, b) ((a) == (b))

static int leaf_eq(Leaf x, Leaf y) { return str_eq(x.label, y.label) && x.n == y.n; }

static int inner_eq(const Inner *x, const Inner *y, char *why, size_t cap) {
    if (!str_eq(x->name, y->name))
        return DIFF("inner name");
    if (!f64_eq(x->weight, y->weight))
        return DIFF("inner weight");
    if ((x->leaf == NULL) != (y->leaf == NULL) || (x->leaf && !leaf_eq(*x->leaf, *y->leaf)))
        return DIFF("inner leaf");
    if (!LIST_EQ(x->leaves, x->nleaves, y->leaves, y->nleaves, leaf_eq))
        return DIFF("inner leaves");
    if (!LIST_EQ(x->words, x->nwords, y->words, y->nwords, str_eq))
        return DIFF("inner words");
    return 1;
}

static int scalars_eq(const All *x, const All *y, char *why, size_t cap) {
    if (x->id != y->id)
        return DIFF("id %lld != %lld", (long long)x->id, (long long)y->id);
    if (x->b != y->b || x->cb != y->cb || x->by != y->by || x->sh != y->sh || x->in != y->in)
        return DIFF("bool/byte/short/int");
    if (!f64_eq(x->fl, y->fl) || !f64_eq(x->db, y->db) || x->dt != y->dt)
        return DIFF("float/double/datetime");
    if (!str_eq(x->str, y->str))
        return DIFF("str '%s' != '%s'", x->str ? x->str : "(null)", y->str ? y->str : "(null)");
    if (x->e_ord != y->e_ord || x->e_ord32 != y->e_ord32 || x->e_name != y->e_name ||
        x->e_value != y->e_value)
        return DIFF("enums %d %d %d %d vs %d %d %d %d", x->e_ord, x->e_ord32, x->e_name,
                    x->e_value, y->e_ord, y->e_ord32, y->e_name, y->e_value);
    return 1;
}

static int lists_eq(const All *x, const All *y, char *why, size_t cap) {
    if (!LIST_EQ(x->lb, x->nlb, y->lb, y->nlb, EQ) ||
        !LIST_EQ(x->lcb, x->nlcb, y->lcb, y->nlcb, EQ))
        return DIFF("bool lists");
    if (!LIST_EQ(x->lby, x->nlby, y->lby, y->nlby, EQ) ||
        !LIST_EQ(x->lsh, x->nlsh, y->lsh, y->nlsh, EQ))
        return DIFF("byte/short lists");
    if (!LIST_EQ(x->lin, x->nlin, y->lin, y->nlin, EQ) ||
        !LIST_EQ(x->ldt, x->nldt, y->ldt, y->nldt, EQ))
        return DIFF("int/datetime lists");
    if (!LIST_EQ(x->lfl, x->nlfl, y->lfl, y->nlfl, f64_eq) ||
        !LIST_EQ(x->ldb, x->nldb, y->ldb, y->nldb, f64_eq))
        return DIFF("float/double lists");
    if (!LIST_EQ(x->lstr, x->nlstr, y->lstr, y->nlstr, str_eq))
        return DIFF("string lists");
    if (!LIST_EQ(x->le_name, x->nle_name, y->le_name, y->nle_name, EQ) ||
        !LIST_EQ(x->le_ord32, x->nle_ord32, y->le_ord32, y->nle_ord32, EQ))
        return DIFF("enum lists");
    return 1;
}

int cu_all_equal(const All *x, const All *y, char *why, size_t cap) {
    if (!scalars_eq(x, y, why, cap) || !lists_eq(x, y, why, cap))
        return 0;
    if ((x->emb == NULL) != (y->emb == NULL) || (x->emb && !inner_eq(x->emb, y->emb, why, cap)))
        return x->emb && y->emb ? 0 : DIFF("emb null-ness");
    if (!inner_eq(&x->inl, &y->inl, why, cap))
        return 0;
    if ((x->lemb == NULL) != (y->lemb == NULL) || x->nlemb != y->nlemb)
        return DIFF("lemb");
    for (uint16_t i = 0; x->lemb && i < x->nlemb; i++)
        if (!inner_eq(&x->lemb[i], &y->lemb[i], why, cap))
            return 0;
    const Node *p = x->tree, *q = y->tree;
    for (; p && q; p = p->child, q = q->child)
        if (!str_eq(p->name, q->name))
            return DIFF("tree name");
    if (p || q)
        return DIFF("tree depth");
    return 1;
}
