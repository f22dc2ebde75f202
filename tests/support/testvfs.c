/*
 * testvfs.c: the in-memory, fault-injecting vfs of testvfs.h.  A file is a
 * node with its current image, its durable image and the operations made
 * since its last sync; a crash rebuilds the current image from the durable
 * one.  Uses os.h (the ops table and os_err_set) and pthreads.
 */
#define _POSIX_C_SOURCE 200809L

#include "testvfs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512u

typedef struct tv_op {
    int is_write;  /* 1: write data at off; 0: truncate to off */
    uint64_t off;
    size_t len;
    uint8_t *data;
} tv_op;

typedef struct tv_node {
    char *path;
    uint8_t *data;      /* what the process sees */
    size_t len, cap;
    uint8_t *durable;   /* what survives a power loss */
    size_t dlen;
    tv_op *ops;         /* since the last sync, in order */
    size_t nops, ops_cap;
    uint64_t syncs;
    int locked;
    int unlinked; /* removed: invisible to names, freed at testvfs_free */
    struct tv_node *next;
} tv_node;

typedef struct tv_file {
    os_file base;
    testvfs *t;
    tv_node *node;
    int writable;
    int dead;
    int holds_lock;
    struct tv_file *next;
} tv_file;

typedef struct tv_fault {
    uint64_t at; /* fail the call whose count reaches this; 0 = none */
    int err;
    int sticky;
} tv_fault;

struct testvfs {
    os_vfs vfs; /* first: testvfs_of casts back */
    pthread_mutex_t mu;
    tv_node *nodes;
    tv_file *files;
    uint64_t rng;
    uint64_t count[TESTVFS_OP_COUNT];
    tv_fault fault[TESTVFS_OP_COUNT];
    uint64_t live_allocs;
};

