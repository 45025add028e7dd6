// src/dhcp/protocol: the applet-daemon text protocol (escaping, limits,
// malformed blocks) and call() against small servers on a unix socket.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "dhcp/protocol.h"
#include "helpers.h"
#include "util/fd.h"
#include "util/fs.h"

using dhcp::Block;
using testutil::TmpDir;
using util::Error;

namespace {

std::string allBytes() {
    std::string s;
    for (int c = 0; c < 256; c++) s += static_cast<char>(c);
    return s;
}

Error decodeText(std::string_view text) {
    Block b;
    return dhcp::decode(text, b);
}

// A listening unix socket and a thread that serves one connection: it
// reads the request up to its empty line (or EOF) unless told not to, then
// hands the connection and the request text to `serve`.
class Server {
public:
    using Serve = std::function<void(int conn, const std::string& request)>;
    Server(std::string path, Serve serve, bool readRequest = true) : path_(std::move(path)) {
        listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(listen_);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        REQUIRE(path_.size() < sizeof sa.sun_path);
        std::memcpy(sa.sun_path, path_.data(), path_.size());
        REQUIRE(bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        REQUIRE(listen(listen_.get(), 4) == 0);
        thread_ = std::thread([this, serve = std::move(serve), readRequest] {
            pollfd p{listen_.get(), POLLIN, 0};
            if (poll(&p, 1, 10000) != 1) return;  // the test never connected: give up
            util::Fd conn(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!conn) return;
            char buf[4096];
            while (readRequest && request.find("\n\n") == std::string::npos) {
                ssize_t n = read(conn.get(), buf, sizeof buf);
                if (n <= 0) break;
                request.append(buf, static_cast<size_t>(n));
            }
            serve(conn.get(), request);
        });
    }
    ~Server() { join(); }
    // Waits for the connection to be served; `request` is complete after.
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    const std::string& path() const { return path_; }
    std::string request;  // what the client sent (read it after join())

private:
    std::string path_;
    util::Fd listen_;
    std::thread thread_;
};

void writeText(int fd, std::string_view s) { (void)util::writeAll(fd, s); }

// Waits until the client hangs up.
void drain(int fd) {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

Block addRequest() {
    Block req;
    req.head = "ADD";
    req.add("container-id", "c1");
    req.add("provide", "12 host\nname");
    req.add("provide", "60 vendor");
    return req;
}

}  // namespace

TEST_CASE("protocol: every byte survives escaping", "[dhcp]") {
    Block b;
    b.head = "ADD";
    b.add("v", allBytes());
    b.add("empty", "");
    std::string text = dhcp::encode(b);
    // Only '%', controls and DEL are escaped, upper-case; the rest is raw.
    CHECK(text.find("%25") != std::string::npos);
    CHECK(text.find("%0A") != std::string::npos);
    CHECK(text.find("~%7F\x80\x81") != std::string::npos);
    CHECK(text.find("\xfe\xff\nempty") != std::string::npos);
    CHECK(text.find(" !\"#$") != std::string::npos);
    CHECK(text.starts_with("CNIBOX-DHCP/1 ADD\nv %00%01%02"));
    CHECK(text.ends_with("\nempty \n\n"));
    Block back;
    REQUIRE_FALSE(dhcp::decode(text, back));
    CHECK(back.head == "ADD");
    REQUIRE(back.fields.size() == 2);
    CHECK(*back.get("v") == allBytes());
    CHECK(back.get("empty")->empty());
    // Lower-case escapes are read too.
    REQUIRE_FALSE(dhcp::decode("CNIBOX-DHCP/1 OK\nk a%0ab%7f\n\n", back));
    CHECK(*back.get("k") == "a\nb\x7f");
}

TEST_CASE("protocol: get, all and repeated keys keep their order", "[dhcp]") {
    Block b;
    REQUIRE_FALSE(dhcp::decode("CNIBOX-DHCP/1 DEL\nkeep 1\nx-2 y\nkeep 3 4\n\n", b));
    CHECK(b.head == "DEL");
    CHECK(*b.get("keep") == "1");
    CHECK(b.all("keep") == std::vector<std::string>{"1", "3 4"});
    CHECK(b.get("nope") == nullptr);
    CHECK(b.all("nope").empty());
    CHECK(dhcp::encode(b) == "CNIBOX-DHCP/1 DEL\nkeep 1\nx-2 y\nkeep 3 4\n\n");
}

TEST_CASE("protocol: a block may be kMaxBlock bytes, not one more", "[dhcp]") {
    Block b;
    b.head = "OK";
    b.add("v", "");
    size_t base = dhcp::encode(b).size();
    b.fields[0].second.assign(dhcp::kMaxBlock - base, 'x');
    std::string text = dhcp::encode(b);
    REQUIRE(text.size() == dhcp::kMaxBlock);
    CHECK_FALSE(decodeText(text));
    b.fields[0].second += 'x';
    Error e = decodeText(dhcp::encode(b));
    CHECK(e.code == util::kDecodeFailure);
    CHECK(e.msg.find("longer than 262144 bytes") != std::string::npos);
}

TEST_CASE("protocol: malformed blocks are decode failures saying why", "[dhcp]") {
    struct Case {
        const char* text;
        const char* says;
    };
    const Case cases[] = {
        {"", "no empty line"},
        {"CNIBOX-DHCP/1 OK\nk v\n", "no empty line"},
        {"CNIBOX-DHCP/1 OK\n\nk v\n\n", "data after"},
        {"CNIBOX-DHCP/2 OK\n\n", "does not start with"},
        {"CNIBOX-DHCP/1\n\n", "does not start with"},
        {"CNIBOX-DHCP/1OK\n\n", "does not start with"},
        {"CNIBOX-DHCP/1 \n\n", "bad head"},
        {"CNIBOX-DHCP/1  OK\n\n", "bad head"},
        {"CNIBOX-DHCP/1 OK \n\n", "bad head"},
        {"CNIBOX-DHCP/1 O\tK\n\n", "bad head"},
        {"CNIBOX-DHCP/1 OK\r\n\n", "bad head"},
        {"CNIBOX-DHCP/1 OK\nKey v\n\n", "line 2: bad key \"Key\""},
        {"CNIBOX-DHCP/1 OK\n v\n\n", "bad key \"\""},
        {"CNIBOX-DHCP/1 OK\nk_1 v\n\n", "bad key"},
        {"CNIBOX-DHCP/1 OK\nk\n\n", "no space after the key"},
        {"CNIBOX-DHCP/1 OK\nk v%\n\n", "bad escape"},
        {"CNIBOX-DHCP/1 OK\nk v%4\n\n", "bad escape"},
        {"CNIBOX-DHCP/1 OK\nk %G0\n\n", "bad escape"},
        {"CNIBOX-DHCP/1 OK\na b\nk a\tb\n\n", "line 3: bad escape or unescaped control byte"},
        {"CNIBOX-DHCP/1 OK\nk v\r\n\n", "unescaped control byte"},
    };
    for (const Case& c : cases) {
        INFO(c.text);
        Error e = decodeText(c.text);
        CHECK(e.code == util::kDecodeFailure);
        CHECK(e.msg.find(c.says) != std::string::npos);
    }
}

TEST_CASE("protocol: HTTP in either direction is named as such", "[dhcp]") {
    Error resp = decodeText("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    CHECK(resp.code == util::kDecodeFailure);
    CHECK(resp.msg.find("HTTP response (upstream's dhcp daemon speaks Go net/rpc over HTTP)") != std::string::npos);
    CHECK(resp.details == "HTTP/1.1 400 Bad Request");
    // What upstream's plugin sends (rpc.DialHTTPPath).
    Error req = decodeText("CONNECT /_goRPC_ HTTP/1.0\n\n");
    CHECK(req.code == util::kDecodeFailure);
    CHECK(req.msg.find("HTTP request (upstream's dhcp plugin") != std::string::npos);
}

TEST_CASE("protocol: error replies carry code, message and details", "[dhcp]") {
    Block r = dhcp::errorReply(Error(util::kTryAgainLater, "no lease\nyet", "after 3 tries"));
    CHECK(r.head == "ERROR 11");
    Block back;
    REQUIRE_FALSE(dhcp::decode(dhcp::encode(r), back));
    Error e = dhcp::replyError(back);
    CHECK(e.code == util::kTryAgainLater);
    CHECK(e.msg == "no lease\nyet");
    CHECK(e.details == "after 3 tries");
    CHECK(dhcp::errorReply(Error()).head == "OK");
    Block ok;
    ok.head = "OK";
    CHECK_FALSE(dhcp::replyError(ok));
    for (const char* head : {"ERROR", "ERROR x", "ERROR 0", "ERROR -1", "ERROR 99999999999", "WHAT"}) {
        INFO(head);
        Block odd;
        odd.head = head;
        CHECK(dhcp::replyError(odd).code == util::kDecodeFailure);
    }
    Block bare;
    bare.head = "ERROR 100";
    CHECK(dhcp::replyError(bare).code == 100);
    CHECK_FALSE(dhcp::replyError(bare).msg.empty());
}

TEST_CASE("call: an OK reply comes back with its fields", "[dhcp]") {
    TmpDir d;
    Server s(d / "sock", [](int conn, const std::string&) {
        writeText(conn, "CNIBOX-DHCP/1 OK\nresult {\"ips\":[]}\nnote a%0Ab\n\n");
    });
    Block reply;
    Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
    s.join();
    CHECK(s.request == dhcp::encode(addRequest()));
    REQUIRE_FALSE(e);
    CHECK(reply.head == "OK");
    CHECK(*reply.get("result") == "{\"ips\":[]}");
    CHECK(*reply.get("note") == "a\nb");
}

TEST_CASE("call: an ERROR reply is the call's error, as it is", "[dhcp]") {
    TmpDir d;
    Server s(d / "sock", [](int conn, const std::string&) {
        writeText(conn, dhcp::encode(dhcp::errorReply(Error(util::kInvalidNetConf, "bad option", "code 300"))));
    });
    Block reply;
    Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
    CHECK(e.code == util::kInvalidNetConf);
    CHECK(e.msg == "bad option");
    CHECK(e.details == "code 300");
    CHECK(reply.head == "ERROR 7");
}

TEST_CASE("call: a daemon that hangs up without a reply", "[dhcp]") {
    TmpDir d;
    SECTION("after the request") {
        Server s(d / "sock", [](int, const std::string&) {});
        Block reply;
        Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg == "dhcp daemon at " + s.path() + " closed the connection before replying");
    }
    SECTION("halfway through its reply") {
        Server s(d / "sock", [](int conn, const std::string&) { writeText(conn, "CNIBOX-DHCP/1 OK\nresult x\n"); });
        Block reply;
        Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg.find("closed the connection before replying") != std::string::npos);
    }
    SECTION("before reading a request larger than the socket buffer (no SIGPIPE)") {
        Server s(d / "sock", [](int, const std::string&) {}, false);
        Block big;
        big.head = "ADD";
        big.add("blob", std::string(200 * 1024, 'x'));
        Block reply;
        Error e = dhcp::call(s.path(), big, reply, 5000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg.find("closed the connection before replying") != std::string::npos);
    }
}

TEST_CASE("call: a daemon that never answers times out with code 11", "[dhcp]") {
    TmpDir d;
    Server s(d / "sock", [](int conn, const std::string&) { drain(conn); });
    Block reply;
    auto start = std::chrono::steady_clock::now();
    Error e = dhcp::call(s.path(), addRequest(), reply, 200);
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(e.code == util::kTryAgainLater);
    CHECK(e.msg == "no reply from the dhcp daemon at " + s.path() + " within 200 ms");
    CHECK(e.errnum == ETIMEDOUT);
    CHECK(took >= std::chrono::milliseconds(200));
}

TEST_CASE("call: no daemon at the path", "[dhcp]") {
    TmpDir d;
    Block reply;
    SECTION("no file") {
        Error e = dhcp::call(d / "missing.sock", addRequest(), reply, 1000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg == "dhcp daemon not reachable at " + (d / "missing.sock") + ": connect: No such file or directory");
        CHECK(e.errnum == ENOENT);
    }
    SECTION("a regular file") {
        REQUIRE_FALSE(util::writeFileAtomic(d / "file", "x", 0600));
        Error e = dhcp::call(d / "file", addRequest(), reply, 1000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg == "dhcp daemon not reachable at " + (d / "file") + ": not a socket");
    }
    SECTION("a socket nobody listens on") {
        util::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::string p = d / "dead.sock";
        std::memcpy(sa.sun_path, p.data(), p.size());
        REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        fd.reset();
        Error e = dhcp::call(p, addRequest(), reply, 1000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg == "dhcp daemon not reachable at " + p + ": connect: Connection refused");
        CHECK(e.errnum == ECONNREFUSED);
    }
    SECTION("a path too long for a unix socket") {
        std::string p = d / std::string(200, 'x');
        Error e = dhcp::call(p, addRequest(), reply, 1000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.errnum == ENAMETOOLONG);
    }
}

TEST_CASE("call: another protocol at the path is named, without waiting", "[dhcp]") {
    TmpDir d;
    SECTION("HTTP (upstream's Go daemon), connection left open") {
        Server s(d / "sock", [](int conn, const std::string&) {
            writeText(conn,
                      "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Connection: close\r\n\r\n400 Bad Request");
            drain(conn);
        });
        Block reply;
        Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg == s.path() + " answers in another protocol (HTTP: upstream's dhcp daemon?)");
        CHECK(e.details == "HTTP/1.0 400 Bad Request");
    }
    SECTION("something else, then EOF") {
        Server s(d / "sock", [](int conn, const std::string&) { writeText(conn, "SSH-2.0-OpenSSH\r\n"); });
        Block reply;
        Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.msg == s.path() + " answers in another protocol");
    }
    SECTION("a newer version of ours") {
        Server s(d / "sock", [](int conn, const std::string&) { writeText(conn, "CNIBOX-DHCP/2 OK\n\n"); });
        Block reply;
        Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
        CHECK(e.code == util::kTryAgainLater);
        CHECK(e.details == "CNIBOX-DHCP/2 OK");
    }
}

TEST_CASE("call: a malformed or endless reply is a decode failure", "[dhcp]") {
    TmpDir d;
    SECTION("bad key") {
        Server s(d / "sock", [](int conn, const std::string&) { writeText(conn, "CNIBOX-DHCP/1 OK\nBad v\n\n"); });
        Block reply;
        Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
        CHECK(e.code == util::kDecodeFailure);
        CHECK(e.msg.starts_with("reply of the dhcp daemon at " + s.path() + ": malformed"));
    }
    SECTION("longer than kMaxBlock") {
        Server s(d / "sock", [](int conn, const std::string&) {
            writeText(conn, "CNIBOX-DHCP/1 OK\nv " + std::string(dhcp::kMaxBlock, 'x'));
            drain(conn);
        });
        Block reply;
        Error e = dhcp::call(s.path(), addRequest(), reply, 5000);
        CHECK(e.code == util::kDecodeFailure);
        CHECK(e.msg.find("longer than 262144 bytes") != std::string::npos);
    }
}
