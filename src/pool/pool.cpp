// The blocking pool: an async_pool on a thread of its own, each call waiting on a promise.
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <future>
#include <string>
#include <thread>
#include <type_traits>

#include "beanpole/pool.hpp"

namespace beanpole {

namespace {

// Starts an operation with a handler that fulfils a promise, and waits for it.
template <class T, class Start>
std::pair<std::error_code, T> wait_for(Start start) {
  auto p = std::make_shared<std::promise<std::pair<std::error_code, T>>>();
  auto f = p->get_future();
  start([p](std::error_code ec, T value) { p->set_value({ec, std::move(value)}); });
  return f.get();
}

template <class Start>
std::error_code wait_for_ec(Start start) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  start([p](std::error_code ec) { p->set_value(ec); });
  return f.get();
}

void check(std::error_code ec, const char* what) {
  if (ec) throw error(ec, what);
}

template <class T>
T checked(std::pair<std::error_code, T> r, const char* what) {
  check(r.first, what);
  return std::move(r.second);
}

/// A reserve's result; a corrupt job's id goes with the exception (see errc::corrupt_job).
template <class T>
T checked_job(std::pair<std::error_code, T> r, const char* what) {
  const pool_job* j = nullptr;
  if constexpr (std::is_same_v<T, pool_job>) {
    j = &r.second;
  } else if (r.second) {
    j = &*r.second;
  }
  if (r.first == errc::corrupt_job && j != nullptr) {
    throw error(r.first, j->id.id.value, std::string(what) + ": job " + j->id.to_string());
  }
  return checked(std::move(r), what);
}

}  // namespace

struct pool::impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<async_pool> async;
  std::thread thread;

  ~impl() {
    if (async) async->close();
    work.reset();
    if (thread.joinable()) thread.join();
    async.reset();
  }
};

pool::pool(std::vector<pool_server> servers, pool_options options) : impl_(new impl) {
  impl_->async = std::make_unique<async_pool>(impl_->io.get_executor(), std::move(servers),
                                              std::move(options));
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
  check(wait_for_ec([this](auto h) { impl_->async->async_connect(std::move(h)); }), "connect");
}

pool::~pool() = default;

async_pool& pool::async() noexcept {
  return *impl_->async;
}

std::vector<server_status> pool::servers() const {
  return impl_->async->servers();
}

pool_job_id pool::put(const tube_name& tube, std::string body, const put_options& opts,
                      std::error_code& ec) {
  auto [e, id] = wait_for<pool_job_id>(
      [&](auto h) { impl_->async->async_put(tube, std::move(body), opts, std::move(h)); });
  ec = e;
  return id;
}

pool_job_id pool::put(const tube_name& tube, std::string body, const put_options& opts) {
  std::error_code ec;
  auto id = put(tube, std::move(body), opts, ec);
  if (ec == errc::buried || ec == errc::outcome_unknown) {
    throw error(ec, id.id.value, "put " + id.to_string());
  }
  check(ec, "put");
  return id;
}

void pool::watch(const tube_name& tube) {
  check(wait_for_ec([&](auto h) { impl_->async->async_watch(tube, std::move(h)); }), "watch");
}

void pool::ignore(const tube_name& tube) {
  check(wait_for_ec([&](auto h) { impl_->async->async_ignore(tube, std::move(h)); }), "ignore");
}

pool_job pool::reserve() {
  return checked_job(wait_for<pool_job>([&](auto h) { impl_->async->async_reserve(std::move(h)); }),
                     "reserve");
}

std::optional<pool_job> pool::reserve_with_timeout(std::chrono::seconds timeout) {
  return checked_job(wait_for<std::optional<pool_job>>([&](auto h) {
                       impl_->async->async_reserve_with_timeout(timeout, std::move(h));
                     }),
                     "reserve-with-timeout");
}

void pool::remove(const pool_job_id& id) {
  check(wait_for_ec([&](auto h) { impl_->async->async_remove(id, std::move(h)); }), "delete");
}

void pool::release(const pool_job_id& id, priority pri, std::chrono::seconds delay) {
  check(wait_for_ec([&](auto h) { impl_->async->async_release(id, pri, delay, std::move(h)); }),
        "release");
}

void pool::bury(const pool_job_id& id, priority pri) {
  check(wait_for_ec([&](auto h) { impl_->async->async_bury(id, pri, std::move(h)); }), "bury");
}

void pool::touch(const pool_job_id& id) {
  check(wait_for_ec([&](auto h) { impl_->async->async_touch(id, std::move(h)); }), "touch");
}

void pool::kick_job(const pool_job_id& id) {
  check(wait_for_ec([&](auto h) { impl_->async->async_kick_job(id, std::move(h)); }), "kick-job");
}

proto::job_stats pool::stats_job(const pool_job_id& id) {
  return checked(
      wait_for<proto::job_stats>([&](auto h) { impl_->async->async_stats_job(id, std::move(h)); }),
      "stats-job");
}

std::optional<pool_job> pool::peek(const pool_job_id& id) {
  auto [ec, j] = wait_for<std::optional<pool_job>>(
      [&](auto h) { impl_->async->async_peek(id, std::move(h)); });
  if (ec == errc::not_found) return std::nullopt;
  return checked_job(std::pair{ec, std::move(j)}, "peek");
}

std::vector<server_reply<std::optional<job>>> pool::peek_state(const tube_name& tube,
                                                               proto::job_state state) {
  return checked(wait_for<std::vector<server_reply<std::optional<job>>>>(
                     [&](auto h) { impl_->async->async_peek_state(tube, state, std::move(h)); }),
                 "peek");
}

std::vector<server_reply<std::uint64_t>> pool::kick(const tube_name& tube, std::uint64_t bound) {
  return checked(wait_for<std::vector<server_reply<std::uint64_t>>>(
                     [&](auto h) { impl_->async->async_kick(tube, bound, std::move(h)); }),
                 "kick");
}

std::vector<server_reply<bool>> pool::pause_tube(const tube_name& tube,
                                                 std::chrono::seconds delay) {
  return checked(wait_for<std::vector<server_reply<bool>>>(
                     [&](auto h) { impl_->async->async_pause_tube(tube, delay, std::move(h)); }),
                 "pause-tube");
}

std::vector<server_reply<proto::server_stats>> pool::stats() {
  return checked(wait_for<std::vector<server_reply<proto::server_stats>>>(
                     [&](auto h) { impl_->async->async_stats(std::move(h)); }),
                 "stats");
}

std::vector<server_reply<proto::tube_stats>> pool::stats_tube(const tube_name& tube) {
  return checked(wait_for<std::vector<server_reply<proto::tube_stats>>>(
                     [&](auto h) { impl_->async->async_stats_tube(tube, std::move(h)); }),
                 "stats-tube");
}

std::vector<server_reply<std::vector<std::string>>> pool::list_tubes() {
  return checked(wait_for<std::vector<server_reply<std::vector<std::string>>>>(
                     [&](auto h) { impl_->async->async_list_tubes(std::move(h)); }),
                 "list-tubes");
}

}  // namespace beanpole
