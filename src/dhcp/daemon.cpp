// `dhcp daemon` (see daemon.h): the flags, the unix socket and its
// connections, and the leases, each driven by loop timers and, while an
// exchange runs, by its packet socket.
#include "dhcp/daemon.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <set>

#include "dhcp/exchange.h"
#include "dhcp/loop.h"
#include "dhcp/packet.h"
#include "dhcp/rawsock.h"
#include "dhcp/store.h"
#include "netlink/netlink.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/random.h"

namespace dhcp {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// ---------------------------------------------------------------- flags

namespace {

bool parseGoBool(std::string_view s, bool& out) {
    for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
        if (s == t) return out = true, true;
    for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
        if (s == f) return out = false, true;
    return false;
}

Error flagError(std::string msg) { return Error(util::kInvalidNetConf, std::move(msg)); }

std::string flagValueError(std::string_view value, std::string_view name, std::string_view why) {
    std::string m = "invalid value \"";
    m += value;
    m += "\" for flag -";
    m += name;
    m += ": ";
    m += why;
    return m;
}

}  // namespace

bool parseGoDuration(std::string_view s, milliseconds& out) {
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0") {
        out = 0ms;
        return true;
    }
    if (s.empty()) return false;
    constexpr int64_t kMax = INT64_MAX;
    int64_t total = 0;  // nanoseconds
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    while (!s.empty()) {
        size_t i = 0;
        int64_t whole = 0;
        bool digits = false, overflow = false;
        while (i < s.size() && digit(s[i])) {
            if (whole > (kMax - 9) / 10) overflow = true;
            else whole = whole * 10 + (s[i] - '0');
            i++;
            digits = true;
        }
        // The fraction's digits, as many as an int64 holds exactly.
        int64_t frac = 0, fracScale = 1;
        if (i < s.size() && s[i] == '.') {
            i++;
            while (i < s.size() && digit(s[i])) {
                if (fracScale < 100000000000000000) {
                    frac = frac * 10 + (s[i] - '0');
                    fracScale *= 10;
                }
                i++;
                digits = true;
            }
        }
        if (!digits || overflow) return false;
        size_t u = i;
        while (u < s.size() && s[u] != '.' && !digit(s[u])) u++;
        std::string_view unit = s.substr(i, u - i);
        int64_t mult = 0;
        if (unit == "ns") mult = 1;
        else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") mult = 1000;
        else if (unit == "ms") mult = 1000000;
        else if (unit == "s") mult = 1000000000;
        else if (unit == "m") mult = 60000000000;
        else if (unit == "h") mult = 3600000000000;
        else return false;
        if (whole > kMax / mult) return false;
        int64_t v = whole * mult;
        v += static_cast<int64_t>(static_cast<long double>(frac) * static_cast<long double>(mult) /
                                  static_cast<long double>(fracScale));
        if (v < 0 || total > kMax - v) return false;
        total += v;
        s.remove_prefix(u);
    }
    out = milliseconds(total / 1000000);
    if (neg) out = -out;
    return true;
}

Error parseDaemonFlags(int argc, char** argv, DaemonOptions& out) {
    enum class Kind { String, Bool, Duration };
    struct Flag {
        const char* name;
        Kind kind;
        void* dst;
    };
    const Flag flags[] = {
        {"broadcast", Kind::Bool, &out.broadcast},
        {"hostprefix", Kind::String, &out.hostPrefix},
        {"pidfile", Kind::String, &out.pidFile},
        {"resendmax", Kind::Duration, &out.resendMax},
        {"resendtimeout", Kind::Duration, &out.resendTimeout},
        {"socketpath", Kind::String, &out.socketPath},
        {"statedir", Kind::String, &out.stateDir},
        {"timeout", Kind::Duration, &out.timeout},
    };
    for (int i = 2; i < argc; i++) {
        std::string_view a = argv[i];
        // As Go's flag package: the first argument that is not a flag, and
        // "--", end the flags.
        if (a.size() < 2 || a[0] != '-') break;
        size_t dashes = a[1] == '-' ? 2 : 1;
        if (a.size() == dashes) break;
        std::string_view name = a.substr(dashes);
        if (name[0] == '-' || name[0] == '=') return flagError("bad flag syntax: " + std::string(a));
        std::optional<std::string_view> value;
        if (size_t eq = name.find('='); eq != std::string_view::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const Flag* f = nullptr;
        for (const Flag& c : flags)
            if (name == c.name) f = &c;
        if (!f) return flagError("flag provided but not defined: -" + std::string(name));
        if (f->kind == Kind::Bool) {
            bool v = true;
            if (value && !parseGoBool(*value, v))
                return flagError("invalid boolean value \"" + std::string(*value) + "\" for -" + std::string(name) +
                                 ": parse error");
            *static_cast<bool*>(f->dst) = v;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) return flagError("flag needs an argument: -" + std::string(name));
            value = argv[++i];
        }
        if (f->kind == Kind::String) {
            *static_cast<std::string*>(f->dst) = std::string(*value);
            continue;
        }
        milliseconds d{};
        if (!parseGoDuration(*value, d)) return flagError(flagValueError(*value, name, "parse error"));
        if (d <= 0ms) return flagError(flagValueError(*value, name, "not a positive duration"));
        *static_cast<milliseconds*>(f->dst) = d;
    }
    if (out.socketPath.empty()) out.socketPath = DaemonOptions{}.socketPath;
    if (out.stateDir.empty()) out.stateDir = DaemonOptions{}.stateDir;
    out.timeScale = 1;
    if (const char* ts = getenv("CNIBOX_DHCP_TIME_SCALE"); ts && *ts) {
        char* end = nullptr;
        errno = 0;
        unsigned long v = strtoul(ts, &end, 10);
        if (*end || errno || v == 0 || v > 1000000 || ts[0] == '-')
            return flagError("CNIBOX_DHCP_TIME_SCALE is not a whole number from 1 to 1000000: \"" + std::string(ts) +
                             "\"");
        out.timeScale = static_cast<unsigned>(v);
    }
    return {};
}

// ---------------------------------------------------------------- requests and schedules

