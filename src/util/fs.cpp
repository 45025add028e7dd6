#include "util/fs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace util {

int readAll(int fd, std::string& out) {
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        return errno;
    }
}

int writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return 0;
}

std::string errnoText(int err) {
    std::string s = errnoDesc(err);
    if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] + 32);
    return s;
}

}  // namespace util
