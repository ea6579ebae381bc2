// Where a put goes: round-robin, weighted round-robin, or by tube (rendezvous hashing). Pure: no
// socket, clock or random source; the pool passes in which servers may take a put now.
// Unit-tested in tests/unit/pool_placement_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beanpole/pool_types.hpp"

namespace beanpole::pool_rules {

/// One server as placement sees it: its name (the key of rendezvous hashing, so a tube's server
/// does not depend on the order of the list) and its weight (0 counts as 1).
struct placement_server {
  std::string name;
  unsigned weight = 1;
};

/// Chooses the server of each put. Not thread-safe (the pool calls it on its strand).
class placement {
 public:
  /// `start` staggers the rotation (round-robin and weighted): a pool picks it at random, so
  /// that many short-lived pools (one per CLI run) do not all put their first job on the first
  /// server. 0 starts at the first server.
  placement(placement_policy policy, std::vector<placement_server> servers, std::size_t start = 0);

  /// The server for a put to `tube`, among those with `usable[i]` true; empty when none is.
  /// `usable` has one entry per server.
  std::optional<std::size_t> choose(std::string_view tube, const std::vector<bool>& usable);

  /// The rendezvous score of `tube` on server `index` (higher wins): `-weight / ln(u)` for a
  /// uniform `u` in (0, 1) hashed from the server's name and the tube, so that a server with
  /// twice the weight wins about twice as many tubes and adding a server takes over only the
  /// tubes it now wins (about 1/N of them).
  double score(std::size_t index, std::string_view tube) const;

 private:
  std::optional<std::size_t> next_round_robin(const std::vector<bool>& usable);
  std::optional<std::size_t> next_weighted(const std::vector<bool>& usable);
  std::optional<std::size_t> by_tube(std::string_view tube, const std::vector<bool>& usable) const;

  placement_policy policy_;
  std::vector<placement_server> servers_;
  std::size_t cursor_ = 0;
  std::vector<std::int64_t> current_;  // smooth weighted round-robin (nginx's)
};

/// A 64-bit hash of `a`, a separator and `b`, the same on every platform and run (FNV-1a then
/// a splitmix64 finish), so a tube maps to the same server in every process.
std::uint64_t stable_hash(std::string_view a, std::string_view b) noexcept;

}  // namespace beanpole::pool_rules
