// Conntrack entries through ctnetlink. Not written yet.
#include "netfilter/netfilter.h"

namespace nf {

Error conntrackDeleteByDport(int, uint8_t, uint16_t) {
    return {cni::kInternal, "conntrack deletion is not built yet"};
}

}  // namespace nf
