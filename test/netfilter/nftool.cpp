// nftool: drives src/netfilter from a JSON document on stdin, for the netns
// tests of both backends. See the header of test/netfilter/meson.build for
// the document format. One JSON line per query on stdout; on the first error
// {"error":code,"msg":"..."} and exit status 1.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "netfilter/netfilter.h"
#include "util/mac.h"

namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

cni::Error bad(const std::string& what) { return {cni::kInvalidNetConf, what}; }

void emit(const std::function<void(Writer&)>& body) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    body(w);
    w.EndObject();
    std::cout << sb.GetString() << '\n' << std::flush;
}

void key(Writer& w, const char* k) { w.Key(k); }
void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

cni::Error getStr(const Value& o, const char* k, std::string& out) {
    auto it = o.FindMember(k);
    if (it == o.MemberEnd() || it->value.IsNull()) return {};
    if (!it->value.IsString()) return bad(std::string(k) + " must be a string");
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return {};
}

cni::Error getBool(const Value& o, const char* k, bool& out) {
    auto it = o.FindMember(k);
    if (it == o.MemberEnd() || it->value.IsNull()) return {};
    if (!it->value.IsBool()) return bad(std::string(k) + " must be a bool");
    out = it->value.GetBool();
    return {};
}

cni::Error getU32(const Value& o, const char* k, std::optional<uint32_t>& out) {
    auto it = o.FindMember(k);
    if (it == o.MemberEnd() || it->value.IsNull()) return {};
    if (!it->value.IsUint()) return bad(std::string(k) + " must be an unsigned 32-bit number");
    out = it->value.GetUint();
    return {};
}

cni::Error getNet(const Value& o, const char* k, std::optional<util::IPNet>& out) {
    std::string s;
    if (auto e = getStr(o, k, s)) return e;
    if (s.empty()) return {};
    out = util::IPNet::parseAddrOrCidr(s);
    if (!out) return bad(std::string(k) + ": bad address " + s);
    return {};
}

cni::Error parseRule(const Value& v, nf::Rule& r) {
    if (!v.IsObject()) return bad("a rule must be an object");
    nf::Match& m = r.match;
    if (auto e = getNet(v, "src", m.src)) return e;
    if (auto e = getNet(v, "dst", m.dst)) return e;
    if (auto e = getBool(v, "notSrc", m.notSrc)) return e;
    if (auto e = getBool(v, "notDst", m.notDst)) return e;
    if (auto e = getStr(v, "iif", m.iif)) return e;
    if (auto e = getStr(v, "oif", m.oif)) return e;
    if (auto e = getBool(v, "notIif", m.notIif)) return e;
    if (auto e = getBool(v, "notOif", m.notOif)) return e;
    std::string proto;
    if (auto e = getStr(v, "proto", proto)) return e;
    if (proto == "tcp") m.proto = IPPROTO_TCP;
    else if (proto == "udp") m.proto = IPPROTO_UDP;
    else if (proto == "sctp") m.proto = IPPROTO_SCTP;
    else if (!proto.empty()) return bad("proto must be tcp, udp or sctp");
    if (auto it = v.FindMember("dports"); it != v.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsArray()) return bad("dports must be an array");
        for (const auto& p : it->value.GetArray()) {
            if (!p.IsUint() || p.GetUint() > 65535) return bad("dports: bad port");
            m.dports.push_back(static_cast<uint16_t>(p.GetUint()));
        }
    }
    if (auto e = getBool(v, "multiport", m.multiport)) return e;
    if (auto e = getBool(v, "dstLocal", m.dstLocal)) return e;
    if (auto e = getU32(v, "mark", m.mark)) return e;
    std::optional<uint32_t> u;
    if (auto e = getU32(v, "markMask", u)) return e;
    if (u) m.markMask = *u;
    if (auto e = getBool(v, "ctRelEst", m.ctRelatedEstablished)) return e;
    std::string mac;
    if (auto e = getStr(v, "etherSrc", mac)) return e;
    if (!mac.empty()) {
        auto a = util::Mac::parse(mac);
        if (!a) return bad("etherSrc: bad MAC " + mac);
        m.etherSrc = a->b;
    }

    nf::Action& act = r.action;
    std::string verdict = "accept";
    if (auto e = getStr(v, "verdict", verdict)) return e;
    if (verdict == "accept") act.verdict = nf::Verdict::kAccept;
    else if (verdict == "drop") act.verdict = nf::Verdict::kDrop;
    else if (verdict == "return") act.verdict = nf::Verdict::kReturn;
    else if (verdict == "jump") act.verdict = nf::Verdict::kJump;
    else if (verdict == "goto") act.verdict = nf::Verdict::kGoto;
    else if (verdict == "masquerade") act.verdict = nf::Verdict::kMasquerade;
    else if (verdict == "dnat") act.verdict = nf::Verdict::kDnat;
    else if (verdict == "setmark") act.verdict = nf::Verdict::kSetMark;
    else return bad("unknown verdict " + verdict);
    if (auto e = getStr(v, "chain", act.chain)) return e;
    std::string to;
    if (auto e = getStr(v, "to", to)) return e;
    if (!to.empty()) {
        auto ip = util::IP::parse(to);
        if (!ip) return bad("to: bad address " + to);
        act.toAddr = *ip;
    }
    if (auto e = getU32(v, "toPort", u)) return e;
    if (u) {
        if (*u > 65535) return bad("toPort: bad port");
        act.toPort = static_cast<uint16_t>(*u);
        u.reset();
    }
    if (auto e = getU32(v, "setMark", u)) return e;
    if (u) act.mark = *u, u.reset();
    if (auto e = getU32(v, "setMask", u)) return e;
    if (u) act.mask = *u, u.reset();
    return getStr(v, "comment", r.comment);
}

