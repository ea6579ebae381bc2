// The pool's Asio driver: one async_client per server; the rules (placement, health, the
// cross-server reserve) are the pure machines beside this file.
//
// Concurrency: the members' health and the placement are guarded by one mutex, never held while
// a client or a user handler is called; each member also mirrors its health in two atomics, read
// without the lock by the one-server fast path (pool.hpp). A put goes to its client as "put into
// this tube", which the client sends as `use` and `put` with nothing between them, so puts to
// different tubes from different threads never reach each other's tube. Each reserve runs on a
// strand of its own, where its cancellation signal is emitted and its client replies arrive (the
// client clears a reserve's cancellation slot on the handler's executor, so the two never race).
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <mutex>
#include <random>
#include <unordered_map>

#include "beanpole/pool.hpp"
#include "pool/cross_reserve.hpp"
#include "pool/health.hpp"
#include "pool/placement.hpp"

namespace beanpole::detail {

namespace {
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

std::error_code aborted() {
  return make_error_code(asio::error::operation_aborted);
}
std::error_code not_connected() {
  return make_error_code(errc::not_connected);
}
}  // namespace

struct pool_member {
  explicit pool_member(pool_server s) : name(std::move(s.name)), address(std::move(s.address)) {}
  std::string name;
  endpoint address;
  std::unique_ptr<async_client> client;
  pool_rules::health_machine health;  // under pool_core::mu_
  // `health` as the fast path reads it, without the lock (set under it, after every change).
  std::atomic<bool> takes_puts{false};
  std::atomic<bool> connected{false};
};

// Finds a server by a name that is not a std::string, without making one.
struct name_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class pool_core : public std::enable_shared_from_this<pool_core> {
 public:
  pool_core(asio::any_io_executor ex, std::vector<pool_server> servers, pool_options options)
      : executor_(std::move(ex)),
        options_(std::move(options)),
        placement_(options_.placement, placement_list(servers), std::random_device{}()) {
    if (servers.empty()) throw error(make_error_code(errc::invalid_address), "pool: no servers");
    for (auto& s : servers) {
      if (s.name.empty()) s.name = s.address.to_string();
      if (!index_.emplace(s.name, members_.size()).second) {
        throw error(make_error_code(errc::invalid_address), "pool: duplicate server " + s.name);
      }
      members_.push_back(std::make_unique<pool_member>(std::move(s)));
    }
  }

  // Clients are made here, not in the constructor: their event callbacks hold a weak_ptr.
  void make_clients() {
    for (std::size_t i = 0; i < members_.size(); ++i) {
      async_client_options copt = options_.client;
      copt.reconnect.enabled = true;
      auto user = copt.on_event;
      copt.on_event = [weak = weak_from_this(), i, user,
                       per_server = options_.on_client_event](const client_event& e) {
        if (user) user(e);
        if (per_server) per_server(i, e);
        if (auto self = weak.lock()) self->on_client_event(i, e);
      };
      members_[i]->client =
          std::make_unique<async_client>(executor_, members_[i]->address, std::move(copt));
    }
  }

  // ------------------------------------------------------------------------ health

  void on_client_event(std::size_t i, const client_event& e) {
    using k = client_event::kind;
    switch (e.what) {
      case k::connected:
      case k::reconnected:
        apply(i, pool_rules::health_event::connected, {});
        break;
      case k::disconnected:
        apply(i, pool_rules::health_event::disconnected, e.error);
        break;
      case k::reconnecting:
        apply(i, pool_rules::health_event::reconnecting, e.error);
        break;
      case k::gave_up:
        apply(i, pool_rules::health_event::gave_up, e.error);
        break;
      case k::draining:  // before the put that heard it completes
        apply(i, pool_rules::health_event::answered_draining, make_error_code(errc::draining));
        break;
      default:
        break;
    }
  }

