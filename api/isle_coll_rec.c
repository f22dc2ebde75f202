/*
 * isle_coll_rec.c: C structs to records and back.  Encoding drives the
 * codec's cd_writer straight from the struct's members, field by field in
 * slot order (dynamic items must be appended in that order), into a
 * buffer that is reused from object to object; decoding reads the record
 * with the zero-copy cd_reader and writes each bound member, copying
 * strings, lists and embedded objects into the caller's arena.  Also the
 * arena itself.  Uses codec/ (cd_record.h) and en_fail for messages.
 *
 * Records are read without a full validation pass: the page holding one
 * has passed its checksum, the reader never reads outside the record
 * whatever the bytes, and isle_coll_check validates every record when
 * asked.  Nesting is bounded while decoding all the same.
 */
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"

/* ---- arenas ------------------------------------------------------------------ */

/* A heap block: this header, then cap bytes (16-byte aligned by malloc). */
typedef struct block {
    struct block *next;
    size_t cap;
    size_t pad_[2];
} block;
#define BLOCK_DATA(b) ((unsigned char *)(b) + sizeof(block))
#define BLOCK_MIN 4096u
#define BLOCK_GROW_MAX ((size_t)1 << 20)
_Static_assert(sizeof(block) % 16 == 0, "block data stays 16-byte aligned");

static _Alignas(16) unsigned char empty_alloc[16];

void isle_arena_init(isle_arena *a, void *buf, size_t cap) {
    if (!a)
        return;
    memset(a, 0, sizeof *a);
    a->first_ = buf;
    a->first_cap_ = buf ? cap : 0;
    a->buf_ = a->first_;
    a->cap_ = a->first_cap_;
}

void isle_arena_reset(isle_arena *a) {
    if (!a)
        return;
    a->cur_ = NULL;
    a->buf_ = a->first_;
    a->cap_ = a->first_cap_;
    a->used_ = a->spent_ = 0;
}

