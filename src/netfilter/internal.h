// Backend entry points behind nf::Table::open and the probes.
#pragma once

#include "netfilter/netfilter.h"

namespace nf::detail {

Error openIptables(Family f, std::string_view name, std::unique_ptr<Table>& out);
Error openNftables(Family f, std::string_view name, std::unique_ptr<Table>& out);
bool iptablesUsable();
bool nftablesUsable();

}  // namespace nf::detail
