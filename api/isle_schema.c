/*
 * isle_schema.c: collection schemas.  Checks a declaration (an isle_schema
 * and every type it embeds), keeps the stored schema (every field ever
 * declared, in record layout order), merges a declaration into it (new
 * types and fields are appended; a field whose type changed is
 * ISLE_ESCHEMA) and binds the declared C fields to their stored slots.
 * Uses codec/ (cd_record.h) and en_fail for messages.
 *
 * STORED SCHEMA, version 1: the value of CO_META_SCHEMA|name in tree
 * "_isle.meta" (coll_int.h).  Little-endian; a name is 1..ISLE_NAME_MAX
 * bytes of UTF-8 without NUL.
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      1    version (CO_SCHEMA_VERSION = 1)
 *   1      1    flags: 0 (reserved)
 *   2      2    T: object types, 1..ISLE_TYPES_MAX; type 0 is the collection
 *   4      ...  T types, one after the other
 *
 * A type:
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      1    L: name length
 *   1      L    name (type 0: the collection's name)
 *   1+L    2    F: fields, 0..ISLE_FIELDS_MAX, in record layout order:
 *               field i's slot follows field i-1's (cd_schema_layout)
 *   3+L    ...  F fields, one after the other
 *
 * A field:
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      1    N: name length
 *   1      N    name
 *   1+N    1    type code (cd_record.h: element type, | 0x10 for a list)
 *   2+N    1    enum storage: 0, or ISLE_ENUM_ORDINAL, _ORDINAL32, _NAME,
 *               _VALUE, whose element type is then byte, short, string,
 *               int (informative: reads do not depend on it)
 *   3+N    2    the embedded type's index (< T) if the element type is
 *               object, else 0xffff
 *
 * Valid iff every length fits in the value and nothing follows the last
 * type; names are valid and unique (type names among the types, field
 * names within their type); type codes are valid; enum storage agrees
 * with the element type; embedded indexes are in range exactly for object
 * fields.  Fields are never removed or reordered, only appended, so a
 * record written under an older schema is read under a newer one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "coll_int.h"

/* ---- names and messages ------------------------------------------------- */

static int name_ok(const char *s) {
    if (!s)
        return 0;
    size_t n = strlen(s);
    return n >= 1 && n <= ISLE_NAME_MAX && cd_utf8_valid((const uint8_t *)s, n);
}

static const char *type_word(uint8_t t) {
    static const char *const words[] = {"?", "bool", "byte", "short", "int", "float",
                                        "double", "datetime", "string", "object"};
    return t <= CD_TYPE_MAX ? words[t] : "?";
}

/* "int", "list of string", "object 'Note'" into buf. */
static const char *code_words(char *buf, size_t cap, uint8_t code, const char *obj) {
    uint8_t t = (uint8_t)(code & ~CD_TYPE_LIST);
    const char *list = (code & CD_TYPE_LIST) ? "list of " : "";
    if (t == CD_TYPE_OBJECT)
        snprintf(buf, cap, "%sobject '%s'", list, obj ? obj : "?");
    else
        snprintf(buf, cap, "%s%s", list, type_word(t));
    return buf;
}

/* ---- checking a declaration ---------------------------------------------- */

/* The declared types reachable from a collection, in breadth-first order. */
typedef struct walk {
    const isle_schema *types[ISLE_TYPES_MAX];
    uint32_t n;
} walk;

static int walk_add(walk *w, const char *coll, const isle_schema *s) {
    for (uint32_t i = 0; i < w->n; i++)
        if (w->types[i] == s)
            return 0;
    if (w->n == ISLE_TYPES_MAX)
        return en_fail(ISLE_ETOOBIG, "collection '%s': more than %u embedded types", coll,
                       ISLE_TYPES_MAX);
    w->types[w->n++] = s;
    return 0;
}

/* Fills w with every type reachable from root (no checks beyond NULLs). */
static int walk_types(walk *w, const isle_schema *root) {
    w->n = 0;
    int rc = walk_add(w, root->name, root);
    for (uint32_t i = 0; rc == 0 && i < w->n; i++) {
        const isle_schema *s = w->types[i];
        for (size_t k = 0; rc == 0 && s->fields && k < s->nfields; k++) {
            const isle_field *f = &s->fields[k];
            if (!f->ignore && f->type == ISLE_TYPE_OBJECT && f->object)
                rc = walk_add(w, root->name, f->object);
        }
    }
    return rc;
}

static int is_int_ctype(uint8_t c) {
    return (c >= ISLE_CTYPE_I8 && c <= ISLE_CTYPE_U64) || c == ISLE_CTYPE_CHAR;
}

