// Makes file writes fail part-way, as on a full disk: while a FileSizeLimit lives, the
// process may not write past `bytes` in any file (RLIMIT_FSIZE; writes beyond fail with
// EFBIG instead of raising SIGXFSZ). Restores the limit and the signal on destruction.
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>

namespace simtune::testing_support {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = SIG_DFL;
  bool ok_ = false;
};

}  // namespace simtune::testing_support
