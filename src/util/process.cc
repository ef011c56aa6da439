#include "simtune/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "simtune/scratch.h"
#include "simtune/strings.h"

extern char** environ;

namespace simtune {
namespace {

// Live children (each the leader of its process group), for the termination handler.
// Never destroyed: a signal may come while exit() runs the static destructors.
std::mutex g_children_mu;
std::set<pid_t>& g_children = *new std::set<pid_t>;
bool g_terminating = false;   // under g_children_mu: the handler has started

// Adds a child; kills it at once when the handler has already run.
void RegisterChild(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_children_mu);
  if (g_terminating) kill(-pid, SIGKILL);
  g_children.insert(pid);
}

// Removes a reaped child. When the handler killed it, its result must not reach a caller
// (it would be stored as a crash): the thread waits here for the exit.
void UnregisterChild(pid_t pid) {
  std::unique_lock<std::mutex> lock(g_children_mu);
  g_children.erase(pid);
  if (!g_terminating) return;
  lock.unlock();
  for (;;) pause();
}

const int kTerminationSignals[] = {SIGINT, SIGTERM, SIGHUP};

void WatchTerminationSignals(sigset_t set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  {
    std::lock_guard<std::mutex> lock(g_children_mu);
    g_terminating = true;
    for (pid_t pid : g_children) kill(-pid, SIGKILL);
  }
  // The killed children are reaped by the threads that started them; wait (briefly) for
  // that before removing the folders they wrote into.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> lock(g_children_mu);
      if (g_children.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RemoveLiveScratchDirs();
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(128 + sig);
}

// The captured text of one stream: its first half and its last half of `max_bytes`.
class Capture {
 public:
  explicit Capture(size_t max_bytes) : head_max_(max_bytes / 2), tail_max_(max_bytes - max_bytes / 2) {}
  void Append(const char* data, size_t n) {
    total_ += n;
    size_t to_head = std::min(n, head_max_ - head_.size());
    head_.append(data, to_head);
    tail_.append(data + to_head, n - to_head);
    if (tail_.size() > 2 * tail_max_ + 4096) tail_.erase(0, tail_.size() - tail_max_);
  }
  std::string Text() {
    if (tail_.size() > tail_max_) tail_.erase(0, tail_.size() - tail_max_);
    return SanitizeUtf8(ElideMiddle(head_, total_ - head_.size() - tail_.size(), tail_));
  }

 private:
  size_t head_max_, tail_max_;
  size_t total_ = 0;
  std::string head_, tail_;
};

// Closes every descriptor >= 3 but `keep` (in the child, before exec).
void CloseOtherFds(int keep) {
  unsigned first = 3;
  if (keep >= 3) {
    if (keep > 3) syscall(SYS_close_range, 3u, static_cast<unsigned>(keep - 1), 0u);
    first = static_cast<unsigned>(keep) + 1;
  }
  if (syscall(SYS_close_range, first, ~0u, 0u) == 0) return;
  // No close_range (Linux < 5.9): one by one.
  long max_fd = std::min(sysconf(_SC_OPEN_MAX), 65536L);
  for (long fd = 3; fd < max_fd; ++fd)
    if (fd != keep) close(static_cast<int>(fd));
}

}  // namespace

static_assert(kMaxTimeoutS == 2592000, "ParseTimeout's message names the limit");

Result<double> ParseTimeout(std::string_view text, std::string_view what) {
  SIMTUNE_ASSIGN_OR_RETURN(double v, ParseDouble(text, what));
  if (v <= 0) return Error{std::string(what) + ": expected seconds > 0; got '" + std::string(text) + "'"};
  if (v > kMaxTimeoutS)
    return Error{std::string(what) + ": at most 2592000 s (30 days); got '" + std::string(text) + "'"};
  return v;
}

int WorkerCount(int requested, size_t work) {
  size_t n = requested > 0 ? static_cast<size_t>(requested)
                           : std::max(1u, std::thread::hardware_concurrency());
  n = std::min({n, work, static_cast<size_t>(kMaxWorkers)});
  return static_cast<int>(std::max<size_t>(n, 1));
}

void InstallTerminationHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kTerminationSignals) sigaddset(&set, sig);
    // Blocked here, so in every thread started from now on; children unblock them.
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread(WatchTerminationSignals, set).detach();
  });
}

