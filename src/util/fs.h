// Small file-descriptor helpers (EINTR-safe full reads and writes).
#pragma once

#include <string>
#include <string_view>

namespace util {

// Reads `fd` to EOF, appending to `out`. Returns 0 or an errno value.
int readAll(int fd, std::string& out);
// Writes all of `data`. Returns 0 or an errno value.
int writeAll(int fd, std::string_view data);
// strerror(err) starting in lower case, as Go's syscall errors read
// ("no such file or directory").
std::string errnoText(int err);

}  // namespace util
