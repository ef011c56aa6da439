// The ssh reference against a real OpenSSH server on 127.0.0.1: each test starts sshd
// (openssh-server, installed by scripts/setup) as a non-daemon child on a free port, with a
// host key, a user key and an authorized_keys made here by ssh-keygen in a temporary folder,
// and logs in as the current user (root in CI). Label "ssh" (ctest -L ssh). Without sshd,
// ssh-keygen or the ssh client the tests fail and say what to install.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/scratch_test.h"
#include "tests/support/script_artifact.h"
#include "simtune/build.h"
#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/strings.h"
#include "simtune/target.h"

extern char** environ;

namespace simtune {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* kSshd = "/usr/sbin/sshd";

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(s);
  return port;
}

bool Accepts(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

// Children of `pid`, from /proc.
std::vector<pid_t> Children(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(line.substr(close_paren + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back(std::stoi(name));
  }
  return out;
}

// Every process below `pid` (sshd's connections and what they run), children first found.
std::vector<pid_t> Descendants(pid_t pid) {
  std::vector<pid_t> out = Children(pid);
  for (size_t i = 0; i < out.size(); ++i) {
    auto more = Children(out[i]);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

class SshTest : public testing_support::ScratchTest {
 protected:
  SshTest() : ScratchTest("simtune_ssh_") {}

  void SetUp() override {
    ScratchTest::SetUp();
    target_.name = "x86_64-host";
    target_.isa = "x86_64";
    target_.os = "linux";
  }

  void TearDown() override {
    RestoreTmpdir();
    StopSshd();
    ScratchTest::TearDown();
  }

  // Starts sshd (also on ::1 with ipv6); false (with a test failure that says what is
  // missing) when it cannot.
  bool StartSshd(bool ipv6 = false) {
    for (const char* tool : {"ssh", "scp", "ssh-keygen"}) {
      if (!ProgramExists(tool)) {
        ADD_FAILURE() << tool << " not found; install openssh-client (scripts/setup does)";
        return false;
      }
    }
    if (!fs::exists(kSshd)) {
      ADD_FAILURE() << kSshd << " not found; install openssh-server (scripts/setup does)";
      return false;
    }
    for (const char* key : {"host_key", "user_key"}) {
      auto r = RunProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "simtune-test",
                           "-f", (dir_ / key).string()});
      if (!r.ok() || !r->Success()) {
        ADD_FAILURE() << "ssh-keygen failed: " << (r.ok() ? r->err : r.message());
        return false;
      }
    }
    fs::copy_file(dir_ / "user_key.pub", dir_ / "authorized_keys");
    // As root, sshd wants its privilege-separation folder.
    if (geteuid() == 0) fs::create_directories("/run/sshd");
    struct passwd* pw = getpwuid(getuid());
    user_ = pw ? pw->pw_name : "root";
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      std::ofstream(dir_ / "sshd_config")
          << "Port " << port_ << "\n"
          << "ListenAddress 127.0.0.1\n"
          << (ipv6 ? "ListenAddress ::1\n" : "")
          << "HostKey " << (dir_ / "host_key").string() << "\n"
          << "AuthorizedKeysFile " << (dir_ / "authorized_keys").string() << "\n"
          << "PidFile none\n"
          << "StrictModes no\n"
          << "PermitRootLogin prohibit-password\n"
          << "PubkeyAuthentication yes\n"
          << "PasswordAuthentication no\n"
          << "KbdInteractiveAuthentication no\n"
          << "UsePAM no\n"
          << "Subsystem sftp internal-sftp\n"
          << "LogLevel ERROR\n";
      std::string config = (dir_ / "sshd_config").string();
      std::string log = (dir_ / "sshd.log").string();
      std::vector<std::string> args = {kSshd, "-D", "-f", config, "-E", log};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      if (posix_spawn(&sshd_, kSshd, nullptr, nullptr, argv.data(), environ) != 0) {
        ADD_FAILURE() << "cannot start " << kSshd;
        return false;
      }
      for (int i = 0; i < 100 && !Accepts(port_); ++i) {
        int status;
        if (waitpid(sshd_, &status, WNOHANG) == sshd_) {
          sshd_ = -1;
          break;
        }
        std::this_thread::sleep_for(50ms);
      }
      if (sshd_ > 0 && Accepts(port_)) return true;
      StopSshd();
    }
    std::ifstream in(dir_ / "sshd.log");
    std::stringstream ss;
    ss << in.rdbuf();
    ADD_FAILURE() << "sshd did not start on 127.0.0.1: " << ss.str();
    return false;
  }

  void StopSshd() {
    if (sshd_ <= 0) return;
    for (pid_t child : Descendants(sshd_)) kill(child, SIGKILL);
    kill(sshd_, SIGTERM);
    int status;
    waitpid(sshd_, &status, 0);
    sshd_ = -1;
  }

  std::string Options(const std::string& extra = "", bool lock_dir = true,
                      const std::string& host = "127.0.0.1") const {
    std::string o = "host=" + host + ",port=" + std::to_string(port_) + ",user=" + user_ +
                    ",identity=" + (dir_ / "user_key").string() +
                    ",known_hosts=" + (dir_ / "known_hosts").string() + ",accept_new=1" +
                    (lock_dir ? ",lock_dir=" + dir_.string() : "");
    return extra.empty() ? o : o + "," + extra;
  }

  // The board lock's file in lock_dir = dir_.
  fs::path LockFile() const {
    return dir_ / ("simtune-ssh-127.0.0.1-" + std::to_string(port_) + ".lock");
  }

  // Points $TMPDIR at dir_/tmp for the rest of the test.
  void PrivateTmpdir() {
    const char* old = std::getenv("TMPDIR");
    saved_tmpdir_ = old ? std::optional<std::string>(old) : std::nullopt;
    fs::create_directories(dir_ / "tmp");
    setenv("TMPDIR", (dir_ / "tmp").c_str(), 1);
    tmpdir_changed_ = true;
  }
  void RestoreTmpdir() {
    if (!tmpdir_changed_) return;
    if (saved_tmpdir_) setenv("TMPDIR", saved_tmpdir_->c_str(), 1);
    else unsetenv("TMPDIR");
    tmpdir_changed_ = false;
  }

  std::optional<std::string> saved_tmpdir_;
  bool tmpdir_changed_ = false;

  std::unique_ptr<Reference> Make(const std::string& options) {
    auto r = References().Create("ssh", options);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // A stand-in artifact: a shell script that speaks the harness's timing protocol.
  Artifact Script(const std::string& name, const std::string& body) {
    return testing_support::ScriptArtifact(dir_, name, body);
  }

  Target target_;
  pid_t sshd_ = -1;
  int port_ = 0;
  std::string user_;
};

// C[M][N] = A[M][K] * B[K][N], small enough to time in a blink.
KernelSource SmallGemm() {
  auto code = [](const std::string& name, const std::string& loops) {
    return "void " + name + "(float *const *bufs) {\n"
           "  const float *A = bufs[0], *B = bufs[1];\n  float *C = bufs[2];\n"
           "  enum { M = 16, N = 16, K = 16 };\n" + loops + "}\n";
  };
  KernelSource s;
  s.code = code("simtune_kernel",
                "  for (int i = 0; i < M; ++i)\n    for (int k = 0; k < K; ++k)\n"
                "      for (int j = 0; j < N; ++j) C[i * N + j] += A[i * K + k] * B[k * N + j];\n");
  s.reference_code = code("simtune_reference",
                          "  for (int i = 0; i < M; ++i)\n    for (int j = 0; j < N; ++j) {\n"
                          "      float acc = 0;\n"
                          "      for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];\n"
                          "      C[i * N + j] = acc;\n    }\n");
  s.buffers = {{"A", 256, false}, {"B", 256, false}, {"C", 256, true}};
  s.flops = 2.0 * 16 * 16 * 16;
  return s;
}

TEST_F(SshTest, MeasuresAKernelThroughLoopback) {
  if (!StartSshd()) return;
  auto target = LoadTarget("x86_64-host");
  ASSERT_TRUE(target.ok()) << target.message();
  BuildOptions bo;
  bo.cache_dir = fs::path(SIMTUNE_TEST_BINARY_DIR) / "build-test-cache" / "ssh";
  Builder builder(bo);
  Artifact a = builder.BuildSource(SmallGemm(), *target);
  ASSERT_TRUE(a.ok()) << a.message << "\n" << a.build_log;
  Artifact wrong = Script("wrong.sh",
                          "echo 'simtune: verify failed index=3 got=1 want=2'; exit 3");

  auto ref = Make(Options("rounds=3,reps=3,min_rep_ns=20000"));
  EXPECT_EQ(ref->options_key(),
            "rounds=3,reps=3,min_rep_ns=20000,value=min,host=127.0.0.1,port=" + std::to_string(port_));
  auto res = ref->Measure({a, wrong}, *target);
  ASSERT_EQ(res.size(), 2u);
  ASSERT_TRUE(res[0].ok()) << res[0].stage << ": " << res[0].message;
  EXPECT_EQ(res[0].unit, "ns");
  EXPECT_GT(res[0].value, 0);
  EXPECT_EQ(res[0].rounds, 3);
  EXPECT_EQ(res[0].reps, 9);
  EXPECT_LE(res[0].min, res[0].value);
  auto extra = nlohmann::json::parse(res[0].extra_json);
  EXPECT_EQ(extra["host"], "127.0.0.1");
  EXPECT_EQ(extra["retries"], 0);
  EXPECT_GE(extra["inner"].get<int64_t>(), 1);
  EXPECT_EQ(res[1].stage, "verify");
  EXPECT_EQ(res[1].message, "verify failed index=3 got=1 want=2");
  // The board's folder (here: this machine's) is gone, and nothing secret was stored.
  std::string remote = extra["remote_dir"];
  EXPECT_EQ(remote.rfind("/tmp/simtune.", 0), 0u) << remote;
  EXPECT_FALSE(fs::exists(remote)) << remote;
  EXPECT_EQ(res[0].extra_json.find("user_key"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / ("simtune-ssh-127.0.0.1-" + std::to_string(port_) + ".lock")));
}

TEST_F(SshTest, SurvivesAKilledConnectionWithARetry) {
  if (!StartSshd()) return;
  // The first run announces itself and hangs; the test then kills sshd's connection
  // processes and everything they run, which drops the connection under it. The retry (a new
  // connection) finds the marker and answers at once.
  std::string started = (dir_ / "started").string();
  Artifact a = Script("flaky.sh",
                      "if [ ! -e " + started + " ]; then touch " + started +
                          "; sleep 30; fi\n"
                          "echo 'simtune: verify ok max_abs_err=0 max_rel_err=0'\n"
                          "echo 'simtune: inner=2 rep_ns=40,41'");
  std::atomic<int> killed{0};
  std::thread killer([&] {
    for (int i = 0; i < 400 && !fs::exists(started); ++i) std::this_thread::sleep_for(25ms);
    for (pid_t child : Descendants(sshd_)) killed += kill(child, SIGKILL) == 0;
  });
  auto start = std::chrono::steady_clock::now();
  auto res = Make(Options("rounds=2,reps=2"))->Measure({a}, target_);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  killer.join();
  ASSERT_GE(killed, 1) << "no connection to kill";
  EXPECT_LT(took, 25) << "the dropped run was waited out instead of retried";
  ASSERT_EQ(res.size(), 1u);
  ASSERT_TRUE(res[0].ok()) << res[0].stage << ": " << res[0].message;
  EXPECT_EQ(res[0].value, 40);
  EXPECT_EQ(res[0].rounds, 2);
  EXPECT_GE(nlohmann::json::parse(res[0].extra_json)["retries"].get<int>(), 1);
}

TEST_F(SshTest, UnreachableBoardFailsItsRowsClearly) {
  // Nothing listens on this port: every row says so, and the batch still returns.
  int port = FreePort();
  Artifact a = Script("a.sh", "echo never");
  Artifact unbuilt;
  unbuilt.status = "failed";
  unbuilt.message = "kernel.c:3: error";
  auto ref = Make("host=127.0.0.1,port=" + std::to_string(port) +
                  ",retries=1,connect_timeout=2,lock_dir=" + dir_.string());
  auto start = std::chrono::steady_clock::now();
  auto res = ref->Measure({a, unbuilt}, target_);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(res.size(), 2u);
  EXPECT_FALSE(res[0].ok());
  EXPECT_EQ(res[0].stage, "run");
  std::string want = "cannot reach 127.0.0.1:" + std::to_string(port) + ": ssh to 127.0.0.1:" +
                     std::to_string(port) + " failed after 2 tries: ";
  EXPECT_EQ(res[0].message.rfind(want, 0), 0u) << res[0].message;
  EXPECT_NE(res[0].message.find("Connection refused"), std::string::npos) << res[0].message;
  EXPECT_EQ(res[1].stage, "build");
  EXPECT_LT(took, 20);
}

TEST_F(SshTest, OneMeasurementAtATimePerBoard) {
  if (!StartSshd()) return;
  // Two references measure on the same board at once; every timed run logs its start and end
  // (ns), and no two runs may overlap.
  std::string log = (dir_ / "runs.log").string();
  Artifact a = Script("logged.sh",
                      "echo \"start $(date +%s%N)\" >> " + log +
                          "; sleep 0.2; echo \"end $(date +%s%N)\" >> " + log +
                          "\necho 'simtune: verify ok max_abs_err=0 max_rel_err=0'\n"
                          "echo 'simtune: inner=1 rep_ns=7'");
  std::vector<RefResult> r1, r2;
  std::thread t1([&] { r1 = Make(Options("rounds=3,reps=1"))->Measure({a}, target_); });
  std::thread t2([&] { r2 = Make(Options("rounds=3,reps=1"))->Measure({a}, target_); });
  t1.join();
  t2.join();
  ASSERT_TRUE(r1[0].ok()) << r1[0].message;
  ASSERT_TRUE(r2[0].ok()) << r2[0].message;
  std::ifstream in(log);
  std::string what;
  long long t, last_end = 0;
  int open = 0, runs = 0;
  while (in >> what >> t) {
    if (what == "start") {
      EXPECT_EQ(open, 0) << "two runs overlapped";
      EXPECT_GE(t, last_end);
      ++open;
      ++runs;
    } else {
      --open;
      last_end = t;
    }
  }
  EXPECT_EQ(runs, 6);
}

TEST(SshOptions, StrictParsing) {
  auto msg = [](const std::string& o) {
    auto r = References().Create("ssh", o);
    return r.ok() ? std::string("<ok>") : r.message();
  };
  EXPECT_EQ(msg("host=board,user=me,port=2222,identity=/k/id,rounds=3"), "<ok>");
  EXPECT_EQ(msg("hots=board"),
            "unknown ssh reference option 'hots'; did you mean 'host'? valid: accept_new, "
            "connect_timeout, host, identity, interleave, known_hosts, lock_dir, lock_timeout, "
            "min_rep_ns, "
            "port, remote_dir, reps, retries, rounds, scp_legacy, seed, timeout, user, value");
  EXPECT_EQ(msg("host=-oProxyCommand=x"),
            "ssh reference option host: expected a name or path without spaces, commas, quotes "
            "or a leading '-'; got '-oProxyCommand=x'");
  EXPECT_EQ(msg("port=0"), "ssh reference option port: out of range; got 0");
  EXPECT_EQ(msg("rounds=0"), "ssh reference option rounds: out of range; got 0");
  EXPECT_EQ(msg("host=a,host=b"), "ssh reference option host: given twice");
  // The options key names the board, never the user or the key.
  auto r = References().Create("ssh", "host=board,user=me,identity=/k/id");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->options_key(), "rounds=7,reps=15,min_rep_ns=250000,value=min,host=board");
  auto median = References().Create("ssh", "host=board,value=median");
  ASSERT_TRUE(median.ok());
  EXPECT_EQ((*median)->options_key(), "rounds=7,reps=15,min_rep_ns=250000,host=board");
  EXPECT_EQ((*r)->rereducible_key(), (*median)->options_key());
  // Without a host anywhere, or for a bare-metal target, every row says why.
  Artifact a;
  a.status = "ok";
  a.elf = "/bin/true";
  Target t;
  t.name = "x86_64-host";
  t.os = "linux";
  auto none = (*References().Create("ssh", ""))->Measure({a}, t);
  EXPECT_EQ(none[0].message.rfind("ssh reference needs host=NAME", 0), 0u) << none[0].message;
  t.reference_options["ssh"] = "host=board";
  t.os = "baremetal";
  t.name = "riscv64-baremetal";
  auto bare = (*References().Create("ssh", ""))->Measure({a}, t);
  EXPECT_EQ(bare[0].message,
            "ssh reference runs Linux artifacts only; target riscv64-baremetal is baremetal");
}

// Issue 16: the board lock used to be taken with a plain flock, waiting without limit, and
// its failure ignored. Another holder now fails the rows after lock_timeout, naming the
// board and the lock. (The holder lets go after 20 s, so a regression fails instead of hanging.)
TEST_F(SshTest, BusyBoardFailsItsRowsAfterTheLockTimeout) {
  if (!StartSshd()) return;
  int fd = open(LockFile().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  std::atomic<bool> done{false};
  std::thread holder([fd, &done] {
    for (int i = 0; i < 400 && !done; ++i) std::this_thread::sleep_for(50ms);
    close(fd);
  });
  Artifact a = Script("a.sh", "echo 'simtune: verify ok'; echo 'simtune: inner=1 rep_ns=5'");
  auto start = std::chrono::steady_clock::now();
  auto res = Make(Options("rounds=1,reps=1,lock_timeout=1"))->Measure({a}, target_);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done = true;
  holder.join();
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].stage, "run");
  EXPECT_EQ(res[0].message, "board " + user_ + "@127.0.0.1:" + std::to_string(port_) +
                                " is busy: its lock " + LockFile().string() +
                                " was still held after 1 s (another measurement on it; see "
                                "option lock_timeout)");
  EXPECT_LT(took, 15);
}

