/*
 * en_tutil.h: helpers shared by the engine tests: a reference model of a
 * database's committed contents, random write transactions that apply the
 * same changes to the engine and to a copy of the model, and a comparison
 * of a database with a model (every tree, every key in order, every value
 * byte for byte).
 *
 * The model.  TU_TREES trees named "t0".."t3" that are created, filled,
 * emptied and dropped, each over TU_KEYS keys "key-0000".."key-0159"; a
 * value is (seed, len) and its bytes are generated from them, so a model
 * is a small flat struct that copies with `=`.  Every transaction also
 * writes its sequence number under key "seq" of tree "meta", so the state
 * a database recovered to can be named by reading one key, then compared
 * in full with the model of that sequence number.
 */
#ifndef ISLE_EN_TUTIL_H
#define ISLE_EN_TUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "en.h"

#define TU_TREES 4u
#define TU_KEYS 160u
#define TU_PATH "db.isle"
#define TU_WAL "db.isle-wal"
/* Value lengths: small ones inline, big ones on overflow chains. */
#define TU_SMALL_MAX 300u
#define TU_BIG_MIN 1100u
#define TU_BIG_MAX 9000u

typedef struct tu_ent {
    uint32_t seed;
    uint32_t len;
    uint8_t present;
} tu_ent;

typedef struct tu_model {
    uint64_t seq; /* transactions committed: the "seq" marker */
    uint8_t exists[TU_TREES];
    tu_ent ent[TU_TREES][TU_KEYS];
} tu_model;

/* The shape of random transactions. */
typedef struct tu_shape {
    unsigned ops_min;     /* ops_min..ops_max operations besides the marker */
    unsigned ops_max;
    unsigned big_pct;     /* puts with an overflow-sized value */
    unsigned drop_pct;    /* tree drops (or creates of a dropped tree) */
    unsigned del_pct;     /* deletes */
    unsigned rollback_pct; /* transactions rolled back instead of committed */
} tu_shape;

/* tu_txn's status for a transaction it rolled back on purpose. */
#define TU_ROLLED_BACK 1

extern const tu_shape tu_shape_default;

/* splitmix64 */
uint64_t tu_rand(uint64_t *state);
/* The value bytes of (seed, len) into buf[0, len). */
void tu_value(uint32_t seed, uint32_t len, uint8_t *buf);
/* The key of index k: "key-%04u"; returns its length. */
uint32_t tu_key(unsigned k, char buf[16]);

/* Options for the test databases: page size 4096, the given sync mode. */
en_options tu_options(os_vfs *vfs, enum en_sync sync, uint64_t checkpoint_bytes);

/*
 * Runs one random write transaction built from *m (which it leaves
 * alone): returns en_commit's status, or the first failing call's (the
 * transaction then rolled back), or TU_ROLLED_BACK (shape->rollback_pct).
 * *next is the model the transaction would produce (m's seq + 1), whether
 * or not it committed.
 */
int tu_txn(en_db *db, const tu_model *m, uint64_t *rng, const tu_shape *shape,
           tu_model *next);
/* The operations of tu_txn inside write transaction t (no commit). */
int tu_txn_body(en_txn *t, const tu_model *m, uint64_t *rng, const tu_shape *shape,
                tu_model *next);
/* The same transaction run by the writer thread (en_write_sync). */
int tu_write_sync(en_db *db, const tu_model *m, uint64_t *rng, const tu_shape *shape,
                  tu_model *next);

/*
 * Reads the "seq" marker of the newest snapshot (0 if there is no "meta"
 * tree).  Returns 0 or the failing call's status.
 */
int tu_read_seq(en_db *db, uint64_t *seq);
/* The same in transaction t's snapshot. */
int tu_txn_seq(en_txn *t, uint64_t *seq);

/*
 * Compares the newest snapshot of db with m.  Returns 0 if equal, else a
 * status (the engine's, or CD_EINVAL for a difference) and a description
 * in why[0, n).
 */
int tu_compare(en_db *db, const tu_model *m, char *why, size_t n);
/* The same in transaction t's snapshot. */
int tu_compare_txn(en_txn *t, const tu_model *m, char *why, size_t n);

/* A growable list of models, indexed by seq - base. */
typedef struct tu_hist {
    tu_model *m;
    size_t n, cap;
} tu_hist;
void tu_hist_push(tu_hist *h, const tu_model *m);
/* The model with sequence number seq, or NULL. */
const tu_model *tu_hist_find(const tu_hist *h, uint64_t seq);
/* Drops every model older than seq. */
void tu_hist_trim(tu_hist *h, uint64_t seq);
void tu_hist_free(tu_hist *h);

/*
 * A database whose checkpoint copies pages a few apart: TU_GAP_KEYS keys
 * "g%05u" in tree "g", TU_GAP_PER_LEAF to a leaf (values of TU_GAP_VLEN
 * bytes stay in their leaf: a page takes cells of up to a quarter of
 * it).  Round 0 puts every key; each later round rewrites the keys of
 * every other leaf, so its copies of those leaves take the pages the
 * round before freed, between the leaves left alone.  tu_gap_put is an en_write_sync body (arg: the unsigned round);
 * tu_gap_round is the round of key k's value after `rounds` rounds.
 * tu_gap_check reads every key: 0 if each holds its value, else the first
 * failing en_get's status or -1 for a wrong value, with *bad the key.
 */
#define TU_GAP_KEYS 400u
#define TU_GAP_VLEN 900u
#define TU_GAP_PER_LEAF 4u
unsigned tu_gap_round(unsigned k, unsigned rounds);
int tu_gap_put(en_txn *txn, void *round);
int tu_gap_check(en_db *db, unsigned rounds, unsigned *bad);

#endif /* ISLE_EN_TUTIL_H */
