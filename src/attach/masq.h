// The masquerading of the applets that route a container's traffic out
// (bridge, ptp): set up in an ADD with its teardown registered as an undo
// step, and the STATUS and GC verbs that go with it.
#pragma once

#include <optional>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "netfilter/netfilter.h"
#include "util/rollback.h"

namespace attach {

using cni::Error;

// ADD: what the result's addresses send outside their subnets is
// masqueraded (nf::ipmasq::setup with `backend`); its teardown is deferred
// on `undo` before the setup runs, so a setup that fails halfway goes too.
Error masquerade(const cni::CmdArgs& a, std::optional<nf::Backend> backend, const cni::Result& res,
                 util::Rollback& undo);

// STATUS: IPAM STATUS (when the config has a type), then with `ipMasq` a
// usable backend (code 50). GC (only with an IPAM type): passed to the IPAM
// plugin, then the masquerading of the network's attachments not in
// cni.dev/valid-attachments goes from both backends, whatever ipMasq says
// now (an earlier config of the network may have had it).
Error masqStatus(const cni::CmdArgs& a, bool ipMasq, std::optional<nf::Backend> backend);
Error masqGC(const cni::CmdArgs& a);

// Those two as verbs: the config parsed by Parse(args, strict, conf) (strict
// for STATUS) into a Conf with ipMasq and masqBackend.
template <class Conf, Error (*Parse)(const cni::CmdArgs&, bool, Conf&)>
struct MasqVerbs {
    static Error status(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, true, c)) return e;
        return masqStatus(a, c.ipMasq, c.masqBackend);
    }
    static Error gc(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, false, c)) return e;
        return masqGC(a);
    }
    // The applet's verbs with its own ADD, DEL, CHECK (and STATUS).
    using Verb = Error (*)(const cni::CmdArgs&);
    static constexpr cni::Plugin plugin(Error (*add)(const cni::CmdArgs&, cni::Result&), Verb del, Verb check,
                                        Verb st = status) {
        return {.add = add, .del = del, .check = check, .gc = gc, .status = st};
    }
};

}  // namespace attach
