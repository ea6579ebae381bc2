// Load: 1,000 reserves waiting at once, each on a connection of its own, in one process, while
// producers put 20,000 jobs. Every job must arrive exactly once and be deleted; the process's
// peak memory and descriptors are printed, and the memory a waiting reserve costs is bounded:
// an idle reserve connection must not keep a full-size read buffer.
//
// Its own executable, so that what it measures is this workload and not other tests'.
#include <sys/resource.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "async_test_support.hpp"
#include "beanpole/async_client.hpp"
#include "server_test.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t waiting_reserves = 1000;
constexpr std::size_t jobs = 20000;
/// Descriptors the test needs: the reserves' connections, the server's ends of them, spare.
constexpr rlim_t descriptors_needed = 2 * waiting_reserves + 200;
/// The aim of the issue: 1,000 waiting reserves in under 20 MB, the whole process included.
constexpr std::size_t peak_rss_limit = std::size_t{20} * 1024 * 1024;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;  // shadow memory makes RSS meaningless
#else
constexpr bool sanitized = false;
#endif

/// A field of /proc/self/status in bytes ("VmRSS", "VmHWM").
std::size_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

double mib(std::size_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

/// Raises this process's descriptor limit (the server started next inherits it). False when the
/// hard limit does not allow it.
bool raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur >= descriptors_needed) return true;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < descriptors_needed) return false;
  lim.rlim_cur = descriptors_needed;
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

class waiting_reserves_load : public server_test {
 public:
  static void SetUpTestSuite() {
    descriptors_ok() = raise_descriptor_limit();
    start_suite_server({});
  }

 protected:
  static bool& descriptors_ok() {
    static bool ok = false;
    return ok;
  }
  std::chrono::seconds time_limit() const override { return 240s; }
};

/// One reserve loop: reserve, record, delete, reserve again, until every job has come.
struct consumer {
  async_client& client;
  std::vector<std::uint8_t>& seen;  // times each job ("job-N") was received
  std::size_t& deleted;
  std::size_t& failures;

  void reserve() {
    client.async_reserve([this](std::error_code ec, job j) {
      if (ec) {
        if (ec != asio::error::operation_aborted) ++failures;
        return;
      }
      const std::size_t n = std::stoul(j.body.substr(4));
      if (n >= seen.size()) {
        ++failures;  // not a body this test put
      } else if (seen[n] < 255) {
        ++seen[n];
      }
      client.async_remove(j.id, [this](std::error_code dec) {
        if (dec) {
          ++failures;
          return;
        }
        ++deleted;
        reserve();
      });
    });
  }
};

TEST_F(waiting_reserves_load, a_thousand_waiting_reserves_get_twenty_thousand_jobs_once_each) {
  if (!descriptors_ok())
    GTEST_SKIP() << "the descriptor limit cannot be raised to " << descriptors_needed;

  const std::size_t rss_at_start = status_bytes("VmRSS");
  const std::size_t fds_at_start = open_descriptors();

  // Everything runs on this thread's io_context: handlers need no locks.
  asio::io_context io;
  auto options = test_client_options(10s);
  options.max_reserve_connections = waiting_reserves;
  async_client consumers(io.get_executor(), server().endpoint(), options);
  async_client producer(io.get_executor(), server().endpoint(), test_client_options(10s));

  std::vector<std::uint8_t> seen(jobs, 0);
  std::size_t deleted = 0;
  std::size_t failures = 0;
  int ready = 0;
  auto count_ready = [&](std::error_code ec) {
    if (ec) ++failures;
    ++ready;
  };
  consumers.async_connect(count_ready);
  auto count_watched = [&](std::error_code ec, std::size_t /*watching*/) { count_ready(ec); };
  consumers.async_watch(tube(), count_watched);
  consumers.async_ignore("default", count_watched);
  producer.async_connect(count_ready);
  producer.async_use(tube(), count_ready);
  ASSERT_TRUE(run_until(
      io, [&] { return ready == 5; }, 10s));
  ASSERT_EQ(failures, 0U);

  std::vector<consumer> loops(waiting_reserves, consumer{consumers, seen, deleted, failures});
  for (auto& c : loops) c.reserve();

  // Every reserve waiting on the server: that is the state whose cost is measured.
  auto observer = make_client();
  auto waiting = [&] { return observer.stats_tube(tube()).current_waiting; };
  ASSERT_TRUE(run_until(
      io, [&] { return failures > 0 || waiting() == waiting_reserves; }, 60s))
      << "waiting on the server: " << waiting();
  ASSERT_EQ(failures, 0U);
  const std::size_t rss_waiting = status_bytes("VmRSS");
  const std::size_t fds_waiting = open_descriptors();

  // A producer keeps a window of puts in flight, as a real one would, rather than queueing all
  // 20,000 at once (their queued operations would be most of the peak measured below).
  constexpr std::size_t window = 1000;
  std::size_t acknowledged = 0;
  std::size_t issued = 0;
  std::function<void()> put_next = [&] {
    const std::size_t n = issued++;
    producer.async_put("job-" + std::to_string(n), {}, [&](std::error_code ec, job_id) {
      if (ec) {
        ++failures;
        return;
      }
      ++acknowledged;
      if (issued < jobs) put_next();
    });
  };
  asio::post(io, [&] {
    for (std::size_t i = 0; i < window; ++i) put_next();
  });
  ASSERT_TRUE(run_until(
      io, [&] { return failures > 0 || deleted == jobs; }, 180s))
      << "acknowledged " << acknowledged << ", deleted " << deleted;
  EXPECT_EQ(failures, 0U);
  EXPECT_EQ(acknowledged, jobs);
  std::size_t never = 0;
  std::size_t twice = 0;
  for (const auto times : seen) {
    never += times == 0 ? 1 : 0;
    twice += times > 1 ? 1 : 0;
  }
  EXPECT_EQ(never, 0U) << "jobs never received";
  EXPECT_EQ(twice, 0U) << "jobs received more than once";
  const auto stats = observer.stats_tube(tube());
  EXPECT_EQ(stats.current_jobs_ready + stats.current_jobs_reserved, 0U);
  EXPECT_EQ(stats.total_jobs, jobs);

  const std::size_t peak = status_bytes("VmHWM");
  std::printf(
      "%zu waiting reserves: %zu descriptors (%zu before), RSS %.1f MiB (%.1f MiB before), "
      "%.1f KiB per waiting reserve; after %zu jobs: peak RSS %.1f MiB\n",
      waiting_reserves, fds_waiting, fds_at_start, mib(rss_waiting), mib(rss_at_start),
      static_cast<double>(rss_waiting - rss_at_start) / 1024.0 / waiting_reserves, jobs, mib(peak));
  if (!sanitized) {
    EXPECT_LT(rss_waiting, peak_rss_limit) << "RSS with every reserve waiting";
    EXPECT_LT(peak, peak_rss_limit) << "peak RSS " << mib(peak) << " MiB";
  }

  consumers.close();
  producer.close();
  EXPECT_TRUE(run_until(
      io, [&] { return io.stopped(); }, 10s))
      << "run() did not return";
}

}  // namespace
}  // namespace beanpole::testing
