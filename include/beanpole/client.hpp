// The blocking client: one connection, one command at a time, every command of protocol 1.12.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "beanpole/endpoint.hpp"
#include "beanpole/error.hpp"
#include "beanpole/options.hpp"
#include "beanpole/proto/stats.hpp"
#include "beanpole/types.hpp"

namespace beanpole {

class client;

namespace detail {
/// A blocking client's connection and buffers (defined in src/client/client.cpp). It lives on
/// the heap, so it stays where it is when its `client` is moved, and job handles can follow it.
struct blocking_connection;
}  // namespace detail

/// A job a client reserved: its id and body, and the actions that finish it.
///
/// The actions go through the client's connection that reserved the job (only that connection
/// may act on a reserved job). The handle follows that connection, not the `client` object: it
/// keeps working after the client is moved (constructed or assigned elsewhere). Once the client
/// holding the connection is destroyed, or assigned another client's connection, the actions
/// fail with `errc::not_connected` (the throwing forms throw it), as on a closed client: the
/// server released the job when that connection closed. After `client::connect` the handle acts
/// through the new connection, which the server may answer with NOT_FOUND.
///
/// Thread safety: as its client (the actions lock the connection). A handle may be used while
/// another thread destroys its client: the connection stays alive until the action returns.
class job_handle {
 public:
  /// The job `j`, reserved through `owner`'s connection. Clients make these; there is little
  /// reason to.
  job_handle(client& owner, job j);

  /// The job's id.
  job_id id() const noexcept { return job_.id; }
  /// The job's body, any bytes.
  const std::string& body() const noexcept { return job_.body; }
  /// Moves the body out (the handle's body is empty afterwards).
  std::string take_body() noexcept { return std::move(job_.body); }
  /// The plain job (id and body).
  const beanpole::job& job() const noexcept { return job_; }

  /// Deletes the job (`delete`): it is done.
  void remove();
  /// Puts the job back (`release`), ready after `delay`, with priority `pri`.
  void release(priority pri = default_priority, std::chrono::seconds delay = {});
  /// Buries the job (`bury`) with priority `pri`, until someone kicks it.
  void bury(priority pri = default_priority);
  /// Restarts the job's time to run (`touch`).
  void touch();

  /// Non-throwing forms of the actions above: errors are reported in `ec`.
  /// @{
  void remove(std::error_code& ec);
  void release(priority pri, std::chrono::seconds delay, std::error_code& ec);
  void bury(priority pri, std::error_code& ec);
  void touch(std::error_code& ec);
  /// @}

 private:
  // Weak: a handle does not keep a connection open after its client is gone. Taking it costs a
  // reserve one atomic increment, a few instructions.
  std::weak_ptr<detail::blocking_connection> connection_;
  beanpole::job job_;
};

/// A blocking beanstalkd client over one connection (TCP or Unix socket).
///
/// Every command is a method. Each comes in two forms: one throws `beanpole::error` (a
/// `std::system_error`), one takes a `std::error_code&` and never throws for protocol, server or
/// socket errors. Outcomes that are normal rather than errors are values: a reserve that times
/// out or a peek that finds nothing gives an empty `std::optional`.
///
/// `delete` is a C++ keyword, so the command is spelled `remove`.
///
/// Errors and the connection: a server answer (`condition::server_answer`, e.g. NOT_FOUND)
/// leaves the connection usable. A protocol violation, a reply timeout or a socket error closes
/// it, and later calls fail with `errc::not_connected` until `connect` is called again. Nothing
/// is retried behind the caller's back.
///
/// Moving: a client may be moved (constructed or assigned); its connection, and the job handles
/// that refer to it, go along. A moved-from client may only be destroyed or assigned to.
///
/// Thread safety: all methods may be called from any thread; calls are serialized by a mutex,
/// so a thread blocked in `reserve` holds up the others. Give each worker thread its own client
/// (connections are cheap for beanstalkd), or use `async_client`, whose waiting reserves do not
/// hold up other commands.
class client {
 public:
  /// An unconnected client; call `connect` before anything else.
  explicit client(connection_options options = {});
  /// Connects to `ep`; throws `beanpole::error` / `std::system_error` on failure.
  explicit client(const endpoint& ep, connection_options options = {});
  /// Closes the connection, if any.
  ~client();
  /// Takes over `other`'s connection; `other` is left unconnected.
  client(client&& other) noexcept;
  /// Closes this client's connection and takes over `other`'s.
  client& operator=(client&& other) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// (Re)connects to `ep`, closing any previous connection. The new connection uses and watches
  /// only "default", as every new connection does.
  /// @{
  void connect(const endpoint& ep);
  void connect(const endpoint& ep, std::error_code& ec);
  /// @}
  /// Whether the client holds an open connection.
  bool is_open() const;
  /// Closes the connection without sending anything (jobs it reserved go back to ready).
  void close();
  /// Why the connection last failed (a connect error, a reply timeout, a reply that broke the
  /// protocol with its first bytes): the cause behind `errc::outcome_unknown`,
  /// `errc::connection_lost` and `errc::not_connected`. Empty `cause` when nothing failed.
  failure_info last_failure() const;
  /// The options the client was made with.
  const connection_options& options() const noexcept;

