#include "client/async_tls_probe.hpp"

#include <asio/buffer.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <string_view>

#include "conn/rules.hpp"
#include "net/tls_probe.hpp"

namespace beanpole::detail {

void async_tls_probe::start(const asio::any_io_executor& ex, const generic_endpoint& peer,
                            const std::string& host, std::chrono::milliseconds timeout,
                            std::function<void(bool)> done) {
  std::shared_ptr<async_tls_probe> self(new async_tls_probe(ex, std::move(done)));
  self->hello_ = tls_client_hello(host);
  if (self->hello_.empty()) {
    self->finish(false);
    return;
  }
  self->timer_.expires_after(timeout.count() > 0 ? timeout : std::chrono::seconds{5});
  self->timer_.async_wait([self](std::error_code ec) {
    if (!ec) self->finish(false);
  });
  self->socket_.async_connect(peer, [self](std::error_code ec) {
    if (ec) return self->finish(false);
    asio::async_write(
        self->socket_, asio::buffer(self->hello_), [self](std::error_code wec, std::size_t) {
          if (wec) return self->finish(false);
          asio::async_read(self->socket_, asio::buffer(self->answer_), asio::transfer_at_least(3),
                           [self](std::error_code, std::size_t n) {
                             self->finish(n >= 3 && conn::begins_like_tls_record(
                                                        std::string_view(self->answer_.data(), n)));
                           });
        });
  });
}

void async_tls_probe::finish(bool speaks_tls) {
  if (!done_) return;  // the timer and the read both end it; the first one answers
  std::error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
  std::exchange(done_, nullptr)(speaks_tls);
}

}  // namespace beanpole::detail