cni::Error strArg(const Value& op, rapidjson::SizeType i, std::string& out) {
    if (op.Size() <= i || !op[i].IsString())
        return bad(std::string("argument ") + std::to_string(i) + " of " + op[0].GetString() + " must be a string");
    out.assign(op[i].GetString(), op[i].GetStringLength());
    return {};
}

cni::Error ruleArg(const Value& op, rapidjson::SizeType i, nf::Rule& r) {
    if (op.Size() <= i) return bad(std::string(op[0].GetString()) + " needs a rule");
    return parseRule(op[i], r);
}

void printCount(const std::string& op, size_t n) {
    emit([&](Writer& w) {
        key(w, "op"), str(w, op);
        key(w, "count"), w.Uint64(n);
    });
}

void printBool(const std::string& op, bool b) {
    emit([&](Writer& w) {
        key(w, "op"), str(w, op);
        key(w, "result"), w.Bool(b);
    });
}

cni::Error runOp(nf::Table& t, const Value& op) {
    if (!op.IsArray() || op.Empty() || !op[0].IsString()) return bad("each op must be [\"name\", args...]");
    std::string name = op[0].GetString();
    std::string chain, s;
    nf::Rule r;
    if (name == "ensure") {
        if (op.Size() > 1 && (strArg(op, 1, s))) return bad("ensure: comment must be a string");
        return t.ensure(s);
    }
    if (name == "destroy") return t.destroy();
    bool answer = false;
    if (name == "exists") {
        if (auto e = t.exists(answer)) return e;
        printBool(name, answer);
        return {};
    }
    if (name == "commit") return t.commit();
    if (name == "chains") {
        std::vector<std::string> cs;
        if (auto e = t.chains(cs)) return e;
        emit([&](Writer& w) {
            key(w, "op"), str(w, name);
            key(w, "result");
            w.StartArray();
            for (const auto& c : cs) str(w, c);
            w.EndArray();
        });
        return {};
    }
    static const char* const kChainOps[] = {"ensureChain", "flushChain", "deleteChain", "hasChain", "append",
                                            "insert", "ensureRule", "contains", "deleteRule", "list",
                                            "deleteComment", "deleteCommentPrefix", "deleteTarget"};
    if (std::find(std::begin(kChainOps), std::end(kChainOps), name) == std::end(kChainOps))
        return bad("unknown op " + name);
    if (auto e = strArg(op, 1, chain)) return e;
    if (name == "ensureChain") {
        if (op.Size() > 2) {
            const Value& h = op[2];
            if (!h.IsObject()) return bad("ensureChain: hook must be an object");
            nf::Hook hook;
            if (auto e = getStr(h, "type", hook.type)) return e;
            if (auto e = getStr(h, "hook", hook.hook)) return e;
            if (auto it = h.FindMember("priority"); it != h.MemberEnd()) {
                if (!it->value.IsInt()) return bad("priority must be an integer");
                hook.priority = it->value.GetInt();
            }
            return t.ensureChain(chain, &hook);
        }
        return t.ensureChain(chain);
    }
    if (name == "flushChain") return t.flushChain(chain);
    if (name == "deleteChain") return t.deleteChain(chain);
    if (name == "hasChain") {
        if (auto e = t.hasChain(chain, answer)) return e;
        printBool(name, answer);
        return {};
    }
    if (name == "append" || name == "insert" || name == "ensureRule" || name == "contains" ||
        name == "deleteRule") {
        if (auto e = ruleArg(op, 2, r)) return e;
        if (name == "append") return t.append(chain, r);
        if (name == "insert") return t.insert(chain, r);
        if (name == "deleteRule") return t.deleteRule(chain, r);
        if (name == "contains") {
            if (auto e = t.contains(chain, r, answer)) return e;
            printBool(name, answer);
            return {};
        }
        bool atHead = false;
        if (op.Size() > 3) {
            if (!op[3].IsBool()) return bad("ensureRule: atHead must be a bool");
            atHead = op[3].GetBool();
        }
        return t.ensureRule(chain, r, atHead);
    }
    if (name == "list") {
        std::vector<nf::RuleInfo> rules;
        if (auto e = t.list(chain, rules)) return e;
        emit([&](Writer& w) {
            key(w, "op"), str(w, name);
            key(w, "chain"), str(w, chain);
            key(w, "rules");
            w.StartArray();
            for (const auto& ri : rules) {
                w.StartObject();
                key(w, "index"), w.Uint64(ri.index);
                key(w, "handle"), w.Uint64(ri.handle);
                key(w, "comment"), str(w, ri.comment);
                key(w, "target"), str(w, ri.target);
                w.EndObject();
            }
            w.EndArray();
        });
        return {};
    }
    if (name == "deleteComment" || name == "deleteCommentPrefix" || name == "deleteTarget") {
        if (auto e = strArg(op, 2, s)) return e;
        std::function<bool(const nf::RuleInfo&)> pred;
        if (name == "deleteComment") pred = [&](const nf::RuleInfo& ri) { return ri.comment == s; };
        else if (name == "deleteCommentPrefix")
            pred = [&](const nf::RuleInfo& ri) { return ri.comment.starts_with(s); };
        else pred = [&](const nf::RuleInfo& ri) { return ri.target == s; };
        size_t n = 0;
        if (auto e = t.deleteWhere(chain, pred, &n)) return e;
        printCount(name, n);
        return {};
    }
    return bad("unknown op " + name);
}

