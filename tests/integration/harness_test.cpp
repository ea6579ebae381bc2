// Tests of the test harness itself (tests/support/beanstalkd_server.hpp): it must start a server
// that is ours, on loopback, and stop, kill and restart it by pid on the same address.
#include <sys/wait.h>

#include <csignal>
#include <filesystem>

#include "beanstalkd_server.hpp"
#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

TEST(BeanstalkdServer, StartsOnAFreeLoopbackPortAndAnswers) {
  beanstalkd_server server;
  EXPECT_NE(server.port(), 0);
  EXPECT_NE(server.port(), 11300);
  EXPECT_EQ(server.endpoint(), endpoint::tcp("127.0.0.1", server.port()));
  EXPECT_TRUE(server.running());
  EXPECT_GT(server.pid(), 0);
  EXPECT_NE(server.command_line().find("-l 127.0.0.1 -p " + std::to_string(server.port())),
            std::string::npos)
      << server.command_line();

  client c(server.endpoint(), server_test::client_options());
  const auto stats = c.stats();
  EXPECT_EQ(stats.pid, static_cast<std::uint64_t>(server.pid()));
  EXPECT_EQ(stats.version, "1.12");
}

TEST(BeanstalkdServer, TwoServersGetDifferentPorts) {
  beanstalkd_server a;
  beanstalkd_server b;
  EXPECT_NE(a.port(), b.port());
  EXPECT_NE(a.pid(), b.pid());
}

TEST(BeanstalkdServer, DestructorStopsTheProcessAndRemovesTheTempDir) {
  pid_t pid = -1;
  std::filesystem::path dir;
  {
    beanstalkd_server server;
    pid = server.pid();
    dir = server.temp_dir();
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    EXPECT_TRUE(process_exists(pid));
  }
  // Reaped (not a zombie): kill(pid, 0) fails with ESRCH. (The pid could in theory be reused
  // at once, which is why this is not checked more strictly.)
  EXPECT_FALSE(process_exists(pid));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(BeanstalkdServer, StopThenRestartKeepsThePort) {
  beanstalkd_server server;
  const auto port = server.port();
  const auto first_pid = server.pid();
  server.stop();
  EXPECT_FALSE(server.running());
  EXPECT_EQ(server.pid(), -1);
  {
    client c;
    std::error_code ec;
    c.connect(server.endpoint(), ec);
    EXPECT_TRUE(ec) << "connected to a stopped server";
  }
  server.restart();
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.port(), port);
  EXPECT_NE(server.pid(), first_pid);
  client c(server.endpoint(), server_test::client_options());
  EXPECT_EQ(c.stats().pid, static_cast<std::uint64_t>(server.pid()));
}

TEST(BeanstalkdServer, KillThenRestartKeepsThePort) {
  beanstalkd_server server;
  const auto port = server.port();
  server.kill();
  EXPECT_FALSE(server.running());
  server.restart();
  EXPECT_EQ(server.port(), port);
  client c(server.endpoint(), server_test::client_options());
  EXPECT_EQ(c.stats().pid, static_cast<std::uint64_t>(server.pid()));
}

TEST(BeanstalkdServer, RestartWhileRunning) {
  beanstalkd_server server;
  const auto first_pid = server.pid();
  server.restart();
  EXPECT_NE(server.pid(), first_pid);
  EXPECT_FALSE(process_exists(first_pid));
  client c(server.endpoint(), server_test::client_options());
  EXPECT_EQ(c.stats().pid, static_cast<std::uint64_t>(server.pid()));
}

TEST(BeanstalkdServer, ExtraArgumentsArePassed) {
  beanstalkd_server server(server_options{}.with_args({"-z", "100"}));
  client c(server.endpoint(), server_test::client_options());
  EXPECT_EQ(c.stats().max_job_size, 100U);
}

TEST(BeanstalkdServer, UnixSocketMode) {
  beanstalkd_server server(server_options{}.with_unix_socket());
  EXPECT_EQ(server.port(), 0);
  ASSERT_FALSE(server.unix_path().empty());
  EXPECT_TRUE(server.endpoint().is_unix());
  EXPECT_TRUE(std::filesystem::is_socket(server.unix_path()));
  client c(server.endpoint(), server_test::client_options());
  EXPECT_EQ(c.stats().pid, static_cast<std::uint64_t>(server.pid()));
  // The socket file of a killed server is left behind; restart must cope.
  server.kill();
  server.restart();
  client again(server.endpoint(), server_test::client_options());
  EXPECT_EQ(again.stats().pid, static_cast<std::uint64_t>(server.pid()));
}

