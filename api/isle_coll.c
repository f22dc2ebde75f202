/*
 * isle_coll.c: the collection operations of isle.h: opening a collection
 * (storing its schema), put, put_many, get, get_many, delete,
 * delete_many, clear, count, check, cursors and scans.  Objects live in
 * one engine tree per collection keyed by cd_key_id_encode(id); the
 * collection's state (largest id, object count) sits beside its stored
 * schema in "_isle.meta" (coll_int.h) and is read and written in the
 * caller's transaction, so it is always exactly as consistent as the
 * objects.  Uses engine/ (en.h) and codec/ through coll_int.h.
 *
 * Failure model.  Bad input (what isle_coll_put's ISLE_EINVAL and
 * ISLE_ETOOBIG list) is found while encoding, before an object is
 * written, so a failed put changes nothing.  put_many writes as it goes
 * and, when object k turns out bad, undoes objects 0..k-1: it logs the
 * old bytes of each object it replaces (and each id it inserts at or below
 * the old largest id) and deletes the ids it added above it, which the
 * auto-increment replay finds without a log.  An engine failure (I/O,
 * memory) instead leaves the transaction able only to roll back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"

#define TXN(t) ((en_txn *)(t))
#define NEED_WRITE 1 /* open_in: the schema or trees must be written */
#define PUT_MANY_BUF 65536u

/* Leaves the thread's message clear on success. */
static int done(int rc) {
    if (rc == 0)
        en_clear_error();
    return rc;
}

int co_args_ok(const char *fn, isle_txn *txn, const isle_coll *c) {
    if (!txn || !c)
        return en_fail(ISLE_EINVAL, "%s: NULL argument", fn);
    if (c->magic != CO_COLL_MAGIC)
        return en_fail(ISLE_EINVAL, "%s: not an open collection", fn);
    if (en_txn_db(TXN(txn)) != c->db)
        return en_fail(ISLE_EINVAL, "%s: collection '%s' belongs to another database", fn,
                       c->name);
    return 0;
}

static int writable(const char *fn, isle_txn *txn, const isle_coll *c) {
    int rc = co_args_ok(fn, txn, c);
    if (rc == 0 && !en_txn_is_write(TXN(txn)))
        rc = en_fail(ISLE_EREADONLY, "%s: collection '%s': a write through a read transaction",
                     fn, c->name);
    return rc;
}

static int64_t load_id(const isle_coll *c, const void *obj) {
    int64_t id;
    memcpy(&id, (const uint8_t *)obj + c->id_offset, sizeof id);
    return id;
}

static void store_id(const isle_coll *c, void *obj, int64_t id) {
    memcpy((uint8_t *)obj + c->id_offset, &id, sizeof id);
}

/* ---- collection state ------------------------------------------------------- */

int co_state_load(en_txn *t, const isle_coll *c, co_state *st) {
    en_val v;
    *st = (co_state){0, 0};
    int rc = en_get(t, c->meta, c->state_key, c->key_len, &v);
    if (rc == ISLE_ENOTFOUND) /* a snapshot from before the collection existed */
        return 0;
    if (rc)
        return rc;
    if (v.len != CO_STATE_SIZE || v.data[0] != CO_STATE_VERSION)
        rc = en_fail(ISLE_ECORRUPT, "collection '%s': malformed state (%u bytes)", c->name,
                     v.len);
    for (unsigned i = 1; rc == 0 && i < 8; i++)
        if (v.data[i])
            rc = en_fail(ISLE_ECORRUPT, "collection '%s': malformed state", c->name);
    if (rc == 0) {
        st->max_id = (int64_t)cd_get64(v.data + 8);
        st->count = cd_get64(v.data + 16);
        if (st->max_id < 0)
            rc = en_fail(ISLE_ECORRUPT, "collection '%s': negative largest id", c->name);
    }
    en_val_release(t, &v);
    return rc;
}

