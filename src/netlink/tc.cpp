// Traffic control: tbf and ingress qdiscs, u32 filters with mirred actions.
// libnl's tc objects turn tbf's buffer into bytes and know no actions, so
// the messages are built and read here attribute by attribute.
#include "netlink/tc.h"

#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>

#include <netlink/attr.h>

#include "netlink/internal.h"
#include "util/fs.h"

namespace nl::tc {

using namespace detail;

namespace {

// Go's uint32(f) for a float64 on amd64: truncated to int64 (out of range
// and NaN give INT64_MIN), then its low 32 bits.
uint32_t goUint32(double f) {
    int64_t v = f >= -9223372036854775808.0 && f < 9223372036854775808.0 ? int64_t(f) : INT64_MIN;
    return uint32_t(uint64_t(v));
}

std::string qdiscLabel(nl_sock* sk, int ifindex, const char* kind, uint32_t h, uint32_t parent) {
    std::string s = std::string("qdisc ") + kind + " " + handleStr(h);
    s += parent == kRoot ? " root" : parent == kIngressParent ? "" : " parent " + handleStr(parent);
    return s + " on " + linkLabel(sk, ifindex);
}

// A new tc message: tcmsg for `ifindex` with handle, parent and info.
MsgPtr tcMessage(int type, int flags, int ifindex, uint32_t h, uint32_t parent, uint32_t info = 0) {
    MsgPtr m(nlmsg_alloc_simple(type, flags));
    tcmsg t{};
    t.tcm_family = AF_UNSPEC;
    t.tcm_ifindex = ifindex;
    t.tcm_handle = h;
    t.tcm_parent = parent;
    t.tcm_info = info;
    if (m && nlmsg_append(m.get(), &t, sizeof t, NLMSG_ALIGNTO) < 0) m.reset();
    return m;
}

// Dumps the qdiscs (RTM_GETQDISC) or filters (RTM_GETTFILTER, under
// `parent`) of link `ifindex` and hands each one's tcmsg and attributes
// (TCA_*) to `fn`; `reset` runs before each attempt (retried when the
// kernel's set changed meanwhile). Returns a libnl code.
using TcFn = std::function<void(const tcmsg&, nlattr**)>;
int dumpTc(nl_sock* sk, int type, int ifindex, uint32_t parent, const TcFn& fn, const std::function<void()>& reset) {
    struct Ctx { const TcFn* fn; int reply; int ifindex; } ctx{
        &fn, type == RTM_GETQDISC ? RTM_NEWQDISC : RTM_NEWTFILTER, ifindex};
    auto onMsg = [](nl_msg* msg, void* p) {
        auto* c = static_cast<Ctx*>(p);
        nlmsghdr* h = nlmsg_hdr(msg);
        nlattr* tb[TCA_MAX + 1];
        if (h->nlmsg_type != c->reply || h->nlmsg_len < NLMSG_LENGTH(sizeof(tcmsg)) ||
            nlmsg_parse(h, sizeof(tcmsg), tb, TCA_MAX, nullptr) < 0)
            return int(NL_OK);
        const auto* t = static_cast<const tcmsg*>(nlmsg_data(h));
        if (t->tcm_ifindex == c->ifindex) (*c->fn)(*t, tb);   // qdisc dumps cover every link
        return int(NL_OK);
    };
    int r = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        reset();
        MsgPtr req = tcMessage(type, NLM_F_DUMP, ifindex, 0, parent);
        if (!req) return -NLE_NOMEM;
        r = requestOnce(sk, req.get(), onMsg, &ctx);
        if (r != -NLE_DUMP_INTR) break;
    }
    return r < 0 ? r : 0;
}

std::string kindOf(nlattr* a) {
    if (!a) return {};
    char buf[IFNAMSIZ * 2] = {};
    nla_strlcpy(buf, a, sizeof buf);
    return buf;
}

// Copies a fixed-size attribute payload; false when it is shorter.
template <class T>
bool payload(nlattr* a, T& out) {
    if (!a || nla_len(a) < int(sizeof(T))) return false;
    std::memcpy(&out, nla_data(a), sizeof(T));
    return true;
}

std::optional<Tbf> parseTbf(nlattr* options) {
    nlattr* tb[TCA_TBF_MAX + 1];
    tc_tbf_qopt q;
    if (!options || nla_parse_nested(tb, TCA_TBF_MAX, options, nullptr) < 0 || !payload(tb[TCA_TBF_PARMS], q))
        return std::nullopt;
    Tbf t{q.rate.rate, q.limit, q.buffer};
    uint64_t rate64;
    if (payload(tb[TCA_TBF_RATE64], rate64)) t.rate = rate64;
    return t;
}

// The mirred actions of a TCA_*_ACT list, in order.
std::vector<Mirred> parseActions(nlattr* list) {
    std::vector<Mirred> out;
    if (!list) return out;
    nlattr* a;
    int rem;
    nla_for_each_nested(a, list, rem) {
        nlattr* tb[TCA_ACT_MAX + 1];
        if (nla_parse_nested(tb, TCA_ACT_MAX, a, nullptr) < 0 || kindOf(tb[TCA_ACT_KIND]) != "mirred") continue;
        nlattr* opt[TCA_MIRRED_MAX + 1];
        tc_mirred p;
        if (!tb[TCA_ACT_OPTIONS] || nla_parse_nested(opt, TCA_MIRRED_MAX, tb[TCA_ACT_OPTIONS], nullptr) < 0 ||
            !payload(opt[TCA_MIRRED_PARMS], p))
            continue;
        out.push_back({p.eaction, p.action, int(p.ifindex)});
    }
    return out;
}

}  // namespace

