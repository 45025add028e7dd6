// libFuzzer target: flanneld's subnet.env as flannel's plugin reads it
// (applets::flannel::parseSubnetEnv, the text parser loadSubnetEnv reads
// the file with), the delegate config built from what parsed
// (delegateConfig, for a fixed flannel config), and the bytes as a saved
// delegate config (parseSaved). Checks: a parsed subnet.env written out
// canonically reads back to the same values; the delegate config is a JSON
// object that reads back with parseSaved as type bridge and the network's
// name.
#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "applets/flannel.h"
#include "cni/json.h"
#include "cni/skel.h"
#include "fuzz_util.h"

namespace {

using applets::flannel::SubnetEnv;
using fuzz::check;

std::string list(const std::vector<util::IPNet>& ns) {
    std::string s;
    for (size_t i = 0; i < ns.size(); i++) s += (i ? "," : "") + ns[i].str();
    return s;
}

std::string write(const SubnetEnv& e) {
    std::string s;
    if (!e.networks.empty()) s += "FLANNEL_NETWORK=" + list(e.networks) + "\n";
    if (e.subnet) s += "FLANNEL_SUBNET=" + e.subnet->str() + "\n";
    if (!e.ip6Networks.empty()) s += "FLANNEL_IPV6_NETWORK=" + list(e.ip6Networks) + "\n";
    if (e.ip6Subnet) s += "FLANNEL_IPV6_SUBNET=" + e.ip6Subnet->str() + "\n";
    if (e.mtu) s += "FLANNEL_MTU=" + std::to_string(*e.mtu) + "\n";
    if (e.ipMasq) s += std::string("FLANNEL_IPMASQ=") + (*e.ipMasq ? "true" : "false") + "\n";
    return s;
}

bool same(const SubnetEnv& a, const SubnetEnv& b) {
    return a.networks == b.networks && a.subnet == b.subnet && a.ip6Networks == b.ip6Networks &&
           a.ip6Subnet == b.ip6Subnet && a.mtu == b.mtu && a.ipMasq == b.ipMasq;
}

const cni::CmdArgs& flannelArgs() {
    static const cni::CmdArgs args = [] {
        cni::CmdArgs a;
        std::string conf = R"({"cniVersion":"1.0.0","name":"cbr0","type":"flannel",)"
                           R"("delegate":{"hairpinMode":true,"isDefaultGateway":true},)"
                           R"("ipam":{"routes":[{"dst":"192.168.0.0/16"}]}})";
        if (fuzz::parseStdin(cni::Command::Add, conf, a)) std::abort();
        return a;
    }();
    return args;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);

    std::string type, name;
    if (applets::flannel::parseSaved(in, type, name)) check(!type.empty());

    SubnetEnv env;
    if (applets::flannel::parseSubnetEnv(in, "/run/flannel/subnet.env", env)) return 0;
    check((!env.networks.empty() || !env.ip6Networks.empty()) && (env.subnet || env.ip6Subnet) && env.mtu &&
          env.ipMasq);
    for (const auto* nets : {&env.networks, &env.ip6Networks})
        for (const auto& n : *nets) check(!n.hasHostBits());
    for (const auto* sn : {&env.subnet, &env.ip6Subnet}) check(!*sn || !(*sn)->hasHostBits());

    std::string text = write(env);
    SubnetEnv back;
    check(!applets::flannel::parseSubnetEnv(text, "subnet.env", back) && same(back, env));

    std::string conf;
    if (applets::flannel::delegateConfig(flannelArgs(), env, conf)) std::abort();  // the fixed config is valid
    rapidjson::Document d;
    check(!cni::json::parseDocument(conf, d) && d.IsObject() && d.HasMember("ipam"));
    check(applets::flannel::parseSaved(conf, type, name) && type == "bridge" && name == "cbr0");
    return 0;
}