static int state_store(en_txn *t, const isle_coll *c, const co_state *st) {
    uint8_t v[CO_STATE_SIZE] = {CO_STATE_VERSION};
    cd_put64(v + 8, (uint64_t)st->max_id);
    cd_put64(v + 16, st->count);
    return en_put(t, c->meta, c->state_key, c->key_len, v, sizeof v, 0);
}

/*
 * The id an object gets, as put would give it, advancing st->max_id;
 * *known_new when no stored object can have it (above the largest id).
 */
static int pick_id(const isle_coll *c, co_state *st, int64_t *id, int *known_new) {
    *known_new = 1;
    if (*id == ISLE_AUTO_ID) {
        if (st->max_id == INT64_MAX)
            return en_fail(ISLE_ETOOBIG, "collection '%s': auto-increment ids are used up "
                           "(the largest id is INT64_MAX)", c->name);
        *id = ++st->max_id;
    } else if (*id > st->max_id) {
        st->max_id = *id;
    } else {
        *known_new = 0;
    }
    return 0;
}

/* ---- opening -------------------------------------------------------------------- */

typedef struct open_ctx {
    isle_coll *c;
    const isle_schema *s;
} open_ctx;

/* How many collections the database has (schemas in "_isle.meta"). */
static int count_collections(en_txn *t, en_tree meta, uint32_t *n) {
    en_cursor *cur;
    uint8_t kind = CO_META_SCHEMA;
    int rc = en_cursor_open(t, meta, &cur);
    if (rc)
        return rc;
    *n = 0;
    for (rc = en_cursor_seek(cur, &kind, 1); rc == 0; rc = en_cursor_next(cur)) {
        const uint8_t *k;
        uint32_t kl;
        if ((rc = en_cursor_get(cur, &k, &kl, NULL)) != 0 || k[0] != CO_META_SCHEMA)
            break;
        ++*n;
    }
    en_cursor_close(cur);
    return rc == ISLE_ENOTFOUND ? 0 : rc;
}

int co_stored_load(en_txn *t, const isle_coll *c, isle_arena *a, co_stored *out) {
    uint8_t key[1 + ISLE_NAME_MAX];
    memcpy(key, c->state_key, c->key_len);
    key[0] = CO_META_SCHEMA;
    en_val v;
    int rc = en_get(t, c->meta, key, c->key_len, &v);
    if (rc == 0) {
        rc = co_stored_parse(v.data, v.len, c->name, a, out);
        en_val_release(t, &v);
    }
    return rc;
}

/* Stores a new or extended schema (write transactions only). */
static int store_schema(en_txn *t, isle_coll *c, const co_stored *st, int is_new) {
    uint8_t key[1 + ISLE_NAME_MAX];
    uint32_t n;
    int rc = 0;
    if (is_new && (rc = count_collections(t, c->meta, &n)) == 0 && n >= ISLE_COLLECTIONS_MAX)
        rc = en_fail(ISLE_ETOOBIG, "collection '%s': a database holds at most %u collections",
                     c->name, ISLE_COLLECTIONS_MAX);
    uint8_t *blob = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = co_stored_encode(st, &blob, &len);
    memcpy(key, c->state_key, c->key_len);
    key[0] = CO_META_SCHEMA;
    if (rc == 0)
        rc = en_put(t, c->meta, key, c->key_len, blob, (uint32_t)len, 0);
    free(blob);
    if (rc == 0 && is_new)
        rc = state_store(t, c, &(co_state){0, 0});
    return rc;
}

/* Loads, merges and (in a write transaction) stores the schema, then
 * binds.  NEED_WRITE from a read transaction when something must be
 * stored first. */