Error parseAttachRequest(const Block& b, bool needNetns, AttachRequest& out) {
    out = AttachRequest{};
    auto missing = [&](const char* key) {
        return Error(util::kDecodeFailure, b.head + " request without \"" + key + "\"");
    };
    struct Req {
        const char* key;
        std::string* dst;
        bool required;
    };
    for (const Req& r : {Req{"network", &out.network, true}, Req{"container-id", &out.containerID, true},
                         Req{"ifname", &out.ifname, true}, Req{"netns", &out.netns, needNetns}}) {
        const std::string* v = b.get(r.key);
        if (v) *r.dst = *v;
        if (r.required && r.dst->empty()) return missing(r.key);
    }
    auto bad = [&](const char* key, const std::string& v) {
        return Error(util::kDecodeFailure, b.head + " request: bad \"" + key + "\" field: \"" + v + "\"");
    };
    // The daemon opens -hostprefix + netns as root: an absolute path that
    // stays under the prefix.
    if (!out.netns.empty() && (out.netns[0] != '/' || util::hasDotDot(out.netns)))
        return bad("netns", out.netns);
    if (const std::string* v = b.get("client-id"); v && !v->empty()) {
        if (!fromHex(*v, out.clientID)) return bad("client-id", *v);
    } else {
        out.clientID = std::string(1, '\0') + defaultClientID(out.containerID, out.network, out.ifname);
    }
    if (const std::string* v = b.get("request"); v && !parseCodeList(*v, out.requestList)) return bad("request", *v);
    for (const std::string& v : b.all("provide")) {
        uint8_t code = 0;
        std::string bytes;
        if (!parseCodeHex(v, code, bytes)) return bad("provide", v);
        out.provide[code] = std::move(bytes);
    }
    return {};
}

LeaseTimes scaleLeaseTimes(uint32_t t1Seconds, uint32_t t2Seconds, uint32_t leaseSeconds, unsigned scale) {
    if (scale == 0) scale = 1;
    auto f = [scale](uint32_t s) { return milliseconds(int64_t(s) * 1000 / scale); };
    return {f(t1Seconds), f(t2Seconds), f(leaseSeconds)};
}

LeasePhase leasePhase(milliseconds elapsed, const LeaseTimes& t) {
    if (elapsed >= t.expiry) return LeasePhase::Expired;
    if (elapsed >= t.t2) return LeasePhase::Rebinding;
    if (elapsed >= t.t1) return LeasePhase::Renewing;
    return LeasePhase::Bound;
}

milliseconds retryWait(LeasePhase failed, milliseconds elapsed, const LeaseTimes& t, milliseconds floor) {
    milliseconds end = failed == LeasePhase::Renewing ? t.t2 : t.expiry;
    milliseconds left = end - elapsed;
    if (left <= 0ms) return 0ms;
    return std::min(std::max(left / 2, floor), left);
}

milliseconds acquireRetryDelay(int failed, milliseconds resendMax) {
    if (failed <= 4) return 2s;
    milliseconds d = 4s;
    for (int i = 5; i < failed && d < resendMax; i++) d *= 2;
    return std::min(d, std::max(resendMax, milliseconds(4s)));
}

// ---------------------------------------------------------------- the daemon

