// The "ssh" reference: the native timing protocol (interleaved rounds of the harness's
// `--time` mode, minimum of per-round minima; src/reference/timing.h, native.cc) on another
// Linux machine (a "board"), through the OpenSSH client (`ssh`, `scp`).
//
// One Measure(batch):
//   1. connect and make a fresh folder on the board (`mktemp -d <remote_dir>/simtune.XXXXXX`);
//   2. copy every distinct artifact there in one `scp -p` (named <hash prefix>.elf);
//   3. run the schedule: one `ssh` per (round, candidate), the remote shell running
//      `timeout -k 5 <timeout> ./<artifact> --time <min_rep_ns> <reps>` (plain when the board
//      has no `timeout`) and then printing "simtune-ssh: exit=<status>", so that the
//      program's own status (124/137: timeout, 128+n: signal n) is told apart from ssh's
//      (255: the connection failed);
//   4. remove the folder (also after failures).
// Every ssh/scp command is retried `retries` times (after 0.5 s, 1 s, ...) when the connection
// fails or drops: a new connection each time, and a dropped timed run is run again whole. A
// board that cannot be reached fails the rows that need it with the reason (ssh's own
// message), never the whole command; one that stops answering mid-batch fails the rows left.
// One measurement at a time per board: copying and each timed run hold an exclusive flock on
// <lock_dir>/simtune-ssh-<host>-<port>.lock, across processes. lock_dir defaults to the
// user's private folder <$TMPDIR or /tmp>/simtune-locks-<uid> (mode 0700, made here; one not
// private is an error), so other users can neither pre-create nor hold the lock; a shared
// lock_dir= serialises several users on one board. A lock still held after lock_timeout
// seconds fails the rows left with the board and the lock file named.
// Authentication is key-based only (BatchMode=yes: never a password prompt); the identity
// file is passed to ssh by path and never read, stored or printed here; options_key names
// the board (host, port) but not the user or key.
//
// Options ("key=value,..."; the target's reference_options "ssh" give defaults):
//   host=NAME          the board (required); user=NAME, port=N (22)
//   identity=PATH      private key (ssh -i, IdentitiesOnly=yes)
//   known_hosts=PATH   UserKnownHostsFile; accept_new=1: StrictHostKeyChecking=accept-new
//   remote_dir=PATH    parent of the per-batch folder on the board (default /tmp)
//   retries=N (2), connect_timeout=SECONDS (10), lock_dir=PATH, lock_timeout=SECONDS (600),
//   scp_legacy=1 (scp -O, for boards without an SFTP server)
// An IPv6 address is given bare (host=::1); scp gets it in brackets.
//   rounds, reps, min_rep_ns, interleave, seed, timeout: the timing protocol, as native
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "simtune/process.h"
#include "simtune/reference.h"
#include "simtune/scratch.h"
#include "simtune/strings.h"
#include "src/reference/builtin.h"
#include "src/reference/timing.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using timing::TimingOptions;

struct SshOptions {
  TimingOptions timing;
  std::string host, user, identity, known_hosts, lock_dir;
  int port = 22;
  bool accept_new = false;
  bool scp_legacy = false;
  int retries = 2;
  double connect_timeout_s = 10;
  double lock_timeout_s = 600;
  std::string remote_dir = "/tmp";
};

const std::vector<std::string>& SshOwnNames() {
  static const std::vector<std::string> names = {
      "accept_new", "connect_timeout", "host",       "identity", "known_hosts", "lock_dir",
      "lock_timeout", "port",          "remote_dir", "retries",  "scp_legacy",  "user"};
  return names;
}

// Names and paths end up on ssh's command line: no spaces, commas, quotes or leading '-'.
bool PlainWord(const std::string& s) {
  static const std::regex ok("[A-Za-z0-9_.:@%+/~-]+");
  return !s.empty() && s[0] != '-' && std::regex_match(s, ok);
}

