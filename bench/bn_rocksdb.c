/*
 * bn_rocksdb.c: the RocksDB adapter of isle-bench, over the C API
 * (rocksdb/c.h).  Options: the defaults plus the wiki's "Setup Options and
 * Basic Tuning" (dynamic level sizes, background jobs = cores,
 * bytes_per_sync 1 MiB, 16 KiB blocks, format_version 5, a 10-bit bloom
 * filter,
 * LZ4 with ZSTD for the bottommost level) and an LRU block cache of
 * --cache-mb.  For bulk loads, what the FAQ recommends that keeps the WAL
 * (the same durability as the others): PrepareForBulkLoad, the vector
 * memtable, keys in order, one writer, WriteBatch; the benchmark then
 * compacts (the checkpoint) and reopens with the normal options.
 * Durability: WriteOptions.sync = true for the durable workload, the
 * default (WAL written, not synced) for the others.
 * The id is an 8-byte big-endian key; values are packed by bn_pack.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "bn.h"

#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifndef BN_ROCKSDB_VERSION
#define BN_ROCKSDB_VERSION "?"
#endif

typedef struct rdb {
    rocksdb_t *db;
    rocksdb_options_t *opt;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro; /* the newest state, no snapshot */
    bn_kind kind;
} rdb;

typedef struct rwr {
    rdb *d;
    rocksdb_writebatch_t *wb;
    uint8_t buf[BN_PACK_BYTES_MAX];
} rwr;

typedef struct rrd {
    rdb *d;
    rocksdb_readoptions_t *ro; /* with the snapshot of rd_begin */
    const rocksdb_snapshot_t *snap;
} rrd;

#define D(x) ((rdb *)(x))
#define W(x) ((rwr *)(x))
#define R(x) ((rrd *)(x))

static int fail(const char *what, char *err) {
    fprintf(stderr, "rocksdb: %s: %s\n", what, err ? err : "failed");
    rocksdb_free(err);
    return BN_ERR;
}

static const char *r_version(void) { return BN_ROCKSDB_VERSION; }

static void free_db(rdb *d) {
    if (d->wo)
        rocksdb_writeoptions_destroy(d->wo);
    if (d->ro)
        rocksdb_readoptions_destroy(d->ro);
    if (d->opt)
        rocksdb_options_destroy(d->opt);
    if (d->cache)
        rocksdb_cache_destroy(d->cache);
    free(d);
}

static void set_options(rdb *d, const bn_cfg *cfg) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    rocksdb_options_t *o = d->opt;
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_increase_parallelism(o, cores > 0 ? (int)cores : 2);
    rocksdb_options_set_max_background_jobs(o, cores > 0 ? (int)cores : 2);
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    rocksdb_options_set_bytes_per_sync(o, 1 << 20);
    rocksdb_options_set_compression(o, rocksdb_lz4_compression);
    rocksdb_options_set_bottommost_compression(o, rocksdb_zstd_compression);
    rocksdb_options_set_info_log_level(o, 2); /* WARN: keep the LOG file small */

    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(t, 16 * 1024);
    /* Index and filter blocks stay with the table readers (the default),
     * not in the block cache as the wiki suggests for bounding memory: a
     * compacted file's filter (1.2 MiB at 1M keys) outgrows a shard of a
     * 64 MiB cache (64 shards of 1 MiB) and was re-read on every get. */
    rocksdb_block_based_options_set_format_version(t, 5);
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(10));
    d->cache = rocksdb_cache_create_lru(cfg->cache_bytes);
    rocksdb_block_based_options_set_block_cache(t, d->cache);
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);

    if (cfg->bulk) {
        rocksdb_options_prepare_for_bulk_load(o);
        rocksdb_options_set_memtable_vector_rep(o);
        rocksdb_options_set_allow_concurrent_memtable_write(o, 0); /* vector memtable */
    }
    if (cfg->keep_log) {
        /* every write stays in the memtable and the WAL: recovery replays it */
        rocksdb_options_set_write_buffer_size(o, (size_t)4 << 30);
        rocksdb_options_set_max_total_wal_size(o, (uint64_t)16 << 30);
    }
}

static int r_open(const bn_cfg *cfg, bn_db **out) {
    rdb *d = calloc(1, sizeof *d);
    if (!d)
        return BN_ERR;
    d->kind = cfg->kind;
    d->opt = rocksdb_options_create();
    set_options(d, cfg);
    d->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(d->wo, cfg->durable ? 1 : 0);
    d->ro = rocksdb_readoptions_create();
    char *err = NULL;
    d->db = rocksdb_open(d->opt, cfg->dir, &err);
    if (err) {
        free_db(d);
        return fail("open", err);
    }
    *out = (bn_db *)d;
    return 0;
}

static int r_close(bn_db *db) {
    rdb *d = D(db);
    rocksdb_close(d->db);
    free_db(d);
    return 0;
}

static int r_wr_open(bn_db *db, bn_wr **out) {
    rwr *w = calloc(1, sizeof *w);
    if (!w)
        return BN_ERR;
    w->d = D(db);
    w->wb = rocksdb_writebatch_create();
    *out = (bn_wr *)w;
    return 0;
}

static void r_wr_close(bn_wr *wr) {
    rocksdb_writebatch_destroy(W(wr)->wb);
    free(wr);
}

