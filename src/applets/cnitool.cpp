// cnitool: runs a network's plugin chain by hand, as libcni does. Not finished yet.
#include <cstdio>

#include "cni/applet.h"

namespace {
int cnitoolMain(int, char**) {
    std::fprintf(stderr, "cnitool: not finished in this version of cnibox\n");
    return 1;
}
}  // namespace

extern const cni::Applet cnitool_applet;
const cni::Applet cnitool_applet{
    .name = "cnitool",
    .summary = "runs a network's plugin chain by hand (add, check, del, gc, status)",
    .help = "Not finished in this version of cnibox.\n",
    .finished = false,
    .main = cnitoolMain,
};
