// The vocabulary of a pool of servers: how puts are placed, a server's health, and a pool job's
// identity (`ADDR/ID`). No I/O and no Asio; `beanpole/pool.hpp` has the pool itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "beanpole/endpoint.hpp"
#include "beanpole/types.hpp"

namespace beanpole {

/// How a pool chooses the server of each put. Servers that are down or draining are skipped.
enum class placement_policy : std::uint8_t {
  round_robin,  ///< each usable server in turn (the default); weights are ignored
  weighted,     ///< in turn, each server as often as its weight (smooth weighted round-robin)
  by_tube,      ///< a tube's jobs all go to one server (rendezvous hashing over the names and
                ///< weights), so they keep their priority order; adding an Nth server moves
                ///< about 1/N of the tubes, and only to it
};

/// The name of a policy as the CLI spells it: "round-robin", "weighted", "tube".
std::string_view to_string(placement_policy policy) noexcept;

/// A server's health, as the pool sees it.
enum class server_state : std::uint8_t {
  down,          ///< not connected, and not trying (never reached, or reconnecting gave up)
  reconnecting,  ///< not connected; the client is retrying with capped backoff
  up,            ///< connected; takes puts, reserves and everything else
  draining,      ///< connected but takes no new jobs (the server's drain mode, or the user's
                 ///< `drain`): skipped by placement, still reserved from
};

/// The state's name: "down", "reconnecting", "up", "draining".
std::string_view to_string(server_state state) noexcept;

/// One server of a pool.
struct pool_server {
  /// Where it listens.
  endpoint address;
  /// The server's name in the pool, and the `ADDR` of its jobs' `ADDR/ID`. Empty: the
  /// endpoint's `to_string()`. The CLI passes the address exactly as the user wrote it. Names
  /// must be unique within a pool.
  std::string name;
  /// Its share of puts under `placement_policy::weighted` and `by_tube`. Default 1; 0 counts
  /// as 1.
  unsigned weight = 1;
};

/// A job of a pool: its server's name and its id on that server. Its text form is `ADDR/ID`:
/// the name, a slash, the decimal id. A value type.
struct pool_job_id {
  /// The server's name in the pool (`pool_server::name`).
  std::string server;
  /// The job's id on that server.
  job_id id{};

  /// `ADDR/ID`.
  std::string to_string() const;

  /// Reads `ADDR/ID`: the text after the LAST slash is the id (so Unix socket paths, which hold
  /// slashes, work), a decimal number from 1 to 2^64-1; the text before it, not empty, is the
  /// server's name, taken as is. `errc::invalid_address` (and `out` left alone) otherwise; a
  /// bare id has no slash and is refused too.
  static std::error_code parse(std::string_view text, pool_job_id& out);

  /// Same server name and id.
  friend bool operator==(const pool_job_id&, const pool_job_id&) = default;
};

/// A job a pool handed over (reserve, peek): where it lives and its body, byte for byte.
struct pool_job {
  /// Its server and id.
  pool_job_id id;
  /// The body.
  std::string body;

  /// Same id and body.
  friend bool operator==(const pool_job&, const pool_job&) = default;
};

/// One server's answer to a command the pool sent to every server (stats, kick, peek-ready...).
/// A server that could not be asked (down) or failed has `error` set and `value` left default.
template <class T>
struct server_reply {
  /// The server's name in the pool.
  std::string server;
  /// Empty when the server answered.
  std::error_code error;
  /// The answer, when `error` is empty.
  T value{};
};

/// Something that happened to a server of a pool, for logs and metrics.
struct pool_event {
  /// The server's name in the pool.
  std::string server;
  /// Its index in the pool's list.
  std::size_t index = 0;
  /// Its state after the event.
  server_state state = server_state::down;
  /// Its state before the event (the same when only `error` is news).
  server_state previous = server_state::down;
  /// Why, when a connection failed; else empty.
  std::error_code error;
};

}  // namespace beanpole
