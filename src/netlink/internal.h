// Plumbing shared by the src/netlink/*.cpp files (not part of the API).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "netlink/netlink.h"

namespace nl::detail {

// ---- owning pointers for libnl objects
template <class T, void (*Free)(T*)>
struct Free_ {
    void operator()(T* p) const { Free(p); }
};
using LinkPtr = std::unique_ptr<rtnl_link, Free_<rtnl_link, rtnl_link_put>>;
using AddrPtr = std::unique_ptr<rtnl_addr, Free_<rtnl_addr, rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Free_<rtnl_route, rtnl_route_put>>;
using NeighPtr = std::unique_ptr<rtnl_neigh, Free_<rtnl_neigh, rtnl_neigh_put>>;
using NlAddrPtr = std::unique_ptr<nl_addr, Free_<nl_addr, nl_addr_put>>;
using MsgPtr = std::unique_ptr<nl_msg, Free_<nl_msg, nlmsg_free>>;

// ---- errors
// Installs the error callback and socket options every Socket gets.
void setupSocket(nl_sock* sk);
// The errno behind a libnl return code: the one the kernel sent when it
// matches `nlerr`, otherwise the closest errno.
int errnoOf(int nlerr);
// Code 999, "failed to <what>: <strerror>[ (<kernel extended ack>)]" (no
// extended ack for EEXIST/ENOENT/ESRCH/ENODEV), or
// "failed to <what>: <reason>" when a reason is given; the errno is the
// Error's errnum.
Error fail(int nlerr, std::string_view what, std::string_view reason = {});
// Same for a failed syscall (errno value `err`), with the given code.
Error sysFail(int err, std::string_view what, int code = util::kInternal);
// "eth0" for messages; "ifindex N" when the link cannot be named.
std::string linkLabel(nl_sock* sk, int index);
// Sends a dump request and calls `fn(obj, arg)` for every object parsed
// from the reply. Returns a libnl code (-NLE_DUMP_INTR: the kernel's set
// changed meanwhile, the results are inconsistent).
int dumpOnce(nl_sock* sk, nl_msg* req, void (*fn)(nl_object*, void*), void* arg);
// Sends `req` and hands each valid reply message to `onMsg(msg, arg)` (on a
// clone of the socket's callbacks) until the reply ends; 0 or a libnl error.
int requestOnce(nl_sock* sk, nl_msg* req, int (*onMsg)(nl_msg*, void*), void* arg);

// dumpOnce into `out` via `add(obj, out)`, retried when interrupted.
template <class T, class Add>
int dump(nl_sock* sk, nl_msg* req, std::vector<T>& out, Add add) {
    struct Ctx { std::vector<T>* out; Add* add; } ctx{&out, &add};
    auto fn = [](nl_object* o, void* p) {
        auto* c = static_cast<Ctx*>(p);
        (*c->add)(o, *c->out);
    };
    int r = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        out.clear();
        if ((r = dumpOnce(sk, req, fn, &ctx)) != -NLE_DUMP_INTR) break;
    }
    return r;
}

// ---- addresses
NlAddrPtr toNl(const util::IP& ip);
NlAddrPtr toNl(const util::IPNet& net);   // address with prefix length
std::optional<util::IP> fromNl(nl_addr* a);
// "aa:bb:cc:dd:ee:ff" -> AF_LLC address; null when malformed.
NlAddrPtr macToNl(std::string_view mac);
std::string macStr(nl_addr* a);

}  // namespace nl::detail