namespace {

constexpr auto kConnDeadline = 30s;

// A random pause of 0 to n-1 ms.
milliseconds randomMs(uint32_t n) {
    uint32_t r = 0;
    util::randomBytes(&r, sizeof r);
    return milliseconds(r % n);
}

// A DHCPRELEASE of `h` sent on `sock` (nothing answers it).
Error sendRelease(const RawSocket& sock, const ExchangeParams& p, const Exchange::Held& h, Time now) {
    Exchange ex(p);
    ex.start(Exchange::Kind::Release, now, h);
    if (ex.outcome().kind != Exchange::Outcome::Kind::Released) return ex.outcome().error;
    for (const Exchange::Send& s : ex.takeSends())
        if (Error err = sock.send(s.frame, s.dest)) return err;
    return {};
}

// "2026-12-04T20:26:42Z"
std::string rfc3339Now() {
    time_t t = time(nullptr);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The client ID as text: without its type byte 0 when the rest is
// printable (the default "<container-id>/<network>/<ifname>"), else hex.
std::string idText(std::string_view clientID) {
    std::string_view s = clientID;
    if (!s.empty() && s[0] == '\0') s.remove_prefix(1);
    bool printable = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
    return printable ? std::string(s) : toHex(clientID);
}

void logLine(std::string_view who, std::string_view what) {
    std::string line = rfc3339Now();
    line += ' ';
    line += who;
    line += ' ';
    line += what;
    line += '\n';
    (void)util::writeAll(STDERR_FILENO, line);
}

std::string expiredMessage(const LeaseRecord& r) {
    std::string m = "lease of ";
    m += r.address;
    m += " expired (or the server refused it): the address was removed and ";
    m += r.ifname;
    m += " set down";
    return m;
}

std::string noLeaseMessage(const AttachRequest& q) {
    std::string m = "no DHCP lease for ";
    m += q.containerID;
    m += '/';
    m += q.ifname;
    m += " on network ";
    m += q.network;
    return m;
}

Exchange::Held heldOf(const LeaseRecord& r) {
    Exchange::Held h;
    if (auto n = util::IPNet::parse(r.address)) h.address = n->ip;
    if (auto ip = util::IP::parse(r.serverID)) h.server = *ip;
    if (auto m = util::Mac::parse(r.serverMac)) h.serverMac = *m;
    return h;
}

Block leaseReply(const LeaseRecord& r) {
    Block b;
    b.head = "OK";
    b.add("address", r.address);
    for (const auto& [code, bytes] : r.replyOptions) b.add("option", std::to_string(code) + " " + toHex(bytes));
    return b;
}

Block okReply() {
    Block b;
    b.head = "OK";
    return b;
}

// A connection from the applet: one request, one reply.
struct Conn {
    enum class State { Reading, Working, Writing };
    util::Fd fd;
    State state = State::Reading;
    std::string in, out;
    size_t sent = 0;
    Loop::TimerId deadline = 0;
    std::string waitKey;  // the lease whose acquire it waits for
};

// One exchange with its packet socket; an acquire may take several
// attempts (one Exchange each) on the same socket.
// How many DHCPNAKs an acquire takes before it fails.
constexpr int kMaxAcquireNaks = 8;

struct Run {
    uint64_t serial = 0;
    Exchange::Kind kind = Exchange::Kind::Acquire;
    RawSocket sock;
    ExchangeParams params;
    std::unique_ptr<Exchange> ex;  // null between two acquire attempts
    Loop::TimerId timer = 0;
    Loop::TimePoint started{};
    int attempts = 0;
    int naks = 0;
};

// One attachment's lease.
struct Entry {
    LeaseRecord rec;
    bool bound = false;    // rec holds a lease (saved)
    bool expired = false;  // expired or refused: kept for CHECK's message
    Loop::TimePoint base{};  // when the lease's times count from
    Loop::TimerId timer = 0;
    std::unique_ptr<Run> run;
    std::vector<uint64_t> waiters;  // connections waiting for the acquire
};

enum class NsState { Same, Gone, Unknown };

class Daemon {
public:
    explicit Daemon(const DaemonOptions& o) : o_(o), store_(o.stateDir), buf_(65536) {}
    int run();

private:
    // socket and connections
    Error listen();
    void onListen();
    void onConn(uint64_t id, uint32_t events);
    void dropConn(uint64_t id, const char* why);
    void reply(uint64_t id, const Block& b);
    void flush(uint64_t id);
    void handle(uint64_t id, const Block& b);
    // verbs
    void add(uint64_t id, const AttachRequest& q);
    void check(uint64_t id, const AttachRequest& q);
    void del(const std::string& key);
    void gc(uint64_t id, const Block& b);
    // exchanges
    void startAcquire(uint64_t id, const std::string& key, const AttachRequest& q);
    Error beginRun(const std::string& key, Entry& e, Exchange::Kind kind, RawSocket sock,
                   std::optional<milliseconds> timeout = std::nullopt);
    void attempt(const std::string& key, Entry& e);
    void pump(const std::string& key, Entry& e);
    void armRunTimer(const std::string& key, Entry& e, milliseconds delay);
    Entry* runEntry(const std::string& key, uint64_t serial);
    void onRunReadable(const std::string& key, uint64_t serial);
    void finishRun(const std::string& key, Entry& e);
    void endRun(Entry& e);
    void releaseUnconfirmed(Entry& e, std::string_view why);
    void acquired(const std::string& key, Entry& e, const Exchange::Outcome& out);
    void maintained(const std::string& key, Entry& e, Exchange::Kind kind, const Exchange::Outcome& out);
    void answerWaiters(Entry& e, const Block& b);
    // lease upkeep
    void schedule(const std::string& key, Entry& e);
    void maintain(const std::string& key);
    void retryLater(const std::string& key, Entry& e, LeasePhase failed);
    void expire(Entry& e, const std::string& why);
    void cancel(Entry& e, const Error& why);
    void release(Entry& e);
    void releaseFromHost(const LeaseRecord& r, const std::string& why);
    // The attachment's namespace or link went without a DEL: its lease goes
    // back to the server from here, and its record goes.
    void endGone(const LeaseRecord& r, const std::string& why);
    NsState nsCheck(const LeaseRecord& r, std::string& why, nl::Socket* nls = nullptr, int* ifindex = nullptr);
    ExchangeParams paramsFor(const LeaseRecord& r, const util::Mac& mac) const;
    void restore();
    void log(const LeaseRecord& r, std::string_view what) const { logLine(idText(r.clientID), what); }

    const DaemonOptions& o_;
    Loop loop_;
    LeaseStore store_;
    util::Fd listen_;
    bool ownSocket_ = false;
    std::map<uint64_t, std::unique_ptr<Conn>> conns_;
    uint64_t nextConn_ = 1;
    uint64_t nextRun_ = 1;
    std::map<std::string, Entry> entries_;
    std::vector<uint8_t> buf_;
};

std::string keyOf(const LeaseRecord& r) { return LeaseStore::fileName(r.network, r.containerID, r.ifname); }

// ---- the socket

Error Daemon::listen() {
    const char* lp = getenv("LISTEN_PID");
    const char* lf = getenv("LISTEN_FDS");
    if (lp && lf && strtol(lp, nullptr, 10) == static_cast<long>(getpid()) && atoi(lf) >= 1) {
        // systemd socket activation: the socket is fd 3 and systemd's to
        // remove.
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        struct stat st;
        int listening = 0;
        socklen_t len = sizeof listening;
        if (fstat(3, &st) < 0 || !S_ISSOCK(st.st_mode) ||
            getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
            return Error(util::kInternal, "LISTEN_FDS names fd 3, which is not a listening socket");
        int fl = fcntl(3, F_GETFL);
        if (fl < 0 || fcntl(3, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
            return Error::sys(util::kInternal, "socket passed by systemd (fd 3)", errno);
        listen_.reset(3);
        logLine("daemon", "listening on the socket systemd passed (fd 3)");
        return {};
    }
    const std::string& path = o_.socketPath;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path)
        return Error(util::kInvalidNetConf, "socket path too long (" + std::to_string(path.size()) + " bytes): " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (auto e = util::mkdirAll(util::dirName(path), 0700)) return e;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return Error(util::kInternal, path + " exists and is not a socket");
        // A socket file: stale unless something answers on it.
        util::Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!probe) return Error::sys(util::kInternal, "socket", errno);
        int r = connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        if (r == 0 || errno == EAGAIN || errno == EINPROGRESS)
            return Error(util::kInternal, "another dhcp daemon is listening on " + path);
        if (unlink(path.c_str()) < 0 && errno != ENOENT) return util::pathError("remove", path, errno);
        logLine("daemon", "removed the stale socket " + path);
    }
    listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listen_) return Error::sys(util::kInternal, "socket", errno);
    if (bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
        return util::pathError("bind", path, errno);
    ownSocket_ = true;
    if (chmod(path.c_str(), 0660) < 0) return util::pathError("chmod", path, errno);
    if (::listen(listen_.get(), SOMAXCONN) < 0) return util::pathError("listen", path, errno);
    logLine("daemon", "listening on " + path);
    return {};
}

void Daemon::onListen() {
    for (;;) {
        int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EINTR || err == ECONNABORTED) continue;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            logLine("daemon", "accept: " + util::errnoText(err));
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                // Out of descriptors: stop accepting for a moment rather
                // than spin on the ready listener.
                loop_.remove(listen_.get());
                loop_.after(200ms, [this] {
                    if (auto e = loop_.add(listen_.get(), EPOLLIN, [this](uint32_t) { onListen(); }))
                        logLine("daemon", e.text());
                });
            }
            return;
        }
        uint64_t id = nextConn_++;
        auto c = std::make_unique<Conn>();
        c->fd.reset(fd);
        if (auto e = loop_.add(fd, EPOLLIN, [this, id](uint32_t ev) { onConn(id, ev); })) {
            logLine("daemon", e.text());
            continue;
        }
        c->deadline = loop_.after(kConnDeadline, [this, id] {
            if (auto it = conns_.find(id); it != conns_.end()) it->second->deadline = 0;
            dropConn(id, "no complete request or reply within 30s");
        });
        conns_.emplace(id, std::move(c));
    }
}

