// libFuzzer target: CNI_ARGS and the runtime's JSON arguments. The input's
// first line is CNI_ARGS, the rest a plugin config (when it is not one, a
// fixed config is used, so CNI_ARGS is still read). Covers cni::parseCniArgs
// and CniArgs::get, CmdArgs::runtimeConfig / argsCni / member, and what
// reads their values: cni::containerMac (MAC=, args.cni.mac,
// runtimeConfig.mac), static's parseConf (IP=, GATEWAY=, args.cni.ips,
// runtimeConfig.ips), tuning's parseConf (MAC=, runtimeConfig.mac,
// args.cni.*), host-local's loadHostLocalConfig (IP=, args.cni.ips,
// runtimeConfig.ips/ipRanges) and cnitool's runtimeConf (its own CNI_ARGS
// parser, CAP_ARGS). Checks: parsed pairs join back to the text; last
// duplicate wins; MACs come out normalised.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "applets/cnitool.h"
#include "applets/static.h"
#include "applets/tuning.h"
#include "cni/args.h"
#include "cni/mac.h"
#include "cni/skel.h"
#include "fuzz_util.h"
#include "ipam/hostlocal.h"
#include "util/mac.h"

namespace {

using fuzz::check;

template <class Pairs>
std::string join(const Pairs& pairs) {
    std::string s;
    for (size_t i = 0; i < pairs.size(); i++) {
        if (i) s += ';';
        s += pairs[i].first + "=" + pairs[i].second;
    }
    return s;
}

void cniArgs(std::string_view s, std::initializer_list<std::string_view> known) {
    cni::CniArgs a;
    if (cni::parseCniArgs(s, known, a)) return;
    if (s.empty()) {
        check(a.pairs.empty());
        return;
    }
    check(join(a.pairs) == s);
    for (const auto& [k, v] : a.pairs) {
        const std::string* got = a.get(k);
        check(got != nullptr);
        const std::string* last = nullptr;
        for (const auto& [k2, v2] : a.pairs)
            if (k2 == k) last = &v2;
        check(got == last);
    }
}

void macChecked(const std::string& mac) {
    if (mac.empty()) return;
    auto n = util::normalizeMac(mac);
    check(n && *n == mac);
}

void consumers(const cni::CmdArgs& a, std::string_view rest) {
    for (const char* key : {"mac", "ips", "portMappings", "bandwidth", "ipRanges", "deviceID", "dns", "aliases"}) {
        (void)a.runtimeConfig(key);
        (void)a.argsCni(key);
        (void)a.member(key);
    }
    std::string mac;
    if (!cni::containerMac(a, "", mac)) macChecked(mac);
    if (!cni::containerMac(a, "02:42:AC:11:00:02", mac)) macChecked(mac);

    applets::static_::Conf sc;
    if (!applets::static_::parseConf(a, sc))
        for (const auto& ad : sc.addresses) check(!ad.gateway || ad.gateway->family == ad.address.ip.family);

    for (bool strict : {false, true}) {
        applets::tuning::Conf tc;
        if (!applets::tuning::parseConf(a, strict, tc) && strict) macChecked(tc.mac);
    }

    ipam::HostLocalConfig hc;
    (void)ipam::loadHostLocalConfig(a.config(), a.conf.name, a.conf.cniVersion, a.args, hc);

    // cnitool: CNI_ARGS and CAP_ARGS from its environment.
    applets::cnitool::Conf c;
    c.netns = "/var/run/netns/fuzz";
    c.ifname = "eth0";
    std::string args = a.args, caps(rest);
    auto env = [&](const char* name) -> std::string {
        std::string_view n = name;
        return n == "CNI_ARGS" ? args : n == "CAP_ARGS" ? caps : std::string();
    };
    cni::libcni::RuntimeConf rt;
    if (!applets::cnitool::runtimeConf(c, env, rt) && !args.empty()) {
        check(join(rt.args) == args);
        for (const auto& [k, v] : rt.args) check(!k.empty() && !v.empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    std::string_view rest = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

    cniArgs(line, {});
    cniArgs(line, {"IP"});
    cniArgs(line, {"MAC"});
    cniArgs(line, {"IP", "GATEWAY"});
    cniArgs(line, {"IP", "MAC", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"});

    static const std::string kDefault =
        R"({"cniVersion":"1.0.0","name":"fuzz","type":"static","ipam":{"type":"host-local","subnet":"10.1.0.0/16"}})";
    cni::CmdArgs a;
    std::string cniArgsText(line);
    if (fuzz::parseStdin(cni::Command::Add, std::string(rest), a, cniArgsText.c_str()) &&
        fuzz::parseStdin(cni::Command::Add, kDefault, a, cniArgsText.c_str()))
        return 0;
    consumers(a, rest);
    return 0;
}
