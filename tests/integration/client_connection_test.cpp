// The blocking client against a real beanstalkd: connecting (TCP, Unix socket, host names),
// connection failures (refused, connect timeout, server killed or frozen mid-session), quit,
// close and reconnect.
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <thread>

#include "server_test.hpp"
#include "test_helpers.hpp"

namespace beanpole::testing {
namespace {

class ClientConnection : public server_test {};

/// A connection failure: one of beanpole's connection errors, or a socket error.
::testing::AssertionResult is_connection_error(std::error_code ec) {
  if (ec == condition::connection_failure || ec.category() == std::system_category()) {
    return ::testing::AssertionSuccess() << ec.message();
  }
  return ::testing::AssertionFailure() << "not a connection error: " << ec << " " << ec.message();
}

TEST_F(ClientConnection, UnconnectedClientFailsWithNotConnected) {
  client c(client_options());
  EXPECT_FALSE(c.is_open());
  std::error_code ec;
  c.put("x", {}, ec);
  EXPECT_EQ(ec, errc::not_connected);
  EXPECT_EQ(ec, condition::connection_failure);
  c.reserve_with_timeout(0s, ec);
  EXPECT_EQ(ec, errc::not_connected);
  c.reserve(ec);
  EXPECT_EQ(ec, errc::not_connected);
  EXPECT_TRUE(throws_errc([&] { c.stats(); }, errc::not_connected));
  EXPECT_TRUE(throws_errc([&] { c.quit(); }, errc::not_connected));
}

TEST_F(ClientConnection, ConnectLater) {
  client c(client_options());
  c.connect(server().endpoint());
  EXPECT_TRUE(c.is_open());
  EXPECT_EQ(c.list_tube_used(), "default");
  EXPECT_EQ(c.options().reply_timeout, client_options().reply_timeout);
}

TEST_F(ClientConnection, ConnectByLocalhostName) {
  // "localhost" is resolved at connect time; every address is tried in turn (where localhost
  // also resolves to ::1, that one is refused, as the server listens on 127.0.0.1 only).
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  ASSERT_EQ(::getaddrinfo("localhost", nullptr, &hints, &found), 0);
  int count = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) ++count;
  ::freeaddrinfo(found);
  RecordProperty("localhost_addresses", count);

  client c(endpoint::tcp("localhost", server().port()), client_options());
  EXPECT_TRUE(c.is_open());
  c.use(tube());
  const job_id id = c.put("by name");
  EXPECT_EQ(c.peek(id)->body, "by name");
}

TEST_F(ClientConnection, ConnectByParsedAddress) {
  endpoint ep;
  ASSERT_FALSE(endpoint::parse("127.0.0.1:" + std::to_string(server().port()), ep));
  client c(ep, client_options());
  EXPECT_EQ(c.list_tube_used(), "default");
}

TEST_F(ClientConnection, ConnectToAPortWhereNothingListensFailsPromptly) {
  const auto port = find_free_loopback_port();
  client c(client_options());
  std::error_code ec;
  const stopwatch sw;
  c.connect(endpoint::tcp("127.0.0.1", port), ec);
  EXPECT_EQ(ec, std::errc::connection_refused) << ec.message();
  EXPECT_LT(sw.elapsed(), 1000ms);
  EXPECT_FALSE(c.is_open());
  c.stats(ec);
  EXPECT_EQ(ec, errc::not_connected);

  // The throwing constructor throws a beanpole::error (a std::system_error).
  EXPECT_THROW(client(endpoint::tcp("127.0.0.1", port), client_options()), beanpole::error);
  try {
    client refused(endpoint::tcp("127.0.0.1", port), client_options());
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::connection_refused);
  }
}

TEST_F(ClientConnection, ConnectToAMissingUnixSocketFails) {
  client c(client_options());
  std::error_code ec;
  c.connect(endpoint::unix_socket(server().temp_dir() / "no-such.sock"), ec);
  EXPECT_TRUE(ec);
  EXPECT_FALSE(c.is_open());
}

TEST_F(ClientConnection, ConnectToAnUnknownHostFails) {
  client c(client_options());
  std::error_code ec;
  c.connect(endpoint::tcp("no-such-host.invalid", server().port()), ec);
  EXPECT_TRUE(ec);
  EXPECT_FALSE(c.is_open());
}

// A listener whose accept queue is full: Linux then drops further SYNs, so a connect hangs (on
// loopback, without any outside address). The queue of a backlog-0 listener holds one connection.
class full_listener {
 public:
  full_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return;
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 0);
    for (int i = 0; i < 4; ++i) {  // fill the queue; the later ones stay in SYN_SENT
      const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      ::connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
      fillers_.push_back(c);
    }
    std::this_thread::sleep_for(100ms);
  }
  ~full_listener() {
    for (const int c : fillers_) ::close(c);
    ::close(fd_);
  }
  full_listener(const full_listener&) = delete;
  full_listener& operator=(const full_listener&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> fillers_;
};

