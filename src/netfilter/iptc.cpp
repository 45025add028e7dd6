// The iptables backend (legacy xtables through libiptc). Not written yet.
#include "netfilter/internal.h"

namespace nf::detail {

Error openIptables(Family, std::string_view, std::unique_ptr<Table>&) {
    return {cni::kInternal, "the iptables backend is not built yet"};
}
bool iptablesUsable() { return false; }

}  // namespace nf::detail
