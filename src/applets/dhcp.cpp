// dhcp: IPAM from a DHCP server. The leases are acquired and kept by
// `dhcp daemon` (src/dhcp), one process per node; the applet asks it over a
// unix socket (src/dhcp/protocol.h) and turns its reply into the result.
#include "applets/dhcp.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cni/applet.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "cni/version.h"
#include "dhcp/daemon.h"
#include "dhcp/packet.h"
#include "dhcp/store.h"
#include "ipam/config.h"

namespace applets::dhcp_ {

namespace {

using cni::Error;

constexpr const char* kHelp =
    "IPAM: one IPv4 address from a DHCP server on the container's interface. The\n"
    "lease is acquired, renewed and released by `dhcp daemon`, which must run on the\n"
    "node; the plugin only asks it over a unix socket.\n"
    "\n"
    "Config keys (under \"ipam\"):\n"
    "  daemonSocketPath  default /run/cni/dhcp.sock; an absolute path of at most\n"
    "                    107 bytes (code 7 otherwise)\n"
    "  provide     [{option, value, fromArg}]: options sent to the server. option is\n"
    "              a name (dhcp-client-identifier, subnet-mask, routers, host-name,\n"
    "              user-class, vendor-class-identifier) or a code 1..254; value at\n"
    "              most 255 bytes; fromArg names a CNI_ARGS key whose value, when\n"
    "              the key is there, wins over value. Option 61 replaces the\n"
    "              default client ID. Default none.\n"
    "  request     [{option, skipDefault}]: options asked for (option 55). Asked\n"
    "              for by default: routers (3), subnet-mask (1) and, a cnibox\n"
    "              addition, the DNS options 6 (servers), 15 (domain) and\n"
    "              119 (search); skipDefault on any entry drops all five.\n"
    "  priority    default 0 (none): the metric of every route in the result\n"
    "Other keys under \"ipam\" are ignored.\n"
    "Client ID (option 61): byte 0 + \"<container id>/<network>/<ifname>\" (at\n"
    "most 254 bytes), as the reference plugin sends it.\n"
    "\n"
    "ADD    asks the daemon for a lease (it answers once the server has acked, or\n"
    "       with its error; up to 60 s). The result: the address with the\n"
    "       server's subnet mask (no mask: code 100), gateway = the first router;\n"
    "       routes from option 121 when the server sent it (router 0.0.0.0: an\n"
    "       on-link route, no gw, scope link), else option 33's routes and a\n"
    "       default route via the first router; dns from options 6, 15, 119\n"
    "       (the reference plugin returns no dns).\n"
    "DEL    the daemon sends DHCPRELEASE on the container's interface and forgets\n"
    "       the lease before it replies; an unknown attachment is success. The\n"
    "       link-making applets run this DEL before they delete the link. With the\n"
    "       namespace or the link gone, the RELEASE leaves by the host's device\n"
    "       the container's frames used (a macvlan's or ipvlan's lower device, a\n"
    "       veth's bridge), else as UDP routed from the daemon's namespace.\n"
    "CHECK  the daemon checks that it holds the attachment's lease.\n"
    "GC     the daemon releases this network's leases whose attachment is not in\n"
    "       cni.dev/valid-attachments; nothing when the key is absent.\n"
    "STATUS the daemon answers (code 50 when it cannot be reached).\n"
    "\n"
    "The daemon: `dhcp daemon [flags]` (also `cnibox dhcp daemon`), flags as Go's\n"
    "flag package reads them (-flag value, -flag=value, --flag):\n"
    "  -socketpath P     default /run/cni/dhcp.sock\n"
    "  -statedir D       default /var/lib/cni/dhcp: one lease record per\n"
    "                    attachment, so a restarted daemon keeps its leases\n"
    "  -pidfile P        default none\n"
    "  -hostprefix H     prepended to every netns path (daemon in a container)\n"
    "  -broadcast        ask the server to broadcast its replies (needed with\n"
    "                    ipvlan: its links share one MAC)\n"
    "  -timeout 10s      one exchange's wait for a reply\n"
    "  -resendmax 62s    the longest wait between retransmissions\n"
    "  -resendtimeout 208s  no more retries after this\n"
    "It runs until SIGTERM or SIGINT. A bad flag: the message on stderr, exit 2.\n"
    "\n"
    "Protocol: cnibox's own, not the reference plugin's (Go net/rpc over HTTP), so\n"
    "both ends must be cnibox. One request and one reply per connection, each a\n"
    "block of text lines ended by an empty line: \"CNIBOX-DHCP/1 <VERB>\" (ADD, DEL,\n"
    "CHECK, GC, STATUS) or \"CNIBOX-DHCP/1 OK\" / \"CNIBOX-DHCP/1 ERROR <code>\", then\n"
    "\"<key> <value>\" lines (value bytes below 0x20, 0x7f and '%' written %XX). A\n"
    "socket that answers in another protocol is named as such in the error (HTTP:\n"
    "the reference plugin's daemon).\n"
    "\n"
    "Errors: 7 config, 4 a CNI_ARGS value longer than 255 bytes, 11 the daemon\n"
    "cannot be reached at the socket (no socket, refused, another protocol, no\n"
    "reply within 60 s; code 50 for STATUS), 6 a malformed reply, 100 a reply\n"
    "without subnet mask or with an option that cannot be read; the daemon's own\n"
    "errors as it gives them.\n"
    "\n"
    "An attachment whose DEL keeps failing with code 11 because the daemon is gone:\n"
    "start the daemon again (same -socketpath and -statedir); it picks its lease\n"
    "records up and the DEL then succeeds. To drop the lease instead (e.g. the\n"
    "container's namespace is gone), remove its record file under the state dir,\n"
    "named \"<network>%2F<container id>%2F<ifname>\", before starting the daemon:\n"
    "a DEL of an attachment the daemon does not know succeeds.\n";

// Upstream's wording for an option it cannot parse.
Error badOption(const std::string& option) {
    return Error(cni::kInvalidNetConf, "Can not parse option " + cni::gojson::quote(option) +
                                           ": not an option name or a code 1..254");
}

// CNI_ARGS as the reference plugin reads them for fromArg: pairs split at
// ';', each at its first '='; text without '=' is skipped; the last wins.
std::optional<std::string> argValue(std::string_view args, std::string_view key) {
    std::optional<std::string> out;
    while (!args.empty()) {
        size_t semi = args.find(';');
        std::string_view pair = args.substr(0, semi);
        size_t eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == key) out = std::string(pair.substr(eq + 1));
        if (semi == std::string_view::npos) break;
        args.remove_prefix(semi + 1);
    }
    return out;
}

Error parseSocketPath(const rapidjson::Value& ipam, std::string& out) {
    std::string p;
    if (auto e = cni::json::getString(ipam, "daemonSocketPath", p)) return e;
    if (p.empty()) return {};  // as upstream: "" is the default
    if (p[0] != '/' || p.find('\0') != std::string::npos || p.size() > kMaxSocketPath)
        return Error(cni::kInvalidNetConf, "daemonSocketPath must be an absolute path of at most " +
                                               std::to_string(kMaxSocketPath) + " bytes, got " +
                                               cni::gojson::quote(p));
    out = std::move(p);
    return {};
}

Error parseProvide(const cni::CmdArgs& a, const rapidjson::Value& ipam, Conf& c, std::optional<std::string>& clientID) {
    const rapidjson::Value* list = cni::json::get(ipam, "provide");
    if (!list) return {};
    if (!list->IsArray())
        return Error(cni::kInvalidNetConf, std::string("invalid value for \"provide\": expected a list, got ") +
                                               cni::json::typeName(*list));
    for (const auto& v : list->GetArray()) {
        if (!v.IsObject())
            return Error(cni::kInvalidNetConf, std::string("invalid value for \"provide\": expected objects, got ") +
                                                   cni::json::typeName(v));
        std::string option, value, fromArg;
        if (auto e = cni::json::getString(v, "option", option)) return e;
        if (auto e = cni::json::getString(v, "value", value)) return e;
        if (auto e = cni::json::getString(v, "fromArg", fromArg)) return e;
        auto code = ::dhcp::optionCode(option);
        if (!code) return badOption(option);
        if (value.size() > 255)
            return Error(cni::kInvalidNetConf, "value too long for option " + cni::gojson::quote(option) + ": " +
                                                   cni::gojson::quote(value));
        std::optional<std::string> got;
        if (!value.empty()) got = value;
        if (!fromArg.empty())
            if (auto arg = argValue(a.args, fromArg)) {
                if (arg->size() > 255)
                    return Error(cni::kInvalidEnv, "value too long for option " + cni::gojson::quote(option) +
                                                       " from CNI_ARGS " + cni::gojson::quote(fromArg) + ": " +
                                                       cni::gojson::quote(*arg));
                got = std::move(*arg);
            }
        if (!got) continue;
        if (*code == ::dhcp::kOptClientID) {
            clientID = std::move(*got);
            continue;
        }
        bool replaced = false;
        for (auto& [k, val] : c.provide)
            if (k == *code) {
                val = *got;
                replaced = true;
            }
        if (!replaced) c.provide.emplace_back(*code, std::move(*got));
    }
    return {};
}

Error parseRequest(const rapidjson::Value& ipam, Conf& c) {
    bool skipDefault = false;
    std::vector<uint8_t> codes;
    if (const rapidjson::Value* list = cni::json::get(ipam, "request")) {
        if (!list->IsArray())
            return Error(cni::kInvalidNetConf, std::string("invalid value for \"request\": expected a list, got ") +
                                                   cni::json::typeName(*list));
        for (const auto& v : list->GetArray()) {
            if (!v.IsObject())
                return Error(cni::kInvalidNetConf,
                             std::string("invalid value for \"request\": expected objects, got ") +
                                 cni::json::typeName(v));
            std::string option;
            bool skip = false;
            if (auto e = cni::json::getString(v, "option", option)) return e;
            if (auto e = cni::json::getBool(v, "skipDefault", skip)) return e;
            skipDefault = skipDefault || skip;
            if (option.empty()) continue;  // as upstream: an entry only for skipDefault
            auto code = ::dhcp::optionCode(option);
            if (!code) return badOption(option);
            codes.push_back(*code);
        }
    }
    if (!skipDefault)
        for (uint8_t d : {::dhcp::kOptRouter, ::dhcp::kOptSubnetMask, ::dhcp::kOptDnsServers, ::dhcp::kOptDomainName,
                          ::dhcp::kOptDomainSearch})
            codes.push_back(d);
    c.request.clear();
    for (uint8_t code : codes) {
        bool seen = false;
        for (uint8_t have : c.request) seen = seen || have == code;
        if (!seen) c.request.push_back(code);
    }
    return {};
}

std::string absoluteNetns(const std::string& netns) {
    if (netns.empty() || netns[0] == '/') return netns;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return netns;
    std::string dir = cwd;
    if (dir.size() > 1) dir += '/';
    return dir + netns;
}

std::string joinCodes(const std::vector<uint8_t>& codes) {
    std::string out;
    for (uint8_t code : codes) {
        if (!out.empty()) out += ' ';
        out += std::to_string(code);
    }
    return out;
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, Conf& out) {
    const rapidjson::Value* ipam = nullptr;
    if (auto e = ipam::ipamObject(a.config(), ipam)) return e;
    Conf c;
    if (auto e = parseSocketPath(*ipam, c.socketPath)) return e;
    std::optional<std::string> clientID;
    if (auto e = parseProvide(a, *ipam, c, clientID)) return e;
    if (auto e = parseRequest(*ipam, c)) return e;
    if (auto e = cni::json::getInt(*ipam, "priority", c.priority)) return e;
    if (c.priority < 0)
        return Error(cni::kInvalidNetConf, "priority must not be negative, got " + std::to_string(c.priority));
    c.clientID = clientID ? std::move(*clientID)
                          : std::string(1, '\0') + ::dhcp::defaultClientID(a.containerID, a.conf.name, a.ifname);
    out = std::move(c);
    return {};
}

::dhcp::Block attachmentRequest(const cni::CmdArgs& a, const Conf& c, std::string_view verb) {
    ::dhcp::Block b;
    b.head = std::string(verb);
    b.add("network", a.conf.name);
    b.add("container-id", a.containerID);
    b.add("ifname", a.ifname);
    b.add("netns", absoluteNetns(a.netns));
    b.add("client-id", ::dhcp::toHex(c.clientID));
    b.add("request", joinCodes(c.request));
    for (const auto& [code, value] : c.provide) b.add("provide", std::to_string(code) + " " + ::dhcp::toHex(value));
    return b;
}

::dhcp::Block gcRequest(const cni::CmdArgs& a) {
    ::dhcp::Block b;
    b.head = "GC";
    b.add("network", a.conf.name);
    for (const cni::Attachment& at : a.conf.validAttachments) b.add("keep", at.containerID + "/" + at.ifname);
    return b;
}

Error resultFromReply(const ::dhcp::Block& reply, int priority, cni::Result& out) {
    const std::string* addr = reply.get("address");
    if (!addr) return Error(cni::kDecodeFailure, "reply of the dhcp daemon has no address");
    auto address = util::IPNet::parse(*addr);
    if (!address || !address->ip.is4())
        return Error(cni::kDecodeFailure, "reply of the dhcp daemon has an invalid address " + cni::gojson::quote(*addr));
    std::map<uint8_t, std::string> opts;
    for (const std::string& f : reply.all("option")) {
        uint8_t code = 0;
        std::string bytes;
        if (!::dhcp::parseCodeHex(f, code, bytes))
            return Error(cni::kDecodeFailure, "reply of the dhcp daemon has a malformed option " + cni::gojson::quote(f));
        opts[code] += bytes;
    }
    auto opt = [&opts](uint8_t code) -> const std::string* {
        auto it = opts.find(code);
        return it == opts.end() ? nullptr : &it->second;
    };
    auto unreadable = [](const char* what, const Error& e) {
        return Error(cni::kPluginSpecific, std::string("DHCP option ") + what + " in the server's reply: " + e.text());
    };
    if (!opt(::dhcp::kOptSubnetMask))
        return Error(cni::kPluginSpecific, "DHCP option Subnet Mask not found in DHCPACK");

    cni::Result r;
    r.cniVersion = std::string(cni::str(cni::kCurrent));
    std::optional<util::IP> gateway;
    if (const std::string* raw = opt(::dhcp::kOptRouter)) {
        std::vector<util::IP> routers;
        if (auto e = ::dhcp::parseIPList(*raw, routers)) return unreadable("3 (routers)", e);
        if (!routers.empty()) gateway = routers[0];
    }
    r.ips.push_back({std::nullopt, *address, gateway});

    // RFC 3442: with option 121, option 33 and the routers are not routes.
    std::vector<::dhcp::Route> routes;
    const std::string* classless = opt(::dhcp::kOptClasslessRoutes);
    if (classless)
        if (auto e = ::dhcp::parseClasslessRoutes(*classless, routes)) return unreadable("121 (classless routes)", e);
    if (!routes.empty()) {
        for (const auto& rt : routes) {
            cni::Route cr{.dst = rt.dst};
            if (rt.gw.isUnspecified()) cr.scope = 253;  // RT_SCOPE_LINK: on-link
            else cr.gw = rt.gw;
            r.routes.push_back(cr);
        }
    } else {
        if (const std::string* raw = opt(::dhcp::kOptStaticRoutes)) {
            if (auto e = ::dhcp::parseStaticRoutes(*raw, routes)) return unreadable("33 (static routes)", e);
            for (const auto& rt : routes) r.routes.push_back({.dst = rt.dst, .gw = rt.gw});
        }
        if (gateway) r.routes.push_back({.dst = util::IPNet{util::IP::v4(0, 0, 0, 0), 0}, .gw = gateway});
    }
    if (priority)
        for (auto& rt : r.routes) rt.priority = priority;

    if (const std::string* raw = opt(::dhcp::kOptDnsServers)) {
        std::vector<util::IP> servers;
        if (auto e = ::dhcp::parseIPList(*raw, servers)) return unreadable("6 (DNS servers)", e);
        for (const auto& s : servers) r.dns.nameservers.push_back(s.str());
    }
    if (const std::string* raw = opt(::dhcp::kOptDomainName)) r.dns.domain = ::dhcp::parseDomainName(*raw);
    if (const std::string* raw = opt(::dhcp::kOptDomainSearch))
        if (auto e = ::dhcp::parseDomainSearch(*raw, r.dns.search)) return unreadable("119 (domain search)", e);
    out = std::move(r);
    return {};
}

namespace {

// Long enough for the daemon's exchange with the server (its -timeout and
// retransmissions) to end in an ack or an error.
constexpr int kCallTimeoutMs = 60 * 1000;

Error call(const Conf& c, const ::dhcp::Block& request, ::dhcp::Block& reply) {
    return ::dhcp::call(c.socketPath, request, reply, kCallTimeoutMs);
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    ::dhcp::Block reply;
    if (auto e = call(c, attachmentRequest(a, c, "ADD"), reply)) return e;
    return resultFromReply(reply, c.priority, out);
}

Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    ::dhcp::Block reply;
    return call(c, attachmentRequest(a, c, "DEL"), reply);
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    ::dhcp::Block reply;
    return call(c, attachmentRequest(a, c, "CHECK"), reply);
}

Error cmdGC(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    if (!a.conf.hasValidAttachments) return {};
    ::dhcp::Block reply;
    return call(c, gcRequest(a), reply);
}

Error cmdStatus(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    ::dhcp::Block request, reply;
    request.head = "STATUS";
    Error e = call(c, request, reply);
    // A daemon that cannot be reached (no reply at all) means ADD cannot work.
    if (e.code == cni::kTryAgainLater && reply.head.empty()) e.code = cni::kNotAvailable;
    return e;
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
    .status = cmdStatus,
    .checkNetns = false,  // the daemon opens CNI_NETNS, the plugin never does
};

// `dhcp daemon [flags]` runs the daemon; anything else is the CNI plugin.
int dhcpMain(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "daemon") == 0) {
        ::dhcp::DaemonOptions o;
        if (auto e = ::dhcp::parseDaemonFlags(argc, argv, o)) {
            std::fprintf(stderr, "%s\n", e.text().c_str());
            return 2;
        }
        return ::dhcp::runDaemon(o);
    }
    return cni::runPlugin("dhcp", kPlugin);
}

}  // namespace

}  // namespace applets::dhcp_

extern const cni::Applet dhcp_applet;
const cni::Applet dhcp_applet{
    .name = "dhcp",
    .summary = "IPAM: addresses from a DHCP server, leases kept by `dhcp daemon`",
    .help = applets::dhcp_::kHelp,
    .plugin = &applets::dhcp_::kPlugin,
    .main = applets::dhcp_::dhcpMain,
};
