// static: IPAM that returns the addresses it is given.
#include "applets/static.h"

#include <string>
#include <string_view>

#include "cni/applet.h"
#include "cni/args.h"
#include "cni/json.h"
#include "cni/version.h"
#include "ipam/config.h"
#include "util/text.h"

namespace applets::static_ {

namespace {

using cni::Error;
using util::IP;
using util::IPNet;

constexpr const char* kHelp =
    "IPAM: returns the configured addresses, routes and dns; keeps no state.\n"
    "\n"
    "Config keys (under \"ipam\"):\n"
    "  addresses   [{address, gateway}]: address in CIDR form (\"10.1.2.3/24\"), gateway\n"
    "              optional; default none. More than one address per family needs\n"
    "              cniVersion >= 0.3.0.\n"
    "  routes      [{dst, gw, mtu, advmss, priority, table, scope}]; default none\n"
    "  dns         {nameservers, domain, search, options}; default none\n"
    "CNI_ARGS IP=<cidr>[,<cidr>...]  addresses appended to `addresses`\n"
    "CNI_ARGS GATEWAY=<ip>[,<ip>...] the gateway of the IP= address that contains it\n"
    "args.cni.ips, runtimeConfig.ips  CIDR lists that replace all addresses\n"
    "                                 (runtimeConfig wins over args)\n"
    "\n"
    "ADD    the result: ips, routes, dns.\n"
    "DEL    nothing to do.\n"
    "CHECK  every address must be in prevResult, with the configured gateway when one\n"
    "       is set (the reference plugin does not notice a missing address).\n"
    "GC, STATUS: nothing to do.\n"
    "\n"
    "Errors: 7 config, 4 CNI_ARGS, 100 CHECK mismatch.\n";

// An address as configured: `ipam.addresses` are parsed once all sources
// are in (as upstream), so a bad one replaced by args or runtimeConfig is no error.
struct Pending {
    std::string text;
    std::optional<IPNet> address;
    std::optional<IP> gateway;
};

std::vector<std::string_view> splitComma(std::string_view s) {
    std::vector<std::string_view> out;
    for (;;) {
        size_t c = s.find(',');
        out.push_back(s.substr(0, c));
        if (c == std::string_view::npos) return out;
        s.remove_prefix(c + 1);
    }
}

Error replaceFrom(const rapidjson::Value* holder, std::vector<Pending>& out) {
    if (!holder) return {};
    std::vector<std::string> ips;
    if (auto e = cni::json::getStringList(*holder, "ips", ips)) return e;
    if (ips.empty()) return {};
    std::vector<Pending> repl;
    for (const auto& s : ips) {
        auto n = IPNet::parse(s);
        if (!n)
            return {cni::kInvalidNetConf, "an entry in the 'ips' field is NOT in CIDR notation, got: '" + s + "'"};
        repl.push_back({s, *n, std::nullopt});
    }
    out = std::move(repl);
    return {};
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, Conf& out) {
    const rapidjson::Value* ipam = nullptr;
    if (auto e = ipam::ipamObject(a.config(), ipam)) return e;
    Conf c;
    std::vector<Pending> addrs;
    if (const rapidjson::Value* list = cni::json::get(*ipam, "addresses")) {
        if (!list->IsArray()) return {cni::kInvalidNetConf, "invalid value for \"addresses\": expected a list"};
        for (const auto& v : list->GetArray()) {
            if (!v.IsObject()) return {cni::kInvalidNetConf, "invalid value for \"addresses\": expected objects"};
            Pending ad;
            if (auto e = cni::json::getString(v, "address", ad.text)) return e;
            if (auto e = cni::json::getIP(v, "gateway", ad.gateway)) return e;
            addrs.push_back(std::move(ad));
        }
    }
    if (auto e = cni::json::getRoutes(*ipam, "routes", c.routes)) return e;
    if (auto e = cni::json::getDNS(*ipam, "dns", c.dns)) return e;

    if (!a.args.empty()) {
        cni::CniArgs ca;
        if (auto e = cni::parseCniArgs(a.args, {"IP", "GATEWAY"}, ca)) return e;
        if (const std::string* ip = ca.get("IP"); ip && !ip->empty())
            for (std::string_view item : splitComma(*ip)) {
                std::string s(util::trimSpace(item));
                auto n = IPNet::parse(s);
                if (!n)
                    return {cni::kInvalidEnv, "the 'ip' field is expected to be in CIDR notation, got: '" + s + "'"};
                addrs.push_back({s, *n, std::nullopt});
            }
        if (const std::string* gw = ca.get("GATEWAY"); gw && !gw->empty())
            for (std::string_view item : splitComma(*gw)) {
                auto g = IP::parse(util::trimSpace(item));
                if (!g) return {cni::kInvalidEnv, "invalid gateway address: " + std::string(item)};
                // As upstream: only addresses parsed so far (those from IP=) take it.
                for (Pending& ad : addrs)
                    if (ad.address && ad.address->contains(*g)) ad.gateway = *g;
            }
    }
    if (const rapidjson::Value* args = cni::json::get(a.config(), "args"))
        if (auto e = replaceFrom(cni::json::get(*args, "cni"), addrs)) return e;
    if (auto e = replaceFrom(cni::json::get(a.config(), "runtimeConfig"), addrs)) return e;

    int v4 = 0, v6 = 0;
    for (Pending& ad : addrs) {
        if (!ad.address) {
            auto n = IPNet::parse(ad.text);
            if (!n)
                return {cni::kInvalidNetConf,
                        "the 'address' field is expected to be in CIDR notation, got: '" + ad.text + "'"};
            ad.address = *n;
        }
        (ad.address->ip.is4() ? v4 : v6)++;
        c.addresses.push_back({*ad.address, ad.gateway});
    }
    if (auto e = ipam::checkAddressesPerFamily(a.conf.cniVersion, v4, v6)) return e;
    out = std::move(c);
    return {};
}

namespace {

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    out = cni::Result{};
    out.cniVersion = std::string(cni::str(cni::kCurrent));
    for (const Address& ad : c.addresses) out.ips.push_back({std::nullopt, ad.address, ad.gateway});
    out.routes = std::move(c.routes);
    out.dns = std::move(c.dns);
    return {};
}

Error cmdDel(const cni::CmdArgs&) { return {}; }

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    if (!a.conf.prevResult) return {cni::kInvalidNetConf, "Required prevResult missing"};
    const auto& ips = a.conf.prevResult->ips;
    for (const Address& ad : c.addresses) {
        const cni::IPConfig* hit = nullptr;
        for (const auto& ip : ips)
            if (ip.address.ip == ad.address.ip) {
                hit = &ip;
                break;
            }
        if (!hit)
            return {cni::kPluginSpecific,
                    "static: Failed to find addr " + ad.address.ip.str() + " on interface " + a.ifname};
        if (ad.gateway && hit->gateway != ad.gateway)
            return {cni::kPluginSpecific,
                    "static: Failed to match addr " + ad.address.ip.str() + " on interface " + a.ifname};
    }
    return {};
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .checkNetns = false,  // IPAM: never enters CNI_NETNS
};

}  // namespace

}  // namespace applets::static_

extern const cni::Applet static_applet;
const cni::Applet static_applet{
    .name = "static",
    .summary = "IPAM: the addresses given in the config",
    .help = applets::static_::kHelp,
    .plugin = &applets::static_::kPlugin,
};
