// libFuzzer target: host-local's on-disk state as the store reads it back.
// The input names files and their contents, in sections:
//   === NAME\n<content>\n=== NAME\n<content> ...
// NAME is a file of the network dir (a lease file "10.1.0.5" holding
// "<containerID>\r\n<ifname>" in upstream's format, "last_reserved_ip.0",
// anything else) or ".cnibox/NAME" (the index: "<id>@<ifname>" entries,
// "state"); "state!" writes the index's state file recording the dir as it
// is, so that the index is trusted and read as it stands. The files are
// written to a private dir under /tmp/fuzzwork-* (emptied per input, never
// fsync'd) and read by the real code: ipam::LeaseStore (open, addressesOf,
// holds, lastReserved, release, releaseOne, reserve, releaseAllExcept,
// commit; index on and off), listLeases, Owner::fromContent, leaseName.
// Checks: lease contents and names round-trip; without a forced state the
// indexed store answers as the scanning one, before and after its own
// changes (and the index it wrote then agrees with the lease files).
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "ipam/leases.h"
#include "ipam/store.h"

namespace {

using fuzz::check;
using ipam::LeaseIndex;
using ipam::LeaseStore;
using ipam::Owner;
using util::IP;

const fuzz::TempDir& dir() {
    static const fuzz::TempDir d("leases");
    return d;
}

struct File {
    std::string name;
    std::string_view content;
};

// Sections of the input; at most 64.
std::vector<File> sections(std::string_view in) {
    std::vector<File> out;
    constexpr std::string_view kMark = "=== ";
    size_t pos = in.substr(0, kMark.size()) == kMark ? 0 : in.find("\n=== ");
    if (pos == std::string_view::npos) return out;
    if (pos) pos++;
    while (pos != std::string_view::npos && out.size() < 64) {
        size_t nl = in.find('\n', pos);
        std::string name(in.substr(pos + kMark.size(), nl == std::string_view::npos ? std::string_view::npos
                                                                                   : nl - pos - kMark.size()));
        if (nl == std::string_view::npos) {
            out.push_back({name, {}});
            break;
        }
        size_t next = in.find("\n=== ", nl);
        out.push_back({name, in.substr(nl + 1, next == std::string_view::npos ? std::string_view::npos : next - nl - 1)});
        pos = next == std::string_view::npos ? next : next + 1;
    }
    return out;
}

bool plain(std::string_view n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos &&
           n.find('\0') == std::string_view::npos && n.size() < 250;
}

using Answers = std::map<Owner, std::vector<IP>>;

Answers ask(LeaseStore& s, const std::set<Owner>& owners) {
    Answers a;
    for (const Owner& o : owners) {
        std::vector<IP> ips;
        if (s.addressesOf(o, ips)) continue;
        std::sort(ips.begin(), ips.end());
        bool held = false;
        check(!s.holds(o, held) && held == !ips.empty());
        a[o] = std::move(ips);
    }
    for (int i = 0; i < 3; i++) (void)s.lastReserved(i);
    return a;
}

bool open(LeaseStore& s, LeaseIndex::Use use) {
    return !s.open(dir().path(), "net", LeaseStore::Mode::Existing, use) && !s.missing();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<File> files = sections(in);

    std::set<Owner> owners = {Owner{"cid", "eth0"}, Owner{"cid", ""}, Owner{"other", "net1"}};
    for (const File& f : files) {
        if (auto o = Owner::fromContent(f.content)) {
            check(!o->id.empty());
            auto again = Owner::fromContent(o->content());
            check(again && *again == *o);
            if (owners.size() < 16) owners.insert(*o);
        }
        if (auto ip = ipam::leaseName(f.name.c_str())) check(ip->str() == f.name.c_str());  // a file name ends at a NUL
    }

    const fuzz::TempDir& d = dir();
    d.clear();
    check(d.mkdir("net") && d.mkdir("net/.cnibox") && d.write("net/lock", ""));
    bool forced = false;
    for (const File& f : files) {
        std::string_view n = f.name;
        if (n == "state!") {
            forced = true;
            continue;
        }
        bool index = n.substr(0, 8) == ".cnibox/";
        if (index) n.remove_prefix(8);
        if (!plain(n) || (!index && (n == "lock" || n == ".cnibox"))) continue;
        (void)d.write(std::string(index ? "net/.cnibox/" : "net/") + std::string(n), f.content);
    }
    struct stat st;
    check(stat(d.sub("net").c_str(), &st) == 0);
    if (forced) {
        check(d.write("net/.cnibox/state", LeaseIndex::stateText(st)));
    } else {
        // An input's own state file that matches the dir as it is now is as
        // good as "state!": the fuzzer learns dev, inode and mtime from the
        // comparisons, and the inode and a coarse mtime can repeat from one
        // input to the next. (No real writer but the index puts one there.)
        for (const File& f : files)
            if (f.name == ".cnibox/state" && LeaseIndex::stateMatches(f.content, st)) forced = true;
    }

    std::vector<ipam::Lease> listed;
    (void)ipam::listLeases(d.sub("net"), listed);

    Answers truth;
    {
        LeaseStore s;
        if (!open(s, LeaseIndex::Use::Off)) return 0;
        truth = ask(s, owners);
    }
    LeaseStore s;
    if (!open(s, LeaseIndex::Use::On)) return 0;
    Answers indexed = ask(s, owners);
    if (!forced) check(indexed == truth);

    // Changes, then the index written.
    auto it = owners.begin();
    std::vector<IP> released;
    (void)s.release(*it, &released);
    if (!listed.empty()) (void)s.releaseOne(std::next(it) == owners.end() ? *it : *std::next(it), listed.front().ip);
    bool reserved = false;
    (void)s.reserve(Owner{"cid", "eth0"}, *IP::parse("10.1.0.250"), 0, reserved);
    (void)s.reserve(Owner{"new", "eth0"}, *IP::parse("fd00::fa"), 1, reserved);
    if (reserved) check(s.lastReserved(1) == IP::parse("fd00::fa"));
    std::vector<ipam::Lease> gone;
    if (owners.size() > 3) (void)s.releaseAllExcept({{"cid", "eth0"}, {"new", "eth0"}}, &gone);
    (void)s.commit();
    s.close();

    Answers after, afterIndexed;
    {
        LeaseStore off;
        if (!open(off, LeaseIndex::Use::Off)) return 0;
        after = ask(off, owners);
    }
    if (!open(s, LeaseIndex::Use::On)) return 0;
    afterIndexed = ask(s, owners);
    if (!forced) check(afterIndexed == after);
    return 0;
}
