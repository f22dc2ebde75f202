/*
 * coll_util.h: what the collection tests share: a scratch database per
 * test, write helpers that run one call in a write transaction, and the
 * "All" type, which has a field of every type (and a list of each, enums
 * in every storage, embedded objects nested, inline, in lists and a
 * self-referential tree), with a filler and a deep comparison.
 */
#ifndef ISLE_COLL_UTIL_H
#define ISLE_COLL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isle.h"

/* A scratch database path (and its log), removed by cu_tmp_remove. */
typedef struct cu_tmp {
    char path[256];
    char wal[264];
} cu_tmp;
void cu_tmp_make(cu_tmp *t);
void cu_tmp_remove(const cu_tmp *t);
/* Opens path with sync OFF (tests do not need durability); asserts. */
isle_db *cu_open(const char *path);

/* One collection call in its own write transaction. */
int cu_put(isle_db *db, isle_coll *c, void *obj);
int cu_put_many(isle_db *db, isle_coll *c, void *objs, size_t n);
int cu_delete(isle_db *db, isle_coll *c, int64_t id);
int cu_delete_many(isle_db *db, isle_coll *c, const int64_t *ids, size_t n, size_t *deleted);
int cu_clear(isle_db *db, isle_coll *c);
/* The object count and isle_coll_check in a read transaction; asserts. */
uint64_t cu_count(isle_db *db, isle_coll *c);
/* Asserts isle_check and isle_coll_check pass. */
void cu_check(isle_db *db, isle_coll *c);

/* splitmix64. */
uint64_t cu_rand(uint64_t *state);

/* ---- the All type ----------------------------------------------------------- */

enum color { COLOR_NONE = -1, COLOR_RED, COLOR_GREEN, COLOR_BLUE };
extern const isle_enum color_enum;          /* nullable: COLOR_NONE */
extern const isle_enum color_enum_strict;   /* not nullable (ordinal) */

typedef struct Leaf {
    char *label;
    int64_t n;
} Leaf;

typedef struct Inner {
    char *name;
    double weight;
    Leaf *leaf;          /* nested embedded */
    Leaf *leaves;        /* list of embedded */
    uint32_t nleaves;
    char **words;        /* list of strings inside an embedded object */
    uint32_t nwords;
} Inner;

typedef struct Node {
    char *name;
    struct Node *child;  /* the type embeds itself */
} Node;

typedef struct All {
    int64_t id;
    isle_bool b;
    bool cb;
    uint8_t by;
    int32_t sh;
    int64_t in;
    float fl;
    double db;
    int64_t dt;
    char *str;
    enum color e_ord, e_ord32, e_name, e_value;
    isle_bool *lb;
    uint32_t nlb;
    bool *lcb;
    uint32_t nlcb;
    uint8_t *lby;
    size_t nlby;
    int32_t *lsh;
    uint32_t nlsh;
    int64_t *lin;
    uint32_t nlin;
    float *lfl;
    uint32_t nlfl;
    double *ldb;
    uint32_t nldb;
    int64_t *ldt;
    uint32_t nldt;
    char **lstr;
    uint32_t nlstr;
    enum color *le_name;
    uint32_t nle_name;
    enum color *le_ord32;
    int nle_ord32;       /* a signed count */
    Inner *emb;          /* nullable embedded */
    Inner inl;           /* inline embedded */
    Inner *lemb;         /* list of embedded */
    uint16_t nlemb;      /* a 16-bit count */
    Node *tree;
    int scratch;         /* not stored */
} All;
extern const isle_schema all_schema;

/* Fills *a with values derived from seed, allocating with malloc into
 * *mem (free with cu_all_free); about one field in five is null. */
typedef struct cu_mem {
    void **ptrs;
    size_t n, cap;
} cu_mem;
void cu_all_fill(All *a, uint64_t seed, cu_mem *mem);
/* Sets every field of *a to its null. */
void cu_all_null(All *a);
void cu_mem_free(cu_mem *mem);
/* 1 iff every stored field is equal (NaN equals NaN; id compared too);
 * else 0 and a description of the first difference in why. */
int cu_all_equal(const All *x, const All *y, char *why, size_t cap);

#endif /* ISLE_COLL_UTIL_H */
