/*
 * cd_record_dec.c: the reading half of the record format (cd_record.h):
 * validation and decoding of untrusted records, the zero-copy cd_reader,
 * the arena that decoded value trees live in, and value equality.  Pure;
 * uses cd_base for byte order, varints and UTF-8 checks.
 *
 * Validation and decoding are one walk: fields in order, list elements in
 * index order, embedded records depth-first, with a cursor that every
 * offset must equal (the format's canonical order).  Every read is bounded
 * by the record being walked; a decode only adds the output.
 */
#include "cd_record.h"

void *cd_arena_alloc(cd_arena *a, size_t size, size_t align) {
    if (!a->base || a->used > a->cap)
        return NULL;
    size_t pad = (size_t)(-((uintptr_t)a->base + a->used) & (align - 1));
    if (pad > a->cap - a->used || size > a->cap - a->used - pad)
        return NULL;
    void *p = a->base + a->used + pad;
    a->used += pad + size;
    return p;
}

/* ---- the walk ------------------------------------------------------------ */

typedef struct walk {
    const uint8_t *top; /* the top-level record: diag offsets count from it */
    cd_arena *arena;    /* where a decode puts its output */
    cd_diag *diag;
} walk;

/* One record being walked. */
typedef struct wrec {
    const uint8_t *p;
    size_t len;
    size_t dyn;     /* 2 + S: the first byte of the dynamic section */
    size_t cur;     /* where the next item must start */
    unsigned depth; /* 1 for the top-level record */
} wrec;

static int bad(const walk *k, int line, const char *what, const uint8_t *where) {
    return cd_corrupt_at(k->diag, line, what,
                         (size_t)((uintptr_t)where - (uintptr_t)k->top));
}
#define BAD(k, what, where) bad((k), __LINE__, (what), (where))

static cd_value *alloc_values(const walk *k, uint64_t n) {
    return cd_arena_alloc(k->arena, (size_t)n * sizeof(cd_value),
                          _Alignof(cd_value));
}

