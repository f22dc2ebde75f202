/*
 * cd_record.h: the record (object) format.  One object of a collection is
 * stored as one record: a fixed-width static section holding every field at
 * an offset the schema assigns, then a dynamic section holding strings,
 * lists and embedded objects.  An embedded object is a complete record in
 * the same format, so any record can be read without its parent.
 *
 * Three ways in, all pure and allocation-free:
 *   - cd_writer: writes a record field by field into a caller buffer (the
 *     API layer drives it straight from a C struct); with no buffer it
 *     only counts, which is how a caller sizes its buffer;
 *   - cd_reader: zero-copy reads of a record, field by static offset;
 *   - cd_value: a generic value tree with encode, validate and decode, for
 *     tools, tests and the fuzz target.
 *
 * FORMAT VERSION 1 (CD_FORMAT_VERSION in cd_page.h).  Little-endian.
 *
 * Record:
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       2     S: size of the static section in bytes
 *   2       S     static section: the slot of field i at 2 + offset(i)
 *   2+S     rest  dynamic section: the items of the non-null dynamic
 *                 fields, in field order, with no gaps
 *
 * A field's slot, by type.  The type code is what a stored schema holds:
 * written to disk, never renumber.  A list field stores its element type
 * or'ed with CD_TYPE_LIST (0x10).
 *
 *   TYPE      CODE  SIZE  SLOT                            NULL
 *   bool      0x01  1     0 null, 1 false, 2 true          0
 *   byte      0x02  1     u8                               (cannot be null)
 *   short     0x03  4     i32                              INT32_MIN
 *   int       0x04  8     i64                              INT64_MIN
 *   float     0x05  4     IEEE 754 binary32                NaN 0x7fc00000
 *   double    0x06  8     IEEE 754 binary64                NaN 0x7ff8<<48
 *   datetime  0x07  8     i64 microseconds since 1970 UTC  INT64_MIN
 *   string    0x08  4     u32 offset of the item           0
 *   object    0x09  4     u32 offset of the item           0
 *   list of T T|0x10 4    u32 offset of the item           0
 *
 * Offsets count from the first byte of the record holding the slot (for a
 * list element, the record holding the list).  Slots are packed in field
 * order with no padding: offset(0) = 0, offset(i+1) = offset(i) +
 * SIZE(i).  Enums are not a codec type: the API layer stores them as byte
 * (ordinal), short (ordinal32), string (name) or int (value).
 *
 * Dynamic items, at the offset their slot holds:
 *
 *   string             varint n | n bytes of UTF-8 | 0x00
 *   list of fixed T    varint count | count elements of SIZE(T), each as
 *                      T's slot (bool and number lists may hold nulls)
 *   list of string     varint count | count x u32 offsets (0: null
 *     or object        element), then the elements' items in index order
 *   object             varint n | n bytes: a nested record, whose offsets
 *                      count from its own first byte
 *
 * Old layouts: a field whose slot lies beyond S reads as null (a byte as
 * 0).  Fields are only ever appended to a schema, so a record written
 * before a field was added stays readable and reads the new field as null.
 *
 * A record of n bytes is valid against a schema iff:
 *   - 2 <= n <= CD_RECORD_SIZE_MAX, 2 + S <= n, S <= the schema's static
 *     size, and S does not end inside a slot;
 *   - bool bytes (slots and list elements) are <= 2;
 *   - a NaN float or double is the canonical quiet NaN shown above;
 *   - walking the fields in order (and list elements in index order, and
 *     embedded records depth-first), every non-zero offset equals the
 *     position where the previous item ended, starting at 2 + S; so items
 *     lie in the dynamic section, in order, never overlap and leave no
 *     gap; and the last item ends at n;
 *   - every varint is in its shortest form; every item fits in its record;
 *     a string has n <= CD_STRING_LEN_MAX, is UTF-8 (cd_utf8_valid: no NUL
 *     inside) and ends with 0x00; a list has count <= CD_LIST_LEN_MAX;
 *   - embedded records are valid against the field's schema, and records
 *     nest at most CD_NEST_DEPTH_MAX deep (the top-level record is 1).
 *
 * So the format is canonical: a valid record whose static sections (its
 * own and every embedded record's) have their schemas' full sizes is
 * exactly what cd_record_encode writes for the values it decodes to.
 *
 * The strict order is also what bounds the work on hostile input: no item
 * can be reached through two offsets (so no "many elements point at one
 * big object" blow-up), and validation is one forward pass that looks at
 * each input byte at most once.  Decoding into a value tree does extra
 * work only for fields beyond S (filled in as nulls), bounded by the
 * caller's arena.
 */
