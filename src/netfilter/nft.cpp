// The nftables backend (libnftnl batches). Not written yet.
#include "netfilter/internal.h"

namespace nf::detail {

Error openNftables(Family, std::string_view, std::unique_ptr<Table>&) {
    return {cni::kInternal, "the nftables backend is not built yet"};
}
bool nftablesUsable() { return false; }

}  // namespace nf::detail
