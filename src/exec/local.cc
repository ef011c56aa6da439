// Local executor: a pool of threads, each running one job (its compiler, emulator and
// simulator processes) at a time. The calling thread only waits and delivers results.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "simtune/exec.h"
#include "simtune/process.h"

namespace simtune {
namespace {

class LocalExecutor : public Executor {
 public:
  LocalExecutor(std::unique_ptr<JobRunner> runner, int jobs)
      : runner_(std::move(runner)), jobs_(jobs) {}
  std::string name() const override { return "local"; }
  int workers() const override { return jobs_; }

  using Executor::Run;
  Status Run(const std::vector<Job>& jobs, const std::function<void(JobResult)>& on_result,
             const WhileWaiting& while_waiting) override {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<JobResult> finished;
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    size_t n_threads = std::min(jobs.size(), static_cast<size_t>(jobs_));
    for (size_t w = 0; w < n_threads; ++w) {
      threads.emplace_back([&, w] {
        for (size_t i = next++; i < jobs.size(); i = next++) {
          JobResult r = runner_->RunJob(jobs[i]);
          r.worker = "local:" + std::to_string(w);
          std::lock_guard<std::mutex> lock(mu);
          finished.push_back(std::move(r));
          cv.notify_one();
        }
      });
    }
    for (size_t done = 0; done < jobs.size(); ++done) {
      std::unique_lock<std::mutex> lock(mu);
      if (while_waiting.call) {
        while (!cv.wait_for(lock, while_waiting.every, [&] { return !finished.empty(); })) {
          lock.unlock();
          while_waiting.call();
          lock.lock();
        }
      } else {
        cv.wait(lock, [&] { return !finished.empty(); });
      }
      JobResult r = std::move(finished.front());
      finished.pop_front();
      lock.unlock();
      on_result(std::move(r));
    }
    for (auto& t : threads) t.join();
    return Status::Ok();
  }

 private:
  std::unique_ptr<JobRunner> runner_;
  int jobs_;
};

}  // namespace

Result<std::unique_ptr<Executor>> MakeLocalExecutor(const JobContext& context, int jobs) {
  jobs = WorkerCount(jobs, static_cast<size_t>(kMaxWorkers));   // Run caps it at each batch
  SIMTUNE_ASSIGN_OR_RETURN(auto runner, JobRunner::Create(context));
  return std::unique_ptr<Executor>(new LocalExecutor(std::move(runner), jobs));
}

}  // namespace simtune
