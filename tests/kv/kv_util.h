/*
 * kv_util.h: helpers shared by the key/value API tests: a scratch
 * directory per test, a deterministic random generator, and value bytes
 * derived from a seed (so a reference model stores a seed and a length
 * instead of the bytes).
 */
#ifndef ISLE_KV_UTIL_H
#define ISLE_KV_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "isle.h"

/* A scratch directory holding one database: path and its log. */
typedef struct kv_tmp {
    char dir[200];
    char path[256];
    char wal[264];
} kv_tmp;

/* Makes a fresh directory under $TMPDIR (or /tmp); aborts the test on
 * failure. */
void kv_tmp_make(kv_tmp *t);
/* Removes every file in the directory and the directory. */
void kv_tmp_remove(kv_tmp *t);

/* splitmix64: the next value of the sequence in *state. */
uint64_t kv_rand(uint64_t *state);
/* A value in [0, n) (n > 0). */
uint64_t kv_below(uint64_t *state, uint64_t n);

/* The bytes of the value with this seed: out[0, len). */
void kv_fill(void *out, size_t len, uint64_t seed);
/* Whether data[0, len) are the bytes kv_fill would give; -1 if so, else
 * the first differing offset. */
long kv_diff(const void *data, size_t len, uint64_t seed);

/* Reads a whole file into a fresh buffer (*len); NULL if it is missing. */
uint8_t *kv_slurp(const char *path, size_t *len);
int kv_exists(const char *path);

/* An environment variable as a number, or def when unset or malformed. */
uint64_t kv_env_u64(const char *name, uint64_t def);

/* Opens path with the given page size and sync mode (other options
 * default), asserting success. */
isle_db *kv_open(const char *path, uint32_t page_size, int sync);

#endif /* ISLE_KV_UTIL_H */
