// Random bytes from the kernel.
#pragma once

#include <cstddef>

namespace util {

// Fills `buf` with random bytes (getrandom; aborts when the kernel has no
// entropy source at all).
void randomBytes(void* buf, size_t n);

}  // namespace util
