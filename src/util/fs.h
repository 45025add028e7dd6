// Files and paths. Every helper that can fail returns an Error carrying the
// errno (`e.errnum`), with Go's wording for the message: "<op> <path>:
// <errno text>" ("open /x/y: no such file or directory"), code 999; callers
// that word it their own way use e.errnum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/fd.h"

namespace util {

// ---- descriptors: the primitives the rest are made of (errno values).
// Reads `fd` to EOF, appending to `out`. 0 or an errno value; EFBIG, with
// `out` holding at most `limit` bytes, when there is more than that.
int readAll(int fd, std::string& out, size_t limit = SIZE_MAX);
// Writes all of `data`. 0 or an errno value.
int writeAll(int fd, std::string_view data);

// ---- errno texts
// strerror(err) as glibc and Go word it ("No such file or directory"), for
// any Linux errno, whichever C library is linked (util/errno_desc.cpp).
const char* errnoDesc(int err);
// errnoDesc(err) starting in lower case, as Go's syscall errors read
// ("no such file or directory").
std::string errnoText(int err);
// Go's *PathError text and errno: code 999, "<op> <path>: <errnoText(err)>".
Error pathError(std::string_view op, std::string_view path, int err);

// ---- whole files
// Reads a whole file (at most `limit` bytes; a longer one fails with EFBIG).
Error readFile(const std::string& path, std::string& out, size_t limit = static_cast<size_t>(-1));
// The *At functions work on files in cnibox's own data directories
// (`dirfd`): they never follow a symlink in `name`, never wait on a FIFO and
// touch only regular files (ELOOP, or EINVAL for a FIFO, device or socket),
// so a file planted there can neither redirect a root write nor block a DEL.
// openDataAt: `name` opened so (flags as open(2)'s), or -1 with errno set.
int openDataAt(int dirfd, const char* name, int flags, unsigned mode = 0);
// The same but following symlinks (a path the admin may point elsewhere,
// such as a lock file shared with other programs).
int openRegularAt(int dirfd, const char* name, int flags, unsigned mode = 0);
// readFile relative to `dirfd`.
Error readFileAt(int dirfd, const char* name, std::string& out, size_t limit = static_cast<size_t>(-1));
// readFileAt of `name` in the data directory `dir` (an administrator's path,
// followed as it is); errors name "<dir>/<name>", and a missing `dir` is
// ENOENT or ENOTDIR as a missing `name` is.
Error readDataFile(const std::string& dir, const std::string& name, std::string& out, size_t limit);
// Creates/truncates `name` with `mode` and writes `data`.
Error writeFileAt(int dirfd, const char* name, std::string_view data, unsigned mode, int extraFlags = 0);
// Rewrites `name` in place: pwrite at 0, then shortens it if it was longer.
// No O_TRUNC: on ext4 truncating a file with data forces a flush (~0.2 ms
// idle, milliseconds under load). For small files read whole under a lock.
Error overwriteFileAt(int dirfd, const char* name, std::string_view data, unsigned mode);
// Writes `data` to `tmp` then renames it over `name` (both in `dirfd`); the
// temporary file is removed on failure.
Error writeFileAtomicAt(int dirfd, const char* name, const char* tmp, std::string_view data, unsigned mode);
// The same for a path: the temporary file is ".<base>.tmp" beside it.
Error writeFileAtomic(const std::string& path, std::string_view data, unsigned mode);

// ---- directories and paths
// mkdir -p: makes `dir` and its missing parents with `mode`. The directories
// it made are appended to *created (outermost first) when given, so a
// caller can remove them again on a later failure.
Error mkdirAll(const std::string& dir, unsigned mode, std::vector<std::string>* created = nullptr);
// <parent>/<name> opened as a directory into `out`: the parent, an
// administrator's path, followed as it is; `name`, which comes from a config
// or the runtime, opened under the parent's descriptor with O_NOFOLLOW, so
// no symlink planted in its place and no rename between a mkdir and the open
// leads elsewhere. With `create`, a missing parent is made (mkdir -p,
// parentMode) and a missing `name` with mkdirat (mode); what it made is
// appended to *created. The error's errnum: ENOENT missing, ENOTDIR a symlink
// or not a directory, ...; its text names the path and the operation.
Error openSubdir(const std::string& parent, const std::string& name, bool create, unsigned parentMode,
                 unsigned mode, Fd& out, std::vector<std::string>* created = nullptr);
// Go's path.Clean: the shortest equivalent path ("." for empty, no trailing
// slash, "." and ".." elements resolved lexically; ".." at the root stays
// at the root).
std::string cleanPath(std::string_view p);
// Whether `path` has a ".." component ("a/../b", "..", "/x/.."), which
// could lead out of the directory it is joined to.
bool hasDotDot(std::string_view path);
// Go's path.Dir: everything up to the last slash, cleaned ("." without one).
std::string dirName(std::string_view p);
// Go's path.Base: the last element ("." for empty, "/" for only slashes).
std::string baseName(std::string_view p);
// Go's path.Join of two elements (empty ones ignored), cleaned.
std::string joinPath(std::string_view a, std::string_view b);

}  // namespace util
