// MPI executor (Open MPI). Rank 0 coordinates: it hands one job at a time to each idle worker
// rank and receives results; workers build and simulate. Messages are JSON strings. Both
// sides wait by polling with short sleeps instead of blocking MPI calls, because Open MPI's
// blocking receive spins a core, and here the cores are what the simulators need.
// Open MPI's C++ bindings are deprecated and warn under -Wextra; the C API is all we use.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <deque>
#include <map>
#include <thread>

#include "simtune/exec.h"
#include "simtune/strings.h"

namespace simtune {
namespace {

enum Tag : int { kContext = 1, kReady = 2, kJob = 3, kResult = 4, kStop = 5 };

bool g_workers_stopped = false;
MpiWorld g_world;

void Send(const std::string& text, int dest, int tag) {
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD);
}

// Waits for the next message from `source` (or any) with `tag` (or any); returns its text
// and fills in source and tag.
std::string Receive(int* source, int* tag, const Executor::WhileWaiting* while_waiting = nullptr) {
  MPI_Status status;
  int flag = 0;
  auto last_call = std::chrono::steady_clock::now();
  for (;;) {
    MPI_Iprobe(*source, *tag, MPI_COMM_WORLD, &flag, &status);
    if (flag) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (while_waiting != nullptr && while_waiting->call &&
        std::chrono::steady_clock::now() - last_call >= while_waiting->every) {
      while_waiting->call();
      last_call = std::chrono::steady_clock::now();
    }
  }
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  std::string text(static_cast<size_t>(count), '\0');
  MPI_Recv(text.data(), count, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  *source = status.MPI_SOURCE;
  *tag = status.MPI_TAG;
  return text;
}

void StopWorkers() {
  if (g_world.rank != 0 || g_workers_stopped) return;
  g_workers_stopped = true;
  for (int r = 1; r < g_world.size; ++r) Send("", r, kStop);
}

class MpiExecutor : public Executor {
 public:
  MpiExecutor(std::unique_ptr<JobRunner> local, int size) : local_(std::move(local)), size_(size) {}
  ~MpiExecutor() override { StopWorkers(); }
  std::string name() const override { return "mpi"; }
  int workers() const override { return size_ > 1 ? size_ - 1 : 1; }

  using Executor::Run;
  Status Run(const std::vector<Job>& jobs, const std::function<void(JobResult)>& on_result,
             const WhileWaiting& while_waiting) override {
    if (size_ == 1) {   // nobody to delegate to
      for (const auto& job : jobs) {
        JobResult r = local_->RunJob(job);
        r.worker = "mpi:0";
        on_result(std::move(r));
      }
      return Status::Ok();
    }
    std::deque<size_t> idle;
    for (int r = 1; r < size_; ++r) idle.push_back(static_cast<size_t>(r));
    size_t next = 0, done = 0;
    while (done < jobs.size()) {
      while (next < jobs.size() && !idle.empty()) {
        nlohmann::json j = {{"id", jobs[next].id}, {"config", jobs[next].config}};
        Send(DumpJson(j), static_cast<int>(idle.front()), kJob);
        idle.pop_front();
        ++next;
      }
      int source = MPI_ANY_SOURCE, tag = kResult;
      std::string text = Receive(&source, &tag, &while_waiting);
      auto parsed = nlohmann::json::parse(text, nullptr, false);
      if (parsed.is_discarded()) return Error{"mpi rank " + std::to_string(source) + " sent a result that is not JSON"};
      auto r = JobResult::FromJson(parsed);
      if (!r.ok()) return Wrap(r.error(), "mpi rank " + std::to_string(source));
      idle.push_back(static_cast<size_t>(source));
      ++done;
      on_result(std::move(r).value());
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<JobRunner> local_;
  int size_;
};

}  // namespace

Result<MpiWorld> MpiInit() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // Errors come back as return codes instead of aborting every rank.
    if (MPI_Init(nullptr, nullptr) != MPI_SUCCESS) return Error{"MPI_Init failed"};
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  return g_world;
}

void MpiFinalize() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  StopWorkers();   // rank 0 on any path, error paths included, releases the workers
  MPI_Finalize();
}

Result<std::unique_ptr<Executor>> MakeMpiExecutor(const JobContext& context) {
  SIMTUNE_CHECK_MSG(g_world.rank == 0, "MakeMpiExecutor on a worker rank");
  auto local = JobRunner::Create(context);
  if (!local.ok()) return local.error();
  // Every worker resolves the context itself and says whether it could.
  std::string text = DumpJson(context.ToJson());
  for (int r = 1; r < g_world.size; ++r) Send(text, r, kContext);
  std::map<int, std::string> errors;
  for (int n = 1; n < g_world.size; ++n) {
    int source = MPI_ANY_SOURCE, tag = kReady;
    std::string reply = Receive(&source, &tag);
    if (!reply.empty()) errors[source] = reply;
  }
  if (!errors.empty())
    return Error{"mpi rank " + std::to_string(errors.begin()->first) + ": " + errors.begin()->second};
  return std::unique_ptr<Executor>(new MpiExecutor(std::move(local).value(), g_world.size));
}

int RunMpiWorker() {
  std::unique_ptr<JobRunner> runner;
  for (;;) {
    int source = 0, tag = MPI_ANY_TAG;
    std::string text = Receive(&source, &tag);
    if (tag == kStop) return 0;
    if (tag == kContext) {
      auto j = nlohmann::json::parse(text, nullptr, false);
      auto context = j.is_discarded() ? Result<JobContext>(Error{"job context is not JSON"})
                                      : JobContext::FromJson(j);
      if (context.ok()) {
        auto r = JobRunner::Create(*context);
        if (r.ok()) {
          runner = std::move(r).value();
          Send("", 0, kReady);
          continue;
        }
        Send(r.message(), 0, kReady);
      } else {
        Send(context.message(), 0, kReady);
      }
      continue;   // the coordinator fails and then stops us
    }
    if (tag == kJob) {
      auto j = nlohmann::json::parse(text, nullptr, false);
      SIMTUNE_CHECK_MSG(!j.is_discarded() && runner, "bad job message from rank 0");
      Job job;
      job.id = j.at("id").get<int64_t>();
      job.config = j.at("config").get<Config>();
      JobResult r = runner->RunJob(job);
      r.worker = "mpi:" + std::to_string(g_world.rank);
      Send(DumpJson(r.ToJson()), 0, kResult);
    }
  }
}

}  // namespace simtune
