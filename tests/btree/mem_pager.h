/*
 * mem_pager.h: an in-memory page source for the btree tests, with the
 * semantics the engine's pager has: copy-on-write within a write
 * transaction, pages freed by a transaction reusable only once no snapshot
 * can reach them, commit and abort, checksums sealed at commit and checked
 * on every read of a committed page.  It also counts what tests assert on:
 * pins outstanding, live pages, reads of freed pages, and it can fail the
 * Nth get/dirty/alloc.  With eviction on (the default) a page's memory
 * moves whenever its last pin is released, so a stale page pointer is a
 * use-after-free AddressSanitizer reports.
 */
#ifndef ISLE_TEST_MEM_PAGER_H
#define ISLE_TEST_MEM_PAGER_H

#include "bt.h"

typedef struct mem_pager mem_pager;

mem_pager *mem_pager_new(uint32_t page_size);
void mem_pager_free(mem_pager *mp);
/* The page source to pass to bt_* (its txn follows begin). */
const bt_pager *mem_pager_bt(mem_pager *mp);

/* Starts a write transaction; first makes reusable the pages freed by
 * committed transactions that no snapshot can still see. */
void mem_pager_begin(mem_pager *mp);
/*
 * Checks the layout of every page written in the transaction
 * (cd_page_check_layout), seals it and makes the transaction's state the
 * committed one; remembers tree's root (if tree is not NULL) as the
 * committed root.  CD_EBUSY with pins outstanding, CD_ECORRUPT (after
 * printing the page and the diagnostic) when a written page is malformed.
 */
int mem_pager_commit(mem_pager *mp, const bt_tree *tree);
/* Discards the transaction: pages it allocated become free, pages it freed
 * become live again, and tree->root (if tree is not NULL) gets the root
 * remembered by the last commit.  CD_EBUSY with pins outstanding. */
int mem_pager_abort(mem_pager *mp, bt_tree *tree);

/* A snapshot of the committed state: its pages stay readable until it is
 * released.  Returns its handle (the committed transaction id). */
uint64_t mem_pager_snapshot(mem_pager *mp);
void mem_pager_release_snapshot(mem_pager *mp, uint64_t snap);

/* Pins outstanding. */
uint64_t mem_pager_pins(const mem_pager *mp);
/* Pages in the current state (committed or written in this transaction,
 * not freed). */
uint32_t mem_pager_live(const mem_pager *mp);
/* Freed pages some snapshot (or the open transaction) may still read. */
uint32_t mem_pager_pending(const mem_pager *mp);
/* Reads of a page that was free, and other misuse (free of a pinned page,
 * dirty of a freed page, writes outside a transaction). */
uint64_t mem_pager_errors(const mem_pager *mp);
/* Look-ahead hints (bt_pager_ops.ahead) given so far; *read_next gets how
 * many of them named the next leaf a get read. */
uint64_t mem_pager_hints(const mem_pager *mp, uint64_t *read_next);
/* get + dirty + alloc calls so far. */
uint64_t mem_pager_calls(const mem_pager *mp);

/* Makes call number mem_pager_calls() + n (n >= 1) of get/dirty/alloc fail
 * with rc, changing nothing; n = 0 cancels. */
void mem_pager_fail_in(mem_pager *mp, uint64_t n, int rc);
void mem_pager_set_evict(mem_pager *mp, int on);

/* Test surgery: the bytes of a live page, and resealing it afterwards. */
uint8_t *mem_pager_raw(mem_pager *mp, uint32_t pgno);
void mem_pager_reseal(mem_pager *mp, uint32_t pgno);

#endif /* ISLE_TEST_MEM_PAGER_H */