cni::Error parseFamily(const Value& o, nf::Family& f) {
    std::string s;
    if (auto e = getStr(o, "family", s)) return e;
    if (s == "ip" || s.empty()) f = nf::Family::kIPv4;
    else if (s == "ip6") f = nf::Family::kIPv6;
    else if (s == "inet") f = nf::Family::kInet;
    else if (s == "bridge") f = nf::Family::kBridge;
    else return bad("unknown family " + s);
    return {};
}

cni::Error runCmd(const std::string& cmd, const Value& doc) {
    if (cmd == "auto") {
        emit([](Writer& w) { key(w, "backend"), str(w, nf::backendName(nf::autoBackend())); });
        return {};
    }
    if (cmd == "usable") {
        bool ipt = false, nft = false;
        if (auto e = nf::usable(nf::Backend::kIptables, ipt)) return e;
        if (auto e = nf::usable(nf::Backend::kNftables, nft)) return e;
        emit([&](Writer& w) {
            key(w, "iptables"), w.Bool(ipt);
            key(w, "nftables"), w.Bool(nft);
        });
        return {};
    }
    if (cmd == "chainName") {
        std::string prefix, name, id;
        if (auto e = getStr(doc, "prefix", prefix)) return e;
        if (auto e = getStr(doc, "name", name)) return e;
        if (auto e = getStr(doc, "id", id)) return e;
        emit([&](Writer& w) { key(w, "result"), str(w, nf::chainName(prefix, name, id)); });
        return {};
    }
    if (cmd == "conntrackDelete") {
        auto fam = doc.FindMember("family");
        int family = (fam != doc.MemberEnd() && fam->value.IsInt() && fam->value.GetInt() == 6) ? AF_INET6 : AF_INET;
        std::string proto = "udp";
        if (auto e = getStr(doc, "proto", proto)) return e;
        uint8_t p = proto == "tcp" ? IPPROTO_TCP : proto == "sctp" ? IPPROTO_SCTP : IPPROTO_UDP;
        std::optional<uint32_t> port;
        if (auto e = getU32(doc, "port", port)) return e;
        if (!port || *port > 65535) return bad("conntrackDelete needs a port");
        if (auto e = nf::conntrackDeleteByDport(family, p, static_cast<uint16_t>(*port))) return e;
        emit([](Writer& w) { key(w, "ok"), w.Bool(true); });
        return {};
    }
    return bad("unknown cmd " + cmd);
}