void Daemon::dropConn(uint64_t id, const char* why) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    std::unique_ptr<Conn> c = std::move(it->second);
    conns_.erase(it);
    loop_.remove(c->fd.get());
    if (c->deadline) loop_.cancel(c->deadline);
    if (why) logLine("daemon", std::string("connection dropped: ") + why);
    if (c->waitKey.empty()) return;
    // The last client waiting for an acquire went away: nobody will get
    // the lease, so the acquire stops.
    auto e = entries_.find(c->waitKey);
    if (e == entries_.end()) return;
    auto& w = e->second.waiters;
    w.erase(std::remove(w.begin(), w.end(), id), w.end());
    if (w.empty() && !e->second.bound && e->second.run) {
        log(e->second.rec, "acquire abandoned: no client waits for it any more");
        releaseUnconfirmed(e->second, "acquire abandoned");
        endRun(e->second);
        entries_.erase(e);
    }
}

void Daemon::reply(uint64_t id, const Block& b) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    c.waitKey.clear();
    c.out = encode(b);
    c.sent = 0;
    c.state = Conn::State::Writing;
    if (!c.deadline)
        c.deadline = loop_.after(kConnDeadline, [this, id] {
            if (auto i = conns_.find(id); i != conns_.end()) i->second->deadline = 0;
            dropConn(id, "reply not taken within 30s");
        });
    flush(id);
}

void Daemon::flush(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    while (c.sent < c.out.size()) {
        ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                (void)loop_.modify(c.fd.get(), EPOLLOUT);
                return;
            }
            return dropConn(id, "client went away before its reply");
        }
        c.sent += static_cast<size_t>(n);
    }
    dropConn(id, nullptr);
}

void Daemon::onConn(uint64_t id, uint32_t events) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (c.state == Conn::State::Writing) {
        if (events & EPOLLOUT) return flush(id);
        return dropConn(id, "client went away before its reply");
    }
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            return dropConn(id, "receive failed");
        }
        if (n == 0) {
            // A connection closed before it sent anything is a probe (a
            // daemon starting, a liveness check): not worth a line.
            if (c.state == Conn::State::Reading && c.in.empty()) return dropConn(id, nullptr);
            return dropConn(id, c.state == Conn::State::Working ? "client hung up before its reply"
                                                                : "client hung up in the middle of its request");
        }
        if (c.state == Conn::State::Working) continue;  // one request a connection: the rest is ignored
        size_t from = c.in.empty() ? 0 : c.in.size() - 1;
        c.in.append(buf, static_cast<size_t>(n));
        size_t end = c.in.find("\n\n", from);
        if (end == std::string::npos) {
            if (c.in.size() > kMaxBlock) {
                c.state = Conn::State::Working;
                return reply(id, errorReply(Error(util::kDecodeFailure, "request longer than " +
                                                                            std::to_string(kMaxBlock) + " bytes")));
            }
            // A first line that cannot start a request needs no more bytes
            // to be refused.
            size_t nl = c.in.find('\n');
            if (nl == std::string::npos || c.in.starts_with(std::string(kMagic) + " ")) continue;
            end = nl;
            c.in.resize(nl + 1);
            c.in += '\n';
        }
        c.in.resize(end + 2);
        c.state = Conn::State::Working;
        Block b;
        if (auto e = decode(c.in, b)) {
            logLine("daemon", "bad request: " + e.text());
            return reply(id, errorReply(e));
        }
        if (c.deadline) loop_.cancel(c.deadline);
        c.deadline = 0;
        return handle(id, b);
    }
}

// ---- the verbs

void Daemon::handle(uint64_t id, const Block& b) {
    if (b.head == "STATUS") return reply(id, okReply());
    if (b.head == "GC") return gc(id, b);
    if (b.head != "ADD" && b.head != "CHECK" && b.head != "DEL")
        return reply(id, errorReply(Error(util::kDecodeFailure, "unknown request \"" + b.head + "\"")));
    AttachRequest q;
    if (auto e = parseAttachRequest(b, b.head == "ADD", q)) {
        logLine("daemon", "bad request: " + e.text());
        return reply(id, errorReply(e));
    }
    if (b.head == "ADD") return add(id, q);
    if (b.head == "CHECK") return check(id, q);
    del(LeaseStore::fileName(q.network, q.containerID, q.ifname));
    reply(id, okReply());
}

void Daemon::add(uint64_t id, const AttachRequest& q) {
    std::string key = LeaseStore::fileName(q.network, q.containerID, q.ifname);
    if (auto it = entries_.find(key); it != entries_.end()) {
        Entry& e = it->second;
        if (e.run && e.run->kind == Exchange::Kind::Acquire) {
            e.waiters.push_back(id);
            conns_.at(id)->waitKey = key;
            log(e.rec, "ADD waits for the acquire under way");
            return;
        }
        if (e.bound && !e.expired && e.rec.netns == q.netns) {
            std::string why;
            NsState st = nsCheck(e.rec, why);
            if (st == NsState::Same) {
                log(e.rec, "lease of " + e.rec.address + " held already: answered");
                return reply(id, leaseReply(e.rec));
            }
            if (st == NsState::Unknown) return reply(id, errorReply(Error(util::kTryAgainLater, why)));
        }
        // Another namespace (a new container with the same ID), or an
        // expired lease: the old one ends and a new one is acquired.
        log(e.rec, "ADD for another namespace or after expiry: the old lease ends");
        cancel(e, Error(util::kTryAgainLater, "superseded by a new ADD"));
        release(e);
        if (auto err = store_.remove(q.network, q.containerID, q.ifname)) log(e.rec, err.text());
        entries_.erase(it);
    }
    startAcquire(id, key, q);
}

void Daemon::check(uint64_t id, const AttachRequest& q) {
    auto it = entries_.find(LeaseStore::fileName(q.network, q.containerID, q.ifname));
    if (it == entries_.end() || !it->second.bound)
        return reply(id, errorReply(Error(util::kPluginSpecific, noLeaseMessage(q))));
    if (it->second.expired) return reply(id, errorReply(Error(util::kPluginSpecific, expiredMessage(it->second.rec))));
    reply(id, leaseReply(it->second.rec));
}

