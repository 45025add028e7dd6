// The nftables backend: nf::Table on libnftnl. Every change is a netlink
// message queued into one NFNL batch that commit() sends (atomic); queries
// are single GETs or dumps of this table only, and a query the kernel
// refuses (anything but ENOENT for a missing table or chain) is an Error.
// Rules are rendered by nft_render.cpp and read back by nft_parse.cpp.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/stat.h>

#include <cerrno>
#include <map>
#include <set>

#include "netfilter/internal.h"
#include "netfilter/nft_netlink.h"
#include "netfilter/nft_rule.h"
#include "util/text.h"

namespace nf::detail {

namespace {

using namespace nf::nft;
using util::quoted;

struct KernelRule {
    RulePtr rule;
    uint64_t handle = 0;
};

class NftTable final : public Table {
public:
    NftTable(Family f, std::string_view name) : fam_(f), name_(name) {
        context_ = std::string("nftables table ") + familyName(f) + " " + name_;
    }

    Error init() {
        if (auto e = lock().acquire(lock_)) return e;
        return Socket::get(sock_);
    }

    Backend backend() const override { return Backend::kNftables; }
    Family family() const override { return fam_; }

    Error exists(bool& out) override {
        out = false;
        if (auto e = loadChains()) return e;
        if (!kernelChains_.empty()) {
            out = true;
            return {};
        }
        TablePtr t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name_.c_str());
        Msg req = makeMsg("get table", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, nfproto(fam_), 0, 0);
            nftnl_table_nlmsg_build_payload(nlh, t.get());
            return nlh;
        });
        bool found = false;
        int err = 0;
        if (auto e = sock_->query(req, [&](const nlmsghdr*) { found = true; }, &err)) return e.wrap(context_);
        if (err && err != ENOENT) return refused("getting the table", err);
        out = found && err == 0;
        return {};
    }

    Error ensure(std::string_view comment) override {
        // An existing table is left alone: re-sending it would be a no-op
        // update, and queries are cheaper than transactions.
        if (tableQueued_) return {};
        if (!destroyQueued_) {
            bool there = false;
            if (auto e = exists(there)) return e;
            if (there) return {};
        }
        TablePtr t(nftnl_table_alloc());
        nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, nfproto(fam_));
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name_.c_str());
        if (!comment.empty()) {
            UdataPtr ud(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
            std::string c(comment);
            if (c.size() + 1 > 255 || !nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_TABLE_COMMENT, c.c_str()))
                return {cni::kInternal, context_ + ": table comment too long"};
            nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud.get()),
                                 nftnl_udata_buf_len(ud.get()));
        }
        queue("create table", NFT_MSG_NEWTABLE, NLM_F_CREATE, [&](nlmsghdr* nlh) {
            nftnl_table_nlmsg_build_payload(nlh, t.get());
        });
        tableQueued_ = true;
        return {};
    }

    Error destroy() override {
        if (destroyQueued_ && !tableQueued_) return {};
        if (!tableQueued_) {
            bool there = false;
            if (auto e = exists(there)) return e;
            if (!there) return {};
        }
        TablePtr t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name_.c_str());
        queue("delete table", NFT_MSG_DELTABLE, 0, [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
        tableQueued_ = false;
        destroyQueued_ = true;
        chainsQueued_.clear();
        return {};
    }

    Error hasChain(std::string_view chain, bool& out) override {
        out = false;
        if (auto e = checkChainName(chain)) return e.wrap(context_);
        std::string name(chain);
        if (chainsQueued_.count(name)) {
            out = true;
            return {};
        }
        if (destroyQueued_ || chainsDeleted_.count(name)) return {};
        uint32_t use = 0;
        return getChain(chain, out, use);
    }

    Error chains(std::vector<std::string>& out) override {
        out.clear();
        if (auto e = loadChains()) return e;
        for (const auto& [name, use] : kernelChains_) out.push_back(name);
        return {};
    }

    Error ensureChain(std::string_view chain, const Hook* hook) override {
        // An existing chain is left as it is: a NEWCHAIN for it would be an
        // update transaction (freed only after an RCU grace period).
        bool there = false;
        if (auto e = hasChain(chain, there)) return e;
        if (there) return {};
        std::string name(chain);
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name_.c_str());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
        if (hook) {
            int num = hookNum(hook->hook);
            if (num < 0) return {cni::kInternal, context_ + ": unknown hook " + quoted(hook->hook)};
            if (hook->type != "nat" && hook->type != "filter" && hook->type != "route")
                return {cni::kInternal, context_ + ": unknown chain type " + quoted(hook->type)};
            nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, static_cast<uint32_t>(num));
            nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, hook->priority);
            nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, hook->type.c_str());
            // No policy attribute: a new base chain gets accept, and an existing
            // one keeps the policy its administrator gave it.
        }
        queue("create chain " + quoted(name), NFT_MSG_NEWCHAIN, NLM_F_CREATE,
              [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
        chainsQueued_.insert(name);
        chainsDeleted_.erase(name);
        return {};
    }

    Error flushChain(std::string_view chain) override {
        bool there = false;
        if (auto e = hasChain(chain, there)) return e;
        if (there) queueFlush(std::string(chain));
        return {};
    }

    Error deleteChain(std::string_view chain) override {
        std::string name(chain);
        uint32_t use = 0;
        bool inKernel = false;
        if (auto e = getChain(chain, inKernel, use)) return e;
        if (!inKernel && !chainsQueued_.count(name)) return {};
        if (use > 0) {
            // Rules elsewhere in the table jump to it: delete them first.
            std::vector<KernelRule> rules;
            if (auto e = dumpRules(nullptr, rules)) return e;
            for (auto& kr : rules) {
                if (name == nftnl_rule_get_str(kr.rule.get(), NFTNL_RULE_CHAIN)) continue;
                bool jumps = false;
                ruleTarget(kr.rule.get(), &name, &jumps);
                if (jumps) queueDeleteRule(nftnl_rule_get_str(kr.rule.get(), NFTNL_RULE_CHAIN), kr.handle);
            }
        }
        queueFlush(name);
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name_.c_str());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
        queue("delete chain " + quoted(name), NFT_MSG_DELCHAIN, 0,
              [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
        chainsQueued_.erase(name);
        chainsDeleted_.insert(name);
        return {};
    }

    Error append(std::string_view chain, const Rule& r) override { return addRule(chain, r, true); }
    Error insert(std::string_view chain, const Rule& r) override { return addRule(chain, r, false); }

    Error contains(std::string_view chain, const Rule& r, bool& out) override {
        out = false;
        std::string name(chain);
        Wanted w;
        if (wanted(name, r, w)) return {};  // a rule that cannot be rendered is in no chain
        std::vector<uint64_t> handles;
        if (auto e = findIdentical(name, w, handles, true)) return e;
        out = !handles.empty();
        return {};
    }

    Error deleteRule(std::string_view chain, const Rule& r) override {
        std::string name(chain);
        Wanted w;
        if (auto e = wanted(name, r, w)) return e;
        std::vector<uint64_t> handles;
        if (auto e = findIdentical(name, w, handles, false)) return e;
        for (uint64_t h : handles) queueDeleteRule(name, h);
        return {};
    }

    // One dump of the chain, compared rule by rule in order.
    Error replaceRules(std::string_view chain, const std::vector<Rule>& rules) override {
        std::string name(chain);
        std::vector<KernelRule> have;
        bool same = false;
        if (!chainsQueued_.count(name) && !chainsDeleted_.count(name) && !destroyQueued_) {
            if (auto e = dumpRules(&name, have)) return e;
            same = have.size() == rules.size();
            for (size_t i = 0; same && i < rules.size(); ++i) {
                Wanted w;
                if (auto e = wanted(name, rules[i], w)) return e;
                if (auto e = identical(have[i], w, same)) return e;
            }
        }
        if (same) return {};
        if (auto e = flushChain(chain)) return e;
        for (const Rule& r : rules)
            if (auto e = append(chain, r)) return e;
        return {};
    }

    Error list(std::string_view chain, std::vector<RuleInfo>& out) override {
        out.clear();
        std::string name(chain);
        std::vector<KernelRule> rules;
        if (auto e = dumpRules(&name, rules)) return e;
        for (auto& kr : rules) out.push_back(info(kr, out.size()));
        return {};
    }

    Error deleteWhere(std::string_view chain, const std::function<bool(const RuleInfo&)>& pred, size_t* n) override {
        if (n) *n = 0;
        std::string name(chain);
        std::vector<KernelRule> rules;
        if (auto e = dumpRules(&name, rules)) return e;
        size_t index = 0, count = 0;
        for (auto& kr : rules) {
            if (!pred(info(kr, index++))) continue;
            queueDeleteRule(name, kr.handle);
            ++count;
        }
        if (n) *n = count;
        return {};
    }

    Error commit() override {
        std::vector<Msg> msgs;
        msgs.swap(pending_);
        tableQueued_ = false;
        destroyQueued_ = false;
        chainsQueued_.clear();
        chainsDeleted_.clear();
        chainsLoaded_ = false;
        kernelChains_.clear();
        return sock_->batch(msgs, context_);
    }

private:
    static int hookNum(std::string_view h) {
        if (h == "prerouting") return NF_INET_PRE_ROUTING;
        if (h == "input") return NF_INET_LOCAL_IN;
        if (h == "forward") return NF_INET_FORWARD;
        if (h == "output") return NF_INET_LOCAL_OUT;
        if (h == "postrouting") return NF_INET_POST_ROUTING;
        return -1;
    }

    static RuleInfo info(KernelRule& kr, size_t index) {
        return {.index = index, .handle = kr.handle, .comment = ruleComment(kr.rule.get()),
                .target = ruleTarget(kr.rule.get())};
    }

    // A query the kernel answered with `err` (not ENOENT): code 999 naming
    // this table and what was asked, carrying the errno.
    Error refused(const std::string& what, int err) const {
        return Error::sys(cni::kInternal, context_ + ": " + what, err);
    }

    void queue(std::string what, uint16_t type, uint16_t flags, const std::function<void(nlmsghdr*)>& payload) {
        pending_.push_back(makeMsg(std::move(what), [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, type, nfproto(fam_), flags, 0);
            payload(nlh);
            return nlh;
        }));
    }

    void queueFlush(const std::string& chain) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name_.c_str());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
        queue("flush chain " + quoted(chain), NFT_MSG_DELRULE, 0,
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
    }

    void queueDeleteRule(const std::string& chain, uint64_t handle) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name_.c_str());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
        nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, handle);
        queue("delete rule (handle " + std::to_string(handle) + ") in chain " + quoted(chain), NFT_MSG_DELRULE, 0,
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
    }

    Error addRule(std::string_view chain, const Rule& r, bool append) {
        std::string name(chain);
        Rendered rd;
        if (auto e = render(r, fam_, name_, name, rd)) return e.wrap(context_ + ", chain " + quoted(name));
        if (rd.set) {
            nftnl_set* s = rd.set.get();
            queue("create the port set of a rule in chain " + quoted(name), NFT_MSG_NEWSET, NLM_F_CREATE,
                  [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s); });
            queue("add the ports of a rule in chain " + quoted(name), NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                  [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s); });
        }
        std::string what = std::string(append ? "append" : "insert") + " rule" +
                           (r.comment.empty() ? "" : " " + quoted(r.comment)) + " (" + verdictText(r.action) +
                           ") to chain " + quoted(name);
        queue(what, NFT_MSG_NEWRULE, NLM_F_CREATE | (append ? NLM_F_APPEND : 0),
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rd.rule.get()); });
        return {};
    }

    // Whether the chain is in the kernel (`found`), and its reference count
    // in `use`.
    Error getChain(std::string_view chain, bool& found, uint32_t& use) {
        found = false;
        if (auto e = checkChainName(chain)) return e.wrap(context_);
        if (auto e = loadChains()) return e;
        auto it = kernelChains_.find(std::string(chain));
        if (it == kernelChains_.end()) return {};
        found = true;
        use = it->second;
        return {};
    }

    // The table's chains with their use counts, listed in one dump on the
    // first question and kept until commit(): with the backend lock held
    // nothing else of ours changes them meanwhile, and a steady-state ADD
    // asks about several. No such table (ENOENT): no chains. A failed dump
    // is not kept: the next question asks again.
    Error loadChains() {
        if (chainsLoaded_) return {};
        kernelChains_.clear();
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name_.c_str());
        Msg req = makeMsg("list chains", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, nfproto(fam_), NLM_F_DUMP, 0);
            nftnl_chain_nlmsg_build_payload(nlh, c.get());
            return nlh;
        });
        int err = 0;
        if (auto e = sock_->query(
                req,
                [&](const nlmsghdr* nlh) {
                    ChainPtr ch(nftnl_chain_alloc());
                    if (nftnl_chain_nlmsg_parse(nlh, ch.get()) < 0) return;
                    // older kernels filter chain dumps by family only
                    if (name_ != nftnl_chain_get_str(ch.get(), NFTNL_CHAIN_TABLE)) return;
                    uint32_t use = nftnl_chain_is_set(ch.get(), NFTNL_CHAIN_USE)
                                       ? nftnl_chain_get_u32(ch.get(), NFTNL_CHAIN_USE) : 0;
                    kernelChains_[nftnl_chain_get_str(ch.get(), NFTNL_CHAIN_NAME)] = use;
                },
                &err))
            return e.wrap(context_);
        if (err && err != ENOENT) return refused("listing the chains", err);
        chainsLoaded_ = true;
        return {};
    }

    // The rules of one chain (or of the whole table with chain == nullptr),
    // in order. A missing table or chain (ENOENT) is no rules.
    Error dumpRules(const std::string* chain, std::vector<KernelRule>& out) {
        if (chain)
            if (auto e = checkChainName(*chain)) return e.wrap(context_);
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name_.c_str());
        if (chain) nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain->c_str());
        Msg req = makeMsg("list rules", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, nfproto(fam_), NLM_F_DUMP, 0);
            nftnl_rule_nlmsg_build_payload(nlh, r.get());
            return nlh;
        });
        int err = 0;
        if (auto e = sock_->query(
                req,
                [&](const nlmsghdr* nlh) {
                    RulePtr kr(nftnl_rule_alloc());
                    if (nftnl_rule_nlmsg_parse(nlh, kr.get()) < 0) return;
                    // Older kernels ignore the filter: check it here too.
                    if (name_ != nftnl_rule_get_str(kr.get(), NFTNL_RULE_TABLE)) return;
                    if (chain && *chain != nftnl_rule_get_str(kr.get(), NFTNL_RULE_CHAIN)) return;
                    uint64_t h = nftnl_rule_get_u64(kr.get(), NFTNL_RULE_HANDLE);
                    out.push_back({std::move(kr), h});
                },
                &err))
            return e.wrap(context_);
        if (err && err != ENOENT)
            return refused(chain ? "listing the rules of chain " + quoted(*chain) : "listing the rules", err);
        return {};
    }

    // The elements of set `set` of this table, sorted.
    Error kernelSetKeys(const std::string& set, std::vector<std::string>& keys) {
        SetPtr s(nftnl_set_alloc());
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name_.c_str());
        nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
        nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, nfproto(fam_));
        Msg req = makeMsg("list set elements", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nfproto(fam_), NLM_F_DUMP, 0);
            nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
            return nlh;
        });
        SetPtr got(nftnl_set_alloc());
        int err = 0;
        if (auto e = sock_->query(req, [&](const nlmsghdr* nlh) { nftnl_set_elems_nlmsg_parse(nlh, got.get()); }, &err))
            return e.wrap(context_);
        if (err) return refused("listing the elements of set " + quoted(set), err);
        keys = setKeys(got.get());
        return {};
    }

    // A rule as the kernel would list it, for comparing with kernel rules.
    struct Wanted {
        RuleShape shape;
        std::vector<std::vector<std::string>> sets;
    };

    Error wanted(const std::string& chain, const Rule& r, Wanted& w) {
        Rendered rd;
        if (auto e = render(r, fam_, name_, chain, rd)) return e.wrap(context_ + ", chain " + quoted(chain));
        w.shape = shapeOf(rd.rule.get());
        if (rd.set) w.sets.push_back(setKeys(rd.set.get()));
        return {};
    }

    // Same expressions, same comment, same anonymous set elements.
    Error identical(KernelRule& kr, const Wanted& w, bool& out) {
        out = false;
        RuleShape got = shapeOf(kr.rule.get());
        if (got.comment != w.shape.comment || got.exprs != w.shape.exprs || got.sets.size() != w.shape.sets.size())
            return {};
        for (size_t i = 0; i < got.sets.size(); ++i) {
            if (got.sets[i].first != w.shape.sets[i].first || i >= w.sets.size()) return {};
            std::vector<std::string> keys;
            if (auto e = kernelSetKeys(got.sets[i].second, keys)) return e;
            if (keys != w.sets[i]) return {};
        }
        out = true;
        return {};
    }

    // Handles of the rules of `chain` identical to the wanted one. With
    // `first`, stops at the first one.
    Error findIdentical(const std::string& chain, const Wanted& w, std::vector<uint64_t>& handles, bool first) {
        std::vector<KernelRule> rules;
        if (auto e = dumpRules(&chain, rules)) return e;
        for (auto& kr : rules) {
            bool same = false;
            if (auto e = identical(kr, w, same)) return e;
            if (!same) continue;
            handles.push_back(kr.handle);
            if (first) break;
        }
        return {};
    }

    Family fam_;
    std::string name_, context_;
    util::SharedFileLock::Hold lock_;
    Socket* sock_ = nullptr;
    std::vector<Msg> pending_;
    bool tableQueued_ = false;
    bool destroyQueued_ = false;                 // destroy() queued: the kernel's table is going
    std::set<std::string> chainsQueued_;
    std::set<std::string> chainsDeleted_;        // deleteChain() queued in this transaction
    std::map<std::string, uint32_t> kernelChains_;  // the kernel's chains of this table: use count
    bool chainsLoaded_ = false;
};

