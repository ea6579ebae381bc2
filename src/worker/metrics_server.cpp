#include "worker/metrics_server.hpp"

#include <algorithm>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <chrono>

namespace beanpole::detail {
namespace {

constexpr std::size_t max_request_head = 8192;
constexpr std::chrono::seconds read_deadline{5};

http_answer make_answer(int status, std::string reason, std::string body) {
  http_answer a;
  a.status = status;
  a.reason = std::move(reason);
  a.content_type = "text/plain; charset=utf-8";
  a.body = std::move(body);
  return a;
}

}  // namespace

http_answer answer_http(std::string_view head, const std::function<std::string()>& metrics_body) {
  const auto eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  // METHOD SP TARGET SP HTTP/x.y
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).substr(0, 5) != "HTTP/") {
    return make_answer(400, "Bad Request", "bad request\n");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (target != "/metrics") return make_answer(404, "Not Found", "try /metrics\n");
  if (method != "GET") return make_answer(405, "Method Not Allowed", "GET only\n");
  http_answer a = make_answer(200, "OK", metrics_body());
  a.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return a;
}

class metrics_server::session : public std::enable_shared_from_this<session> {
 public:
  session(asio::ip::tcp::socket socket, std::shared_ptr<metrics_server> owner)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), owner_(std::move(owner)) {}

  void start() {
    timer_.expires_after(read_deadline);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->close();
    });
    asio::async_read_until(
        socket_, asio::dynamic_buffer(in_, max_request_head), "\r\n\r\n",
        [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void close() {
    std::error_code ignored;
    timer_.cancel();
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void on_read(std::error_code ec, std::size_t n) {
    http_answer a;
    if (ec == asio::error::not_found) {  // the head exceeded the bound
      a = make_answer(431, "Request Header Fields Too Large", "request too large\n");
    } else if (ec) {
      close();
      return;
    } else {
      a = answer_http(std::string_view(in_).substr(0, n), owner_->body_);
    }
    timer_.cancel();
    out_ = "HTTP/1.1 " + std::to_string(a.status) + ' ' + a.reason +
           "\r\nContent-Type: " + a.content_type +
           "\r\nContent-Length: " + std::to_string(a.body.size()) +
           "\r\nConnection: close\r\n\r\n" + a.body;
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](std::error_code, std::size_t) { self->close(); });
  }

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<metrics_server> owner_;
  std::string in_;
  std::string out_;
};

metrics_server::metrics_server(asio::any_io_executor strand, std::uint16_t port,
                               std::function<std::string()> body)
    : strand_(std::move(strand)),
      acceptor_(strand_),
      retry_timer_(strand_),
      body_(std::move(body)) {
  const asio::ip::tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
}

void metrics_server::start() {
  accept();
}

void metrics_server::accept() {
  if (closed_) return;
  acceptor_.async_accept(
      strand_, [self = shared_from_this()](std::error_code ec, asio::ip::tcp::socket socket) {
        if (self->closed_) return;
        if (ec) {
          self->retry_timer_.expires_after(std::chrono::milliseconds{100});
          self->retry_timer_.async_wait([self](std::error_code tec) {
            if (!tec) self->accept();
          });
          return;
        }
        auto s = std::make_shared<session>(std::move(socket), self);
        std::erase_if(self->sessions_, [](const auto& w) { return w.expired(); });
        self->sessions_.push_back(s);
        s->start();
        self->accept();
      });
}

void metrics_server::close() {
  closed_ = true;
  std::error_code ignored;
  retry_timer_.cancel();
  acceptor_.close(ignored);
  for (auto& w : sessions_) {
    if (auto s = w.lock()) s->close();
  }
  sessions_.clear();
}

}  // namespace beanpole::detail
