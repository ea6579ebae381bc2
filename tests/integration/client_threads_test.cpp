// The blocking client shared by several threads against a real beanstalkd: calls are serialized
// by the client's mutex, so every reply reaches the thread that sent the command.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

class ClientThreads : public server_test {};

TEST_F(ClientThreads, FourThreadsPutFiveHundredJobsEach) {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  auto c = make_client();
  std::mutex mutex;
  std::map<job_id, std::string> put;  // id -> body
  std::vector<std::string> failures;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::string body = "thread " + std::to_string(t) + " job " + std::to_string(i);
        if (i % 50 == 0) body += std::string(3000, static_cast<char>('a' + t));  // some big ones
        std::error_code ec;
        const job_id id = c.put(body, {}, ec);
        const std::lock_guard lock(mutex);
        if (ec) {
          failures.push_back(ec.message());
        } else if (!put.emplace(id, std::move(body)).second) {
          failures.push_back("duplicate id " + std::to_string(id.value));
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  ASSERT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  ASSERT_EQ(put.size(), static_cast<std::size_t>(threads * per_thread));

  const auto st = c.stats_tube(tube());
  EXPECT_EQ(st.total_jobs, static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_EQ(st.current_jobs_ready, static_cast<std::uint64_t>(threads * per_thread));

  // Every job is there with the body its put sent.
  std::size_t seen = 0;
  for (;;) {
    auto j = c.reserve_with_timeout(0s);
    if (!j) break;
    const auto it = put.find(j->id());
    ASSERT_NE(it, put.end()) << "unknown id " << j->id();
    EXPECT_EQ(j->body(), it->second);
    put.erase(it);
    j->remove();
    ++seen;
  }
  EXPECT_EQ(seen, static_cast<std::size_t>(threads * per_thread));
  EXPECT_TRUE(put.empty());
}

TEST_F(ClientThreads, MixedCommandsFromManyThreads) {
  // Puts, peeks, stats and tube listings interleaved: each thread must get answers to its own
  // commands (a mixed-up reply would show as a wrong type, a wrong body or an error).
  auto c = make_client();
  std::atomic<int> errors{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::error_code ec;
        const std::string body = std::to_string(t) + ":" + std::to_string(i);
        const job_id id = c.put(body, {}, ec);
        if (ec) {
          ++errors;
          continue;
        }
        const auto j = c.peek(id, ec);
        if (ec || !j || j->body != body) ++errors;
        if (c.stats_job(id, ec).id != id.value || ec) ++errors;
        if (c.list_tube_used(ec) != tube().str() || ec) ++errors;
        c.remove(id, ec);
        if (ec) ++errors;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(c.stats_tube(tube()).current_jobs_ready, 0U);
}

TEST_F(ClientThreads, WorkersWithTheirOwnClients) {
  // The recommended pattern: one client per worker thread.
  constexpr int jobs = 200;
  auto producer = make_client();
  for (int i = 0; i < jobs; ++i) producer.put(std::to_string(i));
  std::mutex mutex;
  std::set<std::string> done;
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&] {
      auto c = make_client();
      while (auto j = c.reserve_with_timeout(0s)) {
        {
          const std::lock_guard lock(mutex);
          done.insert(j->body());
        }
        j->remove();
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(done.size(), static_cast<std::size_t>(jobs));
}

}  // namespace
}  // namespace beanpole::testing
