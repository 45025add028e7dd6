// src/util: Error with errno, Fd/Dir owners, the Rollback stack, Mac, the
// file and path helpers, the shared lock file; cni::containerMac,
// cni::AttachmentRecords.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "cni/mac.h"
#include "cni/records.h"
#include "helpers.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/mac.h"
#include "util/rollback.h"
#include "util/text.h"

using testutil::TmpDir;
using util::Error;

namespace {
bool fdOpen(int fd) { return fcntl(fd, F_GETFD) >= 0; }
}  // namespace

TEST_CASE("Error carries the errno and keeps it through wrap", "[util]") {
    Error e = Error::sys(util::kInternal, "failed to open x", ENOENT);
    CHECK(e.code == util::kInternal);
    CHECK(e.errnum == ENOENT);
    CHECK(e.msg == "failed to open x: No such file or directory");
    Error w = e.wrap("outer");
    CHECK(w.msg == "outer: failed to open x: No such file or directory");
    CHECK(w.errnum == ENOENT);
    CHECK(w.code == util::kInternal);
    Error plain(util::kInvalidNetConf, "bad");
    CHECK(plain.errnum == 0);
    Error tagged = Error(util::kInternal, "m").withErrno(EEXIST);
    CHECK(tagged.errnum == EEXIST);
    CHECK_FALSE(Error());
}

TEST_CASE("Fd closes what it owns, once", "[util]") {
    int raw = open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(raw >= 0);
    {
        util::Fd fd(raw);
        CHECK(fd.get() == raw);
        util::Fd moved(std::move(fd));
        CHECK_FALSE(fd.valid());
        CHECK(moved.get() == raw);
        CHECK(fdOpen(raw));
    }
    CHECK_FALSE(fdOpen(raw));
    util::Fd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int kept = a.release();
    CHECK_FALSE(a.valid());
    CHECK(fdOpen(kept));
    close(kept);
    util::Fd b(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int bfd = b.get();
    CHECK_FALSE(b.close());
    CHECK_FALSE(fdOpen(bfd));
    CHECK_FALSE(b.close());  // closing nothing is fine
}

TEST_CASE("Dir lists entries without . and .., and closes", "[util]") {
    TmpDir d;
    for (auto n : {"a", "b", "c"}) REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, (d / n).c_str(), "x", 0600));
    util::Fd dfd(open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (int round = 0; round < 2; round++) {  // twice over the same fd: each stream starts at the top
        util::Dir dir;
        REQUIRE_FALSE(util::Dir::openAt(dfd.get(), dir));
        std::set<std::string> names;
        while (auto* de = dir.next()) names.insert(de->d_name);
        CHECK(names == std::set<std::string>{"a", "b", "c"});
    }
    util::Dir missing;
    Error e = util::Dir::open("/nonexistent-cnibox", missing);
    CHECK(e.errnum == ENOENT);
}

TEST_CASE("Rollback runs its steps last first unless dismissed", "[util]") {
    std::vector<int> order;
    {
        util::Rollback undo;
        undo.defer([&] { order.push_back(1); });
        undo.defer([&] { order.push_back(2); });
        undo.defer([&] { order.push_back(3); });
        CHECK(undo.size() == 3);
    }
    CHECK(order == std::vector<int>{3, 2, 1});
    order.clear();
    {
        util::Rollback undo;
        undo.defer([&] { order.push_back(1); });
        undo.dismiss();
    }
    CHECK(order.empty());
    util::Rollback undo;
    undo.defer([&] { order.push_back(7); });
    undo.run();
    undo.run();
    CHECK(order == std::vector<int>{7});
}