void Daemon::del(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    cancel(e, Error(util::kTryAgainLater, "the attachment was deleted while its lease was being acquired"));
    release(e);
    if (e.bound)
        if (auto err = store_.remove(e.rec.network, e.rec.containerID, e.rec.ifname)) log(e.rec, err.text());
    entries_.erase(it);
}

void Daemon::gc(uint64_t id, const Block& b) {
    const std::string* net = b.get("network");
    if (!net || net->empty()) return reply(id, errorReply(Error(util::kDecodeFailure, "GC request without \"network\"")));
    std::vector<std::string> keepList = b.all("keep");
    std::set<std::string> keep(keepList.begin(), keepList.end());
    std::vector<std::string> doomed;
    for (const auto& [key, e] : entries_)
        if (e.bound && e.rec.network == *net && !keep.count(e.rec.containerID + "/" + e.rec.ifname))
            doomed.push_back(key);
    for (const std::string& key : doomed) {
        log(entries_.at(key).rec, "GC: not among the attachments to keep");
        del(key);
    }
    reply(id, okReply());
}

// ---- exchanges

ExchangeParams Daemon::paramsFor(const LeaseRecord& r, const util::Mac& mac) const {
    ExchangeParams p;
    p.ifname = r.ifname;
    p.mac = mac;
    p.clientID = r.clientID;
    p.provide = r.providedOptions;
    p.requestList = r.requestedOptions;
    p.broadcast = r.broadcast;
    p.timeout = o_.timeout;
    p.resendMax = o_.resendMax;
    return p;
}

void Daemon::startAcquire(uint64_t id, const std::string& key, const AttachRequest& q) {
    LeaseRecord rec;
    rec.network = q.network;
    rec.containerID = q.containerID;
    rec.ifname = q.ifname;
    rec.clientID = q.clientID;
    rec.netns = q.netns;
    rec.requestedOptions = q.requestList;
    rec.providedOptions = q.provide;
    rec.broadcast = o_.broadcast;
    RawSocket sock;
    if (auto e = RawSocket::open(o_.hostPrefix + q.netns, q.ifname, sock)) {
        log(rec, "acquire failed: " + e.text());
        return reply(id, errorReply(e));
    }
    rec.netnsDev = sock.netnsDev();
    rec.netnsIno = sock.netnsIno();
    rec.hostDevice = sock.hostDevice();
    rec.clientMac = sock.mac().str();
    Entry& e = entries_[key];
    e.rec = std::move(rec);
    e.waiters.push_back(id);
    conns_.at(id)->waitKey = key;
    log(e.rec, "acquiring a lease on " + q.ifname + " in netns \"" + q.netns + "\"");
    if (auto err = beginRun(key, e, Exchange::Kind::Acquire, std::move(sock))) {
        answerWaiters(e, errorReply(err));
        entries_.erase(key);
    }
}

Error Daemon::beginRun(const std::string& key, Entry& e, Exchange::Kind kind, RawSocket sock,
                       std::optional<milliseconds> timeout) {
    auto r = std::make_unique<Run>();
    r->serial = nextRun_++;
    r->kind = kind;
    r->params = paramsFor(e.rec, sock.mac());
    if (timeout) r->params.timeout = *timeout;
    r->sock = std::move(sock);
    r->started = loop_.now();
    uint64_t serial = r->serial;
    if (auto err = loop_.add(r->sock.fd(), EPOLLIN, [this, key, serial](uint32_t) { onRunReadable(key, serial); }))
        return err;
    e.run = std::move(r);
    attempt(key, e);
    return {};
}

void Daemon::attempt(const std::string& key, Entry& e) {
    Run& r = *e.run;
    r.ex = std::make_unique<Exchange>(r.params);
    r.attempts++;
    r.ex->start(r.kind, loop_.now(), heldOf(e.rec));
    pump(key, e);
}

Entry* Daemon::runEntry(const std::string& key, uint64_t serial) {
    auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.run || it->second.run->serial != serial) return nullptr;
    return &it->second;
}

void Daemon::armRunTimer(const std::string& key, Entry& e, milliseconds delay) {
    Run& r = *e.run;
    if (r.timer) loop_.cancel(r.timer);
    uint64_t serial = r.serial;
    r.timer = loop_.after(delay, [this, key, serial] {
        Entry* en = runEntry(key, serial);
        if (!en) return;
        en->run->timer = 0;
        if (!en->run->ex) return attempt(key, *en);
        en->run->ex->onTimer(loop_.now());
        pump(key, *en);
    });
}

void Daemon::pump(const std::string& key, Entry& e) {
    Run& r = *e.run;
    for (const Exchange::Send& s : r.ex->takeSends())
        if (auto err = r.sock.send(s.frame, s.dest)) log(e.rec, err.text());
    if (r.ex->done()) return finishRun(key, e);
    auto due = r.ex->deadline();
    auto wait = due ? std::chrono::ceil<milliseconds>(*due - loop_.now()) : 0ms;
    armRunTimer(key, e, std::max(wait, 0ms));
}

void Daemon::onRunReadable(const std::string& key, uint64_t serial) {
    Entry* e = runEntry(key, serial);
    if (!e) return;
    // A bounded number of frames a round, so that one busy LAN does not
    // hold the loop.
    for (int i = 0; i < 64; i++) {
        std::optional<RawSocket::Received> got;
        if (auto err = e->run->sock.recv(buf_, got)) {
            log(e->rec, err.text());
            return;
        }
        if (!got) return;
        if (!e->run->ex) continue;  // between two acquire attempts
        auto d = unframeUdp(std::span<const uint8_t>(buf_.data(), got->len), got->verifyUdpChecksum);
        if (!d || d->dstPort != kClientPort) continue;
        Exchange& ex = *e->run->ex;
        ex.onPacket(d->payload, got->src, loop_.now());
        bool done = ex.done();
        pump(key, *e);
        if (done) return;  // the run is over (and maybe the entry)
    }
}

