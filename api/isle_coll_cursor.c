/*
 * isle_coll_cursor.c: walking a collection in id order: cursors, scans
 * and the collection check, all over the engine's cursor on the
 * collection's tree, whose keys (cd_key_id_encode) sort as the ids do.
 * A snapshot from before the collection's tree existed walks an empty
 * collection.  Objects are decoded where their records lie in the
 * cursor's leaf (en_cursor_peek), those on overflow pages after loading
 * them.  Uses engine/ (en.h) and codec/ through coll_int.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"

#define TXN(t) ((en_txn *)(t))

struct isle_coll_cursor {
    const isle_coll *c;
    en_txn *t;
    en_cursor *ec; /* NULL: the collection has no tree in this snapshot */
};

static int done(int rc) {
    if (rc == 0)
        en_clear_error();
    return rc;
}

static int past_end(const char *fn, int rc) {
    if (rc == ISLE_ENOTFOUND)
        return en_fail(rc, "%s: no such object", fn);
    return rc;
}

int isle_coll_cursor_open(isle_txn *txn, isle_coll *c, isle_coll_cursor **out) {
    int rc = co_args_ok("isle_coll_cursor_open", txn, c);
    if (rc)
        return rc;
    if (!out)
        return en_fail(ISLE_EINVAL, "isle_coll_cursor_open: NULL argument");
    isle_coll_cursor *cur = calloc(1, sizeof *cur);
    if (!cur)
        return en_fail(ISLE_ENOMEM, "isle_coll_cursor_open: out of memory");
    cur->c = c;
    cur->t = TXN(txn);
    rc = en_cursor_open(cur->t, c->objects, &cur->ec);
    if (rc == ISLE_ENOTFOUND) {
        cur->ec = NULL;
        rc = 0;
    }
    if (rc) {
        free(cur);
        return rc;
    }
    *out = cur;
    return done(0);
}

void isle_coll_cursor_close(isle_coll_cursor *cur) {
    if (!cur)
        return;
    en_cursor_close(cur->ec);
    free(cur);
}

/* One movement: the engine's, or "nothing there" on an empty snapshot. */
static int move(const char *fn, isle_coll_cursor *cur, int (*op)(en_cursor *)) {
    if (!cur)
        return en_fail(ISLE_EINVAL, "%s: NULL cursor", fn);
    en_clear_error();
    int rc = cur->ec ? op(cur->ec) : ISLE_ENOTFOUND;
    return rc ? past_end(fn, rc) : 0;
}

int isle_coll_cursor_first(isle_coll_cursor *cur) {
    return move("isle_coll_cursor_first", cur, en_cursor_first);
}

int isle_coll_cursor_last(isle_coll_cursor *cur) {
    return move("isle_coll_cursor_last", cur, en_cursor_last);
}

int isle_coll_cursor_next(isle_coll_cursor *cur) {
    return move("isle_coll_cursor_next", cur, en_cursor_next);
}

int isle_coll_cursor_prev(isle_coll_cursor *cur) {
    return move("isle_coll_cursor_prev", cur, en_cursor_prev);
}

static int bad_key(const isle_coll_cursor *cur, uint32_t klen) {
    return en_fail(ISLE_ECORRUPT, "collection '%s': a key of %u bytes is not an id",
                   cur->c->name, klen);
}

/* The current object's id. */
static int cur_id(isle_coll_cursor *cur, int64_t *id, en_val *val) {
    const uint8_t *k;
    uint32_t kl;
    if (!cur->ec)
        return ISLE_ENOTFOUND;
    int rc = en_cursor_get(cur->ec, &k, &kl, val);
    if (rc == 0 && cd_key_id_decode(k, kl, id, NULL) != 0) {
        if (val)
            en_val_release(cur->t, val);
        rc = bad_key(cur, kl);
    }
    return rc;
}

/*
 * Decodes the object at the cursor, given as en_cursor_peek gives it, into
 * obj, its id included.  The record is decoded where it lies in the leaf
 * the cursor holds (no pin, no en_val); co_decode copies whatever it keeps
 * into the arena unless borrow is set (then strings point into the leaf,
 * which lives until the cursor moves).  A record on overflow pages (rec
 * NULL) is loaded with en_cursor_get instead, and is never borrowed from.
 * Errors of cur_id and co_decode.
 */