TEST_CASE("Mac parses both separators and prints lowercase", "[util]") {
    auto m = util::Mac::parse("AA-bb-0C-dd-EE-0f");
    REQUIRE(m);
    CHECK(m->str() == "aa:bb:0c:dd:ee:0f");
    CHECK(util::Mac::parse("aa:bb:0c:dd:ee:0f") == m);
    for (auto bad : {"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa-bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:fg",
                     "aabb.ccdd.eeff", " aa:bb:cc:dd:ee:ff"})
        CHECK_FALSE(util::Mac::parse(bad));
    CHECK(util::normalizeMac("0A:0B:0C:0D:0E:0F") == "0a:0b:0c:0d:0e:0f");
    CHECK_FALSE(util::normalizeMac("nope"));
    for (int i = 0; i < 32; i++) {
        util::Mac r = util::Mac::random();
        CHECK((r.b[0] & 0x01) == 0);  // unicast
        CHECK((r.b[0] & 0x02) == 2);  // locally administered
    }
}

TEST_CASE("cleanPath, dirName, baseName and joinPath behave as Go's path package", "[util]") {
    struct {
        const char *in, *out;
    } clean[] = {{"", "."},         {"/", "/"},       {"a/b/../c", "a/c"}, {"/../x", "/x"},     {"../../a", "../../a"},
                 {"a/../..", ".."}, {"//a//b/", "/a/b"}, {"./", "."},      {"/a/./b/.", "/a/b"}, {"a/b/c/../../..", "."}};
    for (auto& c : clean) CHECK(util::cleanPath(c.in) == c.out);
    CHECK(util::dirName("/a/b/c") == "/a/b");
    CHECK(util::dirName("c") == ".");
    CHECK(util::dirName("/c") == "/");
    CHECK(util::baseName("/a/b/c") == "c");
    CHECK(util::baseName("/a/b/") == "b");
    CHECK(util::baseName("/") == "/");
    CHECK(util::baseName("") == ".");
    CHECK(util::joinPath("/a", "b/../c") == "/a/c");
    CHECK(util::joinPath("", "x/") == "x");
    CHECK(util::joinPath("a", "") == "a");
    CHECK(util::joinPath("", "") == "");
}

