// GoogleTest fixture base for tests against a real beanstalkd.
//
// - One server per test suite: started in SetUpTestSuite, stopped in TearDownTestSuite. With
//   gtest_discover_tests every test runs in its own process anyway, so `ctest -j` never makes two
//   tests share a server; run directly, the tests of one suite share it, one after another.
// - One tube per test: `tube()` is derived from the suite and test names ("t.Suite.Test"), so
//   tests never see each other's jobs even on a shared server. `unique_tube("x")` gives more.
// - A time limit per test: a watchdog ends the process (exit code 124, with a message) when a
//   test runs longer than `time_limit()` (30 s by default), so no test can hang even when the
//   binary runs outside ctest. Clients from `make_client` also have a reply timeout.
// - On failure, the server's log is printed.
//
// A suite that needs a differently configured server declares its own SetUpTestSuite:
//
//   class small_jobs : public beanpole::testing::server_test {
//    public:
//     static void SetUpTestSuite() { start_suite_server(server_options{}.with_args({"-z", "100"}));
//     }
//   };
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "beanpole/client.hpp"
#include "beanstalkd_server.hpp"

namespace beanpole::testing {

class server_test : public ::testing::Test {
 public:
  static void SetUpTestSuite() { start_suite_server({}); }
  static void TearDownTestSuite() { stop_suite_server(); }

  /// Options for clients of tests: connect timeout 2 s, reply timeout 5 s.
  static connection_options client_options();

 protected:
  /// Starts (or replaces) the suite's server. Failure is reported by every test's SetUp.
  static void start_suite_server(server_options options);
  static void stop_suite_server();
  /// The suite's server. Valid inside tests (SetUp fails the test when there is none).
  static beanstalkd_server& server();

  void SetUp() override;
  void TearDown() override;

  /// Upper bound on one test's run time; override for a longer test.
  virtual std::chrono::seconds time_limit() const { return std::chrono::seconds{30}; }

  /// This test's own tube.
  const tube_name& tube() const { return tube_; }
  /// Another tube private to this test: "<tube()>.<suffix>".
  tube_name unique_tube(std::string_view suffix) const;

  /// A client connected to the suite's server that uses and watches `tube()` only.
  client make_client() { return make_client(client_options()); }
  client make_client(connection_options options);
  /// A client connected to the suite's server, in the initial state (uses/watches "default").
  client make_plain_client(connection_options options = client_options());

 private:
  static std::unique_ptr<beanstalkd_server>& suite_server();
  static std::string& startup_error();

  void start_watchdog();
  void stop_watchdog();

  tube_name tube_;
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_cv_;
  bool test_done_ = false;
  std::thread watchdog_;
};

/// A valid tube name made from `text` (characters outside the protocol's set become '_'; the
/// result is at most 200 bytes and does not start with '-').
tube_name sanitized_tube_name(std::string_view text);

}  // namespace beanpole::testing