static int nan32(uint32_t bits) {
    return (bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0;
}

static int nan64(uint64_t bits) {
    return (bits & 0x7ff0000000000000u) == 0x7ff0000000000000u &&
           (bits & 0x000fffffffffffffu) != 0;
}

/* Checks and decodes one fixed-width slot or list element of type t. */
static int read_scalar(const walk *k, uint8_t t, const uint8_t *p,
                       cd_value *out) {
    cd_value v = {.type = t};
    switch (t) {
    case CD_TYPE_BOOL:
        if (p[0] > CD_BOOL_TRUE)
            return BAD(k, "bool byte is not 0, 1 or 2", p);
        v.is_null = p[0] == CD_BOOL_NULL;
        v.u.b = p[0] == CD_BOOL_TRUE;
        break;
    case CD_TYPE_BYTE:
        v.u.u8 = p[0];
        break;
    case CD_TYPE_SHORT:
        v.u.i32 = (int32_t)cd_get32(p);
        v.is_null = v.u.i32 == CD_SHORT_NULL;
        break;
    case CD_TYPE_INT:
    case CD_TYPE_DATETIME:
        v.u.i64 = (int64_t)cd_get64(p);
        v.is_null = v.u.i64 == CD_INT_NULL;
        break;
    case CD_TYPE_FLOAT: {
        uint32_t bits = cd_get32(p);
        if (nan32(bits) && bits != CD_FLOAT_NULL_BITS)
            return BAD(k, "float NaN is not the canonical null NaN", p);
        memcpy(&v.u.f32, &bits, sizeof bits);
        v.is_null = nan32(bits);
        break;
    }
    default: { /* CD_TYPE_DOUBLE */
        uint64_t bits = cd_get64(p);
        if (nan64(bits) && bits != CD_DOUBLE_NULL_BITS)
            return BAD(k, "double NaN is not the canonical null NaN", p);
        memcpy(&v.u.f64, &bits, sizeof bits);
        v.is_null = nan64(bits);
        break;
    }
    }
    if (out)
        *out = v;
    return CD_OK;
}

/* The value of a field the record has no slot for: null, or byte 0. */
static cd_value absent(const cd_field *f) {
    cd_value v = {.type = f->type, .is_list = f->is_list};
    v.is_null = f->is_list || f->type != CD_TYPE_BYTE;
    return v;
}

/* A non-zero offset read at slot must be where the next item starts. */
static int check_offset(const walk *k, const wrec *r, uint32_t off,
                        const uint8_t *slot) {
    if (off < r->dyn)
        return BAD(k, "offset points into the static section", slot);
    if (off >= r->len)
        return BAD(k, "offset points past the end of the record", slot);
    if (off != r->cur)
        return BAD(k, "offset is not where the previous item ended", slot);
    return CD_OK;
}

/* Reads the varint that opens the item at the cursor; 0 if it is bad. */
static size_t item_varint(const wrec *r, uint64_t *n) {
    return cd_varint_get(r->p + r->cur, r->p + r->len, n);
}

static int walk_record(const walk *k, const cd_schema *s, const uint8_t *p,
                       size_t len, unsigned depth, cd_value *out);

static int walk_string(const walk *k, wrec *r, cd_value *out) {
    const uint8_t *at = r->p + r->cur, *end = r->p + r->len;
    uint64_t n;
    size_t vl = item_varint(r, &n);
    if (!vl)
        return BAD(k, "string length: varint truncated or not shortest", at);
    if (n > CD_STRING_LEN_MAX)
        return BAD(k, "string longer than CD_STRING_LEN_MAX", at);
    const uint8_t *s = at + vl;
    if (n >= (uint64_t)(end - s))
        return BAD(k, "string runs past the end of its record", at);
    if (s[n] != 0)
        return BAD(k, "string lacks its NUL terminator", s + n);
    if (!cd_utf8_valid(s, (size_t)n))
        return BAD(k, "string is not valid UTF-8 or holds a NUL", s);
    r->cur += vl + (size_t)n + 1;
    if (out)
        *out = cd_val_string((const char *)s, (uint32_t)n);
    return CD_OK;
}

static int walk_object(const walk *k, wrec *r, const cd_schema *sub,
                       cd_value *out) {
    const uint8_t *at = r->p + r->cur, *end = r->p + r->len;
    uint64_t n;
    size_t vl = item_varint(r, &n);
    if (!vl)
        return BAD(k, "object length: varint truncated or not shortest", at);
    if (n > (uint64_t)(end - (at + vl)))
        return BAD(k, "embedded object runs past the end of its record", at);
    if (!sub || !sub->ready)
        return CD_EINVAL;
    cd_value *fields = NULL;
    if (out && sub->nfields > 0 && !(fields = alloc_values(k, sub->nfields)))
        return CD_ENOMEM;
    int rc = walk_record(k, sub, at + vl, (size_t)n, r->depth + 1, fields);
    if (rc)
        return rc;
    r->cur += vl + (size_t)n;
    if (out)
        *out = cd_val_object(fields, sub->nfields);
    return CD_OK;
}

/* The count of a list at the cursor, after checking it and its elements'
 * bytes fit; *elems is where the elements (or offsets) start. */
static int list_head(const walk *k, wrec *r, unsigned size, uint64_t *n,
                     const uint8_t **elems) {
    const uint8_t *at = r->p + r->cur, *end = r->p + r->len;
    size_t vl = item_varint(r, n);
    if (!vl)
        return BAD(k, "list count: varint truncated or not shortest", at);
    if (*n > CD_LIST_LEN_MAX)
        return BAD(k, "list longer than CD_LIST_LEN_MAX", at);
    *elems = at + vl;
    if (*n * size > (uint64_t)(end - *elems))
        return BAD(k, "list runs past the end of its record", at);
    r->cur += vl + (size_t)(*n * size);
    return CD_OK;
}

static int walk_fixed_list(const walk *k, wrec *r, uint8_t t, cd_value *out) {
    uint64_t n;
    const uint8_t *e;
    unsigned size = cd_type_size(t);
    int rc = list_head(k, r, size, &n, &e);
    if (rc)
        return rc;
    cd_value *items = NULL;
    if (out && n > 0 && !(items = alloc_values(k, n)))
        return CD_ENOMEM;
    /* Only bools and floats can be invalid: other lists need no look. */
    if (out || t == CD_TYPE_BOOL || t == CD_TYPE_FLOAT || t == CD_TYPE_DOUBLE)
        for (size_t i = 0; i < n; i++)
            if ((rc = read_scalar(k, t, e + i * size, items ? &items[i] : NULL)))
                return rc;
    if (out)
        *out = cd_val_list(t, items, (uint32_t)n);
    return CD_OK;
}

/* A list of strings or objects: offsets, then the elements' items. */
static int walk_table_list(const walk *k, wrec *r, const cd_field *f,
                           cd_value *out) {
    uint64_t n;
    const uint8_t *table;
    int rc = list_head(k, r, CD_OFFSET_SIZE, &n, &table);
    if (rc)
        return rc;
    cd_value *items = NULL;
    if (out && n > 0 && !(items = alloc_values(k, n)))
        return CD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *slot = table + i * CD_OFFSET_SIZE;
        uint32_t off = cd_get32(slot);
        cd_value *e = items ? &items[i] : NULL;
        if (off == 0) {
            if (e)
                *e = cd_val_null(f->type, 0);
            continue;
        }
        if ((rc = check_offset(k, r, off, slot)))
            return rc;
        rc = f->type == CD_TYPE_STRING ? walk_string(k, r, e)
                                       : walk_object(k, r, f->object, e);
        if (rc)
            return rc;
    }
    if (out)
        *out = cd_val_list(f->type, items, (uint32_t)n);
    return CD_OK;
}