/* Whether a C value of (ctype, size) can hold an element of type t. */
static int ctype_fits(uint8_t t, const isle_field *f, uint8_t ctype, size_t size) {
    int any = ctype == ISLE_CTYPE_UNKNOWN;
    switch (t) {
    case ISLE_TYPE_BOOL:
        return size == 1 && (any || ctype == ISLE_CTYPE_I8 || ctype == ISLE_CTYPE_BOOL);
    case ISLE_TYPE_BYTE:
        return size == 1 && (any || ctype == ISLE_CTYPE_U8);
    case ISLE_TYPE_SHORT:
        return size == 4 && (any || ctype == ISLE_CTYPE_I32);
    case ISLE_TYPE_INT:
    case ISLE_TYPE_DATETIME:
        return size == 8 && (any || ctype == ISLE_CTYPE_I64);
    case ISLE_TYPE_FLOAT:
        return size == 4 && (any || ctype == ISLE_CTYPE_FLOAT);
    case ISLE_TYPE_DOUBLE:
        return size == 8 && (any || ctype == ISLE_CTYPE_DOUBLE);
    case ISLE_TYPE_STRING:
        return (size == sizeof(char *) && (any || ctype == ISLE_CTYPE_STRING)) ||
               (size == sizeof(isle_str) && (any || ctype == ISLE_CTYPE_STR));
    case ISLE_TYPE_ENUM:
        return (size == 1 || size == 2 || size == 4 || size == 8) &&
               (any || is_int_ctype(ctype));
    case ISLE_TYPE_OBJECT:
        if (f->list || f->inline_obj)
            return size == f->object->size && (any || ctype == ISLE_CTYPE_OTHER);
        return size == sizeof(void *) && (any || ctype == ISLE_CTYPE_OTHER);
    default:
        return 0;
    }
}

static const char *c_type_wanted(uint8_t t, int list) {
    switch (t) {
    case ISLE_TYPE_BOOL: return list ? "isle_bool * or bool *" : "isle_bool or bool";
    case ISLE_TYPE_BYTE: return list ? "uint8_t *" : "uint8_t";
    case ISLE_TYPE_SHORT: return list ? "int32_t *" : "int32_t";
    case ISLE_TYPE_INT: return list ? "int64_t *" : "int64_t";
    case ISLE_TYPE_DATETIME: return list ? "int64_t * (microseconds)" : "int64_t (microseconds)";
    case ISLE_TYPE_FLOAT: return list ? "float *" : "float";
    case ISLE_TYPE_DOUBLE: return list ? "double *" : "double";
    case ISLE_TYPE_STRING: return list ? "char ** or isle_str *" : "char * or isle_str";
    case ISLE_TYPE_ENUM: return list ? "a pointer to an integer or enum" : "an integer or enum";
    default: return list ? "a pointer to the embedded struct (an array)"
                         : "a pointer to the embedded struct (or the struct, inline)";
    }
}

static int check_enum(const char *where, const isle_field *f) {
    const isle_enum *e = f->enum_type;
    if (!e || !e->values || e->count == 0)
        return en_fail(ISLE_EINVAL, "%s: an enum field needs an isle_enum with values", where);
    if (f->enum_storage < ISLE_ENUM_ORDINAL || f->enum_storage > ISLE_ENUM_VALUE)
        return en_fail(ISLE_EINVAL, "%s: unknown enum storage %u", where, f->enum_storage);
    if (f->enum_storage == ISLE_ENUM_ORDINAL && e->count > 256)
        return en_fail(ISLE_EINVAL, "%s: ISLE_ENUM_ORDINAL holds at most 256 values", where);
    for (size_t i = 0; i < e->count; i++) {
        const isle_enum_value *v = &e->values[i];
        if (f->enum_storage == ISLE_ENUM_NAME && !name_ok(v->name))
            return en_fail(ISLE_EINVAL, "%s: enum value %zu has no valid name", where, i);
        if (f->enum_storage == ISLE_ENUM_VALUE && v->value == ISLE_NULL_INT)
            return en_fail(ISLE_EINVAL, "%s: enum custom value INT64_MIN is the null", where);
        if (e->nullable && v->c_value == e->null_value)
            return en_fail(ISLE_EINVAL, "%s: the null value %lld is also a value", where,
                           (long long)v->c_value);
        for (size_t k = 0; k < i; k++) {
            const isle_enum_value *u = &e->values[k];
            if (u->c_value == v->c_value ||
                (f->enum_storage == ISLE_ENUM_NAME && strcmp(u->name, v->name) == 0) ||
                (f->enum_storage == ISLE_ENUM_VALUE && u->value == v->value))
                return en_fail(ISLE_EINVAL, "%s: enum values %zu and %zu are not distinct",
                               where, k, i);
        }
    }
    return 0;
}