TEST_F(SshTest, LockThatCannotBeOpenedFailsTheRows) {
  if (!StartSshd()) return;
  Artifact a = Script("a.sh", "echo 'simtune: verify ok'; echo 'simtune: inner=1 rep_ns=5'");
  auto res = Make(Options("rounds=1,reps=1,lock_dir=" + (dir_ / "missing").string(), false))
                 ->Measure({a}, target_);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].message, "cannot open the lock of board " + user_ + "@127.0.0.1:" +
                                std::to_string(port_) + " (" +
                                (dir_ / "missing" / ("simtune-ssh-127.0.0.1-" +
                                                     std::to_string(port_) + ".lock"))
                                    .string() +
                                "): No such file or directory");
}

// By default the lock lives in the user's private folder, not in the shared temp folder
// where anyone could create (or hold) it first.
TEST_F(SshTest, DefaultLockLivesInAPrivateFolder) {
  if (!StartSshd()) return;
  PrivateTmpdir();
  Artifact a = Script("a.sh", "echo 'simtune: verify ok'; echo 'simtune: inner=1 rep_ns=5'");
  auto res = Make(Options("rounds=1,reps=1", /*lock_dir=*/false))->Measure({a}, target_);
  ASSERT_TRUE(res[0].ok()) << res[0].message;
  fs::path locks = dir_ / "tmp" / ("simtune-locks-" + std::to_string(getuid()));
  struct stat st;
  ASSERT_EQ(lstat(locks.c_str(), &st), 0) << locks;
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(fs::exists(locks / ("simtune-ssh-127.0.0.1-" + std::to_string(port_) + ".lock")));
  EXPECT_FALSE(fs::exists(dir_ / "tmp" / ("simtune-ssh-127.0.0.1-" + std::to_string(port_) + ".lock")));
  // Nothing else left in the temp folder (the scp staging folder is gone).
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_ / "tmp")) left.push_back(e.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{locks.filename().string()});

  // A folder of that name that others can enter is refused, not used.
  fs::permissions(locks, fs::perms::all);
  auto refused = Make(Options("rounds=1,reps=1", /*lock_dir=*/false))->Measure({a}, target_);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", 0777);
  EXPECT_EQ(refused[0].message,
            "lock folder " + locks.string() + " is not private (a folder of uid " +
                std::to_string(getuid()) + ", mode " + mode + "; want one of uid " +
                std::to_string(getuid()) + ", mode 0700): remove it, or give lock_dir=PATH");
}

