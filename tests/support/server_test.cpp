#include "server_test.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>

namespace beanpole::testing {

tube_name sanitized_tube_name(std::string_view text) {
  std::string name;
  name.reserve(text.size());
  for (const char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    const bool punct = std::string_view("-+/;.$_()").find(c) != std::string_view::npos;
    name.push_back(alnum || punct ? c : '_');
  }
  if (name.empty() || name.front() == '-') name.insert(0, "t");
  if (name.size() > tube_name::max_size) {
    // Keep it unique: a prefix plus a hash of the whole.
    const std::string hash = std::to_string(std::hash<std::string_view>{}(text));
    name.resize(tube_name::max_size - hash.size() - 1);
    name += "." + hash;
  }
  return tube_name(name);
}

std::unique_ptr<beanstalkd_server>& server_test::suite_server() {
  static std::unique_ptr<beanstalkd_server> instance;
  return instance;
}

std::string& server_test::startup_error() {
  static std::string message;
  return message;
}

void server_test::start_suite_server(server_options options) {
  suite_server().reset();
  startup_error().clear();
  try {
    suite_server() = std::make_unique<beanstalkd_server>(std::move(options));
  } catch (const std::exception& e) {
    startup_error() = e.what();
  }
}

void server_test::stop_suite_server() {
  suite_server().reset();
}

beanstalkd_server& server_test::server() {
  if (!suite_server()) throw std::logic_error("server_test: no server: " + startup_error());
  return *suite_server();
}

void server_test::SetUp() {
  start_watchdog();
  if (!suite_server()) {
    GTEST_FAIL() << "the suite's beanstalkd did not start:\n" << startup_error();
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  tube_ = sanitized_tube_name(std::string("t.") + info->test_suite_name() + "." + info->name());
}

void server_test::TearDown() {
  stop_watchdog();
  if (HasFailure() && suite_server()) {
    std::fprintf(stderr, "--- beanstalkd (%s) log ---\n%s--- end of log ---\n",
                 suite_server()->command_line().c_str(), suite_server()->log().c_str());
  }
}

void server_test::start_watchdog() {
  test_done_ = false;
  const auto limit = time_limit();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  watchdog_ = std::thread([this, limit, name = std::move(name)] {
    std::unique_lock lock(watchdog_mutex_);
    if (!watchdog_cv_.wait_for(lock, limit, [this] { return test_done_; })) {
      std::fprintf(stderr, "\n*** %s exceeded its time limit of %lld s: aborting the run\n",
                   name.c_str(), static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::_Exit(124);
    }
  });
}

void server_test::stop_watchdog() {
  {
    const std::lock_guard lock(watchdog_mutex_);
    test_done_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

tube_name server_test::unique_tube(std::string_view suffix) const {
  return sanitized_tube_name(tube_.str() + "." + std::string(suffix));
}

connection_options server_test::client_options() {
  connection_options o;
  o.connect_timeout = std::chrono::seconds{2};
  o.reply_timeout = std::chrono::seconds{5};
  return o;
}

client server_test::make_client(connection_options options) {
  client c(server().endpoint(), options);
  c.use(tube_);
  c.watch(tube_);
  c.ignore("default");
  return c;
}

client server_test::make_plain_client(connection_options options) {
  return client(server().endpoint(), options);
}

}  // namespace beanpole::testing