static int open_in(en_txn *t, open_ctx *o) {
    isle_coll *c = o->c;
    int write = en_txn_is_write(t), is_new = 0, changed = 0;
    unsigned flags = write ? EN_TREE_CREATE : 0;
    isle_arena tmp;
    isle_arena_init(&tmp, NULL, 0);
    co_stored st = {0};
    int rc = en_tree_open(t, CO_META_TREE, flags, &c->meta);
    if (rc == 0)
        rc = co_stored_load(t, c, &tmp, &st);
    if (rc == ISLE_ENOTFOUND) {
        is_new = 1;
        rc = write ? 0 : NEED_WRITE;
    }
    if (rc == 0)
        rc = co_stored_merge(&st, o->s, &tmp, &changed);
    if (rc == 0 && (changed || is_new))
        rc = write ? store_schema(t, c, &st, is_new) : NEED_WRITE;
    if (rc == 0)
        rc = en_tree_open(t, c->tree_name, flags, &c->objects);
    if (rc == ISLE_ENOTFOUND && !write)
        rc = NEED_WRITE;
    if (rc == 0)
        rc = co_bind(&st, o->s, &c->mem, &c->root);
    isle_arena_free(&tmp);
    return rc;
}

static int open_write_fn(isle_txn *txn, void *arg) { return open_in(TXN(txn), arg); }

static int open_handle(isle_db *db, const isle_schema *s, isle_coll **out) {
    isle_coll *c = calloc(1, sizeof *c);
    if (!c)
        return en_fail(ISLE_ENOMEM, "isle_coll_open: out of memory");
    size_t n = strlen(s->name);
    memcpy(c->name, s->name, n + 1);
    snprintf(c->tree_name, sizeof c->tree_name, "%s%s", CO_TREE_PREFIX, s->name);
    c->state_key[0] = CO_META_STATE;
    memcpy(c->state_key + 1, s->name, n);
    c->key_len = (uint32_t)n + 1;
    c->db = (en_db *)db;
    c->id_offset = s->id_offset;
    isle_arena_init(&c->mem, NULL, 0);
    *out = c;
    return 0;
}

int isle_coll_open(isle_db *db, const isle_schema *s, isle_coll **out) {
    if (!db || !s || !out)
        return en_fail(ISLE_EINVAL, "isle_coll_open: NULL argument");
    isle_coll *c = NULL;
    int rc = co_schema_check(s);
    if (rc == 0)
        rc = open_handle(db, s, &c);
    if (rc)
        return rc;
    open_ctx o = {c, s};
    en_txn *t;
    rc = en_read_begin(c->db, &t);
    if (rc == 0) {
        rc = open_in(t, &o);
        en_txn_end(t);
    }
    if (rc == NEED_WRITE)
        rc = isle_write(db, open_write_fn, &o);
    if (rc) {
        isle_arena_free(&c->mem);
        free(c);
        return rc;
    }
    c->magic = CO_COLL_MAGIC;
    *out = c;
    return done(0);
}

void isle_coll_close(isle_coll *c) {
    if (!c || c->magic != CO_COLL_MAGIC)
        return;
    c->magic = 0;
    isle_arena_free(&c->mem);
    free(c);
}

const char *isle_coll_name(const isle_coll *c) {
    return c && c->magic == CO_COLL_MAGIC ? c->name : "";
}

/* ---- writing -------------------------------------------------------------------- */

/*
 * The undo log of put_many: for each object it wrote at or below the old
 * largest id, in order, an entry [8 id][4 len, or UNDO_ABSENT][len old
 * bytes].
 */
#define UNDO_ABSENT 0xffffffffu
typedef struct undo {
    uint8_t *buf;
    size_t len, cap;
} undo;

/* Makes room for need more bytes. */
static int undo_reserve(undo *u, size_t need) {
    if (u->cap - u->len < need) {
        size_t cap = u->cap ? u->cap : 4096;
        while (cap - u->len < need)
            cap *= 2;
        uint8_t *p = realloc(u->buf, cap);
        if (!p)
            return en_fail(ISLE_ENOMEM, "out of memory for put_many's undo log");
        u->buf = p;
        u->cap = cap;
    }
    return 0;
}

static int undo_add(undo *u, int64_t id, const uint8_t *old, uint32_t len, int absent) {
    size_t need = 12 + (absent ? 0 : (size_t)len);
    int rc = undo_reserve(u, need);
    if (rc)
        return rc;
    uint8_t *p = u->buf + u->len;
    cd_put64(p, (uint64_t)id);
    cd_put32(p + 8, absent ? UNDO_ABSENT : len);
    if (!absent)
        memcpy(p + 12, old, len);
    u->len += need;
    return 0;
}

