/*
 * coll_int.h: the internals of collections, shared by isle_schema.c (the
 * declared and stored schemas and the binding between them),
 * isle_coll_rec.c (structs to records and back, arenas) and isle_coll.c
 * (the operations).
 *
 * Where a collection lives.  All of isle's own trees have names starting
 * with CO_RESERVED_PREFIX, which isle_kv_open and isle_kv_drop refuse:
 *
 *   "_isle.meta"      per collection, keyed by a kind byte and its name:
 *                     CO_META_SCHEMA|name -> the stored schema
 *                     (isle_schema.c has its format), CO_META_STATE|name
 *                     -> the state below
 *   "_isle.c.NAME"    the objects of collection NAME, keyed by
 *                     cd_key_id_encode(id), each value one record
 *
 * State of a collection (value of CO_META_STATE|name), version 1:
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      1    version (1)
 *   1      7    zero
 *   8      8    max_id: the largest id stored since the last clear, or 0;
 *                 every stored id is <= max(max_id, 0), and the next
 *                 auto-increment id is max_id + 1
 *   16     8    count: the number of objects
 *
 * Uses engine/ (en.h) and codec/ (cd_record.h, cd_key.h).
 */
#ifndef ISLE_COLL_INT_H
#define ISLE_COLL_INT_H

#include "isle.h"

#include "cd_key.h"
#include "cd_record.h"
#include "en.h"

#define CO_RESERVED_PREFIX "_isle."
#define CO_META_TREE "_isle.meta"
#define CO_TREE_PREFIX "_isle.c."
#define CO_META_SCHEMA 0x01u /* written to disk: never renumber */
#define CO_META_STATE 0x02u
#define CO_STATE_VERSION 1u
#define CO_STATE_SIZE 24u
#define CO_SCHEMA_VERSION 1u
#define CO_COLL_MAGIC 0x69736c63u /* "islc": a live handle */

_Static_assert(sizeof(CO_TREE_PREFIX) - 1 + ISLE_NAME_MAX <= EN_NAME_MAX,
               "object tree names fit the engine's");
_Static_assert(ISLE_NAME_MAX <= 255, "names are stored with a one-byte length");
_Static_assert(ISLE_TYPES_MAX <= 0xffff, "type indexes are u16");
_Static_assert(ISLE_STRING_LEN_MAX == CD_STRING_LEN_MAX, "limits agree");
_Static_assert(ISLE_LIST_LEN_MAX == CD_LIST_LEN_MAX, "limits agree");
_Static_assert(ISLE_TYPE_BOOL == CD_TYPE_BOOL && ISLE_TYPE_BYTE == CD_TYPE_BYTE &&
                   ISLE_TYPE_SHORT == CD_TYPE_SHORT && ISLE_TYPE_INT == CD_TYPE_INT &&
                   ISLE_TYPE_FLOAT == CD_TYPE_FLOAT && ISLE_TYPE_DOUBLE == CD_TYPE_DOUBLE &&
                   ISLE_TYPE_DATETIME == CD_TYPE_DATETIME &&
                   ISLE_TYPE_STRING == CD_TYPE_STRING && ISLE_TYPE_OBJECT == CD_TYPE_OBJECT,
               "public type codes are the codec's");

/* How a bound field's C value converts (for a list: each element). */
enum co_kind {
    K_BOOL8 = 1, /* isle_bool: -1 null, 0, 1 */
    K_CBOOL,     /* _Bool: never null */
    K_BYTE,
    K_SHORT,
    K_INT,       /* int and datetime */
    K_FLOAT,
    K_DOUBLE,
    K_STRING,    /* char * */
    K_STRV,      /* isle_str */
    K_ENUM,
    K_OBJECT,
};

struct co_type;

/* One C field bound to its stored slot. */
typedef struct co_field {
    uint8_t kind;         /* enum co_kind */
    uint8_t list;
    uint8_t inline_obj;   /* an embedded struct held by value */
    uint8_t stype;        /* stored element type (CD_TYPE_*) */
    uint8_t enum_storage; /* ISLE_ENUM_* */
    uint8_t csize;        /* bytes of an enum's C member or element */
    uint8_t count_size;   /* lists: 4 or 8 */
    uint8_t count_signed;
    uint8_t enum_dense;   /* enum values are 0 .. count - 1 in order */
    uint16_t slot;        /* static offset in the stored record */
    size_t offset;        /* of the member */
    size_t count_offset;
    size_t elem_size;     /* lists: bytes of one C element */
    const struct co_type *obj;
    const isle_enum *en;
    const char *name;     /* stored name */
} co_field;