  // ----------------------------------------------------------------------- producer commands

  /// `put`: a job with `body` (any bytes) in the used tube; returns its id. When the server
  /// answers `BURIED <id>` (it ran out of memory) the job exists but is buried: the throwing
  /// form throws `errc::buried` with the id in `error::job()`, the other returns the id and sets
  /// `ec` to `errc::buried`. Other answers: `errc::job_too_big`, `errc::draining`. When the put
  /// was written but its reply was lost (timeout, connection dropped) the error is
  /// `errc::outcome_unknown`: the job may or may not exist.
  /// @{
  job_id put(std::string_view body, const put_options& opts = {});
  job_id put(std::string_view body, const put_options& opts, std::error_code& ec);
  /// @}

  /// `use`: later puts, peek-ready/-delayed/-buried and kicks act on `tube`.
  /// @{
  void use(const tube_name& tube);
  void use(const tube_name& tube, std::error_code& ec);
  /// @}

  // ------------------------------------------------------------------------- worker commands

  /// `reserve`: waits without limit (and without reply timeout) for a job from a watched tube.
  /// `errc::deadline_soon` when a job this connection holds is in its last second of TTR.
  ///
  /// A job whose body the server sent torn (see `errc::corrupt_job`) is reserved all the same:
  /// the throwing reserves, reserve-job and peeks throw `beanpole::error` with that code and the
  /// job's id in `error::job()`; the `std::error_code&` overloads set the code and return the job
  /// with its id and an empty body. The connection stays usable: bury or delete the job by id.
  /// @{
  job_handle reserve();
  job_handle reserve(std::error_code& ec);
  /// @}

  /// `reserve-with-timeout`: waits up to `timeout` (whole seconds; zero answers at once). Empty
  /// when no job came in time. The reply timeout is added to the wait, never cuts it short.
  /// @{
  std::optional<job_handle> reserve_with_timeout(std::chrono::seconds timeout);
  std::optional<job_handle> reserve_with_timeout(std::chrono::seconds timeout, std::error_code& ec);
  /// @}

  /// `reserve-job` (beanstalkd 1.12+): reserves job `id` if it is ready, delayed or buried;
  /// empty when the server answers NOT_FOUND. `errc::reserve_job_unsupported` on older servers.
  /// @{
  std::optional<job_handle> reserve_job(job_id id);
  std::optional<job_handle> reserve_job(job_id id, std::error_code& ec);
  /// @}

  /// `delete`. `errc::not_found` if there is no such job or another connection reserved it.
  /// @{
  void remove(job_id id);
  void remove(job_id id, std::error_code& ec);
  /// @}

  /// `release` a job this connection reserved. `errc::buried` if the server buried it instead.
  /// @{
  void release(job_id id, priority pri = default_priority, std::chrono::seconds delay = {});
  void release(job_id id, priority pri, std::chrono::seconds delay, std::error_code& ec);
  /// @}

  /// `bury` a job this connection reserved.
  /// @{
  void bury(job_id id, priority pri = default_priority);
  void bury(job_id id, priority pri, std::error_code& ec);
  /// @}