std::string ProcessResult::Describe(double timeout_s) const {
  if (timed_out) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "timed out after %g s", timeout_s);
    return buf;
  }
  if (signal) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exit code " + std::to_string(exit_code);
}

bool ProgramExists(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  if (!path) return false;
  for (const auto& dir : Split(path, ':')) {
    std::string full = (dir.empty() ? "." : dir) + "/" + program;
    if (access(full.c_str(), X_OK) == 0) return true;
  }
  return false;
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options) {
  SIMTUNE_CHECK(!argv.empty());
  if (!ProgramExists(argv[0])) return Error{"program not found: '" + argv[0] + "'"};
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  // CLOEXEC: concurrent RunProcess calls must not leak pipe ends into each other's children,
  // or a reader only sees end-of-output when every sibling child has exited.
  if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC) || pipe2(exec_pipe, O_CLOEXEC))
    return Error{std::string("pipe failed: ") + std::strerror(errno)};

  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    if (!options.extra_env.count(key)) env_store.push_back(kv);
  }
  for (const auto& [k, v] : options.extra_env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  const bool has_deadline = options.timeout_s > 0;
  const double timeout_s = std::min(options.timeout_s, kMaxTimeoutS);
  auto start = std::chrono::steady_clock::now();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Error{std::string("fork failed: ") + std::strerror(errno)};
  if (pid == 0) {
    // Die with the thread that forked (it waits in RunProcess until we are reaped); when it
    // is already gone, we were reparented before prctl: stop here.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);  // own process group, so a timeout kills grandchildren too
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);   // InstallTerminationHandler blocked some
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) dup2(devnull, 0);   // dup2 clears CLOEXEC on fd 0 only
    CloseOtherFds(exec_pipe[1]);
    if (options.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(options.cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) {
      int e = errno;
      (void)!write(exec_pipe[1], &e, sizeof e);
      _exit(127);
    }
    execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);
  RegisterChild(pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(exec_pipe[1]);
  int child_errno = 0;
  ssize_t n_exec = read(exec_pipe[0], &child_errno, sizeof child_errno);
  close(exec_pipe[0]);

  ProcessResult result;
  Capture captures[2] = {Capture(options.max_output_bytes), Capture(options.max_output_bytes)};
  // Wait for the pipes to close and the child to exit, whichever comes last, or the deadline.
  // A pidfd (Linux >= 5.3) says when the child exits; without one, poll waitid with backoff.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
  int open_fds = 2;
  bool exited = false;
  int backoff_ms = 1;
  char chunk[65536];
  auto child_exited = [&] {
    siginfo_t info{};
    // WNOWAIT: the zombie keeps the pid and the process group id ours until we reap it.
    return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid;
  };
  while (open_fds > 0 || !exited) {
    int wait_ms = -1;
    if (has_deadline) {
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double left = timeout_s - elapsed;
      if (left <= 0) {
        result.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min(left * 1000, 3.6e6)) + 1;   // re-checked hourly
    }
    if (!exited && pidfd < 0 && open_fds == 0) {   // no pidfd: check now and then
      if (child_exited()) {
        exited = true;
        continue;
      }
      wait_ms = wait_ms < 0 ? backoff_ms : std::min(wait_ms, backoff_ms);
      backoff_ms = std::min(backoff_ms * 2, 50);
    }
    if (exited) fds[2].fd = -1;
    int r = poll(fds, 3, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) exited = true;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        captures[i].Append(chunk, static_cast<size_t>(got));
      }
    }
  }
  for (int i = 0; i < 2; ++i)
    if (fds[i].fd >= 0) close(fds[i].fd);
  if (pidfd >= 0) close(pidfd);
  // On a timeout: the whole group. Otherwise the child has exited (a zombie, still holding
  // the group id): whatever it left running in its group.
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  UnregisterChild(pid);
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.out = captures[0].Text();
  result.err = captures[1].Text();
  if (n_exec == sizeof child_errno)
    return Error{"cannot run '" + argv[0] + "': " + std::strerror(child_errno)};
  if (!result.timed_out) {
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    else if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace simtune
