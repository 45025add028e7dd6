#include "cni/args.h"

#include "cni/gojson.h"

namespace cni {

const std::string* CniArgs::get(std::string_view key) const {
    const std::string* v = nullptr;
    for (const auto& [k, val] : pairs)
        if (k == key) v = &val;  // the last one wins, as upstream's field assignment
    return v;
}

Error parseCniArgs(std::string_view s, std::initializer_list<std::string_view> known, CniArgs& out) {
    CniArgs r;
    if (s.empty()) {
        out = std::move(r);
        return {};
    }
    std::vector<std::string> unknown;
    bool ignoreUnknown = false;
    size_t start = 0;
    for (;;) {
        size_t semi = s.find(';', start);
        std::string_view pair = s.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
        size_t eq = pair.find('=');
        if (eq == std::string_view::npos || pair.find('=', eq + 1) != std::string_view::npos)
            return Error(kInvalidEnv, "ARGS: invalid pair " + gojson::quote(pair));
        std::string_view key = pair.substr(0, eq), val = pair.substr(eq + 1);
        if (key == "IgnoreUnknown") {
            std::string low(val);
            for (char& c : low)
                if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
            if (low == "1" || low == "true") ignoreUnknown = true;
            else if (low == "0" || low == "false") ignoreUnknown = false;
            else
                return Error(kInvalidEnv, "ARGS: error parsing value of pair " + gojson::quote(pair) +
                                              ": boolean unmarshal error: invalid input " + low);
        } else {
            bool isKnown = false;
            for (auto k : known) isKnown = isKnown || k == key;
            if (!isKnown) unknown.emplace_back(pair);
        }
        r.pairs.emplace_back(std::string(key), std::string(val));
        if (semi == std::string_view::npos) break;
        start = semi + 1;
    }
    if (!unknown.empty() && !ignoreUnknown) return Error(kInvalidEnv, "ARGS: unknown args " + gojson::quoteList(unknown));
    out = std::move(r);
    return {};
}

}  // namespace cni