/* Writes one encoded object.  known_new: no lookup needed.  With u, logs
 * what it replaces. */
static int store_one(en_txn *t, const isle_coll *c, int64_t id, const uint8_t *rec,
                     size_t len, int known_new, undo *u, int *inserted) {
    uint8_t key[CD_KEY_ID_SIZE];
    cd_key_id_encode(key, id);
    *inserted = 1;
    if (known_new)
        return en_put(t, c->objects, key, sizeof key, rec, (uint32_t)len, 0);
    int rc = u ? undo_reserve(u, 12) : 0; /* so that logging an insert cannot fail */
    if (rc == 0)
        rc = en_put(t, c->objects, key, sizeof key, rec, (uint32_t)len, EN_PUT_NOOVERWRITE);
    if (rc == 0)
        return u ? undo_add(u, id, NULL, 0, 1) : 0;
    if (rc != ISLE_EEXIST)
        return rc;
    *inserted = 0;
    if (u) {
        en_val old;
        if ((rc = en_get(t, c->objects, key, sizeof key, &old)) != 0)
            return rc;
        rc = undo_add(u, id, old.data, old.len, 0);
        en_val_release(t, &old);
        if (rc)
            return rc;
    }
    en_clear_error(); /* the EEXIST above was expected */
    return en_put(t, c->objects, key, sizeof key, rec, (uint32_t)len, 0);
}

int isle_coll_put(isle_txn *txn, isle_coll *c, void *obj) {
    int rc = writable("isle_coll_put", txn, c);
    if (rc)
        return rc;
    if (!obj)
        return en_fail(ISLE_EINVAL, "isle_coll_put: NULL object");
    en_txn *t = TXN(txn);
    uint8_t stack[4096];
    co_enc e;
    co_enc_init(&e, stack, sizeof stack, c->name);
    co_state st, st0;
    int64_t id = load_id(c, obj);
    int known_new = 0, inserted = 0;
    size_t len = 0;
    rc = co_state_load(t, c, &st);
    st0 = st;
    if (rc == 0)
        rc = pick_id(c, &st, &id, &known_new);
    if (rc == 0)
        rc = co_encode(&e, c->root, obj, &len);
    if (rc == 0)
        rc = store_one(t, c, id, e.buf, len, known_new, NULL, &inserted);
    st.count += (uint64_t)inserted;
    if (rc == 0 && (st.count != st0.count || st.max_id != st0.max_id))
        rc = state_store(t, c, &st);
    if (rc == 0 && load_id(c, obj) == ISLE_AUTO_ID) /* the object's own id is not written */
        store_id(c, obj, id);
    co_enc_free(&e);
    return done(rc);
}

/* Takes back objects [0, n) of a put_many that failed at object n. */
static int put_many_undo(en_txn *t, const isle_coll *c, const uint8_t *objs, size_t n,
                         co_state st, undo *u) {
    size_t nent = 0, *at = NULL;
    for (size_t off = 0; off < u->len; nent++) {
        uint32_t len = cd_get32(u->buf + off + 8);
        off += 12 + (len == UNDO_ABSENT ? 0 : len);
    }
    if (nent && !(at = malloc(nent * sizeof *at)))
        return en_fail(ISLE_ENOMEM, "out of memory undoing put_many");
    for (size_t i = 0, off = 0; i < nent; i++) {
        at[i] = off;
        uint32_t len = cd_get32(u->buf + off + 8);
        off += 12 + (len == UNDO_ABSENT ? 0 : len);
    }
    int rc = 0;
    for (size_t i = nent; rc == 0 && i-- > 0;) {
        const uint8_t *p = u->buf + at[i];
        uint32_t len = cd_get32(p + 8);
        uint8_t key[CD_KEY_ID_SIZE];
        cd_key_id_encode(key, (int64_t)cd_get64(p));
        rc = len == UNDO_ABSENT ? en_del(t, c->objects, key, sizeof key)
                                : en_put(t, c->objects, key, sizeof key, p + 12, len, 0);
    }
    free(at);
    size_t size = c->root->size;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t id = load_id(c, objs + i * size);
        int known_new;
        pick_id(c, &st, &id, &known_new); /* cannot fail: it did not before */
        uint8_t key[CD_KEY_ID_SIZE];
        cd_key_id_encode(key, id);
        if (known_new)
            rc = en_del(t, c->objects, key, sizeof key);
    }
    return rc;
}

