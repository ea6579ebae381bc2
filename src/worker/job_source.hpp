// Where a worker's jobs come from: one server (an `async_client`) or several (an `async_pool`).
// Internal. The engine (worker_impl) is the same for both; only this differs. A job is known by
// its server's index and its id there, since ids are per server.
//
// Every completion runs on the strand the source was made with (the engine's), so the engine's
// state needs no locks; a reserve's cancellation slot is bound as given.
#pragma once

#include <asio/cancellation_signal.hpp>
#include <asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "beanpole/async_client.hpp"
#include "beanpole/pool_types.hpp"
#include "beanpole/proto/stats.hpp"
#include "beanpole/types.hpp"

namespace beanpole::detail {

/// A job of a source: its server's index and its id on that server.
struct job_key {
  std::size_t server = 0;
  job_id id{};
  friend bool operator==(const job_key&, const job_key&) = default;
};

struct job_key_hash {
  std::size_t operator()(const job_key& k) const noexcept {
    return std::hash<job_id>{}(k.id) ^ (k.server * 0x9e3779b97f4a7c15ULL);
  }
};

/// A reserved job and the server that holds it.
struct source_job {
  std::size_t server = 0;
  job j;
};

class job_source {
 public:
  using done_fn = std::function<void(std::error_code)>;
  using reserve_fn = std::function<void(std::error_code, std::optional<source_job>)>;
  using stats_fn = std::function<void(std::error_code, proto::job_stats)>;
  /// Told of every event of every server's client, with the server's index.
  using event_fn = std::function<void(std::size_t, const client_event&)>;

  virtual ~job_source() = default;

  /// How many servers; their names (empty for a single server: its jobs need no name).
  virtual std::size_t servers() const noexcept = 0;
  virtual const std::string& server_name(std::size_t server) const noexcept = 0;

  /// Completes when a server is up (see `async_client::async_connect`, `async_pool`).
  virtual void connect(done_fn done) = 0;
  /// `watch` (or `ignore`) on every server, kept across reconnections.
  virtual void watch(const tube_name& tube, bool ignore, done_fn done) = 0;
  /// At most one job, from any server, within `timeout`.
  virtual void reserve(std::chrono::seconds timeout, asio::cancellation_slot slot,
                       reserve_fn done) = 0;
  virtual void stats_job(const job_key& k, stats_fn done) = 0;
  virtual void touch(const job_key& k, done_fn done) = 0;
  virtual void remove(const job_key& k, done_fn done) = 0;
  virtual void release(const job_key& k, priority pri, std::chrono::seconds delay,
                       done_fn done) = 0;
  virtual void bury(const job_key& k, priority pri, done_fn done) = 0;
  /// Closes every connection (the servers take back the jobs they held). Any thread.
  virtual void close() = 0;
};

/// One server: the worker's own `async_client` on `strand`.
std::unique_ptr<job_source> make_client_source(asio::strand<asio::any_io_executor> strand,
                                               endpoint ep, async_client_options options,
                                               job_source::event_fn on_event);

/// Several servers: the worker's own `async_pool` on `strand`, each server's client made with
/// `options`.
std::unique_ptr<job_source> make_pool_source(asio::strand<asio::any_io_executor> strand,
                                             std::vector<pool_server> servers,
                                             async_client_options options,
                                             job_source::event_fn on_event);

}  // namespace beanpole::detail