static int r_write(bn_wr *wr, bn_op op, const bn_obj *objs, size_t n, size_t per_txn,
                   unsigned flags) {
    (void)flags;
    rwr *w = W(wr);
    for (size_t at = 0; at < n; at += per_txn) {
        size_t k = n - at < per_txn ? n - at : per_txn;
        rocksdb_writebatch_clear(w->wb);
        for (size_t i = at; i < at + k; i++) {
            uint8_t key[8];
            bn_key_be(objs[i].id, key);
            if (op == BN_DELETE) {
                rocksdb_writebatch_delete(w->wb, (const char *)key, 8);
            } else {
                size_t len = bn_pack(w->d->kind, &objs[i], w->buf);
                rocksdb_writebatch_put(w->wb, (const char *)key, 8, (const char *)w->buf, len);
            }
        }
        char *err = NULL;
        rocksdb_write(w->d->db, w->d->wo, w->wb, &err);
        if (err)
            return fail("write", err);
    }
    return 0; /* a blind delete or put cannot tell a missing key */
}

static int r_rd_open(bn_db *db, bn_rd **out) {
    rrd *r = calloc(1, sizeof *r);
    if (!r)
        return BN_ERR;
    r->d = D(db);
    r->ro = rocksdb_readoptions_create();
    *out = (bn_rd *)r;
    return 0;
}

static int r_rd_end(bn_rd *rd) {
    rrd *r = R(rd);
    if (r->snap) {
        rocksdb_readoptions_set_snapshot(r->ro, NULL);
        rocksdb_release_snapshot(r->d->db, r->snap);
        r->snap = NULL;
    }
    return 0;
}

static void r_rd_close(bn_rd *rd) {
    r_rd_end(rd);
    rocksdb_readoptions_destroy(R(rd)->ro);
    free(rd);
}

static int r_rd_begin(bn_rd *rd) {
    rrd *r = R(rd);
    r->snap = rocksdb_create_snapshot(r->d->db);
    rocksdb_readoptions_set_snapshot(r->ro, r->snap);
    return 0;
}

static int get_with(rdb *d, const rocksdb_readoptions_t *ro, int64_t id, uint64_t *sum) {
    uint8_t key[8];
    bn_key_be(id, key);
    char *err = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(d->db, ro, (const char *)key, 8, &err);
    if (err)
        return fail("get", err);
    if (!ps)
        return BN_NOTFOUND;
    size_t len;
    const char *v = rocksdb_pinnableslice_value(ps, &len);
    bn_obj o;
    int rc = 0;
    if (bn_unpack(d->kind, v, len, &o)) {
        fprintf(stderr, "rocksdb: object %lld does not decode\n", (long long)id);
        rc = BN_ERR;
    } else {
        o.id = id;
        *sum += bn_obj_sum(d->kind, &o);
    }
    rocksdb_pinnableslice_destroy(ps);
    return rc;
}

static int r_get(bn_rd *rd, int64_t id, uint64_t *sum) {
    return get_with(R(rd)->d, R(rd)->ro, id, sum);
}

static int r_get1(bn_rd *rd, int64_t id, uint64_t *sum) {
    return get_with(R(rd)->d, R(rd)->d->ro, id, sum);
}

static int r_scan(bn_rd *rd, uint64_t *count, uint64_t *sum) {
    rrd *r = R(rd);
    rocksdb_iterator_t *it = rocksdb_create_iterator(r->d->db, r->ro);
    uint64_t n = 0, s = 0;
    int rc = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        bn_obj o;
        if (kl != 8 || bn_unpack(r->d->kind, v, vl, &o)) {
            fprintf(stderr, "rocksdb: an entry does not decode\n");
            rc = BN_ERR;
            break;
        }
        o.id = bn_key_id((const uint8_t *)k);
        s += bn_obj_sum(r->d->kind, &o);
        n++;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err)
        return fail("iterator", err);
    *count += n;
    *sum += s;
    return rc;
}

static int r_checkpoint(bn_db *db) {
    rdb *d = D(db);
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    char *err = NULL;
    rocksdb_flush(d->db, fo, &err);
    rocksdb_flushoptions_destroy(fo);
    if (err)
        return fail("flush", err);
    rocksdb_compact_range(d->db, NULL, 0, NULL, 0);
    return 0;
}

/* Waits (up to a minute) until no flush or compaction runs and no flush
 * is due.  A compaction merely due is not waited for: a bulk load turns
 * automatic compactions off, so it may stay due until the checkpoint. */
static void r_settle(bn_db *db) {
    static const char *const busy[] = {"rocksdb.num-running-flushes",
                                       "rocksdb.num-running-compactions",
                                       "rocksdb.mem-table-flush-pending"};
    for (int tries = 0; tries < 12000; tries++) {
        uint64_t any = 0;
        for (size_t i = 0; i < sizeof busy / sizeof *busy; i++) {
            uint64_t v = 0;
            if (rocksdb_property_int(D(db)->db, busy[i], &v) == 0)
                any |= v;
        }
        if (!any)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
    }
}

const bn_engine bn_engine_rocksdb = {
    .name = "rocksdb",
    .version = r_version,
    .config = "defaults + basic-tuning wiki (dynamic levels, 16 KiB blocks, bloom 10, "
              "LZ4/ZSTD, LRU cache = --cache-mb); bulk: PrepareForBulkLoad + vector "
              "memtable, WAL on; sync=true (durable)",
    .open = r_open,
    .close = r_close,
    .wr_open = r_wr_open,
    .wr_close = r_wr_close,
    .write = r_write,
    .rd_open = r_rd_open,
    .rd_close = r_rd_close,
    .rd_begin = r_rd_begin,
    .rd_end = r_rd_end,
    .get = r_get,
    .get1 = r_get1,
    .scan = r_scan,
    .checkpoint = r_checkpoint,
    .settle = r_settle,
};
