#include "dhcp/protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "util/fd.h"
#include "util/fs.h"
#include "util/text.h"

namespace dhcp {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool needsEscape(unsigned char c) { return c == '%' || c < 0x20 || c == 0x7f; }

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool validKey(std::string_view k) {
    if (k.empty()) return false;
    for (char c : k)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

// A head is printable ASCII words separated by single spaces ("ADD",
// "ERROR 11").
bool validHead(std::string_view h) {
    if (h.empty() || h.front() == ' ' || h.back() == ' ') return false;
    for (size_t i = 0; i < h.size(); i++) {
        unsigned char c = static_cast<unsigned char>(h[i]);
        if (c < 0x20 || c >= 0x7f) return false;
        if (c == ' ' && h[i + 1] == ' ') return false;
    }
    return true;
}

std::string escape(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char ch : v) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (needsEscape(c)) {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += ch;
        }
    }
    return out;
}

// The inverse of escape(); false for a bad %XX or a raw byte that should
// have been escaped.
bool unescape(std::string_view v, std::string& out) {
    out.clear();
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); i++) {
        unsigned char c = static_cast<unsigned char>(v[i]);
        if (c == '%') {
            if (i + 2 >= v.size()) return false;
            int hi = hexValue(v[i + 1]), lo = hexValue(v[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (needsEscape(c)) {
            return false;
        } else {
            out += static_cast<char>(c);
        }
    }
    return true;
}

Error malformed(size_t line, std::string_view what) {
    return Error(util::kDecodeFailure, "malformed cnibox-dhcp block: line " + std::to_string(line) + ": " +
                                           std::string(what));
}

// The first line of `text`, escaped and cut to 80 bytes, for messages.
std::string firstLine(std::string_view text) {
    std::string_view l = text.substr(0, text.find('\n'));
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    std::string e = escape(l.substr(0, 80));
    if (l.size() > 80) e += "...";
    return e;
}

// Go's net/rpc over HTTP: a client opens with "CONNECT <path> HTTP/1.0".
bool isHttpRequestLine(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto sp = line.rfind(' ');
    return sp != std::string_view::npos && line.substr(sp + 1).starts_with("HTTP/1.");
}

}  // namespace

const std::string* Block::get(std::string_view key) const {
    for (const auto& [k, v] : fields)
        if (k == key) return &v;
    return nullptr;
}

std::vector<std::string> Block::all(std::string_view key) const {
    std::vector<std::string> r;
    for (const auto& [k, v] : fields)
        if (k == key) r.push_back(v);
    return r;
}

std::string encode(const Block& b) {
    std::string s(kMagic);
    s += ' ';
    s += b.head;
    s += '\n';
    for (const auto& [k, v] : b.fields) {
        s += k;
        s += ' ';
        s += escape(v);
        s += '\n';
    }
    s += '\n';
    return s;
}

Error decode(std::string_view text, Block& out) {
    out = Block{};
    if (text.starts_with("HTTP/"))
        return Error(util::kDecodeFailure, "not a cnibox-dhcp block but an HTTP response (upstream's dhcp daemon "
                                           "speaks Go net/rpc over HTTP)",
                     firstLine(text));
    if (isHttpRequestLine(text.substr(0, text.find('\n'))))
        return Error(util::kDecodeFailure, "not a cnibox-dhcp block but an HTTP request (upstream's dhcp plugin "
                                           "speaks Go net/rpc over HTTP)",
                     firstLine(text));
    if (text.size() > kMaxBlock)
        return Error(util::kDecodeFailure, "cnibox-dhcp block longer than " + std::to_string(kMaxBlock) + " bytes");
    size_t end = text.find("\n\n");
    if (end == std::string_view::npos) return malformed(1, "no empty line at the end");
    if (end + 2 != text.size()) return malformed(1, "data after the block's empty line");
    text = text.substr(0, end + 1);  // every line with its '\n'

    size_t lineNo = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        lineNo++;
        if (lineNo == 1) {
            if (!line.starts_with(kMagic) || line.size() == kMagic.size() || line[kMagic.size()] != ' ')
                return malformed(1, "does not start with \"" + std::string(kMagic) + " \": \"" + firstLine(line) +
                                        "\"");
            std::string_view head = line.substr(kMagic.size() + 1);
            if (!validHead(head)) return malformed(1, "bad head \"" + escape(head) + "\"");
            out.head = std::string(head);
            continue;
        }
        size_t sp = line.find(' ');
        if (sp == std::string_view::npos) return malformed(lineNo, "no space after the key");
        std::string_view key = line.substr(0, sp);
        if (!validKey(key)) return malformed(lineNo, "bad key \"" + escape(key) + "\" (not [a-z0-9-]+)");
        std::string value;
        if (!unescape(line.substr(sp + 1), value))
            return malformed(lineNo, "bad escape or unescaped control byte in the value of \"" + std::string(key) +
                                         "\"");
        out.add(std::string(key), std::move(value));
    }
    return {};
}

Block errorReply(const Error& e) {
    Block b;
    if (e.ok()) {
        b.head = "OK";
        return b;
    }
    b.head = "ERROR " + std::to_string(e.code);
    b.add("msg", e.msg);
    b.add("details", e.details);
    return b;
}

Error replyError(const Block& reply) {
    if (reply.head == "OK") return {};
    std::string_view h = reply.head;
    int code = 0;
    if (h.starts_with("ERROR ") && h.size() > 6 && h.size() <= 6 + 9) {
        for (char c : h.substr(6)) {
            if (c < '0' || c > '9') {
                code = 0;
                break;
            }
            code = code * 10 + (c - '0');
        }
    }
    if (code <= 0) return Error(util::kDecodeFailure, "unexpected reply from the dhcp daemon: \"" + escape(h) + "\"");
    const std::string* msg = reply.get("msg");
    const std::string* details = reply.get("details");
    return Error(code, msg && !msg->empty() ? *msg : "the dhcp daemon failed without saying why",
                 details ? *details : std::string());
}

