/* bits/c++config.h for the musl static build (packaging/build-static.sh).
 *
 * Debian's libstdc++ headers are configured for glibc. The static build puts
 * this file's directory ahead of them, so every C++ header that includes
 * <bits/c++config.h> sees what glibc would have declared and libstdc++'s
 * headers name (__GLIBC_PREREQ, __locale_t, the ctype class bits), and none
 * of the glibc-only functions it would otherwise call. */
#ifndef CNIBOX_MUSL_CXXCONFIG_H
#define CNIBOX_MUSL_CXXCONFIG_H
#include <features.h>
#ifndef __GLIBC_PREREQ
#define __GLIBC_PREREQ(maj, min) 0
#endif
struct __locale_struct;
typedef struct __locale_struct *__locale_t;
/* glibc's <ctype.h> class bits (little-endian), which bits/ctype_base.h
 * uses; musl's __ctype_b_loc() table has glibc's layout. */
enum {
    _ISupper = 1 << 8, _ISlower = 1 << 9, _ISalpha = 1 << 10, _ISdigit = 1 << 11,
    _ISxdigit = 1 << 12, _ISspace = 1 << 13, _ISprint = 1 << 14, _ISgraph = 1 << 15,
    _ISblank = 1 << 0, _IScntrl = 1 << 1, _ISpunct = 1 << 2, _ISalnum = 1 << 3
};
#endif
#include_next <bits/c++config.h>
/* glibc 2.30+ only */
#undef _GLIBCXX_USE_PTHREAD_COND_CLOCKWAIT
#undef _GLIBCXX_USE_PTHREAD_MUTEX_CLOCKLOCK
#undef _GLIBCXX_USE_PTHREAD_RWLOCK_CLOCKLOCK
