// Small dirfd-relative file helpers for the ipam layer (errno-returning;
// the plain fd helpers are in util/fs.h).
#pragma once

#include <string>
#include <string_view>

namespace ipam {

// Go's strings.TrimSpace for ASCII text.
std::string_view trimSpace(std::string_view s);

// Reads a whole (small) file relative to `dirfd`; returns 0 or an errno.
// Files larger than `limit` fail with EFBIG.
int readFile(int dirfd, const char* name, std::string& out, size_t limit = 1 << 16);

// Creates/truncates `name` with `mode` and writes `data`; returns 0 or an errno.
int writeFile(int dirfd, const char* name, std::string_view data, unsigned mode, int extraFlags = 0);

// Rewrites `name` in place: pwrite at 0, then shortens it if it was longer.
// No O_TRUNC: on ext4 truncating a file with data forces a flush (~0.2 ms
// idle, milliseconds under load). For small files read whole under a lock.
int overwriteFile(int dirfd, const char* name, std::string_view data, unsigned mode);

// Writes `data` to `tmp` then renames it over `name` (both in `dirfd`).
int writeFileAtomic(int dirfd, const char* name, const char* tmp, std::string_view data, unsigned mode);

}  // namespace ipam
