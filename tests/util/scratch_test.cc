// Scratch folders: private, removed after use, and those of dead simtune processes swept.
#include "simtune/scratch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/scratch_test.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

class ScratchDirTest : public testing_support::ScratchTest {
 protected:
  ScratchDirTest() : ScratchTest("simtune_scratch_") {}
  void SetUp() override {
    ScratchTest::SetUp();
    const char* old = std::getenv("TMPDIR");
    old_tmpdir_ = old ? old : "";
    had_tmpdir_ = old != nullptr;
    setenv("TMPDIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (had_tmpdir_) setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    else unsetenv("TMPDIR");
    ScratchTest::TearDown();
  }

  // A pid that no process has (a child that has exited and been reaped).
  static pid_t DeadPid() {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status;
    waitpid(pid, &status, 0);
    return pid;
  }

  std::string old_tmpdir_;
  bool had_tmpdir_ = false;
};

TEST_F(ScratchDirTest, NamedForItsOwnerAndRemovedAfterUse) {
  fs::path path;
  {
    ScratchDir d("qemu");
    path = d.path();
    ASSERT_FALSE(path.empty());
    EXPECT_EQ(path.parent_path(), dir_);
    std::string prefix = "simtune-" + std::to_string(getpid()) + "-qemu-";
    EXPECT_EQ(path.filename().string().rfind(prefix, 0), 0u) << path;
    std::ofstream(path / "stats.json") << "{}";
    EXPECT_EQ(SweepStaleScratchDirs(), 0u);   // ours, alive
    EXPECT_TRUE(fs::exists(path / "stats.json"));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(ScratchDirTest, SweepRemovesOnlyFoldersOfEndedOwners) {
  pid_t dead = DeadPid();
  fs::path stale = dir_ / ("simtune-" + std::to_string(dead) + "-qemu-AbC123");
  fs::create_directories(stale / "sub");
  std::ofstream(stale / "sub" / "stats.json") << "{}";
  // Dead pid but its lock is held: an owner in another PID namespace sharing the folder.
  fs::path foreign = dir_ / ("simtune-" + std::to_string(dead) + "-qemu-XyZ789");
  fs::create_directories(foreign);
  int fd = open(foreign.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  // Alive (this process's parent), lock free: a creator between mkdtemp and flock.
  fs::path young = dir_ / ("simtune-" + std::to_string(getppid()) + "-spike-aaaaaa");
  fs::create_directories(young);
  // Not ours to touch: other names, and files.
  fs::path other = dir_ / ("simtune_cli_" + std::to_string(dead) + "_Test");
  fs::create_directories(other);
  fs::path lock_file = dir_ / "simtune-ssh-board-22.lock";
  std::ofstream(lock_file) << "";

  EXPECT_EQ(SweepStaleScratchDirs(), 1u);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(foreign));
  EXPECT_TRUE(fs::exists(young));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(lock_file));
  close(fd);
  EXPECT_EQ(SweepStaleScratchDirs(), 1u);   // its owner is gone now
  EXPECT_FALSE(fs::exists(foreign));
}

}  // namespace
}  // namespace simtune