/*
 * Objects of a put_many known to be new (ids above the largest), encoded
 * and waiting to be put together (en_put_run): ascending ids go into the
 * tree's last leaf many to a visit.  Records are copied into buf; kv[i]
 * is object first + i.
 */
#define RUN_OBJECTS 64u
#define RUN_BYTES 16384u

typedef struct put_run {
    en_kv kv[RUN_OBJECTS];
    uint8_t keys[RUN_OBJECTS][CD_KEY_ID_SIZE];
    uint32_t n, used;
    size_t first;
    uint8_t buf[RUN_BYTES];
} put_run;

/* Records longer than this are put alone. */
#define RUN_RECORD_MAX (RUN_BYTES / 4)

static int run_full(const put_run *r, size_t len) {
    return r->n == RUN_OBJECTS || len > RUN_BYTES - r->used;
}

/* Queues object i, whose record of len bytes is already at buf + used. */
static void run_take(put_run *r, size_t i, int64_t id, size_t len) {
    if (r->n == 0)
        r->first = i;
    cd_key_id_encode(r->keys[r->n], id);
    r->kv[r->n] = (en_kv){r->keys[r->n], r->buf + r->used, CD_KEY_ID_SIZE, (uint32_t)len};
    r->n++;
    r->used += (uint32_t)len;
}

static void run_add(put_run *r, size_t i, int64_t id, const uint8_t *rec, size_t len) {
    memcpy(r->buf + r->used, rec, len);
    run_take(r, i, id, len);
}

/* Puts the run; on a failure *failed is the object that failed. */
static int run_flush(en_txn *t, const isle_coll *c, put_run *r, co_state *st, size_t *failed) {
    if (r->n == 0)
        return 0;
    uint32_t done;
    int rc = en_put_run(t, c->objects, r->kv, r->n, &done);
    st->count += done;
    *failed = r->first + done;
    r->n = r->used = 0;
    return rc;
}

/*
 * Reading ahead in the caller's array.  A large put_many reads its objects
 * once, in order, usually from memory the processor's caches have not
 * seen, and the hardware's stream prefetcher stops at page boundaries: on
 * a 1M-object load of 208-byte structs, 56% of put_many's own time sat on
 * the first read of each object's id.  The loop asks for the lines the
 * encoding reads of the object about PF_BYTES ahead, and for the first
 * bytes of the strings of the object half as far ahead (its pointers are
 * in the cache by then).  Measured with 30 alternating 1M-object loads:
 * 6% less time an object (the objects' lines alone: 5%).
 */
#define PF_BYTES 3072u
#define PF_LINES_MAX 4u
#define PF_STRINGS_MAX 4u

typedef struct pf_plan {
    size_t ahead; /* objects ahead; 0: none */
    size_t lo;    /* first byte of an object the encoding reads */
    uint32_t lines;
    uint32_t nstr; /* string members, whose bytes are asked for half as far ahead */
    size_t str[PF_STRINGS_MAX];
} pf_plan;

/* The bytes of a member that a put reads: the member itself, and a list's
 * count. */
static void pf_field(const co_field *f, size_t *lo, size_t *hi) {
    size_t end = f->offset + (f->inline_obj ? f->obj->size
                              : f->kind == K_STRV && !f->list ? sizeof(isle_str)
                                                            : sizeof(uint64_t));
    if (f->offset < *lo)
        *lo = f->offset;
    if (end > *hi)
        *hi = end;
    if (f->list) {
        if (f->count_offset < *lo)
            *lo = f->count_offset;
        if (f->count_offset + f->count_size > *hi)
            *hi = f->count_offset + f->count_size;
    }
}