#ifndef ISLE_CD_RECORD_H
#define ISLE_CD_RECORD_H

#include <math.h>

#include "cd_base.h"
#include "cd_limits.h"

/* Field types, as stored in a schema.  Written to disk: never renumber. */
enum cd_type {
    CD_TYPE_BOOL = 0x01,
    CD_TYPE_BYTE = 0x02,
    CD_TYPE_SHORT = 0x03,
    CD_TYPE_INT = 0x04,
    CD_TYPE_FLOAT = 0x05,
    CD_TYPE_DOUBLE = 0x06,
    CD_TYPE_DATETIME = 0x07,
    CD_TYPE_STRING = 0x08,
    CD_TYPE_OBJECT = 0x09,
};
#define CD_TYPE_MAX CD_TYPE_OBJECT
/* Or'ed into the stored type code of a list field. */
#define CD_TYPE_LIST 0x10u

/* The stored type code of a field, and its inverse (0: not a valid code). */
static inline uint8_t cd_type_code(uint8_t type, int is_list) {
    return (uint8_t)(type | (is_list ? CD_TYPE_LIST : 0));
}
static inline int cd_type_code_valid(uint8_t code) {
    uint8_t t = (uint8_t)(code & ~CD_TYPE_LIST);
    return t >= CD_TYPE_BOOL && t <= CD_TYPE_MAX;
}

/* Bool slots and list elements. */
#define CD_BOOL_NULL 0u
#define CD_BOOL_FALSE 1u
#define CD_BOOL_TRUE 2u
/* The null of each nullable fixed-width type. */
#define CD_SHORT_NULL INT32_MIN
#define CD_INT_NULL INT64_MIN
#define CD_DATETIME_NULL INT64_MIN
#define CD_FLOAT_NULL_BITS 0x7fc00000u
#define CD_DOUBLE_NULL_BITS 0x7ff8000000000000u

#define CD_RECORD_HDR_SIZE 2u
#define CD_RECORD_OFF_STATIC_SIZE 0u
#define CD_OFFSET_SIZE 4u /* a dynamic field's slot, a list's element offset */
_Static_assert(CD_RECORD_OFF_STATIC_SIZE + 2 == CD_RECORD_HDR_SIZE,
               "the record header is one u16");
_Static_assert(CD_FIELDS_MAX * 8u <= CD_STATIC_SIZE_MAX,
               "the widest schema's static section fits its u16 size");
_Static_assert(CD_STATIC_SIZE_MAX <= UINT16_MAX, "S is stored as a u16");
_Static_assert(CD_RECORD_SIZE_MAX <= UINT32_MAX, "offsets are u32");
_Static_assert((uint64_t)CD_LIST_LEN_MAX * 8u <= UINT32_MAX,
               "count x element size cannot overflow 32 bits");
_Static_assert(CD_STRING_LEN_MAX < CD_RECORD_SIZE_MAX, "a string fits a record");
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE 754 sizes");

/*
 * Size of one element of that type: the slot size of a non-list field, and
 * the element size in a list (4, an offset, for strings and objects).
 */
static inline unsigned cd_type_size(uint8_t type) {
    switch (type) {
    case CD_TYPE_BOOL:
    case CD_TYPE_BYTE:
        return 1;
    case CD_TYPE_INT:
    case CD_TYPE_DOUBLE:
    case CD_TYPE_DATETIME:
        return 8;
    default:
        return 4;
    }
}

/* ---- schemas ----------------------------------------------------------- */

