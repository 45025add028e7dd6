// resolv.conf parsing for host-local's `resolvConf` key.
#pragma once

#include <string>
#include <string_view>

#include "cni/error.h"
#include "cni/result.h"

namespace ipam {

// Parses resolv.conf text as upstream does: lines are trimmed; empty lines
// and lines starting with '#' or ';' are skipped, as are lines with fewer
// than two fields; "nameserver X" appends X, "domain X" sets the domain,
// "search A B.." and "options A B.." append all their fields. Other
// keywords are ignored.
void parseResolvConfText(std::string_view text, cni::DNS& out);
// Reads and parses the file (code 5 when it cannot be read).
cni::Error parseResolvConf(const std::string& path, cni::DNS& out);

}  // namespace ipam