static pf_plan pf_make(const isle_coll *c, size_t n) {
    const co_type *t = c->root;
    pf_plan p = {.ahead = 0, .lo = c->id_offset};
    if (n <= 64) /* a short array: nothing worth reading ahead */
        return p;
    size_t hi = c->id_offset + sizeof(int64_t);
    for (uint32_t i = 0; i < t->nfields; i++) {
        const co_field *f = &t->fields[i];
        pf_field(f, &p.lo, &hi);
        if ((f->kind == K_STRV || f->kind == K_STRING) && !f->list && p.nstr < PF_STRINGS_MAX)
            p.str[p.nstr++] = f->offset;
    }
    size_t ahead = PF_BYTES / t->size;
    p.ahead = ahead < 2 ? 2 : ahead > 16 ? 16 : ahead;
    /* the lines [lo, hi) may straddle, wherever the object starts */
    size_t lines = (hi - p.lo + 63) / 64 + 1;
    p.lines = lines < PF_LINES_MAX ? (uint32_t)lines : PF_LINES_MAX;
    return p;
}

static inline void pf_object(const pf_plan *p, const uint8_t *obj) {
    const uint8_t *a = obj + p->lo;
    for (uint32_t k = 0; k < p->lines; k++)
        cd_prefetch(a + 64 * (size_t)k);
}

/* The strings of an object whose lines were asked for earlier: a char *
 * member is the pointer, an isle_str starts with it. */
_Static_assert(offsetof(isle_str, ptr) == 0, "isle_str starts with its pointer");

static inline void pf_strings(const pf_plan *p, const uint8_t *obj) {
    for (uint32_t k = 0; k < p->nstr; k++) {
        const char *s;
        memcpy(&s, obj + p->str[k], sizeof s);
        cd_prefetch(s); /* a hint: never faults, NULL included */
    }
}

/* Writes objs[0, n); when object k fails, undoes objects [0, k) and
 * returns the failure, naming k.  (If the failure came from the engine the
 * undo fails too, and the transaction can only roll back.)  *autos counts
 * the objects that asked for an id (ISLE_AUTO_ID). */
static int put_many_run(en_txn *t, const isle_coll *c, uint8_t *objs, size_t n,
                        co_state *st, size_t *autos) {
    co_enc e;
    undo u = {0};
    co_state st0 = *st;
    co_enc_init(&e, NULL, 0, c->name);
    put_run *run = malloc(sizeof *run);
    int rc = run ? co_enc_reserve(&e, PUT_MANY_BUF)
                 : en_fail(ISLE_ENOMEM, "isle_coll_put_many: out of memory");
    if (rc) {
        free(run);
        return rc;
    }
    run->n = run->used = 0;
    size_t i, failed = 0, size = c->root->size;
    pf_plan pf = pf_make(c, n);
    char msg[512];
    for (i = 0; i < n; i++) {
        const uint8_t *obj = objs + i * size;
        if (pf.ahead && i + pf.ahead < n) {
            pf_object(&pf, obj + pf.ahead * size);
            pf_strings(&pf, obj + pf.ahead / 2 * size);
        }
        int64_t id = load_id(c, obj);
        int known_new, inserted = 0;
        size_t len = 0;
        *autos += id == ISLE_AUTO_ID;
        rc = pick_id(c, st, &id, &known_new);
        if (rc == 0 && known_new) { /* encoded straight into the run when it can be */
            if (run->n == RUN_OBJECTS && (rc = run_flush(t, c, run, st, &failed)) != 0)
                break;
            size_t room = RUN_BYTES - run->used;
            if (co_encode_fast(c->root, obj, run->buf + run->used,
                               room < RUN_RECORD_MAX ? room : RUN_RECORD_MAX, &len) == 0) {
                run_take(run, i, id, len);
                continue;
            }
        }
        if (rc == 0)
            rc = co_encode(&e, c->root, obj, &len);
        if (rc == 0 && known_new && len <= RUN_RECORD_MAX) {
            if (run_full(run, len) && (rc = run_flush(t, c, run, st, &failed)) != 0)
                break;
            run_add(run, i, id, e.buf, len);
            continue;
        }
        /* Object i goes alone, or is bad: the ones queued before it first. */
        if (rc)
            snprintf(msg, sizeof msg, "%s", en_errmsg());
        int frc = run_flush(t, c, run, st, &failed);
        if (frc) {
            rc = frc; /* failed names the queued object */
            break;
        }
        failed = i;
        if (rc) {
            en_fail(rc, "%s", msg);
            break;
        }
        if ((rc = store_one(t, c, id, e.buf, len, known_new, &u, &inserted)) != 0)
            break;
        st->count += (uint64_t)inserted;
    }
    if (rc == 0)
        rc = run_flush(t, c, run, st, &failed);
    if (rc) {
        snprintf(msg, sizeof msg, "%s", en_errmsg());
        put_many_undo(t, c, objs, failed, st0, &u);
        en_fail(rc, "isle_coll_put_many: object %zu: %s", failed, msg);
    }
    free(run);
    co_enc_free(&e);
    free(u.buf);
    return rc;
}

