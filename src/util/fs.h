// Small file-descriptor helpers (EINTR-safe full reads and writes).
#pragma once

#include <string>
#include <string_view>

namespace util {

// Reads `fd` to EOF, appending to `out`. Returns 0 or an errno value.
int readAll(int fd, std::string& out);
// Writes all of `data`. Returns 0 or an errno value.
int writeAll(int fd, std::string_view data);
// strerror(err) as glibc and Go word it ("No such file or directory"), for
// any Linux errno, whichever C library is linked (util/errno_desc.cpp).
const char* errnoDesc(int err);
// errnoDesc(err) starting in lower case, as Go's syscall errors read
// ("no such file or directory").
std::string errnoText(int err);

}  // namespace util
