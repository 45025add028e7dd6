// The nftables backend's rules without a kernel: the IR rendered into
// nftnl expressions and read back as list() and the comparisons see them.
#include <netinet/in.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>

#include "helpers.h"
#include "netfilter/nft_netlink.h"
#include "netfilter/nft_rule.h"

namespace {

using namespace nf;

// The expression names of a rendered rule, in order.
std::vector<std::string> names(const nft::RuleShape& s) {
    std::vector<std::string> out;
    for (const std::string& e : s.exprs) out.push_back(e.substr(0, e.find(' ')));
    return out;
}

nft::Rendered rendered(const Rule& r, Family f = Family::kIPv4) {
    nft::Rendered out;
    Error e = nft::render(r, f, "t", "c", out);
    INFO(e.msg);
    REQUIRE_FALSE(e);
    return out;
}

}  // namespace

TEST_CASE("nft render: a DNAT rule reads back as nft makes it") {
    Rule r{.match = {.dst = util::IPNet::parse("10.0.0.0/8"), .proto = IPPROTO_TCP, .dports = {80}},
           .action = {.verdict = Verdict::kDnat, .toAddr = *util::IP::parse("10.1.1.1"), .toPort = 8080},
           .comment = "ctr1"};
    nft::Rendered rd = rendered(r);
    CHECK_FALSE(rd.set);
    nft::RuleShape s = nft::shapeOf(rd.rule.get());
    CHECK(names(s) == std::vector<std::string>{"payload", "cmp", "meta", "cmp", "payload", "cmp", "immediate",
                                               "immediate", "nat"});
    CHECK(s.comment == "ctr1");
    CHECK(nft::ruleComment(rd.rule.get()) == "ctr1");
    CHECK(nft::ruleTarget(rd.rule.get()) == "DNAT");
    CHECK(nft::verdictText(r.action) == "dnat to 10.1.1.1:8080");
}

TEST_CASE("nft render: several ports are an anonymous set") {
    Rule r{.match = {.proto = IPPROTO_UDP, .dports = {443, 80, 80}}, .action = {.verdict = Verdict::kAccept}};
    nft::Rendered rd = rendered(r, Family::kInet);
    REQUIRE(rd.set);
    CHECK(nft::setKeys(rd.set.get()) == std::vector<std::string>{"0050", "01bb"});
    nft::RuleShape s = nft::shapeOf(rd.rule.get());
    CHECK(names(s) == std::vector<std::string>{"meta", "cmp", "payload", "lookup", "immediate"});
    REQUIRE(s.sets.size() == 1);
    CHECK(s.sets[0].first == 3);  // the lookup's index in the texts
    CHECK(nft::ruleTarget(rd.rule.get()) == "ACCEPT");
    CHECK(nft::ruleComment(rd.rule.get()).empty());
}

TEST_CASE("nft render: jumps, targets and the inet protocol dependency") {
    Rule r{.match = {.src = util::IPNet::parse("fd00::1/128")}, .action = {.verdict = Verdict::kJump, .chain = "x"}};
    nft::Rendered rd = rendered(r, Family::kInet);
    CHECK(names(nft::shapeOf(rd.rule.get())) == std::vector<std::string>{"meta", "cmp", "payload", "cmp", "immediate"});
    std::string to = "x", other = "y";
    bool jumps = false;
    CHECK(nft::ruleTarget(rd.rule.get(), &other, &jumps) == "x");
    CHECK_FALSE(jumps);
    CHECK(nft::ruleTarget(rd.rule.get(), &to, &jumps) == "x");
    CHECK(jumps);

    CHECK(nft::ruleTarget(rendered({.action = {.verdict = Verdict::kMasquerade}}).rule.get()) == "MASQUERADE");
    CHECK(nft::ruleTarget(rendered({.action = {.verdict = Verdict::kSetMark, .mark = 0x2000, .mask = 0x2000}})
                              .rule.get()) == "MARK");
    CHECK(nft::verdictText({.verdict = Verdict::kDnat, .toAddr = *util::IP::parse("fd00::2"), .toPort = 80}) ==
          "dnat to [fd00::2]:80");
}

