// The CNI layer's name for util::Error (src/util/error.h) and its codes, and
// the spec's error JSON.
#pragma once

#include <string>

#include "util/error.h"

namespace cni {

using util::Code;
using util::Error;
using enum util::Code;

// The spec's error JSON: {"code":N,"msg":"...","details":"..."} (details
// omitted when empty), indented like upstream's output.
std::string errorJson(const Error& e);

}  // namespace cni
