// The wire protocol between the dhcp applet (plugin side) and `dhcp daemon`,
// over a unix stream socket (default /run/cni/dhcp.sock). Both ends are
// cnibox; the README documents it.
//
// One request and one reply per connection, each a block of text lines
// ending with an empty line:
//
//     CNIBOX-DHCP/1 <VERB>            request: ADD, DEL, CHECK, GC, STATUS
//     <key> <value>                   any number of fields, in order; a key
//     ...                             may repeat (e.g. "provide", "keep")
//     <empty line>
//
//     CNIBOX-DHCP/1 OK                reply; or "CNIBOX-DHCP/1 ERROR <code>"
//     <key> <value>                   with fields "msg" and "details"
//     <empty line>
//
// Keys are [a-z0-9-]+. A value is the rest of the line after one space, with
// '%', CR, LF and every byte below 0x20 or of 0x7f written as %XX (upper-case
// hex); nothing else is escaped. A block is at most kMaxBlock bytes.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.h"

namespace dhcp {

using util::Error;

constexpr std::string_view kMagic = "CNIBOX-DHCP/1";
constexpr size_t kMaxBlock = 256 * 1024;

struct Block {
    std::string head;       // the verb of a request; "OK" or "ERROR <code>" of a reply
    std::vector<std::pair<std::string, std::string>> fields;

    // The first value of `key`, or nullptr.
    const std::string* get(std::string_view key) const;
    // Every value of `key`, in order.
    std::vector<std::string> all(std::string_view key) const;
    void add(std::string key, std::string value) { fields.emplace_back(std::move(key), std::move(value)); }
};

// The text of a block, empty line included.
std::string encode(const Block& b);
// Parses one complete block (the text up to and including its empty line,
// nothing after it). Errors are code 6 (decode failure) and say what is
// wrong ("malformed cnibox-dhcp block: line 3: bad key \"Foo\""). HTTP is
// named as such: a block that starts with "HTTP/" came from an HTTP server
// ("upstream's dhcp daemon speaks Go net/rpc over HTTP"), one whose first
// line ends in " HTTP/1.x" from an HTTP client (upstream's dhcp plugin
// opens with "CONNECT /_goRPC_ HTTP/1.0"); the first line is the details.
Error decode(std::string_view text, Block& out);

// A reply block for an error: "ERROR <code>", msg, details ("OK" for an
// ok() one).
Block errorReply(const Error& e);
// The Error a reply carries (ok() for "OK").
Error replyError(const Block& reply);

// The applet's side: connects to `socketPath`, sends `request`, reads the
// reply block into `reply`, within `timeoutMs` in all. A daemon that is not
// there (no socket file, connection refused), a path that is not a socket,
// one that answers in another protocol (decided on the reply's first bytes,
// without waiting for more), one that hangs up before its reply's empty
// line, and a timeout: code 11, the message naming the socket path and the
// cause (errnum the errno where there is one):
//   dhcp daemon not reachable at /run/cni/dhcp.sock: connect: No such file or directory
//   dhcp daemon not reachable at /run/cni/dhcp.sock: not a socket
//   /run/cni/dhcp.sock answers in another protocol (HTTP: upstream's dhcp daemon?)
//   dhcp daemon at /run/cni/dhcp.sock closed the connection before replying
//   no reply from the dhcp daemon at /run/cni/dhcp.sock within 5000 ms
// A reply that is malformed or longer than kMaxBlock: code 6. The reply's
// own error comes back as it is (replyError). SIGPIPE is not raised.
Error call(const std::string& socketPath, const Block& request, Block& reply, int timeoutMs);

}  // namespace dhcp