void isle_arena_free(isle_arena *a) {
    if (!a)
        return;
    for (block *b = a->blocks_, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->blocks_ = NULL;
    isle_arena_reset(a);
}

size_t isle_arena_used(const isle_arena *a) { return a ? a->spent_ : 0; }

/* Moves to a block with at least need bytes: the next one kept from before
 * a reset, or a new one at the end of the chain. */
static int advance(isle_arena *a, size_t need) {
    block *cur = a->cur_, *next = cur ? cur->next : a->blocks_;
    while (next && next->cap < need)
        next = next->next;
    if (!next) {
        size_t cap = cur && cur->cap < BLOCK_GROW_MAX ? cur->cap * 2 : BLOCK_MIN;
        if (cap < need)
            cap = need;
        if (need > SIZE_MAX - sizeof(block) || !(next = malloc(sizeof(block) + cap)))
            return 0;
        next->next = NULL;
        next->cap = cap;
        block **tail = (block **)&a->blocks_;
        while (*tail)
            tail = &(*tail)->next;
        *tail = next;
    }
    a->cur_ = next;
    a->buf_ = BLOCK_DATA(next);
    a->cap_ = next->cap;
    a->used_ = 0;
    return 1;
}

void *co_alloc_slow(isle_arena *a, size_t size, size_t align) {
    if (size == 0)
        return empty_alloc;
    if (size > SIZE_MAX - align || !advance(a, size + align))
        return NULL;
    return co_alloc(a, size, align); /* an empty block of size + align: it fits */
}

co_mark co_arena_mark(const isle_arena *a) {
    return (co_mark){.cur = a->cur_, .used = a->used_, .spent = a->spent_};
}

void co_arena_restore(isle_arena *a, co_mark m) {
    block *b = m.cur;
    a->cur_ = b;
    a->buf_ = b ? BLOCK_DATA(b) : a->first_;
    a->cap_ = b ? b->cap : a->first_cap_;
    a->used_ = m.used;
    a->spent_ = m.spent;
}

char *co_strdup(isle_arena *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = co_alloc(a, n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- small conversions --------------------------------------------------------- */

static int64_t load_int(const uint8_t *p, unsigned size) {
    switch (size) {
    case 1: { int8_t v; memcpy(&v, p, 1); return v; }
    case 2: { int16_t v; memcpy(&v, p, 2); return v; }
    case 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void store_int(uint8_t *p, unsigned size, int64_t v) {
    switch (size) {
    case 1: { int8_t x = (int8_t)v; memcpy(p, &x, 1); break; }
    case 2: { int16_t x = (int16_t)v; memcpy(p, &x, 2); break; }
    case 4: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

static uint64_t load_count(const co_field *f, const uint8_t *obj, int *negative) {
    const uint8_t *p = obj + f->count_offset;
    int64_t s = load_int(p, f->count_size);
    *negative = f->count_signed && s < 0;
    if (f->count_signed || f->count_size == 8)
        return (uint64_t)s;
    return (uint64_t)s & ((UINT64_C(1) << (8 * f->count_size)) - 1);
}

static const void *load_ptr(const uint8_t *p) {
    const void *v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void store_ptr(uint8_t *p, const void *v) { memcpy(p, &v, sizeof v); }
static void store_strv(uint8_t *p, const char *s, size_t n) {
    isle_str v = {s, s ? n : 0};
    memcpy(p, &v, sizeof v);
}
/* A decoded string (NULL: null) into a char * or isle_str member. */
static void store_string(const co_field *f, uint8_t *p, const char *s, size_t n) {
    if (f->kind == K_STRV)
        store_strv(p, s, n);
    else
        store_ptr(p, s);
}

/* Index of C value v in enum e, or -1. */
static int64_t enum_index(const co_field *f, int64_t v) {
    const isle_enum *e = f->en;
    if (f->enum_dense)
        return v >= 0 && (uint64_t)v < e->count ? v : -1;
    for (size_t i = 0; i < e->count; i++)
        if (e->values[i].c_value == v)
            return (int64_t)i;
    return -1;
}

/* The C value of a stored enum that is null or not in the table. */
static int64_t enum_fallback(const isle_enum *e) {
    return e->nullable ? e->null_value : e->values[0].c_value;
}

/* ---- encoding -------------------------------------------------------------------- */

/* Why the encoding failed and where: the field path grows outward. */
typedef struct enc_err {
    const char *why; /* NULL: the object is too big */
    char path[256];
} enc_err;

static int field_fail(enc_err *err, const co_field *f, int rc, const char *why) {
    err->why = why;
    snprintf(err->path, sizeof err->path, "%s", f->name);
    return rc;
}

/* Prefixes the path with "name." or "name[i]." as the error unwinds
 * (a path too long for the buffer loses its end). */
static int path_up(enc_err *err, const co_field *f, long index, int rc) {
    char head[ISLE_NAME_MAX + 32];
    int n = index >= 0 ? snprintf(head, sizeof head, "%s[%ld].", f->name, index)
                       : snprintf(head, sizeof head, "%s.", f->name);
    size_t hl = n < 0 ? 0 : (size_t)n < sizeof head ? (size_t)n : sizeof head - 1;
    size_t pl = strlen(err->path);
    if (hl + pl >= sizeof err->path)
        pl = sizeof err->path - 1 - hl;
    memmove(err->path + hl, err->path, pl);
    err->path[hl + pl] = 0;
    memcpy(err->path, head, hl);
    return rc;
}

static int scratch(co_enc *e, size_t bytes) {
    if (bytes <= e->scratch_cap)
        return 0;
    size_t cap = e->scratch_cap ? e->scratch_cap : 256;
    while (cap < bytes)
        cap *= 2;
    uint8_t *p = realloc(e->scratch, cap);
    if (!p)
        return ISLE_ENOMEM;
    e->scratch = p;
    e->scratch_cap = cap;
    return 0;
}

static int enc_type(co_enc *e, const co_type *t, const uint8_t *obj, unsigned depth,
                    enc_err *err);

/* Writes the string of a char * (n = strlen) or isle_str member. */
static int enc_string(co_enc *e, const co_field *f, const char *s, size_t n, long index,
                      enc_err *err) {
    if (n > ISLE_STRING_LEN_MAX)
        return field_fail(err, f, ISLE_ETOOBIG, "string longer than ISLE_STRING_LEN_MAX");
    int rc = index < 0 ? cd_writer_string(&e->w, f->slot, s, n)
                       : cd_writer_strings_item(&e->w, (uint32_t)index, s, n);
    if (rc == ISLE_EINVAL)
        return field_fail(err, f, rc, "string is not valid UTF-8 (or holds a NUL byte)");
    return rc ? field_fail(err, f, rc, NULL) : 0;
}

/* An isle_str member at p: its string, or NULL for null; -1 (load_strv:
 * EINVAL) for a NULL ptr with a length, which is no string and no null. */
static int strv_get(const uint8_t *p, const char **s, size_t *n) {
    isle_str v;
    memcpy(&v, p, sizeof v);
    *s = v.ptr;
    *n = v.len;
    return !v.ptr && v.len ? -1 : 0;
}

static int load_strv(const co_field *f, const uint8_t *p, const char **s, size_t *n,
                     enc_err *err) {
    if (strv_get(p, s, n))
        return field_fail(err, f, ISLE_EINVAL, "isle_str with a NULL ptr and a length");
    return 0;
}

/* Stored form of enum element v: its index, or -1 for null.  EINVAL for a
 * value outside the table, or null where storage cannot hold one. */
static int enum_pick(const co_field *f, int64_t v, int64_t *idx, enc_err *err) {
    *idx = enum_index(f, v);
    if (*idx >= 0)
        return 0;
    if (f->en->nullable && v == f->en->null_value) {
        if (f->enum_storage == ISLE_ENUM_ORDINAL)
            return field_fail(err, f, ISLE_EINVAL, "an ISLE_ENUM_ORDINAL enum cannot be null");
        return 0;
    }
    return field_fail(err, f, ISLE_EINVAL, "value is not in the enum's table");
}

static int enc_enum(co_enc *e, const co_field *f, const uint8_t *p, enc_err *err) {
    int64_t idx;
    int rc = enum_pick(f, load_int(p, f->csize), &idx, err);
    if (rc || idx < 0)
        return rc;
    const isle_enum_value *v = &f->en->values[idx];
    switch (f->enum_storage) {
    case ISLE_ENUM_ORDINAL: rc = cd_writer_byte(&e->w, f->slot, (uint8_t)idx); break;
    case ISLE_ENUM_ORDINAL32: rc = cd_writer_i32(&e->w, f->slot, (int32_t)idx); break;
    case ISLE_ENUM_VALUE: rc = cd_writer_i64(&e->w, f->slot, v->value); break;
    default: return enc_string(e, f, v->name, strlen(v->name), -1, err);
    }
    return rc ? field_fail(err, f, rc, NULL) : 0;
}

/* A list of enums: converted element by element. */
static int enc_enum_list(co_enc *e, const co_field *f, const uint8_t *a, uint32_t n,
                         enc_err *err) {
    int rc = 0;
    if (f->enum_storage == ISLE_ENUM_NAME) {
        rc = cd_writer_strings_begin(&e->w, f->slot, n);
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            int64_t idx;
            rc = enum_pick(f, load_int(a + (size_t)i * f->csize, f->csize), &idx, err);
            if (rc == 0 && idx >= 0)
                rc = enc_string(e, f, f->en->values[idx].name, strlen(f->en->values[idx].name),
                                (long)i, err);
        }
        return rc;
    }
    if ((rc = scratch(e, (size_t)n * 8)) != 0)
        return field_fail(err, f, rc, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        int64_t idx;
        if ((rc = enum_pick(f, load_int(a + (size_t)i * f->csize, f->csize), &idx, err)) != 0)
            return rc;
        if (f->enum_storage == ISLE_ENUM_ORDINAL)
            e->scratch[i] = (uint8_t)idx;
        else if (f->enum_storage == ISLE_ENUM_ORDINAL32)
            ((int32_t *)(void *)e->scratch)[i] = idx < 0 ? ISLE_NULL_SHORT : (int32_t)idx;
        else
            ((int64_t *)(void *)e->scratch)[i] = idx < 0 ? ISLE_NULL_INT : f->en->values[idx].value;
    }
    if (f->enum_storage == ISLE_ENUM_ORDINAL)
        rc = cd_writer_list_byte(&e->w, f->slot, e->scratch, n);
    else if (f->enum_storage == ISLE_ENUM_ORDINAL32)
        rc = cd_writer_list_i32(&e->w, f->slot, (const int32_t *)(void *)e->scratch, n);
    else
        rc = cd_writer_list_i64(&e->w, f->slot, (const int64_t *)(void *)e->scratch, n);
    return rc ? field_fail(err, f, rc, NULL) : 0;
}

static int enc_object_list(co_enc *e, const co_field *f, const uint8_t *a, uint32_t n,
                           unsigned depth, enc_err *err) {
    if (depth >= ISLE_NEST_DEPTH_MAX)
        return field_fail(err, f, ISLE_ETOOBIG, "objects nest deeper than ISLE_NEST_DEPTH_MAX");
    int rc = cd_writer_objects_begin(&e->w, f->slot, n);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = cd_writer_objects_item(&e->w, i, f->obj->stored);
        if (rc == 0 && (rc = enc_type(e, f->obj, a + (size_t)i * f->elem_size, depth + 1, err)))
            return path_up(err, f, (long)i, rc);
        if (rc == 0)
            rc = cd_writer_object_end(&e->w);
    }
    return rc ? field_fail(err, f, rc, NULL) : 0;
}

static int enc_list(co_enc *e, const co_field *f, const uint8_t *obj, unsigned depth,
                    enc_err *err) {
    const uint8_t *a = load_ptr(obj + f->offset);
    if (!a)
        return 0;
    int negative;
    uint64_t n = load_count(f, obj, &negative);
    if (negative)
        return field_fail(err, f, ISLE_EINVAL, "negative list count");
    if (n > ISLE_LIST_LEN_MAX)
        return field_fail(err, f, ISLE_ETOOBIG, "list longer than ISLE_LIST_LEN_MAX");
    cd_writer *w = &e->w;
    uint32_t cnt = (uint32_t)n;
    int rc = 0;
    switch (f->kind) {
    case K_BYTE: rc = cd_writer_list_byte(w, f->slot, a, cnt); break;
    case K_SHORT: rc = cd_writer_list_i32(w, f->slot, (const int32_t *)(const void *)a, cnt); break;
    case K_INT: rc = cd_writer_list_i64(w, f->slot, (const int64_t *)(const void *)a, cnt); break;
    case K_FLOAT: rc = cd_writer_list_f32(w, f->slot, (const float *)(const void *)a, cnt); break;
    case K_DOUBLE: rc = cd_writer_list_f64(w, f->slot, (const double *)(const void *)a, cnt); break;
    case K_BOOL8:
    case K_CBOOL:
        if (scratch(e, cnt))
            return field_fail(err, f, ISLE_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < cnt; i++)
            e->scratch[i] = f->kind == K_CBOOL ? (a[i] ? CD_BOOL_TRUE : CD_BOOL_FALSE)
                          : (int8_t)a[i] == -1 ? CD_BOOL_NULL
                          : a[i]              ? CD_BOOL_TRUE : CD_BOOL_FALSE;
        rc = cd_writer_list_bool(w, f->slot, e->scratch, cnt);
        break;
    case K_STRING:
        rc = cd_writer_strings_begin(w, f->slot, cnt);
        for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
            const char *s = load_ptr(a + (size_t)i * sizeof(char *));
            if (s && (rc = enc_string(e, f, s, strlen(s), (long)i, err)) != 0)
                return rc;
        }
        break;
    case K_STRV:
        rc = cd_writer_strings_begin(w, f->slot, cnt);
        for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
            const char *s;
            size_t len;
            if ((rc = load_strv(f, a + (size_t)i * sizeof(isle_str), &s, &len, err)) ||
                (s && (rc = enc_string(e, f, s, len, (long)i, err)) != 0))
                return rc;
        }
        break;
    case K_ENUM: return enc_enum_list(e, f, a, cnt, err);
    default: return enc_object_list(e, f, a, cnt, depth, err);
    }
    return rc ? field_fail(err, f, rc, NULL) : 0;
}

static int enc_field(co_enc *e, const co_field *f, const uint8_t *obj, unsigned depth,
                     enc_err *err) {
    if (f->list)
        return enc_list(e, f, obj, depth, err);
    const uint8_t *p = obj + f->offset;
    cd_writer *w = &e->w;
    int rc;
    switch (f->kind) {
    case K_BOOL8:
        rc = cd_writer_bool(w, f->slot, (int8_t)p[0] == -1 ? CD_BOOL_NULL
                                        : p[0]             ? CD_BOOL_TRUE : CD_BOOL_FALSE);
        break;
    case K_CBOOL: rc = cd_writer_bool(w, f->slot, p[0] ? CD_BOOL_TRUE : CD_BOOL_FALSE); break;
    case K_BYTE: rc = cd_writer_byte(w, f->slot, p[0]); break;
    case K_SHORT: rc = cd_writer_i32(w, f->slot, (int32_t)load_int(p, 4)); break;
    case K_INT: rc = cd_writer_i64(w, f->slot, load_int(p, 8)); break;
    case K_FLOAT: { float v; memcpy(&v, p, 4); rc = cd_writer_f32(w, f->slot, v); break; }
    case K_DOUBLE: { double v; memcpy(&v, p, 8); rc = cd_writer_f64(w, f->slot, v); break; }
    case K_STRING: {
        const char *s = load_ptr(p);
        return s ? enc_string(e, f, s, strlen(s), -1, err) : 0;
    }
    case K_STRV: {
        const char *s;
        size_t n;
        if ((rc = load_strv(f, p, &s, &n, err)) != 0)
            return rc;
        return s ? enc_string(e, f, s, n, -1, err) : 0;
    }
    case K_ENUM: return enc_enum(e, f, p, err);
    default: {
        const uint8_t *sub = f->inline_obj ? p : load_ptr(p);
        if (!sub)
            return 0;
        if (depth >= ISLE_NEST_DEPTH_MAX)
            return field_fail(err, f, ISLE_ETOOBIG, "objects nest deeper than ISLE_NEST_DEPTH_MAX");
        rc = cd_writer_object_begin(w, f->slot, f->obj->stored);
        if (rc == 0 && (rc = enc_type(e, f->obj, sub, depth + 1, err)) != 0)
            return path_up(err, f, -1, rc);
        if (rc == 0)
            rc = cd_writer_object_end(w);
        break;
    }
    }
    return rc ? field_fail(err, f, rc, NULL) : 0;
}

static int enc_type(co_enc *e, const co_type *t, const uint8_t *obj, unsigned depth,
                    enc_err *err) {
    for (uint32_t i = 0; i < t->nfields; i++) {
        int rc = enc_field(e, &t->fields[i], obj, depth, err);
        if (rc)
            return rc;
    }
    return 0;
}

void co_enc_init(co_enc *e, uint8_t *buf, size_t cap, const char *coll) {
    memset(e, 0, offsetof(co_enc, w));
    e->buf = buf;
    e->cap = buf ? cap : 0;
    e->coll = coll;
}

void co_enc_free(co_enc *e) {
    if (e->heap)
        free(e->buf);
    free(e->scratch);
    e->buf = e->scratch = NULL;
    e->cap = e->scratch_cap = 0;
}

static int enc_grow(co_enc *e, size_t need) {
    size_t cap = e->cap ? e->cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = e->heap ? realloc(e->buf, cap) : malloc(cap);
    if (!p)
        return en_fail(ISLE_ENOMEM, "collection '%s': out of memory for a %zu-byte object",
                       e->coll, need);
    e->buf = p;
    e->cap = cap;
    e->heap = 1;
    return 0;
}

int co_enc_reserve(co_enc *e, size_t cap) { return e->cap >= cap ? 0 : enc_grow(e, cap); }

/*
 * co_encode's fast way, for a type with an encoding head (co_type.enc_head:
 * scalars, strings, lists of strings and embedded objects of such types):
 * the record written straight into a buffer (fast_out), byte for byte
 * what the writer would write.  Each returns 0, or -1 when the writer
 * must do it: a value it refuses (a string too long or not UTF-8, an
 * isle_str with a NULL ptr and a length, a negative or too long count,
 * objects nested too deep) or a buffer too short.  The writer then grows
 * the buffer or reports the error.  *at is where the next byte goes; a
 * record's offsets count from its first byte, base.
 */

typedef struct fast_out {
    uint8_t *buf;
    size_t cap;
} fast_out;

/* A string item (varint n | n bytes | NUL) at *at; *off gets its offset. */
static int fast_string(fast_out *e, size_t base, size_t *at, const char *s, size_t n,
                       uint32_t *off) {
    if (n > ISLE_STRING_LEN_MAX || n > CD_STRING_LEN_MAX || n + 1 + CD_VARINT_MAX > e->cap - *at)
        return -1;
    uint8_t *p = e->buf + *at;
    size_t vl = cd_varint_put(p, n);
    if (!cd_utf8_copy(p + vl, (const uint8_t *)s, n))
        return -1;
    *off = (uint32_t)(*at - base);
    p[vl + n] = 0;
    *at += vl + n + 1;
    return 0;
}

/* The string of a char * or isle_str at p; -1 for an isle_str that is
 * neither a string nor null. */
static int fast_load_string(const co_field *f, const uint8_t *p, const char **s, size_t *n) {
    if (f->kind == K_STRING) {
        *s = load_ptr(p);
        *n = *s ? strlen(*s) : 0;
        return 0;
    }
    return strv_get(p, s, n);
}

/* A list of strings: varint count | count u32 offsets | the items. */
static int fast_strings(fast_out *e, const co_field *f, const uint8_t *obj, size_t base,
                        size_t *at, uint8_t *slot) {
    const uint8_t *a = load_ptr(obj + f->offset);
    if (!a) /* null: the head's zero offset */
        return 0;
    int negative;
    uint64_t n = load_count(f, obj, &negative);
    if (negative || n > ISLE_LIST_LEN_MAX || n > CD_LIST_LEN_MAX ||
        CD_VARINT_MAX + n * CD_OFFSET_SIZE > e->cap - *at)
        return -1;
    cd_put32(slot, (uint32_t)(*at - base));
    *at += cd_varint_put(e->buf + *at, n);
    size_t table = *at;
    *at += (size_t)n * CD_OFFSET_SIZE;
    size_t elem = f->kind == K_STRING ? sizeof(char *) : sizeof(isle_str);
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        uint32_t off = 0;
        if (fast_load_string(f, a + i * elem, &s, &len) ||
            (s && fast_string(e, base, at, s, len, &off)))
            return -1;
        cd_put32(e->buf + table + i * CD_OFFSET_SIZE, off);
    }
    return 0;
}

static int fast_record(fast_out *e, const co_type *t, const uint8_t *obj, size_t *at,
                       unsigned depth);

/* An embedded object: varint n | its record of n bytes. */
static int fast_object(fast_out *e, const co_field *f, const uint8_t *p, size_t base, size_t *at,
                       uint8_t *slot, unsigned depth) {
    const uint8_t *sub = f->inline_obj ? p : load_ptr(p);
    if (!sub)
        return 0;
    if (depth >= ISLE_NEST_DEPTH_MAX || depth >= CD_NEST_DEPTH_MAX || *at >= e->cap)
        return -1;
    size_t start = *at + 1, end = start; /* room for a one-byte length */
    if (fast_record(e, f->obj, sub, &end, depth + 1))
        return -1;
    size_t n = end - start, vl = cd_varint_len(n);
    if (vl > 1) {
        if (vl - 1 > e->cap - end)
            return -1;
        memmove(e->buf + start + vl - 1, e->buf + start, n);
    }
    cd_put32(slot, (uint32_t)(*at - base));
    cd_varint_put(e->buf + *at, n);
    *at = start + vl - 1 + n;
    return 0;
}

/* The record's header and static section, a few dozen bytes a put: 16
 * bytes a step and the last 16 overlapping, not a call into the library's
 * memcpy for any length. */
static inline void copy_head(uint8_t *dst, const uint8_t *src, size_t n) {
    if (n < 16) {
        memcpy(dst, src, n);
        return;
    }
    for (size_t i = 0; i + 16 < n; i += 16)
        memcpy(dst + i, src + i, 16);
    memcpy(dst + n - 16, src + n - 16, 16);
}

static int fast_record(fast_out *e, const co_type *t, const uint8_t *obj, size_t *at,
                       unsigned depth) {
    size_t base = *at, head = CD_RECORD_HDR_SIZE + (size_t)t->stored->static_size;
    if (!t->enc_head || head > e->cap - base)
        return -1;
    uint8_t *slots = e->buf + base + CD_RECORD_HDR_SIZE;
    copy_head(e->buf + base, t->enc_head, head);
    *at = base + head;
    /* The copied scalars by the decode plan's ops (coll_int.h), kind by
     * kind, so no branch on a field's kind. */
    const co_op *op = t->ops, *end = op + t->n8 - t->n8_double;
    for (; op < end; op++)
        cd_put64(slots + op->slot, (uint64_t)load_int(obj + op->offset, 8));
    for (end += t->n8_double; op < end; op++) {
        double v;
        memcpy(&v, obj + op->offset, 8);
        cd_put64(slots + op->slot, cd_f64_bits(v));
    }
    for (end += t->n4 - t->n4_float; op < end; op++)
        cd_put32(slots + op->slot, (uint32_t)load_int(obj + op->offset, 4));
    for (end += t->n4_float; op < end; op++) {
        float v;
        memcpy(&v, obj + op->offset, 4);
        cd_put32(slots + op->slot, cd_f32_bits(v));
    }
    for (end += t->n1; op < end; op++)
        slots[op->slot] = obj[op->offset];
    for (uint32_t i = 0; i < t->n_enc_rest; i++) {
        const co_field *f = t->enc_rest[i];
        const uint8_t *p = obj + f->offset;
        uint8_t *slot = slots + f->slot;
        const char *s;
        size_t n;
        uint32_t off;
        if (f->list) {
            if (fast_strings(e, f, obj, base, at, slot))
                return -1;
            continue;
        }
        switch (f->kind) {
        case K_BOOL8:
            slot[0] = (int8_t)p[0] == -1 ? CD_BOOL_NULL : p[0] ? CD_BOOL_TRUE : CD_BOOL_FALSE;
            break;
        case K_CBOOL: slot[0] = p[0] ? CD_BOOL_TRUE : CD_BOOL_FALSE; break;
        case K_BYTE: slot[0] = p[0]; break;
        case K_SHORT: cd_put32(slot, (uint32_t)load_int(p, 4)); break;
        case K_INT: cd_put64(slot, (uint64_t)load_int(p, 8)); break;
        case K_FLOAT: { float v; memcpy(&v, p, 4); cd_put32(slot, cd_f32_bits(v)); break; }
        case K_DOUBLE: { double v; memcpy(&v, p, 8); cd_put64(slot, cd_f64_bits(v)); break; }
        case K_STRING:
        case K_STRV:
            if (fast_load_string(f, p, &s, &n) ||
                (s && fast_string(e, base, at, s, n, &off)))
                return -1;
            if (s)
                cd_put32(slot, off);
            break;
        case K_OBJECT:
            if (fast_object(e, f, p, base, at, slot, depth))
                return -1;
            break;
        default: return -1;
        }
    }
    return 0;
}

int co_encode_fast(const co_type *t, const void *obj, uint8_t *buf, size_t cap, size_t *len) {
    fast_out out = {buf, cap};
    size_t at = 0;
    if (!t->enc_head || fast_record(&out, t, obj, &at, 1) != 0 || at > CD_RECORD_SIZE_MAX)
        return -1;
    *len = at;
    return 0;
}

int co_encode(co_enc *e, const co_type *t, const void *obj, size_t *len) {
    if (!e->buf && enc_grow(e, 4096) != 0) /* a writer without a buffer only counts */
        return ISLE_ENOMEM;
    if (co_encode_fast(t, obj, e->buf, e->cap, len) == 0)
        return 0;
    for (int pass = 0;; pass++) {
        enc_err err; /* not zeroed: 256 bytes a put would clear for nothing */
        err.why = NULL;
        err.path[0] = 0;
        cd_writer_init(&e->w, e->buf, e->cap);
        int rc = cd_writer_begin(&e->w, t->stored);
        if (rc == 0)
            rc = enc_type(e, t, obj, 1, &err);
        if (rc == 0)
            rc = cd_writer_finish(&e->w, len);
        if (rc == ISLE_ENOMEM && pass == 0 && *len > e->cap) {
            if ((rc = enc_grow(e, *len)) != 0)
                return rc;
            continue;
        }
        if (rc == 0 || rc == ISLE_ENOMEM)
            return rc ? en_fail(rc, "collection '%s': out of memory", e->coll) : 0;
        if (rc == ISLE_ETOOBIG && !err.why)
            return en_fail(rc, "collection '%s': the object encodes to more than "
                           "ISLE_OBJECT_SIZE_MAX (%u) bytes", e->coll, ISLE_OBJECT_SIZE_MAX);
        return en_fail(rc, "collection '%s': field '%s': %s", e->coll,
                       err.path[0] ? err.path : "?", err.why ? err.why : isle_strerror(rc));
    }
}

/* ---- decoding -------------------------------------------------------------------- */

typedef struct dec {
    isle_arena *arena;
    const char *coll;
    int borrow; /* strings point into the record */
} dec;

static int dec_type(const dec *d, const co_type *t, const cd_reader *r, uint8_t *obj,
                    unsigned depth);

static int no_memory(const dec *d) {
    if (!d->arena)
        return en_fail(ISLE_EINVAL, "collection '%s': reading strings, lists or embedded "
                       "objects needs an arena", d->coll);
    return en_fail(ISLE_ENOMEM, "collection '%s': out of memory in the arena", d->coll);
}

static inline void *dec_alloc(const dec *d, size_t size, size_t align) {
    return d->arena ? co_alloc(d->arena, size, align) : NULL;
}

/* Copies a string into the arena (inline: a scan copies every string of
 * every object this way, and the calls cost as much as the copies). */
static inline char *dec_string(const dec *d, const char *s, uint32_t n) {
    if (d->borrow)
        return (char *)s;
    char *p = dec_alloc(d, (size_t)n + 1, 1);
    if (p)
        memcpy(p, s, (size_t)n + 1); /* the reader's strings end with NUL */
    return p;
}

static int64_t enum_from_stored(const co_field *f, int64_t idx_or_value, int by_value) {
    const isle_enum *e = f->en;
    if (by_value) {
        for (size_t i = 0; idx_or_value != ISLE_NULL_INT && i < e->count; i++)
            if (e->values[i].value == idx_or_value)
                return e->values[i].c_value;
        return enum_fallback(e);
    }
    return idx_or_value >= 0 && (uint64_t)idx_or_value < e->count
               ? e->values[idx_or_value].c_value : enum_fallback(e);
}

static int64_t enum_from_name(const co_field *f, const char *s, uint32_t n) {
    for (size_t i = 0; s && i < f->en->count; i++)
        if (strlen(f->en->values[i].name) == n && memcmp(f->en->values[i].name, s, n) == 0)
            return f->en->values[i].c_value;
    return enum_fallback(f->en);
}

static void dec_enum(const co_field *f, const cd_reader *r, uint8_t *p) {
    int64_t v;
    switch (f->enum_storage) {
    case ISLE_ENUM_ORDINAL: v = enum_from_stored(f, cd_reader_byte(r, f->slot), 0); break;
    case ISLE_ENUM_ORDINAL32: {
        int32_t i = cd_reader_i32(r, f->slot);
        v = enum_from_stored(f, i == ISLE_NULL_SHORT ? -1 : i, 0);
        break;
    }
    case ISLE_ENUM_VALUE: v = enum_from_stored(f, cd_reader_i64(r, f->slot), 1); break;
    default: {
        const char *s = NULL;
        uint32_t n = 0;
        cd_reader_string(r, f->slot, &s, &n);
        v = enum_from_name(f, s, n);
        break;
    }
    }
    store_int(p, f->csize, v);
}

static int dec_enum_list(const co_field *f, const cd_list *l, uint8_t *a) {
    for (uint32_t i = 0; i < l->count; i++) {
        int64_t v;
        switch (f->enum_storage) {
        case ISLE_ENUM_ORDINAL: v = enum_from_stored(f, cd_list_byte(l, i), 0); break;
        case ISLE_ENUM_ORDINAL32: {
            int32_t x = cd_list_i32(l, i);
            v = enum_from_stored(f, x == ISLE_NULL_SHORT ? -1 : x, 0);
            break;
        }
        case ISLE_ENUM_VALUE: v = enum_from_stored(f, cd_list_i64(l, i), 1); break;
        default: {
            const char *s = NULL;
            uint32_t n = 0;
            v = cd_list_string(l, i, &s, &n) ? enum_from_name(f, s, n) : enum_fallback(f->en);
            break;
        }
        }
        store_int(a + (size_t)i * f->csize, f->csize, v);
    }
    return 0;
}

/* Fixed-width elements: the stored bytes are little-endian C values. */
static void dec_fixed_list(const co_field *f, const cd_list *l, uint8_t *a) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (f->kind != K_BOOL8 && f->kind != K_CBOOL) {
        memcpy(a, l->elems, (size_t)l->count * f->elem_size);
        return;
    }
#endif
    for (uint32_t i = 0; i < l->count; i++) {
        uint8_t *p = a + (size_t)i * f->elem_size;
        switch (f->kind) {
        case K_BOOL8: {
            uint8_t b = cd_list_bool(l, i);
            p[0] = (uint8_t)(b == CD_BOOL_TRUE ? 1 : b == CD_BOOL_FALSE ? 0 : -1);
            break;
        }
        case K_CBOOL: p[0] = cd_list_bool(l, i) == CD_BOOL_TRUE; break;
        case K_BYTE: p[0] = cd_list_byte(l, i); break;
        case K_SHORT: store_int(p, 4, cd_list_i32(l, i)); break;
        case K_INT: store_int(p, 8, cd_list_i64(l, i)); break;
        case K_FLOAT: { float v = cd_list_f32(l, i); memcpy(p, &v, 4); break; }
        default: { double v = cd_list_f64(l, i); memcpy(p, &v, 8); break; }
        }
    }
}

static int store_count(const dec *d, const co_field *f, uint8_t *obj, uint64_t n) {
    unsigned bits = 8u * f->count_size - (f->count_signed ? 1u : 0u);
    if (bits < 64 && n >> bits)
        return en_fail(ISLE_ETOOBIG, "collection '%s': field '%s': a list of %llu elements "
                       "does not fit its count member", d->coll, f->name, (unsigned long long)n);
    store_int(obj + f->count_offset, f->count_size, (int64_t)n);
    return 0;
}

static int dec_list(const dec *d, const co_field *f, const cd_reader *r, uint8_t *obj,
                    unsigned depth) {
    cd_list l;
    if (!cd_reader_list(r, f->slot, f->stype, &l)) {
        store_ptr(obj + f->offset, NULL);
        return store_count(d, f, obj, 0);
    }
    size_t align = f->kind == K_OBJECT ? f->obj->align
                 : f->kind == K_STRV   ? _Alignof(isle_str)
                                       : f->elem_size;
    if (f->elem_size && l.count > SIZE_MAX / f->elem_size)
        return no_memory(d);
    uint8_t *a = dec_alloc(d, (size_t)l.count * f->elem_size, align);
    if (!a)
        return no_memory(d);
    int rc = store_count(d, f, obj, l.count);
    if (f->kind == K_STRING || f->kind == K_STRV) {
        for (uint32_t i = 0; rc == 0 && i < l.count; i++) {
            const char *s;
            uint32_t n = 0;
            int present = cd_list_string(&l, i, &s, &n);
            char *c = present ? dec_string(d, s, n) : NULL;
            if (!c && present)
                rc = no_memory(d);
            store_string(f, a + (size_t)i * f->elem_size, c, n);
        }
    } else if (f->kind == K_OBJECT) {
        memset(a, 0, (size_t)l.count * f->elem_size);
        for (uint32_t i = 0; rc == 0 && i < l.count; i++) {
            cd_reader sub;
            if (cd_list_object(&l, i, &sub))
                rc = dec_type(d, f->obj, &sub, a + (size_t)i * f->elem_size, depth + 1);
            else
                co_decode_null(f->obj, a + (size_t)i * f->elem_size);
        }
    } else if (f->kind == K_ENUM) {
        rc = dec_enum_list(f, &l, a);
    } else {
        dec_fixed_list(f, &l, a);
    }
    store_ptr(obj + f->offset, a);
    return rc;
}

static int dec_object(const dec *d, const co_field *f, const cd_reader *r, uint8_t *p,
                      unsigned depth) {
    cd_reader sub;
    int present = cd_reader_object(r, f->slot, &sub);
    if (f->inline_obj) {
        if (present)
            return dec_type(d, f->obj, &sub, p, depth + 1);
        co_decode_null(f->obj, p);
        return 0;
    }
    if (!present) {
        store_ptr(p, NULL);
        return 0;
    }
    uint8_t *o = dec_alloc(d, f->obj->size, f->obj->align);
    if (!o)
        return no_memory(d);
    memset(o, 0, f->obj->size);
    store_ptr(p, o);
    return dec_type(d, f->obj, &sub, o, depth + 1);
}

static int dec_field(const dec *d, const co_field *f, const cd_reader *r, uint8_t *obj,
                     unsigned depth) {
    if (f->list)
        return dec_list(d, f, r, obj, depth);
    uint8_t *p = obj + f->offset;
    switch (f->kind) {
    case K_BOOL8: {
        uint8_t b = cd_reader_bool(r, f->slot);
        p[0] = (uint8_t)(b == CD_BOOL_TRUE ? 1 : b == CD_BOOL_FALSE ? 0 : -1);
        return 0;
    }
    case K_CBOOL: p[0] = cd_reader_bool(r, f->slot) == CD_BOOL_TRUE; return 0;
    case K_BYTE: p[0] = cd_reader_byte(r, f->slot); return 0;
    case K_SHORT: store_int(p, 4, cd_reader_i32(r, f->slot)); return 0;
    case K_INT: store_int(p, 8, cd_reader_i64(r, f->slot)); return 0;
    case K_FLOAT: { float v = cd_reader_f32(r, f->slot); memcpy(p, &v, 4); return 0; }
    case K_DOUBLE: { double v = cd_reader_f64(r, f->slot); memcpy(p, &v, 8); return 0; }
    case K_STRING:
    case K_STRV: {
        const char *s;
        uint32_t n = 0;
        char *c = NULL;
        if (cd_reader_string(r, f->slot, &s, &n) && !(c = dec_string(d, s, n)))
            return no_memory(d);
        store_string(f, p, c, n);
        return 0;
    }
    case K_ENUM: dec_enum(f, r, p); return 0;
    default: return dec_object(d, f, r, p, depth);
    }
}

/* The string whose offset is at slot: *c NULL for null, else the string
 * (copied, or borrowed) and *n its length; -1 when the arena is full. */
static inline int plan_string(const dec *d, const cd_reader *r, const uint8_t *slot, char **c,
                              uint32_t *n) {
    const char *s;
    *c = NULL;
    if (cd_string_item(r->rec, r->len, cd_get32(slot), &s, n) && !(*c = dec_string(d, s, *n)))
        return -1;
    return 0;
}

/* Reads a record written with t's current layout by t's plan. */
static int dec_planned(const dec *d, const co_type *t, const cd_reader *r, uint8_t *obj,
                       unsigned depth) {
    const uint8_t *st = cd_reader_slot(r, 0);
    /* bounds read once: the byte stores into obj could alias t */
    const co_op *op = t->ops, *end = op + t->n8;
    for (; op < end; op++)
        memcpy(obj + op->offset, st + op->slot, 8);
    for (end += t->n4; op < end; op++)
        memcpy(obj + op->offset, st + op->slot, 4);
    for (end += t->n1; op < end; op++)
        obj[op->offset] = st[op->slot];
    char *c;
    uint32_t n;
    for (end += t->nstr; op < end; op++) {
        if (plan_string(d, r, st + op->slot, &c, &n))
            return no_memory(d);
        store_ptr(obj + op->offset, c);
    }
    for (end += t->nstrv; op < end; op++) {
        if (plan_string(d, r, st + op->slot, &c, &n))
            return no_memory(d);
        store_strv(obj + op->offset, c, n);
    }
    for (const co_field **f = t->rest, **fend = f + t->nrest; f < fend; f++) {
        int rc = dec_field(d, *f, r, obj, depth);
        if (rc)
            return rc;
    }
    return 0;
}

static int dec_type(const dec *d, const co_type *t, const cd_reader *r, uint8_t *obj,
                    unsigned depth) {
    if (depth > ISLE_NEST_DEPTH_MAX)
        return en_fail(ISLE_ECORRUPT, "collection '%s': a stored object nests deeper than "
                       "ISLE_NEST_DEPTH_MAX", d->coll);
    if (r->static_size == t->stored->static_size)
        return dec_planned(d, t, r, obj, depth);
    /* bounds read once: the byte stores into obj could alias t */
    for (const co_field *f = t->fields, *end = f + t->nfields; f < end; f++) {
        int rc = dec_field(d, f, r, obj, depth);
        if (rc)
            return rc;
    }
    return 0;
}

int co_decode(const co_type *t, const uint8_t *rec, size_t len, void *obj, isle_arena *arena,
              const char *coll, int borrow) {
    cd_reader r;
    dec d = {arena, coll, borrow};
    if ((borrow ? t->has_alloc : t->has_dynamic) && !arena)
        return no_memory(&d);
    if (cd_reader_init(&r, rec, len) != 0)
        return en_fail(ISLE_ECORRUPT, "collection '%s': a stored object of %zu bytes is "
                       "not a record", coll, len);
    co_mark m = arena ? co_arena_mark(arena) : (co_mark){0};
    int rc = dec_type(&d, t, &r, obj, 1);
    if (rc && arena)
        co_arena_restore(arena, m);
    return rc;
}

void co_decode_null(const co_type *t, void *obj) {
    static const uint8_t empty[CD_RECORD_HDR_SIZE] = {0, 0};
    cd_reader r;
    dec d = {NULL, "", 0};
    cd_reader_init(&r, empty, sizeof empty);
    /* every slot reads as null, so nothing is allocated and nothing fails */
    int rc = dec_type(&d, t, &r, obj, 1);
    ISLE_VERIFY(rc == 0);
}