static int decode_entry(isle_coll_cursor *cur, const uint8_t *k, uint32_t kl,
                        const uint8_t *rec, uint32_t len, void *obj, isle_arena *arena,
                        int borrow) {
    const isle_coll *c = cur->c;
    int64_t id;
    int rc;
    if (rec) {
        if (kl != CD_KEY_ID_SIZE)
            return bad_key(cur, kl);
        id = cd_key_id_get(k);
        rc = co_decode(c->root, rec, len, obj, arena, c->name, borrow);
    } else {
        en_val v;
        if ((rc = cur_id(cur, &id, &v)) != 0)
            return rc;
        rc = co_decode(c->root, v.data, v.len, obj, arena, c->name, 0);
        en_val_release(cur->t, &v);
    }
    if (rc == 0)
        memcpy((uint8_t *)obj + c->id_offset, &id, sizeof id);
    return rc;
}

/* Decodes the current object into obj, its strings in the arena; without
 * a message for ISLE_ENOTFOUND (past_end adds it). */
static int cur_decode(isle_coll_cursor *cur, void *obj, isle_arena *arena) {
    const uint8_t *k, *rec;
    uint32_t kl, len;
    if (!cur->ec)
        return ISLE_ENOTFOUND;
    int rc = en_cursor_peek(cur->ec, &k, &kl, &rec, &len);
    return rc ? rc : decode_entry(cur, k, kl, rec, len, obj, arena, 0);
}

int isle_coll_cursor_seek(isle_coll_cursor *cur, int64_t id, int how) {
    const char *fn = "isle_coll_cursor_seek";
    if (!cur)
        return en_fail(ISLE_EINVAL, "%s: NULL cursor", fn);
    if (how != ISLE_SEEK_GE && how != ISLE_SEEK_LE)
        return en_fail(ISLE_EINVAL, "%s: how is ISLE_SEEK_GE or ISLE_SEEK_LE", fn);
    if (!cur->ec)
        return past_end(fn, ISLE_ENOTFOUND);
    uint8_t key[CD_KEY_ID_SIZE];
    cd_key_id_encode(key, id);
    en_clear_error();
    int rc = en_cursor_seek(cur->ec, key, sizeof key);
    if (how == ISLE_SEEK_LE) {
        int64_t at;
        if (rc == ISLE_ENOTFOUND) /* every id is smaller */
            rc = en_cursor_last(cur->ec);
        else if (rc == 0 && (rc = cur_id(cur, &at, NULL)) == 0 && at > id)
            rc = en_cursor_prev(cur->ec);
    }
    return rc ? past_end(fn, rc) : 0;
}

int isle_coll_cursor_id(isle_coll_cursor *cur, int64_t *id) {
    if (!cur || !id)
        return en_fail(ISLE_EINVAL, "isle_coll_cursor_id: NULL argument");
    en_clear_error();
    int rc = cur_id(cur, id, NULL);
    return rc ? past_end("isle_coll_cursor_id", rc) : 0;
}

int isle_coll_cursor_get(isle_coll_cursor *cur, void *obj, isle_arena *arena) {
    if (!cur || !obj)
        return en_fail(ISLE_EINVAL, "isle_coll_cursor_get: NULL argument");
    en_clear_error();
    int rc = cur_decode(cur, obj, arena);
    return rc == ISLE_ENOTFOUND ? past_end("isle_coll_cursor_get", rc) : done(rc);
}

/* ---- scans ----------------------------------------------------------------------- */

static int scan_start(isle_coll_cursor *cur, int64_t from, int reverse) {
    if (from == ISLE_AUTO_ID)
        return reverse ? isle_coll_cursor_last(cur) : isle_coll_cursor_first(cur);
    return isle_coll_cursor_seek(cur, from, reverse ? ISLE_SEEK_LE : ISLE_SEEK_GE);
}

/* Clears the thread's message if something left one: where the cursor
 * calls would call en_clear_error, for the price of a load when there is
 * nothing to clear.  msg is en_errmsg() of the calling thread. */
static void clear_left(const char *msg) {
    if (msg[0])
        en_clear_error();
}

typedef struct scan_run {
    isle_coll_cursor *cur;
    void *obj;
    isle_arena *arena;
    co_mark mark;
    int borrow, stopped;
    const char *msg;
    isle_scan_fn fn;
    void *arg;
} scan_run;

static int scan_one(void *arg, const uint8_t *k, uint32_t kl, const uint8_t *rec,
                    uint32_t len) {
    scan_run *s = arg;
    clear_left(s->msg);
    if (s->arena)
        co_arena_restore(s->arena, s->mark);
    int rc = decode_entry(s->cur, k, kl, rec, len, s->obj, s->arena, s->borrow);
    if (rc == 0 && (rc = s->fn(s->arg, s->obj)) != 0)
        s->stopped = 1;
    return rc;
}