/* One step of a decode plan: a field's stored slot and C member. */
typedef struct co_op {
    uint32_t offset;
    uint16_t slot;
} co_op;

/* An object type bound to its stored layout. */
typedef struct co_type {
    const char *name;     /* stored name */
    const cd_schema *stored; /* every stored field: records are written with it */
    co_field *fields;     /* bound fields, by increasing slot */
    uint32_t nfields;
    uint8_t has_dynamic;  /* some bound field needs an arena to read */
    uint8_t has_alloc;    /* ... even with strings borrowed (co_decode) */
    /*
     * The decode plan, for a record whose static section has the stored
     * schema's full size (written with the current layout, so every slot
     * is there): the fields by how they read, in ops: n8 copied as 8
     * bytes (int, datetime, double), then n4 as 4 (short, float), n1 as 1
     * (byte), nstr strings (char *), nstrv strings (isle_str); rest, the
     * others, read one by one.  Older
     * records, and every record on a big-endian host, read field by field.
     * Within the 8-byte ops the last n8_double are doubles, within the
     * 4-byte ones the last n4_float floats: the fast encoding
     * (isle_coll_rec.c) stores the copied scalars by the same ops, then
     * the fields of enc_rest (the others, in field order, as variable
     * items must be written) one by one.
     */
    const co_op *ops;
    uint16_t n8, n4, n1, nstr, nstrv, n8_double, n4_float;
    const co_field **rest;
    uint32_t nrest;
    const co_field **enc_rest;
    uint32_t n_enc_rest;
    /* A type whose bound fields are scalars, strings, lists of strings
     * and embedded objects of such types is encoded without the writer,
     * from this copy of cd_record_head (isle_coll_rec.c); NULL for the
     * others (lists of other types, enums). */
    const uint8_t *enc_head;
    size_t size, align;   /* of the C struct */
} co_type;

struct isle_coll {
    uint32_t magic;
    en_db *db;
    en_tree objects, meta;
    const co_type *root;
    size_t id_offset;
    char name[ISLE_NAME_MAX + 1];
    char tree_name[EN_NAME_MAX + 1];
    uint8_t state_key[1 + ISLE_NAME_MAX]; /* CO_META_STATE | name */
    uint32_t key_len;
    isle_arena mem;      /* owns the binding */
};

/* ---- operations (isle_coll.c) ------------------------------------------- */

/* Checks the arguments every collection call shares: NULLs, a live
 * handle, a transaction of the handle's database. */
int co_args_ok(const char *fn, isle_txn *txn, const isle_coll *c);

/* A collection's state (see the table above); zero when the snapshot
 * predates the collection. */
typedef struct co_state {
    int64_t max_id;
    uint64_t count;
} co_state;
int co_state_load(en_txn *t, const isle_coll *c, co_state *st);

/* ---- arenas (isle_coll_rec.c) ------------------------------------------- */

/* size bytes aligned to align (a power of two) or NULL (out of memory);
 * never NULL for size 0.  Inline for the common case, room in the current
 * block: decoding a scan allocates every string of every object here. */
void *co_alloc_slow(isle_arena *a, size_t size, size_t align);
static inline void *co_alloc(isle_arena *a, size_t size, size_t align) {
    if (size && a->buf_) {
        size_t pad = (size_t)(-(uintptr_t)(a->buf_ + a->used_) & (align - 1));
        size_t left = a->cap_ - a->used_;
        if (pad <= left && size <= left - pad) {
            void *p = a->buf_ + a->used_ + pad;
            a->used_ += pad + size;
            a->spent_ += pad + size;
            return p;
        }
    }
    return co_alloc_slow(a, size, align);
}
typedef struct co_mark {
    void *cur;
    size_t used, spent;
} co_mark;
co_mark co_arena_mark(const isle_arena *a);
void co_arena_restore(isle_arena *a, co_mark m);
char *co_strdup(isle_arena *a, const char *s);

/* ---- schemas (isle_schema.c) -------------------------------------------- */