  void apply(std::size_t i, pool_rules::health_event e, std::error_code why) {
    pool_event ev;
    {
      std::lock_guard lock(mu_);
      auto& h = members_[i]->health;
      ev.previous = h.state();
      if (!h.on(e)) return;
      ev.state = h.state();
      members_[i]->takes_puts.store(h.takes_puts(), std::memory_order_relaxed);
      members_[i]->connected.store(h.connected(), std::memory_order_relaxed);
    }
    ev.server = members_[i]->name;
    ev.index = i;
    ev.error = why;
    if (options_.on_event) options_.on_event(ev);
  }

  std::vector<bool> mask(bool for_puts) const {
    std::vector<bool> out(members_.size());
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < members_.size(); ++i) {
      out[i] = for_puts ? members_[i]->health.takes_puts() : members_[i]->health.connected();
    }
    return out;
  }

  std::vector<server_status> statuses() const {
    std::vector<server_status> out;
    std::lock_guard lock(mu_);
    for (const auto& m : members_) out.push_back({m->name, m->health.state()});
    return out;
  }

  bool drain(std::string_view name, bool on) {
    const auto i = find(name);
    if (!i) return false;
    apply(
        *i,
        on ? pool_rules::health_event::drain_requested : pool_rules::health_event::drain_cancelled,
        {});
    return true;
  }

  async_client* client(std::string_view name) const noexcept {
    const auto i = find(name);
    return i ? members_[*i]->client.get() : nullptr;
  }

  pool_sole_server sole_server() const noexcept {
    if (members_.size() != 1) return {};
    const auto& m = *members_.front();
    return {m.client.get(), &m.name, &m.takes_puts, &m.connected};
  }

  void close() {
    closed_ = true;
    for (auto& m : members_) {
      if (m->client) m->client->close();
    }
  }
  bool closed() const noexcept { return closed_; }

  // ------------------------------------------------------------------------ connect

  void connect(pool_completion<void(std::error_code)> done) {
    struct gather {
      std::mutex m;
      std::size_t left;
      bool any_up = false;
      std::error_code first;
      pool_completion<void(std::error_code)> done;
    };
    auto g = std::make_shared<gather>();
    g->left = members_.size();
    g->done = std::move(done);
    for (std::size_t i = 0; i < members_.size(); ++i) {
      members_[i]->client->async_connect([self = shared_from_this(), g, i](std::error_code ec) {
        self->apply(
            i, ec ? pool_rules::health_event::connect_failed : pool_rules::health_event::connected,
            ec);
        std::unique_lock lock(g->m);
        if (ec && !g->first) g->first = ec;
        if (!ec) g->any_up = true;
        if (--g->left != 0) return;
        const std::error_code result = g->any_up ? std::error_code{} : g->first;
        auto d = std::move(g->done);
        lock.unlock();
        d(result);
      });
    }
  }

  // ------------------------------------------------------------------------ put

  struct put_state {
    put_state(const tube_name& t, put_body b) : tube(t), body(std::move(b)) {}
    tube_name tube;
    put_body body;
    put_options opts;
    std::vector<bool> tried;
    std::error_code last;  // why the previous server did not take it
    pool_completion<void(std::error_code, pool_job_id)> done;
  };

  void put(std::shared_ptr<put_state> st) {
    std::optional<std::size_t> chosen;
    {
      auto usable = mask_locked_free_puts(st->tried);
      std::lock_guard lock(placement_mu_);
      chosen = placement_.choose(st->tube.view(), usable);
    }
    if (!chosen) {
      st->done(st->last ? st->last : not_connected(), {});
      return;
    }
    const std::size_t i = *chosen;
    st->tried[i] = true;
    // Only a body that may have to go to another server is copied.
    put_body body = members_.size() > 1 ? put_body(st->body) : std::move(st->body);
    const tube_name tube = st->tube;
    const put_options opts = st->opts;
    members_[i]->client->async_put(
        tube, std::move(body), opts,
        [self = shared_from_this(), st = std::move(st), i](std::error_code ec, job_id id) mutable {
          self->on_put_reply(std::move(st), i, ec, id);
        });
  }