/* Checks and decodes the field f whose slot lies within the record. */
static int walk_field(const walk *k, wrec *r, const cd_field *f, cd_value *out) {
    const uint8_t *slot = r->p + CD_RECORD_HDR_SIZE + f->offset;
    int dynamic = f->is_list || f->type == CD_TYPE_STRING ||
                  f->type == CD_TYPE_OBJECT;
    if (!dynamic)
        return read_scalar(k, f->type, slot, out);
    uint32_t off = cd_get32(slot);
    if (off == 0) {
        if (out)
            *out = cd_val_null(f->type, f->is_list);
        return CD_OK;
    }
    int rc = check_offset(k, r, off, slot);
    if (rc)
        return rc;
    if (!f->is_list)
        return f->type == CD_TYPE_STRING ? walk_string(k, r, out)
                                         : walk_object(k, r, f->object, out);
    if (f->type == CD_TYPE_STRING || f->type == CD_TYPE_OBJECT)
        return walk_table_list(k, r, f, out);
    return walk_fixed_list(k, r, f->type, out);
}

/*
 * Walks the record p[0, len) of schema s at nesting depth.  With out (one
 * value per field) it decodes; without, it only validates and stops at the
 * first field the record has no slot for.
 */
static int walk_record(const walk *k, const cd_schema *s, const uint8_t *p,
                       size_t len, unsigned depth, cd_value *out) {
    if (!s->ready)
        return CD_EINVAL;
    if (depth > CD_NEST_DEPTH_MAX)
        return BAD(k, "objects nested deeper than CD_NEST_DEPTH_MAX", p);
    if (len > CD_RECORD_SIZE_MAX)
        return BAD(k, "record larger than CD_RECORD_SIZE_MAX", p);
    if (len < CD_RECORD_HDR_SIZE)
        return BAD(k, "record shorter than its header", p);
    size_t ssize = cd_get16(p + CD_RECORD_OFF_STATIC_SIZE);
    if (ssize > s->static_size)
        return BAD(k, "static section larger than the schema's", p);
    if (CD_RECORD_HDR_SIZE + ssize > len)
        return BAD(k, "static section runs past the end of the record", p);
    wrec r = {p, len, CD_RECORD_HDR_SIZE + ssize, CD_RECORD_HDR_SIZE + ssize,
              depth};
    for (unsigned i = 0; i < s->nfields; i++) {
        const cd_field *f = &s->fields[i];
        if ((size_t)f->offset + cd_field_size(f) > ssize) {
            if (f->offset < ssize)
                return BAD(k, "static section ends inside a field", p);
            if (!out)
                break; /* so does every later field */
            out[i] = absent(f);
            continue;
        }
        int rc = walk_field(k, &r, f, out ? &out[i] : NULL);
        if (rc)
            return rc;
    }
    if (r.cur != len)
        return BAD(k, "bytes after the last item of the record", p + r.cur);
    return CD_OK;
}

int cd_record_validate(const cd_schema *s, const uint8_t *rec, size_t len,
                       cd_diag *diag) {
    if (!s || (!rec && len))
        return CD_EINVAL;
    walk k = {rec, NULL, diag};
    return walk_record(&k, s, rec, len, 1, NULL);
}

int cd_record_decode(const cd_schema *s, const uint8_t *rec, size_t len,
                     cd_arena *arena, cd_value **values, cd_diag *diag) {
    if (!s || (!rec && len) || !arena || !values)
        return CD_EINVAL;
    walk k = {rec, arena, diag};
    size_t mark = arena->used;
    cd_value *v = NULL;
    int rc = CD_OK;
    if (s->ready && s->nfields > 0 && !(v = alloc_values(&k, s->nfields)))
        rc = CD_ENOMEM;
    if (!rc)
        rc = walk_record(&k, s, rec, len, 1, v);
    if (rc) {
        arena->used = mark;
        return rc;
    }
    *values = v;
    return CD_OK;
}

/* ---- reader ------------------------------------------------------------ */