TEST(BeanstalkdServer, BinlogKeepsJobsAcrossRestart) {
  beanstalkd_server server(server_options{}.with_binlog());
  ASSERT_FALSE(server.binlog_dir().empty());
  EXPECT_TRUE(std::filesystem::is_directory(server.binlog_dir()));
  job_id id;
  {
    client c(server.endpoint(), server_test::client_options());
    EXPECT_GT(c.stats().binlog_current_index, 0U);
    id = c.put("survives");
  }
  server.kill();  // a crash: the binlog must still hold the job
  server.restart();
  client c(server.endpoint(), server_test::client_options());
  const auto j = c.peek(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->body, "survives");
}

TEST(BeanstalkdServer, SignalFreezesAndThaws) {
  beanstalkd_server server;
  server.signal(SIGSTOP);
  connection_options o = server_test::client_options();
  o.reply_timeout = 200ms;
  client c(server.endpoint(), o);  // the kernel still completes the handshake
  std::error_code ec;
  c.stats(ec);
  EXPECT_EQ(ec, errc::reply_timeout);
  server.signal(SIGCONT);
  c.connect(server.endpoint());
  c.stats();
}

TEST(BeanstalkdServer, StopEndsAFrozenServer) {
  beanstalkd_server server(server_options{}.with_stop_grace(3000ms));
  server.signal(SIGSTOP);
  const stopwatch sw;
  server.stop();
  EXPECT_FALSE(server.running());
  EXPECT_LT(sw.elapsed(), 2000ms) << "SIGTERM should have ended it after SIGCONT";
}

TEST(BeanstalkdServer, LogIsCaptured) {
  beanstalkd_server server(server_options{}.with_args({"-V"}));
  {
    client c(server.endpoint(), server_test::client_options());
    c.stats();
  }
  EXPECT_TRUE(std::filesystem::exists(server.log_path()));
  // -V makes beanstalkd log accepted connections.
  EXPECT_TRUE(eventually([&] { return !server.log().empty(); })) << server.log();
}

TEST(BeanstalkdServer, MissingExecutableIsReported) {
  EXPECT_THROW(beanstalkd_server(server_options{}.with_executable("/nonexistent/beanstalkd")),
               std::runtime_error);
}

TEST(BeanstalkdServer, FailingServerReportsItsLog) {
  try {
    beanstalkd_server server(server_options{}.with_args({"-z", "not-a-number"}));
    FAIL() << "started with a bad argument";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("server log"), std::string::npos) << e.what();
  }
}

TEST(BeanstalkdServer, FreePortIsNeverTheDefault) {
  for (int i = 0; i < 20; ++i) EXPECT_NE(find_free_loopback_port(), 11300);
}

// The fixture: one server per suite, one tube per test.
class ServerFixture : public server_test {};

TEST_F(ServerFixture, TubeIsDerivedFromTheTestName) {
  EXPECT_EQ(tube().str(), "t.ServerFixture.TubeIsDerivedFromTheTestName");
  EXPECT_EQ(unique_tube("x").str(), "t.ServerFixture.TubeIsDerivedFromTheTestName.x");
  auto c = make_client();
  EXPECT_EQ(c.list_tube_used(), tube().str());
  EXPECT_EQ(c.list_tubes_watched(), std::vector<std::string>{tube().str()});
}

TEST_F(ServerFixture, SanitizedNamesAreValid) {
  EXPECT_EQ(sanitized_tube_name("a b<c>").str(), "a_b_c_");
  EXPECT_EQ(sanitized_tube_name("-x").str(), "t-x");
  EXPECT_EQ(sanitized_tube_name("").str(), "t");
  const auto long_name = sanitized_tube_name(std::string(300, 'a'));
  EXPECT_EQ(long_name.str().size(), tube_name::max_size);
  EXPECT_NE(long_name, sanitized_tube_name(std::string(301, 'a')));
}

TEST_F(ServerFixture, SuiteServerIsShared) {
  EXPECT_TRUE(server().running());
  auto c = make_plain_client();
  EXPECT_EQ(c.list_tube_used(), "default");
}

}  // namespace
}  // namespace beanpole::testing
