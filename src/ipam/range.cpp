#include "ipam/range.h"

#include "cni/json.h"

namespace ipam {

using util::IP;

namespace {

// Last address of a subnet that host-local hands out by default: the
// broadcast address is excluded for IPv4 only.
IP lastIP(const util::IPNet& n) {
    IP b = n.broadcast();
    return b.is4() ? b.prev() : b;
}

// b - a for a <= b, saturating at UINT64_MAX.
uint64_t distance(const IP& a, const IP& b) {
    uint64_t hiA = 0, loA = 0, hiB = 0, loB = 0;
    int n = a.len();
    for (int i = 0; i < n; i++) {
        uint64_t& hA = (n - i > 8) ? hiA : loA;
        uint64_t& hB = (n - i > 8) ? hiB : loB;
        hA = (hA << 8) | a.b[i];
        hB = (hB << 8) | b.b[i];
    }
    uint64_t lo = loB - loA;
    uint64_t hi = hiB - hiA - (loB < loA ? 1 : 0);
    return hi ? UINT64_MAX : lo;
}

}  // namespace

bool Range::contains(const IP& ip) const {
    if (ip.family != subnet.ip.family) return false;
    if (!subnet.contains(ip)) return false;
    if (rangeStart.valid() && ip < rangeStart) return false;
    if (rangeEnd.valid() && ip > rangeEnd) return false;
    return true;
}

bool Range::canonicalize(std::string& err) {
    if (!subnet.ip.valid()) {
        err = "missing subnet";
        return false;
    }
    int bits = subnet.ip.bits();
    if (subnet.prefix > bits - 2) {
        err = "Network " + subnet.str() + " too small to allocate from";
        return false;
    }
    if (subnet.hasHostBits()) {
        err = "Network has host bits set. For a subnet mask of length " + std::to_string(subnet.prefix) +
              " the network address is " + subnet.network().str();
        return false;
    }
    if (!gateway.valid()) gateway = subnet.network().next();
    if (rangeStart.valid()) {
        if (!contains(rangeStart)) {
            err = "RangeStart " + rangeStart.str() + " not in network " + subnet.str();
            return false;
        }
    } else {
        rangeStart = subnet.network().next();
    }
    if (rangeEnd.valid()) {
        if (!contains(rangeEnd)) {
            err = "RangeEnd " + rangeEnd.str() + " not in network " + subnet.str();
            return false;
        }
    } else {
        rangeEnd = lastIP(subnet);
    }
    return true;
}

bool Range::overlaps(const Range& o) const {
    if (rangeStart.family != o.rangeStart.family) return false;
    return contains(o.rangeStart) || contains(o.rangeEnd) || o.contains(rangeStart) || o.contains(rangeEnd);
}

std::string Range::str() const { return rangeStart.str() + "-" + rangeEnd.str(); }

uint64_t Range::capacity() const {
    if (!rangeStart.valid() || !rangeEnd.valid() || rangeEnd < rangeStart) return 0;
    uint64_t n = distance(rangeStart, rangeEnd);
    if (n == UINT64_MAX) return n;  // saturated
    n++;
    if (gateway.family == rangeStart.family && !(gateway < rangeStart) && !(rangeEnd < gateway)) n--;
    return n;
}

bool canonicalizeSet(RangeSet& s, std::string& err) {
    if (s.empty()) {
        err = "empty range set";
        return false;
    }
    for (size_t i = 0; i < s.size(); i++) {
        if (!s[i].canonicalize(err)) return false;
        if (s[i].family() != s[0].family()) {
            err = "mixed address families";
            return false;
        }
    }
    for (size_t i = 0; i + 1 < s.size(); i++)
        for (size_t j = i + 1; j < s.size(); j++)
            if (s[i].overlaps(s[j])) {
                err = "subnets " + s[i].str() + " and " + s[j].str() + " overlap";
                return false;
            }
    return true;
}

const Range* rangeFor(const RangeSet& s, const IP& ip) {
    for (const Range& r : s)
        if (r.contains(ip)) return &r;
    return nullptr;
}

bool setsOverlap(const RangeSet& a, const RangeSet& b) {
    for (const Range& x : a)
        for (const Range& y : b)
            if (x.overlaps(y)) return true;
    return false;
}

std::string str(const RangeSet& s) {
    std::string out;
    for (const Range& r : s) {
        if (!out.empty()) out += ',';
        out += r.str();
    }
    return out;
}

uint64_t capacity(const RangeSet& s) {
    uint64_t n = 0;
    for (const Range& r : s) {
        uint64_t c = r.capacity();
        n = (UINT64_MAX - n < c) ? UINT64_MAX : n + c;
    }
    return n;
}

cni::Error parseRange(const rapidjson::Value& v, const std::string& where, Range& out) {
    if (!v.IsObject()) return {cni::kInvalidNetConf, where + " must be an object"};
    std::optional<util::IPNet> subnet;
    std::optional<IP> start, end, gw;
    if (auto e = cni::json::getIPNet(v, "subnet", subnet)) return e;
    if (auto e = cni::json::getIP(v, "rangeStart", start)) return e;
    if (auto e = cni::json::getIP(v, "rangeEnd", end)) return e;
    if (auto e = cni::json::getIP(v, "gateway", gw)) return e;
    out = Range{};
    if (subnet) out.subnet = *subnet;
    if (start) out.rangeStart = *start;
    if (end) out.rangeEnd = *end;
    if (gw) out.gateway = *gw;
    return {};
}

cni::Error parseRangeSets(const rapidjson::Value& v, const std::string& where, std::vector<RangeSet>& out) {
    if (v.IsNull()) return {};
    if (!v.IsArray()) return {cni::kInvalidNetConf, where + " must be a list of range sets"};
    for (rapidjson::SizeType i = 0; i < v.Size(); i++) {
        const auto& set = v[i];
        std::string w = where + "[" + std::to_string(i) + "]";
        if (!set.IsArray()) return {cni::kInvalidNetConf, w + " must be a list of ranges"};
        RangeSet rs;
        for (rapidjson::SizeType j = 0; j < set.Size(); j++) {
            Range r;
            if (auto e = parseRange(set[j], w + "[" + std::to_string(j) + "]", r)) return e;
            rs.push_back(r);
        }
        out.push_back(std::move(rs));
    }
    return {};
}

RangeIter::RangeIter(const RangeSet& s, const std::optional<IP>& lastReserved) : set_(s) {
    if (!lastReserved) return;
    for (size_t i = 0; i < s.size(); i++)
        if (s[i].contains(*lastReserved)) {
            idx_ = i;
            cur_ = *lastReserved;  // the first next() returns the address after it
            return;
        }
}

std::optional<IP> RangeIter::next(const Range** range) {
    if (set_.empty()) return std::nullopt;
    for (;;) {
        const Range* r = &set_[idx_];
        if (!cur_) {
            cur_ = r->rangeStart;
            start_ = cur_;
        } else {
            if (*cur_ == r->rangeEnd) {
                idx_ = (idx_ + 1) % set_.size();
                r = &set_[idx_];
                cur_ = r->rangeStart;
            } else {
                cur_ = cur_->next();
            }
            if (!start_) start_ = cur_;
            else if (*cur_ == *start_) return std::nullopt;
        }
        if (*cur_ == r->gateway) continue;
        if (range) *range = r;
        return cur_;
    }
}

}  // namespace ipam