  std::vector<bool> mask_locked_free_puts(const std::vector<bool>& tried) const {
    auto usable = mask(true);
    for (std::size_t i = 0; i < usable.size(); ++i) usable[i] = usable[i] && !tried[i];
    return usable;
  }

  void on_put_reply(std::shared_ptr<put_state> st, std::size_t i, std::error_code ec, job_id id) {
    // Nothing was stored: DRAINING, or refused before it was sent. Anything else (a reply lost:
    // outcome_unknown; BURIED) may have stored the job and is never sent again.
    // (DRAINING has already marked the server draining: see on_client_event.)
    const bool not_stored = ec == errc::draining || ec == errc::not_connected;
    if (not_stored && members_.size() > 1 && !closed_) {
      st->last = ec;
      put(std::move(st));
      return;
    }
    st->done(ec, pool_job_id{members_[i]->name, id});
  }

  // ------------------------------------------------------------------------ reserve

  struct waiter : std::enable_shared_from_this<waiter> {
    waiter(const asio::any_io_executor& ex, std::size_t servers, std::size_t first, seconds slice)
        : strand(asio::make_strand(ex)), timer(strand), plan(servers, first, slice) {}
    asio::strand<asio::any_io_executor> strand;
    asio::steady_timer timer;
    pool_rules::cross_reserve plan;
    std::optional<steady::time_point> deadline;
    pool_completion<void(std::error_code, std::optional<pool_job>)> done;
    asio::cancellation_signal out;  // cancels the reserve this waiter has out
    bool finished = false;          // on `strand`
  };