std::string handleStr(uint32_t h) {
    if (h == kRoot) return "root";
    if (h == kIngressParent) return "ingress";
    char buf[24];
    if (h & 0xffff)
        std::snprintf(buf, sizeof buf, "%x:%x", h >> 16, h & 0xffff);
    else
        std::snprintf(buf, sizeof buf, "%x:", h >> 16);
    return buf;
}

// /proc/net/psched: four hex numbers, tick-to-ns numerator and denominator,
// the clock resolution and (with a 1 GHz clock) HZ.
Error tickInUsec(double& out) {
    const std::string path = "/proc/net/psched";
    std::string text;
    if (auto e = util::readFile(path, text))
        return Error(util::kInternal, "failed to read " + path + ": " + util::errnoText(e.errnum));
    unsigned v[4];
    if (std::sscanf(text.c_str(), "%x %x %x %x", &v[0], &v[1], &v[2], &v[3]) != 4 || !v[1] || !v[2])
        return Error(util::kInternal, "failed to read " + path + ": unexpected content \"" + text + "\"");
    if (v[2] == 1000000000) v[0] = v[1];
    double clockFactor = double(v[2]) / 1e6;
    out = double(v[0]) / double(v[1]) * clockFactor;
    return {};
}

Tbf tbfParams(uint64_t rateBytes, uint32_t burstBytes, double latencyMs, double tick) {
    Tbf t;
    t.rate = rateBytes;
    // Go divides by a zero rate (under 8 bits/s) into +Inf, which converts to 0.
    uint32_t usec = goUint32(rateBytes ? double(burstBytes) * 1e6 / double(rateBytes) : HUGE_VAL);
    t.buffer = goUint32(double(usec) * tick);
    double latencyUs = 1e6 * (latencyMs / 1000.0);
    t.limit = goUint32(double(rateBytes) * latencyUs / 1e6) + burstBytes;
    return t;
}

Error qdiscs(Socket& sk, int ifindex, std::vector<Qdisc>& out) {
    auto add = [&](const tcmsg& t, nlattr** tb) {
        Qdisc q;
        q.handle = t.tcm_handle;
        q.parent = t.tcm_parent;
        q.kind = kindOf(tb[TCA_KIND]);
        if (q.kind == "tbf") q.tbf = parseTbf(tb[TCA_OPTIONS]);
        out.push_back(std::move(q));
    };
    if (int r = dumpTc(sk.raw(), RTM_GETQDISC, ifindex, 0, add, [&] { out.clear(); }); r < 0)
        return fail(r, "list the qdiscs of " + linkLabel(sk.raw(), ifindex));
    return {};
}