TEST_F(ClientConnection, ConnectTimeout) {
  const full_listener listener;
  ASSERT_NE(listener.port(), 0);
  auto o = client_options();
  o.connect_timeout = 300ms;
  client c(o);
  std::error_code ec;
  const stopwatch sw;
  c.connect(endpoint::tcp("127.0.0.1", listener.port()), ec);
  if (!ec) {
    GTEST_SKIP() << "this kernel completed the handshake despite the full accept queue; "
                    "cannot provoke a connect timeout on loopback here";
  }
  EXPECT_EQ(ec, errc::connect_timeout) << ec.message();
  EXPECT_GE(sw.elapsed(), 250ms);
  EXPECT_LT(sw.elapsed(), 2000ms);
  EXPECT_FALSE(c.is_open());
}

TEST_F(ClientConnection, ServerKilledMidSession) {
  beanstalkd_server own;  // this test kills its server
  client c(own.endpoint(), client_options());
  c.use(tube());
  c.put("lost with the server");
  own.kill();
  std::error_code ec;
  c.list_tube_used(ec);
  EXPECT_TRUE(ec);
  EXPECT_TRUE(is_connection_error(ec));
  RecordProperty("error", ec.category().name() + std::string(": ") + ec.message());
  EXPECT_FALSE(c.is_open());
  // Every later call fails with not_connected, at once.
  const stopwatch sw;
  c.put("x", {}, ec);
  EXPECT_EQ(ec, errc::not_connected);
  c.stats(ec);
  EXPECT_EQ(ec, errc::not_connected);
  EXPECT_TRUE(throws_errc([&] { c.list_tubes(); }, errc::not_connected));
  EXPECT_LT(sw.elapsed(), 500ms);

  // The server comes back on the same port; connect() again works, in a fresh state.
  own.restart();
  c.connect(own.endpoint());
  EXPECT_EQ(c.list_tube_used(), "default");
  EXPECT_FALSE(c.peek_ready().has_value());  // no binlog: the job died with the server
}

TEST_F(ClientConnection, ServerKilledDuringAPlainReserve) {
  beanstalkd_server own;
  client c(own.endpoint(), client_options());
  auto killer = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(300ms);
    own.kill();
  });
  std::error_code ec;
  const stopwatch sw;
  c.reserve(ec);  // no reply timeout: only the lost connection ends it
  killer.get();
  EXPECT_TRUE(is_connection_error(ec));
  RecordProperty("error", ec.category().name() + std::string(": ") + ec.message());
  EXPECT_LT(sw.elapsed(), 3000ms);
  EXPECT_FALSE(c.is_open());
  c.reserve(ec);
  EXPECT_EQ(ec, errc::not_connected);
}

TEST_F(ClientConnection, ServerStoppedGracefullyMidSession) {
  beanstalkd_server own;
  client c(own.endpoint(), client_options());
  own.stop();
  std::error_code ec;
  c.stats(ec);
  EXPECT_TRUE(is_connection_error(ec));
  RecordProperty("error", ec.category().name() + std::string(": ") + ec.message());
  EXPECT_FALSE(c.is_open());
  c.stats(ec);
  EXPECT_EQ(ec, errc::not_connected);
}

TEST_F(ClientConnection, FrozenServerGivesReplyTimeoutAndClosesTheConnection) {
  beanstalkd_server own;
  auto o = client_options();
  o.reply_timeout = 300ms;
  client c(own.endpoint(), o);
  own.signal(SIGSTOP);
  std::error_code ec;
  const stopwatch sw;
  c.stats(ec);
  EXPECT_EQ(ec, errc::reply_timeout);
  EXPECT_EQ(ec, condition::connection_failure);
  EXPECT_GE(sw.elapsed(), 250ms);
  EXPECT_LT(sw.elapsed(), 2000ms);
  // The late reply would answer the wrong command: the connection is closed.
  EXPECT_FALSE(c.is_open());
  c.stats(ec);
  EXPECT_EQ(ec, errc::not_connected);
  own.signal(SIGCONT);
  c.connect(own.endpoint());
  EXPECT_EQ(c.stats().pid, static_cast<std::uint64_t>(own.pid()));
}

TEST_F(ClientConnection, ReplyTimeoutOfAReserveWithTimeoutIncludesTheWait) {
  beanstalkd_server own;
  auto o = client_options();
  o.reply_timeout = 300ms;
  client c(own.endpoint(), o);
  own.signal(SIGSTOP);
  std::error_code ec;
  const stopwatch sw;
  c.reserve_with_timeout(1s, ec);
  EXPECT_EQ(ec, errc::reply_timeout);
  EXPECT_GE(sw.elapsed(), 1200ms);  // 1 s wait + 300 ms reply timeout
  EXPECT_LT(sw.elapsed(), 3000ms);
  EXPECT_FALSE(c.is_open());
  own.signal(SIGCONT);
}

