// The blocking client over TLS: a real beanstalkd behind Debian's stunnel4, with certificates the
// test generates (tests/support/tls_terminator.hpp). Issue 12.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "beanpole/client.hpp"
#include "beanpole/error.hpp"
#include "server_test.hpp"
#include "tls_terminator.hpp"
#include "verdict_tls_server.hpp"

namespace beanpole::testing {
namespace {

using namespace std::chrono_literals;

class client_tls : public server_test {
 public:
  static void SetUpTestSuite() {
    server_test::SetUpTestSuite();
    certs_ = std::make_unique<test_certificates>();
    open_ = std::make_unique<tls_terminator>(*certs_, server().port());
    mutual_ = std::make_unique<tls_terminator>(*certs_, server().port(), true);
  }
  static void TearDownTestSuite() {
    mutual_.reset();
    open_.reset();
    certs_.reset();
    server_test::TearDownTestSuite();
  }

 protected:
  /// A client connected to `ep` that uses and watches this test's tube.
  client connect_to(const endpoint& ep) {
    client c(ep, client_options());
    c.use(tube());
    c.watch(tube());
    c.ignore(tube_name("default"));
    return c;
  }

  /// The error of connecting to `ep`, and the client's failure detail.
  std::error_code connect_error(const endpoint& ep, std::string* detail = nullptr) {
    client c(client_options());
    std::error_code ec;
    c.connect(ep, ec);
    if (detail != nullptr) *detail = c.last_failure().detail;
    return ec;
  }

  static std::unique_ptr<test_certificates> certs_;
  static std::unique_ptr<tls_terminator> open_;    // any client
  static std::unique_ptr<tls_terminator> mutual_;  // clients with a certificate of the test CA
};

std::unique_ptr<test_certificates> client_tls::certs_;
std::unique_ptr<tls_terminator> client_tls::open_;
std::unique_ptr<tls_terminator> client_tls::mutual_;

TEST_F(client_tls, put_reserve_delete_with_a_binary_body) {
  client c = connect_to(open_->tls_endpoint(certs_->trusting()));
  std::string body(60000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 % 256);
  body += "\r\nend\r\n";
  const job_id id = c.put(body);
  auto j = c.reserve_with_timeout(1s);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->id(), id);
  EXPECT_EQ(j->body(), body);
  j->remove();
  EXPECT_FALSE(c.peek(id));
}

TEST_F(client_tls, mutual_tls_with_a_client_certificate) {
  client c = connect_to(mutual_->tls_endpoint(certs_->with_client_certificate()));
  const job_id id = c.put("hello");
  auto j = c.reserve_with_timeout(1s);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->id(), id);
  j->remove();
}

TEST_F(client_tls, the_name_verified_can_be_set_apart_from_the_host) {
  tls_options o = certs_->trusting();
  o.server_name = "localhost";  // in the certificate's subjectAltName
  client c = connect_to(open_->tls_endpoint(o));
  EXPECT_GT(c.put("x").value, 0u);
}

TEST_F(client_tls, missing_client_certificate_when_one_is_required_fails_the_connect) {
  std::string detail;
  EXPECT_EQ(connect_error(mutual_->tls_endpoint(certs_->trusting()), &detail),
            errc::tls_handshake_failed);
  EXPECT_NE(detail.find("certificate"), std::string::npos) << detail;
}

TEST_F(client_tls, a_refusal_half_a_second_after_the_handshake_still_fails_the_connect) {
  // A loaded terminator judges the certificate late. The wait for its verdict was twice the
  // handshake's time plus 100 ms: this refusal came after it, the connect succeeded and the
  // first command failed instead.
  verdict_tls_server late(*certs_, verdict_tls_server::verdict::refuse_late, 500ms);
  std::string detail;
  EXPECT_EQ(connect_error(late.tls_endpoint(certs_->with_client_certificate()), &detail),
            errc::tls_handshake_failed);
  EXPECT_EQ(late.refusals(), 1);
  EXPECT_NE(detail.find("unknown ca"), std::string::npos) << detail;
}

TEST_F(client_tls, a_terminator_without_session_tickets_is_taken_as_accepting_after_a_second) {
  // No ticket and no alert: the verdict wait runs out (1 s) and the silence counts as accepted.
  verdict_tls_server silent(*certs_, verdict_tls_server::verdict::accept_without_ticket);
  connection_options o = client_options();
  o.connect_timeout = 10s;
  client c(o);
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  c.connect(silent.tls_endpoint(certs_->with_client_certificate()), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 950ms);
  EXPECT_EQ(silent.accepted(), 1);
}

