// The per-namespace route netlink socket.
#include <cerrno>

#include <netlink/socket.h>

#include "netlink/internal.h"

namespace nl {

Socket::~Socket() {
    if (sk_) nl_socket_free(sk_);
}

Socket::Socket(Socket&& o) noexcept : sk_(o.sk_) { o.sk_ = nullptr; }

Socket& Socket::operator=(Socket&& o) noexcept {
    if (this != &o) {
        if (sk_) nl_socket_free(sk_);
        sk_ = o.sk_;
        o.sk_ = nullptr;
    }
    return *this;
}

Error Socket::open(Socket& out) {
    nl_sock* sk = nl_socket_alloc();
    if (!sk) return detail::sysFail(ENOMEM, "allocate a netlink socket");
    if (int r = nl_connect(sk, NETLINK_ROUTE); r < 0) {
        nl_socket_free(sk);
        return detail::fail(r, "open a netlink socket");
    }
    detail::setupSocket(sk);
    out = Socket();
    out.sk_ = sk;
    return {};
}

Error Socket::openIn(const Netns& ns, Socket& out) {
    NetnsGuard g(ns);
    if (g.error()) return g.error();
    return open(out);
}

}  // namespace nl
