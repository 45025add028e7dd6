// Delegation to another plugin (IPAM, or any chained type): found via
// CNI_PATH; when the hit is this very executable (same device+inode as
// /proc/self/exe) and the type names one of our applets, it runs in-process
// through the same parse/dispatch path; otherwise it is fork/exec'd with the
// same environment (CNI_COMMAND overridden) and the full config on stdin.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"

namespace cni {

// ADD: the delegate's result, parsed (in conf.cniVersion) into the model.
Error delegateAdd(const CmdArgs& a, std::string_view type, Result& out);
// DEL, CHECK, GC, STATUS: no output expected.
Error delegate(const CmdArgs& a, Command cmd, std::string_view type);

// In-process delegation needs the applet registry, which lives above this
// layer: main installs the lookup (type -> a finished plugin of this binary,
// or nullptr). Without one, every delegate is exec'd.
using InProcessLookup = const Plugin* (*)(std::string_view type);
void setInProcessLookup(InProcessLookup lookup);

// The IPAM helpers most applets want: type = conf.ipamType.
inline Error ipamAdd(const CmdArgs& a, Result& out) { return delegateAdd(a, a.conf.ipamType, out); }
inline Error ipamDel(const CmdArgs& a) { return delegate(a, Command::Del, a.conf.ipamType); }
inline Error ipamCheck(const CmdArgs& a) { return delegate(a, Command::Check, a.conf.ipamType); }
inline Error ipamGC(const CmdArgs& a) { return delegate(a, Command::GC, a.conf.ipamType); }
inline Error ipamStatus(const CmdArgs& a) { return delegate(a, Command::Status, a.conf.ipamType); }

// Finds `type` in the ':'-separated `path`: the first regular file (as upstream;
// the exec bit is not checked, so a non-executable hit fails at exec).
// Empty string when not found.
std::string findInPath(std::string_view type, std::string_view path);
// The same with upstream's FindInPath errors (empty type, a type with a
// path separator, an empty path, not found).
Error findPlugin(std::string_view type, std::string_view path, std::string& file);

// This process's environment ("K=V" strings) without the CNI_* variables a
// plugin call sets itself (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
// CNI_IFNAME, CNI_ARGS, CNI_PATH, and CNI_NETNS_OVERRIDE unless kept): the
// base of a delegate's or a chained plugin's environment.
std::vector<std::string> environWithoutCni(bool keepNetnsOverride = false);

// Runs `file` as upstream's RawExec does: `env` ("K=V" strings) is its whole
// environment and `stdinData` its stdin; "text file busy" is retried; on
// success `out` holds its stdout and its stderr is passed through; on
// failure the error it printed on stdout (else its stderr and exit status).
Error execFile(const std::string& file, const std::vector<std::string>& env, std::string_view stdinData,
               std::string& out);

}  // namespace cni
