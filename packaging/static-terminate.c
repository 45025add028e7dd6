/* Linked into the static cnibox only (packaging/build-static.sh).
 *
 * libstdc++'s default terminate handler, __gnu_cxx::__verbose_terminate_handler,
 * names the type of an uncaught exception by demangling it, and so brings the
 * whole C++ demangler (about 50 KB, a fifth of cnibox's own code) into every
 * static C++ program. cnibox lets no exception escape an applet; should
 * std::terminate ever run, this handler says so on stderr and aborts, which is
 * what the verbose one does, less the type name. (C linkage, mangled name:
 * this file is C so that it needs no C++ runtime of its own.) */
#include <stdlib.h>
#include <unistd.h>

void _ZN9__gnu_cxx27__verbose_terminate_handlerEv(void);

void _ZN9__gnu_cxx27__verbose_terminate_handlerEv(void) {
    static const char msg[] = "cnibox: terminate called (uncaught C++ exception)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    abort();
}