// An acquire that ends without a lease after its REQUEST went out: the
// server may have granted the address all the same (its ACK late, lost or
// unusable) and would keep it for a client that does not use it, so it is
// released, on the run's socket before that closes (best effort: nothing
// answers a RELEASE).
void Daemon::releaseUnconfirmed(Entry& e, std::string_view why) {
    if (!e.run || !e.run->ex) return;
    std::optional<Exchange::Held> h = e.run->ex->unconfirmed();
    if (!h) return;
    Error err = sendRelease(e.run->sock, e.run->params, *h, loop_.now());
    std::string what = h->address.str() + ", asked of " + h->server.str() + " and not confirmed (" +
                       std::string(why) + ")";
    if (err) log(e.rec, "could not release " + what + ": " + err.text());
    else log(e.rec, "released " + what);
}

void Daemon::endRun(Entry& e) {
    if (!e.run) return;
    loop_.remove(e.run->sock.fd());
    if (e.run->timer) loop_.cancel(e.run->timer);
    e.run.reset();  // closes the socket: it pins the container's namespace
}

void Daemon::finishRun(const std::string& key, Entry& e) {
    Run& r = *e.run;
    Exchange::Outcome out = r.ex->outcome();
    if (r.kind == Exchange::Kind::Acquire) {
        // A NAK of our REQUEST (e.g. "address in use": the server offered
        // one address to two clients at once) restarts from DISCOVER
        // (RFC 2131 §3.1), after a short random pause so that clients that
        // collided do not collide again, while -resendtimeout allows.
        if (out.kind == Exchange::Outcome::Kind::Nak && r.naks < kMaxAcquireNaks &&
            loop_.now() < r.started + o_.resendTimeout) {
            r.naks++;
            milliseconds delay = randomMs(250);
            log(e.rec, "DHCPNAK while acquiring: starting over in " + goDuration(delay));
            r.ex.reset();
            return armRunTimer(key, e, delay);
        }
        if (out.kind == Exchange::Outcome::Kind::Failed && out.error.code == util::kTryAgainLater) {
            // -resendtimeout: how long acquire attempts go on.
            milliseconds delay = acquireRetryDelay(r.attempts, o_.resendMax) + randomMs(2001) - 1000ms;
            auto left = std::chrono::duration_cast<milliseconds>(r.started + o_.resendTimeout - loop_.now() - delay);
            if (left > 0ms) {
                log(e.rec, out.error.text() + ": trying again in " + goDuration(delay));
                releaseUnconfirmed(e, "no reply");
                r.params.timeout = std::min(o_.timeout, left);  // the last attempt ends with -resendtimeout
                r.ex.reset();
                return armRunTimer(key, e, delay);
            }
        }
    }
    Exchange::Kind kind = r.kind;
    if (kind == Exchange::Kind::Acquire) releaseUnconfirmed(e, "the acquire failed");
    endRun(e);
    if (kind == Exchange::Kind::Acquire) return acquired(key, e, out);
    maintained(key, e, kind, out);
}

void Daemon::answerWaiters(Entry& e, const Block& b) {
    std::vector<uint64_t> w = std::move(e.waiters);
    e.waiters.clear();
    for (uint64_t id : w) reply(id, b);
}

// The lease's record from an ACK.
void fillLease(LeaseRecord& r, const Lease& l, const Exchange::Outcome& out, Loop::TimePoint now) {
    r.serverID = l.server.valid() ? l.server.str() : "";
    r.serverMac = out.serverMac.str();
    r.address = l.address.str();
    r.leaseSeconds = static_cast<uint32_t>(l.leaseTime.count());
    r.t1Seconds = static_cast<uint32_t>(l.t1.count());
    r.t2Seconds = static_cast<uint32_t>(l.t2.count());
    r.acquiredAt = static_cast<int64_t>(time(nullptr)) -
                   std::chrono::duration_cast<std::chrono::seconds>(now - out.acquired).count();
    r.replyOptions = out.reply.options;
}

void Daemon::acquired(const std::string& key, Entry& e, const Exchange::Outcome& out) {
    Error err;
    Lease l;
    if (out.kind == Exchange::Outcome::Kind::Bound) {
        err = Lease::from(out.reply, l);
    } else if (out.kind == Exchange::Outcome::Kind::Nak) {
        std::string m = "DHCP server kept refusing the lease on " + e.rec.ifname + " (DHCPNAK)";
        if (const std::string* why = out.reply.option(kOptMessage)) m += ": " + *why;
        err = Error(util::kTryAgainLater, m);
    } else {
        err = out.error;
    }
    if (!err) {
        fillLease(e.rec, l, out, loop_.now());
        if (auto se = store_.save(e.rec)) {
            err = std::move(se).wrap("record the lease of " + e.rec.address);
            e.bound = true;
            release(e);
        }
    }
    if (err) {
        log(e.rec, "acquire failed: " + err.text());
        answerWaiters(e, errorReply(err));
        entries_.erase(key);
        return;
    }
    e.bound = true;
    e.expired = false;
    e.base = out.acquired;
    log(e.rec, "lease of " + e.rec.address + " acquired from " + e.rec.serverID + " for " +
                   goDuration(std::chrono::seconds(e.rec.leaseSeconds)));
    schedule(key, e);
    answerWaiters(e, leaseReply(e.rec));
}

void Daemon::maintained(const std::string& key, Entry& e, Exchange::Kind kind, const Exchange::Outcome& out) {
    const char* what = kind == Exchange::Kind::Renew ? "renewal" : "rebinding";
    LeasePhase phase = kind == Exchange::Kind::Renew ? LeasePhase::Renewing : LeasePhase::Rebinding;
    if (out.kind == Exchange::Outcome::Kind::Failed) {
        log(e.rec, std::string(what) + " failed: " + out.error.text());
        return retryLater(key, e, phase);
    }
    Lease l;
    if (out.kind == Exchange::Outcome::Kind::Bound) {
        if (Error err = Lease::from(out.reply, l)) {
            log(e.rec, std::string(what) + " failed: " + err.text());
            return retryLater(key, e, phase);
        }
        if (l.address.ip != heldOf(e.rec).address) {
            log(e.rec, "the server offered " + l.address.str() + " instead of " + e.rec.address +
                           ": taken as a refusal");
            return expire(e, "refused");
        }
        fillLease(e.rec, l, out, loop_.now());
        e.base = out.acquired;
        if (auto err = store_.save(e.rec)) log(e.rec, err.text());
        log(e.rec, std::string(what) + ": lease of " + e.rec.address + " extended by " +
                       goDuration(std::chrono::seconds(e.rec.leaseSeconds)));
        return schedule(key, e);
    }
    std::string m = std::string(what) + " refused (DHCPNAK)";
    if (const std::string* why = out.reply.option(kOptMessage)) m += ": " + *why;
    log(e.rec, m);
    expire(e, "refused");
}