TEST_F(ClientConnection, PutToAFrozenServerTimesOut) {
  // The put was sent; whether the job will exist is unknown to the client. The server, thawed,
  // does insert it.
  beanstalkd_server own;
  auto o = client_options();
  o.reply_timeout = 300ms;
  client c(own.endpoint(), o);
  c.use(tube());
  own.signal(SIGSTOP);
  std::error_code ec;
  c.put("maybe", {}, ec);
  EXPECT_TRUE(ec == errc::reply_timeout || ec == errc::outcome_unknown) << ec.message();
  EXPECT_FALSE(c.is_open());
  own.signal(SIGCONT);
  client check(own.endpoint(), client_options());
  check.use(tube());
  EXPECT_TRUE(eventually([&] { return check.peek_ready().has_value(); }));
}

TEST_F(ClientConnection, QuitClosesTheConnection) {
  auto c = make_client();
  auto observer = make_plain_client();
  const auto before = observer.stats().current_connections;
  c.quit();
  EXPECT_FALSE(c.is_open());
  EXPECT_TRUE(eventually([&] { return observer.stats().current_connections == before - 1; }));
  std::error_code ec;
  c.stats(ec);
  EXPECT_EQ(ec, errc::not_connected);
  c.quit(ec);
  EXPECT_EQ(ec, errc::not_connected);
  // connect() again gives a fresh connection.
  c.connect(server().endpoint());
  EXPECT_EQ(c.list_tube_used(), "default");
}

TEST_F(ClientConnection, QuitErrorCodeForm) {
  auto c = make_client();
  std::error_code ec = make_error_code(errc::internal_error);
  c.quit(ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(c.is_open());
}

TEST_F(ClientConnection, QuitReleasesReservedJobs) {
  auto c = make_client();
  auto observer = make_client();
  const job_id id = c.put("released by quit");
  auto j = c.reserve();
  ASSERT_EQ(observer.stats_job(id).state, "reserved");
  c.quit();
  EXPECT_TRUE(eventually([&] { return observer.stats_job(id).state == "ready"; }));
}

TEST_F(ClientConnection, CloseReleasesReservedJobsAndDisconnects) {
  auto c = make_client();
  auto observer = make_client();
  const job_id id = c.put("released by close");
  auto j = c.reserve();
  c.close();
  EXPECT_FALSE(c.is_open());
  EXPECT_TRUE(eventually([&] { return observer.stats_job(id).state == "ready"; }));
  std::error_code ec;
  j.remove(ec);
  EXPECT_EQ(ec, errc::not_connected);
  c.close();  // twice is fine
}

TEST_F(ClientConnection, ReconnectResetsTubeState) {
  auto c = make_client();
  EXPECT_EQ(c.list_tube_used(), tube().str());
  c.connect(server().endpoint());  // closes the old connection
  EXPECT_EQ(c.list_tube_used(), "default");
  EXPECT_EQ(c.list_tubes_watched(), std::vector<std::string>{"default"});
}

TEST_F(ClientConnection, MovedClientKeepsTheConnection) {
  auto c = make_client();
  client moved(std::move(c));
  EXPECT_EQ(moved.list_tube_used(), tube().str());
  client assigned(client_options());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.list_tube_used(), tube().str());
}

TEST_F(ClientConnection, NoReplyTimeoutMeansNoLimit) {
  auto o = client_options();
  o.reply_timeout = 0ms;
  o.connect_timeout = 0ms;
  auto c = make_client(o);
  const job_id id = c.put("x");
  EXPECT_EQ(c.reserve_with_timeout(1s)->id(), id);
  c.remove(id);
}

// ----------------------------------------------------------------------------------- Unix socket

class ClientUnixSocket : public server_test {
 public:
  static void SetUpTestSuite() { start_suite_server(server_options{}.with_unix_socket()); }
};

TEST_F(ClientUnixSocket, EveryCommandWorksOverAUnixSocket) {
  ASSERT_TRUE(server().endpoint().is_unix());
  auto c = make_client();
  EXPECT_EQ(c.list_tube_used(), tube().str());
  const job_id id = c.put(all_bytes());
  auto j = c.reserve_with_timeout(1s);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->id(), id);
  EXPECT_EQ(j->body(), all_bytes());
  j->release(1, 0s);
  j = c.reserve();
  j->bury();
  EXPECT_EQ(c.kick(1), 1U);
  EXPECT_EQ(c.stats_tube(tube()).current_jobs_ready, 1U);
  c.remove(id);
  EXPECT_EQ(c.stats().pid, static_cast<std::uint64_t>(server().pid()));
  c.quit();
  EXPECT_FALSE(c.is_open());
}

TEST_F(ClientUnixSocket, ParsedUnixAddress) {
  endpoint ep;
  ASSERT_FALSE(endpoint::parse("unix:" + server().unix_path(), ep));
  EXPECT_EQ(ep, server().endpoint());
  client c(ep, client_options());
  EXPECT_EQ(c.list_tube_used(), "default");
}

}  // namespace
}  // namespace beanpole::testing
