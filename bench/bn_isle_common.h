/*
 * bn_isle_common.h: what isle's two adapters (collections, bn_isle_coll.c;
 * key/value, bn_isle.c) share: the failure report, the options the
 * benchmark gives every isle database, and opening one.
 */
#ifndef BN_ISLE_COMMON_H
#define BN_ISLE_COMMON_H

#include "bn.h"
#include "isle.h"

/* Prints what failed, with isle's message; returns BN_ERR. */
int bn_isle_fail(const char *what, int rc);
/* Opens <cfg->dir>/bench.isle with the run's durability, cache and log
 * settings.  BN_ERR (reported) on failure. */
int bn_isle_open(const bn_cfg *cfg, isle_db **db);
/* isle_checkpoint, reported on failure. */
int bn_isle_checkpoint(isle_db *db);

#endif