static int check_list(const char *where, const isle_schema *s, const isle_field *f) {
    if (f->size != sizeof(void *))
        return en_fail(ISLE_EINVAL, "%s: a list member must be a pointer", where);
    if (f->count_offset > s->size || f->count_size > s->size - f->count_offset)
        return en_fail(ISLE_EINVAL, "%s: the count member lies outside the struct", where);
    int any = f->count_ctype == ISLE_CTYPE_UNKNOWN;
    if (!(f->count_size == 1 || f->count_size == 2 || f->count_size == 4 ||
          f->count_size == 8) || !(any || is_int_ctype(f->count_ctype)))
        return en_fail(ISLE_EINVAL, "%s: the count member must be an integer", where);
    return 0;
}

static int check_field(const char *coll, const isle_schema *s, const isle_field *f) {
    char where[3 * ISLE_NAME_MAX + 64];
    snprintf(where, sizeof where, "collection '%s': field '%s.%s'", coll,
             s->c_name ? s->c_name : "?", f->c_name ? f->c_name : "?");
    if (!f->c_name)
        return en_fail(ISLE_EINVAL, "%s: no C name", where);
    if (f->offset > s->size || f->size > s->size - f->offset)
        return en_fail(ISLE_EINVAL, "%s: the member lies outside the struct", where);
    if (f->ignore)
        return 0;
    if (!name_ok(f->name))
        return en_fail(strlen(f->name ? f->name : "") > ISLE_NAME_MAX ? ISLE_ETOOBIG : ISLE_EINVAL,
                       "%s: a stored name is 1 to %u bytes of UTF-8", where, ISLE_NAME_MAX);
    uint8_t t = f->type;
    if (!((t >= ISLE_TYPE_BOOL && t <= ISLE_TYPE_OBJECT) || t == ISLE_TYPE_ENUM))
        return en_fail(ISLE_EINVAL, "%s: unknown type %u", where, t);
    if (t == ISLE_TYPE_OBJECT && !f->object)
        return en_fail(ISLE_EINVAL, "%s: an embedded field needs its schema", where);
    if (t == ISLE_TYPE_ENUM) {
        int rc = check_enum(where, f);
        if (rc)
            return rc;
    }
    if (f->list) {
        int rc = check_list(where, s, f);
        if (rc)
            return rc;
    }
    size_t size = f->list ? f->elem_size : f->size;
    if (!ctype_fits(t, f, f->ctype, size))
        return en_fail(ISLE_EINVAL, "%s: a %s%s field must be %s", where,
                       f->list ? "list of " : "",
                       t == ISLE_TYPE_ENUM ? "enum" : type_word(t), c_type_wanted(t, f->list));
    return 0;
}

static int check_type(const char *coll, const isle_schema *s) {
    const char *cn = s->c_name ? s->c_name : "?";
    if (!name_ok(s->name))
        return en_fail(s->name && strlen(s->name) > ISLE_NAME_MAX ? ISLE_ETOOBIG : ISLE_EINVAL,
                       "collection '%s': type '%s': a stored name is 1 to %u bytes of UTF-8",
                       coll, cn, ISLE_NAME_MAX);
    if (s->size == 0 || s->align == 0 || (s->align & (s->align - 1)) || (!s->fields && s->nfields))
        return en_fail(ISLE_EINVAL, "collection '%s': type '%s' is malformed", coll, cn);
    if (s->nfields > ISLE_FIELDS_MAX)
        return en_fail(ISLE_ETOOBIG, "collection '%s': type '%s' has more than %u fields", coll,
                       cn, ISLE_FIELDS_MAX);
    for (size_t i = 0; i < s->nfields; i++) {
        const isle_field *f = &s->fields[i];
        int rc = check_field(coll, s, f);
        if (rc)
            return rc;
        for (size_t k = 0; !f->ignore && k < i; k++)
            if (!s->fields[k].ignore && strcmp(s->fields[k].name, f->name) == 0)
                return en_fail(ISLE_EINVAL,
                               "collection '%s': type '%s': two fields are stored as '%s'", coll,
                               cn, f->name);
    }
    return 0;
}

int co_schema_check(const isle_schema *root) {
    if (!root)
        return en_fail(ISLE_EINVAL, "isle_coll_open: NULL schema");
    const char *coll = name_ok(root->name) ? root->name : "?";
    if (!root->has_id)
        return en_fail(ISLE_EINVAL,
                       "collection '%s': declare it with ISLE_COLLECTION (it has no id)", coll);
    if (root->id_size != 8 || root->id_offset > root->size || root->size - root->id_offset < 8 ||
        !(root->id_ctype == ISLE_CTYPE_I64 || root->id_ctype == ISLE_CTYPE_UNKNOWN))
        return en_fail(ISLE_EINVAL, "collection '%s': the id member must be an int64_t", coll);
    walk *w = malloc(sizeof *w);
    if (!w)
        return en_fail(ISLE_ENOMEM, "out of memory checking collection '%s'", coll);
    int rc = walk_types(w, root);
    for (uint32_t i = 0; rc == 0 && i < w->n; i++)
        rc = check_type(coll, w->types[i]);
    for (uint32_t i = 0; rc == 0 && i < w->n; i++)
        for (uint32_t k = 0; rc == 0 && k < i; k++)
            if (strcmp(w->types[i]->name, w->types[k]->name) == 0)
                rc = en_fail(ISLE_EINVAL, "collection '%s': two types are stored as '%s'", coll,
                             w->types[i]->name);
    free(w);
    return rc;
}

