// Persistent tap devices through /dev/net/tun (no netlink involved).
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

Error addTap(const TapSpec& s) {
    if (s.name.empty() || s.name.size() >= IFNAMSIZ)
        return Error(util::kInvalidNetConf, "invalid interface name \"" + s.name + "\"");
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return sysFail(errno, "open /dev/net/tun");
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, s.name.data(), s.name.size());
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (s.multiQueue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    std::string what = "create tap " + s.name;
    Error e;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        e = sysFail(errno, what);
    else if (s.owner >= 0 && ioctl(fd, TUNSETOWNER, static_cast<unsigned long>(s.owner)) < 0)
        e = sysFail(errno, "set owner " + std::to_string(s.owner) + " of tap " + s.name);
    else if (s.group >= 0 && ioctl(fd, TUNSETGROUP, static_cast<unsigned long>(s.group)) < 0)
        e = sysFail(errno, "set group " + std::to_string(s.group) + " of tap " + s.name);
    else if (ioctl(fd, TUNSETPERSIST, 1UL) < 0)
        e = sysFail(errno, "make tap " + s.name + " persistent");
    // Without TUNSETPERSIST the device goes away with this fd.
    ::close(fd);
    return e;
}

}  // namespace nl
