// Running an applet's config parser (applets::<name>::parseConf) on a
// config as the skel would hand it over, for the test_applet_*.cpp files.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "helpers.h"
#include "netfilter/netfilter.h"

namespace testutil {

template <class Conf>
struct ConfParser {
    using Env = std::vector<std::pair<std::string, std::string>>;

    cni::Error (*parse)(const cni::CmdArgs&, bool, Conf&);
    std::string type;  // the config's "type"
    std::string base;  // members every config gets (",\"ipam\":{...}"), "" = none

    // The parser on {cniVersion 1.0.0, name, type, base, extra} for `cmd`
    // with CNI_* `env`; `strict` as ADD, CHECK and STATUS parse.
    cni::Error operator()(const std::string& extra, Conf& c, bool strict = true, const Env& env = {},
                          cni::Command cmd = cni::Command::Add) const {
        std::string config = R"({"cniVersion":"1.0.0","name":"n","type":")" + type + "\"" + base + extra + "}";
        return parse(cmdArgs(config, cmd, env), strict, c);
    }

    // `extra` is refused (under `strict`) with `code` and `msg`.
    void refuses(const std::string& extra, const std::string& msg, bool strict = true,
                 int code = cni::kInvalidNetConf) const {
        Conf c;
        cni::Error e = (*this)(extra, c, strict);
        INFO(type << base << extra << (strict ? " (strict)" : " (not strict)"));
        CHECK(e.code == code);
        CHECK(e.msg == msg);
    }
};

// An IPAM applet's parser (no `strict` flag) on a whole config as the skel
// passes it for ADD, with CNI_ARGS `cniArgs`: "ok" or "<code> <message>";
// `c` gets the config. outcome() when only the verdict matters, ok() when
// the config must parse.
template <class Conf, cni::Error (*Parse)(const cni::CmdArgs&, Conf&)>
struct IpamConfParser {
    std::string operator()(const std::string& json, Conf& c, const std::string& cniArgs = "") const {
        cni::Error e = Parse(cmdArgs(json, cni::Command::Add, {{"CNI_ARGS", cniArgs}}), c);
        return e ? std::to_string(e.code) + " " + e.msg : "ok";
    }
    std::string outcome(const std::string& json, const std::string& cniArgs = "") const {
        Conf c;
        return (*this)(json, c, cniArgs);
    }
    Conf ok(const std::string& json, const std::string& cniArgs = "") const {
        Conf c;
        REQUIRE((*this)(json, c, cniArgs) == "ok");
        return c;
    }
};

// The ipMasqBackend key of an applet that masquerades: "iptables",
// "nftables", "" (the choice left to the host); another name is refused
// under `strict` only, and so is a non-string.
template <class Conf>
void checkMasqBackend(const ConfParser<Conf>& parse) {
    for (auto [name, backend] : {std::pair{"iptables", nf::Backend::kIptables}, {"nftables", nf::Backend::kNftables}}) {
        Conf c;
        REQUIRE_FALSE(parse(R"(,"ipMasqBackend":")" + std::string(name) + "\"", c));
        REQUIRE(c.masqBackend);
        CHECK(*c.masqBackend == backend);
    }
    Conf automatic;
    REQUIRE_FALSE(parse(R"(,"ipMasqBackend":"")", automatic));
    CHECK_FALSE(automatic.masqBackend);
    parse.refuses(R"(,"ipMasqBackend":"pf")", "ipMasqBackend must be \"iptables\" or \"nftables\", not \"pf\"");
    Conf lax;
    REQUIRE_FALSE(parse(R"(,"ipMasqBackend":"pf")", lax, false));
    CHECK_FALSE(lax.masqBackend);
    parse.refuses(R"(,"ipMasqBackend":true)", "invalid value for \"ipMasqBackend\": expected a string, got bool");
}

}  // namespace testutil