// ---- upkeep

void Daemon::schedule(const std::string& key, Entry& e) {
    if (e.timer) loop_.cancel(e.timer);
    LeaseTimes t = scaleLeaseTimes(e.rec.t1Seconds, e.rec.t2Seconds, e.rec.leaseSeconds, o_.timeScale);
    auto elapsed = std::chrono::duration_cast<milliseconds>(loop_.now() - e.base);
    milliseconds wait = leasePhase(elapsed, t) == LeasePhase::Bound ? t.t1 - elapsed : 0ms;
    e.timer = loop_.after(wait, [this, key] { maintain(key); });
}

void Daemon::retryLater(const std::string& key, Entry& e, LeasePhase failed) {
    LeaseTimes t = scaleLeaseTimes(e.rec.t1Seconds, e.rec.t2Seconds, e.rec.leaseSeconds, o_.timeScale);
    auto elapsed = std::chrono::duration_cast<milliseconds>(loop_.now() - e.base);
    milliseconds wait = retryWait(failed, elapsed, t, milliseconds(60000 / o_.timeScale));
    if (e.timer) loop_.cancel(e.timer);
    e.timer = loop_.after(wait, [this, key] { maintain(key); });
}

void Daemon::maintain(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    e.timer = 0;
    if (!e.bound || e.expired || e.run) return;
    LeaseTimes t = scaleLeaseTimes(e.rec.t1Seconds, e.rec.t2Seconds, e.rec.leaseSeconds, o_.timeScale);
    auto elapsed = std::chrono::duration_cast<milliseconds>(loop_.now() - e.base);
    LeasePhase phase = leasePhase(elapsed, t);
    if (phase == LeasePhase::Expired) {
        log(e.rec, "lease of " + e.rec.address + " expired");
        return expire(e, "expired");
    }
    if (phase == LeasePhase::Bound) return schedule(key, e);
    std::string why;
    NsState st = nsCheck(e.rec, why);
    if (st == NsState::Gone) {
        // The container (or its link) went without a DEL: nothing can use
        // the address any more. It goes back to the server, as a DEL would
        // have done, and the others' upkeep goes on.
        endGone(e.rec, why);
        entries_.erase(it);
        return;
    }
    RawSocket sock;
    Error err;
    if (st == NsState::Unknown) err = Error(util::kInternal, why);
    else err = RawSocket::open(o_.hostPrefix + e.rec.netns, e.rec.ifname, sock);
    if (!err && (sock.netnsDev() != e.rec.netnsDev || sock.netnsIno() != e.rec.netnsIno))
        err = Error(util::kInternal, "netns \"" + e.rec.netns + "\" changed under the lease");
    Exchange::Kind kind = phase == LeasePhase::Renewing ? Exchange::Kind::Renew : Exchange::Kind::Rebind;
    // A renewal gives up at T2, a rebinding at the expiry: what comes next
    // must not wait for a longer -timeout.
    milliseconds left = (phase == LeasePhase::Renewing ? t.t2 : t.expiry) - elapsed;
    if (!err) err = beginRun(key, e, kind, std::move(sock), std::min(o_.timeout, std::max(left, milliseconds(1))));
    if (err) {
        log(e.rec, std::string(kind == Exchange::Kind::Renew ? "renewal" : "rebinding") + " failed: " + err.text());
        return retryLater(key, e, phase);
    }
    log(e.rec, std::string(kind == Exchange::Kind::Renew ? "renewing" : "rebinding") + " the lease of " +
                   e.rec.address);
}

void Daemon::expire(Entry& e, const std::string& why) {
    // As upstream: the address goes and the link is set down, so the
    // container does not keep using an address the server may give out.
    std::string nsWhy;
    nl::Socket nls;
    int ifindex = 0;
    if (nsCheck(e.rec, nsWhy, &nls, &ifindex) == NsState::Same) {
        auto addr = util::IPNet::parse(e.rec.address);
        if (addr)
            if (auto err = nls.delAddr(ifindex, *addr); err && err.errnum != EADDRNOTAVAIL) log(e.rec, err.text());
        if (auto err = nls.setDown(ifindex)) log(e.rec, err.text());
        log(e.rec, "lease " + why + ": removed " + e.rec.address + " and set " + e.rec.ifname + " down");
    } else {
        log(e.rec, "lease " + why + ": " + nsWhy);
    }
    e.expired = true;
    if (e.timer) loop_.cancel(e.timer);
    e.timer = 0;
    // Zero times mark the record as expired for a restarted daemon.
    e.rec.leaseSeconds = e.rec.t1Seconds = e.rec.t2Seconds = 0;
    if (auto err = store_.save(e.rec)) log(e.rec, err.text());
}

void Daemon::cancel(Entry& e, const Error& why) {
    if (e.timer) loop_.cancel(e.timer);
    e.timer = 0;
    releaseUnconfirmed(e, why.msg);
    endRun(e);
    answerWaiters(e, errorReply(why));
}

NsState Daemon::nsCheck(const LeaseRecord& r, std::string& why, nl::Socket* nlsOut, int* ifindex) {
    std::string path = o_.hostPrefix + r.netns;
    nl::Netns ns;
    bool notExist = false;
    if (r.netns.empty()) {
        why = "no netns recorded";
        return NsState::Gone;
    }
    if (auto e = nl::Netns::open(path, ns, &notExist)) {
        why = e.text();
        return notExist || e.code == util::kInvalidNetNS ? NsState::Gone : NsState::Unknown;
    }
    struct stat st;
    if (fstat(ns.fd(), &st) < 0) {
        why = "stat netns \"" + path + "\": " + util::errnoText(errno);
        return NsState::Unknown;
    }
    if (st.st_dev != r.netnsDev || st.st_ino != r.netnsIno) {
        why = "netns \"" + path + "\" is another namespace now";
        return NsState::Gone;
    }
    nl::Socket nls;
    nl::LinkInfo link;
    bool found = false;
    if (auto e = nl::Socket::openIn(ns, nls)) {
        why = e.text();
        return NsState::Unknown;
    }
    if (auto e = nls.linkByName(r.ifname, link, found)) {
        why = e.text();
        return NsState::Unknown;
    }
    if (!found) {
        why = "link " + r.ifname + " is gone from netns \"" + path + "\"";
        return NsState::Gone;
    }
    if (ifindex) *ifindex = link.index;
    if (nlsOut) *nlsOut = std::move(nls);
    return NsState::Same;
}

