// Backend entry points behind nf::Table::open, the probes and finishRun,
// and what the backends share.
#pragma once

#include <cstddef>
#include <string>

#include "netfilter/netfilter.h"

namespace nf::detail {

Error openIptables(Family f, std::string_view name, std::unique_ptr<Table>& out);
Error openNftables(Family f, std::string_view name, std::unique_ptr<Table>& out);
// Whether the backend works here (see nf::usable); if not, the errno that
// said so in *err.
Error iptablesUsable(bool& out, int* err = nullptr);
Error nftablesUsable(bool& out, int* err = nullptr);
// Closes the nftables socket of this process (see nf::finishRun).
void finishNftables();

// Opens the legacy table `name` of the family on the iptables backend when
// it exists (legacyTableExists); leaves `out` empty when it does not.
Error openLegacyIfExists(Family f, std::string_view name, std::unique_ptr<Table>& out);

// Lower-case hex of n bytes.
std::string hex(const void* p, size_t n);

}  // namespace nf::detail