cni::Error run(const Value& doc) {
    if (!doc.IsObject()) return bad("the document must be an object");
    std::string cmd;
    if (auto e = getStr(doc, "cmd", cmd)) return e;
    if (!cmd.empty()) return runCmd(cmd, doc);

    std::string bs;
    if (auto e = getStr(doc, "backend", bs)) return e;
    std::optional<nf::Backend> wanted;
    if (auto e = nf::parseBackend("backend", bs, wanted)) return e;
    nf::Backend b = wanted ? *wanted : nf::autoBackend();

    auto ops = doc.FindMember("ops");
    if (ops == doc.MemberEnd() || !ops->value.IsArray()) return bad("ops must be an array");
    // Tables stay open until the end of the document, so a document may hold
    // several families' tables at once (as plugins do) and commit each.
    std::vector<std::unique_ptr<nf::Table>> open;
    for (const auto& o : ops->value.GetArray()) {
        if (!o.IsObject()) return bad("each ops entry must be an object");
        nf::Family f = nf::Family::kIPv4;
        if (auto e = parseFamily(o, f)) return e;
        std::string table;
        if (auto e = getStr(o, "table", table)) return e;
        std::unique_ptr<nf::Table> t;
        if (auto e = nf::Table::open(b, f, table, t)) return e;
        auto d = o.FindMember("do");
        if (d != o.MemberEnd()) {
            if (!d->value.IsArray()) return bad("do must be an array");
            for (const auto& op : d->value.GetArray())
                if (auto e = runOp(*t, op)) return e;
        }
        open.push_back(std::move(t));
    }
    return {};
}

}  // namespace

int main() {
    std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    rapidjson::Document doc;
    cni::Error e;
    doc.Parse(input.data(), input.size());
    if (doc.HasParseError())
        e = {cni::kDecodeFailure, "invalid JSON at offset " + std::to_string(doc.GetErrorOffset())};
    else
        e = run(doc);
    nf::finishRun();
    if (e) {
        emit([&](Writer& w) {
            key(w, "error"), w.Int(e.code);
            key(w, "msg"), str(w, e.text());
        });
        return 1;
    }
    return 0;
}
