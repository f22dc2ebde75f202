/*
 * wal_tutil.h: helpers shared by the wal tests: deterministic B+tree page
 * images built with the page codec, a model of committed states (which
 * version of each page each transaction left), and checks that a log holds
 * exactly a model state, byte for byte.
 */
#ifndef ISLE_WAL_TUTIL_H
#define ISLE_WAL_TUTIL_H

#include <stdint.h>

#include "testvfs.h"
#include "wal.h"

#define TU_P 4096u
#define TU_NPAGES 24u   /* page numbers 2 .. 2 + TU_NPAGES - 1 */
#define TU_PATH "db.isle-wal"

/* splitmix64 */
uint64_t tu_rand(uint64_t *state);

/*
 * Builds page pgno, version v (> 0) in pg[0, P): a leaf of 8-byte keys and
 * 40-byte records, filled to about fill_pct percent, sealed.  The same
 * (pgno, v, fill) always gives the same bytes.
 */
void tu_leaf(uint8_t *pg, uint32_t P, uint32_t pgno, uint32_t v,
             unsigned fill_pct);
/* A branch page with n children and 8-byte keys. */
void tu_branch(uint8_t *pg, uint32_t P, uint32_t pgno, uint32_t v, unsigned n);
/* The test's page for (pgno, v): a leaf at 50% or 100% by v's parity. */
void tu_page(uint8_t *pg, uint32_t pgno, uint32_t v);

/* A committed state: the version of each page (0 = not in the log). */
typedef struct tu_state {
    uint64_t txn;
    uint32_t version[TU_NPAGES];
    uint8_t payload[16];
} tu_state;

/* Opens TU_PATH on vfs with page size TU_P and compression level. */
int tu_open(os_vfs *vfs, int level, wal **w, wal_recovery *rec);
/*
 * Appends one random transaction txn changing 1..maxpages pages of *st
 * (updated to the new state) and commits it with payload "txn <id>".
 */
int tu_txn(wal *w, tu_state *st, uint64_t txn, unsigned maxpages,
           uint64_t *rng);
/* Asserts that w holds exactly st at bound max_frame (Criterion asserts). */
void tu_expect(wal *w, const tu_state *st, uint64_t max_frame);
/* Same, returning 0 if equal, or -1 (for loops that search a match). */
int tu_equal(wal *w, const tu_state *st, uint64_t max_frame);

#endif
