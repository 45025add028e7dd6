// The nftables backend's plumbing: one NETLINK_NETFILTER socket per process
// (reopened when the process has moved to another network namespace), the
// request/dump and batch exchanges on it, and the process-wide lock file.
// The socket's close at the end of a run is nft_deferred_close.h's.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cni/error.h"
#include "netfilter/nft_deferred_close.h"
#include "util/fd.h"
#include "util/lock.h"

namespace nf::nft {

using cni::Error;

// One netlink message built by libnftnl, kept until the batch is sent, with
// a description of what it does for error messages ("add rule to chain X").
struct Msg {
    std::vector<char> buf;
    std::string what;
};

// Builds a message with `build` into a fresh buffer of msgBufSize() bytes
// and trims it to its length. libnftnl writes unbounded: the callers bound
// what goes in (checkChainName, kMaxRulePorts, comments under 255 bytes).
Msg makeMsg(std::string what, const std::function<nlmsghdr*(char* buf)>& build);
size_t msgBufSize();

class Socket {
public:
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // The process-wide socket for the current network namespace. A socket
    // of another namespace is closed (DeferredClose) and a new one opened.
    static Error get(Socket*& out);
    // Closes the process's socket, if any, through DeferredClose.
    static void finish();

    uint32_t nextSeq() { return ++seq_; }

    // Sends one request (NLM_F_DUMP or a single GET) and calls `each` for every
    // object in the reply. A kernel error is returned in *kernelErr (e.g.
    // ENOENT) with an ok Error; transport failures are returned as Error.
    // Dumps interrupted by a concurrent change are repeated.
    Error query(Msg& req, const std::function<void(const nlmsghdr*)>& each, int* kernelErr);

    // Sends msgs as one NFNL batch (every message with NLM_F_ACK) and waits
    // for the kernel's answers. On a failure the batch was not applied and
    // the Error names the first failing message (its `what`) and the errno.
    // A batch that deleted anything is noted for the DeferredClose.
    Error batch(std::vector<Msg>& msgs, const std::string& context);

private:
    explicit Socket(std::string stampPath) : closer_(std::move(stampPath)) {}
    static Socket& instance();
    Error open();
    void close();
    Error recvInto(std::vector<char>& buf, ssize_t& n, bool wait);
    util::Fd fd_;
    DeferredClose closer_;
    uint32_t portid_ = 0;
    uint32_t seq_ = 0;
    uint64_t nsDev_ = 0, nsIno_ = 0;
    int pid_ = 0;
    int rcvbuf_ = 0, sndbuf_ = 0;
    std::vector<char> rx_;
};

// The process-wide flock on /run/cnibox/nftables.lock ($CNIBOX_NFTABLES_LOCKFILE),
// "nftables lock": taken by the first open Table, released with the last
// one. Waits 30 s ($CNIBOX_NFTABLES_WAIT seconds), then code 11. Its mtime
// is DeferredClose's deletion stamp.
util::SharedFileLock& lock();

}  // namespace nf::nft