void Daemon::release(Entry& e) {
    if (!e.bound || e.expired) return;
    std::string why;
    if (nsCheck(e.rec, why) == NsState::Same) {
        RawSocket sock;
        Error err = RawSocket::open(o_.hostPrefix + e.rec.netns, e.rec.ifname, sock);
        if (!err) err = sendRelease(sock, paramsFor(e.rec, sock.mac()), heldOf(e.rec), loop_.now());
        if (!err) {
            log(e.rec, "released the lease of " + e.rec.address + " on " + e.rec.ifname);
            return;
        }
        why = err.text();
    }
    releaseFromHost(e.rec, why);
}

void Daemon::releaseFromHost(const LeaseRecord& r, const std::string& why) {
    // Best effort from the daemon's own namespace. First as the container
    // would have sent it, a frame out of the device its frames left by (a
    // macvlan's lower device, a veth's bridge), which needs no address or
    // route here; then a UDP datagram from port 68 to the server, which a
    // host with an address on the server's LAN (or a route to it) delivers.
    Exchange::Held h = heldOf(r);
    util::Mac mac;
    if (auto m = util::Mac::parse(r.clientMac)) mac = *m;
    std::string viaDevice;
    if (!r.hostDevice.empty()) {
        RawSocket sock;
        Error err = RawSocket::openOnHost(r.hostDevice, sock);
        if (!err) err = sendRelease(sock, paramsFor(r, mac), h, loop_.now());
        if (!err) {
            log(r, "released the lease of " + r.address + " through " + r.hostDevice + " (" + why + ")");
            return;
        }
        viaDevice = err.text() + "; ";
    }
    Exchange ex(paramsFor(r, mac));
    ex.start(Exchange::Kind::Release, loop_.now(), h);
    std::vector<Exchange::Send> sends = ex.takeSends();
    std::string failed;
    if (sends.empty() || !h.server.is4()) {
        failed = ex.outcome().error ? ex.outcome().error.text() : "no server to send it to";
    } else {
        auto d = unframeUdp(sends.front().frame);
        util::Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd || !d) {
            failed = "socket: " + util::errnoText(errno);
        } else {
            int one = 1;
            (void)setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            sockaddr_in src{};
            src.sin_family = AF_INET;
            src.sin_port = htons(kClientPort);
            // Without port 68 (taken, or no privilege) the server still
            // takes the RELEASE from another port.
            (void)bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src);
            sockaddr_in dst{};
            dst.sin_family = AF_INET;
            dst.sin_port = htons(kServerPort);
            std::memcpy(&dst.sin_addr, h.server.b.data(), 4);
            if (sendto(fd.get(), d->payload.data(), d->payload.size(), 0, reinterpret_cast<sockaddr*>(&dst),
                       sizeof dst) < 0)
                failed = "send to " + h.server.str() + ": " + util::errnoText(errno);
        }
    }
    if (failed.empty())
        log(r, "released the lease of " + r.address + " from the daemon's namespace (" + why + ")");
    else
        log(r, "could not release the lease of " + r.address + " (" + why + "): " + viaDevice + failed);
}

void Daemon::endGone(const LeaseRecord& r, const std::string& why) {
    log(r, why + ": the lease of " + r.address + " ends");
    if (r.leaseSeconds) releaseFromHost(r, why);   // 0: it had ended already
    if (auto err = store_.remove(r.network, r.containerID, r.ifname)) log(r, err.text());
}

void Daemon::restore() {
    std::vector<LeaseRecord> recs;
    std::vector<std::string> problems;
    if (auto e = store_.loadAll(recs, problems)) logLine("daemon", "lease records: " + e.text());
    for (const std::string& p : problems) logLine("daemon", "lease record skipped: " + p);
    for (LeaseRecord& rec : recs) {
        std::string why;
        if (nsCheck(rec, why) == NsState::Gone) {
            endGone(rec, why);
            continue;
        }
        std::string key = keyOf(rec);
        Entry& e = entries_[key];
        e.rec = std::move(rec);
        e.bound = true;
        int64_t age = std::max<int64_t>(0, static_cast<int64_t>(time(nullptr)) - e.rec.acquiredAt);
        e.base = loop_.now() - std::chrono::seconds(age);
        if (e.rec.leaseSeconds == 0) {
            e.expired = true;  // expired or refused before the restart
            log(e.rec, "lease of " + e.rec.address + " had ended before the restart");
            continue;
        }
        log(e.rec, "lease of " + e.rec.address + " picked up again");
        schedule(key, e);
    }
}

int Daemon::run() {
    if (auto e = raiseFdLimit()) logLine("daemon", e.text());
    if (auto e = loop_.init()) {
        logLine("daemon", e.text());
        return 1;
    }
    if (auto e = listen()) {
        logLine("daemon", e.text());
        return 1;
    }
    if (!o_.pidFile.empty()) {
        if (auto e = util::writeFileAtomic(o_.pidFile, std::to_string(getpid()) + "\n", 0644)) {
            logLine("daemon", e.text());
            if (ownSocket_) unlink(o_.socketPath.c_str());
            return 1;
        }
    }
    for (int sig : {SIGTERM, SIGINT}) {
        if (auto e = loop_.onSignal(sig, [this](int s) {
                logLine("daemon", std::string(s == SIGTERM ? "SIGTERM" : "SIGINT") +
                                      ": stopping; the leases stay recorded");
                loop_.stop();
            })) {
            logLine("daemon", e.text());
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    restore();
    int status = 0;
    if (auto e = loop_.add(listen_.get(), EPOLLIN, [this](uint32_t) { onListen(); })) {
        logLine("daemon", e.text());
        status = 1;
    } else if (auto e2 = loop_.run()) {
        logLine("daemon", e2.text());
        status = 1;
    }
    if (ownSocket_) unlink(o_.socketPath.c_str());
    if (!o_.pidFile.empty()) unlink(o_.pidFile.c_str());
    return status;
}

}  // namespace

int runDaemon(const DaemonOptions& o) {
    Daemon d(o);
    return d.run();
}

}  // namespace dhcp