Error addTbf(Socket& sk, int ifindex, uint32_t h, uint32_t parent, const Tbf& t) {
    MsgPtr m = tcMessage(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, h, parent);
    tc_tbf_qopt q{};
    q.rate.rate = t.rate >= (uint64_t(1) << 32) ? ~0U : uint32_t(t.rate);
    q.limit = t.limit;
    q.buffer = t.buffer;
    bool ok = m && nla_put_string(m.get(), TCA_KIND, "tbf") == 0;
    nlattr* opts = ok ? nla_nest_start(m.get(), TCA_OPTIONS) : nullptr;
    ok = opts && nla_put(m.get(), TCA_TBF_PARMS, sizeof q, &q) == 0;
    if (ok && t.rate >= (uint64_t(1) << 32)) ok = nla_put_u64(m.get(), TCA_TBF_RATE64, t.rate) == 0;
    if (ok) nla_nest_end(m.get(), opts);
    if (!ok) return sysFail(ENOMEM, "build the request to add a tbf qdisc");
    if (int r = nl_send_sync(sk.raw(), m.release()); r < 0)
        return fail(r, "add " + qdiscLabel(sk.raw(), ifindex, "tbf", h, parent));
    return {};
}

Error addIngress(Socket& sk, int ifindex) {
    MsgPtr m = tcMessage(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, kIngressHandle, kIngressParent);
    if (!m || nla_put_string(m.get(), TCA_KIND, "ingress") < 0)
        return sysFail(ENOMEM, "build the request to add an ingress qdisc");
    if (int r = nl_send_sync(sk.raw(), m.release()); r < 0)
        return fail(r, "add " + qdiscLabel(sk.raw(), ifindex, "ingress", kIngressHandle, kIngressParent));
    return {};
}

Error deleteQdisc(Socket& sk, int ifindex, uint32_t h, uint32_t parent, bool* found) {
    if (found) *found = true;
    MsgPtr m = tcMessage(RTM_DELQDISC, 0, ifindex, h, parent);
    if (!m) return sysFail(ENOMEM, "build the request to delete a qdisc");
    int r = nl_send_sync(sk.raw(), m.release());
    if (r >= 0) return {};
    int e = errnoOf(r);
    std::string what = "delete qdisc " + handleStr(h) + " on " + linkLabel(sk.raw(), ifindex);
    // Nothing under `parent`: ENOENT; the link gone: ENODEV; another qdisc
    // in its place (the default one, handle 0:): EINVAL "Invalid handle".
    Error err = fail(r, what);
    if (found && e == EINVAL) {
        std::vector<Qdisc> qs;
        if (qdiscs(sk, ifindex, qs)) return err;
        for (const Qdisc& q : qs)
            if (q.parent == parent && q.handle == h) return err;
        e = ENOENT;
    }
    if (found && (e == ENOENT || e == ENODEV)) {
        *found = false;
        return {};
    }
    return err;
}

