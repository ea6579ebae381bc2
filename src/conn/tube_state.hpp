// The client's tube state (the used tube and the watch list) and what brings a connection to it.
//
// A client with several connections (pipelined, reserve, reconnected) keeps one record of which
// tube it uses and which it watches; `use`, `watch` and `ignore` change that record, and each
// connection is brought to it, through the codec's own commands, before it sends anything that
// depends on it. Pure: unit-tested in tests/unit/tube_state_test.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/reply.hpp"
#include "beanpole/types.hpp"

namespace beanpole::conn {

/// A command that changes a connection's tube state.
using tube_command = std::variant<proto::use_command, proto::watch_command, proto::ignore_command>;

/// The tube state a connection has: a new connection uses and watches "default".
struct applied_tubes {
  tube_name used;
  std::vector<tube_name> watched{tube_name()};
  std::uint64_t version = 0;  ///< the client record's version this connection matches
};

/// The client's record.
class tube_state {
 public:
  /// Records `use tube`. Returns the answer when nothing needs sending (already used).
  std::optional<proto::reply> use(const tube_name& tube);
  /// Records `use tube`; returns whether that changed the record (a `use` must then be sent).
  bool switch_use(const tube_name& tube) {  // inline: a put into a tube asks this every time
    if (tube == used_) return false;
    used_ = tube;
    ++version_;
    return true;
  }
  /// Records `watch tube`. Returns the answer (the watch count) when already watched.
  std::optional<proto::reply> watch(const tube_name& tube);
  /// Records `ignore tube`. Returns the answer when nothing needs sending: the watch count when
  /// the tube was not watched, NOT_IGNORED for the last watched tube (the server would refuse).
  std::optional<proto::reply> ignore(const tube_name& tube);

  /// Appends the commands that bring `conn` to this record's watch list (watches before ignores,
  /// so its watch list is never empty on the way) and, when `use` is given, to that used tube,
  /// and marks `conn` as matching. (A main connection's commands still queued were queued from
  /// a used tube of their own, which the driver passes as `use`; see async_core `queued_from_`.)
  void sync(applied_tubes& conn, const tube_name* use, std::vector<tube_command>& out) const;

  const tube_name& used() const noexcept { return used_; }
  const std::vector<tube_name>& watched() const noexcept { return watched_; }
  std::uint64_t version() const noexcept { return version_; }

 private:
  tube_name used_;
  std::vector<tube_name> watched_{tube_name()};
  std::uint64_t version_ = 0;
};

}  // namespace beanpole::conn