TEST_CASE("file helpers: read, write, overwrite, atomic, limits, errno", "[util]") {
    TmpDir d;
    std::string text;
    Error e = util::readFile(d / "missing", text);
    CHECK(e.errnum == ENOENT);
    CHECK(e.msg == "open " + d / "missing" + ": no such file or directory");

    REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, (d / "f").c_str(), "hello world", 0600));
    REQUIRE_FALSE(util::readFile(d / "f", text));
    CHECK(text == "hello world");
    struct stat st;
    REQUIRE(stat((d / "f").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(util::readFile(d / "f", text, 5).errnum == EFBIG);

    util::Fd dfd(open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE_FALSE(util::overwriteFileAt(dfd.get(), "f", "bye", 0600));
    REQUIRE_FALSE(util::readFileAt(dfd.get(), "f", text));
    CHECK(text == "bye");
    CHECK(util::writeFileAt(dfd.get(), "f", "x", 0600, O_EXCL).errnum == EEXIST);

    REQUIRE_FALSE(util::writeFileAtomicAt(dfd.get(), "g", ".g.tmp", "atomic", 0600));
    REQUIRE_FALSE(util::readFile(d / "g", text));
    CHECK(text == "atomic");
    CHECK(access((d / ".g.tmp").c_str(), F_OK) != 0);
    REQUIRE_FALSE(util::writeFileAtomic(d / "h", "by path", 0600));
    REQUIRE_FALSE(util::readFile(d / "h", text));
    CHECK(text == "by path");
    CHECK(access((d / ".h.tmp").c_str(), F_OK) != 0);
    // A failed rename leaves no temporary file: the target is a directory.
    REQUIRE(mkdir((d / "dir").c_str(), 0700) == 0);
    REQUIRE(util::writeFileAtomic(d / "dir", "x", 0600));
    CHECK(access((d / ".dir.tmp").c_str(), F_OK) != 0);
}

TEST_CASE("data files: never through a symlink, never waiting on a FIFO, only regular files", "[util]") {
    testutil::TmpDir dir;
    util::Fd d(::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(d);
    std::string target = dir / "target";
    REQUIRE_FALSE(util::writeFileAt(d.get(), "target", "kept", 0600));
    REQUIRE(symlink(target.c_str(), (dir / "link").c_str()) == 0);
    REQUIRE(mkfifo((dir / "fifo").c_str(), 0600) == 0);
    REQUIRE(mkdir((dir / "sub").c_str(), 0700) == 0);
    std::string text;
    // A symlink: ELOOP, and the file it names is not written.
    CHECK(util::readFileAt(d.get(), "link", text).errnum == ELOOP);
    CHECK(util::writeFileAt(d.get(), "link", "x", 0600).errnum == ELOOP);
    CHECK(util::overwriteFileAt(d.get(), "link", "x", 0600).errnum == ELOOP);
    REQUIRE_FALSE(util::readFile(target, text));
    CHECK(text == "kept");
    // A FIFO (which a blocking open would wait on) and a directory: EINVAL, at once.
    for (const char* name : {"fifo", "sub"}) {
        CAPTURE(name);
        CHECK(util::readFileAt(d.get(), name, text).errnum == EINVAL);
        CHECK(util::openDataAt(d.get(), name, O_RDONLY) == -1);
    }
    CHECK(util::writeFileAt(d.get(), "fifo", "x", 0600).errnum != 0);
    // A regular file, or a new one, is fine.
    int fd = util::openDataAt(d.get(), "new", O_RDONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) ::close(fd);
    REQUIRE_FALSE(util::readFileAt(d.get(), "target", text));
    CHECK(text == "kept");
    // readDataFile: the same, from a directory's path; errors name the file,
    // and a missing directory is ENOENT as a missing file is.
    text.clear();
    REQUIRE_FALSE(util::readDataFile(dir.path, "target", text, 64));
    CHECK(text == "kept");
    util::Error e = util::readDataFile(dir.path, "link", text, 64);
    CHECK(e.errnum == ELOOP);
    CHECK(e.msg.find(dir / "link") != std::string::npos);
    CHECK(util::readDataFile(dir.path, "fifo", text, 64).errnum == EINVAL);
    CHECK(util::readDataFile(dir.path, "missing", text, 64).errnum == ENOENT);
    CHECK(util::readDataFile(dir / "missing", "target", text, 64).errnum == ENOENT);
    CHECK(util::readDataFile(target, "x", text, 64).errnum == ENOTDIR);
    CHECK(util::readDataFile(dir.path, "target", text, 3).errnum == EFBIG);
}

TEST_CASE("mkdirAll makes parents, reports what it made, and fails with the errno", "[util]") {
    TmpDir d;
    std::vector<std::string> made;
    REQUIRE_FALSE(util::mkdirAll(d / "a/b//c", 0700, &made));
    CHECK(made == std::vector<std::string>{d / "a", d / "a/b", d / "a/b//c"});
    made.clear();
    REQUIRE_FALSE(util::mkdirAll(d / "a/b/c", 0700, &made));
    CHECK(made.empty());
    REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, (d / "file").c_str(), "", 0600));
    Error e = util::mkdirAll(d / "file/sub", 0700);
    CHECK(e.errnum == ENOTDIR);
    CHECK(e.msg == "mkdir " + d / "file/sub" + ": not a directory");
}

TEST_CASE("openSubdir makes and opens <parent>/<name>, never through a symlink at name", "[util]") {
    TmpDir d;
    util::Fd fd;
    std::vector<std::string> made;
    Error e = util::openSubdir(d / "p/q", "net", false, 0700, 0700, fd);
    CHECK(e.errnum == ENOENT);
    CHECK(e.msg == "open " + d / "p/q" + ": no such file or directory");
    REQUIRE_FALSE(util::openSubdir(d / "p/q", "net", true, 0711, 0700, fd, &made));
    CHECK(made == std::vector<std::string>{d / "p", d / "p/q", d / "p/q/net"});
    struct stat st;
    REQUIRE(fstat(fd.get(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(stat((d / "p/q").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0711);
    made.clear();
    REQUIRE_FALSE(util::openSubdir(d / "p/q", "net", true, 0700, 0700, fd, &made));
    CHECK(made.empty());
    // a symlink in name's place, to a directory: refused (ENOTDIR, as O_DIRECTORY
    // with O_NOFOLLOW answers for a symlink), not made
    REQUIRE(mkdir((d / "elsewhere").c_str(), 0700) == 0);
    REQUIRE(symlink((d / "elsewhere").c_str(), (d / "p/q/link").c_str()) == 0);
    e = util::openSubdir(d / "p/q", "link", true, 0700, 0700, fd);
    CHECK(e.errnum == ENOTDIR);
    CHECK(e.msg.starts_with("open " + d / "p/q/link" + ": "));
    CHECK_FALSE(fd);
    // a file there: ENOTDIR; a symlinked parent is the admin's and followed
    REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, (d / "p/q/file").c_str(), "", 0600));
    CHECK(util::openSubdir(d / "p/q", "file", true, 0700, 0700, fd).errnum == ENOTDIR);
    REQUIRE(symlink((d / "p/q").c_str(), (d / "plink").c_str()) == 0);
    REQUIRE_FALSE(util::openSubdir(d / "plink", "net", false, 0700, 0700, fd));
}

TEST_CASE("text helpers", "[util]") {
    CHECK(util::trimSpace(" \t a b \r\n") == "a b");
    CHECK(util::trimSpace("   ").empty());
    using V = std::vector<std::string_view>;
    CHECK(util::splitOn("", '\n').empty());
    CHECK(util::splitOn("a\n", '\n') == V{"a"});
    CHECK(util::splitOn("a\n\nb", '\n') == V{"a", "", "b"});
    CHECK(util::splitOn("/x//y/", '/') == V{"", "x", "", "y"});
    CHECK(util::quoted("x y") == "\"x y\"");
}

TEST_CASE("SharedFileLock counts holders, waits, times out with code 11", "[util]") {
    TmpDir d;
    std::string path = d / "sub/test.lock";
    REQUIRE(setenv("CNIBOX_TEST_LOCK", path.c_str(), 1) == 0);
    REQUIRE(setenv("CNIBOX_TEST_LOCK_WAIT", "0.2", 1) == 0);
    util::SharedFileLock lock({.label = "test lock", .defaultPath = "/nonexistent/x.lock", .pathEnv = "CNIBOX_TEST_LOCK",
                               .waitEnv = "CNIBOX_TEST_LOCK_WAIT", .defaultWaitMs = 30000});
    CHECK(lock.path() == path);
    CHECK(lock.waitMs() == 200);
    {
        util::SharedFileLock::Hold a, b;
        REQUIRE_FALSE(lock.acquire(a));  // makes sub/
        REQUIRE_FALSE(lock.acquire(b));
        CHECK(lock.holders() == 2);
        // Another process cannot take it while we hold it.
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
            _exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK ? 0 : 1);
        }
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
        a.reset();
        CHECK(lock.holders() == 1);
    }
    CHECK(lock.holders() == 0);
    // Held elsewhere (another open file description): times out with code 11.
    int other = open(path.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(flock(other, LOCK_EX) == 0);
    util::SharedFileLock::Hold h;
    Error e = lock.acquire(h);
    CHECK(e.code == util::kTryAgainLater);
    CHECK(e.msg == "test lock held by another process (" + path + ")");
    CHECK_FALSE(h.held());
    close(other);
    CHECK_FALSE(lock.acquire(h));
    CHECK(h.held());
    unsetenv("CNIBOX_TEST_LOCK");
    unsetenv("CNIBOX_TEST_LOCK_WAIT");
}

TEST_CASE("SharedFileLock: a FIFO at the lock's path fails at once", "[util]") {
    TmpDir d;
    std::string path = d / "fifo.lock";
    REQUIRE(mkfifo(path.c_str(), 0600) == 0);
    REQUIRE(setenv("CNIBOX_TEST_FIFO_LOCK", path.c_str(), 1) == 0);
    util::SharedFileLock lock({.label = "test lock", .defaultPath = "/nonexistent/x.lock",
                               .pathEnv = "CNIBOX_TEST_FIFO_LOCK", .waitEnv = "CNIBOX_TEST_LOCK_WAIT",
                               .defaultWaitMs = 30000});
    util::SharedFileLock::Hold h;
    auto e = lock.acquire(h);
    CHECK(e.errnum == EINVAL);
    CHECK(e.text().find("is not a regular file") != std::string::npos);
    CHECK(lock.holders() == 0);
}

TEST_CASE("containerMac: config < CNI_ARGS < args.cni < runtimeConfig, each validated", "[cni]") {
    using testutil::cmdArgs;
    std::string mac;
    auto conf = [](std::string extra) {
        return R"({"cniVersion":"1.0.0","name":"n","type":"x")" + extra + "}";
    };
    REQUIRE_FALSE(cni::containerMac(cmdArgs(conf("")), "", mac));
    CHECK(mac.empty());
    REQUIRE_FALSE(cni::containerMac(cmdArgs(conf("")), "AA:BB:CC:DD:EE:01", mac));
    CHECK(mac == "aa:bb:cc:dd:ee:01");
    auto withEnv = cmdArgs(conf(""), cni::Command::Add, {{"CNI_ARGS", "MAC=aa-bb-cc-dd-ee-02"}});
    REQUIRE_FALSE(cni::containerMac(withEnv, "aa:bb:cc:dd:ee:01", mac));
    CHECK(mac == "aa:bb:cc:dd:ee:02");
    auto withArgs = cmdArgs(conf(R"(,"args":{"cni":{"mac":"aa:bb:cc:dd:ee:03"}})"), cni::Command::Add,
                            {{"CNI_ARGS", "MAC=aa-bb-cc-dd-ee-02"}});
    REQUIRE_FALSE(cni::containerMac(withArgs, "", mac));
    CHECK(mac == "aa:bb:cc:dd:ee:03");
    auto all = cmdArgs(conf(R"(,"args":{"cni":{"mac":"aa:bb:cc:dd:ee:03"}},"runtimeConfig":{"mac":"aa:bb:cc:dd:ee:04"})"));
    REQUIRE_FALSE(cni::containerMac(all, "", mac));
    CHECK(mac == "aa:bb:cc:dd:ee:04");
    // An empty one overrides nothing.
    auto empty = cmdArgs(conf(R"(,"runtimeConfig":{"mac":""})"));
    REQUIRE_FALSE(cni::containerMac(empty, "aa:bb:cc:dd:ee:01", mac));
    CHECK(mac == "aa:bb:cc:dd:ee:01");
    Error e = cni::containerMac(cmdArgs(conf(R"(,"runtimeConfig":{"mac":"zz"})")), "", mac);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "invalid MAC address \"zz\" in runtimeConfig.mac");
    e = cni::containerMac(cmdArgs(conf(R"(,"args":{"cni":{"mac":5}})")), "", mac);
    CHECK(e.msg == "args.cni.mac must be a string");
    e = cni::containerMac(cmdArgs(conf("")), "bad", mac);
    CHECK(e.msg == "invalid MAC address \"bad\" in mac");
    e = cni::containerMac(cmdArgs(conf(""), cni::Command::Add, {{"CNI_ARGS", "MAC=1"}}), "", mac);
    CHECK(e.msg == "invalid MAC address \"1\" in CNI_ARGS");
}

TEST_CASE("readAll stops at its limit with EFBIG", "[util]") {
    int p[2];
    REQUIRE(pipe(p) == 0);
    std::string data(100000, 'x');
    REQUIRE(util::writeAll(p[1], data.substr(0, 60000)) == 0);
    close(p[1]);
    std::string out;
    CHECK(util::readAll(p[0], out, 50000) == EFBIG);
    CHECK(out.size() <= 50000);
    close(p[0]);
    REQUIRE(pipe(p) == 0);
    REQUIRE(util::writeAll(p[1], data.substr(0, 50000)) == 0);
    close(p[1]);
    out.clear();
    CHECK(util::readAll(p[0], out, 50000) == 0);  // exactly the limit is allowed
    CHECK(out.size() == 50000);
    close(p[0]);
}

TEST_CASE("hasDotDot finds a '..' component, not a name with dots", "[util]") {
    for (const char* p : {"..", "/..", "../a", "a/..", "/a/../b", "a//../b", "/x/.."}) {
        INFO(p);
        CHECK(util::hasDotDot(p));
    }
    for (const char* p : {"", "/", ".", "/a/b", "...", "/a/..b", "/a/b..", "/.../x", "./a"}) {
        INFO(p);
        CHECK_FALSE(util::hasDotDot(p));
    }
}

TEST_CASE("AttachmentRecords: written before, read by DEL, listed for GC", "[util]") {
    TmpDir d;
    cni::AttachmentRecords r(d.path + "/data", "net1");
    cni::Attachment a{"ctr1", "eth0"}, b{"ctr2", "net1"};
    cni::AttachmentRecords::Fields f;
    CHECK_FALSE(r.read(a, f));
    CHECK(r.notIn({}).empty());                       // no directory yet
    REQUIRE_FALSE(r.write(a, {{"ip", "10.0.0.2"}, {"ip", "fd00::2"}}));
    REQUIRE_FALSE(r.write(b, {}));
    struct stat st;
    REQUIRE(stat((d.path + "/data/net1").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(stat((d.path + "/data/net1/ctr1-eth0").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    REQUIRE(r.read(a, f));
    CHECK(f == cni::AttachmentRecords::Fields{{"ip", "10.0.0.2"}, {"ip", "fd00::2"}});
    // GC: the attachments that are not valid, a write killed half-way removed
    REQUIRE_FALSE(util::writeFileAtomic(d.path + "/data/net1/ctr3-eth0.tmp", "containerID ctr3\n", 0600));
    REQUIRE_FALSE(util::writeFileAtomic(d.path + "/data/net1/ctr1-eth0.tmp", "containerID ctr1\n", 0600));
    REQUIRE_FALSE(util::writeFileAtomic(d.path + "/data/net1/garbage", "not a record", 0600));
    auto stale = r.notIn({a});
    REQUIRE(stale.size() == 1);
    CHECK(stale[0].first == b);
    CHECK(access((d.path + "/data/net1/ctr3-eth0.tmp").c_str(), F_OK) != 0);
    CHECK(access((d.path + "/data/net1/ctr1-eth0.tmp").c_str(), F_OK) == 0);   // a valid one's: kept
    r.remove(a);
    CHECK_FALSE(r.read(a, f));
    CHECK(access((d.path + "/data/net1/ctr1-eth0.tmp").c_str(), F_OK) != 0);
    // a record under another attachment's name is not that attachment's
    REQUIRE_FALSE(r.write(a, {}));
    REQUIRE(rename((d.path + "/data/net1/ctr1-eth0").c_str(), (d.path + "/data/net1/ctr9-eth0").c_str()) == 0);
    CHECK_FALSE(r.read(cni::Attachment{"ctr9", "eth0"}, f));
    // the network's directory a symlink: no record written, read or removed through it
    cni::AttachmentRecords other(d.path + "/data", "net2");
    REQUIRE(mkdir((d.path + "/target").c_str(), 0700) == 0);
    REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, (d.path + "/target/ctr1-eth0").c_str(), "containerID ctr1\nifname eth0\n", 0600));
    REQUIRE(symlink((d.path + "/target").c_str(), (d.path + "/data/net2").c_str()) == 0);
    CHECK(other.write(a, {}).errnum == ENOTDIR);
    CHECK_FALSE(other.read(a, f));
    CHECK(other.notIn({}).empty());
    other.remove(a);
    CHECK(access((d.path + "/target/ctr1-eth0").c_str(), F_OK) == 0);
    CHECK(lstat((d.path + "/data/net2").c_str(), &st) == 0);   // the symlink: not removed either
    CHECK(S_ISLNK(st.st_mode));
}

TEST_CASE("AttachmentRecords::elsewhere: another network's record of the same container", "[util]") {
    TmpDir d;
    const std::string data = d.path + "/data";
    cni::AttachmentRecords net1(data, "net1"), net2(data, "net2");
    CHECK_FALSE(net1.elsewhere("ctr1"));                        // no data directory yet
    REQUIRE_FALSE(net1.write({"ctr1", "eth0"}, {}));
    CHECK_FALSE(net1.elsewhere("ctr1"));                        // its own network is not elsewhere
    // IDs may hold '-': ctr1-b's record (ifname eth0) is not ctr1's
    REQUIRE_FALSE(net2.write({"ctr1-b", "eth0"}, {}));
    CHECK_FALSE(net1.elsewhere("ctr1"));
    CHECK(net1.elsewhere("ctr1-b"));
    // a write killed half-way came before any state: not a record
    REQUIRE_FALSE(util::writeFileAtomic(data + "/net2/ctr1-eth0.tmp", "containerID ctr1\nifname eth0\n", 0600));
    CHECK_FALSE(net1.elsewhere("ctr1"));
    // a file under another attachment's name is read for what it names
    REQUIRE_FALSE(util::writeFileAtomic(data + "/net2/ctr1-net9", "containerID ctr1-x\nifname net9\n", 0600));
    CHECK_FALSE(net1.elsewhere("ctr1"));
    // a network directory that is a symlink, and a plain file: not followed, skipped
    REQUIRE(mkdir((d.path + "/target").c_str(), 0700) == 0);
    REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, (d.path + "/target/ctr1-eth0").c_str(), "containerID ctr1\nifname eth0\n", 0600));
    REQUIRE(symlink((d.path + "/target").c_str(), (data + "/net3").c_str()) == 0);
    REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, (data + "/lock").c_str(), "", 0600));
    CHECK_FALSE(net1.elsewhere("ctr1"));
    // ctr1's record in net2: elsewhere
    REQUIRE_FALSE(net2.write({"ctr1", "net1"}, {}));
    CHECK(net1.elsewhere("ctr1"));
    CHECK_FALSE(net2.elsewhere("ctr1-b"));
}

