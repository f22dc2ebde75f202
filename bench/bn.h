/*
 * bn.h: isle-bench's shared declarations.  The benchmark objects, their
 * generator and their compact packing (bn_obj.c); the engine vtable that
 * each adapter fills (bn_isle.c, bn_sqlite.c, bn_lmdb.c, bn_rocksdb.c);
 * timing helpers; the results the workloads record (bn_work.c) and the
 * report prints (bn_report.c).
 *
 * Every engine stores the same logical objects, made by one generator with
 * a fixed seed, and every read decodes every field into a bn_obj and folds
 * it into a checksum (bn_obj_sum) that is compared with the generator's.
 */
#ifndef ISLE_BN_H
#define ISLE_BN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "isle.h"

/* ---- objects -------------------------------------------------------------- */

/* A string field: a view of len bytes (isle's own string view, so that
 * isle stores a user bn_obj as the application's struct, as it is).
 * Generated strings are followed by a NUL (not counted), for APIs that
 * take C strings; decoded ones point into the engine's memory, need not
 * be, and are valid only inside the call that decoded them. */
typedef isle_str bn_str;

typedef enum bn_kind {
    BN_USER = 0,    /* id, name, email, age (int32), score (double), created */
    BN_PROFILE = 1, /* a user plus a list of tags and an embedded address */
} bn_kind;
#define BN_KINDS 2

#define BN_TAGS_MAX 6u
#define BN_GEN_BYTES_MAX 256u  /* string bytes of one generated object */
#define BN_PACK_BYTES_MAX 512u /* one packed value */

typedef struct bn_addr {
    bn_str street, city;
    int32_t zip;
} bn_addr;

typedef struct bn_obj {
    int64_t id;
    bn_str name, email;
    int32_t age;
    double score;
    int64_t created_us; /* a datetime: microseconds since 1970 UTC */
    /* BN_PROFILE only */
    uint32_t ntags;
    bn_str tags[BN_TAGS_MAX];
    bn_addr addr;
} bn_obj;

/* n objects with their strings, made by bn_set_make. */
typedef struct bn_set {
    bn_kind kind;
    size_t n;
    bn_obj *objs;
    char *arena;
    uint64_t sum; /* the sum of bn_obj_sum over objs */
} bn_set;

const char *bn_kind_name(bn_kind kind);

/* Fills o with object `id` in its `version` (0: as inserted, k: after the
 * k-th update); strings go to buf (BN_GEN_BYTES_MAX).  Deterministic. */
void bn_gen(bn_kind kind, int64_t id, uint32_t version, bn_obj *o, char *buf);
/* Makes objects ids[0..n) (ids NULL: 1..n) in `version`.  0 or -1 (no
 * memory). */
int bn_set_make(bn_set *set, bn_kind kind, const int64_t *ids, size_t n, uint32_t version);
void bn_set_free(bn_set *set);

/* The compact value LMDB, RocksDB and isle's key/value adapter store
 * (layout in bn_obj.c).  pack returns the length; unpack fills every field
 * but id, with strings pointing into data, and returns 0 or -1 (malformed). */
size_t bn_pack(bn_kind kind, const bn_obj *o, uint8_t *buf);
int bn_unpack(bn_kind kind, const void *data, size_t len, bn_obj *o);

/* Keys in memcmp order (isle, RocksDB): the id big-endian with its sign
 * bit flipped. */
static inline void bn_key_be(int64_t id, uint8_t k[8]) {
    uint64_t u = (uint64_t)id ^ (1ull << 63);
    for (int i = 7; i >= 0; i--, u >>= 8)
        k[i] = (uint8_t)u;
}
static inline int64_t bn_key_id(const uint8_t k[8]) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | k[i];
    return (int64_t)(u ^ (1ull << 63));
}

/* ---- checksums ------------------------------------------------------------- */

/*
 * The checksum is a sum of independent terms, each one value mixed with
 * a key for its place (field, word of a string), so the processor works
 * on all of an object's terms at once: it stays a small part of even the
 * fastest engine's scan, and the figures measure the engines.  Strings go
 * a word at a time; the last 1 to 7 bytes are read as two overlapping
 * 4-byte words (4 to 7) or as the first, middle and last byte (1 to 3),
 * never past the string.
 */
static inline uint64_t bn_mix(uint64_t v, uint64_t key) {
    v ^= key;
    v *= 0x9E3779B97F4A7C15ull;
    return v ^ (v >> 29);
}
static inline uint32_t bn_load32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t bn_mix_str(bn_str s, uint64_t key) {
    const char *p = s.ptr;
    size_t n = s.len;
    uint64_t h = bn_mix(n, key);
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        key += 0xD6E8FEB86659FD93ull;
        h += bn_mix(v, key);
    }
    if (n) {
        uint64_t v = n >= 4 ? (uint64_t)bn_load32(p) << 32 | bn_load32(p + n - 4)
                            : (uint64_t)(uint8_t)p[0] << 16 | (uint64_t)(uint8_t)p[n / 2] << 8 |
                                  (uint8_t)p[n - 1];
        h += bn_mix(v, key + 0xA0761D6478BD642Full);
    }
    return h;
}
/* Touches every field and every string byte, so a decode cannot be
 * skipped; equal objects give equal sums. */
