// The nftables backend's plumbing: one NETLINK_NETFILTER socket per process
// (reopened when the process has moved to another network namespace), the
// request/dump and batch exchanges on it, and the process-wide lock file.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cni/error.h"

namespace nf::nft {

using cni::Error;

// One netlink message built by libnftnl, kept until the batch is sent, with
// a description of what it does for error messages ("add rule to chain X").
struct Msg {
    std::vector<char> buf;
    std::string what;
};

// Builds a message with `build` into a fresh buffer and trims it to its length.
Msg makeMsg(std::string what, const std::function<nlmsghdr*(char* buf)>& build);

class Socket {
public:
    Socket() = default;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() { release(); }

    // The process-wide socket for the current network namespace.
    static Error get(Socket*& out);

    uint32_t nextSeq() { return ++seq_; }

    // Sends one request (NLM_F_DUMP or a single GET) and calls `each` for every
    // object in the reply. A kernel error is returned in *kernelErr (e.g.
    // ENOENT) with an ok Error; transport failures are returned as Error.
    // Dumps interrupted by a concurrent change are repeated.
    Error query(Msg& req, const std::function<void(const nlmsghdr*)>& each, int* kernelErr);

    // Sends msgs as one NFNL batch (every message with NLM_F_ACK) and waits
    // for the kernel's answers. On a failure the batch was not applied and
    // the Error names the first failing message (its `what`) and the errno.
    Error batch(std::vector<Msg>& msgs, const std::string& context);

private:
    Error open();
    // Closes the socket. Closing a netfilter netlink socket makes the kernel
    // first finish destroying earlier transactions' objects (nf_tables'
    // NETLINK_URELEASE handler flushes its destroy work, an RCU grace period,
    // ~15 ms on some kernels, inside the commit mutex). When a batch of this
    // process deleted anything, or any process's did within the last 250 ms
    // (such batches stamp the lock file's mtime), the last reference is
    // handed to a short-lived child that waits a grace period and this
    // process's exit, then closes it: neither the caller nor other
    // processes' commits wait for the kernel's memory reclaim. The rules are
    // committed either way.
    void release();
    bool deferRelease_ = false;
    Error recvInto(std::vector<char>& buf, ssize_t& n, bool wait);
    int fd_ = -1;
    uint32_t portid_ = 0;
    uint32_t seq_ = 0;
    uint64_t nsDev_ = 0, nsIno_ = 0;
    int pid_ = 0;
    int rcvbuf_ = 0, sndbuf_ = 0;
    std::vector<char> rx_;
};

// The process-wide flock on /run/cnibox/nftables.lock, reference counted:
// taken by the first open Table, released with the last one. Waits at most
// 30 s, then code 11.
class Lock {
public:
    Lock() = default;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock() { release(); }
    Error acquire();
    void release();

private:
    bool held_ = false;
};

}  // namespace nf::nft