// An IPv6 address as host: ssh takes it bare, scp's "host:dir" needs it in brackets.
TEST_F(SshTest, Ipv6HostWorksForSshAndScp) {
  if (!StartSshd(/*ipv6=*/true)) return;
  Artifact a = Script("a.sh", "echo 'simtune: verify ok'; echo 'simtune: inner=1 rep_ns=5'");
  auto res = Make(Options("rounds=1,reps=1", true, "::1"))->Measure({a}, target_);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_TRUE(res[0].ok()) << res[0].stage << ": " << res[0].message;
  EXPECT_EQ(res[0].value, 5);
}

TEST(SshOptions, RepeatedKeysAndBadTimeoutsAreErrors) {
  auto msg = [](const std::string& o) {
    auto r = References().Create("ssh", o);
    return r.ok() ? std::string("<ok>") : r.message();
  };
  EXPECT_EQ(msg("host=a,rounds=3,rounds=5"), "ssh reference option rounds: given twice");
  EXPECT_EQ(msg("host=a,connect_timeout=1e300"),
            "ssh reference option connect_timeout: at most 2592000 s (30 days); got '1e300'");
  EXPECT_EQ(msg("host=a,lock_timeout=0"),
            "ssh reference option lock_timeout: expected seconds > 0; got '0'");
  EXPECT_EQ(msg("host=::1,lock_timeout=5"), "<ok>");
}

}  // namespace
}  // namespace simtune