/* ---- the stored schema: parse and encode ----------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static int rd_u8(rd *r, uint8_t *v) {
    if (r->p >= r->end)
        return -1;
    *v = *r->p++;
    return 0;
}

static int rd_u16(rd *r, uint16_t *v) {
    if (r->end - r->p < 2)
        return -1;
    *v = cd_get16(r->p);
    r->p += 2;
    return 0;
}

/* A length-prefixed name, copied NUL-terminated into a. */
static int rd_name(rd *r, isle_arena *a, const char **out) {
    uint8_t n;
    if (rd_u8(r, &n) || n == 0 || r->end - r->p < n ||
        !cd_utf8_valid(r->p, n) || n > ISLE_NAME_MAX)
        return -1;
    char *s = co_alloc(a, (size_t)n + 1, 1);
    if (!s)
        return -2;
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p += n;
    *out = s;
    return 0;
}

static int bad_schema(const char *coll, const char *what) {
    return en_fail(ISLE_ECORRUPT, "collection '%s': the stored schema is malformed: %s", coll,
                   what);
}

/* The element type an enum storage implies (0 for none). */
static uint8_t enum_stype(uint8_t storage) {
    switch (storage) {
    case ISLE_ENUM_ORDINAL: return CD_TYPE_BYTE;
    case ISLE_ENUM_ORDINAL32: return CD_TYPE_SHORT;
    case ISLE_ENUM_NAME: return CD_TYPE_STRING;
    case ISLE_ENUM_VALUE: return CD_TYPE_INT;
    default: return 0;
    }
}

static int parse_field(rd *r, isle_arena *a, const char *coll, uint16_t ntypes, co_sfield *f) {
    int rc = rd_name(r, a, &f->name);
    if (rc)
        return rc == -2 ? en_fail(ISLE_ENOMEM, "out of memory") : bad_schema(coll, "field name");
    uint16_t obj;
    if (rd_u8(r, &f->code) || rd_u8(r, &f->enum_storage) || rd_u16(r, &obj))
        return bad_schema(coll, "truncated field");
    f->obj = obj;
    uint8_t t = (uint8_t)(f->code & ~CD_TYPE_LIST);
    if (!cd_type_code_valid(f->code))
        return bad_schema(coll, "unknown type code");
    if (f->enum_storage && enum_stype(f->enum_storage) != t)
        return bad_schema(coll, "enum storage disagrees with the type");
    if ((t == CD_TYPE_OBJECT) != (obj != CO_NO_TYPE) || (obj != CO_NO_TYPE && obj >= ntypes))
        return bad_schema(coll, "embedded type index");
    return 0;
}

static int parse_type(rd *r, isle_arena *a, const char *coll, uint16_t ntypes, co_stype *t) {
    int rc = rd_name(r, a, &t->name);
    if (rc)
        return rc == -2 ? en_fail(ISLE_ENOMEM, "out of memory") : bad_schema(coll, "type name");
    uint16_t nf;
    if (rd_u16(r, &nf) || nf > ISLE_FIELDS_MAX)
        return bad_schema(coll, "field count");
    t->nfields = t->cap = nf;
    t->fields = co_alloc(a, (size_t)nf * sizeof *t->fields, _Alignof(co_sfield));
    if (!t->fields)
        return en_fail(ISLE_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < nf; i++) {
        if ((rc = parse_field(r, a, coll, ntypes, &t->fields[i])) != 0)
            return rc;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(t->fields[k].name, t->fields[i].name) == 0)
                return bad_schema(coll, "two fields share a name");
    }
    return 0;
}

int co_stored_parse(const uint8_t *p, size_t len, const char *coll, isle_arena *a,
                    co_stored *out) {
    rd r = {p, p + len};
    uint8_t version, flags;
    uint16_t nt;
    memset(out, 0, sizeof *out);
    if (rd_u8(&r, &version) || rd_u8(&r, &flags) || rd_u16(&r, &nt))
        return bad_schema(coll, "truncated header");
    if (version != CO_SCHEMA_VERSION)
        return en_fail(version > CO_SCHEMA_VERSION ? ISLE_EVERSION : ISLE_ECORRUPT,
                       "collection '%s': stored schema version %u (this library reads %u)", coll,
                       version, CO_SCHEMA_VERSION);
    if (flags != 0 || nt == 0 || nt > ISLE_TYPES_MAX)
        return bad_schema(coll, "header");
    out->types = co_alloc(a, (size_t)nt * sizeof *out->types, _Alignof(co_stype));
    if (!out->types)
        return en_fail(ISLE_ENOMEM, "out of memory");
    out->ntypes = out->cap = nt;
    for (uint32_t i = 0; i < nt; i++) {
        int rc = parse_type(&r, a, coll, nt, &out->types[i]);
        if (rc)
            return rc;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(out->types[k].name, out->types[i].name) == 0)
                return bad_schema(coll, "two types share a name");
    }
    if (r.p != r.end)
        return bad_schema(coll, "bytes after the last type");
    if (strcmp(out->types[0].name, coll) != 0)
        return bad_schema(coll, "type 0 is not the collection");
    return 0;
}