int isle_coll_put_many(isle_txn *txn, isle_coll *c, void *objs, size_t n) {
    int rc = writable("isle_coll_put_many", txn, c);
    if (rc)
        return rc;
    if (!objs && n)
        return en_fail(ISLE_EINVAL, "isle_coll_put_many: NULL objects");
    if (n == 0)
        return done(0);
    en_txn *t = TXN(txn);
    co_state st, st0;
    if ((rc = co_state_load(t, c, &st)) != 0)
        return rc;
    st0 = st;
    size_t autos = 0;
    rc = put_many_run(t, c, objs, n, &st, &autos);
    if (rc == 0 && (st.count != st0.count || st.max_id != st0.max_id))
        rc = state_store(t, c, &st);
    /* All stored: the ids given out are written back, in order, as the
     * puts took them.  Objects that gave their id are not written to (an
     * array of them may be read by other threads meanwhile). */
    for (size_t i = 0; rc == 0 && autos && i < n; i++) {
        uint8_t *obj = (uint8_t *)objs + i * c->root->size;
        int64_t id = load_id(c, obj), given = id;
        int known_new;
        pick_id(c, &st0, &id, &known_new);
        if (given == ISLE_AUTO_ID) {
            store_id(c, obj, id);
            autos--;
        }
    }
    return done(rc);
}

int isle_coll_delete(isle_txn *txn, isle_coll *c, int64_t id) {
    int rc = writable("isle_coll_delete", txn, c);
    if (rc)
        return rc;
    en_txn *t = TXN(txn);
    co_state st;
    uint8_t key[CD_KEY_ID_SIZE];
    cd_key_id_encode(key, id);
    if ((rc = co_state_load(t, c, &st)) != 0)
        return rc;
    rc = en_del(t, c->objects, key, sizeof key);
    if (rc == ISLE_ENOTFOUND)
        return en_fail(rc, "isle_coll_delete: collection '%s' has no object %lld", c->name,
                       (long long)id);
    st.count--;
    if (rc == 0)
        rc = state_store(t, c, &st);
    return done(rc);
}

int isle_coll_delete_many(isle_txn *txn, isle_coll *c, const int64_t *ids, size_t n,
                          size_t *deleted) {
    int rc = writable("isle_coll_delete_many", txn, c);
    if (rc)
        return rc;
    if (!ids && n)
        return en_fail(ISLE_EINVAL, "isle_coll_delete_many: NULL ids");
    en_txn *t = TXN(txn);
    co_state st;
    size_t k = 0;
    rc = co_state_load(t, c, &st);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t key[CD_KEY_ID_SIZE];
        cd_key_id_encode(key, ids[i]);
        rc = en_del(t, c->objects, key, sizeof key);
        if (rc == 0)
            k++;
        else if (rc == ISLE_ENOTFOUND)
            rc = 0;
    }
    st.count -= k;
    if (rc == 0 && k)
        rc = state_store(t, c, &st);
    if (rc == 0 && deleted)
        *deleted = k;
    return done(rc);
}