/*
 * One field.  type is the element type when is_list is set.  object is the
 * schema of an embedded object (type CD_TYPE_OBJECT), NULL otherwise; it may
 * point back at an enclosing schema (a tree node type).
 */
typedef struct cd_field {
    uint8_t type;     /* enum cd_type */
    uint8_t is_list;  /* 0 or 1 */
    uint16_t offset;  /* static offset: set by cd_schema_layout */
    const struct cd_schema *object;
} cd_field;

typedef struct cd_schema {
    cd_field *fields;
    uint16_t nfields;
    uint16_t static_size; /* set by cd_schema_layout */
    uint8_t ready;        /* set by cd_schema_layout */
} cd_schema;

/* Slot size of a field: its type's size, or 4 for dynamic fields. */
static inline unsigned cd_field_size(const cd_field *f) {
    return f->is_list ? CD_OFFSET_SIZE : cd_type_size(f->type);
}

/*
 * Checks a schema and assigns each field its static offset, in field order.
 * Sub-schemas are not laid out by this call (a schema may refer to itself):
 * lay out every schema before use; the functions below return CD_EINVAL on
 * reaching one that is not.  Returns CD_EINVAL for an unknown type, a list
 * flag other than 0/1, an object field without a schema (or a non-object
 * field with one), fields == NULL with nfields > 0; CD_ETOOBIG for more than
 * CD_FIELDS_MAX fields.
 */
int cd_schema_layout(cd_schema *s);

/* ---- reader: zero-copy access to a validated record --------------------- */

/*
 * A record being read.  Validate a record once (cd_record_validate) before
 * reading it: the reader then returns exactly what was stored.  The reader
 * never reads outside [rec, rec + len) even on bytes that did not validate,
 * and returned strings are always NUL-terminated, but what it returns for
 * such bytes is unspecified.  Pointers it hands out point into the record
 * and live as long as the record's bytes do.
 */
typedef struct cd_reader {
    const uint8_t *rec;
    uint32_t len;
    uint16_t static_size;
} cd_reader;

/* A list inside a record; elements are read with the cd_list_* getters. */
typedef struct cd_list {
    const uint8_t *rec; /* the record holding the list (offsets count from it) */
    const uint8_t *elems;
    uint32_t rec_len;
    uint32_t count;
    uint8_t type;
} cd_list;

/* Returns CD_ECORRUPT if rec[0, len) cannot be a record (too short, S too
 * large, len > CD_RECORD_SIZE_MAX), CD_OK otherwise. */
int cd_reader_init(cd_reader *r, const uint8_t *rec, size_t len);

