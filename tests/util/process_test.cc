// RunProcess's guarantees (include/simtune/process.h) against children that misbehave, and
// the helpers that bound what users may ask for (timeouts, worker counts).
#include "simtune/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "simtune/strings.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

// A child that closes its stdout and stderr and then loops used to make RunProcess wait in
// waitpid forever: the deadline was checked only while reading the pipes.
TEST(Process, HungChildWithClosedOutputEndsByItsDeadline) {
  ProcessOptions o;
  o.timeout_s = 1;
  auto start = std::chrono::steady_clock::now();
  // (A thread, so that a regression fails the test instead of hanging it.)
  Result<ProcessResult> r = Error{"not finished"};
  std::thread t([&] { r = RunProcess({"sh", "-c", "exec >&- 2>&-; while :; do :; done"}, o); });
  for (int i = 0; i < 100 && !r.ok(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.ok()) {
    t.detach();   // hung: the process exits with the failure
    FAIL() << "RunProcess still waiting after " << took << " s for a 1 s timeout";
  }
  t.join();
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(r->wall_s, 2.0);
  EXPECT_EQ(r->Describe(1), "timed out after 1 s");
}

// Exiting quickly after closing the pipes is still an exit, with its status.
TEST(Process, ChildThatClosesItsOutputThenExitsIsReaped) {
  auto r = RunProcess({"sh", "-c", "echo hi; exec >&- 2>&-; sleep 0.2; exit 4"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "hi\n");
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_FALSE(r->timed_out);
}

// What the child left running in its process group does not outlive the run.
TEST(Process, LeftoversInTheChildsGroupAreKilled) {
  fs::path pid_file = fs::temp_directory_path() / ("simtune_leftover_" + std::to_string(getpid()));
  auto r = RunProcess({"sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $! > " + pid_file.string()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  pid_t leftover = 0;
  std::ifstream(pid_file) >> leftover;
  fs::remove(pid_file);
  ASSERT_GT(leftover, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(leftover) + "/stat");
    std::string line;
    // Gone, or a zombie waiting for init to reap it.
    gone = !std::getline(stat, line) || line.find(") Z ") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "sleep " << leftover << " survived its run";
}

// The child gets stdin, stdout and stderr and nothing else of ours (it used to keep the
// /dev/null it opened for stdin, and any descriptor simtune had open without CLOEXEC).
TEST(Process, ChildInheritsOnlyTheStandardDescriptors) {
  int leaked = open("/dev/null", O_RDONLY);   // no O_CLOEXEC
  ASSERT_GE(leaked, 3);
  auto r = RunProcess({"sh", "-c", "ls /proc/$$/fd; :"});
  close(leaked);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "0\n1\n2\n") << r->err;
}

// Output over the cap keeps its head and its tail (where the harness prints its verdict).
TEST(Process, LongOutputKeepsHeadAndTail) {
  ProcessOptions o;
  o.max_output_bytes = 1000;
  auto r = RunProcess({"sh", "-c",
                       "echo first; i=0; while [ $i -lt 500 ]; do echo 'line of chatter'; "
                       "i=$((i+1)); done; echo 'simtune: verify ok'; echo err >&2"},
                      o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.rfind("first\nline of chatter\n", 0), 0u);
  EXPECT_EQ(r->out.substr(r->out.size() - 19), "simtune: verify ok\n");
  size_t total = 6 + 500 * 16 + 19;
  EXPECT_NE(r->out.find("\n...[" + std::to_string(total - 1000) + " bytes dropped]...\n"),
            std::string::npos)
      << r->out;
  EXPECT_EQ(r->err, "err\n");
}

TEST(Process, InvalidUtf8IsReplacedAtCapture) {
  auto r = RunProcess({"printf", "ok \\377\\376 caf\\303\\251 \\303"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "ok \xEF\xBF\xBD\xEF\xBF\xBD caf\xC3\xA9 \xEF\xBF\xBD");
}

TEST(Process, HugeTimeoutsAreRejectedOrClamped) {
  EXPECT_EQ(ParseTimeout("0", "--verify-timeout").message(),
            "--verify-timeout: expected seconds > 0; got '0'");
  EXPECT_EQ(ParseTimeout("-5", "x").message(), "x: expected seconds > 0; got '-5'");
  EXPECT_EQ(ParseTimeout("1e300", "x").message(),
            "x: at most 2592000 s (30 days); got '1e300'");
  EXPECT_EQ(ParseTimeout("abc", "x").message(), "x: expected a number; got 'abc'");
  EXPECT_EQ(*ParseTimeout("2592000", "x"), 2592000);
  // RunProcess itself takes any value: 1e300 s is the longest timeout, not an overflow.
  ProcessOptions o;
  o.timeout_s = 1e300;
  auto r = RunProcess({"sh", "-c", "exit 2"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_FALSE(r->timed_out);
}

TEST(Process, WorkerCountIsCappedByTheWorkAndASaneMaximum) {
  EXPECT_EQ(WorkerCount(2147483647, 3), 3);
  EXPECT_EQ(WorkerCount(2147483647, 1000000), kMaxWorkers);
  EXPECT_EQ(WorkerCount(4, 0), 1);
  EXPECT_EQ(WorkerCount(2, 10), 2);
  EXPECT_GE(WorkerCount(0, 10), 1);
}

TEST(Strings, SanitizeUtf8) {
  EXPECT_EQ(SanitizeUtf8("plain"), "plain");
  EXPECT_EQ(SanitizeUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(SanitizeUtf8("\x80"), r);                  // stray continuation byte
  EXPECT_EQ(SanitizeUtf8("a\xC3"), "a" + r);           // truncated at the end
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), r + r);          // overlong '/'
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), r + r + r);  // surrogate U+D800
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"), r + r + r + r);   // above U+10FFFF
  EXPECT_EQ(SanitizeUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Strings, DumpJsonNeverThrows) {
  nlohmann::json j = {{"message", "crashed after \xFF\xFE"}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::exception);
  EXPECT_EQ(DumpJson(j), "{\"message\":\"crashed after \xEF\xBF\xBD\xEF\xBF\xBD\"}");
  nlohmann::ordered_json ordered = {{"z", 1}, {"a", "\xFF"}};
  EXPECT_EQ(DumpJson(ordered), "{\"z\":1,\"a\":\"\xEF\xBF\xBD\"}");
}

TEST(Strings, ParseKeyValuesRejectsRepeatsAndMissingEquals) {
  auto kv = ParseKeyValues(" a = 1 ,b=x=y", "thing option");
  ASSERT_TRUE(kv.ok());
  ASSERT_EQ(kv->size(), 2u);
  EXPECT_EQ((*kv)[0], std::make_pair(std::string("a"), std::string("1")));
  EXPECT_EQ((*kv)[1], std::make_pair(std::string("b"), std::string("x=y")));
  EXPECT_TRUE(ParseKeyValues("  ", "x")->empty());
  EXPECT_EQ(ParseKeyValues("rounds=3,rounds=5", "native reference option").message(),
            "native reference option rounds: given twice");
  EXPECT_EQ(ParseKeyValues("a=1,b", "thing option").message(),
            "thing option 'b': expected key=value");
}

}  // namespace
}  // namespace simtune
