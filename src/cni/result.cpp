// Result parsing and printing in every spec version. The model is the 1.1.0
// shape; the per-version writers apply upstream's conversion rules
// (pkg/types/{020,040,100}) on the way out.
#include "cni/result.h"

#include <rapidjson/document.h>

#include "cni/gojson.h"
#include "cni/json.h"

namespace cni {

namespace {

using json::Value;

// Readers report config errors as code 7; inside a result they are decode errors.
Error decodeErr(Error e, std::string_view where) {
    e.code = kDecodeFailure;
    if (!where.empty()) e.msg = std::string(where) + ": " + e.msg;
    return e;
}

Error parseAddress(const Value& obj, std::string_view key, std::string_view where, util::IPNet& out) {
    std::optional<util::IPNet> n;
    if (auto e = json::getIPNet(obj, key, n)) return decodeErr(e, where);
    if (!n) return Error(kDecodeFailure, std::string(where) + ": missing " + gojson::quote(key));
    out = *n;
    return {};
}

Error parse020(const Value& doc, Result& r) {
    std::vector<Route> routes;
    for (const char* key : {"ip4", "ip6"}) {
        const Value* v = json::get(doc, key);
        if (!v) continue;
        if (!v->IsObject()) return Error(kDecodeFailure, std::string(key) + ": expected an object, got " + json::typeName(*v));
        IPConfig ip;
        if (auto e = parseAddress(*v, "ip", key, ip.address)) return e;
        if (auto e = json::getIP(*v, "gateway", ip.gateway)) return decodeErr(e, key);
        std::vector<Route> rs;
        if (auto e = json::getRoutes(*v, "routes", rs)) return decodeErr(e, key);
        routes.insert(routes.end(), rs.begin(), rs.end());
        r.ips.push_back(std::move(ip));
    }
    r.routes = std::move(routes);
    return {};
}

Error parseInterfaces(const Value& doc, bool v1, Result& r) {
    const Value* v = json::get(doc, "interfaces");
    if (!v) return {};
    if (!v->IsArray()) return Error(kDecodeFailure, std::string("interfaces: expected a list, got ") + json::typeName(*v));
    for (const auto& iv : v->GetArray()) {
        if (!iv.IsObject()) return Error(kDecodeFailure, std::string("interfaces: expected objects, got ") + json::typeName(iv));
        Interface i;
        if (auto e = json::getString(iv, "name", i.name)) return decodeErr(e, "interfaces");
        if (auto e = json::getString(iv, "mac", i.mac)) return decodeErr(e, "interfaces");
        if (auto e = json::getString(iv, "sandbox", i.sandbox)) return decodeErr(e, "interfaces");
        if (v1) {
            if (auto e = json::getInt(iv, "mtu", i.mtu)) return decodeErr(e, "interfaces");
            if (auto e = json::getString(iv, "socketPath", i.socketPath)) return decodeErr(e, "interfaces");
            if (auto e = json::getString(iv, "pciID", i.pciID)) return decodeErr(e, "interfaces");
        }
        r.interfaces.push_back(std::move(i));
    }
    return {};
}

Error parseIPs(const Value& doc, bool v04, Result& r) {
    const Value* v = json::get(doc, "ips");
    if (!v) return {};
    if (!v->IsArray()) return Error(kDecodeFailure, std::string("ips: expected a list, got ") + json::typeName(*v));
    for (const auto& iv : v->GetArray()) {
        if (!iv.IsObject()) return Error(kDecodeFailure, std::string("ips: expected objects, got ") + json::typeName(iv));
        IPConfig ip;
        if (v04) {
            // "version" is recomputed from the address when printing.
            std::string ver;
            if (auto e = json::getString(iv, "version", ver)) return decodeErr(e, "ips");
        }
        if (json::get(iv, "interface")) {
            int n = 0;
            if (auto e = json::getInt(iv, "interface", n)) return decodeErr(e, "ips");
            ip.interface = n;
        }
        if (auto e = parseAddress(iv, "address", "ips", ip.address)) return e;
        if (auto e = json::getIP(iv, "gateway", ip.gateway)) return decodeErr(e, "ips");
        r.ips.push_back(std::move(ip));
    }
    return {};
}

void writeRoute(gojson::Writer& w, const Route& rt, bool full) {
    w.beginObject().member("dst", rt.dst.str());
    if (rt.gw) w.member("gw", rt.gw->str());
    if (full) {
        if (rt.mtu) w.member("mtu", rt.mtu);
        if (rt.advmss) w.member("advmss", rt.advmss);
        if (rt.priority) w.member("priority", rt.priority);
        if (rt.table) w.member("table", *rt.table);
        if (rt.scope) w.member("scope", *rt.scope);
    }
    w.endObject();
}

void writeDNS(gojson::Writer& w, const DNS& d) {
    w.key("dns").beginObject();
    if (!d.nameservers.empty()) w.stringList("nameservers", d.nameservers);
    if (!d.domain.empty()) w.member("domain", d.domain);
    if (!d.search.empty()) w.stringList("search", d.search);
    if (!d.options.empty()) w.stringList("options", d.options);
    w.endObject();
}

Error print020(const Result& r, Family src, std::string_view version, std::string& out) {
    const IPConfig* ip4 = nullptr;
    const IPConfig* ip6 = nullptr;
    for (const auto& ip : r.ips) {
        if (ip.address.ip.is4() && !ip4) ip4 = &ip;
        else if (ip.address.ip.is6() && !ip6) ip6 = &ip;
        if (ip4 && ip6) break;
    }
    // Only a conversion from 0.3.0+ demands an address; 0.1.0 <-> 0.2.0 is a copy.
    if (!ip4 && !ip6 && src != Family::f020) return Error(kInternal, "cannot convert: no valid IP addresses");
    // Routes of 0.1.0/0.2.0 results are copied whole; converted ones keep dst and gw.
    bool full = src == Family::f020;
    gojson::Writer w;
    w.beginObject().member("cniVersion", version);
    for (const IPConfig* ip : {ip4, ip6}) {
        if (!ip) continue;
        bool want4 = ip == ip4;
        w.key(want4 ? "ip4" : "ip6").beginObject().member("ip", ip->address.str());
        if (ip->gateway) w.member("gateway", ip->gateway->str());
        bool any = false;
        for (const auto& rt : r.routes) {
            if (rt.dst.ip.is4() != want4) continue;
            if (!any) w.key("routes").beginArray();
            any = true;
            writeRoute(w, rt, full);
        }
        if (any) w.endArray();
        w.endObject();
    }
    writeDNS(w, r.dns);
    out = w.endObject().take();
    return {};
}

void printCurrent(const Result& r, Ver target, std::string& out) {
    bool v1 = family(target) == Family::f100;
    gojson::Writer w;
    w.beginObject().member("cniVersion", str(target));
    if (!r.interfaces.empty()) {
        w.key("interfaces").beginArray();
        for (const auto& i : r.interfaces) {
            w.beginObject().member("name", i.name);
            if (!i.mac.empty()) w.member("mac", i.mac);
            if (v1 && i.mtu) w.member("mtu", i.mtu);
            if (!i.sandbox.empty()) w.member("sandbox", i.sandbox);
            if (v1 && !i.socketPath.empty()) w.member("socketPath", i.socketPath);
            if (v1 && !i.pciID.empty()) w.member("pciID", i.pciID);
            w.endObject();
        }
        w.endArray();
    }
    if (!r.ips.empty()) {
        w.key("ips").beginArray();
        for (const auto& ip : r.ips) {
            w.beginObject();
            if (!v1) w.member("version", ip.address.ip.is4() ? "4" : "6");
            if (ip.interface) w.member("interface", *ip.interface);
            w.member("address", ip.address.str());
            if (ip.gateway) w.member("gateway", ip.gateway->str());
            w.endObject();
        }
        w.endArray();
    }
    if (!r.routes.empty()) {
        w.key("routes").beginArray();
        for (const auto& rt : r.routes) writeRoute(w, rt, true);
        w.endArray();
    }
    // 0.3.0..1.0.0 always print "dns" ({} when empty, as the reference
    // plugins do); 1.1.0 omits an empty one, as the current library does.
    if (target != Ver::v110 || !r.dns.empty()) writeDNS(w, r.dns);
    out = w.endObject().take();
}

}  // namespace

Error parseResult(std::string_view text, std::string_view fallbackVersion, Result& out) {
    rapidjson::Document doc;
    if (auto e = json::parseDocument(text, doc)) {
        e.msg = "failed to parse result: " + e.msg;
        return e;
    }
    return json::parseResult(doc, fallbackVersion, out);
}

Error json::parseResult(const Value& doc, std::string_view fallbackVersion, Result& out) {
    if (!doc.IsObject() && !doc.IsNull())
        return Error(kDecodeFailure, std::string("failed to parse result: expected a JSON object, got ") + json::typeName(doc));
    std::string version;
    if (const Value* v = json::get(doc, "cniVersion")) {
        if (!v->IsString())
            return Error(kDecodeFailure, std::string("failed to parse result: cniVersion: expected a string, got ") +
                                             json::typeName(*v));
        version.assign(v->GetString(), v->GetStringLength());
    }
    if (version.empty()) version = fallbackVersion;
    if (version.empty()) version = "0.1.0";
    auto ver = parseVersion(version);
    if (!ver) return Error(kIncompatibleVersion, "unsupported CNI result version " + gojson::quote(version));

    Result r;
    r.cniVersion = version;
    Family f = family(*ver);
    if (f == Family::f020) {
        if (auto e = parse020(doc, r)) return e;
    } else {
        if (auto e = parseInterfaces(doc, f == Family::f100, r)) return e;
        if (auto e = parseIPs(doc, f == Family::f040, r)) return e;
        if (auto e = json::getRoutes(doc, "routes", r.routes)) return decodeErr(e, "");
    }
    if (auto e = json::getDNS(doc, "dns", r.dns)) return decodeErr(e, "");
    out = std::move(r);
    return {};
}

std::string routeJson(const Route& r) {
    gojson::Writer w(0);
    writeRoute(w, r, true);
    return w.take();
}

Error printResult(const Result& r, std::string_view version, std::string& out) {
    std::string_view from = r.cniVersion.empty() ? str(kCurrent) : std::string_view(r.cniVersion);
    if (version.empty()) version = "0.1.0";
    auto src = parseVersion(from);
    auto dst = parseVersion(version);
    if (!src || !dst)
        return Error(kIncompatibleVersion,
                     "no converter for CNI result version " + std::string(from) + " to " + std::string(version));
    if (family(*dst) == Family::f020) return print020(r, family(*src), version, out);
    printCurrent(r, *dst, out);
    return {};
}

Error convertResult(const Result& r, std::string_view version, Result& out) {
    std::string text;
    if (auto e = printResult(r, version, text)) return e;
    return parseResult(text, version, out);
}

}  // namespace cni