static uint8_t *put_name(uint8_t *p, const char *s) {
    size_t n = strlen(s);
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

int co_stored_encode(const co_stored *st, uint8_t **out, size_t *len) {
    size_t n = 4;
    for (uint32_t i = 0; i < st->ntypes; i++) {
        n += 3 + strlen(st->types[i].name);
        for (uint32_t k = 0; k < st->types[i].nfields; k++)
            n += 5 + strlen(st->types[i].fields[k].name);
    }
    uint8_t *buf = malloc(n), *p = buf;
    if (!buf)
        return en_fail(ISLE_ENOMEM, "out of memory encoding a schema");
    *p++ = CO_SCHEMA_VERSION;
    *p++ = 0;
    cd_put16(p, (uint16_t)st->ntypes);
    p += 2;
    for (uint32_t i = 0; i < st->ntypes; i++) {
        const co_stype *t = &st->types[i];
        p = put_name(p, t->name);
        cd_put16(p, (uint16_t)t->nfields);
        p += 2;
        for (uint32_t k = 0; k < t->nfields; k++) {
            const co_sfield *f = &t->fields[k];
            p = put_name(p, f->name);
            *p++ = f->code;
            *p++ = f->enum_storage;
            cd_put16(p, f->obj);
            p += 2;
        }
    }
    ISLE_VERIFY((size_t)(p - buf) == n);
    *out = buf;
    *len = n;
    return 0;
}

/* ---- merging a declaration into the stored schema --------------------------- */

/* The stored element type of a declared field. */
static uint8_t field_stype(const isle_field *f) {
    return f->type == ISLE_TYPE_ENUM ? enum_stype(f->enum_storage) : f->type;
}

static int type_index(const co_stored *st, const char *name) {
    for (uint32_t i = 0; i < st->ntypes; i++)
        if (strcmp(st->types[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int add_type(co_stored *st, isle_arena *a, const char *coll, const char *name) {
    if (st->ntypes == ISLE_TYPES_MAX)
        return en_fail(ISLE_ETOOBIG, "collection '%s': more than %u types", coll, ISLE_TYPES_MAX);
    if (st->ntypes == st->cap) {
        uint32_t cap = st->cap ? st->cap * 2 : 8;
        co_stype *t = co_alloc(a, (size_t)cap * sizeof *t, _Alignof(co_stype));
        if (!t)
            return en_fail(ISLE_ENOMEM, "out of memory");
        if (st->ntypes)
            memcpy(t, st->types, (size_t)st->ntypes * sizeof *t);
        st->types = t;
        st->cap = cap;
    }
    st->types[st->ntypes++] = (co_stype){.name = name};
    return 0;
}

static int add_field(co_stype *t, isle_arena *a, const char *coll, co_sfield f) {
    if (t->nfields == ISLE_FIELDS_MAX)
        return en_fail(ISLE_ETOOBIG,
                       "collection '%s': type '%s' would store more than %u fields (dropped "
                       "fields count)", coll, t->name, ISLE_FIELDS_MAX);
    if (t->nfields == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 16;
        co_sfield *n = co_alloc(a, (size_t)cap * sizeof *n, _Alignof(co_sfield));
        if (!n)
            return en_fail(ISLE_ENOMEM, "out of memory");
        if (t->nfields)
            memcpy(n, t->fields, (size_t)t->nfields * sizeof *n);
        t->fields = n;
        t->cap = cap;
    }
    t->fields[t->nfields++] = f;
    return 0;
}

/* Merges the fields of declared type s (stored as type ti); map gives each
 * walked type's stored index. */
static int merge_fields(co_stored *st, isle_arena *a, const char *coll, const walk *w,
                        const int *map, const isle_schema *s, int ti, int *changed) {
    for (size_t k = 0; k < s->nfields; k++) {
        const isle_field *f = &s->fields[k];
        if (f->ignore)
            continue;
        co_sfield want = {.name = f->name, .code = cd_type_code(field_stype(f), f->list),
                          .enum_storage = f->type == ISLE_TYPE_ENUM ? f->enum_storage : 0,
                          .obj = CO_NO_TYPE};
        for (uint32_t i = 0; f->type == ISLE_TYPE_OBJECT && i < w->n; i++)
            if (w->types[i] == f->object)
                want.obj = (uint16_t)map[i];
        co_stype *t = &st->types[ti];
        uint32_t i = 0;
        while (i < t->nfields && strcmp(t->fields[i].name, f->name) != 0)
            i++;
        if (i == t->nfields) {
            int rc = add_field(t, a, coll, want);
            if (rc)
                return rc;
            *changed = 1;
            continue;
        }
        const co_sfield *have = &t->fields[i];
        if (have->code != want.code || have->obj != want.obj) {
            char was[ISLE_NAME_MAX + 32], now[ISLE_NAME_MAX + 32];
            code_words(was, sizeof was, have->code,
                       have->obj != CO_NO_TYPE ? st->types[have->obj].name : NULL);
            code_words(now, sizeof now, want.code,
                       want.obj != CO_NO_TYPE ? st->types[want.obj].name : NULL);
            return en_fail(ISLE_ESCHEMA,
                           "collection '%s': field '%s%s%s' is stored as %s but declared as "
                           "%s (C member '%s')", coll, ti ? t->name : "", ti ? "." : "",
                           f->name, was, now, f->c_name);
        }
    }
    return 0;
}

int co_stored_merge(co_stored *st, const isle_schema *root, isle_arena *a, int *changed) {
    const char *coll = root->name;
    int map[ISLE_TYPES_MAX];
    walk *w = malloc(sizeof *w);
    if (!w)
        return en_fail(ISLE_ENOMEM, "out of memory");
    *changed = 0;
    int rc = walk_types(w, root);
    for (uint32_t i = 0; rc == 0 && i < w->n; i++) {
        const char *name = i == 0 ? coll : w->types[i]->name;
        map[i] = type_index(st, name);
        if (i > 0 && map[i] == 0)
            rc = en_fail(ISLE_EINVAL,
                         "collection '%s': embedded type '%s' has the collection's name",
                         coll, w->types[i]->c_name);
        if (rc == 0 && map[i] < 0 && (rc = add_type(st, a, coll, name)) == 0) {
            map[i] = (int)st->ntypes - 1;
            *changed = 1;
        }
    }
    for (uint32_t i = 0; rc == 0 && i < w->n; i++)
        rc = merge_fields(st, a, coll, w, map, w->types[i], map[i], changed);
    free(w);
    return rc;
}

/* ---- binding ------------------------------------------------------------------ */

static int by_slot(const void *a, const void *b) {
    const co_field *x = a, *y = b;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

static uint8_t field_kind(const isle_field *f) {
    switch (f->type) {
    case ISLE_TYPE_BOOL:
        return f->ctype == ISLE_CTYPE_BOOL ? K_CBOOL : K_BOOL8;
    case ISLE_TYPE_BYTE: return K_BYTE;
    case ISLE_TYPE_SHORT: return K_SHORT;
    case ISLE_TYPE_INT:
    case ISLE_TYPE_DATETIME: return K_INT;
    case ISLE_TYPE_FLOAT: return K_FLOAT;
    case ISLE_TYPE_DOUBLE: return K_DOUBLE;
    case ISLE_TYPE_STRING: /* the member's type picks the C form (by size in C++) */
        return f->ctype == ISLE_CTYPE_STR ||
                       (f->ctype == ISLE_CTYPE_UNKNOWN &&
                        (f->list ? f->elem_size : f->size) == sizeof(isle_str))
                   ? K_STRV
                   : K_STRING;
    case ISLE_TYPE_ENUM: return K_ENUM;
    default: return K_OBJECT;
    }
}

static int enum_dense(const isle_enum *e) {
    for (size_t i = 0; i < e->count; i++)
        if (e->values[i].c_value != (int64_t)i)
            return 0;
    return 1;
}

/* Builds one cd_schema per stored type, laid out. */
int co_stored_layout(const co_stored *st, isle_arena *a, cd_schema **out) {
    cd_schema *cs = co_alloc(a, (size_t)st->ntypes * sizeof *cs, _Alignof(cd_schema));
    if (!cs)
        return en_fail(ISLE_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < st->ntypes; i++) {
        const co_stype *t = &st->types[i];
        cd_field *fs = co_alloc(a, (size_t)t->nfields * sizeof *fs, _Alignof(cd_field));
        if (!fs)
            return en_fail(ISLE_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < t->nfields; k++) {
            const co_sfield *f = &t->fields[k];
            fs[k] = (cd_field){.type = (uint8_t)(f->code & ~CD_TYPE_LIST),
                               .is_list = (f->code & CD_TYPE_LIST) != 0,
                               .object = f->obj != CO_NO_TYPE ? &cs[f->obj] : NULL};
        }
        cs[i] = (cd_schema){.fields = fs, .nfields = (uint16_t)t->nfields};
    }
    for (uint32_t i = 0; i < st->ntypes; i++)
        if (cd_schema_layout(&cs[i]) != 0)
            return en_fail(ISLE_ECORRUPT, "the stored schema of '%s' cannot be laid out",
                           st->types[0].name);
    *out = cs;
    return 0;
}

/* How a field reads in a decode plan: 8 bytes copied (PLAN_I64 an int or
 * datetime, PLAN_F64 a double), 4 (PLAN_I32 a short, PLAN_F32 a float),
 * 1 (PLAN_I8 a byte), a string (PLAN_STRING as char *, PLAN_STRV as
 * isle_str), or field by field (PLAN_REST).  Copies need the host to be
 * little-endian, as the stored slots are. */
enum { PLAN_I64, PLAN_F64, PLAN_I32, PLAN_F32, PLAN_I8, PLAN_STRING, PLAN_STRV, PLAN_REST };
static unsigned plan_kind(const co_field *f) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (f->list || f->offset > UINT32_MAX)
        return PLAN_REST;
    switch (f->kind) {
    case K_INT: return PLAN_I64;
    case K_DOUBLE: return PLAN_F64;
    case K_SHORT: return PLAN_I32;
    case K_FLOAT: return PLAN_F32;
    case K_BYTE: return PLAN_I8;
    case K_STRING: return PLAN_STRING;
    case K_STRV: return PLAN_STRV;
    default: return PLAN_REST;
    }
#else
    (void)f;
    return PLAN_REST;
#endif
}

/* t's encoding head, if its fields allow the fast encoding (co_type's
 * enc_head); mark_encoding then drops it from types that embed a type
 * without one. */
static int plan_encode(co_type *t, isle_arena *a) {
    for (uint32_t i = 0; i < t->nfields; i++) {
        const co_field *f = &t->fields[i];
        if (f->list ? f->kind != K_STRING && f->kind != K_STRV : f->kind == K_ENUM)
            return 0;
    }
    uint8_t *head = co_alloc(a, CD_RECORD_HDR_SIZE + (size_t)t->stored->static_size, 1);
    if (!head)
        return en_fail(ISLE_ENOMEM, "out of memory");
    cd_record_head(t->stored, head);
    t->enc_head = head;
    return 0;
}

static void mark_encoding(co_type *types, uint32_t n) {
    for (int again = 1; again;) {
        again = 0;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t k = 0; types[i].enc_head && k < types[i].nfields; k++) {
                const co_field *f = &types[i].fields[k];
                if (f->kind == K_OBJECT && !f->list && !f->obj->enc_head) {
                    types[i].enc_head = NULL;
                    again = 1;
                }
            }
    }
}

/* Builds t's decode plan and encoding plan (co_type in coll_int.h), and
 * its encoding head. */
static int plan_type(co_type *t, isle_arena *a) {
    co_op *ops = co_alloc(a, (t->nfields + 1) * sizeof *ops, _Alignof(co_op));
    const co_field **rest = co_alloc(a, (t->nfields + 1) * sizeof *rest, _Alignof(co_field *));
    const co_field **enc_rest =
        co_alloc(a, (t->nfields + 1) * sizeof *enc_rest, _Alignof(co_field *));
    if (!ops || !rest || !enc_rest)
        return en_fail(ISLE_ENOMEM, "out of memory");
    uint32_t nops = 0, count[PLAN_REST] = {0};
    for (unsigned k = 0; k <= PLAN_REST; k++)
        for (uint32_t i = 0; i < t->nfields; i++) {
            const co_field *f = &t->fields[i];
            if (plan_kind(f) != k)
                continue;
            if (k == PLAN_REST) {
                rest[t->nrest++] = f;
            } else {
                ops[nops++] = (co_op){.offset = (uint32_t)f->offset, .slot = f->slot};
                count[k]++;
            }
        }
    /* Encoding writes variable items in field order: every field but the
     * copied scalars, one by one. */
    for (uint32_t i = 0; i < t->nfields; i++)
        if (plan_kind(&t->fields[i]) >= PLAN_STRING)
            enc_rest[t->n_enc_rest++] = &t->fields[i];
    t->ops = ops;
    t->rest = rest;
    t->enc_rest = enc_rest;
    t->n8 = (uint16_t)(count[PLAN_I64] + count[PLAN_F64]);
    t->n8_double = (uint16_t)count[PLAN_F64];
    t->n4 = (uint16_t)(count[PLAN_I32] + count[PLAN_F32]);
    t->n4_float = (uint16_t)count[PLAN_F32];
    t->n1 = (uint16_t)count[PLAN_I8];
    t->nstr = (uint16_t)count[PLAN_STRING];
    t->nstrv = (uint16_t)count[PLAN_STRV];
    return plan_encode(t, a);
}

/* Binds the fields of declared type s to stored type st_t (laid out in cs). */
static int bind_type(const co_stype *st_t, const cd_schema *cs, const isle_schema *s,
                     const walk *w, co_type *types, isle_arena *a, co_type *out) {
    co_field *fs = co_alloc(a, s->nfields * sizeof *fs, _Alignof(co_field));
    if (!fs)
        return en_fail(ISLE_ENOMEM, "out of memory");
    uint32_t n = 0;
    for (size_t k = 0; k < s->nfields; k++) {
        const isle_field *f = &s->fields[k];
        if (f->ignore)
            continue;
        uint32_t i = 0;
        while (i < st_t->nfields && strcmp(st_t->fields[i].name, f->name) != 0)
            i++;
        ISLE_VERIFY(i < st_t->nfields); /* merged before binding */
        co_field *b = &fs[n++];
        *b = (co_field){.kind = field_kind(f), .list = f->list, .inline_obj = f->inline_obj,
                        .stype = field_stype(f), .enum_storage = f->enum_storage,
                        .csize = (uint8_t)(f->list ? f->elem_size : f->size),
                        .count_size = (uint8_t)f->count_size,
                        .count_signed = f->count_ctype == ISLE_CTYPE_I8 ||
                                        f->count_ctype == ISLE_CTYPE_I16 ||
                                        f->count_ctype == ISLE_CTYPE_I32 ||
                                        f->count_ctype == ISLE_CTYPE_I64 ||
                                        f->count_ctype == ISLE_CTYPE_CHAR,
                        .slot = cs->fields[i].offset, .offset = f->offset,
                        .count_offset = f->count_offset, .elem_size = f->elem_size,
                        .en = f->enum_type, .name = st_t->fields[i].name};
        if (f->type == ISLE_TYPE_ENUM)
            b->enum_dense = (uint8_t)enum_dense(f->enum_type);
        for (uint32_t t = 0; f->type == ISLE_TYPE_OBJECT && t < w->n; t++)
            if (w->types[t] == f->object)
                b->obj = &types[t];
    }
    qsort(fs, n, sizeof *fs, by_slot);
    *out = (co_type){.name = st_t->name, .stored = cs, .fields = fs, .nfields = n,
                     .size = s->size, .align = s->align};
    return plan_type(out, a);
}

/* Marks the types whose reads allocate (to require an arena up front):
 * with strings copied (has_dynamic) and with strings borrowed (has_alloc). */
static void mark_dynamic(co_type *types, uint32_t n) {
    for (int again = 1; again;) {
        again = 0;
        for (uint32_t i = 0; i < n; i++) {
            co_type *t = &types[i];
            for (uint32_t k = 0; k < t->nfields; k++) {
                const co_field *f = &t->fields[k];
                const co_type *o = f->kind == K_OBJECT ? f->obj : NULL;
                int alloc = f->list || (o && (!f->inline_obj || o->has_alloc));
                int dynamic = alloc || f->kind == K_STRING || f->kind == K_STRV ||
                              (o && o->has_dynamic);
                if ((alloc && !t->has_alloc) || (dynamic && !t->has_dynamic)) {
                    t->has_alloc |= (uint8_t)alloc;
                    t->has_dynamic |= (uint8_t)dynamic;
                    again = 1;
                }
            }
        }
    }
}

int co_bind(const co_stored *st, const isle_schema *root, isle_arena *a,
            const co_type **out) {
    co_stored copy = *st; /* names move into the handle's arena */
    copy.types = co_alloc(a, (size_t)st->ntypes * sizeof *copy.types, _Alignof(co_stype));
    if (!copy.types)
        return en_fail(ISLE_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < st->ntypes; i++) {
        co_stype *t = &copy.types[i];
        *t = st->types[i];
        t->fields = co_alloc(a, (size_t)t->nfields * sizeof *t->fields, _Alignof(co_sfield));
        if (!(t->name = co_strdup(a, t->name)) || !t->fields)
            return en_fail(ISLE_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < t->nfields; k++) {
            t->fields[k] = st->types[i].fields[k];
            if (!(t->fields[k].name = co_strdup(a, t->fields[k].name)))
                return en_fail(ISLE_ENOMEM, "out of memory");
        }
    }
    cd_schema *cs;
    int rc = co_stored_layout(&copy, a, &cs);
    walk *w = rc ? NULL : malloc(sizeof *w);
    if (rc == 0 && !w)
        rc = en_fail(ISLE_ENOMEM, "out of memory");
    if (rc == 0)
        rc = walk_types(w, root);
    co_type *types = rc ? NULL : co_alloc(a, w->n * sizeof *types, _Alignof(co_type));
    if (rc == 0 && !types)
        rc = en_fail(ISLE_ENOMEM, "out of memory");
    for (uint32_t i = 0; rc == 0 && i < w->n; i++) {
        int ti = i == 0 ? 0 : type_index(&copy, w->types[i]->name);
        ISLE_VERIFY(ti >= 0);
        rc = bind_type(&copy.types[ti], &cs[ti], w->types[i], w, types, a, &types[i]);
    }
    if (rc == 0) {
        mark_dynamic(types, w->n);
        mark_encoding(types, w->n);
        *out = &types[0];
    }
    free(w);
    return rc;
}
