// Backend entry points behind nf::Table::open and the probes.
#pragma once

#include "netfilter/netfilter.h"

namespace nf::detail {

Error openIptables(Family f, std::string_view name, std::unique_ptr<Table>& out);
Error openNftables(Family f, std::string_view name, std::unique_ptr<Table>& out);
// Whether the backend works here; if not, the errno that said so in *err.
bool iptablesUsable(int* err = nullptr);
bool nftablesUsable(int* err = nullptr);

}  // namespace nf::detail