static inline uint64_t bn_obj_sum(bn_kind kind, const bn_obj *o) {
    uint64_t sb;
    memcpy(&sb, &o->score, 8);
    uint64_t h = bn_mix((uint64_t)o->id, 1) + bn_mix_str(o->name, 2) + bn_mix_str(o->email, 3) +
                 bn_mix((uint64_t)(uint32_t)o->age, 4) + bn_mix(sb, 5) +
                 bn_mix((uint64_t)o->created_us, 6);
    if (kind == BN_PROFILE) {
        h += bn_mix(o->ntags, 7);
        for (uint32_t i = 0; i < o->ntags && i < BN_TAGS_MAX; i++)
            h += bn_mix_str(o->tags[i], 16 + i);
        h += bn_mix_str(o->addr.street, 8) + bn_mix_str(o->addr.city, 9) +
             bn_mix((uint64_t)(uint32_t)o->addr.zip, 10);
    }
    return h;
}

/* ---- engines --------------------------------------------------------------- */

typedef struct bn_db bn_db; /* an open database */
typedef struct bn_wr bn_wr; /* a writer: one per writing thread */
typedef struct bn_rd bn_rd; /* a reader: one per reading thread */

typedef struct bn_cfg {
    const char *dir;    /* the engine's own directory (exists) */
    bn_kind kind;
    int durable;        /* 1: every commit synced (FULL); 0: NORMAL */
    int bulk;           /* 1: about to bulk-load (engines tuned for it) */
    int keep_log;       /* 1: no automatic checkpoint or flush (recovery) */
    size_t cache_bytes; /* the page / block cache each engine gets */
} bn_cfg;

/* Results of the calls below: 0, BN_NOTFOUND, or BN_ERR after printing
 * the engine's message to stderr. */
#define BN_NOTFOUND 1
#define BN_ERR (-1)

typedef enum bn_op { BN_INSERT, BN_UPDATE, BN_DELETE } bn_op;
#define BN_ASCENDING 0x1u /* ids ascending and above every stored id */

typedef struct bn_engine {
    const char *name;
    const char *(*version)(void);
    /* what the README says about its configuration, one line */
    const char *config;

    int (*open)(const bn_cfg *cfg, bn_db **out);
    /* syncs what NORMAL mode left unsynced, as each engine does at close */
    int (*close)(bn_db *db);

    int (*wr_open)(bn_db *db, bn_wr **out);
    void (*wr_close)(bn_wr *w);
    /*
     * Applies op to objs[0..n) (BN_DELETE uses only the ids), per_txn
     * objects to a transaction, committed with the database's durability.
     * Returns BN_NOTFOUND (after doing the rest) if an update or delete
     * found no object, where the engine can tell.
     */
    int (*write)(bn_wr *w, bn_op op, const bn_obj *objs, size_t n, size_t per_txn,
                 unsigned flags);

    int (*rd_open)(bn_db *db, bn_rd **out);
    void (*rd_close)(bn_rd *r);
    /* A read transaction: one snapshot for the gets and scans inside. */
    int (*rd_begin)(bn_rd *r);
    int (*rd_end)(bn_rd *r);
    /* Decodes object id and adds bn_obj_sum of it to *sum. */
    int (*get)(bn_rd *r, int64_t id, uint64_t *sum);
    /* The same, outside rd_begin/rd_end, in the engine's cheapest read of
     * the newest committed state. */
    int (*get1)(bn_rd *r, int64_t id, uint64_t *sum);
    /* Decodes every object in id order: *count and *sum over them. */
    int (*scan)(bn_rd *r, uint64_t *count, uint64_t *sum);

    /* Moves the log into the main file / compacts: what the engine does
     * to reach its resting size. */
    int (*checkpoint)(bn_db *db);
    /* Returns once the work the engine runs in the background (flushes,
     * compactions) is done, so that it does not run into another engine's
     * timed run; NULL: it runs none. */
    void (*settle)(bn_db *db);
} bn_engine;

extern const bn_engine bn_engine_isle_coll; /* "isle": the collections API */
extern const bn_engine bn_engine_isle_kv;   /* "isle-kv": its key/value API */
extern const bn_engine bn_engine_sqlite;
extern const bn_engine bn_engine_lmdb;
extern const bn_engine bn_engine_rocksdb;

/* Workload 9, isle only: `ops` one-object synchronous writes through
 * isle_write, and as many applied directly by the writer thread,
 * alternating in blocks; per-op latencies in ns (bn_isle.c says how). */
int bn_isle_handoff(const char *dir, size_t ops, uint64_t *via_ns, uint64_t *direct_ns);

/* ---- time, files, memory --------------------------------------------------- */

uint64_t bn_now_ns(void);
/* Bytes of every regular file under dir (recursively). */
uint64_t bn_dir_bytes(const char *dir);
int bn_mkdir_p(const char *dir);
void bn_rm_rf(const char *dir);
/* Writes the dirty pages of dir's file system back and waits for them
 * (syncfs; sync where there is none). */
void bn_sync_fs(const char *dir);
/* This process's resident set now and its peak, in bytes; 0 if unknown.
 * bn_mem_reset_peak makes the peak the current size (Linux >= 4.0). */
uint64_t bn_mem_rss(void);
uint64_t bn_mem_peak(void);
int bn_mem_reset_peak(void);

/* Latency samples in ns: sorts them and gives the q-quantile in µs. */
double bn_quantile_us(uint64_t *ns, size_t n, double q);

#endif /* ISLE_BN_H */
