#include "ipam/resolvconf.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fs.h"
#include "util/text.h"
#include "util/fs.h"

namespace ipam {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::vector<std::string_view> fields(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && isSpace(s[i])) i++;
        size_t j = i;
        while (j < s.size() && !isSpace(s[j])) j++;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

}  // namespace

void parseResolvConfText(std::string_view text, cni::DNS& out) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        line = util::trimSpace(line);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        auto f = fields(line);
        if (f.size() < 2) continue;
        if (f[0] == "nameserver") {
            out.nameservers.emplace_back(f[1]);
        } else if (f[0] == "domain") {
            out.domain = std::string(f[1]);
        } else if (f[0] == "search") {
            for (size_t i = 1; i < f.size(); i++) out.search.emplace_back(f[i]);
        } else if (f[0] == "options") {
            for (size_t i = 1; i < f.size(); i++) out.options.emplace_back(f[i]);
        }
    }
}

cni::Error parseResolvConf(const std::string& path, cni::DNS& out) {
    std::string text;
    if (auto e = util::readFile(path, text, 1 << 20))
        return {cni::kIOFailure, "open " + path + ": " + util::errnoText(e.errnum)};
    cni::DNS dns;
    parseResolvConfText(text, dns);
    out = std::move(dns);
    return {};
}

}  // namespace ipam
