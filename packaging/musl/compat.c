/* Linked into the musl static cnibox only (packaging/build-static.sh).
 *
 * Debian's libstdc++.a, libgcc_eh.a and libnftnl.a were compiled against
 * glibc and reference a few glibc symbols musl does not define. Each is
 * given here with glibc's meaning. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

/* libstdc++ skips atomic reference counting when this is non-zero; glibc
 * keeps it up to date, musl has no such variable. 0: always atomic, which is
 * correct with or without threads. */
char __libc_single_threaded = 0;

/* glibc 2.35's fast path for the unwinder to find a PC's object. -1 means
 * "not found here"; cnibox builds with -fno-exceptions and never unwinds. */
struct dl_find_object;
int _dl_find_object(void *pc, struct dl_find_object *result);
int _dl_find_object(void *pc, struct dl_find_object *result) {
    (void)pc;
    (void)result;
    return -1;
}

/* std::random_device's source (libstdc++'s random.o comes in with its
 * string instantiations). musl 1.2.3 has no arc4random; the kernel's does. */
uint32_t arc4random(void);
uint32_t arc4random(void) {
    uint32_t v = 0;
    while (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
    }
    return v;
}

/* _FORTIFY_SOURCE's checked printf variants, as libnftnl.a calls them:
 * abort on a destination smaller than the bound (glibc's behaviour). */
int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...);
int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...) {
    (void)flag;
    if (slen < maxlen) abort();
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(s, maxlen, fmt, ap);
    va_end(ap);
    return r;
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}
