#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

int main(int argc, char** argv) {
    // The delegation tests link this binary under an applet name to exercise
    // in-process delegation. Should it ever be exec'd that way instead, it
    // answers as a failing plugin rather than running the suite again.
    std::string_view self = argc > 0 ? argv[0] : "";
    if (auto s = self.rfind('/'); s != std::string_view::npos) self.remove_prefix(s + 1);
    if (self != "unit_tests" && std::getenv("CNI_COMMAND")) {
        std::printf("{\"code\":999,\"msg\":\"unit_tests was exec'd as a plugin\"}");
        return 1;
    }
    return Catch::Session().run(argc, argv);
}
