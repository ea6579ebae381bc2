// The worker's jobs from one server: its own `async_client`, every reply bound to the engine's
// strand. The client is built on that strand, so its callbacks and events are serialized with
// the engine's work.
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>

#include "worker/job_source.hpp"

namespace beanpole::detail {
namespace {

class client_source final : public job_source {
 public:
  client_source(asio::strand<asio::any_io_executor> strand, endpoint ep,
                async_client_options options, event_fn on_event)
      : strand_(std::move(strand)) {
    options.on_event = [user = std::move(options.on_event),
                        ev = std::move(on_event)](const client_event& e) {
      if (ev) ev(0, e);
      if (user) user(e);
    };
    client_.emplace(asio::any_io_executor(strand_), std::move(ep), std::move(options));
  }

  std::size_t servers() const noexcept override { return 1; }
  const std::string& server_name(std::size_t) const noexcept override { return no_name_; }

  void connect(done_fn done) override {
    client_->async_connect(asio::bind_executor(strand_, std::move(done)));
  }
  void watch(const tube_name& tube, bool ignore, done_fn done) override {
    auto h = asio::bind_executor(strand_,
                                 [d = std::move(done)](std::error_code ec, std::size_t) { d(ec); });
    if (ignore) {
      client_->async_ignore(tube, std::move(h));
    } else {
      client_->async_watch(tube, std::move(h));
    }
  }
  void reserve(std::chrono::seconds timeout, asio::cancellation_slot slot,
               reserve_fn done) override {
    client_->async_reserve_with_timeout(
        timeout,
        asio::bind_cancellation_slot(
            slot, asio::bind_executor(
                      strand_, [d = std::move(done)](std::error_code ec, std::optional<job> j) {
                        if (!j) return d(ec, std::nullopt);
                        d(ec, source_job{0, std::move(*j)});
                      })));
  }
  void stats_job(const job_key& k, stats_fn done) override {
    client_->async_stats_job(k.id, asio::bind_executor(strand_, std::move(done)));
  }
  void touch(const job_key& k, done_fn done) override {
    client_->async_touch(k.id, asio::bind_executor(strand_, std::move(done)));
  }
  void remove(const job_key& k, done_fn done) override {
    client_->async_remove(k.id, asio::bind_executor(strand_, std::move(done)));
  }
  void release(const job_key& k, priority pri, std::chrono::seconds delay, done_fn done) override {
    client_->async_release(k.id, pri, delay, asio::bind_executor(strand_, std::move(done)));
  }
  void bury(const job_key& k, priority pri, done_fn done) override {
    client_->async_bury(k.id, pri, asio::bind_executor(strand_, std::move(done)));
  }
  void close() override { client_->close(); }

 private:
  asio::strand<asio::any_io_executor> strand_;
  std::optional<async_client> client_;
  std::string no_name_;
};

}  // namespace

std::unique_ptr<job_source> make_client_source(asio::strand<asio::any_io_executor> strand,
                                               endpoint ep, async_client_options options,
                                               job_source::event_fn on_event) {
  return std::make_unique<client_source>(std::move(strand), std::move(ep), std::move(options),
                                         std::move(on_event));
}

}  // namespace beanpole::detail
