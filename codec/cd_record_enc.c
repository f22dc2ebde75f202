/*
 * cd_record_enc.c: the writing half of the record format (cd_record.h):
 * schema layout, the cd_writer that builds a record in a caller buffer
 * (or only counts its size), and the generic encoder of cd_value trees,
 * which drives the writer.  Pure; uses cd_base for byte order, varints and
 * UTF-8 checks.
 *
 * The writer appends items in the order the format requires and checks the
 * caller keeps to it.  An embedded record's length prefix is written after
 * the record: one byte is reserved up front, and when the length needs a
 * longer varint the record (self-contained, so position-independent) is
 * moved up by the difference.
 */
#include "cd_record.h"

/* ---- schemas ----------------------------------------------------------- */

int cd_schema_layout(cd_schema *s) {
    if (!s || (s->nfields > 0 && !s->fields))
        return CD_EINVAL;
    if (s->nfields > CD_FIELDS_MAX)
        return CD_ETOOBIG;
    uint32_t off = 0;
    for (unsigned i = 0; i < s->nfields; i++) {
        cd_field *f = &s->fields[i];
        if (f->type < CD_TYPE_BOOL || f->type > CD_TYPE_MAX || f->is_list > 1)
            return CD_EINVAL;
        if ((f->type == CD_TYPE_OBJECT) != (f->object != NULL))
            return CD_EINVAL;
        f->offset = (uint16_t)off;
        off += cd_field_size(f);
    }
    ISLE_VERIFY(off <= CD_STATIC_SIZE_MAX); /* CD_FIELDS_MAX x 8 fits */
    s->static_size = (uint16_t)off;
    s->ready = 1;
    return CD_OK;
}

/* ---- writer internals ---------------------------------------------------- */

static int fail(cd_writer *w, int err) {
    if (!w->err)
        w->err = err;
    return w->err;
}

/*
 * Appends n bytes and returns where to write them, or NULL when only
 * counting (no buffer, it overflowed, or an error was recorded).
 */
static uint8_t *grow(cd_writer *w, size_t n) {
    if (w->err)
        return NULL;
    if (n > CD_RECORD_SIZE_MAX - w->len) {
        fail(w, CD_ETOOBIG);
        return NULL;
    }
    size_t at = w->len;
    w->len += n;
    if (w->counting)
        return NULL;
    if (w->len > w->cap) {
        w->counting = 1;
        w->overflow = 1;
        return NULL;
    }
    return w->buf + at;
}

/* Where to write the byte at pos, already produced; NULL when counting. */
static uint8_t *at(cd_writer *w, size_t pos) {
    return w->counting ? NULL : w->buf + pos;
}

static cd_wframe *top(cd_writer *w) {
    return &w->frame[w->depth - 1];
}

/* Writes the null of field f into its slot. */
static void put_null_slot(uint8_t *slot, const cd_field *f) {
    if (f->is_list) {
        cd_put32(slot, 0);
        return;
    }
    switch (f->type) {
    case CD_TYPE_SHORT:
        cd_put32(slot, (uint32_t)CD_SHORT_NULL);
        break;
    case CD_TYPE_INT:
    case CD_TYPE_DATETIME:
        cd_put64(slot, (uint64_t)CD_INT_NULL);
        break;
    case CD_TYPE_FLOAT:
        cd_put32(slot, CD_FLOAT_NULL_BITS);
        break;
    case CD_TYPE_DOUBLE:
        cd_put64(slot, CD_DOUBLE_NULL_BITS);
        break;
    case CD_TYPE_STRING:
    case CD_TYPE_OBJECT:
        cd_put32(slot, 0);
        break;
    default: /* bool null, byte 0 */
        slot[0] = 0;
        break;
    }
}

/* Opens a record of schema s at the current end: header and null slots. */
static int record_start(cd_writer *w, const cd_schema *s) {
    if (!s || !s->ready)
        return fail(w, CD_EINVAL);
    if (w->depth >= CD_NEST_DEPTH_MAX)
        return fail(w, CD_ETOOBIG);
    cd_wframe *f = &w->frame[w->depth++];
    f->start = w->len;
    f->static_size = s->static_size;
    f->dyn_min = 0;
    f->list = 0;
    f->table = f->count = f->next = 0;
    uint8_t *p = grow(w, CD_RECORD_HDR_SIZE + (size_t)s->static_size);
    if (p)
        cd_record_head(s, p);
    return w->err;
}