int cd_reader_init(cd_reader *r, const uint8_t *rec, size_t len) {
    r->rec = rec;
    r->len = 0;
    r->static_size = 0;
    if (!rec || len < CD_RECORD_HDR_SIZE || len > CD_RECORD_SIZE_MAX)
        return CD_ECORRUPT;
    uint16_t ssize = cd_get16(rec + CD_RECORD_OFF_STATIC_SIZE);
    if (CD_RECORD_HDR_SIZE + (size_t)ssize > len)
        return CD_ECORRUPT;
    r->len = (uint32_t)len;
    r->static_size = ssize;
    return CD_OK;
}

/* The item at off in rec[0, len): past its varint *n, or NULL. */
static const uint8_t *item_at(const uint8_t *rec, uint32_t len, uint32_t off,
                              uint64_t *n) {
    if (off == 0 || off >= len)
        return NULL;
    size_t vl = cd_varint_get(rec + off, rec + len, n);
    return vl ? rec + off + vl : NULL;
}

static int object_at(const uint8_t *rec, uint32_t len, uint32_t off,
                     cd_reader *sub) {
    uint64_t n;
    const uint8_t *p = item_at(rec, len, off, &n);
    cd_reader_init(sub, NULL, 0);
    if (!p || n > (uint64_t)(rec + len - p))
        return 0;
    return cd_reader_init(sub, p, (size_t)n) == CD_OK;
}

int cd_reader_object(const cd_reader *r, uint16_t off, cd_reader *sub) {
    return object_at(r->rec, r->len, cd_reader_offset(r, off), sub);
}

int cd_reader_list(const cd_reader *r, uint16_t off, uint8_t type, cd_list *out) {
    uint64_t n;
    const uint8_t *p = item_at(r->rec, r->len, cd_reader_offset(r, off), &n);
    *out = (cd_list){.rec = r->rec, .elems = r->rec, .rec_len = r->len, .type = type};
    if (!p || type < CD_TYPE_BOOL || type > CD_TYPE_MAX || n > CD_LIST_LEN_MAX ||
        n * cd_type_size(type) > (uint64_t)(r->rec + r->len - p))
        return 0;
    out->elems = p;
    out->count = (uint32_t)n;
    return 1;
}

int cd_list_object(const cd_list *l, uint32_t i, cd_reader *sub) {
    ISLE_ASSERT(l->type == CD_TYPE_OBJECT);
    return object_at(l->rec, l->rec_len, cd_get32(cd_list_elem(l, i)), sub);
}

/* ---- equality ------------------------------------------------------------ */

/* Null as stored: the flag, or a fixed-width value equal to its null. */
static int stored_null(const cd_value *v) {
    if (v->is_null || v->is_list)
        return v->is_null;
    switch (v->type) {
    case CD_TYPE_SHORT:
        return v->u.i32 == CD_SHORT_NULL;
    case CD_TYPE_INT:
    case CD_TYPE_DATETIME:
        return v->u.i64 == CD_INT_NULL;
    case CD_TYPE_FLOAT:
        return isnan(v->u.f32) != 0;
    case CD_TYPE_DOUBLE:
        return isnan(v->u.f64) != 0;
    default:
        return 0;
    }
}

int cd_values_equal(const cd_value *a, const cd_value *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!cd_value_equal(&a[i], &b[i]))
            return 0;
    return 1;
}

int cd_value_equal(const cd_value *a, const cd_value *b) {
    if (a->type != b->type || a->is_list != b->is_list)
        return 0;
    int an = stored_null(a), bn = stored_null(b);
    if (an || bn)
        return an == bn;
    if (a->is_list)
        return a->u.list.count == b->u.list.count &&
               cd_values_equal(a->u.list.items, b->u.list.items, a->u.list.count);
    switch (a->type) {
    case CD_TYPE_BOOL:
        return a->u.b == b->u.b;
    case CD_TYPE_BYTE:
        return a->u.u8 == b->u.u8;
    case CD_TYPE_SHORT:
        return a->u.i32 == b->u.i32;
    case CD_TYPE_INT:
    case CD_TYPE_DATETIME:
        return a->u.i64 == b->u.i64;
    case CD_TYPE_FLOAT:
        return memcmp(&a->u.f32, &b->u.f32, sizeof a->u.f32) == 0;
    case CD_TYPE_DOUBLE:
        return memcmp(&a->u.f64, &b->u.f64, sizeof a->u.f64) == 0;
    case CD_TYPE_STRING:
        return a->u.str.len == b->u.str.len &&
               (a->u.str.len == 0 ||
                memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0);
    case CD_TYPE_OBJECT:
        return a->u.obj.count == b->u.obj.count &&
               cd_values_equal(a->u.obj.fields, b->u.obj.fields, a->u.obj.count);
    default:
        return 0;
    }
}