/*
 * The walk is isle_coll_cursor_get and _next (or _prev) over the engine's
 * cursor, one leaf at a time (en_cursor_each): every object finds the
 * message cleared as those calls leave it, so the caller sees the same
 * codes and messages (the one past_end would write for ISLE_ENOTFOUND at
 * the end is cleared anyway).
 */
int isle_coll_scan(isle_txn *txn, isle_coll *c, int64_t from_id, unsigned flags, void *obj,
                   isle_arena *arena, isle_scan_fn fn, void *arg) {
    if (!obj || !fn)
        return en_fail(ISLE_EINVAL, "isle_coll_scan: NULL argument");
    if (flags & ~(ISLE_SCAN_REVERSE | ISLE_SCAN_BORROW))
        return en_fail(ISLE_EINVAL, "isle_coll_scan: unknown flags 0x%x", flags);
    isle_coll_cursor *cur;
    int rc = isle_coll_cursor_open(txn, c, &cur);
    if (rc)
        return rc;
    scan_run s = {.cur = cur, .obj = obj, .arena = arena,
                  .mark = arena ? co_arena_mark(arena) : (co_mark){0},
                  .borrow = (flags & ISLE_SCAN_BORROW) != 0, .msg = en_errmsg(),
                  .fn = fn, .arg = arg};
    int dir = flags & ISLE_SCAN_REVERSE ? -1 : 1;
    rc = scan_start(cur, from_id, dir < 0);
    if (rc == 0)
        rc = en_cursor_each(cur->ec, dir, scan_one, &s);
    isle_coll_cursor_close(cur);
    if (rc == ISLE_ENOTFOUND && !s.stopped)
        rc = 0;
    return done(rc);
}

/* ---- the collection check -------------------------------------------------------- */

static int check_object(const isle_coll *c, const cd_schema *s, int64_t id, const en_val *v,
                        int64_t max_id) {
    cd_diag diag = {0};
    if (id == ISLE_AUTO_ID || id > max_id)
        return en_fail(ISLE_ECORRUPT, "collection '%s': object %lld is above the largest id "
                       "%lld (or is 0)", c->name, (long long)id, (long long)max_id);
    if (cd_record_validate(s, v->data, v->len, &diag) != 0)
        return en_fail(ISLE_ECORRUPT, "collection '%s': object %lld: %s at byte %zu "
                       "(detected at line %d)", c->name, (long long)id,
                       diag.what ? diag.what : "invalid record", diag.offset, diag.line);
    return 0;
}

int isle_coll_check(isle_txn *txn, isle_coll *c) {
    co_state state;
    uint64_t seen = 0;
    int rc = co_args_ok("isle_coll_check", txn, c);
    if (rc == 0)
        rc = co_state_load(TXN(txn), c, &state);
    if (rc)
        return rc;
    isle_arena tmp;
    isle_arena_init(&tmp, NULL, 0);
    co_stored st;
    cd_schema *cs = NULL;
    rc = co_stored_load(TXN(txn), c, &tmp, &st);
    if (rc == ISLE_ENOTFOUND)
        rc = en_fail(ISLE_ECORRUPT, "collection '%s' has no stored schema", c->name);
    if (rc == 0)
        rc = co_stored_layout(&st, &tmp, &cs);
    isle_coll_cursor *cur = NULL;
    if (rc == 0)
        rc = isle_coll_cursor_open(txn, c, &cur);
    int step = rc ? rc : isle_coll_cursor_first(cur);
    while (rc == 0 && step == 0) {
        int64_t id;
        en_val v;
        if ((rc = cur_id(cur, &id, &v)) != 0)
            break;
        rc = check_object(c, &cs[0], id, &v, state.max_id);
        en_val_release(cur->t, &v);
        seen++;
        if (rc == 0)
            step = isle_coll_cursor_next(cur);
    }
    if (rc == 0 && step != ISLE_ENOTFOUND)
        rc = step;
    isle_coll_cursor_close(cur);
    if (rc == 0 && seen != state.count)
        rc = en_fail(ISLE_ECORRUPT, "collection '%s': %llu objects but the count says %llu",
                     c->name, (unsigned long long)seen, (unsigned long long)state.count);
    isle_arena_free(&tmp);
    return done(rc);
}