void cd_record_head(const cd_schema *s, uint8_t *out) {
    cd_put16(out, s->static_size);
    for (unsigned i = 0; i < s->nfields; i++)
        put_null_slot(out + CD_RECORD_HDR_SIZE + s->fields[i].offset, &s->fields[i]);
}

/*
 * The slot [off, off + size) of the innermost record, or NULL when only
 * counting; records CD_EINVAL if it lies outside the static section.
 */
static uint8_t *slot(cd_writer *w, uint16_t off, unsigned size) {
    if (w->err)
        return NULL;
    if (w->depth == 0 || (uint32_t)off + size > top(w)->static_size) {
        fail(w, CD_EINVAL);
        return NULL;
    }
    return at(w, top(w)->start + CD_RECORD_HDR_SIZE + off);
}

/*
 * Starts a dynamic field at off: checks the order, closes any open list
 * and points the slot at the item about to be appended.
 */
static int dyn_begin(cd_writer *w, uint16_t off) {
    uint8_t *p = slot(w, off, CD_OFFSET_SIZE);
    if (w->err)
        return w->err;
    cd_wframe *f = top(w);
    if (off < f->dyn_min)
        return fail(w, CD_EINVAL);
    f->dyn_min = (uint32_t)off + CD_OFFSET_SIZE;
    f->list = 0;
    if (p)
        cd_put32(p, (uint32_t)(w->len - f->start));
    return CD_OK;
}

/* Appends a string item: varint n | bytes | NUL. */
static int put_string_item(cd_writer *w, const char *s, size_t n) {
    if (n > CD_STRING_LEN_MAX)
        return fail(w, CD_ETOOBIG);
    if (n > 0 && !cd_utf8_valid((const uint8_t *)s, n))
        return fail(w, CD_EINVAL);
    uint8_t *p = grow(w, cd_varint_len(n) + n + 1);
    if (p) {
        size_t vl = cd_varint_put(p, n);
        if (n > 0)
            memcpy(p + vl, s, n);
        p[vl + n] = 0;
    }
    return w->err;
}

/* Starts a fixed-width list item; returns where its n elements go. */
static uint8_t *list_reserve(cd_writer *w, uint16_t off, uint8_t type,
                             uint32_t n) {
    if (w->err)
        return NULL;
    if (n > CD_LIST_LEN_MAX) {
        fail(w, CD_ETOOBIG);
        return NULL;
    }
    if (dyn_begin(w, off))
        return NULL;
    uint8_t *p = grow(w, cd_varint_len(n) + (size_t)n * cd_type_size(type));
    return p ? p + cd_varint_put(p, n) : NULL;
}

/* Starts a string or object list: its count and a table of null offsets. */
static int table_begin(cd_writer *w, uint16_t off, uint32_t n, uint8_t type) {
    if (w->err)
        return w->err;
    if (n > CD_LIST_LEN_MAX)
        return fail(w, CD_ETOOBIG);
    if (dyn_begin(w, off))
        return w->err;
    size_t vl = cd_varint_len(n);
    size_t table = w->len + vl;
    uint8_t *p = grow(w, vl + (size_t)n * CD_OFFSET_SIZE);
    if (p) {
        cd_varint_put(p, n);
        memset(p + vl, 0, (size_t)n * CD_OFFSET_SIZE);
    }
    cd_wframe *f = top(w);
    f->list = type;
    f->table = table;
    f->count = n;
    f->next = 0;
    return w->err;
}

/* Claims element i of the open list of that type and points it here. */
static int table_item(cd_writer *w, uint32_t i, uint8_t type) {
    if (w->err)
        return w->err;
    if (w->depth == 0)
        return fail(w, CD_EINVAL);
    cd_wframe *f = top(w);
    if (f->list != type || i >= f->count || i < f->next)
        return fail(w, CD_EINVAL);
    f->next = i + 1;
    uint8_t *p = at(w, f->table + (size_t)i * CD_OFFSET_SIZE);
    if (p)
        cd_put32(p, (uint32_t)(w->len - f->start));
    return CD_OK;
}

/* Opens a nested record here: a length byte (widened at the end) first. */
static int nested_start(cd_writer *w, const cd_schema *sub) {
    if (!sub || !sub->ready)
        return fail(w, CD_EINVAL);
    if (w->depth >= CD_NEST_DEPTH_MAX)
        return fail(w, CD_ETOOBIG);
    uint8_t *p = grow(w, 1);
    if (p)
        p[0] = 0;
    return w->err ? w->err : record_start(w, sub);
}