TEST_CASE("AttachmentRecords: the network's directory goes with its last record", "[util]") {
    TmpDir d;
    cni::AttachmentRecords r(d.path + "/data", "net1");
    cni::Attachment a{"ctr1", "eth0"}, b{"ctr2", "eth0"};
    const std::string dir = d.path + "/data/net1";
    REQUIRE_FALSE(r.write(a, {}));
    REQUIRE_FALSE(r.write(b, {}));
    r.remove(a);
    CHECK(access(dir.c_str(), F_OK) == 0);      // b's record still in it
    r.remove(b);
    CHECK(access(dir.c_str(), F_OK) != 0);      // empty: gone
    CHECK(access((d.path + "/data").c_str(), F_OK) == 0);   // dataDir itself stays
    r.remove(b);                                // again: nothing to do
    cni::AttachmentRecords::Fields f;
    REQUIRE_FALSE(r.write(a, {{"k", "v"}}));    // made again
    REQUIRE(r.read(a, f));
    CHECK(f == cni::AttachmentRecords::Fields{{"k", "v"}});
    // a file that is not a record keeps the directory
    REQUIRE_FALSE(util::writeFileAtomic(dir + "/admin-note", "x", 0600));
    r.remove(a);
    CHECK(access(dir.c_str(), F_OK) == 0);
}

TEST_CASE("ackErrno: a netlink ack's error field, or EIO for one no kernel sends", "[util]") {
    CHECK(util::ackErrno(0) == 0);
    CHECK(util::ackErrno(-EEXIST) == EEXIST);
    CHECK(util::ackErrno(-4095) == 4095);
    CHECK(util::ackErrno(-4096) == EIO);
    CHECK(util::ackErrno(INT_MIN) == EIO);
    CHECK(util::ackErrno(17) == EIO);
}
