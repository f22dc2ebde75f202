/*
 * en_tutil.c: the reference model, random transactions and comparison of
 * en_tutil.h.  Uses the engine's public interface (en.h) only.  Nothing
 * here allocates while a transaction runs (buffers are static), so the
 * allocation-failure test can count only the engine's allocations.
 */
#include "en_tutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const tu_shape tu_shape_default = {.ops_min = 1, .ops_max = 8, .big_pct = 10, .drop_pct = 4,
                                   .del_pct = 30};

/* Scratch for values being written or compared (tests are single-threaded). */
static uint8_t vbuf[TU_BIG_MAX];

uint64_t tu_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void tu_value(uint32_t seed, uint32_t len, uint8_t *buf) {
    uint64_t s = seed * 0x100000001b3ull + len;
    for (uint32_t i = 0; i < len; i += 8) {
        uint64_t r = tu_rand(&s);
        for (uint32_t j = 0; j < 8 && i + j < len; j++)
            buf[i + j] = (uint8_t)(r >> (8 * j));
    }
}

uint32_t tu_key(unsigned k, char buf[16]) {
    return (uint32_t)snprintf(buf, 16, "key-%04u", k);
}

static void tree_name(unsigned ti, char buf[8]) { snprintf(buf, 8, "t%u", ti); }

en_options tu_options(os_vfs *vfs, enum en_sync sync, uint64_t checkpoint_bytes) {
    return (en_options){.page_size = 4096, .sync = sync,
                        .checkpoint_bytes = checkpoint_bytes, .create = 1, .vfs = vfs};
}

/* One random operation of a transaction on tree ti; updates *next. */
static int one_op(en_txn *t, tu_model *next, uint64_t *rng, const tu_shape *sh) {
    unsigned ti = (unsigned)(tu_rand(rng) % TU_TREES);
    unsigned r = (unsigned)(tu_rand(rng) % 100);
    char name[8], key[16];
    en_tree id;
    int rc;
    tree_name(ti, name);
    if (r < sh->drop_pct) {
        if (next->exists[ti]) {
            if ((rc = en_tree_drop(t, name)) == 0) {
                next->exists[ti] = 0;
                memset(next->ent[ti], 0, sizeof next->ent[ti]);
            }
            return rc;
        }
        rc = en_tree_open(t, name, EN_TREE_CREATE, &id);
        next->exists[ti] |= rc == 0;
        return rc;
    }
    if ((rc = en_tree_open(t, name, EN_TREE_CREATE, &id)) != 0)
        return rc;
    next->exists[ti] = 1;
    unsigned k = (unsigned)(tu_rand(rng) % TU_KEYS);
    uint32_t klen = tu_key(k, key);
    tu_ent *e = &next->ent[ti][k];
    if (r < sh->drop_pct + sh->del_pct && e->present) {
        if ((rc = en_del(t, id, key, klen)) == 0)
            e->present = 0;
        return rc;
    }
    uint32_t len = tu_rand(rng) % 100 < sh->big_pct
                       ? TU_BIG_MIN + (uint32_t)(tu_rand(rng) % (TU_BIG_MAX - TU_BIG_MIN + 1))
                       : (uint32_t)(tu_rand(rng) % (TU_SMALL_MAX + 1));
    uint32_t seed = (uint32_t)tu_rand(rng);
    tu_value(seed, len, vbuf);
    if ((rc = en_put(t, id, key, klen, vbuf, len, 0)) == 0)
        *e = (tu_ent){.seed = seed, .len = len, .present = 1};
    return rc;
}

int tu_txn(en_db *db, const tu_model *m, uint64_t *rng, const tu_shape *sh,
           tu_model *next) {
    en_txn *t;
    int rc = en_write_begin(db, &t);
    if (rc) {
        *next = *m;
        next->seq = m->seq + 1;
        return rc;
    }
    rc = tu_txn_body(t, m, rng, sh, next);
    if (rc) {
        en_txn_end(t);
        return rc;
    }
    return en_commit(t);
}

