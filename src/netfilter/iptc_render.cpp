// The iptables backend's matches and targets (see iptc_render.h).
#include "netfilter/iptc_render.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>
// xt_sctp.h's inline helpers are C (_Bool).
#define _Bool bool
#include <linux/netfilter/xt_sctp.h>
#undef _Bool
#include <linux/netfilter/xt_tcpudp.h>

#include <cstring>

namespace nf::detail {

namespace {

constexpr size_t kStandardTargetSize = XT_ALIGN(sizeof(xt_standard_target));

// Appends an aligned, zeroed block of `dataSize` bytes after a
// xt_entry_match / xt_entry_target header and returns its offset.
size_t addPart(Blob& b, const char* name, uint8_t revision, size_t dataSize) {
    size_t off = b.bytes.size();
    size_t size = XT_ALIGN(sizeof(xt_entry_match) + dataSize);
    b.bytes.resize(off + size, 0);
    auto* m = b.at<xt_entry_match>(off);
    m->u.user.match_size = static_cast<uint16_t>(size);
    std::strncpy(m->u.user.name, name, sizeof m->u.user.name - 1);
    m->u.user.revision = revision;
    return off + sizeof(xt_entry_match);
}

// A match or target (same layout of the header) with data of type T.
template <class T>
T* addMatch(Blob& b, const char* name, uint8_t revision) {
    size_t off = addPart(b, name, revision, sizeof(T));
    return b.at<T>(off);
}

}  // namespace

Error renderMatches(Blob& b, const Rule& r) {
    const Match& m = r.match;
    if (!r.comment.empty()) {
        if (r.comment.size() >= XT_MAX_COMMENT_LEN)
            return {cni::kInternal, "comment longer than 255 bytes: " + r.comment};
        auto* c = addMatch<xt_comment_info>(b, "comment", 0);
        std::memcpy(c->comment, r.comment.data(), r.comment.size());
    }
    if (!m.dports.empty() && m.proto != IPPROTO_TCP && m.proto != IPPROTO_UDP && m.proto != IPPROTO_SCTP)
        return {cni::kInternal, "destination ports need the tcp, udp or sctp protocol"};
    if (m.dports.size() == 1 && !m.multiport) {
        uint16_t p = m.dports[0];
        if (m.proto == IPPROTO_TCP) {
            auto* t = addMatch<xt_tcp>(b, "tcp", 0);
            t->spts[1] = 0xffff;
            t->dpts[0] = t->dpts[1] = p;
        } else if (m.proto == IPPROTO_UDP) {
            auto* u = addMatch<xt_udp>(b, "udp", 0);
            u->spts[1] = 0xffff;
            u->dpts[0] = u->dpts[1] = p;
        } else {
            auto* s = addMatch<xt_sctp_info>(b, "sctp", 0);
            s->dpts[0] = s->dpts[1] = p;
            for (auto& fi : s->flag_info) fi.chunktype = 0xff;  // as iptables initialises it
            s->flags = XT_SCTP_DEST_PORTS;
        }
    } else if (!m.dports.empty()) {
        if (m.dports.size() > XT_MULTI_PORTS)
            return {cni::kInternal, "more than 15 destination ports in one rule"};
        auto* mp = addMatch<xt_multiport_v1>(b, "multiport", 1);
        mp->flags = XT_MULTIPORT_DESTINATION;
        mp->count = static_cast<uint8_t>(m.dports.size());
        for (size_t i = 0; i < m.dports.size(); i++) mp->ports[i] = m.dports[i];
    }
    if (m.dstLocal) {
        auto* a = addMatch<xt_addrtype_info_v1>(b, "addrtype", 1);
        a->dest = XT_ADDRTYPE_LOCAL;
    }
    if (m.mark) {
        auto* mk = addMatch<xt_mark_mtinfo1>(b, "mark", 1);
        mk->mark = *m.mark;
        mk->mask = m.markMask;
    }
    if (m.ctRelatedEstablished) {
        auto* ct = addMatch<xt_conntrack_mtinfo3>(b, "conntrack", 3);
        ct->match_flags = XT_CONNTRACK_STATE;
        ct->state_mask = XT_CONNTRACK_STATE_BIT(IP_CT_RELATED) | XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED);
    }
    if (m.etherSrc) return {cni::kInternal, "the iptables backend cannot match a source MAC address"};
    return {};
}

Error renderTarget(Blob& b, const Action& a, Family fam, bool& gotoFlag) {
    gotoFlag = false;
    auto standard = [&](const std::string& name) -> Error {
        if (name.empty()) return {cni::kInternal, "a jump without a chain"};
        if (name.size() >= XT_EXTENSION_MAXNAMELEN) return {cni::kInternal, "chain name too long: " + name};
        size_t off = b.bytes.size();
        b.bytes.resize(off + kStandardTargetSize, 0);
        auto* t = b.at<xt_entry_target>(off);
        t->u.user.target_size = static_cast<uint16_t>(kStandardTargetSize);
        std::memcpy(t->u.user.name, name.data(), name.size());
        b.standardTarget = true;
        b.targetName = name;
        return {};
    };
    switch (a.verdict) {
    case Verdict::kAccept: return standard("ACCEPT");
    case Verdict::kDrop: return standard("DROP");
    case Verdict::kReturn: return standard("RETURN");
    case Verdict::kJump: return standard(a.chain);
    case Verdict::kGoto:
        gotoFlag = true;
        return standard(a.chain);
    case Verdict::kMasquerade:
        if (fam == Family::kIPv4) {
            addMatch<nf_nat_ipv4_multi_range_compat>(b, "MASQUERADE", 0)->rangesize = 1;
        } else {
            addMatch<nf_nat_range>(b, "MASQUERADE", 0);
        }
        b.targetName = "MASQUERADE";
        return {};
    case Verdict::kDnat: {
        bool v4 = fam == Family::kIPv4;
        if (!a.toAddr.valid() || a.toAddr.is4() != v4)
            return {cni::kInternal, "DNAT needs an address of the table's family"};
        auto* r = addMatch<nf_nat_range2>(b, "DNAT", 2);
        r->flags = NF_NAT_RANGE_MAP_IPS;
        std::memcpy(&r->min_addr, a.toAddr.b.data(), a.toAddr.len());
        std::memcpy(&r->max_addr, a.toAddr.b.data(), a.toAddr.len());
        if (a.toPort) {
            r->flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
            r->min_proto.all = r->max_proto.all = htons(a.toPort);
        }
        b.targetName = "DNAT";
        return {};
    }
    case Verdict::kSetMark: {
        auto* mk = addMatch<xt_mark_tginfo2>(b, "MARK", 2);
        mk->mark = a.mark;
        mk->mask = a.mask;
        b.targetName = "MARK";
        return {};
    }
    }
    return {cni::kInternal, "unknown verdict"};
}

}  // namespace nf::detail