/* ---- writer ------------------------------------------------------------ */

void cd_writer_init(cd_writer *w, uint8_t *buf, size_t cap) {
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->err = CD_OK;
    w->counting = buf == NULL;
    w->overflow = 0;
    w->depth = 0;
}

int cd_writer_begin(cd_writer *w, const cd_schema *s) {
    if (w->err)
        return w->err;
    if (w->depth != 0 || w->len != 0)
        return fail(w, CD_EINVAL);
    return record_start(w, s);
}

int cd_writer_bool(cd_writer *w, uint16_t off, uint8_t v) {
    if (v > CD_BOOL_TRUE)
        return fail(w, CD_EINVAL);
    uint8_t *p = slot(w, off, 1);
    if (p)
        p[0] = v;
    return w->err;
}

int cd_writer_byte(cd_writer *w, uint16_t off, uint8_t v) {
    uint8_t *p = slot(w, off, 1);
    if (p)
        p[0] = v;
    return w->err;
}

int cd_writer_i32(cd_writer *w, uint16_t off, int32_t v) {
    uint8_t *p = slot(w, off, 4);
    if (p)
        cd_put32(p, (uint32_t)v);
    return w->err;
}

int cd_writer_i64(cd_writer *w, uint16_t off, int64_t v) {
    uint8_t *p = slot(w, off, 8);
    if (p)
        cd_put64(p, (uint64_t)v);
    return w->err;
}

/* Floats go out bit for bit, except that every NaN becomes the null NaN. */
static void put_f32(uint8_t *p, float v) { cd_put32(p, cd_f32_bits(v)); }
static void put_f64(uint8_t *p, double v) { cd_put64(p, cd_f64_bits(v)); }

int cd_writer_f32(cd_writer *w, uint16_t off, float v) {
    uint8_t *p = slot(w, off, 4);
    if (p)
        put_f32(p, v);
    return w->err;
}

int cd_writer_f64(cd_writer *w, uint16_t off, double v) {
    uint8_t *p = slot(w, off, 8);
    if (p)
        put_f64(p, v);
    return w->err;
}

int cd_writer_string(cd_writer *w, uint16_t off, const char *s, size_t n) {
    if (w->err)
        return w->err;
    if (!s) {
        slot(w, off, CD_OFFSET_SIZE); /* checks the offset; stays null */
        return n ? fail(w, CD_EINVAL) : w->err;
    }
    if (n > CD_STRING_LEN_MAX)
        return fail(w, CD_ETOOBIG);
    if (dyn_begin(w, off))
        return w->err;
    return put_string_item(w, s, n);
}

int cd_writer_list_bool(cd_writer *w, uint16_t off, const uint8_t *v, uint32_t n) {
    if (n > CD_LIST_LEN_MAX)
        return fail(w, CD_ETOOBIG);
    for (uint32_t i = 0; i < n; i++)
        if (v[i] > CD_BOOL_TRUE)
            return fail(w, CD_EINVAL);
    uint8_t *p = list_reserve(w, off, CD_TYPE_BOOL, n);
    if (p && n > 0)
        memcpy(p, v, n);
    return w->err;
}

int cd_writer_list_byte(cd_writer *w, uint16_t off, const uint8_t *v, uint32_t n) {
    uint8_t *p = list_reserve(w, off, CD_TYPE_BYTE, n);
    if (p && n > 0)
        memcpy(p, v, n);
    return w->err;
}

int cd_writer_list_i32(cd_writer *w, uint16_t off, const int32_t *v, uint32_t n) {
    uint8_t *p = list_reserve(w, off, CD_TYPE_SHORT, n);
    for (uint32_t i = 0; p && i < n; i++)
        cd_put32(p + 4 * (size_t)i, (uint32_t)v[i]);
    return w->err;
}

int cd_writer_list_i64(cd_writer *w, uint16_t off, const int64_t *v, uint32_t n) {
    uint8_t *p = list_reserve(w, off, CD_TYPE_INT, n);
    for (uint32_t i = 0; p && i < n; i++)
        cd_put64(p + 8 * (size_t)i, (uint64_t)v[i]);
    return w->err;
}

int cd_writer_list_f32(cd_writer *w, uint16_t off, const float *v, uint32_t n) {
    uint8_t *p = list_reserve(w, off, CD_TYPE_FLOAT, n);
    for (uint32_t i = 0; p && i < n; i++)
        put_f32(p + 4 * (size_t)i, v[i]);
    return w->err;
}