int tu_txn_body(en_txn *t, const tu_model *m, uint64_t *rng, const tu_shape *sh,
                tu_model *next) {
    *next = *m;
    next->seq = m->seq + 1;
    int rc = 0;
    unsigned nops = sh->ops_min + (unsigned)(tu_rand(rng) % (sh->ops_max - sh->ops_min + 1));
    for (unsigned i = 0; rc == 0 && i < nops; i++)
        rc = one_op(t, next, rng, sh);
    en_tree meta;
    uint8_t seq[8];
    for (int i = 0; i < 8; i++)
        seq[i] = (uint8_t)(next->seq >> (8 * i));
    if (rc == 0)
        rc = en_tree_open(t, "meta", EN_TREE_CREATE, &meta);
    if (rc == 0)
        rc = en_put(t, meta, "seq", 3, seq, sizeof seq, 0);
    if (rc == 0 && sh->rollback_pct && tu_rand(rng) % 100 < sh->rollback_pct)
        rc = TU_ROLLED_BACK;
    return rc;
}

/* The job of tu_write_sync: the body on the writer thread. */
typedef struct job_arg {
    const tu_model *m;
    uint64_t *rng;
    const tu_shape *sh;
    tu_model *next;
} job_arg;

static int job(en_txn *t, void *arg) {
    job_arg *a = arg;
    return tu_txn_body(t, a->m, a->rng, a->sh, a->next);
}

int tu_write_sync(en_db *db, const tu_model *m, uint64_t *rng, const tu_shape *sh,
                  tu_model *next) {
    job_arg a = {m, rng, sh, next};
    *next = *m;
    next->seq = m->seq + 1;
    return en_write_sync(db, job, &a);
}

int tu_txn_seq(en_txn *t, uint64_t *seq) {
    en_tree meta;
    en_val v;
    *seq = 0;
    int rc = en_tree_open(t, "meta", 0, &meta);
    if (rc == CD_ENOTFOUND)
        return 0;
    if (rc == 0 && (rc = en_get(t, meta, "seq", 3, &v)) == 0) {
        if (v.len != 8)
            rc = CD_ECORRUPT;
        for (uint32_t i = 0; rc == 0 && i < 8; i++)
            *seq |= (uint64_t)v.data[i] << (8 * i);
        en_val_release(t, &v);
    }
    return rc;
}

int tu_read_seq(en_db *db, uint64_t *seq) {
    en_txn *t;
    int rc = en_read_begin(db, &t);
    if (rc)
        return rc;
    rc = tu_txn_seq(t, seq);
    en_txn_end(t);
    return rc;
}

/* Walks tree ti with a cursor and compares it with the model. */
static int compare_tree(en_txn *t, const tu_model *m, unsigned ti, char *why, size_t n) {
    char name[8], key[16];
    en_tree id;
    tree_name(ti, name);
    int rc = en_tree_open(t, name, 0, &id);
    if (!m->exists[ti]) {
        if (rc == CD_ENOTFOUND)
            return 0;
        snprintf(why, n, "tree %s exists (%d), the model has none", name, rc);
        return rc ? rc : CD_EINVAL;
    }
    if (rc) {
        snprintf(why, n, "opening tree %s: %d %s", name, rc, en_errmsg());
        return rc;
    }
    en_cursor *c;
    if ((rc = en_cursor_open(t, id, &c)) != 0) {
        snprintf(why, n, "cursor on %s: %d %s", name, rc, en_errmsg());
        return rc;
    }
    int mv = en_cursor_first(c);
    for (unsigned k = 0;; k++) {
        while (k < TU_KEYS && !m->ent[ti][k].present)
            k++;
        if (mv == CD_ENOTFOUND && k == TU_KEYS)
            break;
        if (mv != 0 || k == TU_KEYS) {
            snprintf(why, n, "tree %s: cursor says %d at model key %u: %s", name, mv, k,
                     en_errmsg());
            rc = mv ? mv : CD_EINVAL;
            break;
        }
        const uint8_t *kp;
        uint32_t klen, want = tu_key(k, key);
        en_val v;
        if ((rc = en_cursor_get(c, &kp, &klen, &v)) != 0) {
            snprintf(why, n, "tree %s key %u: get %d %s", name, k, rc, en_errmsg());
            break;
        }
        const tu_ent *e = &m->ent[ti][k];
        tu_value(e->seed, e->len, vbuf);
        if (klen != want || memcmp(kp, key, want) != 0) {
            snprintf(why, n, "tree %s: found key %.*s, expected %s", name, (int)klen, kp, key);
            rc = CD_EINVAL;
        } else if (v.len != e->len || memcmp(v.data, vbuf, e->len) != 0) {
            snprintf(why, n, "tree %s %s: value of %u bytes differs (expected %u)", name,
                     key, v.len, e->len);
            rc = CD_EINVAL;
        }
        en_val_release(t, &v);
        if (rc)
            break;
        mv = en_cursor_next(c);
    }
    en_cursor_close(c);
    return rc;
}

