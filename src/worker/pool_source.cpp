// The worker's jobs from several servers: its own `async_pool`, every reply bound to the
// engine's strand. The pool reserves across the servers (one reserve out per call, so a slot
// never holds more than one job) and routes each command on a job to the server holding it.
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <unordered_map>
#include <utility>

#include "beanpole/pool.hpp"
#include "worker/job_source.hpp"

namespace beanpole::detail {
namespace {

class pool_source final : public job_source {
 public:
  pool_source(asio::strand<asio::any_io_executor> strand, std::vector<pool_server> servers,
              async_client_options options, event_fn on_event)
      : strand_(std::move(strand)) {
    for (auto& s : servers) {
      if (s.name.empty()) s.name = s.address.to_string();
      index_.emplace(s.name, names_.size());
      names_.push_back(s.name);
    }
    pool_options popts;
    popts.client = std::move(options);
    // The clients run on the strand already; dispatch only guards against an event raised
    // from elsewhere (it runs inline on the strand).
    popts.on_client_event = [strand = strand_, waiting = waiting_, ev = std::move(on_event)](
                                std::size_t i, const client_event& e) {
      asio::dispatch(strand, [waiting, ev, i, e] {
        ev(i, e);
        const bool up =
            e.what == client_event::kind::connected || e.what == client_event::kind::reconnected;
        if (up && *waiting) std::exchange(*waiting, nullptr)({});
      });
    };
    pool_.emplace(asio::any_io_executor(strand_), std::move(servers), std::move(popts));
  }

  std::size_t servers() const noexcept override { return names_.size(); }
  const std::string& server_name(std::size_t server) const noexcept override {
    return names_[server];
  }

  // The first call connects every server (done once each has connected or failed once). A
  // later call, made while no server is up (`wait_for_server`), completes as soon as any server
  // connects: the pool's clients keep retrying by themselves, and asking them all again would
  // wait for the slowest, or for one that never comes back.
  void connect(done_fn done) override {
    if (!connect_started_) {
      connect_started_ = true;
      pool_->async_connect(asio::bind_executor(strand_, std::move(done)));
      return;
    }
    asio::dispatch(strand_, [this, d = std::move(done)]() mutable {
      for (const auto& st : pool_->servers()) {
        if (st.state == server_state::up || st.state == server_state::draining) return d({});
      }
      *waiting_ = std::move(d);
    });
  }
  // Sent to every server's client, but done once one server took it: a client keeps its watch
  // list and restores it on every new connection, while a command sent to a server that is
  // down waits for it to come back (the pool's own watch waits for every server).
  void watch(const tube_name& tube, bool ignore, done_fn done) override {
    struct gather {
      std::size_t left = 0;
      std::error_code first;
      done_fn done;
    };
    auto g = std::make_shared<gather>();
    g->left = names_.size();
    g->done = std::move(done);
    for (const auto& name : names_) {
      auto h = asio::bind_executor(strand_, [g](std::error_code ec, std::size_t) {
        --g->left;
        if (!g->done) return;
        if (ec && !g->first) g->first = ec;
        if (!ec || g->left == 0) std::exchange(g->done, nullptr)(ec ? g->first : ec);
      });
      async_client& c = *pool_->client(name);
      if (ignore) {
        c.async_ignore(tube, std::move(h));
      } else {
        c.async_watch(tube, std::move(h));
      }
    }
  }
  void reserve(std::chrono::seconds timeout, asio::cancellation_slot slot,
               reserve_fn done) override {
    pool_->async_reserve_with_timeout(
        timeout,
        asio::bind_cancellation_slot(
            slot, asio::bind_executor(strand_, [this, d = std::move(done)](
                                                   std::error_code ec, std::optional<pool_job> j) {
              if (!j) return d(ec, std::nullopt);
              const auto it = index_.find(j->id.server);
              d(ec,
                source_job{it == index_.end() ? 0 : it->second, job{j->id.id, std::move(j->body)}});
            })));
  }
  void stats_job(const job_key& k, stats_fn done) override {
    pool_->async_stats_job(id(k), asio::bind_executor(strand_, std::move(done)));
  }
  void touch(const job_key& k, done_fn done) override {
    pool_->async_touch(id(k), asio::bind_executor(strand_, std::move(done)));
  }
  void remove(const job_key& k, done_fn done) override {
    pool_->async_remove(id(k), asio::bind_executor(strand_, std::move(done)));
  }
  void release(const job_key& k, priority pri, std::chrono::seconds delay, done_fn done) override {
    pool_->async_release(id(k), pri, delay, asio::bind_executor(strand_, std::move(done)));
  }
  void bury(const job_key& k, priority pri, done_fn done) override {
    pool_->async_bury(id(k), pri, asio::bind_executor(strand_, std::move(done)));
  }
  void close() override {
    // A connect still waiting for a server ends as a closed client's connect does. It holds the
    // worker, and the clients' event hook holds it: left in place, the two would keep each
    // other (and every client of the pool) alive.
    if (*waiting_) {
      asio::post(strand_, [d = std::exchange(*waiting_, nullptr)]() mutable {
        d(make_error_code(asio::error::operation_aborted));
      });
    }
    pool_->close();
  }

 private:
  pool_job_id id(const job_key& k) const { return {names_[k.server], k.id}; }

  asio::strand<asio::any_io_executor> strand_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::size_t> index_;
  bool connect_started_ = false;
  /// On the strand: a connect waiting for any server to come up (shared with the event hook,
  /// which may run after this source is gone).
  std::shared_ptr<done_fn> waiting_ = std::make_shared<done_fn>();
  std::optional<async_pool> pool_;
};

}  // namespace

std::unique_ptr<job_source> make_pool_source(asio::strand<asio::any_io_executor> strand,
                                             std::vector<pool_server> servers,
                                             async_client_options options,
                                             job_source::event_fn on_event) {
  return std::make_unique<pool_source>(std::move(strand), std::move(servers), std::move(options),
                                       std::move(on_event));
}

}  // namespace beanpole::detail