int cd_writer_list_f64(cd_writer *w, uint16_t off, const double *v, uint32_t n) {
    uint8_t *p = list_reserve(w, off, CD_TYPE_DOUBLE, n);
    for (uint32_t i = 0; p && i < n; i++)
        put_f64(p + 8 * (size_t)i, v[i]);
    return w->err;
}

int cd_writer_strings_begin(cd_writer *w, uint16_t off, uint32_t n) {
    return table_begin(w, off, n, CD_TYPE_STRING);
}

int cd_writer_strings_item(cd_writer *w, uint32_t i, const char *s, size_t n) {
    if (w->err)
        return w->err;
    if (!s) {
        if (n || w->depth == 0 || top(w)->list != CD_TYPE_STRING ||
            i >= top(w)->count || i < top(w)->next)
            return fail(w, CD_EINVAL);
        return CD_OK; /* stays null */
    }
    if (n > CD_STRING_LEN_MAX)
        return fail(w, CD_ETOOBIG);
    if (table_item(w, i, CD_TYPE_STRING))
        return w->err;
    return put_string_item(w, s, n);
}

int cd_writer_object_begin(cd_writer *w, uint16_t off, const cd_schema *sub) {
    if (w->err)
        return w->err;
    if (!sub || !sub->ready)
        return fail(w, CD_EINVAL);
    if (w->depth >= CD_NEST_DEPTH_MAX)
        return fail(w, CD_ETOOBIG);
    if (dyn_begin(w, off))
        return w->err;
    return nested_start(w, sub);
}

int cd_writer_objects_begin(cd_writer *w, uint16_t off, uint32_t n) {
    return table_begin(w, off, n, CD_TYPE_OBJECT);
}

int cd_writer_objects_item(cd_writer *w, uint32_t i, const cd_schema *sub) {
    if (w->err)
        return w->err;
    if (!sub || !sub->ready)
        return fail(w, CD_EINVAL);
    if (w->depth >= CD_NEST_DEPTH_MAX)
        return fail(w, CD_ETOOBIG);
    if (table_item(w, i, CD_TYPE_OBJECT))
        return w->err;
    return nested_start(w, sub);
}

int cd_writer_object_end(cd_writer *w) {
    if (w->err)
        return w->err;
    if (w->depth < 2)
        return fail(w, CD_EINVAL);
    size_t start = top(w)->start;
    size_t n = w->len - start;
    size_t extra = cd_varint_len(n) - 1;
    w->depth--;
    if (extra > 0) {
        uint8_t *p = grow(w, extra);
        if (w->err)
            return w->err;
        if (p) /* still writing: move the record up past the longer varint */
            memmove(w->buf + start + extra, w->buf + start, n);
    }
    uint8_t *lp = at(w, start - 1);
    if (lp)
        cd_varint_put(lp, n);
    return CD_OK;
}

int cd_writer_finish(cd_writer *w, size_t *len) {
    if (!w->err && w->depth != 1)
        fail(w, CD_EINVAL);
    if (w->err) {
        *len = 0;
        return w->err;
    }
    w->depth = 0;
    *len = w->len;
    return w->overflow ? CD_ENOMEM : CD_OK;
}

/* ---- encoding value trees ------------------------------------------------ */

static int enc_record(cd_writer *w, const cd_schema *s, const cd_value *v,
                      size_t n);

/* Writes fixed-width value v of type t (not a list) as a slot at p. */
static int put_scalar(uint8_t *p, uint8_t t, const cd_value *v) {
    if (v->type != t || v->is_list)
        return CD_EINVAL;
    if (t == CD_TYPE_BYTE && v->is_null)
        return CD_EINVAL;
    if (t == CD_TYPE_BOOL && !v->is_null && v->u.b > 1)
        return CD_EINVAL;
    if (!p)
        return CD_OK;
    switch (t) {
    case CD_TYPE_BOOL:
        p[0] = (uint8_t)(v->is_null ? CD_BOOL_NULL
                                    : v->u.b ? CD_BOOL_TRUE : CD_BOOL_FALSE);
        break;
    case CD_TYPE_BYTE:
        p[0] = v->u.u8;
        break;
    case CD_TYPE_SHORT:
        cd_put32(p, (uint32_t)(v->is_null ? CD_SHORT_NULL : v->u.i32));
        break;
    case CD_TYPE_INT:
    case CD_TYPE_DATETIME:
        cd_put64(p, (uint64_t)(v->is_null ? CD_INT_NULL : v->u.i64));
        break;
    case CD_TYPE_FLOAT:
        put_f32(p, v->is_null ? NAN : v->u.f32);
        break;
    default: /* CD_TYPE_DOUBLE */
        put_f64(p, v->is_null ? (double)NAN : v->u.f64);
        break;
    }
    return CD_OK;
}