Result<SshOptions> ParseSshOptions(const std::string& text) {
  SshOptions o;
  SIMTUNE_ASSIGN_OR_RETURN(auto items, ParseKeyValues(text, "ssh reference option"));
  {
    for (const auto& [key, val] : items) {
      std::string what = "ssh reference option " + key;
      SIMTUNE_ASSIGN_OR_RETURN(bool timing_key, timing::ParseTimingOption(key, val, what, o.timing));
      if (timing_key) continue;
      if (key == "host" || key == "user" || key == "identity" || key == "known_hosts" ||
          key == "lock_dir" || key == "remote_dir") {
        if (!PlainWord(val))
          return Error{what + ": expected a name or path without spaces, commas, quotes or a "
                              "leading '-'; got '" + val + "'"};
        if (key == "host") o.host = val;
        if (key == "user") o.user = val;
        if (key == "identity") o.identity = val;
        if (key == "known_hosts") o.known_hosts = val;
        if (key == "lock_dir") o.lock_dir = val;
        if (key == "remote_dir") o.remote_dir = val;
      } else if (key == "port" || key == "retries") {
        SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(val, what));
        if (key == "port" && (v < 1 || v > 65535))
          return Error{what + ": out of range; got " + val};
        if (key == "retries" && (v < 0 || v > 100))
          return Error{what + ": out of range; got " + val};
        (key == "port" ? o.port : o.retries) = static_cast<int>(v);
      } else if (key == "accept_new" || key == "scp_legacy") {
        if (val != "0" && val != "1") return Error{what + ": expected 0 or 1; got '" + val + "'"};
        (key == "accept_new" ? o.accept_new : o.scp_legacy) = val == "1";
      } else if (key == "connect_timeout" || key == "lock_timeout") {
        SIMTUNE_ASSIGN_OR_RETURN(double v, ParseTimeout(val, what));
        (key == "connect_timeout" ? o.connect_timeout_s : o.lock_timeout_s) = v;
      } else {
        std::vector<std::string> names = timing::TimingOptionNames();
        names.insert(names.end(), SshOwnNames().begin(), SshOwnNames().end());
        std::sort(names.begin(), names.end());
        return UnknownName("ssh reference option", key, names);
      }
    }
  }
  return o;
}

std::string LastLine(const std::string& text) {
  std::string t = Trim(text);
  auto nl = t.rfind('\n');
  std::string line = nl == std::string::npos ? t : Trim(t.substr(nl + 1));
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

// <temp dir>/simtune-locks-<uid>, made private (0700) if missing; an error when it exists
// and is not a folder of this user that only this user can enter.
Result<fs::path> PrivateLockDir() {
  std::error_code ec;
  fs::path dir = fs::temp_directory_path(ec) / ("simtune-locks-" + std::to_string(getuid()));
  if (ec) return Error{"no temporary folder for the board locks: " + ec.message()};
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error{"cannot create lock folder " + dir.string() + ": " + std::strerror(errno)};
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0)
    return Error{"cannot read lock folder " + dir.string() + ": " + std::strerror(errno)};
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{"lock folder " + dir.string() + " is not private (" +
                 (S_ISDIR(st.st_mode) ? std::string("a folder") : "not a folder") + " of uid " +
                 std::to_string(st.st_uid) + ", mode " + mode + "; want one of uid " +
                 std::to_string(getuid()) + ", mode 0700): remove it, or give lock_dir=PATH"};
  }
  return dir;
}

// An exclusive flock on a per-board file, held while alive.
class BoardLock {
 public:
  BoardLock() = default;
  ~BoardLock() {
    if (fd_ >= 0) ::close(fd_);   // closing releases the lock
  }
  BoardLock(const BoardLock&) = delete;
  BoardLock& operator=(const BoardLock&) = delete;

  // Waits up to timeout_s for the lock; `board` names it in errors.
  Status Acquire(const fs::path& path, double timeout_s, const std::string& board) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0)
      return Error{"cannot open the lock of board " + board + " (" + path.string() +
                   "): " + std::strerror(errno)};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    int sleep_ms = 10;
    for (;;) {
      if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
      if (errno != EWOULDBLOCK && errno != EINTR)
        return Error{"cannot lock board " + board + " (" + path.string() +
                     "): " + std::strerror(errno)};
      if (std::chrono::steady_clock::now() >= deadline) {
        char waited[32];
        std::snprintf(waited, sizeof waited, "%g", timeout_s);
        return Error{"board " + board + " is busy: its lock " + path.string() +
                     " was still held after " + waited +
                     " s (another measurement on it; see option lock_timeout)"};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      sleep_ms = std::min(sleep_ms * 2, 250);
    }
  }

 private:
  int fd_ = -1;
};

