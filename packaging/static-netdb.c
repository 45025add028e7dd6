/* Linked into the static cnibox only (packaging/build-static.sh).
 *
 * libnl's archives reference the C library's name-service lookups:
 * nl_addr_info() calls getaddrinfo(), nl_addr_resolve() getnameinfo(),
 * nl_ip_proto2str() / nl_str2ip_proto() call getprotobynumber() /
 * getprotobyname(). In a static glibc program these can only work by loading
 * the shared NSS modules of the glibc they were linked against, at run time,
 * from the machine they run on; the linker warns about exactly that, and they
 * drag the whole NSS and dynamic-loader machinery into the binary. musl's
 * would bring its DNS resolver. cnibox never resolves names: these
 * definitions take the place of the C library's and fail as a machine
 * without a resolver or /etc/protocols would (libnl then prints protocols as
 * numbers). */
#include <netdb.h>
#include <stddef.h>

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    (void)node;
    (void)service;
    (void)hints;
    *res = NULL;
    return EAI_FAIL;
}

void freeaddrinfo(struct addrinfo *ai) { (void)ai; }

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                char *serv, socklen_t servlen, int flags) {
    (void)sa;
    (void)salen;
    (void)host;
    (void)hostlen;
    (void)serv;
    (void)servlen;
    (void)flags;
    return EAI_FAIL;
}

struct protoent *getprotobyname(const char *name) {
    (void)name;
    return NULL;
}

struct protoent *getprotobynumber(int proto) {
    (void)proto;
    return NULL;
}
