#include "worker/metrics_server.hpp"

#include <httplib.h>

#include <cerrno>
#include <system_error>

namespace beanpole::detail {
namespace {

constexpr const char* plain_text = "text/plain; charset=utf-8";
constexpr const char* exposition = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::size_t max_request_body = 8192;
constexpr int io_timeout_seconds = 2;

}  // namespace

metrics_server::metrics_server(asio::any_io_executor /*strand*/, std::uint16_t port,
                               std::function<std::string()> body)
    : server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  // Scrapes come one at a time: two threads, not httplib's default of one per core and more.
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.set_keep_alive_max_count(1);  // one request per connection
  s.set_read_timeout(io_timeout_seconds, 0);
  s.set_write_timeout(io_timeout_seconds, 0);
  s.set_payload_max_length(max_request_body);
  s.Get("/metrics", [body = std::move(body)](const httplib::Request&, httplib::Response& res) {
    res.set_content(body(), exposition);
  });
  const auto get_only = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET");
    res.set_content("GET only\n", plain_text);
  };
  s.Post("/metrics", get_only);
  s.Put("/metrics", get_only);
  s.Delete("/metrics", get_only);
  s.Patch("/metrics", get_only);
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) res.set_content("try /metrics\n", plain_text);
  });

  const int bound = port == 0 ? s.bind_to_any_port("127.0.0.1")
                              : (s.bind_to_port("127.0.0.1", port) ? int{port} : -1);
  if (bound <= 0) {
    const int e = errno != 0 ? errno : EADDRINUSE;
    throw std::system_error(e, std::system_category(),
                            "metrics endpoint: cannot bind 127.0.0.1:" + std::to_string(port));
  }
  port_ = static_cast<std::uint16_t>(bound);
}

metrics_server::~metrics_server() {
  close();
}

void metrics_server::start() {
  if (listener_.joinable() || closed_) return;
  listener_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
}

void metrics_server::close() {
  if (closed_) return;
  // httplib closes the bound socket only when it stops listening: a server never started
  // listens for a moment, so that the port is released all the same.
  start();
  closed_ = true;
  // stop() reaches only a server already listening: wait until it is (or gave up).
  while (!listen_returned_ && !server_->is_running()) std::this_thread::yield();
  server_->stop();
  listener_.join();
}

}  // namespace beanpole::detail