int tu_compare(en_db *db, const tu_model *m, char *why, size_t n) {
    en_txn *t;
    int rc = en_read_begin(db, &t);
    if (rc) {
        snprintf(why, n, "read_begin: %d %s", rc, en_errmsg());
        return rc;
    }
    rc = tu_compare_txn(t, m, why, n);
    en_txn_end(t);
    return rc;
}

int tu_compare_txn(en_txn *t, const tu_model *m, char *why, size_t n) {
    uint64_t seq = 0;
    int rc;
    if ((rc = tu_txn_seq(t, &seq)) != 0)
        snprintf(why, n, "reading seq: %d %s", rc, en_errmsg());
    else if (seq != m->seq) {
        snprintf(why, n, "seq is %llu, expected %llu", (unsigned long long)seq,
                 (unsigned long long)m->seq);
        rc = CD_EINVAL;
    }
    for (unsigned ti = 0; rc == 0 && ti < TU_TREES; ti++)
        rc = compare_tree(t, m, ti, why, n);
    return rc;
}

void tu_hist_push(tu_hist *h, const tu_model *m) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->m = realloc(h->m, h->cap * sizeof *h->m);
        if (!h->m)
            abort();
    }
    h->m[h->n++] = *m;
}

const tu_model *tu_hist_find(const tu_hist *h, uint64_t seq) {
    for (size_t i = 0; i < h->n; i++)
        if (h->m[i].seq == seq)
            return &h->m[i];
    return NULL;
}

void tu_hist_trim(tu_hist *h, uint64_t seq) {
    size_t k = 0;
    while (k < h->n && h->m[k].seq < seq)
        k++;
    memmove(h->m, h->m + k, (h->n - k) * sizeof *h->m);
    h->n -= k;
}

void tu_hist_free(tu_hist *h) {
    free(h->m);
    *h = (tu_hist){0};
}

/* ---- the gap database ---------------------------------------------------- */

static void gap_value(unsigned k, unsigned round, uint8_t *v) {
    for (unsigned i = 0; i < TU_GAP_VLEN; i++)
        v[i] = (uint8_t)(k * 7u + round * 31u + i);
}

unsigned tu_gap_round(unsigned k, unsigned rounds) {
    return (k / TU_GAP_PER_LEAF) % 2 ? 0 : rounds;
}

int tu_gap_put(en_txn *txn, void *arg) {
    unsigned round = *(unsigned *)arg;
    en_tree t;
    char key[16];
    uint8_t v[TU_GAP_VLEN];
    int rc = en_tree_open(txn, "g", EN_TREE_CREATE, &t);
    for (unsigned k = 0; rc == 0 && k < TU_GAP_KEYS; k++) {
        if (round && tu_gap_round(k, 1) == 0)
            continue;
        gap_value(k, round, v);
        rc = en_put(txn, t, key, (uint32_t)snprintf(key, sizeof key, "g%05u", k), v,
                    TU_GAP_VLEN, 0);
    }
    return rc;
}

int tu_gap_check(en_db *db, unsigned rounds, unsigned *bad) {
    en_txn *txn;
    en_tree t;
    char key[16];
    uint8_t want[TU_GAP_VLEN];
    int rc = en_read_begin(db, &txn);
    if (rc)
        return rc;
    rc = en_tree_open(txn, "g", 0, &t);
    for (unsigned k = 0; rc == 0 && k < TU_GAP_KEYS; k++) {
        en_val v;
        *bad = k;
        rc = en_get(txn, t, key, (uint32_t)snprintf(key, sizeof key, "g%05u", k), &v);
        if (rc)
            break;
        gap_value(k, tu_gap_round(k, rounds), want);
        if (v.len != TU_GAP_VLEN || memcmp(v.data, want, TU_GAP_VLEN) != 0)
            rc = -1;
        en_val_release(txn, &v);
    }
    en_txn_end(txn);
    return rc;
}