int isle_coll_clear(isle_txn *txn, isle_coll *c) {
    int rc = writable("isle_coll_clear", txn, c);
    if (rc)
        return rc;
    en_txn *t = TXN(txn);
    en_tree tree;
    rc = en_tree_drop(t, c->tree_name);
    if (rc == 0)
        rc = en_tree_open(t, c->tree_name, EN_TREE_CREATE, &tree);
    if (rc == 0)
        rc = state_store(t, c, &(co_state){0, 0});
    return done(rc);
}

/* ---- reading -------------------------------------------------------------------- */

int isle_coll_count(isle_txn *txn, isle_coll *c, uint64_t *count) {
    int rc = co_args_ok("isle_coll_count", txn, c);
    if (rc)
        return rc;
    if (!count)
        return en_fail(ISLE_EINVAL, "isle_coll_count: NULL count");
    co_state st;
    if ((rc = co_state_load(TXN(txn), c, &st)) == 0)
        *count = st.count;
    return done(rc);
}

/* Decodes one stored object and sets its id. */
static int read_obj(const isle_coll *c, int64_t id, const en_val *v, void *obj,
                    isle_arena *arena) {
    int rc = co_decode(c->root, v->data, v->len, obj, arena, c->name, 0);
    if (rc == 0)
        store_id(c, obj, id);
    return rc;
}

int isle_coll_get(isle_txn *txn, isle_coll *c, int64_t id, void *obj, isle_arena *arena) {
    int rc = co_args_ok("isle_coll_get", txn, c);
    if (rc)
        return rc;
    if (!obj)
        return en_fail(ISLE_EINVAL, "isle_coll_get: NULL object");
    if (id == ISLE_AUTO_ID)
        return en_fail(ISLE_EINVAL, "isle_coll_get: id 0 is ISLE_AUTO_ID, never stored");
    uint8_t key[CD_KEY_ID_SIZE];
    cd_key_id_encode(key, id);
    en_val v;
    rc = en_get(TXN(txn), c->objects, key, sizeof key, &v);
    if (rc == ISLE_ENOTFOUND)
        return en_fail(rc, "isle_coll_get: collection '%s' has no object %lld", c->name,
                       (long long)id);
    if (rc)
        return rc;
    rc = read_obj(c, id, &v, obj, arena);
    en_val_release(TXN(txn), &v);
    return done(rc);
}

int isle_coll_get_many(isle_txn *txn, isle_coll *c, const int64_t *ids, size_t n, void *objs,
                       isle_arena *arena, size_t *found) {
    int rc = co_args_ok("isle_coll_get_many", txn, c);
    if (rc)
        return rc;
    if ((!ids || !objs) && n)
        return en_fail(ISLE_EINVAL, "isle_coll_get_many: NULL argument");
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t *obj = (uint8_t *)objs + i * c->root->size;
        uint8_t key[CD_KEY_ID_SIZE];
        cd_key_id_encode(key, ids[i]);
        en_val v;
        rc = ids[i] == ISLE_AUTO_ID ? ISLE_ENOTFOUND
                                    : en_get(TXN(txn), c->objects, key, sizeof key, &v);
        if (rc == ISLE_ENOTFOUND) {
            co_decode_null(c->root, obj);
            store_id(c, obj, ISLE_AUTO_ID);
            rc = 0;
            continue;
        }
        if (rc == 0) {
            rc = read_obj(c, ids[i], &v, obj, arena);
            en_val_release(TXN(txn), &v);
            k++;
        }
    }
    if (rc == 0 && found)
        *found = k;
    return done(rc);
}