  void reserve(std::optional<seconds> timeout, asio::cancellation_slot slot,
               pool_completion<void(std::error_code, std::optional<pool_job>)> done) {
    auto w = std::make_shared<waiter>(executor_, members_.size(),
                                      next_first_.fetch_add(1, std::memory_order_relaxed),
                                      options_.reserve_slice);
    if (timeout) w->deadline = steady::now() + *timeout;
    w->done = std::move(done);
    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<waiter>(w)](asio::cancellation_type) {
        if (auto self = weak.lock()) {
          asio::post(self->strand, [self] {
            if (self->finished) return;
            self->finished = true;
            self->out.emit(asio::cancellation_type::terminal);
            self->timer.cancel();
            self->done(aborted(), std::nullopt);
          });
        }
      });
    }
    asio::post(w->strand, [self = shared_from_this(), w] { self->step(w); });
  }

  void step(const std::shared_ptr<waiter>& w) {
    if (w->finished) return;
    if (closed_) return finish(w, aborted());
    std::optional<milliseconds> remaining;
    if (w->deadline) {
      remaining = std::chrono::ceil<milliseconds>(*w->deadline - steady::now());
      if (*remaining < milliseconds{0}) remaining = milliseconds{0};
    }
    const auto s = w->plan.next(mask(false), remaining);
    using kind = pool_rules::reserve_step::kind;
    switch (s.what) {
      case kind::timed_out:
        return finish(w, {});
      case kind::pause:
        // Nothing to ask (every server down) or under a second left: look again soon.
        w->timer.expires_after(std::min<milliseconds>(s.wait, milliseconds{200}));
        w->timer.async_wait(asio::bind_executor(
            w->strand, [self = shared_from_this(), w](std::error_code) { self->step(w); }));
        return;
      case kind::try_now:
      case kind::wait:
        break;
    }
    const std::size_t i = s.server;
    auto on_reply = asio::bind_executor(
        w->strand, [self = shared_from_this(), w, i](std::error_code ec, std::optional<job> j) {
          self->on_reserve_reply(w, i, ec, std::move(j));
        });
    auto& c = *members_[i]->client;
    if (s.what == kind::try_now) {
      c.async_reserve_with_timeout(seconds{0}, std::move(on_reply));
    } else {
      c.async_reserve_with_timeout(
          std::chrono::floor<seconds>(s.wait),
          asio::bind_cancellation_slot(w->out.slot(), std::move(on_reply)));
    }
  }

  void on_reserve_reply(const std::shared_ptr<waiter>& w, std::size_t i, std::error_code ec,
                        std::optional<job> j) {
    if (j) {
      if (pool_rules::release_on_arrival(!w->finished)) return release_now(i, j->id);
      w->finished = true;
      w->done(ec, pool_job{{members_[i]->name, j->id}, std::move(j->body)});
      return;
    }
    if (w->finished) return;
    if (closed_) return finish(w, aborted());
    if (ec && ec != errc::deadline_soon) {
      // A server that fails at once (not connected, timed out) must not make the waiter spin:
      // a short pause before the next step.
      w->timer.expires_after(milliseconds{50});
      w->timer.async_wait(asio::bind_executor(
          w->strand, [self = shared_from_this(), w](std::error_code) { self->step(w); }));
      return;
    }
    step(w);
  }

  void finish(const std::shared_ptr<waiter>& w, std::error_code ec) {
    if (w->finished) return;
    w->finished = true;
    w->done(ec, std::nullopt);
  }

  // A job nobody waits for any more goes back at once, with its own priority (release needs
  // one), not after its time to run.
  void release_now(std::size_t i, job_id id) {
    auto* c = members_[i]->client.get();
    c->async_stats_job(
        id, [self = shared_from_this(), c, id](std::error_code ec, proto::job_stats st) {
          c->async_release(id, ec ? default_priority : st.pri, seconds{0}, [](std::error_code) {});
        });
  }

  // ------------------------------------------------------------------------ one job

  std::optional<std::size_t> find(std::string_view name) const {
    if (members_.size() == 1) {  // no hashing for the common one-server lookup
      if (members_.front()->name == name) return 0;
      return std::nullopt;
    }
    const auto it = index_.find(name);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }

  void job_action(const pool_job_id& id, job_action_kind kind, priority pri, seconds delay,
                  pool_completion<void(std::error_code)> done) {
    const auto i = find(id.server);
    if (!i) return done(make_error_code(errc::invalid_address));
    auto& c = *members_[*i]->client;
    auto h = [d = std::move(done)](std::error_code ec) mutable { d(ec); };
    switch (kind) {
      case job_action_kind::remove:
        return c.async_remove(id.id, std::move(h));
      case job_action_kind::release:
        return c.async_release(id.id, pri, delay, std::move(h));
      case job_action_kind::bury:
        return c.async_bury(id.id, pri, std::move(h));
      case job_action_kind::touch:
        return c.async_touch(id.id, std::move(h));
      case job_action_kind::kick_job:
        return c.async_kick_job(id.id, std::move(h));
    }
  }

  void stats_job(const pool_job_id& id,
                 pool_completion<void(std::error_code, proto::job_stats)> done) {
    const auto i = find(id.server);
    if (!i) return done(make_error_code(errc::invalid_address), {});
    members_[*i]->client->async_stats_job(
        id.id, [d = std::move(done)](std::error_code ec, proto::job_stats s) mutable {
          d(ec, std::move(s));
        });
  }

  void peek(const pool_job_id& id,
            pool_completion<void(std::error_code, std::optional<pool_job>)> done) {
    const auto i = find(id.server);
    if (!i) return done(make_error_code(errc::invalid_address), std::nullopt);
    members_[*i]->client->async_peek(id.id, [d = std::move(done), name = id.server](
                                                std::error_code ec, std::optional<job> j) mutable {
      if (!j) return d(ec, std::nullopt);
      d(ec, pool_job{{name, j->id}, std::move(j->body)});
    });
  }

  // ------------------------------------------------------------------------ every server

  // Sends a command to every connected server (`start(i, done_i)`), reports a server that is not
  // connected as not_connected at once, and completes when every server has answered.
  template <class T, class Start>
  void fan_out(pool_completion<void(std::error_code, std::vector<server_reply<T>>)> done,
               Start start) {
    struct gather {
      std::mutex m;
      std::size_t left = 0;
      std::vector<server_reply<T>> replies;
      pool_completion<void(std::error_code, std::vector<server_reply<T>>)> done;
    };
    auto g = std::make_shared<gather>();
    g->left = members_.size();
    g->done = std::move(done);
    for (const auto& m : members_) g->replies.push_back({m->name, {}, T{}});
    auto finish = [g](std::size_t i, std::error_code ec, T value) {
      std::unique_lock lock(g->m);
      g->replies[i].error = ec;
      if (!ec) g->replies[i].value = std::move(value);
      if (--g->left != 0) return;
      std::error_code result;
      for (const auto& r : g->replies) {
        if (!r.error) {
          result = {};
          break;
        }
        if (!result) result = r.error;
      }
      auto d = std::move(g->done);
      auto replies = std::move(g->replies);
      lock.unlock();
      d(result, std::move(replies));
    };
    const auto up = mask(false);
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (!up[i]) {
        finish(i, not_connected(), T{});
        continue;
      }
      start(i, [finish, i](std::error_code ec, T value) { finish(i, ec, std::move(value)); });
    }
  }

  std::vector<std::unique_ptr<pool_member>> members_;
  std::unordered_map<std::string, std::size_t, name_hash, std::equal_to<>> index_;
  asio::any_io_executor executor_;
  pool_options options_;

  static std::vector<pool_rules::placement_server> placement_list(
      const std::vector<pool_server>& servers) {
    std::vector<pool_rules::placement_server> out;
    for (const auto& s : servers) {
      out.push_back({s.name.empty() ? s.address.to_string() : s.name, s.weight});
    }
    return out;
  }

 private:
  mutable std::mutex mu_;  // members' health
  std::mutex placement_mu_;
  pool_rules::placement placement_;
  std::atomic<std::size_t> next_first_{std::random_device{}()};
  std::atomic<bool> closed_{false};
};

