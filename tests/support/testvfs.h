/*
 * testvfs.h: a fault-injecting, in-memory os_vfs for tests (never part of
 * libisle).
 *
 * Files live in memory.  Each file keeps two images: what the process sees
 * (every write so far) and what a power loss would leave (the image as of
 * its last successful sync), plus the list of writes and truncations made
 * since that sync.  testvfs_crash() simulates a power loss: every open file
 * dies (further calls on it fail with CD_EIO; close it), locks are
 * released, and each file is rebuilt from its durable image:
 *
 *   TESTVFS_DROP  every unsynced write is lost;
 *   TESTVFS_TORN  each unsynced write or truncation lands or not at random
 *                 (in the order they were made), and one write that lands
 *                 is torn: only a prefix of its 512-byte sectors (counted
 *                 on file offsets) reaches the file.
 *
 * Faults: the Nth call of an operation from now (1 = the next) fails with
 * a chosen CD_* status, once or for every call from then on (sticky).  A
 * failed write changes nothing; a failed sync makes nothing durable; a
 * failed alloc returns NULL.  Every operation is counted, syncs also per
 * file.  All calls are serialised by one mutex, so threads may share it.
 */
#ifndef ISLE_TESTVFS_H
#define ISLE_TESTVFS_H

#include <stddef.h>
#include <stdint.h>

#include "os.h"

typedef struct testvfs testvfs;

enum testvfs_op {
    TESTVFS_OPEN,
    TESTVFS_READ,
    TESTVFS_WRITE,
    TESTVFS_SYNC,
    TESTVFS_TRUNCATE,
    TESTVFS_ALLOC,
    TESTVFS_WRITEBACK, /* a hint: counted, makes nothing durable */
    TESTVFS_OP_COUNT
};

enum testvfs_crash_mode { TESTVFS_DROP, TESTVFS_TORN };

/* A new, empty file system; seed drives the crash choices and random(). */
testvfs *testvfs_new(uint64_t seed);
/* Frees everything (files still open are freed too). */
void testvfs_free(testvfs *t);
os_vfs *testvfs_vfs(testvfs *t);
/* The testvfs behind a vfs made by testvfs_new. */
testvfs *testvfs_of(os_vfs *vfs);

/* Fails the nth call of op from now (n >= 1) with status err. */
void testvfs_fail(testvfs *t, enum testvfs_op op, uint64_t nth, int err,
                  int sticky);
/* Clears every planned fault. */
void testvfs_fail_clear(testvfs *t);
/* Calls of op so far (failed ones included). */
uint64_t testvfs_count(testvfs *t, enum testvfs_op op);
/* Successful syncs of the file at path (0 if it does not exist). */
uint64_t testvfs_file_syncs(testvfs *t, const char *path);
/* Blocks allocated through the vfs and not freed yet. */
uint64_t testvfs_live_allocs(testvfs *t);

/* Simulated power loss (see above). */
void testvfs_crash(testvfs *t, enum testvfs_crash_mode mode);

/*
 * Direct access to a file's current bytes, for tests that damage files.
 * file_get returns a malloc'd copy (caller frees) or NULL if missing.
 * file_set replaces the file's content, durably, creating it if needed.
 */
uint8_t *testvfs_file_get(testvfs *t, const char *path, size_t *len);
void testvfs_file_set(testvfs *t, const char *path, const void *data,
                      size_t len);

#endif /* ISLE_TESTVFS_H */