  /// `touch` a job this connection reserved: its time to run starts again.
  /// @{
  void touch(job_id id);
  void touch(job_id id, std::error_code& ec);
  /// @}

  /// `watch`: adds `tube` to the watch list; returns how many tubes are watched.
  /// @{
  std::size_t watch(const tube_name& tube);
  std::size_t watch(const tube_name& tube, std::error_code& ec);
  /// @}

  /// `ignore`: removes `tube` from the watch list; returns how many are left.
  /// `errc::not_ignored` for the last watched tube.
  /// @{
  std::size_t ignore(const tube_name& tube);
  std::size_t ignore(const tube_name& tube, std::error_code& ec);
  /// @}

  // -------------------------------------------------------------------------- other commands

  /// `peek <id>`: the job, or empty if there is none.
  /// @{
  std::optional<job> peek(job_id id);
  std::optional<job> peek(job_id id, std::error_code& ec);
  /// @}
  /// `peek-ready` in the used tube: the next ready job, or empty.
  /// @{
  std::optional<job> peek_ready();
  std::optional<job> peek_ready(std::error_code& ec);
  /// @}
  /// `peek-delayed` in the used tube: the delayed job due first, or empty.
  /// @{
  std::optional<job> peek_delayed();
  std::optional<job> peek_delayed(std::error_code& ec);
  /// @}
  /// `peek-buried` in the used tube: the next buried job, or empty.
  /// @{
  std::optional<job> peek_buried();
  std::optional<job> peek_buried(std::error_code& ec);
  /// @}

  /// `kick` up to `bound` jobs in the used tube (buried ones if any, else delayed ones);
  /// returns how many were kicked. `bound` must fit 32 bits unsigned.
  /// @{
  std::uint64_t kick(std::uint64_t bound);
  std::uint64_t kick(std::uint64_t bound, std::error_code& ec);
  /// @}

  /// `kick-job`: a buried or delayed job to ready. `errc::not_found` otherwise.
  /// @{
  void kick_job(job_id id);
  void kick_job(job_id id, std::error_code& ec);
  /// @}

  /// `stats-job`. `errc::not_found` when there is no such job.
  /// @{
  proto::job_stats stats_job(job_id id);
  proto::job_stats stats_job(job_id id, std::error_code& ec);
  /// @}
  /// `stats-tube`. `errc::not_found` when there is no such tube.
  /// @{
  proto::tube_stats stats_tube(const tube_name& tube);
  proto::tube_stats stats_tube(const tube_name& tube, std::error_code& ec);
  /// @}
  /// `stats`: the whole server.
  /// @{
  proto::server_stats stats();
  proto::server_stats stats(std::error_code& ec);
  /// @}

  /// `list-tubes`: every tube that exists.
  /// @{
  std::vector<std::string> list_tubes();
  std::vector<std::string> list_tubes(std::error_code& ec);
  /// @}
  /// `list-tube-used`: the tube this connection uses.
  /// @{
  std::string list_tube_used();
  std::string list_tube_used(std::error_code& ec);
  /// @}
  /// `list-tubes-watched`: the tubes this connection watches.
  /// @{
  std::vector<std::string> list_tubes_watched();
  std::vector<std::string> list_tubes_watched(std::error_code& ec);
  /// @}

  /// `pause-tube`: no job is reserved from `tube` for `delay`. `errc::not_found` if no such tube.
  /// @{
  void pause_tube(const tube_name& tube, std::chrono::seconds delay);
  void pause_tube(const tube_name& tube, std::chrono::seconds delay, std::error_code& ec);
  /// @}

  /// `quit`: asks the server to close the connection, then closes it here.
  /// @{
  void quit();
  void quit(std::error_code& ec);
  /// @}

 private:
  friend class job_handle;
  // Shared only with the weak references of job handles: see job_handle.
  std::shared_ptr<detail::blocking_connection> impl_;

  template <class Command>
  auto run(const Command& cmd, std::error_code& ec);
  template <class Command>
  auto run_or_throw(const Command& cmd);
  error error_for(std::error_code ec) const;
  std::optional<job_handle> handle(std::optional<job>&& j);
};

inline job_handle::job_handle(client& owner, beanpole::job j)
    : connection_(owner.impl_), job_(std::move(j)) {}

}  // namespace beanpole