namespace {

using Clock = std::chrono::steady_clock;

// What is left of the deadline in whole milliseconds, rounded up, so a
// poll never wakes before it; 0 once it has passed.
int remainingMs(Clock::time_point deadline) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

// Waits for `events` on `fd` until the deadline: 1 ready, 0 timed out, -1
// poll failed (errno).
int waitFor(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int r = poll(&p, 1, remainingMs(deadline));
        if (r < 0 && errno == EINTR) continue;
        return r;
    }
}

// "dhcp daemon not reachable at <path>: <op>: <errno text>".
Error unreachable(const std::string& path, std::string_view op, int err) {
    return Error::sys(util::kTryAgainLater, "dhcp daemon not reachable at " + path + ": " + std::string(op), err);
}

Error timedOut(const std::string& path, int timeoutMs) {
    return Error(util::kTryAgainLater,
                 "no reply from the dhcp daemon at " + path + " within " + std::to_string(timeoutMs) + " ms")
        .withErrno(ETIMEDOUT);
}

// A reply that does not open with our magic: the daemon at the other end
// is someone else's. Decided on the first bytes, without waiting for the end
// (an HTTP server's reply has no "\n\n" and may stay open).
bool foreign(std::string_view got) {
    std::string_view want = kMagic;
    size_t n = std::min(got.size(), want.size() + 1);
    for (size_t i = 0; i < n; i++)
        if (got[i] != (i < want.size() ? want[i] : ' ')) return true;
    return false;
}

Error connectTo(const std::string& path, int fd, Clock::time_point deadline, int timeoutMs) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path)
        return unreachable(path, "connect", ENAMETOOLONG);
    std::memcpy(sa.sun_path, path.data(), path.size());
    for (;;) {
        if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return {};
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN) {
            // The daemon's listen backlog is full; a unix socket has no
            // pending connect to poll for, so try again shortly.
            if (remainingMs(deadline) == 0) return timedOut(path, timeoutMs);
            util::sleepMs(std::min(10, remainingMs(deadline)));
            continue;
        }
        if (err == EINPROGRESS) {
            int r = waitFor(fd, POLLOUT, deadline);
            if (r < 0) return unreachable(path, "poll", errno);
            if (r == 0) return timedOut(path, timeoutMs);
            socklen_t len = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err == 0) return {};
        }
        struct stat st;
        if (stat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
            return Error(util::kTryAgainLater, "dhcp daemon not reachable at " + path + ": not a socket").withErrno(err);
        return unreachable(path, "connect", err);
    }
}

// Sends all of `data`. A daemon that hangs up early may still have written
// its reply (an error about the request), so EPIPE and ECONNRESET end the
// sending without failing: the reading decides.
Error sendAll(const std::string& path, int fd, std::string_view data, Clock::time_point deadline, int timeoutMs) {
    while (!data.empty()) {
        ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        int err = errno;
        if (err == EINTR) continue;
        if (err == EPIPE || err == ECONNRESET) return {};
        if (err != EAGAIN) return unreachable(path, "send", err);
        int r = waitFor(fd, POLLOUT, deadline);
        if (r < 0) return unreachable(path, "poll", errno);
        if (r == 0) return timedOut(path, timeoutMs);
    }
    return {};
}

Error foreignReply(const std::string& path, std::string_view got) {
    std::string m = path + " answers in another protocol";
    if (got.starts_with("HTTP/")) m += " (HTTP: upstream's dhcp daemon?)";
    return Error(util::kTryAgainLater, std::move(m), firstLine(got));
}

}  // namespace

Error call(const std::string& socketPath, const Block& request, Block& reply, int timeoutMs) {
    reply = Block{};
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    std::string req = encode(request);
    if (req.size() > kMaxBlock)
        return Error(util::kInternal, "dhcp request longer than " + std::to_string(kMaxBlock) + " bytes");

    util::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return Error::sys(util::kInternal, "socket", errno);
    if (auto e = connectTo(socketPath, fd.get(), deadline, timeoutMs)) return e;
    if (auto e = sendAll(socketPath, fd.get(), req, deadline, timeoutMs)) return e;

    std::string got;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0) {
            int err = errno;
            if (err == EINTR) continue;
            if (err == EAGAIN) {
                int r = waitFor(fd.get(), POLLIN, deadline);
                if (r < 0) return unreachable(socketPath, "poll", errno);
                if (r == 0) return timedOut(socketPath, timeoutMs);
                continue;
            }
            if (err != ECONNRESET) return unreachable(socketPath, "recv", err);
            n = 0;  // a reset is a close
        }
        if (n == 0)
            return Error(util::kTryAgainLater,
                         "dhcp daemon at " + socketPath + " closed the connection before replying");
        size_t from = got.size() > 0 ? got.size() - 1 : 0;
        got.append(buf, static_cast<size_t>(n));
        if (foreign(got)) return foreignReply(socketPath, got);
        size_t end = got.find("\n\n", from);
        if (end != std::string::npos) {
            got.resize(end + 2);  // one reply a connection: anything after it is not ours to read
            if (auto e = decode(got, reply)) return e.wrap("reply of the dhcp daemon at " + socketPath);
            return replyError(reply);
        }
        if (got.size() > kMaxBlock)
            return Error(util::kDecodeFailure, "reply of the dhcp daemon at " + socketPath + " longer than " +
                                                   std::to_string(kMaxBlock) + " bytes");
    }
}

}  // namespace dhcp