static uint64_t rng_next(testvfs *t) {
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Counts a call of op; returns the planned failure status or 0. */
static int tick(testvfs *t, enum testvfs_op op) {
    uint64_t n = ++t->count[op];
    tv_fault *f = &t->fault[op];
    if (f->at == 0 || n < f->at)
        return 0;
    if (n == f->at || f->sticky)
        return f->err;
    return 0;
}

static tv_node *node_find(testvfs *t, const char *path) {
    for (tv_node *n = t->nodes; n; n = n->next)
        if (!n->unlinked && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

static void node_clear_ops(tv_node *n) {
    for (size_t i = 0; i < n->nops; i++)
        free(n->ops[i].data);
    n->nops = 0;
}

static void node_free(tv_node *n) {
    node_clear_ops(n);
    free(n->ops);
    free(n->data);
    free(n->durable);
    free(n->path);
    free(n);
}

/* Resizes an image to len bytes, zero-filling growth. */
static void image_resize(uint8_t **img, size_t *len, size_t *cap, size_t nl) {
    if (cap && nl > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < nl)
            c *= 2;
        *img = realloc(*img, c);
        *cap = c;
    } else if (!cap) {
        *img = realloc(*img, nl ? nl : 1);
    }
    if (nl > *len)
        memset(*img + *len, 0, nl - *len);
    *len = nl;
}

static void image_write(uint8_t **img, size_t *len, size_t *cap, uint64_t off,
                        const uint8_t *src, size_t n) {
    if (n == 0)
        return;
    if (off + n > *len)
        image_resize(img, len, cap, (size_t)off + n);
    memcpy(*img + off, src, n);
}

static void op_record(tv_node *n, int is_write, uint64_t off,
                      const void *src, size_t len) {
    if (n->nops == n->ops_cap) {
        n->ops_cap = n->ops_cap ? 2 * n->ops_cap : 16;
        n->ops = realloc(n->ops, n->ops_cap * sizeof *n->ops);
    }
    tv_op *op = &n->ops[n->nops++];
    op->is_write = is_write;
    op->off = off;
    op->len = len;
    op->data = NULL;
    if (is_write) {
        op->data = malloc(len ? len : 1);
        memcpy(op->data, src, len);
    }
}

/* ---- the ops table ---------------------------------------------------- */

static int tv_open(os_vfs *vfs, const char *path, unsigned flags,
                   os_file **out, os_err *err) {
    testvfs *t = (testvfs *)vfs;
    pthread_mutex_lock(&t->mu);
    int rc = tick(t, TESTVFS_OPEN);
    tv_node *n = node_find(t, path);
    if (rc == 0 && !n && !(flags & OS_OPEN_CREATE))
        rc = CD_ENOTFOUND;
    if (rc) {
        pthread_mutex_unlock(&t->mu);
        return os_err_set(err, rc, 0, "open", path, "injected or missing");
    }
    if (!n) {
        n = calloc(1, sizeof *n);
        n->path = strdup(path);
        n->next = t->nodes;
        t->nodes = n;
    }
    tv_file *f = calloc(1, sizeof *f);
    f->base.vfs = vfs;
    f->t = t;
    f->node = n;
    f->writable = (flags & (OS_OPEN_RDWR | OS_OPEN_CREATE)) != 0;
    f->next = t->files;
    t->files = f;
    *out = &f->base;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static int tv_close(os_file *of) {
    tv_file *f = (tv_file *)of;
    testvfs *t = f->t;
    pthread_mutex_lock(&t->mu);
    if (f->holds_lock && !f->dead)
        f->node->locked = 0;
    for (tv_file **pp = &t->files; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    free(f);
    return 0;
}

/* Common entry of a file operation: counts it and checks the handle. */
static int file_enter(tv_file *f, enum testvfs_op op, const char *name) {
    pthread_mutex_lock(&f->t->mu);
    int rc = op < TESTVFS_OP_COUNT ? tick(f->t, op) : 0;
    if (!rc && f->dead)
        rc = CD_EIO;
    if (rc)
        os_err_set(&f->base.err, rc, 0, name, f->node->path,
                   f->dead ? "file died in a simulated crash" : "injected");
    return rc;
}

static int tv_read(os_file *of, uint64_t off, void *buf, size_t len,
                   size_t *got) {
    tv_file *f = (tv_file *)of;
    int rc = file_enter(f, TESTVFS_READ, "read");
    if (rc == 0) {
        tv_node *n = f->node;
        size_t have = off < n->len ? n->len - (size_t)off : 0;
        size_t k = have < len ? have : len;
        if (k)
            memcpy(buf, n->data + off, k);
        if (got)
            *got = k;
        else if (k < len)
            rc = os_err_set(&of->err, CD_EIO, 0, "read", n->path,
                            "unexpected end of file");
    }
    pthread_mutex_unlock(&f->t->mu);
    return rc;
}

static int tv_write(os_file *of, uint64_t off, const void *buf, size_t len) {
    tv_file *f = (tv_file *)of;
    int rc = file_enter(f, TESTVFS_WRITE, "write");
    if (rc == 0 && !f->writable)
        rc = os_err_set(&of->err, CD_EIO, 0, "write", f->node->path,
                        "read-only handle");
    if (rc == 0) {
        tv_node *n = f->node;
        image_write(&n->data, &n->len, &n->cap, off, buf, len);
        op_record(n, 1, off, buf, len);
    }
    pthread_mutex_unlock(&f->t->mu);
    return rc;
}

static int tv_sync(os_file *of) {
    tv_file *f = (tv_file *)of;
    int rc = file_enter(f, TESTVFS_SYNC, "sync");
    if (rc == 0) {
        tv_node *n = f->node;
        n->durable = realloc(n->durable, n->len ? n->len : 1);
        memcpy(n->durable, n->data, n->len);
        n->dlen = n->len;
        node_clear_ops(n);
        n->syncs++;
    }
    pthread_mutex_unlock(&f->t->mu);
    return rc;
}

static int tv_truncate(os_file *of, uint64_t size) {
    tv_file *f = (tv_file *)of;
    int rc = file_enter(f, TESTVFS_TRUNCATE, "truncate");
    if (rc == 0) {
        tv_node *n = f->node;
        image_resize(&n->data, &n->len, &n->cap, (size_t)size);
        op_record(n, 0, size, NULL, 0);
    }
    pthread_mutex_unlock(&f->t->mu);
    return rc;
}

/* A hint only: counted, and nothing becomes durable. */
static void tv_writeback(os_file *of, uint64_t off, uint64_t len) {
    tv_file *f = (tv_file *)of;
    (void)off, (void)len;
    (void)file_enter(f, TESTVFS_WRITEBACK, "writeback");
    pthread_mutex_unlock(&f->t->mu);
}

static int tv_size(os_file *of, uint64_t *size) {
    tv_file *f = (tv_file *)of;
    int rc = file_enter(f, TESTVFS_OP_COUNT, "size");
    if (rc == 0)
        *size = f->node->len;
    pthread_mutex_unlock(&f->t->mu);
    return rc;
}

static int tv_lock(os_file *of) {
    tv_file *f = (tv_file *)of;
    int rc = file_enter(f, TESTVFS_OP_COUNT, "lock");
    if (rc == 0 && !f->holds_lock) {
        if (f->node->locked)
            rc = os_err_set(&of->err, CD_EBUSY, 0, "lock", f->node->path,
                            "locked by another open of the file");
        else
            f->node->locked = f->holds_lock = 1;
    }
    pthread_mutex_unlock(&f->t->mu);
    return rc;
}

static int tv_remove(os_vfs *vfs, const char *path, os_err *err) {
    testvfs *t = (testvfs *)vfs;
    pthread_mutex_lock(&t->mu);
    tv_node *n = node_find(t, path);
    int rc = n ? 0 : CD_ENOTFOUND;
    /* Only the name goes; open handles keep the node until testvfs_free. */
    if (n)
        n->unlinked = 1;
    pthread_mutex_unlock(&t->mu);
    return rc ? os_err_set(err, rc, 0, "remove", path, "no such file") : 0;
}

static int tv_exists(os_vfs *vfs, const char *path, int *exists,
                     os_err *err) {
    (void)err;
    testvfs *t = (testvfs *)vfs;
    pthread_mutex_lock(&t->mu);
    *exists = node_find(t, path) != NULL;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static int tv_sync_dir(os_vfs *vfs, const char *path, os_err *err) {
    (void)vfs, (void)path, (void)err;
    return 0; /* names are always durable here */
}

static int tv_random(os_vfs *vfs, void *buf, size_t len) {
    testvfs *t = (testvfs *)vfs;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)rng_next(t);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

/* Blocks carry a 16-byte prefix so that frees can be counted. */
static void *tv_alloc(os_vfs *vfs, size_t size) {
    testvfs *t = (testvfs *)vfs;
    pthread_mutex_lock(&t->mu);
    int rc = tick(t, TESTVFS_ALLOC);
    uint8_t *p = rc ? NULL : malloc(size + 16);
    if (p)
        t->live_allocs++;
    pthread_mutex_unlock(&t->mu);
    return p ? p + 16 : NULL;
}

static void tv_free(os_vfs *vfs, void *p) {
    testvfs *t = (testvfs *)vfs;
    if (!p)
        return;
    pthread_mutex_lock(&t->mu);
    t->live_allocs--;
    pthread_mutex_unlock(&t->mu);
    free((uint8_t *)p - 16);
}

/* ---- control ---------------------------------------------------------- */

testvfs *testvfs_new(uint64_t seed) {
    testvfs *t = calloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->rng = seed;
    t->vfs = (os_vfs){
        .name = "testvfs", .open = tv_open, .close = tv_close,
        .read = tv_read, .write = tv_write, .sync = tv_sync,
        .truncate = tv_truncate, .size = tv_size, .lock = tv_lock,
        .remove = tv_remove, .exists = tv_exists, .sync_dir = tv_sync_dir,
        .random = tv_random, .alloc = tv_alloc, .free = tv_free,
        .writeback = tv_writeback,
    };
    return t;
}

void testvfs_free(testvfs *t) {
    while (t->files) {
        tv_file *f = t->files;
        t->files = f->next;
        free(f);
    }
    while (t->nodes) {
        tv_node *n = t->nodes;
        t->nodes = n->next;
        node_free(n);
    }
    pthread_mutex_destroy(&t->mu);
    free(t);
}

os_vfs *testvfs_vfs(testvfs *t) { return &t->vfs; }
testvfs *testvfs_of(os_vfs *vfs) { return (testvfs *)vfs; }

void testvfs_fail(testvfs *t, enum testvfs_op op, uint64_t nth, int err,
                  int sticky) {
    pthread_mutex_lock(&t->mu);
    t->fault[op] = (tv_fault){t->count[op] + nth, err, sticky};
    pthread_mutex_unlock(&t->mu);
}

void testvfs_fail_clear(testvfs *t) {
    pthread_mutex_lock(&t->mu);
    memset(t->fault, 0, sizeof t->fault);
    pthread_mutex_unlock(&t->mu);
}

uint64_t testvfs_count(testvfs *t, enum testvfs_op op) {
    pthread_mutex_lock(&t->mu);
    uint64_t n = t->count[op];
    pthread_mutex_unlock(&t->mu);
    return n;
}

uint64_t testvfs_file_syncs(testvfs *t, const char *path) {
    pthread_mutex_lock(&t->mu);
    tv_node *n = node_find(t, path);
    uint64_t s = n ? n->syncs : 0;
    pthread_mutex_unlock(&t->mu);
    return s;
}

uint64_t testvfs_live_allocs(testvfs *t) {
    pthread_mutex_lock(&t->mu);
    uint64_t n = t->live_allocs;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* Applies the torn prefix of a write: whole sectors, on file offsets. */
static void apply_torn(tv_node *n, const tv_op *op, uint64_t keep_sectors) {
    uint64_t end = op->off;
    uint64_t stop = op->off + op->len;
    for (uint64_t s = 0; s < keep_sectors && end < stop; s++)
        end = (end / SECTOR + 1) * SECTOR < stop ? (end / SECTOR + 1) * SECTOR
                                                 : stop;
    if (end > op->off)
        image_write(&n->durable, &n->dlen, NULL, op->off, op->data,
                    (size_t)(end - op->off));
}

/* Sectors a write touches. */
static uint64_t op_sectors(const tv_op *op) {
    if (op->len == 0)
        return 0;
    return (op->off + op->len - 1) / SECTOR - op->off / SECTOR + 1;
}

static void node_crash(testvfs *t, tv_node *n, enum testvfs_crash_mode mode) {
    if (mode == TESTVFS_TORN && n->nops) {
        size_t torn = (size_t)(rng_next(t) % n->nops);
        for (size_t i = 0; i < n->nops; i++) {
            tv_op *op = &n->ops[i];
            if (!op->is_write) {
                if (rng_next(t) & 1)
                    image_resize(&n->durable, &n->dlen, NULL, (size_t)op->off);
            } else if (i == torn && op_sectors(op) > 0) {
                apply_torn(n, op, rng_next(t) % op_sectors(op));
            } else if (rng_next(t) & 1) {
                image_write(&n->durable, &n->dlen, NULL, op->off, op->data,
                            op->len);
            }
        }
    }
    node_clear_ops(n);
    n->len = 0;
    image_write(&n->data, &n->len, &n->cap, 0, n->durable, n->dlen);
    n->len = n->dlen;
    n->locked = 0;
}

void testvfs_crash(testvfs *t, enum testvfs_crash_mode mode) {
    pthread_mutex_lock(&t->mu);
    for (tv_file *f = t->files; f; f = f->next)
        f->dead = 1;
    for (tv_node *n = t->nodes; n; n = n->next)
        node_crash(t, n, mode);
    pthread_mutex_unlock(&t->mu);
}

uint8_t *testvfs_file_get(testvfs *t, const char *path, size_t *len) {
    pthread_mutex_lock(&t->mu);
    tv_node *n = node_find(t, path);
    uint8_t *copy = NULL;
    if (n) {
        copy = malloc(n->len ? n->len : 1);
        memcpy(copy, n->data, n->len);
        *len = n->len;
    }
    pthread_mutex_unlock(&t->mu);
    return copy;
}

void testvfs_file_set(testvfs *t, const char *path, const void *data,
                      size_t len) {
    pthread_mutex_lock(&t->mu);
    tv_node *n = node_find(t, path);
    if (!n) {
        n = calloc(1, sizeof *n);
        n->path = strdup(path);
        n->next = t->nodes;
        t->nodes = n;
    }
    node_clear_ops(n);
    n->len = 0;
    image_write(&n->data, &n->len, &n->cap, 0, data, len);
    n->len = len;
    n->dlen = 0;
    image_write(&n->durable, &n->dlen, NULL, 0, data, len);
    n->dlen = len;
    pthread_mutex_unlock(&t->mu);
}