TEST_CASE("nft render: what a table family cannot hold is code 999") {
    auto fails = [](const Rule& r, Family f) {
        nft::Rendered out;
        return nft::render(r, f, "t", "c", out);
    };
    Error e = fails({.match = {.src = util::IPNet::parse("fd00::/8")}}, Family::kIPv4);
    CHECK(e.code == cni::kInternal);
    CHECK(e.msg == "nftables: address of the wrong family for table family ip");
    e = fails({.match = {.dports = {80}}}, Family::kIPv4);
    CHECK(e.msg == "nftables: destination ports need a protocol");
    e = fails({.match = {.etherSrc = std::array<uint8_t, 6>{2, 0, 0, 0, 0, 1}}}, Family::kInet);
    CHECK(e.msg == "nftables: ether saddr is only supported in the bridge family");
    e = fails({.action = {.verdict = Verdict::kJump}}, Family::kIPv4);
    CHECK(e.msg == "nftables: jump/goto without a chain");
    e = fails({.action = {.verdict = Verdict::kDnat, .toAddr = *util::IP::parse("10.0.0.1")}}, Family::kIPv6);
    CHECK(e.msg == "nftables: dnat address of the wrong family for table family ip6");
    e = fails({.comment = std::string(255, 'x')}, Family::kIPv4);
    CHECK(e.msg == "nftables: rule comment too long");
}

TEST_CASE("nft render: names and port lists are bounded, so the largest message fits its buffer") {
    auto fails = [](const Rule& r, const std::string& chain = "c") {
        nft::Rendered out;
        return nft::render(r, Family::kIPv6, "t", chain, out);
    };
    const std::string huge(100000, 'c');
    Error e = fails({}, huge);
    CHECK(e.code == cni::kInternal);
    CHECK(e.msg.rfind("nftables: invalid chain name \"cccc", 0) == 0);
    CHECK(e.msg.find("(100000 bytes)") != std::string::npos);
    CHECK(e.msg.size() < 200);
    CHECK(fails({}, std::string(256, 'c')));
    CHECK(fails({}, ""));
    CHECK(fails({}, std::string("a\0b", 3)));
    CHECK(fails({.action = {.verdict = Verdict::kJump, .chain = huge}}));
    CHECK(fails({.action = {.verdict = Verdict::kGoto, .chain = std::string(256, 'j')}}));
    std::vector<uint16_t> ports16;
    for (uint16_t p = 1; p <= 16; ++p) ports16.push_back(p);
    e = fails({.match = {.proto = IPPROTO_TCP, .dports = ports16}});
    CHECK(e.msg == "nftables: more than 15 ports in one rule");

    // Everything at its largest: the rule's and its set's messages stay far
    // below the buffer libnftnl writes into without a bound.
    ports16.pop_back();
    Rule r{.match = {.src = util::IPNet::parse("fd00::/8"), .dst = util::IPNet::parse("fd01::1/128"),
                     .notSrc = true, .notDst = true, .iif = std::string(15, 'i'), .oif = std::string(100, 'o'),
                     .notIif = true, .notOif = true, .proto = IPPROTO_TCP, .dports = ports16, .dstLocal = true,
                     .mark = 0x2000, .markMask = 0x2000, .ctRelatedEstablished = true},
           .action = {.verdict = Verdict::kDnat, .toAddr = *util::IP::parse("fd02::2"), .toPort = 8080},
           .comment = std::string(253, 'k')};
    const std::string table(255, 't'), chain(255, 'c');
    nft::Rendered rd;
    e = nft::render(r, Family::kIPv6, table, chain, rd);
    INFO(e.msg);
    REQUIRE_FALSE(e);
    REQUIRE(rd.set);
    size_t biggest = 0;
    for (int i = 0; i < 3; ++i) {
        nft::Msg m = nft::makeMsg("largest", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, nft::nfproto(Family::kIPv6), NLM_F_CREATE, 0);
            if (i == 0) nftnl_rule_nlmsg_build_payload(nlh, rd.rule.get());
            if (i == 1) nftnl_set_nlmsg_build_payload(nlh, rd.set.get());
            if (i == 2) nftnl_set_elems_nlmsg_build_payload(nlh, rd.set.get());
            return nlh;
        });
        biggest = std::max(biggest, m.buf.size());
    }
    CHECK(biggest > 600);
    CHECK(biggest * 4 < nft::msgBufSize());
}

TEST_CASE("nft parse: a rule's userdata is walked within its bounds") {
    // type, length, value: the kernel keeps whatever a client gave it
    auto comment = [](std::vector<uint8_t> ud) {
        nft::RulePtr r(nftnl_rule_alloc());
        REQUIRE(r);
        // copied onto the heap at its exact size, so ASan sees a read past it
        nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, ud.data(), static_cast<uint32_t>(ud.size()));
        return nft::ruleComment(r.get());
    };
    CHECK(comment({0, 4, 'c', 't', 'r', 0}) == "ctr");                      // NFTNL_UDATA_RULE_COMMENT
    CHECK(comment({1, 1, 'x', 0, 2, 'a', 0}) == "a");                       // another type first
    CHECK(comment({0, 200, 'c', 't', 'r'}).empty());                        // its length runs past the end
    CHECK(comment({0, 2, 'o', 'k', 0, 50, 'x'}) == "ok");                   // a whole one, then a broken one
    CHECK(comment({0}).empty());
}
