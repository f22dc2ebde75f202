/*
 * en_queue.c: the built-in job queues behind en_queue_ops.  FIFO is a
 * linked list; PRIORITY is a binary heap ordered by (priority descending,
 * submission sequence ascending), so higher priorities run first and equal
 * ones in submission order.  Both are used under the writer's queue lock.
 */
#include <stdlib.h>

#include "en_int.h"

/* ---- FIFO ------------------------------------------------------------------ */

typedef struct fifo {
    en_job *head, *tail;
} fifo;

static int fifo_add(void *q, en_job *j) {
    fifo *f = q;
    j->link = NULL;
    if (f->tail)
        f->tail->link = j;
    else
        f->head = j;
    f->tail = j;
    return 0;
}

static en_job *fifo_next(void *q) {
    fifo *f = q;
    en_job *j = f->head;
    if (j && !(f->head = j->link))
        f->tail = NULL;
    return j;
}

/* Unlinks the first job matching (job, or name when job is NULL). */
static en_job *fifo_take(fifo *f, en_job *job, const char *name) {
    en_job *prev = NULL;
    for (en_job *j = f->head; j; prev = j, j = j->link) {
        if (job ? j != job : strcmp(j->name, name) != 0)
            continue;
        if (prev)
            prev->link = j->link;
        else
            f->head = j->link;
        if (f->tail == j)
            f->tail = prev;
        return j;
    }
    return NULL;
}

static int fifo_remove(void *q, en_job *job) { return fifo_take(q, job, "") != NULL; }
static en_job *fifo_remove_named(void *q, const char *name) { return fifo_take(q, NULL, name); }
static void fifo_quit(void *q) { (void)q; }

/* ---- priority heap ------------------------------------------------------------ */

typedef struct heap {
    en_job **a;
    uint32_t n, cap;
} heap;

/* 1 if a runs before b. */
static int before(const en_job *a, const en_job *b) {
    return a->priority != b->priority ? a->priority > b->priority : a->seq < b->seq;
}

static void heap_set(heap *h, uint32_t i, en_job *j) {
    h->a[i] = j;
    j->heap_idx = i;
}

static void sift_up(heap *h, uint32_t i) {
    en_job *j = h->a[i];
    while (i > 0 && before(j, h->a[(i - 1) / 2])) {
        heap_set(h, i, h->a[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(h, i, j);
}

static void sift_down(heap *h, uint32_t i) {
    en_job *j = h->a[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(h->a[c + 1], h->a[c]))
            c++;
        if (!before(h->a[c], j))
            break;
        heap_set(h, i, h->a[c]);
        i = c;
    }
    heap_set(h, i, j);
}

static int heap_add(void *q, en_job *j) {
    heap *h = q;
    if (h->n == h->cap) {
        uint32_t nc = h->cap ? h->cap * 2 : 64;
        en_job **na = realloc(h->a, (size_t)nc * sizeof *na);
        if (!na)
            return CD_ENOMEM;
        h->a = na;
        h->cap = nc;
    }
    heap_set(h, h->n++, j);
    sift_up(h, h->n - 1);
    return 0;
}

static void heap_delete(heap *h, uint32_t i) {
    en_job *last = h->a[--h->n];
    if (i == h->n)
        return;
    heap_set(h, i, last);
    sift_up(h, i);
    sift_down(h, last->heap_idx);
}

static en_job *heap_next(void *q) {
    heap *h = q;
    if (h->n == 0)
        return NULL;
    en_job *j = h->a[0];
    heap_delete(h, 0);
    return j;
}

static int heap_remove(void *q, en_job *job) {
    heap *h = q;
    if (job->heap_idx >= h->n || h->a[job->heap_idx] != job)
        return 0;
    heap_delete(h, job->heap_idx);
    return 1;
}

static en_job *heap_remove_named(void *q, const char *name) {
    heap *h = q;
    for (uint32_t i = 0; i < h->n; i++) {
        if (strcmp(h->a[i]->name, name) == 0) {
            en_job *j = h->a[i];
            heap_delete(h, i);
            return j;
        }
    }
    return NULL;
}

static void heap_quit(void *q) { (void)q; }

int en_queue_builtin(enum en_queue_kind kind, en_queue_ops *ops) {
    if (kind == EN_QUEUE_FIFO) {
        fifo *f = calloc(1, sizeof *f);
        if (!f)
            return CD_ENOMEM;
        *ops = (en_queue_ops){fifo_add, fifo_next, fifo_remove, fifo_remove_named,
                              fifo_quit, f};
        return 0;
    }
    heap *h = calloc(1, sizeof *h);
    if (!h)
        return CD_ENOMEM;
    *ops = (en_queue_ops){heap_add, heap_next, heap_remove, heap_remove_named, heap_quit, h};
    return 0;
}

void en_queue_builtin_free(en_queue_ops *ops) {
    if (ops->add == heap_add)
        free(((heap *)ops->q)->a);
    free(ops->q);
    ops->q = NULL;
}