/*
 * The stored schema, in memory.  Type 0 is the collection.  Fields keep
 * their stored order (the record layout); obj is a type index for object
 * fields.
 */
typedef struct co_sfield {
    const char *name;
    uint8_t code;          /* cd_type_code: element type | CD_TYPE_LIST */
    uint8_t enum_storage;  /* 0 or ISLE_ENUM_* (informative) */
    uint16_t obj;          /* type index, or CO_NO_TYPE */
} co_sfield;
#define CO_NO_TYPE 0xffffu

typedef struct co_stype {
    const char *name;
    co_sfield *fields;
    uint32_t nfields, cap;
} co_stype;

typedef struct co_stored {
    co_stype *types;
    uint32_t ntypes, cap;
} co_stored;

/* Checks a collection declaration and everything it embeds; messages
 * name the type and field.  ISLE_EINVAL, ISLE_ETOOBIG. */
int co_schema_check(const isle_schema *s);
/* Parses a stored schema (allocating in a); ISLE_ECORRUPT. */
int co_stored_parse(const uint8_t *p, size_t len, const char *coll, isle_arena *a,
                    co_stored *out);
/*
 * Adds to st (empty for a new collection) what the declaration has and it
 * lacks; *changed tells whether anything was added.  ISLE_ESCHEMA for a
 * field whose stored type differs, ISLE_ETOOBIG, ISLE_ENOMEM.
 */
int co_stored_merge(co_stored *st, const isle_schema *s, isle_arena *a, int *changed);
/* Encodes st into a fresh heap buffer (*out, *len).  ISLE_ENOMEM. */
int co_stored_encode(const co_stored *st, uint8_t **out, size_t *len);
/* Builds one laid-out cd_schema per stored type in a (*out: type 0 first). */
int co_stored_layout(const co_stored *st, isle_arena *a, cd_schema **out);
/* Loads the stored schema of collection c in txn t into a. */
int co_stored_load(en_txn *t, const struct isle_coll *c, isle_arena *a, co_stored *out);
/* Builds the binding of declaration s to the merged st in a (the
 * handle's arena); *root is the collection's type. */
int co_bind(const co_stored *st, const isle_schema *s, isle_arena *a,
            const co_type **root);

/* ---- records (isle_coll_rec.c) ------------------------------------------ */

/* A growable encode buffer and the writer; reused across objects. */
typedef struct co_enc {
    uint8_t *buf;
    size_t cap;
    uint8_t *scratch;    /* converted list elements */
    size_t scratch_cap;
    int heap;            /* buf is malloc'd (else the caller's) */
    const char *coll;    /* for messages */
    cd_writer w;
} co_enc;

void co_enc_init(co_enc *e, uint8_t *buf, size_t cap, const char *coll);
void co_enc_free(co_enc *e);
/* Makes the buffer at least cap bytes.  ISLE_ENOMEM. */
int co_enc_reserve(co_enc *e, size_t cap);
/*
 * Encodes the object at obj into e->buf; *len gets its size.  ISLE_EINVAL
 * or ISLE_ETOOBIG with a message naming the field, ISLE_ENOMEM.
 */
int co_encode(co_enc *e, const co_type *t, const void *obj, size_t *len);
/*
 * Encodes the object at obj into buf (cap bytes) by co_encode's fast way
 * alone: 0 with *len, or -1 when co_encode must do it (a field that way
 * does not take, input it would refuse, or too little room).  Nothing is
 * reported.
 */
int co_encode_fast(const co_type *t, const void *obj, uint8_t *buf, size_t cap, size_t *len);
/*
 * Decodes rec into the struct at obj (its bound fields; not the id).
 * Strings are copied into the arena, or with borrow set point into rec
 * itself (each stored string ends with a NUL); lists and embedded objects
 * held by pointer are always built in the arena.  ISLE_ENOMEM (arena),
 * ISLE_EINVAL (arena NULL but needed), ISLE_ECORRUPT.
 */
int co_decode(const co_type *t, const uint8_t *rec, size_t len, void *obj,
              isle_arena *arena, const char *coll, int borrow);
/* Sets every bound field of the struct at obj to its null. */
void co_decode_null(const co_type *t, void *obj);

#endif /* ISLE_COLL_INT_H */
