/* The allocator of the musl static cnibox (packaging/build-static.sh).
 *
 * A plugin process lives for a millisecond or so and allocates a few hundred
 * kilobytes. musl's own malloc returns every emptied group of blocks to the
 * kernel at once, so such a process spends much of its time in mmap, munmap
 * and the page faults after them (a bridge ADD: ~170 of its ~480 syscalls,
 * with libnl's 64 KiB receive buffers allocated and freed per message).
 * This one keeps what it gets:
 *   - blocks of 16 B .. 256 KiB in power-of-two classes, each with a 16-byte
 *     header naming its class; freed blocks go on their class's list;
 *   - fresh blocks are carved from arenas mapped 1 MiB (or more) at a time;
 *   - larger blocks are mapped one by one, page-aligned behind a header page,
 *     and unmapped on free.
 * Memory goes back to the kernel when the process exits. A pointer that
 * this allocator did not hand out (musl gives a few internal ones out of its
 * own simple allocator) is left alone by free(). One lock makes it safe
 * under threads. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HDR 16u
#define MIN_SHIFT 4u  /* 16 B */
#define MAX_SHIFT 18u /* 256 KiB */
#define NCLASS (MAX_SHIFT - MIN_SHIFT + 1u)
#define ARENA_MIN (1u << 20)
#define MAX_ARENAS 64u
#define LARGE_MAGIC 0x6c617267u /* "larg" */
#define ALIGNED_MAGIC 0x616c6967u /* "alig" */

struct hdr {
    uint32_t magic;  /* class blocks: their class index; else a *_MAGIC */
    uint32_t pad;
    size_t size;     /* large: mapping length; aligned: offset to the real block */
};

struct free_block {
    struct free_block *next;
};

static struct free_block *free_list[NCLASS];
static char *arena_cur, *arena_end;
static struct {
    char *base, *end;
} arenas[MAX_ARENAS];
static unsigned n_arenas;
static volatile int lock_word;

static void lock(void) {
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static unsigned class_of(size_t n) {
    unsigned c = 0;
    size_t cap = (size_t)1 << MIN_SHIFT;
    while (cap < n) {
        cap <<= 1;
        c++;
    }
    return c;
}

static size_t class_size(unsigned c) { return (size_t)1 << (c + MIN_SHIFT); }

static int in_arena(const void *p) {
    for (unsigned i = 0; i < n_arenas; i++)
        if ((const char *)p >= arenas[i].base && (const char *)p < arenas[i].end) return 1;
    return 0;
}

static void *map(size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* with the lock held */
static void *carve(size_t len) {
    if ((size_t)(arena_end - arena_cur) < len) {
        if (n_arenas == MAX_ARENAS) return NULL;
        size_t alen = (size_t)ARENA_MIN << (n_arenas < 6 ? n_arenas : 6);
        if (alen < len) alen = len;
        char *a = map(alen);
        if (!a) return NULL;
        arenas[n_arenas].base = a;
        arenas[n_arenas].end = a + alen;
        n_arenas++;
        arena_cur = a;
        arena_end = a + alen;
    }
    void *p = arena_cur;
    arena_cur += len;
    return p;
}

#define PAGE 4096u

/* The block starts one page into its mapping; its header ends that page. */
static void *large_alloc(size_t n) {
    if (n > SIZE_MAX - 2 * PAGE) return NULL;
    size_t len = PAGE + ((n + PAGE - 1) & ~(size_t)(PAGE - 1));
    char *base = map(len);
    if (!base) return NULL;
    struct hdr *h = (struct hdr *)(base + PAGE - HDR);
    h->magic = LARGE_MAGIC;
    h->size = len;
    return base + PAGE;
}

static int is_large(void *p) {
    return ((uintptr_t)p & (PAGE - 1)) == 0 && ((struct hdr *)((char *)p - HDR))->magic == LARGE_MAGIC;
}

void *malloc(size_t n) {
    if (n > class_size(NCLASS - 1)) {
        void *p = large_alloc(n);
        if (!p) errno = ENOMEM;
        return p;
    }
    unsigned c = class_of(n ? n : 1);
    struct hdr *h;
    lock();
    struct free_block *f = free_list[c];
    if (f) {
        free_list[c] = f->next;
        h = (struct hdr *)((char *)f - HDR);
    } else {
        h = carve(HDR + class_size(c));
    }
    unlock();
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    h->magic = c;
    return (char *)h + HDR;
}

static struct hdr *header(void *p) { return (struct hdr *)((char *)p - HDR); }

void free(void *p) {
    if (!p) return;
    struct hdr *h = header(p);
    if (in_arena(p)) {
        if (h->magic == ALIGNED_MAGIC) {
            p = (char *)p - h->size;
            h = header(p);
        }
        if (h->magic >= NCLASS) return;
        struct free_block *f = p;
        lock();
        f->next = free_list[h->magic];
        free_list[h->magic] = f;
        unlock();
        return;
    }
    if (is_large(p)) munmap((char *)p - PAGE, h->size);
    /* else: not ours */
}

size_t malloc_usable_size(void *p) {
    if (!p) return 0;
    struct hdr *h = header(p);
    if (in_arena(p)) {
        if (h->magic == ALIGNED_MAGIC) {
            size_t off = h->size;
            return malloc_usable_size((char *)p - off) - off;
        }
        return h->magic < NCLASS ? class_size(h->magic) : 0;
    }
    if (is_large(p)) return h->size - PAGE;
    return 0;
}

void *calloc(size_t m, size_t n) {
    if (n && m > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    size_t len = m * n;
    void *p = malloc(len);
    if (p) memset(p, 0, len);
    return p;
}

void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    size_t have = malloc_usable_size(p);
    if (n <= have && (have <= 64 || n > have / 2)) return p;
    void *q = malloc(n);
    if (!q) return NULL;
    if (have) memcpy(q, p, have < n ? have : n);
    free(p);
    return q;
}

void *aligned_alloc(size_t align, size_t n) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    if (align <= HDR) return malloc(n);
    if (n > SIZE_MAX - align - HDR) {
        errno = ENOMEM;
        return NULL;
    }
    if (n + align + HDR > class_size(NCLASS - 1)) {
        /* large blocks are page-aligned */
        if (align > PAGE) {
            errno = EINVAL;
            return NULL;
        }
        return malloc(n > class_size(NCLASS - 1) ? n : class_size(NCLASS - 1) + 1);
    }
    /* an arena block big enough to hold an aligned one with a header before it */
    char *p = malloc(n + align + HDR);
    if (!p) return NULL;
    if (((uintptr_t)p & (align - 1)) == 0) return p;
    char *q = (char *)(((uintptr_t)p + HDR + align - 1) & ~(uintptr_t)(align - 1));
    struct hdr *h = header(q);
    h->magic = ALIGNED_MAGIC;
    h->size = (size_t)(q - p);
    return q;
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = aligned_alloc(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *memalign(size_t align, size_t n) { return aligned_alloc(align, n); }