// ---------------------------------------------------------------------------- pool_access

pool_sole_server pool_access::sole_server(const pool_core& core) noexcept {
  return core.sole_server();
}

async_client* pool_access::client_of(const pool_core& core, std::string_view server) noexcept {
  return core.client(server);
}

void pool_access::connect(pool_core& core, pool_completion<void(std::error_code)> done) {
  core.connect(std::move(done));
}

void pool_access::put(pool_core& core, const tube_name& tube, put_body body,
                      const put_options& opts,
                      pool_completion<void(std::error_code, pool_job_id)> done) {
  auto st = std::make_shared<pool_core::put_state>(tube, std::move(body));
  st->opts = opts;
  st->tried.assign(core.members_.size(), false);
  st->done = std::move(done);
  core.put(std::move(st));
}

void pool_access::reserve(pool_core& core, std::optional<seconds> timeout,
                          asio::cancellation_slot slot,
                          pool_completion<void(std::error_code, std::optional<pool_job>)> done) {
  core.reserve(timeout, slot, std::move(done));
}

void pool_access::watch(pool_core& core, const tube_name& tube, bool ignore,
                        pool_completion<void(std::error_code)> done) {
  // Sent to every client, connected or not: a client keeps the watch list and restores it on
  // every new connection, so a server that is down now watches the tube when it comes back.
  struct gather {
    std::mutex m;
    std::size_t left = 0;
    bool any = false;
    std::error_code first;
    pool_completion<void(std::error_code)> done;
  };
  auto g = std::make_shared<gather>();
  g->left = core.members_.size();
  g->done = std::move(done);
  for (auto& m : core.members_) {
    auto h = [g](std::error_code ec, std::size_t) {
      std::unique_lock lock(g->m);
      if (!ec) g->any = true;
      if (ec && !g->first) g->first = ec;
      if (--g->left != 0) return;
      auto d = std::move(g->done);
      const auto result = g->any ? std::error_code{} : g->first;
      lock.unlock();
      d(result);
    };
    if (ignore) {
      m->client->async_ignore(tube, std::move(h));
    } else {
      m->client->async_watch(tube, std::move(h));
    }
  }
}