TEST_F(client_tls, a_server_certificate_from_another_ca_is_not_verified) {
  tls_options o;
  o.ca_file = certs_->file("other-ca.pem");
  std::string detail;
  EXPECT_EQ(connect_error(open_->tls_endpoint(o), &detail), errc::tls_certificate_not_verified);
  EXPECT_FALSE(detail.empty());
}

TEST_F(client_tls, the_system_store_does_not_trust_the_test_ca) {
  EXPECT_EQ(connect_error(open_->tls_endpoint({})), errc::tls_certificate_not_verified);
}

TEST_F(client_tls, a_wrong_name_is_a_name_mismatch) {
  tls_options o = certs_->trusting();
  o.server_name = "queue.example.com";
  EXPECT_EQ(connect_error(open_->tls_endpoint(o)), errc::tls_name_mismatch);
}

TEST_F(client_tls, a_plain_server_addressed_as_tls_does_not_speak_tls) {
  const auto start = std::chrono::steady_clock::now();
  std::string detail;
  const auto ec =
      connect_error(endpoint::tcp_tls("127.0.0.1", server().port(), certs_->trusting()), &detail);
  EXPECT_EQ(ec, errc::tls_not_spoken) << ec.message() << ": " << detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, client_options().connect_timeout + 1s);
}

TEST_F(client_tls, a_tls_terminator_addressed_as_plain_is_named_for_any_command) {
  // stunnel resets a client that speaks plain text without sending a byte; the client asks it
  // again in TLS before it reports the reset. Nothing reached the server, so a put fails too
  // (its outcome is not unknown).
  const auto start = std::chrono::steady_clock::now();
  client c(endpoint::tcp("127.0.0.1", open_->port()), client_options());
  std::error_code ec;
  c.stats(ec);
  EXPECT_EQ(ec, errc::tls_reply_to_plain) << ec.message();
  EXPECT_EQ(c.last_failure().cause, errc::tls_reply_to_plain);
  EXPECT_FALSE(c.is_open());
  c.connect(endpoint::tcp("127.0.0.1", mutual_->port()));
  c.put("never stored", {}, ec);
  EXPECT_EQ(ec, errc::tls_reply_to_plain) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2 * client_options().connect_timeout);
}

TEST_F(client_tls, a_plain_server_that_drops_the_first_command_is_a_lost_connection) {
  // The same reset from a server that does not speak TLS stays what it is. A listener that
  // accepts and closes at once stands for it.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread closer([fd] {
    for (int i = 0; i < 2; ++i) {  // the client's connection, then the probe's
      const int conn = ::accept(fd, nullptr, nullptr);
      if (conn < 0) return;
      ::close(conn);
    }
  });
  client c(endpoint::tcp("127.0.0.1", ntohs(addr.sin_port)), client_options());
  std::error_code ec;
  c.stats(ec);
  closer.join();
  ::close(fd);
  EXPECT_EQ(ec, errc::connection_lost) << ec.message();
}

TEST_F(client_tls, unreadable_files_are_refused_before_anything_is_sent) {
  tls_options o;
  o.ca_file = (certs_->dir() / "missing.pem").string();
  std::string detail;
  EXPECT_EQ(connect_error(open_->tls_endpoint(o), &detail), errc::tls_files_invalid);
  EXPECT_NE(detail.find("missing.pem"), std::string::npos) << detail;
  tls_options half = certs_->trusting();
  half.cert_file = certs_->file("client.pem");
  EXPECT_EQ(connect_error(open_->tls_endpoint(half)), errc::tls_files_invalid);
}

TEST_F(client_tls, reconnects_after_the_terminator_restarts) {
  const endpoint ep = open_->tls_endpoint(certs_->trusting());
  client c = connect_to(ep);
  c.put("before");
  open_->stop();
  std::error_code ec;
  c.stats(ec);
  EXPECT_EQ(ec, condition::connection_failure) << ec.message();
  // Started after the client saw the drop: until its socket closes, the terminator's end of the
  // old connection holds the port.
  open_->restart();
  c.connect(ep);
  c.use(tube());
  c.put("after");
  EXPECT_EQ(c.stats_tube(tube()).current_jobs_ready, 2u);
}

TEST_F(client_tls, the_exception_names_the_reason) {
  tls_options o = certs_->trusting();
  o.server_name = "queue.example.com";
  try {
    client c(open_->tls_endpoint(o), client_options());
    FAIL() << "connected";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::tls_name_mismatch);
    EXPECT_NE(std::string(e.what()).find("mismatch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace beanpole::testing
