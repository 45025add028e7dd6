// nf::Table's backend-independent parts (ensureRule, replaceRules) on a
// table in memory: a failed query is an error, never "not there".
#include <cerrno>
#include <map>

#include "helpers.h"
#include "netfilter/netfilter.h"

namespace {

using nf::Error;
using nf::Rule;
using nf::RuleInfo;

// Rules are told apart by their comment. `failQueries` makes every query
// fail as a refused dump would (code 999 with the errno).
class MemTable final : public nf::Table {
public:
    std::map<std::string, std::vector<Rule>, std::less<>> chains_;
    int failQueries = 0;
    int changes = 0;

    nf::Backend backend() const override { return nf::Backend::kNftables; }
    nf::Family family() const override { return nf::Family::kIPv4; }
    Error exists(bool& out) override {
        out = true;
        return refused("get table");
    }
    Error ensure(std::string_view) override { return {}; }
    Error destroy() override { return {}; }
    Error hasChain(std::string_view chain, bool& out) override {
        out = chains_.count(chain) > 0;
        return refused("list chains");
    }
    Error chains(std::vector<std::string>& out) override {
        out.clear();
        for (const auto& [name, rules] : chains_) out.push_back(name);
        return refused("list chains");
    }
    Error ensureChain(std::string_view chain, const nf::Hook*) override {
        chains_[std::string(chain)];
        return {};
    }
    Error flushChain(std::string_view chain) override {
        if (auto it = chains_.find(chain); it != chains_.end()) {
            it->second.clear();
            ++changes;
        }
        return {};
    }
    Error deleteChain(std::string_view chain) override {
        if (auto it = chains_.find(chain); it != chains_.end()) chains_.erase(it);
        return {};
    }
    Error append(std::string_view chain, const Rule& r) override {
        chains_[std::string(chain)].push_back(r);
        ++changes;
        return {};
    }
    Error insert(std::string_view chain, const Rule& r) override {
        auto& c = chains_[std::string(chain)];
        c.insert(c.begin(), r);
        ++changes;
        return {};
    }
    Error contains(std::string_view chain, const Rule& r, bool& out) override {
        if (auto e = refused("list rules")) return e;
        out = false;
        if (auto it = chains_.find(chain); it != chains_.end())
            for (const Rule& have : it->second) out = out || have.comment == r.comment;
        return {};
    }
    Error deleteRule(std::string_view, const Rule&) override { return {}; }
    Error list(std::string_view chain, std::vector<RuleInfo>& out) override {
        out.clear();
        if (auto e = refused("list rules")) return e;
        if (auto it = chains_.find(chain); it != chains_.end())
            for (const Rule& r : it->second) out.push_back({.index = out.size(), .comment = r.comment});
        return {};
    }
    Error deleteWhere(std::string_view, const std::function<bool(const RuleInfo&)>&, size_t* n) override {
        if (n) *n = 0;
        return {};
    }
    Error commit() override { return {}; }

private:
    Error refused(const std::string& what) const {
        if (!failQueries) return {};
        return Error::sys(cni::kInternal, "table ip t: " + what, failQueries);
    }
};

Rule commented(std::string c) {
    Rule r;
    r.comment = std::move(c);
    return r;
}

}  // namespace

TEST_CASE("Table::ensureRule adds a rule once") {
    MemTable t;
    REQUIRE_FALSE(t.ensureRule("c", commented("a")));
    REQUIRE_FALSE(t.ensureRule("c", commented("a")));
    REQUIRE_FALSE(t.ensureRule("c", commented("b"), true));
    REQUIRE(t.chains_["c"].size() == 2);
    CHECK(t.chains_["c"][0].comment == "b");
    CHECK(t.chains_["c"][1].comment == "a");
}

TEST_CASE("Table::ensureRule fails when the chain cannot be read, adding nothing") {
    MemTable t;
    t.failQueries = EPERM;
    Error e = t.ensureRule("c", commented("a"));
    CHECK(e.code == cni::kInternal);
    CHECK(e.errnum == EPERM);
    CHECK(e.msg == "table ip t: list rules: Operation not permitted");
    CHECK(t.changes == 0);
    CHECK(t.chains_.empty());
}

TEST_CASE("Table::replaceRules leaves a chain that holds the rules alone") {
    MemTable t;
    REQUIRE_FALSE(t.replaceRules("c", {commented("a"), commented("b")}));
    CHECK(t.changes == 2);  // flush of a missing chain: nothing; two appends
    REQUIRE_FALSE(t.replaceRules("c", {commented("a"), commented("b")}));
    CHECK(t.changes == 2);
    REQUIRE_FALSE(t.replaceRules("c", {commented("a")}));
    CHECK(t.changes == 4);  // flush, append
    REQUIRE(t.chains_["c"].size() == 1);
    CHECK(t.chains_["c"][0].comment == "a");
}

TEST_CASE("Table::replaceRules fails when the chain cannot be read, changing nothing") {
    MemTable t;
    REQUIRE_FALSE(t.append("c", commented("old")));
    t.changes = 0;
    t.failQueries = ENOBUFS;
    Error e = t.replaceRules("c", {commented("new")});
    CHECK(e.code == cni::kInternal);
    CHECK(e.errnum == ENOBUFS);
    CHECK(t.changes == 0);
    REQUIRE(t.chains_["c"].size() == 1);
    CHECK(t.chains_["c"][0].comment == "old");
}

TEST_CASE("nf::parseBackend") {
    std::optional<nf::Backend> b = nf::Backend::kIptables;
    REQUIRE_FALSE(nf::parseBackend("backend", "", b));
    CHECK_FALSE(b.has_value());
    REQUIRE_FALSE(nf::parseBackend("backend", "nftables", b));
    CHECK(b == nf::Backend::kNftables);
    REQUIRE_FALSE(nf::parseBackend("backend", "iptables", b));
    CHECK(b == nf::Backend::kIptables);
    Error e = nf::parseBackend("ipMasqBackend", "bpf", b);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "ipMasqBackend must be \"iptables\" or \"nftables\", not \"bpf\"");
}