void pool_access::job_action(pool_core& core, const pool_job_id& id, job_action_kind kind,
                             priority pri, seconds delay,
                             pool_completion<void(std::error_code)> done) {
  core.job_action(id, kind, pri, delay, std::move(done));
}

void pool_access::stats_job(pool_core& core, const pool_job_id& id,
                            pool_completion<void(std::error_code, proto::job_stats)> done) {
  core.stats_job(id, std::move(done));
}

void pool_access::peek(pool_core& core, const pool_job_id& id,
                       pool_completion<void(std::error_code, std::optional<pool_job>)> done) {
  core.peek(id, std::move(done));
}

void pool_access::peek_state(
    pool_core& core, const tube_name& tube, proto::job_state state,
    pool_completion<void(std::error_code, std::vector<server_reply<std::optional<job>>>)> done) {
  core.fan_out<std::optional<job>>(std::move(done), [&core, tube, state](std::size_t i, auto d) {
    core.members_[i]->client->async_peek_state(
        tube, state, [d](std::error_code ec, std::optional<job> j) { d(ec, std::move(j)); });
  });
}

void pool_access::kick(
    pool_core& core, const tube_name& tube, std::uint64_t bound,
    pool_completion<void(std::error_code, std::vector<server_reply<std::uint64_t>>)> done) {
  core.fan_out<std::uint64_t>(std::move(done), [&core, tube, bound](std::size_t i, auto d) {
    core.members_[i]->client->async_kick(tube, bound,
                                         [d](std::error_code ec, std::uint64_t n) { d(ec, n); });
  });
}

void pool_access::pause_tube(
    pool_core& core, const tube_name& tube, seconds delay,
    pool_completion<void(std::error_code, std::vector<server_reply<bool>>)> done) {
  core.fan_out<bool>(std::move(done), [&core, tube, delay](std::size_t i, auto d) {
    core.members_[i]->client->async_pause_tube(tube, delay,
                                               [d](std::error_code ec) { d(ec, !ec); });
  });
}

void pool_access::stats(
    pool_core& core,
    pool_completion<void(std::error_code, std::vector<server_reply<proto::server_stats>>)> done) {
  core.fan_out<proto::server_stats>(std::move(done), [&core](std::size_t i, auto d) {
    core.members_[i]->client->async_stats(
        [d](std::error_code ec, proto::server_stats s) { d(ec, std::move(s)); });
  });
}

void pool_access::stats_tube(
    pool_core& core, const tube_name& tube,
    pool_completion<void(std::error_code, std::vector<server_reply<proto::tube_stats>>)> done) {
  core.fan_out<proto::tube_stats>(std::move(done), [&core, tube](std::size_t i, auto d) {
    core.members_[i]->client->async_stats_tube(
        tube, [d](std::error_code ec, proto::tube_stats s) { d(ec, std::move(s)); });
  });
}

void pool_access::list_tubes(
    pool_core& core,
    pool_completion<void(std::error_code, std::vector<server_reply<std::vector<std::string>>>)>
        done) {
  core.fan_out<std::vector<std::string>>(std::move(done), [&core](std::size_t i, auto d) {
    core.members_[i]->client->async_list_tubes(
        [d](std::error_code ec, std::vector<std::string> t) { d(ec, std::move(t)); });
  });
}

}  // namespace beanpole::detail

namespace beanpole {

async_pool::async_pool(executor_type ex, std::vector<pool_server> servers, pool_options options)
    : executor_(ex),
      core_(std::make_shared<detail::pool_core>(std::move(ex), std::move(servers),
                                                std::move(options))) {
  core_->make_clients();
  sole_ = detail::pool_access::sole_server(*core_);
}

async_pool::~async_pool() {
  core_->close();
}

void async_pool::close() {
  core_->close();
}

std::vector<server_status> async_pool::servers() const {
  return core_->statuses();
}

bool async_pool::drain(std::string_view server, bool on) {
  return core_->drain(server, on);
}

async_client* async_pool::client(std::string_view server) const noexcept {
  return core_->client(server);
}

}  // namespace beanpole
