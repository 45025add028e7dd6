#include "dhcp/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "util/fd.h"
#include "util/fs.h"
#include "util/text.h"

namespace dhcp {

namespace {

constexpr char kHead[] = "LEASE";

template <class T>
bool parseNumber(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

Error bad(std::string_view key, std::string_view what) {
    return Error(util::kDecodeFailure, "lease record: " + std::string(key) + ": " + std::string(what));
}

// "<code> <hex>" fields into a map.
Error parseOptions(const Block& b, std::string_view key, std::map<uint8_t, std::string>& out) {
    for (const std::string& v : b.all(key)) {
        uint8_t code = 0;
        std::string bytes;
        if (!parseCodeHex(v, code, bytes)) return bad(key, "not \"<code> <hex>\": \"" + v + "\"");
        out[code] = std::move(bytes);
    }
    return {};
}

void addOptions(Block& b, const char* key, const std::map<uint8_t, std::string>& opts) {
    for (const auto& [code, bytes] : opts) b.add(key, std::to_string(code) + " " + toHex(bytes));
}

}  // namespace

std::string toHex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

bool fromHex(std::string_view hex, std::string& out) {
    auto nibble = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    if (hex.size() % 2) return false;
    out.clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
    }
    return true;
}

bool parseCodeHex(std::string_view s, uint8_t& code, std::string& bytes) {
    size_t sp = s.find(' ');
    return sp != std::string_view::npos && parseNumber(s.substr(0, sp), code) && fromHex(s.substr(sp + 1), bytes);
}

bool parseCodeList(std::string_view s, std::vector<uint8_t>& out) {
    out.clear();
    while (!s.empty()) {
        size_t sp = s.find(' ');
        uint8_t code = 0;
        if (!parseNumber(s.substr(0, sp), code)) return false;
        out.push_back(code);
        s.remove_prefix(sp == std::string_view::npos ? s.size() : sp + 1);
    }
    return true;
}

Block recordBlock(const LeaseRecord& r) {
    Block b;
    b.head = kHead;
    b.add("network", r.network);
    b.add("container-id", r.containerID);
    b.add("ifname", r.ifname);
    b.add("client-id", toHex(r.clientID));
    b.add("netns", r.netns);
    b.add("netns-dev", std::to_string(r.netnsDev));
    b.add("netns-ino", std::to_string(r.netnsIno));
    b.add("server-id", r.serverID);
    b.add("server-mac", r.serverMac);
    if (!r.clientMac.empty()) b.add("client-mac", r.clientMac);
    if (!r.hostDevice.empty()) b.add("host-device", r.hostDevice);
    b.add("address", r.address);
    b.add("lease-seconds", std::to_string(r.leaseSeconds));
    b.add("t1", std::to_string(r.t1Seconds));
    b.add("t2", std::to_string(r.t2Seconds));
    b.add("acquired-at", std::to_string(r.acquiredAt));
    addOptions(b, "reply-option", r.replyOptions);
    std::string req;
    for (uint8_t c : r.requestedOptions) {
        if (!req.empty()) req += ' ';
        req += std::to_string(c);
    }
    b.add("requested", req);
    addOptions(b, "provide", r.providedOptions);
    b.add("broadcast", r.broadcast ? "true" : "false");
    return b;
}

Error parseRecord(const Block& b, LeaseRecord& out) {
    out = LeaseRecord{};
    if (b.head != kHead) return Error(util::kDecodeFailure, "lease record: head is \"" + b.head + "\", not LEASE");
    auto text = [&](const char* key, std::string& dst, bool required) -> Error {
        const std::string* v = b.get(key);
        if (!v && required) return bad(key, "missing");
        if (v) dst = *v;
        return {};
    };
    auto number = [&](const char* key, auto& dst) -> Error {
        const std::string* v = b.get(key);
        if (v && !parseNumber(*v, dst)) return bad(key, "not a number: \"" + *v + "\"");
        return {};
    };
    if (auto e = text("network", out.network, true)) return e;
    if (auto e = text("container-id", out.containerID, true)) return e;
    if (auto e = text("ifname", out.ifname, true)) return e;
    if (auto e = text("address", out.address, true)) return e;
    if (auto e = text("netns", out.netns, false)) return e;
    if (auto e = text("server-id", out.serverID, false)) return e;
    if (auto e = text("server-mac", out.serverMac, false)) return e;
    if (auto e = text("client-mac", out.clientMac, false)) return e;
    if (auto e = text("host-device", out.hostDevice, false)) return e;
    if (const std::string* v = b.get("client-id"); v && !fromHex(*v, out.clientID))
        return bad("client-id", "not lower-case hex");
    if (auto e = number("netns-dev", out.netnsDev)) return e;
    if (auto e = number("netns-ino", out.netnsIno)) return e;
    if (auto e = number("lease-seconds", out.leaseSeconds)) return e;
    if (auto e = number("t1", out.t1Seconds)) return e;
    if (auto e = number("t2", out.t2Seconds)) return e;
    if (auto e = number("acquired-at", out.acquiredAt)) return e;
    if (auto e = parseOptions(b, "reply-option", out.replyOptions)) return e;
    if (auto e = parseOptions(b, "provide", out.providedOptions)) return e;
    if (const std::string* v = b.get("requested"); v && !parseCodeList(*v, out.requestedOptions))
        return bad("requested", "not option codes: \"" + *v + "\"");
    if (const std::string* v = b.get("broadcast")) {
        if (*v != "true" && *v != "false") return bad("broadcast", "not true or false: \"" + *v + "\"");
        out.broadcast = *v == "true";
    }
    return {};
}

std::string LeaseStore::fileName(std::string_view network, std::string_view containerID, std::string_view ifname) {
    // The key: the parts joined by '/', each with its own '%' and '/'
    // escaped, so that no two attachments share a key ("a/b" + "c" is not
    // "a" + "b/c").
    std::string key;
    const std::string_view parts[] = {network, containerID, ifname};
    for (size_t p = 0; p < 3; p++) {
        if (p) key += '/';
        for (char c : parts[p]) {
            if (c == '%') key += "%25";
            else if (c == '/') key += "%2F";
            else key += c;
        }
    }
    std::string name;
    for (size_t i = 0; i < key.size(); i++) {
        unsigned char c = static_cast<unsigned char>(key[i]);
        if (c == '/' || c == '%' || c < '!' || c > '~' || (i == 0 && c == '.')) {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            name += buf;
        } else {
            name += static_cast<char>(c);
        }
    }
    if (name.size() <= kMaxName) return name;
    char hash[20];
    std::snprintf(hash, sizeof hash, "-%016llx", static_cast<unsigned long long>(util::fnv1a64(key)));
    return name.substr(0, 200) + hash;
}

Error LeaseStore::save(const LeaseRecord& r) {
    if (auto e = util::mkdirAll(dir_, 0700)) return e;
    return util::writeFileAtomic(util::joinPath(dir_, fileName(r.network, r.containerID, r.ifname)),
                                 encode(recordBlock(r)), 0600);
}

Error LeaseStore::remove(std::string_view network, std::string_view containerID, std::string_view ifname) {
    std::string path = util::joinPath(dir_, fileName(network, containerID, ifname));
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return util::pathError("remove", path, errno);
    return {};
}

Error LeaseStore::loadAll(std::vector<LeaseRecord>& out, std::vector<std::string>& problems) {
    util::Fd dfd(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return errno == ENOENT ? Error() : util::pathError("open", dir_, errno);
    util::Dir dir;
    if (auto e = util::Dir::openAt(dfd.get(), dir)) return e.wrap("read " + dir_);
    std::vector<std::string> names;
    while (struct dirent* de = dir.next()) names.emplace_back(de->d_name);
    std::sort(names.begin(), names.end());

    for (const std::string& name : names) {
        std::string path = util::joinPath(dir_, name);
        if (name[0] == '.') {  // a save that did not finish
            if (unlinkat(dfd.get(), name.c_str(), 0) != 0 && errno != ENOENT)
                problems.push_back(util::pathError("remove", path, errno).msg);
            continue;
        }
        struct stat st;
        if (fstatat(dfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) problems.push_back(util::pathError("stat", path, errno).msg);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            problems.push_back(path + ": not a regular file");
            continue;
        }
        std::string text;
        if (auto e = util::readFileAt(dfd.get(), name.c_str(), text, kMaxBlock)) {
            problems.push_back(path + ": " + e.msg);
            continue;
        }
        Block b;
        LeaseRecord r;
        Error e = decode(text, b);
        if (!e) e = parseRecord(b, r);
        if (!e && fileName(r.network, r.containerID, r.ifname) != name)
            e = Error(util::kDecodeFailure, "the record inside is for another attachment");
        if (e) {
            problems.push_back(path + ": " + e.msg);
            continue;
        }
        out.push_back(std::move(r));
    }
    return {};
}

}  // namespace dhcp
