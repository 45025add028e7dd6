// The iptables backend's rendering of the IR's matches and targets into xt
// structures (iptc_render.cpp), with the match and target revisions
// iptables 1.8.9 uses, so that iptables-save prints them exactly as rules
// made by the iptables command. The family's ip header in front of them is
// iptc.cpp's.
#pragma once

#include <linux/netfilter/x_tables.h>

#include <cstdint>
#include <string>
#include <vector>

#include "netfilter/netfilter.h"

namespace nf::detail {

// A rendered entry: header, matches, target, as one 8-byte aligned blob.
struct Blob {
    std::vector<uint8_t> bytes;
    bool standardTarget = false;
    std::string targetName; // for standard targets: "ACCEPT", "DROP", "RETURN" or the chain

    template <class T>
    T* at(size_t off) { return reinterpret_cast<T*>(bytes.data() + off); }
};

// Appends the matches of `r` in a fixed order: comment, then tcp/udp/sctp,
// multiport, addrtype, mark, conntrack (upstream's rules print as
// "-p tcp -m comment --comment X -m multiport --dports 80,81").
Error renderMatches(Blob& b, const Rule& r);

// Appends the target of `a` for a table of family `fam`; gotoFlag tells the
// caller to set its family's goto flag (-g).
Error renderTarget(Blob& b, const Action& a, Family fam, bool& gotoFlag);

}  // namespace nf::detail