/* True iff the slot [off, off + size) lies within the static section. */
static inline int cd_reader_has(const cd_reader *r, uint16_t off, unsigned size) {
    return (uint32_t)off + size <= r->static_size;
}
static inline const uint8_t *cd_reader_slot(const cd_reader *r, uint16_t off) {
    return r->rec + CD_RECORD_HDR_SIZE + off;
}
/* Fixed-width fields, by static offset; a slot beyond S reads as null. */
static inline uint8_t cd_reader_bool(const cd_reader *r, uint16_t off) {
    return cd_reader_has(r, off, 1) ? cd_reader_slot(r, off)[0] : CD_BOOL_NULL;
}
static inline uint8_t cd_reader_byte(const cd_reader *r, uint16_t off) {
    return cd_reader_has(r, off, 1) ? cd_reader_slot(r, off)[0] : 0;
}
static inline int32_t cd_reader_i32(const cd_reader *r, uint16_t off) {
    return cd_reader_has(r, off, 4) ? (int32_t)cd_get32(cd_reader_slot(r, off))
                                    : CD_SHORT_NULL;
}
/* int and datetime fields. */
static inline int64_t cd_reader_i64(const cd_reader *r, uint16_t off) {
    return cd_reader_has(r, off, 8) ? (int64_t)cd_get64(cd_reader_slot(r, off))
                                    : CD_INT_NULL;
}
static inline float cd_reader_f32(const cd_reader *r, uint16_t off) {
    uint32_t bits = cd_reader_has(r, off, 4) ? cd_get32(cd_reader_slot(r, off))
                                             : CD_FLOAT_NULL_BITS;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
static inline double cd_reader_f64(const cd_reader *r, uint16_t off) {
    uint64_t bits = cd_reader_has(r, off, 8) ? cd_get64(cd_reader_slot(r, off))
                                             : CD_DOUBLE_NULL_BITS;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
/*
 * The string item at offset off of the record rec[0, len): 1 with *s
 * (NUL-terminated, in the record) and its length *slen; 0 with *s NULL for
 * off 0 or an item that does not fit the record or lacks its terminator.
 * Inline, with cd_reader_string and cd_list_string: decoding a record
 * reads every string through it.
 */
static inline int cd_string_item(const uint8_t *rec, uint32_t len, uint32_t off,
                                 const char **s, uint32_t *slen) {
    uint64_t n;
    size_t vl;
    *s = NULL;
    *slen = 0;
    if (off == 0 || off >= len || !(vl = cd_varint_get(rec + off, rec + len, &n)))
        return 0;
    const uint8_t *p = rec + off + vl;
    if (n >= (uint64_t)(rec + len - p) || p[n] != 0)
        return 0;
    *s = (const char *)p;
    *slen = (uint32_t)n;
    return 1;
}
/* The offset a dynamic field's slot holds; 0 (null) beyond S. */
static inline uint32_t cd_reader_offset(const cd_reader *r, uint16_t off) {
    return cd_reader_has(r, off, CD_OFFSET_SIZE) ? cd_get32(cd_reader_slot(r, off)) : 0;
}
/*
 * Dynamic fields by static offset.  Each returns 1 and fills its output
 * when the field is present, 0 when it is null.  A string is returned as a
 * pointer into the record, NUL-terminated, and its length in bytes.
 * cd_reader_list needs the field's element type.
 */
static inline int cd_reader_string(const cd_reader *r, uint16_t off, const char **s,
                                   uint32_t *len) {
    return cd_string_item(r->rec, r->len, cd_reader_offset(r, off), s, len);
}
int cd_reader_list(const cd_reader *r, uint16_t off, uint8_t type, cd_list *out);
int cd_reader_object(const cd_reader *r, uint16_t off, cd_reader *sub);

/* List elements, 0 <= i < count (checked with ISLE_ASSERT). */
static inline const uint8_t *cd_list_elem(const cd_list *l, uint32_t i) {
    ISLE_ASSERT(i < l->count);
    return l->elems + (size_t)i * cd_type_size(l->type);
}
static inline uint8_t cd_list_bool(const cd_list *l, uint32_t i) {
    return cd_list_elem(l, i)[0];
}
static inline uint8_t cd_list_byte(const cd_list *l, uint32_t i) {
    return cd_list_elem(l, i)[0];
}
static inline int32_t cd_list_i32(const cd_list *l, uint32_t i) {
    return (int32_t)cd_get32(cd_list_elem(l, i));
}
static inline int64_t cd_list_i64(const cd_list *l, uint32_t i) {
    return (int64_t)cd_get64(cd_list_elem(l, i));
}
static inline float cd_list_f32(const cd_list *l, uint32_t i) {
    uint32_t bits = cd_get32(cd_list_elem(l, i));
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
static inline double cd_list_f64(const cd_list *l, uint32_t i) {
    uint64_t bits = cd_get64(cd_list_elem(l, i));
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
/* String and object elements: 1 and the element, or 0 for a null one. */
static inline int cd_list_string(const cd_list *l, uint32_t i, const char **s,
                                 uint32_t *len) {
    ISLE_ASSERT(l->type == CD_TYPE_STRING);
    return cd_string_item(l->rec, l->rec_len, cd_get32(cd_list_elem(l, i)), s, len);
}
int cd_list_object(const cd_list *l, uint32_t i, cd_reader *sub);

/* ---- writer: builds a record in a caller buffer -------------------------- */

/*
 * The writer writes one record into buf[0, cap).  Usage:
 *
 *   cd_writer_init(&w, buf, cap);       buf == NULL: count only (sizing)
 *   cd_writer_begin(&w, schema);        every slot starts out null
 *   cd_writer_i32(&w, off, v); ...      fixed-width fields: any order
 *   cd_writer_string(&w, off, s, n);    dynamic fields: increasing offset
 *   cd_writer_object_begin(&w, off, sub); ...fields of sub...;
 *   cd_writer_object_end(&w);
 *   rc = cd_writer_finish(&w, &len);
 *
 * Fixed-width setters write the slot of the record being written (the
 * innermost open object).  Dynamic fields (string, list, object) append
 * their item, so they must come in increasing static offset order, once
 * each; list elements of string and object lists in increasing index
 * order.  Null dynamic fields and elements need no call.
 *
 * Errors are sticky: after one, every call does nothing and returns it.
 * Each call returns CD_OK, CD_EINVAL (a bad value or a call out of order)
 * or CD_ETOOBIG (a limit of cd_limits.h); a short buffer is not an error
 * until cd_writer_finish: the writer keeps counting, so finish can report
 * CD_ENOMEM together with the size the record needs.
 */
typedef struct cd_wframe {
    size_t start;       /* where this record's first byte is in buf */
    size_t table;       /* open string/object list: where its offsets are */
    uint32_t count;     /* ... its element count */
    uint32_t next;      /* ... the lowest index that may be written next */
    uint32_t dyn_min;   /* the lowest offset a dynamic field may use next */
    uint16_t static_size;
    uint8_t list;       /* kind of the open list: 0 none, or its type */
} cd_wframe;

typedef struct cd_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;         /* bytes produced, counted on past cap */
    int err;            /* first CD_EINVAL or CD_ETOOBIG */
    uint8_t counting;   /* no buffer, or it overflowed: count only */
    uint8_t overflow;   /* the buffer was too short */
    unsigned depth;     /* open records */
    cd_wframe frame[CD_NEST_DEPTH_MAX];
} cd_writer;

/* The slot bits of a float or double: bit for bit, except that every NaN
 * is the canonical one (null). */
static inline uint32_t cd_f32_bits(float v) {
    uint32_t bits = CD_FLOAT_NULL_BITS;
    if (!isnan(v))
        memcpy(&bits, &v, sizeof bits);
    return bits;
}
static inline uint64_t cd_f64_bits(double v) {
    uint64_t bits = CD_DOUBLE_NULL_BITS;
    if (!isnan(v))
        memcpy(&bits, &v, sizeof bits);
    return bits;
}

/* Writes the start of every record of laid-out schema s into out: S and a
 * static section of nulls, CD_RECORD_HDR_SIZE + s->static_size bytes.
 * What cd_writer_begin writes; a caller that fills records itself copies
 * it (the API layer's fast encoding). */
void cd_record_head(const cd_schema *s, uint8_t *out);

void cd_writer_init(cd_writer *w, uint8_t *buf, size_t cap);
/* Starts the record: writes S and a static section of nulls.  CD_EINVAL if
 * the schema is not laid out or a record was already begun. */
int cd_writer_begin(cd_writer *w, const cd_schema *s);

/* Fixed-width slots.  CD_EINVAL if [off, off + size) is outside the static
 * section, or a bool is not CD_BOOL_NULL/FALSE/TRUE.  Float and double NaN
 * are written as the canonical NaN (null).  i64 serves int and datetime. */
int cd_writer_bool(cd_writer *w, uint16_t off, uint8_t v);
int cd_writer_byte(cd_writer *w, uint16_t off, uint8_t v);
int cd_writer_i32(cd_writer *w, uint16_t off, int32_t v);
int cd_writer_i64(cd_writer *w, uint16_t off, int64_t v);
int cd_writer_f32(cd_writer *w, uint16_t off, float v);
int cd_writer_f64(cd_writer *w, uint16_t off, double v);

/*
 * A string field: s[0, n) must be UTF-8 without NUL (CD_EINVAL) and n <=
 * CD_STRING_LEN_MAX (CD_ETOOBIG).  s == NULL (with n == 0) leaves it null.
 */
int cd_writer_string(cd_writer *w, uint16_t off, const char *s, size_t n);
/*
 * Lists of fixed-width elements, from C arrays of n elements (v may be NULL
 * when n == 0).  Bool elements are 0/1/2 (CD_EINVAL otherwise); i64 serves
 * int and datetime lists.  CD_ETOOBIG if n > CD_LIST_LEN_MAX.
 */
int cd_writer_list_bool(cd_writer *w, uint16_t off, const uint8_t *v, uint32_t n);
int cd_writer_list_byte(cd_writer *w, uint16_t off, const uint8_t *v, uint32_t n);
int cd_writer_list_i32(cd_writer *w, uint16_t off, const int32_t *v, uint32_t n);
int cd_writer_list_i64(cd_writer *w, uint16_t off, const int64_t *v, uint32_t n);
int cd_writer_list_f32(cd_writer *w, uint16_t off, const float *v, uint32_t n);
int cd_writer_list_f64(cd_writer *w, uint16_t off, const double *v, uint32_t n);
/*
 * A list of n strings: begin, then cd_writer_strings_item for the non-null
 * elements in increasing index order (s == NULL skips one: it stays null).
 * The list stays open until the next dynamic field of its record.
 */
int cd_writer_strings_begin(cd_writer *w, uint16_t off, uint32_t n);
int cd_writer_strings_item(cd_writer *w, uint32_t i, const char *s, size_t n);
/*
 * An embedded object: object_begin opens a nested record of schema sub in
 * the slot at off; the setters then write its fields; object_end closes
 * it.  A list of n objects: objects_begin, then for each non-null element
 * in increasing index order objects_item ... object_end.  CD_ETOOBIG if
 * records would nest deeper than CD_NEST_DEPTH_MAX.
 */
int cd_writer_object_begin(cd_writer *w, uint16_t off, const cd_schema *sub);
int cd_writer_objects_begin(cd_writer *w, uint16_t off, uint32_t n);
int cd_writer_objects_item(cd_writer *w, uint32_t i, const cd_schema *sub);
int cd_writer_object_end(cd_writer *w);
/*
 * Ends the record and sets *len to its size.  Returns CD_OK; the first
 * CD_EINVAL or CD_ETOOBIG (*len = 0; the buffer holds nothing meaningful);
 * CD_EINVAL if objects are still open or no record was begun; or CD_ENOMEM
 * if cap was too small, with *len the size needed.  With buf == NULL it
 * returns CD_OK and the size the record takes.
 */
int cd_writer_finish(cd_writer *w, size_t *len);

/* ---- value trees ------------------------------------------------------- */

/*
 * A generic value.  type and is_list are the field's (for a list element,
 * the list's element type and 0).  is_null marks a null; a fixed-width
 * value holding its type's null (INT32_MIN, NaN, ...) is also null, since
 * that is how it is stored.  A byte is never null.  A bool is b = 0 (false)
 * or 1 (true).  Strings need not be NUL-terminated when encoded; decoded
 * ones point into the record and are.  An object holds one value per field
 * of its schema, in field order.
 */
typedef struct cd_value {
    uint8_t type;
    uint8_t is_list;
    uint8_t is_null;
    union {
        uint8_t b;
        uint8_t u8;
        int32_t i32;
        int64_t i64; /* int and datetime */
        float f32;
        double f64;
        struct {
            const char *ptr;
            uint32_t len;
        } str;
        struct {
            const struct cd_value *items;
            uint32_t count;
        } list;
        struct {
            const struct cd_value *fields;
            uint32_t count;
        } obj;
    } u;
} cd_value;

/* A bump allocator over caller memory: decoded trees live in one. */
typedef struct cd_arena {
    uint8_t *base;
    size_t cap, used;
} cd_arena;

/* size bytes aligned to align (a power of two), or NULL if they don't fit. */
void *cd_arena_alloc(cd_arena *a, size_t size, size_t align);

/*
 * Size of the record that encodes values (one per field of s): CD_OK and
 * *size, or the error cd_record_encode would return.
 */
int cd_record_encoded_size(const cd_schema *s, const cd_value *values,
                           size_t *size);
/*
 * Encodes values (one per field of s) into buf[0, cap) and sets *len.
 * Returns CD_OK; CD_EINVAL for a value that does not match its field's
 * type, a null byte, a bool other than 0/1, bad UTF-8 or a NUL in a string,
 * an object whose field count is not its schema's, a schema not laid out;
 * CD_ETOOBIG for a string, list, record or nesting over its limit;
 * CD_ENOMEM if cap is too small, with *len the size needed.
 */
int cd_record_encode(const cd_schema *s, const cd_value *values, uint8_t *buf,
                     size_t cap, size_t *len);
/*
 * Checks that rec[0, len) is one valid record against s (see the rules
 * above).  Returns CD_OK, CD_ECORRUPT (and fills *diag when non-NULL; the
 * offset counts from rec), or CD_EINVAL if a schema is not laid out.
 */
int cd_record_validate(const cd_schema *s, const uint8_t *rec, size_t len,
                       cd_diag *diag);
/*
 * Validates and decodes rec[0, len) into a tree allocated from arena:
 * *values gets one value per field of s.  Strings point into rec.  Fields
 * beyond the record's static section decode as null (a byte as 0).
 * Returns what cd_record_validate does, or CD_ENOMEM if the arena is too
 * small; on any error the arena is left as it was.
 */
int cd_record_decode(const cd_schema *s, const uint8_t *rec, size_t len,
                     cd_arena *arena, cd_value **values, cd_diag *diag);

/*
 * 1 iff two values are equal as stored: same type and list flag, both null
 * (a fixed-width sentinel counts as null), or equal contents (floats bit
 * for bit).  For trees, not graphs: a cycle recurses without end.
 */
int cd_value_equal(const cd_value *a, const cd_value *b);
/* 1 iff two arrays of n values are pairwise equal. */
int cd_values_equal(const cd_value *a, const cd_value *b, size_t n);

/* Value constructors. */
static inline cd_value cd_val_null(uint8_t type, int is_list) {
    cd_value v = {.type = type, .is_list = (uint8_t)(is_list != 0), .is_null = 1};
    return v;
}
static inline cd_value cd_val_bool(int b) {
    cd_value v = {.type = CD_TYPE_BOOL, .u.b = (uint8_t)(b != 0)};
    return v;
}
static inline cd_value cd_val_byte(uint8_t x) {
    cd_value v = {.type = CD_TYPE_BYTE, .u.u8 = x};
    return v;
}
static inline cd_value cd_val_short(int32_t x) {
    cd_value v = {.type = CD_TYPE_SHORT, .is_null = x == CD_SHORT_NULL, .u.i32 = x};
    return v;
}
static inline cd_value cd_val_int(int64_t x) {
    cd_value v = {.type = CD_TYPE_INT, .is_null = x == CD_INT_NULL, .u.i64 = x};
    return v;
}
static inline cd_value cd_val_datetime(int64_t us) {
    cd_value v = {.type = CD_TYPE_DATETIME, .is_null = us == CD_DATETIME_NULL,
                  .u.i64 = us};
    return v;
}
static inline cd_value cd_val_float(float x) {
    cd_value v = {.type = CD_TYPE_FLOAT, .is_null = isnan(x) != 0, .u.f32 = x};
    return v;
}
static inline cd_value cd_val_double(double x) {
    cd_value v = {.type = CD_TYPE_DOUBLE, .is_null = isnan(x) != 0, .u.f64 = x};
    return v;
}
static inline cd_value cd_val_string(const char *s, uint32_t len) {
    cd_value v = {.type = CD_TYPE_STRING, .is_null = s == NULL,
                  .u.str = {.ptr = s, .len = len}};
    return v;
}
static inline cd_value cd_val_list(uint8_t type, const cd_value *items,
                                   uint32_t count) {
    cd_value v = {.type = type, .is_list = 1, .u.list = {.items = items, .count = count}};
    return v;
}
static inline cd_value cd_val_object(const cd_value *fields, uint32_t count) {
    cd_value v = {.type = CD_TYPE_OBJECT, .u.obj = {.fields = fields, .count = count}};
    return v;
}

#endif /* ISLE_CD_RECORD_H */