/* A string or object element of an open list. */
static int enc_table_elem(cd_writer *w, const cd_field *f, const cd_value *e,
                          uint32_t i) {
    if (e->type != f->type || e->is_list)
        return fail(w, CD_EINVAL);
    if (e->is_null)
        return CD_OK;
    if (f->type == CD_TYPE_STRING) {
        if (!e->u.str.ptr && e->u.str.len)
            return fail(w, CD_EINVAL);
        return cd_writer_strings_item(w, i, e->u.str.ptr ? e->u.str.ptr : "",
                                      e->u.str.len);
    }
    if (cd_writer_objects_item(w, i, f->object))
        return w->err;
    if (enc_record(w, f->object, e->u.obj.fields, e->u.obj.count))
        return w->err;
    return cd_writer_object_end(w);
}

static int enc_list(cd_writer *w, const cd_field *f, const cd_value *v) {
    uint32_t n = v->u.list.count;
    const cd_value *items = v->u.list.items;
    if (n > 0 && !items)
        return fail(w, CD_EINVAL);
    if (f->type == CD_TYPE_STRING || f->type == CD_TYPE_OBJECT) {
        if (table_begin(w, f->offset, n, f->type))
            return w->err;
        for (uint32_t i = 0; i < n; i++)
            if (enc_table_elem(w, f, &items[i], i))
                return w->err;
        return CD_OK;
    }
    for (uint32_t i = 0; i < n; i++) /* check even when only counting */
        if (put_scalar(NULL, f->type, &items[i]))
            return fail(w, CD_EINVAL);
    uint8_t *p = list_reserve(w, f->offset, f->type, n);
    size_t size = cd_type_size(f->type);
    for (uint32_t i = 0; p && i < n; i++)
        put_scalar(p + i * size, f->type, &items[i]);
    return w->err;
}

static int enc_field(cd_writer *w, const cd_field *f, const cd_value *v) {
    if (v->type != f->type || v->is_list != f->is_list)
        return fail(w, CD_EINVAL);
    if (f->is_list)
        return v->is_null ? CD_OK : enc_list(w, f, v);
    if (f->type == CD_TYPE_STRING) {
        if (v->is_null)
            return CD_OK;
        if (!v->u.str.ptr && v->u.str.len)
            return fail(w, CD_EINVAL);
        return cd_writer_string(w, f->offset, v->u.str.ptr ? v->u.str.ptr : "",
                                v->u.str.len);
    }
    if (f->type == CD_TYPE_OBJECT) {
        if (v->is_null)
            return CD_OK;
        if (cd_writer_object_begin(w, f->offset, f->object))
            return w->err;
        if (enc_record(w, f->object, v->u.obj.fields, v->u.obj.count))
            return w->err;
        return cd_writer_object_end(w);
    }
    if (put_scalar(NULL, f->type, v))
        return fail(w, CD_EINVAL);
    uint8_t *p = slot(w, f->offset, cd_field_size(f));
    if (p)
        put_scalar(p, f->type, v);
    return w->err;
}

/* The fields of the innermost open record, of schema s, from v[0, n). */
static int enc_record(cd_writer *w, const cd_schema *s, const cd_value *v,
                      size_t n) {
    if (n != s->nfields || (n > 0 && !v))
        return fail(w, CD_EINVAL);
    for (size_t i = 0; i < n; i++)
        if (enc_field(w, &s->fields[i], &v[i]))
            return w->err;
    return CD_OK;
}

static int encode(cd_writer *w, const cd_schema *s, const cd_value *values,
                  size_t *len) {
    if (!s || !s->ready) {
        *len = 0;
        return CD_EINVAL;
    }
    if (!cd_writer_begin(w, s))
        enc_record(w, s, values, s->nfields);
    return cd_writer_finish(w, len);
}

int cd_record_encoded_size(const cd_schema *s, const cd_value *values,
                           size_t *size) {
    cd_writer w;
    cd_writer_init(&w, NULL, 0);
    return encode(&w, s, values, size);
}

int cd_record_encode(const cd_schema *s, const cd_value *values, uint8_t *buf,
                     size_t cap, size_t *len) {
    cd_writer w;
    cd_writer_init(&w, buf, cap);
    return encode(&w, s, values, len);
}
