/*
 * bn_isle_common.c: the parts of isle's benchmark adapters that do not
 * depend on the API they measure (see bn_isle_common.h).
 */
#include "bn_isle_common.h"

#include <stdio.h>

int bn_isle_fail(const char *what, int rc) {
    fprintf(stderr, "isle: %s: %s (%s)\n", what, isle_strerror(rc), isle_errmsg());
    return BN_ERR;
}

int bn_isle_open(const bn_cfg *cfg, isle_db **db) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bench.isle", cfg->dir);
    isle_options o;
    isle_options_init(&o);
    o.sync = cfg->durable ? ISLE_SYNC_FULL : ISLE_SYNC_NORMAL;
    o.cache_bytes = cfg->cache_bytes;
    if (cfg->keep_log)
        o.checkpoint_bytes = UINT64_MAX / 2; /* never: the log keeps everything */
    int rc = isle_open(path, &o, db);
    return rc ? bn_isle_fail("isle_open", rc) : 0;
}

int bn_isle_checkpoint(isle_db *db) {
    int rc = isle_checkpoint(db);
    return rc ? bn_isle_fail("isle_checkpoint", rc) : 0;
}