// host as scp wants it before ":path": an IPv6 address in brackets.
std::string ScpHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// One board session: ssh/scp command lines and retries.
class Board {
 public:
  explicit Board(const SshOptions& o) : o_(o) {
    std::string user = o.user.empty() ? "" : o.user + "@";
    dest_ = user + o.host;
    scp_dest_ = user + ScpHost(o.host);
  }

  const std::string& dest() const { return dest_; }
  std::string where() const { return scp_dest_ + ":" + std::to_string(o_.port); }
  int retried() const { return retried_; }

  // Holds `lock` on this board, waiting at most lock_timeout.
  Status Lock(BoardLock& lock) const {
    fs::path dir = o_.lock_dir;
    if (dir.empty()) {
      SIMTUNE_ASSIGN_OR_RETURN(dir, PrivateLockDir());
    }
    std::string id = o_.host + "-" + std::to_string(o_.port);
    for (char& c : id)
      if (c == '/' || c == ':' || c == '~') c = '_';
    return lock.Acquire(dir / ("simtune-ssh-" + id + ".lock"), o_.lock_timeout_s, where());
  }

  // The client options shared by ssh (port_flag "-p") and scp ("-P").
  std::vector<std::string> Common(const std::string& port_flag) const {
    char timeout[32];
    std::snprintf(timeout, sizeof timeout, "%d",
                  std::max(1, static_cast<int>(o_.connect_timeout_s + 0.999)));
    std::vector<std::string> a = {port_flag, std::to_string(o_.port), "-o", "BatchMode=yes",
                                  "-o", std::string("ConnectTimeout=") + timeout,
                                  "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                                  "-o", "LogLevel=ERROR"};
    if (!o_.identity.empty())
      a.insert(a.end(), {"-i", o_.identity, "-o", "IdentitiesOnly=yes"});
    if (!o_.known_hosts.empty()) a.insert(a.end(), {"-o", "UserKnownHostsFile=" + o_.known_hosts});
    if (o_.accept_new) a.insert(a.end(), {"-o", "StrictHostKeyChecking=accept-new"});
    return a;
  }

  // Runs `remote` (a shell command line) on the board, once.
  Result<ProcessResult> SshOnce(const std::string& remote, double timeout_s) const {
    std::vector<std::string> argv = {"ssh"};
    auto common = Common("-p");
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), {"-T", "--", dest_, remote});
    ProcessOptions p;
    p.timeout_s = timeout_s;
    return RunProcess(argv, p);
  }

  // Runs `remote`, retrying while `dropped(result)` says the connection failed. Returns the
  // last result; an error only when ssh cannot be started or every try failed to connect.
  template <class Dropped>
  Result<ProcessResult> Ssh(const std::string& remote, double timeout_s, Dropped dropped) {
    std::string why;
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
      if (attempt > 0) {
        ++retried_;
        std::this_thread::sleep_for(std::chrono::milliseconds(500 * attempt));
      }
      auto r = SshOnce(remote, timeout_s);
      if (!r.ok()) return r.error();   // no ssh client: retrying will not help
      if (!dropped(*r)) return r;
      why = r->timed_out ? "ssh " + r->Describe(timeout_s) : LastLine(r->err);
      if (why.empty()) why = "ssh " + r->Describe(timeout_s);
    }
    return Error{"ssh to " + where() + " failed after " + std::to_string(o_.retries + 1) +
                 " tries: " + why};
  }

  // Copies `files` (local path -> remote name) into remote folder `dir` in one scp.
  Status Copy(const std::vector<std::pair<fs::path, std::string>>& files, const std::string& dir,
              double timeout_s) {
    std::error_code ec;
    ScratchDir scratch("ssh-stage");
    const fs::path& staging = scratch.path();
    if (staging.empty()) return Error{"cannot create a staging folder in the temporary folder"};
    std::vector<std::string> argv = {"scp", "-q", "-p"};
    if (o_.scp_legacy) argv.push_back("-O");
    auto common = Common("-P");
    argv.insert(argv.end(), common.begin(), common.end());
    argv.push_back("--");
    for (const auto& [path, name] : files) {
      fs::create_symlink(fs::absolute(path), staging / name, ec);   // scp follows it
      if (ec) return Error{"cannot stage " + path.string() + ": " + ec.message()};
      argv.push_back((staging / name).string());
    }
    argv.push_back(scp_dest_ + ":" + dir + "/");
    std::string why;
    Status st = Status::Ok();
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
      if (attempt > 0) {
        ++retried_;
        std::this_thread::sleep_for(std::chrono::milliseconds(500 * attempt));
      }
      ProcessOptions p;
      p.timeout_s = timeout_s;
      auto r = RunProcess(argv, p);
      if (!r.ok()) {
        st = r.error();
        break;
      }
      if (r->Success()) {
        st = Status::Ok();
        break;
      }
      why = r->timed_out ? "scp " + r->Describe(timeout_s) : LastLine(r->err + r->out);
      st = Error{"scp to " + where() + " failed after " + std::to_string(attempt + 1) +
                 " tries: " + (why.empty() ? "scp " + r->Describe(timeout_s) : why)};
    }
    return st;
  }

 private:
  const SshOptions& o_;
  std::string dest_, scp_dest_;
  int retried_ = 0;
};

