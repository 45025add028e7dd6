// CNI_ARGS: "K=V;K=V", with upstream's LoadArgs rules: each pair must have
// exactly one '='; keys match exactly (case-sensitive); keys the plugin does
// not know are an error unless IgnoreUnknown=1|true (0|false also accepted).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/error.h"

namespace cni {

struct CniArgs {
    std::vector<std::pair<std::string, std::string>> pairs;
    // Value of key or nullptr.
    const std::string* get(std::string_view key) const;
};

// Splits and validates `s`. `known` lists the keys the plugin understands
// (IgnoreUnknown is always known). Errors are code 4 (an invalid environment
// variable; upstream reports these as 999) and name the offending pairs/keys:
//   "ARGS: invalid pair \"X\"", "ARGS: unknown args [\"A\" \"B\"]".
Error parseCniArgs(std::string_view s, std::initializer_list<std::string_view> known, CniArgs& out);

}  // namespace cni