Error addRedirect(Socket& sk, int ifindex, const Redirect& rd) {
    uint32_t info = uint32_t(rd.prio) << 16 | htons(rd.protocol);
    MsgPtr m = tcMessage(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex, 0, rd.parent, info);
    // The selector: one key matching anything at offset 0, terminal.
    // (tc_u32_sel ends in its keys, a zero-length array in older headers:
    // its fields are set in place, never through an object of the type.)
    uint8_t sel[sizeof(tc_u32_sel) + sizeof(tc_u32_key)] = {};
    sel[offsetof(tc_u32_sel, flags)] = TC_U32_TERMINAL;
    sel[offsetof(tc_u32_sel, nkeys)] = 1;
    tc_mirred mirred{};
    mirred.action = TC_ACT_STOLEN;
    mirred.eaction = TCA_EGRESS_REDIR;
    mirred.ifindex = uint32_t(rd.target);

    bool ok = m && nla_put_string(m.get(), TCA_KIND, "u32") == 0;
    nlattr* opts = ok ? nla_nest_start(m.get(), TCA_OPTIONS) : nullptr;
    ok = opts && nla_put(m.get(), TCA_U32_SEL, sizeof sel, sel) == 0;
    if (ok && rd.classid) ok = nla_put_u32(m.get(), TCA_U32_CLASSID, rd.classid) == 0;
    nlattr* acts = ok ? nla_nest_start(m.get(), TCA_U32_ACT) : nullptr;
    nlattr* act = acts ? nla_nest_start(m.get(), 1) : nullptr;   // action order 1
    ok = act && nla_put_string(m.get(), TCA_ACT_KIND, "mirred") == 0;
    nlattr* aopts = ok ? nla_nest_start(m.get(), TCA_ACT_OPTIONS) : nullptr;
    ok = aopts && nla_put(m.get(), TCA_MIRRED_PARMS, sizeof mirred, &mirred) == 0;
    if (ok) {
        nla_nest_end(m.get(), aopts);
        nla_nest_end(m.get(), act);
        nla_nest_end(m.get(), acts);
        nla_nest_end(m.get(), opts);
    }
    if (!ok) return sysFail(ENOMEM, "build the request to add a u32 filter");
    if (int r = nl_send_sync(sk.raw(), m.release()); r < 0)
        return fail(r, "add u32 filter redirecting " + linkLabel(sk.raw(), ifindex) + " parent " +
                           handleStr(rd.parent) + " to " + linkLabel(sk.raw(), rd.target));
    return {};
}

bool Filter::redirectsTo(int ifindex) const {
    for (const Mirred& m : actions)
        if (m.eaction == TCA_EGRESS_REDIR && m.ifindex == ifindex) return true;
    return false;
}

Error filters(Socket& sk, int ifindex, uint32_t parent, std::vector<Filter>& out) {
    auto add = [&](const tcmsg& t, nlattr** tb) {
        Filter f;
        f.handle = t.tcm_handle;
        f.prio = uint16_t(t.tcm_info >> 16);
        f.protocol = ntohs(uint16_t(t.tcm_info & 0xffff));
        f.kind = kindOf(tb[TCA_KIND]);
        if (f.kind != "u32" || !tb[TCA_OPTIONS]) return;
        nlattr* u[TCA_U32_MAX + 1];
        if (nla_parse_nested(u, TCA_U32_MAX, tb[TCA_OPTIONS], nullptr) < 0 || !u[TCA_U32_SEL]) return;
        // The selector's fields read in place (see addRedirect).
        const auto* sel = static_cast<const uint8_t*>(nla_data(u[TCA_U32_SEL]));
        int len = nla_len(u[TCA_U32_SEL]);
        if (len < int(sizeof(tc_u32_sel))) return;
        if (sel[offsetof(tc_u32_sel, nkeys)] == 1 && len >= int(sizeof(tc_u32_sel) + sizeof(tc_u32_key))) {
            tc_u32_key key;
            std::memcpy(&key, sel + sizeof(tc_u32_sel), sizeof key);
            f.matchAll = key.mask == 0 && key.val == 0 && (sel[offsetof(tc_u32_sel, flags)] & TC_U32_TERMINAL);
        }
        if (u[TCA_U32_CLASSID]) f.classid = nla_get_u32(u[TCA_U32_CLASSID]);
        f.actions = parseActions(u[TCA_U32_ACT]);
        out.push_back(std::move(f));
    };
    if (int r = dumpTc(sk.raw(), RTM_GETTFILTER, ifindex, parent, add, [&] { out.clear(); }); r < 0)
        return fail(r, "list the filters of " + linkLabel(sk.raw(), ifindex));
    return {};
}

}  // namespace nl::tc