// Errnos with which the kernel refuses nftables here: no such subsystem or
// protocol, no permission.
bool refusal(int err) {
    return err == EPERM || err == EACCES || err == EPROTONOSUPPORT || err == EAFNOSUPPORT || err == EOPNOTSUPP ||
           err == EINVAL || err == ENOENT;
}

}  // namespace

Error openNftables(Family f, std::string_view name, std::unique_ptr<Table>& out) {
    if (name.empty() || name.size() >= NFT_TABLE_MAXNAMELEN)
        return {cni::kInternal, "nftables: invalid table name " + quoted(name)};
    auto t = std::make_unique<NftTable>(f, name);
    if (auto e = t->init()) return e;
    out = std::move(t);
    return {};
}

Error nftablesUsable(bool& out, int* errOut) {
    // asked by the backend choice and again by the applet: once per netns
    // (the kernel's answer and its errno are kept; a failure to ask is not)
    static int known = -1, knownErr = 0;
    static dev_t knownDev;
    static ino_t knownIno;
    out = false;
    struct stat st {};
    if (stat("/proc/self/ns/net", &st) != 0)
        return Error::sys(cni::kInternal, "nftables: cannot stat /proc/self/ns/net", errno);
    if (known < 0 || st.st_dev != knownDev || st.st_ino != knownIno) {
        Socket* s = nullptr;
        int err = 0;
        if (auto e = Socket::get(s)) {
            if (!refusal(e.errnum)) return e;
            err = e.errnum;  // no netfilter netlink socket here
        } else {
            Msg req = makeMsg("list tables", [](char* buf) {
                return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
            });
            if (auto e = s->query(req, [](const nlmsghdr*) {}, &err)) return e;
        }
        known = err == 0 ? 1 : 0;
        knownErr = err;
        knownDev = st.st_dev;
        knownIno = st.st_ino;
    }
    if (knownErr && errOut) *errOut = knownErr;
    out = known == 1;
    return {};
}

void finishNftables() { Socket::finish(); }

}  // namespace nf::detail