// ssh's own failure (the connection, not the remote command): status 255, or killed here.
bool ConnectionFailed(const ProcessResult& r) {
  return r.timed_out || r.signal != 0 || r.exit_code == 255;
}

const char* kExitMarker = "simtune-ssh: exit=";

class SshReference : public Reference {
 public:
  SshReference(SshOptions given, std::string given_text)
      : given_(std::move(given)), given_text_(std::move(given_text)) {}

  std::string name() const override { return "ssh"; }
  bool wall_clock() const override { return true; }
  // The protocol and the board (given here; a target's own board is implied by its name).
  std::string options_key() const override { return Key(timing::TimingOptionsKey(given_.timing)); }
  std::string rereducible_key() const override {
    std::string timing_key = timing::RereducibleKey(given_.timing);
    return timing_key.empty() ? "" : Key(timing_key);
  }
  Result<RefResult> Rereduce(const RefResult& stored) const override {
    return timing::Rereduce(stored, given_.timing.value);
  }

  std::vector<RefResult> Measure(const std::vector<Artifact>& batch,
                                 const Target& target) override {
    auto parsed = ParseSshOptions(MergeReferenceOptions(target, "ssh", given_text_));
    const timing::TimingOptions& timing = parsed.ok() ? parsed->timing : given_.timing;
    timing::Rounds rounds(batch.size(), timing.min_rep_ns, timing.value);
    auto fail_all = [&](const std::string& stage, const std::string& message) {
      for (size_t i = 0; i < batch.size(); ++i) rounds.Fail(i, stage, message);
      return rounds.Finish({});
    };
    if (rounds.FailUnbuilt(batch) == 0) return rounds.Finish({});
    if (!parsed.ok()) return fail_all("run", "target " + target.name + ": " + parsed.message());
    const SshOptions& o = *parsed;
    if (o.host.empty())
      return fail_all("run", "ssh reference needs host=NAME: give it in the reference options or "
                             "in target " + target.name + "'s reference_options");
    if (target.os != "linux")
      return fail_all("run", "ssh reference runs Linux artifacts only; target " + target.name +
                                 " is " + target.os);
    for (const char* tool : {"ssh", "scp"})
      if (!ProgramExists(tool))
        return fail_all("missing-tool", std::string(tool) +
                                            " not found; install openssh-client (scripts/setup "
                                            "does)");

    Board board(o);
    const double connect_s = o.connect_timeout_s + 20;
    // 1. A fresh folder on the board.
    auto made = board.Ssh("mktemp -d " + o.remote_dir + "/simtune.XXXXXX", connect_s,
                          ConnectionFailed);
    if (!made.ok()) return fail_all("run", "cannot reach " + board.where() + ": " + made.message());
    std::string dir = Trim(made->out);
    static const std::regex plain("/[A-Za-z0-9_./-]+");
    if (!made->Success() || !std::regex_match(dir, plain))
      return fail_all("run", "cannot make a folder under " + o.remote_dir + " on " +
                                 board.where() + ": " +
                                 LastLine(made->err + made->out + " " + made->Describe(connect_s)));

    // 2. Copy each distinct artifact once.
    std::map<std::string, std::string> remote_name;   // hash -> file name
    std::vector<std::pair<fs::path, std::string>> files;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!rounds.alive(i) || remote_name.count(batch[i].hash)) continue;
      std::string name = (PlainWord(batch[i].hash) ? batch[i].hash.substr(0, 16)
                                                   : "a" + std::to_string(i)) +
                         "-" + std::to_string(files.size()) + ".elf";
      remote_name[batch[i].hash] = name;
      files.push_back({batch[i].elf, name});
    }
    nlohmann::json extra = {{"host", o.host}, {"port", o.port}, {"remote_dir", dir}};
    std::string down;          // why the batch stopped, once it has
    bool unreachable = false;  // it stopped because the board stopped answering
    {
      BoardLock lock;
      Status copied = board.Lock(lock);
      if (copied.ok()) copied = board.Copy(files, dir, connect_s + 60.0 * files.size());
      if (!copied.ok()) down = copied.message();
    }

    // 3. The timed runs, one at a time on the board.
    std::vector<std::string> args = timing::TimingArgs(o.timing);
    char tbuf[32];
    std::snprintf(tbuf, sizeof tbuf, "%g", o.timing.timeout_s);
    for (size_t i : timing::Schedule(batch.size(), o.timing)) {
      if (!down.empty()) break;
      if (!rounds.alive(i)) continue;
      std::string run = "./" + remote_name[batch[i].hash] + " " + Join(args, " ");
      std::string remote = "cd " + dir + " || exit 97; if command -v timeout >/dev/null 2>&1; "
                           "then timeout -k 5 " + std::string(tbuf) + " " + run + "; else " +
                           run + "; fi; echo \"" + kExitMarker + "$?\"";
      Result<ProcessResult> r = Error{""};
      {
        BoardLock lock;
        Status locked = board.Lock(lock);
        if (!locked.ok()) {
          down = locked.message();
          break;
        }
        // A run whose status line did not arrive was cut off: run it again.
        r = board.Ssh(remote, o.timing.timeout_s + connect_s, [](const ProcessResult& p) {
          return p.out.find(kExitMarker) == std::string::npos && ConnectionFailed(p);
        });
      }
      if (!r.ok()) {
        down = r.message();
        unreachable = true;
        break;
      }
      rounds.Add(i, timing::ReadTimedRun(RemoteResult(*r), o.timing.timeout_s));
    }
    if (!down.empty()) {
      for (size_t i = 0; i < batch.size(); ++i) rounds.Fail(i, "run", down);
    }

    // 4. Clean up, whatever happened (a board that is down keeps its folder).
    if (!unreachable)
      (void)board.Ssh("rm -rf " + dir, connect_s, ConnectionFailed);
    extra["retries"] = board.retried();
    return rounds.Finish(extra);
  }

 private:
  std::string Key(std::string timing_key) const {
    if (!given_.host.empty()) timing_key += ",host=" + given_.host;
    if (given_.port != 22) timing_key += ",port=" + std::to_string(given_.port);
    return timing_key;
  }

  // The remote program's status as if it had run here: the marker's exit status (124, 137:
  // timeout; 129..192: signal), its output without the marker line.
  static ProcessResult RemoteResult(const ProcessResult& ssh) {
    ProcessResult p;
    p.err = ssh.err;
    p.wall_s = ssh.wall_s;
    auto at = ssh.out.rfind(kExitMarker);
    if (at == std::string::npos) {   // the shell itself failed (e.g. cd): keep ssh's status
      p.out = ssh.out;
      p.exit_code = ssh.exit_code;
      p.signal = ssh.signal;
      p.timed_out = ssh.timed_out;
      return p;
    }
    p.out = ssh.out.substr(0, at);
    int status = std::atoi(ssh.out.c_str() + at + std::strlen(kExitMarker));
    if (status == 124 || status == 137) {
      p.timed_out = true;
    } else if (status > 128 && status <= 192) {
      p.signal = status - 128;
    } else {
      p.exit_code = status;
    }
    return p;
  }

  SshOptions given_;
  std::string given_text_;
};

}  // namespace

void RegisterSshReference(ReferenceRegistry& registry) {
  registry.Register(
      "ssh",
      "times artifacts on a Linux board over SSH (host=, user=, identity=): the native "
      "protocol, one measurement at a time per board",
      [](const std::string& options) -> Result<std::unique_ptr<Reference>> {
        SIMTUNE_ASSIGN_OR_RETURN(SshOptions o, ParseSshOptions(options));
        return std::unique_ptr<Reference>(new SshReference(std::move(o), options));
      });
}

}  // namespace simtune
